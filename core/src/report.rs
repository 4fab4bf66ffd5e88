//! The report, `report.csv` (PROTOCOL §6): its rows as bytes, and what to do with an
//! existing file at start-up. Writing and syncing the file is the `net` crate's job.

use crate::Int;
use std::fmt;
use std::sync::Arc;

/// The header row's fields.
pub const HEADER: &str = "client_id,count,min,max";

/// The header row as written, with its RFC 4180 line end.
pub const HEADER_LINE: &[u8] = b"client_id,count,min,max\r\n";

/// How many bytes from the start of a report [`inspect`] needs.
pub const HEAD_LEN: usize = HEADER_LINE.len();

/// How many bytes from the end of a report [`inspect`] needs: more than the longest
/// row can take (a 64-byte id quoted, a 20-digit count, two numbers of 4 301 characters).
pub const TAIL_LEN: usize = 16 * 1024;

/// One finished session: a row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The client id.
    pub client_id: Arc<str>,
    /// How many numbers the session received.
    pub count: u64,
    /// The smallest of them.
    pub min: Int,
    /// The largest of them.
    pub max: Int,
}

impl ReportRow {
    /// Appends the row as CSV, as Python's `csv.writer` writes it: fields quoted only
    /// when they hold a comma, a quote or a line end, quotes doubled, `\r\n` at the end.
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        write_field(out, &self.client_id);
        out.push(b',');
        let mut digits = crate::int::DecimalBuffer::default();
        out.extend_from_slice(crate::int::format_decimal(false, self.count, &mut digits));
        out.push(b',');
        self.min.write_decimal(out);
        out.push(b',');
        self.max.write_decimal(out);
        out.extend_from_slice(b"\r\n");
    }
}

fn write_field(out: &mut Vec<u8>, field: &str) {
    if !field.contains([',', '"', '\r', '\n']) {
        out.extend_from_slice(field.as_bytes());
        return;
    }
    out.push(b'"');
    for byte in field.bytes() {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// What to do with the report file found at start-up (§6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// Missing, empty, or only a beginning of the header (a crash while creating it):
    /// truncate to nothing and write the header.
    WriteHeader,
    /// A valid report: append after its `len` bytes.
    Append,
    /// A valid report whose last line has no line end (a crash in the middle of a
    /// write, so never acknowledged): cut the file at `at`, then append.
    CutTornTail {
        /// Where the torn line starts, and where the file must end.
        at: u64,
    },
    /// The first line is not the header: refuse to start and touch nothing.
    WrongHeader {
        /// The start of the first line, for the error message.
        found: String,
    },
    /// The last line is longer than any row could be: not a report we wrote.
    TailTooLong,
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inspection::WriteHeader => f.write_str("new report: the header will be written"),
            Inspection::Append => f.write_str("valid report: rows will be appended"),
            Inspection::CutTornTail { at } => {
                write!(
                    f,
                    "the last line has no line end (a write cut short); it will be cut off at byte {at}"
                )
            }
            Inspection::WrongHeader { found } => {
                write!(f, "the first line is {found:?}, expected the header {HEADER:?}")
            }
            Inspection::TailTooLong => write!(
                f,
                "the last line is over {TAIL_LEN} bytes without a line end, longer than any report row"
            ),
        }
    }
}

