//! Presence events: watch channels and groups and receive [`PresenceEvent`]s, as a
//! [`futures_core::Stream`] ([`PresenceStream`]) or, for the blocking client, an iterator
//! ([`blocking::Watcher`](crate::blocking::Watcher)). Both drive
//! [`presence_core::WatchEngine`] with the loop body of this module: a handshake, then
//! long-polls on `<channel>-pnpres` with the cursor kept across reconnects; duplicates
//! are dropped. A watcher is an observer: it subscribes only to presence channels and
//! never heartbeats, so it is never counted as an occupant.
//!
//! Both yield `Result<PresenceEvent, Failure>`: transient failures are retried with
//! backoff (see `next_event` for them), and a failure that retrying cannot fix (a 403,
//! a 400), or the last one when the engine gives up (more than 3 consecutive failures
//! spanning 5 minutes, [`WatchEvent::GaveUp`]), is yielded once as `Err`, after which
//! the stream or iterator ends. Requests keep the engine's floors: at most one a
//! second against an origin that answers every long-poll at once with nothing.
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start(presence_emulator::EmulatorConfig::default()).await?;
//! let watcher = presence::Client::builder().subscribe_key("demo").user_id("w").origin(emulator.origin()).build()?;
//! let ann = presence::Client::builder().subscribe_key("demo").user_id("ann").origin(emulator.origin()).build()?;
//! let mut events = watcher.watch().channels(["lobby"]).start()?;
//! events.connected().await;
//! ann.heartbeat().channels(["lobby"]).execute().await?;
//! match events.next_presence().await {
//!     Some(Ok(presence::PresenceEvent::Join(join))) => assert_eq!(join.user_id, "ann"),
//!     other => panic!("{other:?}"),
//! }
//! # emulator.shutdown().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "hyper"))] fn main() {}
//! ```

#[cfg(feature = "async-loops")]
mod task;

pub(crate) mod thread;

use crate::subscribe_loop::SubscribeDriver;
use presence_core::{
    Failure, PresenceEvent, RequestId, Subscribe, Transmit, WatchConfig, WatchEngine, WatchState,
};
use std::time::{Duration, Instant};

#[cfg(feature = "async-loops")]
pub use self::task::PresenceStream;
pub use presence_core::WatchEvent;

/// How long one long-poll may take: the service answers within 280 s (PROTOCOL.md §7.1;
/// the official SDKs wait 310 s).
pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(310);

/// What to watch; finish with `start()`.
#[derive(Debug)]
#[must_use = "nothing happens until `start()`"]
pub struct WatchBuilder<'c, C> {
    client: &'c C,
    channels: Vec<String>,
    groups: Vec<String>,
    config: WatchConfig,
}

impl<'c, C> WatchBuilder<'c, C> {
    pub(crate) fn new(client: &'c C) -> Self {
        Self {
            client,
            channels: Vec::new(),
            groups: Vec::new(),
            config: WatchConfig::default(),
        }
    }

    crate::shared::target_setters!(
        channels: "Channels whose presence events to receive.",
        groups: "Channel groups whose presence events to receive."
    );

    /// Reconnect backoff: first delay and cap.
    pub fn retry(mut self, base: Duration, cap: Duration) -> Self {
        self.config.retry_base = base;
        self.config.retry_cap = cap;
        self
    }

    fn driver(&self, seed: u64, now: Instant) -> Driver {
        let mut config = self.config.clone();
        config.jitter_seed = seed;
        let mut engine = WatchEngine::new(config);
        engine.add(
            now,
            self.channels.iter().cloned(),
            self.groups.iter().cloned(),
        );
        Driver { engine }
    }
}

pub(crate) use crate::subscribe_loop::Command;

/// The watch engine as [`crate::subscribe_loop`] drives it.
pub(crate) struct Driver {
    engine: WatchEngine,
}

impl SubscribeDriver for Driver {
    type Op = Subscribe;
    type Event = WatchEvent;

    fn poll_cancel(&mut self) -> Option<RequestId> {
        self.engine.poll_cancel()
    }

    fn cancelled(&mut self, now: Instant, id: RequestId) {
        self.engine.handle_cancelled(now, id);
    }

    fn poll_request(&mut self, now: Instant) -> Option<Transmit<Subscribe>> {
        self.engine.poll_request(now)
    }

    fn is_long_poll(_: &Subscribe) -> bool {
        true
    }

    fn poll_event(&mut self) -> Option<WatchEvent> {
        self.engine.poll_event()
    }

    fn deadline(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }

    fn ended(&self) -> bool {
        self.engine.state() == WatchState::Stopped
    }

    fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Add(c, g) => self.engine.add(now, c, g),
            Command::Remove(c, g) => self.engine.remove(now, c, g),
        }
    }

    fn response(&mut self, now: Instant, id: RequestId, result: crate::shared::Answer) {
        match result {
            Ok(resp) => self.engine.handle_response(now, id, &resp),
            Err(failure) => self.engine.handle_failure(now, id, failure),
        }
    }

    fn timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
    }
}

/// What a watch event is to the stream and the iterator: a presence event, the terminal
/// failure, or nothing (connection notices and retried failures, logged at debug).
pub(crate) fn item(event: WatchEvent) -> Option<Result<PresenceEvent, Failure>> {
    match event {
        WatchEvent::Presence(e) => Some(Ok(e)),
        WatchEvent::Failed {
            failure,
            retry_in: None,
        } => Some(Err(failure)),
        other => {
            tracing::debug!(event = ?other, "watch event");
            None
        }
    }
}

/// The channel-changing methods both watchers share; `self.send(Command)` forwards one.
macro_rules! watch_inputs {
    () => {
        crate::shared::lists_input!(
            /// Adds channels and groups (the long-poll restarts from the same cursor).
            add => Command::Add
        );

        crate::shared::lists_input!(
            /// Removes channels and groups.
            remove => Command::Remove
        );
    };
}
pub(crate) use watch_inputs;
