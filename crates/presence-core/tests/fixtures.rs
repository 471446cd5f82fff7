//! Every success body of PROTOCOL.md §4 (recorded and synthetic), saved byte for byte
//! under `tests/fixtures/`, parsed through the matching operation's `parse_response`,
//! with the typed values checked.

mod common;

use common::{all_fixture_names, fixture, response};
use presence_core::{
    ChannelOccupancy, Error, GetState, Heartbeat, HereNow, HereNowResult, Leave, Operation,
    SetState, WhereNow,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

type Occ = (String, Option<Value>);
type Chan = (String, u64, Vec<Occ>);

/// The typed result flattened into tuples so a whole result compares with one `assert_eq!`.
fn channels(result: &HereNowResult) -> Vec<Chan> {
    result.channels.iter().map(channel).collect()
}

fn channel(c: &ChannelOccupancy) -> Chan {
    (
        c.name.to_string(),
        c.occupancy,
        c.occupants
            .iter()
            .map(|o| {
                let state = o.state.as_ref().map(|s| s.to_value().unwrap());
                (o.user_id.to_string(), state)
            })
            .collect(),
    )
}

fn chan(name: &str, occupancy: u64, occupants: &[(&str, Option<Value>)]) -> Chan {
    (
        name.to_owned(),
        occupancy,
        occupants
            .iter()
            .map(|(u, s)| ((*u).to_owned(), s.clone()))
            .collect(),
    )
}

/// Parses a here-now fixture with the owned parser and checks that the borrowed view
/// (`parse_view`) reads the same body to the same result: names and user ids equal
/// (borrowed from the body when it has no escapes), each raw state the same JSON value.
fn here_now(op: &HereNow, name: &str) -> HereNowResult<'static> {
    let resp = response(200, &fixture(name));
    let owned = op
        .parse_response(&resp)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let view = op
        .parse_view(&resp)
        .unwrap_or_else(|e| panic!("{name} (view): {e:?}"));
    assert_eq!(view.channels.len(), owned.channels.len(), "{name}");
    for (v, o) in view.channels.iter().zip(&owned.channels) {
        assert_eq!(v.name, o.name, "{name}");
        assert_eq!(v.occupants.len(), o.occupants.len(), "{name}");
        for (vo, oo) in v.occupants.iter().zip(&o.occupants) {
            assert_eq!(vo.user_id, oo.user_id, "{name}");
            if !vo.user_id.contains('\\') && !vo.user_id.contains('"') {
                assert!(vo.user_id.as_borrowed().is_some(), "{name}: copied");
            }
            assert_eq!(vo.state, oo.state, "{name}");
        }
    }
    assert_eq!(view.into_owned(), owned, "{name}");
    owned
}

// ---------------------------------------------------------------- inventory

