//! The client program around `minmax_net::client::ClientLoop`: standard input read
//! in bounded chunks on a thread of its own, SIGINT and SIGTERM turned into
//! interrupts, and the client's words written to the terminal or the standard
//! streams, with a progress line for long piped inputs (PROTOCOL §7).
//!
//! Nothing here decides a rule of the protocol: the session, its limits, its output
//! and its exit status are `minmax_core::Client`'s; the network is the loop's.

use minmax_core::{ClientConfig, Exit, TlsSettings, client};
use minmax_net::client::{ClientLoop, ClientTls, Console, Inbox, Input};
use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Bytes of standard input read at a time: a 200 MB line costs no more than this.
const INPUT_CHUNK: usize = 64 * 1024;

/// What the client was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The client id, already checked.
    pub client_id: String,
    /// The server's host, already checked.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// Run an encrypted session.
    pub encrypt: bool,
    /// Print the outcome as one JSON object.
    pub json: bool,
    /// Print only the count, min and max.
    pub quiet: bool,
    /// Speak TLS (`--tls`).
    pub tls: Option<Tls>,
}

/// TLS for the session (`--tls`, PROTOCOL §8).
#[derive(Debug, Clone)]
pub struct Tls {
    /// What each connection's TLS starts from (files read, host checked).
    pub client: ClientTls,
    /// The files as given, for the client's messages.
    pub settings: TlsSettings,
}

/// Runs one session; returns the exit status.
pub fn run(options: &Options) -> Exit {
    let key = if options.encrypt {
        match fresh_key() {
            Ok(key) => Some(key),
            Err(error) => {
                let message = format!(
                    "cannot draw a key from the system's random source ({error}): expected a working \
                     /dev/urandom or getrandom(2)"
                );
                return fail(options, &message, Exit::Unavailable);
            }
        }
    } else {
        None
    };
    let interactive = std::io::stdin().is_terminal();
    let config = ClientConfig {
        client_id: options.client_id.clone(),
        host: options.host.clone(),
        port: options.port,
        key,
        interactive,
        json: options.json,
        quiet: options.quiet,
        width: terminal_width(),
        tls: options.tls.as_ref().map(|tls| tls.settings.clone()),
    };
    let (session, inbox) = match ClientLoop::new(config, options.tls.as_ref().map(|tls| tls.client.clone())) {
        Ok(started) => started,
        Err(error) => return fail(options, &format!("cannot start the client: {error}"), Exit::Unavailable),
    };
    if let Err(error) = start_threads(&inbox) {
        return fail(options, &format!("cannot start the client: {error}"), Exit::Unavailable);
    }
    let show_progress = !interactive && !options.quiet && std::io::stderr().is_terminal();
    let mut console = Terminal {
        progress: show_progress.then(Progress::new),
        prompt_on_stdout: std::io::stdout().is_terminal(),
    };
    session.run(&mut console)
}

/// Reports a failure before any session: on standard error, and with `--json` as
/// the one object on standard output.
pub fn fail(options: &Options, message: &str, exit: Exit) -> Exit {
    report_failure(Some(&options.client_id), options.json, message, exit)
}

/// Reports a failure outside a session (an invalid argument): the message on
/// standard error, and with `--json` the outcome object on standard output.
pub fn report_failure(client_id: Option<&str>, json: bool, message: &str, exit: Exit) -> Exit {
    write_stderr(&format!("minmax-client: {message}\n"));
    if json && !print_failure_json(client_id, message, exit) && exit == Exit::Success {
        return Exit::OutputFailed;
    }
    exit
}

/// `--json`'s object for a failure outside a session, on standard output; whether it
/// could be written.
pub fn print_failure_json(client_id: Option<&str>, message: &str, exit: Exit) -> bool {
    let object = client::failure_json(client_id, exit, message);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(object.as_bytes()).and_then(|()| stdout.flush()).is_ok()
}

