//! The one source of "now": the system clock in production, a manual clock in tests, so that
//! expiry (tokens, TTL items, lockouts) is tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;

#[derive(Clone, Debug)]
pub struct Clock(Arc<Source>);

#[derive(Debug)]
enum Source {
    System,
    /// Milliseconds since the epoch.
    Manual(AtomicI64),
}

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(Source::System))
    }

    /// A clock that stands still at `start` until advanced.
    pub fn manual(start: Timestamp) -> Self {
        Self(Arc::new(Source::Manual(AtomicI64::new(
            start.as_millisecond(),
        ))))
    }

    pub fn now(&self) -> Timestamp {
        match &*self.0 {
            Source::System => Timestamp::now(),
            Source::Manual(millis) => Timestamp::from_millisecond(millis.load(Ordering::SeqCst))
                .unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    /// Seconds since the epoch: the unit of TTL attributes.
    pub fn epoch_seconds(&self) -> i64 {
        self.now().as_second()
    }

    /// Moves a manual clock forward; the system clock ignores it.
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(millis) = &*self.0 {
            let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            millis.fetch_add(by, Ordering::SeqCst);
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.epoch_seconds(), 1_700_000_090);
    }

    #[test]
    fn system_clock_is_now() {
        let before = Timestamp::now();
        let now = Clock::system().now();
        assert!(now >= before);
    }
}
