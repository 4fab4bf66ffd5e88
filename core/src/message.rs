//! Requests and replies (PROTOCOL §3, §4): parsing what peers send, and writing what we
//! send byte for byte as Python's `json.dumps` would.
//!
//! This module is the only home of the op names and of §4's error strings.
//!
//! Parsing goes through serde_json for validation, but member values are kept as
//! borrowed raw JSON text: integers stay exact whatever their size (they never pass
//! through `f64`), nothing is allocated on the NUMBER path, and the semantics follow
//! Python's `json.loads`: a repeated key keeps its last value, and strings may hold
//! lone surrogates.

use crate::cipher::{Cipher, EncryptedNumber};
use crate::int::Int;
use crate::pyjson;
use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::sync::Arc;

/// The four operations of §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Opens a session.
    Start,
    /// Adds a number to the session.
    Number,
    /// Ends the session and asks for its minimum and maximum.
    Stop,
    /// Abandons the session.
    Quit,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 4] = [Op::Start, Op::Number, Op::Stop, Op::Quit];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Op::Start => "START",
            Op::Number => "NUMBER",
            Op::Stop => "STOP",
            Op::Quit => "QUIT",
        }
    }

    /// The operation a JSON string literal names, if any (names are case-sensitive).
    fn from_literal(literal: &str) -> Option<Op> {
        // Peers almost never escape plain ASCII, so the raw text is tried first.
        match literal {
            r#""NUMBER""# => Some(Op::Number),
            r#""START""# => Some(Op::Start),
            r#""STOP""# => Some(Op::Stop),
            r#""QUIT""# => Some(Op::Quit),
            _ if literal.contains('\\') => {
                Op::ALL.into_iter().find(|op| pyjson::literal_eq(literal, op.name()))
            }
            _ => None,
        }
    }

    /// The whole body of this operation's success reply, for every op but STOP, whose
    /// success reply carries the minimum and maximum.
    fn ok_body(self) -> &'static [u8] {
        match self {
            Op::Start => br#"{"op": "START", "status": true}"#,
            Op::Number => br#"{"op": "NUMBER", "status": true}"#,
            Op::Stop => br#"{"op": "STOP", "status": true}"#,
            Op::Quit => br#"{"op": "QUIT", "status": true}"#,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The errors of §4. [`ErrorCode::message`] holds their exact text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// START with an id that is active on some connection.
    ClientExists,
    /// NUMBER, STOP or QUIT on a connection without a session.
    ClientNotFound,
    /// STOP on a session that received no number.
    InsufficientData,
    /// Not a JSON object in UTF-8, no string `op`, or a frame over the limit.
    InvalidMessage,
    /// `op` is a string but not one of the four.
    UnknownOperation,
    /// START on a connection that already holds a session.
    SessionAlreadyStarted,
    /// START with a missing or unacceptable `client_id`.
    InvalidClientId,
    /// START with a `cipher` that is not a usable key.
    InvalidKey,
    /// NUMBER with a missing or unacceptable `number`.
    InvalidNumber,
    /// START without a key on a server that requires one.
    CipherRequired,
    /// A connection beyond the server's limit.
    ServerBusy,
    /// A STOP whose report row could not be made durable.
    ServerError,
}

impl ErrorCode {
    /// Every error code.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::ClientExists,
        ErrorCode::ClientNotFound,
        ErrorCode::InsufficientData,
        ErrorCode::InvalidMessage,
        ErrorCode::UnknownOperation,
        ErrorCode::SessionAlreadyStarted,
        ErrorCode::InvalidClientId,
        ErrorCode::InvalidKey,
        ErrorCode::InvalidNumber,
        ErrorCode::CipherRequired,
        ErrorCode::ServerBusy,
        ErrorCode::ServerError,
    ];

    /// The exact text of §4, in Portuguese as the assignment has it.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::ClientExists => "Cliente existente",
            ErrorCode::ClientNotFound => "Cliente inexistente",
            ErrorCode::InsufficientData => "Dados insuficientes",
            ErrorCode::InvalidMessage => "Mensagem inválida",
            ErrorCode::UnknownOperation => "Operação desconhecida",
            ErrorCode::SessionAlreadyStarted => "Sessão já iniciada",
            ErrorCode::InvalidClientId => "Identificador inválido",
            ErrorCode::InvalidKey => "Chave inválida",
            ErrorCode::InvalidNumber => "Número inválido",
            ErrorCode::CipherRequired => "Cifra obrigatória",
            ErrorCode::ServerBusy => "Servidor ocupado",
            ErrorCode::ServerError => "Erro do servidor",
        }
    }

    /// The code whose text is `message`, if any.
    pub fn from_message(message: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.message() == message)
    }

    /// An explanation in English for logs and for the client's user.
    pub fn explanation(self) -> &'static str {
        match self {
            ErrorCode::ClientExists => "this client id already has an active session",
            ErrorCode::ClientNotFound => "there is no active session on this connection",
            ErrorCode::InsufficientData => "the session ended without any number",
            ErrorCode::InvalidMessage => "the message is not a JSON object with a string \"op\"",
            ErrorCode::UnknownOperation => "op must be START, NUMBER, STOP or QUIT",
            ErrorCode::SessionAlreadyStarted => "this connection already holds a session",
            ErrorCode::InvalidClientId => "the client id is missing or not acceptable",
            ErrorCode::InvalidKey => "the key is not the base64 of a 16-, 24- or 32-byte AES key",
            ErrorCode::InvalidNumber => "the number is not an integer in the session's form",
            ErrorCode::CipherRequired => "this server accepts encrypted sessions only",
            ErrorCode::ServerBusy => "the server has too many connections",
            ErrorCode::ServerError => "the server could not record the result durably",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// The `"op"` a reply echoes (§3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpEcho {
    /// One of the four operations.
    Known(Op),
    /// Some other string, kept as the JSON literal Python would write for it.
    Unknown(Box<str>),
    /// The request had no string `op`.
    Null,
}

