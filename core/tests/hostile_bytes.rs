//! PROTOCOL §1 against hostile input: arbitrary bytes, cut into arbitrary chunks,
//! never panic the decoder or the server, never make a connection hold more than
//! `max_frame + 4` bytes, and always get well-formed replies. How a stream is chunked
//! never changes which frames come out of it.
//!
//! `fuzz/` runs the same properties under coverage-guided fuzzing.

use minmax_core::Timestamp;
use minmax_core::{Config, Decoded, Decoder, Effect, Server, Transport};
use proptest::prelude::*;
use std::time::Duration;

const MAX_FRAME: u32 = 512;

/// Byte streams that look like frames often enough to get past the prefix.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let json_ish = prop::collection::vec(
        prop_oneof![
            Just(b"{\"op\": \"START\", \"client_id\": \"a\"}".to_vec()),
            Just(b"{\"op\": \"NUMBER\", \"number\": 1}".to_vec()),
            Just(b"{\"op\": \"NUMBER\", \"number\": \"x\"}".to_vec()),
            Just(b"{\"op\": \"STOP\"}".to_vec()),
            Just(b"{\"op\": \"QUIT\"}".to_vec()),
            prop::collection::vec(
                prop::sample::select(
                    b"{}[]\":,0123456789.eE-+ \\uopnumberSTARTNUMBERtruefalsenull\xc3\xa9\xff".to_vec()
                ),
                0..40
            ),
            prop::collection::vec(any::<u8>(), 0..40),
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat());
    let piece = prop_oneof![
        // A frame whose prefix tells the truth.
        4 => json_ish.prop_map(|payload| {
            let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
            frame.extend(payload);
            frame
        }),
        // A prefix that lies, small or huge.
        1 => (any::<u32>(), prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(announced, tail)| {
            let mut bytes = announced.to_be_bytes().to_vec();
            bytes.extend(tail);
            bytes
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// Cuts `bytes` at the given fractions of its length.
fn chunks<'a>(bytes: &'a [u8], cuts: &[u16]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|&cut| usize::from(cut) * bytes.len() / 65_536).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// Every frame of a stream, and whether it was refused for its length.
fn decode_stream(pieces: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut decoder = Decoder::new(MAX_FRAME);
    let mut frames = Vec::new();
    for piece in pieces {
        let mut input = *piece;
        loop {
            match decoder.decode(&mut input) {
                Decoded::Frame(frame) => frames.push(frame.to_vec()),
                Decoded::NeedMore => break,
                Decoded::TooLong { .. } => return (frames, true),
            }
            assert!(decoder.buffered_capacity() <= MAX_FRAME as usize + 4);
        }
        assert!(decoder.buffered_capacity() <= MAX_FRAME as usize + 4);
    }
    (frames, false)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn chunking_never_changes_the_frames(bytes in stream(), cuts in prop::collection::vec(any::<u16>(), 0..20)) {
        let whole = decode_stream(&[&bytes]);
        let chunked = decode_stream(&chunks(&bytes, &cuts));
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn the_server_survives_any_bytes_on_any_connection(
        streams in prop::collection::vec((stream(), prop::collection::vec(any::<u16>(), 0..10)), 3),
        order in prop::collection::vec(0usize..3, 0..60),
        ticks in prop::collection::vec(0u64..4, 0..60),
    ) {
        let start = Timestamp::ZERO;
        let config = Config {
            max_frame: MAX_FRAME,
            idle_timeout: Some(Duration::from_secs(7)),
            frame_timeout: Some(Duration::from_secs(3)),
            ..Config::default()
        };
        let mut server = Server::new(config);
        let ids: Vec<_> = (0..3).map(|_| server.handle_connect(start, Transport::Plain).0).collect();
        let mut pending: Vec<Vec<&[u8]>> = streams.iter().map(|(bytes, cuts)| chunks(bytes, cuts)).collect();
        for pieces in &mut pending {
            pieces.reverse();
        }
        let mut now = start;
        for (step, &which) in order.iter().enumerate() {
            now += Duration::from_secs(ticks.get(step).copied().unwrap_or(0));
            let mut effects: Vec<Effect> = server.handle_timeout(now).collect();
            if let Some(piece) = pending[which].pop() {
                effects.extend(server.handle_input(now, ids[which], piece));
            }
            for effect in effects {
                if let Effect::Reply { conn, response } = effect {
                    prop_assert!(ids.contains(&conn));
                    let mut out = Vec::new();
                    response.encode(&mut out);
                    // Raw values: a min or max may have thousands of digits, more than an f64 holds.
                    let body: std::collections::BTreeMap<&str, &serde_json::value::RawValue> =
                        serde_json::from_slice(&out[4..]).expect("replies are JSON objects");
                    let status = body.get("status").map(|raw| raw.get());
                    prop_assert!(body.contains_key("op") && matches!(status, Some("true" | "false")), "{:?}", body);
                    prop_assert_eq!(status == Some("false"), body.contains_key("error"));
                }
            }
            for id in &ids {
                if let Some(capacity) = server.buffered_capacity(*id) {
                    prop_assert!(capacity <= MAX_FRAME as usize + 4, "{} bytes held", capacity);
                }
            }
        }
    }
}

#[test]
fn a_frame_of_exactly_max_frame_passes_and_one_byte_more_is_refused() {
    let mut at_limit = MAX_FRAME.to_be_bytes().to_vec();
    at_limit.extend(vec![b' '; MAX_FRAME as usize]);
    let (frames, refused) = decode_stream(&[&at_limit]);
    assert_eq!((frames.len(), refused), (1, false));
    let mut over = (MAX_FRAME + 1).to_be_bytes().to_vec();
    over.extend(vec![b' '; MAX_FRAME as usize + 1]);
    let (frames, refused) = decode_stream(&[&over]);
    assert_eq!((frames.len(), refused), (0, true));
}
