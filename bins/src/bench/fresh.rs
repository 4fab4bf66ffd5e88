//! Connection set-up cost: fresh connections one after another, each connected (and
//! over TLS, handshaken), asked one START and closed. What it measures is how many
//! connections per second a server takes on, TLS handshakes included.

use super::load::handshake;
use minmax_core::request;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a fresh-connection run measured.
#[derive(Debug)]
pub struct FreshReport {
    /// Connections set up, each with its START answered.
    pub connections: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Connections that failed, and the first failure.
    pub errors: u64,
    /// The first failure, described.
    pub first_error: Option<String>,
}

/// Opens `count` fresh connections to `addr` on `threads` threads, each one after
/// another on its thread.
pub fn run(
    addr: SocketAddr,
    count: u64,
    threads: usize,
    tls: Option<&(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
) -> FreshReport {
    let threads = threads.clamp(1, 64) as u64;
    let started = Instant::now();
    let outcomes: Vec<(u64, u64, Option<String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let share = count / threads + u64::from(thread < count % threads);
                scope.spawn(move || {
                    let (mut done, mut errors, mut first) = (0, 0, None);
                    for index in 0..share {
                        match one(addr, &format!("fresh-{thread}-{index}"), tls) {
                            Ok(()) => done += 1,
                            Err(error) => {
                                errors += 1;
                                first.get_or_insert_with(|| error.to_string());
                            }
                        }
                    }
                    (done, errors, first)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or((0, 1, Some("a worker thread panicked".into()))))
            .collect()
    });
    let elapsed = started.elapsed();
    FreshReport {
        connections: outcomes.iter().map(|o| o.0).sum(),
        errors: outcomes.iter().map(|o| o.1).sum(),
        first_error: outcomes.into_iter().find_map(|o| o.2),
        elapsed,
    }
}

fn one(
    addr: SocketAddr,
    id: &str,
    tls: Option<&(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut frame = Vec::new();
    request::encode_start(&mut frame, id, None);
    let wanted = br#"{"op": "START", "status": true}"#;
    let mut reply = vec![0u8; 4 + wanted.len()];
    match tls {
        Some((config, name)) => {
            let mut session = handshake(&mut stream, config, name)?;
            let mut tls = rustls::Stream::new(&mut session, &mut stream);
            tls.write_all(&frame)?;
            tls.read_exact(&mut reply)?;
        }
        None => {
            stream.write_all(&frame)?;
            stream.read_exact(&mut reply)?;
        }
    }
    if &reply[4..] != wanted {
        return Err(io::Error::other(format!("START got {}", String::from_utf8_lossy(&reply[4..]))));
    }
    Ok(())
}
