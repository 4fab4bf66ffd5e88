//! The command-line arguments PROTOCOL §7 defines: ports and hosts. (A client id
//! follows §4's rules: [`crate::message::check_client_id`].)

use std::fmt;
// libcore's address type: parsing only, no sockets.
use core::net::Ipv6Addr;

/// Why a port argument is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// Not an integer at all.
    NotANumber(String),
    /// An integer outside the allowed range (negative ones included).
    OutOfRange(String),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::NotANumber(text) => write!(f, "{text:?} is not a port number"),
            PortError::OutOfRange(text) => write!(f, "{text} is out of range"),
        }
    }
}

/// Parses a TCP port: 1-65535, and 0 too when `zero_allowed` (a server asking for
/// any free port).
pub fn parse_port(text: &str, zero_allowed: bool) -> Result<u16, PortError> {
    let trimmed = text.trim();
    let is_integer = {
        let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if !is_integer {
        return Err(PortError::NotANumber(text.to_string()));
    }
    match trimmed.parse::<u16>() {
        Ok(0) if !zero_allowed => Err(PortError::OutOfRange(trimmed.to_string())),
        Ok(port) => Ok(port),
        Err(_) => Err(PortError::OutOfRange(trimmed.to_string())),
    }
}

/// Why a host argument is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The empty string.
    Empty,
    /// Looks like a dotted IPv4 address but is not one: `X.X.X.X`, each X from 0 to 255.
    BadIpv4(String),
    /// Neither an address nor a valid DNS name.
    BadName(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Empty => f.write_str("the host is empty"),
            HostError::BadIpv4(text) => {
                write!(f, "{text:?} is not an IPv4 address of the form X.X.X.X with each X from 0 to 255")
            }
            HostError::BadName(text) => write!(
                f,
                "{text:?} is neither an IP address nor a DNS name (letters, digits and hyphens, in dot-separated labels)"
            ),
        }
    }
}

/// Checks a host argument (§7): a dotted IPv4 address `X.X.X.X` with each `X` from 0
/// to 255, an IPv6 literal (bracketed or not), or a DNS name.
pub fn check_host(text: &str) -> Result<(), HostError> {
    if text.is_empty() {
        return Err(HostError::Empty);
    }
    let unbracketed = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(text);
    if unbracketed.parse::<Ipv6Addr>().is_ok() {
        return Ok(());
    }
    // Anything made of digits and dots is meant as an IPv4 address, and must be one.
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let parts: Vec<&str> = text.split('.').collect();
        let valid = parts.len() == 4
            && parts
                .iter()
                .all(|part| (1..=3).contains(&part.len()) && part.parse::<u16>().is_ok_and(|n| n <= 255));
        return if valid { Ok(()) } else { Err(HostError::BadIpv4(text.to_string())) };
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(HostError::BadName(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("5000", false), Ok(5000));
        assert_eq!(parse_port("65535", false), Ok(65535));
        assert_eq!(parse_port("0", true), Ok(0));
        assert_eq!(parse_port("0", false), Err(PortError::OutOfRange("0".into())));
        assert_eq!(parse_port("65536", true), Err(PortError::OutOfRange("65536".into())));
        assert_eq!(parse_port("-1", true), Err(PortError::OutOfRange("-1".into())));
        assert_eq!(
            parse_port("99999999999999999999999", true),
            Err(PortError::OutOfRange("99999999999999999999999".into()))
        );
        for bad in ["", "http", "80a", "8.5", "-", "0x50"] {
            assert_eq!(parse_port(bad, true), Err(PortError::NotANumber(bad.into())), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        for good in [
            "localhost",
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "[::1]",
            "fe80::1",
            "example.com",
            "a-b.c1.",
            "xn--bcher-kva.example",
        ] {
            assert_eq!(check_host(good), Ok(()), "{good}");
        }
        for bad_ipv4 in ["256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.1000", "...."] {
            assert_eq!(check_host(bad_ipv4), Err(HostError::BadIpv4(bad_ipv4.into())), "{bad_ipv4}");
        }
        for bad_name in ["-a.com", "a-.com", "a..b", "a_b", "exa mple", "host:80", &"a".repeat(64)] {
            assert_eq!(check_host(bad_name), Err(HostError::BadName(bad_name.into())), "{bad_name}");
        }
        assert_eq!(check_host(""), Err(HostError::Empty));
    }
}
