//! The watch engine (WatchEngine).

use super::{Backoff, Failure, RequestId, Transmit};
use crate::ops::subscribe::{Cursor, Subscribe};
use crate::presence_event::{PresenceEvent, UnreadableEvent};
use crate::request::{sealed::Options as _, Operation};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Watch engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// First reconnect delay.
    pub retry_base: Duration,
    /// Longest reconnect delay.
    pub retry_cap: Duration,
    /// Seed for retry jitter.
    pub jitter_seed: u64,
    /// How many recent event keys are remembered for de-duplication.
    pub dedup_window: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(32),
            jitter_seed: 0x5eed,
            dedup_window: 1024,
        }
    }
}

/// Where the engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchState {
    /// Nothing to watch.
    Idle,
    /// Getting a cursor (`tt=0`).
    Handshaking,
    /// Long-polling from a cursor.
    Receiving,
    /// Waiting to retry after a failure.
    Reconnecting,
    /// Stopped by the user or by a non-retryable error.
    Stopped,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A presence event.
    Presence(PresenceEvent),
    /// The handshake succeeded: events flow from here.
    Connected,
    /// A request failed; `retry_in` is `None` when the engine stopped.
    Failed {
        /// What went wrong.
        failure: Failure,
        /// When the next attempt happens, if any.
        retry_in: Option<Duration>,
    },
    /// A presence message that could not be read; the cursor moved on.
    Unreadable(UnreadableEvent),
}

impl std::fmt::Display for WatchEvent {
    /// One line: the presence event, `connected`, `failed: … (retry in 1.0 s)` or
    /// the unreadable message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchEvent::Presence(event) => event.fmt(f),
            WatchEvent::Connected => f.write_str("connected"),
            WatchEvent::Failed { failure, retry_in } => {
                write!(f, "failed: {failure}")?;
                match retry_in {
                    Some(d) => write!(f, " (retry in {:.1} s)", d.as_secs_f64()),
                    None => f.write_str(" (the watch stopped)"),
                }
            }
            WatchEvent::Unreadable(what) => what.fmt(f),
        }
    }
}

/// The watch engine, a sans-IO state machine driven as the crate docs' *driver
/// contract* says: receives presence events for channels and groups over subscribe
/// (PROTOCOL.md §7): handshake (`tt=0`), then long-polls with the `tt`/`tr` cursor.
///
/// - Channels and groups can be added and removed while running: the in-flight long-poll
///   is cancelled (see [`poll_cancel`](WatchEngine::poll_cancel)) and a new one starts
///   from the same cursor, so no event is missed.
/// - Duplicate deliveries (PROTOCOL.md §10.15, a recorded timeout delivered twice) are
///   dropped: the last [`WatchConfig::dedup_window`] event keys are remembered.
/// - Failures: transport errors, 408, 429 and 5xx reconnect with exponential backoff and
///   jitter, keeping the cursor; other errors (403, 400) stop the engine and are reported.
///
/// Subscribing only to `-pnpres` channels does not make the watcher present anywhere.
#[derive(Debug)]
pub struct WatchEngine {
    config: WatchConfig,
    state: WatchState,
    channels: BTreeSet<String>,
    groups: BTreeSet<String>,
    cursor: Option<Cursor>,
    in_flight: Option<RequestId>,
    to_cancel: VecDeque<RequestId>,
    retry_at: Option<Instant>,
    attempt: u32,
    events: VecDeque<WatchEvent>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    backoff: Backoff,
    next_id: RequestId,
    call_options: crate::CallOptions,
}

impl WatchEngine {
    /// A new, idle engine.
    pub fn new(config: WatchConfig) -> Self {
        let backoff = Backoff::new(config.retry_base, config.retry_cap, config.jitter_seed);
        Self {
            config,
            state: WatchState::Idle,
            channels: BTreeSet::new(),
            groups: BTreeSet::new(),
            cursor: None,
            in_flight: None,
            to_cancel: VecDeque::new(),
            retry_at: None,
            attempt: 0,
            events: VecDeque::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            backoff,
            next_id: 1,
            call_options: crate::CallOptions::default(),
        }
    }

    /// Keyset choice and extra query parameters applied to every request.
    pub fn set_call_options(&mut self, options: crate::CallOptions) {
        self.call_options = options;
    }

    /// The current state.
    pub fn state(&self) -> WatchState {
        self.state
    }

