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
//! The result is one type tree, [`HereNowResult<'a>`]: read with
//! [`HereNow::parse_view`] it borrows names from the body (the fast path for large
//! answers); [`parse_response`](Operation::parse_response) reads the `'static` form
//! directly, in the same one pass, and [`into_owned`](HereNowResult::into_owned)
//! turns a view into it. Names are [`Name`]s and states the JSON text the service
//! sent ([`RawJson`]), read into a type only when asked. In the result of
//! `parse_response` they are ranges of one copy of the body (names with JSON escapes,
//! and the channel name of a single-channel answer, are strings of their own);
//! `into_owned` copies a view's texts into one new text.
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

use crate::json::{self, Reader};
use crate::request::{
    channel_setters, operation_common, sealed, CallOptions, Operation, RequestParts, Target,
    Targets,
};
use crate::response::BodyError;
use crate::text::{BodyCopy, Borrowed, Keep, SharedText, Store};
use crate::{Error, Name, RawJson};
use std::fmt;

/// Largest here-now `limit` the service accepts.
pub const HERE_NOW_MAX_LIMIT: u32 = 1000;

/// The here now operation. `C` is the client it is bound to (`()` for none, see
/// [`Execute`](crate::Execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct HereNow<C = ()> {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    include_state: bool,
    include_user_ids: bool,
    limit: u32,
    offset: u32,
    options: CallOptions,
    client: C,
}

impl<C> HereNow<C> {
    fn defaults(client: C) -> Self {
        Self {
            channels: Vec::new(),
            channel_groups: Vec::new(),
            include_state: false,
            include_user_ids: true,
            limit: HERE_NOW_MAX_LIMIT,
            offset: 0,
            options: CallOptions::default(),
            client,
        }
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

    /// The `limit` that will be sent.
    pub(crate) fn limit_value(&self) -> u32 {
        self.limit
    }

    /// The `offset` that will be sent.
    pub(crate) fn offset_value(&self) -> u32 {
        self.offset
    }

    /// Whether user ids are asked for (not `disable_uuids`).
    pub(crate) fn lists_user_ids(&self) -> bool {
        self.include_user_ids
    }

    /// The operation without its client, and the client.
    pub(crate) fn unbind(self) -> (HereNow, C) {
        let op = HereNow {
            channels: self.channels,
            channel_groups: self.channel_groups,
            include_state: self.include_state,
            include_user_ids: self.include_user_ids,
            limit: self.limit,
            offset: self.offset,
            options: self.options,
            client: (),
        };
        (op, self.client)
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

operation_common!(HereNow);
channel_setters!(
    HereNow,
    "Channels to look at (added to any already set).",
    "Channel groups to look at (added to any already set)."
);

/// The here now result. Read with [`HereNow::parse_view`] it borrows from the response
/// body (`'a`); the `'static` form is what [`parse_response`](Operation::parse_response)
/// and the clients return (read directly, not through a view), and what
/// [`into_owned`](Self::into_owned) makes of a view.
///
/// `Display` writes one line per channel (`lobby (occupancy 2): ann {"mood":"ok"},
/// bob`). JSON (feature `serde`), stable:
///
/// ```json
/// {"total_channels": 1, "total_occupancy": 2,
///  "channels": [{"channel": "lobby", "occupancy": 2,
///                "occupants": [{"user_id": "ann", "state": {"mood": "ok"}},
///                              {"user_id": "bob", "state": null}]}]}
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct HereNowResult<'a> {
    /// Number of channels with occupants.
    pub total_channels: u64,
    /// Occupants over all channels.
    pub total_occupancy: u64,
    /// Per-channel occupancy, in the order the service sent them.
    pub channels: Vec<ChannelOccupancy<'a>>,
}

impl<'a> HereNowResult<'a> {
    /// The entry for `name`, if the service listed it.
    pub fn channel(&self, name: &str) -> Option<&ChannelOccupancy<'a>> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The same result owning its names and states: the borrowed ones are copied into
    /// one text they all share (see [`Name`]), so an owned result costs two
    /// allocations for all its names and states, whatever the number of occupants.
    pub fn into_owned(self) -> HereNowResult<'static> {
        let mut shared = SharedText::new(self.channels.iter().flat_map(ChannelOccupancy::texts));
        HereNowResult {
            total_channels: self.total_channels,
            total_occupancy: self.total_occupancy,
            channels: self
                .channels
                .into_iter()
                .map(|c| c.own(&mut shared))
                .collect(),
        }
    }
}

/// One channel's occupancy. `Display`: `lobby (occupancy 2): ann {"mood":"ok"}, bob`.
/// JSON: `{"channel": "lobby", "occupancy": 2, "occupants": [...]}`.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ChannelOccupancy<'a> {
    /// The channel name (borrowed from the body in a view, unless escaped there).
    #[cfg_attr(feature = "serde", serde(rename = "channel"))]
    pub name: Name<'a>,
    /// How many users are present (the full count, even when the list is paged).
    pub occupancy: u64,
    /// The listed occupants (empty when user ids were not requested).
    pub occupants: Vec<Occupant<'a>>,
}

