//! Long-lived presence behaviour as sans-IO state machines, driven from outside in the
//! style of quinn-proto and str0m: the heartbeat engine keeps a user present
//! (PROTOCOL.md §8), the fleet engine keeps many users present from one client, the
//! watch engine receives presence events over subscribe (§7), and the roster engine
//! keeps the members of channels right.
//! Their driver contract is in the crate docs.

pub(crate) mod fleet;
pub(crate) mod heartbeat;
pub(crate) mod roster;
pub(crate) mod watch;

use crate::request::{HttpRequest, Operation, RequestMeta};
use crate::{Config, Error, ErrorKind, ServiceError};
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// One step of an engine, as data: the state before, the input, the state after and
/// what the engine did about it (requests handed out, timers set or dropped, a give-up).
///
/// Recording is off until the engine's `record_transitions(capacity)` is called; then
/// every input (including a deadline that passed, `TimesUp`) appends one entry, and
/// `poll_transition` drains them oldest first. When more than `capacity` entries are
/// waiting, the oldest are dropped, so an undrained log never grows without bound.
///
/// ```
/// use presence_core::{HeartbeatConfig, HeartbeatEffect, HeartbeatEngine, HeartbeatInput, HeartbeatState};
/// use std::time::Instant;
///
/// // `t0` comes from the driver's clock.
/// fn first_step(t0: Instant) {
///     let mut engine = HeartbeatEngine::new(HeartbeatConfig::new(60));
///     engine.record_transitions(64);
///     engine.join(t0, ["lobby"], Vec::<String>::new());
///     let step = engine.poll_transition().unwrap();
///     assert_eq!((step.from, step.to), (HeartbeatState::Inactive, HeartbeatState::Heartbeating));
///     assert!(matches!(step.input, HeartbeatInput::Joined { .. }));
///     assert!(matches!(step.effects[..], [HeartbeatEffect::Heartbeat { id: 1, .. }]));
/// }
/// # let _ = first_step; // compiled here; the driver passes its clock's `now`
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Transition<S, I, E> {
    /// The `now` of the input.
    pub at: Instant,
    /// The state before the input.
    pub from: S,
    /// What came in.
    pub input: I,
    /// The state after the input.
    pub to: S,
    /// What the engine did, in order.
    pub effects: Vec<E>,
}

/// The bounded transition log both engines keep (off when `capacity` is 0).
#[derive(Debug)]
pub(crate) struct Trace<S, I, E> {
    capacity: usize,
    entries: VecDeque<Transition<S, I, E>>,
    /// Effects of the input being handled.
    effects: Vec<E>,
}

impl<S, I, E> Default for Trace<S, I, E> {
    fn default() -> Self {
        Self {
            capacity: 0,
            entries: VecDeque::new(),
            effects: Vec::new(),
        }
    }
}

impl<S, I, E> Trace<S, I, E> {
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.entries.len() > capacity {
            self.entries.pop_front();
        }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.capacity > 0
    }

    /// Notes an effect of the input being handled.
    pub(crate) fn effect(&mut self, effect: E) {
        if self.is_on() {
            self.effects.push(effect);
        }
    }

    /// Closes the entry for one input.
    pub(crate) fn record(&mut self, at: Instant, from: S, input: impl FnOnce() -> I, to: S) {
        if !self.is_on() {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(Transition {
            at,
            from,
            input: input(),
            to,
            effects: std::mem::take(&mut self.effects),
        });
    }

    pub(crate) fn pop(&mut self) -> Option<Transition<S, I, E>> {
        self.entries.pop_front()
    }
}

/// Identifies a request handed out by an engine.
pub type RequestId = u64;

/// A request an engine wants sent.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Transmit<O> {
    /// Pass this id back with the response.
    pub id: RequestId,
    /// The operation to send.
    pub op: O,
}

impl<O: Operation> Transmit<O> {
    /// Builds the HTTP request for this transmit.
    pub fn to_request(&self, config: &Config, meta: &RequestMeta) -> Result<HttpRequest, Error> {
        self.op.to_request(config, meta)
    }
}

