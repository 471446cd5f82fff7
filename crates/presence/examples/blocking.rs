//! The blocking client (feature `ureq`): the same calls, ending in `.execute()`.
//!
//! `cargo run -p presence --features ureq --example blocking`
use presence_emulator::{Emulator, EmulatorConfig};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start_blocking(EmulatorConfig::default())?;
    let client = presence::ClientBuilder::new()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(emulator.origin())
        .build_blocking()?;

    client
        .heartbeat()
        .channels(["lobby"])
        .state(json!({"mood": "ok"}))
        .execute()?;
    let now = client
        .here_now()
        .channels(["lobby"])
        .include_state(true)
        .execute()?;
    println!("{now}");
    println!("ann is {}", client.where_now().execute()?);
    client.leave().channels(["lobby"]).execute()?;
    Ok(())
}