/// Every file in `tests/fixtures/` is one of these, and every one of these is used by a
/// test in this crate (the names are referenced from `fixtures.rs`, `errors.rs` or
/// `properties.rs`). A new fixture without a test fails here.
const INVENTORY: &[&str] = &[
    "error_400_error_message_documented_rust.json",
    "error_400_invalid_json_synthetic_go.json",
    "error_401_unauthorized_synthetic_js.json",
    "error_403_error_message_documented_rust.json",
    "error_403_forbidden_synthetic_js.json",
    "error_408_request_timeout_synthetic_js.json",
    "error_409_error_object_documented_rust.json",
    "error_413_balancer_documented_rust.json",
    "error_429_documented_rust.json",
    "error_429_too_many_requests_synthetic_js.json",
    "error_502_bad_gateway_synthetic_js.json",
    "error_503_service_unavailable_synthetic_js.json",
    "error_false_200_402_feature_not_enabled_synthetic_js.json",
    "error_false_200_403_synthetic_js.json",
    "error_false_200_503_synthetic_js.json",
    "error_heartbeat_400_message_ok_synthetic_js.json",
    "error_heartbeat_404_string_error_synthetic_go.json",
    "error_not_modified_array_documented_rust.json",
    "error_pam_403_channel_groups_documented_rust.json",
    "error_pam_403_channels_recorded.json",
    "error_pam_v3_invalid_signature_documented_rust.json",
    "get_state_multi_payload_is_map_synthetic_js.json",
    "get_state_multi_recorded.json",
    "get_state_multi_synthetic_go.json",
    "get_state_single_recorded.json",
    "get_state_single_user_defined_uuid_recorded.json",
    "heartbeat_ok_recorded.json",
    "here_now_channel_and_group_empty_synthetic_go.json",
    "here_now_global_recorded.json",
    "here_now_global_without_uuids_synthetic_js.json",
    "here_now_group_only_leading_space_synthetic_js.json",
    "here_now_multi_recorded.json",
    "here_now_multi_state_without_state_recorded.json",
    "here_now_multi_with_state_synthetic_go.json",
    "here_now_multi_without_uuids_synthetic_go.json",
    "here_now_single_mixed_uuid_forms_synthetic_dart.json",
    "here_now_single_occupancy_only_synthetic_kotlin.json",
    "here_now_single_occupancy_zero_synthetic_go.json",
    "here_now_single_recorded.json",
    "here_now_single_state_without_state_recorded.json",
    "here_now_single_with_state_synthetic_go.json",
    "leave_ok_recorded.json",
    "leave_ok_synthetic_kotlin.json",
    "nonjson_empty_body_synthetic_js.txt",
    "nonjson_html_error_page_synthetic_js.html",
    "nonjson_s_synthetic_go.txt",
    "nonjson_truncated_json_synthetic_js.txt",
    "set_state_extra_uuid_synthetic_go.json",
    "set_state_per_channel_map_synthetic_js.json",
    "set_state_recorded.json",
    "subscribe_group_join_recorded.json",
    "subscribe_handshake_empty_recorded.json",
    "subscribe_interval_deltas_synthetic_kotlin.json",
    "subscribe_interval_string_timestamp_synthetic_js.json",
    "subscribe_join_and_state_change_synthetic_js.json",
    "subscribe_join_recorded.json",
    "subscribe_leave_recorded.json",
    "subscribe_message_state_change_synthetic_rust.json",
    "subscribe_timeout_recorded.json",
    "where_now_empty_synthetic_go.json",
    "where_now_multi_recorded.json",
    "where_now_no_payload_synthetic.json",
    "where_now_single_recorded.json",
];

#[test]
fn inventory_matches_the_fixture_directory() {
    assert_eq!(all_fixture_names(), INVENTORY);
}

#[test]
fn fixtures_are_kept_byte_for_byte() {
    // Spot checks that nothing (an editor, git) rewrote the bodies: no trailing newline
    // was added, the JS group mock keeps its leading space, the empty body is empty.
    for name in INVENTORY {
        let body = fixture(name);
        assert!(!body.ends_with(b"\n"), "{name} gained a trailing newline");
        assert!(!body.contains(&b'\r'), "{name} gained a carriage return");
    }
    assert!(
        fixture("here_now_group_only_leading_space_synthetic_js.json").starts_with(b" {\"status\"")
    );
    assert_eq!(fixture("nonjson_empty_body_synthetic_js.txt"), b"");
    assert_eq!(fixture("nonjson_s_synthetic_go.txt"), b"s");
    assert_eq!(
        fixture("error_not_modified_array_documented_rust.json"),
        br#"[0,"Not modified"]"#
    );
    assert_eq!(
        fixture("heartbeat_ok_recorded.json"),
        br#"{"status": 200, "message": "OK", "service": "Presence"}"#
    );
}

#[test]
fn every_json_fixture_is_valid_json() {
    for name in INVENTORY.iter().filter(|n| !n.starts_with("nonjson_")) {
        let parsed: Result<Value, _> = serde_json::from_slice(&fixture(name));
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
    }
}

// ---------------------------------------------------------------- §4.1 here now

