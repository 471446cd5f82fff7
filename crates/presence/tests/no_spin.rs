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

/// What the origin does, and what runs against it.
#[derive(Clone, Copy, Debug)]
enum Case {
    /// A watch; every long-poll answered at once, empty.
    WatchEmpty,
    /// A watch; every request answered at once with a 503.
    WatchFailing,
    /// A heartbeat handle with the shortest interval; every heartbeat a 200 at once.
    HeartbeatOk,
    /// A heartbeat handle (timeout 20); every heartbeat a 503 at once.
    HeartbeatFailing,
}

impl Case {
    fn origin(self) -> Scripted {
        let (status, body) = match self {
            Case::WatchEmpty => (200, EMPTY_POLL),
            Case::HeartbeatOk => (200, OK),
            Case::WatchFailing | Case::HeartbeatFailing => (503, UNAVAILABLE),
        };
        scripted(vec![("/", Reply::Body(status, body))])
    }

    /// The requests allowed in `WATCH`, counted from the first.
    fn allowed(self) -> std::ops::RangeInclusive<usize> {
        match self {
            // The handshake, the first long-poll 100 ms later, then one a second: 5 in
            // 3 s, 6 at the edges; at least 3 shows it is polling.
            Case::WatchEmpty => 3..=6,
            // One at once, then the backoff: 1 s, then 2–4 s…, never faster than 1 s.
            Case::WatchFailing => 1..=4,
            // One at once, then one a second: 4 in 3 s, 5 at the edges.
            Case::HeartbeatOk | Case::HeartbeatFailing => 2..=5,
        }
    }
}

/// The watch or heartbeat handle of `case` on `client` (either client: the builders
/// have the same methods), boxed.
macro_rules! start {
    ($client:expr, $case:expr) => {
        match $case {
            Case::WatchEmpty | Case::WatchFailing => {
                Box::new($client.watch().channels(["lobby"]).start().unwrap())
            }
            Case::HeartbeatOk => Box::new(
                $client
                    .presence()
                    .channels(["lobby"])
                    .interval(Duration::from_millis(1))
                    .connected(true)
                    .unwrap(),
            ),
            Case::HeartbeatFailing => Box::new(
                $client
                    .presence()
                    .channels(["lobby"])
                    .timeout(20)
                    .connected(true)
                    .unwrap(),
            ),
        }
    };
}

/// Starts `case`'s loop against its origin with `start` (which returns what keeps the
/// loop alive), counts the requests over `WATCH` from the first, then ends the loop.
fn run<K>(case: Case, start: impl FnOnce(&str, Case) -> K) {
    let server = case.origin();
    let running = start(&server.origin, case);
    let begin = Instant::now();
    while server.requests.load(Ordering::SeqCst) == 0 {
        assert!(
            begin.elapsed() < Duration::from_secs(10),
            "no request at all"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WATCH);
    let n = server.requests.load(Ordering::SeqCst);
    drop(running);
    assert!(
        case.allowed().contains(&n),
        "{case:?}: {n} requests in {WATCH:?}"
    );
}

#[cfg(feature = "hyper")]
mod async_client {
    use super::*;

    /// The stream or handle of `case` on the async client (a tokio task).
    fn start(origin: &str, case: Case) -> Box<dyn std::any::Any + Send> {
        let client = presence::Client::builder()
            .subscribe_key("demo")
            .user_id("watcher")
            .origin(origin)
            .build()
            .unwrap();
        start!(client, case)
    }

    fn on_tokio(case: Case) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let _entered = rt.enter();
        run(case, start);
    }

    #[test]
    fn a_watch_against_an_origin_answering_every_long_poll_at_once_empty() {
        on_tokio(Case::WatchEmpty);
    }

    #[test]
    fn a_watch_against_an_origin_failing_every_request_at_once() {
        on_tokio(Case::WatchFailing);
    }

    #[test]
    fn a_heartbeat_handle_with_the_shortest_interval_against_instant_200s() {
        on_tokio(Case::HeartbeatOk);
    }

    #[test]
    fn a_heartbeat_handle_against_instant_errors() {
        on_tokio(Case::HeartbeatFailing);
    }
}

#[cfg(feature = "ureq")]
mod blocking_client {
    use super::*;

    /// The watcher or handle of `case` on the blocking client (threads).
    fn start(origin: &str, case: Case) -> Box<dyn std::any::Any> {
        let client = presence::blocking::Client::builder()
            .subscribe_key("demo")
            .user_id("watcher")
            .origin(origin)
            .build_blocking()
            .unwrap();
        start!(client, case)
    }

    #[test]
    fn a_watch_against_an_origin_answering_every_long_poll_at_once_empty() {
        run(Case::WatchEmpty, start);
    }

    #[test]
    fn a_watch_against_an_origin_failing_every_request_at_once() {
        run(Case::WatchFailing, start);
    }

    #[test]
    fn a_heartbeat_handle_with_the_shortest_interval_against_instant_200s() {
        run(Case::HeartbeatOk, start);
    }

    #[test]
    fn a_heartbeat_handle_against_instant_errors() {
        run(Case::HeartbeatFailing, start);
    }
}
