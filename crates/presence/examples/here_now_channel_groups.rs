//! Here now for channel groups (Rust `.channel_groups(..)`, Python `.channel_groups(..)`,
//! Go `.ChannelGroups(..)`, Dart `hereNow(channelGroups: ..)`).
//!
//! `cargo run -p presence --example here_now_channel_groups`
#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    target.add_to_group(&ann, "rooms", &["red", "blue"]).await;
    ann.heartbeat().channels(["red"]).execute().await?;
    target
        .client("ben")
        .heartbeat()
        .channels(["blue"])
        .execute()
        .await?;

    let result = ann.here_now().channel_groups(["rooms"]).execute().await?;
    for channel in &result.channels {
        println!(
            "{}: {}",
            channel.name,
            channel
                .occupants
                .iter()
                .map(|o| o.user_id.as_ref())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "total occupancy across the group: {}",
        result.total_occupancy
    );
    target.finish().await;
    Ok(())
}
