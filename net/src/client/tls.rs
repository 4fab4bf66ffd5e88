//! The client's TLS (`--tls`, PROTOCOL §8): the rustls configuration read from
//! `--tls-ca` (else the system's trusted roots) and `--tls-cert`/`--tls-key`, the name
//! the server's certificate must have, and rustls's errors read into core's
//! [`TlsFailure`], so that core decides what each means for the user.
//!
//! rustls verifies everything (chain, validity, name, usages) with the same webpki
//! verifier whether the roots come from a file or from the system, so a failure reads
//! the same either way.

use crate::tls::TlsError;
use minmax_core::TlsFailure;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, ClientConfig, ClientConnection, RootCertStore};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the client's TLS material is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// The CA certificates (PEM) the server's certificate must chain to; `None`: the
    /// system's trusted roots.
    pub ca: Option<PathBuf>,
    /// The client's own certificate chain and private key (PEM), presented to servers
    /// that ask for one.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Why the client's TLS cannot be set up.
#[derive(Debug)]
pub enum ClientTlsError {
    /// A file cannot be read or used; the text names it and says what was expected.
    File(TlsError),
    /// The host cannot be named in a certificate (neither a DNS name nor an IP address).
    Host(String),
    /// No `--tls-ca`, and the system has no trusted roots to verify with.
    NoSystemRoots(String),
}

impl std::fmt::Display for ClientTlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientTlsError::File(error) => error.fmt(f),
            ClientTlsError::Host(text) | ClientTlsError::NoSystemRoots(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for ClientTlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientTlsError::File(error) => Some(error),
            _ => None,
        }
    }
}

/// A TLS configuration for one server: what each connection to it starts from.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl ClientTls {
    /// Reads the files and checks that `host` (as given: a DNS name, an IP address,
    /// an IPv6 address in brackets) can be named by a certificate.
    pub fn new(files: &ClientTlsFiles, host: &str) -> Result<ClientTls, ClientTlsError> {
        let bare = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
        let server_name = ServerName::try_from(bare.to_string()).map_err(|error| {
            ClientTlsError::Host(format!(
                "invalid host {host:?} for --tls ({error}): expected a DNS name or an IP address that the \
                 server's certificate names"
            ))
        })?;
        let roots = match &files.ca {
            Some(path) => file_roots(path)?,
            None => system_roots()?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| ClientTlsError::File(TlsError { path: None, reason: error.to_string() }))?
            .with_root_certificates(roots);
        let config = match &files.identity {
            Some((cert, key)) => {
                let chain =
                    certificates(cert, "--tls-cert", "the client's certificate (its chain, leaf first)")?;
                let key_pem = read(key, "--tls-key", KEY_EXPECTED)?;
                let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| {
                    file_error(
                        key,
                        format!("no usable private key in it ({error}); --tls-key expects {KEY_EXPECTED}"),
                    )
                })?;
                // rustls checks that the key is the certificate's.
                builder.with_client_auth_cert(chain, private_key).map_err(|error| {
                    let key = key.display();
                    let why = match error {
                        rustls::Error::InconsistentKeys(_) => {
                            format!("the key in {key} is not this certificate's")
                        }
                        other => format!("cannot present this certificate with the key in {key} ({other})"),
                    };
                    file_error(
                        cert,
                        format!("{why}; --tls-cert and --tls-key expect a certificate and its own key"),
                    )
                })?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls { config: Arc::new(config), server_name })
    }

    /// A new TLS session to the server, its ClientHello waiting to be sent.
    pub(crate) fn connect(&self) -> Result<ClientConnection, rustls::Error> {
        ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
    }
}

const KEY_EXPECTED: &str = "the client's private key (PEM: PKCS#8, PKCS#1 or SEC1)";

fn file_error(path: &Path, reason: impl std::fmt::Display) -> ClientTlsError {
    ClientTlsError::File(TlsError { path: Some(path.to_path_buf()), reason: reason.to_string() })
}

fn read(path: &Path, option: &str, expected: &str) -> Result<Vec<u8>, ClientTlsError> {
    std::fs::read(path)
        .map_err(|error| file_error(path, format!("cannot read it ({error}); {option} expects {expected}")))
}

/// Every certificate in a PEM file; none is an error.
fn certificates(
    path: &Path,
    option: &str,
    expected: &str,
) -> Result<Vec<CertificateDer<'static>>, ClientTlsError> {
    let pem = read(path, option, expected)?;
    let certificates =
        CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|error| {
            file_error(path, format!("not a PEM file ({error}); {option} expects {expected}"))
        })?;
    if certificates.is_empty() {
        return Err(file_error(
            path,
            format!("no certificate in it (-----BEGIN CERTIFICATE-----); {option} expects {expected}"),
        ));
    }
    Ok(certificates)
}

fn file_roots(path: &Path) -> Result<RootCertStore, ClientTlsError> {
    let expected = "the certificate of the CA that issued the server's (PEM)";
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path, "--tls-ca", expected)? {
        roots.add(certificate).map_err(|error| {
            file_error(path, format!("not a usable CA certificate ({error}); --tls-ca expects {expected}"))
        })?;
    }
    Ok(roots)
}

/// The system's trusted roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` override where
/// they are looked for). A certificate that does not parse is skipped, as browsers
/// do; finding none at all is an error.
fn system_roots() -> Result<RootCertStore, ClientTlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let mut why = String::new();
        for error in found.errors.iter().take(3) {
            let _ = write!(why, "; {error}");
        }
        return Err(ClientTlsError::NoSystemRoots(format!(
            "no trusted root certificate found on this system{why}: give the server's CA with --tls-ca FILE \
             (or install the system's CA certificates)"
        )));
    }
    Ok(roots)
}

