//! Hostile input: malformed requests never panic, always get a JSON error, and never
//! change the state of another keyset (nor, when rejected, of any keyset).
//!
//! Keyset `ks-a` holds occupants, states, a channel group and presence events. Its
//! snapshot (every read the API offers on it, plus `format!("{model:?}")` when nothing
//! is supposed to change at all) is compared before and after:
//! - a table of requests the emulator must reject, aimed at keyset `ks-b` and at `ks-a`'s
//!   own paths: each gets its exact 4xx status and a JSON body with `status` and
//!   `message`, and the whole model is unchanged;
//! - a table of odd but valid requests on `ks-b` (unicode edge cases, NUL characters,
//!   names that look like `ks-a`'s paths or group, extreme but valid numbers, the deepest
//!   balanced JSON nests a target can carry): answered, and `ks-a` is unchanged;
//! - every request line of the fuzz seeds in `fuzz/seeds/emulator/` (and, with
//!   `PRESENCE_REPLAY_CORPUS=1`, of the local `fuzz/corpus/emulator/`);
//! - raw malformed HTTP over a real socket: an error status with the emulator's JSON
//!   error body (also for what hyper refuses itself: issue 15, item 9) or a close, and
//!   the server keeps serving.
//!
//! A 100 000-level JSON nest cannot reach the emulator: `http::Uri` takes at most
//! 65 534 bytes, so the deepest state is about 64 800 unclosed `[` (rejected) or
//! 32 400 balanced levels. Balanced ones are valid JSON and accepted: the emulator
//! validates and stores state without recursion (no stack overflow at any depth), but a
//! here now with states then carries JSON that recursion-limited readers (serde_json's
//! default 128, so presence-core) cannot parse; the test prints what they say.

use presence_core::Operation as _;
use presence_emulator::http::{Method, Request, Response, Uri};
use presence_emulator::{Emulator, EmulatorConfig, Keyset, Model, ModelConfig};
use serde::de::IgnoredAny;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const T0: Duration = Duration::from_secs(1_700_000_000);
/// Just under the longest target `http::Uri` accepts (65 534 bytes; hyper answers 414
/// itself above that), so the deepest nests a request can carry reach the JSON parser.
const MAX_URL: usize = 65_000;
/// Room left for a nest in a target under [`MAX_URL`].
const NEST_BYTES: usize = MAX_URL - 200;

fn keysets(config: ModelConfig) -> ModelConfig {
    config
        .keyset(Keyset::new("ks-a"))
        .keyset(Keyset::new("ks-b"))
        .keyset(
            Keyset::new("ks-signed")
                .publish_key("pub")
                .secret_key("sec"),
        )
        .keyset(Keyset::new("ks-pam").grant("tok", ["c"], ["g"]))
}

fn req(method: &Method, target: &str) -> Request<()> {
    let uri = Uri::try_from(target).unwrap_or_else(|e| panic!("{target:.200}: {e}"));
    Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(())
        .unwrap()
}

fn get(m: &mut Model, now: Duration, target: &str) -> Response<Vec<u8>> {
    m.handle(now, &req(&Method::GET, target))
}

fn text(r: &Response<Vec<u8>>) -> String {
    String::from_utf8_lossy(r.body()).into_owned()
}

/// `ks-a`: ann (state) on lobby and room, bob on lobby, cy (state, unicode channel), dee
/// (set state on room), group `gA` = lobby + room; long timeouts. Plus a little on `ks-b`.
fn populate(m: &mut Model, now: Duration) {
    let a = "/v2/presence/sub-key/ks-a";
    for target in [
        format!("{a}/channel/lobby,room/heartbeat?heartbeat=86400&uuid=ann&state=%7B%22mood%22%3A%22ok%22%7D"),
        format!("{a}/channel/lobby/heartbeat?heartbeat=86400&uuid=bob"),
        format!("{a}/channel/%C3%BC%20n%2Fi%2Cc/heartbeat?heartbeat=86400&uuid=cy&state=%7B%22l%22%3A%5B1%2C%7B%22x%22%3Anull%7D%5D%7D"),
        format!("{a}/channel/room/uuid/dee/data?uuid=dee&state=%7B%22k%22%3A%22v%22%7D"),
        format!("{a}/channel/room/heartbeat?heartbeat=86400&uuid=dee"),
        "/v1/channel-registration/sub-key/ks-a/channel-group/gA?add=lobby,room&uuid=admin".into(),
        "/v2/presence/sub-key/ks-b/channel/lobby/heartbeat?heartbeat=86400&uuid=zed".into(),
        "/v1/channel-registration/sub-key/ks-b/channel-group/gB?add=lobby&uuid=admin".into(),
    ] {
        let r = get(m, now, &target);
        assert_eq!(r.status(), 200, "{target}: {}", text(&r));
    }
    assert_eq!(m.occupancy("ks-a", "lobby"), 2);
    assert_eq!(m.occupancy("ks-a", "room"), 2);
}

/// Every read of `ks-a`: (request, status, body).
fn snapshot_a(m: &mut Model, now: Duration) -> Vec<(String, u16, String)> {
    let a = "/v2/presence/sub-key/ks-a";
    let targets = [
        format!("{a}?uuid=probe&state=1"),
        format!("{a}/channel/lobby?uuid=probe&state=1"),
        format!("{a}/channel/lobby,room,%C3%BC%20n%2Fi%2Cc?uuid=probe&state=1&channel-group=gA"),
        format!("{a}/uuid/ann?uuid=probe"),
        format!("{a}/uuid/bob?uuid=probe"),
        format!("{a}/uuid/cy?uuid=probe"),
        format!("{a}/uuid/dee?uuid=probe"),
        format!("{a}/channel/lobby,room/uuid/ann?uuid=probe"),
        format!("{a}/channel/%C3%BC%20n%2Fi%2Cc/uuid/cy?uuid=probe"),
        format!("{a}/channel/,/uuid/dee?uuid=probe&channel-group=gA"),
        "/v1/channel-registration/sub-key/ks-a/channel-group?uuid=probe".into(),
        "/v1/channel-registration/sub-key/ks-a/channel-group/gA?uuid=probe".into(),
        // Every presence event so far (a subscribe to `-pnpres` names only joins nothing).
        "/v2/subscribe/ks-a/lobby-pnpres,room-pnpres,%C3%BC%20n%2Fi%2Cc-pnpres/0?tt=1&uuid=probe"
            .into(),
        "/v2/subscribe/ks-a/,/0?tt=1&uuid=probe&channel-group=gA-pnpres".into(),
    ];
    let out: Vec<_> = targets
        .into_iter()
        .map(|t| {
            let r = get(m, now, &t);
            let (s, b) = (r.status().as_u16(), text(&r));
            (t, s, b)
        })
        .collect();
    for (t, s, b) in &out {
        assert_eq!(*s, 200, "{t}: {b}");
    }
    out
}

