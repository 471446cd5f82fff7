//! The heartbeat engine (HeartbeatEngine).

use super::{Backoff, Failure, RequestId, Transmit};
use crate::ops::heartbeat::{DEFAULT_PRESENCE_TIMEOUT, MIN_PRESENCE_TIMEOUT};
use crate::ops::subscribe::PRESENCE_SUFFIX;
use crate::request::sealed::{self, Options as _};
use crate::request::{CallOptions, HttpRequest, Operation, RequestMeta, RequestParts, Target};
use crate::response::BodyError;
use crate::{Config, Error, Heartbeat, Leave};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Shortest heartbeat interval the engine uses, whatever is configured.
pub const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Heartbeat engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatConfig {
    /// Presence timeout in seconds (`heartbeat=`), at least 20.
    pub timeout: u32,
    /// Time between heartbeats; `None` means `timeout / 2 - 1` (the documented rule).
    pub interval: Option<Duration>,
    /// Never send leave requests (the SDKs' `suppress_leave_events`).
    pub suppress_leave: bool,
    /// First retry delay after a retryable failure.
    pub retry_base: Duration,
    /// Seed for retry jitter.
    pub jitter_seed: u64,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self::new(DEFAULT_PRESENCE_TIMEOUT)
    }
}

impl HeartbeatConfig {
    /// Settings for a presence timeout in seconds (raised to at least 20).
    pub fn new(timeout: u32) -> Self {
        Self {
            timeout: timeout.max(MIN_PRESENCE_TIMEOUT),
            interval: None,
            suppress_leave: false,
            retry_base: Duration::from_secs(1),
            jitter_seed: 0x5eed,
        }
    }

    /// The heartbeat interval: the explicit one, or `timeout / 2 - 1` seconds.
    ///
    /// ```
    /// use presence_core::HeartbeatConfig;
    /// assert_eq!(HeartbeatConfig::new(300).interval().as_secs(), 149);
    /// assert_eq!(HeartbeatConfig::new(5).interval().as_secs(), 9); // timeout raised to 20
    /// ```
    pub fn interval(&self) -> Duration {
        // Never below one second, whatever the caller set: an interval of zero would be a
        // busy loop.
        let interval = self.interval.unwrap_or_else(|| {
            Duration::from_secs(u64::from(self.timeout.max(MIN_PRESENCE_TIMEOUT) / 2 - 1))
        });
        interval.max(MIN_HEARTBEAT_INTERVAL)
    }
}

/// Where the engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatState {
    /// No channels: nothing to do.
    Inactive,
    /// A heartbeat is due or in flight.
    Heartbeating,
    /// Waiting for the next heartbeat (after a success, or before a retry).
    Cooldown,
    /// A non-retryable error; waiting for `reconnect`, `join` or `left`.
    Failed,
    /// Disconnected by the user; inputs are remembered, nothing is sent.
    Stopped,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HeartbeatEvent {
    /// A heartbeat succeeded.
    Succeeded,
    /// A heartbeat failed; `retry_in` is `None` when it will not be retried.
    Failed {
        /// What went wrong.
        failure: Failure,
        /// When the retry happens, if any.
        retry_in: Option<Duration>,
    },
    /// A leave request failed (leaves are not retried).
    LeaveFailed(Failure),
    /// The state changed.
    StateChanged(HeartbeatState),
}

impl std::fmt::Display for HeartbeatEvent {
    /// One line: `heartbeat succeeded`, `heartbeat failed: … (retry in 1.2 s)`,
    /// `leave failed: …`, `state: cooldown`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeartbeatEvent::Succeeded => f.write_str("heartbeat succeeded"),
            HeartbeatEvent::Failed { failure, retry_in } => {
                write!(f, "heartbeat failed: {failure}")?;
                match retry_in {
                    Some(d) => write!(f, " (retry in {:.1} s)", d.as_secs_f64()),
                    None => f.write_str(" (not retried)"),
                }
            }
            HeartbeatEvent::LeaveFailed(failure) => write!(f, "leave failed: {failure}"),
            HeartbeatEvent::StateChanged(state) => write!(f, "state: {state}"),
        }
    }
}

