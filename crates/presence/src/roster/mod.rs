//! A live roster: the members of channels and groups kept right, with their state, and
//! a stream of typed changes — on a tokio task ([`RosterStream`]) or background threads
//! ([`blocking::Roster`](crate::blocking::Roster)). Both drive
//! [`presence_core::RosterEngine`] with the loop body of this module: a paged here-now
//! snapshot, the presence events after it applied in order, and a fresh snapshot
//! whenever the two may have drifted (see the engine's docs for when).
//!
//! Holding a roster never makes its user an occupant: it subscribes to `-pnpres`
//! channels only and never heartbeats.
//!
//! Both yield `Result<RosterChange, Failure>`: a failure that retrying cannot fix (a
//! 403, a 400) is yielded once as `Err`, after which the stream or iterator ends.
//! Members, occupancy and whether the roster is in sync can be read at any moment.
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start(presence_emulator::EmulatorConfig::default()).await?;
//! let client = |user: &str| {
//!     presence::Client::builder().subscribe_key("demo").user_id(user).origin(emulator.origin()).build()
//! };
//! client("ann")?.heartbeat().channels(["lobby"]).state(serde_json::json!({"mood": "ok"})).execute().await?;
//! let mut roster = client("observer")?.roster().channels(["lobby"]).start()?;
//! roster.synced().await?;
//! assert_eq!(roster.members("lobby")[0].to_string(), r#"ann {"mood":"ok"}"#);
//! // The first snapshot is a change too: everyone in it joined the roster.
//! let first = roster.next_change().await.unwrap()?;
//! assert_eq!(first.to_string(), "lobby: resynced (start): 1 joined, 0 left, 0 changed (occupancy 1)");
//! client("bob")?.heartbeat().channels(["lobby"]).execute().await?;
//! let change = roster.next_change().await.unwrap()?;
//! assert_eq!(change.to_string(), "lobby: bob joined (occupancy 2)");
//! assert_eq!(roster.member_count("lobby"), 2);
//! # emulator.shutdown().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "hyper"))] fn main() {}
//! ```

#[cfg(feature = "async-loops")]
mod task;

pub(crate) mod thread;

use crate::subscribe_loop::SubscribeDriver;
use presence_core::{Failure, RequestId, RosterConfig, RosterEngine, RosterRequest, Transmit};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[cfg(feature = "async-loops")]
pub use self::task::RosterStream;
pub use presence_core::{ChangeKind, Member, ResyncReason, RosterChange, RosterEvent};

/// What to keep; finish with `start()`.
#[derive(Debug)]
#[must_use = "nothing happens until `start()`"]
pub struct RosterBuilder<'c, C> {
    client: &'c C,
    channels: Vec<String>,
    groups: Vec<String>,
    config: RosterConfig,
}

impl<'c, C> RosterBuilder<'c, C> {
    pub(crate) fn new(client: &'c C) -> Self {
        Self {
            client,
            channels: Vec::new(),
            groups: Vec::new(),
            config: RosterConfig::default(),
        }
    }

    crate::shared::target_setters!(
        channels: "Channels whose members to keep.",
        groups: "Channel groups whose channels' members to keep."
    );

    /// Occupants per here-now page of a snapshot (1..=1000, default 1000).
    pub fn page_size(mut self, size: u32) -> Self {
        self.config.page_size = size;
        self
    }

    /// Also resync on this period, whatever the events say.
    pub fn resync_every(mut self, period: Duration) -> Self {
        self.config.resync_every = Some(period);
        self
    }

    /// Shortest time between two resyncs (default 1 s). A channel in interval mode
    /// asks for one after every interval event; a longer gap means fewer here nows on
    /// large channels, and a member list that may be off for longer in between.
    pub fn resync_gap(mut self, gap: Duration) -> Self {
        self.config.resync_gap = gap;
        self
    }

    /// The engine settings the roster will run with.
    pub fn roster_config(&self) -> &RosterConfig {
        &self.config
    }

    fn driver(&self, seed: u64, now: Instant) -> Driver {
        let mut config = self.config.clone();
        config.jitter_seed = seed;
        config.watch.jitter_seed = seed.rotate_left(17);
        let mut engine = RosterEngine::new(config);
        engine.add(
            now,
            self.channels.iter().cloned(),
            self.groups.iter().cloned(),
        );
        Driver {
            engine: Arc::new(Mutex::new(engine)),
        }
    }
}

