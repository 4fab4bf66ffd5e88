//! The server's event loop: one thread, one `polling::Poller`, level-triggered,
//! driving one `minmax_core::Server` for every connection.
//!
//! Each pass:
//! 1. **wait** for readiness, the next protocol deadline, a rate-limited log line
//!    falling due, a signal, or the report writer's wake-up;
//! 2. **read**: accept every pending connection; read each ready connection once,
//!    no more than its share of the output budget allows, and hand the bytes to the
//!    protocol machine;
//! 3. **carry out** the effects each call returns, in order: replies go into each
//!    connection's output, report rows are queued, STOP replies are held behind
//!    their rows;
//! 4. **commit** the pass's rows to the writer thread (one hand-over per pass);
//! 5. **release** the replies whose rows the writer has made durable;
//! 6. **send** what may be sent, and re-arm each touched connection's interest from
//!    its state: readable unless closing or over its share of the budget, writable
//!    only while output is waiting.
//!
//! The loop never waits on the disk (fsync happens on the writer thread) nor on
//! standard error (logging drops lines rather than block). The one exception is
//! SIGHUP with TLS: the certificate and key, a few kilobytes, are read on the loop.
//!
//! Over TLS (§8) a connection's socket carries records: a readable socket is read
//! into rustls, and the plaintext rustls decrypts goes to the machine as a plain
//! socket's bytes would, no more than the output budget allows. What rustls still
//! holds after that is announced by no socket event, so such connections are kept
//! in `Io::ready` and read on the next pass without waiting.

use crate::conn::{Conn, Link, TlsLink, TlsRead, key_of};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimited;
use crate::registered::Registered;
use crate::report::{ReportError, ReportFailure, ReportFile, ReportWriter};
use crate::store::{Store, StoreError, StoreFailure};
use crate::tls::{TlsError, TlsFiles};
use minmax_core::report::Inspection;
use minmax_core::server::ConnIdHasher;
use minmax_core::{
    Claim, CloseReason, Config, ConnId, Effect, Effects, ErrorCode, Int, ReportRow, Response, Server,
    Timestamp, Transport,
};
use polling::{Event, Events, PollMode, Poller};
use rustls::ServerConfig;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, error, info, warn};

const LISTENER_KEY: usize = usize::MAX - 1;
const SHUTDOWN_KEY: usize = usize::MAX - 2;
const RELOAD_KEY: usize = usize::MAX - 3;

/// Bytes read from a socket at a time, at most; shared by every connection.
const READ_BUFFER: usize = 64 * 1024;

/// Reply bytes waiting on one connection past which it is not read (backpressure):
/// a peer that does not read its replies holds at most this much of the server's
/// memory.
pub const CONNECTION_OUTPUT_MARK: usize = 64 * 1024;

/// The kernel's send buffer for each connection. Linux grows it on its own up to
/// megabytes for a peer that does not read; replies here are tens of bytes, so a
/// fixed size loses nothing and keeps a non-reading peer from pinning kernel memory
/// the output budget cannot see.
const KERNEL_SEND_BUFFER: usize = 64 * 1024;

/// The default of [`Settings::output_budget`] (§7).
pub const DEFAULT_OUTPUT_BUDGET: usize = 64 << 20;

/// How many reply bytes one input byte can make at most: the smallest frame, 4 bytes
/// of prefix and an empty payload, is answered with the 68 bytes of `Mensagem
/// inválida`. A read is sized so that its replies fit in the room left.
const AMPLIFICATION: usize = 20;

/// The largest reply that does not follow from the size of its request: a STOP's,
/// whose min and max may each have 4 300 digits.
const LARGEST_REPLY: usize = 9 * 1024;

/// Reads smaller than this are not worth a system call: the connection waits
/// instead, until its peer (or, for the budget, any peer) reads some replies.
const MIN_READ: usize = 256;

/// How long accepting pauses when the process is out of descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Unread input thrown away before the server closes a connection, at most.
const DISCARD_LIMIT: usize = 256 * 1024;

/// How long a closing connection may wait for its peer to take its last replies.
const LINGER: Duration = Duration::from_secs(30);

/// How long a shutdown waits for clients to take their last replies.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// A huge number in a log line is shortened to this many leading digits.
const LOGGED_DIGITS: usize = 24;

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// The report file.
    pub report: PathBuf,
    /// The protocol's limits and policy.
    pub protocol: Config,
    /// The most reply bytes that may wait for slow readers, summed over every
    /// connection (§7); past it, connections are not read until their peers read.
    pub output_budget: usize,
    /// Keep the active ids and the report in this PostgreSQL store instead of
    /// memory and the report file (§10); `protocol.shared_ids` must be set with it.
    pub store: Option<postgres::Config>,
    /// Serve TLS only, with these files (§8); `None`: plain TCP.
    pub tls: Option<TlsFiles>,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The listening socket could not be set up (address in use, not local...).
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
    /// The report cannot be used.
    Report(ReportError),
    /// The store cannot be reached or used (§10).
    Store(StoreError),
    /// The TLS certificate, key or client CA cannot be used.
    Tls(TlsError),
    /// The system refused a resource (the poller, a thread).
    System(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Bind { addr, source } => {
                let hint = match source.kind() {
                    io::ErrorKind::AddrInUse => {
                        "; another program uses this port: choose another, or 0 for any free port"
                    }
                    io::ErrorKind::AddrNotAvailable => {
                        "; this machine has no such address: expected one of its own addresses, 0.0.0.0 or ::"
                    }
                    io::ErrorKind::PermissionDenied => {
                        "; ports below 1024 need privileges: choose a port from 1024 to 65535"
                    }
                    _ => "",
                };
                write!(f, "cannot listen on {addr}: {source}{hint}")
            }
            StartError::Report(error) => error.fmt(f),
            StartError::Store(error) => error.fmt(f),
            StartError::Tls(error) => write!(f, "cannot serve TLS: {error}"),
            StartError::System(error) => write!(f, "cannot start: {error}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Bind { source, .. } | StartError::System(source) => Some(source),
            StartError::Report(error) => Some(error),
            StartError::Store(error) => Some(error),
            StartError::Tls(error) => Some(error),
        }
    }
}

