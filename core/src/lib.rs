//! minmax-core: the minmax protocol (see `docs/PROTOCOL.md`) as a sans-IO state
//! machine.
//!
//! This crate decides everything the protocol says and performs nothing: it never
//! touches a socket, a file, a clock, a thread, the random source or standard
//! output. Bytes, connection events, the time and keys come in as arguments; replies,
//! report rows and closes go out as values ([`Effect`], [`ClientAction`]) for an I/O
//! layer (the `minmax-net` crate) to carry out.
//!
//! # The server's run loop
//!
//! An I/O layer drives one [`Server`] for all its connections:
//!
//! 1. **Wait** for a socket to be ready, or until [`Server::poll_timeout`].
//! 2. **Connect**: for each accepted connection, [`Server::handle_connect`] gives its
//!    [`ConnId`] (and, past `--max-connections`, the busy reply and a close).
//! 3. **Read**: feed each read's bytes to [`Server::handle_input`]; a peer that went
//!    away is [`Server::handle_disconnect`].
//! 4. **Time**: call [`Server::handle_timeout`] with the clock's reading.
//! 5. **Carry out** every [`Effect`] each call returned, in order: send replies;
//!    append [`Effect::Record`] rows to the report and hold the STOP reply behind
//!    each until its row is durable; close what is closed.
//! 6. **Release** held replies once their rows are durable; if a row cannot be made
//!    durable, [`Server::handle_write_failed`] says what to send instead.
//!
//! With a store shared by several servers (§10, `Config::shared_ids`), a START's id
//! is claimed there first ([`Effect::Claim`], answered by [`Server::handle_claimed`])
//! and every session's end releases it ([`Effect::Release`]).
//!
//! The client is the same shape: [`Client::step`] for events, [`Client::poll_timeout`]
//! and [`Client::handle_timeout`] for its deadlines, and [`ClientAction`]s out.
//!
//! Modules, by PROTOCOL section: [`codec`] framing (§1); [`message`] the
//! vocabulary: operations, error codes and their strings, replies (§3, §4);
//! [`request`] reading and writing requests (§3-§5); [`reply`] the client's liberal
//! reading of replies (§7); [`int`] exact integers and [`cipher`] the AES scheme
//! (§5); `session` the transition table (§2-§4); [`effect`] what the server asks
//! its caller to do; [`server`] all sessions and timeouts; [`client`] the client's
//! behaviour (§7); [`report`] the CSV report (§6); [`exit`] the exit codes (§7);
//! [`pyjson`] JSON as Python reads and writes it (§1); [`time`] the caller's clock
//! readings.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cipher;
pub mod client;
pub mod codec;
pub mod effect;
pub mod exit;
pub mod int;
pub mod message;
pub mod pyjson;
pub mod reply;
pub mod report;
pub mod request;
pub mod server;
mod session;
pub mod time;

pub use cipher::Cipher;
pub use client::{Client, ClientAction, ClientConfig, ClientEvent, ConnectFailure, TlsFailure, TlsSettings};
pub use codec::{Decoded, Decoder};
pub use effect::{CloseReason, ConnId, Effect, Effects, EndedSession, SessionEnd};
pub use exit::Exit;
pub use int::Int;
pub use message::{ErrorCode, Number, Op, Response};
pub use report::{ReportRow, RowWriter};
pub use server::{Claim, Config, Server, Transport};
pub use time::Timestamp;
