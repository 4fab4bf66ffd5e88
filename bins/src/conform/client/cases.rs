//! The client cases. Each id names its PROTOCOL section; frames are compared with the
//! literal bytes json.dumps writes, encrypted numbers with the key the client sent.

use super::{Ctx, Launch, case, encrypted};
use crate::conform::model::Level::{Ext, Seed};
use crate::conform::model::{Finding, Step};
use rustix::process::Signal;

const START_ANTON: &str = r#"{"op": "START", "client_id": "anton", "cipher": null}"#;
const START_OK: &str = r#"{"op": "START", "status": true}"#;
const NUMBER_OK: &str = r#"{"op": "NUMBER", "status": true}"#;
const QUIT_OK: &str = r#"{"op": "QUIT", "status": true}"#;
const STOP: &str = r#"{"op": "STOP"}"#;
const QUIT: &str = r#"{"op": "QUIT"}"#;

/// Every client case, in section order.
pub static CASES: &[super::Case] = &[
    // §1 Framing.
    case(
        "client/1/reply-split-across-writes",
        Seed,
        "replies arriving one byte per write are read whole",
        "stdin: 5, stop\n< START_OK, NUMBER_OK and the STOP reply each sent one byte per write\nexit code 0; stdout shows 5 and the min and max",
        reply_split,
    ),
    case(
        "client/1/compact-replies-accepted",
        Seed,
        "replies without spaces (any valid JSON) are understood",
        "stdin: 5, -3, stop\n< {\"op\":\"START\",\"status\":true} ... {\"op\":\"STOP\",\"status\":true,\"min\":-3,\"max\":5}\nexit code 0; stdout shows -3 and 5",
        compact_replies,
    ),
    case(
        "client/1/non-ascii-id-escaped",
        Seed,
        "a non-ASCII id is sent \\u-escaped, as json.dumps writes it",
        "client id Zé\n> {\"op\": \"START\", \"client_id\": \"Z\\u00e9\", \"cipher\": null}",
        non_ascii_id,
    ),
    case(
        "client/1/id-quotes-and-spaces-escaped",
        Seed,
        "an id with a space and quotes is sent escaped",
        "client id Ana \"A\"\n> {\"op\": \"START\", \"client_id\": \"Ana \\\"A\\\"\", \"cipher\": null}",
        quoted_id,
    ),
    case(
        "client/1/frames-exactly-json-dumps",
        Ext,
        "every frame is byte for byte what json.dumps writes",
        "stdin: 5, -3, stop\n> {\"op\": \"START\", \"client_id\": \"anton\", \"cipher\": null}  > {\"op\": \"NUMBER\", \"number\": 5}  > {\"op\": \"NUMBER\", \"number\": -3}  > {\"op\": \"STOP\"}, each byte for byte",
        exact_frames,
    ),
    // §3 Requests.
    case(
        "client/3/start-frame",
        Seed,
        "the session opens with START carrying the id from the command line",
        "> {\"op\": \"START\", \"client_id\": \"anton\", \"cipher\": null}\n(at the seed level also {\"op\": \"START\", \"client_id\": \"anton\"}, or a key when the client encrypts)",
        start_frame,
    ),
    case(
        "client/3/start-sends-cipher-null",
        Ext,
        "a plain START carries \"cipher\": null (deployed servers crash without it)",
        "> {\"op\": \"START\", \"client_id\": \"anton\", \"cipher\": null}, byte for byte",
        start_cipher_null,
    ),
    case(
        "client/3/number-frames",
        Seed,
        "each number typed is sent as NUMBER with a JSON integer",
        "stdin: 5, 12, 7, stop\n> {\"op\": \"NUMBER\", \"number\": 5}  > {\"op\": \"NUMBER\", \"number\": 12}  > {\"op\": \"NUMBER\", \"number\": 7}",
        number_frames,
    ),
    case(
        "client/3/negative-numbers",
        Seed,
        "negative numbers are sent, not refused",
        "stdin: -3, -10, stop\n> {\"op\": \"NUMBER\", \"number\": -3}  > {\"op\": \"NUMBER\", \"number\": -10}\nstdout shows -10 and -3",
        negative_numbers,
    ),
    case(
        "client/3/stop-frame",
        Seed,
        "the stop word sends STOP",
        "stdin: 42, stop\n> {\"op\": \"NUMBER\", \"number\": 42}  > {\"op\": \"STOP\"}",
        stop_frame,
    ),
    case(
        "client/3/quit-frame",
        Seed,
        "the quit word sends QUIT",
        "stdin: 5, quit\n> {\"op\": \"NUMBER\", \"number\": 5}  > {\"op\": \"QUIT\"}",
        quit_frame,
    ),
    // §5 Numbers and encryption.
    case(
        "client/5/beyond-64-bits",
        Seed,
        "integers beyond 64 bits are sent and printed exactly",
        "stdin: 100000000000000000000, -18446744073709551617, stop\n> {\"op\": \"NUMBER\", \"number\": 100000000000000000000}  > {\"op\": \"NUMBER\", \"number\": -18446744073709551617}\nstdout shows both, exactly",
        beyond_64_bits,
    ),
    case(
        "client/5/plus-sign",
        Ext,
        "+7 is the integer 7",
        "stdin: +7, stop\n> {\"op\": \"NUMBER\", \"number\": 7}",
        plus_sign,
    ),
    encrypted(
        "client/5/encrypted-start-key",
        Seed,
        "an encrypted START carries the base64 of a 16-byte key",
        "> {\"op\": \"START\", \"client_id\": \"anton\", \"cipher\": \"<base64 of 16, 24 or 32 bytes>\"}",
        encrypted_start,
    ),
    encrypted(
        "client/5/encrypted-numbers",
        Seed,
        "numbers travel as base64(AES-ECB(key, \"%16d\"))",
        "stdin: 5, -3, 12, stop\n> {\"op\": \"NUMBER\", \"number\": \"<base64(AES-ECB(key, '               5'))>\"} ... each under the key sent",
        encrypted_numbers,
    ),
    encrypted(
        "client/5/decrypts-min-max",
        Seed,
        "the encrypted min and max of the STOP reply are decrypted and printed",
        "stdin: 5, -3, 12, stop\n< {\"op\": \"STOP\", \"status\": true, \"min\": \"<-7 encrypted>\", \"max\": \"<99 encrypted>\"}\nstdout shows -7 and 99",
        decrypts_min_max,
    ),
    encrypted(
        "client/5/encrypted-extremes",
        Seed,
        "the largest and smallest %16d integers are encrypted",
        "stdin: 9999999999999999, -999999999999999, stop\n> each encrypted under the key sent",
        encrypted_extremes,
    ),
    encrypted(
        "client/5/fresh-key-per-run",
        Seed,
        "each run draws a new random key",
        "two runs: the two START frames carry different keys",
        fresh_key,
    ),
    encrypted(
        "client/5/refuses-unencryptable",
        Ext,
        "a number outside the %16d range is never sent encrypted",
        "stdin: 10000000000000000\n> {\"op\": \"QUIT\"} (no NUMBER)\nexit code 2",
        refuses_unencryptable,
    ),
    encrypted(
        "client/5/accepts-plain-min-max",
        Ext,
        "a STOP reply with plain integers in an encrypted session is understood",
        "< {\"op\": \"STOP\", \"status\": true, \"min\": -3, \"max\": 12}\nexit code 0; stdout shows -3 and 12",
        plain_min_max,
    ),
    // §7 Command line, output and exit codes.
    case(
        "client/7/prints-numbers-and-min-max",
        Seed,
        "after STOP the numbers sent and the min and max are printed",
        "stdin: 5, -3, 12, stop\n< {\"op\": \"STOP\", \"status\": true, \"min\": -3, \"max\": 12}\nexit code 0; stdout shows 5 -3 12, and -3 and 12",
        prints_numbers,
    ),
    case(
        "client/7/prints-min-max-from-server",
        Seed,
        "the min and max printed are the server's, not computed locally",
        "stdin: 5, -3, 12, stop\n< {\"op\": \"STOP\", \"status\": true, \"min\": -7, \"max\": 99}\nstdout shows -7 and 99",
        server_min_max,
    ),
    case(
        "client/7/success-exit-0",
        Seed,
        "a session that stops normally exits with code 0",
        "stdin: 1, 2, stop\nexit code 0",
        success,
    ),
    case(
        "client/7/no-arguments-exit-1",
        Seed,
        "no arguments is exit code 1",
        "the command without {id} {port} {host}: exit code 1, no connection",
        no_arguments,
    ),
    case(
        "client/7/too-many-arguments-exit-1",
        Seed,
        "one argument too many is exit code 1",
        "the command with one more word `extra`: exit code 1",
        too_many_arguments,
    ),
    case(
        "client/7/port-not-a-number-exit-2",
        Seed,
        "a port that is not a number is exit code 2",
        "{port} = abc: exit code 2",
        port_not_a_number,
    ),
    case(
        "client/7/port-out-of-range-exit-2",
        Seed,
        "a port above 65535 is exit code 2",
        "{port} = 70000: exit code 2",
        port_out_of_range,
    ),
    case(
        "client/7/invalid-host-exit-2",
        Seed,
        "a host that is not X.X.X.X with X in 0-255 is exit code 2",
        "{host} = 256.1.1.1: exit code 2",
        invalid_host,
    ),
    case(
        "client/7/start-refused-exit-3",
        Seed,
        "a refused START is exit code 3",
        "< {\"op\": \"START\", \"status\": false, \"error\": \"Cliente existente\"}\nexit code 3",
        start_refused,
    ),
    case(
        "client/7/prints-server-error",
        Seed,
        "a refusal prints the server's error",
        "< {\"op\": \"START\", \"status\": false, \"error\": \"Cliente existente\"}\nthe output holds Cliente existente",
        prints_error,
    ),
    case(
        "client/7/number-refused-exit-3",
        Seed,
        "a refused NUMBER is exit code 3",
        "stdin: 5, stop\n> NUMBER 5 < {\"op\": \"NUMBER\", \"status\": false, \"error\": \"Cliente inexistente\"}\nexit code 3",
        number_refused,
    ),
    case(
        "client/7/stop-refused-exit-3",
        Seed,
        "STOP with no number is refused by the server: exit code 3",
        "stdin: stop\n> {\"op\": \"STOP\"} < {\"op\": \"STOP\", \"status\": false, \"error\": \"Dados insuficientes\"}\nexit code 3",
        stop_refused,
    ),
    case(
        "client/7/quit-exit-4",
        Seed,
        "quitting is exit code 4",
        "stdin: 5, quit\n> {\"op\": \"QUIT\"} < {\"op\": \"QUIT\", \"status\": true}\nexit code 4",
        quit_exit,
    ),
    case(
        "client/7/interrupt-sends-quit",
        Seed,
        "Ctrl-C (SIGINT) at the prompt sends QUIT, then exit code 4",
        "stdin: 5; once the client waits for input again, SIGINT to its process group\n> {\"op\": \"QUIT\"} < {\"op\": \"QUIT\", \"status\": true}\nexit code 4",
        interrupt,
    ),
    case(
        "client/7/default-host-localhost",
        Seed,
        "without a host the client connects to localhost",
        "the command without {host}: a session on localhost, exit code 0",
        default_host,
    ),
    case(
        "client/7/host-name",
        Seed,
        "a DNS name as host works",
        "{host} = localhost: a session, exit code 0",
        host_name,
    ),
    case(
        "client/7/sigterm-sends-quit",
        Ext,
        "SIGTERM sends QUIT, then exit code 4",
        "stdin: 5; SIGTERM when it waits for input\n> {\"op\": \"QUIT\"}\nexit code 4",
        sigterm,
    ),
    case(
        "client/7/end-of-input-is-stop",
        Ext,
        "the end of the input sends STOP",
        "stdin: 5 then end of input\n> {\"op\": \"STOP\"}\nexit code 0",
        end_of_input,
    ),
    case(
        "client/7/words-case-insensitive",
        Ext,
        "Stop and S are the stop word",
        "stdin: 5, Stop\n> {\"op\": \"STOP\"}",
        words_case_insensitive,
    ),
    case(
        "client/7/several-numbers-per-line",
        Ext,
        "numbers separated by spaces or commas on one line",
        "stdin: `5 -3, 12`, stop\n> NUMBER 5, NUMBER -3, NUMBER 12",
        several_per_line,
    ),
    case(
        "client/7/invalid-token-exit-2",
        Ext,
        "an invalid piped item quits the session: exit code 2",
        "stdin: 5, abc\n> NUMBER 5, then {\"op\": \"QUIT\"}\nexit code 2",
        invalid_token,
    ),
    case(
        "client/7/invalid-id-exit-2",
        Ext,
        "an id the server would refuse (=cmd) is exit code 2 before connecting",
        "{id} = =cmd: exit code 2, no connection",
        invalid_id,
    ),
    case(
        "client/7/unreachable-exit-5",
        Ext,
        "a server that cannot be reached is exit code 5",
        "{port} = a port nobody listens on: exit code 5",
        unreachable,
    ),
    case(
        "client/7/connection-lost-exit-5",
        Ext,
        "a server that closes the connection mid-session is exit code 5",
        "stdin: 5, stop\n< START_OK, then the server closes the connection\nexit code 5",
        connection_lost,
    ),
    case(
        "client/7/accepts-minimum-maximum",
        Ext,
        "a STOP reply with minimum/maximum (deployed servers) is understood",
        "< {\"op\": \"STOP\", \"status\": true, \"minimum\": -3, \"maximum\": 12}\nexit code 0; stdout shows -3 and 12",
        minimum_maximum,
    ),
    case(
        "client/7/ipv6-host",
        Ext,
        "an IPv6 literal as host works",
        "{host} = ::1: a session, exit code 0",
        ipv6_host,
    ),
];

