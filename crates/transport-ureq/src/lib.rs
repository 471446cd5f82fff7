//! Blocking HTTP executor for the presence SDK, on ureq 3 + rustls.
//!
//! [`UreqTransport`] takes a fully built `http::Request<Vec<u8>>` (absolute
//! URI with scheme and authority, method, headers, body) and returns the
//! `http::Response<Vec<u8>>` with its status, headers and whole body. It
//! knows nothing about presence: building requests and parsing responses is
//! the core's job.
//!
//! * **Every status is a response.** A 403 or a 500 comes back as `Ok` with
//!   its body intact (ureq's `http_status_as_error` is off), so error bodies
//!   reach the protocol parser. [`Error`] only means that no complete
//!   response was received.
//! * **No redirects** are followed: a 3xx is returned as it is.
//! * **The head is the caller's** plus `Host` and `Accept-Encoding: gzip`: ureq's
//!   own `User-Agent` and `Accept` are off, and a GET or HEAD without a body carries
//!   no `Content-Length: 0`, as with the hyper transport.
//! * **Bounded.** One overall timeout covers connecting, sending and reading
//!   the whole body ([`Builder::request_timeout`], overridable per call with
//!   [`UreqTransport::execute_with_timeout`] for long-polls); a separate
//!   connect timeout; a maximum body size ([`Builder::max_body_size`]). The
//!   sockets' own read and write timeouts follow the overall one in 10 ms steps (so
//!   requests on a reused connection that start with the same budget and are
//!   answered within a step need no `setsockopt` each): a stalled read fails less
//!   than 10 ms after the overall timeout.
//! * **Pooled.** One ureq `Agent` with a keep-alive pool; clones of a
//!   [`UreqTransport`] share it. The host name is looked up only when a new
//!   connection is opened, not for a request that reuses a pooled one.
//! * **TLS** by rustls (ring) with the bundled Mozilla roots.
//! * **gzip.** `Accept-Encoding: gzip` is sent and a gzip body is decoded
//!   transparently (ureq then drops `Content-Encoding` and `Content-Length`
//!   from the returned head). The size limit applies to the decoded body.
//! * **No proxy.** Proxy environment variables are ignored, as in the hyper
//!   transport.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use transport_ureq::UreqTransport;
//!
//! # fn run() -> Result<(), transport_ureq::Error> {
//! let transport = UreqTransport::builder()
//!     .request_timeout(Duration::from_secs(10))
//!     .build();
//!
//! let req = http::Request::get("https://ps.pndsn.com/time/0")
//!     .body(Vec::new())
//!     .expect("valid request");
//! let resp = transport.execute(req)?;
//! println!("{} {}", resp.status(), String::from_utf8_lossy(resp.body()));
//!
//! // A long-poll may wait longer than the default bound.
//! let req = http::Request::get("https://ps.pndsn.com/time/0")
//!     .body(Vec::new())
//!     .expect("valid request");
//! let _ = transport.execute_with_timeout(req, Duration::from_secs(320))?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dns;
mod steps;

use std::io::{self, Read as _};
use std::time::Duration;

use http::{Method, Version};
use ureq::config::AutoHeaderValue;
use ureq::{Agent, RequestExt};

use transport_common::{check_request, classify, set_host_header, target_of, Cause};
pub use transport_common::{BoxError, Error};

pub use transport_common::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_POOL_MAX_IDLE_PER_HOST, DEFAULT_REQUEST_TIMEOUT,
};

transport_common::builder!(
    UreqTransport,
    connect = "Bound on establishing a new connection, name lookup and TLS included (default 10 s).",
    body = "Largest (decoded) response body accepted, in bytes (default 8 MiB); a larger one fails with [`Error::BodyTooLarge`]."
);

impl Builder {
    /// Build the transport. Infallible: TLS is set up lazily on the first
    /// `https` request.
    pub fn build(self) -> UreqTransport {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .no_delay(true)
            // No `User-Agent: ureq/…` and no `Accept: */*`: the same head as the hyper
            // transport (the SDK names itself in the `pnsdk` query parameter, and the
            // service reads neither header), and two header lines fewer to build,
            // write and parse per request.
            .user_agent(AutoHeaderValue::None)
            .accept(AutoHeaderValue::None)
            .timeout_global(Some(self.limits.request_timeout))
            .timeout_connect(Some(self.limits.connect_timeout))
            .max_idle_age(self.limits.pool_idle_timeout)
            .max_idle_connections_per_host(self.limits.pool_max_idle_per_host)
            .max_idle_connections(self.limits.pool_max_idle_per_host.max(10))
            .build();
        UreqTransport {
            // Resolve names only for new connections, not on every request
            // (see `dns`).
            agent: Agent::with_parts(
                config,
                dns::ResolvingConnector::default(),
                dns::DeferredResolver,
            ),
            settings: self,
        }
    }
}

