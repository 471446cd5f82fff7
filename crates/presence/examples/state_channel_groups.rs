//! Set and get state through channel groups (Go `SetState().ChannelGroups(..)`, Dart
//! `setState(channelGroups: ..)`, Rust `.channel_groups(..)`): the state applies to every
//! channel of the group.
//!
//! `cargo run -p presence --example state_channel_groups`
#[path = "support/mod.rs"]
mod support;

use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    target.add_to_group(&ann, "team", &["alpha", "beta"]).await;
    ann.set_state()
        .channel_groups(["team"])
        .state(json!({"squad": "blue"}))
        .execute()
        .await?;
    let state = ann.get_state().channel_groups(["team"]).execute().await?;
    for (channel, state) in &state.channels {
        println!("{channel}: {state}");
    }
    target.finish().await;
    Ok(())
}