impl<'a> ChannelOccupancy<'a> {
    /// The same channel owning its names and states (its borrowed ones sharing one
    /// copy of their text).
    pub fn into_owned(self) -> ChannelOccupancy<'static> {
        let mut shared = SharedText::new(self.texts());
        self.own(&mut shared)
    }

    /// Every text of the channel, in the order [`own`](Self::own) takes them: the
    /// name, then each occupant's user id and state.
    fn texts(&self) -> impl Iterator<Item = &Store<'a>> + Clone {
        std::iter::once(self.name.store()).chain(self.occupants.iter().flat_map(|o| {
            std::iter::once(o.user_id.store()).chain(o.state.as_ref().map(RawJson::store))
        }))
    }

    fn own(self, shared: &mut SharedText) -> ChannelOccupancy<'static> {
        ChannelOccupancy {
            name: self.name.own(shared),
            occupancy: self.occupancy,
            occupants: self
                .occupants
                .into_iter()
                .map(|o| Occupant {
                    user_id: o.user_id.own(shared),
                    state: o.state.map(|s| s.own(shared)),
                })
                .collect(),
        }
    }
}

/// A present user. `Display`: the user id, then the state as compact JSON when there
/// is one (`ann {"mood":"ok"}`). JSON: `{"user_id": "ann", "state": {"mood": "ok"}}`
/// (`state` is `null` when none was sent).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Occupant<'a> {
    /// The user id (borrowed from the body in a view, unless escaped there).
    pub user_id: Name<'a>,
    /// The user's state on the channel as the service sent it, when state was
    /// requested and the user has one.
    pub state: Option<RawJson<'a>>,
}

impl Occupant<'_> {
    /// The same occupant owning its user id and state.
    pub fn into_owned(self) -> Occupant<'static> {
        Occupant {
            user_id: self.user_id.into_owned(),
            state: self.state.map(RawJson::into_owned),
        }
    }
}

impl fmt::Display for HereNowResult<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} present on {} {}",
            self.total_occupancy,
            self.total_channels,
            if self.total_channels == 1 {
                "channel"
            } else {
                "channels"
            }
        )?;
        for channel in &self.channels {
            write!(f, "\n{channel}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ChannelOccupancy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (occupancy {})", self.name, self.occupancy)?;
        for (i, occupant) in self.occupants.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            write!(f, "{occupant}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Occupant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user_id)?;
        if let Some(state) = &self.state {
            write!(f, " {state}")?;
        }
        Ok(())
    }
}

impl<C: Send + Sync> Operation for HereNow<C> {
    type Output = HereNowResult<'static>;
    const NAME: &'static str = "here_now";

    fn channel_count(&self) -> usize {
        self.target_count()
    }
}

