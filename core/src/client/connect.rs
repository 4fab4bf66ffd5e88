//! Reaching the server (PROTOCOL §7, §8): why no connection could be made, why a TLS
//! session could not be had, and what the client says and exits with for each. Every
//! one of these is exit 5, except a host that does not exist (exit 2).

use super::{CONNECT_TIMEOUT, Client, ClientAction, State};
use crate::exit::Exit;

/// Why no connection could be made; each text is the system's own words.
#[derive(Debug, Clone, Copy)]
pub enum ConnectFailure<'a> {
    /// The name does not exist (`EAI_NONAME`): an invalid argument.
    NoSuchHost(&'a str),
    /// The name service failed for now (`EAI_AGAIN`, no name server reachable).
    NameServiceFailed(&'a str),
    /// Every address of the server refused or failed; the text lists them.
    Unreachable(&'a str),
}

impl Client {
    /// `host:port`, an IPv6 address in brackets.
    pub(super) fn target(&self) -> String {
        let host = &self.config.host;
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.config.port)
        } else {
            format!("{host}:{}", self.config.port)
        }
    }

    pub(super) fn connect_failed(&mut self, actions: &mut Vec<ClientAction>, failure: ConnectFailure<'_>) {
        let host = &self.config.host;
        let (exit, message) = match failure {
            ConnectFailure::NoSuchHost(how) => (
                Exit::InvalidArgument,
                format!(
                    "host {host:?} does not exist ({how}): expected a DNS name or IP address of the server"
                ),
            ),
            ConnectFailure::NameServiceFailed(how) => (
                Exit::Unavailable,
                format!(
                    "cannot resolve host {host:?} now ({how}): a temporary failure of the name service; try again later"
                ),
            ),
            ConnectFailure::Unreachable(how) => (
                Exit::Unavailable,
                format!(
                    "cannot reach the server at {}: {how} (is minmax-server running there?)",
                    self.target()
                ),
            ),
        };
        self.fail(actions, exit, message);
    }

    /// The connect limit ran out while resolving, connecting or in the TLS handshake.
    pub(super) fn connect_timed_out(&mut self, actions: &mut Vec<ClientAction>) {
        let seconds = CONNECT_TIMEOUT.as_secs();
        let message = match self.state {
            State::Handshaking => {
                // A plain server waits for the rest of the "frame" the TLS hello seems
                // to announce: this is what reaching it with --tls looks like.
                let message = format!(
                    "{}: it accepted the connection but completed no TLS handshake within {seconds} s; \
                     expected a server speaking TLS (a plain server does not answer the TLS hello: \
                     connect without --tls)",
                    self.no_session()
                );
                return self.fail_with(actions, Exit::Unavailable, message, Some(NO_HANDSHAKE));
            }
            State::Resolving => format!(
                "the name service did not resolve host {:?} within {seconds} s: a temporary failure; \
                 try again later, or give the server's IP address",
                self.config.host
            ),
            _ => format!(
                "cannot reach the server at {}: no answer within {seconds} s (is minmax-server running there?)",
                self.target()
            ),
        };
        self.fail(actions, Exit::Unavailable, message);
    }
}

/// `tls_error` in the JSON object when the handshake never completed.
const NO_HANDSHAKE: &str = "no TLS handshake";

/// How the client uses TLS (`--tls`, PROTOCOL §8). The I/O layer does the TLS; the
/// client only needs to know what to say when it fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The CA file the server's certificate must chain to (`--tls-ca`), as given;
    /// `None`: the system's trusted roots.
    pub ca_file: Option<String>,
    /// The client's own certificate file (`--tls-cert`), as given, if it has one.
    pub cert_file: Option<String>,
}

