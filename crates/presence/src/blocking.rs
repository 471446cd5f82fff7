//! The blocking client: the same calls as [`Client`](crate::Client), ending in
//! `.execute()` without `.await`.
//!
//! ```no_run
//! # #[cfg(feature = "ureq")]
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = presence::blocking::Client::builder().subscribe_key("demo").user_id("me").build_blocking()?;
//! let now = client.here_now().channels(["lobby"]).execute()?;
//! println!("{} present", now.total_occupancy);
//! # Ok(()) }
//! ```

use crate::error::Error;
use crate::shared::{client_type, operations, RequestSpan, Shared};
use crate::transport::BlockingTransport;
use presence_core::{
    Config, Execute, GetState, Heartbeat, HereNow, Leave, Operation, SetState, WhereNow,
};
use std::time::Duration;

pub use crate::fleet::thread::Fleet;
pub use crate::heartbeat::thread::PresenceHandle;
pub use crate::roster::thread::Roster;
pub use crate::watch::thread::Watcher;

#[cfg(feature = "ureq")]
/// The default blocking transport.
pub type DefaultTransport = transport_ureq::UreqTransport;

client_type! {
    /// The blocking presence client. Cheap to clone: clones share the configuration
    /// and the transport's connection pool.
    feature = "ureq",
    default = DefaultTransport,
    debug = "blocking::Client"
}

#[cfg(feature = "ureq")]
impl Client<DefaultTransport> {
    /// A builder for the configuration; finish with `build_blocking()`.
    pub fn builder() -> crate::ClientBuilder {
        crate::ClientBuilder::new()
    }

    /// A client on the ureq transport with default settings.
    pub fn new(config: Config) -> Self {
        Self::with_transport(config, transport_ureq::UreqTransport::new())
    }
}

impl<T: BlockingTransport> Client<T> {
    /// A client on any transport (including a closure).
    pub fn with_transport(config: Config, transport: T) -> Self {
        Self::from_shared(Shared::new(config, true), transport)
    }

    operations!();

    /// Executes any core operation (for code generic over operations; the operation
    /// methods above end in the same call).
    pub fn execute<O: Operation>(&self, op: O) -> Result<O::Output, Error<T::Error>> {
        self.run(&op, None)
    }

    pub(crate) fn run<O: Operation>(
        &self,
        op: &O,
        timeout: Option<Duration>,
    ) -> Result<O::Output, Error<T::Error>> {
        let response = self.send_op(op, timeout)?;
        Ok(op.parse_response(&response)?)
    }

    pub(crate) fn send_op<O: Operation>(
        &self,
        op: &O,
        timeout: Option<Duration>,
    ) -> Result<http::Response<Vec<u8>>, Error<T::Error>> {
        self.send_on(&self.inner.transport, op, timeout)
    }

    /// Builds, signs and sends `op` on `transport` (the client's, or a watcher's
    /// detached one), returning the raw response.
    pub(crate) fn send_on<O: Operation>(
        &self,
        transport: &T,
        op: &O,
        timeout: Option<Duration>,
    ) -> Result<http::Response<Vec<u8>>, Error<T::Error>> {
        let span = RequestSpan::new(op);
        let request = self.inner.shared.prepare(op).map_err(|e| span.invalid(e))?;
        let sent = {
            let _enter = span.span().enter();
            match timeout {
                Some(t) => transport.send_with_timeout(request, t),
                None => transport.send(request),
            }
        };
        span.outcome(sent)
    }
}

/// `client.here_now()…execute()` (and every other operation bound to the client) gives
/// the result.
impl<T: BlockingTransport, O: Operation> Execute<O> for &Client<T> {
    type Output = Result<O::Output, Error<T::Error>>;

    fn execute(self, op: O) -> Self::Output {
        self.run(&op, None)
    }
}
