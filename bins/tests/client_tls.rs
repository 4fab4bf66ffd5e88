//! PROTOCOL §8 on the client's side: the real `minmax-client --tls` against the real
//! `minmax-server --tls-*`, with certificates made by `minmax_bins::certs` (rcgen),
//! and against servers that do not speak TLS. Every refusal is exit 5 with its reason
//! in words, except an identity the server refuses (exit 3, as any refusal) and a
//! file that cannot be used (exit 2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, TIMEOUT, report_rows};
use minmax_bins::certs::{Authority, Pem, Validity};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use time::OffsetDateTime;

fn client_binary() -> &'static str {
    env!("CARGO_BIN_EXE_minmax-client")
}

/// A CA, its certificate and the other PEM files of a test, in a temporary folder.
struct Pki {
    dir: tempfile::TempDir,
    ca: Authority,
}

impl Pki {
    /// A CA and a server certificate for localhost and 127.0.0.1.
    fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca: Authority::new("test CA", Validity::days(2)).unwrap(),
        };
        std::fs::write(pki.path("ca.pem"), &pki.ca.pem.cert).unwrap();
        pki.write(
            "server",
            &pki.ca.server(&["localhost".into(), "127.0.0.1".into()], Validity::days(2)).unwrap(),
        );
        pki
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().expect("temporary paths are UTF-8").to_string()
    }

    /// Writes NAME.pem and NAME-key.pem.
    fn write(&self, name: &str, pem: &Pem) {
        std::fs::write(self.path(&format!("{name}.pem")), &pem.cert).unwrap();
        std::fs::write(self.path(&format!("{name}-key.pem")), &pem.key).unwrap();
    }

    /// A server whose certificate is NAME.pem, requiring client certificates of this CA
    /// when `client_ca`.
    fn server(&self, name: &str, client_ca: bool) -> Server {
        let (cert, key) = (self.path(&format!("{name}.pem")), self.path(&format!("{name}-key.pem")));
        let ca = self.path("ca.pem");
        let mut args = vec!["--tls-cert", &cert, "--tls-key", &key];
        if client_ca {
            args.extend(["--tls-client-ca", &ca]);
        }
        Server::start(&args)
    }

    /// A client certificate for `id` of this CA, written as ID.pem and ID-key.pem.
    fn client(&self, id: &str) {
        self.write(id, &self.ca.client(id, Validity::days(2)).unwrap());
    }

    /// `--tls --tls-ca ca.pem`.
    fn trusting(&self) -> Vec<String> {
        vec!["--tls".into(), "--tls-ca".into(), self.path("ca.pem")]
    }

    /// `--tls --tls-ca ca.pem --tls-cert ID.pem --tls-key ID-key.pem`.
    fn presenting(&self, id: &str) -> Vec<String> {
        let mut args = self.trusting();
        args.extend(["--tls-cert".into(), self.path(&format!("{id}.pem"))]);
        args.extend(["--tls-key".into(), self.path(&format!("{id}-key.pem"))]);
        args
    }
}

