//! The fleet loop on a tokio task, for the async client.

use super::{fleet_inputs, Driver, FleetBuilder, EVENT_BUFFER};
use crate::shared::classify;
use crate::transport::AsyncTransport;
use crate::{Client, StartError};
use presence_core::{Failure, FleetEvent, RequestId};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

/// A running fleet on a tokio task; its requests are tasks on the same runtime, sent
/// through the client's one connection pool. Dropping it stops the fleet with a leave
/// for every user (the task finishes them in the background).
pub struct Fleet {
    driver: Driver,
    wake: Arc<Notify>,
    events: mpsc::Receiver<FleetEvent>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").finish_non_exhaustive()
    }
}

impl<T: AsyncTransport> FleetBuilder<'_, Client<T>> {
    /// Starts an empty fleet on a tokio task; add users with [`Fleet::add`]. Fails
    /// outside a Tokio runtime.
    pub fn start(self) -> Result<Fleet, StartError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let driver = self.driver(self.client.inner.shared.random_u64());
        let wake = Arc::new(Notify::new());
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_BUFFER);
        let task = runtime.spawn(drive(
            self.client.clone(),
            driver.clone(),
            wake.clone(),
            ev_tx,
        ));
        Ok(Fleet {
            driver,
            wake,
            events: ev_rx,
            task: Some(task),
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

type Done = (RequestId, Result<http::Response<Vec<u8>>, Failure>);

async fn drive<T: AsyncTransport>(
    client: Client<T>,
    driver: Driver,
    wake: Arc<Notify>,
    events: mpsc::Sender<FleetEvent>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    loop {
        while let Some(tx) = driver.poll_request(Instant::now()) {
            let (client, done) = (client.clone(), done_tx.clone());
            tokio::spawn(async move {
                let result = classify(client.send_op(&tx.op, None).await);
                let _ = done.send((tx.id, result));
            });
        }
        driver.forward(|event| match events.try_send(event) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => true,
            Err(mpsc::error::TrySendError::Full(_)) => false,
        });
        if driver.stopped() {
            return;
        }
        let deadline = driver.deadline().map(tokio::time::Instant::from_std);
        tokio::select! {
            () = wake.notified() => {}
            Some((id, result)) = done_rx.recv() => {
                driver.response(Instant::now(), id, result);
                // Take every answer that is already in before looking again.
                while let Ok((id, result)) = done_rx.try_recv() {
                    driver.response(Instant::now(), id, result);
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => driver.timeout(Instant::now()),
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
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
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.driver.engine().stop(Instant::now(), true);
            self.wake();
        }
    }
}
