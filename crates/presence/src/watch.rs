//! Presence events: watch channels and groups and receive [`PresenceEvent`]s as a
//! [`futures_core::Stream`] ([`PresenceStream`]) or, for the blocking client, an iterator
//! ([`blocking::Watcher`]). Driven by [`presence_core::engine::watch::WatchEngine`]: a
//! handshake, then long-polls on `<channel>-pnpres` with the cursor kept across
//! reconnects; duplicates are dropped.
//!
//! ```
//! # #[cfg(feature = "hyper")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start(presence_emulator::EmulatorConfig::default()).await?;
//! let watcher = presence::Client::builder().subscribe_key("demo").user_id("w").origin(emulator.origin()).build()?;
//! let ann = presence::Client::builder().subscribe_key("demo").user_id("ann").origin(emulator.origin()).build()?;
//! let mut events = watcher.watch().channels(["lobby"]).start();
//! events.connected().await;
//! ann.heartbeat().channels(["lobby"]).execute().await?;
//! match events.next_presence().await {
//!     Some(presence::PresenceEvent::Join(join)) => assert_eq!(join.user_id, "ann"),
//!     other => panic!("{other:?}"),
//! }
//! # emulator.shutdown().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "hyper"))] fn main() {}
//! ```

use crate::shared::{classify, collect};
use crate::transport::{AsyncTransport, BlockingTransport};
use crate::Client;
use presence_core::engine::watch::{WatchConfig, WatchEngine};
use presence_core::engine::{Failure, RequestId};
use presence_core::PresenceEvent;
use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use presence_core::engine::watch::{WatchEvent, WatchState};

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
    fn new(client: &'c C) -> Self {
        Self {
            client,
            channels: Vec::new(),
            groups: Vec::new(),
            config: WatchConfig::default(),
        }
    }

    /// Channels whose presence events to receive.
    pub fn channels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, channels: I) -> Self {
        self.channels.extend(channels.into_iter().map(Into::into));
        self
    }

    /// Channel groups whose presence events to receive.
    pub fn channel_groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// Reconnect backoff: first delay and cap.
    pub fn retry(mut self, base: Duration, cap: Duration) -> Self {
        self.config.retry_base = base;
        self.config.retry_cap = cap;
        self
    }

    fn engine(&self, seed: u64) -> WatchEngine {
        let mut config = self.config.clone();
        config.jitter_seed = seed;
        let mut engine = WatchEngine::new(config);
        engine.add(self.channels.iter().cloned(), self.groups.iter().cloned());
        engine
    }
}

enum Command {
    Add(Vec<String>, Vec<String>),
    Remove(Vec<String>, Vec<String>),
}

fn apply(engine: &mut WatchEngine, cmd: Command) {
    match cmd {
        Command::Add(c, g) => engine.add(c, g),
        Command::Remove(c, g) => engine.remove(c, g),
    }
}

fn feed(engine: &mut WatchEngine, id: RequestId, result: Result<http::Response<Vec<u8>>, Failure>) {
    match result {
        Ok(resp) => engine.handle_response(Instant::now(), id, &resp),
        Err(failure) => engine.handle_failure(Instant::now(), id, failure),
    }
}

/// A stream of presence events on a tokio task. Dropping it stops watching.
///
/// As a [`futures_core::Stream`] it yields [`PresenceEvent`]s only; [`next_event`]
/// also yields connection events and failures.
///
/// [`next_event`]: PresenceStream::next_event
#[derive(Debug)]
pub struct PresenceStream {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<WatchEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Add(..) => "Add",
            Command::Remove(..) => "Remove",
        })
    }
}

impl<T: AsyncTransport> WatchBuilder<'_, Client<T>> {
    /// Starts watching on a tokio task.
    pub fn start(self) -> PresenceStream {
        let engine = self.engine(self.client.inner.shared.random_u64());
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(drive(self.client.clone(), engine, cmd_rx, ev_tx));
        PresenceStream {
            commands: cmd_tx,
            events: ev_rx,
            task,
        }
    }
}

impl<T: AsyncTransport> Client<T> {
    /// Presence events for channels and groups: `client.watch().channels([…]).start()`.
    pub fn watch(&self) -> WatchBuilder<'_, Self> {
        WatchBuilder::new(self)
    }
}

