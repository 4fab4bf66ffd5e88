//! minmax-conform: a conformance battery for any server and any client of the minmax
//! protocol, and a grader for a folder of submissions of the assignment.
//!
//! It stays independent of the code it judges: nothing here uses `minmax_core` or
//! `minmax_net`. Every expectation is written out as the literal bytes a reply must
//! have (as Python's json.dumps writes them); the AES scheme of PROTOCOL §5 is done
//! here with the `aes` and `base64` crates. A bug in minmax's encoder or state
//! machine therefore shows up here instead of being agreed with.
//!
//! Modules: [`server`] and [`client`] the batteries, [`model`] cases and verdicts,
//! [`wire`] recorded connections, [`process`] programs under test, [`judge`] exact
//! and non-strict comparisons, [`json`] a number-preserving JSON reader, [`crypto`]
//! the AES scheme, [`runner`] selection and parallelism, [`report`] text, JSON, JUnit
//! and HTML, [`rubric`], [`grade`] and [`matrix`] for teachers, [`cli`] the command line.

pub mod cli;
pub mod client;
pub mod crypto;
pub mod grade;
pub mod json;
pub mod judge;
pub mod matrix;
pub mod model;
pub mod process;
pub mod report;
pub mod rubric;
pub mod runner;
pub mod server;
pub mod wire;

use cli::{Command, Common};
use model::{Outcome, Tally};
use report::RunInfo;
use std::path::Path;
use std::time::{Duration, Instant};

/// The exit code when every case passed.
pub const EXIT_PASSED: u8 = 0;
/// The exit code when a case failed, timed out or crashed.
pub const EXIT_FAILED: u8 = 1;
/// The exit code when the tool could not run.
pub const EXIT_TOOL: u8 = 2;

/// Runs a parsed command line; the exit code.
pub fn run(args: cli::Args) -> u8 {
    if let Err(error) = process::handle_interrupts() {
        eprintln!("minmax-conform: cannot handle interrupts: {error}");
        return EXIT_TOOL;
    }
    let result = match args.command {
        Command::Server(args) => run_server(args),
        Command::Client(args) => client::run_cli(args),
        Command::Grade(args) => grade::run_cli(args),
        Command::Matrix(args) => matrix::run_cli(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("minmax-conform: {message}");
            EXIT_TOOL
        }
    }
}

/// The shell words of the options that select the implementation, for re-run lines.
fn quoted(option: &str, value: &str) -> String {
    format!("{option} {}", process::shell_quote(value))
}

/// The name this program was started as, for re-run lines.
fn program() -> String {
    std::env::current_exe()
        .ok()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| "minmax-conform".into())
}

/// Checks that a template's program can be started at all: a missing interpreter is
/// the tool's problem (exit 2), not a crash of every case.
pub fn check_program(template: &process::Template, cwd: Option<&Path>) -> Result<(), String> {
    let argv = template.argv(&[]);
    let Some(program) = argv.first() else { return Err("the command is empty".into()) };
    let found = if program.contains('/') {
        let path = Path::new(program);
        path.is_absolute() && path.exists()
            || cwd.unwrap_or(Path::new(".")).join(path).exists()
            || path.exists()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
    };
    if found {
        Ok(())
    } else {
        Err(format!("cannot find the program {program:?} of the command {:?}", template.text))
    }
}

fn run_server(args: cli::ServerArgs) -> Result<u8, String> {
    let common = args.common;
    let filter =
        runner::Filter { only: common.only.clone(), exclude: common.exclude.clone(), level: common.level };
    let selected: Vec<&server::Case> =
        server::CASES.iter().filter(|case| filter.selects(&case.info)).collect();
    if selected.is_empty() {
        return Err("no case matches the selection (see --list, --only, --exclude and --level)".into());
    }
    if common.list {
        for case in &selected {
            crate::outln!("{}  [{}]  {}", case.info.id, case.info.level.name(), case.info.description);
            for line in case.expectation().lines() {
                crate::outln!("    {line}");
            }
        }
        crate::outln!("{} server cases", selected.len());
        return Ok(EXIT_PASSED);
    }
    let timeout = Duration::from_secs_f64(common.timeout);
    let (target, described, rerun) = match (args.cmd, args.addr) {
        (Some(cmd), None) => {
            let mut template = process::Template::parse(&cmd)?;
            if args.cwd.is_none() {
                template.anchor(&std::env::current_dir().unwrap_or_default());
            }
            if !template.has("{port}") {
                return Err(format!("the server command {cmd:?} has no {{port}} placeholder"));
            }
            let cwd = args.cwd.as_deref().map(process::absolute);
            if let Some(dir) = &cwd
                && !dir.is_dir()
            {
                return Err(format!("--cwd {} is not a directory", dir.display()));
            }
            check_program(&template, cwd.as_deref())?;
            let mut rerun = format!("{} server {}", program(), quoted("--cmd", &template.text));
            if let Some(dir) = &cwd {
                rerun.push_str(&format!(" {}", quoted("--cwd", &dir.display().to_string())));
            }
            (server::Target::Spawn { template, cwd }, cmd, rerun)
        }
        (None, Some(addr)) => {
            if !addr.ip().is_loopback() {
                return Err(format!("--addr {addr}: only 127.0.0.1 and ::1 may be tested"));
            }
            let report = args.report.as_deref().map(process::absolute);
            let mut rerun = format!("{} server --addr {addr}", program());
            if let Some(path) = &report {
                rerun.push_str(&format!(" {}", quoted("--report", &path.display().to_string())));
            }
            (server::Target::Addr { addr, report }, addr.to_string(), rerun)
        }
        _ => return Err("give the server to test: --cmd 'TEMPLATE with {port}' or --addr HOST:PORT".into()),
    };
    let jobs = match target {
        // One long-running server: cases one after another, so they cannot disturb each other.
        server::Target::Addr { .. } => 1,
        server::Target::Spawn { .. } => common.jobs.unwrap_or_else(runner::default_jobs),
    };
    let rerun = if (common.timeout - 5.0).abs() > f64::EPSILON {
        format!("{rerun} --timeout {}", common.timeout)
    } else {
        rerun
    };
    let config = server::Config { target, timeout, rerun };
    let started = Instant::now();
    let outcomes = runner::run_parallel(&selected, jobs, |case| server::run_case(case, &config), |_| {});
    let info = RunInfo {
        battery: "server".into(),
        target: described,
        level: format!("{:?}", common.level).to_lowercase(),
        seconds: started.elapsed().as_secs_f64(),
    };
    finish(&outcomes, &info, &common)
}

/// Prints the summary, writes the requested reports; the exit code.
pub fn finish(outcomes: &[Outcome], info: &RunInfo, common: &Common) -> Result<u8, String> {
    let text = report::text(outcomes, info, report::use_colour());
    if common.quiet {
        crate::outln!("{}", Tally::of(outcomes).line());
    } else {
        crate::out!("{text}");
    }
    write_file(common.json.as_deref(), &report::json_text(outcomes, info))?;
    write_file(common.junit.as_deref(), &report::junit(outcomes, info))?;
    write_file(common.html.as_deref(), &report::html(outcomes, info))?;
    Ok(if Tally::of(outcomes).failed() { EXIT_FAILED } else { EXIT_PASSED })
}

/// Writes a report file, if one was asked for.
pub fn write_file(path: Option<&Path>, contents: &str) -> Result<(), String> {
    match path {
        Some(path) => std::fs::write(path, contents)
            .map_err(|error| format!("cannot write {}: {error}", path.display())),
        None => Ok(()),
    }
}
