//! Logging a lasting condition about once a second, with a count of what was left
//! out (PROTOCOL §7): out of file descriptors, a flood of refused connections or
//! requests. One line per event would bury everything else in the log, and cost the
//! service more than the events themselves.

use std::time::Duration;

/// How often a rate-limited condition may be logged.
pub const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The state of one rate-limited log line; time is the caller's (a [`Duration`]
/// since any origin), so that the rule is tested without waiting.
#[derive(Debug, Default, Clone)]
pub struct RateLimited {
    /// When the line was last written.
    last: Option<Duration>,
    /// Occurrences since then that were not written.
    suppressed: u64,
}

impl RateLimited {
    /// An occurrence at `now`. `Some(n)` when it is to be logged, `n` being how many
    /// were left out since the last line; `None` when it is counted and left out.
    pub fn hit(&mut self, now: Duration) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_sub(last) < LOG_INTERVAL => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }

    /// When occurrences were left out and the interval has passed: how many, so that
    /// a summary line says so even when the condition stopped.
    pub fn overdue(&mut self, now: Duration) -> Option<u64> {
        let last = self.last?;
        if self.suppressed == 0 || now.saturating_sub(last) < LOG_INTERVAL {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    /// How many occurrences were left out since the last line, whatever the time:
    /// for the last summary, when the program stops before the interval is over.
    pub fn take_suppressed(&mut self) -> Option<u64> {
        (self.suppressed > 0).then(|| std::mem::take(&mut self.suppressed))
    }

    /// When [`RateLimited::overdue`] will have something to say, if ever.
    pub fn deadline(&self) -> Option<Duration> {
        self.last.filter(|_| self.suppressed > 0).map(|last| last + LOG_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_with_the_count_of_the_rest() {
        let mut limit = RateLimited::default();
        let ms = Duration::from_millis;
        assert_eq!(limit.hit(ms(0)), Some(0));
        for t in 1..=900 {
            assert_eq!(limit.hit(ms(t)), None);
        }
        assert_eq!(limit.overdue(ms(999)), None);
        assert_eq!(limit.deadline(), Some(ms(1000)));
        assert_eq!(limit.hit(ms(1000)), Some(900));
        assert_eq!(limit.hit(ms(1500)), None);
        // The flood stopped: the count still comes out once the second is over.
        assert_eq!(limit.overdue(ms(2000)), Some(1));
        assert_eq!(limit.overdue(ms(4000)), None);
        assert_eq!(limit.deadline(), None);
        // Stopping within the second: the count comes out at once.
        assert_eq!(limit.hit(ms(4000)), Some(0));
        assert_eq!(limit.hit(ms(4001)), None);
        assert_eq!(limit.take_suppressed(), Some(1));
        assert_eq!(limit.take_suppressed(), None);
    }
}
