//! Profiling driver (callgrind / perf): parses one here-now body in a loop.
//! `prof_parse <big|small> <iterations> [floor|view|owned|mixed]`
use presence_bench::bodies::{generated_here_now, recorded_here_now};
use presence_core::Operation;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("small", String::as_str);
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mode = args.get(3).map_or("view", String::as_str);
    let body = if which == "big" {
        generated_here_now(1000, 10)
    } else {
        recorded_here_now()
            .into_iter()
            .find(|b| b.name == "here_now_single_recorded")
            .expect("recorded body")
    };
    let response = http::Response::new(body.bytes.as_slice());
    let mut timed = Duration::ZERO;
    for _ in 0..n {
        match mode {
            "floor" => {
                black_box(
                    serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&body.bytes)).ok(),
                );
                continue;
            }
            "owned" => {
                black_box(body.op.parse_response(black_box(&response)).ok());
                continue;
            }
            // An owned parse before each timed view: the view then pays for consolidating
            // the owned result's frees unless SETTLE is set (see benches/parse_ratio.rs).
            "mixed" => {
                black_box(body.op.parse_response(black_box(&response)).ok());
                if std::env::var_os("SETTLE").is_some() {
                    drop(black_box(vec![0u8; 4096]));
                }
            }
            _ => {}
        }
        let t = Instant::now();
        black_box(
            body.op
                .parse_view(black_box(&response))
                .map(|v| v.channels.len())
                .ok(),
        );
        timed += t.elapsed();
    }
    eprintln!("view {:?}/parse", timed / n.max(1));
}
