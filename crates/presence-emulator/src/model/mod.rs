//! The pure state core: `handle(now, request) -> response`, no I/O, no clock.
//!
//! This file is the public API ([`Model`], [`Dispatch`], [`ModelStats`]); each concept
//! behind it has its own module:
//! - [`dispatch`]: the gate every request passes (target length, method, `/time/0`,
//!   query, subscribe key, signature, `uuid`, access grants) and the one match from a
//!   [`RouteKind`](crate::wire::RouteKind) to its handler;
//! - [`keyset`]: the state of one keyset and the occupancy primitives
//!   ([`touch`](keyset::KeysetState::touch),
//!   [`remove_occupant`](keyset::KeysetState::remove_occupant));
//! - [`schedule`]: presence timeouts, `interval` events, timetokens, the event log;
//! - [`groups`]: the channel-group registry and the expansion of groups to channels;
//! - one module per route family: [`here_now`], [`where_now`], [`heartbeat`] (with
//!   leave), [`state`] (set and get), [`subscribe`], [`registry`] (channel groups);
//!   [`params`] holds what they read from the request target.

// Handlers return `Result<Reply, Reply>` (the error is the error *response*): it is
// built once per request and moved straight out, so boxing it would only add an
// allocation.
#![allow(clippy::result_large_err)]

mod dispatch;
pub(crate) mod groups;
pub(crate) mod heartbeat;
mod here_now;
pub(crate) mod keyset;
mod params;
mod registry;
pub(crate) mod schedule;
pub(crate) mod state;
mod subscribe;
mod where_now;

pub use subscribe::Wait;
pub(crate) use subscribe::Watchers;

use crate::body;
use crate::config::{Keyset, ModelConfig};
use crate::wire::Service;
use http::{Request, Response, StatusCode};
use keyset::KeysetState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

/// A response built by the model; handlers return `Result<Reply, Reply>`, the error
/// being the error response.
type Reply = Response<Vec<u8>>;

/// Counts describing the model's size (for tests and capacity checks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Channels with at least one occupant, over all keysets.
    pub channels: usize,
    /// Occupants (user × channel pairs), over all keysets.
    pub occupants: usize,
    /// Distinct present users, summed per keyset.
    pub users: usize,
    /// Registered channel groups, over all keysets.
    pub groups: usize,
    /// Entries in the expiry indexes (always equals `occupants`).
    pub expiry_entries: usize,
    /// Presence events kept for subscribers (bounded by the event log capacity).
    pub events: usize,
    /// What those events cost in bytes (bounded by the event log's byte limit).
    pub event_bytes: usize,
}

/// The in-memory presence service: keysets → channels → occupants, channel groups.
///
/// `Model` is the pure core of the emulator. It never reads a clock and does no I/O:
/// every call takes `now` as a [`Duration`] since the UNIX epoch, so tests drive it
/// with virtual time. A `now` earlier than one already seen is treated as the latest
/// seen (time never goes backwards inside the model).
///
/// Presence rules:
/// - a user joins a channel with a heartbeat or a set state;
/// - it stays while `now < last_heartbeat + timeout` and is gone from
///   `now >= last_heartbeat + timeout` on (exactly `timeout` seconds later);
/// - a leave removes it at once; its state goes with it.
///
/// Expired occupants are removed lazily (on the next request to their keyset) or by
/// [`handle_timeout`](Model::handle_timeout); [`poll_timeout`](Model::poll_timeout)
/// tells when the next one is due. Empty channels are dropped, so memory follows the
/// live occupancy, not history.
///
/// ```
/// use presence_emulator::{Model, ModelConfig, Keyset};
/// use std::time::Duration;
///
/// let mut model = Model::new(ModelConfig::new().keyset(Keyset::new("sub")));
/// let t0 = Duration::from_secs(1_700_000_000);
/// let get = |uri: &str| http::Request::get(uri).body(()).unwrap();
///
/// let resp = model.handle(t0, &get("/v2/presence/sub-key/sub/channel/lobby/heartbeat?heartbeat=60&uuid=ann"));
/// assert_eq!(resp.status(), 200);
///
/// let resp = model.handle(t0, &get("/v2/presence/sub-key/sub/channel/lobby?uuid=bob"));
/// assert_eq!(
///     std::str::from_utf8(resp.body()).unwrap(),
///     r#"{"status":200,"message":"OK","service":"Presence","uuids":["ann"],"occupancy":1}"#
/// );
///
/// // Exactly 60 s later ann is gone.
/// model.handle_timeout(t0 + Duration::from_secs(60));
/// assert_eq!(model.occupancy("sub", "lobby"), 0);
/// ```
#[derive(Debug)]
pub struct Model {
    config: ModelConfig,
    /// Each keyset behind its own lock: the server runs requests to different keysets
    /// (and `/time/0`, which needs none) in parallel, and nothing one keyset does can
    /// stall another.
    pub(crate) keysets: HashMap<String, Mutex<KeysetState>>,
    /// Latest `now` seen, nanoseconds since the epoch.
    now: AtomicU64,
    /// Next [`Wait`] id.
    next_wait: AtomicU64,
    /// Waits with new events since the last [`take_ready`](Model::take_ready).
    ready: Mutex<Vec<u64>>,
    /// How to wait for a contended keyset.
    blocking: Blocking,
}

