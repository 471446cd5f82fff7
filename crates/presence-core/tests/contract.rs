//! The six contract scenarios of PubNub's presence event engine feature file, as our
//! own tests over the heartbeat engine's transition log (`record_transitions`).
//!
//! Source read: the feature file `presence-engine.feature` (`@featureSet=presenceEventEngine`),
//! as copied into pubnub/c-sharp at commit 2d1b5adf27f8692c5075b7b2fb6067d09e83e145,
//! path `src/UnitTests/AcceptanceTests/Features/event-engine/presence-engine.feature`
//! (there commented out line by line; the scenarios are those of the SDK
//! specifications). Each test quotes the feature file's expected rows (`FEATURE`) and
//! compares them with our log, flattened into the same vocabulary (events are our
//! inputs, invocations our effects). Where we differ on purpose the test says so and
//! builds the expected log from the feature's rows with that one change, so a new
//! difference fails the test:
//! - after `TIMES_UP` there is no `CANCEL_WAIT`: the wait ran out, nothing is left to
//!   cancel;
//! - a retry is our `DELAYED_HEARTBEAT` (a timer) followed by `TIMES_UP` and the
//!   `HEARTBEAT` itself, where the feature file's `DELAYED_HEARTBEAT` invocation is the
//!   timer and the request in one; and a timer that ran out is not cancelled
//!   (`CANCEL_DELAYED_HEARTBEAT`);
//! - our retry policy is exponential backoff with jitter (never faster than the 1 s
//!   floor, never slower than the interval) rather than "linear with 3 retries", and
//!   the give-up needs more than `max_retries` (3) consecutive failures **and** that
//!   they span the presence timeout, so a user who is still present on the service
//!   is never given up on after a few seconds of errors.

use presence_core::{
    Failure, HeartbeatConfig, HeartbeatEffect, HeartbeatEngine, HeartbeatInput, HeartbeatRequest,
    HeartbeatState, HeartbeatTransition, TransportFailure, TransportFailureKind,
};
use std::time::{Duration, Instant};

#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const OK: &[u8] = br#"{"status": 200, "message": "OK", "service": "Presence"}"#;
const CHANNELS: [&str; 3] = ["first", "second", "third"];

/// `heartbeatInterval set to 'i', timeout set to 't' and suppressLeaveEvents set to 'false'`.
fn engine(interval: u64, timeout: u32) -> HeartbeatEngine {
    let mut config = HeartbeatConfig::new(timeout);
    config.interval = Some(Duration::from_secs(interval));
    config.suppress_leave = false;
    let mut e = HeartbeatEngine::new(config);
    e.record_transitions(10_000);
    e
}

/// How the test origin answers a request: with a response, a failure, or not yet.
enum Answer {
    Ok,
    Fail(Failure),
    Never,
}

fn unavailable() -> Failure {
    Failure::Transport(TransportFailure::new(
        TransportFailureKind::Connect,
        "connection refused",
    ))
}

/// Drives the engine from `now` to `end`: every request is answered at once by
/// `answer`, every deadline is honoured exactly. Returns the time reached.
fn drive(
    e: &mut HeartbeatEngine,
    mut now: Instant,
    end: Instant,
    answer: &mut dyn FnMut(&HeartbeatRequest) -> Answer,
) -> Instant {
    loop {
        while let Some(tx) = e.poll_request(now) {
            match answer(&tx.op) {
                Answer::Ok => e.handle_response(now, tx.id, &http::Response::new(OK)),
                Answer::Fail(f) => e.handle_failure(now, tx.id, f),
                Answer::Never => {}
            }
        }
        match e.poll_timeout() {
            Some(t) if t <= end => {
                assert!(t > now, "a deadline in the past: {t:?} at {now:?}");
                now = t;
                e.handle_timeout(now);
            }
            _ => return now,
        }
    }
}

fn log(e: &mut HeartbeatEngine) -> Vec<HeartbeatTransition> {
    std::iter::from_fn(|| e.poll_transition()).collect()
}

