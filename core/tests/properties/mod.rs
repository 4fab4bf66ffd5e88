//! Properties of minmax-core on arbitrary input, written once and checked twice: by the
//! coverage-guided fuzz targets in `fuzz/` (which include this file), and by the
//! proptests of `tests/fuzz_mirror.rs`, which run on stable in every CI run. Each
//! function takes raw bytes and panics when a property fails.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use arbitrary::{Arbitrary, Unstructured};
use minmax_core::Timestamp;
use minmax_core::client::Wants;
use minmax_core::{
    Cipher, Claim, Client, ClientAction, ClientConfig, ClientEvent, Config, ConnId, Decoded, Decoder, Effect,
    Exit, Int, Number, Server, Transport,
};
use minmax_core::{pyjson, reply, request};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const MAX_FRAME: u32 = 1024;

/// `decode`: arbitrary bytes through the decoder, in chunks whose size the first byte
/// picks, and every frame through the request and reply parsers. No panic; the
/// decoder never holds more than `MAX_FRAME + 4` bytes; the parsers agree with
/// serde_json about what is a JSON object with a string `op`.
pub fn decode(data: &[u8]) {
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let mut decoder = Decoder::new(MAX_FRAME);
    for piece in bytes.chunks(usize::from(chunk).max(1)) {
        let mut input = piece;
        loop {
            match decoder.decode(&mut input) {
                Decoded::Frame(frame) => {
                    assert!(frame.len() <= MAX_FRAME as usize);
                    check_frame(frame);
                }
                Decoded::NeedMore => break,
                Decoded::TooLong { announced } => {
                    assert!(announced > MAX_FRAME);
                    return;
                }
            }
        }
        assert!(decoder.buffered_capacity() <= MAX_FRAME as usize + 4);
    }
}

fn check_frame(frame: &[u8]) {
    let cipher = Cipher::from_key(&[7; 16]).expect("a 16-byte key");
    // The NUMBER shortcut must agree with the general parser on everything it takes.
    if let Some(number) = request::canonical_number(frame) {
        let mut general = None;
        pyjson::for_each_member(
            std::str::from_utf8(frame).expect("the shortcut takes ASCII only"),
            |key, value| {
                assert!(key == r#""op""# || key == r#""number""#, "{key}");
                if key == r#""number""# {
                    general = Some(value);
                }
            },
        )
        .expect("the shortcut takes JSON objects only");
        assert_eq!(general, Some(number));
    }
    match request::parse_request(frame) {
        Ok(request) => {
            assert!(std::str::from_utf8(frame).is_ok(), "a request was accepted from invalid UTF-8");
            let _ = request::parse_client_id(request.client_id);
            let _ = request::parse_cipher(request.cipher);
            for key in [None, Some(&cipher)] {
                if let Ok(number) = request::parse_number(request.number, key) {
                    // Exact: the number's text reads back as the same number.
                    assert_eq!(Int::parse(&number.to_string()), Ok(number));
                }
            }
        }
        Err(reply) => {
            let mut out = Vec::new();
            reply.encode(&mut out);
            let body = reply_members(&out[4..]);
            assert!(body["op"] == "null" || body["op"].starts_with('"'), "{body:?}");
            // Differential: what serde_json reads as an object with a string "op" is
            // never an invalid message (only, perhaps, an unknown operation).
            if let Ok(serde_json::Value::Object(object)) = serde_json::from_slice::<serde_json::Value>(frame)
                && object.get("op").is_some_and(serde_json::Value::is_string)
            {
                assert_eq!(reply.error_code(), Some(minmax_core::ErrorCode::UnknownOperation), "{body:?}");
            }
        }
    }
    if let Some(reply) = reply::parse_reply(frame) {
        for raw in [reply.min, reply.max].into_iter().flatten() {
            let _ = reply::parse_reply_value(raw, Some(&cipher));
        }
    }
}

