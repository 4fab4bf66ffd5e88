//! The NUMBER path is allocation-free (the server does it for nearly every frame). A counting global allocator
//! (the allocation-counter crate, so that no test needs `unsafe`) proves that
//! a plain NUMBER with an `i64` value, from frame bytes to encoded reply, allocates
//! nothing once the connection's buffers exist; the control cases show the counter
//! does see allocations where they happen.

use minmax_core::Timestamp;
use minmax_core::request;
use minmax_core::{Config, Effect, Int, Server};
use minmax_core::{Number, Transport};
/// Allocations made by this thread while `work` runs (allocation-counter's global
/// allocator counts per thread, so the harness's other threads do not disturb it).
fn allocations_during(work: impl FnOnce()) -> u64 {
    allocation_counter::measure(work).count_total
}

fn number_frame(value: Number) -> Vec<u8> {
    let mut frame = Vec::new();
    request::encode_number(&mut frame, &value);
    frame
}

/// Handles `frame` and encodes every reply into `out`, as the event loop does.
fn handle(server: &mut Server, conn: minmax_core::ConnId, frame: &[u8], out: &mut Vec<u8>) {
    for effect in server.handle_input(Timestamp::ZERO, conn, frame) {
        if let Effect::Reply { response, .. } = effect {
            response.encode(out);
        }
    }
}

#[test]
fn a_plain_i64_number_allocates_nothing() {
    let mut server = Server::new(Config::default());
    let (conn, connected) = server.handle_connect(Timestamp::ZERO, Transport::Plain);
    assert_eq!(connected.count(), 0);
    let mut out = Vec::with_capacity(4096);
    let mut start = Vec::new();
    request::encode_start(&mut start, "alloc", None);
    handle(&mut server, conn, &start, &mut out);
    // Warm up: the effect queue and the session's range get their memory here.
    let warm = number_frame(Number::Plain(Int::from(1)));
    handle(&mut server, conn, &warm, &mut out);

    let frames: Vec<Vec<u8>> = [-5, 0, 7, i64::MIN, i64::MAX, 123_456_789]
        .into_iter()
        .map(|n| number_frame(Number::Plain(Int::from(n))))
        .collect();
    // A numeric string with an escape-free body takes the borrowed path too.
    let string_frame = {
        let mut frame = Vec::new();
        minmax_core::codec::encode_frame(&mut frame, |out| {
            out.extend_from_slice(br#"{"op": "NUMBER", "number": " 42 "}"#)
        });
        frame
    };
    for frame in frames.iter().chain([&string_frame]) {
        out.clear();
        let count = allocations_during(|| handle(&mut server, conn, frame, &mut out));
        assert_eq!(count, 0, "a NUMBER allocated {count} times: {:?}", String::from_utf8_lossy(frame));
        assert_eq!(&out[4..], br#"{"op": "NUMBER", "status": true}"#);
    }
}

#[test]
fn the_counter_sees_allocations_where_they_happen() {
    let mut server = Server::new(Config::default());
    let (conn, connected) = server.handle_connect(Timestamp::ZERO, Transport::Plain);
    assert_eq!(connected.count(), 0);
    let mut out = Vec::with_capacity(4096);
    let mut start = Vec::new();
    request::encode_start(&mut start, "control", None);
    // START allocates: the client id is stored.
    assert!(allocations_during(|| handle(&mut server, conn, &start, &mut out)) > 0);
    // A number beyond i64 keeps its digits on the heap.
    let big = number_frame(Number::Plain(Int::parse("123456789012345678901234567890").expect("integer")));
    assert!(allocations_during(|| handle(&mut server, conn, &big, &mut out)) > 0);
}
