//! Several servers on one store (PROTOCOL §10): the active client ids and the report
//! kept in PostgreSQL, so that "active on at most one connection" and "one row per
//! successful STOP" hold across every server that shares it.
//!
//! One PostgreSQL session per server, on a thread of its own (the `postgres` crate is
//! synchronous; its runtime stays on this thread, and the event loop stays ours). The
//! loop hands over claims, rows and releases once per pass, as it does rows to the
//! report writer; this thread answers them in batches:
//!
//! - a **claim** takes a session-level advisory lock on the id
//!   (`pg_try_advisory_lock(hashtextextended(id, 0))`); false means the id is active
//!   on another server. Locks are re-entrant within a session, which is why core's
//!   local uniqueness check comes first;
//! - **rows** of concurrent STOPs are inserted in one transaction (group commit),
//!   exact integers as `numeric`; once it has committed, their ids are unlocked, and
//!   only then are their replies released;
//! - a **release** (QUIT, an empty STOP, a disconnect) unlocks the id; a QUIT's reply
//!   waits for it, so the id is free everywhere once the client has its answer.
//!
//! The locks and the rows live in the same database session: a server that has lost
//! its session can neither hold an id nor commit a row, and PostgreSQL frees the ids
//! of a server that dies (even SIGKILLed) as soon as it sees its connection end.
//! Losing the session is a fault like a failed fsync (§6): the server fails stop.

use crate::lock;
use crate::metrics::Metrics;
use minmax_core::{Claim, ConnId, ReportRow, RowWriter};
use polling::Poller;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The table of the report: its columns are report.csv's header, after an ordering
/// column that keeps the insertion order for `export`.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS minmax_report (\
    seq bigserial PRIMARY KEY, \
    client_id text NOT NULL, \
    count bigint NOT NULL, \
    min numeric NOT NULL, \
    max numeric NOT NULL)";

/// Serialises schema creation between servers starting at once (an advisory lock
/// key of its own; ids use `hashtextextended`, which does not pick it but by a
/// 1-in-2^64 chance).
const SCHEMA_LOCK: i64 = 0x6d69_6e6d_6178_0001;

/// How long the store thread waits idle before it checks that its session is alive:
/// a store that went away is noticed within this, not only at the next request.
const LIVENESS_CHECK: Duration = Duration::from_secs(1);

/// Under load, a commit starts no sooner than this after the previous one, so that
/// more sessions' rows share it (as the report writer's window, §6).
const COMMIT_WINDOW: Duration = Duration::from_millis(2);

/// Why the store cannot be used.
#[derive(Debug)]
pub enum StoreError {
    /// The connection string is not one PostgreSQL's client understands.
    BadUrl(postgres::Error),
    /// Connecting, creating the schema, or a request failed.
    Database {
        /// What was being done.
        action: &'static str,
        /// PostgreSQL's error.
        source: postgres::Error,
    },
    /// The store's thread could not start, or writing the export failed.
    Io(io::Error),
    /// A value in the report table is not what minmax writes there.
    BadRow(String),
    /// The database cannot hold what minmax stores (its encoding is not UTF-8).
    Unsuitable(String),
}

/// PostgreSQL's error followed by its causes: on its own, the client's text ("error
/// connecting to server") does not say whether the host, the port or the password
/// was wrong.
fn with_causes(error: &postgres::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = inner.source();
    }
    text
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::BadUrl(error) => write!(
                f,
                "the store's connection string is not valid ({error}): expected a libpq-style URL such as \
                 postgresql://user@host/db or 'host=/run/postgresql dbname=minmax'"
            ),
            StoreError::Database { action, source } => {
                write!(f, "cannot {action} the store: {}", with_causes(source))
            }
            StoreError::Io(error) => write!(f, "{error}"),
            StoreError::BadRow(problem) => write!(f, "the store's report table holds {problem}"),
            StoreError::Unsuitable(problem) => write!(f, "the store cannot be used: {problem}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::BadUrl(source) | StoreError::Database { source, .. } => Some(source),
            StoreError::Io(source) => Some(source),
            StoreError::BadRow(_) | StoreError::Unsuitable(_) => None,
        }
    }
}

