//! What the fleet holds for one user: the public spec ([`FleetUser`]) and its interned
//! form ([`Profile`]), shared by every user with the same channels, groups, state and
//! timeout so that a fleet of 100 000 users on one channel holds one copy of it.

use crate::ops::heartbeat::MIN_PRESENCE_TIMEOUT;
use crate::ops::state_object;
use crate::request::Targets;
use crate::{Error, HeartbeatConfig, UserId};
use serde_json::Value;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// One user of a fleet: who, on which channels and groups, with which state and
/// presence timeout. Adding a user whose id the fleet already holds updates it.
///
/// ```
/// use presence_core::{FleetUser, UserId};
/// use serde_json::json;
/// let npc = FleetUser::new(UserId::new("npc-7").unwrap())
///     .channels(["arena"])
///     .state(json!({"hp": 100}))
///     .timeout(60);
/// assert_eq!(npc.user_id().as_str(), "npc-7");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FleetUser {
    user_id: UserId,
    channels: Vec<String>,
    groups: Vec<String>,
    state: Option<Value>,
    timeout: u32,
}

impl FleetUser {
    /// A user with no channels yet, no state and the default timeout (300 s).
    pub fn new(user_id: UserId) -> Self {
        Self {
            user_id,
            channels: Vec::new(),
            groups: Vec::new(),
            state: None,
            timeout: crate::ops::heartbeat::DEFAULT_PRESENCE_TIMEOUT,
        }
    }

    /// Adds channels to be present on.
    pub fn channels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, channels: I) -> Self {
        self.channels.extend(channels.into_iter().map(Into::into));
        self
    }

    /// Adds channel groups to be present on.
    pub fn channel_groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// The state (a JSON object) sent with every heartbeat, on every channel and group.
    pub fn state(mut self, state: Value) -> Self {
        self.state = Some(state);
        self
    }

    /// Presence timeout in seconds (`heartbeat=`); values below 20 become 20. The user
    /// heartbeats every `timeout / 2 - 1` seconds.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = seconds.max(MIN_PRESENCE_TIMEOUT);
        self
    }

    /// The user id.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// Validates the names and the state, and splits off the shareable part.
    pub(super) fn into_parts(self) -> Result<(UserId, Profile), Error> {
        let targets = Targets::of(&self.channels, &self.groups)?
            .required()?
            .sorted();
        let mut channels: Vec<String> = targets.channels.iter().map(|c| (*c).to_owned()).collect();
        let mut groups: Vec<String> = targets.groups.iter().map(|g| (*g).to_owned()).collect();
        channels.dedup();
        groups.dedup();
        let state_text = match &self.state {
            Some(state) => Some(Value::Object(state_object(state)?.clone()).to_string()),
            None => None,
        };
        Ok((
            self.user_id,
            Profile {
                channels,
                groups,
                state: self.state,
                state_text,
                timeout: self.timeout,
            },
        ))
    }
}

/// The shareable part of a user: channels and groups (sorted, without repeats), state
/// and timeout. Equal profiles are one allocation ([`Profiles`]).
#[derive(Debug)]
pub(super) struct Profile {
    pub(super) channels: Vec<String>,
    pub(super) groups: Vec<String>,
    pub(super) state: Option<Value>,
    /// The state as compact JSON text: what equality and hashing compare.
    state_text: Option<String>,
    pub(super) timeout: u32,
}

impl Profile {
    /// The heartbeat interval of this profile's timeout (`timeout / 2 - 1`).
    pub(super) fn interval(&self) -> Duration {
        HeartbeatConfig::new(self.timeout).interval()
    }

    /// The names of `self` that `other` does not have: what to leave when a user moves
    /// from `self` to `other`.
    pub(super) fn minus(&self, other: &Profile) -> LeaveSet {
        LeaveSet {
            channels: self
                .channels
                .iter()
                .filter(|c| other.channels.binary_search(c).is_err())
                .cloned()
                .collect(),
            groups: self
                .groups
                .iter()
                .filter(|g| other.groups.binary_search(g).is_err())
                .cloned()
                .collect(),
        }
    }

    /// Every name of this profile.
    pub(super) fn all(&self) -> LeaveSet {
        LeaveSet {
            channels: self.channels.clone(),
            groups: self.groups.clone(),
        }
    }
}

impl PartialEq for Profile {
    fn eq(&self, other: &Self) -> bool {
        self.channels == other.channels
            && self.groups == other.groups
            && self.state_text == other.state_text
            && self.timeout == other.timeout
    }
}

impl Eq for Profile {}

impl Hash for Profile {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.channels.hash(state);
        self.groups.hash(state);
        self.state_text.hash(state);
        self.timeout.hash(state);
    }
}

/// Channels and groups a user is to leave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LeaveSet {
    pub(super) channels: Vec<String>,
    pub(super) groups: Vec<String>,
}

impl LeaveSet {
    pub(super) fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty()
    }

    /// Adds `other`'s names, keeping both lists sorted and without repeats.
    pub(super) fn merge(&mut self, other: LeaveSet) {
        self.channels.extend(other.channels);
        self.groups.extend(other.groups);
        self.channels.sort_unstable();
        self.channels.dedup();
        self.groups.sort_unstable();
        self.groups.dedup();
    }

    /// Drops the names `profile` still holds (a user updated back onto them).
    pub(super) fn keep_outside(&mut self, profile: &Profile) {
        self.channels
            .retain(|c| profile.channels.binary_search(c).is_err());
        self.groups
            .retain(|g| profile.groups.binary_search(g).is_err());
    }
}

/// The interned profiles: one `Arc` per distinct profile.
#[derive(Debug, Default)]
pub(super) struct Profiles(HashSet<Shared>);

/// A profile in the set, hashed and compared by content.
#[derive(Debug)]
struct Shared(Arc<Profile>);

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}

impl Eq for Shared {}

impl Hash for Shared {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl std::borrow::Borrow<Profile> for Shared {
    fn borrow(&self) -> &Profile {
        &self.0
    }
}

impl Profiles {
    /// The shared copy of `profile`.
    pub(super) fn intern(&mut self, profile: Profile) -> Arc<Profile> {
        if let Some(existing) = self.0.get(&profile) {
            return existing.0.clone();
        }
        let shared = Arc::new(profile);
        self.0.insert(Shared(shared.clone()));
        shared
    }

    /// Gives back a user's reference; the profile is forgotten with its last user.
    pub(super) fn release(&mut self, profile: Arc<Profile>) {
        // Ours, and the set's.
        if Arc::strong_count(&profile) == 2 {
            self.0.remove(&*profile);
        }
    }

    /// Distinct profiles held.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}
