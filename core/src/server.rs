//! The whole server side of the protocol, without I/O.
//!
//! One [`Server`] owns every connection's decoder and session, because a client id
//! must be unique across all connections (§2). The caller feeds it bytes, connects,
//! disconnects and the time; it answers with [`Effect`]s, taken with
//! [`Server::poll_effect`], in the order they must be carried out.

use crate::codec::{Decoded, Decoder};
use crate::message::{self, Response};
use crate::report::ReportRow;
use crate::session::{self, EndedSession, Policy, Session, SessionEnd};
use crate::time::Timestamp;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// The server's limits and policy (the options of §7).
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest frame payload accepted (`--max-frame`).
    pub max_frame: u32,
    /// Connections beyond this many are told the server is busy (§4) and closed.
    pub max_connections: usize,
    /// Refuse plain sessions (`--require-cipher`).
    pub require_cipher: bool,
    /// Close a connection that sent no request for this long (`--idle-timeout`).
    pub idle_timeout: Option<Duration>,
    /// Close a connection that left a frame half-sent for this long (`--frame-timeout`).
    pub frame_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame: crate::codec::DEFAULT_MAX_FRAME,
            max_connections: 10_000,
            require_cipher: false,
            idle_timeout: None,
            frame_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// Identifies a connection for the life of a [`Server`]; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(u64);