/// Why a running server stopped other than by a clean shutdown.
#[derive(Debug)]
pub enum RunError {
    /// Writing or syncing the report failed: the server failed stop (§6).
    Report(ReportFailure),
    /// The store was lost: the server failed stop (§10).
    Store(StoreFailure),
    /// The poller failed.
    System(io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Report(failure) => failure.fmt(f),
            RunError::Store(failure) => failure.fmt(f),
            RunError::System(error) => write!(f, "the event loop failed: {error}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Report(failure) => Some(failure),
            RunError::Store(failure) => Some(failure),
            RunError::System(error) => Some(error),
        }
    }
}

impl From<io::Error> for RunError {
    fn from(error: io::Error) -> RunError {
        RunError::System(error)
    }
}

/// The pipes the program's signal handlers write to: one byte asks for a clean
/// shutdown (SIGINT, SIGTERM), one for a reload (SIGHUP, §6).
#[derive(Debug)]
pub struct Signals {
    /// Readable when a shutdown is asked for.
    pub shutdown: UnixStream,
    /// Readable when the report's path must be checked again, and the TLS files
    /// read again.
    pub reload: UnixStream,
}

type Conns = HashMap<usize, Conn, BuildHasherDefault<ConnIdHasher>>;

/// A bound server, ready to run.
pub struct EventLoop {
    machine: Server,
    io: Io,
}

/// Everything the loop owns but the protocol machine, so that the effects a call
/// into the machine returns can be carried out while they borrow it.
struct Io {
    poller: Arc<Poller>,
    listener: Option<Registered<TcpListener>>,
    local_addr: SocketAddr,
    signals: Option<(Registered<UnixStream>, Registered<UnixStream>)>,
    conns: Conns,
    /// TLS connections with decrypted plaintext not given to the machine yet.
    ready: Vec<usize>,
    /// Closing connections and when they are dropped, replies taken or not.
    lingering: VecDeque<(Timestamp, usize)>,
    /// The TLS files and the configuration new connections get from them.
    tls: Option<(TlsFiles, Arc<ServerConfig>)>,
    backend: Backend,
    /// Held STOP replies by row sequence number (increasing), with their connection.
    waiting: VecDeque<(u64, usize)>,
    /// Connections whose output or interest may have changed this pass.
    touched: Vec<usize>,
    read_buffer: Box<[u8]>,
    accept_paused_until: Option<Timestamp>,
    budget: Budget,
    logs: LogLimits,
    metrics: Metrics,
    /// The origin of the clock readings the protocol machine gets.
    origin: Instant,
    /// Called at the end of every pass, before the loop waits again.
    after_pass: Option<Box<dyn FnMut()>>,
}

/// Where rows go, and, with a store, where ids are claimed (§6, §10). Both hold
/// replies behind sequence numbers that become durable in order.
enum Backend {
    /// report.csv and its writer thread.
    File(ReportWriter),
    /// PostgreSQL and its store thread.
    Store(Store),
}

impl Backend {
    fn queue(&mut self, row: ReportRow) -> u64 {
        match self {
            Backend::File(writer) => writer.queue(row),
            Backend::Store(store) => store.queue(row),
        }
    }

    /// The sequence number a held reply waits for, if a store must release the id.
    fn release(&mut self, client_id: Arc<str>) -> Option<u64> {
        match self {
            Backend::File(_) => None,
            Backend::Store(store) => Some(store.release(client_id)),
        }
    }

    fn claim(&mut self, conn: ConnId, client_id: Arc<str>) {
        if let Backend::Store(store) = self {
            store.claim(conn, client_id);
        }
    }

    fn answers(&self) -> Vec<(ConnId, Claim)> {
        match self {
            Backend::File(_) => Vec::new(),
            Backend::Store(store) => store.answers(),
        }
    }

    fn commit(&mut self) {
        match self {
            Backend::File(writer) => writer.commit(),
            Backend::Store(store) => store.commit(),
        }
    }

    fn durable(&self) -> u64 {
        match self {
            Backend::File(writer) => writer.durable(),
            Backend::Store(store) => store.durable(),
        }
    }

    fn has_failed(&self) -> bool {
        match self {
            Backend::File(writer) => writer.has_failed(),
            Backend::Store(store) => store.has_failed(),
        }
    }

    fn recheck(&self) {
        if let Backend::File(writer) = self {
            writer.recheck();
        }
    }

    fn finish(&mut self) -> Result<(), RunError> {
        match self {
            Backend::File(writer) => writer.finish().map_err(RunError::Report),
            Backend::Store(store) => store.finish().map_err(RunError::Store),
        }
    }
}

/// The output budget (§7): reply bytes waiting over every connection.
struct Budget {
    limit: usize,
    used: usize,
    /// Connections not read because the budget, not their own output, is full.
    paused: Vec<usize>,
}

/// The log lines of lasting conditions, each at most about once a second (§7).
#[derive(Default)]
struct LogLimits {
    no_descriptors: RateLimited,
    busy: RateLimited,
    invalid_frames: RateLimited,
    tls_failed: RateLimited,
    refused: [RateLimited; ErrorCode::ALL.len()],
}

