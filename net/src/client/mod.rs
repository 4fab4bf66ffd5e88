//! The client's transport loop: the twin of the server's event loop, one thread and
//! one `polling::Poller` driving one `minmax_core::Client`. Standard input, the
//! terminal and signals belong to the program: it hands input and interrupts in
//! through an [`Inbox`] and writes what the client says through a [`Console`].
//!
//! Each pass:
//! 1. **feed** the client what arrived and what it wants: interrupts at any time,
//!    input only while it wants input (so unread input waits in a bounded channel,
//!    and a reader thread that is ahead simply blocks);
//! 2. **wait** for the socket, a wake-up (input, a signal, the resolver's answer) or
//!    the next deadline: the client's own ([`Client::poll_timeout`]) or the current
//!    connect attempt's;
//! 3. **connect**: take the resolver's answer; finish, or give up on, a connect
//!    attempt and start the next address's; with TLS, the handshake follows (the
//!    client hears `Handshaking`, then `Connected` once it is done);
//! 4. **read** replies until the socket would block, and hand each frame in;
//! 5. **time**: [`Client::handle_timeout`];
//! 6. **carry out** each action in order: frames go into the output buffer and out
//!    as far as the socket takes them, text to the console; a failed send or print is
//!    itself an event for the client;
//! 7. **re-arm**: readable once connected, writable only while output waits.
//!
//! Every rule (the limits, what to send, print, exit with) is the client's; this
//! loop only moves bytes and reads the clock.

mod connect;
mod stream;
mod tls;

pub use stream::{Stream, tls_error};
pub use tls::{ClientTls, ClientTlsError, ClientTlsFiles};

use crate::registered::Registered;
use connect::{Attempts, LookupFailure, Resolution};
use minmax_core::client::{MAX_REPLY_FRAME, PROMPT, Wants};
use minmax_core::{
    Client, ClientAction, ClientConfig, ClientEvent, ConnectFailure, Decoded, Decoder, Exit, Timestamp, codec,
};
use polling::{Event, Events, PollMode, Poller};
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

/// Chunks of input that may wait for the loop: with the program's 64 KiB chunks,
/// input read ahead of the session costs at most a few hundred KiB.
const INPUT_AHEAD: usize = 4;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// The poller key of the connection's socket.
const SOCKET: usize = 0;

/// Input from the program, in the order it was read.
#[derive(Debug)]
pub enum Input {
    /// Bytes of standard input: lines or parts of lines, any amount.
    Bytes(Vec<u8>),
    /// The end of standard input.
    End,
    /// Reading standard input failed.
    Failed(io::Error),
}

/// Where the client's words go: the program's standard streams and terminal.
pub trait Console {
    /// Writes the result to standard output, whole; an error is reported to the
    /// client, which decides what it means.
    fn print(&mut self, text: &str) -> io::Result<()>;
    /// Writes a message to standard error. It cannot fail: a standard error that
    /// cannot be written to has nobody to tell.
    fn warn(&mut self, message: &str);
    /// Writes text for the person at the terminal (the help) to standard error.
    fn tell(&mut self, text: &str);
    /// Shows the prompt.
    fn prompt(&mut self, prompt: &str);
    /// Ends the prompt's line, left unfinished by Ctrl-C or Ctrl-D.
    fn end_prompt_line(&mut self);
    /// Called after each pass with the numbers the server accepted so far.
    fn progress(&mut self, _numbers_sent: u64) {}
}

struct Shared {
    poller: Arc<Poller>,
    interrupts: AtomicUsize,
}

impl Shared {
    fn wake(&self) {
        // A poller that cannot be notified is gone with the loop: nobody to wake.
        let _ = self.poller.notify();
    }
}

/// The program's way into a running loop, from any thread.
#[derive(Clone)]
pub struct Inbox {
    input: SyncSender<Input>,
    shared: Arc<Shared>,
}

