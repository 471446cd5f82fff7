//! The facade's errors: [`Error`] for a call (the core's error or the transport's,
//! keeping both), and [`StartError`] for a background loop that could not start.

use crate::transport::TransportError;
use presence_core::{ErrorKind, Failure};
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
    /// What kind of error: the core error's kind, or [`ErrorKind::Transport`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Core(e) => e.kind(),
            Error::Transport(_) => ErrorKind::Transport,
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

impl<TE: TransportError> Error<TE> {
    /// Whether trying the same call again later may help, by the rule the engines use
    /// ([`Failure::is_retryable`]): a 408, 429 or 5xx answer, or a transport failure
    /// other than an invalid request, a body over the limit or TLS.
    pub fn is_retryable(&self) -> bool {
        self.to_failure().is_retryable()
    }

    /// The error as the engines see it.
    pub fn to_failure(&self) -> Failure {
        match self {
            Error::Core(e) => Failure::Response(e.clone()),
            Error::Transport(e) => Failure::Transport(e.to_failure()),
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

/// A heartbeat loop or a watch that could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The async client's loops need an executor: none was given with
    /// `ClientBuilder::runtime`, and this was not called from a Tokio runtime.
    NoRuntime,
    /// The blocking client's loop thread could not be spawned.
    Thread(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NoRuntime => f.write_str(
                "no runtime for the loop: set ClientBuilder::runtime, or call from a Tokio runtime",
            ),
            StartError::Thread(e) => write!(f, "cannot spawn the loop's thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Thread(e) => Some(e),
            StartError::NoRuntime => None,
        }
    }
}
