//! The live roster against the emulator over loopback, with the emulator's virtual
//! clock: paging past 1 000 occupants, interval mode and `here_now_refresh`, timeouts,
//! an emulator restart on the same port, a forbidden channel, the observer rule, and
//! 200 seeded random scenarios that must end with the roster equal to here now.
#![cfg(feature = "hyper")]

mod common;

use presence::roster::Member;
use presence::Client;
use presence_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const EPOCH: Duration = Duration::from_secs(1_700_000_000);

fn client(origin: &str, user: &str) -> Client {
    Client::builder()
        .subscribe_key("demo")
        .user_id(user)
        .origin(origin)
        .build()
        .unwrap()
}

async fn emulator(announce_max: usize) -> EmulatorHandle {
    Emulator::start(
        EmulatorConfig::new()
            .paused_clock(EPOCH)
            .announce_max(announce_max)
            .interval(Duration::from_secs(2)),
    )
    .await
    .unwrap()
}

async fn here_now(reader: &Client, channel: &str) -> BTreeMap<String, Option<String>> {
    common::here_now_states(reader, channel).await
}

fn as_map(members: Vec<Member>) -> BTreeMap<String, Option<String>> {
    members
        .into_iter()
        .map(|m| (m.user_id, m.state.map(|s| s.to_string())))
        .collect()
}

