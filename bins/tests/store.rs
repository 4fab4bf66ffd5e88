//! Several servers on one PostgreSQL store (PROTOCOL §10), against the real
//! `minmax-server` and a throwaway PostgreSQL the test starts itself (Unix socket
//! only; skipped with a message where PostgreSQL is not installed): one id space
//! across servers, races, a server SIGKILLed while holding ids, durability of
//! acknowledged rows, the store lost under load, the store's metrics, and `export`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::postgres::{Postgres, timed};
use common::{Conn, Server, TIMEOUT, frame, report_rows};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Instant;

const START_OK: &str = r#"{"op": "START", "status": true}"#;
const EXISTS: &str = r#"{"op": "START", "status": false, "error": "Cliente existente"}"#;

fn store() -> Option<Postgres> {
    match Postgres::start() {
        Ok(postgres) => Some(postgres),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

fn server_on(store: &Postgres) -> Server {
    Server::start(&["--store", &store.url()])
}

fn start(conn: &mut Conn, id: &str) -> String {
    conn.request(&format!(r#"{{"op": "START", "client_id": "{id}"}}"#))
}

/// `minmax-server export` of the store: the bytes of report.csv.
fn export(store: &Postgres) -> Vec<u8> {
    let output = std::process::Command::new(common::server_binary())
        .args(["export", "--store", &store.url()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn exported_ids(store: &Postgres) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    std::fs::write(&path, export(store)).unwrap();
    report_rows(&path).into_iter().map(|[id, ..]| id).collect()
}

#[test]
fn one_id_is_active_on_one_server_at_a_time() {
    let Some(store) = store() else { return };
    let (a, b) = (server_on(&store), server_on(&store));
    let mut on_a = a.connect();
    let mut on_b = b.connect();
    assert_eq!(start(&mut on_a, "anton"), START_OK);
    assert_eq!(start(&mut on_b, "anton"), EXISTS, "active on the other server");
    // QUIT's reply comes once the id is free everywhere: B takes it at once.
    assert_eq!(on_a.request(r#"{"op": "QUIT"}"#), r#"{"op": "QUIT", "status": true}"#);
    assert_eq!(start(&mut on_b, "anton"), START_OK);
    assert_eq!(on_b.request(r#"{"op": "NUMBER", "number": 7}"#), r#"{"op": "NUMBER", "status": true}"#);
    // So does STOP's: its row is committed and the id released before the reply.
    assert_eq!(on_b.request(r#"{"op": "STOP"}"#), r#"{"op": "STOP", "status": true, "min": 7, "max": 7}"#);
    assert_eq!(start(&mut on_a, "anton"), START_OK);
    // And a disconnect frees it too (the release needs no reply; retried until done).
    drop(on_a);
    let (taken, took) = timed(|| retry_start(b.addr, "anton"));
    assert!(taken, "the id stays taken after its connection closed");
    eprintln!("freed by a disconnect: taken on the other server after {took:?}");
    assert_eq!(exported_ids(&store), ["anton"]);
}

/// STARTs `id` on a new connection to `addr` until it succeeds (true) or TIMEOUT
/// passes; every attempt is a round trip, so no sleep is needed.
fn retry_start(addr: SocketAddr, id: &str) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    let mut conn = Conn::connect(addr);
    while Instant::now() < deadline {
        match start(&mut conn, id).as_str() {
            START_OK => return true,
            EXISTS => {}
            other => panic!("{other}"),
        }
    }
    false
}

#[test]
fn of_200_starts_racing_across_two_servers_exactly_one_wins() {
    let Some(store) = store() else { return };
    let servers = [server_on(&store), server_on(&store)];
    let addrs: Vec<SocketAddr> = servers.iter().map(|server| server.addr).collect();
    let barrier = Arc::new(Barrier::new(200));
    let racers: Vec<_> = (0..200)
        .map(|n| {
            let (addr, barrier) = (addrs[n % 2], Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut conn = Conn::connect(addr);
                barrier.wait();
                let reply = start(&mut conn, "contested");
                // Keep the winner's session open until every racer has its answer.
                (reply, conn)
            })
        })
        .collect();
    let outcomes: Vec<(String, Conn)> = racers.into_iter().map(|racer| racer.join().unwrap()).collect();
    let winners = outcomes.iter().filter(|(reply, _)| reply == START_OK).count();
    let losers = outcomes.iter().filter(|(reply, _)| reply == EXISTS).count();
    assert_eq!((winners, losers), (1, 199));
    eprintln!("200-way race across two servers: {winners} START accepted, {losers} refused");
}

#[test]
fn a_server_killed_while_holding_ids_frees_them_for_the_others() {
    let Some(store) = store() else { return };
    let survivor = server_on(&store);
    let victim = server_on(&store);
    let mut held = Vec::new();
    for n in 0..5 {
        let mut conn = victim.connect();
        assert_eq!(start(&mut conn, &format!("held-{n}")), START_OK);
        held.push(conn);
    }
    assert_eq!(start(&mut survivor.connect(), "held-0"), EXISTS);
    victim.kill9();
    let ((), took) = timed(|| {
        for n in 0..5 {
            assert!(retry_start(survivor.addr, &format!("held-{n}")), "held-{n} never came free");
        }
    });
    eprintln!("SIGKILL: the dead server's 5 ids were free on the other after {took:?}");
}

#[test]
fn an_acknowledged_stop_is_in_the_store_exactly_once_after_a_sigkill() {
    let Some(store) = store() else { return };
    let server = server_on(&store);
    let mut conn = server.connect();
    assert_eq!(
        conn.session("last-words", &["3", "-1"]),
        r#"{"op": "STOP", "status": true, "min": -1, "max": 3}"#
    );
    server.kill9();
    assert_eq!(exported_ids(&store), ["last-words"]);
}

#[test]
fn a_store_lost_under_load_loses_no_acknowledged_row_and_records_no_failed_one() {
    let Some(mut store) = store() else { return };
    let server = server_on(&store);
    let addr = server.addr;
    let workers: Vec<_> = (0..6)
        .map(|thread| {
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let mut failed = Vec::new();
                let mut unanswered = 0;
                let Ok(stream) = TcpStream::connect(addr) else { return (acknowledged, failed, unanswered) };
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                let mut conn = Conn { stream };
                for session in 0.. {
                    let id = format!("load-{thread}-{session}");
                    let mut exchange = |json: String| -> Option<String> {
                        conn.stream.write_all(&frame(json.as_bytes())).ok()?;
                        conn.recv_bytes().map(|body| String::from_utf8(body).unwrap())
                    };
                    match exchange(format!(r#"{{"op": "START", "client_id": "{id}"}}"#)) {
                        Some(reply) if reply == START_OK => {}
                        _ => break,
                    }
                    if exchange(r#"{"op": "NUMBER", "number": 1}"#.into()).is_none() {
                        break;
                    }
                    match exchange(r#"{"op": "STOP"}"#.into()) {
                        Some(reply) if reply.contains(r#""status": true"#) => acknowledged.push(id),
                        Some(reply) => {
                            assert_eq!(
                                reply,
                                r#"{"op": "STOP", "status": false, "error": "Erro do servidor"}"#
                            );
                            failed.push(id);
                            break;
                        }
                        // A commit whose fate the server could not know: no answer.
                        None => {
                            unanswered += 1;
                            break;
                        }
                    }
                }
                (acknowledged, failed, unanswered)
            })
        })
        .collect();
    server.wait_for_log("session stopped");
    // Some sessions in, the store goes away.
    while report_count(&server) < 50 {
        let _ = server.next_log_line();
    }
    store.stop();
    let (status, log) = server.wait_exit();
    assert_eq!(status.code(), Some(5), "the server fails stop: {log}");
    let mut acknowledged = BTreeSet::new();
    let mut failed = BTreeSet::new();
    let mut unanswered = 0;
    for worker in workers {
        let (a, f, u) = worker.join().unwrap();
        acknowledged.extend(a);
        failed.extend(f);
        unanswered += u;
    }
    store.run();
    let recorded: BTreeSet<String> = exported_ids(&store).into_iter().collect();
    assert!(acknowledged.is_subset(&recorded), "an acknowledged row was lost");
    assert!(recorded.is_disjoint(&failed), "a failed STOP was recorded");
    eprintln!(
        "store lost under load: {} acknowledged rows all in the store, {} failed STOPs none in it, \
         {unanswered} STOPs left unanswered (commit of unknown fate), {} rows in all",
        acknowledged.len(),
        failed.len(),
        recorded.len()
    );
}

/// The store's work is visible to an operator (§7 metrics): claims by outcome, commits
/// with their rows and latency, and the connection each server holds to the store.
#[test]
fn claims_and_commits_are_counted_in_the_metrics() {
    let Some(store) = store() else { return };
    let url = store.url();
    let args = ["--store", url.as_str(), "--metrics", "127.0.0.1:0"];
    let (a, b) = (Server::start(&args), Server::start(&args));
    let mut on_a = a.connect();
    assert_eq!(start(&mut on_a, "anton"), START_OK);
    assert_eq!(start(&mut b.connect(), "anton"), EXISTS);
    assert_eq!(on_a.request(r#"{"op": "NUMBER", "number": 4}"#), r#"{"op": "NUMBER", "status": true}"#);
    assert_eq!(on_a.request(r#"{"op": "STOP"}"#), r#"{"op": "STOP", "status": true, "min": 4, "max": 4}"#);
    assert_eq!(a.metric(r#"minmax_store_claims_total{outcome="granted"}"#), 1.0);
    assert_eq!(b.metric(r#"minmax_store_claims_total{outcome="taken"}"#), 1.0);
    assert_eq!(a.metric("minmax_store_commits_total"), 1.0);
    assert_eq!(a.metric("minmax_store_rows_per_commit_sum"), 1.0);
    assert_eq!(a.metric("minmax_store_commit_seconds_count"), 1.0);
    assert_eq!(b.metric("minmax_store_commits_total"), 0.0);
    for server in [&a, &b] {
        assert_eq!(server.metric("minmax_store_connects_total"), 1.0);
    }
    // B found the table A made: not worth a log line of PostgreSQL's.
    assert!(!b.log().contains("NOTICE"), "{}", b.log());
}

fn report_count(server: &Server) -> usize {
    server.log().matches("session stopped").count()
}

#[test]
fn export_is_byte_identical_to_the_file_report() {
    let Some(store) = store() else { return };
    let on_store = server_on(&store);
    let on_file = Server::start(&[]);
    let huge = format!("-{}", "9".repeat(4300));
    let sessions: [(&str, &[&str]); 4] = [
        ("plain", &["5", "-3", "12"]),
        ("a,b", &["0"]),
        (r#"say \"hi\""#, &["7", "100000000000000000000"]),
        ("Jos\\u00e9", &[huge.as_str(), "1"]),
    ];
    for server in [&on_store, &on_file] {
        let mut conn = server.connect();
        for (id, numbers) in sessions {
            assert!(conn.session(id, numbers).contains(r#""status": true"#));
        }
    }
    let file = std::fs::read(on_file.report()).unwrap();
    let exported = export(&store);
    assert_eq!(String::from_utf8_lossy(&exported), String::from_utf8_lossy(&file));
    assert_eq!(exported, file);
}

#[test]
fn the_store_password_never_reaches_the_log_and_a_bad_store_is_exit_5() {
    let dir = tempfile::tempdir().unwrap();
    let failed = Server::start_in(dir.path(), &["--store", "postgresql://minmax:s3cret@127.0.0.1:1/minmax"])
        .err()
        .expect("an unreachable store stops the server");
    assert_eq!(failed.status.code(), Some(5), "{}", failed.stderr);
    assert!(!failed.stderr.contains("s3cret"), "{}", failed.stderr);
    // With PostgreSQL's cause, not only its "error connecting to server".
    assert!(failed.stderr.contains("cannot connect to the store"), "{}", failed.stderr);
    assert!(failed.stderr.contains("Connection refused"), "{}", failed.stderr);
}

/// A database that cannot hold every client id (§4: any Unicode text) is refused at
/// start, naming the encoding it has and the one expected, rather than failing stop
/// at the first claim of an id it cannot store.
#[test]
fn a_store_not_encoded_in_utf8_is_refused_at_start() {
    let Some(store) = store() else { return };
    let url = store.create_database("ascii", "SQL_ASCII");
    let dir = tempfile::tempdir().unwrap();
    let failed = Server::start_in(dir.path(), &["--store", &url]).err().expect("the store is refused");
    assert_eq!(failed.status.code(), Some(5), "{}", failed.stderr);
    assert!(failed.stderr.contains("encoded in SQL_ASCII; expected UTF8"), "{}", failed.stderr);
    let utf8 = store.create_database("unicode", "UTF8");
    let server = Server::start(&["--store", &utf8]);
    assert_eq!(start(&mut server.connect(), "ação-😀"), START_OK);
}
