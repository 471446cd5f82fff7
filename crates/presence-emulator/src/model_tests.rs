//! Virtual-time tests of the pure core, through `Model::handle` only.

use crate::{Keyset, Model, ModelConfig};
use presence_core::{canonical_query, sign_v2};
use std::time::Duration;

const T0: u64 = 1_700_000_000;

struct T {
    m: Model,
    now: Duration,
}

impl T {
    fn new() -> Self {
        Self::with(ModelConfig::new().keyset(Keyset::new("sk")))
    }

    fn with(config: ModelConfig) -> Self {
        T {
            m: Model::new(config),
            now: Duration::from_secs(T0),
        }
    }

    fn at(&mut self, secs_after_t0: f64) -> &mut Self {
        self.now = Duration::from_secs(T0) + Duration::from_secs_f64(secs_after_t0);
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

    fn json(&mut self, uri: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(uri)).unwrap()
    }

    fn hb(&mut self, ch: &str, user: &str, timeout: u32) {
        self.ok(&format!(
            "/v2/presence/sub-key/sk/channel/{ch}/heartbeat?heartbeat={timeout}&uuid={user}"
        ));
    }

    fn occupancy(&mut self, ch: &str) -> u64 {
        self.json(&format!("/v2/presence/sub-key/sk/channel/{ch}?uuid=probe"))["occupancy"]
            .as_u64()
            .unwrap()
    }

    fn snapshot(&mut self) -> String {
        self.m.handle_timeout(self.now);
        format!("{:?}", self.m)
    }
}

#[test]
fn join_and_single_channel_here_now_bodies() {
    let mut t = T::new();
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/ch/heartbeat?heartbeat=60&uuid=u1&pnsdk=PubNub-Go%2F7&l_pres=0.1&requestid=x&ee"),
        r#"{"status":200,"message":"OK","service":"Presence"}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/ch?uuid=x"),
        r#"{"status":200,"message":"OK","service":"Presence","uuids":["u1"],"occupancy":1}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/ch?uuid=x&state=1"),
        r#"{"status":200,"message":"OK","service":"Presence","uuids":[{"uuid":"u1"}],"occupancy":1}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/ch?uuid=x&disable_uuids=1"),
        r#"{"status":200,"message":"OK","service":"Presence","occupancy":1}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/empty?uuid=x"),
        r#"{"status":200,"message":"OK","service":"Presence","uuids":[],"occupancy":0}"#
    );
}

#[test]
fn heartbeat_extends_and_timeout_is_exact() {
    let mut t = T::new();
    t.hb("ch", "u1", 20);
    t.at(15.0).hb("ch", "u1", 20);
    // Deadline is now T0 + 35 s exactly.
    t.at(34.999_999_999);
    assert_eq!(t.occupancy("ch"), 1);
    t.at(35.0);
    assert_eq!(t.occupancy("ch"), 0);
    let s = t.m.stats();
    assert_eq!(
        crate::ModelStats {
            events: 0,
            event_bytes: 0,
            ..s
        },
        crate::ModelStats::default(),
        "nothing left behind but the (bounded) event log"
    );
}

#[test]
fn timeout_via_handle_timeout_and_poll_timeout() {
    let mut t = T::new();
    t.hb("ch", "u1", 300);
    assert_eq!(t.m.poll_timeout(), Some(Duration::from_secs(T0 + 300)));
    t.m.handle_timeout(Duration::from_secs(T0 + 300) - Duration::from_nanos(1));
    assert_eq!(t.m.occupancy("sk", "ch"), 1);
    t.m.handle_timeout(Duration::from_secs(T0 + 300));
    assert_eq!(t.m.occupancy("sk", "ch"), 0);
    assert_eq!(t.m.poll_timeout(), None);
}

#[test]
fn default_timeout_is_300_for_absent_and_zero() {
    let mut t = T::new();
    t.ok("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u1");
    t.ok("/v2/presence/sub-key/sk/channel/b/heartbeat?uuid=u1&heartbeat=0");
    t.at(299.9);
    assert_eq!(t.occupancy("a") + t.occupancy("b"), 2);
    t.at(300.0);
    assert_eq!(t.occupancy("a") + t.occupancy("b"), 0);
}

