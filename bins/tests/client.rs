//! PROTOCOL §7: the real `minmax-client` against the real `minmax-server`, against a
//! scripted fake server speaking like the deployed Python ones, and on a terminal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Conn, Server, TIMEOUT, frame, report_rows};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

fn client_binary() -> &'static str {
    env!("CARGO_BIN_EXE_minmax-client")
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn spawn_client(args: &[&str]) -> Child {
    Command::new(client_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client binary runs")
}

fn finish(mut child: Child) -> Finished {
    drop(child.stdin.take());
    // Read while the client runs: output larger than a pipe's buffer would otherwise
    // block it from ever exiting.
    let read_all = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            stream.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
    Finished { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// Runs the client with `input` piped to it.
fn run_client(args: &[&str], input: &str) -> Finished {
    let mut child = spawn_client(args);
    // A client that exits early (no server, a bad argument) never reads its input.
    match child.stdin.as_mut().unwrap().write_all(input.as_bytes()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written.unwrap(),
    }
    finish(child)
}

fn port(server: &Server) -> String {
    server.addr.port().to_string()
}

/// Starts a server that logs session starts (at debug level), so that a test can
/// wait for a client's session to be open without touching it.
fn start_server_logging_starts() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[], |command| {
        command.env("RUST_LOG", "info,minmax_net=debug");
    })
    .unwrap_or_else(|failed| panic!("{}", failed.stderr));
    (server, dir)
}

fn wait_until_active(server: &Server, id: &str) {
    server.wait_for_log(&format!("session started client_id=\"{id}\" "));
}

#[test]
fn a_piped_session_prints_the_numbers_and_the_min_and_max() {
    let server = Server::start(&[]);
    let done = run_client(&["anton", &port(&server)], "5 -3 12\n");
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(done.stdout, "numbers sent (3): 5 -3 12\nmin: -3\nmax: 12\n");
    assert_eq!(done.stderr, "");
    assert_eq!(report_rows(&server.report()), vec![["anton", "3", "-3", "12"].map(String::from)]);
}

#[test]
fn large_and_negative_numbers_over_several_lines_with_commas() {
    let server = Server::start(&[]);
    let huge = format!("-{}", "9".repeat(300));
    let input = format!("100000000000000000000, +7\n\n{huge} -0\nSTOP\n42\n");
    let done = run_client(&["big", &port(&server), "127.0.0.1"], &input);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert!(lines[0].starts_with("numbers sent (4): 100000000000000000000 7"), "{}", done.stdout);
    assert!(done.stdout.contains(&huge), "every number is listed");
    assert_eq!(lines[lines.len() - 2], format!("min: {huge}"));
    assert_eq!(lines[lines.len() - 1], "max: 100000000000000000000");
}

#[test]
fn an_encrypted_session_gives_the_same_result() {
    let server = Server::start(&[]);
    let done = run_client(
        &["manel", &port(&server), "localhost", "--encrypt"],
        "9999999999999999 -999999999999999\n0\n",
    );
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(
        done.stdout,
        "numbers sent (3): 9999999999999999 -999999999999999 0\nmin: -999999999999999\nmax: 9999999999999999\n"
    );
    assert_eq!(
        report_rows(&server.report())[0],
        ["manel", "3", "-999999999999999", "9999999999999999"].map(String::from)
    );
}

#[test]
fn json_output_is_one_object() {
    let server = Server::start(&[]);
    let done = run_client(&["Zé", &port(&server), "--json"], "1 2 3\n");
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let value: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"client_id": "Zé", "outcome": "stopped", "exit_code": 0, "count": 3, "numbers": [1, 2, 3], "min": 1, "max": 3})
    );
}

#[test]
fn quit_is_exit_4_and_records_nothing() {
    let server = Server::start(&[]);
    let done = run_client(&["q", &port(&server)], "1 2\nq\n3\n");
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert_eq!(done.stdout, "quit: the session was abandoned; nothing was recorded\n");
    assert!(report_rows(&server.report()).is_empty());
}

