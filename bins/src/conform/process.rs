//! Programs under test: command templates, each process in a process group of its own
//! (killed as a group), output captured, readiness read from `/proc/net/tcp*` (a probe
//! connection would crash some servers), and fresh working directories.

use rustix::process::{Pid, PidfdFlags, Signal};
use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most output kept per stream of a process (the tail wins).
const OUTPUT_LIMIT: usize = 256 * 1024;

/// A command line with `{port}`, `{id}`, `{host}` placeholders, split like a shell
/// would split it (quotes and backslashes) but never run through a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The template as given, for re-run commands.
    pub text: String,
    words: Vec<String>,
}

impl Template {
    /// Splits `text` into words.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    in_word = true;
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(c) => word.push(c),
                            None => return Err(format!("unterminated ' quote in {text:?}")),
                        }
                    }
                }
                '"' => {
                    in_word = true;
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                                Some(c) => {
                                    word.push('\\');
                                    word.push(c);
                                }
                                None => return Err(format!("unterminated \" quote in {text:?}")),
                            },
                            Some(c) => word.push(c),
                            None => return Err(format!("unterminated \" quote in {text:?}")),
                        }
                    }
                }
                '\\' => {
                    in_word = true;
                    if let Some(c) = chars.next() {
                        word.push(c);
                    }
                }
                c if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                c => {
                    in_word = true;
                    word.push(c);
                }
            }
        }
        if in_word {
            words.push(word);
        }
        if words.is_empty() {
            return Err("the command is empty".into());
        }
        Ok(Template { text: text.to_string(), words })
    }

    /// Makes absolute every word that names an existing file or folder relative to
    /// `base`: the program runs in a fresh directory, where `server.py` or
    /// `.venv/bin/python` would no longer be found.
    pub fn anchor(&mut self, base: &Path) {
        for word in &mut self.words {
            if word.is_empty()
                || word.starts_with('-')
                || word.contains('{')
                || Path::new(word.as_str()).is_absolute()
            {
                continue;
            }
            let candidate = base.join(word.as_str());
            if candidate.exists() {
                *word = absolute(&candidate).display().to_string();
            }
        }
        // Re-run commands then work from any directory.
        self.text = self.words.iter().map(|word| shell_quote(word)).collect::<Vec<_>>().join(" ");
    }

    /// Whether a word holds `placeholder` (such as `{port}`).
    pub fn has(&self, placeholder: &str) -> bool {
        self.words.iter().any(|word| word.contains(placeholder))
    }

    /// The argument vector with each `{name}` replaced by its value. A word that is
    /// only a placeholder whose value is `None` is left out (for "missing argument").
    pub fn argv(&self, values: &[(&str, Option<&str>)]) -> Vec<String> {
        let mut argv = Vec::new();
        'words: for word in &self.words {
            let mut out = word.clone();
            for (name, value) in values {
                let placeholder = format!("{{{name}}}");
                if word == &placeholder && value.is_none() {
                    continue 'words;
                }
                out = out.replace(&placeholder, value.unwrap_or(""));
            }
            argv.push(out);
        }
        argv
    }
}

/// Quotes `word` for a POSIX shell, for the re-run commands shown to people.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,{}".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A free TCP port on 127.0.0.1, never the same one twice in this run, so that
/// parallel cases do not race for a port the kernel hands out again.
pub fn free_port() -> std::io::Result<u16> {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..100 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port found after 100 tries"))
}

