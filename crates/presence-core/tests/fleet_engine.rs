//! Tests of the fleet engine: spread, sharing, per-user failures, the bound, and
//! how events and counters print.

use presence_core::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const OK: &[u8] = br#"{"status": 200, "message": "OK", "service": "Presence"}"#;
const FORBIDDEN: &[u8] =
    br#"{"status": 403, "message": "Forbidden", "error": true, "service": "Access Manager"}"#;

fn user(id: &str) -> FleetUser {
    FleetUser::new(UserId::new(id).unwrap())
        .channels(["arena"])
        .timeout(60)
}

fn ok() -> http::Response<&'static [u8]> {
    http::Response::new(OK)
}

/// Sends and answers (instantly, with 200) everything due up to `until`, stepping
/// through the engine's timeouts; returns the times heartbeats went.
fn run(fleet: &mut FleetEngine, now: &mut Instant, until: Instant) -> Vec<Instant> {
    let mut sent = Vec::new();
    loop {
        while let Some(tx) = fleet.poll_request(*now) {
            if matches!(tx.op, HeartbeatRequest::Heartbeat(_)) {
                sent.push(*now);
            }
            fleet.handle_response(*now, tx.id, &ok());
        }
        match fleet.poll_timeout() {
            Some(t) if t <= until => {
                *now = t.max(*now);
                fleet.handle_timeout(*now);
            }
            _ => {
                *now = until;
                return sent;
            }
        }
    }
}

#[test]
fn a_burst_is_spread_over_one_interval_and_stays_spread() {
    let t0 = epoch();
    let mut now = t0;
    let mut fleet = FleetEngine::new(FleetConfig::new());
    for i in 0..1000 {
        fleet.add(now, user(&format!("u{i}"))).unwrap();
    }
    // Timeout 60: interval 29 s, so 1000 / 29 ≈ 34.5 heartbeats a second.
    let interval = Duration::from_secs(29);
    let sent = run(&mut fleet, &mut now, t0 + interval * 4);
    let per_second = |from: u64| {
        sent.iter()
            .filter(|t| {
                let s = t.duration_since(t0).as_secs();
                s == from
            })
            .count()
    };
    for second in 0..(29 * 4) {
        let n = per_second(second) as f64;
        assert!(
            (27.6..=41.4).contains(&n),
            "second {second}: {n} heartbeats, not within 20 % of 34.5"
        );
    }
    assert_eq!(fleet.stats().present, 1000);
    assert_eq!(fleet.profile_count(), 1, "1000 users share one profile");
}

/// A driver on 1 ms timers that stalls for 5 s at the start (a process busy adding
/// its users, a starved machine): the backlog of first heartbeats goes at twice the
/// steady rate, in small bursts, and every user keeps its slot in the release schedule
/// as its phase, so from the second interval on the fleet is as spread as if nothing
/// had happened. (Shifting the schedule by the stall instead, the tail of the release
/// overlaps the second interval's heartbeats: twice the rate for 5 s.)
#[test]
fn a_late_driver_catches_up_and_the_fleet_is_spread_again() {
    let t0 = epoch();
    let tick = Duration::from_millis(1);
    let (stall_from, stall_to) = (t0 + Duration::from_secs(1), t0 + Duration::from_secs(6));
    let mut fleet = FleetEngine::new(FleetConfig::new());
    let users: u32 = 10_000;
    for i in 0..users {
        fleet.add(t0, user(&format!("u{i}"))).unwrap();
    }
    let interval = Duration::from_secs(29);
    let mut sent: Vec<Instant> = Vec::new();
    let mut bursts: Vec<(Instant, usize)> = Vec::new();
    let mut now = t0;
    while now < t0 + interval * 3 {
        let before = sent.len();
        while let Some(tx) = fleet.poll_request(now) {
            if matches!(tx.op, HeartbeatRequest::Heartbeat(_)) {
                sent.push(now);
            }
            fleet.handle_response(now, tx.id, &ok());
        }
        bursts.push((now, sent.len() - before));
        let due = fleet
            .poll_timeout()
            .expect("a fleet always has a next heartbeat");
        // Coarse timers: the driver wakes on the next whole tick at or after the due
        // time, and not at all during the stall.
        let mut wake = (due.max(now + tick) - t0).as_millis();
        wake = wake.max((now - t0).as_millis() + 1);
        now = t0 + Duration::from_millis(wake as u64);
        if now > stall_from && now < stall_to {
            now = stall_to;
        }
        fleet.handle_timeout(now);
    }
    let gap = interval / users;
    // At twice the steady rate, RELEASE_CREDIT (10 ms) of pace lets this many go at once.
    let credit = (2 * Duration::from_millis(10).as_nanos() / gap.as_nanos()) as usize + 2;
    let worst = bursts.iter().map(|&(_, n)| n).max().unwrap();
    assert!(
        worst <= credit,
        "{worst} heartbeats at one wake-up (at most {credit})"
    );
    let released_by = sent[users as usize - 1];
    assert!(
        released_by < t0 + interval,
        "every first heartbeat within the first interval (the last at {:?})",
        released_by - t0
    );
    let rate = f64::from(users) / interval.as_secs_f64();
    for second in 29..(29 * 3) {
        let n = sent
            .iter()
            .filter(|t| t.duration_since(t0).as_secs() == second)
            .count() as f64;
        assert!(
            (rate * 0.8..=rate * 1.2).contains(&n),
            "second {second}: {n} heartbeats, not within 20 % of {rate:.1}"
        );
    }
    assert_eq!(fleet.stats().present, users as usize);
}

