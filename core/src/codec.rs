//! Length-prefixed framing (PROTOCOL §1): a 4-byte big-endian length, then that many
//! bytes of JSON.
//!
//! The decoder is incremental and zero-copy where it can be: a frame that arrives
//! whole inside one read is handed out as a slice of that read, and only the
//! beginning of a frame split across reads is copied. The announced length is checked
//! against `max_frame` as soon as the 4-byte prefix is known, before a single byte of
//! payload is buffered, so a connection never holds more than `max_frame + 4` bytes.

/// Bytes in the length prefix.
pub const PREFIX_LEN: usize = 4;

/// The default largest payload a server accepts (`--max-frame`, §1).
pub const DEFAULT_MAX_FRAME: u32 = 65_536;

/// A buffer larger than this is released once its frame is complete, so that a
/// connection that once sent a big frame does not keep the memory while idle.
const RETAINED_CAPACITY: usize = 4096;

/// What [`Decoder::decode`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// One whole frame payload (without its prefix).
    Frame(&'a [u8]),
    /// The input is used up; the beginning of a frame, if any, is buffered.
    NeedMore,
    /// The prefix announced a payload over the limit. The stream cannot be
    /// resynchronised after this: the decoder drops all further input.
    TooLong {
        /// The length the prefix announced.
        announced: u32,
    },
}

/// An incremental frame decoder for one byte stream.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_frame: u32,
    /// Prefix bytes, then payload bytes, of an incomplete frame.
    partial: Vec<u8>,
    /// The last frame returned was served from `partial`, which must be emptied
    /// before more input is taken (it could not be while the frame was borrowed).
    partial_consumed: bool,
    /// A prefix over the limit was seen.
    poisoned: bool,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder {
    /// A decoder that accepts payloads of up to `max_frame` bytes.
    pub fn new(max_frame: u32) -> Decoder {
        Decoder { max_frame, partial: Vec::new(), partial_consumed: false, poisoned: false }
    }

    /// The largest payload this decoder accepts.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// Whether part of a frame (even one prefix byte) is waiting for the rest.
    pub fn has_partial_frame(&self) -> bool {
        !self.partial_consumed && !self.partial.is_empty()
    }

    /// Bytes of memory held for an incomplete frame. Never more than `max_frame + 4`.
    pub fn buffered_capacity(&self) -> usize {
        self.partial.capacity()
    }

    /// Takes the next frame out of `input`, advancing it past what was used.
    ///
    /// Call repeatedly until it returns [`Decoded::NeedMore`]; the frames come out in
    /// order, borrowed from `input` when they arrived whole and from the decoder's own
    /// buffer when they were split across calls.
    pub fn decode<'d, 'i: 'd>(&'d mut self, input: &mut &'i [u8]) -> Decoded<'d> {
        if self.poisoned {
            *input = &[];
            return Decoded::NeedMore;
        }
        if self.partial_consumed {
            self.partial_consumed = false;
            self.partial.clear();
            if self.partial.capacity() > RETAINED_CAPACITY {
                self.partial = Vec::new();
            }
        }
        if self.partial.is_empty() { self.decode_unbuffered(input) } else { self.decode_buffered(input) }
    }

    fn decode_unbuffered<'d, 'i: 'd>(&'d mut self, input: &mut &'i [u8]) -> Decoded<'d> {
        let bytes: &'i [u8] = input;
        if bytes.is_empty() {
            return Decoded::NeedMore;
        }
        if let Some(prefix) = bytes.first_chunk::<PREFIX_LEN>() {
            let announced = u32::from_be_bytes(*prefix);
            if announced > self.max_frame {
                return self.poison(input, announced);
            }
            // `announced` is at most max_frame (a u32), so this cannot overflow usize.
            let end = PREFIX_LEN + announced as usize;
            if let Some(frame) = bytes.get(PREFIX_LEN..end) {
                *input = &bytes[end..];
                return Decoded::Frame(frame);
            }
            // The frame is incomplete: buffer it, reserving its full size at once so
            // the buffer is never reallocated while the rest trickles in.
            self.partial.reserve_exact(end);
        } else {
            self.partial.reserve_exact(PREFIX_LEN);
        }
        self.partial.extend_from_slice(bytes);
        *input = &[];
        Decoded::NeedMore
    }

    fn decode_buffered<'d>(&'d mut self, input: &mut &[u8]) -> Decoded<'d> {
        if self.partial.len() < PREFIX_LEN {
            let wanted = (PREFIX_LEN - self.partial.len()).min(input.len());
            self.partial.extend_from_slice(&input[..wanted]);
            *input = &input[wanted..];
        }
        let Some(prefix) = self.partial.first_chunk::<PREFIX_LEN>() else {
            return Decoded::NeedMore;
        };
        let announced = u32::from_be_bytes(*prefix);
        if announced > self.max_frame {
            return self.poison(input, announced);
        }
        let frame_len = PREFIX_LEN + announced as usize;
        // A no-op once the frame's full size has been reserved.
        self.partial.reserve_exact(frame_len - self.partial.len());
        let missing = frame_len - self.partial.len();
        let taken = missing.min(input.len());
        self.partial.extend_from_slice(&input[..taken]);
        *input = &input[taken..];
        if taken < missing {
            return Decoded::NeedMore;
        }
        self.partial_consumed = true;
        Decoded::Frame(&self.partial[PREFIX_LEN..])
    }

    fn poison<'d>(&mut self, input: &mut &[u8], announced: u32) -> Decoded<'d> {
        self.poisoned = true;
        self.partial = Vec::new();
        *input = &[];
        Decoded::TooLong { announced }
    }
}