/// A number in a reply: plain, or encrypted for an encrypted session (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A plain integer, written as a JSON integer.
    Plain(Int),
    /// An encrypted integer, written as a JSON string.
    Encrypted(EncryptedNumber),
}

/// A reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// START, NUMBER or QUIT succeeded.
    Ok(Op),
    /// STOP succeeded.
    Stopped {
        /// The session's minimum.
        min: Value,
        /// The session's maximum.
        max: Value,
    },
    /// The request failed.
    Error {
        /// The request's op, echoed.
        op: OpEcho,
        /// What was wrong.
        error: ErrorCode,
    },
}

impl Response {
    /// A failure reply to a request whose op was recognised.
    pub fn error(op: Op, error: ErrorCode) -> Response {
        Response::Error { op: OpEcho::Known(op), error }
    }

    /// The reply to a STOP whose row could not be made durable (§6).
    pub fn stop_not_durable() -> Response {
        Response::error(Op::Stop, ErrorCode::ServerError)
    }

    /// The reply to a connection beyond `--max-connections`.
    pub fn busy() -> Response {
        Response::Error { op: OpEcho::Null, error: ErrorCode::ServerBusy }
    }

    /// The error code, for a failure reply.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Response::Error { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// Appends the whole frame (prefix and JSON body) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        crate::codec::encode_frame(out, |out| self.write_json(out));
    }

    /// Appends the JSON body, as `json.dumps` writes the same dictionary.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Response::Ok(op) => out.extend_from_slice(op.ok_body()),
            Response::Stopped { min, max } => {
                out.extend_from_slice(br#"{"op": "STOP", "status": true, "min": "#);
                write_value(out, min);
                out.extend_from_slice(br#", "max": "#);
                write_value(out, max);
                out.push(b'}');
            }
            Response::Error { op, error } => {
                out.extend_from_slice(br#"{"op": "#);
                match op {
                    OpEcho::Known(op) => pyjson::write_str(out, op.name()),
                    OpEcho::Unknown(literal) => out.extend_from_slice(literal.as_bytes()),
                    OpEcho::Null => out.extend_from_slice(b"null"),
                }
                out.extend_from_slice(br#", "status": false, "error": "#);
                pyjson::write_str(out, error.message());
                out.push(b'}');
            }
        }
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Plain(int) => int.write_decimal(out),
        Value::Encrypted(text) => pyjson::write_str(out, text.as_str()),
    }
}

/// A request whose JSON and op are valid; its fields are still raw JSON, because
/// which of them matter, and in which order they are checked, depends on the session
/// (§4's check order).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The operation.
    pub op: Op,
    /// `client_id`, as raw JSON, if present.
    pub client_id: Option<&'a str>,
    /// `cipher`, as raw JSON, if present.
    pub cipher: Option<&'a str>,
    /// `number`, as raw JSON, if present.
    pub number: Option<&'a str>,
}

/// Parses a frame's payload into a request, or the failure reply of step 1 of §4's
/// check order (`Mensagem inválida` or `Operação desconhecida`).
pub fn parse_request(payload: &[u8]) -> Result<Request<'_>, Response> {
    if let Some(number) = canonical_number(payload) {
        return Ok(Request { op: Op::Number, client_id: None, cipher: None, number: Some(number) });
    }
    let invalid = || Response::Error { op: OpEcho::Null, error: ErrorCode::InvalidMessage };
    let json = std::str::from_utf8(payload).map_err(|_| invalid())?;
    let mut op = None;
    let mut client_id = None;
    let mut cipher = None;
    let mut number = None;
    for_each_member(json, |key, value| match RequestField::from_literal(key) {
        Some(RequestField::Op) => op = Some(value),
        Some(RequestField::Number) => number = Some(value),
        Some(RequestField::ClientId) => client_id = Some(value),
        Some(RequestField::Cipher) => cipher = Some(value),
        None => {}
    })
    .map_err(|_| invalid())?;
    let op_literal = op.filter(|raw: &&str| pyjson::is_string_literal(raw));
    let Some(op_literal) = op_literal else {
        return Err(invalid());
    };
    let Some(op) = Op::from_literal(op_literal) else {
        let mut echo = Vec::with_capacity(op_literal.len());
        pyjson::write_literal(&mut echo, op_literal);
        let echo = String::from_utf8(echo).expect("ensure_ascii output is ASCII");
        return Err(Response::Error {
            op: OpEcho::Unknown(echo.into_boxed_str()),
            error: ErrorCode::UnknownOperation,
        });
    };
    Ok(Request { op, client_id, cipher, number })
}