/// The log in the feature file's vocabulary: each input's event name (inputs the
/// feature file has no event for, such as a leave's answer, are left out), then its
/// effects' invocation names.
fn feature_rows(log: &[HeartbeatTransition]) -> Vec<&'static str> {
    let mut rows = Vec::new();
    for t in log {
        let event = match &t.input {
            HeartbeatInput::Joined { .. } => Some("JOINED"),
            HeartbeatInput::Left { .. } => Some("LEFT"),
            HeartbeatInput::LeftAll => Some("LEFT_ALL"),
            HeartbeatInput::Disconnect => Some("DISCONNECT"),
            HeartbeatInput::Reconnect => Some("RECONNECT"),
            HeartbeatInput::HeartbeatSucceeded { .. } => Some("HEARTBEAT_SUCCESS"),
            HeartbeatInput::HeartbeatFailed { .. } => Some("HEARTBEAT_FAILURE"),
            HeartbeatInput::TimesUp => Some("TIMES_UP"),
            _ => None,
        };
        rows.extend(event);
        for effect in &t.effects {
            rows.push(match effect {
                HeartbeatEffect::Heartbeat { .. } => "HEARTBEAT",
                HeartbeatEffect::Leave { .. } => "LEAVE",
                HeartbeatEffect::Wait { .. } => "WAIT",
                HeartbeatEffect::Retry { .. } => "DELAYED_HEARTBEAT",
                HeartbeatEffect::CancelWait => "CANCEL_WAIT",
                HeartbeatEffect::GiveUp { .. } => "HEARTBEAT_GIVEUP",
                other => panic!("unknown effect {other:?}"),
            });
        }
    }
    rows
}

/// `rows` without the `CANCEL_WAIT` that follows each `TIMES_UP` (our first difference).
fn no_cancel_after_times_up(rows: &[&'static str]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for &r in rows {
        if r == "CANCEL_WAIT" && out.last() == Some(&"TIMES_UP") {
            continue;
        }
        out.push(r);
    }
    out
}

/// `@contract=presenceTestMultipleWait`: interval 1, timeout 60; join three channels,
/// wait 3 s.
#[test]
fn presence_test_multiple_wait() {
    const FEATURE: &[&str] = &[
        "JOINED",
        "HEARTBEAT",
        "HEARTBEAT_SUCCESS",
        "WAIT",
        "TIMES_UP",
        "CANCEL_WAIT",
        "HEARTBEAT",
        "HEARTBEAT_SUCCESS",
        "WAIT",
        "TIMES_UP",
        "CANCEL_WAIT",
        "HEARTBEAT",
    ];
    let t0 = epoch();
    let mut e = engine(1, 60);
    e.join(t0, CHANNELS, Vec::<String>::new());
    // The feature's log stops at the third heartbeat: it is still in flight when the
    // 3 s are over. Ours: answer the first two at once, leave the third unanswered.
    let mut sent = 0;
    drive(&mut e, t0, t0 + Duration::from_secs(3), &mut |_| {
        sent += 1;
        if sent < 3 {
            Answer::Ok
        } else {
            Answer::Never
        }
    });
    let log = log(&mut e);
    assert_eq!(feature_rows(&log), no_cancel_after_times_up(FEATURE));
    // One heartbeat per second, each with the three channels, exactly on time.
    let beats: Vec<(Duration, &Vec<String>)> = log
        .iter()
        .flat_map(|t| {
            t.effects.iter().filter_map(move |e| match e {
                HeartbeatEffect::Heartbeat { channels, .. } => Some((t.at - t0, channels)),
                _ => None,
            })
        })
        .collect();
    let secs: Vec<u64> = beats.iter().map(|(d, _)| d.as_secs()).collect();
    assert_eq!(secs, [0, 1, 2]);
    for (_, channels) in beats {
        assert_eq!(channels, &["first", "second", "third"]);
    }
    assert_eq!(e.state(), HeartbeatState::Heartbeating);
}

