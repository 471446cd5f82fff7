//! Property tests: names, user ids and state survive encoding and a standard
//! percent-decode unchanged; here-now results read back what generated bodies carry;
//! no parser panics on any bytes and any status; every prefix of every fixture is an
//! error, not a panic.

mod common;

use common::{all_fixture_names, config, fixture, parse_with_each_op, parse_with_every_op};
use percent_encoding::percent_decode_str;
use presence_core::{
    Config, Error, GetState, Heartbeat, HereNow, Keyset, Leave, Operation, RequestMeta, SetState,
    UserId, WhereNow,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value};

/// Failing cases are saved here (and committed) so they are re-run first. Without this,
/// proptest would write next to `tests/properties.rs`, as `tests/` has no `lib.rs`.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/properties.txt"
);

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

fn meta() -> RequestMeta {
    RequestMeta::new(1_700_000_000)
}

fn decode(s: &str) -> String {
    percent_decode_str(s)
        .decode_utf8()
        .expect("percent-decoded bytes are UTF-8")
        .into_owned()
}

/// (decoded key, decoded value) pairs of a query, split on `&` and `=`.
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

/// Characters that matter for encoding, mixed with arbitrary Unicode.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => proptest::sample::select(vec![
            ' ', '/', ',', '#', '@', '+', '%', '&', '=', '?', '~', '*', '\'', '(', ')', '!',
            ';', ':', '"', '\\', '\n', '\0', '\u{7f}', 'é', '频', '😀', '-', '_', '.', 'a', 'Z',
            '0',
        ]),
    ]
}

fn channel_name() -> impl Strategy<Value = String> {
    proptest::collection::vec(name_char(), 1..=92).prop_map(String::from_iter)
}

fn group_name() -> impl Strategy<Value = String> {
    channel_name().prop_filter("no `,` in a group name", |s| !s.contains(','))
}

