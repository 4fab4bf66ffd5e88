//! Reading requests (PROTOCOL §3-§5): a frame's payload into a [`Request`], and each
//! field checked by §4's rules; and writing them, for the client, byte for byte as
//! Python's `json.dumps` writes the same dictionaries.
//!
//! Parsing goes through serde_json for validation, but member values are kept as
//! borrowed raw JSON text: integers stay exact whatever their size (they never pass
//! through `f64`), nothing is allocated on the NUMBER path, and the semantics follow
//! Python's `json.loads`: a repeated key keeps its last value, and strings may hold
//! lone surrogates.

use crate::cipher::Cipher;
use crate::int::Int;
use crate::message::{self, ErrorCode, Number, Op, OpEcho, Response};
use crate::pyjson;
use std::fmt;
use std::sync::Arc;

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
    pyjson::for_each_member(json, |key, value| match RequestField::from_literal(key) {
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
pub fn encode_number(out: &mut Vec<u8>, number: &Number) {
    crate::codec::encode_frame(out, |out| {
        out.extend_from_slice(br#"{"op": "NUMBER", "number": "#);
        message::write_number(out, number);
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
            frame_body(&|out| encode_number(out, &Number::Plain(Int::from(-7)))),
            r#"{"op": "NUMBER", "number": -7}"#
        );
        assert_eq!(frame_body(&|out| encode_bare(out, Op::Stop)), r#"{"op": "STOP"}"#);
        assert_eq!(frame_body(&|out| encode_bare(out, Op::Quit)), r#"{"op": "QUIT"}"#);
    }
}
