//! The hyper 1 + tokio server around [`Model`]: listener, clock, time control.
//!
//! This file holds the configuration ([`EmulatorConfig`]) and the state the tasks
//! share (the model under its lock, the clock, the wake-ups); [`handle`] starts an
//! emulator and holds it ([`Emulator`], [`EmulatorHandle`],
//! [`BlockingEmulatorHandle`]); [`connection`] holds the tasks: the accept loop, one
//! HTTP/1.1 connection with its long-polls, and the expiry timer.

mod connection;
mod handle;
mod refusal;
mod slots;

pub(crate) use connection::ResponseBody;
pub use handle::{BlockingEmulatorHandle, Emulator, EmulatorHandle};
pub use slots::ConnectionStats;

use crate::admin::{AdminState, AdminToken};
use crate::config::{Keyset, ModelConfig};
use crate::fault::{rules::Faults, FaultRule};
use crate::model::Model;
use crate::stats::RequestCounters;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Configuration of a running emulator: the [`ModelConfig`] plus listener, limits and
/// clock.
///
/// ```
/// use presence_emulator::{EmulatorConfig, Keyset};
/// use std::time::Duration;
/// let config = EmulatorConfig::new()
///     .keyset(Keyset::new("sub").publish_key("pub").secret_key("sec"))
///     .max_url_len(16 * 1024)
///     .signature_window(Duration::from_secs(60))
///     .announce_max(5)
///     .paused_clock(Duration::from_secs(1_700_000_000));
/// assert_eq!(config.model().keysets().len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    model: ModelConfig,
    listen: SocketAddr,
    max_connections: usize,
    max_long_polls: usize,
    header_read_timeout: Duration,
    paused_at: Option<Duration>,
    faults: Vec<FaultRule>,
    pub(crate) admin: AdminConfig,
}

/// Default of [`EmulatorConfig::max_connections`].
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default of [`EmulatorConfig::max_long_polls`].
pub(crate) const DEFAULT_MAX_LONG_POLLS: usize = 16_384;
/// Default of [`EmulatorConfig::header_read_timeout`], in seconds.
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            model: ModelConfig::default(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_long_polls: DEFAULT_MAX_LONG_POLLS,
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            paused_at: None,
            faults: Vec::new(),
            admin: AdminConfig::default(),
        }
    }
}

impl EmulatorConfig {
    /// Defaults: `127.0.0.1:0` (an ephemeral port), keyset `demo`, real clock,
    /// 1024 connections plus 16 384 long-polls, 10 s header read timeout, and
    /// [`ModelConfig`]'s defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole model configuration.
    pub fn with_model(mut self, model: ModelConfig) -> Self {
        self.model = model;
        self
    }

    /// The model configuration.
    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    /// Adds a keyset (see [`ModelConfig::keyset`]).
    pub fn keyset(mut self, keyset: Keyset) -> Self {
        self.model = self.model.keyset(keyset);
        self
    }

    /// Address to listen on. Default `127.0.0.1:0` (an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// See [`ModelConfig::max_url_len`].
    pub fn max_url_len(mut self, bytes: usize) -> Self {
        self.model = self.model.max_url_len(bytes);
        self
    }

    /// See [`ModelConfig::signature_window`].
    pub fn signature_window(mut self, window: Duration) -> Self {
        self.model = self.model.signature_window(window);
        self
    }

    /// See [`ModelConfig::announce_max`].
    pub fn announce_max(mut self, occupants: usize) -> Self {
        self.model = self.model.announce_max(occupants);
        self
    }

    /// See [`ModelConfig::interval`].
    pub fn interval(mut self, interval: Duration) -> Self {
        self.model = self.model.interval(interval);
        self
    }

