//! The whole server side of the protocol, without I/O.
//!
//! One [`Server`] owns every connection's decoder and session, because a client id
//! must be unique across all connections (§2). The caller feeds it connections,
//! bytes, disconnects and the time; each call answers with the [`Effects`] to carry
//! out, in order.

use crate::codec::{Decoded, Decoder};
use crate::effect::{CloseReason, ConnId, Effect, Effects, SessionEnd};
use crate::message::{ErrorCode, Op, OpEcho, Response};
use crate::request;
use crate::session::{self, Policy, Session};
use crate::time::Timestamp;
use std::collections::{BTreeSet, HashMap, HashSet};
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
    /// Close a connection that left a frame half-sent, or its TLS handshake
    /// unfinished, for this long (`--frame-timeout`).
    pub frame_timeout: Option<Duration>,
    /// Client ids are shared with other servers through a store (§10, `--store`): a
    /// START claims its id there before it is answered ([`Effect::Claim`]), and every
    /// session's end releases it ([`Effect::Release`]).
    pub shared_ids: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame: crate::codec::DEFAULT_MAX_FRAME,
            max_connections: 10_000,
            require_cipher: false,
            idle_timeout: None,
            frame_timeout: Some(Duration::from_secs(10)),
            shared_ids: false,
        }
    }
}

/// The store's answer to an [`Effect::Claim`] (§10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The id was free everywhere and is now this connection's.
    Granted,
    /// The id is active on another server: `Cliente existente`.
    Taken,
    /// The store could not answer (it is gone): the server fails stop.
    Failed,
}

/// How a new connection reaches the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP: frames may come at once.
    Plain,
    /// TLS: no frame comes before [`Server::handle_handshake`], which must happen
    /// within `frame_timeout` (§8).
    Tls,
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

#[derive(Debug)]
struct Connection {
    decoder: Decoder,
    session: Option<Session>,
    /// A START whose id is being claimed in the store (§10): its session, until the
    /// store answers. No request after it is applied before then.
    claiming: Option<Session>,
    /// Input that arrived behind a START being claimed, applied once it is answered.
    stash: Vec<u8>,
    /// The TLS handshake is still running: no frame may come yet.
    handshaking: bool,
    /// The identity of the connection's verified client certificate (§8).
    identity: Option<Arc<str>>,
    last_request: Timestamp,
    /// When the first byte of the frame still incomplete arrived, or when the
    /// unfinished handshake began.
    partial_since: Option<Timestamp>,
    /// When the first byte of the transport's record still incomplete arrived (a
    /// TLS record, §8): bytes that are not yet any part of a frame.
    record_partial_since: Option<Timestamp>,
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
    /// The effects of the call in progress; handed out by [`Effects`], which drains
    /// it and leaves its capacity for the next call.
    effects: Vec<Effect>,
    /// Claims in flight for connections that are gone: a grant must be released.
    orphan_claims: ConnMap<Arc<str>>,
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
            effects: Vec::new(),
            orphan_claims: ConnMap::default(),
            last_conn: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new connection arrived. Over `max_connections`, it is answered that the
    /// server is busy (§4) and closed at once (see the effects).
    pub fn handle_connect(&mut self, now: Timestamp, transport: Transport) -> (ConnId, Effects<'_>) {
        self.last_conn += 1;
        let id = ConnId(self.last_conn);
        if self.conns.len() >= self.config.max_connections {
            self.effects.push(Effect::Reply { conn: id, response: Response::busy() });
            self.effects.push(Effect::Close { conn: id, reason: CloseReason::Busy });
        } else {
            let handshaking = transport == Transport::Tls;
            let conn = Connection {
                decoder: Decoder::new(self.config.max_frame),
                session: None,
                claiming: None,
                stash: Vec::new(),
                handshaking,
                identity: None,
                last_request: now,
                partial_since: handshaking.then_some(now),
                record_partial_since: None,
                scheduled: None,
            };
            self.conns.insert(id, conn);
            self.schedule(id);
        }
        (id, self.take_effects())
    }

    /// The TLS handshake of `conn` completed; `identity` is that of the client
    /// certificate it verified, if the server asks for one (§8). From now on a START
    /// on this connection must carry that identity as its `client_id`.
    pub fn handle_handshake(&mut self, now: Timestamp, id: ConnId, identity: Option<Arc<str>>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.handshaking = false;
        conn.identity = identity;
        conn.partial_since = None;
        conn.last_request = now;
        self.schedule(id);
    }

    /// The transport under the frames (TLS, §8) read input for `conn`: whether a new
    /// record began in it, and whether one is left incomplete. A record left
    /// half-sent holds a frame back as surely as half a frame does, so it has the
    /// same deadline, `frame_timeout` from its first byte however slowly the rest
    /// trickles in (§7); otherwise a TLS peer could hold a connection forever.
    pub fn handle_transport_input(
        &mut self,
        now: Timestamp,
        id: ConnId,
        record_began: bool,
        record_partial: bool,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.record_partial_since = match (record_partial, conn.record_partial_since) {
            (false, _) => None,
            (true, Some(since)) if !record_began => Some(since),
            (true, _) => Some(now),
        };
        self.schedule(id);
    }

