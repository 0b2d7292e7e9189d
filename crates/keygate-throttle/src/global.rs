//! The traffic manager's side: counting the request events of every gateway per key and
//! window, and deciding. A gateway reports each admitted request as a [`RequestEvent`]: the
//! keys it counted, each with its [`Limit`], the request's time and size. A
//! [`GlobalCounter`] adds them up and, when a key reaches its limit within a window, emits
//! a [`ThrottleDecision`] that throttles the key until the window ends; the first event of a
//! later window releases it. Time comes only from the events, so two counters fed the same
//! events emit the same decisions.

use crate::decision::ThrottleDecision;
use crate::shard::ShardedMap;
use crate::window::{CountedKey, Limit};
use serde::{Deserialize, Serialize};

/// One admitted request, as a gateway reports it on `keygate.throttle.request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvent {
    /// When the request was admitted, unix milliseconds.
    pub time_ms: i64,
    /// Request size in bytes, for bandwidth limits.
    pub message_size: u64,
    /// The keys counted for the request, with their limits.
    pub keys: Vec<CountedKey>,
}

#[derive(Debug)]
struct GlobalSlot {
    window_start: i64,
    window_end: i64,
    used: u64,
    throttled: bool,
}

/// Request counts over all gateways, per key and window.
pub struct GlobalCounter {
    slots: ShardedMap<GlobalSlot>,
}

impl GlobalCounter {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self {
            slots: ShardedMap::new(),
        }
    }

    /// Counts `event`, appending to `decisions` a release for each of its keys that was
    /// throttled in an earlier window, and a throttle for each key that reaches its limit
    /// (one per key and window). Events of a window that has already been left behind are
    /// not counted.
    pub fn ingest(&self, event: &RequestEvent, decisions: &mut Vec<ThrottleDecision>) {
        for counted in &event.keys {
            let limit = &counted.limit;
            let start = limit.window_start(event.time_ms);
            let end = limit.window_end(event.time_ms);
            let cost = limit.cost(event.message_size);
            let fresh = |_| GlobalSlot {
                window_start: start,
                window_end: end,
                used: 0,
                throttled: false,
            };
            self.slots.upsert(&counted.key, fresh, |slot| {
                if start < slot.window_start {
                    return;
                }
                if start > slot.window_start {
                    if slot.throttled {
                        decisions.push(ThrottleDecision {
                            key: counted.key.to_string(),
                            throttled: false,
                            expiry_ms: start,
                        });
                    }
                    *slot = GlobalSlot {
                        window_start: start,
                        window_end: end,
                        used: 0,
                        throttled: false,
                    };
                }
                slot.used = slot.used.saturating_add(cost);
                if !slot.throttled && slot.used >= limit.max {
                    slot.throttled = true;
                    decisions.push(ThrottleDecision {
                        key: counted.key.to_string(),
                        throttled: true,
                        expiry_ms: slot.window_end,
                    });
                }
            });
        }
    }

    /// Forgets every key whose window ended at or before `now_ms`, appending a release for
    /// each that was throttled; answers how many keys were forgotten. Releases are sorted by
    /// key, so that counters with the same state emit them in the same order.
    pub fn release_ended(&self, now_ms: i64, decisions: &mut Vec<ThrottleDecision>) -> usize {
        let mut released = Vec::new();
        let removed = self.slots.retain(|key, slot| {
            if slot.window_end > now_ms {
                return true;
            }
            if slot.throttled {
                released.push(ThrottleDecision {
                    key: key.to_string(),
                    throttled: false,
                    expiry_ms: slot.window_end,
                });
            }
            false
        });
        released.sort_by(|a, b| a.key.cmp(&b.key));
        decisions.extend(released);
        removed
    }

    /// Applies a changed `limit` to `key` at `now_ms`, for a policy edited while the key is
    /// counted. With the same window length the count stands and is compared again: a
    /// throttle when the new limit is reached, a release when a throttled key is now below
    /// it. With another window length (or once the window has ended) the key starts afresh
    /// in the window of `now_ms`, released if it was throttled. Unknown keys are left alone.
    pub fn relimit(
        &self,
        key: &str,
        limit: &Limit,
        now_ms: i64,
        decisions: &mut Vec<ThrottleDecision>,
    ) {
        let start = limit.window_start(now_ms);
        let end = limit.window_end(now_ms);
        self.slots.update(key, |slot| {
            let same_length = slot.window_end.saturating_sub(slot.window_start) == end - start;
            if !same_length || slot.window_end <= now_ms {
                if slot.throttled {
                    decisions.push(ThrottleDecision {
                        key: key.to_owned(),
                        throttled: false,
                        expiry_ms: slot.window_end,
                    });
                }
                *slot = GlobalSlot {
                    window_start: start,
                    window_end: end,
                    used: 0,
                    throttled: false,
                };
                return;
            }
            let over = slot.used >= limit.max;
            if over != slot.throttled {
                slot.throttled = over;
                decisions.push(ThrottleDecision {
                    key: key.to_owned(),
                    throttled: over,
                    expiry_ms: slot.window_end,
                });
            }
        });
    }

    /// What `key` has used in its current window, if it is counted.
    pub fn used(&self, key: &str) -> Option<u64> {
        self.slots.update(key, |slot| slot.used)
    }

    /// The keys throttled now, with their expiry, sorted by key: what a gateway that has just
    /// connected needs to catch up.
    pub fn throttled(&self, now_ms: i64) -> Vec<ThrottleDecision> {
        let mut decisions = Vec::new();
        self.slots.for_each(|key, slot| {
            if slot.throttled && slot.window_end > now_ms {
                decisions.push(ThrottleDecision {
                    key: key.to_string(),
                    throttled: true,
                    expiry_ms: slot.window_end,
                });
            }
        });
        decisions.sort_by(|a, b| a.key.cmp(&b.key));
        decisions
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

impl Default for GlobalCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for GlobalCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalCounter")
            .field("keys", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
