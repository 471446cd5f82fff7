//! The heartbeat loop on a background thread, for the blocking client.

use super::{handle_inputs, Command, Driver, HeartbeatEvent, HeartbeatState, PresenceBuilder};
use crate::blocking::Client;
use crate::shared::classify;
use crate::transport::BlockingTransport;
use crate::StartError;
use serde_json::Value;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running heartbeat loop on a background thread. Dropping it ends the loop (with a
/// leave unless `leave_on_drop(false)`).
#[derive(Debug)]
pub struct PresenceHandle {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<HeartbeatEvent>,
    state: Arc<Mutex<HeartbeatState>>,
    thread: Option<std::thread::JoinHandle<()>>,
    leave_on_drop: bool,
}

impl<T: BlockingTransport> PresenceBuilder<'_, Client<T>> {
    /// `true` starts heartbeating at once on a background thread; `false` returns a
    /// handle that is not heartbeating until `connected(true)`. Fails when the thread
    /// cannot be spawned.
    pub fn connected(self, connected: bool) -> Result<PresenceHandle, StartError> {
        let driver = self.driver(
            self.client.inner.shared.random_u64(),
            connected,
            Instant::now(),
        );
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let state = Arc::new(Mutex::new(driver.state()));
        let (client, shared_state) = (self.client.clone(), Arc::clone(&state));
        let thread = std::thread::Builder::new()
            .name("presence-heartbeat".into())
            .spawn(move || drive(client, driver, cmd_rx, ev_tx, shared_state))
            .map_err(StartError::Thread)?;
        Ok(PresenceHandle {
            commands: cmd_tx,
            events: ev_rx,
            state,
            thread: Some(thread),
            leave_on_drop: self.leave_on_drop,
        })
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
    mut driver: Driver,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<HeartbeatEvent>,
    state: Arc<Mutex<HeartbeatState>>,
) {
    loop {
        // Requests run inline: heartbeats and leaves are short and bounded by the
        // transport's timeout.
        while let Some(tx) = driver.poll_request(Instant::now()) {
            let result = classify(client.send_op(&tx.op, None));
            driver.response(Instant::now(), tx.id, result);
        }
        while let Some(event) = driver.poll_event() {
            let _ = events.send(event);
        }
        if let Ok(mut s) = state.lock() {
            *s = driver.state();
        }
        if driver.done(false) {
            break;
        }
        let wait = driver
            .deadline()
            .map(|t| t.saturating_duration_since(Instant::now()));
        let received = match wait {
            Some(d) => commands.recv_timeout(d),
            None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(cmd) => driver.command(Instant::now(), Some(cmd)),
            Err(RecvTimeoutError::Timeout) => driver.timeout(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => driver.command(Instant::now(), None),
        }
    }
    driver.finish();
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
        let _ = self.commands.send(Command::Stop { leave, ack: None });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Whether the handle will leave when dropped.
    pub fn leaves_on_drop(&self) -> bool {
        self.leave_on_drop
    }
}