/// The process groups of the programs under test that are still running, so that an
/// interrupted run stops them instead of leaving them behind.
static LIVE_GROUPS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn live_groups() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    LIVE_GROUPS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Catches SIGINT, SIGTERM and SIGHUP: they kill every program under test (each is in
/// a group of its own, out of the terminal's reach), then end the tool.
///
/// It also matters to the programs: a run started where SIGINT is ignored (a
/// background job of a script) would otherwise hand them an ignored SIGINT, and a
/// Python client then never sees the Ctrl-C a case sends it. Caught signals are reset
/// to their defaults in a new program; ignored ones are not.
pub fn handle_interrupts() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("interrupts".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            for group in live_groups().iter() {
                if let Some(pid) = Pid::from_raw(*group as i32) {
                    let _ = rustix::process::kill_process_group(pid, Signal::KILL);
                }
            }
            eprintln!("minmax-conform: interrupted; the programs under test were stopped");
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}

/// A running program under test.
pub struct Proc {
    child: Child,
    pidfd: Option<OwnedFd>,
    /// Its standard input, when piped.
    pub stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    status: Option<ExitStatus>,
    /// The argument vector it was started with.
    pub argv: Vec<String>,
}

impl Proc {
    /// Starts `argv` in `cwd`, in a new process group, output captured.
    pub fn spawn(argv: &[String], cwd: &Path, piped_stdin: bool) -> std::io::Result<Proc> {
        let (program, args) =
            argv.split_first().ok_or_else(|| std::io::Error::other("an empty command line"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(cwd)
            .stdin(if piped_stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Output reaches us as it is written, even when the program is killed.
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("RUST_LOG")
            .process_group(0);
        let mut child = command.spawn()?;
        let pidfd = rustix::process::pidfd_open(Pid::from_child(&child), PidfdFlags::empty()).ok();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(collect(out, Arc::clone(&stdout)));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(collect(err, Arc::clone(&stderr)));
        }
        let stdin = child.stdin.take();
        live_groups().insert(child.id());
        Ok(Proc { child, pidfd, stdin, stdout, stderr, readers, status: None, argv: argv.to_vec() })
    }

    /// The process id, which is also its process group's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (without reaping it, so its group id stays ours).
    pub fn exited(&self) -> bool {
        if self.status.is_some() {
            return true;
        }
        match &self.pidfd {
            Some(pidfd) => {
                let mut fds = [rustix::event::PollFd::new(pidfd, rustix::event::PollFlags::IN)];
                let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
                matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
            }
            None => false,
        }
    }

    /// Waits up to `timeout` for the process to exit on its own; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.status {
            return Some(status);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let exited = match &self.pidfd {
                Some(pidfd) => {
                    let mut fds = [rustix::event::PollFd::new(pidfd, rustix::event::PollFlags::IN)];
                    let wait = rustix::event::Timespec {
                        tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
                        tv_nsec: left.subsec_nanos().into(),
                    };
                    match rustix::event::poll(&mut fds, Some(&wait)) {
                        Ok(n) => n > 0,
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(_) => self.exited_by_try_wait(),
                    }
                }
                None => {
                    // No pidfd (an old kernel): poll the status.
                    let exited = self.exited_by_try_wait();
                    if !exited && !left.is_zero() {
                        std::thread::sleep(left.min(Duration::from_millis(10)));
                        continue;
                    }
                    exited
                }
            };
            if exited {
                // Whatever it left running in its group goes too.
                self.signal_group(Signal::KILL);
                return self.reap();
            }
            if left.is_zero() {
                return None;
            }
        }
    }

    fn exited_by_try_wait(&mut self) -> bool {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.status = Some(status);
        }
        self.status.is_some()
    }

    fn reap(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.wait().ok();
            live_groups().remove(&self.child.id());
        }
        self.drain_readers();
        self.status
    }

    /// Sends `signal` to the whole process group, as a terminal does for Ctrl-C.
    pub fn signal_group(&self, signal: Signal) {
        if self.status.is_none()
            && let Some(pid) = Pid::from_raw(self.pid() as i32)
        {
            let _ = rustix::process::kill_process_group(pid, signal);
        }
    }

    /// Kills the whole group and reaps the process; its exit status.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.signal_group(Signal::KILL);
        self.stdin.take();
        self.reap()
    }

    /// Joins the output readers once the group is gone (bounded: a grandchild that
    /// escaped the group could hold the pipe open).
    fn drain_readers(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        for reader in std::mem::take(&mut self.readers) {
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
    }

    /// Everything it wrote to standard output so far.
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Everything it wrote to standard error so far.
    pub fn stderr(&self) -> Vec<u8> {
        self.stderr.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The last `lines` lines of its output, both streams, for a crash verdict.
    pub fn output_tail(&self, lines: usize) -> String {
        let mut all = String::from_utf8_lossy(&self.stdout()).into_owned();
        let err = String::from_utf8_lossy(&self.stderr()).into_owned();
        if !all.is_empty() && !err.is_empty() && !all.ends_with('\n') {
            all.push('\n');
        }
        all.push_str(&err);
        let kept: Vec<&str> = all.lines().collect();
        kept[kept.len().saturating_sub(lines)..].join(" | ")
    }

    /// Whether some thread of its group is blocked reading its standard input, i.e.
    /// it waits for the user. `None` when the kernel does not say.
    pub fn waiting_for_input(&self) -> Option<bool> {
        let pgid = self.pid();
        let mut known = false;
        for pid in group_members(pgid) {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
            for task in tasks.flatten() {
                let Ok(syscall) = std::fs::read_to_string(task.path().join("syscall")) else { continue };
                known = true;
                let mut fields = syscall.split_whitespace();
                let number = fields.next().and_then(|n| n.parse::<i64>().ok());
                let fd = fields.next().and_then(|a| i64::from_str_radix(a.trim_start_matches("0x"), 16).ok());
                if number.is_some_and(is_read_syscall) && fd == Some(0) {
                    return Some(true);
                }
            }
        }
        known.then_some(false)
    }

    /// The process's exit status if it has been reaped.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// read(2), readv(2) or pread64(2) on this architecture.
fn is_read_syscall(number: i64) -> bool {
    if cfg!(target_arch = "x86_64") {
        matches!(number, 0 | 17 | 19)
    } else if cfg!(target_arch = "aarch64") {
        matches!(number, 63 | 65 | 67)
    } else {
        false
    }
}

/// The processes whose group id is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return members };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { continue };
        let group = rest.split_whitespace().nth(2).and_then(|g| g.parse::<u32>().ok());
        if group == Some(pgid) {
            members.push(pid);
        }
    }
    members
}

