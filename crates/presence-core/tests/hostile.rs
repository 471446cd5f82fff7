//! Hostile-input tables for every public parser: the `parse_response` of each operation
//! (and so the central classifier of `response.rs`) and
//! `presence_event::parse_payload`.
//!
//! Each case names the exact outcome: `Ok`, `Error::MalformedResponse`,
//! `Error::Service` with its status, or `Error::UnexpectedStatus` with its status. Every
//! error must also keep the raw body byte for byte. A table reports all failing cases
//! at once.
//!
//! Cases that show a bug in `src/` are separate tests marked `#[ignore = "bug: …"]`
//! (run them with `cargo test -p presence-core --test hostile -- --ignored`); once the
//! bug is fixed they lose the `ignore` and stay as regression tests.

use presence_core::http;
use presence_core::{
    Error, GetState, Heartbeat, HereNow, Leave, Operation, PresenceEvent, SetState, Subscribe,
    WhereNow,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Machinery

/// The outcome a case must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    /// `Error::MalformedResponse` with the parser's own `expected`.
    Malformed,
    /// `Error::MalformedResponse` with `expected: "service error body"`: the typed parse
    /// saw an error flag but the body cannot be read as a service error.
    MalformedFlagged,
    /// `Error::Service` whose `status` is this.
    Service(u16),
    /// `Error::UnexpectedStatus` with this status.
    Unexpected(u16),
}
use Expect::{Malformed, MalformedFlagged, Service, Unexpected};

struct Case {
    name: String,
    status: u16,
    body: Vec<u8>,
    expect: Expect,
}

fn case(name: impl Into<String>, status: u16, body: impl AsRef<[u8]>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        status,
        body: body.as_ref().to_vec(),
        expect,
    }
}

type ParseFn = fn(&http::Response<Vec<u8>>) -> Result<(), Error>;

/// One parser under test.
struct Parser {
    name: &'static str,
    /// `MalformedResponse::expected` this parser reports.
    expected: &'static str,
    /// A valid 200 body.
    valid: &'static str,
    parse: ParseFn,
}

fn response(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.to_vec())
        .expect("valid status")
}

/// Why `result` does not match `expect`, if it does not.
fn mismatch(
    parser: &Parser,
    body: &[u8],
    result: &Result<(), Error>,
    expect: Expect,
) -> Option<String> {
    let got = match result {
        Ok(()) => Expect::Ok,
        Err(Error::MalformedResponse {
            expected,
            body: raw,
            ..
        }) => {
            if raw.as_bytes() != body {
                return Some("malformed, but the raw body was not kept".into());
            }
            if *expected == parser.expected {
                Malformed
            } else if *expected == "service error body" {
                MalformedFlagged
            } else {
                return Some(format!("malformed, but `expected` is {expected:?}"));
            }
        }
        Err(Error::Service(e)) => {
            if e.body.as_bytes() != body {
                return Some("service error, but the raw body was not kept".into());
            }
            Service(e.status)
        }
        Err(Error::UnexpectedStatus { status, body: raw }) => {
            if raw.as_bytes() != body {
                return Some("unexpected status, but the raw body was not kept".into());
            }
            Unexpected(*status)
        }
        Err(other) => return Some(format!("got {} ({other})", other.kind())),
    };
    if got == expect {
        // Display and Debug never panic, and Debug stays short (the body is truncated).
        if let Err(e) = result {
            let _ = e.to_string();
            let debug = format!("{e:?}");
            assert!(
                debug.len() < 4096,
                "Debug of an error is {} bytes",
                debug.len()
            );
        }
        None
    } else {
        Some(format!("expected {expect:?}, got {got:?} ({result:?})"))
    }
}

