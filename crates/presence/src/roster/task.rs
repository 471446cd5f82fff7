//! The roster loop on a task of the client's runtime ([`crate::runtime`]), for the async
//! client.

use super::{item, roster_inputs, Command, Driver, RosterBuilder};
use crate::subscribe_loop::drive_task;
use crate::transport::AsyncTransport;
use crate::{Client, StartError};
use presence_core::{Failure, RosterChange, RosterEvent};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::mpsc;

/// A live roster on a task. Dropping it stops it.
///
/// As a [`futures_core::Stream`] (and through [`next_change`](Self::next_change)) it
/// yields `Ok` changes and, when the roster cannot go on (a 403, a 400), that failure
/// once as `Err`, then ends. [`next_event`](Self::next_event) also yields the sync
/// notices and the failures that are being retried.
pub struct RosterStream {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<RosterEvent>,
    /// Events read ahead by [`synced`](Self::synced), yielded first.
    ahead: VecDeque<RosterEvent>,
    driver: Driver,
}

impl std::fmt::Debug for RosterStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RosterStream").finish_non_exhaustive()
    }
}

impl<T: AsyncTransport> RosterBuilder<'_, Client<T>> {
    /// Starts the roster on a task. Fails without a runtime (the client's, or the
    /// current tokio runtime).
    pub fn start(self) -> Result<RosterStream, StartError> {
        let runtime = crate::runtime::resolve(self.client.inner.shared.runtime.as_ref())?;
        let driver = self.driver(self.client.inner.shared.random_u64(), Instant::now());
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let task = drive_task(
            self.client.clone(),
            runtime.clone(),
            driver.clone(),
            cmd_rx,
            ev_tx,
        );
        runtime.spawn(Box::pin(task));
        Ok(RosterStream {
            commands: cmd_tx,
            events: ev_rx,
            ahead: VecDeque::new(),
            driver,
        })
    }
}

impl<T: AsyncTransport> Client<T> {
    /// A live roster of channels and groups: `client.roster().channels([…]).start()`.
    pub fn roster(&self) -> RosterBuilder<'_, Self> {
        RosterBuilder::new(self)
    }
}

impl RosterStream {
    roster_inputs!();

    fn send(&self, cmd: Command) {
        let _ = self.commands.send(cmd);
    }

    async fn recv(&mut self) -> Option<RosterEvent> {
        match self.ahead.pop_front() {
            Some(event) => Some(event),
            None => self.events.recv().await,
        }
    }

    /// The next event of any kind; `None` once the roster ended.
    pub async fn next_event(&mut self) -> Option<RosterEvent> {
        self.recv().await
    }

    /// The next change, or the failure that ended the roster; `None` after it.
    pub async fn next_change(&mut self) -> Option<Result<RosterChange, Failure>> {
        loop {
            if let Some(item) = item(self.recv().await?) {
                return Some(item);
            }
        }
    }

    /// Waits until the roster is in sync (its first snapshot and the events since are
    /// applied); the failure if it ended first. Changes read meanwhile are kept for the
    /// stream.
    pub async fn synced(&mut self) -> Result<(), Failure> {
        if self.is_synced() {
            return Ok(());
        }
        loop {
            let Some(event) = self.events.recv().await else {
                return Err(super::ended());
            };
            match &event {
                RosterEvent::Synced => return Ok(()),
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

    /// Stops the roster: the loop sees the handle gone and ends, cancelling its
    /// requests (dropping the stream does the same).
    pub fn stop(self) {}
}

impl futures_core::Stream for RosterStream {
    type Item = Result<RosterChange, Failure>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        while let Some(event) = self.ahead.pop_front() {
            if let Some(item) = item(event) {
                return Poll::Ready(Some(item));
            }
        }
        loop {
            match self.events.poll_recv(cx) {
                Poll::Ready(Some(event)) => {
                    if let Some(item) = item(event) {
                        return Poll::Ready(Some(item));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
