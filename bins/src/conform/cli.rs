//! The command line of minmax-conform.

use super::runner::LevelChoice;
use clap::{Args as ClapArgs, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Every case has an id tied to its PROTOCOL section (server/4/start-duplicate-id), a
level (seed: what the assignment asks of every implementation; ext: minmax's own
level) and its expectation written out as the exact bytes. Verdicts: pass, fail
(Expected and Actual), non-strict (a reading PROTOCOL §9 allows at the seed level:
compact JSON, \"minimum\" for \"min\", an error in other words), timeout, crash (the
program died: its exit status and last output), unsupported (encryption not
offered, or a case that needs a fresh process when testing --addr).

Examples:
  minmax-conform server --cmd 'python3 server.py {port}' --cwd ~/submission
  minmax-conform client --cmd 'python3 client.py {id} {port} {host}' --cwd ~/submission
  minmax-conform server --cmd 'minmax-server {port}' --level all --html report.html
  minmax-conform server --addr 127.0.0.1:5000 --report /srv/minmax/report.csv
  minmax-conform server --list --level seed
  minmax-conform server --cmd 'python3 server.py {port}' --exclude server/6/csv-quoting
  minmax-conform grade submissions/ --out gradebook/ -j 2 --client-encrypt-arg=--encrypt
  minmax-conform matrix submissions/

Exit codes:
  0  every case passed (non-strict and unsupported count as passing)
  1  some case failed, timed out or crashed
  2  the tool could not run (a bad option, a command that cannot start, an unwritable report file)";

/// minmax-conform: a conformance battery and grader for the minmax protocol.
#[derive(Parser, Debug)]
#[command(name = "minmax-conform", version, long_about = None, after_help = AFTER_HELP)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server battery against a server command or a running server
    #[command(after_help = AFTER_HELP)]
    Server(ServerArgs),
    /// Run the client battery: a scripted server, the client's frames, output and exit codes
    #[command(after_help = AFTER_HELP)]
    Client(ClientArgs),
    /// Grade every submission of a folder: both batteries, a rubric, a gradebook
    Grade(GradeArgs),
    /// Every submission's client against every submission's server (and minmax-server)
    Matrix(MatrixArgs),
}

/// Options every battery takes.
#[derive(ClapArgs, Debug, Clone)]
pub struct Common {
    /// List the selected cases (id, level, description, expectation) and exit
    #[arg(long)]
    pub list: bool,
    /// Run only cases matching a pattern: an id, a section (server/4), or a glob (server/*/id-*); repeatable
    #[arg(long, value_name = "PATTERN")]
    pub only: Vec<String>,
    /// Skip cases matching a pattern (a known-broken case, say); repeatable
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Which levels to run
    #[arg(long, value_enum, default_value = "seed")]
    pub level: LevelChoice,
    /// Cases run at once (each in its own process and directory); default: the CPU count
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds one reply may take; a program may take twice that to start, a case six times that
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: f64,
    /// Also write the results as JSON
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write JUnit XML (for CI systems)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write one self-contained HTML page with every case's evidence
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print only the summary line
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.1..=600.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("{text:?} is not a timeout: expected seconds from 0.1 to 600, such as 5 or 0.5")),
    }
}

/// `minmax-conform server`.
#[derive(ClapArgs, Debug)]
pub struct ServerArgs {
    /// The server's command; {port} is replaced by a free port. Run without a shell, in a
    /// fresh directory per case; without --cwd, words naming files here are made absolute
    #[arg(long, value_name = "TEMPLATE", conflicts_with = "addr")]
    pub cmd: Option<String>,
    /// A directory copied afresh as each case's working directory (without its report.csv)
    #[arg(long, value_name = "DIR", requires = "cmd")]
    pub cwd: Option<PathBuf>,
    /// A server already running (only 127.0.0.1 or ::1); cases needing a fresh process are unsupported
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// The report of the server at --addr, so that report cases can run
    #[arg(long, value_name = "PATH", requires = "addr")]
    pub report: Option<PathBuf>,
    /// Selection and reports.
    #[command(flatten)]
    pub common: Common,
}

