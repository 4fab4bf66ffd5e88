//! Logging to standard error through `tracing`, filtered by `RUST_LOG`.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

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
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    if let Some((spec, error)) = bad_filter {
        tracing::warn!("ignoring RUST_LOG={spec:?} ({error}); logging at {default_level} level");
    }
}
