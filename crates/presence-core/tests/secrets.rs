//! Secrets never leak: no public config, operation, engine or error type prints the
//! secret key or the auth token with `{:?}` or `{}`, and no request ever carries the
//! secret key (only the signature derived from it), while the auth token is sent as
//! `auth=`.

use presence_core::http;
use presence_core::{
    CallOptions, Config, Error, GetState, Heartbeat, HereNow, HttpRequest, Keyset, KeysetChoice,
    KeysetStore, Leave, Operation, Origin, RequestMeta, Secret, SetState, Subscribe, UserId,
    WhereNow,
};
use presence_core::{Failure, Transmit};
use presence_core::{HeartbeatConfig, HeartbeatEngine};
use presence_core::{WatchConfig, WatchEngine};
use serde_json::json;
use std::fmt::Debug;
use std::time::{Duration, Instant};

/// The default keyset's secret key: URL-special characters, so its encoded forms differ.
const SECRET: &str = "sec-c-DEFAULT/s3cr3t+key=";
/// Secrets of a named keyset and of a per-call keyset override.
const NAMED_SECRET: &str = "sec-c-NAMED-7f3a9b";
const OVERRIDE_SECRET: &str = "sec-c-OVERRIDE-1c2d3e";
/// The Access Manager token (`auth=`).
const TOKEN: &str = "p0F2AkF0Gl-TOKEN-qGRkZWRkZWZ3";

const ALL_SECRETS: [&str; 3] = [SECRET, NAMED_SECRET, OVERRIDE_SECRET];

fn keyset() -> Keyset {
    Keyset::new("sub-c-test")
        .with_publish_key("pub-c-test")
        .with_secret_key(SECRET)
}

fn named_keyset() -> Keyset {
    Keyset::new("sub-c-named")
        .with_publish_key("pub-c-named")
        .with_secret_key(NAMED_SECRET)
}

fn override_keyset() -> Keyset {
    Keyset::new("sub-c-override")
        .with_publish_key("pub-c-override")
        .with_secret_key(OVERRIDE_SECRET)
}

fn config() -> Config {
    Config::new(keyset(), UserId::new("user-1").unwrap())
        .with_auth_token(TOKEN)
        .with_named_keyset("named", named_keyset())
        .with_origin(Origin::parse("http://127.0.0.1:8090").unwrap())
}

fn meta() -> RequestMeta {
    RequestMeta::new(1_700_000_000).with_request_id("req-1")
}

/// Every form a secret could take in text: raw, percent-encoded (both cases),
/// `+`-for-space, and the body of a base64 encoding.
fn forms(secret: &str) -> Vec<String> {
    let encoded = presence_core::percent_encode(secret);
    let mut forms = vec![
        secret.to_owned(),
        encoded.clone(),
        encoded.to_lowercase(),
        secret.replace(' ', "+"),
    ];
    // A distinctive inner part, in case a formatter escaped or cut the ends.
    let core: String = secret.chars().skip(6).take(10).collect();
    forms.push(core);
    forms
}

/// Asserts that `text` (what was printed for `what`) shows none of the secrets, and
/// not the token unless `token_allowed`.
fn assert_clean(what: &str, text: &str, token_allowed: bool) {
    for secret in ALL_SECRETS {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} shows the secret key ({form:?}):\n{text}"
            );
        }
    }
    if !token_allowed {
        for form in forms(TOKEN) {
            assert!(
                !text.contains(&form),
                "{what} shows the auth token ({form:?}):\n{text}"
            );
        }
    }
}

fn assert_debug_clean<T: Debug>(what: &str, value: &T) {
    assert_clean(what, &format!("{value:?}"), false);
    assert_clean(what, &format!("{value:#?}"), false);
}

fn assert_display_clean<T: std::fmt::Display>(what: &str, value: &T) {
    assert_clean(what, &value.to_string(), false);
}

/// One operation of every kind, each with a keyset override holding a secret (and the
/// named keyset), plus extra query parameters.
fn ops_with_overrides() -> Vec<(&'static str, Box<dyn Debug>)> {
    vec![
        (
            "HereNow (explicit keyset)",
            Box::new(
                HereNow::new()
                    .channels(["a"])
                    .keyset(override_keyset())
                    .query_param("x", "1"),
            ),
        ),
        (
            "HereNow (named keyset)",
            Box::new(HereNow::new().using("named")),
        ),
        (
            "WhereNow",
            Box::new(WhereNow::new().user_id("other").keyset(override_keyset())),
        ),
        (
            "Heartbeat",
            Box::new(
                Heartbeat::new()
                    .channels(["a"])
                    .state(json!({"k": "v"}))
                    .keyset(override_keyset()),
            ),
        ),
        (
            "Leave",
            Box::new(Leave::new().channels(["a"]).keyset(override_keyset())),
        ),
        (
            "SetState",
            Box::new(
                SetState::new()
                    .channels(["a"])
                    .state(json!({"k": "v"}))
                    .keyset(override_keyset()),
            ),
        ),
        (
            "GetState",
            Box::new(GetState::new().channels(["a"]).keyset(override_keyset())),
        ),
        (
            "Subscribe",
            Box::new(Subscribe::new().channels(["a"]).keyset(override_keyset())),
        ),
        (
            "CallOptions",
            Box::new(CallOptions {
                keyset: KeysetChoice::Explicit(override_keyset()),
                query: vec![("x".into(), "1".into())],
                ..CallOptions::default()
            }),
        ),
        (
            "KeysetChoice",
            Box::new(KeysetChoice::Explicit(override_keyset())),
        ),
    ]
}

