//! The server battery: each case starts the server under test afresh (or uses the one
//! at `--addr`), talks to it over recorded connections, reads its report, and compares
//! everything with the literal bytes PROTOCOL requires.

mod cases;
mod custom;

pub use cases::CASES;

use super::judge::{self, Judgement};
use super::model::{Evidence, Finding, Info, Level, Outcome, Step, Verdict};
use super::process::{self, NotReady, Proc, Template};
use super::wire::{Conn, Transcript, escape_bytes, frame};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The report's header, exactly (PROTOCOL §6).
pub const HEADER: &str = "client_id,count,min,max";

/// Replies every battery uses, as json.dumps writes them.
pub mod replies {
    /// START accepted.
    pub const START_OK: &str = r#"{"op": "START", "status": true}"#;
    /// NUMBER accepted.
    pub const NUMBER_OK: &str = r#"{"op": "NUMBER", "status": true}"#;
    /// QUIT accepted.
    pub const QUIT_OK: &str = r#"{"op": "QUIT", "status": true}"#;
    /// START refused: the id is active.
    pub const START_EXISTS: &str = r#"{"op": "START", "status": false, "error": "Cliente existente"}"#;
    /// NUMBER without a session.
    pub const NUMBER_NO_CLIENT: &str = r#"{"op": "NUMBER", "status": false, "error": "Cliente inexistente"}"#;
    /// STOP without a session.
    pub const STOP_NO_CLIENT: &str = r#"{"op": "STOP", "status": false, "error": "Cliente inexistente"}"#;
    /// QUIT without a session.
    pub const QUIT_NO_CLIENT: &str = r#"{"op": "QUIT", "status": false, "error": "Cliente inexistente"}"#;
    /// STOP of a session without numbers.
    pub const STOP_NO_DATA: &str = r#"{"op": "STOP", "status": false, "error": "Dados insuficientes"}"#;
    /// An invalid frame (ext).
    pub const INVALID: &str = r#"{"op": null, "status": false, "error": "Mensagem inv\u00e1lida"}"#;
}

use replies::*;

/// Where the server under test comes from.
#[derive(Debug, Clone)]
pub enum Target {
    /// A fresh process per case from a command template with `{port}`.
    Spawn {
        /// The command.
        template: Template,
        /// A directory copied afresh as each case's working directory.
        cwd: Option<PathBuf>,
    },
    /// A server already running.
    Addr {
        /// Where it listens.
        addr: SocketAddr,
        /// Its report, when the tool may read it.
        report: Option<PathBuf>,
    },
}

/// How the server battery runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server under test.
    pub target: Target,
    /// How long one reply, or the server's start, may take.
    pub timeout: Duration,
    /// The command line that re-runs a case, without `--only`.
    pub rerun: String,
}

/// What a case needs beyond a connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// A process of its own (command lines, kills, prepared reports).
    pub fresh: bool,
    /// The report file.
    pub report: bool,
    /// Encryption (§5, optional in the assignment).
    pub encryption: bool,
}

