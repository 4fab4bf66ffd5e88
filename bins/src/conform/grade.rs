//! `minmax-conform grade DIR`: each subfolder of DIR is a submission; both batteries
//! run on each (all cases of all submissions share one pool of `-j` workers, each
//! case in its own process and directory), scored by a rubric, written as a
//! gradebook: a CSV of submissions × cases, an HTML index linking each submission's
//! report, and a Gradescope-style `results.json` per submission.

use super::model::{Outcome, Tally, Verdict};
use super::process::{self, Template, shell_quote};
use super::report::{self, RunInfo, html_escape};
use super::rubric::Rubric;
use super::{client, server};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One submission found in the folder.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The subfolder's name.
    pub name: String,
    /// The subfolder.
    pub dir: PathBuf,
    /// The server's file, if present.
    pub server: Option<PathBuf>,
    /// The client's file, if present.
    pub client: Option<PathBuf>,
}

/// Finds the submissions of `dir`: its subfolders, sorted by name, each with the
/// server and client files found at its top or one level down (archives often
/// unpack into a folder of their own).
pub fn submissions(dir: &Path, server_file: &str, client_file: &str) -> Result<Vec<Submission>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let locate = |file: &str| -> Option<PathBuf> {
            let direct = path.join(file);
            if direct.is_file() {
                return Some(direct);
            }
            let mut nested: Vec<PathBuf> = std::fs::read_dir(&path)
                .ok()?
                .flatten()
                .map(|entry| entry.path().join(file))
                .filter(|candidate| candidate.is_file())
                .collect();
            nested.sort();
            nested.into_iter().next()
        };
        let server = locate(server_file).map(|p| process::absolute(&p));
        let client = locate(client_file).map(|p| process::absolute(&p));
        found.push(Submission { name, dir: process::absolute(&path), server, client });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The server command of a submission.
pub fn server_template(python: &str, file: &Path) -> Result<Template, String> {
    Template::parse(&format!("{} {} {{port}}", shell_quote(python), shell_quote(&file.display().to_string())))
}

/// The client command of a submission.
pub fn client_template(python: &str, file: &Path) -> Result<Template, String> {
    Template::parse(&format!(
        "{} {} {{id}} {{port}} {{host}}",
        shell_quote(python),
        shell_quote(&file.display().to_string())
    ))
}

