//! Fault rules through the server over loopback, seen by a raw HTTP client: status
//! and "false 200" answers, latency, cut bodies, closed connections, filters, seeded
//! probabilities, and rules changed on a running emulator.

mod common;

use common::{get, get_raw, parse_raw};
use presence_emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultRule};
use std::time::Duration;

const HB: &str = "/v2/presence/sub-key/demo/channel/lobby/heartbeat?heartbeat=60&uuid=ann";
const HERE: &str = "/v2/presence/sub-key/demo/channel/lobby?uuid=bob";

fn rule(s: &str) -> FaultRule {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

async fn start(rules: &[&str]) -> EmulatorHandle {
    Emulator::start(
        EmulatorConfig::new()
            .paused_clock(Duration::from_secs(1_700_000_000))
            .faults(rules.iter().map(|r| rule(r))),
    )
    .await
    .unwrap()
}

fn occupancy(emu: &EmulatorHandle) -> usize {
    emu.with_model(|m| m.occupancy("demo", "lobby"))
}

#[tokio::test]
async fn status_rules_answer_instead_of_the_model() {
    let emu = start(&["op=heartbeat,status=503,retry-after=7"]).await;
    let r = get(emu.local_addr(), HB).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(
        r.body,
        r#"{"status":503,"error":true,"message":"Service Unavailable","service":"Presence"}"#
    );
    // The heartbeat never reached the model.
    assert_eq!(occupancy(&emu), 0);
    // Other operations are untouched.
    assert_eq!(get(emu.local_addr(), HERE).await.status, 200);

    for (text, status, body) in [
        (
            "op=here_now,status=402",
            402,
            r#"{"status":402,"error":true,"message":"Payment Required","service":"Presence"}"#,
        ),
        (
            "op=here_now,status=403,body={\"error\":true,\"status\":403}",
            403,
            r#"{"error":true,"status":403}"#,
        ),
        (
            "op=here_now,status=500",
            500,
            r#"{"status":500,"error":true,"message":"Internal Server Error","service":"Presence"}"#,
        ),
        (
            "op=here_now,false200=503",
            200,
            r#"{"status":503,"message":"Service Unavailable","error":1,"service":"Presence"}"#,
        ),
    ] {
        emu.set_faults(vec![rule(text)]);
        let r = get(emu.local_addr(), HERE).await;
        assert_eq!((r.status, r.body.as_str()), (status, body), "{text}");
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=\"UTF-8\"")
        );
    }
    emu.clear_faults();
    assert!(emu.faults().is_empty());
    assert_eq!(get(emu.local_addr(), HB).await.status, 200);
    assert_eq!(occupancy(&emu), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn close_sends_nothing_and_never_reaches_the_model() {
    let emu = start(&["op=heartbeat,close"]).await;
    assert_eq!(get_raw(emu.local_addr(), HB).await, b"");
    assert_eq!(occupancy(&emu), 0);
    // The server keeps serving other connections.
    assert_eq!(get(emu.local_addr(), HERE).await.status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn cut_sends_the_head_and_half_the_body_after_the_model_answered() {
    let emu = start(&[]).await;
    let whole = get(emu.local_addr(), HB).await;
    assert_eq!(whole.status, 200);
    emu.set_faults(vec![rule("op=heartbeat,cut")]);
    let raw = get_raw(emu.local_addr(), HB).await;
    let text = String::from_utf8(raw.clone()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let r = parse_raw(&raw);
    let announced: usize = r.header("content-length").unwrap().parse().unwrap();
    assert_eq!(announced, whole.body.len());
    assert_eq!(body, &whole.body[..announced / 2]);
    // The heartbeat did take effect: only its answer was lost.
    assert_eq!(occupancy(&emu), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn latency_comes_before_the_response() {
    let emu = start(&["op=here_now,latency=1s"]).await;
    let mut s = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    s.write_all(format!("GET {HERE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    // Nothing at all arrives in the first 200 ms of the 1 s latency...
    let early = tokio::time::timeout(Duration::from_millis(200), s.read_to_end(&mut buf)).await;
    assert!(early.is_err() && buf.is_empty(), "{buf:?}");
    // ...and then the emulator's own answer.
    s.read_to_end(&mut buf).await.unwrap();
    let r = parse_raw(&buf);
    assert_eq!(r.status, 200);
    assert!(r.body.ends_with(r#""occupancy":0}"#), "{}", r.body);
    emu.shutdown().await;
}

#[tokio::test]
async fn filters_pick_keyset_channel_and_operation() {
    let emu = Emulator::start(
        EmulatorConfig::new()
            .keyset(presence_emulator::Keyset::new("k1"))
            .keyset(presence_emulator::Keyset::new("k2"))
            .fault(rule("keyset=k1,channel=lobby,status=500")),
    )
    .await
    .unwrap();
    let addr = emu.local_addr();
    let status = |k: &'static str, c: &'static str| async move {
        get(
            addr,
            &format!("/v2/presence/sub-key/{k}/channel/{c}/heartbeat?uuid=u"),
        )
        .await
        .status
    };
    assert_eq!(status("k1", "lobby").await, 500);
    assert_eq!(status("k1", "a,lobby").await, 500);
    assert_eq!(status("k1", "hall").await, 200);
    assert_eq!(status("k2", "lobby").await, 200);
    // The channel filter also matches the channel's presence name in a subscribe.
    assert_eq!(
        get(addr, "/v2/subscribe/k1/lobby-pnpres/0?uuid=u")
            .await
            .status,
        500
    );
    emu.add_fault(rule("op=time,status=503"));
    assert_eq!(get(addr, "/time/0").await.status, 503);
    assert_eq!(emu.faults().len(), 2);
    emu.shutdown().await;
}

/// Which of 40 numbered heartbeats a `p=0.5` rule with `seed` fails, in a fresh
/// emulator.
async fn failed_heartbeats(seed: u64) -> Vec<usize> {
    let emu = start(&[&format!("op=heartbeat,p=0.5,seed={seed},status=503")]).await;
    let mut failed = Vec::new();
    for i in 0..40 {
        let target = format!("/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=u{i}");
        // Requests the rule does not match do not change which heartbeats fail.
        assert_eq!(get(emu.local_addr(), HERE).await.status, 200);
        match get(emu.local_addr(), &target).await.status {
            503 => failed.push(i),
            200 => {}
            other => panic!("status {other}"),
        }
    }
    emu.shutdown().await;
    failed
}

#[tokio::test]
async fn a_seeded_probability_fails_the_same_requests_in_every_run() {
    let first = failed_heartbeats(42).await;
    assert_eq!(failed_heartbeats(42).await, first);
    assert!(!first.is_empty() && first.len() < 40, "{first:?}");
    assert_ne!(failed_heartbeats(43).await, first);
}
