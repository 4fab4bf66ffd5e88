//! Many clients, misbehaving clients and the server's limits (PROTOCOL §1, §2, §7),
//! against the real `minmax-server`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Conn, Server, frame, report_rows};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

/// A small deterministic generator, so that a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn number(&mut self) -> i64 {
        let magnitude = match self.next() % 3 {
            0 => self.next() % 100,
            1 => self.next() % 1_000_000_000,
            _ => self.next() << 30 | self.next(),
        } as i64;
        if self.next().is_multiple_of(2) { magnitude } else { -magnitude }
    }
}

#[test]
fn two_hundred_concurrent_clients_each_get_their_own_min_and_max() {
    let server = Server::start(&[]);
    let addr = server.addr;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(200));
    let clients: Vec<_> = (0..200u64)
        .map(|client| {
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut random = Lcg(client + 1);
                let numbers: Vec<i64> = (0..1 + random.next() % 40).map(|_| random.number()).collect();
                let mut conn = Conn::connect(addr);
                // Every client holds its connection open before any starts a session.
                barrier.wait();
                let id = format!("client-{client}");
                let texts: Vec<String> = numbers.iter().map(i64::to_string).collect();
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let reply = conn.session(&id, &texts);
                let (min, max) = (numbers.iter().min().unwrap(), numbers.iter().max().unwrap());
                assert_eq!(reply, format!(r#"{{"op": "STOP", "status": true, "min": {min}, "max": {max}}}"#));
                (id, [numbers.len().to_string(), min.to_string(), max.to_string()])
            })
        })
        .collect();
    let expected: BTreeMap<String, [String; 3]> =
        clients.into_iter().map(|client| client.join().unwrap()).collect();
    let rows: BTreeMap<String, [String; 3]> = report_rows(&server.report())
        .into_iter()
        .map(|[id, count, min, max]| (id, [count, min, max]))
        .collect();
    assert_eq!(rows.len(), 200, "one row per session, none twice");
    assert_eq!(rows, expected);
}

