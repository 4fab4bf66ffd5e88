//! The report's writer thread: rows made durable in batches (group commit, §6).
//!
//! The event loop never touches the file. It queues rows with [`ReportWriter::queue`],
//! each tagged with an increasing sequence number, and hands them over once per pass
//! with [`ReportWriter::commit`]. The writer thread follows the report's path,
//! appends whatever has queued up, syncs once, publishes the last durable sequence
//! number and wakes the loop. While it syncs, the next batch queues.
//!
//! A failed write or sync is final (§6): the writer cuts the file back to its length
//! after the last durable batch, records the failure, wakes the loop (which fails
//! stop) and writes nothing more. It never retries an fsync whose failure may have
//! dropped data.

use super::file::{Change, ReportError, ReportFile};
use crate::lock;
use crate::metrics::Metrics;
use minmax_core::report::Inspection;
use minmax_core::{ReportRow, RowWriter};
use polling::Poller;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The group-commit window: under load, a sync starts no sooner than this after the
/// previous one started, so that the rows of more sessions share it.
///
/// On an appending file every sync commits the file system's journal: on the
/// reference machine about 115 us of the syncing thread's CPU, more in the journal
/// and interrupts, all taken from the one CPU the server is given. Measured there
/// with 50 strict connections ending sessions with STOP: no window, 5 rows per sync
/// and about 73 000 requests/s; 1 ms, 9 rows and 78 000; 2 ms, 17 rows and 88 000; 3
/// and 5 ms, fewer requests again, as more clients sit waiting on their STOP. Under
/// light load the previous sync is older than the window and nothing waits.
pub const COMMIT_WINDOW: Duration = Duration::from_millis(2);

/// A batch this large syncs at once, window or not. Waiting pays only while syncs
/// cost more CPU than the requests they hold back: at a high rate of STOPs
/// (pipelined clients, whose every reply waits behind their STOP's) this many rows
/// gather in a fraction of the window, and waiting longer would only stall them.
pub const COMMIT_BATCH: usize = 32;

/// Why the report failed while the server ran: the server fails stop (§6, exit 5).
#[derive(Debug)]
pub struct ReportFailure {
    /// The report's path.
    pub path: PathBuf,
    /// What failed.
    pub cause: FailureCause,
    /// Whether the file could be cut back to its last durable length, which is given.
    pub cut_back: Result<u64, CutBackFailed>,
}

/// What made the report fail.
#[derive(Debug)]
pub enum FailureCause {
    /// Writing or syncing a batch failed (a full disk, an I/O error).
    Write(io::Error),
    /// Following the path found a report that cannot be used (§6).
    Follow(ReportError),
    /// The writer thread panicked: a bug.
    Panicked,
}

/// The file could not be cut back after a failed batch: a person must do it.
#[derive(Debug)]
pub struct CutBackFailed {
    /// The length the file must be cut to: everything after it was never acknowledged.
    pub offset: u64,
    /// The system's error.
    pub source: io::Error,
}

impl std::fmt::Display for ReportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match &self.cause {
            FailureCause::Write(error) => write!(f, "writing to the report {path} failed: {error}")?,
            FailureCause::Follow(error) => write!(f, "{error}")?,
            FailureCause::Panicked => write!(f, "the writer of the report {path} panicked")?,
        }
        match &self.cut_back {
            Ok(len) => write!(f, "; the report was cut back to its {len} durable bytes"),
            Err(CutBackFailed { offset, source }) => write!(
                f,
                "; cutting the report back to its durable length failed too ({source}): \
                 before the next start, cut {path} to {offset} bytes (truncate -s {offset} {path}), \
                 since the rows after that offset were never acknowledged"
            ),
        }
    }
}

impl std::error::Error for ReportFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            FailureCause::Write(error) => Some(error),
            FailureCause::Follow(error) => Some(error),
            FailureCause::Panicked => None,
        }
    }
}

/// Rows waiting for the writer.
#[derive(Default)]
struct Queue {
    rows: Vec<ReportRow>,
    /// The sequence number of the last row in `rows`.
    last_seq: u64,
    /// No more rows will come: write what is queued, then stop.
    closing: bool,
    /// Check the path now (SIGHUP), rows or not.
    recheck: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    more: Condvar,
    /// Every row with a sequence number up to this one is durable.
    durable: AtomicU64,
    /// The report's length after the last durable batch, for a failure report.
    durable_len: AtomicU64,
    /// The report's path, for a failure report.
    path: PathBuf,
    /// Why the writer stopped, if it failed.
    failure: Mutex<Option<ReportFailure>>,
    poller: Arc<Poller>,
    metrics: Metrics,
}

/// The handle to the report's writer thread.
pub struct ReportWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    next_seq: u64,
    /// Rows queued since the last commit: handed over all at once, so the loop takes
    /// the writer's lock once per pass rather than once per row.
    pending: Vec<ReportRow>,
}

