//! The reports of a run: the terminal summary, JSON, JUnit XML and one self-contained
//! HTML page (no external assets: it must open from a CI artifact or an e-mail).

use super::model::{Outcome, Tally, Verdict};
use serde_json::json;
use std::fmt::Write as _;
use std::io::IsTerminal;

/// What was tested, for report headings.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// `server` or `client`.
    pub battery: String,
    /// The implementation under test (its command or address).
    pub target: String,
    /// The level chosen.
    pub level: String,
    /// Seconds the run took.
    pub seconds: f64,
}

/// Whether to colour terminal output: only on a terminal, never with NO_COLOR set.
pub fn use_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

fn paint(text: &str, verdict: Verdict, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match verdict {
        Verdict::Pass => "32",
        Verdict::NonStrict => "33",
        Verdict::Fail | Verdict::Crash => "31",
        Verdict::Timeout => "35",
        Verdict::Unsupported => "90",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// One line per case (with the detail and the re-run command under any failure), then
/// the summary line `N passed, M failed, ...` last.
pub fn text(outcomes: &[Outcome], info: &RunInfo, colour: bool) -> String {
    let mut out = String::new();
    for outcome in outcomes {
        let label = format!("{:<11}", outcome.verdict.name().to_uppercase());
        let _ = writeln!(
            out,
            "{} {:<5} {} ({} ms)",
            paint(&label, outcome.verdict, colour),
            outcome.info.level.name(),
            outcome.info.id,
            outcome.duration.as_millis()
        );
        if outcome.verdict != Verdict::Pass && !outcome.detail.is_empty() {
            let _ = writeln!(out, "            {}", one_line(&outcome.detail, 400));
        }
        if outcome.verdict.is_failure() {
            let _ = writeln!(out, "            re-run: {}", outcome.rerun);
        }
    }
    let _ = writeln!(
        out,
        "{} {} cases against {} in {:.1} s",
        info.battery,
        outcomes.len(),
        info.target,
        info.seconds
    );
    out.push_str(&Tally::of(outcomes).line());
    out.push('\n');
    out
}

fn one_line(text: &str, limit: usize) -> String {
    let flat: String = text.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    super::json::shorten(&flat, limit)
}

/// The whole run as one JSON document.
pub fn json_value(outcomes: &[Outcome], info: &RunInfo) -> serde_json::Value {
    let tally = Tally::of(outcomes);
    let summary: serde_json::Map<String, serde_json::Value> =
        Verdict::ALL.iter().map(|v| (v.name().to_string(), json!(tally.count(*v)))).collect();
    json!({
        "tool": "minmax-conform",
        "battery": info.battery,
        "target": info.target,
        "level": info.level,
        "seconds": info.seconds,
        "summary": summary,
        "summary_line": tally.line(),
        "cases": outcomes.iter().map(case_json).collect::<Vec<_>>(),
    })
}

fn case_json(outcome: &Outcome) -> serde_json::Value {
    json!({
        "id": outcome.info.id,
        "section": outcome.info.section(),
        "level": outcome.info.level.name(),
        "description": outcome.info.description,
        "expectation": outcome.expectation,
        "verdict": outcome.verdict.name(),
        "detail": outcome.detail,
        "duration_ms": outcome.duration.as_secs_f64() * 1000.0,
        "rerun": outcome.rerun,
        "evidence": {
            "transcript": outcome.evidence.transcript,
            "report_before": outcome.evidence.report_before,
            "report_after": outcome.evidence.report_after,
            "output": outcome.evidence.output,
            "exit": outcome.evidence.exit,
            "notes": outcome.evidence.notes,
        },
    })
}

/// The whole run as JSON text.
pub fn json_text(outcomes: &[Outcome], info: &RunInfo) -> String {
    serde_json::to_string_pretty(&json_value(outcomes, info)).unwrap_or_default() + "\n"
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 allows no other control characters.
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: fail as `<failure>`, crash and timeout as `<error>`, unsupported as
/// `<skipped>`, non-strict as a pass with its reading in `<system-out>`.
pub fn junit(outcomes: &[Outcome], info: &RunInfo) -> String {
    let tally = Tally::of(outcomes);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"minmax-conform\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        outcomes.len(),
        tally.count(Verdict::Fail),
        tally.count(Verdict::Crash) + tally.count(Verdict::Timeout),
        tally.count(Verdict::Unsupported),
        info.seconds
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        xml(&format!("{} ({})", info.battery, info.target)),
        outcomes.len(),
        tally.count(Verdict::Fail),
        tally.count(Verdict::Crash) + tally.count(Verdict::Timeout),
        tally.count(Verdict::Unsupported),
        info.seconds
    );
    for outcome in outcomes {
        let classname = format!("{}.{}", outcome.info.battery(), outcome.info.section());
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml(&classname),
            xml(outcome.info.id),
            outcome.duration.as_secs_f64()
        );
        let body = format!(
            "{}\n\nre-run: {}\n\nexpected:\n{}\n\ntranscript:\n{}\n{}",
            outcome.detail,
            outcome.rerun,
            outcome.expectation,
            outcome.evidence.transcript,
            outcome.evidence.output
        );
        match outcome.verdict {
            Verdict::Pass => {}
            Verdict::NonStrict => {
                let _ = write!(out, "<system-out>non-strict: {}</system-out>", xml(&outcome.detail));
            }
            Verdict::Fail => {
                let _ = write!(
                    out,
                    "<failure message=\"{}\">{}</failure>",
                    xml(&one_line(&outcome.detail, 300)),
                    xml(&body)
                );
            }
            Verdict::Crash | Verdict::Timeout => {
                let _ = write!(
                    out,
                    "<error type=\"{}\" message=\"{}\">{}</error>",
                    outcome.verdict.name(),
                    xml(&one_line(&outcome.detail, 300)),
                    xml(&body)
                );
            }
            Verdict::Unsupported => {
                let _ = write!(out, "<skipped message=\"{}\"/>", xml(&outcome.detail));
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// HTML-escapes `text`.
pub fn html_escape(text: &str) -> String {
    xml(text)
}

/// The page's style, shared with the gradebook's index.
pub const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#c8cdd8}
main{padding:18px 28px}
.summary{display:flex;gap:10px;flex-wrap:wrap;margin:0 0 16px}
.chip{border-radius:6px;padding:6px 12px;font-weight:600;background:#fff;border:1px solid #d9dde5}
.pass{color:#0f7b3f}.fail{color:#b42318}.crash{color:#b42318}.timeout{color:#8e3ab3}
.non-strict{color:#a15c00}.unsupported{color:#667085}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d9dde5}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#eef0f4;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.v{font-weight:700;white-space:nowrap}
details{margin:4px 0}
summary{cursor:pointer;color:#344054}
pre{background:#0f1420;color:#e4e7ee;padding:10px;border-radius:6px;overflow:auto;max-height:420px;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
.detail{color:#475467;font-size:13px;margin-top:2px}
a{color:#1849a9}
";

/// One self-contained page: the summary, then each case's verdict, expectation,
/// detail, transcript, report and output.
pub fn html(outcomes: &[Outcome], info: &RunInfo) -> String {
    let tally = Tally::of(outcomes);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>minmax-conform {battery}: {line}</title><style>{STYLE}</style></head><body>\
         <header><h1>minmax-conform &middot; {battery} battery</h1><p>{target} &middot; level {level} &middot; {seconds:.1} s &middot; {line}</p></header><main>",
        battery = html_escape(&info.battery),
        target = html_escape(&info.target),
        level = html_escape(&info.level),
        seconds = info.seconds,
        line = html_escape(&tally.line()),
    );
    out.push_str("<div class=\"summary\">");
    for verdict in Verdict::ALL {
        let _ = write!(out, "<span class=\"chip {0}\">{1} {0}</span>", verdict.name(), tally.count(verdict));
    }
    out.push_str(
        "</div><table><thead><tr><th>verdict</th><th>level</th><th>case</th><th>ms</th></tr></thead><tbody>",
    );
    for outcome in outcomes {
        let _ = write!(
            out,
            "<tr id=\"{id}\"><td class=\"v {v}\">{v}</td><td>{level}</td><td><code>{id}</code> &mdash; {description}",
            id = html_escape(outcome.info.id),
            v = outcome.verdict.name(),
            level = outcome.info.level.name(),
            description = html_escape(outcome.info.description),
        );
        if !outcome.detail.is_empty() {
            let _ =
                write!(out, "<div class=\"detail\">{}</div>", html_escape(&one_line(&outcome.detail, 600)));
        }
        let open = if outcome.verdict.is_failure() { " open" } else { "" };
        let _ = write!(out, "<details{open}><summary>evidence</summary>");
        section(&mut out, "expected", &outcome.expectation);
        section(&mut out, "re-run this case", &outcome.rerun);
        section(&mut out, "wire transcript (> sent by the tool, < received)", &outcome.evidence.transcript);
        if let Some(before) = &outcome.evidence.report_before {
            section(&mut out, "report.csv before", before);
        }
        if let Some(after) = &outcome.evidence.report_after {
            section(&mut out, "report.csv after", after);
        }
        if !outcome.evidence.output.is_empty() {
            section(
                &mut out,
                &format!("output of the program ({})", outcome.evidence.exit),
                &outcome.evidence.output,
            );
        }
        let _ = write!(out, "</details></td><td>{}</td></tr>", outcome.duration.as_millis());
    }
    out.push_str("</tbody></table></main></body></html>\n");
    out
}

fn section(out: &mut String, title: &str, body: &str) {
    let _ = write!(out, "<div><b>{}</b><pre>{}</pre></div>", html_escape(title), html_escape(body));
}
