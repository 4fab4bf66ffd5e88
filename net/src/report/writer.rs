//! `report.csv` on disk (PROTOCOL §6): opening, checking and repairing it at start-up,
//! and the writer thread that makes rows durable in batches (group commit).
//!
//! The event loop never touches the file. It hands rows to [`ReportWriter::submit`]
//! tagged with increasing sequence numbers; the writer thread appends whatever has
//! queued up, syncs once, publishes the last durable sequence number and wakes the
//! loop. While it syncs, the next batch queues. A failed write or sync is final: the
//! writer stops, records the cause, and wakes the loop, which fails stop.

use minmax_core::ReportRow;
use minmax_core::report::{self, HEAD_LEN, HEADER_LINE, Inspection, TAIL_LEN};
use polling::Poller;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why the report cannot be used (exit code 5).
#[derive(Debug)]
pub enum ReportError {
    /// The file could not be opened, read, locked, repaired or written.
    Io {
        /// The report's path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// Another process holds the report (another minmax-server, most likely).
    Locked {
        /// The report's path.
        path: PathBuf,
    },
    /// The file is not a report, or not one we can append to safely.
    NotAReport {
        /// The report's path.
        path: PathBuf,
        /// What is wrong with it.
        problem: Inspection,
    },
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Io { path, action, source } => {
                write!(f, "cannot {action} the report {}: {source}", path.display())
            }
            ReportError::Locked { path } => write!(
                f,
                "the report {} is locked by another process (another minmax-server?); \
                 two servers must not append to one report",
                path.display()
            ),
            ReportError::NotAReport { path, problem } => write!(
                f,
                "{} is not a report this server can append to: {problem}; \
                 the file was left untouched (move it away or choose another with --report)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReportError {}

/// The report, open, checked and locked for this process.
#[derive(Debug)]
pub struct ReportFile {
    file: File,
    path: PathBuf,
    /// What start-up found, and did, for the log.
    pub inspection: Inspection,
    /// The size of the file once it was ready for appending.
    pub len: u64,
}

impl ReportFile {
    /// Opens `path`, creating it if needed, takes an exclusive lock on it, and checks
    /// it (§6): writes the header of a new or half-created report, cuts a torn last
    /// line, and refuses anything that is not a report without changing a byte.
    pub fn open(path: &Path) -> Result<ReportFile, ReportError> {
        let io_error = |action, source| ReportError::Io { path: path.to_path_buf(), action, source };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| io_error("open", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ReportError::Locked { path: path.to_path_buf() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error("lock", e)),
        }
        let metadata = file.metadata().map_err(|e| io_error("inspect", e))?;
        if !metadata.is_file() {
            let not_a_file = io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file");
            return Err(io_error("use", not_a_file));
        }
        let len = metadata.len();
        let head = read_at(&file, 0, len.min(HEAD_LEN as u64)).map_err(|e| io_error("read", e))?;
        let tail_len = len.min(TAIL_LEN as u64);
        let tail = read_at(&file, len - tail_len, tail_len).map_err(|e| io_error("read", e))?;
        let inspection = report::inspect(len, &head, &tail);
        let len = match &inspection {
            Inspection::WriteHeader => {
                file.set_len(0).map_err(|e| io_error("truncate", e))?;
                (&file).write_all(HEADER_LINE).map_err(|e| io_error("write the header of", e))?;
                file.sync_all().map_err(|e| io_error("sync", e))?;
                sync_parent_dir(path).map_err(|e| io_error("sync the directory of", e))?;
                HEADER_LINE.len() as u64
            }
            Inspection::Append => len,
            Inspection::CutTornTail { at } => {
                file.set_len(*at).map_err(|e| io_error("cut the torn last line of", e))?;
                file.sync_all().map_err(|e| io_error("sync", e))?;
                *at
            }
            Inspection::WrongHeader { .. } | Inspection::TailTooLong => {
                return Err(ReportError::NotAReport { path: path.to_path_buf(), problem: inspection });
            }
        };
        Ok(ReportFile { file, path: path.to_path_buf(), inspection, len })
    }

    /// The report's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
    file.read_exact_at(&mut buffer, offset)?;
    Ok(buffer)
}

/// A new file's name is durable only once its directory is synced.
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Rows waiting for the writer.
#[derive(Default)]
struct Queue {
    rows: Vec<ReportRow>,
    /// The sequence number of the last row in `rows`.
    last_seq: u64,
    /// No more rows will come: write what is queued, then stop.
    closing: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    more: Condvar,
    /// Every row with a sequence number up to this one is durable.
    durable: AtomicU64,
    /// Why the writer stopped, if it failed.
    failure: Mutex<Option<String>>,
    poller: Arc<Poller>,
    /// Rows made durable, and the syncs that did it: how well group commit groups.
    rows_synced: AtomicU64,
    syncs: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The writer's critical sections cannot panic midway (they move vectors and set
    // flags), so a poisoned lock still guards consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
    pub fn start(report: ReportFile, poller: Arc<Poller>) -> io::Result<ReportWriter> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            more: Condvar::new(),
            durable: AtomicU64::new(0),
            failure: Mutex::new(None),
            poller,
            rows_synced: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
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

    /// The highest sequence number such that it and every earlier row are durable.
    pub fn durable(&self) -> u64 {
        self.shared.durable.load(Ordering::Acquire)
    }

    /// (rows made durable, syncs that made them durable) so far.
    pub fn sync_stats(&self) -> (u64, u64) {
        (self.shared.rows_synced.load(Ordering::Relaxed), self.shared.syncs.load(Ordering::Relaxed))
    }

    /// Why the writer failed, if it did. A failed writer writes nothing more.
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared.failure).clone()
    }

    /// Makes every queued row durable and stops the thread. Returns the failure, if
    /// the writer failed (now or before).
    pub fn finish(&mut self) -> Result<(), String> {
        self.commit();
        lock(&self.shared.queue).closing = true;
        self.shared.more.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            return Err("the report writer thread panicked".into());
        }
        self.failure().map_or(Ok(()), Err)
    }
}

