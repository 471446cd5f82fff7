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
//! * **Pooled.** HTTP/1.1 connections are kept alive in a pool of hyper's own
//!   connections (a lighter one than hyper-util's, which the HTTP/2 protocols use);
//!   clones of a [`HyperTransport`] share it.
//! * **TLS** by rustls with the *ring* provider passed explicitly (never the
//!   process-default provider) and the bundled Mozilla roots, or the
//!   operating system's roots with the `native-roots` feature.
//! * **HTTP/1.1 by default; HTTP/2 on request** ([`Builder::protocol`], [`Protocol`]):
//!   negotiated by ALPN on `https` origins (HTTP/1.1 when the server does not offer
//!   it), or prior-knowledge HTTP/2 (`h2c`) on `http`.
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

mod pool;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::ACCEPT_ENCODING;
use http::Version;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use transport_common::{check_request, classify, set_host_header, target_of, Cause};
pub use transport_common::{BoxError, Error};

pub use transport_common::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_POOL_MAX_IDLE_PER_HOST, DEFAULT_REQUEST_TIMEOUT,
};

/// The HTTP versions a [`HyperTransport`] speaks ([`Builder::protocol`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// The default. HTTP/1.1 only, on `http` and `https` origins: a pool of
    /// connections, one request at a time on each. Measured faster than HTTP/2 on one
    /// connection at concurrency 1 and not slower at 64 (docs/PERFORMANCE.md, "HTTP/2").
    #[default]
    Http1,
    /// `https`: offer `h2` and `http/1.1` by ALPN and speak what the server picks
    /// (HTTP/2 multiplexes every request to a host on one connection: one TCP and TLS
    /// handshake instead of one per pooled connection); `http`: HTTP/1.1 (there is no
    /// negotiation without TLS).
    Alpn,
    /// HTTP/2 only, with prior knowledge: `h2c` on `http` origins (the connection
    /// starts with the HTTP/2 preface, no `Upgrade`), ALPN `h2` only on `https`. For a
    /// server known to speak HTTP/2, such as `presence-emulator` (which serves h2c and HTTP/1.1 on one port).
    Http2PriorKnowledge,
}

/// Settings for a [`HyperTransport`]; get one from [`HyperTransport::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Builder {
    limits: transport_common::Limits,
    protocol: Protocol,
}

impl Builder {
    transport_common::limits_setters!(
        connect = "Bound on establishing the TCP connection (default 10 s). The TLS handshake is covered by the overall request timeout.",
        body = "Largest response body accepted, in bytes (default 8 MiB); a larger one fails with [`Error::BodyTooLarge`]."
    );

    /// The HTTP versions spoken (default [`Protocol::Http1`]).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

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
        let schemes = tls_builder(provider)?.https_or_http();
        // What ALPN offers on https.
        let https = match self.protocol {
            Protocol::Http1 => schemes.enable_http1().wrap_connector(http),
            Protocol::Alpn => schemes.enable_all_versions().wrap_connector(http),
            Protocol::Http2PriorKnowledge => schemes.enable_http2().wrap_connector(http),
        };

        let limits = &self.limits;
        let engine = match self.protocol {
            Protocol::Http1 => Engine::Http1(Arc::new(pool::Pool::new(
                https,
                limits.connect_timeout,
                limits.pool_max_idle_per_host,
                limits.pool_idle_timeout,
            ))),
            Protocol::Alpn | Protocol::Http2PriorKnowledge => Engine::Negotiated(Box::new(
                Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .pool_idle_timeout(limits.pool_idle_timeout)
                    .pool_max_idle_per_host(limits.pool_max_idle_per_host)
                    .http2_only(self.protocol == Protocol::Http2PriorKnowledge)
                    .build(https),
            )),
        };