fn lines(ctx: &Ctx, items: &[&str], stop: bool) -> Vec<String> {
    let mut lines: Vec<String> = items.iter().map(|item| item.to_string()).collect();
    if stop {
        lines.push(ctx.stop_word());
    }
    lines
}

/// Launches with `items` (then the stop word) and answers START.
fn opened(ctx: &mut Ctx, items: &[&str], stop: bool) -> Step {
    let lines = lines(ctx, items, stop);
    ctx.launch(Launch { lines, ..Launch::default() })?;
    ctx.accept()?;
    ctx.expect_start(START_ANTON)?;
    ctx.reply(START_OK)
}

fn reply_split(ctx: &mut Ctx) -> Step {
    let lines = lines(ctx, &["5"], true);
    ctx.launch(Launch { lines, ..Launch::default() })?;
    ctx.accept()?;
    ctx.expect_start(START_ANTON)?;
    ctx.reply_dribbled(START_OK)?;
    ctx.expect_number("5")?;
    ctx.reply_dribbled(NUMBER_OK)?;
    ctx.expect_frame(STOP)?;
    let reply = ctx.stop_reply("5", "5");
    ctx.reply_dribbled(&reply)?;
    ctx.expect_exit(0)?;
    ctx.expect_printed(&["5"], "the number and the min and max")
}

