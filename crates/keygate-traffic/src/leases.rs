//! The traffic manager's side of quota leases ([`keygate_throttle::lease`]): per key and
//! window, what each gateway has reported and the cap it has been granted, and the grants
//! that keep the caps' sum within the limit.
//!
//! - A key's window starts with every gateway seen in the last [`NODE_MEMORY_MS`] holding
//!   its [`starter_cap`] (what it may admit before its first lease).
//! - A gateway's report adds to what it used; a gateway that used more than its cap (a
//!   starter overrun, or a gateway not known yet) has its cap raised to what it used, so
//!   the book stays an upper bound of what every gateway may admit.
//! - When the leader counts a report that leaves the gateway less than half of its last
//!   grant, it grants more from the pool — the limit minus every cap — in proportion to
//!   the gateway's part of the key's traffic, half of it at most: an 80/20 load gets 80/20
//!   leases, and a gateway alone on a key still leaves room for others.
//! - A follower takes the leader's grants from the broker ([`LeaseBook::mirror`]), so that
//!   when it takes over it goes on from the same caps.
//!
//! Caps never shrink within a window: a lease is not taken back, so what a gateway holds
//! unused when its traffic stops is not used by the others until the window ends.

use keygate_throttle::{QuotaLease, RequestEvent, starter_cap};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// How long a gateway is counted as present after its last report: every key's window
/// reserves its starter.
pub const NODE_MEMORY_MS: i64 = 5 * 60_000;

#[derive(Debug, Clone, Copy, Default)]
struct NodeLease {
    used: u64,
    cap: u64,
    last_grant: u64,
}

#[derive(Debug)]
struct KeyBook {
    window_end: i64,
    window_ms: u64,
    max: u64,
    nodes: BTreeMap<Arc<str>, NodeLease>,
}

impl KeyBook {
    fn new<'a>(
        max: u64,
        window_ms: u64,
        window_end: i64,
        known: impl Iterator<Item = &'a Arc<str>>,
    ) -> Self {
        let starter = starter_cap(max);
        let nodes = known
            .map(|node| {
                (
                    Arc::clone(node),
                    NodeLease {
                        used: 0,
                        cap: starter,
                        last_grant: starter,
                    },
                )
            })
            .collect();
        Self {
            window_end,
            window_ms,
            max,
            nodes,
        }
    }

    fn lease(&self, key: &str, node: &str, cap: u64) -> QuotaLease {
        QuotaLease {
            key: key.to_owned(),
            node: node.to_owned(),
            cap,
            max: self.max,
            window_ms: self.window_ms,
            expiry_ms: self.window_end,
        }
    }

    /// Grants `node` more when its lease runs low and the pool has room.
    fn grant(&mut self, key: &str, node: &str, out: &mut Vec<QuotaLease>) {
        let granted: u64 = self.nodes.values().map(|n| n.cap).sum();
        let pool = self.max.saturating_sub(granted);
        let total_used: u64 = self.nodes.values().map(|n| n.used).sum();
        let Some(lease) = self.nodes.get_mut(node) else {
            return;
        };
        let remaining = lease.cap.saturating_sub(lease.used);
        if pool == 0 || remaining.saturating_mul(2) > lease.last_grant {
            return;
        }
        // pool × (its part of the traffic) / 2, rounded up, at least 1.
        let share = u128::from(pool) * u128::from(lease.used.max(1))
            / (2 * u128::from(total_used.max(1)))
            + 1;
        let share = u64::try_from(share).unwrap_or(pool).clamp(1, pool);
        lease.cap = lease.cap.saturating_add(share);
        lease.last_grant = share;
        let cap = lease.cap;
        out.push(self.lease(key, node, cap));
    }
}

#[derive(Debug, Default)]
struct Book {
    keys: HashMap<Arc<str>, KeyBook>,
    nodes: HashMap<Arc<str>, i64>,
}

/// Reports and caps per key, window and gateway.
#[derive(Debug, Default)]
pub struct LeaseBook {
    book: Mutex<Book>,
}

