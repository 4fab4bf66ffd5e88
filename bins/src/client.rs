//! The client program's run loop: lines from standard input, signals and the server's
//! replies go into `minmax_core::Client`, and its actions come out as frames sent,
//! text printed and an exit status (PROTOCOL §7).
//!
//! Three threads feed one channel: standard input (a line at a time, a bounded
//! distance ahead), the signal handler (SIGINT, SIGTERM) and the reply reader. The
//! main thread waits on that channel only, so a Ctrl-C is seen at once whether the
//! client waits for input or for a reply, and a reply timeout is a channel timeout.

use minmax_core::client::{PROMPT, Wants};
use minmax_core::{Client, ClientAction, ClientConfig, ClientEvent, Exit};
use minmax_net::client::{self as transport, ConnectError, Incoming};
use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the connection may take (§7).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long any reply may take (§7).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines read from standard input ahead of the session, at most.
const READ_AHEAD: usize = 256;

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
    /// Print the result as JSON.
    pub json: bool,
}

enum Event {
    Line(String),
    EndOfInput,
    InputFailed(std::io::Error),
    Interrupt,
    Incoming(Incoming),
}

/// Runs one session; returns the exit status.
pub fn run(options: &Options) -> Exit {
    let target = format!("{}:{}", options.host, options.port);
    let addrs = match transport::resolve(&options.host, options.port) {
        Ok(addrs) => addrs,
        Err(error) => return fail(&error.to_string(), Exit::InvalidArgument),
    };
    let key = if options.encrypt {
        match fresh_key() {
            Ok(key) => Some(key),
            Err(error) => {
                return fail(
                    &format!("cannot draw a key from the system's random source: {error}"),
                    Exit::Unavailable,
                );
            }
        }
    } else {
        None
    };
    let stream = match transport::connect(&target, &addrs, CONNECT_TIMEOUT) {
        Ok(stream) => stream,
        Err(error @ ConnectError::Unreachable { .. }) => return fail(&error.to_string(), Exit::Unavailable),
        Err(error @ ConnectError::Resolve { .. }) => return fail(&error.to_string(), Exit::InvalidArgument),
    };
    let interactive = std::io::stdin().is_terminal();
    let config = ClientConfig {
        client_id: options.client_id.clone(),
        key,
        interactive,
        json: options.json,
        width: terminal_width(),
    };
    match Session::start(stream, interactive) {
        Ok(mut session) => session.run(Client::new(config)),
        Err(error) => fail(&format!("cannot start the client: {error}"), Exit::Unavailable),
    }
}

