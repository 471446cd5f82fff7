//! Bench 3 (peer): the same here-now call over loopback against the in-process
//! emulator, by this SDK's async client (`presence::Client`, hyper transport: build,
//! sign-free request, send, parse) and by the official pubnub 0.9 client (its reqwest
//! transport, `here_now().channels(..).execute()`), at concurrency 1 and 64 (tokio
//! tasks on one 2-worker runtime), in interleaved rounds.
//!
//! `cargo bench --manifest-path bench-peers/Cargo.toml --bench peers_e2e`
//! (`PRESENCE_BENCH_SECS`, `PRESENCE_BENCH_ROUNDS` as in presence-bench's e2e.)

use presence_bench::load::{compare, run_tasks, Variant};
use presence_bench::{bench_mode, env_count, env_secs, load_avg, runtime, seed_lobby};
use presence_emulator::{Emulator, EmulatorConfig};
use pubnub::transport::TransportReqwest;
use pubnub::{Keyset, PubNubClientBuilder};
use std::sync::Arc;
use std::time::Duration;

const OCCUPANTS: u64 = 10;

fn main() {
    if !bench_mode() {
        return;
    }
    let secs = env_secs("PRESENCE_BENCH_SECS", 2.0);
    let rounds = env_count("PRESENCE_BENCH_ROUNDS", 3);
    println!(
        "peers_e2e: {rounds} rounds of {secs:?}; load at start: {}",
        load_avg()
    );
    let emu = Emulator::start_blocking(EmulatorConfig::new()).expect("emulator");
    seed_lobby(&emu, OCCUPANTS as usize);
    let rt = Arc::new(runtime());

    let ours = {
        let _guard = rt.enter();
        presence::Client::builder()
            .subscribe_key("demo")
            .user_id("bench-reader")
            .origin(emu.origin())
            .build()
            .expect("presence client")
    };
    let mut transport = TransportReqwest::new();
    transport.hostname = emu.origin();
    let theirs = PubNubClientBuilder::with_transport(transport)
        .with_keyset(Keyset {
            subscribe_key: "demo",
            publish_key: None,
            secret_key: None,
        })
        .with_user_id("bench-reader")
        .build()
        .expect("pubnub client");

    // Check that both really get the occupants before timing anything.
    rt.block_on(async {
        let a = ours.here_now().channels(["lobby"]).execute().await.unwrap();
        assert_eq!(a.total_occupancy, OCCUPANTS);
        let b = theirs
            .here_now()
            .channels(vec!["lobby".to_owned()])
            .execute()
            .await
            .unwrap();
        assert_eq!(u64::from(b.total_occupancy), OCCUPANTS);
    });

    let r1 = Arc::clone(&rt);
    let r2 = Arc::clone(&rt);
    let mut variants = vec![
        Variant::new("pubnub 0.9 (reqwest)", move |c, d| {
            let client = theirs.clone();
            run_tasks(
                &r1,
                c,
                d,
                Arc::new(move || {
                    let client = client.clone();
                    async move {
                        matches!(
                            client.here_now().channels(vec!["lobby".to_owned()]).execute().await,
                            Ok(r) if u64::from(r.total_occupancy) == OCCUPANTS
                        )
                    }
                }),
            )
        }),
        Variant::new("presence::Client (transport-hyper)", move |c, d| {
            let client = ours.clone();
            run_tasks(
                &r2,
                c,
                d,
                Arc::new(move || {
                    let client = client.clone();
                    async move {
                        matches!(
                            client.here_now().channels(["lobby"]).execute().await,
                            Ok(r) if r.total_occupancy == OCCUPANTS
                        )
                    }
                }),
            )
        }),
    ];
    for c in [1, 64] {
        compare(
            &format!("here now (10 occupants) over loopback, concurrency {c}"),
            &mut variants,
            c,
            Duration::from_millis(300),
            secs,
            rounds,
        );
    }
    emu.shutdown();
}
