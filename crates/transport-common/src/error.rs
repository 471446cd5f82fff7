//! The one error type of both transports.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// A boxed error from the HTTP stack, kept as the [`source`](StdError::source)
/// of an [`Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a request could not produce an `http::Response`.
///
/// HTTP status codes are **not** errors: a 403 or a 500 is an `Ok` response
/// with its body intact. Every variant here means that no complete response
/// was received.
///
/// Messages never contain a request's path or query string (they may carry
/// an auth token): where a target is named, it is only `scheme://host:port`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be sent as given: its URI lacks a scheme or a host,
    /// its scheme is neither `http` nor `https`, its method is `CONNECT`, or it
    /// has a body with a method that allows none (`HEAD`).
    /// Nothing was sent; retrying the same request will fail the same way.
    InvalidRequest {
        /// What is wrong with the request.
        reason: String,
    },
    /// No connection could be made: DNS resolution failed or the peer
    /// refused or was unreachable. Nothing was sent, so retrying is safe.
    Connect {
        /// `scheme://host:port` of the request.
        target: String,
        /// The underlying error.
        source: BoxError,
    },
    /// The TLS handshake or TLS record layer failed (bad certificate,
    /// protocol mismatch, a peer that does not speak TLS…), or the TLS
    /// configuration could not be built (then `target` is `None`).
    Tls {
        /// `scheme://host:port` of the request, when there was one.
        target: Option<String>,
        /// The underlying error.
        source: BoxError,
    },
    /// The request did not complete in time.
    ///
    /// Either the overall request timeout (connecting, sending and reading
    /// the full body) or the connect timeout elapsed; `after` is the bound
    /// that fired.
    Timeout {
        /// The bound that elapsed.
        after: Duration,
    },
    /// The response body is larger than the configured maximum.
    BodyTooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
    /// An I/O error after the connection was made (for example the
    /// connection was reset while the response was being read).
    Io {
        /// `scheme://host:port` of the request.
        target: String,
        /// The underlying error; its chain contains a [`std::io::Error`].
        source: BoxError,
    },
    /// The peer broke the HTTP/1.1 protocol (malformed response, oversized
    /// response head, a gzip body that does not decode, connection closed
    /// before a complete response…).
    Http {
        /// `scheme://host:port` of the request.
        target: String,
        /// The underlying error.
        source: BoxError,
    },
    /// An async transport was called outside of the runtime it needs
    /// (transport-hyper: outside a Tokio runtime).
    NoRuntime,
}

impl Error {
    /// True for [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True for [`Error::Connect`]: no connection could be made, so the
    /// request was not sent.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// An [`Error::InvalidRequest`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidRequest {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRequest { reason } => write!(f, "invalid request: {reason}"),
            Error::Connect { target, .. } => write!(f, "could not connect to {target}"),
            Error::Tls {
                target: Some(target),
                ..
            } => write!(f, "TLS error with {target}"),
            Error::Tls { target: None, .. } => f.write_str("TLS configuration error"),
            Error::Timeout { after } => write!(f, "request timed out after {after:?}"),
            Error::BodyTooLarge { limit } => {
                write!(f, "response body exceeds the limit of {limit} bytes")
            }
            Error::Io { target, .. } => write!(f, "I/O error talking to {target}"),
            Error::Http { target, .. } => write!(f, "HTTP protocol error talking to {target}"),
            Error::NoRuntime => f.write_str("called outside of a Tokio runtime"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Connect { source, .. }
            | Error::Tls { source, .. }
            | Error::Io { source, .. }
            | Error::Http { source, .. } => Some(&**source as &(dyn StdError + 'static)),
            Error::InvalidRequest { .. }
            | Error::Timeout { .. }
            | Error::BodyTooLarge { .. }
            | Error::NoRuntime => None,
        }
    }
}
