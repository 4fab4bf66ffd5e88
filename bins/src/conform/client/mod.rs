//! The client battery: the tool plays a scripted server on a free port, runs the client
//! under test with its standard input fed (one item per line, as a person types), and
//! checks every frame it sends byte for byte, what it prints and its exit code.

mod cases;

pub use cases::CASES;

use super::crypto::{self, Key};
use super::judge::{self, Judgement};
use super::model::{Evidence, Finding, Info, Level, Outcome, Step, Verdict};
use super::process::{self, Proc, Template};
use super::report::RunInfo;
use super::wire::{Conn, Transcript, frame};
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the client battery runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The client's command, with `{id}`, `{port}`, `{host}`.
    pub template: Template,
    /// The command of an encrypted session, if it differs.
    pub encrypt_template: Option<Template>,
    /// A directory copied afresh as each case's working directory.
    pub cwd: Option<PathBuf>,
    /// The input line that ends a session.
    pub stop_word: String,
    /// The input line that abandons one.
    pub quit_word: String,
    /// How long a frame or an exit may take.
    pub timeout: Duration,
    /// The command line that re-runs a case, without `--only`.
    pub rerun: String,
}

/// A client case.
#[derive(Clone, Copy)]
pub struct Case {
    /// Id, level, description.
    pub info: Info,
    /// What the case requires, literally.
    pub expectation: &'static str,
    /// Runs with the encryption command, and is unsupported if no key is sent.
    pub encrypted: bool,
    /// The case.
    pub run: fn(&mut Ctx) -> Step,
}

/// A plain case.
pub const fn case(
    id: &'static str,
    level: Level,
    description: &'static str,
    expectation: &'static str,
    run: fn(&mut Ctx) -> Step,
) -> Case {
    Case { info: Info { id, level, description }, expectation, encrypted: false, run }
}

/// A case of an encrypted session.
pub const fn encrypted(
    id: &'static str,
    level: Level,
    description: &'static str,
    expectation: &'static str,
    run: fn(&mut Ctx) -> Step,
) -> Case {
    Case { info: Info { id, level, description }, expectation, encrypted: true, run }
}

/// How to start the client for one run.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    /// `{id}`; `None` drops the word.
    pub id: Option<&'a str>,
    /// `{port}`: `None` the scripted server's port; `Some(None)` drops the word.
    pub port: Option<Option<&'a str>>,
    /// `{host}`; `None` drops the word.
    pub host: Option<&'a str>,
    /// Words added at the end.
    pub extra: &'a [&'a str],
    /// Lines written to its standard input.
    pub lines: Vec<String>,
    /// Close standard input after the lines (the end of the input).
    pub eof: bool,
}

impl Default for Launch<'_> {
    fn default() -> Self {
        Launch {
            id: Some("anton"),
            port: None,
            host: Some("127.0.0.1"),
            extra: &[],
            lines: Vec::new(),
            eof: false,
        }
    }
}

/// One case's scripted server and the client under test.
pub struct Ctx<'a> {
    config: &'a Config,
    level: Level,
    encrypted: bool,
    log: Arc<Transcript>,
    deadline: Instant,
    listeners: Vec<TcpListener>,
    port: u16,
    proc: Option<Proc>,
    /// Processes of earlier runs in the same case (kept for their output).
    earlier: Vec<Proc>,
    dir: Option<tempfile::TempDir>,
    conn: Option<Conn>,
    conns: usize,
    /// The session's key, once START carried one.
    pub key: Option<Key>,
    /// The key's base64 text as sent.
    pub key_text: Option<String>,
    notes: Vec<String>,
    signalled: bool,
    /// The client hung up while a frame was awaited: it may be dying.
    connection_lost: bool,
}

