//! TLS and client certificates (PROTOCOL §8) against the real `minmax-server`, with
//! a rustls client and certificates made by `minmax_bins::certs` (rcgen) or by the
//! `minmax-certs` program.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, Signal, TIMEOUT, frame, report_rows};
use minmax_bins::certs::{Authority, Pem, Validity};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

/// Certificates written to a temporary folder, and the server arguments for them.
struct Material {
    dir: tempfile::TempDir,
    ca: Authority,
}

impl Material {
    /// A CA and a server certificate for localhost and 127.0.0.1.
    fn new() -> Material {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new("test CA", Validity::days(2)).unwrap();
        let material = Material { dir, ca };
        material.write("ca", &material.ca.pem);
        let server = material.ca.server(&names(), Validity::days(2)).unwrap();
        material.write("server", &server);
        material
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, pem: &Pem) {
        std::fs::write(self.path(&format!("{name}.pem")), &pem.cert).unwrap();
        std::fs::write(self.path(&format!("{name}-key.pem")), &pem.key).unwrap();
    }

    /// `--tls-cert` and `--tls-key` for the server certificate, and `--tls-client-ca`
    /// when clients must present one.
    fn server_args(&self, client_ca: bool) -> Vec<String> {
        let mut args = vec![
            "--tls-cert".to_string(),
            path_text(&self.path("server.pem")),
            "--tls-key".to_string(),
            path_text(&self.path("server-key.pem")),
        ];
        if client_ca {
            args.extend(["--tls-client-ca".to_string(), path_text(&self.path("ca.pem"))]);
        }
        args
    }

    fn client(&self, id: &str) -> Pem {
        self.ca.client(id, Validity::days(2)).unwrap()
    }
}

fn names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_string()
}

fn start(args: &[String]) -> Server {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&args)
}

/// A client configuration trusting `ca_pem`, presenting `identity` if given.
fn client_config(ca_pem: &str, identity: Option<&Pem>) -> Arc<ClientConfig> {
    client_config_for(ca_pem, identity, &[&rustls::version::TLS13, &rustls::version::TLS12])
}