/// Checks the error contract: JSON body whose `status` is the HTTP status and with a
/// message (`message`, or `error.message` in the PAM v3 signature body). Returns it.
fn error_message(target: &str, r: &Response<Vec<u8>>) -> String {
    let body = text(r);
    let v: Value = serde_json::from_slice(r.body())
        .unwrap_or_else(|e| panic!("{target:.300}: non-JSON error body ({e}): {body:.300}"));
    assert_eq!(
        v["status"],
        r.status().as_u16(),
        "{target:.300}: {body:.300}"
    );
    let msg = v["message"]
        .as_str()
        .or_else(|| v["error"]["message"].as_str())
        .unwrap_or_else(|| panic!("{target:.300}: no message in {body:.300}"));
    assert!(!msg.is_empty());
    msg.to_owned()
}

/// `{"a":` + `open` × depth + `1` + `close` × depth + `}`, percent-encoded where `http::Uri`
/// wants it (raw `[` and `{` are valid in a target, `"` is not).
fn nest(open: &str, close: &str, depth: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * depth + 16);
    s.push_str("%7B%22a%22:");
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push('1');
    for _ in 0..depth {
        s.push_str(close);
    }
    s.push('}');
    s
}

/// The deepest [`nest`] that fits in [`NEST_BYTES`]. A 100 000-level nest cannot be
/// sent at all: no target carries more than 65 534 bytes.
fn deepest(open: &str, close: &str) -> String {
    nest(open, close, NEST_BYTES / (open.len() + close.len()))
}

