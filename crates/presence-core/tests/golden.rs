//! Golden requests: method, full path and the full (sorted) query of every operation,
//! compared exactly; the signed form checked against PROTOCOL.md §6.

mod common;

use common::{config, signed_config, signing_keyset};
use percent_encoding::percent_decode_str;
use presence_core::{
    canonical_query, sign_v2, Config, Error, GetState, Heartbeat, HereNow, Keyset, Leave,
    Operation, Origin, RequestMeta, SetState, UserId, WhereNow,
};
use serde_json::{json, Value};

const P: &str = "/v2/presence/sub-key/sub-c-test";
/// `pnsdk` and `uuid`, the common tail of an unsigned query.
const Q: &str = "pnsdk=PubNub-Rust%2F0.6.0&uuid=user-1";

fn meta() -> RequestMeta {
    RequestMeta::new(1_700_000_000)
}

/// Builds the request and returns (path, query) after checking the fixed parts.
#[track_caller]
fn golden<O: Operation>(op: &O, config: &Config, meta: &RequestMeta) -> (String, String) {
    let req = op.to_request(config, meta).expect("request");
    assert_eq!(req.method(), http::Method::GET);
    assert!(req.body().is_empty());
    let uri = req.uri();
    assert_eq!(uri.scheme_str(), Some(config.origin.scheme().as_str()));
    assert_eq!(uri.authority(), Some(config.origin.authority()));
    (
        uri.path().to_owned(),
        uri.query().expect("a query").to_owned(),
    )
}

#[track_caller]
fn check<O: Operation>(op: &O, path: &str, query: &str) {
    assert_eq!(
        golden(op, &config(), &meta()),
        (path.to_owned(), query.to_owned())
    );
}

fn decode(s: &str) -> String {
    percent_decode_str(s)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

/// The decoded query pairs, in wire order.
fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (decode(k), decode(v))
        })
        .collect()
}

