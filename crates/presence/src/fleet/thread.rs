//! The fleet loop on background threads, for the blocking client: one thread runs the
//! engine, `max_in_flight` worker threads (at most [`MAX_WORKERS`]) send its requests.

use super::{fleet_inputs, Driver, FleetBuilder, EVENT_BUFFER, MAX_WORKERS};
use crate::blocking::Client;
use crate::shared::classify;
use crate::transport::BlockingTransport;
use crate::StartError;
use presence_core::{FleetEvent, HeartbeatRequest, RequestId, Transmit};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the loop thread receives.
enum Msg {
    Wake,
    Done(RequestId, crate::shared::Answer),
}

/// A running fleet on background threads. Dropping it stops the fleet with a leave for
/// every user, and waits for them (as [`stop`](Self::stop) does).
pub struct Fleet {
    driver: Driver,
    inbox: mpsc::Sender<Msg>,
    events: mpsc::Receiver<FleetEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").finish_non_exhaustive()
    }
}

impl<T: BlockingTransport> FleetBuilder<'_, Client<T>> {
    /// Starts an empty fleet: a loop thread and `max_in_flight` workers (at most
    /// [`MAX_WORKERS`]). Fails when a thread cannot be spawned.
    pub fn start(self) -> Result<Fleet, StartError> {
        let driver = self.driver(self.client.inner.shared.random_u64());
        let workers = self.config.max_in_flight.clamp(1, MAX_WORKERS);
        let (in_tx, in_rx) = mpsc::channel();
        let (job_tx, job_rx) = mpsc::channel::<Transmit<HeartbeatRequest>>();
        let jobs = Arc::new(Mutex::new(job_rx));
        for i in 0..workers {
            let (client, jobs, inbox) = (self.client.clone(), jobs.clone(), in_tx.clone());
            std::thread::Builder::new()
                .name(format!("presence-fleet-{i}"))
                .spawn(move || work(&client, &jobs, &inbox))
                .map_err(StartError::Thread)?;
        }
        let (ev_tx, ev_rx) = mpsc::sync_channel(EVENT_BUFFER);
        let loop_driver = driver.clone();
        let thread = std::thread::Builder::new()
            .name("presence-fleet".into())
            .spawn(move || drive(&loop_driver, &in_rx, &job_tx, &ev_tx))
            .map_err(StartError::Thread)?;
        Ok(Fleet {
            driver,
            inbox: in_tx,
            events: ev_rx,
            thread: Some(thread),
        })
    }
}

impl<T: BlockingTransport> Client<T> {
    /// Presence for many user ids from this client, on background threads.
    pub fn fleet(&self) -> FleetBuilder<'_, Self> {
        FleetBuilder::new(self)
    }
}

/// A worker: sends jobs until the loop is gone.
fn work<T: BlockingTransport>(
    client: &Client<T>,
    jobs: &Mutex<mpsc::Receiver<Transmit<HeartbeatRequest>>>,
    inbox: &mpsc::Sender<Msg>,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(tx) = job else { return };
        let result = classify(client.send_op(&tx.op, None));
        if inbox.send(Msg::Done(tx.id, result)).is_err() {
            return;
        }
    }
}

fn drive(
    driver: &Driver,
    inbox: &mpsc::Receiver<Msg>,
    jobs: &mpsc::Sender<Transmit<HeartbeatRequest>>,
    events: &mpsc::SyncSender<FleetEvent>,
) {
    loop {
        while let Some(tx) = driver.poll_request(Instant::now()) {
            if jobs.send(tx).is_err() {
                return;
            }
        }
        driver.forward(|event| match events.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => true,
            Err(TrySendError::Full(_)) => false,
        });
        if driver.stopped() {
            return;
        }
        let wait = driver
            .deadline()
            .map(|t| t.saturating_duration_since(Instant::now()));
        let received = match wait {
            Some(d) => inbox.recv_timeout(d),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(Msg::Wake) => {}
            Ok(Msg::Done(id, result)) => driver.response(Instant::now(), id, result),
            Err(RecvTimeoutError::Timeout) => driver.timeout(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Fleet {
    fleet_inputs!();

    fn wake(&self) {
        let _ = self.inbox.send(Msg::Wake);
    }

    /// The next event, waiting at most `timeout`; `None` when none came (or the fleet
    /// stopped and every event was read).
    pub fn next_event(&mut self, timeout: Duration) -> Option<FleetEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The next event if one is ready, without waiting.
    pub fn try_event(&mut self) -> Option<FleetEvent> {
        self.events.try_recv().ok()
    }

    /// Removes every user with a leave and waits until the leaves are answered.
    pub fn stop(self) {}

    /// Stops without leaves (the users time out on the service), and waits for the
    /// requests in flight.
    pub fn stop_without_leave(mut self) {
        self.finish(false);
    }

    fn finish(&mut self, leave: bool) {
        if let Some(thread) = self.thread.take() {
            self.driver.engine().stop(Instant::now(), leave);
            self.wake();
            let _ = thread.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.finish(true);
    }
}
