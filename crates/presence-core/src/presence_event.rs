//! Presence events as delivered on `<channel>-pnpres` (PROTOCOL.md §7.2, §7.3).
//!
//! Dispatch is on the payload's `action` (not on which fields happen to be present, the
//! pubnub Rust crate's quirk of §10.8); `timestamp` may be a number or a string.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

use crate::ops::subscribe::PRESENCE_SUFFIX;
use crate::RawJson;

/// A presence event.
///
/// `Display`: one line, `join lobby ann (occupancy 1) state {"mood":"ok"}` or
/// `interval lobby (occupancy 25) join: a, b; leave: c`.
///
/// JSON (feature `serde`), stable, tagged by the wire `action`:
///
/// ```json
/// {"action": "join", "channel": "lobby", "subscription": null, "user_id": "ann",
///  "occupancy": 1, "timestamp": 1700000000, "state": {"mood": "ok"},
///  "timetoken": "17000000000000000"}
/// {"action": "interval", "channel": "lobby", "subscription": null, "occupancy": 25,
///  "timestamp": 1700000000, "join": ["a"], "leave": [], "timeout": [],
///  "here_now_refresh": false, "timetoken": "17000000000000000"}
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "action", rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum PresenceEvent {
    /// A user joined the channel.
    Join(PresenceChange),
    /// A user left the channel.
    Leave(PresenceChange),
    /// A user stopped heartbeating and timed out.
    Timeout(PresenceChange),
    /// A user's state changed.
    StateChange(PresenceChange),
    /// Interval mode: a summary instead of per-user events.
    Interval(IntervalEvent),
}

/// The JSON shape of either kind of event, read in one pass (serde's internally tagged
/// enums buffer their content, which a raw state cannot be read from).
#[cfg(feature = "serde")]
#[derive(Deserialize)]
struct EventJson {
    action: String,
    channel: String,
    #[serde(default)]
    subscription: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    occupancy: u64,
    timestamp: u64,
    #[serde(default)]
    state: Option<RawJson<'static>>,
    timetoken: String,
    #[serde(default)]
    join: Vec<String>,
    #[serde(default)]
    leave: Vec<String>,
    #[serde(default)]
    timeout: Vec<String>,
    #[serde(default)]
    here_now_refresh: bool,
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for PresenceEvent {
    /// The shape `Serialize` writes (see the type's docs).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let e = EventJson::deserialize(deserializer)?;
        if e.action == "interval" {
            return Ok(PresenceEvent::Interval(IntervalEvent {
                channel: e.channel,
                subscription: e.subscription,
                occupancy: e.occupancy,
                timestamp: e.timestamp,
                join: e.join,
                leave: e.leave,
                timeout: e.timeout,
                here_now_refresh: e.here_now_refresh,
                timetoken: e.timetoken,
            }));
        }
        let change = PresenceChange {
            channel: e.channel,
            subscription: e.subscription,
            user_id: e
                .user_id
                .ok_or_else(|| de::Error::missing_field("user_id"))?,
            occupancy: e.occupancy,
            timestamp: e.timestamp,
            state: e.state,
            timetoken: e.timetoken,
        };
        Ok(match e.action.as_str() {
            "join" => PresenceEvent::Join(change),
            "leave" => PresenceEvent::Leave(change),
            "timeout" => PresenceEvent::Timeout(change),
            "state-change" => PresenceEvent::StateChange(change),
            other => {
                return Err(de::Error::unknown_variant(
                    other,
                    &["join", "leave", "timeout", "state-change", "interval"],
                ))
            }
        })
    }
}

impl fmt::Display for PresenceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresenceEvent::Interval(i) => i.fmt(f),
            other => match other.change() {
                Some(c) => write!(f, "{} {c}", other.action()),
                None => write!(f, "{} {}", other.action(), other.channel()),
            },
        }
    }
}

impl PresenceEvent {
    /// The channel the event is about.
    pub fn channel(&self) -> &str {
        match self {
            PresenceEvent::Join(c)
            | PresenceEvent::Leave(c)
            | PresenceEvent::Timeout(c)
            | PresenceEvent::StateChange(c) => &c.channel,
            PresenceEvent::Interval(i) => &i.channel,
        }
    }

