//! Logging to standard error through `tracing`, filtered by `RUST_LOG`, one line per
//! event in logfmt (PROTOCOL §7).
//!
//! Lines never block the program: they go through a bounded queue to a writer thread
//! (`tracing-appender`'s lossy non-blocking writer), which writes whatever has queued
//! up with one system call. When whoever reads standard error stalls, the queue
//! fills and lines are dropped and counted; [`Logging::report_dropped`], called by
//! the server after each pass of its loop, says how many once lines get through
//! again.
//!
//! Every field value that does not consist of plain characters is quoted and
//! escaped, and the fields that carry what a client sent (its id, an op, its
//! address) always are: a client id such as `x count=999` cannot forge a field, nor a
//! line end a line.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Lines that may wait for standard error (a few hundred kilobytes); past this,
/// lines are dropped and counted.
const QUEUED_LINES: usize = 4096;

/// Fields whose values come from clients: always quoted.
const CLIENT_FIELDS: [&str; 4] = ["client_id", "op", "peer", "host"];

/// The running logger. Dropping it writes out the lines still queued (for up to a
/// second, so that a stalled reader cannot hold the exit).
pub struct Logging {
    _guard: WorkerGuard,
    dropped: ErrorCounter,
    /// Dropped lines already reported.
    reported: usize,
}

impl Logging {
    /// Logs any lines dropped since the last report, once there is room for the
    /// report itself; returns how many lines this call accounted for (0 if none, or
    /// if the report line was dropped too and will be tried again).
    pub fn report_dropped(&mut self) -> u64 {
        let dropped = self.dropped.dropped_lines();
        if dropped == self.reported {
            return 0;
        }
        let missing = dropped - self.reported;
        tracing::warn!(
            dropped = missing,
            "{missing} log lines were dropped because standard error was not read fast enough"
        );
        // If that line was dropped too, the count moved: try again next time.
        if self.dropped.dropped_lines() != dropped {
            return 0;
        }
        self.reported = dropped;
        missing as u64
    }
}

/// Standard error as the writer thread uses it: buffered (the thread flushes when
/// the queue is empty, so a burst of lines is one write), and deaf to errors (a
/// closed standard error must not stop the program, nor make it panic).
struct Stderr(std::io::BufWriter<std::io::Stderr>);

impl Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.write_all(bytes).is_err() {
            // Whatever was buffered is lost with the stream; start afresh.
            let _ = self.0.flush();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// Logs to standard error at `default_level` unless `RUST_LOG` says otherwise
/// (`RUST_LOG=debug`, `RUST_LOG=warn,minmax_net=debug`, ...). Colours only on a
/// terminal, and never when `NO_COLOR` is set, so that a log file or a test reading
/// the log gets plain text.
pub fn init(default_level: &str) -> Logging {
    let (filter, bad_filter) = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new(default_level), Some((spec, error))),
        },
        _ => (EnvFilter::new(default_level), None),
    };
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(Stderr(std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr())));
    let dropped = writer.error_counter();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colours_wanted())
        .event_format(Line)
        .init();
    if let Some((spec, error)) = bad_filter {
        tracing::warn!("ignoring RUST_LOG={spec:?} ({error}); logging at {default_level} level");
    }
    Logging { _guard: guard, dropped, reported: 0 }
}

/// Colours on a terminal, unless `NO_COLOR` is set to anything (no-color.org).
pub fn colours_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()) && std::io::stderr().is_terminal()
}

/// The log line: `2026-11-24T04:20:44.687707Z  INFO message key=value ...`.
///
/// Written without tracing-subscriber's per-event date arithmetic and padding: a
/// busy server writes one line per session, and formatting it was a tenth of the
/// server's CPU under pipelined load.
struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut writer, SystemTime::now())?;
        let (level, colour) = match *event.metadata().level() {
            Level::ERROR => (" ERROR ", "31"),
            Level::WARN => ("  WARN ", "33"),
            Level::INFO => ("  INFO ", "32"),
            Level::DEBUG => (" DEBUG ", "34"),
            Level::TRACE => (" TRACE ", "35"),
        };
        if writer.has_ansi_escapes() {
            write!(writer, "\x1b[{colour}m{level}\x1b[0m")?;
        } else {
            writer.write_str(level)?;
        }
        let mut fields =
            Fields { writer: writer.by_ref(), result: Ok(()), first: true, value: String::new() };
        // tracing's macros record the message first, then the fields in order.
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

