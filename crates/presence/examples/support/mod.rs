//! Shared by the examples: a client against real keys when `PRESENCE_SUBSCRIBE_KEY` is set,
//! otherwise against the embedded emulator (no keys, no network).
#![allow(dead_code)]

use presence::Client;
use presence_emulator::{Emulator, EmulatorConfig, EmulatorHandle};

/// Where the examples send requests.
pub(crate) struct Target {
    pub(crate) origin: Option<String>,
    pub(crate) subscribe_key: String,
    pub(crate) publish_key: Option<String>,
    pub(crate) secret_key: Option<String>,
    /// Keeps the embedded emulator running while the example runs.
    pub(crate) emulator: Option<EmulatorHandle>,
}

impl Target {
    /// Real keys from `PRESENCE_*` variables, or the embedded emulator.
    pub(crate) async fn from_env() -> Target {
        match std::env::var("PRESENCE_SUBSCRIBE_KEY") {
            Ok(subscribe_key) if !subscribe_key.is_empty() => Target {
                origin: std::env::var("PRESENCE_ORIGIN").ok(),
                subscribe_key,
                publish_key: std::env::var("PRESENCE_PUBLISH_KEY").ok(),
                secret_key: std::env::var("PRESENCE_SECRET_KEY").ok(),
                emulator: None,
            },
            _ => {
                let emulator = Emulator::start(EmulatorConfig::default())
                    .await
                    .expect("start the embedded emulator");
                println!(
                    "(no PRESENCE_SUBSCRIBE_KEY: using the embedded emulator at {})",
                    emulator.origin()
                );
                Target {
                    origin: Some(emulator.origin()),
                    subscribe_key: "demo".into(),
                    publish_key: None,
                    secret_key: None,
                    emulator: Some(emulator),
                }
            }
        }
    }

    /// A client builder for `user` against this target.
    pub(crate) fn builder(&self, user: &str) -> presence::ClientBuilder {
        let mut b = presence::ClientBuilder::new()
            .subscribe_key(&self.subscribe_key)
            .user_id(user);
        if let Some(o) = &self.origin {
            b = b.origin(o);
        }
        if let Some(p) = &self.publish_key {
            b = b.publish_key(p);
        }
        if let Some(s) = &self.secret_key {
            b = b.secret_key(s);
        }
        b
    }

    /// An async client for `user`.
    pub(crate) fn client(&self, user: &str) -> Client {
        self.builder(user).build().expect("client")
    }

    /// Registers `channels` in `group` (the channel-group registry endpoint).
    pub(crate) async fn add_to_group(&self, client: &Client, group: &str, channels: &[&str]) {
        use presence::transport::AsyncTransport;
        let origin = client.config().origin.to_string();
        let uri = format!(
            "{origin}/v1/channel-registration/sub-key/{}/channel-group/{group}?add={}&uuid={}",
            self.subscribe_key,
            channels.join(","),
            client.config().user_id
        );
        let resp = client
            .transport()
            .send(http::Request::get(uri).body(Vec::new()).unwrap())
            .await
            .expect("registry");
        assert_eq!(
            resp.status(),
            200,
            "channel group registry: {}",
            String::from_utf8_lossy(resp.body())
        );
    }

    /// Shuts the embedded emulator down, if any.
    pub(crate) async fn finish(self) {
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }
}