enum Job<'a> {
    Server(usize, &'a server::Case),
    Client(usize, &'a client::Case),
    /// The file is missing: the case fails without running.
    Missing(usize, super::model::Info, String),
}

/// `minmax-conform grade`.
pub fn run_cli(args: super::cli::GradeArgs) -> Result<u8, String> {
    if args.print_rubric {
        crate::out!("{}", super::rubric::DEFAULT);
        return Ok(super::EXIT_PASSED);
    }
    let rubric = match &args.rubric {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read the rubric {}: {error}", path.display()))?;
            Rubric::parse(&text).map_err(|error| format!("{}: {error}", path.display()))?
        }
        None => Rubric::builtin(),
    };
    let Some(dir) = &args.dir else {
        return Err("no folder of submissions given: minmax-conform grade DIR".to_string());
    };
    let submissions = submissions(dir, &args.server_file, &args.client_file)?;
    if submissions.is_empty() {
        return Err(format!("{} holds no submission folder", dir.display()));
    }
    let python = if args.python.contains('/') {
        process::absolute(Path::new(&args.python)).display().to_string()
    } else {
        args.python.clone()
    };
    super::check_program(&Template::parse(&shell_quote(&python))?, None)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|error| format!("cannot create {}: {error}", args.out.display()))?;
    let timeout = Duration::from_secs_f64(args.timeout);
    let program = super::program();
    let mut server_configs = Vec::new();
    let mut client_configs = Vec::new();
    let mut jobs = Vec::new();
    for (i, submission) in submissions.iter().enumerate() {
        let server_config = match &submission.server {
            Some(file) => {
                let template = server_template(&python, file)?;
                let rerun = format!(
                    "{program} server {} {}",
                    super::quoted("--cmd", &template.text),
                    super::quoted("--cwd", &file.parent().unwrap_or(&submission.dir).display().to_string())
                );
                let cwd = file.parent().map(Path::to_path_buf);
                Some(server::Config { target: server::Target::Spawn { template, cwd }, timeout, rerun })
            }
            None => None,
        };
        let client_config = match &submission.client {
            Some(file) => {
                let template = client_template(&python, file)?;
                let rerun = format!(
                    "{program} client {} {}",
                    super::quoted("--cmd", &template.text),
                    super::quoted("--cwd", &file.parent().unwrap_or(&submission.dir).display().to_string())
                );
                let encrypt_template = if args.client_encrypt_arg.is_empty() {
                    None
                } else {
                    let words: Vec<String> =
                        args.client_encrypt_arg.iter().map(|word| shell_quote(word)).collect();
                    Some(Template::parse(&format!("{} {}", template.text, words.join(" ")))?)
                };
                let rerun = match &encrypt_template {
                    Some(encrypt) => format!("{rerun} {}", super::quoted("--encrypt-cmd", &encrypt.text)),
                    None => rerun,
                };
                Some(client::Config {
                    template,
                    encrypt_template,
                    cwd: file.parent().map(Path::to_path_buf),
                    stop_word: "stop".into(),
                    quit_word: "quit".into(),
                    timeout,
                    rerun,
                })
            }
            None => None,
        };
        for case in server::CASES.iter().filter(|case| rubric.grades(&case.info)) {
            jobs.push(match server_config {
                Some(_) => Job::Server(i, case),
                None => Job::Missing(i, case.info, format!("no {} in the submission", args.server_file)),
            });
        }
        for case in client::CASES.iter().filter(|case| rubric.grades(&case.info)) {
            jobs.push(match client_config {
                Some(_) => Job::Client(i, case),
                None => Job::Missing(i, case.info, format!("no {} in the submission", args.client_file)),
            });
        }
        server_configs.push(server_config);
        client_configs.push(client_config);
    }
    let started = Instant::now();
    let workers = args.jobs.unwrap_or_else(super::runner::default_jobs);
    let outcomes = super::runner::run_parallel(
        &jobs,
        workers,
        |job| match job {
            Job::Server(i, case) => match &server_configs[*i] {
                Some(config) => server::run_case(case, config),
                None => missing(case.info, "no server"),
            },
            Job::Client(i, case) => match &client_configs[*i] {
                Some(config) => client::run_case(case, config),
                None => missing(case.info, "no client"),
            },
            Job::Missing(_, info, why) => missing(*info, why),
        },
        |_| {},
    );
    let mut per_submission: Vec<Vec<Outcome>> = vec![Vec::new(); submissions.len()];
    for (job, outcome) in jobs.iter().zip(outcomes) {
        let i = match job {
            Job::Server(i, _) | Job::Client(i, _) | Job::Missing(i, _, _) => *i,
        };
        per_submission[i].push(outcome);
    }
    let seconds = started.elapsed().as_secs_f64();
    write_gradebook(&args.out, &submissions, &per_submission, &rubric, seconds)?;
    let mut any_failed = false;
    crate::outln!("{:<24} {:>8} {:>8} {:>6}  verdicts", "submission", "score", "of", "%");
    for (submission, outcomes) in submissions.iter().zip(&per_submission) {
        let (earned, possible) = totals(&rubric, outcomes);
        let tally = Tally::of(outcomes);
        any_failed |= tally.failed();
        crate::outln!(
            "{:<24} {:>8.2} {:>8.2} {:>6.1}  {}",
            submission.name,
            earned,
            possible,
            percent(earned, possible),
            tally.line()
        );
    }
    crate::outln!(
        "gradebook: {} ({} submissions, {:.1} s)",
        args.out.join("index.html").display(),
        submissions.len(),
        seconds
    );
    let all: Vec<Outcome> = per_submission.into_iter().flatten().collect();
    crate::outln!("{}", Tally::of(&all).line());
    Ok(if any_failed { super::EXIT_FAILED } else { super::EXIT_PASSED })
}

fn missing(info: super::model::Info, why: &str) -> Outcome {
    Outcome {
        info,
        expectation: String::new(),
        verdict: Verdict::Fail,
        detail: why.to_string(),
        evidence: Default::default(),
        duration: Duration::ZERO,
        rerun: String::new(),
    }
}

fn totals(rubric: &Rubric, outcomes: &[Outcome]) -> (f64, f64) {
    outcomes
        .iter()
        .map(|outcome| rubric.score(outcome))
        .fold((0.0, 0.0), |(e, p), s| (e + s.earned, p + s.possible))
}

fn percent(earned: f64, possible: f64) -> f64 {
    if possible > 0.0 { 100.0 * earned / possible } else { 0.0 }
}

