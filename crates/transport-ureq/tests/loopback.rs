//! Integration tests against real loopback HTTP/1.1 servers (`test_server`: raw
//! `std::net`, so every byte each way is the test's).

use std::time::{Duration, Instant};

use test_server::{get, header_names, header_values, refused_addr, Mode, Server, FORBIDDEN, OK};
use transport_ureq::{Error, UreqTransport};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The transport still serves a normal request after a failure.
fn assert_still_works(t: &UreqTransport, ok: &Server) {
    let resp = t.execute(get(&ok.url("/ok"))).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), OK);
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn every_status_is_a_response_with_its_body_intact() {
    let server = Server::start(Mode::Routes);
    let t = UreqTransport::new();

    // 200 JSON; method, path, query, headers and body reach the server.
    let req = http::Request::post(server.url("/ok?uuid=u1&auth=secret"))
        .header("content-type", "application/json")
        .header("x-test", "1")
        .body(br#"{"a":1}"#.to_vec())
        .unwrap();
    let resp = t.execute(req).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.body(), OK);
    let seen = server.requests()[0].to_ascii_lowercase();
    assert!(
        seen.starts_with("post /ok?uuid=u1&auth=secret http/1.1\r\n"),
        "{seen}"
    );
    assert!(seen.contains("\r\nx-test: 1\r\n"), "{seen}");
    assert!(seen.contains("\r\ncontent-length: 7\r\n"), "{seen}");
    assert!(seen.contains("\r\naccept-encoding: gzip\r\n"), "{seen}");
    assert!(seen.ends_with("\r\n\r\n{\"a\":1}"), "{seen}");

    // 403 with a JSON error body: Ok, body intact.
    let resp = t.execute(get(&server.url("/forbidden"))).unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.body(), FORBIDDEN);

    // A gzip-encoded 403 (as recorded from the service) is decoded.
    let resp = t.execute(get(&server.url("/gzip-forbidden"))).unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.body(), FORBIDDEN);
    assert!(resp.headers().get("content-encoding").is_none());

    // 500.
    let resp = t.execute(get(&server.url("/error"))).unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.body(),
        br#"{"status":500,"error":true,"message":"Internal Server Error"}"#
    );

    // Non-JSON (HTML) body, returned byte for byte.
    let resp = t.execute(get(&server.url("/html"))).unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["content-type"], "text/html");
    assert_eq!(
        resp.body(),
        b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
    );

    // Redirects are not followed: the 3xx itself is the response.
    let resp = t.execute(get(&server.url("/redirect"))).unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/ok");
    assert_eq!(resp.body(), b"moved");

    assert_still_works(&t, &server);
}

#[test]
fn keep_alive_reuses_one_connection_across_clones() {
    let server = Server::start(Mode::Routes);
    let t = UreqTransport::new();
    let clone = t.clone();
    for i in 0..20 {
        let tr = if i % 2 == 0 { &t } else { &clone };
        let resp = tr.execute(get(&server.url("/ok"))).unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(server.requests().len(), 20);
    assert_eq!(server.accepts(), 1, "20 requests must share one connection");
}

#[test]
fn stalled_server_hits_the_overall_timeout() {
    let stall = Server::start(Mode::Stall);
    let ok = Server::start(Mode::Routes);
    let bound = Duration::from_millis(300);

    // Per-call override on a transport whose default bound is 30 s.
    let t = UreqTransport::new();
    let start = Instant::now();
    let err = t
        .execute_with_timeout(get(&stall.url("/x")), bound)
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Timeout { after } if after == bound));
    assert_still_works(&t, &ok);

    // The configured bound also covers reading the body: head sent, body stalls.
    let t = UreqTransport::builder().request_timeout(bound).build();
    let start = Instant::now();
    let err = t.execute(get(&ok.url("/stall-body"))).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, Error::Timeout { after } if after == bound),
        "{err:?}"
    );
    assert_still_works(&t, &ok);
}

#[test]
fn refused_connection_is_a_connect_error_without_the_query() {
    let ok = Server::start(Mode::Routes);
    let t = UreqTransport::new();
    let addr = refused_addr();
    let err = t
        .execute(get(&format!("http://{addr}/v2/presence?auth=SECRET-TOKEN")))
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(!err.is_timeout());
    let shown = format!("{err} / {err:?}");
    assert!(shown.contains(&format!("http://{addr}")), "{shown}");
    assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
    assert!(std::error::Error::source(&err).is_some());
    assert_still_works(&t, &ok);
}

