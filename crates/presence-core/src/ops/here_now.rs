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

use crate::request::{
    call_options, channel_setters, names, CallOptions, Operation, RequestParts, Target,
};
use crate::response::{decode, BodyError, ErrorFlag};
use crate::Error;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
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
channel_setters!(
    HereNow,
    "Channels to look at (added to any already set).",
    "Channel groups to look at (added to any already set)."
);

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
        out.query_num("limit", u64::from(self.limit));
        if self.offset > 0 {
            out.query_num("offset", u64::from(self.offset));
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
        // States straight into `Value` (one pass); names copied.
        let (total_channels, total_occupancy, channels) = self.parse_raw::<Value>(body)?;
        Ok(HereNowResult {
            total_channels,
            total_occupancy,
            channels: channels
                .into_iter()
                .map(|(name, occupancy, occupants)| ChannelOccupancy {
                    name: name.into_owned(),
                    occupancy,
                    occupants: occupants
                        .into_iter()
                        .map(|o| Occupant {
                            user_id: o.user_id.into_owned(),
                            state: o.state,
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}

impl HereNow {
    /// Parses the response into a [`HereNowView`] that borrows from the body: user ids
    /// and channel names are not copied (unless the body escapes them) and states stay
    /// raw JSON text, parsed only when asked. The same classification as
    /// [`parse_response`](Operation::parse_response) applies (service errors, "false
    /// 200", malformed bodies). Use it for large here-now answers (global here now on a
    /// busy keyset); [`HereNowView::into_owned`] gives the owned result.
    ///
    /// ```
    /// use presence_core::{HereNow, Operation};
    /// let op = HereNow::new().channels(["lobby"]).include_state(true);
    /// let body = br#"{"status": 200, "message": "OK", "service": "Presence", "occupancy": 1,
    ///                 "uuids": [{"uuid": "ann", "state": {"mood": "ok"}}]}"#;
    /// let response = http::Response::new(&body[..]);
    /// let view = op.parse_view(&response).unwrap();
    /// let ann = &view.channels[0].occupants[0];
    /// assert_eq!(ann.user_id, "ann");
    /// assert_eq!(ann.state.unwrap().get(), r#"{"mood": "ok"}"#);
    /// assert_eq!(view.into_owned().unwrap().channels[0].name, "lobby");
    /// ```
    pub fn parse_view<'a, B: AsRef<[u8]>>(
        &self,
        response: &'a http::Response<B>,
    ) -> Result<HereNowView<'a>, Error> {
        crate::response::classify(response, |body| self.parse_view_body(body))
    }

    fn parse_view_body<'a>(&self, body: &'a [u8]) -> Result<HereNowView<'a>, BodyError> {
        let (total_channels, total_occupancy, channels) = self.parse_raw::<&'a RawValue>(body)?;
        Ok(HereNowView {
            total_channels,
            total_occupancy,
            channels: channels
                .into_iter()
                .map(|(name, occupancy, occupants)| ChannelView {
                    name,
                    occupancy,
                    occupants: occupants
                        .into_iter()
                        .map(|o| OccupantView {
                            user_id: o.user_id,
                            state: o.state,
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// The one here-now parser: both body shapes, with the state type `S` chosen by the
    /// caller (`Value` for the owned result, `&RawValue` for the view).
    fn parse_raw<'a, S: Deserialize<'a>>(
        &self,
        body: &'a [u8],
    ) -> Result<(u64, u64, Vec<RawChannelEntry<'a, S>>), BodyError> {
        let raw: RawHereNow<'a, S> = decode("here now body", body)?;
        if let Some(payload) = raw.payload {
            let channels = payload.channels.map(|c| c.0).unwrap_or_default();
            let total_occupancy = payload
                .total_occupancy
                // Saturating: occupancies come from the body, and their sum may not fit.
                .unwrap_or_else(|| channels.iter().fold(0u64, |t, c| t.saturating_add(c.1)));
            let total_channels = payload.total_channels.unwrap_or(channels.len() as u64);
            return Ok((total_channels, total_occupancy, channels));
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
        Ok((
            raw.total_channels.unwrap_or(1),
            raw.total_occupancy.unwrap_or(occupancy),
            vec![(
                Cow::Owned(name.to_owned()),
                occupancy,
                raw.uuids.unwrap_or_default(),
            )],
        ))
    }
}

/// A here now result that borrows from the response body (see
/// [`HereNow::parse_view`]).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct HereNowView<'a> {
    /// Number of channels with occupants.
    pub total_channels: u64,
    /// Occupants over all channels.
    pub total_occupancy: u64,
    /// Per-channel occupancy, in the order the service sent them.
    pub channels: Vec<ChannelView<'a>>,
}

/// One channel's occupancy, borrowed (see [`HereNowView`]).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ChannelView<'a> {
    /// The channel name (borrowed unless the body escapes it).
    pub name: Cow<'a, str>,
    /// How many users are present (the full count, even when the list is paged).
    pub occupancy: u64,
    /// The listed occupants.
    pub occupants: Vec<OccupantView<'a>>,
}

/// A present user, borrowed (see [`HereNowView`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OccupantView<'a> {
    /// The user id (borrowed unless the body escapes it).
    pub user_id: Cow<'a, str>,
    /// The user's state as raw JSON text, when state was requested and the user has
    /// one; `serde_json::from_str(state.get())` reads it into any type.
    pub state: Option<&'a RawValue>,
}

/// Equal when the user ids are equal and the states are the same JSON text.
impl PartialEq for OccupantView<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.user_id == other.user_id
            && self.state.map(RawValue::get) == other.state.map(RawValue::get)
    }
}

impl HereNowView<'_> {
    /// The owned result: names and user ids copied, states parsed into
    /// [`serde_json::Value`]. Fails (naming the occupant) only for a state that
    /// `Value` cannot hold, such as a number beyond `f64` (`1e400`).
    pub fn into_owned(self) -> Result<HereNowResult, String> {
        let mut channels = Vec::with_capacity(self.channels.len());
        for ch in self.channels {
            let mut occupants = Vec::with_capacity(ch.occupants.len());
            for o in ch.occupants {
                let state = match o.state {
                    None => None,
                    Some(raw) => Some(serde_json::from_str::<Value>(raw.get()).map_err(|e| {
                        format!(
                            "state of `{}` on `{}` is not a readable JSON value: {e}",
                            o.user_id, ch.name
                        )
                    })?),
                };
                occupants.push(Occupant {
                    user_id: o.user_id.into_owned(),
                    state,
                });
            }
            channels.push(ChannelOccupancy {
                name: ch.name.into_owned(),
                occupancy: ch.occupancy,
                occupants,
            });
        }
        Ok(HereNowResult {
            total_channels: self.total_channels,
            total_occupancy: self.total_occupancy,
            channels,
        })
    }
}

/// One channel as parsed: name, occupancy, occupants.
type RawChannelEntry<'a, S> = (Cow<'a, str>, u64, Vec<RawOccupant<'a, S>>);

#[derive(Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
struct RawHereNow<'a, S> {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    error: ErrorFlag,
    #[serde(default, borrow)]
    uuids: Option<Vec<RawOccupant<'a, S>>>,
    #[serde(default)]
    occupancy: Option<u64>,
    #[serde(default)]
    total_channels: Option<u64>,
    #[serde(default)]
    total_occupancy: Option<u64>,
    #[serde(default, borrow)]
    payload: Option<RawPayload<'a, S>>,
}

impl<S> crate::response::Envelope for RawHereNow<'_, S> {
    fn envelope(&self) -> crate::response::EnvelopeFields {
        crate::response::EnvelopeFields {
            status: self.status,
            error: self.error,
        }
    }
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
struct RawPayload<'a, S> {
    #[serde(default, borrow)]
    channels: Option<ChannelList<'a, S>>,
    #[serde(default)]
    total_channels: Option<u64>,
    #[serde(default)]
    total_occupancy: Option<u64>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
struct RawChannel<'a, S> {
    occupancy: u64,
    #[serde(default, borrow)]
    uuids: Option<Vec<RawOccupant<'a, S>>>,
}

/// `payload.channels`: a map of name → channel, kept in wire order.
struct ChannelList<'a, S>(Vec<RawChannelEntry<'a, S>>);

impl<'de: 'a, 'a, S: Deserialize<'de>> Deserialize<'de> for ChannelList<'a, S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, S>(std::marker::PhantomData<(&'a (), S)>);
        impl<'de: 'a, 'a, S: Deserialize<'de>> Visitor<'de> for V<'a, S> {
            type Value = ChannelList<'a, S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of channel name to occupancy")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                while let Some((name, ch)) = map.next_entry::<CowStr<'a>, RawChannel<'a, S>>()? {
                    out.push((name.0, ch.occupancy, ch.uuids.unwrap_or_default()));
                }
                Ok(ChannelList(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A string borrowed from the body when it has no escapes, owned otherwise.
struct CowStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// An element of `uuids`: a plain string, `{"uuid": …}` or `{"uuid": …, "state": …}`,
/// with the state read as `S`.
struct RawOccupant<'a, S> {
    user_id: Cow<'a, str>,
    state: Option<S>,
}

impl<'de: 'a, 'a, S: Deserialize<'de>> Deserialize<'de> for RawOccupant<'a, S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, S>(std::marker::PhantomData<(&'a (), S)>);
        impl<'de: 'a, 'a, S: Deserialize<'de>> Visitor<'de> for V<'a, S> {
            type Value = RawOccupant<'a, S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a user id string or an object with `uuid`")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawOccupant {
                    user_id: Cow::Borrowed(v),
                    state: None,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawOccupant {
                    user_id: Cow::Owned(v.to_owned()),
                    state: None,
                })
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawOccupant {
                    user_id: Cow::Owned(v),
                    state: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // A repeated `uuid` or `state` is a malformed body, as a repeated field of
                // every other object of the body is (serde's derived structs): taking
                // the last `state` would let the owned parse fail on a value the view
                // never reads.
                let mut user_id = None;
                let mut state: Option<Option<S>> = None;
                while let Some(key) = map.next_key::<OccupantField>()? {
                    match key {
                        OccupantField::Uuid if user_id.is_some() => {
                            return Err(de::Error::duplicate_field("uuid"));
                        }
                        OccupantField::State if state.is_some() => {
                            return Err(de::Error::duplicate_field("state"));
                        }
                        OccupantField::Uuid => user_id = Some(map.next_value::<CowStr<'a>>()?.0),
                        OccupantField::State => state = Some(map.next_value::<Option<S>>()?),
                        OccupantField::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let user_id = user_id.ok_or_else(|| de::Error::missing_field("uuid"))?;
                Ok(RawOccupant {
                    user_id,
                    state: state.flatten(),
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::invalid_type(de::Unexpected::Seq, &self))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> http::Response<Vec<u8>> {
        let mut r = http::Response::new(body.as_bytes().to_vec());
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        r
    }

    #[test]
    fn view_borrows_plain_names_and_copies_escaped_ones() {
        let op = HereNow::new().channels(["a", "b"]);
        let r = response(
            200,
            r#"{"status": 200, "payload": {"channels": {"a": {"occupancy": 2, "uuids": ["ann", "b\u00e9a"]}}}}"#,
        );
        let view = op.parse_view(&r).unwrap();
        let ch = &view.channels[0];
        assert!(matches!(ch.name, Cow::Borrowed("a")));
        assert!(matches!(ch.occupants[0].user_id, Cow::Borrowed("ann")));
        assert!(matches!(&ch.occupants[1].user_id, Cow::Owned(s) if s == "béa"));
        assert_eq!(view.total_occupancy, 2);
    }

    #[test]
    fn a_state_value_cannot_hold_fails_the_owned_parse_but_not_the_view() {
        let op = HereNow::new().channels(["lobby"]).include_state(true);
        let r = response(
            200,
            r#"{"status": 200, "occupancy": 1, "uuids": [{"uuid": "ann", "state": {"n": 1e400}}]}"#,
        );
        let view = op.parse_view(&r).unwrap();
        assert_eq!(
            view.channels[0].occupants[0].state.unwrap().get(),
            r#"{"n": 1e400}"#
        );
        let err = view.into_owned().unwrap_err();
        assert!(err.contains("`ann` on `lobby`"), "{err}");
        match op.parse_response(&r).unwrap_err() {
            Error::MalformedResponse { detail, .. } => {
                // Parsed straight into `Value`: serde_json names the problem and place.
                assert!(detail.contains("number out of range"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn view_classifies_errors_like_the_owned_parse() {
        let op = HereNow::new().channels(["lobby"]);
        for (status, body) in [
            (
                403,
                r#"{"status": 403, "error": true, "message": "Forbidden", "service": "Access Manager", "payload": {"channels": ["lobby"]}}"#,
            ),
            (
                200,
                r#"{"status": 400, "error": 1, "message": "Invalid", "service": "Presence"}"#,
            ),
            (200, r#"{"status": 200, "uuids": [1]}"#),
            (200, "[[[[["),
            (502, "<html>bad gateway</html>"),
        ] {
            let r = response(status, body);
            let view = op.parse_view(&r).unwrap_err();
            let owned = op.parse_response(&r).unwrap_err();
            assert_eq!(view.to_string(), owned.to_string(), "{body}");
            assert_eq!(format!("{view:?}"), format!("{owned:?}"), "{body}");
        }
        let deep = format!(
            r#"{{"status": 200, "occupancy": 1, "uuids": [{{"uuid": "a", "state": {}1{}}}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(matches!(
            op.parse_view(&response(200, &deep)),
            Err(Error::MalformedResponse { .. })
        ));
    }

    /// Found by the here_now fuzz target (its oracle compared error texts, which differ
    /// by a column here): a control character inside a state string is a malformed body
    /// for both parsers.
    #[test]
    fn control_character_in_a_state_is_malformed_for_both_parsers() {
        let op = HereNow::new().channels(["ch1"]);
        let body = "{\n  \"stauy\": 3,\n  \"uuids\": [\n{\n      \"uuid\": \"user-we\",\n      \"state\"\n\n:\n\n\n\r\r\r\r\r\"\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\rst";
        let r = response(200, body);
        assert_eq!(op.parse_view(&r).unwrap_err().kind(), "malformed_response");
        assert_eq!(
            op.parse_response(&r).unwrap_err().kind(),
            "malformed_response"
        );
    }

    /// Found by review: with two `state` keys the owned parse read (and failed on) the
    /// first while the view kept only the last. Repeated occupant keys are malformed.
    #[test]
    fn repeated_occupant_keys_are_malformed_for_both_parsers() {
        let op = HereNow::new().channels(["lobby"]);
        for body in [
            r#"{"status":200,"occupancy":1,"uuids":[{"uuid":"ann","state":1e400,"state":null}]}"#,
            r#"{"status":200,"occupancy":1,"uuids":[{"uuid":"ann","state":{},"state":{}}]}"#,
            r#"{"status":200,"occupancy":1,"uuids":[{"uuid":"a","uuid":"b"}]}"#,
        ] {
            let r = response(200, body);
            assert_eq!(
                op.parse_view(&r).unwrap_err().kind(),
                "malformed_response",
                "{body}"
            );
            assert_eq!(
                op.parse_response(&r).unwrap_err().kind(),
                "malformed_response",
                "{body}"
            );
        }
    }

    /// Found by review: the total computed from channel occupancies saturates instead of
    /// overflowing (a panic in debug builds).
    #[test]
    fn computed_total_occupancy_saturates() {
        let op = HereNow::new().channels(["a", "b"]);
        let r = response(
            200,
            r#"{"status":200,"payload":{"channels":{"a":{"occupancy":18446744073709551615},"b":{"occupancy":1}}}}"#,
        );
        assert_eq!(op.parse_response(&r).unwrap().total_occupancy, u64::MAX);
        assert_eq!(op.parse_view(&r).unwrap().total_occupancy, u64::MAX);
    }
}
