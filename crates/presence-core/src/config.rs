//! Client configuration as plain data: keysets, the named keyset store, the user id,
//! the auth token and the origin.
//!
//! Secrets (the secret key and the auth token) are held in [`Secret`], whose `Debug`
//! prints `<redacted>`; no `Display` of any type in this crate prints them.

use crate::Error;
use std::collections::BTreeMap;
use std::fmt;

/// Longest channel, channel-group or user id accepted, in characters (PubNub's documented
/// limit for channel names is 92 UTF-16 code units; we count `char`s).
pub const MAX_NAME_CHARS: usize = 92;

/// A string that must never be printed: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call this only where it is needed (signing, the `auth` parameter).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A keyset: subscribe key (required), publish key and secret key (optional).
///
/// With a secret key every request is signed (PROTOCOL.md §6): it carries `timestamp`
/// and `signature`; the secret itself is never sent.
///
/// ```
/// use presence_core::Keyset;
/// let ks = Keyset::new("sub-c-1").with_publish_key("pub-c-1").with_secret_key("sec-c-1");
/// assert!(ks.has_secret_key());
/// assert!(!format!("{ks:?}").contains("sec-c-1"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Keyset {
    subscribe_key: String,
    publish_key: Option<String>,
    secret_key: Option<Secret>,
}

impl Keyset {
    /// A keyset with only a subscribe key.
    pub fn new(subscribe_key: impl Into<String>) -> Self {
        Self {
            subscribe_key: subscribe_key.into(),
            publish_key: None,
            secret_key: None,
        }
    }

    /// Sets the publish key (part of the signed string when a secret key is set).
    pub fn with_publish_key(mut self, publish_key: impl Into<String>) -> Self {
        self.publish_key = Some(publish_key.into());
        self
    }

    /// Sets the secret key: requests are then signed.
    pub fn with_secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(Secret::new(secret_key));
        self
    }

    /// The subscribe key.
    pub fn subscribe_key(&self) -> &str {
        &self.subscribe_key
    }

    /// The publish key, if any.
    pub fn publish_key(&self) -> Option<&str> {
        self.publish_key.as_deref()
    }

    /// The secret key, if any (use only to sign).
    pub fn secret_key(&self) -> Option<&Secret> {
        self.secret_key.as_ref()
    }

    /// Whether requests made with this keyset are signed.
    pub fn has_secret_key(&self) -> bool {
        self.secret_key.is_some()
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.subscribe_key.trim().is_empty() {
            return Err(Error::invalid("subscribe_key", "must not be empty"));
        }
        Ok(())
    }
}

impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyset")
            .field("subscribe_key", &self.subscribe_key)
            .field("publish_key", &self.publish_key)
            .field("secret_key", &self.secret_key)
            .finish()
    }
}

/// The default keyset plus named ones, as Dart's `keyset:` / `using:` do.
///
/// ```
/// use presence_core::{Keyset, KeysetStore};
/// let store = KeysetStore::new(Keyset::new("sub-a")).with("other", Keyset::new("sub-b"));
/// assert_eq!(store.get("other").unwrap().subscribe_key(), "sub-b");
/// assert_eq!(store.default_keyset().subscribe_key(), "sub-a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetStore {
    default: Keyset,
    named: BTreeMap<String, Keyset>,
}

impl KeysetStore {
    /// A store whose default keyset is `default`.
    pub fn new(default: Keyset) -> Self {
        Self {
            default,
            named: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a named keyset.
    pub fn with(mut self, name: impl Into<String>, keyset: Keyset) -> Self {
        self.insert(name, keyset);
        self
    }

    /// Adds (or replaces) a named keyset, returning the previous one.
    pub fn insert(&mut self, name: impl Into<String>, keyset: Keyset) -> Option<Keyset> {
        self.named.insert(name.into(), keyset)
    }

    /// The keyset named `name`.
    pub fn get(&self, name: &str) -> Option<&Keyset> {
        self.named.get(name)
    }

    /// The default keyset.
    pub fn default_keyset(&self) -> &Keyset {
        &self.default
    }

    /// Names of the named keysets, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named.keys().map(String::as_str)
    }
}

/// A validated user id (PubNub's `uuid`): not empty, not only whitespace, at most
/// [`MAX_NAME_CHARS`] characters.
///
/// ```
/// use presence_core::UserId;
/// assert!(UserId::new("user-1").is_ok());
/// assert!(UserId::new("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Validates and wraps a user id.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = value.into();
        validate_user_id("user_id", &value)?;
        Ok(Self(value))
    }

    /// The user id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn validate_user_id(field: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Where requests go: scheme plus authority (`https://ps.pndsn.com` by default).