#[test]
fn leave_and_where_now() {
    let mut t = T::new();
    t.hb("a,b", "u1", 60);
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/uuid/u1?uuid=x"),
        r#"{"status":200,"message":"OK","payload":{"channels":["a","b"]},"service":"Presence"}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub_key/sk/channel/a/leave?uuid=u1"),
        r#"{"status":200,"action":"leave","message":"OK","service":"Presence"}"#
    );
    assert_eq!(t.occupancy("a"), 0);
    assert_eq!(t.occupancy("b"), 1);
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/uuid/u1?uuid=x"),
        r#"{"status":200,"message":"OK","payload":{"channels":["b"]},"service":"Presence"}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/uuid/?uuid=x"),
        r#"{"status":200,"message":"OK","payload":{"channels":[]},"service":"Presence"}"#
    );
    // Leaving a channel one is not in is fine.
    t.ok("/v2/presence/sub-key/sk/channel/zzz/leave?uuid=u1");
}

#[test]
fn multi_channel_and_global_here_now() {
    let mut t = T::new();
    t.hb("a", "u1", 60);
    t.hb("a", "u2", 60);
    t.hb("b", "u1", 60);
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/a,b,empty?uuid=x"),
        r#"{"status":200,"message":"OK","payload":{"channels":{"a":{"uuids":["u1","u2"],"occupancy":2},"b":{"uuids":["u1"],"occupancy":1}},"total_channels":2,"total_occupancy":3},"service":"Presence"}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk?uuid=x&disable_uuids=1"),
        r#"{"status":200,"message":"OK","payload":{"channels":{"a":{"occupancy":2},"b":{"occupancy":1}},"total_channels":2,"total_occupancy":3},"service":"Presence"}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk?uuid=x&state=1"),
        r#"{"status":200,"message":"OK","payload":{"channels":{"a":{"uuids":[{"uuid":"u1"},{"uuid":"u2"}],"occupancy":2},"b":{"uuids":[{"uuid":"u1"}],"occupancy":1}},"total_channels":2,"total_occupancy":3},"service":"Presence"}"#
    );
    // One channel plus a (missing) group: multi shape, even when empty.
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/empty?uuid=x&state=1&channel-group=cg"),
        r#"{"status":200,"message":"OK","payload":{"channels":{},"total_channels":0,"total_occupancy":0},"service":"Presence"}"#
    );
}

#[test]
fn go_disable_uuids_spelling_and_values() {
    let mut t = T::new();
    t.hb("a", "u1", 60);
    t.hb("b", "u1", 60);
    let v = t.json("/v2/presence/sub_key/sk/channel/a,b?uuid=x&disable-uuids=1&state=0&l_pres=0.2");
    assert!(v["payload"]["channels"]["a"].get("uuids").is_none());
    let v = t.json("/v2/presence/sub_key/sk/channel/a,b?uuid=x&disable-uuids=0&state=0");
    assert_eq!(
        v["payload"]["channels"]["a"]["uuids"],
        serde_json::json!(["u1"])
    );
}

#[test]
fn pagination_like_go_e2e() {
    let mut t = T::new();
    for u in ["u3", "u1", "u2"] {
        t.hb("ch", u, 60);
    }
    let page = |t: &mut T, q: &str| {
        let v = t.json(&format!("/v2/presence/sub-key/sk/channel/ch?uuid=x&{q}"));
        assert_eq!(v["occupancy"], 3, "{q}");
        v.get("uuids").cloned()
    };
    assert_eq!(
        page(&mut t, "limit=2"),
        Some(serde_json::json!(["u1", "u2"]))
    );
    assert_eq!(
        page(&mut t, "limit=2&offset=2"),
        Some(serde_json::json!(["u3"]))
    );
    assert_eq!(
        page(&mut t, "limit=10"),
        Some(serde_json::json!(["u1", "u2", "u3"]))
    );
    assert_eq!(
        page(&mut t, "limit=10&offset=5"),
        Some(serde_json::json!([]))
    );
    assert_eq!(page(&mut t, "limit=0"), None);
    assert_eq!(
        page(&mut t, "limit=1000&offset=0"),
        Some(serde_json::json!(["u1", "u2", "u3"]))
    );
    // Multi shape: per channel, totals are full counts.
    t.hb("other", "u9", 60);
    let v = t.json("/v2/presence/sub-key/sk/channel/ch,other?uuid=x&limit=1&offset=1");
    assert_eq!(
        v["payload"]["channels"]["ch"]["uuids"],
        serde_json::json!(["u2"])
    );
    assert_eq!(
        v["payload"]["channels"]["other"]["uuids"],
        serde_json::json!([])
    );
    assert_eq!(v["payload"]["total_occupancy"], 4);
}

