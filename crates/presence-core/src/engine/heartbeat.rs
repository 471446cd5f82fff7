//! The heartbeat engine (HeartbeatEngine).

use super::{Backoff, Failure, RequestId, Trace, Transition, Transmit};
use crate::ops::heartbeat::{DEFAULT_PRESENCE_TIMEOUT, MIN_PRESENCE_TIMEOUT};
use crate::ops::subscribe::PRESENCE_SUFFIX;
use crate::request::sealed;
use crate::request::{CallOptions, HttpRequest, Operation, RequestMeta, RequestParts, Target};
use crate::response::BodyError;
use crate::{Config, Error, Heartbeat, Leave};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// The heartbeat engine's floor: two heartbeats never start less than this apart,
/// whatever the inputs, the answers and the configured interval. Against an origin
/// that answers at once (a 200, or a storm of errors), an engine sends at most one
/// heartbeat per second; leaves are sent only for `left`, `left_all` and `disconnect`,
/// one per call.
pub const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Retries after which the heartbeat engine may give up (see
/// [`HeartbeatConfig::max_retries`]).
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// Heartbeat engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatConfig {
    /// Presence timeout in seconds (`heartbeat=`); values below 20 are used as 20.
    pub timeout: u32,
    /// Time between heartbeats; see [`interval`](Self::interval) for the rules.
    /// `None` (the default) means `timeout / 2 - 1`; `Some(Duration::ZERO)` turns
    /// heartbeating off.
    pub interval: Option<Duration>,
    /// Never send leave requests (the SDKs' `suppress_leave_events`).
    pub suppress_leave: bool,
    /// First retry delay after a retryable failure.
    pub retry_base: Duration,
    /// Consecutive retries after which the engine gives up, once the failures also span
    /// the presence timeout (default [`DEFAULT_MAX_RETRIES`]); see
    /// [`HeartbeatEvent::GaveUp`].
    pub max_retries: u32,
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
            max_retries: DEFAULT_MAX_RETRIES,
            jitter_seed: 0x5eed,
        }
    }

    /// The presence timeout in use: [`timeout`](Self::timeout), at least 20 s.
    pub fn presence_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout.max(MIN_PRESENCE_TIMEOUT)))
    }

    /// The heartbeat interval in use:
    /// - `timeout / 2 - 1` seconds when none is set (the documented rule, PROTOCOL.md
    ///   §8: 300 → 149, 60 → 29, 20 → 9), so one lost heartbeat never drops the user;
    /// - an explicit interval, but never above `timeout / 2 - 1` (a longer one drops the
    ///   user after one lost heartbeat) and never below [`MIN_HEARTBEAT_INTERVAL`];
    /// - zero when set to zero: heartbeating is off (see
    ///   [`heartbeats_enabled`](Self::heartbeats_enabled)).
    ///
    /// ```
    /// use presence_core::HeartbeatConfig;
    /// use std::time::Duration;
    /// assert_eq!(HeartbeatConfig::new(300).interval().as_secs(), 149);
    /// assert_eq!(HeartbeatConfig::new(5).interval().as_secs(), 9); // timeout raised to 20
    /// let mut c = HeartbeatConfig::new(60);
    /// c.interval = Some(Duration::from_secs(600));
    /// assert_eq!(c.interval().as_secs(), 29); // capped by the rule
    /// c.interval = Some(Duration::from_millis(1));
    /// assert_eq!(c.interval(), Duration::from_secs(1)); // the floor
    /// c.interval = Some(Duration::ZERO);
    /// assert_eq!(c.interval(), Duration::ZERO);
    /// assert!(!c.heartbeats_enabled());
    /// ```
    pub fn interval(&self) -> Duration {
        let rule = Duration::from_secs(u64::from(self.timeout.max(MIN_PRESENCE_TIMEOUT) / 2 - 1));
        match self.interval {
            None => rule,
            Some(Duration::ZERO) => Duration::ZERO,
            Some(d) => d.min(rule).max(MIN_HEARTBEAT_INTERVAL),
        }
    }

    /// Whether the engine heartbeats at all: false with an interval of zero, the
    /// feature files' `heartbeatInterval = 0`. A disabled engine remembers its channels
    /// but sends nothing (no heartbeat, no leave), reports no event and records no
    /// transition.
    pub fn heartbeats_enabled(&self) -> bool {
        self.interval != Some(Duration::ZERO)
    }
}

