//! The blocking client on the ureq transport against the emulator over loopback, and
//! against a scripted server for failures the emulator does not produce.
#![cfg(feature = "ureq")]

mod common;

use common::{scripted, Reply};
use presence::blocking::Client;
use presence::transport::BlockingTransport;
use presence::PresenceEvent;
use presence_emulator::{BlockingEmulatorHandle, Emulator, EmulatorConfig};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use transport_ureq::UreqTransport;

fn client(origin: &str, user: &str) -> Client {
    Client::builder()
        .subscribe_key("demo")
        .user_id(user)
        .origin(origin)
        .build_blocking()
        .unwrap()
}

fn emulator() -> BlockingEmulatorHandle {
    Emulator::start_blocking(EmulatorConfig::default()).unwrap()
}

#[test]
fn every_operation_round_trips() {
    let emu = emulator();
    let origin = emu.origin();
    let (ann, bob) = (client(&origin, "ann"), client(&origin, "bob"));

    ann.heartbeat()
        .channels(["lobby", "频道"])
        .timeout(10)
        .state(json!({"mood": "ok"}))
        .execute()
        .unwrap();
    bob.set_state()
        .channels(["lobby"])
        .state(json!({"role": "host"}))
        .execute()
        .unwrap();

    let lobby = bob
        .here_now()
        .channels(["lobby"])
        .include_state(true)
        .execute()
        .unwrap();
    assert_eq!((lobby.total_channels, lobby.total_occupancy), (1, 2));
    assert_eq!(lobby.channels[0].name, "lobby");
    assert_eq!(
        lobby.channels[0].occupants[0].state.clone().unwrap(),
        json!({"mood": "ok"})
    );
    let both = ann
        .here_now()
        .channels(["lobby", "频道"])
        .execute()
        .unwrap();
    assert_eq!((both.total_channels, both.total_occupancy), (2, 3));
    assert!(ann
        .here_now()
        .channels(["lobby"])
        .include_user_ids(false)
        .execute()
        .unwrap()
        .channels[0]
        .occupants
        .is_empty());
    assert_eq!(ann.here_now().execute().unwrap().total_occupancy, 3);

    let mut mine = ann.where_now().execute().unwrap().channels;
    mine.sort();
    assert_eq!(mine, ["lobby", "频道"]);
    assert_eq!(
        bob.where_now()
            .user_id("ann")
            .execute()
            .unwrap()
            .channels
            .len(),
        2
    );

    assert_eq!(
        ann.get_state()
            .channels(["频道"])
            .execute()
            .unwrap()
            .channels["频道"],
        json!({"mood": "ok"})
    );
    assert_eq!(
        ann.get_state()
            .channels(["lobby", "频道"])
            .execute()
            .unwrap()
            .channels
            .len(),
        2
    );
    assert_eq!(
        ann.get_state()
            .channels(["lobby"])
            .user_id("bob")
            .execute()
            .unwrap()
            .channels["lobby"],
        json!({"role": "host"})
    );
    assert_eq!(
        ann.set_state()
            .channels(["lobby"])
            .state(json!({"n": 1}))
            .execute()
            .unwrap()
            .state,
        json!({"n": 1})
    );

    let uri = format!(
        "{origin}/v1/channel-registration/sub-key/demo/channel-group/g?add=lobby&uuid=admin"
    );
    assert_eq!(
        ann.transport()
            .send(http::Request::get(uri).body(Vec::new()).unwrap())
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        ann.here_now()
            .channel_groups(["g"])
            .execute()
            .unwrap()
            .channel("lobby")
            .unwrap()
            .occupancy,
        2
    );

    ann.leave().channels(["lobby", "频道"]).execute().unwrap();
    assert_eq!(
        bob.here_now()
            .channels(["lobby"])
            .execute()
            .unwrap()
            .total_occupancy,
        1
    );
    assert!(ann.where_now().execute().unwrap().channels.is_empty());
    assert_eq!(
        ann.leave().execute().unwrap_err().kind(),
        presence::ErrorKind::InvalidInput
    );
}

