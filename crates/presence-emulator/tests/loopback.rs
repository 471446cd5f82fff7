//! Round trips over real HTTP through `Emulator::start`.

mod common;

use common::{get, get_blocking};
use presence_core::{canonical_query, sign_v2};
use presence_emulator::{Emulator, EmulatorConfig, Keyset};
use serde_json::json;
use std::time::Duration;

const T0: u64 = 1_700_000_000;

fn config() -> EmulatorConfig {
    EmulatorConfig::new()
        .keyset(Keyset::new("sk"))
        .keyset(Keyset::new("signed").publish_key("pub").secret_key("sec"))
        .paused_clock(Duration::from_secs(T0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_round_trips() {
    let emu = Emulator::start(config()).await.unwrap();
    assert!(emu.origin().starts_with("http://127.0.0.1:"));
    let a = emu.local_addr();
    let p = "/v2/presence/sub-key/sk";

    let r = get(
        a,
        "/v1/channel-registration/sub-key/sk/channel-group/g?add=c1%2Cc2&uuid=u",
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"status":200,"message":"OK","service":"channel-registry","error":false}"#
    );
    let r = get(
        a,
        "/v1/channel-registration/sub-key/sk/channel-group/g?uuid=u",
    )
    .await;
    assert_eq!(
        r.json()["payload"],
        json!({"channels": ["c1", "c2"], "group": "g"})
    );
    let r = get(
        a,
        "/v1/channel-registration/sub-key/sk/channel-group?uuid=u",
    )
    .await;
    assert_eq!(r.json()["payload"], json!({"groups": ["g"]}));

    let r = get(
        a,
        &format!("{p}/channel/lobby/heartbeat?heartbeat=60&uuid=ann&pnsdk=test%2F1"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=\"UTF-8\"")
    );
    assert_eq!(r.header("server"), Some("Pubnub Presence"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(
        r.body,
        r#"{"status":200,"message":"OK","service":"Presence"}"#
    );
    get(
        a,
        &format!("{p}/channel/,/heartbeat?heartbeat=60&uuid=bob&channel-group=g"),
    )
    .await;

    let r = get(a, &format!("{p}/channel/lobby?uuid=x")).await;
    assert_eq!(
        r.body,
        r#"{"status":200,"message":"OK","service":"Presence","uuids":["ann"],"occupancy":1}"#
    );
    let r = get(a, &format!("{p}/channel/lobby,c1?uuid=x&limit=1000")).await;
    assert_eq!(r.json()["payload"]["total_occupancy"], 2);
    let r = get(a, &format!("{p}?uuid=x")).await;
    assert_eq!(r.json()["payload"]["total_channels"], 3);
    let r = get(a, &format!("{p}/uuid/bob?uuid=x")).await;
    assert_eq!(r.json()["payload"]["channels"], json!(["c1", "c2"]));

    let r = get(
        a,
        &format!("{p}/channel/lobby/uuid/ann/data?uuid=ann&state=%7B%22mood%22%3A%22ok%22%7D"),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"status":200,"message":"OK","payload":{"mood":"ok"},"service":"Presence"}"#
    );
    let r = get(a, &format!("{p}/channel/lobby/uuid/ann?uuid=ann")).await;
    assert_eq!(
        r.body,
        r#"{"status":200,"message":"OK","payload":{"mood":"ok"},"uuid":"ann","channel":"lobby","service":"Presence"}"#
    );
    let r = get(
        a,
        &format!("{p}/channel/lobby/uuid/ann?uuid=ann&channel-group=g"),
    )
    .await;
    assert_eq!(
        r.json()["payload"]["channels"]["lobby"],
        json!({"mood": "ok"})
    );

    let r = get(a, &format!("{p}/channel/lobby/leave?uuid=ann")).await;
    assert_eq!(
        r.body,
        r#"{"status":200,"action":"leave","message":"OK","service":"Presence"}"#
    );
    assert_eq!(
        get(a, &format!("{p}/channel/lobby?uuid=x")).await.json()["occupancy"],
        0
    );

    let r = get(
        a,
        "/v1/channel-registration/sub-key/sk/channel-group/g/remove?uuid=u",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        get(a, "/v1/channel-registration/sub-key/sk/channel-group")
            .await
            .json()["payload"],
        json!({"groups": []})
    );

    // Errors over the wire.
    assert_eq!(get(a, "/nowhere").await.status, 404);
    assert_eq!(
        get(a, &format!("{p}/channel/a?uuid=x&limit=5000"))
            .await
            .status,
        400
    );
    let long = format!("{p}/channel/{}?uuid=x", "y".repeat(33 * 1024));
    let r = get(a, &long).await;
    assert_eq!(r.status, 414);
    assert_eq!(r.json()["message"], "Request-URI Too Long");

    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_request_with_presence_core_signature() {
    let emu = Emulator::start(config()).await.unwrap();
    let a = emu.local_addr();
    let ts = emu.now().as_secs().to_string();
    let path = "/v2/presence/sub-key/signed/channel/a%20b/heartbeat";
    let params = [
        ("heartbeat", "60"),
        ("uuid", "u 1"),
        ("timestamp", ts.as_str()),
        ("channel-group", ""),
    ];
    let sig = sign_v2(
        "sec",
        "GET",
        "pub",
        path,
        &canonical_query(params.iter().copied()),
        b"",
    );
    let target =
        format!("{path}?heartbeat=60&uuid=u%201&timestamp={ts}&channel-group=&signature={sig}");
    let r = get(a, &target).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(
        a,
        &format!("{path}?heartbeat=60&uuid=u%201&timestamp={ts}&signature=v2.bogus"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["message"], "Invalid signature");
    emu.with_model(|m| assert_eq!(m.occupancy("signed", "a b"), 1));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_causes_timeout() {
    let emu = Emulator::start(config()).await.unwrap();
    let a = emu.local_addr();
    get(
        a,
        "/v2/presence/sub-key/sk/channel/ch/heartbeat?heartbeat=20&uuid=u",
    )
    .await;
    emu.advance(Duration::from_secs(19));
    assert_eq!(
        get(a, "/v2/presence/sub-key/sk/channel/ch?uuid=x")
            .await
            .json()["occupancy"],
        1
    );
    emu.advance(Duration::from_secs(1));
    // `advance` applies the timeout synchronously: gone from the model right away.
    emu.with_model(|m| assert_eq!(m.stats().occupants, 0));
    assert_eq!(
        get(a, "/v2/presence/sub-key/sk/channel/ch?uuid=x")
            .await
            .json()["occupancy"],
        0
    );
    assert_eq!(emu.now(), Duration::from_secs(T0 + 20));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_the_listener() {
    let emu = Emulator::start(EmulatorConfig::new()).await.unwrap();
    let a = emu.local_addr();
    assert_eq!(get(a, "/v2/presence/sub-key/demo?uuid=x").await.status, 200);
    emu.shutdown().await;
    assert!(tokio::net::TcpStream::connect(a).await.is_err());
}

#[test]
fn blocking_variant() {
    let emu = Emulator::start_blocking(config()).unwrap();
    let a = emu.local_addr();
    let r = get_blocking(
        a,
        "/v2/presence/sub_key/sk/channel/x/heartbeat?heartbeat=30&uuid=u",
    );
    assert_eq!(r.status, 200);
    emu.advance(Duration::from_secs(29));
    assert_eq!(
        get_blocking(a, "/v2/presence/sub-key/sk/channel/x?uuid=q").json()["occupancy"],
        1
    );
    emu.advance(Duration::from_secs(1));
    assert_eq!(
        get_blocking(a, "/v2/presence/sub-key/sk/channel/x?uuid=q").json()["occupancy"],
        0
    );
    emu.shutdown();
    assert!(std::net::TcpStream::connect(a).is_err());
}
