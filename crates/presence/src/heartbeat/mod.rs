//! Heartbeat without subscription: keep a user present on channels and groups until told
//! otherwise (Go's `Presence().Connected(true)`), on an async task ([`PresenceHandle`]) or a
//! background thread ([`blocking::PresenceHandle`](crate::blocking::PresenceHandle)).
//! Both drive [`presence_core::HeartbeatEngine`] with the loop body of this module; the
//! runtime files (`task.rs` on the client's [`Runtime`](crate::runtime::Runtime), `thread.rs`) only wait and send.
//!
//! Failed heartbeats are retried with backoff, at most one heartbeat a second; after
//! more than 3 consecutive failures spanning the presence timeout the handle gives up
//! ([`HeartbeatEvent::Failed`] with `retry_in: None`, then [`HeartbeatEvent::GaveUp`])
//! and sends nothing until `connected(true)`, `join` or `left`.
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start(presence_emulator::EmulatorConfig::default()).await?;
//! let client = presence::Client::builder().subscribe_key("demo").user_id("ann").origin(emulator.origin()).build()?;
//! let mut handle = client
//!     .presence()
//!     .channels(["lobby"])
//!     .state(serde_json::json!({"mood": "ok"}))
//!     .timeout(60)
//!     .connected(true)?;
//! assert!(matches!(handle.next_event().await, Some(presence::heartbeat::HeartbeatEvent::StateChanged(_))));
//! // … the user stays present while the handle lives …
//! handle.stop().await; // sends a leave; `connected(false)` would stop without one (Go)
//! # emulator.shutdown().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "hyper"))] fn main() {}
//! ```

#[cfg(feature = "async-loops")]
mod task;

pub(crate) mod thread;

use presence_core::{
    HeartbeatConfig, HeartbeatEngine, HeartbeatRequest, RequestId, Transmit, MIN_PRESENCE_TIMEOUT,
};
use serde_json::Value;
use std::time::{Duration, Instant};

#[cfg(feature = "async-loops")]
pub use self::task::PresenceHandle;
pub use presence_core::{HeartbeatEvent, HeartbeatState};

/// Settings for a heartbeat handle; finish with `connected(true)`. The setters may come
/// in any order.
#[derive(Debug)]
#[must_use = "nothing happens until `connected(true)`"]
pub struct PresenceBuilder<'c, C> {
    client: &'c C,
    channels: Vec<String>,
    groups: Vec<String>,
    state: Option<Value>,
    config: HeartbeatConfig,
    leave_on_drop: bool,
}

impl<'c, C> PresenceBuilder<'c, C> {
    pub(crate) fn new(client: &'c C) -> Self {
        Self {
            client,
            channels: Vec::new(),
            groups: Vec::new(),
            state: None,
            config: HeartbeatConfig::default(),
            leave_on_drop: true,
        }
    }

    crate::shared::target_setters!(
        channels: "Channels to stay present on.",
        groups: "Channel groups to stay present on."
    );

    /// State (a JSON object) sent with every heartbeat for every channel and group.
    pub fn state(mut self, state: Value) -> Self {
        self.state = Some(state);
        self
    }

    /// Presence timeout in seconds (at least 20, default 300); the interval is
    /// `timeout / 2 - 1` unless set with [`interval`](Self::interval).
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.config.timeout = seconds.max(MIN_PRESENCE_TIMEOUT);
        self
    }

    /// Time between heartbeats.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.config.interval = Some(interval);
        self
    }

    /// Never send leave requests.
    pub fn suppress_leave(mut self, yes: bool) -> Self {
        self.config.suppress_leave = yes;
        self
    }

    /// Send a leave when the handle is dropped (default true).
    pub fn leave_on_drop(mut self, yes: bool) -> Self {
        self.leave_on_drop = yes;
        self
    }

    /// The engine settings the handle will run with.
    pub fn heartbeat_config(&self) -> &HeartbeatConfig {
        &self.config
    }

    /// The loop body for these settings, started at `now` (paused unless `connected`).
    fn driver(&self, seed: u64, connected: bool, now: Instant) -> Driver {
        let mut config = self.config.clone();
        config.jitter_seed = seed;
        let mut engine = HeartbeatEngine::new(config);
        engine.join(
            now,
            self.channels.iter().cloned(),
            self.groups.iter().cloned(),
        );
        if let Some(state) = &self.state {
            engine.set_state_all(now, state.clone());
        }
        if !connected {
            engine.pause(now);
        }
        Driver {
            engine,
            leave_on_drop: self.leave_on_drop,
            ack: None,
            finishing: false,
        }
    }
}

/// Run when a stop has been carried out (the async handle's `stop().await` waits on it).
pub(crate) type Ack = Box<dyn FnOnce() + Send>;

/// What a handle asks of its loop.
pub(crate) enum Command {
    Join(Vec<String>, Vec<String>),
    Left(Vec<String>, Vec<String>),
    State(Option<String>, Value),
    Connected(bool),
    Stop { leave: bool, ack: Option<Ack> },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Join(..) => "Join",
            Command::Left(..) => "Left",
            Command::State(..) => "State",
            Command::Connected(_) => "Connected",
            Command::Stop { .. } => "Stop",
        })
    }
}

