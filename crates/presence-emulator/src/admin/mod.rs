//! The admin API under `/_emulator/v1/` (JSON in and out) and the inspector page at
//! `/_emulator/`: a prefix no PubNub route uses, answered before the presence model
//! sees the request. Admin requests never change the presence model except where
//! their route says so (`PUT /state`, `POST /reset`, `POST /clock/advance`), and are
//! not counted as presence requests.
//!
//! | route | does |
//! |---|---|
//! | `GET /state` | the [`Snapshot`] (every keyset's occupants, groups, cursor) |
//! | `PUT /state` | restores a snapshot (400 naming what is wrong, changing nothing) |
//! | `POST /reset` | empties every keyset |
//! | `GET /clock`, `POST /clock/advance?seconds=N` | the virtual clock |
//! | `GET /faults`, `PUT /faults`, `DELETE /faults` | the fault rules (a JSON array in) |
//! | `GET /stats` | requests by operation and status, occupants, events, connections |
//! | `GET /metrics` | the same in the Prometheus text format |
//! | `GET /stream` | the inspector's view, as server-sent events |
//!
//! With an [`AdminToken`] every `/_emulator/v1/` request needs
//! `Authorization: Bearer TOKEN` (401 otherwise); the page and its two assets hold no
//! data and are served without it.

mod routes;
mod stream;
mod token;
mod view;

pub(crate) use stream::EventStream;
pub use token::{AdminToken, EmptyAdminToken};

pub(crate) use routes::serve;

use crate::server::Shared;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::stats::EmulatorStats;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// The prefix of every admin route and of the inspector.
pub(crate) const PREFIX: &str = "/_emulator";

/// Whether a request is for the admin API or the inspector.
pub(crate) fn is_admin_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/_emulator/")
}

/// What the admin API keeps besides the model.
#[derive(Debug, Default)]
pub(crate) struct AdminState {
    pub(crate) token: Option<AdminToken>,
    /// Changes made through the admin API (restore, reset, clock), so far.
    pub(crate) changes: AtomicU64,
    /// Notified after every presence request and admin change: the inspector's stream
    /// looks again.
    pub(crate) activity: Notify,
}

impl Shared {
    /// The state now, read without changing anything.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let now = self.clock.now();
        self.read().snapshot(now)
    }

    /// Restores `snapshot` at the clock's time (see [`Model::restore`](crate::Model::restore)).
    pub(crate) fn restore(&self, snapshot: &Snapshot) -> Result<(), SnapshotError> {
        let now = self.clock.now();
        let out = self.write().restore(now, snapshot);
        if out.is_ok() {
            self.changed();
        }
        out
    }

    /// Empties every keyset (see [`Model::reset`](crate::Model::reset)).
    pub(crate) fn reset(&self) {
        self.write().reset();
        self.changed();
    }

    /// Counters and sizes now.
    pub(crate) fn stats(&self) -> EmulatorStats {
        let (model, events_generated) = {
            let m = self.read();
            (m.stats(), m.events_generated())
        };
        EmulatorStats {
            requests: self.requests.counts(),
            admin_requests: self.requests.admin(),
            model,
            events_generated,
            connections: self.slots.stats(),
        }
    }

    /// Records an admin change and wakes the inspector's streams.
    pub(crate) fn changed(&self) {
        self.admin.changes.fetch_add(1, Ordering::Relaxed);
        self.admin.activity.notify_waiters();
    }
}
