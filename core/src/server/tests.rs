//! The server machine's rules, one by one, with simulated time.

use super::*;
use crate::Int;
use crate::effect::EndedSession;
use crate::message::Number;
use crate::report::ReportRow;

fn frame(json: &str) -> Vec<u8> {
    let mut out = (json.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    out
}

/// A plain connection that is accepted without any effect.
fn connect(server: &mut Server, now: Timestamp) -> ConnId {
    let (conn, effects) = server.handle_connect(now, Transport::Plain);
    assert_eq!(effects.count(), 0);
    conn
}

fn input(server: &mut Server, now: Timestamp, conn: ConnId, bytes: &[u8]) -> Vec<Effect> {
    server.handle_input(now, conn, bytes).collect()
}

fn replies(effects: Vec<Effect>) -> Vec<Response> {
    effects
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
    let conn = connect(&mut server, now);
    let mut bytes = frame(r#"{"op": "START", "client_id": "anton", "cipher": null}"#);
    for number in ["5", "-3", "12"] {
        bytes.extend(frame(&format!(r#"{{"op": "NUMBER", "number": {number}}}"#)));
    }
    bytes.extend(frame(r#"{"op": "STOP"}"#));
    let effects = input(&mut server, now, conn, &bytes);
    let row = ReportRow { client_id: "anton".into(), count: 3, min: Int::from(-3), max: Int::from(12) };
    let stopped = Response::Stopped { min: Number::Plain(Int::from(-3)), max: Number::Plain(Int::from(12)) };
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
fn a_failed_record_is_answered_with_the_server_error_and_closes() {
    let now = Timestamp::ZERO;
    let mut server = Server::new(Config::default());
    let conn = connect(&mut server, now);
    let mut bytes = frame(r#"{"op": "START", "client_id": "anton"}"#);
    bytes.extend(frame(r#"{"op": "NUMBER", "number": 1}"#));
    bytes.extend(frame(r#"{"op": "STOP"}"#));
    assert_eq!(input(&mut server, now, conn, &bytes).len(), 5);
    let effects: Vec<Effect> = server.handle_write_failed(conn, Op::Stop).collect();
    assert_eq!(
        effects,
        vec![
            Effect::Reply { conn, response: Response::error(Op::Stop, ErrorCode::ServerError) },
            Effect::Close { conn, reason: CloseReason::ReportFailed },
        ]
    );
    assert_eq!(server.connection_count(), 0);
}

#[test]
fn a_client_id_is_active_on_one_connection_at_a_time() {
    let now = Timestamp::ZERO;
    let mut server = Server::new(Config::default());
    let (a, b) = (connect(&mut server, now), connect(&mut server, now));
    let start = frame(r#"{"op": "START", "client_id": "anton"}"#);
    let mut effects = input(&mut server, now, a, &start);
    effects.extend(input(&mut server, now, b, &start));
    assert_eq!(
        replies(effects),
        vec![Response::Ok(Op::Start), Response::error(Op::Start, ErrorCode::ClientExists)]
    );
    let effects: Vec<Effect> = server.handle_disconnect(a).collect();
    assert!(matches!(
        effects.as_slice(),
        [Effect::Ended { session: EndedSession { how: SessionEnd::Disconnected, .. }, .. }]
    ));
    assert_eq!(replies(input(&mut server, now, b, &start)), vec![Response::Ok(Op::Start)]);
}

#[test]
fn an_oversized_prefix_is_answered_and_closed() {
    let now = Timestamp::ZERO;
    let mut server = Server::new(Config::default());
    let conn = connect(&mut server, now);
    let effects = input(&mut server, now, conn, &frame(r#"{"op": "START", "client_id": "x"}"#));
    assert!(matches!(effects.as_slice(), [Effect::Started { .. }, Effect::Reply { .. }]));
    let effects = input(&mut server, now, conn, &[0x7f, 0xff, 0xff, 0xff, b'{']);
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
    assert!(
        input(&mut server, now, conn, &frame(r#"{"op": "STOP"}"#)).is_empty(),
        "a closed connection is ignored"
    );
}

#[test]
fn connections_over_the_limit_are_told_the_server_is_busy() {
    let now = Timestamp::ZERO;
    let mut server = Server::new(Config { max_connections: 1, ..Config::default() });
    let first = connect(&mut server, now);
    let (second, effects) = server.handle_connect(now, Transport::Plain);
    let effects: Vec<Effect> = effects.collect();
    assert_ne!(first, second);
    assert_eq!(
        effects,
        vec![
            Effect::Reply { conn: second, response: Response::busy() },
            Effect::Close { conn: second, reason: CloseReason::Busy },
        ]
    );
    assert_eq!(server.handle_disconnect(first).count(), 0);
    let third = connect(&mut server, now);
    assert!(third > second, "ids are never reused");
}

#[test]
fn a_half_sent_frame_is_closed_after_the_frame_timeout() {
    let start = Timestamp::ZERO;
    let config = Config { frame_timeout: Some(Duration::from_secs(10)), ..Config::default() };
    let mut server = Server::new(config);
    let conn = connect(&mut server, start);
    assert_eq!(server.poll_timeout(), None, "nothing to time out yet");
    let message = frame(r#"{"op": "QUIT"}"#);
    assert!(input(&mut server, start, conn, &message[..3]).is_empty());
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(10)));
    // More bytes of the same frame do not extend its deadline.
    assert!(input(&mut server, start + Duration::from_secs(9), conn, &message[3..6]).is_empty());
    assert_eq!(server.handle_timeout(start + Duration::from_secs(9)).count(), 0);
    let effects: Vec<Effect> = server.handle_timeout(start + Duration::from_secs(10)).collect();
    assert_eq!(effects, vec![Effect::Close { conn, reason: CloseReason::FrameTimeout }]);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_completed_frame_clears_the_frame_timeout() {
    let start = Timestamp::ZERO;
    let mut server = Server::new(Config::default());
    let conn = connect(&mut server, start);
    let message = frame(r#"{"op": "QUIT"}"#);
    assert!(input(&mut server, start, conn, &message[..3]).is_empty());
    assert_eq!(input(&mut server, start + Duration::from_secs(5), conn, &message[3..]).len(), 1);
    assert_eq!(server.handle_timeout(start + Duration::from_secs(60)).count(), 0);
    assert_eq!(server.connection_count(), 1);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn an_unfinished_tls_handshake_is_closed_after_the_frame_timeout() {
    let start = Timestamp::ZERO;
    let config = Config { idle_timeout: Some(Duration::from_secs(60)), ..Config::default() };
    let mut server = Server::new(config);
    let (stalled, effects) = server.handle_connect(start, Transport::Tls);
    assert_eq!(effects.count(), 0);
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(10)));
    let (finished, effects) = server.handle_connect(start, Transport::Tls);
    assert_eq!(effects.count(), 0);
    server.handle_handshake(start + Duration::from_secs(3), finished, None);
    let effects: Vec<Effect> = server.handle_timeout(start + Duration::from_secs(10)).collect();
    assert_eq!(effects, vec![Effect::Close { conn: stalled, reason: CloseReason::HandshakeTimeout }]);
    // The finished one now counts as idle from the end of its handshake.
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(63)));
}

#[test]
fn a_half_sent_tls_record_is_closed_after_the_frame_timeout() {
    let start = Timestamp::ZERO;
    let second = |s: u64| start + Duration::from_secs(s);
    let mut server = Server::new(Config::default());
    let mut tls = || {
        let (conn, effects) = server.handle_connect(start, Transport::Tls);
        assert_eq!(effects.count(), 0);
        server.handle_handshake(start, conn, None);
        conn
    };
    let (trickling, renewing) = (tls(), tls());
    // A record that began and stays incomplete: trickles do not extend its deadline.
    server.handle_transport_input(second(1), trickling, true, true);
    server.handle_transport_input(second(8), trickling, false, true);
    // Records that complete do, and the deadline runs from the next one's start.
    server.handle_transport_input(second(1), renewing, true, true);
    server.handle_transport_input(second(9), renewing, true, true);
    server.handle_transport_input(second(10), renewing, false, false);
    server.handle_transport_input(second(12), renewing, true, true);
    assert_eq!(server.handle_timeout(second(10)).count(), 0);
    let effects: Vec<Effect> = server.handle_timeout(second(11)).collect();
    assert_eq!(effects, vec![Effect::Close { conn: trickling, reason: CloseReason::FrameTimeout }]);
    assert_eq!(server.handle_timeout(second(21)).count(), 0);
    let effects: Vec<Effect> = server.handle_timeout(second(22)).collect();
    assert_eq!(effects, vec![Effect::Close { conn: renewing, reason: CloseReason::FrameTimeout }]);
}

#[test]
fn a_certificate_identity_binds_the_connection_to_its_id() {
    let now = Timestamp::ZERO;
    let mut server = Server::new(Config::default());
    let (conn, effects) = server.handle_connect(now, Transport::Tls);
    assert_eq!(effects.count(), 0);
    server.handle_handshake(now, conn, Some("anton".into()));
    let refused = input(&mut server, now, conn, &frame(r#"{"op": "START", "client_id": "jonas"}"#));
    assert_eq!(replies(refused), vec![Response::error(Op::Start, ErrorCode::ClientNotAuthorized)]);
    assert_eq!(server.active_ids().count(), 0, "the refused id stays free");
    let started = input(&mut server, now, conn, &frame(r#"{"op": "START", "client_id": "anton"}"#));
    assert_eq!(replies(started), vec![Response::Ok(Op::Start)]);
}

#[test]
fn idle_connections_are_closed_and_their_sessions_discarded() {
    let start = Timestamp::ZERO;
    let config = Config { idle_timeout: Some(Duration::from_secs(30)), ..Config::default() };
    let mut server = Server::new(config);
    let conn = connect(&mut server, start);
    let effects = input(
        &mut server,
        start + Duration::from_secs(20),
        conn,
        &frame(r#"{"op": "START", "client_id": "z"}"#),
    );
    assert_eq!(effects.len(), 2);
    // The entry made at connect time fires at 30 s and finds the deadline moved to 50 s.
    assert_eq!(server.handle_timeout(start + Duration::from_secs(30)).count(), 0);
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(50)));
    let effects: Vec<Effect> = server.handle_timeout(start + Duration::from_secs(50)).collect();
    assert!(matches!(
        &effects[0],
        Effect::Ended { session: EndedSession { how: SessionEnd::Closed(CloseReason::IdleTimeout), .. }, .. }
    ));
    assert_eq!(effects[1], Effect::Close { conn, reason: CloseReason::IdleTimeout });
    assert_eq!(server.active_ids().count(), 0);
}

#[test]
fn huge_timeouts_never_fire_and_never_overflow() {
    // Any instant after the origin plus Duration::MAX is past representable time.
    let start = Timestamp::ZERO + Duration::from_secs(1);
    let config =
        Config { idle_timeout: Some(Duration::MAX), frame_timeout: Some(Duration::MAX), ..Config::default() };
    let mut server = Server::new(config);
    let conn = connect(&mut server, start);
    assert!(input(&mut server, start, conn, &[0]).is_empty());
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(server.handle_timeout(start + Duration::from_secs(1_000_000_000)).count(), 0);
    assert_eq!(server.connection_count(), 1);
}

fn shared() -> Server {
    Server::new(Config { shared_ids: true, ..Config::default() })
}

#[test]
fn with_a_store_a_start_waits_for_its_claim_and_the_requests_behind_it_too() {
    let now = Timestamp::ZERO;
    let mut server = shared();
    let conn = connect(&mut server, now);
    let mut bytes = frame(r#"{"op": "START", "client_id": "anton"}"#);
    bytes.extend(frame(r#"{"op": "NUMBER", "number": 4}"#));
    bytes.extend(frame(r#"{"op": "STOP"}"#));
    let effects = input(&mut server, now, conn, &bytes);
    assert_eq!(effects, vec![Effect::Claim { conn, client_id: "anton".into() }], "nothing is answered yet");
    assert!(!server.wants_input(conn));
    assert_eq!(server.active_ids().collect::<Vec<_>>(), ["anton"], "taken locally at once");
    // Input that arrives meanwhile waits too.
    assert!(input(&mut server, now, conn, &frame(r#"{"op": "QUIT"}"#)).is_empty());
    let effects: Vec<Effect> = server.handle_claimed(now, conn, Claim::Granted).collect();
    let row = ReportRow { client_id: "anton".into(), count: 1, min: Int::from(4), max: Int::from(4) };
    assert_eq!(
        effects,
        vec![
            Effect::Started { conn, client_id: "anton".into() },
            Effect::Reply { conn, response: Response::Ok(Op::Start) },
            Effect::Reply { conn, response: Response::Ok(Op::Number) },
            Effect::Record { conn, row },
            Effect::Reply {
                conn,
                response: Response::Stopped {
                    min: Number::Plain(Int::from(4)),
                    max: Number::Plain(Int::from(4))
                }
            },
            Effect::Reply { conn, response: Response::error(Op::Quit, ErrorCode::ClientNotFound) },
        ]
    );
    assert!(server.wants_input(conn));
}

#[test]
fn with_a_store_an_id_taken_elsewhere_is_refused_and_freed_here() {
    let now = Timestamp::ZERO;
    let mut server = shared();
    let conn = connect(&mut server, now);
    let mut bytes = frame(r#"{"op": "START", "client_id": "elsewhere"}"#);
    bytes.extend(frame(r#"{"op": "NUMBER", "number": 4}"#));
    assert_eq!(input(&mut server, now, conn, &bytes).len(), 1);
    let effects: Vec<Effect> = server.handle_claimed(now, conn, Claim::Taken).collect();
    assert_eq!(
        replies(effects),
        vec![
            Response::error(Op::Start, ErrorCode::ClientExists),
            Response::error(Op::Number, ErrorCode::ClientNotFound)
        ]
    );
    assert_eq!(server.active_ids().count(), 0);
}

#[test]
fn with_a_store_every_end_of_a_session_releases_its_id() {
    let now = Timestamp::ZERO;
    let mut server = shared();
    let conn = connect(&mut server, now);
    let start = frame(r#"{"op": "START", "client_id": "q"}"#);
    assert_eq!(input(&mut server, now, conn, &start).len(), 1);
    assert_eq!(server.handle_claimed(now, conn, Claim::Granted).count(), 2);
    // QUIT: the release comes before the reply, which waits for it.
    let effects = input(&mut server, now, conn, &frame(r#"{"op": "QUIT"}"#));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Ended { .. }, Effect::Release { client_id, .. }, Effect::Reply { .. }] if &**client_id == "q"
    ));
    // A disconnect releases without a reply.
    assert_eq!(input(&mut server, now, conn, &start).len(), 1);
    assert_eq!(server.handle_claimed(now, conn, Claim::Granted).count(), 2);
    let effects: Vec<Effect> = server.handle_disconnect(conn).collect();
    assert!(matches!(effects.as_slice(), [Effect::Ended { .. }, Effect::Release { .. }]));
}

#[test]
fn with_a_store_a_claim_granted_after_its_connection_left_is_given_back() {
    let now = Timestamp::ZERO;
    let mut server = shared();
    let conn = connect(&mut server, now);
    assert_eq!(input(&mut server, now, conn, &frame(r#"{"op": "START", "client_id": "gone"}"#)).len(), 1);
    assert_eq!(server.handle_disconnect(conn).count(), 0, "no session yet, nothing ended");
    assert_eq!(server.active_ids().count(), 0);
    let effects: Vec<Effect> = server.handle_claimed(now, conn, Claim::Granted).collect();
    assert_eq!(effects, vec![Effect::Release { conn, client_id: "gone".into() }]);
    // A refused one has nothing to give back.
    let other = connect(&mut server, now);
    assert_eq!(input(&mut server, now, other, &frame(r#"{"op": "START", "client_id": "x"}"#)).len(), 1);
    assert_eq!(server.handle_disconnect(other).count(), 0);
    assert_eq!(server.handle_claimed(now, other, Claim::Taken).count(), 0);
}

#[test]
fn with_a_store_a_failed_claim_is_a_server_error() {
    let now = Timestamp::ZERO;
    let mut server = shared();
    let conn = connect(&mut server, now);
    assert_eq!(input(&mut server, now, conn, &frame(r#"{"op": "START", "client_id": "f"}"#)).len(), 1);
    let effects: Vec<Effect> = server.handle_claimed(now, conn, Claim::Failed).collect();
    assert_eq!(
        effects,
        vec![
            Effect::Reply { conn, response: Response::error(Op::Start, ErrorCode::ServerError) },
            Effect::Close { conn, reason: CloseReason::ReportFailed },
        ]
    );
}

#[test]
fn a_write_of_unknown_outcome_is_not_answered_at_all() {
    let now = Timestamp::ZERO;
    let mut server = shared();
    let conn = connect(&mut server, now);
    let effects: Vec<Effect> = server.handle_write_undecided(conn).collect();
    assert_eq!(effects, vec![Effect::Close { conn, reason: CloseReason::ReportFailed }]);
}
