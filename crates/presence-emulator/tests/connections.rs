//! Connection exhaustion (issue 15, item 1), over loopback: idle subscribe long-polls
//! and slow or idle connections can never take the slot an ordinary request needs.
//!
//! Both attacks run against a low `max_connections` (64) with a header read timeout
//! far longer than the hang guards, so the old behaviour (the ordinary request waits
//! in the listen backlog until an attacker lets go) fails the test instead of merely
//! slowing it down. The 10 000-long-poll figure is measured by the
//! `emulator_longpoll` bench (docs/PERFORMANCE.md §4), client and server in separate
//! processes.

use presence_emulator::{Emulator, EmulatorConfig, Keyset};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const T0: Duration = Duration::from_secs(1_700_000_000);
/// Hang guard for an ordinary request (it takes milliseconds).
const GUARD: Duration = Duration::from_secs(15);

fn config() -> EmulatorConfig {
    EmulatorConfig::new()
        .keyset(Keyset::new("demo"))
        .paused_clock(T0)
        .max_connections(64)
        .header_read_timeout(Duration::from_secs(600))
}

/// [`get`], which must answer 200 within [`GUARD`] (`what` names it in the failure).
async fn get_ok(addr: std::net::SocketAddr, target: &str, what: &str) -> String {
    let (status, body) = tokio::time::timeout(GUARD, get(addr, target))
        .await
        .unwrap_or_else(|_| panic!("{what} not answered"));
    assert_eq!(status, 200, "{what}: {body}");
    body
}

/// One `GET` on a fresh connection with `Connection: close`: the status and body.
async fn get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_long_polls_do_not_take_the_slots_of_ordinary_requests() {
    const LONG_POLLS: usize = 1_100;
    let emu = Emulator::start(config()).await.unwrap();
    let addr = emu.local_addr();
    // 1 100 subscribers, each joining its own channel and long-polling the presence
    // channel of another one, where nothing happens: they stay parked.
    let mut polls = JoinSet::new();
    for i in 0..LONG_POLLS {
        polls.spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let req = format!(
                "GET /v2/subscribe/demo/u{i},idle{i}-pnpres/0?tt=1&uuid=w{i}&heartbeat=300 HTTP/1.1\r\nHost: x\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            out
        });
    }
    // Every one of them reached the model (its subscribe joined its channel).
    let start = Instant::now();
    loop {
        let users = emu.with_model(|m| m.stats().users);
        if users == LONG_POLLS {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {users} of {LONG_POLLS} long-polls were served after 60 s (max_connections 64)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ordinary requests are answered while all of them wait.
    let during = "during the long-poll attack";
    for k in [0, 99, 1_099] {
        let here_now = format!("/v2/presence/sub-key/demo/channel/u{k}?uuid=probe");
        let body = get_ok(addr, &here_now, &format!("here now {during}")).await;
        assert!(body.contains(&format!("\"w{k}\"")), "{body}");
    }
    let heartbeat = "/v2/presence/sub-key/demo/channel/x/heartbeat?uuid=probe";
    get_ok(addr, heartbeat, &format!("heartbeat {during}")).await;
    // None of the long-polls was answered meanwhile.
    assert!(polls.try_join_next().is_none());
    // Shutdown answers them all (an empty `m`).
    emu.shutdown().await;
    let mut answered = 0;
    while let Some(out) = polls.join_next().await {
        let out = String::from_utf8_lossy(&out.unwrap()).into_owned();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with(r#""m":[]}"#), "{out}");
        answered += 1;
    }
    assert_eq!(answered, LONG_POLLS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_connections_cannot_starve_an_ordinary_request() {
    let emu = Emulator::start(config()).await.unwrap();
    let addr = emu.local_addr();
    // 150 connections send half a request line and stall (the header read timeout is
    // 10 minutes), 50 more connect and send nothing.
    let mut attackers = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if i < 150 {
            s.write_all(b"GET /v2/presence/sub-key/demo/chan")
                .await
                .unwrap();
        }
        attackers.push(s);
    }
    let behind = "behind slow-loris connections";
    for k in 0..5 {
        let heartbeat = format!("/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=u{k}");
        get_ok(addr, &heartbeat, &format!("heartbeat {behind}")).await;
    }
    let here_now = "/v2/presence/sub-key/demo/channel/lobby?uuid=probe&disable_uuids=1";
    let body = get_ok(addr, here_now, &format!("here now {behind}")).await;
    assert!(body.contains(r#""occupancy":5"#), "{body}");
    drop(attackers);
    emu.shutdown().await;
}
