//! The fuzz targets' properties (tests/properties, shared with fuzz/), checked with
//! random bytes by proptest, so that they hold in every CI run even where the fuzzer
//! does not run. Regressions the fuzzer finds are added as fixed cases here.

mod properties;

use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn decode(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        properties::decode(&data);
    }

    #[test]
    fn server_ops(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        properties::server_ops(&data);
    }

    #[test]
    fn client_replies(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        properties::client_replies(&data);
    }

    /// Canonical NUMBER frames with every kind of value, right or wrong: where the
    /// parser's shortcut applies, it must agree with the general path.
    #[test]
    fn canonical_number_frames(value in r#"[-0-9"a-z\\.eE ,}{/+=]{0,14}"#) {
        let json = format!(r#"{{"op": "NUMBER", "number": {value}}}"#);
        let mut data = vec![255u8];
        data.extend((json.len() as u32).to_be_bytes());
        data.extend(json.as_bytes());
        properties::decode(&data);
    }
}

/// Frame-shaped input, which random bytes rarely are: the prefix and JSON are right,
/// so the request parser's deeper paths run.
#[test]
fn decode_reaches_the_parsers() {
    let mut data = vec![7u8];
    for json in [
        &br#"{"op": "START", "client_id": "x", "cipher": "AAAAAAAAAAAAAAAAAAAAAA=="}"#[..],
        br#"{"op": "NUMBER", "number": "  -5 "}"#,
        br#"{"op": "NUMBER", "number": 123456789012345678901234567890}"#,
        br#"{"op": "Z\u00e9", "x": [1, {"y": null}]}"#,
        br#"{"op": "STOP", "status": true, "minimum": "3", "max": 4}"#,
    ] {
        data.extend((json.len() as u32).to_be_bytes());
        data.extend_from_slice(json);
    }
    properties::decode(&data);
}

/// The `server_ops` input the fuzzer stopped on (issue 10): a STOP reply whose min and
/// max have hundreds of digits, which the property took for invalid JSON because it
/// parsed replies through f64. It stays in the fuzz corpus too.
#[test]
fn fuzz_finding_51da5054_stays_fixed() {
    let data = include_bytes!("data/server_ops-crash-51da5054");
    properties::server_ops(data);
}

/// Fuzz finding ebbb4a3f (client_replies): with `--json`, an output failure before the
/// session ended left the outcome object saying exit code 0 while the client exited
/// 6. It stays in the fuzz corpus too.
#[test]
fn fuzz_finding_ebbb4a3f_stays_fixed() {
    let data = include_bytes!("data/client_replies-crash-ebbb4a3f");
    properties::client_replies(data);
}

/// What that finding was, made deterministic: the property's reply check on a STOP
/// whose min and max are beyond what an f64 holds (the input file no longer decodes to
/// the same actions since `server_ops` learnt TLS connections).
#[test]
fn stop_replies_beyond_f64_pass_the_reply_check() {
    use minmax_core::{Int, Number, Response};
    let huge = Int::parse(&"9".repeat(400)).expect("integer");
    let tiny = Int::parse(&format!("-{}", "9".repeat(4300))).expect("integer");
    let reply = Response::Stopped { min: Number::Plain(tiny), max: Number::Plain(huge) };
    let mut body = Vec::new();
    reply.write_json(&mut body);
    assert!(
        serde_json::from_slice::<serde_json::Value>(&body).is_err(),
        "the check must not go through serde_json::Value, which calls these numbers out of range"
    );
    properties::check_reply(&reply);
}
