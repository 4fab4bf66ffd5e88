//! The server's event loop: one thread, one `polling::Poller`, level-triggered.
//!
//! Each pass:
//! 1. **wait** for readiness, the next protocol deadline, a signal, or the report
//!    writer's wake-up;
//! 2. **read**: accept every pending connection; read each ready connection once and
//!    feed the bytes to the protocol machine (`minmax_core::Server`);
//! 3. **apply** the machine's effects: replies go into each connection's output
//!    buffer, report rows are queued, STOP replies are held behind their rows;
//! 4. **commit** the pass's rows to the writer thread (one hand-over per pass);
//! 5. **release** the replies whose rows the writer has made durable;
//! 6. **send** what may be sent, and re-arm each touched connection's interest from
//!    its state: readable unless closing or over the high-water mark, writable only
//!    while output is releasable.
//!
//! The loop never waits on the disk: fsync happens on the writer thread.

use crate::conn::{Conn, key_of};
use crate::report_file::{ReportError, ReportFile, ReportWriter};
use minmax_core::server::{ConnIdHasher, Effect};
use minmax_core::{Config, ErrorCode, SessionEnd, Timestamp};
use polling::{Event, Events, PollMode, Poller};
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

/// Bytes read from a socket at a time; shared by every connection.
const READ_BUFFER: usize = 64 * 1024;

/// How long accepting pauses when the process is out of descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Unread input thrown away before the server closes a connection, at most.
const DISCARD_LIMIT: usize = 256 * 1024;

