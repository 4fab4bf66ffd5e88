//! Choosing cases (`--only`, `--exclude`, `--level`) and running them in parallel, each
//! isolated in its own process and directory, results kept in case order.

use super::model::{Info, Level, Outcome};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which levels to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LevelChoice {
    /// The assignment's level (§9).
    Seed,
    /// minmax's own level only.
    Ext,
    /// Both.
    All,
}

impl LevelChoice {
    /// Whether a case of `level` runs.
    pub fn includes(self, level: Level) -> bool {
        match self {
            LevelChoice::Seed => level == Level::Seed,
            LevelChoice::Ext => level == Level::Ext,
            LevelChoice::All => true,
        }
    }
}

/// Which cases to run.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Patterns a case must match one of (all when empty).
    pub only: Vec<String>,
    /// Patterns that exclude a case.
    pub exclude: Vec<String>,
    /// The levels.
    pub level: LevelChoice,
}

impl Filter {
    /// Whether the case runs.
    pub fn selects(&self, info: &Info) -> bool {
        self.level.includes(info.level)
            && (self.only.is_empty() || self.only.iter().any(|pattern| matches(pattern, info.id)))
            && !self.exclude.iter().any(|pattern| matches(pattern, info.id))
    }
}

/// A pattern on case ids: `*` any text, `?` one character; without either, the id
/// itself or a prefix ending at a `/` (`server/4` is the whole section).
pub fn matches(pattern: &str, id: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        let pattern = pattern.trim_end_matches('/');
        return id == pattern || id.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('/'));
    }
    glob(pattern.as_bytes(), id.as_bytes())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// Runs `run` on every item with `jobs` workers; outcomes in item order. `done` sees
/// each outcome as it finishes (for progress).
pub fn run_parallel<T: Sync>(
    items: &[T],
    jobs: usize,
    run: impl Fn(&T) -> Outcome + Sync,
    done: impl Fn(&Outcome) + Sync,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; items.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { return };
                    let outcome = run(item);
                    done(&outcome);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(outcome);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).into_iter().flatten().collect()
}

/// The default number of parallel jobs: the CPU count.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_select_ids_sections_and_globs() {
        assert!(matches("server/4/start-duplicate-id", "server/4/start-duplicate-id"));
        assert!(matches("server/4", "server/4/start-duplicate-id"));
        assert!(!matches("server/4", "server/40/x"));
        assert!(matches("server/*/id-*", "server/2/id-freed-by-stop"));
        assert!(matches("*encrypted*", "client/5/encrypted-numbers"));
        assert!(!matches("client/*", "server/1/x"));
    }
}
