//! The presence-core engines on one thread, with no async runtime: `mio` for the
//! sockets, `ureq-proto` for HTTP/1.1, the engines' `poll_timeout` for the timers.
//! Keeps a user present with a state (the heartbeat engine), prints presence events
//! (the watch engine), optionally keeps a roster and a fleet of extra users, and on
//! Ctrl-C leaves and exits: `presence heartbeat --keep-alive` plus `presence watch`,
//! in one event loop. See docs/EMBEDDING.md for the walk-through.
//!
//! ```sh
//! cargo run -p presence-cli -- emulator &        # http://127.0.0.1:8090, keyset demo
//! PRESENCE_ORIGIN=http://127.0.0.1:8090 PRESENCE_SUBSCRIBE_KEY=demo PRESENCE_USER_ID=ann \
//!   cargo run -p presence-core --example event_loop -- lobby
//! # options: --state '{"mood":"ok"}'  --roster  --fleet 100
//! ```
#![allow(clippy::disallowed_methods)] // The driver owns the clock and the environment.

mod driver;

use driver::{EventLoop, Output};
use presence_core::{
    Config, FleetConfig, FleetEngine, FleetUser, HeartbeatConfig, HeartbeatEngine, Keyset, Origin,
    RosterConfig, RosterEngine, UserId, WatchConfig, WatchEngine,
};
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let origin = env("PRESENCE_ORIGIN", "http://127.0.0.1:8090");
    let user = env("PRESENCE_USER_ID", "event-loop");
    let key = env("PRESENCE_SUBSCRIBE_KEY", "demo");
    let mut channels = Vec::new();
    let (mut state, mut roster, mut fleet) = (None, false, 0usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--state" => state = Some(serde_json::from_str(&args.next().ok_or("--state JSON")?)?),
            "--roster" => roster = true,
            "--fleet" => fleet = args.next().ok_or("--fleet N")?.parse()?,
            _ => channels.push(arg),
        }
    }
    if channels.is_empty() {
        channels.push("lobby".to_owned());
    }
    let host = origin
        .strip_prefix("http://")
        .ok_or("an http:// origin (this example speaks plain HTTP/1.1)")?;
    let addr = host
        .to_socket_addrs()?
        .next()
        .ok_or("the origin resolves to nothing")?;
    let config = Config::new(Keyset::new(key), UserId::new(user.clone())?)
        .with_origin(Origin::parse(&origin)?);

    let (mut event_loop, waker) = EventLoop::new(config, addr)?;
    let now = Instant::now();
    let mut heartbeat = HeartbeatEngine::new(HeartbeatConfig::new(60));
    heartbeat.join(now, channels.iter().cloned(), Vec::<String>::new());
    if let Some(state) = state {
        heartbeat.set_state_all(now, state);
    }
    event_loop.add(Box::new(heartbeat));
    let mut watch = WatchEngine::new(WatchConfig::default());
    watch.add(now, channels.iter().cloned(), Vec::<String>::new());
    event_loop.add(Box::new(watch));
    if roster {
        let mut r = RosterEngine::new(RosterConfig::default());
        r.add(now, channels.iter().cloned(), Vec::<String>::new());
        event_loop.add(Box::new(r));
    }
    if fleet > 0 {
        // First heartbeats over one second, not one interval: it is a demo.
        let mut f = FleetEngine::new(FleetConfig::new().spread(Some(Duration::from_secs(1))));
        for i in 0..fleet {
            f.add(
                now,
                FleetUser::new(UserId::new(format!("{user}-bot-{i}"))?).channels(channels.clone()),
            )?;
        }
        event_loop.add(Box::new(f));
    }

    // Ctrl-C and SIGTERM wake the loop (a mio source, no signal-handler thread), which
    // then leaves and ends.
    let mut signals = signal_hook_mio::v1_0::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    event_loop.register_stop_source(&mut signals)?;
    drop(waker); // Another thread could keep it to stop the loop.
    println!(
        "{user} on {} via {origin} (Ctrl-C to leave)",
        channels.join(", ")
    );
    event_loop.run(&mut |out: Output| println!("{out}"))?;
    let wakeups = event_loop
        .wakeups()
        .load(std::sync::atomic::Ordering::Relaxed);
    println!("left; {wakeups} wake-ups");
    Ok(())
}