impl<C: Send + Sync> sealed::Encode for HereNow<C> {
    type Parsed = HereNowResult<'static>;

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let Targets { channels, groups } = self.targets()?;
        if !(1..=HERE_NOW_MAX_LIMIT).contains(&self.limit) {
            return Err(Error::invalid(
                "limit",
                format!("{} is outside 1..={HERE_NOW_MAX_LIMIT}", self.limit),
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

    fn parse_body(&self, body: &[u8]) -> Result<HereNowResult<'static>, BodyError> {
        let text = crate::response::json_text(EXPECTED, body)?;
        // Every name and state the body holds unescaped is a range of one copy of it,
        // made as it is read.
        self.parse_text(text, body, &mut BodyCopy::new(text))
    }
}

/// What a here-now body is called in errors.
const EXPECTED: &str = "here now body";

impl<C> HereNow<C> {
    /// Parses the response into a [`HereNowResult`] that borrows from the body: user
    /// ids and channel names are not copied (unless the body escapes them) and states
    /// stay raw JSON text. The same classification as
    /// [`parse_response`](Operation::parse_response) applies (service errors, "false
    /// 200", malformed bodies). Use it for large here-now answers (global here now on a
    /// busy keyset); [`HereNowResult::into_owned`] gives the owned result.
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
    /// assert_eq!(ann.state.as_ref().unwrap().get(), r#"{"mood": "ok"}"#);
    /// assert_eq!(view.into_owned().channels[0].name, "lobby");
    /// ```
    pub fn parse_view<'a, B: AsRef<[u8]>>(
        &self,
        response: &'a http::Response<B>,
    ) -> Result<HereNowResult<'a>, Error> {
        crate::response::classify(response, |body| self.parse_view_body(body))
    }

    /// [`parse_view`](Self::parse_view)'s body parser.
    fn parse_view_body<'a>(&self, body: &'a [u8]) -> Result<HereNowResult<'a>, BodyError> {
        let text = crate::response::json_text(EXPECTED, body)?;
        self.parse_text(text, body, &mut Borrowed)
    }

    /// The one here-now parser (both body shapes, the view and the owned result), on the
    /// one-pass JSON reader, once the body is known to be UTF-8 `text`: each name and
    /// state kept as `keep` says (borrowed, or a range of the body's copy).
    fn parse_text<'a, 'o>(
        &self,
        text: &'a str,
        body: &[u8],
        keep: &mut impl Keep<'a, 'o>,
    ) -> Result<HereNowResult<'o>, BodyError> {
        let mut reader = Reader::new(text);
        let top = read_top(&mut reader, keep)
            .and_then(|top| reader.end().map(|()| top))
            .map_err(|e| Error::malformed(EXPECTED, e.to_string(), body))?;
        if top.status.is_some_and(|s| s >= 400) || top.error {
            return Err(BodyError::Flagged(EXPECTED));
        }
        if let Some(payload) = top.payload {
            let channels = payload.channels.unwrap_or_default();
            let total_occupancy = payload
                .total_occupancy
                // Saturating: occupancies come from the body, and their sum may not fit.
                .unwrap_or_else(|| {
                    channels
                        .iter()
                        .fold(0u64, |t, c| t.saturating_add(c.occupancy))
                });
            let total_channels = payload.total_channels.unwrap_or(channels.len() as u64);
            return Ok(HereNowResult {
                total_channels,
                total_occupancy,
                channels,
            });
        }
        let Some(occupancy) = top.occupancy else {
            return Err(Error::malformed(
                EXPECTED,
                "neither `payload` nor `occupancy` present",
                body,
            )
            .into());
        };
        let Some(name) = self.single_channel() else {
            return Err(Error::malformed(
                EXPECTED,
                "single-channel body for a request that did not name exactly one channel",
                body,
            )
            .into());
        };
        Ok(HereNowResult {
            total_channels: top.total_channels.unwrap_or(1),
            total_occupancy: top.total_occupancy.unwrap_or(occupancy),
            channels: vec![ChannelOccupancy {
                name: Name::from(name.to_owned()),
                occupancy,
                occupants: top.uuids.unwrap_or_default(),
            }],
        })
    }
}

/// The top-level fields of a here-now body.
#[derive(Default)]
struct Top<'a> {
    status: Option<i64>,
    error: bool,
    uuids: Option<Vec<Occupant<'a>>>,
    occupancy: Option<u64>,
    total_channels: Option<u64>,
    total_occupancy: Option<u64>,
    payload: Option<Payload<'a>>,
}

/// `payload` of the multi-channel and global shapes.
#[derive(Default)]
struct Payload<'a> {
    channels: Option<Vec<ChannelOccupancy<'a>>>,
    total_channels: Option<u64>,
    total_occupancy: Option<u64>,
}

/// The known keys of one JSON object of the body.
trait Key: Copy {
    /// The key's variant, `None` for a key the reader skips.
    fn of(key: &str) -> Option<Self>;
    /// Its position, for the duplicate check.
    fn index(self) -> u32;
}

