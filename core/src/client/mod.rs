//! The client's whole behaviour (PROTOCOL §7) without I/O: when to give up
//! connecting, what to send for each word of input, how to read each reply, when a
//! reply is overdue, what to print and which exit status to end with.
//!
//! # The client's run loop
//!
//! An I/O layer (`minmax_net::client`) drives one [`Client`]:
//!
//! 1. **Start**: [`Client::new`] with the clock's reading; the connect limit
//!    ([`CONNECT_TIMEOUT`]) runs from here, name resolution included.
//! 2. **Connect**: resolve [`ClientConfig::host`] and report [`ClientEvent::Resolved`],
//!    then connect and report [`ClientEvent::Connected`] (or
//!    [`ClientEvent::ConnectFailed`] with the reason). With TLS
//!    ([`ClientConfig::tls`]), report [`ClientEvent::Handshaking`] once the TCP
//!    connection is open and [`ClientEvent::Connected`] once the handshake is done
//!    (or [`ClientEvent::TlsFailed`]): the handshake counts against the connect limit.
//! 3. **Feed** what [`Client::wants`]: input in chunks of any size while it wants
//!    [`Wants::Input`] (and not before: this is what bounds memory), reply frames as
//!    they arrive, [`ClientEvent::Interrupt`] for Ctrl-C or SIGTERM at any time.
//! 4. **Wait** no later than [`Client::poll_timeout`]; then [`Client::handle_timeout`].
//! 5. **Carry out** every [`ClientAction`] in order. A send or a print that fails is
//!    itself an event ([`ClientEvent::ConnectionLost`], [`ClientEvent::OutputFailed`]).
//! 6. **Exit** once [`Client::exit_status`] says with which status.

mod connect;
mod input;
mod output;
#[cfg(test)]
mod tests;

pub use connect::{ConnectFailure, TlsFailure, TlsSettings};
pub use input::MAX_TOKEN_CHARS;
pub use output::{HELP, PROMPT, failure_json};

use crate::cipher::{self, Cipher};
use crate::exit::Exit;
use crate::int::Int;
use crate::message::{ErrorCode, Number, Op};
use crate::reply;
use crate::request;
use crate::time::Timestamp;
use input::{Lexeme, Lexer, Token};
use output::{JsonObject, Sent};
use std::collections::VecDeque;
use std::time::Duration;

/// How long resolving the server's name and connecting may take together (§7).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the server may take to answer any request (§7).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest reply frame a client accepts: far above any real reply (the longest,
/// a STOP with two 4 300-digit numbers, is under 9 KiB), far below what would hurt.
pub const MAX_REPLY_FRAME: u32 = 16 << 20;

/// How a client runs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The client id (already checked with [`request::check_client_id`]).
    pub client_id: String,
    /// The server's host as given: a DNS name or an IP address (for messages).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// The AES key of an encrypted session (`--encrypt`), drawn by the caller from the
    /// operating system's random source.
    pub key: Option<[u8; 16]>,
    /// Standard input is a terminal: prompt, and explain invalid words instead of quitting.
    pub interactive: bool,
    /// Print the outcome as one JSON object, whatever it is (`--json`).
    pub json: bool,
    /// Print only the count, min and max, not every number sent (`--quiet`).
    pub quiet: bool,
    /// Columns to wrap the list of numbers to.
    pub width: usize,
    /// The connection is TLS (`--tls`, PROTOCOL §8), verified as this says; `None`
    /// for plain TCP.
    pub tls: Option<TlsSettings>,
}