/// A file-system-safe folder name for a submission.
fn folder(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn write_gradebook(
    out: &Path,
    submissions: &[Submission],
    per_submission: &[Vec<Outcome>],
    rubric: &Rubric,
    seconds: f64,
) -> Result<(), String> {
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
    };
    // The CSV: one row per submission, one column per case.
    let ids: Vec<&str> =
        per_submission.first().map(|o| o.iter().map(|o| o.info.id).collect()).unwrap_or_default();
    let mut csv = String::from("submission,score,max_score,percent");
    for id in &ids {
        csv.push(',');
        csv.push_str(&csv_field(id));
    }
    csv.push_str("\r\n");
    let mut index_rows = String::new();
    for (submission, outcomes) in submissions.iter().zip(per_submission) {
        let (earned, possible) = totals(rubric, outcomes);
        let _ = write!(
            csv,
            "{},{earned:.2},{possible:.2},{:.1}",
            csv_field(&submission.name),
            percent(earned, possible)
        );
        for outcome in outcomes {
            let score = rubric.score(outcome);
            if score.counted {
                let _ = write!(csv, ",{:.2}", score.earned);
            } else {
                let _ = write!(csv, ",{}", outcome.verdict.name());
            }
        }
        csv.push_str("\r\n");
        let dir = out.join(folder(&submission.name));
        std::fs::create_dir_all(&dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        let info = RunInfo {
            battery: "server + client".into(),
            target: format!("submission {}", submission.name),
            level: rubric.levels.iter().map(|l| l.name()).collect::<Vec<_>>().join("+"),
            seconds,
        };
        write(dir.join("report.html"), &report::html(outcomes, &info))?;
        write(dir.join("report.json"), &report::json_text(outcomes, &info))?;
        write(dir.join("results.json"), &gradescope(outcomes, rubric, earned, possible))?;
        let tally = Tally::of(outcomes);
        let _ = write!(
            index_rows,
            "<tr><td><a href=\"{href}/report.html\">{name}</a></td><td>{earned:.2} / {possible:.2}</td><td>{pct:.1}%</td>",
            href = html_escape(&folder(&submission.name)),
            name = html_escape(&submission.name),
            pct = percent(earned, possible),
        );
        for verdict in Verdict::ALL {
            let _ = write!(index_rows, "<td class=\"{0}\">{1}</td>", verdict.name(), tally.count(verdict));
        }
        index_rows.push_str("</tr>");
    }
    write(out.join("gradebook.csv"), &csv)?;
    let mut index = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>minmax-conform gradebook</title>\
         <style>{}</style></head><body><header><h1>minmax-conform &middot; gradebook</h1><p>{} submissions &middot; \
         {:.1} s &middot; levels {}</p></header><main><table><thead><tr><th>submission</th><th>score</th><th>%</th>",
        report::STYLE,
        submissions.len(),
        seconds,
        rubric.levels.iter().map(|l| l.name()).collect::<Vec<_>>().join(", ")
    );
    for verdict in Verdict::ALL {
        let _ = write!(index, "<th>{}</th>", verdict.name());
    }
    let _ = writeln!(
        index,
        "</tr></thead><tbody>{index_rows}</tbody></table><p><a href=\"gradebook.csv\">gradebook.csv</a></p></main></body></html>"
    );
    write(out.join("index.html"), &index)
}

/// Gradescope's results.json: a score, and a test per case with its own score.
fn gradescope(outcomes: &[Outcome], rubric: &Rubric, earned: f64, possible: f64) -> String {
    let tests: Vec<serde_json::Value> = outcomes
        .iter()
        .filter_map(|outcome| {
            let score = rubric.score(outcome);
            score.counted.then(|| {
                let mut output = format!("{}: {}", outcome.verdict.name(), outcome.info.description);
                if !outcome.detail.is_empty() {
                    output.push_str(&format!("\n{}", outcome.detail));
                }
                if outcome.verdict.is_failure() && !outcome.rerun.is_empty() {
                    output.push_str(&format!("\nre-run: {}", outcome.rerun));
                }
                json!({
                    "name": outcome.info.id,
                    "number": format!("{}/{}", outcome.info.battery(), outcome.info.section()),
                    "score": score.earned,
                    "max_score": score.possible,
                    "status": if outcome.verdict.is_failure() { "failed" } else { "passed" },
                    "output": output,
                })
            })
        })
        .collect();
    let value = json!({
        "score": earned,
        "max_score": possible,
        "output": format!("minmax-conform: {}", Tally::of(outcomes).line()),
        "tests": tests,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}
