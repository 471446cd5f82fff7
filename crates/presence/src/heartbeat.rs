//! Heartbeat without subscription: keep a user present on channels and groups until told
//! otherwise (Go's `Presence().Connected(true)`), on a tokio task ([`PresenceHandle`]) or a
//! background thread ([`blocking::PresenceHandle`]).
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start(presence_emulator::EmulatorConfig::default()).await?;
//! let client = presence::Client::builder().subscribe_key("demo").user_id("ann").origin(emulator.origin()).build()?;
//! let mut handle = client.presence().channels(["lobby"]).state(serde_json::json!({"mood": "ok"})).timeout(60).connected(true);
//! assert!(matches!(handle.next_event().await, Some(presence::heartbeat::HeartbeatEvent::StateChanged(_))));
//! // … the user stays present while the handle lives …
//! handle.stop().await; // sends a leave; `connected(false)` would stop without one (Go)
//! # emulator.shutdown().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "hyper"))] fn main() {}
//! ```

use crate::shared::{classify, collect};
use crate::transport::{AsyncTransport, BlockingTransport};
use crate::Client;
use presence_core::engine::heartbeat::{HeartbeatConfig, HeartbeatEngine, HeartbeatRequest};
use presence_core::engine::{Failure, RequestId};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

pub use presence_core::engine::heartbeat::{HeartbeatEvent, HeartbeatState};

/// Settings for a heartbeat handle; finish with `connected(true)`.
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

    /// Channels to stay present on.
    pub fn channels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, channels: I) -> Self {
        self.channels.extend(channels.into_iter().map(Into::into));
        self
    }

    /// Channel groups to stay present on.
    pub fn channel_groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// State (a JSON object) sent with every heartbeat for every channel and group.
    pub fn state(mut self, state: Value) -> Self {
        self.state = Some(state);
        self
    }

    /// Presence timeout in seconds (at least 20, default 300); the interval is
    /// `timeout / 2 - 1` unless set.
    pub fn timeout(mut self, seconds: u32) -> Self {
        let interval = self.config.interval;
        self.config = HeartbeatConfig {
            interval,
            ..HeartbeatConfig::new(seconds)
        };
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

    fn engine(&self, seed: u64) -> HeartbeatEngine {
        let mut config = self.config.clone();
        config.jitter_seed = seed;
        let mut engine = HeartbeatEngine::new(config);
        let now = Instant::now();
        engine.join(
            now,
            self.channels.iter().cloned(),
            self.groups.iter().cloned(),
        );
        if let Some(state) = &self.state {
            engine.set_state_all(state.clone());
        }
        engine
    }
}

#[derive(Debug)]
pub(crate) enum Command {
    Join(Vec<String>, Vec<String>),
    Left(Vec<String>, Vec<String>),
    State(Option<String>, Value),
    Connected(bool),
    Stop(bool, Option<oneshot::Sender<()>>),
}

/// Applies a user command to the engine; returns whether the driver should finish.
fn apply(
    engine: &mut HeartbeatEngine,
    now: Instant,
    cmd: Command,
) -> Option<Option<oneshot::Sender<()>>> {
    match cmd {
        Command::Join(c, g) => engine.join(now, c, g),
        Command::Left(c, g) => engine.left(now, c, g),
        Command::State(Some(name), v) => engine.set_state(name, v),
        Command::State(None, v) => engine.set_state_all(v),
        Command::Connected(true) => engine.reconnect(now),
        Command::Connected(false) => engine.pause(),
        Command::Stop(leave, ack) => {
            if leave {
                engine.left_all();
            } else {
                engine.pause();
            }
            return Some(ack);
        }
    }
    None
}

fn feed(
    engine: &mut HeartbeatEngine,
    now: Instant,
    id: RequestId,
    result: Result<http::Response<Vec<u8>>, Failure>,
) {
    match result {
        Ok(resp) => engine.handle_response(now, id, &resp),
        Err(failure) => engine.handle_failure(now, id, failure),
    }
}

