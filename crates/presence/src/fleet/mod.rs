//! A presence fleet: many user ids kept present from one client and one connection
//! pool — on a tokio task ([`Fleet`]) or background threads
//! ([`blocking::Fleet`](crate::blocking::Fleet)). Both drive
//! [`presence_core::FleetEngine`] with the loop body of this module; see the engine's
//! docs for the rules (first heartbeats spread over one interval, one timer queue, a
//! bound on requests in flight, per-user backoff, a 403 stopping one user only).
//!
//! Users are added, changed (added again) and removed through the handle while the
//! fleet runs; the counters ([`FleetStats`]) and each user's [`UserStatus`] can be read
//! at any moment. Events ([`FleetEvent`]) report changes only (present, failed, gave
//! up, removed), never each heartbeat; they are buffered up to [`EVENT_BUFFER`] and
//! counted as dropped beyond that, so a fleet whose events nobody reads does not grow.
//! Stopping (or dropping the handle) sends a leave for every user.
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start(presence_emulator::EmulatorConfig::default()).await?;
//! use presence::fleet::FleetUser;
//! use presence::UserId;
//! let client = presence::Client::builder()
//!     .subscribe_key("demo")
//!     .user_id("game-server")
//!     .origin(emulator.origin())
//!     .build()?;
//! let mut fleet = client.fleet().max_in_flight(32).start()?;
//! for i in 0..3 {
//!     let npc = FleetUser::new(UserId::new(format!("npc-{i}"))?).channels(["arena"]);
//!     fleet.add(npc)?;
//! }
//! while fleet.stats().present < 3 {
//!     fleet.next_event().await; // npc-0 present, …
//! }
//! let now = client.here_now().channels(["arena"]).execute().await?;
//! assert_eq!(now.channels[0].occupancy, 3);
//! fleet.stop().await; // a leave for each
//! # emulator.shutdown().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "hyper"))] fn main() {}
//! ```

#[cfg(feature = "async-loops")]
mod task;

pub(crate) mod thread;

pub use presence_core::{FleetEvent, FleetStats, FleetUser, UserStatus};

#[cfg(feature = "async-loops")]
pub use self::task::Fleet;

use presence_core::{FleetConfig, FleetEngine, HeartbeatRequest, RequestId, Transmit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Events kept for the handle before further ones are dropped (and counted).
pub const EVENT_BUFFER: usize = 4096;

/// Most worker threads a blocking fleet starts.
pub const MAX_WORKERS: usize = 256;

/// How to run a fleet; finish with `start()`.
#[derive(Debug)]
#[must_use = "nothing happens until `start()`"]
pub struct FleetBuilder<'c, C> {
    client: &'c C,
    config: FleetConfig,
}

impl<'c, C> FleetBuilder<'c, C> {
    pub(crate) fn new(client: &'c C) -> Self {
        Self {
            client,
            config: FleetConfig::default(),
        }
    }