/// Locks a keyset. A panic while holding the lock cannot leave the keyset half-updated
/// in a way that matters more than stopping the emulator would: keep serving.
fn lock(ks: &Mutex<KeysetState>) -> MutexGuard<'_, KeysetState> {
    ks.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the model waits for a keyset another thread holds: given the waiting, it runs
/// it (the server hands it to `tokio::task::block_in_place`, so a busy keyset never
/// holds up the other tasks of a runtime worker).
pub(crate) type Blocking = fn(&mut dyn FnMut());

fn run_inline(f: &mut dyn FnMut()) {
    f()
}

/// The outcome of [`Model::dispatch`]: an answer now, or a long-poll to wait on.
#[derive(Debug)]
pub enum Dispatch {
    /// Send this response.
    Response(Response<Vec<u8>>),
    /// A subscribe long-poll with nothing to deliver yet.
    Wait(Wait),
}

impl Model {
    /// A model serving `config`'s keysets (or the single keyset `demo` when none).
    pub fn new(config: ModelConfig) -> Self {
        let mut list = config.keysets.clone();
        if list.is_empty() {
            list.push(Keyset::new("demo"));
        }
        let keysets = list
            .into_iter()
            .map(|ks| {
                let key = ks.subscribe_key.clone();
                (key, Mutex::new(KeysetState::new(ks, &config)))
            })
            .collect();
        Model {
            config,
            keysets,
            now: AtomicU64::new(0),
            next_wait: AtomicU64::new(1),
            ready: Mutex::new(Vec::new()),
            blocking: run_inline,
        }
    }

    /// The configuration this model was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Sets how to wait for a keyset another thread holds (see [`Blocking`]).
    pub(crate) fn set_blocking(&mut self, blocking: Blocking) {
        self.blocking = blocking;
    }

