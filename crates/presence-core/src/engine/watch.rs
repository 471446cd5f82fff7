//! The watch engine (WatchEngine).

use super::{Backoff, Failure, RequestId, Trace, Transition, Transmit};
use crate::ops::subscribe::{Cursor, Subscribe};
use crate::presence_event::{PresenceEvent, UnreadableEvent};
use crate::request::Operation;
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// The watch engine's floor between two subscribe requests: they never start less
/// than this apart, so at most 10 requests per second whatever the origin does.
pub const MIN_POLL_GAP: Duration = Duration::from_millis(100);

/// The floor after a long-poll that brought nothing new (an empty answer, only
/// duplicates, or a failure): the next request starts at least this long after it
/// started. A real long-poll with nothing to say lasts minutes, so this never delays
/// one; against an origin that answers every long-poll at once with nothing, the
/// engine sends at most one request per second.
pub const IDLE_POLL_GAP: Duration = Duration::from_secs(1);

/// Watch engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// First reconnect delay.
    pub retry_base: Duration,
    /// Longest reconnect delay.
    pub retry_cap: Duration,
    /// Consecutive retries after which the engine may give up (default 3), once the
    /// failures also span [`give_up_after`](Self::give_up_after); see
    /// [`WatchEvent::GaveUp`].
    pub max_retries: u32,
    /// How long consecutive failures must last before the engine gives up (default
    /// 5 minutes; `Duration::MAX` never gives up).
    pub give_up_after: Duration,
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
            max_retries: 3,
            give_up_after: Duration::from_secs(300),
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
    /// Stopped by the user, by a non-retryable error or by giving up.
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
    /// A request failed; `retry_in` is `None` when the engine stopped (a
    /// non-retryable error, or the last failure before [`GaveUp`](Self::GaveUp)).
    Failed {
        /// What went wrong.
        failure: Failure,
        /// When the next attempt happens, if any.
        retry_in: Option<Duration>,
    },
    /// The engine stopped retrying: more than
    /// [`max_retries`](WatchConfig::max_retries) consecutive retryable failures
    /// spanning at least [`give_up_after`](WatchConfig::give_up_after). Follows the
    /// last [`Failed`](Self::Failed); the engine is [`Stopped`](WatchState::Stopped)
    /// until `reconnect`.
    GaveUp {
        /// Consecutive failed requests.
        failures: u32,
        /// From the first of them to the last.
        over: Duration,
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
            WatchEvent::GaveUp { failures, over } => write!(
                f,
                "gave up after {failures} failed requests over {:.1} s",
                over.as_secs_f64()
            ),
            WatchEvent::Unreadable(what) => what.fmt(f),
        }
    }
}

/// An input of the watch engine, as recorded in its [`WatchTransition`]s.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WatchInput {
    /// [`add`](WatchEngine::add).
    Added {
        /// Channels given.
        channels: Vec<String>,
        /// Groups given.
        groups: Vec<String>,
    },
    /// [`remove`](WatchEngine::remove).
    Removed {
        /// Channels given.
        channels: Vec<String>,
        /// Groups given.
        groups: Vec<String>,
    },
    /// [`stop`](WatchEngine::stop).
    Stop,
    /// [`reconnect`](WatchEngine::reconnect).
    Reconnect,
    /// The awaited request answered; `new_events` were delivered (after
    /// de-duplication, unreadable messages included).
    Received {
        /// Its request.
        id: RequestId,
        /// Events delivered.
        new_events: usize,
    },
    /// The awaited request failed.
    Failed {
        /// Its request.
        id: RequestId,
        /// Why.
        failure: Failure,
    },
    /// A request was cancelled by the driver.
    Cancelled {
        /// Its request.
        id: RequestId,
    },
    /// The answer to a request the engine no longer awaits: ignored.
    Stale {
        /// Its request.
        id: RequestId,
    },
    /// The deadline from `poll_timeout` passed.
    TimesUp,
}

