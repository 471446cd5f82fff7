//! The async facade client on smol, not tokio: a transport built on smol's sockets and
//! timer ([`transport::SmolTransport`], `ureq-proto` for HTTP/1.1) plugged in with
//! `ClientBuilder::build_with`, and the long-lived loops on smol's executor through
//! `ClientBuilder::runtime` ([`transport::SmolRuntime`]).
//!
//! ```sh
//! cargo run -p presence-cli -- emulator &
//! PRESENCE_ORIGIN=http://127.0.0.1:8090 cargo run -p presence --example smol
//! ```

mod transport;

use presence::heartbeat::HeartbeatEvent;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let origin =
        std::env::var("PRESENCE_ORIGIN").unwrap_or_else(|_| "http://127.0.0.1:8090".into());
    smol::block_on(async {
        let client = |user: &str| {
            presence::Client::builder()
                .subscribe_key("demo")
                .user_id(user)
                .origin(&origin)
                .runtime(transport::SmolRuntime)
                .build_with(transport::SmolTransport)
        };
        let ann = client("smol-ann")?;
        // Events on smol's executor.
        let mut events = client("smol-observer")?
            .watch()
            .channels(["lobby"])
            .start()?;
        // Heartbeats on smol's timer, until stopped.
        let mut handle = ann
            .presence()
            .channels(["lobby"])
            .state(json!({"runtime": "smol"}))
            .timeout(60)
            .connected(true)?;
        while let Some(event) = handle.next_event().await {
            if matches!(event, HeartbeatEvent::Succeeded) {
                break;
            }
        }
        let now = ann
            .here_now()
            .channels(["lobby"])
            .include_state(true)
            .execute()
            .await?;
        println!("{}", now.channels[0]);
        if let Some(Ok(event)) = events.next_presence().await {
            println!("event: {event}");
        }
        handle.stop().await; // the leave
        println!("left");
        Ok(())
    })
}
