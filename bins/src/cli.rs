//! Command-line values and exit codes (PROTOCOL §7), shared by the programs.
//!
//! Each parser's error says what was wrong and what was expected, and shows a long
//! argument as a short excerpt. [`parse_or_exit`] maps clap's outcomes to §7's exit
//! codes: 1 for a wrong number of arguments or an unknown option, 2 for an invalid
//! value.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use minmax_core::Exit;
use std::fmt;
use std::io::Write as _;
use std::net::Ipv6Addr;
use std::time::Duration;

/// An argument longer than this many characters is shown as an excerpt in messages.
const EXCERPT_CHARS: usize = 40;

/// `text` quoted for a message, cut to its first characters when long: a 100 KB
/// argument must not become 100 KB of error message.
pub fn excerpt(text: &str) -> String {
    let count = text.chars().count();
    if count <= EXCERPT_CHARS {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(EXCERPT_CHARS).collect();
    format!("{head:?}... ({count} characters)")
}

/// Why a port argument is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError {
    /// The argument, as given.
    text: String,
    /// It is an integer, but out of range (negative ones included).
    out_of_range: bool,
    /// 0 (any free port) is allowed.
    zero_allowed: bool,
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.out_of_range {
            // An integer needs no quotes, unless it is too long to show whole.
            let number = self.text.trim();
            if number.len() <= EXCERPT_CHARS {
                write!(f, "{number} is out of range")?;
            } else {
                write!(f, "{} is out of range", excerpt(number))?;
            }
        } else {
            write!(f, "{} is not a port number", excerpt(&self.text))?;
        }
        f.write_str(": expected an integer from 1 to 65535")?;
        if self.zero_allowed {
            f.write_str(" (0 to listen on any free port)")?;
        }
        Ok(())
    }
}

impl std::error::Error for PortError {}

/// A TCP port to connect to: 1-65535.
pub fn parse_port(text: &str) -> Result<u16, PortError> {
    port(text, false)
}

/// A TCP port to listen on: 1-65535, or 0 for any free port.
pub fn parse_port_or_zero(text: &str) -> Result<u16, PortError> {
    port(text, true)
}

fn port(text: &str, zero_allowed: bool) -> Result<u16, PortError> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
    let is_integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let error = |out_of_range| PortError { text: text.to_string(), out_of_range, zero_allowed };
    if !is_integer {
        return Err(error(false));
    }
    match trimmed.parse::<u16>() {
        Ok(0) if !zero_allowed => Err(error(true)),
        Ok(port) => Ok(port),
        Err(_) => Err(error(true)),
    }
}

/// Why a host argument is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The empty string.
    Empty,
    /// Made of numbers, so meant as an IPv4 address, but not one as §7 writes it.
    BadIpv4 {
        /// The argument, as given.
        text: String,
        /// What is wrong with it.
        problem: Ipv4Problem,
    },
    /// Neither an address nor a valid DNS name.
    BadName(String),
}

/// What keeps a host made of numbers from being a dotted IPv4 address `X.X.X.X`, each
/// `X` a decimal from 0 to 255 without leading zeros. The system's resolver reads
/// other numeric forms its own way (`010` as octal 8, `0x7f` as hexadecimal, `127.1`
/// as 127.0.0.1), so any of these would reach another address than the one written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ipv4Problem {
    /// Not four parts: this many.
    Parts(usize),
    /// A part is empty (`1..2.3`).
    EmptyPart,
    /// A part has a leading zero (`010`); `canonical` is the address read as decimal,
    /// when each part is within 0-255 so read.
    LeadingZero {
        /// The part, as given.
        part: String,
        /// The address the user most likely meant, written as §7 asks.
        canonical: Option<String>,
    },
    /// A part is hexadecimal (`0x7f`); `canonical` is the address it stands for, when
    /// each part is within 0-255.
    Hexadecimal {
        /// The part, as given.
        part: String,
        /// The same address, written as §7 asks.
        canonical: Option<String>,
    },
    /// A part is above 255.
    AboveMaximum(String),
}

/// A part of a host shown in a message: whole when short (it is only digits or
/// hexadecimal digits), as an excerpt when long.
fn shown_part(part: &str) -> String {
    if part.len() <= EXCERPT_CHARS { part.to_string() } else { excerpt(part) }
}

