//! The client's whole behaviour (PROTOCOL §7) without I/O: what to send for each line
//! of input, how to read each reply, what to print and when to exit.
//!
//! The driver connects, then loops: it asks [`Client::wants`] whether to read a line
//! or a reply, feeds that in with [`Client::step`], and carries out the returned
//! [`ClientAction`]s in order until one is [`ClientAction::Exit`].

use crate::cipher::{self, Cipher};
use crate::exit::Exit;
use crate::int::{Int, IntError};
use crate::message::{ErrorCode, Number, Op};
use crate::pyjson;
use crate::reply;
use crate::request;
use std::collections::VecDeque;

/// How a client runs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The client id (already checked with [`request::check_client_id`]).
    pub client_id: String,
    /// The AES key of an encrypted session (`--encrypt`), drawn by the caller from the
    /// operating system's random source.
    pub key: Option<[u8; 16]>,
    /// Standard input is a terminal: prompt, and explain invalid tokens instead of quitting.
    pub interactive: bool,
    /// Print the result as one JSON object (`--json`).
    pub json: bool,
    /// Columns to wrap the list of numbers to.
    pub width: usize,
}

/// Something that happened to the client.
#[derive(Debug, Clone, Copy)]
pub enum ClientEvent<'a> {
    /// The connection to the server is open.
    Connected,
    /// A line of input, without its line end.
    Line(&'a str),
    /// The end of the input.
    EndOfInput,
    /// Ctrl-C or SIGTERM.
    Interrupt,
    /// The payload of a reply frame.
    Reply(&'a [u8]),
    /// The connection broke, or the server stopped answering; the text says how.
    ConnectionLost(&'a str),
}

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAction {
    /// Send these bytes: one whole frame.
    Send(Vec<u8>),
    /// Write this text to standard output.
    Print(String),
    /// Write this text to standard error.
    Warn(String),
    /// Show the input prompt.
    Prompt,
    /// Close the connection and exit with this status.
    Exit(Exit),
}

/// What the client needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wants {
    /// The connection ([`ClientEvent::Connected`]).
    Connection,
    /// A line of input, or the end of the input.
    Input,
    /// The reply to the request in flight.
    Reply,
    /// Nothing: the client has exited.
    Done,
}

/// The prompt shown on a terminal.
pub const PROMPT: &str = "number(s), stop or quit> ";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Number(Int),
    Stop,
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
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
    /// Tokens of lines already read and checked, still to be sent.
    queued: VecDeque<Token>,
    /// Every number the server accepted, in order.
    sent: Vec<Int>,
    /// The number in flight.
    in_flight: Option<Int>,
    lines_read: u64,
    input_ended: bool,
    /// Ctrl-C arrived while a request was in flight: quit once it is answered.
    interrupted: bool,
}

impl Client {
    /// A client about to connect.
    pub fn new(config: ClientConfig) -> Client {
        let cipher = config.key.and_then(|key| Cipher::from_key(&key).ok());
        Client {
            config,
            cipher,
            state: State::Connecting,
            queued: VecDeque::new(),
            sent: Vec::new(),
            in_flight: None,
            lines_read: 0,
            input_ended: false,
            interrupted: false,
        }
    }

    /// What the client needs next.
    pub fn wants(&self) -> Wants {
        match self.state {
            State::Connecting => Wants::Connection,
            State::Ready => Wants::Input,
            State::AwaitStart | State::AwaitNumber | State::AwaitStop | State::AwaitQuit { .. } => {
                Wants::Reply
            }
            State::Done => Wants::Done,
        }
    }

    /// How many numbers the server has accepted so far (for a progress line).
    pub fn numbers_sent(&self) -> usize {
        self.sent.len()
    }

