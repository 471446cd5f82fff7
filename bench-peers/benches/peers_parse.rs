//! Bench 1 (peer): here-now parsing by presence-core against the official pubnub 0.9
//! crate on the same bytes, in bytes/s. The serde floor (`IgnoredAny`) is measured
//! beside them.
//!
//! `cargo bench --manifest-path bench-peers/Cargo.toml --bench peers_parse`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use presence_bench::bodies::{generated_here_now, recorded_here_now};
use presence_bench_peers::pubnub_parse_here_now;
use presence_core::Operation;
use std::hint::black_box;
use std::time::Duration;

fn parse(c: &mut Criterion) {
    let mut bodies = recorded_here_now();
    bodies.push(generated_here_now(1000, 10));
    for body in &bodies {
        let large = body.bytes.len() > 100_000;
        let response = http::Response::new(body.bytes.as_slice());
        body.op
            .parse_response(&response)
            .expect("presence-core parses");
        if let Err(e) = pubnub_parse_here_now(&body.bytes) {
            println!(
                "{}: pubnub 0.9 does not parse this body ({e}); skipped",
                body.name
            );
            continue;
        }
        let mut g = c.benchmark_group(format!("peers_parse/{}", body.name));
        g.throughput(Throughput::Bytes(body.bytes.len() as u64));
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(if large { 4 } else { 2 }));
        if large {
            g.sample_size(20);
        }
        g.bench_function("presence_core", |b| {
            b.iter(|| black_box(&body.op).parse_response(black_box(&response)))
        });
        g.bench_function("pubnub_0_9", |b| {
            b.iter(|| pubnub_parse_here_now(black_box(&body.bytes)))
        });
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
