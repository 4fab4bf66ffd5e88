//! The server cases written as code: many connections, big numbers, kills, prepared
//! reports and command lines.

use super::replies::*;
use super::{Ctx, report_bytes};
use crate::conform::model::{Finding, Step};
use rustix::process::Signal;

pub(super) fn fifty_clients(ctx: &mut Ctx) -> Step {
    ctx.start()?;
    const CLIENTS: usize = 50;
    for n in 1..=CLIENTS {
        let request = format!(r#"{{"op": "START", "client_id": "c50-{n}", "cipher": null}}"#);
        ctx.conn(n)?.send_frame(request.as_bytes())?;
    }
    for n in 1..=CLIENTS {
        ctx.expect_reply(n, START_OK, &[])?;
    }
    for sign in ["", "-"] {
        for n in 1..=CLIENTS {
            let request = format!(r#"{{"op": "NUMBER", "number": {sign}{n}}}"#);
            ctx.conn(n)?.send_frame(request.as_bytes())?;
        }
        for n in 1..=CLIENTS {
            ctx.expect_reply(n, NUMBER_OK, &[])?;
        }
    }
    let mut rows = Vec::new();
    for n in 1..=CLIENTS {
        ctx.ask(
            n,
            r#"{"op": "STOP"}"#,
            &format!(r#"{{"op": "STOP", "status": true, "min": -{n}, "max": {n}}}"#),
        )?;
        rows.push(format!("c50-{n},2,-{n},{n}"));
    }
    ctx.expect_rows(&rows)
}

pub(super) fn thousand_numbers(ctx: &mut Ctx) -> Step {
    ctx.start()?;
    ctx.ask(1, r#"{"op": "START", "client_id": "thousand", "cipher": null}"#, START_OK)?;
    for i in 1..=1000i64 {
        let number = (i * 7919) % 1000 - 500;
        ctx.ask(1, &format!(r#"{{"op": "NUMBER", "number": {number}}}"#), NUMBER_OK)?;
    }
    ctx.ask(1, r#"{"op": "STOP"}"#, r#"{"op": "STOP", "status": true, "min": -500, "max": 499}"#)
}

pub(super) fn digits_4300(ctx: &mut Ctx) -> Step {
    ctx.start()?;
    let big = format!("1{}", "0".repeat(4299));
    let too_big = format!("1{}", "0".repeat(4300));
    ctx.ask(1, r#"{"op": "START", "client_id": "digits", "cipher": null}"#, START_OK)?;
    ctx.ask(1, &format!(r#"{{"op": "NUMBER", "number": {big}}}"#), NUMBER_OK)?;
    ctx.ask(1, &format!(r#"{{"op": "NUMBER", "number": -{big}}}"#), NUMBER_OK)?;
    ctx.ask(
        1,
        &format!(r#"{{"op": "NUMBER", "number": {too_big}}}"#),
        r#"{"op": "NUMBER", "status": false, "error": "N\u00famero inv\u00e1lido"}"#,
    )?;
    ctx.ask(
        1,
        r#"{"op": "STOP"}"#,
        &format!(r#"{{"op": "STOP", "status": true, "min": -{big}, "max": {big}}}"#),
    )
}

pub(super) fn row_before_reply(ctx: &mut Ctx) -> Step {
    ctx.start()?;
    ctx.ask(1, r#"{"op": "START", "client_id": "durable", "cipher": null}"#, START_OK)?;
    for number in ["5", "-3", "12"] {
        ctx.ask(1, &format!(r#"{{"op": "NUMBER", "number": {number}}}"#), NUMBER_OK)?;
    }
    ctx.conn(1)?.send_frame(br#"{"op": "STOP"}"#)?;
    let reply = ctx.conn(1)?.recv_frame();
    // Nothing between the reply and the kill: the server gets no time to write late.
    ctx.kill9();
    let reply = reply?;
    ctx.check(br#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#, &[], &reply)?;
    ctx.expect_rows(&["durable,3,-3,12".to_string()])
}

fn session(ctx: &mut Ctx, c: usize, id: &str, number: &str) -> Step {
    ctx.ask(c, &format!(r#"{{"op": "START", "client_id": "{id}", "cipher": null}}"#), START_OK)?;
    ctx.ask(c, &format!(r#"{{"op": "NUMBER", "number": {number}}}"#), NUMBER_OK)?;
    ctx.ask(
        c,
        r#"{"op": "STOP"}"#,
        &format!(r#"{{"op": "STOP", "status": true, "min": {number}, "max": {number}}}"#),
    )
}

/// The report must be exactly `expected`, whatever the level (a prepared report).
fn report_is(ctx: &mut Ctx, expected: &[u8]) -> Step {
    let actual = ctx.report().unwrap_or_default();
    if actual == expected {
        Ok(())
    } else {
        Err(Finding::fail(
            format!("report.csv = {}", super::judge::show(expected)),
            format!("report.csv = {}", super::judge::show(&actual)),
        ))
    }
}

pub(super) fn existing_report(ctx: &mut Ctx) -> Step {
    ctx.prepare_report(&report_bytes(&["earlier,2,1,9"]))?;
    ctx.start()?;
    session(ctx, 1, "later", "5")?;
    let actual = ctx.report().unwrap_or_default();
    let expected = report_bytes(&["earlier,2,1,9", "later,1,5,5"]);
    if actual == expected {
        return Ok(());
    }
    // At the seed level the new row may end in \n; the earlier row must survive in any case.
    let prefix = report_bytes(&["earlier,2,1,9"]);
    if ctx.level() == crate::conform::model::Level::Seed
        && actual.starts_with(&prefix)
        && actual[prefix.len()..] == b"later,1,5,5\n"[..]
    {
        ctx.note("report.csv: \\n line end where Python's csv writes \\r\\n".into());
        return Ok(());
    }
    report_is(ctx, &expected)
}

pub(super) fn torn_line(ctx: &mut Ctx) -> Step {
    ctx.prepare_report(b"client_id,count,min,max\r\nearlier,2,1,9\r\ntorn,3,-")?;
    ctx.start()?;
    session(ctx, 1, "after-crash", "5")?;
    report_is(ctx, &report_bytes(&["earlier,2,1,9", "after-crash,1,5,5"]))
}

pub(super) fn partial_header(ctx: &mut Ctx) -> Step {
    ctx.prepare_report(b"client_id,co")?;
    ctx.start()?;
    session(ctx, 1, "half", "5")?;
    report_is(ctx, &report_bytes(&["half,1,5,5"]))
}

pub(super) fn foreign_report(ctx: &mut Ctx) -> Step {
    let foreign = b"name,value\r\nx,1\r\n";
    ctx.prepare_report(foreign)?;
    let port = crate::conform::process::free_port()
        .map_err(|error| Finding::Closed(format!("no free port: {error}")))?;
    let code = ctx.run_to_exit(Some(&port.to_string()), &[])?;
    expect_code(code, 5)?;
    report_is(ctx, foreign)
}

pub(super) fn report_removed(ctx: &mut Ctx) -> Step {
    ctx.start()?;
    ctx.ask(1, r#"{"op": "START", "client_id": "moved", "cipher": null}"#, START_OK)?;
    ctx.ask(1, r#"{"op": "NUMBER", "number": 5}"#, NUMBER_OK)?;
    if let Some(path) = ctx.report_path() {
        let _ = std::fs::remove_file(&path);
        ctx.log.note(0, "report.csv removed");
    }
    ctx.ask(1, r#"{"op": "STOP"}"#, r#"{"op": "STOP", "status": true, "min": 5, "max": 5}"#)?;
    report_is(ctx, &report_bytes(&["moved,1,5,5"]))
}

pub(super) fn report_truncated(ctx: &mut Ctx) -> Step {
    ctx.start()?;
    session(ctx, 1, "cut", "5")?;
    if let Some(path) = ctx.report_path() {
        std::fs::write(&path, b"")
            .map_err(|error| Finding::Closed(format!("cannot truncate the report: {error}")))?;
        ctx.log.note(0, "report.csv truncated to 0 bytes");
    }
    session(ctx, 1, "cut", "12")?;
    report_is(ctx, &report_bytes(&["cut,1,12,12"]))
}

fn expect_code(code: Option<i32>, wanted: i32) -> Step {
    if code == Some(wanted) {
        Ok(())
    } else {
        let actual =
            code.map_or_else(|| "killed by a signal".to_string(), |code| format!("exit code {code}"));
        Err(Finding::fail(format!("exit code {wanted}"), actual))
    }
}

pub(super) fn no_arguments(ctx: &mut Ctx) -> Step {
    let code = ctx.run_to_exit(None, &[])?;
    expect_code(code, 1)
}

pub(super) fn extra_argument(ctx: &mut Ctx) -> Step {
    let port = crate::conform::process::free_port()
        .map_err(|error| Finding::Closed(format!("no free port: {error}")))?;
    let code = ctx.run_to_exit(Some(&port.to_string()), &["extra"])?;
    expect_code(code, 1)
}

pub(super) fn port_not_a_number(ctx: &mut Ctx) -> Step {
    let code = ctx.run_to_exit(Some("abc"), &[])?;
    expect_code(code, 2)
}

pub(super) fn port_out_of_range(ctx: &mut Ctx) -> Step {
    let code = ctx.run_to_exit(Some("70000"), &[])?;
    expect_code(code, 2)
}

pub(super) fn negative_port(ctx: &mut Ctx) -> Step {
    let code = ctx.run_to_exit(Some("-1"), &[])?;
    expect_code(code, 2)
}

pub(super) fn port_in_use(ctx: &mut Ctx) -> Step {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|error| Finding::Closed(format!("cannot hold a port: {error}")))?;
    let port = listener.local_addr().map_err(|error| Finding::Closed(error.to_string()))?.port();
    ctx.log.note(0, &format!("the tool listens on 127.0.0.1:{port}"));
    let code = ctx.run_to_exit(Some(&port.to_string()), &[])?;
    drop(listener);
    expect_code(code, 2)
}

pub(super) fn sigterm(ctx: &mut Ctx) -> Step {
    ctx.start()?;
    session(ctx, 1, "term", "5")?;
    ctx.signal(Signal::TERM, "SIGTERM");
    let code = ctx.wait_exit()?;
    expect_code(code, 0)?;
    report_is(ctx, &report_bytes(&["term,1,5,5"]))
}

pub(super) fn unusable_report(ctx: &mut Ctx) -> Step {
    let dir = ctx.dir()?;
    std::fs::create_dir(dir.join("report.csv"))
        .map_err(|error| Finding::Closed(format!("cannot prepare the case: {error}")))?;
    ctx.log.note(0, "report.csv is a directory");
    let port = crate::conform::process::free_port()
        .map_err(|error| Finding::Closed(format!("no free port: {error}")))?;
    let code = ctx.run_to_exit(Some(&port.to_string()), &[])?;
    expect_code(code, 5)
}