/// Validity that ended yesterday.
fn expired() -> Validity {
    let now = OffsetDateTime::now_utc();
    Validity { not_before: now - time::Duration::days(30), not_after: now - time::Duration::days(1) }
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the client with `input` piped to it, and `env` set.
fn run_with(args: &[String], input: &str, env: &[(&str, &str)]) -> Finished {
    let mut command = Command::new(client_binary());
    command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // The system's trust store is whatever the test says, never the machine's.
    command.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    command.envs(env.iter().copied());
    let mut child = command.spawn().expect("the client binary runs");
    // A client that exits early (a bad file, a refused handshake) never reads its input.
    match child.stdin.as_mut().unwrap().write_all(input.as_bytes()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written.unwrap(),
    }
    drop(child.stdin.take());
    let status = common::wait_with_timeout(&mut child, TIMEOUT).expect("the client exits");
    let mut stdout = String::new();
    let mut stderr = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    Finished { code: status.code(), stdout, stderr }
}

/// `minmax-client ID PORT HOST` with `options`, input piped.
fn run(id: &str, port: u16, host: &str, options: &[String], input: &str) -> Finished {
    let mut args = vec![id.to_string(), port.to_string(), host.to_string()];
    args.extend(options.iter().cloned());
    run_with(&args, input, &[])
}

/// The one message on standard error, without the program's name.
fn message(done: &Finished) -> &str {
    let line = done.stderr.strip_prefix("minmax-client: ").unwrap_or_else(|| panic!("{}", done.stderr));
    assert_eq!(line.lines().count(), 1, "one message: {}", done.stderr);
    line.trim_end()
}

fn json_member(done: &Finished, key: &str) -> serde_json::Value {
    let object: serde_json::Value =
        serde_json::from_str(&done.stdout).unwrap_or_else(|_| panic!("{}", done.stdout));
    object[key].clone()
}

#[test]
fn a_verified_session_plain_and_encrypted_by_name_and_by_address() {
    let pki = Pki::new();
    let server = pki.server("server", false);
    let port = server.addr.port();
    let done = run("anton", port, "localhost", &pki.trusting(), "5 -3 12\n");
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(done.stdout, "numbers sent (3): 5 -3 12\nmin: -3\nmax: 12\n");
    assert_eq!(done.stderr, "");
    // The assignment's AES scheme inside TLS, to the IP address in the certificate.
    let mut options = pki.trusting();
    options.push("--encrypt".into());
    let done = run("berta", port, "127.0.0.1", &options, "9999999999999999 -999999999999999\n0\n");
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stdout.ends_with("min: -999999999999999\nmax: 9999999999999999\n"), "{}", done.stdout);
    // Many numbers: more plaintext than one TLS record each way.
    let input: String = (0..3000).map(|n| format!("{}\n", n * 7 - 5000)).collect();
    let done = run("carla", port, "localhost", &pki.trusting(), &input);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stdout.ends_with("min: -5000\nmax: 15993\n"), "{}", done.stdout);
    assert_eq!(
        report_rows(&server.report()),
        vec![
            ["anton", "3", "-3", "12"].map(String::from),
            ["berta", "3", "-999999999999999", "9999999999999999"].map(String::from),
            ["carla", "3000", "-5000", "15993"].map(String::from),
        ]
    );
    // The client closed each session with close_notify: nothing for the server to warn of.
    let (_, log) = server.terminate();
    assert!(!log.contains("WARN"), "{log}");
}

#[test]
fn without_tls_ca_the_system_trust_store_decides() {
    let pki = Pki::new();
    let server = pki.server("server", false);
    let args = |id: &str| vec![id.to_string(), server.addr.port().to_string(), "--tls".into()];
    // SSL_CERT_FILE is where the system's roots are looked for.
    let done = run_with(&args("anton"), "1\n", &[("SSL_CERT_FILE", &pki.path("ca.pem"))]);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let stranger = Authority::new("stranger CA", Validity::days(2)).unwrap();
    std::fs::write(pki.path("stranger.pem"), &stranger.pem.cert).unwrap();
    let done = run_with(&args("berta"), "1\n", &[("SSL_CERT_FILE", &pki.path("stranger.pem"))]);
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert!(
        message(&done).ends_with(
            "the server's certificate did not verify: unknown issuer: it is not signed by a CA this system \
             trusts (for a private CA, such as minmax-certs makes, give its certificate with --tls-ca FILE)"
        ),
        "{}",
        done.stderr
    );
    // A trust store with nothing in it: nothing to verify with, whatever the server.
    std::fs::write(pki.path("empty.pem"), "").unwrap();
    let done = run_with(&args("carla"), "1\n", &[("SSL_CERT_FILE", &pki.path("empty.pem"))]);
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert!(
        message(&done).starts_with("no trusted root certificate found on this system"),
        "{}",
        done.stderr
    );
    assert!(message(&done).contains("give the server's CA with --tls-ca FILE"), "{}", done.stderr);
}

#[test]
fn a_server_certificate_from_another_ca_is_exit_5_unknown_issuer() {
    let pki = Pki::new();
    let server = pki.server("server", false);
    let stranger = Authority::new("stranger CA", Validity::days(2)).unwrap();
    std::fs::write(pki.path("stranger.pem"), &stranger.pem.cert).unwrap();
    let options = vec!["--tls".into(), "--tls-ca".into(), pki.path("stranger.pem"), "--json".into()];
    let done = run("anton", server.addr.port(), "localhost", &options, "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    let expected = format!(
        "no TLS session with the server at localhost:{}: the server's certificate did not verify: unknown \
         issuer: it is not signed by the CA in {} (expected the certificate of the CA that issued the \
         server's, such as minmax-certs' certs/ca.pem)",
        server.addr.port(),
        pki.path("stranger.pem")
    );
    assert_eq!(message(&done), expected);
    assert_eq!(json_member(&done, "message"), expected.as_str());
    assert_eq!(json_member(&done, "tls_error"), "unknown issuer");
    assert_eq!(json_member(&done, "exit_code"), 5);
    // The server heard why (the client's alert), and serves others as before.
    server.wait_for_log("TLS handshake failed, closing the connection: received fatal alert: UnknownCA");
    assert_eq!(run("anton", server.addr.port(), "localhost", &pki.trusting(), "1\n").code, Some(0));
}

