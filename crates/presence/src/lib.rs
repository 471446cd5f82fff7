//! A PubNub-compatible Presence SDK: who is on a channel (here now), where a user is
//! (where now), heartbeats and leaves, per-user state, presence events, and heartbeating
//! without a subscription.
//!
//! One API shape for async and blocking use: the async [`Client`] (feature `hyper`,
//! default) ends a call in `.execute().await`, [`blocking::Client`] (feature `ureq`)
//! in `.execute()`. A call is the core operation itself, bound to the client
//! (`client.here_now()` is a [`HereNow`] bound to `&client`), so its options are the
//! core's, written once. Both clients run on any transport you plug in ([`transport`]),
//! including a closure. Requests are built, signed and parsed by [`presence_core`];
//! results and errors are its types ([`Error`] adds the transport's error).
//!
//! # Async
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start(presence_emulator::EmulatorConfig::default()).await?;
//! # let origin = emulator.origin();
//! let client = presence::Client::builder()
//!     .subscribe_key("demo")
//!     .user_id("ann")
//!     .origin(origin) // e.g. the embedded emulator; the default is https://ps.pndsn.com
//!     .build()?;
//!
//! client.heartbeat().channels(["lobby"]).state(serde_json::json!({"mood": "ok"})).execute().await?;
//! let now = client.here_now().channels(["lobby"]).include_state(true).execute().await?;
//! assert_eq!(now.channels[0].occupants[0].user_id, "ann");
//! let where_now = client.where_now().execute().await?;
//! assert_eq!(where_now.channels, ["lobby"]);
//! client.leave().channels(["lobby"]).execute().await?;
//! # emulator.shutdown().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "hyper"))] fn main() {}
//! ```
//!
//! # Blocking
//!
//! ```
//! # #[cfg(feature = "ureq")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start_blocking(presence_emulator::EmulatorConfig::default())?;
//! # let origin = emulator.origin();
//! let client = presence::blocking::Client::builder()
//!     .subscribe_key("demo")
//!     .user_id("ben")
//!     .origin(origin)
//!     .build_blocking()?;
//!
//! client.set_state().channels(["lobby"]).state(serde_json::json!({"role": "host"})).execute()?;
//! let state = client.get_state().channels(["lobby"]).execute()?;
//! assert_eq!(state.channels["lobby"], serde_json::json!({"role": "host"}));
//! println!("{state}"); // state of ben: lobby {"role":"host"}
//! # Ok(()) }
//! # #[cfg(not(feature = "ureq"))] fn main() {}
//! ```
//!
//! # Long-lived presence
//!
//! - `client.presence()` (async with feature `async-loops`, and the blocking twin) keeps
//!   a user present without a subscription (Go's `Presence().Connected(true)`), driving
//!   [`presence_core::HeartbeatEngine`] on an async task (or a thread).
//! - `client.watch()` streams [`PresenceEvent`]s (join, leave, timeout, state-change,
//!   interval) from the subscribe endpoint, ending with the failure that stopped it.
//!
//! # Features
//! - `hyper` (default): [`Client`] on `transport-hyper`; enables `tokio`.
//! - `async-loops`: the async client's long-lived loops (heartbeat, watch, roster,
//!   fleet) on any executor given as a [`runtime::Runtime`]; no tokio runtime in the
//!   build.
//! - `tokio` (on with `hyper`): `async-loops` on the current tokio runtime by default.
//! - `ureq`: [`blocking::Client`] on `transport-ureq` (no tokio in the build).
//! - `native-roots`: OS certificate store for the hyper transport.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blocking;
mod builder;
mod client;
mod error;
pub mod fleet;
pub mod heartbeat;
mod lane;
pub mod pages;
pub mod roster;
pub mod runtime;
mod shared;
mod subscribe_loop;
pub mod transport;
pub mod watch;

pub use builder::ClientBuilder;
#[cfg(feature = "hyper")]
pub use client::DefaultTransport;
pub use client::{Client, Pending};
pub use error::{Error, StartError};
pub use presence_core::{
    self as core, ChannelOccupancy, Config, ErrorKind, Failure, GetState, GetStateResult,
    Heartbeat, HereNow, HereNowResult, HttpRequest, IntervalEvent, Keyset, Leave, Name, Occupant,
    Origin, PresenceChange, PresenceEvent, RawJson, SetState, SetStateResult, UserId, WhereNow,
    WhereNowResult,
};
#[cfg(feature = "hyper")]
pub use transport_hyper;
#[cfg(feature = "ureq")]
pub use transport_ureq;
