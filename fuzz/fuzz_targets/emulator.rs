//! The emulator's pure request handling, `presence_emulator::Model::handle`.
//!
//! Input: request targets (path + query, raw bytes) separated by `\n`, at most 16; a
//! line may start with `POST `, `OPTIONS ` or `DELETE ` to use that method (default
//! `GET`). Lines `http::Uri` rejects are skipped (a real server never gets that far).
//! Request *i* is handled at `T0 + i` seconds, so a heartbeat then a here now on the
//! same channel exercise state. The model serves four keysets: `sk` (open), `pam`
//! (token `tok` granted channel `ch` and group `g`), `signed` (secret key, every request
//! must be signed) and `sentinel`, where user `keeper` is on `lobby` with state.
//!
//! Checked:
//! - `handle` never panics (its documented contract), every response but `OPTIONS` has
//!   a JSON body and a `javascript` content type;
//! - every non-2xx response is read by presence-core as `Error::Service` with the same
//!   status (the emulator's error bodies are ones real clients understand);
//! - requests whose target never names `sentinel` (even percent-encoded) do not change
//!   the `sentinel` keyset: `keeper` is still on `lobby` with the same state;
//! - after `handle_timeout(t)`, `poll_timeout()` is `None` or later than `t`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::{Error, Leave, Operation};
use presence_emulator::http::{Method, Request, Response, Uri};
use presence_emulator::{Keyset, Model, ModelConfig};
use std::time::Duration;

const T0: Duration = Duration::from_secs(1_700_000_000);
const SENTINEL_STATE: &str = "/v2/presence/sub-key/sentinel/channel/lobby/uuid/keeper?uuid=probe";

fn get(model: &mut Model, now: Duration, target: &str) -> Response<Vec<u8>> {
    let req = Request::get(target).body(()).expect("static target");
    model.handle(now, &req)
}

/// Percent-decodes (and maps `+` to space), lower-cased, lossily.
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

fn check_response(method: &Method, resp: &Response<Vec<u8>>) {
    if method == Method::OPTIONS {
        return;
    }
    assert!(
        serde_json::from_slice::<serde_json::Value>(resp.body()).is_ok(),
        "non-JSON body {:?}",
        String::from_utf8_lossy(resp.body())
    );
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.contains("javascript") || ct.contains("json"), "{ct:?}");
    if !resp.status().is_success() {
        let as_ref = resp.map_ref();
        match Leave::new().channels(["x"]).parse_response(&as_ref) {
            Err(Error::Service(e)) => assert_eq!(e.http_status, resp.status().as_u16()),
            other => panic!(
                "emulator error {} {:?} read by the core as {other:?}",
                resp.status(),
                String::from_utf8_lossy(resp.body())
            ),
        }
    }
}

trait MapRef {
    fn map_ref(&self) -> Response<&[u8]>;
}

impl MapRef for Response<Vec<u8>> {
    fn map_ref(&self) -> Response<&[u8]> {
        let mut r = Response::new(self.body().as_slice());
        *r.status_mut() = self.status();
        *r.headers_mut() = self.headers().clone();
        r
    }
}

/// `PRESENCE_FUZZ_VERBOSE=1` prints every request and response (to inspect seeds:
/// `PRESENCE_FUZZ_VERBOSE=1 cargo fuzz run -s none emulator fuzz/seeds/emulator/pam.all`).
fn verbose() -> bool {
    static V: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *V.get_or_init(|| std::env::var_os("PRESENCE_FUZZ_VERBOSE").is_some())
}

fuzz_target!(|data: &[u8]| {
    let mut model = Model::new(
        ModelConfig::new()
            .keyset(Keyset::new("sk"))
            .keyset(Keyset::new("pam").grant("tok", ["ch"], ["g"]))
            .keyset(Keyset::new("signed").publish_key("pub").secret_key("sec"))
            .keyset(Keyset::new("sentinel")),
    );
    let set = get(
        &mut model,
        T0,
        "/v2/presence/sub-key/sentinel/channel/lobby/uuid/keeper/data?uuid=keeper&state=%7B%22k%22%3A1%7D",
    );
    assert_eq!(set.status(), 200);
    let hb = get(
        &mut model,
        T0,
        "/v2/presence/sub-key/sentinel/channel/lobby/heartbeat?uuid=keeper&heartbeat=86400",
    );
    assert_eq!(hb.status(), 200);
    let sentinel_state = get(&mut model, T0, SENTINEL_STATE).into_body();

    let mut touched_sentinel = false;
    let mut now = T0;
    for line in data.split(|b| *b == b'\n').take(16) {
        now += Duration::from_secs(1);
        touched_sentinel |= decoded_lower(line).contains("sentinel");
        let (method, target) = if let Some(rest) = line.strip_prefix(b"POST ") {
            (Method::POST, rest)
        } else if let Some(rest) = line.strip_prefix(b"OPTIONS ") {
            (Method::OPTIONS, rest)
        } else if let Some(rest) = line.strip_prefix(b"DELETE ") {
            (Method::DELETE, rest)
        } else {
            (Method::GET, line)
        };
        let Ok(uri) = Uri::try_from(target) else {
            continue;
        };
        let Ok(req) = Request::builder().method(method.clone()).uri(uri).body(()) else {
            continue;
        };
        let resp = model.handle(now, &req);
        if verbose() {
            eprintln!(
                "{method} {} -> {} {}",
                String::from_utf8_lossy(target),
                resp.status().as_u16(),
                String::from_utf8_lossy(resp.body())
            );
        }
        check_response(&method, &resp);
    }

    now += Duration::from_secs(400);
    model.handle_timeout(now);
    if let Some(next) = model.poll_timeout() {
        assert!(
            next > now,
            "poll_timeout {next:?} not after handle_timeout({now:?})"
        );
    }
    if !touched_sentinel {
        assert_eq!(model.occupancy("sentinel", "lobby"), 1);
        let after = get(&mut model, now, SENTINEL_STATE).into_body();
        assert_eq!(
            String::from_utf8_lossy(&after),
            String::from_utf8_lossy(&sentinel_state),
            "a request not naming `sentinel` changed its state"
        );
    }
});