/// `(method, target, status, message)` of requests the emulator must reject.
fn rejected() -> Vec<(Method, String, u16, &'static str)> {
    let b = "/v2/presence/sub-key/ks-b";
    let a = "/v2/presence/sub-key/ks-a";
    let ra = "/v1/channel-registration/sub-key/ks-a";
    const PCT: &str = "Invalid percent-encoding";
    const UTF8: &str = "Invalid UTF-8";
    const JSON: &str = "Invalid JSON specified.";
    const HB: &str = "Invalid heartbeat";
    const NF: &str = "Not Found";
    const KEY: &str = "Invalid Subscribe Key";
    const UUID: &str = "Missing UUID";
    const NOCH: &str = "Missing channels or channel groups";
    const LIMIT: &str = "Invalid limit";
    const OFFSET: &str = "Invalid offset";
    const M405: &str = "Method Not Allowed";
    const SIG: &str = "Invalid signature";
    // Unbalanced: invalid JSON whatever the depth. (Balanced deep nests are valid JSON:
    // see `odd_requests_on_another_keyset_leave_it_alone`.)
    let deep_open = deepest("[", ""); // 64 800 levels, never closed
    let deep_obj_open = deepest("{%22a%22:", ""); // 7 200 levels, never closed
    let deep_mismatch = deepest("[", "}"); // 32 400 levels, closed with the wrong bracket
    let deep_encoded_open = deepest("%5B", ""); // 21 600 levels, never closed
    let g = Method::GET;
    let mut t: Vec<(Method, String, u16, &'static str)> = vec![
        // -- invalid percent-encoding, everywhere it can appear
        (g.clone(), format!("{b}/channel/%/heartbeat?uuid=u"), 400, PCT),
        (g.clone(), format!("{b}/channel/a%G1/heartbeat?uuid=u"), 400, PCT),
        (g.clone(), format!("{b}/channel/a%2/heartbeat?uuid=u"), 400, PCT),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=%G1"), 400, PCT),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u%"), 400, PCT),
        (g.clone(), format!("{b}/channel/a/heartbeat?%ZZ=1&uuid=u"), 400, PCT),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%"), 400, PCT),
        (g.clone(), format!("{b}/channel/,/heartbeat?uuid=u&channel-group=g%G"), 400, PCT),
        (g.clone(), "/v2/presence/sub-key/ks-%G1/channel/a/heartbeat?uuid=u".into(), 400, PCT),
        (g.clone(), format!("{a}/channel/lobby/leave?uuid=ann&x=%"), 400, PCT),
        (g.clone(), format!("{a}/channel/lobby%/leave?uuid=ann"), 400, PCT),
        (g.clone(), format!("{a}/uuid/%G1?uuid=probe"), 400, PCT),
        (g.clone(), format!("{ra}/channel-group/gA?remove=lobby%&uuid=u"), 400, PCT),
        (g.clone(), format!("{ra}/channel-group/g%A/remove?uuid=u"), 400, PCT),
        (g.clone(), "/v2/subscribe/ks-a/lobby%/0?uuid=u".into(), 400, PCT),
        // -- decoded bytes that are not UTF-8
        (g.clone(), format!("{b}/channel/%FF%FE/heartbeat?uuid=u"), 400, UTF8),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=%C3%28"), 400, UTF8),
        (g.clone(), format!("{b}/channel/%C0%AF/heartbeat?uuid=u"), 400, UTF8), // overlong '/'
        (g.clone(), format!("{b}/channel/%ED%A0%80/heartbeat?uuid=u"), 400, UTF8), // surrogate
        (g.clone(), format!("{b}/channel/%F4%90%80%80/heartbeat?uuid=u"), 400, UTF8), // > U+10FFFF
        (g.clone(), format!("{b}/channel/%E2%82/heartbeat?uuid=u"), 400, UTF8), // truncated
        (g.clone(), format!("{a}/channel/lobby/leave?uuid=%FF"), 400, UTF8),
        (g.clone(), format!("{a}/channel/lobby/uuid/%FE/data?uuid=u&state=%7B%7D"), 400, UTF8),
        (g.clone(), format!("{ra}/channel-group/%FF?add=x&uuid=u"), 400, UTF8),
        (g.clone(), "/v2/presence/sub-key/ks-a%FF/channel/lobby/leave?uuid=ann".into(), 400, UTF8),
        // -- state that is not a JSON object
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%7Bnot%20json"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%5B1%5D"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%22s%22"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=null"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=1"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state="), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%7Dx"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22a%22%3A1%2C%7D"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22a%22%3ANaN%7D"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22a%22%3A%22%01%22%7D"), 400, JSON),
        (g.clone(), format!("{a}/channel/lobby/uuid/ann/data?uuid=ann"), 400, JSON),
        (g.clone(), format!("{a}/channel/lobby/uuid/ann/data?uuid=ann&state=%5B%5D"), 400, JSON),
        (g.clone(), format!("{a}/channel/lobby/uuid/ann/data?uuid=ann&state=%7B"), 400, JSON),
        (g.clone(), format!("{a}/channel/lobby/heartbeat?uuid=ann&state=%7B%22lobby%22%3A"), 400, JSON),
        ("GET".parse().unwrap(), "/v2/subscribe/ks-a/lobby/0?uuid=ann&state=%5B".into(), 400, JSON),
        // -- valid JSON nested deeper than the emulator stores (33 levels up to the deepest
        //    balanced nests a target can carry): stored, they would make here now with
        //    states unreadable for recursion-limited readers such as serde_json.
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state={}", nest("[", "]", 32)), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state={}", nest("[", "]", 100)), 400, JSON),
        (g.clone(), format!("{b}/channel/deep/heartbeat?uuid=d1&state={}", deepest("{%22a%22:", "}")), 400, JSON),
        (g.clone(), format!("{b}/channel/deep/heartbeat?uuid=d2&state={}", deepest("[", "]")), 400, JSON),
        (g.clone(), format!("{b}/channel/deep/uuid/d3/data?uuid=d3&state={}", deepest("%5B", "%5D")), 400, JSON),
        (g.clone(), format!("/v2/subscribe/ks-b/deep/0?uuid=d4&state={}", deepest("[", "]")), 400, JSON),
        // -- the deepest nests a target can carry: an error, not a stack overflow
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state={deep_open}"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state={deep_obj_open}"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state={deep_mismatch}"), 400, JSON),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&state={deep_encoded_open}"), 400, JSON),
        (g.clone(), format!("{a}/channel/lobby/heartbeat?uuid=ann&state={deep_obj_open}"), 400, JSON),
        (g.clone(), format!("{a}/channel/lobby/uuid/ann/data?uuid=ann&state={deep_open}"), 400, JSON),
        (g.clone(), format!("/v2/subscribe/ks-a/lobby/0?uuid=ann&state={deep_mismatch}"), 400, JSON),
        // -- numbers out of range, negative, huge, malformed
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=19"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=86401"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=-20"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=4294967316"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=18446744073709551616"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=99999999999999999999999999999"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=3e1"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=30.0"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=+30"), 400, HB), // "+" is a space
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=0x20"), 400, HB),
        (g.clone(), format!("{b}/channel/a/heartbeat?uuid=u&heartbeat="), 400, HB),
        (g.clone(), format!("{a}/channel/lobby/heartbeat?uuid=ann&heartbeat=1"), 400, HB),
        (g.clone(), "/v2/subscribe/ks-a/lobby/0?uuid=ann&heartbeat=5".into(), 400, HB),
        (g.clone(), format!("{a}/channel/lobby?uuid=u&limit=1001"), 400, LIMIT),
        (g.clone(), format!("{a}/channel/lobby?uuid=u&limit=-1"), 400, LIMIT),
        (g.clone(), format!("{a}/channel/lobby?uuid=u&limit=99999999999999999999999"), 400, LIMIT),
        (g.clone(), format!("{a}/channel/lobby?uuid=u&limit=1e3"), 400, LIMIT),
        (g.clone(), format!("{a}?uuid=u&limit=abc"), 400, LIMIT),
        (g.clone(), format!("{a}?uuid=u&offset=-1"), 400, OFFSET),
        (g.clone(), format!("{a}?uuid=u&offset=9223372036854775808"), 400, OFFSET),
        (g.clone(), format!("{a}?uuid=u&offset=18446744073709551616"), 400, OFFSET),
        (g.clone(), format!("{a}/channel/lobby?uuid=u&offset="), 400, OFFSET),
        (g.clone(), "/v2/subscribe/ks-a/lobby/0?uuid=ann&tt=-1".into(), 400, "Invalid timetoken"),
        (g.clone(), "/v2/subscribe/ks-a/lobby/0?uuid=ann&tt=18446744073709551616".into(), 400, "Invalid timetoken"),
        (g.clone(), "/v2/subscribe/ks-a/lobby/0?uuid=ann&tt=1.5".into(), 400, "Invalid timetoken"),
        // -- empty segments and values
        (g.clone(), "/v2/presence/sub-key//channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/?uuid=u".into(), 400, KEY),
        (g.clone(), "/v2/subscribe//lobby/0?uuid=u".into(), 400, KEY),
        (g.clone(), format!("{b}/channel//heartbeat?uuid=u"), 400, NOCH),
        (g.clone(), format!("{a}/channel/,,,/leave?uuid=ann"), 400, NOCH),
        (g.clone(), format!("{a}/channel//leave?uuid=ann&channel-group="), 400, NOCH),
        (g.clone(), format!("{a}/channel/,/leave?uuid=ann&channel-group=,,"), 400, NOCH),
        (g.clone(), format!("{a}/channel//uuid/ann?uuid=u"), 400, NOCH),
        (g.clone(), format!("{a}/channel/,/uuid/ann/data?uuid=u&state=%7B%7D"), 400, NOCH),
        (g.clone(), format!("{a}/channel/lobby-pnpres/leave?uuid=ann"), 400, NOCH),
        (g.clone(), "/v2/subscribe/ks-a/,/0?uuid=u".into(), 400, NOCH),
        (g.clone(), format!("{a}/channel/lobby/uuid//data?uuid=u&state=%7B%7D"), 400, UUID),
        (g.clone(), format!("{a}/channel/lobby/leave?uuid="), 400, UUID),
        (g.clone(), format!("{a}/channel/lobby/leave?uuid"), 400, UUID),
        (g.clone(), format!("{a}/channel/lobby/leave?"), 400, UUID),
        (g.clone(), format!("{a}/channel/lobby/leave"), 400, UUID),
        (g.clone(), format!("{a}/channel/lobby/leave?UUID=ann"), 400, UUID),
        (g.clone(), format!("{ra}/channel-group/?add=x&uuid=u"), 400, "Missing channel group"),
        (g.clone(), format!("{ra}/channel-group//remove?uuid=u"), 400, "Missing channel group"),
        // -- duplicate keys: the first one counts
        (g.clone(), format!("{a}/channel/lobby/leave?uuid=&uuid=ann"), 400, UUID),
        (g.clone(), format!("{a}/channel/lobby/heartbeat?uuid=ann&heartbeat=5&heartbeat=60"), 400, HB),
        (g.clone(), format!("{a}/channel/lobby?uuid=u&limit=5000&limit=5"), 400, LIMIT),
        (g.clone(), format!("{a}/channel/lobby/uuid/ann/data?uuid=ann&state=%5B%5D&state=%7B%7D"), 400, JSON),
        // -- `..`, `.` and other path tricks: never normalized into another keyset
        (g.clone(), format!("{b}/../ks-a/channel/lobby/leave?uuid=ann"), 404, NF),
        (g.clone(), format!("{b}/channel/x/../../../ks-a/channel/lobby/leave?uuid=ann"), 404, NF),
        (g.clone(), format!("{a}/channel/lobby/leave/..?uuid=ann"), 404, NF),
        (g.clone(), format!("{a}/channel/lobby/./leave?uuid=ann"), 404, NF),
        (g.clone(), "/v2/presence/sub-key/..%2Fks-a/channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/ks-b%2F..%2Fks-a/channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/./channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/../channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "//v2/presence/sub-key/ks-a/channel/lobby/leave?uuid=ann".into(), 404, NF),
        (g.clone(), "/v2//presence/sub-key/ks-a/channel/lobby/leave?uuid=ann".into(), 404, NF),
        (g.clone(), format!("{a}/channel/lobby/leave/?uuid=ann"), 404, NF),
        (g.clone(), format!("{a}/?uuid=u"), 404, NF),
        // -- unknown routes
        (g.clone(), "/".into(), 404, NF),
        (g.clone(), "/v2/presence".into(), 404, NF),
        (g.clone(), "/v2/presence/sub-key".into(), 404, NF),
        (g.clone(), "/v3/presence/sub-key/ks-a?uuid=u".into(), 404, NF),
        (g.clone(), "/V2/PRESENCE/SUB-KEY/ks-a?uuid=u".into(), 404, NF),
        (g.clone(), "/v2/presence/subkey/ks-a?uuid=u".into(), 404, NF),
        (g.clone(), format!("{a}/channel/lobby/LEAVE?uuid=ann"), 404, NF),
        (g.clone(), format!("{a}/channel/lobby/heartbeat/x?uuid=ann"), 404, NF),
        (g.clone(), format!("{a}/channel/lobby/uuid/ann/data/x?uuid=ann&state=%7B%7D"), 404, NF),
        (g.clone(), format!("{ra}/channel-group/gA/remove/x?uuid=u"), 404, NF),
        (g.clone(), "/v2/subscribe/ks-a/lobby/1?uuid=u".into(), 404, NF),
        (g.clone(), "/v2/subscribe/ks-a/lobby?uuid=u".into(), 404, NF),
        (g.clone(), "/time".into(), 404, NF),
        (g.clone(), "/time/1".into(), 404, NF),
        (g.clone(), "/publish/pub/ks-a/0/lobby/0/%22x%22".into(), 404, NF),
        // -- methods other than GET/OPTIONS on ks-a's mutating paths
        (Method::POST, format!("{a}/channel/lobby/leave?uuid=ann"), 405, M405),
        (Method::PUT, format!("{a}/channel/lobby/uuid/ann/data?uuid=ann&state=%7B%7D"), 405, M405),
        (Method::DELETE, format!("{ra}/channel-group/gA/remove?uuid=u"), 405, M405),
        (Method::DELETE, format!("{ra}/channel-group/gA?uuid=u"), 405, M405),
        (Method::PATCH, format!("{a}/channel/lobby/heartbeat?uuid=x"), 405, M405),
        (Method::HEAD, format!("{a}/channel/lobby?uuid=x"), 405, M405),
        (Method::CONNECT, format!("{a}/channel/lobby/leave?uuid=ann"), 405, M405),
        ("get".parse().unwrap(), format!("{a}/channel/lobby/leave?uuid=ann"), 405, M405),
        ("X-LEAVE".parse().unwrap(), format!("{a}/channel/lobby/leave?uuid=ann"), 405, M405),
        // -- keys that are almost ks-a
        (g.clone(), "/v2/presence/sub-key/KS-A/channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/ks-a%20/channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/ks-a%00/channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/ks-a+/channel/lobby/leave?uuid=ann".into(), 400, KEY),
        (g.clone(), "/v2/presence/sub-key/%EF%BD%8Bs-a/channel/lobby/leave?uuid=ann".into(), 400, KEY), // fullwidth k
        (g.clone(), "/v2/presence/sub-key/%6Bs-a/channel/lobby/leave?uuid=".into(), 400, UUID),
        (g.clone(), "/v1/channel-registration/sub-key/ks-c/channel-group/gA/remove?uuid=u".into(), 400, KEY),
        // -- access control and signing on the other keysets
        (g.clone(), "/v2/presence/sub-key/ks-pam/channel/c/heartbeat?uuid=u".into(), 403, "Forbidden"),
        (g.clone(), "/v2/presence/sub-key/ks-pam/channel/c,lobby/heartbeat?uuid=u&auth=tok".into(), 403, "Forbidden"),
        (g.clone(), "/v2/presence/sub-key/ks-pam/channel/c/heartbeat?uuid=u&auth=tok&channel-group=gA".into(), 403, "Forbidden"),
        (g.clone(), "/v2/presence/sub-key/ks-pam/channel/c/heartbeat?uuid=u&auth=&auth=tok".into(), 403, "Forbidden"),
        (g.clone(), "/v2/presence/sub-key/ks-signed/channel/lobby/heartbeat?uuid=u".into(), 403, SIG),
        (g.clone(), "/v2/presence/sub-key/ks-signed/channel/lobby/heartbeat?uuid=u&timestamp=1700000000&signature=v2.AAAA".into(), 403, SIG),
        (g.clone(), "/v2/presence/sub-key/ks-signed/channel/lobby/heartbeat?uuid=u&timestamp=99999999999999999999999&signature=v2.x".into(), 403, SIG),
        (g.clone(), "/v2/presence/sub-key/ks-signed/channel/lobby/heartbeat?uuid=u&timestamp=-1&signature=v2.x".into(), 403, SIG),
        (g.clone(), "/v2/presence/sub-key/ks-signed/channel/lobby/heartbeat?uuid=u&timestamp=1700000000&signature=".into(), 403, SIG),
        (g.clone(), "/v2/presence/sub-key/ks-signed/channel/lobby/heartbeat?uuid=u&timestamp=1700000000&signature=%FF".into(), 400, UTF8),
    ];
    // Longer than the limit: 414 before anything is parsed.
    let leave = format!("{a}/channel/lobby/leave?uuid=ann");
    t.push((
        g.clone(),
        format!("{leave}&pad={}", "x".repeat(MAX_URL + 1 - leave.len() - 5)),
        414,
        "Request-URI Too Long",
    ));
    t.push((
        g,
        format!(
            "{a}/channel/{}/leave?uuid=ann",
            "lobby,".repeat(MAX_URL / 6)
        ),
        414,
        "Request-URI Too Long",
    ));
    t
}