impl Inbox {
    /// Hands over input, blocking while a few chunks already wait (this is what
    /// bounds the memory input takes). False once the loop has ended.
    pub fn send_input(&self, input: Input) -> bool {
        let sent = self.input.send(input).is_ok();
        self.shared.wake();
        sent
    }

    /// Ctrl-C or SIGTERM. Never blocks, so it may be called from a signal thread.
    pub fn interrupt(&self) {
        self.shared.interrupts.fetch_add(1, Ordering::SeqCst);
        self.shared.wake();
    }
}

/// One client session over the network.
pub struct ClientLoop {
    config: ClientConfig,
    tls: Option<ClientTls>,
    shared: Arc<Shared>,
    input: Receiver<Input>,
}

impl ClientLoop {
    /// A loop for the session `config` describes, over TLS when `tls` is given (its
    /// settings should be in `config.tls`, for the client's messages), and the inbox
    /// to feed it.
    pub fn new(config: ClientConfig, tls: Option<ClientTls>) -> io::Result<(ClientLoop, Inbox)> {
        let shared = Arc::new(Shared { poller: Arc::new(Poller::new()?), interrupts: AtomicUsize::new(0) });
        let (sender, input) = mpsc::sync_channel(INPUT_AHEAD);
        let inbox = Inbox { input: sender, shared: Arc::clone(&shared) };
        Ok((ClientLoop { config, tls, shared, input }, inbox))
    }

    /// Runs the session to its end; returns the exit status the client chose.
    pub fn run(self, console: &mut dyn Console) -> Exit {
        let clock = Clock { origin: Instant::now() };
        let client = Client::new(self.config.clone(), clock.now());
        let mut driver = Driver {
            client,
            console,
            clock,
            shared: self.shared,
            input: self.input,
            tls: self.tls,
            link: Link::Idle,
            events: Events::new(),
            buffer: vec![0; READ_CHUNK],
        };
        driver.start(&self.config.host, self.config.port);
        loop {
            if let Some(exit) = driver.client.exit_status() {
                driver.close();
                return exit;
            }
            driver.pass();
        }
    }
}

/// The caller's monotonic clock, as the core reads it.
struct Clock {
    origin: Instant,
}

impl Clock {
    fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.origin.elapsed())
    }

    fn instant(&self, at: Timestamp) -> Instant {
        self.origin + at.since_origin()
    }
}

/// How far the connection has come.
enum Link {
    Idle,
    Resolving(Receiver<Resolution>),
    Connecting { addrs: Vec<SocketAddr>, next: usize, attempt: Option<Attempt>, attempts: Attempts },
    Open(Connection),
}

/// How reading ended the connection.
enum Ending {
    /// Closed or broken; the text says how.
    Lost(String),
    /// TLS failed (the handshake, an alert, a record).
    Tls(rustls::Error),
}

/// A connect in progress to one address.
struct Attempt {
    socket: Registered<TcpStream>,
    addr: SocketAddr,
    started: Instant,
    give_up_at: Instant,
}

/// The open connection.
struct Connection {
    socket: Registered<TcpStream>,
    stream: Stream,
    decoder: Decoder,
    /// Frames not yet taken by the stream.
    output: Vec<u8>,
    writable: bool,
    /// The client was told it is connected (after any handshake).
    announced: bool,
}

struct Driver<'a> {
    client: Client,
    console: &'a mut dyn Console,
    clock: Clock,
    shared: Arc<Shared>,
    input: Receiver<Input>,
    tls: Option<ClientTls>,
    link: Link,
    events: Events,
    buffer: Vec<u8>,
}