/// Why TLS failed, as the I/O layer read it from its TLS library: each text is a
/// fact from that library, in words (dates, names), or its own words.
#[derive(Debug, Clone, Copy)]
pub enum TlsFailure<'a> {
    /// The server's certificate has expired; the text says when (may be empty).
    Expired(&'a str),
    /// The server's certificate is not valid yet; the text says from when (may be empty).
    NotYetValid(&'a str),
    /// The server's certificate does not chain to a CA the client trusts.
    UnknownIssuer,
    /// The server's certificate names a trusted CA as its issuer, but that CA's key did
    /// not sign it: another CA of the same name, or a forged certificate.
    BadSignature,
    /// The server's certificate is not for the host connected to; the text lists the
    /// names and addresses it is for (may be empty).
    NameMismatch(&'a str),
    /// The server's certificate is not meant for a server (no serverAuth usage).
    NotForServers,
    /// The server's certificate did not verify for another reason.
    BadCertificate(&'a str),
    /// The server ended the connection with a fatal TLS alert, named as RFC 8446 spells
    /// it (`certificate_required`, `unknown_ca`).
    Alert(&'a str),
    /// What the server sent is not TLS: a plain server.
    NotTls,
    /// Anything else.
    Failed(&'a str),
}

/// The alerts with which a server refuses the client's certificate, and what each
/// means for it (RFC 8446 §6.2).
const CERTIFICATE_ALERTS: [(&str, &str); 7] = [
    ("unknown_ca", "it is not signed by a CA the server trusts"),
    ("certificate_expired", "it has expired or is not valid yet"),
    ("certificate_revoked", "it was revoked"),
    ("bad_certificate", "it is corrupt or its signature does not verify"),
    ("unsupported_certificate", "it is not of a kind the server accepts (is it a client certificate?)"),
    ("certificate_unknown", "the server cannot accept it"),
    ("access_denied", "the server accepted it but does not let it in"),
];

impl Client {
    /// "no TLS session with the server at HOST:PORT".
    fn no_session(&self) -> String {
        format!("no TLS session with the server at {}", self.target())
    }

    /// The connection ended before the TLS handshake did.
    pub(super) fn handshake_lost(&mut self, actions: &mut Vec<ClientAction>, how: &str) {
        let message = format!(
            "{}: the connection ended during the TLS handshake ({how}); expected a server speaking TLS \
             (is it a plain server? then connect without --tls)",
            self.no_session()
        );
        self.fail_with(actions, Exit::Unavailable, message, Some(NO_HANDSHAKE));
    }

    /// TLS failed: during the handshake, or once the session is under way.
    pub(super) fn tls_failed(&mut self, actions: &mut Vec<ClientAction>, failure: TlsFailure<'_>) {
        let (tls_error, reason) = self.tls_reason(failure);
        // TLS 1.3 clients finish their side of the handshake first: a server that
        // refuses the client's certificate says so while START waits for its reply.
        let message = match self.state {
            State::Resolving | State::Connecting | State::Handshaking | State::AwaitStart => {
                format!("{}: {reason}", self.no_session())
            }
            _ => {
                let during = self
                    .request_in_flight()
                    .map(|op| format!(" while waiting for the reply to {op}"))
                    .unwrap_or_default();
                format!("the TLS connection to the server at {} failed{during}: {reason}", self.target())
            }
        };
        self.fail_with(actions, Exit::Unavailable, message, Some(tls_error));
    }

    /// The JSON object's `tls_error`, and the reason in words.
    fn tls_reason(&self, failure: TlsFailure<'_>) -> (&'static str, String) {
        let settings = self.config.tls.clone().unwrap_or_default();
        let host = &self.config.host;
        let when = |text: &str| if text.is_empty() { String::new() } else { format!(" ({text})") };
        let not_verified = "the server's certificate did not verify";
        match failure {
            TlsFailure::Expired(at) => (
                "certificate expired",
                format!("{not_verified}: it has expired{}; the server needs a renewed certificate", when(at)),
            ),
            TlsFailure::NotYetValid(from) => (
                "certificate not valid yet",
                format!("{not_verified}: it is not valid yet{}; is this machine's clock right?", when(from)),
            ),
            TlsFailure::UnknownIssuer => {
                let advice = match &settings.ca_file {
                    Some(file) => format!(
                        "it is not signed by the CA in {file} (expected the certificate of the CA that \
                         issued the server's, such as minmax-certs' certs/ca.pem)"
                    ),
                    None => "it is not signed by a CA this system trusts (for a private CA, such as \
                             minmax-certs makes, give its certificate with --tls-ca FILE)"
                        .to_string(),
                };
                ("unknown issuer", format!("{not_verified}: unknown issuer: {advice}"))
            }
            TlsFailure::BadSignature => {
                let trusted = match &settings.ca_file {
                    Some(file) => format!("the CA in {file}"),
                    None => "a CA this system trusts".to_string(),
                };
                let reason = format!(
                    "{not_verified}: bad signature: it names {trusted} as its issuer, but that CA did not \
                     sign it (another CA with the same name, such as a second minmax-certs ca? give the \
                     one that issued the server's certificate)"
                );
                ("bad signature", reason)
            }
            TlsFailure::NameMismatch(names) => {
                // The names come from the server's certificate: shown as a server's text.
                let names = if names.is_empty() {
                    "no host name or address".to_string()
                } else {
                    super::output::server_text(names)
                };
                let reason = format!(
                    "{not_verified}: name mismatch: it is for {names}, not for {host} (connect by one of \
                     its names, or give the server a certificate for {host})"
                );
                ("name mismatch", reason)
            }
            TlsFailure::NotForServers => (
                "not a server certificate",
                format!("{not_verified}: it is not a server certificate (no serverAuth extended key usage)"),
            ),
            TlsFailure::BadCertificate(how) => ("bad certificate", format!("{not_verified}: {how}")),
            TlsFailure::Alert(alert) => self.alert_reason(alert, settings.cert_file.as_deref()),
            TlsFailure::NotTls => (
                "not TLS",
                "the server's answer to the TLS hello is not TLS; expected a server speaking TLS (is it a \
                 plain server? then connect without --tls)"
                    .to_string(),
            ),
            TlsFailure::Failed(how) => ("TLS failed", how.to_string()),
        }
    }

    fn alert_reason(&self, alert: &str, cert_file: Option<&str>) -> (&'static str, String) {
        let give = "give yours with --tls-cert FILE --tls-key FILE";
        let meaning = CERTIFICATE_ALERTS.iter().find(|(name, _)| *name == alert).map(|(_, meaning)| meaning);
        match (alert, cert_file, meaning) {
            ("certificate_required", None, _) => (
                "client certificate required",
                format!("the server requires a client certificate and none was given: {give}"),
            ),
            ("certificate_required", Some(file), _) => (
                "client certificate refused",
                format!("the server did not accept the client certificate in {file} (certificate_required)"),
            ),
            (_, Some(file), Some(meaning)) => (
                "client certificate refused",
                format!("the server refused the client certificate in {file}: {meaning} ({alert})"),
            ),
            ("handshake_failure", cert_file, _) => {
                let or = if cert_file.is_none() {
                    format!(", or it requires a client certificate: {give}")
                } else {
                    String::new()
                };
                (
                    "handshake refused",
                    format!(
                        "the server refused the TLS handshake (handshake_failure): no TLS version or cipher suite in common{or}"
                    ),
                )
            }
            ("protocol_version", _, _) => (
                "handshake refused",
                "the server speaks neither TLS 1.3 nor TLS 1.2 (protocol_version)".to_string(),
            ),
            _ => ("TLS alert", format!("the server ended the TLS connection with the alert {alert}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ClientConfig, ClientEvent, Wants};
    use super::*;
    use crate::time::Timestamp;
    use std::time::Duration;

    fn tls_config(ca_file: Option<&str>, cert_file: Option<&str>, json: bool) -> ClientConfig {
        ClientConfig {
            client_id: "anton".into(),
            host: "localhost".into(),
            port: 5000,
            key: None,
            interactive: false,
            json,
            quiet: false,
            width: 80,
            tls: Some(TlsSettings {
                ca_file: ca_file.map(String::from),
                cert_file: cert_file.map(String::from),
            }),
        }
    }

    /// A client in its TLS handshake, at time zero.
    fn handshaking(config: ClientConfig) -> Client {
        let mut client = Client::new(config, Timestamp::ZERO);
        assert!(client.step(Timestamp::ZERO, ClientEvent::Resolved).is_empty());
        assert!(client.step(Timestamp::ZERO, ClientEvent::Handshaking).is_empty());
        assert_eq!(client.wants(), Wants::Connection);
        client
    }

    /// What the client says, as (warning, JSON object), after `event`.
    fn said(client: &mut Client, event: ClientEvent<'_>) -> (String, String) {
        let actions = client.step(Timestamp::ZERO, event);
        let mut warning = String::new();
        let mut printed = String::new();
        for action in actions {
            match action {
                ClientAction::Warn(text) => warning = text,
                ClientAction::Print(text) => printed = text,
                other => panic!("unexpected {other:?}"),
            }
        }
        (warning, printed)
    }

    fn failed(config: ClientConfig, failure: TlsFailure<'_>) -> String {
        let mut client = handshaking(config);
        let (warning, _) = said(&mut client, ClientEvent::TlsFailed(failure));
        assert_eq!(client.exit_status(), Some(Exit::Unavailable), "{warning}");
        warning
    }

    #[test]
    fn the_handshake_counts_against_the_connect_limit() {
        let mut client = Client::new(tls_config(None, None, true), Timestamp::ZERO);
        client.step(Timestamp::ZERO, ClientEvent::Resolved);
        let later = Timestamp::from_duration(Duration::from_secs(3));
        client.step(later, ClientEvent::Handshaking);
        assert_eq!(client.poll_timeout(), Some(Timestamp::from_duration(CONNECT_TIMEOUT)));
        let actions = client.handle_timeout(Timestamp::from_duration(CONNECT_TIMEOUT));
        let [ClientAction::Warn(warning), ClientAction::Print(object)] = &actions[..] else {
            panic!("{actions:?}")
        };
        assert_eq!(
            warning,
            "no TLS session with the server at localhost:5000: it accepted the connection but completed \
             no TLS handshake within 5 s; expected a server speaking TLS (a plain server does not answer \
             the TLS hello: connect without --tls)"
        );
        assert!(object.ends_with(", \"tls_error\": \"no TLS handshake\"}\n"), "{object}");
        assert!(object.starts_with("{\"client_id\": \"anton\", \"outcome\": \"error\", \"exit_code\": 5, "));
        assert_eq!(client.exit_status(), Some(Exit::Unavailable));
    }

    #[test]
    fn the_session_starts_once_the_handshake_is_done() {
        let mut client = handshaking(tls_config(None, None, false));
        let actions = client.step(Timestamp::ZERO, ClientEvent::Connected);
        assert!(matches!(&actions[..], [ClientAction::Send(_)]), "{actions:?}");
        assert_eq!(client.wants(), Wants::Reply);
        let mut client = handshaking(tls_config(None, None, false));
        let actions = client.step(Timestamp::ZERO, ClientEvent::Interrupt);
        assert!(matches!(&actions[0], ClientAction::Warn(text) if text.starts_with("interrupted before")));
        assert_eq!(client.exit_status(), Some(Exit::Quit));
    }

    #[test]
    fn a_server_certificate_that_does_not_verify_is_exit_5_with_the_reason() {
        let prefix =
            "no TLS session with the server at localhost:5000: the server's certificate did not verify: ";
        let warning = failed(tls_config(Some("ca.pem"), None, false), TlsFailure::UnknownIssuer);
        assert_eq!(
            warning,
            format!(
                "{prefix}unknown issuer: it is not signed by the CA in ca.pem (expected the certificate of \
                 the CA that issued the server's, such as minmax-certs' certs/ca.pem)"
            )
        );
        let warning = failed(tls_config(None, None, false), TlsFailure::UnknownIssuer);
        assert!(warning.contains("unknown issuer: it is not signed by a CA this system trusts"), "{warning}");
        assert!(warning.contains("--tls-ca FILE"), "{warning}");
        let warning = failed(
            tls_config(None, None, false),
            TlsFailure::Expired("on 2020-01-01 00:00:00 UTC; it is now 2026-01-01 00:00:00 UTC"),
        );
        assert_eq!(
            warning,
            format!(
                "{prefix}it has expired (on 2020-01-01 00:00:00 UTC; it is now 2026-01-01 00:00:00 UTC); \
                 the server needs a renewed certificate"
            )
        );
        let warning =
            failed(tls_config(None, None, false), TlsFailure::NameMismatch("example.org, 192.0.2.1"));
        assert_eq!(
            warning,
            format!(
                "{prefix}name mismatch: it is for example.org, 192.0.2.1, not for localhost (connect by one \
                 of its names, or give the server a certificate for localhost)"
            )
        );
        // The names are the certificate's, so the server's: shown escaped, and cut.
        let many = format!("a\u{1b}[2J, {}", "b.example, ".repeat(1_000));
        let warning = failed(tls_config(None, None, false), TlsFailure::NameMismatch(&many));
        assert!(warning.contains("it is for a^[[2J, b.example, b.example"), "{warning}");
        assert!(warning.contains("... (11007 characters), not for localhost"), "{warning}");
        let warning = failed(tls_config(Some("ca.pem"), None, false), TlsFailure::BadSignature);
        assert!(
            warning.starts_with(&format!(
                "{prefix}bad signature: it names the CA in ca.pem as its issuer, but that CA did not sign it"
            )),
            "{warning}"
        );
        let warning = failed(tls_config(None, None, false), TlsFailure::NotYetValid(""));
        assert!(warning.ends_with("it is not valid yet; is this machine's clock right?"), "{warning}");
        let mut client = handshaking(tls_config(None, None, true));
        let (_, object) = said(&mut client, ClientEvent::TlsFailed(TlsFailure::NameMismatch("x")));
        assert!(object.ends_with(", \"tls_error\": \"name mismatch\"}\n"), "{object}");
    }

    #[test]
    fn the_server_refusing_the_client_certificate_is_told_apart_from_none_given() {
        let warning = failed(tls_config(None, None, false), TlsFailure::Alert("certificate_required"));
        assert_eq!(
            warning,
            "no TLS session with the server at localhost:5000: the server requires a client certificate \
             and none was given: give yours with --tls-cert FILE --tls-key FILE"
        );
        // TLS 1.3: the refusal comes after the client's side of the handshake, with
        // START in flight.
        let mut client = handshaking(tls_config(None, Some("berta.pem"), true));
        client.step(Timestamp::ZERO, ClientEvent::Connected);
        let (warning, object) = said(&mut client, ClientEvent::TlsFailed(TlsFailure::Alert("unknown_ca")));
        assert_eq!(
            warning,
            "no TLS session with the server at localhost:5000: the server refused the client certificate \
             in berta.pem: it is not signed by a CA the server trusts (unknown_ca)"
        );
        assert!(object.ends_with(", \"tls_error\": \"client certificate refused\"}\n"), "{object}");
        let warning = failed(tls_config(None, None, false), TlsFailure::Alert("handshake_failure"));
        assert!(warning.ends_with(
            "or it requires a client certificate: give yours with --tls-cert FILE --tls-key FILE"
        ));
        let warning = failed(tls_config(None, None, false), TlsFailure::Alert("decode_error"));
        assert!(warning.ends_with("the server ended the TLS connection with the alert decode_error"));
    }

    #[test]
    fn a_plain_server_is_named_as_the_likely_cause() {
        let warning = failed(tls_config(None, None, false), TlsFailure::NotTls);
        assert!(warning.contains("the server's answer to the TLS hello is not TLS"), "{warning}");
        assert!(warning.ends_with("connect without --tls)"), "{warning}");
        let mut client = handshaking(tls_config(None, None, false));
        let (warning, _) = said(&mut client, ClientEvent::ConnectionLost("the server closed the connection"));
        assert_eq!(
            warning,
            "no TLS session with the server at localhost:5000: the connection ended during the TLS \
             handshake (the server closed the connection); expected a server speaking TLS (is it a plain \
             server? then connect without --tls)"
        );
        assert_eq!(client.exit_status(), Some(Exit::Unavailable));
    }

    #[test]
    fn a_tls_failure_in_the_session_says_what_was_waiting() {
        let mut client = handshaking(tls_config(None, None, false));
        client.step(Timestamp::ZERO, ClientEvent::Connected);
        client.step(Timestamp::ZERO, ClientEvent::Reply(br#"{"op": "START", "status": true}"#));
        client.step(Timestamp::ZERO, ClientEvent::Input(b"7\n"));
        let (warning, _) = said(&mut client, ClientEvent::TlsFailed(TlsFailure::Failed("bad record MAC")));
        assert_eq!(
            warning,
            "the TLS connection to the server at localhost:5000 failed while waiting for the reply to \
             NUMBER: bad record MAC"
        );
        assert_eq!(client.exit_status(), Some(Exit::Unavailable));
        assert!(said(&mut client, ClientEvent::TlsFailed(TlsFailure::NotTls)).0.is_empty(), "said once");
    }
}
