//! minmax-server: parses the command line, sets up logging and signals, and runs
//! `minmax_net::EventLoop` (PROTOCOL §7).

use clap::{Parser, Subcommand};
use minmax_bins::cli::{self, ValueError, parse_in_range, parse_port_or_zero, parse_seconds};
use minmax_core::{ErrorCode, Exit};
use minmax_net::event_loop::DEFAULT_OUTPUT_BUDGET;
use minmax_net::{EventLoop, Metrics, RunError, Settings, Signals, StartError, TlsFiles};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing::{error, info, warn};

const ABOUT: &str = "The minmax server: clients open a session, stream integers, and get back their \
minimum and maximum; every successful STOP is appended to a CSV report before its reply is sent.";

const AFTER_HELP: &str = "\
The report (default report.csv) is created with the header client_id,count,min,max,
or appended to if it already starts with that header; a last line cut short by a
crash is removed. Rows are synced to disk before a client sees its result.

The report is followed by its path: removed, renamed or truncated while the server
runs (logrotate, rm, : > report.csv), it is set up again before the next row, and the
log says so. If writing or syncing it fails (a full disk), the STOPs waiting on it
are answered Erro do servidor and never recorded, the file is cut back to its last
durable length, and the server exits with code 5.

Logs go to standard error, one line per event, key=value; values from clients are
quoted. RUST_LOG changes the level (RUST_LOG=debug, RUST_LOG=warn). Logging never
blocks serving: if standard error is not read, lines are dropped and counted.
Colours only on a terminal, never with NO_COLOR set.

TLS: with --tls-cert and --tls-key the port speaks TLS 1.3 or 1.2, and only TLS;
the frames inside are unchanged. With --tls-client-ca every client must present a
certificate from that CA, and may START only with the client id it names (its URI
SAN minmax:client/ID, else its subject CN): any other id is answered
Cliente não autorizado. A peer that sends plain frames, fails its handshake or does
not finish it within --frame-timeout is closed and logged. minmax-certs makes the
certificates (a CA, the server's, one per client id) without openssl.

Signals: SIGINT or SIGTERM stops the server cleanly: no new connections, replies to
requests already received are sent, queued rows made durable, active sessions
discarded. SIGHUP checks the report's path at once and keeps serving; with TLS it
also reads the certificate, key and client CA files again for new connections (open
ones keep theirs; a file that no longer loads is logged and the old ones kept).

Several servers can share one PostgreSQL store (--store URL): a client id is then
active on at most one connection of all of them, and their report is one table;
minmax-server export --store URL writes it as report.csv. A server that loses the
store fails stop (exit 5), as on a failed disk.

Exit codes:
  0  clean shutdown (SIGINT or SIGTERM)
  1  wrong number of arguments, or an unknown option
  2  an invalid argument: a port out of range or in use, a bad address, a bad value,
     a TLS certificate, key or CA file that cannot be used
  5  the report or the store cannot be used, at start or later (wrong header, locked,
     unwritable, disk full, store unreachable or lost)

The protocol: docs/PROTOCOL.md.";

/// The command line of §7.
#[derive(Parser)]
// Negative numbers are values, so that `-1` is "out of range" (2), not an unknown option (1).
#[command(
    name = "minmax-server",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    allow_negative_numbers = true,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Args {
    /// TCP port to listen on: 1-65535, or 0 for any free port (the log says which)
    #[arg(value_parser = parse_port_or_zero, required = true)]
    port: Option<u16>,

    /// Address to listen on; 0.0.0.0 or :: to serve other machines
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = parse_address)]
    bind: IpAddr,

    /// The report file
    #[arg(long, value_name = "PATH", default_value = "report.csv")]
    report: PathBuf,

    #[arg(long, help = format!("Refuse plain sessions: START must carry a key ({})", ErrorCode::CipherRequired))]
    require_cipher: bool,

    /// Largest request frame accepted, in bytes; a longer one closes the connection
    #[arg(long, value_name = "BYTES", default_value = "65536", value_parser = |text: &str| parse_in_range(text, 64u32, 64 << 20))]
    max_frame: u32,

    #[arg(long, help = format!("Connections beyond this many are answered {} and closed", ErrorCode::ServerBusy), value_name = "N", default_value = "10000", value_parser = |text: &str| parse_in_range(text, 1usize, 1_000_000))]
    max_connections: usize,

    /// Close a connection that sent no request for this long, discarding its session (0: never)
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = parse_seconds)]
    idle_timeout: Duration,

    /// Close a connection that leaves a frame half-sent this long (slow-loris protection; 0: never)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    frame_timeout: Duration,

    /// Most reply bytes waiting for clients that do not read them, over all connections;
    /// past it, connections are not read until their clients read
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_OUTPUT_BUDGET, value_parser = |text: &str| parse_in_range(text, 1usize << 20, 1usize << 40))]
    output_budget: usize,

    /// Serve Prometheus metrics at http://ADDR/metrics (for example 127.0.0.1:9100; port 0: any free port)
    #[arg(long, value_name = "ADDR", value_parser = parse_socket_address)]
    metrics: Option<SocketAddr>,

    /// Serve TLS only, with this certificate chain (PEM, the server's certificate first)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Require client certificates from this CA (PEM); a START must use the id its
    /// certificate names
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,

    /// Keep client ids and the report in this PostgreSQL store, shared with other servers
    /// (a libpq-style URL or key=value string; give the password in PGPASSWORD or
    /// --store-password-file: one in the URL works, but ps shows it to every user)
    #[arg(long, value_name = "URL")]
    store: Option<String>,

    /// A file holding the store's password (else PGPASSWORD)
    #[arg(long, value_name = "FILE", requires = "store")]
    store_password_file: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

