//! The heartbeat loop on a task of the client's runtime ([`crate::runtime`]), for the
//! async client.

use super::{handle_inputs, Command, Driver, HeartbeatEvent, HeartbeatState, PresenceBuilder};
use crate::runtime::{spawn_request, InFlight, Runtime};
use crate::shared::classify;
use crate::transport::AsyncTransport;
use crate::{Client, StartError};
use presence_core::RequestId;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

/// A running heartbeat loop on a task. Dropping it ends the loop (with a leave
/// unless `leave_on_drop(false)`).
#[derive(Debug)]
pub struct PresenceHandle {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<HeartbeatEvent>,
    state: watch::Receiver<HeartbeatState>,
    leave_on_drop: bool,
}

impl<T: AsyncTransport> PresenceBuilder<'_, Client<T>> {
    /// `true` starts heartbeating at once and keeps it up on a tokio task; `false`
    /// returns a handle that is not heartbeating until `connected(true)`. Fails without
    /// a runtime (the client's, or the current tokio runtime).
    pub fn connected(self, connected: bool) -> Result<PresenceHandle, StartError> {
        let runtime = crate::runtime::resolve(self.client.inner.shared.runtime.as_ref())?;
        let driver = self.driver(
            self.client.inner.shared.random_u64(),
            connected,
            Instant::now(),
        );
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(driver.state());
        let task = drive(
            self.client.clone(),
            runtime.clone(),
            driver,
            cmd_rx,
            ev_tx,
            state_tx,
        );
        runtime.spawn(Box::pin(task));
        Ok(PresenceHandle {
            commands: cmd_tx,
            events: ev_rx,
            state: state_rx,
            leave_on_drop: self.leave_on_drop,
        })
    }
}

impl<T: AsyncTransport> Client<T> {
    /// Heartbeat without subscription: `client.presence().channels([…]).state(…).connected(true)`.
    pub fn presence(&self) -> PresenceBuilder<'_, Self> {
        PresenceBuilder::new(self)
    }
}

use crate::shared::Done;

async fn drive<T: AsyncTransport>(
    client: Client<T>,
    runtime: Arc<dyn Runtime>,
    mut driver: Driver,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<HeartbeatEvent>,
    state: watch::Sender<HeartbeatState>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut in_flight: HashMap<RequestId, InFlight> = HashMap::new();
    loop {
        while let Some(tx) = driver.poll_request(Instant::now()) {
            let client = client.clone();
            let id = tx.id;
            let request = async move { classify(client.send_op(&tx.op, None).await) };
            in_flight.insert(id, spawn_request(&*runtime, id, request, done_tx.clone()));
        }
        while let Some(event) = driver.poll_event() {
            let _ = events.send(event);
        }
        state.send_replace(driver.state());
        if driver.done(!in_flight.is_empty()) {
            break;
        }
        let deadline = driver.deadline();
        tokio::select! {
            cmd = commands.recv(), if driver.accepts_commands() => driver.command(Instant::now(), cmd),
            Some((id, result)) = done_rx.recv() => {
                in_flight.remove(&id);
                driver.response(Instant::now(), id, result);
            }
            () = crate::runtime::sleep_until(&*runtime, deadline), if deadline.is_some() => {
                driver.timeout(Instant::now());
            }
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
        let ack = Box::new(move || {
            let _ = ack_tx.send(());
        });
        if self
            .commands
            .send(Command::Stop {
                leave,
                ack: Some(ack),
            })
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
