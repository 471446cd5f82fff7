//! Throughput smoke test of the pure core (ignored by default; run with
//! `cargo test --release -p presence-emulator --test perf_smoke -- --ignored --nocapture`).

use presence_emulator::{Model, ModelConfig};
use std::time::{Duration, Instant};

#[test]
#[ignore = "timing smoke test; run in release"]
fn heartbeats_per_second_on_the_core() {
    let mut m = Model::new(ModelConfig::new());
    let t0 = Duration::from_secs(1_700_000_000);
    let users = 100_000usize;
    let reqs: Vec<http::Request<()>> = (0..users)
        .map(|i| {
            let uri = format!(
                "/v2/presence/sub-key/demo/channel/ch{}/heartbeat?heartbeat=300&uuid=user-{i:08}&pnsdk=PubNub-Rust%2F0.7.0",
                i % 1000
            );
            http::Request::get(uri).body(()).unwrap()
        })
        .collect();
    let start = Instant::now();
    for r in &reqs {
        assert_eq!(m.handle(t0, r).status(), 200);
    }
    let joins = start.elapsed();
    let start = Instant::now();
    for round in 1..=3u64 {
        for r in &reqs {
            m.handle(t0 + Duration::from_secs(round), r);
        }
    }
    let extends = start.elapsed();
    println!(
        "joins: {:.0}/s, extending heartbeats: {:.0}/s, stats {:?}",
        users as f64 / joins.as_secs_f64(),
        3.0 * users as f64 / extends.as_secs_f64(),
        m.stats()
    );
}
