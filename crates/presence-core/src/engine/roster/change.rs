//! What the roster reports: members, changes, resync reasons and events.

use crate::{Failure, RawJson};
use std::fmt;
use std::time::Duration;

/// A present user and their state.
///
/// `Display`: `ann {"mood":"ok"}`. JSON (feature `serde`): `{"user_id": "ann",
/// "state": {"mood": "ok"}}` (`state` is `null` when none is known).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Member {
    /// The user id.
    pub user_id: String,
    /// The user's state on the channel, when known.
    pub state: Option<RawJson<'static>>,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user_id)?;
        if let Some(state) = &self.state {
            write!(f, " {state}")?;
        }
        Ok(())
    }
}

/// Why the roster reads a fresh snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ResyncReason {
    /// The first snapshot after the watch connected.
    Start,
    /// Channels or groups were added or removed.
    ChannelsChanged,
    /// An interval event asked for one (`here_now_refresh`).
    HereNowRefresh,
    /// An interval event whose occupancy the deltas do not explain.
    IntervalMismatch,
    /// An interval event with joins: they carry no state, which only a snapshot has.
    IntervalJoins,
    /// Any other interval event: its deltas are net changes over a window that may have
    /// begun before the roster's last snapshot, so a user who joined and left (or left
    /// and came back) across that snapshot cannot show in them. A snapshot confirms
    /// them; the roster stays in sync meanwhile (no [`RosterEvent::OutOfSync`]).
    IntervalWindow,
    /// An event's occupancy differs from the members counted.
    OccupancyMismatch,
    /// A subscribe request failed: events may have been missed.
    EventsMissed,
    /// The configured period passed.
    Periodic,
    /// A snapshot's pages disagreed (the channel changed while it was read).
    UnstableSnapshot,
}

impl ResyncReason {
    /// The stable snake_case name (`here_now_refresh`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            ResyncReason::Start => "start",
            ResyncReason::ChannelsChanged => "channels_changed",
            ResyncReason::HereNowRefresh => "here_now_refresh",
            ResyncReason::IntervalMismatch => "interval_mismatch",
            ResyncReason::IntervalJoins => "interval_joins",
            ResyncReason::IntervalWindow => "interval_window",
            ResyncReason::OccupancyMismatch => "occupancy_mismatch",
            ResyncReason::EventsMissed => "events_missed",
            ResyncReason::Periodic => "periodic",
            ResyncReason::UnstableSnapshot => "unstable_snapshot",
        }
    }
}

impl fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What changed in one channel's members.
///
/// JSON (feature `serde`), tagged by `type`: `{"type": "joined", "user_id": "ann",
/// "state": null}`, `{"type": "left", "user_id": "ann"}`, `{"type": "timed_out",
/// "user_id": "ann"}`, `{"type": "state_changed", "user_id": "ann", "state": {…}}`,
/// `{"type": "resynced", "reason": "here_now_refresh", "joined": [members…], "left":
/// ["bob"], "changed": [members…]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ChangeKind {
    /// A user joined.
    Joined(Member),
    /// A user left.
    Left {
        /// Who.
        user_id: String,
    },
    /// A user timed out.
    TimedOut {
        /// Who.
        user_id: String,
    },
    /// A member's state changed.
    StateChanged(Member),
    /// A fresh snapshot replaced the members: the difference from before.
    Resynced {
        /// Why the roster resynced.
        reason: ResyncReason,
        /// Members the snapshot has that the roster had not.
        joined: Vec<Member>,
        /// Members the roster had that the snapshot has not.
        left: Vec<String>,
        /// Members whose state differs.
        changed: Vec<Member>,
    },
}

/// A change to one channel's members. `Display`: `lobby: ann joined (occupancy 2)`.
/// JSON (feature `serde`): `{"channel": "lobby", "occupancy": 2, "change": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RosterChange {
    /// The channel.
    pub channel: String,
    /// Its occupancy after the change.
    pub occupancy: u64,
    /// What changed.
    pub change: ChangeKind,
}

impl fmt::Display for RosterChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.channel)?;
        match &self.change {
            ChangeKind::Joined(m) => write!(f, "{m} joined")?,
            ChangeKind::Left { user_id } => write!(f, "{user_id} left")?,
            ChangeKind::TimedOut { user_id } => write!(f, "{user_id} timed out")?,
            ChangeKind::StateChanged(m) => write!(f, "{m} (state changed)")?,
            ChangeKind::Resynced {
                reason,
                joined,
                left,
                changed,
            } => write!(
                f,
                "resynced ({reason}): {} joined, {} left, {} changed",
                joined.len(),
                left.len(),
                changed.len()
            )?,
        }
        write!(f, " (occupancy {})", self.occupancy)
    }
}

/// What the roster engine reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RosterEvent {
    /// A channel's members changed.
    Change(RosterChange),
    /// A snapshot and the events since are applied, and nothing says they disagree
    /// (see [`RosterEngine::is_synced`](crate::RosterEngine::is_synced) for interval
    /// mode's confirming snapshots). Sent when the roster was out of sync, not after
    /// every snapshot.
    Synced,
    /// The members may be stale until the next [`Synced`](RosterEvent::Synced).
    OutOfSync(ResyncReason),
    /// A request failed; `retry_in` is `None` when the roster stopped (a 403, a 400).
    Failed {
        /// What went wrong.
        failure: Failure,
        /// When the retry happens, if any.
        retry_in: Option<Duration>,
    },
}

impl fmt::Display for RosterEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RosterEvent::Change(c) => c.fmt(f),
            RosterEvent::Synced => f.write_str("in sync"),
            RosterEvent::OutOfSync(reason) => write!(f, "out of sync ({reason})"),
            RosterEvent::Failed { failure, retry_in } => {
                write!(f, "failed: {failure}")?;
                match retry_in {
                    Some(d) => write!(f, " (retry in {:.1} s)", d.as_secs_f64()),
                    None => f.write_str(" (the roster stopped)"),
                }
            }
        }
    }
}
