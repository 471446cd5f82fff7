//! Our heartbeat handle (`client.presence()`) against the emulator under a `503` fault
//! rule on heartbeat: it backs off (each retry delay in its jittered exponential range,
//! never above the interval), recovers once the rule is cleared, and its occupant never
//! times out, because the faults last less than the presence timeout.
//!
//! The handle runs on the real clock (the facade has no virtual time), so the emulator
//! does too: the outage is real seconds (at most 1 + 2 + 3 s of backoff plus a 3 s
//! interval), well inside the 20 s presence timeout. Nothing here measures time; the
//! retry delays are the engine's own report of what it will wait.
#![cfg(feature = "hyper")]

use presence::heartbeat::HeartbeatEvent;
use presence::Failure;
use presence_emulator::{Emulator, EmulatorConfig, FaultRule};
use std::time::Duration;

const INTERVAL: Duration = Duration::from_secs(3);

/// The next event that is not a state change (bounded, so a stuck loop fails the test
/// instead of hanging it).
async fn next(handle: &mut presence::heartbeat::PresenceHandle) -> HeartbeatEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(15), handle.next_event())
            .await
            .expect("an event within 15 s")
            .expect("the loop is running");
        if !matches!(event, HeartbeatEvent::StateChanged(_)) {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_backs_off_under_503_recovers_and_its_occupant_never_times_out() {
    let emu = Emulator::start(EmulatorConfig::new()).await.unwrap();
    let ann = presence::Client::builder()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(emu.origin())
        .build()
        .unwrap();
    let present = || emu.with_model(|m| m.occupancy("demo", "lobby"));
    let events = || emu.with_model(|m| m.events_generated());

    let mut handle = ann
        .presence()
        .channels(["lobby"])
        .timeout(20)
        .interval(INTERVAL)
        .connected(true)
        .unwrap();
    assert!(matches!(next(&mut handle).await, HeartbeatEvent::Succeeded));
    assert_eq!((present(), events()), (1, 1), "ann joined");

    let rule: FaultRule = "op=heartbeat,status=503".parse().unwrap();
    emu.set_faults(vec![rule]);
    // Three failures, each retry later than the one before could have been: retry k
    // waits within [full/2, full], full = min(1 s * 2^k, interval).
    for attempt in 0..3u32 {
        match next(&mut handle).await {
            HeartbeatEvent::Failed {
                failure: Failure::Response(e),
                retry_in: Some(retry_in),
            } => {
                assert_eq!(e.status(), Some(503), "{e:?}");
                let full = Duration::from_secs(1 << attempt).min(INTERVAL);
                assert!(
                    retry_in >= full / 2 && retry_in <= full,
                    "retry {attempt}: {retry_in:?} not in [{:?}, {full:?}]",
                    full / 2
                );
            }
            other => panic!("failure {attempt}: {other:?}"),
        }
        assert_eq!(present(), 1, "ann still present after failure {attempt}");
    }

    emu.clear_faults();
    assert!(matches!(next(&mut handle).await, HeartbeatEvent::Succeeded));
    assert_eq!(present(), 1);
    // Still the one join: no timeout, no leave and no second join in between.
    assert_eq!(events(), 1);
    handle.stop().await;
    assert_eq!(present(), 0);
    emu.shutdown().await;
}
