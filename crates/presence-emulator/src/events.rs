//! Presence events: the per-keyset event log, interval accumulation, and the
//! subscribe envelope (PROTOCOL.md §7).

use crate::occupants::{Name, StateJson};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::collections::VecDeque;

/// Region reported in every timetoken (`r`).
pub(crate) const REGION: u32 = 1;

/// A per-user presence action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Join,
    Leave,
    Timeout,
    StateChange,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Join => "join",
            Action::Leave => "leave",
            Action::Timeout => "timeout",
            Action::StateChange => "state-change",
        }
    }
}

/// What happened (the `d` payload, kept unserialized until delivered).
#[derive(Debug)]
pub(crate) enum EventKind {
    User {
        action: Action,
        uuid: Name,
        data: Option<StateJson>,
    },
    Interval {
        join: Vec<Name>,
        leave: Vec<Name>,
        timeout: Vec<Name>,
        here_now_refresh: bool,
    },
}

/// One logged presence event.
#[derive(Debug)]
pub(crate) struct Event {
    /// Publish timetoken (100 ns units since the epoch), strictly increasing in the log.
    pub(crate) tt: u64,
    /// The channel (without `-pnpres`).
    pub(crate) channel: Name,
    /// Unix seconds of the event.
    pub(crate) timestamp: u64,
    /// Occupancy of the channel right after the event.
    pub(crate) occupancy: usize,
    pub(crate) kind: EventKind,
}

impl Event {
    /// What keeping this event costs, in bytes: the record, its names and its state,
    /// counted in full even where an occupant shares them (so the bound holds after
    /// everyone has left).
    pub(crate) fn cost(&self) -> usize {
        let names = match &self.kind {
            EventKind::User { uuid, data, .. } => {
                uuid.len() + data.as_ref().map_or(0, |d| d.get().len())
            }
            EventKind::Interval {
                join,
                leave,
                timeout,
                ..
            } => [join, leave, timeout]
                .iter()
                .flat_map(|l| l.iter())
                .map(|n| n.len() + std::mem::size_of::<Name>())
                .sum(),
        };
        std::mem::size_of::<Event>() + self.channel.len() + names
    }
}

/// Log of presence events, oldest first, bounded by count and by bytes.
#[derive(Debug)]
pub(crate) struct EventLog {
    events: VecDeque<Event>,
    capacity: usize,
    max_bytes: usize,
    /// Sum of [`Event::cost`] over `events`.
    bytes: usize,
    /// Events ever appended (for change detection by the server).
    pub(crate) appended: u64,
}

impl EventLog {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        EventLog {
            events: VecDeque::new(),
            capacity,
            max_bytes,
            bytes: 0,
            appended: 0,
        }
    }

    /// Appends `event`, dropping the oldest ones while over the count or the byte
    /// bound (the newest is always kept).
    pub(crate) fn push(&mut self, event: Event) {
        let cost = event.cost();
        while !self.events.is_empty()
            && (self.events.len() >= self.capacity || self.bytes + cost > self.max_bytes)
        {
            if let Some(old) = self.events.pop_front() {
                self.bytes -= old.cost();
            }
        }
        self.bytes += cost;
        self.events.push_back(event);
        self.appended += 1;
        // Give back the ring's memory when a few large events pushed out many small ones.
        if self.events.capacity() > 64 && self.events.len() * 4 < self.events.capacity() {
            self.events.shrink_to(self.events.len() * 2);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Sum of the events' [`Event::cost`].
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The newest `n` events, newest first (the inspector's feed).
    pub(crate) fn recent(&self, n: usize) -> impl Iterator<Item = &Event> {
        self.events.iter().rev().take(n)
    }

    /// Events with a timetoken greater than `tt`, oldest first.
    pub(crate) fn after(&self, tt: u64) -> impl Iterator<Item = &Event> {
        let start = self.events.partition_point(|e| e.tt <= tt);
        self.events.range(start..)
    }
}

/// Deltas collected for one channel in interval mode. Once more than `limit`
/// (`announce_max`) are collected the lists could never be sent (the event carries
/// `here_now_refresh` instead), so they are dropped and only `overflow` is kept: the
/// accumulator never holds more than `limit + 1` names.
#[derive(Debug, Default)]
pub(crate) struct IntervalAcc {
    pub(crate) join: Vec<Name>,
    pub(crate) leave: Vec<Name>,
    pub(crate) timeout: Vec<Name>,
    pub(crate) overflow: bool,
}

impl IntervalAcc {
    pub(crate) fn record(&mut self, action: Action, uuid: Name, limit: usize) {
        if self.overflow {
            return;
        }
        if self.join.len() + self.leave.len() + self.timeout.len() >= limit {
            self.overflow = true;
            self.join = Vec::new();
            self.leave = Vec::new();
            self.timeout = Vec::new();
            return;
        }
        match action {
            Action::Join => self.join.push(uuid),
            Action::Leave => self.leave.push(uuid),
            Action::Timeout => self.timeout.push(uuid),
            Action::StateChange => {}
        }
    }
}

// ---- wire form -------------------------------------------------------------------

/// `{"t": "<17 digits>", "r": <region>}`.
#[derive(Serialize)]
pub(crate) struct Timetoken {
    pub(crate) t: String,
    pub(crate) r: u32,
}

impl Timetoken {
    pub(crate) fn new(tt: u64) -> Self {
        Timetoken {
            t: tt.to_string(),
            r: REGION,
        }
    }
}

/// The subscribe response: `{"t": {...}, "m": [...]}`.
#[derive(Serialize)]
pub(crate) struct Envelope<'a> {
    pub(crate) t: Timetoken,
    pub(crate) m: Vec<Message<'a>>,
}

/// One message of the envelope, in the recorded key order.
#[derive(Serialize)]
pub(crate) struct Message<'a> {
    pub(crate) a: &'static str,
    pub(crate) f: u32,
    pub(crate) p: Timetoken,
    pub(crate) k: &'a str,
    pub(crate) c: String,
    pub(crate) d: Payload<'a>,
    pub(crate) b: String,
}

/// The presence payload `d` (PROTOCOL.md §7.3).
pub(crate) struct Payload<'a>(pub(crate) &'a Event);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut map = s.serialize_map(None)?;
        match &e.kind {
            EventKind::User { action, uuid, data } => {
                map.serialize_entry("action", action.as_str())?;
                map.serialize_entry("timestamp", &e.timestamp)?;
                map.serialize_entry("uuid", &**uuid)?;
                map.serialize_entry("occupancy", &e.occupancy)?;
                if let Some(data) = data {
                    map.serialize_entry("data", &**data)?;
                }
            }
            EventKind::Interval {
                join,
                leave,
                timeout,
                here_now_refresh,
            } => {
                map.serialize_entry("action", "interval")?;
                map.serialize_entry("timestamp", &e.timestamp)?;
                map.serialize_entry("occupancy", &e.occupancy)?;
                for (key, list) in [("join", join), ("leave", leave), ("timeout", timeout)] {
                    if !list.is_empty() {
                        let names: Vec<&str> = list.iter().map(|n| &**n).collect();
                        map.serialize_entry(key, &names)?;
                    }
                }
                if *here_now_refresh {
                    map.serialize_entry("here_now_refresh", &true)?;
                }
            }
        }
        map.end()
    }
}