fn database(action: &'static str) -> impl FnOnce(postgres::Error) -> StoreError {
    move |source| StoreError::Database { action, source }
}

/// Connection settings from a libpq-style string; the password, when the string
/// has none, from `PGPASSWORD` or `password_file` (never from the command line, where
/// other users could read it).
pub fn config(url: &str, password_file: Option<&std::path::Path>) -> Result<postgres::Config, StoreError> {
    let mut config: postgres::Config = url.parse().map_err(StoreError::BadUrl)?;
    if config.get_password().is_none() {
        if let Some(file) = password_file {
            let text = std::fs::read_to_string(file).map_err(StoreError::Io)?;
            config.password(text.trim_end_matches(['\r', '\n']));
        } else if let Ok(password) = std::env::var("PGPASSWORD") {
            config.password(password);
        }
    }
    // A vanished host frees this server's ids within seconds, not hours: the
    // kernel gives up on the connection, the store thread sees it and fails stop,
    // and PostgreSQL's side ends the session (and its locks) the same way.
    config
        .application_name("minmax-server")
        .connect_timeout(Duration::from_secs(5))
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(5))
        .keepalives_interval(Duration::from_secs(1))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(10));
    Ok(config)
}

/// The connection string with any password replaced, for logs.
pub fn redacted(url: &str) -> String {
    let mut shown = String::with_capacity(url.len());
    if let Some((scheme, rest)) = url.split_once("://") {
        // postgresql://user:secret@host/db
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let authority = match authority.rsplit_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _)) => format!("{name}:***@{host}"),
                None => format!("{user}@{host}"),
            },
            None => authority.to_string(),
        };
        shown.push_str(&format!("{scheme}://{authority}"));
        if rest.contains('/') {
            shown.push('/');
            match path.split_once('?') {
                Some((database, query)) => {
                    shown.push_str(database);
                    shown.push('?');
                    shown.push_str(&redact_pairs(query, '&'));
                }
                None => shown.push_str(path),
            }
        }
        return shown;
    }
    redact_pairs(url, ' ')
}

/// `password=...` in key=value text, whatever separates the pairs.
fn redact_pairs(text: &str, separator: char) -> String {
    text.split(separator)
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.trim().eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(&separator.to_string())
}

fn connect(config: &postgres::Config) -> Result<postgres::Client, StoreError> {
    let mut client = config.connect(postgres::NoTls).map_err(database("connect to"))?;
    // Client ids are any Unicode text (§4): a database in another encoding would
    // refuse some of them at the first claim, and one client's id would then stop
    // every server sharing it. It is refused at start instead.
    let encoding: String = client
        .query_one("SHOW server_encoding", &[])
        .and_then(|row| row.try_get(0))
        .map_err(database("read the encoding of"))?;
    if encoding != "UTF8" {
        return Err(StoreError::Unsuitable(format!(
            "its database is encoded in {encoding}; expected UTF8 (createdb --encoding=UTF8), since client ids are \
             any Unicode text"
        )));
    }
    let mut schema = client.transaction().map_err(database("create the schema of"))?;
    schema
        .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(database("create the schema of"))?;
    // An existing table is the usual case, not news: PostgreSQL's NOTICE about it
    // would reach the log as a line of its own at every start.
    schema
        .batch_execute("SET LOCAL client_min_messages = warning")
        .map_err(database("create the schema of"))?;
    schema.batch_execute(SCHEMA).map_err(database("create the schema of"))?;
    schema.commit().map_err(database("create the schema of"))?;
    Ok(client)
}

