//! The report file (PROTOCOL §6): opened, locked, checked and repaired at start-up,
//! and followed by its path while the server runs.
//!
//! Operators handle a report like a log: they remove it, rename it, truncate it. The
//! report is the file at its path, so before each batch the writer asks
//! [`ReportFile::follow`] whether the path still names the file it holds open
//! (device and inode) and whether that file still holds what was written to it, and
//! sets up a new report where it does not. What a start-up would do to a file found
//! at the path (write the header, cut a torn line, refuse a foreign file) is what
//! following does too: one set of rules, in `minmax_core::report::inspect`.

use minmax_core::report::{self, HEAD_LEN, HEADER_LINE, Inspection, TAIL_LEN};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

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

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Io { source, .. } => Some(source),
            ReportError::Locked { .. } | ReportError::NotAReport { .. } => None,
        }
    }
}

/// What following the path found, when it found a change (each is logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The path no longer named the open file (removed, or renamed away): a report
    /// was set up at the path, and rows now go there. Rows written before stay in the
    /// old file, wherever it is.
    Replaced {
        /// What was found at the path, and done to it.
        inspection: Inspection,
    },
    /// The open file was shorter than what had been written to it (truncated in
    /// place, as `: > report.csv` or logrotate's copytruncate do); it was checked as
    /// at start-up, so a header comes first again.
    Truncated {
        /// The length found.
        found: u64,
        /// The length written.
        expected: u64,
        /// What was done to it.
        inspection: Inspection,
    },
}

/// The report, open, checked and locked for this process.
#[derive(Debug)]
pub struct ReportFile {
    file: File,
    path: PathBuf,
    /// The device and inode of `file`: what the path must still name.
    identity: (u64, u64),
    /// The length after the last durable write: what a failed write is cut back to.
    durable_len: u64,
}