/// The loop body both runtimes share: the engine, what the handle asked, and when the
/// loop is done. A runtime loop sends every [`poll_request`](Self::poll_request),
/// forwards every [`poll_event`](Self::poll_event), ends once
/// [`done`](Self::done), and otherwise waits for a command, a response or the
/// [`deadline`](Self::deadline).
pub(crate) struct Driver {
    engine: HeartbeatEngine,
    leave_on_drop: bool,
    ack: Option<Ack>,
    finishing: bool,
}

impl Driver {
    pub(crate) fn poll_request(&mut self, now: Instant) -> Option<Transmit<HeartbeatRequest>> {
        self.engine.poll_request(now)
    }

    pub(crate) fn poll_event(&mut self) -> Option<HeartbeatEvent> {
        self.engine.poll_event()
    }

    pub(crate) fn state(&self) -> HeartbeatState {
        self.engine.state()
    }

    /// When [`timeout`](Self::timeout) is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }

    /// Whether commands are still taken (not once a stop is under way).
    #[cfg(feature = "async-loops")]
    pub(crate) fn accepts_commands(&self) -> bool {
        !self.finishing
    }

    /// Whether the loop can end: stopped, with nothing left in flight on the runtime.
    pub(crate) fn done(&self, requests_in_flight: bool) -> bool {
        self.finishing && !requests_in_flight
    }

    /// A command, or `None` when every handle is gone (a stop, with a leave unless
    /// `leave_on_drop(false)`).
    pub(crate) fn command(&mut self, now: Instant, command: Option<Command>) {
        let command = command.unwrap_or(Command::Stop {
            leave: self.leave_on_drop,
            ack: None,
        });
        match command {
            Command::Join(c, g) => self.engine.join(now, c, g),
            Command::Left(c, g) => self.engine.left(now, c, g),
            Command::State(Some(name), v) => self.engine.set_state(now, name, v),
            Command::State(None, v) => self.engine.set_state_all(now, v),
            Command::Connected(true) => self.engine.reconnect(now),
            Command::Connected(false) => self.engine.pause(now),
            Command::Stop { leave, ack } => {
                if leave {
                    self.engine.left_all(now);
                } else {
                    self.engine.pause(now);
                }
                self.ack = ack;
                self.finishing = true;
            }
        }
    }

    /// The outcome of request `id`.
    pub(crate) fn response(&mut self, now: Instant, id: RequestId, result: crate::shared::Answer) {
        match result {
            Ok(resp) => self.engine.handle_response(now, id, &resp),
            Err(failure) => self.engine.handle_failure(now, id, failure),
        }
    }

    pub(crate) fn timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
    }

    /// Ends the loop: acknowledges the stop.
    pub(crate) fn finish(self) {
        if let Some(ack) = self.ack {
            ack();
        }
    }
}

/// The input methods both handles share; `self.send(Command)` forwards one.
macro_rules! handle_inputs {
    () => {
        crate::shared::lists_input!(
            /// Adds channels and groups (heartbeats at once with the union).
            join => Command::Join
        );

        crate::shared::lists_input!(
            /// Removes channels and groups, sending a leave for them.
            left => Command::Left
        );

        /// Sets the state (a JSON object) sent for every channel and group.
        pub fn set_state(&self, state: Value) {
            self.send(Command::State(None, state));
        }

        /// Sets the state sent for one channel or group.
        pub fn set_channel_state(&self, name: impl Into<String>, state: Value) {
            self.send(Command::State(Some(name.into()), state));
        }

        /// `false` stops heartbeating without a leave (Go's `Connected(false)`); `true`
        /// resumes at once.
        pub fn connected(&self, connected: bool) {
            self.send(Command::Connected(connected));
        }
    };
}
pub(crate) use handle_inputs;

#[cfg(test)]
mod tests {
    use super::*;

    /// A builder whose client is a unit: only its settings matter here.
    fn builder() -> PresenceBuilder<'static, ()> {
        PresenceBuilder::new(&())
    }

    /// Regression (issue 11): `timeout` used to rebuild the whole engine config, so
    /// `suppress_leave(true).timeout(60)` lost the suppress-leave setting.
    #[test]
    fn setters_in_any_order_give_the_same_config() {
        let a = builder()
            .suppress_leave(true)
            .interval(Duration::from_secs(7))
            .timeout(60);
        let b = builder()
            .timeout(60)
            .suppress_leave(true)
            .interval(Duration::from_secs(7));
        let c = builder()
            .interval(Duration::from_secs(7))
            .timeout(60)
            .suppress_leave(true);
        for built in [&a, &b, &c] {
            let config = built.heartbeat_config();
            assert!(config.suppress_leave, "{config:?}");
            assert_eq!(config.timeout, 60);
            assert_eq!(config.interval(), Duration::from_secs(7));
        }
        assert_eq!(a.heartbeat_config(), b.heartbeat_config());
        assert_eq!(b.heartbeat_config(), c.heartbeat_config());
        assert_eq!(builder().timeout(5).heartbeat_config().timeout, 20);
    }

    /// Issue 16: a handle built with no settings heartbeats (every `timeout / 2 - 1`
    /// s) and leaves (on stop and on drop), unlike the SDKs whose defaults silently
    /// never heartbeat or never leave.
    #[test]
    fn the_default_handle_heartbeats_and_leaves() {
        let b = builder();
        let config = b.heartbeat_config();
        assert!(config.heartbeats_enabled());
        assert!(!config.suppress_leave);
        assert_eq!(config.interval(), Duration::from_secs(149));
        assert!(b.leave_on_drop);
    }
}