    /// Applies one event and returns what to do.
    pub fn step(&mut self, event: ClientEvent<'_>) -> Vec<ClientAction> {
        let mut actions = Vec::new();
        match (self.state, event) {
            (State::Done, _) => {}
            (State::Connecting, ClientEvent::Connected) => {
                let mut frame = Vec::new();
                let key = self.config.key.map(|key| cipher::key_to_base64(&key));
                request::encode_start(&mut frame, &self.config.client_id, key.as_deref());
                actions.push(ClientAction::Send(frame));
                self.state = State::AwaitStart;
            }
            (State::Connecting, ClientEvent::Interrupt) => {
                actions.push(ClientAction::Warn("interrupted before the session was opened".into()));
                self.exit(&mut actions, Exit::Quit);
            }
            (_, ClientEvent::ConnectionLost(how)) => {
                let during = self.request_in_flight().map_or_else(
                    || "the connection to the server broke".to_string(),
                    |op| format!("the connection broke while waiting for the reply to {op}"),
                );
                actions.push(ClientAction::Warn(format!("{during}: {how}")));
                self.exit(&mut actions, Exit::Unavailable);
            }
            (State::Ready, ClientEvent::Line(line)) => self.read_line(line, &mut actions),
            (State::Ready, ClientEvent::EndOfInput) => {
                self.input_ended = true;
                self.advance(&mut actions);
            }
            (State::Ready, ClientEvent::Interrupt) => self.send_quit(&mut actions, Exit::Quit),
            (State::AwaitQuit { .. }, ClientEvent::Interrupt) => {
                actions
                    .push(ClientAction::Warn("interrupted again: not waiting for the reply to QUIT".into()));
                self.exit(&mut actions, Exit::Quit);
            }
            (_, ClientEvent::Interrupt) if self.interrupted => {
                actions.push(ClientAction::Warn("interrupted again: leaving without waiting".into()));
                self.exit(&mut actions, Exit::Quit);
            }
            (_, ClientEvent::Interrupt) => self.interrupted = true,
            (_, ClientEvent::Reply(payload)) if self.wants() == Wants::Reply => {
                self.read_reply(payload, &mut actions)
            }
            (_, ClientEvent::Reply(_)) => {
                actions.push(ClientAction::Warn("the server sent a reply to no request".into()));
                self.exit(&mut actions, Exit::Unavailable);
            }
            (state, event) => {
                // A driver bug, not a peer's: report it rather than panic.
                actions
                    .push(ClientAction::Warn(format!("internal error: event {event:?} in state {state:?}")));
                self.exit(&mut actions, Exit::Unavailable);
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

    fn exit(&mut self, actions: &mut Vec<ClientAction>, status: Exit) {
        self.state = State::Done;
        actions.push(ClientAction::Exit(status));
    }

    fn read_line(&mut self, line: &str, actions: &mut Vec<ClientAction>) {
        self.lines_read += 1;
        let mut tokens = Vec::new();
        for word in line.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|w| !w.is_empty()) {
            match self.token(word) {
                Ok(token) => tokens.push(token),
                Err(problem) => {
                    let shown: String = word.chars().take(40).collect();
                    let ellipsis = if shown.len() < word.len() { "..." } else { "" };
                    if self.config.interactive {
                        actions.push(ClientAction::Warn(format!(
                            "{shown:?}{ellipsis} {problem}; nothing from this line was sent, try again"
                        )));
                        actions.push(ClientAction::Prompt);
                    } else {
                        actions.push(ClientAction::Warn(format!(
                            "line {}: {shown:?}{ellipsis} {problem}; quitting the session",
                            self.lines_read
                        )));
                        self.send_quit(actions, Exit::InvalidArgument);
                    }
                    return;
                }
            }
        }
        self.queued.extend(tokens);
        self.advance(actions);
    }

    /// Reads one input word, refusing before anything is sent what the server would refuse.
    fn token(&self, word: &str) -> Result<Token, String> {
        match word.to_ascii_lowercase().as_str() {
            "stop" | "s" => return Ok(Token::Stop),
            "quit" | "q" => return Ok(Token::Quit),
            _ => {}
        }
        let number = Int::parse(word).map_err(|error| match error {
            IntError::TooManyDigits => "has more than 4300 digits, the most a server accepts".to_string(),
            IntError::NoDigits | IntError::NotADigit => {
                "is not an integer (digits with an optional sign), \"stop\" or \"quit\"".to_string()
            }
        })?;
        if self.cipher.is_some() {
            let fits = number
                .as_i64()
                .is_some_and(|n| (cipher::MIN_ENCRYPTABLE..=cipher::MAX_ENCRYPTABLE).contains(&n));
            if !fits {
                return Err(format!(
                    "is outside what an encrypted session can carry ({} to {})",
                    cipher::MIN_ENCRYPTABLE,
                    cipher::MAX_ENCRYPTABLE
                ));
            }
        }
        Ok(Token::Number(number))
    }

    /// Sends the next request, or asks for more input.
    fn advance(&mut self, actions: &mut Vec<ClientAction>) {
        if self.interrupted {
            self.send_quit(actions, Exit::Quit);
            return;
        }
        match self.queued.pop_front() {
            Some(Token::Number(number)) => {
                let value = match (&self.cipher, number.as_i64()) {
                    (Some(cipher), Some(n)) => match cipher.encrypt(n) {
                        Ok(encrypted) => Number::Encrypted(encrypted),
                        // Refused by `token` already; kept as a recoverable branch.
                        Err(_) => return self.send_quit(actions, Exit::InvalidArgument),
                    },
                    _ => Number::Plain(number.clone()),
                };
                let mut frame = Vec::new();
                request::encode_number(&mut frame, &value);
                actions.push(ClientAction::Send(frame));
                self.in_flight = Some(number);
                self.state = State::AwaitNumber;
            }
            Some(Token::Stop) => self.send_bare(actions, Op::Stop, State::AwaitStop),
            Some(Token::Quit) => self.send_quit(actions, Exit::Quit),
            None if self.input_ended => self.send_bare(actions, Op::Stop, State::AwaitStop),
            None => {
                self.state = State::Ready;
                if self.config.interactive {
                    actions.push(ClientAction::Prompt);
                }
            }
        }
    }

    fn send_bare(&mut self, actions: &mut Vec<ClientAction>, op: Op, next: State) {
        let mut frame = Vec::new();
        request::encode_bare(&mut frame, op);
        actions.push(ClientAction::Send(frame));
        self.queued.clear();
        self.state = next;
    }

    fn send_quit(&mut self, actions: &mut Vec<ClientAction>, then: Exit) {
        self.send_bare(actions, Op::Quit, State::AwaitQuit { then });
    }

    fn read_reply(&mut self, payload: &[u8], actions: &mut Vec<ClientAction>) {
        let op = self.request_in_flight().unwrap_or(Op::Quit);
        let Some(reply) = reply::parse_reply(payload) else {
            let shown = String::from_utf8_lossy(&payload[..payload.len().min(200)]).into_owned();
            actions.push(ClientAction::Warn(format!(
                "the server's reply to {op} is not a JSON object: {shown:?}"
            )));
            return self.exit(actions, Exit::Unavailable);
        };
        if reply.status != Some(true) {
            let error = reply.error.as_deref().unwrap_or("(no error given)");
            let explanation = ErrorCode::from_message(error)
                .map(|code| format!(" ({})", code.explanation()))
                .unwrap_or_default();
            if let State::AwaitQuit { then } = self.state {
                actions
                    .push(ClientAction::Print(format!("quit: the server answered {error:?}{explanation}")));
                return self.exit(actions, then);
            }
            actions.push(ClientAction::Warn(format!("the server refused {op}: {error}{explanation}")));
            let status = if self.interrupted { Exit::Quit } else { Exit::Refused };
            return self.exit(actions, status);
        }
        match self.state {
            State::AwaitStart => self.advance(actions),
            State::AwaitNumber => {
                if let Some(number) = self.in_flight.take() {
                    self.sent.push(number);
                }
                self.advance(actions);
            }
            State::AwaitStop => self.stopped(&reply, actions),
            State::AwaitQuit { then } => {
                actions.push(ClientAction::Print(
                    "quit: the session was abandoned; nothing was recorded".into(),
                ));
                self.exit(actions, then);
            }
            State::Connecting | State::Ready | State::Done => {}
        }
    }

    fn stopped(&mut self, reply: &reply::Reply<'_>, actions: &mut Vec<ClientAction>) {
        let read =
            |raw: Option<&str>| raw.and_then(|raw| reply::parse_reply_value(raw, self.cipher.as_ref()));
        let (Some(min), Some(max)) = (read(reply.min), read(reply.max)) else {
            actions.push(ClientAction::Warn(
                "the server's reply to STOP succeeded but carries no readable min and max".into(),
            ));
            return self.exit(actions, Exit::Unavailable);
        };
        let expected = (self.sent.iter().min(), self.sent.iter().max());
        if expected != (Some(&min), Some(&max)) {
            actions.push(ClientAction::Warn(format!(
                "warning: the server's min {min} and max {max} differ from the numbers sent"
            )));
        }
        let summary =
            if self.config.json { self.json_summary(&min, &max) } else { self.text_summary(&min, &max) };
        actions.push(ClientAction::Print(summary));
        let status = if self.interrupted { Exit::Quit } else { Exit::Success };
        self.exit(actions, status);
    }

    /// The numbers sent, wrapped to the configured width, then the min and max.
    fn text_summary(&self, min: &Int, max: &Int) -> String {
        const INDENT: &str = "  ";
        let width = self.config.width.max(20);
        let mut text = format!("numbers sent ({}):", self.sent.len());
        let mut column = text.len();
        for number in &self.sent {
            let number = number.to_string();
            // A number longer than the width gets a line of its own, unbroken.
            if column + 1 + number.len() > width && column > INDENT.len() {
                text.push('\n');
                text.push_str(INDENT);
                column = INDENT.len();
            } else {
                text.push(' ');
                column += 1;
            }
            text.push_str(&number);
            column += number.len();
        }
        text.push_str(&format!("\nmin: {min}\nmax: {max}\n"));
        text
    }

    /// One JSON object, with `json.dumps`'s separators, for scripts.
    fn json_summary(&self, min: &Int, max: &Int) -> String {
        let mut out = Vec::new();
        out.extend_from_slice(br#"{"client_id": "#);
        pyjson::write_str(&mut out, &self.config.client_id);
        out.extend_from_slice(format!(r#", "count": {}, "numbers": ["#, self.sent.len()).as_bytes());
        for (i, number) in self.sent.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            number.write_decimal(&mut out);
        }
        out.extend_from_slice(format!(r#"], "min": {min}, "max": {max}}}"#).as_bytes());
        out.push(b'\n');
        String::from_utf8(out).expect("ensure_ascii JSON is ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(interactive: bool) -> ClientConfig {
        ClientConfig { client_id: "anton".into(), key: None, interactive, json: false, width: 80 }
    }

    fn body(action: &ClientAction) -> String {
        match action {
            ClientAction::Send(frame) => String::from_utf8(frame[4..].to_vec()).expect("ASCII"),
            other => panic!("expected a Send, got {other:?}"),
        }
    }

    const OK: &[u8] = br#"{"op": "X", "status": true}"#;

    fn started(interactive: bool) -> Client {
        let mut client = Client::new(config(interactive));
        let actions = client.step(ClientEvent::Connected);
        assert_eq!(body(&actions[0]), r#"{"op": "START", "client_id": "anton", "cipher": null}"#);
        client.step(ClientEvent::Reply(OK));
        client
    }

    #[test]
    fn a_piped_session_sends_each_number_then_stop_at_end_of_input() {
        let mut client = started(false);
        assert_eq!(client.wants(), Wants::Input);
        let actions = client.step(ClientEvent::Line("5, -3 12"));
        assert_eq!(body(&actions[0]), r#"{"op": "NUMBER", "number": 5}"#);
        assert_eq!(body(&client.step(ClientEvent::Reply(OK))[0]), r#"{"op": "NUMBER", "number": -3}"#);
        assert_eq!(body(&client.step(ClientEvent::Reply(OK))[0]), r#"{"op": "NUMBER", "number": 12}"#);
        assert!(client.step(ClientEvent::Reply(OK)).is_empty(), "no prompt when piped");
        assert_eq!(body(&client.step(ClientEvent::EndOfInput)[0]), r#"{"op": "STOP"}"#);
        let actions =
            client.step(ClientEvent::Reply(br#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#));
        assert_eq!(
            actions,
            vec![
                ClientAction::Print("numbers sent (3): 5 -3 12\nmin: -3\nmax: 12\n".into()),
                ClientAction::Exit(Exit::Success)
            ]
        );
        assert_eq!(client.wants(), Wants::Done);
    }

    #[test]
    fn words_are_case_insensitive_and_abbreviated() {
        let mut client = started(false);
        assert_eq!(body(&client.step(ClientEvent::Line("S"))[0]), r#"{"op": "STOP"}"#);
        let mut client = started(false);
        assert_eq!(body(&client.step(ClientEvent::Line("  Quit 5"))[0]), r#"{"op": "QUIT"}"#);
        let actions = client.step(ClientEvent::Reply(br#"{"op": "QUIT", "status": true}"#));
        assert_eq!(actions.last(), Some(&ClientAction::Exit(Exit::Quit)));
    }

    #[test]
    fn a_piped_invalid_token_sends_nothing_of_its_line_then_quits_with_2() {
        let mut client = started(false);
        let actions = client.step(ClientEvent::Line("1 2"));
        assert_eq!(actions.len(), 1);
        client.step(ClientEvent::Reply(OK));
        client.step(ClientEvent::Reply(OK));
        let actions = client.step(ClientEvent::Line("3 x4 5"));
        assert_eq!(
            actions[0],
            ClientAction::Warn(
                "line 2: \"x4\" is not an integer (digits with an optional sign), \"stop\" or \"quit\"; quitting the session"
                    .into()
            )
        );
        assert_eq!(body(&actions[1]), r#"{"op": "QUIT"}"#);
        let actions = client.step(ClientEvent::Reply(br#"{"op": "QUIT", "status": true}"#));
        assert_eq!(actions.last(), Some(&ClientAction::Exit(Exit::InvalidArgument)));
    }

    #[test]
    fn an_interactive_invalid_token_is_explained_and_prompted_again() {
        let mut client = started(true);
        let actions = client.step(ClientEvent::Line("1.5"));
        assert!(
            matches!(&actions[0], ClientAction::Warn(text) if text.contains("\"1.5\" is not an integer"))
        );
        assert_eq!(actions[1], ClientAction::Prompt);
        assert_eq!(client.wants(), Wants::Input);
        assert_eq!(body(&client.step(ClientEvent::Line("7"))[0]), r#"{"op": "NUMBER", "number": 7}"#);
        assert_eq!(client.step(ClientEvent::Reply(OK)), vec![ClientAction::Prompt]);
    }

    #[test]
    fn numbers_are_sent_canonical_and_exact() {
        let mut client = started(false);
        let big = "-".to_string() + &"9".repeat(300);
        let actions = client.step(ClientEvent::Line(&format!("+007 -0 {big}")));
        assert_eq!(body(&actions[0]), r#"{"op": "NUMBER", "number": 7}"#);
        assert_eq!(body(&client.step(ClientEvent::Reply(OK))[0]), r#"{"op": "NUMBER", "number": 0}"#);
        assert_eq!(
            body(&client.step(ClientEvent::Reply(OK))[0]),
            format!(r#"{{"op": "NUMBER", "number": {big}}}"#)
        );
        let too_long = "1".repeat(4301);
        client.step(ClientEvent::Reply(OK));
        let actions = client.step(ClientEvent::Line(&too_long));
        assert!(matches!(&actions[0], ClientAction::Warn(text) if text.contains("more than 4300 digits")));
    }

    #[test]
    fn encrypted_sessions_encrypt_numbers_and_decrypt_the_result() {
        let key = [7u8; 16];
        let cipher = Cipher::from_key(&key).expect("key");
        let mut client = Client::new(ClientConfig { key: Some(key), ..config(false) });
        let start = body(&client.step(ClientEvent::Connected)[0]);
        assert_eq!(
            start,
            format!(
                r#"{{"op": "START", "client_id": "anton", "cipher": "{}"}}"#,
                cipher::key_to_base64(&key)
            )
        );
        client.step(ClientEvent::Reply(OK));
        let actions = client.step(ClientEvent::Line("-5 10000000000000000"));
        assert!(
            matches!(&actions[0], ClientAction::Warn(text) if text.contains("outside what an encrypted session"))
        );
        let mut client = Client::new(ClientConfig { key: Some(key), ..config(false) });
        client.step(ClientEvent::Connected);
        client.step(ClientEvent::Reply(OK));
        let actions = client.step(ClientEvent::Line("-5"));
        let encrypted = cipher.encrypt(-5).expect("in range");
        assert_eq!(body(&actions[0]), format!(r#"{{"op": "NUMBER", "number": "{}"}}"#, encrypted.as_str()));
        client.step(ClientEvent::Reply(OK));
        client.step(ClientEvent::EndOfInput);
        let reply =
            format!(r#"{{"op": "STOP", "status": true, "min": "{0}", "max": "{0}"}}"#, encrypted.as_str());
        let actions = client.step(ClientEvent::Reply(reply.as_bytes()));
        assert_eq!(actions[0], ClientAction::Print("numbers sent (1): -5\nmin: -5\nmax: -5\n".into()));
    }

    #[test]
    fn a_refusal_is_printed_and_exits_with_3() {
        // The reply as the server writes it: its text is message.rs's to define.
        let mut refusal = Vec::new();
        crate::message::Response::error(Op::Start, ErrorCode::ClientExists).write_json(&mut refusal);
        let mut client = Client::new(config(false));
        client.step(ClientEvent::Connected);
        let actions = client.step(ClientEvent::Reply(&refusal));
        let expected = format!(
            "the server refused START: {} (this client id already has an active session)",
            ErrorCode::ClientExists
        );
        assert_eq!(actions, vec![ClientAction::Warn(expected), ClientAction::Exit(Exit::Refused)]);
    }

    #[test]
    fn an_interrupt_while_waiting_for_input_quits_with_4() {
        let mut client = started(false);
        let actions = client.step(ClientEvent::Interrupt);
        assert_eq!(body(&actions[0]), r#"{"op": "QUIT"}"#);
        let actions = client.step(ClientEvent::Reply(br#"{"op": "QUIT", "status": true}"#));
        assert_eq!(
            actions,
            vec![
                ClientAction::Print("quit: the session was abandoned; nothing was recorded".into()),
                ClientAction::Exit(Exit::Quit)
            ]
        );
    }

    #[test]
    fn an_interrupt_during_a_request_quits_after_its_reply() {
        let mut client = started(false);
        client.step(ClientEvent::Line("1 2 3"));
        assert!(client.step(ClientEvent::Interrupt).is_empty());
        let actions = client.step(ClientEvent::Reply(OK));
        assert_eq!(body(&actions[0]), r#"{"op": "QUIT"}"#, "2 and 3 are not sent");
        let again = client.step(ClientEvent::Interrupt);
        assert_eq!(again.last(), Some(&ClientAction::Exit(Exit::Quit)));
    }

    #[test]
    fn a_broken_connection_exits_with_5_naming_the_request() {
        let mut client = started(false);
        client.step(ClientEvent::Line("1"));
        let actions = client.step(ClientEvent::ConnectionLost("the server closed the connection"));
        assert_eq!(
            actions,
            vec![
                ClientAction::Warn(
                    "the connection broke while waiting for the reply to NUMBER: the server closed the connection"
                        .into()
                ),
                ClientAction::Exit(Exit::Unavailable)
            ]
        );
    }

    #[test]
    fn replies_are_read_liberally() {
        let mut client = started(false);
        client.step(ClientEvent::Line("4 9 stop"));
        client.step(ClientEvent::Reply(br#"{"op": "START", "status": true}"#));
        client.step(ClientEvent::Reply(br#"{"status": true}"#));
        let actions = client
            .step(ClientEvent::Reply(br#"{"op": "stop", "status": true, "minimum": "4", "maximum": 9}"#));
        assert_eq!(actions[0], ClientAction::Print("numbers sent (2): 4 9\nmin: 4\nmax: 9\n".into()));
        let mut client = started(false);
        client.step(ClientEvent::Line("stop"));
        let actions = client.step(ClientEvent::Reply(b"not json"));
        assert_eq!(actions.last(), Some(&ClientAction::Exit(Exit::Unavailable)));
    }

    #[test]
    fn the_summary_wraps_and_the_json_form_is_exact() {
        let mut client = Client::new(ClientConfig { width: 24, ..config(false) });
        client.sent = (1..=8).map(|n| Int::from(n * 111)).collect();
        assert_eq!(
            client.text_summary(&Int::from(111), &Int::from(888)),
            "numbers sent (8): 111\n  222 333 444 555 666\n  777 888\nmin: 111\nmax: 888\n"
        );
        client.config.client_id = "Zé".into();
        assert_eq!(
            client.json_summary(&Int::from(111), &Int::from(888)),
            "{\"client_id\": \"Z\\u00e9\", \"count\": 8, \"numbers\": [111, 222, 333, 444, 555, 666, 777, 888], \"min\": 111, \"max\": 888}\n"
        );
    }
}