#[test]
fn an_expired_server_certificate_is_exit_5_with_its_date() {
    let pki = Pki::new();
    pki.write("old", &pki.ca.server(&["localhost".into()], expired()).unwrap());
    let server = pki.server("old", false);
    let done = run("anton", server.addr.port(), "localhost", &pki.trusting(), "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    let text = message(&done);
    assert!(text.contains("the server's certificate did not verify: it has expired (on 20"), "{text}");
    assert!(text.contains(" UTC; it is now 20"), "{text}");
    assert!(text.ends_with("UTC); the server needs a renewed certificate"), "{text}");
}

#[test]
fn a_certificate_for_another_name_or_address_is_exit_5_name_mismatch() {
    let pki = Pki::new();
    pki.write(
        "elsewhere",
        &pki.ca.server(&["minmax.example".into(), "192.0.2.7".into()], Validity::days(2)).unwrap(),
    );
    let server = pki.server("elsewhere", false);
    let port = server.addr.port();
    let done = run("anton", port, "localhost", &pki.trusting(), "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert_eq!(
        message(&done),
        format!(
            "no TLS session with the server at localhost:{port}: the server's certificate did not verify: \
             name mismatch: it is for minmax.example, 192.0.2.7, not for localhost (connect by one of its \
             names, or give the server a certificate for localhost)"
        )
    );
    // An IP address is matched against the addresses the certificate has.
    let done = run("anton", port, "127.0.0.1", &pki.trusting(), "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert!(message(&done).contains("name mismatch: it is for minmax.example, 192.0.2.7, not for 127.0.0.1"));
}

#[test]
fn a_server_that_requires_client_certificates() {
    let pki = Pki::new();
    let server = pki.server("server", true);
    let port = server.addr.port();
    pki.client("anton");
    // None given: the server says it wants one.
    let mut options = pki.trusting();
    options.push("--json".into());
    let done = run("anton", port, "localhost", &options, "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert_eq!(
        message(&done),
        format!(
            "no TLS session with the server at localhost:{port}: the server requires a client certificate \
             and none was given: give yours with --tls-cert FILE --tls-key FILE"
        )
    );
    assert_eq!(json_member(&done, "tls_error"), "client certificate required");
    // Its own: served.
    let done = run("anton", port, "localhost", &pki.presenting("anton"), "4 2\n");
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(done.stdout, "numbers sent (2): 4 2\nmin: 2\nmax: 4\n");
    // One from another CA: the server refuses it, and the client says so.
    let stranger = Authority::new("stranger CA", Validity::days(2)).unwrap();
    pki.write("forged", &stranger.client("anton", Validity::days(2)).unwrap());
    let done = run("anton", port, "localhost", &pki.presenting("forged"), "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert_eq!(
        message(&done),
        format!(
            "no TLS session with the server at localhost:{port}: the server refused the client certificate \
             in {}: it is not signed by a CA the server trusts (unknown_ca)",
            pki.path("forged.pem")
        )
    );
    // An expired one of the right CA.
    pki.write("stale", &pki.ca.client("anton", expired()).unwrap());
    let done = run("anton", port, "localhost", &pki.presenting("stale"), "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert!(
        message(&done).ends_with("it has expired or is not valid yet (certificate_expired)"),
        "{}",
        done.stderr
    );
    assert_eq!(report_rows(&server.report()), vec![["anton", "2", "2", "4"].map(String::from)]);
}

#[test]
fn another_ids_certificate_is_refused_with_cliente_nao_autorizado() {
    let pki = Pki::new();
    let server = pki.server("server", true);
    pki.client("berta");
    let mut options = pki.presenting("berta");
    options.push("--json".into());
    let done = run("anton", server.addr.port(), "localhost", &options, "1\n");
    assert_eq!(done.code, Some(3), "{}", done.stderr);
    assert!(
        message(&done).starts_with("the server refused START: Cliente não autorizado"),
        "{}",
        done.stderr
    );
    assert_eq!(json_member(&done, "outcome"), "refused");
    assert_eq!(json_member(&done, "error"), "Cliente não autorizado");
    // The same certificate under its own id is served.
    let done = run("berta", server.addr.port(), "localhost", &pki.presenting("berta"), "1\n");
    assert_eq!(done.code, Some(0), "{}", done.stderr);
}

#[test]
fn a_plain_server_reached_with_tls_is_a_clear_error_not_a_hang() {
    let pki = Pki::new();
    // minmax-server answers the TLS hello's bytes as a bad frame, in plain.
    let plain = Server::start(&[]);
    let port = plain.addr.port();
    let done = run("anton", port, "localhost", &pki.trusting(), "1\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert_eq!(
        message(&done),
        format!(
            "no TLS session with the server at localhost:{port}: the server's answer to the TLS hello is not \
             TLS; expected a server speaking TLS (is it a plain server? then connect without --tls)"
        )
    );
    // A server that closes at once (a reset, or an end, whichever comes first).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closer = std::thread::spawn(move || drop(listener.accept().unwrap()));
    let done = run("anton", port, "127.0.0.1", &pki.trusting(), "1\n");
    closer.join().unwrap();
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert!(message(&done).contains("the connection ended during the TLS handshake ("), "{}", done.stderr);
    // A server that waits for more, as a plain one does for the "frame" the hello
    // seems to announce: the connect limit (5 s) ends it, and says why.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let silent = std::thread::spawn(move || {
        let (connection, _) = listener.accept().unwrap();
        let _ = stopped.recv_timeout(TIMEOUT);
        drop(connection);
    });
    let mut options = pki.trusting();
    options.push("--json".into());
    let done = run("anton", port, "127.0.0.1", &options, "1\n");
    stop.send(()).unwrap();
    silent.join().unwrap();
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert!(
        message(&done).contains("it accepted the connection but completed no TLS handshake within 5 s"),
        "{}",
        done.stderr
    );
    assert_eq!(json_member(&done, "tls_error"), "no TLS handshake");
}