impl ConnId {
    /// The id as a number (unique, never zero).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A hasher for [`ConnId`] keys: ids are sequential and chosen by the server, not by
/// peers, so one multiplication spreads them well and nobody can aim collisions.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnIdHasher(u64);

impl Hasher for ConnIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        // 2^64 / golden ratio: consecutive ids land far apart in every bit range.
        self.0 = value.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by connection, with the cheap [`ConnIdHasher`].
pub type ConnMap<V> = HashMap<ConnId, V, BuildHasherDefault<ConnIdHasher>>;

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
    /// The connection was over `max_connections`.
    Busy,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::FrameTooLong { announced } => {
                write!(f, "a length prefix announced {announced} bytes, over the --max-frame limit")
            }
            CloseReason::IdleTimeout => f.write_str("no request within --idle-timeout"),
            CloseReason::FrameTimeout => f.write_str("a frame was left half-sent for --frame-timeout"),
            CloseReason::Busy => f.write_str("over --max-connections"),
        }
    }
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
    /// sent before the row is durable, nor any reply after it on that connection.
    Record {
        /// The connection whose STOP produced the row.
        conn: ConnId,
        /// The row.
        row: ReportRow,
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

#[derive(Debug)]
struct Connection {
    decoder: Decoder,
    session: Option<Session>,
    last_request: Timestamp,
    /// When the first byte of the frame still incomplete arrived.
    partial_since: Option<Timestamp>,
    /// The key of this connection's entry in `Server::timers`, if any.
    scheduled: Option<Timestamp>,
}

/// Every session of a server, and the rules they follow.
#[derive(Debug)]
pub struct Server {
    config: Config,
    conns: ConnMap<Connection>,
    active_ids: HashSet<Arc<str>>,
    /// At most one entry per connection, at or before its earliest deadline. Moving a
    /// deadline later (every request moves the idle one) does not touch this set: the
    /// early entry fires, finds the deadline moved, and reschedules. So a request costs
    /// no tree operation, and the set never grows past one entry per connection.
    timers: BTreeSet<(Timestamp, ConnId)>,
    effects: VecDeque<Effect>,
    last_conn: u64,
}

impl Server {
    /// A server with no connection.
    pub fn new(config: Config) -> Server {
        Server {
            config,
            conns: ConnMap::default(),
            active_ids: HashSet::new(),
            timers: BTreeSet::new(),
            effects: VecDeque::new(),
            last_conn: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new connection arrived. Over `max_connections`, it is answered
    /// that the server is busy (§4) and closed at once (see the effects).
    pub fn handle_connect(&mut self, now: Timestamp) -> ConnId {
        self.last_conn += 1;
        let id = ConnId(self.last_conn);
        if self.conns.len() >= self.config.max_connections {
            self.effects.push_back(Effect::Reply { conn: id, response: Response::busy() });
            self.effects.push_back(Effect::Close { conn: id, reason: CloseReason::Busy });
            return id;
        }
        let conn = Connection {
            decoder: Decoder::new(self.config.max_frame),
            session: None,
            last_request: now,
            partial_since: None,
            scheduled: None,
        };
        self.conns.insert(id, conn);
        self.schedule(id);
        id
    }

    /// Bytes arrived on `conn`. Every whole frame in them is answered, in order;
    /// input for a connection the server has closed is ignored.
    pub fn handle_input(&mut self, now: Timestamp, id: ConnId, mut bytes: &[u8]) {
        // Borrow the fields apart, so that a frame borrowed from the connection's
        // decoder can be applied to its session while the effects queue grows.
        let Server { config, conns, active_ids, effects, .. } = self;
        let Some(conn) = conns.get_mut(&id) else {
            return;
        };
        let policy = Policy { require_cipher: config.require_cipher };
        let was_partial = conn.decoder.has_partial_frame();
        let mut completed = false;
        let too_long = loop {
            match conn.decoder.decode(&mut bytes) {
                Decoded::Frame(payload) => {
                    completed = true;
                    apply_frame(id, payload, &mut conn.session, active_ids, effects, policy);
                }
                Decoded::NeedMore => break None,
                Decoded::TooLong { announced } => break Some(announced),
            }
        };
        if let Some(announced) = too_long {
            let response =
                Response::Error { op: message::OpEcho::Null, error: message::ErrorCode::InvalidMessage };
            self.effects.push_back(Effect::Reply { conn: id, response });
            self.close(id, CloseReason::FrameTooLong { announced });
            return;
        }
        if completed {
            conn.last_request = now;
        }
        conn.partial_since = match (conn.decoder.has_partial_frame(), conn.partial_since) {
            (false, _) => None,
            // Still the same incomplete frame as before this input.
            (true, Some(since)) if was_partial && !completed => Some(since),
            (true, _) => Some(now),
        };
        self.schedule(id);
    }

    /// The peer closed `conn`, or it failed: its session is discarded, nothing recorded.
    pub fn handle_disconnect(&mut self, id: ConnId) {
        self.forget(id, SessionEnd::Disconnected);
    }

    /// The server is shutting down: every session is discarded and every connection
    /// forgotten (the caller closes them).
    pub fn handle_shutdown(&mut self) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            self.forget(id, SessionEnd::Shutdown);
        }
    }

    /// When [`Server::handle_timeout`] should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Time has passed: closes the connections whose idle or frame timeout expired.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            conn.scheduled = None;
            let (frame_deadline, idle_deadline) = self.deadlines(id);
            if frame_deadline.is_some_and(|deadline| deadline <= now) {
                self.close(id, CloseReason::FrameTimeout);
            } else if idle_deadline.is_some_and(|deadline| deadline <= now) {
                self.close(id, CloseReason::IdleTimeout);
            } else {
                self.schedule(id);
            }
        }
    }

    /// The next effect to carry out.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The client ids with an active session, in no particular order.
    pub fn active_ids(&self) -> impl Iterator<Item = &str> {
        self.active_ids.iter().map(|id| &**id)
    }

    /// Bytes held for `conn`'s incomplete frame: never more than `max_frame + 4`.
    pub fn buffered_capacity(&self, id: ConnId) -> Option<usize> {
        self.conns.get(&id).map(|conn| conn.decoder.buffered_capacity())
    }

    /// (frame deadline, idle deadline) of a connection. An unrepresentable instant
    /// (a timeout of centuries) is no deadline.
    fn deadlines(&self, id: ConnId) -> (Option<Timestamp>, Option<Timestamp>) {
        let Some(conn) = self.conns.get(&id) else {
            return (None, None);
        };
        let frame = conn
            .partial_since
            .zip(self.config.frame_timeout)
            .and_then(|(since, timeout)| since.checked_add(timeout));
        let idle = self.config.idle_timeout.and_then(|timeout| conn.last_request.checked_add(timeout));
        (frame, idle)
    }

    fn schedule(&mut self, id: ConnId) {
        let (frame, idle) = self.deadlines(id);
        let Some(deadline) = frame.into_iter().chain(idle).min() else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.scheduled.is_some_and(|scheduled| scheduled <= deadline) {
            return;
        }
        if let Some(previous) = conn.scheduled.replace(deadline) {
            self.timers.remove(&(previous, id));
        }
        self.timers.insert((deadline, id));
    }

    fn close(&mut self, id: ConnId, reason: CloseReason) {
        self.forget(id, SessionEnd::Closed(reason));
        self.effects.push_back(Effect::Close { conn: id, reason });
    }

    fn forget(&mut self, id: ConnId, how: SessionEnd) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        if let Some(at) = conn.scheduled {
            self.timers.remove(&(at, id));
        }
        if let Some(session) = conn.session {
            let session = session.end(&mut self.active_ids, how);
            self.effects.push_back(Effect::Ended { conn: id, session });
        }
    }
}

