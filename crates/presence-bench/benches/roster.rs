//! Bench 6 (roster): what keeping a member list costs.
//!
//! - `roster/apply`: one subscribe answer carrying 100 presence events (50 joins and
//!   the 50 matching leaves) fed to a [`RosterEngine`] holding 10 000 members, against
//!   the same answer fed to a bare [`WatchEngine`] (the floor: reading the body and
//!   producing the events, with no member list). Time per event, and the ratio.
//! - Bytes per member: live heap bytes (a counting global allocator) of the roster
//!   engine before and after its 10 000-member snapshot is installed, divided by
//!   10 000; printed before the timings.
//! - `roster/resync`: a full resync of a 5 000-member channel (states included) over
//!   loopback against the in-process emulator: `client.roster()...start()` until
//!   `synced()`, against the floor of reading the same pages with
//!   `here_now().all_pages()`. The requests the roster made are counted by a counting
//!   transport and printed.
//!
//! `cargo bench -p presence-bench --bench roster`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use presence_bench::alloc::{live_bytes, Counting};
use presence_bench::{load_avg, runtime, seed_lobby};
use presence_core::{
    RequestId, RosterConfig, RosterEngine, RosterEvent, RosterRequest, WatchConfig, WatchEngine,
    WatchEvent, MIN_POLL_GAP,
};
use presence_emulator::{Emulator, EmulatorConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Members of the roster in `roster/apply`.
const MEMBERS: usize = 10_000;
/// Events per subscribe answer in `roster/apply`.
const EVENTS: usize = 100;
/// Members of the channel in `roster/resync`.
const RESYNC_MEMBERS: usize = 5_000;

/// The virtual clock of the core benches: the bench is the driver.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn response(body: String) -> http::Response<Vec<u8>> {
    http::Response::new(body.into_bytes())
}