/// Declares the known keys of a JSON object as an enum implementing [`Key`].
macro_rules! keys {
    ($(#[$doc:meta])* enum $name:ident { $($variant:ident = $key:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        enum $name {
            $($variant,)*
        }

        impl Key for $name {
            #[inline]
            fn of(key: &str) -> Option<Self> {
                match key {
                    $($key => Some(Self::$variant),)*
                    _ => None,
                }
            }

            fn index(self) -> u32 {
                self as u32
            }
        }
    };
}

keys! {
    /// The top-level object.
    enum TopKey {
        Status = "status",
        Error = "error",
        Uuids = "uuids",
        Occupancy = "occupancy",
        TotalChannels = "total_channels",
        TotalOccupancy = "total_occupancy",
        Payload = "payload",
    }
}

keys! {
    /// `payload`.
    enum PayloadKey {
        Channels = "channels",
        TotalChannels = "total_channels",
        TotalOccupancy = "total_occupancy",
    }
}

keys! {
    /// One channel of `payload.channels`.
    enum ChannelKey {
        Occupancy = "occupancy",
        Uuids = "uuids",
    }
}

keys! {
    /// One occupant object of `uuids`.
    enum OccupantKey {
        Uuid = "uuid",
        State = "state",
    }
}

/// Reads the fields of an object: `read` reads the value of each known key (each may
/// appear once, like the fields of serde's derived structs); unknown keys are skipped.
fn fields<'a, K: Key>(
    r: &mut Reader<'a>,
    what: &str,
    mut read: impl FnMut(&mut Reader<'a>, K) -> json::Result<()>,
) -> json::Result<()> {
    r.begin_object(what)?;
    let (mut first, mut seen) = (true, 0u32);
    while let Some(key) = r.next_raw_key(&mut first)? {
        let known = if key.escaped {
            K::of(&r.decode(key)?)
        } else {
            K::of(key.text)
        };
        let Some(known) = known else {
            r.skip()?;
            continue;
        };
        let bit = 1u32 << known.index();
        if seen & bit != 0 {
            let key = r.decode(key)?;
            return r.error(format!("duplicate field `{key}` in {what}"));
        }
        seen |= bit;
        read(r, known)?;
    }
    Ok(())
}

/// `null` or an unsigned integer.
fn opt_u64(r: &mut Reader<'_>, what: &str) -> json::Result<Option<u64>> {
    Ok(if r.null()? { None } else { Some(r.u64(what)?) })
}

fn read_top<'a, 'o>(r: &mut Reader<'a>, keep: &mut impl Keep<'a, 'o>) -> json::Result<Top<'o>> {
    let mut top = Top::default();
    fields(r, "the here now body", |r, key| {
        match key {
            TopKey::Status => {
                top.status = if r.null()? {
                    None
                } else {
                    Some(r.i64("`status`")?)
                }
            }
            TopKey::Error => top.error = r.error_flag()?,
            TopKey::Uuids => {
                top.uuids = if r.null()? {
                    None
                } else {
                    let mut occupants = Vec::new();
                    read_occupants(r, keep, &mut occupants)?;
                    Some(occupants)
                }
            }
            TopKey::Occupancy => top.occupancy = opt_u64(r, "`occupancy`")?,
            TopKey::TotalChannels => top.total_channels = opt_u64(r, "`total_channels`")?,
            TopKey::TotalOccupancy => top.total_occupancy = opt_u64(r, "`total_occupancy`")?,
            TopKey::Payload => {
                top.payload = if r.null()? {
                    None
                } else {
                    Some(read_payload(r, keep)?)
                }
            }
        }
        Ok(())
    })?;
    Ok(top)
}

fn read_payload<'a, 'o>(
    r: &mut Reader<'a>,
    keep: &mut impl Keep<'a, 'o>,
) -> json::Result<Payload<'o>> {
    let mut payload = Payload::default();
    fields(r, "`payload`", |r, key| {
        match key {
            PayloadKey::Channels => {
                payload.channels = if r.null()? {
                    None
                } else {
                    Some(read_channels(r, keep)?)
                }
            }
            PayloadKey::TotalChannels => {
                payload.total_channels = opt_u64(r, "`payload.total_channels`")?
            }
            PayloadKey::TotalOccupancy => {
                payload.total_occupancy = opt_u64(r, "`payload.total_occupancy`")?
            }
        }
        Ok(())
    })?;
    Ok(payload)
}

