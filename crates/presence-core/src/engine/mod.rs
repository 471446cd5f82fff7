//! Long-lived presence behaviour as sans-IO state machines, driven from outside in the
//! style of quinn-proto and str0m: [`HeartbeatEngine`](heartbeat::HeartbeatEngine) keeps a
//! user present (PROTOCOL.md §8), [`WatchEngine`](watch::WatchEngine) receives presence
//! events over subscribe (§7).
//!
//! # Driver contract
//!
//! The engines never read a clock, sleep, spawn or touch a socket. Time comes in as an
//! [`Instant`](std::time::Instant) argument; randomness (retry jitter) comes from the
//! seed in the engine's configuration. A driver loops:
//!
//! 1. After creating the engine and after **every** input (`join`, `left`, `add`,
//!    `handle_response`, `handle_timeout`, …), drain [`poll_request`] until it returns
//!    `None`, sending each [`Transmit`] (build it with [`Transmit::to_request`]); for the
//!    watch engine also drain `poll_cancel` and abort those requests.
//! 2. Drain `poll_event` and hand the events to the user.
//! 3. Wait until the earliest of: a response arrives (→ `handle_response(now, id, &resp)`),
//!    a transport failure (→ `handle_transport_error(now, id, why)`), the deadline from
//!    `poll_timeout()` (→ `handle_timeout(now)`), or a user input. Then go to 1.
//!
//! Responses for requests the engine no longer cares about (after a disconnect or a
//! channel change) are ignored, so a driver need not track them.
//!
//! ```
//! use presence_core::engine::heartbeat::{HeartbeatConfig, HeartbeatEngine};
//! use std::time::{Duration, Instant};
//!
//! // `start` comes from the driver's clock; the engine never reads one.
//! fn first_heartbeat(start: Instant) {
//! let mut engine = HeartbeatEngine::new(HeartbeatConfig::new(60));
//! engine.join(start, ["lobby"], Vec::<String>::new());
//! let tx = engine.poll_request(start).expect("an immediate heartbeat on join");
//! // … send tx, then feed the response back:
//! let ok = http::Response::new(&br#"{"status": 200, "message": "OK", "service": "Presence"}"#[..]);
//! engine.handle_response(start, tx.id, &ok);
//! assert_eq!(engine.poll_timeout(), Some(start + Duration::from_secs(29)));
//! }
//! ```
//!
//! [`poll_request`]: heartbeat::HeartbeatEngine::poll_request

pub mod heartbeat;
pub mod watch;

use crate::request::{HttpRequest, Operation, RequestMeta};
use crate::{Config, Error};
use std::time::Duration;

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
    /// The request did not complete (connect error, timeout, I/O), described.
    Transport(String),
}

impl Failure {
    /// Whether trying again may help: transport failures, 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Transport(_) => true,
            Failure::Response(e) => matches!(e.status(), Some(408 | 429 | 500..=599)),
        }
    }

    /// `Retry-After` in seconds, when the service sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Response(Error::Service(e)) => e.retry_after.map(Duration::from_secs),
            _ => None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Response(e) => e.fmt(f),
            Failure::Transport(why) => write!(f, "transport: {why}"),
        }
    }
}

/// Exponential backoff with "equal jitter": attempt `n` waits a random time in
/// `[d/2, d]` where `d = min(base * 2^n, cap)`. The random values come from a
/// deterministic generator seeded by the caller.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    rng: u64,
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`, jittered from `seed`.
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        // A zero base would retry in a busy loop: never less than 100 ms.
        let base = base.max(Duration::from_millis(100));
        Self {
            base,
            cap: cap.max(base),
            rng: seed | 1,
        }
    }

    /// The delay before retry number `attempt` (0-based).
    pub fn delay(&mut self, attempt: u32) -> Duration {
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
    pub fn cap(&self) -> Duration {
        self.cap
    }
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
}