impl std::fmt::Display for HeartbeatState {
    /// `inactive`, `heartbeating`, `cooldown`, `failed`, `stopped`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeartbeatState::Inactive => "inactive",
            HeartbeatState::Heartbeating => "heartbeating",
            HeartbeatState::Cooldown => "cooldown",
            HeartbeatState::Failed => "failed",
            HeartbeatState::Stopped => "stopped",
        })
    }
}

/// A request from the heartbeat or the fleet engine: a heartbeat or a leave.
#[derive(Debug, Clone, PartialEq)]
pub enum HeartbeatRequest {
    /// A heartbeat.
    Heartbeat(Heartbeat),
    /// A leave.
    Leave(Leave),
}

impl Operation for HeartbeatRequest {
    type Output = ();
    const NAME: &'static str = "heartbeat_engine";

    fn channel_count(&self) -> usize {
        match self {
            HeartbeatRequest::Heartbeat(h) => h.channel_count(),
            HeartbeatRequest::Leave(l) => l.channel_count(),
        }
    }
}

impl sealed::Options for HeartbeatRequest {
    fn options(&self) -> &CallOptions {
        match self {
            HeartbeatRequest::Heartbeat(h) => h.options(),
            HeartbeatRequest::Leave(l) => l.options(),
        }
    }

    fn options_mut(&mut self) -> &mut CallOptions {
        match self {
            HeartbeatRequest::Heartbeat(h) => h.options_mut(),
            HeartbeatRequest::Leave(l) => l.options_mut(),
        }
    }
}

impl sealed::Encode for HeartbeatRequest {
    type Parsed = ();

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        match self {
            HeartbeatRequest::Heartbeat(h) => h.encode(target, out),
            HeartbeatRequest::Leave(l) => l.encode(target, out),
        }
    }

    fn parse_body(&self, body: &[u8]) -> Result<(), BodyError> {
        match self {
            HeartbeatRequest::Heartbeat(h) => h.parse_body(body),
            HeartbeatRequest::Leave(l) => l.parse_body(body),
        }
    }
}

impl HeartbeatRequest {
    /// The request's name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            HeartbeatRequest::Heartbeat(_) => "heartbeat",
            HeartbeatRequest::Leave(_) => "leave",
        }
    }

    /// Builds the HTTP request.
    pub fn build(&self, config: &Config, meta: &RequestMeta) -> Result<HttpRequest, Error> {
        self.to_request(config, meta)
    }
}

/// The heartbeat engine, a sans-IO state machine driven as the crate docs' *driver
/// contract* says: keeps a user present on channels and groups (PROTOCOL.md §8).
///
/// States follow the official event engines (Rust, JS, Kotlin): [`Inactive`],
/// [`Heartbeating`], [`Cooldown`], [`Failed`], [`Stopped`]. One deliberate addition: a
/// retryable failure (transport error, 408, 429, 5xx) is retried with exponential
/// backoff and jitter, never slower than the heartbeat interval (so presence is not lost
/// to one bad request) and never faster than half the base delay (no busy loop). A
/// `Retry-After` is honoured up to the interval. Any other error (403, 400, …) is not
/// retried: the engine goes to [`Failed`] and reports it; `reconnect`, `join` or `left`
/// resume.
///
/// Go's *heartbeat without subscription* (`Presence().Connected(true)`) is
/// [`join`](HeartbeatEngine::join) plus [`set_state`](HeartbeatEngine::set_state); its
/// `Connected(false)` (stop, no leave) is [`left_silently`](HeartbeatEngine::left_silently)
/// and the JS/Kotlin behaviour (stop and leave) is [`left`](HeartbeatEngine::left).
///
/// [`Inactive`]: HeartbeatState::Inactive
/// [`Heartbeating`]: HeartbeatState::Heartbeating
/// [`Cooldown`]: HeartbeatState::Cooldown
/// [`Failed`]: HeartbeatState::Failed
/// [`Stopped`]: HeartbeatState::Stopped
#[derive(Debug)]
pub struct HeartbeatEngine {
    config: HeartbeatConfig,
    state: HeartbeatState,
    channels: BTreeSet<String>,
    groups: BTreeSet<String>,
    states: BTreeMap<String, Value>,
    /// When the next heartbeat is due (Heartbeating/Cooldown).
    next_at: Option<Instant>,
    heartbeat_in_flight: Option<RequestId>,
    leaves_in_flight: BTreeSet<RequestId>,
    /// Channels changed while a heartbeat was in flight: send again right after it.
    dirty: bool,
    attempt: u32,
    pending_leaves: VecDeque<Leave>,
    events: VecDeque<HeartbeatEvent>,
    backoff: Backoff,
    next_id: RequestId,
    call_options: crate::CallOptions,
}

