//! The byte stream to the server, over a connected nonblocking socket: plain TCP, or
//! TLS (`--tls`, PROTOCOL §8) following rustls's examples: `read` is `read_tls` +
//! `process_new_packets` + `reader()`, `write` is `writer()`, `flush` is `write_tls`,
//! and `wants_write` and `is_handshaking` are rustls's own (the loop starts the
//! session only once the handshake is done).

use rustls::ClientConnection;
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// The byte stream to the server.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP: bytes go to and come from the socket as they are.
    Plain,
    /// TLS: rustls turns the frames into records and back.
    Tls(Box<ClientConnection>),
}

/// The TLS failure an error from [`Stream::read`] carries, if it is one (the
/// handshake failed, the server sent an alert, a record did not decrypt).
pub fn tls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

impl Stream {
    /// Reads what the server sent and is available now into `buffer`: `Ok(0)` when
    /// the server closed the connection, `WouldBlock` when nothing is available. A
    /// TLS failure is an error that [`tls_error`] reads.
    pub fn read(&mut self, socket: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
        let session = match self {
            Stream::Plain => return (&*socket).read(buffer),
            Stream::Tls(session) => session,
        };
        let mut socket = socket;
        let mut ended = false;
        loop {
            // Plaintext rustls already holds comes first: the loop reads until
            // `WouldBlock`, so none is left behind without a socket event.
            match session.reader().read(buffer) {
                Ok(count) => return Ok(count),
                // The TCP stream ended without close_notify. Between frames that is
                // an ordinary close (Python's ssl servers close that way); inside one
                // the frame decoder's caller sees a truncated frame.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock && ended => return Ok(0),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
            // `WouldBlock` here is the loop's sign to wait for the socket.
            ended = session.read_tls(&mut socket)? == 0;
            // After an end of stream too: what arrived before it is processed, and
            // the reader then says how the stream ended.
            session
                .process_new_packets()
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        }
    }

    /// Takes as much of `bytes` as it can now; returns how much (`WouldBlock` when
    /// nothing).
    pub fn write(&mut self, socket: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain => (&*socket).write(bytes),
            Stream::Tls(session) => {
                let mut taken = session.writer().write(bytes)?;
                if taken == 0 && !bytes.is_empty() {
                    // rustls's buffer of records to send is full: send some, then
                    // try again.
                    self.flush(socket)?;
                    let Stream::Tls(session) = self else { return Ok(0) };
                    taken = session.writer().write(bytes)?;
                    if taken == 0 {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                }
                Ok(taken)
            }
        }
    }

    /// Sends bytes of its own that wait (TLS records) until the socket would block;
    /// plain TCP holds none.
    pub fn flush(&mut self, socket: &TcpStream) -> io::Result<()> {
        let Stream::Tls(session) = self else { return Ok(()) };
        let mut socket = socket;
        while session.wants_write() {
            match session.write_tls(&mut socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Ends the stream cleanly, as far as the socket takes it now: TLS sends
    /// close_notify, so the server can tell the end from a cut connection.
    pub fn close(&mut self, socket: &TcpStream) -> io::Result<()> {
        if let Stream::Tls(session) = self {
            session.send_close_notify();
        }
        self.flush(socket)
    }

    /// Whether it holds bytes of its own to send, so that the loop waits for the
    /// socket to be writable.
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain => false,
            Stream::Tls(session) => session.wants_write(),
        }
    }

    /// Whether it is still being set up (a TLS handshake): the session starts once
    /// it is not.
    pub fn is_handshaking(&self) -> bool {
        match self {
            Stream::Plain => false,
            Stream::Tls(session) => session.is_handshaking(),
        }
    }
}
