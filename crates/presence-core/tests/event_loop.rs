//! The single-threaded event-loop driver of `examples/event_loop` against the emulator
//! over loopback, checked as a user would: the user appears in here now with its
//! state, a second user's join arrives as an event, the leave goes out at stop, and the
//! loop sleeps between heartbeats (its wake-ups are counted over an idle stretch).
#![allow(clippy::disallowed_methods)] // The test is a driver: it reads the clock.

#[path = "../examples/event_loop/driver.rs"]
mod driver;

use driver::{EventLoop, Output};
use presence_core::{
    Config, HeartbeatConfig, HeartbeatEngine, HeartbeatEvent, Keyset, Origin, PresenceEvent,
    UserId, WatchConfig, WatchEngine, WatchEvent,
};
use presence_emulator::{Emulator, EmulatorConfig};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const EPOCH: Duration = Duration::from_secs(1_700_000_000);
const PATIENCE: Duration = Duration::from_secs(10);

/// One GET over a fresh connection (`Connection: close`), returning the body.
fn get(addr: SocketAddr, path_and_query: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

fn here_now(addr: SocketAddr) -> serde_json::Value {
    let body = get(
        addr,
        "/v2/presence/sub-key/demo/channel/lobby?state=1&uuid=probe",
    );
    serde_json::from_str(&body).unwrap()
}

#[test]
fn the_event_loop_keeps_a_user_present_watches_and_leaves() {
    let emu = Emulator::start_blocking(EmulatorConfig::new().paused_clock(EPOCH)).unwrap();
    let origin = emu.origin();
    let addr: SocketAddr = origin.strip_prefix("http://").unwrap().parse().unwrap();
    let config = Config::new(Keyset::new("demo"), UserId::new("ann").unwrap())
        .with_origin(Origin::parse(&origin).unwrap());
    let (mut event_loop, waker) = EventLoop::new(config, addr).unwrap();
    let now = Instant::now();
    let mut heartbeat = HeartbeatEngine::new(HeartbeatConfig::new(60));
    heartbeat.join(now, ["lobby"], Vec::<String>::new());
    heartbeat.set_state_all(now, json!({"mood": "ok"}));
    event_loop.add(Box::new(heartbeat));
    let mut watch = WatchEngine::new(WatchConfig::default());
    watch.add(now, ["lobby"], Vec::<String>::new());
    event_loop.add(Box::new(watch));
    let wakeups = event_loop.wakeups();

    let (tx, rx) = mpsc::channel::<String>();
    let thread = std::thread::spawn(move || {
        event_loop
            .run(&mut |out| {
                let tag = match &out {
                    Output::Heartbeat(HeartbeatEvent::Succeeded) => "present".to_owned(),
                    Output::Watch(WatchEvent::Connected) => "connected".to_owned(),
                    Output::Watch(WatchEvent::Presence(PresenceEvent::Join(c))) => {
                        format!("join {}", c.user_id)
                    }
                    other => format!("other {other}"),
                };
                let _ = tx.send(tag);
            })
            .unwrap();
    });
    // What arrived while waiting for something else (the handshake may well be
    // answered before the first heartbeat) counts for a later wait.
    let seen = std::cell::RefCell::new(Vec::<String>::new());
    let wait_for = |want: &str| {
        let earlier = seen.borrow().iter().position(|t| t == want);
        if let Some(i) = earlier {
            seen.borrow_mut().remove(i);
            return;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(tag) if tag == want => return,
                Ok(tag) => seen.borrow_mut().push(tag),
                Err(e) => panic!("no `{want}` within {PATIENCE:?}: {e}"),
            }
        }
    };
    wait_for("present");
    wait_for("connected");

    // Present, with its state.
    let now = here_now(addr);
    assert_eq!(now["occupancy"], 1, "{now}");
    assert_eq!(now["uuids"][0]["uuid"], "ann");
    assert_eq!(now["uuids"][0]["state"], json!({"mood": "ok"}));

    // Another user's join arrives as an event.
    get(
        addr,
        "/v2/presence/sub-key/demo/channel/lobby/heartbeat?heartbeat=60&uuid=bob",
    );
    wait_for("join bob");

    // Idle: the heartbeat is due in 29 s and the long-poll is parked: the loop sleeps.
    let idle = Duration::from_secs(3);
    let before = wakeups.load(Ordering::Relaxed);
    std::thread::sleep(idle);
    let woke = wakeups.load(Ordering::Relaxed) - before;
    let per_minute = woke as f64 * 60.0 / idle.as_secs_f64();
    println!("idle wake-ups: {woke} in {idle:?} ({per_minute:.0} per minute)");
    assert!(woke <= 2, "{woke} wake-ups in {idle:?} of idling");

    // Stop: the leave goes out, then the loop ends.
    waker.wake().unwrap();
    thread.join().unwrap();
    let now = here_now(addr);
    let ids: Vec<&str> = now["uuids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bob"], "ann left: {now}");
}