#[test]
fn a_duplicate_id_is_exit_3_with_the_servers_error() {
    let server = Server::start(&[]);
    let mut holder = server.connect();
    holder.request(r#"{"op": "START", "client_id": "dup"}"#);
    let done = run_client(&["dup", &port(&server)], "1\n");
    assert_eq!(done.status.code(), Some(3));
    assert!(done.stderr.contains("the server refused START: Cliente existente"), "{}", done.stderr);
    let done = run_client(&["empty", &port(&server)], "stop\n");
    assert_eq!(done.status.code(), Some(3));
    assert!(done.stderr.contains("Dados insuficientes"), "{}", done.stderr);
}

#[test]
fn a_piped_invalid_token_quits_and_is_exit_2_naming_line_and_token() {
    let server = Server::start(&[]);
    let done = run_client(&["tok", &port(&server)], "1 2\n3 4.5 6\n7\n");
    assert_eq!(done.status.code(), Some(2));
    assert!(done.stderr.contains("line 2: \"4.5\" is not an integer"), "{}", done.stderr);
    // The session was quit, so the id is free.
    assert_eq!(
        server.connect().request(r#"{"op": "START", "client_id": "tok"}"#),
        r#"{"op": "START", "status": true}"#
    );
    let done = run_client(&["enc", &port(&server), "--encrypt"], "10000000000000000\n");
    assert_eq!(done.status.code(), Some(2));
    assert!(
        done.stderr.contains("line 1: \"10000000000000000\" is outside what an encrypted session can carry"),
        "{}",
        done.stderr
    );
}

#[test]
fn argument_errors_are_exit_1_and_2_in_the_order_count_id_port_host() {
    let expect = |args: &[&str], code: i32, message: &str| {
        let done = run_client(args, "");
        assert_eq!(done.status.code(), Some(code), "{args:?}: {}", done.stderr);
        assert!(done.stderr.contains(message), "{args:?}: {:?} lacks {message:?}", done.stderr);
    };
    expect(&[], 1, "<CLIENT_ID>");
    expect(&["anton"], 1, "<PORT>");
    expect(&["=bad", "99999", "300.1.1.1", "extra"], 1, "unexpected argument \"extra\"");
    expect(&["=bad", "99999", "300.1.1.1"], 2, "invalid client id \"=bad\"");
    expect(&["", "5000"], 2, "the client id is empty");
    expect(
        &["anton", "99999", "300.1.1.1"],
        2,
        "invalid port: 99999 is out of range: expected an integer from 1 to 65535",
    );
    expect(&["anton", "-5"], 2, "invalid port: -5 is out of range");
    expect(&["anton", "http"], 2, "\"http\" is not a port number");
    expect(
        &["anton", "5000", "300.1.1.1"],
        2,
        "invalid host: \"300.1.1.1\" is not an IPv4 address of the form X.X.X.X",
    );
    expect(&["anton", "5000", "bad_host!"], 2, "is neither an IP address nor a DNS name");
    expect(&["anton", "5000", "no-such-host.invalid"], 2, "host \"no-such-host.invalid\" does not exist");
    let help = run_client(&["--help"], "");
    assert_eq!(help.status.code(), Some(0));
    for needed in [
        "stop",
        "quit",
        "Ctrl-C",
        "--encrypt",
        "--json",
        "Exit codes:",
        "3  the server refused",
        "5  the server could not be reached",
        "6  the session stopped, but its result could not be written to standard output",
        "--quiet",
        "--summary",
        "help, ?",
    ] {
        assert!(help.stdout.contains(needed), "--help does not explain {needed:?}");
    }
    let version = run_client(&["-V"], "");
    assert_eq!(version.status.code(), Some(0));
    assert!(version.stdout.starts_with("minmax-client "));
}

#[test]
fn no_server_is_exit_5() {
    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port().to_string();
    drop(unused);
    let done = run_client(&["lonely", &port, "127.0.0.1"], "1\n");
    assert_eq!(done.status.code(), Some(5));
    assert!(done.stderr.contains("cannot reach the server at 127.0.0.1:"), "{}", done.stderr);
}

#[test]
fn a_server_killed_mid_session_is_exit_5() {
    let (server, _dir) = start_server_logging_starts();
    let mut child = spawn_client(&["victim", &port(&server)]);
    child.stdin.as_mut().unwrap().write_all(b"1 2\n").unwrap();
    wait_until_active(&server, "victim");
    server.kill9();
    // The client notices at once, whether it waits for input or for a reply.
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"3\n");
    let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("the server closed the connection") || stderr.contains("broke"), "{stderr}");
}