#[test]
fn both_path_spellings_everywhere() {
    let mut t = T::new();
    for k in ["sub-key", "sub_key"] {
        t.ok(&format!(
            "/v2/presence/{k}/sk/channel/a/heartbeat?uuid=u&heartbeat=60"
        ));
        t.ok(&format!("/v2/presence/{k}/sk/channel/a?uuid=u"));
        t.ok(&format!("/v2/presence/{k}/sk?uuid=u"));
        t.ok(&format!("/v2/presence/{k}/sk/uuid/u?uuid=u"));
        t.ok(&format!(
            "/v2/presence/{k}/sk/channel/a/uuid/u/data?uuid=u&state=%7B%7D"
        ));
        t.ok(&format!("/v2/presence/{k}/sk/channel/a/uuid/u?uuid=u"));
        t.ok(&format!("/v2/presence/{k}/sk/channel/a/leave?uuid=u"));
        t.ok(&format!(
            "/v1/channel-registration/{k}/sk/channel-group/g?add=a"
        ));
        t.ok(&format!("/v1/channel-registration/{k}/sk/channel-group"));
    }
}

#[test]
fn channel_names_are_split_before_decoding() {
    let mut t = T::new();
    t.hb("a%2Cb,c%20d,%E9%A2%91", "user%40x.com", 60);
    let v = t.json("/v2/presence/sub-key/sk?uuid=x");
    let names: Vec<&String> = v["payload"]["channels"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["a,b", "c d", "频"]);
    assert_eq!(
        v["payload"]["channels"]["a,b"]["uuids"],
        serde_json::json!(["user@x.com"])
    );
    // `,` alone is "no channels"; with a group it works.
    t.ok("/v1/channel-registration/sub-key/sk/channel-group/g?add=c%20d");
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/,?uuid=x&channel-group=g"),
        r#"{"status":200,"message":"OK","payload":{"channels":{"c d":{"uuids":["user@x.com"],"occupancy":1}},"total_channels":1,"total_occupancy":1},"service":"Presence"}"#
    );
}

#[test]
fn set_and_get_state_shapes() {
    let mut t = T::new();
    t.hb("a", "u1", 60);
    // Python's spacing and `+` for space; the echo is minified, key order kept.
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/a,b/uuid/u1/data?uuid=u1&state=%7B%22name%22%3A+%22Al+ex%22%2C+%22count%22%3A+5%7D"),
        r#"{"status":200,"message":"OK","payload":{"name":"Al ex","count":5},"service":"Presence"}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/a/uuid/u1?uuid=x"),
        r#"{"status":200,"message":"OK","payload":{"name":"Al ex","count":5},"uuid":"u1","channel":"a","service":"Presence"}"#
    );
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/a,b,c/uuid/u1?uuid=x"),
        r#"{"status":200,"message":"OK","payload":{"channels":{"a":{"name":"Al ex","count":5},"b":{"name":"Al ex","count":5},"c":{}}},"service":"Presence","uuid":"u1"}"#
    );
    // Set state made u1 present in b (it was not); here now with state shows it.
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/b?uuid=x&state=1"),
        r#"{"status":200,"message":"OK","service":"Presence","uuids":[{"uuid":"u1","state":{"name":"Al ex","count":5}}],"occupancy":1}"#
    );
    // `{}` clears.
    t.ok("/v2/presence/sub-key/sk/channel/a/uuid/u1/data?uuid=u1&state=%7B%7D");
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/a/uuid/u1?uuid=x"),
        r#"{"status":200,"message":"OK","payload":{},"uuid":"u1","channel":"a","service":"Presence"}"#
    );
    // State goes with the occupancy: after leave, nothing.
    t.ok("/v2/presence/sub-key/sk/channel/b/leave?uuid=u1");
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/b/uuid/u1?uuid=x")["payload"],
        serde_json::json!({})
    );
}