/// Writes the store's report exactly as §6 describes report.csv (header, CRLF,
/// Python's quoting), rows in insertion order. Returns how many rows.
pub fn export(config: &postgres::Config, out: &mut impl Write) -> Result<u64, StoreError> {
    let mut client = connect(config)?;
    let rows = client
        .query("SELECT client_id, count, min::text, max::text FROM minmax_report ORDER BY seq", &[])
        .map_err(database("read the report from"))?;
    out.write_all(minmax_core::report::HEADER_LINE).map_err(StoreError::Io)?;
    let mut writer = RowWriter::new();
    let mut bytes = Vec::new();
    for row in &rows {
        let client_id: String = row.try_get(0).map_err(database("read the report from"))?;
        let count: i64 = row.try_get(1).map_err(database("read the report from"))?;
        let number = |index: usize| -> Result<minmax_core::Int, StoreError> {
            let text: String = row.try_get(index).map_err(database("read the report from"))?;
            minmax_core::Int::parse(&text)
                .map_err(|_| StoreError::BadRow(format!("{text:?}, not an integer")))
        };
        let count = u64::try_from(count).map_err(|_| StoreError::BadRow(format!("a count of {count}")))?;
        let row = ReportRow { client_id: client_id.into(), count, min: number(2)?, max: number(3)? };
        bytes.clear();
        writer.write(&row, &mut bytes);
        out.write_all(&bytes).map_err(StoreError::Io)?;
    }
    out.flush().map_err(StoreError::Io)?;
    Ok(rows.len() as u64)
}

/// Why the store failed while the server ran: the server fails stop (§10, exit 5).
#[derive(Debug)]
pub struct StoreFailure {
    /// What failed.
    pub error: StoreError,
    /// When the connection broke during a commit, whether that commit happened is
    /// unknown: the sequence numbers up to this one (past those already durable)
    /// are undecided, and their replies must not say either way.
    pub undecided: Option<u64>,
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.undecided {
            None => write!(
                f,
                "{}; nothing unconfirmed was committed, and the store frees this server's ids",
                self.error
            ),
            Some(_) => write!(
                f,
                "{}; the last commit may or may not have happened: its clients get no answer, and the store frees \
                 this server's ids",
                self.error
            ),
        }
    }
}

impl std::error::Error for StoreFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// What the loop handed over and the thread has not taken yet.
#[derive(Default)]
struct Work {
    claims: Vec<(ConnId, Arc<str>)>,
    rows: Vec<ReportRow>,
    releases: Vec<Arc<str>>,
    /// The sequence number of the last row or release in this work.
    last_seq: u64,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.rows.is_empty() && self.releases.is_empty()
    }

    fn append(&mut self, other: &mut Work) {
        self.claims.append(&mut other.claims);
        self.rows.append(&mut other.rows);
        self.releases.append(&mut other.releases);
        self.last_seq = self.last_seq.max(other.last_seq);
    }
}

#[derive(Default)]
struct Queue {
    work: Work,
    closing: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    more: Condvar,
    /// Every row and release with a sequence number up to this one is done.
    durable: AtomicU64,
    answers: Mutex<Vec<(ConnId, Claim)>>,
    failure: Mutex<Option<StoreFailure>>,
    poller: Arc<Poller>,
    metrics: Metrics,
}

/// The handle to the store's thread.
pub struct Store {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    next_seq: u64,
    pending: Work,
}