/// `@contract=presenceJoin`: interval 1, timeout 60; join three channels; wait for the
/// join.
#[test]
fn presence_join() {
    const FEATURE: &[&str] = &["JOINED", "HEARTBEAT", "HEARTBEAT_SUCCESS", "WAIT"];
    let t0 = epoch();
    let mut e = engine(1, 60);
    e.join(t0, CHANNELS, Vec::<String>::new());
    let tx = e.poll_request(t0).expect("the heartbeat");
    e.handle_response(t0, tx.id, &http::Response::new(OK));
    let log = log(&mut e);
    assert_eq!(feature_rows(&log), FEATURE, "no difference here");
    assert_eq!(
        log.iter().map(|t| (t.from, t.to)).collect::<Vec<_>>(),
        [
            (HeartbeatState::Inactive, HeartbeatState::Heartbeating),
            (HeartbeatState::Heartbeating, HeartbeatState::Cooldown),
        ]
    );
    assert_eq!(
        log[1].effects,
        [HeartbeatEffect::Wait {
            until: t0 + Duration::from_secs(1)
        }]
    );
}

/// `@contract=presenceJoinWithAnError`: interval 1, timeout 60, "a linear reconnection
/// policy with 3 retries"; the first heartbeat fails, the retry succeeds.
#[test]
fn presence_join_with_an_error() {
    const FEATURE: &[&str] = &[
        "JOINED",
        "HEARTBEAT",
        "HEARTBEAT_FAILURE",
        "DELAYED_HEARTBEAT",
        "HEARTBEAT_SUCCESS",
        "CANCEL_DELAYED_HEARTBEAT",
        "WAIT",
    ];
    let t0 = epoch();
    let mut e = engine(1, 60);
    e.join(t0, CHANNELS, Vec::<String>::new());
    let mut n = 0;
    let end = drive(&mut e, t0, t0 + Duration::from_millis(1500), &mut |_| {
        n += 1;
        if n == 1 {
            Answer::Fail(unavailable())
        } else {
            Answer::Ok
        }
    });
    assert!(end < t0 + Duration::from_millis(1500));
    let log = log(&mut e);
    // Ours: the delayed heartbeat is a timer, then TIMES_UP and the HEARTBEAT; the
    // timer has run out by the success, so there is nothing to cancel.
    let ours: Vec<&str> = FEATURE
        .iter()
        .flat_map(|&r| match r {
            "DELAYED_HEARTBEAT" => vec!["DELAYED_HEARTBEAT", "TIMES_UP", "HEARTBEAT"],
            "CANCEL_DELAYED_HEARTBEAT" => vec![],
            r => vec![r],
        })
        .collect();
    assert_eq!(feature_rows(&log), ours);
    // The retry waited for the floor (1 s after the failed heartbeat started): our
    // backoff, not the feature file's linear policy.
    assert!(matches!(
        log[1].effects[..],
        [HeartbeatEffect::Retry { until, attempt: 1 }] if until == t0 + Duration::from_secs(1)
    ));
    assert_eq!(e.state(), HeartbeatState::Cooldown);
}

