//! The facade's error: the core's error or the transport's, keeping both.

use std::fmt;

/// An error from a presence call: either the protocol layer ([`presence_core::Error`]:
/// invalid input, a service error, a malformed body…) or the transport (connect, timeout,
/// TLS, body too large…).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<TE> {
    /// Invalid input, a service error or an unreadable response.
    Core(presence_core::Error),
    /// The request did not complete.
    Transport(TE),
}

impl<TE> Error<TE> {
    /// `transport`, or the core error's kind (`invalid_input`, `service`,
    /// `unexpected_status`, `malformed_response`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Core(e) => e.kind(),
            Error::Transport(_) => "transport",
        }
    }

    /// The core error, if this is one.
    pub fn core(&self) -> Option<&presence_core::Error> {
        match self {
            Error::Core(e) => Some(e),
            Error::Transport(_) => None,
        }
    }

    /// The service error (status, message, service, channels), if this is one.
    pub fn service_error(&self) -> Option<&presence_core::ServiceError> {
        self.core().and_then(presence_core::Error::service_error)
    }

    /// The HTTP or body status, for service errors and unexpected statuses.
    pub fn status(&self) -> Option<u16> {
        self.core().and_then(presence_core::Error::status)
    }

    /// The transport error, if this is one.
    pub fn transport(&self) -> Option<&TE> {
        match self {
            Error::Transport(e) => Some(e),
            Error::Core(_) => None,
        }
    }
}

impl<TE> From<presence_core::Error> for Error<TE> {
    fn from(e: presence_core::Error) -> Self {
        Error::Core(e)
    }
}

impl<TE: fmt::Display> fmt::Display for Error<TE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Core(e) => e.fmt(f),
            Error::Transport(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl<TE: std::error::Error + 'static> std::error::Error for Error<TE> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Core(e) => Some(e),
            Error::Transport(e) => Some(e),
        }
    }
}