/// The input methods both handles share; `$send` forwards a [`Command`].
macro_rules! handle_inputs {
    () => {
        /// Adds channels and groups (heartbeats at once with the union).
        pub fn join<C, G, S, U>(&self, channels: C, groups: G)
        where
            C: IntoIterator<Item = S>,
            G: IntoIterator<Item = U>,
            S: Into<String>,
            U: Into<String>,
        {
            self.send(Command::Join(collect(channels), collect(groups)));
        }

        /// Removes channels and groups, sending a leave for them.
        pub fn left<C, G, S, U>(&self, channels: C, groups: G)
        where
            C: IntoIterator<Item = S>,
            G: IntoIterator<Item = U>,
            S: Into<String>,
            U: Into<String>,
        {
            self.send(Command::Left(collect(channels), collect(groups)));
        }

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

/// A running heartbeat loop on a tokio task. Dropping it ends the loop (with a leave
/// unless `leave_on_drop(false)`).
#[derive(Debug)]
pub struct PresenceHandle {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<HeartbeatEvent>,
    state: watch::Receiver<HeartbeatState>,
    leave_on_drop: bool,
}

impl<T: AsyncTransport> PresenceBuilder<'_, Client<T>> {
    /// `true` starts heartbeating at once and keeps it up (needs a tokio runtime);
    /// `false` returns a handle that is not heartbeating until `connected(true)`.
    pub fn connected(self, connected: bool) -> PresenceHandle {
        let mut engine = self.engine(self.client.inner.shared.random_u64());
        if !connected {
            engine.pause();
        }
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(engine.state());
        tokio::spawn(drive(
            self.client.clone(),
            engine,
            cmd_rx,
            ev_tx,
            state_tx,
            self.leave_on_drop,
        ));
        PresenceHandle {
            commands: cmd_tx,
            events: ev_rx,
            state: state_rx,
            leave_on_drop: self.leave_on_drop,
        }
    }
}

impl<T: AsyncTransport> Client<T> {
    /// Heartbeat without subscription: `client.presence().channels([…]).state(…).connected(true)`.
    pub fn presence(&self) -> PresenceBuilder<'_, Self> {
        PresenceBuilder::new(self)
    }
}

