//! The server cases. Each id names its PROTOCOL section; each expectation is the bytes
//! a reply must have, as json.dumps writes them. Every case uses its own client ids,
//! so that the battery can also run against one long-running server (`--addr`).

use super::custom;
use super::replies::*;
use super::{Act::*, Case, custom as code, encrypted, script};
use crate::conform::model::Level::{Ext, Seed};

const STOP_5_5: &str = r#"{"op": "STOP", "status": true, "min": 5, "max": 5}"#;
const STOP_M3_12: &str = r#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#;
const LEGACY_M3_12: &str = r#"{"op": "STOP", "status": true, "minimum": -3, "maximum": 12}"#;
const N5: &str = r#"{"op": "NUMBER", "number": 5}"#;
const NM3: &str = r#"{"op": "NUMBER", "number": -3}"#;
const N12: &str = r#"{"op": "NUMBER", "number": 12}"#;
const STOP: &str = r#"{"op": "STOP"}"#;
const QUIT: &str = r#"{"op": "QUIT"}"#;
const INVALID_NUMBER: &str = r#"{"op": "NUMBER", "status": false, "error": "N\u00famero inv\u00e1lido"}"#;
const INVALID_ID: &str = r#"{"op": "START", "status": false, "error": "Identificador inv\u00e1lido"}"#;
const INVALID_KEY: &str = r#"{"op": "START", "status": false, "error": "Chave inv\u00e1lida"}"#;