/// One step of a scripted case. Connections are numbered from 1 and opened on first use.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// Send this request; the reply must be these bytes.
    Ask(usize, &'static str, &'static str),
    /// Like `Ask`, with an alternative reply that is an allowed reading.
    AskOr(usize, &'static str, &'static str, &'static str, &'static str),
    /// Send these requests as frames in one write.
    Burst(usize, &'static [&'static str]),
    /// The next reply must be these bytes.
    Reply(usize, &'static str),
    /// Send a frame with this raw body (not necessarily JSON, not necessarily UTF-8).
    Garbage(usize, &'static [u8]),
    /// Send these raw bytes in one write.
    Raw(usize, &'static [u8]),
    /// Send this request's frame one byte per write.
    Dribble(usize, &'static str),
    /// Send this request's frame in pieces: the prefix 2 + 2 bytes, the body in halves.
    Split(usize, &'static str),
    /// Open the connection and send nothing.
    Connect(usize),
    /// Close the connection (FIN).
    Close(usize),
    /// Abort the connection (RST).
    Reset(usize),
    /// The server must close the connection.
    Closed(usize),
    /// Send this START until it is accepted: the server may see an earlier close late.
    Claim(usize, &'static str),
    /// The report is the header, then these rows (CSV lines without line ends).
    Rows(&'static [&'static str]),
    /// A new connection runs a whole session: the server is still alive and serving.
    Alive,
}

impl Act {
    /// The act written out for the case's expectation.
    pub fn describe(&self) -> String {
        match *self {
            Act::Ask(c, request, reply) => format!("#{c} > {request}\n#{c} < {reply}"),
            Act::AskOr(c, request, reply, alternative, reading) => {
                format!(
                    "#{c} > {request}\n#{c} < {reply}\n     (non-strict at seed level: {alternative}, {reading})"
                )
            }
            Act::Burst(c, requests) => format!("#{c} > in one write: {}", requests.join(" + ")),
            Act::Reply(c, reply) => format!("#{c} < {reply}"),
            Act::Garbage(c, body) => format!("#{c} > a frame whose body is {:?}", escape_bytes(body, 100)),
            Act::Raw(c, bytes) => format!("#{c} > raw bytes {:?}", escape_bytes(bytes, 100)),
            Act::Dribble(c, request) => format!("#{c} > {request}, one byte per write"),
            Act::Split(c, request) => format!("#{c} > {request}, prefix in 2 + 2 bytes, body in halves"),
            Act::Connect(c) => format!("#{c} connects"),
            Act::Close(c) => format!("#{c} closed by the tool (FIN)"),
            Act::Reset(c) => format!("#{c} reset by the tool (RST)"),
            Act::Closed(c) => format!("#{c} is closed by the server"),
            Act::Claim(c, request) => {
                format!("#{c} > {request} (again while Cliente existente)\n#{c} < {START_OK}")
            }
            Act::Rows(rows) => {
                let mut text = format!("report.csv: {HEADER}\\r\\n");
                for row in rows {
                    text.push_str(&format!("{row}\\r\\n"));
                }
                text
            }
            Act::Alive => format!(
                "a new connection: START alive-check, NUMBER 1, STOP < {ALIVE_STOP} (the server still serves)"
            ),
        }
    }
}

const ALIVE_STOP: &str = r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"#;

/// How a case runs.
#[derive(Clone, Copy)]
pub enum Body {
    /// A script of acts.
    Script(&'static [Act]),
    /// Code, with its expectation written out.
    Custom {
        /// What the case requires, literally.
        expectation: &'static str,
        /// What it needs.
        needs: Needs,
        /// The case.
        run: fn(&mut Ctx) -> Step,
    },
}

/// A server case.
#[derive(Clone, Copy)]
pub struct Case {
    /// Id, level, description.
    pub info: Info,
    /// What it does.
    pub body: Body,
    /// Needs encryption (a script's only need the acts cannot show).
    pub encrypted: bool,
}

impl Case {
    /// The expectation, literally.
    pub fn expectation(&self) -> String {
        match self.body {
            Body::Script(acts) => acts.iter().map(Act::describe).collect::<Vec<_>>().join("\n"),
            Body::Custom { expectation, .. } => expectation.to_string(),
        }
    }

    /// What the case needs.
    pub fn needs(&self) -> Needs {
        match self.body {
            Body::Script(acts) => Needs {
                fresh: false,
                report: acts.iter().any(|act| matches!(act, Act::Rows(_))),
                encryption: self.encrypted,
            },
            Body::Custom { needs, .. } => Needs { encryption: needs.encryption || self.encrypted, ..needs },
        }
    }
}

/// A scripted case.
pub const fn script(id: &'static str, level: Level, description: &'static str, acts: &'static [Act]) -> Case {
    Case { info: Info { id, level, description }, body: Body::Script(acts), encrypted: false }
}

/// A scripted case that needs encryption.
pub const fn encrypted(
    id: &'static str,
    level: Level,
    description: &'static str,
    acts: &'static [Act],
) -> Case {
    Case { info: Info { id, level, description }, body: Body::Script(acts), encrypted: true }
}

/// A case written as code.
pub const fn custom(
    id: &'static str,
    level: Level,
    description: &'static str,
    expectation: &'static str,
    needs: Needs,
    run: fn(&mut Ctx) -> Step,
) -> Case {
    Case {
        info: Info { id, level, description },
        body: Body::Custom { expectation, needs, run },
        encrypted: false,
    }
}

/// One case's view of the server under test.
pub struct Ctx<'a> {
    config: &'a Config,
    level: Level,
    /// The case's wire log.
    pub log: Arc<Transcript>,
    deadline: Instant,
    proc: Option<Proc>,
    dir: Option<tempfile::TempDir>,
    addr: Option<SocketAddr>,
    conns: Vec<Option<Conn>>,
    notes: Vec<String>,
    /// The case ended the server on purpose (a kill, a signal, a command line that exits).
    pub ended_on_purpose: bool,
    /// A connection ended while a reply was awaited: the server may be dying.
    connection_lost: bool,
    report_before: Option<Vec<u8>>,
}

impl<'a> Ctx<'a> {
    fn new(config: &'a Config, level: Level) -> Ctx<'a> {
        Ctx {
            config,
            level,
            log: Transcript::new(),
            deadline: Instant::now() + config.timeout * 6,
            proc: None,
            dir: None,
            addr: None,
            conns: Vec::new(),
            notes: Vec::new(),
            ended_on_purpose: false,
            connection_lost: false,
            report_before: None,
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// The case's working directory (spawn mode), created on first use.
    pub fn dir(&mut self) -> Result<PathBuf, Finding> {
        if self.dir.is_none() {
            let from = match &self.config.target {
                Target::Spawn { cwd, .. } => cwd.clone(),
                Target::Addr { .. } => None,
            };
            let dir = process::fresh_dir(from.as_deref())
                .map_err(|error| Finding::Closed(format!("cannot make a working directory: {error}")))?;
            self.dir = Some(dir);
        }
        Ok(self.dir.as_ref().map(|dir| dir.path().to_path_buf()).unwrap_or_default())
    }

    /// Where the report is, if the tool can read it.
    pub fn report_path(&self) -> Option<PathBuf> {
        match &self.config.target {
            Target::Spawn { .. } => self.dir.as_ref().map(|dir| dir.path().join("report.csv")),
            Target::Addr { report, .. } => report.clone(),
        }
    }

    /// The report's bytes, if it exists.
    pub fn report(&self) -> Option<Vec<u8>> {
        self.report_path().and_then(|path| std::fs::read(path).ok())
    }

    /// Starts the server (a fresh process, or the one at `--addr`).
    pub fn start(&mut self) -> Step {
        self.start_with_port(None)
    }

    /// Starts the server on `port` (a free one when `None`).
    pub fn start_with_port(&mut self, port: Option<u16>) -> Step {
        let template = match &self.config.target {
            Target::Addr { addr, .. } => {
                self.addr = Some(*addr);
                self.report_before = self.report();
                return Ok(());
            }
            Target::Spawn { template, .. } => template.clone(),
        };
        let dir = self.dir()?;
        let port = match port {
            Some(port) => port,
            None => process::free_port()
                .map_err(|error| Finding::Closed(format!("no free port for the server: {error}")))?,
        };
        let argv = template.argv(&[("port", Some(&port.to_string()))]);
        self.log.note(0, &format!("started: {} (in {})", shell_words(&argv), dir.display()));
        let mut proc = Proc::spawn(&argv, &dir, false)
            .map_err(|error| Finding::Closed(format!("cannot start {}: {error}", shell_words(&argv))))?;
        // Starting an interpreter on a loaded machine is slower than any reply: twice the timeout.
        let ready = process::wait_listening(&mut proc, port, self.config.timeout * 2);
        self.proc = Some(proc);
        match ready {
            Ok(listening) => {
                self.log.note(0, &format!("listening on port {port} (seen in /proc/net/tcp)"));
                // Evidence only: a server may still be writing its header at this point.
                self.report_before = self.report();
                self.addr = Some(SocketAddr::new(listening.loopback(), port));
                Ok(())
            }
            Err(NotReady::Exited(status)) => Err(Finding::Closed(format!(
                "the server exited before listening on port {port}: {}",
                process::describe_status(status)
            ))),
            Err(NotReady::Timeout) => Err(Finding::Timeout(format!(
                "the server never listened on port {port} within {:?}",
                self.config.timeout * 2
            ))),
        }
    }

    /// The process under test, if the case started one.
    pub fn proc(&mut self) -> Option<&mut Proc> {
        self.proc.as_mut()
    }

    /// Runs the template with `port` (or none) and extra words, and waits for it to exit.
    pub fn run_to_exit(&mut self, port: Option<&str>, extra: &[&str]) -> Result<Option<i32>, Finding> {
        let Target::Spawn { template, .. } = &self.config.target else {
            return Err(Finding::Unsupported("needs --cmd".into()));
        };
        let mut argv = template.argv(&[("port", port)]);
        argv.extend(extra.iter().map(|word| word.to_string()));
        let dir = self.dir()?;
        self.log.note(0, &format!("started: {}", shell_words(&argv)));
        self.ended_on_purpose = true;
        let proc = Proc::spawn(&argv, &dir, false)
            .map_err(|error| Finding::Closed(format!("cannot start {}: {error}", shell_words(&argv))))?;
        self.proc = Some(proc);
        self.wait_exit()
    }

    /// Waits for the started server to exit; its exit code (`None`: killed by a signal).
    pub fn wait_exit(&mut self) -> Result<Option<i32>, Finding> {
        let timeout = self.config.timeout;
        let Some(proc) = self.proc.as_mut() else { return Err(Finding::Closed("no process".into())) };
        match proc.wait_exit(timeout) {
            Some(status) => {
                self.log.note(0, &format!("the server ended: {}", process::describe_status(Some(status))));
                Ok(status.code())
            }
            None => {
                Err(Finding::fail("the program exits", format!("still running after {timeout:?} (killed)")))
            }
        }
    }

    /// Connection `c`, opened on first use.
    pub fn conn(&mut self, c: usize) -> Result<&mut Conn, Finding> {
        if self.conns.len() <= c {
            self.conns.resize_with(c + 1, || None);
        }
        if self.conns[c].is_none() {
            let addr = self.addr.ok_or_else(|| Finding::Closed("the server was not started".into()))?;
            let conn = Conn::connect(addr, c, Arc::clone(&self.log), self.config.timeout, self.deadline)?;
            self.conns[c] = Some(conn);
        }
        self.conns[c].as_mut().ok_or_else(|| Finding::Closed("no connection".into()))
    }

    fn take_conn(&mut self, c: usize) -> Option<Conn> {
        self.conns.get_mut(c).and_then(Option::take)
    }

    /// A connection number no act used yet.
    pub fn fresh_conn(&self) -> usize {
        self.conns.len().max(1)
    }

    /// Judges `actual` against `expected` at this case's level: exact passes, an
    /// allowed reading is noted (seed level only), anything else fails.
    pub fn check(&mut self, expected: &[u8], alternatives: &[(&[u8], &str)], actual: &[u8]) -> Step {
        match judge::judge(expected, alternatives, actual) {
            Judgement::Exact => Ok(()),
            Judgement::NonStrict(reading) if self.level == Level::Seed => {
                self.notes.push(format!("{reading}: {}", judge::show(actual)));
                Ok(())
            }
            _ => Err(Finding::fail(judge::show(expected), judge::show(actual))),
        }
    }

    /// Sends `request` on `c`; the reply must be `expected`.
    pub fn ask(&mut self, c: usize, request: &str, expected: &str) -> Step {
        self.ask_or(c, request, expected, &[])
    }

    /// Like [`Ctx::ask`] with allowed alternative replies.
    pub fn ask_or(
        &mut self,
        c: usize,
        request: &str,
        expected: &str,
        alternatives: &[(&[u8], &str)],
    ) -> Step {
        self.conn(c)?.send_frame(request.as_bytes())?;
        self.expect_reply(c, expected, alternatives)
    }

    /// The next reply on `c` must be `expected`.
    pub fn expect_reply(&mut self, c: usize, expected: &str, alternatives: &[(&[u8], &str)]) -> Step {
        let actual = match self.conn(c)?.recv_frame() {
            Ok(actual) => actual,
            Err(Finding::Closed(why)) => {
                self.connection_lost = true;
                return Err(Finding::fail(expected.to_string(), why));
            }
            Err(other) => return Err(other),
        };
        self.check(expected.as_bytes(), alternatives, &actual)
    }

    /// Carries out one act.
    pub fn act(&mut self, act: &Act) -> Step {
        match *act {
            Act::Ask(c, request, reply) => self.ask(c, request, reply),
            Act::AskOr(c, request, reply, alternative, reading) => {
                self.ask_or(c, request, reply, &[(alternative.as_bytes(), reading)])
            }
            Act::Burst(c, requests) => {
                let bytes: Vec<u8> = requests.iter().flat_map(|request| frame(request.as_bytes())).collect();
                self.conn(c)?.send(&bytes)
            }
            Act::Reply(c, reply) => self.expect_reply(c, reply, &[]),
            Act::Garbage(c, body) => self.conn(c)?.send_frame(body),
            Act::Raw(c, bytes) => self.conn(c)?.send(bytes),
            Act::Dribble(c, request) => {
                let bytes = frame(request.as_bytes());
                let conn = self.conn(c)?;
                for byte in bytes {
                    conn.send(&[byte])?;
                    // So that the bytes reach the server as separate reads.
                    conn.wait_peer_read();
                }
                Ok(())
            }
            Act::Split(c, request) => {
                let bytes = frame(request.as_bytes());
                let middle = 4 + (bytes.len() - 4) / 2;
                let conn = self.conn(c)?;
                for piece in [&bytes[..2], &bytes[2..4], &bytes[4..middle], &bytes[middle..]] {
                    conn.send(piece)?;
                    conn.wait_peer_read();
                }
                Ok(())
            }
            Act::Connect(c) => self.conn(c).map(|_| ()),
            Act::Close(c) => {
                if let Some(conn) = self.take_conn(c) {
                    conn.close();
                }
                Ok(())
            }
            Act::Reset(c) => {
                if let Some(conn) = self.take_conn(c) {
                    conn.reset();
                }
                Ok(())
            }
            Act::Closed(c) => {
                let rest = self.conn(c)?.recv_until_closed()?;
                if rest.is_empty() {
                    Ok(())
                } else {
                    Err(Finding::fail("the connection closed, nothing more sent", judge::show(&rest)))
                }
            }
            Act::Claim(c, request) => self.claim(c, request),
            Act::Rows(rows) => self.expect_rows(&rows.iter().map(|row| row.to_string()).collect::<Vec<_>>()),
            Act::Alive => self.alive(),
        }
    }

    /// Sends START until it is accepted, for at most about 3 s: after a close or a
    /// reset, the server may still hold the id for a moment.
    pub fn claim(&mut self, c: usize, request: &str) -> Step {
        let give_up = Instant::now() + Duration::from_secs(3).min(self.config.timeout);
        let mut pause = Duration::from_millis(5);
        loop {
            self.conn(c)?.send_frame(request.as_bytes())?;
            let reply = match self.conn(c)?.recv_frame() {
                Ok(reply) => reply,
                Err(Finding::Closed(why)) => {
                    self.connection_lost = true;
                    return Err(Finding::fail(START_OK, why));
                }
                Err(other) => return Err(other),
            };
            let still_held = judge::judge(START_EXISTS.as_bytes(), &[], &reply) != Judgement::Mismatch;
            if !still_held || Instant::now() >= give_up {
                return self.check(START_OK.as_bytes(), &[], &reply);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// A whole session on a new connection: the server still serves.
    pub fn alive(&mut self) -> Step {
        let c = self.fresh_conn();
        let result = (|| {
            self.ask(c, r#"{"op": "START", "client_id": "alive-check", "cipher": null}"#, START_OK)?;
            self.ask(c, r#"{"op": "NUMBER", "number": 1}"#, NUMBER_OK)?;
            self.ask(c, r#"{"op": "STOP"}"#, ALIVE_STOP)
        })();
        if let Some(conn) = self.take_conn(c) {
            conn.close();
        }
        result.map_err(|finding| match finding {
            Finding::Fail { expected, actual } => {
                Finding::fail(format!("a new session still served ({expected})"), actual)
            }
            other => other,
        })
    }

    /// The report must be the header then `rows` (spawn mode), or grow by `rows`
    /// (`--addr` with `--report`). At the seed level another sensible header, `\n`
    /// line ends or other CSV quoting are readings; at ext level only the bytes count.
    pub fn expect_rows(&mut self, rows: &[String]) -> Step {
        let Some(path) = self.report_path() else {
            return Err(Finding::Unsupported("the report cannot be read (give --report)".into()));
        };
        let actual = std::fs::read(&path).unwrap_or_default();
        let mut expected = match (&self.config.target, &self.report_before) {
            (Target::Addr { .. }, Some(before)) => before.clone(),
            _ => format!("{HEADER}\r\n").into_bytes(),
        };
        for row in rows {
            expected.extend_from_slice(row.as_bytes());
            expected.extend_from_slice(b"\r\n");
        }
        if actual == expected {
            return Ok(());
        }
        let fail = || {
            Finding::fail(
                format!("report.csv = {}", judge::show(&expected)),
                format!("report.csv = {}", judge::show(&actual)),
            )
        };
        if self.level == Level::Ext || !std::path::Path::new(&path).exists() {
            return Err(fail());
        }
        let (Some(want), Some(got)) = (parse_csv(&expected), parse_csv(&actual)) else { return Err(fail()) };
        if want.len() != got.len() || want.iter().skip(1).ne(got.iter().skip(1)) {
            return Err(fail());
        }
        let (Some(want_header), Some(got_header)) = (want.first(), got.first()) else { return Err(fail()) };
        let mut readings = Vec::new();
        if want_header != got_header {
            let sensible = got_header.len() == 4 && got_header.iter().all(|name| !name.trim().is_empty());
            let in_addr_mode = matches!(self.config.target, Target::Addr { .. });
            if !sensible && !in_addr_mode {
                return Err(fail());
            }
            readings.push(format!("another header: {}", got_header.join(",")));
        }
        if !actual.windows(2).any(|pair| pair == b"\r\n") && actual.contains(&b'\n') {
            readings.push("\\n line ends where Python's csv writes \\r\\n".to_string());
        }
        if readings.is_empty() {
            readings.push("other CSV quoting than Python's csv module".into());
        }
        self.notes.push(format!("report.csv: {}", readings.join("; ")));
        Ok(())
    }

    /// Kills the server's whole process group with SIGKILL.
    pub fn kill9(&mut self) {
        self.ended_on_purpose = true;
        if let Some(proc) = self.proc.as_mut() {
            self.log.note(0, "server killed with SIGKILL");
            proc.kill();
        }
    }

    /// Sends `signal` to the server's process group.
    pub fn signal(&mut self, signal: rustix::process::Signal, name: &str) {
        self.ended_on_purpose = true;
        if let Some(proc) = self.proc.as_ref() {
            self.log.note(0, &format!("server sent {name}"));
            proc.signal_group(signal);
        }
    }

    /// Writes the report before the server starts (spawn mode).
    pub fn prepare_report(&mut self, bytes: &[u8]) -> Step {
        let path = self.dir()?.join("report.csv");
        std::fs::write(&path, bytes)
            .map_err(|error| Finding::Closed(format!("cannot prepare {}: {error}", path.display())))?;
        self.log.note(0, &format!("report.csv prepared: {}", judge::show(bytes)));
        Ok(())
    }

    /// Checks that the server offers encryption: START with a key, then one encrypted
    /// NUMBER, must both succeed (then QUIT). Otherwise the case is unsupported.
    pub fn require_encryption(&mut self) -> Step {
        let c = 90;
        let probe = (|| -> Result<bool, Finding> {
            let conn = self.conn(c)?;
            conn.send_frame(
                br#"{"op": "START", "client_id": "probe-cipher", "cipher": "AAECAwQFBgcICQoLDA0ODw=="}"#,
            )?;
            if !status_true(&conn.recv_frame()?) {
                return Ok(false);
            }
            conn.send_frame(br#"{"op": "NUMBER", "number": "iFRQL13QPmN6l89HvsMkvg=="}"#)?;
            let accepted = status_true(&conn.recv_frame()?);
            conn.send_frame(br#"{"op": "QUIT"}"#)?;
            conn.recv_frame()?;
            Ok(accepted)
        })();
        if let Some(conn) = self.take_conn(c) {
            conn.close();
        }
        match probe {
            Ok(true) => Ok(()),
            Ok(false) => {
                Err(Finding::Unsupported("the server does not offer encryption (§5 is optional)".into()))
            }
            Err(_) => Err(Finding::Unsupported(
                "the server does not offer encryption: an encrypted START or NUMBER was not answered".into(),
            )),
        }
    }

    /// Records a non-strict reading.
    pub fn note(&mut self, reading: String) {
        self.notes.push(reading);
    }

    /// The level of the case.
    pub fn level(&self) -> Level {
        self.level
    }
}

fn status_true(body: &[u8]) -> bool {
    super::json::parse(body).ok().and_then(|reply| reply.get("status").cloned())
        == Some(super::json::Json::Bool(true))
}

/// A command line shown to people.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter().map(|word| process::shell_quote(word)).collect::<Vec<_>>().join(" ")
}

/// Parses CSV as RFC 4180 writes it (either line end); `None` if it is not CSV.
pub fn parse_csv(bytes: &[u8]) -> Option<Vec<Vec<String>>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted_field = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() && !quoted_field => {
                quoted_field = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => field.push(c),
                        None => return None,
                    }
                }
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                quoted_field = false;
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Some(rows)
}

/// Runs one case against the server and decides its verdict.
pub fn run_case(case: &Case, config: &Config) -> Outcome {
    let started = Instant::now();
    let mut ctx = Ctx::new(config, case.info.level);
    let needs = case.needs();
    let unsupported = match &config.target {
        Target::Addr { .. } if needs.fresh => Some("needs a fresh server process (use --cmd)"),
        Target::Addr { report: None, .. } if needs.report => Some("needs the report file (give --report)"),
        _ => None,
    };
    let result = match unsupported {
        Some(reason) => Err(Finding::Unsupported(reason.into())),
        None => match case.body {
            Body::Script(acts) => (|| {
                ctx.start()?;
                if needs.encryption {
                    ctx.require_encryption()?;
                }
                acts.iter().try_for_each(|act| ctx.act(act))
            })(),
            Body::Custom { run, .. } => {
                if needs.encryption && !needs.fresh {
                    ctx.start().and_then(|()| ctx.require_encryption()).and_then(|()| run(&mut ctx))
                } else {
                    run(&mut ctx)
                }
            }
        },
    };
    finish(case, config, ctx, result, started)
}

fn finish(case: &Case, config: &Config, mut ctx: Ctx, result: Step, started: Instant) -> Outcome {
    // The server may have died of the last request: look before deciding.
    let died = match ctx.proc.as_mut() {
        Some(proc) if !ctx.ended_on_purpose => {
            // A dying server resets its connections a moment before it exits: after a
            // lost connection or a silence, give its exit a moment to be seen.
            let connection_lost =
                ctx.connection_lost || matches!(result, Err(Finding::Closed(_) | Finding::Timeout(_)));
            proc.exited() || connection_lost && proc.wait_exit(Duration::from_millis(300)).is_some()
        }
        _ => false,
    };
    let report_after = ctx.report();
    for c in 0..ctx.conns.len() {
        if let Some(conn) = ctx.take_conn(c) {
            conn.close();
        }
    }
    let status = ctx.proc.as_mut().and_then(Proc::kill);
    let (output, exit) = match ctx.proc.as_ref() {
        Some(proc) => (output_of(proc), process::describe_status(status)),
        None => (String::new(), String::new()),
    };
    let crash_detail = || {
        let tail = ctx.proc.as_ref().map(|proc| proc.output_tail(6)).unwrap_or_default();
        format!(
            "the server died: {}; its last output: {}",
            process::describe_status(status),
            if tail.is_empty() { "(none)".into() } else { tail }
        )
    };
    let (verdict, detail) = match result {
        Err(Finding::Unsupported(reason)) => (Verdict::Unsupported, reason),
        _ if died => (Verdict::Crash, crash_detail()),
        Ok(()) if ctx.notes.is_empty() => (Verdict::Pass, String::new()),
        Ok(()) => (Verdict::NonStrict, ctx.notes.join("; ")),
        Err(Finding::Fail { expected, actual }) => {
            (Verdict::Fail, format!("Expected: {expected}  Actual: {actual}"))
        }
        Err(Finding::Closed(why)) => (Verdict::Fail, why),
        Err(Finding::Timeout(why)) => (Verdict::Timeout, why),
    };
    let evidence = Evidence {
        transcript: ctx.log.render(),
        report_before: ctx.report_before.as_deref().map(|bytes| String::from_utf8_lossy(bytes).into_owned()),
        report_after: report_after.as_deref().map(|bytes| String::from_utf8_lossy(bytes).into_owned()),
        output,
        exit,
        notes: ctx.notes.clone(),
    };
    Outcome {
        info: case.info,
        expectation: case.expectation(),
        verdict,
        detail,
        evidence,
        duration: started.elapsed(),
        rerun: format!("{} --only {} --level all", config.rerun, case.info.id),
    }
}

/// The last of a process's output, both streams.
pub fn output_of(proc: &Proc) -> String {
    let stdout = String::from_utf8_lossy(&proc.stdout()).into_owned();
    let stderr = String::from_utf8_lossy(&proc.stderr()).into_owned();
    let tail = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    let mut out = String::new();
    if !stdout.is_empty() {
        out.push_str(&format!("--- stdout ---\n{}\n", tail(&stdout)));
    }
    if !stderr.is_empty() {
        out.push_str(&format!("--- stderr ---\n{}\n", tail(&stderr)));
    }
    out
}

/// The expected report for `rows`, as Python's csv module writes it.
pub fn report_bytes(rows: &[&str]) -> Vec<u8> {
    let mut bytes = format!("{HEADER}\r\n").into_bytes();
    for row in rows {
        bytes.extend_from_slice(row.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// Whether `path` exists (for cases that look at the report's absence).
pub fn exists(path: &Path) -> bool {
    path.exists()
}
