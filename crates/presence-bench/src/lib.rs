//! Shared pieces of the presence benches (`cargo bench -p presence-bench`) and of the
//! peer comparisons in `bench-peers/`: the here-now bodies to parse, a closed-loop
//! load generator with latency percentiles, and the machine-load note that goes with
//! every measurement. See `docs/PERFORMANCE.md`.
// `deny`, not `forbid`: the counting allocator (`alloc`) is the one `unsafe` impl.
#![deny(unsafe_code)]

pub mod alloc;
pub mod bodies;
pub mod lean_ureq;
pub mod load;

use presence_core::{Config, HereNow, Keyset, Operation, Origin, RequestMeta, UserId};
use presence_emulator::BlockingEmulatorHandle;

/// The reader every loopback bench's clients are: user `bench-reader` on keyset `demo`,
/// against `origin` (the emulator's).
pub fn reader_config(origin: &str) -> Config {
    Config::new(
        Keyset::new("demo"),
        UserId::new("bench-reader").expect("a user id"),
    )
    .with_origin(Origin::parse(origin).expect("the emulator's origin"))
}

/// The call the facade benches compare (issue 14): here now on `lobby` with state.
pub fn lobby_here_now() -> HereNow {
    HereNow::new().channels(["lobby"]).include_state(true)
}

/// [`lobby_here_now`] pre-built once for `config`: what the raw clients send. It
/// carries a request id of the facade's shape (a UUID v4), fixed, so the raw clients
/// put the facade's bytes on the wire and the server does the same work for both
/// (without one, a raw request was 47 bytes shorter than the facade's).
pub fn lobby_request(config: &Config) -> http::Request<Vec<u8>> {
    let meta = RequestMeta::new(0).with_request_id("6f3c2a8e-0f5d-4f5e-9c61-2b1f7e5d9a10");
    lobby_here_now()
        .to_request(config, &meta)
        .expect("a valid request")
}

/// A copy of a pre-built request (`http::Request` is not `Clone`): method, URI,
/// version, headers and body.
pub fn copy_request(req: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut out = http::Request::new(req.body().clone());
    *out.method_mut() = req.method().clone();
    *out.uri_mut() = req.uri().clone();
    *out.version_mut() = req.version();
    *out.headers_mut() = req.headers().clone();
    out
}

/// Whether `body` is JSON, scanned with serde's `IgnoredAny`: the least a client can
/// do with a here-now body, what the raw clients of the benches do.
pub fn scanned(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// Puts `users` users (`user-000`, …) on channel `lobby` of keyset `demo`, each with a
/// one-hour presence timeout, straight through the emulator's model.
pub fn seed_lobby(emu: &BlockingEmulatorHandle, users: usize) {
    let now = emu.now();
    emu.with_model(|m| {
        for i in 0..users {
            let req = http::Request::get(format!(
                "/v2/presence/sub-key/demo/channel/lobby/heartbeat?heartbeat=3600&uuid=user-{i:03}&state=%7B%22mood%22%3A%22ok%22%2C%22n%22%3A{i}%7D"
            ))
            .body(())
            .expect("a valid request");
            assert_eq!(m.handle(now, &req).status(), 200);
        }
    });
}

/// The clients' tokio runtime in the loopback benches: two workers, like the machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Whether a `harness = false` bench was started by `cargo bench` (which passes
/// `--bench`). Under `cargo test --benches` or a bare run it is not, and the heavy
/// work is skipped.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `/proc/loadavg` (1, 5 and 15 minute load averages and runnable/total tasks), or
/// `unknown` where there is none. Printed with every table so a reader can judge
/// how busy the shared machine was.
pub fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// A duration from the environment variable `name` in seconds (fractional allowed),
/// or `default`.
pub fn env_secs(name: &str, default: f64) -> std::time::Duration {
    let secs = std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(default);
    std::time::Duration::from_secs_f64(secs)
}

/// A count from the environment variable `name`, or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// CPU time (user + system) of this process's threads, split into (the threads named
/// `client`, every other thread), from `/proc/self/task` (zero where there is none).
/// Thread names are cut to 15 bytes by the kernel: keep `client` shorter.
pub fn cpu_split(client: &str) -> (std::time::Duration, std::time::Duration) {
    let tick = 100.0; // USER_HZ on Linux.
    let (mut mine, mut others) = (0.0f64, 0.0f64);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (std::time::Duration::ZERO, std::time::Duration::ZERO);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state …`: fields after the closing parenthesis, utime is the 12th.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let secs = (ticks(11) + ticks(12)) / tick;
        if comm == client {
            mine += secs;
        } else {
            others += secs;
        }
    }
    (
        std::time::Duration::from_secs_f64(mine),
        std::time::Duration::from_secs_f64(others),
    )
}