/// `minmax-conform client`.
#[derive(ClapArgs, Debug)]
pub struct ClientArgs {
    /// The client's command; {id}, {port} and {host} are replaced. Run without a shell, in
    /// a fresh directory per case; without --cwd, words naming files here are made absolute
    #[arg(long, value_name = "TEMPLATE")]
    pub cmd: Option<String>,
    /// The command of an encrypted session, when the client needs a flag for it
    /// (default: --cmd; a client that sends no key then makes the §5 cases unsupported)
    #[arg(long, value_name = "TEMPLATE")]
    pub encrypt_cmd: Option<String>,
    /// A directory copied afresh as each case's working directory
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The input line that ends a session
    #[arg(long, value_name = "WORD", default_value = "stop")]
    pub stop_word: String,
    /// The input line that abandons a session
    #[arg(long, value_name = "WORD", default_value = "quit")]
    pub quit_word: String,
    /// Selection and reports.
    #[command(flatten)]
    pub common: Common,
}

/// `minmax-conform grade`.
#[derive(ClapArgs, Debug)]
pub struct GradeArgs {
    /// A folder with one subfolder per submission
    #[arg(required_unless_present = "print_rubric")]
    pub dir: Option<PathBuf>,
    /// Where the gradebook goes
    #[arg(long, value_name = "DIR", default_value = "gradebook")]
    pub out: PathBuf,
    /// The rubric (TOML); default: the one built in (see --print-rubric)
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,
    /// Print the built-in rubric and exit
    #[arg(long)]
    pub print_rubric: bool,
    /// The interpreter that runs submissions (it needs pycryptodome for encryption)
    #[arg(long, value_name = "PATH", default_value = "python3")]
    pub python: String,
    /// The server's file name in each submission
    #[arg(long, value_name = "NAME", default_value = "server.py")]
    pub server_file: String,
    /// The client's file name in each submission
    #[arg(long, value_name = "NAME", default_value = "client.py")]
    pub client_file: String,
    /// A word added to a client's command for the encrypted-session cases (repeatable,
    /// e.g. --client-encrypt-arg=--encrypt); without it, a client that sends no key has
    /// its §5 cases unsupported
    #[arg(long, value_name = "WORD", allow_hyphen_values = true)]
    pub client_encrypt_arg: Vec<String>,
    /// Cases run at once, across submissions; default: the CPU count
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds one reply may take (twice that for a program to start)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: f64,
}

/// `minmax-conform matrix`.
#[derive(ClapArgs, Debug)]
pub struct MatrixArgs {
    /// A folder with one subfolder per submission
    pub dir: PathBuf,
    /// minmax-server (default: next to this program)
    #[arg(long, value_name = "PATH")]
    pub minmax_server: Option<PathBuf>,
    /// minmax-client (default: next to this program)
    #[arg(long, value_name = "PATH")]
    pub minmax_client: Option<PathBuf>,
    /// The interpreter that runs submissions
    #[arg(long, value_name = "PATH", default_value = "python3")]
    pub python: String,
    /// The server's file name in each submission
    #[arg(long, value_name = "NAME", default_value = "server.py")]
    pub server_file: String,
    /// The client's file name in each submission
    #[arg(long, value_name = "NAME", default_value = "client.py")]
    pub client_file: String,
    /// Cells run at once; default: the CPU count
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds one reply may take (twice that for a program to start)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: f64,
}

/// Parses the command line; clap's own errors are exit 2 (the tool could not run).
pub fn parse() -> Args {
    // The programs' shared --generate (man page, completions): documentation only.
    crate::cli::generate_if_asked::<Args>();
    match crate::cli::try_parse::<Args>() {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            std::process::exit(if error.use_stderr() { 2 } else { 0 });
        }
    }
}
