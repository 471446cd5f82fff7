//! A local, in-memory PubNub-compatible Presence server, for hermetic tests.
//!
//! Point any PubNub-compatible SDK's origin at the emulator and it answers the
//! Presence REST API with the bodies recorded from the real service
//! (`shared/wire/PROTOCOL.md`): here now (channels, groups, global), where now,
//! heartbeat, leave, set/get state, the channel-group registry, request signing,
//! token grants, and presence events over subscribe.
//!
//! # Layers
//! - [`Model`]: the pure state core. `handle(now, request) -> response`; no I/O, no
//!   clock (`now` is a [`Duration`](std::time::Duration) since the UNIX epoch), so
//!   presence timeouts are tested with virtual time.
//! - [`Emulator`]: a hyper 1 + tokio server around the model (HTTP/1.1, and HTTP/2
//!   with prior knowledge on the same port), with a clock
//!   that tests can move forward ([`EmulatorHandle::advance`]), a bounded number of
//!   connections and a header read timeout. [`Emulator::start_blocking`] runs it on
//!   its own runtime for blocking tests.
//! - The admin API under `/_emulator/v1/` (the state as a [`Snapshot`], reset, the
//!   clock, fault rules, [`EmulatorStats`] and Prometheus metrics; optionally behind an
//!   [`AdminToken`]) and the live inspector page at `/_emulator/`, served by the same
//!   server; `--import` / `--export-on-exit` ([`EmulatorConfig::import`],
//!   [`EmulatorHandle::exit`]) keep the state across restarts.
//! - The `presence-emulator` binary: `presence-emulator --listen 127.0.0.1:8090
//!   --keyset SUB[:PUB[:SECRET]]`. Its flags are `cli::EmulatorArgs`, which
//!   other binaries (`presence emulator`) flatten into their own command line.
//!
//! # Behaving like the service, failing on purpose
//! - Switches, off by default: the here-now cache
//!   ([`EmulatorConfig::here_now_cache`], `--here-now-cache SECS`), a per-keyset rate
//!   limit answered with 429 and `Retry-After` ([`EmulatorConfig::rate_limit`],
//!   `--rate-limit N`), and every documented behaviour at once
//!   ([`EmulatorConfig::realistic`], `--realistic`).
//! - Fault rules ([`FaultRule`], `--fault RULE`, [`EmulatorHandle::set_faults`]): an
//!   error status or a "false 200", latency, a body cut mid-way or a connection closed
//!   without a response, by operation, keyset and channel, with seeded probabilities.
//!
//! # Features
//! - `cli` (default): the `presence-emulator` binary and the `cli` module, with
//!   clap. Crates that use the emulator as a library (in tests) turn it off with
//!   `default-features = false` and do not compile clap.
//! - `jemalloc` (default): the binary's global allocator is jemalloc (tikv-jemallocator,
//!   built from C: needs `cc` and `make`), so the process gives memory back after users
//!   leave; the library never sets an allocator. `--no-default-features --features cli`
//!   builds the binary on the system allocator (docs/PERFORMANCE.md §4 compares them).
//!
//! # In-process use from a test
//! ```
//! use presence_emulator::{Emulator, EmulatorConfig, Keyset};
//! use std::io::{Read, Write};
//! use std::time::Duration;
//!
//! let emu = Emulator::start_blocking(
//!     EmulatorConfig::new()
//!         .keyset(Keyset::new("sub-c-test"))
//!         .paused_clock(Duration::from_secs(1_700_000_000)),
//! )
//! .unwrap();
//! // Point your SDK at `emu.origin()`; here a raw request stands in for it.
//! let get = |target: &str| {
//!     let mut s = std::net::TcpStream::connect(emu.local_addr()).unwrap();
//!     write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
//!     let mut out = String::new();
//!     s.read_to_string(&mut out).unwrap();
//!     out
//! };
//! get("/v2/presence/sub-key/sub-c-test/channel/lobby/heartbeat?heartbeat=20&uuid=ann");
//! assert!(get("/v2/presence/sub-key/sub-c-test/channel/lobby?uuid=bob").ends_with(
//!     r#"{"status":200,"message":"OK","service":"Presence","uuids":["ann"],"occupancy":1}"#
//! ));
//! // 20 s later (virtual time) ann has timed out.
//! emu.advance(Duration::from_secs(20));
//! assert!(get("/v2/presence/sub-key/sub-c-test/channel/lobby?uuid=bob").ends_with(r#""occupancy":0}"#));
//! emu.shutdown();
//! ```
//!
//! See `docs/EMULATOR.md` for what is implemented and where the emulator knowingly
//! differs from the real service.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
mod auth;
mod body;
mod cache;
#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod events;
mod fault;
mod inspector;
mod metrics;
mod model;
mod occupants;
mod rate_limit;
mod server;
mod snapshot;
mod stats;
mod wire;

#[cfg(test)]
mod model_tests;

#[cfg(test)]
mod event_tests;

pub use admin::{AdminToken, EmptyAdminToken};
pub use config::{
    Grant, Keyset, KeysetParseError, ModelConfig, Permissions, REALISTIC_HERE_NOW_CACHE,
};
pub use fault::{FaultAction, FaultRule, FaultRuleError, Operation};
pub use http;
pub use model::{Dispatch, Model, ModelStats, Wait};
pub use server::{
    BlockingEmulatorHandle, ConnectionStats, Emulator, EmulatorConfig, EmulatorHandle,
};
pub use snapshot::{
    ChannelSnapshot, GroupSnapshot, KeysetSnapshot, OccupantSnapshot, Snapshot, SnapshotError,
    SnapshotFileError, SNAPSHOT_VERSION,
};
pub use stats::{EmulatorStats, RequestCount};
