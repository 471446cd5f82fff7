//! Bench 7 (fleet): presence for many users from one process.
//!
//! 1. **Engine memory and CPU, side by side** (virtual time, no I/O): 10 000 users at
//!    timeout 60 held by one `FleetEngine`, against the same 10 000 users each held by
//!    its own `HeartbeatEngine` (what one-client-per-user code does), both driven
//!    through one full interval with every request answered at once. Live heap bytes
//!    per user (counting allocator) and engine CPU per heartbeat, and the ratios.
//!    Then the fleet alone at 100 000 users: bytes per user.
//! 2. **Sustained over loopback**: 100 000 users at timeout 60 (3 448 heartbeats/s)
//!    through `presence::Client::fleet()` against the in-process emulator (its own
//!    runtime; the client has a 2-worker runtime of threads named `fleet-client`),
//!    default spread, for `PRESENCE_BENCH_FLEET_SECS` (default 100). Printed: per-second
//!    heartbeats after the first interval (min / max / mean against N / interval, and
//!    how many windows are outside ±20 %), errors, the p50/p99 the fleet measured, how
//!    many are present in here now at the end, and the client threads' CPU per
//!    heartbeat.
//!
//! `cargo bench -p presence-bench --bench fleet`
//! (`PRESENCE_BENCH_FLEET_USERS`, default 100 000; `PRESENCE_BENCH_FLEET_SECS`;
//! `PRESENCE_BENCH_ONLY=engine` or `loopback`.)

use presence_bench::alloc::{allocations, live_bytes, Counting};
use presence_bench::{bench_mode, cpu_split, env_count, env_secs, load_avg};
use presence_core::{
    FleetConfig, FleetEngine, FleetUser, HeartbeatConfig, HeartbeatEngine, UserId,
};
use presence_emulator::{Emulator, EmulatorConfig};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: Counting = Counting;

const TIMEOUT: u32 = 60;
const CLIENT_THREAD: &str = "fleet-client";

/// The virtual clock of the engine section: the bench is the driver.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

/// Process CPU time (user + system) so far, from `/proc/self/stat`.
fn process_cpu() -> Duration {
    let (a, b) = cpu_split("");
    a + b
}

const OK: &[u8] = br#"{"status": 200, "message": "OK", "service": "Presence"}"#;

fn user(i: usize) -> FleetUser {
    FleetUser::new(UserId::new(format!("user-{i:06}")).expect("a user id"))
        .channels(["arena"])
        .timeout(TIMEOUT)
}

/// One fleet of `n` users through `horizon` of virtual time, every request answered at
/// once: (live bytes per user once all are added, heartbeats, CPU).
fn fleet_engine(n: usize, horizon: Duration) -> (usize, u64, Duration) {
    let t0 = epoch();
    let before = live_bytes();
    let mut fleet = FleetEngine::new(FleetConfig::new());
    for i in 0..n {
        fleet.add(t0, user(i)).expect("a valid user");
    }
    let bytes = live_bytes().saturating_sub(before) / n;
    let ok = http::Response::new(OK);
    let (cpu0, mut now) = (process_cpu(), t0);
    let until = t0 + horizon;
    loop {
        while let Some(tx) = fleet.poll_request(now) {
            fleet.handle_response(now, tx.id, &ok);
        }
        while fleet.poll_event().is_some() {}
        match fleet.poll_timeout() {
            Some(t) if t <= until => {
                now = t.max(now);
                fleet.handle_timeout(now);
            }
            _ => break,
        }
    }
    let cpu = process_cpu().saturating_sub(cpu0);
    let stats = fleet.stats();
    assert_eq!(stats.present, n, "{stats}");
    (bytes, stats.heartbeats, cpu)
}

/// The same with one `HeartbeatEngine` per user, each polled at its own timeout (a
/// binary heap of engines by deadline stands in for the runtime's timers).
fn heartbeat_engines(n: usize, horizon: Duration) -> (usize, u64, Duration) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let t0 = epoch();
    let before = live_bytes();
    let mut engines: Vec<HeartbeatEngine> = (0..n)
        .map(|_| {
            let mut e = HeartbeatEngine::new(HeartbeatConfig::new(TIMEOUT));
            e.join(t0, ["arena"], Vec::<String>::new());
            e
        })
        .collect();
    let bytes = live_bytes().saturating_sub(before) / n;
    let ok = http::Response::new(OK);
    let (cpu0, until) = (process_cpu(), t0 + horizon);
    let mut heartbeats = 0u64;
    let mut timers: BinaryHeap<Reverse<(Instant, usize)>> =
        (0..n).map(|i| Reverse((t0, i))).collect();
    while let Some(Reverse((at, i))) = timers.pop() {
        if at > until {
            break;
        }
        let e = &mut engines[i];
        e.handle_timeout(at);
        while let Some(tx) = e.poll_request(at) {
            heartbeats += 1;
            e.handle_response(at, tx.id, &ok);
        }
        while e.poll_event().is_some() {}
        if let Some(next) = e.poll_timeout() {
            timers.push(Reverse((next.max(at), i)));
        }
    }
    let cpu = process_cpu().saturating_sub(cpu0);
    (bytes, heartbeats, cpu)
}