fn user_id() -> impl Strategy<Value = String> {
    channel_name().prop_filter("not blank", |s| !s.trim().is_empty())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        proptest::collection::vec(name_char(), 0..12)
            .prop_map(|c| Value::String(String::from_iter(c))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(".{0,8}", json_value(), 0..5)
        .prop_map(|m| m.into_iter().collect())
}

fn dedup(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// The path segment after `prefix`, split on literal `,` and each piece decoded.
fn decoded_list(segment: &str) -> Vec<String> {
    if segment == "," {
        return Vec::new();
    }
    segment.split(',').map(decode).collect()
}

fn request<O: Operation>(op: &O, config: &Config) -> (String, String) {
    let req = op.to_request(config, &meta()).expect("valid request");
    let path = req.uri().path().to_owned();
    let query = req.uri().query().expect("query").to_owned();
    assert!(!query.contains('+'), "`+` in query {query}");
    assert!(!path.contains('+'), "`+` in path {path}");
    (path, query)
}

proptest! {
    #![proptest_config(proptest_config(64))]

    #[test]
    fn channel_and_group_names_survive_encoding(
        channels in proptest::collection::vec(channel_name(), 1..4),
        groups in proptest::collection::vec(group_name(), 0..3),
    ) {
        let c = config();
        let base = "/v2/presence/sub-key/sub-c-test/channel/";
        let want_channels = dedup(&channels);
        let want_groups = dedup(&groups);
        let mut sorted_channels = want_channels.clone();
        sorted_channels.sort();
        let mut sorted_groups = want_groups.clone();
        sorted_groups.sort();

        let (path, query) = request(
            &HereNow::new().channels(channels.clone()).channel_groups(groups.clone()),
            &c,
        );
        let segment = path.strip_prefix(base).expect("here now path");
        prop_assert_eq!(decoded_list(segment), want_channels.clone());
        let got_groups = param(&query, "channel-group")
            .map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default();
        prop_assert_eq!(&got_groups, &want_groups);
        // Each group piece decodes on its own too (the separators are raw commas).
        if let Some((_, raw)) = query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == "channel-group") {
            prop_assert_eq!(raw.split(',').map(decode).collect::<Vec<_>>(), want_groups.clone());
        }

        let (path, query) = request(
            &Heartbeat::new().channels(channels.clone()).channel_groups(groups.clone()),
            &c,
        );
        let segment = path.strip_prefix(base).and_then(|p| p.strip_suffix("/heartbeat")).expect("heartbeat path");
        prop_assert_eq!(decoded_list(segment), sorted_channels.clone());
        let got_groups = param(&query, "channel-group")
            .map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default();
        prop_assert_eq!(&got_groups, &sorted_groups);

        let (path, _) = request(&Leave::new().channels(channels.clone()), &c);
        let segment = path.strip_prefix(base).and_then(|p| p.strip_suffix("/leave")).expect("leave path");
        prop_assert_eq!(decoded_list(segment), sorted_channels);

        let (path, _) = request(&GetState::new().channels(channels.clone()), &c);
        let segment = path.strip_prefix(base).and_then(|p| p.strip_suffix("/uuid/user-1")).expect("get state path");
        prop_assert_eq!(decoded_list(segment), want_channels);

        // Groups only: the channel segment is the single `,`.
        if !groups.is_empty() {
            let (path, _) = request(&GetState::new().channel_groups(groups.clone()), &c);
            prop_assert_eq!(path, format!("{base},/uuid/user-1"));
        }
    }

    #[test]
    fn user_ids_survive_encoding(me in user_id(), other in user_id()) {
        let c = Config::new(Keyset::new("sub-c-test"), UserId::new(me.clone()).unwrap());
        let prefix = "/v2/presence/sub-key/sub-c-test/uuid/";

        let (path, query) = request(&WhereNow::new(), &c);
        prop_assert_eq!(decode(path.strip_prefix(prefix).unwrap()), me.clone());
        prop_assert_eq!(param(&query, "uuid"), Some(me.clone()));

        let (path, query) = request(&WhereNow::new().user_id(other.clone()), &c);
        let encoded = path.strip_prefix(prefix).unwrap();
        prop_assert!(!encoded.contains('/') && !encoded.contains(','));
        prop_assert_eq!(decode(encoded), other.clone());
        prop_assert_eq!(param(&query, "uuid"), Some(me.clone()));

        let (path, _) = request(&GetState::new().channels(["ch"]).user_id(other.clone()), &c);
        let encoded = path.strip_prefix("/v2/presence/sub-key/sub-c-test/channel/ch/uuid/").unwrap();
        prop_assert_eq!(decode(encoded), other.clone());

        let (path, _) = request(
            &SetState::new().channels(["ch"]).state(Value::Object(Map::new())).user_id(other.clone()),
            &c,
        );
        let encoded = path
            .strip_prefix("/v2/presence/sub-key/sub-c-test/channel/ch/uuid/")
            .and_then(|p| p.strip_suffix("/data"))
            .unwrap();
        prop_assert_eq!(decode(encoded), other);
    }

    #[test]
    fn state_objects_survive_encoding(state in json_object(), channel in channel_name()) {
        let c = config();
        let (_, query) = request(
            &SetState::new().channels([channel.clone()]).state(Value::Object(state.clone())),
            &c,
        );
        let sent: Value = serde_json::from_str(&param(&query, "state").unwrap()).unwrap();
        prop_assert_eq!(&sent, &Value::Object(state.clone()));

        let (_, query) = request(
            &Heartbeat::new().channels([channel.clone()]).state(Value::Object(state.clone())),
            &c,
        );
        let sent: Value = serde_json::from_str(&param(&query, "state").unwrap()).unwrap();
        let mut keyed = Map::new();
        keyed.insert(channel, Value::Object(state));
        prop_assert_eq!(sent, Value::Object(keyed));
    }

    #[test]
    fn extra_query_values_survive_encoding(key in "[a-z_]{1,8}x", value in ".{0,40}") {
        let (_, query) = request(&WhereNow::new().query_param(key.clone(), value.clone()), &config());
        prop_assert_eq!(param(&query, &key), Some(value));
    }
}

/// A channel of a generated here-now body: its name and its occupants, each a user id
/// and maybe a state.
type Channel = (String, Vec<(String, Option<Value>)>);

/// A here-now body of the multi-channel shape (`payload.channels`, in the given order)
/// or, for one channel when `single`, of the single-channel shape; each occupant as a
/// plain string when it has no state and `plain`, else as `{"uuid": …, "state": …}`.
/// Strings are written by serde_json, so names with quotes, backslashes or control
/// characters come escaped.
fn here_now_body(channels: &[Channel], single: bool, plain: bool) -> String {
    let text = |s: &str| serde_json::to_string(s).unwrap();
    let uuids = |occupants: &[(String, Option<Value>)]| {
        let items: Vec<String> = occupants
            .iter()
            .map(|(id, state)| match state {
                None if plain => text(id),
                None => format!(r#"{{"uuid": {}}}"#, text(id)),
                Some(v) => format!(r#"{{"uuid": {}, "state": {v}}}"#, text(id)),
            })
            .collect();
        format!("[{}]", items.join(", "))
    };
    if single {
        let (_, occupants) = &channels[0];
        return format!(
            r#"{{"status": 200, "message": "OK", "service": "Presence", "uuids": {}, "occupancy": {}}}"#,
            uuids(occupants),
            occupants.len()
        );
    }
    let entries: Vec<String> = channels
        .iter()
        .map(|(name, occupants)| {
            format!(
                r#"{}: {{"occupancy": {}, "uuids": {}}}"#,
                text(name),
                occupants.len(),
                uuids(occupants)
            )
        })
        .collect();
    let total: usize = channels.iter().map(|(_, o)| o.len()).sum();
    format!(
        r#"{{"status": 200, "message": "OK", "payload": {{"channels": {{{}}}, "total_channels": {}, "total_occupancy": {total}}}, "service": "Presence"}}"#,
        entries.join(", "),
        channels.len()
    )
}

proptest! {
    #![proptest_config(proptest_config(256))]

    /// The owned here-now result (built in the same pass as the body is read) and the
    /// borrowed view read back exactly the channels, user ids and states the body
    /// carries, in wire order, and the view made owned equals the owned result.
    #[test]
    fn here_now_results_read_back_what_the_body_carries(
        channels in proptest::collection::vec(
            (channel_name(), proptest::collection::vec(
                (user_id(), proptest::option::of(json_value())), 0..6)),
            1..4,
        ),
        single in any::<bool>(),
        plain in any::<bool>(),
    ) {
        let channels = {
            // Object keys are unique: the first of each name stays.
            let mut unique: Vec<Channel> = Vec::new();
            for (name, occupants) in channels {
                if !unique.iter().any(|(n, _)| *n == name) {
                    unique.push((name, occupants));
                }
            }
            unique
        };
        let single = single && channels.len() == 1;
        let body = here_now_body(&channels, single, plain);
        let names: Vec<String> = channels.iter().map(|(n, _)| n.clone()).collect();
        let op = HereNow::new().channels(names).include_state(true);
        let response = common::response(200, body.as_bytes());
        let owned = op.parse_response(&response).expect("owned parse");
        let view = op.parse_view(&response).expect("view");
        let occupancy: usize = channels.iter().map(|(_, o)| o.len()).sum();
        for result in [&owned, &view] {
            prop_assert_eq!(result.total_channels, channels.len() as u64);
            prop_assert_eq!(result.total_occupancy, occupancy as u64);
            prop_assert_eq!(result.channels.len(), channels.len());
            for (got, (name, occupants)) in result.channels.iter().zip(&channels) {
                prop_assert_eq!(got.name.as_str(), name.as_str());
                prop_assert_eq!(got.occupancy, occupants.len() as u64);
                prop_assert_eq!(got.occupants.len(), occupants.len());
                for (o, (id, state)) in got.occupants.iter().zip(occupants) {
                    prop_assert_eq!(o.user_id.as_str(), id.as_str());
                    // `"state": null` is no state.
                    let expected = state.as_ref().filter(|v| !v.is_null());
                    let read = o.state.as_ref().map(|s| s.to_value().expect("a JSON value"));
                    prop_assert_eq!(read.as_ref(), expected);
                }
            }
        }
        prop_assert_eq!(view.into_owned(), owned);
    }
}

/// Checks the classification invariants of one parse.
fn check_result(status: u16, op: &str, result: &Result<(), Error>) {
    if !(200..=299).contains(&status) {
        match result {
            Err(Error::Service(e)) => assert_eq!(e.http_status, status, "{op}"),
            Err(Error::UnexpectedStatus { status: s, .. }) => assert_eq!(*s, status, "{op}"),
            other => panic!("{op} with HTTP {status}: {other:?}"),
        }
    }
    if let Err(Error::Service(e)) = result {
        assert_eq!(e.http_status, status, "{op}");
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(
        status in 100u16..=599,
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        for (op, result) in parse_with_every_op(status, &body) {
            check_result(status, op, &result);
        }
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_json(
        status in prop_oneof![Just(200u16), 100u16..=599],
        body in json_value(),
    ) {
        let bytes = serde_json::to_vec(&body).unwrap();
        for (op, result) in parse_with_every_op(status, &bytes) {
            check_result(status, op, &result);
        }
    }

    #[test]
    fn parsers_never_panic_on_mutated_fixtures(
        status in prop_oneof![Just(200u16), 100u16..=599],
        index in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let names = all_fixture_names();
        let mut body = fixture(&names[index.index(names.len())]);
        for (at, byte) in edits {
            if body.is_empty() {
                body.push(byte);
            } else {
                let i = at.index(body.len());
                body[i] = byte;
            }
        }
        for (op, result) in parse_with_every_op(status, &body) {
            check_result(status, op, &result);
        }
    }
}

// Split in two so the test harness can use two threads.
#[test]
fn every_prefix_of_every_fixture_is_an_error_not_a_panic_even() {
    every_prefix_of_every_fixture(0);
}

#[test]
fn every_prefix_of_every_fixture_is_an_error_not_a_panic_odd() {
    every_prefix_of_every_fixture(1);
}

fn every_prefix_of_every_fixture(half: usize) {
    let mut checked = 0usize;
    for name in all_fixture_names().into_iter().skip(half).step_by(2) {
        let body = fixture(&name);
        for len in 0..=body.len() {
            let prefix = &body[..len];
            // Success status: each operation's typed parser. Error status: the shared
            // classification (written once, so one operation suffices).
            let mut results = parse_with_each_op(200, prefix);
            results.push((
                "where_now (HTTP 403)",
                WhereNow::new()
                    .parse_response(&common::response(403, prefix))
                    .map(drop),
            ));
            for (i, (op, result)) in results.into_iter().enumerate() {
                let status = if i == 6 { 403 } else { 200 };
                checked += 1;
                check_result(status, op, &result);
                // Only a prefix that is itself complete JSON (the whole body) may parse.
                if result.is_ok() {
                    assert!(
                        serde_json::from_slice::<Value>(prefix).is_ok(),
                        "{name}[..{len}] via {op} parsed: {:?}",
                        String::from_utf8_lossy(prefix)
                    );
                }
            }
        }
    }
    assert!(checked > 20_000, "only {checked} parses");
}
