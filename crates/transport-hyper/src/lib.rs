//! Async HTTP executor for the presence SDK, on hyper 1 + rustls.
//!
//! [`HyperTransport`] takes a fully built `http::Request<Vec<u8>>` (absolute
//! URI with scheme and authority, method, headers, body) and returns the
//! `http::Response<Vec<u8>>` with its status, headers and whole body. It
//! knows nothing about presence: building requests and parsing responses is
//! the core's job.
//!
//! * **Every status is a response.** A 403 or a 500 comes back as `Ok` with
//!   its body intact, so error bodies reach the protocol parser. [`Error`] only
//!   means that no complete response was received.
//! * **Bounded.** One overall timeout covers sending the request *and*
//!   collecting the body ([`Builder::request_timeout`], overridable per call
//!   with [`HyperTransport::execute_with_timeout`] for long-polls); a separate
//!   TCP connect timeout; a maximum body size ([`Builder::max_body_size`]).
//! * **Pooled.** One hyper-util client with a keep-alive pool; clones of a
//!   [`HyperTransport`] share it.
//! * **TLS** by rustls with the *ring* provider passed explicitly (never the
//!   process-default provider) and the bundled Mozilla roots, or the
//!   operating system's roots with the `native-roots` feature. HTTP/1.1 only.
//! * **No compression.** hyper does not decode gzip, so this transport never
//!   sends `Accept-Encoding` (a caller-set one is removed) and passes bodies
//!   through as received.
//!
//! Calls must run inside a Tokio runtime with I/O and time enabled
//! (`enable_all()`, or `#[tokio::main]`).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use transport_hyper::HyperTransport;
//!
//! # async fn run() -> Result<(), transport_hyper::Error> {
//! let transport = HyperTransport::builder()
//!     .request_timeout(Duration::from_secs(10))
//!     .build()?;
//!
//! let req = http::Request::get("https://ps.pndsn.com/time/0")
//!     .body(Vec::new())
//!     .expect("valid request");
//! let resp = transport.execute(req).await?;
//! println!("{} {}", resp.status(), String::from_utf8_lossy(resp.body()));
//!
//! // A long-poll may wait longer than the default bound.
//! let req = http::Request::get("https://ps.pndsn.com/time/0")
//!     .body(Vec::new())
//!     .expect("valid request");
//! let _ = transport.execute_with_timeout(req, Duration::from_secs(320)).await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! * `native-roots`: trust the operating system's certificate store
//!   (through `rustls-native-certs`) instead of the bundled `webpki-roots`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::ACCEPT_ENCODING;
use http::Version;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use transport_common::{check_request, classify, target_of, Cause};
pub use transport_common::{BoxError, Error};

pub use transport_common::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_POOL_MAX_IDLE_PER_HOST, DEFAULT_REQUEST_TIMEOUT,
};

transport_common::builder!(
    HyperTransport,
    connect = "Bound on establishing the TCP connection (default 10 s). The TLS handshake is covered by the overall request timeout.",
    body = "Largest response body accepted, in bytes (default 8 MiB); a larger one fails with [`Error::BodyTooLarge`]."
);

impl Builder {
    /// Build the transport.
    ///
    /// Fails with [`Error::Tls`] only if the TLS configuration cannot be made
    /// (with `native-roots`: no usable certificate in the OS store).
    pub fn build(self) -> Result<HyperTransport, Error> {
        let mut http = HttpConnector::new();
        // Required with `wrap_connector`: let the HTTPS layer see https URIs.
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.limits.connect_timeout));
        http.set_nodelay(true);

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = tls_builder(provider)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);

        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(self.limits.pool_idle_timeout)
            .pool_max_idle_per_host(self.limits.pool_max_idle_per_host)
            .build(https);

        Ok(HyperTransport {
            inner: Arc::new(Inner {
                client,
                settings: self,
            }),
        })
    }
}

#[cfg(not(feature = "native-roots"))]
fn tls_builder(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<hyper_rustls::HttpsConnectorBuilder<hyper_rustls::builderstates::WantsSchemes>, Error> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)
        .map_err(|e| Error::Tls {
            target: None,
            source: Box::new(e),
        })
}

#[cfg(feature = "native-roots")]
fn tls_builder(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<hyper_rustls::HttpsConnectorBuilder<hyper_rustls::builderstates::WantsSchemes>, Error> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| Error::Tls {
            target: None,
            source: Box::new(e),
        })
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

struct Inner {
    client: HttpsClient,
    settings: Builder,
}

/// Async executor of `http::Request<Vec<u8>>` over one pooled hyper client.
///
/// Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct HyperTransport {
    inner: Arc<Inner>,
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// A transport with the default settings (see [`Builder`]).
    pub fn new() -> Result<Self, Error> {
        Builder::default().build()
    }

    /// Start configuring a transport.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Send `req` and collect the whole response, bounded by the configured
    /// request timeout.
    ///
    /// Any status (2xx, 403, 500…) is `Ok`. See [`Error`] for the failures.
    pub async fn execute(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        self.execute_with_timeout(req, self.inner.settings.limits.request_timeout)
            .await
    }

    /// Like [`execute`](Self::execute) with `timeout` as the overall bound
    /// for this call only, e.g. for a long-poll that the server holds open.
    pub async fn execute_with_timeout(
        &self,
        req: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        check_request(&req)?;
        let (mut parts, body) = req.into_parts();
        // hyper cannot decode a compressed body: ask for identity only.
        parts.headers.remove(ACCEPT_ENCODING);
        // HTTP/1.1 is the only protocol this transport speaks.
        parts.version = Version::HTTP_11;
        // For errors only: `scheme://host:port` is formatted when one happens.
        let uri = parts.uri.clone();
        let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));

        let limit = self.inner.settings.limits.max_body_size;
        let connect_timeout = self.inner.settings.limits.connect_timeout;
        let client = &self.inner.client;
        let exchange = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| map_client_error(e, target_of(&uri), connect_timeout))?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| map_body_error(e, target_of(&uri), limit))?
                .to_bytes();
            Ok(http::Response::from_parts(parts, Vec::from(bytes)))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_elapsed) => Err(Error::Timeout { after: timeout }),
        }
    }
}

fn map_client_error(
    err: hyper_util::client::legacy::Error,
    target: String,
    connect_timeout: Duration,
) -> Error {
    let cause = classify(&err);
    let source: BoxError = Box::new(err);
    if cause == Cause::Tls {
        return Error::Tls {
            target: Some(target),
            source,
        };
    }
    // `is_connect` is on the concrete type; re-check through the box.
    let is_connect = source
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(|e| e.is_connect());
    match (is_connect, cause) {
        (true, Cause::TimedOut) => Error::Timeout {
            after: connect_timeout,
        },
        (true, _) => Error::Connect { target, source },
        (false, Cause::Io | Cause::TimedOut) => Error::Io { target, source },
        (false, _) => Error::Http { target, source },
    }
}

fn map_body_error(err: BoxError, target: String, limit: usize) -> Error {
    if err.is::<http_body_util::LengthLimitError>() {
        return Error::BodyTooLarge { limit };
    }
    match classify(&*err) {
        Cause::Tls => Error::Tls {
            target: Some(target),
            source: err,
        },
        Cause::Io | Cause::TimedOut => Error::Io {
            target,
            source: err,
        },
        Cause::Other => Error::Http {
            target,
            source: err,
        },
    }
}