fn client_config_for(
    ca_pem: &str,
    identity: Option<&Pem>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(pem) => {
            let chain = CertificateDer::pem_slice_iter(pem.cert.as_bytes()).map(Result::unwrap).collect();
            let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// A protocol client over TLS; every read has a timeout.
struct TlsConn {
    stream: StreamOwned<ClientConnection, TcpStream>,
}

impl TlsConn {
    /// Connects and completes the handshake, or says why it failed.
    fn connect(addr: SocketAddr, config: Arc<ClientConfig>, name: &str) -> Result<TlsConn, String> {
        let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        let connection = ClientConnection::new(config, name).unwrap();
        let mut stream = StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(|error| error.to_string())?;
        }
        Ok(TlsConn { stream })
    }

    fn send(&mut self, json: &str) {
        self.stream.write_all(&frame(json.as_bytes())).unwrap();
        self.stream.flush().unwrap();
    }

    /// The next reply, or why none came (the end of the connection, an alert).
    fn try_recv(&mut self) -> Result<String, std::io::Error> {
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix)?;
        let mut body = vec![0; u32::from_be_bytes(prefix) as usize];
        self.stream.read_exact(&mut body)?;
        Ok(String::from_utf8(body).unwrap())
    }

    fn request(&mut self, json: &str) -> String {
        self.send(json);
        self.try_recv().expect("a reply")
    }

    fn start(&mut self, id: &str) -> String {
        self.request(&format!(r#"{{"op": "START", "client_id": "{id}", "cipher": null}}"#))
    }
}

const STARTED: &str = r#"{"op": "START", "status": true}"#;
const NUMBER_OK: &str = r#"{"op": "NUMBER", "status": true}"#;

#[test]
fn a_verified_session_with_a_client_certificate() {
    let material = Material::new();
    let mut args = material.server_args(true);
    args.extend(["--metrics".into(), "127.0.0.1:0".into()]);
    let server = start(&args);
    let config = client_config(&material.ca.pem.cert, Some(&material.client("anton")));
    let mut conn = TlsConn::connect(server.addr, config.clone(), "localhost").unwrap();
    assert_eq!(conn.stream.conn.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(conn.start("anton"), STARTED);
    // Thousands of frames in one burst: more plaintext than one read takes, so the
    // server must come back for what rustls holds without a socket event.
    let count = 3000;
    let mut burst = Vec::new();
    for n in 0..count {
        burst.extend(frame(format!(r#"{{"op": "NUMBER", "number": {}}}"#, n * 7 - 5000).as_bytes()));
    }
    conn.stream.write_all(&burst).unwrap();
    for _ in 0..count {
        assert_eq!(conn.try_recv().unwrap(), NUMBER_OK);
    }
    let max = (count - 1) * 7 - 5000;
    assert_eq!(
        conn.request(r#"{"op": "STOP"}"#),
        format!(r#"{{"op": "STOP", "status": true, "min": -5000, "max": {max}}}"#)
    );
    // TLS 1.2 is served too, by the IP address in the certificate.
    let config12 =
        client_config_for(&material.ca.pem.cert, Some(&material.client("berta")), &[&rustls::version::TLS12]);
    let mut old = TlsConn::connect(server.addr, config12, "127.0.0.1").unwrap();
    assert_eq!(old.stream.conn.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    assert_eq!(old.start("berta"), STARTED);
    assert_eq!(old.request(r#"{"op": "NUMBER", "number": 3}"#), NUMBER_OK);
    assert!(old.request(r#"{"op": "STOP"}"#).contains(r#""min": 3, "max": 3"#));
    assert_eq!(server.metric(r#"minmax_tls_handshakes_total{outcome="ok"}"#), 2.0);
    assert_eq!(
        report_rows(&server.report()),
        vec![
            ["anton".into(), count.to_string(), "-5000".into(), max.to_string()],
            ["berta".into(), "1".into(), "3".into(), "3".into()]
        ]
    );
}

#[test]
fn a_client_certificate_is_for_its_own_id_only() {
    let material = Material::new();
    let server = start(&material.server_args(true));
    let ca = &material.ca.pem.cert;
    let mut squatter =
        TlsConn::connect(server.addr, client_config(ca, Some(&material.client("berta"))), "localhost")
            .unwrap();
    assert_eq!(
        squatter.start("anton"),
        r#"{"op": "START", "status": false, "error": "Cliente n\u00e3o autorizado"}"#
    );
    // The refusal took nothing: the id is free while that connection stays open...
    let mut owner =
        TlsConn::connect(server.addr, client_config(ca, Some(&material.client("anton"))), "localhost")
            .unwrap();
    assert_eq!(owner.start("anton"), STARTED);
    // ...and the squatter may still START as itself.
    assert_eq!(squatter.start("berta"), STARTED);
    // §4 order: an invalid id is that, before the identity is looked at.
    let mut third =
        TlsConn::connect(server.addr, client_config(ca, Some(&material.client("carla"))), "localhost")
            .unwrap();
    assert_eq!(
        third.request(r#"{"op": "START", "client_id": ""}"#),
        r#"{"op": "START", "status": false, "error": "Identificador inv\u00e1lido"}"#
    );
    assert!(owner.request(r#"{"op": "NUMBER", "number": 1}"#).contains("true"));
    assert!(owner.request(r#"{"op": "STOP"}"#).contains(r#""min": 1"#));
}

#[test]
fn the_client_refuses_a_server_it_cannot_verify() {
    let material = Material::new();
    let server = start(&material.server_args(false));
    // Another CA.
    let stranger = Authority::new("stranger CA", Validity::days(2)).unwrap();
    let error = TlsConn::connect(server.addr, client_config(&stranger.pem.cert, None), "localhost")
        .err()
        .expect("an unknown issuer is refused");
    assert!(error.contains("UnknownIssuer"), "{error}");
    // A name the certificate does not have.
    let error = TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, None), "other.example")
        .err()
        .expect("a name mismatch is refused");
    assert!(error.contains("not valid for name"), "{error}");
    server.wait_for_log("TLS handshake failed, closing the connection: received fatal alert");
    // Nothing else was affected: a client that verifies is served.
    let mut good =
        TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, None), "localhost").unwrap();
    assert_eq!(good.start("anyone"), STARTED);
}

#[test]
fn an_expired_certificate_is_refused_on_either_side() {
    let material = Material::new();
    let now = OffsetDateTime::now_utc();
    let expired =
        Validity { not_before: now - time::Duration::days(30), not_after: now - time::Duration::days(1) };
    // The server's: the client says why.
    let old_server = material.ca.server(&names(), expired).unwrap();
    let old_dir = tempfile::tempdir().unwrap();
    std::fs::write(old_dir.path().join("s.pem"), &old_server.cert).unwrap();
    std::fs::write(old_dir.path().join("k.pem"), &old_server.key).unwrap();
    let server = Server::start(&[
        "--tls-cert",
        &path_text(&old_dir.path().join("s.pem")),
        "--tls-key",
        &path_text(&old_dir.path().join("k.pem")),
    ]);
    let error = TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, None), "localhost")
        .err()
        .expect("an expired server certificate is refused");
    assert!(error.contains("certificate expired"), "{error}");
    drop(server);
    // A client's: the server refuses it and logs why; no session can start.
    let server = start(&material.server_args(true));
    let old_client = material.ca.client("anton", expired).unwrap();
    let refused =
        TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, Some(&old_client)), "localhost");
    if let Ok(mut conn) = refused {
        // TLS 1.3: the client finishes first, and hears of the refusal on its next read.
        conn.send(r#"{"op": "START", "client_id": "anton"}"#);
        assert!(conn.try_recv().is_err(), "no reply on a refused connection");
    }
    let line = server.wait_for_log("TLS handshake failed");
    assert!(line.contains("xpired"), "{line}");
}

#[test]
fn a_client_certificate_from_another_ca_or_none_is_refused() {
    let material = Material::new();
    let stranger = Authority::new("stranger CA", Validity::days(2)).unwrap();
    let forged = stranger.client("anton", Validity::days(2)).unwrap();
    // One server each: failure lines are rate-limited to about one a second.
    for (identity, reason) in [(Some(&forged), "UnknownIssuer"), (None, "a client certificate is required")] {
        let server = start(&material.server_args(true));
        let refused =
            TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, identity), "localhost");
        if let Ok(mut conn) = refused {
            conn.send(r#"{"op": "START", "client_id": "anton"}"#);
            assert!(conn.try_recv().is_err(), "no reply on a refused connection");
        }
        let line = server.wait_for_log("TLS handshake failed");
        assert!(line.contains(reason), "{line}");
    }
    let server = start(&material.server_args(true));
    // The id was never taken.
    let mut owner = TlsConn::connect(
        server.addr,
        client_config(&material.ca.pem.cert, Some(&material.client("anton"))),
        "localhost",
    )
    .unwrap();
    assert_eq!(owner.start("anton"), STARTED);
}

/// A client certificate of the right CA that names no client id (no URI SAN
/// `minmax:client/ID`, no subject CN) fails the handshake (§8), with an alert the
/// client can report, not a silent close.
#[test]
fn a_client_certificate_naming_no_id_fails_the_handshake_with_an_alert() {
    let material = Material::new();
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        &material.ca.pem.cert,
        rcgen::KeyPair::from_pem(&material.ca.pem.key).unwrap(),
    )
    .unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "no one in particular");
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let nameless = Pem { cert: params.signed_by(&key, &issuer).unwrap().pem(), key: key.serialize_pem() };
    let server = start(&material.server_args(true));
    let ca = &material.ca.pem.cert;
    for versions in [&[&rustls::version::TLS13][..], &[&rustls::version::TLS12]] {
        let config = client_config_for(ca, Some(&nameless), versions);
        // TLS 1.3 clients finish first and learn of the refusal on their next read.
        let error = match TlsConn::connect(server.addr, config, "localhost") {
            Ok(mut conn) => {
                conn.send(r#"{"op": "START", "client_id": "anton"}"#);
                conn.try_recv().expect_err("no reply on a refused connection").to_string()
            }
            Err(error) => error,
        };
        assert!(error.contains("AccessDenied"), "{versions:?}: {error}");
    }
    let line = server.wait_for_log("TLS handshake failed");
    assert!(line.contains("names no client id"), "{line}");
}

#[test]
fn plain_frames_to_a_tls_port_are_closed_and_logged() {
    let material = Material::new();
    let server = start(&material.server_args(false));
    let mut plain = server.connect();
    plain.send(r#"{"op": "START", "client_id": "plain"}"#);
    // Whatever comes back (a TLS alert, not a reply frame) ends with the close.
    let mut rest = Vec::new();
    let _ = plain.stream.read_to_end(&mut rest);
    assert!(!rest.starts_with(&[0, 0]), "no plain reply frame: {rest:?}");
    let line = server.wait_for_log("TLS handshake failed");
    assert!(line.contains("plain frames to a TLS port"), "{line}");
    let mut good =
        TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, None), "localhost").unwrap();
    assert_eq!(good.start("plain"), STARTED, "the id was never taken");
}

#[test]
fn a_stalled_handshake_is_closed_after_the_frame_timeout() {
    let material = Material::new();
    let mut args = material.server_args(false);
    args.extend(["--frame-timeout".into(), "1".into()]);
    let server = start(&args);
    // Half a ClientHello's record header, then nothing.
    let mut stalled = server.connect();
    stalled.send_raw(&[0x16, 0x03]);
    // Meanwhile another client is served as usual.
    let mut good =
        TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, None), "localhost").unwrap();
    assert_eq!(good.start("busy"), STARTED);
    // Then the stalled one is closed, and the log says why.
    stalled.expect_closed();
    let line = server.wait_for_log("TLS handshake failed");
    assert!(line.contains("left unfinished for --frame-timeout"), "{line}");
    assert_eq!(good.request(r#"{"op": "NUMBER", "number": 9}"#), NUMBER_OK);
}

/// A TLS record left half-sent after the handshake holds a frame back as half a
/// frame does: the frame timeout closes it however slowly the rest trickles (§7, §8).
#[test]
fn a_half_sent_tls_record_is_closed_after_the_frame_timeout() {
    let material = Material::new();
    let mut args = material.server_args(false);
    args.extend(["--frame-timeout".into(), "1".into()]);
    let server = start(&args);
    let config = client_config(&material.ca.pem.cert, None);
    let mut stalled = TlsConn::connect(server.addr, config.clone(), "localhost").unwrap();
    assert_eq!(stalled.start("stalled"), STARTED);
    // An application-data record header announcing 256 bytes, and 3 of them.
    stalled.stream.sock.write_all(&[0x17, 0x03, 0x03, 0x01, 0x00, 1, 2, 3]).unwrap();
    let mut good = TlsConn::connect(server.addr, config.clone(), "localhost").unwrap();
    assert_eq!(good.start("busy"), STARTED);
    assert!(stalled.try_recv().is_err(), "the stalled connection is closed, with no reply");
    let line = server.wait_for_log("closing the connection");
    assert!(line.contains("--frame-timeout"), "{line}");
    // Its session was discarded: the id is free, and the other client was served.
    let mut again = TlsConn::connect(server.addr, config, "localhost").unwrap();
    assert_eq!(again.start("stalled"), STARTED);
    assert_eq!(good.request(r#"{"op": "NUMBER", "number": 9}"#), NUMBER_OK);
}

#[test]
fn an_eof_without_close_notify_between_frames_is_an_ordinary_disconnect() {
    let material = Material::new();
    let server = start(&material.server_args(false));
    let config = client_config(&material.ca.pem.cert, None);
    let mut conn = TlsConn::connect(server.addr, config.clone(), "localhost").unwrap();
    assert_eq!(conn.start("leaver"), STARTED);
    // A TCP close without close_notify, as Python's ssl sockets do.
    conn.stream.sock.shutdown(std::net::Shutdown::Both).unwrap();
    drop(conn);
    server.wait_for_log("session discarded");
    let mut again = TlsConn::connect(server.addr, config.clone(), "localhost").unwrap();
    assert_eq!(again.start("leaver"), STARTED, "the id is free again");
    // A clean TLS close: close_notify, and nothing after it.
    again.stream.conn.send_close_notify();
    again.stream.flush().unwrap();
    while again.stream.conn.wants_write() {
        again.stream.conn.write_tls(&mut again.stream.sock).unwrap();
    }
    // The server answers with its own close_notify (RFC 8446 §6.1): rustls takes
    // an end without it for an error (UnexpectedEof), as Python's unwrap() does.
    let mut rest = Vec::new();
    let outcome = again.stream.read_to_end(&mut rest);
    assert!(outcome.is_ok(), "the server's close_notify: {outcome:?}");
    assert!(rest.is_empty(), "{rest:?}");
    let mut third = TlsConn::connect(server.addr, config, "localhost").unwrap();
    assert_eq!(third.start("leaver"), STARTED, "free again after a clean close");
    let (_, log) = server.terminate();
    assert!(!log.contains("TLS error"), "{log}");
    assert!(!log.contains("WARN"), "an ordinary disconnect is no warning: {log}");
}

#[test]
fn sighup_reads_a_new_certificate_for_new_connections() {
    let material = Material::new();
    let server = start(&material.server_args(false));
    let first_ca = material.ca.pem.cert.clone();
    let mut open = TlsConn::connect(server.addr, client_config(&first_ca, None), "localhost").unwrap();
    assert_eq!(open.start("early"), STARTED);
    // A new CA and server certificate in the same files.
    let second = Authority::new("second CA", Validity::days(2)).unwrap();
    material.write("server", &second.server(&names(), Validity::days(2)).unwrap());
    server.signal(Signal::HUP);
    server.wait_for_log("TLS certificate and key read again");
    let mut renewed =
        TlsConn::connect(server.addr, client_config(&second.pem.cert, None), "localhost").unwrap();
    assert_eq!(renewed.start("late"), STARTED);
    let error = TlsConn::connect(server.addr, client_config(&first_ca, None), "localhost").err().unwrap();
    assert!(error.contains("UnknownIssuer"), "new connections get the new certificate: {error}");
    // The open connection kept its session.
    assert_eq!(open.request(r#"{"op": "NUMBER", "number": 4}"#), NUMBER_OK);
    assert!(open.request(r#"{"op": "STOP"}"#).contains(r#""min": 4"#));
    // A key that no longer loads: logged, and the last good one kept.
    std::fs::write(material.path("server-key.pem"), "not a key\n").unwrap();
    server.signal(Signal::HUP);
    server.wait_for_log("cannot read the TLS files again");
    let mut still =
        TlsConn::connect(server.addr, client_config(&second.pem.cert, None), "localhost").unwrap();
    assert_eq!(still.start("still"), STARTED);
}

#[test]
fn a_certificate_file_that_cannot_be_used_is_exit_2() {
    let material = Material::new();
    std::fs::write(
        material.path("server-key.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = material.server_args(false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let failed = Server::start_in(dir.path(), &args).err().expect("the server refuses to start");
    assert_eq!(failed.status.code(), Some(2), "{}", failed.stderr);
    assert!(failed.stderr.contains("server-key.pem"), "{}", failed.stderr);
    assert!(!dir.path().join("report.csv").exists(), "nothing touched before the arguments are good");
    // A certificate given as the key, and another certificate's key: each said plainly.
    let cert = material.path("server.pem");
    let cert = cert.to_str().unwrap();
    let stranger = Authority::new("stranger CA", Validity::days(2)).unwrap();
    let other_key = material.path("other-key.pem");
    std::fs::write(&other_key, &stranger.pem.key).unwrap();
    for (key, says) in
        [(cert, "not a certificate"), (other_key.to_str().unwrap(), "not this certificate's key")]
    {
        let failed = Server::start_in(dir.path(), &["--tls-cert", cert, "--tls-key", key])
            .err()
            .expect("the server refuses to start");
        assert_eq!(failed.status.code(), Some(2), "{}", failed.stderr);
        assert!(failed.stderr.contains(says), "{}", failed.stderr);
    }
}

#[test]
fn minmax_certs_makes_certificates_the_server_and_a_strict_client_accept() {
    let dir = tempfile::tempdir().unwrap();
    let certs = env!("CARGO_BIN_EXE_minmax-certs");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(certs)
            .args(args)
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    std::fs::write(dir.path().join("ids.txt"), "# class of 2026\nanton\n\nberta\n").unwrap();
    assert_eq!(run(&["ca"]).0, Some(0));
    assert_eq!(run(&["server", "localhost", "127.0.0.1", "::1"]).0, Some(0));
    assert_eq!(run(&["client", "--ids-from", "ids.txt", "carla"]).0, Some(0));
    let (code, stderr) = run(&["client", "a/b"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stderr) = run(&["ca"]);
    assert_eq!(code, Some(2), "the CA is not overwritten: {stderr}");
    let c = dir.path().join("certs");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(c.join("ca-key.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "keys are readable by their owner only");
    // The extensions strict verifiers demand.
    for file in ["ca.pem", "server.pem", "clients/anton.pem"] {
        let pem = std::fs::read(c.join(file)).unwrap();
        let der = CertificateDer::from_pem_slice(&pem).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        let has = |oid| parsed.extensions().iter().any(|ext| ext.oid == oid);
        use x509_parser::oid_registry::*;
        assert!(has(OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER), "{file}: authority key identifier");
        assert!(has(OID_X509_EXT_SUBJECT_KEY_IDENTIFIER), "{file}: subject key identifier");
        assert!(has(OID_X509_EXT_KEY_USAGE), "{file}: key usage");
        assert!(has(OID_X509_EXT_BASIC_CONSTRAINTS), "{file}: basic constraints");
        if file != "ca.pem" {
            assert!(has(OID_X509_EXT_EXTENDED_KEY_USAGE), "{file}: extended key usage");
        }
    }
    let server = Server::start(&[
        "--tls-cert",
        &path_text(&c.join("server.pem")),
        "--tls-key",
        &path_text(&c.join("server-key.pem")),
        "--tls-client-ca",
        &path_text(&c.join("ca.pem")),
    ]);
    let ca = std::fs::read_to_string(c.join("ca.pem")).unwrap();
    for id in ["anton", "berta", "carla"] {
        let identity = Pem {
            cert: std::fs::read_to_string(c.join(format!("clients/{id}.pem"))).unwrap(),
            key: std::fs::read_to_string(c.join(format!("clients/{id}-key.pem"))).unwrap(),
        };
        let mut conn =
            TlsConn::connect(server.addr, client_config(&ca, Some(&identity)), "127.0.0.1").unwrap();
        assert_eq!(conn.start(id), STARTED);
    }
}

#[test]
fn a_tls_client_that_does_not_read_stops_being_read_within_the_same_budget() {
    let material = Material::new();
    let mut args = material.server_args(false);
    args.extend(["--metrics".into(), "127.0.0.1:0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &args, |command| {
        command.env("RUST_LOG", "info,minmax_net=debug");
    })
    .unwrap_or_else(|failed| panic!("{}", failed.stderr));
    let conn =
        TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, None), "localhost").unwrap();
    let (mut session, mut tcp) = (conn.stream.conn, conn.stream.sock);
    // The whole burst encrypted up front, so that another thread can send it while
    // this one reads: TLS 1.3 keys each direction apart.
    let numbers = 100_000;
    session.set_buffer_limit(None);
    session.writer().write_all(&frame(br#"{"op": "START", "client_id": "slow-reader"}"#)).unwrap();
    for _ in 0..numbers {
        session.writer().write_all(&frame(br#"{"op": "NUMBER", "number": 1}"#)).unwrap();
    }
    let mut ciphertext = Vec::new();
    while session.wants_write() {
        session.write_tls(&mut ciphertext).unwrap();
    }
    let mut writer = tcp.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&ciphertext));
    server.wait_for_log("reading paused");
    // Replies waiting for this peer are counted as plaintext, as over plain TCP.
    let held = server.metric("minmax_output_held_bytes");
    assert!(held > 0.0 && held <= (64 * 1024) as f64, "held {held} bytes");
    let mut replies = Vec::new();
    let mut received = 0;
    let expected = frame(br#"{"op": "NUMBER", "status": true}"#);
    let started = frame(br#"{"op": "START", "status": true}"#);
    let total = started.len() + numbers * expected.len();
    while received < total {
        if session.read_tls(&mut tcp).unwrap() == 0 {
            panic!("the server closed after {received} of {total} reply bytes");
        }
        session.process_new_packets().unwrap();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match session.reader().read(&mut chunk) {
                Ok(0) => break,
                Ok(count) => {
                    replies.extend_from_slice(&chunk[..count]);
                    received += count;
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => panic!("{error}"),
            }
        }
    }
    assert!(replies.starts_with(&started));
    assert!(replies[started.len()..].chunks(expected.len()).all(|reply| reply == expected.as_slice()));
    sender.join().unwrap().unwrap();
    server.wait_for_log("reading resumed");
}

/// Review finding: a connection beyond `--max-connections` on a TLS port has no
/// record its busy reply could travel in; it must be closed at once (§8), not left
/// waiting for a handshake that will never come (no handshake timeout runs here).
#[test]
fn a_connection_beyond_the_limit_on_a_tls_port_is_closed_at_once() {
    let material = Material::new();
    let mut args = material.server_args(false);
    args.extend(["--max-connections".into(), "1".into(), "--frame-timeout".into(), "0".into()]);
    let server = start(&args);
    let mut first =
        TlsConn::connect(server.addr, client_config(&material.ca.pem.cert, None), "localhost").unwrap();
    assert_eq!(first.start("first"), STARTED);
    let mut beyond = server.connect();
    let mut rest = Vec::new();
    let end = beyond.stream.read_to_end(&mut rest).map_err(|error| error.kind());
    assert!(matches!(end, Ok(0) | Err(std::io::ErrorKind::ConnectionReset)), "{end:?}: {rest:?}");
    assert_eq!(first.request(r#"{"op": "NUMBER", "number": 9}"#), NUMBER_OK, "the first is served on");
}
