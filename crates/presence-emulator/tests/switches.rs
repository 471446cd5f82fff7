//! The real-service behaviours that are switches (off by default), through the server
//! over loopback with a raw HTTP client: the here-now cache on the virtual clock, the
//! per-keyset rate limit with `Retry-After`, and the binary's `--fault` and
//! `--realistic` flags.

mod common;

use common::get;
use presence_emulator::{Emulator, EmulatorConfig, EmulatorHandle, Keyset};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

const T0: Duration = Duration::from_secs(1_700_000_000);

async fn start(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config.paused_clock(T0)).await.unwrap()
}

async fn join(addr: SocketAddr, user: &str, channel: &str) {
    let target =
        format!("/v2/presence/sub-key/demo/channel/{channel}/heartbeat?heartbeat=300&uuid={user}");
    assert_eq!(get(addr, &target).await.status, 200);
}

/// The `uuids` of a single-channel here now on `lobby`, asked as `asker`.
async fn lobby(addr: SocketAddr, asker: &str, extra: &str) -> serde_json::Value {
    let r = get(
        addr,
        &format!("/v2/presence/sub-key/demo/channel/lobby?uuid={asker}{extra}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn here_now_is_cached_for_its_window_on_the_virtual_clock() {
    let emu = start(EmulatorConfig::new().here_now_cache(Duration::from_secs(3))).await;
    let addr = emu.local_addr();
    join(addr, "ann", "lobby").await;
    let first = lobby(addr, "bob", "").await;
    assert_eq!(first["uuids"], serde_json::json!(["ann"]));
    let global_first = get(addr, "/v2/presence/sub-key/demo?uuid=bob").await.body;
    join(addr, "carl", "lobby").await;
    join(addr, "carl", "hall").await;

    // Within the window the same here now gets the old answer, whoever asks and
    // whatever `pnsdk`/`requestid` it sends...
    assert_eq!(
        lobby(addr, "zed", "&pnsdk=x%2F1&requestid=r-1").await,
        first
    );
    assert_eq!(
        get(addr, "/v2/presence/sub-key/demo?uuid=zed").await.body,
        global_first
    );
    emu.advance(Duration::from_millis(2999));
    assert_eq!(lobby(addr, "bob", "").await, first);
    // ...while another here now (other flags, other channels) is a new one.
    let with_state = lobby(addr, "bob", "&state=1").await;
    assert_eq!(
        with_state["uuids"].as_array().unwrap().len(),
        2,
        "{with_state}"
    );
    let two = get(
        addr,
        "/v2/presence/sub-key/demo/channel/lobby,hall?uuid=bob",
    )
    .await
    .json();
    assert_eq!(two["payload"]["total_occupancy"], 3, "{two}");

    // At exactly 3 s the cached answer is gone: the live model answers (and is cached
    // again).
    emu.advance(Duration::from_millis(1));
    let fresh = lobby(addr, "bob", "").await;
    assert_eq!(fresh["uuids"], serde_json::json!(["ann", "carl"]));
    assert_ne!(
        get(addr, "/v2/presence/sub-key/demo?uuid=bob").await.body,
        global_first
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn without_the_switch_here_now_is_live() {
    let emu = start(EmulatorConfig::new()).await;
    let addr = emu.local_addr();
    join(addr, "ann", "lobby").await;
    assert_eq!(lobby(addr, "bob", "").await["occupancy"], 1);
    join(addr, "carl", "lobby").await;
    assert_eq!(lobby(addr, "bob", "").await["occupancy"], 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_cached_answer_still_needs_a_grant() {
    let emu = start(
        EmulatorConfig::new()
            .keyset(Keyset::new("pam").grant("tok", ["lobby"], Vec::<String>::new()))
            .here_now_cache(Duration::from_secs(3)),
    )
    .await;
    let addr = emu.local_addr();
    let here = |auth: &'static str| async move {
        get(
            addr,
            &format!("/v2/presence/sub-key/pam/channel/lobby?uuid=u&auth={auth}"),
        )
        .await
        .status
    };
    assert_eq!(here("tok").await, 200);
    assert_eq!(here("other").await, 403);
    assert_eq!(here("tok").await, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_keyset_past_its_rate_limit_gets_429_with_retry_after() {
    let emu = start(
        EmulatorConfig::new()
            .keyset(Keyset::new("demo"))
            .keyset(Keyset::new("other"))
            .rate_limit(3),
    )
    .await;
    let addr = emu.local_addr();
    for user in ["a", "b", "c"] {
        join(addr, user, "lobby").await;
    }
    let r = get(
        addr,
        "/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=d",
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.body,
        r#"{"status":429,"error":true,"message":"Too Many Requests","service":"Presence"}"#
    );
    // The refused heartbeat changed nothing.
    assert_eq!(emu.with_model(|m| m.occupancy("demo", "lobby")), 3);
    // The registry and subscribe count too, with their own service name.
    let r = get(addr, "/v1/channel-registration/sub-key/demo/channel-group").await;
    assert_eq!(
        (r.status, r.json()["service"].as_str()),
        (429, Some("channel-registry"))
    );
    // Another keyset and /time/0 have their own budget (none for the time).
    assert_eq!(
        get(addr, "/v2/presence/sub-key/other/channel/lobby?uuid=x")
            .await
            .status,
        200
    );
    for _ in 0..5 {
        assert_eq!(get(addr, "/time/0").await.status, 200);
    }
    // A second later (virtual clock) the keyset is served again.
    emu.advance(Duration::from_millis(999));
    assert_eq!(lobby_status(addr).await, 429);
    emu.advance(Duration::from_millis(1));
    assert_eq!(lobby_status(addr).await, 200);
    emu.shutdown().await;
}

async fn lobby_status(addr: SocketAddr) -> u16 {
    get(addr, "/v2/presence/sub-key/demo/channel/lobby?uuid=x")
        .await
        .status
}

/// The binary started with `args`, and its origin's address (from its first line).
fn spawn(args: &[&str]) -> (std::process::Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("PRESENCE_EMULATOR_KEYSETS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = common::listening_addr(&mut child);
    (child, addr)
}

#[tokio::test]
async fn the_binary_takes_fault_rules_and_the_switches() {
    let (mut child, addr) = spawn(&[
        "--realistic",
        "--rate-limit",
        "1000",
        "--fault",
        "op=leave,status=503,retry-after=9",
        "--fault",
        "op=where_now,false200=403",
    ]);
    let r = get(addr, "/v2/presence/sub-key/demo/channel/lobby/leave?uuid=a").await;
    assert_eq!((r.status, r.header("retry-after")), (503, Some("9")));
    let r = get(addr, "/v2/presence/sub-key/demo/uuid/a?uuid=a").await;
    assert_eq!((r.status, r.json()["status"].as_u64()), (200, Some(403)));
    assert_eq!(lobby_status(addr).await, 200);
    let _ = child.kill();
    let _ = child.wait();
    let help = Command::new(env!("CARGO_BIN_EXE_presence-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--fault <RULE>",
        "--here-now-cache <SECS>",
        "--rate-limit <N>",
        "--realistic",
        "false200[=CODE]",
    ] {
        assert!(help.contains(flag), "{flag} in\n{help}");
    }
}
