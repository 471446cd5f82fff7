//! Request plumbing shared by every operation: keyset resolution, the common query
//! parameters (`uuid`, `pnsdk`, `requestid`, `auth`, extra parameters), signing and the
//! final `http::Request`.

use crate::config::{Config, Keyset, MAX_NAME_CHARS};
use crate::encoding::{push_encoded, push_list, WIRE};
use crate::error::Error;
use crate::response;
use crate::signature::{canonical_query, sign_v2};
use percent_encoding::AsciiSet;
use std::borrow::Cow;

/// An outgoing request: `GET` with an absolute URI and an empty body.
pub type HttpRequest = http::Request<Vec<u8>>;

/// Per-request values that the core must not invent: the signing time and the request id.
///
/// ```
/// let meta = presence_core::RequestMeta::new(1_700_000_000).with_request_id("6f3c2a8e");
/// assert_eq!(meta.timestamp, 1_700_000_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestMeta {
    /// Unix time in seconds; sent as `timestamp` when the keyset has a secret key.
    pub timestamp: u64,
    /// Sent as `requestid` when set (the official Rust and JS SDKs send a UUID v4).
    pub request_id: Option<String>,
}

impl RequestMeta {
    /// Metadata with the given Unix time in seconds and no request id.
    pub fn new(timestamp: u64) -> Self {
        Self {
            timestamp,
            request_id: None,
        }
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }
}

/// Which keyset an operation uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeysetChoice {
    /// The configuration's default keyset.
    #[default]
    Default,
    /// A named keyset from the configuration's [`KeysetStore`](crate::KeysetStore).
    Named(String),
    /// An explicit keyset.
    Explicit(Keyset),
}

/// Options every operation accepts: keyset override and extra query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallOptions {
    /// The keyset to use.
    pub keyset: KeysetChoice,
    /// Extra query parameters (Go's `QueryParam(map)`), encoded like every other value
    /// and covered by the signature. A key the request already carries is rejected.
    pub query: Vec<(String, String)>,
}

impl CallOptions {
    pub(crate) fn resolve<'a>(&'a self, config: &'a Config) -> Result<&'a Keyset, Error> {
        let keyset = match &self.keyset {
            KeysetChoice::Default => config.keysets.default_keyset(),
            KeysetChoice::Explicit(k) => k,
            KeysetChoice::Named(name) => config.keysets.get(name).ok_or_else(|| {
                Error::invalid(
                    "keyset",
                    format!("no keyset named `{name}` in the configuration"),
                )
            })?,
        };
        keyset.validate()?;
        Ok(keyset)
    }
}

/// A presence operation: builds its request and parses its response.
///
/// Implemented by [`HereNow`](crate::HereNow), [`WhereNow`](crate::WhereNow),
/// [`Heartbeat`](crate::Heartbeat), [`Leave`](crate::Leave),
/// [`SetState`](crate::SetState) and [`GetState`](crate::GetState).
pub trait Operation {
    /// The typed result.
    type Output;

    /// A short name for logs and errors (`here_now`, …).
    const NAME: &'static str;

    /// The keyset choice and extra query parameters.
    fn options(&self) -> &CallOptions;

    /// Mutable access to the options.
    fn options_mut(&mut self) -> &mut CallOptions;

    /// Number of channels and groups (for logs).
    fn channel_count(&self) -> usize {
        0
    }

