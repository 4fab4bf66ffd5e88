//! minmax-net: minmax's input and output. It carries out what `minmax-core` decides:
//! sockets, the server's event loop, the durable report file, and the client's
//! blocking transport.
//!
//! It must never decide a protocol rule: every reply, limit and timeout comes from
//! `minmax_core`. It must never block the server's event loop on the disk (the report
//! has its own writer thread) nor use `select` (it stops at descriptor 1024).
//!
//! Modules: [`event_loop`] the server on `polling`, `conn` one connection's buffers
//! and interest, [`report_file`] report.csv and its group-commit writer, [`client`]
//! the client's transport, [`nonblocking`] loops over nonblocking sockets.
#![warn(missing_docs)]

pub mod client;
mod conn;
pub mod event_loop;
pub mod nonblocking;
pub mod report_file;

pub use event_loop::{EventLoop, RunError, Settings, StartError};