#[test]
fn a_user_added_to_a_quiet_fleet_goes_at_once() {
    let now = epoch();
    let mut fleet = FleetEngine::new(FleetConfig::new());
    fleet.add(now, user("solo")).unwrap();
    assert!(fleet.poll_request(now).is_some());
}

#[test]
fn a_403_stops_that_user_only() {
    let t0 = epoch();
    let mut fleet = FleetEngine::new(FleetConfig::new());
    fleet.add(t0, user("bad")).unwrap();
    fleet.add(t0, user("good")).unwrap();
    let mut now = t0;
    let mut answered = 0;
    while answered < 2 {
        if let Some(tx) = fleet.poll_request(now) {
            let HeartbeatRequest::Heartbeat(op) = &tx.op else {
                panic!("a heartbeat first")
            };
            let bad = sealed_user(op) == "bad";
            let body = if bad { FORBIDDEN } else { OK };
            let status = if bad { 403 } else { 200 };
            let resp = http::Response::builder().status(status).body(body).unwrap();
            fleet.handle_response(now, tx.id, &resp);
            answered += 1;
        } else {
            now = fleet.poll_timeout().unwrap();
            fleet.handle_timeout(now);
        }
    }
    let events: Vec<String> = std::iter::from_fn(|| fleet.poll_event())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        events,
        [
            "bad gave up: Access Manager error 403: Forbidden",
            "good present"
        ]
    );
    assert_eq!(fleet.user("bad"), Some(UserStatus::GaveUp));
    assert_eq!(fleet.user("good"), Some(UserStatus::Present));
    // The good user goes on; the bad one is never sent again.
    let until = now + Duration::from_secs(100);
    let sent = run(&mut fleet, &mut now, until);
    assert_eq!(sent.len(), 3, "good, every 29 s");
    // Adding the bad user again starts it again.
    fleet.add(now, user("bad")).unwrap();
    assert_eq!(fleet.user("bad"), Some(UserStatus::Starting));
    assert!(fleet.poll_request(now).is_some());
}