/// The NUMBER request exactly as `json.dumps` writes it: nearly every frame a server
/// reads.
const CANONICAL_NUMBER: &[u8] = br#"{"op": "NUMBER", "number": "#;

/// The raw `number` of a frame that is byte for byte a canonical NUMBER request whose
/// value is a JSON integer or a string without escapes: the answer the general parser
/// gives for it, without its cost. Anything else (other spacing, other keys, a
/// fraction, an escape, a malformed number) returns `None` and takes the general path,
/// so that no frame is judged differently (tests/properties checks this on every
/// input the fuzzer and proptest make).
pub fn canonical_number(payload: &[u8]) -> Option<&str> {
    let value = payload.strip_prefix(CANONICAL_NUMBER)?.strip_suffix(b"}")?;
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    let is_integer = match digits {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    let is_plain_string = match value {
        [b'"', inner @ .., b'"'] => {
            inner.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        }
        _ => false,
    };
    if is_integer || is_plain_string {
        // Checked above: printable ASCII only.
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// The request members the server reads; every other key is ignored (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestField {
    Op,
    ClientId,
    Cipher,
    Number,
}

impl RequestField {
    const ALL: [(RequestField, &'static str); 4] = [
        (RequestField::Op, "op"),
        (RequestField::ClientId, "client_id"),
        (RequestField::Cipher, "cipher"),
        (RequestField::Number, "number"),
    ];

    fn from_literal(key: &str) -> Option<RequestField> {
        match key {
            r#""op""# => Some(RequestField::Op),
            r#""number""# => Some(RequestField::Number),
            r#""client_id""# => Some(RequestField::ClientId),
            r#""cipher""# => Some(RequestField::Cipher),
            _ if key.contains('\\') => RequestField::ALL
                .into_iter()
                .find(|(_, name)| pyjson::literal_eq(key, name))
                .map(|(field, _)| field),
            _ => None,
        }
    }
}

/// A JSON text that is not an object, or not valid JSON.
#[derive(Debug)]
pub struct NotAnObject;

/// Calls `on_member` with the raw key and raw value of each member of the JSON object
/// `json`, in order. Keys stay raw so that Python-legal keys serde cannot represent
/// (lone surrogates) are still accepted and simply match nothing.
pub fn for_each_member<'a>(
    json: &'a str,
    on_member: impl FnMut(&'a str, &'a str),
) -> Result<(), NotAnObject> {
    struct Members<F>(F);

    impl<'de, F: FnMut(&'de str, &'de str)> Visitor<'de> for Members<F> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<&'de RawValue>()? {
                let value = map.next_value::<&'de RawValue>()?;
                (self.0)(key.get(), value.get());
            }
            Ok(())
        }
    }

    let mut deserializer = serde_json::Deserializer::from_str(json);
    deserializer.deserialize_map(Members(on_member)).map_err(|_| NotAnObject)?;
    deserializer.end().map_err(|_| NotAnObject)
}

/// Why a client id is refused (§4, `Identificador inválido`). The client checks its
/// own id with the same rules before connecting (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIdError {
    /// `client_id` is absent or not a JSON string.
    Missing,
    /// The string holds a lone surrogate, so it is not text that can be written to the report.
    NotText,
    /// The empty string.
    Empty,
    /// Longer than [`MAX_CLIENT_ID_BYTES`] bytes of UTF-8.
    TooLong(usize),
    /// A control character (Unicode category Cc: tabs, line ends, DEL...).
    ControlCharacter,
    /// Starts with a character that opens a formula in a spreadsheet.
    FormulaStart(char),
}

/// The longest client id, in bytes of UTF-8.
pub const MAX_CLIENT_ID_BYTES: usize = 64;

