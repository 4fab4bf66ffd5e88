//! The load generator: `--conns` connections on one `polling` event loop, each
//! running sessions back to back (START, `--numbers` NUMBERs, STOP or QUIT) with up to
//! `--pipeline` requests in flight, and `--idle` more connections that START and then
//! wait. Every reply is checked byte for byte against what the protocol says it must
//! be, min and max of every STOP included (encrypted ones too: ECB is deterministic,
//! so the expected ciphertext is known).
//!
//! With `tls` set, every connection speaks TLS (PROTOCOL §8): its handshake is done
//! before the measured part, and its frames go through rustls.

use hdrhistogram::Histogram;
use minmax_core::message::{ErrorCode, Number, Op, Response};
use minmax_core::{Cipher, Decoded, Decoder, Int, reply, request};
use minmax_net::Registered;
use polling::{Event, Events, PollMode, Poller};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The server.
    pub addr: SocketAddr,
    /// Connections running sessions.
    pub conns: usize,
    /// Stop after this many sessions (in all).
    pub sessions: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// NUMBERs per session.
    pub numbers: usize,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Encrypted sessions.
    pub encrypt: bool,
    /// End sessions with QUIT instead of STOP.
    pub quit: bool,
    /// Extra connections that START and then stay idle.
    pub idle: usize,
    /// The server is `minmax-bench ceiling`: check only that each request gets one
    /// well-framed reply.
    pub canned: bool,
    /// Print a progress line (on a terminal).
    pub progress: bool,
    /// Speak TLS with this configuration, to the server of this name.
    pub tls: Option<(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
}

/// What a run measured.
#[derive(Debug)]
pub struct LoadReport {
    /// Wall time of the measured part (idle connections set up before it).
    pub elapsed: Duration,
    /// Replies received and checked.
    pub requests: u64,
    /// Sessions completed (STOP or QUIT answered).
    pub sessions: u64,
    /// Replies that were not what the protocol says, connections lost, and so on.
    pub errors: u64,
    /// The first few errors, described.
    pub error_samples: Vec<String>,
    /// Request latency, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Idle sessions opened.
    pub idle: usize,
}

/// The reply a request must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Ok(Op),
    /// The session's STOP: its min and max.
    Stopped {
        min: i64,
        max: i64,
    },
}

#[derive(Debug)]
struct InFlight {
    expect: Expect,
    sent_at: Instant,
}

/// Where a connection is in its current session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Start,
    Number(usize),
    End,
}

struct LoadConn {
    stream: Registered<TcpStream>,
    decoder: Decoder,
    out: Vec<u8>,
    written: usize,
    in_flight: VecDeque<InFlight>,
    next: Next,
    session_id: u64,
    min: i64,
    max: i64,
    cipher: Option<Cipher>,
    key: [u8; 16],
    random: u64,
    registered_write: bool,
    /// No more sessions will start on this connection.
    draining: bool,
    index: usize,
    /// The TLS session, when the load speaks TLS.
    tls: Option<Box<rustls::ClientConnection>>,
}

/// A small, fast generator of test numbers (xorshift64*); not for keys.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

