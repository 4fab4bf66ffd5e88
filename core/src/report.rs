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

/// Writes report rows as CSV exactly as Python's `csv.writer` does with its defaults
/// (PROTOCOL §6): comma-separated, a field quoted only when it holds a comma, a quote
/// or a line end, quotes doubled, `\r\n` after each row. The quoting is `csv_core`'s,
/// into the caller's buffer: no I/O here.
#[derive(Debug)]
pub struct RowWriter {
    csv: csv_core::Writer,
    /// The decimal text of a number, reused from row to row.
    digits: Vec<u8>,
}

impl Default for RowWriter {
    fn default() -> RowWriter {
        RowWriter::new()
    }
}

impl RowWriter {
    /// A writer with Python's dialect.
    pub fn new() -> RowWriter {
        let csv = csv_core::WriterBuilder::new()
            .quote_style(csv_core::QuoteStyle::Necessary)
            .terminator(csv_core::Terminator::CRLF)
            .build();
        RowWriter { csv, digits: Vec::new() }
    }

    /// Appends `row`, its line end included, to `out`.
    pub fn write(&mut self, row: &ReportRow, out: &mut Vec<u8>) {
        let RowWriter { csv, digits } = self;
        write_field(csv, row.client_id.as_bytes(), out);
        grow_until_done(out, |room| csv.delimiter(room));
        let mut count = crate::int::DecimalBuffer::default();
        write_field(csv, crate::int::format_decimal(false, row.count, &mut count), out);
        for number in [&row.min, &row.max] {
            grow_until_done(out, |room| csv.delimiter(room));
            digits.clear();
            number.write_decimal(digits);
            write_field(csv, digits, out);
        }
        grow_until_done(out, |room| csv.terminator(room));
    }
}

impl ReportRow {
    /// The row as CSV, line end included (see [`RowWriter`], which reuses its
    /// buffers across rows).
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        RowWriter::new().write(self, &mut out);
        out
    }
}

/// Writes one field, however much room it takes (a quoted field can double).
fn write_field(csv: &mut csv_core::Writer, mut field: &[u8], out: &mut Vec<u8>) {
    loop {
        let start = out.len();
        out.resize(start + 2 * field.len() + 2, 0);
        let (result, read, written) = csv.field(field, &mut out[start..]);
        out.truncate(start + written);
        field = &field[read..];
        if result == csv_core::WriteResult::InputEmpty {
            return;
        }
    }
}

/// Runs one of csv_core's closing writes (delimiter, terminator, which may first
/// close a quoted field) with more room until it fits.
fn grow_until_done(out: &mut Vec<u8>, mut write: impl FnMut(&mut [u8]) -> (csv_core::WriteResult, usize)) {
    let mut room = 4;
    loop {
        let start = out.len();
        out.resize(start + room, 0);
        let (result, written) = write(&mut out[start..]);
        out.truncate(start + written);
        if result == csv_core::WriteResult::InputEmpty {
            return;
        }
        room *= 2;
    }
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
///
/// It relies on one rule of the rows we write: a row never holds a line end, even
/// quoted, because client ids refuse control characters (§4) and the other fields are
/// decimal numbers. So every `\n` in the file ends a row, and a last line without
/// one can only be a write cut short.
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
        ReportRow { client_id: id.into(), count, min: min.into(), max: max.into() }.to_csv()
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
        assert_eq!(
            big.to_csv(),
            b"big,18446744073709551615,-100000000000000000000,100000000000000000000\r\n"
        );
    }

    #[test]
    fn one_writer_writes_many_rows_and_numbers_of_any_length() {
        let mut writer = RowWriter::new();
        let mut out = Vec::new();
        let huge = format!("-{}", "9".repeat(4300));
        let wide = ReportRow {
            client_id: "\"q\",\"q\"".into(),
            count: 2,
            min: Int::parse(&huge).expect("integer"),
            max: Int::from(0),
        };
        writer.write(&wide, &mut out);
        writer.write(&ReportRow { client_id: "b".into(), count: 1, min: 5.into(), max: 5.into() }, &mut out);
        let expected = format!("\"\"\"q\"\",\"\"q\"\"\",2,{huge},0\r\nb,1,5,5\r\n");
        assert_eq!(String::from_utf8(out).expect("UTF-8"), expected);
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
