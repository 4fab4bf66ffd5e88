//! Reading replies, as the client does (PROTOCOL §7): liberally, so that minmax-client
//! works with the deployed Python servers: `minimum`/`maximum` for `min`/`max`,
//! numeric strings, plain integers in an encrypted session, any `op` echo.

use crate::cipher::Cipher;
use crate::int::Int;
use crate::pyjson;

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
    pyjson::for_each_member(json, |key, value| {
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
