//! The loop of the engines that long-poll the subscribe endpoint (the watch and the
//! roster), written once for both runtimes: [`drive_task`] on a task of the client's
//! [`Runtime`](crate::runtime::Runtime), [`drive_thread`] on a thread with the long-poll
//! lane ([`crate::lane`]). Each engine's `Driver` says what it is through
//! [`SubscribeDriver`]; its handle's commands are [`Command`]s.

use crate::blocking;
use crate::lane::{LongPolls, Outcome};
use crate::shared::classify;
use crate::transport::BlockingTransport;
use presence_core::{Operation, RequestId, Transmit};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

/// What a watch or roster handle asks of its loop.
pub(crate) enum Command {
    Add(Vec<String>, Vec<String>),
    Remove(Vec<String>, Vec<String>),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Add(..) => "Add",
            Command::Remove(..) => "Remove",
        })
    }
}

/// An engine as its loop drives it. Each pass the loop drops every
/// [`poll_cancel`](Self::poll_cancel) (then reports it with
/// [`cancelled`](Self::cancelled)), sends every [`poll_request`](Self::poll_request)
/// (a long-poll with [`crate::watch::LONG_POLL_TIMEOUT`], anything else with the
/// transport's own), forwards every [`poll_event`](Self::poll_event), ends once
/// [`ended`](Self::ended), and otherwise waits for a command, a response or the
/// [`deadline`](Self::deadline); it calls [`stop`](Self::stop) when it ends.
pub(crate) trait SubscribeDriver {
    /// The engine's requests.
    type Op: Operation + Send + Sync + 'static;
    /// The engine's events.
    type Event;

    fn poll_cancel(&mut self) -> Option<RequestId>;
    fn cancelled(&mut self, now: Instant, id: RequestId);
    fn poll_request(&mut self, now: Instant) -> Option<Transmit<Self::Op>>;
    /// Whether `op` is a subscribe long-poll (the rest are short requests).
    fn is_long_poll(op: &Self::Op) -> bool;
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// When [`timeout`](Self::timeout) is due.
    fn deadline(&self) -> Option<Instant>;
    /// The engine can no longer make progress: a failure that retrying cannot fix
    /// stopped it (its `Failed` event is the last one).
    fn ended(&self) -> bool;
    fn command(&mut self, now: Instant, command: Command);
    /// The outcome of request `id`.
    fn response(&mut self, now: Instant, id: RequestId, result: crate::shared::Answer);
    fn timeout(&mut self, now: Instant);
    /// The loop ended (its handle is gone or the engine stopped).
    fn stop(&mut self, _now: Instant) {}
}

/// The loop on a task of `runtime`: requests on tasks of their own (dropping an entry of
/// the in-flight map cancels its request), events to `events` until it is closed.
#[cfg(feature = "async-loops")]
pub(crate) async fn drive_task<T, D>(
    client: crate::Client<T>,
    runtime: std::sync::Arc<dyn crate::runtime::Runtime>,
    mut driver: D,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
    events: tokio::sync::mpsc::UnboundedSender<D::Event>,
) where
    T: crate::transport::AsyncTransport,
    D: SubscribeDriver,
{
    use crate::runtime::{spawn_request, InFlight};
    use crate::watch::LONG_POLL_TIMEOUT;
    use std::collections::HashMap;

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut in_flight: HashMap<RequestId, InFlight> = HashMap::new();
    loop {
        while let Some(id) = driver.poll_cancel() {
            in_flight.remove(&id);
            driver.cancelled(Instant::now(), id);
        }
        while let Some(tx) = driver.poll_request(Instant::now()) {
            let client = client.clone();
            let id = tx.id;
            let timeout = D::is_long_poll(&tx.op).then_some(LONG_POLL_TIMEOUT);
            let request = async move { classify(client.send_op(&tx.op, timeout).await) };
            in_flight.insert(id, spawn_request(&*runtime, id, request, done_tx.clone()));
        }
        while let Some(event) = driver.poll_event() {
            if events.send(event).is_err() {
                break;
            }
        }
        if driver.ended() || events.is_closed() {
            break;
        }
        let deadline = driver.deadline();
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(cmd) => driver.command(Instant::now(), cmd),
                None => break,
            },
            Some((id, result)) = done_rx.recv() => {
                in_flight.remove(&id);
                driver.response(Instant::now(), id, result);
            }
            () = crate::runtime::sleep_until(&*runtime, deadline), if deadline.is_some() => {
                driver.timeout(Instant::now());
            }
            () = events.closed() => break,
        }
    }
    driver.stop(Instant::now());
    // Dropping `in_flight` cancels what is still out.
}

/// What a loop thread receives.
pub(crate) enum Msg {
    Command(Command),
    /// The long-poll worker finished request `id`.
    Done(RequestId, Outcome),
    Stop,
}

/// Keeps `Msg` private while the handles holding its sender are `Debug`.
pub(crate) struct MsgBox(pub(crate) Msg);

impl std::fmt::Debug for MsgBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

/// The loop on the calling thread: long-polls on `lane` (one at a time: while one waits
/// for the worker the loop asks for no other request), short requests sent inline
/// (bounded by the transport's timeout), events to `events` until it is closed. The
/// caller finishes the lane afterwards.
pub(crate) fn drive_thread<T, D>(
    client: &blocking::Client<T>,
    driver: &mut D,
    messages: &mpsc::Receiver<MsgBox>,
    events: &mpsc::Sender<D::Event>,
    lane: &mut LongPolls<D::Op>,
) where
    T: BlockingTransport,
    D: SubscribeDriver,
{
    loop {
        while let Some(id) = driver.poll_cancel() {
            lane.cancel(id);
            driver.cancelled(Instant::now(), id);
        }
        while !lane.is_queued() {
            let Some(tx) = driver.poll_request(Instant::now()) else {
                break;
            };
            if D::is_long_poll(&tx.op) {
                lane.send(tx);
            } else {
                let result = classify(client.send_op(&tx.op, None));
                driver.response(Instant::now(), tx.id, result);
            }
        }
        let mut closed = false;
        while let Some(event) = driver.poll_event() {
            if events.send(event).is_err() {
                closed = true;
                break;
            }
        }
        if closed || driver.ended() {
            break;
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
            Ok(MsgBox(Msg::Done(id, outcome))) => {
                lane.done();
                if let Some(result) = outcome {
                    driver.response(Instant::now(), id, result);
                }
            }
            Ok(MsgBox(Msg::Stop)) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => driver.timeout(Instant::now()),
        }
    }
    driver.stop(Instant::now());
}
