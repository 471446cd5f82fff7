//! Set and get state on channels (Rust `set_presence_state`/`get_presence_state`, Python
//! `set_state().channels(..).state(..)`/`get_state()`, Go `SetState()`/`GetState()`, Dart
//! `setState`/`getState`).
//!
//! `cargo run -p presence --example state`
#[path = "support/mod.rs"]
mod support;

use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    let echoed = ann
        .set_state()
        .channels(["lobby", "game"])
        .state(json!({"mood": "happy", "level": 3}))
        .execute()
        .await?;
    println!("set: {}", echoed.state);

    let one = ann.get_state().channels(["lobby"]).execute().await?;
    println!("lobby: {}", one.channels["lobby"]);
    let both = ann
        .get_state()
        .channels(["lobby", "game"])
        .execute()
        .await?;
    for (channel, state) in &both.channels {
        println!("{channel}: {state}");
    }
    // State must be a JSON object: anything else is rejected before a request is built.
    let err = ann
        .set_state()
        .channels(["lobby"])
        .state(json!("not an object"))
        .execute()
        .await
        .unwrap_err();
    println!("rejected: {err}");
    target.finish().await;
    Ok(())
}
