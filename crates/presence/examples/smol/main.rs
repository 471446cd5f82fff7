//! The async facade client on smol, not tokio: a transport built on smol's sockets and
//! timer ([`transport::SmolTransport`], `ureq-proto` for HTTP/1.1) plugged in with
//! `ClientBuilder::build_with`. Every operation works the same; the long-lived loops
//! (`presence()`, `watch()`, `roster()`, `fleet()`) are tokio tasks today, so this
//! example drives heartbeats itself with a smol timer (see docs/EMBEDDING.md).
//!
//! ```sh
//! cargo run -p presence-cli -- emulator &
//! PRESENCE_ORIGIN=http://127.0.0.1:8090 cargo run -p presence --example smol
//! ```

mod transport;

use serde_json::json;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let origin =
        std::env::var("PRESENCE_ORIGIN").unwrap_or_else(|_| "http://127.0.0.1:8090".into());
    smol::block_on(async {
        let client = presence::Client::builder()
            .subscribe_key("demo")
            .user_id("smol-user")
            .origin(origin)
            .build_with(transport::SmolTransport)?;
        client
            .heartbeat()
            .channels(["lobby"])
            .state(json!({"runtime": "smol"}))
            .timeout(60)
            .execute()
            .await?;
        let now = client
            .here_now()
            .channels(["lobby"])
            .include_state(true)
            .execute()
            .await?;
        println!("{}", now.channels[0]);
        println!("where now: {}", client.where_now().execute().await?);
        // Keep present for a few intervals with smol's timer, then leave.
        for _ in 0..2 {
            smol::Timer::after(Duration::from_secs(1)).await;
            client
                .execute(presence::Heartbeat::new().channels(["lobby"]).timeout(60))
                .await?;
        }
        client.leave().channels(["lobby"]).execute().await?;
        println!("left");
        Ok(())
    })
}
