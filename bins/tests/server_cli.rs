//! PROTOCOL §7: the server's command line and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, server_binary};
use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), args)
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut child = Command::new(server_binary())
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = common::wait_with_timeout(&mut child, common::TIMEOUT)
        .expect("an invalid command line exits at once");
    let mut output = Output { status, stdout: Vec::new(), stderr: Vec::new() };
    use std::io::Read;
    child.stdout.take().unwrap().read_to_end(&mut output.stdout).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut output.stderr).unwrap();
    output
}

fn assert_exit(args: &[&str], code: i32, stderr_mentions: &str) {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(stderr.contains(stderr_mentions), "{args:?}: {stderr:?} does not mention {stderr_mentions:?}");
}

#[test]
fn a_wrong_number_of_arguments_is_exit_1() {
    assert_exit(&[], 1, "<PORT>");
    assert_exit(&["5000", "6000"], 1, "unexpected argument \"6000\"");
    assert_exit(&["--no-such-option", "5000"], 1, "--no-such-option");
}

/// Issue 14, item 8: clap's tip for an unknown option ("to pass '--bogus' as a value,
/// use '-- --bogus'") is wrong for these programs; the message points to --help.
#[test]
fn an_unknown_option_points_to_help() {
    let output = run(&["5000", "--bogus"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unexpected argument \"--bogus\""), "{stderr}");
    assert!(stderr.contains("minmax-server --help") && !stderr.contains("-- --bogus"), "{stderr}");
}

/// Issue 10, item 12: a huge argument is shown as an excerpt, not echoed whole.
#[test]
fn a_huge_argument_is_shown_as_an_excerpt() {
    let huge = "9".repeat(100_000);
    let output = run(&[&huge]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", &stderr[..stderr.len().min(300)]);
    assert!(stderr.len() < 1000, "{} bytes of error message", stderr.len());
    assert!(stderr.contains("(100000 characters)"), "{stderr}");
}

#[test]
fn an_invalid_port_is_exit_2_and_says_what_was_expected() {
    assert_exit(&["http"], 2, "\"http\" is not a port number: expected an integer from 1 to 65535");
    assert_exit(&["65536"], 2, "65536 is out of range");
    assert_exit(&["-1"], 2, "-1 is out of range");
    assert_exit(&["8.5"], 2, "is not a port number");
}

#[test]
fn invalid_option_values_are_exit_2() {
    assert_exit(&["0", "--bind", "localhost:80"], 2, "expected one such as 127.0.0.1");
    assert_exit(&["0", "--max-frame", "10"], 2, "expected an integer from 64 to");
    assert_exit(&["0", "--max-connections", "0"], 2, "0 is out of range");
    assert_exit(&["0", "--frame-timeout", "-3"], 2, "out of range");
    assert_exit(&["0", "--idle-timeout", "soon"], 2, "is not a duration");
}

#[test]
fn a_port_in_use_and_an_address_not_of_this_machine_are_exit_2() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    assert_exit(&[&port], 2, "another program uses this port");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_in(dir.path(), &[&port]).status.code(), Some(2));
    assert!(!dir.path().join("report.csv").exists(), "a server that could not listen created a report");
    // TEST-NET-1 (RFC 5737) is never assigned to a local interface.
    assert_exit(&["0", "--bind", "192.0.2.1"], 2, "this machine has no such address");
}

#[test]
fn help_and_version_exit_0() {
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8(help.stdout).unwrap();
    for needed in [
        "<PORT>",
        "--report",
        "--require-cipher",
        "--max-frame",
        "--max-connections",
        "--idle-timeout",
        "--frame-timeout",
        "--bind",
        "Exit codes:",
        "SIGTERM",
        "RUST_LOG",
    ] {
        assert!(text.contains(needed), "--help does not explain {needed}");
    }
    assert_eq!(run(&["-h"]).status.code(), Some(0));
    let version = run(&["-V"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8(version.stdout).unwrap().starts_with("minmax-server "));
}

#[test]
fn the_server_listens_on_ipv6_too() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let server = Server::start(&["--bind", "::1"]);
    assert!(server.addr.is_ipv6());
    let mut conn = server.connect();
    assert_eq!(conn.session("v6", &["1"]), r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"#);
}

#[test]
fn the_listening_line_is_printed_whatever_the_log_level() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[], |command| {
        command.env("RUST_LOG", "warn");
    })
    .unwrap_or_else(|failed| panic!("no listening line at RUST_LOG=warn: {}", failed.stderr));
    assert_eq!(
        server.connect().request(r#"{"op": "QUIT"}"#),
        r#"{"op": "QUIT", "status": false, "error": "Cliente inexistente"}"#
    );
}

#[test]
fn sigint_stops_an_idle_server_with_exit_0() {
    let server = Server::start(&[]);
    server.signal(common::Signal::INT);
    let (status, log) = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{log}");
}