#[test]
fn here_now_single_recorded() {
    let op = HereNow::new().channels(["test-here-now-asyncio-ch"]);
    let r = here_now(&op, "here_now_single_recorded.json");
    assert_eq!(r.total_channels, 1);
    assert_eq!(r.total_occupancy, 1);
    assert_eq!(
        channels(&r),
        vec![chan(
            "test-here-now-asyncio-ch",
            1,
            &[("test-here-now-asyncio-uuid1", None)]
        )]
    );
    assert_eq!(
        r.channel("test-here-now-asyncio-ch").map(|c| c.occupancy),
        Some(1)
    );
}

#[test]
fn here_now_single_names_the_channel_from_the_operation() {
    // The single-channel body carries no name: whatever the request named is used.
    let op = HereNow::new().channels(["game #1 / 频道 😀"]);
    let r = here_now(&op, "here_now_single_recorded.json");
    assert_eq!(r.channels.len(), 1);
    assert_eq!(r.channels[0].name, "game #1 / 频道 😀");
}

#[test]
fn here_now_single_state_requested_user_without_state_recorded() {
    let op = HereNow::new()
        .channels(["test-here-now-asyncio-ch"])
        .include_state(true);
    let r = here_now(&op, "here_now_single_state_without_state_recorded.json");
    assert_eq!((r.total_channels, r.total_occupancy), (1, 1));
    assert_eq!(
        channels(&r),
        vec![chan(
            "test-here-now-asyncio-ch",
            1,
            &[("test-here-now-asyncio-uuid1", None)]
        )]
    );
}

#[test]
fn here_now_single_with_state_synthetic_go() {
    let op = HereNow::new().channels(["my-channel"]).include_state(true);
    let r = here_now(&op, "here_now_single_with_state_synthetic_go.json");
    assert_eq!((r.total_channels, r.total_occupancy), (1, 1));
    assert_eq!(
        channels(&r),
        vec![chan(
            "my-channel",
            1,
            &[(
                "a3ffd012-a3b9-478c-8705-64089f24d71e",
                Some(json!({"age": 10}))
            )]
        )]
    );
}

#[test]
fn here_now_single_occupancy_only_synthetic_kotlin() {
    let op = HereNow::new().channels(["ch1"]).include_user_ids(false);
    let r = here_now(&op, "here_now_single_occupancy_only_synthetic_kotlin.json");
    assert_eq!((r.total_channels, r.total_occupancy), (1, 3));
    assert_eq!(channels(&r), vec![chan("ch1", 3, &[])]);
}

#[test]
fn here_now_single_occupancy_zero_synthetic_go() {
    // The Go mock carries top-level totals that disagree with `occupancy`; the body's own
    // values are reported as they are.
    let op = HereNow::new().channels(["ch1"]);
    let r = here_now(&op, "here_now_single_occupancy_zero_synthetic_go.json");
    assert_eq!(r.total_channels, 1);
    assert_eq!(r.total_occupancy, 1);
    assert_eq!(channels(&r), vec![chan("ch1", 0, &[])]);
}

#[test]
fn here_now_multi_recorded() {
    let op = HereNow::new().channels(["test-here-now-asyncio-ch1", "test-here-now-asyncio-ch2"]);
    let r = here_now(&op, "here_now_multi_recorded.json");
    assert_eq!((r.total_channels, r.total_occupancy), (2, 2));
    // Wire order is kept (ch2 comes first in the recording).
    assert_eq!(
        channels(&r),
        vec![
            chan(
                "test-here-now-asyncio-ch2",
                1,
                &[("test-here-now-asyncio-uuid1", None)]
            ),
            chan(
                "test-here-now-asyncio-ch1",
                1,
                &[("test-here-now-asyncio-uuid1", None)]
            ),
        ]
    );
}

#[test]
fn here_now_multi_state_requested_users_without_state_recorded() {
    let op = HereNow::new()
        .channels(["test-here-now-asyncio-ch1", "test-here-now-asyncio-ch2"])
        .include_state(true);
    let r = here_now(&op, "here_now_multi_state_without_state_recorded.json");
    assert_eq!((r.total_channels, r.total_occupancy), (2, 2));
    assert_eq!(
        channels(&r),
        vec![
            chan(
                "test-here-now-asyncio-ch2",
                1,
                &[("test-here-now-asyncio-uuid1", None)]
            ),
            chan(
                "test-here-now-asyncio-ch1",
                1,
                &[("test-here-now-asyncio-uuid1", None)]
            ),
        ]
    );
}

