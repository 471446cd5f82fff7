//! Signature verification over loopback and as a property (issue 15, items 5 and 6).
//!
//! - A request signed exactly per PROTOCOL.md §6 is accepted whatever its parameters:
//!   the CLI's own heartbeat with five parameters whose wire form differs from their
//!   decoded form used to be refused (the fallback never tried "all decoded").
//! - Keys are part of the canonical form, so moving `=`/`&` into a key cannot strip a
//!   signed parameter (`channel-group%3Dg%26heartbeat=600` used to pass as
//!   `channel-group=g&heartbeat=600`).
//! - Property: random parameter sets, signed per §6 and written on the wire in any
//!   valid way, are always accepted; every single-byte substitution in the target is
//!   refused unless the changed target decodes to the very same request.

mod common;

use common::get;
use presence_core::{canonical_query, sign_v2, Config, Heartbeat, Keyset as CoreKeyset};
use presence_core::{Operation as _, RequestMeta, UserId};
use presence_emulator::http::Request;
use presence_emulator::{Emulator, EmulatorConfig, Keyset, Model, ModelConfig};
use proptest::prelude::*;
use std::time::Duration;

const T0: u64 = 1_700_000_000;

fn signed_keyset() -> Keyset {
    Keyset::new("sub-c-sig")
        .publish_key("pub-c-sig")
        .secret_key("S")
}

fn config() -> EmulatorConfig {
    EmulatorConfig::new()
        .keyset(signed_keyset())
        .paused_clock(Duration::from_secs(T0))
}