    /// The wire `action`.
    pub fn action(&self) -> &'static str {
        match self {
            PresenceEvent::Join(_) => "join",
            PresenceEvent::Leave(_) => "leave",
            PresenceEvent::Timeout(_) => "timeout",
            PresenceEvent::StateChange(_) => "state-change",
            PresenceEvent::Interval(_) => "interval",
        }
    }

    /// The publish timetoken of the message that carried the event.
    pub fn timetoken(&self) -> &str {
        match self {
            PresenceEvent::Join(c)
            | PresenceEvent::Leave(c)
            | PresenceEvent::Timeout(c)
            | PresenceEvent::StateChange(c) => &c.timetoken,
            PresenceEvent::Interval(i) => &i.timetoken,
        }
    }

    /// The per-user change, for every event but [`Interval`](PresenceEvent::Interval).
    pub fn change(&self) -> Option<&PresenceChange> {
        match self {
            PresenceEvent::Join(c)
            | PresenceEvent::Leave(c)
            | PresenceEvent::Timeout(c)
            | PresenceEvent::StateChange(c) => Some(c),
            PresenceEvent::Interval(_) => None,
        }
    }

    /// A key identifying the event for de-duplication (PROTOCOL.md §10.15): channel,
    /// action, user and the publish timetoken of the message that carried it. A
    /// re-delivery (the recorded duplicate timeout came again with the same publish
    /// timetoken under a new cursor) has the same key; two real events, even within the
    /// same second, do not. Without a publish timetoken the timestamp stands in.
    pub fn dedup_key(&self) -> String {
        let (channel, user, timestamp, timetoken) = match self {
            PresenceEvent::Interval(i) => (&i.channel, "", i.timestamp, &i.timetoken),
            PresenceEvent::Join(c)
            | PresenceEvent::Leave(c)
            | PresenceEvent::Timeout(c)
            | PresenceEvent::StateChange(c) => {
                (&c.channel, c.user_id.as_str(), c.timestamp, &c.timetoken)
            }
        };
        if timetoken.is_empty() {
            format!(
                "{channel}\u{0}{}\u{0}{user}\u{0}ts{timestamp}",
                self.action()
            )
        } else {
            format!(
                "{channel}\u{0}{}\u{0}{user}\u{0}tt{timetoken}",
                self.action()
            )
        }
    }
}

/// A per-user presence change. `Display`: `lobby ann (occupancy 1) state {"mood":"ok"}`.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct PresenceChange {
    /// The channel (without `-pnpres`).
    pub channel: String,
    /// The subscription that matched (a channel group, without `-pnpres`), if the service
    /// named one.
    pub subscription: Option<String>,
    /// The user.
    pub user_id: String,
    /// Occupancy after the change.
    pub occupancy: u64,
    /// Unix seconds.
    pub timestamp: u64,
    /// The user's state (`data` on the wire), when sent, as the service sent it (see
    /// [`RawJson`]).
    pub state: Option<RawJson<'static>>,
    /// The publish timetoken.
    pub timetoken: String,
}

/// An interval-mode summary. `Display`: `interval lobby (occupancy 25) join: a, b;
/// leave: c` (`here now refresh` when the service asks for one).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct IntervalEvent {
    /// The channel (without `-pnpres`).
    pub channel: String,
    /// The matching subscription, if named.
    pub subscription: Option<String>,
    /// Occupancy now.
    pub occupancy: u64,
    /// Unix seconds.
    pub timestamp: u64,
    /// Users who joined since the last interval.
    pub join: Vec<String>,
    /// Users who left.
    pub leave: Vec<String>,
    /// Users who timed out.
    pub timeout: Vec<String>,
    /// The lists were too long: call here now to refresh.
    pub here_now_refresh: bool,
    /// The publish timetoken.
    pub timetoken: String,
}

impl fmt::Display for PresenceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (occupancy {})",
            self.channel, self.user_id, self.occupancy
        )?;
        if let Some(state) = &self.state {
            write!(f, " state {state}")?;
        }
        Ok(())
    }
}

impl fmt::Display for IntervalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interval {} (occupancy {})",
            self.channel, self.occupancy
        )?;
        let lists = [
            ("join", &self.join),
            ("leave", &self.leave),
            ("timeout", &self.timeout),
        ];
        let mut first = true;
        for (label, users) in lists.iter().filter(|(_, u)| !u.is_empty()) {
            write!(
                f,
                "{} {label}: {}",
                if first { "" } else { ";" },
                users.join(", ")
            )?;
            first = false;
        }
        if self.here_now_refresh {
            f.write_str(" (here now refresh)")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
pub(crate) struct RawMessage {
    #[serde(default)]
    c: String,
    #[serde(default)]
    b: Option<String>,
    #[serde(default)]
    d: Option<Box<RawValue>>,
    #[serde(default)]
    p: Option<RawTimetoken>,
}

#[derive(Deserialize)]
struct RawTimetoken {
    #[serde(deserialize_with = "string_or_number")]
    t: String,
}

fn strip(name: &str) -> &str {
    name.strip_suffix(PRESENCE_SUFFIX).unwrap_or(name)
}

impl RawMessage {
    /// The event, or `None` for a non-presence message.
    pub(crate) fn into_event(self) -> Result<Option<PresenceEvent>, UnreadableEvent> {
        if !self.c.ends_with(PRESENCE_SUFFIX) {
            return Ok(None);
        }
        let channel = strip(&self.c).to_owned();
        let subscription = self
            .b
            .as_deref()
            .map(strip)
            .filter(|b| *b != channel)
            .map(str::to_owned);
        let timetoken = self.p.map(|p| p.t).unwrap_or_default();
        let d = self.d.as_ref().map_or("null", |d| d.get());
        parse_payload(channel.clone(), subscription, timetoken, d)
            .map(Some)
            .map_err(|reason| UnreadableEvent { channel, reason })
    }
}

/// A presence message on a `-pnpres` channel that could not be read as an event; the
/// batch it came in is still read (and the cursor moves on).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnreadableEvent {
    /// The channel (without `-pnpres`).
    pub channel: String,
    /// What was wrong with the payload.
    pub reason: EventError,
}

