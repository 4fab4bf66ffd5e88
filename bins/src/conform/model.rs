//! What a case is and what running one yields: levels (PROTOCOL §9), verdicts,
//! findings and the evidence kept for each case.

use std::fmt;
use std::time::Duration;

/// A conformance level of PROTOCOL §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// What the assignment asks of every implementation; other reasonable readings
    /// are non-strict.
    Seed,
    /// minmax's own level: everything marked (ext), and bytes exactly as json.dumps.
    Ext,
}

impl Level {
    /// The level's name as the command line and the reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Seed => "seed",
            Level::Ext => "ext",
        }
    }
}

/// What a case concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Exactly as PROTOCOL says.
    Pass,
    /// A reading §9 allows at the seed level, not PROTOCOL's own.
    NonStrict,
    /// Not what PROTOCOL says.
    Fail,
    /// Nothing came within the time allowed.
    Timeout,
    /// The program under test died.
    Crash,
    /// The case does not apply (no encryption offered, no report to read, ...).
    Unsupported,
}

impl Verdict {
    /// Every verdict, in the order reports list them.
    pub const ALL: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::NonStrict,
        Verdict::Timeout,
        Verdict::Crash,
        Verdict::Unsupported,
    ];

    /// The verdict's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NonStrict => "non-strict",
            Verdict::Fail => "fail",
            Verdict::Timeout => "timeout",
            Verdict::Crash => "crash",
            Verdict::Unsupported => "unsupported",
        }
    }

    /// Whether this verdict makes the run fail (exit code 1).
    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::Timeout | Verdict::Crash)
    }

    /// Parses a verdict's name.
    pub fn from_name(name: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|verdict| verdict.name() == name)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a case stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Something other than what was expected.
    Fail {
        /// What PROTOCOL requires, literally.
        expected: String,
        /// What came instead.
        actual: String,
    },
    /// Waiting for something took longer than allowed.
    Timeout(String),
    /// The connection ended or could not be made: a crash if the program died.
    Closed(String),
    /// The case does not apply to this implementation.
    Unsupported(String),
}

impl Finding {
    /// A failure with its expected and actual values.
    pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Finding {
        Finding::Fail { expected: expected.into(), actual: actual.into() }
    }
}

/// What running a case returns before the runner decides the verdict.
pub type Step = Result<(), Finding>;

/// Identity and documentation of a case, common to both batteries.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    /// The stable id: `server/4/start-duplicate-id`; the middle is PROTOCOL's section.
    pub id: &'static str,
    /// The level.
    pub level: Level,
    /// One line saying what is checked.
    pub description: &'static str,
}

impl Info {
    /// The PROTOCOL section the case checks, from its id.
    pub fn section(&self) -> &'static str {
        self.id.split('/').nth(1).unwrap_or("")
    }

    /// The battery (`server` or `client`), from its id.
    pub fn battery(&self) -> &'static str {
        self.id.split('/').next().unwrap_or("")
    }
}

/// The evidence kept for one case.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The wire both ways, time-stamped, raw and decoded.
    pub transcript: String,
    /// The report before the case, when there is one to read.
    pub report_before: Option<String>,
    /// The report after the case.
    pub report_after: Option<String>,
    /// What the program under test wrote (standard output, then standard error).
    pub output: String,
    /// How the program under test ended.
    pub exit: String,
    /// The readings judged non-strict, one per line.
    pub notes: Vec<String>,
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The case.
    pub info: Info,
    /// What it expects, literally.
    pub expectation: String,
    /// The verdict.
    pub verdict: Verdict,
    /// One line: Expected ... Actual ..., or the reason.
    pub detail: String,
    /// What was seen.
    pub evidence: Evidence,
    /// How long it took.
    pub duration: Duration,
    /// The one command that re-runs exactly this case against this implementation.
    pub rerun: String,
}

/// Counts of each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Per verdict, in [`Verdict::ALL`] order.
    pub counts: [usize; 6],
}

impl Tally {
    /// Counts the verdicts of `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Tally {
        let mut tally = Tally::default();
        for outcome in outcomes {
            tally.add(outcome.verdict);
        }
        tally
    }

    /// Counts one more verdict.
    pub fn add(&mut self, verdict: Verdict) {
        if let Some(i) = Verdict::ALL.iter().position(|v| *v == verdict) {
            self.counts[i] += 1;
        }
    }

    /// How many got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        Verdict::ALL.iter().position(|v| *v == verdict).map_or(0, |i| self.counts[i])
    }

    /// Whether any verdict is a failure.
    pub fn failed(&self) -> bool {
        Verdict::ALL.iter().any(|v| v.is_failure() && self.count(*v) > 0)
    }

    /// The summary line: `N passed, M failed`, then the other verdicts.
    pub fn line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.count(Verdict::Pass), self.count(Verdict::Fail));
        for (verdict, word) in [
            (Verdict::NonStrict, "non-strict"),
            (Verdict::Timeout, "timed out"),
            (Verdict::Crash, "crashed"),
            (Verdict::Unsupported, "unsupported"),
        ] {
            line.push_str(&format!(", {} {word}", self.count(verdict)));
        }
        line
    }
}
