//! One connection's socket, output and poller interest.
//!
//! Replies leave in request order. A successful STOP's reply must not leave before
//! its report row is durable (PROTOCOL §6), and no reply may overtake it: from a
//! STOP whose row is pending, replies wait in `held`, as the `Response` values core
//! decided, and are encoded for sending once the rows ahead of them are durable. If
//! the report fails, the held replies are dropped and core is asked what to send
//! instead (`Server::handle_record_failed`).

use crate::registered::Registered;
use minmax_core::{ConnId, Response};
use polling::{Event, PollMode};
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};

/// An emptied output buffer larger than this is released, so that one burst does
/// not keep memory on a connection that then idles.
const RETAINED_OUTPUT: usize = 16 * 1024;

/// What a reply waiting in `held` is assumed to take, for the output budget: the
/// `Response` value and its share of the queue. Held replies are rare (they queue
/// behind a pipelined STOP for the length of one sync).
const HELD_REPLY_BYTES: usize = 64;

/// A reply that waits for a row to be durable.
#[derive(Debug)]
struct Held {
    /// For a STOP reply, the sequence number of its row at the report writer.
    row: Option<u64>,
    response: Response,
}

/// A client connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) id: ConnId,
    pub(crate) socket: Registered<TcpStream>,
    pub(crate) peer: SocketAddr,
    /// Encoded replies, free to leave.
    out: Vec<u8>,
    /// Bytes of `out` already written to the socket.
    sent: usize,
    /// Replies from the first STOP whose row is not durable yet, in order.
    held: VecDeque<Held>,
    /// The row the next reply (a STOP's) waits for, set by its `Record` effect.
    next_waits_for: Option<u64>,
    /// The interest the poller has for this socket: (readable, writable).
    interest: (bool, bool),
    /// No more input will be read; close once every reply has left.
    pub(crate) closing: bool,
    /// Invalid frames received, to log the first one loudly and the rest quietly.
    pub(crate) bad_frames: u32,
}

impl Conn {
    pub(crate) fn new(id: ConnId, socket: Registered<TcpStream>, peer: SocketAddr) -> Conn {
        Conn {
            id,
            socket,
            peer,
            out: Vec::new(),
            sent: 0,
            held: VecDeque::new(),
            next_waits_for: None,
            interest: (true, false),
            closing: false,
            bad_frames: 0,
        }
    }

    /// The poller key of this connection: its id, which is never reused.
    pub(crate) fn key(&self) -> usize {
        key_of(self.id)
    }

    /// The next reply is a STOP's, and must wait until row `seq` is durable.
    pub(crate) fn hold_next_for(&mut self, seq: u64) {
        self.next_waits_for = Some(seq);
    }

    /// Queues a reply behind those already queued.
    pub(crate) fn push_reply(&mut self, response: Response) {
        let row = self.next_waits_for.take();
        if row.is_none() && self.held.is_empty() {
            response.encode(&mut self.out);
        } else {
            self.held.push_back(Held { row, response });
        }
    }

    /// Lets the held replies go whose rows, and the rows before them, are durable
    /// up to `durable`.
    pub(crate) fn release(&mut self, durable: u64) {
        while let Some(front) = self.held.front() {
            if front.row.is_some_and(|row| row > durable) {
                break;
            }
            if let Some(held) = self.held.pop_front() {
                held.response.encode(&mut self.out);
            }
        }
    }

    /// The report or the store failed: drops every held reply. Returns the op of the
    /// first that waited for a write (a STOP's row, a QUIT's release), so that core
    /// says what to answer instead.
    pub(crate) fn drop_held(&mut self) -> Option<minmax_core::Op> {
        let waited = self.held.iter().find(|held| held.row.is_some()).map(|held| reply_op(&held.response));
        self.held.clear();
        self.next_waits_for = None;
        waited
    }

    /// Writes what may be written, until the socket would block.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let mut socket = self.socket.get();
        self.sent += crate::nonblocking::write_until_blocked(&mut socket, &self.out[self.sent..])?;
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
        self.sent = 0;
    }

    /// Memory taken by replies not yet written, held ones included (those as an
    /// estimate): what counts against the per-connection mark and the server's
    /// output budget.
    pub(crate) fn pending_output(&self) -> usize {
        self.out.len() - self.sent + self.held.len() * HELD_REPLY_BYTES
    }

    pub(crate) fn wants_write(&self) -> bool {
        self.sent < self.out.len()
    }

    /// Closing, and nothing left to send or to wait for.
    pub(crate) fn finished(&self) -> bool {
        self.closing && self.pending_output() == 0
    }

    /// Tells the poller what this connection now waits for, if that changed.
    /// Level-triggered, so interest changes only when the state does, not after
    /// every event as oneshot mode would need. Returns the readable interest before.
    pub(crate) fn rearm(&mut self, readable: bool) -> io::Result<bool> {
        let wanted = (readable && !self.closing, self.wants_write());
        let before = self.interest.0;
        if wanted != self.interest {
            self.socket.modify(Event::new(self.key(), wanted.0, wanted.1), PollMode::Level)?;
            self.interest = wanted;
        }
        Ok(before)
    }
}

/// The op a reply answers.
fn reply_op(response: &Response) -> minmax_core::Op {
    use minmax_core::message::OpEcho;
    match response {
        Response::Ok(op) | Response::Error { op: OpEcho::Known(op), .. } => *op,
        // Only STOP and QUIT replies wait for writes; anything else is a STOP's.
        Response::Stopped { .. } | Response::Error { .. } => minmax_core::Op::Stop,
    }
}

/// The poller key of a connection. Connection ids are never reused, so an event
/// for a closed connection can never reach a new one.
pub(crate) fn key_of(id: ConnId) -> usize {
    // Ids count up from 1; on 64-bit targets usize holds them all, and the reserved
    // keys at the top of the range are never reached.
    id.get() as usize
}
