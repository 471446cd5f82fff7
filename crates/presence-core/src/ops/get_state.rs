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
//! ```

use crate::config::validate_user_id;
use crate::request::{
    channel_setters, operation_common, sealed, CallOptions, Operation, RequestParts, Target,
    Targets,
};
use crate::response::{decode, envelope, BodyError, ErrorFlag};
use crate::Error;
use serde::Deserialize;
use serde_json::{Map, Value};
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

/// The get state result.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct GetStateResult {
    /// The user the state belongs to (`uuid` from the body when present).
    pub user_id: Option<String>,
    /// Channel → state.
    pub channels: BTreeMap<String, Value>,
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
        let one = crate::ops::single_channel(&self.channels, &self.channel_groups);
        let single = match (&raw.channel, one) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(one)) if !is_channels_wrapper(raw.payload.as_ref()) => Some(one.to_owned()),
            _ => None,
        };
        let mut channels = BTreeMap::new();
        match (single, raw.payload) {
            (Some(name), Some(state)) => {
                channels.insert(name, state);
            }
            (None, Some(Value::Object(mut map))) => {
                let map = if is_channels_wrapper_map(&map) {
                    match map.remove("channels") {
                        Some(Value::Object(inner)) => inner,
                        _ => Map::new(),
                    }
                } else {
                    map
                };
                channels.extend(map);
            }
            (_, None) | (_, Some(Value::Null)) => {}
            (None, Some(other)) => {
                return Err(Error::malformed(
                    "get state body",
                    format!("`payload` must be an object, got {}", json_kind(&other)),
                    body,
                )
                .into())
            }
        }
        Ok(GetStateResult {
            user_id: raw.uuid,
            channels,
        })
    }
}

fn is_channels_wrapper(payload: Option<&Value>) -> bool {
    matches!(payload, Some(Value::Object(map)) if is_channels_wrapper_map(map))
}

fn is_channels_wrapper_map(map: &Map<String, Value>) -> bool {
    map.len() == 1 && map.get("channels").is_some_and(Value::is_object)
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    error: ErrorFlag,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}
envelope!(Raw);
