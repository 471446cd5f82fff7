//! [`Backend`]: the async or the blocking facade client behind one `execute`.

use crate::args::{Global, Transport};
use crate::error::CliError;
use presence::core::{Config, Operation, RequestMeta};
use presence::ClientBuilder;

/// Shown when no subscribe key is configured.
const MISSING_SUBSCRIBE_KEY: &str = "missing subscribe key: pass --subscribe-key or set \
PRESENCE_SUBSCRIBE_KEY (the CLI does not fall back to a demo key on the real service). \
To try it locally, run `presence emulator` in another terminal and add \
`--origin http://127.0.0.1:8090 --subscribe-key demo`";

/// Shown when no user id is configured.
const MISSING_USER_ID: &str = "missing user id: pass --user-id or set PRESENCE_USER_ID";

/// The client selected by `--transport`.
#[derive(Debug)]
pub(crate) enum Backend {
    /// `presence::Client` on hyper.
    Async(presence::Client),
    /// `presence::blocking::Client` on ureq.
    Blocking(presence::blocking::Client),
}

/// `Some(value)` unless absent or blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

impl Backend {
    /// Builds the client from the global options. Missing keys are usage errors; values
    /// the core rejects (a bad origin, a bad user id) are invalid input.
    pub(crate) fn connect(global: &Global) -> Result<Self, CliError> {
        let subscribe_key =
            given(&global.subscribe_key).ok_or_else(|| CliError::usage(MISSING_SUBSCRIBE_KEY))?;
        let user_id = given(&global.user_id).ok_or_else(|| CliError::usage(MISSING_USER_ID))?;
        let mut builder = ClientBuilder::new()
            .subscribe_key(subscribe_key)
            .user_id(user_id);
        if let Some(origin) = given(&global.origin) {
            builder = builder.origin(origin);
        }
        if let Some(key) = given(&global.publish_key) {
            builder = builder.publish_key(key);
        }
        if let Some(key) = given(&global.secret_key) {
            builder = builder.secret_key(key);
        }
        if let Some(token) = given(&global.auth_key) {
            builder = builder.auth_token(token);
        }
        if let Some(http) = global.http {
            builder = builder.http_protocol(http.into());
        }
        // Validate once, so both transports report configuration errors alike.
        builder
            .build_config()
            .map_err(|e| CliError::from_core(&e))?;
        match global.transport.unwrap_or(Transport::Hyper) {
            Transport::Hyper => builder
                .build()
                .map(Backend::Async)
                .map_err(|e| CliError::from_facade(&e)),
            Transport::Ureq => builder
                .build_blocking()
                .map(Backend::Blocking)
                .map_err(|e| CliError::from_core(&e)),
        }
    }

    /// The validated configuration.
    fn config(&self) -> &Config {
        match self {
            Backend::Async(c) => c.config(),
            Backend::Blocking(c) => c.config(),
        }
    }

    /// The requesting user.
    pub(crate) fn user_id(&self) -> &str {
        self.config().user_id.as_str()
    }

    /// Builds (without sending) `op`'s request, so input errors surface before a
    /// long-running command starts its background loop.
    pub(crate) fn validate<O: Operation>(&self, op: &O) -> Result<(), CliError> {
        op.to_request(self.config(), &RequestMeta::new(0))
            .map(drop)
            .map_err(|e| CliError::from_core(&e))
    }

    /// Reads every page of a here now on whichever client this is.
    pub(crate) async fn all_pages(
        &self,
        op: presence::HereNow,
    ) -> Result<presence::HereNowResult<'static>, CliError> {
        use presence::core::ExecutePages as _;
        let pager = presence::core::HereNowPager::new(op);
        match self {
            Backend::Async(c) => c
                .all_pages(pager)
                .await
                .map_err(|e| CliError::from_facade(&e)),
            Backend::Blocking(c) => c.all_pages(pager).map_err(|e| CliError::from_facade(&e)),
        }
    }

    /// Runs one core operation on whichever client this is. (The blocking client
    /// blocks the calling thread, which is the runtime's `block_on` thread, not a
    /// worker: the signal task keeps running.)
    pub(crate) async fn execute<O: Operation>(&self, op: O) -> Result<O::Output, CliError> {
        match self {
            Backend::Async(c) => c.execute(op).await.map_err(|e| CliError::from_facade(&e)),
            Backend::Blocking(c) => c.execute(op).map_err(|e| CliError::from_facade(&e)),
        }
    }
}
