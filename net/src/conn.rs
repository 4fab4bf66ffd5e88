//! One connection's socket, output buffer and poller interest.
//!
//! Replies are encoded into `out` in request order. A successful STOP's reply must
//! not leave before its report row is durable (PROTOCOL §6), and no reply may overtake
//! it, so each such reply puts a *hold* at its offset: bytes before the first hold
//! may be sent, bytes after it wait until the writer reports its row durable.

use minmax_core::{ConnId, Response};
use polling::{Event, PollMode, Poller};
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};

/// Output past which a connection is not read until its peer reads some replies
/// (backpressure). Reading stops *at* the mark, so the buffer exceeds it by at most
/// the replies to one read.
pub(crate) const HIGH_WATER: usize = 256 * 1024;

/// An emptied output buffer larger than this is released, so that one burst does
/// not keep memory on a connection that then idles.
const RETAINED_OUTPUT: usize = 16 * 1024;

/// A STOP reply waiting for its row.
#[derive(Debug, Clone, Copy)]
struct Hold {
    /// The row's sequence number at the writer.
    seq: u64,
    /// Where the STOP reply starts in `out`.
    at: usize,
}

/// A client connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) id: ConnId,
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    out: Vec<u8>,
    /// Bytes of `out` already written to the socket.
    sent: usize,
    /// Bytes of `out` that may be written: up to the first hold.
    releasable: usize,
    holds: VecDeque<Hold>,
    /// The interest the poller has for this socket: (readable, writable).
    registered: (bool, bool),
    /// No more input will be read; close once every reply has left.
    pub(crate) closing: bool,
    /// Invalid frames received, for logging the first one loudly and the rest quietly.
    pub(crate) bad_frames: u32,
}

impl Conn {
    pub(crate) fn new(id: ConnId, stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            id,
            stream,
            peer,
            out: Vec::new(),
            sent: 0,
            releasable: 0,
            holds: VecDeque::new(),
            registered: (true, false),
            closing: false,
            bad_frames: 0,
        }
    }

    /// The poller key of this connection: its id, which is never reused.
    pub(crate) fn key(&self) -> usize {
        key_of(self.id)
    }

    /// Appends a reply; it may leave at once unless a STOP before it is held.
    pub(crate) fn push_reply(&mut self, response: &Response) {
        response.encode(&mut self.out);
        if self.holds.is_empty() {
            self.releasable = self.out.len();
        }
    }

    /// Holds the next reply (a STOP's) until row `seq` is durable.
    pub(crate) fn hold(&mut self, seq: u64) {
        self.holds.push_back(Hold { seq, at: self.out.len() });
    }

    /// Releases the replies whose rows are durable up to `durable`.
    pub(crate) fn release(&mut self, durable: u64) {
        while self.holds.front().is_some_and(|hold| hold.seq <= durable) {
            self.holds.pop_front();
        }
        self.releasable = self.holds.front().map_or(self.out.len(), |hold| hold.at);
    }

    /// The report failed: the first STOP still held is answered with the server error of §6, and
    /// whatever was queued behind it is dropped, since the connection closes (§6).
    pub(crate) fn fail_held_stop(&mut self) {
        if let Some(hold) = self.holds.front() {
            self.out.truncate(hold.at);
            Response::stop_not_durable().encode(&mut self.out);
        }
        self.holds.clear();
        self.releasable = self.out.len();
    }

    /// Writes what may be written, until the socket would block.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.sent +=
            crate::nonblocking::write_until_blocked(&mut self.stream, &self.out[self.sent..self.releasable])?;
        self.compact();
        Ok(())
    }

    fn compact(&mut self) {
        if self.sent == 0 {
            return;
        }
        if self.sent == self.out.len() {
            self.out.clear();
            if self.out.capacity() > RETAINED_OUTPUT {
                self.out = Vec::new();
            }
        } else if self.sent >= self.out.len() / 2 {
            // Moving the unsent tail down is cheaper than letting the buffer grow.
            self.out.drain(..self.sent);
        } else {
            return;
        }
        self.releasable -= self.sent;
        for hold in &mut self.holds {
            hold.at -= self.sent;
        }
        self.sent = 0;
    }

    /// Bytes queued and not yet written, held ones included.
    pub(crate) fn pending_output(&self) -> usize {
        self.out.len() - self.sent
    }

    pub(crate) fn wants_read(&self) -> bool {
        !self.closing && self.pending_output() < HIGH_WATER
    }

    pub(crate) fn wants_write(&self) -> bool {
        self.sent < self.releasable
    }

    /// Closing, and nothing left to send or to wait for.
    pub(crate) fn finished(&self) -> bool {
        self.closing && self.pending_output() == 0 && self.holds.is_empty()
    }

    /// Tells the poller what this connection now waits for, if that changed.
    /// Level-triggered, so interest changes only when the state does, not after
    /// every event as oneshot mode would need.
    pub(crate) fn rearm(&mut self, poller: &Poller) -> io::Result<()> {
        let wanted = (self.wants_read(), self.wants_write());
        if !self.closing && wanted.0 != self.registered.0 {
            let pending = self.pending_output();
            if wanted.0 {
                tracing::debug!(peer = %self.peer, conn = %self.id, pending, "backpressure over: reading resumed");
            } else {
                tracing::debug!(peer = %self.peer, conn = %self.id, pending, "backpressure: the peer does not read its replies; reading paused");
            }
        }
        if wanted != self.registered {
            poller.modify_with_mode(
                &self.stream,
                Event::new(self.key(), wanted.0, wanted.1),
                PollMode::Level,
            )?;
            self.registered = wanted;
        }
        Ok(())
    }
}

/// The poller key of a connection. Connection ids are never reused, so an event
/// for a closed connection can never reach a new one.
pub(crate) fn key_of(id: ConnId) -> usize {
    // Ids count up from 1; on 64-bit targets usize holds them all, and the reserved
    // keys at the top of the range are never reached.
    id.get() as usize
}