/// Reads a rustls error as core's [`TlsFailure`]; `text` holds the words it borrows.
pub(crate) fn failure<'a>(error: &rustls::Error, text: &'a mut String) -> TlsFailure<'a> {
    use rustls::Error;
    text.clear();
    match error {
        Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::Expired => TlsFailure::Expired(""),
            CertificateError::ExpiredContext { time, not_after } => {
                *text = format!("on {}; it is now {}", date(*not_after), date(*time));
                TlsFailure::Expired(text)
            }
            CertificateError::NotValidYet => TlsFailure::NotYetValid(""),
            CertificateError::NotValidYetContext { time, not_before } => {
                *text = format!("from {}; it is now {}", date(*not_before), date(*time));
                TlsFailure::NotYetValid(text)
            }
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::BadSignature => TlsFailure::BadSignature,
            CertificateError::NotValidForName => TlsFailure::NameMismatch(""),
            CertificateError::NotValidForNameContext { presented, .. } => {
                *text =
                    presented.iter().filter_map(|name| presented_name(name)).collect::<Vec<_>>().join(", ");
                TlsFailure::NameMismatch(text)
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                TlsFailure::NotForServers
            }
            other => {
                *text = certificate_words(other);
                TlsFailure::BadCertificate(text)
            }
        },
        Error::AlertReceived(alert) => {
            *text = alert_name(*alert);
            TlsFailure::Alert(text)
        }
        // A record whose type or version is not TLS's: the first bytes of a plain
        // frame (a length prefix starting with 0) or of anything else.
        Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType | rustls::InvalidMessage::UnknownProtocolVersion,
        ) => TlsFailure::NotTls,
        other => {
            *text = other.to_string();
            TlsFailure::Failed(text)
        }
    }
}

/// What a certificate error that has no failure of its own means, in words (rustls's
/// own text for some is the variant's name).
fn certificate_words(error: &CertificateError) -> String {
    match error {
        CertificateError::BadEncoding => "it is not a well-formed certificate".into(),
        CertificateError::Revoked => "it was revoked".into(),
        CertificateError::UnhandledCriticalExtension => {
            "it has a critical extension the client does not know".into()
        }
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "it is signed with an algorithm the client does not support".into()
        }
        other => other.to_string(),
    }
}

/// webpki writes the names a certificate has as `DnsName("x")` and `IpAddress(1.2.3.4)`;
/// other kinds (URIs, directory names) name no server.
fn presented_name(name: &str) -> Option<&str> {
    if let Some(dns) = name.strip_prefix("DnsName(\"").and_then(|rest| rest.strip_suffix("\")")) {
        return Some(dns);
    }
    name.strip_prefix("IpAddress(").and_then(|rest| rest.strip_suffix(')'))
}

/// An alert as RFC 8446 spells it (`unknown_ca`), from rustls's name (`UnknownCA`).
fn alert_name(alert: AlertDescription) -> String {
    let named = format!("{alert:?}");
    if let AlertDescription::Unknown(code) = alert {
        return format!("alert {code}");
    }
    let mut name = String::new();
    let chars: Vec<char> = named.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // A capital starts a word, except inside an acronym (`UnknownCA`, `BadRecordMac`).
        let starts_word = c.is_ascii_uppercase()
            && i > 0
            && (chars[i - 1].is_ascii_lowercase()
                || (chars[i - 1].is_ascii_uppercase()
                    && chars.get(i + 1).is_some_and(|next| next.is_ascii_lowercase())));
        if starts_word {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// A certificate time in UTC, as people read it.
fn date(time: UnixTime) -> String {
    let seconds = i64::try_from(time.as_secs()).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        ),
        Err(_) => format!("{seconds} s after 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_named_as_rfc_8446_spells_them() {
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(alert_name(AlertDescription::CertificateRequired), "certificate_required");
        assert_eq!(alert_name(AlertDescription::BadCertificate), "bad_certificate");
        assert_eq!(alert_name(AlertDescription::HandshakeFailure), "handshake_failure");
        assert_eq!(alert_name(AlertDescription::BadRecordMac), "bad_record_mac");
        assert_eq!(alert_name(AlertDescription::Unknown(200)), "alert 200");
    }

    #[test]
    fn rustls_errors_become_core_failures() {
        let mut text = String::new();
        let expired = rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_767_225_600)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_735_689_600)),
        });
        assert!(matches!(
            failure(&expired, &mut text),
            TlsFailure::Expired("on 2025-01-01 00:00:00 UTC; it is now 2026-01-01 00:00:00 UTC")
        ));
        let names = vec![
            "DnsName(\"localhost\")".to_string(),
            "IpAddress(127.0.0.1)".to_string(),
            "UniformResourceIdentifier(\"minmax:client/x\")".to_string(),
        ];
        let mismatch = rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("other.example").expect("a name"),
            presented: names,
        });
        assert!(matches!(failure(&mismatch, &mut text), TlsFailure::NameMismatch("localhost, 127.0.0.1")));
        let plain = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(matches!(failure(&plain, &mut text), TlsFailure::NotTls));
        let alert = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        assert!(matches!(failure(&alert, &mut text), TlsFailure::Alert("certificate_required")));
    }

    #[test]
    fn a_host_that_no_certificate_can_name_is_refused() {
        let files = ClientTlsFiles::default();
        match ClientTls::new(&files, "bad host") {
            Err(ClientTlsError::Host(text)) => {
                assert!(text.starts_with("invalid host \"bad host\" for --tls"))
            }
            other => panic!("{other:?}"),
        }
    }
}
