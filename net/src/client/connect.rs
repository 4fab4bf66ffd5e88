//! Reaching the server: the name resolved on a thread of its own (`getaddrinfo`
//! blocks and cannot be cancelled, so the loop waits for its answer no longer than
//! the client's connect limit), then nonblocking connects to each address in turn.

use dns_lookup::{AddrInfoHints, LookupErrorKind};
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// Why a name did not resolve, in the resolver's words.
#[derive(Debug)]
pub(crate) enum LookupFailure {
    /// The name does not exist (`EAI_NONAME`, or no address for it: `EAI_NODATA`).
    NoSuchName(String),
    /// The name service failed, perhaps for now (`EAI_AGAIN`, an unreachable name
    /// server, a system error).
    Failed(String),
}

/// The answer of a resolver thread.
pub(crate) type Resolution = Result<Vec<SocketAddr>, LookupFailure>;

/// An IP literal needs no name service: `::1`, `[::1]` or `127.0.0.1`.
pub(crate) fn literal(host: &str, port: u16) -> Option<SocketAddr> {
    let bare = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, port))
}

/// Resolves `host` on a new thread; its answer arrives on the returned channel,
/// after which `wake` is called.
pub(crate) fn spawn_resolver(
    host: String,
    port: u16,
    wake: impl FnOnce() + Send + 'static,
) -> io::Result<mpsc::Receiver<Resolution>> {
    let (answer, answers) = mpsc::channel();
    std::thread::Builder::new().name("resolver".into()).spawn(move || {
        // The loop may have given up and gone: then nobody needs the answer.
        let _ = answer.send(resolve(&host, port));
        wake();
    })?;
    Ok(answers)
}

fn resolve(host: &str, port: u16) -> Resolution {
    // The resolver reads numbers its own way (`010` as octal, `0x7f`, `127.1`): a host
    // that `literal` did not take as written must not become an address that way.
    // AI_NUMERICHOST asks the same resolver, without any name service.
    let numeric = AddrInfoHints {
        socktype: libc::SOCK_STREAM,
        flags: libc::AI_NUMERICHOST,
        ..AddrInfoHints::default()
    };
    if let Some(Ok(read_as)) =
        dns_lookup::getaddrinfo(Some(host), None, Some(numeric)).ok().and_then(|mut found| found.next())
    {
        return Err(LookupFailure::NoSuchName(format!(
            "not looked up: the system's resolver reads it as the address {}, which is not how it is \
             written; expected an IPv6 address or a dotted IPv4 address X.X.X.X, each X a decimal from 0 \
             to 255 without leading zeros",
            read_as.sockaddr.ip()
        )));
    }
    let hints = AddrInfoHints { socktype: libc::SOCK_STREAM, ..AddrInfoHints::default() };
    let found = dns_lookup::getaddrinfo(Some(host), None, Some(hints)).map_err(|error| {
        let text = error.to_string();
        let text = text.strip_prefix("failed to lookup address information: ").unwrap_or(&text).to_string();
        match error.kind() {
            LookupErrorKind::NoName | LookupErrorKind::NoData => LookupFailure::NoSuchName(text),
            _ => LookupFailure::Failed(text),
        }
    })?;
    let mut addrs = Vec::new();
    for info in found {
        let info = info.map_err(|error| LookupFailure::Failed(error.to_string()))?;
        let addr = SocketAddr::new(info.sockaddr.ip(), port);
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(LookupFailure::NoSuchName("the name has no address".into()));
    }
    Ok(addrs)
}

/// Starts a nonblocking connect to `addr`: the socket becomes writable once it is
/// connected or has failed.
pub(crate) fn start_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(error) => return Err(error),
    }
    let stream = TcpStream::from(socket);
    // Each request is one small frame: send it now, not after a delayed ACK.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// How a connect attempt that became writable ended: `Ok(true)` connected,
/// `Ok(false)` not yet (a spurious wake-up), `Err` failed.
pub(crate) fn finish_connect(stream: &TcpStream) -> io::Result<bool> {
    if let Some(error) = stream.take_error()? {
        return Err(error);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(error) => Err(error),
    }
}

/// Each address tried, and how it failed, for the message.
#[derive(Debug, Default)]
pub(crate) struct Attempts(Vec<(SocketAddr, String)>);

impl Attempts {
    pub(crate) fn failed(&mut self, addr: SocketAddr, error: &io::Error) {
        self.0.push((addr, error.to_string()));
    }

    pub(crate) fn timed_out(&mut self, addr: SocketAddr, after: Duration) {
        self.0.push((addr, format!("no answer within {:.1} s", after.as_secs_f64())));
    }

    pub(crate) fn describe(&self) -> String {
        let mut text = String::new();
        for (i, (addr, error)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { "; " };
            let _ = write!(text, "{separator}{addr}: {error}");
        }
        if text.is_empty() {
            text.push_str("no address to try");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_need_no_name_service() {
        assert_eq!(literal("127.0.0.1", 5), Some("127.0.0.1:5".parse().expect("an address")));
        assert_eq!(literal("[::1]", 5), Some("[::1]:5".parse().expect("an address")));
        assert_eq!(literal("::1", 5), Some("[::1]:5".parse().expect("an address")));
        assert_eq!(literal("localhost", 5), None);
    }

    #[test]
    fn a_name_that_does_not_exist_is_told_from_a_failing_name_service() {
        // `.invalid` never resolves (RFC 2606); whether the name service is reachable
        // here or not, this is never an address.
        match resolve("no-such-host.invalid", 5) {
            Err(LookupFailure::NoSuchName(text) | LookupFailure::Failed(text)) => assert!(!text.is_empty()),
            Ok(addrs) => panic!("resolved to {addrs:?}"),
        }
        let addrs = resolve("localhost", 5).expect("localhost resolves");
        assert!(addrs.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 5), "{addrs:?}");
    }

    #[test]
    fn numbers_the_resolver_reads_otherwise_than_written_are_not_looked_up() {
        // glibc reads 010 as octal: this would be 127.0.0.8.
        for (host, read_as) in
            [("127.0.0.010", "127.0.0.8"), ("0x7f.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1")]
        {
            match resolve(host, 5) {
                Err(LookupFailure::NoSuchName(text)) => {
                    assert!(text.contains(&format!("reads it as the address {read_as}")), "{host}: {text}")
                }
                other => panic!("{host}: {other:?}"),
            }
        }
        let addrs = resolve("localhost", 5).expect("localhost resolves");
        assert!(addrs.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 5), "{addrs:?}");
    }
}
