//! The channel-group registry of a keyset (group → channels) and the expansion of the
//! groups a request names into channels.

use crate::occupants::Name;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

/// Registered channel groups, sorted by name (as the registry lists them). A group
/// exists while it has at least one channel.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    map: BTreeMap<Name, BTreeSet<Name>>,
}

/// What a request names once groups are expanded.
pub(crate) struct Resolved {
    /// `(channel, group index it came from when not listed itself)`.
    pub(crate) channels: Vec<(String, Option<usize>)>,
}

impl Groups {
    /// How many groups are registered.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The group names, sorted.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.map.keys().map(|g| &**g).collect()
    }

    /// The channels of `group`, sorted (none when it is not registered).
    pub(crate) fn channels(&self, group: &str) -> Vec<&str> {
        self.map
            .get(group)
            .map(|s| s.iter().map(|c| &**c).collect())
            .unwrap_or_default()
    }

    /// Whether `channel` is in `group`.
    pub(crate) fn contains(&self, group: &str, channel: &str) -> bool {
        self.map.get(group).is_some_and(|set| set.contains(channel))
    }

    /// How many channels `group` would have after adding `channels`.
    pub(crate) fn size_after_add(&self, group: &str, channels: &[String]) -> usize {
        match self.map.get(group) {
            Some(set) => {
                set.len()
                    + channels
                        .iter()
                        .filter(|c| !set.contains(c.as_str()))
                        .count()
            }
            None => channels.len(),
        }
    }

    /// Adds `channels` to `group`, registering it (an empty list changes nothing).
    pub(crate) fn add(&mut self, group: &str, channels: Vec<String>) {
        if channels.is_empty() {
            return;
        }
        let set = self.map.entry(Arc::from(group)).or_default();
        for c in channels {
            set.insert(Arc::from(c));
        }
    }

    /// Removes `channels` from `group`; a group left empty is dropped.
    pub(crate) fn remove(&mut self, group: &str, channels: &[String]) {
        if let Some(set) = self.map.get_mut(group) {
            for c in channels {
                set.remove(c.as_str());
            }
            if set.is_empty() {
                self.map.remove(group);
            }
        }
    }

    /// Drops `group` and all its channels.
    pub(crate) fn delete(&mut self, group: &str) {
        self.map.remove(group);
    }

    /// Listed channels first, then the channels of each group not listed yet. Linear in
    /// the number of names (a hash set of those seen).
    pub(crate) fn resolve(&self, channels: &[String], groups: &[String]) -> Resolved {
        let mut seen: HashSet<&str> = channels.iter().map(String::as_str).collect();
        let mut out: Vec<(String, Option<usize>)> =
            channels.iter().map(|c| (c.clone(), None)).collect();
        for (gi, g) in groups.iter().enumerate() {
            if let Some(members) = self.map.get(g.as_str()) {
                for m in members {
                    if seen.insert(m) {
                        out.push((m.to_string(), Some(gi)));
                    }
                }
            }
        }
        Resolved { channels: out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_group_exists_while_it_has_channels() {
        let mut g = Groups::default();
        g.add("g", Vec::new());
        assert_eq!(g.len(), 0);
        g.add("g", names(&["b", "a", "b"]));
        g.add("f", names(&["c"]));
        assert_eq!(g.names(), ["f", "g"]);
        assert_eq!(g.channels("g"), ["a", "b"]);
        assert!(g.contains("g", "a") && !g.contains("g", "c") && !g.contains("x", "a"));
        g.remove("g", &names(&["a", "nope"]));
        assert_eq!(g.channels("g"), ["b"]);
        g.remove("g", &names(&["b"]));
        assert_eq!(g.names(), ["f"]);
        g.delete("f");
        assert_eq!(g.len(), 0);
        assert!(g.channels("f").is_empty());
    }

    #[test]
    fn resolve_lists_channels_first_then_new_group_members() {
        let mut g = Groups::default();
        g.add("g1", names(&["a", "x"]));
        g.add("g2", names(&["x", "y"]));
        let r = g.resolve(&names(&["a"]), &names(&["none", "g1", "g2"]));
        assert_eq!(
            r.channels,
            [
                ("a".to_owned(), None),
                ("x".to_owned(), Some(1)),
                ("y".to_owned(), Some(2)),
            ]
        );
    }
}