/// Something that happened to the client.
#[derive(Debug, Clone, Copy)]
pub enum ClientEvent<'a> {
    /// The server's name resolved: connecting to its addresses now.
    Resolved,
    /// No connection could be made.
    ConnectFailed(ConnectFailure<'a>),
    /// The TCP connection is open and the TLS handshake is under way (`--tls`).
    Handshaking,
    /// The connection to the server is open (with TLS, the handshake is done).
    Connected,
    /// TLS failed: the handshake (the server's certificate did not verify, the
    /// server refused the client's) or, later, a record.
    TlsFailed(TlsFailure<'a>),
    /// A chunk of standard input: any number of bytes, lines or parts of a line.
    Input(&'a [u8]),
    /// The end of the input.
    EndOfInput,
    /// Reading the input failed; the text says how.
    InputFailed(&'a str),
    /// Ctrl-C or SIGTERM.
    Interrupt,
    /// The payload of a reply frame.
    Reply(&'a [u8]),
    /// The connection broke; the text says how.
    ConnectionLost(&'a str),
    /// Writing to standard output failed; the text says how.
    OutputFailed(&'a str),
}

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAction {
    /// Send these bytes: one whole frame.
    Send(Vec<u8>),
    /// Write this text to standard output: the result. If that fails, tell the
    /// client with [`ClientEvent::OutputFailed`].
    Print(String),
    /// Write this message to standard error, after the program's name.
    Warn(String),
    /// Write this text for the person at the terminal (the help) to standard error,
    /// as it is.
    Tell(String),
    /// Show the input prompt ([`PROMPT`]).
    Prompt,
    /// The prompt's line was left unfinished (Ctrl-C or Ctrl-D at the prompt): end
    /// it, so that what follows starts on a line of its own.
    EndPromptLine,
}

/// What the client needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wants {
    /// The connection ([`ClientEvent::Resolved`], then [`ClientEvent::Connected`]).
    Connection,
    /// Input, or the end of the input.
    Input,
    /// The reply to the request in flight.
    Reply,
    /// Nothing: the client has exited ([`Client::exit_status`]).
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Resolving,
    Connecting,
    Handshaking,
    AwaitStart,
    Ready,
    AwaitNumber,
    AwaitStop,
    /// QUIT in flight; the client exits with `then` once it is answered.
    AwaitQuit {
        then: Exit,
    },
    Done,
}

/// The client of one session.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    cipher: Option<Cipher>,
    state: State,
    /// When the connection or the reply in flight is overdue.
    deadline: Option<Timestamp>,
    lexer: Lexer,
    /// Input received but not yet read: at most one chunk, since input is only
    /// wanted once this is used up.
    unread: Vec<u8>,
    unread_from: usize,
    /// On a terminal, the current line's tokens: a line is checked whole before any
    /// of it is sent (a terminal's line is bounded by its line discipline).
    line_tokens: Vec<Token>,
    /// On a terminal, the current line held an invalid word: the rest is ignored.
    skip_line: bool,
    /// Tokens read and checked, still to be sent.
    queued: VecDeque<Token>,
    sent: Sent,
    /// The number in flight.
    in_flight: Option<Int>,
    lines_read: u64,
    input_ended: bool,
    /// Ctrl-C arrived while a request was in flight: quit once it is answered.
    interrupted: bool,
    /// The prompt was shown and its line not ended yet.
    prompt_open: bool,
    /// Why the client is quitting, when it is not the user's choice.
    quit_reason: Option<String>,
    output_failed: bool,
    exit: Option<Exit>,
}

impl Client {
    /// A client about to resolve the server's name and connect, at `now`.
    pub fn new(config: ClientConfig, now: Timestamp) -> Client {
        let cipher = config.key.as_ref().map(Cipher::from_key_128);
        let sent = Sent::new(!config.quiet);
        Client {
            config,
            cipher,
            state: State::Resolving,
            deadline: now.checked_add(CONNECT_TIMEOUT),
            lexer: Lexer::default(),
            unread: Vec::new(),
            unread_from: 0,
            line_tokens: Vec::new(),
            skip_line: false,
            queued: VecDeque::new(),
            sent,
            in_flight: None,
            lines_read: 0,
            input_ended: false,
            interrupted: false,
            prompt_open: false,
            quit_reason: None,
            output_failed: false,
            exit: None,
        }
    }

    /// What the client needs next.
    pub fn wants(&self) -> Wants {
        match self.state {
            State::Resolving | State::Connecting | State::Handshaking => Wants::Connection,
            State::Ready => Wants::Input,
            State::AwaitStart | State::AwaitNumber | State::AwaitStop | State::AwaitQuit { .. } => {
                Wants::Reply
            }
            State::Done => Wants::Done,
        }
    }

    /// The exit status, once the client has exited.
    pub fn exit_status(&self) -> Option<Exit> {
        self.exit
    }

    /// How many numbers the server has accepted so far (for a progress line).
    pub fn numbers_sent(&self) -> u64 {
        self.sent.count
    }

    /// When [`Client::handle_timeout`] must be called next, if ever: the connect
    /// limit while connecting, the reply limit while a request is in flight.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.deadline
    }

    /// Applies the clock: gives up on a connection or a reply that is overdue.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<ClientAction> {
        let mut actions = Vec::new();
        if self.deadline.is_none_or(|deadline| now < deadline) {
            return actions;
        }
        match self.state {
            State::Resolving | State::Connecting | State::Handshaking => self.connect_timed_out(&mut actions),
            State::AwaitStart | State::AwaitNumber | State::AwaitStop | State::AwaitQuit { .. } => {
                let op = self.request_in_flight().unwrap_or(Op::Quit);
                let message = format!(
                    "the server did not answer {op} within {} s: expected a reply to every request",
                    REPLY_TIMEOUT.as_secs()
                );
                self.fail(&mut actions, Exit::Unavailable, message);
            }
            State::Ready | State::Done => self.deadline = None,
        }
        actions
    }

    /// Applies one event at `now` and returns what to do.
    pub fn step(&mut self, now: Timestamp, event: ClientEvent<'_>) -> Vec<ClientAction> {
        let mut actions = Vec::new();
        match (self.state, event) {
            (_, ClientEvent::OutputFailed(how)) => self.output_failed(&mut actions, how),
            (State::Done, _) => {}
            (State::Resolving, ClientEvent::Resolved) => self.state = State::Connecting,
            (State::Resolving | State::Connecting, ClientEvent::ConnectFailed(failure)) => {
                self.connect_failed(&mut actions, failure)
            }
            (State::Connecting, ClientEvent::Handshaking) => self.state = State::Handshaking,
            (_, ClientEvent::TlsFailed(failure)) => self.tls_failed(&mut actions, failure),
            (State::Handshaking, ClientEvent::ConnectionLost(how)) => self.handshake_lost(&mut actions, how),
            (State::Connecting | State::Handshaking, ClientEvent::Connected) => {
                let mut frame = Vec::new();
                let key = self.config.key.map(|key| cipher::key_to_base64(&key));
                request::encode_start(&mut frame, &self.config.client_id, key.as_deref());
                self.send(now, &mut actions, frame, State::AwaitStart);
            }
            (State::Resolving | State::Connecting | State::Handshaking, ClientEvent::Interrupt) => {
                let reason = "interrupted before the session was opened";
                self.quit_early(&mut actions, reason, "no session was opened");
            }
            (_, ClientEvent::ConnectionLost(how)) => {
                let during = self.request_in_flight().map_or_else(
                    || "the connection to the server broke".to_string(),
                    |op| format!("the connection broke while waiting for the reply to {op}"),
                );
                self.fail(&mut actions, Exit::Unavailable, format!("{during}: {how}"));
            }
            (State::Ready, ClientEvent::Input(bytes)) => {
                // On a terminal a chunk is what was typed: its line end is echoed.
                if bytes.contains(&b'\n') {
                    self.prompt_open = false;
                }
                self.unread.clear();
                self.unread.extend_from_slice(bytes);
                self.unread_from = 0;
                self.advance(now, &mut actions);
            }
            (State::Ready, ClientEvent::EndOfInput) => {
                self.input_ended = true;
                self.advance(now, &mut actions);
            }
            (State::Ready, ClientEvent::InputFailed(how)) => {
                self.warn(
                    &mut actions,
                    format!("reading standard input failed ({how}); treating it as the end of the input"),
                );
                self.input_ended = true;
                self.advance(now, &mut actions);
            }
            (State::Ready, ClientEvent::Interrupt) => self.send_quit(now, &mut actions, Exit::Quit),
            (State::AwaitQuit { .. }, ClientEvent::Interrupt) => {
                let reason = "interrupted again: not waiting for the reply to QUIT";
                self.quit_early(&mut actions, reason, "QUIT was sent; its reply was not awaited");
            }
            (_, ClientEvent::Interrupt) if self.interrupted => {
                let reason = "interrupted again: leaving without waiting";
                let outcome = "the connection was closed, so the server discards the session";
                self.quit_early(&mut actions, reason, outcome);
            }
            (_, ClientEvent::Interrupt) => self.interrupted = true,
            (_, ClientEvent::Reply(payload)) if self.wants() == Wants::Reply => {
                self.read_reply(now, &mut actions, payload)
            }
            (_, ClientEvent::Reply(_)) => {
                let message = "the server sent a reply to no request".to_string();
                self.fail(&mut actions, Exit::Unavailable, message);
            }
            (state, event) => {
                // A driver bug, not a peer's: report it rather than panic.
                let message = format!("internal error: event {event:?} in state {state:?}");
                self.fail(&mut actions, Exit::Unavailable, message);
            }
        }
        actions
    }

    fn request_in_flight(&self) -> Option<Op> {
        match self.state {
            State::AwaitStart => Some(Op::Start),
            State::AwaitNumber => Some(Op::Number),
            State::AwaitStop => Some(Op::Stop),
            State::AwaitQuit { .. } => Some(Op::Quit),
            _ => None,
        }
    }

    /// Writes a message to standard error, on a line of its own.
    fn warn(&mut self, actions: &mut Vec<ClientAction>, message: String) {
        self.end_prompt_line(actions);
        actions.push(ClientAction::Warn(message));
    }

    /// Writes to standard output, on a line of its own.
    fn print(&mut self, actions: &mut Vec<ClientAction>, text: String) {
        self.end_prompt_line(actions);
        actions.push(ClientAction::Print(text));
    }

    fn end_prompt_line(&mut self, actions: &mut Vec<ClientAction>) {
        if std::mem::take(&mut self.prompt_open) {
            actions.push(ClientAction::EndPromptLine);
        }
    }

    /// Ends the client with `exit`: the message goes to standard error, and with
    /// `--json` into the one object on standard output.
    fn fail(&mut self, actions: &mut Vec<ClientAction>, exit: Exit, message: String) {
        self.fail_with(actions, exit, message, None);
    }

    /// [`Client::fail`], with the JSON object's `tls_error` when TLS is why.
    fn fail_with(&mut self, actions: &mut Vec<ClientAction>, exit: Exit, message: String, tls: Option<&str>) {
        self.warn(actions, message.clone());
        if self.config.json {
            let mut object = self.outcome("error", exit).string("message", &message);
            if let Some(tls_error) = tls {
                object = object.string("tls_error", tls_error);
            }
            let object = object.finish();
            self.print(actions, object);
        }
        self.exit_with(exit);
    }

    fn outcome(&self, outcome: &str, exit: Exit) -> JsonObject {
        JsonObject::outcome(Some(&self.config.client_id), outcome, self.effective(exit))
    }

    /// The status to end with: a success whose output already failed is not one.
    fn effective(&self, exit: Exit) -> Exit {
        if self.output_failed && exit == Exit::Success { Exit::OutputFailed } else { exit }
    }

    fn exit_with(&mut self, exit: Exit) {
        self.state = State::Done;
        self.deadline = None;
        self.exit = Some(self.effective(exit));
    }

    fn output_failed(&mut self, actions: &mut Vec<ClientAction>, how: &str) {
        if !self.output_failed {
            self.output_failed = true;
            actions.push(ClientAction::Warn(format!(
                "cannot write the result to standard output ({how}): expected a standard output that \
                 takes it (a terminal, a pipe, a file on a disk with room)"
            )));
        }
        // Any other failure's status says more than this one.
        if self.exit == Some(Exit::Success) {
            self.exit = Some(Exit::OutputFailed);
        }
    }

    /// Sends the next token, reading more input when none is queued, or asks for
    /// input.
    fn advance(&mut self, now: Timestamp, actions: &mut Vec<ClientAction>) {
        self.state = State::Ready;
        loop {
            if self.interrupted {
                return self.send_quit(now, actions, Exit::Quit);
            }
            if let Some(token) = self.queued.pop_front() {
                return self.send_token(now, actions, token);
            }
            if let Some(lexeme) = self.next_lexeme() {
                self.take(now, actions, lexeme);
            } else if !self.input_ended {
                // Waiting for input has no limit: a person may think.
                self.deadline = None;
                if self.config.interactive && !self.lexer.mid_line() && !self.prompt_open {
                    self.prompt_open = true;
                    actions.push(ClientAction::Prompt);
                }
                return;
            } else if let Some(lexeme) = self.lexer.finish() {
                self.take(now, actions, lexeme);
            } else {
                return self.send_bare(now, actions, Op::Stop, State::AwaitStop);
            }
            if self.state != State::Ready {
                return;
            }
        }
    }

    fn next_lexeme(&mut self) -> Option<Lexeme> {
        let mut input = &self.unread[self.unread_from..];
        let before = input.len();
        let lexeme = self.lexer.next(&mut input);
        self.unread_from += before - input.len();
        if self.unread_from == self.unread.len() {
            self.unread.clear();
            self.unread_from = 0;
        }
        lexeme
    }

    /// Takes one word or line end: piped, a word is sent as soon as it is read; on a
    /// terminal, a line's words wait for its end, so that nothing of an invalid line
    /// is sent.
    fn take(&mut self, now: Timestamp, actions: &mut Vec<ClientAction>, lexeme: Lexeme) {
        let word = match lexeme {
            Lexeme::LineEnd => {
                self.lines_read += 1;
                if std::mem::take(&mut self.skip_line) {
                    self.line_tokens.clear();
                } else {
                    self.queued.extend(self.line_tokens.drain(..));
                }
                return;
            }
            Lexeme::Word(word) => word,
        };
        if self.skip_line {
            return;
        }
        match input::read_word(&word, self.config.interactive, self.cipher.is_some()) {
            Ok(Token::Help) => actions.push(ClientAction::Tell(HELP.to_string())),
            Ok(token) if self.config.interactive => self.line_tokens.push(token),
            Ok(token) => self.queued.push_back(token),
            Err(problem) if self.config.interactive => {
                let shown = output::shown(&word.text, word.too_long);
                self.warn(
                    actions,
                    format!("{shown} {problem}; nothing from this line was sent, try again (help shows what to type)"),
                );
                self.skip_line = true;
                self.line_tokens.clear();
            }
            Err(problem) => {
                let shown = output::shown(&word.text, word.too_long);
                let reason = format!("line {}: {shown} {problem}", self.lines_read + 1);
                self.warn(actions, format!("{reason}; quitting the session"));
                self.quit_reason = Some(reason);
                self.send_quit(now, actions, Exit::InvalidArgument);
            }
        }
    }

    fn send_token(&mut self, now: Timestamp, actions: &mut Vec<ClientAction>, token: Token) {
        match token {
            Token::Number(number) => {
                let value = match (&self.cipher, number.as_i64()) {
                    (Some(cipher), Some(n)) => match cipher.encrypt(n) {
                        Ok(encrypted) => Number::Encrypted(encrypted),
                        // Refused by `token` already; kept as a recoverable branch.
                        Err(_) => return self.send_quit(now, actions, Exit::InvalidArgument),
                    },
                    _ => Number::Plain(number.clone()),
                };
                let mut frame = Vec::new();
                request::encode_number(&mut frame, &value);
                self.in_flight = Some(number);
                self.send(now, actions, frame, State::AwaitNumber);
            }
            Token::Stop => self.send_bare(now, actions, Op::Stop, State::AwaitStop),
            Token::Quit => self.send_quit(now, actions, Exit::Quit),
            // `take` answers help at once; it is never queued.
            Token::Help => actions.push(ClientAction::Tell(HELP.to_string())),
        }
    }

    fn send(&mut self, now: Timestamp, actions: &mut Vec<ClientAction>, frame: Vec<u8>, next: State) {
        actions.push(ClientAction::Send(frame));
        self.deadline = now.checked_add(REPLY_TIMEOUT);
        self.state = next;
    }

    fn send_bare(&mut self, now: Timestamp, actions: &mut Vec<ClientAction>, op: Op, next: State) {
        let mut frame = Vec::new();
        request::encode_bare(&mut frame, op);
        // Nothing is sent after STOP or QUIT: the session ends with its reply.
        self.queued.clear();
        self.line_tokens.clear();
        self.send(now, actions, frame, next);
    }

    fn send_quit(&mut self, now: Timestamp, actions: &mut Vec<ClientAction>, then: Exit) {
        self.send_bare(now, actions, Op::Quit, State::AwaitQuit { then });
    }

    fn read_reply(&mut self, now: Timestamp, actions: &mut Vec<ClientAction>, payload: &[u8]) {
        let op = self.request_in_flight().unwrap_or(Op::Quit);
        let Some(reply) = reply::parse_reply(payload) else {
            let shown = output::quoted_server_bytes(payload);
            let message = format!("the server's reply to {op} is not a JSON object: {shown}");
            return self.fail(actions, Exit::Unavailable, message);
        };
        let succeeded = match reply.status {
            reply::Status::Bool(succeeded) => succeeded,
            reply::Status::Missing => return self.not_understood(actions, op, "has no status"),
            reply::Status::NotBoolean(raw) => {
                let has = format!("has status {}", output::server_text(raw));
                return self.not_understood(actions, op, &has);
            }
        };
        if !succeeded {
            let error = reply.error.as_deref().unwrap_or("(no error given)");
            let explanation = ErrorCode::from_message(error)
                .map(|code| format!(" ({})", code.explanation()))
                .unwrap_or_default();
            if let State::AwaitQuit { then } = self.state {
                let said = format!("the server answered {}{explanation}", output::quoted_server_text(error));
                return self.finish_quit(actions, then, &said, true);
            }
            // The error goes to the terminal escaped; the JSON object keeps it exact.
            let message = format!("the server refused {op}: {}{explanation}", output::server_text(error));
            self.warn(actions, message.clone());
            let exit = if self.interrupted { Exit::Quit } else { Exit::Refused };
            if self.config.json {
                let object =
                    self.outcome("refused", exit).refusal(op, error).string("message", &message).finish();
                self.print(actions, object);
            }
            return self.exit_with(exit);
        }
        match self.state {
            State::AwaitStart => self.advance(now, actions),
            State::AwaitNumber => {
                if let Some(number) = self.in_flight.take() {
                    self.sent.push(number);
                }
                self.advance(now, actions);
            }
            State::AwaitStop => self.stopped(actions, &reply),
            State::AwaitQuit { then } => {
                self.finish_quit(actions, then, "the session was abandoned; nothing was recorded", true)
            }
            State::Resolving | State::Connecting | State::Handshaking | State::Ready | State::Done => {}
        }
    }

    /// A reply whose status is not a boolean: neither a success nor a refusal, so
    /// not understood (§7: exit 5, whatever request it answers).
    fn not_understood(&mut self, actions: &mut Vec<ClientAction>, op: Op, has: &str) {
        let message = format!(
            "the server's reply to {op} {has}: expected a boolean status (\"status\": true or false)"
        );
        self.fail(actions, Exit::Unavailable, message);
    }

    /// Quits at once, without a reply to wait for: `reason` to standard error, and
    /// the outcome in the JSON object only (exit code 4).
    fn quit_early(&mut self, actions: &mut Vec<ClientAction>, reason: &str, outcome: &str) {
        self.warn(actions, reason.to_string());
        self.quit_reason = Some(reason.to_string());
        self.finish_quit(actions, Exit::Quit, outcome, false);
    }

    /// Ends a session that quit: its outcome printed (as text when `text`), and the
    /// reason, when the user did not choose to quit, in the JSON object.
    fn finish_quit(&mut self, actions: &mut Vec<ClientAction>, exit: Exit, outcome: &str, text: bool) {
        if self.config.json {
            let mut object = self.outcome("quit", exit).string("message", outcome);
            if let Some(reason) = &self.quit_reason {
                object = object.string("reason", reason);
            }
            let object = object.finish();
            self.print(actions, object);
        } else if text {
            self.print(actions, format!("quit: {outcome}\n"));
        }
        self.exit_with(exit);
    }

    fn stopped(&mut self, actions: &mut Vec<ClientAction>, reply: &reply::Reply<'_>) {
        let read =
            |raw: Option<&str>| raw.and_then(|raw| reply::parse_reply_value(raw, self.cipher.as_ref()));
        let (Some(min), Some(max)) = (read(reply.min), read(reply.max)) else {
            let message = "the server's reply to STOP succeeded but carries no readable min and max";
            return self.fail(actions, Exit::Unavailable, message.to_string());
        };
        if (self.sent.min.as_ref(), self.sent.max.as_ref()) != (Some(&min), Some(&max)) {
            self.warn(
                actions,
                format!("warning: the server's min {min} and max {max} differ from the numbers sent"),
            );
        }
        let exit = if self.interrupted { Exit::Quit } else { Exit::Success };
        let result = if self.config.json {
            self.outcome("stopped", exit).result(&self.sent, &min, &max).finish()
        } else {
            output::text_result(&self.sent, &min, &max, self.config.width)
        };
        self.print(actions, result);
        self.exit_with(exit);
    }
}
