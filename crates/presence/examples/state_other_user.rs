//! Set and get another user's state (Python `.uuid(..)`, Go `.UUID(..)`, Rust `.user_id(..)`).
//!
//! `cargo run -p presence --example state_other_user`
#[path = "support/mod.rs"]
mod support;

use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let admin = target.client("admin");
    admin
        .set_state()
        .channels(["lobby"])
        .user_id("ann")
        .state(json!({"muted": true}))
        .execute()
        .await?;
    let ann_state = admin
        .get_state()
        .channels(["lobby"])
        .user_id("ann")
        .execute()
        .await?;
    println!("ann on lobby: {}", ann_state.channels["lobby"]);
    target.finish().await;
    Ok(())
}
