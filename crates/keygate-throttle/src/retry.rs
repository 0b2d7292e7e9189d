//! The `Retry-After` header of a throttled response (RFC 9110 §10.2.3): whole seconds,
//! rounded up so a client never retries before the window ends, and at least 1.

/// Seconds to announce for a wait of `retry_after_ms` milliseconds: rounded up, at least 1.
pub fn retry_after_secs(retry_after_ms: u64) -> u64 {
    retry_after_ms.div_ceil(1_000).max(1)
}

/// Seconds to announce at `now_ms` for a throttle that ends at `until_ms`.
pub fn retry_after_secs_until(until_ms: i64, now_ms: i64) -> u64 {
    let wait = until_ms.saturating_sub(now_ms);
    retry_after_secs(u64::try_from(wait).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_never_drop_below_one() {
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(999), 1);
        assert_eq!(retry_after_secs(1_000), 1);
        assert_eq!(retry_after_secs(1_001), 2);
        assert_eq!(retry_after_secs(59_999), 60);
        assert_eq!(retry_after_secs(u64::MAX), u64::MAX.div_ceil(1_000));
    }

    #[test]
    fn until_counts_from_now() {
        assert_eq!(retry_after_secs_until(10_500, 10_000), 1);
        assert_eq!(retry_after_secs_until(72_000, 10_000), 62);
        assert_eq!(retry_after_secs_until(5_000, 10_000), 1, "already past");
        assert_eq!(retry_after_secs_until(i64::MIN, i64::MAX), 1);
    }
}
