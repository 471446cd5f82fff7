//! Per-user state: set (`/v2/presence/sub-key/{sk}/channel/{channels}/uuid/{uuid}/data`)
//! and get (`…/uuid/{uuid}`), and how a state object given by a client is accepted
//! (a JSON object at most [`MAX_STATE_DEPTH`] deep, stored minified).

use super::heartbeat::DEFAULT_TIMEOUT;
use super::keyset::{KeysetState, StateUpdate};
use super::params::{channel_list, groups, not_pnpres, require_targets, segment};
use super::Reply;
use crate::body::{self, bad_request, INVALID_JSON};
use crate::config::Permissions;
use crate::occupants::StateJson;
use crate::wire::{minify_json, Query, Service};
use http::StatusCode;
use serde_json::value::RawValue;
use std::sync::Arc;

/// Deepest nesting accepted in a state object. The real service's limit is unknown; JSON
/// parsers with a recursion limit (serde_json: 128) could not read deeper state back, so a
/// stored deep state would make here now with `state=1` unreadable for every client.
pub(crate) const MAX_STATE_DEPTH: usize = 32;

/// Nesting depth of a JSON text (objects and arrays), ignoring brackets inside strings.
///
/// The emulator's own scan, apart from the client's reader on purpose: the emulator
/// shares nothing with `presence-core` but the signing functions, so that a bug in the
/// client's JSON handling cannot hide the same bug in the server it is tested against.
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a JSON object given as text (at most [`MAX_STATE_DEPTH`] deep); returns the
/// minified object.
pub(crate) fn parse_object(text: &str) -> Option<StateJson> {
    if json_depth(text) > MAX_STATE_DEPTH {
        return None;
    }
    let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
    if !raw.get().starts_with('{') {
        return None;
    }
    let min = RawValue::from_string(minify_json(raw.get())).ok()?;
    Some(Arc::from(min))
}

/// A fresh `{}` state (the `data` of a state-change that cleared the state).
pub(crate) fn empty_state() -> StateJson {
    Arc::from(body::empty_object().to_owned())
}

pub(crate) fn is_empty_object(s: &RawValue) -> bool {
    s.get() == "{}"
}

impl KeysetState {
    /// Sets (or, with `{}`, clears) the state of `raw_uuid` on the channels and groups
    /// named; a user not present joins.
    pub(crate) fn set_state(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_channels: &str,
        raw_uuid: &str,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        let target = segment(svc, raw_uuid)?;
        let channels = not_pnpres(channel_list(svc, raw_channels)?);
        let groups = not_pnpres(groups(q));
        if target.is_empty() {
            return Err(bad_request(svc, "Missing UUID"));
        }
        require_targets(svc, &channels, &groups)?;
        let Some(state) = q.get("state").and_then(parse_object) else {
            return Err(bad_request(svc, INVALID_JSON));
        };
        self.check_access(svc, q, Permissions::READ, (&channels, &groups), false)?;
        self.advance_to(now);
        let update = if is_empty_object(&state) {
            StateUpdate::Clear
        } else {
            StateUpdate::Set(state.clone())
        };
        for (ch, _) in self.groups.resolve(&channels, &groups).channels {
            self.touch(
                now,
                &ch,
                &target,
                DEFAULT_TIMEOUT,
                update.clone(),
                false,
                true,
            );
        }
        Ok(body::json(
            StatusCode::OK,
            svc,
            &body::SetState {
                status: 200,
                message: "OK",
                payload: &state,
                service: "Presence",
            },
        ))
    }

    /// The state of `raw_uuid` on the channels and groups named (`{}` where it has
    /// none).
    pub(crate) fn get_state(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_channels: &str,
        raw_uuid: &str,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        let uuid = segment(svc, raw_uuid)?;
        let (channels, groups) = (channel_list(svc, raw_channels)?, groups(q));
        require_targets(svc, &channels, &groups)?;
        self.check_access(svc, q, Permissions::READ, (&channels, &groups), false)?;
        self.advance_to(now);
        let uuid = uuid.as_str();
        let state_of = |ch: &str| self.state_of(ch, uuid);
        if channels.len() == 1 && groups.is_empty() {
            return Ok(body::json(
                StatusCode::OK,
                svc,
                &body::GetStateSingle {
                    status: 200,
                    message: "OK",
                    payload: state_of(&channels[0]),
                    uuid,
                    channel: &channels[0],
                    service: "Presence",
                },
            ));
        }
        let resolved = self.groups.resolve(&channels, &groups);
        let pairs = resolved
            .channels
            .iter()
            .map(|(c, _)| (c.as_str(), state_of(c)))
            .collect();
        Ok(body::json(
            StatusCode::OK,
            svc,
            &body::GetStateMulti {
                status: 200,
                message: "OK",
                payload: body::GetStateChannels {
                    channels: body::Pairs(pairs),
                },
                service: "Presence",
                uuid,
            },
        ))
    }

    fn state_of(&self, ch: &str, uuid: &str) -> &RawValue {
        self.channels
            .get(ch)
            .and_then(|c| c.occupants.get(uuid))
            .and_then(|o| o.state.as_deref())
            .unwrap_or_else(|| body::empty_object())
    }
}