/// The user id a heartbeat is sent for, as its request carries it.
fn sealed_user(op: &Heartbeat) -> String {
    let config = Config::new(Keyset::new("k"), UserId::new("client").unwrap());
    let req = op.to_request(&config, &RequestMeta::new(0)).unwrap();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let uuid = query
        .split('&')
        .find_map(|p| p.strip_prefix("uuid="))
        .expect("a uuid parameter");
    percent_encoding::percent_decode_str(uuid)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[test]
fn the_bound_holds_and_no_timeout_is_offered_while_it_does() {
    let mut now = epoch();
    let mut fleet = FleetEngine::new(FleetConfig::new().max_in_flight(3));
    for i in 0..10 {
        fleet.add(now, user(&format!("u{i}"))).unwrap();
    }
    // Nothing is answered: three go out (one per 2.9 s), then the engine waits.
    let mut held = Vec::new();
    loop {
        while let Some(tx) = fleet.poll_request(now) {
            held.push(tx);
        }
        match fleet.poll_timeout() {
            Some(t) => {
                now = t;
                fleet.handle_timeout(now);
            }
            None => break,
        }
    }
    assert_eq!(held.len(), 3);
    assert_eq!(fleet.stats().in_flight, 3);
    // An answer frees a slot: the next release is offered again.
    fleet.handle_response(now, held[0].id, &ok());
    assert!(fleet.poll_timeout().is_some());
}

#[test]
fn an_update_heartbeats_the_new_set_and_leaves_the_old() {
    let now = epoch();
    let config = crate::Config::new(crate::Keyset::new("k"), UserId::new("driver").unwrap());
    let mut fleet = FleetEngine::new(FleetConfig::new());
    fleet.add(now, user("ann")).unwrap();
    let tx = fleet.poll_request(now).unwrap();
    fleet.handle_response(now, tx.id, &ok());
    let moved = FleetUser::new(UserId::new("ann").unwrap())
        .channels(["lobby"])
        .state(json!({"mood": "ok"}))
        .timeout(60);
    assert!(!fleet.add(now, moved).unwrap());
    let paths: Vec<String> = std::iter::from_fn(|| {
        let tx = fleet.poll_request(now)?;
        let req = tx
            .op
            .to_request(&config, &crate::RequestMeta::new(0))
            .unwrap();
        fleet.handle_response(now, tx.id, &ok());
        Some(req.uri().to_string())
    })
    .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths[0].contains("/channel/arena/leave?") && paths[0].contains("uuid=ann"));
    assert!(paths[1].contains("/channel/lobby/heartbeat?") && paths[1].contains("state="));
    assert_eq!(fleet.profile_count(), 1, "the old profile is forgotten");
}

#[test]
fn invalid_users_are_refused_and_change_nothing() {
    let now = epoch();
    let mut fleet = FleetEngine::new(FleetConfig::new());
    let none = FleetUser::new(UserId::new("x").unwrap());
    assert!(matches!(
        fleet.add(now, none),
        Err(Error::InvalidInput { .. })
    ));
    let bad_state = user("x").state(json!([1]));
    let err = fleet.add(now, bad_state).unwrap_err();
    assert!(err.to_string().contains("state"), "{err}");
    assert_eq!(fleet.stats().users, 0);
}

#[test]
fn stop_leaves_everyone_then_reports_stopped() {
    let now = epoch();
    let mut fleet = FleetEngine::new(FleetConfig::new());
    fleet.add(now, user("a")).unwrap();
    let tx = fleet.poll_request(now).unwrap();
    fleet.add(now, user("b")).unwrap(); // queued, never sent: nothing to leave
    fleet.stop(now, true);
    // a's heartbeat is in flight: its leave waits for the answer.
    assert!(fleet.poll_request(now).is_none());
    fleet.handle_response(now, tx.id, &ok());
    let leave = fleet.poll_request(now).unwrap();
    assert!(matches!(leave.op, HeartbeatRequest::Leave(_)));
    fleet.handle_response(now, leave.id, &ok());
    let events: Vec<String> = std::iter::from_fn(|| fleet.poll_event())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(events, ["b removed", "a removed", "stopped"]);
    assert!(fleet.is_stopped());
    assert!(!fleet.add(now, user("c")).unwrap(), "ignored after stop");
}

#[test]
fn stats_and_events_print_and_serialise() {
    let mut stats = FleetStats::default();
    stats.users = 3;
    stats.present = 2;
    stats.retrying = 1;
    stats.heartbeats = 10;
    stats.heartbeat_errors = 1;
    stats.latency_p50 = Some(Duration::from_micros(1200));
    stats.latency_p99 = Some(Duration::from_micros(4000));
    assert_eq!(
        stats.to_string(),
        "3 users: 2 present, 1 retrying; 10 heartbeats, 1 errors; p50 1.2 ms, p99 4.0 ms"
    );
    let v = serde_json::to_value(&stats).unwrap();
    assert_eq!(v["latency_p50_us"], 1200);
    assert_eq!(v["present"], 2);
    let failed = FleetEvent::Failed {
        user_id: "u1".into(),
        failure: Failure::Transport(presence_core::TransportFailure::new(
            presence_core::TransportFailureKind::Connect,
            "refused",
        )),
        retry_in: Duration::from_millis(1500),
    };
    assert_eq!(
        failed.to_string(),
        "u1 failed: transport error (connect): refused (retry in 1.5 s)"
    );
    assert_eq!(
        serde_json::to_value(&failed).unwrap(),
        json!({"event": "failed", "user_id": "u1", "error": "transport error (connect): refused", "retry_in_ms": 1500})
    );
    assert_eq!(
        serde_json::to_value(FleetEvent::Stopped).unwrap(),
        json!({"event": "stopped"})
    );
}
