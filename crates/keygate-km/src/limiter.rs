//! A brake on password guessing at the login page: after a number of failed sign-ins for
//! one username from one address within a window (by default 5 in 5 minutes), further
//! attempts are refused without checking the password until the window ends, and the
//! page says when to try again. A success clears the count.
//!
//! The count lives in this key-manager node's memory, bounded in size: behind a load
//! balancer each node brakes on its own, so the allowance multiplies by the number of
//! nodes — a brake, not an account lockout (the user store's `accountLocked` claim is
//! that). The address is the TCP peer's; behind a proxy that is the proxy's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Most (username, address) pairs remembered at once.
pub const MAX_TRACKED: usize = 10_000;

/// Failed sign-ins counted per username and address.
#[derive(Debug)]
pub struct LoginAttempts {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Duration,
}

/// The key failures are counted under: the username as typed, lowercased, and the
/// address (or `-` when unknown).
pub fn attempt_key(username: &str, address: Option<IpAddr>) -> String {
    let address = address.map_or_else(|| "-".to_owned(), |a| a.to_string());
    format!("{}\u{0}{address}", username.to_lowercase())
}

impl LoginAttempts {
    /// At most `max_failures` failures per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Failures>) -> T) -> T {
        let mut guard = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// How long `key` must wait before trying again, when it is braked at `now`.
    pub fn retry_after(&self, key: &str, now: Duration) -> Option<Duration> {
        self.with(|map| {
            let entry = map.get(key)?;
            let ends = entry.since.saturating_add(self.window);
            (entry.count >= self.max_failures && now < ends).then(|| ends.saturating_sub(now))
        })
    }

    /// Counts a failure of `key` at `now`.
    pub fn record_failure(&self, key: &str, now: Duration) {
        let window = self.window;
        self.with(|map| {
            if map.len() >= MAX_TRACKED && !map.contains_key(key) {
                map.retain(|_, f| now < f.since.saturating_add(window));
                if map.len() >= MAX_TRACKED
                    && let Some(oldest) = map
                        .iter()
                        .min_by_key(|(_, f)| f.since)
                        .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
            let entry = map.entry(key.to_owned()).or_insert(Failures {
                count: 0,
                since: now,
            });
            if now >= entry.since.saturating_add(window) {
                *entry = Failures {
                    count: 0,
                    since: now,
                };
            }
            entry.count = entry.count.saturating_add(1);
        });
    }

    /// Forgets `key`'s failures (after a successful sign-in).
    pub fn clear(&self, key: &str) {
        self.with(|map| map.remove(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const T0: Duration = Duration::from_secs(1_700_000_000);
    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn five_failures_brake_until_the_window_ends() {
        let attempts = LoginAttempts::new(5, 5 * MIN);
        let key = attempt_key("Alice", Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(
            key,
            attempt_key("alice", Some(IpAddr::V4(Ipv4Addr::LOCALHOST)))
        );
        for i in 0..4 {
            attempts.record_failure(&key, T0 + Duration::from_secs(i));
            assert_eq!(
                attempts.retry_after(&key, T0 + Duration::from_secs(i)),
                None
            );
        }
        attempts.record_failure(&key, T0 + Duration::from_secs(10));
        assert_eq!(attempts.retry_after(&key, T0 + MIN), Some(4 * MIN));
        // Another address, or another user, is not braked.
        assert_eq!(attempts.retry_after(&attempt_key("alice", None), T0), None);
        assert_eq!(
            attempts.retry_after(
                &attempt_key("bob", Some(IpAddr::V4(Ipv4Addr::LOCALHOST))),
                T0
            ),
            None
        );
        assert_eq!(attempts.retry_after(&key, T0 + 5 * MIN), None);
        // The window starts again with the next failure.
        attempts.record_failure(&key, T0 + 6 * MIN);
        assert_eq!(attempts.retry_after(&key, T0 + 6 * MIN), None);
    }

    #[test]
    fn success_clears_and_memory_stays_bounded() {
        let attempts = LoginAttempts::new(1, 5 * MIN);
        attempts.record_failure("k", T0);
        assert!(attempts.retry_after("k", T0).is_some());
        attempts.clear("k");
        assert_eq!(attempts.retry_after("k", T0), None);
        for i in 0..(MAX_TRACKED + 10) {
            attempts.record_failure(&format!("user{i}"), T0 + Duration::from_millis(i as u64));
        }
        assert!(attempts.with(|map| map.len()) <= MAX_TRACKED);
        assert!(
            attempts
                .retry_after(&format!("user{}", MAX_TRACKED + 9), T0 + MIN)
                .is_some(),
            "the newest are kept"
        );
    }
}
