//! The harness of the end-to-end tests: the real `minmax-server` binary started on
//! port 0 in a temporary directory, found by its `listening on` log line (no test
//! sleeps to wait for it), and raw protocol clients whose every read has a timeout.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod postgres;

pub use rustix::process::Signal;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single read or wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn server_binary() -> &'static str {
    env!("CARGO_BIN_EXE_minmax-server")
}

/// A running `minmax-server`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    log: Arc<Mutex<String>>,
    pub log_lines: mpsc::Receiver<String>,
    /// Reads stderr until the server's end; joined after an exit so the log is whole.
    log_reader: Option<std::thread::JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

/// Where a server's output went when it did not start.
pub struct Failed {
    pub status: ExitStatus,
    pub stderr: String,
}

impl Server {
    /// Starts a server on port 0 with a report in a new temporary directory.
    pub fn start(args: &[&str]) -> Server {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path().to_path_buf();
        let mut server = Server::start_in(&dir, args).unwrap_or_else(|failed| {
            panic!("the server did not start ({}): {}", failed.status, failed.stderr)
        });
        server._temp = Some(temp);
        server
    }

    /// Starts a server on port 0 whose working directory (and default report) is `dir`.
    pub fn start_in(dir: &Path, args: &[&str]) -> Result<Server, Failed> {
        Server::start_with(dir, args, |_| {})
    }