/// `payload.channels`: a map of name → channel, kept in wire order.
fn read_channels<'a, 'o>(
    r: &mut Reader<'a>,
    keep: &mut impl Keep<'a, 'o>,
) -> json::Result<Vec<ChannelOccupancy<'o>>> {
    let mut channels = Vec::new();
    // Occupants are read into one buffer and copied out at their exact count: one
    // allocation per channel instead of a growing `Vec` each.
    let mut scratch = Vec::new();
    r.begin_object("`payload.channels`")?;
    let mut first = true;
    while let Some(name) = r.next_key(&mut first)? {
        let (mut occupancy, mut occupants) = (None, None);
        fields(r, "a channel of `payload.channels`", |r, key| {
            match key {
                ChannelKey::Occupancy => occupancy = Some(r.u64("`occupancy`")?),
                ChannelKey::Uuids => {
                    if !r.null()? {
                        read_occupants(r, keep, &mut scratch)?;
                        let mut exact = Vec::with_capacity(scratch.len());
                        exact.append(&mut scratch);
                        occupants = Some(exact);
                    }
                }
            }
            Ok(())
        })?;
        let Some(occupancy) = occupancy else {
            return r.error(format!("channel `{name}` has no `occupancy`"));
        };
        channels.push(ChannelOccupancy {
            name: Name::from_store(keep.keep(name)),
            occupancy,
            occupants: occupants.unwrap_or_default(),
        });
    }
    Ok(channels)
}

