//! Time as the core sees it: a reading of the caller's monotonic clock, passed in.
//!
//! The core never reads a clock. A [`Timestamp`] is a duration since an origin the
//! caller chooses once (the I/O layer takes its start; a test takes zero), so that a
//! simulated clock is plain arithmetic and no test has to wait for real time.

use std::ops::{Add, AddAssign};
use std::time::Duration;

/// A point on the caller's monotonic clock: the time elapsed since its origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The clock's origin.
    pub const ZERO: Timestamp = Timestamp(Duration::ZERO);

    /// The point `since_origin` after the origin.
    pub const fn from_duration(since_origin: Duration) -> Timestamp {
        Timestamp(since_origin)
    }

    /// The time elapsed from the origin to this point.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// The point `duration` later, or `None` past the end of representable time (a
    /// timeout of centuries means "never").
    pub fn checked_add(self, duration: Duration) -> Option<Timestamp> {
        self.0.checked_add(duration).map(Timestamp)
    }

    /// How long from `earlier` to this point; zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// # Panics
    /// Past the end of representable time; use [`Timestamp::checked_add`] for
    /// durations that come from outside.
    fn add(self, duration: Duration) -> Timestamp {
        Timestamp(self.0 + duration)
    }
}

impl AddAssign<Duration> for Timestamp {
    /// # Panics
    /// Past the end of representable time, as [`Add`] does.
    fn add_assign(&mut self, duration: Duration) {
        *self = *self + duration;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let five = Timestamp::ZERO + Duration::from_secs(5);
        assert_eq!(five.since_origin(), Duration::from_secs(5));
        assert_eq!(five.saturating_duration_since(Timestamp::ZERO), Duration::from_secs(5));
        assert_eq!(Timestamp::ZERO.saturating_duration_since(five), Duration::ZERO);
        assert_eq!(five.checked_add(Duration::MAX), None);
        assert!(Timestamp::ZERO < five);
    }
}