#[test]
fn config_types_never_print_secrets() {
    let config = config();
    assert_debug_clean("Config", &config);
    assert_debug_clean("Keyset", &keyset());
    assert_debug_clean("Keyset (named)", &named_keyset());
    assert_debug_clean("KeysetStore", &config.keysets);
    assert_debug_clean(
        "KeysetStore (built)",
        &KeysetStore::new(keyset()).with("other", override_keyset()),
    );
    assert_debug_clean("Secret (key)", &Secret::new(SECRET));
    assert_debug_clean("Secret (token)", &Secret::new(TOKEN));
    assert_debug_clean("Option<Secret>", &config.auth_token);
    assert_debug_clean("Keyset::secret_key()", &keyset().secret_key());
    assert_debug_clean("RequestMeta", &meta());
    assert_debug_clean("UserId", &config.user_id);
    assert_display_clean("UserId", &config.user_id);
    assert_debug_clean("Origin", &config.origin);
    assert_display_clean("Origin", &config.origin);
    // The accessors do give the secret to whoever asks for it explicitly.
    assert_eq!(keyset().secret_key().unwrap().expose(), SECRET);
    assert_eq!(config.auth_token.as_ref().unwrap().expose(), TOKEN);
}

#[test]
fn operations_with_secret_keyset_overrides_never_print_secrets() {
    for (name, op) in ops_with_overrides() {
        assert_debug_clean(name, &op);
    }
}

