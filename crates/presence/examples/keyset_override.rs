//! Per-call keyset override (Dart's named keysets: `keyset:` / `using:`): a default keyset
//! plus named ones in the client's store, chosen per call.
//!
//! `cargo run -p presence --example keyset_override`
#[path = "support/mod.rs"]
mod support;

use presence::Keyset;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    // Against the emulator every subscribe key is its own keyset only if configured;
    // `demo` is the default keyset, so use it under a second name as well.
    let other = Keyset::new(target.subscribe_key.clone());
    let ann = target
        .builder("ann")
        .named_keyset("other", other.clone())
        .build()?;
    ann.heartbeat()
        .channels(["lobby"])
        .using("other")
        .execute()
        .await?;
    let via_name = ann
        .here_now()
        .channels(["lobby"])
        .using("other")
        .execute()
        .await?;
    let via_keyset = ann
        .here_now()
        .channels(["lobby"])
        .keyset(other)
        .execute()
        .await?;
    println!(
        "lobby via `using(\"other\")`: {}; via `.keyset(..)`: {}",
        via_name.total_occupancy, via_keyset.total_occupancy
    );
    let err = ann
        .here_now()
        .channels(["lobby"])
        .using("missing")
        .execute()
        .await
        .unwrap_err();
    println!("unknown keyset name: {err}");
    target.finish().await;
    Ok(())
}