#[test]
fn body_over_the_limit_is_rejected() {
    let ok = Server::start(Mode::Routes);
    let t = UreqTransport::builder().max_body_size(1024).build();
    for path in ["/big", "/big-chunked"] {
        let err = t.execute(get(&ok.url(path))).unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { limit: 1024 }),
            "{path}: {err:?}"
        );
    }
    assert_still_works(&t, &ok);
    // At the limit exactly, with and without a Content-Length.
    let exact = UreqTransport::builder().max_body_size(2000).build();
    let resp = exact.execute(get(&ok.url("/big-chunked"))).unwrap();
    assert_eq!(resp.body(), "x".repeat(2000).as_bytes());
    let big = UreqTransport::builder().max_body_size(64 * 1024).build();
    let resp = big.execute(get(&ok.url("/big"))).unwrap();
    assert_eq!(resp.body().len(), 64 * 1024);
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_error() {
    let plain = Server::start(Mode::PlainToAnything);
    let ok = Server::start(Mode::Routes);
    let t = UreqTransport::builder()
        .request_timeout(Duration::from_secs(5))
        .build();
    let err = t
        .execute(get(&format!("https://{}/time/0", plain.addr)))
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert_still_works(&t, &ok);
}

#[test]
fn invalid_requests_are_rejected_before_sending() {
    let t = UreqTransport::new();
    for uri in ["/relative/only", "ftp://127.0.0.1/file"] {
        let err = t.execute(get(uri)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest { .. }),
            "{uri}: {err:?}"
        );
    }
    let head = http::Request::head("http://127.0.0.1:9/")
        .body(b"x".to_vec())
        .unwrap();
    assert!(matches!(
        t.execute(head).unwrap_err(),
        Error::InvalidRequest { .. }
    ));
}

#[test]
fn error_is_send_sync_static() {
    fn check<T: std::error::Error + Send + Sync + 'static>() {}
    check::<Error>();
}

#[test]
fn host_names_are_resolved_once_per_connection() {
    // The lookup happens when a connection is opened (not per request): a
    // host name must still reach the server, and the pooled connection must
    // still be reused.
    let server = Server::start(Mode::Routes);
    let t = UreqTransport::new();
    let url = format!("http://localhost:{}/ok", server.addr.port());
    for _ in 0..5 {
        let resp = t.execute(get(&url)).unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(server.accepts(), 1, "5 requests must share one connection");
}

#[test]
fn unknown_host_is_a_connect_error() {
    // `.invalid` never resolves (RFC 6761).
    let t = UreqTransport::builder()
        .request_timeout(Duration::from_secs(20))
        .build();
    let err = t
        .execute(get("http://no-such-host.invalid/time/0"))
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[test]
fn requests_carry_the_authority_as_their_one_host_header() {
    let server = Server::start(Mode::Routes);
    let t = UreqTransport::new();
    assert_still_works(&t, &server);
    // A caller's own Host is kept, not doubled.
    let req = http::Request::get(server.url("/ok"))
        .header("host", "example.test")
        .body(Vec::new())
        .unwrap();
    assert_eq!(t.execute(req).unwrap().status(), 200);
    // Credentials in the URI are not part of the host.
    let with_user = format!("http://user:pw@{}/ok", server.addr);
    assert_eq!(t.execute(get(&with_user)).unwrap().status(), 200);
    let seen = server.requests();
    let hosts: Vec<Vec<String>> = seen.iter().map(|req| header_values(req, "host")).collect();
    let addr = server.addr.to_string();
    assert_eq!(
        hosts,
        [
            vec![addr.clone()],
            vec!["example.test".to_owned()],
            vec![addr]
        ]
    );
}

#[test]
fn requests_carry_host_accept_encoding_and_the_callers_headers_only() {
    let server = Server::start(Mode::Routes);
    let t = UreqTransport::new();
    let req = http::Request::get(server.url("/ok"))
        .header("x-trace", "1")
        .body(Vec::new())
        .unwrap();
    assert_eq!(t.execute(req).unwrap().status(), 200);
    // A POST keeps its (empty) body's length.
    let post = http::Request::post(server.url("/ok"))
        .body(Vec::new())
        .unwrap();
    assert_eq!(t.execute(post).unwrap().status(), 200);
    let seen = server.requests();
    // No `User-Agent: ureq/…`, no `Accept: */*` and no `Content-Length: 0` on a GET:
    // the hyper transport's head.
    assert_eq!(
        header_names(&seen[0]),
        ["accept-encoding", "host", "x-trace"]
    );
    assert_eq!(
        header_names(&seen[1]),
        ["accept-encoding", "content-length", "host"]
    );
    assert!(seen[1].to_ascii_lowercase().contains("content-length: 0"));
}