/// What minmax-server does besides serving.
#[derive(Subcommand)]
enum Command {
    /// Write the report kept in a store as report.csv, exactly as the file report
    /// would hold it (header, CRLF, Python's quoting), in the order rows were committed
    Export {
        /// The store (a libpq-style URL or key=value string)
        #[arg(long, value_name = "URL")]
        store: String,
        /// A file holding the store's password (else PGPASSWORD)
        #[arg(long, value_name = "FILE")]
        store_password_file: Option<PathBuf>,
        /// Where to write the report (default: standard output)
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
}

fn parse_address(text: &str) -> Result<IpAddr, ValueError> {
    text.trim().parse().map_err(|_| {
        ValueError::new(format!(
            "{} is not an IP address: expected one such as 127.0.0.1, 0.0.0.0, ::1 or ::",
            cli::excerpt(text)
        ))
    })
}

fn parse_socket_address(text: &str) -> Result<SocketAddr, ValueError> {
    text.trim().parse().map_err(|_| {
        ValueError::new(format!(
            "{} is not an address and port: expected one such as 127.0.0.1:9100 or [::1]:9100",
            cli::excerpt(text)
        ))
    })
}

fn main() -> ExitCode {
    let args: Args = cli::parse_or_exit();
    if let Some(Command::Export { store, store_password_file, out }) = args.command {
        return cli::exit_code(export(&store, store_password_file.as_deref(), out.as_deref()));
    }
    let logging = minmax_bins::logging::init("info");
    let exit = run(args, logging);
    cli::exit_code(exit)
}

/// `minmax-server export`: the store's report as report.csv.
fn export(url: &str, password_file: Option<&std::path::Path>, out: Option<&std::path::Path>) -> Exit {
    let fail = |message: String, exit: Exit| {
        let _ = writeln!(std::io::stderr(), "minmax-server export: {message}");
        exit
    };
    let config = match minmax_net::store::config(url, password_file) {
        Ok(config) => config,
        Err(error) => return fail(error.to_string(), Exit::InvalidArgument),
    };
    let exported = match out {
        Some(path) => std::fs::File::create(path)
            .map_err(|error| format!("cannot create {}: {error}", path.display()))
            .and_then(|file| {
                let mut file = std::io::BufWriter::new(file);
                let rows =
                    minmax_net::store::export(&config, &mut file).map_err(|error| error.to_string())?;
                let file = file.into_inner().map_err(|error| error.to_string())?;
                file.sync_all().map_err(|error| format!("cannot sync {}: {error}", path.display()))?;
                Ok(rows)
            }),
        None => minmax_net::store::export(&config, &mut std::io::stdout().lock())
            .map_err(|error| error.to_string()),
    };
    match exported {
        Ok(rows) => {
            let _ = writeln!(
                std::io::stderr(),
                "minmax-server export: {rows} rows from {}",
                minmax_net::store::redacted(url)
            );
            Exit::Success
        }
        Err(message) => fail(message, Exit::Unavailable),
    }
}

fn run(args: Args, mut logging: minmax_bins::logging::Logging) -> Exit {
    let Some(port) = args.port else {
        error!("the port is missing: expected minmax-server PORT [options] (see --help)");
        return Exit::Usage;
    };
    let store = match args
        .store
        .as_deref()
        .map(|url| minmax_net::store::config(url, args.store_password_file.as_deref()))
    {
        None => None,
        Some(Ok(config)) => Some(config),
        Some(Err(error)) => {
            error!("{error}");
            return Exit::InvalidArgument;
        }
    };
    raise_descriptor_limit();
    let (metrics, registry) = Metrics::new();
    let metrics_listener = match args.metrics.map(minmax_net::metrics::bind).transpose() {
        Ok(listener) => listener,
        Err(error) => {
            error!(
                "cannot serve metrics on {}: {error}",
                args.metrics.map(|a| a.to_string()).unwrap_or_default()
            );
            return Exit::InvalidArgument;
        }
    };
    let settings = Settings {
        bind: SocketAddr::new(args.bind, port),
        report: args.report,
        protocol: minmax_core::Config {
            max_frame: args.max_frame,
            max_connections: args.max_connections,
            require_cipher: args.require_cipher,
            idle_timeout: cli::zero_is_never(args.idle_timeout),
            frame_timeout: cli::zero_is_never(args.frame_timeout),
            shared_ids: store.is_some(),
        },
        output_budget: args.output_budget,
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key, client_ca: args.tls_client_ca }),
            // clap requires both or neither.
            _ => None,
        },
        store,
    };
    let mut event_loop = match EventLoop::bind(&settings, metrics.clone()) {
        Ok(event_loop) => event_loop,
        Err(error) => {
            error!("{error}");
            return match error {
                StartError::Bind { .. } | StartError::Tls(_) => Exit::InvalidArgument,
                StartError::Report(_) | StartError::Store(_) | StartError::System(_) => Exit::Unavailable,
            };
        }
    };
    let signals = match watch_signals() {
        Ok(signals) => signals,
        Err(error) => {
            error!("cannot install the signal handlers: {error}");
            return Exit::Unavailable;
        }
    };
    if let Some(listener) = metrics_listener {
        match listener
            .local_addr()
            .and_then(|addr| minmax_net::metrics::serve(listener, registry).map(|()| addr))
        {
            Ok(addr) => info!("metrics on http://{addr}/metrics"),
            Err(error) => {
                error!("cannot serve metrics: {error}");
                return Exit::Unavailable;
            }
        }
    }
    // Scripts and operators need the real port whatever the log level.
    if tracing::enabled!(tracing::Level::INFO) {
        info!("listening on {}", event_loop.local_addr());
    } else {
        let _ = writeln!(std::io::stderr(), "listening on {}", event_loop.local_addr());
    }
    event_loop.after_each_pass(move || {
        let dropped = logging.report_dropped();
        if dropped > 0 {
            metrics.log_lines_dropped.inc_by(dropped);
        }
    });
    match event_loop.run(signals) {
        Ok(()) => Exit::Success,
        // The event loop logged the failure, and what it did about it.
        Err(RunError::Report(_) | RunError::Store(_)) => Exit::Unavailable,
        Err(error @ RunError::System(_)) => {
            error!("{error}");
            Exit::Unavailable
        }
    }
}

/// SIGINT and SIGTERM write a byte to one pipe the event loop watches, SIGHUP to
/// another. SIGPIPE is already ignored by Rust's runtime (writes to a closed socket
/// fail with an error). SIGXFSZ (a file size limit reached) is caught so that the
/// write fails with an error the server reports and fails stop on, instead of
/// killing the process without a word.
fn watch_signals() -> std::io::Result<Signals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGXFSZ};
    let (shutdown, shutdown_writer) = UnixStream::pair()?;
    shutdown_writer.set_nonblocking(true)?;
    signal_hook::low_level::pipe::register(SIGINT, shutdown_writer.try_clone()?)?;
    signal_hook::low_level::pipe::register(SIGTERM, shutdown_writer)?;
    let (reload, reload_writer) = UnixStream::pair()?;
    reload_writer.set_nonblocking(true)?;
    signal_hook::low_level::pipe::register(SIGHUP, reload_writer)?;
    signal_hook::flag::register(SIGXFSZ, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)))?;
    Ok(Signals { shutdown, reload })
}

/// A server holds one descriptor per connection: use all the system allows.
fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            warn!(%error, "cannot raise the open-file limit");
        }
    }
}