/// Where the engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatState {
    /// No channels (or heartbeating is off): nothing to do.
    Inactive,
    /// A heartbeat is due or in flight.
    Heartbeating,
    /// Waiting for the next heartbeat (after a success, or before a retry).
    Cooldown,
    /// A non-retryable error, or the engine gave up retrying; waiting for `reconnect`,
    /// `join` or `left`.
    Failed,
    /// Disconnected or paused by the user; inputs are remembered, nothing is sent.
    Stopped,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HeartbeatEvent {
    /// A heartbeat succeeded.
    Succeeded,
    /// A heartbeat failed; `retry_in` is `None` when it will not be retried (a
    /// non-retryable error, or the last failure before [`GaveUp`](Self::GaveUp)).
    Failed {
        /// What went wrong.
        failure: Failure,
        /// When the retry happens, if any.
        retry_in: Option<Duration>,
    },
    /// The engine stopped retrying: more than
    /// [`max_retries`](HeartbeatConfig::max_retries) consecutive retryable failures,
    /// spanning at least the presence timeout (by then the service has dropped the
    /// user anyway). Follows the last [`Failed`](Self::Failed); the engine is
    /// [`Failed`](HeartbeatState::Failed) until `reconnect`, `join` or `left`.
    GaveUp {
        /// Consecutive failed heartbeats.
        failures: u32,
        /// From the first of them to the last.
        over: Duration,
    },
    /// A leave request failed (leaves are not retried).
    LeaveFailed(Failure),
    /// The state changed.
    StateChanged(HeartbeatState),
}

impl std::fmt::Display for HeartbeatEvent {
    /// One line: `heartbeat succeeded`, `heartbeat failed: … (retry in 1.2 s)`,
    /// `gave up after 9 failed heartbeats over 310.0 s`, `leave failed: …`,
    /// `state: cooldown`.
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
            HeartbeatEvent::GaveUp { failures, over } => write!(
                f,
                "gave up after {failures} failed heartbeats over {:.1} s",
                over.as_secs_f64()
            ),
            HeartbeatEvent::LeaveFailed(failure) => write!(f, "leave failed: {failure}"),
            HeartbeatEvent::StateChanged(state) => write!(f, "state: {state}"),
        }
    }
}

/// An input of the heartbeat engine, as recorded in its [`HeartbeatTransition`]s. The
/// names are the feature files' events (`JOINED`, `LEFT`, `HEARTBEAT_SUCCESS`, …).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HeartbeatInput {
    /// [`join`](HeartbeatEngine::join) (presence names already dropped).
    Joined {
        /// Channels given.
        channels: Vec<String>,
        /// Groups given.
        groups: Vec<String>,
    },
    /// [`left`](HeartbeatEngine::left) or, with `leave: false`,
    /// [`left_silently`](HeartbeatEngine::left_silently).
    Left {
        /// Channels given.
        channels: Vec<String>,
        /// Groups given.
        groups: Vec<String>,
        /// Whether a leave was asked for.
        leave: bool,
    },
    /// [`left_all`](HeartbeatEngine::left_all).
    LeftAll,
    /// [`disconnect`](HeartbeatEngine::disconnect).
    Disconnect,
    /// [`pause`](HeartbeatEngine::pause).
    Pause,
    /// [`reconnect`](HeartbeatEngine::reconnect).
    Reconnect,
    /// [`set_state`](HeartbeatEngine::set_state) for `name`, or
    /// [`set_state_all`](HeartbeatEngine::set_state_all) (`None`).
    StateSet {
        /// The channel or group, or `None` for all.
        name: Option<String>,
    },
    /// The awaited heartbeat succeeded.
    HeartbeatSucceeded {
        /// Its request.
        id: RequestId,
    },
    /// The awaited heartbeat failed.
    HeartbeatFailed {
        /// Its request.
        id: RequestId,
        /// Why.
        failure: Failure,
    },
    /// A leave completed (`failure` when it failed).
    LeaveDone {
        /// Its request.
        id: RequestId,
        /// Why it failed, if it did.
        failure: Option<Failure>,
    },
    /// A request was cancelled by the driver.
    Cancelled {
        /// Its request.
        id: RequestId,
    },
    /// The answer to a request the engine no longer awaits (after a pause, a
    /// disconnect or leaving everything): it only ends that request.
    Stale {
        /// Its request.
        id: RequestId,
    },
    /// The deadline from `poll_timeout` passed (`TIMES_UP`, or the end of a retry
    /// delay).
    TimesUp,
}