    /// Like [`Server::start_in`], letting the caller adjust the command first.
    pub fn start_with(
        dir: &Path,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Result<Server, Failed> {
        let mut command = Command::new(server_binary());
        command
            .arg("0")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command.env_remove("RUST_LOG");
        adjust(&mut command);
        let mut child = command.spawn().expect("the server binary runs");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (lines_tx, lines_rx) = mpsc::channel();
        let thread_log = Arc::clone(&log);
        let log_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // One lock per line: a reader never sees half of one.
                let mut log = thread_log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
                drop(log);
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.split("listening on ").nth(1) {
                        let addr = addr.trim().parse().expect("the listening line ends with the address");
                        return Ok(Server {
                            child,
                            addr,
                            dir: dir.to_path_buf(),
                            log,
                            log_lines: lines_rx,
                            log_reader: Some(log_reader),
                            _temp: None,
                        });
                    }
                }
                Err(_) => {
                    // Either the server exited (stderr closed) or it hangs: wait for
                    // the exit, which a hanging server fails with a timeout.
                    let status = wait_with_timeout(&mut child, TIMEOUT)
                        .expect("the server exits when it cannot start");
                    let stderr = log.lock().unwrap().clone();
                    return Err(Failed { status, stderr });
                }
            }
        }
    }

    /// The report in the server's directory (the default `--report`).
    pub fn report(&self) -> PathBuf {
        self.dir.join("report.csv")
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(line) = self.log().lines().find(|line| line.contains(needle)) {
                return line.to_string();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no log line contains {needle:?}; the log:\n{}", self.log());
            let _ = self.log_lines.recv_timeout(left.min(Duration::from_millis(200)));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` to the server: our own child, not reaped yet (the `Child` is
    /// still owned), so its pid cannot belong to another process.
    pub fn signal(&self, signal: Signal) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, signal)
            .unwrap_or_else(|error| panic!("kill({}, {signal:?}) failed: {error}", self.pid()));
    }

    /// SIGTERM, then the exit status and the whole log.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        self.signal(Signal::TERM);
        let status = wait_with_timeout(&mut self.child, TIMEOUT).expect("the server stops after SIGTERM");
        (status, self.whole_log())
    }

    /// The log up to the server's exit: the reader thread has seen the end of stderr.
    fn whole_log(&mut self) -> String {
        if let Some(reader) = self.log_reader.take() {
            reader.join().expect("the log reader does not panic");
        }
        self.log()
    }

    /// SIGKILL: the server dies without any chance to clean up.
    pub fn kill9(mut self) {
        self.signal(Signal::KILL);
        let _ = wait_with_timeout(&mut self.child, TIMEOUT);
    }

    /// Waits for the server to exit on its own; the exit status and the whole log.
    pub fn wait_exit(mut self) -> (ExitStatus, String) {
        let status = wait_with_timeout(&mut self.child, TIMEOUT).expect("the server exits");
        (status, self.whole_log())
    }

    /// The server's resident memory, from /proc.
    pub fn rss_kib(&self) -> u64 {
        self.proc_status_kib("VmRSS:")
    }

    /// The most resident memory the server has had, from /proc.
    pub fn peak_rss_kib(&self) -> u64 {
        self.proc_status_kib("VmHWM:")
    }

    fn proc_status_kib(&self, key: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc is readable");
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} is in /proc/PID/status"))
    }

    /// Waits for the next log line, for at most [`TIMEOUT`].
    pub fn next_log_line(&self) -> Option<String> {
        self.log_lines.recv_timeout(TIMEOUT).ok()
    }

    /// The address of the metrics endpoint, from the server's log (`--metrics`).
    pub fn metrics_addr(&self) -> SocketAddr {
        let line = self.wait_for_log("metrics on http://");
        let addr = line.split("http://").nth(1).and_then(|rest| rest.split('/').next());
        addr.and_then(|addr| addr.parse().ok()).expect("the metrics line names the address")
    }

    /// One scrape of `GET /metrics`: the body.
    pub fn scrape(&self) -> String {
        let mut stream = TcpStream::connect_timeout(&self.metrics_addr(), TIMEOUT).expect("metrics accept");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("a whole response");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
    }

    /// A sample's value in the last scrape, by its whole name and labels as exposed.
    pub fn metric(&self, sample: &str) -> f64 {
        let body = self.scrape();
        body.lines()
            .find_map(|line| line.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no sample {sample} in:\n{body}"))
    }

    /// A new connection to the server's port.
    pub fn connect(&self) -> Conn {
        Conn::connect(self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, for at most `timeout`: a pidfd becomes readable when
/// the process exits, so this waits on the event itself.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    use rustix::event::{PollFd, PollFlags, poll};
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let pidfd =
        pidfd_open(Pid::from_child(child), PidfdFlags::empty()).expect("pidfd_open works on Linux 5.3+");
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timespec = rustix::time::Timespec::try_from(left).expect("a short timeout");
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&timespec)) {
            Ok(0) => return None,
            Ok(_) => return child.wait().ok(),
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => panic!("poll on a pidfd failed: {error}"),
        }
    }
}

/// A raw protocol client.
pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("the server accepts");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn { stream }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("the server reads");
    }

    pub fn send(&mut self, json: &str) {
        self.send_raw(&frame(json.as_bytes()));
    }

    /// The next reply's body, as text.
    pub fn recv(&mut self) -> String {
        let body = self.recv_bytes().expect("a reply, not the end of the connection");
        String::from_utf8(body).expect("replies are ASCII")
    }

    /// The next reply's body, or `None` at the end of the connection.
    pub fn recv_bytes(&mut self) -> Option<Vec<u8>> {
        let mut prefix = [0u8; 4];
        match self.stream.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(error) => panic!("reading a reply failed: {error}"),
        }
        let mut body = vec![0; u32::from_be_bytes(prefix) as usize];
        self.stream.read_exact(&mut body).expect("the reply's body follows its prefix");
        Some(body)
    }

    /// Sends `json` and returns the reply.
    pub fn request(&mut self, json: &str) -> String {
        self.send(json);
        self.recv()
    }

    /// Asserts the server closes the connection (after any replies still to come).
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "unexpected bytes before the close: {rest:?}"),
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}"),
        }
    }

    /// START, the numbers, STOP: the STOP reply.
    pub fn session(&mut self, id: &str, numbers: &[&str]) -> String {
        let started = self.request(&format!(r#"{{"op": "START", "client_id": "{id}", "cipher": null}}"#));
        assert_eq!(started, r#"{"op": "START", "status": true}"#);
        for number in numbers {
            let reply = self.request(&format!(r#"{{"op": "NUMBER", "number": {number}}}"#));
            assert_eq!(reply, r#"{"op": "NUMBER", "status": true}"#);
        }
        self.request(r#"{"op": "STOP"}"#)
    }
}

pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// The rows of a report, parsed by the `csv` crate (not by our own code).
pub fn report_rows(path: &Path) -> Vec<[String; 4]> {
    let bytes = std::fs::read(path).expect("the report is readable");
    assert!(bytes.starts_with(b"client_id,count,min,max\r\n"), "the report starts with the header");
    assert!(bytes.ends_with(b"\r\n"), "the report ends with a whole line");
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
    reader
        .records()
        .map(|record| {
            let record = record.expect("every row is valid CSV");
            assert_eq!(record.len(), 4, "every row has four fields: {record:?}");
            [0, 1, 2, 3].map(|i| record[i].to_string())
        })
        .collect()
}
