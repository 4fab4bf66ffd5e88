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
  minmax-bench --tls --tls-ca ca.pem --conns 50         over TLS, trusting ca.pem
  minmax-bench --tls --tls-ca ca.pem --fresh 1000       connection set-up cost

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

    /// Speak TLS (the server runs with --tls-cert); idle sessions stay plain
    #[arg(long, requires = "tls_ca")]
    tls: bool,

    /// The CA that signed the server's certificate (PEM), for --tls
    #[arg(long, value_name = "FILE", requires = "tls")]
    tls_ca: Option<std::path::PathBuf>,

    /// The name the server's certificate must carry, for --tls (default: the host of --addr)
    #[arg(long, value_name = "NAME", requires = "tls")]
    tls_name: Option<String>,

    /// Instead of sessions: this many fresh connections, each set up (with its TLS
    /// handshake under --tls), asked one START and closed, on --conns threads at most 64
    #[arg(long, value_name = "N", value_parser = |text: &str| parse_in_range(text, 1u64, 10_000_000))]
    fresh: Option<u64>,
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
    let tls = match tls_setup(&args) {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("minmax-bench: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(count) = args.fresh {
        let report = bench::fresh::run(addr, count, args.conns, tls.as_ref());
        let seconds = report.elapsed.as_secs_f64().max(f64::EPSILON);
        let rate = report.connections as f64 / seconds;
        if args.json {
            println!(
                r#"{{"fresh": {count}, "tls": {}, "threads": {}, "seconds": {seconds:.3}, "connections": {}, "connections_per_second": {rate:.1}, "errors": {}}}"#,
                args.tls,
                args.conns.clamp(1, 64),
                report.connections,
                report.errors
            );
        } else {
            println!(
                "minmax-bench: {count} fresh connections{}, {} threads\n  duration   {seconds:.2} s\n  set up     {} ({rate:.0}/s)\n  errors     {}",
                if args.tls { " over TLS" } else { "" },
                args.conns.clamp(1, 64),
                report.connections,
                report.errors
            );
        }
        if let Some(error) = &report.first_error {
            eprintln!("minmax-bench: first error: {error}");
        }
        return if report.errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
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
        tls,
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

/// The TLS client configuration for `--tls`: the CA from `--tls-ca`, the server's
/// name from `--tls-name` or the address.
fn tls_setup(
    args: &Args,
) -> Result<Option<(std::sync::Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>, String> {
    use rustls::pki_types::pem::PemObject;
    let Some(path) = args.tls_ca.as_ref().filter(|_| args.tls) else {
        return Ok(None);
    };
    let mut roots = rustls::RootCertStore::empty();
    let certificates = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|error| format!("{}: {error}", path.display()))?;
        roots.add(certificate).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = match &args.tls_name {
        Some(name) => rustls::pki_types::ServerName::try_from(name.clone())
            .map_err(|error| format!("--tls-name {name:?}: {error}"))?,
        // The host part of --addr: a name or an address, as the certificate must carry.
        None => {
            let host = args.addr.rsplit_once(':').map_or(args.addr.as_str(), |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|error| format!("--addr {host:?} cannot name a TLS server: {error}"))?
        }
    };
    Ok(Some((std::sync::Arc::new(config), name)))
}
