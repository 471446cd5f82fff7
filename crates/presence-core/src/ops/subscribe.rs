//! Subscribe, as used for presence events: a long-poll on `<channel>-pnpres` channels.
//!
//! `GET /v2/subscribe/{sub_key}/{channels}/0?tt={timetoken}&tr={region}[&channel-group=…]`.
//! [REST reference](https://www.pubnub.com/docs/sdks/rest-api/subscribe),
//! PROTOCOL.md §7. The first call (`tt=0`) is the handshake and returns at once with a
//! cursor; later calls return when messages arrive or after the server's idle timeout.
//!
//! Channel and group names given here are the *user-facing* names; the operation asks
//! for their presence channels (`name-pnpres`) and returns only presence messages
//! (channel ending in `-pnpres`), with the suffix stripped.
//!
//! ```
//! use presence_core::{Config, Keyset, Operation, RequestMeta, Subscribe, UserId};
//! let config = Config::new(Keyset::new("demo"), UserId::new("watcher").unwrap());
//! let req = Subscribe::new().channels(["lobby"]).to_request(&config, &RequestMeta::new(0)).unwrap();
//! assert_eq!(req.uri().path(), "/v2/subscribe/demo/lobby-pnpres/0");
//! ```

use crate::presence_event::{PresenceEvent, RawMessage, UnreadableEvent};
use crate::request::{
    channel_setters, operation_common, sealed, CallOptions, Operation, RequestParts, Target,
    Targets,
};
use crate::response::{decode, envelope, BodyError, ErrorFlag};
use crate::Error;
use serde::Deserialize;
use std::borrow::Cow;

/// Suffix of presence channels and groups.
pub const PRESENCE_SUFFIX: &str = "-pnpres";

/// A subscribe cursor: timetoken and region.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    /// The 17-digit timetoken (`"0"` before the handshake).
    pub timetoken: String,
    /// The region.
    pub region: u32,
}

impl Cursor {
    /// The handshake cursor (`tt=0`).
    pub fn handshake() -> Self {
        Self {
            timetoken: "0".to_owned(),
            region: 0,
        }
    }

    /// Whether this is the handshake cursor.
    pub fn is_handshake(&self) -> bool {
        self.timetoken == "0" || self.timetoken.is_empty()
    }
}

/// The subscribe operation for presence events. `C` is the client it is bound to (`()`
/// for none, see [`Execute`](crate::Execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe<C = ()> {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    cursor: Option<Cursor>,
    options: CallOptions,
    client: C,
}

impl<C> Subscribe<C> {
    fn defaults(client: C) -> Self {
        Self {
            channels: Vec::new(),
            channel_groups: Vec::new(),
            cursor: None,
            options: CallOptions::default(),
            client,
        }
    }

    /// Continues from `cursor` (omit for the handshake).
    pub fn cursor(mut self, cursor: Cursor) -> Self {
        self.cursor = Some(cursor);
        self
    }
}

operation_common!(Subscribe);
channel_setters!(
    Subscribe,
    "Channels whose presence events to receive (user-facing names).",
    "Channel groups whose presence events to receive."
);

/// One subscribe response.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SubscribeResult {
    /// The cursor for the next call.
    pub cursor: Cursor,
    /// Presence events, in order. Non-presence messages are skipped.
    pub events: Vec<PresenceEvent>,
    /// Presence messages that could not be read (unknown action, wrong types). They are
    /// reported rather than failing the batch, so the cursor advances.
    pub unreadable: Vec<UnreadableEvent>,
}

fn presence_names<'a>(names: &[&'a str]) -> Vec<Cow<'a, str>> {
    names
        .iter()
        .map(|n| {
            if n.ends_with(PRESENCE_SUFFIX) {
                Cow::Borrowed(*n)
            } else {
                Cow::Owned(format!("{n}{PRESENCE_SUFFIX}"))
            }
        })
        .collect()
}

impl<C: Send + Sync> Operation for Subscribe<C> {
    type Output = SubscribeResult;
    const NAME: &'static str = "subscribe";

    fn channel_count(&self) -> usize {
        self.target_count()
    }
}

impl<C: Send + Sync> sealed::Encode for Subscribe<C> {
    type Parsed = SubscribeResult;

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let Targets { channels, groups } = self.targets()?.required()?;
        out.path_literal("/v2/subscribe/");
        out.path_value(target.keyset.subscribe_key());
        out.path_literal("/");
        out.path_list(&presence_names(&channels));
        out.path_literal("/0");
        out.query_list("channel-group", &presence_names(&groups));
        let cursor = self.cursor.clone().unwrap_or_else(Cursor::handshake);
        out.query(
            "tt",
            if cursor.is_handshake() {
                "0".to_owned()
            } else {
                cursor.timetoken
            },
        );
        if cursor.region != 0 {
            out.query_num("tr", u64::from(cursor.region));
        }
        Ok(())
    }

    fn parse_body(&self, body: &[u8]) -> Result<SubscribeResult, BodyError> {
        let raw: RawSubscribe = decode("subscribe envelope", body)?;
        let cursor = raw
            .t
            .ok_or_else(|| Error::malformed("subscribe envelope", "missing `t` cursor", body))?;
        let mut events = Vec::new();
        let mut unreadable = Vec::new();
        for message in raw.m {
            match message.into_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => {}
                Err(detail) => unreadable.push(detail),
            }
        }
        Ok(SubscribeResult {
            cursor: Cursor {
                timetoken: cursor.t,
                region: cursor.r,
            },
            events,
            unreadable,
        })
    }
}

#[derive(Deserialize)]
struct RawSubscribe {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    error: ErrorFlag,
    #[serde(default)]
    t: Option<RawCursor>,
    #[serde(default)]
    m: Vec<RawMessage>,
}
envelope!(RawSubscribe);

#[derive(Deserialize)]
struct RawCursor {
    #[serde(deserialize_with = "crate::presence_event::string_or_number")]
    t: String,
    #[serde(default)]
    r: u32,
}
