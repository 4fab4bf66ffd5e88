//! Connections that record everything: each write and each frame read goes into the
//! case's transcript with its time, raw and decoded. Every read has a deadline.

use super::json;
use super::model::Finding;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One event on the wire.
#[derive(Debug, Clone)]
pub struct Event {
    /// Since the case started.
    pub at: Duration,
    /// Which connection (1, 2, ...).
    pub conn: usize,
    /// `>` sent by the tool, `<` received from the peer, `*` a note.
    pub direction: char,
    /// The bytes, for `>` and `<`.
    pub bytes: Vec<u8>,
    /// A note, for `*`.
    pub note: String,
}

/// A case's wire log, shared by its connections.
#[derive(Debug)]
pub struct Transcript {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Transcript {
    /// A transcript whose clock starts now.
    pub fn new() -> Arc<Transcript> {
        Arc::new(Transcript { start: Instant::now(), events: Mutex::new(Vec::new()) })
    }

    fn push(&self, conn: usize, direction: char, bytes: &[u8], note: &str) {
        let event = Event {
            at: self.start.elapsed(),
            conn,
            direction,
            bytes: bytes.to_vec(),
            note: note.to_string(),
        };
        let mut events = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A 50-client case logs a few hundred events; a runaway peer must not grow it forever.
        if events.len() < 5000 {
            events.push(event);
        }
    }

    /// Records a note (a connection opened, closed, reset, a process signalled).
    pub fn note(&self, conn: usize, note: &str) {
        self.push(conn, '*', &[], note);
    }

    /// Records bytes sent to the peer on `conn`.
    pub fn sent(&self, conn: usize, bytes: &[u8]) {
        self.push(conn, '>', bytes, "");
    }

    /// Records bytes received from the peer on `conn`.
    pub fn received(&self, conn: usize, bytes: &[u8]) {
        self.push(conn, '<', bytes, "");
    }

    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The transcript as text: one line per event, each frame shown as its length
    /// prefix, its body as bytes, and the body decoded as JSON.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for event in self.events() {
            let head = format!(
                "{:>9.1} ms  #{:<2} {}",
                event.at.as_secs_f64() * 1000.0,
                event.conn,
                event.direction
            );
            if event.direction == '*' {
                out.push_str(&format!("{head} {}\n", event.note));
                continue;
            }
            match split_frames(&event.bytes) {
                Some(frames) if !frames.is_empty() => {
                    for body in frames {
                        out.push_str(&format!("{head} [{}] {}\n", body.len(), escape_bytes(body, 600)));
                        let decoded = match json::parse(body) {
                            Ok(value) => value.render(),
                            Err(error) => format!("(not JSON: {error})"),
                        };
                        out.push_str(&format!("{:>24} json: {}\n", "", decoded));
                    }
                }
                _ => out.push_str(&format!(
                    "{head} raw {} bytes: {}\n",
                    event.bytes.len(),
                    escape_bytes(&event.bytes, 300)
                )),
            }
        }
        out
    }
}

/// The bodies of `bytes` when it is a whole number of frames.
pub fn split_frames(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let prefix: [u8; 4] = rest.get(..4)?.try_into().ok()?;
        let length = u32::from_be_bytes(prefix) as usize;
        let body = rest.get(4..4 + length)?;
        frames.push(body);
        rest = &rest[4 + length..];
    }
    Some(frames)
}

