//! PROTOCOL §1, §3, §4 and §5 over a real socket against the real `minmax-server`:
//! every request row and every error, reply bytes compared exactly, pipelining,
//! dribbled frames and hostile frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, frame, report_rows};
use minmax_core::Cipher;
use std::io::Write;

const START_OK: &str = r#"{"op": "START", "status": true}"#;
const NUMBER_OK: &str = r#"{"op": "NUMBER", "status": true}"#;
const QUIT_OK: &str = r#"{"op": "QUIT", "status": true}"#;

fn error(op: &str, escaped_error: &str) -> String {
    format!(r#"{{"op": {op}, "status": false, "error": "{escaped_error}"}}"#)
}

// The §4 strings as json.dumps escapes them.
const NOT_FOUND: &str = "Cliente inexistente";
const EXISTS: &str = "Cliente existente";
const NO_DATA: &str = "Dados insuficientes";
const INVALID_MESSAGE: &str = r"Mensagem inv\u00e1lida";
const UNKNOWN_OP: &str = r"Opera\u00e7\u00e3o desconhecida";
const ALREADY_STARTED: &str = r"Sess\u00e3o j\u00e1 iniciada";
const INVALID_ID: &str = r"Identificador inv\u00e1lido";
const INVALID_KEY: &str = r"Chave inv\u00e1lida";
const INVALID_NUMBER: &str = r"N\u00famero inv\u00e1lido";
const CIPHER_REQUIRED: &str = r"Cifra obrigat\u00f3ria";

#[test]
fn section_3_requests_without_a_session_are_refused() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    assert_eq!(conn.request(r#"{"op": "NUMBER", "number": 1}"#), error(r#""NUMBER""#, NOT_FOUND));
    assert_eq!(conn.request(r#"{"op": "STOP"}"#), error(r#""STOP""#, NOT_FOUND));
    assert_eq!(conn.request(r#"{"op": "QUIT"}"#), error(r#""QUIT""#, NOT_FOUND));
}

#[test]
fn section_3_a_whole_session_is_answered_and_recorded() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    assert_eq!(conn.request(r#"{"op": "START", "client_id": "anton", "cipher": null}"#), START_OK);
    assert_eq!(
        conn.request(r#"{"op": "START", "client_id": "anton"}"#),
        error(r#""START""#, ALREADY_STARTED)
    );
    for number in ["5", "-3", "12", r#"" 7 ""#] {
        assert_eq!(conn.request(&format!(r#"{{"op": "NUMBER", "number": {number}}}"#)), NUMBER_OK);
    }
    assert_eq!(conn.request(r#"{"op": "STOP"}"#), r#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#);
    assert_eq!(report_rows(&server.report()), vec![["anton", "4", "-3", "12"].map(String::from)]);
    // STOP ended the session: the connection may start again.
    assert_eq!(conn.request(r#"{"op": "STOP"}"#), error(r#""STOP""#, NOT_FOUND));
    assert_eq!(conn.request(r#"{"op": "START", "client_id": "anton"}"#), START_OK);
}

#[test]
fn section_5_integers_of_any_size_are_exact() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    let two_to_200 = "1606938044258990275541962092341162602522202993782792835301376";
    let minus_ten_to_4300 = format!("-1{}", "0".repeat(4300));
    let reply = conn.session("big", &[two_to_200, "0", &minus_ten_to_4300[..4301], "-0"]);
    let expected_min = &minus_ten_to_4300[..4301];
    assert_eq!(
        reply,
        format!(r#"{{"op": "STOP", "status": true, "min": {expected_min}, "max": {two_to_200}}}"#)
    );
    assert_eq!(report_rows(&server.report())[0], ["big", "4", expected_min, two_to_200].map(String::from));
    // 4 301 digits is one too many.
    conn.request(r#"{"op": "START", "client_id": "big"}"#);
    let too_long = format!(r#"{{"op": "NUMBER", "number": {minus_ten_to_4300}}}"#);
    assert_eq!(conn.request(&too_long), error(r#""NUMBER""#, INVALID_NUMBER));
}

#[test]
fn section_3_stop_without_numbers_ends_the_session_and_records_nothing() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    assert_eq!(conn.request(r#"{"op": "START", "client_id": "empty"}"#), START_OK);
    assert_eq!(conn.request(r#"{"op": "STOP"}"#), error(r#""STOP""#, NO_DATA));
    assert_eq!(conn.request(r#"{"op": "QUIT"}"#), error(r#""QUIT""#, NOT_FOUND));
    assert!(report_rows(&server.report()).is_empty());
}

#[test]
fn section_3_quit_abandons_the_session() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    assert_eq!(conn.session("q", &["1"]), r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"#);
    assert_eq!(conn.request(r#"{"op": "START", "client_id": "q"}"#), START_OK);
    assert_eq!(conn.request(r#"{"op": "NUMBER", "number": 2}"#), NUMBER_OK);
    assert_eq!(conn.request(r#"{"op": "QUIT"}"#), QUIT_OK);
    assert_eq!(conn.request(r#"{"op": "NUMBER", "number": 3}"#), error(r#""NUMBER""#, NOT_FOUND));
    assert_eq!(report_rows(&server.report()).len(), 1, "QUIT records nothing");
}

#[test]
fn section_4_unacceptable_client_ids() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    let long = format!(r#""{}""#, "x".repeat(65));
    for id in [
        None,
        Some("5"),
        Some("null"),
        Some(r#""""#),
        Some(r#""=1+1""#),
        Some(r#""+1""#),
        Some(r#""-x""#),
        Some(r#""@x""#),
        Some(r#""a\tb""#),
        Some(r#""a\nb""#),
        Some(long.as_str()),
    ] {
        let request = match id {
            Some(id) => format!(r#"{{"op": "START", "client_id": {id}}}"#),
            None => r#"{"op": "START"}"#.to_string(),
        };
        assert_eq!(conn.request(&request), error(r#""START""#, INVALID_ID), "{request}");
    }
    let sixty_four = format!(r#"{{"op": "START", "client_id": "{}"}}"#, "é".repeat(32));
    assert_eq!(conn.request(&sixty_four), START_OK, "64 bytes of UTF-8 is the limit");
}

#[test]
fn section_4_unacceptable_keys() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    for key in [r#""AAAA""#, r#""not base64!""#, r#""AAAAAAAAAAAAAAAAAAAAAA""#, "16", "true", "[]"] {
        let request = format!(r#"{{"op": "START", "client_id": "k", "cipher": {key}}}"#);
        assert_eq!(conn.request(&request), error(r#""START""#, INVALID_KEY), "{request}");
    }
    assert_eq!(
        conn.request(r#"{"op": "START", "client_id": "k", "cipher": ""}"#),
        START_OK,
        "\"\" is plain mode"
    );
}

#[test]
fn section_4_checks_run_in_order() {
    let server = Server::start(&[]);
    let mut holder = server.connect();
    assert_eq!(holder.request(r#"{"op": "START", "client_id": "taken"}"#), START_OK);
    let mut conn = server.connect();
    // The id is checked before the key, the key before uniqueness.
    assert_eq!(
        conn.request(r#"{"op": "START", "client_id": "", "cipher": 5}"#),
        error(r#""START""#, INVALID_ID)
    );
    assert_eq!(
        conn.request(r#"{"op": "START", "client_id": "taken", "cipher": 5}"#),
        error(r#""START""#, INVALID_KEY)
    );
    assert_eq!(conn.request(r#"{"op": "START", "client_id": "taken"}"#), error(r#""START""#, EXISTS));
    // Session state comes before fields.
    assert_eq!(holder.request(r#"{"op": "START", "client_id": ""}"#), error(r#""START""#, ALREADY_STARTED));
    assert_eq!(conn.request(r#"{"op": "NUMBER", "number": "junk"}"#), error(r#""NUMBER""#, NOT_FOUND));
    // The op comes before the session.
    assert_eq!(conn.request(r#"{"op": "NUMBR"}"#), error(r#""NUMBR""#, UNKNOWN_OP));
}

#[test]
fn section_4_invalid_numbers() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    assert_eq!(conn.request(r#"{"op": "START", "client_id": "n"}"#), START_OK);
    for number in
        ["1.0", "1e3", "1E400", "-0.0", "true", "null", "[1]", "{}", r#""abc""#, r#""1.5""#, r#""""#]
    {
        let request = format!(r#"{{"op": "NUMBER", "number": {number}}}"#);
        assert_eq!(conn.request(&request), error(r#""NUMBER""#, INVALID_NUMBER), "{request}");
    }
    assert_eq!(conn.request(r#"{"op": "NUMBER"}"#), error(r#""NUMBER""#, INVALID_NUMBER));
    // Failed NUMBERs changed nothing.
    assert_eq!(conn.request(r#"{"op": "STOP"}"#), error(r#""STOP""#, NO_DATA));
}

#[test]
fn section_4_invalid_frames_are_answered_and_the_connection_stays_usable() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    let invalid = error("null", INVALID_MESSAGE);
    for payload in [
        &b"not json"[..],
        b"[1, 2]",
        b"\"START\"",
        b"{}",
        b"{\"op\": null}",
        b"{\"op\": 5}",
        b"",
        b"\xff\xfe{}",
        b"{\"op\": \"QUIT\", \"x\": \"\xc3\"}",
    ] {
        conn.send_raw(&frame(payload));
        assert_eq!(conn.recv(), invalid, "{}", String::from_utf8_lossy(payload));
    }
    assert_eq!(conn.request(r#"{"op": "Opera\u00e7\u00e3o"}"#), error(r#""Opera\u00e7\u00e3o""#, UNKNOWN_OP));
    assert_eq!(conn.session("still-usable", &["1"]), r#"{"op": "STOP", "status": true, "min": 1, "max": 1}"#);
    server.wait_for_log("invalid frame");
}

#[test]
fn section_5_encrypted_sessions_use_the_aes_scheme() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    let key = [0x2a_u8; 16];
    let cipher = Cipher::from_key(&key).unwrap();
    let start = format!(
        r#"{{"op": "START", "client_id": "manel", "cipher": "{}"}}"#,
        minmax_core::cipher::key_to_base64(&key)
    );
    assert_eq!(conn.request(&start), START_OK);
    for value in [42i64, -999_999_999_999_999, 9_999_999_999_999_999] {
        let encrypted = cipher.encrypt(value).unwrap();
        assert_eq!(
            conn.request(&format!(r#"{{"op": "NUMBER", "number": "{}"}}"#, encrypted.as_str())),
            NUMBER_OK
        );
    }
    assert_eq!(conn.request(r#"{"op": "NUMBER", "number": 5}"#), error(r#""NUMBER""#, INVALID_NUMBER));
    assert_eq!(conn.request(r#"{"op": "NUMBER", "number": "5"}"#), error(r#""NUMBER""#, INVALID_NUMBER));
    let min = cipher.encrypt(-999_999_999_999_999).unwrap();
    let max = cipher.encrypt(9_999_999_999_999_999).unwrap();
    assert_eq!(
        conn.request(r#"{"op": "STOP"}"#),
        format!(r#"{{"op": "STOP", "status": true, "min": "{}", "max": "{}"}}"#, min.as_str(), max.as_str())
    );
    assert_eq!(
        report_rows(&server.report())[0],
        ["manel", "3", "-999999999999999", "9999999999999999"].map(String::from)
    );
}

#[test]
fn section_4_require_cipher_refuses_plain_sessions() {
    let server = Server::start(&["--require-cipher"]);
    let mut conn = server.connect();
    assert_eq!(
        conn.request(r#"{"op": "START", "client_id": "p", "cipher": null}"#),
        error(r#""START""#, CIPHER_REQUIRED)
    );
    let start = format!(
        r#"{{"op": "START", "client_id": "p", "cipher": "{}"}}"#,
        minmax_core::cipher::key_to_base64(&[1; 32])
    );
    assert_eq!(conn.request(&start), START_OK);
}

#[test]
fn section_1_ten_thousand_pipelined_numbers_in_one_write() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    let mut burst = frame(br#"{"op": "START", "client_id": "pipe"}"#);
    for i in 0..10_000i64 {
        burst.extend(frame(
            format!(r#"{{"op": "NUMBER", "number": {}}}"#, (i * 7919) % 10_007 - 5_000).as_bytes(),
        ));
    }
    burst.extend(frame(br#"{"op": "STOP"}"#));
    // Written from another thread while this one reads, as a pipelining client must.
    let mut writer = conn.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&burst).unwrap());
    assert_eq!(conn.recv(), START_OK);
    for _ in 0..10_000 {
        assert_eq!(conn.recv(), NUMBER_OK);
    }
    let expected_min = (0..10_000i64).map(|i| (i * 7919) % 10_007 - 5_000).min().unwrap();
    let expected_max = (0..10_000i64).map(|i| (i * 7919) % 10_007 - 5_000).max().unwrap();
    assert_eq!(
        conn.recv(),
        format!(r#"{{"op": "STOP", "status": true, "min": {expected_min}, "max": {expected_max}}}"#)
    );
    sender.join().unwrap();
    assert_eq!(report_rows(&server.report())[0][1], "10000");
}

#[test]
fn section_1_a_frame_dribbled_one_byte_per_write_is_answered() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    let mut bytes = frame(br#"{"op": "START", "client_id": "drip"}"#);
    bytes.extend(frame(br#"{"op": "NUMBER", "number": -42}"#));
    bytes.extend(frame(br#"{"op": "STOP"}"#));
    for byte in &bytes {
        conn.stream.write_all(std::slice::from_ref(byte)).unwrap();
    }
    assert_eq!(conn.recv(), START_OK);
    assert_eq!(conn.recv(), NUMBER_OK);
    assert_eq!(conn.recv(), r#"{"op": "STOP", "status": true, "min": -42, "max": -42}"#);
}

#[test]
fn section_1_a_huge_length_prefix_is_answered_and_closed_without_buffering() {
    let server = Server::start(&[]);
    let mut warm = server.connect();
    warm.session("warm", &["1"]);
    let before = server.rss_kib();
    let mut conn = server.connect();
    conn.send_raw(&[0x7f, 0xff, 0xff, 0xff]);
    conn.send_raw(&[b'{'; 4096]);
    assert_eq!(conn.recv(), error("null", INVALID_MESSAGE));
    conn.expect_closed();
    let after = server.rss_kib();
    assert!(after < before + 1024, "RSS grew from {before} KiB to {after} KiB");
    server.wait_for_log("over the --max-frame limit");
    // Everyone else is still served.
    assert_eq!(warm.session("warm2", &["2"]), r#"{"op": "STOP", "status": true, "min": 2, "max": 2}"#);
}

#[test]
fn section_1_max_frame_is_configurable() {
    let server = Server::start(&["--max-frame", "64"]);
    let mut conn = server.connect();
    let exactly_64 = format!(r#"{{"op": "START", "client_id": "{}"}}"#, "a".repeat(64 - 32));
    assert_eq!(exactly_64.len(), 64);
    assert_eq!(conn.request(&exactly_64), START_OK);
    let sixty_five = format!(r#"{{"op": "NUMBER", "number": {}}}"#, "1".repeat(65 - 28));
    assert_eq!(sixty_five.len(), 65);
    assert_eq!(conn.request(&sixty_five), error("null", INVALID_MESSAGE));
    conn.expect_closed();
}

#[test]
fn section_2_a_client_id_is_active_on_one_connection_at_a_time() {
    let server = Server::start(&[]);
    let mut first = server.connect();
    let mut second = server.connect();
    let start = r#"{"op": "START", "client_id": "one"}"#;
    assert_eq!(first.request(start), START_OK);
    assert_eq!(second.request(start), error(r#""START""#, EXISTS));
    // Freed by STOP...
    assert_eq!(first.request(r#"{"op": "NUMBER", "number": 1}"#), NUMBER_OK);
    first.request(r#"{"op": "STOP"}"#);
    assert_eq!(second.request(start), START_OK);
    // ...by QUIT...
    assert_eq!(first.request(start), error(r#""START""#, EXISTS));
    assert_eq!(second.request(r#"{"op": "QUIT"}"#), QUIT_OK);
    assert_eq!(first.request(start), START_OK);
    // ...and by a disconnect.
    drop(first);
    server.wait_for_log("the client disconnected");
    assert_eq!(second.request(start), START_OK);
}
