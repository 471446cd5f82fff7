//! The watch loop on background threads, for the blocking client: one thread runs the
//! loop, the long-poll lane ([`crate::lane`]) runs the long-polls, one at a time, and
//! interrupts a superseded one, so a watcher never has more than one request in flight
//! and never leaves a thread behind.

use super::{item, watch_inputs, Command, WatchBuilder, WatchEvent};
use crate::blocking::Client;
use crate::lane::LongPolls;
use crate::subscribe_loop::{drive_thread, Msg, MsgBox};
use crate::transport::BlockingTransport;
use crate::StartError;
use presence_core::{Failure, PresenceEvent, Subscribe};
use std::sync::mpsc::{self};
use std::time::{Duration, Instant};

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

impl<T: BlockingTransport> WatchBuilder<'_, Client<T>> {
    /// Starts watching on background threads. Fails when a thread cannot be spawned.
    pub fn start(self) -> Result<Watcher, StartError> {
        let driver = self.driver(self.client.inner.shared.random_u64(), Instant::now());
        let (in_tx, in_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let inbox = in_tx.clone();
        let lane = LongPolls::<Subscribe>::start(self.client.clone(), move |id, outcome| {
            inbox.send(MsgBox(Msg::Done(id, outcome))).is_ok()
        })?;
        let client = self.client.clone();
        std::thread::Builder::new()
            .name("presence-watch".into())
            .spawn(move || {
                let (mut lane, mut driver) = (lane, driver);
                drive_thread(&client, &mut driver, &in_rx, &ev_tx, &mut lane);
                // Whatever ended the loop, the long-poll in flight is no longer wanted.
                lane.finish();
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
