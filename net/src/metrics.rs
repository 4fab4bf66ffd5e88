//! What an operator watches: counters, gauges and histograms in Prometheus's text
//! exposition format, served at `GET /metrics` by a small thread of its own
//! (`--metrics ADDR`).
//!
//! The event loop and the report writer update atomics and nothing else; encoding
//! and serving happen on the metrics thread, one scrape at a time, each bounded in
//! size and time, so a slow or hostile scraper cannot slow the service.

use minmax_core::{CloseReason, ErrorCode, Op, Response, SessionEnd};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

type Labels = [(&'static str, &'static str); 1];

/// Every metric of a server. Cloning shares them (they are atomics behind `Arc`s).
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Connections open now.
    pub connections_open: Gauge,
    /// Connections accepted since start, busy ones included.
    pub connections_accepted: Counter,
    /// Connections answered `Servidor ocupado` and closed.
    pub connections_refused: Counter,
    /// Sessions started.
    pub sessions_started: Counter,
    /// Requests answered, by op (`START`, ..., `unknown`, `invalid`).
    requests: [Counter; REQUEST_KINDS.len()],
    /// Failure replies, by §4 error.
    errors: [Counter; ErrorCode::ALL.len()],
    /// Sessions ended, by outcome.
    sessions_ended: Family<Labels, Counter>,
    /// Rows made durable in the report.
    pub report_rows: Counter,
    /// Syncs of the report (group commits).
    pub report_syncs: Counter,
    /// How long each batch took to write and sync.
    pub report_sync_seconds: Histogram,
    /// Rows per sync: how well group commit groups.
    pub report_rows_per_sync: Histogram,
    /// Reply bytes waiting for slow readers, over every connection.
    pub output_held_bytes: Gauge,
    /// Log lines dropped because standard error was not read fast enough.
    pub log_lines_dropped: Counter,
    /// TLS handshakes, by outcome (`ok`, `failed`).
    tls_handshakes: Family<Labels, Counter>,
    /// Claims of client ids in the store (§10), by outcome (`granted`, `taken`).
    store_claims: Family<Labels, Counter>,
    /// Transactions that committed rows to the store.
    pub store_commits: Counter,
    /// Rows per store commit.
    pub store_rows_per_commit: Histogram,
    /// How long each store commit took.
    pub store_commit_seconds: Histogram,
    /// Connections made to the store.
    pub store_connects: Counter,
}

/// The `op` label of each kind of request.
const REQUEST_KINDS: [&str; 6] = ["START", "NUMBER", "STOP", "QUIT", "unknown", "invalid"];

