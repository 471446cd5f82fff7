//! No spin (issue 16): against a loopback origin that answers every request at once —
//! every long-poll empty, every heartbeat a 200, or every request an error — the
//! facade's watch and heartbeat loops keep to the engines' floors on both transports:
//! a watch sends at most one request per second (plus the handshake), a heartbeat
//! handle at most one heartbeat per second. Before the floors the same watch re-polled
//! about 47 000 times in 10 s on hyper and 35 000 on ureq.

mod common;

use common::{scripted, Reply, Scripted};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// An empty long-poll answer (a handshake looks the same).
const EMPTY_POLL: &str = r#"{"t":{"t":"17000000000000000","r":1},"m":[]}"#;
const OK: &str = r#"{"status": 200, "message": "OK", "service": "Presence"}"#;
const UNAVAILABLE: &str =
    r#"{"status": 503, "error": true, "message": "Service Unavailable", "service": "Presence"}"#;

/// How long each test watches the origin.
const WATCH: Duration = Duration::from_secs(3);

fn instant_origin(body: &'static str, status: u16) -> Scripted {
    scripted(vec![("/", Reply::Body(status, body))])
}

/// Requests the origin saw over `WATCH`, counted from the first one.
fn count_over_window(server: &Scripted) -> usize {
    let start = Instant::now();
    while server.requests.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no request at all"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WATCH);
    server.requests.load(Ordering::SeqCst)
}

/// A watch: the handshake, the first long-poll 100 ms later, then one per second:
/// 5 in 3 s, 6 allowing for timing at the edges. At least 3 shows it is polling.
fn assert_watch_rate(n: usize) {
    assert!((3..=6).contains(&n), "{n} subscribe requests in {WATCH:?}");
}

/// A heartbeat loop: one at once, then one per second: 4 in 3 s, 5 at the edges.
fn assert_heartbeat_rate(n: usize) {
    assert!((2..=5).contains(&n), "{n} heartbeats in {WATCH:?}");
}

#[cfg(feature = "hyper")]
mod async_client {
    use super::*;
    use presence::Client;

    fn client(origin: &str) -> Client {
        Client::builder()
            .subscribe_key("demo")
            .user_id("watcher")
            .origin(origin)
            .build()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watch_against_an_origin_answering_every_long_poll_at_once_empty() {
        let server = instant_origin(EMPTY_POLL, 200);
        let stream = client(&server.origin)
            .watch()
            .channels(["lobby"])
            .start()
            .unwrap();
        let n = tokio::task::spawn_blocking(move || count_over_window(&server))
            .await
            .unwrap();
        drop(stream);
        assert_watch_rate(n);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watch_against_an_origin_failing_every_request_at_once() {
        let server = instant_origin(UNAVAILABLE, 503);
        let stream = client(&server.origin)
            .watch()
            .channels(["lobby"])
            .start()
            .unwrap();
        let n = tokio::task::spawn_blocking(move || count_over_window(&server))
            .await
            .unwrap();
        drop(stream);
        // One at once, then the backoff: 1 s, then 2–4 s… never faster than 1 s.
        assert!((1..=4).contains(&n), "{n} subscribe requests in {WATCH:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_heartbeat_handle_with_the_shortest_interval_against_instant_200s() {
        let server = instant_origin(OK, 200);
        let handle = client(&server.origin)
            .presence()
            .channels(["lobby"])
            .interval(Duration::from_millis(1))
            .connected(true)
            .unwrap();
        let n = tokio::task::spawn_blocking(move || count_over_window(&server))
            .await
            .unwrap();
        handle.stop_without_leave().await;
        assert_heartbeat_rate(n);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_heartbeat_handle_against_instant_errors() {
        let server = instant_origin(UNAVAILABLE, 503);
        let handle = client(&server.origin)
            .presence()
            .channels(["lobby"])
            .timeout(20)
            .connected(true)
            .unwrap();
        let n = tokio::task::spawn_blocking(move || count_over_window(&server))
            .await
            .unwrap();
        handle.stop_without_leave().await;
        assert_heartbeat_rate(n);
    }
}

#[cfg(feature = "ureq")]
mod blocking_client {
    use super::*;
    use presence::blocking::Client;

    fn client(origin: &str) -> Client {
        Client::builder()
            .subscribe_key("demo")
            .user_id("watcher")
            .origin(origin)
            .build_blocking()
            .unwrap()
    }

    #[test]
    fn a_watch_against_an_origin_answering_every_long_poll_at_once_empty() {
        let server = instant_origin(EMPTY_POLL, 200);
        let watcher = client(&server.origin)
            .watch()
            .channels(["lobby"])
            .start()
            .unwrap();
        let n = count_over_window(&server);
        drop(watcher);
        assert_watch_rate(n);
    }

    #[test]
    fn a_watch_against_an_origin_failing_every_request_at_once() {
        let server = instant_origin(UNAVAILABLE, 503);
        let watcher = client(&server.origin)
            .watch()
            .channels(["lobby"])
            .start()
            .unwrap();
        let n = count_over_window(&server);
        drop(watcher);
        assert!((1..=4).contains(&n), "{n} subscribe requests in {WATCH:?}");
    }

    #[test]
    fn a_heartbeat_handle_with_the_shortest_interval_against_instant_200s() {
        let server = instant_origin(OK, 200);
        let handle = client(&server.origin)
            .presence()
            .channels(["lobby"])
            .interval(Duration::from_millis(1))
            .connected(true)
            .unwrap();
        let n = count_over_window(&server);
        handle.stop_without_leave();
        assert_heartbeat_rate(n);
    }

    #[test]
    fn a_heartbeat_handle_against_instant_errors() {
        let server = instant_origin(UNAVAILABLE, 503);
        let handle = client(&server.origin)
            .presence()
            .channels(["lobby"])
            .timeout(20)
            .connected(true)
            .unwrap();
        let n = count_over_window(&server);
        handle.stop_without_leave();
        assert_heartbeat_rate(n);
    }
}
