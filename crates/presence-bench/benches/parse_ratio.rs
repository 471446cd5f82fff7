//! Bench 1 as ratios: the IgnoredAny floor, the borrowed view (`parse_view`) and the
//! owned result (`parse_response`) on the same bytes, **interleaved** round by round
//! and reported as the best round of each (criterion runs one function after another,
//! so on a shared machine its ratios drift with the load; interleaving keeps the
//! three under the same conditions).
//!
//! `cargo bench -p presence-bench --bench parse_ratio`
//! (`PRESENCE_BENCH_ROUNDS`, default 15 rounds; each round times a batch of parses
//! taking about 50 ms of the owned parser.)

use presence_bench::bodies::{generated_here_now, recorded_here_now, Body};
use presence_bench::{env_count, load_avg};
use presence_core::Operation;
use serde::de::IgnoredAny;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn time_batch(iters: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let t = start.elapsed() / iters;
    settle_allocator();
    t
}

/// Outside the timed region: one 4 KiB allocation, which makes glibc's malloc
/// consolidate the small chunks the last batch freed (`malloc_consolidate` runs on the
/// first large request after frees). Without it the owned parse's 100 000 freed
/// `Value`s were consolidated inside the next timed batch: the view on the large body
/// measured 8-10 ms right after an owned batch and 2.1-2.6 ms on its own.
fn settle_allocator() {
    drop(black_box(vec![0u8; 4096]));
}

fn main() {
    let rounds = env_count("PRESENCE_BENCH_ROUNDS", 15);
    // The large body first: after a million small parses the allocator's free lists
    // make its view parse measurably slower (4.9 vs 7.9-9.1 ms in one session).
    let mut bodies: Vec<Body> = vec![generated_here_now(1000, 10)];
    bodies.extend(recorded_here_now());
    println!(
        "parse_ratio: best of {rounds} interleaved rounds; load {}",
        load_avg()
    );
    println!();
    println!("| body | bytes | floor | view | owned | view × floor | owned × floor |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for body in &bodies {
        let response = http::Response::new(body.bytes.as_slice());
        let owned = body.op.parse_response(&response).expect("body parses");
        let view = body
            .op
            .parse_view(&response)
            .expect("body parses as a view");
        assert_eq!(view.into_owned(), owned);
        // Batch size: about 50 ms of the slowest parser.
        let probe = time_batch(3, || {
            black_box(body.op.parse_response(black_box(&response)).ok());
        });
        let iters = (Duration::from_millis(50).as_nanos() / probe.as_nanos().max(1))
            .clamp(1, 1_000_000) as u32;
        let mut best = [Duration::MAX; 3];
        for _ in 0..rounds {
            let t = [
                time_batch(iters, || {
                    black_box(serde_json::from_slice::<IgnoredAny>(black_box(&body.bytes)).ok());
                }),
                time_batch(iters, || {
                    black_box(
                        body.op
                            .parse_view(black_box(&response))
                            .map(|v| v.channels.len())
                            .ok(),
                    );
                }),
                time_batch(iters, || {
                    black_box(body.op.parse_response(black_box(&response)).ok());
                }),
            ];
            for (b, t) in best.iter_mut().zip(t) {
                *b = (*b).min(t);
            }
        }
        let show = |d: Duration| {
            if d >= Duration::from_millis(1) {
                format!("{:.2} ms", d.as_secs_f64() * 1e3)
            } else {
                format!("{:.0} ns", d.as_secs_f64() * 1e9)
            }
        };
        let ratio = |d: Duration| best[0].as_secs_f64() / d.as_secs_f64();
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} |",
            body.name,
            body.bytes.len(),
            show(best[0]),
            show(best[1]),
            show(best[2]),
            ratio(best[1]),
            ratio(best[2]),
        );
    }
}
