//! Exact integers of any magnitude (PROTOCOL §5).
//!
//! The protocol only ever compares integers and prints them, so no arithmetic is
//! needed: a value that fits in an `i64` is kept as one (the fast path, no
//! allocation), and anything larger keeps its canonical decimal digits. Ordering by
//! (sign, digit count, digits) is then exact for any magnitude, and parsing is linear
//! in the number of digits, where a binary big-integer conversion is quadratic.

use std::cmp::Ordering;
use std::fmt;

/// Python's default limit on the digits of an integer read from text
/// (`sys.get_int_max_str_digits()`); one digit more makes a NUMBER invalid (§4).
pub const MAX_DIGITS: usize = 4300;

/// An exact integer, ordered numerically; `-0` and `+0` are both `0`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Int(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Small(i64),
    /// Invariant: the value does not fit in an `i64`, so `digits` holds at least 19
    /// ASCII digits with no leading zero. This keeps every value's representation
    /// unique, which the derived `Eq` and `Hash` rely on.
    Big {
        negative: bool,
        digits: Box<str>,
    },
}

/// Why a text is not an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntError {
    /// No digit at all (an empty text, or only a sign).
    NoDigits,
    /// A character that is not an ASCII digit where one was expected.
    NotADigit,
    /// More than [`MAX_DIGITS`] digits.
    TooManyDigits,
}

impl fmt::Display for IntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntError::NoDigits => "no digits",
            IntError::NotADigit => "not an integer: only an optional sign and ASCII digits are allowed",
            IntError::TooManyDigits => "more than 4300 digits",
        })
    }
}

impl std::error::Error for IntError {}

/// Whitespace that may surround a numeric string or a decrypted `%16d` block: the
/// ASCII subset of what Python's `int()` strips.
fn is_ascii_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl Int {
    /// The integer zero.
    pub const ZERO: Int = Int(Repr::Small(0));

    /// The value as an `i64`, when it fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Small(value) => Some(value),
            Repr::Big { .. } => None,
        }
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Small(value) => *value < 0,
            Repr::Big { negative, .. } => *negative,
        }
    }

    /// Parses an optional `+` or `-` followed by ASCII digits, with nothing around them.
    ///
    /// This is the grammar of a JSON integer literal (which never has `+` or leading
    /// zeros, but accepting them costs nothing) and of a client's input token.
    pub fn parse(text: &str) -> Result<Int, IntError> {
        let bytes = text.as_bytes();
        let (negative, digits) = match bytes.first() {
            Some(b'-') => (true, &bytes[1..]),
            Some(b'+') => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        Int::from_digits(negative, digits)
    }

    /// Parses a decimal integer that may be surrounded by ASCII whitespace: a numeric
    /// string in plain mode, or a decrypted `%16d` block (PROTOCOL §5).
    pub fn parse_padded(text: &str) -> Result<Int, IntError> {
        let bytes = text.as_bytes();
        let start = bytes.iter().position(|&b| !is_ascii_space(b)).unwrap_or(bytes.len());
        let end = bytes.iter().rposition(|&b| !is_ascii_space(b)).map_or(start, |last| last + 1);
        // Both ends sit next to ASCII bytes, so they are character boundaries.
        Int::parse(&text[start..end])
    }

    fn from_digits(negative: bool, digits: &[u8]) -> Result<Int, IntError> {
        if digits.is_empty() {
            return Err(IntError::NoDigits);
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(IntError::NotADigit);
        }
        if digits.len() > MAX_DIGITS {
            return Err(IntError::TooManyDigits);
        }
        let first_significant = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
        let significant = &digits[first_significant..];
        // 19 decimal digits always fit in a u64 (10^19 - 1 < 2^64), so the magnitude
        // can be accumulated without overflow checks and range-checked once.
        if significant.len() <= 19 {
            let magnitude = significant.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
            let value =
                if negative { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() };
            if let Some(value) = value {
                return Ok(Int(Repr::Small(value)));
            }
        }
        let digits =
            std::str::from_utf8(significant).expect("ASCII digits were checked above, so they are UTF-8");
        Ok(Int(Repr::Big { negative, digits: digits.into() }))
    }

    /// Appends the canonical decimal form (as Python's `str(int)` writes it).
    pub fn write_decimal(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Small(value) => {
                let mut buffer = DecimalBuffer::default();
                out.extend_from_slice(format_i64(*value, &mut buffer));
            }
            Repr::Big { negative, digits } => {
                if *negative {
                    out.push(b'-');
                }
                out.extend_from_slice(digits.as_bytes());
            }
        }
    }
}

/// Room for any `u64` or `i64` in decimal, sign included.
pub(crate) type DecimalBuffer = [u8; 21];

/// Formats a signed magnitude in decimal into `buffer` without going through `fmt`,
/// because this runs for every encrypted number and every report row.
pub(crate) fn format_decimal(negative: bool, mut magnitude: u64, buffer: &mut DecimalBuffer) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if negative {
        start -= 1;
        buffer[start] = b'-';
    }
    &buffer[start..]
}

/// [`format_decimal`] for an `i64`.
pub(crate) fn format_i64(value: i64, buffer: &mut DecimalBuffer) -> &[u8] {
    format_decimal(value < 0, value.unsigned_abs(), buffer)
}

