//! Fixed-window counting. A [`Limit`] is a policy's quota turned into numbers: at most `max`
//! requests (or bytes) per window of `window_ms`, windows aligned to the unix epoch as WSO2's
//! traffic manager aligns its `timeBatch` windows, so every node agrees on where a window
//! starts and ends. Spike arrest (burst control) divides its limit over sub-windows: 10
//! requests per minute become one request per six seconds.
//!
//! [`WindowCounters`] counts per key. A request is admitted while the window's count is
//! below the limit, then its cost (1, or its size in bytes for a bandwidth quota) is added;
//! [`WindowCounters::count`] adds without refusing, for subscriptions that do not stop on
//! quota reach but still report being over it.

use crate::error::ThrottleError;
use crate::shard::ShardedMap;
use keygate_model::{DataUnit, Quota, QuotaLimit, SpikeArrest, TimeUnit};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// Each request costs 1.
    Requests,
    /// Each request costs its message size in bytes.
    Bytes,
}

/// A countable limit: at most `max` per window of `window_ms` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limit {
    /// Requests or bytes allowed in one window.
    pub max: u64,
    /// Window length in milliseconds, at least 1.
    pub window_ms: u64,
    /// What is counted.
    pub measure: Measure,
}

/// Milliseconds in one `unit`. Months and years are fixed lengths (30 and 365 days).
pub const fn unit_millis(unit: TimeUnit) -> u64 {
    match unit {
        TimeUnit::Second => 1_000,
        TimeUnit::Minute => 60_000,
        TimeUnit::Hour => 3_600_000,
        TimeUnit::Day => 86_400_000,
        TimeUnit::Month => 30 * 86_400_000,
        TimeUnit::Year => 365 * 86_400_000,
    }
}

/// Bytes in one `unit` (binary multiples, as WSO2 counts bandwidth).
pub const fn unit_bytes(unit: DataUnit) -> u64 {
    match unit {
        DataUnit::Kb => 1 << 10,
        DataUnit::Mb => 1 << 20,
        DataUnit::Gb => 1 << 30,
    }
}

impl Limit {
    /// `max` requests per `window_ms` (a zero window counts as 1 ms).
    pub const fn requests(max: u64, window_ms: u64) -> Self {
        Self {
            max,
            window_ms: if window_ms == 0 { 1 } else { window_ms },
            measure: Measure::Requests,
        }
    }

    /// `max` bytes per `window_ms` (a zero window counts as 1 ms).
    pub const fn bytes(max: u64, window_ms: u64) -> Self {
        Self {
            max,
            window_ms: if window_ms == 0 { 1 } else { window_ms },
            measure: Measure::Bytes,
        }
    }

    /// The limit of a policy's quota; `policy` names the policy in errors.
    pub fn from_quota(policy: &str, quota: &QuotaLimit) -> Result<Self, ThrottleError> {
        let invalid = |reason| ThrottleError::InvalidLimit {
            policy: policy.to_owned(),
            reason,
        };
        let unit_time =
            u64::try_from(quota.unit_time).map_err(|_| invalid("unit time is negative"))?;
        if unit_time == 0 {
            return Err(invalid("unit time is zero"));
        }
        let window_ms = unit_time
            .checked_mul(unit_millis(quota.time_unit))
            .ok_or_else(|| invalid("window is too long"))?;
        match quota.quota {
            Quota::RequestCount { request_count } => {
                let max = u64::try_from(request_count)
                    .map_err(|_| invalid("request count is negative"))?;
                Ok(Self::requests(max, window_ms))
            }
            Quota::Bandwidth {
                data_amount,
                data_unit,
            } => {
                let amount =
                    u64::try_from(data_amount).map_err(|_| invalid("data amount is negative"))?;
                let max = amount
                    .checked_mul(unit_bytes(data_unit))
                    .ok_or_else(|| invalid("data amount is too large"))?;
                Ok(Self::bytes(max, window_ms))
            }
        }
    }

    /// The sub-window limit of a spike arrest, or `None` when its limit is not positive (WSO2
    /// then applies none). The unit (`sec` or `min`) is divided into as many sub-windows as
    /// the limit allows, at least 1 ms each: 10/min admits 1 per 6 s, 5000/sec 5 per ms.
    pub fn spike_arrest(policy: &str, spike: &SpikeArrest) -> Result<Option<Self>, ThrottleError> {
        let Ok(limit) = u64::try_from(spike.limit) else {
            return Ok(None);
        };
        if limit == 0 {
            return Ok(None);
        }
        let unit_ms = match spike.time_unit {
            TimeUnit::Second | TimeUnit::Minute => unit_millis(spike.time_unit),
            _ => {
                return Err(ThrottleError::InvalidLimit {
                    policy: policy.to_owned(),
                    reason: "spike arrest unit must be sec or min",
                });
            }
        };
        let windows = limit.min(unit_ms);
        Ok(Some(Self::requests(
            limit.div_ceil(windows),
            unit_ms / windows,
        )))
    }

