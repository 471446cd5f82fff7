//! The state of one keyset and the two occupancy primitives every presence change goes
//! through: [`KeysetState::touch`] (join, extend, update the state) and
//! [`KeysetState::remove_occupant`] (leave, timeout).

use super::groups::Groups;
use super::here_now::HereNowKey;
use super::state::empty_state;
use crate::cache::ResponseCache;
use crate::config::{Keyset, ModelConfig};
use crate::events::{Action, EventLog, IntervalAcc};
use crate::occupants::{ChannelSet, Name, Occupant, OccupantMap, StateJson};
use crate::rate_limit::RateLimiter;
use serde_json::value::RawValue;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// A channel with at least one occupant (empty channels are dropped).
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) name: Name,
    pub(crate) occupants: OccupantMap,
}

/// One keyset: channels → occupants, each user's channels, channel groups, the
/// timers and the presence events.
#[derive(Debug)]
pub(crate) struct KeysetState {
    pub(crate) keyset: Keyset,
    pub(crate) channels: HashMap<Name, Channel>,
    pub(crate) users: HashMap<Name, ChannelSet>,
    pub(crate) groups: Groups,
    /// `(deadline, channel, user)` of every occupant: the next expiry is the first.
    pub(crate) expiry: BTreeSet<(u64, Name, Name)>,
    /// Presence events for subscribers.
    pub(crate) events: EventLog,
    /// Channels in interval mode and their pending deltas.
    pub(crate) intervals: HashMap<Name, IntervalAcc>,
    /// `(due, channel)` of every channel in interval mode.
    pub(crate) interval_timers: BTreeSet<(u64, Name)>,
    /// Latest timetoken handed out (100 ns units).
    pub(crate) last_tt: u64,
    pub(crate) tuning: Tuning,
    /// The long-polls waiting on this keyset.
    pub(crate) watchers: super::Watchers,
    /// Here-now bodies, when the cache is on.
    pub(crate) here_now_cache: ResponseCache<HereNowKey>,
    /// Requests in the current second, when rate limiting is on.
    pub(crate) rate: RateLimiter,
}

/// Per-keyset copies of the event settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    pub(crate) announce_max: usize,
    pub(crate) interval: u64,
    pub(crate) subscribe_timeout: u64,
    pub(crate) max_messages: usize,
    pub(crate) max_group_channels: usize,
    pub(crate) max_channels_per_add: usize,
}

/// What a presence update does to an occupant's state.
#[derive(Debug, Clone)]
pub(crate) enum StateUpdate {
    Keep,
    Set(StateJson),
    Clear,
}

/// Gives a hash map's memory back once it is mostly empty (hash maps never shrink by
/// themselves): at a quarter full it is rebuilt at half full, so a table grown for
/// 100 000 users does not stay that size after they left. Amortised O(1) per removal.
pub(crate) fn shrink_if_sparse<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 64 && map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

impl KeysetState {
    pub(crate) fn new(keyset: Keyset, config: &ModelConfig) -> Self {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        KeysetState {
            keyset,
            channels: HashMap::new(),
            users: HashMap::new(),
            groups: Groups::default(),
            expiry: BTreeSet::new(),
            events: EventLog::new(config.event_log_capacity, config.event_log_bytes),
            intervals: HashMap::new(),
            interval_timers: BTreeSet::new(),
            last_tt: 0,
            watchers: super::Watchers::default(),
            here_now_cache: ResponseCache::new(nanos(config.here_now_cache)),
            rate: RateLimiter::new(config.rate_limit),
            tuning: Tuning {
                announce_max: config.announce_max,
                interval: nanos(config.interval).max(1),
                subscribe_timeout: nanos(config.subscribe_timeout),
                max_messages: config.max_messages_per_response.max(1),
                max_group_channels: config.max_group_channels,
                max_channels_per_add: config.max_channels_per_add,
            },
        }
    }