impl From<i64> for Int {
    fn from(value: i64) -> Int {
        Int(Repr::Small(value))
    }
}

impl Ord for Int {
    fn cmp(&self, other: &Int) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Small(a), Repr::Small(b)) => a.cmp(b),
            // A big value lies outside the i64 range, on the side of its sign.
            (Repr::Small(_), Repr::Big { negative, .. }) => {
                if *negative {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Repr::Big { negative, .. }, Repr::Small(_)) => {
                if *negative {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Repr::Big { negative: a_neg, digits: a }, Repr::Big { negative: b_neg, digits: b }) => {
                match (a_neg, b_neg) {
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => magnitude_cmp(a, b),
                    (true, true) => magnitude_cmp(b, a),
                }
            }
        }
    }
}

/// Compares two canonical digit strings (no leading zeros) by the numbers they spell.
fn magnitude_cmp(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl PartialOrd for Int {
    fn partial_cmp(&self, other: &Int) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Small(value) => write!(f, "{value}"),
            Repr::Big { negative: true, digits } => write!(f, "-{digits}"),
            Repr::Big { negative: false, digits } => f.write_str(digits),
        }
    }
}

impl fmt::Debug for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(text: &str) -> Int {
        Int::parse(text).expect("test input is a valid integer")
    }

    #[test]
    fn small_values_use_the_fast_path() {
        assert_eq!(int("0").as_i64(), Some(0));
        assert_eq!(int("-0").as_i64(), Some(0));
        assert_eq!(int("+17").as_i64(), Some(17));
        assert_eq!(int("0007").as_i64(), Some(7));
        assert_eq!(int("9223372036854775807").as_i64(), Some(i64::MAX));
        assert_eq!(int("-9223372036854775808").as_i64(), Some(i64::MIN));
    }

    #[test]
    fn values_beyond_i64_are_exact() {
        let above = int("9223372036854775808");
        assert_eq!(above.as_i64(), None);
        assert_eq!(above.to_string(), "9223372036854775808");
        let below = int("-9223372036854775809");
        assert_eq!(below.to_string(), "-9223372036854775809");
        // §5: this must not pass through a float.
        assert_eq!(int("100000000000000000001").to_string(), "100000000000000000001");
    }

    #[test]
    fn leading_zeros_do_not_make_a_value_big() {
        let padded = int("-000000000000000000000000042");
        assert_eq!(padded.as_i64(), Some(-42));
        assert_eq!(padded, int("-42"));
        assert_eq!(int("00000000000000000000000000000000000000000000").as_i64(), Some(0));
    }

    #[test]
    fn negative_zero_is_zero() {
        assert_eq!(int("-0"), Int::ZERO);
        assert_eq!(int("-0000").to_string(), "0");
        assert!(!int("-0").is_negative());
    }

    #[test]
    fn ordering_is_numeric_across_representations() {
        let ordered = [
            "-100000000000000000000000",
            "-99999999999999999999999",
            "-9223372036854775809",
            "-9223372036854775808",
            "-1",
            "0",
            "1",
            "9223372036854775807",
            "9223372036854775808",
            "10000000000000000000",
            "99999999999999999999999",
            "100000000000000000000000",
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(int(a).cmp(&int(b)), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn digit_limit_is_pythons() {
        let at_limit = "9".repeat(MAX_DIGITS);
        assert_eq!(int(&at_limit).to_string(), at_limit);
        let negative_at_limit = format!("-{at_limit}");
        assert_eq!(int(&negative_at_limit).to_string(), negative_at_limit);
        assert_eq!(Int::parse(&"9".repeat(MAX_DIGITS + 1)), Err(IntError::TooManyDigits));
        // Leading zeros count, as they do for Python's int().
        assert_eq!(Int::parse(&format!("0{at_limit}")), Err(IntError::TooManyDigits));
    }

    #[test]
    fn rejects_what_is_not_an_integer() {
        for text in ["", "-", "+", "1.0", "1e3", "0x10", " 1", "1 ", "--1", "+-1", "1_000", "١"] {
            assert!(Int::parse(text).is_err(), "{text:?} was accepted");
        }
        assert_eq!(Int::parse("-"), Err(IntError::NoDigits));
        assert_eq!(Int::parse("12a"), Err(IntError::NotADigit));
    }

    #[test]
    fn padded_form_strips_ascii_whitespace_only() {
        assert_eq!(Int::parse_padded("              -42").map(|v| v.as_i64()), Ok(Some(-42)));
        assert_eq!(Int::parse_padded(" \t 5 \r\n"), Ok(int("5")));
        assert_eq!(Int::parse_padded("   "), Err(IntError::NoDigits));
        assert_eq!(Int::parse_padded("- 5"), Err(IntError::NotADigit));
        // A no-break space is whitespace to Python but not ASCII: refused.
        assert!(Int::parse_padded("\u{a0}5").is_err());
    }

    #[test]
    fn decimal_writer_matches_display() {
        for text in [
            "0",
            "-1",
            "42",
            "-9223372036854775808",
            "9223372036854775807",
            "-123456789012345678901234567890",
        ] {
            let mut out = Vec::new();
            int(text).write_decimal(&mut out);
            assert_eq!(out, int(text).to_string().as_bytes());
        }
    }
}
