//! minmax-bench, the real binary: its load is checked reply by reply, so it must pass
//! against minmax-server, report every session it ran, and fail (exit 3, as the
//! client's refusal) when the replies are not the protocol's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, TIMEOUT, report_rows};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn bench_binary() -> &'static str {
    env!("CARGO_BIN_EXE_minmax-bench")
}

fn bench(args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut child = Command::new(bench_binary())
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the bench finishes");
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("not JSON: {stdout:?} {stderr}"));
    (status.code().unwrap(), value, stderr)
}

#[test]
fn a_bounded_load_runs_every_session_and_checks_every_reply() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    let (code, report, stderr) =
        bench(&["--addr", &addr, "--conns", "4", "--sessions", "40", "--numbers", "5", "--pipeline", "3"]);
    assert_eq!(code, 0, "{report} {stderr}");
    assert_eq!(report["sessions"], 40);
    assert_eq!(report["requests"], 40 * 7);
    assert_eq!(report["errors"], 0);
    assert_eq!(report_rows(&server.report()).len(), 40, "every STOP is recorded");
}

#[test]
fn encrypted_quit_and_idle_loads_pass() {
    let server = Server::start(&[]);
    let addr = server.addr.to_string();
    let (code, report, stderr) = bench(&["--addr", &addr, "--conns", "2", "--sessions", "10", "--encrypt"]);
    assert_eq!((code, &report["errors"]), (0, &serde_json::json!(0)), "{report} {stderr}");
    let (code, report, stderr) =
        bench(&["--addr", &addr, "--conns", "2", "--sessions", "10", "--quit", "--idle", "30"]);
    assert_eq!((code, &report["errors"]), (0, &serde_json::json!(0)), "{report} {stderr}");
    assert_eq!(report["idle"], 30);
    assert_eq!(report_rows(&server.report()).len(), 10, "QUIT sessions record nothing");
}

/// `minmax-bench ceiling`, killed when dropped (also when a test fails).
struct Ceiling(Child);

impl Drop for Ceiling {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `minmax-bench ceiling 0` and returns it with its address.
fn ceiling() -> (Ceiling, String) {
    let mut child = Command::new(bench_binary())
        .args(["ceiling", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = Ceiling(child);
    let line = BufReader::new(stderr)
        .lines()
        .map(Result::unwrap)
        .find(|line| line.contains("listening on "))
        .unwrap();
    let addr = line.split("listening on ").nth(1).unwrap().trim().to_string();
    (child, addr)
}

#[test]
fn the_ceiling_answers_every_frame_and_its_replies_fail_the_checks() {
    let (_ceiling, addr) = ceiling();
    let (code, report, _) = bench(&["--addr", &addr, "--conns", "3", "--sessions", "30", "--canned"]);
    assert_eq!(
        (code, &report["requests"], &report["errors"]),
        (0, &serde_json::json!(360), &serde_json::json!(0))
    );
    // Canned replies are not the protocol's: a checked load must see errors and exit 3.
    let (code, report, _) = bench(&["--addr", &addr, "--conns", "1", "--sessions", "3"]);
    assert_eq!(code, 3);
    assert!(report["errors"].as_u64().unwrap() > 0);
    assert!(report["error_samples"][0].as_str().unwrap().contains(r#"expected {"op": "START""#), "{report}");
}

#[test]
fn a_server_that_refuses_is_counted_as_errors() {
    let server = Server::start(&["--require-cipher"]);
    let (code, report, _) = bench(&["--addr", &server.addr.to_string(), "--conns", "1", "--sessions", "2"]);
    assert_eq!(code, 3);
    assert!(report["error_samples"][0].as_str().unwrap().contains("Cifra obrigat"), "{report}");
}

/// Issue 14, item 4: a timed run leaves its rows recognisable and the server's log
/// free of warnings: open sessions are quit and connections closed cleanly.
#[test]
fn a_timed_run_ends_cleanly_with_recognisable_ids() {
    let server = Server::start(&[]);
    let addr = format!("localhost:{}", server.addr.port());
    let (code, report, stderr) =
        bench(&["--addr", &addr, "--conns", "4", "--duration", "0.5", "--pipeline", "4", "--idle", "3"]);
    assert_eq!(code, 0, "{report} {stderr}");
    assert!(report["sessions"].as_u64().unwrap() > 0, "{report}");
    let rows = report_rows(&server.report());
    assert!(!rows.is_empty() && rows.iter().all(|row| row[0].starts_with("minmax-bench-")), "{rows:?}");
    let (status, log) = server.terminate();
    assert!(status.success());
    assert!(!log.contains(" WARN ") && !log.contains(" ERROR "), "{log}");
    assert!(!log.contains("shutting down: no new connections") || log.contains("connections=0"), "{log}");
}

/// Issue 14, item 7: the three programs agree: an unreachable server is exit 5, a
/// bad host is exit 2, and --help starts with what this program is.
#[test]
fn exit_codes_and_help_agree_with_the_client() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let output = Command::new(bench_binary())
        .args(["--addr", &unused.to_string(), "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is minmax-server running there?"));
    let output = Command::new(bench_binary()).args(["--addr", "bad_host:5000"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let output = Command::new(bench_binary()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.starts_with("minmax-bench: a load generator"), "{help}");
    assert!(help.contains("appended to the server's\nreport"), "{help}");
}
