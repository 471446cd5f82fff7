//! Where now, for yourself and for another user (Rust `where_now().user_id(..)`, Python
//! `where_now().uuid(..)`, Go `WhereNow().UUID(..)`, Dart `announce…`/`whereNow`).
//!
//! `cargo run -p presence --example where_now`
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

    println!("ann is {}", ann.where_now().execute().await?);
    let ben = target.client("ben");
    println!(
        "ben asks about ann: {}",
        ben.where_now().user_id("ann").execute().await?
    );
    target.finish().await;
    Ok(())
}
