//! JSON strings as Python's `json` module reads and writes them (PROTOCOL §1).
//!
//! Python strings are sequences of code points that may include lone surrogates
//! (`json.loads('"\\ud800"')` succeeds), and `json.dumps` with its default
//! `ensure_ascii=True` writes every character outside printable ASCII as `\uXXXX`
//! escapes of its UTF-16 code units, in lowercase hex. Working on UTF-16 code units
//! therefore reproduces Python byte for byte, lone surrogates included, which a Rust
//! `String` could not hold.

use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Appends `text` as a JSON string exactly as `json.dumps` writes it.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    if text.bytes().all(is_plain) {
        out.extend_from_slice(text.as_bytes());
    } else {
        for unit in text.encode_utf16() {
            write_unit(out, unit);
        }
    }
    out.push(b'"');
}

/// Appends a JSON string literal received from a peer (quotes included, already
/// validated as JSON) the way Python would write back the string it decodes to.
pub fn write_literal(out: &mut Vec<u8>, literal: &str) {
    out.push(b'"');
    for unit in Units::new(literal) {
        write_unit(out, unit);
    }
    out.push(b'"');
}

/// Whether a JSON string literal decodes to exactly `expected`.
pub fn literal_eq(literal: &str, expected: &str) -> bool {
    match content(literal) {
        // The fast path: no escape, so the content is the string itself.
        Some(inner) if !inner.contains('\\') => inner == expected,
        _ => Units::new(literal).eq(expected.encode_utf16()),
    }
}

/// The string a JSON string literal decodes to, or `None` when it holds a lone
/// surrogate (valid JSON, and a valid Python string, but not Unicode text).
pub fn literal_to_string(literal: &str) -> Option<Cow<'_, str>> {
    let inner = content(literal)?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let units: Vec<u16> = Units::new(literal).collect();
    String::from_utf16(&units).ok().map(Cow::Owned)
}

/// Whether a raw JSON value is a string literal.
pub fn is_string_literal(raw: &str) -> bool {
    raw.starts_with('"')
}

/// The text between the quotes of a string literal.
fn content(literal: &str) -> Option<&str> {
    literal.strip_prefix('"')?.strip_suffix('"')
}

/// Printable ASCII that Python writes as itself.
fn is_plain(byte: u8) -> bool {
    (0x20..=0x7e).contains(&byte) && byte != b'"' && byte != b'\\'
}

fn write_unit(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match unit {
        0x22 => out.extend_from_slice(b"\\\""),
        0x5c => out.extend_from_slice(b"\\\\"),
        0x0a => out.extend_from_slice(b"\\n"),
        0x0d => out.extend_from_slice(b"\\r"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        0x20..=0x7e => out.push(unit as u8),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            HEX[usize::from(unit >> 12)],
            HEX[usize::from((unit >> 8) & 0xf)],
            HEX[usize::from((unit >> 4) & 0xf)],
            HEX[usize::from(unit & 0xf)],
        ]),
    }
}

/// The UTF-16 code units a JSON string literal decodes to.
///
/// The literal is expected to be valid JSON (the frame was parsed by serde_json
/// first); a malformed escape decodes to U+FFFD rather than failing, so that no input
/// can make this panic.
struct Units<'a> {
    chars: std::str::Chars<'a>,
    /// The low surrogate of a character outside the BMP, still to be yielded.
    pending: Option<u16>,
}