/// Why a request failed, as the engines see it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Failure {
    /// The service answered with an error, or the body could not be read.
    Response(Error),
    /// The request did not complete (connect error, timeout, I/O…).
    Transport(TransportFailure),
}

impl Failure {
    /// Whether trying again may help: a retryable transport failure (see
    /// [`TransportFailureKind::is_retryable`]), or a response that
    /// [`Error::is_retryable`] (408, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Transport(t) => t.kind.is_retryable(),
            Failure::Response(e) => e.is_retryable(),
        }
    }

    /// `Retry-After` in seconds, when the service sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Response(Error::Service(e)) => e.retry_after.map(Duration::from_secs),
            _ => None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Failure::Response(e) => e.kind(),
            Failure::Transport(_) => ErrorKind::Transport,
        }
    }

    /// The service error (status, message, channels), if the service answered with one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Failure::Response(e) => e.service_error(),
            Failure::Transport(_) => None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Response(e) => e.fmt(f),
            Failure::Transport(t) => t.fmt(f),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Response(e) => Some(e),
            Failure::Transport(_) => None,
        }
    }
}

/// A request that did not complete, as a driver reports it to an engine: what kind of
/// failure, and a description (never the request's path or query, which carry user ids
/// and tokens).
///
/// ```
/// use presence_core::{TransportFailure, TransportFailureKind};
/// let f = TransportFailure::new(TransportFailureKind::Timeout, "no answer after 30 s");
/// assert!(f.kind().is_retryable());
/// assert_eq!(f.to_string(), "transport error (timeout): no answer after 30 s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportFailure {
    kind: TransportFailureKind,
    message: String,
}

impl TransportFailure {
    /// A failure of `kind`, described by `message`.
    pub fn new(kind: TransportFailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> TransportFailureKind {
        self.kind
    }

    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "transport error ({}): {}",
            self.kind.as_str(),
            self.message
        )
    }
}

/// The kinds of [`TransportFailure`], as the transports classify them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailureKind {
    /// The request could not be sent as built (a bad URI for the transport): the same
    /// request fails again.
    InvalidRequest,
    /// No connection could be made (name lookup, refused, unreachable).
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// No complete answer in time.
    Timeout,
    /// The answer was larger than the transport accepts.
    BodyTooLarge,
    /// The connection broke (reset, closed early).
    Io,
    /// The peer broke the HTTP protocol.
    Protocol,
    /// Anything else (a transport that does not classify its errors).
    Other,
}

impl TransportFailureKind {
    /// Whether trying again may help: everything but an invalid request, a body over
    /// the limit and a TLS failure, which fail the same way again.
    pub fn is_retryable(self) -> bool {
        !matches!(
            self,
            TransportFailureKind::InvalidRequest
                | TransportFailureKind::BodyTooLarge
                | TransportFailureKind::Tls
        )
    }

    /// The stable snake_case name (`connect`, `timeout`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportFailureKind::InvalidRequest => "invalid_request",
            TransportFailureKind::Connect => "connect",
            TransportFailureKind::Tls => "tls",
            TransportFailureKind::Timeout => "timeout",
            TransportFailureKind::BodyTooLarge => "body_too_large",
            TransportFailureKind::Io => "io",
            TransportFailureKind::Protocol => "protocol",
            TransportFailureKind::Other => "other",
        }
    }
}

