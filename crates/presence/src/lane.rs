//! The long-poll lane of the blocking loops (watcher, roster): one worker thread runs
//! their long-polls one at a time, on a transport [`detach`](BlockingTransport::detach)ed
//! for it, so that a superseded long-poll can be interrupted. A loop never has more
//! than one long-poll in flight and never leaves a thread behind.

use crate::blocking::Client;
use crate::shared::classify;
use crate::transport::{BlockingTransport, HttpResponse, Interrupt};
use crate::watch::LONG_POLL_TIMEOUT;
use crate::StartError;
use presence_core::{Failure, Operation, RequestId, Transmit};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// What the worker reports for each request: the outcome, or `None` when it skipped a
/// request cancelled before it started.
pub(crate) type Outcome = Option<Result<HttpResponse, Failure>>;

/// What the worker and the loop share.
#[derive(Default)]
struct Shared {
    /// Interrupts the detached transport in use (none: the transport cannot).
    interrupt: Option<Interrupt>,
    /// The request the worker is running.
    running: Option<RequestId>,
    /// A request cancelled before the worker started it.
    skip: Option<RequestId>,
    /// The detached transport was shut down: detach a new one before the next request.
    dead: bool,
}

/// A loop's long-poll lane (see the module docs).
pub(crate) struct LongPolls<O> {
    jobs: Option<mpsc::Sender<Transmit<O>>>,
    shared: Arc<Mutex<Shared>>,
    worker: Option<std::thread::JoinHandle<()>>,
    busy: bool,
    queued: Option<Transmit<O>>,
}

impl<O: Operation + 'static> LongPolls<O> {
    /// Starts the worker; `done` gets each outcome (and returns false when the loop is
    /// gone).
    pub(crate) fn start<T: BlockingTransport>(
        client: Client<T>,
        done: impl Fn(RequestId, Outcome) -> bool + Send + 'static,
    ) -> Result<Self, StartError> {
        let (jobs, job_rx) = mpsc::channel::<Transmit<O>>();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let lane = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("presence-long-poll".into())
            .spawn(move || work(&client, &job_rx, &done, &lane))
            .map_err(StartError::Thread)?;
        Ok(Self {
            jobs: Some(jobs),
            shared,
            worker: Some(worker),
            busy: false,
            queued: None,
        })
    }

    /// Whether a long-poll waits for the worker (the loop then asks for no other).
    pub(crate) fn is_queued(&self) -> bool {
        self.queued.is_some()
    }

    /// Runs `tx` as soon as the worker is free.
    pub(crate) fn send(&mut self, tx: Transmit<O>) {
        self.queued = Some(tx);
        self.dispatch();
    }

    fn dispatch(&mut self) {
        if self.busy {
            return;
        }
        if let (Some(tx), Some(jobs)) = (self.queued.take(), &self.jobs) {
            self.busy = jobs.send(tx).is_ok();
        }
    }

    /// The worker reported an outcome: it is free for the queued long-poll.
    pub(crate) fn done(&mut self) {
        self.busy = false;
        self.dispatch();
    }

    /// Cancels request `id`: dropped when queued, interrupted when running, skipped when
    /// the worker has not started it yet.
    pub(crate) fn cancel(&mut self, id: RequestId) {
        if self.queued.as_ref().is_some_and(|q| q.id == id) {
            self.queued = None;
            return;
        }
        let Ok(mut shared) = self.shared.lock() else {
            return;
        };
        if shared.running == Some(id) {
            if let Some(interrupt) = &shared.interrupt {
                interrupt.interrupt();
                shared.dead = true;
            }
        } else {
            shared.skip = Some(id);
        }
    }

    /// Ends the lane: the long-poll in flight is interrupted (when the transport can)
    /// and the worker ends once it returns.
    pub(crate) fn finish(mut self) {
        if let Ok(mut shared) = self.shared.lock() {
            if let (Some(_), Some(interrupt)) = (shared.running, &shared.interrupt) {
                interrupt.interrupt();
                shared.dead = true;
            }
        }
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The worker: runs each long-poll it is given, one at a time.
fn work<T: BlockingTransport, O: Operation>(
    client: &Client<T>,
    jobs: &mpsc::Receiver<Transmit<O>>,
    done: &dyn Fn(RequestId, Outcome) -> bool,
    lane: &Mutex<Shared>,
) {
    let mut detached: Option<T> = None;
    while let Ok(tx) = jobs.recv() {
        let Ok(mut shared) = lane.lock() else { return };
        if shared.skip.take() == Some(tx.id) {
            drop(shared);
            if !done(tx.id, None) {
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
        if !done(tx.id, Some(result)) {
            return;
        }
    }
}