impl ReportWriter {
    /// Starts the writer thread on `report`; it wakes `poller` whenever rows become
    /// durable, or when it fails.
    pub fn start(report: ReportFile, poller: Arc<Poller>, metrics: Metrics) -> io::Result<ReportWriter> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            more: Condvar::new(),
            durable: AtomicU64::new(0),
            durable_len: AtomicU64::new(report.durable_len()),
            path: report.path().to_path_buf(),
            failure: Mutex::new(None),
            poller,
            metrics,
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("report-writer".into())
            .spawn(move || write_loop(report, &thread_shared))?;
        Ok(ReportWriter { shared, thread: Some(thread), next_seq: 0, pending: Vec::new() })
    }

    /// Queues a row for the next [`Self::commit`]; returns its sequence number,
    /// durable once [`Self::durable`] reaches it.
    pub fn queue(&mut self, row: ReportRow) -> u64 {
        self.next_seq += 1;
        self.pending.push(row);
        self.next_seq
    }

    /// Hands the queued rows to the writer thread.
    pub fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut queue = lock(&self.shared.queue);
        let writer_may_be_idle = queue.rows.is_empty();
        let batch_fills =
            queue.rows.len() < COMMIT_BATCH && queue.rows.len() + self.pending.len() >= COMMIT_BATCH;
        if writer_may_be_idle {
            // Swapping keeps both vectors' memory in use: no allocation per batch.
            std::mem::swap(&mut queue.rows, &mut self.pending);
        } else {
            queue.rows.append(&mut self.pending);
        }
        queue.last_seq = self.next_seq;
        drop(queue);
        // Rows already queued mean the writer is syncing or gathering a batch and
        // will take these with them: waking it again would only make it preempt the
        // event loop (on a one-CPU server, once per pass) to go back to sleep; unless
        // this commit completes a batch, which syncs without waiting for the window.
        if writer_may_be_idle || batch_fills {
            self.shared.more.notify_one();
        }
    }

    /// Asks the writer to check the report's path now (SIGHUP, §6), rather than at
    /// its next batch.
    pub fn recheck(&self) {
        lock(&self.shared.queue).recheck = true;
        self.shared.more.notify_one();
    }

    /// The highest sequence number such that it and every earlier row are durable.
    pub fn durable(&self) -> u64 {
        self.shared.durable.load(Ordering::Acquire)
    }

    /// Whether the writer failed. A failed writer writes nothing more.
    pub fn has_failed(&self) -> bool {
        lock(&self.shared.failure).is_some()
    }

    /// Makes every queued row durable and stops the thread. Returns the failure, if
    /// the writer failed (now or before).
    pub fn finish(&mut self) -> Result<(), ReportFailure> {
        self.commit();
        lock(&self.shared.queue).closing = true;
        self.shared.more.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            // Nothing was cut back: a person must, at the last length known durable.
            let offset = self.shared.durable_len.load(Ordering::Acquire);
            let source = io::Error::other("the writer thread stopped before it could cut the report back");
            let path = self.shared.path.clone();
            return Err(ReportFailure {
                path,
                cause: FailureCause::Panicked,
                cut_back: Err(CutBackFailed { offset, source }),
            });
        }
        lock(&self.shared.failure).take().map_or(Ok(()), Err)
    }
}

