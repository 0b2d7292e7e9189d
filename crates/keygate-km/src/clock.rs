//! What the key manager takes from the outside world besides requests: the time and random
//! bytes. Both are injected ([`Clock`], [`Entropy`]) so that a test can jump past an
//! expiry with a [`ManualClock`] instead of sleeping, and so that the protocol crates below
//! (`keygate-oauth`, `keygate-jose`) stay pure: they receive `now` and a random source as
//! arguments, as kanidm passes `ct: Duration`.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use keygate_jose::{CipherError, NonceSource};
use keygate_oauth::{RandomSource, RandomUnavailable};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time, as a duration since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, since the Unix epoch.
    fn now(&self) -> Duration;

    /// Now in unix milliseconds, the unit of stored times; saturates at `i64::MAX`.
    fn now_ms(&self) -> i64 {
        i64::try_from(self.now().as_millis()).unwrap_or(i64::MAX)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// A clock that moves only when told to: tests set it, then [`ManualClock::advance`] past
/// an expiry. Cheap to clone; clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock showing `start` (since the Unix epoch).
    pub fn new(start: Duration) -> Self {
        Self {
            millis: Arc::new(AtomicU64::new(saturating_millis(start))),
        }
    }

    /// A clock showing the system time now, then moving only when told.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = saturating_millis(by);
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(by))
            });
    }

    /// Sets the clock to `to` (since the Unix epoch).
    pub fn set(&self, to: Duration) {
        self.millis.store(saturating_millis(to), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.millis.load(Ordering::SeqCst))
    }
}

fn saturating_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A source of cryptographically secure random bytes, shared by every request.
pub trait Entropy: Send + Sync + fmt::Debug {
    /// Fills `dest` entirely with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomUnavailable>;
}

/// The operating system's generator, through AWS-LC.
#[derive(Debug, Default)]
pub struct SystemEntropy(SystemRandom);

impl SystemEntropy {
    /// The system generator.
    pub fn new() -> Self {
        Self(SystemRandom::new())
    }
}

impl Entropy for SystemEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomUnavailable> {
        self.0.fill(dest).map_err(|_| RandomUnavailable)
    }
}

/// An [`Entropy`] seen as the `&mut` random sources the protocol crates take: the
/// [`RandomSource`] of `keygate-oauth` and the [`NonceSource`] of `keygate-jose`.
pub(crate) struct Draw<'a>(pub(crate) &'a dyn Entropy);

impl RandomSource for Draw<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomUnavailable> {
        self.0.fill(dest)
    }
}

impl NonceSource for Draw<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CipherError> {
        self.0
            .fill(dest)
            .map_err(|_| CipherError::RandomUnavailable)
    }
}

/// `n` random bytes.
pub(crate) fn random_bytes(entropy: &dyn Entropy, n: usize) -> Result<Vec<u8>, RandomUnavailable> {
    let mut bytes = vec![0u8; n];
    entropy.fill(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
        let other = clock.clone();
        assert_eq!(clock.now(), Duration::from_secs(1_700_000_000));
        assert_eq!(clock.now_ms(), 1_700_000_000_000);
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), Duration::from_millis(1_700_000_001_500));
        clock.set(Duration::from_secs(5));
        assert_eq!(other.now_ms(), 5000);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_ms(), i64::MAX);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > Duration::from_secs(1_577_836_800));
    }

    #[test]
    fn system_entropy_fills_and_differs() {
        let entropy = SystemEntropy::new();
        let a = random_bytes(&entropy, 32).unwrap();
        let b = random_bytes(&entropy, 32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        let mut draw = Draw(&entropy);
        let mut nonce = [0u8; 12];
        NonceSource::fill(&mut draw, &mut nonce).unwrap();
        assert_ne!(nonce, [0u8; 12]);
    }
}
