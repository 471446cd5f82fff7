//! Bench 1 (peer): here-now parsing by presence-core against the official pubnub 0.9
//! crate on the same bytes, in bytes/s: our owned result (`parse_response`), our
//! borrowed view (`HereNow::parse_view`, user ids and channel names borrowed, states
//! kept as raw JSON text) and pubnub 0.9's serde parse into its own types (states as
//! `serde_json::Value`, like our owned result).
//!
//! `cargo bench --manifest-path bench-peers/Cargo.toml --bench peers_parse`
//! (criterion's `--warm-up-time`/`--measurement-time` apply: the groups do not
//! override them; only the large body lowers its sample count.)

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use presence_bench::bodies::{generated_here_now, recorded_here_now};
use presence_bench_peers::pubnub_parse_here_now;
use presence_core::Operation;
use std::hint::black_box;

fn parse(c: &mut Criterion) {
    let mut bodies = recorded_here_now();
    bodies.push(generated_here_now(1000, 10));
    for body in &bodies {
        let large = body.bytes.len() > 100_000;
        let response = http::Response::new(body.bytes.as_slice());
        let ours = body
            .op
            .parse_response(&response)
            .expect("presence-core parses");
        let view = body
            .op
            .parse_view(&response)
            .expect("presence-core parses as a view");
        assert_eq!(
            view.clone().into_owned().expect("view converts"),
            ours,
            "{}: view and owned results differ",
            body.name
        );
        let theirs = match pubnub_parse_here_now(&body.bytes) {
            Ok(r) => r,
            Err(e) => {
                println!(
                    "{}: pubnub 0.9 does not parse this body ({e}); skipped",
                    body.name
                );
                continue;
            }
        };
        // Same work on both sides: the same channels and occupants were decoded.
        let our_occupants: usize = ours.channels.iter().map(|c| c.occupants.len()).sum();
        let their_occupants: usize = theirs.channels.iter().map(|c| c.occupants.len()).sum();
        if ours.channels.len() != theirs.channels.len() || our_occupants != their_occupants {
            println!(
                "{}: results differ (ours {} channels/{} occupants, pubnub {}/{}); skipped",
                body.name,
                ours.channels.len(),
                our_occupants,
                theirs.channels.len(),
                their_occupants
            );
            continue;
        }
        let mut g = c.benchmark_group(format!("peers_parse/{}", body.name));
        g.throughput(Throughput::Bytes(body.bytes.len() as u64));
        if large {
            g.sample_size(20);
        }
        g.bench_function("ours_owned", |b| {
            b.iter(|| black_box(&body.op).parse_response(black_box(&response)))
        });
        g.bench_function("ours_view", |b| {
            b.iter(|| black_box(&body.op).parse_view(black_box(&response)))
        });
        g.bench_function("pubnub_0_9", |b| {
            b.iter(|| pubnub_parse_here_now(black_box(&body.bytes)))
        });
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