    /// What one request of `message_size` bytes costs under this limit.
    pub const fn cost(&self, message_size: u64) -> u64 {
        match self.measure {
            Measure::Requests => 1,
            Measure::Bytes => message_size,
        }
    }

    /// Window length as a divisor: at least 1 ms, even for a limit read off the wire.
    fn window_len(&self) -> i64 {
        i64::try_from(self.window_ms).unwrap_or(i64::MAX).max(1)
    }

    /// Start (inclusive) of the window `now_ms` falls in.
    pub fn window_start(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(now_ms.rem_euclid(self.window_len()))
    }

    /// End (exclusive) of the window `now_ms` falls in.
    pub fn window_end(&self, now_ms: i64) -> i64 {
        self.window_start(now_ms).saturating_add(self.window_len())
    }
}

/// A key counted for an admitted request, with the limit it is counted against: what a
/// gateway reports to the traffic managers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CountedKey {
    /// The throttle key.
    pub key: Arc<str>,
    /// Its limit.
    pub limit: Limit,
}

/// A request counted in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The key, shared with the counter.
    pub key: Arc<str>,
    /// Start of the window it was counted in.
    pub window_start: i64,
    /// Whether the window was already at its limit (only [`WindowCounters::count`] admits
    /// such a request).
    pub over_quota: bool,
}

/// Outcome of [`WindowCounters::try_acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquisition {
    /// Below the limit: counted.
    Admitted(Counted),
    /// At the limit: not counted; the window ends at `retry_at_ms`.
    Refused {
        /// End of the current window, unix milliseconds.
        retry_at_ms: i64,
    },
}

#[derive(Debug)]
struct Slot {
    key: Arc<str>,
    window_start: i64,
    window_end: i64,
    used: u64,
}

impl Slot {
    fn roll(&mut self, limit: &Limit, now_ms: i64) {
        let start = limit.window_start(now_ms);
        if start != self.window_start {
            self.window_start = start;
            self.window_end = limit.window_end(now_ms);
            self.used = 0;
        }
    }
}

/// Per-key fixed-window counters, shared by every request thread.
pub struct WindowCounters {
    slots: ShardedMap<Slot>,
}

impl WindowCounters {
    /// No counters yet.
    pub fn new() -> Self {
        Self {
            slots: ShardedMap::new(),
        }
    }

    fn slot(key: Arc<str>) -> Slot {
        Slot {
            key,
            window_start: i64::MIN,
            window_end: i64::MIN,
            used: 0,
        }
    }

    /// Counts `cost` under `key` if the current window is below `limit`; otherwise refuses
    /// and counts nothing.
    pub fn try_acquire(&self, key: &str, limit: &Limit, cost: u64, now_ms: i64) -> Acquisition {
        self.slots.upsert(key, Self::slot, |slot| {
            slot.roll(limit, now_ms);
            if slot.used >= limit.max {
                return Acquisition::Refused {
                    retry_at_ms: slot.window_end,
                };
            }
            slot.used = slot.used.saturating_add(cost);
            Acquisition::Admitted(Counted {
                key: Arc::clone(&slot.key),
                window_start: slot.window_start,
                over_quota: false,
            })
        })
    }

    /// Counts `cost` under `key` whatever the count, reporting whether the window was
    /// already at `limit`.
    pub fn count(&self, key: &str, limit: &Limit, cost: u64, now_ms: i64) -> Counted {
        self.slots.upsert(key, Self::slot, |slot| {
            slot.roll(limit, now_ms);
            let over_quota = slot.used >= limit.max;
            slot.used = slot.used.saturating_add(cost);
            Counted {
                key: Arc::clone(&slot.key),
                window_start: slot.window_start,
                over_quota,
            }
        })
    }

    /// Takes back `cost` counted under `key` in the window starting at `window_start`, for a
    /// request refused at a later level. Nothing happens once that window has passed.
    pub fn release(&self, key: &str, window_start: i64, cost: u64) {
        self.slots.update(key, |slot| {
            if slot.window_start == window_start {
                slot.used = slot.used.saturating_sub(cost);
            }
        });
    }

    /// What `key` has used in the window of `now_ms` under `limit`.
    pub fn used(&self, key: &str, limit: &Limit, now_ms: i64) -> u64 {
        let start = limit.window_start(now_ms);
        self.slots
            .update(key, |slot| {
                if slot.window_start == start {
                    slot.used
                } else {
                    0
                }
            })
            .unwrap_or(0)
    }

    /// Forgets the keys whose window ended at or before `now_ms`; answers how many.
    pub fn purge_ended(&self, now_ms: i64) -> usize {
        self.slots.retain(|_, slot| slot.window_end > now_ms)
    }

    /// Number of keys counted.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for WindowCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WindowCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowCounters")
            .field("keys", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