#[test]
fn rejected_requests_change_nothing_anywhere() {
    let mut m = Model::new(keysets(ModelConfig::new().max_url_len(MAX_URL)));
    populate(&mut m, T0);
    let snap = snapshot_a(&mut m, T0);
    let debug = format!("{m:?}");
    let events = m.events_generated();
    let table = rejected();
    for (method, target, status, message) in &table {
        let r = m.handle(T0, &req(method, target));
        assert_eq!(
            r.status().as_u16(),
            *status,
            "{method} {target:.300}: {:.300}",
            text(&r)
        );
        assert_eq!(
            error_message(target, &r),
            *message,
            "{method} {target:.300}"
        );
        if format!("{m:?}") != debug {
            panic!("{method} {target:.300} changed the model");
        }
    }
    assert_eq!(m.events_generated(), events);
    assert_eq!(snapshot_a(&mut m, T0), snap);
    println!("{} rejected requests, model unchanged", table.len());
}

/// Odd but valid requests on `ks-b`: answered (any status but 5xx, JSON error bodies),
/// and `ks-a` is unchanged.
#[test]
fn odd_requests_on_another_keyset_leave_it_alone() {
    let b = "/v2/presence/sub-key/ks-b";
    let rb = "/v1/channel-registration/sub-key/ks-b";
    let cases: Vec<String> = vec![
        // Channels and users named like ks-a's paths, groups and users.
        format!("{b}/channel/..%2F..%2Fks-a%2Fchannel%2Flobby/heartbeat?uuid=ann&heartbeat=60"),
        format!("{b}/channel/lobby,room/heartbeat?uuid=ann&heartbeat=60&state=%7B%22mood%22%3A%22evil%22%7D"),
        format!("{b}/channel/lobby/uuid/bob/data?uuid=bob&state=%7B%22stolen%22%3Atrue%7D"),
        format!("{b}/channel/,/heartbeat?uuid=ann&channel-group=gA"),
        format!("{b}/channel/lobby/leave?uuid=bob"),
        format!("{b}/channel/,/leave?uuid=ann&channel-group=gA"),
        format!("{rb}/channel-group/gA?add=lobby,room&uuid=u"),
        format!("{rb}/channel-group/gA?remove=lobby&uuid=u"),
        format!("{rb}/channel-group/gA/remove?uuid=u"),
        format!("{rb}/channel-group/ks-a?add=%2Fv2%2Fpresence%2Fsub-key%2Fks-a&uuid=u"),
        "/v2/subscribe/ks-b/lobby,lobby-pnpres/0?uuid=cy&heartbeat=60".into(),
        "/v2/subscribe/ks-b/lobby-pnpres/0?uuid=cy&tt=1".into(),
        format!("{b}/uuid/ann?uuid=ann"),
        format!("{b}?uuid=u&state=1"),
        // NUL and control characters, percent-encoded (raw ones never parse as a URI).
        format!("{b}/channel/%00/heartbeat?uuid=%00"),
        format!("{b}/channel/a%00b/uuid/%00/data?uuid=u&state=%7B%22%5Cu0000%22%3A%22%5Cu0000%22%7D"),
        format!("{b}/channel/%0D%0AX-Injected%3A%201/heartbeat?uuid=u%0D%0A"),
        // Unicode edge cases.
        format!("{b}/channel/%F0%9F%98%80,%EF%BB%BF,%E2%80%AE,%E2%80%8D,%EF%BF%BF,%F4%8F%BF%BF/heartbeat?uuid=%F0%9F%98%80"),
        format!("{b}/channel/e%CC%81,%C3%A9/heartbeat?uuid=%CC%81"),
        format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22s%22%3A%22%5Cud83d%5Cude00%22%7D"),
        format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22s%22%3A%22%5Cud800%22%7D"),
        format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22a%22%3A1%2C%22a%22%3A2%7D"),
        format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22n%22%3A1e999999%7D"),
        format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22n%22%3A-0.0000000000000000000001%7D"),
        format!("{b}/channel/a/heartbeat?uuid=u&state=%7B%22n%22%3A123456789012345678901234567890%7D"),
        // A nest as deep as the emulator stores (MAX_STATE_DEPTH = 32, the whole `state`
        // parameter counted); deeper ones are rejected (see the table above).
        format!("{b}/channel/deep/heartbeat?uuid=d0&state={}", nest("[", "]", 31)),
        // Extreme but valid numbers.
        format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=86400"),
        format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=20"),
        format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=0"),
        format!("{b}/channel/a/heartbeat?uuid=u&heartbeat=00000000000000000000030"),
        format!("{b}/channel/a?uuid=u&limit=1000&offset=9223372036854775807"),
        format!("{b}/channel/a?uuid=u&limit=0&offset=0"),
        format!("{b}/channel/a,b?uuid=u&limit=1&offset=1&state=1&disable_uuids=0"),
        "/v2/subscribe/ks-b/a-pnpres/0?uuid=u&tt=18446744073709551615".into(),
        // Duplicate keys: first wins, and the rest is ignored.
        format!("{b}/channel/a/heartbeat?uuid=dup&uuid=ann&heartbeat=60&heartbeat=5"),
        // Many channels, long names (under the URL limit).
        format!("{b}/channel/{}/heartbeat?uuid=many", (0..2000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",")),
        format!("{b}/channel/{}/heartbeat?uuid=long", "n".repeat(60_000)),
        format!("{b}/channel/a/heartbeat?uuid={}", "u".repeat(60_000)),
        // Raw (unescaped) UTF-8 in the path and the query.
        format!("{b}/channel/é,😀/heartbeat?uuid=ü&state={{%22k%22:%22ß%22}}"),
        // Unknown parameters.
        format!("{b}/channel/a/heartbeat?uuid=u&pnsdk=%F0%9F%98%80&requestid=&ee&l_hb=-1&&&=&=x"),
    ];
    let mut m = Model::new(keysets(ModelConfig::new().max_url_len(MAX_URL)));
    populate(&mut m, T0);
    let snap = snapshot_a(&mut m, T0);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for target in &cases {
        let r = get(&mut m, T0, target);
        let status = r.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        assert!(status < 500, "{target:.300}: {status} {:.300}", text(&r));
        // Syntax only: a set state echoes a deep nest back.
        let v: Result<IgnoredAny, _> = serde_json::from_slice(r.body());
        assert!(v.is_ok(), "{target:.300}: {:.300}", text(&r));
        if status >= 400 {
            error_message(target, &r);
        }
    }
    // ks-b still answers, deep states included, with well-formed JSON.
    for target in [
        "/v2/presence/sub-key/ks-b?uuid=u&state=1",
        "/v2/presence/sub-key/ks-b/channel/deep?uuid=u&state=1",
        "/v2/subscribe/ks-b/deep-pnpres/0?uuid=u&tt=1",
    ] {
        let r = get(&mut m, T0, target);
        assert_eq!(r.status(), 200, "{target}");
        let v: Result<IgnoredAny, _> = serde_json::from_slice(r.body());
        assert!(v.is_ok(), "{target}: {:.300}", text(&r));
    }
    // The deepest stored state stays readable by our own SDK.
    let deep = get(
        &mut m,
        T0,
        "/v2/presence/sub-key/ks-b/channel/deep?uuid=u&state=1",
    );
    let here = presence_core::HereNow::new()
        .channels(["deep"])
        .include_state(true)
        .parse_response(&deep)
        .expect("presence-core reads the deepest stored state");
    assert_eq!(here.channels[0].occupants[0].user_id, "d0");
    assert_eq!(snapshot_a(&mut m, T0), snap);
    // ks-b did change: the requests above were real.
    assert!(m.occupancy("ks-b", "lobby") >= 1);
    println!(
        "{} odd requests on ks-b, statuses {statuses:?}",
        cases.len()
    );
}

