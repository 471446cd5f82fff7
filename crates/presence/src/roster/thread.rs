//! The roster loop on background threads, for the blocking client: one thread runs the
//! loop and the snapshot's pages (short requests, bounded by the transport's timeout),
//! the long-poll lane ([`crate::lane`]) runs the subscribe long-polls.

use super::{item, roster_inputs, Command, Driver, RosterBuilder};
use crate::blocking::Client;
use crate::lane::LongPolls;
use crate::subscribe_loop::{drive_thread, Msg, MsgBox};
use crate::transport::BlockingTransport;
use crate::StartError;
use presence_core::{Failure, RosterChange, RosterEvent, RosterRequest};
use std::collections::VecDeque;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A live roster on background threads: an iterator of `Result<RosterChange, Failure>`
/// that yields `Ok` changes and, when the roster cannot go on (a 403, a 400), that
/// failure once as `Err`, then ends. Dropping it stops it.
pub struct Roster {
    inbox: mpsc::Sender<MsgBox>,
    events: mpsc::Receiver<RosterEvent>,
    ahead: VecDeque<RosterEvent>,
    driver: Driver,
}

impl std::fmt::Debug for Roster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roster").finish_non_exhaustive()
    }
}

impl<T: BlockingTransport> RosterBuilder<'_, Client<T>> {
    /// Starts the roster on background threads. Fails when a thread cannot be spawned.
    pub fn start(self) -> Result<Roster, StartError> {
        let driver = self.driver(self.client.inner.shared.random_u64(), Instant::now());
        let (in_tx, in_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let inbox = in_tx.clone();
        let lane = LongPolls::<RosterRequest>::start(self.client.clone(), move |id, outcome| {
            inbox.send(MsgBox(Msg::Done(id, outcome))).is_ok()
        })?;
        let (client, mut loop_driver) = (self.client.clone(), driver.clone());
        std::thread::Builder::new()
            .name("presence-roster".into())
            .spawn(move || {
                let mut lane = lane;
                drive_thread(&client, &mut loop_driver, &in_rx, &ev_tx, &mut lane);
                lane.finish();
            })
            .map_err(StartError::Thread)?;
        Ok(Roster {
            inbox: in_tx,
            events: ev_rx,
            ahead: VecDeque::new(),
            driver,
        })
    }
}

impl<T: BlockingTransport> Client<T> {
    /// A live roster of channels and groups on background threads.
    pub fn roster(&self) -> RosterBuilder<'_, Self> {
        RosterBuilder::new(self)
    }
}

impl Roster {
    roster_inputs!();

    fn send(&self, cmd: Command) {
        let _ = self.inbox.send(MsgBox(Msg::Command(cmd)));
    }

    fn recv(&mut self, timeout: Duration) -> Option<RosterEvent> {
        match self.ahead.pop_front() {
            Some(event) => Some(event),
            None => self.events.recv_timeout(timeout).ok(),
        }
    }

    /// The next event of any kind, waiting at most `timeout`; `None` on timeout or once
    /// the roster ended.
    pub fn next_event(&mut self, timeout: Duration) -> Option<RosterEvent> {
        self.recv(timeout)
    }

    /// The next change or the failure that ended the roster, waiting at most `timeout`
    /// in all; `None` on timeout or after the end.
    pub fn next_change(&mut self, timeout: Duration) -> Option<Result<RosterChange, Failure>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(item) = item(self.recv(left)?) {
                return Some(item);
            }
        }
    }

    /// Waits (at most `timeout`) until the roster is in sync; `Ok(false)` on timeout,
    /// the failure if it ended first. Changes read meanwhile are kept for the iterator.
    pub fn synced(&mut self, timeout: Duration) -> Result<bool, Failure> {
        if self.is_synced() {
            return Ok(true);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match self.events.recv_timeout(left) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => return Ok(false),
                Err(RecvTimeoutError::Disconnected) => return Err(super::ended()),
            };
            match &event {
                RosterEvent::Synced => return Ok(true),
                RosterEvent::Failed {
                    failure,
                    retry_in: None,
                } => {
                    let failure = failure.clone();
                    self.ahead.push_back(event);
                    return Err(failure);
                }
                _ => self.ahead.push_back(event),
            }
        }
    }

    /// Stops the roster.
    pub fn stop(self) {}
}

impl Drop for Roster {
    fn drop(&mut self) {
        let _ = self.inbox.send(MsgBox(Msg::Stop));
    }
}

impl Iterator for Roster {
    type Item = Result<RosterChange, Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let event = match self.ahead.pop_front() {
                Some(event) => event,
                None => self.events.recv().ok()?,
            };
            if let Some(item) = item(event) {
                return Some(item);
            }
        }
    }
}