/// The likelier mistake of the two: forgetting --tls. The TLS server's alert,
/// read as a frame, would announce a 352 518 912-byte reply.
#[test]
fn a_tls_server_reached_without_tls_says_to_connect_with_tls() {
    let pki = Pki::new();
    let server = pki.server("server", false);
    let done = run("anton", server.addr.port(), "localhost", &[], "3 9\n");
    assert_eq!(done.code, Some(5), "{}", done.stderr);
    assert!(message(&done).contains("the server answered with TLS, not a frame"), "{}", done.stderr);
    assert!(message(&done).contains("connect with --tls"), "{}", done.stderr);
    assert!(!done.stderr.contains("352518912"), "{}", done.stderr);
}

#[test]
fn tls_files_that_cannot_be_used_are_exit_2_naming_the_file() {
    let pki = Pki::new();
    pki.client("anton");
    pki.client("berta");
    let missing = pki.path("missing.pem");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--tls".into(), "--tls-ca".into(), missing.clone()],
            format!(
                "{missing}: cannot read it (No such file or directory (os error 2)); --tls-ca expects the \
                 certificate of the CA that issued the server's (PEM)"
            ),
        ),
        (
            vec!["--tls".into(), "--tls-ca".into(), pki.path("anton-key.pem")],
            format!(
                "{}: no certificate in it (-----BEGIN CERTIFICATE-----); --tls-ca expects the certificate of \
                 the CA that issued the server's (PEM)",
                pki.path("anton-key.pem")
            ),
        ),
        (
            {
                let mut args = pki.presenting("anton");
                let last = args.len() - 1;
                args[last] = pki.path("anton.pem");
                args
            },
            format!(
                "{}: no usable private key in it (no items found); --tls-key expects the client's private key \
                 (PEM: PKCS#8, PKCS#1 or SEC1)",
                pki.path("anton.pem")
            ),
        ),
        (
            {
                let mut args = pki.presenting("anton");
                let last = args.len() - 1;
                args[last] = pki.path("berta-key.pem");
                args
            },
            format!(
                "{}: the key in {} is not this certificate's; --tls-cert and --tls-key expect a certificate \
                 and its own key",
                pki.path("anton.pem"),
                pki.path("berta-key.pem")
            ),
        ),
    ];
    for (options, expected) in cases {
        // Port 1: nothing is reached before the files are good.
        let done = run("anton", 1, "localhost", &options, "");
        assert_eq!(done.code, Some(2), "{}", done.stderr);
        assert_eq!(message(&done), expected);
    }
    let mut options = vec!["--tls".into(), "--tls-ca".into(), missing.clone(), "--json".into()];
    let done = run("anton", 1, "localhost", &options, "");
    assert_eq!(json_member(&done, "exit_code"), 2);
    assert!(json_member(&done, "message").as_str().unwrap().starts_with(&missing));
    // The TLS options without --tls, or a certificate without its key: the command's
    // shape is wrong (exit 1).
    options = vec!["--tls-ca".into(), pki.path("ca.pem")];
    assert_eq!(run("anton", 1, "localhost", &options, "").code, Some(1));
    options = vec!["--tls".into(), "--tls-cert".into(), pki.path("anton.pem")];
    assert_eq!(run("anton", 1, "localhost", &options, "").code, Some(1));
}

#[test]
fn help_explains_the_tls_options() {
    let output = Command::new(client_binary()).arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in
        ["--tls ", "--tls-ca <FILE>", "--tls-cert <FILE>", "--tls-key <FILE>", "tls_error", "name mismatch"]
    {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}
