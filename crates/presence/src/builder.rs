//! [`ClientBuilder`]: configuration for both clients.

use crate::shared::Shared;
use presence_core::{Config, Keyset, Origin, UserId};

/// Builds a [`Client`](crate::Client) or a [`blocking::Client`](crate::blocking::Client).
///
/// ```
/// let config = presence::ClientBuilder::new()
///     .subscribe_key("demo")
///     .user_id("me")
///     .origin("http://127.0.0.1:8090")
///     .build_config()
///     .unwrap();
/// assert_eq!(config.origin.to_string(), "http://127.0.0.1:8090");
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    subscribe_key: Option<String>,
    publish_key: Option<String>,
    secret_key: Option<String>,
    user_id: Option<String>,
    auth_token: Option<String>,
    origin: Option<String>,
    pnsdk: Option<String>,
    named: Vec<(String, Keyset)>,
    no_request_ids: bool,
    runtime: Option<crate::runtime::Configured>,
    #[cfg(feature = "hyper")]
    protocol: transport_hyper::Protocol,
}

impl std::fmt::Debug for ClientBuilder {
    /// The secret key and auth token are shown as `<redacted>`, never their values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("ClientBuilder")
            .field("subscribe_key", &self.subscribe_key)
            .field("publish_key", &self.publish_key)
            .field("secret_key", &redact(&self.secret_key))
            .field("user_id", &self.user_id)
            .field("auth_token", &redact(&self.auth_token))
            .field("origin", &self.origin)
            .field("named", &self.named)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The subscribe key (required).
    pub fn subscribe_key(mut self, key: impl Into<String>) -> Self {
        self.subscribe_key = Some(key.into());
        self
    }

    /// The publish key.
    pub fn publish_key(mut self, key: impl Into<String>) -> Self {
        self.publish_key = Some(key.into());
        self
    }

    /// The secret key: every request is then signed; the key itself is never sent.
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = Some(key.into());
        self
    }

    /// The user id (required).
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// The Access Manager token or auth key, sent as `auth`.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// The origin, `https://ps.pndsn.com` by default; any `http://host:port` works.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// The `pnsdk` value.
    pub fn pnsdk(mut self, pnsdk: impl Into<String>) -> Self {
        self.pnsdk = Some(pnsdk.into());
        self
    }

    /// Adds a named keyset for per-call `.using(name)`.
    pub fn named_keyset(mut self, name: impl Into<String>, keyset: Keyset) -> Self {
        self.named.push((name.into(), keyset));
        self
    }

    /// Send a `requestid` with every request (default true, as the Rust and JS SDKs do).
    pub fn request_ids(mut self, yes: bool) -> Self {
        self.no_request_ids = !yes;
        self
    }

    /// Validates and returns the core [`Config`].
    pub fn build_config(&self) -> Result<Config, presence_core::Error> {
        let subscribe_key = self.subscribe_key.clone().unwrap_or_default();
        if subscribe_key.trim().is_empty() {
            return Err(invalid("subscribe_key", "is required"));
        }
        let mut keyset = Keyset::new(subscribe_key);
        if let Some(p) = &self.publish_key {
            keyset = keyset.with_publish_key(p.clone());
        }
        if let Some(s) = &self.secret_key {
            keyset = keyset.with_secret_key(s.clone());
        }
        let user_id = UserId::new(
            self.user_id
                .clone()
                .ok_or_else(|| invalid("user_id", "is required"))?,
        )?;
        let mut config = Config::new(keyset, user_id);
        if let Some(origin) = &self.origin {
            config = config.with_origin(Origin::parse(origin)?);
        }
        if let Some(token) = &self.auth_token {
            config = config.with_auth_token(token.clone());
        }
        if let Some(pnsdk) = &self.pnsdk {
            config = config.with_pnsdk(pnsdk.clone());
        }
        for (name, keyset) in &self.named {
            config = config.with_named_keyset(name.clone(), keyset.clone());
        }
        Ok(config)
    }

    pub(crate) fn shared(&self) -> Result<Shared, presence_core::Error> {
        let mut shared = Shared::new(self.build_config()?, !self.no_request_ids);
        shared.runtime = self.runtime.clone();
        Ok(shared)
    }

    /// The executor the async client's long-lived loops (`presence()`, `watch()`,
    /// `roster()`, `fleet()`) run on. Without it they run on the current tokio runtime
    /// (feature `tokio`); see [`runtime`](crate::runtime) for smol and others.
    pub fn runtime(mut self, runtime: impl crate::runtime::Runtime) -> Self {
        self.runtime = Some(crate::runtime::Configured(std::sync::Arc::new(runtime)));
        self
    }

    /// An async client on any [`AsyncTransport`](crate::transport::AsyncTransport).
    pub fn build_with<T: crate::transport::AsyncTransport>(
        &self,
        transport: T,
    ) -> Result<crate::Client<T>, presence_core::Error> {
        Ok(crate::Client::from_shared(self.shared()?, transport))
    }

    /// A blocking client on any [`BlockingTransport`](crate::transport::BlockingTransport).
    pub fn build_blocking_with<T: crate::transport::BlockingTransport>(
        &self,
        transport: T,
    ) -> Result<crate::blocking::Client<T>, presence_core::Error> {
        Ok(crate::blocking::Client::from_shared(
            self.shared()?,
            transport,
        ))
    }

    /// The HTTP versions [`build`](Self::build)'s hyper transport speaks (default
    /// [`Protocol::Http1`](transport_hyper::Protocol::Http1);
    /// [`Protocol::Alpn`](transport_hyper::Protocol::Alpn): HTTP/2 where an `https`
    /// server offers it; [`Protocol::Http2PriorKnowledge`](transport_hyper::Protocol)
    /// for `h2c`).
    #[cfg(feature = "hyper")]
    pub fn http_protocol(mut self, protocol: transport_hyper::Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// An async client on the hyper transport with default settings (but the
    /// [`http_protocol`](Self::http_protocol)).
    #[cfg(feature = "hyper")]
    pub fn build(&self) -> Result<crate::Client, crate::Error<transport_hyper::Error>> {
        let shared = self.shared()?;
        let transport = transport_hyper::HyperTransport::builder()
            .protocol(self.protocol)
            .build()
            .map_err(crate::Error::Transport)?;
        Ok(crate::Client::from_shared(shared, transport))
    }

    /// A blocking client on the ureq transport with default settings.
    #[cfg(feature = "ureq")]
    pub fn build_blocking(&self) -> Result<crate::blocking::Client, presence_core::Error> {
        Ok(crate::blocking::Client::from_shared(
            self.shared()?,
            transport_ureq::UreqTransport::new(),
        ))
    }
}

fn invalid(field: &'static str, reason: &str) -> presence_core::Error {
    presence_core::Error::invalid_input(field, reason)
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_shows_secrets() {
        let b = super::ClientBuilder::new()
            .subscribe_key("sub")
            .secret_key("S3CRET")
            .auth_token("T0KEN");
        let shown = format!("{b:?}");
        assert!(
            !shown.contains("S3CRET") && !shown.contains("T0KEN"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }
}
