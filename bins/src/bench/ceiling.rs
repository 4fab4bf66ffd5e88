//! `minmax-bench ceiling PORT`: a server that speaks the framing and nothing else. Every
//! frame it receives is answered with one canned reply the size of a NUMBER's; no JSON
//! is parsed, no state kept, nothing written to disk. It runs on the same kind of
//! event loop as minmax-server (one thread, level-triggered `polling`), so a load
//! against it measures the most any server can get out of this machine with this
//! client, as `iperf -s` does for bandwidth.

use minmax_core::{Decoded, Decoder};
use minmax_net::Registered;
use polling::{Event, Events, PollMode, Poller};
use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

const LISTENER: usize = usize::MAX - 1;

/// The reply to every frame: the length and bytes of `{"op": "NUMBER", "status": true}`.
const CANNED: &[u8] = b"\x00\x00\x00\x20{\"op\": \"NUMBER\", \"status\": true}";

struct Conn {
    stream: Registered<TcpStream>,
    decoder: Decoder,
    out: Vec<u8>,
    written: usize,
    writable: bool,
}

/// Serves on `addr` until killed; calls `ready` with the real address once listening.
pub fn serve(addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let poller = Arc::new(Poller::new()?);
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let listener = Registered::new(&poller, listener, Event::readable(LISTENER), PollMode::Level)?;
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    ready(listener.get().local_addr()?);
    let mut next_key = 0usize;
    let mut events = Events::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        events.clear();
        poller.wait(&mut events, None)?;
        for event in events.iter() {
            if event.key == LISTENER {
                while let Ok((stream, _)) = listener.get().accept() {
                    stream.set_nonblocking(true)?;
                    stream.set_nodelay(true)?;
                    next_key += 1;
                    let stream =
                        Registered::new(&poller, stream, Event::readable(next_key), PollMode::Level)?;
                    let conn = Conn {
                        stream,
                        decoder: Decoder::new(1 << 20),
                        out: Vec::new(),
                        written: 0,
                        writable: false,
                    };
                    conns.insert(next_key, conn);
                }
                continue;
            }
            let Some(conn) = conns.get_mut(&event.key) else { continue };
            let alive = serve_conn(conn, event, &mut buffer);
            if !alive {
                conns.remove(&event.key);
            } else if conn.writable != (conn.written < conn.out.len()) {
                conn.writable = !conn.writable;
                conn.stream.modify(Event::new(event.key, true, conn.writable), PollMode::Level)?;
            }
        }
    }
}

/// Reads once, answers every whole frame, writes what it can; false when the
/// connection is over.
fn serve_conn(conn: &mut Conn, event: Event, buffer: &mut [u8]) -> bool {
    if event.readable {
        match conn.stream.get().read(buffer) {
            Ok(0) => return false,
            Ok(count) => {
                let mut input = &buffer[..count];
                loop {
                    match conn.decoder.decode(&mut input) {
                        Decoded::Frame(_) => conn.out.extend_from_slice(CANNED),
                        Decoded::NeedMore => break,
                        Decoded::TooLong { .. } => return false,
                    }
                }
            }
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(_) => return false,
        }
    }
    match minmax_net::nonblocking::write_until_blocked(&mut conn.stream.get(), &conn.out[conn.written..]) {
        Ok(count) => conn.written += count,
        Err(_) => return false,
    }
    if conn.written == conn.out.len() {
        conn.out.clear();
        conn.written = 0;
    }
    true
}
