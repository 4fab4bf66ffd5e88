//! minmax-conform end to end: the real minmax-server and minmax-client pass every case of
//! both levels; a running server can be tested through --addr; selection, reports and
//! the tool's own exit codes. The broken implementations are in interop/test_conform.py.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use std::process::{Command, Output};

fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minmax-conform"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("minmax-conform runs")
}

fn server_cmd() -> String {
    format!("{} {{port}}", env!("CARGO_BIN_EXE_minmax-server"))
}

fn client_cmd(extra: &str) -> String {
    format!("{} {{id}} {{port}} {{host}}{extra}", env!("CARGO_BIN_EXE_minmax-client"))
}

/// The cases of a JSON report: (id, verdict).
fn verdicts(path: &std::path::Path) -> Vec<(String, String)> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| (case["id"].as_str().unwrap().to_string(), case["verdict"].as_str().unwrap().to_string()))
        .collect()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn minmax_server_passes_every_case_of_both_levels() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("server.json");
    let cmd = server_cmd();
    let json_arg = json.to_str().unwrap();
    let args = ["server", "--cmd", &cmd, "--level", "all", "-j", "2", "--json", json_arg];
    let output = conform(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let cases = verdicts(&json);
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let not_passed: Vec<_> = cases.iter().filter(|(_, verdict)| verdict != "pass").collect();
    assert!(not_passed.is_empty(), "{not_passed:?}\n{}", text(&output));
    for level in ["seed", "ext"] {
        assert!(String::from_utf8_lossy(&output.stdout).contains(&format!(" {level} ")), "both levels ran");
    }
    let last = String::from_utf8_lossy(&output.stdout).lines().last().unwrap().to_string();
    assert_eq!(
        last,
        format!("{} passed, 0 failed, 0 non-strict, 0 timed out, 0 crashed, 0 unsupported", cases.len())
    );
}

#[test]
fn minmax_client_passes_every_case_of_both_levels() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("client.json");
    let output = conform(&[
        "client",
        "--cmd",
        &client_cmd(""),
        "--encrypt-cmd",
        &client_cmd(" --encrypt"),
        "--level",
        "all",
        "-j",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let cases = verdicts(&json);
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let not_passed: Vec<_> = cases.iter().filter(|(_, verdict)| verdict != "pass").collect();
    assert!(not_passed.is_empty(), "{not_passed:?}\n{}", text(&output));
}

#[test]
fn a_running_server_is_tested_through_addr_and_fresh_process_cases_are_unsupported() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    let report = server.report();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("addr.json");
    let output = conform(&[
        "server",
        "--addr",
        &addr,
        "--report",
        report.to_str().unwrap(),
        "--level",
        "all",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let cases = verdicts(&json);
    let unsupported: Vec<&str> =
        cases.iter().filter(|(_, v)| v == "unsupported").map(|(id, _)| id.as_str()).collect();
    assert!(unsupported.contains(&"server/6/row-before-reply"), "{unsupported:?}");
    assert!(unsupported.contains(&"server/7/no-arguments-exit-1"), "{unsupported:?}");
    assert!(cases.iter().any(|(id, v)| id == "server/6/row-after-stop" && v == "pass"), "{cases:?}");
    assert!(cases.iter().all(|(_, v)| v == "pass" || v == "unsupported"), "{}", text(&output));
    // The server served the whole battery and is still running.
    assert_eq!(
        server.connect().session("after-battery", &["7"]),
        r#"{"op": "STOP", "status": true, "min": 7, "max": 7}"#
    );
}

#[test]
fn list_only_and_exclude_select_cases_by_pattern() {
    let output =
        conform(&["server", "--list", "--level", "all", "--only", "server/4", "--exclude", "server/4/id-*"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        ids.iter().filter(|id| id.starts_with("server/")).all(|id| id.starts_with("server/4/")),
        "{stdout}"
    );
    assert!(ids.contains(&"server/4/start-duplicate-id"));
    assert!(!ids.iter().any(|id| id.starts_with("server/4/id-")), "{stdout}");
    // Each case shows its expectation literally.
    assert!(stdout.contains(r#"{"op": "START", "status": false, "error": "Cliente existente"}"#), "{stdout}");
    let listed = conform(&["client", "--list", "--level", "seed"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("client/7/interrupt-sends-quit"));
}

/// `minmax-conform server --list | head -1`: the reader is gone before the list is.
#[test]
fn a_list_into_a_closed_pipe_is_cut_short_without_a_panic() {
    for battery in ["server", "client"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_minmax-conform"))
            .args([battery, "--list", "--level", "all"])
            .stdout(writer)
            .output()
            .expect("minmax-conform runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn reports_are_written_as_json_junit_and_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let [json, junit, html] = ["r.json", "r.xml", "r.html"].map(|name| dir.path().join(name));
    let output = conform(&[
        "server",
        "--cmd",
        &server_cmd(),
        "--only",
        "server/3",
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains('\x1b'), "no colours when NO_COLOR is set or stdout is not a terminal");
    let junit = std::fs::read_to_string(junit).unwrap();
    assert!(junit.starts_with("<?xml") && junit.contains(r#"name="server/3/stop-min-max""#), "{junit}");
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("server/3/stop-min-max") && html.contains("wire transcript"));
    for external in ["<script src", "<link", "src=\"http", "url(http"] {
        assert!(!html.contains(external), "the page loads {external}");
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let case = &report["cases"][0];
    assert!(case["evidence"]["transcript"].as_str().unwrap().contains("json: {\"op\": \"START\""));
    assert!(case["rerun"].as_str().unwrap().contains("--only server/3/"));
}

#[test]
fn a_server_that_never_listens_or_exits_at_once_is_a_verdict_not_a_tool_error() {
    let only = ["--only", "server/3/stop-min-max", "--timeout", "0.5"];
    let silent = conform(&[&["server", "--cmd", "sleep 5 {port}"][..], &only].concat());
    assert_eq!(silent.status.code(), Some(1), "{}", text(&silent));
    assert!(text(&silent).contains("never listened on port"), "{}", text(&silent));
    assert!(text(&silent).contains("0 passed, 0 failed, 0 non-strict, 1 timed out"), "{}", text(&silent));
    let exits = conform(&[&["server", "--cmd", "false {port}"][..], &only].concat());
    assert_eq!(exits.status.code(), Some(1), "{}", text(&exits));
    assert!(text(&exits).contains("crashed") && text(&exits).contains("exit code 1"), "{}", text(&exits));
}

#[test]
fn the_tool_itself_failing_is_exit_2() {
    for args in [
        &["server", "--cmd", "/no/such/program {port}"][..],
        &["server", "--cmd", "true"],
        &["server"],
        &["server", "--no-such-option"],
        &["client", "--cmd", "true {port}"],
        &["server", "--addr", "10.1.2.3:5000"],
        &["grade"],
    ] {
        let output = conform(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
    }
    assert_eq!(conform(&["--help"]).status.code(), Some(0));
    // The rubric needs no folder of submissions to be shown.
    let rubric = conform(&["grade", "--print-rubric"]);
    assert_eq!(rubric.status.code(), Some(0), "{}", text(&rubric));
    assert!(String::from_utf8_lossy(&rubric.stdout).contains("--rubric FILE"), "{}", text(&rubric));
}
