//! The async client.

use crate::error::Error;
use crate::shared::{client_type, operations, RequestSpan, Shared};
use crate::transport::AsyncTransport;
use presence_core::{
    Config, Execute, GetState, Heartbeat, HereNow, Leave, Operation, SetState, WhereNow,
};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tracing::Instrument;

#[cfg(feature = "hyper")]
/// The default async transport.
pub type DefaultTransport = transport_hyper::HyperTransport;

client_type! {
    /// The async presence client. Cheap to clone: clones share the configuration and
    /// the transport's connection pool.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = presence::Client::builder().subscribe_key("demo").user_id("me").build()?;
    /// let now = client.here_now().channels(["lobby"]).include_state(true).execute().await?;
    /// println!("{} present", now.total_occupancy);
    /// # Ok(()) }
    /// ```
    feature = "hyper",
    default = DefaultTransport,
    debug = "Client"
}

#[cfg(feature = "hyper")]
impl Client<DefaultTransport> {
    /// A builder for the configuration.
    pub fn builder() -> crate::ClientBuilder {
        crate::ClientBuilder::new()
    }

    /// A client on the hyper transport with default settings.
    pub fn new(config: Config) -> Result<Self, transport_hyper::Error> {
        Ok(Self::with_transport(
            config,
            transport_hyper::HyperTransport::new()?,
        ))
    }
}

impl<T: AsyncTransport> Client<T> {
    /// A client on any transport (including a closure).
    pub fn with_transport(config: Config, transport: T) -> Self {
        Self::from_shared(Shared::new(config, true), transport)
    }

    operations!();

    /// Executes any core operation (for code generic over operations; the operation
    /// methods above end in the same call).
    pub async fn execute<O: Operation>(&self, op: O) -> Result<O::Output, Error<T::Error>> {
        self.run(&op, None).await
    }

    pub(crate) async fn run<O: Operation>(
        &self,
        op: &O,
        timeout: Option<Duration>,
    ) -> Result<O::Output, Error<T::Error>> {
        let response = self.send_op(op, timeout).await?;
        Ok(op.parse_response(&response)?)
    }

    /// Builds, signs and sends `op`, returning the raw response (status recorded on the span).
    pub(crate) async fn send_op<O: Operation>(
        &self,
        op: &O,
        timeout: Option<Duration>,
    ) -> Result<http::Response<Vec<u8>>, Error<T::Error>> {
        let span = RequestSpan::new(op);
        let request = self.inner.shared.prepare(op).map_err(|e| span.invalid(e))?;
        let transport = &self.inner.transport;
        // The request goes to the transport before the first await, so this future
        // never holds it: the boxed future of every call is that much smaller.
        let sent = match timeout {
            Some(t) => {
                let sending = transport.send_with_timeout(request, t);
                sending.instrument(span.span().clone()).await
            }
            None => {
                let sending = transport.send(request);
                sending.instrument(span.span().clone()).await
            }
        };
        span.outcome(sent)
    }
}

/// The future of an operation bound to an async client ([`Execute`] for `&Client`):
/// the operation's result or the call's error.
pub type Pending<'c, R, TE> = Pin<Box<dyn Future<Output = Result<R, Error<TE>>> + Send + 'c>>;

/// `client.here_now()…execute()` (and every other operation bound to the client) gives
/// a future of the result.
impl<'c, T: AsyncTransport, O: Operation + 'c> Execute<O> for &'c Client<T> {
    type Output = Pending<'c, O::Output, T::Error>;

    fn execute(self, op: O) -> Self::Output {
        Box::pin(async move { self.run(&op, None).await })
    }
}
