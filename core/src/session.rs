//! The session rules of PROTOCOL §2-§4 for one connection, as one table: a single
//! match on (state, op) in [`apply`]. Everything a request can do to a connection's
//! session, and to the server-wide set of active ids, happens here.
//!
//! ```text
//! idle --START ok--> active --NUMBER ok--> active
//! active --STOP (any outcome)--> idle      active --QUIT--> idle
//! any --disconnect--> (session discarded, nothing recorded)
//! ```
//!
//! A failed request changes nothing, except STOP, which always ends the session (§4).

use crate::Int;
use crate::cipher::Cipher;
use crate::effect::{EndedSession, SessionEnd};
use crate::message::{ErrorCode, Number, Op, Response};
use crate::report::ReportRow;
use crate::request::{self, Request};
use std::collections::HashSet;
use std::sync::Arc;

/// An active session (§2). Its size does not depend on how many numbers it has
/// received: the report needs only the count, the minimum and the maximum.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client_id: Arc<str>,
    /// Boxed: most sessions are plain, and the key schedule is several hundred bytes.
    cipher: Option<Box<Cipher>>,
    count: u64,
    /// The minimum and maximum so far; `None` until the first number.
    range: Option<(Int, Int)>,
}

impl Session {
    pub(crate) fn end(self, active_ids: &mut HashSet<Arc<str>>, how: SessionEnd) -> EndedSession {
        active_ids.remove(&self.client_id);
        EndedSession { client_id: self.client_id, count: self.count, how }
    }
}

/// What a START is checked against, besides its own fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy<'a> {
    /// The server refuses plain sessions (`--require-cipher`).
    pub(crate) require_cipher: bool,
    /// The identity of the connection's verified client certificate (§8), if any:
    /// the only client id this connection may use.
    pub(crate) identity: Option<&'a str>,
}

/// What one request did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The client id of a session this request started.
    pub(crate) started: Option<Arc<str>>,
    /// The row to make durable before `reply` is released (a successful STOP).
    pub(crate) record: Option<ReportRow>,
    pub(crate) reply: Response,
    pub(crate) ended: Option<EndedSession>,
}

impl Outcome {
    fn reply(reply: Response) -> Outcome {
        Outcome { started: None, record: None, reply, ended: None }
    }

    fn reject(op: Op, error: ErrorCode) -> Outcome {
        Outcome::reply(Response::error(op, error))
    }
}

/// Applies a parsed request to a connection's session (`slot`), following §4's check
/// order for what is left after the JSON and the op: session state, then fields,
/// then STOP's data. A failed request changes nothing, except that STOP always ends
/// an active session.
pub(crate) fn apply(
    slot: &mut Option<Session>,
    request: &Request<'_>,
    active_ids: &mut HashSet<Arc<str>>,
    policy: Policy<'_>,
) -> Outcome {
    match (slot.take(), request.op) {
        (None, Op::Start) => match start(request, active_ids, policy) {
            Ok(session) => {
                let started = Some(Arc::clone(&session.client_id));
                *slot = Some(session);
                Outcome { started, ..Outcome::reply(Response::Ok(Op::Start)) }
            }
            Err(error) => Outcome::reject(Op::Start, error),
        },
        (None, op @ (Op::Number | Op::Stop | Op::Quit)) => Outcome::reject(op, ErrorCode::ClientNotFound),
        (Some(session), Op::Start) => {
            *slot = Some(session);
            Outcome::reject(Op::Start, ErrorCode::SessionAlreadyStarted)
        }
        (Some(mut session), Op::Number) => {
            let outcome = match request::parse_number(request.number, session.cipher.as_deref()) {
                Ok(number) => {
                    session.add(number);
                    Outcome::reply(Response::Ok(Op::Number))
                }
                Err(error) => Outcome::reject(Op::Number, error),
            };
            *slot = Some(session);
            outcome
        }
        (Some(session), Op::Stop) => stop(session, active_ids),
        (Some(session), Op::Quit) => Outcome {
            started: None,
            record: None,
            reply: Response::Ok(Op::Quit),
            ended: Some(session.end(active_ids, SessionEnd::Quit)),
        },
    }
}