impl EventLoop {
    /// Binds the listening socket and opens the report (repairing it if needed, §6).
    pub fn bind(settings: &Settings, metrics: Metrics) -> Result<EventLoop, StartError> {
        // Bound first: a bad address or a port in use must not leave a report behind.
        let listener =
            listen(settings.bind).map_err(|source| StartError::Bind { addr: settings.bind, source })?;
        // Read before the report is touched, for the same reason.
        let tls = match &settings.tls {
            Some(files) => Some((files.clone(), files.load().map_err(StartError::Tls)?)),
            None => None,
        };
        let local_addr = listener.local_addr().map_err(StartError::System)?;
        let poller = Arc::new(Poller::new().map_err(StartError::System)?);
        let backend = match &settings.store {
            Some(config) => {
                let store =
                    Store::start(config, Arc::clone(&poller), metrics.clone()).map_err(StartError::Store)?;
                metrics.store_connects.inc();
                info!("keeping client ids and the report in the store");
                Backend::Store(store)
            }
            None => {
                let (report, inspection) = ReportFile::open(&settings.report).map_err(StartError::Report)?;
                log_inspection(&report, &inspection);
                let writer = ReportWriter::start(report, Arc::clone(&poller), metrics.clone())
                    .map_err(StartError::System)?;
                Backend::File(writer)
            }
        };
        let listener = Registered::new(&poller, listener, Event::readable(LISTENER_KEY), PollMode::Level)
            .map_err(StartError::System)?;
        let io = Io {
            poller,
            listener: Some(listener),
            local_addr,
            signals: None,
            conns: Conns::default(),
            ready: Vec::new(),
            lingering: VecDeque::new(),
            tls,
            backend,
            waiting: VecDeque::new(),
            touched: Vec::new(),
            read_buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            accept_paused_until: None,
            budget: Budget { limit: settings.output_budget, used: 0, paused: Vec::new() },
            logs: LogLimits::default(),
            metrics,
            origin: Instant::now(),
            after_pass: None,
        };
        Ok(EventLoop { machine: Server::new(settings.protocol.clone()), io })
    }

    /// Calls `hook` at the end of every pass of the loop, before it waits again.
    pub fn after_each_pass(&mut self, hook: impl FnMut() + 'static) {
        self.io.after_pass = Some(Box::new(hook));
    }

    /// The address the server listens on, with the real port.
    pub fn local_addr(&self) -> SocketAddr {
        self.io.local_addr
    }