#[test]
fn failures_are_typed_and_the_client_keeps_working() {
    const OK: &str = r#"{"status": 200, "message": "OK", "service": "Presence", "uuids": ["ann"], "occupancy": 1}"#;
    let server = scripted(vec![
        ("/channel/ok", Reply::Body(200, OK)),
        ("/channel/stall", Reply::Stall),
        ("/channel/huge", Reply::Huge(64 * 1024)),
        (
            "/channel/html",
            Reply::Body(502, "<html><body>Bad Gateway</body></html>"),
        ),
        (
            "/channel/pam",
            Reply::Body(
                403,
                r#"{"message":"Forbidden","payload":{"channels":["pam"],"channel-groups":["g1"]},"error":true,"service":"Access Manager","status":403}"#,
            ),
        ),
        (
            "/channel/false200",
            Reply::Body(
                200,
                r#"{"status": 403, "error": 1, "message": "Access Denied", "service": "Presence"}"#,
            ),
        ),
        (
            "/channel/err500",
            Reply::Body(
                500,
                r#"{"status": 500, "error": true, "message": "Internal Server Error", "service": "Presence"}"#,
            ),
        ),
        ("/channel/notjson", Reply::Body(200, "s")),
    ]);
    let transport = UreqTransport::builder()
        .request_timeout(Duration::from_millis(300))
        .max_body_size(16 * 1024)
        .build();
    let c = presence::ClientBuilder::new()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(&server.origin)
        .build_blocking_with(transport)
        .unwrap();
    let ok = || {
        c.here_now().channels(["ok"]).execute().unwrap().channels[0].occupants[0]
            .user_id
            .clone()
    };
    assert_eq!(ok(), "ann");

    let started = Instant::now();
    let err = c.here_now().channels(["stall"]).execute().unwrap_err();
    assert!(err.transport().is_some_and(|t| t.is_timeout()), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(ok(), "ann");

    let err = c.here_now().channels(["huge"]).execute().unwrap_err();
    assert!(
        matches!(
            err.transport(),
            Some(transport_ureq::Error::BodyTooLarge { .. })
        ),
        "{err:?}"
    );
    assert_eq!(ok(), "ann");

    let err = c.here_now().channels(["html"]).execute().unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (presence::ErrorKind::UnexpectedStatus, Some(502))
    );
    assert_eq!(
        c.here_now()
            .channels(["notjson"])
            .execute()
            .unwrap_err()
            .kind(),
        presence::ErrorKind::MalformedResponse
    );

    let err = c.here_now().channels(["pam"]).execute().unwrap_err();
    let s = err.service_error().unwrap();
    assert_eq!(
        (s.channels.clone(), s.channel_groups.clone()),
        (vec!["pam".to_owned()], vec!["g1".to_owned()])
    );

    let err = c.here_now().channels(["false200"]).execute().unwrap_err();
    assert_eq!(
        (err.status(), err.service_error().unwrap().message.as_str()),
        (Some(403), "Access Denied")
    );
    assert_eq!(
        c.here_now()
            .channels(["err500"])
            .execute()
            .unwrap_err()
            .status(),
        Some(500)
    );
    assert_eq!(ok(), "ann");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let refused = client(&format!("http://{addr}"), "ann");
    let err = refused.here_now().channels(["ok"]).execute().unwrap_err();
    assert!(err.transport().is_some_and(|t| t.is_connect()), "{err:?}");
}

#[test]
fn sequential_calls_reuse_one_connection() {
    const OK: &str =
        r#"{"status": 200, "message": "OK", "service": "Presence", "uuids": [], "occupancy": 0}"#;
    let server = scripted(vec![("/channel/", Reply::Body(200, OK))]);
    let c = client(&server.origin, "ann");
    for _ in 0..25 {
        c.here_now().channels(["a"]).execute().unwrap();
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn blocking_heartbeat_handle_and_watcher() {
    let emu = emulator();
    let origin = emu.origin();
    let (watcher, ann) = (client(&origin, "watcher"), client(&origin, "ann"));
    let mut events = watcher
        .watch()
        .channels(["lobby"])
        .start()
        .expect("watch starts");
    assert!(events.connected(Duration::from_secs(10)));

    let handle = ann
        .presence()
        .channels(["lobby"])
        .state(json!({"k": 1}))
        .timeout(20)
        .connected(true)
        .expect("heartbeat loop starts");
    match events.next_presence(Duration::from_secs(10)) {
        Some(Ok(PresenceEvent::Join(j))) => assert_eq!(j.user_id, "ann"),
        other => panic!("expected join, got {other:?}"),
    }
    handle.stop();
    loop {
        match events.next_presence(Duration::from_secs(10)) {
            Some(Ok(PresenceEvent::Leave(l))) => {
                assert_eq!(l.user_id, "ann");
                break;
            }
            Some(Ok(PresenceEvent::StateChange(_))) => {}
            other => panic!("expected leave, got {other:?}"),
        }
    }
    let quiet = ann
        .presence()
        .channels(["lobby"])
        .timeout(20)
        .connected(true)
        .expect("heartbeat loop starts");
    // A second join by the same user within the same second is a new event, not a duplicate.
    assert!(matches!(
        events.next_presence(Duration::from_secs(10)),
        Some(Ok(PresenceEvent::Join(j))) if j.user_id == "ann"
    ));
    quiet.stop_without_leave();
    emu.advance(Duration::from_secs(21));
    assert!(
        matches!(events.next_presence(Duration::from_secs(10)), Some(Ok(PresenceEvent::Timeout(t))) if t.user_id == "ann")
    );
}

/// Regression (issue 11): the blocking watcher on a forbidden channel yields the 403
/// as its last item, within a second, and the iterator ends.
#[test]
fn a_forbidden_watch_ends_with_its_error() {
    let emu =
        Emulator::start_blocking(EmulatorConfig::new().keyset(common::pam_keyset("tok-a", &["a"])))
            .unwrap();
    let watcher = common::pam_client(&emu.origin(), "w", "tok-a")
        .build_blocking()
        .unwrap();
    let mut events = watcher.watch().channels(["b"]).start().unwrap();
    match events.next_presence(Duration::from_secs(1)) {
        Some(Err(failure)) => {
            let service = failure.service_error().expect("a service error");
            assert_eq!(service.status, 403);
            assert_eq!(service.channels, ["b-pnpres"]);
        }
        other => panic!("expected the 403 within 1 s, got {other:?}"),
    }
    let started = Instant::now();
    assert!(events.next().is_none(), "the iterator ends");
    assert!(started.elapsed() < Duration::from_secs(1));
}
