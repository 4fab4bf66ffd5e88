//! What the server machine asks its caller to do: the output vocabulary of
//! [`crate::Server`], shared with the session table.
//!
//! Every `handle_*` method of the server returns [`Effects`], the effects of that one
//! call in the order they must be carried out. A [`Effect::Record`] always comes
//! before the STOP reply that depends on it.

use crate::message::Response;
use crate::report::ReportRow;
use std::fmt;
use std::sync::Arc;

/// Identifies a connection for the life of a [`crate::Server`]; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub(crate) u64);

impl ConnId {
    /// The id as a number (unique, never zero).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Why the server closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// A length prefix announced more than `max_frame` bytes.
    FrameTooLong {
        /// The announced length.
        announced: u32,
    },
    /// No request for `idle_timeout`.
    IdleTimeout,
    /// A frame left half-sent for `frame_timeout`.
    FrameTimeout,
    /// A TLS handshake left unfinished for `frame_timeout` (§8).
    HandshakeTimeout,
    /// The connection was over `max_connections`.
    Busy,
    /// A STOP's row could not be made durable, and the server fails stop (§6).
    ReportFailed,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::FrameTooLong { announced } => {
                write!(f, "a length prefix announced {announced} bytes, over the --max-frame limit")
            }
            CloseReason::IdleTimeout => f.write_str("no request within --idle-timeout"),
            CloseReason::FrameTimeout => f.write_str("a frame was left half-sent for --frame-timeout"),
            CloseReason::HandshakeTimeout => {
                f.write_str("the TLS handshake was left unfinished for --frame-timeout")
            }
            CloseReason::Busy => f.write_str("over --max-connections"),
            CloseReason::ReportFailed => f.write_str("the report failed and the server is stopping"),
        }
    }
}

/// How a session ended, when it ended without a report row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The client sent QUIT.
    Quit,
    /// The client sent STOP before any number (§4: insufficient data).
    StoppedEmpty,
    /// The connection went away.
    Disconnected,
    /// The server closed the connection.
    Closed(CloseReason),
    /// The server is shutting down.
    Shutdown,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::Quit => f.write_str("the client quit"),
            SessionEnd::StoppedEmpty => write!(
                f,
                "STOP without any number ({})",
                crate::message::ErrorCode::InsufficientData.message()
            ),
            SessionEnd::Disconnected => f.write_str("the client disconnected"),
            SessionEnd::Closed(reason) => write!(f, "the server closed the connection: {reason}"),
            SessionEnd::Shutdown => f.write_str("the server is shutting down"),
        }
    }
}

/// A session that ended without a report row, for the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    /// The session's client id.
    pub client_id: Arc<str>,
    /// How many numbers it had received.
    pub count: u64,
    /// Why it ended.
    pub how: SessionEnd,
}

/// Something the caller must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A session started (for the logs); its reply follows.
    Started {
        /// The connection.
        conn: ConnId,
        /// The session's client id.
        client_id: Arc<str>,
    },
    /// Send `response` on `conn`.
    Reply {
        /// The connection.
        conn: ConnId,
        /// The reply.
        response: Response,
    },
    /// Append `row` to the report. The next reply on `conn` (the STOP's) must not be
    /// sent before the row is durable, nor any reply after it on that connection. If
    /// the row cannot be made durable, ask [`crate::Server::handle_write_failed`]
    /// what to send instead. With a store (§10), the same transaction releases the
    /// row's client id.
    Record {
        /// The connection whose STOP produced the row.
        conn: ConnId,
        /// The row.
        row: ReportRow,
    },
    /// With a store (§10): claim `client_id` for this server, then tell
    /// [`crate::Server::handle_claimed`] the answer. The START's reply, and every
    /// request after it on `conn`, wait for it.
    Claim {
        /// The connection whose START claims the id.
        conn: ConnId,
        /// The id.
        client_id: Arc<str>,
    },
    /// With a store (§10): release `client_id` everywhere. If a reply follows on
    /// `conn` (a QUIT's, an empty STOP's), it must not be sent before the release is
    /// done, so that the id is free everywhere once the client has its answer.
    Release {
        /// The connection whose session ended.
        conn: ConnId,
        /// The id.
        client_id: Arc<str>,
    },
    /// A session ended without a row (for the logs).
    Ended {
        /// The connection.
        conn: ConnId,
        /// The session and how it ended.
        session: EndedSession,
    },
    /// Close `conn` once the replies queued before this effect are sent. The server
    /// has already forgotten it.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
}

/// The effects of one call into the server, in order.
///
/// A draining iterator over the server's own buffer, which keeps its capacity from
/// call to call: taking effects allocates nothing. Dropping it before the end
/// discards the effects not yet taken, which loses replies and rows: carry out every
/// one.
#[must_use = "every effect must be carried out, in order: dropping them loses replies and report rows"]
#[derive(Debug)]
pub struct Effects<'a>(pub(crate) std::vec::Drain<'a, Effect>);

impl Iterator for Effects<'_> {
    type Item = Effect;

    fn next(&mut self) -> Option<Effect> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Effects<'_> {}