    /// Serves until a byte arrives on the shutdown pipe (a signal handler writes
    /// one), then shuts down cleanly: stops accepting, makes every queued row
    /// durable, sends the last replies, closes every connection and discards active
    /// sessions. A byte on the reload pipe makes the report's path be checked again.
    pub fn run(mut self, signals: Signals) -> Result<(), RunError> {
        let poller = &self.io.poller;
        signals.shutdown.set_nonblocking(true)?;
        signals.reload.set_nonblocking(true)?;
        let shutdown =
            Registered::new(poller, signals.shutdown, Event::readable(SHUTDOWN_KEY), PollMode::Level)?;
        let reload = Registered::new(poller, signals.reload, Event::readable(RELOAD_KEY), PollMode::Level)?;
        self.io.signals = Some((shutdown, reload));
        let mut events = Events::new();
        loop {
            let lingering = self.io.lingering.front().map(|&(deadline, _)| deadline);
            let deadline = [
                self.machine.poll_timeout(),
                self.io.accept_paused_until,
                self.io.logs.deadline(),
                lingering,
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = if self.io.ready.is_empty() {
                deadline.map(|deadline| deadline.saturating_duration_since(self.io.clock()))
            } else {
                Some(Duration::ZERO)
            };
            events.clear();
            self.io.poller.wait(&mut events, timeout)?;
            let now = self.io.clock();
            let mut stop = false;
            for event in events.iter() {
                match event.key {
                    LISTENER_KEY => self.accept(now),
                    SHUTDOWN_KEY => stop |= self.io.drain_signal(SHUTDOWN_KEY),
                    RELOAD_KEY => {
                        if self.io.drain_signal(RELOAD_KEY) {
                            self.io.backend.recheck();
                            self.io.reload_tls();
                        }
                    }
                    key => self.on_conn_event(now, key, event),
                }
            }
            for key in std::mem::take(&mut self.io.ready) {
                self.read_tls_plaintext(now, key);
            }
            for (conn, claim) in self.io.backend.answers() {
                self.io.carry_out(now, self.machine.handle_claimed(now, conn, claim));
            }
            if self.io.accept_paused_until.is_some_and(|until| until <= now) {
                self.io.resume_accepting();
            }
            self.io.carry_out(now, self.machine.handle_timeout(now));
            self.io.logs.flush_overdue(now);
            self.io.expire_lingering(now);
            if self.io.backend.has_failed() {
                return self.fail_stop();
            }
            self.io.backend.commit();
            self.io.release_durable();
            self.send_touched()?;
            self.io.end_pass();
            if stop {
                return self.shut_down();
            }
        }
    }

    fn accept(&mut self, now: Timestamp) {
        let EventLoop { machine, io } = self;
        loop {
            let Some(listener) = &io.listener else {
                return;
            };
            match listener.get().accept() {
                Ok((stream, peer)) => {
                    io.metrics.connections_accepted.inc();
                    let configured =
                        stream.set_nonblocking(true).and_then(|()| stream.set_nodelay(true)).and_then(|()| {
                            socket2::SockRef::from(&stream).set_send_buffer_size(KERNEL_SEND_BUFFER)
                        });
                    if let Err(error) = configured {
                        warn!(%peer, %error, "dropping a new connection: cannot configure its socket");
                        continue;
                    }
                    let link = match &io.tls {
                        None => Link::Plain,
                        Some((_, config)) => match rustls::ServerConnection::new(Arc::clone(config)) {
                            Ok(session) => Link::Tls(Box::new(TlsLink::new(session))),
                            Err(error) => {
                                warn!(%peer, %error, "dropping a new connection: cannot start TLS");
                                continue;
                            }
                        },
                    };
                    let transport =
                        if matches!(link, Link::Plain) { Transport::Plain } else { Transport::Tls };
                    let (id, effects) = machine.handle_connect(now, transport);
                    let socket =
                        Registered::new(&io.poller, stream, Event::readable(key_of(id)), PollMode::Level);
                    let socket = match socket {
                        Ok(socket) => socket,
                        Err(error) => {
                            // Nobody can be answered on a socket that cannot be watched.
                            drop(effects);
                            warn!(%peer, %error, "dropping a new connection: cannot watch its socket");
                            io.carry_out(now, machine.handle_disconnect(id));
                            continue;
                        }
                    };
                    debug!(%peer, conn = %id, "connection accepted");
                    io.touched.push(key_of(id));
                    io.conns.insert(key_of(id), Conn::new(id, socket, peer, link));
                    io.carry_out(now, effects);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_resource_exhaustion(&error) => {
                    if let Some(suppressed) = io.logs.no_descriptors.hit(now.since_origin()) {
                        warn!(%error, connections = io.conns.len(), suppressed, "cannot accept more connections; pausing accepts for 100 ms");
                    }
                    io.pause_accepting(now);
                    break;
                }
                // A connection that died in the backlog: ignore it.
                Err(error) => debug!(%error, "accept failed"),
            }
        }
    }

    fn on_conn_event(&mut self, now: Timestamp, key: usize, event: Event) {
        let EventLoop { machine, io } = self;
        let Some(conn) = io.conns.get_mut(&key) else {
            return;
        };
        io.touched.push(key);
        if conn.closing {
            // Level-triggered epoll reports a hang-up or error whatever the
            // interest, so a closing connection the peer is gone from is dropped now
            // rather than reported on every pass.
            if event.is_interrupt() || event.is_err() == Some(true) {
                debug!(peer = %conn.peer, conn = %conn.id, "peer gone while closing");
                io.drop_conn(key);
            }
            return;
        }
        let paused = io.budget.read_allowance(conn.pending_output()) == 0 || !machine.wants_input(conn.id);
        if paused && (event.is_interrupt() || event.is_err() == Some(true)) {
            // A hang-up or an error is reported whatever the interest: a connection
            // that is not being read (paused by the budget, or behind a claim) would
            // be reported on every pass. EPOLLHUP means both directions are gone, so
            // nothing can be answered: it ends now.
            let id = conn.id;
            debug!(peer = %conn.peer, conn = %id, "peer gone while its connection was not being read");
            io.carry_out(now, machine.handle_disconnect(id));
            io.drop_conn(key);
            return;
        }
        if !event.readable {
            return;
        }
        if !matches!(conn.link, Link::Plain) {
            self.on_tls_readable(now, key);
            return;
        }
        let allowance = io.budget.read_allowance(conn.pending_output());
        if paused {
            // Re-armed without read interest at the end of the pass.
            return;
        }
        let mut buffer = std::mem::take(&mut io.read_buffer);
        let read = conn.socket.get().read(&mut buffer[..allowance]);
        io.deliver_read(machine, now, key, read, &buffer);
        io.read_buffer = buffer;
    }

    /// A TLS connection's socket is readable: records into rustls, the handshake's
    /// end to the machine, then plaintext as the budget allows.
    fn on_tls_readable(&mut self, now: Timestamp, key: usize) {
        let EventLoop { machine, io } = self;
        let Some(conn) = io.conns.get_mut(&key) else {
            return;
        };
        let (id, peer) = (conn.id, conn.peer);
        let handshaking = matches!(&conn.link, Link::Tls(tls) if tls.handshaking);
        match conn.read_records() {
            TlsRead::Progress => {}
            TlsRead::Failed(error) => {
                io.fail_tls(machine, now, key, handshaking, &failure_reason(&error, handshaking));
                return;
            }
            TlsRead::Broken(error) => {
                log_dropped(peer, id, &error, "reading");
                io.carry_out(now, machine.handle_disconnect(id));
                io.drop_conn(key);
                return;
            }
        }
        if handshaking {
            let Link::Tls(tls) = &mut conn.link else {
                return;
            };
            if tls.session.is_handshaking() {
                // The peer hung up before finishing: nothing more will come.
                if tls.eof {
                    io.fail_tls(
                        machine,
                        now,
                        key,
                        true,
                        "the peer closed the connection during the handshake",
                    );
                }
                return;
            }
            tls.handshaking = false;
            let identity = match tls.session.peer_certificates() {
                // rustls asked for a certificate and verified it: whose is it? (The
                // verifier refuses one that names nobody; should one get through, the
                // connection must not go on unbound to an id.)
                Some([leaf, ..]) => match crate::tls::identity(leaf) {
                    Some(identity) => Some(identity),
                    None => {
                        let reason = "the client certificate names no client id";
                        io.fail_tls(machine, now, key, true, reason);
                        return;
                    }
                },
                _ => None,
            };
            io.metrics.count_handshake(true);
            let version = tls.session.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
            match &identity {
                Some(identity) => {
                    debug!(%peer, conn = %id, client_id = &**identity, version, "TLS handshake done")
                }
                None => debug!(%peer, conn = %id, version, "TLS handshake done"),
            }
            machine.handle_handshake(now, id, identity);
        }
        if let Link::Tls(tls) = &conn.link {
            machine.handle_transport_input(now, id, tls.record_began, tls.records.is_partial());
        }
        self.read_tls_plaintext(now, key);
    }

    /// Gives the machine the plaintext rustls holds for a TLS connection, as much as
    /// the budget allows; what is left waits in `Io::ready` for the next pass.
    fn read_tls_plaintext(&mut self, now: Timestamp, key: usize) {
        let EventLoop { machine, io } = self;
        let Some(conn) = io.conns.get_mut(&key) else {
            return;
        };
        io.touched.push(key);
        if conn.closing || matches!(&conn.link, Link::Tls(tls) if tls.handshaking) {
            return;
        }
        let allowance = io.budget.read_allowance(conn.pending_output());
        if allowance == 0 || !machine.wants_input(conn.id) {
            // Taken up again when the budget has room, or the claim is answered (see
            // `send_touched`).
            return;
        }
        let mut buffer = std::mem::take(&mut io.read_buffer);
        let read = conn.read_plaintext(&mut buffer[..allowance]);
        io.deliver_read(machine, now, key, read, &buffer);
        io.read_buffer = buffer;
    }

    /// Writes what each touched connection may send, closes the finished ones and
    /// re-arms the others; then gives paused connections their turn if the budget
    /// has room again.
    fn send_touched(&mut self) -> io::Result<()> {
        loop {
            self.send_touched_once();
            // Flushes may have freed the budget: the connections it paused are read
            // again now, not whenever some other event wakes the loop.
            let io = &mut self.io;
            if io.budget.paused.is_empty() || !io.budget.has_room() {
                return Ok(());
            }
            let paused = std::mem::take(&mut io.budget.paused);
            for key in &paused {
                if let Some(conn) = io.conns.get_mut(key) {
                    conn.budget_paused = false;
                }
            }
            io.touched.extend(paused);
        }
    }

    fn send_touched_once(&mut self) {
        let EventLoop { machine, io } = self;
        let now = io.clock();
        io.touched.sort_unstable();
        io.touched.dedup();
        let touched = std::mem::take(&mut io.touched);
        for &key in &touched {
            let Some(conn) = io.conns.get_mut(&key) else {
                continue;
            };
            let before = conn.pending_output();
            let flushed = conn.flush();
            io.budget.used -= before - conn.pending_output();
            if let Err(error) = flushed {
                if conn.closing {
                    // Already closing, and already logged why; the peer left first.
                    debug!(peer = %conn.peer, conn = %conn.id, %error, "closing connection: writing failed");
                } else {
                    log_dropped(conn.peer, conn.id, &error, "writing");
                }
                let id = conn.id;
                io.carry_out(now, machine.handle_disconnect(id));
                io.drop_conn(key);
                continue;
            }
            if conn.finished() {
                io.drop_conn(key);
                continue;
            }
            if conn.closing && !conn.lingering {
                conn.lingering = true;
                io.lingering.push_back((now + LINGER, key));
            }
            let pending = conn.pending_output();
            let held_by_budget = io.budget.read_allowance(pending) == 0;
            // A START waiting for its claim (§10) holds the requests behind it; the
            // claim's answer touches the connection again.
            let readable = !held_by_budget && machine.wants_input(conn.id);
            if let Err(error) = conn.rearm(readable) {
                // The poller refused this socket: it cannot be served, the others can.
                warn!(peer = %conn.peer, conn = %conn.id, %error, "connection dropped: cannot watch its socket");
                let id = conn.id;
                io.carry_out(now, machine.handle_disconnect(id));
                io.drop_conn(key);
                continue;
            }
            if readable && !conn.closing && conn.has_buffered_plaintext() {
                io.ready.push(key);
            }
            if held_by_budget && !conn.closing {
                // Only the budget's pauses wait in `paused`: they end when any flush
                // frees it, which `send_touched` watches for.
                if Budget::own_allowance(pending) > 0 && !conn.budget_paused {
                    conn.budget_paused = true;
                    io.budget.paused.push(key);
                }
                if !conn.backpressured {
                    conn.backpressured = true;
                    debug!(peer = %conn.peer, conn = %conn.id, pending, "backpressure: replies are not being read; reading paused");
                }
            } else if readable && conn.backpressured {
                conn.backpressured = false;
                debug!(peer = %conn.peer, conn = %conn.id, pending, "backpressure over: reading resumed");
            }
        }
        io.touched = touched;
        io.touched.clear();
    }

    /// SIGINT or SIGTERM: the clean shutdown of §7.
    fn shut_down(mut self) -> Result<(), RunError> {
        info!(
            connections = self.io.conns.len(),
            "shutting down: no new connections; making queued rows durable"
        );
        self.io.stop_accepting();
        let now = self.io.clock();
        self.io.carry_out(now, self.machine.handle_shutdown());
        for conn in self.io.conns.values_mut() {
            conn.notify_close();
            conn.closing = true;
        }
        self.io.backend.commit();
        if let Err(failure) = self.io.backend.finish() {
            return self.fail_stop_with(failure);
        }
        self.io.release_durable();
        self.drain();
        self.io.logs.flush_all();
        info!("shut down cleanly");
        Ok(())
    }

    /// The report or the store failed (§6, §10): see [`EventLoop::fail_stop_with`].
    fn fail_stop(mut self) -> Result<(), RunError> {
        match self.io.backend.finish() {
            Err(failure) => self.fail_stop_with(failure),
            // `has_failed` said otherwise; nothing is lost by stopping cleanly.
            Ok(()) => self.shut_down(),
        }
    }

    /// Every request waiting on the report or the store is answered as core decides
    /// (`Erro do servidor`), every connection closes, and the server stops.
    fn fail_stop_with(mut self, failure: RunError) -> Result<(), RunError> {
        error!(
            "{failure}; failing stop: waiting requests are answered {}, every connection is closed",
            ErrorCode::ServerError
        );
        let undecided = match &failure {
            RunError::Store(failure) => failure.undecided,
            RunError::Report(_) | RunError::System(_) => None,
        };
        // Rows made durable before the failure keep their successful replies.
        self.io.release_durable();
        self.io.stop_accepting();
        let now = self.io.clock();
        let keys: Vec<usize> = self.io.conns.keys().copied().collect();
        for key in keys {
            let Some(conn) = self.io.conns.get_mut(&key) else {
                continue;
            };
            let before = conn.pending_output();
            let waited = conn.drop_held();
            self.io.budget.used -= before - conn.pending_output();
            let id = conn.id;
            conn.closing = true;
            // Every request that waited for the failed write is answered, in order
            // (§6), up to one whose fate is unknown: after that, nothing can be said.
            let mut answered_any = false;
            for (op, seq) in waited {
                answered_any = true;
                if undecided.is_some_and(|up_to| seq <= up_to) {
                    self.io.carry_out(now, self.machine.handle_write_undecided(id));
                    break;
                }
                self.io.carry_out(now, self.machine.handle_write_failed(id, op));
            }
            if !answered_any && !self.machine.wants_input(id) {
                // A START whose claim the lost store will never answer.
                self.io.carry_out(now, self.machine.handle_claimed(now, id, Claim::Failed));
            }
        }
        self.io.carry_out(now, self.machine.handle_shutdown());
        self.drain();
        self.io.logs.flush_all();
        Err(failure)
    }

    /// Sends the last replies for up to `DRAIN_TIME`, then closes everything.
    fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_TIME;
        let mut events = Events::new();
        loop {
            let keys: Vec<usize> = self.io.conns.keys().copied().collect();
            self.io.touched.extend(keys);
            if self.send_touched().is_err() || self.io.conns.is_empty() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                warn!(
                    connections = self.io.conns.len(),
                    "closing connections whose peers did not take their last replies"
                );
                break;
            }
            events.clear();
            if self.io.poller.wait(&mut events, Some(left)).is_err() {
                break;
            }
            for event in events.iter() {
                if event.key < RELOAD_KEY {
                    let now = self.io.clock();
                    self.on_conn_event(now, event.key, event);
                }
            }
        }
        let keys: Vec<usize> = self.io.conns.keys().copied().collect();
        for key in keys {
            self.io.drop_conn(key);
        }
    }
}