/// What the heartbeat engine did about an input, as recorded in its
/// [`HeartbeatTransition`]s. The names are the feature files' invocations.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HeartbeatEffect {
    /// A heartbeat was handed out: the next `poll_request` returns it (`HEARTBEAT`, or
    /// `DELAYED_HEARTBEAT` when it is a retry).
    Heartbeat {
        /// Its request.
        id: RequestId,
        /// Its channels, sorted.
        channels: Vec<String>,
        /// Its groups, sorted.
        groups: Vec<String>,
    },
    /// A leave was handed out (`LEAVE`).
    Leave {
        /// Its request.
        id: RequestId,
        /// Its channels, sorted.
        channels: Vec<String>,
        /// Its groups, sorted.
        groups: Vec<String>,
    },
    /// The next heartbeat is due at `until` (`WAIT`): the interval after a success, or
    /// the floor ([`MIN_HEARTBEAT_INTERVAL`]) after the previous heartbeat.
    Wait {
        /// When.
        until: Instant,
    },
    /// A failed heartbeat is retried at `until` (`DELAYED_HEARTBEAT`'s timer).
    Retry {
        /// When.
        until: Instant,
        /// Retry number, from 1.
        attempt: u32,
    },
    /// A timer that was set no longer applies (`CANCEL_WAIT`,
    /// `CANCEL_DELAYED_HEARTBEAT`).
    CancelWait,
    /// The engine stopped retrying (`HEARTBEAT_GIVEUP`); see [`HeartbeatEvent::GaveUp`].
    GiveUp {
        /// Consecutive failed heartbeats.
        failures: u32,
    },
}

/// One step of the heartbeat engine; see [`Transition`].
pub type HeartbeatTransition = Transition<HeartbeatState, HeartbeatInput, HeartbeatEffect>;

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
/// [`Heartbeating`], [`Cooldown`], [`Failed`], [`Stopped`]. Every input is recorded as a
/// [`HeartbeatTransition`] once [`record_transitions`](Self::record_transitions) is on.
///
/// # Rules
/// - **The heartbeated set is the joined set.** Every heartbeat carries exactly the
///   channels, groups and states held when it is handed out. Any change of the set
///   (`join` of something new, `left`, `left_silently`) heartbeats again at once with
///   the new set (after the one in flight, if any), and the interval starts over.
///   State changes ride on the next heartbeat.
/// - **Interval and timeout.** The timeout is at least 20 s; the interval is
///   `timeout / 2 - 1` unless set, never above that and never below the floor (see
///   [`HeartbeatConfig::interval`]); an interval of zero turns heartbeating off.
/// - **No spin.** Two heartbeats never start less than [`MIN_HEARTBEAT_INTERVAL`] (1 s)
///   apart, whatever the answers and inputs: against an origin that answers at once,
///   at most one heartbeat per second (and exactly one per interval while nothing
///   changes). Leaves go only for `left`, `left_all` and `disconnect`, at most one per
///   call, and are not retried.
/// - **Heartbeat and leave never overlap.** At most one heartbeat is on the wire. A
///   leave waits until no heartbeat naming any of its channels or groups is on the wire
///   (so the service sees it after the last heartbeat for them), and a heartbeat waits
///   until no leave naming any of its channels or groups is on the wire. A heartbeat
///   abandoned by `pause`, `disconnect` or `left_all` still counts as on the wire until
///   its answer (or failure, or cancellation) is reported; only its outcome is ignored.
///   Re-joining a name whose leave has not been handed out yet drops it from the leave.
/// - **Retries are bounded.** A retryable failure (transport error, 408, 429, 5xx) is
///   retried with exponential backoff and jitter from
///   [`retry_base`](HeartbeatConfig::retry_base), honouring `Retry-After`, never later
///   than one interval and never before the floor. Once more than
///   [`max_retries`](HeartbeatConfig::max_retries) consecutive failures span at least
///   the presence timeout, the engine gives up ([`HeartbeatEvent::GaveUp`], state
///   [`Failed`]). Any other error (403, 400, …) is not retried: the engine goes to
///   [`Failed`] and reports it. `reconnect`, `join` or `left` resume.
///
/// # Differences from the official event engines
/// The contract scenarios of PubNub's presence feature file are our tests
/// (`tests/contract.rs`); where we differ on purpose:
/// - retries back off exponentially (the feature file uses a linear policy) and the
///   give-up needs the failures to span the presence timeout as well as exceed the
///   retry count, so a short burst of errors never stops a user who is still present;
/// - a `WAIT` that ran out is not followed by `CANCEL_WAIT` (nothing is left to
///   cancel);
/// - the floor can delay a heartbeat that an input asked for by up to 1 s.
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
    /// When the next heartbeat is due (none while one is awaited, unless `dirty`).
    next_at: Option<Instant>,
    /// The heartbeat on the wire.
    heartbeat: Option<OnWire>,
    /// Leaves on the wire.
    leaves: BTreeMap<RequestId, Names>,
    /// Leaves waiting for an overlapping heartbeat to finish.
    pending_leaves: VecDeque<Names>,
    /// Requests handed out by an input, returned by `poll_request`.
    ready: VecDeque<Ready>,
    /// When the last heartbeat was handed out (the floor counts from it).
    last_sent: Option<Instant>,
    /// The set changed while the awaited heartbeat was on the wire: send again after it.
    dirty: bool,
    /// Consecutive retryable failures, and when the first of them arrived.
    failures: u32,
    first_failure: Option<Instant>,
    events: VecDeque<HeartbeatEvent>,
    backoff: Backoff,
    next_id: RequestId,
    call_options: crate::CallOptions,
    trace: Trace<HeartbeatState, HeartbeatInput, HeartbeatEffect>,
}

