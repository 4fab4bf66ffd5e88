//! Logging to standard error through `tracing`, filtered by `RUST_LOG`.
//!
//! Lines are collected in a buffer and written with one `write` per [`flush`]: the
//! server's event loop flushes once per pass, before it waits again, so a busy server
//! writes the lines of many sessions at once (a `write` per line costs more than the
//! line's session) while an idle one still shows each line as soon as its event is
//! handled. The buffer is also flushed when it passes 64 KiB, on a panic, and by the
//! program at its exits.

use std::cell::RefCell;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Past this, the buffer is written at once.
const FLUSH_AT: usize = 64 * 1024;

static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<u8>> {
    // A panic while holding the lock leaves bytes, never a broken structure.
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes the buffered lines to standard error.
pub fn flush() {
    let mut buffer = pending();
    if !buffer.is_empty() {
        // Nothing sensible can be done if stderr is gone.
        let _ = std::io::stderr().write_all(&buffer);
        buffer.clear();
    }
}

struct Buffered;

impl Write for Buffered {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = pending();
        buffer.extend_from_slice(bytes);
        if buffer.len() >= FLUSH_AT {
            let _ = std::io::stderr().write_all(&buffer);
            buffer.clear();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct MakeBuffered;

impl<'a> MakeWriter<'a> for MakeBuffered {
    type Writer = Buffered;

    fn make_writer(&'a self) -> Buffered {
        Buffered
    }
}

/// Logs to standard error at `default_level` unless `RUST_LOG` says otherwise
/// (`RUST_LOG=debug`, `RUST_LOG=warn,minmax_net=debug`, ...). Colours only on a terminal,
/// so that a log file or a test reading the log gets plain text.
pub fn init(default_level: &str) {
    let (filter, bad_filter) = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new(default_level), Some((spec, error))),
        },
        _ => (EnvFilter::new(default_level), None),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeBuffered)
        .with_ansi(std::io::stderr().is_terminal())
        .event_format(Line)
        .init();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush();
        default_hook(info);
    }));
    if let Some((spec, error)) = bad_filter {
        tracing::warn!("ignoring RUST_LOG={spec:?} ({error}); logging at {default_level} level");
    }
    flush();
}

/// The log line: `2026-11-24T04:20:44.687707Z  INFO message key=value ...`, the layout
/// of tracing-subscriber's default format, written without its per-event date
/// arithmetic and character-by-character padding: a busy server writes one line per
/// session, and formatting it was a tenth of the server's CPU under pipelined load.
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
        let mut fields = Fields { writer: writer.by_ref(), result: Ok(()), first: true };
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
}

impl Fields<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let separator = if std::mem::take(&mut self.first) { "" } else { " " };
        self.result = if field.name() == "message" {
            write!(self.writer, "{separator}{value}")
        } else {
            write!(self.writer, "{separator}{}={value}", field.name())
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
            let text = format_second(seconds);
            *cache = (seconds, text);
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
}