/// Answers one frame of `id`, whose session is `session`.
fn apply_frame(
    id: ConnId,
    payload: &[u8],
    session: &mut Option<Session>,
    active_ids: &mut HashSet<Arc<str>>,
    effects: &mut VecDeque<Effect>,
    policy: Policy,
) {
    let response = match message::parse_request(payload) {
        Err(response) => response,
        Ok(request) => {
            let outcome = session::apply(session, &request, active_ids, policy);
            if let Some(client_id) = outcome.started {
                effects.push_back(Effect::Started { conn: id, client_id });
            }
            if let Some(row) = outcome.record {
                effects.push_back(Effect::Record { conn: id, row });
            }
            if let Some(session) = outcome.ended {
                effects.push_back(Effect::Ended { conn: id, session });
            }
            outcome.reply
        }
    };
    effects.push_back(Effect::Reply { conn: id, response });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Int;
    use crate::message::{ErrorCode, Op, OpEcho, Value};

    fn frame(json: &str) -> Vec<u8> {
        let mut out = (json.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(json.as_bytes());
        out
    }

    fn drain(server: &mut Server) -> Vec<Effect> {
        std::iter::from_fn(|| server.poll_effect()).collect()
    }

    fn replies(server: &mut Server) -> Vec<Response> {
        drain(server)
            .into_iter()
            .filter_map(|effect| match effect {
                Effect::Reply { response, .. } => Some(response),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_whole_session_records_one_row_before_its_reply() {
        let now = Timestamp::ZERO;
        let mut server = Server::new(Config::default());
        let conn = server.handle_connect(now);
        let mut input = frame(r#"{"op": "START", "client_id": "anton", "cipher": null}"#);
        for number in ["5", "-3", "12"] {
            input.extend(frame(&format!(r#"{{"op": "NUMBER", "number": {number}}}"#)));
        }
        input.extend(frame(r#"{"op": "STOP"}"#));
        server.handle_input(now, conn, &input);
        let effects = drain(&mut server);
        let row = ReportRow { client_id: "anton".into(), count: 3, min: Int::from(-3), max: Int::from(12) };
        let stopped =
            Response::Stopped { min: Value::Plain(Int::from(-3)), max: Value::Plain(Int::from(12)) };
        let ok = |op| Effect::Reply { conn, response: Response::Ok(op) };
        assert_eq!(
            effects,
            vec![
                Effect::Started { conn, client_id: "anton".into() },
                ok(Op::Start),
                ok(Op::Number),
                ok(Op::Number),
                ok(Op::Number),
                Effect::Record { conn, row },
                Effect::Reply { conn, response: stopped },
            ]
        );
        assert_eq!(server.active_ids().count(), 0);
    }

    #[test]
    fn a_client_id_is_active_on_one_connection_at_a_time() {
        let now = Timestamp::ZERO;
        let mut server = Server::new(Config::default());
        let (a, b) = (server.handle_connect(now), server.handle_connect(now));
        let start = frame(r#"{"op": "START", "client_id": "anton"}"#);
        server.handle_input(now, a, &start);
        server.handle_input(now, b, &start);
        assert_eq!(
            replies(&mut server),
            vec![Response::Ok(Op::Start), Response::error(Op::Start, ErrorCode::ClientExists)]
        );
        server.handle_disconnect(a);
        assert!(matches!(
            drain(&mut server).as_slice(),
            [Effect::Ended { session: EndedSession { how: SessionEnd::Disconnected, .. }, .. }]
        ));
        server.handle_input(now, b, &start);
        assert_eq!(replies(&mut server), vec![Response::Ok(Op::Start)]);
    }

    #[test]
    fn an_oversized_prefix_is_answered_and_closed() {
        let now = Timestamp::ZERO;
        let mut server = Server::new(Config::default());
        let conn = server.handle_connect(now);
        server.handle_input(now, conn, &frame(r#"{"op": "START", "client_id": "x"}"#));
        assert!(matches!(drain(&mut server).as_slice(), [Effect::Started { .. }, Effect::Reply { .. }]));
        server.handle_input(now, conn, &[0x7f, 0xff, 0xff, 0xff, b'{']);
        let effects = drain(&mut server);
        assert_eq!(effects.len(), 3);
        assert_eq!(
            effects[0],
            Effect::Reply {
                conn,
                response: Response::Error { op: OpEcho::Null, error: ErrorCode::InvalidMessage }
            }
        );
        assert!(matches!(effects[1], Effect::Ended { .. }));
        assert_eq!(
            effects[2],
            Effect::Close { conn, reason: CloseReason::FrameTooLong { announced: 0x7fff_ffff } }
        );
        assert_eq!(server.connection_count(), 0);
        assert_eq!(server.active_ids().count(), 0);
        server.handle_input(now, conn, &frame(r#"{"op": "STOP"}"#));
        assert!(drain(&mut server).is_empty(), "a closed connection is ignored");
    }

    #[test]
    fn connections_over_the_limit_are_told_the_server_is_busy() {
        let now = Timestamp::ZERO;
        let mut server = Server::new(Config { max_connections: 1, ..Config::default() });
        let first = server.handle_connect(now);
        let second = server.handle_connect(now);
        assert_ne!(first, second);
        assert_eq!(
            drain(&mut server),
            vec![
                Effect::Reply { conn: second, response: Response::busy() },
                Effect::Close { conn: second, reason: CloseReason::Busy },
            ]
        );
        server.handle_disconnect(first);
        let third = server.handle_connect(now);
        assert!(drain(&mut server).is_empty());
        assert!(third > second, "ids are never reused");
    }

    #[test]
    fn a_half_sent_frame_is_closed_after_the_frame_timeout() {
        let start = Timestamp::ZERO;
        let config = Config { frame_timeout: Some(Duration::from_secs(10)), ..Config::default() };
        let mut server = Server::new(config);
        let conn = server.handle_connect(start);
        assert_eq!(server.poll_timeout(), None, "nothing to time out yet");
        let message = frame(r#"{"op": "QUIT"}"#);
        server.handle_input(start, conn, &message[..3]);
        assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(10)));
        // More bytes of the same frame do not extend its deadline.
        server.handle_input(start + Duration::from_secs(9), conn, &message[3..6]);
        server.handle_timeout(start + Duration::from_secs(9));
        assert!(drain(&mut server).is_empty());
        server.handle_timeout(start + Duration::from_secs(10));
        assert_eq!(drain(&mut server), vec![Effect::Close { conn, reason: CloseReason::FrameTimeout }]);
        assert_eq!(server.poll_timeout(), None);
    }

    #[test]
    fn a_completed_frame_clears_the_frame_timeout() {
        let start = Timestamp::ZERO;
        let mut server = Server::new(Config::default());
        let conn = server.handle_connect(start);
        let message = frame(r#"{"op": "QUIT"}"#);
        server.handle_input(start, conn, &message[..3]);
        server.handle_input(start + Duration::from_secs(5), conn, &message[3..]);
        drain(&mut server);
        server.handle_timeout(start + Duration::from_secs(60));
        assert!(drain(&mut server).is_empty());
        assert_eq!(server.connection_count(), 1);
        assert_eq!(server.poll_timeout(), None);
    }

    #[test]
    fn idle_connections_are_closed_and_their_sessions_discarded() {
        let start = Timestamp::ZERO;
        let config = Config { idle_timeout: Some(Duration::from_secs(30)), ..Config::default() };
        let mut server = Server::new(config);
        let conn = server.handle_connect(start);
        server.handle_input(
            start + Duration::from_secs(20),
            conn,
            &frame(r#"{"op": "START", "client_id": "z"}"#),
        );
        drain(&mut server);
        // The entry made at connect time fires at 30 s and finds the deadline moved to 50 s.
        server.handle_timeout(start + Duration::from_secs(30));
        assert!(drain(&mut server).is_empty());
        assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(50)));
        server.handle_timeout(start + Duration::from_secs(50));
        let effects = drain(&mut server);
        assert!(matches!(
            &effects[0],
            Effect::Ended {
                session: EndedSession { how: SessionEnd::Closed(CloseReason::IdleTimeout), .. },
                ..
            }
        ));
        assert_eq!(effects[1], Effect::Close { conn, reason: CloseReason::IdleTimeout });
        assert_eq!(server.active_ids().count(), 0);
    }

    #[test]
    fn huge_timeouts_never_fire_and_never_overflow() {
        // Any instant after the origin plus Duration::MAX is past representable time.
        let start = Timestamp::ZERO + Duration::from_secs(1);
        let config = Config {
            idle_timeout: Some(Duration::MAX),
            frame_timeout: Some(Duration::MAX),
            ..Config::default()
        };
        let mut server = Server::new(config);
        let conn = server.handle_connect(start);
        server.handle_input(start, conn, &[0]);
        assert_eq!(server.poll_timeout(), None);
        server.handle_timeout(start + Duration::from_secs(1_000_000_000));
        assert_eq!(server.connection_count(), 1);
    }
}
