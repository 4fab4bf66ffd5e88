//! Reaching the server (PROTOCOL §7): why no connection could be made, and what the
//! client says and exits with when it cannot reach the server in time.

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

    /// The connect limit ran out while resolving or connecting.
    pub(super) fn connect_timed_out(&mut self, actions: &mut Vec<ClientAction>) {
        let seconds = CONNECT_TIMEOUT.as_secs();
        let message = match self.state {
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
