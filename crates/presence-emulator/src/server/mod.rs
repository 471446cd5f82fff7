//! The hyper 1 + tokio server around [`Model`]: listener, clock, time control.
//!
//! This file holds the configuration ([`EmulatorConfig`]) and the state the tasks
//! share (the model under its lock, the clock, the wake-ups); [`handle`] starts an
//! emulator and holds it ([`Emulator`], [`EmulatorHandle`],
//! [`BlockingEmulatorHandle`]); [`connection`] holds the tasks: the accept loop, one
//! HTTP/1.1 connection with its long-polls, and the expiry timer.

mod connection;
mod handle;

pub use handle::{BlockingEmulatorHandle, Emulator, EmulatorHandle};

use crate::config::{Keyset, ModelConfig};
use crate::model::Model;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
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
    header_read_timeout: Duration,
    paused_at: Option<Duration>,
}

/// Default of [`EmulatorConfig::max_connections`].
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            model: ModelConfig::default(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Duration::from_secs(10),
            paused_at: None,
        }
    }
}

impl EmulatorConfig {
    /// Defaults: `127.0.0.1:0` (an ephemeral port), keyset `demo`, real clock,
    /// 1024 connections, 10 s header read timeout, and [`ModelConfig`]'s defaults.
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

    /// Most connections served at once (further ones wait in the listen backlog).
    /// Default 1024.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long a client may take to send a request's headers. Default 10 s.
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
}

/// The emulator's time source: real (or paused) time plus the accumulated `advance`s.
#[derive(Debug)]
struct Clock {
    paused_at: Option<Duration>,
    offset_nanos: AtomicU64,
}

impl Clock {
    fn now(&self) -> Duration {
        let base = self.paused_at.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        });
        base + Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    fn advance(&self, by: Duration) {
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
struct Shared {
    model: Mutex<Model>,
    clock: Clock,
    /// Wakes the expiry timer task (after `advance`).
    timer_wake: Notify,
    /// Wakes waiting subscribe long-polls (new events, or the clock moved).
    changed: Notify,
}

impl Shared {
    /// Runs `f` under the lock and wakes the long-polls if it generated events.
    fn mutate<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        let mut model = self.lock();
        let before = model.events_generated();
        let out = f(&mut model);
        if model.events_generated() != before {
            self.changed.notify_waiters();
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        // A panic while holding the lock cannot leave the model half-updated in a way
        // that matters more than stopping the emulator would; keep serving.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        let now = self.clock.now();
        self.lock().handle_timeout(now);
        self.timer_wake.notify_one();
        // Long-polls re-check both for new events and for their (moved) deadline.
        self.changed.notify_waiters();
    }
}