/// A request handed out and not yet polled; built when polled (a heartbeat then carries
/// the latest states).
#[derive(Debug)]
enum Ready {
    Heartbeat(RequestId),
    Leave(RequestId),
}

/// A heartbeat on the wire.
#[derive(Debug)]
struct OnWire {
    id: RequestId,
    names: Names,
    /// Whether its outcome still counts (not after `pause`, `disconnect`, `left_all`).
    awaited: bool,
    /// When the heartbeat before it started (restored if this one is dropped unpolled).
    before: Option<Instant>,
}

/// The channels and groups of a request.
#[derive(Debug, Clone, Default, PartialEq)]
struct Names {
    channels: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl Names {
    fn overlaps(&self, other: &Names) -> bool {
        self.channels.iter().any(|c| other.channels.contains(c))
            || self.groups.iter().any(|g| other.groups.contains(g))
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty()
    }

    fn lists(&self) -> (Vec<String>, Vec<String>) {
        (
            self.channels.iter().cloned().collect(),
            self.groups.iter().cloned().collect(),
        )
    }
}

/// Drops presence (`-pnpres`) names.
fn plain_names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Vec<String> {
    names
        .into_iter()
        .map(Into::into)
        .filter(|n| !n.ends_with(PRESENCE_SUFFIX))
        .collect()
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
            heartbeat: None,
            leaves: BTreeMap::new(),
            pending_leaves: VecDeque::new(),
            ready: VecDeque::new(),
            last_sent: None,
            dirty: false,
            failures: 0,
            first_failure: None,
            events: VecDeque::new(),
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

    /// Starts (or, with 0, stops) recording a [`HeartbeatTransition`] for every input,
    /// keeping at most `capacity` undrained entries (the oldest are dropped).
    pub fn record_transitions(&mut self, capacity: usize) {
        self.trace.set_capacity(capacity);
    }

    /// The oldest recorded transition, if any (see
    /// [`record_transitions`](Self::record_transitions)).
    #[must_use]
    pub fn poll_transition(&mut self) -> Option<HeartbeatTransition> {
        self.trace.pop()
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

    fn enabled(&self) -> bool {
        self.config.heartbeats_enabled()
    }

    fn names(&self) -> Names {
        Names {
            channels: self.channels.clone(),
            groups: self.groups.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty()
    }

    fn set_state_to(&mut self, state: HeartbeatState) {
        if self.state != state {
            self.state = state;
            self.events.push_back(HeartbeatEvent::StateChanged(state));
        }
    }

    /// Closes the transition for one input: hands out what may go now, then records.
    fn finish(
        &mut self,
        now: Instant,
        from: HeartbeatState,
        input: impl FnOnce() -> HeartbeatInput,
    ) {
        self.pump(now);
        self.trace.record(now, from, input, self.state);
    }

    /// The next heartbeat is due at `at`; a later timer it replaces is cancelled.
    fn due_at(&mut self, now: Instant, at: Instant, retry: Option<u32>) {
        if self.next_at.is_some_and(|old| old > now && old != at) {
            self.trace.effect(HeartbeatEffect::CancelWait);
        }
        self.next_at = Some(at);
        if at > now {
            self.trace.effect(match retry {
                Some(attempt) => HeartbeatEffect::Retry { until: at, attempt },
                None => HeartbeatEffect::Wait { until: at },
            });
        }
    }

    /// No heartbeat is due any more; a pending timer is cancelled.
    fn not_due(&mut self, now: Instant) {
        if self.next_at.take().is_some_and(|old| old > now) {
            self.trace.effect(HeartbeatEffect::CancelWait);
        }
        self.dirty = false;
    }

    /// The earliest the floor lets the next heartbeat start.
    fn floor(&self, now: Instant) -> Instant {
        self.last_sent
            .map_or(now, |t| (t + MIN_HEARTBEAT_INTERVAL).max(now))
    }

    /// Heartbeat with the current set as soon as the floor and the wire allow.
    fn heartbeat_soon(&mut self, now: Instant) {
        self.set_state_to(HeartbeatState::Heartbeating);
        if self.heartbeat.as_ref().is_some_and(|h| h.awaited) {
            self.dirty = true;
        } else {
            let at = self.floor(now);
            self.due_at(now, at, None);
        }
    }

    /// Leaves `Failed` or `Stopped`: a fresh start.
    fn resume(&mut self, now: Instant) {
        self.failures = 0;
        self.first_failure = None;
        if self.is_empty() {
            self.go_inactive(now);
        } else {
            self.heartbeat_soon(now);
        }
    }

    /// Stops awaiting the heartbeat on the wire (it stays on the wire until reported);
    /// one not polled yet is dropped instead.
    fn abandon_heartbeat(&mut self) {
        let Some(h) = &mut self.heartbeat else { return };
        h.awaited = false;
        let id = h.id;
        let before = self.ready.len();
        self.ready
            .retain(|r| !matches!(r, Ready::Heartbeat(ready) if *ready == id));
        if self.ready.len() != before {
            // It never left the engine: it does not count for the floor.
            self.last_sent = self.heartbeat.take().and_then(|h| h.before);
        }
    }

    fn go_inactive(&mut self, now: Instant) {
        self.abandon_heartbeat();
        self.not_due(now);
        self.failures = 0;
        self.first_failure = None;
        self.set_state_to(HeartbeatState::Inactive);
    }

    /// Adds channels and groups (`-pnpres` names are ignored). Anything new heartbeats
    /// at once with the union; when stopped, the input is only remembered; from
    /// `Failed` it resumes.
    pub fn join<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let (channels, groups) = (plain_names(channels), plain_names(groups));
        let from = self.state;
        let mut added = false;
        for c in &channels {
            added |= self.channels.insert(c.clone());
        }
        for g in &groups {
            added |= self.groups.insert(g.clone());
        }
        if !self.enabled() {
            return;
        }
        // A leave not handed out yet no longer applies to what is joined again.
        for leave in &mut self.pending_leaves {
            leave.channels.retain(|c| !self.channels.contains(c));
            leave.groups.retain(|g| !self.groups.contains(g));
        }
        self.pending_leaves.retain(|l| !l.is_empty());
        match self.state {
            HeartbeatState::Stopped => {}
            HeartbeatState::Failed => self.resume(now),
            _ if added => self.heartbeat_soon(now),
            _ => {}
        }
        self.finish(now, from, || HeartbeatInput::Joined { channels, groups });
    }

    /// Sets the state sent for `name` (a channel or group) with every heartbeat.
    /// `Value::Null` removes it. The next heartbeat carries it.
    pub fn set_state(&mut self, now: Instant, name: impl Into<String>, state: Value) {
        let name = name.into();
        self.store_state(name.clone(), state);
        if self.enabled() {
            let from = self.state;
            self.finish(now, from, || HeartbeatInput::StateSet { name: Some(name) });
        }
    }

    fn store_state(&mut self, name: String, state: Value) {
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
            self.store_state(n, state.clone());
        }
        if self.enabled() {
            let from = self.state;
            self.finish(now, from, || HeartbeatInput::StateSet { name: None });
        }
    }

    /// Removes channels and groups and sends a leave for those removed (unless leaves are
    /// suppressed or the engine is stopped); what is left is heartbeated at once. With
    /// nothing left the engine is inactive.
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
        let (channels, groups) = super::owned_names(channels, groups);
        let from = self.state;
        let mut removed = Names::default();
        for c in &channels {
            if self.channels.remove(c) {
                removed.channels.insert(c.clone());
            }
        }
        for g in &groups {
            if self.groups.remove(g) {
                removed.groups.insert(g.clone());
            }
        }
        for n in removed.channels.iter().chain(&removed.groups) {
            self.states.remove(n);
        }
        if !self.enabled() {
            return;
        }
        if send_leave && self.state != HeartbeatState::Stopped {
            self.queue_leave(removed.clone());
        }
        if self.is_empty() {
            if self.state != HeartbeatState::Stopped {
                self.go_inactive(now);
            }
        } else if self.state == HeartbeatState::Failed {
            self.resume(now);
        } else if !removed.is_empty()
            && matches!(
                self.state,
                HeartbeatState::Heartbeating | HeartbeatState::Cooldown
            )
        {
            self.heartbeat_soon(now);
        }
        self.finish(now, from, || HeartbeatInput::Left {
            channels,
            groups,
            leave: send_leave,
        });
    }

