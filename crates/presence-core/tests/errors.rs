//! Every error body of PROTOCOL.md §4.3 and §5.1 (and the non-JSON bodies the SDK tests
//! use), parsed with the documented HTTP status, checking the typed error.

mod common;

use common::{fixture, parse_with_every_op, response, response_with_header};
use presence_core::{
    Error, ErrorKind, GetState, Heartbeat, HereNow, Leave, Operation, RawBody, ServiceError,
    SetState, WhereNow,
};

/// What a service error must carry.
struct Expect {
    status: u16,
    http_status: u16,
    message: &'static str,
    service: Option<&'static str>,
    channels: &'static [&'static str],
    channel_groups: &'static [&'static str],
    retry_after: Option<u64>,
}

impl Expect {
    fn new(status: u16, message: &'static str, service: Option<&'static str>) -> Self {
        Self {
            status,
            http_status: status,
            message,
            service,
            channels: &[],
            channel_groups: &[],
            retry_after: None,
        }
    }
}

fn service_error(err: &Error) -> &ServiceError {
    match err {
        Error::Service(e) => e,
        other => panic!("expected a service error, got {other:?}"),
    }
}

fn check(err: &Error, body: &[u8], want: &Expect) {
    let e = service_error(err);
    assert_eq!(e.status, want.status, "status of {err:?}");
    assert_eq!(e.http_status, want.http_status, "http_status of {err:?}");
    assert_eq!(e.message, want.message);
    assert_eq!(e.service.as_deref(), want.service);
    assert_eq!(e.channels, want.channels);
    assert_eq!(e.channel_groups, want.channel_groups);
    assert_eq!(e.retry_after, want.retry_after);
    assert_eq!(e.body, RawBody(body.to_vec()));
    assert_eq!(e.body.as_bytes(), body);
    assert_eq!(err.kind(), ErrorKind::Service);
    assert_eq!(err.status(), Some(want.status));
    assert_eq!(err.service_error().map(|s| s.status), Some(want.status));
}

// ---------------------------------------------------------------- HTTP error statuses

