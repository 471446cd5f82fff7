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
mod groups;
mod heartbeat;
mod here_now;
mod keyset;
mod params;
mod registry;
mod schedule;
mod state;
mod subscribe;
mod where_now;

pub use subscribe::Wait;

use crate::body;
use crate::config::{Keyset, ModelConfig};
use crate::wire::Service;
use http::{Request, Response, StatusCode};
use keyset::KeysetState;
use std::collections::HashMap;
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
    keysets: HashMap<String, KeysetState>,
    /// Latest `now` seen, nanoseconds since the epoch.
    now: u64,
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
            .map(|ks| (ks.subscribe_key.clone(), KeysetState::new(ks, &config)))
            .collect();
        Model {
            config,
            keysets,
            now: 0,
        }
    }

    /// The configuration this model was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn observe(&mut self, now: Duration) -> u64 {
        let n = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.now = self.now.max(n);
        self.now
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
        match self.dispatch(now, req) {
            Dispatch::Response(resp) => resp,
            Dispatch::Wait(wait) => self.finish_wait(now, &wait),
        }
    }

    /// Like [`handle`](Model::handle), but a subscribe long-poll with nothing to
    /// deliver yet comes back as [`Dispatch::Wait`].
    pub fn dispatch<B>(&mut self, now: Duration, req: &Request<B>) -> Dispatch {
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
        let now = self.observe(now);
        let ks = self.keysets.get_mut(&wait.sub_key)?;
        ks.advance_to(now);
        ks.deliver(wait, now >= wait.deadline)
    }

    /// Answers a waiting long-poll now, with whatever is available (possibly an
    /// empty `m`); used at shutdown and by [`handle`](Model::handle).
    pub fn finish_wait(&mut self, now: Duration, wait: &Wait) -> Response<Vec<u8>> {
        let now = self.observe(now);
        match self.keysets.get_mut(&wait.sub_key) {
            Some(ks) => {
                ks.advance_to(now);
                ks.deliver(wait, true).unwrap_or_else(|| {
                    body::error(StatusCode::NOT_FOUND, Service::Subscribe, "Not Found")
                })
            }
            None => body::bad_request(Service::Subscribe, "Invalid Subscribe Key"),
        }
    }

    /// Total presence events generated so far over all keysets (changes whenever a
    /// subscriber may have something new).
    pub fn events_generated(&self) -> u64 {
        self.keysets.values().map(|ks| ks.events.appended).sum()
    }

    /// The earliest instant at which [`handle_timeout`](Model::handle_timeout) has work
    /// (an occupant's presence timeout or an `interval` event), if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.keysets
            .values()
            .filter_map(KeysetState::next_due)
            .min()
            .map(Duration::from_nanos)
    }

    /// Removes every occupant whose timeout has passed at `now` (announcing `timeout`
    /// events) and emits every `interval` event due.
    pub fn handle_timeout(&mut self, now: Duration) {
        let now = self.observe(now);
        for ks in self.keysets.values_mut() {
            ks.advance_to(now);
        }
    }

    /// Current occupancy of a channel (as of the latest processed time).
    pub fn occupancy(&self, subscribe_key: &str, channel: &str) -> usize {
        self.keysets
            .get(subscribe_key)
            .map_or(0, |ks| ks.occupancy(channel))
    }

    /// Size counters over all keysets.
    pub fn stats(&self) -> ModelStats {
        let mut s = ModelStats::default();
        for ks in self.keysets.values() {
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
