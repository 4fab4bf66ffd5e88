//! The client's transport: name resolution, a connect with a timeout over every
//! address a name resolves to, and a thread that reads reply frames and hands each to
//! the caller. The client's behaviour itself is `minmax_core::Client`.

use minmax_core::{Decoded, Decoder};
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest reply frame a client accepts: far above any real reply (the longest,
/// a STOP with two 4 300-digit numbers, is under 9 KiB), far below what would hurt.
pub const MAX_REPLY: u32 = 16 << 20;

/// Why the client could not connect.
#[derive(Debug)]
pub enum ConnectError {
    /// The host name does not resolve (an invalid argument, exit code 2).
    Resolve {
        /// The host given.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// No address of the host accepted a connection in time (exit code 5).
    Unreachable {
        /// The host and port given.
        target: String,
        /// Each address tried, and how it failed.
        attempts: Vec<(SocketAddr, io::Error)>,
    },
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Resolve { host, source } => {
                write!(
                    f,
                    "host {host:?} does not resolve ({source}): expected a DNS name or IP address of the server"
                )
            }
            ConnectError::Unreachable { target, attempts } => {
                write!(f, "cannot reach the server at {target}")?;
                for (addr, error) in attempts {
                    let error = if error.kind() == io::ErrorKind::TimedOut {
                        "no answer within 5 s".into()
                    } else {
                        error.to_string()
                    };
                    write!(f, "; {addr}: {error}")?;
                }
                write!(f, " (is minmax-server running there?)")
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// The addresses `host` (a name or an IP literal, IPv6 possibly in brackets) resolves to.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let bare = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|source| ConnectError::Resolve { host: host.to_string(), source })?
        .collect();
    if addrs.is_empty() {
        let source = io::Error::new(io::ErrorKind::NotFound, "no address");
        return Err(ConnectError::Resolve { host: host.to_string(), source });
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` that answers within `timeout`.
pub fn connect(target: &str, addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, ConnectError> {
    let mut attempts = Vec::new();
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                // Each request is one small frame: send it now, not after a delayed ACK.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(error) => attempts.push((*addr, error)),
        }
    }
    Err(ConnectError::Unreachable { target: target.to_string(), attempts })
}

/// What the reply reader saw.
#[derive(Debug)]
pub enum Incoming {
    /// A whole reply frame's payload.
    Frame(Vec<u8>),
    /// The server closed the connection.
    Closed,
    /// Reading failed.
    Failed(io::Error),
    /// The server announced a frame over [`MAX_REPLY`].
    TooLong(u32),
}

/// Reads reply frames from `stream` on a new thread and passes each to `deliver`, in
/// order, until the connection ends or `deliver` returns false.
pub fn spawn_reader(
    mut stream: TcpStream,
    mut deliver: impl FnMut(Incoming) -> bool + Send + 'static,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("reply-reader".into()).spawn(move || {
        let mut decoder = Decoder::new(MAX_REPLY);
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let count = match stream.read(&mut buffer) {
                Ok(0) => {
                    deliver(Incoming::Closed);
                    return;
                }
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    deliver(Incoming::Failed(error));
                    return;
                }
            };
            let mut input = &buffer[..count];
            loop {
                match decoder.decode(&mut input) {
                    Decoded::Frame(frame) => {
                        if !deliver(Incoming::Frame(frame.to_vec())) {
                            return;
                        }
                    }
                    Decoded::NeedMore => break,
                    Decoded::TooLong { announced } => {
                        deliver(Incoming::TooLong(announced));
                        return;
                    }
                }
            }
        }
    })
}