async fn drive<T: AsyncTransport>(
    client: Client<T>,
    mut engine: HeartbeatEngine,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<HeartbeatEvent>,
    state: watch::Sender<HeartbeatState>,
    leave_on_drop: bool,
) {
    let (done_tx, mut done_rx) =
        mpsc::unbounded_channel::<(RequestId, Result<http::Response<Vec<u8>>, Failure>)>();
    let mut in_flight: HashMap<RequestId, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut finishing: Option<Option<oneshot::Sender<()>>> = None;
    loop {
        let now = Instant::now();
        while let Some(tx) = engine.poll_request(now) {
            let (client, done) = (client.clone(), done_tx.clone());
            let id = tx.id;
            in_flight.insert(
                id,
                tokio::spawn(async move {
                    let result = classify(client.send_op(&tx.op, None).await);
                    let _ = done.send((id, result));
                }),
            );
        }
        while let Some(event) = engine.poll_event() {
            let _ = events.send(event);
        }
        state.send_replace(engine.state());
        if finishing.is_some() && in_flight.is_empty() {
            break;
        }
        let deadline = engine.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            cmd = commands.recv(), if finishing.is_none() => match cmd {
                Some(cmd) => finishing = apply(&mut engine, Instant::now(), cmd),
                None => finishing = apply(&mut engine, Instant::now(), Command::Stop(leave_on_drop, None)),
            },
            Some((id, result)) = done_rx.recv() => {
                in_flight.remove(&id);
                feed(&mut engine, Instant::now(), id, result);
            }
            _ = sleep_until(deadline), if deadline.is_some() => engine.handle_timeout(Instant::now()),
        }
    }
    if let Some(Some(ack)) = finishing {
        let _ = ack.send(());
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl PresenceHandle {
    handle_inputs!();

    fn send(&self, cmd: Command) {
        let _ = self.commands.send(cmd);
    }

    /// The engine's current state.
    pub fn state(&self) -> HeartbeatState {
        *self.state.borrow()
    }

    /// The next event (successes, failures, state changes); `None` once the loop ended.
    pub async fn next_event(&mut self) -> Option<HeartbeatEvent> {
        self.events.recv().await
    }

    /// Ends the loop after sending a leave for everything, and waits for it.
    pub async fn stop(self) {
        self.finish(true).await;
    }

    /// Ends the loop without a leave (the user times out later), and waits for it.
    pub async fn stop_without_leave(self) {
        self.finish(false).await;
    }

    async fn finish(self, leave: bool) {
        let (ack_tx, ack_rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Stop(leave, Some(ack_tx)))
            .is_ok()
        {
            let _ = ack_rx.await;
        }
    }

    /// Whether the handle will leave when dropped.
    pub fn leaves_on_drop(&self) -> bool {
        self.leave_on_drop
    }
}

/// The same on a background thread, for the blocking client.
pub mod blocking {
    use super::*;
    use crate::blocking::Client;
    use std::sync::mpsc as std_mpsc;
    use std::sync::{Arc, Mutex};

    /// A running heartbeat loop on a background thread. Dropping it ends the loop (with a
    /// leave unless `leave_on_drop(false)`).
    #[derive(Debug)]
    pub struct PresenceHandle {
        commands: std_mpsc::Sender<Command>,
        events: std_mpsc::Receiver<HeartbeatEvent>,
        state: Arc<Mutex<HeartbeatState>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl<T: BlockingTransport> PresenceBuilder<'_, Client<T>> {
        /// `true` starts heartbeating at once on a background thread; `false` returns a
        /// handle that is not heartbeating until `connected(true)`.
        pub fn connected(self, connected: bool) -> PresenceHandle {
            let mut engine = self.engine(self.client.inner.shared.random_u64());
            if !connected {
                engine.pause();
            }
            let (cmd_tx, cmd_rx) = std_mpsc::channel();
            let (ev_tx, ev_rx) = std_mpsc::channel();
            let state = Arc::new(Mutex::new(engine.state()));
            let (client, shared_state, leave_on_drop) =
                (self.client.clone(), Arc::clone(&state), self.leave_on_drop);
            let thread = std::thread::Builder::new()
                .name("presence-heartbeat".into())
                .spawn(move || drive(client, engine, cmd_rx, ev_tx, shared_state, leave_on_drop))
                .ok();
            PresenceHandle {
                commands: cmd_tx,
                events: ev_rx,
                state,
                thread,
            }
        }
    }

    impl<T: BlockingTransport> Client<T> {
        /// Heartbeat without subscription on a background thread.
        pub fn presence(&self) -> PresenceBuilder<'_, Self> {
            PresenceBuilder::new(self)
        }
    }

    fn drive<T: BlockingTransport>(
        client: Client<T>,
        mut engine: HeartbeatEngine,
        commands: std_mpsc::Receiver<Command>,
        events: std_mpsc::Sender<HeartbeatEvent>,
        state: Arc<Mutex<HeartbeatState>>,
        leave_on_drop: bool,
    ) {
        let mut finishing: Option<Option<oneshot::Sender<()>>> = None;
        loop {
            // Requests run inline: heartbeats and leaves are short and bounded by the
            // transport's timeout.
            while let Some(tx) = engine.poll_request(Instant::now()) {
                let result = classify(client.send_op::<HeartbeatRequest>(&tx.op, None));
                feed(&mut engine, Instant::now(), tx.id, result);
            }
            while let Some(event) = engine.poll_event() {
                let _ = events.send(event);
            }
            if let Ok(mut s) = state.lock() {
                *s = engine.state();
            }
            if finishing.is_some() {
                break;
            }
            let wait = engine
                .poll_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()));
            let received = match wait {
                Some(d) => commands.recv_timeout(d),
                None => commands
                    .recv()
                    .map_err(|_| std_mpsc::RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(cmd) => finishing = apply(&mut engine, Instant::now(), cmd),
                Err(std_mpsc::RecvTimeoutError::Timeout) => engine.handle_timeout(Instant::now()),
                Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                    finishing = apply(
                        &mut engine,
                        Instant::now(),
                        Command::Stop(leave_on_drop, None),
                    )
                }
            }
        }
        if let Some(Some(ack)) = finishing {
            let _ = ack.send(());
        }
    }

    impl PresenceHandle {
        handle_inputs!();

        fn send(&self, cmd: Command) {
            let _ = self.commands.send(cmd);
        }

        /// The engine's current state.
        pub fn state(&self) -> HeartbeatState {
            self.state
                .lock()
                .map(|s| *s)
                .unwrap_or(HeartbeatState::Stopped)
        }

        /// The next event, waiting at most `timeout`.
        pub fn next_event(&self, timeout: Duration) -> Option<HeartbeatEvent> {
            self.events.recv_timeout(timeout).ok()
        }

        /// Ends the loop after sending a leave for everything, and waits for the thread.
        pub fn stop(mut self) {
            self.finish(true);
        }

        /// Ends the loop without a leave, and waits for the thread.
        pub fn stop_without_leave(mut self) {
            self.finish(false);
        }

        fn finish(&mut self, leave: bool) {
            let _ = self.commands.send(Command::Stop(leave, None));
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