impl fmt::Display for Ipv4Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let write = |canonical: &Option<String>| {
            canonical.as_ref().map(|c| format!("; write {c}")).unwrap_or_default()
        };
        match self {
            Ipv4Problem::Parts(1) => f.write_str("it has 1 part, not 4"),
            Ipv4Problem::Parts(count) => write!(f, "it has {count} parts, not 4"),
            Ipv4Problem::EmptyPart => f.write_str("a part is empty"),
            Ipv4Problem::LeadingZero { part, canonical } => write!(
                f,
                "{} has a leading zero, which the system's resolver reads as octal{}",
                shown_part(part),
                write(canonical)
            ),
            Ipv4Problem::Hexadecimal { part, canonical } => {
                write!(f, "{} is hexadecimal{}", shown_part(part), write(canonical))
            }
            Ipv4Problem::AboveMaximum(part) => write!(f, "{} is above 255", shown_part(part)),
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Empty => f.write_str("the host is empty: expected a DNS name or an IP address"),
            HostError::BadIpv4 { text, problem } => write!(
                f,
                "{} is not an IPv4 address of the form X.X.X.X, each X a decimal from 0 to 255 without \
                 leading zeros: {problem}",
                excerpt(text)
            ),
            HostError::BadName(text) => write!(
                f,
                "{} is neither an IP address nor a DNS name (letters, digits and hyphens, in dot-separated labels)",
                excerpt(text)
            ),
        }
    }
}

impl std::error::Error for HostError {}

/// A label the system's resolver may read as a number: digits, or `0x` and
/// hexadecimal digits. Empty labels count, so that `1..2.3` is a broken address
/// rather than a name.
fn is_numeric_label(label: &str) -> bool {
    match label.strip_prefix("0x").or_else(|| label.strip_prefix("0X")) {
        Some(hex) => !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// A part's value for the suggestion: decimal (leading zeros dropped, as the user
/// most likely meant) or hexadecimal; `None` above 255.
fn part_value(part: &str) -> Option<u8> {
    match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => part.parse().ok(),
    }
}

/// Checks a host made only of numeric labels: it must be a canonical dotted IPv4
/// address (§7).
fn check_ipv4(text: &str) -> Result<(), Ipv4Problem> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return Err(Ipv4Problem::Parts(parts.len()));
    }
    if parts.iter().any(|part| part.is_empty()) {
        return Err(Ipv4Problem::EmptyPart);
    }
    let canonical = || {
        let values: Option<Vec<String>> =
            parts.iter().map(|part| part_value(part).map(|value| value.to_string())).collect();
        values.map(|values| values.join("."))
    };
    for &part in &parts {
        // Every part is numeric (`is_numeric_label`): an x can only follow a leading 0.
        if part.contains(['x', 'X']) {
            return Err(Ipv4Problem::Hexadecimal { part: part.to_string(), canonical: canonical() });
        }
        if part.len() > 1 && part.starts_with('0') {
            return Err(Ipv4Problem::LeadingZero { part: part.to_string(), canonical: canonical() });
        }
        if part.parse::<u8>().is_err() {
            return Err(Ipv4Problem::AboveMaximum(part.to_string()));
        }
    }
    Ok(())
}

