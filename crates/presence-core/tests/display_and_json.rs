//! Every result and event type prints itself (`Display`) and serializes to its
//! documented JSON shape (feature `serde`, on by default), which reads back to the same
//! value: one test per type, on recorded (or, where none was recorded, synthetic)
//! bodies of PROTOCOL.md.
#![cfg(feature = "serde")]

mod common;

use common::{fixture, response};
use presence_core::{
    GetState, GetStateResult, HereNow, HereNowResult, Operation, PresenceEvent, SetState,
    SetStateResult, Subscribe, WhereNow, WhereNowResult,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// The JSON text of `value`, after checking that it reads back to `value`.
fn json<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> String {
    let text = serde_json::to_string(value).expect("serializes");
    let back: T = serde_json::from_str(&text).expect("reads back");
    assert_eq!(&back, value, "round trip of {text}");
    text
}

fn parse<O: Operation>(op: &O, name: &str) -> O::Output {
    op.parse_response(&response(200, &fixture(name)))
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

#[test]
fn here_now_single_channel_recorded() {
    let r: HereNowResult<'static> = parse(
        &HereNow::new().channels(["test-here-now-asyncio-ch"]),
        "here_now_single_recorded.json",
    );
    assert_eq!(
        r.to_string(),
        "1 present on 1 channel\ntest-here-now-asyncio-ch (occupancy 1): test-here-now-asyncio-uuid1"
    );
    assert_eq!(
        json(&r),
        r#"{"total_channels":1,"total_occupancy":1,"channels":[{"channel":"test-here-now-asyncio-ch","occupancy":1,"occupants":[{"user_id":"test-here-now-asyncio-uuid1","state":null}]}]}"#
    );
}

#[test]
fn here_now_multi_channel_with_state() {
    let r = parse(
        &HereNow::new().channels(["ch1", "ch2"]).include_state(true),
        "here_now_multi_with_state_synthetic_go.json",
    );
    assert_eq!(
        r.to_string(),
        "3 present on 2 channels\nch1 (occupancy 1): user1 {\"age\":10}\nch2 (occupancy 2): user1 {\"age\":10}, user3 {\"age\":30}"
    );
    assert_eq!(
        r.channels[1].occupants[1].to_string(),
        r#"user3 {"age":30}"#
    );
    assert_eq!(
        json(&r),
        r#"{"total_channels":2,"total_occupancy":3,"channels":[{"channel":"ch1","occupancy":1,"occupants":[{"user_id":"user1","state":{"age":10}}]},{"channel":"ch2","occupancy":2,"occupants":[{"user_id":"user1","state":{"age":10}},{"user_id":"user3","state":{"age":30}}]}]}"#
    );
}

#[test]
fn here_now_recorded_multi_lists_channels_in_wire_order() {
    let r = parse(
        &HereNow::new().channels(["test-here-now-asyncio-ch1", "test-here-now-asyncio-ch2"]),
        "here_now_multi_recorded.json",
    );
    assert_eq!(
        r.to_string(),
        "2 present on 2 channels\ntest-here-now-asyncio-ch2 (occupancy 1): test-here-now-asyncio-uuid1\ntest-here-now-asyncio-ch1 (occupancy 1): test-here-now-asyncio-uuid1"
    );
    json(&r);
}

#[test]
fn where_now_recorded() {
    let r: WhereNowResult = parse(&WhereNow::new(), "where_now_multi_recorded.json");
    assert_eq!(
        r.to_string(),
        "present on 2 channels: test-where-now-asyncio-ch1, test-where-now-asyncio-ch2"
    );
    assert_eq!(
        json(&r),
        r#"{"channels":["test-where-now-asyncio-ch1","test-where-now-asyncio-ch2"]}"#
    );
    let none: WhereNowResult = parse(&WhereNow::new(), "where_now_empty_synthetic_go.json");
    assert_eq!(none.to_string(), "present on no channel");
}

#[test]
fn get_state_recorded_single_and_multi() {
    let single: GetStateResult = parse(
        &GetState::new().channels(["test-state-asyncio-ch"]),
        "get_state_single_recorded.json",
    );
    // The state as compact JSON, the recorded body's spaces gone.
    assert_eq!(
        single.to_string(),
        r#"state of test-state-asyncio-uuid: test-state-asyncio-ch {"count":5,"name":"Alex"}"#
    );
    assert_eq!(
        json(&single),
        r#"{"user_id":"test-state-asyncio-uuid","channels":{"test-state-asyncio-ch":{"count":5,"name":"Alex"}}}"#
    );
    let multi: GetStateResult = parse(
        &GetState::new().channels(["test-state-asyncio-ch1", "test-state-asyncio-ch2"]),
        "get_state_multi_recorded.json",
    );
    assert_eq!(
        multi.to_string(),
        r#"state of test-state-asyncio-uuid: test-state-asyncio-ch1 {"count":5,"name":"Alex"}, test-state-asyncio-ch2 {"count":5,"name":"Alex"}"#
    );
    json(&multi);
}

#[test]
fn set_state_recorded() {
    let r: SetStateResult = parse(
        &SetState::new()
            .channels(["test-state-asyncio-ch"])
            .state(serde_json::json!({"count": 5, "name": "Alex"})),
        "set_state_recorded.json",
    );
    assert_eq!(r.to_string(), r#"state set: {"count":5,"name":"Alex"}"#);
    assert_eq!(json(&r), r#"{"state":{"count":5,"name":"Alex"}}"#);
}

fn events(channel: &str, name: &str) -> Vec<PresenceEvent> {
    let r = parse(&Subscribe::new().channels([channel]), name);
    assert!(r.unreadable.is_empty(), "{name}: {:?}", r.unreadable);
    r.events
}

#[test]
fn presence_events_recorded_join_leave_timeout_and_group_join() {
    let join = events(
        "test-subscribe-asyncio-join-leave-ch",
        "subscribe_join_recorded.json",
    );
    assert_eq!(
        join[0].to_string(),
        "join test-subscribe-asyncio-join-leave-ch test-subscribe-asyncio-listener (occupancy 1)"
    );
    assert_eq!(
        json(&join[0]),
        r#"{"action":"join","channel":"test-subscribe-asyncio-join-leave-ch","subscription":null,"user_id":"test-subscribe-asyncio-listener","occupancy":1,"timestamp":1481896358,"state":null,"timetoken":"14818963587725382"}"#
    );
    let leave = events(
        "test-subscribe-asyncio-join-leave-ch",
        "subscribe_leave_recorded.json",
    );
    assert_eq!(
        leave[0].to_string(),
        "leave test-subscribe-asyncio-join-leave-ch test-subscribe-asyncio-messenger (occupancy 1)"
    );
    json(&leave[0]);
    let timeout = events("heartbeat-tornado-ch", "subscribe_timeout_recorded.json");
    assert_eq!(
        timeout[0].to_string(),
        "timeout heartbeat-tornado-ch heartbeat-tornado-messenger (occupancy 1)"
    );
    assert!(json(&timeout[0]).starts_with(r#"{"action":"timeout","#));
    let group = events(
        "test-subscribe-asyncio-join-leave-cg-channel",
        "subscribe_group_join_recorded.json",
    );
    assert!(
        json(&group[0]).contains(r#""subscription":"test-subscribe-asyncio-join-leave-cg-group""#)
    );
}

#[test]
fn presence_events_state_change_and_interval() {
    let pair = events("ch1", "subscribe_join_and_state_change_synthetic_js.json");
    assert_eq!(
        pair[1].to_string(),
        r#"state-change ch1 24c9bb19-1fcd-4c40-a6f1-522a8a1329ef (occupancy 3) state {"state":"cool"}"#
    );
    assert_eq!(
        json(&pair[1]),
        r#"{"action":"state-change","channel":"ch1","subscription":null,"user_id":"24c9bb19-1fcd-4c40-a6f1-522a8a1329ef","occupancy":3,"timestamp":1463753674,"state":{"state":"cool"},"timetoken":"14637536741726901"}"#
    );
    let interval = events(
        "moon-interval-deltas",
        "subscribe_interval_deltas_synthetic_kotlin.json",
    );
    assert_eq!(
        interval[0].to_string(),
        "interval moon-interval-deltas (occupancy 2) join: 2220E216-5A30-49AD-A89C-1E0B5AE26AD7, 4262AE3F-3202-4487-BEE0-1A0D91307DEB (here now refresh)"
    );
    assert_eq!(
        json(&interval[0]),
        r#"{"action":"interval","channel":"moon-interval-deltas","subscription":null,"occupancy":2,"timestamp":1490124758,"join":["2220E216-5A30-49AD-A89C-1E0B5AE26AD7","4262AE3F-3202-4487-BEE0-1A0D91307DEB"],"leave":[],"timeout":[],"here_now_refresh":true,"timetoken":"14901247587675704"}"#
    );
}

/// A state `Value` cannot hold serializes as the very text the service sent, and the
/// result still reads back.
#[test]
fn odd_states_serialize_as_sent() {
    let body = br#"{"status": 200, "occupancy": 1, "uuids": [{"uuid": "u", "state": {"s": "x\ud800y", "n": 1e999999}}]}"#;
    let r = HereNow::new()
        .channels(["c"])
        .include_state(true)
        .parse_response(&response(200, body))
        .unwrap();
    let text = json(&r);
    assert!(
        text.contains(r#""state":{"s":"x\ud800y","n":1e999999}"#),
        "{text}"
    );
    assert_eq!(
        r.to_string(),
        "1 present on 1 channel\nc (occupancy 1): u {\"s\":\"x\\ud800y\",\"n\":1e999999}"
    );
}