/// Appends one frame to `out`: a prefix, then the body `write_body` appends. Prefix
/// and body go into the same buffer so that they leave in one write (a prefix
/// written alone waits for a delayed ACK).
///
/// # Panics
/// If the body is longer than `u32::MAX` bytes, which no message of this protocol can be.
pub fn encode_frame(out: &mut Vec<u8>, write_body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    write_body(out);
    let body_len = out.len() - start - PREFIX_LEN;
    let prefix = u32::try_from(body_len).expect("a message body is shorter than 4 GiB");
    out[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
}

/// Whether a length prefix is really the start of a TLS record (content type 20 to
/// 23, version 3.x): what a peer that speaks TLS sends where a frame was expected.
/// Such a prefix announces hundreds of megabytes, and saying "TLS" is the useful
/// answer to it.
pub fn looks_like_tls_record(announced: u32) -> bool {
    let [content_type, major, minor, _] = announced.to_be_bytes();
    (20..=23).contains(&content_type) && major == 3 && minor <= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_recognised_in_a_length_prefix() {
        // A TLS 1.2 alert and a ClientHello record's first four bytes.
        assert!(looks_like_tls_record(u32::from_be_bytes([0x15, 0x03, 0x03, 0x00])));
        assert!(looks_like_tls_record(u32::from_be_bytes([0x16, 0x03, 0x01, 0x02])));
        assert!(!looks_like_tls_record(u32::from_be_bytes([0x00, 0x00, 0x00, 0x20])));
        assert!(!looks_like_tls_record(u32::from_be_bytes([0x16, 0x04, 0x01, 0x02])));
        assert!(!looks_like_tls_record(u32::from_be_bytes([0x7f, 0xff, 0xff, 0xff])));
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, |out| out.extend_from_slice(body));
        out
    }

    /// Feeds `chunks` one after the other and collects every frame.
    fn decode_all(decoder: &mut Decoder, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Option<u32>) {
        let mut frames = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            loop {
                match decoder.decode(&mut input) {
                    Decoded::Frame(payload) => frames.push(payload.to_vec()),
                    Decoded::NeedMore => break,
                    Decoded::TooLong { announced } => return (frames, Some(announced)),
                }
            }
            assert!(input.is_empty(), "NeedMore must mean the input was used up");
        }
        (frames, None)
    }

    #[test]
    fn encodes_big_endian_prefix_and_body_in_one_buffer() {
        assert_eq!(frame(b"{}"), b"\x00\x00\x00\x02{}");
        assert_eq!(frame(&[b'x'; 300])[..4], [0, 0, 1, 44]);
    }

    #[test]
    fn whole_frames_in_one_read_are_borrowed_from_the_input() {
        let mut bytes = frame(b"{\"a\": 1}");
        bytes.extend(frame(b"[]"));
        bytes.extend(frame(b""));
        let mut decoder = Decoder::new(100);
        let mut input = &bytes[..];
        let first = match decoder.decode(&mut input) {
            Decoded::Frame(payload) => payload,
            other => panic!("expected a frame, got {other:?}"),
        };
        assert_eq!(first, b"{\"a\": 1}");
        assert!(std::ptr::eq(first.as_ptr(), bytes[4..].as_ptr()), "the frame was copied");
        assert_eq!(decoder.decode(&mut input), Decoded::Frame(b"[]"));
        assert_eq!(decoder.decode(&mut input), Decoded::Frame(b""));
        assert_eq!(decoder.decode(&mut input), Decoded::NeedMore);
        assert_eq!(decoder.buffered_capacity(), 0);
    }

    #[test]
    fn a_frame_split_at_every_byte_comes_out_whole() {
        let message = frame(b"{\"op\": \"NUMBER\", \"number\": 5}");
        for cut in 0..=message.len() {
            let (left, right) = message.split_at(cut);
            let mut decoder = Decoder::new(100);
            let (frames, too_long) = decode_all(&mut decoder, &[left, right]);
            assert_eq!(too_long, None);
            assert_eq!(frames, vec![b"{\"op\": \"NUMBER\", \"number\": 5}".to_vec()], "cut at {cut}");
            assert!(!decoder.has_partial_frame());
        }
    }

    #[test]
    fn a_frame_dribbled_one_byte_at_a_time_comes_out_whole() {
        let mut message = frame(b"{\"op\": \"STOP\"}");
        message.extend(frame(b"{\"op\": \"QUIT\"}"));
        let chunks: Vec<&[u8]> = message.chunks(1).collect();
        let mut decoder = Decoder::new(100);
        let (frames, _) = decode_all(&mut decoder, &chunks);
        assert_eq!(frames, vec![b"{\"op\": \"STOP\"}".to_vec(), b"{\"op\": \"QUIT\"}".to_vec()]);
    }

    #[test]
    fn partial_state_is_reported() {
        let message = frame(b"xyz");
        let mut decoder = Decoder::new(100);
        assert!(!decoder.has_partial_frame());
        decode_all(&mut decoder, &[&message[..1]]);
        assert!(decoder.has_partial_frame(), "one prefix byte is a partial frame");
        decode_all(&mut decoder, &[&message[1..5]]);
        assert!(decoder.has_partial_frame());
        let (frames, _) = decode_all(&mut decoder, &[&message[5..]]);
        assert_eq!(frames.len(), 1);
        assert!(!decoder.has_partial_frame());
    }

    #[test]
    fn frame_of_exactly_max_frame_is_accepted_and_one_more_is_refused() {
        let limit = 64u32;
        let exact = frame(&[b' '; 64]);
        let mut decoder = Decoder::new(limit);
        let (frames, too_long) = decode_all(&mut decoder, &[&exact[..10], &exact[10..]]);
        assert_eq!((frames.len(), too_long), (1, None));
        assert!(decoder.buffered_capacity() <= limit as usize + PREFIX_LEN);

        let over = frame(&[b' '; 65]);
        let mut decoder = Decoder::new(limit);
        let (frames, too_long) = decode_all(&mut decoder, &[&over[..4]]);
        assert_eq!((frames.len(), too_long), (0, Some(65)));
        assert_eq!(decoder.buffered_capacity(), 0, "no byte of a refused frame is buffered");
    }

    #[test]
    fn a_huge_prefix_split_across_reads_is_refused_without_buffering() {
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let (_, too_long) = decode_all(&mut decoder, &[&[0x7f, 0xff], &[0xff, 0xff, b'{']]);
        assert_eq!(too_long, Some(0x7fff_ffff));
        assert_eq!(decoder.buffered_capacity(), 0);
        // Everything after a refused prefix is dropped: the stream has lost its framing.
        let (frames, too_long) = decode_all(&mut decoder, &[&frame(b"{}")]);
        assert_eq!((frames.len(), too_long), (0, None));
    }

    #[test]
    fn large_buffers_are_released_after_their_frame() {
        let big = frame(&[b'a'; 10_000]);
        let mut decoder = Decoder::new(20_000);
        let mut input = &big[..100];
        assert_eq!(decoder.decode(&mut input), Decoded::NeedMore);
        assert!(decoder.buffered_capacity() >= 10_004);
        let mut input = &big[100..];
        assert!(matches!(decoder.decode(&mut input), Decoded::Frame(p) if p.len() == 10_000));
        assert_eq!(decoder.decode(&mut input), Decoded::NeedMore);
        assert_eq!(decoder.buffered_capacity(), 0);
    }
}
