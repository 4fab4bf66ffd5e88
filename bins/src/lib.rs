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

/// `print!` for output a reader may stop reading (`minmax-conform --list | head`):
/// a closed pipe ends the output, not the program, where `print!` would panic. The
/// results that matter are also in the report files and the exit code.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!` as [`out!`] is `print!`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