#[test]
fn state_on_groups() {
    let mut t = T::new();
    t.ok("/v1/channel-registration/sub-key/sk/channel-group/g?add=x,y");
    t.ok("/v2/presence/sub-key/sk/channel/,/uuid/u1/data?uuid=u1&channel-group=g&state=%7B%22k%22%3A1%7D");
    assert_eq!(t.occupancy("x"), 1);
    assert_eq!(
        t.ok("/v2/presence/sub-key/sk/channel/,/uuid/u1?uuid=u1&channel-group=g"),
        r#"{"status":200,"message":"OK","payload":{"channels":{"x":{"k":1},"y":{"k":1}}},"service":"Presence","uuid":"u1"}"#
    );
    // Heartbeat state keyed by group name applies to the group's channels.
    t.ok("/v2/presence/sub-key/sk/channel/,/heartbeat?uuid=u2&channel-group=g&state=%7B%22g%22%3A%7B%22m%22%3A2%7D%7D");
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/y/uuid/u2?uuid=u2")["payload"],
        serde_json::json!({"m": 2})
    );
    // Leave by group.
    t.ok("/v2/presence/sub-key/sk/channel/,/leave?uuid=u1&channel-group=g");
    assert_eq!(t.occupancy("x"), 1);
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/uuid/u1?uuid=u1")["payload"]["channels"],
        serde_json::json!([])
    );
}

#[test]
fn heartbeat_state_forms() {
    let mut t = T::new();
    // Python: bare object applies to every listed channel.
    t.ok("/v2/presence/sub-key/sk/channel/a,%C3%BC/heartbeat?uuid=p&heartbeat=300&state=%7B%22mood%22%3A%20%22ok%22%7D");
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/%C3%BC/uuid/p?uuid=p")["payload"],
        serde_json::json!({"mood": "ok"})
    );
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/a/uuid/p?uuid=p")["payload"],
        serde_json::json!({"mood": "ok"})
    );
    // Go/Rust/JS: keyed by channel.
    t.ok("/v2/presence/sub-key/sk/channel/a,b/heartbeat?uuid=k&state=%7B%22a%22%3A%7B%22x%22%3A1%7D%7D");
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/a/uuid/k?uuid=k")["payload"],
        serde_json::json!({"x": 1})
    );
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/b/uuid/k?uuid=k")["payload"],
        serde_json::json!({})
    );
    // A key that is a channel but with a non-object value: bare.
    t.ok("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=n&state=%7B%22a%22%3A5%7D");
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/a/uuid/n?uuid=n")["payload"],
        serde_json::json!({"a": 5})
    );
    // JS: `{}` sets nothing (existing state kept).
    t.ok("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=p&state=%7B%7D");
    assert_eq!(
        t.json("/v2/presence/sub-key/sk/channel/a/uuid/p?uuid=p")["payload"],
        serde_json::json!({"mood": "ok"})
    );
}

#[test]
fn channel_group_registry() {
    let mut t = T::new();
    let cg = "/v1/channel-registration/sub-key/sk/channel-group";
    assert_eq!(
        t.ok(&format!("{cg}/g1?add=b%2Ca&uuid=u")),
        r#"{"status":200,"message":"OK","service":"channel-registry","error":false}"#
    );
    t.ok(&format!("{cg}/g2?add=c"));
    assert_eq!(
        t.ok(&format!("{cg}/g1")),
        r#"{"status":200,"payload":{"channels":["a","b"],"group":"g1"},"service":"channel-registry","error":false}"#
    );
    assert_eq!(
        t.ok(cg),
        r#"{"status":200,"payload":{"groups":["g1","g2"]},"service":"channel-registry","error":false}"#
    );
    t.ok(&format!("{cg}/g1?remove=a"));
    assert_eq!(
        t.ok(&format!("{cg}/g1")),
        r#"{"status":200,"payload":{"channels":["b"],"group":"g1"},"service":"channel-registry","error":false}"#
    );
    assert_eq!(
        t.ok(&format!("{cg}/g1/remove")),
        r#"{"status":200,"message":"OK","service":"channel-registry","error":false}"#
    );
    assert_eq!(
        t.ok(&format!("{cg}/g1")),
        r#"{"status":200,"payload":{"channels":[],"group":"g1"},"service":"channel-registry","error":false}"#
    );
    // Removing the last channel drops the group.
    t.ok(&format!("{cg}/g2?remove=c"));
    assert_eq!(
        t.ok(cg),
        r#"{"status":200,"payload":{"groups":[]},"service":"channel-registry","error":false}"#
    );
}

