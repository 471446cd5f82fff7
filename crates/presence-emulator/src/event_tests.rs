//! Virtual-time tests of presence events and the subscribe endpoint.

use crate::{Dispatch, Keyset, Model, ModelConfig};
use serde_json::{json, Value};
use std::time::Duration;

const T0: u64 = 1_700_000_000;

struct T {
    m: Model,
    now: Duration,
}

/// A presence watcher: its subscribe path and cursor.
struct Watcher {
    path: String,
    tt: String,
}

impl T {
    fn new(config: ModelConfig) -> Self {
        T {
            m: Model::new(config.keyset(Keyset::new("sk"))),
            now: Duration::from_secs(T0),
        }
    }

    fn at(&mut self, secs: u64) -> &mut Self {
        self.now = Duration::from_secs(T0 + secs);
        self
    }

    fn get(&mut self, uri: &str) -> (u16, String) {
        let req = http::Request::get(uri).body(()).unwrap();
        let resp = self.m.handle(self.now, &req);
        (
            resp.status().as_u16(),
            String::from_utf8(resp.into_body()).unwrap(),
        )
    }

    fn ok(&mut self, uri: &str) -> String {
        let (s, b) = self.get(uri);
        assert_eq!(s, 200, "{uri} -> {b}");
        b
    }

    fn hb(&mut self, ch: &str, user: &str, extra: &str) {
        self.ok(&format!(
            "/v2/presence/sub-key/sk/channel/{ch}/heartbeat?heartbeat=60&uuid={user}{extra}"
        ));
    }

    /// Handshake for `channels` (a subscribe path segment) and optional groups.
    fn watch(&mut self, channels: &str, groups: &str) -> Watcher {
        let path = format!("/v2/subscribe/sk/{channels}/0?uuid=watcher&channel-group={groups}");
        let v: Value = serde_json::from_str(&self.ok(&format!("{path}&tt=0"))).unwrap();
        assert_eq!(v["m"], json!([]));
        Watcher {
            path,
            tt: v["t"]["t"].as_str().unwrap().to_owned(),
        }
    }

    /// Polls once (non-blocking `handle`): the messages since the cursor.
    fn poll(&mut self, w: &mut Watcher) -> Vec<Value> {
        let body = self.ok(&format!("{}&tt={}&tr=1", w.path, w.tt));
        let v: Value = serde_json::from_str(&body).unwrap();
        let t = v["t"]["t"].as_str().unwrap().to_owned();
        assert_eq!(t.len(), 17, "17-digit timetoken");
        assert!(t >= w.tt, "cursor never goes back");
        w.tt = t;
        v["m"].as_array().unwrap().clone()
    }

    /// Polls and returns only the `d` payloads.
    fn events(&mut self, w: &mut Watcher) -> Vec<Value> {
        self.poll(w).into_iter().map(|m| m["d"].clone()).collect()
    }
}

#[test]
fn join_and_leave_envelope_as_recorded() {
    let mut t = T::new(ModelConfig::new());
    let mut w = t.watch("ch-pnpres", "");
    t.hb("ch", "u1", "");
    let body = t.ok(&format!("{}&tt={}", w.path, w.tt));
    let v: Value = serde_json::from_str(&body).unwrap();
    let p = v["m"][0]["p"]["t"].as_str().unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"t":{{"t":"{p}","r":1}},"m":[{{"a":"2","f":0,"p":{{"t":"{p}","r":1}},"k":"sk","c":"ch-pnpres","d":{{"action":"join","timestamp":{T0},"uuid":"u1","occupancy":1}},"b":"ch-pnpres"}}]}}"#
        )
    );
    w.tt = v["t"]["t"].as_str().unwrap().to_owned();
    t.at(5)
        .ok("/v2/presence/sub-key/sk/channel/ch/leave?uuid=u1");
    assert_eq!(
        t.events(&mut w),
        [json!({"action": "leave", "timestamp": T0 + 5, "uuid": "u1", "occupancy": 0})]
    );
    assert_eq!(t.events(&mut w), Vec::<Value>::new());
}

#[test]
fn timeout_event_at_the_deadline() {
    let mut t = T::new(ModelConfig::new());
    let mut w = t.watch("ch-pnpres", "");
    t.hb("ch", "u1", "");
    t.hb("ch", "u2", "");
    assert_eq!(t.events(&mut w).len(), 2);
    t.at(30).hb("ch", "u2", "");
    assert!(
        t.events(&mut w).is_empty(),
        "an extending heartbeat is not an event"
    );
    t.m.handle_timeout(Duration::from_secs(T0 + 60) - Duration::from_nanos(1));
    assert!(t.events(&mut w).is_empty());
    t.m.handle_timeout(Duration::from_secs(T0 + 75));
    t.at(75);
    assert_eq!(
        t.events(&mut w),
        [json!({"action": "timeout", "timestamp": T0 + 60, "uuid": "u1", "occupancy": 1})]
    );
    // Lazily too: a request after the deadline produces the timeout.
    t.at(200);
    assert_eq!(
        t.events(&mut w),
        [json!({"action": "timeout", "timestamp": T0 + 90, "uuid": "u2", "occupancy": 0})]
    );
}