impl ReportFile {
    /// Opens `path`, creating it if needed, takes an exclusive lock on it, and checks
    /// it (§6): writes the header of a new or half-created report, cuts a torn last
    /// line, and refuses anything that is not a report without changing a byte.
    pub fn open(path: &Path) -> Result<(ReportFile, Inspection), ReportError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| io_error(path, "open", source))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ReportError::Locked { path: path.to_path_buf() });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io_error(path, "lock", source)),
        }
        let metadata = file.metadata().map_err(|source| io_error(path, "inspect", source))?;
        if !metadata.is_file() {
            let source = io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file");
            return Err(io_error(path, "use", source));
        }
        let identity = (metadata.dev(), metadata.ino());
        let mut report = ReportFile { file, path: path.to_path_buf(), identity, durable_len: 0 };
        let inspection = report.repair(metadata.len())?;
        Ok((report, inspection))
    }

    /// The report's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length after the last durable write.
    pub fn durable_len(&self) -> u64 {
        self.durable_len
    }

    /// Makes sure the rows about to be written go to the file the path names, and
    /// that this file still holds a report: sets up a new one where the path names
    /// no file or another file, and rechecks a file truncated in place.
    pub fn follow(&mut self) -> Result<Option<Change>, ReportError> {
        let named = match std::fs::metadata(&self.path) {
            Ok(metadata) => Some((metadata.dev(), metadata.ino())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(io_error(&self.path, "check the path of", source)),
        };
        if named != Some(self.identity) {
            let (report, inspection) = ReportFile::open(&self.path)?;
            // The old file, and its lock, go: nothing more is written to it.
            *self = report;
            return Ok(Some(Change::Replaced { inspection }));
        }
        let found = self.file.metadata().map_err(|source| io_error(&self.path, "inspect", source))?.len();
        if found < self.durable_len {
            let expected = self.durable_len;
            let inspection = self.repair(found)?;
            return Ok(Some(Change::Truncated { found, expected, inspection }));
        }
        Ok(None)
    }

    /// Whether some path still names the open file. A file removed between the
    /// check before a batch and its sync holds rows nobody can find: the batch must
    /// be written again where the path now points.
    pub fn is_linked(&self) -> io::Result<bool> {
        Ok(self.file.metadata()?.nlink() > 0)
    }

    /// Appends `bytes` and syncs them to stable storage; only then do they count as
    /// durable.
    ///
    /// Returns true when the file turned out to have been truncated while the batch
    /// was written (logrotate's copytruncate racing the write): an append lands at the
    /// new end, so the rows would start a file without its header. The file is then
    /// started again, header first, with the batch; what was truncated away was the
    /// operator's to discard.
    pub fn append_durably(&mut self, bytes: &[u8]) -> io::Result<bool> {
        (&self.file).write_all(bytes)?;
        self.file.sync_data()?;
        let expected = self.durable_len + bytes.len() as u64;
        let found = self.file.metadata()?.len();
        if found >= expected {
            // Anything appended by someone else stays, and is never cut back.
            self.durable_len = found;
            return Ok(false);
        }
        self.file.set_len(0)?;
        (&self.file).write_all(HEADER_LINE)?;
        (&self.file).write_all(bytes)?;
        self.file.sync_all()?;
        self.durable_len = (HEADER_LINE.len() + bytes.len()) as u64;
        Ok(true)
    }

    /// Cuts the file back to its length after the last durable write, and syncs
    /// that: a failed batch may have written some of its rows, and they must not
    /// stay, since their STOPs are answered as failed (§6). Shrinking a file needs no
    /// free space, so this works on a full disk.
    ///
    /// A file already shorter (rewritten by someone else) is left as it is: cutting
    /// must never make a file longer.
    pub fn cut_back(&self) -> io::Result<()> {
        if self.file.metadata()?.len() > self.durable_len {
            self.file.set_len(self.durable_len)?;
        }
        self.file.sync_all()
    }

    /// Checks the file's content as a start-up does, and repairs what §6 says to:
    /// returns what it found. `len` is the file's current length.
    fn repair(&mut self, len: u64) -> Result<Inspection, ReportError> {
        let path = &self.path;
        let head = read_at(&self.file, 0, len.min(HEAD_LEN as u64)).map_err(|e| io_error(path, "read", e))?;
        let tail_len = len.min(TAIL_LEN as u64);
        let tail = read_at(&self.file, len - tail_len, tail_len).map_err(|e| io_error(path, "read", e))?;
        let inspection = report::inspect(len, &head, &tail);
        self.durable_len = match &inspection {
            Inspection::WriteHeader => {
                self.file.set_len(0).map_err(|e| io_error(path, "truncate", e))?;
                (&self.file).write_all(HEADER_LINE).map_err(|e| io_error(path, "write the header of", e))?;
                self.file.sync_all().map_err(|e| io_error(path, "sync", e))?;
                sync_parent_dir(path).map_err(|e| io_error(path, "sync the directory of", e))?;
                HEADER_LINE.len() as u64
            }
            Inspection::Append => len,
            Inspection::CutTornTail { at } => {
                self.file.set_len(*at).map_err(|e| io_error(path, "cut the torn last line of", e))?;
                self.file.sync_all().map_err(|e| io_error(path, "sync", e))?;
                *at
            }
            Inspection::WrongHeader { .. } | Inspection::TailTooLong => {
                return Err(ReportError::NotAReport { path: path.clone(), problem: inspection });
            }
        };
        Ok(inspection)
    }
}