impl<'a> Ctx<'a> {
    fn new(config: &'a Config, level: Level, encrypted: bool) -> Result<Ctx<'a>, Finding> {
        // One port on both loopbacks, so that "localhost" works whichever it resolves to first.
        let mut listeners = Vec::new();
        let mut port = 0;
        for _ in 0..20 {
            let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|error| Finding::Closed(format!("the scripted server cannot listen: {error}")))?;
            port = v4.local_addr().map_err(|error| Finding::Closed(error.to_string()))?.port();
            listeners = vec![v4];
            if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
                listeners.push(v6);
                break;
            }
        }
        for listener in &listeners {
            let _ = listener.set_nonblocking(true);
        }
        Ok(Ctx {
            config,
            level,
            encrypted,
            log: Transcript::new(),
            deadline: Instant::now() + config.timeout * 6,
            listeners,
            port,
            proc: None,
            earlier: Vec::new(),
            dir: None,
            conn: None,
            conns: 0,
            key: None,
            key_text: None,
            notes: Vec::new(),
            signalled: false,
            connection_lost: false,
        })
    }

    /// The scripted server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The input line that ends a session.
    pub fn stop_word(&self) -> String {
        self.config.stop_word.clone()
    }

    /// The input line that abandons a session.
    pub fn quit_word(&self) -> String {
        self.config.quit_word.clone()
    }

    /// Starts the client.
    pub fn launch(&mut self, launch: Launch) -> Step {
        if let Some(previous) = self.proc.take() {
            self.earlier.push(previous);
        }
        self.conn = None;
        self.key = None;
        self.key_text = None;
        if self.dir.is_none() {
            let dir = process::fresh_dir(self.config.cwd.as_deref())
                .map_err(|error| Finding::Closed(format!("cannot make a working directory: {error}")))?;
            self.dir = Some(dir);
        }
        let dir = self.dir.as_ref().map(|dir| dir.path().to_path_buf()).unwrap_or_default();
        let template = match (&self.config.encrypt_template, self.encrypted) {
            (Some(template), true) => template,
            _ => &self.config.template,
        };
        let port = self.port.to_string();
        let port = match launch.port {
            None => Some(port.as_str()),
            Some(value) => value,
        };
        let mut argv = template.argv(&[("id", launch.id), ("port", port), ("host", launch.host)]);
        argv.extend(launch.extra.iter().map(|word| word.to_string()));
        self.log.note(0, &format!("started: {}", super::server::shell_words(&argv)));
        let mut proc = Proc::spawn(&argv, &dir, true)
            .map_err(|error| Finding::Closed(format!("cannot start the client: {error}")))?;
        if !launch.lines.is_empty() {
            let text: String = launch.lines.iter().map(|line| format!("{line}\n")).collect();
            self.log.note(0, &format!("standard input: {:?}", text));
            if let Some(stdin) = proc.stdin.as_mut() {
                // A client that exits early never reads its input: that is its verdict, not ours.
                let _ = stdin.write_all(text.as_bytes());
                let _ = stdin.flush();
            }
        }
        if launch.eof {
            self.log.note(0, "standard input closed (end of input)");
            proc.stdin = None;
        }
        self.proc = Some(proc);
        Ok(())
    }

    /// Closes the client's standard input.
    pub fn close_input(&mut self) {
        if let Some(proc) = self.proc.as_mut() {
            self.log.note(0, "standard input closed (end of input)");
            proc.stdin = None;
        }
    }

    fn exited_detail(&mut self) -> String {
        let Some(proc) = self.proc.as_mut() else { return "no client".into() };
        let status = proc.wait_exit(Duration::from_millis(500));
        format!("the client ended ({}): {}", process::describe_status(status), tail(proc))
    }

    /// Accepts the client's connection.
    pub fn accept(&mut self) -> Step {
        // The client's start counts too, slower than any reply on a loaded machine.
        let give_up = (Instant::now() + self.config.timeout * 2).min(self.deadline);
        loop {
            for listener in &self.listeners {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nonblocking(false);
                        self.conns += 1;
                        self.log.note(self.conns, &format!("accepted a connection from {peer}"));
                        let conn = Conn::wrap(
                            stream,
                            self.conns,
                            Arc::clone(&self.log),
                            self.config.timeout,
                            self.deadline,
                        )?;
                        self.conn = Some(conn);
                        return Ok(());
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(error) => return Err(Finding::Closed(format!("accept failed: {error}"))),
                }
            }
            if self.proc.as_ref().is_some_and(Proc::exited) {
                let detail = self.exited_detail();
                return Err(Finding::fail("the client connects", detail));
            }
            if Instant::now() >= give_up {
                return Err(Finding::Timeout(format!(
                    "the client did not connect within {:?}",
                    self.config.timeout
                )));
            }
            // The listener is polled: the client is a process of its own, not an event we can wait on together.
            std::thread::sleep(Duration::from_millis(3));
        }
    }

    /// The next frame the client sends.
    pub fn recv(&mut self) -> Result<Vec<u8>, Finding> {
        let Some(conn) = self.conn.as_mut() else { return Err(Finding::Closed("no connection".into())) };
        match conn.recv_frame() {
            Ok(body) => Ok(body),
            Err(Finding::Closed(why)) => {
                self.connection_lost = true;
                let detail =
                    if self.proc.as_ref().is_some_and(Proc::exited) { self.exited_detail() } else { why };
                Err(Finding::Closed(detail))
            }
            Err(other) => Err(other),
        }
    }

    /// Sends a frame with this body to the client.
    pub fn reply(&mut self, body: &str) -> Step {
        let Some(conn) = self.conn.as_mut() else { return Err(Finding::Closed("no connection".into())) };
        // The client may have hung up already; what it does next is the verdict.
        let _ = conn.send_frame(body.as_bytes());
        Ok(())
    }

    /// Sends a reply one byte per write.
    pub fn reply_dribbled(&mut self, body: &str) -> Step {
        let Some(conn) = self.conn.as_mut() else { return Err(Finding::Closed("no connection".into())) };
        for byte in frame(body.as_bytes()) {
            if conn.send(&[byte]).is_err() {
                break;
            }
            conn.wait_peer_read();
        }
        Ok(())
    }

    /// Closes the scripted server's side of the connection.
    pub fn hang_up(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.close();
        }
    }

    /// Judges a frame at this case's level.
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

    /// The START frame: `plain` is the expected body of a plain session, with
    /// `"cipher": null`. A START without the cipher key is the assignment's own plain
    /// form (seed); one with a key makes the session encrypted and is checked with it.
    pub fn expect_start(&mut self, plain: &str) -> Step {
        let actual = self.recv().map_err(|finding| expected_instead(finding, plain))?;
        let parsed = super::json::parse(&actual).ok();
        let key_text = parsed
            .as_ref()
            .and_then(|start| start.get("cipher"))
            .and_then(|c| c.as_str())
            .map(str::to_string);
        match key_text.filter(|text| !text.is_empty()) {
            Some(text) => {
                let expected = plain.replace(r#""cipher": null"#, &format!(r#""cipher": "{text}""#));
                self.check(expected.as_bytes(), &[], &actual)?;
                match crypto::key_length(&text) {
                    Some(16 | 24 | 32) => {}
                    other => {
                        return Err(Finding::fail(
                            "cipher: the standard base64 of a 16-byte AES key",
                            format!(
                                "{text:?} ({})",
                                other.map_or("not base64".into(), |n| format!("{n} bytes"))
                            ),
                        ));
                    }
                }
                self.key = Key::from_base64(&text);
                self.key_text = Some(text);
                self.log.note(self.conns, "the session is encrypted");
                Ok(())
            }
            None => {
                if self.encrypted {
                    return Err(Finding::Unsupported(
                        "the client sent no key: it does not offer encryption (if it needs a flag to encrypt: --encrypt-cmd, or --client-encrypt-arg when grading)"
                            .into(),
                    ));
                }
                let without = plain.replace(r#", "cipher": null"#, "");
                let level = self.level;
                // The assignment's own plain START has no cipher key: exact at the seed level.
                if level == Level::Seed
                    && judge::judge(without.as_bytes(), &[], &actual) != Judgement::Mismatch
                {
                    return self.check(without.as_bytes(), &[], &actual);
                }
                self.check(plain.as_bytes(), &[], &actual)
            }
        }
    }

    /// The NUMBER frame for `number` (encrypted under the session's key if any).
    pub fn expect_number(&mut self, number: &str) -> Step {
        let expected = match &self.key {
            Some(key) => match key.encrypt(number) {
                Some(encrypted) => format!(r#"{{"op": "NUMBER", "number": "{encrypted}"}}"#),
                None => {
                    return Err(Finding::Unsupported(format!(
                        "{number} cannot be encrypted (the client always encrypts)"
                    )));
                }
            },
            None => format!(r#"{{"op": "NUMBER", "number": {number}}}"#),
        };
        let actual = self.recv().map_err(|finding| expected_instead(finding, &expected))?;
        let as_text = format!(r#"{{"op": "NUMBER", "number": "{number}"}}"#);
        let alternatives: Vec<(&[u8], &str)> = if self.key.is_none() {
            vec![(as_text.as_bytes(), "the number sent as a JSON string")]
        } else {
            vec![]
        };
        self.check(expected.as_bytes(), &alternatives, &actual)
    }

    /// A frame with exactly this body.
    pub fn expect_frame(&mut self, expected: &str) -> Step {
        let actual = self.recv().map_err(|finding| expected_instead(finding, expected))?;
        self.check(expected.as_bytes(), &[], &actual)
    }

    /// The STOP reply carrying `min` and `max`, encrypted when the session is.
    pub fn stop_reply(&self, min: &str, max: &str) -> String {
        match &self.key {
            Some(key) => format!(
                r#"{{"op": "STOP", "status": true, "min": "{}", "max": "{}"}}"#,
                key.encrypt(min).unwrap_or_default(),
                key.encrypt(max).unwrap_or_default()
            ),
            None => format!(r#"{{"op": "STOP", "status": true, "min": {min}, "max": {max}}}"#),
        }
    }

    /// Whether the session is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.key.is_some()
    }

    /// Waits for the client to exit; its exit code (`None` when killed by a signal).
    pub fn wait_exit(&mut self) -> Result<Option<i32>, Finding> {
        let timeout = self.config.timeout;
        let Some(proc) = self.proc.as_mut() else { return Err(Finding::Closed("no client".into())) };
        match proc.wait_exit(timeout) {
            Some(status) => {
                self.log.note(0, &format!("the client ended: {}", process::describe_status(Some(status))));
                Ok(status.code())
            }
            None => {
                Err(Finding::Timeout(format!("the client was still running {timeout:?} after its last step")))
            }
        }
    }

    /// The client must exit with `code`.
    pub fn expect_exit(&mut self, code: i32) -> Step {
        let got = self.wait_exit()?;
        if got == Some(code) {
            return Ok(());
        }
        let actual = match got {
            Some(got) => format!("exit code {got}"),
            None => "killed by a signal".into(),
        };
        let output = self.proc.as_ref().map(tail).unwrap_or_default();
        Err(Finding::fail(format!("exit code {code}"), format!("{actual}; output: {output}")))
    }

    /// What the client printed on standard output.
    pub fn stdout(&self) -> String {
        self.proc
            .as_ref()
            .map(|proc| String::from_utf8_lossy(&proc.stdout()).into_owned())
            .unwrap_or_default()
    }

    /// Everything the client printed.
    pub fn all_output(&self) -> String {
        self.proc
            .as_ref()
            .map(|proc| {
                let mut all = String::from_utf8_lossy(&proc.stdout()).into_owned();
                all.push('\n');
                all.push_str(&String::from_utf8_lossy(&proc.stderr()));
                all
            })
            .unwrap_or_default()
    }

    /// Standard output must show each of `numbers` as an integer.
    pub fn expect_printed(&mut self, numbers: &[&str], what: &str) -> Step {
        let printed = integers(&self.stdout());
        let missing: Vec<&str> =
            numbers.iter().copied().filter(|n| !printed.iter().any(|p| p == n)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Finding::fail(
                format!("standard output shows {what}: {}", numbers.join(" ")),
                format!("{} missing from {:?}", missing.join(" "), super::json::shorten(&self.stdout(), 300)),
            ))
        }
    }

    /// Waits until the client blocks reading its standard input (it waits for the
    /// user), as the kernel shows it; a short pause where the kernel does not say.
    pub fn wait_for_prompt(&mut self) -> Step {
        let give_up = Instant::now() + self.config.timeout;
        loop {
            let Some(proc) = self.proc.as_ref() else { return Ok(()) };
            match proc.waiting_for_input() {
                Some(true) => return Ok(()),
                None => {
                    std::thread::sleep(Duration::from_millis(300));
                    return Ok(());
                }
                Some(false) if Instant::now() >= give_up => {
                    return Err(Finding::Timeout("the client never waited for input again".into()));
                }
                Some(false) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Sends `signal` to the client's process group, as a terminal does.
    pub fn signal(&mut self, signal: rustix::process::Signal, name: &str) {
        self.signalled = true;
        if let Some(proc) = self.proc.as_ref() {
            self.log.note(0, &format!("{name} sent to the client's process group"));
            proc.signal_group(signal);
        }
    }

    /// Records an allowed reading.
    pub fn note(&mut self, reading: String) {
        self.notes.push(reading);
    }

    /// The level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// A standard session: START as `start`, each number, the stop word, and the
    /// scripted server's min and max (`min`, `max`); the client must exit 0 and print
    /// the numbers and that min and max.
    pub fn session(&mut self, id: &str, start: &str, numbers: &[&str], min: &str, max: &str) -> Step {
        let mut lines: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
        lines.push(self.stop_word());
        self.launch(Launch { id: Some(id), lines, ..Launch::default() })?;
        self.accept()?;
        self.expect_start(start)?;
        self.reply(r#"{"op": "START", "status": true}"#)?;
        for number in numbers {
            self.expect_number(number)?;
            self.reply(r#"{"op": "NUMBER", "status": true}"#)?;
        }
        self.expect_frame(r#"{"op": "STOP"}"#)?;
        let reply = self.stop_reply(min, max);
        self.reply(&reply)?;
        self.expect_exit(0)?;
        self.expect_printed(numbers, "the numbers sent")?;
        self.expect_printed(&[min, max], "the min and max the server sent")
    }
}

fn expected_instead(finding: Finding, expected: &str) -> Finding {
    match finding {
        Finding::Closed(why) => Finding::fail(expected.to_string(), why),
        other => other,
    }
}

fn tail(proc: &Proc) -> String {
    let tail = proc.output_tail(4);
    if tail.is_empty() { "(no output)".into() } else { tail }
}

/// The integers in `text`: digit runs, with a `-` or `+` sign right before them when
/// that sign does not follow a letter or digit.
pub fn integers(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let signed = start > 0
                && bytes[start - 1] == b'-'
                && (start < 2 || !bytes[start - 2].is_ascii_alphanumeric());
            let digits = &text[start..i];
            let digits = digits.trim_start_matches('0');
            let digits = if digits.is_empty() { "0" } else { digits };
            found.push(if signed && digits != "0" { format!("-{digits}") } else { digits.to_string() });
        } else {
            i += 1;
        }
    }
    found
}

/// Runs one case and decides its verdict.
pub fn run_case(case: &Case, config: &Config) -> Outcome {
    let started = Instant::now();
    let (result, ctx) = match Ctx::new(config, case.info.level, case.encrypted) {
        Ok(mut ctx) => ((case.run)(&mut ctx), Some(ctx)),
        Err(finding) => (Err(finding), None),
    };
    let mut evidence = Evidence::default();
    let mut crashed = None;
    if let Some(mut ctx) = ctx {
        ctx.hang_up();
        let signalled = ctx.signalled;
        let lost = ctx.connection_lost || matches!(result, Err(Finding::Closed(_) | Finding::Timeout(_)));
        let mut procs: Vec<Proc> = std::mem::take(&mut ctx.earlier);
        procs.extend(ctx.proc.take());
        for proc in &mut procs {
            if lost && !proc.exited() {
                // A client dying of an exception takes a moment to exit: let its status be its own.
                let _ = proc.wait_exit(Duration::from_millis(300));
            }
            let before = proc.exited();
            let status = proc.kill();
            let output = super::server::output_of(proc);
            let stderr = String::from_utf8_lossy(&proc.stderr()).into_owned();
            let died_of_signal = before && !signalled && status.is_some_and(|status| status.code().is_none());
            let traceback =
                stderr.contains("Traceback (most recent call last)") || stderr.contains("panicked at");
            if crashed.is_none() && (died_of_signal || traceback) {
                crashed = Some(format!(
                    "the client died: {}; its last output: {}",
                    process::describe_status(status),
                    tail(proc)
                ));
            }
            evidence.output.push_str(&output);
            evidence.exit = process::describe_status(status);
        }
        evidence.transcript = ctx.log.render();
        evidence.notes = ctx.notes.clone();
    }
    let notes = evidence.notes.clone();
    let (verdict, detail) = match result {
        Err(Finding::Unsupported(reason)) => (Verdict::Unsupported, reason),
        Err(_) if crashed.is_some() => (Verdict::Crash, crashed.unwrap_or_default()),
        Ok(()) if crashed.is_some() => (Verdict::Crash, crashed.unwrap_or_default()),
        Ok(()) if notes.is_empty() => (Verdict::Pass, String::new()),
        Ok(()) => (Verdict::NonStrict, notes.join("; ")),
        Err(Finding::Fail { expected, actual }) => {
            (Verdict::Fail, format!("Expected: {expected}  Actual: {actual}"))
        }
        Err(Finding::Closed(why)) => (Verdict::Fail, why),
        Err(Finding::Timeout(why)) => (Verdict::Timeout, why),
    };
    Outcome {
        info: case.info,
        expectation: case.expectation.to_string(),
        verdict,
        detail,
        evidence,
        duration: started.elapsed(),
        rerun: format!("{} --only {} --level all", config.rerun, case.info.id),
    }
}

/// `minmax-conform client`.
pub fn run_cli(args: super::cli::ClientArgs) -> Result<u8, String> {
    let common = args.common;
    let filter = super::runner::Filter {
        only: common.only.clone(),
        exclude: common.exclude.clone(),
        level: common.level,
    };
    let selected: Vec<&Case> = CASES.iter().filter(|case| filter.selects(&case.info)).collect();
    if selected.is_empty() {
        return Err("no case matches the selection (see --list, --only, --exclude and --level)".into());
    }
    if common.list {
        for case in &selected {
            crate::outln!("{}  [{}]  {}", case.info.id, case.info.level.name(), case.info.description);
            for line in case.expectation.lines() {
                crate::outln!("    {line}");
            }
        }
        crate::outln!("{} client cases", selected.len());
        return Ok(super::EXIT_PASSED);
    }
    let Some(cmd) = args.cmd else {
        return Err("give the client to test: --cmd 'TEMPLATE with {id} {port} {host}'".into());
    };
    let mut template = Template::parse(&cmd)?;
    let mut encrypt_template = args.encrypt_cmd.as_deref().map(Template::parse).transpose()?;
    if args.cwd.is_none() {
        let here = std::env::current_dir().unwrap_or_default();
        template.anchor(&here);
        if let Some(encrypt) = encrypt_template.as_mut() {
            encrypt.anchor(&here);
        }
    }
    for placeholder in ["{id}", "{port}"] {
        if !template.has(placeholder) {
            return Err(format!("the client command {cmd:?} has no {placeholder} placeholder"));
        }
    }
    let cwd = args.cwd.as_deref().map(process::absolute);
    if let Some(dir) = &cwd
        && !dir.is_dir()
    {
        return Err(format!("--cwd {} is not a directory", dir.display()));
    }
    super::check_program(&template, cwd.as_deref())?;
    let mut rerun = format!("{} client {}", super::program(), super::quoted("--cmd", &template.text));
    if let Some(encrypt) = &encrypt_template {
        rerun.push_str(&format!(" {}", super::quoted("--encrypt-cmd", &encrypt.text)));
    }
    if let Some(dir) = &cwd {
        rerun.push_str(&format!(" {}", super::quoted("--cwd", &dir.display().to_string())));
    }
    if args.stop_word != "stop" {
        rerun.push_str(&format!(" {}", super::quoted("--stop-word", &args.stop_word)));
    }
    if args.quit_word != "quit" {
        rerun.push_str(&format!(" {}", super::quoted("--quit-word", &args.quit_word)));
    }
    if (common.timeout - 5.0).abs() > f64::EPSILON {
        rerun.push_str(&format!(" --timeout {}", common.timeout));
    }
    let config = Config {
        template,
        encrypt_template,
        cwd,
        stop_word: args.stop_word,
        quit_word: args.quit_word,
        timeout: Duration::from_secs_f64(common.timeout),
        rerun,
    };
    let jobs = common.jobs.unwrap_or_else(super::runner::default_jobs);
    let started = Instant::now();
    let outcomes = super::runner::run_parallel(&selected, jobs, |case| run_case(case, &config), |_| {});
    let info = RunInfo {
        battery: "client".into(),
        target: cmd,
        level: format!("{:?}", common.level).to_lowercase(),
        seconds: started.elapsed().as_secs_f64(),
    };
    super::finish(&outcomes, &info, &common)
}

#[cfg(test)]
mod tests {
    use super::integers;

    #[test]
    fn printed_integers_are_found_with_their_sign() {
        assert_eq!(
            integers("numbers sent (3): 5 -3 12\nmin: -3\nmax: 12"),
            ["3", "5", "-3", "12", "-3", "12"]
        );
        assert_eq!(integers("Valor: Minimo=-7, Maximo=99"), ["-7", "99"]);
        assert_eq!(integers("client-3 got 007"), ["3", "7"]);
    }
}