impl LoadConn {
    fn connect(
        poller: &Arc<Poller>,
        addr: SocketAddr,
        index: usize,
        encrypt: bool,
        seed: u64,
        tls: Option<&(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
    ) -> io::Result<LoadConn> {
        let tls_options = tls;
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let tls = match tls_options {
            Some((config, name)) => Some(Box::new(handshake(&mut stream, config, name)?)),
            None => None,
        };
        stream.set_nonblocking(true)?;
        let stream = Registered::new(poller, stream, Event::readable(index), PollMode::Level)?;
        let mut random = seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut key = [0u8; 16];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&next_random(&mut random).to_le_bytes()[..chunk.len()]);
        }
        let cipher = if encrypt { Cipher::from_key(&key).ok() } else { None };
        Ok(LoadConn {
            stream,
            decoder: Decoder::new(minmax_core::client::MAX_REPLY_FRAME),
            out: Vec::with_capacity(4096),
            written: 0,
            in_flight: VecDeque::new(),
            next: Next::Start,
            session_id: 0,
            min: 0,
            max: 0,
            cipher,
            key,
            random,
            registered_write: false,
            draining: false,
            index,
            tls,
        })
    }

    /// The run is over: no new session, and the open one, if any, is quit.
    fn wind_down(&mut self, now: Instant) {
        self.draining = true;
        if self.next != Next::Start {
            request::encode_bare(&mut self.out, Op::Quit);
            self.in_flight.push_back(InFlight { expect: Expect::Ok(Op::Quit), sent_at: now });
            self.next = Next::Start;
        }
    }

    /// Queues the next request of the session, returning false when the connection
    /// may not start another session.
    fn queue_request(
        &mut self,
        prefix: &str,
        options: &LoadOptions,
        budget: &mut SessionBudget,
        now: Instant,
    ) -> bool {
        let expect = match self.next {
            Next::Start => {
                if self.draining || !budget.take() {
                    self.draining = true;
                    return false;
                }
                self.session_id += 1;
                let id = format!("{prefix}-{}-{}", self.index, self.session_id);
                let key_text = self.cipher.as_ref().map(|_| minmax_core::cipher::key_to_base64(&self.key));
                request::encode_start(&mut self.out, &id, key_text.as_deref());
                self.next = if options.numbers == 0 { Next::End } else { Next::Number(0) };
                Expect::Ok(Op::Start)
            }
            Next::Number(sent) => {
                let number = self.random_number(options.encrypt);
                if sent == 0 {
                    (self.min, self.max) = (number, number);
                } else {
                    (self.min, self.max) = (self.min.min(number), self.max.max(number));
                }
                let value = match &self.cipher {
                    Some(cipher) => match cipher.encrypt(number) {
                        Ok(encrypted) => Number::Encrypted(encrypted),
                        Err(_) => Number::Plain(Int::from(number)),
                    },
                    None => Number::Plain(Int::from(number)),
                };
                request::encode_number(&mut self.out, &value);
                self.next = if sent + 1 == options.numbers { Next::End } else { Next::Number(sent + 1) };
                Expect::Ok(Op::Number)
            }
            Next::End => {
                self.next = Next::Start;
                if options.quit {
                    request::encode_bare(&mut self.out, Op::Quit);
                    Expect::Ok(Op::Quit)
                } else {
                    request::encode_bare(&mut self.out, Op::Stop);
                    Expect::Stopped { min: self.min, max: self.max }
                }
            }
        };
        self.in_flight.push_back(InFlight { expect, sent_at: now });
        true
    }

    fn random_number(&mut self, encrypt: bool) -> i64 {
        let raw = next_random(&mut self.random);
        if encrypt {
            // Within %16d: -999 999 999 999 999 to 9 999 999 999 999 999.
            (raw % 10_999_999_999_999_999) as i64 - 999_999_999_999_999
        } else {
            raw as i64
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            // rustls takes it all (no buffer limit): a pipeline is a few kilobytes.
            tls.writer().write_all(&self.out[self.written..])?;
            self.out.clear();
            self.written = 0;
            let mut socket = self.stream.get();
            while tls.wants_write() {
                match tls.write_tls(&mut socket) {
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
            return Ok(());
        }
        self.written +=
            minmax_net::nonblocking::write_until_blocked(&mut self.stream.get(), &self.out[self.written..])?;
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        Ok(())
    }
}

impl LoadConn {
    /// Output waits for the socket.
    fn wants_write(&self) -> bool {
        self.written < self.out.len() || self.tls.as_ref().is_some_and(|tls| tls.wants_write())
    }

    /// Reads what the socket has, as plaintext over TLS.
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            return self.stream.get().read(buffer);
        };
        if tls.read_tls(&mut self.stream.get())? == 0 {
            return Ok(0);
        }
        tls.process_new_packets().map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        let mut count = 0;
        while count < buffer.len() {
            match tls.reader().read(&mut buffer[count..]) {
                Ok(0) => break,
                Ok(read) => count += read,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        if count == 0 {
            // Records without data yet (a ticket, half a record): nothing to decode.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(count)
    }
}

/// Completes a TLS handshake on a blocking socket.
pub fn handshake(
    stream: &mut TcpStream,
    config: &Arc<rustls::ClientConfig>,
    name: &rustls::pki_types::ServerName<'static>,
) -> io::Result<rustls::ClientConnection> {
    let mut tls =
        rustls::ClientConnection::new(Arc::clone(config), name.clone()).map_err(io::Error::other)?;
    tls.set_buffer_limit(None);
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    while tls.is_handshaking() {
        tls.complete_io(stream)?;
    }
    stream.set_read_timeout(None)?;
    Ok(tls)
}

/// The bytes the reply to `expect` must be, for a session under `cipher`.
fn expected_reply(cipher: Option<&Cipher>, expect: Expect, scratch: &mut Vec<u8>) {
    scratch.clear();
    let response = match expect {
        Expect::Ok(op) => Response::Ok(op),
        Expect::Stopped { min, max } => {
            let show = |n: i64| match cipher.and_then(|cipher| cipher.encrypt(n).ok()) {
                Some(encrypted) => Number::Encrypted(encrypted),
                None => Number::Plain(Int::from(n)),
            };
            Response::Stopped { min: show(min), max: show(max) }
        }
    };
    response.write_json(scratch);
}

/// Sessions left to start, when the run is bounded by a count.
struct SessionBudget {
    left: Option<u64>,
}

impl SessionBudget {
    fn take(&mut self) -> bool {
        match &mut self.left {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
        }
    }
}

/// A connection error, counted and described.
fn record_error(report: &mut LoadReport, description: String) {
    report.errors += 1;
    if report.error_samples.len() < 5 {
        report.error_samples.push(description);
    }
}

/// How long the end of a run may take: quitting the open sessions and reading the
/// last replies, so that the server sees clean closes rather than resets.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// The prefix of every client id the load uses: recognisable in a report or a log.
pub const ID_PREFIX: &str = "minmax-bench";

/// Runs the load described by `options`.
pub fn run(options: &LoadOptions) -> io::Result<LoadReport> {
    let seed = u64::from(std::process::id()) << 32
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let prefix = format!("{ID_PREFIX}-{:06x}", seed & 0xff_ffff);
    let mut report = LoadReport::new()?;
    let idle = open_idle_sessions(options, &prefix, &mut report)?;
    let poller = Arc::new(Poller::new()?);
    let mut conns: Vec<Option<LoadConn>> = Vec::with_capacity(options.conns);
    for index in 0..options.conns {
        conns.push(Some(LoadConn::connect(
            &poller,
            options.addr,
            index,
            options.encrypt,
            seed,
            options.tls.as_ref(),
        )?));
    }
    let started = Instant::now();
    let mut run = Run {
        open: conns.len(),
        conns,
        poller,
        buffer: vec![0u8; 64 * 1024],
        scratch: Vec::new(),
        prefix: &prefix,
        options,
        budget: SessionBudget { left: options.sessions },
    };
    for conn in run.conns.iter_mut().flatten() {
        fill_pipeline(conn, &prefix, options, &mut run.budget, started);
        if let Err(error) = conn.flush() {
            record_error(&mut report, format!("connection {}: sending failed: {error}", conn.index));
        }
    }
    run.pump(
        &mut report,
        options.duration.map(|duration| started + duration),
        options.progress.then_some(started),
    )?;
    report.elapsed = started.elapsed();
    if options.progress {
        eprint!("\r\x1b[K");
    }
    // Not measured: the open sessions are quit and their last replies read (a wrong
    // one is still an error).
    let mut tail = LoadReport::new()?;
    let now = Instant::now();
    for slot in &mut run.conns {
        let Some(conn) = slot else { continue };
        conn.wind_down(now);
        if let Err(error) = conn.flush() {
            record_error(&mut tail, format!("connection {}: sending failed: {error}", conn.index));
        }
        if conn.in_flight.is_empty() && !conn.wants_write() {
            // Between two sessions: nothing to wait for.
            *slot = None;
        }
    }
    run.open = run.conns.iter().flatten().count();
    run.pump(&mut tail, Some(now + WIND_DOWN), None)?;
    report.errors += tail.errors;
    report.error_samples.extend(tail.error_samples.into_iter().take(5 - report.error_samples.len().min(5)));
    if run.open > 0 {
        record_error(
            &mut report,
            format!("{} connections did not take their last replies in time", run.open),
        );
    }
    report.idle = idle.len();
    quit_idle_sessions(idle, &mut report);
    Ok(report)
}

/// The connections of a run and what driving them needs.
struct Run<'a> {
    conns: Vec<Option<LoadConn>>,
    open: usize,
    poller: Arc<Poller>,
    buffer: Vec<u8>,
    scratch: Vec<u8>,
    prefix: &'a str,
    options: &'a LoadOptions,
    budget: SessionBudget,
}

impl Run<'_> {
    /// Sends and checks until every connection is done or `deadline` passes; shows
    /// progress from `progress_since` when given.
    fn pump(
        &mut self,
        report: &mut LoadReport,
        deadline: Option<Instant>,
        progress_since: Option<Instant>,
    ) -> io::Result<()> {
        let mut events = Events::new();
        let mut last_progress = Instant::now();
        while self.open > 0 {
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                break;
            }
            if let Some(started) = progress_since
                && now - last_progress >= Duration::from_secs(1)
            {
                last_progress = now;
                let seconds = (now - started).as_secs_f64();
                eprint!(
                    "\r\x1b[K{:.0} requests/s, {:.0} sessions/s, {} errors",
                    report.requests as f64 / seconds,
                    report.sessions as f64 / seconds,
                    report.errors
                );
            }
            events.clear();
            let wait = deadline
                .map(|deadline| deadline.saturating_duration_since(now))
                .unwrap_or(Duration::from_secs(1));
            self.poller.wait(&mut events, Some(wait.min(Duration::from_secs(1))))?;
            let now = Instant::now();
            for event in events.iter() {
                let Some(conn) = self.conns.get_mut(event.key).and_then(Option::as_mut) else {
                    continue;
                };
                let outcome = handle_event(
                    conn,
                    event,
                    &mut self.buffer,
                    &mut self.scratch,
                    report,
                    self.prefix,
                    self.options,
                    &mut self.budget,
                    now,
                );
                let finished = match outcome {
                    Ok(finished) => finished,
                    Err(error) => {
                        record_error(report, format!("connection {}: {error}", conn.index));
                        true
                    }
                };
                if finished {
                    self.conns[event.key] = None;
                    self.open -= 1;
                } else if conn.registered_write != conn.wants_write() {
                    conn.registered_write = !conn.registered_write;
                    conn.stream
                        .modify(Event::new(event.key, true, conn.registered_write), PollMode::Level)?;
                }
            }
        }
        Ok(())
    }
}