    /// Bytes arrived on `conn`. Every whole frame in them is answered, in order;
    /// input for a connection the server has closed is ignored.
    ///
    /// While [`Server::wants_input`] is false for `conn` (a START waits for its claim,
    /// §10), the bytes are kept and applied once the claim is answered; the caller
    /// should not read that connection meanwhile, which bounds what is kept to one read.
    pub fn handle_input(&mut self, now: Timestamp, id: ConnId, bytes: &[u8]) -> Effects<'_> {
        self.feed(now, id, bytes);
        self.take_effects()
    }

    /// Whether `conn` may be read: false while a START on it waits for its claim.
    pub fn wants_input(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_some_and(|conn| conn.claiming.is_none())
    }

    /// The store answered the claim of the START waiting on `conn` (§10): the START is
    /// answered, and the requests that arrived behind it are applied.
    pub fn handle_claimed(&mut self, now: Timestamp, id: ConnId, claim: Claim) -> Effects<'_> {
        let Some(conn) = self.conns.get_mut(&id) else {
            // The connection went away while its claim was in flight: an id granted
            // to nobody is given back at once.
            if let Some(client_id) = self.orphan_claims.remove(&id)
                && claim == Claim::Granted
            {
                self.effects.push(Effect::Release { conn: id, client_id });
            }
            return self.take_effects();
        };
        let Some(session) = conn.claiming.take() else {
            return self.take_effects();
        };
        match claim {
            Claim::Granted => {
                self.effects.push(Effect::Started { conn: id, client_id: Arc::clone(&session.client_id) });
                conn.session = Some(session);
                self.effects.push(Effect::Reply { conn: id, response: Response::Ok(Op::Start) });
            }
            Claim::Taken | Claim::Failed => {
                self.active_ids.remove(&session.client_id);
                let error =
                    if claim == Claim::Taken { ErrorCode::ClientExists } else { ErrorCode::ServerError };
                self.effects.push(Effect::Reply { conn: id, response: Response::error(Op::Start, error) });
                if claim == Claim::Failed {
                    self.close(id, CloseReason::ReportFailed);
                    return self.take_effects();
                }
            }
        }
        let stash = std::mem::take(&mut conn.stash);
        self.feed(now, id, &stash);
        // Keep the stash's memory for the next claim on this connection.
        if let Some(conn) = self.conns.get_mut(&id)
            && conn.stash.is_empty()
        {
            conn.stash = stash;
            conn.stash.clear();
        }
        self.take_effects()
    }

    /// Applies `bytes` of `id`'s input, pushing the effects.
    fn feed(&mut self, now: Timestamp, id: ConnId, mut bytes: &[u8]) {
        // Borrow the fields apart, so that a frame borrowed from the connection's
        // decoder can be applied to its session while the effects grow.
        let Server { config, conns, active_ids, effects, .. } = self;
        let Some(conn) = conns.get_mut(&id) else {
            return;
        };
        debug_assert!(!conn.handshaking, "the transport passes no bytes before the handshake ends");
        if conn.claiming.is_some() {
            conn.stash.extend_from_slice(bytes);
            return;
        }
        let policy = Policy { require_cipher: config.require_cipher, identity: conn.identity.as_deref() };
        let was_partial = conn.decoder.has_partial_frame();
        let mut completed = false;
        let too_long = loop {
            match conn.decoder.decode(&mut bytes) {
                Decoded::Frame(payload) => {
                    completed = true;
                    let slots = (&mut conn.session, &mut conn.claiming);
                    let claim =
                        apply_frame(id, payload, slots, active_ids, effects, policy, config.shared_ids);
                    if claim {
                        // Nothing behind a START is applied before its claim is answered.
                        conn.stash.extend_from_slice(bytes);
                        break None;
                    }
                }
                Decoded::NeedMore => break None,
                Decoded::TooLong { announced } => break Some(announced),
            }
        };
        if let Some(announced) = too_long {
            let response = Response::Error { op: OpEcho::Null, error: ErrorCode::InvalidMessage };
            self.effects.push(Effect::Reply { conn: id, response });
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
    pub fn handle_disconnect(&mut self, id: ConnId) -> Effects<'_> {
        self.forget(id, SessionEnd::Disconnected);
        self.take_effects()
    }

    /// The write that the `op` reply of `conn` waited for failed: a STOP's row could
    /// not be made durable (§6), or, with a store (§10), a QUIT's or STOP's release
    /// could not be confirmed. That reply becomes the server error, and the
    /// connection closes, because the server fails stop. A failed request changes
    /// nothing (§4): the row is not in the report, and the client may retry elsewhere.
    ///
    /// Called once for each such reply on a connection, in order: the connection is
    /// closed after the first, and the later ones are still answered.
    pub fn handle_write_failed(&mut self, id: ConnId, op: Op) -> Effects<'_> {
        self.effects.push(Effect::Reply { conn: id, response: Response::error(op, ErrorCode::ServerError) });
        if self.conns.contains_key(&id) {
            self.close(id, CloseReason::ReportFailed);
        }
        self.take_effects()
    }

    /// The write that the reply of `conn` waited for may or may not have been done:
    /// the store's connection broke while a commit was under way (§10), so its rows
    /// may be in the report or not. Nothing true can be said of that request, so no
    /// reply is sent: the connection closes (the client sees it break), and the
    /// server fails stop.
    pub fn handle_write_undecided(&mut self, id: ConnId) -> Effects<'_> {
        self.close(id, CloseReason::ReportFailed);
        self.take_effects()
    }

    /// The server is shutting down: every session is discarded and every connection
    /// forgotten (the caller closes them).
    pub fn handle_shutdown(&mut self) -> Effects<'_> {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            self.forget(id, SessionEnd::Shutdown);
        }
        self.take_effects()
    }

    /// When [`Server::handle_timeout`] should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Time has passed: closes the connections whose idle, frame or handshake
    /// timeout expired.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Effects<'_> {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            conn.scheduled = None;
            let handshaking = conn.handshaking;
            let (frame_deadline, idle_deadline) = self.deadlines(id);
            if frame_deadline.is_some_and(|deadline| deadline <= now) {
                let reason =
                    if handshaking { CloseReason::HandshakeTimeout } else { CloseReason::FrameTimeout };
                self.close(id, reason);
            } else if idle_deadline.is_some_and(|deadline| deadline <= now) {
                self.close(id, CloseReason::IdleTimeout);
            } else {
                self.schedule(id);
            }
        }
        self.take_effects()
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

    fn take_effects(&mut self) -> Effects<'_> {
        Effects(self.effects.drain(..))
    }

    /// (frame or handshake deadline, idle deadline) of a connection. An
    /// unrepresentable instant (a timeout of centuries) is no deadline.
    fn deadlines(&self, id: ConnId) -> (Option<Timestamp>, Option<Timestamp>) {
        let Some(conn) = self.conns.get(&id) else {
            return (None, None);
        };
        let earliest_partial = match (conn.partial_since, conn.record_partial_since) {
            (Some(frame), Some(record)) => Some(frame.min(record)),
            (frame, record) => frame.or(record),
        };
        let frame = earliest_partial
            .zip(self.config.frame_timeout)
            .and_then(|(since, timeout)| since.checked_add(timeout));
        // The idle clock starts once the connection may send requests.
        let idle = (!conn.handshaking)
            .then_some(self.config.idle_timeout)
            .flatten()
            .and_then(|timeout| conn.last_request.checked_add(timeout));
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
        self.effects.push(Effect::Close { conn: id, reason });
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
            let client_id = Arc::clone(&session.client_id);
            self.effects.push(Effect::Ended { conn: id, session });
            if self.config.shared_ids {
                self.effects.push(Effect::Release { conn: id, client_id });
            }
        }
        if let Some(session) = conn.claiming {
            // Answered later by the store; a grant then is released at once.
            self.active_ids.remove(&session.client_id);
            self.orphan_claims.insert(id, session.client_id);
        }
    }
}

