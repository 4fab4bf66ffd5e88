//! Throughput of the core's hot path: decode a NUMBER frame, apply it, encode the reply.
//!
//! Run with `cargo bench -p minmax-core --bench frames`; divan prints items/s, where
//! one item is one NUMBER frame taken from bytes to reply bytes. The target (issue:
//! core) is 3 million plain frames per second on one core.

use divan::counter::ItemsCount;
use minmax_core::Timestamp;
use minmax_core::request;
use minmax_core::{Cipher, Config, ConnId, Effect, Effects, Int, Number, Server, Transport};

/// Frames handed to the server per iteration: a pipelined burst, as one read delivers it.
const BURST: usize = 1000;

fn main() {
    divan::main();
}

/// A server with one started session, and `BURST` NUMBER frames for it.
fn setup(key: Option<[u8; 16]>) -> (Server, ConnId, Vec<Vec<u8>>) {
    let now = Timestamp::ZERO;
    let mut server = Server::new(Config::default());
    let (conn, connected) = server.handle_connect(now, Transport::Plain);
    assert_eq!(connected.count(), 0);
    let mut start = Vec::new();
    let key_text = key.map(|key| minmax_core::cipher::key_to_base64(&key));
    request::encode_start(&mut start, "bench", key_text.as_deref());
    assert_eq!(server.handle_input(now, conn, &start).count(), 2);
    let cipher = key.map(|key| Cipher::from_key(&key).expect("16-byte key"));
    let mut frames = Vec::new();
    for i in 0..BURST as i64 {
        // Spread over a range so min and max keep changing, as with real data.
        let number = (i * 7919) % 100_003 - 50_000;
        let value = match &cipher {
            Some(cipher) => Number::Encrypted(cipher.encrypt(number).expect("in range")),
            None => Number::Plain(Int::from(number)),
        };
        let mut frame = Vec::new();
        request::encode_number(&mut frame, &value);
        frames.push(frame);
    }
    (server, conn, frames)
}

/// Encodes every reply of `effects` into `out`, as the event loop does.
fn encode_replies(effects: Effects<'_>, out: &mut Vec<u8>) {
    for effect in effects {
        if let Effect::Reply { response, .. } = effect {
            response.encode(out);
        }
    }
}

fn run_burst(bencher: divan::Bencher, key: Option<[u8; 16]>) {
    let (mut server, conn, frames) = setup(key);
    let burst = frames.concat();
    let mut out = Vec::with_capacity(64 * BURST);
    let now = Timestamp::ZERO;
    bencher.counter(ItemsCount::new(BURST)).bench_local(|| {
        out.clear();
        encode_replies(server.handle_input(now, conn, divan::black_box(&burst)), &mut out);
        divan::black_box(out.len())
    });
}

fn run_one_per_read(bencher: divan::Bencher, key: Option<[u8; 16]>) {
    let (mut server, conn, frames) = setup(key);
    let mut out = Vec::with_capacity(64 * BURST);
    let now = Timestamp::ZERO;
    bencher.counter(ItemsCount::new(BURST)).bench_local(|| {
        out.clear();
        for frame in &frames {
            encode_replies(server.handle_input(now, conn, divan::black_box(frame)), &mut out);
        }
        divan::black_box(out.len())
    });
}

/// 1 000 plain NUMBER frames in one input, as a pipelining client sends them.
#[divan::bench]
fn plain_pipelined(bencher: divan::Bencher) {
    run_burst(bencher, None);
}

/// Plain NUMBER frames one per `handle_input`, as a strict request-reply client sends them.
#[divan::bench]
fn plain_one_per_read(bencher: divan::Bencher) {
    run_one_per_read(bencher, None);
}

/// Encrypted NUMBER frames in one input: base64, AES and the `%16d` parse on top.
#[divan::bench]
fn encrypted_pipelined(bencher: divan::Bencher) {
    run_burst(bencher, Some([0x5a; 16]));
}

/// Encrypted NUMBER frames one per `handle_input`.
#[divan::bench]
fn encrypted_one_per_read(bencher: divan::Bencher) {
    run_one_per_read(bencher, Some([0x5a; 16]));
}
