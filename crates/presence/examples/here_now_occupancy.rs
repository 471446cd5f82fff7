//! Here now without user ids: occupancy only (`include_user_ids(false)` sends
//! `disable_uuids=1`; Python `include_uuids(False)`, Go `IncludeUUIDs(false)`).
//!
//! `cargo run -p presence --example here_now_occupancy`
#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    for user in ["ann", "ben", "cat"] {
        target
            .client(user)
            .heartbeat()
            .channels(["arena"])
            .execute()
            .await?;
    }
    let result = target
        .client("ann")
        .here_now()
        .channels(["arena"])
        .include_user_ids(false)
        .execute()
        .await?;
    let arena = result.channel("arena").expect("arena is occupied");
    println!(
        "arena: occupancy {} (user ids not requested: {} listed)",
        arena.occupancy,
        arena.occupants.len()
    );
    // Paging through a crowd: limit and offset apply per channel.
    let page = target
        .client("ann")
        .here_now()
        .channels(["arena"])
        .limit(2)
        .offset(1)
        .execute()
        .await?;
    println!("page (limit 2, offset 1): {}", page.channels[0]);
    target.finish().await;
    Ok(())
}