fn param(query: &str, key: &str) -> Option<String> {
    pairs(query)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------- here now

#[test]
fn here_now_one_channel() {
    check(
        &HereNow::new().channels(["ch1"]),
        &format!("{P}/channel/ch1"),
        &format!("limit=1000&{Q}"),
    );
}

#[test]
fn here_now_names_with_reserved_and_non_ascii_characters() {
    let op = HereNow::new().channels([
        "a b",
        "a/b",
        "a,b",
        "channel#1",
        "channel@2",
        "a+b",
        "😀",
        "频道中文",
        "~-_.",
    ]);
    check(
        &op,
        &format!(
            "{P}/channel/a%20b,a%2Fb,a%2Cb,channel%231,channel%402,a%2Bb,%F0%9F%98%80,\
             %E9%A2%91%E9%81%93%E4%B8%AD%E6%96%87,~-_."
        ),
        &format!("limit=1000&{Q}"),
    );
}

#[test]
fn a_lone_comma_or_percent_is_a_name_not_a_separator() {
    check(
        &HereNow::new().channels([",", "100%", "%2C"]),
        &format!("{P}/channel/%2C,100%25,%252C"),
        &format!("limit=1000&{Q}"),
    );
    check(
        &Leave::new().channels([","]),
        &format!("{P}/channel/%2C/leave"),
        Q,
    );
}

#[test]
fn here_now_all_options() {
    let op = HereNow::new()
        .channels(["ch1"])
        .channel_groups(["cg1", "g/2", "g 3"])
        .include_state(true)
        .include_user_ids(false)
        .limit(10)
        .offset(20);
    check(
        &op,
        &format!("{P}/channel/ch1"),
        "channel-group=cg1,g%2F2,g%203&disable_uuids=1&limit=10&offset=20\
         &pnsdk=PubNub-Rust%2F0.6.0&state=1&uuid=user-1",
    );
}

#[test]
fn here_now_offset_zero_and_defaults_are_not_sent() {
    check(
        &HereNow::new()
            .channels(["a", "b"])
            .offset(0)
            .include_user_ids(true)
            .include_state(false),
        &format!("{P}/channel/a,b"),
        &format!("limit=1000&{Q}"),
    );
}

#[test]
fn here_now_groups_only_uses_the_comma_segment() {
    check(
        &HereNow::new().channel_groups(["cg1", "cg2"]),
        &format!("{P}/channel/,"),
        &format!("channel-group=cg1,cg2&limit=1000&{Q}"),
    );
}

#[test]
fn here_now_global() {
    check(&HereNow::new(), P, &format!("limit=1000&{Q}"));
    check(
        &HereNow::new().include_user_ids(false).include_state(true),
        P,
        "disable_uuids=1&limit=1000&pnsdk=PubNub-Rust%2F0.6.0&state=1&uuid=user-1",
    );
}

#[test]
fn here_now_duplicate_channels_are_sent_once() {
    check(
        &HereNow::new().channels(["b", "a", "b"]),
        &format!("{P}/channel/b,a"),
        &format!("limit=1000&{Q}"),
    );
}

// ---------------------------------------------------------------- where now

#[test]
fn where_now_self_and_other_users() {
    check(&WhereNow::new(), &format!("{P}/uuid/user-1"), Q);
    for (user, encoded) in [
        ("other user", "other%20user"),
        ("user@domain.com", "user%40domain.com"),
        ("myUUID#1", "myUUID%231"),
        ("用户123", "%E7%94%A8%E6%88%B7123"),
        ("a,b/c+d", "a%2Cb%2Fc%2Bd"),
        ("😀", "%F0%9F%98%80"),
    ] {
        check(
            &WhereNow::new().user_id(user),
            &format!("{P}/uuid/{encoded}"),
            Q,
        );
    }
}

#[test]
fn configured_user_id_is_encoded_in_the_query() {
    let c = Config::new(
        Keyset::new("sub-c-test"),
        UserId::new("me & you+1").unwrap(),
    )
    .with_pnsdk("PubNub-Rust/0.6.0");
    assert_eq!(
        golden(&WhereNow::new(), &c, &meta()),
        (
            format!("{P}/uuid/me%20%26%20you%2B1"),
            "pnsdk=PubNub-Rust%2F0.6.0&uuid=me%20%26%20you%2B1".to_owned()
        )
    );
}

// ---------------------------------------------------------------- heartbeat

#[test]
fn heartbeat_default_timeout() {
    check(
        &Heartbeat::new().channels(["ch1"]),
        &format!("{P}/channel/ch1/heartbeat"),
        &format!("heartbeat=300&{Q}"),
    );
}

#[test]
fn heartbeat_timeout_is_clamped_to_20() {
    for (given, sent) in [(0, 20), (10, 20), (19, 20), (20, 20), (60, 60), (320, 320)] {
        let op = Heartbeat::new().channels(["ch1"]).timeout(given);
        assert_eq!(op.timeout_secs(), sent);
        check(
            &op,
            &format!("{P}/channel/ch1/heartbeat"),
            &format!("heartbeat={sent}&{Q}"),
        );
    }
}

#[test]
fn heartbeat_sorts_and_dedups_channels_and_groups() {
    check(
        &Heartbeat::new()
            .channels(["ch1", "ch two", "ch1"])
            .channel_groups(["cg2", "cg1"]),
        &format!("{P}/channel/ch%20two,ch1/heartbeat"),
        &format!("channel-group=cg1,cg2&heartbeat=300&{Q}"),
    );
}

#[test]
fn heartbeat_groups_only_uses_the_comma_segment() {
    check(
        &Heartbeat::new().channel_groups(["cg1"]),
        &format!("{P}/channel/,/heartbeat"),
        &format!("channel-group=cg1&heartbeat=300&{Q}"),
    );
}

#[test]
fn heartbeat_state_is_keyed_by_channel() {
    check(
        &Heartbeat::new()
            .channels(["ch1"])
            .state(json!({"mood": "happy"})),
        &format!("{P}/channel/ch1/heartbeat"),
        "heartbeat=300&pnsdk=PubNub-Rust%2F0.6.0\
         &state=%7B%22ch1%22%3A%7B%22mood%22%3A%22happy%22%7D%7D&uuid=user-1",
    );
}

#[test]
fn heartbeat_state_for_channels_groups_and_per_channel_overrides() {
    let op = Heartbeat::new()
        .channels(["a", "b"])
        .channel_groups(["g"])
        .state(json!({"n": 1}))
        .channel_state("b", json!({"n": 2, "s": "x y"}));
    let (path, query) = golden(&op, &config(), &meta());
    assert_eq!(path, format!("{P}/channel/a,b/heartbeat"));
    let state: Value = serde_json::from_str(&param(&query, "state").unwrap()).unwrap();
    assert_eq!(
        state,
        json!({"a": {"n": 1}, "b": {"n": 2, "s": "x y"}, "g": {"n": 1}})
    );
    assert!(!query.contains('+'));
}

#[test]
fn heartbeat_channel_state_for_a_name_not_in_the_request() {
    let op = Heartbeat::new()
        .channels(["a"])
        .channel_state("b", json!({"mood": "ok"}));
    match op.to_request(&config(), &meta()) {
        Err(Error::InvalidInput { field: "state", .. }) => {}
        Ok(req) => {
            let state = param(req.uri().query().unwrap(), "state");
            assert_eq!(state, None, "state keyed by a name not in the request");
        }
        Err(other) => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- leave

#[test]
fn leave_channels_and_groups() {
    check(
        &Leave::new().channels(["ch1"]),
        &format!("{P}/channel/ch1/leave"),
        Q,
    );
    check(
        &Leave::new()
            .channels(["b", "a #1", "b"])
            .channel_groups(["g2", "g1"]),
        &format!("{P}/channel/a%20%231,b/leave"),
        &format!("channel-group=g1,g2&{Q}"),
    );
}

#[test]
fn leave_groups_only_uses_the_comma_segment() {
    check(
        &Leave::new().channel_groups(["test-subscribe-asyncio-join-leave-cg-group"]),
        &format!("{P}/channel/,/leave"),
        &format!("channel-group=test-subscribe-asyncio-join-leave-cg-group&{Q}"),
    );
}

// ---------------------------------------------------------------- set state

#[test]
fn set_state_on_channels() {
    check(
        &SetState::new()
            .channels(["a", "b"])
            .state(json!({"k": "v w", "n": 5})),
        &format!("{P}/channel/a,b/uuid/user-1/data"),
        "pnsdk=PubNub-Rust%2F0.6.0&state=%7B%22k%22%3A%22v%20w%22%2C%22n%22%3A5%7D&uuid=user-1",
    );
}

#[test]
fn set_state_go_vectors_for_another_user() {
    check(
        &SetState::new()
            .channels(["channel@with#symbols", "频道中文"])
            .user_id("user@domain.com")
            .state(json!({"age": "20", "name": "John Doe"})),
        &format!(
            "{P}/channel/channel%40with%23symbols,%E9%A2%91%E9%81%93%E4%B8%AD%E6%96%87\
             /uuid/user%40domain.com/data"
        ),
        "pnsdk=PubNub-Rust%2F0.6.0\
         &state=%7B%22age%22%3A%2220%22%2C%22name%22%3A%22John%20Doe%22%7D&uuid=user-1",
    );
}

#[test]
fn set_state_groups_only_uses_the_comma_segment() {
    check(
        &SetState::new()
            .channel_groups(["cg1", "cg2"])
            .state(json!({"a+b": "c&d=e"})),
        &format!("{P}/channel/,/uuid/user-1/data"),
        "channel-group=cg1,cg2&pnsdk=PubNub-Rust%2F0.6.0\
         &state=%7B%22a%2Bb%22%3A%22c%26d%3De%22%7D&uuid=user-1",
    );
}

// ---------------------------------------------------------------- get state

#[test]
fn get_state_channels_and_other_user() {
    check(
        &GetState::new().channels(["ch1"]),
        &format!("{P}/channel/ch1/uuid/user-1"),
        Q,
    );
    check(
        &GetState::new().channels(["a"]).user_id("u#2"),
        &format!("{P}/channel/a/uuid/u%232"),
        Q,
    );
    check(
        &GetState::new()
            .channels(["js lobby", "js-room"])
            .channel_groups(["g"])
            .user_id("ann"),
        &format!("{P}/channel/js%20lobby,js-room/uuid/ann"),
        &format!("channel-group=g&{Q}"),
    );
}

#[test]
fn get_state_groups_only_uses_the_comma_segment() {
    check(
        &GetState::new().channel_groups(["cg1"]),
        &format!("{P}/channel/,/uuid/user-1"),
        &format!("channel-group=cg1&{Q}"),
    );
}

// ---------------------------------------------------------------- common parameters

#[test]
fn default_pnsdk_names_this_sdk() {
    let c = Config::new(Keyset::new("sub-c-test"), UserId::new("user-1").unwrap());
    let (_, query) = golden(&WhereNow::new(), &c, &meta());
    assert_eq!(
        query,
        format!(
            "pnsdk=PubNub-Rust-Presence%2F{}&uuid=user-1",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn auth_token_and_request_id() {
    let c = config().with_auth_token("tok/en+1=");
    let m = meta().with_request_id("6f3c2a8e-0f5d-4f5e-9c61-2b1f7e5d9a10");
    assert_eq!(
        golden(&HereNow::new().channels(["ch1"]), &c, &m),
        (
            format!("{P}/channel/ch1"),
            "auth=tok%2Fen%2B1%3D&limit=1000&pnsdk=PubNub-Rust%2F0.6.0\
             &requestid=6f3c2a8e-0f5d-4f5e-9c61-2b1f7e5d9a10&uuid=user-1"
                .to_owned()
        )
    );
    assert!(!format!("{c:?}").contains("tok/en"));
}

#[test]
fn origin_can_point_at_a_local_emulator() {
    let c = config().with_origin(Origin::parse("http://127.0.0.1:8090").unwrap());
    let req = WhereNow::new().to_request(&c, &meta()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        format!("http://127.0.0.1:8090{P}/uuid/user-1?{Q}")
    );
    let req = WhereNow::new().to_request(&config(), &meta()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        format!("https://ps.pndsn.com{P}/uuid/user-1?{Q}")
    );
}

#[test]
fn keyset_override_by_name_and_explicitly() {
    let c = config()
        .with_named_keyset("eu", Keyset::new("sub-c-eu"))
        .with_named_keyset("odd", Keyset::new("sub c/odd"));
    assert_eq!(
        golden(&Leave::new().channels(["a"]).using("eu"), &c, &meta()),
        (
            "/v2/presence/sub-key/sub-c-eu/channel/a/leave".to_owned(),
            Q.to_owned()
        )
    );
    assert_eq!(
        golden(&WhereNow::new().using("odd"), &c, &meta()),
        (
            "/v2/presence/sub-key/sub%20c%2Fodd/uuid/user-1".to_owned(),
            Q.to_owned()
        )
    );
    assert_eq!(
        golden(
            &GetState::new()
                .channels(["a"])
                .keyset(Keyset::new("sub-c-explicit")),
            &c,
            &meta()
        ),
        (
            "/v2/presence/sub-key/sub-c-explicit/channel/a/uuid/user-1".to_owned(),
            Q.to_owned()
        )
    );
    // The default keyset is untouched.
    assert_eq!(
        golden(&WhereNow::new(), &c, &meta()).0,
        format!("{P}/uuid/user-1")
    );
    // An unknown name is an input error, not a silent fallback to the default.
    match WhereNow::new().using("us").to_request(&c, &meta()) {
        Err(Error::InvalidInput {
            field: "keyset", ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn extra_query_parameters_are_encoded_and_sorted_in() {
    check(
        &HereNow::new()
            .channels(["ch1"])
            .query_param("l_pres", "0.5")
            .query_param("custom key", "a b+c,d/é"),
        &format!("{P}/channel/ch1"),
        &format!("custom%20key=a%20b%2Bc%2Cd%2F%C3%A9&l_pres=0.5&limit=1000&{Q}"),
    );
    check(
        &Leave::new().channels(["a"]).query_param("ee", ""),
        &format!("{P}/channel/a/leave"),
        &format!("ee=&{Q}"),
    );
}

// ---------------------------------------------------------------- signing (§6)

/// Verifies a signed URI the way a server would: take the decoded query without
/// `signature`, canonicalise, sign, compare. Returns the canonical query.
fn verify(path: &str, query: &str, publish_key: &str) -> String {
    let (unsigned, signature) = query.rsplit_once("&signature=").expect("signed");
    let decoded = pairs(unsigned);
    let canonical = canonical_query(decoded.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(
        signature,
        sign_v2("sec-c-test", "GET", publish_key, path, &canonical, b""),
        "path {path} query {query}"
    );
    assert!(signature.starts_with("v2."));
    assert!(!signature.contains('='));
    canonical
}

#[test]
fn signed_here_now_recomputed_from_the_string_to_sign() {
    let (path, query) = golden(&HereNow::new().channels(["ch1"]), &signed_config(), &meta());
    assert_eq!(path, format!("{P}/channel/ch1"));
    let canonical = "limit=1000&pnsdk=PubNub-Rust%2F0.6.0&timestamp=1700000000&uuid=user-1";
    assert_eq!(
        canonical_query([
            ("uuid", "user-1"),
            ("timestamp", "1700000000"),
            ("pnsdk", "PubNub-Rust/0.6.0"),
            ("limit", "1000"),
        ]),
        canonical
    );
    let signature = sign_v2("sec-c-test", "GET", "pub-c-test", &path, canonical, b"");
    assert_eq!(query, format!("{canonical}&signature={signature}"));
}

#[test]
fn protocol_vector_2_here_now_with_state() {
    let op = HereNow::new().channels(["ch1"]).include_state(true);
    let req = op.to_request(&signed_config(), &meta()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        "https://ps.pndsn.com/v2/presence/sub-key/sub-c-test/channel/ch1\
         ?limit=1000&pnsdk=PubNub-Rust%2F0.6.0&state=1&timestamp=1700000000&uuid=user-1\
         &signature=v2.MZrEw_9A77_jAT03v-4yIgrh7RyWU_32zCnEjeJ8Ivw"
    );
}

#[test]
fn protocol_vector_3_where_now_without_publish_key() {
    let c = Config::new(
        Keyset::new("sub-c-test").with_secret_key("sec-c-test"),
        UserId::new("user-1").unwrap(),
    )
    .with_pnsdk("PubNub-Rust/0.6.0");
    let req = WhereNow::new().to_request(&c, &meta()).unwrap();
    let uri = req.uri().to_string();
    assert!(
        uri.ends_with("signature=v2.2jJwV4WNkFZnrrnuz0oCk6SGe0_sGuykLtDmwDFu6QA"),
        "{uri}"
    );
    assert_eq!(
        uri,
        "https://ps.pndsn.com/v2/presence/sub-key/sub-c-test/uuid/user-1\
         ?pnsdk=PubNub-Rust%2F0.6.0&timestamp=1700000000&uuid=user-1\
         &signature=v2.2jJwV4WNkFZnrrnuz0oCk6SGe0_sGuykLtDmwDFu6QA"
    );
}

#[test]
fn protocol_vector_1_string_to_sign() {
    // The heartbeat vector: our Heartbeat sorts channels (so its path is
    // `ch%20two,ch1`), but its query is the vector's query exactly.
    let op = Heartbeat::new()
        .channels(["ch1", "ch two"])
        .channel_groups(["cg1", "cg2"])
        .channel_state("ch1", json!({"mood": "happy"}));
    let m = meta().with_request_id("6f3c2a8e-0f5d-4f5e-9c61-2b1f7e5d9a10");
    let (path, query) = golden(&op, &signed_config(), &m);
    assert_eq!(path, format!("{P}/channel/ch%20two,ch1/heartbeat"));
    let canonical = verify(&path, &query, "pub-c-test");
    assert_eq!(
        canonical,
        "channel-group=cg1%2Ccg2&heartbeat=300&pnsdk=PubNub-Rust%2F0.6.0\
         &requestid=6f3c2a8e-0f5d-4f5e-9c61-2b1f7e5d9a10\
         &state=%7B%22ch1%22%3A%7B%22mood%22%3A%22happy%22%7D%7D&timestamp=1700000000&uuid=user-1"
    );
    // On the wire the list separator stays a literal comma.
    assert!(query.starts_with("channel-group=cg1,cg2&heartbeat=300&"));
    // The vector itself, with the vector's path.
    assert_eq!(
        sign_v2(
            "sec-c-test",
            "GET",
            "pub-c-test",
            "/v2/presence/sub-key/sub-c-test/channel/ch1,ch%20two/heartbeat",
            &canonical,
            b""
        ),
        "v2.yW2fVgCf-kGxHJByLMKTgXYcnwCDuJHFBot7hFb92ZE"
    );
}

#[test]
fn every_operation_signs_what_it_sends() {
    let c = signed_config().with_auth_token("tok en").with_named_keyset(
        "other",
        Keyset::new("sub-c-other")
            .with_publish_key("pub-c-other")
            .with_secret_key("sec-c-test"),
    );
    let m = meta().with_request_id("req-1");
    let state = json!({"k": "v w~*'()!", "n": [1, 2]});
    let names = ["a b", "a,b", "~tilde", "频道", "x*y"];
    let requests: Vec<(&str, (String, String))> = vec![
        (
            "here now",
            golden(
                &HereNow::new()
                    .channels(names)
                    .channel_groups(["g~1", "g 2"])
                    .include_state(true)
                    .offset(3)
                    .query_param("l_pres", "1.5"),
                &c,
                &m,
            ),
        ),
        ("global here now", golden(&HereNow::new(), &c, &m)),
        (
            "where now",
            golden(&WhereNow::new().user_id("u~1 *"), &c, &m),
        ),
        (
            "heartbeat",
            golden(
                &Heartbeat::new()
                    .channels(names)
                    .channel_groups(["g~1"])
                    .state(state.clone())
                    .timeout(45),
                &c,
                &m,
            ),
        ),
        (
            "leave",
            golden(
                &Leave::new().channels(names).channel_groups(["g~1"]),
                &c,
                &m,
            ),
        ),
        (
            "set state",
            golden(
                &SetState::new()
                    .channels(names)
                    .channel_groups(["g~1"])
                    .state(state.clone())
                    .user_id("u~1"),
                &c,
                &m,
            ),
        ),
        (
            "get state",
            golden(&GetState::new().channels(names).user_id("u~1"), &c, &m),
        ),
    ];
    for (what, (path, query)) in &requests {
        let canonical = verify(path, query, "pub-c-test");
        assert!(canonical.contains("timestamp=1700000000"), "{what}");
        assert!(canonical.contains("auth=tok%20en"), "{what}");
        assert!(canonical.contains("requestid=req-1"), "{what}");
        // `~` stays raw on the wire but is %7E in the canonical form.
        assert!(!canonical.contains('~'), "{what}: {canonical}");
        assert!(!query.contains('+'), "{what}: {query}");
    }
    // A named keyset signs with its own publish key.
    let (path, query) = golden(&WhereNow::new().using("other"), &c, &m);
    assert_eq!(path, "/v2/presence/sub-key/sub-c-other/uuid/user-1");
    verify(&path, &query, "pub-c-other");
    // An explicit keyset without a secret is not signed even if the default one is.
    let (_, query) = golden(&WhereNow::new().keyset(Keyset::new("sub-c-x")), &c, &m);
    assert!(
        !query.contains("signature=") && !query.contains("timestamp="),
        "{query}"
    );
}

#[test]
fn extra_parameters_are_signed() {
    let op = Leave::new()
        .channels(["a"])
        .query_param("custom key", "a b+c,d");
    let (path, query) = golden(&op, &signed_config(), &meta());
    let canonical = verify(&path, &query, "pub-c-test");
    assert!(canonical.contains("a%20b%2Bc%2Cd"), "{canonical}");
    assert!(
        query.starts_with("custom%20key=a%20b%2Bc%2Cd&pnsdk="),
        "{query}"
    );
}

#[test]
fn the_secret_never_leaves_the_process() {
    let secret = "sec-c-test";
    let c = signed_config().with_auth_token("tok");
    let m = meta().with_request_id("r");
    let ops: Vec<(String, http::Request<Vec<u8>>)> = vec![
        (
            format!("{:?}", HereNow::new().channels(["a"])),
            HereNow::new().channels(["a"]).to_request(&c, &m).unwrap(),
        ),
        (
            format!("{:?}", WhereNow::new().keyset(signing_keyset())),
            WhereNow::new()
                .keyset(signing_keyset())
                .to_request(&c, &m)
                .unwrap(),
        ),
        (
            String::new(),
            Heartbeat::new().channels(["a"]).to_request(&c, &m).unwrap(),
        ),
        (
            String::new(),
            Leave::new().channels(["a"]).to_request(&c, &m).unwrap(),
        ),
        (
            String::new(),
            SetState::new()
                .channels(["a"])
                .state(json!({}))
                .to_request(&c, &m)
                .unwrap(),
        ),
        (
            String::new(),
            GetState::new().channels(["a"]).to_request(&c, &m).unwrap(),
        ),
    ];
    for (op_debug, req) in &ops {
        assert!(!op_debug.contains(secret), "{op_debug}");
        assert!(!req.uri().to_string().contains(secret), "{}", req.uri());
        assert!(!format!("{req:?}").contains(secret));
        for (name, value) in req.headers() {
            assert!(!name.as_str().contains(secret));
            assert!(!String::from_utf8_lossy(value.as_bytes()).contains(secret));
        }
        assert!(req.uri().query().unwrap().contains("&signature=v2."));
    }
    assert!(!format!("{c:?}").contains(secret));
    assert!(!format!("{:?}", signing_keyset()).contains(secret));
    assert!(!format!("{:?}", c.keysets).contains(secret));
    // Nor does an error about a signed request.
    let err = WhereNow::new().user_id("").to_request(&c, &m).unwrap_err();
    assert!(!format!("{err:?} {err}").contains(secret));
    let err = WhereNow::new()
        .query_param("signature", secret)
        .to_request(&c, &m)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { field: "query", .. }));
}