/// Checks a host argument (§7): a dotted IPv4 address `X.X.X.X` with each `X` a
/// decimal from 0 to 255 without leading zeros, an IPv6 literal (bracketed or not),
/// or a DNS name. A host whose labels are all numbers (decimal, or `0x` hexadecimal)
/// is meant as an IPv4 address and must be one as written: the resolver would read
/// `127.0.0.010` as 127.0.0.8.
pub fn check_host(text: &str) -> Result<(), HostError> {
    if text.is_empty() {
        return Err(HostError::Empty);
    }
    let unbracketed = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(text);
    if unbracketed.parse::<Ipv6Addr>().is_ok() {
        return Ok(());
    }
    if text.split('.').all(is_numeric_label) {
        return check_ipv4(text).map_err(|problem| HostError::BadIpv4 { text: text.to_string(), problem });
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

/// A value that is not what an option expects; the text says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl ValueError {
    /// An error whose text says what was wrong and what was expected.
    pub fn new(explanation: String) -> ValueError {
        ValueError(explanation)
    }
}

/// A number of seconds, fractions allowed (0 means "never" to the options that take it).
pub fn parse_seconds(text: &str) -> Result<Duration, ValueError> {
    let expected = "expected a number of seconds such as 10 or 0.5, or 0 for never";
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| ValueError(format!("{} is not a duration: {expected}", excerpt(text))))?;
    if !seconds.is_finite() || !(0.0..=1e9).contains(&seconds) {
        return Err(ValueError(format!("{} is out of range: {expected}, at most 1000000000", excerpt(text))));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A timeout option's value: zero means there is none.
pub fn zero_is_never(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// An integer within `min..=max`.
pub fn parse_in_range<T>(text: &str, min: T, max: T) -> Result<T, ValueError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let expected = format!("expected an integer from {min} to {max}");
    let trimmed = text.trim();
    let value: T = trimmed.parse().map_err(|_| {
        // An integer too large (or negative) for the type is out of range, not "not
        // an integer": say what is wrong with it.
        let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
        let problem = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            "is out of range"
        } else {
            "is not an integer"
        };
        ValueError(format!("{} {problem}: {expected}", excerpt(text)))
    })?;
    if value < min || value > max {
        return Err(ValueError(format!("{value} is out of range: {expected}")));
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

/// The one argument that makes a program print its own documentation instead of
/// running: `--generate man` (a man page, roff) or `--generate SHELL` (completions
/// for bash, zsh, fish, elvish or powershell), written from the same clap
/// definitions as `--help`, so they cannot drift.
pub const GENERATE: &str = "--generate";

/// `T`'s command line with [`GENERATE`] in it, for `--help`, the man page and the
/// completions to show. It is handled before parsing (a program's required
/// arguments must not be asked for), so clap only ever sees it misplaced.
pub fn command<T: clap::CommandFactory>() -> clap::Command {
    T::command().arg(
        clap::Arg::new("generate")
            .long("generate")
            .value_name("man|SHELL")
            .help("Print this program's man page (man) or completions (bash, zsh, fish, elvish, powershell), and exit; it must be the first argument")
            .exclusive(true),
    )
}

/// Parses the process's arguments against [`command`]: the `T` they make, or clap's
/// error.
pub fn try_parse<T: clap::Parser>() -> Result<T, clap::Error> {
    let matches = command::<T>().try_get_matches()?;
    T::from_arg_matches(&matches)
}

/// The man page: clap_mangen's, with every subcommand's description, synopsis and
/// options in the same page (clap_mangen would only point to one page per
/// subcommand, which one `--generate man` cannot write).
fn render_man(mut command: clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    command.build();
    let name = command.get_name().to_string();
    let subcommands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
        .cloned()
        .collect();
    let man = clap_mangen::Man::new(command.clone());
    if subcommands.is_empty() {
        return man.render(out);
    }
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    for sub in subcommands {
        let full = format!("{name} {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", full.to_uppercase())?;
        let has_extra = sub.get_after_help().is_some() || sub.get_after_long_help().is_some();
        let part_man = clap_mangen::Man::new(sub.bin_name(full.clone()).display_name(full));
        let mut part = Vec::new();
        part_man.render_description_section(&mut part)?;
        part_man.render_synopsis_section(&mut part)?;
        part_man.render_options_section(&mut part)?;
        if has_extra {
            part_man.render_extra_section(&mut part)?;
        }
        // One level down: the subcommand's sections are subsections of its own.
        for line in String::from_utf8_lossy(&part).lines() {
            match line.strip_prefix(".SH ") {
                Some(heading) => writeln!(out, ".SS {heading}")?,
                None => writeln!(out, "{line}")?,
            }
        }
    }
    if command.get_after_help().is_some() || command.get_after_long_help().is_some() {
        man.render_extra_section(out)?;
    }
    if command.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// Prints what `--generate WHAT` asks for; the exit status.
fn generate<T: clap::CommandFactory>(what: &str) -> Exit {
    let mut command = command::<T>();
    let name = command.get_name().to_string();
    // Rendered first, written after: clap_complete panics when its writer fails,
    // and a closed standard output must be an error message, not a panic.
    let mut text = Vec::new();
    let rendered = match what {
        "man" => render_man(command, &mut text),
        shell => match shell.parse::<clap_complete::Shell>() {
            Ok(shell) => {
                clap_complete::generate(shell, &mut command, name.clone(), &mut text);
                Ok(())
            }
            Err(_) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "{name}: {GENERATE} takes man, bash, zsh, fish, elvish or powershell, not {}",
                    excerpt(shell)
                );
                return Exit::InvalidArgument;
            }
        },
    };
    let mut out = std::io::stdout().lock();
    match rendered.and_then(|()| out.write_all(&text)).and_then(|()| out.flush()) {
        Ok(()) => Exit::Success,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "{name}: cannot write to standard output: {error}");
            Exit::Unavailable
        }
    }
}

/// When the process was started as `PROGRAM --generate WHAT`, prints the man page or
/// completions of `T` and exits; otherwise returns.
pub fn generate_if_asked<T: clap::CommandFactory>() {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|first| first == GENERATE) {
        let what = args.next().map(|what| what.to_string_lossy().into_owned()).unwrap_or_default();
        std::process::exit(i32::from(generate::<T>(&what).code()));
    }
}

