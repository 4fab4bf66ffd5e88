//! minmax-bins: what the minmax programs share around the library crates: argument
//! parsing that maps to PROTOCOL §7's exit codes, and logging set-up. The protocol
//! lives in `minmax-core`, the I/O in `minmax-net`; the programs in `src/bin` only
//! parse, set up and report.
//!
//! Modules: [`bench`](mod@bench) the load generator and ceiling server, [`certs`] TLS
//! certificates without openssl, [`cli`] argument values
//! and exit codes, [`client`] the client program around its transport loop,
//! [`conform`] the conformance battery and grader (independent of the library crates
//! it judges),
//! [`logging`] the log format.
#![warn(missing_docs)]

pub mod bench;
pub mod certs;
pub mod cli;
pub mod client;
pub mod conform;
pub mod logging;
