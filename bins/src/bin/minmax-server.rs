//! minmax-server: parses the command line, sets up logging and signals, and runs
//! `minmax_net::EventLoop` (PROTOCOL §7).

use clap::Parser;
use minmax_bins::cli::{self, parse_in_range, parse_port_or_zero, parse_seconds};
use minmax_core::{ErrorCode, Exit};
use minmax_net::{EventLoop, RunError, Settings, StartError};
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

Logs go to standard error; RUST_LOG changes the level (RUST_LOG=debug, RUST_LOG=warn).
SIGINT or SIGTERM stops the server cleanly: no new connections, queued rows made
durable, last replies sent, active sessions discarded.

Exit codes:
  0  clean shutdown (SIGINT or SIGTERM)
  1  wrong number of arguments, or an unknown option
  2  an invalid argument: a port out of range or in use, a bad address, a bad value
  5  the report cannot be used (wrong header, locked, unwritable, disk full)

The protocol: docs/PROTOCOL.md.";

/// The command line of §7.
#[derive(Parser)]
// Negative numbers are values, so that `-1` is "out of range" (2), not an unknown option (1).
#[command(name = "minmax-server", version, about = ABOUT, after_help = AFTER_HELP, allow_negative_numbers = true)]
struct Args {
    /// TCP port to listen on: 1-65535, or 0 for any free port (the log says which)
    #[arg(value_parser = parse_port_or_zero)]
    port: u16,

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
}

fn parse_address(text: &str) -> Result<IpAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("{text:?} is not an IP address: expected one such as 127.0.0.1, 0.0.0.0, ::1 or ::")
    })
}

fn main() -> ExitCode {
    let args: Args = cli::parse_or_exit();
    minmax_bins::logging::init("info");
    let exit = run(args);
    minmax_bins::logging::flush();
    cli::exit_code(exit)
}

fn run(args: Args) -> Exit {
    raise_descriptor_limit();
    let settings = Settings {
        bind: SocketAddr::new(args.bind, args.port),
        report: args.report,
        protocol: minmax_core::Config {
            max_frame: args.max_frame,
            max_connections: args.max_connections,
            require_cipher: args.require_cipher,
            idle_timeout: cli::zero_is_never(args.idle_timeout),
            frame_timeout: cli::zero_is_never(args.frame_timeout),
        },
    };
    let mut event_loop = match EventLoop::bind(&settings) {
        Ok(event_loop) => event_loop,
        Err(error) => {
            error!("{error}");
            return match error {
                StartError::Bind { .. } => Exit::InvalidArgument,
                StartError::Report(_) | StartError::System(_) => Exit::Unavailable,
            };
        }
    };
    let shutdown = match shutdown_on_signals() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            error!("cannot install the signal handlers: {error}");
            return Exit::Unavailable;
        }
    };
    // Scripts and operators need the real port whatever the log level.
    if tracing::enabled!(tracing::Level::INFO) {
        info!("listening on {}", event_loop.local_addr());
    } else {
        eprintln!("listening on {}", event_loop.local_addr());
    }
    // Log lines are written once per pass of the loop (see minmax_bins::logging).
    minmax_bins::logging::flush();
    event_loop.after_each_pass(minmax_bins::logging::flush);
    match event_loop.run(shutdown) {
        Ok(()) => Exit::Success,
        Err(RunError::Report(_)) => Exit::Unavailable,
        Err(error @ RunError::System(_)) => {
            error!("{error}");
            Exit::Unavailable
        }
    }
}

/// SIGINT and SIGTERM write a byte to a pipe the event loop watches. SIGXFSZ (a file
/// size limit reached) is caught so that the write fails with an error the server
/// reports and fails stop on, instead of killing the process without a word.
fn shutdown_on_signals() -> std::io::Result<UnixStream> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};
    let (read_end, write_end) = UnixStream::pair()?;
    write_end.set_nonblocking(true)?;
    signal_hook::low_level::pipe::register(SIGINT, write_end.try_clone()?)?;
    signal_hook::low_level::pipe::register(SIGTERM, write_end)?;
    signal_hook::flag::register(SIGXFSZ, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)))?;
    Ok(read_end)
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