/// Parses the process's arguments, or prints why not and exits with §7's code.
/// `PROGRAM --generate man|SHELL` prints documentation instead (see [`GENERATE`]).
pub fn parse_or_exit<T: clap::Parser>() -> T {
    parse_or_exit_reporting::<T>(|_, _| {})
}

/// [`parse_or_exit`], telling `refused` of a command line it refuses before exiting:
/// the exit status and the reason on one line, with the usage expected. Help and
/// version are not refusals. For a program that reports every outcome its own way
/// too (the client's `--json`).
pub fn parse_or_exit_reporting<T: clap::Parser>(refused: impl FnOnce(Exit, &str)) -> T {
    generate_if_asked::<T>();
    match try_parse::<T>() {
        Ok(parsed) => parsed,
        Err(error) => {
            let status = exit_for(error.kind());
            let mut command = command::<T>();
            let program = command.get_name().to_string();
            let explained = explain(&error, &program);
            match &explained {
                Some(message) => {
                    // A broken standard error must not turn an exit code into a panic.
                    let _ = std::io::stderr().write_all(message.as_bytes());
                }
                // clap writes help and version to stdout, its other errors to stderr.
                None => {
                    let _ = error.print();
                }
            }
            if status != Exit::Success {
                let text = explained.unwrap_or_else(|| error.render().to_string());
                let usage = command.render_usage().to_string();
                let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage);
                refused(status, &format!("{}; expected: {usage} (see {program} --help)", reason_of(&text)));
            }
            std::process::exit(i32::from(status.code()));
        }
    }
}

