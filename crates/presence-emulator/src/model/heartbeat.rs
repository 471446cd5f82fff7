//! Heartbeat (`/v2/presence/sub-key/{sk}/channel/{channels}/heartbeat`) and leave
//! (`…/leave`), and [`KeysetState::presence`], the heartbeat semantics subscribe
//! shares: the presence timeout and the state a heartbeat may carry.

use super::keyset::{KeysetState, StateUpdate};
use super::params::{channel_list, groups, not_pnpres, require_targets, user};
use super::state::{is_empty_object, parse_object};
use super::Reply;
use crate::body::{self, bad_request, INVALID_JSON};
use crate::config::Permissions;
use crate::events::Action;
use crate::occupants::StateJson;
use crate::wire::{Query, Service};
use http::StatusCode;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Arc;

/// Presence timeout when `heartbeat` is absent or `0` (PROTOCOL.md §10.10).
pub(crate) const DEFAULT_TIMEOUT: u32 = 300;
/// Smallest accepted presence timeout (every SDK clamps to at least 20).
pub(crate) const MIN_TIMEOUT: u64 = 20;
/// Largest accepted presence timeout (our choice: one day).
pub(crate) const MAX_TIMEOUT: u64 = 86_400;

/// Parses `heartbeat=`: absent or 0 → default; 20..=86400 accepted; else `None`.
pub(crate) fn parse_timeout(value: Option<&str>) -> Option<u32> {
    match value {
        None => Some(DEFAULT_TIMEOUT),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Some(DEFAULT_TIMEOUT),
            Ok(t) if (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&t) => u32::try_from(t).ok(),
            _ => None,
        },
    }
}

/// A state given on a heartbeat: keyed by channel/group name, or one bare object.
#[derive(Debug)]
pub(crate) enum HeartbeatState {
    None,
    Bare(StateJson),
    Keyed(HashMap<String, StateJson>),
}

/// Parses the `state` of a heartbeat or subscribe (PROTOCOL.md §3.4, §11 finding 1).
pub(crate) fn parse_heartbeat_state(text: Option<&str>, names: &[&str]) -> Option<HeartbeatState> {
    let Some(text) = text else {
        return Some(HeartbeatState::None);
    };
    let whole = parse_object(text)?;
    if is_empty_object(&whole) {
        return Some(HeartbeatState::None);
    }
    let map: HashMap<String, Box<RawValue>> = serde_json::from_str(whole.get()).ok()?;
    let keyed = map
        .iter()
        .all(|(k, v)| names.contains(&k.as_str()) && v.get().starts_with('{'));
    if !keyed {
        return Some(HeartbeatState::Bare(whole));
    }
    let mut out = HashMap::with_capacity(map.len());
    for (k, v) in map {
        if !is_empty_object(&v) {
            out.insert(k, Arc::from(v));
        }
    }
    Some(HeartbeatState::Keyed(out))
}

/// The channels and groups a heartbeat or leave names, without `-pnpres` ones; at
/// least one is needed.
fn named(q: &Query<'_>, raw_channels: &str) -> Result<(Vec<String>, Vec<String>), Reply> {
    let svc = Service::Presence;
    let channels = not_pnpres(channel_list(svc, raw_channels)?);
    let groups = not_pnpres(groups(q));
    require_targets(svc, &channels, &groups)?;
    Ok((channels, groups))
}

impl KeysetState {
    /// Joins or extends the requesting user on the channels and groups named.
    pub(crate) fn heartbeat(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_channels: &str,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        let (channels, groups) = named(q, raw_channels)?;
        let Some(timeout) = parse_timeout(q.get("heartbeat")) else {
            return Err(bad_request(svc, "Invalid heartbeat"));
        };
        let names: Vec<&str> = channels.iter().chain(&groups).map(String::as_str).collect();
        let Some(state) = parse_heartbeat_state(q.get("state"), &names) else {
            return Err(bad_request(svc, INVALID_JSON));
        };
        self.check_access(svc, q, Permissions::READ, (&channels, &groups), false)?;
        self.advance_to(now);
        self.presence(now, user(q), timeout, &channels, &groups, &state);
        Ok(body::json(StatusCode::OK, svc, &body::OK_PRESENCE))
    }

    /// Removes the requesting user from the channels and groups named at once.
    pub(crate) fn leave(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_channels: &str,
    ) -> Result<Reply, Reply> {
        // Leave needs no permission (PAM: unsubscribe requires none).
        let (channels, groups) = named(q, raw_channels)?;
        self.advance_to(now);
        let uuid = user(q);
        for (ch, _) in self.groups.resolve(&channels, &groups).channels {
            self.remove_occupant(now, &ch, uuid, Some((Action::Leave, now)));
        }
        Ok(body::json(
            StatusCode::OK,
            Service::Presence,
            &body::LeaveOk {
                status: 200,
                action: "leave",
                message: "OK",
                service: "Presence",
            },
        ))
    }

    /// Heartbeat semantics shared by heartbeat and subscribe.
    pub(crate) fn presence(
        &mut self,
        now: u64,
        user: &str,
        timeout: u32,
        channels: &[String],
        groups: &[String],
        state: &HeartbeatState,
    ) {
        for (ch, from_group) in self.groups.resolve(channels, groups).channels {
            let update = match state {
                HeartbeatState::None => StateUpdate::Keep,
                HeartbeatState::Bare(s) => StateUpdate::Set(s.clone()),
                HeartbeatState::Keyed(map) => map
                    .get(&ch)
                    .or_else(|| from_group.and_then(|gi| map.get(&groups[gi])))
                    .map_or(StateUpdate::Keep, |s| StateUpdate::Set(s.clone())),
            };
            self.touch(now, &ch, user, timeout, update, true, false);
        }
    }
}
