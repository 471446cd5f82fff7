//! The fleet against the emulator over loopback: 2 000 users from one async client
//! (here now shows every one with its state; removing 500 leaves 1 500; stopping
//! leaves none), the blocking twin with the emulator's virtual clock (stopping
//! without leaves: the users time out), and one user's 403 stopping that user only.
#![cfg(all(feature = "hyper", feature = "ureq"))]

mod common;

use presence::fleet::{FleetEvent, FleetUser, UserStatus};
use presence::{Client, UserId};
use presence_emulator::{Emulator, EmulatorConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const EPOCH: Duration = Duration::from_secs(1_700_000_000);
/// How long anything may take before a test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

fn npc(i: usize) -> FleetUser {
    FleetUser::new(UserId::new(format!("npc-{i:04}")).unwrap())
        .channels(["arena"])
        .state(json!({"n": i}))
}

async fn here_now(reader: &Client, channel: &str) -> BTreeMap<String, Option<String>> {
    common::here_now_states(reader, channel).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_users_from_one_client() {
    let emu = Emulator::start(EmulatorConfig::new().paused_clock(EPOCH))
        .await
        .unwrap();
    let client = Client::builder()
        .subscribe_key("demo")
        .user_id("game-server")
        .origin(emu.origin())
        .build()
        .unwrap();
    let mut fleet = client
        .fleet()
        .max_in_flight(64)
        .spread(Duration::ZERO)
        .start()
        .unwrap();
    for i in 0..2000 {
        assert!(fleet.add(npc(i)).unwrap());
    }
    let deadline = Instant::now() + PATIENCE;
    let mut present = 0;
    while present < 2000 {
        assert!(Instant::now() < deadline, "{}", fleet.stats());
        match tokio::time::timeout(Duration::from_secs(5), fleet.next_event()).await {
            Ok(Some(FleetEvent::Present { .. })) => present += 1,
            Ok(Some(other)) => panic!("unexpected {other}"),
            Ok(None) => panic!("the fleet ended"),
            Err(_) => panic!("no event in 5 s: {}", fleet.stats()),
        }
    }
    let stats = fleet.stats();
    assert_eq!(
        (stats.users, stats.present, stats.heartbeat_errors),
        (2000, 2000, 0)
    );
    assert!(stats.latency_p50.is_some() && stats.latency_p99 >= stats.latency_p50);
    // The driver's own user id is never present: it only sends for the fleet.
    let seen = here_now(&client, "arena").await;
    assert_eq!(seen.len(), 2000);
    for i in 0..2000 {
        let id = format!("npc-{i:04}");
        assert_eq!(
            seen[&id].as_deref(),
            Some(format!(r#"{{"n":{i}}}"#).as_str()),
            "{id}"
        );
    }

    for i in 0..500 {
        assert!(fleet.remove(&format!("npc-{i:04}")));
    }
    let mut removed = 0;
    while removed < 500 {
        match tokio::time::timeout(Duration::from_secs(5), fleet.next_event()).await {
            Ok(Some(FleetEvent::Removed { .. })) => removed += 1,
            other => panic!("expected removals, got {other:?}"),
        }
    }
    let seen = here_now(&client, "arena").await;
    assert_eq!(seen.len(), 1500);
    assert!(!seen.contains_key("npc-0499") && seen.contains_key("npc-0500"));
    assert_eq!(fleet.stats().leaves, 500);

    fleet.stop().await;
    assert!(
        here_now(&client, "arena").await.is_empty(),
        "stopping leaves none"
    );
    emu.shutdown().await;
}

#[test]
fn the_blocking_fleet_and_stopping_without_leaves() {
    let emu = Emulator::start_blocking(EmulatorConfig::new().paused_clock(EPOCH)).unwrap();
    let client = presence::blocking::Client::builder()
        .subscribe_key("demo")
        .user_id("game-server")
        .origin(emu.origin())
        .build_blocking()
        .unwrap();
    let mut fleet = client
        .fleet()
        .max_in_flight(8)
        .spread(Duration::ZERO)
        .start()
        .unwrap();
    for i in 0..300 {
        fleet.add(npc(i).timeout(60)).unwrap();
    }
    let deadline = Instant::now() + PATIENCE;
    while fleet.stats().present < 300 {
        assert!(Instant::now() < deadline, "{}", fleet.stats());
        fleet.next_event(Duration::from_millis(100));
    }
    let reader = client.here_now().channels(["arena"]).all_pages().unwrap();
    assert_eq!(reader.channels[0].occupancy, 300);
    // Moving a user: it heartbeats the new channel and leaves the old one.
    fleet
        .add(FleetUser::new(UserId::new("npc-0000").unwrap()).channels(["lobby"]))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while fleet.user("npc-0000") != Some(UserStatus::Present) {
        assert!(Instant::now() < deadline);
        fleet.next_event(Duration::from_millis(100));
    }
    let r = client.where_now().user_id("npc-0000").execute().unwrap();
    assert_eq!(r.channels, ["lobby"]);

    fleet.stop_without_leave();
    let left = client.here_now().channels(["arena"]).execute().unwrap();
    assert_eq!(left.channels[0].occupancy, 299, "no leaves were sent");
    // Their presence runs out on the service's clock.
    emu.advance(Duration::from_secs(61));
    let left = client.here_now().channels(["arena"]).execute().unwrap();
    assert_eq!(left.channels[0].occupancy, 0, "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_stops_that_user_only() {
    let emu = Emulator::start(
        EmulatorConfig::new()
            .paused_clock(EPOCH)
            .keyset(common::pam_keyset("tok", &["arena"])),
    )
    .await
    .unwrap();
    let client = common::pam_client(&emu.origin(), "game-server", "tok")
        .build()
        .unwrap();
    let mut fleet = client.fleet().spread(Duration::ZERO).start().unwrap();
    for i in 0..10 {
        fleet.add(npc(i)).unwrap();
    }
    let outsider = FleetUser::new(UserId::new("spy").unwrap()).channels(["vault"]);
    fleet.add(outsider).unwrap();
    let mut gave_up = Vec::new();
    while fleet.stats().present < 10 || gave_up.is_empty() {
        match tokio::time::timeout(Duration::from_secs(5), fleet.next_event()).await {
            Ok(Some(FleetEvent::GaveUp { user_id, failure })) => {
                assert_eq!(failure.service_error().map(|e| e.status), Some(403));
                gave_up.push(user_id);
            }
            Ok(Some(_)) => {}
            other => panic!("{other:?}: {}", fleet.stats()),
        }
    }
    assert_eq!(gave_up, ["spy"]);
    assert_eq!(fleet.user("spy"), Some(UserStatus::GaveUp));
    let stats = fleet.stats();
    assert_eq!((stats.present, stats.gave_up), (10, 1));
    // Moving the user somewhere it may be starts it again.
    fleet
        .add(FleetUser::new(UserId::new("spy").unwrap()).channels(["arena"]))
        .unwrap();
    while fleet.user("spy") != Some(UserStatus::Present) {
        tokio::time::timeout(Duration::from_secs(5), fleet.next_event())
            .await
            .expect("an event");
    }
    fleet.stop().await;
    emu.shutdown().await;
}