#[test]
fn here_now_multi_with_state_synthetic_go() {
    let op = HereNow::new().channels(["ch1", "ch2"]).include_state(true);
    let r = here_now(&op, "here_now_multi_with_state_synthetic_go.json");
    assert_eq!((r.total_channels, r.total_occupancy), (2, 3));
    assert_eq!(
        channels(&r),
        vec![
            chan("ch1", 1, &[("user1", Some(json!({"age": 10})))]),
            chan(
                "ch2",
                2,
                &[
                    ("user1", Some(json!({"age": 10}))),
                    ("user3", Some(json!({"age": 30})))
                ]
            ),
        ]
    );
}

#[test]
fn here_now_multi_without_uuids_synthetic_go() {
    let op = HereNow::new()
        .channels(["game1", "game2"])
        .include_user_ids(false);
    let r = here_now(&op, "here_now_multi_without_uuids_synthetic_go.json");
    assert_eq!((r.total_channels, r.total_occupancy), (1, 1));
    // Channels without occupants are omitted by the service.
    assert_eq!(channels(&r), vec![chan("game1", 1, &[])]);
    assert!(r.channel("game2").is_none());
}

#[test]
fn here_now_channel_and_group_empty_synthetic_go() {
    let op = HereNow::new()
        .channels(["ch1"])
        .channel_groups(["cg"])
        .include_state(true);
    let r = here_now(&op, "here_now_channel_and_group_empty_synthetic_go.json");
    assert_eq!((r.total_channels, r.total_occupancy), (0, 0));
    assert_eq!(channels(&r), Vec::<Chan>::new());
}

#[test]
fn here_now_group_only_with_leading_space_synthetic_js() {
    let op = HereNow::new().channel_groups(["cg1"]);
    let r = here_now(&op, "here_now_group_only_leading_space_synthetic_js.json");
    assert_eq!((r.total_channels, r.total_occupancy), (3, 7));
    assert_eq!(
        channels(&r),
        vec![chan(
            "ch1",
            1,
            &[("a581c974-e2f9-4088-9cc8-9632708e012d", None)]
        )]
    );
}

#[test]
fn here_now_global_recorded() {
    let op = HereNow::new();
    assert!(op.is_global());
    let r = here_now(&op, "here_now_global_recorded.json");
    assert_eq!((r.total_channels, r.total_occupancy), (6, 8));
    assert_eq!(
        channels(&r),
        vec![
            chan(
                "test-subscribe-asyncio-join-leave-ch",
                1,
                &[("test-subscribe-asyncio-listener", None)]
            ),
            chan(
                "test-subscribe-asyncio-unsubscribe-all-ch1",
                1,
                &[("test-subscribe-asyncio-messenger", None)]
            ),
            chan(
                "test-subscribe-asyncio-unsubscribe-all-ch2",
                1,
                &[("test-subscribe-asyncio-messenger", None)]
            ),
            chan(
                "test-subscribe-asyncio-unsubscribe-all-ch3",
                1,
                &[("test-subscribe-asyncio-messenger", None)]
            ),
            chan(
                "test-subscribe-asyncio-unsubscribe-all-ch",
                1,
                &[("test-subscribe-asyncio-messenger", None)]
            ),
            chan(
                "test-subscribe-asyncio-ch",
                3,
                &[
                    ("fe92df45-c879-449d-a403-90a17bb9e6e6", None),
                    ("test-subscribe-asyncio-uuid-sub", None),
                    ("test-subscribe-asyncio-uuid", None)
                ]
            ),
        ]
    );
}

#[test]
fn here_now_global_without_uuids_synthetic_js() {
    let op = HereNow::new().include_user_ids(false);
    let r = here_now(&op, "here_now_global_without_uuids_synthetic_js.json");
    assert_eq!((r.total_channels, r.total_occupancy), (2, 2));
    assert_eq!(
        channels(&r),
        vec![chan("ch10", 1, &[]), chan("bot_object", 1, &[])]
    );
}