impl fmt::Display for ClientIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientIdError::Missing => f.write_str("no client id string was given"),
            ClientIdError::NotText => f.write_str("the client id is not valid Unicode text"),
            ClientIdError::Empty => f.write_str("the client id is empty"),
            ClientIdError::TooLong(len) => write!(
                f,
                "the client id is {len} bytes long; at most {MAX_CLIENT_ID_BYTES} bytes of UTF-8 are allowed"
            ),
            ClientIdError::ControlCharacter => {
                f.write_str("the client id holds a control character (tab, line end or similar)")
            }
            ClientIdError::FormulaStart(c) => write!(
                f,
                "the client id starts with {c:?}; it must not start with '=', '+', '-' or '@', \
                 which open a formula when report.csv is opened in a spreadsheet"
            ),
        }
    }
}

/// Checks a client id against the rules of §4.
pub fn check_client_id(id: &str) -> Result<(), ClientIdError> {
    let Some(first) = id.chars().next() else {
        return Err(ClientIdError::Empty);
    };
    if id.len() > MAX_CLIENT_ID_BYTES {
        return Err(ClientIdError::TooLong(id.len()));
    }
    if id.chars().any(char::is_control) {
        return Err(ClientIdError::ControlCharacter);
    }
    if matches!(first, '=' | '+' | '-' | '@') {
        return Err(ClientIdError::FormulaStart(first));
    }
    Ok(())
}

/// Reads and checks START's `client_id` field.
pub fn parse_client_id(raw: Option<&str>) -> Result<Arc<str>, ClientIdError> {
    let literal = raw.filter(|raw| pyjson::is_string_literal(raw));
    let literal = literal.ok_or(ClientIdError::Missing)?;
    let id = pyjson::literal_to_string(literal).ok_or(ClientIdError::NotText)?;
    check_client_id(&id)?;
    Ok(Arc::from(id.as_ref()))
}

/// Reads START's `cipher` field: `Ok(None)` for plain mode (absent, `null` or `""`).
pub fn parse_cipher(raw: Option<&str>) -> Result<Option<Cipher>, ErrorCode> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw == "null" {
        return Ok(None);
    }
    if !pyjson::is_string_literal(raw) {
        return Err(ErrorCode::InvalidKey);
    }
    let text = pyjson::literal_to_string(raw).ok_or(ErrorCode::InvalidKey)?;
    if text.is_empty() {
        return Ok(None);
    }
    Cipher::from_base64(&text).map(Some).map_err(|_| ErrorCode::InvalidKey)
}

/// Reads NUMBER's `number` field (§5): in plain mode a JSON integer or a numeric
/// string, in an encrypted session the encrypted string only.
pub fn parse_number(raw: Option<&str>, cipher: Option<&Cipher>) -> Result<Int, ErrorCode> {
    let invalid = ErrorCode::InvalidNumber;
    let raw = raw.ok_or(invalid)?;
    match (raw.as_bytes().first(), cipher) {
        (Some(b'"'), Some(cipher)) => {
            let text = pyjson::literal_to_string(raw).ok_or(invalid)?;
            cipher.decrypt(&text).map(Int::from).map_err(|_| invalid)
        }
        (Some(b'"'), None) => {
            let text = pyjson::literal_to_string(raw).ok_or(invalid)?;
            Int::parse_padded(&text).map_err(|_| invalid)
        }
        // A JSON number: an integer unless it has a fraction or an exponent, which
        // make it a float in Python (1.0, 1e3, 1E400).
        (Some(b'-' | b'0'..=b'9'), None) => Int::parse(raw).map_err(|_| invalid),
        _ => Err(invalid),
    }
}

