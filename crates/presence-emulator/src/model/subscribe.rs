//! Subscribe (`/v2/subscribe/{sk}/{channels}/0`): a heartbeat for the channels and
//! groups subscribed, and a long-poll for the presence events of the `-pnpres` ones.

use super::groups::Groups;
use super::heartbeat::{parse_heartbeat_state, parse_timeout};
use super::keyset::shrink_if_sparse;
use super::keyset::KeysetState;
use super::params::{channel_list, groups, not_pnpres, require_targets, user};
use super::{Dispatch, Reply};
use crate::body::{self, bad_request, INVALID_JSON};
use crate::config::Permissions;
use crate::events::{Envelope, Message, Payload, Timetoken};
use crate::wire::{Query, Service};
use http::StatusCode;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// A subscribe long-poll waiting for presence events.
///
/// Returned by [`Model::dispatch`](crate::Model::dispatch); the caller re-checks it with
/// [`Model::poll_wait`](crate::Model::poll_wait) whenever the model may have changed
/// (and at [`deadline`](Wait::deadline)), and answers it early with
/// [`Model::finish_wait`](crate::Model::finish_wait).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub(crate) id: u64,
    pub(crate) sub_key: String,
    tt: u64,
    /// channel → subscription name, for each `<channel>-pnpres` subscribed.
    channels: BTreeMap<String, String>,
    /// Group names (without `-pnpres`) for each `<group>-pnpres` subscribed.
    groups: Vec<String>,
    pub(crate) deadline: u64,
}

impl Wait {
    /// When the long-poll ends with an empty `m` if nothing arrives (on the model's
    /// clock: the request time plus the subscribe timeout).
    pub fn deadline(&self) -> Duration {
        Duration::from_nanos(self.deadline)
    }

    /// This wait's id, unique within its model: what
    /// [`Model::take_ready`](crate::Model::take_ready) reports.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// The registered waits of a keyset, indexed by what they wait for, so that an event
/// wakes only the long-polls it concerns (a join on one channel must not make ten
/// thousand idle long-polls re-check).
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    by_channel: HashMap<String, HashSet<u64>>,
    by_group: HashMap<String, HashSet<u64>>,
    /// Waits with a new event since the model last collected them.
    pub(crate) ready: Vec<u64>,
}

impl Watchers {
    fn add(&mut self, wait: &Wait) {
        for c in wait.channels.keys() {
            self.by_channel
                .entry(c.clone())
                .or_default()
                .insert(wait.id);
        }
        for g in &wait.groups {
            self.by_group.entry(g.clone()).or_default().insert(wait.id);
        }
    }

    pub(crate) fn remove(&mut self, wait: &Wait) {
        let forget = |map: &mut HashMap<String, HashSet<u64>>, name: &str| {
            if let Some(set) = map.get_mut(name) {
                set.remove(&wait.id);
                if set.is_empty() {
                    map.remove(name);
                    shrink_if_sparse(map);
                }
            }
        };
        for c in wait.channels.keys() {
            forget(&mut self.by_channel, c);
        }
        for g in &wait.groups {
            forget(&mut self.by_group, g);
        }
    }

    /// Marks ready every wait on `channel`, directly or through a group holding it.
    pub(crate) fn on_event(&mut self, channel: &str, groups: &Groups) {
        if let Some(ids) = self.by_channel.get(channel) {
            self.ready.extend(ids);
        }
        for (g, ids) in &self.by_group {
            if groups.contains(g, channel) {
                self.ready.extend(ids);
            }
        }
    }

    /// How many waits are registered (a wait on several names counts once per name).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.by_channel
            .values()
            .chain(self.by_group.values())
            .map(HashSet::len)
            .sum()
    }
}

impl KeysetState {
    /// The handshake (no `tt`: answers the cursor at once), or a long-poll from the
    /// `tt` cursor: answered now when events are waiting, else a [`Dispatch::Wait`].
    pub(crate) fn subscribe(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_channels: &str,
        wait_id: impl FnOnce() -> u64,
    ) -> Result<Dispatch, Reply> {
        let svc = Service::Subscribe;
        let channels = channel_list(svc, raw_channels)?;
        let groups = groups(q);
        require_targets(svc, &channels, &groups)?;
        let cursor = match q.get("tt") {
            None | Some("" | "0") => None,
            Some(v) => match v.parse::<u64>() {
                Ok(t) => Some(t),
                Err(_) => return Err(bad_request(svc, "Invalid timetoken")),
            },
        };
        let Some(timeout) = parse_timeout(q.get("heartbeat")) else {
            return Err(bad_request(svc, "Invalid heartbeat"));
        };
        let join_channels = not_pnpres(channels.clone());
        let join_groups = not_pnpres(groups.clone());
        let names: Vec<&str> = join_channels
            .iter()
            .chain(&join_groups)
            .map(String::as_str)
            .collect();
        let Some(state) = parse_heartbeat_state(q.get("state"), &names) else {
            return Err(bad_request(svc, INVALID_JSON));
        };
        self.check_access(svc, q, Permissions::READ, (&channels, &groups), false)?;
        self.advance_to(now);
        // The handshake cursor comes first, so the subscriber sees its own join.
        let handshake = cursor.is_none().then(|| self.next_tt(now));
        self.presence(now, user(q), timeout, &join_channels, &join_groups, &state);
        let tt = match (handshake, cursor) {
            (Some(t), _) => {
                let env = Envelope {
                    t: Timetoken::new(t),
                    m: Vec::new(),
                };
                return Ok(Dispatch::Response(body::json(StatusCode::OK, svc, &env)));
            }
            (None, Some(t)) => t,
            (None, None) => 0,
        };
        let wait = Wait {
            id: wait_id(),
            sub_key: self.keyset.subscribe_key.clone(),
            tt,
            channels: channels
                .iter()
                .filter_map(|c| c.strip_suffix("-pnpres").map(|b| (b.to_owned(), c.clone())))
                .collect(),
            groups: groups
                .iter()
                .filter_map(|g| g.strip_suffix("-pnpres").map(str::to_owned))
                .collect(),
            deadline: now.saturating_add(self.tuning.subscribe_timeout),
        };
        Ok(match self.deliver(&wait, false) {
            Some(resp) => Dispatch::Response(resp),
            None => {
                self.watchers.add(&wait);
                Dispatch::Wait(wait)
            }
        })
    }

    /// The subscribe response for `wait`: its events after the cursor, or (with
    /// `force`) an empty `m` when there are none.
    pub(crate) fn deliver(&self, wait: &Wait, force: bool) -> Option<Reply> {
        let max = self.tuning.max_messages;
        let mut messages = Vec::new();
        let mut last = wait.tt;
        for e in self.events.after(wait.tt) {
            let b = if let Some(b) = wait.channels.get(&*e.channel) {
                b.clone()
            } else if let Some(g) = wait
                .groups
                .iter()
                .find(|g| self.groups.contains(g, &e.channel))
            {
                format!("{g}-pnpres")
            } else {
                continue;
            };
            messages.push(Message {
                a: "2",
                f: 0,
                p: Timetoken::new(e.tt),
                k: &self.keyset.subscribe_key,
                c: format!("{}-pnpres", e.channel),
                d: Payload(e),
                b,
            });
            last = e.tt;
            if messages.len() >= max {
                break;
            }
        }
        if messages.is_empty() && !force {
            return None;
        }
        let t = if messages.len() >= max {
            last
        } else {
            wait.tt.max(self.last_tt)
        };
        let env = Envelope {
            t: Timetoken::new(t),
            m: messages,
        };
        Some(body::json(StatusCode::OK, Service::Subscribe, &env))
    }
}
