//! PROTOCOL §1-§4 as a model test: random sequences of operations over several
//! connections (valid and invalid requests, split frames, disconnects, timeouts,
//! connections beyond the limit) go to the real `Server` and to a deliberately plain
//! model. After every step the reply bytes, the report rows, the ended sessions, the
//! closes and the set of active ids must be the same.
//!
//! The model is independent of the implementation on purpose: it keeps every number
//! in a list of `num_bigint::BigInt` and takes min and max of the list, encrypts with
//! the `aes` crate directly, and writes the expected JSON with its own naive escaper.

use aes::cipher::{BlockEncrypt, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minmax_core::Timestamp;
use minmax_core::message::ErrorCode;
use minmax_core::{CloseReason, Config, ConnId, Effect, Server, SessionEnd, Transport};
use num_bigint::BigInt;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const MAX_FRAME: u32 = 8192;
const MAX_CONNECTIONS: usize = 4;
const IDLE_SECS: u64 = 30;
const FRAME_SECS: u64 = 10;

// ---------------------------------------------------------------- generated actions

#[derive(Debug, Clone)]
enum Action {
    Connect,
    /// A TLS connection (§8) whose handshake presents a client certificate for
    /// `identity` (or none), or stalls and never finishes.
    ConnectTls {
        identity: Option<&'static str>,
        stalled: bool,
    },
    /// Send a message whole (after the rest of a split one, if any).
    Send {
        conn: usize,
        msg: Msg,
    },
    /// Send the first `cut` bytes of a message now, the rest with the next send.
    SendHead {
        conn: usize,
        msg: Msg,
        cut: usize,
    },
    /// Send `count` more bytes of a split message, leaving at least one unsent
    /// (a slow-loris peer: this must not extend the frame's deadline).
    SendMore {
        conn: usize,
        count: usize,
    },
    /// A length prefix over `MAX_FRAME`.
    SendTooLong {
        conn: usize,
    },
    Disconnect {
        conn: usize,
    },
    Advance {
        secs: u64,
    },
}

#[derive(Debug, Clone)]
enum Msg {
    Start { id: IdChoice, key: KeyChoice, extra_key: bool },
    Number { number: NumChoice, keys_reversed: bool },
    Stop,
    Quit,
    UnknownOp(&'static str),
    Invalid(InvalidChoice),
}

#[derive(Debug, Clone)]
enum IdChoice {
    Valid(&'static str),
    /// The JSON text of an unacceptable `client_id`.
    Invalid(&'static str),
    Absent,
}

const VALID_IDS: [&str; 6] = ["anton", "jonas", "manel", "Zé", "a,b", "\"q\""];
const INVALID_IDS: [&str; 9] =
    [r#""""#, r#""=1+1""#, r#""+x""#, r#""-x""#, r#""@x""#, r#""tab\there""#, r#""\ud800""#, "42", "null"];

#[derive(Debug, Clone)]
enum KeyChoice {
    Absent,
    Null,
    Empty,
    /// A key of 16, 24 or 32 bytes, all equal to `byte`.
    Key {
        len: usize,
        byte: u8,
    },
    /// The JSON text of an unacceptable `cipher`.
    Invalid(&'static str),
}

const INVALID_KEYS: [&str; 5] = [r#""AAAA""#, r#""not base64""#, r#""AAAAAAAAAAAAAAAAAAAAAA""#, "16", "true"];

#[derive(Debug, Clone)]
enum NumChoice {
    Small(i64),
    /// Decimal digits, possibly far beyond i64.
    Big {
        negative: bool,
        digits: String,
    },
    /// A JSON string holding a decimal integer, with spaces around.
    NumericString(i64),
    /// Encrypted with the session's key (or a fixed key when the session is plain).
    Encrypted(i64),
    /// Encrypted with a key that is not the session's.
    WrongKey(i64),
    /// The JSON text of something that is never a valid number.
    Invalid(&'static str),
    Absent,
}

const INVALID_NUMBERS: [&str; 11] =
    ["1.5", "-0.0", "1e3", "1E400", "true", "null", "[1]", "{}", r#""abc""#, r#""1.5""#, r#""""#];

#[derive(Debug, Clone)]
enum InvalidChoice {
    Json(&'static str),
    Bytes(&'static [u8]),
}

const INVALID_JSON: [&str; 9] =
    ["[]", r#""START""#, "5", "{}", r#"{"op": null}"#, r#"{"op": 5}"#, "{", "not json", ""];
const INVALID_BYTES: [&[u8]; 2] = [b"\xff\xfe", b"{\"op\": \"\xc3\"}"];
const UNKNOWN_OPS: [&str; 5] = ["start", "HELLO", "", "STOP ", "Operação"];

fn msg() -> impl Strategy<Value = Msg> {
    let id = prop_oneof![
        6 => prop::sample::select(&VALID_IDS[..]).prop_map(IdChoice::Valid),
        2 => prop::sample::select(&INVALID_IDS[..]).prop_map(IdChoice::Invalid),
        1 => Just(IdChoice::Absent),
    ];
    let key = prop_oneof![
        3 => Just(KeyChoice::Absent),
        2 => Just(KeyChoice::Null),
        1 => Just(KeyChoice::Empty),
        3 => (prop::sample::select(&[16usize, 24, 32][..]), any::<u8>()).prop_map(|(len, byte)| KeyChoice::Key { len, byte }),
        1 => prop::sample::select(&INVALID_KEYS[..]).prop_map(KeyChoice::Invalid),
    ];
    let encryptable = -999_999_999_999_999i64..=9_999_999_999_999_999;
    let number = prop_oneof![
        5 => any::<i64>().prop_map(NumChoice::Small),
        5 => (-1000i64..1000).prop_map(NumChoice::Small),
        2 => (any::<bool>(), "[1-9][0-9]{18,60}").prop_map(|(negative, digits)| NumChoice::Big { negative, digits }),
        1 => (any::<bool>(), prop::sample::select(&[4299usize, 4300, 4301][..]))
            .prop_map(|(negative, len)| NumChoice::Big { negative, digits: "7".repeat(len) }),
        2 => (-1000i64..1000).prop_map(NumChoice::NumericString),
        6 => encryptable.clone().prop_map(NumChoice::Encrypted),
        1 => encryptable.prop_map(NumChoice::WrongKey),
        2 => prop::sample::select(&INVALID_NUMBERS[..]).prop_map(NumChoice::Invalid),
        1 => Just(NumChoice::Absent),
    ];
    let invalid = prop_oneof![
        prop::sample::select(&INVALID_JSON[..]).prop_map(InvalidChoice::Json),
        prop::sample::select(&INVALID_BYTES[..]).prop_map(InvalidChoice::Bytes),
    ];
    prop_oneof![
        3 => (id, key, any::<bool>()).prop_map(|(id, key, extra_key)| Msg::Start { id, key, extra_key }),
        8 => (number, any::<bool>()).prop_map(|(number, keys_reversed)| Msg::Number { number, keys_reversed }),
        2 => Just(Msg::Stop),
        1 => Just(Msg::Quit),
        1 => prop::sample::select(&UNKNOWN_OPS[..]).prop_map(Msg::UnknownOp),
        1 => invalid.prop_map(Msg::Invalid),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    let conn = 0usize..4;
    let identity = prop_oneof![Just(None), prop::sample::select(&VALID_IDS[..]).prop_map(Some)];
    prop_oneof![
        2 => Just(Action::Connect),
        1 => (identity, prop::bool::weighted(0.2)).prop_map(|(identity, stalled)| Action::ConnectTls { identity, stalled }),
        20 => (conn.clone(), msg()).prop_map(|(conn, msg)| Action::Send { conn, msg }),
        4 => (conn.clone(), msg(), 1usize..40).prop_map(|(conn, msg, cut)| Action::SendHead { conn, msg, cut }),
        4 => (conn.clone(), 1usize..8).prop_map(|(conn, count)| Action::SendMore { conn, count }),
        1 => conn.clone().prop_map(|conn| Action::SendTooLong { conn }),
        1 => conn.prop_map(|conn| Action::Disconnect { conn }),
        4 => prop_oneof![Just(1u64), Just(5), Just(9), Just(10), Just(29), Just(31)].prop_map(|secs| Action::Advance { secs }),
    ]
}

// ---------------------------------------------------------------- the plain model

/// Every effect, in a form both sides can produce without sharing code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Started(String),
    Reply(String),
    Record { id: String, count: u64, min: String, max: String },
    Ended { id: String, count: u64, how: String },
    Close(String),
    Claim(String),
    Release(String),
}

struct ModelSession {
    id: String,
    key: Option<Vec<u8>>,
    numbers: Vec<BigInt>,
}

struct ModelConn {
    session: Option<ModelSession>,
    /// The identity of the connection's client certificate: the only id it may START.
    identity: Option<String>,
    /// When its TLS handshake began, while it has not finished.
    handshaking_since: Option<u64>,
    /// Bytes of a split frame still to send.
    pending: Vec<u8>,
    last_request: u64,
    partial_since: Option<u64>,
}

struct Model {
    require_cipher: bool,
    now: u64,
    /// Open connections, by the test's index.
    conns: BTreeMap<usize, ModelConn>,
    active: BTreeSet<String>,
}

/// json.dumps of a str, written from the spec of ensure_ascii, one char at a time.
fn naive_dumps(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

fn error_reply(op: &str, code: ErrorCode) -> String {
    format!(r#"{{"op": {op}, "status": false, "error": {}}}"#, naive_dumps(code.message()))
}

fn model_encrypt(key: &[u8], value: i64) -> String {
    let mut block = aes::Block::clone_from_slice(format!("{value:16}").as_bytes());
    match key.len() {
        16 => aes::Aes128::new_from_slice(key).expect("16").encrypt_block(&mut block),
        24 => aes::Aes192::new_from_slice(key).expect("24").encrypt_block(&mut block),
        _ => aes::Aes256::new_from_slice(key).expect("32").encrypt_block(&mut block),
    }
    STANDARD.encode(block)
}

const FIXED_KEY: [u8; 16] = [0x11; 16];
/// Generated session keys repeat one byte, so this key is never a session's.
const WRONG_KEY: [u8; 16] = *b"not-the-key-0123";

/// The message's JSON and the key its encrypted numbers were made with.
fn render(msg: &Msg, session_key: Option<&[u8]>) -> Vec<u8> {
    let text = match msg {
        Msg::Start { id, key, extra_key } => {
            let mut members = vec![r#""op": "START""#.to_string()];
            match id {
                IdChoice::Valid(id) => members.push(format!(r#""client_id": {}"#, naive_dumps(id))),
                IdChoice::Invalid(json) => members.push(format!(r#""client_id": {json}"#)),
                IdChoice::Absent => {}
            }
            match key {
                KeyChoice::Absent => {}
                KeyChoice::Null => members.push(r#""cipher": null"#.into()),
                KeyChoice::Empty => members.push(r#""cipher": """#.into()),
                KeyChoice::Key { len, byte } => {
                    members.push(format!(r#""cipher": "{}""#, STANDARD.encode(vec![*byte; *len])))
                }
                KeyChoice::Invalid(json) => members.push(format!(r#""cipher": {json}"#)),
            }
            if *extra_key {
                members.insert(0, r#""note": {"nested": [1, 2.5, "x"]}"#.into());
            }
            format!("{{{}}}", members.join(", "))
        }
        Msg::Number { number, keys_reversed } => {
            let value = match number {
                NumChoice::Small(n) => Some(n.to_string()),
                NumChoice::Big { negative, digits } => {
                    Some(format!("{}{digits}", if *negative { "-" } else { "" }))
                }
                NumChoice::NumericString(n) => Some(format!(r#"" {n}  ""#)),
                NumChoice::Encrypted(n) => {
                    Some(format!("\"{}\"", model_encrypt(session_key.unwrap_or(&FIXED_KEY), *n)))
                }
                NumChoice::WrongKey(n) => Some(format!("\"{}\"", model_encrypt(&WRONG_KEY, *n))),
                NumChoice::Invalid(json) => Some(json.to_string()),
                NumChoice::Absent => None,
            };
            match (value, keys_reversed) {
                (Some(value), false) => format!(r#"{{"op": "NUMBER", "number": {value}}}"#),
                (Some(value), true) => format!(r#"{{"number": {value}, "op": "NUMBER"}}"#),
                (None, _) => r#"{"op": "NUMBER"}"#.into(),
            }
        }
        Msg::Stop => r#"{"op": "STOP"}"#.into(),
        Msg::Quit => r#"{"op": "QUIT"}"#.into(),
        Msg::UnknownOp(op) => format!(r#"{{"op": {}}}"#, naive_dumps(op)),
        Msg::Invalid(InvalidChoice::Json(json)) => json.to_string(),
        Msg::Invalid(InvalidChoice::Bytes(bytes)) => return frame(bytes),
    };
    frame(text.as_bytes())
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

impl Model {
    /// The number a NUMBER message carries in this session, if it is valid there.
    fn number_value(number: &NumChoice, key: Option<&[u8]>) -> Option<BigInt> {
        match (number, key) {
            (NumChoice::Small(n), None) => Some(BigInt::from(*n)),
            (NumChoice::Big { negative, digits }, None) if digits.len() <= 4300 => {
                let magnitude: BigInt = digits.parse().expect("digits");
                Some(if *negative { -magnitude } else { magnitude })
            }
            (NumChoice::NumericString(n), None) => Some(BigInt::from(*n)),
            (NumChoice::Encrypted(n), Some(_)) => Some(BigInt::from(*n)),
            _ => None,
        }
    }

    fn frame_arrived(&mut self, index: usize, msg: &Msg, seen: &mut Vec<Seen>) {
        let now = self.now;
        let require_cipher = self.require_cipher;
        let conn = self.conns.get_mut(&index).expect("the frame's connection is open");
        conn.last_request = now;
        let reply = match msg {
            Msg::Invalid(_) => error_reply("null", ErrorCode::InvalidMessage),
            Msg::UnknownOp(op) => error_reply(&naive_dumps(op), ErrorCode::UnknownOperation),
            Msg::Start { id, key, .. } => {
                let op = r#""START""#;
                let key_bytes = match key {
                    KeyChoice::Absent | KeyChoice::Null | KeyChoice::Empty => Ok(None),
                    KeyChoice::Key { len, byte } => Ok(Some(vec![*byte; *len])),
                    KeyChoice::Invalid(_) => Err(()),
                };
                let foreign = match (id, &conn.identity) {
                    (IdChoice::Valid(id), Some(identity)) => id != identity,
                    _ => false,
                };
                if conn.session.is_some() {
                    error_reply(op, ErrorCode::SessionAlreadyStarted)
                } else if !matches!(id, IdChoice::Valid(_)) {
                    error_reply(op, ErrorCode::InvalidClientId)
                } else if foreign {
                    error_reply(op, ErrorCode::ClientNotAuthorized)
                } else if key_bytes.is_err() {
                    error_reply(op, ErrorCode::InvalidKey)
                } else if require_cipher && matches!(key_bytes, Ok(None)) {
                    error_reply(op, ErrorCode::CipherRequired)
                } else {
                    let IdChoice::Valid(id) = id else { unreachable!("checked above") };
                    if self.active.contains(*id) {
                        error_reply(op, ErrorCode::ClientExists)
                    } else {
                        self.active.insert(id.to_string());
                        let key = key_bytes.unwrap_or(None);
                        conn.session = Some(ModelSession { id: id.to_string(), key, numbers: Vec::new() });
                        seen.push(Seen::Started(id.to_string()));
                        r#"{"op": "START", "status": true}"#.to_string()
                    }
                }
            }
            Msg::Number { number, .. } => match &mut conn.session {
                None => error_reply(r#""NUMBER""#, ErrorCode::ClientNotFound),
                Some(session) => match Model::number_value(number, session.key.as_deref()) {
                    Some(value) => {
                        session.numbers.push(value);
                        r#"{"op": "NUMBER", "status": true}"#.to_string()
                    }
                    None => error_reply(r#""NUMBER""#, ErrorCode::InvalidNumber),
                },
            },
            Msg::Stop => match conn.session.take() {
                None => error_reply(r#""STOP""#, ErrorCode::ClientNotFound),
                Some(session) => {
                    self.active.remove(&session.id);
                    let count = session.numbers.len() as u64;
                    match (session.numbers.iter().min(), session.numbers.iter().max()) {
                        (Some(min), Some(max)) => {
                            seen.push(Seen::Record {
                                id: session.id.clone(),
                                count,
                                min: min.to_string(),
                                max: max.to_string(),
                            });
                            let show = |n: &BigInt| match &session.key {
                                Some(key) => {
                                    let value = i64::try_from(n).expect("encrypted numbers fit");
                                    format!("\"{}\"", model_encrypt(key, value))
                                }
                                None => n.to_string(),
                            };
                            format!(
                                r#"{{"op": "STOP", "status": true, "min": {}, "max": {}}}"#,
                                show(min),
                                show(max)
                            )
                        }
                        _ => {
                            seen.push(Seen::Ended {
                                id: session.id.clone(),
                                count,
                                how: "StoppedEmpty".into(),
                            });
                            error_reply(r#""STOP""#, ErrorCode::InsufficientData)
                        }
                    }
                }
            },
            Msg::Quit => match conn.session.take() {
                None => error_reply(r#""QUIT""#, ErrorCode::ClientNotFound),
                Some(session) => {
                    self.active.remove(&session.id);
                    seen.push(Seen::Ended {
                        id: session.id,
                        count: session.numbers.len() as u64,
                        how: "Quit".into(),
                    });
                    r#"{"op": "QUIT", "status": true}"#.to_string()
                }
            },
        };
        seen.push(Seen::Reply(reply));
    }

    /// Closes a connection, ending its session with `how`.
    fn close(&mut self, index: usize, how: &str, reason: Option<&str>, seen: &mut Vec<Seen>) {
        let conn = self.conns.remove(&index).expect("closing an open connection");
        if let Some(session) = conn.session {
            self.active.remove(&session.id);
            seen.push(Seen::Ended { id: session.id, count: session.numbers.len() as u64, how: how.into() });
        }
        if let Some(reason) = reason {
            seen.push(Seen::Close(reason.into()));
        }
    }
}

// ---------------------------------------------------------------- the real server side

/// Effects with the test's connection index.
type Observed = Vec<(usize, Seen)>;

fn observe(effect: Effect) -> (ConnId, Seen) {
    match effect {
        Effect::Started { conn, client_id } => (conn, Seen::Started(client_id.to_string())),
        Effect::Reply { conn, response } => {
            let mut out = Vec::new();
            response.encode(&mut out);
            let prefix = u32::from_be_bytes(out[..4].try_into().expect("4 bytes")) as usize;
            assert_eq!(prefix, out.len() - 4, "the prefix announces the body's length");
            (conn, Seen::Reply(String::from_utf8(out[4..].to_vec()).expect("replies are ASCII")))
        }
        Effect::Record { conn, row } => (
            conn,
            Seen::Record {
                id: row.client_id.to_string(),
                count: row.count,
                min: row.min.to_string(),
                max: row.max.to_string(),
            },
        ),
        Effect::Ended { conn, session } => {
            let how = match session.how {
                SessionEnd::Closed(reason) => reason_name(reason),
                other => format!("{other:?}"),
            };
            (conn, Seen::Ended { id: session.client_id.to_string(), count: session.count, how })
        }
        Effect::Close { conn, reason } => (conn, Seen::Close(reason_name(reason))),
        // Only with a store (§10), which this model does not run: seen, they fail it.
        Effect::Claim { conn, client_id } => (conn, Seen::Claim(client_id.to_string())),
        Effect::Release { conn, client_id } => (conn, Seen::Release(client_id.to_string())),
    }
}

fn reason_name(reason: CloseReason) -> String {
    match reason {
        CloseReason::FrameTooLong { announced } => {
            assert_eq!(announced, MAX_FRAME + 1);
            "FrameTooLong".to_string()
        }
        other => format!("{other:?}"),
    }
}

struct Harness {
    server: Server,
    model: Model,
    /// The server's id of each of the test's connection indexes.
    ids: BTreeMap<usize, ConnId>,
    /// The message whose head was sent, by connection index, until its tail is.
    pending_msgs: BTreeMap<usize, Msg>,
    next_index: usize,
}

impl Harness {
    fn new(require_cipher: bool) -> Harness {
        let config = Config {
            max_frame: MAX_FRAME,
            max_connections: MAX_CONNECTIONS,
            require_cipher,
            idle_timeout: Some(Duration::from_secs(IDLE_SECS)),
            frame_timeout: Some(Duration::from_secs(FRAME_SECS)),
            shared_ids: false,
        };
        Harness {
            server: Server::new(config),
            model: Model { require_cipher, now: 0, conns: BTreeMap::new(), active: BTreeSet::new() },
            ids: BTreeMap::new(),
            pending_msgs: BTreeMap::new(),
            next_index: 0,
        }
    }

    fn now(&self) -> Timestamp {
        Timestamp::ZERO + Duration::from_secs(self.model.now)
    }

    /// The index of an open connection that may send frames, chosen by `pick`.
    fn open_conn(&self, pick: usize) -> Option<usize> {
        let open: Vec<usize> = self
            .model
            .conns
            .iter()
            .filter(|(_, conn)| conn.handshaking_since.is_none())
            .map(|(index, _)| *index)
            .collect();
        (!open.is_empty()).then(|| open[pick % open.len()])
    }

    /// The index of any open connection, chosen by `pick`.
    fn any_conn(&self, pick: usize) -> Option<usize> {
        let open: Vec<usize> = self.model.conns.keys().copied().collect();
        (!open.is_empty()).then(|| open[pick % open.len()])
    }

    /// Runs one action on both sides; returns (expected, actual) effects by connection index.
    fn step(&mut self, action: &Action) -> (Observed, Observed) {
        let mut expected: Observed = Vec::new();
        let mut effects: Vec<Effect> = Vec::new();
        let now = self.now();
        match action {
            Action::Connect | Action::ConnectTls { .. } => {
                let index = self.next_index;
                self.next_index += 1;
                let transport =
                    if matches!(action, Action::Connect) { Transport::Plain } else { Transport::Tls };
                let (id, connected) = self.server.handle_connect(now, transport);
                effects.extend(connected);
                self.ids.insert(index, id);
                let (identity, handshaking_since) = match action {
                    Action::ConnectTls { identity, stalled: false } => {
                        self.server.handle_handshake(now, id, identity.map(Into::into));
                        (identity.map(str::to_string), None)
                    }
                    Action::ConnectTls { stalled: true, .. } => (None, Some(self.model.now)),
                    _ => (None, None),
                };
                if self.model.conns.len() >= MAX_CONNECTIONS {
                    expected.push((index, Seen::Reply(error_reply("null", ErrorCode::ServerBusy))));
                    expected.push((index, Seen::Close("Busy".into())));
                } else {
                    let conn = ModelConn {
                        session: None,
                        identity,
                        handshaking_since,
                        pending: Vec::new(),
                        last_request: self.model.now,
                        partial_since: None,
                    };
                    self.model.conns.insert(index, conn);
                }
            }
            Action::Send { conn, msg } | Action::SendHead { conn, msg, .. } => {
                let Some(index) = self.open_conn(*conn) else { return (expected, Vec::new()) };
                let conn_state = self.model.conns.get_mut(&index).expect("open");
                let mut input = std::mem::take(&mut conn_state.pending);
                let mut seen = Vec::new();
                if !input.is_empty() {
                    // The split message completes first, so it is applied before this
                    // one is rendered: it may have opened the session whose key this uses.
                    let previous = self.pending_msgs.remove(&index).expect("a split message is remembered");
                    self.model.frame_arrived(index, &previous, &mut seen);
                }
                let key = self.model.conns[&index].session.as_ref().and_then(|s| s.key.clone());
                let bytes = render(msg, key.as_deref());
                let cut = match action {
                    Action::SendHead { cut, .. } => (*cut).min(bytes.len() - 1),
                    _ => bytes.len(),
                };
                input.extend_from_slice(&bytes[..cut]);
                self.model.conns.get_mut(&index).expect("open").pending = bytes[cut..].to_vec();
                let split_now = !self.model.conns[&index].pending.is_empty();
                if split_now {
                    self.pending_msgs.insert(index, msg.clone());
                    self.model.conns.get_mut(&index).expect("open").partial_since = Some(self.model.now);
                } else {
                    self.model.frame_arrived(index, msg, &mut seen);
                    self.model.conns.get_mut(&index).expect("open").partial_since = None;
                }
                expected.extend(seen.into_iter().map(|s| (index, s)));
                effects.extend(self.server.handle_input(now, self.ids[&index], &input));
            }
            Action::SendMore { conn, count } => {
                let Some(index) = self.open_conn(*conn) else { return (expected, Vec::new()) };
                let pending = &mut self.model.conns.get_mut(&index).expect("open").pending;
                let count = (*count).min(pending.len().saturating_sub(1));
                let input: Vec<u8> = pending.drain(..count).collect();
                effects.extend(self.server.handle_input(now, self.ids[&index], &input));
            }
            Action::SendTooLong { conn } => {
                let Some(index) = self.open_conn(*conn) else { return (expected, Vec::new()) };
                let mut input = std::mem::take(&mut self.model.conns.get_mut(&index).expect("open").pending);
                let mut seen = Vec::new();
                if !input.is_empty() {
                    let previous = self.pending_msgs.remove(&index).expect("remembered");
                    self.model.frame_arrived(index, &previous, &mut seen);
                }
                input.extend_from_slice(&(MAX_FRAME + 1).to_be_bytes());
                input.extend_from_slice(b"{\"op\": ");
                seen.push(Seen::Reply(error_reply("null", ErrorCode::InvalidMessage)));
                let mut closing = Vec::new();
                self.model.close(index, "FrameTooLong", Some("FrameTooLong"), &mut closing);
                seen.extend(closing);
                expected.extend(seen.into_iter().map(|s| (index, s)));
                effects.extend(self.server.handle_input(now, self.ids[&index], &input));
            }
            Action::Disconnect { conn } => {
                let Some(index) = self.any_conn(*conn) else { return (expected, Vec::new()) };
                let mut seen = Vec::new();
                self.model.close(index, "Disconnected", None, &mut seen);
                self.pending_msgs.remove(&index);
                expected.extend(seen.into_iter().map(|s| (index, s)));
                effects.extend(self.server.handle_disconnect(self.ids[&index]));
            }
            Action::Advance { secs } => {
                self.model.now += secs;
                let now_secs = self.model.now;
                let indexes: Vec<usize> = self.model.conns.keys().copied().collect();
                for index in indexes {
                    let conn = &self.model.conns[&index];
                    let handshake_expired =
                        conn.handshaking_since.is_some_and(|since| now_secs >= since + FRAME_SECS);
                    let frame_expired =
                        conn.partial_since.is_some_and(|since| now_secs >= since + FRAME_SECS);
                    let idle_expired =
                        conn.handshaking_since.is_none() && now_secs >= conn.last_request + IDLE_SECS;
                    let mut seen = Vec::new();
                    if handshake_expired {
                        self.model.close(index, "HandshakeTimeout", Some("HandshakeTimeout"), &mut seen);
                    } else if frame_expired {
                        self.model.close(index, "FrameTimeout", Some("FrameTimeout"), &mut seen);
                    } else if idle_expired {
                        self.model.close(index, "IdleTimeout", Some("IdleTimeout"), &mut seen);
                    }
                    if handshake_expired || frame_expired || idle_expired {
                        self.pending_msgs.remove(&index);
                    }
                    expected.extend(seen.into_iter().map(|s| (index, s)));
                }
                effects.extend(self.server.handle_timeout(self.now()));
            }
        }
        let by_id: BTreeMap<ConnId, usize> = self.ids.iter().map(|(index, id)| (*id, *index)).collect();
        let actual = effects.into_iter().map(observe).map(|(id, seen)| (by_id[&id], seen)).collect();
        (expected, actual)
    }
}

/// Effects of one step, grouped by connection: within a connection the order is
/// significant; across connections only timeouts produce effects in one step, and
/// their relative order is not part of the contract.
fn by_conn(effects: Observed) -> BTreeMap<usize, Vec<Seen>> {
    let mut grouped: BTreeMap<usize, Vec<Seen>> = BTreeMap::new();
    for (index, seen) in effects {
        grouped.entry(index).or_default().push(seen);
    }
    grouped
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn the_server_behaves_like_the_model(
        require_cipher in prop::bool::weighted(0.2),
        actions in prop::collection::vec(action(), 1..80),
    ) {
        let mut harness = Harness::new(require_cipher);
        // Three connections from the start, so that every case has several.
        for _ in 0..3 {
            harness.step(&Action::Connect);
        }
        for (i, action) in actions.iter().enumerate() {
            let (expected, actual) = harness.step(action);
            prop_assert_eq!(by_conn(actual), by_conn(expected), "step {}: {:?}", i, action);
            let active: BTreeSet<String> = harness.server.active_ids().map(str::to_string).collect();
            prop_assert_eq!(&active, &harness.model.active, "active ids after step {}", i);
            prop_assert_eq!(harness.server.connection_count(), harness.model.conns.len());
            for index in harness.model.conns.keys() {
                let capacity = harness.server.buffered_capacity(harness.ids[index]).expect("open on both sides");
                prop_assert!(capacity <= MAX_FRAME as usize + 4, "{} bytes buffered", capacity);
            }
        }
    }
}