#[test]
fn errors_never_print_secrets() {
    let config = config();
    let mut errors: Vec<(String, Error)> = Vec::new();

    // Request-building errors, with secret keysets in play.
    let invalid: Vec<(&str, Result<HttpRequest, Error>)> = vec![
        (
            "here now limit 0",
            HereNow::new()
                .channels(["a"])
                .limit(0)
                .keyset(override_keyset())
                .to_request(&config, &meta()),
        ),
        (
            "unknown named keyset",
            WhereNow::new().using(SECRET).to_request(&config, &meta()),
        ),
        (
            "extra parameter `auth` twice",
            Leave::new()
                .channels(["a"])
                .query_param("auth", "x")
                .to_request(&config, &meta()),
        ),
        (
            "extra parameter `signature`",
            Leave::new()
                .channels(["a"])
                .query_param("signature", "x")
                .to_request(&config, &meta()),
        ),
        (
            "set state without state",
            SetState::new()
                .channels(["a"])
                .keyset(override_keyset())
                .to_request(&config, &meta()),
        ),
        (
            "heartbeat state not an object",
            Heartbeat::new()
                .channels(["a"])
                .state(json!([1]))
                .to_request(&config, &meta()),
        ),
        (
            "empty subscribe key with a secret",
            GetState::new()
                .channels(["a"])
                .keyset(Keyset::new(" ").with_secret_key(OVERRIDE_SECRET))
                .to_request(&config, &meta()),
        ),
        (
            "subscribe without channels",
            Subscribe::new().to_request(&config, &meta()),
        ),
    ];
    for (name, result) in invalid {
        let e = result.expect_err(name);
        // `unknown named keyset` names the keyset the caller asked for, which here is
        // the secret string itself: that is the caller's own input, not a leak.
        if name != "unknown named keyset" {
            errors.push((name.to_owned(), e));
        }
    }

    // Response errors of every variant.
    let resp = |status: u16, body: &str| {
        http::Response::builder()
            .status(status)
            .header("retry-after", "3")
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    let op = HereNow::new().channels(["a"]).keyset(override_keyset());
    for (name, r) in [
        (
            "service",
            resp(
                403,
                r#"{"message":"Forbidden","payload":{"channels":["a"]},"error":true,"service":"Access Manager","status":403}"#,
            ),
        ),
        ("false 200", resp(200, r#"{"status": 503, "error": 1}"#)),
        ("unexpected status", resp(502, "<html>bad gateway</html>")),
        (
            "malformed",
            resp(200, r#"{"status": 200, "occupancy": "x"}"#),
        ),
    ] {
        errors.push((name.to_owned(), op.parse_response(&r).unwrap_err()));
    }
    errors.push((
        "invalid_input".into(),
        Error::invalid_input("user_id", "must not be empty"),
    ));
    for (name, e) in &errors {
        assert_debug_clean(name, e);
        assert_display_clean(name, e);
        if let Some(s) = e.service_error() {
            assert_debug_clean(name, s);
        }
        let failure = Failure::Response(e.clone());
        assert_debug_clean(name, &failure);
        assert_display_clean(name, &failure);
    }
    let kinds: std::collections::BTreeSet<&str> =
        errors.iter().map(|(_, e)| e.kind().as_str()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "invalid_input",
            "malformed_response",
            "service",
            "unexpected_status"
        ]
    );
}

#[allow(clippy::disallowed_methods)] // the test is the driver: it owns the clock
fn t0() -> Instant {
    Instant::now()
}

#[test]
fn engines_and_transmits_never_print_secrets() {
    let now = t0();
    let options = CallOptions {
        keyset: KeysetChoice::Explicit(override_keyset()),
        ..CallOptions::default()
    };
    let hb_config = HeartbeatConfig::new(60);
    assert_debug_clean("HeartbeatConfig", &hb_config);
    let mut hb = HeartbeatEngine::new(hb_config);
    hb.set_call_options(options.clone());
    hb.join(now, ["a", "b"], ["g"]);
    hb.set_state(now, "a", json!({"k": "v"}));
    assert_debug_clean("HeartbeatEngine", &hb);
    let tx = hb.poll_request(now).expect("a heartbeat on join");
    assert_debug_clean("Transmit<HeartbeatRequest>", &tx);
    hb.handle_failure(now, tx.id, refused("connection refused"));
    while let Some(event) = hb.poll_event() {
        assert_debug_clean("HeartbeatEvent", &event);
    }
    assert_debug_clean("HeartbeatEngine after a failure", &hb);

    let watch_config = WatchConfig::default();
    assert_debug_clean("WatchConfig", &watch_config);
    let mut watch = WatchEngine::new(watch_config);
    watch.set_call_options(options);
    watch.add(now, ["a"], Vec::<String>::new());
    let tx: Transmit<Subscribe> = watch.poll_request(now).expect("a handshake");
    assert_debug_clean("Transmit<Subscribe>", &tx);
    assert_debug_clean("WatchEngine", &watch);
    let forbidden = http::Response::builder()
        .status(403)
        .body(
            br#"{"status":403,"error":true,"message":"Forbidden","service":"Access Manager"}"#
                .to_vec(),
        )
        .unwrap();
    watch.handle_response(now + Duration::from_secs(1), tx.id, &forbidden);
    while let Some(event) = watch.poll_event() {
        assert_debug_clean("WatchEvent", &event);
    }
    assert_debug_clean("WatchEngine after a failure", &watch);
}

// ---------------------------------------------------------------------------------------
// Requests

/// Every place of a request, as text: method, URI (raw and percent-decoded), header
/// names and values, body.
fn request_text(req: &HttpRequest) -> String {
    let uri = req.uri().to_string();
    let decoded = percent_encoding::percent_decode_str(&uri)
        .decode_utf8_lossy()
        .into_owned();
    let mut text = format!("{} {uri}\n{decoded}\n", req.method());
    for (name, value) in req.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push_str(&String::from_utf8_lossy(req.body()));
    text.push_str(&format!("\n{req:?}"));
    text
}

/// Checks one built request: signed, carries `auth=<token>`, and shows no secret key.
fn assert_request_clean(name: &str, req: &HttpRequest) {
    assert_clean(name, &request_text(req), true);
    let query = req.uri().query().unwrap_or_default();
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect();
    let get = |key: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("auth"), [TOKEN], "{name}: auth= is the token: {query}");
    assert_eq!(get("timestamp"), ["1700000000"], "{name}: {query}");
    let signature = get("signature");
    assert_eq!(signature.len(), 1, "{name}: one signature: {query}");
    assert!(signature[0].starts_with("v2."), "{name}: {query}");
    assert!(req.body().is_empty(), "{name}: GET without body");
}

#[test]
fn signed_requests_never_carry_the_secret_key() {
    let config = config();
    let mut built = 0;
    // Each operation with the default keyset, the named keyset and an explicit override.
    let choices: [(&str, KeysetChoice); 3] = [
        ("default", KeysetChoice::Default),
        ("named", KeysetChoice::Named("named".into())),
        ("override", KeysetChoice::Explicit(override_keyset())),
    ];
    for (choice_name, choice) in choices {
        let mut requests: Vec<(String, Result<HttpRequest, Error>)> = Vec::new();
        macro_rules! build {
            ($name:expr, $op:expr) => {{
                let op = $op;
                let op = match &choice {
                    KeysetChoice::Default => op,
                    KeysetChoice::Named(name) => op.using(name.clone()),
                    KeysetChoice::Explicit(keyset) => op.keyset(keyset.clone()),
                };
                requests.push((
                    format!("{} ({choice_name} keyset)", $name),
                    op.to_request(&config, &meta()),
                ));
            }};
        }
        build!(
            "HereNow",
            HereNow::new()
                .channels(["a", "b c"])
                .channel_groups(["g"])
                .include_state(true)
                .query_param("custom", "v")
        );
        build!("HereNow global", HereNow::new());
        build!("WhereNow", WhereNow::new().user_id("other user"));
        build!(
            "Heartbeat",
            Heartbeat::new()
                .channels(["a"])
                .channel_groups(["g"])
                .state(json!({"mood": "ok"}))
        );
        build!("Leave", Leave::new().channels(["a"]).channel_groups(["g"]));
        build!(
            "SetState",
            SetState::new()
                .channels(["a", "b"])
                .state(json!({"k": "v w"}))
        );
        build!(
            "GetState",
            GetState::new().channels(["a"]).user_id("someone")
        );
        build!(
            "Subscribe",
            Subscribe::new().channels(["a"]).channel_groups(["g"])
        );
        for (name, req) in requests {
            let req = req.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_request_clean(&name, &req);
            built += 1;
        }
    }
    assert_eq!(built, 8 * 3);
}

#[test]
fn engine_requests_never_carry_the_secret_key() {
    let now = t0();
    let config = config();
    let options = CallOptions {
        keyset: KeysetChoice::Explicit(override_keyset()),
        ..CallOptions::default()
    };
    let mut hb = HeartbeatEngine::new(HeartbeatConfig::new(60));
    hb.set_call_options(options.clone());
    hb.join(now, ["a"], ["g"]);
    let tx = hb.poll_request(now).expect("heartbeat");
    assert_request_clean("engine heartbeat", &tx.op.build(&config, &meta()).unwrap());
    assert_request_clean(
        "engine heartbeat (Transmit::to_request)",
        &tx.to_request(&config, &meta()).unwrap(),
    );
    let ok =
        http::Response::new(&br#"{"status": 200, "message": "OK", "service": "Presence"}"#[..]);
    hb.handle_response(now, tx.id, &ok);
    hb.left(now, ["a"], ["g"]);
    let mut leaves = 0;
    while let Some(tx) = hb.poll_request(now) {
        assert_request_clean(
            &format!("engine {}", tx.op.name()),
            &tx.to_request(&config, &meta()).unwrap(),
        );
        leaves += 1;
    }
    assert!(leaves >= 1, "a leave after left()");

    let mut watch = WatchEngine::new(WatchConfig::default());
    watch.set_call_options(options);
    watch.add(now, ["a"], ["g"]);
    let tx = watch.poll_request(now).expect("handshake");
    assert_request_clean(
        "engine subscribe",
        &tx.to_request(&config, &meta()).unwrap(),
    );
}

#[test]
fn unsigned_requests_carry_neither_secret_nor_signature() {
    // Without a secret key: no timestamp, no signature; the token is still `auth=`.
    let config = Config::new(Keyset::new("sub-c-test"), UserId::new("user-1").unwrap())
        .with_auth_token(TOKEN);
    let req = HereNow::new()
        .channels(["a"])
        .to_request(&config, &meta())
        .unwrap();
    let query = req.uri().query().unwrap();
    assert!(!query.contains("signature="), "{query}");
    assert!(!query.contains("timestamp="), "{query}");
    assert!(
        query.contains(&format!("auth={}", presence_core::percent_encode(TOKEN))),
        "{query}"
    );
    assert_clean("unsigned here now", &request_text(&req), true);
}

#[test]
fn the_checker_catches_leaks() {
    // Negative controls: each form of each secret is caught.
    for secret in ALL_SECRETS.iter().chain([&TOKEN]) {
        for form in forms(secret) {
            let text = format!("prefix {form} suffix");
            let caught = std::panic::catch_unwind(|| assert_clean("control", &text, false));
            assert!(caught.is_err(), "{form:?} not caught");
        }
    }
    // The token is allowed where requests must carry it; the secret key never is.
    assert_clean("control", &format!("auth={TOKEN}"), true);
    let text = format!("auth={TOKEN}&k={}", presence_core::percent_encode(SECRET));
    assert!(std::panic::catch_unwind(|| assert_clean("control", &text, true)).is_err());
}

/// A transport failure as a driver reports it.
fn refused(why: &str) -> presence_core::Failure {
    presence_core::Failure::Transport(presence_core::TransportFailure::new(
        presence_core::TransportFailureKind::Connect,
        why,
    ))
}