struct Fields<'a> {
    writer: Writer<'a>,
    result: fmt::Result,
    first: bool,
    /// The value being written, reused from field to field.
    value: String,
}

impl Fields<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let separator = if std::mem::take(&mut self.first) { "" } else { " " };
        self.value.clear();
        let _ = self.value.write_fmt(value);
        self.result = if field.name() == "message" {
            // Free text, ours; still one line, whatever went into it.
            self.writer.write_str(separator).and_then(|()| write_escaped(&mut self.writer, &self.value))
        } else {
            write!(self.writer, "{separator}{}=", field.name()).and_then(|()| {
                write_value(&mut self.writer, &self.value, CLIENT_FIELDS.contains(&field.name()))
            })
        };
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, format_args!("{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// Characters a value may hold and stay unquoted.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '#' | '/' | '@' | '+' | '[' | ']')
}

/// Writes a logfmt value: as is when plain and not from a client, else quoted, with
/// `"` and `\` escaped and every control character written as an escape.
fn write_value(out: &mut impl fmt::Write, value: &str, always_quote: bool) -> fmt::Result {
    if !always_quote && !value.is_empty() && value.chars().all(is_plain) {
        return out.write_str(value);
    }
    out.write_char('"')?;
    for c in value.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            _ => write_char_escaped(out, c)?,
        }
    }
    out.write_char('"')
}

/// Writes text with its control characters escaped, so that it stays on one line.
fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    text.chars().try_for_each(|c| write_char_escaped(out, c))
}

fn write_char_escaped(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if c.is_control() || is_bidi_control(c) => write!(out, "\\u{{{:x}}}", u32::from(c)),
        c => out.write_char(c),
    }
}

/// Characters that reorder the text around them when displayed (Trojan Source):
/// an id holding U+202E would show the rest of its log line backwards.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

thread_local! {
    /// The last second formatted, and its text: most lines share their second with
    /// the line before.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Writes `2026-11-24T04:20:44.687707Z` (UTC, microseconds).
fn write_timestamp(writer: &mut Writer<'_>, now: SystemTime) -> fmt::Result {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    SECOND.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != seconds {
            *cache = (seconds, format_second(seconds));
        }
        writer.write_str(&cache.1)
    })?;
    write!(writer, ".{:06}Z", since_epoch.subsec_micros())
}

/// `YYYY-MM-DDTHH:MM:SS` of a second since the epoch, in UTC.
fn format_second(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX);
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", of_day / 3600, of_day / 60 % 60, of_day % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by CPython: datetime.fromtimestamp(t, timezone.utc).
    #[test]
    fn seconds_are_formatted_as_utc_dates() {
        assert_eq!(format_second(0), "1970-01-01T00:00:00");
        assert_eq!(format_second(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(format_second(1_700_000_000), "2023-11-14T22:13:20");
        assert_eq!(format_second(1_709_251_199), "2024-02-29T23:59:59");
        assert_eq!(format_second(1_795_485_644), "2026-11-24T02:00:44");
        assert_eq!(format_second(4_102_444_800), "2100-01-01T00:00:00");
    }

    fn value(text: &str, client: bool) -> String {
        let mut out = String::new();
        write_value(&mut out, text, client).expect("a String takes any text");
        out
    }

    #[test]
    fn values_are_quoted_and_escaped_as_logfmt() {
        assert_eq!(value("42", false), "42");
        assert_eq!(value("#17", false), "#17");
        assert_eq!(value("anton", true), "\"anton\"", "client values are always quoted");
        assert_eq!(value("x count=999 min=-1", true), "\"x count=999 min=-1\"");
        assert_eq!(value("a \"b\" \\c", false), "\"a \\\"b\\\" \\\\c\"");
        assert_eq!(value("two\nlines\u{1b}[A", false), "\"two\\nlines\\u{1b}[A\"");
        assert_eq!(value("", false), "\"\"");
        assert_eq!(value("Mensagem inválida", false), "\"Mensagem inválida\"");
        assert_eq!(value("evil\u{202e}txt.exe", true), "\"evil\\u{202e}txt.exe\"");
    }
}