/// START's field checks, in §4's order: id, certificate identity, key, policy,
/// uniqueness.
fn start(
    request: &Request<'_>,
    active_ids: &mut HashSet<Arc<str>>,
    policy: Policy<'_>,
) -> Result<Session, ErrorCode> {
    let client_id = request::parse_client_id(request.client_id).map_err(|_| ErrorCode::InvalidClientId)?;
    if policy.identity.is_some_and(|identity| identity != &*client_id) {
        return Err(ErrorCode::ClientNotAuthorized);
    }
    let cipher = request::parse_cipher(request.cipher)?;
    if policy.require_cipher && cipher.is_none() {
        return Err(ErrorCode::CipherRequired);
    }
    if !active_ids.insert(Arc::clone(&client_id)) {
        return Err(ErrorCode::ClientExists);
    }
    Ok(Session { client_id, cipher: cipher.map(Box::new), count: 0, range: None })
}

impl Session {
    fn add(&mut self, number: Int) {
        self.count += 1;
        match &mut self.range {
            None => self.range = Some((number.clone(), number)),
            Some((min, max)) => {
                if number < *min {
                    *min = number;
                } else if number > *max {
                    *max = number;
                }
            }
        }
    }
}

/// A number as a STOP reply carries it: encrypted in an encrypted session.
fn reply_number(cipher: Option<&Cipher>, number: &Int) -> Number {
    let encrypted = cipher.zip(number.as_i64()).and_then(|(cipher, value)| cipher.encrypt(value).ok());
    // An encrypted session's numbers all came out of a `%16d` block, so they always
    // encrypt back; the plain fallback only keeps this path free of panics.
    encrypted.map_or_else(|| Number::Plain(number.clone()), Number::Encrypted)
}

