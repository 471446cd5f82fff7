//! The long-running commands: `heartbeat --keep-alive`, `watch` and `emulator`, each
//! ending on Ctrl-C ([`Interrupt`]).

use crate::client::Backend;
use crate::error::CliError;
use crate::output::{event_json, event_line, Names, Printer};
use presence::heartbeat::{HeartbeatEvent, PresenceBuilder};
use presence::watch::WatchEvent;
use presence::Failure;
use serde_json::{json, Value};
use std::future::Future;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::watch;

/// How often the blocking loops look for Ctrl-C while waiting for an event.
const BLOCKING_POLL: Duration = Duration::from_millis(50);

/// Ctrl-C (SIGINT), observed from async code or polled from blocking loops.
#[derive(Debug, Clone)]
pub(crate) struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// Installs the handler. Tokio installs it on the first poll of
    /// `tokio::signal::ctrl_c()`, so it is polled once here: a Ctrl-C arriving after
    /// this returns is caught rather than killing the process (which matters for
    /// anyone who sends SIGINT as soon as the command reports it is ready).
    pub(crate) async fn install() -> Result<Self, CliError> {
        let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
        let first = std::future::poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await;
        let (tx, rx) = watch::channel(false);
        match first {
            Poll::Ready(Err(e)) => return Err(CliError::io("cannot listen for Ctrl-C", e)),
            Poll::Ready(Ok(())) => {
                tx.send_replace(true);
            }
            Poll::Pending => {
                tokio::spawn(async move {
                    if ctrl_c.await.is_ok() {
                        tx.send_replace(true);
                    }
                    // Keep the sender (and so `wait`) pending if listening failed.
                    std::future::pending::<()>().await;
                });
            }
        }
        Ok(Self(rx))
    }

    /// Whether Ctrl-C was pressed.
    pub(crate) fn fired(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits for Ctrl-C.
    pub(crate) async fn wait(&mut self) {
        let _ = self.0.wait_for(|fired| *fired).await;
    }
}

/// What ended a wait for the next event.
enum Tick<E> {
    /// An event.
    Event(E),
    /// Ctrl-C.
    Interrupted,
    /// The background loop is gone.
    Ended,
}

/// Waits for the next item of an async receiver or Ctrl-C.
async fn next_async<E, F: Future<Output = Option<E>>>(
    next: F,
    interrupt: &mut Interrupt,
) -> Tick<E> {
    tokio::select! {
        () = interrupt.wait() => Tick::Interrupted,
        event = next => event.map_or(Tick::Ended, Tick::Event),
    }
}

/// Waits for the next item of a blocking receiver (`poll` waits at most its argument) or
/// Ctrl-C. Blocks the calling thread, which is `block_on`'s, not a runtime worker.
fn next_blocking<E>(mut poll: impl FnMut(Duration) -> Option<E>, interrupt: &Interrupt) -> Tick<E> {
    loop {
        if interrupt.fired() {
            return Tick::Interrupted;
        }
        if let Some(event) = poll(BLOCKING_POLL) {
            return Tick::Event(event);
        }
    }
}

/// A heartbeat loop on either client.
enum Hold {
    Async(presence::heartbeat::PresenceHandle),
    Blocking(presence::blocking::PresenceHandle),
}

impl Hold {
    async fn next(&mut self, interrupt: &mut Interrupt) -> Tick<HeartbeatEvent> {
        match self {
            Hold::Async(h) => next_async(h.next_event(), interrupt).await,
            Hold::Blocking(h) => next_blocking(|d| h.next_event(d), interrupt),
        }
    }

    /// Ends the loop, with a leave or without, and waits until it is done.
    async fn stop(self, leave: bool) {
        match (self, leave) {
            (Hold::Async(h), true) => h.stop().await,
            (Hold::Async(h), false) => h.stop_without_leave().await,
            (Hold::Blocking(h), true) => h.stop(),
            (Hold::Blocking(h), false) => h.stop_without_leave(),
        }
    }
}

/// What `heartbeat --keep-alive` holds.
#[derive(Debug)]
pub(crate) struct HoldSpec {
    /// Channels and groups.
    pub(crate) names: Names,
    /// `--timeout`.
    pub(crate) timeout: Option<u32>,
    /// `--state`, parsed.
    pub(crate) state: Option<Value>,
}

impl HoldSpec {
    fn configure<'c, C>(&self, b: PresenceBuilder<'c, C>) -> PresenceBuilder<'c, C> {
        let mut b = b
            .channels(self.names.channels.iter().cloned())
            .channel_groups(self.names.groups.iter().cloned());
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        if let Some(s) = &self.state {
            b = b.state(s.clone());
        }
        b
    }

    fn json(&self, event: &str, user_id: &str) -> Value {
        json!({
            "event": event,
            "user_id": user_id,
            "channels": self.names.channels,
            "groups": self.names.groups,
        })
    }
}

/// A background loop that could not start.
fn started(e: presence::StartError) -> CliError {
    CliError::io("cannot start the background loop", e)
}

/// The JSON and text of a retry notice.
fn retrying(failure: &Failure, retry_in: Duration) -> (Value, String) {
    let error = CliError::from_failure(failure);
    let text = format!(
        "{}; retrying in {:.1} s",
        error.message,
        retry_in.as_secs_f64()
    );
    let json = json!({
        "event": "retrying",
        "retry_in_ms": u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        "error": error.to_json(),
    });
    (json, text)
}

