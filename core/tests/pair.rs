//! A `Client` and a `Server` talking over in-memory links (after quinn-proto's `Pair`):
//! every byte crosses a link cut into random chunks, time is simulated, nothing
//! sleeps. Whole sessions, plain and encrypted, with numbers of any size, must end
//! with the client printing the true minimum and maximum (PROTOCOL §3, §5, §7) and
//! the server recording the same row (§6).

use minmax_core::Timestamp;
use minmax_core::client::Wants;
use minmax_core::{
    Client, ClientAction, ClientConfig, ClientEvent, Config, Decoded, Decoder, Effect, Exit, Server,
    Transport,
};
use num_bigint::BigInt;
use proptest::prelude::*;
use std::collections::VecDeque;

/// One direction of a connection: bytes wait here and leave in chunks of the
/// sizes given, cycled.
struct Link {
    bytes: VecDeque<u8>,
    chunk_sizes: Vec<usize>,
    next_chunk: usize,
}

impl Link {
    fn new(chunk_sizes: Vec<usize>) -> Link {
        Link { bytes: VecDeque::new(), chunk_sizes, next_chunk: 0 }
    }

    fn take_chunk(&mut self) -> Option<Vec<u8>> {
        if self.bytes.is_empty() {
            return None;
        }
        let size = self.chunk_sizes[self.next_chunk % self.chunk_sizes.len()].max(1);
        self.next_chunk += 1;
        let size = size.min(self.bytes.len());
        Some(self.bytes.drain(..size).collect())
    }
}

struct Outcome {
    exit: Exit,
    printed: String,
    warnings: String,
    rows: Vec<minmax_core::ReportRow>,
}

/// Runs one whole session: `lines` as the client's input, then end of input.
fn run_pair(
    key: Option<[u8; 16]>,
    lines: &[String],
    to_server: Vec<usize>,
    to_client: Vec<usize>,
) -> Outcome {
    let now = Timestamp::ZERO;
    let mut server = Server::new(Config::default());
    let (conn, connected) = server.handle_connect(now, Transport::Plain);
    assert_eq!(connected.count(), 0);
    let mut client = Client::new(
        ClientConfig {
            client_id: "pair".into(),
            host: "memory".into(),
            port: 1,
            key,
            interactive: false,
            json: false,
            quiet: false,
            width: 80,
            tls: None,
        },
        now,
    );
    let mut up = Link::new(to_server);
    let mut down = Link::new(to_client);
    let mut client_decoder = Decoder::new(u32::MAX);
    let mut input = lines.iter();
    let mut outcome = Outcome {
        exit: Exit::Unavailable,
        printed: String::new(),
        warnings: String::new(),
        rows: Vec::new(),
    };
    let mut events: VecDeque<ClientEvent<'static>> =
        VecDeque::from([ClientEvent::Resolved, ClientEvent::Connected]);
    let mut replies: VecDeque<Vec<u8>> = VecDeque::new();

    for _round in 0..1_000_000 {
        // The client acts on whatever it has.
        let actions = if let Some(event) = events.pop_front() {
            client.step(now, event)
        } else if let Some(reply) = replies.pop_front() {
            client.step(now, ClientEvent::Reply(&reply))
        } else if client.wants() == Wants::Input {
            match input.next() {
                Some(line) => client.step(now, ClientEvent::Input(format!("{line}\n").as_bytes())),
                None => client.step(now, ClientEvent::EndOfInput),
            }
        } else {
            Vec::new()
        };
        for action in actions {
            match action {
                ClientAction::Send(bytes) => up.bytes.extend(bytes),
                ClientAction::Print(text) => outcome.printed.push_str(&text),
                ClientAction::Warn(text) => outcome.warnings.push_str(&text),
                ClientAction::Tell(_) | ClientAction::Prompt | ClientAction::EndPromptLine => {}
            }
        }
        if let Some(exit) = client.exit_status() {
            outcome.exit = exit;
            return outcome;
        }
        // One chunk each way.
        if let Some(chunk) = up.take_chunk() {
            for effect in server.handle_input(now, conn, &chunk) {
                match effect {
                    Effect::Reply { response, .. } => {
                        let mut bytes = Vec::new();
                        response.encode(&mut bytes);
                        down.bytes.extend(bytes);
                    }
                    Effect::Record { row, .. } => outcome.rows.push(row),
                    Effect::Started { .. } | Effect::Ended { .. } => {}
                    Effect::Close { .. } => panic!("the server closed a well-behaved client"),
                    Effect::Claim { .. } | Effect::Release { .. } => panic!("a store effect without a store"),
                }
            }
        }
        if let Some(chunk) = down.take_chunk() {
            let mut bytes = &chunk[..];
            while let Decoded::Frame(frame) = client_decoder.decode(&mut bytes) {
                replies.push_back(frame.to_vec());
            }
        }
    }
    panic!("the session did not finish");
}

