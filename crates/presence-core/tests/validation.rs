//! Inputs are rejected before a request is built, with `Error::InvalidInput` naming the
//! field.

mod common;

use common::config;
use presence_core::{
    Config, Cursor, Error, GetState, Heartbeat, HereNow, Keyset, Leave, Operation, Origin,
    RequestMeta, SetState, Subscribe, UserId, WhereNow,
};
use serde_json::{json, Value};

fn meta() -> RequestMeta {
    RequestMeta::new(1_700_000_000)
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Error>, field: &str) {
    match result {
        Err(Error::InvalidInput { field: f, reason }) => {
            assert_eq!(f, field, "reason: {reason}");
            assert!(!reason.is_empty());
            let err = Error::InvalidInput { field: f, reason };
            assert_eq!(err.kind(), presence_core::ErrorKind::InvalidInput);
            assert!(err.to_string().contains(field), "{err}");
        }
        other => panic!("expected InvalidInput {{ field: {field:?} }}, got {other:?}"),
    }
}

fn name(n: usize) -> String {
    "频".repeat(n)
}

#[test]
fn operations_that_need_channels_or_groups_reject_none() {
    let c = config();
    assert_invalid(Heartbeat::new().to_request(&c, &meta()), "channels");
    assert_invalid(Leave::new().to_request(&c, &meta()), "channels");
    assert_invalid(
        SetState::new()
            .state(json!({"a": 1}))
            .to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(GetState::new().to_request(&c, &meta()), "channels");
    // Here now without channels and groups is the global here now, not an error.
    assert!(HereNow::new().to_request(&c, &meta()).is_ok());
}

#[test]
fn empty_channel_name_is_rejected_everywhere() {
    let c = config();
    let s = json!({"a": 1});
    assert_invalid(
        HereNow::new().channels([""]).to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        Heartbeat::new().channels(["a", ""]).to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        Leave::new().channels([""]).to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        SetState::new()
            .channels([""])
            .state(s)
            .to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        GetState::new().channels([""]).to_request(&c, &meta()),
        "channels",
    );
}

#[test]
fn empty_group_name_is_rejected_everywhere() {
    let c = config();
    let s = json!({"a": 1});
    assert_invalid(
        HereNow::new().channel_groups([""]).to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        Heartbeat::new()
            .channel_groups([""])
            .to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        Leave::new().channel_groups([""]).to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        SetState::new()
            .channel_groups([""])
            .state(s)
            .to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        GetState::new().channel_groups([""]).to_request(&c, &meta()),
        "channel_groups",
    );
}

#[test]
fn names_longer_than_92_characters_are_rejected() {
    let c = config();
    let s = json!({"a": 1});
    // 92 characters (276 UTF-8 bytes) is fine; 93 is not.
    assert!(HereNow::new()
        .channels([name(92)])
        .to_request(&c, &meta())
        .is_ok());
    assert!(HereNow::new()
        .channels(["a".repeat(92)])
        .to_request(&c, &meta())
        .is_ok());
    assert_invalid(
        HereNow::new().channels([name(93)]).to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        HereNow::new()
            .channels(["a".repeat(93)])
            .to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        Heartbeat::new()
            .channels([name(93)])
            .to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        Leave::new().channels([name(93)]).to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        SetState::new()
            .channels([name(93)])
            .state(s)
            .to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        GetState::new().channels([name(93)]).to_request(&c, &meta()),
        "channels",
    );
    assert_invalid(
        Leave::new()
            .channel_groups([name(93)])
            .to_request(&c, &meta()),
        "channel_groups",
    );
}

#[test]
fn here_now_limit_must_be_1_to_1000() {
    let c = config();
    assert_invalid(
        HereNow::new()
            .channels(["a"])
            .limit(0)
            .to_request(&c, &meta()),
        "limit",
    );
    assert_invalid(
        HereNow::new()
            .channels(["a"])
            .limit(1001)
            .to_request(&c, &meta()),
        "limit",
    );
    assert_invalid(
        HereNow::new().limit(u32::MAX).to_request(&c, &meta()),
        "limit",
    );
    assert!(HereNow::new()
        .channels(["a"])
        .limit(1)
        .to_request(&c, &meta())
        .is_ok());
    assert!(HereNow::new()
        .channels(["a"])
        .limit(1000)
        .to_request(&c, &meta())
        .is_ok());
}

fn non_objects() -> Vec<Value> {
    vec![
        json!([1, 2]),
        json!([]),
        json!("a string"),
        Value::Null,
        json!(42),
        json!(1.5),
        json!(true),
    ]
}

#[test]
fn set_state_rejects_state_that_is_not_an_object() {
    let c = config();
    for state in non_objects() {
        assert_invalid(
            SetState::new()
                .channels(["a"])
                .state(state.clone())
                .to_request(&c, &meta()),
            "state",
        );
        assert_invalid(
            SetState::new()
                .channel_groups(["g"])
                .state(state)
                .to_request(&c, &meta()),
            "state",
        );
    }
}

#[test]
fn set_state_requires_state() {
    assert_invalid(
        SetState::new()
            .channels(["a"])
            .to_request(&config(), &meta()),
        "state",
    );
    // An empty object is a valid state.
    assert!(SetState::new()
        .channels(["a"])
        .state(json!({}))
        .to_request(&config(), &meta())
        .is_ok());
}

#[test]
fn heartbeat_rejects_state_that_is_not_an_object() {
    let c = config();
    for state in non_objects() {
        assert_invalid(
            Heartbeat::new()
                .channels(["a"])
                .state(state.clone())
                .to_request(&c, &meta()),
            "state",
        );
        assert_invalid(
            Heartbeat::new()
                .channels(["a"])
                .channel_state("a", state)
                .to_request(&c, &meta()),
            "state",
        );
    }
}

#[test]
fn group_names_must_not_contain_a_comma() {
    let c = config();
    let s = json!({"a": 1});
    assert_invalid(
        HereNow::new()
            .channel_groups(["a,b"])
            .to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        Heartbeat::new()
            .channel_groups(["a,b"])
            .to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        Leave::new().channel_groups([","]).to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        SetState::new()
            .channel_groups(["a,b"])
            .state(s)
            .to_request(&c, &meta()),
        "channel_groups",
    );
    assert_invalid(
        GetState::new()
            .channel_groups(["a,b"])
            .to_request(&c, &meta()),
        "channel_groups",
    );
    // A comma inside a channel name is allowed: it is sent as %2C.
    assert!(HereNow::new()
        .channels(["a,b"])
        .to_request(&c, &meta())
        .is_ok());
}

#[test]
fn user_ids_must_not_be_empty_or_too_long() {
    assert_invalid(UserId::new(""), "user_id");
    assert_invalid(UserId::new("   "), "user_id");
    assert_invalid(UserId::new(name(93)), "user_id");
    assert!(UserId::new(name(92)).is_ok());
    let c = config();
    assert_invalid(
        WhereNow::new().user_id("").to_request(&c, &meta()),
        "user_id",
    );
    assert_invalid(
        GetState::new()
            .channels(["a"])
            .user_id("")
            .to_request(&c, &meta()),
        "user_id",
    );
    assert_invalid(
        SetState::new()
            .channels(["a"])
            .state(json!({}))
            .user_id(" ")
            .to_request(&c, &meta()),
        "user_id",
    );
    assert_invalid(
        WhereNow::new().user_id(name(93)).to_request(&c, &meta()),
        "user_id",
    );
}

#[test]
fn keyset_and_origin_are_validated() {
    let c = Config::new(Keyset::new(""), UserId::new("u").unwrap());
    assert_invalid(WhereNow::new().to_request(&c, &meta()), "subscribe_key");
    assert_invalid(
        WhereNow::new()
            .keyset(Keyset::new(" "))
            .to_request(&config(), &meta()),
        "subscribe_key",
    );
    assert_invalid(
        WhereNow::new()
            .using("missing")
            .to_request(&config(), &meta()),
        "keyset",
    );
    assert_invalid(Origin::parse("ftp://example.com"), "origin");
    assert_invalid(Origin::parse("http://host/path"), "origin");
    assert_invalid(Origin::parse(""), "origin");
}

#[test]
fn extra_query_parameters_must_not_shadow_built_in_ones() {
    let c = config().with_auth_token("t");
    let meta = meta().with_request_id("r");
    for key in [
        "uuid",
        "pnsdk",
        "auth",
        "requestid",
        "timestamp",
        "signature",
        "",
    ] {
        assert_invalid(
            WhereNow::new().query_param(key, "x").to_request(&c, &meta),
            "query",
        );
    }
    for key in ["limit", "channel-group"] {
        assert_invalid(
            HereNow::new()
                .channel_groups(["g"])
                .query_param(key, "x")
                .to_request(&c, &meta),
            "query",
        );
    }
    assert_invalid(
        Heartbeat::new()
            .channels(["a"])
            .query_param("heartbeat", "5")
            .to_request(&c, &meta),
        "query",
    );
    assert_invalid(
        SetState::new()
            .channels(["a"])
            .state(json!({}))
            .query_param("state", "{}")
            .to_request(&c, &meta),
        "query",
    );
    // The same extra key twice is a duplicate too.
    assert_invalid(
        WhereNow::new()
            .query_param("x", "1")
            .query_param("x", "2")
            .to_request(&c, &meta),
        "query",
    );
}

/// A state that is not a JSON object is refused, and the reason names what it was
/// (set state, heartbeat for all channels and per channel).
#[test]
fn a_state_that_is_not_an_object_is_named_by_its_kind() {
    let c = config();
    for (state, kind) in [
        (json!(null), "null"),
        (json!(true), "a boolean"),
        (json!(5), "a number"),
        (json!("x"), "a string"),
        (json!([1]), "an array"),
    ] {
        let expected = format!("must be a JSON object, got {kind}");
        let errors = [
            SetState::new()
                .channels(["a"])
                .state(state.clone())
                .to_request(&c, &meta())
                .unwrap_err(),
            Heartbeat::new()
                .channels(["a"])
                .state(state.clone())
                .to_request(&c, &meta())
                .unwrap_err(),
            Heartbeat::new()
                .channels(["a"])
                .channel_state("a", state.clone())
                .to_request(&c, &meta())
                .unwrap_err(),
        ];
        for err in errors {
            match &err {
                Error::InvalidInput { field, reason } => {
                    assert_eq!((*field, reason.as_str()), ("state", expected.as_str()));
                }
                other => panic!("{state}: {other:?}"),
            }
        }
    }
}

/// Long name lists are deduplicated like short ones (and sorted, as every list is) on
/// both sides of the 16-name boundary where the check changes method.
#[test]
fn long_name_lists_are_deduplicated_in_order() {
    let c = config();
    for n in [15usize, 16, 17, 40] {
        let names: Vec<String> = (0..n).map(|i| format!("ch{i}")).collect();
        let mut with_dups = names.clone();
        with_dups.extend(names.iter().rev().take(5).cloned());
        with_dups.insert(3, names[0].clone());
        let uri = Heartbeat::new()
            .channels(with_dups)
            .to_request(&c, &meta())
            .unwrap()
            .uri()
            .to_string();
        let mut sorted = names.clone();
        sorted.sort();
        let expected = format!("/channel/{}/heartbeat", sorted.join(","));
        assert!(uri.contains(&expected), "{n} names: {uri}");
    }
}

/// Distinct names that look alike to the duplicate check's fingerprint (same length,
/// same first and last eight bytes) are both kept; only equal names are merged.
#[test]
fn names_alike_but_not_equal_are_all_kept() {
    let c = config();
    let uri = Heartbeat::new()
        .channels([
            "abcdefgh-1-ijklmnop",
            "abcdefgh-2-ijklmnop",
            "abcdefgh-1-ijklmnop",
        ])
        .to_request(&c, &meta())
        .unwrap()
        .uri()
        .to_string();
    assert!(
        uri.contains("/channel/abcdefgh-1-ijklmnop,abcdefgh-2-ijklmnop/heartbeat"),
        "{uri}"
    );
}

/// `channel_count` (for logs) counts the channels and groups named.
#[test]
fn operations_count_the_names_they_carry() {
    let hb = Heartbeat::new().channels(["a", "b"]).channel_groups(["g"]);
    assert_eq!(hb.channel_count(), 3);
    assert_eq!(Heartbeat::new().channel_count(), 0);
    let leave = Leave::new().channels(["a"]).channel_groups(["g", "h"]);
    assert_eq!(leave.channel_count(), 3);
    assert_eq!(Leave::new().channel_count(), 0);
    let set = SetState::new()
        .channels(["a", "b"])
        .channel_groups(["g"])
        .state(json!({"k": 1}));
    assert_eq!(set.channel_count(), 3);
    let sub = Subscribe::new().channels(["a", "b"]).channel_groups(["g"]);
    assert_eq!(sub.channel_count(), 3);
    assert_eq!(Subscribe::new().channels(["a"]).channel_count(), 1);
    // Where now names a user, not channels.
    assert_eq!(WhereNow::new().channel_count(), 0);
}

/// The handshake cursor is `tt=0`; a cursor read from an answer is not, nor one that
/// only shares its region.
#[test]
fn the_handshake_cursor_is_tt_zero() {
    let handshake = Cursor::handshake();
    assert_eq!(handshake.timetoken, "0");
    assert_eq!(handshake.region, 0);
    assert!(handshake.is_handshake());
    assert!(
        Cursor::default().is_handshake(),
        "an empty timetoken is no cursor yet"
    );
    let read = Cursor {
        timetoken: "17200339136465528".into(),
        region: 0,
    };
    assert!(!read.is_handshake());
    let regional = Cursor {
        timetoken: "0".into(),
        region: 41,
    };
    assert!(regional.is_handshake());
}
