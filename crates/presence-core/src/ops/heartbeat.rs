//! Heartbeat (announce): keeps the user present on channels and groups.
//!
//! `GET /v2/presence/sub-key/{sub_key}/channel/{channels}/heartbeat?heartbeat={timeout}`.
//! [REST reference](https://www.pubnub.com/docs/sdks/rest-api/presence/announce-heartbeat),
//! PROTOCOL.md §4.3. `heartbeat` (the presence timeout) is always sent: default 300,
//! clamped to at least 20 as the Rust, Go and Kotlin SDKs do. Channels and groups are
//! de-duplicated and sorted (as the Rust, JS and Python SDKs do). State is sent keyed by
//! channel or group name (PROTOCOL.md §3.4); it is omitted when there is none.
//!
//! ```
//! use presence_core::{Config, Heartbeat, Keyset, Operation, RequestMeta, UserId};
//! use serde_json::json;
//! let config = Config::new(Keyset::new("demo"), UserId::new("me").unwrap());
//! let op = Heartbeat::new().channels(["lobby"]).timeout(60).state(json!({"mood": "ok"}));
//! let req = op.to_request(&config, &RequestMeta::new(0)).unwrap();
//! assert_eq!(req.uri().path(), "/v2/presence/sub-key/demo/channel/lobby/heartbeat");
//! assert!(req.uri().query().unwrap().contains("state=%7B%22lobby%22%3A%7B%22mood%22%3A%22ok%22%7D%7D"));
//! ```

use crate::ops::{parse_ack, state_object};
use crate::request::{
    channel_setters, operation_common, sealed, CallOptions, Operation, RequestParts, Target,
    Targets,
};
use crate::response::BodyError;
use crate::Error;
use serde_json::{Map, Value};

/// Default presence timeout in seconds (`heartbeat=`).
pub const DEFAULT_PRESENCE_TIMEOUT: u32 = 300;
/// Smallest presence timeout the service honours; smaller values are raised to it.
pub const MIN_PRESENCE_TIMEOUT: u32 = 20;

/// The heartbeat operation. `C` is the client it is bound to (`()` for none, see
/// [`Execute`](crate::Execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat<C = ()> {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    timeout: u32,
    state_all: Option<Value>,
    state_by_name: Vec<(String, Value)>,
    options: CallOptions,
    client: C,
}

impl<C> Heartbeat<C> {
    fn defaults(client: C) -> Self {
        Self {
            channels: Vec::new(),
            channel_groups: Vec::new(),
            timeout: DEFAULT_PRESENCE_TIMEOUT,
            state_all: None,
            state_by_name: Vec::new(),
            options: CallOptions::default(),
            client,
        }
    }

    /// Presence timeout in seconds (`heartbeat=`); values below 20 become 20.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = seconds.max(MIN_PRESENCE_TIMEOUT);
        self
    }

    /// The presence timeout that will be sent.
    pub fn timeout_secs(&self) -> u32 {
        self.timeout
    }

    /// The same state (a JSON object) on every listed channel and group.
    pub fn state(mut self, state: Value) -> Self {
        self.state_all = Some(state);
        self
    }

    /// State (a JSON object) for one channel or group; overrides [`state`](Self::state)
    /// for that name.
    pub fn channel_state(mut self, name: impl Into<String>, state: Value) -> Self {
        self.state_by_name.push((name.into(), state));
        self
    }

    pub(crate) fn keyed_state(
        &self,
        channels: &[&str],
        groups: &[&str],
    ) -> Result<Option<Map<String, Value>>, Error> {
        let mut keyed = Map::new();
        if let Some(all) = &self.state_all {
            let obj = state_object(all)?;
            for name in channels.iter().chain(groups) {
                keyed.insert((*name).to_owned(), Value::Object(obj.clone()));
            }
        }
        for (name, value) in &self.state_by_name {
            if !channels.contains(&name.as_str()) && !groups.contains(&name.as_str()) {
                return Err(Error::invalid(
                    "state",
                    format!("state given for `{name}`, which is not a channel or group of this heartbeat"),
                ));
            }
            keyed.insert(name.clone(), Value::Object(state_object(value)?.clone()));
        }
        Ok((!keyed.is_empty()).then_some(keyed))
    }
}

operation_common!(Heartbeat);
channel_setters!(
    Heartbeat,
    "Channels to announce presence on.",
    "Channel groups to announce presence on."
);

impl<C: Send + Sync> Operation for Heartbeat<C> {
    type Output = ();
    const NAME: &'static str = "heartbeat";

    fn channel_count(&self) -> usize {
        self.target_count()
    }
}

impl<C: Send + Sync> sealed::Encode for Heartbeat<C> {
    type Parsed = ();

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let Targets { channels, groups } = self.targets()?.required()?.sorted();
        let state = self.keyed_state(&channels, &groups)?;
        out.presence_prefix(target);
        out.path_literal("/channel/");
        out.path_list(&channels);
        out.path_literal("/heartbeat");
        out.query_num(
            "heartbeat",
            u64::from(self.timeout.max(MIN_PRESENCE_TIMEOUT)),
        );
        out.query_list("channel-group", &groups);
        if let Some(state) = state {
            out.query("state", Value::Object(state).to_string());
        }
        Ok(())
    }

    fn parse_body(&self, body: &[u8]) -> Result<(), BodyError> {
        parse_ack("heartbeat body", body)
    }
}