impl Drop for ReportWriter {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn write_loop(mut report: ReportFile, shared: &Shared) {
    let mut batch: Vec<ReportRow> = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut rows = RowWriter::new();
    let mut last_sync: Option<Instant> = None;
    loop {
        let (last_seq, closing, recheck) = {
            let mut queue = lock(&shared.queue);
            while queue.rows.is_empty() && !queue.closing && !queue.recheck {
                queue = shared.more.wait(queue).unwrap_or_else(PoisonError::into_inner);
            }
            // Syncs back to back mean load: let this one gather the rows of the
            // window, or a full batch, whichever comes first.
            while let Some(since) = last_sync.map(|at| at.elapsed()).filter(|&since| since < COMMIT_WINDOW) {
                if queue.closing || queue.rows.is_empty() || queue.rows.len() >= COMMIT_BATCH {
                    break;
                }
                queue = shared
                    .more
                    .wait_timeout(queue, COMMIT_WINDOW - since)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut batch, &mut queue.rows);
            (queue.last_seq, queue.closing, std::mem::take(&mut queue.recheck))
        };
        if recheck {
            info!(report = %report.path().display(), "SIGHUP: checking the report's path");
        }
        if (recheck || !batch.is_empty())
            && let Err(cause) = follow(&mut report, recheck)
        {
            return fail(&report, shared, cause);
        }
        if batch.is_empty() {
            if closing {
                return;
            }
            continue;
        }
        last_sync = Some(Instant::now());
        bytes.clear();
        for row in &batch {
            rows.write(row, &mut bytes);
        }
        let count = batch.len() as u64;
        batch.clear();
        let started = Instant::now();
        match report.append_durably(&bytes) {
            Ok(false) => {}
            Ok(true) => warn!(
                report = %report.path().display(),
                "the report was truncated while rows were written to it: it was started again, header first, \
                 with those rows"
            ),
            Err(error) => return fail(&report, shared, FailureCause::Write(error)),
        }
        // Removed while this batch was written: its rows are in a file no path names,
        // so they go again where the path now points before anyone is told (§6).
        if !report.is_linked().unwrap_or(true) {
            if let Err(cause) = follow(&mut report, false) {
                return fail(&report, shared, cause);
            }
            if let Err(error) = report.append_durably(&bytes) {
                return fail(&report, shared, FailureCause::Write(error));
            }
        }
        shared.durable_len.store(report.durable_len(), Ordering::Release);
        shared.metrics.report_sync_seconds.observe(started.elapsed().as_secs_f64());
        shared.metrics.report_rows_per_sync.observe(count as f64);
        shared.metrics.report_rows.inc_by(count);
        shared.metrics.report_syncs.inc();
        shared.durable.store(last_seq, Ordering::Release);
        let _ = shared.poller.notify();
    }
}

/// Follows the report's path (see [`ReportFile::follow`]) and logs what changed.
fn follow(report: &mut ReportFile, asked: bool) -> Result<(), FailureCause> {
    let path = report.path().display().to_string();
    match report.follow().map_err(FailureCause::Follow)? {
        None if asked => info!(report = %path, "the report's path still names the file in use"),
        None => {}
        Some(Change::Replaced { inspection }) => {
            let found = match inspection {
                Inspection::WriteHeader => "created a new report there (header written)".to_string(),
                other => format!("took the report found there ({other})"),
            };
            warn!(
                report = %path,
                "the report's path no longer named the file in use (removed or renamed): {found}; \
                 rows recorded before stay in the old file"
            );
        }
        Some(Change::Truncated { found, expected, inspection }) => warn!(
            report = %path,
            "the report was truncated from {expected} to {found} bytes while in use: {inspection}"
        ),
    }
    Ok(())
}

/// Records the failure after cutting the file back, and wakes the loop.
fn fail(report: &ReportFile, shared: &Shared, cause: FailureCause) {
    let offset = report.durable_len();
    let cut_back = report.cut_back().map(|()| offset).map_err(|source| CutBackFailed { offset, source });
    *lock(&shared.failure) = Some(ReportFailure { path: report.path().to_path_buf(), cause, cut_back });
    let _ = shared.poller.notify();
}

#[cfg(test)]
mod tests {
    use super::*;
    use minmax_core::Int;
    use minmax_core::report::HEADER_LINE;

    fn row(id: &str) -> ReportRow {
        ReportRow { client_id: id.into(), count: 1, min: Int::from(1), max: Int::from(2) }
    }

    fn wait_durable(writer: &ReportWriter, poller: &Poller, seq: u64) {
        let mut events = polling::Events::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while writer.durable() < seq {
            assert!(Instant::now() < deadline, "row {seq} never became durable");
            poller.wait(&mut events, Some(Duration::from_secs(1))).expect("wait");
            events.clear();
        }
    }

    #[test]
    fn rows_become_durable_in_order_and_the_poller_is_woken() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("report.csv");
        let poller = Arc::new(Poller::new().expect("poller"));
        let (report, _) = ReportFile::open(&path).expect("opens");
        let mut writer =
            ReportWriter::start(report, Arc::clone(&poller), Metrics::new().0).expect("writer starts");
        let first = writer.queue(row("a"));
        let second = writer.queue(row("b"));
        assert_eq!((first, second), (1, 2));
        assert_eq!(writer.durable(), 0, "nothing is written before the commit");
        writer.commit();
        wait_durable(&writer, &poller, second);
        writer.finish().expect("no failure");
        assert_eq!(
            std::fs::read_to_string(&path).expect("readable"),
            "client_id,count,min,max\r\na,1,1,2\r\nb,1,1,2\r\n"
        );
    }

    #[test]
    fn a_removed_report_is_recreated_before_the_next_batch() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("report.csv");
        let poller = Arc::new(Poller::new().expect("poller"));
        let (report, _) = ReportFile::open(&path).expect("opens");
        let mut writer =
            ReportWriter::start(report, Arc::clone(&poller), Metrics::new().0).expect("writer starts");
        let first = writer.queue(row("a"));
        writer.commit();
        wait_durable(&writer, &poller, first);
        std::fs::remove_file(&path).expect("removes");
        let second = writer.queue(row("b"));
        writer.commit();
        wait_durable(&writer, &poller, second);
        writer.finish().expect("no failure");
        let mut expected = HEADER_LINE.to_vec();
        expected.extend_from_slice(b"b,1,1,2\r\n");
        assert_eq!(std::fs::read(&path).expect("readable"), expected);
    }
}