    /// Leaves everything (leave sent unless suppressed) and becomes inactive.
    pub fn left_all(&mut self, now: Instant) {
        let all = Names {
            channels: std::mem::take(&mut self.channels),
            groups: std::mem::take(&mut self.groups),
        };
        self.states.clear();
        if !self.enabled() {
            return;
        }
        let from = self.state;
        if self.state != HeartbeatState::Stopped {
            self.queue_leave(all);
        }
        self.go_inactive(now);
        self.finish(now, from, || HeartbeatInput::LeftAll);
    }

    /// Stops heartbeating and sends a leave for everything (unless suppressed); the
    /// channels are kept for [`reconnect`](Self::reconnect).
    pub fn disconnect(&mut self, now: Instant) {
        if !self.enabled() {
            return;
        }
        let from = self.state;
        if self.state != HeartbeatState::Stopped {
            self.queue_leave(self.names());
            self.stop(now);
        }
        self.finish(now, from, || HeartbeatInput::Disconnect);
    }

    /// Stops heartbeating **without** a leave (Go's `Connected(false)`): the user times
    /// out later unless [`reconnect`](Self::reconnect) resumes in time.
    pub fn pause(&mut self, now: Instant) {
        if !self.enabled() {
            return;
        }
        let from = self.state;
        if self.state != HeartbeatState::Stopped {
            self.stop(now);
        }
        self.finish(now, from, || HeartbeatInput::Pause);
    }

