//! The async client on the hyper transport against the emulator over loopback, and
//! against a scripted server for failures the emulator does not produce.
#![cfg(feature = "hyper")]

mod common;

use common::{scripted, Reply};
use presence::heartbeat::HeartbeatEvent;
use presence::transport::AsyncTransport;
use presence::{Client, Keyset, PresenceEvent};
use presence_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use transport_hyper::HyperTransport;

fn client(origin: &str, user: &str) -> Client {
    Client::builder()
        .subscribe_key("demo")
        .user_id(user)
        .origin(origin)
        .build()
        .unwrap()
}

async fn emulator() -> EmulatorHandle {
    Emulator::start(EmulatorConfig::default()).await.unwrap()
}

/// Registers channels in a channel group through the registry endpoint.
async fn add_to_group(c: &Client, origin: &str, group: &str, channels: &str) {
    let uri = format!("{origin}/v1/channel-registration/sub-key/demo/channel-group/{group}?add={channels}&uuid=admin");
    let resp = c
        .transport()
        .send(http::Request::get(uri).body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "{}",
        String::from_utf8_lossy(resp.body())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips() {
    let emu = emulator().await;
    let origin = emu.origin();
    let (ann, bob) = (client(&origin, "ann"), client(&origin, "bob"));

    ann.heartbeat()
        .channels(["lobby", "game #1"])
        .timeout(60)
        .state(json!({"mood": "ok"}))
        .execute()
        .await
        .unwrap();
    bob.set_state()
        .channels(["lobby"])
        .state(json!({"role": "host"}))
        .execute()
        .await
        .unwrap();

    // Single channel: the result names the channel although the body does not.
    let lobby = bob
        .here_now()
        .channels(["lobby"])
        .include_state(true)
        .execute()
        .await
        .unwrap();
    assert_eq!((lobby.total_channels, lobby.total_occupancy), (1, 2));
    let ch = lobby.channel("lobby").expect("lobby listed");
    let users: Vec<_> = ch
        .occupants
        .iter()
        .map(|o| (&*o.user_id, o.state.as_ref().map(|s| s.to_value().unwrap())))
        .collect();
    assert_eq!(
        users,
        [
            ("ann", Some(json!({"mood": "ok"}))),
            ("bob", Some(json!({"role": "host"})))
        ]
    );

    // Several channels, user ids off, pagination.
    let both = ann
        .here_now()
        .channels(["lobby", "game #1"])
        .execute()
        .await
        .unwrap();
    assert_eq!((both.total_channels, both.total_occupancy), (2, 3));
    assert_eq!(both.channel("game #1").unwrap().occupants[0].user_id, "ann");
    let counts = ann
        .here_now()
        .channels(["lobby"])
        .include_user_ids(false)
        .execute()
        .await
        .unwrap();
    assert_eq!(counts.channels[0].occupancy, 2);
    assert!(counts.channels[0].occupants.is_empty());
    let page = ann
        .here_now()
        .channels(["lobby"])
        .limit(1)
        .offset(1)
        .execute()
        .await
        .unwrap();
    assert_eq!(page.channels[0].occupancy, 2);
    assert_eq!(
        page.channels[0]
            .occupants
            .iter()
            .map(|o| &*o.user_id)
            .collect::<Vec<_>>(),
        ["bob"]
    );
    let global = ann.here_now().execute().await.unwrap();
    assert_eq!((global.total_channels, global.total_occupancy), (2, 3));

    // Where now, for self and for another user.
    let mut mine = ann.where_now().execute().await.unwrap().channels;
    mine.sort();
    assert_eq!(mine, ["game #1", "lobby"]);
    assert_eq!(
        ann.where_now()
            .user_id("bob")
            .execute()
            .await
            .unwrap()
            .channels,
        ["lobby"]
    );

    // Get state: single and several channels, for self and another user.
    let single = ann.get_state().channels(["lobby"]).execute().await.unwrap();
    assert_eq!(single.channels["lobby"], json!({"mood": "ok"}));
    let multi = ann
        .get_state()
        .channels(["lobby", "game #1"])
        .execute()
        .await
        .unwrap();
    assert_eq!(multi.channels.len(), 2);
    assert_eq!(multi.channels["game #1"], json!({"mood": "ok"}));
    let other = ann
        .get_state()
        .channels(["lobby"])
        .user_id("bob")
        .execute()
        .await
        .unwrap();
    assert_eq!(other.channels["lobby"], json!({"role": "host"}));

    // Set state for another user echoes the state.
    let echoed = ann
        .set_state()
        .channels(["lobby"])
        .user_id("bob")
        .state(json!({"role": "guest"}))
        .execute()
        .await
        .unwrap();
    assert_eq!(echoed.state, json!({"role": "guest"}));

    // Channel groups.
    add_to_group(&ann, &origin, "g", "lobby,side").await;
    let via_group = ann
        .here_now()
        .channel_groups(["g"])
        .execute()
        .await
        .unwrap();
    assert_eq!(via_group.channel("lobby").unwrap().occupancy, 2);
    ann.heartbeat()
        .channel_groups(["g"])
        .execute()
        .await
        .unwrap();
    let side = bob.here_now().channels(["side"]).execute().await.unwrap();
    assert_eq!(side.channels[0].occupants[0].user_id, "ann");
    ann.set_state()
        .channel_groups(["g"])
        .state(json!({"via": "group"}))
        .execute()
        .await
        .unwrap();
    let group_state = ann
        .get_state()
        .channel_groups(["g"])
        .execute()
        .await
        .unwrap();
    assert_eq!(group_state.channels["side"], json!({"via": "group"}));

    // Leave: ann is gone from lobby.
    ann.leave().channels(["lobby"]).execute().await.unwrap();
    let after = bob.here_now().channels(["lobby"]).execute().await.unwrap();
    assert_eq!(
        after.channels[0]
            .occupants
            .iter()
            .map(|o| &*o.user_id)
            .collect::<Vec<_>>(),
        ["bob"]
    );
    ann.leave().channel_groups(["g"]).execute().await.unwrap();

    // Invalid input never reaches the wire.
    let err = ann.heartbeat().execute().await.unwrap_err();
    assert_eq!(err.kind(), presence::ErrorKind::InvalidInput);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_override_signing_tokens_and_extra_params() {
    let emu = Emulator::start(
        EmulatorConfig::new()
            .keyset(presence_emulator::Keyset::new("demo"))
            .keyset(
                presence_emulator::Keyset::new("sub-signed")
                    .publish_key("pub-signed")
                    .secret_key("sec-signed"),
            )
            .keyset(presence_emulator::Keyset::new("sub-pam").grant(
                "tok-ok",
                ["open"],
                Vec::<String>::new(),
            )),
    )
    .await
    .unwrap();
    let origin = emu.origin();
    let c = Client::builder()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(&origin)
        .named_keyset(
            "signed",
            Keyset::new("sub-signed")
                .with_publish_key("pub-signed")
                .with_secret_key("sec-signed"),
        )
        .build()
        .unwrap();

    c.heartbeat()
        .channels(["lobby"])
        .using("signed")
        .query_param("custom", "x y")
        .execute()
        .await
        .unwrap();
    let signed = c
        .here_now()
        .channels(["lobby"])
        .using("signed")
        .execute()
        .await
        .unwrap();
    assert_eq!(signed.total_occupancy, 1, "the signed keyset holds ann");
    let unsigned = c.here_now().channels(["lobby"]).execute().await.unwrap();
    assert_eq!(
        unsigned.total_occupancy, 0,
        "the default keyset is separate"
    );

    // A wrong secret is refused with the Access Manager error.
    let wrong = Keyset::new("sub-signed")
        .with_publish_key("pub-signed")
        .with_secret_key("nope");
    let err = c
        .here_now()
        .channels(["lobby"])
        .keyset(wrong)
        .execute()
        .await
        .unwrap_err();
    let service = err.service_error().expect("service error");
    assert_eq!(
        (service.status, service.service.as_deref()),
        (403, Some("Access Manager"))
    );

    // Token allow-list: the denied channel is named in the error.
    let pam = Client::builder()
        .subscribe_key("sub-pam")
        .user_id("ann")
        .auth_token("tok-ok")
        .origin(&origin)
        .build()
        .unwrap();
    pam.heartbeat().channels(["open"]).execute().await.unwrap();
    let err = pam
        .heartbeat()
        .channels(["open", "closed"])
        .execute()
        .await
        .unwrap_err();
    let service = err.service_error().expect("service error");
    assert_eq!(service.status, 403);
    assert_eq!(service.channels, ["closed"]);
    assert!(
        !format!("{err:?} {err}").contains("tok-ok"),
        "the token stays out of errors"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_typed_and_the_client_keeps_working() {
    const OK: &str = r#"{"status": 200, "message": "OK", "service": "Presence", "uuids": ["ann"], "occupancy": 1}"#;
    let server = scripted(vec![
        ("/channel/ok", Reply::Body(200, OK)),
        ("/channel/stall", Reply::Stall),
        ("/channel/huge", Reply::Huge(64 * 1024)),
        (
            "/channel/html",
            Reply::Body(200, "<html><body>Error Page</body></html>"),
        ),
        (
            "/channel/pam",
            Reply::Body(
                403,
                r#"{"message":"Forbidden","payload":{"channels":["pam"]},"error":true,"service":"Access Manager","status":403}"#,
            ),
        ),
        (
            "/channel/false200",
            Reply::Body(
                200,
                r#"{"status": 503, "message": "Service Unavailable", "error": 1, "service": "Presence"}"#,
            ),
        ),
        (
            "/channel/err500",
            Reply::Body(
                500,
                r#"{"status": 500, "error": true, "message": "Internal Server Error", "service": "Presence"}"#,
            ),
        ),
    ]);
    let transport = HyperTransport::builder()
        .request_timeout(Duration::from_millis(300))
        .max_body_size(16 * 1024)
        .build()
        .unwrap();
    let c = presence::ClientBuilder::new()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(&server.origin)
        .build_with(transport)
        .unwrap();
    let ok = || async {
        c.here_now()
            .channels(["ok"])
            .execute()
            .await
            .unwrap()
            .channels[0]
            .occupants[0]
            .user_id
            .clone()
    };
    assert_eq!(ok().await, "ann");

    let started = Instant::now();
    let err = c
        .here_now()
        .channels(["stall"])
        .execute()
        .await
        .unwrap_err();
    assert!(err.transport().is_some_and(|t| t.is_timeout()), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(ok().await, "ann");

    let err = c.here_now().channels(["huge"]).execute().await.unwrap_err();
    assert!(
        matches!(
            err.transport(),
            Some(transport_hyper::Error::BodyTooLarge { .. })
        ),
        "{err:?}"
    );
    assert_eq!(ok().await, "ann");

    let err = c.here_now().channels(["html"]).execute().await.unwrap_err();
    assert_eq!(err.kind(), presence::ErrorKind::MalformedResponse);

    let err = c.here_now().channels(["pam"]).execute().await.unwrap_err();
    let s = err.service_error().unwrap();
    assert_eq!(
        (
            s.status,
            s.message.as_str(),
            s.service.as_deref(),
            s.channels.clone()
        ),
        (
            403,
            "Forbidden",
            Some("Access Manager"),
            vec!["pam".to_owned()]
        )
    );

    let err = c
        .here_now()
        .channels(["false200"])
        .execute()
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.service_error().unwrap().http_status),
        (Some(503), 200)
    );

    let err = c
        .here_now()
        .channels(["err500"])
        .execute()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(ok().await, "ann");

    // A refused connection.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let refused = presence::ClientBuilder::new()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(format!("http://{addr}"))
        .build()
        .unwrap();
    let err = refused
        .here_now()
        .channels(["ok"])
        .execute()
        .await
        .unwrap_err();
    assert!(err.transport().is_some_and(|t| t.is_connect()), "{err:?}");
}

/// On a current-thread runtime the connection is back in the pool before the next call,
/// so every call reuses it.
#[tokio::test(flavor = "current_thread")]
async fn sequential_calls_reuse_one_connection() {
    const OK: &str =
        r#"{"status": 200, "message": "OK", "service": "Presence", "uuids": [], "occupancy": 0}"#;
    let server = scripted(vec![("/channel/", Reply::Body(200, OK))]);
    let c = client(&server.origin, "ann");
    for _ in 0..50 {
        c.here_now().channels(["a"]).execute().await.unwrap();
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

/// On a multi-thread runtime hyper-util returns a connection to the pool from a background
/// task; a call that starts before that races a new connect against the idle one, so a few
/// connections may open. They are pooled too: the count stays small however many calls run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_calls_on_a_multi_thread_runtime_use_a_few_pooled_connections() {
    const OK: &str =
        r#"{"status": 200, "message": "OK", "service": "Presence", "uuids": [], "occupancy": 0}"#;
    let server = scripted(vec![("/channel/", Reply::Body(200, OK))]);
    let c = client(&server.origin, "ann");
    for _ in 0..200 {
        c.here_now().channels(["a"]).execute().await.unwrap();
    }
    let accepted = server.accepted.load(Ordering::SeqCst);
    assert!(
        (1..=8).contains(&accepted),
        "{accepted} connections for 200 sequential calls"
    );
}

async fn next_presence(stream: &mut presence::watch::PresenceStream) -> PresenceEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next_presence())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("no terminal failure")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_handle_and_watch_see_join_state_change_leave_and_timeout() {
    let emu = emulator().await;
    let origin = emu.origin();
    let (watcher, ann, bob) = (
        client(&origin, "watcher"),
        client(&origin, "ann"),
        client(&origin, "bob"),
    );
    let mut events = watcher
        .watch()
        .channels(["lobby"])
        .start()
        .expect("watch starts");
    assert!(events.connected().await);

    // Heartbeat without subscription, with state.
    let mut handle = ann
        .presence()
        .channels(["lobby"])
        .state(json!({"mood": "ok"}))
        .timeout(30)
        .connected(true)
        .expect("heartbeat loop starts");
    match next_presence(&mut events).await {
        PresenceEvent::Join(j) => assert_eq!(
            (j.channel.as_str(), j.user_id.as_str(), j.occupancy),
            ("lobby", "ann", 1)
        ),
        other => panic!("expected join, got {other:?}"),
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(5), handle.next_event())
            .await
            .unwrap()
        {
            Some(HeartbeatEvent::Succeeded) => break,
            Some(_) => {}
            None => panic!("loop ended"),
        }
    }
    assert_eq!(
        bob.here_now()
            .channels(["lobby"])
            .include_state(true)
            .execute()
            .await
            .unwrap()
            .channels[0]
            .occupants[0]
            .state
            .clone()
            .unwrap(),
        json!({"mood": "ok"})
    );

    // State change, seen by the watcher.
    ann.set_state()
        .channels(["lobby"])
        .state(json!({"mood": "busy"}))
        .execute()
        .await
        .unwrap();
    loop {
        match next_presence(&mut events).await {
            PresenceEvent::StateChange(s) => {
                assert_eq!(s.user_id, "ann");
                assert_eq!(s.state.clone().unwrap(), json!({"mood": "busy"}));
                break;
            }
            PresenceEvent::Join(_) => {}
            other => panic!("expected state-change, got {other:?}"),
        }
    }

    // Stop with leave.
    handle.stop().await;
    match next_presence(&mut events).await {
        PresenceEvent::Leave(l) => assert_eq!((l.user_id.as_str(), l.occupancy), ("ann", 0)),
        other => panic!("expected leave, got {other:?}"),
    }

    // Bob heartbeats, then stops without a leave (Go's Connected(false)): after the
    // presence timeout the watcher sees a timeout.
    let bob_handle = bob
        .presence()
        .channels(["lobby"])
        .timeout(20)
        .connected(true)
        .expect("heartbeat loop starts");
    assert!(
        matches!(next_presence(&mut events).await, PresenceEvent::Join(j) if j.user_id == "bob")
    );
    bob_handle.stop_without_leave().await;
    emu.advance(Duration::from_secs(21));
    match next_presence(&mut events).await {
        PresenceEvent::Timeout(t) => assert_eq!((t.user_id.as_str(), t.occupancy), ("bob", 0)),
        other => panic!("expected timeout, got {other:?}"),
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_mode_above_announce_max() {
    let emu = Emulator::start(
        EmulatorConfig::new()
            .announce_max(2)
            .interval(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let origin = emu.origin();
    let watcher = client(&origin, "watcher");
    let mut events = watcher
        .watch()
        .channels(["crowd"])
        .start()
        .expect("watch starts");
    assert!(events.connected().await);
    for user in ["u1", "u2", "u3", "u4"] {
        client(&origin, user)
            .heartbeat()
            .channels(["crowd"])
            .execute()
            .await
            .unwrap();
    }
    emu.advance(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no interval event");
        match next_presence(&mut events).await {
            PresenceEvent::Interval(i) => {
                assert_eq!((i.channel.as_str(), i.occupancy), ("crowd", 4));
                assert!(i.here_now_refresh || !i.join.is_empty(), "{i:?}");
                break;
            }
            PresenceEvent::Join(_) => {}
            other => panic!("{other:?}"),
        }
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn closure_transport_sees_signed_requests_without_the_secret() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = std::sync::Arc::clone(&seen);
    let transport = move |req: presence::HttpRequest| {
        log.lock().unwrap().push(req.uri().to_string());
        async move {
            Ok::<_, std::io::Error>(http::Response::new(
                br#"{"status": 200, "message": "OK", "service": "Presence"}"#.to_vec(),
            ))
        }
    };
    let c = presence::ClientBuilder::new()
        .subscribe_key("demo")
        .publish_key("pub")
        .secret_key("TOP-SECRET")
        .user_id("ann")
        .build_with(transport)
        .unwrap();
    c.leave().channels(["a"]).execute().await.unwrap();
    let uri = seen.lock().unwrap()[0].clone();
    assert!(
        uri.starts_with("https://ps.pndsn.com/v2/presence/sub-key/demo/channel/a/leave?"),
        "{uri}"
    );
    assert!(
        uri.contains("&signature=v2.") && uri.contains("timestamp=") && uri.contains("requestid="),
        "{uri}"
    );
    assert!(!uri.contains("TOP-SECRET"));
    assert!(!format!("{c:?}").contains("TOP-SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_adds_and_removes_channels_while_running() {
    let emu = emulator().await;
    let origin = emu.origin();
    let (watcher, ann) = (client(&origin, "watcher"), client(&origin, "ann"));
    let mut events = watcher
        .watch()
        .channels(["one"])
        .start()
        .expect("watch starts");
    assert!(events.connected().await);

    events.add(["two"], Vec::<String>::new());
    // Give the driver a moment to restart the long-poll with the new channel list.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ann.heartbeat().channels(["two"]).execute().await.unwrap();
    match next_presence(&mut events).await {
        PresenceEvent::Join(j) => {
            assert_eq!((j.channel.as_str(), j.user_id.as_str()), ("two", "ann"))
        }
        other => panic!("expected a join on the added channel, got {other:?}"),
    }

    events.remove(["two"], Vec::<String>::new());
    tokio::time::sleep(Duration::from_millis(200)).await;
    ann.leave().channels(["two"]).execute().await.unwrap();
    ann.heartbeat().channels(["one"]).execute().await.unwrap();
    match next_presence(&mut events).await {
        PresenceEvent::Join(j) => {
            assert_eq!(j.channel, "one", "events of the removed channel stop")
        }
        other => panic!("expected the join on `one`, got {other:?}"),
    }
    emu.shutdown().await;
}

/// Regression (issue 11): a watch whose grant lacks a channel used to pend forever as a
/// `Stream` (the 403 went to a debug log). It now yields the 403 as its last item,
/// within a second, and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_watch_ends_with_its_error() {
    use futures_core::Stream;
    use std::pin::Pin;
    let emu = Emulator::start(EmulatorConfig::new().keyset(common::pam_keyset("tok-a", &["a"])))
        .await
        .unwrap();
    let watcher = common::pam_client(&emu.origin(), "w", "tok-a")
        .build()
        .unwrap();
    let mut stream = watcher.watch().channels(["b"]).start().unwrap();
    async fn next(
        s: &mut presence::watch::PresenceStream,
    ) -> Option<Result<PresenceEvent, presence::Failure>> {
        std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
    }
    let first = tokio::time::timeout(Duration::from_secs(1), next(&mut stream))
        .await
        .expect("the 403 arrives within 1 s");
    match first {
        Some(Err(failure)) => {
            let service = failure.service_error().expect("a service error");
            assert_eq!(service.status, 403);
            // Access Manager guards the presence channel itself.
            assert_eq!(service.channels, ["b-pnpres"]);
            assert!(!failure.is_retryable());
        }
        other => panic!("expected the 403, got {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(1), next(&mut stream))
        .await
        .expect("the stream ends at once");
    assert!(end.is_none(), "{end:?}");

    // `next_event` yields the failure once, then ends too.
    let mut events = watcher.watch().channels(["b"]).start().unwrap();
    let failed = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match events.next_event().await {
                Some(presence::watch::WatchEvent::Failed { retry_in: None, .. }) => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    })
    .await
    .unwrap();
    assert!(failed);
    let after = tokio::time::timeout(Duration::from_secs(1), events.next_event())
        .await
        .unwrap();
    assert!(after.is_none(), "{after:?}");
    emu.shutdown().await;
}
