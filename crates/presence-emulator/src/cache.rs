//! A response cache with a fixed time to live, on the model's clock: what the service
//! does for here now ("3 second response cache time", PROTOCOL.md §1).
//!
//! Pure: every call takes `now` (nanoseconds since the epoch, never going backwards
//! inside the model). Entries expire in the order they were stored (one time to live
//! for all), so expired ones are dropped from the front of a queue in amortised O(1),
//! and the number of entries is bounded.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Arc;

/// Most entries one cache holds; past it the oldest is dropped (a client sending
/// ever-new keys cannot grow the emulator's memory without bound).
const MAX_ENTRIES: usize = 4096;

/// Bodies stored by key for `ttl` nanoseconds; a `ttl` of 0 caches nothing.
#[derive(Debug)]
pub(crate) struct ResponseCache<K> {
    ttl: u64,
    entries: HashMap<K, (u64, Arc<[u8]>)>,
    /// `(stored_at, key)` in the order of storing; a key stored again leaves its older
    /// pair behind, recognised by a `stored_at` the map no longer has.
    order: VecDeque<(u64, K)>,
}

impl<K: Hash + Eq + Clone> ResponseCache<K> {
    pub(crate) fn new(ttl: u64) -> Self {
        ResponseCache {
            ttl,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether the cache stores anything at all.
    pub(crate) fn enabled(&self) -> bool {
        self.ttl > 0
    }

    /// The body stored for `key`, while `now < stored_at + ttl`.
    pub(crate) fn get(&mut self, now: u64, key: &K) -> Option<Arc<[u8]>> {
        self.expire(now);
        self.entries.get(key).map(|(_, body)| body.clone())
    }

    /// Stores `body` for `key` at `now`.
    pub(crate) fn put(&mut self, now: u64, key: K, body: Arc<[u8]>) {
        if !self.enabled() {
            return;
        }
        self.expire(now);
        while self.entries.len() >= MAX_ENTRIES {
            if !self.pop_front() {
                break;
            }
        }
        self.order.push_back((now, key.clone()));
        self.entries.insert(key, (now, body));
    }

    /// Number of live entries (as of the last call).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops every entry stored at or before `now - ttl`.
    fn expire(&mut self, now: u64) {
        while let Some((stored, _)) = self.order.front() {
            if now < stored.saturating_add(self.ttl) {
                break;
            }
            self.pop_front();
        }
        if self.entries.is_empty() && self.order.capacity() > 64 {
            self.order.shrink_to(16);
            self.entries.shrink_to(16);
        }
    }

    /// Drops the oldest pair (and its entry, unless the key was stored again since).
    fn pop_front(&mut self) -> bool {
        let Some((stored, key)) = self.order.pop_front() else {
            return false;
        };
        if self.entries.get(&key).is_some_and(|(t, _)| *t == stored) {
            self.entries.remove(&key);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn body(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn an_entry_lives_exactly_its_ttl() {
        let mut c = ResponseCache::new(3 * S);
        assert!(c.get(0, &"a").is_none());
        c.put(10 * S, "a", body("old"));
        assert_eq!(c.get(10 * S, &"a").as_deref(), Some(&b"old"[..]));
        assert_eq!(c.get(13 * S - 1, &"a").as_deref(), Some(&b"old"[..]));
        assert!(c.get(13 * S, &"b").is_none());
        assert!(c.get(13 * S, &"a").is_none());
        assert_eq!(c.len(), 0);
        // Stored again: the new time counts, the old queue pair is ignored.
        c.put(14 * S, "a", body("x"));
        c.put(16 * S, "a", body("y"));
        assert_eq!(c.get(17 * S, &"a").as_deref(), Some(&b"y"[..]));
        assert_eq!(c.get(19 * S - 1, &"a").as_deref(), Some(&b"y"[..]));
        assert!(c.get(19 * S, &"a").is_none());
    }

    #[test]
    fn off_stores_nothing_and_size_is_bounded() {
        let mut off = ResponseCache::new(0);
        off.put(0, 1, body("x"));
        assert!(off.get(0, &1).is_none());
        let mut c = ResponseCache::new(3 * S);
        for k in 0..(MAX_ENTRIES + 10) {
            c.put(S, k, body("x"));
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        assert!(c.get(S, &0).is_none());
        assert!(c.get(S, &(MAX_ENTRIES + 9)).is_some());
    }
}