impl Store {
    /// Connects (creating the schema if needed) and starts the store's thread, which
    /// wakes `poller` when claims are answered or writes are done, or when it fails.
    pub fn start(
        config: &postgres::Config,
        poller: Arc<Poller>,
        metrics: Metrics,
    ) -> Result<Store, StoreError> {
        let client = connect(config)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            more: Condvar::new(),
            durable: AtomicU64::new(0),
            answers: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            poller,
            metrics,
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || store_loop(client, &thread_shared))
            .map_err(StoreError::Io)?;
        Ok(Store { shared, thread: Some(thread), next_seq: 0, pending: Work::default() })
    }

    /// Queues the claim of `client_id` for `conn`; answered through [`Store::answers`].
    pub fn claim(&mut self, conn: ConnId, client_id: Arc<str>) {
        self.pending.claims.push((conn, client_id));
    }

    /// Queues a row; returns its sequence number, done once [`Store::durable`]
    /// reaches it (committed, and its id released).
    pub fn queue(&mut self, row: ReportRow) -> u64 {
        self.next_seq += 1;
        self.pending.rows.push(row);
        self.pending.last_seq = self.next_seq;
        self.next_seq
    }

    /// Queues the release of `client_id`; returns its sequence number, as rows'.
    pub fn release(&mut self, client_id: Arc<str>) -> u64 {
        self.next_seq += 1;
        self.pending.releases.push(client_id);
        self.pending.last_seq = self.next_seq;
        self.next_seq
    }

    /// Hands what was queued this pass to the store's thread.
    pub fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        lock(&self.shared.queue).work.append(&mut self.pending);
        self.shared.more.notify_one();
    }

    /// The highest sequence number such that it and every earlier one are done.
    pub fn durable(&self) -> u64 {
        self.shared.durable.load(Ordering::Acquire)
    }

    /// The claims answered since the last call.
    pub fn answers(&self) -> Vec<(ConnId, Claim)> {
        std::mem::take(&mut *lock(&self.shared.answers))
    }

    /// Whether the store failed; it does nothing more then.
    pub fn has_failed(&self) -> bool {
        lock(&self.shared.failure).is_some()
    }

    /// Does everything queued and stops the thread; the failure, if any.
    pub fn finish(&mut self) -> Result<(), StoreFailure> {
        self.commit();
        lock(&self.shared.queue).closing = true;
        self.shared.more.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            let panicked = io::Error::other("the store's thread panicked");
            return Err(StoreFailure { error: StoreError::Io(panicked), undecided: None });
        }
        lock(&self.shared.failure).take().map_or(Ok(()), Err)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn store_loop(mut client: postgres::Client, shared: &Shared) {
    let mut work = Work::default();
    let mut last_commit: Option<Instant> = None;
    loop {
        let closing = {
            let mut queue = lock(&shared.queue);
            while queue.work.is_empty() && !queue.closing {
                let (next, waited) =
                    shared.more.wait_timeout(queue, LIVENESS_CHECK).unwrap_or_else(PoisonError::into_inner);
                queue = next;
                if waited.timed_out() && queue.work.is_empty() && !queue.closing {
                    // Checked without the lock: the loop must never wait on the network.
                    drop(queue);
                    if let Err(error) = client.is_valid(LIVENESS_CHECK) {
                        return fail(shared, database("keep the session with")(error), None);
                    }
                    queue = lock(&shared.queue);
                }
            }
            // Commits back to back mean load: let this one gather the window's rows.
            while let Some(since) = last_commit.map(|at| at.elapsed()).filter(|&since| since < COMMIT_WINDOW)
            {
                if queue.closing || queue.work.rows.is_empty() || !queue.work.claims.is_empty() {
                    break;
                }
                queue = shared
                    .more
                    .wait_timeout(queue, COMMIT_WINDOW - since)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut work, &mut queue.work);
            queue.closing
        };
        if work.is_empty() && closing {
            return;
        }
        if let Err((error, undecided)) = run_batch(&mut client, &mut work, shared, &mut last_commit) {
            return fail(shared, error, undecided);
        }
    }
}