/// `heartbeat --keep-alive`: heartbeat with `client.presence()…connected(true)` until
/// Ctrl-C, then leave. Prints `present` after the first successful heartbeat and `left`
/// after the leave. A failure that will not be retried (a 403, invalid input) ends it
/// with that error.
pub(crate) async fn keep_alive(
    backend: &Backend,
    spec: HoldSpec,
    printer: &Printer,
    mut interrupt: Interrupt,
) -> Result<(), CliError> {
    let user = backend.user_id().to_owned();
    let mut hold = match backend {
        Backend::Async(c) => Hold::Async(
            spec.configure(c.presence())
                .connected(true)
                .map_err(started)?,
        ),
        Backend::Blocking(c) => Hold::Blocking(
            spec.configure(c.presence())
                .connected(true)
                .map_err(started)?,
        ),
    };
    let mut present = false;
    loop {
        match hold.next(&mut interrupt).await {
            Tick::Interrupted => {
                hold.stop(true).await;
                return printer.line(
                    &spec.json("left", &user),
                    &format!("{user} left {}", spec.names.describe()),
                );
            }
            Tick::Ended => return Err(CliError::io("heartbeat", "the heartbeat loop ended")),
            Tick::Event(HeartbeatEvent::Succeeded) if !present => {
                present = true;
                printer.line(
                    &spec.json("present", &user),
                    &format!(
                        "{user} is present on {} (Ctrl-C to leave)",
                        spec.names.describe()
                    ),
                )?;
            }
            Tick::Event(HeartbeatEvent::Failed {
                failure,
                retry_in: None,
            }) => {
                hold.stop(false).await;
                return Err(CliError::from_failure(&failure));
            }
            Tick::Event(HeartbeatEvent::Failed {
                failure,
                retry_in: Some(delay),
            }) => {
                let (json, text) = retrying(&failure, delay);
                printer.status(&json, &text);
            }
            Tick::Event(HeartbeatEvent::LeaveFailed(failure)) => {
                let error = CliError::from_failure(&failure);
                printer.status(
                    &json!({"event": "leave_failed", "error": error.to_json()}),
                    &format!("leave failed: {}", error.message),
                );
            }
            Tick::Event(_) => {}
        }
    }
}

/// A watch on either client.
enum Feed {
    Async(presence::watch::PresenceStream),
    Blocking(presence::blocking::Watcher),
}

impl Feed {
    async fn next(&mut self, interrupt: &mut Interrupt) -> Tick<WatchEvent> {
        match self {
            Feed::Async(s) => next_async(s.next_event(), interrupt).await,
            Feed::Blocking(w) => next_blocking(|d| w.next_event(d), interrupt),
        }
    }
}

/// `watch`: prints presence events on stdout until Ctrl-C; connection notices go to
/// stderr (`connected` once the handshake succeeded, so later events are not missed).
pub(crate) async fn watch(
    backend: &Backend,
    names: Names,
    printer: &Printer,
    mut interrupt: Interrupt,
) -> Result<(), CliError> {
    let mut feed = match backend {
        Backend::Async(c) => Feed::Async(
            c.watch()
                .channels(names.channels.iter().cloned())
                .channel_groups(names.groups.iter().cloned())
                .start()
                .map_err(started)?,
        ),
        Backend::Blocking(c) => Feed::Blocking(
            c.watch()
                .channels(names.channels.iter().cloned())
                .channel_groups(names.groups.iter().cloned())
                .start()
                .map_err(started)?,
        ),
    };
    let mut connected_before = false;
    loop {
        match feed.next(&mut interrupt).await {
            Tick::Interrupted => return Ok(()),
            Tick::Ended => return Err(CliError::io("watch", "the event stream ended")),
            Tick::Event(WatchEvent::Presence(event)) => {
                printer.line(&event_json(&event), &event_line(&event))?;
            }
            Tick::Event(WatchEvent::Connected) => {
                let text = if connected_before {
                    "reconnected".to_owned()
                } else {
                    format!("watching {} (Ctrl-C to stop)", names.describe())
                };
                connected_before = true;
                printer.status(
                    &json!({
                        "event": "connected",
                        "channels": names.channels,
                        "groups": names.groups,
                    }),
                    &text,
                );
            }
            Tick::Event(WatchEvent::Failed {
                failure,
                retry_in: None,
            }) => return Err(CliError::from_failure(&failure)),
            Tick::Event(WatchEvent::Failed {
                failure,
                retry_in: Some(delay),
            }) => {
                let (json, text) = retrying(&failure, delay);
                printer.status(&json, &text);
            }
            Tick::Event(WatchEvent::Unreadable(what)) => printer.status(
                &json!({"event": "unreadable", "channel": what.channel, "message": what.reason.to_string()}),
                &format!("skipped an unreadable presence message: {what}"),
            ),
            Tick::Event(_) => {}
        }
    }
}

/// `emulator`: serves a local Presence API until Ctrl-C. Prints the origin on stdout.
pub(crate) async fn emulator(
    args: presence_emulator::cli::EmulatorArgs,
    printer: &Printer,
    mut interrupt: Interrupt,
) -> Result<(), CliError> {
    use presence_emulator::Emulator;
    let mut keys: Vec<String> = args
        .all_keysets()
        .map(|k| k.subscribe_key_str().to_owned())
        .collect();
    if keys.is_empty() {
        keys.push("demo".to_owned());
    }
    let handle = Emulator::start(args.to_config())
        .await
        .map_err(|e| CliError::io(format!("cannot listen on {}", args.listen), e))?;
    let origin = handle.origin();
    printer.line(
        &json!({"event": "listening", "origin": origin, "subscribe_keys": keys}),
        &format!("presence emulator listening on {origin}"),
    )?;
    if !printer.json {
        printer.status(
            &Value::Null,
            &format!(
                "try: presence --origin {origin} --subscribe-key {} --user-id ann here-now (Ctrl-C to stop)",
                keys[0]
            ),
        );
    }
    interrupt.wait().await;
    handle.shutdown().await;
    Ok(())
}
