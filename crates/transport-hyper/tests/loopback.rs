//! Integration tests against real loopback HTTP/1.1 servers (`test_server`: raw
//! `std::net`, so every byte each way is the test's).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use test_server::{get, header_values, refused_addr, Mode, Server, OK};
use transport_hyper::{Error, HyperTransport, Protocol};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Waits (at most 5 s) until the client has closed `n` of the server's connections.
async fn wait_for_closes(server: &Server, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.closed() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The transport still serves a normal request after a failure.
async fn assert_still_works(t: &HyperTransport, ok: &Server) {
    let resp = t.execute(get(&ok.url("/ok"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), OK);
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_status_is_a_response_with_its_body_intact() {
    let server = Server::start(Mode::Routes);
    let t = HyperTransport::new().unwrap();

    // 200 JSON; method, path, query, headers and body reach the server.
    let req = http::Request::post(server.url("/ok?uuid=u1&auth=secret"))
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .header("x-test", "1")
        .body(br#"{"a":1}"#.to_vec())
        .unwrap();
    let resp = t.execute(req).await.unwrap();
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
    assert!(seen.ends_with("\r\n\r\n{\"a\":1}"), "{seen}");
    assert!(!seen.contains("accept-encoding"), "{seen}");

    // 403 with a JSON error body: Ok, body intact.
    let resp = t.execute(get(&server.url("/forbidden"))).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.body(),
        br#"{"message":"Forbidden","payload":{"channels":["c1"]},"error":true,"service":"Access Manager","status":403}"#
    );

    // 500.
    let resp = t.execute(get(&server.url("/error"))).await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.body(),
        br#"{"status":500,"error":true,"message":"Internal Server Error"}"#
    );

    // Non-JSON (HTML) body, returned byte for byte.
    let resp = t.execute(get(&server.url("/html"))).await.unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["content-type"], "text/html");
    assert_eq!(
        resp.body(),
        b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
    );

    // Redirects are not followed: the 3xx itself is the response.
    let resp = t.execute(get(&server.url("/redirect"))).await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/ok");
    assert_eq!(resp.body(), b"moved");

    assert_still_works(&t, &server).await;
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_across_clones() {
    let server = Server::start(Mode::Routes);
    let t = HyperTransport::new().unwrap();
    let clone = t.clone();
    for i in 0..20 {
        let tr = if i % 2 == 0 { &t } else { &clone };
        let resp = tr.execute(get(&server.url("/ok"))).await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(server.requests().len(), 20);
    assert_eq!(server.accepts(), 1, "20 requests must share one connection");
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_not_reused() {
    let server = Server::start(Mode::CloseAfterEach);
    let t = HyperTransport::new().unwrap();
    for _ in 0..5 {
        let resp = t.execute(get(&server.url("/ok"))).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), OK);
        // The server closes while the connection is idle in the pool (and the client
        // has long seen it: a close racing a new request can fail that request).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(server.accepts(), 5, "each request on a new connection");
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .pool_idle_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    t.execute(get(&server.url("/ok"))).await.unwrap();
    t.execute(get(&server.url("/ok"))).await.unwrap();
    assert_eq!(server.accepts(), 1, "reused within the idle timeout");
    assert_eq!(server.closed(), 0);
    // No request: the pool closes the idle connection by itself.
    wait_for_closes(&server, 1).await;
    assert_eq!(
        server.closed(),
        1,
        "the idle connection was closed by the client"
    );
    let resp = t.execute(get(&server.url("/ok"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        server.accepts(),
        2,
        "a new connection after the idle timeout"
    );
}

#[test]
fn idle_connections_are_still_closed_after_the_runtime_that_pooled_them_is_gone() {
    let server = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .pool_idle_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    // The first runtime pools a connection (and starts the pool's reaper), then goes.
    let first = runtime();
    let resp = first.block_on(t.execute(get(&server.url("/ok"))));
    assert_eq!(resp.unwrap().status(), 200);
    drop(first);
    let second = runtime();
    second.block_on(async {
        let resp = t.execute(get(&server.url("/ok"))).await.unwrap();
        assert_eq!(resp.status(), 200);
        // The first connection died with its runtime: a new one, idle after this call,
        // is closed by a reaper of the second runtime.
        wait_for_closes(&server, 2).await;
    });
    assert_eq!(server.accepts(), 2);
    assert_eq!(server.closed(), 2, "both connections closed by the client");
}

#[tokio::test]
async fn a_connection_stuck_sending_a_body_is_not_awaited_by_the_next_request() {
    let server = Server::start(Mode::AnswerEarly);
    let ok = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .request_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // The answer comes while 16 MiB of body are still unsent: the connection goes back
    // to the pool, but can take no other request.
    let big = http::Request::post(server.url("/ok"))
        .body(vec![b'x'; 16 << 20])
        .unwrap();
    assert_eq!(t.execute(big).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let resp = t.execute(get(&server.url("/ok"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.accepts(), 2, "the stuck connection was not reused");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the request waited {:?} for the stuck connection",
        started.elapsed()
    );
    assert_still_works(&t, &ok).await;
}

#[tokio::test]
async fn no_connection_is_kept_with_no_idle_allowed() {
    let server = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            t.execute(get(&server.url("/ok"))).await.unwrap().status(),
            200
        );
    }
    assert_eq!(server.accepts(), 3);
}

#[tokio::test]
async fn concurrent_requests_open_connections_and_share_them_afterwards() {
    let server = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .pool_max_idle_per_host(4)
        .build()
        .unwrap();
    for _ in 0..3 {
        let calls: Vec<_> = (0..8)
            .map(|_| tokio::spawn(t.execute(get(&server.url("/ok")))))
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap().status(), 200);
        }
    }
    assert_eq!(server.requests().len(), 24);
    // At most 8 at once, and at most 4 of them kept: never one per request.
    assert!(
        server.accepts() <= 8 + 2 * 4,
        "{} connections",
        server.accepts()
    );
}

#[tokio::test]
async fn stalled_server_hits_the_overall_timeout() {
    let stall = Server::start(Mode::Stall);
    let ok = Server::start(Mode::Routes);
    let bound = Duration::from_millis(300);

    // Per-call override on a transport whose default bound is 30 s.
    let t = HyperTransport::new().unwrap();
    let start = Instant::now();
    let err = t
        .execute_with_timeout(get(&stall.url("/x")), bound)
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Timeout { after } if after == bound));
    assert_still_works(&t, &ok).await;

    // The configured bound also covers collecting the body: head sent, body stalls.
    let t = HyperTransport::builder()
        .request_timeout(bound)
        .build()
        .unwrap();
    let start = Instant::now();
    let err = t.execute(get(&ok.url("/stall-body"))).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, Error::Timeout { after } if after == bound),
        "{err:?}"
    );
    assert_still_works(&t, &ok).await;
}