fn stop(session: Session, active_ids: &mut HashSet<Arc<str>>) -> Outcome {
    active_ids.remove(&session.client_id);
    let Session { client_id, cipher, count, range } = session;
    match range {
        None => Outcome {
            started: None,
            record: None,
            reply: Response::error(Op::Stop, ErrorCode::InsufficientData),
            ended: Some(EndedSession { client_id, count, how: SessionEnd::StoppedEmpty }),
        },
        Some((min, max)) => Outcome {
            started: None,
            reply: Response::Stopped {
                min: reply_number(cipher.as_deref(), &min),
                max: reply_number(cipher.as_deref(), &max),
            },
            record: Some(ReportRow { client_id, count, min, max }),
            ended: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        op: Op,
        client_id: Option<&'static str>,
        cipher: Option<&'static str>,
        number: Option<&'static str>,
    ) -> Request<'static> {
        Request { op, client_id, cipher, number }
    }

    /// START with `id`, given as the raw JSON text of the field.
    fn start(id: &'static str) -> Request<'static> {
        request(Op::Start, Some(id), None, None)
    }

    const PLAIN: Policy<'static> = Policy { require_cipher: false, identity: None };

    #[test]
    fn each_row_of_the_table() {
        let mut ids = HashSet::new();
        let mut slot = None;
        // (idle, NUMBER/STOP/QUIT) refused; (idle, START) opens.
        for op in [Op::Number, Op::Stop, Op::Quit] {
            let outcome = apply(&mut slot, &request(op, None, None, Some("1")), &mut ids, PLAIN);
            assert_eq!(outcome.reply, Response::error(op, ErrorCode::ClientNotFound));
        }
        let outcome = apply(&mut slot, &start("\"a\""), &mut ids, PLAIN);
        assert_eq!((outcome.reply, outcome.started.as_deref()), (Response::Ok(Op::Start), Some("a")));
        // (active, START) refused, (active, NUMBER) counts.
        let outcome = apply(&mut slot, &start("\"b\""), &mut ids, PLAIN);
        assert_eq!(outcome.reply, Response::error(Op::Start, ErrorCode::SessionAlreadyStarted));
        for number in ["7", "-2", "\"x\""] {
            apply(&mut slot, &request(Op::Number, None, None, Some(number)), &mut ids, PLAIN);
        }
        // (active, STOP) records and frees the id.
        let outcome = apply(&mut slot, &request(Op::Stop, None, None, None), &mut ids, PLAIN);
        let row = outcome.record.expect("a row");
        assert_eq!(
            (row.count, row.min, row.max),
            (2, Int::from(-2), Int::from(7)),
            "the invalid number changed nothing"
        );
        assert!(slot.is_none() && ids.is_empty());
        // (active, QUIT) ends without a row.
        apply(&mut slot, &start("\"a\""), &mut ids, PLAIN);
        let outcome = apply(&mut slot, &request(Op::Quit, None, None, None), &mut ids, PLAIN);
        assert_eq!(outcome.ended.map(|ended| ended.how), Some(SessionEnd::Quit));
        assert!(outcome.record.is_none() && ids.is_empty());
    }

    #[test]
    fn a_refused_start_leaves_everything_as_it_was() {
        let mut ids = HashSet::from([Arc::from("taken")]);
        let mut slot = None;
        let required = Policy { require_cipher: true, identity: None };
        for (start, error) in [
            (request(Op::Start, Some("\"\""), Some("5"), None), ErrorCode::InvalidClientId),
            (request(Op::Start, Some("\"taken\""), Some("5"), None), ErrorCode::InvalidKey),
            (request(Op::Start, Some("\"taken\""), None, None), ErrorCode::CipherRequired),
        ] {
            let outcome = apply(&mut slot, &start, &mut ids, required);
            assert_eq!(outcome.reply, Response::error(Op::Start, error));
        }
        let outcome = apply(&mut slot, &request(Op::Start, Some("\"taken\""), None, None), &mut ids, PLAIN);
        assert_eq!(outcome.reply, Response::error(Op::Start, ErrorCode::ClientExists));
        assert!(slot.is_none());
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn an_empty_stop_ends_the_session_without_a_row() {
        let mut ids = HashSet::new();
        let mut slot = None;
        apply(&mut slot, &start("\"e\""), &mut ids, PLAIN);
        let outcome = apply(&mut slot, &request(Op::Stop, None, None, None), &mut ids, PLAIN);
        assert_eq!(outcome.reply, Response::error(Op::Stop, ErrorCode::InsufficientData));
        assert_eq!(outcome.ended.map(|ended| (ended.how, ended.count)), Some((SessionEnd::StoppedEmpty, 0)));
        assert!(slot.is_none() && ids.is_empty());
    }

    #[test]
    fn a_certificate_identity_admits_its_own_id_only() {
        let mut ids = HashSet::new();
        let mut slot = None;
        let bound = Policy { require_cipher: false, identity: Some("anton") };
        // The id's own form is checked first, then the identity, then the key.
        let outcome = apply(&mut slot, &request(Op::Start, Some("5"), Some("5"), None), &mut ids, bound);
        assert_eq!(outcome.reply, Response::error(Op::Start, ErrorCode::InvalidClientId));
        let outcome =
            apply(&mut slot, &request(Op::Start, Some("\"jonas\""), Some("5"), None), &mut ids, bound);
        assert_eq!(outcome.reply, Response::error(Op::Start, ErrorCode::ClientNotAuthorized));
        assert!(slot.is_none() && ids.is_empty(), "a refused START takes no id");
        let outcome =
            apply(&mut slot, &request(Op::Start, Some("\"anton\""), Some("5"), None), &mut ids, bound);
        assert_eq!(outcome.reply, Response::error(Op::Start, ErrorCode::InvalidKey));
        let outcome = apply(&mut slot, &start("\"anton\""), &mut ids, bound);
        assert_eq!(outcome.reply, Response::Ok(Op::Start));
    }
}
