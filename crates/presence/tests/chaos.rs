//! Chaos over loopback (issue 16): a heartbeat handle, a watch stream and a roster
//! against the emulator while its fault rules fail requests (503 bursts, dropped
//! connections, cut bodies, latency above the client's request timeout) and while it
//! restarts on the same port, with its state and without. Nothing is lost (the user
//! present with its state afterwards, `get_state` equal to before), no event is
//! delivered twice, request rates stay within the engines' floors, and a terminal error
//! ends the stream.
//!
//! The emulator's clock is paused (nobody times out on it); the engines run on real
//! time, so the bounds are upper bounds that hold however slow the machine is.
#![cfg(feature = "hyper")]

mod common;

use presence::heartbeat::{HeartbeatEvent, HeartbeatState};
use presence::transport_hyper::HyperTransport;
use presence::watch::WatchEvent;
use presence::{Client, PresenceEvent};
use presence_emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultRule, Operation};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EPOCH: Duration = Duration::from_secs(1_700_000_000);
/// The clients' request timeout: the latency rules wait longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(60);

type Chaotic = Client<HyperTransport>;

fn client(origin: &str, user: &str) -> Chaotic {
    let transport = HyperTransport::builder()
        .request_timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    Client::builder()
        .subscribe_key("demo")
        .user_id(user)
        .origin(origin)
        .build_with(transport)
        .unwrap()
}

fn rules(rules: &[&str]) -> Vec<FaultRule> {
    rules.iter().map(|r| r.parse().unwrap()).collect()
}

async fn start(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config).await.unwrap()
}

/// Polls `check` every 20 ms until it gives `Some`, at most [`PATIENCE`].
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Puts `user` in or out of `channel` through the model (no HTTP, so no fault rule).
fn model_join(emu: &EmulatorHandle, user: &str, channel: &str, join: bool) {
    let now = emu.now();
    let path = if join {
        format!("/v2/presence/sub-key/demo/channel/{channel}/heartbeat?heartbeat=3600&uuid={user}")
    } else {
        format!("/v2/presence/sub-key/demo/channel/{channel}/leave?uuid={user}")
    };
    let req = http::Request::get(path).body(()).unwrap();
    emu.with_model(|m| assert_eq!(m.handle(now, &req).status(), 200));
}

/// Every watch event, collected by a task that owns the stream until it ends.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<WatchEvent>>>);

impl Seen {
    fn collect(mut stream: presence::watch::PresenceStream) -> (Self, tokio::task::JoinHandle<()>) {
        let seen = Seen::default();
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = stream.next_event().await {
                sink.0.lock().unwrap().push(event);
            }
        });
        (seen, task)
    }

    /// `(action, user)` of each presence event on `channel`, in order, with its
    /// timetoken.
    fn presence(&self, channel: &str) -> Vec<(&'static str, String, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                WatchEvent::Presence(p) => Some(p.clone()),
                _ => None,
            })
            .filter_map(|p| {
                let (action, change) = match p {
                    PresenceEvent::Join(c) => ("join", c),
                    PresenceEvent::Leave(c) => ("leave", c),
                    PresenceEvent::Timeout(c) => ("timeout", c),
                    PresenceEvent::StateChange(c) => ("state-change", c),
                    PresenceEvent::Interval(_) => {
                        return Some(("interval", String::new(), String::new()))
                    }
                    _ => return Some(("other", String::new(), String::new())),
                };
                (change.channel == channel).then_some((action, change.user_id, change.timetoken))
            })
            .collect()
    }

    fn failures(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, WatchEvent::Failed { .. }))
            .count()
    }
}

/// Requests of `op` the emulator counted, by status (`0`: closed without a response).
fn by_status(emu: &EmulatorHandle, op: Operation) -> BTreeMap<u16, u64> {
    emu.stats()
        .requests
        .iter()
        .filter(|r| r.operation == Some(op))
        .map(|r| (r.status, r.count))
        .collect()
}

fn total(counts: &BTreeMap<u16, u64>) -> u64 {
    counts.values().sum()
}