impl LoadReport {
    fn new() -> io::Result<LoadReport> {
        Ok(LoadReport {
            elapsed: Duration::ZERO,
            requests: 0,
            sessions: 0,
            errors: 0,
            error_samples: Vec::new(),
            latency: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).map_err(io::Error::other)?,
            idle: 0,
        })
    }
}

/// Quits every idle session and reads its reply, so that they end as sessions do.
fn quit_idle_sessions(mut idle: Vec<TcpStream>, report: &mut LoadReport) {
    let mut quit = Vec::new();
    request::encode_bare(&mut quit, Op::Quit);
    for stream in &mut idle {
        if stream.write_all(&quit).is_err() {
            record_error(report, "an idle session could not be quit: the connection broke".to_string());
        }
    }
    for stream in &mut idle {
        let mut prefix = [0u8; 4];
        let read = stream.read_exact(&mut prefix).and_then(|()| {
            let mut body = vec![0u8; (u32::from_be_bytes(prefix) as usize).min(64 * 1024)];
            stream.read_exact(&mut body)
        });
        if read.is_err() {
            record_error(report, "an idle session's QUIT was not answered".to_string());
        }
    }
}

/// Opens the idle sessions (before the measured part), checking each START reply.
fn open_idle_sessions(
    options: &LoadOptions,
    prefix: &str,
    report: &mut LoadReport,
) -> io::Result<Vec<TcpStream>> {
    let mut idle = Vec::with_capacity(options.idle);
    // Sent all at once, then read: thousands of round trips would take long.
    for index in 0..options.idle {
        let mut stream = TcpStream::connect(options.addr)?;
        stream.set_nodelay(true)?;
        let mut frame = Vec::new();
        request::encode_start(&mut frame, &format!("{prefix}-idle-{index}"), None);
        stream.write_all(&frame)?;
        idle.push(stream);
    }
    let ok = br#"{"op": "START", "status": true}"#;
    for (index, stream) in idle.iter_mut().enumerate() {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut prefix_bytes = [0u8; 4];
        let mut body = vec![0u8; ok.len()];
        let outcome = stream.read_exact(&mut prefix_bytes).and_then(|()| {
            let len = u32::from_be_bytes(prefix_bytes) as usize;
            body.resize(len.min(64 * 1024), 0);
            stream.read_exact(&mut body)
        });
        if outcome.is_err() || (!options.canned && body != ok) {
            record_error(report, format!("idle session {index}: START was not answered with success"));
        }
    }
    Ok(idle)
}