#[test]
fn heartbeat_404_with_string_error_flag_synthetic_go() {
    let body = fixture("error_heartbeat_404_string_error_synthetic_go.json");
    let err = Heartbeat::new()
        .channels(["ch"])
        .parse_response(&response(404, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect::new(404, "Not Found", Some("Presence")),
    );
    assert!(!err.is_retryable());
}

#[test]
fn heartbeat_400_whose_message_says_ok_synthetic_js() {
    let body = fixture("error_heartbeat_400_message_ok_synthetic_js.json");
    let err = Heartbeat::new()
        .channels(["ch1"])
        .parse_response(&response(400, &body))
        .unwrap_err();
    check(&err, &body, &Expect::new(400, "OK", Some("Presence")));
}

#[test]
fn get_state_400_invalid_json_synthetic_go() {
    let body = fixture("error_400_invalid_json_synthetic_go.json");
    let err = GetState::new()
        .channels(["ch"])
        .parse_response(&response(400, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect::new(400, "Invalid JSON specified.", Some("Presence")),
    );
}

#[test]
fn pam_403_with_channels_recorded() {
    let body = fixture("error_pam_403_channels_recorded.json");
    let err = Leave::new()
        .channels(["not-permitted-channel"])
        .parse_response(&response(403, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect {
            channels: &["not-permitted-channel"],
            ..Expect::new(403, "Forbidden", Some("Access Manager"))
        },
    );
    assert_eq!(
        err.to_string(),
        "Access Manager error 403: Forbidden (channels: not-permitted-channel)"
    );
}

#[test]
fn pam_403_with_channel_groups_documented_rust() {
    let body = fixture("error_pam_403_channel_groups_documented_rust.json");
    let err = HereNow::new()
        .channels(["test-channel1"])
        .channel_groups(["test-group1"])
        .parse_response(&response(403, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect {
            channels: &["test-channel1"],
            channel_groups: &["test-group1"],
            ..Expect::new(403, "Forbidden", Some("Access Manager"))
        },
    );
    assert_eq!(
        err.to_string(),
        "Access Manager error 403: Forbidden (channels: test-channel1) (channel groups: test-group1)"
    );
}

#[test]
fn pam_v3_invalid_signature_documented_rust() {
    let body = fixture("error_pam_v3_invalid_signature_documented_rust.json");
    let err = WhereNow::new()
        .parse_response(&response(403, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect::new(403, "Invalid signature", Some("Access Manager")),
    );
}

#[test]
fn balancer_413_documented_rust() {
    let body = fixture("error_413_balancer_documented_rust.json");
    let err = HereNow::new()
        .channels(["a"])
        .parse_response(&response(413, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect::new(413, "Request Entity Too Large.", Some("Balancer")),
    );
    assert!(!err.is_retryable());
}

#[test]
fn too_many_requests_429_documented_rust() {
    let body = fixture("error_429_documented_rust.json");
    let err = Heartbeat::new()
        .channels(["a"])
        .parse_response(&response(429, &body))
        .unwrap_err();
    check(&err, &body, &Expect::new(429, "Too many requests.", None));
    assert!(err.is_retryable());
}

#[test]
fn error_message_400_with_top_level_channels_documented_rust() {
    // `channels` outside a PAM `payload` names no channels.
    let body = fixture("error_400_error_message_documented_rust.json");
    let err = SetState::new()
        .channels(["a"])
        .state(serde_json::json!({}))
        .parse_response(&response(400, &body))
        .unwrap_err();
    check(&err, &body, &Expect::new(400, "Invalid Arguments", None));
}

#[test]
fn error_message_403_documented_rust() {
    let body = fixture("error_403_error_message_documented_rust.json");
    let err = GetState::new()
        .channels(["a"])
        .parse_response(&response(403, &body))
        .unwrap_err();
    check(&err, &body, &Expect::new(403, "Invalid Arguments", None));
}

#[test]
fn error_object_409_documented_rust() {
    let body = fixture("error_409_error_object_documented_rust.json");
    let err = Leave::new()
        .channels(["a"])
        .parse_response(&response(409, &body))
        .unwrap_err();
    check(&err, &body, &Expect::new(409, "Action Already Added", None));
}

#[test]
fn not_modified_array_documented_rust() {
    let body = fixture("error_not_modified_array_documented_rust.json");
    // Not a JSON object: with an error status it is an unexpected status…
    let err = HereNow::new()
        .channels(["a"])
        .parse_response(&response(304, &body))
        .unwrap_err();
    assert_eq!(
        err,
        Error::UnexpectedStatus {
            status: 304,
            body: RawBody(body.clone())
        }
    );
    // …and with 200 a malformed body for every operation.
    for (op, result) in parse_with_every_op(200, &body) {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{op}: {err:?}");
        match err {
            Error::MalformedResponse { body: b, .. } => assert_eq!(b.as_bytes(), &body[..]),
            other => panic!("{op}: {other:?}"),
        }
    }
}

/// (fixture, HTTP status, optional header, message)
type JsCase = (
    &'static str,
    u16,
    Option<(&'static str, &'static str)>,
    &'static str,
);

#[test]
fn js_http_status_mocks() {
    let cases: [JsCase; 6] = [
        (
            "error_401_unauthorized_synthetic_js.json",
            401,
            None,
            "Unauthorized",
        ),
        (
            "error_429_too_many_requests_synthetic_js.json",
            429,
            Some(("retry-after", "60")),
            "Too Many Requests",
        ),
        (
            "error_502_bad_gateway_synthetic_js.json",
            502,
            None,
            "Bad Gateway",
        ),
        (
            "error_503_service_unavailable_synthetic_js.json",
            503,
            Some(("Retry-After", "30")),
            "Service Unavailable",
        ),
        (
            "error_408_request_timeout_synthetic_js.json",
            408,
            None,
            "Request Timeout",
        ),
        (
            "error_403_forbidden_synthetic_js.json",
            403,
            None,
            "Forbidden",
        ),
    ];
    for (name, status, header, message) in cases {
        let body = fixture(name);
        let resp = match header {
            Some((h, v)) => response_with_header(status, h, v, &body),
            None => response(status, &body),
        };
        let err = HereNow::new()
            .channels(["ch1"])
            .parse_response(&resp)
            .unwrap_err();
        let retry_after = header.map(|(_, v)| v.parse().unwrap());
        check(
            &err,
            &body,
            &Expect {
                retry_after,
                ..Expect::new(status, message, Some("Presence"))
            },
        );
        // One rule for the engines and for `Error` (they used to disagree on 408).
        let retryable = matches!(status, 408 | 429) || status >= 500;
        assert_eq!(err.is_retryable(), retryable, "{name}");
        assert_eq!(
            presence_core::Failure::Response(err.clone()).is_retryable(),
            retryable,
            "{name}"
        );
    }
}

// ---------------------------------------------------------------- false 200 (§10.7)

#[test]
fn false_200_feature_not_enabled_402_synthetic_js() {
    let body = fixture("error_false_200_402_feature_not_enabled_synthetic_js.json");
    let err = HereNow::new()
        .parse_response(&response(200, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect {
            http_status: 200,
            ..Expect::new(
                402,
                "This feature is not turned on for this account. Contact support@pubnub.com to activate this feature.",
                Some("Presence"),
            )
        },
    );
}

#[test]
fn false_200_service_unavailable_503_synthetic_js() {
    let body = fixture("error_false_200_503_synthetic_js.json");
    let err = HereNow::new()
        .channels(["ch1", "ch2"])
        .parse_response(&response(200, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect {
            http_status: 200,
            ..Expect::new(503, "Service Unavailable", Some("Presence"))
        },
    );
    assert!(err.is_retryable());
}

#[test]
fn false_200_access_denied_403_synthetic_js() {
    let body = fixture("error_false_200_403_synthetic_js.json");
    let err = WhereNow::new()
        .parse_response(&response(200, &body))
        .unwrap_err();
    check(
        &err,
        &body,
        &Expect {
            http_status: 200,
            ..Expect::new(403, "Access Denied", Some("Presence"))
        },
    );
}

/// The JSON error bodies, their documented HTTP status and expected message.
const ERROR_BODIES: &[(&str, u16, u16, &str)] = &[
    // (fixture, HTTP status, reported status, message)
    ("error_heartbeat_404_string_error_synthetic_go.json", 404, 404, "Not Found"),
    ("error_heartbeat_400_message_ok_synthetic_js.json", 400, 400, "OK"),
    ("error_400_invalid_json_synthetic_go.json", 400, 400, "Invalid JSON specified."),
    ("error_false_200_402_feature_not_enabled_synthetic_js.json", 200, 402, "This feature is not turned on for this account. Contact support@pubnub.com to activate this feature."),
    ("error_false_200_503_synthetic_js.json", 200, 503, "Service Unavailable"),
    ("error_false_200_403_synthetic_js.json", 200, 403, "Access Denied"),
    ("error_pam_403_channels_recorded.json", 403, 403, "Forbidden"),
    ("error_pam_403_channel_groups_documented_rust.json", 403, 403, "Forbidden"),
    ("error_pam_v3_invalid_signature_documented_rust.json", 403, 403, "Invalid signature"),
    ("error_413_balancer_documented_rust.json", 413, 413, "Request Entity Too Large."),
    ("error_429_documented_rust.json", 429, 429, "Too many requests."),
    ("error_400_error_message_documented_rust.json", 400, 400, "Invalid Arguments"),
    ("error_403_error_message_documented_rust.json", 403, 403, "Invalid Arguments"),
    ("error_409_error_object_documented_rust.json", 409, 409, "Action Already Added"),
    ("error_401_unauthorized_synthetic_js.json", 401, 401, "Unauthorized"),
    ("error_429_too_many_requests_synthetic_js.json", 429, 429, "Too Many Requests"),
    ("error_502_bad_gateway_synthetic_js.json", 502, 502, "Bad Gateway"),
    ("error_503_service_unavailable_synthetic_js.json", 503, 503, "Service Unavailable"),
    ("error_408_request_timeout_synthetic_js.json", 408, 408, "Request Timeout"),
    ("error_403_forbidden_synthetic_js.json", 403, 403, "Forbidden"),
];

#[test]
fn every_error_body_is_the_same_service_error_for_every_operation() {
    // Status handling is written once: each operation reports the same error.
    for &(name, http_status, status, message) in ERROR_BODIES {
        let body = fixture(name);
        for (op, result) in parse_with_every_op(http_status, &body) {
            let err = result.unwrap_err();
            let e = service_error(&err);
            assert_eq!(
                (e.status, e.http_status, e.message.as_str()),
                (status, http_status, message),
                "{name} via {op}"
            );
        }
    }
}

#[test]
fn every_error_body_is_a_service_error_even_with_http_200() {
    // The "false 200": every documented error body says `status` >= 400 or `error`.
    for &(name, _, status, message) in ERROR_BODIES {
        let body = fixture(name);
        for (op, result) in parse_with_every_op(200, &body) {
            let err = result.unwrap_err();
            let e = service_error(&err);
            assert_eq!(
                (e.status, e.http_status, e.message.as_str()),
                (status, 200, message),
                "{name} via {op}"
            );
        }
    }
}

#[test]
fn error_flag_spellings_make_a_false_200() {
    for body in [
        br#"{"status": 200, "error": 1, "message": "nope"}"#.as_slice(),
        br#"{"status": 200, "error": true, "message": "nope"}"#,
        br#"{"status": 200, "error": "1", "message": "nope"}"#,
        br#"{"error": {"message": "nope"}}"#,
    ] {
        for (op, result) in parse_with_every_op(200, body) {
            let err = result.unwrap_err();
            let e = service_error(&err);
            assert_eq!((e.message.as_str(), e.http_status), ("nope", 200), "{op}");
        }
    }
    // Falsy flags are not errors.
    for body in [
        br#"{"status": 200, "error": 0, "message": "OK", "service": "Presence"}"#.as_slice(),
        br#"{"status": 200, "error": false, "message": "OK", "service": "Presence"}"#,
        br#"{"status": 200, "error": "0", "message": "OK", "service": "Presence"}"#,
        br#"{"status": 200, "error": null, "message": "OK", "service": "Presence"}"#,
    ] {
        assert_eq!(
            Heartbeat::new()
                .channels(["a"])
                .parse_response(&response(200, body)),
            Ok(())
        );
    }
}

// ---------------------------------------------------------------- non-JSON bodies

#[test]
fn non_json_bodies_with_200_are_malformed_for_every_operation() {
    let expected = [
        ("here_now single", "here now body"),
        ("here_now multi", "here now body"),
        ("here_now groups", "here now body"),
        ("here_now global", "here now body"),
        ("where_now", "where now body"),
        ("heartbeat", "heartbeat body"),
        ("leave", "leave body"),
        ("set_state", "set state body"),
        ("get_state single", "get state body"),
        ("get_state multi", "get state body"),
    ];
    for name in [
        "nonjson_empty_body_synthetic_js.txt",
        "nonjson_truncated_json_synthetic_js.txt",
        "nonjson_html_error_page_synthetic_js.html",
        "nonjson_s_synthetic_go.txt",
    ] {
        let body = fixture(name);
        for ((op, result), (op2, what)) in parse_with_every_op(200, &body).into_iter().zip(expected)
        {
            assert_eq!(op, op2);
            match result {
                Err(Error::MalformedResponse {
                    expected,
                    detail,
                    body: raw,
                }) => {
                    assert_eq!(expected, what, "{name} via {op}");
                    assert!(!detail.is_empty());
                    assert_eq!(raw.as_bytes(), &body[..]);
                }
                other => panic!("{name} via {op}: {other:?}"),
            }
        }
    }
}

#[test]
fn go_s_body_is_malformed_here_now() {
    let err = HereNow::new()
        .channels(["ch"])
        .parse_response(&response(200, &fixture("nonjson_s_synthetic_go.txt")))
        .unwrap_err();
    assert!(
        matches!(&err, Error::MalformedResponse { expected: "here now body", body, .. } if body.as_bytes() == b"s"),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::MalformedResponse);
    assert_eq!(err.status(), None);
}

#[test]
fn non_json_bodies_with_error_statuses_are_unexpected_statuses() {
    for (name, status) in [
        ("nonjson_empty_body_synthetic_js.txt", 502),
        ("nonjson_truncated_json_synthetic_js.txt", 500),
        ("nonjson_html_error_page_synthetic_js.html", 500),
        ("nonjson_html_error_page_synthetic_js.html", 404),
        ("nonjson_s_synthetic_go.txt", 400),
    ] {
        let body = fixture(name);
        for (op, result) in parse_with_every_op(status, &body) {
            assert_eq!(
                result,
                Err(Error::UnexpectedStatus {
                    status,
                    body: RawBody(body.clone())
                }),
                "{name} via {op}"
            );
        }
    }
}

#[test]
fn success_bodies_with_an_error_status_are_service_errors() {
    // An error HTTP status wins over a body that looks like success.
    let body = fixture("heartbeat_ok_recorded.json");
    for (op, result) in parse_with_every_op(500, &body) {
        let err = result.unwrap_err();
        let e = service_error(&err);
        assert_eq!(
            (e.status, e.http_status, e.message.as_str()),
            (500, 500, "OK"),
            "{op}"
        );
        assert!(err.is_retryable());
    }
}

#[test]
fn a_json_array_is_not_a_presence_body() {
    let mut accepted = Vec::new();
    for body in [
        b"[]".as_slice(),
        b"[200]",
        br#"[200, false]"#,
        b"[null]",
        // Positional forms of real fields: a "here now" and a "set state" result.
        br#"[200, false, ["someone"], 1]"#,
        br#"[200, false, {"k": 1}]"#,
    ] {
        for (op, result) in parse_with_every_op(200, body) {
            if !matches!(result, Err(Error::MalformedResponse { .. })) {
                accepted.push(format!(
                    "{op} <- {}: {result:?}",
                    String::from_utf8_lossy(body)
                ));
            }
        }
    }
    assert!(accepted.is_empty(), "{accepted:#?}");
}

#[test]
fn a_service_error_never_reports_a_success_status() {
    for (http_status, body) in [
        (
            200,
            br#"{"status": 200, "error": 1, "message": "nope"}"#.as_slice(),
        ),
        (200, br#"{"error": true, "message": "nope"}"#),
        (304, br#"{"status": 200, "message": "OK"}"#),
    ] {
        for (op, result) in parse_with_every_op(http_status, body) {
            let err = result.unwrap_err();
            let status = err.status().expect("a service error or unexpected status");
            assert!(
                !(200..=299).contains(&status),
                "{op}: HTTP {http_status} {} -> status {status}",
                String::from_utf8_lossy(body),
            );
        }
    }
}

/// A kept body reads as text with invalid UTF-8 replaced; its `Debug` shows at most 256
/// bytes of it and says how many more there were; error kinds print their stable names.
#[test]
fn raw_bodies_and_error_kinds_print_as_documented() {
    let body = RawBody(b"a\xffb".to_vec());
    assert_eq!(body.to_text(), "a\u{fffd}b");
    assert_eq!(body.as_bytes(), b"a\xffb");
    assert_eq!(format!("{body:?}"), "\"a\u{fffd}b\"");
    let exactly = RawBody(vec![b'x'; 256]);
    assert_eq!(format!("{exactly:?}"), format!("\"{}\"", "x".repeat(256)));
    let over = RawBody(vec![b'y'; 300]);
    assert_eq!(
        format!("{over:?}"),
        format!("\"{}\"…(+44 bytes)", "y".repeat(256))
    );
    for (kind, name) in [
        (ErrorKind::InvalidInput, "invalid_input"),
        (ErrorKind::Service, "service"),
        (ErrorKind::UnexpectedStatus, "unexpected_status"),
        (ErrorKind::MalformedResponse, "malformed_response"),
        (ErrorKind::Transport, "transport"),
    ] {
        assert_eq!((kind.to_string(), kind.as_str()), (name.to_owned(), name));
    }
}

/// A 200 whose `error` field is a negative number is a service error (any non-zero
/// number is truthy), and `"error": 0` with a success status is not.
#[test]
fn a_negative_error_flag_is_truthy() {
    let truthy = br#"{"status": 200, "error": -1, "message": "Nope", "service": "Presence"}"#;
    for (op, result) in common::parse_with_each_op(200, truthy) {
        match result {
            Err(Error::Service(e)) => assert_eq!(e.message, "Nope", "{op}"),
            other => panic!("{op}: {other:?}"),
        }
    }
    let falsy = br#"{"status": 200, "error": 0, "message": "OK", "service": "Presence"}"#;
    let heartbeat = Heartbeat::new().parse_response(&response(200, falsy));
    assert!(heartbeat.is_ok(), "{heartbeat:?}");
}
