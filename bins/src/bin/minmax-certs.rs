//! minmax-certs: makes the certificates minmax's TLS needs (PROTOCOL §8), without
//! openssl: a CA, a server certificate, one client certificate per client id.

use clap::{Parser, Subcommand};
use minmax_bins::certs::{self, Authority, Pem, Validity};
use minmax_bins::cli::{self, parse_in_range};
use minmax_core::Exit;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Step by step, for a server at 192.0.2.10 named minmax.example.org and one
certificate per student:

  minmax-certs ca                                    certs/ca.pem, certs/ca-key.pem
  minmax-certs server minmax.example.org 192.0.2.10  certs/server.pem, certs/server-key.pem
  minmax-certs client --ids-from students.txt        certs/clients/ID.pem, ID-key.pem each
  minmax-server 5000 --tls-cert certs/server.pem --tls-key certs/server-key.pem \\
      --tls-client-ca certs/ca.pem

students.txt holds one client id per line (blank lines and lines starting with #
are skipped). Give each student their ID.pem, ID-key.pem and ca.pem (to verify the
server); keep ca-key.pem to yourself: whoever has it can make certificates for any id.

A client certificate names its id twice, as the URI subject alternative name
minmax:client/ID and as the subject common name; the server lets it START only as
that id. Certificates carry subject and authority key identifiers, basic constraints
and key usages, as strict verifiers demand (Python's ssl.VERIFY_X509_STRICT, rustls).
Keys are ECDSA P-256 in PKCS#8 PEM, written readable by their owner only.

Existing files are not overwritten unless --force is given.

Exit codes: 0 done; 1 wrong arguments; 2 an invalid value (a bad id, name or
address); 5 a file cannot be read or written.";

/// minmax-certs: the certificates minmax's TLS needs, made without openssl.
#[derive(Parser)]
#[command(name = "minmax-certs", version, after_help = AFTER_HELP)]
struct Args {
    #[command(subcommand)]
    command: Command,

    /// The folder the CA lives in and certificates are written to
    #[arg(long, global = true, value_name = "DIR", default_value = "certs")]
    dir: PathBuf,

    /// How many days the new certificates are valid
    #[arg(long, global = true, value_name = "DAYS", default_value = "365", value_parser = |text: &str| parse_in_range(text, 1u32, 36_500))]
    days: u32,

    /// Overwrite files that exist
    #[arg(long, global = true)]
    force: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new certificate authority: DIR/ca.pem (give it out) and DIR/ca-key.pem (keep it secret)
    Ca {
        /// The CA's name, as certificates show it
        #[arg(long, default_value = "minmax CA")]
        name: String,
    },
    /// Make DIR/server.pem and DIR/server-key.pem, signed by the CA in DIR, for these names and addresses
    Server {
        /// DNS names and IP addresses clients use to reach the server (for example localhost 127.0.0.1 ::1)
        #[arg(required = true, value_name = "NAME_OR_IP")]
        names: Vec<String>,
    },
    /// Make DIR/clients/ID.pem and DIR/clients/ID-key.pem for each client id, signed by the CA in DIR
    Client {
        /// Client ids (letters, digits, '.', '_', '-')
        #[arg(value_name = "ID")]
        ids: Vec<String>,
        /// A file of client ids, one per line (blank lines and # comments skipped)
        #[arg(long, value_name = "FILE")]
        ids_from: Option<PathBuf>,
    },
}

/// What went wrong, and the exit code it means.
struct Failure {
    exit: Exit,
    message: String,
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure { exit: Exit::InvalidArgument, message: message.into() }
}

fn unavailable(message: impl Into<String>) -> Failure {
    Failure { exit: Exit::Unavailable, message: message.into() }
}

fn main() -> ExitCode {
    let args: Args = cli::parse_or_exit();
    match run(&args) {
        Ok(()) => cli::exit_code(Exit::Success),
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "minmax-certs: {}", failure.message);
            cli::exit_code(failure.exit)
        }
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let validity = Validity::days(args.days);
    match &args.command {
        Command::Ca { name } => {
            let authority = Authority::new(name, validity).map_err(|error| invalid(error.to_string()))?;
            write_pair(args, &args.dir, "ca", &authority.pem)
        }
        Command::Server { names } => {
            for name in names {
                if name.parse::<std::net::IpAddr>().is_err() {
                    cli::check_host(name).map_err(|error| invalid(error.to_string()))?;
                }
            }
            let authority = load_authority(&args.dir)?;
            let pem = authority.server(names, validity).map_err(|error| invalid(error.to_string()))?;
            write_pair(args, &args.dir, "server", &pem)
        }
        Command::Client { ids, ids_from } => {
            let mut all = ids.clone();
            if let Some(path) = ids_from {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| unavailable(format!("cannot read {}: {error}", path.display())))?;
                all.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|line| !line.is_empty() && !line.starts_with('#'))
                        .map(String::from),
                );
            }
            if all.is_empty() {
                return Err(invalid("no client id given: name them, or give --ids-from FILE"));
            }
            // Every id is checked before any file is written.
            for id in &all {
                certs::check_certificate_id(id).map_err(|error| invalid(error.to_string()))?;
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(twice) = all.iter().find(|id| !seen.insert(id.as_str())) {
                return Err(invalid(format!("the client id {twice:?} is given twice")));
            }
            let authority = load_authority(&args.dir)?;
            let folder = args.dir.join("clients");
            for id in &all {
                let pem = authority.client(id, validity).map_err(|error| invalid(error.to_string()))?;
                write_pair(args, &folder, id, &pem)?;
            }
            Ok(())
        }
    }
}

fn load_authority(dir: &Path) -> Result<Authority, Failure> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|error| {
            unavailable(format!(
                "cannot read {}: {error} (make the CA first: minmax-certs ca --dir {})",
                path.display(),
                dir.display()
            ))
        })
    };
    let (cert, key) = (read("ca.pem")?, read("ca-key.pem")?);
    Authority::load(&cert, &key).map_err(|error| invalid(format!("the CA in {}: {error}", dir.display())))
}

/// Writes NAME.pem and NAME-key.pem (the key readable by its owner only), and says so.
fn write_pair(args: &Args, folder: &Path, name: &str, pem: &Pem) -> Result<(), Failure> {
    std::fs::create_dir_all(folder)
        .map_err(|error| unavailable(format!("cannot make {}: {error}", folder.display())))?;
    let cert = folder.join(format!("{name}.pem"));
    let key = folder.join(format!("{name}-key.pem"));
    if !args.force {
        for path in [&cert, &key] {
            if path.exists() {
                return Err(invalid(format!("{} exists; --force overwrites it", path.display())));
            }
        }
    }
    write_file(&key, &pem.key, 0o600)?;
    write_file(&cert, &pem.cert, 0o644)?;
    println!("wrote {} and {}", cert.display(), key.display());
    Ok(())
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()).and_then(|()| file.sync_all()));
    written.map_err(|error| unavailable(format!("cannot write {}: {error}", path.display())))
}
