//! A heartbeat with a presence-timeout override (Go `Heartbeat().Timeout`/`SetPresenceTimeout`,
//! Python `heartbeat().channels(..)` with `set_presence_timeout`, Dart `heartbeat(heartbeat:)`).
//! The timeout is raised to at least 20 s; a user who stops heartbeating times out after it.
//!
//! `cargo run -p presence --example heartbeat_timeout`
#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    ann.heartbeat()
        .channels(["lobby"])
        .timeout(30)
        .execute()
        .await?;
    println!(
        "after heartbeat: {} present",
        ann.here_now()
            .channels(["lobby"])
            .execute()
            .await?
            .total_occupancy
    );

    if let Some(emulator) = &target.emulator {
        // The emulator's clock can be moved: 30 s later ann has timed out.
        emulator.advance(Duration::from_secs(30));
        println!(
            "30 s later: {} present",
            ann.here_now()
                .channels(["lobby"])
                .execute()
                .await?
                .total_occupancy
        );
    }
    target.finish().await;
    Ok(())
}