#[tokio::test]
async fn refused_connection_is_a_connect_error_without_the_query() {
    let ok = Server::start(Mode::Routes);
    let t = HyperTransport::new().unwrap();
    let addr = refused_addr();
    let err = t
        .execute(get(&format!("http://{addr}/v2/presence?auth=SECRET-TOKEN")))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(!err.is_timeout());
    let shown = format!("{err} / {err:?}");
    assert!(shown.contains(&format!("http://{addr}")), "{shown}");
    assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
    assert!(std::error::Error::source(&err).is_some());
    assert_still_works(&t, &ok).await;
}

#[tokio::test]
async fn body_over_the_limit_is_rejected() {
    let ok = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .max_body_size(1024)
        .build()
        .unwrap();
    for path in ["/big", "/big-chunked"] {
        let err = t.execute(get(&ok.url(path))).await.unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { limit: 1024 }),
            "{path}: {err:?}"
        );
    }
    assert_still_works(&t, &ok).await;
    let small = HyperTransport::builder()
        .max_body_size(2000)
        .build()
        .unwrap();
    let resp = small.execute(get(&ok.url("/big-chunked"))).await.unwrap();
    assert_eq!(resp.body().len(), 2000);
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_error() {
    let plain = Server::start(Mode::PlainToAnything);
    let ok = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = t
        .execute(get(&format!("https://{}/time/0", plain.addr)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert_still_works(&t, &ok).await;
}

#[tokio::test]
async fn invalid_requests_are_rejected_before_sending() {
    let t = HyperTransport::new().unwrap();
    for uri in ["/relative/only", "ftp://127.0.0.1/file"] {
        let err = t.execute(get(uri)).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest { .. }),
            "{uri}: {err:?}"
        );
    }
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let t = HyperTransport::new().unwrap();
    let fut = pin!(t.execute(get("http://127.0.0.1:9/")));
    let waker = Waker::from(Arc::new(Noop));
    match fut.poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(Err(Error::NoRuntime)) => {}
        other => panic!("expected NoRuntime, got {other:?}"),
    }
}

#[test]
fn error_is_send_sync_static() {
    fn check<T: std::error::Error + Send + Sync + 'static>() {}
    check::<Error>();
}

#[tokio::test]
async fn http1_requests_carry_the_authority_as_their_one_host_header() {
    let server = Server::start(Mode::Routes);
    for protocol in [Protocol::Http1, Protocol::Alpn] {
        let t = HyperTransport::builder()
            .protocol(protocol)
            .build()
            .unwrap();
        assert_still_works(&t, &server).await;
        // A caller's own Host is kept, not doubled.
        let req = http::Request::get(server.url("/ok"))
            .header("host", "example.test")
            .body(Vec::new())
            .unwrap();
        assert_eq!(t.execute(req).await.unwrap().status(), 200);
        // Credentials in the URI are not part of the host.
        let with_user = format!("http://user:pw@{}/ok", server.addr);
        assert_eq!(t.execute(get(&with_user)).await.unwrap().status(), 200);
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 6);
    let expected = server.addr.to_string();
    for (i, req) in seen.iter().enumerate() {
        let want = if i % 3 == 1 {
            "example.test"
        } else {
            expected.as_str()
        };
        assert_eq!(header_values(req, "host"), [want], "{req}");
    }
}

#[tokio::test]
async fn prior_knowledge_http2_to_an_http1_server_is_an_error_not_a_hang() {
    let server = Server::start(Mode::Routes);
    let t = HyperTransport::builder()
        .protocol(Protocol::Http2PriorKnowledge)
        .request_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let err = t.execute(get(&server.url("/ok"))).await.unwrap_err();
    assert!(!matches!(err, Error::Timeout { .. }), "{err:?}");
    // Nothing of the HTTP/1.1 answer was taken for a response; the server saw the
    // HTTP/2 preface, not an HTTP/1.1 request.
    let seen = server.requests();
    assert!(
        !seen.is_empty() && seen.iter().all(|r| r.starts_with("PRI * HTTP/2.0")),
        "{seen:?}"
    );
}
