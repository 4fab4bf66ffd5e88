//! Reading replies, as the client does (PROTOCOL §7): liberally, so that minmax-client
//! works with the deployed Python servers: `minimum`/`maximum` for `min`/`max`,
//! numeric strings, plain integers in an encrypted session, any `op` echo.

use crate::cipher::Cipher;
use crate::int::Int;
use crate::pyjson;

/// A reply's `status`. Only a boolean is understood: liberal as the reading is
/// elsewhere, a missing or other status says neither that the request succeeded nor
/// that it was refused (§7: exit 3 is only `status: false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status<'a> {
    /// The reply has no `status`.
    #[default]
    Missing,
    /// `true` (the request succeeded) or `false` (it was refused).
    Bool(bool),
    /// Anything but a boolean (`"true"`, `1`, `null`), as raw JSON.
    NotBoolean(&'a str),
}

/// A reply as a client reads it: liberally, so that it works with the deployed
/// Python servers (§7).
#[derive(Debug, Default)]
pub struct Reply<'a> {
    /// `status`, as the reply has it.
    pub status: Status<'a>,
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
    pyjson::for_each_member(json, |key, value| {
        let raw = value;
        if pyjson::literal_eq(key, "status") {
            reply.status = match raw {
                "true" => Status::Bool(true),
                "false" => Status::Bool(false),
                other => Status::NotBoolean(other),
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
    use crate::ErrorCode;

    /// A raw JSON value, checked to be one, as the parser hands them out.
    fn raw(json: &str) -> &str {
        assert!(serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok(), "valid JSON: {json}");
        json
    }

    #[test]
    fn replies_are_read_liberally() {
        let reply =
            parse_reply(br#"{"op": "STOP", "status": true, "min": -3, "max": "12"}"#).expect("object");
        assert_eq!(reply.status, Status::Bool(true));
        assert_eq!(reply.min.and_then(|v| parse_reply_value(v, None)), Some(Int::from(-3)));
        assert_eq!(reply.max.and_then(|v| parse_reply_value(v, None)), Some(Int::from(12)));
        let reply =
            parse_reply(br#"{"status": true, "maximum": 9, "minimum": 1, "op": "START"}"#).expect("object");
        assert_eq!(reply.min, Some("1"));
        assert_eq!(reply.max, Some("9"));
        let reply =
            parse_reply(br#"{"op": "NUMBER", "status": false, "error": "N\u00famero inv\u00e1lido"}"#)
                .expect("object");
        assert_eq!(reply.status, Status::Bool(false));
        assert_eq!(reply.error.as_deref().and_then(ErrorCode::from_message), Some(ErrorCode::InvalidNumber));
        assert!(parse_reply(b"[]").is_none());
        assert!(parse_reply(b"\xff").is_none());
    }

    #[test]
    fn a_status_that_is_missing_or_not_a_boolean_is_told_from_a_refusal() {
        fn status(json: &str) -> Status<'_> {
            parse_reply(json.as_bytes()).expect("object").status
        }
        assert_eq!(status(r#"{"op": "START"}"#), Status::Missing);
        assert_eq!(status(r#"{"op": "START", "status": "true"}"#), Status::NotBoolean(r#""true""#));
        assert_eq!(status(r#"{"status": 1}"#), Status::NotBoolean("1"));
        assert_eq!(status(r#"{"status": null, "error": "x"}"#), Status::NotBoolean("null"));
        assert_eq!(status(r#"{"status": false}"#), Status::Bool(false));
        // The last of duplicate members counts, as in Python's json.
        assert_eq!(status(r#"{"status": "x", "status": true}"#), Status::Bool(true));
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
