//! The client machine, event by event, on a simulated clock: no test waits.

use super::*;

fn config(interactive: bool) -> ClientConfig {
    ClientConfig {
        client_id: "anton".into(),
        host: "localhost".into(),
        port: 5000,
        key: None,
        interactive,
        json: false,
        quiet: false,
        width: 80,
        tls: None,
    }
}

fn body(action: &ClientAction) -> String {
    match action {
        ClientAction::Send(frame) => String::from_utf8(frame[4..].to_vec()).expect("ASCII"),
        other => panic!("expected a Send, got {other:?}"),
    }
}

const OK: &[u8] = br#"{"op": "X", "status": true}"#;
const T0: Timestamp = Timestamp::ZERO;

fn at(seconds: f64) -> Timestamp {
    Timestamp::from_duration(Duration::from_secs_f64(seconds))
}

/// A client whose session was opened at time zero.
fn started_with(config: ClientConfig) -> Client {
    let mut client = Client::new(config, T0);
    assert!(client.step(T0, ClientEvent::Resolved).is_empty());
    let actions = client.step(T0, ClientEvent::Connected);
    assert!(body(&actions[0]).starts_with(r#"{"op": "START", "client_id": "anton", "cipher": "#));
    client.step(T0, ClientEvent::Reply(OK));
    client
}

fn started(interactive: bool) -> Client {
    started_with(config(interactive))
}

fn input(client: &mut Client, text: &str) -> Vec<ClientAction> {
    client.step(T0, ClientEvent::Input(text.as_bytes()))
}

fn reply(client: &mut Client, payload: &str) -> Vec<ClientAction> {
    client.step(T0, ClientEvent::Reply(payload.as_bytes()))
}

#[test]
fn a_piped_session_sends_each_number_then_stop_at_end_of_input() {
    let mut client = started(false);
    assert_eq!(client.wants(), Wants::Input);
    let actions = input(&mut client, "5, -3 12\n");
    assert_eq!(body(&actions[0]), r#"{"op": "NUMBER", "number": 5}"#);
    assert_eq!(body(&client.step(T0, ClientEvent::Reply(OK))[0]), r#"{"op": "NUMBER", "number": -3}"#);
    assert_eq!(body(&client.step(T0, ClientEvent::Reply(OK))[0]), r#"{"op": "NUMBER", "number": 12}"#);
    assert!(client.step(T0, ClientEvent::Reply(OK)).is_empty(), "no prompt when piped");
    assert_eq!(body(&client.step(T0, ClientEvent::EndOfInput)[0]), r#"{"op": "STOP"}"#);
    let actions = reply(&mut client, r#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#);
    assert_eq!(actions, vec![ClientAction::Print("numbers sent (3): 5 -3 12\nmin: -3\nmax: 12\n".into())]);
    assert_eq!(client.wants(), Wants::Done);
    assert_eq!(client.exit_status(), Some(Exit::Success));
}

#[test]
fn input_in_chunks_that_split_words_and_lines_is_read_as_one_text() {
    let mut client = started(false);
    assert!(input(&mut client, "1").is_empty(), "the word may go on");
    assert_eq!(client.wants(), Wants::Input);
    assert_eq!(body(&input(&mut client, "2 3")[0]), r#"{"op": "NUMBER", "number": 12}"#);
    assert!(client.step(T0, ClientEvent::Reply(OK)).is_empty(), "3 may go on, so it waits");
    let actions = client.step(T0, ClientEvent::EndOfInput);
    assert_eq!(body(&actions[0]), r#"{"op": "NUMBER", "number": 3}"#);
    assert_eq!(body(&client.step(T0, ClientEvent::Reply(OK))[0]), r#"{"op": "STOP"}"#);
}

#[test]
fn words_are_case_insensitive_and_abbreviated_and_nothing_is_read_after_stop() {
    let mut client = started(false);
    assert_eq!(body(&input(&mut client, "S\nnot read")[0]), r#"{"op": "STOP"}"#);
    let mut client = started(false);
    assert_eq!(body(&input(&mut client, "  Quit 5")[0]), r#"{"op": "QUIT"}"#);
    let actions = reply(&mut client, r#"{"op": "QUIT", "status": true}"#);
    assert_eq!(
        actions,
        vec![ClientAction::Print("quit: the session was abandoned; nothing was recorded\n".into())]
    );
    assert_eq!(client.exit_status(), Some(Exit::Quit));
}

#[test]
fn a_piped_invalid_word_quits_with_2_naming_line_and_word() {
    let mut client = started(false);
    assert_eq!(input(&mut client, "1 2\n").len(), 1);
    client.step(T0, ClientEvent::Reply(OK));
    client.step(T0, ClientEvent::Reply(OK));
    // Piped input is sent as it is read: 3 goes before x4 is seen. The session is
    // quit all the same, so nothing of it is recorded.
    assert_eq!(body(&input(&mut client, "3 x4 5")[0]), r#"{"op": "NUMBER", "number": 3}"#);
    let actions = client.step(T0, ClientEvent::Reply(OK));
    assert_eq!(
        actions[0],
        ClientAction::Warn(
            "line 2: \"x4\" is not an integer (digits with an optional sign), \"stop\" or \"quit\"; quitting the session"
                .into()
        )
    );
    assert_eq!(body(&actions[1]), r#"{"op": "QUIT"}"#, "5 is not sent");
    reply(&mut client, r#"{"op": "QUIT", "status": true}"#);
    assert_eq!(client.exit_status(), Some(Exit::InvalidArgument));
}

#[test]
fn a_word_longer_than_any_integer_is_refused_before_its_end_arrives() {
    let mut client = started(false);
    let digits = "7".repeat(MAX_TOKEN_CHARS + 1);
    let actions = input(&mut client, &digits);
    let ClientAction::Warn(message) = &actions[0] else { panic!("{actions:?}") };
    assert!(
        message.starts_with(&format!("line 1: \"{}\"... (more than 4301 characters)", "7".repeat(40))),
        "{message}"
    );
    assert!(message.contains("is longer than any integer a server accepts"), "{message}");
    assert_eq!(body(&actions[1]), r#"{"op": "QUIT"}"#);
    // The longest valid word is still a number.
    let mut client = started(false);
    let longest = format!("+{}", "9".repeat(4300));
    assert_eq!(
        body(&input(&mut client, &format!("{longest}\n"))[0]),
        format!(r#"{{"op": "NUMBER", "number": {}}}"#, &longest[1..])
    );
    let mut client = started(false);
    let actions = input(&mut client, &format!("{}\n", "1".repeat(4301)));
    assert!(matches!(&actions[0], ClientAction::Warn(text) if text.contains("has more than 4300 digits")));
}

#[test]
fn an_interactive_invalid_word_is_explained_and_nothing_of_its_line_is_sent() {
    let mut client = started_with(config(true));
    let actions = input(&mut client, "7 1.5 8\n");
    assert!(
        matches!(&actions[0], ClientAction::Warn(text) if text.starts_with("\"1.5\" is not an integer (digits with an optional sign), \"stop\", \"quit\" or \"help\"; nothing from this line was sent, try again")),
        "{actions:?}"
    );
    assert_eq!(actions[1], ClientAction::Prompt);
    assert_eq!(client.wants(), Wants::Input);
    assert_eq!(body(&input(&mut client, "7\n")[0]), r#"{"op": "NUMBER", "number": 7}"#);
    assert_eq!(client.step(T0, ClientEvent::Reply(OK)), vec![ClientAction::Prompt]);
}

#[test]
fn pasted_lines_are_each_checked_whole_in_turn() {
    let mut client = started_with(config(true));
    let actions = input(&mut client, "1 2\n3 x\n4\n");
    assert_eq!(actions.len(), 1, "one request at a time: {actions:?}");
    assert_eq!(body(&actions[0]), r#"{"op": "NUMBER", "number": 1}"#);
    assert_eq!(body(&client.step(T0, ClientEvent::Reply(OK))[0]), r#"{"op": "NUMBER", "number": 2}"#);
    let actions = client.step(T0, ClientEvent::Reply(OK));
    assert!(matches!(&actions[0], ClientAction::Warn(text) if text.starts_with("\"x\" is not")));
    assert_eq!(body(&actions[1]), r#"{"op": "NUMBER", "number": 4}"#, "3 was on x's line");
}

#[test]
fn help_is_understood_on_a_terminal() {
    let mut client = started_with(config(true));
    for word in ["help", "?", "HELP"] {
        let actions = input(&mut client, &format!("{word}\n"));
        assert_eq!(actions, vec![ClientAction::Tell(HELP.into()), ClientAction::Prompt]);
        assert!(client.prompt_open);
        client.prompt_open = false;
    }
    let mut piped = started(false);
    let actions = input(&mut piped, "help\n");
    assert!(matches!(&actions[0], ClientAction::Warn(text) if text.contains("\"help\" is not an integer")));
}

#[test]
fn the_up_arrow_is_shown_readably_and_named() {
    let mut client = started_with(config(true));
    let actions = input(&mut client, "\x1b[A\n");
    let ClientAction::Warn(text) = &actions[0] else { panic!("{actions:?}") };
    assert!(
        text.starts_with("\"^[[A\" is not an integer (digits with an optional sign), \"stop\", \"quit\" or \"help\" (the up arrow key: this prompt has no line editing or history)"),
        "{text}"
    );
    assert!(!text.contains("\\u{1b}"), "{text}");
}

#[test]
fn after_ctrl_c_or_ctrl_d_at_the_prompt_messages_start_on_a_new_line() {
    let mut client = started_with(config(true));
    assert_eq!(input(&mut client, "5\n").len(), 1);
    assert_eq!(client.step(T0, ClientEvent::Reply(OK)), vec![ClientAction::Prompt]);
    let actions = client.step(T0, ClientEvent::Interrupt);
    assert_eq!(body(&actions[0]), r#"{"op": "QUIT"}"#);
    let actions = reply(&mut client, r#"{"op": "QUIT", "status": true}"#);
    assert_eq!(
        actions,
        vec![
            ClientAction::EndPromptLine,
            ClientAction::Print("quit: the session was abandoned; nothing was recorded\n".into())
        ]
    );
    let mut client = started_with(config(true));
    input(&mut client, "5\n");
    client.step(T0, ClientEvent::Reply(OK));
    let actions = client.step(T0, ClientEvent::EndOfInput);
    assert_eq!(body(&actions[0]), r#"{"op": "STOP"}"#);
    let actions = reply(&mut client, r#"{"op": "STOP", "status": true, "min": 5, "max": 5}"#);
    assert_eq!(actions[0], ClientAction::EndPromptLine, "Ctrl-D left the prompt's line open");
}

#[test]
fn numbers_are_sent_canonical_and_exact() {
    let mut client = started(false);
    let big = "-".to_string() + &"9".repeat(300);
    let actions = input(&mut client, &format!("+007 -0 {big}\n"));
    assert_eq!(body(&actions[0]), r#"{"op": "NUMBER", "number": 7}"#);
    assert_eq!(body(&client.step(T0, ClientEvent::Reply(OK))[0]), r#"{"op": "NUMBER", "number": 0}"#);
    assert_eq!(
        body(&client.step(T0, ClientEvent::Reply(OK))[0]),
        format!(r#"{{"op": "NUMBER", "number": {big}}}"#)
    );
}

#[test]
fn encrypted_sessions_encrypt_numbers_and_decrypt_the_result() {
    let key = [7u8; 16];
    let cipher = Cipher::from_key_128(&key);
    let encrypted_config = || ClientConfig { key: Some(key), ..config(false) };
    let mut client = Client::new(encrypted_config(), T0);
    client.step(T0, ClientEvent::Resolved);
    let start = body(&client.step(T0, ClientEvent::Connected)[0]);
    assert_eq!(
        start,
        format!(r#"{{"op": "START", "client_id": "anton", "cipher": "{}"}}"#, cipher::key_to_base64(&key))
    );
    client.step(T0, ClientEvent::Reply(OK));
    input(&mut client, "-5 10000000000000000\n");
    let actions = client.step(T0, ClientEvent::Reply(OK));
    assert!(
        matches!(&actions[0], ClientAction::Warn(text) if text.contains("outside what an encrypted session"))
    );
    let mut client = started_with(encrypted_config());
    let actions = input(&mut client, "-5\n");
    let encrypted = cipher.encrypt(-5).expect("in range");
    assert_eq!(body(&actions[0]), format!(r#"{{"op": "NUMBER", "number": "{}"}}"#, encrypted.as_str()));
    client.step(T0, ClientEvent::Reply(OK));
    client.step(T0, ClientEvent::EndOfInput);
    let stop = format!(r#"{{"op": "STOP", "status": true, "min": "{0}", "max": "{0}"}}"#, encrypted.as_str());
    assert_eq!(
        reply(&mut client, &stop)[0],
        ClientAction::Print("numbers sent (1): -5\nmin: -5\nmax: -5\n".into())
    );
}

#[test]
fn a_refusal_is_printed_and_exits_with_3() {
    // The reply as the server writes it: its text is message.rs's to define.
    let mut refusal = Vec::new();
    crate::message::Response::error(Op::Start, ErrorCode::ClientExists).write_json(&mut refusal);
    let mut client = Client::new(config(false), T0);
    client.step(T0, ClientEvent::Resolved);
    client.step(T0, ClientEvent::Connected);
    let actions = client.step(T0, ClientEvent::Reply(&refusal));
    let expected = format!(
        "the server refused START: {} (this client id already has an active session)",
        ErrorCode::ClientExists
    );
    assert_eq!(actions, vec![ClientAction::Warn(expected)]);
    assert_eq!(client.exit_status(), Some(Exit::Refused));
}

/// §7: exit 3 is only for `status: false`; a reply without a boolean status is not
/// understood, which is exit 5, whatever request it answers.
#[test]
fn a_reply_without_a_boolean_status_is_exit_5_not_a_refusal() {
    for (payload, shown) in [
        (r#"{"op": "START"}"#, "has no status".to_string()),
        (r#"{"op": "START", "status": "true"}"#, r#"has status "true""#.to_string()),
        (r#"{"status": 1, "error": "Cliente existente"}"#, "has status 1".to_string()),
        (
            &format!(r#"{{"status": "\u001b[2J{}"}}"#, "x".repeat(500)) as &str,
            format!(r#"has status "\u001b[2J{}... (511 characters)"#, "x".repeat(190)),
        ),
    ] {
        let mut client = Client::new(config(false), T0);
        client.step(T0, ClientEvent::Resolved);
        client.step(T0, ClientEvent::Connected);
        let actions = client.step(T0, ClientEvent::Reply(payload.as_bytes()));
        assert_eq!(
            actions,
            vec![ClientAction::Warn(format!(
                "the server's reply to START {shown}: expected a boolean status (\"status\": true or false)"
            ))],
            "{payload}"
        );
        assert_eq!(client.exit_status(), Some(Exit::Unavailable), "{payload}");
    }
    for request in ["1\n", "stop\n", "quit\n"] {
        let mut client = started(false);
        input(&mut client, request);
        let actions = reply(&mut client, r#"{"op": "X"}"#);
        assert!(
            matches!(&actions[..], [ClientAction::Warn(text)] if text.ends_with("has no status: expected a boolean status (\"status\": true or false)")),
            "{request}: {actions:?}"
        );
        assert_eq!(client.exit_status(), Some(Exit::Unavailable), "{request}");
    }
}

#[test]
fn an_interrupt_during_a_request_quits_after_its_reply() {
    let mut client = started(false);
    input(&mut client, "1 2 3\n");
    assert!(client.step(T0, ClientEvent::Interrupt).is_empty());
    let actions = client.step(T0, ClientEvent::Reply(OK));
    assert_eq!(body(&actions[0]), r#"{"op": "QUIT"}"#, "2 and 3 are not sent");
    client.step(T0, ClientEvent::Interrupt);
    assert_eq!(client.exit_status(), Some(Exit::Quit));
}

#[test]
fn a_broken_connection_exits_with_5_naming_the_request() {
    let mut client = started(false);
    input(&mut client, "1\n");
    let actions = client.step(T0, ClientEvent::ConnectionLost("the server closed the connection"));
    assert_eq!(
        actions,
        vec![ClientAction::Warn(
            "the connection broke while waiting for the reply to NUMBER: the server closed the connection"
                .into()
        )]
    );
    assert_eq!(client.exit_status(), Some(Exit::Unavailable));
}

#[test]
fn replies_are_read_liberally() {
    let mut client = started(false);
    input(&mut client, "4 9 stop");
    client.step(T0, ClientEvent::Reply(br#"{"op": "START", "status": true}"#));
    client.step(T0, ClientEvent::Reply(br#"{"status": true}"#));
    assert_eq!(body(&client.step(T0, ClientEvent::EndOfInput)[0]), r#"{"op": "STOP"}"#);
    let actions = reply(&mut client, r#"{"op": "stop", "status": true, "minimum": "4", "maximum": 9}"#);
    assert_eq!(actions[0], ClientAction::Print("numbers sent (2): 4 9\nmin: 4\nmax: 9\n".into()));
    let mut client = started(false);
    input(&mut client, "stop");
    client.step(T0, ClientEvent::Reply(b"not json"));
    assert_eq!(client.exit_status(), Some(Exit::Unavailable));
}

#[test]
fn the_reply_limit_is_30_seconds_of_the_clock_given() {
    let mut client = Client::new(config(false), T0);
    client.step(T0, ClientEvent::Resolved);
    client.step(at(1.0), ClientEvent::Connected);
    assert_eq!(client.poll_timeout(), Some(at(31.0)));
    client.step(at(2.0), ClientEvent::Reply(OK));
    assert_eq!(client.poll_timeout(), None, "waiting for input has no limit");
    client.step(at(100.0), ClientEvent::Input(b"7\n"));
    assert_eq!(client.poll_timeout(), Some(at(130.0)));
    assert!(client.handle_timeout(at(129.999)).is_empty(), "not a moment early");
    assert_eq!(client.exit_status(), None);
    let actions = client.handle_timeout(at(130.0));
    assert_eq!(
        actions,
        vec![ClientAction::Warn(
            "the server did not answer NUMBER within 30 s: expected a reply to every request".into()
        )]
    );
    assert_eq!(client.exit_status(), Some(Exit::Unavailable));
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn the_connect_limit_is_5_seconds_name_resolution_included() {
    let mut resolving = Client::new(config(false), at(10.0));
    assert_eq!(resolving.poll_timeout(), Some(at(15.0)));
    assert!(resolving.handle_timeout(at(14.9)).is_empty());
    let actions = resolving.handle_timeout(at(15.0));
    assert!(
        matches!(&actions[0], ClientAction::Warn(text) if text.starts_with("the name service did not resolve host \"localhost\" within 5 s")),
        "{actions:?}"
    );
    assert_eq!(
        resolving.exit_status(),
        Some(Exit::Unavailable),
        "a temporary failure, not an invalid argument"
    );
    let mut connecting = Client::new(config(false), T0);
    connecting.step(at(4.0), ClientEvent::Resolved);
    assert_eq!(connecting.poll_timeout(), Some(at(5.0)), "resolving used 4 of the 5 s");
    let actions = connecting.handle_timeout(at(5.0));
    assert_eq!(
        actions,
        vec![ClientAction::Warn(
            "cannot reach the server at localhost:5000: no answer within 5 s (is minmax-server running there?)".into()
        )]
    );
    assert_eq!(connecting.exit_status(), Some(Exit::Unavailable));
}

#[test]
fn only_a_name_that_does_not_exist_is_an_invalid_argument() {
    let outcome = |failure| {
        let mut client = Client::new(ClientConfig { host: "::1".into(), ..config(false) }, T0);
        let actions = client.step(T0, ClientEvent::ConnectFailed(failure));
        let ClientAction::Warn(text) = &actions[0] else { panic!("{actions:?}") };
        (client.exit_status(), text.clone())
    };
    let (exit, text) = outcome(ConnectFailure::NoSuchHost("Name or service not known"));
    assert_eq!(exit, Some(Exit::InvalidArgument));
    assert!(text.starts_with("host \"::1\" does not exist (Name or service not known)"), "{text}");
    let (exit, text) = outcome(ConnectFailure::NameServiceFailed("Temporary failure in name resolution"));
    assert_eq!(exit, Some(Exit::Unavailable));
    assert!(text.contains("a temporary failure of the name service"), "{text}");
    let (exit, text) = outcome(ConnectFailure::Unreachable("[::1]:5000: Connection refused"));
    assert_eq!(exit, Some(Exit::Unavailable));
    assert!(
        text.starts_with("cannot reach the server at [::1]:5000: [::1]:5000: Connection refused"),
        "{text}"
    );
}

#[test]
fn an_unwritable_result_is_exit_6_unless_another_failure_says_more() {
    let mut client = started(false);
    input(&mut client, "1\n");
    client.step(T0, ClientEvent::Reply(OK));
    client.step(T0, ClientEvent::EndOfInput);
    reply(&mut client, r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"#);
    assert_eq!(client.exit_status(), Some(Exit::Success));
    let actions = client.step(T0, ClientEvent::OutputFailed("No space left on device (os error 28)"));
    assert!(
        matches!(&actions[..], [ClientAction::Warn(text)] if text.starts_with("cannot write the result to standard output (No space left on device (os error 28))")),
        "{actions:?}"
    );
    assert_eq!(client.exit_status(), Some(Exit::OutputFailed));
    assert!(client.step(T0, ClientEvent::OutputFailed("again")).is_empty(), "said once");
    let mut client = started(false);
    input(&mut client, "q\n");
    reply(&mut client, r#"{"op": "QUIT", "status": true}"#);
    client.step(T0, ClientEvent::OutputFailed("No space left on device"));
    assert_eq!(client.exit_status(), Some(Exit::Quit));
}

#[test]
fn an_output_failure_before_the_end_shows_in_the_json_exit_code() {
    // Found by the fuzzer (client_replies, crash-ebbb4a3f): the object said 0 while
    // the process exited 6.
    let mut client = started_with(ClientConfig { json: true, ..config(false) });
    input(&mut client, "1\n");
    client.step(T0, ClientEvent::OutputFailed("Broken pipe"));
    client.step(T0, ClientEvent::Reply(OK));
    client.step(T0, ClientEvent::EndOfInput);
    let actions = reply(&mut client, r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"#);
    assert!(
        matches!(&actions[..], [ClientAction::Print(object)] if object.contains("\"exit_code\": 6")),
        "{actions:?}"
    );
    assert_eq!(client.exit_status(), Some(Exit::OutputFailed));
}

#[test]
fn quiet_prints_count_min_and_max_and_keeps_no_list() {
    let mut client = started_with(ClientConfig { quiet: true, ..config(false) });
    input(&mut client, "5 -3 12\n");
    client.step(T0, ClientEvent::Reply(OK));
    client.step(T0, ClientEvent::Reply(OK));
    client.step(T0, ClientEvent::Reply(OK));
    assert!(client.sent.list.is_none(), "memory does not grow with the input");
    client.step(T0, ClientEvent::EndOfInput);
    let actions = reply(&mut client, r#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#);
    assert_eq!(actions, vec![ClientAction::Print("count: 3\nmin: -3\nmax: 12\n".into())]);
}

/// What a `--json` client whose session is open prints while `script` ends it.
fn json_printed(quiet: bool, script: impl FnOnce(&mut Client) -> Vec<ClientAction>) -> String {
    let mut client = started_with(ClientConfig { json: true, quiet, ..config(false) });
    let printed: String = script(&mut client)
        .into_iter()
        .filter_map(|action| match action {
            ClientAction::Print(text) => Some(text),
            _ => None,
        })
        .collect();
    assert!(client.exit_status().is_some(), "the script ends the session");
    printed
}

#[test]
fn json_prints_one_object_for_every_outcome() {
    type Script = Box<dyn FnOnce(&mut Client) -> Vec<ClientAction>>;
    let stop_after = |numbers: &'static str| -> Script {
        Box::new(move |client| {
            input(client, numbers);
            client.step(T0, ClientEvent::Reply(OK));
            client.step(T0, ClientEvent::Reply(OK));
            client.step(T0, ClientEvent::EndOfInput);
            reply(client, r#"{"op": "STOP", "status": true, "min": 1, "max": 2}"#)
        })
    };
    let cases: Vec<(bool, Script, &str)> = vec![
        (
            false,
            stop_after("1 2\n"),
            r#"{"client_id": "anton", "outcome": "stopped", "exit_code": 0, "count": 2, "numbers": [1, 2], "min": 1, "max": 2}"#,
        ),
        (
            true,
            stop_after("1 2\n"),
            r#"{"client_id": "anton", "outcome": "stopped", "exit_code": 0, "count": 2, "min": 1, "max": 2}"#,
        ),
        (
            false,
            Box::new(|client| {
                input(client, "q\n");
                reply(client, r#"{"op": "QUIT", "status": true}"#)
            }),
            r#"{"client_id": "anton", "outcome": "quit", "exit_code": 4, "message": "the session was abandoned; nothing was recorded"}"#,
        ),
        (
            false,
            Box::new(|client| {
                input(client, "x\n");
                reply(client, r#"{"op": "QUIT", "status": true}"#)
            }),
            r#"{"client_id": "anton", "outcome": "quit", "exit_code": 2, "message": "the session was abandoned; nothing was recorded", "reason": "line 1: \"x\" is not an integer (digits with an optional sign), \"stop\" or \"quit\""}"#,
        ),
        (
            false,
            Box::new(|client| {
                input(client, "stop\n");
                reply(client, r#"{"op": "STOP", "status": false, "error": "Dados insuficientes"}"#)
            }),
            r#"{"client_id": "anton", "outcome": "refused", "exit_code": 3, "op": "STOP", "error": "Dados insuficientes", "message": "the server refused STOP: Dados insuficientes (the session ended without any number)"}"#,
        ),
        (
            false,
            Box::new(|client| {
                input(client, "1\n");
                client.handle_timeout(at(30.0))
            }),
            r#"{"client_id": "anton", "outcome": "error", "exit_code": 5, "message": "the server did not answer NUMBER within 30 s: expected a reply to every request"}"#,
        ),
    ];
    for (quiet, script, expected) in cases {
        assert_eq!(json_printed(quiet, script), format!("{expected}\n"));
    }
}

#[test]
fn the_summary_wraps_long_lists() {
    let mut sent = Sent::new(true);
    for n in 1..=8 {
        sent.push(Int::from(n * 111));
    }
    assert_eq!(
        output::text_result(&sent, &Int::from(111), &Int::from(888), 24),
        "numbers sent (8): 111\n  222 333 444 555 666\n  777 888\nmin: 111\nmax: 888\n"
    );
}