impl Io {
    /// The monotonic clock, read as the protocol machine takes it.
    fn clock(&self) -> Timestamp {
        Timestamp::from_duration(self.origin.elapsed())
    }

    /// What one read of a connection's plaintext brought, to the machine: input, the
    /// peer's end (replies still leave), or a failure that ends the connection now.
    fn deliver_read(
        &mut self,
        machine: &mut Server,
        now: Timestamp,
        key: usize,
        read: io::Result<usize>,
        buffer: &[u8],
    ) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let (id, peer) = (conn.id, conn.peer);
        match read {
            Ok(0) => {
                debug!(%peer, conn = %id, "peer closed the connection");
                // Over TLS, a peer that closed with close_notify waits for ours (RFC
                // 8446 §6.1); without it, Python's unwrap() ends in an EOF error.
                conn.notify_close();
                conn.closing = true;
                self.carry_out(now, machine.handle_disconnect(id));
            }
            Ok(count) => self.carry_out(now, machine.handle_input(now, id, &buffer[..count])),
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(error) => {
                log_dropped(peer, id, &error, "reading");
                self.carry_out(now, machine.handle_disconnect(id));
                self.drop_conn(key);
            }
        }
    }

    /// Ends a TLS connection that failed, in its handshake or in its records: the
    /// handshake counted, the failure logged (rate-limited), the session discarded,
    /// and the connection closed once the alert rustls queued, if any, has left.
    fn fail_tls(&mut self, machine: &mut Server, now: Timestamp, key: usize, handshake: bool, reason: &str) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let (id, peer) = (conn.id, conn.peer);
        conn.closing = true;
        if handshake {
            self.metrics.count_handshake(false);
        }
        log_tls_failure(&mut self.logs, now, peer, id, handshake, reason);
        self.carry_out(now, machine.handle_disconnect(id));
    }

    /// Carries out the effects of one call into the protocol machine, in order.
    fn carry_out(&mut self, now: Timestamp, effects: Effects<'_>) {
        for effect in effects {
            match effect {
                Effect::Started { conn, client_id } => {
                    self.metrics.sessions_started.inc();
                    if let Some(target) = self.conns.get(&key_of(conn)) {
                        debug!(client_id = &*client_id, peer = %target.peer, conn = %conn, "session started");
                    }
                }
                Effect::Reply { conn, response } => {
                    self.metrics.count_reply(&response);
                    let Some(target) = self.conns.get_mut(&key_of(conn)) else {
                        continue;
                    };
                    if let Some(code) = response.error_code() {
                        log_refusal(&mut self.logs, now, target, &response, code);
                    }
                    let before = target.pending_output();
                    target.push_reply(response);
                    self.budget.used += target.pending_output() - before;
                    self.touched.push(key_of(conn));
                }
                Effect::Record { conn, row } => {
                    info!(
                        client_id = &*row.client_id,
                        count = row.count,
                        min = %Shortened(&row.min),
                        max = %Shortened(&row.max),
                        conn = %conn,
                        "session stopped; recording"
                    );
                    self.metrics.count_session_end(None);
                    let seq = self.backend.queue(row);
                    if let Some(target) = self.conns.get_mut(&key_of(conn)) {
                        target.hold_next_for(seq);
                        self.waiting.push_back((seq, key_of(conn)));
                    }
                }
                Effect::Claim { conn, client_id } => {
                    debug!(client_id = &*client_id, conn = %conn, "claiming the id in the store");
                    self.backend.claim(conn, client_id);
                }
                Effect::Release { conn, client_id } => {
                    if let Some(seq) = self.backend.release(client_id)
                        && let Some(target) = self.conns.get_mut(&key_of(conn))
                    {
                        // A QUIT's reply waits until the id is free everywhere.
                        target.hold_next_for(seq);
                        self.waiting.push_back((seq, key_of(conn)));
                    }
                }
                Effect::Ended { conn, session } => {
                    self.metrics.count_session_end(Some(session.how));
                    info!(
                        client_id = &*session.client_id,
                        count = session.count,
                        conn = %conn,
                        "session discarded, nothing recorded: {}",
                        session.how
                    );
                }
                Effect::Close { conn, reason } => {
                    let Some(target) = self.conns.get_mut(&key_of(conn)) else {
                        continue;
                    };
                    if reason == CloseReason::Busy {
                        self.metrics.connections_refused.inc();
                        if let Some(suppressed) = self.logs.busy.hit(now.since_origin()) {
                            warn!(peer = %target.peer, conn = %conn, suppressed, "refusing a connection: over --max-connections ({})", ErrorCode::ServerBusy);
                        }
                    } else if reason == CloseReason::HandshakeTimeout {
                        self.metrics.count_handshake(false);
                        log_tls_failure(&mut self.logs, now, target.peer, conn, true, &reason.to_string());
                    } else {
                        warn!(peer = %target.peer, conn = %conn, "closing the connection: {reason}");
                    }
                    target.notify_close();
                    target.closing = true;
                    self.budget.used -= target.drop_unsendable_output();
                    self.touched.push(key_of(conn));
                }
            }
        }
    }

    /// Drops the closing connections whose peers did not take their last replies
    /// within [`LINGER`]: a closing connection no longer counts against
    /// `--max-connections`, so it must not keep its descriptor forever.
    fn expire_lingering(&mut self, now: Timestamp) {
        while let Some(&(deadline, key)) = self.lingering.front() {
            if deadline > now {
                return;
            }
            self.lingering.pop_front();
            if self.conns.get(&key).is_some_and(|conn| conn.closing) {
                if let Some(conn) = self.conns.get(&key) {
                    debug!(peer = %conn.peer, conn = %conn.id, "closing connection dropped: its peer did not read its last replies");
                }
                self.drop_conn(key);
            }
        }
    }

    fn release_durable(&mut self) {
        let durable = self.backend.durable();
        while let Some(&(seq, key)) = self.waiting.front() {
            if seq > durable {
                break;
            }
            self.waiting.pop_front();
            if let Some(conn) = self.conns.get_mut(&key) {
                let before = conn.pending_output();
                conn.release(durable);
                self.budget.used = self.budget.used + conn.pending_output() - before;
                self.touched.push(key);
            }
        }
    }

    fn drop_conn(&mut self, key: usize) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        self.budget.used -= conn.pending_output();
        if conn.closing {
            // The server is the one closing: what the peer sent after its last
            // answered request would turn the close into a reset.
            crate::nonblocking::discard_pending_input(
                &mut conn.socket.get(),
                &mut self.read_buffer,
                DISCARD_LIMIT,
            );
        }
        debug!(peer = %conn.peer, conn = %conn.id, "connection closed");
    }

    fn pause_accepting(&mut self, now: Timestamp) {
        if let Some(listener) = &self.listener {
            let _ = listener.modify(Event::none(LISTENER_KEY), PollMode::Level);
            self.accept_paused_until = Some(now + ACCEPT_PAUSE);
        }
    }

    fn resume_accepting(&mut self) {
        self.accept_paused_until = None;
        if let Some(listener) = &self.listener {
            let _ = listener.modify(Event::readable(LISTENER_KEY), PollMode::Level);
        }
    }

    fn stop_accepting(&mut self) {
        self.listener = None;
    }

    /// Empties a signal pipe; true when something was in it.
    fn drain_signal(&mut self, key: usize) -> bool {
        let Some((shutdown, reload)) = &self.signals else {
            return false;
        };
        let pipe = if key == SHUTDOWN_KEY { shutdown } else { reload };
        let mut bytes = [0u8; 64];
        let mut asked = false;
        loop {
            match pipe.get().read(&mut bytes) {
                Ok(0) => return asked,
                Ok(_) => asked = true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return asked,
            }
        }
    }

    /// SIGHUP: the TLS files are read again for new connections; open ones keep
    /// what they have. A file that no longer loads leaves the old configuration.
    fn reload_tls(&mut self) {
        let Some((files, config)) = &mut self.tls else {
            return;
        };
        match files.load() {
            Ok(loaded) => {
                *config = loaded;
                info!(cert = %files.cert.display(), "TLS certificate and key read again; new connections get them");
            }
            Err(error) => {
                error!(
                    "cannot read the TLS files again: {error}; new connections keep getting the previous certificate"
                );
            }
        }
    }

    /// The end of a pass: gauges, and the program's hook (its log lines).
    fn end_pass(&mut self) {
        self.metrics.connections_open.set(self.conns.len() as i64);
        self.metrics.output_held_bytes.set(self.budget.used as i64);
        if let Some(hook) = &mut self.after_pass {
            hook();
        }
    }
}

