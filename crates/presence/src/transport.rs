//! The transport traits: how the facade sends an `http::Request<Vec<u8>>`.
//!
//! Implement [`AsyncTransport`] or [`BlockingTransport`] for your own HTTP stack, or pass
//! a closure: both traits have blanket impls for `Fn(HttpRequest) -> …`.
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

use presence_core::HttpRequest;
use std::future::Future;
use std::time::Duration;

/// A response as the core parses it.
pub type HttpResponse = http::Response<Vec<u8>>;

/// Sends requests asynchronously.
pub trait AsyncTransport: Send + Sync + 'static {
    /// The transport's error.
    type Error: std::error::Error + Send + Sync + 'static;

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
    E: std::error::Error + Send + Sync + 'static,
{
    type Error = E;

    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, E>> + Send {
        self(request)
    }
}

/// Sends requests on the calling thread.
pub trait BlockingTransport: Send + Sync + 'static {
    /// The transport's error.
    type Error: std::error::Error + Send + Sync + 'static;

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
}

impl<F, E> BlockingTransport for F
where
    F: Fn(HttpRequest) -> Result<HttpResponse, E> + Send + Sync + 'static,
    E: std::error::Error + Send + Sync + 'static,
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
}
