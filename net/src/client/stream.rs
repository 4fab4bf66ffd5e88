//! The byte stream to the server, over a connected nonblocking socket.
//!
//! Plain TCP today. It is an enum so that TLS (`--tls`, PROTOCOL §8) fits as a second
//! variant without touching the loop: a `rustls::ClientConnection` whose `read` is
//! `read_tls` + `process_new_packets` + `reader()`, whose `write` is `writer()`, whose
//! `flush` is `write_tls`, and whose `wants_write` and `is_handshaking` are rustls's
//! own (the loop starts the session only once the handshake is done).

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// The byte stream to the server.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP: bytes go to and come from the socket as they are.
    Plain,
}

impl Stream {
    /// Reads what the server sent and is available now into `buffer`: `Ok(0)` when
    /// the server closed the connection, `WouldBlock` when nothing is available.
    pub fn read(&mut self, socket: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain => (&*socket).read(buffer),
        }
    }

    /// Takes as much of `bytes` as it can now; returns how much (`WouldBlock` when
    /// nothing).
    pub fn write(&mut self, socket: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain => (&*socket).write(bytes),
        }
    }

    /// Sends bytes of its own that wait (TLS records); plain TCP holds none.
    pub fn flush(&mut self, _socket: &TcpStream) -> io::Result<()> {
        match self {
            Stream::Plain => Ok(()),
        }
    }

    /// Whether it holds bytes of its own to send, so that the loop waits for the
    /// socket to be writable.
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain => false,
        }
    }

    /// Whether it is still being set up (a TLS handshake): the session starts once
    /// it is not.
    pub fn is_handshaking(&self) -> bool {
        match self {
            Stream::Plain => false,
        }
    }
}