impl LeaseBook {
    /// Nothing reported.
    pub fn new() -> Self {
        Self::default()
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // A poisoned lock only means a thread panicked holding it; the book is intact.
        self.book
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one request `node` admitted (with the limits the traffic manager counts its
    /// keys against); when `grant`, appends the leases it causes.
    pub fn record(
        &self,
        node: &str,
        event: &RequestEvent,
        now_ms: i64,
        grant: bool,
        out: &mut Vec<QuotaLease>,
    ) {
        let RequestEvent {
            time_ms,
            message_size,
            keys,
        } = event;
        let (time_ms, message_size) = (*time_ms, *message_size);
        let mut book = self.book();
        let node: Arc<str> = match book.nodes.get_key_value(node) {
            Some((known, _)) => Arc::clone(known),
            None => Arc::from(node),
        };
        book.nodes.insert(Arc::clone(&node), now_ms);
        let Book { keys: books, nodes } = &mut *book;
        for counted in keys {
            let limit = &counted.limit;
            let end = limit.window_end(time_ms);
            let entry = books
                .entry(Arc::clone(&counted.key))
                .or_insert_with(|| KeyBook::new(limit.max, limit.window_ms, end, nodes.keys()));
            if end < entry.window_end {
                continue;
            }
            if end > entry.window_end || entry.window_ms != limit.window_ms {
                *entry = KeyBook::new(limit.max, limit.window_ms, end, nodes.keys());
            }
            entry.max = limit.max;
            let starter = starter_cap(limit.max);
            let lease = entry.nodes.entry(Arc::clone(&node)).or_insert(NodeLease {
                used: 0,
                cap: starter,
                last_grant: starter,
            });
            lease.used = lease.used.saturating_add(limit.cost(message_size));
            lease.cap = lease.cap.max(lease.used);
            if grant {
                entry.grant(&counted.key, &node, out);
            }
        }
    }

    /// Counts `node` as present from `now_ms` (a gateway catching up when it connects):
    /// windows starting from now reserve its starter.
    pub fn register(&self, node: &str, now_ms: i64) {
        let mut book = self.book();
        match book.nodes.get_mut(node) {
            Some(seen) => *seen = now_ms,
            None => {
                book.nodes.insert(Arc::from(node), now_ms);
            }
        }
    }

    /// Takes in a lease another traffic manager granted: the cap of its gateway is at
    /// least that from now on.
    pub fn mirror(&self, lease: &QuotaLease) {
        let mut book = self.book();
        let Book { keys: books, nodes } = &mut *book;
        let key: Arc<str> = Arc::from(lease.key.as_str());
        let entry = books.entry(Arc::clone(&key)).or_insert_with(|| {
            KeyBook::new(lease.max, lease.window_ms, lease.expiry_ms, nodes.keys())
        });
        if lease.expiry_ms < entry.window_end {
            return;
        }
        if lease.expiry_ms > entry.window_end {
            *entry = KeyBook::new(lease.max, lease.window_ms, lease.expiry_ms, nodes.keys());
        }
        let node: Arc<str> = Arc::from(lease.node.as_str());
        let held = entry.nodes.entry(node).or_default();
        if lease.cap > held.cap {
            held.last_grant = lease.cap - held.cap;
            held.cap = lease.cap;
        }
    }

    /// Grants every gateway whose lease runs low (a traffic manager taking over).
    pub fn grant_all(&self, out: &mut Vec<QuotaLease>) {
        let mut book = self.book();
        for (key, entry) in &mut book.keys {
            let nodes: Vec<Arc<str>> = entry.nodes.keys().cloned().collect();
            for node in nodes {
                entry.grant(key, &node, out);
            }
        }
    }

    /// The leases `node` holds in windows not ended at `now_ms`, for a gateway catching up.
    pub fn leases_of(&self, node: &str, now_ms: i64) -> Vec<QuotaLease> {
        let book = self.book();
        let mut leases: Vec<QuotaLease> = book
            .keys
            .iter()
            .filter(|(_, entry)| entry.window_end > now_ms)
            .filter_map(|(key, entry)| {
                let held = entry.nodes.get(node)?;
                Some(entry.lease(key, node, held.cap))
            })
            .collect();
        leases.sort_by(|a, b| a.key.cmp(&b.key));
        leases
    }

    /// Every lease held in windows not ended at `now_ms`.
    pub fn all(&self, now_ms: i64) -> Vec<QuotaLease> {
        let book = self.book();
        book.keys
            .iter()
            .filter(|(_, entry)| entry.window_end > now_ms)
            .flat_map(|(key, entry)| {
                entry
                    .nodes
                    .iter()
                    .map(move |(node, held)| entry.lease(key, node, held.cap))
            })
            .collect()
    }

    /// Forgets windows ended at `now_ms` and gateways not heard from in
    /// [`NODE_MEMORY_MS`].
    pub fn purge(&self, now_ms: i64) {
        let mut book = self.book();
        book.keys.retain(|_, entry| entry.window_end > now_ms);
        book.nodes
            .retain(|_, seen| now_ms.saturating_sub(*seen) < NODE_MEMORY_MS);
    }

    /// What the caps of `key` add up to in its current window (tests, diagnostics).
    pub fn granted(&self, key: &str) -> u64 {
        self.book()
            .keys
            .get(key)
            .map_or(0, |entry| entry.nodes.values().map(|n| n.cap).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_throttle::{CountedKey, Limit};

    const T0: i64 = 1_704_067_200_000;

    fn keys(max: u64, time_ms: i64) -> RequestEvent {
        RequestEvent {
            time_ms,
            message_size: 0,
            keys: vec![CountedKey {
                key: "k".into(),
                limit: Limit::requests(max, 60_000),
            }],
        }
    }

    /// Two gateways admitting 80/20 under their leases, each lease taking effect only
    /// after `lag` more requests: admitted requests never pass the limit and reach it.
    #[test]
    fn gateways_under_leases_admit_the_limit_and_no_more() {
        for (max, lag) in [(50, 0), (50, 3), (1_000, 10), (7, 2)] {
            let book = LeaseBook::new();
            // Both gateways caught up when they connected.
            book.register("a", T0);
            book.register("b", T0);
            let mut caps = [starter_cap(max); 2];
            let mut used = [0_u64, 0];
            let mut pending: Vec<(u64, QuotaLease)> = Vec::new();
            for i in 0..(4 * max) {
                let gateway = usize::from(i % 5 == 4);
                // Leases arrive `lag` attempted requests after they were granted.
                pending.retain(|(due, lease)| {
                    if *due > i {
                        return true;
                    }
                    let index = usize::from(lease.node == "b");
                    caps[index] = caps[index].max(lease.cap);
                    false
                });
                if used[gateway] >= caps[gateway].min(max) {
                    continue;
                }
                used[gateway] += 1;
                let mut out = Vec::new();
                let name = if gateway == 0 { "a" } else { "b" };
                book.record(name, &keys(max, T0), T0, true, &mut out);
                pending.extend(out.into_iter().map(|l| (i + lag, l)));
                assert!(book.granted("k") <= max, "granted past the limit");
            }
            let admitted = used[0] + used[1];
            assert!(admitted <= max, "max {max} lag {lag}: admitted {admitted}");
            assert!(
                admitted * 100 >= max * 98 || max - admitted <= 1,
                "max {max} lag {lag}: admitted {admitted}"
            );
        }
    }

    #[test]
    fn a_follower_mirrors_grants_and_a_new_window_starts_from_starters() {
        let leader = LeaseBook::new();
        let follower = LeaseBook::new();
        let mut out = Vec::new();
        for node in ["a", "b"] {
            leader.record(node, &keys(100, T0), T0, true, &mut out);
            follower.record(node, &keys(100, T0), T0, false, &mut Vec::new());
        }
        assert!(!out.is_empty());
        for lease in &out {
            follower.mirror(lease);
        }
        assert_eq!(follower.granted("k"), leader.granted("k"));
        assert_eq!(leader.leases_of("a", T0).len(), 1);
        // Next window: both known gateways hold their starter.
        let next = T0 + 60_000;
        leader.record("a", &keys(100, next), next, false, &mut out);
        assert_eq!(leader.granted("k"), 1 + 1);
        leader.purge(T0 + 60_000 + NODE_MEMORY_MS + 60_000);
        assert_eq!(leader.granted("k"), 0);
    }
}
