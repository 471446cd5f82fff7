//! Bench 3: end to end over loopback against the in-process emulator. Requests/s and
//! latency percentiles at concurrency 1 and 64 for
//! - transport-hyper against a raw hyper-util client sending the same pre-built
//!   request (tokio tasks on a 2-worker runtime),
//! - transport-ureq against raw ureq (OS threads),
//! - the facade, `presence::Client` (and `presence::blocking::Client`) here now with
//!   `include_state` (request building, signing-free send, owned parse), against the raw
//!   client sending the same pre-built request and scanning the body with serde's
//!   `IgnoredAny`, with a row for each step in between (section `facade`),
//! - the facade over one HTTP/2 (h2c) connection against the HTTP/1.1 pool, with the
//!   TCP connections each opened (section `h2`),
//! - the verdict alone: each raw client against its facade and nothing else,
//!   alternating round by round (section `pairs`),
//!
//! and (bench 4 over HTTP) the emulator's heartbeats/s and here-now/s with 100 000
//! occupants, driven by the raw hyper-util client.
//!
//! A closed loop: each worker sends its next request when the previous answer is in.
//! Compared clients run in interleaved rounds; the table gives the median of the rounds
//! (interpolated between the middle two with an even number of rounds).
//! The emulator (its own 2-worker tokio runtime) and the clients share the machine's
//! 2 cores, so absolute numbers are what one machine does as client *and* server.
//!
//! `cargo bench -p presence-bench --bench e2e`
//! (`PRESENCE_BENCH_SECS` = seconds per round, default 2; `PRESENCE_BENCH_ROUNDS`,
//! default 3; `PRESENCE_BENCH_ONLY=hyper,ureq,facade,h2,pairs,emulator` picks sections.)

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use presence_bench::load::{compare, run_tasks, run_threads, Variant};
use presence_bench::{
    bench_mode, copy_request, env_count, env_secs, load_avg, lobby_here_now, lobby_request,
    reader_config, runtime, scanned, seed_lobby,
};
use presence_core::{HereNow, Operation, RequestMeta};
use presence_emulator::{BlockingEmulatorHandle, Emulator, EmulatorConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use transport_hyper::HyperTransport;

#[path = "../shared/facade_calls.rs"]
mod facade_calls;
use facade_calls::{blocking_call, facade_call, BoxFut};
use transport_ureq::UreqTransport;

type RawHyper = Client<HttpConnector, Full<Bytes>>;

fn raw_hyper() -> RawHyper {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(http)
}

async fn raw_hyper_call(client: &RawHyper, req: http::Request<Vec<u8>>) -> bool {
    match client.request(req.map(|b| Full::new(Bytes::from(b)))).await {
        Ok(resp) => {
            let ok = resp.status() == 200;
            ok && resp.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}

fn here_now_request(emu: &BlockingEmulatorHandle) -> http::Request<Vec<u8>> {
    let config = reader_config(&emu.origin());
    HereNow::new()
        .channels(["lobby"])
        .to_request(&config, &RequestMeta::new(0))
        .expect("request")
}

fn hyper_section(emu: &BlockingEmulatorHandle, secs: Duration, rounds: usize) {
    let rt = Arc::new(runtime());
    let req = Arc::new(here_now_request(emu));
    let raw = raw_hyper();
    let raw_t = raw.clone();
    let default = HyperTransport::new().expect("transport");
    let pooled = HyperTransport::builder()
        .pool_max_idle_per_host(8)
        .build()
        .expect("transport");
    let async_variant = |name: &str, call: Arc<dyn Fn() -> BoxFut + Send + Sync>| {
        let rt = Arc::clone(&rt);
        Variant::new(name, move |c, d| {
            let call = Arc::clone(&call);
            run_tasks(&rt, c, d, Arc::new(move || call()))
        })
    };
    let (r1, r2, r3, r4) = (
        Arc::clone(&req),
        Arc::clone(&req),
        Arc::clone(&req),
        Arc::clone(&req),
    );
    let mut variants = vec![
        async_variant(
            "raw hyper-util (pool: unbounded idle)",
            Arc::new(move || {
                let (client, req) = (raw.clone(), copy_request(&r1));
                Box::pin(async move { raw_hyper_call(&client, req).await })
            }),
        ),
        // Diagnostic row: the raw client inside the one per-request extra that
        // transport-hyper adds on the hot path, a `tokio::time::timeout`.
        async_variant(
            "raw hyper-util + tokio::time::timeout(30 s)",
            Arc::new(move || {
                let (client, req) = (raw_t.clone(), copy_request(&r4));
                Box::pin(async move {
                    let call = raw_hyper_call(&client, req);
                    matches!(
                        tokio::time::timeout(Duration::from_secs(30), call).await,
                        Ok(true)
                    )
                })
            }),
        ),
        async_variant(
            "transport-hyper (defaults: 64 idle/host)",
            Arc::new(move || {
                let (t, req) = (default.clone(), copy_request(&r2));
                Box::pin(async move { matches!(t.execute(req).await, Ok(r) if r.status() == 200) })
            }),
        ),
        async_variant(
            "transport-hyper (pool_max_idle_per_host 8)",
            Arc::new(move || {
                let (t, req) = (pooled.clone(), copy_request(&r3));
                Box::pin(async move { matches!(t.execute(req).await, Ok(r) if r.status() == 200) })
            }),
        ),
    ];
    at_1_and_64(
        "here now over loopback, hyper stack",
        &mut variants,
        secs,
        rounds,
    );
}

fn ureq_agent(pool: Option<usize>) -> ureq::Agent {
    ureq_agent_with(pool, ureq::Agent::config_builder())
}

/// A raw agent as [`ureq_agent`] makes it, on a builder that may set more.
fn ureq_agent_with(
    pool: Option<usize>,
    builder: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
) -> ureq::Agent {
    let mut b = builder.http_status_as_error(false).no_delay(true);
    if let Some(n) = pool {
        b = b.max_idle_connections(n).max_idle_connections_per_host(n);
    }
    b.build().into()
}

fn raw_ureq_call(agent: &ureq::Agent, req: http::Request<Vec<u8>>) -> bool {
    match agent.run(req) {
        Ok(mut resp) => resp.status() == 200 && resp.body_mut().read_to_vec().is_ok(),
        Err(_) => false,
    }
}

/// One call on a raw agent, its body read and scanned with `IgnoredAny`.
fn raw_ureq_scan(agent: &ureq::Agent, req: http::Request<impl ureq::AsSendBody>) -> bool {
    match agent.run(req) {
        Ok(mut resp) if resp.status() == 200 => resp
            .body_mut()
            .read_to_vec()
            .is_ok_and(|body| scanned(&body)),
        _ => false,
    }
}

fn ureq_section(emu: &BlockingEmulatorHandle, secs: Duration, rounds: usize) {
    let req = Arc::new(here_now_request(emu));
    let thread_variant = |name: &str, call: Arc<dyn Fn() -> bool + Send + Sync>| {
        Variant::new(name, move |c, d| {
            let call = Arc::clone(&call);
            run_threads(c, d, Arc::new(move || call()))
        })
    };
    let (r1, r2, r3, r4) = (
        Arc::clone(&req),
        Arc::clone(&req),
        Arc::clone(&req),
        Arc::clone(&req),
    );
    let (raw64, raw_default) = (ureq_agent(Some(64)), ureq_agent(None));
    let default = UreqTransport::new();
    let pooled = UreqTransport::builder().pool_max_idle_per_host(8).build();
    let mut variants = vec![
        thread_variant(
            "raw ureq (pool 64 idle)",
            Arc::new(move || raw_ureq_call(&raw64, copy_request(&r1))),
        ),
        thread_variant(
            "raw ureq (defaults: 10 idle, 3/host)",
            Arc::new(move || raw_ureq_call(&raw_default, copy_request(&r2))),
        ),
        thread_variant(
            "transport-ureq (defaults: 64 idle/host)",
            Arc::new(
                move || matches!(default.execute(copy_request(&r3)), Ok(r) if r.status() == 200),
            ),
        ),
        thread_variant(
            "transport-ureq (pool_max_idle_per_host 8)",
            Arc::new(
                move || matches!(pooled.execute(copy_request(&r4)), Ok(r) if r.status() == 200),
            ),
        ),
    ];
    at_1_and_64(
        "here now over loopback, ureq stack (threads)",
        &mut variants,
        secs,
        rounds,
    );
}

/// Bench 4 over HTTP: heartbeats and here now against an emulator holding 100 000
/// occupants (100 000 users over 1 000 channels).
fn emulator_http_section(secs: Duration, rounds: usize) {
    const USERS: usize = 100_000;
    let emu = Emulator::start_blocking(EmulatorConfig::new()).expect("emulator");
    let origin = emu.origin();
    let beat = |i: usize| {
        format!(
            "{origin}/v2/presence/sub-key/demo/channel/bench-ch-{:04}/heartbeat?heartbeat=300&pnsdk=PubNub-Rust%2F0.9.0&uuid=user-{i:06}",
            i % 1000
        )
    };
    let beats: Arc<Vec<http::Uri>> =
        Arc::new((0..USERS).map(|i| beat(i).parse().unwrap()).collect());
    let now = emu.now();
    emu.with_model(|m| {
        for u in beats.iter() {
            let req = http::Request::get(u.clone()).body(()).unwrap();
            assert_eq!(m.handle(now, &req).status(), 200);
        }
        assert_eq!(m.stats().occupants, USERS);
    });
    let here: Arc<Vec<http::Uri>> = Arc::new(
        (0..1000)
            .map(|c| {
                format!("{origin}/v2/presence/sub-key/demo/channel/bench-ch-{c:04}?uuid=reader")
                    .parse()
                    .unwrap()
            })
            .collect(),
    );
    let rt = Arc::new(runtime());
    let raw = raw_hyper();
    let uri_variant = |name: &str, uris: Arc<Vec<http::Uri>>| {
        let rt = Arc::clone(&rt);
        let raw = raw.clone();
        let next = Arc::new(AtomicUsize::new(0));
        Variant::new(name, move |c, d| {
            let (raw, uris, next) = (raw.clone(), Arc::clone(&uris), Arc::clone(&next));
            run_tasks(
                &rt,
                c,
                d,
                Arc::new(move || {
                    let i = next.fetch_add(1, Ordering::Relaxed) % uris.len();
                    let req = http::Request::get(uris[i].clone())
                        .body(Vec::new())
                        .unwrap();
                    let raw = raw.clone();
                    async move { raw_hyper_call(&raw, req).await }
                }),
            )
        })
    };
    let mut variants = vec![
        uri_variant("heartbeat (extend), 100k occupants", beats),
        uri_variant("here now, channel of 100, 100k occupants", here),
    ];
    at_1_and_64(
        "emulator over HTTP (raw hyper-util client)",
        &mut variants,
        secs,
        rounds,
    );
    emu.shutdown();
}

/// The facade against the raw clients: here now on the 10-occupant lobby with state,
/// the raw side sending the same request, pre-built, and scanning the body. Between
/// the two, one row per step the facade adds (issue 14): the raw client inside a
/// `tokio::time::timeout` (the transport's overall bound), the transport scanning the
/// body as the raw client does, and the transport with the facade's owned parse.
fn facade_section(emu: &BlockingEmulatorHandle, secs: Duration, rounds: usize) {
    let rt = Arc::new(runtime());
    let config = reader_config(&emu.origin());
    let op = lobby_here_now();
    let req = Arc::new(lobby_request(&config));
    let transport = HyperTransport::new().unwrap();
    let client = presence::Client::with_transport(config.clone(), transport.clone());
    let blocking = presence::blocking::Client::with_transport(config.clone(), UreqTransport::new());
    // The same facade on the floor under ureq's `Agent` (ureq-proto driven directly, no
    // TLS, timeouts or gzip; `presence_bench::lean_ureq`): what a blocking transport on
    // ureq-proto would give at the most.
    let proto_lean = Arc::new(presence_bench::lean_ureq::LeanUreq::default());
    let on_lean = Arc::clone(&proto_lean);
    let blocking_lean =
        presence::blocking::Client::with_transport(config, move |req| on_lean.execute(req));
    // Both clients see the same answer before anything is timed.
    let seen = rt.block_on(
        client
            .here_now()
            .channels(["lobby"])
            .include_state(true)
            .execute(),
    );
    assert_eq!(seen.expect("here now").total_occupancy, 10);
    let raw = raw_hyper();
    let async_variant = |name: &str, call: Arc<dyn Fn() -> BoxFut + Send + Sync>| {
        let rt = Arc::clone(&rt);
        Variant::new(name, move |c, d| {
            let call = Arc::clone(&call);
            run_tasks(&rt, c, d, Arc::new(move || call()))
        })
    };
    let raw_scan = |timeout: bool| {
        let (raw, req) = (raw.clone(), Arc::clone(&req));
        Arc::new(move || raw_hyper_scan(&raw, copy_request(&req), timeout))
    };
    let transport_call = |parse: bool| {
        let (transport, req, op) = (transport.clone(), Arc::clone(&req), op.clone());
        Arc::new(move || {
            let (sent, op) = (transport.execute(copy_request(&req)), op.clone());
            Box::pin(async move {
                match sent.await {
                    Ok(resp) if resp.status() == 200 && parse => {
                        matches!(op.parse_response(&resp), Ok(r) if r.total_occupancy == 10)
                    }
                    Ok(resp) if resp.status() == 200 => scanned(resp.body()),
                    _ => false,
                }
            }) as BoxFut
        })
    };
    let mut variants = vec![
        async_variant("raw hyper-util + IgnoredAny scan", raw_scan(false)),
        async_variant(
            "raw hyper-util + tokio::time::timeout + IgnoredAny scan",
            raw_scan(true),
        ),
        async_variant(
            "transport-hyper (defaults) + IgnoredAny scan",
            transport_call(false),
        ),
        async_variant(
            "transport-hyper (defaults) + owned parse",
            transport_call(true),
        ),
        async_variant(
            "presence::Client here_now (include_state)",
            Arc::new(move || facade_call(&client)),
        ),
    ];
    at_1_and_64(
        "here now with state, facade vs raw, hyper stack",
        &mut variants,
        secs,
        rounds,
    );
    let agent = ureq_agent(Some(64));
    let ureq_transport = UreqTransport::new();
    let thread_variant = |name: &str, call: Arc<dyn Fn() -> bool + Send + Sync>| {
        Variant::new(name, move |c, d| {
            let call = Arc::clone(&call);
            run_threads(c, d, Arc::new(move || call()))
        })
    };
    let ureq_transport_call = |parse: bool| {
        let (transport, req, op) = (ureq_transport.clone(), Arc::clone(&req), op.clone());
        Arc::new(move || match transport.execute(copy_request(&req)) {
            Ok(resp) if resp.status() == 200 && parse => {
                matches!(op.parse_response(&resp), Ok(r) if r.total_occupancy == 10)
            }
            Ok(resp) if resp.status() == 200 => scanned(resp.body()),
            _ => false,
        })
    };
    let r2 = Arc::clone(&req);
    let r3 = Arc::clone(&req);
    let r4 = Arc::clone(&req);
    let lean = ureq_agent_with(
        Some(64),
        ureq::Agent::config_builder()
            .user_agent(ureq::config::AutoHeaderValue::None)
            .accept(ureq::config::AutoHeaderValue::None),
    );
    let mut variants = vec![
        thread_variant(
            "raw ureq (pool 64 idle) + IgnoredAny scan",
            Arc::new(move || raw_ureq_scan(&agent, copy_request(&r2))),
        ),
        // The raw agent with transport-ureq's head (no User-Agent, no Accept, no
        // `Content-Length: 0`): how much of the difference is those three headers.
        thread_variant(
            "raw ureq, transport-ureq's head (no UA, Accept, CL: 0) + IgnoredAny scan",
            Arc::new(move || raw_ureq_scan(&lean, copy_request(&r3).map(|_| ()))),
        ),
        thread_variant(
            "transport-ureq (defaults) + IgnoredAny scan",
            ureq_transport_call(false),
        ),
        thread_variant(
            "transport-ureq (defaults) + owned parse",
            ureq_transport_call(true),
        ),
        thread_variant(
            "ureq-proto lean (no TLS, timeouts, gzip) + IgnoredAny scan",
            Arc::new(move || {
                proto_lean
                    .execute(copy_request(&r4))
                    .is_ok_and(|resp| resp.status() == 200 && scanned(resp.body()))
            }),
        ),
        thread_variant(
            "presence::blocking::Client on ureq-proto lean",
            Arc::new(move || blocking_call(&blocking_lean)),
        ),
        thread_variant(
            "presence::blocking::Client here_now (include_state)",
            Arc::new(move || blocking_call(&blocking)),
        ),
    ];
    at_1_and_64(
        "here now with state, facade vs raw, ureq stack",
        &mut variants,
        secs,
        rounds,
    );
}

/// `compare` of `variants` at concurrency 1, then 64 (after a 300 ms warm-up each),
/// under `title, concurrency N`.
fn at_1_and_64(title: &str, variants: &mut [Variant<'_>], secs: Duration, rounds: usize) {
    for c in [1, 64] {
        compare(
            &format!("{title}, concurrency {c}"),
            variants,
            c,
            Duration::from_millis(300),
            secs,
            rounds,
        );
    }
}

/// Whether the section `name` runs: all unless `PRESENCE_BENCH_ONLY` lists others
/// (comma-separated: `hyper`, `ureq`, `facade`, `h2`, `pairs`, `emulator`).
fn selected(name: &str) -> bool {
    std::env::var("PRESENCE_BENCH_ONLY").map_or(true, |v| v.split(',').any(|s| s.trim() == name))
}

/// The raw hyper-util client sending `req` and scanning the body with `IgnoredAny`
/// (inside `tokio::time::timeout` when `timeout`): the baseline of the facade rows.
fn raw_hyper_scan(raw: &RawHyper, req: http::Request<Vec<u8>>, timeout: bool) -> BoxFut {
    let client = raw.clone();
    Box::pin(async move {
        let call = async {
            match client.request(req.map(|b| Full::new(Bytes::from(b)))).await {
                Ok(resp) if resp.status() == 200 => match resp.into_body().collect().await {
                    Ok(body) => scanned(&body.to_bytes()),
                    Err(_) => false,
                },
                _ => false,
            }
        };
        if timeout {
            matches!(
                tokio::time::timeout(Duration::from_secs(30), call).await,
                Ok(true)
            )
        } else {
            call.await
        }
    })
}

/// The verdict alone (section `pairs`): the raw client against the facade, on
/// each stack at concurrency 1 and 64, and nothing else, so a round takes two
/// variants' time instead of the `facade` section's seven: run it with more rounds
/// (`PRESENCE_BENCH_ROUNDS=41`, docs/PERFORMANCE.md). The two alternate (A B, B A, ...)
/// round by round (with an odd number of rounds, the baseline runs first once more).
fn pairs_section(emu: &BlockingEmulatorHandle, secs: Duration, rounds: usize) {
    let rt = Arc::new(runtime());
    let config = reader_config(&emu.origin());
    let req = Arc::new(lobby_request(&config));
    let (raw, client) = (
        raw_hyper(),
        presence::Client::with_transport(config.clone(), HyperTransport::new().unwrap()),
    );
    let (rt1, rt2) = (Arc::clone(&rt), Arc::clone(&rt));
    let r1 = Arc::clone(&req);
    let mut variants = vec![
        Variant::new("raw hyper-util + IgnoredAny scan", move |c, d| {
            let (raw, req) = (raw.clone(), Arc::clone(&r1));
            run_tasks(
                &rt1,
                c,
                d,
                Arc::new(move || raw_hyper_scan(&raw, copy_request(&req), false)),
            )
        }),
        Variant::new("presence::Client here_now (include_state)", move |c, d| {
            let client = client.clone();
            run_tasks(&rt2, c, d, Arc::new(move || facade_call(&client)))
        }),
    ];
    at_1_and_64(
        "pairs: raw hyper-util against presence::Client",
        &mut variants,
        secs,
        rounds,
    );
    let agent = ureq_agent(Some(64));
    let blocking = Arc::new(presence::blocking::Client::with_transport(
        config,
        UreqTransport::new(),
    ));
    let mut variants = vec![
        Variant::new("raw ureq (pool 64 idle) + IgnoredAny scan", move |c, d| {
            let (agent, req) = (agent.clone(), Arc::clone(&req));
            run_threads(
                c,
                d,
                Arc::new(move || raw_ureq_scan(&agent, copy_request(&req))),
            )
        }),
        Variant::new(
            "presence::blocking::Client here_now (include_state)",
            move |c, d| {
                let blocking = Arc::clone(&blocking);
                run_threads(c, d, Arc::new(move || blocking_call(&blocking)))
            },
        ),
    ];
    at_1_and_64(
        "pairs: raw ureq against presence::blocking::Client",
        &mut variants,
        secs,
        rounds,
    );
}

/// TCP connections this network namespace opened so far (`ActiveOpens` of
/// `/proc/net/snmp`; other processes' connections count too, so it is an upper bound
/// of the bench's own). `None` where the file is missing.
fn tcp_active_opens() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let at = names.split_whitespace().position(|n| n == "ActiveOpens")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// HTTP/2 against HTTP/1.1 (issue 14 item 5): `presence::Client` here now with
/// `include_state` over one prior-knowledge h2c connection against the HTTP/1.1 pool
/// (8 idle, and 64 idle, the default), and the TCP connections each opened.
fn h2_section(emu: &BlockingEmulatorHandle, secs: Duration, rounds: usize) {
    use presence_bench::load::Sample;
    use transport_hyper::Protocol;
    let rt = Arc::new(runtime());
    let config = reader_config(&emu.origin());
    let setups = [
        ("HTTP/1.1 pool (64 idle, the default)", Protocol::Http1, 64),
        ("HTTP/1.1 pool (8 idle)", Protocol::Http1, 8),
        (
            "HTTP/2 prior knowledge (h2c), one connection",
            Protocol::Http2PriorKnowledge,
            8,
        ),
    ];
    let opened: Vec<Arc<std::sync::atomic::AtomicU64>> =
        setups.iter().map(|_| Arc::default()).collect();
    let mut variants: Vec<Variant<'_>> = setups
        .iter()
        .zip(&opened)
        .map(|(&(name, protocol, idle), opened)| {
            let transport = HyperTransport::builder()
                .protocol(protocol)
                .pool_max_idle_per_host(idle)
                .build()
                .expect("transport");
            let client = presence::Client::with_transport(config.clone(), transport);
            let (rt, opened) = (Arc::clone(&rt), Arc::clone(opened));
            Variant::new(name, move |c, d| {
                let client = client.clone();
                let before = tcp_active_opens().unwrap_or(0);
                let sample: Sample = run_tasks(&rt, c, d, Arc::new(move || facade_call(&client)));
                let after = tcp_active_opens().unwrap_or(0);
                opened.fetch_add(after.saturating_sub(before), Ordering::Relaxed);
                sample
            })
        })
        .collect();
    for c in [1, 64] {
        for o in &opened {
            o.store(0, Ordering::Relaxed);
        }
        compare(
            &format!("here now with state, HTTP/2 vs HTTP/1.1, presence::Client, concurrency {c}"),
            &mut variants,
            c,
            Duration::from_millis(300),
            secs,
            rounds,
        );
        println!();
        println!(
            "TCP connections opened over warm-up and {rounds} rounds (system-wide ActiveOpens):"
        );
        for ((name, _, _), o) in setups.iter().zip(&opened) {
            println!("- {name}: {}", o.load(Ordering::Relaxed));
        }
    }
}

fn main() {
    if !bench_mode() {
        return;
    }
    let secs = env_secs("PRESENCE_BENCH_SECS", 2.0);
    let rounds = env_count("PRESENCE_BENCH_ROUNDS", 3);
    println!(
        "e2e: {rounds} rounds of {secs:?} per client; load at start: {}",
        load_avg()
    );
    let emu = Emulator::start_blocking(EmulatorConfig::new()).expect("emulator");
    seed_lobby(&emu, 10);
    if selected("hyper") {
        hyper_section(&emu, secs, rounds);
    }
    if selected("ureq") {
        ureq_section(&emu, secs, rounds);
    }
    if selected("facade") {
        facade_section(&emu, secs, rounds);
    }
    if selected("h2") {
        h2_section(&emu, secs, rounds);
    }
    if selected("pairs") {
        pairs_section(&emu, secs, rounds);
    }
    emu.shutdown();
    if selected("emulator") {
        emulator_http_section(secs, rounds);
    }
}