fn run_table(parser: &Parser, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in &cases {
        let result = (parser.parse)(&response(c.status, &c.body));
        if let Some(why) = mismatch(parser, &c.body, &result, c.expect) {
            let shown = String::from_utf8_lossy(&c.body[..c.body.len().min(160)]).into_owned();
            failures.push(format!(
                "  [{}] {} (HTTP {}, body {shown:?}): {why}",
                parser.name, c.name, c.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Replaces the first occurrence of `from` in the parser's valid body.
fn patch(valid: &str, from: &str, to: &str) -> String {
    assert!(valid.contains(from), "{from:?} not in {valid:?}");
    valid.replacen(from, to, 1)
}

/// `[[[[…]]]]`, `depth` levels.
fn nested_arrays(depth: usize) -> String {
    let mut s = String::with_capacity(depth * 2);
    s.extend(std::iter::repeat_n('[', depth));
    s.extend(std::iter::repeat_n(']', depth));
    s
}

/// `{"a":{"a":…1…}}`, `depth` levels.
fn nested_objects(depth: usize) -> String {
    let mut s = String::with_capacity(depth * 6 + 1);
    for _ in 0..depth {
        s.push_str(r#"{"a":"#);
    }
    s.push('1');
    s.extend(std::iter::repeat_n('}', depth));
    s
}

/// gzip of `{"status": 200, "message": "OK", "service": "Presence"}` (made with Python's
/// `gzip.compress(body, mtime=0)`): what a client that forgot to decompress would see.
const GZIP_OK_BODY: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x56\x2a\x2e\x49\x2c\x29\x2d\x56\xb2\x52\x30\x32\x30\xd0\x51\x50\xca\x4d\x2d\x2e\x4e\x4c\x4f\x05\xf2\x95\xfc\xbd\x95\x80\x02\xc5\xa9\x45\x65\x99\xc9\x60\x81\x80\xa2\xd4\xe2\xd4\x3c\x20\xbb\x16\x00\x69\x32\x28\x9a\x37\x00\x00\x00";

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>openresty</center></body>\n</html>\n";

const DEPTH: usize = 100_000;

/// Cases every parser answers the same way.
fn common_cases(parser: &Parser) -> Vec<Case> {
    let valid = parser.valid;
    let mut cases = vec![
        case("empty body", 200, "", Malformed),
        case("whitespace only", 200, " \r\n\t ", Malformed),
        case("null body", 200, "null", Malformed),
        case("true body", 200, "true", Malformed),
        case("number body", 200, "200", Malformed),
        case("string body", 200, r#""OK""#, Malformed),
        case("HTML page, 200", 200, HTML_PAGE, Malformed),
        case("HTML page, 502", 502, HTML_PAGE, Unexpected(502)),
        case("HTML page, 404", 404, HTML_PAGE, Unexpected(404)),
        case("gzip bytes, 200", 200, GZIP_OK_BODY, Malformed),
        case("gzip bytes, 403", 403, GZIP_OK_BODY, Unexpected(403)),
        case("non-UTF-8 bytes", 200, b"\xff\xfe\xfd{}", Malformed),
        case(
            "non-UTF-8 bytes, 500",
            500,
            b"\xff\xfe\xfd{}",
            Unexpected(500),
        ),
        case(
            "UTF-8 BOM before a valid body",
            200,
            [b"\xef\xbb\xbf".as_slice(), valid.as_bytes()].concat(),
            Malformed,
        ),
        case(
            "UTF-16LE encoded valid body",
            200,
            valid
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>(),
            Malformed,
        ),
        case(
            "100 000-level [[[…]]]",
            200,
            nested_arrays(DEPTH),
            Malformed,
        ),
        case(
            "100 000-level [[[…]]], 400",
            400,
            nested_arrays(DEPTH),
            Unexpected(400),
        ),
        case(
            "100 000-level {\"a\":…}",
            200,
            nested_objects(DEPTH),
            Malformed,
        ),
        case(
            "100 000-level nest inside an unknown field of a valid body",
            200,
            patch(
                valid,
                "{",
                &format!("{{\"deep\": {}, ", nested_objects(DEPTH)),
            ),
            Malformed,
        ),
        case(
            "100 000-level {\"a\":…}, 503",
            503,
            nested_objects(DEPTH),
            Unexpected(503),
        ),
        case(
            "unterminated 100 000-level nest",
            200,
            "[".repeat(DEPTH),
            Malformed,
        ),
        case("valid body + garbage", 200, format!("{valid}x"), Malformed),
        case(
            "valid body twice",
            200,
            format!("{valid}{valid}"),
            Malformed,
        ),
        case(
            "valid body + whitespace",
            200,
            format!("{valid} \n"),
            Expect::Ok,
        ),
        case("valid body", 200, valid, Expect::Ok),
        case("valid body, 201", 201, valid, Expect::Ok),
        case("1e400 status", 200, r#"{"status": 1e400}"#, Malformed),
        case(
            "1e400 status, 400",
            400,
            r#"{"status": 1e400}"#,
            Unexpected(400),
        ),
        case(
            "service error, 400",
            400,
            r#"{"status": 400, "error": 1, "message": "Invalid JSON specified.", "service": "Presence"}"#,
            Service(400),
        ),
        case(
            "PAM 403",
            403,
            r#"{"message":"Forbidden","payload":{"channels":["ch1"]},"error":true,"service":"Access Manager","status":403}"#,
            Service(403),
        ),
        case("empty object, 500", 500, "{}", Service(500)),
        case("empty object, 304", 304, "{}", Unexpected(304)),
        case(
            "error body, 302",
            302,
            r#"{"status": 403, "error": true}"#,
            Service(403),
        ),
        case("flagged body, 101", 101, r#"{"error": 1}"#, Service(500)),
        case("array, 404", 404, "[]", Unexpected(404)),
        case("empty body, 502", 502, "", Unexpected(502)),
        case(
            "false 200 with status 403",
            200,
            r#"{"status": 403, "error": 1, "message": "Access Denied", "service": "Presence"}"#,
            Service(403),
        ),
        case(
            "false 200: error true, no status",
            200,
            r#"{"error": true, "message": "nope"}"#,
            Service(500),
        ),
        case(
            "false 200: string error \"1\" and status 404",
            200,
            r#"{"status": 404, "message": "Not Found", "error": "1", "service": "Presence"}"#,
            Service(404),
        ),
        case(
            "false 200: error object",
            200,
            r#"{"status": 409, "error": {"source": "actions", "message": "Action Already Added"}}"#,
            Service(409),
        ),
        case(
            "false 200: status out of u16 range is a server error",
            200,
            r#"{"status": 70000}"#,
            Service(500),
        ),
        case(
            "false 200: status 2^64 is not an error status",
            200,
            r#"{"status": 18446744073709551616, "error": true}"#,
            Service(500),
        ),
    ];
    // Every truncated prefix of a valid body: malformed on a 2xx, unexpected on an error
    // status (no prefix is a JSON object).
    let trimmed = valid.trim_end().as_bytes();
    for len in 0..trimmed.len() {
        cases.push(case(
            format!("prefix of {len} bytes"),
            200,
            &trimmed[..len],
            Malformed,
        ));
        cases.push(case(
            format!("prefix of {len} bytes, 503"),
            503,
            &trimmed[..len],
            Unexpected(503),
        ));
    }
    cases
}

/// Runs the common table plus `specific`.
fn check(parser: Parser, specific: Vec<Case>) {
    let mut cases = common_cases(&parser);
    cases.extend(specific);
    run_table(&parser, cases);
}

// ---------------------------------------------------------------------------------------
// Parsers

const HERE_NOW_SINGLE: &str = r#"{"status": 200, "message": "OK", "service": "Presence", "uuids": ["u1", {"uuid": "u2", "state": {"k": 1}}], "occupancy": 2}"#;
const HERE_NOW_MULTI: &str = r#"{"status": 200, "message": "OK", "payload": {"channels": {"ch1": {"uuids": ["u1"], "occupancy": 1}, "ch2": {"uuids": [{"uuid": "u2"}], "occupancy": 1}}, "total_channels": 2, "total_occupancy": 2}, "service": "Presence"}"#;
const WHERE_NOW: &str = r#"{"status": 200, "message": "OK", "payload": {"channels": ["ch1", "ch2"]}, "service": "Presence"}"#;
const ACK: &str = r#"{"status": 200, "message": "OK", "service": "Presence"}"#;
const LEAVE: &str = r#"{"status": 200, "action": "leave", "message": "OK", "service": "Presence"}"#;
const SET_STATE: &str =
    r#"{"status": 200, "message": "OK", "payload": {"k": "v"}, "service": "Presence"}"#;
const GET_STATE_SINGLE: &str = r#"{"status": 200, "message": "OK", "payload": {"k": "v"}, "uuid": "u1", "channel": "ch1", "service": "Presence"}"#;
const GET_STATE_MULTI: &str = r#"{"status": 200, "message": "OK", "payload": {"channels": {"ch1": {"k": "v"}, "ch2": {}}}, "uuid": "u1", "service": "Presence"}"#;
const SUBSCRIBE: &str = r#"{"t":{"t":"14637536741734954","r":1},"m":[{"a":"4","f":512,"p":{"t":"14637536740940378","r":1},"k":"demo","c":"ch1-pnpres","d":{"action":"join","timestamp":1463753674,"uuid":"u1","occupancy":3},"b":"ch1-pnpres"}]}"#;

fn here_now_single() -> Parser {
    Parser {
        name: "here_now single",
        expected: "here now body",
        valid: HERE_NOW_SINGLE,
        parse: |r| HereNow::new().channels(["ch1"]).parse_response(r).map(drop),
    }
}

fn here_now_multi() -> Parser {
    Parser {
        name: "here_now multi",
        expected: "here now body",
        valid: HERE_NOW_MULTI,
        parse: |r| {
            HereNow::new()
                .channels(["ch1", "ch2"])
                .parse_response(r)
                .map(drop)
        },
    }
}

fn here_now_groups() -> Parser {
    Parser {
        name: "here_now groups",
        expected: "here now body",
        valid: HERE_NOW_MULTI,
        parse: |r| {
            HereNow::new()
                .channel_groups(["cg1"])
                .parse_response(r)
                .map(drop)
        },
    }
}

fn here_now_global() -> Parser {
    Parser {
        name: "here_now global",
        expected: "here now body",
        valid: HERE_NOW_MULTI,
        parse: |r| HereNow::new().parse_response(r).map(drop),
    }
}

fn where_now() -> Parser {
    Parser {
        name: "where_now",
        expected: "where now body",
        valid: WHERE_NOW,
        parse: |r| WhereNow::new().parse_response(r).map(drop),
    }
}

fn heartbeat() -> Parser {
    Parser {
        name: "heartbeat",
        expected: "heartbeat body",
        valid: ACK,
        parse: |r| Heartbeat::new().channels(["ch1"]).parse_response(r),
    }
}

fn leave() -> Parser {
    Parser {
        name: "leave",
        expected: "leave body",
        valid: LEAVE,
        parse: |r| Leave::new().channels(["ch1"]).parse_response(r),
    }
}

fn set_state() -> Parser {
    Parser {
        name: "set_state",
        expected: "set state body",
        valid: SET_STATE,
        parse: |r| {
            SetState::new()
                .channels(["ch1"])
                .state(json!({"k": "v"}))
                .parse_response(r)
                .map(drop)
        },
    }
}

fn get_state_single() -> Parser {
    Parser {
        name: "get_state single",
        expected: "get state body",
        valid: GET_STATE_SINGLE,
        parse: |r| {
            GetState::new()
                .channels(["ch1"])
                .parse_response(r)
                .map(drop)
        },
    }
}

fn get_state_multi() -> Parser {
    Parser {
        name: "get_state multi",
        expected: "get state body",
        valid: GET_STATE_MULTI,
        parse: |r| {
            GetState::new()
                .channels(["ch1", "ch2"])
                .parse_response(r)
                .map(drop)
        },
    }
}

fn subscribe() -> Parser {
    Parser {
        name: "subscribe",
        expected: "subscribe envelope",
        valid: SUBSCRIBE,
        parse: |r| {
            Subscribe::new()
                .channels(["ch1"])
                .parse_response(r)
                .map(drop)
        },
    }
}

fn all_parsers() -> Vec<Parser> {
    vec![
        here_now_single(),
        here_now_multi(),
        here_now_groups(),
        here_now_global(),
        where_now(),
        heartbeat(),
        leave(),
        set_state(),
        get_state_single(),
        get_state_multi(),
        subscribe(),
    ]
}

// ---------------------------------------------------------------------------------------
// Tables per parser

/// Wrong types, nulls and huge numbers for the envelope fields `status` and `error`,
/// written into `valid` (which must start with `{"status": 200, `).
fn envelope_cases(valid: &str) -> Vec<Case> {
    let with = |replacement: &str| patch(valid, r#""status": 200"#, replacement);
    vec![
        case("status \"200\"", 200, with(r#""status": "200""#), Malformed),
        case("status 200.0", 200, with(r#""status": 200.0"#), Malformed),
        case("status true", 200, with(r#""status": true"#), Malformed),
        case("status []", 200, with(r#""status": []"#), Malformed),
        case("status {}", 200, with(r#""status": {}"#), Malformed),
        case("status null", 200, with(r#""status": null"#), Expect::Ok),
        case("status -1", 200, with(r#""status": -1"#), Expect::Ok),
        case(
            "status 2^64",
            200,
            with(r#""status": 18446744073709551616"#),
            Malformed,
        ),
        case("status 1e400", 200, with(r#""status": 1e400"#), Malformed),
        case("status 403", 200, with(r#""status": 403"#), Service(403)),
        case(
            "error true",
            200,
            with(r#""status": 200, "error": true"#),
            Service(500),
        ),
        case(
            "error \"1\"",
            200,
            with(r#""status": 200, "error": "1""#),
            Service(500),
        ),
        case(
            "error \"x\"",
            200,
            with(r#""status": 200, "error": "x""#),
            Service(500),
        ),
        case(
            "error []",
            200,
            with(r#""status": 200, "error": []"#),
            Service(500),
        ),
        case(
            "error {}",
            200,
            with(r#""status": 200, "error": {}"#),
            Service(500),
        ),
        case(
            "error 0.5",
            200,
            with(r#""status": 200, "error": 0.5"#),
            Service(500),
        ),
        case(
            "error false",
            200,
            with(r#""status": 200, "error": false"#),
            Expect::Ok,
        ),
        case(
            "error 0",
            200,
            with(r#""status": 200, "error": 0"#),
            Expect::Ok,
        ),
        case(
            "error \" 0 \"",
            200,
            with(r#""status": 200, "error": " 0 ""#),
            Expect::Ok,
        ),
        case(
            "error \"false\"",
            200,
            with(r#""status": 200, "error": "false""#),
            Expect::Ok,
        ),
        case(
            "error null",
            200,
            with(r#""status": 200, "error": null"#),
            Expect::Ok,
        ),
        case(
            "error 1e400",
            200,
            with(r#""status": 200, "error": 1e400"#),
            Malformed,
        ),
        case(
            "duplicated status key",
            200,
            with(r#""status": 200, "status": 200"#),
            Malformed,
        ),
        case(
            "duplicated error key (last says error)",
            200,
            with(r#""status": 200, "error": false, "error": true"#),
            Service(500),
        ),
        case(
            "message 5",
            200,
            patch(valid, r#""message": "OK""#, r#""message": 5"#),
            Expect::Ok,
        ),
        case(
            "message null",
            200,
            patch(valid, r#""message": "OK""#, r#""message": null"#),
            Expect::Ok,
        ),
        case(
            "service []",
            200,
            patch(valid, r#""service": "Presence""#, r#""service": []"#),
            Expect::Ok,
        ),
        case(
            "non-UTF-8 inside a key",
            200,
            [b"{\"st\xffatus\": 200, ".as_slice(), &valid.as_bytes()[1..]].concat(),
            Malformed,
        ),
        case(
            "unknown fields of every type",
            200,
            with(
                r#""status": 200, "zz_obj": {"a": [1, {"b": null}]}, "zz_arr": [[], {}], "zz_num": -1.5e300, "zz_big": 18446744073709551616, "zz_str": "\u0000\ud83d\ude00", "zz_null": null, "zz_bool": false"#,
            ),
            Expect::Ok,
        ),
    ]
}

#[test]
fn here_now_single_channel_table() {
    let v = HERE_NOW_SINGLE;
    let occ = |to: &str| patch(v, r#""occupancy": 2"#, &format!(r#""occupancy": {to}"#));
    let uuids = |to: &str| {
        patch(
            v,
            r#""uuids": ["u1", {"uuid": "u2", "state": {"k": 1}}]"#,
            &format!(r#""uuids": {to}"#),
        )
    };
    let mut cases = vec![
        case("occupancy \"x\"", 200, occ(r#""x""#), Malformed),
        case("occupancy \"2\"", 200, occ(r#""2""#), Malformed),
        case("occupancy -1", 200, occ("-1"), Malformed),
        case("occupancy 1.5", 200, occ("1.5"), Malformed),
        case("occupancy 2.0", 200, occ("2.0"), Malformed),
        case("occupancy 1e400", 200, occ("1e400"), Malformed),
        case(
            "occupancy 2^64",
            200,
            occ("18446744073709551616"),
            Malformed,
        ),
        case(
            "occupancy u64::MAX",
            200,
            occ("18446744073709551615"),
            Expect::Ok,
        ),
        case("occupancy true", 200, occ("true"), Malformed),
        case("occupancy []", 200, occ("[]"), Malformed),
        case("occupancy {}", 200, occ("{}"), Malformed),
        case(
            "occupancy null (then nothing to read)",
            200,
            occ("null"),
            Malformed,
        ),
        case("uuids 5", 200, uuids("5"), Malformed),
        case("uuids \"u1\"", 200, uuids(r#""u1""#), Malformed),
        case("uuids {}", 200, uuids("{}"), Malformed),
        case("uuids [5]", 200, uuids("[5]"), Malformed),
        case("uuids [null]", 200, uuids("[null]"), Malformed),
        case("uuids [[]]", 200, uuids("[[]]"), Malformed),
        case("uuids [[\"u1\"]]", 200, uuids(r#"[["u1"]]"#), Malformed),
        case("uuids [true]", 200, uuids("[true]"), Malformed),
        case("uuid 5", 200, uuids(r#"[{"uuid": 5}]"#), Malformed),
        case("uuid null", 200, uuids(r#"[{"uuid": null}]"#), Malformed),
        case("uuid missing", 200, uuids(r#"[{"state": {}}]"#), Malformed),
        case("uuid non-UTF-8", 200, uuids("[\"\\udc00\"]"), Malformed),
        case("uuids null", 200, uuids("null"), Expect::Ok),
        case(
            "state of any JSON type",
            200,
            uuids(r#"[{"uuid": "u", "state": 5}]"#),
            Expect::Ok,
        ),
        case(
            "state null",
            200,
            uuids(r#"[{"uuid": "u", "state": null}]"#),
            Expect::Ok,
        ),
        case(
            "occupant with unknown fields",
            200,
            uuids(r#"[{"uuid": "u", "x": [1], "state": {}, "y": {"z": null}}]"#),
            Expect::Ok,
        ),
        case(
            "total_occupancy \"x\"",
            200,
            patch(v, "{", r#"{"total_occupancy": "x", "#),
            Malformed,
        ),
        case(
            "total_channels -1",
            200,
            patch(v, "{", r#"{"total_channels": -1, "#),
            Malformed,
        ),
        case(
            "payload 5",
            200,
            patch(v, "{", r#"{"payload": 5, "#),
            Malformed,
        ),
        case(
            "payload \"x\"",
            200,
            patch(v, "{", r#"{"payload": "x", "#),
            Malformed,
        ),
        case(
            "payload true",
            200,
            patch(v, "{", r#"{"payload": true, "#),
            Malformed,
        ),
        case(
            "payload null (falls back to the single-channel fields)",
            200,
            patch(v, "{", r#"{"payload": null, "#),
            Expect::Ok,
        ),
        case(
            "duplicated uuids key",
            200,
            patch(v, r#""occupancy": 2"#, r#""occupancy": 2, "uuids": []"#),
            Malformed,
        ),
        case(
            "duplicated occupancy key",
            200,
            patch(v, r#""occupancy": 2"#, r#""occupancy": 2, "occupancy": 3"#),
            Malformed,
        ),
        case(
            "neither payload nor occupancy",
            200,
            r#"{"status": 200, "message": "OK", "service": "Presence"}"#,
            Malformed,
        ),
    ];
    cases.extend(envelope_cases(v));
    check(here_now_single(), cases);
}

/// Cases for the `payload` shape (several channels, groups, global).
fn here_now_payload_cases() -> Vec<Case> {
    let v = HERE_NOW_MULTI;
    let channels = |to: &str| {
        patch(
            v,
            r#""channels": {"ch1": {"uuids": ["u1"], "occupancy": 1}, "ch2": {"uuids": [{"uuid": "u2"}], "occupancy": 1}}"#,
            &format!(r#""channels": {to}"#),
        )
    };
    let mut cases = vec![
        case("channels \"a\"", 200, channels(r#""a""#), Malformed),
        case("channels 5", 200, channels("5"), Malformed),
        case("channels []", 200, channels("[]"), Malformed),
        case("channels [\"ch1\"]", 200, channels(r#"["ch1"]"#), Malformed),
        case("channels true", 200, channels("true"), Malformed),
        case("channel 5", 200, channels(r#"{"ch1": 5}"#), Malformed),
        case("channel null", 200, channels(r#"{"ch1": null}"#), Malformed),
        case("channel \"x\"", 200, channels(r#"{"ch1": "x"}"#), Malformed),
        case("channel []", 200, channels(r#"{"ch1": []}"#), Malformed),
        case("channel {}", 200, channels(r#"{"ch1": {}}"#), Malformed),
        case(
            "channel occupancy \"1\"",
            200,
            channels(r#"{"ch1": {"occupancy": "1"}}"#),
            Malformed,
        ),
        case(
            "channel occupancy -1",
            200,
            channels(r#"{"ch1": {"occupancy": -1}}"#),
            Malformed,
        ),
        case(
            "channel occupancy 2^64",
            200,
            channels(r#"{"ch1": {"occupancy": 18446744073709551616}}"#),
            Malformed,
        ),
        case(
            "channel occupancy 1e400",
            200,
            channels(r#"{"ch1": {"occupancy": 1e400}}"#),
            Malformed,
        ),
        case(
            "channel uuids \"u\"",
            200,
            channels(r#"{"ch1": {"occupancy": 1, "uuids": "u"}}"#),
            Malformed,
        ),
        case(
            "channel uuids [5]",
            200,
            channels(r#"{"ch1": {"occupancy": 1, "uuids": [5]}}"#),
            Malformed,
        ),
        case(
            "channel uuids null",
            200,
            channels(r#"{"ch1": {"occupancy": 1, "uuids": null}}"#),
            Expect::Ok,
        ),
        case("channels null", 200, channels("null"), Expect::Ok),
        case("channels {}", 200, channels("{}"), Expect::Ok),
        case(
            "total_channels \"2\"",
            200,
            patch(v, r#""total_channels": 2"#, r#""total_channels": "2""#),
            Malformed,
        ),
        case(
            "total_occupancy -2",
            200,
            patch(v, r#""total_occupancy": 2"#, r#""total_occupancy": -2"#),
            Malformed,
        ),
        case(
            "total_occupancy 1e400",
            200,
            patch(v, r#""total_occupancy": 2"#, r#""total_occupancy": 1e400"#),
            Malformed,
        ),
        case(
            "total_occupancy null (summed instead)",
            200,
            patch(v, r#""total_occupancy": 2"#, r#""total_occupancy": null"#),
            Expect::Ok,
        ),
        case(
            "payload 5",
            200,
            r#"{"status": 200, "payload": 5, "service": "Presence"}"#,
            Malformed,
        ),
        case(
            "payload \"x\"",
            200,
            r#"{"status": 200, "payload": "x", "service": "Presence"}"#,
            Malformed,
        ),
        case(
            "payload null and no occupancy",
            200,
            r#"{"status": 200, "payload": null, "service": "Presence"}"#,
            Malformed,
        ),
        case(
            "payload {} (no channels)",
            200,
            r#"{"status": 200, "payload": {}, "service": "Presence"}"#,
            Expect::Ok,
        ),
        case(
            "single-channel body for a request that did not name one channel",
            200,
            HERE_NOW_SINGLE,
            Malformed,
        ),
        case(
            "duplicated payload key",
            200,
            patch(
                v,
                r#""service": "Presence""#,
                r#""service": "Presence", "payload": {}"#,
            ),
            Malformed,
        ),
    ];
    cases.extend(envelope_cases(v));
    cases
}

#[test]
fn here_now_several_channels_table() {
    check(here_now_multi(), here_now_payload_cases());
}

#[test]
fn here_now_channel_groups_table() {
    check(here_now_groups(), here_now_payload_cases());
}

#[test]
fn here_now_global_table() {
    check(here_now_global(), here_now_payload_cases());
}

#[test]
fn where_now_table() {
    let v = WHERE_NOW;
    let payload = |to: &str| {
        patch(
            v,
            r#""payload": {"channels": ["ch1", "ch2"]}"#,
            &format!(r#""payload": {to}"#),
        )
    };
    let channels = |to: &str| {
        patch(
            v,
            r#""channels": ["ch1", "ch2"]"#,
            &format!(r#""channels": {to}"#),
        )
    };
    let mut cases = vec![
        case("payload 5", 200, payload("5"), Malformed),
        case("payload \"a\"", 200, payload(r#""a""#), Malformed),
        case("payload true", 200, payload("true"), Malformed),
        case(
            "payload null (no channels)",
            200,
            payload("null"),
            Expect::Ok,
        ),
        case("payload {} (no channels)", 200, payload("{}"), Expect::Ok),
        case("channels \"a\"", 200, channels(r#""a""#), Malformed),
        case("channels 5", 200, channels("5"), Malformed),
        case("channels {}", 200, channels("{}"), Malformed),
        case("channels null", 200, channels("null"), Malformed),
        case("channels [5]", 200, channels("[5]"), Malformed),
        case("channels [null]", 200, channels("[null]"), Malformed),
        case("channels [[\"a\"]]", 200, channels(r#"[["a"]]"#), Malformed),
        case("channels [{}]", 200, channels("[{}]"), Malformed),
        case("channels 1e400", 200, channels("[1e400]"), Malformed),
        case(
            "channels non-UTF-8",
            200,
            [b"{\"status\": 200, \"payload\": {\"channels\": [\"\xff\"]}}".as_slice()].concat(),
            Malformed,
        ),
        case(
            "channels lone surrogate",
            200,
            channels(r#"["\udc00"]"#),
            Malformed,
        ),
        case("channels []", 200, channels("[]"), Expect::Ok),
        case(
            "payload with unknown fields",
            200,
            payload(r#"{"x": {"y": [1]}, "channels": ["a"], "z": null}"#),
            Expect::Ok,
        ),
        case(
            "duplicated channels key",
            200,
            payload(r#"{"channels": ["a"], "channels": ["b"]}"#),
            Malformed,
        ),
    ];
    cases.extend(envelope_cases(v));
    check(where_now(), cases);
}

#[test]
fn heartbeat_table() {
    let mut cases = envelope_cases(ACK);
    cases.extend([
        case("empty object", 200, "{}", Expect::Ok),
        case(
            "status 400 and message OK (a false 200)",
            200,
            r#"{"status": 400, "message": "OK", "service": "Presence"}"#,
            Service(400),
        ),
        case(
            "body is the error array",
            200,
            r#"[0,"Not modified"]"#,
            Malformed,
        ),
    ]);
    check(heartbeat(), cases);
}

#[test]
fn leave_table() {
    let mut cases = envelope_cases(LEAVE);
    cases.extend([
        case("empty object", 200, "{}", Expect::Ok),
        case(
            "action 5",
            200,
            patch(LEAVE, r#""action": "leave""#, r#""action": 5"#),
            Expect::Ok,
        ),
        case(
            "false 200 with status 503",
            200,
            r#"{"status": 503, "message": "Service Unavailable", "error": 1, "service": "Presence"}"#,
            Service(503),
        ),
    ]);
    check(leave(), cases);
}

#[test]
fn set_state_table() {
    let v = SET_STATE;
    let payload = |to: &str| {
        patch(
            v,
            r#""payload": {"k": "v"}"#,
            &format!(r#""payload": {to}"#),
        )
    };
    let mut cases = vec![
        case("payload missing", 200, ACK, Malformed),
        case("payload null", 200, payload("null"), Malformed),
        // A state the grammar allows but `Value` cannot hold is echoed as its text
        // (tolerant reading, issue 16), not a malformed body.
        case("payload 1e400", 200, payload("1e400"), Expect::Ok),
        case("payload {}", 200, payload("{}"), Expect::Ok),
        case(
            "payload per channel (JS mock)",
            200,
            payload(r#"{"ch1": {"k": "v"}, "ch2": {"k": "v"}}"#),
            Expect::Ok,
        ),
        case(
            "payload with a huge integer (kept as f64)",
            200,
            payload(r#"{"n": 18446744073709551616}"#),
            Expect::Ok,
        ),
        case(
            "duplicated payload key",
            200,
            payload(r#"{"k": "v"}, "payload": {}"#),
            Malformed,
        ),
    ];
    cases.extend(envelope_cases(v));
    check(set_state(), cases);
}

#[test]
fn get_state_single_channel_table() {
    let v = GET_STATE_SINGLE;
    let mut cases = vec![
        case(
            "uuid 5",
            200,
            patch(v, r#""uuid": "u1""#, r#""uuid": 5"#),
            Malformed,
        ),
        case(
            "uuid {}",
            200,
            patch(v, r#""uuid": "u1""#, r#""uuid": {}"#),
            Malformed,
        ),
        case(
            "uuid null",
            200,
            patch(v, r#""uuid": "u1""#, r#""uuid": null"#),
            Expect::Ok,
        ),
        case(
            "channel 5",
            200,
            patch(v, r#""channel": "ch1""#, r#""channel": 5"#),
            Malformed,
        ),
        case(
            "channel []",
            200,
            patch(v, r#""channel": "ch1""#, r#""channel": []"#),
            Malformed,
        ),
        case(
            "channel null",
            200,
            patch(v, r#""channel": "ch1""#, r#""channel": null"#),
            Expect::Ok,
        ),
        case(
            "payload null (no state)",
            200,
            patch(v, r#""payload": {"k": "v"}"#, r#""payload": null"#),
            Expect::Ok,
        ),
        // Tolerant reading (issue 16): the state is kept as its text.
        case(
            "payload 1e400",
            200,
            patch(v, r#""payload": {"k": "v"}"#, r#""payload": 1e400"#),
            Expect::Ok,
        ),
        case(
            "duplicated uuid key",
            200,
            patch(v, r#""uuid": "u1""#, r#""uuid": "u1", "uuid": "u2""#),
            Malformed,
        ),
    ];
    cases.extend(envelope_cases(v));
    check(get_state_single(), cases);
}

#[test]
fn get_state_several_channels_table() {
    let v = GET_STATE_MULTI;
    let payload = |to: &str| {
        patch(
            v,
            r#""payload": {"channels": {"ch1": {"k": "v"}, "ch2": {}}}"#,
            &format!(r#""payload": {to}"#),
        )
    };
    let mut cases = vec![
        case("payload 5", 200, payload("5"), Malformed),
        case("payload \"x\"", 200, payload(r#""x""#), Malformed),
        case("payload []", 200, payload("[]"), Malformed),
        case("payload [{}]", 200, payload("[{}]"), Malformed),
        case("payload true", 200, payload("true"), Malformed),
        case("payload null (no state)", 200, payload("null"), Expect::Ok),
        case("payload {}", 200, payload("{}"), Expect::Ok),
        case(
            "payload is the channel map (JS mock)",
            200,
            payload(r#"{"ch1": {"k": "v"}, "ch2": {}}"#),
            Expect::Ok,
        ),
        case(
            "payload.channels 5 (a channel named `channels`)",
            200,
            payload(r#"{"channels": 5}"#),
            Expect::Ok,
        ),
        case(
            "uuid 5",
            200,
            patch(v, r#""uuid": "u1""#, r#""uuid": 5"#),
            Malformed,
        ),
        case(
            "duplicated channel in the map (last wins)",
            200,
            payload(r#"{"channels": {"ch1": {"k": 1}, "ch1": {"k": 2}}}"#),
            Expect::Ok,
        ),
        case(
            "payload 100 000 levels deep",
            200,
            payload(&nested_objects(DEPTH)),
            Malformed,
        ),
    ];
    cases.extend(envelope_cases(v));
    check(get_state_multi(), cases);
}

#[test]
fn subscribe_table() {
    let v = SUBSCRIBE;
    let cursor = |to: &str| {
        patch(
            v,
            r#""t":{"t":"14637536741734954","r":1}"#,
            &format!(r#""t":{to}"#),
        )
    };
    let msgs = |to: &str| format!(r#"{{"t":{{"t":"1","r":1}},"m":{to}}}"#);
    let msg = |fields: &str| msgs(&format!(r#"[{{"c":"ch1-pnpres",{fields}}}]"#));
    let cases = vec![
        case("t missing", 200, r#"{"m":[]}"#, Malformed),
        case("t null", 200, cursor("null"), Malformed),
        case("t 5", 200, cursor("5"), Malformed),
        case("t \"x\"", 200, cursor(r#""x""#), Malformed),
        case("t {}", 200, cursor("{}"), Malformed),
        case("t []", 200, cursor("[]"), Malformed),
        case("t.t null", 200, cursor(r#"{"t":null}"#), Malformed),
        case("t.t 1.5", 200, cursor(r#"{"t":1.5}"#), Malformed),
        case("t.t true", 200, cursor(r#"{"t":true}"#), Malformed),
        case("t.t {}", 200, cursor(r#"{"t":{}}"#), Malformed),
        case("t.t 1e400", 200, cursor(r#"{"t":1e400}"#), Malformed),
        case(
            "t.t 2^64",
            200,
            cursor(r#"{"t":18446744073709551616}"#),
            Malformed,
        ),
        case(
            "t.t as a number",
            200,
            cursor(r#"{"t":14637536741734954,"r":1}"#),
            Expect::Ok,
        ),
        case("t.r \"1\"", 200, cursor(r#"{"t":"1","r":"1"}"#), Malformed),
        case("t.r -1", 200, cursor(r#"{"t":"1","r":-1}"#), Malformed),
        case(
            "t.r 2^32",
            200,
            cursor(r#"{"t":"1","r":4294967296}"#),
            Malformed,
        ),
        case("t.r null", 200, cursor(r#"{"t":"1","r":null}"#), Malformed),
        case("t.r missing", 200, cursor(r#"{"t":"1"}"#), Expect::Ok),
        case("m missing", 200, r#"{"t":{"t":"1","r":1}}"#, Expect::Ok),
        case("m \"a\"", 200, msgs(r#""a""#), Malformed),
        case("m 5", 200, msgs("5"), Malformed),
        case("m {}", 200, msgs("{}"), Malformed),
        case("m null", 200, msgs("null"), Malformed),
        case("m [5]", 200, msgs("[5]"), Malformed),
        case("m [null]", 200, msgs("[null]"), Malformed),
        case("m [\"x\"]", 200, msgs(r#"["x"]"#), Malformed),
        case("c 5", 200, msgs(r#"[{"c":5}]"#), Malformed),
        case("c null", 200, msgs(r#"[{"c":null}]"#), Malformed),
        case("b 5", 200, msg(r#""b":5"#), Malformed),
        case("p \"x\"", 200, msg(r#""p":"x""#), Malformed),
        case("p.t null", 200, msg(r#""p":{"t":null}"#), Malformed),
        case("p.t 1.5", 200, msg(r#""p":{"t":1.5}"#), Malformed),
        case("p null (no timetoken)", 200, msg(r#""p":null"#), Expect::Ok),
        // Bad presence payloads are reported in `unreadable`, not as a failed batch.
        case("d 5", 200, msg(r#""d":5"#), Expect::Ok),
        case("d []", 200, msg(r#""d":[]"#), Expect::Ok),
        case("d null", 200, msg(r#""d":null"#), Expect::Ok),
        case(
            "d with action 5",
            200,
            msg(r#""d":{"action":5}"#),
            Expect::Ok,
        ),
        // The message is unreadable (its occupancy is no integer); the batch reads
        // (tolerant reading, issue 16: it was a malformed envelope).
        case(
            "d 1e400",
            200,
            msg(r#""d":{"action":"join","occupancy":1e400}"#),
            Expect::Ok,
        ),
        case(
            "d 100 000 levels deep",
            200,
            msg(&format!(r#""d":{}"#, nested_arrays(DEPTH))),
            Malformed,
        ),
        case(
            "message with unknown fields of every type",
            200,
            msg(
                r#""zz":{"a":[1,{}]},"d":{"action":"leave","uuid":"u","occupancy":0,"zz":[null]},"f":"x","k":5"#,
            ),
            Expect::Ok,
        ),
        case(
            "duplicated m key",
            200,
            r#"{"t":{"t":"1","r":1},"m":[],"m":[]}"#,
            Malformed,
        ),
        case(
            "false 200 envelope",
            200,
            r#"{"status":403,"error":true,"message":"Forbidden","service":"Access Manager","payload":{"channels":["ch1-pnpres"]}}"#,
            Service(403),
        ),
        case(
            "status \"200\"",
            200,
            r#"{"status":"200","t":{"t":"1","r":1},"m":[]}"#,
            Malformed,
        ),
        case(
            "error \"1\"",
            200,
            r#"{"error":"1","t":{"t":"1","r":1},"m":[]}"#,
            Service(500),
        ),
    ];
    check(subscribe(), cases);
}

// ---------------------------------------------------------------------------------------
// Values of the cases that are accepted

#[test]
fn unknown_fields_are_accepted_with_the_right_values() {
    let extra =
        r#""zz": {"a": [1, {"b": null}]}, "zz2": [[], {}], "zz3": -1.5e300, "zz4": "\u0000", "#;
    let r = |body: String| response(200, body.as_bytes());

    let body = patch(HERE_NOW_SINGLE, "{", &format!("{{{extra}"));
    let out = HereNow::new()
        .channels(["ch1"])
        .parse_response(&r(body))
        .unwrap();
    assert_eq!((out.total_channels, out.total_occupancy), (1, 2));
    assert_eq!(out.channels[0].name, "ch1");
    assert_eq!(out.channels[0].occupants[0].user_id, "u1");
    assert_eq!(out.channels[0].occupants[1].user_id, "u2");
    assert_eq!(
        out.channels[0].occupants[1].state.as_ref().unwrap(),
        &json!({"k": 1})
    );

    let body = patch(
        HERE_NOW_MULTI,
        r#""channels": {"ch1": {"#,
        &format!(r#"{extra}"channels": {{"ch1": {{{extra}"#),
    );
    let out = HereNow::new()
        .channels(["ch1", "ch2"])
        .parse_response(&r(body))
        .unwrap();
    assert_eq!((out.total_channels, out.total_occupancy), (2, 2));
    let names: Vec<&str> = out.channels.iter().map(|c| &*c.name).collect();
    assert_eq!(names, ["ch1", "ch2"]);
    assert_eq!(out.channel("ch2").unwrap().occupants[0].user_id, "u2");

    let body = patch(WHERE_NOW, r#""channels""#, &format!(r#"{extra}"channels""#));
    let out = WhereNow::new().parse_response(&r(body)).unwrap();
    assert_eq!(out.channels, ["ch1", "ch2"]);

    let body = patch(ACK, "{", &format!("{{{extra}"));
    Heartbeat::new()
        .channels(["ch1"])
        .parse_response(&r(body.clone()))
        .unwrap();
    Leave::new()
        .channels(["ch1"])
        .parse_response(&r(body))
        .unwrap();

    let body = patch(SET_STATE, "{", &format!("{{{extra}"));
    let out = SetState::new()
        .channels(["ch1"])
        .state(json!({"k": "v"}))
        .parse_response(&r(body))
        .unwrap();
    assert_eq!(out.state, json!({"k": "v"}));

    let body = patch(GET_STATE_SINGLE, "{", &format!("{{{extra}"));
    let out = GetState::new()
        .channels(["ch1"])
        .parse_response(&r(body))
        .unwrap();
    assert_eq!(out.user_id.as_deref(), Some("u1"));
    assert_eq!(out.channels.len(), 1);
    assert_eq!(out.channels["ch1"], json!({"k": "v"}));

    let body = patch(GET_STATE_MULTI, "{", &format!("{{{extra}"));
    let out = GetState::new()
        .channels(["ch1", "ch2"])
        .parse_response(&r(body))
        .unwrap();
    assert_eq!(out.channels.len(), 2);
    assert_eq!(out.channels["ch1"], json!({"k": "v"}));
    assert_eq!(out.channels["ch2"], json!({}));

    let body = patch(
        SUBSCRIBE,
        r#""d":{"#,
        &format!(r#""zz":[{{}}],"d":{{{extra}"#),
    );
    let body = patch(&body, "{", &format!("{{{extra}"));
    let out = Subscribe::new()
        .channels(["ch1"])
        .parse_response(&r(body))
        .unwrap();
    assert_eq!(out.cursor.timetoken, "14637536741734954");
    assert_eq!(out.cursor.region, 1);
    assert!(out.unreadable.is_empty(), "{:?}", out.unreadable);
    match &out.events[..] {
        [PresenceEvent::Join(c)] => {
            assert_eq!(
                (
                    c.channel.as_str(),
                    c.user_id.as_str(),
                    c.occupancy,
                    c.timestamp
                ),
                ("ch1", "u1", 3, 1_463_753_674)
            );
            assert_eq!(c.timetoken, "14637536740940378");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn accepted_edge_values_are_read_exactly() {
    let r = |body: &str| response(200, body.as_bytes());
    let single = HereNow::new().channels(["ch1"]);

    let out = single
        .parse_response(&r(&patch(
            HERE_NOW_SINGLE,
            r#""occupancy": 2"#,
            r#""occupancy": 18446744073709551615"#,
        )))
        .unwrap();
    assert_eq!(out.channels[0].occupancy, u64::MAX);
    assert_eq!(out.total_occupancy, u64::MAX);

    // Duplicate keys inside an occupant object are malformed, like every other
    // duplicated field of a body (the view and the owned parse must agree on them).
    let err = single
        .parse_response(&r(
            r#"{"status": 200, "uuids": [{"uuid": "a", "uuid": "b"}], "occupancy": 1}"#,
        ))
        .unwrap_err();
    assert!(matches!(err, Error::MalformedResponse { .. }), "{err:?}");

    // A huge integer in state survives as a float; a lone surrogate escape is rejected above.
    let out = single
        .parse_response(&r(r#"{"status": 200, "uuids": [{"uuid": "a", "state": {"n": 18446744073709551616}}], "occupancy": 1}"#))
        .unwrap();
    assert_eq!(
        out.channels[0].occupants[0].state.as_ref().unwrap(),
        &json!({"n": 18446744073709551616.0})
    );

    // Missing totals are computed from the channels.
    let out = HereNow::new()
        .channels(["ch1", "ch2"])
        .parse_response(&r(r#"{"status": 200, "payload": {"channels": {"a": {"occupancy": 2}, "b": {"occupancy": 3}}}}"#))
        .unwrap();
    assert_eq!((out.total_channels, out.total_occupancy), (2, 5));

    // Get state: duplicate channel keys, last wins; `payload.channels` that is not an
    // object makes `payload` the channel map (PROTOCOL.md §10.1).
    let multi = GetState::new().channels(["ch1", "ch2"]);
    let out = multi
        .parse_response(&r(
            r#"{"status": 200, "payload": {"channels": {"ch1": {"k": 1}, "ch1": {"k": 2}}}}"#,
        ))
        .unwrap();
    assert_eq!(out.channels["ch1"], json!({"k": 2}));
    let out = multi
        .parse_response(&r(r#"{"status": 200, "payload": {"channels": 5}}"#))
        .unwrap();
    assert_eq!(out.channels["channels"], json!(5));

    // Subscribe: bad presence payloads are listed, the cursor still advances.
    let out = Subscribe::new()
        .channels(["ch1"])
        .parse_response(&r(r#"{"t":{"t":"2","r":3},"m":[{"c":"ch1-pnpres","d":5},{"c":"ch1-pnpres","d":{"action":"join","uuid":"u","timestamp":"7"}},{"c":"other","d":1}]}"#))
        .unwrap();
    assert_eq!((out.cursor.timetoken.as_str(), out.cursor.region), ("2", 3));
    assert_eq!(out.unreadable.len(), 1);
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].change().unwrap().timestamp, 7);
}

// ---------------------------------------------------------------------------------------
// The classifier: every parser classifies error statuses the same way

#[test]
fn error_statuses_classify_the_same_for_every_parser() {
    let bodies: &[&[u8]] = &[
        b"",
        b"{}",
        b"[]",
        b"null",
        HTML_PAGE.as_bytes(),
        GZIP_OK_BODY,
        b"\xff\xfe",
        br#"{"status": 403, "error": true, "message": "Forbidden", "payload": {"channels": ["a", 5], "channel-groups": "g"}, "service": "Access Manager"}"#,
        br#"{"status": "x", "error": [], "message": 5, "error_message": "em", "service": {}}"#,
        br#"{"error": {"message": "Invalid signature", "source": "grant"}, "service": "Access Manager", "status": 403}"#,
        br#"{"status": 1e400}"#,
        br#"{"status": 18446744073709551616}"#,
        br#"{"status": 200, "error": 0}"#,
        br#"{"error": "1"}"#,
    ];
    for &status in &[
        100u16, 101, 204, 301, 304, 400, 401, 403, 404, 408, 413, 414, 429, 500, 502, 503, 599,
    ] {
        for body in bodies {
            let resp = response(status, body);
            let results: Vec<(&str, Result<(), Error>)> = all_parsers()
                .iter()
                .map(|p| (p.name, (p.parse)(&resp)))
                .collect();
            if (200..300).contains(&status) {
                continue;
            }
            let first = &results[0].1;
            for (name, r) in &results {
                assert_eq!(r, first, "HTTP {status} {body:?}: {name} differs");
            }
            // A service error: a JSON object, and the HTTP status is an error status or
            // the body claims one (`status` >= 400 or a truthy `error`).
            let service = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .is_some_and(|o| status >= 400 || body_claims_error(&o));
            match first {
                Err(Error::Service(e)) => {
                    assert!(service, "HTTP {status} {body:?}: service error");
                    assert_eq!(e.http_status, status);
                    assert!(e.status >= 400, "HTTP {status} {body:?}: {}", e.status);
                }
                Err(Error::UnexpectedStatus { status: s, .. }) => {
                    assert!(!service, "HTTP {status} {body:?}: error body not read");
                    assert_eq!(*s, status);
                }
                other => panic!("HTTP {status} {body:?}: {other:?}"),
            }
        }
    }
}

/// PROTOCOL.md §10.7: `status` >= 400 or `error` truthy.
fn body_claims_error(o: &serde_json::Map<String, Value>) -> bool {
    let status = o
        .get("status")
        .and_then(Value::as_u64)
        .is_some_and(|s| (400..=u64::from(u16::MAX)).contains(&s));
    let error = match o.get("error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !matches!(s.trim(), "" | "0" | "false"),
        Some(_) => true,
    };
    status || error
}

#[test]
fn service_error_fields_from_hostile_bodies() {
    let parse = |status: u16, body: &str| {
        Leave::new()
            .channels(["ch1"])
            .parse_response(&response(status, body.as_bytes()))
            .unwrap_err()
    };
    // Names of the wrong type are skipped; a `status` that is not a number falls back to
    // the HTTP status; `message` falls back to `error_message`.
    let e = parse(
        403,
        r#"{"status": "x", "error": true, "message": 5, "error_message": "em", "payload": {"channels": ["a", 5, null], "channel-groups": "g"}, "service": {}}"#,
    );
    let s = e.service_error().expect("service error");
    assert_eq!((s.status, s.http_status), (403, 403));
    assert_eq!(s.message, "em");
    assert_eq!(s.service, None);
    assert_eq!(s.channels, ["a"]);
    assert!(s.channel_groups.is_empty());

    // No message anywhere: the canonical reason of the status.
    let e = parse(503, "{}");
    assert_eq!(e.service_error().unwrap().message, "Service Unavailable");
    assert!(e.is_retryable());
    // ... and for a status without one.
    let e = parse(599, "{}");
    assert_eq!(e.service_error().unwrap().message, "Unknown error");

    // `error.message` (PAM v3).
    let e = parse(
        403,
        r#"{"error": {"message": "Invalid signature", "source": "grant"}, "service": "Access Manager", "status": 403}"#,
    );
    assert_eq!(e.service_error().unwrap().message, "Invalid signature");

    // Body status wins over HTTP status when it is an error status.
    let e = parse(
        400,
        r#"{"status": 429, "error": 1, "message": "slow down"}"#,
    );
    assert_eq!(e.status(), Some(429));
    assert!(e.is_retryable());
}

#[test]
fn retry_after_header_hostile_values() {
    let cases: &[(&[u8], Option<u64>)] = &[
        (b"7", Some(7)),
        (b" 7 ", Some(7)),
        (b"0", Some(0)),
        (b"18446744073709551615", Some(u64::MAX)),
        (b"18446744073709551616", None),
        (b"-1", None),
        (b"1.5", None),
        (b"Wed, 21 Oct 2015 07:28:00 GMT", None),
        (b"", None),
        (b"\xff\xfe", None),
    ];
    for (value, expected) in cases {
        let resp = http::Response::builder()
            .status(429)
            .header(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_bytes(value).unwrap(),
            )
            .body(br#"{"status": 429, "error": true, "message": "Too many requests."}"#.to_vec())
            .unwrap();
        let e = Heartbeat::new()
            .channels(["ch1"])
            .parse_response(&resp)
            .unwrap_err();
        assert_eq!(
            e.service_error().expect("service error").retry_after,
            *expected,
            "Retry-After {value:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Bodies over the transport limit (transport-hyper caps bodies at 8 MiB)

const SIXTEEN_MIB: usize = 16 * 1024 * 1024;

#[test]
fn sixteen_mib_here_now_body_parses() {
    // Channels of 10 occupants with state, until the body passes 16 MiB.
    let mut body = String::with_capacity(SIXTEEN_MIB + 4096);
    body.push_str(r#"{"status": 200, "message": "OK", "payload": {"channels": {"#);
    let mut n = 0u64;
    while body.len() < SIXTEEN_MIB {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#""channel-{n}": {{"occupancy": 10, "uuids": ["#));
        for u in 0..10 {
            if u > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"uuid": "user-{n}-{u}", "state": {{"mood": "ok", "n": {u}}}}}"#
            ));
        }
        body.push_str("]}");
        n += 1;
    }
    body.push_str(&format!(
        r#"}}, "total_channels": {n}, "total_occupancy": {}}}, "service": "Presence"}}"#,
        n * 10
    ));
    assert!(body.len() >= SIXTEEN_MIB);
    let out = HereNow::new()
        .channels(["channel-0", "channel-1"])
        .include_state(true)
        .parse_response(&response(200, body.as_bytes()))
        .unwrap();
    assert_eq!(out.channels.len() as u64, n);
    assert_eq!((out.total_channels, out.total_occupancy), (n, n * 10));
    let last = out.channels.last().unwrap();
    assert_eq!(last.name, format!("channel-{}", n - 1));
    assert_eq!(last.occupants[9].user_id, format!("user-{}-9", n - 1));
    assert_eq!(
        last.occupants[9].state.as_ref().unwrap(),
        &json!({"mood": "ok", "n": 9})
    );
}

#[test]
fn sixteen_mib_bodies_for_every_parser() {
    let pad = "x".repeat(SIXTEEN_MIB);
    // A valid body with a 16 MiB unknown field: every parser reads it.
    let padded = |valid: &str| patch(valid, "{", &format!(r#"{{"zz_pad": "{pad}", "#));
    for p in all_parsers() {
        let r = (p.parse)(&response(200, padded(p.valid).as_bytes()));
        assert_eq!(r, Ok(()), "{}", p.name);

        // 16 MiB that is not JSON: malformed, and the error's Debug/Display stay short.
        let garbage = pad.as_bytes();
        let e = (p.parse)(&response(200, garbage)).unwrap_err();
        assert!(
            matches!(e, Error::MalformedResponse { .. }),
            "{}: {e:?}",
            p.name
        );
        assert!(format!("{e:?}").len() < 4096 && e.to_string().len() < 4096);

        // A 16 MiB JSON error body: a service error that keeps the whole body.
        let error = format!(
            r#"{{"status": 413, "error": true, "message": "Request Entity Too Large.", "service": "Balancer", "zz": "{pad}"}}"#
        );
        let e = (p.parse)(&response(413, error.as_bytes())).unwrap_err();
        let s = e.service_error().expect("service error");
        assert_eq!(
            (s.status, s.message.as_str()),
            (413, "Request Entity Too Large.")
        );
        assert_eq!(s.body.as_bytes().len(), error.len());
        assert!(format!("{e:?}").len() < 4096 && e.to_string().len() < 4096);
    }
}

#[test]
fn sixteen_mib_where_now_and_subscribe_bodies() {
    let mut body = String::from(r#"{"status": 200, "payload": {"channels": ["#);
    let mut n = 0usize;
    while body.len() < SIXTEEN_MIB {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#""channel-{n}""#));
        n += 1;
    }
    body.push_str("]}}");
    let out = WhereNow::new()
        .parse_response(&response(200, body.as_bytes()))
        .unwrap();
    assert_eq!(out.channels.len(), n);
    assert_eq!(out.channels[n - 1], format!("channel-{}", n - 1));

    let mut body = String::from(r#"{"t":{"t":"17","r":1},"m":["#);
    let mut n = 0usize;
    while body.len() < SIXTEEN_MIB {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"a":"4","f":0,"p":{{"t":"{n}","r":1}},"k":"demo","c":"ch1-pnpres","d":{{"action":"join","timestamp":1,"uuid":"u{n}","occupancy":{n}}},"b":"ch1-pnpres"}}"#
        ));
        n += 1;
    }
    body.push_str("]}");
    let out = Subscribe::new()
        .channels(["ch1"])
        .parse_response(&response(200, body.as_bytes()))
        .unwrap();
    assert_eq!(out.events.len(), n);
    assert_eq!(
        out.events[n - 1].change().unwrap().user_id,
        format!("u{}", n - 1)
    );
}

// ---------------------------------------------------------------------------------------
// presence_event::parse_payload

#[test]
fn presence_event_payload_table() {
    // (payload, Ok(action) or Err(fragment of the message))
    let cases: Vec<(Value, Result<&str, &str>)> = vec![
        (json!(null), Err("not an object")),
        (json!([]), Err("not an object")),
        (json!("join"), Err("not an object")),
        (json!(5), Err("not an object")),
        (json!({}), Err("no string `action`")),
        (json!({"action": 5}), Err("no string `action`")),
        (json!({"action": null}), Err("no string `action`")),
        (json!({"action": ["join"]}), Err("no string `action`")),
        (json!({"action": "join"}), Err("`uuid`")),
        (json!({"action": "join", "uuid": 5}), Err("`uuid`")),
        (json!({"action": "join", "uuid": null}), Err("`uuid`")),
        (json!({"action": "join", "uuid": {}}), Err("`uuid`")),
        (
            json!({"action": "bogus", "uuid": "u"}),
            Err("unknown presence action"),
        ),
        (
            json!({"action": "JOIN", "uuid": "u"}),
            Err("unknown presence action"),
        ),
        (
            json!({"action": "", "uuid": "u"}),
            Err("unknown presence action"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": -1}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": 1.5}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": 18446744073709551616.0}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": "x"}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": "-1"}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": "18446744073709551616"}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": true}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": null}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": []}),
            Err("timestamp"),
        ),
        (
            json!({"action": "join", "uuid": "u", "occupancy": "x"}),
            Err("occupancy"),
        ),
        (
            json!({"action": "join", "uuid": "u", "occupancy": -1}),
            Err("occupancy"),
        ),
        (
            json!({"action": "join", "uuid": "u", "occupancy": 2.5}),
            Err("occupancy"),
        ),
        (
            json!({"action": "join", "uuid": "u", "occupancy": []}),
            Err("occupancy"),
        ),
        (
            json!({"action": "join", "uuid": "u", "occupancy": {}}),
            Err("occupancy"),
        ),
        (
            json!({"action": "join", "uuid": "u", "occupancy": true}),
            Err("occupancy"),
        ),
        (
            json!({"action": "interval", "join": 5}),
            Err("`join` is not an array"),
        ),
        (
            json!({"action": "interval", "leave": "u"}),
            Err("`leave` is not an array"),
        ),
        (
            json!({"action": "interval", "timeout": {}}),
            Err("`timeout` is not an array"),
        ),
        (
            json!({"action": "interval", "join": [5]}),
            Err("`join` is not an array of user id strings"),
        ),
        (
            json!({"action": "interval", "join": [null]}),
            Err("`join` is not an array of user id strings"),
        ),
        (
            json!({"action": "interval", "timeout": [["u"]]}),
            Err("`timeout` is not an array of user id strings"),
        ),
        // Accepted.
        (json!({"action": "join", "uuid": "u"}), Ok("join")),
        (
            json!({"action": "leave", "uuid": "", "occupancy": null}),
            Ok("leave"),
        ),
        (
            json!({"action": "timeout", "uuid": "u", "timestamp": " 7 "}),
            Ok("timeout"),
        ),
        (
            json!({"action": "state-change", "uuid": "u", "data": [1], "zz": {}}),
            Ok("state-change"),
        ),
        (
            json!({"action": "join", "uuid": "u", "timestamp": 18446744073709551615u64, "occupancy": 18446744073709551615u64}),
            Ok("join"),
        ),
        (
            json!({"action": "interval", "here_now_refresh": "yes", "join": null}),
            Ok("interval"),
        ),
        (
            json!({"action": "interval", "join": [], "leave": ["a"], "timeout": ["b", "c"], "zz": [1]}),
            Ok("interval"),
        ),
    ];
    let mut failures = Vec::new();
    for (d, expect) in cases {
        let got = parse_payload("ch1".into(), Some("cg1".into()), "17".into(), d.clone());
        let ok = match (&got, expect) {
            (Ok(event), Ok(action)) => {
                event.action() == action && event.channel() == "ch1" && event.timetoken() == "17"
            }
            (Err(msg), Err(fragment)) => msg.to_string().contains(fragment),
            _ => false,
        };
        if !ok {
            failures.push(format!("  {d}: expected {expect:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "failed:\n{}", failures.join("\n"));
}

#[test]
fn presence_event_values_are_exact() {
    let event = parse_payload(
        "ch1".into(),
        None,
        "17".into(),
        json!({"action": "interval", "timestamp": "1720033913", "occupancy": 18446744073709551615u64,
               "here_now_refresh": "yes", "join": ["a"], "leave": null, "timeout": ["b"]}),
    )
    .unwrap();
    match event {
        PresenceEvent::Interval(i) => {
            assert_eq!((i.timestamp, i.occupancy), (1_720_033_913, u64::MAX));
            assert!(!i.here_now_refresh, "only JSON true means refresh");
            assert_eq!(
                (i.join, i.leave, i.timeout),
                (vec!["a".to_owned()], vec![], vec!["b".to_owned()])
            );
        }
        other => panic!("{other:?}"),
    }
    // `data: null` is no state; `state` is read when `data` is absent.
    let event = parse_payload(
        "c".into(),
        None,
        "1".into(),
        json!({"action": "state-change", "uuid": "u", "data": null}),
    )
    .unwrap();
    assert_eq!(event.change().unwrap().state, None);
    let event = parse_payload(
        "c".into(),
        None,
        "1".into(),
        json!({"action": "join", "uuid": "u", "state": {"k": 1}}),
    )
    .unwrap();
    assert_eq!(
        event.change().unwrap().state.clone().unwrap(),
        json!({"k": 1})
    );
}

/// States the service accepts and stores but `Value` cannot hold (a lone surrogate, a
/// number beyond `f64`) are delivered as their text, in here now, get state and
/// presence events alike; every other field and occupant reads normally (issue 16).
#[test]
fn odd_states_are_delivered_not_fatal() {
    let r = |body: String| response(200, body.as_bytes());
    let odd = r#"{"name": "x\ud800y", "n": 1e999999}"#;
    let here_now = format!(
        r#"{{"status": 200, "occupancy": 2, "uuids": [{{"uuid": "odd", "state": {odd}}}, {{"uuid": "ok", "state": {{"k": 1}}}}]}}"#
    );
    let out = HereNow::new()
        .channels(["ch1"])
        .include_state(true)
        .parse_response(&r(here_now))
        .unwrap();
    let occupants = &out.channels[0].occupants;
    assert_eq!(occupants[0].state.as_ref().unwrap().get(), odd);
    assert!(occupants[0].state.as_ref().unwrap().to_value().is_err());
    assert_eq!(occupants[1].state.as_ref().unwrap(), &json!({"k": 1}));

    let get_state = format!(
        r#"{{"status": 200, "message": "OK", "payload": {{"channels": {{"a": {odd}, "b": {{"k": 1}}}}}}, "uuid": "odd", "service": "Presence"}}"#
    );
    let out = GetState::new()
        .channels(["a", "b"])
        .parse_response(&r(get_state))
        .unwrap();
    assert_eq!(out.channels["a"].get(), odd);
    assert_eq!(out.channels["b"], json!({"k": 1}));
    let single = format!(
        r#"{{"status": 200, "payload": {odd}, "uuid": "odd", "channel": "a", "service": "Presence"}}"#
    );
    let out = GetState::new()
        .channels(["a"])
        .parse_response(&r(single))
        .unwrap();
    assert_eq!(out.channels["a"].get(), odd);

    let envelope = format!(
        r#"{{"t": {{"t": "2", "r": 1}}, "m": [{{"c": "a-pnpres", "p": {{"t": "1"}}, "d": {{"action": "state-change", "uuid": "odd", "occupancy": 1, "timestamp": 1, "data": {odd}}}}}, {{"c": "a-pnpres", "p": {{"t": "2"}}, "d": {{"action": "join", "uuid": "ok", "occupancy": 2, "timestamp": 1}}}}]}}"#
    );
    let out = presence_core::Subscribe::new()
        .channels(["a"])
        .parse_response(&r(envelope))
        .unwrap();
    assert!(out.unreadable.is_empty(), "{:?}", out.unreadable);
    assert_eq!(out.events.len(), 2);
    assert_eq!(
        out.events[0]
            .change()
            .unwrap()
            .state
            .as_ref()
            .unwrap()
            .get(),
        odd
    );
    assert_eq!(out.events[1].change().unwrap().user_id, "ok");
}

// ---------------------------------------------------------------------------------------
// Deep nesting (on an ordinary test thread: 2 MiB of stack)

/// A 100 000-level nest is an error wherever it is: as the whole body, inside a read
/// field (serde_json's recursion limit) or inside an unknown field (presence-core's depth
/// scan, `response::MAX_DEPTH`); and nothing overflows the stack.
#[test]
fn deep_nesting_never_overflows_the_stack() {
    let arrays = nested_arrays(DEPTH);
    let objects = nested_objects(DEPTH);
    let r = |body: String| response(200, body.as_bytes());
    for p in all_parsers() {
        for body in [&arrays, &objects] {
            // Whole body: must not overflow; arrays are rejected by every parser.
            let _ = (p.parse)(&r(body.clone()));
            // Inside an unknown field of a valid body: must not overflow.
            let _ = (p.parse)(&r(patch(p.valid, "{", &format!(r#"{{"deep": {body}, "#))));
            // As a 4xx body: unreadable, so an unexpected status.
            let e = (p.parse)(&response(400, body.as_bytes())).unwrap_err();
            assert!(
                matches!(e, Error::UnexpectedStatus { status: 400, .. }),
                "{}",
                p.name
            );
        }
        let e = (p.parse)(&r(arrays.clone())).unwrap_err();
        assert!(
            matches!(e, Error::MalformedResponse { .. }),
            "{}: {e:?}",
            p.name
        );
    }
    let is_malformed = |r: Result<(), Error>| matches!(r, Err(Error::MalformedResponse { .. }));
    // Read fields holding a deep nest: malformed.
    for nest in [&arrays, &objects] {
        let here_now = format!(
            r#"{{"status": 200, "uuids": [{{"uuid": "u", "state": {nest}}}], "occupancy": 1}}"#
        );
        assert!(is_malformed((here_now_single().parse)(&r(here_now))));
        let payload = format!(
            r#"{{"status": 200, "payload": {{"channels": {{"ch1": {{"occupancy": 1, "uuids": {nest}}}}}}}}}"#
        );
        assert!(is_malformed((here_now_multi().parse)(&r(payload))));
        let where_now = format!(r#"{{"status": 200, "payload": {{"channels": {nest}}}}}"#);
        assert!(is_malformed((self::where_now().parse)(&r(where_now))));
        let state = format!(r#"{{"status": 200, "payload": {nest}}}"#);
        assert!(is_malformed((set_state().parse)(&r(state.clone()))));
        assert!(is_malformed((get_state_single().parse)(&r(state.clone()))));
        assert!(is_malformed((get_state_multi().parse)(&r(state))));
        let sub =
            format!(r#"{{"t": {{"t": "1", "r": 1}}, "m": [{{"c": "ch1-pnpres", "d": {nest}}}]}}"#);
        assert!(is_malformed((subscribe().parse)(&r(sub))));
        let cursor = format!(r#"{{"t": {nest}, "m": []}}"#);
        assert!(is_malformed((subscribe().parse)(&r(cursor))));
    }
    // The parsers that need a field reject a body that is only `{"a":{"a":…}}`.
    for p in [
        here_now_single(),
        here_now_multi(),
        here_now_groups(),
        here_now_global(),
        set_state(),
        subscribe(),
    ] {
        assert!(is_malformed((p.parse)(&r(objects.clone()))), "{}", p.name);
    }
}

// ---------------------------------------------------------------------------------------
// Bugs found by these tables (fixed; kept as regression tests)

/// Was a bug (fixed in 0806465): serde_json skips unknown fields iteratively, without its
/// recursion limit, so heartbeat, leave, where now and get state returned `Ok` for
/// `{"a":{"a":…}}` 100 000 levels deep, and every parser for a valid body with such a
/// field; issue 7 asks for an error.
#[test]
fn deep_nest_in_unknown_field_is_an_error() {
    let objects = nested_objects(DEPTH);
    let mut wrong = Vec::new();
    for p in all_parsers() {
        let inside = patch(p.valid, "{", &format!(r#"{{"deep": {objects}, "#));
        for (what, body) in [
            ("{\"a\":{\"a\":…}}", objects.as_str()),
            ("valid body + \"deep\": {\"a\":…}", &inside),
        ] {
            match (p.parse)(&response(200, body.as_bytes())) {
                Err(Error::MalformedResponse { expected, .. }) if expected == p.expected => {}
                other => wrong.push(format!("{}: {what}: {other:?}", p.name)),
            }
        }
    }
    assert!(wrong.is_empty(), "not malformed:\n{}", wrong.join("\n"));
}

/// Was a bug (fixed in 0806465): the envelope check (`status: Option<i64>`, `>= 400`) and
/// the classifier (`status` as a `u16`) disagreed for a 2xx body whose `status` is above
/// 65 535, giving `MalformedResponse { expected: "service error body", detail: "error
/// flagged but unreadable" }` for a readable body.
#[test]
fn status_above_u16_is_one_consistent_error() {
    for body in [
        r#"{"status": 70000}"#,
        r#"{"status": 65536, "message": "OK"}"#,
    ] {
        for p in all_parsers() {
            let e = (p.parse)(&response(200, body.as_bytes())).unwrap_err();
            let consistent = match &e {
                Error::Service(s) => s.status >= 400,
                Error::MalformedResponse { expected, .. } => *expected == p.expected,
                _ => false,
            };
            assert!(consistent, "{} on {body}: {e:?}", p.name);
        }
    }
}

/// Short description of a parse result (no body).
fn outcome(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "Ok".into(),
        Err(Error::MalformedResponse {
            expected, detail, ..
        }) => format!("MalformedResponse {{ expected: {expected:?}, detail: {detail:?} }}"),
        Err(e) => format!("{} {:?}", e.kind(), e.status()),
    }
}

/// Was a bug (fixed in ff804ca): a 2xx body that flags an error (`status` >= 400 / truthy
/// `error`) but holds something the typed parse skips leniently in an unknown field, while
/// the classifier's `serde_json::Value` parse rejects it, became `MalformedResponse {
/// expected: "service error body", detail: "error flagged but unreadable" }` on every
/// parser:
/// - nesting of exactly 128 levels: `response::MAX_DEPTH` was 128, one more than what
///   serde_json's recursion limit lets the `Value` parse build (127);
/// - invalid UTF-8 bytes, a lone surrogate escape, or a number out of `f64` range (`1e400`)
///   inside an ignored string/number: serde_json skips ignored values without validating
///   them.
///
/// Now, at every depth, the flagged body is the service error (status 403 here) or the
/// operation's own `MalformedResponse`, consistently with the same body on a 403 (an
/// `UnexpectedStatus` when unreadable).
#[test]
fn flagged_body_the_classifier_cannot_read_is_consistent() {
    let mut bodies: Vec<(String, Vec<u8>)> = (120..=136)
        .map(|depth| {
            let body = format!(
                r#"{{"status": 403, "error": 1, "deep": {}}}"#,
                nested_arrays(depth - 1)
            );
            (format!("nesting depth {depth}"), body.into_bytes())
        })
        .collect();
    bodies.push((
        "invalid UTF-8 in an unknown string".into(),
        b"{\"status\": 403, \"error\": 1, \"x\": \"\xff\"}".to_vec(),
    ));
    bodies.push((
        "lone surrogate in an unknown string".into(),
        br#"{"status": 403, "error": 1, "x": "\udc00"}"#.to_vec(),
    ));
    bodies.push((
        "1e400 in an unknown field".into(),
        br#"{"status": 403, "error": 1, "x": 1e400}"#.to_vec(),
    ));
    let mut wrong = Vec::new();
    for (what, body) in &bodies {
        for p in all_parsers() {
            let ok_status = (p.parse)(&response(200, body));
            let error_status = (p.parse)(&response(403, body));
            let consistent = match (&ok_status, &error_status) {
                (Err(Error::Service(a)), Err(Error::Service(b))) => {
                    a.status == 403 && b.status == 403
                }
                (
                    Err(Error::MalformedResponse { expected, .. }),
                    Err(Error::UnexpectedStatus { .. }),
                ) => *expected == p.expected,
                _ => false,
            };
            if !consistent {
                wrong.push(format!(
                    "{what}, {}: 200 -> {}, 403 -> {}",
                    p.name,
                    outcome(&ok_status),
                    outcome(&error_status)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "inconsistent:\n{}", wrong.join("\n"));
}

/// Was a bug (fixed in ff804ca): invalid UTF-8 inside an unknown field of a 2xx body was
/// accepted (`Ok`); a body that is not UTF-8 is not JSON (RFC 8259 §8.1).
#[test]
fn invalid_utf8_in_unknown_field_is_malformed() {
    let mut wrong = Vec::new();
    for p in all_parsers() {
        let body = [
            b"{\"zz\": \"\xff\xfe\", ".as_slice(),
            &p.valid.as_bytes()[1..],
        ]
        .concat();
        let r = (p.parse)(&response(200, &body));
        if !matches!(&r, Err(Error::MalformedResponse { expected, .. }) if *expected == p.expected)
        {
            wrong.push(format!("{}: {}", p.name, outcome(&r)));
        }
    }
    assert!(wrong.is_empty(), "accepted:\n{}", wrong.join("\n"));
}

/// One presence payload `d` read the public way: inside a subscribe envelope on
/// `<channel>-pnpres` (matched through `<subscription>-pnpres` when given), as the one
/// event or the one unreadable message of the batch.
fn parse_payload(
    channel: String,
    subscription: Option<String>,
    timetoken: String,
    d: serde_json::Value,
) -> Result<PresenceEvent, presence_core::EventError> {
    let b = subscription.as_deref().unwrap_or(&channel);
    let body = json!({
        "t": {"t": "1", "r": 1},
        "m": [{"c": format!("{channel}-pnpres"), "b": format!("{b}-pnpres"), "p": {"t": timetoken}, "d": d}],
    });
    let out = presence_core::Subscribe::new()
        .channels([channel.as_str()])
        .parse_response(&http::Response::new(body.to_string().into_bytes()))
        .expect("the envelope parses");
    match (
        out.events.into_iter().next(),
        out.unreadable.into_iter().next(),
    ) {
        (Some(event), None) => Ok(event),
        (None, Some(bad)) => Err(bad.reason),
        other => panic!("one event or one unreadable message, got {other:?}"),
    }
}