// ---- the fuzz corpus --------------------------------------------------------------------

fn fuzz_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(sub)
}

/// Replays one fuzz input the way the `emulator` fuzz target reads it (lines, optional
/// method prefix, request i at T0 + i s) against a model that also serves `ks-a`.
/// Returns (requests handled, lines skipped because they are not a URI, whether `ks-a`
/// was checked: it is unless the input names it).
fn replay(data: &[u8], name: &str) -> (usize, usize, bool) {
    let mut m = Model::new(keysets(
        ModelConfig::new()
            .keyset(Keyset::new("sk"))
            .keyset(Keyset::new("pam").grant("tok", ["ch"], ["g"]))
            .keyset(Keyset::new("signed").publish_key("pub").secret_key("sec"))
            .keyset(Keyset::new("sentinel")),
    ));
    populate(&mut m, T0);
    let snap = snapshot_a(&mut m, T0);
    let (mut handled, mut skipped) = (0, 0);
    let mut now = T0;
    let mut names_a = false;
    for line in data.split(|b| *b == b'\n').take(16) {
        now += Duration::from_secs(1);
        let (method, target) = if let Some(rest) = line.strip_prefix(b"POST ") {
            (Method::POST, rest)
        } else if let Some(rest) = line.strip_prefix(b"OPTIONS ") {
            (Method::OPTIONS, rest)
        } else if let Some(rest) = line.strip_prefix(b"DELETE ") {
            (Method::DELETE, rest)
        } else {
            (Method::GET, line)
        };
        names_a |= decoded_lower(target).contains("ks-a");
        let Ok(uri) = Uri::try_from(target) else {
            skipped += 1;
            continue;
        };
        let r = m.handle(
            now,
            &Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(())
                .unwrap(),
        );
        handled += 1;
        let what = format!("{name}: {method} {}", String::from_utf8_lossy(target));
        if method == Method::OPTIONS {
            assert_eq!(r.status(), 200, "{what}");
            continue;
        }
        let v: Result<Value, _> = serde_json::from_slice(r.body());
        assert!(v.is_ok(), "{what}: {:.300}", text(&r));
        assert!(r.status().as_u16() < 500, "{what}: {}", text(&r));
        if !r.status().is_success() {
            error_message(&what, &r);
        }
    }
    // Seeds never name ks-a; a generated input might (possibly %-escaped).
    if !names_a {
        assert_eq!(snapshot_a(&mut m, now), snap, "{name} changed ks-a");
    }
    (handled, skipped, !names_a)
}