/// A single-channel here-now page of the 10 000 members (`member-00000`, …), each
/// with a small state.
fn page(offset: usize, limit: usize) -> String {
    let uuids: Vec<String> = (offset..MEMBERS.min(offset + limit))
        .map(|i| format!(r#"{{"uuid":"member-{i:05}","state":{{"mood":"ok","n":{i}}}}}"#))
        .collect();
    format!(
        r#"{{"status":200,"message":"OK","service":"Presence","occupancy":{MEMBERS},"uuids":[{}]}}"#,
        uuids.join(",")
    )
}

/// One subscribe answer at cursor `tt`: 50 guests join `lobby` and leave again, in
/// timetoken order, the occupancy exact after each.
fn events_body(tt: u64) -> String {
    let mut m = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS / 2 {
        let at = tt + 2 * i as u64;
        m.push(format!(
            r#"{{"c":"lobby-pnpres","p":{{"t":"{at}"}},"d":{{"action":"join","uuid":"guest-{i:02}","occupancy":{},"timestamp":1}}}}"#,
            MEMBERS + 1
        ));
        m.push(format!(
            r#"{{"c":"lobby-pnpres","p":{{"t":"{}"}},"d":{{"action":"leave","uuid":"guest-{i:02}","occupancy":{MEMBERS},"timestamp":1}}}}"#,
            at + 1
        ));
    }
    format!(
        r#"{{"t":{{"t":"{}","r":1}},"m":[{}]}}"#,
        tt + EVENTS as u64,
        m.join(",")
    )
}

const HANDSHAKE: &str = r#"{"t":{"t":"1000","r":1},"m":[]}"#;

/// A roster engine in sync with 10 000 members and its pending long-poll, the bytes
/// the snapshot added to the heap, and the time the long-poll went.
fn synced_roster(now: Instant) -> (RosterEngine, RequestId, usize, Instant) {
    let config = presence_core::Config::new(
        presence_core::Keyset::new("demo"),
        presence_core::UserId::new("observer").expect("a user id"),
    );
    let mut roster = RosterEngine::new(RosterConfig::default());
    roster.add(now, ["lobby"], Vec::<String>::new());
    let handshake = roster.poll_request(now).expect("the handshake").id;
    roster.handle_response(now, handshake, &response(HANDSHAKE.to_owned()));
    let before = live_bytes();
    let mut poll = None;
    while !roster.is_synced() {
        let tx = roster.poll_request(now).expect("a request until in sync");
        match tx.op {
            RosterRequest::Subscribe(_) => poll = Some(tx.id),
            RosterRequest::HereNow(op) => {
                use presence_core::Operation as _;
                let req = op
                    .to_request(&config, &presence_core::RequestMeta::new(0))
                    .expect("a page request");
                let query = req.uri().query().unwrap_or_default().to_owned();
                let param = |k: &str| -> usize {
                    query
                        .split('&')
                        .find_map(|p| p.strip_prefix(&format!("{k}=")))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                roster.handle_response(
                    now,
                    tx.id,
                    &response(page(param("offset"), param("limit"))),
                );
            }
        }
    }
    // The long-poll goes once the watch's floor allows (MIN_POLL_GAP after the
    // handshake).
    let mut now = now;
    while poll.is_none() {
        match roster.poll_request(now) {
            Some(tx) if matches!(tx.op, RosterRequest::Subscribe(_)) => poll = Some(tx.id),
            Some(_) => {}
            None => {
                now = roster.poll_timeout().expect("the long-poll's time");
                roster.handle_timeout(now);
            }
        }
    }
    while roster.poll_event().is_some() {}
    let grew = live_bytes().saturating_sub(before);
    assert_eq!(roster.member_count("lobby"), MEMBERS);
    (roster, poll.expect("the long-poll"), grew, now)
}

/// Times `feed` on one fresh 100-event answer per iteration (built outside the
/// timing, each at a later cursor); `feed` returns the presence events it produced.
/// `tt` is the engine's cursor, kept across calls (criterion calls the routine once per
/// sample).
fn feed_batches(
    b: &mut criterion::Bencher<'_>,
    tt: &mut u64,
    mut feed: impl FnMut(&http::Response<Vec<u8>>) -> usize,
) {
    b.iter_batched(
        || {
            *tt += 1_000;
            response(events_body(*tt))
        },
        |body| assert_eq!(feed(&body), EVENTS),
        BatchSize::SmallInput,
    );
}

fn apply(c: &mut Criterion) {
    let now = epoch();
    let (mut roster, mut roster_poll, grew, mut roster_now) = synced_roster(now);
    println!(
        "roster of {MEMBERS} members: {grew} live heap bytes for the snapshot, {} bytes per member \
         (user ids of 12 bytes, states of ~20 bytes of JSON); load {}",
        grew / MEMBERS,
        load_avg()
    );
    let mut watch = WatchEngine::new(WatchConfig::default());
    watch.add(now, ["lobby"], Vec::<String>::new());
    let handshake = watch.poll_request(now).expect("the handshake").id;
    watch.handle_response(now, handshake, &response(HANDSHAKE.to_owned()));
    // The long-poll goes once the floor allows; each answer below comes one floor
    // later, so the next long-poll may go at once (the engines never spin).
    let mut watch_now = watch.poll_timeout().expect("the long-poll's time");
    watch.handle_timeout(watch_now);
    let mut watch_poll = watch.poll_request(watch_now).expect("the long-poll").id;

    let mut group = c.benchmark_group("roster/apply");
    group.throughput(Throughput::Elements(EVENTS as u64));
    let mut tt = 10_000u64;
    group.bench_function("watch engine, no members (floor)", |b| {
        feed_batches(b, &mut tt, |body| {
            watch_now += MIN_POLL_GAP;
            watch.handle_response(watch_now, watch_poll, body);
            let mut n = 0;
            while let Some(event) = watch.poll_event() {
                n += usize::from(matches!(event, WatchEvent::Presence(_)));
            }
            watch_poll = watch
                .poll_request(watch_now)
                .expect("the next long-poll")
                .id;
            n
        });
    });
    let mut tt = 10_000u64;
    group.bench_function("roster engine, 10 000 members", |b| {
        feed_batches(b, &mut tt, |body| {
            roster_now += MIN_POLL_GAP;
            roster.handle_response(roster_now, roster_poll, body);
            let mut n = 0;
            while let Some(event) = roster.poll_event() {
                assert!(matches!(event, RosterEvent::Change(_)), "{event:?}");
                n += 1;
            }
            roster_poll = roster
                .poll_request(roster_now)
                .expect("the next long-poll")
                .id;
            n
        });
    });
    group.finish();
    assert_eq!(roster.member_count("lobby"), MEMBERS);
    assert!(roster.is_synced());
}

fn resync(c: &mut Criterion) {
    let emu = Emulator::start_blocking(EmulatorConfig::default()).expect("the emulator");
    seed_lobby(&emu, RESYNC_MEMBERS);
    let rt = runtime();
    let sent = Arc::new(AtomicUsize::new(0));
    let client = {
        let sent = sent.clone();
        let hyper = transport_hyper::HyperTransport::new().expect("a transport");
        presence::Client::builder()
            .subscribe_key("demo")
            .user_id("observer")
            .origin(emu.origin())
            .build_with(move |req: presence::HttpRequest| {
                sent.fetch_add(1, Ordering::Relaxed);
                let hyper = hyper.clone();
                async move { hyper.execute(req).await }
            })
            .expect("a client")
    };
    let floor = presence::Client::builder()
        .subscribe_key("demo")
        .user_id("reader")
        .origin(emu.origin())
        .build()
        .expect("a client");

    // A roster of the lobby, started, run until in sync (checked) and stopped.
    let until_synced = || async {
        let mut roster = client
            .roster()
            .channels(["lobby"])
            .start()
            .expect("a roster");
        roster.synced().await.expect("in sync");
        assert_eq!(roster.member_count("lobby"), RESYNC_MEMBERS);
        roster.stop();
    };

    // One resync, outside the timings: what it sends.
    rt.block_on(until_synced());
    println!(
        "a roster of a {RESYNC_MEMBERS}-member channel sent {} requests until in sync \
         (the subscribe handshake, the long-poll, {} here-now pages of 1000); load {}",
        sent.load(Ordering::Relaxed),
        RESYNC_MEMBERS.div_ceil(1000),
        load_avg()
    );

    let mut group = c.benchmark_group("roster/resync");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("here_now().all_pages() of 5 000 (floor)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let all = floor
                    .here_now()
                    .channels(["lobby"])
                    .include_state(true)
                    .all_pages()
                    .await
                    .expect("every page");
                assert_eq!(all.channels[0].occupants.len(), RESYNC_MEMBERS);
            });
        });
    });
    group.bench_function("roster().start() until synced, 5 000", |b| {
        b.iter(|| {
            rt.block_on(until_synced());
        });
    });
    group.finish();
    drop(emu);
}

criterion_group!(benches, apply, resync);
criterion_main!(benches);
