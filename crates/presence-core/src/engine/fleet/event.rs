//! What the fleet engine reports: per-user events ([`FleetEvent`]), each user's
//! status ([`UserStatus`]) and the counters ([`FleetStats`]).

use crate::Failure;
use std::fmt;
use std::time::Duration;

/// Where one user of a fleet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum UserStatus {
    /// Added; the first heartbeat has not succeeded yet.
    Starting,
    /// The last heartbeat succeeded.
    Present,
    /// The last heartbeat failed; a retry is scheduled.
    Retrying,
    /// A failure that retrying cannot fix (a 403), or too many in a row: no more
    /// heartbeats until the user is added again.
    GaveUp,
    /// Removed; its leave (if any) is not done yet.
    Leaving,
}

impl UserStatus {
    pub(super) fn index(self) -> usize {
        match self {
            UserStatus::Starting => 0,
            UserStatus::Present => 1,
            UserStatus::Retrying => 2,
            UserStatus::GaveUp => 3,
            UserStatus::Leaving => 4,
        }
    }

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            UserStatus::Starting => "starting",
            UserStatus::Present => "present",
            UserStatus::Retrying => "retrying",
            UserStatus::GaveUp => "gave_up",
            UserStatus::Leaving => "leaving",
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the fleet engine reports about its users. Only changes are reported, never
/// every heartbeat: a fleet of 100 000 present users is quiet.
///
/// `Display` is one line (`npc-7 present`, `npc-7 failed: … (retry in 1.0 s)`); JSON
/// (feature `serde`) is tagged by `event`: `{"event": "present", "user_id": "npc-7"}`,
/// `{"event": "failed", "user_id", "error", "retry_in_ms"}`, `{"event": "gave_up",
/// "user_id", "error"}`, `{"event": "leave_failed", "user_id", "error"}`,
/// `{"event": "removed", "user_id"}`, `{"event": "stopped"}`, where `error` is the
/// failure's message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FleetEvent {
    /// A user's heartbeat succeeded after it was added, updated or had failed.
    Present {
        /// Who.
        user_id: String,
    },
    /// A user's heartbeat failed and will be retried.
    Failed {
        /// Who.
        user_id: String,
        /// What went wrong.
        failure: Failure,
        /// When the retry happens.
        retry_in: Duration,
    },
    /// A user's heartbeat failed in a way retrying cannot fix (or too many times in a
    /// row, [`FleetConfig::give_up_after`](super::FleetConfig::give_up_after)): that user
    /// stops; the others go on.
    GaveUp {
        /// Who.
        user_id: String,
        /// What went wrong.
        failure: Failure,
    },
    /// A removed user's leave failed (leaves are not retried; the user times out).
    LeaveFailed {
        /// Who.
        user_id: String,
        /// What went wrong.
        failure: Failure,
    },
    /// A removed user is gone (after its leave, if it had one).
    Removed {
        /// Who.
        user_id: String,
    },
    /// After [`stop`](super::FleetEngine::stop): every user is gone and nothing is in
    /// flight. The last event.
    Stopped,
}

impl fmt::Display for FleetEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetEvent::Present { user_id } => write!(f, "{user_id} present"),
            FleetEvent::Failed {
                user_id,
                failure,
                retry_in,
            } => write!(
                f,
                "{user_id} failed: {failure} (retry in {:.1} s)",
                retry_in.as_secs_f64()
            ),
            FleetEvent::GaveUp { user_id, failure } => write!(f, "{user_id} gave up: {failure}"),
            FleetEvent::LeaveFailed { user_id, failure } => {
                write!(f, "{user_id} leave failed: {failure}")
            }
            FleetEvent::Removed { user_id } => write!(f, "{user_id} removed"),
            FleetEvent::Stopped => f.write_str("stopped"),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for FleetEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        let (event, user_id) = match self {
            FleetEvent::Present { user_id } => ("present", Some(user_id)),
            FleetEvent::Failed { user_id, .. } => ("failed", Some(user_id)),
            FleetEvent::GaveUp { user_id, .. } => ("gave_up", Some(user_id)),
            FleetEvent::LeaveFailed { user_id, .. } => ("leave_failed", Some(user_id)),
            FleetEvent::Removed { user_id } => ("removed", Some(user_id)),
            FleetEvent::Stopped => ("stopped", None),
        };
        map.serialize_entry("event", event)?;
        if let Some(user_id) = user_id {
            map.serialize_entry("user_id", user_id)?;
        }
        match self {
            FleetEvent::Failed {
                failure, retry_in, ..
            } => {
                map.serialize_entry("error", &failure.to_string())?;
                map.serialize_entry(
                    "retry_in_ms",
                    &u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                )?;
            }
            FleetEvent::GaveUp { failure, .. } | FleetEvent::LeaveFailed { failure, .. } => {
                map.serialize_entry("error", &failure.to_string())?;
            }
            _ => {}
        }
        map.end()
    }
}

/// The fleet's counters: users by status, requests in flight, totals since the engine
/// was made, and the latency of the most recent answers.
///
/// `Display` is one line (`1000 users: 998 present, 2 retrying; 3412 heartbeats, 2
/// errors; p50 1.2 ms, p99 4.0 ms`); JSON (feature `serde`) has every field, durations
/// in microseconds (`latency_p50_us`, `latency_p99_us`, `null` before any answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FleetStats {
    /// Users held (including those leaving).
    pub users: usize,
    /// Users whose first heartbeat has not succeeded yet.
    pub starting: usize,
    /// Users whose last heartbeat succeeded.
    pub present: usize,
    /// Users waiting to retry.
    pub retrying: usize,
    /// Users that gave up.
    pub gave_up: usize,
    /// Removed users whose leave is not done.
    pub leaving: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Heartbeats that failed.
    pub heartbeat_errors: u64,
    /// Leaves sent.
    pub leaves: u64,
    /// Leaves that failed.
    pub leave_errors: u64,
    /// Median time from handing out a request to its answer, over the last
    /// [`LATENCY_WINDOW`](super::LATENCY_WINDOW) answers.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "latency_p50_us", serialize_with = "micros")
    )]
    pub latency_p50: Option<Duration>,
    /// The 99th percentile of the same.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "latency_p99_us", serialize_with = "micros")
    )]
    pub latency_p99: Option<Duration>,
}

#[cfg(feature = "serde")]
fn micros<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

impl fmt::Display for FleetStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} users: {} present", self.users, self.present)?;
        for (n, what) in [
            (self.starting, "starting"),
            (self.retrying, "retrying"),
            (self.gave_up, "gave up"),
            (self.leaving, "leaving"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        write!(
            f,
            "; {} heartbeats, {} errors",
            self.heartbeats,
            self.heartbeat_errors + self.leave_errors
        )?;
        if let (Some(p50), Some(p99)) = (self.latency_p50, self.latency_p99) {
            write!(
                f,
                "; p50 {:.1} ms, p99 {:.1} ms",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            )?;
        }
        Ok(())
    }
}