impl Metrics {
    /// The metrics, and the registry that encodes them for [`serve`].
    pub fn new() -> (Metrics, Registry) {
        let mut registry = Registry::with_prefix("minmax");
        // Families for the scrape, and the same counters by index for the hot path,
        // where a family's label lookup (a lock and a hash) would cost too much.
        let request_family: Family<Labels, Counter> = Family::default();
        let requests = REQUEST_KINDS.map(|kind| request_family.get_or_create_owned(&[("op", kind)]));
        let error_family: Family<Labels, Counter> = Family::default();
        let errors =
            ErrorCode::ALL.map(|code| error_family.get_or_create_owned(&[("error", error_label(code))]));
        let metrics = Metrics {
            connections_open: Gauge::default(),
            connections_accepted: Counter::default(),
            connections_refused: Counter::default(),
            sessions_started: Counter::default(),
            requests,
            errors,
            sessions_ended: Family::default(),
            report_rows: Counter::default(),
            report_syncs: Counter::default(),
            // 50 us to about 1.6 s.
            report_sync_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            report_rows_per_sync: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            output_held_bytes: Gauge::default(),
            log_lines_dropped: Counter::default(),
            tls_handshakes: Family::default(),
            store_claims: Family::default(),
            store_commits: Counter::default(),
            store_rows_per_commit: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            store_commit_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            store_connects: Counter::default(),
        };
        registry.register("connections_open", "Connections open", metrics.connections_open.clone());
        registry.register(
            "connections_accepted",
            "Connections accepted, busy ones included",
            metrics.connections_accepted.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections answered Servidor ocupado (over --max-connections) and closed",
            metrics.connections_refused.clone(),
        );
        registry.register("sessions_started", "Sessions started", metrics.sessions_started.clone());
        registry.register(
            "sessions_ended",
            "Sessions ended, by outcome: stop (a row was recorded), empty_stop, quit, disconnect, timeout, closed, shutdown",
            metrics.sessions_ended.clone(),
        );
        registry.register(
            "requests",
            "Requests answered, by op (unknown: an op that is not one of the four; invalid: not a JSON object with a string op)",
            request_family,
        );
        registry.register("errors", "Failure replies, by PROTOCOL section 4 error", error_family);
        registry.register("report_rows", "Rows made durable in the report", metrics.report_rows.clone());
        registry.register(
            "report_syncs",
            "Syncs of the report (group commits)",
            metrics.report_syncs.clone(),
        );
        registry.register(
            "report_sync_seconds",
            "Time to write and sync one batch of rows",
            metrics.report_sync_seconds.clone(),
        );
        registry.register(
            "report_rows_per_sync",
            "Rows made durable by one sync",
            metrics.report_rows_per_sync.clone(),
        );
        registry.register(
            "output_held_bytes",
            "Reply bytes waiting for peers to read them, over every connection",
            metrics.output_held_bytes.clone(),
        );
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because standard error was not read fast enough",
            metrics.log_lines_dropped.clone(),
        );
        registry.register("tls_handshakes", "TLS handshakes, by outcome", metrics.tls_handshakes.clone());
        registry.register(
            "store_claims",
            "Client ids claimed in the store (--store), by outcome: granted, or taken by another server",
            metrics.store_claims.clone(),
        );
        registry.register(
            "store_commits",
            "Transactions that committed rows to the store",
            metrics.store_commits.clone(),
        );
        registry.register(
            "store_rows_per_commit",
            "Rows committed by one store transaction",
            metrics.store_rows_per_commit.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "Time to commit one batch of rows to the store",
            metrics.store_commit_seconds.clone(),
        );
        registry.register("store_connects", "Connections made to the store", metrics.store_connects.clone());
        (metrics, registry)
    }

    /// Counts one answered request and, for a failure, its error.
    pub fn count_reply(&self, response: &Response) {
        use minmax_core::message::OpEcho;
        let kind = match response {
            Response::Ok(op) => *op as usize,
            Response::Stopped { .. } => Op::Stop as usize,
            Response::Error { op: OpEcho::Known(op), .. } => *op as usize,
            Response::Error { op: OpEcho::Unknown(_), .. } => 4,
            Response::Error { op: OpEcho::Null, .. } => 5,
        };
        // A busy connection sent no request: it is counted as refused, not here.
        if response.error_code() == Some(ErrorCode::ServerBusy) {
            return;
        }
        self.requests[kind].inc();
        if let Some(code) = response.error_code() {
            self.errors[code as usize].inc();
        }
    }

    /// Counts a session that ended: `None` for a STOP whose row was recorded, else how.
    pub fn count_session_end(&self, how: Option<SessionEnd>) {
        let outcome = match how {
            None => "stop",
            Some(SessionEnd::StoppedEmpty) => "empty_stop",
            Some(SessionEnd::Quit) => "quit",
            Some(SessionEnd::Disconnected) => "disconnect",
            Some(SessionEnd::Closed(CloseReason::IdleTimeout | CloseReason::FrameTimeout)) => "timeout",
            Some(SessionEnd::Closed(_)) => "closed",
            Some(SessionEnd::Shutdown) => "shutdown",
        };
        self.sessions_ended.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// Counts a claim of a client id in the store.
    pub fn count_claim(&self, granted: bool) {
        self.store_claims.get_or_create(&[("outcome", if granted { "granted" } else { "taken" })]).inc();
    }

    /// Counts a store commit of `rows` rows that took `took`.
    pub fn count_commit(&self, rows: u64, took: std::time::Duration) {
        self.store_commits.inc();
        self.store_rows_per_commit.observe(rows as f64);
        self.store_commit_seconds.observe(took.as_secs_f64());
    }

    /// Counts a TLS handshake.
    pub fn count_handshake(&self, ok: bool) {
        self.tls_handshakes.get_or_create(&[("outcome", if ok { "ok" } else { "failed" })]).inc();
    }
}

