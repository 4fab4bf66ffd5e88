//! `report.csv` on disk (PROTOCOL §6): the file, checked and repaired at start-up and
//! followed by its path while the server runs ([`file`](mod@file)), and the thread that makes
//! rows durable in batches, group commit ([`writer`]).

pub mod file;
pub mod writer;

pub use file::{ReportError, ReportFile};
pub use writer::{ReportFailure, ReportWriter};