fn engine_section() {
    let n = 10_000;
    // One interval (29 s at timeout 60) and a bit, so every user heartbeats twice.
    let horizon = Duration::from_secs(40);
    println!(
        "== engines, {n} users at timeout {TIMEOUT} s, {horizon:?} of virtual time (load {})",
        load_avg()
    );
    let (fb, fh, fc) = fleet_engine(n, horizon);
    let (hb, hh, hc) = heartbeat_engines(n, horizon);
    let per = |cpu: Duration, hbs: u64| cpu.as_secs_f64() * 1e9 / hbs.max(1) as f64;
    println!(
        "{:<36} {:>12} {:>12} {:>14}",
        "", "bytes/user", "heartbeats", "CPU ns/hb"
    );
    println!(
        "{:<36} {:>12} {:>12} {:>14.0}",
        "one FleetEngine",
        fb,
        fh,
        per(fc, fh)
    );
    println!(
        "{:<36} {:>12} {:>12} {:>14.0}",
        "a HeartbeatEngine per user",
        hb,
        hh,
        per(hc, hh)
    );
    println!(
        "fleet / per-user engines: memory {:.2}x, CPU per heartbeat {:.2}x",
        fb as f64 / hb.max(1) as f64,
        per(fc, fh) / per(hc, hh).max(1e-9)
    );
    let big = 100_000;
    let (bytes, hbs, cpu) = fleet_engine(big, Duration::from_secs(30));
    println!(
        "one FleetEngine, {big} users: {bytes} bytes/user, {:.0} ns CPU per heartbeat ({hbs} heartbeats)",
        per(cpu, hbs)
    );
}

