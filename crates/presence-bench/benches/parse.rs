//! Bench 1: typed here-now parsing against the serde floor
//! (`serde_json::from_slice::<IgnoredAny>`) on the same bytes, in bytes/s: the owned
//! result (`parse_response`) and the borrowed view (`parse_view`).
//!
//! `cargo bench -p presence-bench --bench parse`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use presence_bench::bodies::{generated_here_now, recorded_here_now};
use presence_core::Operation;
use serde::de::IgnoredAny;
use std::hint::black_box;
use std::time::Duration;

fn parse(c: &mut Criterion) {
    let mut bodies = recorded_here_now();
    bodies.push(generated_here_now(1000, 10));
    for body in &bodies {
        let large = body.bytes.len() > 100_000;
        let mut g = c.benchmark_group(format!("parse/{}", body.name));
        g.throughput(Throughput::Bytes(body.bytes.len() as u64));
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(if large { 4 } else { 2 }));
        if large {
            g.sample_size(30);
        }
        let response = http::Response::new(body.bytes.as_slice());
        // Sanity: the typed parser accepts the body.
        body.op.parse_response(&response).expect("body parses");
        g.bench_function("typed", |b| {
            b.iter(|| black_box(&body.op).parse_response(black_box(&response)))
        });
        body.op
            .parse_view(&response)
            .expect("body parses as a view");
        g.bench_function("typed_view", |b| {
            b.iter(|| {
                black_box(&body.op)
                    .parse_view(black_box(&response))
                    .map(|v| v.channels.len())
            })
        });
        g.bench_function("ignored_any_floor", |b| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(&body.bytes)))
        });
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
