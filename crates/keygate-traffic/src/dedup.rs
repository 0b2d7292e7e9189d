//! The ids of recently applied events, so that an event sent twice (a batch resent after
//! its acknowledgement was lost) is applied once. Bounded: the oldest ids are forgotten
//! first, long after any resend of theirs could arrive.

use std::collections::{HashSet, VecDeque};

/// Default number of ids remembered.
pub const DEFAULT_REMEMBERED: usize = 262_144;

/// Longest event id accepted; longer ids are treated as malformed.
pub const MAX_EVENT_ID_BYTES: usize = 256;

/// A bounded set of event ids, oldest forgotten first.
#[derive(Debug)]
pub struct RecentIds {
    ids: HashSet<Box<str>>,
    order: VecDeque<Box<str>>,
    capacity: usize,
}

impl RecentIds {
    /// Remembers up to `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            ids: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Whether `id` was remembered.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Remembers `id`; answers whether it is new.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.ids.insert(id.into());
        self.order.push_back(id.into());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_ids_once_and_forgets_the_oldest_first() {
        let mut ids = RecentIds::new(2);
        assert!(ids.insert("a"));
        assert!(!ids.insert("a"));
        assert!(ids.insert("b"));
        assert!(ids.insert("c"));
        assert!(!ids.contains("a"));
        assert!(ids.contains("b") && ids.contains("c"));
    }
}
