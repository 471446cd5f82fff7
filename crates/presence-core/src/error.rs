//! The crate's one error type.

use std::fmt;

/// A response body kept for diagnosis. `Debug` prints it as (lossy, truncated) text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RawBody(pub Vec<u8>);

impl RawBody {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for RawBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 256;
        let shown = &self.0[..self.0.len().min(MAX)];
        write!(f, "{:?}", String::from_utf8_lossy(shown))?;
        if self.0.len() > MAX {
            write!(f, "…(+{} bytes)", self.0.len() - MAX)?;
        }
        Ok(())
    }
}

/// An error reported by the service: an HTTP error status with a JSON error body, or a
/// "false 200" (HTTP 200 whose body says `status` >= 400 or `error` is truthy,
/// PROTOCOL.md §10.7).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    /// The status: the body's `status` when it is an error status, else the HTTP status.
    pub status: u16,
    /// The HTTP status the response actually had.
    pub http_status: u16,
    /// `message` (or `error_message`, or `error.message`) from the body.
    pub message: String,
    /// `service` from the body (`Presence`, `Access Manager`, `Balancer`…).
    pub service: Option<String>,
    /// Channels named in an Access Manager `payload.channels`.
    pub channels: Vec<String>,
    /// Channel groups named in an Access Manager `payload["channel-groups"]`.
    pub channel_groups: Vec<String>,
    /// Seconds from a `Retry-After` header, if any.
    pub retry_after: Option<u64>,
    /// The raw body.
    pub body: RawBody,
}

/// Whether a response with this status (HTTP or body) is worth trying again later:
/// 408 (request timeout), 429 (rate limited; honour `Retry-After`) and every 5xx. Other
/// statuses (400, 402, 403, 404…) fail the same way again.
///
/// ```
/// assert!(presence_core::is_retryable_status(503));
/// assert!(!presence_core::is_retryable_status(403));
/// ```
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The kinds of error, for callers (and the `presence` command's JSON `kind`) that
/// branch on what went wrong rather than on a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An input was rejected before any request was built ([`Error::InvalidInput`]).
    InvalidInput,
    /// The service answered with an error ([`Error::Service`]).
    Service,
    /// An error status without a readable error body ([`Error::UnexpectedStatus`]).
    UnexpectedStatus,
    /// A success status with an unreadable body ([`Error::MalformedResponse`]).
    MalformedResponse,
    /// The request did not complete (a transport failure: connect, timeout, TLS, I/O).
    Transport,
}

impl ErrorKind {
    /// The stable snake_case name: `invalid_input`, `service`, `unexpected_status`,
    /// `malformed_response`, `transport`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Service => "service",
            ErrorKind::UnexpectedStatus => "unexpected_status",
            ErrorKind::MalformedResponse => "malformed_response",
            ErrorKind::Transport => "transport",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong turning an operation into a request or a response into a
/// result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An input was rejected before any request was built.
    InvalidInput {
        /// The offending field (`channels`, `limit`, `state`…).
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The service answered with an error (including a "false 200").
    Service(Box<ServiceError>),
    /// An HTTP status that is not a success and carries no JSON error body.
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// The raw body.
        body: RawBody,
    },
    /// A success status whose body is not what the operation expects.
    MalformedResponse {
        /// What was expected (`here now body`…).
        expected: &'static str,
        /// Where and how parsing failed.
        detail: String,
        /// The raw body.
        body: RawBody,
    },
}

impl Error {
    /// An [`Error::InvalidInput`] for `field`.
    pub fn invalid_input(field: &'static str, reason: impl Into<String>) -> Self {
        Self::invalid(field, reason)
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(
        expected: &'static str,
        detail: impl Into<String>,
        body: &[u8],
    ) -> Self {
        Error::MalformedResponse {
            expected,
            detail: detail.into(),
            body: RawBody(body.to_vec()),
        }
    }

    /// What kind of error this is.
    ///
    /// ```
    /// use presence_core::{Error, ErrorKind};
    /// let e = Error::invalid_input("limit", "0 is outside 1..=1000");
    /// assert_eq!(e.kind(), ErrorKind::InvalidInput);
    /// assert_eq!(e.kind().as_str(), "invalid_input");
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::Service(_) => ErrorKind::Service,
            Error::UnexpectedStatus { .. } => ErrorKind::UnexpectedStatus,
            Error::MalformedResponse { .. } => ErrorKind::MalformedResponse,
        }
    }

    /// The status of a service error or unexpected status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service(e) => Some(e.status),
            Error::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service error, if this is one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Error::Service(e) => Some(e),
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed: a 408, a 429 or a 5xx
    /// (the one rule the engines, the facade's error and this share, see
    /// [`is_retryable_status`]).
    pub fn is_retryable(&self) -> bool {
        self.status().is_some_and(is_retryable_status)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput { field, reason } => write!(f, "invalid `{field}`: {reason}"),
            Error::Service(e) => {
                write!(
                    f,
                    "{} error {}: {}",
                    e.service.as_deref().unwrap_or("service"),
                    e.status,
                    e.message
                )?;
                if !e.channels.is_empty() {
                    write!(f, " (channels: {})", e.channels.join(", "))?;
                }
                if !e.channel_groups.is_empty() {
                    write!(f, " (channel groups: {})", e.channel_groups.join(", "))?;
                }
                Ok(())
            }
            Error::UnexpectedStatus { status, body } => {
                write!(
                    f,
                    "unexpected HTTP status {status} ({} byte body)",
                    body.0.len()
                )
            }
            Error::MalformedResponse {
                expected, detail, ..
            } => write!(f, "malformed {expected}: {detail}"),
        }
    }
}

impl std::error::Error for Error {}