/// A metric label for a §4 error: the same text without accents or spaces, so that
/// it can be typed in a query.
fn error_label(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ClientExists => "cliente_existente",
        ErrorCode::ClientNotFound => "cliente_inexistente",
        ErrorCode::InsufficientData => "dados_insuficientes",
        ErrorCode::InvalidMessage => "mensagem_invalida",
        ErrorCode::UnknownOperation => "operacao_desconhecida",
        ErrorCode::SessionAlreadyStarted => "sessao_ja_iniciada",
        ErrorCode::InvalidClientId => "identificador_invalido",
        ErrorCode::InvalidKey => "chave_invalida",
        ErrorCode::InvalidNumber => "numero_invalido",
        ErrorCode::CipherRequired => "cifra_obrigatoria",
        ErrorCode::ServerBusy => "servidor_ocupado",
        ErrorCode::ServerError => "erro_do_servidor",
        ErrorCode::ClientNotAuthorized => "cliente_nao_autorizado",
    }
}

/// A scrape request larger than this is refused.
const MAX_REQUEST: usize = 8 * 1024;

/// How long one scrape may take to send its request or read its answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` for the metrics endpoint (done before the server starts, so a bad
/// address is an argument error).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Serves `GET /metrics` on `listener` from a thread of its own, one scrape at a
/// time, for the life of the process.
pub fn serve(listener: TcpListener, registry: Registry) -> io::Result<()> {
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        // A failed accept or a broken scrape concerns that scraper only.
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &registry);
        }
    })?;
    Ok(())
}

fn answer(mut stream: TcpStream, registry: &Registry) -> io::Result<()> {
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT))?;
    stream.set_write_timeout(Some(SCRAPE_TIMEOUT))?;
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&chunk[..read]);
        if request.len() > MAX_REQUEST {
            return respond(&mut stream, "431 Request Header Fields Too Large", "request too large\n");
        }
    }
    let line = request.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if method != b"GET" {
        return respond(&mut stream, "405 Method Not Allowed", "only GET /metrics is served\n");
    }
    if target != b"/metrics" {
        return respond(&mut stream, "404 Not Found", "metrics are at /metrics\n");
    }
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, registry).is_err() {
        return respond(&mut stream, "500 Internal Server Error", "encoding the metrics failed\n");
    }
    let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
    let content_type = if head.contains("application/openmetrics-text") {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        body = openmetrics_to_text(&body);
        "text/plain; version=0.0.4; charset=utf-8"
    };
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    stream.write_all(body.as_bytes())
}

/// The Prometheus text format (0.0.4) of an OpenMetrics exposition, for scrapers
/// that do not ask for OpenMetrics (curl, promtool, older Prometheus): a counter
/// family is named with its `_total` suffix in its HELP and TYPE lines, and there is
/// no `# EOF` line. The samples are the same.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let name = rest.split(' ').next()?;
            counters.contains(&name).then(|| format!("{prefix}{name}_total{}", &rest[name.len()..]))
        });
        text.push_str(renamed.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_renamed_for_the_text_format() {
        let openmetrics = "# HELP a_rows Rows.\n# TYPE a_rows counter\na_rows_total 3\n# HELP a_open Open.\n# TYPE a_open gauge\na_open 1\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(openmetrics),
            "# HELP a_rows_total Rows.\n# TYPE a_rows_total counter\na_rows_total 3\n# HELP a_open Open.\n# TYPE a_open gauge\na_open 1\n"
        );
    }
}
