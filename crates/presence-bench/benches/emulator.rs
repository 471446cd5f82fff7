//! Bench 4 (throughput): the emulator's pure core, `Model::handle(now, &Request)`,
//! with 100 000 occupants (100 000 users over 1 000 channels, 100 per channel).
//!
//! `cargo bench -p presence-bench --bench emulator`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use presence_emulator::{Model, ModelConfig};
use std::hint::black_box;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const CHANNELS: usize = 1_000;
const T0: Duration = Duration::from_secs(1_700_000_000);

fn get(uri: String) -> http::Request<()> {
    http::Request::get(uri).body(()).expect("request")
}

/// The heartbeat of user `i` on its channel, as an SDK sends it.
fn heartbeat(i: usize) -> http::Request<()> {
    get(format!(
        "/v2/presence/sub-key/demo/channel/bench-ch-{:04}/heartbeat?heartbeat=300&pnsdk=PubNub-Rust%2F0.9.0&uuid=user-{i:06}",
        i % CHANNELS
    ))
}

fn populated() -> Model {
    let mut m = Model::new(ModelConfig::new());
    for i in 0..USERS {
        assert_eq!(m.handle(T0, &heartbeat(i)).status(), 200);
    }
    assert_eq!(m.stats().occupants, USERS);
    m
}

fn emulator(c: &mut Criterion) {
    let beats: Vec<http::Request<()>> = (0..USERS).map(heartbeat).collect();

    let mut g = c.benchmark_group("emulator/heartbeat");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    // Joins: the first heartbeat of each user, into a model growing from 0 to 100 000.
    g.bench_function("join_0_to_100k", |b| {
        b.iter_custom(|iters| {
            let mut left = iters as usize;
            let mut spent = Duration::ZERO;
            while left > 0 {
                let n = left.min(USERS);
                let mut m = Model::new(ModelConfig::new());
                let start = Instant::now();
                for r in &beats[..n] {
                    black_box(m.handle(T0, r));
                }
                spent += start.elapsed();
                left -= n;
            }
            spent
        })
    });
    // Steady state: every user heartbeats again (moves its expiry), 1 µs apart.
    let mut m = populated();
    let mut i = 0usize;
    let mut now = T0;
    g.bench_function("extend_in_100k", |b| {
        b.iter(|| {
            now += Duration::from_micros(1);
            let r = &beats[i % USERS];
            i += 1;
            black_box(m.handle(now, r))
        })
    });
    g.finish();
    assert_eq!(m.stats().occupants, USERS);

    let mut g = c.benchmark_group("emulator/here_now_in_100k");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    let one: Vec<_> = (0..CHANNELS)
        .map(|c| {
            get(format!(
                "/v2/presence/sub-key/demo/channel/bench-ch-{c:04}?uuid=reader"
            ))
        })
        .collect();
    let one_state: Vec<_> = (0..CHANNELS)
        .map(|c| {
            get(format!(
                "/v2/presence/sub-key/demo/channel/bench-ch-{c:04}?state=1&uuid=reader"
            ))
        })
        .collect();
    let ten: Vec<_> = (0..CHANNELS / 10)
        .map(|k| {
            let list: Vec<String> = (0..10)
                .map(|j| format!("bench-ch-{:04}", k * 10 + j))
                .collect();
            get(format!(
                "/v2/presence/sub-key/demo/channel/{}?uuid=reader",
                list.join(",")
            ))
        })
        .collect();
    let global_counts = vec![get(
        "/v2/presence/sub-key/demo?disable_uuids=1&uuid=reader".to_owned()
    )];
    let global_all = vec![get("/v2/presence/sub-key/demo?uuid=reader".to_owned())];
    for (name, reqs) in [
        ("channel_of_100", &one),
        ("channel_of_100_state", &one_state),
        ("10_channels_of_100", &ten),
        ("global_counts_only", &global_counts),
        ("global_all_100k_uuids", &global_all),
    ] {
        let mut i = 0usize;
        if name == "global_all_100k_uuids" {
            g.sample_size(10);
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = &reqs[i % reqs.len()];
                i += 1;
                let resp = m.handle(T0 + Duration::from_secs(1), r);
                debug_assert_eq!(resp.status(), 200);
                black_box(resp)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, emulator);
criterion_main!(benches);
