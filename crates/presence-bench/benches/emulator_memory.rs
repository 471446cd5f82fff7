//! Bench 4 (memory): bytes per occupant in the emulator's model, and the join and
//! extend rates seen while filling it.
//!
//! Method: a counting global allocator (live bytes requested from the system
//! allocator: every `alloc`/`realloc` adds, every `dealloc` subtracts) read before
//! and after 100 000 occupants join, with every request built beforehand. Allocator
//! overhead and fragmentation are not in that figure, so the process RSS delta over
//! the same inserts (`/proc/self/statm`) is printed beside it.
//!
//! Then a churn run: rounds of 100 000 users joining and all leaving, with the live
//! heap and RSS after each.
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

/// Users come and go: each round 100 000 users join 1 000 channels, then all leave.
/// After each round: the model's live heap bytes (counting allocator) over the empty
/// model's, what its event log holds, and the process RSS (issue 15, item 2).
fn churn() {
    let rounds = presence_bench::env_count("PRESENCE_CHURN_ROUNDS", 8);
    let users = presence_bench::env_count("PRESENCE_CHURN_USERS", 100_000);
    let mut model = Model::new(ModelConfig::new());
    let live0 = live_bytes();
    let rss0 = rss_bytes();
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!("| round | live heap with {users} users | live heap after all left | of which event log | RSS after all left |");
    println!("|---:|---:|---:|---:|---:|");
    for round in 0..rounds {
        for (k, leave) in [(0, false), (1, true)] {
            for u in 0..users {
                let op = if leave { "leave" } else { "heartbeat" };
                let req = http::Request::get(format!(
                    "/v2/presence/sub-key/demo/channel/ch{}/{op}?heartbeat=300&uuid=r{round}-user-{u:06}",
                    u % 1000
                ))
                .body(())
                .expect("request");
                let now = T0 + Duration::from_secs((round * 2 + k) as u64);
                assert_eq!(model.handle(now, &req).status(), 200);
            }
            if !leave {
                print!(
                    "| {round} | {:.1} MiB ",
                    mib(live_bytes().saturating_sub(live0))
                );
            }
        }
        let s = model.stats();
        assert_eq!((s.users, s.occupants), (0, 0));
        println!(
            "| {:.2} MiB | {:.2} MiB | {:.1} MiB (start {:.1}) |",
            mib(live_bytes().saturating_sub(live0)),
            mib(s.event_bytes),
            mib(rss_bytes()),
            mib(rss0),
        );
    }
}

fn main() {
    if !bench_mode() {
        return;
    }
    if std::env::args().any(|a| a == "--churn") {
        return churn();
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
    println!("Churn (its own process):");
    let out = std::process::Command::new(&exe)
        .args(["--bench", "--churn"])
        .output()
        .expect("run churn");
    assert!(out.status.success(), "churn failed");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!();
    println!("load after: {}", load_avg());
}