impl Budget {
    /// How many bytes a connection whose replies take `pending` bytes may read now:
    /// what keeps both its own output under [`CONNECTION_OUTPUT_MARK`] and the sum
    /// under the budget, whatever it sent. Zero: do not read it.
    fn read_allowance(&self, pending: usize) -> usize {
        let own = Budget::own_allowance(pending);
        let shared = self.limit.saturating_sub(self.used).saturating_sub(LARGEST_REPLY) / AMPLIFICATION;
        let allowance = own.min(shared);
        if allowance < MIN_READ { 0 } else { allowance }
    }

    /// The same, counting the connection's own mark only.
    fn own_allowance(pending: usize) -> usize {
        let room = CONNECTION_OUTPUT_MARK.saturating_sub(pending).saturating_sub(LARGEST_REPLY);
        let allowance = (room / AMPLIFICATION).min(READ_BUFFER);
        if allowance < MIN_READ { 0 } else { allowance }
    }

    /// Whether a connection with nothing pending could be read.
    fn has_room(&self) -> bool {
        self.read_allowance(0) > 0
    }
}

impl LogLimits {
    /// When the next summary line of a suppressed condition falls due.
    fn deadline(&self) -> Option<Timestamp> {
        [&self.no_descriptors, &self.busy, &self.invalid_frames, &self.tls_failed]
            .into_iter()
            .chain(&self.refused)
            .filter_map(RateLimited::deadline)
            .min()
            .map(Timestamp::from_duration)
    }