    /// The cursor, once the handshake succeeded.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    fn restart_poll(&mut self) {
        if let Some(id) = self.in_flight.take() {
            self.to_cancel.push_back(id);
        }
        if self.channels.is_empty() && self.groups.is_empty() {
            self.retry_at = None;
            if self.state != WatchState::Stopped {
                self.state = WatchState::Idle;
            }
        } else if matches!(
            self.state,
            WatchState::Idle | WatchState::Handshaking | WatchState::Receiving
        ) {
            self.state = if self.cursor.is_some() {
                WatchState::Receiving
            } else {
                WatchState::Handshaking
            };
        }
    }

    /// Adds channels and groups to watch (user-facing names).
    pub fn add<C, G, S, T>(&mut self, _now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let mut changed = false;
        for c in channels {
            changed |= self.channels.insert(c.into());
        }
        for g in groups {
            changed |= self.groups.insert(g.into());
        }
        if changed {
            self.restart_poll();
        }
    }

    /// Stops watching channels and groups.
    pub fn remove<C, G, S, T>(&mut self, _now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let mut changed = false;
        for c in channels {
            changed |= self.channels.remove(&c.into());
        }
        for g in groups {
            changed |= self.groups.remove(&g.into());
        }
        if changed {
            self.restart_poll();
        }
    }

    /// Stops: the in-flight request is to be cancelled; nothing more is sent.
    pub fn stop(&mut self, _now: Instant) {
        if let Some(id) = self.in_flight.take() {
            self.to_cancel.push_back(id);
        }
        self.retry_at = None;
        self.state = WatchState::Stopped;
    }

    /// Resumes after [`stop`](Self::stop) or a failure, from the last cursor.
    pub fn reconnect(&mut self, _now: Instant) {
        if matches!(self.state, WatchState::Stopped | WatchState::Reconnecting) {
            self.state = WatchState::Idle;
            self.attempt = 0;
            self.retry_at = None;
            self.restart_poll();
        }
    }

    /// The next request to send, if any.
    #[must_use]
    pub fn poll_request(&mut self, now: Instant) -> Option<Transmit<Subscribe>> {
        if self.state == WatchState::Reconnecting && self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            self.state = if self.cursor.is_some() {
                WatchState::Receiving
            } else {
                WatchState::Handshaking
            };
        }
        if !matches!(self.state, WatchState::Handshaking | WatchState::Receiving)
            || self.in_flight.is_some()
        {
            return None;
        }
        let mut op = Subscribe::new()
            .channels(self.channels.iter().cloned())
            .channel_groups(self.groups.iter().cloned());
        if let Some(cursor) = &self.cursor {
            op = op.cursor(cursor.clone());
        }
        *op.options_mut() = self.call_options.clone();
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight = Some(id);
        Some(Transmit { id, op })
    }

    /// A request the driver should abort (superseded by a channel change or a stop).
    #[must_use]
    pub fn poll_cancel(&mut self) -> Option<RequestId> {
        self.to_cancel.pop_front()
    }

    /// Feeds the response to request `id`.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &http::Response<B>,
    ) {
        if self.in_flight != Some(id) {
            return;
        }
        self.in_flight = None;
        match Subscribe::new().parse_response(response) {
            Ok(result) => {
                let first = self.cursor.is_none();
                self.cursor = Some(result.cursor);
                self.attempt = 0;
                self.state = WatchState::Receiving;
                if first {
                    self.events.push_back(WatchEvent::Connected);
                }
                for event in result.events {
                    if self.first_time(event.dedup_key()) {
                        self.events.push_back(WatchEvent::Presence(event));
                    }
                }
                self.events
                    .extend(result.unreadable.into_iter().map(WatchEvent::Unreadable));
            }
            Err(e) => self.fail(now, Failure::Response(e)),
        }
    }

    /// Reports that request `id` failed: it did not complete
    /// ([`Failure::Transport`]), or the driver already classified the answer.
    pub fn handle_failure(&mut self, now: Instant, id: RequestId, failure: Failure) {
        if self.in_flight == Some(id) {
            self.in_flight = None;
            self.fail(now, failure);
        }
    }

    /// Reports that request `id` was cancelled (no transition; a due poll is sent again).
    pub fn handle_cancelled(&mut self, _now: Instant, id: RequestId) {
        if self.in_flight == Some(id) {
            self.in_flight = None;
        }
    }

    fn fail(&mut self, now: Instant, failure: Failure) {
        if failure.is_retryable() {
            let mut delay = self.backoff.delay(self.attempt);
            if let Some(after) = failure.retry_after() {
                delay = delay.max(after).min(self.backoff.cap());
            }
            self.attempt = self.attempt.saturating_add(1);
            self.retry_at = Some(now + delay);
            self.state = WatchState::Reconnecting;
            self.events.push_back(WatchEvent::Failed {
                failure,
                retry_in: Some(delay),
            });
        } else {
            self.retry_at = None;
            self.state = WatchState::Stopped;
            self.events.push_back(WatchEvent::Failed {
                failure,
                retry_in: None,
            });
        }
    }

    fn first_time(&mut self, key: String) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        if self.seen_order.len() >= self.config.dedup_window.max(1) {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.seen_order.push_back(key);
        true
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            WatchState::Reconnecting => self.retry_at,
            _ => None,
        }
    }

    /// Advances timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == WatchState::Reconnecting && self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            self.state = if self.cursor.is_some() {
                WatchState::Receiving
            } else {
                WatchState::Handshaking
            };
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<WatchEvent> {
        self.events.pop_front()
    }
}