fn fail(message: &str, exit: Exit) -> Exit {
    eprintln!("minmax-client: {message}");
    exit
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

/// Standard input read ahead of the session, at most `READ_AHEAD` lines.
#[derive(Default)]
struct Credits {
    queued: Mutex<usize>,
    taken: Condvar,
}

impl Credits {
    fn wait_for_room(&self) {
        let mut queued = self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *queued >= READ_AHEAD {
            queued = self.taken.wait(queued).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *queued += 1;
    }

    fn took_one(&self) {
        let mut queued = self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *queued = queued.saturating_sub(1);
        self.taken.notify_one();
    }
}

struct Session {
    stream: TcpStream,
    events: mpsc::Receiver<Event>,
    credits: Arc<Credits>,
    /// Input that arrived while a reply was awaited.
    deferred: VecDeque<Event>,
    interactive: bool,
    progress: Option<Progress>,
}

impl Session {
    fn start(stream: TcpStream, interactive: bool) -> std::io::Result<Session> {
        let (sender, events) = mpsc::channel();
        let replies = sender.clone();
        transport::spawn_reader(stream.try_clone()?, move |incoming| {
            replies.send(Event::Incoming(incoming)).is_ok()
        })?;
        let credits = Arc::new(Credits::default());
        let input_credits = Arc::clone(&credits);
        let input = sender.clone();
        std::thread::Builder::new().name("stdin".into()).spawn(move || read_input(&input, &input_credits))?;
        let mut signals =
            signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            for _ in signals.forever() {
                if sender.send(Event::Interrupt).is_err() {
                    return;
                }
            }
        })?;
        let progress = (!interactive && std::io::stderr().is_terminal()).then(Progress::new);
        Ok(Session { stream, events, credits, deferred: VecDeque::new(), interactive, progress })
    }

    fn run(&mut self, mut client: Client) -> Exit {
        let mut actions = client.step(ClientEvent::Connected);
        loop {
            for action in std::mem::take(&mut actions) {
                if let Some(exit) = self.perform(action, &mut client, &mut actions) {
                    return exit;
                }
            }
            if !actions.is_empty() {
                continue;
            }
            actions = match client.wants() {
                Wants::Input => self.next_input(&mut client),
                Wants::Reply => self.next_reply(&mut client),
                Wants::Connection | Wants::Done => return Exit::Unavailable,
            };
            if let Some(progress) = &mut self.progress {
                progress.update(client.numbers_sent());
            }
        }
    }

    /// Carries out one action; a failed send becomes the client's next event.
    fn perform(
        &mut self,
        action: ClientAction,
        client: &mut Client,
        more: &mut Vec<ClientAction>,
    ) -> Option<Exit> {
        match action {
            ClientAction::Send(frame) => {
                if let Err(error) = self.stream.write_all(&frame) {
                    more.extend(
                        client.step(ClientEvent::ConnectionLost(&format!("sending failed: {error}"))),
                    );
                }
            }
            ClientAction::Print(text) => {
                self.clear_progress();
                let mut stdout = std::io::stdout().lock();
                // A closed stdout (`| head`) must not turn a finished session into a panic.
                let _ = stdout.write_all(text.as_bytes());
                if !text.ends_with('\n') {
                    let _ = stdout.write_all(b"\n");
                }
                let _ = stdout.flush();
            }
            ClientAction::Warn(text) => {
                self.clear_progress();
                eprintln!("minmax-client: {text}");
            }
            ClientAction::Prompt => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(PROMPT.as_bytes());
                let _ = stdout.flush();
            }
            ClientAction::Exit(exit) => {
                self.clear_progress();
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
                return Some(exit);
            }
        }
        None
    }

    fn next_input(&mut self, client: &mut Client) -> Vec<ClientAction> {
        let event = match self.deferred.pop_front() {
            Some(event) => event,
            None => match self.events.recv() {
                Ok(event) => event,
                Err(_) => return client.step(ClientEvent::ConnectionLost("every input closed")),
            },
        };
        self.dispatch(event, client)
    }

    fn next_reply(&mut self, client: &mut Client) -> Vec<ClientAction> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event @ (Event::Line(_) | Event::EndOfInput | Event::InputFailed(_))) => {
                    self.deferred.push_back(event)
                }
                Ok(event) => return self.dispatch(event, client),
                Err(RecvTimeoutError::Timeout) => {
                    return client.step(ClientEvent::ConnectionLost("the server did not answer within 30 s"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return client.step(ClientEvent::ConnectionLost("the reply reader stopped"));
                }
            }
        }
    }

    fn dispatch(&mut self, event: Event, client: &mut Client) -> Vec<ClientAction> {
        match event {
            Event::Line(line) => {
                self.credits.took_one();
                client.step(ClientEvent::Line(&line))
            }
            Event::EndOfInput => {
                if self.interactive {
                    // Ctrl-D at the prompt leaves the prompt's line unfinished.
                    println!();
                }
                client.step(ClientEvent::EndOfInput)
            }
            Event::InputFailed(error) => {
                eprintln!(
                    "minmax-client: reading standard input failed ({error}); treating it as the end of the input"
                );
                client.step(ClientEvent::EndOfInput)
            }
            Event::Interrupt => client.step(ClientEvent::Interrupt),
            Event::Incoming(Incoming::Frame(frame)) => client.step(ClientEvent::Reply(&frame)),
            Event::Incoming(Incoming::Closed) => {
                client.step(ClientEvent::ConnectionLost("the server closed the connection"))
            }
            Event::Incoming(Incoming::Failed(error)) => {
                client.step(ClientEvent::ConnectionLost(&format!("reading failed: {error}")))
            }
            Event::Incoming(Incoming::TooLong(announced)) => {
                client.step(ClientEvent::ConnectionLost(&format!(
                    "the server announced a {announced}-byte frame, over the {} bytes a reply may take",
                    transport::MAX_REPLY
                )))
            }
        }
    }

    fn clear_progress(&mut self) {
        if let Some(progress) = &mut self.progress {
            progress.clear();
        }
    }
}

/// Reads standard input a line at a time; bytes that are not UTF-8 become U+FFFD,
/// so that they reach the client as a visibly invalid token rather than an I/O error.
fn read_input(events: &mpsc::Sender<Event>, credits: &Credits) {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        credits.wait_for_room();
        let event = match input.read_until(b'\n', &mut line) {
            Ok(0) => Event::EndOfInput,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                Event::Line(text.trim_end_matches(['\n', '\r']).to_string())
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => Event::InputFailed(error),
        };
        let last = !matches!(event, Event::Line(_));
        if events.send(event).is_err() || last {
            return;
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

    fn update(&mut self, sent: usize) {
        let now = Instant::now();
        let elapsed = now - self.started;
        let due = self
            .shown_at
            .map_or(elapsed >= Duration::from_secs(1), |shown| now - shown >= Duration::from_millis(250));
        if due {
            let rate = sent as f64 / elapsed.as_secs_f64();
            eprint!("\r\x1b[K{sent} numbers sent, {rate:.0}/s");
            self.shown_at = Some(now);
        }
    }

    fn clear(&mut self) {
        if self.shown_at.take().is_some() {
            eprint!("\r\x1b[K");
        }
    }
}
