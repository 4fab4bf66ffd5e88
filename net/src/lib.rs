//! minmax-net: minmax's input and output. It carries out what `minmax-core` decides:
//! sockets, the server's event loop, the durable report file, metrics, and the
//! client's transport loop.
//!
//! It must never decide a protocol rule: every reply, limit and timeout comes from
//! `minmax_core`. It must never block the server's event loop on the disk (the report
//! has its own writer thread) nor use `select` (it stops at descriptor 1024).
//!
//! Modules: [`event_loop`] the server on `polling`; `conn` one connection's output,
//! durability holds and interest; [`report`] report.csv, followed by its path, and
//! its group-commit writer; [`metrics`] the Prometheus endpoint; [`rate_limit`] log
//! lines of lasting conditions; [`registered`] the one `unsafe` block, a source
//! registered with a poller; [`store`] ids and the report in PostgreSQL for several
//! servers; [`client`] the client's transport loop, plain or TLS; [`nonblocking`] loops over
//! nonblocking sockets; [`tls`] the TLS files and the client identity.
#![warn(missing_docs)]

pub mod client;
mod conn;
pub mod event_loop;
pub mod metrics;
pub mod nonblocking;
pub mod rate_limit;
pub mod registered;
pub mod report;
pub mod store;
pub mod tls;

/// Locks a mutex of the writer threads (report, store). Their critical sections move
/// vectors and set flags, and cannot panic midway: a poisoned lock still guards
/// consistent data, and the thread that panicked reports its own failure.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub use event_loop::{EventLoop, RunError, Settings, Signals, StartError};
pub use metrics::Metrics;
pub use registered::Registered;
pub use tls::{TlsError, TlsFiles};