/// Appends the frame of a START request, as `json.dumps` writes it (§3). The key is
/// always present, `null` in plain mode, as several deployed servers require it.
pub fn encode_start(out: &mut Vec<u8>, client_id: &str, key_base64: Option<&str>) {
    crate::codec::encode_frame(out, |out| {
        out.extend_from_slice(br#"{"op": "START", "client_id": "#);
        pyjson::write_str(out, client_id);
        out.extend_from_slice(br#", "cipher": "#);
        match key_base64 {
            Some(key) => pyjson::write_str(out, key),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    });
}

/// Appends the frame of a NUMBER request.
pub fn encode_number(out: &mut Vec<u8>, number: &Value) {
    crate::codec::encode_frame(out, |out| {
        out.extend_from_slice(br#"{"op": "NUMBER", "number": "#);
        write_value(out, number);
        out.push(b'}');
    });
}

/// Appends the frame of a request with no field but `op` (STOP, QUIT).
pub fn encode_bare(out: &mut Vec<u8>, op: Op) {
    crate::codec::encode_frame(out, |out| {
        out.extend_from_slice(br#"{"op": "#);
        pyjson::write_str(out, op.name());
        out.push(b'}');
    });
}

/// A reply as a client reads it: liberally, so that it works with the deployed
/// Python servers (§7).
#[derive(Debug, Default)]
pub struct Reply<'a> {
    /// `status`, when it is a boolean.
    pub status: Option<bool>,
    /// `error`, when it is a string without lone surrogates.
    pub error: Option<String>,
    /// `min`, or `minimum`, as raw JSON.
    pub min: Option<&'a str>,
    /// `max`, or `maximum`, as raw JSON.
    pub max: Option<&'a str>,
}

/// Parses a reply frame; `None` when it is not a JSON object.
pub fn parse_reply(payload: &[u8]) -> Option<Reply<'_>> {
    let json = std::str::from_utf8(payload).ok()?;
    let mut reply = Reply::default();
    // `min` wins over `minimum` when a server sends both, whatever their order.
    let (mut minimum, mut maximum) = (None, None);
    for_each_member(json, |key, value| {
        let raw = value;
        if pyjson::literal_eq(key, "status") {
            reply.status = match raw {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
        } else if pyjson::literal_eq(key, "error") {
            reply.error = pyjson::is_string_literal(raw)
                .then(|| pyjson::literal_to_string(raw).map(|text| text.into_owned()))
                .flatten();
        } else if pyjson::literal_eq(key, "min") {
            reply.min = Some(value);
        } else if pyjson::literal_eq(key, "max") {
            reply.max = Some(value);
        } else if pyjson::literal_eq(key, "minimum") {
            minimum = Some(value);
        } else if pyjson::literal_eq(key, "maximum") {
            maximum = Some(value);
        }
    })
    .ok()?;
    reply.min = reply.min.or(minimum);
    reply.max = reply.max.or(maximum);
    Some(reply)
}

/// Reads a `min` or `max` from a STOP reply, liberally (§7): a JSON integer, a numeric
/// string, or, in an encrypted session, an encrypted string.
pub fn parse_reply_value(raw: &str, cipher: Option<&Cipher>) -> Option<Int> {
    if !pyjson::is_string_literal(raw) {
        return Int::parse(raw).ok();
    }
    let text = pyjson::literal_to_string(raw)?;
    if let Some(value) = cipher.and_then(|cipher| cipher.decrypt(&text).ok()) {
        return Some(Int::from(value));
    }
    Int::parse_padded(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response) -> String {
        let mut out = Vec::new();
        response.write_json(&mut out);
        String::from_utf8(out).expect("replies are ASCII")
    }

    fn parse(json: &str) -> Result<Request<'_>, Response> {
        parse_request(json.as_bytes())
    }

    fn parse_error(json: &str) -> Response {
        match parse(json) {
            Ok(request) => panic!("{json} parsed as {request:?}"),
            Err(response) => response,
        }
    }

    const INVALID: Response = Response::Error { op: OpEcho::Null, error: ErrorCode::InvalidMessage };

    // Each expected body below is what CPython 3.11's json.dumps prints for the same
    // dictionary (checked again against Python itself by interop/).
    #[test]
    fn success_replies_are_byte_exact() {
        assert_eq!(body(&Response::Ok(Op::Start)), r#"{"op": "START", "status": true}"#);
        assert_eq!(body(&Response::Ok(Op::Number)), r#"{"op": "NUMBER", "status": true}"#);
        assert_eq!(body(&Response::Ok(Op::Quit)), r#"{"op": "QUIT", "status": true}"#);
        let stopped = Response::Stopped {
            min: Value::Plain(Int::from(-3)),
            max: Value::Plain(Int::parse("100000000000000000000").expect("integer")),
        };
        assert_eq!(
            body(&stopped),
            r#"{"op": "STOP", "status": true, "min": -3, "max": 100000000000000000000}"#
        );
    }

    #[test]
    fn encrypted_stop_reply_carries_strings() {
        let cipher = Cipher::from_key(&[1; 16]).expect("key");
        let min = cipher.encrypt(-3).expect("in range");
        let max = cipher.encrypt(12).expect("in range");
        let reply = Response::Stopped { min: Value::Encrypted(min), max: Value::Encrypted(max) };
        assert_eq!(
            body(&reply),
            format!(
                r#"{{"op": "STOP", "status": true, "min": "{}", "max": "{}"}}"#,
                min.as_str(),
                max.as_str()
            )
        );
    }

    #[test]
    fn every_error_reply_is_byte_exact() {
        let expected = [
            (ErrorCode::ClientExists, r#""Cliente existente""#),
            (ErrorCode::ClientNotFound, r#""Cliente inexistente""#),
            (ErrorCode::InsufficientData, r#""Dados insuficientes""#),
            (ErrorCode::InvalidMessage, r#""Mensagem inv\u00e1lida""#),
            (ErrorCode::UnknownOperation, r#""Opera\u00e7\u00e3o desconhecida""#),
            (ErrorCode::SessionAlreadyStarted, r#""Sess\u00e3o j\u00e1 iniciada""#),
            (ErrorCode::InvalidClientId, r#""Identificador inv\u00e1lido""#),
            (ErrorCode::InvalidKey, r#""Chave inv\u00e1lida""#),
            (ErrorCode::InvalidNumber, r#""N\u00famero inv\u00e1lido""#),
            (ErrorCode::CipherRequired, r#""Cifra obrigat\u00f3ria""#),
            (ErrorCode::ServerBusy, r#""Servidor ocupado""#),
            (ErrorCode::ServerError, r#""Erro do servidor""#),
        ];
        assert_eq!(expected.len(), ErrorCode::ALL.len());
        for (code, error) in expected {
            let reply = Response::error(Op::Stop, code);
            assert_eq!(body(&reply), format!(r#"{{"op": "STOP", "status": false, "error": {error}}}"#));
            assert_eq!(ErrorCode::from_message(code.message()), Some(code));
        }
        assert_eq!(body(&Response::busy()), r#"{"op": null, "status": false, "error": "Servidor ocupado"}"#);
    }

    #[test]
    fn frames_carry_the_length_prefix() {
        let mut out = Vec::new();
        Response::Ok(Op::Number).encode(&mut out);
        assert_eq!(&out[..4], &32u32.to_be_bytes());
        assert_eq!(&out[4..], br#"{"op": "NUMBER", "status": true}"#);
    }

    #[test]
    fn requests_parse_with_their_fields() {
        let request = parse(r#"{"op": "START", "client_id": "anton", "cipher": null}"#).expect("valid");
        assert_eq!(request.op, Op::Start);
        assert_eq!(request.client_id, Some(r#""anton""#));
        assert_eq!(request.cipher, Some("null"));
        let request = parse(r#"{"number": 12, "op": "NUMBER", "extra": [1, {"a": 2}]}"#).expect("valid");
        assert_eq!(request.op, Op::Number);
        assert_eq!(request.number, Some("12"));
        assert_eq!(parse(r#"  {"op":"QUIT"}  "#).expect("valid").op, Op::Quit);
    }

    #[test]
    fn the_canonical_number_shortcut_takes_only_what_it_can_judge() {
        for (frame, number) in [
            (r#"{"op": "NUMBER", "number": 5}"#, "5"),
            (r#"{"op": "NUMBER", "number": -0}"#, "-0"),
            (
                r#"{"op": "NUMBER", "number": 123456789012345678901234567890}"#,
                "123456789012345678901234567890",
            ),
            (r#"{"op": "NUMBER", "number": "AAAA/+==,}"}"#, r#""AAAA/+==,}""#),
        ] {
            assert_eq!(canonical_number(frame.as_bytes()), Some(number), "{frame}");
            let general = parse(frame).expect("valid");
            assert_eq!((general.op, general.number), (Op::Number, Some(number)));
        }
        for frame in [
            r#"{"op": "NUMBER", "number": 05}"#,
            r#"{"op": "NUMBER", "number": 1.5}"#,
            r#"{"op": "NUMBER", "number": 1e3}"#,
            r#"{"op": "NUMBER", "number": -}"#,
            r#"{"op": "NUMBER", "number": }"#,
            r#"{"op": "NUMBER", "number": "a\u0041"}"#,
            r#"{"op": "NUMBER", "number": "a"b"}"#,
            r#"{"op": "NUMBER", "number": 5 }"#,
            r#"{"op": "NUMBER", "number": 5, "op": "STOP"}"#,
            r#"{"op": "NUMBER", "number": true}"#,
            r#"{"op":"NUMBER","number":5}"#,
        ] {
            assert_eq!(canonical_number(frame.as_bytes()), None, "{frame}");
        }
        assert_eq!(canonical_number(b"{\"op\": \"NUMBER\", \"number\": \"\xc3\xa9\"}"), None);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_in_python() {
        assert_eq!(parse(r#"{"op": "START", "op": "STOP"}"#).expect("valid").op, Op::Stop);
        let request = parse(r#"{"op": "NUMBER", "number": 1, "number": 2}"#).expect("valid");
        assert_eq!(request.number, Some("2"));
    }

    #[test]
    fn escaped_keys_and_ops_are_decoded() {
        assert_eq!(parse(r#"{"\u006fp": "\u0053TOP"}"#).expect("valid").op, Op::Stop);
        // A key with a lone surrogate is legal JSON for Python; it just matches nothing.
        assert_eq!(parse(r#"{"\ud800": 1, "op": "QUIT"}"#).expect("valid").op, Op::Quit);
    }

    #[test]
    fn what_is_not_a_json_object_with_a_string_op_is_an_invalid_message() {
        for json in [
            "",
            "   ",
            "[]",
            "[1, 2]",
            "\"op\"",
            "42",
            "null",
            "{",
            "{\"op\": \"QUIT\"",
            "{\"op\": \"QUIT\"} x",
            "{\"op\": 'QUIT'}",
            "{op: \"QUIT\"}",
            "{}",
            "{\"op\": null}",
            "{\"op\": 1}",
            "{\"op\": 1E400}",
            "{\"op\": [\"QUIT\"]}",
            "{\"op\": \"QUIT\",}",
            "{\"op\": NaN}",
            "\u{feff}{\"op\": \"QUIT\"}",
            "{\"op\": \"QUIT\", \"x\": \"\u{1}\"}",
        ] {
            assert_eq!(parse_error(json), INVALID, "{json:?}");
        }
        assert_eq!(parse_request(b"{\"op\": \"QUIT\", \"x\": \"\xff\"}").err(), Some(INVALID));
        assert_eq!(parse_request(b"{\"op\": \"QUIT\"}\xc3").err(), Some(INVALID));
    }

    #[test]
    fn a_valid_frame_is_never_invalid_because_of_a_number_inside_it() {
        let huge = "9".repeat(5000);
        let json = format!(r#"{{"op": "NUMBER", "number": 1E400, "other": {huge}, "x": -{huge}.5e-99999}}"#);
        assert_eq!(parse(&json).expect("valid JSON").op, Op::Number);
        let deep = format!("{{\"op\": \"STOP\", \"deep\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse(&deep).expect("valid JSON").op, Op::Stop);
    }

    #[test]
    fn unknown_ops_are_echoed_as_python_writes_them() {
        assert_eq!(
            parse_error(r#"{"op": "start"}"#),
            Response::Error { op: OpEcho::Unknown(r#""start""#.into()), error: ErrorCode::UnknownOperation }
        );
        let reply = parse_error("{\"op\": \"Opera\u{e7}\u{e3}o\\/\\ud800\"}");
        assert_eq!(
            body(&reply),
            r#"{"op": "Opera\u00e7\u00e3o/\ud800", "status": false, "error": "Opera\u00e7\u00e3o desconhecida"}"#
        );
        assert_eq!(
            body(&parse_error(r#"{"op": ""}"#)),
            r#"{"op": "", "status": false, "error": "Opera\u00e7\u00e3o desconhecida"}"#
        );
    }

    /// A raw JSON value, checked to be one, as the parser hands them out.
    fn raw(json: &str) -> &str {
        assert!(serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok(), "valid JSON: {json}");
        json
    }

    #[test]
    fn client_ids_follow_section_4() {
        let ok = |json: &str| parse_client_id(Some(raw(json))).map(|id| id.to_string());
        assert_eq!(ok(r#""anton""#), Ok("anton".into()));
        assert_eq!(ok(r#""Jos\u00e9 Mar\u00eda, \"o\" 1""#), Ok("José María, \"o\" 1".into()));
        assert_eq!(ok(&format!("\"{}\"", "é".repeat(32))).map(|id| id.len()), Ok(64));
        assert_eq!(ok(&format!("\"{}x\"", "é".repeat(32))), Err(ClientIdError::TooLong(65)));
        assert_eq!(ok(r#""""#), Err(ClientIdError::Empty));
        assert_eq!(ok(r#""a\tb""#), Err(ClientIdError::ControlCharacter));
        assert_eq!(ok(r#""a\u007f""#), Err(ClientIdError::ControlCharacter));
        assert_eq!(ok(r#""a\u0085""#), Err(ClientIdError::ControlCharacter));
        assert_eq!(ok(r#""\ud800""#), Err(ClientIdError::NotText));
        for start in ["=", "+", "-", "@"] {
            assert!(matches!(ok(&format!("\"{start}SUM(A1)\"")), Err(ClientIdError::FormulaStart(_))));
        }
        assert_eq!(ok("5"), Err(ClientIdError::Missing));
        assert_eq!(ok("null"), Err(ClientIdError::Missing));
        assert_eq!(parse_client_id(None).err(), Some(ClientIdError::Missing));
        assert!(check_client_id("a=b+c-d@e").is_ok(), "only the first character matters");
    }

    #[test]
    fn cipher_field_accepts_absent_null_empty_and_aes_keys() {
        let field =
            |json: Option<&str>| parse_cipher(json.map(raw)).map(|cipher| cipher.map(|c| format!("{c:?}")));
        assert_eq!(field(None), Ok(None));
        assert_eq!(field(Some("null")), Ok(None));
        assert_eq!(field(Some(r#""""#)), Ok(None));
        assert_eq!(field(Some(r#""AAAAAAAAAAAAAAAAAAAAAA==""#)), Ok(Some("Cipher(AES-128)".into())));
        assert_eq!(field(Some(r#""AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA""#)), Ok(Some("Cipher(AES-192)".into())));
        for bad in [r#""AAAA""#, r#""not base64""#, "16", "true", "{}", "[]", r#""\ud800""#] {
            assert_eq!(field(Some(bad)), Err(ErrorCode::InvalidKey), "{bad}");
        }
    }

    #[test]
    fn plain_numbers_are_integers_or_numeric_strings() {
        let number = |json: &str| parse_number(Some(raw(json)), None).map(|n| n.to_string());
        assert_eq!(number("5"), Ok("5".into()));
        assert_eq!(number("-0"), Ok("0".into()));
        assert_eq!(number("100000000000000000000"), Ok("100000000000000000000".into()));
        assert_eq!(number(r#""5""#), Ok("5".into()));
        assert_eq!(number(r#"" -12 ""#), Ok("-12".into()));
        assert_eq!(number(r#""+7""#), Ok("7".into()));
        assert_eq!(number(&"9".repeat(4300)).map(|n| n.len()), Ok(4300));
        for bad in [
            "1.0",
            "1e3",
            "1E400",
            "-0.0",
            "true",
            "null",
            "[5]",
            "{}",
            r#""5.0""#,
            r#""five""#,
            r#""""#,
            r#""1_000""#,
            r#""0x10""#,
        ] {
            assert_eq!(number(bad), Err(ErrorCode::InvalidNumber), "{bad}");
        }
        assert_eq!(number(&"9".repeat(4301)), Err(ErrorCode::InvalidNumber));
        assert_eq!(parse_number(None, None), Err(ErrorCode::InvalidNumber));
    }

    #[test]
    fn encrypted_sessions_take_encrypted_strings_only() {
        let cipher = Cipher::from_key(&[9; 16]).expect("key");
        let number = |json: &str| parse_number(Some(raw(json)), Some(&cipher));
        let five = cipher.encrypt(5).expect("in range");
        assert_eq!(number(&format!("\"{}\"", five.as_str())), Ok(Int::from(5)));
        // base64 may legally arrive with an escaped slash.
        let escaped = format!("\"{}\"", five.as_str().replace('/', "\\/"));
        assert_eq!(number(&escaped), Ok(Int::from(5)));
        assert_eq!(number("5"), Err(ErrorCode::InvalidNumber));
        assert_eq!(number(r#""5""#), Err(ErrorCode::InvalidNumber));
        assert_eq!(number(r#""AAAAAAAAAAAAAAAAAAAAAA==""#), Err(ErrorCode::InvalidNumber));
    }

    #[test]
    fn requests_are_encoded_as_python_writes_them() {
        let frame_body = |write: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            write(&mut out);
            String::from_utf8(out[4..].to_vec()).expect("ASCII")
        };
        assert_eq!(
            frame_body(&|out| encode_start(out, "anton", None)),
            r#"{"op": "START", "client_id": "anton", "cipher": null}"#
        );
        assert_eq!(
            frame_body(&|out| encode_start(out, "Zé", Some("AAAAAAAAAAAAAAAAAAAAAA=="))),
            r#"{"op": "START", "client_id": "Z\u00e9", "cipher": "AAAAAAAAAAAAAAAAAAAAAA=="}"#
        );
        assert_eq!(
            frame_body(&|out| encode_number(out, &Value::Plain(Int::from(-7)))),
            r#"{"op": "NUMBER", "number": -7}"#
        );
        assert_eq!(frame_body(&|out| encode_bare(out, Op::Stop)), r#"{"op": "STOP"}"#);
        assert_eq!(frame_body(&|out| encode_bare(out, Op::Quit)), r#"{"op": "QUIT"}"#);
    }

    #[test]
    fn replies_are_read_liberally() {
        let reply =
            parse_reply(br#"{"op": "STOP", "status": true, "min": -3, "max": "12"}"#).expect("object");
        assert_eq!(reply.status, Some(true));
        assert_eq!(reply.min.and_then(|v| parse_reply_value(v, None)), Some(Int::from(-3)));
        assert_eq!(reply.max.and_then(|v| parse_reply_value(v, None)), Some(Int::from(12)));
        let reply =
            parse_reply(br#"{"status": true, "maximum": 9, "minimum": 1, "op": "START"}"#).expect("object");
        assert_eq!(reply.min, Some("1"));
        assert_eq!(reply.max, Some("9"));
        let reply =
            parse_reply(br#"{"op": "NUMBER", "status": false, "error": "N\u00famero inv\u00e1lido"}"#)
                .expect("object");
        assert_eq!(reply.status, Some(false));
        assert_eq!(reply.error.as_deref().and_then(ErrorCode::from_message), Some(ErrorCode::InvalidNumber));
        assert!(parse_reply(b"[]").is_none());
        assert!(parse_reply(b"\xff").is_none());
        assert_eq!(parse_reply(br#"{"status": "yes"}"#).expect("object").status, None);
    }

    #[test]
    fn reply_values_may_be_encrypted_in_an_encrypted_session() {
        let cipher = Cipher::from_key(&[3; 32]).expect("key");
        let encrypted = format!("\"{}\"", cipher.encrypt(-40).expect("in range").as_str());
        assert_eq!(parse_reply_value(raw(&encrypted), Some(&cipher)), Some(Int::from(-40)));
        assert_eq!(parse_reply_value(raw(&encrypted), None), None);
        assert_eq!(parse_reply_value(raw("7"), Some(&cipher)), Some(Int::from(7)));
        assert_eq!(parse_reply_value(raw("7.5"), None), None);
    }
}
