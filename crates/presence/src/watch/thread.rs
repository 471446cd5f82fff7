//! The watch loop on background threads, for the blocking client: one thread runs the
//! loop, one worker thread runs the long-polls, one at a time. A superseded long-poll
//! is interrupted through the transport's [`detach`](BlockingTransport::detach)ed lane,
//! so a watcher never has more than one request in flight and never leaves a thread
//! behind.

use super::{item, watch_inputs, Command, Driver, WatchBuilder, WatchEvent, LONG_POLL_TIMEOUT};
use crate::blocking::Client;
use crate::shared::classify;
use crate::transport::{BlockingTransport, Interrupt};
use crate::StartError;
use presence_core::{Failure, PresenceEvent, RequestId, Subscribe, Transmit};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the loop thread receives.
enum Msg {
    Command(Command),
    /// The worker finished request `id` (`None`: it skipped it, already cancelled).
    Done(RequestId, Option<Result<http::Response<Vec<u8>>, Failure>>),
    Stop,
}

/// Presence events on background threads: an iterator of `Result<PresenceEvent,
/// Failure>` that yields `Ok` events and, when the watch cannot go on (a 403, a 400),
/// that failure once as `Err`, then ends. Dropping it stops watching.
#[derive(Debug)]
pub struct Watcher {
    inbox: mpsc::Sender<MsgBox>,
    events: mpsc::Receiver<WatchEvent>,
    /// A terminal failure [`connected`](Self::connected) read, kept for the next item.
    pending: Option<Failure>,
}

/// Keeps `Msg` private while `Watcher` is `Debug`.
struct MsgBox(Msg);

impl std::fmt::Debug for MsgBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

/// The worker's long-poll lane, shared with the loop thread so it can interrupt it.
#[derive(Default)]
struct Lane {
    /// Interrupts the detached transport in use (none: the transport cannot).
    interrupt: Option<Interrupt>,
    /// The request the worker is running.
    running: Option<RequestId>,
    /// A request cancelled before the worker started it.
    skip: Option<RequestId>,
    /// The detached transport was shut down: detach a new one before the next request.
    dead: bool,
}

impl<T: BlockingTransport> WatchBuilder<'_, Client<T>> {
    /// Starts watching on background threads. Fails when a thread cannot be spawned.
    pub fn start(self) -> Result<Watcher, StartError> {
        let driver = self.driver(self.client.inner.shared.random_u64(), Instant::now());
        let (in_tx, in_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let (job_tx, job_rx) = mpsc::channel::<Transmit<Subscribe>>();
        let lane = Arc::new(Mutex::new(Lane::default()));
        let worker = {
            let (client, inbox, lane) = (self.client.clone(), in_tx.clone(), Arc::clone(&lane));
            std::thread::Builder::new()
                .name("presence-long-poll".into())
                .spawn(move || long_polls(&client, &job_rx, &inbox, &lane))
                .map_err(StartError::Thread)?
        };
        std::thread::Builder::new()
            .name("presence-watch".into())
            .spawn(move || {
                drive(driver, &in_rx, &ev_tx, &job_tx, &lane);
                // Whatever ended the loop, the long-poll in flight is no longer wanted;
                // closing the job channel then ends the worker.
                interrupt_running(&lane);
                drop(job_tx);
                let _ = worker.join();
            })
            .map_err(StartError::Thread)?;
        Ok(Watcher {
            inbox: in_tx,
            events: ev_rx,
            pending: None,
        })
    }
}

impl<T: BlockingTransport> Client<T> {
    /// Presence events for channels and groups on background threads.
    pub fn watch(&self) -> WatchBuilder<'_, Self> {
        WatchBuilder::new(self)
    }
}

/// The worker: runs each long-poll it is given on the lane, one at a time.
fn long_polls<T: BlockingTransport>(
    client: &Client<T>,
    jobs: &mpsc::Receiver<Transmit<Subscribe>>,
    inbox: &mpsc::Sender<MsgBox>,
    lane: &Mutex<Lane>,
) {
    let mut detached: Option<T> = None;
    while let Ok(tx) = jobs.recv() {
        let Ok(mut shared) = lane.lock() else { return };
        if shared.skip.take() == Some(tx.id) {
            drop(shared);
            if inbox.send(MsgBox(Msg::Done(tx.id, None))).is_err() {
                return;
            }
            continue;
        }
        if shared.dead || shared.interrupt.is_none() {
            shared.dead = false;
            match client.transport().detach() {
                Some((transport, interrupt)) => {
                    detached = Some(transport);
                    shared.interrupt = Some(interrupt);
                }
                None => detached = None,
            }
        }
        shared.running = Some(tx.id);
        drop(shared);
        let transport = detached.as_ref().unwrap_or(client.transport());
        let result = classify(client.send_on(transport, &tx.op, Some(LONG_POLL_TIMEOUT)));
        if let Ok(mut shared) = lane.lock() {
            shared.running = None;
        }
        if inbox.send(MsgBox(Msg::Done(tx.id, Some(result)))).is_err() {
            return;
        }
    }
}

