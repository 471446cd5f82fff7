//! A presence fleet: one client keeps many user ids present (a game server's NPCs, a
//! gateway's connected users), with one timer queue and one connection pool, first
//! heartbeats spread over one interval. Users are added, moved and removed while it
//! runs; the counters can be read at any moment.
//!
//! `cargo run -p presence --example fleet`
#[path = "support/mod.rs"]
mod support;

use presence::fleet::{FleetEvent, FleetUser};
use presence::UserId;
use serde_json::json;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let server = target.client("game-server");
    let observer = target.client("observer");

    // Spread the first heartbeats over one second here (the default is one interval).
    let mut fleet = server.fleet().spread(Duration::from_secs(1)).start()?;
    for i in 0..200 {
        let npc = FleetUser::new(UserId::new(format!("npc-{i:03}"))?)
            .channels(["arena"])
            .state(json!({"kind": "npc", "hp": 100}))
            .timeout(60);
        fleet.add(npc)?;
    }
    while fleet.stats().present < 200 {
        if let Some(FleetEvent::GaveUp { user_id, failure }) = fleet.next_event().await {
            println!("{user_id} gave up: {failure}");
        }
    }
    println!("{}", fleet.stats());
    let now = observer.here_now().channels(["arena"]).execute().await?;
    println!("arena: {} present", now.channels[0].occupancy);

    // Move one NPC: it heartbeats the new channel at once and leaves the old one.
    fleet.add(FleetUser::new(UserId::new("npc-000")?).channels(["tavern"]))?;
    // Remove ten: each gets a leave.
    for i in 190..200 {
        fleet.remove(&format!("npc-{i:03}"));
    }
    while fleet.stats().users > 190 || fleet.user("npc-000").map(|s| s.as_str()) != Some("present")
    {
        fleet.next_event().await;
    }
    let now = observer
        .here_now()
        .channels(["arena", "tavern"])
        .execute()
        .await?;
    for channel in &now.channels {
        println!("{}: {} present", channel.name, channel.occupancy);
    }

    fleet.stop().await; // a leave for each of the 190
    let now = observer.here_now().channels(["arena"]).execute().await?;
    println!("after stop(): {} present", now.total_occupancy);
    target.finish().await;
    Ok(())
}
