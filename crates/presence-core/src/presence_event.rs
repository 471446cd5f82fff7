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
    pub(crate) fn into_event(self) -> Result<Option<PresenceEvent>, String> {
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
        parse_payload(channel, subscription, timetoken, self.d).map(Some)
    }
}

/// Parses a presence payload (`d`) for `channel`.
///
/// ```
/// use presence_core::presence_event::{parse_payload, PresenceEvent};
/// let d = serde_json::json!({"action": "join", "timestamp": "1481896358", "uuid": "ann", "occupancy": 1});
/// match parse_payload("lobby".into(), None, "1".into(), d).unwrap() {
///     PresenceEvent::Join(c) => assert_eq!((c.user_id.as_str(), c.timestamp), ("ann", 1481896358)),
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse_payload(
    channel: String,
    subscription: Option<String>,
    timetoken: String,
    d: Value,
) -> Result<PresenceEvent, String> {
    let Value::Object(mut d) = d else {
        return Err("presence payload `d` is not an object".to_owned());
    };
    let action = match d.get("action") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err("presence payload has no string `action`".to_owned()),
    };
    let timestamp = match d.get("timestamp") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or("`timestamp` is not a non-negative integer")?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("`timestamp` {s:?} is not a number"))?,
        None => 0,
        Some(_) => return Err("`timestamp` must be a number or a string".to_owned()),
    };
    let occupancy = match d.get("occupancy") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or("`occupancy` is not a non-negative integer")?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("`occupancy` {s:?} is not a number"))?,
        None | Some(Value::Null) => 0,
        Some(_) => return Err("`occupancy` must be a number".to_owned()),
    };
    if action == "interval" {
        let list =
            |d: &mut serde_json::Map<String, Value>, key: &str| -> Result<Vec<String>, String> {
                match d.remove(key) {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::Array(items)) => items
                        .into_iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(s),
                            _ => Err(format!("`{key}` holds a non-string")),
                        })
                        .collect(),
                    Some(_) => Err(format!("`{key}` is not an array")),
                }
            };
        return Ok(PresenceEvent::Interval(IntervalEvent {
            join: list(&mut d, "join")?,
            leave: list(&mut d, "leave")?,
            timeout: list(&mut d, "timeout")?,
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
        _ => return Err(format!("`{action}` event has no string `uuid`")),
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
        other => return Err(format!("unknown presence action {other:?}")),
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