impl Drop for ReportWriter {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

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

fn write_loop(report: ReportFile, shared: &Shared) {
    let mut batch: Vec<ReportRow> = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut last_sync: Option<Instant> = None;
    loop {
        let (last_seq, closing) = {
            let mut queue = lock(&shared.queue);
            while queue.rows.is_empty() && !queue.closing {
                queue = shared.more.wait(queue).unwrap_or_else(PoisonError::into_inner);
            }
            // Syncs back to back mean load: let this one gather the rows of the
            // window, or a full batch, whichever comes first.
            while let Some(since) = last_sync.map(|at| at.elapsed()).filter(|&since| since < COMMIT_WINDOW) {
                if queue.closing || queue.rows.len() >= COMMIT_BATCH {
                    break;
                }
                queue = shared
                    .more
                    .wait_timeout(queue, COMMIT_WINDOW - since)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            last_sync = Some(Instant::now());
            std::mem::swap(&mut batch, &mut queue.rows);
            (queue.last_seq, queue.closing)
        };
        if batch.is_empty() && closing {
            return;
        }
        bytes.clear();
        let rows = batch.len() as u64;
        for row in batch.drain(..) {
            row.write_csv(&mut bytes);
        }
        let written = (&report.file).write_all(&bytes).and_then(|()| report.file.sync_data());
        if let Err(error) = written {
            // Never retried: after a failed fsync the kernel may have dropped the
            // dirty pages, and a later "successful" fsync would prove nothing (§6).
            *lock(&shared.failure) =
                Some(format!("writing to the report {} failed: {error}", report.path.display()));
            let _ = shared.poller.notify();
            return;
        }
        shared.rows_synced.fetch_add(rows, Ordering::Relaxed);
        shared.syncs.fetch_add(1, Ordering::Relaxed);
        shared.durable.store(last_seq, Ordering::Release);
        let _ = shared.poller.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minmax_core::Int;

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary directory")
    }

    fn row(id: &str) -> ReportRow {
        ReportRow { client_id: id.into(), count: 1, min: Int::from(1), max: Int::from(2) }
    }

    #[test]
    fn a_new_report_gets_the_header() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let report = ReportFile::open(&path).expect("opens");
        assert_eq!(report.inspection, Inspection::WriteHeader);
        assert_eq!(std::fs::read(&path).expect("readable"), HEADER_LINE);
    }

    #[test]
    fn rows_become_durable_in_order_and_the_poller_is_woken() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let poller = Arc::new(Poller::new().expect("poller"));
        let mut writer = ReportWriter::start(ReportFile::open(&path).expect("opens"), Arc::clone(&poller))
            .expect("writer starts");
        let first = writer.queue(row("a"));
        let second = writer.queue(row("b"));
        assert_eq!((first, second), (1, 2));
        assert_eq!(writer.durable(), 0, "nothing is written before the commit");
        writer.commit();
        let mut events = polling::Events::new();
        while writer.durable() < second {
            poller.wait(&mut events, Some(std::time::Duration::from_secs(5))).expect("wait");
        }
        writer.finish().expect("no failure");
        assert_eq!(
            std::fs::read_to_string(&path).expect("readable"),
            "client_id,count,min,max\r\na,1,1,2\r\nb,1,1,2\r\n"
        );
    }

    #[test]
    fn a_second_server_cannot_take_the_same_report() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let _first = ReportFile::open(&path).expect("opens");
        assert!(matches!(ReportFile::open(&path), Err(ReportError::Locked { .. })));
    }

    #[test]
    fn a_wrong_header_is_refused_and_left_untouched() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        std::fs::write(&path, b"name,score\r\nx,1\r\n").expect("writable");
        let error = ReportFile::open(&path).expect_err("refused");
        assert!(error.to_string().contains("\"name,score\""), "{error}");
        assert_eq!(std::fs::read(&path).expect("readable"), b"name,score\r\nx,1\r\n");
    }

    #[test]
    fn a_torn_last_line_is_cut() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        std::fs::write(&path, b"client_id,count,min,max\r\na,1,1,2\r\nb,1,").expect("writable");
        let report = ReportFile::open(&path).expect("opens");
        assert_eq!(report.inspection, Inspection::CutTornTail { at: 34 });
        drop(report);
        assert_eq!(std::fs::read(&path).expect("readable"), b"client_id,count,min,max\r\na,1,1,2\r\n");
    }

    #[test]
    fn a_directory_is_not_a_report() {
        let dir = temp_dir();
        assert!(matches!(ReportFile::open(dir.path()), Err(ReportError::Io { .. })));
    }
}