impl HeartbeatEngine {
    /// A new, inactive engine.
    pub fn new(config: HeartbeatConfig) -> Self {
        let backoff = Backoff::new(config.retry_base, config.interval(), config.jitter_seed);
        Self {
            config,
            state: HeartbeatState::Inactive,
            channels: BTreeSet::new(),
            groups: BTreeSet::new(),
            states: BTreeMap::new(),
            next_at: None,
            heartbeat_in_flight: None,
            leaves_in_flight: BTreeSet::new(),
            dirty: false,
            attempt: 0,
            pending_leaves: VecDeque::new(),
            events: VecDeque::new(),
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
    pub fn state(&self) -> HeartbeatState {
        self.state
    }

    /// The settings.
    pub fn config(&self) -> &HeartbeatConfig {
        &self.config
    }

    /// Channels currently kept.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(String::as_str)
    }

    /// Channel groups currently kept.
    pub fn channel_groups(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(String::as_str)
    }

    fn set_state_to(&mut self, state: HeartbeatState) {
        if self.state != state {
            self.state = state;
            self.events.push_back(HeartbeatEvent::StateChanged(state));
        }
    }

    fn heartbeat_now(&mut self, now: Instant) {
        self.attempt = 0;
        self.next_at = Some(now);
        self.set_state_to(HeartbeatState::Heartbeating);
        if self.heartbeat_in_flight.is_some() {
            self.dirty = true;
        }
    }

    /// Adds channels and groups (`-pnpres` names are ignored). Anything new triggers an
    /// immediate heartbeat with the union; when stopped, the input is only remembered.
    pub fn join<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let mut added = false;
        for c in channels
            .into_iter()
            .map(Into::into)
            .filter(|c| !c.ends_with(PRESENCE_SUFFIX))
        {
            added |= self.channels.insert(c);
        }
        for g in groups
            .into_iter()
            .map(Into::into)
            .filter(|g| !g.ends_with(PRESENCE_SUFFIX))
        {
            added |= self.groups.insert(g);
        }
        match self.state {
            HeartbeatState::Stopped => {}
            HeartbeatState::Failed => self.heartbeat_now(now),
            _ if added => self.heartbeat_now(now),
            _ => {}
        }
    }

    /// Sets the state sent for `name` (a channel or group) with every heartbeat.
    /// `Value::Null` removes it. The next heartbeat carries it.
    pub fn set_state(&mut self, _now: Instant, name: impl Into<String>, state: Value) {
        let name = name.into();
        if state.is_null() {
            self.states.remove(&name);
        } else {
            self.states.insert(name, state);
        }
    }

    /// Sets the same state on every current channel and group.
    pub fn set_state_all(&mut self, now: Instant, state: Value) {
        let names: Vec<String> = self.channels.iter().chain(&self.groups).cloned().collect();
        for n in names {
            self.set_state(now, n, state.clone());
        }
    }

