//! Leave channels and groups now instead of timing out (Python `leave().channels(..)`,
//! Go `Leave().Channels(..).ChannelGroups(..)`).
//!
//! `cargo run -p presence --example leave`
#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    ann.heartbeat()
        .channels(["lobby", "game"])
        .execute()
        .await?;
    ann.leave().channels(["lobby"]).execute().await?;
    println!(
        "after leaving lobby ann is {}",
        ann.where_now().execute().await?
    );
    target.finish().await;
    Ok(())
}