        Ok(HyperTransport {
            inner: Arc::new(Inner {
                engine,
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

/// What sends the requests.
enum Engine {
    /// [`Protocol::Http1`]: the HTTP/1.1 pool of hyper's own connections.
    Http1(Arc<pool::Pool>),
    /// The HTTP/2 protocols: hyper-util's client (ALPN, h2c, its multiplexing pool).
    Negotiated(Box<HttpsClient>),
}

/// A request handed to the engine: the response future of hyper-util's client, or the
/// request (origin-form, `Host` set) for the HTTP/1.1 pool, boxed so that every call's
/// future is that much smaller.
enum Started {
    Negotiated(ResponseFuture),
    Http1(Arc<pool::Pool>, Box<http::Request<Full<Bytes>>>),
}

struct Inner {
    engine: Engine,
    settings: Builder,
}

impl Inner {
    /// Whether a request to `uri` goes over HTTP/1.1 whatever the server says: always
    /// with [`Protocol::Http1`], on `http` with [`Protocol::Alpn`] (no TLS, no ALPN).
    fn http1_only(&self, uri: &http::Uri) -> bool {
        match self.settings.protocol {
            Protocol::Http1 => true,
            Protocol::Alpn => uri.scheme() == Some(&http::uri::Scheme::HTTP),
            Protocol::Http2PriorKnowledge => false,
        }
    }
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
    /// Any status (2xx, 403, 500…) is `Ok`. See [`Error`] for the failures. Nothing is
    /// sent until the future is polled.
    pub fn execute(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, Error>> + Send + 'static {
        self.execute_with_timeout(req, self.inner.settings.limits.request_timeout)
    }

    /// Like [`execute`](Self::execute) with `timeout` as the overall bound
    /// for this call only, e.g. for a long-poll that the server holds open.
    pub fn execute_with_timeout(
        &self,
        req: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, Error>> + Send + 'static {
        // The request is checked and handed to the pool's (lazy) future here, so the
        // future returned holds only that future and what errors need: it is part of
        // every caller's future (the facade boxes one per call).
        let started = self.start(req);
        let limits = &self.inner.settings.limits;
        let (limit, connect_timeout) = (limits.max_body_size, limits.connect_timeout);
        async move {
            let (pending, uri) = started?;
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(Error::NoRuntime);
            }
            let exchange = exchange(pending, uri, limit, connect_timeout);
            match tokio::time::timeout(timeout, exchange).await {
                Ok(result) => result,
                Err(_elapsed) => Err(Error::Timeout { after: timeout }),
            }
        }
    }

    /// Checks `req` and gives it to the engine (hyper-util's client makes a not yet
    /// polled response future of it), with its scheme and authority (the pool's key, and
    /// the target named by errors).
    fn start(&self, req: http::Request<Vec<u8>>) -> Result<(Started, http::Uri), Error> {
        check_request(&req)?;
        let (mut parts, body) = req.into_parts();
        // hyper cannot decode a compressed body: ask for identity only.
        if !parts.headers.is_empty() {
            parts.headers.remove(ACCEPT_ENCODING);
        }
        // The connection decides the version (HTTP/2 after ALPN `h2` or with prior
        // knowledge); the request only must not ask for one the pool cannot give.
        parts.version = Version::HTTP_11;
        // On a connection that is HTTP/1.1 for sure (an HTTP/2 request carries
        // `:authority` instead).
        if self.inner.http1_only(&parts.uri) {
            set_host_header(&mut parts.headers, &parts.uri);
        }
        // For errors only (`scheme://host:port` is formatted when one happens): scheme and
        // authority, shared with the request's, not its path and query.
        let mut target = http::uri::Parts::default();
        target.scheme = parts.uri.scheme().cloned();
        target.authority = parts.uri.authority().cloned();
        target.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        let uri = http::Uri::from_parts(target).unwrap_or_default();
        let started = match &self.inner.engine {
            Engine::Negotiated(client) => {
                let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
                Started::Negotiated(client.request(req))
            }
            Engine::Http1(pool) => {
                // hyper's connection writes the URI as it is: the origin form.
                parts.uri = parts
                    .uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"))
                    .into();
                let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
                Started::Http1(Arc::clone(pool), Box::new(req))
            }
        };
        Ok((started, uri))
    }
}

/// Waits for the response head, then reads the body; an HTTP/1.1 connection then goes
/// back to its pool.
async fn exchange(
    started: Started,
    uri: http::Uri,
    limit: usize,
    connect_timeout: Duration,
) -> Result<http::Response<Vec<u8>>, Error> {
    match started {
        Started::Negotiated(pending) => {
            let resp = pending
                .await
                .map_err(|e| map_client_error(e, target_of(&uri), connect_timeout))?;
            read_body(resp, &uri, limit).await
        }
        Started::Http1(pool, req) => {
            let (resp, sender) = pool.send(&uri, req).await?;
            let resp = read_body(resp, &uri, limit).await?;
            pool.checkin(uri, sender);
            Ok(resp)
        }
    }
}

/// Reads the body (at most `limit` bytes) into one `Vec` sized from its
/// `Content-Length`.
async fn read_body(
    resp: http::Response<hyper::body::Incoming>,
    uri: &http::Uri,
    limit: usize,
) -> Result<http::Response<Vec<u8>>, Error> {
    let (parts, mut body) = resp.into_parts();
    let too_large = || Error::BodyTooLarge { limit };
    let hint = body.size_hint();
    if hint.lower() > limit as u64 {
        return Err(too_large());
    }
    let expected = hint.exact().map_or(0, |n| n as usize);
    let mut bytes = Vec::with_capacity(expected.min(limit));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| body_error(Box::new(e), target_of(uri)))?;
        // Trailers are dropped, as before.
        if let Ok(data) = frame.into_data() {
            if data.len() > limit - bytes.len() {
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(http::Response::from_parts(parts, bytes))
}

/// An error of hyper-util's client: opening the connection, or on it.
fn map_client_error(
    err: hyper_util::client::legacy::Error,
    target: String,
    connect_timeout: Duration,
) -> Error {
    if err.is_connect() {
        connect_error(Box::new(err), target, connect_timeout)
    } else {
        body_error(Box::new(err), target)
    }
}

/// An error while opening a connection (TCP connect, TLS handshake).
fn connect_error(err: BoxError, target: String, connect_timeout: Duration) -> Error {
    match classify(&*err) {
        Cause::Tls => Error::Tls {
            target: Some(target),
            source: err,
        },
        Cause::TimedOut => Error::Timeout {
            after: connect_timeout,
        },
        Cause::Io | Cause::Other => Error::Connect {
            target,
            source: err,
        },
    }
}

/// An error while sending or receiving on an open connection.
fn body_error(err: BoxError, target: String) -> Error {
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