#[test]
fn connections_beyond_the_limit_are_told_the_server_is_busy() {
    let server = Server::start(&["--max-connections", "2"]);
    let mut first = server.connect();
    let _second = server.connect();
    // The first connection's reply proves both earlier accepts happened.
    assert_eq!(
        first.request(r#"{"op": "START", "client_id": "first"}"#),
        r#"{"op": "START", "status": true}"#
    );
    // A client over the limit that speaks at once still gets its answer, then a
    // clean close rather than a reset.
    let mut third = server.connect();
    third.send(r#"{"op": "START", "client_id": "third"}"#);
    assert_eq!(third.recv(), r#"{"op": null, "status": false, "error": "Servidor ocupado"}"#);
    third.expect_closed();
    drop(first);
    server.wait_for_log("client_id=\"first\"");
    let mut fourth = server.connect();
    assert_eq!(fourth.session("after", &["1"]), r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"#);
}

#[test]
fn resets_bare_connects_and_cut_frames_touch_only_their_connection() {
    let server = Server::start(&[]);
    let mut bystander = server.connect();
    assert_eq!(
        bystander.request(r#"{"op": "START", "client_id": "bystander"}"#),
        r#"{"op": "START", "status": true}"#
    );

    // A reset in the middle of a session (SO_LINGER 0 makes close send RST).
    let mut reset = server.connect();
    assert_eq!(
        reset.request(r#"{"op": "START", "client_id": "reset"}"#),
        r#"{"op": "START", "status": true}"#
    );
    socket2::SockRef::from(&reset.stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(reset);

    // A bare connect and close.
    drop(std::net::TcpStream::connect(server.addr).unwrap());

    // End of stream in the middle of a length prefix, and in the middle of a payload.
    let mut cut_prefix = server.connect();
    cut_prefix.send_raw(&[0, 0]);
    drop(cut_prefix);
    let mut cut_payload = server.connect();
    cut_payload.send_raw(&frame(br#"{"op": "START", "client_id": "cut"}"#)[..10]);
    drop(cut_payload);

    // The reset client's id is free again, and the bystander never noticed.
    server.wait_for_log("client_id=\"reset\"");
    let mut again = server.connect();
    assert_eq!(again.session("reset", &["3"]), r#"{"op": "STOP", "status": true, "min": 3, "max": 3}"#);
    assert_eq!(bystander.request(r#"{"op": "NUMBER", "number": 9}"#), r#"{"op": "NUMBER", "status": true}"#);
    assert_eq!(
        bystander.request(r#"{"op": "STOP"}"#),
        r#"{"op": "STOP", "status": true, "min": 9, "max": 9}"#
    );
    assert_eq!(report_rows(&server.report()).len(), 2);
    // A flood of resets: ordinary disconnects, not a warning each (§7).
    for _ in 0..50 {
        let mut reset = server.connect();
        reset.send_raw(&frame(br#"{"op": "QUIT"}"#));
        socket2::SockRef::from(&reset.stream).set_linger(Some(Duration::ZERO)).unwrap();
    }
    let (_, log) = server.terminate();
    assert!(!log.contains("WARN"), "{log}");
}

/// Order and outcome only: the deadline itself (counted from the frame's first byte,
/// not extended by more bytes) is proven with simulated time in core's server tests.
#[test]
fn a_half_sent_frame_delays_nobody_and_is_closed_after_the_frame_timeout() {
    let server = Server::start(&["--frame-timeout", "3"]);
    let mut loris = server.connect();
    loris.send_raw(&frame(br#"{"op": "START", "client_id": "loris"}"#)[..12]);

    // A whole session completes beside it, while it is still open.
    let mut other = server.connect();
    assert_eq!(
        other.session("quick", &["1", "2", "3"]),
        r#"{"op": "STOP", "status": true, "min": 1, "max": 3}"#
    );
    loris.stream.set_nonblocking(true).unwrap();
    let mut probe = [0u8; 1];
    let still_open =
        matches!(loris.stream.read(&mut probe), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock);
    assert!(still_open, "the half-sent frame was closed before a whole session beside it ended");
    loris.stream.set_nonblocking(false).unwrap();

    // More bytes of the same frame, then the close: no reply, a reason in the log.
    loris.send_raw(b"x");
    let mut rest = Vec::new();
    let outcome = loris.stream.read_to_end(&mut rest);
    assert!(outcome.is_ok() && rest.is_empty(), "closed without a reply: {outcome:?} {rest:?}");
    server.wait_for_log("a frame was left half-sent");
}

#[test]
fn an_idle_connection_is_closed_and_its_session_discarded() {
    let server = Server::start(&["--idle-timeout", "0.5"]);
    let mut idle = server.connect();
    assert_eq!(
        idle.request(r#"{"op": "START", "client_id": "sleepy"}"#),
        r#"{"op": "START", "status": true}"#
    );
    idle.expect_closed();
    server.wait_for_log("no request within --idle-timeout");
    let mut again = server.connect();
    assert_eq!(
        again.request(r#"{"op": "START", "client_id": "sleepy"}"#),
        r#"{"op": "START", "status": true}"#
    );
}

#[test]
fn a_client_that_does_not_read_stops_being_read() {
    // Backpressure: past the high-water mark of pending replies the server stops
    // reading the connection, so a client that sends without reading cannot make it
    // buffer without bound. Once the client reads, everything arrives, in order.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[], |command| {
        command.env("RUST_LOG", "info,minmax_net=debug");
    })
    .unwrap_or_else(|failed| panic!("{}", failed.stderr));
    let baseline = server.rss_kib();
    let mut conn = server.connect();
    let numbers = 300_000;
    let mut burst = frame(br#"{"op": "START", "client_id": "slow-reader"}"#);
    for _ in 0..numbers {
        burst.extend(frame(br#"{"op": "NUMBER", "number": 1}"#));
    }
    let burst_kib = burst.len() as u64 / 1024;
    let mut writer = conn.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&burst));
    server.wait_for_log("reading paused");
    let stalled = server.rss_kib();
    assert!(
        stalled < baseline + 4 * 1024,
        "the server grew from {baseline} KiB to {stalled} KiB for one client that sent {burst_kib} KiB and read nothing"
    );
    assert_eq!(conn.recv(), r#"{"op": "START", "status": true}"#);
    for _ in 0..numbers {
        assert_eq!(conn.recv(), r#"{"op": "NUMBER", "status": true}"#);
    }
    sender.join().unwrap().unwrap();
    server.wait_for_log("reading resumed");
}