/// Bytes as readable text: printable ASCII as is, the rest as `\xNN`; shortened.
pub fn escape_bytes(bytes: &[u8], limit: usize) -> String {
    let mut out = String::new();
    for &byte in bytes.iter().take(limit) {
        match byte {
            0x20..=0x7e => out.push(char::from(byte)),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    if bytes.len() > limit {
        out.push_str(&format!("...({} more bytes)", bytes.len() - limit));
    }
    out
}

/// A frame: the 4-byte big-endian length, then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// A recorded TCP connection.
pub struct Conn {
    stream: TcpStream,
    /// Its number in the transcript.
    pub no: usize,
    log: Arc<Transcript>,
    timeout: Duration,
    deadline: Instant,
}

impl Conn {
    /// Connects to `addr`; `timeout` bounds every later read, `deadline` the whole case.
    pub fn connect(
        addr: SocketAddr,
        no: usize,
        log: Arc<Transcript>,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<Conn, Finding> {
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|error| {
            log.note(no, &format!("connect to {addr} failed: {error}"));
            match error.kind() {
                ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                    Finding::Timeout(format!("connecting to {addr}"))
                }
                _ => Finding::Closed(format!("cannot connect to {addr}: {error}")),
            }
        })?;
        log.note(no, &format!("connected to {addr}"));
        Conn::wrap(stream, no, log, timeout, deadline)
    }

    /// Records an already connected stream (the client battery's accepted ones).
    pub fn wrap(
        stream: TcpStream,
        no: usize,
        log: Arc<Transcript>,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<Conn, Finding> {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(timeout));
        Ok(Conn { stream, no, log, timeout, deadline })
    }

    /// Sends raw bytes in one write.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Finding> {
        self.log.sent(self.no, bytes);
        self.stream.write_all(bytes).map_err(|error| {
            self.log.note(self.no, &format!("write failed: {error}"));
            Finding::Closed(format!("connection #{} broke while sending: {error}", self.no))
        })
    }

    /// Sends one frame whose body is `body`.
    pub fn send_frame(&mut self, body: &[u8]) -> Result<(), Finding> {
        self.send(&frame(body))
    }

    fn read_exact(&mut self, buffer: &mut [u8], what: &str) -> Result<usize, Finding> {
        let mut filled = 0;
        while filled < buffer.len() {
            let now = Instant::now();
            let left = self.deadline.saturating_duration_since(now).min(self.timeout);
            if left.is_zero() {
                self.log.note(self.no, &format!("gave up waiting for {what}"));
                return Err(Finding::Timeout(format!(
                    "no {what} on connection #{} within {:?}",
                    self.no, self.timeout
                )));
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut buffer[filled..]) {
                Ok(0) => return Ok(filled),
                Ok(n) => filled += n,
                Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.log.note(self.no, &format!("gave up waiting for {what}"));
                    return Err(Finding::Timeout(format!(
                        "no {what} on connection #{} within {:?}",
                        self.no, self.timeout
                    )));
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    self.log.note(self.no, &format!("read failed: {error}"));
                    return Err(Finding::Closed(format!("connection #{} broke: {error}", self.no)));
                }
            }
        }
        Ok(filled)
    }

    /// The next frame's body; the end of the connection is [`Finding::Closed`].
    pub fn recv_frame(&mut self) -> Result<Vec<u8>, Finding> {
        self.recv_frame_limited(1 << 20)
    }

    /// Like [`Conn::recv_frame`], refusing a frame announced longer than `limit`.
    pub fn recv_frame_limited(&mut self, limit: usize) -> Result<Vec<u8>, Finding> {
        let mut prefix = [0u8; 4];
        let got = self.read_exact(&mut prefix, "frame")?;
        if got == 0 {
            self.log.note(self.no, "the peer closed the connection");
            return Err(Finding::Closed(format!(
                "connection #{} closed by the peer before a frame",
                self.no
            )));
        }
        if got < 4 {
            self.log.received(self.no, &prefix[..got]);
            return Err(Finding::Closed(format!("connection #{} closed inside a length prefix", self.no)));
        }
        let length = u32::from_be_bytes(prefix) as usize;
        if length > limit {
            self.log.received(self.no, &prefix);
            return Err(Finding::fail(
                format!("a frame of at most {limit} bytes"),
                format!("a length prefix announcing {length} bytes"),
            ));
        }
        let mut body = vec![0u8; length];
        let got = self.read_exact(&mut body, "frame body")?;
        let mut whole = prefix.to_vec();
        whole.extend_from_slice(&body[..got]);
        self.log.received(self.no, &whole);
        if got < length {
            return Err(Finding::Closed(format!(
                "connection #{} closed after {got} of the {length} bytes its frame announced",
                self.no
            )));
        }
        Ok(body)
    }

    /// Waits for the peer to close the connection, any bytes before that recorded.
    /// `Ok(bytes)`: what came before the end.
    pub fn recv_until_closed(&mut self) -> Result<Vec<u8>, Finding> {
        let mut all = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now()).min(self.timeout);
            if left.is_zero() {
                return Err(Finding::Timeout(format!(
                    "connection #{} still open after {:?}",
                    self.no, self.timeout
                )));
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut buffer) {
                Ok(0) => {
                    if !all.is_empty() {
                        self.log.received(self.no, &all);
                    }
                    self.log.note(self.no, "the peer closed the connection");
                    return Ok(all);
                }
                Ok(n) => all.extend_from_slice(&buffer[..n]),
                Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if !all.is_empty() {
                        self.log.received(self.no, &all);
                    }
                    return Err(Finding::Timeout(format!(
                        "connection #{} still open after {:?}",
                        self.no, self.timeout
                    )));
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    self.log.note(self.no, &format!("connection ended: {error}"));
                    return Ok(all);
                }
            }
        }
    }

    /// Closes our side cleanly (FIN).
    pub fn close(self) {
        self.log.note(self.no, "closed by the tool (FIN)");
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// Stops sending (FIN) but keeps reading.
    pub fn shutdown_write(&mut self) {
        self.log.note(self.no, "write side shut down by the tool (FIN)");
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    /// Aborts the connection with a TCP reset (SO_LINGER 0, then close).
    pub fn reset(self) {
        self.log.note(self.no, "reset by the tool (RST)");
        let _ = rustix::net::sockopt::set_socket_linger(&self.stream, Some(Duration::ZERO));
        drop(self.stream);
    }

    /// Waits (at most 200 ms) until the peer's program has read every byte sent so far,
    /// as the kernel's socket table shows it (the receive queue of the peer's socket),
    /// so that the next write reaches it as a read of its own. Dribbled frames are then
    /// split for certain, whatever the machine's load, not only when the peer is quick.
    pub fn wait_peer_read(&self) {
        let (Ok(local), Ok(peer)) = (self.stream.local_addr(), self.stream.peer_addr()) else { return };
        let give_up = Instant::now() + Duration::from_millis(200);
        while peer_unread(peer.port(), local.port()).is_some_and(|unread| unread > 0)
            && Instant::now() < give_up
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Changes how long a single read may wait.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }
}

/// The bytes waiting in the receive queue of the socket whose local port is `port` and
/// whose peer's port is `peer_port`, from `/proc/net/tcp` and `/proc/net/tcp6`.
fn peer_unread(port: u16, peer_port: u16) -> Option<u64> {
    let (local, remote) = (format!(":{port:04X}"), format!(":{peer_port:04X}"));
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(table) = std::fs::read_to_string(path) else { continue };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 4 && fields[1].ends_with(&local) && fields[2].ends_with(&remote) {
                let rx = fields[4].split(':').nth(1)?;
                return u64::from_str_radix(rx, 16).ok();
            }
        }
    }
    None
}