/// What a driver pays per request, beyond its I/O: allocations in `poll_request` +
/// `to_request` + `handle_response` (+ `poll_event`), per engine, in steady state.
fn driver_costs() {
    use presence_core::{Config, Keyset, RequestMeta, WatchConfig, WatchEngine};
    let config = Config::new(Keyset::new("demo"), UserId::new("ann").expect("a user id"));
    let meta = RequestMeta::new(1_700_000_000);
    let ok = http::Response::new(OK);
    let rounds = 1000usize;
    println!("\n== driver costs per request (steady state, {rounds} rounds)");
    // Heartbeat engine: one heartbeat per interval.
    let mut now = epoch();
    let mut hb = HeartbeatEngine::new(HeartbeatConfig::new(TIMEOUT));
    hb.join(now, ["arena"], Vec::<String>::new());
    hb.set_state_all(now, serde_json::json!({"mood": "ok"}));
    let run = |hb: &mut HeartbeatEngine, now: &mut Instant| {
        let tx = hb.poll_request(*now).expect("a heartbeat due");
        let req = tx.to_request(&config, &meta).expect("a request");
        std::hint::black_box(&req);
        hb.handle_response(*now, tx.id, &ok);
        while hb.poll_event().is_some() {}
        *now = hb.poll_timeout().expect("the next heartbeat");
        hb.handle_timeout(*now);
    };
    run(&mut hb, &mut now);
    let (a0, t0) = (allocations(), Instant::now());
    for _ in 0..rounds {
        run(&mut hb, &mut now);
    }
    let took = t0.elapsed();
    println!(
        "heartbeat engine, heartbeat with state: {:.1} allocations, {:.2} µs",
        (allocations() - a0) as f64 / rounds as f64,
        took.as_secs_f64() * 1e6 / rounds as f64
    );
    // Watch engine: an empty long-poll answer.
    let mut now = epoch();
    let mut watch = WatchEngine::new(WatchConfig::default());
    watch.add(now, ["arena"], Vec::<String>::new());
    let mut tt = 1u64;
    let poll = |watch: &mut WatchEngine, now: Instant, tt: &mut u64| {
        let tx = watch.poll_request(now).expect("a long-poll");
        let req = tx.to_request(&config, &meta).expect("a request");
        std::hint::black_box(&req);
        *tt += 1;
        let body = format!(r#"{{"t":{{"t":"{tt}","r":1}},"m":[]}}"#);
        watch.handle_response(now, tx.id, &http::Response::new(body.into_bytes()));
        while watch.poll_event().is_some() {}
    };
    poll(&mut watch, now, &mut tt);
    let (a0, t0) = (allocations(), Instant::now());
    for _ in 0..rounds {
        now += Duration::from_secs(1);
        poll(&mut watch, now, &mut tt);
    }
    let took = t0.elapsed();
    println!(
        "watch engine, empty long-poll (building its answer body included): {:.1} allocations, {:.2} µs",
        (allocations() - a0) as f64 / rounds as f64,
        took.as_secs_f64() * 1e6 / rounds as f64
    );
    // Fleet engine: one user's heartbeat.
    let mut now = epoch();
    let mut fleet = FleetEngine::new(FleetConfig::new());
    fleet
        .add(now, user(0).state(serde_json::json!({"mood": "ok"})))
        .expect("a user");
    let beat = |fleet: &mut FleetEngine, now: &mut Instant| {
        let tx = fleet.poll_request(*now).expect("a heartbeat due");
        let req = tx.to_request(&config, &meta).expect("a request");
        std::hint::black_box(&req);
        fleet.handle_response(*now, tx.id, &ok);
        while fleet.poll_event().is_some() {}
        *now = fleet.poll_timeout().expect("the next heartbeat");
        fleet.handle_timeout(*now);
    };
    beat(&mut fleet, &mut now);
    let (a0, t0) = (allocations(), Instant::now());
    for _ in 0..rounds {
        beat(&mut fleet, &mut now);
    }
    let took = t0.elapsed();
    println!(
        "fleet engine, one user's heartbeat with state: {:.1} allocations, {:.2} µs",
        (allocations() - a0) as f64 / rounds as f64,
        took.as_secs_f64() * 1e6 / rounds as f64
    );
}

fn loopback_section() {
    let n = env_count("PRESENCE_BENCH_FLEET_USERS", 100_000);
    let secs = env_secs("PRESENCE_BENCH_FLEET_SECS", 100.0);
    let interval = HeartbeatConfig::new(TIMEOUT).interval();
    let target = n as f64 / interval.as_secs_f64();
    println!(
        "\n== loopback: {n} users at timeout {TIMEOUT} s (interval {interval:?}, {target:.0} heartbeats/s) for {secs:?} (load {})",
        load_avg()
    );
    let emu = Emulator::start_blocking(EmulatorConfig::default()).expect("the emulator");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()
        .expect("a runtime");
    let origin = emu.origin();
    let (per_second, stats, present, cpu) = rt.block_on(async move {
        let client = presence::Client::builder()
            .subscribe_key("demo")
            .user_id("fleet-driver")
            .origin(origin)
            .build()
            .expect("a client");
        let fleet = client.fleet().start().expect("a fleet");
        for i in 0..n {
            fleet.add(user(i)).expect("a valid user");
        }
        let (cpu0, _) = cpu_split(CLIENT_THREAD);
        let mut per_second = Vec::new();
        let mut last = 0;
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.tick().await;
        for _ in 0..secs.as_secs() {
            ticker.tick().await;
            let s = fleet.stats();
            per_second.push(s.heartbeats - last);
            last = s.heartbeats;
        }
        let (cpu1, _) = cpu_split(CLIENT_THREAD);
        let stats = fleet.stats();
        let now = client
            .here_now()
            .channels(["arena"])
            .include_user_ids(false)
            .execute()
            .await
            .expect("here now");
        let present = now.channels.first().map_or(0, |c| c.occupancy);
        fleet.stop_without_leave().await;
        (per_second, stats, present, cpu1.saturating_sub(cpu0))
    });
    let first = interval.as_secs() as usize + 1;
    let steady = &per_second[first.min(per_second.len())..];
    if steady.is_empty() {
        println!("run longer than one interval to see the steady rate");
    } else {
        let (min, max) = (steady.iter().min().unwrap(), steady.iter().max().unwrap());
        let mean = steady.iter().sum::<u64>() as f64 / steady.len() as f64;
        let outside = steady
            .iter()
            .filter(|&&h| (h as f64 - target).abs() > 0.2 * target)
            .count();
        println!(
            "heartbeats per 1-s window after the first interval ({} windows): min {min}, max {max}, mean {mean:.0} ({:.2}x of {target:.0}); {outside} outside ±20 %",
            steady.len(),
            mean / target
        );
    }
    println!(
        "first interval, per second: {:?}",
        &per_second[..first.min(per_second.len())]
    );
    println!(
        "{stats}\npresent in here now at the end: {present} of {n}; client CPU {:.1} s, {:.1} µs per heartbeat (load {})",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / stats.heartbeats.max(1) as f64,
        load_avg()
    );
    drop(emu);
}

fn main() {
    if !bench_mode() {
        return;
    }
    let only = std::env::var("PRESENCE_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only.contains("engine") {
        engine_section();
        driver_costs();
    }
    if only.is_empty() || only.contains("loopback") {
        loopback_section();
    }
}
