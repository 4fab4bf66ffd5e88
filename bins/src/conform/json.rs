//! A small JSON reader for what peers send: keys kept in order (duplicates too) and
//! numbers kept as their text, so that `100000000000000000000` and `1e+20` stay
//! different and nothing passes through a float. It judges; it never encodes a reply.

use std::fmt::Write as _;

/// A JSON value as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as its exact text.
    Number(String),
    /// A string, escapes decoded (a lone surrogate becomes U+FFFD).
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in the order received.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value of `key` in an object (the last one when repeated, as Python keeps it).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(name, _)| name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// The keys of an object, in order.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Json::Object(members) => members.iter().map(|(name, _)| name.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// An integer's canonical decimal text (`-0` is `0`), or `None` for anything else.
    pub fn integer(&self) -> Option<String> {
        match self {
            Json::Number(text) if !text.contains(['.', 'e', 'E']) => Some(canonical_integer(text)),
            _ => None,
        }
    }

    /// Equal as values: object members compared by key whatever their order, numbers
    /// by their exact value when they are integers, by their text otherwise.
    pub fn same_value(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Number(a), Json::Number(b)) => match (self.integer(), other.integer()) {
                (Some(a), Some(b)) => a == b,
                _ => a == b,
            },
            (Json::Array(a), Json::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y))
            }
            (Json::Object(a), Json::Object(b)) => {
                let keys_a = distinct_keys(a);
                let keys_b = distinct_keys(b);
                keys_a.len() == keys_b.len()
                    && keys_a.iter().all(|key| match (self.get(key), other.get(key)) {
                        (Some(x), Some(y)) => x.same_value(y),
                        _ => false,
                    })
            }
            _ => self == other,
        }
    }

    /// A readable rendering for transcripts: json.dumps's separators, non-ASCII shown
    /// as itself, long numbers and strings shortened.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Number(text) => out.push_str(&shorten(text, 80)),
            Json::String(text) => {
                out.push('"');
                for c in shorten(text, 200).chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() => {
                            let _ = write!(out, "\\u{:04x}", u32::from(c));
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.render_into(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    Json::String(name.clone()).render_into(out);
                    out.push_str(": ");
                    value.render_into(out);
                }
                out.push('}');
            }
        }
    }
}

fn distinct_keys(members: &[(String, Json)]) -> Vec<&str> {
    let mut keys: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// `-0` and `0` are the same integer; JSON integers have no leading zeros otherwise.
pub fn canonical_integer(text: &str) -> String {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.bytes().all(|b| b == b'0') { "0".to_string() } else { text.to_string() }
}

/// Shortens `text` to about `limit` characters, saying how much was left out.
pub fn shorten(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return text.to_string();
    }
    let head: String = text.chars().take(limit / 2).collect();
    let tail: String = text.chars().skip(count - limit / 4).collect();
    format!("{head}...({} more)...{tail}", count - limit / 2 - limit / 4)
}

/// Parses one JSON text (RFC 8259): UTF-8, any whitespace around, nothing after.
pub fn parse(bytes: &[u8]) -> Result<Json, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))?;
    let mut parser = Parser { text: text.as_bytes(), at: 0, depth: 0 };
    parser.skip_space();
    let value = parser.value()?;
    parser.skip_space();
    if parser.at != parser.text.len() {
        return Err(format!("unexpected text after the value at byte {}", parser.at));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            self.error("invalid literal")
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.text.get(self.at) {
            None => self.error("unexpected end"),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => self.nested(|parser| parser.array()),
            Some(b'{') => self.nested(|parser| parser.object()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.error("unexpected character"),
        }
    }

    fn nested(&mut self, parse: impl FnOnce(&mut Self) -> Result<Json, String>) -> Result<Json, String> {
        // Python's parser stops near a thousand levels too; this keeps the stack bounded.
        if self.depth >= 500 {
            return self.error("nested too deeply");
        }
        self.depth += 1;
        let value = parse(self);
        self.depth -= 1;
        value
    }

    fn array(&mut self) -> Result<Json, String> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value()?);
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return self.error("expected , or ]"),
            }
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_space();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_space();
            if self.text.get(self.at) != Some(&b'"') {
                return self.error("expected a key");
            }
            let name = self.string()?;
            self.skip_space();
            if self.text.get(self.at) != Some(&b':') {
                return self.error("expected :");
            }
            self.at += 1;
            self.skip_space();
            members.push((name, self.value()?));
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                _ => return self.error("expected , or }"),
            }
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.at;
        let digits = |parser: &mut Self| {
            let from = parser.at;
            while parser.text.get(parser.at).is_some_and(u8::is_ascii_digit) {
                parser.at += 1;
            }
            parser.at - from
        };
        if self.text.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.text.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.error("invalid number"),
        }
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return self.error("invalid fraction");
            }
        }
        if let Some(b'e' | b'E') = self.text.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.text.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return self.error("invalid exponent");
            }
        }
        let text = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
        Ok(Json::Number(text))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(hex) = self.text.get(self.at..self.at + 4) else {
            return self.error("short \\u escape");
        };
        let hex = std::str::from_utf8(hex).map_err(|_| format!("invalid \\u escape at byte {}", self.at))?;
        let value =
            u32::from_str_radix(hex, 16).map_err(|_| format!("invalid \\u escape at byte {}", self.at))?;
        self.at += 4;
        Ok(value)
    }

    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let Some(&byte) = self.text.get(self.at) else {
                return self.error("unterminated string");
            };
            match byte {
                b'"' => {
                    self.at += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.at += 1;
                    let Some(&escape) = self.text.get(self.at) else {
                        return self.error("unterminated escape");
                    };
                    self.at += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&first)
                                && self.text[self.at..].starts_with(b"\\u")
                            {
                                let saved = self.at;
                                self.at += 2;
                                let second = self.hex4()?;
                                if (0xDC00..0xE000).contains(&second) {
                                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                                } else {
                                    self.at = saved;
                                    first
                                }
                            } else {
                                first
                            };
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return self.error("invalid escape"),
                    }
                }
                0..=0x1f => return self.error("control character in a string"),
                _ => {
                    // The input is valid UTF-8: copy one whole character.
                    let rest = &self.text[self.at..];
                    let len = utf8_len(byte);
                    let chunk = std::str::from_utf8(&rest[..len.min(rest.len())]).unwrap_or("\u{fffd}");
                    out.push_str(chunk);
                    self.at += len;
                }
            }
        }
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text_and_integers_compare_exactly() {
        let value = parse(br#"{"n": 100000000000000000000, "f": 1e+20, "z": -0}"#).unwrap();
        assert_eq!(value.get("n").and_then(Json::integer).as_deref(), Some("100000000000000000000"));
        assert_eq!(value.get("f").and_then(Json::integer), None);
        assert_eq!(value.get("z").and_then(Json::integer).as_deref(), Some("0"));
    }

    #[test]
    fn escapes_decode_and_order_does_not_matter_for_values() {
        let a = parse(br#"{"op": "START", "error": "Mensagem inv\u00e1lida"}"#).unwrap();
        let b = parse("{\"error\":\"Mensagem inválida\",\"op\":\"START\"}".as_bytes()).unwrap();
        assert!(a.same_value(&b));
        assert_eq!(a.keys(), ["op", "error"]);
        assert_eq!(parse(br#""\ud83d\ude00""#).unwrap(), Json::String("\u{1f600}".into()));
    }

    #[test]
    fn invalid_texts_are_refused() {
        for bad in [&b"{"[..], b"{\"a\" 1}", b"[1,]", b"NaN", b"01", b"{} x", b"\"\xff\"", b"'a'"] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