/// §7's reply limit (30 s) and connect limit (5 s) are proven on a simulated clock in
/// core (`client::tests::the_reply_limit_is_30_seconds_of_the_clock_given`), so no
/// test here waits for them; this one checks that the loop hands a silent server's
/// session to that clock: the client is still waiting, not failing, while the
/// server says nothing, and a late reply is read.
#[test]
fn a_slow_server_is_waited_for() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (paused_tx, paused_rx) = std::sync::mpsc::channel();
    let (resume_tx, resume_rx) = std::sync::mpsc::channel::<()>();
    let slow = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut conn = Conn { stream };
        conn.recv_bytes().expect("a START");
        conn.send_raw(&frame(br#"{"op": "START", "status": true}"#));
        let number = conn.recv_bytes().expect("a NUMBER");
        paused_tx.send(()).unwrap();
        resume_rx.recv_timeout(TIMEOUT).expect("the test resumes the server");
        conn.send_raw(&frame(br#"{"op": "NUMBER", "status": true}"#));
        conn.recv_bytes().expect("a STOP");
        conn.send_raw(&frame(br#"{"op": "STOP", "status": true, "min": 7, "max": 7}"#));
        String::from_utf8(number).unwrap()
    });
    let mut child = spawn_client(&["patient", &port.to_string(), "127.0.0.1"]);
    child.stdin.as_mut().unwrap().write_all(b"7\n").unwrap();
    drop(child.stdin.take());
    paused_rx.recv_timeout(TIMEOUT).expect("the server got the NUMBER");
    assert_eq!(child.try_wait().unwrap(), None, "the client waits for the late reply");
    resume_tx.send(()).unwrap();
    let done = finish(child);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(done.stdout, "numbers sent (1): 7\nmin: 7\nmax: 7\n");
    assert_eq!(slow.join().unwrap(), r#"{"op": "NUMBER", "number": 7}"#);
}

#[test]
fn sigint_while_waiting_for_input_sends_quit_and_is_exit_4() {
    let (server, _dir) = start_server_logging_starts();
    let mut child = spawn_client(&["interrupted", &port(&server)]);
    child.stdin.as_mut().unwrap().write_all(b"1 2 3\n").unwrap();
    wait_until_active(&server, "interrupted");
    // Our own child, not reaped yet: the pid is its.
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), common::Signal::INT)
        .expect("SIGINT reaches the client");
    let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    assert_eq!(status.code(), Some(4));
    assert_eq!(stdout, "quit: the session was abandoned; nothing was recorded\n");
    let line = server.wait_for_log("nothing recorded");
    assert!(
        line.contains("client_id=\"interrupted\"") && line.contains("the client quit"),
        "the server saw a QUIT, not a disconnect: {line}"
    );
    assert!(report_rows(&server.report()).is_empty());
}

/// A fake server that answers each request with the next scripted reply, as the
/// deployed Python servers do: liberal forms the client must accept (§7).
fn fake_server(replies: Vec<String>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    fake_server_on("127.0.0.1", replies)
}

/// [`fake_server`] listening on `ip` (any port).
fn fake_server_on(ip: &str, replies: Vec<String>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut conn = Conn { stream };
        let mut requests = Vec::new();
        for reply in replies {
            let Some(request) = conn.recv_bytes() else { break };
            requests.push(String::from_utf8(request).unwrap());
            conn.send_raw(&frame(reply.as_bytes()));
        }
        requests
    });
    (port, handle)
}

