//! minmax-core: the minmax protocol (see `docs/PROTOCOL.md`) as a sans-IO state
//! machine.
//!
//! This crate decides everything the protocol says and performs nothing: it never
//! touches a socket, a file, a clock, a thread, the random source or standard
//! output. Bytes, connection events, the time and keys come in as arguments; replies,
//! report rows and closes go out as values ([`Effect`], [`ClientAction`]) for an I/O
//! layer (the `minmax-net` crate) to carry out.
//!
//! Modules, by PROTOCOL section: [`codec`] framing (§1), [`message`] requests,
//! replies and the error strings (§3, §4), [`int`] exact integers (§5), [`cipher`]
//! the AES scheme (§5), `session` the transition table (§2-§4), [`server`] all
//! sessions and timeouts, [`client`] the client's behaviour, [`args`] ports and hosts and [`exit`] the exit codes (§7), [`report`] the
//! CSV report (§6), [`pyjson`] Python-compatible JSON strings (§1), [`time`] the
//! caller's clock readings.
#![warn(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod args;
pub mod cipher;
pub mod client;
pub mod codec;
pub mod exit;
pub mod int;
pub mod message;
pub mod pyjson;
pub mod report;
pub mod server;
mod session;
pub mod time;

pub use cipher::Cipher;
pub use client::{Client, ClientAction, ClientConfig, ClientEvent};
pub use codec::{Decoded, Decoder};
pub use exit::Exit;
pub use int::Int;
pub use message::{ErrorCode, Op, Response};
pub use report::ReportRow;
pub use server::{CloseReason, Config, ConnId, Effect, Server};
pub use session::{EndedSession, SessionEnd};
pub use time::Timestamp;
