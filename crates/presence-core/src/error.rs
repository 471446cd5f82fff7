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

    /// A short stable name of the variant: `invalid_input`, `service`, `unexpected_status`,
    /// `malformed_response`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::Service(_) => "service",
            Error::UnexpectedStatus { .. } => "unexpected_status",
            Error::MalformedResponse { .. } => "malformed_response",
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

    /// Whether trying the same request again later may succeed (429 and 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self.status(), Some(429) | Some(500..=599))
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
