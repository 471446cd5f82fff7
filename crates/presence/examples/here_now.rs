//! Here now with state and user ids (Rust `here_now().channels(..).include_state(true)`,
//! Python `here_now().channels(..).include_state(True).include_uuids(True)`, Go
//! `HereNow().Channels(..).IncludeState(true).IncludeUUIDs(true)`).
//!
//! `cargo run -p presence --example here_now`
#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    ann.heartbeat()
        .channels(["lobby", "game"])
        .state(serde_json::json!({"mood": "ok"}))
        .execute()
        .await?;

    let result = ann
        .here_now()
        .channels(["lobby", "game"])
        .include_state(true)
        .include_user_ids(true)
        .execute()
        .await?;
    // One line per channel: `lobby (occupancy 2): ann {"mood":"ok"}, bob`.
    println!("{result}");
    target.finish().await;
    Ok(())
}
