//! Extra query parameters on any call (Go's `.QueryParam(map)`): encoded like every other
//! value and covered by the signature when the keyset has a secret key.
//!
//! `cargo run -p presence --example query_params`
#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::Target::from_env().await;
    let ann = target.client("ann");
    let result = ann
        .here_now()
        .channels(["lobby"])
        .query_param("trace", "example run #1")
        .execute()
        .await?;
    println!(
        "here now with an extra parameter: {} present",
        result.total_occupancy
    );
    // What goes on the wire (the core builds it; no request is sent here):
    let op = presence::HereNow::new()
        .channels(["lobby"])
        .query_param("trace", "example run #1");
    let request = presence::core::Operation::to_request(
        &op,
        ann.config(),
        &presence::core::RequestMeta::new(0),
    )?;
    println!("{}", request.uri());
    target.finish().await;
    Ok(())
}