fn fill_pipeline(
    conn: &mut LoadConn,
    prefix: &str,
    options: &LoadOptions,
    budget: &mut SessionBudget,
    now: Instant,
) {
    while conn.in_flight.len() < options.pipeline.max(1) {
        if !conn.queue_request(prefix, options, budget, now) {
            break;
        }
    }
}

/// Handles one readiness event; true when the connection is finished.
#[allow(clippy::too_many_arguments)]
fn handle_event(
    conn: &mut LoadConn,
    event: Event,
    buffer: &mut [u8],
    scratch: &mut Vec<u8>,
    report: &mut LoadReport,
    prefix: &str,
    options: &LoadOptions,
    budget: &mut SessionBudget,
    now: Instant,
) -> io::Result<bool> {
    if event.readable {
        let count = match conn.read(buffer) {
            Ok(0) => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
            }
            Ok(count) => count,
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => 0,
            Err(error) => return Err(error),
        };
        let mut input = &buffer[..count];
        loop {
            let frame = match conn.decoder.decode(&mut input) {
                Decoded::Frame(frame) => frame,
                Decoded::NeedMore => break,
                Decoded::TooLong { announced } => {
                    return Err(io::Error::other(format!("the server announced a {announced}-byte frame")));
                }
            };
            let Some(in_flight) = conn.in_flight.pop_front() else {
                return Err(io::Error::other("a reply to no request"));
            };
            report.requests += 1;
            let _ = report.latency.record((now - in_flight.sent_at).as_nanos().max(1) as u64);
            let ends_session = matches!(in_flight.expect, Expect::Stopped { .. } | Expect::Ok(Op::Quit));
            if ends_session {
                report.sessions += 1;
            }
            if !options.canned {
                expected_reply(conn.cipher.as_ref(), in_flight.expect, scratch);
                if frame != scratch.as_slice() {
                    let got = String::from_utf8_lossy(frame);
                    let expected = String::from_utf8_lossy(scratch);
                    let refusal = reply::parse_reply(frame)
                        .and_then(|reply| reply.error)
                        .and_then(|error| ErrorCode::from_message(&error));
                    let note = refusal.map(|code| format!(" ({})", code.explanation())).unwrap_or_default();
                    record_error(
                        report,
                        format!("connection {}: got {got}, expected {expected}{note}", conn.index),
                    );
                }
            }
        }
    }
    fill_pipeline(conn, prefix, options, budget, now);
    conn.flush()?;
    Ok(conn.draining && conn.in_flight.is_empty() && !conn.wants_write())
}
