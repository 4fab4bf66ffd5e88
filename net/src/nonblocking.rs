//! Small loops over nonblocking sockets, shared by the server, the bench and the
//! ceiling.

use std::io::{self, Read, Write};

/// Writes as much of `bytes` as the socket takes without blocking; returns how much.
/// A socket that accepts nothing (`Ok(0)`) is an error: the peer is gone.
pub fn write_until_blocked(stream: &mut impl Write, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(count) => written += count,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(written)
}

/// Reads and throws away what the peer already sent, up to `limit` bytes.
///
/// Closing a socket whose receive buffer still holds data makes the kernel reset the
/// connection, and a reset may destroy replies not yet delivered. Draining first
/// lets the last reply (an error that explains the close) and the FIN go out.
pub fn discard_pending_input(stream: &mut impl Read, buffer: &mut [u8], limit: usize) {
    let mut discarded = 0;
    while discarded < limit {
        match stream.read(buffer) {
            Ok(0) => return,
            Ok(count) => discarded += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `room` bytes, then would block.
    struct Limited {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Limited {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let count = bytes.len().min(self.room).min(3);
            self.taken.extend_from_slice(&bytes[..count]);
            self.room -= count;
            Ok(count)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_until_the_socket_would_block() {
        let mut socket = Limited { taken: Vec::new(), room: 7 };
        assert_eq!(write_until_blocked(&mut socket, b"0123456789").expect("no error"), 7);
        assert_eq!(socket.taken, b"0123456");
        assert_eq!(write_until_blocked(&mut socket, b"89").expect("no error"), 0);
    }

    #[test]
    fn discards_at_most_the_limit() {
        let mut input: &[u8] = &[1; 100];
        let mut buffer = [0; 16];
        discard_pending_input(&mut input, &mut buffer, 40);
        assert_eq!(input.len(), 100 - 48, "whole buffers are read until the limit is passed");
    }
}