/// Answers one frame of `id`. True when the frame was a START whose id must first be
/// claimed in the store (§10): its reply waits for [`Server::handle_claimed`].
fn apply_frame(
    id: ConnId,
    payload: &[u8],
    (session, claiming): (&mut Option<Session>, &mut Option<Session>),
    active_ids: &mut HashSet<Arc<str>>,
    effects: &mut Vec<Effect>,
    policy: Policy<'_>,
    shared_ids: bool,
) -> bool {
    let response = match request::parse_request(payload) {
        Err(response) => response,
        Ok(request) => {
            let outcome = session::apply(session, &request, active_ids, policy);
            if let Some(client_id) = outcome.started {
                if shared_ids {
                    *claiming = session.take();
                    effects.push(Effect::Claim { conn: id, client_id });
                    return true;
                }
                effects.push(Effect::Started { conn: id, client_id });
            }
            if let Some(row) = outcome.record {
                effects.push(Effect::Record { conn: id, row });
            }
            if let Some(session) = outcome.ended {
                let client_id = Arc::clone(&session.client_id);
                effects.push(Effect::Ended { conn: id, session });
                if shared_ids {
                    // The reply (QUIT's, an empty STOP's) waits for the release.
                    effects.push(Effect::Release { conn: id, client_id });
                }
            }
            outcome.reply
        }
    };
    effects.push(Effect::Reply { conn: id, response });
    false
}

#[cfg(test)]
mod tests;
