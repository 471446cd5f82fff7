//! Subscribe long-polls over real HTTP: events wake them, `advance` drives timeouts
//! and idle deadlines, shutdown releases them.

mod common;

use common::get;
use presence_emulator::{Emulator, EmulatorConfig, Keyset};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

const T0: u64 = 1_700_000_000;
const LIMIT: Duration = Duration::from_secs(10);

fn config() -> EmulatorConfig {
    EmulatorConfig::new()
        .keyset(Keyset::new("sk"))
        .paused_clock(Duration::from_secs(T0))
}

fn spawn_poll(a: SocketAddr, target: String) -> tokio::task::JoinHandle<Value> {
    tokio::spawn(async move { get(a, &target).await.json() })
}

async fn done(task: tokio::task::JoinHandle<Value>) -> Value {
    tokio::time::timeout(LIMIT, task)
        .await
        .expect("long-poll answered")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_receives_join_then_timeout_after_advance() {
    let emu = Emulator::start(config()).await.unwrap();
    let a = emu.local_addr();
    let sub = "/v2/subscribe/sk/lobby-pnpres/0?uuid=watcher";
    let hs = get(a, &format!("{sub}&tt=0")).await.json();
    let tt = hs["t"]["t"].as_str().unwrap().to_owned();
    assert_eq!(hs["m"], serde_json::json!([]));

    let poll = spawn_poll(a, format!("{sub}&tt={tt}&tr=1"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!poll.is_finished(), "nothing yet: the long-poll waits");
    let r = get(
        a,
        "/v2/presence/sub-key/sk/channel/lobby/heartbeat?heartbeat=20&uuid=ann",
    )
    .await;
    assert_eq!(r.status, 200);
    let v = done(poll).await;
    assert_eq!(v["m"][0]["c"], "lobby-pnpres");
    assert_eq!(v["m"][0]["b"], "lobby-pnpres");
    assert_eq!(v["m"][0]["d"]["action"], "join");
    assert_eq!(v["m"][0]["d"]["uuid"], "ann");

    let tt = v["t"]["t"].as_str().unwrap().to_owned();
    let poll = spawn_poll(a, format!("{sub}&tt={tt}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    emu.advance(Duration::from_secs(20));
    let v = done(poll).await;
    assert_eq!(v["m"][0]["d"]["action"], "timeout");
    assert_eq!(v["m"][0]["d"]["uuid"], "ann");
    assert_eq!(v["m"][0]["d"]["timestamp"], T0 + 20);
    assert_eq!(v["m"][0]["d"]["occupancy"], 0);

    // Idle: `advance` past the 280 s subscribe timeout releases the long-poll empty.
    let tt = v["t"]["t"].as_str().unwrap().to_owned();
    let poll = spawn_poll(a, format!("{sub}&tt={tt}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    emu.advance(Duration::from_secs(279));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!poll.is_finished());
    emu.advance(Duration::from_secs(1));
    let v = done(poll).await;
    assert_eq!(v["m"], serde_json::json!([]));
    assert_eq!(v["t"]["t"].as_str().unwrap(), tt);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_mode_over_http() {
    let emu = Emulator::start(config().announce_max(2).interval(Duration::from_secs(10)))
        .await
        .unwrap();
    let a = emu.local_addr();
    let sub = "/v2/subscribe/sk/room-pnpres/0?uuid=watcher";
    let mut tt = get(a, &format!("{sub}&tt=0")).await.json()["t"]["t"]
        .as_str()
        .unwrap()
        .to_owned();
    for u in ["u1", "u2", "u3"] {
        get(
            a,
            &format!("/v2/presence/sub-key/sk/channel/room/heartbeat?uuid={u}"),
        )
        .await;
    }
    let v = get(a, &format!("{sub}&tt={tt}")).await.json();
    let actions: Vec<&str> = v["m"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["d"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["join", "join"]);
    tt = v["t"]["t"].as_str().unwrap().to_owned();
    let poll = spawn_poll(a, format!("{sub}&tt={tt}"));
    emu.advance(Duration::from_secs(10));
    let v = done(poll).await;
    assert_eq!(v["m"][0]["d"]["action"], "interval");
    assert_eq!(v["m"][0]["d"]["join"], serde_json::json!(["u3"]));
    assert_eq!(v["m"][0]["d"]["occupancy"], 3);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_pending_long_polls() {
    let emu = Emulator::start(config()).await.unwrap();
    let a = emu.local_addr();
    let sub = "/v2/subscribe/sk/x-pnpres/0?uuid=w";
    let tt = get(a, &format!("{sub}&tt=0")).await.json()["t"]["t"]
        .as_str()
        .unwrap()
        .to_owned();
    let poll = spawn_poll(a, format!("{sub}&tt={tt}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(LIMIT, emu.shutdown())
        .await
        .expect("prompt shutdown");
    assert_eq!(done(poll).await["m"], serde_json::json!([]));
}