    fn stop(&mut self, now: Instant) {
        self.abandon_heartbeat();
        self.not_due(now);
        self.set_state_to(HeartbeatState::Stopped);
    }

    /// Whether leave or heartbeat requests are still awaiting a response (or waiting to
    /// be handed out).
    pub fn has_requests_in_flight(&self) -> bool {
        // Between inputs, a leave still pending waits for the heartbeat on the wire, and
        // what is ready is that heartbeat or one of `leaves`: these two say it all.
        self.heartbeat.is_some() || !self.leaves.is_empty()
    }

    /// Resumes after [`disconnect`](Self::disconnect), [`pause`](Self::pause) or a
    /// failure: heartbeats at once (after the floor, and after an abandoned heartbeat
    /// still on the wire).
    pub fn reconnect(&mut self, now: Instant) {
        if !self.enabled() {
            return;
        }
        let from = self.state;
        if matches!(self.state, HeartbeatState::Stopped | HeartbeatState::Failed) {
            self.resume(now);
        }
        self.finish(now, from, || HeartbeatInput::Reconnect);
    }

    fn queue_leave(&mut self, names: Names) {
        if self.config.suppress_leave || names.is_empty() {
            return;
        }
        self.pending_leaves.push_back(names);
    }

    fn next_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Whether a heartbeat with the current set may go on the wire now (timing aside).
    fn heartbeat_may_go(&self) -> bool {
        if self.heartbeat.is_some() || self.is_empty() {
            return false;
        }
        let names = self.names();
        !self.leaves.values().any(|l| l.overlaps(&names))
    }

