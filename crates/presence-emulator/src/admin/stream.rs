//! `GET /_emulator/v1/stream`: the inspector's view as server-sent events. The first
//! `view` event is sent at once, the next whenever something changed (a presence
//! request was answered, an event generated, the clock moved, an admin change), at
//! most five a second; a `: keep-alive` comment every 15 s otherwise. The stream
//! ends when the client goes away or the emulator shuts down.

use super::view;
use crate::server::Shared;
use bytes::Bytes;
use hyper::body::{Body, Frame};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Shortest gap between two views (bursts of requests are coalesced).
const MIN_GAP: Duration = Duration::from_millis(200);
/// Longest wait before looking again without a wake-up (timeouts applied by the timer).
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// A comment after this long without a view, so proxies keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The body of a server-sent event stream, fed by a task.
#[derive(Debug)]
pub(crate) struct EventStream {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// What changes when the view may have: answered requests, generated events, admin
/// changes, the clock's offset and the fault rules (also set in-process).
fn change_key(shared: &Shared) -> (u64, u64, u64, u64, Vec<String>) {
    (
        shared.requests.total(),
        shared.read().events_generated(),
        shared.admin.changes.load(Ordering::Relaxed),
        shared.clock.offset_nanos.load(Ordering::SeqCst),
        shared
            .faults
            .list()
            .iter()
            .map(ToString::to_string)
            .collect(),
    )
}

/// Starts the task that feeds a new stream.
pub(crate) fn start(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) -> EventStream {
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    tokio::spawn(async move {
        let mut last = None;
        let mut quiet = Duration::ZERO;
        loop {
            let activity = shared.admin.activity.notified();
            tokio::pin!(activity);
            activity.as_mut().enable();
            let key = change_key(&shared);
            let frame = if last.as_ref() != Some(&key) {
                last = Some(key);
                quiet = Duration::ZERO;
                Some(format!(
                    "event: view\ndata: {}\n\n",
                    view::inspector(&shared)
                ))
            } else if quiet >= KEEP_ALIVE {
                quiet = Duration::ZERO;
                Some(": keep-alive\n\n".to_owned())
            } else {
                None
            };
            if let Some(frame) = frame {
                if tx.send(Bytes::from(frame)).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = &mut activity => {}
                _ = tokio::time::sleep(LOOK_EVERY) => quiet += LOOK_EVERY,
                _ = tx.closed() => return,
                _ = shutdown.wait_for(|s| *s) => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(MIN_GAP) => {}
                _ = tx.closed() => return,
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    });
    EventStream { rx }
}
