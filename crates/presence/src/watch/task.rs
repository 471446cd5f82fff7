//! The watch loop on a task of the client's runtime ([`crate::runtime`]), for the async
//! client.

use super::{item, watch_inputs, Command, WatchBuilder, WatchEvent};
use crate::subscribe_loop::drive_task;
use crate::transport::AsyncTransport;
use crate::{Client, StartError};
use presence_core::{Failure, PresenceEvent};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::mpsc;

/// Presence events on a task. Dropping it stops watching.
///
/// As a [`futures_core::Stream`] (and through
/// [`next_presence`](Self::next_presence)) it yields `Ok` presence events and, when
/// the watch cannot go on (a 403, a 400), that failure once as `Err`, then ends.
/// [`next_event`](Self::next_event) also yields connection notices and the failures
/// that are being retried.
#[derive(Debug)]
pub struct PresenceStream {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<WatchEvent>,
    /// A terminal failure [`connected`](Self::connected) read, kept for the next item.
    pending: Option<Failure>,
}

impl<T: AsyncTransport> WatchBuilder<'_, Client<T>> {
    /// Starts watching on a task. Fails without a runtime (the client's, or the current
    /// tokio runtime).
    pub fn start(self) -> Result<PresenceStream, StartError> {
        let runtime = crate::runtime::resolve(self.client.inner.shared.runtime.as_ref())?;
        let driver = self.driver(self.client.inner.shared.random_u64(), Instant::now());
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let task = drive_task(self.client.clone(), runtime.clone(), driver, cmd_rx, ev_tx);
        runtime.spawn(Box::pin(task));
        Ok(PresenceStream {
            commands: cmd_tx,
            events: ev_rx,
            pending: None,
        })
    }
}

impl<T: AsyncTransport> Client<T> {
    /// Presence events for channels and groups: `client.watch().channels([…]).start()`.
    pub fn watch(&self) -> WatchBuilder<'_, Self> {
        WatchBuilder::new(self)
    }
}

impl PresenceStream {
    watch_inputs!();

    fn send(&self, cmd: Command) {
        let _ = self.commands.send(cmd);
    }

    /// The next event of any kind; `None` once the watch ended.
    pub async fn next_event(&mut self) -> Option<WatchEvent> {
        if let Some(failure) = self.pending.take() {
            return Some(WatchEvent::Failed {
                failure,
                retry_in: None,
            });
        }
        self.events.recv().await
    }

    /// The next presence event, or the failure that ended the watch; `None` after it.
    pub async fn next_presence(&mut self) -> Option<Result<PresenceEvent, Failure>> {
        if let Some(failure) = self.pending.take() {
            return Some(Err(failure));
        }
        loop {
            if let Some(item) = item(self.events.recv().await?) {
                return Some(item);
            }
        }
    }

    /// Waits until the handshake succeeded (so later events are not missed); false if
    /// the watch ended first, whose failure the next item then yields. Presence events
    /// received meanwhile are kept.
    pub async fn connected(&mut self) -> bool {
        // Events before `Connected` can only be failures: the handshake carries none.
        loop {
            match self.events.recv().await {
                Some(WatchEvent::Connected) => return true,
                Some(WatchEvent::Failed {
                    failure,
                    retry_in: None,
                }) => {
                    self.pending = Some(failure);
                    return false;
                }
                None => return false,
                Some(_) => {}
            }
        }
    }

    /// Stops watching: the loop sees the handle gone and ends, cancelling its
    /// long-poll (dropping the stream does the same).
    pub fn stop(self) {}
}

impl futures_core::Stream for PresenceStream {
    type Item = Result<PresenceEvent, Failure>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(failure) = self.pending.take() {
            return Poll::Ready(Some(Err(failure)));
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
