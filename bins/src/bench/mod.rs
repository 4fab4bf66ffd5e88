//! minmax-bench: a load generator for minmax servers (like `redis-benchmark`), and the
//! ceiling server it is compared with.
//!
//! Modules: [`load`] the generator, [`ceiling`] the canned-reply server, [`fresh`]
//! connection set-up cost.

pub mod ceiling;
pub mod fresh;
pub mod load;

use load::{LoadOptions, LoadReport};
use std::fmt::Write as _;

/// The run's figures as text, for people.
pub fn text_report(options: &LoadOptions, report: &LoadReport) -> String {
    let seconds = report.elapsed.as_secs_f64().max(f64::EPSILON);
    let latency = |quantile: f64| report.latency.value_at_quantile(quantile) as f64 / 1e6;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "minmax-bench: {} connections, pipeline {}, {} numbers per session, {}, sessions end with {}{}{}",
        options.conns,
        options.pipeline,
        options.numbers,
        if options.encrypt { "encrypted" } else { "plain" },
        if options.quit { "QUIT" } else { "STOP" },
        if report.idle > 0 { format!(", {} idle sessions", report.idle) } else { String::new() },
        if options.canned { ", canned replies (ceiling)" } else { "" },
    );
    let _ = writeln!(text, "  duration   {seconds:.2} s");
    let _ = writeln!(text, "  requests   {} ({:.0}/s)", report.requests, report.requests as f64 / seconds);
    let _ = writeln!(text, "  sessions   {} ({:.0}/s)", report.sessions, report.sessions as f64 / seconds);
    let _ = writeln!(
        text,
        "  latency    p50 {:.3} ms   p99 {:.3} ms   p99.9 {:.3} ms   max {:.3} ms",
        latency(0.5),
        latency(0.99),
        latency(0.999),
        report.latency.max() as f64 / 1e6
    );
    let _ = writeln!(text, "  errors     {}", report.errors);
    for sample in &report.error_samples {
        let _ = writeln!(text, "    {sample}");
    }
    text
}

/// The run's figures as one JSON object, for scripts.
pub fn json_report(options: &LoadOptions, report: &LoadReport) -> String {
    let seconds = report.elapsed.as_secs_f64().max(f64::EPSILON);
    let micros = |quantile: f64| report.latency.value_at_quantile(quantile) as f64 / 1e3;
    let samples: Vec<String> = report
        .error_samples
        .iter()
        .map(|sample| serde_json::to_string(sample).unwrap_or_else(|_| "\"(unprintable)\"".into()))
        .collect();
    format!(
        concat!(
            r#"{{"conns": {}, "pipeline": {}, "numbers": {}, "encrypt": {}, "quit": {}, "idle": {}, "canned": {}, "#,
            r#""seconds": {:.3}, "requests": {}, "sessions": {}, "requests_per_second": {:.1}, "#,
            r#""sessions_per_second": {:.1}, "latency_us": {{"p50": {:.1}, "p99": {:.1}, "p999": {:.1}, "max": {:.1}}}, "#,
            r#""errors": {}, "error_samples": [{}]}}"#
        ),
        options.conns,
        options.pipeline,
        options.numbers,
        options.encrypt,
        options.quit,
        report.idle,
        options.canned,
        seconds,
        report.requests,
        report.sessions,
        report.requests as f64 / seconds,
        report.sessions as f64 / seconds,
        micros(0.5),
        micros(0.99),
        micros(0.999),
        report.latency.max() as f64 / 1e3,
        report.errors,
        samples.join(", "),
    )
}