pub(crate) use crate::subscribe_loop::Command;

/// The roster engine as [`crate::subscribe_loop`] drives it, shared with the handle so
/// that it can read the members at any moment.
#[derive(Clone)]
pub(crate) struct Driver {
    engine: Arc<Mutex<RosterEngine>>,
}

impl Driver {
    fn engine(&self) -> MutexGuard<'_, RosterEngine> {
        // A panic while holding the lock cannot leave the engine half-updated in a way
        // reading it would make worse.
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SubscribeDriver for Driver {
    type Op = RosterRequest;
    type Event = RosterEvent;

    fn poll_cancel(&mut self) -> Option<RequestId> {
        self.engine().poll_cancel()
    }

    fn cancelled(&mut self, now: Instant, id: RequestId) {
        self.engine().handle_cancelled(now, id);
    }

    fn poll_request(&mut self, now: Instant) -> Option<Transmit<RosterRequest>> {
        self.engine().poll_request(now)
    }

    fn is_long_poll(op: &RosterRequest) -> bool {
        matches!(op, RosterRequest::Subscribe(_))
    }

    fn poll_event(&mut self) -> Option<RosterEvent> {
        self.engine().poll_event()
    }

    fn deadline(&self) -> Option<Instant> {
        self.engine().poll_timeout()
    }

    /// The roster stopped on a failure that retrying cannot fix.
    fn ended(&self) -> bool {
        self.engine().is_stopped()
    }

    fn command(&mut self, now: Instant, command: Command) {
        let mut engine = self.engine();
        match command {
            Command::Add(c, g) => engine.add(now, c, g),
            Command::Remove(c, g) => engine.remove(now, c, g),
        }
    }

    fn response(&mut self, now: Instant, id: RequestId, result: crate::shared::Answer) {
        let mut engine = self.engine();
        match result {
            Ok(resp) => engine.handle_response(now, id, &resp),
            Err(failure) => engine.handle_failure(now, id, failure),
        }
    }

    fn timeout(&mut self, now: Instant) {
        self.engine().handle_timeout(now);
    }

    fn stop(&mut self, now: Instant) {
        self.engine().stop(now);
    }
}

/// What a roster event is to the stream and the iterator: a change, the terminal
/// failure, or nothing (sync notices and retried failures, logged at debug).
pub(crate) fn item(event: RosterEvent) -> Option<Result<RosterChange, Failure>> {
    match event {
        RosterEvent::Change(c) => Some(Ok(c)),
        RosterEvent::Failed {
            failure,
            retry_in: None,
        } => Some(Err(failure)),
        other => {
            tracing::debug!(event = %other, "roster event");
            None
        }
    }
}

/// The failure of a roster whose loop is gone without one.
pub(crate) fn ended() -> Failure {
    Failure::Transport(presence_core::TransportFailure::new(
        presence_core::TransportFailureKind::Other,
        "the roster ended",
    ))
}

/// The reading and channel-changing methods both roster handles share.
macro_rules! roster_inputs {
    () => {
        crate::shared::lists_input!(
            /// Adds channels and groups (a resync follows).
            add => Command::Add
        );

        crate::shared::lists_input!(
            /// Removes channels and groups (a resync follows).
            remove => Command::Remove
        );

        /// The members of `channel`, sorted by user id, as of now.
        pub fn members(&self, channel: &str) -> Vec<presence_core::Member> {
            self.driver.engine().members(channel)
        }

        /// How many members `channel` has, as of now.
        pub fn member_count(&self, channel: &str) -> usize {
            self.driver.engine().member_count(channel)
        }

        /// The occupancy the service last reported for `channel`.
        pub fn occupancy(&self, channel: &str) -> Option<u64> {
            self.driver.engine().occupancy(channel)
        }

        /// The channels the roster knows, sorted.
        pub fn channels(&self) -> Vec<String> {
            self.driver.engine().channels().map(str::to_owned).collect()
        }

        /// Whether the roster knows of no drift now (a snapshot and every event since
        /// applied; in interval mode a confirming snapshot may still correct the
        /// members, see `presence_core::RosterEngine::is_synced`).
        pub fn is_synced(&self) -> bool {
            self.driver.engine().is_synced()
        }
    };
}
pub(crate) use roster_inputs;
