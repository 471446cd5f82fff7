//! [`CliError`]: every failure, with its exit code and its JSON form, and
//! [`Redactor`], which keeps the secret key and the auth key out of everything printed.

use presence::{ErrorKind, Failure};
use serde_json::{json, Value};
use std::fmt::Display;

/// Exit code for service, transport and I/O errors.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code for invalid input and usage errors (clap uses it too).
pub(crate) const EXIT_USAGE: u8 = 2;

/// What kind of failure: the JSON error object's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The command line or environment is incomplete or unreadable.
    Usage,
    /// A local I/O failure.
    Io,
    /// What the SDK reported: invalid input, a service or transport error…
    Presence(ErrorKind),
}

impl Kind {
    /// `usage`, `io`, or the SDK's kind (`invalid_input`, `service`,
    /// `unexpected_status`, `malformed_response`, `transport`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Usage => "usage",
            Kind::Io => "io",
            Kind::Presence(kind) => kind.as_str(),
        }
    }
}

/// A failure, shaped like the JSON error object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliError {
    /// What kind of failure.
    pub(crate) kind: Kind,
    /// The service's or the HTTP status, when there is one.
    pub(crate) status: Option<u16>,
    /// What went wrong.
    pub(crate) message: String,
    /// The service that answered (`Presence`, `Access Manager`…), for service errors.
    pub(crate) service: Option<String>,
    /// Channels the service named (Access Manager denials).
    pub(crate) channels: Vec<String>,
    /// Channel groups the service named.
    pub(crate) groups: Vec<String>,
}

impl CliError {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            message: message.into(),
            service: None,
            channels: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// The command line or environment is incomplete or unreadable (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    /// A value was rejected before any request was sent (exit 2).
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(Kind::Presence(ErrorKind::InvalidInput), message)
    }

    /// A local I/O failure: binding a port, writing output, signals (exit 1).
    pub(crate) fn io(context: impl Display, error: impl Display) -> Self {
        Self::new(Kind::Io, format!("{context}: {error}"))
    }

    /// From the core's error (invalid input, service error, bad response).
    pub(crate) fn from_core(e: &presence::core::Error) -> Self {
        let mut out = Self::new(Kind::Presence(e.kind()), e.to_string());
        out.status = e.status();
        if let Some(service) = e.service_error() {
            out.service = service.service.clone();
            out.channels = service.channels.clone();
            out.groups = service.channel_groups.clone();
        }
        out
    }

    /// From the facade's error, for either transport.
    pub(crate) fn from_facade<TE: presence::transport::TransportError>(
        e: &presence::Error<TE>,
    ) -> Self {
        Self::from_failure(&e.to_failure())
    }

    /// From a failure reported by the heartbeat or watch engine (or a call's error as
    /// the engines see it); a transport failure keeps its chain of causes.
    pub(crate) fn from_failure(f: &Failure) -> Self {
        match f {
            Failure::Response(e) => Self::from_core(e),
            other => Self::new(Kind::Presence(other.kind()), other.to_string()),
        }
    }

    /// 2 for `usage` and `invalid_input`, 1 for everything else.
    pub(crate) fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Usage | Kind::Presence(ErrorKind::InvalidInput) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// The JSON error object.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "kind": self.kind.as_str(),
            "status": self.status,
            "message": self.message,
            "service": self.service,
            "channels": self.channels,
            "groups": self.groups,
        })
    }

    /// What goes to stderr: the JSON object, or `error: message`.
    pub(crate) fn render(&self, json: bool, redactor: &Redactor) -> String {
        let text = if json {
            self.to_json().to_string()
        } else {
            format!("error: {}", self.message)
        };
        redactor.redact(&text)
    }
}

/// Replaces the secret key and the auth key with `***` in text about to be printed.
///
/// The core never puts them in messages (the secret is never sent; the token only
/// travels in the query string, which no error carries), so this is a second line of
/// defence, e.g. against a service that echoes the token in an error body.
#[derive(Debug, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Redacts these values (empty ones are ignored).
    pub(crate) fn new<I: IntoIterator<Item = Option<String>>>(secrets: I) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        // Longest first, so a secret containing another one is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    /// The secret and auth key as found in the environment and the raw arguments, for
    /// errors raised before the arguments were parsed.
    pub(crate) fn from_env_and_args(args: &[String]) -> Self {
        let mut found = vec![
            std::env::var("PRESENCE_SECRET_KEY").ok(),
            std::env::var("PRESENCE_AUTH_KEY").ok(),
        ];
        // `presence emulator`'s keyset secrets (--keyset, --keysets, the environment).
        found.extend(
            presence_emulator::cli::secrets_in(args)
                .into_iter()
                .map(Some),
        );
        for (i, arg) in args.iter().enumerate() {
            for flag in ["--secret-key", "--auth-key"] {
                if arg == flag {
                    found.push(args.get(i + 1).cloned());
                } else if let Some(value) = arg.strip_prefix(flag).and_then(|v| v.strip_prefix('='))
                {
                    found.push(Some(value.to_owned()));
                }
            }
        }
        Self::new(found)
    }

    /// `text` with every secret replaced.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_kind() {
        assert_eq!(CliError::usage("x").exit_code(), 2);
        assert_eq!(CliError::invalid_input("x").exit_code(), 2);
        assert_eq!(CliError::io("x", "y").exit_code(), 1);
        let core = presence::core::Error::invalid_input("limit", "0 is outside 1..=1000");
        let e = CliError::from_core(&core);
        assert_eq!((e.kind.as_str(), e.exit_code()), ("invalid_input", 2));
        let refused = presence::core::TransportFailure::new(
            presence::core::TransportFailureKind::Connect,
            "refused",
        );
        let e = CliError::from_failure(&Failure::Transport(refused));
        assert_eq!((e.kind.as_str(), e.exit_code()), ("transport", 1));
    }

    #[test]
    fn json_error_has_every_field() {
        let v = CliError::usage("missing").to_json();
        for key in ["kind", "status", "message", "service", "channels", "groups"] {
            assert!(v.get(key).is_some(), "{key} in {v}");
        }
    }

    #[test]
    fn redactor_hides_secrets_and_reads_raw_args() {
        let r = Redactor::new([Some("sec-123".into()), None, Some(String::new())]);
        assert_eq!(r.redact("a sec-123 b"), "a *** b");
        let args: Vec<String> = ["presence", "--secret-key", "s1", "--auth-key=t1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = Redactor::from_env_and_args(&args);
        assert_eq!(r.redact("s1 t1"), "*** ***");
    }
}