#[test]
fn here_now_single_mixed_uuid_forms_synthetic_dart() {
    let op = HereNow::new().channels(["lobby"]).include_state(true);
    let r = here_now(&op, "here_now_single_mixed_uuid_forms_synthetic_dart.json");
    // No totals in the body: one channel, total occupancy = the channel's occupancy.
    assert_eq!((r.total_channels, r.total_occupancy), (1, 3));
    assert_eq!(
        channels(&r),
        vec![chan(
            "lobby",
            3,
            &[
                ("simple-user", None),
                (
                    "user-with-state",
                    Some(json!({"mood": "excited", "activity": "coding"}))
                ),
                (
                    "another-user",
                    Some(json!({"location": "home", "device": "mobile"}))
                ),
            ]
        )]
    );
}

#[test]
fn here_now_single_shape_for_a_request_that_named_several_channels_is_malformed() {
    for op in [
        HereNow::new(),
        HereNow::new().channels(["a", "b"]),
        HereNow::new().channels(["a"]).channel_groups(["g"]),
    ] {
        let err = op
            .parse_response(&response(200, &fixture("here_now_single_recorded.json")))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedResponse {
                    expected: "here now body",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn here_now_single_shape_after_duplicate_channel_names() {
    let op = HereNow::new().channels(["a", "a"]);
    let req = op
        .to_request(
            &common::config(),
            &presence_core::RequestMeta::new(1_700_000_000),
        )
        .unwrap();
    assert_eq!(
        req.uri().path(),
        "/v2/presence/sub-key/sub-c-test/channel/a"
    );
    let r = here_now(&op, "here_now_single_recorded.json");
    assert_eq!(
        channels(&r),
        vec![chan("a", 1, &[("test-here-now-asyncio-uuid1", None)])]
    );
}

// ---------------------------------------------------------------- §4.2 where now

fn where_now(name: &str) -> Vec<String> {
    WhereNow::new()
        .parse_response(&response(200, &fixture(name)))
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .channels
}

#[test]
fn where_now_multi_recorded() {
    assert_eq!(
        where_now("where_now_multi_recorded.json"),
        vec!["test-where-now-asyncio-ch1", "test-where-now-asyncio-ch2"]
    );
}

#[test]
fn where_now_single_recorded() {
    assert_eq!(
        where_now("where_now_single_recorded.json"),
        vec!["test-where-now-asyncio-ch"]
    );
}

#[test]
fn where_now_empty_synthetic_go() {
    assert_eq!(
        where_now("where_now_empty_synthetic_go.json"),
        Vec::<String>::new()
    );
}

#[test]
fn where_now_without_payload_means_no_channels() {
    assert_eq!(
        where_now("where_now_no_payload_synthetic.json"),
        Vec::<String>::new()
    );
    // The same result for another user.
    let r = WhereNow::new()
        .user_id("someone else")
        .parse_response(&response(
            200,
            &fixture("where_now_no_payload_synthetic.json"),
        ))
        .unwrap();
    assert_eq!(r.channels, Vec::<String>::new());
}

// ---------------------------------------------------------------- §4.3 / §4.4 heartbeat, leave

#[test]
fn heartbeat_ok_recorded() {
    let op = Heartbeat::new()
        .channels(["heartbeat-tornado-ch"])
        .timeout(8);
    assert_eq!(
        op.parse_response(&response(200, &fixture("heartbeat_ok_recorded.json"))),
        Ok(())
    );
}

#[test]
fn leave_ok_recorded() {
    let op = Leave::new().channel_groups(["test-subscribe-asyncio-join-leave-cg-group"]);
    assert_eq!(
        op.parse_response(&response(200, &fixture("leave_ok_recorded.json"))),
        Ok(())
    );
}

#[test]
fn leave_ok_synthetic_kotlin() {
    let op = Leave::new().channels(["ch1", "ch2"]);
    assert_eq!(
        op.parse_response(&response(200, &fixture("leave_ok_synthetic_kotlin.json"))),
        Ok(())
    );
}

// ---------------------------------------------------------------- §4.5 set state

fn set_state(op: &SetState, name: &str) -> Value {
    op.parse_response(&response(200, &fixture(name)))
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .state
        .to_value()
        .unwrap()
}

#[test]
fn set_state_recorded_single_and_multiple_channels() {
    let state = json!({"count": 5, "name": "Alex"});
    for op in [
        SetState::new()
            .channels(["test-state-asyncio-ch"])
            .state(state.clone()),
        SetState::new()
            .channels(["test-state-asyncio-ch1", "test-state-asyncio-ch2"])
            .user_id("test-state-asyncio-uuid")
            .state(state.clone()),
    ] {
        assert_eq!(set_state(&op, "set_state_recorded.json"), state);
    }
}

#[test]
fn set_state_extra_uuid_synthetic_go() {
    let op = SetState::new()
        .channels(["my-channel"])
        .user_id("my-custom-uuid")
        .state(json!({"k": "v"}));
    assert_eq!(
        set_state(&op, "set_state_extra_uuid_synthetic_go.json"),
        json!({"k": "v"})
    );
}

#[test]
fn set_state_per_channel_map_synthetic_js() {
    let op = SetState::new()
        .channels(["ch1", "ch2"])
        .state(json!({"age": 20, "status": "online"}));
    assert_eq!(
        set_state(&op, "set_state_per_channel_map_synthetic_js.json"),
        json!({
            "ch1": {"age": 20, "status": "online"},
            "ch2": {"age": 100, "status": "offline"}
        })
    );
}

// ---------------------------------------------------------------- §4.6 get state (§10.1 shapes)

fn get_state(op: &GetState, name: &str) -> (Option<String>, BTreeMap<String, Value>) {
    let r = op
        .parse_response(&response(200, &fixture(name)))
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    (r.user_id, values(r.channels))
}

/// The states of a get-state result read into `Value`s.
fn values(channels: BTreeMap<String, presence_core::RawJson<'static>>) -> BTreeMap<String, Value> {
    channels
        .into_iter()
        .map(|(k, v)| (k, v.to_value().unwrap()))
        .collect()
}

fn map(entries: &[(&str, Value)]) -> BTreeMap<String, Value> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn get_state_single_recorded_payload_is_the_state() {
    let op = GetState::new()
        .channels(["test-state-asyncio-ch"])
        .user_id("test-state-asyncio-uuid");
    assert_eq!(
        get_state(&op, "get_state_single_recorded.json"),
        (
            Some("test-state-asyncio-uuid".to_owned()),
            map(&[("test-state-asyncio-ch", json!({"count": 5, "name": "Alex"}))])
        )
    );
}

#[test]
fn get_state_single_user_defined_uuid_recorded() {
    let op = GetState::new()
        .channels(["state-native-sync-ch"])
        .user_id("state-native-sync-uuid");
    assert_eq!(
        get_state(&op, "get_state_single_user_defined_uuid_recorded.json"),
        (
            Some("state-native-sync-uuid".to_owned()),
            map(&[("state-native-sync-ch", json!({"count": 5, "name": "Alex"}))])
        )
    );
}

#[test]
fn get_state_single_body_without_channel_key_uses_the_requested_channel() {
    let body =
        br#"{"status": 200, "message": "OK", "payload": {"age": 20}, "service": "Presence"}"#;
    let r = GetState::new()
        .channels(["ch1"])
        .parse_response(&response(200, body))
        .unwrap();
    assert_eq!(r.user_id, None);
    assert_eq!(values(r.channels), map(&[("ch1", json!({"age": 20}))]));
}

#[test]
fn get_state_multi_recorded_payload_channels() {
    let op = GetState::new()
        .channels(["test-state-asyncio-ch1", "test-state-asyncio-ch2"])
        .user_id("test-state-asyncio-uuid");
    assert_eq!(
        get_state(&op, "get_state_multi_recorded.json"),
        (
            Some("test-state-asyncio-uuid".to_owned()),
            map(&[
                (
                    "test-state-asyncio-ch1",
                    json!({"count": 5, "name": "Alex"})
                ),
                (
                    "test-state-asyncio-ch2",
                    json!({"count": 5, "name": "Alex"})
                ),
            ])
        )
    );
}

#[test]
fn get_state_multi_synthetic_go() {
    let op = GetState::new()
        .channels(["my-channel", "my-channel2", "my-channel3"])
        .user_id("my-custom-uuid");
    assert_eq!(
        get_state(&op, "get_state_multi_synthetic_go.json"),
        (
            Some("my-custom-uuid".to_owned()),
            map(&[
                ("my-channel", json!({"k": "v3"})),
                ("my-channel2", json!({"k": "v3"})),
                ("my-channel3", json!({"k": "v4"})),
            ])
        )
    );
}

#[test]
fn get_state_multi_payload_is_the_map_synthetic_js() {
    let op = GetState::new().channels(["ch1", "ch2"]);
    assert_eq!(
        get_state(&op, "get_state_multi_payload_is_map_synthetic_js.json"),
        (
            None,
            map(&[
                ("ch1", json!({"age": 20, "status": "online"})),
                ("ch2", json!({"age": 100, "status": "offline"})),
            ])
        )
    );
}

#[test]
fn get_state_groups_only_reads_payload_channels() {
    let op = GetState::new().channel_groups(["cg"]);
    assert_eq!(
        get_state(&op, "get_state_multi_recorded.json").1,
        map(&[
            (
                "test-state-asyncio-ch1",
                json!({"count": 5, "name": "Alex"})
            ),
            (
                "test-state-asyncio-ch2",
                json!({"count": 5, "name": "Alex"})
            ),
        ])
    );
}

#[test]
fn get_state_single_channel_request_with_the_recorded_multi_body() {
    // A `payload.channels` wrapper is recognised even when one channel was requested.
    let op = GetState::new().channels(["test-state-asyncio-ch1"]);
    assert_eq!(
        get_state(&op, "get_state_multi_recorded.json").1,
        map(&[
            (
                "test-state-asyncio-ch1",
                json!({"count": 5, "name": "Alex"})
            ),
            (
                "test-state-asyncio-ch2",
                json!({"count": 5, "name": "Alex"})
            ),
        ])
    );
}

#[test]
fn get_state_single_shape_after_duplicate_channel_names() {
    let body =
        br#"{"status": 200, "message": "OK", "payload": {"age": 20}, "service": "Presence"}"#;
    let r = GetState::new()
        .channels(["ch1", "ch1"])
        .parse_response(&response(200, body))
        .unwrap();
    assert_eq!(values(r.channels), map(&[("ch1", json!({"age": 20}))]));
}

// ---------------------------------------------------------------- §7 subscribe envelopes

#[test]
fn subscribe_envelopes_are_kept_for_later_use() {
    // Not parsed by presence-core yet: check the bodies are intact JSON with the
    // documented top-level keys.
    for (name, messages) in [
        ("subscribe_join_recorded.json", 1),
        ("subscribe_leave_recorded.json", 1),
        ("subscribe_group_join_recorded.json", 1),
        ("subscribe_timeout_recorded.json", 1),
        ("subscribe_join_and_state_change_synthetic_js.json", 2),
        ("subscribe_interval_deltas_synthetic_kotlin.json", 1),
        ("subscribe_interval_string_timestamp_synthetic_js.json", 1),
        ("subscribe_handshake_empty_recorded.json", 0),
    ] {
        let v: Value = serde_json::from_slice(&fixture(name)).unwrap();
        assert!(v["t"]["t"].is_string(), "{name}");
        assert!(v["t"]["r"].is_u64(), "{name}");
        assert_eq!(v["m"].as_array().map(Vec::len), Some(messages), "{name}");
    }
    let message: Value = serde_json::from_slice(&fixture(
        "subscribe_message_state_change_synthetic_rust.json",
    ))
    .unwrap();
    assert_eq!(message["c"], "my-channel-pnpres");
    assert_eq!(message["d"]["action"], "state-change");
    assert_eq!(
        message["d"]["data"],
        json!({"admin": true, "displayName": "ChannelAdmin"})
    );
}