fn io_error(path: &Path, action: &'static str, source: io::Error) -> ReportError {
    ReportError::Io { path: path.to_path_buf(), action, source }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary directory")
    }

    #[test]
    fn a_new_report_gets_the_header() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let (report, inspection) = ReportFile::open(&path).expect("opens");
        assert_eq!(inspection, Inspection::WriteHeader);
        assert_eq!(report.durable_len(), HEADER_LINE.len() as u64);
        assert_eq!(std::fs::read(&path).expect("readable"), HEADER_LINE);
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
        let (report, inspection) = ReportFile::open(&path).expect("opens");
        assert_eq!(inspection, Inspection::CutTornTail { at: 34 });
        drop(report);
        assert_eq!(std::fs::read(&path).expect("readable"), b"client_id,count,min,max\r\na,1,1,2\r\n");
    }

    #[test]
    fn a_directory_is_not_a_report() {
        let dir = temp_dir();
        let error = ReportFile::open(dir.path()).expect_err("refused");
        assert!(matches!(error, ReportError::Io { .. }));
        assert!(std::error::Error::source(&error).is_some(), "the system's error is kept as the source");
    }

    #[test]
    fn a_removed_report_is_set_up_again_at_its_path() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let (mut report, _) = ReportFile::open(&path).expect("opens");
        report.append_durably(b"a,1,1,1\r\n").expect("writes");
        assert_eq!(report.follow().expect("follows"), None);
        std::fs::rename(&path, dir.path().join("old.csv")).expect("renames");
        assert!(report.is_linked().expect("fstat"), "a renamed file is still named");
        assert_eq!(
            report.follow().expect("follows"),
            Some(Change::Replaced { inspection: Inspection::WriteHeader })
        );
        report.append_durably(b"b,1,2,2\r\n").expect("writes");
        assert_eq!(std::fs::read(&path).expect("readable"), b"client_id,count,min,max\r\nb,1,2,2\r\n");
        assert_eq!(
            std::fs::read(dir.path().join("old.csv")).expect("readable"),
            b"client_id,count,min,max\r\na,1,1,1\r\n"
        );
        std::fs::remove_file(&path).expect("removes");
        assert!(!report.is_linked().expect("fstat"), "a removed file is named by no path");
    }

    #[test]
    fn a_report_truncated_in_place_gets_its_header_again() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let (mut report, _) = ReportFile::open(&path).expect("opens");
        report.append_durably(b"a,1,1,1\r\n").expect("writes");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(0))
            .expect("truncates");
        let expected = HEADER_LINE.len() as u64 + 9;
        assert_eq!(
            report.follow().expect("follows"),
            Some(Change::Truncated { found: 0, expected, inspection: Inspection::WriteHeader })
        );
        report.append_durably(b"b,1,2,2\r\n").expect("writes");
        assert_eq!(std::fs::read(&path).expect("readable"), b"client_id,count,min,max\r\nb,1,2,2\r\n");
    }

    #[test]
    fn a_foreign_file_moved_to_the_path_is_refused() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let (mut report, _) = ReportFile::open(&path).expect("opens");
        std::fs::remove_file(&path).expect("removes");
        std::fs::write(&path, b"name,score\r\n").expect("writable");
        assert!(matches!(report.follow(), Err(ReportError::NotAReport { .. })));
    }

    #[test]
    fn cutting_back_removes_what_was_not_made_durable() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let (mut report, _) = ReportFile::open(&path).expect("opens");
        report.append_durably(b"a,1,1,1\r\n").expect("writes");
        // A batch that failed half-way: written, never synced as a whole.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"b,1,"))
            .expect("appends");
        report.cut_back().expect("cuts");
        assert_eq!(std::fs::read(&path).expect("readable"), b"client_id,count,min,max\r\na,1,1,1\r\n");
    }

    #[test]
    fn a_truncation_racing_a_batch_still_leaves_a_report() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let (mut report, _) = ReportFile::open(&path).expect("opens");
        report.append_durably(b"a,1,1,1\r\n").expect("writes");
        assert_eq!(report.follow().expect("follows"), None);
        // copytruncate lands between the check and the write.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(0))
            .expect("truncates");
        assert!(report.append_durably(b"b,1,2,2\r\n").expect("writes"), "the race is noticed");
        assert_eq!(std::fs::read(&path).expect("readable"), b"client_id,count,min,max\r\nb,1,2,2\r\n");
        report.append_durably(b"c,1,3,3\r\n").expect("writes");
        assert_eq!(
            std::fs::read(&path).expect("readable"),
            b"client_id,count,min,max\r\nb,1,2,2\r\nc,1,3,3\r\n"
        );
    }

    #[test]
    fn cutting_back_never_makes_a_file_longer() {
        let dir = temp_dir();
        let path = dir.path().join("report.csv");
        let (mut report, _) = ReportFile::open(&path).expect("opens");
        report.append_durably(b"a,1,1,1\r\n").expect("writes");
        // Rewritten in place with something shorter that is not a report.
        std::fs::write(&path, b"name\r\n").expect("writable");
        report.cut_back().expect("cuts");
        assert_eq!(std::fs::read(&path).expect("readable"), b"name\r\n");
    }
}