#[test]
fn state_change_events() {
    let mut t = T::new(ModelConfig::new());
    let mut w = t.watch("ch-pnpres", "");
    // Joining with state: the join carries `data`.
    t.hb("ch", "u1", "&state=%7B%22mood%22%3A%22ok%22%7D");
    assert_eq!(
        t.events(&mut w),
        [
            json!({"action": "join", "timestamp": T0, "uuid": "u1", "occupancy": 1, "data": {"mood": "ok"}})
        ]
    );
    t.hb("ch", "u1", "&state=%7B%22mood%22%3A%22ok%22%7D");
    assert!(t.events(&mut w).is_empty(), "same state again: no event");
    t.hb(
        "ch",
        "u1",
        "&state=%7B%22ch%22%3A%7B%22mood%22%3A%22sad%22%7D%7D",
    );
    assert_eq!(
        t.events(&mut w),
        [
            json!({"action": "state-change", "timestamp": T0, "uuid": "u1", "occupancy": 1, "data": {"mood": "sad"}})
        ]
    );
    t.ok("/v2/presence/sub-key/sk/channel/ch/uuid/u1/data?uuid=u1&state=%7B%22a%22%3A1%7D");
    assert_eq!(
        t.events(&mut w),
        [
            json!({"action": "state-change", "timestamp": T0, "uuid": "u1", "occupancy": 1, "data": {"a": 1}})
        ]
    );
    // Set state on a channel where the user is absent: a join with the state.
    t.ok("/v2/presence/sub-key/sk/channel/ch/uuid/u2/data?uuid=u2&state=%7B%22b%22%3A2%7D");
    assert_eq!(
        t.events(&mut w),
        [
            json!({"action": "join", "timestamp": T0, "uuid": "u2", "occupancy": 2, "data": {"b": 2}})
        ]
    );
}

#[test]
fn subscribe_is_presence_and_sees_its_own_join() {
    let mut t = T::new(ModelConfig::new());
    let path = "/v2/subscribe/sk/ch,ch-pnpres/0?uuid=me&heartbeat=40";
    let v: Value = serde_json::from_str(&t.ok(&format!("{path}&tt=0"))).unwrap();
    let tt = v["t"]["t"].as_str().unwrap().to_owned();
    assert_eq!(t.m.occupancy("sk", "ch"), 1);
    assert_eq!(
        t.m.occupancy("sk", "ch-pnpres"),
        0,
        "-pnpres is never joined"
    );
    let v: Value = serde_json::from_str(&t.ok(&format!("{path}&tt={tt}"))).unwrap();
    assert_eq!(v["m"][0]["d"]["action"], "join");
    assert_eq!(v["m"][0]["d"]["uuid"], "me");
    // Each subscribe extends; without one for 40 s the user times out.
    t.at(30)
        .ok(&format!("{path}&tt={}", v["t"]["t"].as_str().unwrap()));
    t.m.handle_timeout(Duration::from_secs(T0 + 69));
    assert_eq!(t.m.occupancy("sk", "ch"), 1);
    t.m.handle_timeout(Duration::from_secs(T0 + 70));
    assert_eq!(t.m.occupancy("sk", "ch"), 0);
    // Without `heartbeat` the default 300 s applies.
    t.at(100).ok("/v2/subscribe/sk/d/0?uuid=me&tt=0");
    t.m.handle_timeout(Duration::from_secs(T0 + 399));
    assert_eq!(t.m.occupancy("sk", "d"), 1);
}

#[test]
fn group_subscription_names_the_group_in_b() {
    let mut t = T::new(ModelConfig::new());
    t.ok("/v1/channel-registration/sub-key/sk/channel-group/g?add=x");
    let mut w = t.watch(",", "g-pnpres");
    t.hb("x", "u1", "");
    t.hb("other", "u1", "");
    let m = t.poll(&mut w);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["c"], "x-pnpres");
    assert_eq!(m[0]["b"], "g-pnpres");
    // Subscribing to a group joins its channels.
    t.ok("/v2/subscribe/sk/,/0?uuid=u2&channel-group=g,g-pnpres&tt=0");
    assert_eq!(t.m.occupancy("sk", "x"), 2);
}