impl<'a> Units<'a> {
    fn new(literal: &'a str) -> Units<'a> {
        let inner = content(literal).unwrap_or("");
        Units { chars: inner.chars(), pending: None }
    }

    fn hex4(&mut self) -> Option<u16> {
        let mut value = 0u16;
        for _ in 0..4 {
            let digit = self.chars.next()?.to_digit(16)?;
            value = value << 4 | digit as u16;
        }
        Some(value)
    }
}

impl Iterator for Units<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if let Some(unit) = self.pending.take() {
            return Some(unit);
        }
        let c = self.chars.next()?;
        if c != '\\' {
            let mut pair = [0u16; 2];
            let units = c.encode_utf16(&mut pair);
            if let [high, low] = units {
                self.pending = Some(*low);
                return Some(*high);
            }
            return Some(units[0]);
        }
        let unit = match self.chars.next() {
            Some('"') => 0x22,
            Some('\\') => 0x5c,
            Some('/') => 0x2f,
            Some('b') => 0x08,
            Some('f') => 0x0c,
            Some('n') => 0x0a,
            Some('r') => 0x0d,
            Some('t') => 0x09,
            Some('u') => self.hex4().unwrap_or(0xfffd),
            _ => 0xfffd,
        };
        Some(unit)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(text: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, text);
        String::from_utf8(out).expect("ensure_ascii output is ASCII")
    }

    fn redumps(literal: &str) -> String {
        let mut out = Vec::new();
        write_literal(&mut out, literal);
        String::from_utf8(out).expect("ensure_ascii output is ASCII")
    }

    // Expected values were printed by CPython 3.11: json.dumps(s).
    #[test]
    fn escapes_like_python_dumps() {
        assert_eq!(dumps("START"), r#""START""#);
        assert_eq!(dumps("Mensagem válida"), r#""Mensagem v\u00e1lida""#);
        assert_eq!(dumps("Operação conhecida"), r#""Opera\u00e7\u00e3o conhecida""#);
        assert_eq!(dumps("a\"b\\c/d"), r#""a\"b\\c/d""#);
        assert_eq!(dumps("\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}"), r#""\n\r\t\b\f\u0000\u001f\u007f""#);
        assert_eq!(dumps("😀"), r#""\ud83d\ude00""#);
        assert_eq!(dumps("\u{ffff}\u{80}"), r#""\uffff\u0080""#);
    }

    #[test]
    fn literals_are_rewritten_as_python_would_write_them_back() {
        assert_eq!(redumps(r#""QUIT""#), r#""QUIT""#);
        assert_eq!(redumps("\"inválida\""), r#""inv\u00e1lida""#);
        assert_eq!(redumps(r#""\u00E1\/x""#), r#""\u00e1/x""#);
        // A lone surrogate survives, as it does in Python.
        assert_eq!(redumps(r#""\ud800x""#), r#""\ud800x""#);
        assert_eq!(redumps(r#""\uD83D\uDE00""#), r#""\ud83d\ude00""#);
        assert_eq!(redumps("\"😀\""), r#""\ud83d\ude00""#);
    }

    #[test]
    fn literal_comparison_decodes_escapes() {
        assert!(literal_eq(r#""STOP""#, "STOP"));
        assert!(literal_eq(r#""\u0053TOP""#, "STOP"));
        assert!(!literal_eq(r#""stop""#, "STOP"));
        assert!(!literal_eq(r#""STOP ""#, "STOP"));
        assert!(!literal_eq("\"\"", "STOP"));
    }

    #[test]
    fn literal_to_string_refuses_lone_surrogates() {
        assert_eq!(literal_to_string(r#""anton""#).as_deref(), Some("anton"));
        assert_eq!(literal_to_string(r#""an\tton""#).as_deref(), Some("an\tton"));
        assert_eq!(literal_to_string(r#""\ud83d\ude00""#).as_deref(), Some("😀"));
        assert_eq!(literal_to_string(r#""\ud800""#), None);
        assert_eq!(literal_to_string(r#""\ude00\ud83d""#), None);
    }

    #[test]
    fn malformed_literals_do_not_panic() {
        for literal in ["", "\"", "\"\\", "\"\\u12", "\"\\uzzzz\"", "\"\\q\"", "x"] {
            let _ = redumps(literal);
            let _ = literal_eq(literal, "x");
            let _ = literal_to_string(literal);
        }
    }
}
