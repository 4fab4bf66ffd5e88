//! One connection's socket, output and poller interest.
//!
//! Replies leave in request order. A successful STOP's reply must not leave before
//! its report row is durable (PROTOCOL §6), and no reply may overtake it: from a
//! STOP whose row is pending, replies wait in `held`, as the `Response` values core
//! decided, and are encoded for sending once the rows ahead of them are durable. If
//! the report fails, the held replies are dropped and core is asked what to send
//! instead (`Server::handle_record_failed`).
//!
//! A connection is plain or TLS ([`Link`]). Over TLS, replies are still queued as
//! plaintext in `out`; [`Conn::flush`] hands them to rustls a record's worth at a
//! time and writes the records, and plaintext handed over counts as pending output
//! until its records have left, so the output budget sees the same bytes either way.

use crate::registered::Registered;
use minmax_core::{ConnId, Response};
use polling::{Event, PollMode};
use rustls::ServerConnection;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// An emptied output buffer larger than this is released, so that one burst does
/// not keep memory on a connection that then idles.
const RETAINED_OUTPUT: usize = 16 * 1024;

/// What a reply waiting in `held` is assumed to take, for the output budget: the
/// `Response` value and its share of the queue. Held replies are rare (they queue
/// behind a pipelined STOP for the length of one sync).
const HELD_REPLY_BYTES: usize = 64;

/// Plaintext handed to rustls at a time: one full TLS record.
const RECORD_PLAINTEXT: usize = 16 * 1024;

/// How a connection's bytes travel.
#[derive(Debug)]
pub(crate) enum Link {
    /// Plain TCP: the socket carries the frames.
    Plain,
    /// TLS (§8): rustls turns frames into records and back.
    Tls(Box<TlsLink>),
}

/// A TLS connection's state beside its socket.
#[derive(Debug)]
pub(crate) struct TlsLink {
    pub(crate) session: ServerConnection,
    /// The handshake's end has not been told to core yet.
    pub(crate) handshaking: bool,
    /// Plaintext rustls has decrypted and the machine has not been given yet.
    pub(crate) buffered: usize,
    /// The peer's end of the TCP stream has been read.
    pub(crate) eof: bool,
    /// The peer sent close_notify: rustls wants no more reading, so no socket event
    /// will come for it.
    peer_closed: bool,
    /// Plaintext of `out` handed to rustls whose records have not all left yet.
    in_records: usize,
    /// Where the bytes read so far stand in TLS's record framing.
    pub(crate) records: RecordBoundary,
    /// A new record began in the bytes of the last read.
    pub(crate) record_began: bool,
    /// Send close_notify once every reply has been handed over (the server closes).
    close_notify: bool,
}

/// What reading a TLS connection's socket once brought.
#[derive(Debug)]
pub(crate) enum TlsRead {
    /// Records were read and processed, or nothing was ready.
    Progress,
    /// The TLS layer failed: a broken handshake or a bad record. An alert, if any,
    /// is queued for sending.
    Failed(rustls::Error),
    /// Reading the socket failed.
    Broken(io::Error),
}

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
    pub(crate) link: Link,
    /// Encoded replies (plaintext), free to leave.
    out: Vec<u8>,
    /// Bytes of `out` already written to the socket.
    sent: usize,
    /// Replies from the first STOP whose row is not durable yet, in order.
    held: VecDeque<Held>,
    /// The row the next reply (a STOP's) waits for, set by its `Record` effect.
    next_waits_for: Option<u64>,
    /// The interest the poller has for this socket: (readable, writable).
    interest: (bool, bool),
    /// In the budget's list of connections to read again once it has room.
    pub(crate) budget_paused: bool,
    /// Not read because its replies are not being taken (its own or everyone's).
    pub(crate) backpressured: bool,
    /// Closing, with a deadline to leave by in the loop's lingering list.
    pub(crate) lingering: bool,
    /// No more input will be read; close once every reply has left.
    pub(crate) closing: bool,
    /// Invalid frames received, to log the first one loudly and the rest quietly.
    pub(crate) bad_frames: u32,
}

