//! Global here now: no channels and no groups (Python `here_now()`, Go `HereNow()`, Dart
//! `hereNow()` without channels).
//!
//! `cargo run -p presence --example here_now_global`
#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    target
        .client("ann")
        .heartbeat()
        .channels(["north", "south"])
        .execute()
        .await?;
    target
        .client("ben")
        .heartbeat()
        .channels(["south"])
        .execute()
        .await?;

    let result = target.client("ann").here_now().execute().await?;
    println!(
        "{} channels, {} occupants in the whole keyset",
        result.total_channels, result.total_occupancy
    );
    for channel in &result.channels {
        println!("  {} ({})", channel.name, channel.occupancy);
    }
    target.finish().await;
    Ok(())
}