#[test]
fn replies_from_deployed_python_servers_are_read_liberally() {
    let (port, server) = fake_server(vec![
        r#"{"op": "START", "status": true}"#.into(),
        r#"{"op": "START", "status": true}"#.into(),
        r#"{"status": true}"#.into(),
        r#"{"op": "STOP", "status": true, "minimum": "-4", "maximum": 10}"#.into(),
    ]);
    let done = run_client(&["liberal", &port.to_string(), "127.0.0.1"], "-4 10\n");
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(done.stdout, "numbers sent (2): -4 10\nmin: -4\nmax: 10\n");
    let requests = server.join().unwrap();
    assert_eq!(
        requests[0], r#"{"op": "START", "client_id": "liberal", "cipher": null}"#,
        "byte for byte as json.dumps"
    );
    assert_eq!(requests[1], r#"{"op": "NUMBER", "number": -4}"#);
    assert_eq!(requests[3], r#"{"op": "STOP"}"#);
}

#[test]
fn an_encrypted_session_accepts_a_plain_stop_reply() {
    let (port, server) = fake_server(vec![
        r#"{"op": "START", "status": true}"#.into(),
        r#"{"op": "NUMBER", "status": true}"#.into(),
        r#"{"op": "STOP", "status": true, "min": 6, "max": "6"}"#.into(),
    ]);
    let done = run_client(&["plainreply", &port.to_string(), "127.0.0.1", "--encrypt"], "6\n");
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(done.stdout, "numbers sent (1): 6\nmin: 6\nmax: 6\n");
    let requests = server.join().unwrap();
    let start: serde_json::Value = serde_json::from_str(&requests[0]).unwrap();
    let key = start["cipher"].as_str().expect("the key is sent in base64");
    assert_eq!(key.len(), 24, "a 16-byte key");
    let number: serde_json::Value = serde_json::from_str(&requests[1]).unwrap();
    let cipher = minmax_core::Cipher::from_base64(key).unwrap();
    assert_eq!(cipher.decrypt(number["number"].as_str().unwrap()), Ok(6));
}

#[test]
fn every_session_draws_a_fresh_key() {
    let keys: Vec<String> = (0..2)
        .map(|_| {
            let (port, server) =
                fake_server(vec![r#"{"op": "START", "status": false, "error": "Cliente existente"}"#.into()]);
            let done = run_client(&["k", &port.to_string(), "127.0.0.1", "--encrypt"], "");
            assert_eq!(done.status.code(), Some(3));
            let start: serde_json::Value = serde_json::from_str(&server.join().unwrap()[0]).unwrap();
            start["cipher"].as_str().unwrap().to_string()
        })
        .collect();
    assert_ne!(keys[0], keys[1]);
}

/// The client's messages on standard error (its own lines, not the program's name).
fn messages(done: &Finished) -> Vec<&str> {
    done.stderr.lines().map(|line| line.strip_prefix("minmax-client: ").unwrap_or(line)).collect()
}

/// A hostile server's text (its error, a reply that is not JSON) reaches the terminal
/// with every control character shown, not acted on, and cut to an excerpt: no
/// server can colour, clear or forge lines of the client's output. `--json` keeps the
/// error exactly, since JSON escapes it already.
#[test]
fn a_servers_text_is_shown_escaped_and_cut() {
    let evil = "evil\u{1b}[31mRED\u{1b}[0m\nfake line\r\u{202e}desrever\u{2066}";
    let long = format!("{}\u{7}", "A".repeat(100_000));
    for error in [evil.to_string(), long.clone()] {
        for json in [false, true] {
            let reply = serde_json::json!({"op": "START", "status": false, "error": error}).to_string();
            let (port, server) = fake_server(vec![reply]);
            let port = port.to_string();
            let mut args = vec!["hostile", port.as_str(), "127.0.0.1"];
            if json {
                args.push("--json");
            }
            let done = run_client(&args, "3\n");
            server.join().unwrap();
            assert_eq!(done.status.code(), Some(3), "{}", done.stderr);
            for raw in ['\u{1b}', '\r', '\u{7}', '\u{202e}', '\u{2066}'] {
                assert!(!done.stderr.contains(raw), "{raw:?} reached the terminal: {:?}", done.stderr);
            }
            assert_eq!(messages(&done).len(), 1, "one line, none forged: {:?}", done.stderr);
            assert!(done.stderr.len() < 600, "{} bytes of stderr: {:?}", done.stderr.len(), done.stderr);
            if error == evil {
                assert!(
                    done.stderr.contains(
                        "the server refused START: evil^[[31mRED^[[0m^Jfake line^M<U+202E>desrever<U+2066>"
                    ),
                    "{:?}",
                    done.stderr
                );
            } else {
                assert!(done.stderr.contains("... (100001 characters)"), "{:?}", done.stderr);
            }
            if json {
                assert_eq!(done.stdout.lines().count(), 1, "{:?}", done.stdout);
                let value: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
                assert_eq!(value["error"].as_str(), Some(error.as_str()), "the error is kept exactly");
                let message = value["message"].as_str().unwrap();
                assert!(!message.contains('\u{1b}') && message.len() < 600, "{message:?}");
            }
        }
    }
    // A reply that is not JSON is quoted the same way.
    let garbage = format!("\u{1b}[2J\u{1b}]0;pwned\u{7}not json\n{}", "B".repeat(100_000));
    let (port, server) = fake_server(vec![garbage]);
    let done = run_client(&["hostile", &port.to_string(), "127.0.0.1"], "3\n");
    server.join().unwrap();
    assert_eq!(done.status.code(), Some(5), "{}", done.stderr);
    for raw in ['\u{1b}', '\u{7}'] {
        assert!(!done.stderr.contains(raw), "{raw:?} reached the terminal: {:?}", done.stderr);
    }
    assert_eq!(messages(&done).len(), 1, "{:?}", done.stderr);
    assert!(done.stderr.len() < 600, "{} bytes of stderr", done.stderr.len());
    assert!(
        done.stderr
            .contains("the server's reply to START is not a JSON object: \"^[[2J^[]0;pwned^Gnot json^JBBB"),
        "{:?}",
        done.stderr
    );
    assert!(done.stderr.contains("... (100023 bytes)"), "{:?}", done.stderr);
}

/// §7: exit 3 is only a server's `status: false`; a reply without a boolean status
/// cannot be understood, which is exit 5, with or without `--json`.
#[test]
fn a_reply_without_a_boolean_status_is_exit_5() {
    for (reply, shown) in [
        (r#"{"op": "START"}"#, "has no status"),
        (r#"{"op": "START", "status": "true"}"#, r#"has status "true""#),
    ] {
        for json in [false, true] {
            let (port, server) = fake_server(vec![reply.to_string()]);
            let port = port.to_string();
            let mut args = vec!["unsure", port.as_str(), "127.0.0.1"];
            if json {
                args.push("--json");
            }
            let done = run_client(&args, "3\n");
            server.join().unwrap();
            assert_eq!(done.status.code(), Some(5), "{reply}: {}", done.stderr);
            let expected = format!(
                "the server's reply to START {shown}: expected a boolean status (\"status\": true or false)"
            );
            assert_eq!(messages(&done), [expected.as_str()], "{reply}");
            if json {
                let value: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
                assert_eq!(value["outcome"], "error", "{value}");
                assert_eq!(value["exit_code"], 5, "{value}");
                assert_eq!(value["message"], expected.as_str(), "{value}");
            }
        }
    }
}

/// §7's HOST is a DNS name or a dotted IPv4 address X.X.X.X as written. The
/// system's resolver reads other numeric forms its own way (010 as octal 8, 0x7f as
/// hexadecimal, 127.1 as 127.0.0.1), so a host made of numbers that is not such an
/// address would connect elsewhere than the command line says: it is refused (exit
/// 2, before connecting), and a canonical one is connected to as written.
#[test]
fn a_numeric_host_must_be_a_canonical_dotted_ipv4_address() {
    let prefix = "is not an IPv4 address of the form X.X.X.X, each X a decimal from 0 to 255 without \
                  leading zeros: ";
    for (host, reason) in [
        (
            "127.0.0.010",
            "010 has a leading zero, which the system's resolver reads as octal; write 127.0.0.10",
        ),
        (
            "0177.0.0.1",
            "0177 has a leading zero, which the system's resolver reads as octal; write 177.0.0.1",
        ),
        ("0x7f.0.0.1", "0x7f is hexadecimal; write 127.0.0.1"),
        ("0X7F.0.0.0x1", "0X7F is hexadecimal; write 127.0.0.1"),
        ("127.1", "it has 2 parts, not 4"),
        ("2130706433", "it has 1 part, not 4"),
        ("0x7f000001", "it has 1 part, not 4"),
        ("127.0.0.1.", "it has 5 parts, not 4"),
        ("127..0.1", "a part is empty"),
        ("300.1.1.1", "300 is above 255"),
    ] {
        let done = run_client(&["anton", "5000", host, "--json"], "");
        assert_eq!(done.status.code(), Some(2), "{host}: {}", done.stderr);
        let expected = format!("invalid host: \"{host}\" {prefix}{reason}");
        assert_eq!(messages(&done), [expected.as_str()], "{host}");
        let value: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
        assert_eq!(value["message"], expected.as_str(), "{host}");
    }
    let (port, server) = fake_server_on(
        "127.0.0.10",
        vec![
            r#"{"op": "START", "status": true}"#.into(),
            r#"{"op": "NUMBER", "status": true}"#.into(),
            r#"{"op": "STOP", "status": true, "min": 4, "max": 4}"#.into(),
        ],
    );
    let done = run_client(&["anton", &port.to_string(), "127.0.0.10"], "4\n");
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert_eq!(server.join().unwrap().len(), 3);
    // Names made of letters, digits and hyphens are still names.
    let done = run_client(&["anton", "5000", "0x7f.no-such-host.invalid"], "");
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(done.stderr.contains("host \"0x7f.no-such-host.invalid\" does not exist"), "{}", done.stderr);
}

/// Output of a process on a pseudo-terminal, collected by a thread.
struct Terminal {
    master: std::fs::File,
    output: Arc<(Mutex<String>, Condvar)>,
}

impl Terminal {
    fn open() -> (Terminal, std::fs::File) {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new().read(true).write(true).open(name.to_str().unwrap()).unwrap();
        let master = std::fs::File::from(master);
        let output = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Reading the master fails with EIO once the client exits and closes the slave.
            while let Ok(count) = reader.read(&mut buffer) {
                if count == 0 {
                    break;
                }
                sink.0.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..count]));
                sink.1.notify_all();
            }
        });
        (Terminal { master, output }, slave)
    }

    /// Waits until the output holds `needle` `times` times.
    fn wait_for(&self, needle: &str, times: usize) -> String {
        let (text, grew) = &*self.output;
        let text = text.lock().unwrap();
        let (text, timeout) =
            grew.wait_timeout_while(text, TIMEOUT, |text| text.matches(needle).count() < times).unwrap();
        assert!(!timeout.timed_out(), "{needle:?} x{times} never appeared in: {text:?}");
        text.clone()
    }

    fn type_line(&mut self, line: &str) {
        self.master.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

#[test]
fn on_a_terminal_the_client_prompts_and_explains_invalid_tokens() {
    let server = Server::start(&[]);
    let (mut terminal, slave) = Terminal::open();
    let mut child = Command::new(client_binary())
        .args(["tty", &port(&server)])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let prompt = minmax_core::client::PROMPT;
    terminal.wait_for(prompt, 1);
    terminal.type_line("5, -3");
    terminal.wait_for(prompt, 2);
    terminal.type_line("twelve");
    let shown = terminal.wait_for(prompt, 3);
    assert!(shown.contains("\"twelve\" is not an integer"), "{shown}");
    assert!(shown.contains("nothing from this line was sent, try again"), "{shown}");
    terminal.type_line("12 stop");
    let shown = terminal.wait_for("max: 12", 1);
    assert!(shown.contains("numbers sent (3): 5 -3 12"), "{shown}");
    let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
    assert_eq!(status.code(), Some(0));
    assert_eq!(report_rows(&server.report())[0], ["tty", "3", "-3", "12"].map(String::from));
}

#[test]
fn on_a_terminal_help_escape_sequences_and_ctrl_c_read_well() {
    let (server, _dir) = start_server_logging_starts();
    let (mut terminal, slave) = Terminal::open();
    let mut child = Command::new(client_binary())
        .args(["keys", &port(&server)])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let prompt = minmax_core::client::PROMPT;
    terminal.wait_for(prompt, 1);
    terminal.type_line("help");
    let shown = terminal.wait_for(prompt, 2);
    assert!(shown.contains("stop, s     end the session"), "help is understood: {shown}");
    terminal.type_line("?");
    terminal.wait_for(prompt, 3);
    terminal.type_line("\x1b[A");
    let shown = terminal.wait_for(prompt, 4);
    assert!(
        shown.contains("\"^[[A\" is not an integer") && shown.contains("the up arrow key"),
        "the up arrow is shown as a terminal shows it: {shown}"
    );
    assert!(!shown.contains("\\u{1b}"), "no Rust debug string: {shown}");
    terminal.type_line("5");
    terminal.wait_for(prompt, 5);
    wait_until_active(&server, "keys");
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), common::Signal::INT)
        .expect("SIGINT reaches the client");
    let shown = terminal.wait_for("quit: the session was abandoned", 1);
    assert!(
        shown.ends_with(&format!("{prompt}\r\nquit: the session was abandoned; nothing was recorded\r\n")),
        "after Ctrl-C the outcome starts on a line of its own: {shown:?}"
    );
    let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
    assert_eq!(status.code(), Some(4));
}

#[test]
fn quiet_prints_only_count_min_and_max() {
    let server = Server::start(&[]);
    for option in ["--quiet", "--summary", "-q"] {
        let done = run_client(&["quiet", &port(&server), option], "5 -3\n12\n");
        assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
        assert_eq!(done.stdout, "count: 3\nmin: -3\nmax: 12\n", "{option}");
    }
    let done = run_client(&["quiet", &port(&server), "--quiet", "--json"], "5 -3\n12\n");
    let value: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"client_id": "quiet", "outcome": "stopped", "exit_code": 0, "count": 3, "min": -3, "max": 12})
    );
}

