//! Bounds that keep one client from costing everyone (issue 15, items 3 and 4), over
//! loopback: the event log is bounded in bytes as well as in count, and a channel group
//! cannot grow past PubNub's documented limits, so no request naming it is expensive.

mod common;

use common::get;
use presence_emulator::{Emulator, EmulatorConfig, Keyset};
use std::time::Duration;

fn config() -> EmulatorConfig {
    EmulatorConfig::new()
        .keyset(Keyset::new("sk"))
        .paused_clock(Duration::from_secs(1_700_000_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_is_bounded_in_bytes() {
    let emu = Emulator::start(config()).await.unwrap();
    let a = emu.local_addr();
    // One user sets a ~30 KB state 800 times: 800 state-change events, ~24 MB of
    // states if all were kept (the count bound, 20 000, never bites).
    let pad = "x".repeat(30_000);
    for i in 0..800 {
        let state = format!("%7B%22i%22%3A{i}%2C%22pad%22%3A%22{pad}%22%7D");
        let r = get(
            a,
            &format!("/v2/presence/sub-key/sk/channel/big/uuid/u/data?uuid=u&state={state}"),
        )
        .await;
        assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(200)]);
    }
    let r = get(a, "/v2/presence/sub-key/sk/channel/big/leave?uuid=u").await;
    assert_eq!(r.status, 200);
    let s = emu.with_model(|m| m.stats());
    // The default byte bound is 16 MiB: about 550 of these events.
    assert!(s.events < 800, "{s:?}");
    assert!(s.event_bytes <= 16 * 1024 * 1024, "{s:?}");
    assert!(s.event_bytes > 15 * 1024 * 1024, "{s:?}");
    // The newest events are the ones kept: the leave is delivered.
    let r = get(a, "/v2/subscribe/sk/big-pnpres/0?tt=1&uuid=w").await;
    assert_eq!(r.status, 200);
    let m = r.json()["m"].as_array().unwrap().clone();
    assert!(!m.is_empty());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_group_cannot_grow_past_the_documented_limits() {
    let emu = Emulator::start(config()).await.unwrap();
    let a = emu.local_addr();
    let reg = "/v1/channel-registration/sub-key/sk/channel-group/big";
    let names = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    // 201 channels in one call: refused, nothing added.
    let r = get(a, &format!("{reg}?add={}&uuid=admin", names(0, 201))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["service"], "channel-registry");
    let r = get(a, &format!("{reg}?uuid=admin")).await;
    assert_eq!(r.json()["payload"]["channels"].as_array().unwrap().len(), 0);
    // Ten calls of 200 fill it to 2 000; one more channel is refused.
    for k in 0..10 {
        let r = get(a, &format!("{reg}?add={}&uuid=admin", names(k * 200, 200))).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = get(a, &format!("{reg}?add=c0,c1,extra&uuid=admin")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Re-adding members is not growth.
    let r = get(a, &format!("{reg}?add=c0,c1&uuid=admin")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(a, &format!("{reg}?uuid=admin")).await;
    assert_eq!(
        r.json()["payload"]["channels"].as_array().unwrap().len(),
        2_000
    );
    // A request naming the full group, with every member also listed in the path, is
    // answered (de-duplication is linear), and so is everything else.
    let r = get(
        a,
        &format!(
            "/v2/presence/sub-key/sk/channel/{}/heartbeat?channel-group=big&uuid=u&heartbeat=300",
            names(0, 2_000)
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(
        a,
        "/v2/presence/sub-key/sk/channel/,?channel-group=big&uuid=p&disable_uuids=1",
    )
    .await;
    assert_eq!(r.json()["payload"]["total_occupancy"], 2_000);
    assert_eq!(get(a, "/time/0").await.status, 200);
    emu.shutdown().await;
}