    /// Occupants of `channel` now (0 when it has none).
    pub(crate) fn occupancy(&self, channel: &str) -> usize {
        self.channels.get(channel).map_or(0, |c| c.occupants.len())
    }

    fn user_name(&self, user: &str) -> Name {
        match self.users.get_key_value(user) {
            Some((k, _)) => k.clone(),
            None => Arc::from(user),
        }
    }

    /// Heartbeat-like presence: joins or extends, optionally updating the state.
    /// `extend` false keeps an existing occupant's timer (set state on a present user);
    /// `explicit` announces a state-change even when the state did not change.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn touch(
        &mut self,
        now: u64,
        ch: &str,
        user: &str,
        timeout: u32,
        update: StateUpdate,
        extend: bool,
        explicit: bool,
    ) {
        if !self.channels.contains_key(ch) {
            let name: Name = Arc::from(ch);
            self.channels.insert(
                name.clone(),
                Channel {
                    name,
                    occupants: OccupantMap::new(),
                },
            );
        }
        let uname = self.user_name(user);
        let Some(channel) = self.channels.get_mut(ch) else {
            return;
        };
        let chname = channel.name.clone();
        let announce: Option<(Action, Option<StateJson>)>;
        if let Some(occ) = channel.occupants.get_mut(user) {
            if extend {
                let old = occ.deadline();
                occ.last = now;
                occ.timeout = timeout;
                let new = occ.deadline();
                if old != new {
                    self.expiry.remove(&(old, chname.clone(), uname.clone()));
                    self.expiry.insert((new, chname.clone(), uname.clone()));
                }
            }
            let changed = match update {
                StateUpdate::Keep => false,
                StateUpdate::Set(s) => {
                    let changed = occ.state.as_deref().map(RawValue::get) != Some(s.get());
                    occ.state = Some(s);
                    changed || explicit
                }
                StateUpdate::Clear => occ.state.take().is_some() || explicit,
            };
            announce = changed.then(|| {
                (
                    Action::StateChange,
                    Some(occ.state.clone().unwrap_or_else(empty_state)),
                )
            });
        } else {
            let state = match update {
                StateUpdate::Set(s) => Some(s),
                StateUpdate::Keep | StateUpdate::Clear => None,
            };
            let occ = Occupant {
                last: now,
                timeout,
                state: state.clone(),
            };
            self.expiry
                .insert((occ.deadline(), chname.clone(), uname.clone()));
            channel.occupants.insert(uname.clone(), occ);
            self.users
                .entry(uname.clone())
                .or_insert_with(ChannelSet::new)
                .insert(chname.clone());
            announce = Some((Action::Join, state));
        }
        let occupancy = channel.occupants.len();
        if let Some((action, data)) = announce {
            self.announce((now, now), &chname, action, &uname, occupancy, data);
        }
    }

    /// Removes `user` from `ch` and announces `reason` (action, event time).
    /// Returns the occupancy left.
    pub(crate) fn remove_occupant(
        &mut self,
        now: u64,
        ch: &str,
        user: &str,
        reason: Option<(Action, u64)>,
    ) -> Option<usize> {
        let channel = self.channels.get_mut(ch)?;
        let occ = channel.occupants.remove(user)?;
        let left = channel.occupants.len();
        let chname = channel.name.clone();
        if channel.occupants.is_empty() {
            self.channels.remove(ch);
            shrink_if_sparse(&mut self.channels);
        }
        let uname = self.user_name(user);
        self.expiry
            .remove(&(occ.deadline(), chname.clone(), uname.clone()));
        if let Some(set) = self.users.get_mut(user) {
            set.remove(ch);
            if set.is_empty() {
                self.users.remove(user);
                shrink_if_sparse(&mut self.users);
            }
        }
        if let Some((action, at)) = reason {
            self.announce((now, at), &chname, action, &uname, left, None);
        }
        Some(left)
    }
}
