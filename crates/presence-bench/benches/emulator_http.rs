//! Bench 4 over HTTP with a lean client: the emulator's heartbeats/s and here-now/s with
//! 100 000 occupants, loaded the way `wrk` loads a server: keep-alive connections, each
//! writing pre-built HTTP/1.1 request bytes and reading the response with the least
//! framing that checks it (status line `200` and a `Content-Length` body), so nearly
//! all the CPU is left to the server. The emulator runs in this process on its own
//! 2-worker runtime; the client is one tokio thread. Server and client CPU time are read
//! per thread from `/proc/self/task`, so the table also gives requests per server CPU
//! second (what the emulator does per core, free of the client's share).
//!
//! `cargo bench -p presence-bench --bench emulator_http`
//! (`PRESENCE_BENCH_SECS` per run, default 3; `PRESENCE_BENCH_ROUNDS`, default 3;
//! `PRESENCE_LOAD_CONNECTIONS`, default `1,64`; `PRESENCE_LOAD_PIPELINE` requests in
//! flight per connection, default 1; `PRESENCE_LOAD_ONLY=heartbeat` or `here` runs one
//! table section.)

use presence_bench::{bench_mode, cpu_split, env_count, env_secs, load_avg};
use presence_emulator::{Emulator, EmulatorConfig};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USERS: usize = 100_000;
const CHANNELS: usize = 1_000;
/// Name of the client's runtime thread (so its CPU time is not counted as the server's).
const CLIENT_THREAD: &str = "load-client";

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").into_bytes()
}

fn heartbeat_path(i: usize) -> String {
    format!(
        "/v2/presence/sub-key/demo/channel/bench-ch-{:04}/heartbeat?heartbeat=300&pnsdk=PubNub-Rust%2F0.9.0&uuid=user-{i:06}",
        i % CHANNELS
    )
}

/// Position just past the header block, the status code and the Content-Length, once
/// `buf` holds a whole response head.
fn head(buf: &[u8]) -> Option<(usize, u16, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&buf[..end]).ok()?;
    let status = text.get(9..12)?.parse().ok()?;
    let length = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    Some((end, status, length))
}

/// One keep-alive connection sending `requests[next..]` round robin until `stop`,
/// `pipeline` requests in flight. Returns (ok, errors).
async fn connection(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    start: usize,
    pipeline: usize,
    stop: Arc<AtomicBool>,
) -> (u64, u64) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return (0, 1);
    };
    let _ = stream.set_nodelay(true);
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut next = start;
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    while !stop.load(Ordering::Relaxed) {
        out.clear();
        for _ in 0..pipeline {
            out.extend_from_slice(&requests[next % requests.len()]);
            next += 1;
        }
        if stream.write_all(&out).await.is_err() {
            return (ok, errors + 1);
        }
        let mut answered = 0;
        while answered < pipeline {
            if let Some((end, status, length)) = head(&buf) {
                if buf.len() >= end + length {
                    if status == 200 {
                        ok += 1;
                    } else {
                        errors += 1;
                    }
                    buf.drain(..end + length);
                    answered += 1;
                    continue;
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return (ok, errors + 1),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
    (ok, errors)
}

struct Run {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    client_cpu: Duration,
    server_cpu: Duration,
}

fn run(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    requests: &Arc<Vec<Vec<u8>>>,
    connections: usize,
    pipeline: usize,
    duration: Duration,
) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let (cpu0, t0) = (cpu_split(CLIENT_THREAD), Instant::now());
    let (ok, errors) = rt.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|c| {
                let requests = Arc::clone(requests);
                let stop = Arc::clone(&stop);
                let start = c * requests.len() / connections.max(1);
                tokio::spawn(connection(addr, requests, start, pipeline, stop))
            })
            .collect();
        tokio::time::sleep(duration).await;
        stop.store(true, Ordering::Relaxed);
        let mut total = (0, 0);
        for t in tasks {
            let (ok, errors) = t.await.unwrap_or((0, 1));
            total = (total.0 + ok, total.1 + errors);
        }
        total
    });
    let elapsed = t0.elapsed();
    let cpu1 = cpu_split(CLIENT_THREAD);
    Run {
        ok,
        errors,
        elapsed,
        client_cpu: cpu1.0.saturating_sub(cpu0.0),
        server_cpu: cpu1.1.saturating_sub(cpu0.1),
    }
}

fn main() {
    if !bench_mode() {
        return;
    }
    let secs = env_secs("PRESENCE_BENCH_SECS", 3.0);
    let rounds = env_count("PRESENCE_BENCH_ROUNDS", 3);
    let pipeline = env_count("PRESENCE_LOAD_PIPELINE", 1);
    let conns: Vec<usize> = std::env::var("PRESENCE_LOAD_CONNECTIONS")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 64]);

    let only = std::env::var("PRESENCE_LOAD_ONLY").ok();
    let emu = Emulator::start_blocking(EmulatorConfig::new()).expect("emulator");
    let addr = emu.local_addr();
    let beats: Arc<Vec<Vec<u8>>> = Arc::new((0..USERS).map(|i| get(&heartbeat_path(i))).collect());
    let now = emu.now();
    emu.with_model(|m| {
        for i in 0..USERS {
            let req = http::Request::get(heartbeat_path(i))
                .body(())
                .expect("request");
            assert_eq!(m.handle(now, &req).status(), 200);
        }
        assert_eq!(m.stats().occupants, USERS);
    });
    let here: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..CHANNELS)
            .map(|c| {
                get(&format!(
                    "/v2/presence/sub-key/demo/channel/bench-ch-{c:04}?uuid=reader"
                ))
            })
            .collect(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    // Run the client on a thread of its own name, so its CPU is told apart.
    let client = std::thread::Builder::new()
        .name(CLIENT_THREAD.into())
        .spawn(move || {
            println!(
                "emulator_http: best of {rounds} runs of {secs:?}, pipeline {pipeline}; load {}",
                load_avg()
            );
            println!();
            println!("| requests | connections | req/s | errors | server CPU | client CPU | req per server CPU-second |");
            println!("|---|---:|---:|---:|---:|---:|---:|");
            for (name, requests) in [
                ("heartbeat (extend), 100k occupants", &beats),
                ("here now, channel of 100, 100k occupants", &here),
            ] {
                if !only.as_deref().is_none_or(|o| name.starts_with(o)) {
                    continue;
                }
                for &c in &conns {
                    // Warm-up: connections and allocator.
                    run(&rt, addr, requests, c, pipeline, Duration::from_millis(300));
                    let best = (0..rounds)
                        .map(|_| run(&rt, addr, requests, c, pipeline, secs))
                        .max_by(|a, b| {
                            (a.ok as f64 / a.elapsed.as_secs_f64())
                                .total_cmp(&(b.ok as f64 / b.elapsed.as_secs_f64()))
                        })
                        .expect("at least one round");
                    let rps = best.ok as f64 / best.elapsed.as_secs_f64();
                    let per_cpu = best.ok as f64 / best.server_cpu.as_secs_f64().max(1e-9);
                    println!(
                        "| {name} | {c} | {rps:.0} | {} | {:.2} s | {:.2} s | {per_cpu:.0} |",
                        best.errors,
                        best.server_cpu.as_secs_f64(),
                        best.client_cpu.as_secs_f64(),
                    );
                }
            }
        })
        .expect("client thread");
    client.join().expect("client thread finished");
    // Heartbeats only extend: every occupant is still there, none added.
    assert_eq!(emu.with_model(|m| m.stats().occupants), USERS);
    emu.shutdown();
}