fn compact_replies(ctx: &mut Ctx) -> Step {
    let lines = lines(ctx, &["5", "-3"], true);
    ctx.launch(Launch { lines, ..Launch::default() })?;
    ctx.accept()?;
    ctx.expect_start(START_ANTON)?;
    ctx.reply(r#"{"op":"START","status":true}"#)?;
    for number in ["5", "-3"] {
        ctx.expect_number(number)?;
        ctx.reply(r#"{"op":"NUMBER","status":true}"#)?;
    }
    ctx.expect_frame(STOP)?;
    let reply = ctx.stop_reply("-3", "5").replace(": ", ":").replace(", ", ",");
    ctx.reply(&reply)?;
    ctx.expect_exit(0)?;
    ctx.expect_printed(&["-3", "5"], "the min and max")
}

fn non_ascii_id(ctx: &mut Ctx) -> Step {
    ctx.session("Zé", r#"{"op": "START", "client_id": "Z\u00e9", "cipher": null}"#, &["1"], "1", "1")
}

fn quoted_id(ctx: &mut Ctx) -> Step {
    ctx.session("Ana \"A\"", r#"{"op": "START", "client_id": "Ana \"A\"", "cipher": null}"#, &["1"], "1", "1")
}

fn exact_frames(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5", "-3"], "-3", "5")
}

fn start_frame(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5"], "5", "5")
}

fn start_cipher_null(ctx: &mut Ctx) -> Step {
    let lines = lines(ctx, &["5"], true);
    ctx.launch(Launch { lines, ..Launch::default() })?;
    ctx.accept()?;
    ctx.expect_start(START_ANTON)?;
    if ctx.is_encrypted() {
        return Err(Finding::Unsupported("the client always encrypts: there is no plain START".into()));
    }
    Ok(())
}

fn number_frames(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5", "12", "7"], "5", "12")
}

fn negative_numbers(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["-3", "-10"], "-10", "-3")
}

fn stop_frame(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["42"], "42", "42")
}

fn quit_frame(ctx: &mut Ctx) -> Step {
    let quit = ctx.quit_word();
    opened(ctx, &["5", quit.as_str()], false)?;
    ctx.expect_number("5")?;
    ctx.reply(NUMBER_OK)?;
    ctx.expect_frame(QUIT)?;
    ctx.reply(QUIT_OK)
}

fn beyond_64_bits(ctx: &mut Ctx) -> Step {
    let (big, small) = ("100000000000000000000", "-18446744073709551617");
    ctx.session("anton", START_ANTON, &[big, small], small, big)
}

fn plus_sign(ctx: &mut Ctx) -> Step {
    opened(ctx, &["+7"], true)?;
    ctx.expect_number("7")?;
    ctx.reply(NUMBER_OK)?;
    ctx.expect_frame(STOP)?;
    let reply = ctx.stop_reply("7", "7");
    ctx.reply(&reply)?;
    ctx.expect_exit(0)
}

fn encrypted_start(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5"], "5", "5")
}

fn encrypted_numbers(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5", "-3", "12"], "-3", "12")
}

fn decrypts_min_max(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5", "-3", "12"], "-7", "99")
}

fn encrypted_extremes(ctx: &mut Ctx) -> Step {
    let (max, min) = ("9999999999999999", "-999999999999999");
    ctx.session("anton", START_ANTON, &[max, min], min, max)
}

fn fresh_key(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5"], "5", "5")?;
    let first = ctx.key_text.clone();
    ctx.session("anton", START_ANTON, &["5"], "5", "5")?;
    if first == ctx.key_text {
        return Err(Finding::fail("two runs, two different keys", format!("the same key twice: {first:?}")));
    }
    Ok(())
}

fn refuses_unencryptable(ctx: &mut Ctx) -> Step {
    opened(ctx, &["10000000000000000"], false)?;
    ctx.expect_frame(QUIT)?;
    ctx.reply(QUIT_OK)?;
    ctx.expect_exit(2)
}

fn plain_min_max(ctx: &mut Ctx) -> Step {
    opened(ctx, &["5", "-3", "12"], true)?;
    for number in ["5", "-3", "12"] {
        ctx.expect_number(number)?;
        ctx.reply(NUMBER_OK)?;
    }
    ctx.expect_frame(STOP)?;
    ctx.reply(r#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#)?;
    ctx.expect_exit(0)?;
    ctx.expect_printed(&["-3", "12"], "the min and max")
}

fn prints_numbers(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5", "-3", "12"], "-3", "12")
}

fn server_min_max(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["5", "-3", "12"], "-7", "99")
}

fn success(ctx: &mut Ctx) -> Step {
    ctx.session("anton", START_ANTON, &["1", "2"], "1", "2")
}

fn no_arguments(ctx: &mut Ctx) -> Step {
    ctx.launch(Launch { id: None, port: Some(None), host: None, ..Launch::default() })?;
    ctx.expect_exit(1)
}

fn too_many_arguments(ctx: &mut Ctx) -> Step {
    ctx.launch(Launch { extra: &["extra"], ..Launch::default() })?;
    ctx.expect_exit(1)
}

fn port_not_a_number(ctx: &mut Ctx) -> Step {
    ctx.launch(Launch { port: Some(Some("abc")), ..Launch::default() })?;
    ctx.expect_exit(2)
}

fn port_out_of_range(ctx: &mut Ctx) -> Step {
    ctx.launch(Launch { port: Some(Some("70000")), ..Launch::default() })?;
    ctx.expect_exit(2)
}

fn invalid_host(ctx: &mut Ctx) -> Step {
    ctx.launch(Launch { host: Some("256.1.1.1"), ..Launch::default() })?;
    ctx.expect_exit(2)
}

fn refused_start(ctx: &mut Ctx) -> Step {
    let lines = lines(ctx, &["5"], true);
    ctx.launch(Launch { lines, ..Launch::default() })?;
    ctx.accept()?;
    ctx.expect_start(START_ANTON)?;
    ctx.reply(r#"{"op": "START", "status": false, "error": "Cliente existente"}"#)
}

fn start_refused(ctx: &mut Ctx) -> Step {
    refused_start(ctx)?;
    ctx.expect_exit(3)
}

fn prints_error(ctx: &mut Ctx) -> Step {
    refused_start(ctx)?;
    let _ = ctx.wait_exit()?;
    let output = ctx.all_output();
    if output.contains("Cliente existente") {
        Ok(())
    } else {
        Err(Finding::fail(
            "the output holds the server's error: Cliente existente",
            format!("{:?}", crate::conform::json::shorten(&output, 300)),
        ))
    }
}

fn number_refused(ctx: &mut Ctx) -> Step {
    opened(ctx, &["5"], true)?;
    ctx.expect_number("5")?;
    ctx.reply(r#"{"op": "NUMBER", "status": false, "error": "Cliente inexistente"}"#)?;
    ctx.expect_exit(3)
}

fn stop_refused(ctx: &mut Ctx) -> Step {
    opened(ctx, &[], true)?;
    ctx.expect_frame(STOP)?;
    ctx.reply(r#"{"op": "STOP", "status": false, "error": "Dados insuficientes"}"#)?;
    ctx.expect_exit(3)
}

fn quit_exit(ctx: &mut Ctx) -> Step {
    quit_frame(ctx)?;
    ctx.expect_exit(4)
}

fn interrupted_by(ctx: &mut Ctx, signal: Signal, name: &str) -> Step {
    opened(ctx, &["5"], false)?;
    ctx.expect_number("5")?;
    ctx.reply(NUMBER_OK)?;
    ctx.wait_for_prompt()?;
    ctx.signal(signal, name);
    ctx.expect_frame(QUIT)?;
    ctx.reply(QUIT_OK)?;
    ctx.expect_exit(4)
}

fn interrupt(ctx: &mut Ctx) -> Step {
    interrupted_by(ctx, Signal::INT, "SIGINT")
}

fn sigterm(ctx: &mut Ctx) -> Step {
    interrupted_by(ctx, Signal::TERM, "SIGTERM")
}

fn session_with_host(ctx: &mut Ctx, host: Option<&str>) -> Step {
    let lines = lines(ctx, &["5"], true);
    ctx.launch(Launch { host, lines, ..Launch::default() })?;
    ctx.accept()?;
    ctx.expect_start(START_ANTON)?;
    ctx.reply(START_OK)?;
    ctx.expect_number("5")?;
    ctx.reply(NUMBER_OK)?;
    ctx.expect_frame(STOP)?;
    let reply = ctx.stop_reply("5", "5");
    ctx.reply(&reply)?;
    ctx.expect_exit(0)
}

fn default_host(ctx: &mut Ctx) -> Step {
    session_with_host(ctx, None)
}

fn host_name(ctx: &mut Ctx) -> Step {
    session_with_host(ctx, Some("localhost"))
}

fn ipv6_host(ctx: &mut Ctx) -> Step {
    session_with_host(ctx, Some("::1"))
}

fn end_of_input(ctx: &mut Ctx) -> Step {
    ctx.launch(Launch { lines: vec!["5".into()], eof: true, ..Launch::default() })?;
    ctx.accept()?;
    ctx.expect_start(START_ANTON)?;
    ctx.reply(START_OK)?;
    ctx.expect_number("5")?;
    ctx.reply(NUMBER_OK)?;
    ctx.expect_frame(STOP)?;
    let reply = ctx.stop_reply("5", "5");
    ctx.reply(&reply)?;
    ctx.expect_exit(0)
}

fn words_case_insensitive(ctx: &mut Ctx) -> Step {
    opened(ctx, &["5", "Stop"], false)?;
    ctx.expect_number("5")?;
    ctx.reply(NUMBER_OK)?;
    ctx.expect_frame(STOP)?;
    let reply = ctx.stop_reply("5", "5");
    ctx.reply(&reply)?;
    ctx.expect_exit(0)
}

fn several_per_line(ctx: &mut Ctx) -> Step {
    opened(ctx, &["5 -3, 12"], true)?;
    for number in ["5", "-3", "12"] {
        ctx.expect_number(number)?;
        ctx.reply(NUMBER_OK)?;
    }
    ctx.expect_frame(STOP)?;
    let reply = ctx.stop_reply("-3", "12");
    ctx.reply(&reply)?;
    ctx.expect_exit(0)
}

fn invalid_token(ctx: &mut Ctx) -> Step {
    opened(ctx, &["5", "abc"], false)?;
    ctx.expect_number("5")?;
    ctx.reply(NUMBER_OK)?;
    ctx.expect_frame(QUIT)?;
    ctx.reply(QUIT_OK)?;
    ctx.expect_exit(2)
}

fn invalid_id(ctx: &mut Ctx) -> Step {
    ctx.launch(Launch { id: Some("=cmd"), ..Launch::default() })?;
    ctx.expect_exit(2)
}

fn unreachable(ctx: &mut Ctx) -> Step {
    let port = crate::conform::process::free_port()
        .map_err(|error| Finding::Closed(format!("no free port: {error}")))?
        .to_string();
    ctx.launch(Launch { port: Some(Some(&port)), ..Launch::default() })?;
    ctx.expect_exit(5)
}

fn connection_lost(ctx: &mut Ctx) -> Step {
    opened(ctx, &["5"], true)?;
    ctx.hang_up();
    ctx.expect_exit(5)
}

fn minimum_maximum(ctx: &mut Ctx) -> Step {
    opened(ctx, &["5", "-3", "12"], true)?;
    for number in ["5", "-3", "12"] {
        ctx.expect_number(number)?;
        ctx.reply(NUMBER_OK)?;
    }
    ctx.expect_frame(STOP)?;
    ctx.reply(r#"{"op": "STOP", "status": true, "minimum": -3, "maximum": 12}"#)?;
    ctx.expect_exit(0)?;
    ctx.expect_printed(&["-3", "12"], "the min and max")
}