    /// Says how many lines each condition left out in the last second, once it
    /// stopped happening (otherwise its next occurrence says so).
    fn flush_overdue(&mut self, now: Timestamp) {
        let now = now.since_origin();
        self.flush(|limit| limit.overdue(now));
    }

    /// Says what every condition left out, however recently: the server stops.
    fn flush_all(&mut self) {
        self.flush(RateLimited::take_suppressed);
    }

    /// Writes the summary line of each condition for which `due` gives a count.
    fn flush(&mut self, mut due: impl FnMut(&mut RateLimited) -> Option<u64>) {
        if let Some(suppressed) = due(&mut self.no_descriptors) {
            warn!(suppressed, "still out of file descriptors: more accepts were paused");
        }
        if let Some(suppressed) = due(&mut self.busy) {
            warn!(
                suppressed,
                "more connections were refused: over --max-connections ({})",
                ErrorCode::ServerBusy
            );
        }
        if let Some(suppressed) = due(&mut self.tls_failed) {
            warn!(suppressed, "more TLS connections failed their handshake or broke their records");
        }
        if let Some(suppressed) = due(&mut self.invalid_frames) {
            warn!(suppressed, "more invalid frames were answered {}", ErrorCode::InvalidMessage);
        }
        for (code, limit) in ErrorCode::ALL.iter().zip(&mut self.refused) {
            if let Some(suppressed) = due(limit) {
                info!(error = code.message(), suppressed, "more requests were refused");
            }
        }
    }
}

/// Logs a connection lost to a socket error. A reset or a broken pipe is the peer
/// going away abruptly, an ordinary disconnect that killed clients and
/// connect-and-close probes cause all the time: a warning each would flood the log
/// (§7), so it is logged at debug. Anything else is worth a warning.
fn log_dropped(peer: SocketAddr, conn: ConnId, error: &io::Error, doing: &str) {
    use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    if matches!(error.kind(), ConnectionReset | BrokenPipe | ConnectionAborted) {
        debug!(%peer, conn = %conn, %error, "connection dropped: {doing} failed, the peer went away");
    } else {
        warn!(%peer, conn = %conn, %error, "connection dropped: {doing} failed");
    }
}

