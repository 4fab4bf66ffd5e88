//! minmax-client: checks the command line in the order of PROTOCOL §7 (count, client
//! id, port, host) and runs one session (`minmax_bins::client`).

use clap::Parser;
use minmax_bins::cli;
use minmax_bins::client::{Options, Tls, print_failure_json, report_failure};
use minmax_core::{Exit, TlsSettings};
use minmax_net::client::{ClientTls, ClientTlsError, ClientTlsFiles};
use std::path::PathBuf;
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

With --tls the client speaks TLS 1.3 or 1.2 (to a server run with --tls-cert and
--tls-key) and verifies the server's certificate: it must be signed by the CA in
--tls-ca FILE (for certificates made by minmax-certs: certs/ca.pem), or without
--tls-ca by a CA the system trusts, and it must name HOST (a DNS name, or an IP
address among its addresses). A server run with --tls-client-ca wants the client's
own certificate too: --tls-cert FILE --tls-key FILE (minmax-certs writes
certs/clients/ID.pem and certs/clients/ID-key.pem), and it accepts only the
CLIENT_ID that certificate names. --encrypt works inside TLS as well.

Output (standard output; messages go to standard error):
  default      every number sent, then the min and max received
  --quiet      only count, min and max, one per line
  --json       one JSON object on one line for every outcome, with the keys
               client_id, outcome (stopped, quit, refused or error), exit_code,
               then count, numbers (not with --quiet), min and max when stopped;
               message (and reason, op, error where they apply) otherwise; when
               TLS failed, tls_error says why in a short phrase: certificate
               expired, certificate not valid yet, unknown issuer, bad signature,
               name mismatch, not a server certificate, bad certificate, client
               certificate required, client certificate refused, handshake
               refused, not TLS, no TLS handshake, TLS alert or TLS failed

Exit codes:
  0  the session stopped and the result was printed
  1  wrong number of arguments, or an unknown option (--tls-ca, --tls-cert and
     --tls-key without --tls, or --tls-cert and --tls-key without each other)
  2  an invalid argument (client id, port, or a host that does not exist; a
     --tls-ca, --tls-cert or --tls-key file that cannot be read or used), or an
     invalid item in piped input (QUIT is sent first)
  3  the server refused a request (its error is printed)
  4  the user quit (QUIT was sent; its outcome is printed)
  5  the server could not be reached within 5 s (a name service that does not
     answer, and with --tls the TLS handshake, included), stopped answering
     (30 s), or the connection broke; with --tls also: the server's certificate
     did not verify (expired, unknown issuer, name mismatch), the server refused
     the client's certificate or wanted one, the server does not speak TLS, or
     without --tls-ca this system has no trusted CA certificates
  6  the session stopped, but its result could not be written to standard output
     (a full disk, /dev/full); a message on standard error says so

Examples:
  printf '5 -3 12\\n' | minmax-client anton 5000
  printf '5 -3 12\\n' | minmax-client anton 5000 minmax.example.org --tls \\
      --tls-ca ca.pem --tls-cert anton.pem --tls-key anton-key.pem";

/// The command line of §7. Values are taken as text and checked in `main`, so that a
/// wrong number of arguments (1) is reported before any bad value (2).
#[derive(Parser)]
#[command(name = "minmax-client", version, about = ABOUT, after_help = AFTER_HELP, allow_negative_numbers = true)]
struct Args {
    /// Your client id: up to 64 bytes, no control characters, not starting with = + - @
    client_id: String,
    /// The server's TCP port (1-65535)
    port: String,
    /// The server: a DNS name or an IP address such as 192.168.1.5 or ::1 (with --tls,
    /// a name or address its certificate has)
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
    /// Speak TLS 1.3 or 1.2 to the server, and verify its certificate against HOST
    /// and --tls-ca (else the system's trusted CAs)
    #[arg(long)]
    tls: bool,
    /// The CA certificate(s) (PEM) the server's certificate must be signed by, instead
    /// of the system's trusted CAs
    #[arg(long, value_name = "FILE", requires = "tls")]
    tls_ca: Option<PathBuf>,
    /// Present this client certificate (PEM, leaf first) to a server that requires one
    #[arg(long, value_name = "FILE", requires_all = ["tls", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires_all = ["tls", "tls_cert"])]
    tls_key: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Args = cli::parse_or_exit_reporting(|exit, reason| {
        // §7: --json reports every outcome, a command line clap refused included;
        // the arguments were not parsed, so --json is looked for as given. No client
        // id has been checked yet (the count comes first): it is null.
        if std::env::args_os().skip(1).any(|arg| arg == "--json") {
            // Exit 1 (or 2) says more than an unwritable standard output would.
            let _ = print_failure_json(None, reason, exit);
        }
    });
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
    let tls = if args.tls {
        let files = ClientTlsFiles {
            ca: args.tls_ca.clone(),
            identity: args.tls_cert.clone().zip(args.tls_key.clone()),
        };
        match ClientTls::new(&files, &args.host) {
            Ok(client) => {
                let shown = |path: &Option<PathBuf>| path.as_ref().map(|path| path.display().to_string());
                let settings = TlsSettings { ca_file: shown(&args.tls_ca), cert_file: shown(&args.tls_cert) };
                Some(Tls { client, settings })
            }
            // Not an argument's fault: this machine has no CA store.
            Err(error @ ClientTlsError::NoSystemRoots(_)) => {
                return report_failure(
                    Some(&args.client_id),
                    args.json,
                    &error.to_string(),
                    Exit::Unavailable,
                );
            }
            Err(error) => return invalid(Some(&args.client_id), error.to_string()),
        }
    } else {
        None
    };
    let options = Options {
        client_id: args.client_id.clone(),
        host: args.host.clone(),
        port,
        encrypt: args.encrypt,
        json: args.json,
        quiet: args.quiet,
        tls,
    };
    minmax_bins::client::run(&options)
}
