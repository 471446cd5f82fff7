//! Bench 2: building here-now requests (`HereNow::to_request`), unsigned and signed
//! (v2 HMAC-SHA256), for 1, 10 and 100 channels.
//!
//! `cargo bench -p presence-bench --bench request`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use presence_core::{Config, HereNow, Keyset, Operation, RequestMeta, UserId};
use std::hint::black_box;
use std::time::Duration;

fn request(c: &mut Criterion) {
    let user = UserId::new("bench-user-0001").expect("user id");
    let unsigned = Config::new(Keyset::new("sub-c-bench"), user.clone());
    let signed = Config::new(
        Keyset::new("sub-c-bench")
            .with_publish_key("pub-c-bench")
            .with_secret_key("sec-c-bench"),
        user,
    );
    let meta = RequestMeta::new(1_700_000_000);
    let mut g = c.benchmark_group("request/here_now");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for n in [1usize, 10, 100] {
        let op = HereNow::new()
            .channels((0..n).map(|i| format!("bench-channel-{i:03}")))
            .include_state(true);
        for (kind, config) in [("unsigned", &unsigned), ("signed", &signed)] {
            op.to_request(config, &meta).expect("request builds");
            g.bench_with_input(BenchmarkId::new(kind, n), &op, |b, op| {
                b.iter(|| black_box(op).to_request(black_box(config), black_box(&meta)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, request);
criterion_main!(benches);
