//! Request counters by operation and status, and [`EmulatorStats`], what
//! `GET /_emulator/v1/stats`, `GET /_emulator/v1/metrics` and
//! [`EmulatorHandle::stats`](crate::EmulatorHandle::stats) report. Requests are
//! counted by [`Operation`] (the fault rules' classification).
//!
//! Only presence requests (every route a PubNub SDK sends) are counted by operation;
//! admin requests have a counter of their own. A request hyper refuses before the
//! emulator sees it (malformed head, headers too large) is not counted.

use crate::fault::rules::RequestFacts;
use crate::fault::Operation;
use crate::model::ModelStats;
use crate::server::ConnectionStats;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The operation of a presence request for `path` (`None`: a path no route serves).
pub(crate) fn operation_of(path: &str) -> Option<Operation> {
    RequestFacts::of_path(path).and_then(|f| f.operation())
}

/// The label of a counted status: its code, or `closed` for a connection a fault rule
/// closed without a response.
pub(crate) fn status_label(status: u16) -> String {
    if status == 0 {
        "closed".to_owned()
    } else {
        status.to_string()
    }
}

/// The label of a counted operation: its name, or `other` for a path no route serves.
pub(crate) fn operation_label(operation: Option<Operation>) -> &'static str {
    operation.map_or("other", Operation::name)
}

/// How many presence requests got one status for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCount {
    /// The operation; `None` for a path no route serves (answered 404).
    pub operation: Option<Operation>,
    /// The response's status code; 0 when a fault rule closed the connection without
    /// a response.
    pub status: u16,
    /// Requests answered so.
    pub count: u64,
}

/// Counters since the emulator started. Admin requests are counted apart from presence
/// requests; requests hyper refuses before the emulator sees them are not counted.
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
            .filter(|r| operation.is_none_or(|o| Some(o) == r.operation))
            .map(|r| r.count)
            .sum()
    }
}

/// Counts by (operation label, status), sorted by both; each with its operation.
type CountMap = BTreeMap<(&'static str, u16), (Option<Operation>, u64)>;

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct RequestCounters {
    by_op: Mutex<CountMap>,
    total: AtomicU64,
    admin: AtomicU64,
}

impl RequestCounters {
    pub(crate) fn record(&self, operation: Option<Operation>, status: u16) {
        let mut map = self.by_op.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (operation_label(operation), status);
        map.entry(key).or_insert((operation, 0)).1 += 1;
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
            .map(|(&(_, status), &(operation, count))| RequestCount {
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
        assert_eq!(
            operation_of("/v2/subscribe/s/a/0"),
            Some(Operation::Subscribe)
        );
        assert_eq!(operation_of("/nope"), None);
        assert_eq!(operation_label(None), "other");
        assert_eq!(
            (status_label(0), status_label(503)),
            ("closed".into(), "503".into())
        );
    }

    #[test]
    fn counters_group_by_operation_and_status() {
        let c = RequestCounters::default();
        c.record(Some(Operation::Leave), 200);
        c.record(Some(Operation::Heartbeat), 400);
        c.record(Some(Operation::Heartbeat), 200);
        c.record(Some(Operation::Heartbeat), 200);
        c.record(None, 404);
        c.record_admin();
        assert_eq!(c.total(), 5);
        assert_eq!(c.admin(), 1);
        let counts: Vec<(Option<Operation>, u16, u64)> = c
            .counts()
            .iter()
            .map(|r| (r.operation, r.status, r.count))
            .collect();
        assert_eq!(
            counts,
            [
                (Some(Operation::Heartbeat), 200, 2),
                (Some(Operation::Heartbeat), 400, 1),
                (Some(Operation::Leave), 200, 1),
                (None, 404, 1),
            ]
        );
    }
}
