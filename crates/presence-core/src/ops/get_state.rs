//! Get state: a user's state on channels and channel groups.
//!
//! `GET /v2/presence/sub-key/{sub_key}/channel/{channels}/uuid/{uuid}[?channel-group=…]`.
//! [REST reference](https://www.pubnub.com/docs/sdks/rest-api/presence/get-state),
//! PROTOCOL.md §4.6.
//!
//! Body shapes (all parse into a map channel → state):
//! - one channel: `payload` *is* the state and the body names `channel` (recorded);
//! - several channels or groups: `payload.channels.{channel: state}` (recorded);
//! - `payload` itself as the channel map (JS and Kotlin mocks). Following PROTOCOL.md
//!   §10.1: if `payload` is an object whose only key is `channels` holding an object, that
//!   object is the map; otherwise `payload` is the map.
//!
//! ```
//! use presence_core::{GetState, Operation};
//! let body = br#"{"status": 200, "message": "OK", "payload": {"channels": {"a": {"n": 1}}}, "uuid": "me", "service": "Presence"}"#;
//! let result = GetState::new().channels(["a", "b"]).parse_response(&http::Response::new(&body[..])).unwrap();
//! assert_eq!(result.channels["a"], serde_json::json!({"n": 1}));
//! assert_eq!(result.channels["a"].get(), r#"{"n": 1}"#);
//! ```

use crate::config::validate_user_id;
use crate::request::{
    channel_setters, operation_common, sealed, CallOptions, Operation, RequestParts, Target,
    Targets,
};
use crate::response::{decode, envelope, BodyError, ErrorFlag};
use crate::Error;
use crate::RawJson;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// The get state operation. `C` is the client it is bound to (`()` for none, see
/// [`Execute`](crate::Execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct GetState<C = ()> {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    user_id: Option<String>,
    options: CallOptions,
    client: C,
}

impl<C> GetState<C> {
    fn defaults(client: C) -> Self {
        Self {
            channels: Vec::new(),
            channel_groups: Vec::new(),
            user_id: None,
            options: CallOptions::default(),
            client,
        }
    }

    /// Reads another user's state instead of the configured user's.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }
}

operation_common!(GetState);
channel_setters!(
    GetState,
    "Channels to read the state from.",
    "Channel groups to read the state from."
);

/// The get state result. `Display`: `state of ann: lobby {"mood":"ok"}, game {}` (or
/// `no state`).
///
/// JSON (feature `serde`): `{"user_id": "ann", "channels": {"lobby": {"mood": "ok"}}}`
/// (`user_id` is `null` when the body names no user).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct GetStateResult {
    /// The user the state belongs to (`uuid` from the body when present).
    pub user_id: Option<String>,
    /// Channel → state, as the service sent it (see [`RawJson`]).
    pub channels: BTreeMap<String, RawJson<'static>>,
}

impl<C: Send + Sync> Operation for GetState<C> {
    type Output = GetStateResult;
    const NAME: &'static str = "get_state";

    fn channel_count(&self) -> usize {
        self.target_count()
    }
}

impl<C: Send + Sync> sealed::Encode for GetState<C> {
    type Parsed = GetStateResult;

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let Targets { channels, groups } = self.targets()?.required()?;
        let user = self.user_id.as_deref().unwrap_or(target.user_id);
        validate_user_id("user_id", user)?;
        out.presence_prefix(target);
        out.path_literal("/channel/");
        out.path_list(&channels);
        out.path_literal("/uuid/");
        out.path_value(user);
        out.query_list("channel-group", &groups);
        Ok(())
    }

    fn parse_body(&self, body: &[u8]) -> Result<GetStateResult, BodyError> {
        let raw: Raw = decode("get state body", body)?;
        let malformed =
            |detail: String| BodyError::from(Error::malformed("get state body", detail, body));
        let one = crate::ops::single_channel(&self.channels, &self.channel_groups);
        // The payload's own keys, when it is an object (its values stay raw).
        let keys: Option<BTreeMap<String, Box<RawValue>>> = match &raw.payload {
            Some(p) if p.get().starts_with('{') => Some(
                serde_json::from_str(p.get()).map_err(|e| malformed(format!("`payload`: {e}")))?,
            ),
            _ => None,
        };
        let wrapper = keys.as_ref().is_some_and(is_channels_wrapper);
        let single = match (&raw.channel, one) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(one)) if !wrapper => Some(one.to_owned()),
            _ => None,
        };
        let mut channels = BTreeMap::new();
        match (single, raw.payload) {
            (_, None) => {}
            (_, Some(p)) if p.get() == "null" => {}
            (Some(name), Some(state)) => {
                channels.insert(name, RawJson::checked_owned(state.get().to_owned()));
            }
            (None, Some(other)) => {
                let Some(mut map) = keys else {
                    return Err(malformed(format!(
                        "`payload` must be an object, got {}",
                        raw_kind(other.get())
                    )));
                };
                if wrapper {
                    let inner = map.remove("channels").map(|v| v.get().to_owned());
                    map = serde_json::from_str(inner.as_deref().unwrap_or("{}"))
                        .map_err(|e| malformed(format!("`payload.channels`: {e}")))?;
                }
                channels.extend(
                    map.into_iter()
                        .map(|(k, v)| (k, RawJson::checked_owned(v.get().to_owned()))),
                );
            }
        }
        Ok(GetStateResult {
            user_id: raw.uuid,
            channels,
        })
    }
}

impl std::fmt::Display for GetStateResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("state")?;
        if let Some(user) = &self.user_id {
            write!(f, " of {user}")?;
        }
        if self.channels.is_empty() {
            return f.write_str(": none");
        }
        for (i, (channel, state)) in self.channels.iter().enumerate() {
            write!(f, "{}{channel} {state}", if i == 0 { ": " } else { ", " })?;
        }
        Ok(())
    }
}

/// A `payload` of the recorded several-channel shape: its only key is `channels`,
/// holding an object (PROTOCOL.md §10.1).
fn is_channels_wrapper(map: &BTreeMap<String, Box<RawValue>>) -> bool {
    map.len() == 1
        && map
            .get("channels")
            .is_some_and(|v| v.get().starts_with('{'))
}

/// What kind of JSON value `text` (checked JSON) is.
fn raw_kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        _ => "a number",
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    error: ErrorFlag,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}
envelope!(Raw);