/// Issue 14: `--json` prints one object for every outcome, with the exit code.
#[test]
fn json_prints_one_object_for_every_outcome() {
    let server = Server::start(&[]);
    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = unused.local_addr().unwrap().port().to_string();
    drop(unused);
    let mut holder = server.connect();
    holder.request(r#"{"op": "START", "client_id": "taken"}"#);
    let cases: [(&[&str], &str, i32, &str); 6] = [
        (&["j", &port(&server), "--json"], "1 q\n", 4, "quit"),
        (&["j", &port(&server), "--json"], "1 x\n", 2, "quit"),
        (&["taken", &port(&server), "--json"], "1\n", 3, "refused"),
        (&["j", &closed_port, "127.0.0.1", "--json"], "1\n", 5, "error"),
        (&["j", "http", "--json"], "", 2, "error"),
        (&["=j", "5000", "--json"], "", 2, "error"),
    ];
    for (args, input, code, outcome) in cases {
        let done = run_client(args, input);
        assert_eq!(done.status.code(), Some(code), "{args:?}: {}", done.stderr);
        assert_eq!(done.stdout.lines().count(), 1, "{args:?}: one line: {:?}", done.stdout);
        let value: serde_json::Value = serde_json::from_str(&done.stdout)
            .unwrap_or_else(|error| panic!("{args:?}: not JSON ({error}): {:?}", done.stdout));
        assert_eq!(value["outcome"], outcome, "{args:?}: {value}");
        assert_eq!(value["exit_code"], code, "{args:?}: {value}");
        let message = value["message"].as_str().expect("a message");
        assert!(!message.is_empty());
        if outcome == "refused" {
            assert_eq!(value["error"], "Cliente existente");
            assert_eq!(value["op"], "START");
        }
    }
}

/// §7: `--json` prints one object for every outcome, a wrong number of arguments
/// or an unknown option (exit 1) included, in the shape of the exit-2 argument
/// errors; standard error still has the usual message, and without `--json`
/// standard output stays empty.
#[test]
fn json_prints_an_object_for_usage_errors_too() {
    let cases: [(&[&str], &str); 6] = [
        (&["x", "--json"], "the following required arguments were not provided: <PORT>"),
        (&["--json"], "the following required arguments were not provided: <CLIENT_ID> <PORT>"),
        (&["a", "5000", "--json", "--bogus"], "unexpected argument \"--bogus\""),
        (&["a", "5000", "localhost", "extra", "--json"], "unexpected argument \"extra\""),
        (
            &["a", "5000", "--tls-ca", "ca.pem", "--json"],
            "the following required arguments were not provided: --tls",
        ),
        (&["a", "5000", "--json", "--json"], "the argument '--json' cannot be used multiple times"),
    ];
    for (args, reason) in cases {
        let done = run_client(args, "1\n");
        assert_eq!(done.status.code(), Some(1), "{args:?}: {}", done.stderr);
        assert!(done.stderr.starts_with("error: "), "{args:?}: the usual message: {}", done.stderr);
        assert_eq!(done.stdout.lines().count(), 1, "{args:?}: one line: {:?}", done.stdout);
        let value: serde_json::Value = serde_json::from_str(&done.stdout)
            .unwrap_or_else(|error| panic!("{args:?}: not JSON ({error}): {:?}", done.stdout));
        let message = value["message"].as_str().expect("a message").to_string();
        assert_eq!(
            value,
            serde_json::json!({"client_id": null, "outcome": "error", "exit_code": 1, "message": message}),
            "{args:?}"
        );
        assert!(message.starts_with(reason), "{args:?}: {message:?}");
        assert!(
            message.ends_with(
                "; expected: minmax-client [OPTIONS] <CLIENT_ID> <PORT> [HOST] (see minmax-client --help)"
            ),
            "{args:?}: {message:?}"
        );
        let without: Vec<&str> = args.iter().copied().filter(|arg| *arg != "--json").collect();
        if without.len() + 1 == args.len() {
            let done = run_client(&without, "1\n");
            assert_eq!(done.status.code(), Some(1), "{without:?}: {}", done.stderr);
            assert_eq!(done.stdout, "", "{without:?}: no JSON without --json");
        }
    }
    let help = run_client(&["--help", "--json"], "");
    assert_eq!(help.status.code(), Some(0));
    assert!(help.stdout.starts_with("The minmax client"), "help, not JSON: {}", help.stdout);
}

/// Issue 10, item 9: a closed standard error (a pipe nobody reads, and a closed
/// descriptor) while an invalid piped token must be reported: QUIT is still sent,
/// and the exit is 2, not a panic's 101.
#[test]
fn a_closed_stderr_still_quits_with_2() {
    let ok = |op: &str| format!(r#"{{"op": "{op}", "status": true}}"#);
    for closed in ["a pipe without a reader", "a closed descriptor"] {
        let (port, server) = fake_server(vec![ok("START"), ok("NUMBER"), ok("QUIT")]);
        let port = port.to_string();
        let mut command = if closed == "a closed descriptor" {
            let mut shell = Command::new("sh");
            shell.args(["-c", "exec \"$0\" \"$@\" 2>&-", client_binary(), "quiet", &port, "127.0.0.1"]);
            shell.stderr(Stdio::null());
            shell
        } else {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            let mut client = Command::new(client_binary());
            client.args(["quiet", &port, "127.0.0.1"]).stderr(writer);
            client
        };
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.as_mut().unwrap().write_all(b"1 x\n").unwrap();
        drop(child.stdin.take());
        let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
        assert_eq!(status.code(), Some(2), "{closed}");
        let requests = server.join().unwrap();
        assert_eq!(requests.last().map(String::as_str), Some(r#"{"op": "QUIT"}"#), "{closed}: {requests:?}");
    }
}

/// Issue 10, item 10: standard output on /dev/full: the session succeeds, the result
/// cannot be written, and the client says so and exits 6 (as `--help` documents).
#[test]
fn an_unwritable_stdout_is_exit_6_with_a_message() {
    let server = Server::start(&[]);
    for json in [false, true] {
        let id = if json { "full-json" } else { "full" };
        let mut args = vec![id, "0"];
        let port = port(&server);
        args[1] = &port;
        if json {
            args.push("--json");
        }
        let mut child = Command::new(client_binary())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.as_mut().unwrap().write_all(b"4 2\n").unwrap();
        drop(child.stdin.take());
        let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(6), "{stderr}");
        assert!(
            stderr.contains("cannot write the result to standard output (No space left on device"),
            "{stderr}"
        );
    }
    let rows = report_rows(&server.report());
    assert_eq!(rows.len(), 2, "both sessions stopped: only their output was lost");
}

/// Issue 10, item 11: a name server that never answers is a temporary failure (exit
/// 5), given up within the 5 s connect limit; only a name that does not exist is an
/// invalid argument (exit 2, in `argument_errors_...`). The client runs with a
/// resolv.conf, bind-mounted in a private mount namespace, that names a UDP socket
/// this test holds and never answers from. Needs root (for `unshare` and port 53).
#[test]
fn a_name_server_that_never_answers_is_exit_5() {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "SKIPPED a_name_server_that_never_answers_is_exit_5: needs root (unshare --mount, port 53)"
        );
        return;
    }
    let unshare_works = Command::new("unshare")
        .args(["--mount", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !unshare_works {
        eprintln!("SKIPPED a_name_server_that_never_answers_is_exit_5: `unshare --mount` does not work here");
        return;
    }
    let Some(silent) = (2..=250)
        .find_map(|x| std::net::UdpSocket::bind(("127.77.0.".to_string() + &x.to_string(), 53)).ok())
    else {
        eprintln!("SKIPPED a_name_server_that_never_answers_is_exit_5: no free 127.77.0.x:53");
        return;
    };
    let dns = silent.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    // A long resolver timeout: only the client's own 5 s limit can end the wait
    // before the harness's.
    std::fs::write(&resolv, format!("nameserver {}\noptions timeout:30 attempts:1\n", dns.ip())).unwrap();
    // The socket stays open (this handle) until the client has exited: a closed one
    // would refuse the next query at once, which is another failure than silence.
    let listening = silent.try_clone().unwrap();
    listening.set_read_timeout(Some(TIMEOUT)).unwrap();
    let queries = std::thread::spawn(move || {
        let mut buffer = [0u8; 512];
        listening.recv_from(&mut buffer).map(|(count, _)| count).unwrap_or(0)
    });
    let started = Instant::now();
    let child = Command::new("unshare")
        .args(["--mount", "sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\""])
        .arg(&resolv)
        .args([client_binary(), "dns", "5000", "minmax-silent-dns.test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let done = finish(child);
    let waited = started.elapsed();
    eprintln!("a name server that never answers: exit {:?} after {waited:?}", done.status.code());
    assert_eq!(done.status.code(), Some(5), "{}", done.stderr);
    assert!(
        done.stderr.contains("the name service did not resolve host \"minmax-silent-dns.test\" within 5 s"),
        "{}",
        done.stderr
    );
    assert!(queries.join().unwrap() > 0, "the client asked the silent name server");
    drop(silent);
}

/// Issue 10, item 12: a 100 KB id, port or host is shown as an excerpt.
#[test]
fn huge_arguments_are_shown_as_excerpts() {
    let huge = "9".repeat(100_000);
    let letters = "a".repeat(100_000);
    for (args, what) in [
        (vec![letters.as_str(), "5000"], "client id"),
        (vec!["anton", huge.as_str()], "port"),
        (vec!["anton", "5000", letters.as_str()], "host"),
    ] {
        let done = run_client(&args, "");
        assert_eq!(done.status.code(), Some(2), "{what}");
        assert!(done.stderr.len() < 400, "{what}: {} bytes of stderr: {}", done.stderr.len(), done.stderr);
        assert!(done.stderr.contains("(100000 characters)"), "{what}: {}", done.stderr);
        assert!(done.stderr.contains(&format!("invalid {what}")), "{what}: {}", done.stderr);
    }
}

/// Issue 10, item 13: one 200 MB line of digits is rejected with bounded memory: the
/// client runs with a 64 MiB data limit (the whole line would need 200 MB), reports
/// the token as soon as it is longer than any integer, quits the session and exits 2
/// without reading the rest.
#[test]
fn a_200_mb_line_of_digits_is_rejected_with_bounded_memory() {
    let ok = |op: &str| format!(r#"{{"op": "{op}", "status": true}}"#);
    let (port, server) = fake_server(vec![ok("START"), ok("QUIT")]);
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -d 65536 && exec \"$0\" \"$@\"",
            client_binary(),
            "digits",
            &port.to_string(),
            "127.0.0.1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'1'; 1 << 20];
        let mut written = 0usize;
        while written < 200_000_000 {
            match stdin.write(&chunk) {
                Ok(count) => written += count,
                Err(_) => break,
            }
        }
        written
    });
    let done = finish(child);
    let written = writer.join().unwrap();
    eprintln!("a 200 MB line: the client took {written} bytes before it exited");
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("line 1: \"1111111111111111111111111111111111111111\"... (more than 4301 characters)"),
        "{}",
        done.stderr
    );
    assert!(written < 200_000_000, "the client stopped reading once the token was too long");
    let requests = server.join().unwrap();
    assert_eq!(requests.last().map(String::as_str), Some(r#"{"op": "QUIT"}"#), "{requests:?}");
}