/// Decides what to do with an existing report, from its length, its first
/// [`HEAD_LEN`] bytes (or all of it if shorter) and its last [`TAIL_LEN`] bytes (or
/// all of it if shorter).
pub fn inspect(len: u64, head: &[u8], tail: &[u8]) -> Inspection {
    if len == 0 || (len < HEADER_LINE.len() as u64 && HEADER_LINE.starts_with(head)) {
        return Inspection::WriteHeader;
    }
    let first_line_end = head.iter().position(|&b| b == b'\n');
    let first_line = match first_line_end {
        Some(end) => &head[..end],
        None => head,
    };
    let first_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    if first_line_end.is_none() || first_line != HEADER.as_bytes() {
        return Inspection::WrongHeader { found: String::from_utf8_lossy(first_line).into_owned() };
    }
    if tail.last() == Some(&b'\n') {
        return Inspection::Append;
    }
    let tail_start = len - tail.len() as u64;
    match tail.iter().rposition(|&b| b == b'\n') {
        Some(last_line_end) => Inspection::CutTornTail { at: tail_start + last_line_end as u64 + 1 },
        None => Inspection::TailTooLong,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, count: u64, min: i64, max: i64) -> Vec<u8> {
        let mut out = Vec::new();
        ReportRow { client_id: id.into(), count, min: min.into(), max: max.into() }.write_csv(&mut out);
        out
    }

    fn inspect_all(bytes: &[u8]) -> Inspection {
        let head = &bytes[..bytes.len().min(HEAD_LEN)];
        let tail = &bytes[bytes.len().saturating_sub(TAIL_LEN)..];
        inspect(bytes.len() as u64, head, tail)
    }

    // Expected rows were printed by CPython 3.11's csv.writer.
    #[test]
    fn rows_are_written_as_python_csv_writes_them() {
        assert_eq!(row("anton", 3, -3, 12), b"anton,3,-3,12\r\n");
        assert_eq!(row("a,b", 1, 0, 0), b"\"a,b\",1,0,0\r\n");
        assert_eq!(row("say \"hi\"", 1, 5, 5), b"\"say \"\"hi\"\"\",1,5,5\r\n");
        assert_eq!(row("José", 2, -1, 1), "José,2,-1,1\r\n".as_bytes());
        let big = ReportRow {
            client_id: "big".into(),
            count: u64::MAX,
            min: Int::parse("-100000000000000000000").expect("integer"),
            max: Int::parse("100000000000000000000").expect("integer"),
        };
        let mut out = Vec::new();
        big.write_csv(&mut out);
        assert_eq!(out, b"big,18446744073709551615,-100000000000000000000,100000000000000000000\r\n");
    }

    #[test]
    fn new_and_half_created_reports_get_the_header() {
        assert_eq!(inspect_all(b""), Inspection::WriteHeader);
        assert_eq!(inspect_all(b"client_id,co"), Inspection::WriteHeader);
        assert_eq!(inspect_all(b"client_id,count,min,max"), Inspection::WriteHeader);
        assert_eq!(inspect_all(b"client_id,count,min,max\r"), Inspection::WriteHeader);
    }

    #[test]
    fn valid_reports_are_appended_to() {
        assert_eq!(inspect_all(HEADER_LINE), Inspection::Append);
        assert_eq!(inspect_all(b"client_id,count,min,max\n"), Inspection::Append);
        let mut report = HEADER_LINE.to_vec();
        report.extend(row("anton", 3, -3, 12));
        assert_eq!(inspect_all(&report), Inspection::Append);
    }

    #[test]
    fn a_torn_last_line_is_cut_at_its_start() {
        let mut report = HEADER_LINE.to_vec();
        report.extend(row("anton", 3, -3, 12));
        let intact = report.len() as u64;
        report.extend(b"jonas,2,1");
        assert_eq!(inspect_all(&report), Inspection::CutTornTail { at: intact });
        report.extend(b",5\r");
        assert_eq!(inspect_all(&report), Inspection::CutTornTail { at: intact });
    }

    #[test]
    fn a_torn_line_far_into_a_big_report_is_found_from_the_tail() {
        let mut report = HEADER_LINE.to_vec();
        for i in 0..10_000 {
            report.extend(row(&format!("client{i}"), 1, i, i));
        }
        let intact = report.len() as u64;
        report.extend(b"torn,1");
        assert!(report.len() > TAIL_LEN);
        assert_eq!(inspect_all(&report), Inspection::CutTornTail { at: intact });
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(matches!(inspect_all(b"id,count,min,max\r\n"), Inspection::WrongHeader { .. }));
        assert!(matches!(inspect_all(b"client_id,count,min,max,extra\r\n"), Inspection::WrongHeader { .. }));
        assert!(matches!(inspect_all(b"hello"), Inspection::WrongHeader { .. }));
        assert!(matches!(inspect_all(&[0u8; 100]), Inspection::WrongHeader { .. }));
        assert_eq!(
            inspect_all(b"x\r\n"),
            Inspection::WrongHeader { found: "x".into() },
            "a short first line is quoted back"
        );
        let mut report = HEADER_LINE.to_vec();
        report.extend(vec![b'x'; TAIL_LEN + 1]);
        assert_eq!(inspect_all(&report), Inspection::TailTooLong);
    }
}
