//! `presence::Client` over HTTP/2 with prior knowledge (h2c) and over HTTP/1.1 against
//! the emulator (which serves both on one port): every operation, errors included,
//! gives the same result.
#![cfg(feature = "hyper")]

use presence::core::{Cursor, Subscribe};
use presence::transport::AsyncTransport;
use presence::transport_hyper::Protocol;
use presence::Client;
use presence_emulator::{Emulator, EmulatorConfig, Keyset};
use serde_json::json;
use std::time::Duration;

/// The emulator's clock is paused at this Unix time, so timetokens repeat run to run.
const T0: Duration = Duration::from_secs(1_700_000_000);

fn client(origin: &str, key: &str, user: &str, protocol: Protocol) -> Client {
    Client::builder()
        .subscribe_key(key)
        .user_id(user)
        .origin(origin)
        .http_protocol(protocol)
        .build()
        .unwrap()
}

/// Runs every operation (and some that fail) on a fresh emulator with `protocol`, and
/// returns what each gave, in order, as `Debug` text; and the HTTP version of the
/// answers.
async fn transcript(protocol: Protocol) -> (Vec<String>, http::Version) {
    let emu = Emulator::start(
        EmulatorConfig::new()
            .keyset(Keyset::new("sk"))
            .paused_clock(T0),
    )
    .await
    .unwrap();
    let origin = emu.origin();
    let (ann, bob) = (
        client(&origin, "sk", "ann", protocol),
        client(&origin, "sk", "bob", protocol),
    );
    let mut out = Vec::new();
    macro_rules! record {
        ($call:expr) => {
            out.push(format!("{:?}", $call.execute().await))
        };
    }

    // The registry is not an operation: the transport sends it (and says the version).
    let uri = format!(
        "{origin}/v1/channel-registration/sub-key/sk/channel-group/g?add=side,room&uuid=admin"
    );
    let registered = ann
        .transport()
        .send(http::Request::get(uri).body(Vec::new()).unwrap())
        .await
        .unwrap();
    let version = registered.version();
    out.push(format!("{:?}", registered.status()));

    let handshake = ann
        .execute(Subscribe::new().channels(["lobby"]).channel_groups(["g"]))
        .await;
    out.push(format!("{handshake:?}"));
    record!(ann
        .heartbeat()
        .channels(["lobby", "game #1"])
        .timeout(60)
        .state(json!({"mood": "ok"})));
    record!(bob.heartbeat().channel_groups(["g"]).timeout(60));
    record!(bob
        .set_state()
        .channels(["lobby"])
        .state(json!({"role": "host"})));
    record!(bob.here_now().channels(["lobby"]).include_state(true));
    record!(ann.here_now().channels(["lobby", "game #1"]));
    record!(ann.here_now().channels(["lobby"]).include_user_ids(false));
    record!(ann.here_now().channels(["lobby"]).limit(1).offset(1));
    record!(ann.here_now().channel_groups(["g"]).include_state(true));
    record!(ann.here_now());
    record!(ann.where_now());
    record!(ann.where_now().user_id("bob"));
    record!(ann.get_state().channels(["lobby"]));
    record!(ann.get_state().channels(["lobby", "game #1"]));
    record!(ann.get_state().channels(["lobby"]).user_id("bob"));
    record!(ann.get_state().channel_groups(["g"]).user_id("bob"));
    record!(ann
        .set_state()
        .channels(["lobby"])
        .user_id("bob")
        .state(json!({"role": "guest"})));
    record!(ann
        .set_state()
        .channel_groups(["g"])
        .state(json!({"via": "group"})));
    // The events since the handshake (joins, state changes), at once: they are there.
    let cursor = handshake
        .map(|r| r.cursor)
        .unwrap_or_else(|_| Cursor::handshake());
    let events = ann
        .execute(
            Subscribe::new()
                .channels(["lobby"])
                .channel_groups(["g"])
                .cursor(cursor),
        )
        .await;
    out.push(format!("{events:?}"));
    record!(ann.leave().channels(["lobby"]));
    record!(bob.leave().channel_groups(["g"]));
    record!(bob.here_now().channels(["lobby", "side"]));

    // Failures: an unknown subscribe key (the service's error), a timeout the emulator
    // refuses, and input the core rejects before sending.
    let stranger = client(&origin, "nope", "eve", protocol);
    record!(stranger.here_now().channels(["lobby"]));
    record!(stranger.heartbeat().channels(["lobby"]));
    record!(ann.heartbeat());
    record!(ann.here_now().channels(["x".repeat(40_000)]));
    emu.shutdown().await;
    (out, version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_and_http1_give_identical_results_for_every_operation() {
    let (h1, h1_version) = transcript(Protocol::Http1).await;
    let (h2, h2_version) = transcript(Protocol::Http2PriorKnowledge).await;
    assert_eq!(h1_version, http::Version::HTTP_11);
    assert_eq!(h2_version, http::Version::HTTP_2);
    // The default speaks HTTP/1.1 to an http origin (ALPN needs TLS).
    let (alpn, alpn_version) = transcript(Protocol::Alpn).await;
    assert_eq!(alpn_version, http::Version::HTTP_11);
    assert_eq!(h1.len(), h2.len());
    for (i, (a, b)) in h1.iter().zip(&h2).enumerate() {
        assert_eq!(a, b, "step {i}");
    }
    assert_eq!(alpn, h1);
    // The transcript is not trivially equal: it holds results and failures.
    assert!(
        h1.iter().filter(|s| s.starts_with("Ok(")).count() >= 20,
        "{h1:#?}"
    );
    assert!(
        h1.iter().filter(|s| s.starts_with("Err(")).count() >= 4,
        "{h1:#?}"
    );
    assert!(h1.iter().any(|s| s.contains("Join")), "{h1:#?}");
}