    /// See [`ModelConfig::subscribe_timeout`].
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.model = self.model.subscribe_timeout(timeout);
        self
    }

    /// See [`ModelConfig::event_log_capacity`].
    pub fn event_log_capacity(mut self, events: usize) -> Self {
        self.model = self.model.event_log_capacity(events);
        self
    }

    /// See [`ModelConfig::event_log_bytes`].
    pub fn event_log_bytes(mut self, bytes: usize) -> Self {
        self.model = self.model.event_log_bytes(bytes);
        self
    }

    /// See [`ModelConfig::max_group_channels`].
    pub fn max_group_channels(mut self, channels: usize) -> Self {
        self.model = self.model.max_group_channels(channels);
        self
    }

    /// See [`ModelConfig::max_channels_per_add`].
    pub fn max_channels_per_add(mut self, channels: usize) -> Self {
        self.model = self.model.max_channels_per_add(channels);
        self
    }

    /// See [`ModelConfig::here_now_cache`] (`--here-now-cache SECS`).
    pub fn here_now_cache(mut self, ttl: Duration) -> Self {
        self.model = self.model.here_now_cache(ttl);
        self
    }

    /// See [`ModelConfig::rate_limit`] (`--rate-limit N`).
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.model = self.model.rate_limit(per_second);
        self
    }

    /// See [`ModelConfig::realistic`] (`--realistic`).
    pub fn realistic(mut self) -> Self {
        self.model = self.model.realistic();
        self
    }

    /// Most connections open at once that are not parked in a subscribe long-poll:
    /// idle ones (a fresh connection, keep-alive between requests, a client still
    /// sending its headers) and ones with a request in progress. Default 1024.
    ///
    /// At the limit, a new connection closes the connection that has been idle the
    /// longest (so slow or idle clients can never lock others out); only when every
    /// one of them has a request in progress does it wait for one to finish.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Most subscribe long-polls parked at once. A parked long-poll costs no
    /// [`max_connections`](EmulatorConfig::max_connections) slot, only its socket and a
    /// few KiB. Past the limit, and whenever the process runs out of file descriptors,
    /// the oldest parked long-poll is answered at once (an empty `m`, as at its
    /// subscribe timeout) with `Connection: close`. Default 16 384; keep it below the
    /// process's open-file limit (`ulimit -n`).
    pub fn max_long_polls(mut self, long_polls: usize) -> Self {
        self.max_long_polls = long_polls.max(1);
        self
    }

    /// How long a client may take to send a request's headers, counted from the end of
    /// the previous response on a kept-alive connection (so it also bounds how long an
    /// idle keep-alive connection, an HTTP/2 connection with no stream open, or a
    /// connection that never sent a byte stays open). Default 10 s.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Starts the emulator's clock at `start` (since the UNIX epoch) and keeps it
    /// there: time then moves only through [`EmulatorHandle::advance`]. Default: the
    /// real clock (system time plus every `advance`).
    pub fn paused_clock(mut self, start: Duration) -> Self {
        self.paused_at = Some(start);
        self
    }

    /// The fault rules to start with, replacing any given before (see [`FaultRule`];
    /// on a running emulator, [`EmulatorHandle::set_faults`]). Default: none.
    pub fn faults(mut self, rules: impl IntoIterator<Item = FaultRule>) -> Self {
        self.faults = rules.into_iter().collect();
        self
    }

    /// Adds one fault rule to start with, after those given before.
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    /// The fault rules the emulator starts with.
    pub fn fault_rules(&self) -> &[FaultRule] {
        &self.faults
    }

    /// Guards the admin API (`/_emulator/v1/…`): its requests must carry
    /// `Authorization: Bearer TOKEN`, or get 401. Presence requests never need it.
    /// Default: no token (the admin API is open, as the emulator listens on loopback).
    pub fn admin_token(mut self, token: AdminToken) -> Self {
        self.admin.token = Some(token);
        self
    }

    /// Restores the state in `path` (a [`Snapshot`](crate::Snapshot) as JSON, what
    /// `GET /_emulator/v1/state` and [`export_on_exit`](EmulatorConfig::export_on_exit)
    /// write) when the emulator starts; [`Emulator::start`] fails when it cannot.
    pub fn import(mut self, path: impl Into<PathBuf>) -> Self {
        self.admin.import = Some(path.into());
        self
    }

    /// Writes the state to `path` when the emulator exits through
    /// [`EmulatorHandle::exit`] (the binaries do on Ctrl-C).
    pub fn export_on_exit(mut self, path: impl Into<PathBuf>) -> Self {
        self.admin.export_on_exit = Some(path.into());
        self
    }
}

/// The admin settings of an [`EmulatorConfig`].
#[derive(Debug, Clone, Default)]
pub(crate) struct AdminConfig {
    pub(crate) token: Option<AdminToken>,
    pub(crate) import: Option<PathBuf>,
    pub(crate) export_on_exit: Option<PathBuf>,
}

/// The emulator's time source: real (or paused) time plus the accumulated `advance`s.
#[derive(Debug)]
pub(crate) struct Clock {
    pub(crate) paused_at: Option<Duration>,
    pub(crate) offset_nanos: AtomicU64,
}

impl Clock {
    pub(crate) fn now(&self) -> Duration {
        let base = self.paused_at.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        });
        base + Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    pub(crate) fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_update` with saturating add never fails with `Some`.
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| {
                Some(o.saturating_add(by))
            });
    }
}

/// State shared by the listener, the connections and the handles.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Requests take it shared (the model locks per keyset inside);
    /// [`EmulatorHandle::with_model`] takes it exclusively.
    model: RwLock<Model>,
    pub(crate) clock: Clock,
    /// Wakes the expiry timer task (after `advance`).
    timer_wake: Notify,
    /// Wakes every parked long-poll to re-check its deadline (the clock moved).
    clock_moved: Notify,
    /// The wake-up of each parked long-poll, by [`Wait::id`](crate::Wait::id).
    wakers: Mutex<HashMap<u64, Arc<Notify>>>,
    /// Connection accounting: `max_connections`, `max_long_polls`, eviction.
    pub(crate) slots: slots::Slots,
    /// The active fault rules.
    pub(crate) faults: Faults,
    /// Presence requests by operation and status.
    pub(crate) requests: RequestCounters,
    /// The admin API's token and the inspector's wake-up.
    pub(crate) admin: AdminState,
}

impl Shared {
    /// Runs `f` on the model (shared) and wakes the long-polls that got events.
    pub(crate) fn run<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        let model = self.read();
        let out = f(&model);
        let ready = model.take_ready();
        drop(model);
        self.wake(ready);
        out
    }

    /// Wakes the parked long-polls `ready` names (from [`Model::take_ready`]).
    fn wake(&self, ready: Vec<u64>) {
        if ready.is_empty() {
            return;
        }
        let wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        for id in ready {
            if let Some(w) = wakers.get(&id) {
                w.notify_one();
            }
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Model> {
        // A panic while holding the lock cannot leave the model half-updated in a way
        // that matters more than stopping the emulator would; keep serving.
        self.model.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Model> {
        self.model.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
        let now = self.clock.now();
        self.run(|m| m.handle_timeout_shared(now));
        self.timer_wake.notify_one();
        // Long-polls re-check their (moved) deadline.
        self.clock_moved.notify_waiters();
    }
}
