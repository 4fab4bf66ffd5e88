//! Command-line values and exit codes (PROTOCOL §7), shared by the programs.
//!
//! Each parser's error says what was wrong and what was expected; clap prints it with
//! the argument's name. [`parse_or_exit`] maps clap's outcomes to §7's exit codes:
//! 1 for a wrong number of arguments or an unknown option, 2 for an invalid value.

use clap::error::ErrorKind;
use minmax_core::Exit;
use std::time::Duration;

/// A TCP port to connect to: 1-65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    minmax_core::args::parse_port(text, false)
        .map_err(|error| format!("{error}: expected an integer from 1 to 65535"))
}

/// A TCP port to listen on: 1-65535, or 0 for any free port.
pub fn parse_port_or_zero(text: &str) -> Result<u16, String> {
    minmax_core::args::parse_port(text, true).map_err(|error| {
        format!("{error}: expected an integer from 1 to 65535 (0 to listen on any free port)")
    })
}

/// A number of seconds, fractions allowed (0 means "never" to the options that take it).
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let expected = "expected a number of seconds such as 10 or 0.5, or 0 for never";
    let seconds: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a duration: {expected}"))?;
    if !seconds.is_finite() || !(0.0..=1e9).contains(&seconds) {
        return Err(format!("{text} is out of range: {expected}, at most 1000000000"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A timeout option's value: zero means there is none.
pub fn zero_is_never(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// An integer within `min..=max`.
pub fn parse_in_range<T>(text: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let expected = format!("expected an integer from {min} to {max}");
    let value: T = text.trim().parse().map_err(|_| format!("{text:?} is not an integer: {expected}"))?;
    if value < min || value > max {
        return Err(format!("{value} is out of range: {expected}"));
    }
    Ok(value)
}

/// The exit code for a command line clap refused (§7): 1 for the shape of the
/// command (missing or extra arguments, unknown options), 2 for a bad value; help and
/// version are not errors.
pub fn exit_for(kind: ErrorKind) -> Exit {
    match kind {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Exit::Success,
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::InvalidUtf8 => {
            Exit::InvalidArgument
        }
        _ => Exit::Usage,
    }
}

/// Parses the process's arguments, or prints clap's message and exits with §7's code.
pub fn parse_or_exit<T: clap::Parser>() -> T {
    match T::try_parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            let status = exit_for(error.kind());
            // clap writes help and version to stdout, errors to stderr.
            let _ = error.print();
            std::process::exit(i32::from(status.code()));
        }
    }
}

/// Converts §7's exit status for `main`.
pub fn exit_code(exit: Exit) -> std::process::ExitCode {
    std::process::ExitCode::from(exit.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_checked_with_a_reason() {
        assert_eq!(parse_port_or_zero("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("0"), Err("0 is out of range: expected an integer from 1 to 65535".into()));
        assert!(parse_port("65536").unwrap_err().contains("out of range"));
        assert!(parse_port("-1").unwrap_err().contains("-1 is out of range"));
        assert!(parse_port("80a").unwrap_err().contains("\"80a\" is not a port number"));
        assert!(parse_port("99999999999999999999999999").is_err());
    }

    #[test]
    fn seconds_accept_fractions_and_zero_means_never() {
        assert_eq!(parse_seconds("0").map(zero_is_never), Ok(None));
        assert_eq!(parse_seconds("10").map(zero_is_never), Ok(Some(Duration::from_secs(10))));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["-1", "NaN", "inf", "1e10", "ten", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_name_their_bounds() {
        assert_eq!(parse_in_range("5", 1u32, 10), Ok(5));
        assert_eq!(
            parse_in_range("11", 1u32, 10),
            Err("11 is out of range: expected an integer from 1 to 10".into())
        );
        assert!(parse_in_range("x", 1u32, 10).unwrap_err().contains("not an integer"));
    }

    #[test]
    fn clap_outcomes_map_to_section_7() {
        assert_eq!(exit_for(ErrorKind::DisplayHelp), Exit::Success);
        assert_eq!(exit_for(ErrorKind::MissingRequiredArgument), Exit::Usage);
        assert_eq!(exit_for(ErrorKind::UnknownArgument), Exit::Usage);
        assert_eq!(exit_for(ErrorKind::ValueValidation), Exit::InvalidArgument);
    }
}
