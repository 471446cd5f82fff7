//! Sans-IO core of a PubNub-compatible Presence REST client.
//!
//! Turns typed presence operations into [`http::Request`] values and
//! [`http::Response`] bytes into typed results or a typed [`Error`].
//!
//! # In scope
//! - Every presence operation: [`HereNow`], [`WhereNow`], [`Heartbeat`], [`Leave`],
//!   [`SetState`], [`GetState`] and [`Subscribe`] — validation, encoding (PROTOCOL.md
//!   §3), signing (§6) and parsing of every known body shape (§4, §5).
//! - Long-lived behaviour as state machines driven from outside: [`HeartbeatEngine`]
//!   keeps a user present (§8), [`FleetEngine`] keeps many users present from one
//!   client, [`WatchEngine`] receives [`PresenceEvent`]s over subscribe (§7),
//!   [`RosterEngine`] keeps channels' members right (a paged here-now snapshot,
//!   [`HereNowPager`], plus the events after it).
//! - Configuration as plain data: [`Config`], [`Keyset`], [`KeysetStore`], [`UserId`],
//!   [`Origin`].
//!
//! # Out of scope
//! Sockets, TLS, async runtimes, clocks and randomness. The signing time and the request
//! id come in through [`RequestMeta`]; the engines take `now` on every input; transports
//! live in other crates. [`Execute`] lets any client send a bound operation, so an
//! operation's options are written once, here.
//!
//! # Example
//! ```
//! use presence_core::{Config, HereNow, Keyset, Operation, RequestMeta, UserId};
//!
//! let config = Config::new(Keyset::new("demo").with_publish_key("pub").with_secret_key("sec"),
//!                          UserId::new("me").unwrap());
//! let op = HereNow::new().channels(["lobby", "game #1"]).include_state(true);
//! let request = op.to_request(&config, &RequestMeta::new(1_700_000_000)).unwrap();
//! assert_eq!(request.uri().path(), "/v2/presence/sub-key/demo/channel/lobby,game%20%231");
//! assert!(request.uri().query().unwrap().contains("&signature=v2."));
//! assert!(!request.uri().to_string().contains("sec"));
//!
//! // … send it with any HTTP client, then:
//! let body = br#"{"status": 200, "message": "OK", "payload": {"channels": {"lobby": {"uuids": [{"uuid": "ann"}], "occupancy": 1}}, "total_channels": 1, "total_occupancy": 1}, "service": "Presence"}"#;
//! let result = op.parse_response(&http::Response::new(&body[..])).unwrap();
//! assert_eq!(result.total_occupancy, 1);
//! assert_eq!(result.channels[0].occupants[0].user_id, "ann");
//! ```
//!
//! # Driver contract of the engines
//!
//! The engines never read a clock, sleep, spawn or touch a socket. Time comes in as an
//! [`Instant`](std::time::Instant) argument on **every** input; randomness (retry
//! jitter) comes from the seed in the engine's configuration. A driver loops:
//!
//! 1. After creating the engine and after every input (`join`, `left`, `add`,
//!    `handle_response`, `handle_timeout`, …), drain `poll_request(now)` until it
//!    returns `None`, sending each [`Transmit`] (build it with
//!    [`Transmit::to_request`]); for the watch and roster engines also drain
//!    `poll_cancel` and abort those requests (then report them with
//!    `handle_cancelled`).
//! 2. Drain `poll_event` and hand the events to the user.
//! 3. Wait until the earliest of: a response arrives (→ `handle_response(now, id,
//!    &resp)`), a request fails (→ `handle_failure(now, id, failure)`, with a
//!    [`Failure::Transport`] when it did not complete), the deadline from
//!    `poll_timeout()` (→ `handle_timeout(now)`), or a user input. Then go to 1.
//!
//! Responses for requests the engine no longer cares about (after a disconnect or a
//! channel change) are ignored, so a driver need not track them. Report them all the
//! same: the heartbeat engine holds a leave back until the heartbeat for its channels
//! has been answered, failed or cancelled.
//!
//! **No spin.** Each engine keeps a floor between its requests that does not depend on
//! how fast the origin answers: two heartbeats never start less than
//! [`MIN_HEARTBEAT_INTERVAL`] (1 s) apart; two subscribes never less than
//! [`MIN_POLL_GAP`] (100 ms), nor less than [`IDLE_POLL_GAP`] (1 s) after the start of
//! a long-poll that brought nothing new. Against an origin answering everything at once
//! (an empty long-poll, a 200 heartbeat, a storm of errors) that is at most one
//! heartbeat and one subscribe per second per engine. Retries end in a typed give-up
//! ([`HeartbeatEvent::GaveUp`], [`WatchEvent::GaveUp`]).
//!
//! **Transitions as data.** `record_transitions(capacity)` makes an engine record every
//! input as a [`Transition`] (state before, input, state after, effects), drained with
//! `poll_transition`; the contract scenarios of PubNub's presence feature file are
//! tested over it (`tests/contract.rs`, docs/TESTING.md).
//!
//! `docs/EMBEDDING.md` in the repository gives every engine's contract in detail, what
//! a driver pays per request, and walks through `examples/event_loop`: all four
//! engines on one thread with `mio` and `ureq-proto`, no async runtime.
//!
//! ```
//! use presence_core::{HeartbeatConfig, HeartbeatEngine};
//! use std::time::{Duration, Instant};
//!
//! // `start` comes from the driver's clock; the engine never reads one.
//! fn first_heartbeat(start: Instant) {
//!     let mut engine = HeartbeatEngine::new(HeartbeatConfig::new(60));
//!     engine.join(start, ["lobby"], Vec::<String>::new());
//!     let tx = engine.poll_request(start).expect("an immediate heartbeat on join");
//!     // … send tx, then feed the response back:
//!     let ok = http::Response::new(&br#"{"status": 200, "message": "OK", "service": "Presence"}"#[..]);
//!     engine.handle_response(start, tx.id, &ok);
//!     assert_eq!(engine.poll_timeout(), Some(start + Duration::from_secs(29)));
//! }
//! # let _ = first_heartbeat; // compiled here; the driver passes its clock's `now`
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use http;

