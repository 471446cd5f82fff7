//! What the presence SDK's two HTTP executors (`transport-hyper`, `transport-ureq`)
//! share, so that neither repeats the other:
//!
//! * [`Limits`]: the timeouts, body-size limit and pool settings both builders take,
//!   with the same defaults, and [`limits_setters!`] for their builder methods;
//! * [`Error`]: the one error type both transports return;
//! * [`classify`]: what an error chain from the HTTP stack says about the failure
//!   ([`Cause`]), looking inside `io::Error` payloads.
//!
//! ```
//! use transport_common::{classify, Cause, Limits};
//! let err = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
//! assert_eq!(classify(&err), Cause::TimedOut);
//! assert_eq!(Limits::default().max_body_size, 8 * 1024 * 1024);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;

pub use error::{BoxError, Error};

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default overall request timeout (connect, send and body read).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default maximum response body size: 8 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 8 * 1024 * 1024;
/// Default time an idle pooled connection is kept.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default maximum number of idle pooled connections per host: 64, so that up to 64
/// requests in flight at a time reuse their connections (with 8, concurrency 64 on
/// HTTP/1.1 closed and reopened connections all the time: docs/PERFORMANCE.md).
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 64;

/// The settings both transports take; each transport's `Builder` holds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bound on establishing a new connection.
    pub connect_timeout: Duration,
    /// Bound on one whole request, body included.
    pub request_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body_size: usize,
    /// How long an idle keep-alive connection stays in the pool.
    pub pool_idle_timeout: Duration,
    /// Most idle connections kept per host.
    pub pool_max_idle_per_host: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: DEFAULT_POOL_MAX_IDLE_PER_HOST,
        }
    }
}

/// Declares a transport's `Builder`: a struct holding [`Limits`], with the five setters
/// of [`limits_setters!`]. The transport documents what its connect timeout and body
/// limit cover, and adds its own `build`.
#[macro_export]
macro_rules! builder {
    ($transport:ident, connect = $connect_doc:literal, body = $body_doc:literal) => {
        #[doc = concat!(
                            "Settings for a [`", stringify!($transport), "`]; get one from [`",
                            stringify!($transport), "::builder`]."
                        )]
        #[derive(Debug, Clone, Default)]
        #[must_use]
        pub struct Builder {
            limits: $crate::Limits,
        }

        impl Builder {
            $crate::limits_setters!(connect = $connect_doc, body = $body_doc);
        }
    };
}

/// Expands, inside `impl Builder { … }` of a struct with a `limits: Limits` field, to
/// the five setters of [`Limits`]. The transport documents what its connect timeout
/// and body limit cover.
#[macro_export]
macro_rules! limits_setters {
    (connect = $connect_doc:literal, body = $body_doc:literal) => {
        #[doc = $connect_doc]
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.limits.connect_timeout = timeout;
            self
        }

        /// Bound on one whole request: connecting, sending, receiving the head
        /// and reading the full body (default 30 s).
        pub fn request_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.limits.request_timeout = timeout;
            self
        }

        #[doc = $body_doc]
        pub fn max_body_size(mut self, bytes: usize) -> Self {
            self.limits.max_body_size = bytes;
            self
        }

        /// How long an idle keep-alive connection stays in the pool (default 30 s).
        pub fn pool_idle_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.limits.pool_idle_timeout = timeout;
            self
        }

        /// Most idle connections kept per host (default 64).
        pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
            self.limits.pool_max_idle_per_host = max;
            self
        }
    };
}

/// What an error chain says about the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A `rustls::Error` is in the chain.
    Tls,
    /// An `io::Error` of kind `TimedOut` is in the chain (and no TLS error).
    TimedOut,
    /// Another `io::Error` is in the chain.
    Io,
    /// None of these.
    Other,
}

