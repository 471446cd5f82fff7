//! The transport traits: how the facade sends an `http::Request<Vec<u8>>`.
//!
//! Implement [`AsyncTransport`] or [`BlockingTransport`] for your own HTTP stack, or pass
//! a closure: both traits have blanket impls for `Fn(HttpRequest) -> …`. A transport's
//! error implements [`TransportError`], which tells the engines whether retrying may
//! help (`std::io::Error`, `Infallible` and the bundled transports' error do; for your
//! own error type `impl TransportError for MyError {}` is enough).
//!
//! ```
//! use presence::transport::BlockingTransport;
//! use presence::HttpRequest;
//!
//! // A closure transport that answers every request itself (handy in tests).
//! let canned = |_req: HttpRequest| -> Result<http::Response<Vec<u8>>, std::convert::Infallible> {
//!     Ok(http::Response::new(br#"{"status": 200, "message": "OK", "service": "Presence"}"#.to_vec()))
//! };
//! let resp = canned.send(http::Request::new(Vec::new())).unwrap();
//! assert_eq!(resp.status(), 200);
//! ```

use presence_core::{HttpRequest, TransportFailure, TransportFailureKind};
use std::future::Future;
use std::time::Duration;

/// A response as the core parses it.
pub type HttpResponse = http::Response<Vec<u8>>;

/// The error of a transport: what went wrong, and what kind of failure it is (which
/// decides whether the engines retry).
pub trait TransportError: std::error::Error + Send + Sync + 'static {
    /// What kind of failure this is. The default, [`TransportFailureKind::Other`], is
    /// retried.
    fn failure_kind(&self) -> TransportFailureKind {
        TransportFailureKind::Other
    }

    /// The failure as the engines take it: the kind and the error's message with its
    /// chain of causes.
    fn to_failure(&self) -> TransportFailure {
        let mut message = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        TransportFailure::new(self.failure_kind(), message)
    }
}

impl TransportError for std::io::Error {
    fn failure_kind(&self) -> TransportFailureKind {
        use std::io::ErrorKind as K;
        match self.kind() {
            K::TimedOut => TransportFailureKind::Timeout,
            K::ConnectionRefused | K::NotConnected | K::AddrNotAvailable => {
                TransportFailureKind::Connect
            }
            _ => TransportFailureKind::Io,
        }
    }
}

impl TransportError for std::convert::Infallible {}

#[cfg(any(feature = "hyper", feature = "ureq"))]
impl TransportError for transport_common::Error {
    fn failure_kind(&self) -> TransportFailureKind {
        use transport_common::Error as E;
        match self {
            E::InvalidRequest { .. } | E::NoRuntime => TransportFailureKind::InvalidRequest,
            E::Connect { .. } => TransportFailureKind::Connect,
            E::Tls { .. } => TransportFailureKind::Tls,
            E::Timeout { .. } => TransportFailureKind::Timeout,
            E::BodyTooLarge { .. } => TransportFailureKind::BodyTooLarge,
            E::Io { .. } => TransportFailureKind::Io,
            E::Http { .. } => TransportFailureKind::Protocol,
            _ => TransportFailureKind::Other,
        }
    }
}

/// Sends requests asynchronously.
pub trait AsyncTransport: Send + Sync + 'static {
    /// The transport's error.
    type Error: TransportError;

    /// Sends one request and returns the whole response, whatever its status.
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, Self::Error>> + Send;

    /// Sends one request with an overall timeout other than the default (long-polls).
    /// The default implementation ignores `timeout`.
    fn send_with_timeout(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> impl Future<Output = Result<HttpResponse, Self::Error>> + Send {
        let _ = timeout;
        self.send(request)
    }
}

impl<F, Fut, E> AsyncTransport for F
where
    F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, E>> + Send,
    E: TransportError,
{
    type Error = E;

    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, E>> + Send {
        self(request)
    }
}

/// Sends requests on the calling thread.
pub trait BlockingTransport: Send + Sync + 'static {
    /// The transport's error.
    type Error: TransportError;

    /// Sends one request and returns the whole response, whatever its status.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, Self::Error>;

    /// Sends one request with an overall timeout other than the default (long-polls).
    /// The default implementation ignores `timeout`.
    fn send_with_timeout(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, Self::Error> {
        let _ = timeout;
        self.send(request)
    }

    /// A transport of its own (its own connections) for one blocking watcher's
    /// long-polls, and an [`Interrupt`] that makes a request in flight on it fail at
    /// once from another thread; after an interrupt the watcher detaches a new one.
    ///
    /// A watcher changing channels or stopping interrupts its long-poll this way. The
    /// default, `None`, cannot interrupt: a superseded long-poll then runs until the
    /// service answers it (at most the long-poll timeout) before the next one starts;
    /// a watcher still never has more than one request in flight.
    fn detach(&self) -> Option<(Self, Interrupt)>
    where
        Self: Sized,
    {
        None
    }
}

/// Interrupts the requests in flight on a [`BlockingTransport::detach`]ed transport.
pub struct Interrupt(Box<dyn Fn() + Send + Sync>);

impl Interrupt {
    /// An interrupt that runs `interrupt` (for example closing the transport's
    /// connections).
    pub fn new(interrupt: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Box::new(interrupt))
    }

    /// Interrupts: requests in flight fail at once.
    pub fn interrupt(&self) {
        (self.0)();
    }
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interrupt")
    }
}

impl<F, E> BlockingTransport for F
where
    F: Fn(HttpRequest) -> Result<HttpResponse, E> + Send + Sync + 'static,
    E: TransportError,
{
    type Error = E;

    fn send(&self, request: HttpRequest) -> Result<HttpResponse, E> {
        self(request)
    }
}

#[cfg(feature = "hyper")]
impl AsyncTransport for transport_hyper::HyperTransport {
    type Error = transport_hyper::Error;

    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, Self::Error>> + Send {
        self.execute(request)
    }

    fn send_with_timeout(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> impl Future<Output = Result<HttpResponse, Self::Error>> + Send {
        self.execute_with_timeout(request, timeout)
    }
}

#[cfg(feature = "ureq")]
impl BlockingTransport for transport_ureq::UreqTransport {
    type Error = transport_ureq::Error;

    fn send(&self, request: HttpRequest) -> Result<HttpResponse, Self::Error> {
        self.execute(request)
    }

    fn send_with_timeout(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, Self::Error> {
        self.execute_with_timeout(request, timeout)
    }

    fn detach(&self) -> Option<(Self, Interrupt)> {
        let lane = self.detached();
        let handle = lane.clone();
        Some((lane, Interrupt::new(move || handle.shutdown())))
    }
}