/// Blocking executor of `http::Request<Vec<u8>>` over one pooled ureq
/// [`Agent`].
///
/// Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: Agent,
    settings: Builder,
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqTransport {
    /// A transport with the default settings (see [`Builder`]).
    pub fn new() -> Self {
        Builder::default().build()
    }

    /// Start configuring a transport.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A transport with the same settings and a connection pool of its own, so
    /// that [`shutdown`](Self::shutdown) on it interrupts only its own requests
    /// (the presence SDK runs each blocking watcher's long-polls on one).
    pub fn detached(&self) -> UreqTransport {
        self.settings.clone().build()
    }

    /// Closes every connection of this transport's pool, clones included: a
    /// request blocked on a socket on another thread fails at once with
    /// [`Error::Io`] instead of waiting for its timeout, and later requests
    /// fail too. Use it on a [`detached`](Self::detached) transport to cancel
    /// a long-poll.
    pub fn shutdown(&self) {
        self.agent.clone().shutdown();
    }

    /// Send `req` and read the whole response, bounded by the configured
    /// request timeout.
    ///
    /// Any status (2xx, 3xx, 403, 500…) is `Ok`. See [`Error`] for the
    /// failures.
    pub fn execute(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, Error> {
        self.run(req, None)
    }

    /// Like [`execute`](Self::execute) with `timeout` as the overall bound
    /// for this call only, e.g. for a long-poll that the server holds open.
    pub fn execute_with_timeout(
        &self,
        req: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        self.run(req, Some(timeout))
    }

    fn run(
        &self,
        mut req: http::Request<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        check_request(&req)?;
        // HTTP/1.1 is the only protocol ureq speaks.
        *req.version_mut() = Version::HTTP_11;
        // For the Host header, and for errors (`scheme://host:port` is formatted only
        // when one happens).
        let uri = req.uri().clone();
        set_host_header(req.headers_mut(), &uri);

        let overall = timeout.unwrap_or(self.settings.limits.request_timeout);
        let map = |e| map_error(e, target_of(&uri), overall, &self.settings);
        // A GET or HEAD without a body goes as one (`()`): ureq then sends no
        // `Content-Length: 0`, as hyper does not, and skips forcing a body on it. Any
        // other request keeps its body, an empty one included (a POST still says 0).
        let bodiless = req.body().is_empty() && matches!(*req.method(), Method::GET | Method::HEAD);
        let resp = if bodiless {
            self.send(req.map(|_| ()), timeout)
        } else {
            self.send(req, timeout)
        }
        .map_err(map)?;

        let (parts, mut body) = resp.into_parts();
        let limit = self.settings.limits.max_body_size;
        // Into one `Vec` sized from the `Content-Length` (at most the limit): ureq's
        // `read_to_vec` starts from an empty one, and each of its growth steps is
        // another read through ureq's reader layers (about 3 000 instructions on a
        // 1 kB body, docs/PERFORMANCE.md).
        let expected = body
            .content_length()
            .map_or(0, |n| usize::try_from(n).map_or(limit, |n| n.min(limit)));
        let mut bytes = Vec::with_capacity(expected);
        body.with_config()
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .reader()
            .read_to_end(&mut bytes)
            // The limit's error comes back as the `ureq::Error` it wraps.
            .map_err(|e| map(ureq::Error::from(e)))?;
        Ok(http::Response::from_parts(parts, bytes))
    }

    /// One request on the agent, under `timeout` instead of the configured bound when
    /// given.
    fn send(
        &self,
        req: http::Request<impl ureq::AsSendBody>,
        timeout: Option<Duration>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        match timeout {
            None => self.agent.run(req),
            Some(t) => req
                .with_agent(&self.agent)
                .configure()
                .timeout_global(Some(t))
                .run(),
        }
    }
}

/// Map a ureq error. `overall` is the global timeout in force for the call.
fn map_error(err: ureq::Error, target: String, overall: Duration, settings: &Builder) -> Error {
    use ureq::Error as U;

    match err {
        U::Timeout(ureq::Timeout::Connect) => Error::Timeout {
            after: settings.limits.connect_timeout,
        },
        U::Timeout(_) => Error::Timeout { after: overall },
        U::BodyExceedsLimit(_) => Error::BodyTooLarge {
            limit: settings.limits.max_body_size,
        },
        U::Io(io) => map_io(io, target),
        U::HostNotFound | U::ConnectionFailed | U::InvalidProxyUrl | U::ConnectProxyFailed(_) => {
            Error::Connect {
                target,
                source: Box::new(err),
            }
        }
        U::Tls(_) | U::Rustls(_) | U::Pem(_) | U::TlsRequired => Error::Tls {
            target: Some(target),
            source: Box::new(err),
        },
        // The name lookup failed (see `dns`): told by its type, not by its message.
        U::Other(e) if e.is::<dns::LookupFailed>() => Error::Connect { target, source: e },
        U::Http(e) => Error::invalid(format!("rejected by the HTTP layer: {e}")),
        // These carry the URI as a string: never keep them as a source.
        U::BadUri(_) => Error::invalid("the URI was rejected"),
        U::RequireHttpsOnly(_) => Error::invalid("only https is allowed"),
        // Protocol, oversized head, broken gzip, unexpected redirect errors…
        other => Error::Http {
            target,
            source: Box::new(other),
        },
    }
}

fn map_io(io: io::Error, target: String) -> Error {
    if classify(&io) == Cause::Tls {
        return Error::Tls {
            target: Some(target),
            source: Box::new(io),
        };
    }
    let connect = matches!(
        io.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::AddrNotAvailable
    );
    let source = Box::new(io);
    if connect {
        Error::Connect { target, source }
    } else {
        Error::Io { target, source }
    }
}