    /// Validates the input and writes the path and operation-specific query.
    #[doc(hidden)]
    fn encode(&self, target: &Target<'_>, out: &mut RequestParts) -> Result<(), Error>;

    /// Parses a success body (HTTP 2xx, not a "false 200").
    #[doc(hidden)]
    fn parse_body(&self, body: &[u8]) -> Result<Self::Output, crate::response::BodyError>;

    /// Builds the HTTP request.
    ///
    /// ```
    /// use presence_core::{Config, Keyset, UserId, WhereNow, Operation, RequestMeta};
    /// let config = Config::new(Keyset::new("demo"), UserId::new("me").unwrap());
    /// let req = WhereNow::new().to_request(&config, &RequestMeta::new(0)).unwrap();
    /// assert_eq!(req.uri().path(), "/v2/presence/sub-key/demo/uuid/me");
    /// ```
    fn to_request(&self, config: &Config, meta: &RequestMeta) -> Result<HttpRequest, Error>
    where
        Self: Sized,
    {
        build(self, config, meta)
    }

    /// Parses the HTTP response into the typed result or a typed error.
    ///
    /// ```
    /// use presence_core::{WhereNow, Operation};
    /// let body = br#"{"status": 200, "message": "OK", "payload": {"channels": ["a"]}, "service": "Presence"}"#;
    /// let resp = http::Response::new(&body[..]);
    /// assert_eq!(WhereNow::new().parse_response(&resp).unwrap().channels, vec!["a"]);
    /// ```
    fn parse_response<B: AsRef<[u8]>>(
        &self,
        response: &http::Response<B>,
    ) -> Result<Self::Output, Error>
    where
        Self: Sized,
    {
        response::parse(self, response)
    }
}

/// What an operation encodes against: the resolved keyset and the requesting user.
#[doc(hidden)]
#[derive(Debug)]
pub struct Target<'a> {
    /// The resolved keyset.
    pub keyset: &'a Keyset,
    /// The configured user id.
    pub user_id: &'a str,
}

/// A value in the query, kept decoded for signing.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct QueryParam {
    key: Cow<'static, str>,
    value: String,
    /// A comma-separated list whose separators stay raw on the wire.
    list: bool,
}

/// Path and query under construction.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct RequestParts {
    path: String,
    query: Vec<QueryParam>,
}

const WIRE_LIST: &AsciiSet = &WIRE.remove(b',');

impl RequestParts {
    /// Appends a literal path piece (must already be valid in a path).
    pub(crate) fn path_literal(&mut self, s: &str) {
        self.path.push_str(s);
    }

    /// Appends one percent-encoded path segment value.
    pub(crate) fn path_value(&mut self, s: &str) {
        push_encoded(&mut self.path, s, WIRE);
    }

    /// Appends an encoded, comma-joined list (`,` when empty).
    pub(crate) fn path_list(&mut self, names: &[String]) {
        push_list(&mut self.path, names);
    }

    /// The common prefix `/v2/presence/sub-key/{sk}`.
    pub(crate) fn presence_prefix(&mut self, target: &Target<'_>) {
        self.path_literal("/v2/presence/sub-key/");
        self.path_value(target.keyset.subscribe_key());
    }

    /// Adds a query parameter.
    pub(crate) fn query(&mut self, key: &'static str, value: impl Into<String>) {
        self.query.push(QueryParam {
            key: Cow::Borrowed(key),
            value: value.into(),
            list: false,
        });
    }

    /// Adds a comma-separated list parameter, omitted when empty.
    pub(crate) fn query_list(&mut self, key: &'static str, names: &[String]) {
        if !names.is_empty() {
            self.query.push(QueryParam {
                key: Cow::Borrowed(key),
                value: names.join(","),
                list: true,
            });
        }
    }

    fn has(&self, key: &str) -> bool {
        self.query.iter().any(|p| p.key == key)
    }
}