/// A `uuids` list, appended to `occupants`: each element a plain user id string,
/// `{"uuid": …}` or `{"uuid": …, "state": …}`.
fn read_occupants<'a, 'o>(
    r: &mut Reader<'a>,
    keep: &mut impl Keep<'a, 'o>,
    occupants: &mut Vec<Occupant<'o>>,
) -> json::Result<()> {
    r.begin_array("`uuids`")?;
    let mut first = true;
    while r.next_element(&mut first)? {
        // Room for 16 at the first occupant instead of growing 4, 8, 16 (the service
        // sends `uuids` before `occupancy`, so the count is not known yet): lists of up
        // to 16 in one allocation. Matters for the single-channel body; the
        // multi-channel one reads into a reused scratch list.
        if occupants.capacity() == 0 {
            occupants.reserve(16);
        }
        if r.peek() == Some(b'"') {
            occupants.push(Occupant {
                user_id: Name::from_store(keep.keep(r.string("a user id")?)),
                state: None,
            });
            continue;
        }
        if r.peek() != Some(b'{') {
            return r.error("expected a user id string or an object with `uuid` in `uuids`");
        }
        let (mut user_id, mut state) = (None, None);
        fields(r, "an occupant", |r, key| {
            match key {
                OccupantKey::Uuid => {
                    user_id = Some(Name::from_store(keep.keep(r.string("`uuid`")?)))
                }
                OccupantKey::State => {
                    if !r.null()? {
                        state = Some(RawJson::from_store(keep.keep(r.skip()?.into())));
                    }
                }
            }
            Ok(())
        })?;
        let Some(user_id) = user_id else {
            return r.error("an occupant has no `uuid`");
        };
        occupants.push(Occupant { user_id, state });
    }
    Ok(())
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
        assert_eq!(ch.name.as_borrowed(), Some("a"));
        assert_eq!(ch.occupants[0].user_id.as_borrowed(), Some("ann"));
        assert_eq!(ch.occupants[1].user_id.as_borrowed(), None);
        assert_eq!(ch.occupants[1].user_id, "béa");
        assert_eq!(view.total_occupancy, 2);
    }

    /// `parse_response`: every name and state borrowed in the view is a range of one
    /// copy of the body; an escaped name (decoded, so not in the body) and the
    /// single-channel name (from the request) are strings of their own.
    #[test]
    fn the_owned_result_shares_one_copy_of_the_body() {
        let op = HereNow::new().channels(["lobby"]).include_state(true);
        let body = r#"{"status": 200, "uuids": [{"uuid": "ann", "state": {"a": 1}}, {"uuid": "b\u00e9a"}], "occupancy": 2}"#;
        let owned = op.parse_response(&response(200, body)).unwrap();
        let shared = |s: &Store<'_>| match s {
            Store::Shared { all, .. } => Some(std::sync::Arc::clone(all)),
            _ => None,
        };
        let occupants = &owned.channels[0].occupants;
        let copy = shared(occupants[0].user_id.store()).expect("shared user id");
        assert_eq!(&*copy, body);
        let state = shared(occupants[0].state.as_ref().unwrap().store()).expect("shared state");
        assert!(std::sync::Arc::ptr_eq(&copy, &state));
        assert_eq!(occupants[0].user_id, "ann");
        assert_eq!(occupants[0].state.as_ref().unwrap().get(), r#"{"a": 1}"#);
        assert!(matches!(occupants[1].user_id.store(), Store::Owned(s) if s == "béa"));
        assert!(matches!(owned.channels[0].name.store(), Store::Owned(s) if s == "lobby"));
    }

    /// The multi-channel shape: channel names come from the body too, and are ranges of
    /// the same copy as the user ids and states; an escaped channel name is its own.
    #[test]
    fn the_owned_multi_channel_result_shares_one_copy_of_the_body() {
        let op = HereNow::new()
            .channels(["lobby", "b\u{e9}"])
            .include_state(true);
        let body = r#"{"status": 200, "payload": {"channels": {"lobby": {"occupancy": 1, "uuids": [{"uuid": "u-ann", "state": {"x": 1}}]}, "b\u00e9": {"occupancy": 1, "uuids": ["bob"]}}}}"#;
        let owned = op.parse_response(&response(200, body)).unwrap();
        let range = |s: &Store<'_>| match s {
            Store::Shared { all, start, len } => {
                assert_eq!(&**all, body);
                Some((*start as usize, *len as usize))
            }
            _ => None,
        };
        let at = |text: &str| Some((body.find(text).unwrap(), text.len()));
        let (a, b) = (&owned.channels[0], &owned.channels[1]);
        assert_eq!(range(a.name.store()), at("lobby"));
        assert_eq!(range(a.occupants[0].user_id.store()), at("u-ann"));
        assert_eq!(
            range(a.occupants[0].state.as_ref().unwrap().store()),
            at(r#"{"x": 1}"#)
        );
        assert_eq!(range(b.occupants[0].user_id.store()), at("bob"));
        assert!(matches!(b.name.store(), Store::Owned(s) if s == "b\u{e9}"));
    }

    /// A state the JSON grammar allows but `Value` cannot hold (a number beyond `f64`,
    /// a lone surrogate) is delivered as its text; only reading that one state into a
    /// `Value` fails, and every other occupant reads normally.
    #[test]
    fn a_state_value_cannot_hold_is_kept_as_text() {
        let op = HereNow::new().channels(["lobby"]).include_state(true);
        let r = response(
            200,
            r#"{"status": 200, "occupancy": 3, "uuids": [{"uuid": "ann", "state": {"n": 1e400}}, {"uuid": "bob", "state": {"s": "x\ud800y"}}, {"uuid": "cy", "state": {"ok": true}}]}"#,
        );
        for result in [op.parse_view(&r).unwrap(), op.parse_response(&r).unwrap()] {
            let occupants = &result.channels[0].occupants;
            let state = |i: usize| occupants[i].state.as_ref().unwrap();
            assert_eq!(state(0).get(), r#"{"n": 1e400}"#);
            assert!(state(0)
                .to_value()
                .unwrap_err()
                .to_string()
                .contains("out of range"));
            assert_eq!(state(1).get(), r#"{"s": "x\ud800y"}"#);
            assert!(state(1).to_value().is_err());
            assert_eq!(state(2), &serde_json::json!({"ok": true}));
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
        assert_eq!(
            op.parse_view(&r).unwrap_err().kind(),
            crate::ErrorKind::MalformedResponse
        );
        assert_eq!(
            op.parse_response(&r).unwrap_err().kind(),
            crate::ErrorKind::MalformedResponse
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
                crate::ErrorKind::MalformedResponse,
                "{body}"
            );
            assert_eq!(
                op.parse_response(&r).unwrap_err().kind(),
                crate::ErrorKind::MalformedResponse,
                "{body}"
            );
        }
    }

    /// What the one-pass reader rejects, each with the field it names: serde's rules for
    /// the typed fields, objects where objects belong (serde's derived structs also took
    /// a JSON array as a struct), and the JSON grammar and nesting bound everywhere,
    /// unknown fields and raw states included.
    #[test]
    fn reader_rejections_name_what_was_wrong() {
        let op = HereNow::new().channels(["a", "b"]).include_state(true);
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let cases = [
            (r#"{"status":200,"payload":[{"a":{"occupancy":1}},1,1]}"#.to_owned(), "`payload` (a JSON object)"),
            (r#"{"status":200,"payload":{"channels":[]}}"#.to_owned(), "`payload.channels` (a JSON object)"),
            (r#"{"status":200,"payload":{"channels":{"a":{"occupancy":-0}}}}"#.to_owned(), "found `-0`"),
            (r#"{"status":200,"payload":{"channels":{"a":{"occupancy":1.0}}}}"#.to_owned(), "found `1.0`"),
            (r#"{"status":200,"payload":{"channels":{"a":{"occupancy":null}}}}"#.to_owned(), "`occupancy` (an unsigned integer)"),
            (r#"{"status":200,"payload":{"channels":{"a":{}}}}"#.to_owned(), "channel `a` has no `occupancy`"),
            (r#"{"status":200,"payload":{},"payload":{}}"#.to_owned(), "duplicate field `payload`"),
            (r#"{"status":"200","payload":{}}"#.to_owned(), "`status` (an integer)"),
            (r#"{"status":200,"payload":{"channels":{"a":{"occupancy":1,"uuids":[true]}}}}"#.to_owned(), "an object with `uuid`"),
            (r#"{"status":200,"payload":{"channels":{"a":{"occupancy":1,"uuids":[{"state":{}}]}}}}"#.to_owned(), "has no `uuid`"),
            (r#"{"status":200,"payload":{}} x"#.to_owned(), "trailing characters"),
            (r#"{"status":200,"payload":{},}"#.to_owned(), "expected a key after `,`"),
            (format!(r#"{{"status":200,"extra":{deep},"payload":{{}}}}"#), "nested deeper than 127"),
            (format!(r#"{{"status":200,"payload":{{"channels":{{"a":{{"occupancy":1,"uuids":[{{"uuid":"u","state":{deep}}}]}}}}}}}}"#), "nested deeper than 127"),
            ("{\"status\":200,\"payload\":{\"channels\":{\"a\u{1}\":{\"occupancy\":1}}}}".to_owned(), "control character"),
            (r#"{"status":200,"occupancy":1,"uuids":["\ud800"]}"#.to_owned(), "unreadable string"),
        ];
        for (body, needle) in cases {
            let r = response(200, &body);
            for err in [
                op.parse_view(&r).unwrap_err(),
                op.parse_response(&r).unwrap_err(),
            ] {
                match err {
                    Error::MalformedResponse { detail, .. } => {
                        assert!(detail.contains(needle), "{body}: {detail}")
                    }
                    other => panic!("{body}: {other:?}"),
                }
            }
        }
        // A lone surrogate in a *state* is valid JSON text: both parses keep it as text.
        let r = response(
            200,
            r#"{"status":200,"occupancy":1,"uuids":[{"uuid":"u","state":"\ud800"}]}"#,
        );
        let op = HereNow::new().channels(["lobby"]).include_state(true);
        let view = op.parse_view(&r).unwrap();
        assert_eq!(
            view.channels[0].occupants[0].state.as_ref().unwrap().get(),
            r#""\ud800""#
        );
        assert!(op.parse_response(&r).is_ok());
    }

    /// Found by review: an `error` number that serde_json reads as 0 (std's float parse
    /// gives 5e-324) is not a "false 200"; the body parses.
    #[test]
    fn error_flag_numbers_read_as_serde_json_reads_them() {
        let op = HereNow::new().channels(["a"]);
        let r = response(
            200,
            r#"{"status":200,"occupancy":1,"uuids":["a"],"error":2.4703282292062328e-324}"#,
        );
        assert_eq!(op.parse_response(&r).unwrap().total_occupancy, 1);
        assert_eq!(op.parse_view(&r).unwrap().total_occupancy, 1);
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
