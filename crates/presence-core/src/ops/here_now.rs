//! Here now: who is on a set of channels or channel groups, or on the whole keyset.
//!
//! `GET /v2/presence/sub-key/{sub_key}/channel/{channels}` (channels and/or groups) or
//! `GET /v2/presence/sub-key/{sub_key}` (global, when neither is given).
//! [REST reference](https://www.pubnub.com/docs/sdks/rest-api/presence/here-now),
//! PROTOCOL.md §4.1.
//!
//! Query: `limit` is always sent (default 1000, as the Rust, Go and Python SDKs do),
//! `offset` only when > 0, `state=1` when state is wanted, `disable_uuids=1` when user
//! ids are not, `channel-group` when groups are given.
//!
//! ```
//! use presence_core::{Config, HereNow, Keyset, Operation, RequestMeta, UserId};
//! let config = Config::new(Keyset::new("demo"), UserId::new("me").unwrap());
//! let op = HereNow::new().channels(["lobby"]).include_state(true);
//! let req = op.to_request(&config, &RequestMeta::new(0)).unwrap();
//! assert_eq!(req.uri().path(), "/v2/presence/sub-key/demo/channel/lobby");
//!
//! // The single-channel body carries no channel name: the result still names it.
//! let body = br#"{"status": 200, "message": "OK", "service": "Presence", "uuids": [{"uuid": "ann"}], "occupancy": 1}"#;
//! let result = op.parse_response(&http::Response::new(&body[..])).unwrap();
//! assert_eq!(result.channels[0].name, "lobby");
//! assert_eq!(result.channels[0].occupants[0].user_id, "ann");
//! ```

use crate::request::{call_options, names, CallOptions, Operation, RequestParts, Target};
use crate::response::{decode, envelope, BodyError, ErrorFlag};
use crate::Error;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// Largest `limit` the service accepts.
pub const MAX_LIMIT: u32 = 1000;

/// The here now operation.
#[derive(Debug, Clone, PartialEq)]
pub struct HereNow {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    include_state: bool,
    include_user_ids: bool,
    limit: u32,
    offset: u32,
    options: CallOptions,
}

impl Default for HereNow {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            channel_groups: Vec::new(),
            include_state: false,
            include_user_ids: true,
            limit: MAX_LIMIT,
            offset: 0,
            options: CallOptions::default(),
        }
    }
}

impl HereNow {
    /// Global here now until channels or groups are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Channels to look at (added to any already set).
    pub fn channels<I, S>(mut self, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.channels.extend(channels.into_iter().map(Into::into));
        self
    }

    /// Channel groups to look at (added to any already set).
    pub fn channel_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.channel_groups
            .extend(groups.into_iter().map(Into::into));
        self
    }

    /// Include each occupant's state (`state=1`). Default false.
    pub fn include_state(mut self, yes: bool) -> Self {
        self.include_state = yes;
        self
    }

    /// Include occupants' user ids. Default true; false sends `disable_uuids=1`.
    pub fn include_user_ids(mut self, yes: bool) -> Self {
        self.include_user_ids = yes;
        self
    }

    /// Occupants per channel, 1..=1000 (default 1000).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Occupants to skip per channel (default 0).
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = offset;
        self
    }

    /// Whether this is a global here now (no channels and no groups).
    pub fn is_global(&self) -> bool {
        self.channels.is_empty() && self.channel_groups.is_empty()
    }

    /// The one channel of a request that names exactly one (after de-duplication) and
    /// no groups: the only case the service answers with the single-channel shape.
    fn single_channel(&self) -> Option<&str> {
        crate::ops::single_channel(&self.channels, &self.channel_groups)
    }
}

call_options!(HereNow);

/// The here now result.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct HereNowResult {
    /// Number of channels with occupants.
    pub total_channels: u64,
    /// Occupants over all channels.
    pub total_occupancy: u64,
    /// Per-channel occupancy, in the order the service sent them.
    pub channels: Vec<ChannelOccupancy>,
}

impl HereNowResult {
    /// The entry for `name`, if the service listed it.
    pub fn channel(&self, name: &str) -> Option<&ChannelOccupancy> {
        self.channels.iter().find(|c| c.name == name)
    }
}

/// One channel's occupancy.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ChannelOccupancy {
    /// The channel name.
    pub name: String,
    /// How many users are present (the full count, even when the list is paged).
    pub occupancy: u64,
    /// The listed occupants (empty when user ids were not requested).
    pub occupants: Vec<Occupant>,
}

/// A present user.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Occupant {
    /// The user id.
    pub user_id: String,
    /// The user's state on the channel, when state was requested and the user has one.
    pub state: Option<Value>,
}

impl Operation for HereNow {
    type Output = HereNowResult;
    const NAME: &'static str = "here_now";

