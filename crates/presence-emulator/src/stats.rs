//! Request counters by operation and status, and [`EmulatorStats`], what
//! `GET /_emulator/v1/stats`, `GET /_emulator/v1/metrics` and
//! [`EmulatorHandle::stats`](crate::EmulatorHandle::stats) report.
//!
//! Only presence requests (every route a PubNub SDK sends) are counted by operation;
//! admin requests have a counter of their own. A request hyper refuses before the
//! emulator sees it (malformed head, headers too large) is not counted.

use crate::model::ModelStats;
use crate::server::ConnectionStats;
use crate::wire::{RouteKind, Target};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The operation a presence request asks for, as counted (from its path alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Here now, on channels, groups or the whole keyset.
    HereNow,
    /// Where now.
    WhereNow,
    /// Heartbeat.
    Heartbeat,
    /// Leave.
    Leave,
    /// Set state.
    SetState,
    /// Get state.
    GetState,
    /// Subscribe (long-poll).
    Subscribe,
    /// The channel-group registry (list, add, remove, delete).
    Registry,
    /// `/time/0`.
    Time,
    /// Any other path (answered 404).
    Other,
}

impl Operation {
    /// The operation of a request for `path`.
    pub fn of_path(path: &str) -> Operation {
        match Target::parse(path) {
            None => Operation::Other,
            Some(Target::Time) => Operation::Time,
            Some(Target::Keyset(route)) => match route.kind {
                RouteKind::HereNowGlobal | RouteKind::HereNow { .. } => Operation::HereNow,
                RouteKind::WhereNow { .. } => Operation::WhereNow,
                RouteKind::Heartbeat { .. } => Operation::Heartbeat,
                RouteKind::Leave { .. } => Operation::Leave,
                RouteKind::SetState { .. } => Operation::SetState,
                RouteKind::GetState { .. } => Operation::GetState,
                RouteKind::Subscribe { .. } => Operation::Subscribe,
                RouteKind::ListGroups | RouteKind::Group { .. } | RouteKind::DeleteGroup { .. } => {
                    Operation::Registry
                }
            },
        }
    }

    /// Its name in stats and metrics: `here_now`, `where_now`, `heartbeat`, `leave`,
    /// `set_state`, `get_state`, `subscribe`, `registry`, `time`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::HereNow => "here_now",
            Operation::WhereNow => "where_now",
            Operation::Heartbeat => "heartbeat",
            Operation::Leave => "leave",
            Operation::SetState => "set_state",
            Operation::GetState => "get_state",
            Operation::Subscribe => "subscribe",
            Operation::Registry => "registry",
            Operation::Time => "time",
            Operation::Other => "other",
        }
    }
}

/// How many presence requests got one status for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCount {
    /// The operation.
    pub operation: Operation,
    /// The response's status code.
    pub status: u16,
    /// Requests answered so.
    pub count: u64,
}

/// Counters since the emulator started (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmulatorStats {
    /// Presence requests by operation and status, sorted by both.
    pub requests: Vec<RequestCount>,
    /// Admin API requests (`/_emulator/…`), whatever their answer.
    pub admin_requests: u64,
    /// The model's size now (occupants, channels, users, groups, events kept).
    pub model: ModelStats,
    /// Presence events generated so far, over all keysets.
    pub events_generated: u64,
    /// Open connections and long-polls now.
    pub connections: ConnectionStats,
}

impl EmulatorStats {
    /// Presence requests counted for `operation` (every status), or for every
    /// operation with `None`.
    pub fn requests_of(&self, operation: Option<Operation>) -> u64 {
        self.requests
            .iter()
            .filter(|r| operation.is_none_or(|o| o == r.operation))
            .map(|r| r.count)
            .sum()
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct RequestCounters {
    by_op: Mutex<BTreeMap<(Operation, u16), u64>>,
    total: AtomicU64,
    admin: AtomicU64,
}

impl RequestCounters {
    pub(crate) fn record(&self, operation: Operation, status: u16) {
        let mut map = self.by_op.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry((operation, status)).or_default() += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_admin(&self) {
        self.admin.fetch_add(1, Ordering::Relaxed);
    }

    /// Presence requests counted so far (changes whenever one was answered).
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn admin(&self) -> u64 {
        self.admin.load(Ordering::Relaxed)
    }

    pub(crate) fn counts(&self) -> Vec<RequestCount> {
        let map = self.by_op.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .map(|(&(operation, status), &count)| RequestCount {
                operation,
                status,
                count,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_come_from_the_path() {
        let cases = [
            ("/v2/presence/sub-key/s", Operation::HereNow),
            ("/v2/presence/sub-key/s/channel/a,b", Operation::HereNow),
            ("/v2/presence/sub-key/s/uuid/u", Operation::WhereNow),
            (
                "/v2/presence/sub-key/s/channel/a/heartbeat",
                Operation::Heartbeat,
            ),
            ("/v2/presence/sub-key/s/channel/a/leave", Operation::Leave),
            (
                "/v2/presence/sub-key/s/channel/a/uuid/u/data",
                Operation::SetState,
            ),
            (
                "/v2/presence/sub-key/s/channel/a/uuid/u",
                Operation::GetState,
            ),
            ("/v2/subscribe/s/a/0", Operation::Subscribe),
            (
                "/v1/channel-registration/sub-key/s/channel-group/g",
                Operation::Registry,
            ),
            ("/time/0", Operation::Time),
            ("/nope", Operation::Other),
        ];
        for (path, op) in cases {
            assert_eq!(Operation::of_path(path), op, "{path}");
        }
    }

    #[test]
    fn counters_group_by_operation_and_status() {
        let c = RequestCounters::default();
        c.record(Operation::Leave, 200);
        c.record(Operation::Heartbeat, 400);
        c.record(Operation::Heartbeat, 200);
        c.record(Operation::Heartbeat, 200);
        c.record_admin();
        assert_eq!(c.total(), 4);
        assert_eq!(c.admin(), 1);
        let counts: Vec<(Operation, u16, u64)> = c
            .counts()
            .iter()
            .map(|r| (r.operation, r.status, r.count))
            .collect();
        assert_eq!(
            counts,
            [
                (Operation::Heartbeat, 200, 2),
                (Operation::Heartbeat, 400, 1),
                (Operation::Leave, 200, 1)
            ]
        );
    }
}