#[test]
fn errors_have_json_bodies_and_change_nothing() {
    let mut t = T::with(
        ModelConfig::new()
            .keyset(Keyset::new("sk"))
            .keyset(Keyset::new("pam").grant("tok", ["ok"], ["okg"]))
            .max_url_len(200),
    );
    t.hb("a", "u1", 60);
    t.ok("/v2/presence/sub-key/sk/channel/a/uuid/u1/data?uuid=u1&state=%7B%22k%22%3A1%7D");
    t.ok("/v1/channel-registration/sub-key/sk/channel-group/g?add=a");
    let before = t.snapshot();
    let cases: &[(&str, u16, &str)] = &[
        ("/v2/presence/sub-key/nope/channel/a?uuid=u", 400, r#"{"status":400,"error":true,"message":"Invalid Subscribe Key","service":"Presence"}"#),
        ("/v1/channel-registration/sub-key/nope/channel-group", 400, r#"{"status":400,"error":true,"message":"Invalid Subscribe Key","service":"channel-registry"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat", 400, r#"{"status":400,"error":true,"message":"Missing UUID","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=", 400, r#"{"status":400,"error":true,"message":"Missing UUID","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a%zz/heartbeat?uuid=u", 400, r#"{"status":400,"error":true,"message":"Invalid percent-encoding","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=%FF", 400, r#"{"status":400,"error":true,"message":"Invalid UTF-8","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u&state=%7Bnope", 400, r#"{"status":400,"error":true,"message":"Invalid JSON specified.","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u&state=%5B1%5D", 400, r#"{"status":400,"error":true,"message":"Invalid JSON specified.","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/uuid/u1/data?uuid=u1&state=5", 400, r#"{"status":400,"error":true,"message":"Invalid JSON specified.","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/uuid/u1/data?uuid=u1", 400, r#"{"status":400,"error":true,"message":"Invalid JSON specified.","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u&heartbeat=19", 400, r#"{"status":400,"error":true,"message":"Invalid heartbeat","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u&heartbeat=-5", 400, r#"{"status":400,"error":true,"message":"Invalid heartbeat","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u&heartbeat=86401", 400, r#"{"status":400,"error":true,"message":"Invalid heartbeat","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/,/heartbeat?uuid=u", 400, r#"{"status":400,"error":true,"message":"Missing channels or channel groups","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a?uuid=u&limit=1001", 400, r#"{"status":400,"error":true,"message":"Invalid limit","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a?uuid=u&limit=-1", 400, r#"{"status":400,"error":true,"message":"Invalid limit","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a?uuid=u&limit=x", 400, r#"{"status":400,"error":true,"message":"Invalid limit","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/channel/a?uuid=u&offset=-1", 400, r#"{"status":400,"error":true,"message":"Invalid offset","service":"Presence"}"#),
        ("/v2/presence/sub-key/sk/nowhere?uuid=u", 404, r#"{"status":404,"error":true,"message":"Not Found","service":"Presence"}"#),
        ("/v1/channel-registration/sub-key/sk/channel-group/", 400, r#"{"status":400,"error":true,"message":"Missing channel group","service":"channel-registry"}"#),
        ("/v2/presence/sub-key/pam/channel/ok,no1,no2/heartbeat?uuid=u&auth=tok&channel-group=okg,nog", 403, r#"{"message":"Forbidden","payload":{"channels":["no1","no2"],"channel-groups":["nog"]},"error":true,"service":"Access Manager","status":403}"#),
        ("/v2/presence/sub-key/pam/channel/ok/heartbeat?uuid=u", 403, r#"{"message":"Forbidden","payload":{"channels":["ok"]},"error":true,"service":"Access Manager","status":403}"#),
        ("/v2/presence/sub-key/pam/uuid/u?uuid=u&auth=bad", 403, r#"{"message":"Forbidden","payload":{},"error":true,"service":"Access Manager","status":403}"#),
    ];
    for (uri, status, body) in cases {
        assert_eq!(t.get(uri), (*status, body.to_string()), "{uri}");
    }
    let long = format!(
        "/v2/presence/sub-key/sk/channel/{}/heartbeat?uuid=u",
        "x".repeat(200)
    );
    assert_eq!(
        t.get(&long),
        (
            414,
            r#"{"status":414,"error":true,"message":"Request-URI Too Long","service":"Presence"}"#
                .to_string()
        )
    );
    let post = http::Request::post("/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u")
        .body(())
        .unwrap();
    assert_eq!(t.m.handle(t.now, &post).status(), 405);
    assert_eq!(
        t.snapshot(),
        before,
        "a bad request must not change the model"
    );
    // And PAM allows what it grants.
    t.ok("/v2/presence/sub-key/pam/channel/ok/heartbeat?uuid=u&auth=tok&channel-group=okg");
}

fn signed(path: &str, params: &[(&str, &str)], secret: &str, publish: &str) -> String {
    let sig = sign_v2(
        secret,
        "GET",
        publish,
        path,
        &canonical_query(params.iter().copied()),
        b"",
    );
    let mut q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", presence_core::percent_encode(v)))
        .collect();
    q.push(format!("signature={sig}"));
    format!("{path}?{}", q.join("&"))
}

#[test]
fn signed_keyset() {
    let mut t = T::with(
        ModelConfig::new().keyset(
            Keyset::new("sub-c-test")
                .publish_key("pub-c-test")
                .secret_key("sec-c-test"),
        ),
    );
    let path = "/v2/presence/sub-key/sub-c-test/channel/ch1,ch%20two/heartbeat";
    let ts = T0.to_string();
    let good = signed(
        path,
        &[
            ("heartbeat", "300"),
            ("channel-group", "cg1,cg2"),
            ("state", r#"{"ch1":{"mood":"happy"}}"#),
            ("timestamp", &ts),
            ("uuid", "user-1"),
        ],
        "sec-c-test",
        "pub-c-test",
    );
    assert_eq!(t.get(&good).0, 200);
    assert_eq!(t.occupancy_signed(), 2);
    let before = t.snapshot();
    let wrong = signed(
        path,
        &[("timestamp", &ts), ("uuid", "user-1")],
        "nope",
        "pub-c-test",
    );
    assert_eq!(
        t.get(&wrong),
        (403, r#"{"error":{"message":"Invalid signature","source":"grant","details":[{"message":"Client and server produced different signatures for the same inputs.","location":"signature","locationType":"query"}]},"service":"Access Manager","status":403}"#.to_string())
    );
    let stale_ts = (T0 - 601).to_string();
    let stale = signed(
        path,
        &[("timestamp", &stale_ts), ("uuid", "user-1")],
        "sec-c-test",
        "pub-c-test",
    );
    assert_eq!(
        t.get(&stale),
        (403, r#"{"error":{"message":"Invalid signature","source":"grant","details":[{"message":"Request timestamp is outside the allowed window.","location":"timestamp","locationType":"query"}]},"service":"Access Manager","status":403}"#.to_string())
    );
    let edge_ts = (T0 - 600).to_string();
    let edge = signed(
        "/v2/presence/sub-key/sub-c-test/uuid/u",
        &[("timestamp", &edge_ts), ("uuid", "u")],
        "sec-c-test",
        "pub-c-test",
    );
    assert_eq!(t.get(&edge).0, 200);
    assert_eq!(t.get(&format!("{path}?uuid=u")).0, 403);
    // Tampering with a signed parameter invalidates it.
    assert_eq!(
        t.get(&good.replace("heartbeat=300", "heartbeat=301")).0,
        403
    );
    assert_eq!(t.snapshot(), before);
}

impl T {
    fn occupancy_signed(&self) -> usize {
        self.m.occupancy("sub-c-test", "ch1") + self.m.occupancy("sub-c-test", "ch two")
    }
}

#[test]
fn memory_follows_live_occupancy() {
    let mut t = T::new();
    for i in 0..500 {
        t.hb(&format!("c{}", i % 50), &format!("u{i}"), 20);
    }
    let s = t.m.stats();
    assert_eq!(
        (s.channels, s.occupants, s.users, s.expiry_entries),
        (50, 500, 500, 500)
    );
    for i in 0..250 {
        t.ok(&format!(
            "/v2/presence/sub-key/sk/channel/c{}/leave?uuid=u{i}",
            i % 50
        ));
    }
    assert_eq!(t.m.stats().occupants, 250);
    t.m.handle_timeout(Duration::from_secs(T0 + 20));
    let s = t.m.stats();
    assert_eq!(
        crate::ModelStats {
            events: 0,
            event_bytes: 0,
            ..s
        },
        crate::ModelStats::default()
    );
    // 500 joins + 250 leaves + 250 timeouts, bounded by the event log capacity.
    assert_eq!(s.events, 1000);
}

#[test]
fn options_and_time() {
    let mut t = T::new();
    let req = http::Request::options("/v2/presence/sub-key/sk/channel/a")
        .body(())
        .unwrap();
    let resp = t.m.handle(t.now, &req);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(t.ok("/time/0"), format!("[{}]", T0 * 10_000_000));
}

#[test]
fn recorded_headers() {
    let mut t = T::new();
    let req = http::Request::get("/v2/presence/sub-key/sk/channel/a?uuid=u")
        .body(())
        .unwrap();
    let resp = t.m.handle(t.now, &req);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/javascript; charset=\"UTF-8\"");
    assert_eq!(h["server"], "Pubnub Presence");
    assert_eq!(h["access-control-allow-methods"], "OPTIONS, GET, POST");
    assert_eq!(h["cache-control"], "no-cache");
}

#[test]
fn an_event_readies_only_the_waits_it_concerns_and_answered_waits_are_forgotten() {
    let mut m = Model::new(ModelConfig::new().keyset(Keyset::new("sk")));
    let now = Duration::from_secs(T0);
    let get = |t: &str| http::Request::get(t).body(()).unwrap();
    let ok = |m: &mut Model, t: &str| assert_eq!(m.handle(now, &get(t)).status(), 200, "{t}");
    ok(
        &mut m,
        "/v1/channel-registration/sub-key/sk/channel-group/g?add=c&uuid=a",
    );
    let wait = |m: &mut Model, t: &str| match m.dispatch(now, &get(t)) {
        crate::Dispatch::Wait(w) => w,
        crate::Dispatch::Response(r) => panic!("{t}: answered {:?}", r.body()),
    };
    let on_a = wait(&mut m, "/v2/subscribe/sk/a-pnpres/0?tt=1&uuid=w1");
    let on_b = wait(&mut m, "/v2/subscribe/sk/b-pnpres/0?tt=1&uuid=w2");
    let on_g = wait(
        &mut m,
        "/v2/subscribe/sk/,/0?tt=1&uuid=w3&channel-group=g-pnpres",
    );
    let entries = |m: &Model| m.hold_keyset("sk").unwrap().watchers.entries();
    assert_eq!(entries(&m), 3);
    assert!(m.take_ready().is_empty());
    // A join on `a` readies the wait on `a` only; one on `c`, the group's.
    ok(&mut m, "/v2/presence/sub-key/sk/channel/a/heartbeat?uuid=u");
    assert_eq!(m.take_ready(), vec![on_a.id()]);
    ok(&mut m, "/v2/presence/sub-key/sk/channel/c/heartbeat?uuid=u");
    assert_eq!(m.take_ready(), vec![on_g.id()]);
    assert!(m.poll_wait(now, &on_a).is_some());
    assert!(m.poll_wait(now, &on_g).is_some());
    assert_eq!(entries(&m), 1);
    m.cancel_wait(&on_b);
    assert_eq!(entries(&m), 0);
}
