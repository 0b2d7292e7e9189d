//! The reconnect schedule shared by the broker transports: exponential from an initial
//! delay, capped, with "equal jitter" (half the delay fixed, half drawn from the injected
//! randomness) so that many nodes losing one broker do not reconnect in lock-step.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Default first delay after a lost connection.
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_millis(100);
/// Default longest delay between two attempts.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);

/// How long to wait before reconnect attempt `n` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectBackoff {
    /// The delay before the first retry, before jitter.
    pub initial: Duration,
    /// No delay exceeds this.
    pub max: Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        Self {
            initial: DEFAULT_INITIAL_DELAY,
            max: DEFAULT_MAX_DELAY,
        }
    }
}

impl ReconnectBackoff {
    /// The capped exponential delay for `attempt`, before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay for `attempt` with `jitter` in `[0, 1)`: between half the ceiling and the
    /// ceiling. Values outside `[0, 1)` are clamped.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        half + (ceiling - half).mul_f64(jitter)
    }
}

/// A source of jitter in `[0, 1)`, seeded per process by std's randomly keyed hasher.
#[derive(Debug, Default)]
pub struct Jitter {
    keys: RandomState,
    counter: AtomicU64,
}

impl Jitter {
    /// The next value in `[0, 1)`.
    pub fn next(&self) -> f64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let bits = self.keys.hash_one(n) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_and_stops_at_the_cap() {
        let b = ReconnectBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        let ceilings: Vec<u128> = (0..7).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn jitter_keeps_the_delay_between_half_and_the_ceiling() {
        let b = ReconnectBackoff::default();
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(400));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(600));
        assert_eq!(b.delay(3, 7.0), Duration::from_millis(800));
        assert_eq!(b.delay(3, f64::NAN), Duration::from_millis(400));
    }

    #[test]
    fn jitter_source_stays_in_range_and_varies() {
        let j = Jitter::default();
        let values: Vec<f64> = (0..64).map(|_| j.next()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(values.windows(2).any(|w| w[0] != w[1]));
    }
}
