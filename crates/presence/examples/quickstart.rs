//! Quickstart: starts the presence emulator in-process (no keys, no network), then two
//! users heartbeat with state, look each other up, change state and leave, while a third
//! watches the presence events.
//!
//! `cargo run -p presence --example quickstart`
use presence_emulator::{Emulator, EmulatorConfig};
use serde_json::json;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let origin = emulator.origin();
    println!("emulator listening on {origin}");
    let client = |user: &str| {
        presence::Client::builder()
            .subscribe_key("demo")
            .user_id(user)
            .origin(&origin)
            .build()
    };
    let (ann, ben, watcher) = (client("ann")?, client("ben")?, client("watcher")?);

    let mut events = watcher.watch().channels(["lobby"]).start()?;
    events.connected().await;
    tokio::spawn(async move {
        while let Some(event) = events.next_presence().await {
            match event {
                // `join lobby ann (occupancy 1) state {"mood":"happy"}`
                Ok(event) => println!("  [event] {event}"),
                Err(failure) => {
                    println!("  [watch ended] {failure}");
                    break;
                }
            }
        }
    });

    println!("ann and ben heartbeat on lobby with state");
    ann.heartbeat()
        .channels(["lobby", "game"])
        .state(json!({"mood": "happy"}))
        .execute()
        .await?;
    ben.heartbeat()
        .channels(["lobby"])
        .timeout(60)
        .state(json!({"mood": "curious"}))
        .execute()
        .await?;

    let here = ben
        .here_now()
        .channels(["lobby"])
        .include_state(true)
        .execute()
        .await?;
    println!("here now on lobby: {} present", here.total_occupancy);
    for o in &here.channels[0].occupants {
        println!(
            "  {} {}",
            o.user_id,
            o.state.as_ref().map(|s| s.to_string()).unwrap_or_default()
        );
    }
    println!(
        "where now for ann: {}",
        ben.where_now().user_id("ann").execute().await?
    );

    ann.set_state()
        .channels(["lobby"])
        .state(json!({"mood": "busy"}))
        .execute()
        .await?;
    let state = ben
        .get_state()
        .channels(["lobby"])
        .user_id("ann")
        .execute()
        .await?;
    println!("ann's state on lobby is now {}", state.channels["lobby"]);

    ann.leave().channels(["lobby"]).execute().await?;
    let here = ben.here_now().channels(["lobby"]).execute().await?;
    println!("after ann leaves lobby: {}", here.channels[0]);

    println!("ben stops heartbeating; 60 s later (emulator time) he times out");
    emulator.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(300)).await; // let the watcher print
    let global = watcher.here_now().execute().await?;
    println!("global here now: {global}");
    emulator.shutdown().await;
    Ok(())
}