    /// Removes channels and groups and sends a leave for those removed (unless leaves are
    /// suppressed or the engine is stopped). With nothing left the engine is inactive.
    pub fn left<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        self.remove(now, channels, groups, true);
    }

    /// Removes channels and groups without sending a leave (Go's `Connected(false)`):
    /// the user times out on them later.
    pub fn left_silently<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        self.remove(now, channels, groups, false);
    }

    fn remove<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G, send_leave: bool)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let removed_c: Vec<String> = channels
            .into_iter()
            .map(Into::into)
            .filter(|c| self.channels.remove(c))
            .collect();
        let removed_g: Vec<String> = groups
            .into_iter()
            .map(Into::into)
            .filter(|g| self.groups.remove(g))
            .collect();
        for n in removed_c.iter().chain(&removed_g) {
            self.states.remove(n);
        }
        if send_leave && self.state != HeartbeatState::Stopped {
            self.queue_leave(removed_c, removed_g);
        }
        if self.channels.is_empty() && self.groups.is_empty() {
            if self.state != HeartbeatState::Stopped {
                self.go_inactive();
            }
        } else if self.state == HeartbeatState::Failed {
            self.heartbeat_now(now);
        }
    }

    /// Leaves everything (leave sent unless suppressed) and becomes inactive.
    pub fn left_all(&mut self, _now: Instant) {
        let channels = std::mem::take(&mut self.channels).into_iter().collect();
        let groups = std::mem::take(&mut self.groups).into_iter().collect();
        self.states.clear();
        if self.state != HeartbeatState::Stopped {
            self.queue_leave(channels, groups);
        }
        self.go_inactive();
    }

    /// Stops heartbeating and sends a leave for everything (unless suppressed); the
    /// channels are kept for [`reconnect`](Self::reconnect).
    pub fn disconnect(&mut self, _now: Instant) {
        if self.state == HeartbeatState::Stopped {
            return;
        }
        let channels = self.channels.iter().cloned().collect();
        let groups = self.groups.iter().cloned().collect();
        self.queue_leave(channels, groups);
        self.heartbeat_in_flight = None;
        self.next_at = None;
        self.dirty = false;
        self.set_state_to(HeartbeatState::Stopped);
    }

    /// Stops heartbeating **without** a leave (Go's `Connected(false)`): the user times
    /// out later unless [`reconnect`](Self::reconnect) resumes in time.
    pub fn pause(&mut self, _now: Instant) {
        if self.state == HeartbeatState::Stopped {
            return;
        }
        self.heartbeat_in_flight = None;
        self.next_at = None;
        self.dirty = false;
        self.set_state_to(HeartbeatState::Stopped);
    }

    /// Whether leave or heartbeat requests are still awaiting a response.
    pub fn has_requests_in_flight(&self) -> bool {
        self.heartbeat_in_flight.is_some()
            || !self.leaves_in_flight.is_empty()
            || !self.pending_leaves.is_empty()
    }

    /// Resumes after [`disconnect`](Self::disconnect) or a failure: heartbeats at once.
    pub fn reconnect(&mut self, now: Instant) {
        if matches!(self.state, HeartbeatState::Stopped | HeartbeatState::Failed) {
            if self.channels.is_empty() && self.groups.is_empty() {
                self.go_inactive();
            } else {
                self.heartbeat_in_flight = None;
                self.heartbeat_now(now);
            }
        }
    }

    fn go_inactive(&mut self) {
        self.heartbeat_in_flight = None;
        self.next_at = None;
        self.dirty = false;
        self.attempt = 0;
        self.set_state_to(HeartbeatState::Inactive);
    }

    fn queue_leave(&mut self, channels: Vec<String>, groups: Vec<String>) {
        if self.config.suppress_leave || (channels.is_empty() && groups.is_empty()) {
            return;
        }
        self.pending_leaves
            .push_back(Leave::new().channels(channels).channel_groups(groups));
    }

    fn next_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The next request to send, if any. Call until `None` after every input.
    #[must_use]
    pub fn poll_request(&mut self, now: Instant) -> Option<Transmit<HeartbeatRequest>> {
        if let Some(mut leave) = self.pending_leaves.pop_front() {
            *leave.options_mut() = self.call_options.clone();
            let id = self.next_id();
            self.leaves_in_flight.insert(id);
            return Some(Transmit {
                id,
                op: HeartbeatRequest::Leave(leave),
            });
        }
        if self.state == HeartbeatState::Cooldown && self.next_at.is_some_and(|t| t <= now) {
            self.set_state_to(HeartbeatState::Heartbeating);
        }
        if self.state != HeartbeatState::Heartbeating
            || self.heartbeat_in_flight.is_some()
            || self.next_at.is_none_or(|t| t > now)
        {
            return None;
        }
        let mut op = Heartbeat::new()
            .channels(self.channels.iter().cloned())
            .channel_groups(self.groups.iter().cloned())
            .timeout(self.config.timeout);
        for (name, state) in &self.states {
            if self.channels.contains(name) || self.groups.contains(name) {
                op = op.channel_state(name.clone(), state.clone());
            }
        }
        *op.options_mut() = self.call_options.clone();
        let id = self.next_id();
        self.heartbeat_in_flight = Some(id);
        self.dirty = false;
        Some(Transmit {
            id,
            op: HeartbeatRequest::Heartbeat(op),
        })
    }

    /// Feeds the response to request `id`.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &http::Response<B>,
    ) {
        let parsed = if self.heartbeat_in_flight == Some(id) {
            Heartbeat::new().parse_response(response)
        } else {
            Leave::new().parse_response(response)
        };
        let parsed = parsed.map_err(Failure::Response);
        self.complete(now, id, parsed);
    }

    /// Reports that request `id` failed: it did not complete
    /// ([`Failure::Transport`]), or the driver already classified the answer.
    pub fn handle_failure(&mut self, now: Instant, id: RequestId, failure: Failure) {
        self.complete(now, id, Err(failure));
    }

    /// Reports that request `id` was cancelled: no transition; a due heartbeat is sent again.
    pub fn handle_cancelled(&mut self, _now: Instant, id: RequestId) {
        if self.heartbeat_in_flight == Some(id) {
            self.heartbeat_in_flight = None;
        }
        self.leaves_in_flight.remove(&id);
    }

    fn complete(&mut self, now: Instant, id: RequestId, result: Result<(), Failure>) {
        if self.leaves_in_flight.remove(&id) {
            if let Err(f) = result {
                self.events.push_back(HeartbeatEvent::LeaveFailed(f));
            }
            return;
        }
        if self.heartbeat_in_flight != Some(id) {
            return; // stale: the engine moved on
        }
        self.heartbeat_in_flight = None;
        let interval = self.config.interval();
        match result {
            Ok(()) => {
                self.attempt = 0;
                self.events.push_back(HeartbeatEvent::Succeeded);
                if self.dirty {
                    self.dirty = false;
                    self.next_at = Some(now);
                } else {
                    self.next_at = Some(now + interval);
                    self.set_state_to(HeartbeatState::Cooldown);
                }
            }
            Err(failure) if failure.is_retryable() => {
                let mut delay = self.backoff.delay(self.attempt);
                if let Some(after) = failure.retry_after() {
                    delay = delay.max(after);
                }
                let delay = delay.min(interval);
                self.attempt = self.attempt.saturating_add(1);
                self.next_at = Some(now + delay);
                self.dirty = false;
                self.events.push_back(HeartbeatEvent::Failed {
                    failure,
                    retry_in: Some(delay),
                });
                self.set_state_to(HeartbeatState::Cooldown);
            }
            Err(failure) => {
                self.next_at = None;
                self.dirty = false;
                self.events.push_back(HeartbeatEvent::Failed {
                    failure,
                    retry_in: None,
                });
                self.set_state_to(HeartbeatState::Failed);
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            HeartbeatState::Heartbeating | HeartbeatState::Cooldown
                if self.heartbeat_in_flight.is_none() =>
            {
                self.next_at
            }
            _ => None,
        }
    }

    /// Advances timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == HeartbeatState::Cooldown && self.next_at.is_some_and(|t| t <= now) {
            self.set_state_to(HeartbeatState::Heartbeating);
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<HeartbeatEvent> {
        self.events.pop_front()
    }
}