/// Every server case, in section order.
pub static CASES: &[Case] = &[
    // §1 Transport and framing.
    script(
        "server/1/frame-split-byte-by-byte",
        Seed,
        "a frame sent one byte per write is read whole",
        &[
            Dribble(1, r#"{"op": "START", "client_id": "dribble", "cipher": null}"#),
            Reply(1, START_OK),
            Dribble(1, N5),
            Reply(1, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
        ],
    ),
    script(
        "server/1/frame-split-prefix-and-body",
        Seed,
        "a frame whose prefix and body arrive in pieces is read whole",
        &[
            Split(1, r#"{"op": "START", "client_id": "split", "cipher": null}"#),
            Reply(1, START_OK),
            Split(1, N5),
            Reply(1, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
        ],
    ),
    script(
        "server/1/two-frames-one-write",
        Seed,
        "two frames in one write get two replies, in order",
        &[
            Burst(1, &[r#"{"op": "START", "client_id": "two-in-one", "cipher": null}"#, N5]),
            Reply(1, START_OK),
            Reply(1, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
        ],
    ),
    script(
        "server/1/whole-session-one-write",
        Seed,
        "a whole pipelined session in one write is answered in order",
        &[
            Burst(1, &[r#"{"op": "START", "client_id": "pipelined", "cipher": null}"#, N5, NM3, N12, STOP]),
            Reply(1, START_OK),
            Reply(1, NUMBER_OK),
            Reply(1, NUMBER_OK),
            Reply(1, NUMBER_OK),
            Reply(1, STOP_M3_12),
        ],
    ),
    script(
        "server/1/accepts-compact-json",
        Seed,
        "requests without spaces (any valid JSON) are accepted",
        &[
            Ask(1, r#"{"op":"START","client_id":"compact","cipher":null}"#, START_OK),
            Ask(1, r#"{"op":"NUMBER","number":5}"#, NUMBER_OK),
            Ask(1, r#"{"op":"STOP"}"#, STOP_5_5),
        ],
    ),
    script(
        "server/1/escaped-and-raw-utf8-ids-are-one",
        Seed,
        "an id sent \\u-escaped and as raw UTF-8 is the same id",
        &[
            Ask(1, r#"{"op": "START", "client_id": "Jos\u00e9", "cipher": null}"#, START_OK),
            Ask(2, "{\"op\": \"START\", \"client_id\": \"José\", \"cipher\": null}", START_EXISTS),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/1/invalid-json-survives",
        Seed,
        "invalid JSON on one connection leaves the server and other sessions alive",
        &[
            Ask(1, r#"{"op": "START", "client_id": "beside-garbage", "cipher": null}"#, START_OK),
            Garbage(2, br#"{"op": "START", "client_id": "#),
            Close(2),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Alive,
        ],
    ),
    script(
        "server/1/huge-length-prefix-survives",
        Seed,
        "a 4 GB length prefix does not kill the server",
        &[
            Ask(1, r#"{"op": "START", "client_id": "beside-huge", "cipher": null}"#, START_OK),
            Raw(2, b"\xff\xff\xff\xff{\"op\": \"START\""),
            Close(2),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Alive,
        ],
    ),
    script(
        "server/1/connect-and-close-survives",
        Seed,
        "a connection closed without a byte does not kill the server",
        &[Connect(1), Close(1), Alive],
    ),
    script(
        "server/1/reset-before-any-frame-survives",
        Seed,
        "a connection reset before any frame does not kill the server",
        &[Connect(1), Reset(1), Alive],
    ),
    script(
        "server/1/half-frame-then-close-survives",
        Seed,
        "a connection closed inside a frame does not kill the server",
        &[Raw(1, b"\x00\x00\x00\x30{\"op\": \"ST"), Close(1), Alive],
    ),
    script(
        "server/1/replies-exactly-json-dumps",
        Ext,
        "every reply is byte for byte what json.dumps writes",
        &[
            Ask(1, r#"{"op": "NUMBER", "number": 1}"#, NUMBER_NO_CLIENT),
            Ask(1, r#"{"op": "START", "client_id": "exact-bytes", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, NM3, NUMBER_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, STOP, STOP_M3_12),
            Ask(1, STOP, STOP_NO_CLIENT),
            Ask(1, QUIT, QUIT_NO_CLIENT),
        ],
    ),
    script(
        "server/1/non-ascii-escaped",
        Ext,
        "non-ASCII in a reply is escaped as \\uXXXX, as json.dumps does",
        &[Ask(
            1,
            r#"{"op": "\u00e9t\u00e9"}"#,
            r#"{"op": "\u00e9t\u00e9", "status": false, "error": "Opera\u00e7\u00e3o desconhecida"}"#,
        )],
    ),
    script(
        "server/1/invalid-json-answered",
        Ext,
        "invalid JSON is answered Mensagem inválida and the connection stays usable",
        &[
            Garbage(1, br#"{"op": "START", "client_id": "#),
            Reply(1, INVALID),
            Ask(1, r#"{"op": "START", "client_id": "after-garbage", "cipher": null}"#, START_OK),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/1/not-an-object",
        Ext,
        "a JSON text that is not an object is Mensagem inválida",
        &[Garbage(1, b"[1, 2]"), Reply(1, INVALID), Garbage(1, b"\"START\""), Reply(1, INVALID)],
    ),
    script(
        "server/1/invalid-utf8",
        Ext,
        "a body that is not UTF-8 is Mensagem inválida",
        &[Garbage(1, b"{\"op\": \"\xff\xfe\"}"), Reply(1, INVALID)],
    ),
    script(
        "server/1/empty-frame",
        Ext,
        "a frame of length 0 is Mensagem inválida",
        &[Garbage(1, b""), Reply(1, INVALID)],
    ),
    script(
        "server/1/huge-length-prefix-refused",
        Ext,
        "a prefix over --max-frame is answered with op null and the connection closed",
        &[Raw(1, b"\xff\xff\xff\xff"), Reply(1, INVALID), Closed(1)],
    ),
    // §2 Sessions.
    script(
        "server/2/id-freed-by-stop",
        Seed,
        "after STOP the id may start again elsewhere",
        &[
            Ask(1, r#"{"op": "START", "client_id": "free-stop", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Ask(2, r#"{"op": "START", "client_id": "free-stop", "cipher": null}"#, START_OK),
            Ask(2, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/2/id-freed-by-quit",
        Seed,
        "after QUIT the id may start again elsewhere",
        &[
            Ask(1, r#"{"op": "START", "client_id": "free-quit", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, QUIT, QUIT_OK),
            Ask(2, r#"{"op": "START", "client_id": "free-quit", "cipher": null}"#, START_OK),
            Ask(2, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/2/id-freed-by-failed-stop",
        Seed,
        "a STOP without numbers still ends the session and frees the id",
        &[
            Ask(1, r#"{"op": "START", "client_id": "free-nodata", "cipher": null}"#, START_OK),
            Ask(1, STOP, STOP_NO_DATA),
            Ask(2, r#"{"op": "START", "client_id": "free-nodata", "cipher": null}"#, START_OK),
            Ask(2, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/2/id-freed-on-disconnect",
        Seed,
        "a client that disconnects mid-session frees its id",
        &[
            Ask(1, r#"{"op": "START", "client_id": "free-close", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Close(1),
            Claim(2, r#"{"op": "START", "client_id": "free-close", "cipher": null}"#),
            Ask(2, N12, NUMBER_OK),
            Ask(2, STOP, r#"{"op": "STOP", "status": true, "min": 12, "max": 12}"#),
        ],
    ),
    script(
        "server/2/id-freed-on-reset",
        Seed,
        "a client whose connection is reset mid-session frees its id",
        &[
            Ask(1, r#"{"op": "START", "client_id": "free-reset", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Reset(1),
            Claim(2, r#"{"op": "START", "client_id": "free-reset", "cipher": null}"#),
            Ask(2, N12, NUMBER_OK),
            Ask(2, STOP, r#"{"op": "STOP", "status": true, "min": 12, "max": 12}"#),
        ],
    ),
    script(
        "server/2/reset-inside-a-frame",
        Seed,
        "a reset in the middle of a frame frees the id and the server lives",
        &[
            Ask(1, r#"{"op": "START", "client_id": "reset-mid", "cipher": null}"#, START_OK),
            Raw(1, b"\x00\x00\x00\x1e{\"op\": \"NUM"),
            Reset(1),
            Claim(2, r#"{"op": "START", "client_id": "reset-mid", "cipher": null}"#),
            Ask(2, QUIT, QUIT_OK),
            Alive,
        ],
    ),
    script(
        "server/2/reset-before-reading-replies",
        Seed,
        "a client that resets with replies still unsent does not kill the server",
        &[
            Burst(
                1,
                &[
                    r#"{"op": "START", "client_id": "gone-early", "cipher": null}"#,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    N5,
                    STOP,
                ],
            ),
            Reply(1, START_OK),
            Reset(1),
            Alive,
        ],
    ),
    script(
        "server/2/second-session-same-connection",
        Seed,
        "after STOP the same connection runs a second session",
        &[
            Ask(1, r#"{"op": "START", "client_id": "first", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Ask(1, r#"{"op": "START", "client_id": "second", "cipher": null}"#, START_OK),
            Ask(1, NM3, NUMBER_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, STOP, STOP_M3_12),
            Rows(&["first,1,5,5", "second,2,-3,12"]),
        ],
    ),
    script(
        "server/2/session-after-quit-same-connection",
        Seed,
        "after QUIT the same connection starts again",
        &[
            Ask(1, r#"{"op": "START", "client_id": "again", "cipher": null}"#, START_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, QUIT, QUIT_OK),
            Ask(1, r#"{"op": "START", "client_id": "again", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
        ],
    ),
    script(
        "server/2/new-session-starts-empty",
        Seed,
        "a new session of the same id does not inherit the last one's numbers",
        &[
            Ask(1, r#"{"op": "START", "client_id": "fresh-stats", "cipher": null}"#, START_OK),
            Ask(1, NM3, NUMBER_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, STOP, STOP_M3_12),
            Ask(1, r#"{"op": "START", "client_id": "fresh-stats", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
        ],
    ),
    script(
        "server/2/quit-records-nothing",
        Seed,
        "a session ended by QUIT writes no row",
        &[
            Ask(1, r#"{"op": "START", "client_id": "quitter", "cipher": null}"#, START_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, QUIT, QUIT_OK),
            Ask(2, r#"{"op": "START", "client_id": "stayer", "cipher": null}"#, START_OK),
            Ask(2, N5, NUMBER_OK),
            Ask(2, STOP, STOP_5_5),
            Rows(&["stayer,1,5,5"]),
        ],
    ),
    script(
        "server/2/disconnect-records-nothing",
        Seed,
        "a session ended by a disconnect writes no row",
        &[
            Ask(1, r#"{"op": "START", "client_id": "leaver", "cipher": null}"#, START_OK),
            Ask(1, N12, NUMBER_OK),
            Close(1),
            Claim(2, r#"{"op": "START", "client_id": "leaver", "cipher": null}"#),
            Ask(2, N5, NUMBER_OK),
            Ask(2, STOP, STOP_5_5),
            Rows(&["leaver,1,5,5"]),
        ],
    ),
    script(
        "server/2/interleaved-sessions",
        Seed,
        "two sessions interleaved on two connections keep their own numbers",
        &[
            Ask(1, r#"{"op": "START", "client_id": "anton", "cipher": null}"#, START_OK),
            Ask(2, r#"{"op": "START", "client_id": "jonas", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(2, NM3, NUMBER_OK),
            Ask(2, N12, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Ask(2, STOP, STOP_M3_12),
        ],
    ),
    code(
        "server/2/fifty-concurrent-clients",
        Seed,
        "50 connections with interleaved sessions all get their own min and max",
        "#1..#50 > {\"op\": \"START\", \"client_id\": \"c50-N\", \"cipher\": null} on every connection, then the replies\n\
         #N < {\"op\": \"START\", \"status\": true}\n\
         #N > {\"op\": \"NUMBER\", \"number\": N} and {\"op\": \"NUMBER\", \"number\": -N} on every connection, then the replies\n\
         #N < {\"op\": \"NUMBER\", \"status\": true} (twice)\n\
         #N > {\"op\": \"STOP\"}  < {\"op\": \"STOP\", \"status\": true, \"min\": -N, \"max\": N}, connection by connection\n\
         report.csv: the header, then c50-N,2,-N,N for N = 1..50 in that order",
        super::Needs { fresh: false, report: true, encryption: false },
        custom::fifty_clients,
    ),
    // §3 Requests and replies.
    script(
        "server/3/start-cipher-null",
        Seed,
        "START with \"cipher\": null opens a plain session",
        &[
            Ask(1, r#"{"op": "START", "client_id": "anton-null", "cipher": null}"#, START_OK),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/3/start-without-cipher",
        Seed,
        "START without a cipher key opens a plain session",
        &[
            Ask(1, r#"{"op": "START", "client_id": "anton-nokey"}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
        ],
    ),
    script(
        "server/3/start-empty-cipher",
        Ext,
        "START with \"cipher\": \"\" opens a plain session",
        &[
            Ask(1, r#"{"op": "START", "client_id": "anton-empty", "cipher": ""}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
        ],
    ),
    script(
        "server/3/stop-min-max",
        Seed,
        "STOP answers the minimum and the maximum of the numbers",
        &[
            Ask(1, r#"{"op": "START", "client_id": "minmax", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, NM3, NUMBER_OK),
            Ask(1, N12, NUMBER_OK),
            AskOr(1, STOP, STOP_M3_12, LEGACY_M3_12, "minimum/maximum keys"),
        ],
    ),
    script(
        "server/3/stop-one-number",
        Seed,
        "with one number, min and max are that number",
        &[
            Ask(1, r#"{"op": "START", "client_id": "single", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 42}"#, NUMBER_OK),
            Ask(1, STOP, r#"{"op": "STOP", "status": true, "min": 42, "max": 42}"#),
        ],
    ),
    script(
        "server/3/stop-negative-numbers",
        Seed,
        "negative numbers only: min and max are compared as numbers",
        &[
            Ask(1, r#"{"op": "START", "client_id": "negatives", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": -5}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": -10}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": -9}"#, NUMBER_OK),
            Ask(1, STOP, r#"{"op": "STOP", "status": true, "min": -10, "max": -5}"#),
        ],
    ),
    script(
        "server/3/numbers-compared-not-text",
        Seed,
        "9 and 10 are compared as numbers, not as text",
        &[
            Ask(1, r#"{"op": "START", "client_id": "numeric", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 9}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 10}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 100}"#, NUMBER_OK),
            Ask(1, STOP, r#"{"op": "STOP", "status": true, "min": 9, "max": 100}"#),
        ],
    ),
    script(
        "server/3/minus-zero-is-zero",
        Seed,
        "-0 is the integer 0",
        &[
            Ask(1, r#"{"op": "START", "client_id": "zeros", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": -0}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 0}"#, NUMBER_OK),
            Ask(1, STOP, r#"{"op": "STOP", "status": true, "min": 0, "max": 0}"#),
        ],
    ),
    script(
        "server/3/quit-accepted",
        Seed,
        "QUIT on an active session is accepted",
        &[
            Ask(1, r#"{"op": "START", "client_id": "quits", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/3/extra-keys-ignored",
        Seed,
        "keys beyond those listed are ignored",
        &[
            Ask(
                1,
                r#"{"op": "START", "client_id": "extra-keys", "cipher": null, "version": [1, 2]}"#,
                START_OK,
            ),
            Ask(1, r#"{"op": "NUMBER", "number": 5, "note": "x"}"#, NUMBER_OK),
            Ask(1, r#"{"op": "STOP", "client_id": "someone-else"}"#, STOP_5_5),
        ],
    ),
    code(
        "server/3/thousand-numbers",
        Seed,
        "a session of 1000 numbers gets their exact min and max",
        "#1 > START thousand, then {\"op\": \"NUMBER\", \"number\": N} for N = (i * 7919) mod 1000 - 500, i = 1..1000, each < {\"op\": \"NUMBER\", \"status\": true}\n\
         #1 > {\"op\": \"STOP\"}\n#1 < {\"op\": \"STOP\", \"status\": true, \"min\": -500, \"max\": 499}",
        super::Needs { fresh: false, report: false, encryption: false },
        custom::thousand_numbers,
    ),
    // §4 Errors.
    script(
        "server/4/start-duplicate-id",
        Seed,
        "START with an id active on another connection is refused",
        &[
            Ask(1, r#"{"op": "START", "client_id": "twin", "cipher": null}"#, START_OK),
            Ask(2, r#"{"op": "START", "client_id": "twin", "cipher": null}"#, START_EXISTS),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/4/number-without-session",
        Seed,
        "NUMBER without a session is Cliente inexistente",
        &[Ask(1, N5, NUMBER_NO_CLIENT)],
    ),
    script(
        "server/4/stop-without-session",
        Seed,
        "STOP without a session is Cliente inexistente",
        &[Ask(1, STOP, STOP_NO_CLIENT)],
    ),
    script(
        "server/4/quit-without-session",
        Seed,
        "QUIT without a session is Cliente inexistente",
        &[Ask(1, QUIT, QUIT_NO_CLIENT)],
    ),
    script(
        "server/4/stop-without-numbers",
        Seed,
        "STOP with no number is Dados insuficientes and ends the session",
        &[
            Ask(1, r#"{"op": "START", "client_id": "empty-handed", "cipher": null}"#, START_OK),
            Ask(1, STOP, STOP_NO_DATA),
            Ask(1, N5, NUMBER_NO_CLIENT),
        ],
    ),
    script(
        "server/4/number-after-stop",
        Seed,
        "NUMBER after a successful STOP is Cliente inexistente",
        &[
            Ask(1, r#"{"op": "START", "client_id": "stopped", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Ask(1, N5, NUMBER_NO_CLIENT),
            Ask(1, STOP, STOP_NO_CLIENT),
        ],
    ),
    script(
        "server/4/refused-start-changes-nothing",
        Seed,
        "a refused START leaves both connections as they were",
        &[
            Ask(1, r#"{"op": "START", "client_id": "owner", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(2, r#"{"op": "START", "client_id": "owner", "cipher": null}"#, START_EXISTS),
            Ask(2, N12, NUMBER_NO_CLIENT),
            Ask(1, NM3, NUMBER_OK),
            Ask(1, STOP, r#"{"op": "STOP", "status": true, "min": -3, "max": 5}"#),
        ],
    ),
    script(
        "server/4/error-strings-exact",
        Ext,
        "the three errors of the assignment, byte for byte",
        &[
            Ask(1, r#"{"op": "START", "client_id": "exact-errors", "cipher": null}"#, START_OK),
            Ask(2, r#"{"op": "START", "client_id": "exact-errors", "cipher": null}"#, START_EXISTS),
            Ask(2, N5, NUMBER_NO_CLIENT),
            Ask(1, STOP, STOP_NO_DATA),
        ],
    ),
    script(
        "server/4/unknown-op",
        Ext,
        "an unknown op is echoed and refused",
        &[Ask(
            1,
            r#"{"op": "PING"}"#,
            r#"{"op": "PING", "status": false, "error": "Opera\u00e7\u00e3o desconhecida"}"#,
        )],
    ),
    script(
        "server/4/op-missing",
        Ext,
        "a request without op is Mensagem inválida with op null",
        &[Ask(1, r#"{"client_id": "no-op"}"#, INVALID)],
    ),
    script(
        "server/4/op-not-a-string",
        Ext,
        "an op that is not a string is Mensagem inválida with op null",
        &[Ask(1, r#"{"op": 5}"#, INVALID), Ask(1, r#"{"op": null}"#, INVALID)],
    ),
    script(
        "server/4/start-twice",
        Ext,
        "START on a connection that holds a session is Sessão já iniciada",
        &[
            Ask(1, r#"{"op": "START", "client_id": "twice", "cipher": null}"#, START_OK),
            Ask(
                1,
                r#"{"op": "START", "client_id": "twice-other", "cipher": null}"#,
                r#"{"op": "START", "status": false, "error": "Sess\u00e3o j\u00e1 iniciada"}"#,
            ),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/4/id-missing-or-not-text",
        Ext,
        "START without a string client_id is Identificador inválido",
        &[
            Ask(1, r#"{"op": "START", "cipher": null}"#, INVALID_ID),
            Ask(1, r#"{"op": "START", "client_id": 7, "cipher": null}"#, INVALID_ID),
            Ask(1, r#"{"op": "START", "client_id": null}"#, INVALID_ID),
        ],
    ),
    script(
        "server/4/id-empty",
        Ext,
        "an empty client_id is Identificador inválido",
        &[Ask(1, r#"{"op": "START", "client_id": "", "cipher": null}"#, INVALID_ID)],
    ),
    script(
        "server/4/id-formula",
        Ext,
        "an id starting with = + - @ (a spreadsheet formula) is refused",
        &[
            Ask(1, r#"{"op": "START", "client_id": "=1+1", "cipher": null}"#, INVALID_ID),
            Ask(1, r#"{"op": "START", "client_id": "@SUM(A1)", "cipher": null}"#, INVALID_ID),
            Ask(1, r#"{"op": "START", "client_id": "-5", "cipher": null}"#, INVALID_ID),
        ],
    ),
    script(
        "server/4/id-too-long",
        Ext,
        "an id longer than 64 bytes is refused",
        &[
            Ask(
                1,
                r#"{"op": "START", "client_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "cipher": null}"#,
                INVALID_ID,
            ),
            Ask(
                1,
                r#"{"op": "START", "client_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "cipher": null}"#,
                START_OK,
            ),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/4/id-control-character",
        Ext,
        "an id holding a control character is refused",
        &[Ask(1, r#"{"op": "START", "client_id": "line\nbreak", "cipher": null}"#, INVALID_ID)],
    ),
    script(
        "server/4/cipher-not-base64",
        Ext,
        "a cipher that is not base64 is Chave inválida",
        &[Ask(1, r#"{"op": "START", "client_id": "badkey", "cipher": "not base64!"}"#, INVALID_KEY)],
    ),
    script(
        "server/4/cipher-wrong-length",
        Ext,
        "a key that is not 16, 24 or 32 bytes is Chave inválida",
        &[
            Ask(1, r#"{"op": "START", "client_id": "shortkey", "cipher": "AAECAwQFBgcICQ=="}"#, INVALID_KEY),
            Ask(1, r#"{"op": "START", "client_id": "shortkey", "cipher": 5}"#, INVALID_KEY),
        ],
    ),
    script(
        "server/4/key-checked-before-uniqueness",
        Ext,
        "errors come in §4's order: the key before the id's uniqueness",
        &[
            Ask(1, r#"{"op": "START", "client_id": "order", "cipher": null}"#, START_OK),
            Ask(2, r#"{"op": "START", "client_id": "order", "cipher": "%%%"}"#, INVALID_KEY),
            Ask(2, r#"{"op": "START", "client_id": "", "cipher": "%%%"}"#, INVALID_ID),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/4/state-checked-before-fields",
        Ext,
        "errors come in §4's order: no session before an invalid number",
        &[Ask(1, r#"{"op": "NUMBER", "number": "x"}"#, NUMBER_NO_CLIENT)],
    ),
    script(
        "server/4/number-not-an-integer",
        Ext,
        "floats, booleans, null, text and a missing number are Número inválido",
        &[
            Ask(1, r#"{"op": "START", "client_id": "not-int", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 1.0}"#, INVALID_NUMBER),
            Ask(1, r#"{"op": "NUMBER", "number": 1e3}"#, INVALID_NUMBER),
            Ask(1, r#"{"op": "NUMBER", "number": true}"#, INVALID_NUMBER),
            Ask(1, r#"{"op": "NUMBER", "number": null}"#, INVALID_NUMBER),
            Ask(1, r#"{"op": "NUMBER", "number": "abc"}"#, INVALID_NUMBER),
            Ask(1, r#"{"op": "NUMBER"}"#, INVALID_NUMBER),
            Ask(1, STOP, STOP_NO_DATA),
        ],
    ),
    script(
        "server/4/number-1e400",
        Ext,
        "1E400 is Número inválido, not Mensagem inválida: the parser keeps numbers",
        &[
            Ask(1, r#"{"op": "START", "client_id": "huge-exp", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 1E400}"#, INVALID_NUMBER),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    // §5 Numbers and encryption.
    script(
        "server/5/beyond-64-bits",
        Seed,
        "integers beyond 64 bits are exact, never through a float",
        &[
            Ask(1, r#"{"op": "START", "client_id": "big", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 100000000000000000001}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": -1180591620717411303424}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": 18446744073709551616}"#, NUMBER_OK),
            Ask(
                1,
                STOP,
                r#"{"op": "STOP", "status": true, "min": -1180591620717411303424, "max": 100000000000000000001}"#,
            ),
            Rows(&["big,3,-1180591620717411303424,100000000000000000001"]),
        ],
    ),
    code(
        "server/5/4300-digits",
        Ext,
        "a 4300-digit integer is exact; 4301 digits is Número inválido",
        "#1 > START digits, NUMBER 10^4299 (4300 digits), NUMBER -(10^4299)\n\
         #1 < {\"op\": \"NUMBER\", \"status\": true} each\n\
         #1 > NUMBER 10^4300 (4301 digits)\n#1 < {\"op\": \"NUMBER\", \"status\": false, \"error\": \"N\\u00famero inv\\u00e1lido\"}\n\
         #1 > {\"op\": \"STOP\"}\n#1 < {\"op\": \"STOP\", \"status\": true, \"min\": -(10^4299), \"max\": 10^4299}, every digit",
        super::Needs { fresh: false, report: false, encryption: false },
        custom::digits_4300,
    ),
    script(
        "server/5/numeric-strings",
        Ext,
        "in plain mode a string holding a decimal integer is a number",
        &[
            Ask(1, r#"{"op": "START", "client_id": "strings", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "5"}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": " -3 "}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "+12"}"#, NUMBER_OK),
            Ask(1, STOP, STOP_M3_12),
        ],
    ),
    encrypted(
        "server/5/encrypted-session",
        Seed,
        "an encrypted session: numbers decrypted, min and max encrypted back",
        &[
            Ask(
                1,
                r#"{"op": "START", "client_id": "manel", "cipher": "AAECAwQFBgcICQoLDA0ODw=="}"#,
                START_OK,
            ),
            Ask(1, r#"{"op": "NUMBER", "number": "iFRQL13QPmN6l89HvsMkvg=="}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "ab+wyu9t09q3PYuOMUdUlA=="}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "rgv7iKckJGLZDWw8tpfgpw=="}"#, NUMBER_OK),
            AskOr(
                1,
                STOP,
                r#"{"op": "STOP", "status": true, "min": "ab+wyu9t09q3PYuOMUdUlA==", "max": "rgv7iKckJGLZDWw8tpfgpw=="}"#,
                STOP_M3_12,
                "min and max sent back unencrypted",
            ),
            Rows(&["manel,3,-3,12"]),
        ],
    ),
    encrypted(
        "server/5/encrypted-extremes",
        Seed,
        "the largest and smallest %16d integers travel encrypted",
        &[
            Ask(
                1,
                r#"{"op": "START", "client_id": "extremes", "cipher": "AAECAwQFBgcICQoLDA0ODw=="}"#,
                START_OK,
            ),
            Ask(1, r#"{"op": "NUMBER", "number": "jzdoSsLEFGdG1Sc7MUNlag=="}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "avxkB3SPG+kIVNqJl7x23g=="}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "ffz9377r26EmgGTuj3qrlA=="}"#, NUMBER_OK),
            AskOr(
                1,
                STOP,
                r#"{"op": "STOP", "status": true, "min": "avxkB3SPG+kIVNqJl7x23g==", "max": "jzdoSsLEFGdG1Sc7MUNlag=="}"#,
                r#"{"op": "STOP", "status": true, "min": -999999999999999, "max": 9999999999999999}"#,
                "min and max sent back unencrypted",
            ),
        ],
    ),
    encrypted(
        "server/5/encrypted-beside-plain",
        Seed,
        "an encrypted and a plain session at once each keep their mode and key",
        &[
            Ask(
                1,
                r#"{"op": "START", "client_id": "secret", "cipher": "KTYMuvoUp2lVrIp+4Eh+MA=="}"#,
                START_OK,
            ),
            Ask(2, r#"{"op": "START", "client_id": "open", "cipher": null}"#, START_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "kcy+ldN3RzqaFEcJre33BA=="}"#, NUMBER_OK),
            Ask(2, N12, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "loBCIM+Y74LbgNUuZUkvqw=="}"#, NUMBER_OK),
            Ask(2, NM3, NUMBER_OK),
            AskOr(
                1,
                STOP,
                r#"{"op": "STOP", "status": true, "min": "kcy+ldN3RzqaFEcJre33BA==", "max": "loBCIM+Y74LbgNUuZUkvqw=="}"#,
                r#"{"op": "STOP", "status": true, "min": 5, "max": 42}"#,
                "min and max sent back unencrypted",
            ),
            Ask(2, STOP, STOP_M3_12),
        ],
    ),
    encrypted(
        "server/5/encrypted-plain-integer-refused",
        Ext,
        "a JSON integer in an encrypted session is Número inválido",
        &[
            Ask(
                1,
                r#"{"op": "START", "client_id": "mixed", "cipher": "AAECAwQFBgcICQoLDA0ODw=="}"#,
                START_OK,
            ),
            Ask(1, N5, INVALID_NUMBER),
            Ask(1, r#"{"op": "NUMBER", "number": "5"}"#, INVALID_NUMBER),
            Ask(1, r#"{"op": "NUMBER", "number": "AAAA"}"#, INVALID_NUMBER),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    encrypted(
        "server/5/keys-of-24-and-32-bytes",
        Ext,
        "AES-192 and AES-256 keys work as pycryptodome's do",
        &[
            Ask(
                1,
                r#"{"op": "START", "client_id": "k24", "cipher": "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7"}"#,
                START_OK,
            ),
            Ask(1, r#"{"op": "NUMBER", "number": "OAC8VxSo6lFb39qATpXreA=="}"#, NUMBER_OK),
            Ask(1, r#"{"op": "NUMBER", "number": "mEwgz48xLII7xaIUzApDUg=="}"#, NUMBER_OK),
            Ask(
                1,
                STOP,
                r#"{"op": "STOP", "status": true, "min": "OAC8VxSo6lFb39qATpXreA==", "max": "mEwgz48xLII7xaIUzApDUg=="}"#,
            ),
            Ask(
                2,
                r#"{"op": "START", "client_id": "k32", "cipher": "yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5uc="}"#,
                START_OK,
            ),
            Ask(2, r#"{"op": "NUMBER", "number": "C+RHn1JcoIbRp3E00v8NMQ=="}"#, NUMBER_OK),
            Ask(
                2,
                STOP,
                r#"{"op": "STOP", "status": true, "min": "C+RHn1JcoIbRp3E00v8NMQ==", "max": "C+RHn1JcoIbRp3E00v8NMQ=="}"#,
            ),
        ],
    ),
    // §6 The report.
    script(
        "server/6/header-written",
        Seed,
        "the report exists with its header once the server serves",
        &[
            Ask(1, r#"{"op": "START", "client_id": "header-only", "cipher": null}"#, START_OK),
            Rows(&[]),
            Ask(1, QUIT, QUIT_OK),
        ],
    ),
    script(
        "server/6/row-after-stop",
        Seed,
        "after a STOP the report holds its row: id, count, min, max",
        &[
            Ask(1, r#"{"op": "START", "client_id": "anton", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, NM3, NUMBER_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, STOP, STOP_M3_12),
            Rows(&["anton,3,-3,12"]),
        ],
    ),
    script(
        "server/6/row-after-each-stop",
        Seed,
        "each STOP adds its row at once, in order",
        &[
            Ask(1, r#"{"op": "START", "client_id": "r1", "cipher": null}"#, START_OK),
            Ask(2, r#"{"op": "START", "client_id": "r2", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(2, N12, NUMBER_OK),
            Ask(2, NM3, NUMBER_OK),
            Ask(2, STOP, STOP_M3_12),
            Rows(&["r2,2,-3,12"]),
            Ask(1, STOP, STOP_5_5),
            Rows(&["r2,2,-3,12", "r1,1,5,5"]),
            Ask(1, r#"{"op": "START", "client_id": "r1", "cipher": null}"#, START_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, STOP, r#"{"op": "STOP", "status": true, "min": 12, "max": 12}"#),
            Rows(&["r2,2,-3,12", "r1,1,5,5", "r1,1,12,12"]),
        ],
    ),
    code(
        "server/6/row-before-reply",
        Seed,
        "the row is in the report before the STOP reply: SIGKILL right after it and look",
        "#1 > START durable, NUMBER 5, NUMBER -3, NUMBER 12, STOP\n#1 < {\"op\": \"STOP\", \"status\": true, \"min\": -3, \"max\": 12}\n\
         the server is killed with SIGKILL as soon as the reply arrives\nreport.csv: client_id,count,min,max\\r\\ndurable,3,-3,12\\r\\n",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::row_before_reply,
    ),
    script(
        "server/6/no-row-for-failed-stop",
        Seed,
        "a STOP without numbers writes no row",
        &[
            Ask(1, r#"{"op": "START", "client_id": "nothing", "cipher": null}"#, START_OK),
            Ask(1, STOP, STOP_NO_DATA),
            Ask(1, r#"{"op": "START", "client_id": "something", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Rows(&["something,1,5,5"]),
        ],
    ),
    script(
        "server/6/csv-quoting",
        Seed,
        "an id with a comma and quotes is quoted as Python's csv writes it",
        &[
            Ask(1, r#"{"op": "START", "client_id": "Silva, \"Zé\"", "cipher": null}"#, START_OK),
            Ask(1, N5, NUMBER_OK),
            Ask(1, STOP, STOP_5_5),
            Rows(&["\"Silva, \"\"Zé\"\"\",1,5,5"]),
        ],
    ),
    script(
        "server/6/non-ascii-id-in-utf8",
        Seed,
        "a non-ASCII id is written in UTF-8",
        &[
            Ask(1, r#"{"op": "START", "client_id": "Jo\u00e3o", "cipher": null}"#, START_OK),
            Ask(1, N12, NUMBER_OK),
            Ask(1, STOP, r#"{"op": "STOP", "status": true, "min": 12, "max": 12}"#),
            Rows(&["João,1,12,12"]),
        ],
    ),
    code(
        "server/6/existing-report-appended",
        Seed,
        "an existing report is appended to, its rows kept",
        "report.csv before the start: client_id,count,min,max\\r\\nearlier,2,1,9\\r\\n\n\
         #1 > START later, NUMBER 5, STOP  < {\"op\": \"STOP\", \"status\": true, \"min\": 5, \"max\": 5}\n\
         report.csv: client_id,count,min,max\\r\\nearlier,2,1,9\\r\\nlater,1,5,5\\r\\n",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::existing_report,
    ),
    code(
        "server/6/torn-last-line-cut",
        Ext,
        "a last line without its line end (a crash mid-write) is cut at start",
        "report.csv before the start: client_id,count,min,max\\r\\nearlier,2,1,9\\r\\ntorn,3,-\n\
         #1 > START after-crash, NUMBER 5, STOP  < {\"op\": \"STOP\", \"status\": true, \"min\": 5, \"max\": 5}\n\
         report.csv: client_id,count,min,max\\r\\nearlier,2,1,9\\r\\nafter-crash,1,5,5\\r\\n",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::torn_line,
    ),
    code(
        "server/6/partial-header-completed",
        Ext,
        "a report holding only a beginning of the header gets the whole header",
        "report.csv before the start: client_id,co\n#1 > START half, NUMBER 5, STOP\n\
         report.csv: client_id,count,min,max\\r\\nhalf,1,5,5\\r\\n",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::partial_header,
    ),
    code(
        "server/6/foreign-report-refused",
        Ext,
        "a report with another first line stops the server (exit 5), untouched",
        "report.csv before the start: name,value\\r\\nx,1\\r\\n\nthe server exits with code 5; report.csv is unchanged",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::foreign_report,
    ),
    code(
        "server/6/report-removed-recreated",
        Ext,
        "a report removed while the server runs is created again, header first",
        "#1 > START moved, NUMBER 5; report.csv is removed; #1 > STOP < {\"op\": \"STOP\", \"status\": true, \"min\": 5, \"max\": 5}\n\
         report.csv: client_id,count,min,max\\r\\nmoved,1,5,5\\r\\n",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::report_removed,
    ),
    code(
        "server/6/report-truncated",
        Ext,
        "a report truncated while the server runs starts again with the header",
        "#1 > START cut, NUMBER 5, STOP; report.csv is truncated to 0 bytes; #1 > START cut, NUMBER 12, STOP\n\
         report.csv: client_id,count,min,max\\r\\ncut,1,12,12\\r\\n",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::report_truncated,
    ),
    // §7 Command line and exit codes.
    code(
        "server/7/no-arguments-exit-1",
        Seed,
        "the server without its port argument exits with code 1",
        "the command without {port}: exit code 1",
        super::Needs { fresh: true, report: false, encryption: false },
        custom::no_arguments,
    ),
    code(
        "server/7/extra-argument-exit-1",
        Seed,
        "the server with one argument too many exits with code 1",
        "the command with {port} and one more word `extra`: exit code 1",
        super::Needs { fresh: true, report: false, encryption: false },
        custom::extra_argument,
    ),
    code(
        "server/7/port-not-a-number-exit-2",
        Seed,
        "a port that is not a number is exit code 2",
        "the command with {port} = abc: exit code 2",
        super::Needs { fresh: true, report: false, encryption: false },
        custom::port_not_a_number,
    ),
    code(
        "server/7/port-out-of-range-exit-2",
        Seed,
        "a port above 65535 is exit code 2",
        "the command with {port} = 70000: exit code 2",
        super::Needs { fresh: true, report: false, encryption: false },
        custom::port_out_of_range,
    ),
    code(
        "server/7/negative-port-exit-2",
        Seed,
        "a negative port is exit code 2",
        "the command with {port} = -1: exit code 2",
        super::Needs { fresh: true, report: false, encryption: false },
        custom::negative_port,
    ),
    code(
        "server/7/port-in-use-exit-2",
        Ext,
        "a port already in use is exit code 2",
        "the command with {port} = a port the tool listens on: exit code 2",
        super::Needs { fresh: true, report: false, encryption: false },
        custom::port_in_use,
    ),
    code(
        "server/7/sigterm-exit-0",
        Ext,
        "SIGTERM shuts the server down cleanly: exit 0, rows kept",
        "#1 > START term, NUMBER 5, STOP  < {\"op\": \"STOP\", \"status\": true, \"min\": 5, \"max\": 5}; SIGTERM\n\
         exit code 0; report.csv: client_id,count,min,max\\r\\nterm,1,5,5\\r\\n",
        super::Needs { fresh: true, report: true, encryption: false },
        custom::sigterm,
    ),
    code(
        "server/7/unusable-report-exit-5",
        Ext,
        "a report path that cannot be used (a directory) is exit code 5",
        "report.csv is a directory before the start: exit code 5",
        super::Needs { fresh: true, report: false, encryption: false },
        custom::unusable_report,
    ),
];
