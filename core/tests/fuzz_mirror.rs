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