pub(crate) fn build<O: Operation>(
    op: &O,
    config: &Config,
    meta: &RequestMeta,
) -> Result<HttpRequest, Error> {
    let options = op.options();
    let keyset = options.resolve(config)?;
    let target = Target {
        keyset,
        user_id: config.user_id.as_str(),
    };
    let mut parts = RequestParts::default();
    op.encode(&target, &mut parts)?;

    parts.query("uuid", config.user_id.as_str());
    parts.query("pnsdk", config.pnsdk.as_str());
    if let Some(id) = &meta.request_id {
        parts.query("requestid", id.as_str());
    }
    if let Some(token) = &config.auth_token {
        parts.query("auth", token.expose());
    }
    for (key, value) in &options.query {
        if key.is_empty() || parts.has(key) || key == "timestamp" || key == "signature" {
            return Err(Error::invalid(
                "query",
                format!("extra parameter `{key}` is empty or already set by the request"),
            ));
        }
        parts.query.push(QueryParam {
            key: Cow::Owned(key.clone()),
            value: value.clone(),
            list: false,
        });
    }
    if keyset.has_secret_key() {
        parts.query("timestamp", meta.timestamp.to_string());
    }
    parts
        .query
        .sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.value.cmp(&b.value)));

    let mut query = String::with_capacity(
        parts
            .query
            .iter()
            .map(|p| p.key.len() + p.value.len() * 3 + 2)
            .sum::<usize>()
            + 60,
    );
    for (i, p) in parts.query.iter().enumerate() {
        if i > 0 {
            query.push('&');
        }
        push_encoded(&mut query, &p.key, WIRE);
        query.push('=');
        push_encoded(&mut query, &p.value, if p.list { WIRE_LIST } else { WIRE });
    }
    if let Some(secret) = keyset.secret_key() {
        let canonical = canonical_query(
            parts
                .query
                .iter()
                .map(|p| (p.key.as_ref(), p.value.as_str())),
        );
        let signature = sign_v2(
            secret.expose(),
            "GET",
            keyset.publish_key().unwrap_or(""),
            &parts.path,
            &canonical,
            b"",
        );
        query.push_str("&signature=");
        query.push_str(&signature);
    }

    let mut uri = String::with_capacity(
        config.origin.scheme().as_str().len()
            + 3
            + config.origin.authority().as_str().len()
            + parts.path.len()
            + query.len()
            + 1,
    );
    uri.push_str(config.origin.scheme().as_str());
    uri.push_str("://");
    uri.push_str(config.origin.authority().as_str());
    uri.push_str(&parts.path);
    uri.push('?');
    uri.push_str(&query);
    let uri = http::Uri::try_from(uri)
        .map_err(|e| Error::invalid("origin", format!("cannot form a URI: {e}")))?;
    http::Request::builder()
        .method(http::Method::GET)
        .uri(uri)
        .body(Vec::new())
        .map_err(|e| Error::invalid("request", e.to_string()))
}

/// Validates and normalises a list of channel or group names: every name non-empty and
/// at most [`MAX_NAME_CHARS`] characters; duplicates dropped (first kept); sorted when
/// `sort` (heartbeat and leave, as the official SDKs do).
pub(crate) fn names<I, S>(
    field: &'static str,
    names: I,
    forbid_comma: bool,
) -> Result<Vec<String>, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::invalid(field, "a name is empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid(
                field,
                format!("`{name}` is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        if forbid_comma && name.contains(',') {
            return Err(Error::invalid(
                field,
                format!("`{name}` contains `,`, the list separator"),
            ));
        }
        out.push(name);
    }
    // Drop duplicates, keeping the first occurrence: a linear scan for the usual handful
    // of names, a hash set for long lists (the scan is quadratic).
    if out.len() > 16 {
        let mut seen = std::collections::HashSet::with_capacity(out.len());
        let mut unique = Vec::with_capacity(out.len());
        for name in out {
            if !seen.contains(name.as_str()) {
                seen.insert(name.clone());
                unique.push(name);
            }
        }
        return Ok(unique);
    }
    let mut unique: Vec<String> = Vec::with_capacity(out.len());
    for name in out {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    Ok(unique)
}

/// Checks that an operation names at least one channel or group.
pub(crate) fn require_some(channels: &[String], groups: &[String]) -> Result<(), Error> {
    if channels.is_empty() && groups.is_empty() {
        return Err(Error::invalid(
            "channels",
            "at least one channel or channel group is required",
        ));
    }
    Ok(())
}

/// Implements the per-call option setters on an operation type.
macro_rules! call_options {
    ($ty:ty) => {
        impl $ty {
            /// Uses the named keyset from the configuration's keyset store for this call.
            pub fn using(mut self, name: impl Into<String>) -> Self {
                self.options.keyset = $crate::request::KeysetChoice::Named(name.into());
                self
            }

            /// Uses this keyset for this call.
            pub fn keyset(mut self, keyset: $crate::Keyset) -> Self {
                self.options.keyset = $crate::request::KeysetChoice::Explicit(keyset);
                self
            }

            /// Adds an extra query parameter (Go's `QueryParam`); it is encoded and signed
            /// like every other value.
            pub fn query_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
                self.options.query.push((key.into(), value.into()));
                self
            }
        }
    };
}
pub(crate) use call_options;