/// The reason in an error message written for a terminal, on one line: its first
/// paragraph without the `error: ` prefix, a list's lines joined after its heading
/// ("not provided: <CLIENT_ID> <PORT>").
fn reason_of(text: &str) -> String {
    let first = text.split("\n\n").next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    first.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Our own message for the errors where clap's says too much or the wrong thing: an
/// invalid value is shown as an excerpt (clap repeats it whole), and an unknown
/// option points to `--help` (clap suggests `-- --option`, which these programs do
/// not take).
fn explain(error: &clap::Error, program: &str) -> Option<String> {
    let argument = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(argument)) => argument.clone(),
        _ => String::new(),
    };
    match error.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let value = match error.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(value)) => value.clone(),
                _ => String::new(),
            };
            let reason =
                std::error::Error::source(error).map(|source| format!(": {source}")).unwrap_or_default();
            let expected = match error.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(values)) => format!(" (expected one of: {})", values.join(", ")),
                _ => String::new(),
            };
            Some(format!(
                "error: invalid value {} for {argument}{reason}{expected}\n\nFor more information, try '{program} --help'.\n",
                excerpt(&value)
            ))
        }
        // An extra positional argument, which clap takes for an unknown subcommand
        // when the program has subcommands ("minmax-server 5000 6000").
        ErrorKind::ArgumentConflict if error.get(ContextKind::InvalidSubcommand).is_some() => {
            let extra = match error.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(extra)) => extra.clone(),
                _ => String::new(),
            };
            Some(format!(
                "error: unexpected argument {}\n\nThe arguments {program} takes are listed by '{program} --help'.\n",
                excerpt(&extra)
            ))
        }
        ErrorKind::UnknownArgument => Some(format!(
            "error: unexpected argument {}\n\nThe options {program} takes are listed by '{program} --help'.\n",
            excerpt(&argument)
        )),
        _ => None,
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
        assert_eq!(parse_port("5000"), Ok(5000));
        assert_eq!(
            parse_port("0").map_err(|e| e.to_string()),
            Err("0 is out of range: expected an integer from 1 to 65535".into())
        );
        assert!(parse_port("65536").unwrap_err().to_string().contains("out of range"));
        assert!(parse_port("-1").unwrap_err().to_string().contains("-1 is out of range"));
        assert!(parse_port("99999999999999999999999").unwrap_err().to_string().contains("out of range"));
        for bad in ["", "http", "80a", "8.5", "-", "0x50"] {
            assert!(
                parse_port_or_zero(bad).unwrap_err().to_string().contains("is not a port number"),
                "{bad}"
            );
        }
        assert!(parse_port_or_zero("x").unwrap_err().to_string().ends_with("(0 to listen on any free port)"));
    }

    #[test]
    fn long_arguments_are_shown_as_excerpts() {
        let long = "9".repeat(100_000);
        let message = parse_port(&long).unwrap_err().to_string();
        assert!(message.len() < 150, "{message}");
        assert!(message.contains("(100000 characters)"), "{message}");
        assert_eq!(excerpt("short"), "\"short\"");
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
        let bad = |text: &str, problem| Err(HostError::BadIpv4 { text: text.into(), problem });
        let zero = |part: &str, canonical: Option<&str>| Ipv4Problem::LeadingZero {
            part: part.into(),
            canonical: canonical.map(String::from),
        };
        let hex = |part: &str, canonical: Option<&str>| Ipv4Problem::Hexadecimal {
            part: part.into(),
            canonical: canonical.map(String::from),
        };
        for (text, problem) in [
            ("256.0.0.1", Ipv4Problem::AboveMaximum("256".into())),
            ("1.2.3.1000", Ipv4Problem::AboveMaximum("1000".into())),
            ("1.2.3", Ipv4Problem::Parts(3)),
            ("1.2.3.4.5", Ipv4Problem::Parts(5)),
            ("....", Ipv4Problem::Parts(5)),
            ("1.2.3.4.", Ipv4Problem::Parts(5)),
            ("127.1", Ipv4Problem::Parts(2)),
            ("2130706433", Ipv4Problem::Parts(1)),
            ("0x7f000001", Ipv4Problem::Parts(1)),
            ("1..2.3", Ipv4Problem::EmptyPart),
            ("127.0.0.010", zero("010", Some("127.0.0.10"))),
            ("00.0.0.0", zero("00", Some("0.0.0.0"))),
            ("0177.0.0.1", zero("0177", Some("177.0.0.1"))),
            ("1.2.3.0400", zero("0400", None)),
            ("0x7f.0.0.1", hex("0x7f", Some("127.0.0.1"))),
            ("0X7F.0.0.0x1", hex("0X7F", Some("127.0.0.1"))),
            ("1.2.3.0x00ff", hex("0x00ff", Some("1.2.3.255"))),
            ("1.0x100.0.0", hex("0x100", None)),
        ] {
            assert_eq!(check_host(text), bad(text, problem), "{text}");
        }
        assert_eq!(
            check_host("127.0.0.010").unwrap_err().to_string(),
            "\"127.0.0.010\" is not an IPv4 address of the form X.X.X.X, each X a decimal from 0 to 255 \
             without leading zeros: 010 has a leading zero, which the system's resolver reads as octal; \
             write 127.0.0.10"
        );
        let long = format!("1.2.3.{}", "9".repeat(100_000));
        let message = check_host(&long).unwrap_err().to_string();
        assert!(message.len() < 300 && message.ends_with("(100000 characters) is above 255"), "{message}");
        // A label that is not all digits (or 0x and hexadecimal digits) makes a name.
        for name in ["0x7f.example", "1e3", "1.2.3.example", "0xg.0.0.1", "0x.0.0.1"] {
            assert_eq!(check_host(name), Ok(()), "{name}");
        }
        for bad_name in ["-a.com", "a-.com", "a..b", "a_b", "exa mple", "host:80", &"a".repeat(64)] {
            assert_eq!(check_host(bad_name), Err(HostError::BadName(bad_name.into())), "{bad_name}");
        }
        assert_eq!(check_host(""), Err(HostError::Empty));
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
            parse_in_range("11", 1u32, 10).map_err(|e| e.to_string()),
            Err("11 is out of range: expected an integer from 1 to 10".into())
        );
        assert!(parse_in_range("x", 1u32, 10).unwrap_err().to_string().contains("not an integer"));
        // Too large, or negative, for the type: out of range all the same.
        for text in ["99999999999", "-5"] {
            let error = parse_in_range(text, 1u32, 10).unwrap_err().to_string();
            assert!(error.contains("is out of range: expected an integer from 1 to 10"), "{error}");
        }
    }

    #[test]
    fn a_refusals_reason_fits_on_one_line() {
        let text = "error: the following required arguments were not provided:\n  <CLIENT_ID>\n  <PORT>\n\n\
                    Usage: minmax-client <CLIENT_ID> <PORT> [HOST]\n\nFor more information, try '--help'.\n";
        assert_eq!(reason_of(text), "the following required arguments were not provided: <CLIENT_ID> <PORT>");
        assert_eq!(
            reason_of("error: unexpected argument \"x\"\n\nThe options ...\n"),
            "unexpected argument \"x\""
        );
    }

    #[test]
    fn clap_outcomes_map_to_section_7() {
        assert_eq!(exit_for(ErrorKind::DisplayHelp), Exit::Success);
        assert_eq!(exit_for(ErrorKind::MissingRequiredArgument), Exit::Usage);
        assert_eq!(exit_for(ErrorKind::UnknownArgument), Exit::Usage);
        assert_eq!(exit_for(ErrorKind::ValueValidation), Exit::InvalidArgument);
    }
}
