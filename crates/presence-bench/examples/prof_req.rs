//! Profiling driver (callgrind / perf): builds one here-now request in a loop.
//! `prof_req <channels> <iterations>`
use presence_core::{Config, HereNow, Keyset, Operation, RequestMeta, UserId};
use std::hint::black_box;
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let iters: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100000);
    let user = UserId::new("bench-user-0001").expect("user id");
    let config = Config::new(Keyset::new("sub-c-bench"), user);
    let meta = RequestMeta::new(1_700_000_000);
    let op = HereNow::new()
        .channels((0..n).map(|i| format!("bench-channel-{i:03}")))
        .include_state(true);
    let t = std::time::Instant::now();
    for _ in 0..iters {
        black_box(
            black_box(&op)
                .to_request(black_box(&config), black_box(&meta))
                .ok(),
        );
    }
    eprintln!("{:?}/req", t.elapsed() / iters.max(1));
}