    /// Hands out what may go now: leaves clear of the heartbeat on the wire, then a due
    /// heartbeat clear of the leaves on the wire.
    fn pump(&mut self, now: Instant) {
        let mut waiting = VecDeque::new();
        while let Some(names) = self.pending_leaves.pop_front() {
            if self
                .heartbeat
                .as_ref()
                .is_some_and(|h| h.names.overlaps(&names))
            {
                waiting.push_back(names);
                continue;
            }
            let (channels, groups) = names.lists();
            let id = self.next_id();
            self.leaves.insert(id, names);
            self.trace.effect(HeartbeatEffect::Leave {
                id,
                channels,
                groups,
            });
            self.ready.push_back(Ready::Leave(id));
        }
        self.pending_leaves = waiting;
        if self.state != HeartbeatState::Heartbeating
            || self.next_at.is_none_or(|t| t > now)
            || !self.heartbeat_may_go()
        {
            return;
        }
        let names = self.names();
        let id = self.next_id();
        let (channels, groups) = names.lists();
        self.trace.effect(HeartbeatEffect::Heartbeat {
            id,
            channels,
            groups,
        });
        self.heartbeat = Some(OnWire {
            id,
            names,
            awaited: true,
            before: self.last_sent.replace(now),
        });
        self.next_at = None;
        self.dirty = false;
        self.ready.push_back(Ready::Heartbeat(id));
    }

    /// The heartbeat on the wire as an operation: its channels and groups, with the
    /// states held for them now.
    fn heartbeat_op(&self, wire: &OnWire) -> Heartbeat {
        let mut op = Heartbeat::new()
            .channels(wire.names.channels.iter().cloned())
            .channel_groups(wire.names.groups.iter().cloned())
            .timeout(self.config.timeout);
        for (name, state) in &self.states {
            if wire.names.channels.contains(name) || wire.names.groups.contains(name) {
                op = op.channel_state(name.clone(), state.clone());
            }
        }
        *op.options_mut() = self.call_options.clone();
        op
    }

    /// A deadline passed: `TimesUp`, when a heartbeat may go.
    fn advance(&mut self, now: Instant) {
        if matches!(
            self.state,
            HeartbeatState::Heartbeating | HeartbeatState::Cooldown
        ) && self.next_at.is_some_and(|t| t <= now)
            && self.heartbeat_may_go()
        {
            let from = self.state;
            self.set_state_to(HeartbeatState::Heartbeating);
            self.finish(now, from, || HeartbeatInput::TimesUp);
        }
    }

    /// The next request to send, if any. Call until `None` after every input.
    #[must_use]
    pub fn poll_request(&mut self, now: Instant) -> Option<Transmit<HeartbeatRequest>> {
        self.advance(now);
        match self.ready.pop_front()? {
            Ready::Leave(id) => {
                let names = self.leaves.get(&id)?;
                let mut leave = Leave::new()
                    .channels(names.channels.iter().cloned())
                    .channel_groups(names.groups.iter().cloned());
                *leave.options_mut() = self.call_options.clone();
                Some(Transmit {
                    id,
                    op: HeartbeatRequest::Leave(leave),
                })
            }
            Ready::Heartbeat(id) => {
                let wire = self.heartbeat.as_ref().filter(|h| h.id == id)?;
                Some(Transmit {
                    id,
                    op: HeartbeatRequest::Heartbeat(self.heartbeat_op(wire)),
                })
            }
        }
    }

