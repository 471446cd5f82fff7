//! The long-running commands: `heartbeat --keep-alive`, `watch`, `roster`, `fleet`
//! and `emulator`, each ending on Ctrl-C ([`Interrupt`]).

use crate::client::Backend;
use crate::error::CliError;
use crate::output::{event_json, event_line, roster_screen, Names, Printer};
use presence::fleet::{FleetEvent, FleetStats, FleetUser};
use presence::heartbeat::{HeartbeatEvent, PresenceBuilder};
use presence::roster::Member;
use presence::roster::RosterEvent;
use presence::watch::WatchEvent;
use presence::Failure;
use presence::UserId;
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
                    &spec.json("left", &user).to_string(),
                    &format!("{user} left {}", spec.names.describe()),
                );
            }
            Tick::Ended => return Err(CliError::io("heartbeat", "the heartbeat loop ended")),
            Tick::Event(HeartbeatEvent::Succeeded) if !present => {
                present = true;
                printer.line(
                    &spec.json("present", &user).to_string(),
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
                printer.line(&event_json(&event)?, &event_line(&event))?;
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

/// A roster on either client.
enum Members {
    Async(presence::roster::RosterStream),
    Blocking(presence::blocking::Roster),
}

impl Members {
    async fn next(&mut self, interrupt: &mut Interrupt) -> Tick<RosterEvent> {
        match self {
            Members::Async(s) => next_async(s.next_event(), interrupt).await,
            Members::Blocking(r) => next_blocking(|d| r.next_event(d), interrupt),
        }
    }

    fn members(&self, channel: &str) -> Vec<Member> {
        match self {
            Members::Async(s) => s.members(channel),
            Members::Blocking(r) => r.members(channel),
        }
    }

    fn occupancy(&self, channel: &str) -> Option<u64> {
        match self {
            Members::Async(s) => s.occupancy(channel),
            Members::Blocking(r) => r.occupancy(channel),
        }
    }

    fn channels(&self) -> Vec<String> {
        match self {
            Members::Async(s) => s.channels(),
            Members::Blocking(r) => r.channels(),
        }
    }

    fn is_synced(&self) -> bool {
        match self {
            Members::Async(s) => s.is_synced(),
            Members::Blocking(r) => r.is_synced(),
        }
    }

    /// Every channel with its occupancy and members, for a redraw.
    fn screen(&self) -> Vec<(String, Option<u64>, Vec<Member>)> {
        self.channels()
            .into_iter()
            .map(|c| {
                let occupancy = self.occupancy(&c);
                let members = self.members(&c);
                (c, occupancy, members)
            })
            .collect()
    }
}

/// `roster`: keeps the members of channels and groups with `client.roster()` until
/// Ctrl-C. With `--json`, one line per change: the change's serialization with the
/// channel's members after it (`members`) and whether the roster is in sync
/// (`synced`). Without it, a terminal is redrawn with every channel's members after
/// each change, and anything else (a pipe, a file) gets one line per change. Sync,
/// resync and retry notices go to stderr; a failure that stops the roster (a 403)
/// ends the command with that error.
pub(crate) async fn roster(
    backend: &Backend,
    args: &crate::args::RosterArgs,
    names: Names,
    printer: &Printer,
    mut interrupt: Interrupt,
) -> Result<(), CliError> {
    use std::io::IsTerminal as _;
    macro_rules! configure {
        ($client:expr) => {{
            let mut b = $client
                .roster()
                .channels(names.channels.iter().cloned())
                .channel_groups(names.groups.iter().cloned());
            if let Some(size) = args.page_size {
                b = b.page_size(size);
            }
            if let Some(secs) = args.resync_every {
                b = b.resync_every(Duration::from_secs(secs));
            }
            b.start().map_err(started)?
        }};
    }
    let mut roster = match backend {
        Backend::Async(c) => Members::Async(configure!(c)),
        Backend::Blocking(c) => Members::Blocking(configure!(c)),
    };
    let redraw = !printer.json && std::io::stdout().is_terminal();
    let mut synced_before = false;
    loop {
        match roster.next(&mut interrupt).await {
            Tick::Interrupted => return Ok(()),
            Tick::Ended => return Err(CliError::io("roster", "the roster ended")),
            Tick::Event(RosterEvent::Change(change)) => {
                if redraw {
                    printer.screen(&roster_screen(&roster.screen(), roster.is_synced()))?;
                } else {
                    let mut line = serde_json::to_value(&change)
                        .map_err(|e| CliError::io("cannot serialise a roster change", e))?;
                    line["members"] = serde_json::to_value(roster.members(&change.channel))
                        .map_err(|e| CliError::io("cannot serialise the members", e))?;
                    line["synced"] = Value::Bool(roster.is_synced());
                    printer.line(&line.to_string(), &change.to_string())?;
                }
            }
            Tick::Event(RosterEvent::Synced) => {
                let text = if synced_before {
                    "in sync again".to_owned()
                } else {
                    format!("{} in sync (Ctrl-C to stop)", names.describe())
                };
                synced_before = true;
                if redraw {
                    printer.screen(&roster_screen(&roster.screen(), true))?;
                }
                printer.status(
                    &json!({
                        "event": "synced",
                        "channels": roster.channels(),
                        "groups": names.groups,
                    }),
                    &text,
                );
            }
            Tick::Event(RosterEvent::OutOfSync(reason)) => printer.status(
                &json!({"event": "out_of_sync", "reason": reason}),
                &format!("out of sync ({reason}); resyncing"),
            ),
            Tick::Event(RosterEvent::Failed {
                failure,
                retry_in: None,
            }) => return Err(CliError::from_failure(&failure)),
            Tick::Event(RosterEvent::Failed {
                failure,
                retry_in: Some(delay),
            }) => {
                let (json, text) = retrying(&failure, delay);
                printer.status(&json, &text);
            }
            Tick::Event(_) => {}
        }
    }
}

/// What `fleet` holds: its users, validated.
#[derive(Debug)]
pub(crate) struct FleetSpec {
    users: Vec<FleetUser>,
    names: Names,
    concurrency: Option<usize>,
    spread: Option<Duration>,
}

impl FleetSpec {
    /// The users `--users N --user-prefix P` names, each on the same channels, groups,
    /// timeout and state (checked here: bad input exits 2 before anything is sent).
    pub(crate) fn new(
        args: &crate::args::FleetArgs,
        state: Option<Value>,
    ) -> Result<Self, CliError> {
        if args.users == 0 {
            return Err(CliError::invalid_input("`users` must be at least 1"));
        }
        if args.concurrency == Some(0) {
            return Err(CliError::invalid_input("`concurrency` must be at least 1"));
        }
        let spread = match args.spread {
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
            Some(_) => {
                return Err(CliError::invalid_input(
                    "`spread` must be a number of seconds, 0 or more",
                ))
            }
            None => None,
        };
        let mut users = Vec::with_capacity(args.users);
        for i in 0..args.users {
            let id = UserId::new(format!("{}{i}", args.user_prefix))
                .map_err(|e| CliError::from_core(&e))?;
            let mut user = FleetUser::new(id)
                .channels(args.targets.channels.iter().cloned())
                .channel_groups(args.targets.groups.iter().cloned());
            if let Some(timeout) = args.announce.timeout {
                user = user.timeout(timeout);
            }
            if let Some(state) = &state {
                user = user.state(state.clone());
            }
            users.push(user);
        }
        Ok(Self {
            users,
            names: Names {
                channels: args.targets.channels.clone(),
                groups: args.targets.groups.clone(),
            },
            concurrency: args.concurrency,
            spread,
        })
    }
}

/// A fleet on either client.
enum Crowd {
    Async(presence::fleet::Fleet),
    Blocking(presence::blocking::Fleet),
}

impl Crowd {
    fn add(&self, user: FleetUser) -> Result<bool, presence::core::Error> {
        match self {
            Crowd::Async(f) => f.add(user),
            Crowd::Blocking(f) => f.add(user),
        }
    }

    fn stats(&self) -> FleetStats {
        match self {
            Crowd::Async(f) => f.stats(),
            Crowd::Blocking(f) => f.stats(),
        }
    }

    fn try_event(&mut self) -> Option<FleetEvent> {
        match self {
            Crowd::Async(f) => f.try_event(),
            Crowd::Blocking(f) => f.try_event(),
        }
    }

    /// Stops with a leave for every user and waits for them.
    async fn stop(self) {
        match self {
            Crowd::Async(f) => f.stop().await,
            Crowd::Blocking(f) => f.stop(),
        }
    }
}

/// `fleet`: keeps `--users` users present with `client.fleet()` until Ctrl-C, then
/// leaves for all of them. Prints the counters once a second (`--json`: the
/// `FleetStats` serialization plus `elapsed_s` and `heartbeats_per_sec`); the first
/// user that gives up is reported on stderr (the rest are counted); when every user
/// gave up it ends with that failure.
pub(crate) async fn fleet(
    backend: &Backend,
    spec: FleetSpec,
    printer: &Printer,
    mut interrupt: Interrupt,
) -> Result<(), CliError> {
    macro_rules! configure {
        ($client:expr) => {{
            let mut b = $client.fleet();
            if let Some(k) = spec.concurrency {
                b = b.max_in_flight(k);
            }
            if let Some(window) = spec.spread {
                b = b.spread(window);
            }
            b.start().map_err(started)?
        }};
    }
    let mut crowd = match backend {
        Backend::Async(c) => Crowd::Async(configure!(c)),
        Backend::Blocking(c) => Crowd::Blocking(configure!(c)),
    };
    let count = spec.users.len();
    for user in spec.users {
        crowd.add(user).map_err(|e| CliError::from_core(&e))?;
    }
    printer.status(
        &json!({"event": "started", "users": count, "channels": spec.names.channels, "groups": spec.names.groups}),
        &format!(
            "keeping {count} users present on {} (Ctrl-C to leave)",
            spec.names.describe()
        ),
    );
    let started_at = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let (mut last_heartbeats, mut last_at) = (0u64, started_at);
    let mut first_failure: Option<Failure> = None;
    loop {
        tokio::select! {
            () = interrupt.wait() => break,
            now = ticker.tick() => {
                while let Some(event) = crowd.try_event() {
                    if let FleetEvent::GaveUp { user_id, failure } = event {
                        if first_failure.is_none() {
                            let error = CliError::from_failure(&failure);
                            printer.status(
                                &json!({"event": "gave_up", "user_id": user_id, "error": error.to_json()}),
                                &format!("{user_id} gave up: {} (others that do are counted)", error.message),
                            );
                            first_failure = Some(failure);
                        }
                    }
                }
                let stats = crowd.stats();
                let secs = now.duration_since(last_at).as_secs_f64().max(1e-3);
                let rate = (stats.heartbeats - last_heartbeats) as f64 / secs;
                (last_heartbeats, last_at) = (stats.heartbeats, now);
                let elapsed = now.duration_since(started_at).as_secs_f64();
                let mut line = serde_json::to_value(&stats)
                    .map_err(|e| CliError::io("cannot serialise the counters", e))?;
                line["elapsed_s"] = json!((elapsed * 10.0).round() / 10.0);
                line["heartbeats_per_sec"] = json!((rate * 10.0).round() / 10.0);
                printer.line(
                    &line.to_string(),
                    &format!("{elapsed:>6.1} s  {stats}; {rate:.1} heartbeats/s"),
                )?;
                if stats.gave_up == stats.users && stats.users > 0 {
                    let failure = first_failure.take().unwrap_or_else(|| {
                        Failure::Transport(presence::core::TransportFailure::new(
                            presence::core::TransportFailureKind::Other,
                            "every user gave up",
                        ))
                    });
                    crowd.stop().await;
                    return Err(CliError::from_failure(&failure));
                }
            }
        }
    }
    printer.status(
        &json!({"event": "stopping", "users": count}),
        &format!("leaving for {count} users"),
    );
    crowd.stop().await;
    printer.status(
        &json!({"event": "left", "users": count}),
        &format!("{count} users left {}", spec.names.describe()),
    );
    Ok(())
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
    let handle = Emulator::start(args.to_config()).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            // `--import`: the error names the file and what is wrong in it.
            CliError::invalid_input(e.to_string())
        } else {
            CliError::io(format!("cannot listen on {}", args.listen), e)
        }
    })?;
    let origin = handle.origin();
    printer.line(
        &json!({"event": "listening", "origin": origin, "subscribe_keys": keys}).to_string(),
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
    // Shuts down, then writes the `--export-on-exit` file.
    handle
        .exit()
        .await
        .map_err(|e| CliError::io("emulator", e))?;
    Ok(())
}
