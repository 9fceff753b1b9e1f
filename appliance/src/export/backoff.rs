//! When a network sink may try to connect again: exponential backoff from 100 ms, doubling per
//! failed connect up to 5 s, back to the start once connected. Shared by the sinks that
//! reconnect (JSON over TCP, Redis); time is passed in, so tests need no clock.

use std::time::{Duration, Instant};

/// First reconnect delay after a failed connect; doubles per failure up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// When the next connect may be tried.
#[derive(Debug)]
pub struct Backoff {
    delay: Duration,
    next: Instant,
}

impl Backoff {
    /// A first connect may happen at `now`.
    pub fn new(now: Instant) -> Self {
        Backoff {
            delay: BACKOFF_MIN,
            next: now,
        }
    }

    /// Whether a connect may be tried at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// How long from `now` until a connect may be tried (for logs).
    pub fn retry_in(&self, now: Instant) -> Duration {
        self.next.saturating_duration_since(now)
    }

    /// A connect failed at `now`: wait the current delay, double it for the next failure.
    pub fn failed(&mut self, now: Instant) {
        self.next = now + self.delay;
        self.delay = (self.delay * 2).min(BACKOFF_MAX);
    }

    /// Connected, or a working connection was lost: the next connect may happen at once.
    pub fn reset(&mut self, now: Instant) {
        self.delay = BACKOFF_MIN;
        self.next = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let t0 = Instant::now();
        let mut b = Backoff::new(t0);
        assert!(b.due(t0));
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            b.failed(now);
            assert!(!b.due(now));
            waits.push((b.next - now).as_millis());
            now = b.next;
            assert!(b.due(now));
        }
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset(now);
        assert!(b.due(now));
        b.failed(now);
        assert_eq!(b.next - now, BACKOFF_MIN);
    }
}