/// Writes to standard error, ignoring failure: `eprintln!` panics when standard
/// error is a closed pipe, and then there is nobody to tell anyway.
fn write_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The input thread and the signal thread, each feeding the loop's inbox.
fn start_threads(inbox: &Inbox) -> std::io::Result<()> {
    let input = inbox.clone();
    std::thread::Builder::new().name("stdin".into()).spawn(move || read_input(&input))?;
    let mut signals =
        signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
    let interrupts = inbox.clone();
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for _ in signals.forever() {
            interrupts.interrupt();
        }
    })?;
    Ok(())
}

/// Reads standard input in chunks of at most [`INPUT_CHUNK`] bytes, whatever its
/// lines' lengths; the inbox blocks this thread while the session is behind.
fn read_input(inbox: &Inbox) {
    let mut stdin = std::io::stdin().lock();
    let mut buffer = vec![0u8; INPUT_CHUNK];
    loop {
        let input = match stdin.read(&mut buffer) {
            Ok(0) => Input::End,
            Ok(count) => Input::Bytes(buffer[..count].to_vec()),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => Input::Failed(error),
        };
        let last = !matches!(input, Input::Bytes(_));
        if !inbox.send_input(input) || last {
            return;
        }
    }
}

/// A 16-byte key from the operating system's random source (§5).
fn fresh_key() -> Result<[u8; 16], rand_core::OsError> {
    use rand_core::TryRngCore;
    let mut key = [0u8; 16];
    rand_core::OsRng.try_fill_bytes(&mut key)?;
    Ok(key)
}

fn terminal_width() -> usize {
    let stdout = std::io::stdout();
    if stdout.is_terminal()
        && let Ok(size) = rustix::termios::tcgetwinsize(&stdout)
        && size.ws_col > 0
    {
        return usize::from(size.ws_col);
    }
    std::env::var("COLUMNS").ok().and_then(|columns| columns.parse().ok()).unwrap_or(80)
}

/// The standard streams, as the client's console.
struct Terminal {
    progress: Option<Progress>,
    /// The prompt goes to standard output when that is the terminal, else to standard
    /// error: typed input with the result redirected to a file (`> result.json`)
    /// must not put prompts into the file.
    prompt_on_stdout: bool,
}

impl Terminal {
    fn clear_progress(&mut self) {
        if let Some(progress) = &mut self.progress {
            progress.clear();
        }
    }

    /// Writes to where the prompt goes. The prompt is not the result: a terminal
    /// that cannot show it shows nothing, and nothing else changes.
    fn write_prompt(&mut self, text: &str) {
        if self.prompt_on_stdout {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
        } else {
            write_stderr(text);
        }
    }
}

impl Console for Terminal {
    fn print(&mut self, text: &str) -> std::io::Result<()> {
        self.clear_progress();
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()
    }

    fn warn(&mut self, message: &str) {
        self.clear_progress();
        write_stderr(&format!("minmax-client: {message}\n"));
    }

    fn tell(&mut self, text: &str) {
        write_stderr(text);
    }

    fn prompt(&mut self, prompt: &str) {
        self.write_prompt(prompt);
    }

    fn end_prompt_line(&mut self) {
        self.write_prompt("\n");
    }

    fn progress(&mut self, numbers_sent: u64) {
        if let Some(progress) = &mut self.progress {
            progress.update(numbers_sent);
        }
    }
}

/// A progress line on standard error, for long piped inputs.
struct Progress {
    started: Instant,
    shown_at: Option<Instant>,
}

impl Progress {
    fn new() -> Progress {
        Progress { started: Instant::now(), shown_at: None }
    }

    fn update(&mut self, sent: u64) {
        let now = Instant::now();
        let elapsed = now - self.started;
        let due = self
            .shown_at
            .map_or(elapsed >= Duration::from_secs(1), |shown| now - shown >= Duration::from_millis(250));
        if due {
            let rate = sent as f64 / elapsed.as_secs_f64();
            write_stderr(&format!("\r\x1b[K{sent} numbers sent, {rate:.0}/s"));
            self.shown_at = Some(now);
        }
    }

    fn clear(&mut self) {
        if self.shown_at.take().is_some() {
            write_stderr("\r\x1b[K");
        }
    }
}
