//! minmax-bench: parses the command line and runs the load generator or the ceiling
//! server (`minmax_bins::bench`).

use clap::{Parser, Subcommand};
use minmax_bins::bench::{self, load::LoadOptions};
use minmax_bins::cli::{self, ValueError, parse_in_range, parse_port_or_zero, parse_seconds};
use minmax_core::Exit;
use std::io::{IsTerminal, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

const ABOUT: &str = "minmax-bench: a load generator for minmax servers. It runs sessions (START, NUMBERs, \
STOP or QUIT) on many connections and reports requests and sessions per second and latency, checking \
every reply.";

const AFTER_HELP: &str = "\
Every reply is checked: each START, NUMBER and QUIT must succeed, and each STOP must
carry the min and max of the numbers sent (decrypted comparison when --encrypt).

The load is real: every session that ends with STOP is appended to the server's
report (thousands of rows a second; use --quit to record nothing, or point the
server at a scratch report). Client ids start with minmax-bench-, so that bench rows
can be told apart. At the end of a run the open sessions are quit and the
connections closed cleanly.

Exit codes (as minmax-client's):
  0  every reply was right
  1  wrong number of arguments, or an unknown option
  2  an invalid argument (including a host that does not resolve)
  3  a reply was wrong or refused, or a connection broke during the run
  5  the server could not be reached

Examples:
  minmax-bench --conns 50 --duration 10                 strict request/reply
  minmax-bench --conns 50 --pipeline 16 --duration 10   16 requests in flight
  minmax-bench --conns 50 --idle 1000 --duration 10     with 1000 idle sessions
  minmax-bench ceiling 7000                             the ceiling server

bench/run runs every scenario against minmax-server, the ceiling and the Python
reference server, and writes bench/RESULTS.md.";

/// A load generator for minmax servers.
#[derive(Parser)]
#[command(name = "minmax-bench", version, about = ABOUT, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// The server, as HOST:PORT: a DNS name or an IP address, and a port
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5000", value_parser = parse_target)]
    addr: String,

    /// Connections running sessions
    #[arg(long, default_value = "50", value_parser = |text: &str| parse_in_range(text, 0usize, 100_000))]
    conns: usize,

    /// Stop after this many sessions in all
    #[arg(long, conflicts_with = "duration", value_parser = |text: &str| parse_in_range(text, 1u64, u64::MAX))]
    sessions: Option<u64>,

    /// Stop after this many seconds (default 10, unless --sessions is given)
    #[arg(long, value_parser = parse_seconds)]
    duration: Option<Duration>,

    /// NUMBERs per session
    #[arg(long, default_value = "10", value_parser = |text: &str| parse_in_range(text, 0usize, 1_000_000_000))]
    numbers: usize,

    /// Requests in flight per connection (1: strict request/reply)
    #[arg(long, default_value = "1", value_parser = |text: &str| parse_in_range(text, 1usize, 100_000))]
    pipeline: usize,

    /// Encrypted sessions
    #[arg(long)]
    encrypt: bool,

    /// End sessions with QUIT instead of STOP (nothing recorded, no fsync)
    #[arg(long)]
    quit: bool,

    /// Extra connections that START a session and then stay idle during the run
    #[arg(long, default_value = "0", value_parser = |text: &str| parse_in_range(text, 0usize, 1_000_000))]
    idle: usize,

    /// The server is `minmax-bench ceiling`: check only that every request gets one reply
    #[arg(long)]
    canned: bool,

    /// Print the result as one JSON object
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve canned replies: the ceiling any server can reach with this client
    Ceiling {
        /// TCP port (0: any free port)
        #[arg(value_parser = parse_port_or_zero)]
        port: u16,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
    },
}

/// Checks the shape of HOST:PORT; the name is resolved when the run starts.
fn parse_target(text: &str) -> Result<String, ValueError> {
    let expected = "expected HOST:PORT, such as 127.0.0.1:5000, localhost:5000 or [::1]:5000";
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| ValueError::new(format!("{} has no port: {expected}", cli::excerpt(text))))?;
    cli::parse_port(port).map_err(|error| ValueError::new(format!("{error}; {expected}")))?;
    cli::check_host(host).map_err(|error| ValueError::new(format!("{error}; {expected}")))?;
    Ok(text.to_string())
}

fn main() -> ExitCode {
    let args: Args = cli::parse_or_exit();
    if let Some(Command::Ceiling { port, bind }) = args.command {
        let served = bench::ceiling::serve(SocketAddr::new(bind, port), |addr| {
            eprintln!("ceiling: listening on {addr}");
        });
        return match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("minmax-bench ceiling: {error}");
                ExitCode::from(2)
            }
        };
    }
    let addr = match args.addr.to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) | Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "minmax-bench: invalid --addr: {} does not resolve to an address",
                cli::excerpt(&args.addr)
            );
            return cli::exit_code(Exit::InvalidArgument);
        }
    };
    let options = LoadOptions {
        addr,
        conns: args.conns,
        sessions: args.sessions,
        duration: match (args.duration, args.sessions) {
            (Some(duration), _) => Some(duration),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        },
        numbers: args.numbers,
        pipeline: args.pipeline,
        encrypt: args.encrypt,
        quit: args.quit,
        idle: args.idle,
        canned: args.canned,
        progress: !args.json && std::io::stderr().is_terminal(),
    };
    match bench::load::run(&options) {
        Ok(report) => {
            let output = if args.json {
                bench::json_report(&options, &report)
            } else {
                bench::text_report(&options, &report)
            };
            let written = writeln!(std::io::stdout(), "{}", output.trim_end());
            if let Err(error) = written {
                let _ = writeln!(std::io::stderr(), "minmax-bench: cannot write the report: {error}");
                return cli::exit_code(Exit::Unavailable);
            }
            cli::exit_code(if report.errors == 0 { Exit::Success } else { Exit::Refused })
        }
        Err(error) => {
            let _ = writeln!(
                std::io::stderr(),
                "minmax-bench: cannot run the load against {} ({}): {error} (is minmax-server running there?)",
                args.addr,
                options.addr
            );
            cli::exit_code(Exit::Unavailable)
        }
    }
}