impl Driver<'_> {
    fn start(&mut self, host: &str, port: u16) {
        if let Some(addr) = connect::literal(host, port) {
            self.resolved(Ok(vec![addr]));
            return;
        }
        let shared = Arc::clone(&self.shared);
        match connect::spawn_resolver(host.to_string(), port, move || shared.wake()) {
            Ok(answers) => self.link = Link::Resolving(answers),
            Err(error) => {
                let how = format!("cannot start a resolver thread: {error}");
                self.event(ClientEvent::ConnectFailed(ConnectFailure::NameServiceFailed(&how)));
            }
        }
    }

    fn pass(&mut self) {
        self.feed();
        if self.client.exit_status().is_some() {
            return;
        }
        self.wait();
        self.advance_link();
        let now = self.clock.now();
        if self.client.poll_timeout().is_some_and(|deadline| deadline <= now) {
            let actions = self.client.handle_timeout(now);
            self.perform(actions);
        }
        self.rearm();
        self.console.progress(self.client.numbers_sent());
    }

    /// Interrupts, then input while the client wants it.
    fn feed(&mut self) {
        for _ in 0..self.shared.interrupts.swap(0, Ordering::SeqCst) {
            self.event(ClientEvent::Interrupt);
        }
        while self.client.wants() == Wants::Input {
            match self.input.try_recv() {
                Ok(Input::Bytes(bytes)) => self.event(ClientEvent::Input(&bytes)),
                // The program dropped every sender: no more input will come.
                Ok(Input::End) | Err(TryRecvError::Disconnected) => self.event(ClientEvent::EndOfInput),
                Ok(Input::Failed(error)) => self.event(ClientEvent::InputFailed(&error.to_string())),
                Err(TryRecvError::Empty) => break,
            }
        }
    }

    fn wait(&mut self) {
        let now = Instant::now();
        let mut deadline = self.client.poll_timeout().map(|at| self.clock.instant(at));
        if let Link::Connecting { attempt: Some(attempt), .. } = &self.link {
            deadline = Some(deadline.map_or(attempt.give_up_at, |d| d.min(attempt.give_up_at)));
        }
        let timeout = deadline.map(|deadline| deadline.saturating_duration_since(now));
        self.events.clear();
        match self.shared.poller.wait(&mut self.events, timeout) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                let how = format!("waiting for the network failed: {error}");
                self.event(ClientEvent::ConnectionLost(&how));
            }
        }
    }

    fn socket_ready(&self) -> (bool, bool) {
        self.events
            .iter()
            .filter(|event| event.key == SOCKET)
            .fold((false, false), |(r, w), event| (r || event.readable, w || event.writable))
    }

    fn advance_link(&mut self) {
        match &mut self.link {
            Link::Idle => {}
            Link::Resolving(answers) => match answers.try_recv() {
                Ok(resolution) => self.resolved(resolution),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    let how = "the resolver thread ended without an answer";
                    self.event(ClientEvent::ConnectFailed(ConnectFailure::NameServiceFailed(how)));
                }
            },
            Link::Connecting { .. } => self.check_attempt(),
            Link::Open(_) => {
                let (readable, writable) = self.socket_ready();
                if readable {
                    self.read();
                }
                if writable {
                    self.flush();
                }
            }
        }
    }

    fn resolved(&mut self, resolution: Resolution) {
        match resolution {
            Ok(addrs) => {
                self.event(ClientEvent::Resolved);
                self.link = Link::Connecting { addrs, next: 0, attempt: None, attempts: Attempts::default() };
                self.next_attempt();
            }
            Err(LookupFailure::NoSuchName(how)) => {
                self.link = Link::Idle;
                self.event(ClientEvent::ConnectFailed(ConnectFailure::NoSuchHost(&how)));
            }
            Err(LookupFailure::Failed(how)) => {
                self.link = Link::Idle;
                self.event(ClientEvent::ConnectFailed(ConnectFailure::NameServiceFailed(&how)));
            }
        }
    }

    /// Starts connecting to the next address, giving it an equal share of the time
    /// left; once every address has failed, tells the client.
    fn next_attempt(&mut self) {
        let now = Instant::now();
        let left = self
            .client
            .poll_timeout()
            .map_or(Duration::ZERO, |deadline| self.clock.instant(deadline).saturating_duration_since(now));
        let poller = Arc::clone(&self.shared.poller);
        let Link::Connecting { addrs, next, attempt, attempts } = &mut self.link else { return };
        while let Some(&addr) = addrs.get(*next) {
            *next += 1;
            let share = left / u32::try_from(addrs.len() - *next + 1).unwrap_or(u32::MAX);
            let registered = connect::start_connect(addr).and_then(|stream| {
                Registered::new(&poller, stream, Event::writable(SOCKET), PollMode::Level)
            });
            match registered {
                Ok(socket) => {
                    *attempt = Some(Attempt { socket, addr, started: now, give_up_at: now + share });
                    return;
                }
                Err(error) => attempts.failed(addr, &error),
            }
        }
        let how = attempts.describe();
        self.link = Link::Idle;
        self.event(ClientEvent::ConnectFailed(ConnectFailure::Unreachable(&how)));
    }

    fn check_attempt(&mut self) {
        let (readable, writable) = self.socket_ready();
        let Link::Connecting { attempt: Some(current), attempts, .. } = &mut self.link else { return };
        let outcome =
            if readable || writable { connect::finish_connect(current.socket.get()) } else { Ok(false) };
        match outcome {
            Ok(true) => {
                let Link::Connecting { attempt: Some(current), .. } =
                    std::mem::replace(&mut self.link, Link::Idle)
                else {
                    return;
                };
                self.connected(current.socket);
            }
            Ok(false) if Instant::now() < current.give_up_at => {}
            Ok(false) => {
                attempts.timed_out(current.addr, current.give_up_at - current.started);
                self.next_attempt();
            }
            Err(error) => {
                attempts.failed(current.addr, &error);
                self.next_attempt();
            }
        }
    }

    fn connected(&mut self, socket: Registered<TcpStream>) {
        let stream = match self.tls.as_ref().map(ClientTls::connect) {
            None => Stream::Plain,
            Some(Ok(session)) => Stream::Tls(Box::new(session)),
            Some(Err(error)) => {
                self.link = Link::Idle;
                return self.tls_failed(&error);
            }
        };
        let announced = !stream.is_handshaking();
        self.link = Link::Open(Connection {
            socket,
            stream,
            decoder: Decoder::new(MAX_REPLY_FRAME),
            output: Vec::new(),
            // Registered writable for the connect; `rearm` sets it from here on.
            writable: true,
            announced,
        });
        // The client's connect limit covers the handshake too.
        self.event(if announced { ClientEvent::Connected } else { ClientEvent::Handshaking });
    }

    /// Tells the client how TLS failed, in the words its library gave.
    fn tls_failed(&mut self, error: &rustls::Error) {
        let mut text = String::new();
        let failure = tls::failure(error, &mut text);
        self.event(ClientEvent::TlsFailed(failure));
    }

    /// Reads until the socket would block, handing each whole frame to the client.
    fn read(&mut self) {
        loop {
            let Link::Open(conn) = &mut self.link else { return };
            let mut frames = Vec::new();
            let mut would_block = false;
            let lost = match conn.stream.read(conn.socket.get(), &mut self.buffer) {
                Ok(0) => Some(Ending::Lost("the server closed the connection".to_string())),
                Ok(count) => {
                    let mut input = &self.buffer[..count];
                    loop {
                        match conn.decoder.decode(&mut input) {
                            Decoded::Frame(frame) => frames.push(frame.to_vec()),
                            Decoded::NeedMore => break None,
                            Decoded::TooLong { announced } if codec::looks_like_tls_record(announced) => {
                                break Some(Ending::Lost(
                                    "the server answered with TLS, not a frame: it is a TLS server (then connect \
                                     with --tls)"
                                        .to_string(),
                                ));
                            }
                            Decoded::TooLong { announced } => {
                                break Some(Ending::Lost(format!(
                                    "the server announced a {announced}-byte frame, over the {MAX_REPLY_FRAME} bytes a reply may take"
                                )));
                            }
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    would_block = true;
                    None
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => None,
                Err(error) => Some(match stream::tls_error(&error) {
                    Some(tls) => Ending::Tls(tls.clone()),
                    None => Ending::Lost(format!("reading failed: {error}")),
                }),
            };
            // A handshake ends inside a read that brings no plaintext yet.
            if !conn.announced && !conn.stream.is_handshaking() {
                conn.announced = true;
                self.event(ClientEvent::Connected);
            }
            for frame in frames {
                if self.client.exit_status().is_some() {
                    return;
                }
                self.event(ClientEvent::Reply(&frame));
            }
            match lost {
                Some(Ending::Tls(error)) => return self.tls_failed(&error),
                Some(Ending::Lost(how)) => return self.event(ClientEvent::ConnectionLost(&how)),
                None => {}
            }
            if would_block || self.client.exit_status().is_some() {
                return;
            }
        }
    }

    /// Writes waiting output until the socket would block; a failure is the client's
    /// to hear about.
    fn flush(&mut self) {
        let Link::Open(conn) = &mut self.link else { return };
        let result = (|| {
            let mut written = 0;
            while written < conn.output.len() {
                match conn.stream.write(conn.socket.get(), &conn.output[written..]) {
                    Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                    Ok(count) => written += count,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
            conn.output.drain(..written);
            conn.stream.flush(conn.socket.get())
        })();
        if let Err(error) = result {
            self.event(ClientEvent::ConnectionLost(&format!("sending failed: {error}")));
        }
    }

    fn rearm(&mut self) {
        let Link::Open(conn) = &mut self.link else { return };
        let writable = !conn.output.is_empty() || conn.stream.wants_write();
        if writable != conn.writable {
            let interest = if writable { Event::all(SOCKET) } else { Event::readable(SOCKET) };
            match conn.socket.modify(interest, PollMode::Level) {
                Ok(()) => conn.writable = writable,
                Err(error) => {
                    let how = format!("waiting for the network failed: {error}");
                    self.event(ClientEvent::ConnectionLost(&how));
                }
            }
        }
    }

    /// Hands one event to the client and carries out what it says.
    fn event(&mut self, event: ClientEvent<'_>) {
        let actions = self.client.step(self.clock.now(), event);
        self.perform(actions);
    }

    fn perform(&mut self, actions: Vec<ClientAction>) {
        let mut queue = VecDeque::from(actions);
        let mut sent = false;
        while let Some(action) = queue.pop_front() {
            match action {
                ClientAction::Send(frame) => match &mut self.link {
                    Link::Open(conn) => {
                        conn.output.extend_from_slice(&frame);
                        sent = true;
                    }
                    _ => {
                        let how = "internal error: a request before the connection was open";
                        queue.extend(self.client.step(self.clock.now(), ClientEvent::ConnectionLost(how)));
                    }
                },
                ClientAction::Print(text) => {
                    if let Err(error) = self.console.print(&text) {
                        let how = error.to_string();
                        queue.extend(self.client.step(self.clock.now(), ClientEvent::OutputFailed(&how)));
                    }
                }
                ClientAction::Warn(message) => self.console.warn(&message),
                ClientAction::Tell(text) => self.console.tell(&text),
                ClientAction::Prompt => self.console.prompt(PROMPT),
                ClientAction::EndPromptLine => self.console.end_prompt_line(),
            }
        }
        // Out at once: the reply cannot come before the request leaves.
        if sent {
            self.flush();
        }
    }

    /// At the exit: whatever output still waits gets one chance to leave (a QUIT
    /// sent just before a second Ctrl-C), then the connection closes.
    fn close(&mut self) {
        if let Link::Open(conn) = &mut self.link {
            if !conn.output.is_empty() {
                let _ = conn.stream.write(conn.socket.get(), &conn.output);
            }
            // With TLS: what waits, then close_notify (or the alert of a failure).
            let _ = conn.stream.close(conn.socket.get());
            let _ = conn.socket.get().shutdown(std::net::Shutdown::Both);
        }
        self.link = Link::Idle;
    }
}