mod config;
mod encoding;
mod engine;
mod error;
mod json;
mod ops;
mod presence_event;
mod raw_json;
mod request;
mod response;
mod signature;
mod text;

pub use config::{
    Config, Keyset, KeysetStore, Origin, Secret, UserId, DEFAULT_PNSDK, MAX_NAME_CHARS,
};
pub use encoding::percent_encode;
pub use engine::fleet::{
    FleetConfig, FleetEngine, FleetEvent, FleetStats, FleetUser, UserStatus, LATENCY_WINDOW,
};
pub use engine::heartbeat::{
    HeartbeatConfig, HeartbeatEffect, HeartbeatEngine, HeartbeatEvent, HeartbeatInput,
    HeartbeatRequest, HeartbeatState, HeartbeatTransition, DEFAULT_MAX_RETRIES,
    MIN_HEARTBEAT_INTERVAL,
};
pub use engine::roster::{
    ChangeKind, Member, ResyncReason, RosterChange, RosterConfig, RosterEngine, RosterEvent,
    RosterRequest,
};
pub use engine::watch::{
    WatchConfig, WatchEffect, WatchEngine, WatchEvent, WatchInput, WatchState, WatchTransition,
    IDLE_POLL_GAP, MIN_POLL_GAP,
};
pub use engine::{
    Failure, RequestId, Transition, Transmit, TransportFailure, TransportFailureKind,
};
pub use error::{is_retryable_status, Error, ErrorKind, RawBody, ServiceError};
pub use ops::get_state::{GetState, GetStateResult};
pub use ops::heartbeat::{Heartbeat, DEFAULT_PRESENCE_TIMEOUT, MIN_PRESENCE_TIMEOUT};
pub use ops::here_now::{ChannelOccupancy, HereNow, HereNowResult, Occupant, HERE_NOW_MAX_LIMIT};
pub use ops::here_now_pages::{ExecutePages, HereNowPager, HERE_NOW_MAX_PAGES};
pub use ops::leave::Leave;
pub use ops::set_state::{SetState, SetStateResult};
pub use ops::subscribe::{Cursor, Subscribe, SubscribeResult, PRESENCE_SUFFIX};
pub use ops::where_now::{WhereNow, WhereNowResult};
pub use presence_event::{
    EventError, IntervalEvent, PresenceChange, PresenceEvent, UnreadableEvent,
};
pub use raw_json::RawJson;
pub use request::{CallOptions, Execute, HttpRequest, KeysetChoice, Operation, RequestMeta};
pub use signature::{canonical_query, sign_v2, verify_v2};
pub use text::Name;

/// Hooks for the fuzz targets (`fuzz/`), compiled only with `--cfg fuzzing` (which
/// cargo-fuzz sets): not part of the API.
#[cfg(fuzzing)]
pub mod fuzzing {
    /// Whether the here-now JSON reader accepts `text` as exactly one JSON document
    /// nested at most [`MAX_DEPTH`] levels (the `json_reader` target holds it to
    /// serde_json).
    pub fn json_reader_accepts(text: &str) -> bool {
        let mut reader = crate::json::Reader::new(text);
        reader.skip().is_ok() && reader.end().is_ok()
    }

    /// Deepest JSON nesting a response body may have.
    pub const MAX_DEPTH: usize = crate::response::MAX_DEPTH;

    /// Parses one presence payload (`d`, checked JSON text) for `channel`.
    pub fn parse_payload(
        channel: String,
        timetoken: String,
        d: &str,
    ) -> Result<crate::PresenceEvent, crate::EventError> {
        crate::presence_event::parse_payload(channel, None, timetoken, d)
    }
}