/// Interrupts request `id` if the worker is running it, or marks it to be skipped.
fn cancel(lane: &Mutex<Lane>, id: RequestId) {
    let Ok(mut shared) = lane.lock() else { return };
    if shared.running == Some(id) {
        if let Some(interrupt) = &shared.interrupt {
            interrupt.interrupt();
            shared.dead = true;
        }
    } else {
        shared.skip = Some(id);
    }
}

/// Interrupts the long-poll the worker is running, if it can.
fn interrupt_running(lane: &Mutex<Lane>) {
    if let Ok(mut shared) = lane.lock() {
        if let (Some(_), Some(interrupt)) = (shared.running, &shared.interrupt) {
            interrupt.interrupt();
            shared.dead = true;
        }
    }
}

fn drive(
    mut driver: Driver,
    messages: &mpsc::Receiver<MsgBox>,
    events: &mpsc::Sender<WatchEvent>,
    jobs: &mpsc::Sender<Transmit<Subscribe>>,
    lane: &Mutex<Lane>,
) {
    // The request the worker holds, and the next one when it is still busy with a
    // superseded one: one in flight per watcher, at most.
    let mut worker_busy = false;
    let mut queued: Option<Transmit<Subscribe>> = None;
    loop {
        while let Some(id) = driver.poll_cancel() {
            if queued.as_ref().is_some_and(|q| q.id == id) {
                queued = None;
            } else {
                cancel(lane, id);
            }
            driver.cancelled(Instant::now(), id);
        }
        if queued.is_none() {
            queued = driver.poll_request(Instant::now());
        }
        if !worker_busy {
            if let Some(tx) = queued.take() {
                if jobs.send(tx).is_err() {
                    return;
                }
                worker_busy = true;
            }
        }
        while let Some(event) = driver.poll_event() {
            if events.send(event).is_err() {
                return;
            }
        }
        if driver.ended() {
            return;
        }
        let wait = driver
            .deadline()
            .map(|t| t.saturating_duration_since(Instant::now()));
        let received = match wait {
            Some(d) => messages.recv_timeout(d),
            None => messages.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(MsgBox(Msg::Command(cmd))) => driver.command(Instant::now(), cmd),
            Ok(MsgBox(Msg::Done(id, result))) => {
                worker_busy = false;
                if let Some(result) = result {
                    driver.response(Instant::now(), id, result);
                }
            }
            Ok(MsgBox(Msg::Stop)) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => driver.timeout(Instant::now()),
        }
    }
}

impl Watcher {
    watch_inputs!();

    fn send(&self, cmd: Command) {
        let _ = self.inbox.send(MsgBox(Msg::Command(cmd)));
    }

    /// The next event of any kind, waiting at most `timeout`; `None` on timeout or
    /// once the watch ended.
    pub fn next_event(&mut self, timeout: Duration) -> Option<WatchEvent> {
        if let Some(failure) = self.pending.take() {
            return Some(WatchEvent::Failed {
                failure,
                retry_in: None,
            });
        }
        self.events.recv_timeout(timeout).ok()
    }

    /// The next presence event or the failure that ended the watch, waiting at most
    /// `timeout` in all; `None` on timeout or after the end.
    pub fn next_presence(&mut self, timeout: Duration) -> Option<Result<PresenceEvent, Failure>> {
        if let Some(failure) = self.pending.take() {
            return Some(Err(failure));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(item) = item(self.events.recv_timeout(left).ok()?) {
                return Some(item);
            }
        }
    }

    /// Waits (at most `timeout`) until the handshake succeeded; false if the watch
    /// ended first (its failure is the next item) or on timeout.
    pub fn connected(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(WatchEvent::Connected) => return true,
                Ok(WatchEvent::Failed {
                    failure,
                    retry_in: None,
                }) => {
                    self.pending = Some(failure);
                    return false;
                }
                Err(_) => return false,
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
    type Item = Result<PresenceEvent, Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(failure) = self.pending.take() {
            return Some(Err(failure));
        }
        loop {
            if let Some(item) = item(self.events.recv().ok()?) {
                return Some(item);
            }
        }
    }
}
