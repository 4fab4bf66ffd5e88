//! minmax-bench: parses the command line and runs the load generator or the ceiling
//! server (`minmax_bins::bench`).

use clap::{Parser, Subcommand};
use minmax_bins::bench::{self, load::LoadOptions};
use minmax_bins::cli::{self, parse_in_range, parse_port_or_zero, parse_seconds};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

const AFTER_HELP: &str = "\
Every reply is checked: each START, NUMBER and QUIT must succeed, and each STOP must
carry the min and max of the numbers sent (decrypted comparison when --encrypt).
Any other reply, or a lost connection, is an error; the exit code is 1 if there was
any, 0 otherwise.

Examples:
  minmax-bench --conns 50 --duration 10                 strict request/reply
  minmax-bench --conns 50 --pipeline 16 --duration 10   16 requests in flight
  minmax-bench --conns 50 --idle 1000 --duration 10     with 1000 idle sessions
  minmax-bench ceiling 7000                             the ceiling server

bench/run runs every scenario against minmax-server, the ceiling and the Python
reference server, and writes bench/RESULTS.md.";

/// A load generator for minmax servers.
#[derive(Parser)]
#[command(name = "minmax-bench", version, about, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// The server's address
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: SocketAddr,

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
    let options = LoadOptions {
        addr: args.addr,
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
            println!("{}", output.trim_end());
            if report.errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(error) => {
            eprintln!("minmax-bench: cannot run the load against {}: {error}", options.addr);
            ExitCode::from(1)
        }
    }
}
