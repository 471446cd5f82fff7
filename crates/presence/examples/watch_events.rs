//! Presence events (join, leave, timeout, state-change, interval) as a stream, from the
//! subscribe endpoint's `-pnpres` channels (Rust `subscription(..).with_presence()`,
//! Python/Go presence listeners).
//!
//! `cargo run -p presence --example watch_events`
#[path = "support/mod.rs"]
mod support;

use serde_json::json;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let mut events = target
        .client("watcher")
        .watch()
        .channels(["lobby"])
        .start()?;
    events.connected().await;

    let ann = target.client("ann");
    ann.heartbeat().channels(["lobby"]).execute().await?;
    ann.set_state()
        .channels(["lobby"])
        .state(json!({"typing": true}))
        .execute()
        .await?;
    ann.leave().channels(["lobby"]).execute().await?;

    for _ in 0..3 {
        match tokio::time::timeout(Duration::from_secs(10), events.next_presence()).await {
            Ok(Some(Ok(event))) => println!("{event}"),
            Ok(Some(Err(failure))) => {
                println!("the watch ended: {failure}");
                break;
            }
            _ => break,
        }
    }
    target.finish().await;
    Ok(())
}