/// Numbers as a client types them, with their true values.
fn numbers(encrypted: bool) -> BoxedStrategy<Vec<(String, BigInt)>> {
    let one = if encrypted {
        (-999_999_999_999_999i64..=9_999_999_999_999_999)
            .prop_map(|n| (n.to_string(), BigInt::from(n)))
            .boxed()
    } else {
        prop_oneof![
            any::<i64>().prop_map(|n| (n.to_string(), BigInt::from(n))),
            (any::<bool>(), "[0-9]{1,120}").prop_map(|(negative, digits)| {
                let text = format!("{}{digits}", if negative { "-" } else { "+" });
                let value: BigInt = text.parse().expect("digits");
                (text, value)
            }),
        ]
        .boxed()
    };
    prop::collection::vec(one, 1..40).boxed()
}

/// Lines of 1 to 5 numbers, separated by spaces or commas.
fn lines_of(numbers: &[(String, BigInt)], separators: &[bool]) -> Vec<String> {
    numbers
        .chunks(5)
        .map(|group| {
            let separator = if separators.get(group.len()).copied().unwrap_or(false) { ", " } else { " " };
            group.iter().map(|(text, _)| text.as_str()).collect::<Vec<_>>().join(separator)
        })
        .collect()
}

fn check(outcome: &Outcome, numbers: &[(String, BigInt)]) -> Result<(), TestCaseError> {
    let min = numbers.iter().map(|(_, n)| n).min().expect("at least one number");
    let max = numbers.iter().map(|(_, n)| n).max().expect("at least one number");
    prop_assert_eq!(outcome.exit, Exit::Success, "warnings: {}", outcome.warnings);
    prop_assert!(outcome.warnings.is_empty(), "{}", outcome.warnings);
    let summary_lines: Vec<&str> = outcome.printed.lines().collect();
    prop_assert_eq!(summary_lines[summary_lines.len() - 2], format!("min: {min}"));
    prop_assert_eq!(summary_lines[summary_lines.len() - 1], format!("max: {max}"));
    let listed: Vec<BigInt> = outcome
        .printed
        .trim_start_matches(|c| c != ':')
        .split("\nmin:")
        .next()
        .expect("the list comes first")
        .trim_start_matches(':')
        .split_whitespace()
        .map(|n| n.parse().expect("the list holds integers"))
        .collect();
    let sent: Vec<BigInt> = numbers.iter().map(|(_, n)| n.clone()).collect();
    prop_assert_eq!(listed, sent, "the summary lists every number sent, in order");
    prop_assert_eq!(outcome.rows.len(), 1);
    let row = &outcome.rows[0];
    prop_assert_eq!(&*row.client_id, "pair");
    prop_assert_eq!(row.count, numbers.len() as u64);
    prop_assert_eq!(row.min.to_string(), min.to_string());
    prop_assert_eq!(row.max.to_string(), max.to_string());
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(500)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn plain_sessions_end_with_the_true_min_and_max(
        numbers in numbers(false),
        separators in prop::collection::vec(any::<bool>(), 6),
        to_server in prop::collection::vec(1usize..64, 1..8),
        to_client in prop::collection::vec(1usize..64, 1..8),
    ) {
        let outcome = run_pair(None, &lines_of(&numbers, &separators), to_server, to_client);
        check(&outcome, &numbers)?;
    }

    #[test]
    fn encrypted_sessions_end_with_the_true_min_and_max(
        key in any::<[u8; 16]>(),
        numbers in numbers(true),
        separators in prop::collection::vec(any::<bool>(), 6),
        to_server in prop::collection::vec(1usize..64, 1..8),
        to_client in prop::collection::vec(1usize..64, 1..8),
    ) {
        let outcome = run_pair(Some(key), &lines_of(&numbers, &separators), to_server, to_client);
        check(&outcome, &numbers)?;
    }
}

#[test]
fn a_session_with_numbers_at_the_digit_limit_is_exact() {
    let biggest = "9".repeat(4300);
    let smallest = format!("-{biggest}");
    let numbers: Vec<(String, BigInt)> = [biggest.clone(), "0".into(), smallest.clone()]
        .into_iter()
        .map(|text| {
            let value = text.parse().expect("digits");
            (text, value)
        })
        .collect();
    let lines = vec![numbers.iter().map(|(text, _)| text.as_str()).collect::<Vec<_>>().join(" ")];
    let outcome = run_pair(None, &lines, vec![7, 1000, 3], vec![2, 500]);
    check(&outcome, &numbers).expect("the session is exact");
}
