//! A map from string keys to small values, split into shards each behind its own mutex, so
//! that threads counting different keys rarely meet and threads counting one key hold the
//! lock only for an addition. Keys are stored once as `Arc<str>`; a lookup by `&str` does
//! not allocate, and the stored key can be handed out without copying the text.

use foldhash::fast::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Number of shards; a power of two.
const SHARDS: usize = 32;

type Shard<V> = HashMap<Arc<str>, V, RandomState>;

/// A sharded `Arc<str>` → `V` map.
pub(crate) struct ShardedMap<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    hasher: RandomState,
}

impl<V> ShardedMap<V> {
    /// An empty map.
    pub(crate) fn new() -> Self {
        let hasher = RandomState::default();
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(HashMap::with_hasher(hasher.clone())))
            .collect();
        Self { shards, hasher }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard<V>> {
        let index = (self.hasher.hash_one(key) as usize) & (SHARDS - 1);
        // The closures run under these locks never panic; a poisoned shard is still sound.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `update` on the value under `key`, inserting `make(key)` first when absent.
    pub(crate) fn upsert<R>(
        &self,
        key: &str,
        make: impl FnOnce(Arc<str>) -> V,
        update: impl FnOnce(&mut V) -> R,
    ) -> R {
        let mut shard = self.shard(key);
        if let Some(value) = shard.get_mut(key) {
            return update(value);
        }
        let stored: Arc<str> = Arc::from(key);
        let value = shard
            .entry(Arc::clone(&stored))
            .or_insert_with(|| make(stored));
        update(value)
    }

    /// Runs `update` on the value under `key` when present.
    pub(crate) fn update<R>(&self, key: &str, update: impl FnOnce(&mut V) -> R) -> Option<R> {
        self.shard(key).get_mut(key).map(update)
    }

    /// Removes the entry under `key` when `remove` says so; answers whether it was removed.
    pub(crate) fn remove_if(&self, key: &str, remove: impl FnOnce(&V) -> bool) -> bool {
        let mut shard = self.shard(key);
        match shard.get(key) {
            Some(value) if remove(value) => shard.remove(key).is_some(),
            _ => false,
        }
    }

    /// Keeps only the entries for which `keep` answers true; answers how many were removed.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&Arc<str>, &mut V) -> bool) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let before = shard.len();
            shard.retain(|key, value| keep(key, value));
            removed += before - shard.len();
        }
        removed
    }

    /// Visits every entry, shard by shard.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&Arc<str>, &mut V)) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, value) in shard.iter_mut() {
                visit(key, value);
            }
        }
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

impl<V> Default for ShardedMap<V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_inserts_once_and_updates_in_place() {
        let map: ShardedMap<(Arc<str>, u32)> = ShardedMap::new();
        let mut made = 0;
        for _ in 0..3 {
            map.upsert(
                "a:b",
                |key| {
                    made += 1;
                    (key, 0)
                },
                |(_, n)| *n += 1,
            );
        }
        assert_eq!(made, 1);
        assert_eq!(
            map.update("a:b", |(key, n)| (key.to_string(), *n)),
            Some(("a:b".into(), 3))
        );
        assert_eq!(map.update("missing", |(_, n)| *n), None);
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn remove_if_and_retain_remove_only_what_they_are_told() {
        let map: ShardedMap<u32> = ShardedMap::new();
        for (i, key) in ["k1", "k2", "k3", "k4"].iter().enumerate() {
            map.upsert(key, |_| i as u32, |_| ());
        }
        assert!(!map.remove_if("k1", |v| *v == 9));
        assert!(map.remove_if("k1", |v| *v == 0));
        assert!(!map.remove_if("k1", |_| true));
        assert_eq!(map.retain(|_, v| *v % 2 == 1), 1);
        let mut left = Vec::new();
        map.for_each(|k, _| left.push(k.to_string()));
        left.sort();
        assert_eq!(left, ["k2", "k4"]);
    }
}