/// A reply is a JSON object with `op` and `status` (see [`reply_members`]), and a
/// plain STOP's min and max are exact integers (§5), whatever their size.
pub fn check_reply(response: &minmax_core::Response) {
    let mut out = Vec::new();
    response.encode(&mut out);
    let body = reply_members(&out[4..]);
    for key in ["min", "max"] {
        if let Some(raw) = body.get(key).filter(|raw| !raw.starts_with('"')) {
            assert!(Int::parse(raw).is_ok(), "{key} is not an exact integer: {raw}");
        }
    }
}

/// The members of a reply body, each value as its raw JSON text; panics unless the
/// body is a JSON object with an `op` that is null or a string, a boolean `status`,
/// and an `error` exactly when the status is false.
///
/// Raw, never through `serde_json::Value`: a STOP reply's min and max are exact
/// integers of up to 4 300 digits (§5), beyond what an f64 holds, and a parser that
/// rounds them through one calls them out of range (the fuzzer found this).
fn reply_members(body: &[u8]) -> BTreeMap<String, String> {
    let members: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).unwrap_or_else(|error| {
        panic!("a reply is a JSON object ({error}): {}", String::from_utf8_lossy(body))
    });
    let members: BTreeMap<String, String> =
        members.into_iter().map(|(key, value)| (key, value.get().to_string())).collect();
    assert!(members.get("op").is_some_and(|op| op == "null" || op.starts_with('"')), "{members:?}");
    let status = members.get("status").map(String::as_str);
    assert!(matches!(status, Some("true" | "false")), "{members:?}");
    assert_eq!(status == Some("false"), members.contains_key("error"), "{members:?}");
    members
}

