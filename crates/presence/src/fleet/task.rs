//! The fleet loop on a task of the client's runtime ([`crate::runtime`]), for the async
//! client.

use super::{fleet_inputs, Driver, FleetBuilder, EVENT_BUFFER};
use crate::runtime::{spawn_request, InFlight, Runtime};
use crate::shared::classify;
use crate::transport::AsyncTransport;
use crate::{Client, StartError};
use presence_core::{FleetEvent, RequestId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Notify};

/// A running fleet on a task; its requests are tasks on the same runtime, sent
/// through the client's one connection pool. Dropping it stops the fleet with a leave
/// for every user (the task finishes them in the background).
pub struct Fleet {
    driver: Driver,
    wake: Arc<Notify>,
    events: mpsc::Receiver<FleetEvent>,
    /// Resolves when the loop has ended; `None` once waited for.
    ended: Option<oneshot::Receiver<()>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").finish_non_exhaustive()
    }
}

impl<T: AsyncTransport> FleetBuilder<'_, Client<T>> {
    /// Starts an empty fleet on a task; add users with [`Fleet::add`]. Fails without a
    /// runtime (the client's, or the current tokio runtime).
    pub fn start(self) -> Result<Fleet, StartError> {
        let runtime = crate::runtime::resolve(self.client.inner.shared.runtime.as_ref())?;
        let driver = self.driver(self.client.inner.shared.random_u64());
        let wake = Arc::new(Notify::new());
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_BUFFER);
        let (ended_tx, ended_rx) = oneshot::channel();
        let task = drive(
            self.client.clone(),
            runtime.clone(),
            driver.clone(),
            wake.clone(),
            ev_tx,
        );
        runtime.spawn(Box::pin(async move {
            task.await;
            let _ = ended_tx.send(());
        }));
        Ok(Fleet {
            driver,
            wake,
            events: ev_rx,
            ended: Some(ended_rx),
        })
    }
}

impl<T: AsyncTransport> Client<T> {
    /// Presence for many user ids from this client: `client.fleet().start()`, then
    /// `fleet.add(FleetUser::new(…).channels([…]))`.
    pub fn fleet(&self) -> FleetBuilder<'_, Self> {
        FleetBuilder::new(self)
    }
}

use crate::shared::Done;

async fn drive<T: AsyncTransport>(
    client: Client<T>,
    runtime: Arc<dyn Runtime>,
    driver: Driver,
    wake: Arc<Notify>,
    events: mpsc::Sender<FleetEvent>,
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
        driver.forward(|event| match events.try_send(event) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => true,
            Err(mpsc::error::TrySendError::Full(_)) => false,
        });
        if driver.stopped() {
            return;
        }
        let deadline = driver.deadline();
        tokio::select! {
            () = wake.notified() => {}
            Some((id, result)) = done_rx.recv() => {
                in_flight.remove(&id);
                driver.response(Instant::now(), id, result);
                // Take every answer that is already in before looking again.
                while let Ok((id, result)) = done_rx.try_recv() {
                    in_flight.remove(&id);
                    driver.response(Instant::now(), id, result);
                }
            }
            () = crate::runtime::sleep_until(&*runtime, deadline), if deadline.is_some() => {
                driver.timeout(Instant::now());
            }
        }
    }
}

impl Fleet {
    fleet_inputs!();

    fn wake(&self) {
        self.wake.notify_one();
    }

    /// The next event; `None` once the fleet stopped and every event was read.
    pub async fn next_event(&mut self) -> Option<FleetEvent> {
        self.events.recv().await
    }

    /// The next event if one is ready, without waiting.
    pub fn try_event(&mut self) -> Option<FleetEvent> {
        self.events.try_recv().ok()
    }

    /// Removes every user with a leave and waits until the leaves are answered.
    pub async fn stop(self) {
        self.finish(true).await;
    }

    /// Stops without leaves (the users time out on the service), and waits for the
    /// requests in flight.
    pub async fn stop_without_leave(self) {
        self.finish(false).await;
    }

    async fn finish(mut self, leave: bool) {
        self.driver.engine().stop(Instant::now(), leave);
        self.wake();
        if let Some(ended) = self.ended.take() {
            let _ = ended.await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if self.ended.is_some() {
            self.driver.engine().stop(Instant::now(), true);
            self.wake();
        }
    }
}