#[test]
fn interval_mode_with_deltas() {
    let mut t = T::new(
        ModelConfig::new()
            .announce_max(2)
            .interval(Duration::from_secs(10)),
    );
    let mut w = t.watch("ch-pnpres", "");
    t.hb("ch", "u1", "");
    t.hb("ch", "u2", "");
    assert_eq!(
        t.events(&mut w).len(),
        2,
        "per-user events up to announce_max"
    );
    t.at(1).hb("ch", "u3", "");
    assert!(
        t.events(&mut w).is_empty(),
        "above announce_max: no per-user event"
    );
    t.at(5)
        .ok("/v2/presence/sub-key/sk/channel/ch/leave?uuid=u1");
    t.at(10);
    assert!(t.events(&mut w).is_empty(), "interval not due before 11 s");
    t.at(11);
    assert_eq!(
        t.events(&mut w),
        [
            json!({"action": "interval", "timestamp": T0 + 11, "occupancy": 2, "join": ["u3"], "leave": ["u1"]})
        ]
    );
    // Back at announce_max: per-user events again.
    t.at(12).hb("ch", "u4", "");
    assert!(
        t.events(&mut w).is_empty(),
        "u4 makes it 3 again: interval mode"
    );
    t.at(22);
    assert_eq!(
        t.events(&mut w),
        [json!({"action": "interval", "timestamp": T0 + 22, "occupancy": 3, "join": ["u4"]})]
    );
    // Still above: an interval every 10 s, even without deltas.
    t.at(32);
    assert_eq!(
        t.events(&mut w),
        [json!({"action": "interval", "timestamp": T0 + 32, "occupancy": 3})]
    );
}

#[test]
fn interval_here_now_refresh_when_deltas_are_too_many() {
    let mut t = T::new(
        ModelConfig::new()
            .announce_max(2)
            .interval(Duration::from_secs(10)),
    );
    let mut w = t.watch("ch-pnpres", "");
    for u in ["a", "b", "c", "d", "e", "f"] {
        t.hb("ch", u, "");
    }
    assert_eq!(t.events(&mut w).len(), 2);
    t.at(10);
    assert_eq!(
        t.events(&mut w),
        [
            json!({"action": "interval", "timestamp": T0 + 10, "occupancy": 6, "here_now_refresh": true})
        ]
    );
}

#[test]
fn long_poll_waits_until_events_or_deadline() {
    let mut t = T::new(ModelConfig::new().subscribe_timeout(Duration::from_secs(280)));
    let w = t.watch("ch-pnpres", "");
    let req = http::Request::get(format!("{}&tt={}", w.path, w.tt))
        .body(())
        .unwrap();
    let Dispatch::Wait(wait) = t.m.dispatch(t.now, &req) else {
        panic!("nothing to deliver: must wait");
    };
    assert_eq!(wait.deadline(), Duration::from_secs(T0 + 280));
    assert!(t.m.poll_wait(t.now, &wait).is_none());
    t.at(3)
        .ok("/v2/presence/sub-key/sk/channel/ch/heartbeat?heartbeat=3600&uuid=u1");
    let resp = t.m.poll_wait(t.now, &wait).expect("join arrived");
    let v: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v["m"][0]["d"]["uuid"], "u1");
    // Idle: an empty answer at the deadline, with a cursor not before the request's.
    let req = http::Request::get(format!("{}&tt={}", w.path, v["t"]["t"].as_str().unwrap()))
        .body(())
        .unwrap();
    let Dispatch::Wait(wait) = t.m.dispatch(t.now, &req) else {
        panic!("must wait");
    };
    assert!(t
        .m
        .poll_wait(Duration::from_secs(T0 + 282), &wait)
        .is_none());
    let resp =
        t.m.poll_wait(Duration::from_secs(T0 + 283), &wait)
            .expect("deadline");
    let e: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(e["m"], json!([]));
    assert_eq!(e["t"]["t"], v["t"]["t"]);
}

#[test]
fn timetokens_increase_strictly() {
    let mut t = T::new(ModelConfig::new());
    let mut w = t.watch("ch-pnpres", "");
    for i in 0..20 {
        t.hb("ch", &format!("u{i:02}"), "");
    }
    let m = t.poll(&mut w);
    let tts: Vec<u64> = m
        .iter()
        .map(|m| m["p"]["t"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(tts.windows(2).all(|p| p[0] < p[1]));
    assert!(tts[0] >= T0 * 10_000_000);
}

#[test]
fn subscribe_errors() {
    let mut t = T::new(ModelConfig::new());
    let before = {
        t.m.handle_timeout(t.now);
        format!("{:?}", t.m)
    };
    for (uri, status) in [
        ("/v2/subscribe/sk/ch/0?uuid=u&tt=abc", 400),
        ("/v2/subscribe/sk/ch/0?tt=0", 400),
        ("/v2/subscribe/sk/,/0?uuid=u&tt=0", 400),
        ("/v2/subscribe/sk/ch/0?uuid=u&tt=0&heartbeat=5", 400),
        ("/v2/subscribe/sk/ch/0?uuid=u&tt=0&state=%7B", 400),
        ("/v2/subscribe/nope/ch/0?uuid=u&tt=0", 400),
        ("/v2/subscribe/sk/ch/1?uuid=u&tt=0", 404),
    ] {
        assert_eq!(t.get(uri).0, status, "{uri}");
    }
    assert_eq!(format!("{:?}", t.m), before);
}

#[test]
fn event_log_is_bounded() {
    let mut t = T::new(ModelConfig::new().event_log_capacity(10));
    for i in 0..50 {
        t.hb("ch", &format!("u{i}"), "");
    }
    assert_eq!(t.m.stats().events, 10);
}