/// Waits until the roster is in sync and equals here now (at most `patience`).
async fn settles(
    roster: &presence::roster::RosterStream,
    reader: &Client,
    channel: &str,
    patience: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + patience;
    loop {
        let truth = here_now(reader, channel).await;
        let got = as_map(roster.members(channel));
        if roster.is_synced() && got == truth {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "synced {}: roster {got:?} vs here now {truth:?}",
                roster.is_synced()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn roster(reader: &Client, channel: &str) -> presence::roster::RosterStream {
    reader
        .roster()
        .channels([channel])
        .resync_gap(Duration::from_millis(50))
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_of_2500_reads_every_page() {
    let emu = emulator(20).await;
    let origin = emu.origin();
    // 2 500 occupants, put in through the model (fast), then the roster reads them.
    let now = emu.now();
    emu.with_model(|m| {
        for i in 0..2500 {
            let req = http::Request::get(format!(
                "/v2/presence/sub-key/demo/channel/big/heartbeat?heartbeat=3600&uuid=u{i:04}&state=%7B%22n%22%3A{i}%7D"
            ))
            .body(())
            .unwrap();
            assert_eq!(m.handle(now, &req).status(), 200);
        }
    });
    let reader = client(&origin, "observer");
    let mut r = roster(&reader, "big");
    r.synced().await.unwrap();
    assert_eq!(r.member_count("big"), 2500);
    assert_eq!(r.members("big")[2499].to_string(), r#"u2499 {"n":2499}"#);
    let first = r.next_change().await.unwrap().unwrap();
    assert_eq!(
        first.to_string(),
        "big: resynced (start): 2500 joined, 0 left, 0 changed (occupancy 2500)"
    );
    // The observer is never an occupant.
    let present = here_now(&reader, "big").await;
    assert_eq!(present.len(), 2500);
    assert!(!present.contains_key("observer"));
    assert!(reader
        .where_now()
        .execute()
        .await
        .unwrap()
        .channels
        .is_empty());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_mode_refresh_and_timeouts() {
    let emu = emulator(5).await;
    let origin = emu.origin();
    let reader = client(&origin, "observer");
    let mut r = roster(&reader, "hall");
    r.synced().await.unwrap();
    // Twelve joins: past announce_max (5) the channel is in interval mode, and the
    // seven joins of one interval are more than announce_max: a here_now_refresh.
    for i in 0..12 {
        client(&origin, &format!("p{i}"))
            .heartbeat()
            .channels(["hall"])
            .timeout(20)
            .state(json!({"i": i}))
            .execute()
            .await
            .unwrap();
    }
    emu.advance(Duration::from_secs(3)); // the interval event (too many deltas: refresh)
    settles(&r, &reader, "hall", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(r.member_count("hall"), 12);
    let mut saw_refresh = false;
    while let Ok(Some(change)) =
        tokio::time::timeout(Duration::from_millis(200), r.next_change()).await
    {
        if let presence::roster::ChangeKind::Resynced { reason, .. } = change.unwrap().change {
            saw_refresh |= reason == presence::core::ResyncReason::HereNowRefresh;
        }
    }
    assert!(
        saw_refresh,
        "an interval with here_now_refresh made it resync"
    );
    // Everyone times out (20 s); then back below announce_max.
    emu.advance(Duration::from_secs(25));
    settles(&r, &reader, "hall", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(r.member_count("hall"), 0);
    client(&origin, "solo")
        .heartbeat()
        .channels(["hall"])
        .execute()
        .await
        .unwrap();
    settles(&r, &reader, "hall", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(r.members("hall")[0].user_id, "solo");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulator_restart_is_noticed_and_resynced() {
    let emu = emulator(20).await;
    let addr = emu.local_addr();
    let origin = emu.origin();
    let reader = client(&origin, "observer");
    client(&origin, "ann")
        .heartbeat()
        .channels(["room"])
        .execute()
        .await
        .unwrap();
    let r = roster(&reader, "room");
    settles(&r, &reader, "room", Duration::from_secs(10))
        .await
        .unwrap();
    let now = emu.now();
    emu.shutdown().await;
    // The same port, the clock where it was; ann is gone (events lost), bob is new.
    let emu = Emulator::start(
        EmulatorConfig::new()
            .listen(addr)
            .paused_clock(now + Duration::from_secs(1)),
    )
    .await
    .unwrap();
    client(&origin, "bob")
        .heartbeat()
        .channels(["room"])
        .execute()
        .await
        .unwrap();
    settles(&r, &reader, "room", Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(r.members("room")[0].user_id, "bob");
    assert_eq!(r.member_count("room"), 1);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_roster_ends_with_its_error() {
    let emu = Emulator::start(EmulatorConfig::new().keyset(common::pam_keyset("tok", &["open"])))
        .await
        .unwrap();
    let reader = common::pam_client(&emu.origin(), "observer", "tok")
        .build()
        .unwrap();
    let mut r = reader.roster().channels(["closed"]).start().unwrap();
    let end = tokio::time::timeout(Duration::from_secs(2), r.next_change())
        .await
        .expect("the 403 within 2 s");
    match end {
        Some(Err(failure)) => assert_eq!(failure.service_error().unwrap().status, 403),
        other => panic!("{other:?}"),
    }
    assert!(r.next_change().await.is_none());
    emu.shutdown().await;
}

/// A tiny deterministic generator for the scenarios (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) % n.max(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_random_scenarios_end_equal_to_here_now() {
    const SCENARIOS: u64 = 200;
    let emu = emulator(4).await;
    let origin = emu.origin();
    let reader = client(&origin, "observer");
    let users: Vec<Client> = (0..8).map(|i| client(&origin, &format!("s{i}"))).collect();
    let mut mismatches = Vec::new();
    for seed in 0..SCENARIOS {
        let mut rng = Rng(seed * 0x9E37_79B9 + 1);
        let channel = format!("scene-{seed}");
        let r = roster(&reader, &channel);
        for _ in 0..(5 + rng.below(10)) {
            let user = &users[rng.below(users.len() as u64) as usize];
            match rng.below(6) {
                0 | 1 => {
                    let mut hb = user.heartbeat().channels([channel.as_str()]).timeout(20);
                    if rng.below(2) == 0 {
                        hb = hb.state(json!({"v": rng.below(5)}));
                    }
                    hb.execute().await.unwrap();
                }
                2 => user
                    .leave()
                    .channels([channel.as_str()])
                    .execute()
                    .await
                    .unwrap(),
                3 => {
                    user.set_state()
                        .channels([channel.as_str()])
                        .state(json!({"s": rng.below(5)}))
                        .execute()
                        .await
                        .unwrap();
                }
                4 => emu.advance(Duration::from_secs(rng.below(4))),
                _ => emu.advance(Duration::from_secs(21)), // everyone times out
            }
            if rng.below(3) == 0 {
                tokio::time::sleep(Duration::from_millis(rng.below(5))).await;
            }
        }
        // Let the interval of interval mode (2 s) pass, so the last deltas go out.
        emu.advance(Duration::from_secs(3));
        if let Err(e) = settles(&r, &reader, &channel, Duration::from_secs(10)).await {
            mismatches.push(format!("seed {seed}: {e}"));
        }
        r.stop();
    }
    println!(
        "{SCENARIOS} scenarios, {} mismatches{}",
        mismatches.len(),
        mismatches
            .iter()
            .map(|m| format!("\n  {m}"))
            .collect::<String>()
    );
    assert!(mismatches.is_empty(), "{mismatches:?}");
    emu.shutdown().await;
}