/// Percent-decoded (`+` as space), lower-cased, lossily: to tell whether a target names
/// `ks-a` in any spelling the emulator would decode to it.
fn decoded_lower(raw: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if raw[i] == b'+' { b' ' } else { raw[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).to_lowercase()
}

/// Replays every file of `dir`: `None` when it does not exist, else (files, requests,
/// non-URI lines, files after which `ks-a` was compared).
fn replay_dir(dir: &Path) -> Option<(usize, usize, usize, usize)> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let (mut n, mut handled, mut skipped, mut checked) = (0, 0, 0, 0);
    for f in files.iter().filter(|f| f.is_file()) {
        let data = std::fs::read(f).unwrap();
        let (h, s, c) = replay(&data, &f.display().to_string());
        n += 1;
        handled += h;
        skipped += s;
        checked += usize::from(c);
    }
    Some((n, handled, skipped, checked))
}

#[test]
fn fuzz_seeds_replay_without_harm() {
    let seeds = fuzz_dir("seeds/emulator");
    match replay_dir(&seeds) {
        Some((files, handled, skipped, checked)) => {
            println!(
                "{files} seed files from {}: {handled} requests, {skipped} non-URI lines, \
                 ks-a compared after {checked}",
                seeds.display()
            );
            assert!(files > 0, "{} is empty", seeds.display());
            assert_eq!(checked, files, "a seed names ks-a");
        }
        None => println!("no {}: skipped", seeds.display()),
    }
    // The generated corpus and crash artifacts are not in git; replay them on request.
    if std::env::var_os("PRESENCE_REPLAY_CORPUS").is_some() {
        for sub in ["corpus/emulator", "artifacts/emulator"] {
            let dir = fuzz_dir(sub);
            if let Some((files, handled, skipped, checked)) = replay_dir(&dir) {
                println!(
                    "{files} files from {}: {handled} requests, {skipped} non-URI lines, \
                     ks-a compared after {checked}",
                    dir.display()
                );
            }
        }
    }
}

