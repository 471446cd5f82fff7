//! Sans-IO core of a PubNub-compatible Presence REST client.
//!
//! Turns typed presence operations into [`http::Request`] values and
//! [`http::Response`] bytes into typed results or a typed [`Error`].
//!
//! # In scope
//! - Every presence operation: [`HereNow`], [`WhereNow`], [`Heartbeat`], [`Leave`],
//!   [`SetState`], [`GetState`] — validation, encoding (PROTOCOL.md §3), signing (§6)
//!   and parsing of every known body shape (§4, §5).
//! - Long-lived behaviour as state machines driven from outside: [`engine`] (heartbeat
//!   loop, presence-event watch), [`Subscribe`] and [`PresenceEvent`].
//! - Configuration as plain data: [`Config`], [`Keyset`], [`KeysetStore`], [`UserId`],
//!   [`Origin`].
//!
//! # Out of scope
//! Sockets, TLS, async runtimes, retries, clocks and randomness. The signing time and the
//! request id come in through [`RequestMeta`]; transports live in other crates.
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
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use http;

pub mod config;
pub mod encoding;
pub mod engine;
pub mod error;
mod json;
pub mod ops;
pub mod presence_event;
pub mod request;
pub mod response;
pub mod signature;

/// Whether the here-now JSON reader accepts `text` as exactly one JSON document nested at
/// most [`response::MAX_DEPTH`] levels. A hook for the `json_reader` fuzz target, which
/// holds the reader to serde_json; not part of the API.
#[doc(hidden)]
pub fn json_reader_accepts(text: &str) -> bool {
    let mut reader = json::Reader::new(text);
    reader.skip().is_ok() && reader.end().is_ok()
}

pub use config::{Config, Keyset, KeysetStore, Origin, Secret, UserId};
pub use error::{Error, RawBody, ServiceError};
pub use ops::get_state::{GetState, GetStateResult};
pub use ops::heartbeat::Heartbeat;
pub use ops::here_now::{
    ChannelOccupancy, ChannelView, HereNow, HereNowResult, HereNowView, Occupant, OccupantView,
    RawJson,
};
pub use ops::leave::Leave;
pub use ops::set_state::{SetState, SetStateResult};
pub use ops::subscribe::{Cursor, Subscribe, SubscribeResult};
pub use ops::where_now::{WhereNow, WhereNowResult};
pub use presence_event::{IntervalEvent, PresenceChange, PresenceEvent};
pub use request::{CallOptions, HttpRequest, KeysetChoice, Operation, RequestMeta};