/// Answers the batch's claims, commits its rows, releases its ids, and publishes.
/// On failure, the error and, when the connection broke during the commit, the last
/// sequence number whose fate is unknown.
fn run_batch(
    client: &mut postgres::Client,
    work: &mut Work,
    shared: &Shared,
    last_commit: &mut Option<Instant>,
) -> Result<(), (StoreError, Option<u64>)> {
    let decided = |action| move |error| (database(action)(error), None);
    if !work.claims.is_empty() {
        let ids: Vec<&str> = work.claims.iter().map(|(_, id)| &**id).collect();
        let rows = client
            .query(
                "SELECT pg_try_advisory_lock(hashtextextended(id, 0)) \
                 FROM unnest($1::text[]) WITH ORDINALITY AS claims(id, n) ORDER BY n",
                &[&ids],
            )
            .map_err(decided("claim client ids in"))?;
        let mut answers = lock(&shared.answers);
        for ((conn, _), row) in work.claims.drain(..).zip(&rows) {
            let granted: bool = row.try_get(0).map_err(decided("claim client ids in"))?;
            shared.metrics.count_claim(granted);
            answers.push((conn, if granted { Claim::Granted } else { Claim::Taken }));
        }
        drop(answers);
        let _ = shared.poller.notify();
    }
    if work.rows.is_empty() && work.releases.is_empty() {
        return Ok(());
    }
    let mut unlock: Vec<&str> = work.releases.iter().map(|id| &**id).collect();
    if !work.rows.is_empty() {
        let started = Instant::now();
        *last_commit = Some(started);
        let ids: Vec<&str> = work.rows.iter().map(|row| &*row.client_id).collect();
        let counts: Vec<i64> =
            work.rows.iter().map(|row| i64::try_from(row.count).unwrap_or(i64::MAX)).collect();
        let mins: Vec<String> = work.rows.iter().map(|row| row.min.to_string()).collect();
        let maxs: Vec<String> = work.rows.iter().map(|row| row.max.to_string()).collect();
        let mut transaction = client.transaction().map_err(decided("commit rows to"))?;
        transaction
            .execute(
                "INSERT INTO minmax_report (client_id, count, min, max) \
                 SELECT id, n, lo::numeric, hi::numeric \
                 FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[]) WITH ORDINALITY \
                     AS rows(id, n, lo, hi, position) \
                 ORDER BY position",
                &[&ids, &counts, &mins, &maxs],
            )
            .map_err(decided("commit rows to"))?;
        // A COMMIT sent on a connection that then breaks may have happened or not.
        transaction.commit().map_err(|error| (database("commit rows to")(error), Some(work.last_seq)))?;
        shared.metrics.count_commit(work.rows.len() as u64, started.elapsed());
        unlock.extend(ids);
    }
    let committed = !work.rows.is_empty();
    // Session locks are not transactional: they are released once the rows are
    // committed, so that no other server can START an id whose row is not yet in.
    client
        .query(
            "SELECT pg_advisory_unlock(hashtextextended(id, 0)) FROM unnest($1::text[]) AS ids(id)",
            &[&unlock],
        )
        .map_err(|error| {
            if committed {
                // The rows are in the report whatever happens next: their STOPs
                // succeeded. The session the release needed is gone, and the store
                // frees its ids with it.
                shared.durable.store(work.last_seq, Ordering::Release);
            }
            (database("release client ids in")(error), None)
        })?;
    work.rows.clear();
    work.releases.clear();
    shared.durable.store(work.last_seq, Ordering::Release);
    let _ = shared.poller.notify();
    Ok(())
}

fn fail(shared: &Shared, error: StoreError, undecided: Option<u64>) {
    *lock(&shared.failure) = Some(StoreFailure { error, undecided });
    let _ = shared.poller.notify();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redacted("postgresql://minmax:s3cret@db.example/minmax"),
            "postgresql://minmax:***@db.example/minmax"
        );
        assert_eq!(
            redacted("postgresql://minmax@db/minmax?password=x&sslmode=disable"),
            "postgresql://minmax@db/minmax?password=***&sslmode=disable"
        );
        assert_eq!(
            redacted("host=/tmp dbname=m password=secret user=u"),
            "host=/tmp dbname=m password=*** user=u"
        );
        assert_eq!(
            redacted("postgresql:///minmax?host=/run/postgresql"),
            "postgresql:///minmax?host=/run/postgresql"
        );
    }

    #[test]
    fn a_bad_connection_string_says_what_was_expected() {
        let error = config("postgresql://[bad", None).expect_err("refused");
        assert!(error.to_string().contains("expected a libpq-style URL"), "{error}");
    }
}