    fn options(&self) -> &CallOptions {
        &self.options
    }

    fn options_mut(&mut self) -> &mut CallOptions {
        &mut self.options
    }

    fn channel_count(&self) -> usize {
        self.channels.len() + self.channel_groups.len()
    }

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let channels = names("channels", &self.channels, false)?;
        let groups = names("channel_groups", &self.channel_groups, true)?;
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(Error::invalid(
                "limit",
                format!("{} is outside 1..={MAX_LIMIT}", self.limit),
            ));
        }
        out.presence_prefix(target);
        if !self.is_global() {
            out.path_literal("/channel/");
            out.path_list(&channels);
        }
        out.query_list("channel-group", &groups);
        out.query("limit", self.limit.to_string());
        if self.offset > 0 {
            out.query("offset", self.offset.to_string());
        }
        if self.include_state {
            out.query("state", "1");
        }
        if !self.include_user_ids {
            out.query("disable_uuids", "1");
        }
        Ok(())
    }

    fn parse_body(&self, body: &[u8]) -> Result<HereNowResult, BodyError> {
        let raw: RawHereNow = decode("here now body", body)?;
        if let Some(payload) = raw.payload {
            let channels = payload.channels.map(|c| c.0).unwrap_or_default();
            let total_occupancy = payload
                .total_occupancy
                .unwrap_or_else(|| channels.iter().map(|c| c.occupancy).sum());
            let total_channels = payload.total_channels.unwrap_or(channels.len() as u64);
            return Ok(HereNowResult {
                total_channels,
                total_occupancy,
                channels,
            });
        }
        let Some(occupancy) = raw.occupancy else {
            return Err(Error::malformed(
                "here now body",
                "neither `payload` nor `occupancy` present",
                body,
            )
            .into());
        };
        let Some(name) = self.single_channel() else {
            return Err(Error::malformed(
                "here now body",
                "single-channel body for a request that did not name exactly one channel",
                body,
            )
            .into());
        };
        Ok(HereNowResult {
            total_channels: raw.total_channels.unwrap_or(1),
            total_occupancy: raw.total_occupancy.unwrap_or(occupancy),
            channels: vec![ChannelOccupancy {
                name: name.to_owned(),
                occupancy,
                occupants: raw.uuids.unwrap_or_default(),
            }],
        })
    }
}

#[derive(Deserialize)]
struct RawHereNow {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    error: ErrorFlag,
    #[serde(default)]
    uuids: Option<Vec<Occupant>>,
    #[serde(default)]
    occupancy: Option<u64>,
    #[serde(default)]
    total_channels: Option<u64>,
    #[serde(default)]
    total_occupancy: Option<u64>,
    #[serde(default)]
    payload: Option<RawPayload>,
}
envelope!(RawHereNow);

#[derive(Deserialize)]
struct RawPayload {
    #[serde(default)]
    channels: Option<ChannelList>,
    #[serde(default)]
    total_channels: Option<u64>,
    #[serde(default)]
    total_occupancy: Option<u64>,
}

#[derive(Deserialize)]
struct RawChannel {
    occupancy: u64,
    #[serde(default)]
    uuids: Option<Vec<Occupant>>,
}

/// `payload.channels`: a map of name → channel, kept in wire order.
struct ChannelList(Vec<ChannelOccupancy>);

impl<'de> Deserialize<'de> for ChannelList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ChannelList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of channel name to occupancy")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChannelList, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                while let Some((name, ch)) = map.next_entry::<String, RawChannel>()? {
                    out.push(ChannelOccupancy {
                        name,
                        occupancy: ch.occupancy,
                        occupants: ch.uuids.unwrap_or_default(),
                    });
                }
                Ok(ChannelList(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An element of `uuids`: a plain string, `{"uuid": …}` or `{"uuid": …, "state": …}`.
impl<'de> Deserialize<'de> for Occupant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Occupant;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a user id string or an object with `uuid`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Occupant, E> {
                Ok(Occupant {
                    user_id: v.to_owned(),
                    state: None,
                })
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Occupant, E> {
                Ok(Occupant {
                    user_id: v,
                    state: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Occupant, A::Error> {
                let mut user_id = None;
                let mut state = None;
                while let Some(key) = map.next_key::<OccupantField>()? {
                    match key {
                        OccupantField::Uuid => user_id = Some(map.next_value::<String>()?),
                        OccupantField::State => state = map.next_value::<Option<Value>>()?,
                        OccupantField::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let user_id = user_id.ok_or_else(|| de::Error::missing_field("uuid"))?;
                Ok(Occupant { user_id, state })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Occupant, A::Error> {
                Err(de::Error::invalid_type(de::Unexpected::Seq, &self))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum OccupantField {
    Uuid,
    State,
    #[serde(other)]
    Other,
}
