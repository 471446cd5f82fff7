//! Set state: attaches a JSON object to a user on channels and channel groups.
//!
//! `GET /v2/presence/sub-key/{sub_key}/channel/{channels}/uuid/{uuid}/data?state={json}`.
//! [REST reference](https://www.pubnub.com/docs/sdks/rest-api/presence/set-state),
//! PROTOCOL.md §4.5. The state must be a JSON object; anything else is rejected before a
//! request is built. Groups without channels are sent as `/channel/,/…?channel-group=…`
//! (as Rust, Go, JS, Kotlin and Dart do). The result is the state as the service echoes
//! it: for several channels the service echoes the single object (recorded); the JS
//! mock's per-channel map also parses, as whatever object `payload` holds.
//!
//! ```
//! use presence_core::{Config, Keyset, Operation, RequestMeta, SetState, UserId};
//! use serde_json::json;
//! let config = Config::new(Keyset::new("demo"), UserId::new("me").unwrap());
//! let op = SetState::new().channels(["a", "b"]).state(json!({"k": "v"}));
//! let req = op.to_request(&config, &RequestMeta::new(0)).unwrap();
//! assert_eq!(req.uri().path(), "/v2/presence/sub-key/demo/channel/a,b/uuid/me/data");
//! assert!(SetState::new().channels(["a"]).state(json!([1])).to_request(&config, &RequestMeta::new(0)).is_err());
//! ```

use crate::config::validate_user_id;
use crate::ops::state_object;
use crate::request::{
    channel_setters, operation_common, sealed, CallOptions, Operation, RequestParts, Target,
    Targets,
};
use crate::response::{decode, envelope, BodyError, ErrorFlag};
use crate::Error;
use crate::RawJson;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The set state operation. `C` is the client it is bound to (`()` for none, see
/// [`Execute`](crate::Execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct SetState<C = ()> {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    state: Option<Value>,
    user_id: Option<String>,
    options: CallOptions,
    client: C,
}

impl<C> SetState<C> {
    fn defaults(client: C) -> Self {
        Self {
            channels: Vec::new(),
            channel_groups: Vec::new(),
            state: None,
            user_id: None,
            options: CallOptions::default(),
            client,
        }
    }

    /// The state: must be a JSON object.
    pub fn state(mut self, state: Value) -> Self {
        self.state = Some(state);
        self
    }

    /// Sets the state of another user instead of the configured one.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }
}

operation_common!(SetState);
channel_setters!(
    SetState,
    "Channels to set the state on.",
    "Channel groups to set the state on (every channel of each group)."
);

/// The set state result. `Display`: `state set: {"mood":"ok"}`. JSON (feature `serde`):
/// `{"state": {"mood": "ok"}}`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct SetStateResult {
    /// The state as the service echoed it (`payload`, see [`RawJson`]).
    pub state: RawJson<'static>,
}

impl std::fmt::Display for SetStateResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "state set: {}", self.state)
    }
}

impl<C: Send + Sync> Operation for SetState<C> {
    type Output = SetStateResult;
    const NAME: &'static str = "set_state";

    fn channel_count(&self) -> usize {
        self.target_count()
    }
}

impl<C: Send + Sync> sealed::Encode for SetState<C> {
    type Parsed = SetStateResult;

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let Targets { channels, groups } = self.targets()?.required()?;
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| Error::invalid("state", "a JSON object is required"))?;
        let state = state_object(state)?;
        let user = self.user_id.as_deref().unwrap_or(target.user_id);
        validate_user_id("user_id", user)?;
        out.presence_prefix(target);
        out.path_literal("/channel/");
        out.path_list(&channels);
        out.path_literal("/uuid/");
        out.path_value(user);
        out.path_literal("/data");
        out.query_list("channel-group", &groups);
        out.query(
            "state",
            serde_json::to_string(state).map_err(|e| Error::invalid("state", e.to_string()))?,
        );
        Ok(())
    }

    fn parse_body(&self, body: &[u8]) -> Result<SetStateResult, BodyError> {
        let raw: Raw = decode("set state body", body)?;
        let state = raw
            .payload
            .ok_or_else(|| Error::malformed("set state body", "missing `payload`", body))?;
        Ok(SetStateResult {
            state: RawJson::checked_owned(state.get().to_owned()),
        })
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
}
envelope!(Raw);