/// `@contract=presenceJoinWithContinuousFailures`: interval 1, timeout 60, "a linear
/// reconnection policy with 3 retries"; every heartbeat fails.
#[test]
fn presence_join_with_continuous_failures() {
    const FEATURE: &[&str] = &[
        "JOINED",
        "HEARTBEAT",
        "HEARTBEAT_FAILURE",
        "DELAYED_HEARTBEAT",
        "HEARTBEAT_FAILURE",
        "CANCEL_DELAYED_HEARTBEAT",
        "DELAYED_HEARTBEAT",
        "HEARTBEAT_FAILURE",
        "CANCEL_DELAYED_HEARTBEAT",
        "DELAYED_HEARTBEAT",
        "HEARTBEAT_FAILURE",
        "CANCEL_DELAYED_HEARTBEAT",
        "DELAYED_HEARTBEAT",
        "HEARTBEAT_GIVEUP",
        "CANCEL_DELAYED_HEARTBEAT",
    ];
    let t0 = epoch();
    let mut e = engine(1, 60);
    e.join(t0, CHANNELS, Vec::<String>::new());
    let end = drive(&mut e, t0, t0 + Duration::from_secs(3600), &mut |_| {
        Answer::Fail(unavailable())
    });
    let log = log(&mut e);
    let rows = feature_rows(&log);
    // The feature file gives up after 1 heartbeat + 3 retries. We give up once more
    // than 3 retries have failed *and* the failures span the 60 s presence timeout:
    // with the 1 s floor and a 1 s interval, a retry every second, so the 61st failure
    // (60 s after the first) is the last.
    let failures = rows.iter().filter(|r| **r == "HEARTBEAT_FAILURE").count();
    assert_eq!(failures, 61);
    assert_eq!(end, t0 + Duration::from_secs(60));
    // The same cycle as the feature file's, in our vocabulary: a failure schedules a
    // delayed heartbeat, which runs out (TIMES_UP) and heartbeats; the last failure
    // gives up instead of scheduling one.
    let mut ours = vec!["JOINED", "HEARTBEAT"];
    for _ in 0..60 {
        ours.extend([
            "HEARTBEAT_FAILURE",
            "DELAYED_HEARTBEAT",
            "TIMES_UP",
            "HEARTBEAT",
        ]);
    }
    ours.extend(["HEARTBEAT_FAILURE", "HEARTBEAT_GIVEUP"]);
    assert_eq!(rows, ours);
    // The feature's first four failures are ours too, before the give-up differs.
    let feature_failures = FEATURE
        .iter()
        .filter(|r| **r == "HEARTBEAT_FAILURE")
        .count();
    assert_eq!(feature_failures, 4);
    assert_eq!(e.state(), HeartbeatState::Failed);
    let last = log.last().unwrap();
    assert_eq!(last.effects, [HeartbeatEffect::GiveUp { failures: 61 }]);
    assert_eq!(
        (last.from, last.to),
        (HeartbeatState::Heartbeating, HeartbeatState::Failed)
    );
    // Nothing more is sent until an input resumes it.
    assert!(e.poll_request(end + Duration::from_secs(3600)).is_none());
    assert_eq!(e.poll_timeout(), None);
}

/// `@contract=presenceLeave`: interval 20, timeout 60; join three channels, wait for
/// the join, leave `first` and `second`, wait 3 s.
#[test]
fn presence_leave() {
    const FEATURE: &[&str] = &[
        "JOINED",
        "HEARTBEAT",
        "HEARTBEAT_SUCCESS",
        "WAIT",
        "LEFT",
        "CANCEL_WAIT",
        "LEAVE",
        "HEARTBEAT",
        "HEARTBEAT_SUCCESS",
        "WAIT",
    ];
    let t0 = epoch();
    let mut e = engine(20, 60);
    e.join(t0, CHANNELS, Vec::<String>::new());
    let now = drive(&mut e, t0, t0 + Duration::from_secs(2), &mut |_| Answer::Ok);
    assert_eq!(now, t0, "the next heartbeat is 20 s away");
    let left_at = t0 + Duration::from_secs(2);
    e.left(left_at, ["first", "second"], Vec::<String>::new());
    let mut sent = Vec::new();
    drive(
        &mut e,
        left_at,
        left_at + Duration::from_secs(3),
        &mut |op| {
            sent.push(op.name());
            Answer::Ok
        },
    );
    assert_eq!(sent, ["leave", "heartbeat"], "the leave, then what is left");
    let log = log(&mut e);
    assert_eq!(feature_rows(&log), FEATURE, "no difference here");
    let effects = &log[2].effects;
    assert!(
        matches!(&effects[..], [
            HeartbeatEffect::CancelWait,
            HeartbeatEffect::Leave { channels: left, .. },
            HeartbeatEffect::Heartbeat { channels: kept, .. },
        ] if left == &["first", "second"] && kept == &["third"]),
        "{effects:?}"
    );
    assert_eq!(e.channels().collect::<Vec<_>>(), ["third"]);
}

/// `@contract=presenceJoinWithHeartbeatDisabled`: interval 0, timeout 60; join three
/// channels; nothing is observed.
#[test]
fn presence_join_with_heartbeat_disabled() {
    let t0 = epoch();
    let mut e = engine(0, 60);
    e.join(t0, CHANNELS, Vec::<String>::new());
    let end = drive(&mut e, t0, t0 + Duration::from_secs(3600), &mut |op| {
        panic!("nothing is sent, not even {}", op.name())
    });
    assert_eq!(end, t0);
    assert_eq!(e.poll_transition(), None, "no events, no invocations");
    assert_eq!(e.poll_event(), None);
    assert_eq!(e.state(), HeartbeatState::Inactive);
}
