//! Logging to standard error through `tracing`, filtered by `RUST_LOG`.
//!
//! Lines are collected in a buffer and written with one `write` per [`flush`]: the
//! server's event loop flushes once per pass, before it waits again, so a busy server
//! writes the lines of many sessions at once (a `write` per line costs more than the
//! line's session) while an idle one still shows each line as soon as its event is
//! handled. The buffer is also flushed when it passes 64 KiB, on a panic, and by the
//! program at its exits.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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
        .with_target(false)
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