async fn drive<T: AsyncTransport>(
    client: Client<T>,
    mut engine: WatchEngine,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<WatchEvent>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut in_flight: HashMap<RequestId, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        while let Some(id) = engine.poll_cancel() {
            if let Some(task) = in_flight.remove(&id) {
                task.abort();
            }
            engine.handle_cancelled(id);
        }
        while let Some(tx) = engine.poll_request(Instant::now()) {
            let (client, done) = (client.clone(), done_tx.clone());
            let id = tx.id;
            in_flight.insert(
                id,
                tokio::spawn(async move {
                    let result = classify(client.send_op(&tx.op, Some(LONG_POLL_TIMEOUT)).await);
                    let _ = done.send((id, result));
                }),
            );
        }
        while let Some(event) = engine.poll_event() {
            if events.send(event).is_err() {
                return;
            }
        }
        let deadline = engine.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(cmd) => apply(&mut engine, cmd),
                None => break,
            },
            Some((id, result)) = done_rx.recv() => {
                in_flight.remove(&id);
                feed(&mut engine, id, result);
            }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } }, if deadline.is_some() => {
                engine.handle_timeout(Instant::now());
            }
            _ = events.closed() => break,
        }
    }
    for (_, task) in in_flight {
        task.abort();
    }
}

impl PresenceStream {
    /// Adds channels and groups (the long-poll restarts from the same cursor).
    pub fn add<C, G, S, U>(&self, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = U>,
        S: Into<String>,
        U: Into<String>,
    {
        let _ = self
            .commands
            .send(Command::Add(collect(channels), collect(groups)));
    }

    /// Removes channels and groups.
    pub fn remove<C, G, S, U>(&self, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = U>,
        S: Into<String>,
        U: Into<String>,
    {
        let _ = self
            .commands
            .send(Command::Remove(collect(channels), collect(groups)));
    }

    /// The next event of any kind; `None` once stopped.
    pub async fn next_event(&mut self) -> Option<WatchEvent> {
        self.events.recv().await
    }

    /// The next presence event, skipping connection events and failures.
    pub async fn next_presence(&mut self) -> Option<PresenceEvent> {
        loop {
            match self.events.recv().await? {
                WatchEvent::Presence(e) => return Some(e),
                other => tracing::debug!(event = ?other, "watch event"),
            }
        }
    }

    /// Waits until the handshake succeeded (so later events are not missed); returns
    /// false if the watch stopped first. Presence events received meanwhile are kept.
    pub async fn connected(&mut self) -> bool {
        // Events before `Connected` can only be failures: the handshake carries none.
        loop {
            match self.events.recv().await {
                Some(WatchEvent::Connected) => return true,
                Some(WatchEvent::Failed { retry_in: None, .. }) | None => return false,
                Some(_) => {}
            }
        }
    }

    /// Stops watching.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for PresenceStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl futures_core::Stream for PresenceStream {
    type Item = PresenceEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PresenceEvent>> {
        loop {
            match self.events.poll_recv(cx) {
                Poll::Ready(Some(WatchEvent::Presence(e))) => return Poll::Ready(Some(e)),
                Poll::Ready(Some(other)) => tracing::debug!(event = ?other, "watch event"),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The same on a background thread, for the blocking client.
pub mod blocking {
    use super::*;
    use crate::blocking::Client;
    use std::sync::mpsc as std_mpsc;

    enum Msg {
        Cmd(Command),
        Done(RequestId, Result<http::Response<Vec<u8>>, Failure>),
        Stop,
    }

    /// Presence events on a background thread: an iterator of [`PresenceEvent`]s.
    /// Dropping it stops watching.
    #[derive(Debug)]
    pub struct Watcher {
        inbox: std_mpsc::Sender<MsgBox>,
        events: std_mpsc::Receiver<WatchEvent>,
    }

    /// Opaque message wrapper (keeps `Msg` private while `Watcher` is `Debug`).
    struct MsgBox(Msg);

    impl std::fmt::Debug for MsgBox {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Msg")
        }
    }

    impl<T: BlockingTransport> WatchBuilder<'_, Client<T>> {
        /// Starts watching on a background thread.
        pub fn start(self) -> Watcher {
            let engine = self.engine(self.client.inner.shared.random_u64());
            let (in_tx, in_rx) = std_mpsc::channel();
            let (ev_tx, ev_rx) = std_mpsc::channel();
            let (client, inbox) = (self.client.clone(), in_tx.clone());
            let _ = std::thread::Builder::new()
                .name("presence-watch".into())
                .spawn(move || drive(client, engine, inbox, in_rx, ev_tx));
            Watcher {
                inbox: in_tx,
                events: ev_rx,
            }
        }
    }

    impl<T: BlockingTransport> Client<T> {
        /// Presence events for channels and groups on a background thread.
        pub fn watch(&self) -> WatchBuilder<'_, Self> {
            WatchBuilder::new(self)
        }
    }

    fn drive<T: BlockingTransport>(
        client: Client<T>,
        mut engine: WatchEngine,
        inbox: std_mpsc::Sender<MsgBox>,
        messages: std_mpsc::Receiver<MsgBox>,
        events: std_mpsc::Sender<WatchEvent>,
    ) {
        loop {
            // A blocking long-poll cannot be aborted: a superseded one runs out on its
            // own thread and its result is ignored by the engine.
            while let Some(id) = engine.poll_cancel() {
                engine.handle_cancelled(id);
            }
            while let Some(tx) = engine.poll_request(Instant::now()) {
                let (client, inbox) = (client.clone(), inbox.clone());
                let _ = std::thread::Builder::new()
                    .name("presence-long-poll".into())
                    .spawn(move || {
                        let result = classify(client.send_op(&tx.op, Some(LONG_POLL_TIMEOUT)));
                        let _ = inbox.send(MsgBox(Msg::Done(tx.id, result)));
                    });
            }
            while let Some(event) = engine.poll_event() {
                if events.send(event).is_err() {
                    return;
                }
            }
            let wait = engine
                .poll_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()));
            let received = match wait {
                Some(d) => messages.recv_timeout(d),
                None => messages
                    .recv()
                    .map_err(|_| std_mpsc::RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(MsgBox(Msg::Cmd(cmd))) => apply(&mut engine, cmd),
                Ok(MsgBox(Msg::Done(id, result))) => feed(&mut engine, id, result),
                Ok(MsgBox(Msg::Stop)) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                Err(std_mpsc::RecvTimeoutError::Timeout) => engine.handle_timeout(Instant::now()),
            }
        }
    }

    impl Watcher {
        /// Adds channels and groups.
        pub fn add<C, G, S, U>(&self, channels: C, groups: G)
        where
            C: IntoIterator<Item = S>,
            G: IntoIterator<Item = U>,
            S: Into<String>,
            U: Into<String>,
        {
            let _ = self.inbox.send(MsgBox(Msg::Cmd(Command::Add(
                collect(channels),
                collect(groups),
            ))));
        }

        /// Removes channels and groups.
        pub fn remove<C, G, S, U>(&self, channels: C, groups: G)
        where
            C: IntoIterator<Item = S>,
            G: IntoIterator<Item = U>,
            S: Into<String>,
            U: Into<String>,
        {
            let _ = self.inbox.send(MsgBox(Msg::Cmd(Command::Remove(
                collect(channels),
                collect(groups),
            ))));
        }

        /// The next event of any kind, waiting at most `timeout`.
        pub fn next_event(&self, timeout: Duration) -> Option<WatchEvent> {
            self.events.recv_timeout(timeout).ok()
        }

        /// The next presence event, waiting at most `timeout` in all.
        pub fn next_presence(&self, timeout: Duration) -> Option<PresenceEvent> {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.events.recv_timeout(left).ok()? {
                    WatchEvent::Presence(e) => return Some(e),
                    other => tracing::debug!(event = ?other, "watch event"),
                }
            }
        }

        /// Waits (at most `timeout`) until the handshake succeeded.
        pub fn connected(&self, timeout: Duration) -> bool {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.events.recv_timeout(left) {
                    Ok(WatchEvent::Connected) => return true,
                    Ok(WatchEvent::Failed { retry_in: None, .. }) | Err(_) => return false,
                    Ok(_) => {}
                }
            }
        }

        /// Stops watching.
        pub fn stop(self) {}
    }

    impl Drop for Watcher {
        fn drop(&mut self) {
            let _ = self.inbox.send(MsgBox(Msg::Stop));
        }
    }

    impl Iterator for Watcher {
        type Item = PresenceEvent;

        fn next(&mut self) -> Option<PresenceEvent> {
            loop {
                match self.events.recv().ok()? {
                    WatchEvent::Presence(e) => return Some(e),
                    other => tracing::debug!(event = ?other, "watch event"),
                }
            }
        }
    }
}
