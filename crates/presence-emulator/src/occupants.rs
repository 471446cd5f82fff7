//! Compact collections for the presence model.
//!
//! Most channels hold a handful of occupants and most users sit in a handful of
//! channels, so both collections start as a small vector and switch to a tree / hash
//! set only when they grow. That keeps the per-occupant footprint small (a one-entry
//! `BTreeMap` allocates a whole ~0.5 KiB node) without giving up `O(log n)` updates on
//! big channels.

use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A shared name (channel, user id, group).
pub(crate) type Name = Arc<str>;

/// A user's state object: validated, minified JSON object text.
pub(crate) type StateJson = Arc<RawValue>;

/// One user's presence in one channel.
#[derive(Debug, Clone)]
pub(crate) struct Occupant {
    /// Last heartbeat (or join), nanoseconds since the UNIX epoch.
    pub(crate) last: u64,
    /// Presence timeout in seconds.
    pub(crate) timeout: u32,
    /// State, if any.
    pub(crate) state: Option<StateJson>,
}

impl Occupant {
    /// The instant the occupant is gone: present while `now < deadline`.
    pub(crate) fn deadline(&self) -> u64 {
        self.last
            .saturating_add(u64::from(self.timeout).saturating_mul(1_000_000_000))
    }
}

const SMALL_MAX: usize = 32;

/// Occupants of one channel, always iterated in user-id order (stable pages).
#[derive(Debug)]
pub(crate) enum OccupantMap {
    Small(Vec<(Name, Occupant)>),
    Large(BTreeMap<Name, Occupant>),
}

impl OccupantMap {
    pub(crate) fn new() -> Self {
        OccupantMap::Small(Vec::with_capacity(1))
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            OccupantMap::Small(v) => v.len(),
            OccupantMap::Large(m) => m.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, user: &str) -> Option<&Occupant> {
        match self {
            OccupantMap::Small(v) => v
                .binary_search_by(|(n, _)| (**n).cmp(user))
                .ok()
                .map(|i| &v[i].1),
            OccupantMap::Large(m) => m.get(user),
        }
    }

    pub(crate) fn get_mut(&mut self, user: &str) -> Option<&mut Occupant> {
        match self {
            OccupantMap::Small(v) => match v.binary_search_by(|(n, _)| (**n).cmp(user)) {
                Ok(i) => Some(&mut v[i].1),
                Err(_) => None,
            },
            OccupantMap::Large(m) => m.get_mut(user),
        }
    }

    /// Inserts a user that is not present yet.
    pub(crate) fn insert(&mut self, user: Name, occ: Occupant) {
        match self {
            OccupantMap::Small(v) => match v.binary_search_by(|(n, _)| (**n).cmp(&*user)) {
                Ok(i) => v[i].1 = occ,
                Err(i) => {
                    if v.len() >= SMALL_MAX {
                        let mut m: BTreeMap<Name, Occupant> = v.drain(..).collect();
                        m.insert(user, occ);
                        *self = OccupantMap::Large(m);
                    } else {
                        if v.len() == v.capacity() {
                            // Grow one at a time while small: most channels stay tiny.
                            v.reserve_exact(1);
                        }
                        v.insert(i, (user, occ));
                    }
                }
            },
            OccupantMap::Large(m) => {
                m.insert(user, occ);
            }
        }
    }

    pub(crate) fn remove(&mut self, user: &str) -> Option<Occupant> {
        match self {
            OccupantMap::Small(v) => {
                let i = v.binary_search_by(|(n, _)| (**n).cmp(user)).ok()?;
                let occ = v.remove(i).1;
                if v.capacity() > 2 * v.len() + 4 {
                    v.shrink_to_fit();
                }
                Some(occ)
            }
            OccupantMap::Large(m) => {
                let occ = m.remove(user)?;
                if m.len() < SMALL_MAX / 2 {
                    let v: Vec<(Name, Occupant)> = std::mem::take(m).into_iter().collect();
                    *self = OccupantMap::Small(v);
                }
                Some(occ)
            }
        }
    }

    /// Iterates in user-id order.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = (&Name, &Occupant)> + '_> {
        match self {
            OccupantMap::Small(v) => Box::new(v.iter().map(|(n, o)| (n, o))),
            OccupantMap::Large(m) => Box::new(m.iter()),
        }
    }
}

/// The channels one user is present in (unordered).
#[derive(Debug)]
pub(crate) enum ChannelSet {
    Small(Vec<Name>),
    Large(HashSet<Name>),
}

impl ChannelSet {
    pub(crate) fn new() -> Self {
        ChannelSet::Small(Vec::with_capacity(1))
    }

    pub(crate) fn insert(&mut self, channel: Name) {
        match self {
            ChannelSet::Small(v) => {
                if v.contains(&channel) {
                    return;
                }
                if v.len() >= SMALL_MAX {
                    let mut s: HashSet<Name> = v.drain(..).collect();
                    s.insert(channel);
                    *self = ChannelSet::Large(s);
                } else {
                    if v.len() == v.capacity() {
                        v.reserve_exact(1);
                    }
                    v.push(channel);
                }
            }
            ChannelSet::Large(s) => {
                s.insert(channel);
            }
        }
    }

    pub(crate) fn remove(&mut self, channel: &str) {
        match self {
            ChannelSet::Small(v) => {
                if let Some(i) = v.iter().position(|c| &**c == channel) {
                    v.swap_remove(i);
                }
            }
            ChannelSet::Large(s) => {
                s.remove(channel);
                if s.len() < SMALL_MAX / 2 {
                    *self = ChannelSet::Small(s.drain().collect());
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            ChannelSet::Small(v) => v.is_empty(),
            ChannelSet::Large(s) => s.is_empty(),
        }
    }

    /// The channels, sorted.
    pub(crate) fn sorted(&self) -> Vec<&str> {
        let mut out: Vec<&str> = match self {
            ChannelSet::Small(v) => v.iter().map(|c| &**c).collect(),
            ChannelSet::Large(s) => s.iter().map(|c| &**c).collect(),
        };
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(last: u64) -> Occupant {
        Occupant {
            last,
            timeout: 20,
            state: None,
        }
    }

    #[test]
    fn occupant_map_switches_and_stays_sorted() {
        let mut m = OccupantMap::new();
        for i in (0..100).rev() {
            m.insert(Arc::from(format!("u{i:03}")), occ(i));
        }
        assert!(matches!(m, OccupantMap::Large(_)));
        assert_eq!(m.len(), 100);
        let names: Vec<String> = m.iter().map(|(n, _)| n.to_string()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for i in 0..95 {
            assert!(m.remove(&format!("u{i:03}")).is_some());
        }
        assert!(matches!(m, OccupantMap::Small(_)));
        assert_eq!(m.get("u097").map(|o| o.last), Some(97));
        assert!(m.get("u001").is_none());
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn channel_set() {
        let mut s = ChannelSet::new();
        for i in 0..50 {
            s.insert(Arc::from(format!("c{i:02}")));
            s.insert(Arc::from(format!("c{i:02}")));
        }
        assert_eq!(s.sorted().len(), 50);
        for i in 0..50 {
            s.remove(&format!("c{i:02}"));
        }
        assert!(s.is_empty());
    }

    #[test]
    fn deadline() {
        assert_eq!(occ(5).deadline(), 20_000_000_005);
    }
}
