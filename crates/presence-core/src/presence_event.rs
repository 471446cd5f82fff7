//! Presence events as delivered on `<channel>-pnpres` (PROTOCOL.md §7.2, §7.3).
//!
//! Dispatch is on the payload's `action` (not on which fields happen to be present, the
//! pubnub Rust crate's quirk of §10.8); `timestamp` may be a number or a string.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

use crate::ops::subscribe::PRESENCE_SUFFIX;

/// A presence event.
#[derive(Debug, Clone, PartialEq)]
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

/// A per-user presence change.
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// The user's state (`data` on the wire), when sent.
    pub state: Option<Value>,
    /// The publish timetoken.
    pub timetoken: String,
}

/// An interval-mode summary.
#[derive(Debug, Clone, PartialEq, Default)]
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

#[derive(Deserialize)]
pub(crate) struct RawMessage {
    #[serde(default)]
    c: String,
    #[serde(default)]
    b: Option<String>,
    #[serde(default)]
    d: Value,
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
        parse_payload(channel.clone(), subscription, timetoken, self.d)
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

/// A count or time field: a non-negative integer, as a number or a numeric string
/// (PROTOCOL.md §10.8); absent is `None`, and so is `null` when `null_ok`.
fn unsigned(
    d: &serde_json::Map<String, Value>,
    field: &'static str,
    null_ok: bool,
) -> Result<Option<u64>, EventError> {
    let invalid = EventError::InvalidField {
        field,
        expected: "a non-negative integer",
    };
    match d.get(field) {
        None => Ok(None),
        Some(Value::Null) if null_ok => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(invalid),
        Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| invalid),
        Some(_) => Err(invalid),
    }
}

/// A list of user ids of an interval event (`join`, `leave`, `timeout`).
fn user_list(
    d: &mut serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<Vec<String>, EventError> {
    let invalid = EventError::InvalidField {
        field,
        expected: "an array of user id strings",
    };
    match d.remove(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(invalid.clone()),
            })
            .collect(),
        Some(_) => Err(invalid),
    }
}

/// Parses a presence payload (`d`) for `channel`.
pub(crate) fn parse_payload(
    channel: String,
    subscription: Option<String>,
    timetoken: String,
    d: Value,
) -> Result<PresenceEvent, EventError> {
    let Value::Object(mut d) = d else {
        return Err(EventError::NotAnObject);
    };
    let action = match d.get("action") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err(EventError::NoAction),
    };
    let timestamp = unsigned(&d, "timestamp", false)?.unwrap_or(0);
    let occupancy = unsigned(&d, "occupancy", true)?.unwrap_or(0);
    if action == "interval" {
        return Ok(PresenceEvent::Interval(IntervalEvent {
            join: user_list(&mut d, "join")?,
            leave: user_list(&mut d, "leave")?,
            timeout: user_list(&mut d, "timeout")?,
            here_now_refresh: matches!(d.get("here_now_refresh"), Some(Value::Bool(true))),
            channel,
            subscription,
            occupancy,
            timestamp,
            timetoken,
        }));
    }
    let user_id = match d.remove("uuid") {
        Some(Value::String(u)) => u,
        None | Some(Value::Null) => return Err(EventError::MissingField("uuid")),
        Some(_) => {
            return Err(EventError::InvalidField {
                field: "uuid",
                expected: "a string",
            })
        }
    };
    let state = match d.remove("data").or_else(|| d.remove("state")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
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
