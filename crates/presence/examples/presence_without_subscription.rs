//! Heartbeat without subscription (Go's `Presence().Channels(..).State(..).Connected(true)`):
//! a handle keeps the user present with periodic heartbeats until it is stopped.
//! `connected(false)` stops without a leave (Go); `stop()` stops with a leave (JS/Kotlin).
//!
//! `cargo run -p presence --example presence_without_subscription`
#[path = "support/mod.rs"]
mod support;

use presence::heartbeat::HeartbeatEvent;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    let observer = target.client("observer");

    let mut handle = ann
        .presence()
        .channels(["lobby"])
        .state(json!({"status": "online"}))
        .timeout(60)
        .connected(true)?;
    while let Some(event) = handle.next_event().await {
        println!("heartbeat loop: {event}");
        if matches!(event, HeartbeatEvent::Succeeded) {
            break;
        }
    }
    let now = observer
        .here_now()
        .channels(["lobby"])
        .include_state(true)
        .execute()
        .await?;
    println!("lobby while the handle lives: {}", now.channels[0]);

    handle.stop().await; // leave sent
    let now = observer.here_now().channels(["lobby"]).execute().await?;
    println!("lobby after stop(): {} present", now.total_occupancy);
    target.finish().await;
    Ok(())
}
