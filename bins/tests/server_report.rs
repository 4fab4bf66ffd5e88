//! The report (PROTOCOL §6) and the server's exits (§7), against the real binary:
//! durability under SIGKILL, start-up checks and repairs, fail-stop on a write
//! error, clean shutdown under load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Conn, Server, report_rows};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Every STOP the server acknowledged (its row was promised durable): the id, and
/// the count, min and max the row must hold.
#[derive(Default)]
struct Acks {
    rows: Mutex<Vec<(String, [String; 3])>>,
    grew: Condvar,
}

type Acked = Arc<Acks>;

impl Acks {
    fn push(&self, id: String, fields: [String; 3]) {
        self.rows.lock().unwrap().push((id, fields));
        self.grew.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(String, [String; 3])>> {
        self.rows.lock().unwrap()
    }

    /// Blocks until at least `count` sessions were acknowledged.
    fn wait_for(&self, count: usize) {
        let rows = self.lock();
        let (rows, timeout) =
            self.grew.wait_timeout_while(rows, common::TIMEOUT, |rows| rows.len() < count).unwrap();
        assert!(!timeout.timed_out(), "only {} of {count} sessions were acknowledged", rows.len());
    }
}

/// Runs sessions with ids `{prefix}-{thread}-{n}` on `threads` connections until the
/// server goes away or `stop` is set, recording every acknowledged STOP.
fn load(
    addr: SocketAddr,
    prefix: &str,
    threads: usize,
    acked: &Acked,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|thread| {
            let (prefix, acked, stop) = (prefix.to_string(), Arc::clone(acked), Arc::clone(stop));
            std::thread::spawn(move || {
                let Ok(mut conn) = std::net::TcpStream::connect(addr).map(|stream| Conn { stream }) else {
                    return;
                };
                conn.stream.set_read_timeout(Some(common::TIMEOUT)).unwrap();
                let mut session = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    session += 1;
                    let id = format!("{prefix}-{thread}-{session}");
                    let numbers = [session as i64, -(thread as i64), 7];
                    // Any I/O failure means the server is gone: stop quietly.
                    let exchange = |conn: &mut Conn, json: String| -> Option<String> {
                        use std::io::Write;
                        conn.stream.write_all(&common::frame(json.as_bytes())).ok()?;
                        conn.recv_bytes().map(|body| String::from_utf8(body).unwrap())
                    };
                    let Some(_) = exchange(&mut conn, format!(r#"{{"op": "START", "client_id": "{id}"}}"#))
                    else {
                        return;
                    };
                    for number in numbers {
                        let Some(_) =
                            exchange(&mut conn, format!(r#"{{"op": "NUMBER", "number": {number}}}"#))
                        else {
                            return;
                        };
                    }
                    let Some(reply) = exchange(&mut conn, r#"{"op": "STOP"}"#.into()) else { return };
                    if reply.contains(r#""status": true"#) {
                        let (min, max) = (numbers.iter().min().unwrap(), numbers.iter().max().unwrap());
                        acked.push(id, ["3".into(), min.to_string(), max.to_string()]);
                    }
                }
            })
        })
        .collect()
}

#[test]
fn every_acknowledged_stop_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    let acked: Acked = Arc::default();
    let mut all_ids = BTreeSet::new();
    let rounds = 20;
    for round in 0..rounds {
        let server = Server::start_in(dir.path(), &[])
            .unwrap_or_else(|failed| panic!("round {round}: {}", failed.stderr));
        if round > 0 {
            // The previous round's kill may have torn the last line; start-up repairs it.
            assert!(report_rows(&report).len() >= acked.lock().len());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let workers = load(server.addr, &format!("r{round}"), 8, &acked, &stop);
        // Kill at a moment that varies from round to round: after a varying number
        // of acknowledged sessions.
        let target = acked.lock().len() + 20 + (round * 37) % 150;
        acked.wait_for(target);
        server.kill9();
        for worker in workers {
            worker.join().unwrap();
        }
        let rows = report_rows_after_repair(&report);
        let acked = acked.lock();
        let by_id: BTreeMap<&str, usize> = rows.iter().fold(BTreeMap::new(), |mut counts, row| {
            *counts.entry(row[0].as_str()).or_default() += 1;
            counts
        });
        assert!(by_id.values().all(|&count| count == 1), "round {round}: a row was written twice");
        for (id, fields) in acked.iter() {
            let row = rows.iter().find(|row| &row[0] == id);
            let row = row
                .unwrap_or_else(|| panic!("round {round}: acknowledged session {id} is not in the report"));
            assert_eq!(&row[1..], &fields[..], "round {round}: {id}");
        }
        all_ids.extend(rows.into_iter().map(|row| row[0].clone()));
    }
    assert!(acked.lock().len() >= rounds * 20);
    eprintln!(
        "{rounds} SIGKILL rounds: {} acknowledged sessions, all in the report once; {} rows",
        acked.lock().len(),
        all_ids.len()
    );
}

/// Starts a server on the report (which cuts a torn tail), stops it, and reads the rows.
fn report_rows_after_repair(report: &std::path::Path) -> Vec<[String; 4]> {
    let dir = report.parent().unwrap();
    let server =
        Server::start_in(dir, &[]).unwrap_or_else(|failed| panic!("restart failed: {}", failed.stderr));
    let (status, _) = server.terminate();
    assert!(status.success());
    report_rows(report)
}

#[test]
fn a_wrong_header_stops_the_server_and_leaves_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    let original = b"id;total\r\nanton;3\r\n".to_vec();
    std::fs::write(&report, &original).unwrap();
    let failed = Server::start_in(dir.path(), &[]).err().expect("the server refuses the report");
    assert_eq!(failed.status.code(), Some(5));
    assert!(failed.stderr.contains("\"id;total\""), "{}", failed.stderr);
    assert!(failed.stderr.contains("client_id,count,min,max"), "{}", failed.stderr);
    assert_eq!(std::fs::read(&report).unwrap(), original);
}

#[test]
fn a_torn_last_line_is_cut_and_earlier_rows_kept() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    std::fs::write(&report, b"client_id,count,min,max\r\nanton,3,-3,12\r\njonas,2,1").unwrap();
    let server = Server::start_in(dir.path(), &[]).unwrap_or_else(|failed| panic!("{}", failed.stderr));
    server.wait_for_log("cut it off at byte 40");
    let mut conn = server.connect();
    conn.session("manel", &["4"]);
    assert_eq!(
        report_rows(&report),
        vec![["anton", "3", "-3", "12"].map(String::from), ["manel", "1", "4", "4"].map(String::from)]
    );
}

#[test]
fn a_half_written_header_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    std::fs::write(&report, b"client_id,cou").unwrap();
    let server = Server::start_in(dir.path(), &[]).unwrap_or_else(|failed| panic!("{}", failed.stderr));
    assert_eq!(std::fs::read(&report).unwrap(), b"client_id,count,min,max\r\n");
    drop(server);
}

#[test]
fn two_servers_cannot_share_a_report() {
    let first = Server::start(&[]);
    let failed =
        Server::start_in(&first.dir, &[]).err().expect("the second server refuses the locked report");
    assert_eq!(failed.status.code(), Some(5));
    assert!(failed.stderr.contains("locked by another process"), "{}", failed.stderr);
}

#[test]
fn a_report_that_cannot_be_written_fails_stop() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    std::fs::write(&report, b"client_id,count,min,max\r\n").unwrap();
    // A file size limit a few rows above the current size: a real EFBIG from the kernel.
    let limit = 25 + 3 * "fill-0,1,1,1\r\n".len() as u64;
    let server = Server::start_in(dir.path(), &[]).unwrap_or_else(|failed| panic!("{}", failed.stderr));
    // Set on the running server (prlimit(2)), before any session: it has written
    // nothing since its start-up check.
    let pid = rustix::process::Pid::from_child(&server.child);
    let rlimit = rustix::process::Rlimit { current: Some(limit), maximum: Some(limit) };
    rustix::process::prlimit(Some(pid), rustix::process::Resource::Fsize, rlimit)
        .expect("prlimit on our child");
    let mut conn = server.connect();
    let mut refused = None;
    for session in 0..20 {
        let reply = conn.session(&format!("fill-{session}"), &["1"]);
        if reply != r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"# {
            refused = Some((session, reply));
            break;
        }
    }
    let (session, reply) = refused.expect("a STOP eventually fails");
    assert_eq!(reply, r#"{"op": "STOP", "status": false, "error": "Erro do servidor"}"#);
    assert!(session >= 1, "the first rows fit under the limit");
    conn.expect_closed();
    let (status, log) = server.wait_exit();
    assert_eq!(status.code(), Some(5), "{log}");
    assert!(log.contains("failing stop"), "{log}");
    assert!(log.contains("File too large"), "the cause is logged: {log}");
    assert!(log.contains("cut back"), "the report was cut back to its durable length: {log}");
    // Every acknowledged row is there, and the failed one is not (§4, §6): the file
    // is whole as the server left it, before any repair by a restart.
    let rows = report_rows(&report);
    let ids: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    let acknowledged: Vec<String> = (0..session).map(|n| format!("fill-{n}")).collect();
    assert_eq!(ids, acknowledged);
}

#[test]
fn sigterm_during_load_exits_cleanly_with_every_acknowledged_row() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]).unwrap_or_else(|failed| panic!("{}", failed.stderr));
    let report = server.report();
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(server.addr, "term", 6, &acked, &stop);
    acked.wait_for(200);
    let (status, log) = server.terminate();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(status.success(), "exit status {status}: {log}");
    assert!(log.contains("shut down cleanly"), "{log}");
    let rows = report_rows(&report);
    for (id, fields) in acked.lock().iter() {
        let row = rows.iter().find(|row| &row[0] == id).unwrap_or_else(|| panic!("{id} is missing"));
        assert_eq!(&row[1..], &fields[..]);
    }
}