fn collect(mut stream: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let mut kept = into.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    kept.extend_from_slice(&buffer[..n]);
                    if kept.len() > OUTPUT_LIMIT {
                        let cut = kept.len() - OUTPUT_LIMIT;
                        kept.drain(..cut);
                    }
                }
            }
        }
    })
}

/// How a process ended, in words.
pub fn describe_status(status: Option<ExitStatus>) -> String {
    match status {
        None => "still running".into(),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}{}", signal_name(signal)),
            (None, None) => "ended".into(),
        },
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        2 => " (SIGINT)",
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        13 => " (SIGPIPE)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// Where a server listens, read from the kernel's socket tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listening {
    /// An IPv4 socket (any address): connect to 127.0.0.1.
    V4,
    /// An IPv6 socket only: connect to ::1.
    V6,
}

impl Listening {
    /// The loopback address to connect to.
    pub fn loopback(self) -> IpAddr {
        match self {
            Listening::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Listening::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        }
    }
}

/// The sockets listening on `port`, from `/proc/net/tcp` and `/proc/net/tcp6`: their
/// family and inode.
pub fn listening_on(port: u16) -> Vec<(Listening, u64)> {
    let wanted = format!(":{port:04X}");
    let mut found = Vec::new();
    for (path, family) in [("/proc/net/tcp", Listening::V4), ("/proc/net/tcp6", Listening::V6)] {
        let Ok(table) = std::fs::read_to_string(path) else { continue };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && fields[1].ends_with(&wanted) && fields[3] == "0A" {
                found.push((family, fields[9].parse().unwrap_or(0)));
            }
        }
    }
    found
}

/// Whether a process of group `pgid` holds the socket with this inode.
fn group_holds_socket(pgid: u32, inode: u64) -> bool {
    let link = format!("socket:[{inode}]");
    group_members(pgid).into_iter().any(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == link.as_str())
            })
        })
    })
}

/// Why a server never became ready.
pub enum NotReady {
    /// It exited first.
    Exited(Option<ExitStatus>),
    /// It still runs but never listened.
    Timeout,
}

/// Waits until `proc` listens on `port`, reading the socket tables every few
/// milliseconds; never connects.
pub fn wait_listening(proc: &mut Proc, port: u16, timeout: Duration) -> Result<Listening, NotReady> {
    let deadline = Instant::now() + timeout;
    loop {
        // The socket must be the server's own: another program may have taken the port.
        let ours = listening_on(port).into_iter().find(|(_, inode)| group_holds_socket(proc.pid(), *inode));
        if let Some((listening, _)) = ours {
            return Ok(listening);
        }
        if proc.exited() {
            return Err(NotReady::Exited(proc.wait_exit(Duration::from_secs(1))));
        }
        if Instant::now() >= deadline {
            return Err(NotReady::Timeout);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A fresh working directory: empty, or a copy of `from` without its `report.csv`
/// (each case starts with no report), caches and version control.
pub fn fresh_dir(from: Option<&Path>) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("minmax-conform-").tempdir()?;
    if let Some(from) = from {
        copy_tree(from, dir.path(), 0)?;
    }
    Ok(dir)
}

fn copy_tree(from: &Path, to: &Path, depth: usize) -> std::io::Result<()> {
    const SKIPPED: [&str; 6] = ["report.csv", ".git", "__pycache__", ".venv", "venv", "node_modules"];
    if depth > 8 {
        return Ok(());
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if SKIPPED.iter().any(|skipped| name == *skipped) {
            continue;
        }
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target, depth + 1)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// An absolute form of `path` for re-run commands.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_like_a_shell_and_drop_missing_placeholders() {
        let template = Template::parse(r#"python3 'my dir/server.py' {port} --x="a b" c\ d"#).unwrap();
        assert_eq!(
            template.argv(&[("port", Some("5000"))]),
            ["python3", "my dir/server.py", "5000", "--x=a b", "c d"]
        );
        assert_eq!(template.argv(&[("port", None)]), ["python3", "my dir/server.py", "--x=a b", "c d"]);
        assert!(template.has("{port}"));
        assert!(Template::parse("  ").is_err());
        assert!(Template::parse("a 'b").is_err());
    }

    #[test]
    fn shell_quoting_round_trips_through_the_splitter() {
        for word in ["plain", "with space", "it's", "", "{port}"] {
            let quoted = shell_quote(word);
            assert_eq!(Template::parse(&format!("x {quoted}")).unwrap().argv(&[]), ["x", word]);
        }
    }
}