/// One-shot calls are not retried by the client: a connection the restarted emulator
/// closed may fail one. The test's own readings try again.
async fn again<T, E: std::fmt::Debug, F: std::future::Future<Output = Result<T, E>>>(
    mut call: impl FnMut() -> F,
) -> T {
    let mut last = None;
    for _ in 0..5 {
        match call().await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{last:?}")
}

async fn here_now(reader: &Chaotic, channel: &str) -> BTreeMap<String, Option<String>> {
    let all = again(|| {
        reader
            .here_now()
            .channels([channel])
            .include_state(true)
            .all_pages()
    })
    .await;
    common::states_by_user(&all)
}

async fn state_of(ann: &Chaotic) -> Value {
    let got = again(|| ann.get_state().channels(["room"]).execute()).await;
    got.channels["room"].to_value().unwrap()
}

/// The roster equals here now (read without faults), within [`PATIENCE`].
async fn roster_settles(roster: &presence::roster::RosterStream, reader: &Chaotic) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let truth = here_now(reader, "room").await;
        let got: BTreeMap<_, _> = roster
            .members("room")
            .into_iter()
            .map(|m| (m.user_id, m.state.map(|s| s.to_string())))
            .collect();
        if roster.is_synced() && got == truth {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "roster {got:?} vs here now {truth:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_watch_and_roster_lose_nothing_through_faults_and_restarts() {
    let emu = start(EmulatorConfig::new().paused_clock(EPOCH)).await;
    let addr = emu.local_addr();
    let origin = emu.origin();
    let started = Instant::now();

    let observer = client(&origin, "observer");
    let mut stream = observer
        .watch()
        .channels(["room"])
        .retry(Duration::from_millis(100), Duration::from_secs(1))
        .start()
        .unwrap();
    assert!(stream.connected().await);
    let (seen, collector) = Seen::collect(stream);
    let roster = observer
        .roster()
        .channels(["room"])
        .resync_gap(Duration::from_millis(50))
        .start()
        .unwrap();

    let ann = client(&origin, "ann");
    let handle = ann
        .presence()
        .channels(["room"])
        .state(json!({"mood": "ok"}))
        .timeout(60)
        .interval(Duration::from_secs(1))
        .connected(true)
        .unwrap();
    eventually("ann's join", || {
        (seen.presence("room").len() == 1).then_some(())
    })
    .await;
    roster_settles(&roster, &observer).await;

    // Faults on every heartbeat, subscribe and here now (the roster's snapshots); each
    // rule is seeded, so every run fails the same requests.
    emu.set_faults(rules(&[
        "op=heartbeat,p=0.3,seed=1,status=503",
        "op=heartbeat,p=0.2,seed=2,close",
        "op=heartbeat,p=0.2,seed=3,latency=1500ms",
        "op=subscribe,p=0.25,seed=4,status=503,retry-after=0",
        "op=subscribe,p=0.2,seed=5,cut",
        "op=subscribe,p=0.2,seed=6,close",
        "op=here_now,p=0.3,seed=7,status=503",
        "op=here_now,p=0.2,seed=8,cut",
    ]));
    // Bob comes and goes three times and ann changes her state, all while requests fail.
    let mut expected = vec![("join", "ann")];
    for round in 0..3 {
        let polls = total(&by_status(&emu, Operation::Subscribe));
        model_join(&emu, "bob", "room", true);
        expected.push(("join", "bob"));
        // Bob's join seen by the watch and by the roster, and at least two more
        // subscribes answered (some may be the faults'), before he leaves. With the
        // clock paused a long-poll never times out: only the join's answers and the
        // faults' retries are sure to add subscribes.
        eventually("bob's join seen, and more subscribes", || {
            (seen.presence("room").len() == expected.len()
                && roster.members("room").iter().any(|m| m.user_id == "bob")
                && total(&by_status(&emu, Operation::Subscribe)) >= polls + 2)
                .then_some(())
        })
        .await;
        model_join(&emu, "bob", "room", false);
        expected.push(("leave", "bob"));
        if round == 1 {
            // Through a heartbeat that may fail and be retried: waited for, so that the
            // order of the events is known.
            handle.set_state(json!({"mood": "busy"}));
            expected.push(("state-change", "ann"));
            eventually("ann's state change", || {
                (seen.presence("room").len() == expected.len()).then_some(())
            })
            .await;
        }
    }
    // Enough heartbeats to have met every heartbeat fault.
    eventually("every heartbeat fault", || {
        let hb = by_status(&emu, Operation::Heartbeat);
        (hb.get(&503).copied().unwrap_or(0) >= 2
            && hb.get(&0).copied().unwrap_or(0) >= 1
            && hb.get(&200).copied().unwrap_or(0) >= 6)
            .then_some(())
    })
    .await;
    eventually("every event through the faults", || {
        (seen.presence("room").len() == expected.len()).then_some(())
    })
    .await;
    let subscribes = by_status(&emu, Operation::Subscribe);
    assert!(
        subscribes.contains_key(&503) && subscribes.contains_key(&0),
        "the watch and the roster met the subscribe faults: {subscribes:?}"
    );
    assert!(seen.failures() > 0, "the watch saw failures and retried");
    emu.clear_faults();
    roster_settles(&roster, &observer).await;
    let before = state_of(&ann).await;
    assert_eq!(before, json!({"mood": "busy"}));

    // Restart on the same port with the state carried over (the event cursor too).
    // The request counts of each emulator are summed for the rate bounds below.
    let mut heartbeats = total(&by_status(&emu, Operation::Heartbeat));
    let mut subscribes = total(&by_status(&emu, Operation::Subscribe));
    let snapshot = emu.snapshot();
    let now = emu.now();
    emu.shutdown().await;
    let emu = start(EmulatorConfig::new().listen(addr).paused_clock(now)).await;
    emu.restore(&snapshot).unwrap();
    model_join(&emu, "bob", "room", true);
    expected.push(("join", "bob"));
    eventually("bob's join after the restart", || {
        (seen.presence("room").len() == expected.len()).then_some(())
    })
    .await;
    eventually("a heartbeat to the new emulator", || {
        (by_status(&emu, Operation::Heartbeat)
            .get(&200)
            .copied()
            .unwrap_or(0)
            >= 1)
            .then_some(())
    })
    .await;
    assert_eq!(
        state_of(&ann).await,
        before,
        "get_state equal to before the restart"
    );
    roster_settles(&roster, &observer).await;

    // Every event once, in order: nothing lost, nothing twice.
    let got = seen.presence("room");
    let actions: Vec<(&str, &str)> = got.iter().map(|(a, u, _)| (*a, u.as_str())).collect();
    assert_eq!(actions, expected);
    let timetokens: BTreeSet<&String> = got.iter().map(|(_, _, tt)| tt).collect();
    assert_eq!(
        timetokens.len(),
        got.len(),
        "an event delivered twice: {got:?}"
    );

    // Restart without state: the next heartbeat puts ann back, with her state.
    heartbeats += total(&by_status(&emu, Operation::Heartbeat));
    subscribes += total(&by_status(&emu, Operation::Subscribe));
    emu.shutdown().await;
    let emu = start(
        EmulatorConfig::new()
            .listen(addr)
            .paused_clock(now + Duration::from_secs(1)),
    )
    .await;
    let present = loop {
        let present = here_now(&observer, "room").await;
        if present.contains_key("ann") {
            break present;
        }
        assert!(started.elapsed() < PATIENCE * 3, "ann never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(present["ann"].as_deref(), Some(r#"{"mood":"busy"}"#));
    assert_eq!(
        state_of(&ann).await,
        before,
        "get_state equal to before the restarts"
    );
    roster_settles(&roster, &observer).await;
    assert!(handle.state() != HeartbeatState::Failed);

    // Rates: at most one heartbeat a second (the floor holds through failures and
    // retries), and the watch and roster's long-polls at most ten a second each (the
    // watch's floor after news is 100 ms; retries wait for it too). An engine that spun
    // on instant errors would send thousands.
    heartbeats += total(&by_status(&emu, Operation::Heartbeat));
    subscribes += total(&by_status(&emu, Operation::Subscribe));
    let secs = started.elapsed().as_secs_f64();
    assert!(
        (heartbeats as f64) <= secs + 2.0,
        "{heartbeats} heartbeats in {secs:.1} s"
    );
    assert!(
        (subscribes as f64) <= 2.0 * (secs * 10.0 + 2.0),
        "{subscribes} long-polls in {secs:.1} s"
    );
    collector.abort();
    drop(handle);
    emu.shutdown().await;
}

/// A 403 (retrying cannot fix it) after a burst of 503s ends the watch stream: the 503s
/// are retried, the 403 is yielded once as the stream's last item; the heartbeat handle
/// stops on it too and does not retry it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_error_after_retried_ones_ends_the_stream() {
    let emu = start(EmulatorConfig::new().paused_clock(EPOCH)).await;
    let origin = emu.origin();
    let observer = client(&origin, "observer");
    let mut stream = observer
        .watch()
        .channels(["room"])
        .retry(Duration::from_millis(100), Duration::from_secs(1))
        .start()
        .unwrap();
    assert!(stream.connected().await);
    model_join(&emu, "bob", "room", true);
    loop {
        match tokio::time::timeout(PATIENCE, stream.next_event())
            .await
            .unwrap()
        {
            Some(WatchEvent::Presence(_)) => break,
            Some(_) => {}
            None => panic!("the stream ended"),
        }
    }
    emu.set_faults(rules(&["op=subscribe,status=503"]));
    // An event ends the long-poll parked (if it was sent before the rule; the rules
    // apply to every later one).
    model_join(&emu, "cy", "room", true);
    let mut retried = 0;
    let mut presence = 0;
    let terminal = loop {
        match tokio::time::timeout(PATIENCE, stream.next_event())
            .await
            .unwrap()
        {
            Some(WatchEvent::Failed {
                retry_in: Some(_), ..
            }) => {
                retried += 1;
                if retried == 3 {
                    emu.set_faults(rules(&["op=subscribe,status=403"]));
                }
            }
            Some(WatchEvent::Failed {
                failure,
                retry_in: None,
            }) => break failure,
            Some(WatchEvent::Presence(_)) => presence += 1,
            Some(_) => {}
            None => panic!("the stream ended without its error"),
        }
    };
    assert_eq!(
        terminal.service_error().map(|e| e.status),
        Some(403),
        "{terminal:?}"
    );
    assert!(retried >= 3, "the 503s were retried");
    assert!(presence <= 1, "cy's join at most once ({presence})");
    assert!(
        tokio::time::timeout(PATIENCE, stream.next_event())
            .await
            .unwrap()
            .is_none(),
        "nothing after the terminal error"
    );
    let polls = by_status(&emu, Operation::Subscribe);
    assert_eq!(polls.get(&403), Some(&1), "the 403 not retried: {polls:?}");

    let ann = client(&origin, "ann");
    emu.set_faults(rules(&["op=heartbeat,status=503"]));
    let mut handle = ann
        .presence()
        .channels(["room"])
        .timeout(60)
        .interval(Duration::from_secs(1))
        .connected(true)
        .unwrap();
    let mut retried = 0;
    loop {
        match tokio::time::timeout(PATIENCE, handle.next_event())
            .await
            .unwrap()
        {
            Some(HeartbeatEvent::Failed {
                retry_in: Some(_), ..
            }) => {
                retried += 1;
                if retried == 2 {
                    emu.set_faults(rules(&["op=heartbeat,status=403"]));
                }
            }
            Some(HeartbeatEvent::Failed { retry_in: None, .. }) => break,
            Some(_) => {}
            None => panic!("the handle's events ended"),
        }
    }
    // Failed: the engine sends nothing more until told to start again.
    eventually("the handle's Failed state", || {
        (handle.state() == HeartbeatState::Failed).then_some(())
    })
    .await;
    let hb = by_status(&emu, Operation::Heartbeat);
    assert_eq!(hb.get(&403), Some(&1), "one 403, not retried: {hb:?}");
    assert!(hb.get(&503).is_some_and(|n| *n >= 2), "{hb:?}");
    emu.shutdown().await;
}