/// The request `presence --subscribe-key sub-c-sig --publish-key pub-c-sig --secret-key S
/// --user-id 'ann example' --auth-key 'tok en' heartbeat --channels vault --groups 'g 1'
/// --state '{"a":"b"}'` sends (the CLI builds it with presence-core exactly so).
fn cli_heartbeat(ts: u64) -> String {
    let config = Config::new(
        CoreKeyset::new("sub-c-sig")
            .with_publish_key("pub-c-sig")
            .with_secret_key("S"),
        UserId::new("ann example").unwrap(),
    )
    .with_auth_token("tok en");
    let op = Heartbeat::new()
        .channels(["vault"])
        .channel_groups(["g 1"])
        .state(serde_json::json!({"a": "b"}));
    let req = op.to_request(&config, &RequestMeta::new(ts)).unwrap();
    req.uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_per_section_6_is_accepted_whatever_its_parameters() {
    let emu = Emulator::start(config()).await.unwrap();
    let target = cli_heartbeat(T0);
    // uuid, auth, channel-group, state and pnsdk all differ from their decoded form.
    let query = target.split_once('?').unwrap().1;
    let ambiguous = query
        .split('&')
        .filter(|p| p.contains('%') || p.contains('+'))
        .filter(|p| !p.starts_with("signature="))
        .count();
    assert!(ambiguous >= 5, "{target}");
    let r = get(emu.local_addr(), &target).await;
    assert_eq!(r.status, 200, "{target}: {}", r.body);
    emu.with_model(|m| assert_eq!(m.occupancy("sub-c-sig", "vault"), 1));
    // The same request with any other secret is still refused.
    let wrong = target.replace("signature=v2.", "signature=v2.A");
    let r = get(emu.local_addr(), &wrong).await;
    assert_eq!(r.status, 403, "{}", r.body);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parameter_cannot_be_stripped_by_moving_separators_into_a_key() {
    let emu = Emulator::start(config()).await.unwrap();
    let a = emu.local_addr();
    let ts = T0.to_string();
    let sign = |path: &str, params: &[(&str, &str)]| {
        sign_v2(
            "S",
            "GET",
            "pub-c-sig",
            path,
            &canonical_query(params.iter().copied()),
            b"",
        )
    };
    let reg = "/v1/channel-registration/sub-key/sub-c-sig/channel-group/g";
    let sig = sign(
        reg,
        &[("add", "room"), ("timestamp", &ts), ("uuid", "admin")],
    );
    let r = get(
        a,
        &format!("{reg}?add=room&timestamp={ts}&uuid=admin&signature={sig}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Bob's client signs a heartbeat on the group.
    let path = "/v2/presence/sub-key/sub-c-sig/channel/,/heartbeat";
    let sig = sign(
        path,
        &[
            ("channel-group", "g"),
            ("heartbeat", "600"),
            ("timestamp", &ts),
            ("uuid", "bob"),
        ],
    );
    // Resent with `channel-group=g&heartbeat` as one key: the group is gone from the
    // request, but the old canonical string was the same.
    let stripped =
        format!("{path}?channel-group%3Dg%26heartbeat=600&uuid=bob&timestamp={ts}&signature={sig}");
    let r = get(a, &stripped).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"]["message"], "Invalid signature");
    emu.with_model(|m| assert_eq!(m.stats().users, 0));
    // As signed, it is accepted and bob is on the group's channel.
    let honest =
        format!("{path}?channel-group=g&heartbeat=600&uuid=bob&timestamp={ts}&signature={sig}");
    let r = get(a, &honest).await;
    assert_eq!(r.status, 200, "{}", r.body);
    emu.with_model(|m| assert_eq!(m.occupancy("sub-c-sig", "room"), 1));
    emu.shutdown().await;
}

// ---- property ---------------------------------------------------------------------

/// Percent-encodes `s` for the wire: unreserved bytes stay, `keep` bytes (valid raw in a
/// query) may stay, a space may be `+`, hex may be lower case.
fn wire(s: &str, keep: &[u8], plus: bool, lower: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else if b == b' ' && plus {
            out.push('+');
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a wire query like the emulator does (`+` is a space), sorted: what the
/// request means.
fn meaning(target: &str) -> Option<(String, Vec<(String, String)>)> {
    let (path, query) = target.split_once('?')?;
    let dec = |s: &str| -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' => {
                    let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(h, 16).ok()?);
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).ok()
    };
    let mut params = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        params.push((dec(k)?, dec(v)?));
    }
    params.sort();
    Some((path.to_owned(), params))
}

/// Parameter keys that change nothing in a heartbeat (so a signed one always gets 200).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("pnsdk".to_owned()),
        Just("requestid".to_owned()),
        Just("instanceid".to_owned()),
        Just("l_pres".to_owned()),
        Just("ee".to_owned()),
        "[a-z][a-z_-]{0,8}".prop_filter("semantic key", |k| !matches!(
            k.as_str(),
            "heartbeat" | "state" | "channel-group" | "auth" | "signature" | "timestamp" | "uuid"
        )),
        // Keys with bytes that need encoding.
        "x[ a-z=&+%/:,é😀]{1,6}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{0,8}",
        "[ -~]{0,12}",
        "\\PC{0,8}",
        Just("a b+c&d=e%f".to_owned()),
        Just(r#"{"a":"b c","d":[1,2]}"#.to_owned()),
    ]
}

/// How each parameter is written on the wire.
fn style() -> impl Strategy<Value = (Vec<u8>, bool, bool)> {
    (
        proptest::sample::subsequence(b",:/@!*'()$;".to_vec(), 0..=11),
        any::<bool>(),
        any::<bool>(),
    )
}

fn model() -> Model {
    Model::new(ModelConfig::new().keyset(signed_keyset()))
}

fn status(m: &mut Model, target: &str) -> Option<u16> {
    let req = Request::get(target).body(()).ok()?;
    Some(m.handle(Duration::from_secs(T0), &req).status().as_u16())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn signed_per_section_6_is_accepted_and_every_byte_change_refused(
        params in proptest::collection::vec((key(), value(), style()), 0..7),
        user in "\\PC{1,6}",
        uuid_style in style(),
        flips in proptest::collection::vec(any::<u8>(), 4),
    ) {
        let path = "/v2/presence/sub-key/sub-c-sig/channel/a%20b,c/heartbeat";
        let ts = T0.to_string();
        let mut all = params;
        all.push(("uuid".into(), user, uuid_style));
        all.push(("timestamp".into(), ts, (Vec::new(), false, false)));
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v, _)| (k.as_str(), v.as_str())).collect();
        let sig = sign_v2("S", "GET", "pub-c-sig", path, &canonical_query(pairs.iter().copied()), b"");
        let query: Vec<String> = all
            .iter()
            .map(|(k, v, (keep, plus, lower))| {
                format!("{}={}", wire(k, keep, *plus, *lower), wire(v, keep, *plus, *lower))
            })
            .collect();
        let target = format!("{path}?{}&signature={sig}", query.join("&"));
        let mut m = model();
        prop_assert_eq!(status(&mut m, &target), Some(200), "{}", target);

        let original = meaning(&target);
        let bytes = target.as_bytes();
        for i in 0..bytes.len() {
            let mut replacements = vec![b'%', b'&', b'=', b'+', b'x', b'0', bytes[i] ^ 0x20, bytes[i].wrapping_add(1)];
            replacements.extend(flips.iter().map(|f| f & 0x7f));
            for r in replacements {
                if r == bytes[i] {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = r;
                let Ok(changed) = String::from_utf8(changed) else { continue };
                if meaning(&changed).is_some() && meaning(&changed) == original {
                    // The same request (e.g. `%2c` for `%2C`): accepting it is accepting
                    // what was signed.
                    continue;
                }
                let st = status(&mut m, &changed);
                prop_assert!(st != Some(200), "accepted after changing byte {} to {:?}: {}", i, r as char, changed);
            }
        }
        // Nothing but the original joined.
        prop_assert!(m.stats().users <= 1);
    }
}