/// Classify an error chain, looking inside `io::Error`s too (their
/// `source()` skips the wrapped error, so `get_ref()` is needed).
pub fn classify(err: &(dyn StdError + 'static)) -> Cause {
    let mut found = Cause::Other;
    visit(err, &mut |e| {
        if e.is::<rustls::Error>() {
            found = Cause::Tls;
            return true;
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::TimedOut && found != Cause::TimedOut {
                found = Cause::TimedOut;
            } else if found == Cause::Other {
                found = Cause::Io;
            }
        }
        false
    });
    found
}

/// Calls `f` on every error in the chain (depth-first into `io::Error`
/// payloads) until it returns true. Bounded depth: never loops forever on a
/// pathological chain.
fn visit(
    err: &(dyn StdError + 'static),
    f: &mut dyn FnMut(&(dyn StdError + 'static)) -> bool,
) -> bool {
    fn go(
        err: &(dyn StdError + 'static),
        f: &mut dyn FnMut(&(dyn StdError + 'static)) -> bool,
        depth: usize,
    ) -> bool {
        let mut cur = Some(err);
        let mut steps = 0;
        while let Some(e) = cur {
            if depth > 8 || steps > 32 {
                return false;
            }
            if f(e) {
                return true;
            }
            if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
                if go(inner, f, depth + 1) {
                    return true;
                }
            }
            cur = e.source();
            steps += 1;
        }
        false
    }
    go(err, f, 0)
}

/// Checks that a request can be sent: an `http` or `https` URI with a host, not
/// `CONNECT`, and no body on a `HEAD`. Anything else is an
/// [`Error::InvalidRequest`] saying what is wrong.
///
/// ```
/// let ok = http::Request::get("http://127.0.0.1:8090/v2/presence").body(Vec::new()).unwrap();
/// assert!(transport_common::check_request(&ok).is_ok());
/// let ftp = http::Request::get("ftp://example.com/").body(Vec::new()).unwrap();
/// assert!(transport_common::check_request(&ftp).unwrap_err().to_string().contains("ftp"));
/// ```
pub fn check_request(request: &http::Request<Vec<u8>>) -> Result<(), Error> {
    let uri = request.uri();
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| Error::invalid("the URI has no scheme"))?;
    if !matches!(scheme, "http" | "https") {
        return Err(Error::invalid(format!(
            "unsupported URI scheme `{scheme}` (only http and https)"
        )));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(Error::invalid("the URI has no host"));
    }
    if request.method() == http::Method::CONNECT {
        return Err(Error::invalid("the CONNECT method is not supported"));
    }
    if request.method() == http::Method::HEAD && !request.body().is_empty() {
        return Err(Error::invalid("a HEAD request cannot have a body"));
    }
    Ok(())
}

/// Sets the `Host` header of an HTTP/1.1 request to `uri` unless the caller set one:
/// the URI's authority as written, without credentials (`user:pass@`); nothing when it
/// has none or it is not a valid header value. Both transports set it themselves:
/// hyper's own connections need it, and it spares ureq and hyper-util formatting
/// `host:port` into a new string per request.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// let uri: http::Uri = "http://user:pw@127.0.0.1:8090/v2/presence".parse().unwrap();
/// transport_common::set_host_header(&mut headers, &uri);
/// assert_eq!(headers["host"], "127.0.0.1:8090");
/// // A caller's own is kept.
/// let uri: http::Uri = "https://ps.pndsn.com/time/0".parse().unwrap();
/// transport_common::set_host_header(&mut headers, &uri);
/// assert_eq!(headers["host"], "127.0.0.1:8090");
/// ```
pub fn set_host_header(headers: &mut http::HeaderMap, uri: &http::Uri) {
    if headers.contains_key(http::header::HOST) {
        return;
    }
    let Some(authority) = uri.authority() else {
        return;
    };
    let text = authority.as_str();
    let host = match text.bytes().rposition(|b| b == b'@') {
        Some(at) => &text[at + 1..],
        None => text,
    };
    if let Ok(host) = http::HeaderValue::from_str(host) {
        headers.insert(http::header::HOST, host);
    }
}

/// `scheme://host:port` of a URI [`check_request`] accepted, for errors: never the path
/// or the query (which carry user ids and signatures). Formatted only when an error
/// needs it.
///
/// ```
/// let uri: http::Uri = "https://ps.example.com/v2/presence?auth=secret".parse().unwrap();
/// assert_eq!(transport_common::target_of(&uri), "https://ps.example.com:443");
/// ```
pub fn target_of(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    format!("{scheme}://{}:{port}", uri.host().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(Box<dyn StdError + 'static>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrap")
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn finds_causes_through_sources_and_io_payloads() {
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(classify(&Wrap(Box::new(tls))), Cause::Tls);
        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "slow");
        assert_eq!(classify(&Wrap(Box::new(timed_out))), Cause::TimedOut);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&Wrap(Box::new(refused))), Cause::Io);
        assert_eq!(classify(&Wrap(Box::new(std::fmt::Error))), Cause::Other);
    }

    #[test]
    fn a_deep_chain_ends() {
        let mut e: Box<dyn StdError + 'static> = Box::new(std::fmt::Error);
        for _ in 0..1000 {
            e = Box::new(Wrap(e));
        }
        assert_eq!(classify(&*e), Cause::Other);
    }
}