impl Conn {
    pub(crate) fn new(id: ConnId, socket: Registered<TcpStream>, peer: SocketAddr, link: Link) -> Conn {
        Conn {
            id,
            socket,
            peer,
            link,
            out: Vec::new(),
            sent: 0,
            held: VecDeque::new(),
            next_waits_for: None,
            interest: (true, false),
            budget_paused: false,
            backpressured: false,
            lingering: false,
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

    /// The report or the store failed: drops every held reply. Returns the op and
    /// sequence number of each that waited for a write (a STOP's row, a QUIT's
    /// release), in order, so that core says what to answer instead.
    pub(crate) fn drop_held(&mut self) -> Vec<(minmax_core::Op, u64)> {
        let waited =
            self.held.iter().filter_map(|held| held.row.map(|seq| (reply_op(&held.response), seq))).collect();
        self.held.clear();
        self.next_waits_for = None;
        waited
    }

    /// The connection closes before its TLS handshake finished: nothing can be sent
    /// on it (a busy reply has no record to travel in), so its output is dropped and
    /// it is finished at once, rather than waiting writable for a handshake that
    /// will never progress.
    pub(crate) fn drop_unsendable_output(&mut self) -> usize {
        if matches!(&self.link, Link::Tls(tls) if tls.session.is_handshaking()) {
            let dropped = self.out.len() - self.sent;
            self.out.clear();
            self.sent = 0;
            return dropped;
        }
        0
    }

    /// Writes what may be written, until the socket would block.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let Link::Tls(tls) = &mut self.link else {
            let mut socket = self.socket.get();
            self.sent += crate::nonblocking::write_until_blocked(&mut socket, &self.out[self.sent..])?;
            self.compact();
            return Ok(());
        };
        let mut socket = self.socket.get();
        loop {
            // Records already made leave first; more plaintext is handed over only
            // once they have, so rustls never holds more than one record's worth.
            while tls.session.wants_write() {
                match tls.session.write_tls(&mut socket) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        self.compact();
                        return Ok(());
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
            tls.in_records = 0;
            if self.sent == self.out.len() || tls.session.is_handshaking() {
                break;
            }
            let end = self.out.len().min(self.sent + RECORD_PLAINTEXT);
            let taken = tls.session.writer().write(&self.out[self.sent..end])?;
            if taken == 0 {
                break;
            }
            self.sent += taken;
            tls.in_records = taken;
        }
        if tls.close_notify && self.sent == self.out.len() && self.held.is_empty() {
            tls.close_notify = false;
            tls.session.send_close_notify();
            // Written now if the socket takes it; else when it becomes writable.
            while tls.session.wants_write() {
                match tls.session.write_tls(&mut socket) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
        }
        self.compact();
        Ok(())
    }

    /// Over TLS: reads the socket once, if rustls wants more, and processes the
    /// records read. Plaintext stays in rustls for [`Conn::read_plaintext`].
    pub(crate) fn read_records(&mut self) -> TlsRead {
        let Link::Tls(tls) = &mut self.link else {
            return TlsRead::Progress;
        };
        tls.record_began = false;
        if tls.session.wants_read() {
            let TlsLink { session, records, record_began, .. } = &mut **tls;
            let mut socket = Followed { socket: self.socket.get(), records, began: record_began };
            match session.read_tls(&mut socket) {
                // rustls records the end of the stream too, and its reader tells it
                // once the plaintext before it has been taken.
                Ok(0) => tls.eof = true,
                Ok(_) => {}
                Err(error)
                    if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) =>
                {
                    return TlsRead::Progress;
                }
                Err(error) => return TlsRead::Broken(error),
            }
        }
        match tls.session.process_new_packets() {
            Ok(state) => {
                tls.buffered = state.plaintext_bytes_to_read();
                tls.peer_closed = state.peer_has_closed();
                TlsRead::Progress
            }
            Err(error) => TlsRead::Failed(error),
        }
    }

    /// Over TLS: the plaintext rustls has decrypted, at most `buffer.len()` bytes.
    /// `Ok(0)`: the peer closed the connection (with close_notify or without, which
    /// between frames is an ordinary disconnect, §8). `WouldBlock`: nothing yet.
    pub(crate) fn read_plaintext(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let Link::Tls(tls) = &mut self.link else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        match tls.session.reader().read(buffer) {
            Ok(count) => {
                tls.buffered = tls.buffered.saturating_sub(count);
                Ok(count)
            }
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            Err(error) => Err(error),
        }
    }

    /// Decrypted plaintext is waiting in rustls, or the end of the stream behind it:
    /// no socket event will announce either.
    pub(crate) fn has_buffered_plaintext(&self) -> bool {
        matches!(&self.link, Link::Tls(tls) if tls.buffered > 0 || tls.peer_closed || tls.eof)
    }

    /// The server closes this connection: over TLS, close_notify follows the last reply.
    pub(crate) fn notify_close(&mut self) {
        if let Link::Tls(tls) = &mut self.link
            && !tls.handshaking
        {
            tls.close_notify = true;
        }
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
        let in_records = match &self.link {
            Link::Plain => 0,
            Link::Tls(tls) => tls.in_records,
        };
        self.out.len() - self.sent + in_records + self.held.len() * HELD_REPLY_BYTES
    }

    /// Whether the socket must be watched for writability: only when a write can
    /// make progress, else level-triggered epoll would wake the loop in a busy loop.
    /// Over TLS, replies cannot leave before the handshake ends, and close_notify is
    /// sent only once every reply, held ones included, has left.
    pub(crate) fn wants_write(&self) -> bool {
        match &self.link {
            Link::Plain => self.sent < self.out.len(),
            Link::Tls(tls) => {
                tls.session.wants_write()
                    || (!tls.session.is_handshaking() && self.sent < self.out.len())
                    || (tls.close_notify && self.held.is_empty() && self.sent == self.out.len())
            }
        }
    }

    /// Whether the socket is worth reading: over TLS, not while rustls holds
    /// plaintext not taken yet, nor while its handshake flight waits to be written.
    fn socket_wanted(&self) -> bool {
        match &self.link {
            Link::Plain => true,
            Link::Tls(tls) => tls.session.wants_read(),
        }
    }

    /// Closing, and nothing left to send or to wait for.
    pub(crate) fn finished(&self) -> bool {
        self.closing && self.pending_output() == 0 && !self.wants_write()
    }

    /// Tells the poller what this connection now waits for, if that changed.
    /// Level-triggered, so interest changes only when the state does, not after
    /// every event as oneshot mode would need. `readable`: the output budget and the
    /// machine allow reading.
    pub(crate) fn rearm(&mut self, readable: bool) -> io::Result<()> {
        let wanted = (readable && !self.closing && self.socket_wanted(), self.wants_write());
        if wanted != self.interest {
            self.socket.modify(Event::new(self.key(), wanted.0, wanted.1), PollMode::Level)?;
            self.interest = wanted;
        }
        Ok(())
    }
}

impl TlsLink {
    /// A TLS connection whose handshake has not begun.
    pub(crate) fn new(session: ServerConnection) -> TlsLink {
        TlsLink {
            session,
            handshaking: true,
            buffered: 0,
            eof: false,
            peer_closed: false,
            in_records: 0,
            records: RecordBoundary::default(),
            record_began: false,
            close_notify: false,
        }
    }
}

/// Follows TLS's record framing (a 5-byte header whose last two bytes give the
/// length of the body behind it) over the bytes read, without decrypting anything:
/// a record left half-sent is half a frame to §7's frame timeout, and rustls does
/// not say whether it holds one.
#[derive(Debug, Default)]
pub(crate) struct RecordBoundary {
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
}

impl RecordBoundary {
    /// Follows `bytes`; whether a new record began in them.
    pub(crate) fn follow(&mut self, mut bytes: &[u8]) -> bool {
        let mut began = false;
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let taken = self.body_left.min(bytes.len());
                self.body_left -= taken;
                bytes = &bytes[taken..];
                continue;
            }
            began |= self.header_len == 0;
            let taken = (self.header.len() - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + taken].copy_from_slice(&bytes[..taken]);
            self.header_len += taken;
            bytes = &bytes[taken..];
            if self.header_len == self.header.len() {
                self.body_left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                self.header_len = 0;
            }
        }
        began
    }

    /// A record has begun and not ended.
    pub(crate) fn is_partial(&self) -> bool {
        self.header_len > 0 || self.body_left > 0
    }
}

/// The socket as rustls reads it, with every byte shown to the record boundary.
struct Followed<'a, R> {
    socket: R,
    records: &'a mut RecordBoundary,
    began: &'a mut bool,
}

impl<R: Read> Read for Followed<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.socket.read(buffer)?;
        *self.began |= self.records.follow(&buffer[..count]);
        Ok(count)
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

#[cfg(test)]
mod tests {
    use super::RecordBoundary;

    #[test]
    fn record_boundaries_are_followed_across_reads() {
        let mut records = RecordBoundary::default();
        // Two whole records in one read: one of 3 bytes, one empty.
        assert!(records.follow(&[23, 3, 3, 0, 3, 1, 2, 3, 23, 3, 3, 0, 0]));
        assert!(!records.is_partial());
        // A header split across reads, then a body trickling in.
        assert!(records.follow(&[23, 3]));
        assert!(records.is_partial());
        assert!(!records.follow(&[3, 1, 0]));
        assert!(!records.follow(&[0; 255]));
        assert!(records.is_partial(), "one byte of the 256 is missing");
        // The last byte, and the start of the next record in the same read.
        assert!(records.follow(&[0, 23]));
        assert!(records.is_partial());
    }
}