///
/// Any `http://host:port` is accepted so tests can point at the emulator.
///
/// ```
/// use presence_core::Origin;
/// assert_eq!(Origin::default().to_string(), "https://ps.pndsn.com");
/// assert_eq!(Origin::parse("http://127.0.0.1:8090").unwrap().to_string(), "http://127.0.0.1:8090");
/// assert_eq!(Origin::parse("ps.pndsn.com").unwrap().to_string(), "https://ps.pndsn.com");
/// assert!(Origin::parse("ftp://x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Origin {
    /// Parses `scheme://host[:port]` (or a bare host, meaning https).
    pub fn parse(origin: &str) -> Result<Self, Error> {
        let origin = origin.trim().trim_end_matches('/');
        let (scheme, rest) = match origin.split_once("://") {
            Some(("http", rest)) => (http::uri::Scheme::HTTP, rest),
            Some(("https", rest)) => (http::uri::Scheme::HTTPS, rest),
            Some((other, _)) => {
                return Err(Error::invalid(
                    "origin",
                    format!("unsupported scheme `{other}` (use http or https)"),
                ))
            }
            None => (http::uri::Scheme::HTTPS, origin),
        };
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return Err(Error::invalid(
                "origin",
                "expected scheme://host[:port] with no path, query or user info",
            ));
        }
        let authority = rest
            .parse::<http::uri::Authority>()
            .map_err(|e| Error::invalid("origin", format!("invalid host: {e}")))?;
        Ok(Self { scheme, authority })
    }

    /// The scheme.
    pub fn scheme(&self) -> &http::uri::Scheme {
        &self.scheme
    }

    /// Host and optional port.
    pub fn authority(&self) -> &http::uri::Authority {
        &self.authority
    }
}

impl Default for Origin {
    fn default() -> Self {
        Self {
            scheme: http::uri::Scheme::HTTPS,
            authority: http::uri::Authority::from_static("ps.pndsn.com"),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

impl std::str::FromStr for Origin {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// Default `pnsdk` value: this SDK's name and version.
pub const DEFAULT_PNSDK: &str = concat!("PubNub-Rust-Presence/", env!("CARGO_PKG_VERSION"));

/// Everything a request needs besides the operation itself.
///
/// ```
/// use presence_core::{Config, Keyset, UserId};
/// let config = Config::new(Keyset::new("demo"), UserId::new("me").unwrap())
///     .with_auth_token("token-123")
///     .with_named_keyset("eu", Keyset::new("sub-eu"));
/// assert!(!format!("{config:?}").contains("token-123"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Default and named keysets.
    pub keysets: KeysetStore,
    /// The requesting user (`uuid` on every request).
    pub user_id: UserId,
    /// Access Manager token or auth key (`auth` on every request); redacted in `Debug`.
    pub auth_token: Option<Secret>,
    /// Where requests go.
    pub origin: Origin,
    /// The `pnsdk` value.
    pub pnsdk: String,
}

impl Config {
    /// A configuration with the default origin and `pnsdk`.
    pub fn new(keyset: Keyset, user_id: UserId) -> Self {
        Self {
            keysets: KeysetStore::new(keyset),
            user_id,
            auth_token: None,
            origin: Origin::default(),
            pnsdk: DEFAULT_PNSDK.to_owned(),
        }
    }

    /// Sets the origin.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Sets the auth token sent as `auth`.
    pub fn with_auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(Secret::new(token));
        self
    }

    /// Adds a named keyset for per-operation `.using(name)`.
    pub fn with_named_keyset(mut self, name: impl Into<String>, keyset: Keyset) -> Self {
        self.keysets.insert(name, keyset);
        self
    }

    /// Sets the `pnsdk` value.
    pub fn with_pnsdk(mut self, pnsdk: impl Into<String>) -> Self {
        self.pnsdk = pnsdk.into();
        self
    }
}