    /// Feeds the response to request `id`.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &http::Response<B>,
    ) {
        let parsed = if self.heartbeat.as_ref().is_some_and(|h| h.id == id) {
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

    /// Reports that request `id` was cancelled: no transition; a heartbeat still wanted
    /// is sent again (after the floor).
    pub fn handle_cancelled(&mut self, now: Instant, id: RequestId) {
        if !self.enabled() {
            return;
        }
        let from = self.state;
        if self.heartbeat.as_ref().is_some_and(|h| h.id == id) {
            let awaited = self.heartbeat.take().is_some_and(|h| h.awaited);
            if awaited {
                self.dirty = false;
                let at = self.floor(now);
                self.due_at(now, at, None);
            }
        }
        self.leaves.remove(&id);
        self.finish(now, from, || HeartbeatInput::Cancelled { id });
    }

    fn complete(&mut self, now: Instant, id: RequestId, result: Result<(), Failure>) {
        if !self.enabled() {
            return;
        }
        let from = self.state;
        if self.leaves.remove(&id).is_some() {
            let failure = result.err();
            if let Some(f) = &failure {
                self.events
                    .push_back(HeartbeatEvent::LeaveFailed(f.clone()));
            }
            self.finish(now, from, || HeartbeatInput::LeaveDone { id, failure });
            return;
        }
        let awaited = match &self.heartbeat {
            Some(h) if h.id == id => h.awaited,
            _ => false,
        };
        if !awaited {
            if self.heartbeat.as_ref().is_some_and(|h| h.id == id) {
                self.heartbeat = None;
            }
            self.finish(now, from, || HeartbeatInput::Stale { id });
            return;
        }
        self.heartbeat = None;
        let input_failure = match &result {
            Err(f) if self.trace.is_on() => Some(f.clone()),
            _ => None,
        };
        match result {
            Ok(()) => {
                self.failures = 0;
                self.first_failure = None;
                self.events.push_back(HeartbeatEvent::Succeeded);
                if self.dirty {
                    self.dirty = false;
                    let at = self.floor(now);
                    self.due_at(now, at, None);
                } else {
                    let at = now + self.config.interval();
                    self.due_at(now, at, None);
                    self.set_state_to(HeartbeatState::Cooldown);
                }
                self.finish(now, from, || HeartbeatInput::HeartbeatSucceeded { id });
                return;
            }
            Err(failure) if failure.is_retryable() => {
                self.failures = self.failures.saturating_add(1);
                let first = *self.first_failure.get_or_insert(now);
                let over = now.saturating_duration_since(first);
                self.dirty = false;
                if self.failures > self.config.max_retries && over >= self.config.presence_timeout()
                {
                    self.not_due(now);
                    self.events.push_back(HeartbeatEvent::Failed {
                        failure,
                        retry_in: None,
                    });
                    self.events.push_back(HeartbeatEvent::GaveUp {
                        failures: self.failures,
                        over,
                    });
                    self.trace.effect(HeartbeatEffect::GiveUp {
                        failures: self.failures,
                    });
                    self.failures = 0;
                    self.first_failure = None;
                    self.set_state_to(HeartbeatState::Failed);
                } else {
                    let interval = self.config.interval();
                    let mut delay = self.backoff.delay(self.failures - 1);
                    if let Some(after) = failure.retry_after() {
                        delay = delay.max(after);
                    }
                    let at = (now + delay.min(interval)).max(self.floor(now));
                    self.due_at(now, at, Some(self.failures));
                    self.events.push_back(HeartbeatEvent::Failed {
                        failure,
                        retry_in: Some(at - now),
                    });
                    self.set_state_to(HeartbeatState::Cooldown);
                }
            }
            Err(failure) => {
                self.not_due(now);
                self.failures = 0;
                self.first_failure = None;
                self.events.push_back(HeartbeatEvent::Failed {
                    failure,
                    retry_in: None,
                });
                self.set_state_to(HeartbeatState::Failed);
            }
        }
        self.finish(now, from, || HeartbeatInput::HeartbeatFailed {
            id,
            failure: input_failure.expect("recorded only when the trace is on"),
        });
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            HeartbeatState::Heartbeating | HeartbeatState::Cooldown if self.heartbeat_may_go() => {
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
    pub fn poll_event(&mut self) -> Option<HeartbeatEvent> {
        self.events.pop_front()
    }
}