#[derive(Arbitrary, Debug)]
enum Action {
    Connect,
    Disconnect(u8),
    Advance(u8),
    Raw(u8, Vec<u8>),
    Send(u8, Msg),
    Split(u8, Msg, u8),
    /// A TLS connection (§8) whose client certificate names one of `IDS` (or none),
    /// or whose handshake never finishes.
    ConnectTls {
        identity: Option<u8>,
        stalled: bool,
    },
    /// With a store (§10): the store answers one of the claims in flight.
    Answer {
        claim: u8,
        outcome: u8,
    },
    /// The transport (TLS, §8) read input: whether a record began in it, and whether
    /// one is left incomplete.
    Records {
        conn: u8,
        began: bool,
        partial: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum Msg {
    Start { id: u8, key: KeyChoice },
    Number(NumberChoice),
    Stop,
    Quit,
    Unknown(String),
    Json(String),
}

#[derive(Arbitrary, Debug)]
enum KeyChoice {
    Absent,
    Null,
    Aes { size: u8, byte: u8 },
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum NumberChoice {
    Small(i64),
    Digits { negative: bool, digits: Vec<u8> },
    Text(String),
    Encrypted(i64),
    Float(u32, u32),
}

const IDS: [&str; 5] = ["anton", "jonas", "manel", "Zé", "a,b"];

/// `server_ops`: a sequence of connections, frames (well-formed and not), split
/// frames, disconnects and timeouts through one `Server`, with or without a store
/// whose answers to claims come in any order (§10). No panic; the active ids are
/// exactly those of the sessions the effects started and did not end, and of the
/// claims in flight, each on one connection; with a store, the ids granted and not
/// yet released are exactly those of the sessions, every release is of a granted id
/// and nothing starts before its claim is granted; every reply is JSON with `op` and
/// `status`; every row is sane; nothing happens on a closed connection; no
/// connection buffers more than `MAX_FRAME + 4`.
pub fn server_ops(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let shared_ids: bool = input.arbitrary().unwrap_or(false);
    let Ok(actions) = input.arbitrary::<Vec<Action>>() else {
        return;
    };
    let start = Timestamp::ZERO;
    let config = Config {
        max_frame: MAX_FRAME,
        max_connections: 4,
        require_cipher: false,
        idle_timeout: Some(Duration::from_secs(60)),
        frame_timeout: Some(Duration::from_secs(10)),
        shared_ids,
    };
    let mut server = Server::new(config);
    let mut now = start;
    let mut effects: Vec<Effect> = Vec::new();
    let mut conns: Vec<ConnId> = Vec::new();
    let mut closed: BTreeSet<ConnId> = BTreeSet::new();
    // The key of the last START sent on each connection, for encrypted numbers.
    let mut keys: BTreeMap<ConnId, Vec<u8>> = BTreeMap::new();
    let mut sessions: BTreeMap<ConnId, Arc<str>> = BTreeMap::new();
    // Claims the store has not answered, in the order they were asked.
    let mut in_flight: Vec<(ConnId, Arc<str>)> = Vec::new();
    // Open connections whose START waits for its claim.
    let mut claiming: BTreeMap<ConnId, Arc<str>> = BTreeMap::new();
    // Ids the store granted and that were not released yet (a multiset).
    let mut granted: Vec<Arc<str>> = Vec::new();
    for action in actions.into_iter().take(200) {
        let pick = |conns: &[ConnId], index: u8| {
            (!conns.is_empty()).then(|| conns[usize::from(index) % conns.len()])
        };
        match action {
            Action::Connect => {
                let (conn, connected) = server.handle_connect(now, Transport::Plain);
                effects.extend(connected);
                conns.push(conn);
            }
            Action::ConnectTls { identity, stalled } => {
                let (conn, connected) = server.handle_connect(now, Transport::Tls);
                effects.extend(connected);
                if !stalled {
                    server.handle_handshake(
                        now,
                        conn,
                        identity.map(|id| Arc::from(IDS[usize::from(id) % IDS.len()])),
                    );
                    conns.push(conn);
                }
            }
            Action::Disconnect(index) => {
                if let Some(conn) = pick(&conns, index) {
                    effects.extend(server.handle_disconnect(conn));
                    conns.retain(|&c| c != conn);
                    claiming.remove(&conn);
                    closed.insert(conn);
                }
            }
            Action::Answer { claim, outcome } => {
                if !in_flight.is_empty() {
                    let (conn, client_id) = in_flight.remove(usize::from(claim) % in_flight.len());
                    let outcome = [Claim::Granted, Claim::Taken, Claim::Failed][usize::from(outcome) % 3];
                    if outcome == Claim::Granted {
                        granted.push(client_id);
                    }
                    claiming.remove(&conn);
                    effects.extend(server.handle_claimed(now, conn, outcome));
                }
            }
            Action::Records { conn, began, partial } => {
                if let Some(conn) = pick(&conns, conn) {
                    server.handle_transport_input(now, conn, began, partial);
                }
            }
            Action::Advance(seconds) => {
                now += Duration::from_secs(u64::from(seconds));
                effects.extend(server.handle_timeout(now));
            }
            Action::Raw(index, bytes) => {
                if let Some(conn) = pick(&conns, index) {
                    effects.extend(server.handle_input(now, conn, &bytes));
                }
            }
            Action::Send(index, msg) | Action::Split(index, msg, _) if pick(&conns, index).is_none() => {
                let _ = msg;
            }
            Action::Send(index, msg) => {
                let conn = pick(&conns, index).expect("checked above");
                let bytes = render(&msg, conn, &mut keys);
                effects.extend(server.handle_input(now, conn, &bytes));
            }
            Action::Split(index, msg, cut) => {
                let conn = pick(&conns, index).expect("checked above");
                let bytes = render(&msg, conn, &mut keys);
                let (head, tail) = bytes.split_at(usize::from(cut).min(bytes.len()));
                effects.extend(server.handle_input(now, conn, head));
                now += Duration::from_secs(1);
                effects.extend(server.handle_input(now, conn, tail));
            }
        }
        for effect in effects.drain(..) {
            match effect {
                Effect::Started { conn, client_id } => {
                    assert!(!closed.contains(&conn));
                    assert!(sessions.insert(conn, client_id).is_none(), "a second session on one connection");
                }
                Effect::Record { conn, row } => {
                    assert!(row.count >= 1 && row.min <= row.max, "{row:?}");
                    assert_eq!(sessions.remove(&conn).as_deref(), Some(&*row.client_id));
                    if shared_ids {
                        // The row's transaction releases its id.
                        let held = granted.iter().position(|id| *id == row.client_id);
                        granted.remove(held.expect("a recorded id was granted"));
                    }
                }
                Effect::Claim { conn, client_id } => {
                    assert!(shared_ids, "a claim without a store");
                    assert!(!closed.contains(&conn));
                    assert!(
                        claiming.insert(conn, Arc::clone(&client_id)).is_none(),
                        "two claims on one connection"
                    );
                    in_flight.push((conn, client_id));
                }
                Effect::Release { client_id, .. } => {
                    assert!(shared_ids, "a release without a store");
                    let held = granted.iter().position(|id| *id == client_id);
                    granted.remove(held.expect("only a granted id is released"));
                }
                Effect::Ended { conn, session } => {
                    assert_eq!(sessions.remove(&conn).as_deref(), Some(&*session.client_id));
                }
                Effect::Reply { conn, response } => {
                    assert!(!closed.contains(&conn), "a reply on a closed connection");
                    check_reply(&response);
                }
                Effect::Close { conn, .. } => {
                    assert!(!sessions.contains_key(&conn), "a closed connection kept its session");
                    conns.retain(|&c| c != conn);
                    claiming.remove(&conn);
                    closed.insert(conn);
                }
            }
        }
        let expected: BTreeSet<&str> = sessions.values().chain(claiming.values()).map(|id| &**id).collect();
        assert_eq!(expected.len(), sessions.len() + claiming.len(), "one id active on two connections");
        let active: BTreeSet<&str> = server.active_ids().collect();
        assert_eq!(active, expected);
        if shared_ids {
            let mut held: Vec<&str> = granted.iter().map(|id| &**id).collect();
            let mut started: Vec<&str> = sessions.values().map(|id| &**id).collect();
            held.sort_unstable();
            started.sort_unstable();
            assert_eq!(held, started, "the ids held in the store are those of the sessions");
        }
        for conn in &conns {
            assert!(server.buffered_capacity(*conn).is_some_and(|held| held <= MAX_FRAME as usize + 4));
        }
    }
}

fn render(msg: &Msg, conn: ConnId, keys: &mut BTreeMap<ConnId, Vec<u8>>) -> Vec<u8> {
    let mut frame = Vec::new();
    match msg {
        Msg::Start { id, key } => {
            let id = IDS[usize::from(*id) % IDS.len()];
            let key_text = match key {
                KeyChoice::Absent | KeyChoice::Null => None,
                KeyChoice::Aes { size, byte } => {
                    let key = vec![*byte; [16, 24, 32, 15][usize::from(*size) % 4]];
                    keys.insert(conn, key.clone());
                    Some(minmax_core::cipher::key_to_base64(&key))
                }
                KeyChoice::Text(text) => Some(text.clone()),
            };
            request::encode_start(&mut frame, id, key_text.as_deref());
        }
        Msg::Number(number) => {
            let value = match number {
                NumberChoice::Small(n) => Number::Plain(Int::from(*n)),
                NumberChoice::Digits { negative, digits } => {
                    let text: String = digits.iter().map(|d| char::from(b'0' + d % 10)).collect();
                    match Int::parse(&format!("{}{text}", if *negative { "-" } else { "" })) {
                        Ok(int) => Number::Plain(int),
                        Err(_) => Number::Plain(Int::ZERO),
                    }
                }
                NumberChoice::Text(text) => {
                    minmax_core::codec::encode_frame(&mut frame, |out| {
                        out.extend_from_slice(br#"{"op": "NUMBER", "number": "#);
                        minmax_core::pyjson::write_str(out, text);
                        out.push(b'}');
                    });
                    return frame;
                }
                NumberChoice::Encrypted(n) => {
                    let key = keys.get(&conn).cloned().unwrap_or_else(|| vec![1; 16]);
                    match Cipher::from_key(&key).ok().and_then(|cipher| cipher.encrypt(*n).ok()) {
                        Some(encrypted) => Number::Encrypted(encrypted),
                        None => Number::Plain(Int::from(*n)),
                    }
                }
                NumberChoice::Float(whole, fraction) => {
                    minmax_core::codec::encode_frame(&mut frame, |out| {
                        out.extend_from_slice(
                            format!(r#"{{"op": "NUMBER", "number": {whole}.{fraction}}}"#).as_bytes(),
                        );
                    });
                    return frame;
                }
            };
            request::encode_number(&mut frame, &value);
        }
        Msg::Stop => request::encode_bare(&mut frame, minmax_core::Op::Stop),
        Msg::Quit => request::encode_bare(&mut frame, minmax_core::Op::Quit),
        Msg::Unknown(op) => minmax_core::codec::encode_frame(&mut frame, |out| {
            out.extend_from_slice(br#"{"op": "#);
            minmax_core::pyjson::write_str(out, op);
            out.push(b'}');
        }),
        Msg::Json(text) => {
            minmax_core::codec::encode_frame(&mut frame, |out| out.extend_from_slice(text.as_bytes()))
        }
    }
    frame
}

#[derive(Arbitrary, Debug)]
enum ClientInput {
    Reply(ReplyChoice),
    /// Input text, with a line end or not.
    Input(String, bool),
    /// Input bytes of any kind (not UTF-8, escape sequences, a huge word).
    Bytes(Vec<u8>),
    EndOfInput,
    InputFailed(String),
    Interrupt,
    ConnectionLost(String),
    OutputFailed(String),
    /// The clock moves on this many seconds, and the client is told.
    Wait(u8),
}

#[derive(Arbitrary, Debug)]
enum ReplyChoice {
    Raw(Vec<u8>),
    Ok,
    Refused(String),
    Stop { min: StopValue, max: StopValue, legacy: bool },
}

#[derive(Arbitrary, Debug)]
enum StopValue {
    Int(i64),
    Text(String),
    Encrypted(i64),
    Raw(String),
}

/// `client_replies`: arbitrary replies, input, signals, failures and the clock through
/// `Client::step` and `Client::handle_timeout` in any order. No panic; at most one
/// request in flight; a deadline is always in the future; with `--json`, exactly one
/// JSON object is printed, at the exit, carrying the exit code; once the client has
/// exited it does nothing, except to say once that its output failed.
pub fn client_replies(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let key: Option<[u8; 16]> = input.arbitrary().unwrap_or(None);
    let json = input.arbitrary().unwrap_or(false);
    let config = ClientConfig {
        client_id: "fuzz".into(),
        host: "localhost".into(),
        port: 5000,
        key,
        interactive: input.arbitrary().unwrap_or(false),
        json,
        quiet: input.arbitrary().unwrap_or(false),
        width: usize::from(input.arbitrary::<u8>().unwrap_or(80)),
        tls: None,
    };
    let cipher = key.as_ref().map(Cipher::from_key_128);
    let mut now = Timestamp::ZERO;
    let mut client = Client::new(config, now);
    let mut printed = String::new();
    let mut check =
        |client: &Client, now: Timestamp, actions: &[ClientAction], exited_before: Option<Exit>| {
            if let Some(exit) = exited_before {
                assert!(
                    matches!(actions, [] | [ClientAction::Warn(_)]),
                    "the client acted after exiting: {actions:?}"
                );
                let after = client.exit_status().expect("an exit stays");
                assert!(
                    after == exit || (exit == Exit::Success && after == Exit::OutputFailed),
                    "{exit:?} became {after:?}"
                );
                assert_eq!(client.wants(), Wants::Done);
                return;
            }
            let sends = actions.iter().filter(|action| matches!(action, ClientAction::Send(_))).count();
            assert!(sends <= 1, "one request at a time: {actions:?}");
            if sends == 1 {
                assert_eq!(client.wants(), Wants::Reply);
            }
            if let Some(deadline) = client.poll_timeout() {
                assert!(deadline > now, "a deadline in the past");
            }
            for action in actions {
                if let ClientAction::Print(text) = action {
                    printed.push_str(text);
                }
            }
            if json {
                match client.exit_status() {
                    None => assert!(printed.is_empty(), "with --json, nothing but the outcome: {printed}"),
                    Some(exit) => {
                        let object = printed.strip_suffix('\n').expect("one line");
                        let mut exit_code = None;
                        pyjson::for_each_member(object, |key, value| {
                            if key == r#""exit_code""# {
                                exit_code = Some(value.to_string());
                            }
                        })
                        .expect("the outcome is one JSON object");
                        assert_eq!(exit_code, Some(exit.code().to_string()));
                    }
                }
            }
        };
    for _ in 0..500 {
        let Ok(event) = input.arbitrary::<ClientInput>() else {
            break;
        };
        let exited_before = client.exit_status();
        let owned;
        let event = match &event {
            ClientInput::Reply(choice) => {
                owned = render_reply(choice, cipher.as_ref());
                ClientEvent::Reply(&owned)
            }
            ClientInput::Input(text, line_end) => {
                owned = format!("{text}{}", if *line_end { "\n" } else { "" }).into_bytes();
                ClientEvent::Input(&owned)
            }
            ClientInput::Bytes(bytes) => ClientEvent::Input(bytes),
            ClientInput::EndOfInput => ClientEvent::EndOfInput,
            ClientInput::InputFailed(how) => ClientEvent::InputFailed(how),
            ClientInput::Interrupt => ClientEvent::Interrupt,
            ClientInput::ConnectionLost(how) => ClientEvent::ConnectionLost(how),
            ClientInput::OutputFailed(how) => ClientEvent::OutputFailed(how),
            ClientInput::Wait(seconds) => {
                now += Duration::from_secs(u64::from(*seconds));
                let due = client.poll_timeout().is_some_and(|deadline| deadline <= now);
                let actions = client.handle_timeout(now);
                assert!(due || actions.is_empty(), "a timeout acted before its deadline: {actions:?}");
                check(&client, now, &actions, exited_before);
                continue;
            }
        };
        // Connect first when the input starts with data, as a driver would.
        if client.wants() == Wants::Connection
            && matches!(event, ClientEvent::Reply(_) | ClientEvent::Input(_))
        {
            let actions = client.step(now, ClientEvent::Resolved);
            check(&client, now, &actions, exited_before);
            let actions = client.step(now, ClientEvent::Connected);
            check(&client, now, &actions, exited_before);
        }
        let exited_before = client.exit_status();
        let actions = client.step(now, event);
        check(&client, now, &actions, exited_before);
    }
}

fn render_reply(choice: &ReplyChoice, cipher: Option<&Cipher>) -> Vec<u8> {
    let value = |value: &StopValue| match value {
        StopValue::Int(n) => n.to_string(),
        StopValue::Text(text) => serde_json::to_string(text).expect("a string serializes"),
        StopValue::Encrypted(n) => match cipher.and_then(|cipher| cipher.encrypt(*n).ok()) {
            Some(encrypted) => format!("\"{}\"", encrypted.as_str()),
            None => n.to_string(),
        },
        StopValue::Raw(raw) => raw.clone(),
    };
    match choice {
        ReplyChoice::Raw(bytes) => bytes.clone(),
        ReplyChoice::Ok => br#"{"op": "X", "status": true}"#.to_vec(),
        ReplyChoice::Refused(error) => format!(
            r#"{{"op": "X", "status": false, "error": {}}}"#,
            serde_json::to_string(error).expect("a string")
        )
        .into_bytes(),
        ReplyChoice::Stop { min, max, legacy } => {
            let (min_key, max_key) = if *legacy { ("minimum", "maximum") } else { ("min", "max") };
            format!(
                r#"{{"op": "STOP", "status": true, "{min_key}": {}, "{max_key}": {}}}"#,
                value(min),
                value(max)
            )
            .into_bytes()
        }
    }
}
