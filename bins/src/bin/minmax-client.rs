//! minmax-client: checks the command line in the order of PROTOCOL §7 (count, client
//! id, port, host) and runs one session (`minmax_bins::client`).

use clap::Parser;
use minmax_bins::cli;
use minmax_bins::client::{Options, report_failure};
use minmax_core::Exit;
use std::process::ExitCode;

const ABOUT: &str = "The minmax client: sends the integers read from standard input to a minmax server \
and prints their minimum and maximum.";

const AFTER_HELP: &str = "\
Input, one or more items per line, separated by spaces or commas:
  an integer   (an optional + or -, then digits) is sent to the server
  stop, s      ends the session: the server answers with the min and max
  quit, q      abandons the session: nothing is recorded
  help, ?      (on a terminal) lists these
  The end of the input (Ctrl-D) is stop; Ctrl-C or SIGTERM is quit.
  Words are case-insensitive. On a terminal, a line is checked whole before any of
  it is sent: an invalid item is explained and nothing of its line is sent. When
  the input is piped, items are sent as they are read, and an invalid one (an item
  longer than 4301 characters is always invalid) quits the session: exit code 2.

With --encrypt each number travels AES-encrypted under a fresh random key (the
assignment's scheme: it only hides numbers from a casual reader of the traffic), and
must lie between -999999999999999 and 9999999999999999.

Output (standard output; messages go to standard error):
  default      every number sent, then the min and max received
  --quiet      only count, min and max, one per line
  --json       one JSON object on one line for every outcome, with the keys
               client_id, outcome (stopped, quit, refused or error), exit_code,
               then count, numbers (not with --quiet), min and max when stopped;
               message (and reason, op, error where they apply) otherwise

Exit codes:
  0  the session stopped and the result was printed
  1  wrong number of arguments, or an unknown option
  2  an invalid argument (client id, port, or a host that does not exist), or an
     invalid item in piped input (QUIT is sent first)
  3  the server refused a request (its error is printed)
  4  the user quit (QUIT was sent; its outcome is printed)
  5  the server could not be reached within 5 s (a name service that does not
     answer included), stopped answering (30 s), or the connection broke
  6  the session stopped, but its result could not be written to standard output
     (a full disk, /dev/full); a message on standard error says so

Example:
  printf '5 -3 12\\n' | minmax-client anton 5000";

/// The command line of §7. Values are taken as text and checked in `main`, so that a
/// wrong number of arguments (1) is reported before any bad value (2).
#[derive(Parser)]
#[command(name = "minmax-client", version, about = ABOUT, after_help = AFTER_HELP, allow_negative_numbers = true)]
struct Args {
    /// Your client id: up to 64 bytes, no control characters, not starting with = + - @
    client_id: String,
    /// The server's TCP port (1-65535)
    port: String,
    /// The server: a DNS name or an IP address such as 192.168.1.5 or ::1
    #[arg(default_value = "localhost")]
    host: String,
    /// Encrypt the numbers (AES-ECB with a fresh key, as the assignment describes)
    #[arg(long)]
    encrypt: bool,
    /// Print the outcome as one JSON object, whatever it is, for scripts
    #[arg(long)]
    json: bool,
    /// Print only the count, min and max, not every number sent
    #[arg(short, long, visible_alias = "summary")]
    quiet: bool,
}

fn main() -> ExitCode {
    let args: Args = cli::parse_or_exit();
    cli::exit_code(run(args))
}

fn run(args: Args) -> Exit {
    let invalid = |client_id: Option<&str>, message: String| {
        report_failure(client_id, args.json, &message, Exit::InvalidArgument)
    };
    if let Err(error) = minmax_core::request::check_client_id(&args.client_id) {
        return invalid(None, format!("invalid client id {}: {error}", cli::excerpt(&args.client_id)));
    }
    let port = match cli::parse_port(&args.port) {
        Ok(port) => port,
        Err(error) => return invalid(Some(&args.client_id), format!("invalid port: {error}")),
    };
    if let Err(error) = cli::check_host(&args.host) {
        return invalid(Some(&args.client_id), format!("invalid host: {error}"));
    }
    let options = Options {
        client_id: args.client_id.clone(),
        host: args.host.clone(),
        port,
        encrypt: args.encrypt,
        json: args.json,
        quiet: args.quiet,
    };
    minmax_bins::client::run(&options)
}