/// Logs a refused request: at info, since operators want to see refusals (a
/// duplicate id, an unknown op), each error at most about once a second.
fn log_refusal(logs: &mut LogLimits, now: Timestamp, conn: &mut Conn, response: &Response, code: ErrorCode) {
    use minmax_core::message::OpEcho;
    let now = now.since_origin();
    if code == ErrorCode::InvalidMessage {
        conn.bad_frames += 1;
        // The first on a connection is worth a warning; a stream of them is one attack.
        if conn.bad_frames == 1
            && let Some(suppressed) = logs.invalid_frames.hit(now)
        {
            warn!(peer = %conn.peer, conn = %conn.id, suppressed, "invalid frame, answered {}; later ones on this connection are logged at debug level", code);
        } else {
            debug!(peer = %conn.peer, conn = %conn.id, count = conn.bad_frames, "invalid frame");
        }
        return;
    }
    if code == ErrorCode::ServerBusy {
        return;
    }
    let op = match response {
        Response::Error { op: OpEcho::Known(op), .. } => op.name().to_string(),
        Response::Error { op: OpEcho::Unknown(literal), .. } => literal.to_string(),
        _ => "null".to_string(),
    };
    if let Some(suppressed) = logs.refused[code as usize].hit(now) {
        info!(peer = %conn.peer, conn = %conn.id, op = op.as_str(), error = code.message(), suppressed, "request refused: {}", code.explanation());
    }
}

/// Logs a TLS connection that failed or timed out its handshake, or broke its
/// records: once per connection, the lines rate-limited like the other lasting
/// conditions (a scan of the port must not flood the log).
fn log_tls_failure(
    logs: &mut LogLimits,
    now: Timestamp,
    peer: SocketAddr,
    conn: ConnId,
    handshake: bool,
    reason: &str,
) {
    if let Some(suppressed) = logs.tls_failed.hit(now.since_origin()) {
        if handshake {
            warn!(%peer, conn = %conn, suppressed, "TLS handshake failed, closing the connection: {reason}");
        } else {
            warn!(%peer, conn = %conn, suppressed, "TLS error, closing the connection: {reason}");
        }
    } else {
        debug!(%peer, conn = %conn, "TLS failure: {reason}");
    }
}

/// Why a TLS connection failed, for the log: rustls's words, and for the common
/// mistakes what they mean.
fn failure_reason(error: &rustls::Error, handshaking: bool) -> String {
    use rustls::{AlertDescription, Error, InvalidMessage};
    let hint = match error {
        Error::InvalidMessage(InvalidMessage::InvalidContentType) if handshaking => {
            " (the peer does not speak TLS: plain frames to a TLS port?)"
        }
        Error::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown,
        ) => " (the client refused the server's certificate)",
        Error::NoCertificatesPresented => " (a client certificate is required: --tls-client-ca)",
        Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure) => {
            " (the client certificate names no client id: no URI SAN minmax:client/ID, no subject CN)"
        }
        Error::InvalidCertificate(_) => " (the client's certificate)",
        _ => "",
    };
    format!("{error}{hint}")
}

/// An integer as a log line shows it: whole up to [`LOGGED_DIGITS`] digits, else its
/// first digits and how many there are (a 4 300-digit min would bury the log). The
/// report and the wire always carry the whole number.
struct Shortened<'a>(&'a Int);

impl std::fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.as_i64().is_some() {
            return write!(f, "{}", self.0);
        }
        let text = self.0.to_string();
        let digits = text.trim_start_matches('-');
        if digits.len() <= LOGGED_DIGITS {
            return f.write_str(&text);
        }
        let sign = if self.0.is_negative() { "-" } else { "" };
        write!(f, "{sign}{}...({} digits)", &digits[..LOGGED_DIGITS], digits.len())
    }
}

/// A listening socket with a backlog deep enough for bursts of thousands of
/// connections (std's `TcpListener::bind` asks for 128).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // `::` serves IPv4 clients too, as users expect from "all addresses".
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(code) if code == libc::EMFILE || code == libc::ENFILE || code == libc::ENOBUFS || code == libc::ENOMEM)
}

fn log_inspection(report: &ReportFile, inspection: &Inspection) {
    let path = report.path().display();
    match inspection {
        Inspection::WriteHeader => info!(report = %path, "new report: header written"),
        Inspection::Append => {
            info!(report = %path, bytes = report.durable_len(), "appending to the existing report")
        }
        Inspection::CutTornTail { at } => warn!(
            report = %path,
            "the report's last line had no line end (a write cut short by a crash, never acknowledged to its client); cut it off at byte {at}"
        ),
        Inspection::WrongHeader { .. } | Inspection::TailTooLong => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_sized_to_the_room_left_for_their_replies() {
        let budget = Budget { limit: DEFAULT_OUTPUT_BUDGET, used: 0, paused: Vec::new() };
        let fresh = budget.read_allowance(0);
        assert!(fresh >= MIN_READ && fresh * AMPLIFICATION + LARGEST_REPLY <= CONNECTION_OUTPUT_MARK);
        assert_eq!(budget.read_allowance(CONNECTION_OUTPUT_MARK), 0, "a full connection is not read");
        let full =
            Budget { limit: DEFAULT_OUTPUT_BUDGET, used: DEFAULT_OUTPUT_BUDGET - 1000, paused: Vec::new() };
        assert_eq!(full.read_allowance(0), 0, "nobody is read when the budget is spent");
        assert!(!full.has_room());
    }

    #[test]
    fn huge_numbers_are_shortened_in_logs_only() {
        let huge = Int::parse(&format!("-{}", "7".repeat(4300))).expect("integer");
        assert_eq!(Shortened(&huge).to_string(), format!("-{}...(4300 digits)", "7".repeat(LOGGED_DIGITS)));
        assert_eq!(Shortened(&Int::from(-3)).to_string(), "-3");
        let wide = Int::parse("123456789012345678901234").expect("integer");
        assert_eq!(Shortened(&wide).to_string(), "123456789012345678901234");
    }
}
