//! Bench 4 (memory): bytes per occupant in the emulator's model, and the join and
//! extend rates seen while filling it.
//!
//! Method: a counting global allocator (live bytes requested from the system
//! allocator: every `alloc`/`realloc` adds, every `dealloc` subtracts) read before
//! and after 100 000 occupants join, with every request built beforehand. Allocator
//! overhead and fragmentation are not in that figure, so the process RSS delta over
//! the same inserts (`/proc/self/statm`) is printed beside it.
//!
//! `cargo bench -p presence-bench --bench emulator_memory`

use presence_bench::alloc::{live_bytes, Counting};
use presence_bench::{bench_mode, load_avg};
use presence_emulator::{Model, ModelConfig};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: Counting = Counting;

const T0: Duration = Duration::from_secs(1_700_000_000);

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

struct Scenario {
    name: &'static str,
    /// `(user, channel)` of each occupant.
    pairs: Vec<(usize, usize)>,
    state: bool,
}

fn measure(s: &Scenario) {
    let state = if s.state {
        "&state=%7B%22mood%22%3A%22focused%22%2C%22score%22%3A42%7D"
    } else {
        ""
    };
    let reqs: Vec<http::Request<()>> = s
        .pairs
        .iter()
        .map(|(u, c)| {
            http::Request::get(format!(
                "/v2/presence/sub-key/demo/channel/bench-ch-{c:04}/heartbeat?heartbeat=300&pnsdk=PubNub-Rust%2F0.9.0{state}&uuid=user-{u:06}"
            ))
            .body(())
            .expect("request")
        })
        .collect();
    let mut model = Model::new(ModelConfig::new());
    let live0 = live_bytes();
    let rss0 = rss_bytes();
    let start = Instant::now();
    for r in &reqs {
        let resp = model.handle(T0, r);
        assert_eq!(resp.status(), 200);
    }
    let join = start.elapsed();
    let live1 = live_bytes();
    let rss1 = rss_bytes();
    let start = Instant::now();
    for (k, r) in reqs.iter().enumerate() {
        model.handle(T0 + Duration::from_micros(1 + k as u64), r);
    }
    let extend = start.elapsed();
    let stats = model.stats();
    assert_eq!(stats.occupants, reqs.len());
    let n = reqs.len() as f64;
    println!(
        "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
        s.name,
        stats.occupants,
        stats.users,
        stats.channels,
        stats.events,
        (live1 - live0) as f64 / n,
        rss1.saturating_sub(rss0) as f64 / n,
        n / join.as_secs_f64(),
        n / extend.as_secs_f64(),
    );
    drop(model);
}

fn main() {
    if !bench_mode() {
        return;
    }
    let header = || {
        println!("load before: {}", load_avg());
        println!();
        println!("| scenario | occupants | users | channels | events kept | live bytes/occupant | RSS bytes/occupant | joins/s | extends/s |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    };
    let scenarios = [
        Scenario {
            name: "100k users × 1 channel, 1 000 channels (100 each)",
            pairs: (0..100_000).map(|u| (u, u % 1000)).collect(),
            state: false,
        },
        Scenario {
            name: "same, each with a 28-byte state",
            pairs: (0..100_000).map(|u| (u, u % 1000)).collect(),
            state: true,
        },
        Scenario {
            name: "100k users in 1 channel",
            pairs: (0..100_000).map(|u| (u, 0)).collect(),
            state: false,
        },
        Scenario {
            name: "1 000 users × 100 channels each",
            pairs: (0..100_000).map(|k| (k / 100, k % 100)).collect(),
            state: false,
        },
    ];
    // Each scenario runs in a fresh process so that memory freed by one is not
    // reused by the next (which would hide the RSS growth).
    let chosen = std::env::args()
        .skip_while(|a| a != "--scenario")
        .nth(1)
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(i) = chosen {
        measure(&scenarios[i]);
        return;
    }
    header();
    let exe = std::env::current_exe().expect("own path");
    for i in 0..scenarios.len() {
        let out = std::process::Command::new(&exe)
            .args(["--bench", "--scenario", &i.to_string()])
            .output()
            .expect("run scenario");
        assert!(out.status.success(), "scenario {i} failed");
        let text = String::from_utf8_lossy(&out.stdout);
        print!(
            "{}",
            text.lines()
                .filter(|l| l.starts_with("| ") && !l.starts_with("| scenario"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
    }
    println!();
    println!("load after: {}", load_avg());
}
