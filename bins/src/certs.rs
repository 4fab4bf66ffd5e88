//! Certificates for minmax's TLS (PROTOCOL §8), made with rcgen so that users need
//! no openssl: a CA, a server certificate for names and addresses, and one client
//! certificate per client id.
//!
//! Every certificate carries what strict verifiers demand (Python 3.13's
//! `ssl.VERIFY_X509_STRICT`, rustls/webpki): subject and authority key identifiers,
//! basic constraints, key usages, and on leaves the extended key usage of their role.
//! Keys are ECDSA P-256, written as PKCS#8 PEM.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use std::fmt;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

/// The URI subject alternative name that names a client id: this prefix, then the id.
pub const IDENTITY_URI_PREFIX: &str = "minmax:client/";

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

/// Why a certificate could not be made.
#[derive(Debug)]
pub struct CertError(String);

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertError {}

impl From<rcgen::Error> for CertError {
    fn from(error: rcgen::Error) -> CertError {
        CertError(error.to_string())
    }
}

impl CertError {
    /// An error that says what was wrong.
    pub fn new(reason: impl Into<String>) -> CertError {
        CertError(reason.into())
    }
}

/// When a certificate is valid: from `not_before` to `not_after`.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// The first moment it is valid.
    pub not_before: OffsetDateTime,
    /// The last moment it is valid.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From an hour ago (clocks differ a little) for `days` days.
    pub fn days(days: u32) -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity { not_before: now - Duration::hours(1), not_after: now + Duration::days(i64::from(days)) }
    }
}

/// A certificate authority that signs server and client certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's own certificate and key.
    pub pem: Pem,
}

impl Authority {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str, validity: Validity) -> Result<Authority, CertError> {
        let mut params = base_params(name, validity);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let pem = Pem { cert: cert.pem(), key: key.serialize_pem() };
        Ok(Authority { issuer: Issuer::new(params, key), pem })
    }

    /// The CA whose certificate and key are these PEM texts.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Authority, CertError> {
        let key = KeyPair::from_pem(key_pem).map_err(|error| CertError(format!("the CA key: {error}")))?;
        let check = KeyPair::from_pem(key_pem).map_err(|error| CertError(format!("the CA key: {error}")))?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|error| CertError(format!("the CA certificate: {error}")))?;
        // A key that is not the certificate's would sign certificates nobody accepts.
        let der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|error| CertError(format!("the CA certificate: {error}")))?;
        if !contains(der.as_ref(), check.public_key_raw()) {
            return Err(CertError("the CA key is not the CA certificate's key".into()));
        }
        Ok(Authority { issuer, pem: Pem { cert: cert_pem.to_string(), key: key_pem.to_string() } })
    }

    /// A server certificate for these DNS names and IP addresses (the first name is
    /// also its common name).
    pub fn server(&self, names: &[String], validity: Validity) -> Result<Pem, CertError> {
        let first =
            names.first().ok_or_else(|| CertError("a server certificate needs a name or address".into()))?;
        let mut params = leaf_params(first, validity);
        for name in names {
            let san =
                match name.parse::<IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName(name.as_str().try_into().map_err(|_| {
                        CertError(format!("{name:?} is neither an IP address nor a DNS name"))
                    })?),
                };
            params.subject_alt_names.push(san);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params)
    }

    /// A client certificate for `client_id`: URI SAN `minmax:client/ID` and CN=ID.
    pub fn client(&self, client_id: &str, validity: Validity) -> Result<Pem, CertError> {
        let mut params = leaf_params(client_id, validity);
        // The server takes the id after the prefix as it is, without URI decoding.
        let uri = format!("{IDENTITY_URI_PREFIX}{client_id}");
        params.subject_alt_names.push(SanType::URI(
            uri.as_str()
                .try_into()
                .map_err(|_| CertError(format!("{client_id:?} cannot be put in a URI")))?,
        ));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params)
    }

    fn sign(&self, params: &CertificateParams) -> Result<Pem, CertError> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Pem { cert: cert.pem(), key: key.serialize_pem() })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// What every certificate has: the subject, the validity, a random serial, and both
/// key identifiers (Python 3.13's strict verification wants the authority one).
fn base_params(common_name: &str, validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    params
}

/// A leaf: not a CA (said explicitly, which also writes its subject key identifier).
fn leaf_params(common_name: &str, validity: Validity) -> CertificateParams {
    let mut params = base_params(common_name, validity);
    params.is_ca = IsCa::ExplicitNoCa;
    params
}

/// 16 random bytes, positive: serials must be unique per CA.
fn random_serial() -> rcgen::SerialNumber {
    use rand_core::TryRngCore;
    let mut bytes = [0u8; 16];
    // The OS generator does not fail on Linux; a zero serial would still be valid DER.
    let _ = rand_core::OsRng.try_fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    rcgen::SerialNumber::from_slice(&bytes)
}

/// Whether `id` can name a client certificate: a valid client id (§4) that is also a
/// safe file name and needs no escaping in the URI: ASCII letters, digits, `.`, `_`
/// and `-`, not starting with `.`.
pub fn check_certificate_id(id: &str) -> Result<(), CertError> {
    minmax_core::request::check_client_id(id).map_err(|error| CertError(format!("{id:?}: {error}")))?;
    if id.starts_with('.')
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(CertError(format!(
            "{id:?}: a client id for a certificate may hold only ASCII letters, digits, '.', '_' and '-', and must not start with '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ids_for_certificates_are_checked() {
        assert!(check_certificate_id("student-042").is_ok());
        assert!(check_certificate_id("a.b_c").is_ok());
        for bad in ["", "-x", "=1+1", ".hidden", "a/b", "a b", "ü", &"x".repeat(65)] {
            assert!(check_certificate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_loaded_authority_signs_like_the_new_one() {
        let authority = Authority::new("test CA", Validity::days(1)).unwrap();
        let loaded = Authority::load(&authority.pem.cert, &authority.pem.key).unwrap();
        assert!(loaded.client("anton", Validity::days(1)).is_ok());
        let other = Authority::new("other", Validity::days(1)).unwrap();
        assert!(Authority::load(&authority.pem.cert, &other.pem.key).is_err(), "a key that is not the CA's");
    }
}