/// Exponential backoff with "equal jitter": attempt `n` waits a random time in
/// `[d/2, d]` where `d = min(base * 2^n, cap)`. The random values come from a
/// deterministic generator seeded by the caller.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    rng: u64,
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`, jittered from `seed`.
    pub(crate) fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        // A zero base would retry in a busy loop: never less than 100 ms.
        let base = base.max(Duration::from_millis(100));
        Self {
            base,
            cap: cap.max(base),
            rng: seed | 1,
        }
    }

    /// The delay before retry number `attempt` (0-based).
    pub(crate) fn delay(&mut self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        let full = self.base.saturating_mul(factor).min(self.cap);
        // xorshift64*: cheap, deterministic, good enough for jitter.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11; // 53 bits
        let unit = r as f64 / (1u64 << 53) as f64;
        full.mul_f64(0.5 + 0.5 * unit)
    }

    /// The cap.
    pub(crate) fn cap(&self) -> Duration {
        self.cap
    }
}

/// User-facing channel and group names, collected into owned lists (what the engines'
/// `add` and `remove` take).
pub(crate) fn owned_names<C, G, S, T>(channels: C, groups: G) -> (Vec<String>, Vec<String>)
where
    C: IntoIterator<Item = S>,
    G: IntoIterator<Item = T>,
    S: Into<String>,
    T: Into<String>,
{
    (
        channels.into_iter().map(Into::into).collect(),
        groups.into_iter().map(Into::into).collect(),
    )
}

/// Adds `channels` and `groups` to an engine's sets (`add`), or removes them; whether
/// either set changed.
pub(crate) fn edit_names(
    sets: (&mut BTreeSet<String>, &mut BTreeSet<String>),
    channels: &[String],
    groups: &[String],
    add: bool,
) -> bool {
    let mut changed = false;
    for (set, names) in [(sets.0, channels), (sets.1, groups)] {
        for name in names {
            changed |= if add {
                set.insert(name.clone())
            } else {
                set.remove(name)
            };
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jitters_and_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10), 42);
        for attempt in 0..40 {
            let d = b.delay(attempt);
            let full = Duration::from_secs(1u64 << attempt.min(20)).min(Duration::from_secs(10));
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
        let (mut x, mut y) = (
            Backoff::new(Duration::from_secs(1), Duration::from_secs(10), 7),
            Backoff::new(Duration::from_secs(1), Duration::from_secs(10), 7),
        );
        assert_eq!(x.delay(3), y.delay(3), "same seed, same jitter");
    }

    /// The jitter covers its range: many distinct values from 1/2 to all of the delay,
    /// about 3/4 on average, and another seed gives another sequence.
    #[test]
    fn jitter_spreads_over_the_whole_range() {
        let full = Duration::from_secs(1);
        let mut b = Backoff::new(full, full, 42);
        let delays: Vec<Duration> = (0..1000).map(|_| b.delay(3)).collect();
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 990, "{} distinct delays", distinct.len());
        let (min, max) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(
            *min < full * 52 / 100 && *max > full * 98 / 100,
            "{min:?}..{max:?}"
        );
        let mean = delays.iter().sum::<Duration>() / 1000;
        assert!(
            mean > full * 72 / 100 && mean < full * 78 / 100,
            "mean {mean:?}"
        );
        let mut other = Backoff::new(full, full, 7);
        assert_ne!(other.delay(3), Backoff::new(full, full, 42).delay(3));
        assert_eq!(b.cap(), full);
    }

    /// The generator is xorshift64* as documented (Vigna's shifts 12, 25, 27 and
    /// multiplier): its states and the jitter drawn from them for seed 42 (state 43)
    /// equal a reference implementation's (Python, 64-bit masked arithmetic).
    #[test]
    fn the_jitter_is_xorshift64_star() {
        let full = Duration::from_secs(1);
        let mut b = Backoff::new(full, full, 42);
        assert_eq!(b.rng, 43, "the seed is made odd");
        let reference: [(u64, f64); 4] = [
            (0x5600_0021, 0.619_920_314_052_281_5),
            (0x00ac_0ac0_0184_3823, 0.453_393_100_946_600_8),
            (0x01f7_0840_5365_286d, 0.114_008_377_181_873_95),
            (0x6059_d700_a25a_ffaa, 0.543_736_565_454_980_5),
        ];
        for (i, (state, unit)) in reference.into_iter().enumerate() {
            let d = b.delay(0);
            assert_eq!(b.rng, state, "state after draw {i}");
            let expected = full.mul_f64(0.5 + 0.5 * unit);
            assert!(
                d.abs_diff(expected) <= Duration::from_nanos(1),
                "draw {i}: {d:?} vs {expected:?}"
            );
        }
    }
}
