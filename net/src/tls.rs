//! The server's TLS setup (PROTOCOL §8): certificate, key and client CA read from PEM
//! files into a rustls `ServerConfig`, and the client identity read from a verified
//! certificate.
//!
//! rustls verifies (chain, validity, the clientAuth usage); this module only loads
//! files and, once rustls has verified the client's certificate, reads its identity:
//! the URI subject alternative name `minmax:client/ID` if there is one, else the
//! subject common name. Whether a START may use a client id is core's rule.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The prefix of the URI subject alternative name that names a client id.
pub const IDENTITY_URI_PREFIX: &str = "minmax:client/";

/// Where the server's TLS material is, to be read at start and again on SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// When set, clients must present a certificate that chains to one of these
    /// certificates (PEM) and carries the clientAuth usage.
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS files could not be used; the text names the file and says why.
#[derive(Debug)]
pub struct TlsError {
    /// The file at fault, if one is.
    pub path: Option<PathBuf>,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}: {}", path.display(), self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for TlsError {}

fn file_error(path: &Path, reason: impl fmt::Display) -> TlsError {
    TlsError { path: Some(path.to_path_buf()), reason: reason.to_string() }
}

impl TlsFiles {
    /// Reads the files and builds the configuration new connections get: TLS 1.3
    /// and 1.2 only, the ring provider, client certificates required when
    /// `client_ca` is set.
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let chain = read_certificates(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|error| {
            file_error(
                &self.key,
                format!(
                    "no usable private key ({error}): expected a PEM key, -----BEGIN PRIVATE KEY----- (PKCS#8), \
                     RSA PRIVATE KEY (PKCS#1) or EC PRIVATE KEY (SEC1), not a certificate"
                ),
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| TlsError { path: None, reason: error.to_string() })?;
        let builder = match &self.client_ca {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for certificate in read_certificates(path)? {
                    roots
                        .add(certificate)
                        .map_err(|error| file_error(path, format!("not a usable CA certificate: {error}")))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|error| file_error(path, format!("cannot verify clients with it: {error}")))?;
                builder.with_client_cert_verifier(Arc::new(NamesAClient(verifier)))
            }
            None => builder.with_no_client_auth(),
        };
        // rustls checks that the key is the certificate's.
        let config = builder.with_single_cert(chain, key).map_err(|error| {
            let reason = match error {
                rustls::Error::InconsistentKeys(_) => "it is not this certificate's key".to_string(),
                other => other.to_string(),
            };
            file_error(
                &self.cert,
                format!("cannot serve this certificate with the key in {}: {reason}", self.key.display()),
            )
        })?;
        Ok(Arc::new(config))
    }
}

/// rustls's verifier, and then §8's rule that a client certificate names a client
/// id: one that names none fails the handshake inside rustls, which sends the
/// client an alert, where a close after the handshake would tell it nothing.
#[derive(Debug)]
struct NamesAClient(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for NamesAClient {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self.0.verify_client_cert(end_entity, intermediates, now)?;
        match identity(end_entity) {
            Some(_) => Ok(verified),
            None => Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Every certificate in a PEM file; none is an error.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(path, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(path, format!("not a PEM certificate file: {error}")))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no certificate in it (expected -----BEGIN CERTIFICATE-----)"));
    }
    Ok(certificates)
}

/// The identity a verified client certificate carries (§8): its URI subject
/// alternative name `minmax:client/ID` if it has one, else its subject common name.
/// `None` if it has neither (or cannot be parsed, which rustls would have refused).
pub fn identity(certificate: &[u8]) -> Option<Arc<str>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
    if let Ok(Some(names)) = parsed.subject_alternative_name() {
        for name in &names.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name
                && let Some(id) = uri.strip_prefix(IDENTITY_URI_PREFIX)
                && !id.is_empty()
            {
                return Some(id.into());
            }
        }
    }
    let common_name = parsed.subject().iter_common_name().next()?.as_str().ok()?;
    (!common_name.is_empty()).then(|| common_name.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    fn certificate(common_name: Option<&str>, uris: &[&str]) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(common_name) = common_name {
            params.distinguished_name.push(DnType::CommonName, common_name);
        }
        params.subject_alt_names =
            uris.iter().map(|uri| SanType::URI((*uri).try_into().expect("an IA5 string"))).collect();
        let key = KeyPair::generate().expect("a key");
        params.self_signed(&key).expect("a certificate").der().to_vec()
    }

    #[test]
    fn the_uri_name_comes_first_then_the_common_name() {
        assert_eq!(
            identity(&certificate(Some("cn-id"), &["minmax:client/uri-id"])).as_deref(),
            Some("uri-id")
        );
        assert_eq!(
            identity(&certificate(Some("cn-id"), &["https://example.org/"])).as_deref(),
            Some("cn-id")
        );
        assert_eq!(
            identity(&certificate(None, &["https://x.example/", "minmax:client/second"])).as_deref(),
            Some("second")
        );
        assert_eq!(identity(&certificate(None, &["minmax:client/"])), None, "an empty id names nobody");
        assert_eq!(identity(&certificate(None, &[])), None);
        assert_eq!(identity(b"not a certificate"), None);
    }
}