    /// Locks `ks`: at once when it is free, else through [`Blocking`].
    pub(crate) fn lock<'a>(&self, ks: &'a Mutex<KeysetState>) -> MutexGuard<'a, KeysetState> {
        match ks.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                let mut guard = None;
                (self.blocking)(&mut || guard = Some(lock(ks)));
                guard.unwrap_or_else(|| lock(ks))
            }
        }
    }

    pub(crate) fn observe(&self, now: Duration) -> u64 {
        let n = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.now.fetch_max(n, Ordering::SeqCst).max(n)
    }

    /// Moves the waits `ks` found ready to the model's list (under `ks`'s lock).
    fn collect_ready(&self, ks: &mut KeysetState) {
        if !ks.watchers.ready.is_empty() {
            let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
            ready.append(&mut ks.watchers.ready);
        }
    }

    /// Answers one request at time `now` (since the UNIX epoch).
    ///
    /// Only the method, path and query are read; the body is ignored (every Presence
    /// operation is a `GET` without body). Never panics on any input: malformed
    /// requests get a JSON error body and leave the model unchanged.
    ///
    /// A subscribe long-poll cannot wait here: it is answered at once with the events
    /// already available (possibly an empty `m`). Servers use
    /// [`dispatch`](Model::dispatch) instead.
    pub fn handle<B>(&mut self, now: Duration, req: &Request<B>) -> Response<Vec<u8>> {
        self.handle_shared(now, req)
    }

    /// [`handle`](Model::handle) through a shared reference (only the keyset the
    /// request names is locked).
    pub(crate) fn handle_shared<B>(&self, now: Duration, req: &Request<B>) -> Response<Vec<u8>> {
        match self.dispatch_shared(now, req) {
            Dispatch::Response(resp) => resp,
            Dispatch::Wait(wait) => self.finish_wait_shared(now, &wait),
        }
    }

    /// Like [`handle`](Model::handle), but a subscribe long-poll with nothing to
    /// deliver yet comes back as [`Dispatch::Wait`]. The wait stays registered (so that
    /// [`take_ready`](Model::take_ready) can report it) until
    /// [`poll_wait`](Model::poll_wait) answers it, [`finish_wait`](Model::finish_wait)
    /// does, or [`cancel_wait`](Model::cancel_wait) drops it.
    pub fn dispatch<B>(&mut self, now: Duration, req: &Request<B>) -> Dispatch {
        self.dispatch_shared(now, req)
    }

    /// [`dispatch`](Model::dispatch) through a shared reference.
    pub(crate) fn dispatch_shared<B>(&self, now: Duration, req: &Request<B>) -> Dispatch {
        let now = self.observe(now);
        match self.gate(now, req) {
            Ok(d) => d,
            Err(r) => Dispatch::Response(r),
        }
    }

    /// Re-checks a waiting long-poll at `now`: `Some` with the response once there are
    /// events after its cursor or its deadline has passed, `None` to keep waiting.
    /// Also applies due presence timeouts and interval events of its keyset.
    pub fn poll_wait(&mut self, now: Duration, wait: &Wait) -> Option<Response<Vec<u8>>> {
        self.poll_wait_shared(now, wait)
    }

    /// [`poll_wait`](Model::poll_wait) through a shared reference.
    pub(crate) fn poll_wait_shared(&self, now: Duration, wait: &Wait) -> Option<Response<Vec<u8>>> {
        let now = self.observe(now);
        let mut ks = self.lock(self.keysets.get(&wait.sub_key)?);
        ks.advance_to(now);
        let resp = ks.deliver(wait, now >= wait.deadline);
        if resp.is_some() {
            ks.watchers.remove(wait);
        }
        self.collect_ready(&mut ks);
        resp
    }

    /// Answers a waiting long-poll now, with whatever is available (possibly an
    /// empty `m`); used at shutdown and by [`handle`](Model::handle).
    pub fn finish_wait(&mut self, now: Duration, wait: &Wait) -> Response<Vec<u8>> {
        self.finish_wait_shared(now, wait)
    }

    /// [`finish_wait`](Model::finish_wait) through a shared reference.
    pub(crate) fn finish_wait_shared(&self, now: Duration, wait: &Wait) -> Response<Vec<u8>> {
        let now = self.observe(now);
        match self.keysets.get(&wait.sub_key) {
            Some(ks) => {
                let mut ks = self.lock(ks);
                ks.advance_to(now);
                ks.watchers.remove(wait);
                let resp = ks.deliver(wait, true).unwrap_or_else(|| {
                    body::error(StatusCode::NOT_FOUND, Service::Subscribe, "Not Found")
                });
                self.collect_ready(&mut ks);
                resp
            }
            None => body::bad_request(Service::Subscribe, "Invalid Subscribe Key"),
        }
    }

    /// Forgets a wait that will never be polled again (its client went away).
    pub fn cancel_wait(&mut self, wait: &Wait) {
        self.cancel_wait_shared(wait);
    }

    /// [`cancel_wait`](Model::cancel_wait) through a shared reference.
    pub(crate) fn cancel_wait_shared(&self, wait: &Wait) {
        if let Some(ks) = self.keysets.get(&wait.sub_key) {
            self.lock(ks).watchers.remove(wait);
        }
    }

    /// The [`Wait::id`]s of the registered waits that got events on their channels or
    /// groups since the last call: the ones worth re-checking with
    /// [`poll_wait`](Model::poll_wait). A server re-checks only those (and each wait at
    /// its deadline) instead of every wait on every change.
    pub fn take_ready(&self) -> Vec<u64> {
        std::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Total presence events generated so far over all keysets (changes whenever a
    /// subscriber may have something new).
    pub fn events_generated(&self) -> u64 {
        self.keysets
            .values()
            .map(|ks| self.lock(ks).events.appended)
            .sum()
    }

    /// The earliest instant at which [`handle_timeout`](Model::handle_timeout) has work
    /// (an occupant's presence timeout or an `interval` event), if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.keysets
            .values()
            .filter_map(|ks| self.lock(ks).next_due())
            .min()
            .map(Duration::from_nanos)
    }

    /// Removes every occupant whose timeout has passed at `now` (announcing `timeout`
    /// events) and emits every `interval` event due.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.handle_timeout_shared(now);
    }

    /// [`handle_timeout`](Model::handle_timeout) through a shared reference: one keyset
    /// locked at a time.
    pub(crate) fn handle_timeout_shared(&self, now: Duration) {
        let now = self.observe(now);
        for ks in self.keysets.values() {
            let mut ks = self.lock(ks);
            ks.advance_to(now);
            self.collect_ready(&mut ks);
        }
    }

    /// Holds `subscribe_key`'s lock, as a long request on that keyset would (tests of
    /// lock independence).
    #[cfg(test)]
    pub(crate) fn hold_keyset(&self, subscribe_key: &str) -> Option<MutexGuard<'_, KeysetState>> {
        self.keysets.get(subscribe_key).map(lock)
    }

    /// Current occupancy of a channel (as of the latest processed time).
    pub fn occupancy(&self, subscribe_key: &str, channel: &str) -> usize {
        self.keysets
            .get(subscribe_key)
            .map_or(0, |ks| self.lock(ks).occupancy(channel))
    }

    /// Size counters over all keysets.
    pub fn stats(&self) -> ModelStats {
        let mut s = ModelStats::default();
        for ks in self.keysets.values() {
            let ks = self.lock(ks);
            s.channels += ks.channels.len();
            s.occupants += ks
                .channels
                .values()
                .map(|c| c.occupants.len())
                .sum::<usize>();
            s.users += ks.users.len();
            s.groups += ks.groups.len();
            s.expiry_entries += ks.expiry.len();
            s.events += ks.events.len();
            s.event_bytes += ks.events.bytes();
        }
        s
    }
}
