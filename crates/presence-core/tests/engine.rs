//! Engine tests with virtual time: table-driven over state × input.

use presence_core::RequestId;
use presence_core::{Config, Keyset, PresenceEvent, RequestMeta, UserId};
use presence_core::{
    HeartbeatConfig, HeartbeatEngine, HeartbeatEvent, HeartbeatRequest, HeartbeatState as S,
};
use presence_core::{WatchConfig, WatchEngine, WatchEvent, WatchState};
use std::time::{Duration, Instant};

/// The virtual epoch: read once per test; every later time is computed from it.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const OK: &str = r#"{"status": 200, "message": "OK", "service": "Presence"}"#;

fn resp(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn err(status: u16) -> http::Response<Vec<u8>> {
    resp(
        status,
        &format!(r#"{{"status": {status}, "error": 1, "message": "x", "service": "Presence"}}"#),
    )
}

/// Drains requests, returning their kinds and the heartbeat id if any.
fn drain(e: &mut HeartbeatEngine, now: Instant) -> (Vec<&'static str>, Option<RequestId>) {
    let mut kinds = Vec::new();
    let mut hb = None;
    while let Some(tx) = e.poll_request(now) {
        kinds.push(tx.op.name());
        if matches!(tx.op, HeartbeatRequest::Heartbeat(_)) {
            hb = Some(tx.id);
        }
    }
    (kinds, hb)
}

#[derive(Clone, Copy, Debug)]
enum Start {
    Inactive,
    Heartbeating,
    Cooldown,
    Failed,
    Stopped,
}

/// Puts an engine (channels a, b) in `start`; returns it and the in-flight heartbeat id.
fn engine_in(start: Start, t0: Instant) -> (HeartbeatEngine, Option<RequestId>) {
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    if let Start::Inactive = start {
        return (e, None);
    }
    e.join(t0, ["a", "b"], Vec::<String>::new());
    let (_, id) = drain(&mut e, t0);
    let id = id.unwrap();
    match start {
        Start::Heartbeating => return (e, Some(id)),
        Start::Cooldown => e.handle_response(t0, id, &resp(200, OK)),
        Start::Failed => e.handle_response(t0, id, &err(403)),
        Start::Stopped => {
            e.handle_response(t0, id, &resp(200, OK));
            e.disconnect(t0);
            let leave = e.poll_request(t0).expect("the leave");
            e.handle_response(t0, leave.id, &resp(200, OK));
        }
        Start::Inactive => unreachable!(),
    }
    while e.poll_event().is_some() {}
    (e, None)
}

#[derive(Clone, Copy, Debug)]
enum Input {
    JoinNew,
    JoinExisting,
    LeftOne,
    LeftAll,
    Disconnect,
    Reconnect,
    Success,
    ServerError,
    Forbidden,
    Transport,
    Cancelled,
    TimeoutDue,
}

fn apply(e: &mut HeartbeatEngine, id: Option<RequestId>, input: Input, t: Instant) {
    let id = id.unwrap_or(999);
    match input {
        Input::JoinNew => e.join(t, ["c"], Vec::<String>::new()),
        Input::JoinExisting => e.join(t, ["a"], Vec::<String>::new()),
        Input::LeftOne => e.left(t, ["a"], Vec::<String>::new()),
        Input::LeftAll => e.left_all(t),
        Input::Disconnect => e.disconnect(t),
        Input::Reconnect => e.reconnect(t),
        Input::Success => e.handle_response(t, id, &resp(200, OK)),
        Input::ServerError => e.handle_response(t, id, &err(500)),
        Input::Forbidden => e.handle_response(t, id, &err(403)),
        Input::Transport => e.handle_failure(t, id, refused("connection refused")),
        Input::Cancelled => e.handle_cancelled(t, id),
        Input::TimeoutDue => e.handle_timeout(t + Duration::from_secs(29)),
    }
}

/// One second: the floor between two heartbeats (inputs in the table come this long
/// after the engine reached its start state, so the floor does not hold them back).
const FLOOR: Duration = Duration::from_secs(1);

#[test]
fn heartbeat_state_by_input_table() {
    use Input::*;
    use Start as St;
    // (start, input, expected state, expected requests right after). The start state is
    // reached at t0, the input comes at t1 = t0 + 1 s and the engine is polled then (or
    // at t1 + 29 s for TimeoutDue). A leave waits while a heartbeat naming its channels
    // is on the wire (Heartbeating × Left*/Disconnect send nothing yet); a left heartbeats
    // again with what is left.
    #[rustfmt::skip]
    let table: &[(Start, Input, S, &[&str])] = &[
        (St::Inactive, JoinNew, S::Heartbeating, &["heartbeat"]),
        (St::Inactive, LeftOne, S::Inactive, &[]),
        (St::Inactive, LeftAll, S::Inactive, &[]),
        (St::Inactive, Disconnect, S::Stopped, &[]),
        (St::Inactive, Reconnect, S::Inactive, &[]),
        (St::Inactive, Success, S::Inactive, &[]),
        (St::Inactive, TimeoutDue, S::Inactive, &[]),
        (St::Heartbeating, JoinNew, S::Heartbeating, &[]),
        (St::Heartbeating, JoinExisting, S::Heartbeating, &[]),
        (St::Heartbeating, LeftOne, S::Heartbeating, &[]),
        (St::Heartbeating, LeftAll, S::Inactive, &[]),
        (St::Heartbeating, Disconnect, S::Stopped, &[]),
        (St::Heartbeating, Reconnect, S::Heartbeating, &[]),
        (St::Heartbeating, Success, S::Cooldown, &[]),
        (St::Heartbeating, ServerError, S::Cooldown, &[]),
        (St::Heartbeating, Forbidden, S::Failed, &[]),
        (St::Heartbeating, Transport, S::Cooldown, &[]),
        (St::Heartbeating, Cancelled, S::Heartbeating, &["heartbeat"]),
        (St::Cooldown, JoinNew, S::Heartbeating, &["heartbeat"]),
        (St::Cooldown, JoinExisting, S::Cooldown, &[]),
        (St::Cooldown, LeftOne, S::Heartbeating, &["leave", "heartbeat"]),
        (St::Cooldown, LeftAll, S::Inactive, &["leave"]),
        (St::Cooldown, Disconnect, S::Stopped, &["leave"]),
        (St::Cooldown, Reconnect, S::Cooldown, &[]),
        (St::Cooldown, Success, S::Cooldown, &[]),
        (St::Cooldown, TimeoutDue, S::Heartbeating, &["heartbeat"]),
        (St::Failed, JoinNew, S::Heartbeating, &["heartbeat"]),
        (St::Failed, JoinExisting, S::Heartbeating, &["heartbeat"]),
        (St::Failed, LeftOne, S::Heartbeating, &["leave", "heartbeat"]),
        (St::Failed, LeftAll, S::Inactive, &["leave"]),
        (St::Failed, Disconnect, S::Stopped, &["leave"]),
        (St::Failed, Reconnect, S::Heartbeating, &["heartbeat"]),
        (St::Failed, TimeoutDue, S::Failed, &[]),
        (St::Failed, Success, S::Failed, &[]),
        (St::Stopped, JoinNew, S::Stopped, &[]),
        (St::Stopped, LeftOne, S::Stopped, &[]),
        (St::Stopped, LeftAll, S::Inactive, &[]),
        (St::Stopped, Disconnect, S::Stopped, &[]),
        (St::Stopped, Reconnect, S::Heartbeating, &["heartbeat"]),
        (St::Stopped, TimeoutDue, S::Stopped, &[]),
        (St::Stopped, Success, S::Stopped, &[]),
    ];
    let t0 = epoch();
    let t1 = t0 + FLOOR;
    for &(start, input, expected, requests) in table {
        let (mut e, id) = engine_in(start, t0);
        apply(&mut e, id, input, t1);
        let poll_at = if matches!(input, TimeoutDue) {
            t1 + Duration::from_secs(29)
        } else {
            t1
        };
        let (kinds, _) = drain(&mut e, poll_at);
        assert_eq!(e.state(), expected, "{start:?} × {input:?}: state");
        assert_eq!(kinds, requests, "{start:?} × {input:?}: requests");
    }
}

#[test]
fn a_fake_hour_produces_exactly_the_predicted_heartbeats() {
    for (timeout, interval) in [(300u32, 149u64), (60, 29), (20, 9)] {
        let t0 = epoch();
        let mut e = HeartbeatEngine::new(HeartbeatConfig::new(timeout));
        e.join(t0, ["lobby"], Vec::<String>::new());
        let mut now = t0;
        let mut count = 0u64;
        let end = t0 + Duration::from_secs(3600);
        loop {
            while let Some(tx) = e.poll_request(now) {
                count += 1;
                e.handle_response(now, tx.id, &resp(200, OK));
            }
            match e.poll_timeout() {
                Some(t) if t <= end => {
                    assert!(t > now, "no busy loop: deadline {t:?} not after {now:?}");
                    now = t;
                    e.handle_timeout(now);
                }
                _ => break,
            }
        }
        assert_eq!(count, 3600 / interval + 1, "timeout {timeout}");
    }
}

#[test]
fn join_while_in_flight_heartbeats_again_after_it_and_the_floor() {
    let t0 = epoch();
    let (mut e, id) = engine_in(Start::Heartbeating, t0);
    e.join(t0, ["c"], Vec::<String>::new());
    assert!(
        e.poll_request(t0).is_none(),
        "one heartbeat in flight at a time"
    );
    let answered = t0 + Duration::from_millis(200);
    e.handle_response(answered, id.unwrap(), &resp(200, OK));
    assert!(
        e.poll_request(answered).is_none(),
        "not before the floor: 1 s after the previous heartbeat started"
    );
    assert_eq!(e.poll_timeout(), Some(t0 + FLOOR));
    e.handle_timeout(t0 + FLOOR);
    let tx = e
        .poll_request(t0 + FLOOR)
        .expect("the heartbeat with the new channel");
    match tx.op {
        HeartbeatRequest::Heartbeat(h) => {
            let config = Config::new(Keyset::new("k"), UserId::new("u").unwrap());
            let req = h.to_request_for_test(&config);
            assert!(req.contains("/channel/a,b,c/heartbeat"), "{req}");
        }
        other => panic!("{other:?}"),
    }
}

trait ToRequestForTest {
    fn to_request_for_test(&self, config: &Config) -> String;
}

impl<O: presence_core::Operation> ToRequestForTest for O {
    fn to_request_for_test(&self, config: &Config) -> String {
        self.to_request(config, &RequestMeta::new(0))
            .unwrap()
            .uri()
            .to_string()
    }
}

#[test]
fn join_during_cooldown_heartbeats_at_once() {
    let t0 = epoch();
    let (mut e, _) = engine_in(Start::Cooldown, t0);
    let t1 = t0 + Duration::from_secs(5);
    e.join(t1, Vec::<String>::new(), ["g"]);
    let tx = e.poll_request(t1).expect("heartbeat");
    let config = Config::new(Keyset::new("k"), UserId::new("u").unwrap());
    let uri = tx.op.to_request_for_test(&config);
    assert!(
        uri.contains("/channel/a,b/heartbeat") && uri.contains("channel-group=g"),
        "{uri}"
    );
}

#[test]
fn disconnect_while_in_flight_leaves_after_the_late_response_and_ignores_it() {
    let t0 = epoch();
    let (mut e, id) = engine_in(Start::Heartbeating, t0);
    e.disconnect(t0);
    let (kinds, _) = drain(&mut e, t0);
    assert!(
        kinds.is_empty(),
        "the leave waits for the heartbeat on the wire: {kinds:?}"
    );
    assert!(e.has_requests_in_flight());
    while e.poll_event().is_some() {}
    e.handle_response(t0, id.unwrap(), &resp(200, OK));
    assert_eq!(e.state(), S::Stopped);
    assert_eq!(e.poll_event(), None, "a stale response reports nothing");
    let leave = e.poll_request(t0).expect("the leave goes after it");
    assert_eq!(leave.op.name(), "leave");
    assert_eq!(e.poll_timeout(), None);
    // Reconnecting while that leave is on the wire: the heartbeat for the same channels
    // waits for the leave's answer, so the service never sees them out of order.
    e.reconnect(t0 + FLOOR);
    assert!(e.poll_request(t0 + FLOOR).is_none());
    assert_eq!(
        e.poll_timeout(),
        None,
        "no deadline: the leave's answer is awaited"
    );
    e.handle_response(t0 + FLOOR, leave.id, &resp(200, OK));
    assert_eq!(drain(&mut e, t0 + FLOOR).0, ["heartbeat"]);
}

#[test]
fn too_many_requests_honours_retry_after_bounded_by_interval() {
    let t0 = epoch();
    let (mut e, id) = engine_in(Start::Heartbeating, t0);
    while e.poll_event().is_some() {}
    let r429 = http::Response::builder()
        .status(429)
        .header("retry-after", "20")
        .body(br#"{"status": 429, "error": true, "message": "Too Many Requests", "service": "Presence"}"#.to_vec())
        .unwrap();
    e.handle_response(t0, id.unwrap(), &r429);
    assert_eq!(e.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    assert!(e.poll_request(t0 + Duration::from_secs(19)).is_none());
    let mut events = Vec::new();
    while let Some(ev) = e.poll_event() {
        events.push(ev);
    }
    assert!(
        matches!(&events[0], HeartbeatEvent::Failed { retry_in: Some(d), .. } if *d == Duration::from_secs(20))
    );

    // A retry-after longer than the interval (29 s) is cut to the interval.
    let t1 = t0 + Duration::from_secs(20);
    e.handle_timeout(t1);
    let (_, id) = drain(&mut e, t1);
    let long = http::Response::builder()
        .status(429)
        .header("retry-after", "600")
        .body(br#"{"status": 429, "error": true, "message": "Too many requests."}"#.to_vec())
        .unwrap();
    e.handle_response(t1, id.unwrap(), &long);
    assert_eq!(e.poll_timeout(), Some(t1 + Duration::from_secs(29)));
}

#[test]
fn repeated_failures_back_off_within_bounds_then_give_up() {
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a"], Vec::<String>::new());
    let mut now = t0;
    let mut delays = Vec::new();
    let mut failures = 0u32;
    loop {
        let (_, id) = drain(&mut e, now);
        e.handle_failure(now, id.expect("retry due"), refused("refused"));
        failures += 1;
        match e.poll_timeout() {
            Some(next) => {
                delays.push(next - now);
                now = next;
                e.handle_timeout(now);
            }
            None => break,
        }
        assert!(failures < 50, "retries without end");
    }
    for (i, d) in delays.iter().enumerate() {
        assert!(
            *d >= FLOOR && *d <= Duration::from_secs(29),
            "retry {i}: {d:?}"
        );
    }
    assert!(delays[5] > delays[0], "delays grow: {delays:?}");
    // Gave up: more than 3 retries, and the failures span the 60 s timeout.
    let span: Duration = delays.iter().sum();
    assert!(
        failures > 4 && span >= Duration::from_secs(60),
        "{failures} over {span:?}"
    );
    assert!(
        span - delays[delays.len() - 1] < Duration::from_secs(60),
        "not later than needed"
    );
    let events: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
    let n = events.len();
    assert!(
        matches!(&events[n - 3..], [
            HeartbeatEvent::Failed { retry_in: None, .. },
            HeartbeatEvent::GaveUp { failures: f, over },
            HeartbeatEvent::StateChanged(S::Failed),
        ] if *f == failures && *over == span),
        "{:?}",
        &events[n - 3..]
    );
    assert_eq!(e.state(), S::Failed);
    assert!(e.poll_request(now + Duration::from_secs(3600)).is_none());
    // Reconnect resumes; a success resets to the normal interval.
    e.reconnect(now);
    let (_, id) = drain(&mut e, now + FLOOR);
    e.handle_response(now + FLOOR, id.unwrap(), &resp(200, OK));
    assert_eq!(
        e.poll_timeout(),
        Some(now + FLOOR + Duration::from_secs(29))
    );
}

#[test]
fn forbidden_is_reported_not_retried() {
    let t0 = epoch();
    let (mut e, id) = engine_in(Start::Heartbeating, t0);
    while e.poll_event().is_some() {}
    let pam = br#"{"message":"Forbidden","payload":{"channels":["a"]},"error":true,"service":"Access Manager","status":403}"#;
    e.handle_response(
        t0,
        id.unwrap(),
        &http::Response::builder()
            .status(403)
            .body(pam.to_vec())
            .unwrap(),
    );
    match e.poll_event() {
        Some(HeartbeatEvent::Failed {
            failure,
            retry_in: None,
        }) => assert!(!failure.is_retryable()),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.poll_timeout(), None);
    assert!(e.poll_request(t0 + Duration::from_secs(3600)).is_none());
}

#[test]
fn false_200_is_a_failure() {
    let t0 = epoch();
    let (mut e, id) = engine_in(Start::Heartbeating, t0);
    e.handle_response(t0, id.unwrap(), &resp(200, r#"{"status": 503, "message": "Service Unavailable", "error": 1, "service": "Presence"}"#));
    assert_eq!(e.state(), S::Cooldown);
    assert!(e.poll_timeout().unwrap() < t0 + Duration::from_secs(29));
}

#[test]
fn leaves_skip_presence_channels_and_respect_suppression() {
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a", "a-pnpres"], Vec::<String>::new());
    assert_eq!(e.channels().collect::<Vec<_>>(), ["a"]);
    let mut config = HeartbeatConfig::new(60);
    config.suppress_leave = true;
    let mut quiet = HeartbeatEngine::new(config);
    quiet.join(t0, ["a"], Vec::<String>::new());
    drain(&mut quiet, t0);
    quiet.left_all(t0);
    assert_eq!(drain(&mut quiet, t0).0, Vec::<&str>::new());
    // Go's Connected(false): stop without a leave.
    let (mut e, _) = engine_in(Start::Cooldown, t0);
    e.left_silently(t0, ["a", "b"], Vec::<String>::new());
    assert_eq!(e.state(), S::Inactive);
    assert_eq!(drain(&mut e, t0).0, Vec::<&str>::new());
}

#[test]
fn state_is_sent_keyed_by_channel() {
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a", "b"], Vec::<String>::new());
    e.set_state(t0, "a", serde_json::json!({"mood": "ok"}));
    let tx = e.poll_request(t0).unwrap();
    let config = Config::new(Keyset::new("k"), UserId::new("u").unwrap());
    let uri = tx.op.to_request_for_test(&config);
    assert!(
        uri.contains("state=%7B%22a%22%3A%7B%22mood%22%3A%22ok%22%7D%7D"),
        "{uri}"
    );
}

// ---- watch engine ----

const HANDSHAKE: &str = r#"{"t":{"t":"14818966149684039","r":12},"m":[]}"#;
const TIMEOUT_1: &str = r#"{"t":{"t":"14720341368999461","r":12},"m":[{"a":"2","f":0,"p":{"t":"14720341367516371","r":1},"k":"sub-c","c":"heartbeat-tornado-ch-pnpres","d":{"action": "timeout", "timestamp": 1472034136, "uuid": "heartbeat-tornado-messenger", "occupancy": 1},"b":"heartbeat-tornado-ch-pnpres"}]}"#;
const TIMEOUT_2: &str = r#"{"t":{"t":"14720341368363471","r":3},"m":[{"a":"2","f":0,"p":{"t":"14720341367516371","r":1},"k":"sub-c","c":"heartbeat-tornado-ch-pnpres","d":{"action": "timeout", "timestamp": 1472034136, "uuid": "heartbeat-tornado-messenger", "occupancy": 1},"b":"heartbeat-tornado-ch-pnpres"}]}"#;

/// The next subscribe request: at `now`, or at the engine's deadline (the floor between
/// polls, a retry) when there is one, moving `now` there.
fn watch_uri(e: &mut WatchEngine, now: &mut Instant) -> (RequestId, String) {
    if let Some(at) = e.poll_timeout() {
        *now = (*now).max(at);
        e.handle_timeout(*now);
    }
    let tx = e.poll_request(*now).expect("a subscribe request");
    let config = Config::new(Keyset::new("k"), UserId::new("w").unwrap());
    (tx.id, tx.op.to_request_for_test(&config))
}

#[test]
fn watch_handshake_long_poll_and_dedup() {
    let t0 = epoch();
    let mut now = t0;
    let mut e = WatchEngine::new(WatchConfig::default());
    assert!(e.poll_request(t0).is_none(), "idle without channels");
    e.add(t0, ["heartbeat-tornado-ch"], Vec::<String>::new());
    let (id, uri) = watch_uri(&mut e, &mut now);
    assert!(
        uri.contains("/v2/subscribe/k/heartbeat-tornado-ch-pnpres/0?") && uri.contains("tt=0"),
        "{uri}"
    );
    e.handle_response(now, id, &resp(200, HANDSHAKE));
    assert_eq!(e.poll_event(), Some(WatchEvent::Connected));
    let (id, uri) = watch_uri(&mut e, &mut now);
    assert!(
        uri.contains("tt=14818966149684039") && uri.contains("tr=12"),
        "{uri}"
    );
    e.handle_response(now, id, &resp(200, TIMEOUT_1));
    let (id, _) = watch_uri(&mut e, &mut now);
    e.handle_response(now, id, &resp(200, TIMEOUT_2));
    let mut got = Vec::new();
    while let Some(ev) = e.poll_event() {
        got.push(ev);
    }
    assert_eq!(got.len(), 1, "the duplicate delivery is dropped: {got:?}");
    match &got[0] {
        WatchEvent::Presence(PresenceEvent::Timeout(c)) => {
            assert_eq!(
                (
                    c.channel.as_str(),
                    c.user_id.as_str(),
                    c.timestamp,
                    c.occupancy
                ),
                (
                    "heartbeat-tornado-ch",
                    "heartbeat-tornado-messenger",
                    1472034136,
                    1
                )
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.cursor().unwrap().region, 3);
}

#[test]
fn watch_channel_change_cancels_and_keeps_cursor() {
    let t0 = epoch();
    let mut now = t0;
    let mut e = WatchEngine::new(WatchConfig::default());
    e.add(t0, ["a"], Vec::<String>::new());
    let (id, _) = watch_uri(&mut e, &mut now);
    e.handle_response(now, id, &resp(200, HANDSHAKE));
    let (old, _) = watch_uri(&mut e, &mut now);
    e.add(now, Vec::<String>::new(), ["g"]);
    assert_eq!(e.poll_cancel(), Some(old));
    let (_, uri) = watch_uri(&mut e, &mut now);
    assert!(
        uri.contains("/a-pnpres/0?")
            && uri.contains("channel-group=g-pnpres")
            && uri.contains("tt=14818966149684039"),
        "{uri}"
    );
    e.handle_response(now, old, &resp(200, TIMEOUT_1));
    assert_eq!(e.poll_event(), Some(WatchEvent::Connected));
    assert_eq!(e.poll_event(), None, "the superseded response is ignored");
    e.remove(now, ["a"], ["g"]);
    assert_eq!(e.state(), WatchState::Idle);
    assert!(e.poll_request(now).is_none());
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn watch_reconnects_with_backoff_and_stops_on_forbidden() {
    let t0 = epoch();
    let mut now = t0;
    let mut e = WatchEngine::new(WatchConfig::default());
    e.add(t0, ["a"], Vec::<String>::new());
    let (id, _) = watch_uri(&mut e, &mut now);
    e.handle_response(now, id, &resp(200, HANDSHAKE));
    let (id, _) = watch_uri(&mut e, &mut now);
    let failed_at = now;
    e.handle_failure(now, id, refused("reset"));
    assert_eq!(e.state(), WatchState::Reconnecting);
    // Backoff says [0.5, 1] s; the floor says not before 1 s after the failed poll started.
    assert_eq!(e.poll_timeout(), Some(failed_at + Duration::from_secs(1)));
    assert!(
        e.poll_request(failed_at + Duration::from_millis(999))
            .is_none(),
        "no request before the retry time"
    );
    let (id, uri) = watch_uri(&mut e, &mut now);
    assert_eq!(now, failed_at + Duration::from_secs(1));
    assert!(uri.contains("tt=14818966149684039"), "cursor kept: {uri}");
    e.handle_response(now, id, &err(403));
    assert_eq!(e.state(), WatchState::Stopped);
    assert!(e.poll_request(now + Duration::from_secs(60)).is_none());
    assert_eq!(e.poll_timeout(), None);
    e.reconnect(now);
    let (_, uri) = watch_uri(&mut e, &mut now);
    assert!(uri.contains("tt=14818966149684039"), "cursor kept: {uri}");
}

#[test]
fn watch_keeps_two_real_joins_within_one_second() {
    let t0 = epoch();
    let mut now = t0;
    let mut e = WatchEngine::new(WatchConfig::default());
    e.add(t0, ["c"], Vec::<String>::new());
    let (id, _) = watch_uri(&mut e, &mut now);
    e.handle_response(now, id, &resp(200, HANDSHAKE));
    let join = |tt: &str, p: &str| {
        format!(
            r#"{{"t":{{"t":"{tt}","r":1}},"m":[{{"a":"1","f":0,"p":{{"t":"{p}","r":1}},"k":"k","c":"c-pnpres","d":{{"action":"join","timestamp":1700000000,"uuid":"ann","occupancy":1}},"b":"c-pnpres"}}]}}"#
        )
    };
    for (tt, p) in [
        ("17000000000000010", "17000000000000005"),
        ("17000000000000020", "17000000000000015"),
    ] {
        let (id, _) = watch_uri(&mut e, &mut now);
        e.handle_response(now, id, &resp(200, &join(tt, p)));
    }
    let joins = std::iter::from_fn(|| e.poll_event())
        .filter(|ev| matches!(ev, WatchEvent::Presence(PresenceEvent::Join(_))))
        .count();
    assert_eq!(
        joins, 2,
        "a leave and re-join in the same second are two events"
    );
}

#[test]
fn tiny_interval_or_retry_base_never_busy_loops() {
    let t0 = epoch();
    let mut config = HeartbeatConfig::new(20);
    config.interval = Some(Duration::from_nanos(1));
    config.retry_base = Duration::ZERO;
    assert_eq!(config.interval(), FLOOR);
    let mut e = HeartbeatEngine::new(config);
    e.join(t0, ["a"], Vec::<String>::new());
    let (_, id) = drain(&mut e, t0);
    e.handle_response(t0, id.unwrap(), &resp(200, OK));
    assert_eq!(e.poll_timeout(), Some(t0 + FLOOR));
    let t1 = t0 + FLOOR;
    e.handle_timeout(t1);
    let (_, id) = drain(&mut e, t1);
    e.handle_failure(t1, id.unwrap(), refused("reset"));
    assert_eq!(
        e.poll_timeout(),
        Some(t1 + FLOOR),
        "an instant failure is retried after the floor"
    );
}

#[test]
fn zero_interval_turns_heartbeating_off() {
    let t0 = epoch();
    let mut config = HeartbeatConfig::new(60);
    config.interval = Some(Duration::ZERO);
    let mut e = HeartbeatEngine::new(config);
    e.record_transitions(16);
    e.join(t0, ["a"], ["g"]);
    e.set_state(t0, "a", serde_json::json!({"k": 1}));
    e.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(e.poll_request(t0 + Duration::from_secs(3600)).is_none());
    e.left(t0, ["a"], Vec::<String>::new());
    e.disconnect(t0);
    e.reconnect(t0);
    assert!(e.poll_request(t0).is_none(), "no leave either");
    assert_eq!(e.state(), S::Inactive);
    assert_eq!(e.poll_event(), None);
    assert_eq!(e.poll_transition(), None);
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(
        e.channel_groups().collect::<Vec<_>>(),
        ["g"],
        "inputs are remembered"
    );
}

/// A transport failure as a driver reports it.
fn refused(why: &str) -> presence_core::Failure {
    presence_core::Failure::Transport(presence_core::TransportFailure::new(
        presence_core::TransportFailureKind::Connect,
        why,
    ))
}

// ---- what the mutation runs found untested (docs/TESTING.md) ----

/// Call options (keyset, extra query parameters) reach every request of both engines;
/// the requests name their channels and classify answers as their operations do.
#[test]
fn call_options_reach_every_request_and_requests_describe_themselves() {
    use presence_core::{CallOptions, KeysetChoice, Operation};
    let t0 = epoch();
    let options = CallOptions {
        keyset: KeysetChoice::Explicit(Keyset::new("other")),
        user_id: None,
        query: vec![("extra".into(), "1".into())],
    };
    let config = Config::new(Keyset::new("k"), UserId::new("u").unwrap());
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.set_call_options(options.clone());
    e.join(t0, ["a", "b"], ["g"]);
    let tx = e.poll_request(t0).unwrap();
    assert_eq!((tx.op.name(), tx.op.channel_count()), ("heartbeat", 3));
    let uri = tx
        .op
        .build(&config, &RequestMeta::new(0))
        .unwrap()
        .uri()
        .to_string();
    assert!(
        uri.contains("/sub-key/other/") && uri.contains("extra=1"),
        "{uri}"
    );
    // The request parses answers as a heartbeat does: a 403 is an error, a 200 is not.
    assert!(tx.op.parse_response(&err(403)).is_err());
    assert!(tx.op.parse_response(&resp(200, OK)).is_ok());
    assert!(
        tx.op.parse_response(&resp(200, r#"{"status": 2"#)).is_err(),
        "a cut body is an error"
    );
    e.handle_response(t0, tx.id, &resp(200, OK));
    e.left(t0 + FLOOR, ["a"], Vec::<String>::new());
    let leave = e.poll_request(t0 + FLOOR).unwrap();
    assert_eq!((leave.op.name(), leave.op.channel_count()), ("leave", 1));
    let uri = leave.op.to_request_for_test(&config);
    assert!(
        uri.contains("/sub-key/other/")
            && uri.contains("/channel/a/leave")
            && uri.contains("extra=1"),
        "{uri}"
    );
    assert!(leave.op.parse_response(&err(500)).is_err());
    assert!(leave.op.parse_response(&resp(200, "[")).is_err());

    let mut w = WatchEngine::new(WatchConfig::default());
    w.set_call_options(options);
    w.add(t0, ["a"], Vec::<String>::new());
    let uri = w.poll_request(t0).unwrap().op.to_request_for_test(&config);
    assert!(
        uri.contains("/v2/subscribe/other/") && uri.contains("extra=1"),
        "{uri}"
    );
}

#[test]
fn the_engine_reports_its_settings_names_and_requests_in_flight() {
    let t0 = epoch();
    let mut config = HeartbeatConfig::new(60);
    config.suppress_leave = true;
    let mut e = HeartbeatEngine::new(config.clone());
    assert_eq!(e.config(), &config);
    assert!(!e.has_requests_in_flight());
    e.join(t0, ["a"], ["g", "h"]);
    assert_eq!(e.channel_groups().collect::<Vec<_>>(), ["g", "h"]);
    assert!(
        e.has_requests_in_flight(),
        "a heartbeat handed out, not yet polled"
    );
    let tx = e.poll_request(t0).unwrap();
    assert!(e.has_requests_in_flight(), "the heartbeat on the wire");
    e.handle_response(t0, tx.id, &resp(200, OK));
    assert!(!e.has_requests_in_flight());
    // A leave on the wire counts too.
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a"], Vec::<String>::new());
    let tx = e.poll_request(t0).unwrap();
    e.handle_response(t0, tx.id, &resp(200, OK));
    e.left_all(t0);
    assert!(e.has_requests_in_flight(), "a leave waiting to be polled");
    let leave = e.poll_request(t0).unwrap();
    assert!(e.has_requests_in_flight(), "the leave on the wire");
    assert_ne!(leave.id, tx.id, "every request has its own id");
    e.handle_response(t0, leave.id, &resp(200, OK));
    assert!(!e.has_requests_in_flight());
}

#[test]
fn events_and_states_print_one_line_each() {
    use presence_core::{Failure, TransportFailure, TransportFailureKind};
    let failure = refused("refused");
    let lines = [
        (HeartbeatEvent::Succeeded, "heartbeat succeeded"),
        (
            HeartbeatEvent::Failed {
                failure: failure.clone(),
                retry_in: Some(Duration::from_millis(1500)),
            },
            "heartbeat failed: transport error (connect): refused (retry in 1.5 s)",
        ),
        (
            HeartbeatEvent::Failed {
                failure: failure.clone(),
                retry_in: None,
            },
            "heartbeat failed: transport error (connect): refused (not retried)",
        ),
        (
            HeartbeatEvent::GaveUp {
                failures: 9,
                over: Duration::from_secs(310),
            },
            "gave up after 9 failed heartbeats over 310.0 s",
        ),
        (
            HeartbeatEvent::LeaveFailed(failure.clone()),
            "leave failed: transport error (connect): refused",
        ),
        (HeartbeatEvent::StateChanged(S::Cooldown), "state: cooldown"),
    ];
    for (event, line) in lines {
        assert_eq!(event.to_string(), line);
    }
    let states = [
        S::Inactive,
        S::Heartbeating,
        S::Cooldown,
        S::Failed,
        S::Stopped,
    ];
    let names: Vec<String> = states.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["inactive", "heartbeating", "cooldown", "failed", "stopped"]
    );
    assert_eq!(
        WatchEvent::GaveUp {
            failures: 12,
            over: Duration::from_secs(301)
        }
        .to_string(),
        "gave up after 12 failed requests over 301.0 s"
    );
    assert_eq!(
        WatchEvent::Failed {
            failure: failure.clone(),
            retry_in: None
        }
        .to_string(),
        "failed: transport error (connect): refused (the watch stopped)"
    );
    // Failures: their kind, message and source.
    let t = TransportFailure::new(TransportFailureKind::Tls, "bad certificate");
    assert_eq!(t.message(), "bad certificate");
    assert!(!t.kind().is_retryable());
    let f = Failure::Transport(t);
    assert_eq!(f.to_string(), "transport error (tls): bad certificate");
    assert!(std::error::Error::source(&f).is_none() && f.service_error().is_none());
    use presence_core::Operation;
    let error = presence_core::Heartbeat::new()
        .parse_response(&err(403))
        .unwrap_err();
    let service = Failure::Response(error.clone());
    assert_eq!(service.service_error().map(|e| e.status), Some(403));
    assert!(std::error::Error::source(&service).is_some());
    assert_eq!(service.to_string(), error.to_string());
}

#[test]
fn a_retry_after_above_the_cap_waits_the_cap() {
    let t0 = epoch();
    let mut now = t0;
    let mut e = WatchEngine::new(WatchConfig::default());
    e.add(t0, ["a"], Vec::<String>::new());
    let (id, _) = watch_uri(&mut e, &mut now);
    let r429 = http::Response::builder()
        .status(429)
        .header("retry-after", "600")
        .body(br#"{"status": 429, "error": true, "message": "Too Many Requests", "service": "Presence"}"#.to_vec())
        .unwrap();
    e.handle_response(now, id, &r429);
    assert_eq!(
        e.poll_timeout(),
        Some(now + Duration::from_secs(32)),
        "the 32 s cap"
    );
}

/// Recording is off until asked for, keeps at most `capacity` entries (dropping the
/// oldest), shrinks with a smaller capacity, and stops at 0.
#[test]
fn the_transition_log_is_off_by_default_and_bounded() {
    use presence_core::HeartbeatInput;
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a", "b", "c", "d"], Vec::<String>::new());
    assert_eq!(e.poll_transition(), None, "off by default");
    let names = |e: &mut HeartbeatEngine| -> Vec<Option<String>> {
        std::iter::from_fn(|| e.poll_transition())
            .map(|t| match t.input {
                HeartbeatInput::StateSet { name } => name,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let set = |e: &mut HeartbeatEngine, names: &[&str]| {
        for n in names {
            e.set_state(t0, *n, serde_json::json!({}));
        }
    };
    e.record_transitions(2);
    set(&mut e, &["a", "b", "c"]);
    assert_eq!(
        names(&mut e),
        [Some("b".into()), Some("c".into())],
        "the oldest dropped"
    );
    e.record_transitions(5);
    set(&mut e, &["a", "b", "c", "d"]);
    e.record_transitions(2);
    assert_eq!(
        names(&mut e),
        [Some("c".into()), Some("d".into())],
        "shrunk to the newest"
    );
    set(&mut e, &["a"]);
    e.record_transitions(0);
    set(&mut e, &["b"]);
    assert_eq!(e.poll_transition(), None, "off again, and emptied");

    let mut w = WatchEngine::new(WatchConfig::default());
    w.add(t0, ["a"], Vec::<String>::new());
    assert_eq!(w.poll_transition(), None, "off by default");
    w.record_transitions(1);
    w.add(t0, ["b"], Vec::<String>::new());
    w.add(t0, ["c"], Vec::<String>::new());
    let t = w.poll_transition().expect("the newest");
    assert!(
        matches!(t.input, presence_core::WatchInput::Added { ref channels, .. } if channels == &["c"])
    );
    assert_eq!(w.poll_transition(), None);
}

/// The de-duplication window: a key is remembered for the last `dedup_window` events,
/// then forgotten.
#[test]
fn duplicates_are_dropped_within_the_window_only() {
    let t0 = epoch();
    let mut now = t0;
    let mut e = WatchEngine::new(WatchConfig {
        dedup_window: 2,
        ..WatchConfig::default()
    });
    e.add(t0, ["c"], Vec::<String>::new());
    let (id, _) = watch_uri(&mut e, &mut now);
    e.handle_response(now, id, &resp(200, HANDSHAKE));
    let join = |user: &str, n: u64| {
        format!(
            r#"{{"a":"1","f":0,"p":{{"t":"{}","r":1}},"k":"k","c":"c-pnpres","d":{{"action":"join","timestamp":1700000000,"uuid":"{user}","occupancy":1}},"b":"c-pnpres"}}"#,
            17_000_000_000_000_000 + n
        )
    };
    let mut delivered = Vec::new();
    for (tt, batch) in [
        (1, vec![join("ann", 1), join("ann", 1)]),
        (2, vec![join("bob", 2)]),
        (3, vec![join("ann", 1)]),
        (4, vec![join("cid", 3), join("dan", 4)]),
        (5, vec![join("ann", 1)]),
    ] {
        let (id, _) = watch_uri(&mut e, &mut now);
        let body = format!(
            r#"{{"t":{{"t":"1800000000000000{tt}","r":1}},"m":[{}]}}"#,
            batch.join(",")
        );
        e.handle_response(now, id, &resp(200, &body));
        while let Some(ev) = e.poll_event() {
            if let WatchEvent::Presence(PresenceEvent::Join(j)) = ev {
                delivered.push(j.user_id);
            }
        }
    }
    // ann twice in one answer: once; again while still among the last two: dropped;
    // again after two newer events pushed it out: delivered.
    assert_eq!(delivered, ["ann", "bob", "cid", "dan", "ann"]);
}

/// Two inputs before the driver polls: the request the first one prepared is replaced,
/// not sent and not reported for cancelling (it never left the engine).
#[test]
fn a_request_not_polled_yet_is_replaced_quietly() {
    let t0 = epoch();
    let mut e = WatchEngine::new(WatchConfig::default());
    e.add(t0, ["a"], Vec::<String>::new());
    e.add(t0, ["b"], Vec::<String>::new());
    assert_eq!(e.poll_cancel(), None, "nothing was handed out to cancel");
    let tx = e.poll_request(t0).expect("one subscribe");
    let config = Config::new(Keyset::new("k"), UserId::new("w").unwrap());
    let uri = tx.op.to_request_for_test(&config);
    assert!(
        uri.contains("/a-pnpres,b-pnpres/0?"),
        "both channels: {uri}"
    );
    assert!(e.poll_request(t0).is_none(), "only one");
    // The same for the heartbeat engine: a pause before polling drops the heartbeat.
    let mut h = HeartbeatEngine::new(HeartbeatConfig::new(60));
    h.join(t0, ["a"], Vec::<String>::new());
    h.pause(t0);
    assert!(h.poll_request(t0).is_none());
    assert!(!h.has_requests_in_flight());
    h.reconnect(t0);
    assert!(
        h.poll_request(t0).is_some(),
        "the dropped heartbeat does not count for the floor"
    );
}

/// The watch's transition log: the floor's wait and the requests, as data.
#[test]
fn the_watch_log_shows_the_floor() {
    use presence_core::{WatchEffect, WatchInput};
    let t0 = epoch();
    let mut e = WatchEngine::new(WatchConfig::default());
    e.record_transitions(16);
    e.add(t0, ["a"], Vec::<String>::new());
    let hs = e.poll_request(t0).unwrap();
    e.handle_response(t0, hs.id, &resp(200, HANDSHAKE));
    let t1 = t0 + Duration::from_millis(100);
    e.handle_timeout(t1);
    let poll = e.poll_request(t1).unwrap();
    let t2 = t1 + Duration::from_secs(5);
    e.handle_response(
        t2,
        poll.id,
        &resp(200, r#"{"t":{"t":"14818966149684040","r":12},"m":[]}"#),
    );
    let log: Vec<_> = std::iter::from_fn(|| e.poll_transition()).collect();
    let steps: Vec<_> = log
        .iter()
        .map(|t| (t.from, t.to, t.effects.clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (
                WatchState::Idle,
                WatchState::Handshaking,
                vec![WatchEffect::Handshake { id: hs.id }]
            ),
            (
                WatchState::Handshaking,
                WatchState::Receiving,
                vec![WatchEffect::Wait { until: t1 }]
            ),
            (
                WatchState::Receiving,
                WatchState::Receiving,
                vec![WatchEffect::Receive { id: poll.id }]
            ),
            // An empty long-poll of 5 s: it started more than 1 s ago, no wait.
            (
                WatchState::Receiving,
                WatchState::Receiving,
                vec![WatchEffect::Receive { id: poll.id + 1 }]
            ),
        ]
    );
    assert!(matches!(
        log[1].input,
        WatchInput::Received { new_events: 0, .. }
    ));
    assert!(matches!(log[2].input, WatchInput::TimesUp));
}

/// A cancelled long-poll the engine still awaited is sent again (after the floor); the
/// floor after an answer counts only that answer's events, even when earlier events
/// have not been drained.
#[test]
fn a_cancelled_poll_is_sent_again_and_undrained_events_do_not_count_as_news() {
    let t0 = epoch();
    let mut now = t0;
    let mut e = WatchEngine::new(WatchConfig::default());
    e.add(t0, ["heartbeat-tornado-ch"], Vec::<String>::new());
    let (id, _) = watch_uri(&mut e, &mut now);
    e.handle_response(now, id, &resp(200, HANDSHAKE));
    let (id, _) = watch_uri(&mut e, &mut now);
    e.handle_cancelled(now, id);
    let (again, uri) = watch_uri(&mut e, &mut now);
    assert_ne!(again, id);
    assert!(uri.contains("tt=14818966149684039"), "{uri}");
    // An answer with an event, left undrained; then an empty answer: not news.
    e.handle_response(now, again, &resp(200, TIMEOUT_1));
    let (id, _) = watch_uri(&mut e, &mut now);
    let started = now;
    e.handle_response(
        now,
        id,
        &resp(200, r#"{"t":{"t":"14720341368999462","r":12},"m":[]}"#),
    );
    assert_eq!(e.poll_timeout(), Some(started + Duration::from_secs(1)));
    assert!(
        e.poll_event().is_some(),
        "the earlier events are still there"
    );
}

/// The effects of every transition logged since the last call.
fn effects(e: &mut HeartbeatEngine) -> Vec<Vec<presence_core::HeartbeatEffect>> {
    std::iter::from_fn(|| e.poll_transition())
        .map(|t| t.effects)
        .collect()
}

/// A wait is cancelled (`CancelWait` in the log) exactly when it had not run out: a
/// pause or a join while it runs cancels it; a pause or a join from a driver that did
/// not call `handle_timeout` at the deadline (the wait ran out: at it or after it)
/// cancels nothing. The pause also forgets the deadline.
#[test]
fn only_a_wait_still_running_is_cancelled() {
    use presence_core::HeartbeatEffect as Fx;
    let t0 = epoch();
    let interval = Duration::from_secs(10);
    // Answered at once: the next heartbeat waits one interval, until `due`.
    let start = || {
        let mut config = HeartbeatConfig::new(60);
        config.interval = Some(interval);
        let mut e = HeartbeatEngine::new(config);
        e.record_transitions(64);
        e.join(t0, ["a"], Vec::<String>::new());
        let tx = e.poll_request(t0).unwrap();
        e.handle_response(t0, tx.id, &resp(200, OK));
        assert_eq!(e.poll_timeout(), Some(t0 + interval));
        let _ = effects(&mut e);
        e
    };
    let due = t0 + interval;

    // Paused while waiting: cancelled, and no deadline is left.
    let mut e = start();
    e.pause(t0 + FLOOR);
    assert_eq!(effects(&mut e), vec![vec![Fx::CancelWait]]);
    assert_eq!(e.poll_timeout(), None);
    e.reconnect(t0 + FLOOR * 2);
    let log = effects(&mut e);
    assert!(
        !log.iter().flatten().any(|f| *f == Fx::CancelWait),
        "nothing left to cancel after the pause: {log:?}"
    );
    assert!(e.poll_request(t0 + FLOOR * 2).is_some(), "resumed at once");

    // Paused at the deadline or after it, the timer not handled: nothing to cancel.
    for late in [Duration::ZERO, FLOOR] {
        let mut e = start();
        e.pause(due + late);
        assert_eq!(
            effects(&mut e),
            vec![Vec::<Fx>::new()],
            "paused {late:?} late"
        );
        assert_eq!(e.state(), S::Stopped);
    }

    // A join while waiting: the wait is cancelled and the heartbeat goes at once.
    let mut e = start();
    e.join(t0 + FLOOR * 2, ["b"], Vec::<String>::new());
    let log = effects(&mut e);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].first(), Some(&Fx::CancelWait), "{log:?}");
    // A join after the wait ran out (the driver late): nothing to cancel.
    let mut e = start();
    e.join(due + FLOOR, ["b"], Vec::<String>::new());
    let log = effects(&mut e);
    assert!(
        !log.iter().flatten().any(|f| *f == Fx::CancelWait),
        "{log:?}"
    );
}

/// A heartbeat abandoned on the wire (paused while it was out) holds the next one back
/// after a reconnect, past the floor, until it is reported: never two heartbeats out.
#[test]
fn an_abandoned_heartbeat_on_the_wire_holds_the_next_one_back() {
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a"], Vec::<String>::new());
    let first = e.poll_request(t0).unwrap();
    e.pause(t0 + FLOOR / 2);
    let later = t0 + FLOOR * 3;
    e.reconnect(later);
    e.handle_timeout(later);
    assert!(e.poll_request(later).is_none(), "the first is still out");
    assert!(e.has_requests_in_flight());
    e.handle_response(later, first.id, &resp(200, OK));
    let second = e
        .poll_request(later)
        .expect("sent once the first is reported");
    assert_ne!(second.id, first.id);
}

/// Each answer is read as what it answers: an unreadable 200 to a heartbeat is a
/// malformed heartbeat body, one to a leave a malformed leave body.
#[test]
fn answers_are_read_as_the_request_they_answer() {
    use presence_core::{Error, Failure};
    let expected_of = |event: Option<HeartbeatEvent>| match event {
        Some(HeartbeatEvent::Failed {
            failure: Failure::Response(Error::MalformedResponse { expected, .. }),
            ..
        })
        | Some(HeartbeatEvent::LeaveFailed(Failure::Response(Error::MalformedResponse {
            expected,
            ..
        }))) => expected,
        other => panic!("{other:?}"),
    };
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a", "b"], Vec::<String>::new());
    let hb = e.poll_request(t0).unwrap();
    e.handle_response(t0, hb.id, &resp(200, "{"));
    let event = std::iter::from_fn(|| e.poll_event())
        .find(|ev| matches!(ev, HeartbeatEvent::Failed { .. }));
    assert_eq!(expected_of(event), "heartbeat body");
    // Not retried (the same answer would come again): started again by hand.
    let retry = t0 + FLOOR;
    e.reconnect(retry);
    let hb = e.poll_request(retry).unwrap();
    e.handle_response(retry, hb.id, &resp(200, OK));
    assert!(std::iter::from_fn(|| e.poll_event()).any(|ev| ev == HeartbeatEvent::Succeeded));
    e.left(retry, ["a"], Vec::<String>::new());
    let leave = e.poll_request(retry).unwrap();
    assert!(matches!(leave.op, HeartbeatRequest::Leave(_)));
    e.handle_response(retry, leave.id, &resp(200, "{"));
    let event = std::iter::from_fn(|| e.poll_event())
        .find(|ev| matches!(ev, HeartbeatEvent::LeaveFailed(_)));
    assert_eq!(expected_of(event), "leave body");
}

/// The watch gives up only after **more** than `max_retries` failures: three failures
/// spanning twelve minutes (well past `give_up_after`) are still retried, the fourth
/// ends it.
#[test]
fn the_watch_gives_up_only_after_more_than_max_retries_failures() {
    let t0 = epoch();
    let config = WatchConfig::default();
    assert_eq!(
        (config.max_retries, config.give_up_after),
        (3, Duration::from_secs(300))
    );
    let mut w = WatchEngine::new(config);
    w.add(t0, ["a"], Vec::<String>::new());
    let mut now = t0;
    for failure in 1..=4u32 {
        let tx = w.poll_request(now).expect("a request");
        // Each answer comes six minutes after its request went out.
        now += Duration::from_secs(360);
        w.handle_response(now, tx.id, &err(503));
        let events: Vec<_> = std::iter::from_fn(|| w.poll_event()).collect();
        let gave_up = events
            .iter()
            .any(|e| matches!(e, WatchEvent::GaveUp { .. }));
        assert_eq!(gave_up, failure == 4, "failure {failure}: {events:?}");
        if failure < 4 {
            now = w.poll_timeout().expect("a retry");
            w.handle_timeout(now);
        }
    }
    assert_eq!(w.state(), WatchState::Stopped);
}

/// An answer to an id the engine does not await (never issued) changes nothing: the
/// heartbeat on the wire is still awaited, and its own answer is what counts.
#[test]
fn an_answer_to_an_unknown_id_leaves_the_heartbeat_awaited() {
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.join(t0, ["a"], Vec::<String>::new());
    let hb = e.poll_request(t0).unwrap();
    let _ = std::iter::from_fn(|| e.poll_event()).count();
    e.handle_response(t0, hb.id + 1000, &resp(200, OK));
    assert_eq!(e.poll_event(), None, "no success for an unknown id");
    assert!(e.has_requests_in_flight());
    assert_eq!(e.poll_timeout(), None, "still waiting for the answer");
    e.handle_response(t0, hb.id, &resp(200, OK));
    assert!(std::iter::from_fn(|| e.poll_event()).any(|ev| ev == HeartbeatEvent::Succeeded));
    assert_eq!(e.poll_timeout(), Some(t0 + Duration::from_secs(29)));
}

/// Retry `n` (from 1) waits between half and all of `retry_base * 2^(n-1)`: the first
/// retry of a 4 s base in 2..=4 s, the second in 4..=8 s, the third in 8..=16 s.
#[test]
fn the_first_retries_follow_the_backoff_from_its_base() {
    use presence_core::{TransportFailure, TransportFailureKind};
    let t0 = epoch();
    let mut config = HeartbeatConfig::new(300);
    config.retry_base = Duration::from_secs(4);
    let mut e = HeartbeatEngine::new(config);
    e.join(t0, ["a"], Vec::<String>::new());
    let mut now = t0;
    for (n, full) in [(1u32, 4u64), (2, 8), (3, 16)] {
        let tx = e.poll_request(now).expect("a heartbeat");
        e.handle_failure(
            now,
            tx.id,
            presence_core::Failure::Transport(TransportFailure::new(
                TransportFailureKind::Connect,
                "refused",
            )),
        );
        let retry_in = std::iter::from_fn(|| e.poll_event())
            .find_map(|ev| match ev {
                HeartbeatEvent::Failed { retry_in, .. } => retry_in,
                _ => None,
            })
            .expect("retried");
        let full = Duration::from_secs(full);
        assert!(
            retry_in >= full / 2 && retry_in <= full,
            "retry {n}: {retry_in:?} not in [{:?}, {full:?}]",
            full / 2
        );
        now = e.poll_timeout().unwrap();
        e.handle_timeout(now);
    }
}

/// `handle_timeout` at the deadline is what moves the engine on (`TimesUp`): the state
/// and the events change before any `poll_request`.
#[test]
fn handle_timeout_alone_runs_the_timer() {
    let t0 = epoch();
    let mut e = HeartbeatEngine::new(HeartbeatConfig::new(60));
    e.record_transitions(16);
    e.join(t0, ["a"], Vec::<String>::new());
    let tx = e.poll_request(t0).unwrap();
    e.handle_response(t0, tx.id, &resp(200, OK));
    assert_eq!(e.state(), S::Cooldown);
    let _ = std::iter::from_fn(|| e.poll_event()).count();
    let _ = std::iter::from_fn(|| e.poll_transition()).count();
    let due = e.poll_timeout().unwrap();
    e.handle_timeout(due);
    assert_eq!(e.state(), S::Heartbeating);
    assert_eq!(
        e.poll_event(),
        Some(HeartbeatEvent::StateChanged(S::Heartbeating))
    );
    let inputs: Vec<_> = std::iter::from_fn(|| e.poll_transition())
        .map(|t| t.input)
        .collect();
    assert_eq!(inputs, vec![presence_core::HeartbeatInput::TimesUp]);
}