    /// Most requests in flight at once (default 64). On the blocking client this is
    /// also the number of worker threads (at most 256).
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.config.max_in_flight = requests.max(1);
        self
    }

    /// First retry delay after a retryable failure (default 1 s).
    pub fn retry_base(mut self, delay: Duration) -> Self {
        self.config.retry_base = delay;
        self
    }

    /// Retryable failures in a row after which a user gives up (default: never).
    pub fn give_up_after(mut self, failures: u32) -> Self {
        self.config.give_up_after = Some(failures);
        self
    }

    /// Spread first heartbeats over `window` instead of each user's heartbeat interval
    /// (`Duration::ZERO`: as fast as the in-flight bound allows).
    pub fn spread(mut self, window: Duration) -> Self {
        self.config.spread = Some(window);
        self
    }

    /// Never send leaves: removed users time out instead.
    pub fn suppress_leave(mut self, yes: bool) -> Self {
        self.config.suppress_leave = yes;
        self
    }

    /// The engine settings the fleet will run with.
    pub fn fleet_config(&self) -> &FleetConfig {
        &self.config
    }

    fn driver(&self, seed: u64) -> Driver {
        let config = self.config.clone().jitter_seed(seed);
        Driver {
            engine: Arc::new(Mutex::new(FleetEngine::new(config))),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// The loop body both runtimes share: the engine, shared with the handle (which adds
/// and removes users and reads counters under the same lock, then wakes the loop). A
/// runtime loop sends every [`poll_request`](Self::poll_request), forwards every
/// [`poll_event`](Self::poll_event) without blocking ([`forward`](Self::forward)),
/// ends once [`stopped`](Self::stopped), and otherwise waits for a wake-up, an answer
/// or the [`deadline`](Self::deadline).
#[derive(Clone)]
pub(crate) struct Driver {
    engine: Arc<Mutex<FleetEngine>>,
    dropped: Arc<AtomicU64>,
}

impl Driver {
    pub(crate) fn engine(&self) -> MutexGuard<'_, FleetEngine> {
        // A panic while holding the lock cannot leave the engine half-updated in a way
        // reading it would make worse.
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn poll_request(&self, now: Instant) -> Option<Transmit<HeartbeatRequest>> {
        self.engine().poll_request(now)
    }

    /// Hands every pending event to `send`, which returns `false` when its buffer is
    /// full: those are counted as dropped.
    pub(crate) fn forward(&self, mut send: impl FnMut(FleetEvent) -> bool) {
        let mut engine = self.engine();
        while let Some(event) = engine.poll_event() {
            if !send(event) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.engine().poll_timeout()
    }

    pub(crate) fn stopped(&self) -> bool {
        self.engine().is_stopped()
    }

    pub(crate) fn response(&self, now: Instant, id: RequestId, result: crate::shared::Answer) {
        let mut engine = self.engine();
        match result {
            Ok(resp) => engine.handle_response(now, id, &resp),
            Err(failure) => engine.handle_failure(now, id, failure),
        }
    }

    pub(crate) fn timeout(&self, now: Instant) {
        self.engine().handle_timeout(now);
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The user-changing and reading methods both fleet handles share (each ends with
/// `self.wake()`, which has the loop look at the engine again).
macro_rules! fleet_inputs {
    () => {
        /// Adds a user, or updates the one with the same id (its channels, groups,
        /// state, timeout: it heartbeats the new set at once and leaves what it
        /// dropped). Invalid input (no channel or group, a state that is not a JSON
        /// object, a bad name) is an error and changes nothing. Returns whether the
        /// user is new; after `stop` adds are ignored.
        pub fn add(&self, user: presence_core::FleetUser) -> Result<bool, presence_core::Error> {
            let added = self.driver.engine().add(std::time::Instant::now(), user);
            self.wake();
            added
        }

        /// Removes a user with a leave (after any request of its in flight). Returns
        /// whether the fleet held it.
        pub fn remove(&self, user_id: &str) -> bool {
            self.remove_user(user_id, true)
        }

        /// Removes a user without a leave: it times out on the service.
        pub fn remove_without_leave(&self, user_id: &str) -> bool {
            self.remove_user(user_id, false)
        }

        fn remove_user(&self, user_id: &str, leave: bool) -> bool {
            let held = self
                .driver
                .engine()
                .remove(std::time::Instant::now(), user_id, leave);
            self.wake();
            held
        }

        /// The counters, as of now.
        pub fn stats(&self) -> presence_core::FleetStats {
            self.driver.engine().stats()
        }

        /// One user's status, if the fleet holds it.
        pub fn user(&self, user_id: &str) -> Option<presence_core::UserStatus> {
            self.driver.engine().user(user_id)
        }

        /// Events dropped because nobody read them (beyond
        /// [`EVENT_BUFFER`](crate::fleet::EVENT_BUFFER)).
        pub fn events_dropped(&self) -> u64 {
            self.driver.dropped()
        }
    };
}
pub(crate) use fleet_inputs;