/// What the watch engine did about an input, as recorded in its [`WatchTransition`]s.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WatchEffect {
    /// A handshake (`tt=0`) was handed out.
    Handshake {
        /// Its request.
        id: RequestId,
    },
    /// A long-poll from the cursor was handed out.
    Receive {
        /// Its request.
        id: RequestId,
    },
    /// The driver is asked to abort request `id` (see `poll_cancel`).
    Cancel {
        /// Its request.
        id: RequestId,
    },
    /// The next request waits for the floor ([`MIN_POLL_GAP`], [`IDLE_POLL_GAP`]).
    Wait {
        /// When it may start.
        until: Instant,
    },
    /// A failed request is retried at `until`.
    Retry {
        /// When.
        until: Instant,
        /// Retry number, from 1.
        attempt: u32,
    },
    /// The engine stopped retrying; see [`WatchEvent::GaveUp`].
    GiveUp {
        /// Consecutive failed requests.
        failures: u32,
    },
}

/// One step of the watch engine; see [`Transition`].
pub type WatchTransition = Transition<WatchState, WatchInput, WatchEffect>;

/// The watch engine, a sans-IO state machine driven as the crate docs' *driver
/// contract* says: receives presence events for channels and groups over subscribe
/// (PROTOCOL.md §7): handshake (`tt=0`), then long-polls with the `tt`/`tr` cursor.
/// Every input is recorded as a [`WatchTransition`] once
/// [`record_transitions`](Self::record_transitions) is on.
///
/// - Channels and groups can be added and removed while running: the in-flight long-poll
///   is cancelled (see [`poll_cancel`](WatchEngine::poll_cancel)) and a new one starts
///   from the same cursor, so no event is missed.
/// - Duplicate deliveries (PROTOCOL.md §10.15, a recorded timeout delivered twice) are
///   dropped: the last [`WatchConfig::dedup_window`] event keys are remembered.
/// - **No spin.** At most one request is awaited at a time, and two requests never
///   start less than [`MIN_POLL_GAP`] (100 ms) apart; after a long-poll that brought
///   nothing new (empty, only duplicates, or failed) the next one starts at least
///   [`IDLE_POLL_GAP`] (1 s) after it started. Against an origin that answers every
///   long-poll at once with nothing, that is at most one request per second; with new
///   events every time, at most ten.
/// - Failures: transport errors, 408, 429 and 5xx reconnect with exponential backoff and
///   jitter (honouring `Retry-After` up to the cap), keeping the cursor; once more than
///   [`max_retries`](WatchConfig::max_retries) consecutive failures span at least
///   [`give_up_after`](WatchConfig::give_up_after), the engine gives up
///   ([`WatchEvent::GaveUp`]). Other errors (403, 400) stop the engine and are
///   reported.
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
    /// A request handed out by an input, returned by `poll_request`, and the start of
    /// the request before it (restored if this one is dropped unpolled).
    ready: Option<(Transmit<Subscribe>, Option<Instant>)>,
    to_cancel: VecDeque<RequestId>,
    /// When the next request may start (while none is awaited).
    next_at: Option<Instant>,
    /// When the last request started, and the gap the next one keeps from it.
    last_sent: Option<Instant>,
    gap: Duration,
    failures: u32,
    first_failure: Option<Instant>,
    events: VecDeque<WatchEvent>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    backoff: Backoff,
    next_id: RequestId,
    call_options: crate::CallOptions,
    trace: Trace<WatchState, WatchInput, WatchEffect>,
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
            ready: None,
            to_cancel: VecDeque::new(),
            next_at: None,
            last_sent: None,
            gap: MIN_POLL_GAP,
            failures: 0,
            first_failure: None,
            events: VecDeque::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            backoff,
            next_id: 1,
            call_options: crate::CallOptions::default(),
            trace: Trace::default(),
        }
    }

    /// Keyset choice and extra query parameters applied to every request.
    pub fn set_call_options(&mut self, options: crate::CallOptions) {
        self.call_options = options;
    }

    /// Starts (or, with 0, stops) recording a [`WatchTransition`] for every input,
    /// keeping at most `capacity` undrained entries (the oldest are dropped).
    pub fn record_transitions(&mut self, capacity: usize) {
        self.trace.set_capacity(capacity);
    }

    /// The oldest recorded transition, if any.
    #[must_use]
    pub fn poll_transition(&mut self) -> Option<WatchTransition> {
        self.trace.pop()
    }

    /// The current state.
    pub fn state(&self) -> WatchState {
        self.state
    }

    /// The cursor, once the handshake succeeded.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// Handshaking or receiving, as the cursor says.
    fn polling_state(&self) -> WatchState {
        if self.cursor.is_some() {
            WatchState::Receiving
        } else {
            WatchState::Handshaking
        }
    }

    /// Drops the awaited request: the driver is to abort it (or, when it was not
    /// handed out yet, it is simply forgotten).
    fn cancel_in_flight(&mut self) {
        if let Some(id) = self.in_flight.take() {
            if let Some((_, before)) = self.ready.take_if(|(tx, _)| tx.id == id) {
                // It never left the engine: it does not count for the floor.
                self.last_sent = before;
            } else {
                self.to_cancel.push_back(id);
                self.trace.effect(WatchEffect::Cancel { id });
            }
        }
    }

    /// The next request starts once the floor allows.
    fn poll_soon(&mut self, now: Instant) {
        let at = self.last_sent.map_or(now, |t| (t + self.gap).max(now));
        self.next_at = Some(at);
        if at > now {
            self.trace.effect(WatchEffect::Wait { until: at });
        }
    }

    fn restart_poll(&mut self, now: Instant) {
        self.cancel_in_flight();
        if self.channels.is_empty() && self.groups.is_empty() {
            self.next_at = None;
            if self.state != WatchState::Stopped {
                self.state = WatchState::Idle;
            }
        } else if matches!(
            self.state,
            WatchState::Idle | WatchState::Handshaking | WatchState::Receiving
        ) {
            self.state = self.polling_state();
            // A superseded poll brought nothing but was not idle either.
            self.gap = MIN_POLL_GAP;
            self.poll_soon(now);
        }
    }

    /// Closes the transition for one input: hands out what may go now, then records.
    fn finish(&mut self, now: Instant, from: WatchState, input: impl FnOnce() -> WatchInput) {
        self.pump(now);
        self.trace.record(now, from, input, self.state);
    }

    /// Adds channels and groups to watch (user-facing names).
    pub fn add<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let (channels, groups) = super::owned_names(channels, groups);
        let from = self.state;
        let sets = (&mut self.channels, &mut self.groups);
        if super::edit_names(sets, &channels, &groups, true) {
            self.restart_poll(now);
        }
        self.finish(now, from, || WatchInput::Added { channels, groups });
    }

    /// Stops watching channels and groups.
    pub fn remove<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let (channels, groups) = super::owned_names(channels, groups);
        let from = self.state;
        let sets = (&mut self.channels, &mut self.groups);
        if super::edit_names(sets, &channels, &groups, false) {
            self.restart_poll(now);
        }
        self.finish(now, from, || WatchInput::Removed { channels, groups });
    }

    /// Stops: the in-flight request is to be cancelled; nothing more is sent.
    pub fn stop(&mut self, now: Instant) {
        let from = self.state;
        self.cancel_in_flight();
        self.next_at = None;
        self.state = WatchState::Stopped;
        self.finish(now, from, || WatchInput::Stop);
    }

    /// Resumes after [`stop`](Self::stop), a failure or a give-up, from the last cursor
    /// (once the floor allows).
    pub fn reconnect(&mut self, now: Instant) {
        let from = self.state;
        if matches!(self.state, WatchState::Stopped | WatchState::Reconnecting) {
            self.state = WatchState::Idle;
            self.failures = 0;
            self.first_failure = None;
            self.next_at = None;
            self.restart_poll(now);
        }
        self.finish(now, from, || WatchInput::Reconnect);
    }

    /// Hands out the next request when one is due. `next_at` is set only while no
    /// request is awaited and cleared when one is handed out, so a due `next_at` also
    /// means none is awaited.
    fn pump(&mut self, now: Instant) {
        if !matches!(self.state, WatchState::Handshaking | WatchState::Receiving)
            || self.next_at.is_none_or(|t| t > now)
        {
            return;
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
        self.trace.effect(if self.cursor.is_some() {
            WatchEffect::Receive { id }
        } else {
            WatchEffect::Handshake { id }
        });
        self.in_flight = Some(id);
        let before = self.last_sent.replace(now);
        self.next_at = None;
        self.ready = Some((Transmit { id, op }, before));
    }

    /// A deadline passed: the retry or the floor is over.
    fn advance(&mut self, now: Instant) {
        if self.in_flight.is_none()
            && matches!(
                self.state,
                WatchState::Handshaking | WatchState::Receiving | WatchState::Reconnecting
            )
            && self.next_at.is_some_and(|t| t <= now)
        {
            let from = self.state;
            self.state = self.polling_state();
            self.finish(now, from, || WatchInput::TimesUp);
        }
    }

    /// The next request to send, if any.
    #[must_use]
    pub fn poll_request(&mut self, now: Instant) -> Option<Transmit<Subscribe>> {
        self.advance(now);
        self.ready.take().map(|(tx, _)| tx)
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
        let from = self.state;
        if self.in_flight != Some(id) {
            self.finish(now, from, || WatchInput::Stale { id });
            return;
        }
        self.in_flight = None;
        match Subscribe::new().parse_response(response) {
            Ok(result) => {
                let first = self.cursor.is_none();
                self.cursor = Some(result.cursor);
                self.failures = 0;
                self.first_failure = None;
                self.state = WatchState::Receiving;
                if first {
                    self.events.push_back(WatchEvent::Connected);
                }
                let before = self.events.len();
                for event in result.events {
                    if self.first_time(event.dedup_key()) {
                        self.events.push_back(WatchEvent::Presence(event));
                    }
                }
                self.events
                    .extend(result.unreadable.into_iter().map(WatchEvent::Unreadable));
                let new_events = self.events.len() - before;
                self.gap = if first || new_events > 0 {
                    MIN_POLL_GAP
                } else {
                    IDLE_POLL_GAP
                };
                self.poll_soon(now);
                self.finish(now, from, || WatchInput::Received { id, new_events });
            }
            Err(e) => self.fail(now, from, id, Failure::Response(e)),
        }
    }

    /// Reports that request `id` failed: it did not complete
    /// ([`Failure::Transport`]), or the driver already classified the answer.
    pub fn handle_failure(&mut self, now: Instant, id: RequestId, failure: Failure) {
        let from = self.state;
        if self.in_flight == Some(id) {
            self.in_flight = None;
            self.fail(now, from, id, failure);
        } else {
            self.finish(now, from, || WatchInput::Stale { id });
        }
    }

    /// Reports that request `id` was cancelled (no transition; a due poll is sent again
    /// once the floor allows).
    pub fn handle_cancelled(&mut self, now: Instant, id: RequestId) {
        let from = self.state;
        if self.in_flight == Some(id) {
            self.in_flight = None;
            if matches!(self.state, WatchState::Handshaking | WatchState::Receiving) {
                self.poll_soon(now);
            }
        }
        self.finish(now, from, || WatchInput::Cancelled { id });
    }

    fn fail(&mut self, now: Instant, from: WatchState, id: RequestId, failure: Failure) {
        let input_failure = self.trace.is_on().then(|| failure.clone());
        if failure.is_retryable() {
            self.failures = self.failures.saturating_add(1);
            let first = *self.first_failure.get_or_insert(now);
            let over = now.saturating_duration_since(first);
            if self.failures > self.config.max_retries && over >= self.config.give_up_after {
                self.next_at = None;
                self.state = WatchState::Stopped;
                self.events.push_back(WatchEvent::Failed {
                    failure,
                    retry_in: None,
                });
                self.events.push_back(WatchEvent::GaveUp {
                    failures: self.failures,
                    over,
                });
                self.trace.effect(WatchEffect::GiveUp {
                    failures: self.failures,
                });
            } else {
                let mut delay = self.backoff.delay(self.failures - 1);
                if let Some(after) = failure.retry_after() {
                    delay = delay.max(after).min(self.backoff.cap());
                }
                let floor = self.last_sent.map_or(now, |t| (t + IDLE_POLL_GAP).max(now));
                let at = (now + delay).max(floor);
                self.next_at = Some(at);
                self.gap = IDLE_POLL_GAP;
                self.state = WatchState::Reconnecting;
                self.trace.effect(WatchEffect::Retry {
                    until: at,
                    attempt: self.failures,
                });
                self.events.push_back(WatchEvent::Failed {
                    failure,
                    retry_in: Some(at - now),
                });
            }
        } else {
            self.next_at = None;
            self.state = WatchState::Stopped;
            self.events.push_back(WatchEvent::Failed {
                failure,
                retry_in: None,
            });
        }
        self.finish(now, from, || WatchInput::Failed {
            id,
            failure: input_failure.expect("recorded only when the trace is on"),
        });
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

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if ever: a
    /// retry, or the floor before the next request.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            WatchState::Handshaking | WatchState::Receiving | WatchState::Reconnecting
                if self.in_flight.is_none() =>
            {
                self.next_at
            }
            _ => None,
        }
    }

    /// Advances timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<WatchEvent> {
        self.events.pop_front()
    }
}