/// How long a shutdown waits for clients to take their last replies.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// The report file.
    pub report: PathBuf,
    /// The protocol's limits and policy.
    pub protocol: Config,
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
            StartError::System(error) => write!(f, "cannot start: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Why a running server stopped other than by a clean shutdown.
#[derive(Debug)]
pub enum RunError {
    /// Writing or syncing the report failed: the server failed stop (§6).
    Report(String),
    /// The poller failed.
    System(io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Report(failure) => f.write_str(failure),
            RunError::System(error) => write!(f, "the event loop failed: {error}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<io::Error> for RunError {
    fn from(error: io::Error) -> RunError {
        RunError::System(error)
    }
}

type Conns = HashMap<usize, Conn, BuildHasherDefault<ConnIdHasher>>;

/// A bound server, ready to run.
pub struct EventLoop {
    poller: Arc<Poller>,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    shutdown: Option<UnixStream>,
    machine: minmax_core::Server,
    conns: Conns,
    writer: ReportWriter,
    /// Held STOP replies by row sequence number (increasing), with their connection.
    waiting: VecDeque<(u64, usize)>,
    /// Connections whose output or interest may have changed this pass.
    touched: Vec<usize>,
    read_buffer: Box<[u8]>,
    accept_paused_until: Option<Timestamp>,
    /// The origin of the clock readings the protocol machine gets.
    origin: Instant,
    /// Called at the end of every pass, before the loop waits again.
    after_pass: Option<Box<dyn FnMut()>>,
}

impl EventLoop {
    /// Binds the listening socket and opens the report (repairing it if needed, §6).
    pub fn bind(settings: &Settings) -> Result<EventLoop, StartError> {
        // Bound first: a bad address or a port in use must not leave a report behind.
        let listener =
            listen(settings.bind).map_err(|source| StartError::Bind { addr: settings.bind, source })?;
        let report = ReportFile::open(&settings.report).map_err(StartError::Report)?;
        log_inspection(&report);
        let local_addr = listener.local_addr().map_err(StartError::System)?;
        let poller = Arc::new(Poller::new().map_err(StartError::System)?);
        // SAFETY: the listener is deleted from the poller before it is dropped, in
        // `stop_accepting` or in `Drop for EventLoop`, the only places it is dropped.
        #[allow(unsafe_code)]
        unsafe {
            poller
                .add_with_mode(&listener, Event::readable(LISTENER_KEY), PollMode::Level)
                .map_err(StartError::System)?;
        }
        let writer = ReportWriter::start(report, Arc::clone(&poller)).map_err(StartError::System)?;
        Ok(EventLoop {
            poller,
            listener: Some(listener),
            local_addr,
            shutdown: None,
            machine: minmax_core::Server::new(settings.protocol.clone()),
            conns: Conns::default(),
            writer,
            waiting: VecDeque::new(),
            touched: Vec::new(),
            read_buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            accept_paused_until: None,
            origin: Instant::now(),
            after_pass: None,
        })
    }

    /// The monotonic clock, read as the protocol machine takes it.
    fn clock(&self) -> Timestamp {
        Timestamp::from_duration(self.origin.elapsed())
    }

    /// Calls `hook` at the end of every pass of the loop, before it waits again: the
    /// moment to flush what the pass buffered (the program's log lines).
    pub fn after_each_pass(&mut self, hook: impl FnMut() + 'static) {
        self.after_pass = Some(Box::new(hook));
    }

    /// The address the server listens on, with the real port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until a byte arrives on `shutdown` (a signal handler writes one), then
    /// shuts down cleanly: stops accepting, makes every queued row durable, sends the
    /// last replies, closes every connection and discards active sessions.
    pub fn run(mut self, shutdown: UnixStream) -> Result<(), RunError> {
        shutdown.set_nonblocking(true)?;
        // SAFETY: `shutdown` is kept in `self.shutdown` and deleted from the poller
        // in `Drop for EventLoop` before it is dropped.
        #[allow(unsafe_code)]
        unsafe {
            self.poller.add_with_mode(&shutdown, Event::readable(SHUTDOWN_KEY), PollMode::Level)?;
        }
        self.shutdown = Some(shutdown);
        let mut events = Events::new();
        loop {
            let deadline =
                [self.machine.poll_timeout(), self.accept_paused_until].into_iter().flatten().min();
            let timeout = deadline.map(|deadline| deadline.saturating_duration_since(self.clock()));
            events.clear();
            self.poller.wait(&mut events, timeout)?;
            let now = self.clock();
            let mut stop = false;
            for event in events.iter() {
                match event.key {
                    LISTENER_KEY => self.accept(now),
                    SHUTDOWN_KEY => stop = self.signalled(),
                    key => self.on_conn_event(now, key, event),
                }
            }
            if self.accept_paused_until.is_some_and(|until| until <= now) {
                self.resume_accepting();
            }
            self.machine.handle_timeout(now);
            self.apply_effects();
            if let Some(failure) = self.writer.failure() {
                return self.fail_stop(failure);
            }
            self.writer.commit();
            self.release_durable();
            self.send_touched()?;
            if let Some(hook) = &mut self.after_pass {
                hook();
            }
            if stop {
                return self.shut_down();
            }
        }
    }

    fn accept(&mut self, now: Timestamp) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if let Err(error) = stream.set_nonblocking(true).and_then(|()| stream.set_nodelay(true)) {
                        warn!(%peer, %error, "dropping a new connection: cannot configure its socket");
                        continue;
                    }
                    let id = self.machine.handle_connect(now);
                    let conn = Conn::new(id, stream, peer);
                    // SAFETY: every registered connection lives in `self.conns`, and
                    // leaves it only through `drop_conn` or `Drop for EventLoop`, which
                    // delete it from the poller first.
                    #[allow(unsafe_code)]
                    let added = unsafe {
                        self.poller.add_with_mode(&conn.stream, Event::readable(conn.key()), PollMode::Level)
                    };
                    if let Err(error) = added {
                        warn!(%peer, %error, "dropping a new connection: cannot watch its socket");
                        self.machine.handle_disconnect(id);
                        continue;
                    }
                    debug!(%peer, conn = %id, "connection accepted");
                    self.touched.push(conn.key());
                    self.conns.insert(conn.key(), conn);
                    self.apply_effects();
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_resource_exhaustion(&error) => {
                    warn!(%error, connections = self.conns.len(), "cannot accept more connections; pausing accepts for 100 ms");
                    self.pause_accepting(now);
                    break;
                }
                // A connection that died in the backlog: ignore it.
                Err(error) => debug!(%error, "accept failed"),
            }
        }
    }

    fn pause_accepting(&mut self, now: Timestamp) {
        if let Some(listener) = &self.listener {
            let _ = self.poller.modify_with_mode(listener, Event::none(LISTENER_KEY), PollMode::Level);
            self.accept_paused_until = Some(now + ACCEPT_PAUSE);
        }
    }

    fn resume_accepting(&mut self) {
        self.accept_paused_until = None;
        if let Some(listener) = &self.listener {
            let _ = self.poller.modify_with_mode(listener, Event::readable(LISTENER_KEY), PollMode::Level);
        }
    }

    fn stop_accepting(&mut self) {
        if let Some(listener) = self.listener.take() {
            let _ = self.poller.delete(&listener);
        }
    }

    /// Drains the signal pipe; true when a shutdown was asked for.
    fn signalled(&mut self) -> bool {
        let Some(pipe) = &mut self.shutdown else {
            return false;
        };
        let mut bytes = [0u8; 64];
        let mut asked = false;
        loop {
            match pipe.read(&mut bytes) {
                Ok(0) => return asked,
                Ok(_) => asked = true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return asked,
            }
        }
    }

    fn on_conn_event(&mut self, now: Timestamp, key: usize, event: Event) {
        let EventLoop { conns, machine, read_buffer, touched, .. } = self;
        let Some(conn) = conns.get_mut(&key) else {
            return;
        };
        touched.push(key);
        if conn.closing {
            // Level-triggered epoll reports a hang-up or error whatever the
            // interest, so a closing connection the peer is gone from is dropped now
            // rather than reported on every pass.
            if event.is_interrupt() || event.is_err() == Some(true) {
                debug!(peer = %conn.peer, conn = %conn.id, "peer gone while closing");
                self.drop_conn(key);
            }
            return;
        }
        if !event.readable {
            return;
        }
        match conn.stream.read(read_buffer) {
            Ok(0) => {
                debug!(peer = %conn.peer, conn = %conn.id, "peer closed the connection");
                conn.closing = true;
                machine.handle_disconnect(conn.id);
            }
            Ok(count) => machine.handle_input(now, conn.id, &read_buffer[..count]),
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(error) => {
                warn!(peer = %conn.peer, conn = %conn.id, %error, "connection dropped: reading failed");
                let id = conn.id;
                machine.handle_disconnect(id);
                self.drop_conn(key);
            }
        }
        self.apply_effects();
    }

    fn apply_effects(&mut self) {
        while let Some(effect) = self.machine.poll_effect() {
            match effect {
                Effect::Started { conn, client_id } => {
                    if let Some(target) = self.conns.get(&key_of(conn)) {
                        debug!(%client_id, peer = %target.peer, conn = %conn, "session started");
                    }
                }
                Effect::Reply { conn, response } => {
                    let Some(target) = self.conns.get_mut(&key_of(conn)) else {
                        continue;
                    };
                    if response.error_code() == Some(ErrorCode::InvalidMessage) {
                        target.bad_frames += 1;
                        if target.bad_frames == 1 {
                            warn!(peer = %target.peer, conn = %conn, "invalid frame (answered {}); later ones on this connection are logged at debug level", ErrorCode::InvalidMessage);
                        } else {
                            debug!(peer = %target.peer, conn = %conn, count = target.bad_frames, "invalid frame");
                        }
                    }
                    target.push_reply(&response);
                    self.touched.push(key_of(conn));
                }
                Effect::Record { conn, row } => {
                    info!(client_id = %row.client_id, count = row.count, min = %row.min, max = %row.max, conn = %conn, "session stopped; recording");
                    let seq = self.writer.queue(row);
                    if let Some(target) = self.conns.get_mut(&key_of(conn)) {
                        target.hold(seq);
                        self.waiting.push_back((seq, key_of(conn)));
                    }
                }
                Effect::Ended { conn, session } => {
                    let how = match session.how {
                        SessionEnd::Quit => "the client quit".to_string(),
                        SessionEnd::StoppedEmpty => {
                            format!("STOP without any number ({})", ErrorCode::InsufficientData)
                        }
                        SessionEnd::Disconnected => "the client disconnected".to_string(),
                        SessionEnd::Closed(reason) => format!("the server closed the connection: {reason}"),
                        SessionEnd::Shutdown => "the server is shutting down".to_string(),
                    };
                    info!(client_id = %session.client_id, count = session.count, conn = %conn, "session discarded, nothing recorded: {how}");
                }
                Effect::Close { conn, reason } => {
                    if let Some(target) = self.conns.get_mut(&key_of(conn)) {
                        warn!(peer = %target.peer, conn = %conn, "closing the connection: {reason}");
                        target.closing = true;
                        self.touched.push(key_of(conn));
                    }
                }
            }
        }
    }

    fn release_durable(&mut self) {
        let durable = self.writer.durable();
        while let Some(&(seq, key)) = self.waiting.front() {
            if seq > durable {
                break;
            }
            self.waiting.pop_front();
            if let Some(conn) = self.conns.get_mut(&key) {
                conn.release(durable);
                self.touched.push(key);
            }
        }
    }

    /// Writes what each touched connection may send, closes the finished ones and
    /// re-arms the others.
    fn send_touched(&mut self) -> io::Result<()> {
        self.touched.sort_unstable();
        self.touched.dedup();
        let touched = std::mem::take(&mut self.touched);
        for &key in &touched {
            let Some(conn) = self.conns.get_mut(&key) else {
                continue;
            };
            if let Err(error) = conn.flush() {
                warn!(peer = %conn.peer, conn = %conn.id, %error, "connection dropped: writing failed");
                let id = conn.id;
                self.machine.handle_disconnect(id);
                self.drop_conn(key);
                continue;
            }
            if conn.finished() {
                self.drop_conn(key);
                continue;
            }
            conn.rearm(&self.poller)?;
        }
        self.touched = touched;
        self.touched.clear();
        // Disconnects above may have ended sessions: log them now.
        self.apply_effects();
        Ok(())
    }

    fn drop_conn(&mut self, key: usize) {
        if let Some(mut conn) = self.conns.remove(&key) {
            let _ = self.poller.delete(&conn.stream);
            if conn.closing {
                // The server is the one closing: what the peer sent after its last
                // answered request would turn the close into a reset.
                crate::nonblocking::discard_pending_input(
                    &mut conn.stream,
                    &mut self.read_buffer,
                    DISCARD_LIMIT,
                );
            }
            debug!(peer = %conn.peer, conn = %conn.id, "connection closed");
        }
    }

    /// SIGINT or SIGTERM: the clean shutdown of §7.
    fn shut_down(mut self) -> Result<(), RunError> {
        info!(
            connections = self.conns.len(),
            "shutting down: no new connections; making queued rows durable"
        );
        self.stop_accepting();
        self.machine.handle_shutdown();
        for conn in self.conns.values_mut() {
            conn.closing = true;
        }
        self.apply_effects();
        self.writer.commit();
        if let Err(failure) = self.writer.finish() {
            return self.fail_stop(failure);
        }
        self.release_durable();
        self.drain();
        let (rows, syncs) = self.writer.sync_stats();
        info!(rows, syncs, "shut down cleanly; the report took {rows} rows in {syncs} syncs");
        Ok(())
    }

    /// The report failed (§6): every STOP waiting on it is answered `Erro do
    /// servidor`, every connection closes, and the server stops.
    fn fail_stop(mut self, failure: String) -> Result<(), RunError> {
        error!(
            "{failure}; failing stop: waiting STOPs are answered {}, every connection is closed",
            ErrorCode::ServerError
        );
        // Rows made durable before the failure keep their successful replies.
        self.release_durable();
        self.stop_accepting();
        self.machine.handle_shutdown();
        for conn in self.conns.values_mut() {
            conn.fail_held_stop();
            conn.closing = true;
        }
        self.apply_effects();
        self.drain();
        Err(RunError::Report(failure))
    }

    /// Sends the last replies for up to `DRAIN_TIME`, then closes everything.
    fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_TIME;
        let mut events = Events::new();
        loop {
            self.touched.extend(self.conns.keys().copied());
            if self.send_touched().is_err() || self.conns.is_empty() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                warn!(
                    connections = self.conns.len(),
                    "closing connections whose peers did not take their last replies"
                );
                break;
            }
            events.clear();
            if self.poller.wait(&mut events, Some(left)).is_err() {
                break;
            }
            for event in events.iter() {
                if event.key != LISTENER_KEY && event.key != SHUTDOWN_KEY {
                    self.on_conn_event(self.clock(), event.key, event);
                }
            }
        }
        let keys: Vec<usize> = self.conns.keys().copied().collect();
        for key in keys {
            self.drop_conn(key);
        }
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Every source must leave the poller before it is dropped (polling's contract).
        for conn in self.conns.values() {
            let _ = self.poller.delete(&conn.stream);
        }
        self.stop_accepting();
        if let Some(pipe) = &self.shutdown {
            let _ = self.poller.delete(pipe);
        }
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

fn log_inspection(report: &ReportFile) {
    use minmax_core::report::Inspection;
    let path = report.path().display();
    match &report.inspection {
        Inspection::WriteHeader => info!(report = %path, "new report: header written"),
        Inspection::Append => info!(report = %path, bytes = report.len, "appending to the existing report"),
        Inspection::CutTornTail { at } => warn!(
            report = %path,
            "the report's last line had no line end (a write cut short by a crash, never acknowledged to its client); cut it off at byte {at}"
        ),
        Inspection::WrongHeader { .. } | Inspection::TailTooLong => {}
    }
}