impl fmt::Display for UnreadableEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unreadable presence message on `{}`: {}",
            self.channel, self.reason
        )
    }
}

/// Why a presence payload (`d`) is not an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// `d` is not a JSON object.
    NotAnObject,
    /// `d` has no string `action`.
    NoAction,
    /// An `action` this SDK does not know.
    UnknownAction(String),
    /// A required field is missing (`uuid` of a per-user event).
    MissingField(&'static str),
    /// A field has the wrong type or an impossible value.
    InvalidField {
        /// The field (`timestamp`, `occupancy`, `join`…).
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::NotAnObject => f.write_str("the payload `d` is not an object"),
            EventError::NoAction => f.write_str("the payload has no string `action`"),
            EventError::UnknownAction(a) => write!(f, "unknown presence action {a:?}"),
            EventError::MissingField(field) => write!(f, "`{field}` is missing"),
            EventError::InvalidField { field, expected } => {
                write!(f, "`{field}` is not {expected}")
            }
        }
    }
}

impl std::error::Error for EventError {}

/// The fields of a presence payload `d`, each kept as its JSON text.
struct Fields(BTreeMap<String, Box<RawValue>>);

impl Fields {
    fn raw(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(|v| v.get())
    }

    /// A count or time field: a non-negative integer, as a number or a numeric string
    /// (PROTOCOL.md §10.8); absent is `None`, and so is `null` when `null_ok`.
    fn unsigned(&self, field: &'static str, null_ok: bool) -> Result<Option<u64>, EventError> {
        let invalid = EventError::InvalidField {
            field,
            expected: "a non-negative integer",
        };
        match self.raw(field) {
            None => Ok(None),
            Some("null") if null_ok => Ok(None),
            Some(text) if text.starts_with('"') => serde_json::from_str::<String>(text)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or(invalid),
            Some(text) => serde_json::from_str::<u64>(text)
                .map(Some)
                .map_err(|_| invalid),
        }
    }

    /// A list of user ids of an interval event (`join`, `leave`, `timeout`); absent or
    /// `null` is empty.
    fn user_list(&self, field: &'static str) -> Result<Vec<String>, EventError> {
        match self.raw(field) {
            None | Some("null") => Ok(Vec::new()),
            Some(text) => serde_json::from_str(text).map_err(|_| EventError::InvalidField {
                field,
                expected: "an array of user id strings",
            }),
        }
    }

    /// A string field (`action`, `uuid`).
    fn string(&self, field: &str) -> Option<Result<String, ()>> {
        self.raw(field)
            .map(|text| serde_json::from_str::<String>(text).map_err(|_| ()))
    }
}

/// Parses a presence payload (`d`, JSON text already checked by the envelope's reader)
/// for `channel`. States stay raw JSON, so an odd state never makes the event
/// unreadable.
pub(crate) fn parse_payload(
    channel: String,
    subscription: Option<String>,
    timetoken: String,
    d: &str,
) -> Result<PresenceEvent, EventError> {
    if !d.starts_with('{') {
        return Err(EventError::NotAnObject);
    }
    let fields = Fields(serde_json::from_str(d).map_err(|_| EventError::NotAnObject)?);
    let Some(Ok(action)) = fields.string("action") else {
        return Err(EventError::NoAction);
    };
    let timestamp = fields.unsigned("timestamp", false)?.unwrap_or(0);
    let occupancy = fields.unsigned("occupancy", true)?.unwrap_or(0);
    if action == "interval" {
        return Ok(PresenceEvent::Interval(IntervalEvent {
            join: fields.user_list("join")?,
            leave: fields.user_list("leave")?,
            timeout: fields.user_list("timeout")?,
            here_now_refresh: fields.raw("here_now_refresh") == Some("true"),
            channel,
            subscription,
            occupancy,
            timestamp,
            timetoken,
        }));
    }
    let user_id = match (fields.raw("uuid"), fields.string("uuid")) {
        (None | Some("null"), _) => return Err(EventError::MissingField("uuid")),
        (_, Some(Ok(u))) => u,
        _ => {
            return Err(EventError::InvalidField {
                field: "uuid",
                expected: "a string",
            })
        }
    };
    let state = match fields.raw("data").or_else(|| fields.raw("state")) {
        None | Some("null") => None,
        Some(text) => Some(RawJson::checked_owned(text.to_owned())),
    };
    let change = PresenceChange {
        channel,
        subscription,
        user_id,
        occupancy,
        timestamp,
        state,
        timetoken,
    };
    Ok(match action.as_str() {
        "join" => PresenceEvent::Join(change),
        "leave" => PresenceEvent::Leave(change),
        "timeout" => PresenceEvent::Timeout(change),
        "state-change" => PresenceEvent::StateChange(change),
        _ => return Err(EventError::UnknownAction(action)),
    })
}

/// Deserializes a timetoken given as a string or a number into a string.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timetoken string or number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(V)
}
