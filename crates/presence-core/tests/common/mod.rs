//! Helpers shared by the integration tests of `presence-core`.
#![allow(dead_code)]

use presence_core::{
    Config, Error, GetState, Heartbeat, HereNow, Keyset, Leave, Operation, SetState, UserId,
    WhereNow,
};
use std::path::PathBuf;

/// The directory holding the response bodies copied from PROTOCOL.md.
pub(crate) fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The bytes of a fixture, exactly as saved.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Every fixture file name (sorted), without the provenance notes.
pub(crate) fn all_fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf-8 name")
        })
        .filter(|n| n != "SOURCES.md")
        .collect();
    names.sort();
    names
}

/// An `http::Response` with the given status and body.
pub(crate) fn response(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.to_vec())
        .expect("valid status")
}

/// An `http::Response` with the given status, a header and body.
pub(crate) fn response_with_header(
    status: u16,
    header: &str,
    value: &str,
    body: &[u8],
) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header(header, value)
        .body(body.to_vec())
        .expect("valid response")
}

/// The unsigned test configuration: subscribe key `sub-c-test`, user `user-1`, a fixed
/// `pnsdk` so golden strings do not depend on the crate version.
pub(crate) fn config() -> Config {
    Config::new(
        Keyset::new("sub-c-test"),
        UserId::new("user-1").expect("valid user id"),
    )
    .with_pnsdk("PubNub-Rust/0.6.0")
}

/// The signing keyset of PROTOCOL.md §6 presence vectors 1 and 2.
pub(crate) fn signing_keyset() -> Keyset {
    Keyset::new("sub-c-test")
        .with_publish_key("pub-c-test")
        .with_secret_key("sec-c-test")
}

/// The signed test configuration.
pub(crate) fn signed_config() -> Config {
    Config::new(
        signing_keyset(),
        UserId::new("user-1").expect("valid user id"),
    )
    .with_pnsdk("PubNub-Rust/0.6.0")
}

/// Every operation, in the shapes whose parsers differ, so a body can be fed to all
/// parsers at once. `Ok` results are reduced to `()`.
pub(crate) fn parse_with_every_op(
    status: u16,
    body: &[u8],
) -> Vec<(&'static str, Result<(), Error>)> {
    parse_with(status, body, true)
}

/// Each of the six operations once (one shape each). `Ok` results are reduced to `()`.
pub(crate) fn parse_with_each_op(
    status: u16,
    body: &[u8],
) -> Vec<(&'static str, Result<(), Error>)> {
    parse_with(status, body, false)
}

fn parse_with(
    status: u16,
    body: &[u8],
    all_shapes: bool,
) -> Vec<(&'static str, Result<(), Error>)> {
    let resp = response(status, body);
    let mut out = vec![(
        "here_now single",
        HereNow::new()
            .channels(["ch1"])
            .parse_response(&resp)
            .map(drop),
    )];
    if !all_shapes {
        out.push(("where_now", WhereNow::new().parse_response(&resp).map(drop)));
        out.push((
            "heartbeat",
            Heartbeat::new().channels(["ch1"]).parse_response(&resp),
        ));
        out.push((
            "leave",
            Leave::new().channels(["ch1"]).parse_response(&resp),
        ));
        out.push((
            "set_state",
            SetState::new()
                .channels(["ch1"])
                .state(serde_json::json!({"k": "v"}))
                .parse_response(&resp)
                .map(drop),
        ));
        out.push((
            "get_state single",
            GetState::new()
                .channels(["ch1"])
                .parse_response(&resp)
                .map(drop),
        ));
        return out;
    }
    out.extend([
        (
            "here_now multi",
            HereNow::new()
                .channels(["ch1", "ch2"])
                .parse_response(&resp)
                .map(drop),
        ),
        (
            "here_now groups",
            HereNow::new()
                .channel_groups(["cg"])
                .parse_response(&resp)
                .map(drop),
        ),
        (
            "here_now global",
            HereNow::new().parse_response(&resp).map(drop),
        ),
        ("where_now", WhereNow::new().parse_response(&resp).map(drop)),
        (
            "heartbeat",
            Heartbeat::new().channels(["ch1"]).parse_response(&resp),
        ),
        (
            "leave",
            Leave::new().channels(["ch1"]).parse_response(&resp),
        ),
        (
            "set_state",
            SetState::new()
                .channels(["ch1"])
                .state(serde_json::json!({"k": "v"}))
                .parse_response(&resp)
                .map(drop),
        ),
        (
            "get_state single",
            GetState::new()
                .channels(["ch1"])
                .parse_response(&resp)
                .map(drop),
        ),
        (
            "get_state multi",
            GetState::new()
                .channels(["ch1", "ch2"])
                .parse_response(&resp)
                .map(drop),
        ),
    ]);
    out
}