// ---- raw malformed HTTP over a socket ---------------------------------------------------

/// What the server did with a raw request: the bytes it sent until it closed (or until
/// the guard ran out, `closed` false).
struct Outcome {
    sent: Vec<u8>,
    closed: bool,
}

impl Outcome {
    fn status(&self) -> Option<u16> {
        let text = String::from_utf8_lossy(&self.sent);
        text.strip_prefix("HTTP/1.")
            .and_then(|r| r.get(2..5))
            .and_then(|s| s.parse().ok())
    }

    fn body(&self) -> &[u8] {
        let i = self
            .sent
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(self.sent.len(), |i| i + 4);
        &self.sent[i..]
    }
}

async fn raw(addr: std::net::SocketAddr, bytes: &[u8], half_close: bool) -> Outcome {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may close before reading everything (a reset is fine).
    let _ = s.write_all(bytes).await;
    if half_close {
        let _ = s.shutdown().await;
    }
    let mut sent = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => sent.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    Outcome {
        sent,
        closed: read.is_ok(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http_gets_an_error_or_a_close_and_the_server_keeps_serving() {
    let emu = Emulator::start(
        EmulatorConfig::new()
            .with_model(keysets(ModelConfig::new()))
            .paused_clock(T0)
            .header_read_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap();
    let addr = emu.local_addr();
    emu.with_model(|m| populate(m, T0));
    let snap = emu.with_model(|m| snapshot_a(m, T0));
    let debug = emu.with_model(|m| format!("{m:?}"));
    let here = "/v2/presence/sub-key/ks-a/channel/lobby?uuid=probe";
    let leave = "/v2/presence/sub-key/ks-a/channel/lobby/leave?uuid=ann";
    let long = |n: usize| format!("{here}&pad={}", "x".repeat(n));

    // (name, request bytes, half-close after sending, expected statuses; empty = a close
    // without any response is the only acceptable outcome).
    let big_header = format!(
        "GET {here} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "y".repeat(600 * 1024)
    );
    let many_headers = format!(
        "GET {here} HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>, bool, &[u16])> = vec![
        ("garbage request line", b"GARBAGE\r\n\r\n".to_vec(), false, &[400]),
        ("binary noise", vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0xff, 0xfe, b'\r', b'\n', b'\r', b'\n'], false, &[400]),
        ("TLS client hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(), true, &[400]),
        ("unknown version", format!("GET {leave} HTTP/9.9\r\nHost: x\r\n\r\n").into_bytes(), false, &[400, 505]),
        ("no version (HTTP/0.9)", format!("GET {leave}\r\n\r\n").into_bytes(), false, &[400]),
        ("NUL in the target", format!("GET {leave}\0 HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(), false, &[400]),
        ("raw non-UTF-8 bytes in the target", [b"GET /v2/presence/sub-key/ks-a/channel/\xff\xfe/leave?uuid=ann HTTP/1.1\r\nHost: x\r\n\r\n".as_slice()].concat(), false, &[400]),
        ("space in the target", b"GET /v2/presence/sub-key/ks-a/channel/lob by/leave?uuid=ann HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), false, &[400]),
        ("CR inside the request line", format!("GET {leave}\r HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(), false, &[400]),
        ("header without colon", format!("GET {leave} HTTP/1.1\r\nHost x\r\n\r\n").into_bytes(), false, &[400]),
        ("header name with space", format!("GET {leave} HTTP/1.1\r\nHo st: x\r\n\r\n").into_bytes(), false, &[400]),
        ("NUL in a header value", format!("GET {leave} HTTP/1.1\r\nHost: x\0y\r\n\r\n").into_bytes(), false, &[400]),
        ("obs-fold header", format!("GET {leave} HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n").into_bytes(), false, &[400]),
        ("two content-lengths", format!("GET {leave} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").into_bytes(), false, &[400]),
        ("negative content-length", format!("GET {leave} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n").into_bytes(), false, &[400]),
        ("huge content-length", format!("GET {leave} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n").into_bytes(), false, &[400]),
        ("unknown transfer-encoding", format!("GET {leave} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, zip\r\n\r\n").into_bytes(), false, &[400, 501]),
        ("header over 400 KiB", big_header.into_bytes(), false, &[431]),
        ("200 headers", many_headers.into_bytes(), false, &[431]),
        ("target over hyper's URI limit", format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", long(70_000)).into_bytes(), false, &[414]),
        ("half a request line, then EOF", b"GET /v2/presence/sub-key/ks-a/chan".to_vec(), true, &[400]),
        ("headers cut short, then EOF", format!("GET {leave} HTTP/1.1\r\nHost: x\r\n").into_bytes(), true, &[400]),
    ];
    // The HTTP/2 preface alone starts an h2c connection: the server's SETTINGS frame
    // (type 4 in the frame header's fourth byte), then, with nothing more from the
    // client, a close at the idle limit.
    let h2 = raw(addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false).await;
    assert!(h2.closed, "HTTP/2 preface: still open after 10 s");
    assert_eq!(h2.sent.get(3), Some(&4), "HTTP/2 preface: {:?}", h2.sent);
    let mut observed = Vec::new();
    for (name, bytes, half_close, allowed) in &cases {
        let o = raw(addr, bytes, *half_close).await;
        assert!(
            o.closed,
            "{name}: connection still open after 10 s: {:?}",
            String::from_utf8_lossy(&o.sent)
        );
        let status = o.status();
        match status {
            None => assert!(
                o.sent.is_empty(),
                "{name}: not HTTP: {:?}",
                String::from_utf8_lossy(&o.sent)
            ),
            Some(s) => {
                assert!(
                    allowed.contains(&s),
                    "{name}: status {s}, expected one of {allowed:?}: {:?}",
                    String::from_utf8_lossy(&o.sent)
                );
                // What hyper refuses itself comes back in the emulator's JSON shape too.
                let v: Value = serde_json::from_slice(o.body()).unwrap_or_else(|e| {
                    panic!(
                        "{name}: not a JSON body ({e}): {:?}",
                        String::from_utf8_lossy(&o.sent)
                    )
                });
                assert_eq!(v["status"], s, "{name}");
                assert_eq!(v["error"], true, "{name}");
                assert!(v["message"].is_string(), "{name}");
                let head = String::from_utf8_lossy(&o.sent).to_ascii_lowercase();
                assert!(
                    head.contains("content-type: text/javascript"),
                    "{name}: {head}"
                );
            }
        }
        observed.push(format!(
            "{name}: {}",
            status.map_or("closed".into(), |s| s.to_string())
        ));
        // The server keeps serving.
        let ok = raw(
            addr,
            format!("GET {here} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            false,
        )
        .await;
        assert_eq!(
            ok.status(),
            Some(200),
            "after {name}: {:?}",
            String::from_utf8_lossy(&ok.sent)
        );
    }

    // Requests that are odd but well-formed enough to reach the emulator get its answer.
    let ok_json = |o: &Outcome, status: u16, what: &str| {
        assert_eq!(
            o.status(),
            Some(status),
            "{what}: {:?}",
            String::from_utf8_lossy(&o.sent)
        );
        let v: Value = serde_json::from_slice(o.body()).unwrap_or_else(|e| panic!("{what}: {e}"));
        if status != 200 {
            assert_eq!(v["status"], status, "{what}");
            assert!(v["message"].is_string(), "{what}");
        }
    };
    let o = raw(
        addr,
        format!("GET {here} HTTP/1.1\r\nConnection: close\r\n\r\n").as_bytes(),
        false,
    )
    .await;
    ok_json(&o, 200, "no Host header (hyper does not require one)");
    let o = raw(
        addr,
        format!("GET {here} HTTP/1.0\r\n\r\n").as_bytes(),
        false,
    )
    .await;
    ok_json(&o, 200, "HTTP/1.0 without Host");
    let o = raw(
        addr,
        format!("GET {here} HTTP/1.1\nHost: x\nConnection: close\n\n").as_bytes(),
        false,
    )
    .await;
    ok_json(&o, 200, "bare LF line endings");
    let o = raw(
        addr,
        format!("get {leave} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        false,
    )
    .await;
    ok_json(&o, 405, "lower-case method");
    let o = raw(
        addr,
        format!("DELETE {leave} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        false,
    )
    .await;
    ok_json(&o, 405, "DELETE");
    let o = raw(
        addr,
        format!(
            "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            long(40_000)
        )
        .as_bytes(),
        false,
    )
    .await;
    ok_json(&o, 414, "40 KB target (over the emulator's 32 KiB)");
    let o = raw(
        addr,
        format!("GET {leave}%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        false,
    )
    .await;
    ok_json(&o, 400, "bad escape");
    // A body on a GET is never read: the answer comes, then the bad chunk ends the
    // connection.
    let o = raw(
        addr,
        format!("GET {here} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            .as_bytes(),
        false,
    )
    .await;
    assert!(o.closed);
    assert!(
        matches!(o.status(), Some(200 | 400) | None),
        "{:?}",
        String::from_utf8_lossy(&o.sent)
    );
    // Pipelined: a good request, then garbage: the first is answered, then a 400 or close.
    let o = raw(
        addr,
        format!("GET {here} HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n").as_bytes(),
        false,
    )
    .await;
    assert!(o.closed);
    assert_eq!(
        o.status(),
        Some(200),
        "{:?}",
        String::from_utf8_lossy(&o.sent)
    );

    // Nothing above changed the model, and ks-a reads as before.
    assert_eq!(emu.with_model(|m| format!("{m:?}")), debug);
    assert_eq!(emu.with_model(|m| snapshot_a(m, T0)), snap);
    println!("raw HTTP outcomes:\n  {}", observed.join("\n  "));
    emu.shutdown().await;
}
