//! Request plumbing shared by every operation: keyset resolution, the common query
//! parameters (`uuid`, `pnsdk`, `requestid`, `auth`, extra parameters), signing and the
//! final `http::Request`.

use crate::config::{Config, Keyset, UserId, MAX_NAME_CHARS};
use crate::encoding::{push_encoded, push_list, Set};
use crate::error::Error;
use crate::response;
use crate::signature::{canonical_query, sign_v2};
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

/// Options every operation accepts: keyset override, the acting user and extra query
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallOptions {
    /// The keyset to use.
    pub keyset: KeysetChoice,
    /// The user the request is made as (its `uuid`), instead of the configuration's;
    /// also the default subject of where now and state. The fleet engine sets it.
    pub user_id: Option<UserId>,
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
/// [`SetState`](crate::SetState), [`GetState`](crate::GetState),
/// [`Subscribe`](crate::Subscribe) and the engines' request types. The trait is sealed:
/// only this crate implements it, so the encoding contract can change without a
/// breaking release. Send an operation with any HTTP client ([`to_request`], then
/// [`parse_response`]), or bind it to a client that implements [`Execute`].
///
/// [`to_request`]: Operation::to_request
/// [`parse_response`]: Operation::parse_response
#[allow(private_bounds)] // `sealed::Encode` is crate-private on purpose: the seal.
pub trait Operation:
    sealed::Options + sealed::Encode<Parsed = <Self as Operation>::Output> + Send + Sync
{
    /// The typed result.
    type Output: Send + 'static;

    /// A short name for logs and errors (`here_now`, …).
    const NAME: &'static str;

    /// Number of channels and groups named (for logs).
    fn channel_count(&self) -> usize;

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

/// Something an operation can be executed with: the `presence` facade implements it
/// for `&Client` (an async result) and `&blocking::Client` (a blocking one), and any
/// other client can implement it too. An operation bound to one (`client.here_now()`,
/// or [`HereNow::with_client`](crate::HereNow::with_client)) ends in `execute()`, so
/// the operation's setters are written once, here in the core, for every client.
///
/// ```
/// use presence_core::{Execute, Operation, WhereNow, WhereNowResult};
///
/// /// A client that answers every call from a canned body.
/// #[derive(Clone, Copy)]
/// struct Canned(&'static [u8]);
///
/// impl<O: Operation> Execute<O> for Canned {
///     type Output = Result<O::Output, presence_core::Error>;
///     fn execute(self, op: O) -> Self::Output {
///         op.parse_response(&http::Response::new(self.0))
///     }
/// }
///
/// let client = Canned(br#"{"status": 200, "payload": {"channels": ["lobby"]}}"#);
/// let result: WhereNowResult = WhereNow::with_client(client).user_id("ann").execute().unwrap();
/// assert_eq!(result.channels, ["lobby"]);
/// ```
pub trait Execute<O: Operation> {
    /// What executing gives: a future of the result for an async client, the result
    /// itself for a blocking one.
    type Output;

    /// Sends `op` and parses its response.
    fn execute(self, op: O) -> Self::Output;
}

/// The crate-private half of [`Operation`]: how an operation encodes its request and
/// reads its success body. Outside the crate it can be neither named nor implemented.
pub(crate) mod sealed {
    use super::{CallOptions, RequestParts, Target};
    use crate::response::BodyError;
    use crate::Error;

    /// Where an operation keeps its per-call options (written by `operation_common!`).
    pub(crate) trait Options {
        /// The keyset choice and extra query parameters.
        fn options(&self) -> &CallOptions;
    }

    pub(crate) trait Encode {
        /// What [`parse_body`](Encode::parse_body) gives: `Operation::Output`.
        type Parsed;

        /// Validates the input and writes the path and operation-specific query.
        fn encode<'a>(
            &'a self,
            target: &Target<'a>,
            out: &mut RequestParts<'a>,
        ) -> Result<(), Error>;

        /// Parses a success body (HTTP 2xx, not a "false 200").
        fn parse_body(&self, body: &[u8]) -> Result<Self::Parsed, BodyError>;
    }
}

/// What an operation encodes against: the resolved keyset and the requesting user.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// The resolved keyset.
    pub(crate) keyset: &'a Keyset,
    /// The configured user id.
    pub(crate) user_id: &'a str,
}

/// A value in the query, kept decoded for signing.
#[derive(Debug, Clone)]
struct QueryParam<'a> {
    key: Cow<'a, str>,
    /// Whether the key may need percent-encoding: a caller's extra parameter. The
    /// protocol's own keys are plain (`A-Z a-z 0-9 - _`) and written as they are.
    encode_key: bool,
    value: QueryValue<'a>,
}

/// A query value: one string, or a list whose `,` separators stay raw on the wire.
#[derive(Debug, Clone)]
enum QueryValue<'a> {
    One(Cow<'a, str>),
    List(Vec<Cow<'a, str>>),
    /// A number, written in decimal without an intermediate `String`.
    Num(u64),
}

impl QueryValue<'_> {
    /// The decoded value as the signature sees it (a list joined with `,`).
    fn decoded(&self) -> Cow<'_, str> {
        match self {
            QueryValue::One(v) => Cow::Borrowed(v.as_ref()),
            QueryValue::List(items) => Cow::Owned(items.join(",")),
            QueryValue::Num(n) => Cow::Owned(itoa::Buffer::new().format(*n).to_owned()),
        }
    }
}

/// Path and query under construction. Values borrow from the operation and the
/// configuration; nothing is copied until the final URI is written.
#[derive(Debug, Default)]
pub(crate) struct RequestParts<'a> {
    path: String,
    query: Vec<QueryParam<'a>>,
}

impl<'a> RequestParts<'a> {
    /// Appends a literal path piece (must already be valid in a path).
    pub(crate) fn path_literal(&mut self, s: &str) {
        self.path.push_str(s);
    }

    /// Appends one percent-encoded path segment value.
    pub(crate) fn path_value(&mut self, s: &str) {
        push_encoded(&mut self.path, s, Set::Wire);
    }

    /// Appends an encoded, comma-joined list (`,` when empty).
    pub(crate) fn path_list<S: AsRef<str>>(&mut self, names: &[S]) {
        push_list(&mut self.path, names);
    }

    /// The common prefix `/v2/presence/sub-key/{sk}`.
    pub(crate) fn presence_prefix(&mut self, target: &Target<'_>) {
        self.path_literal("/v2/presence/sub-key/");
        self.path_value(target.keyset.subscribe_key());
    }

    /// Adds a query parameter (`key` is one of the protocol's own, plain keys).
    pub(crate) fn query(&mut self, key: &'static str, value: impl Into<Cow<'a, str>>) {
        self.push_own(key, QueryValue::One(value.into()));
    }

    /// Adds a numeric query parameter.
    pub(crate) fn query_num(&mut self, key: &'static str, value: u64) {
        self.push_own(key, QueryValue::Num(value));
    }

    /// Adds a parameter of the protocol's own (`key` has nothing to encode).
    fn push_own(&mut self, key: &'static str, value: QueryValue<'a>) {
        debug_assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "`{key}` is not a plain key"
        );
        self.query.push(QueryParam {
            key: Cow::Borrowed(key),
            encode_key: false,
            value,
        });
    }

    /// Adds a comma-separated list parameter, omitted when empty.
    pub(crate) fn query_list<S: Into<Cow<'a, str>> + Clone>(
        &mut self,
        key: &'static str,
        names: &[S],
    ) {
        if !names.is_empty() {
            let names = names.iter().cloned().map(Into::into).collect();
            self.push_own(key, QueryValue::List(names));
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
    let user_id = options.user_id.as_ref().unwrap_or(&config.user_id).as_str();
    let target = Target { keyset, user_id };
    let mut parts = RequestParts {
        path: String::with_capacity(384),
        query: Vec::with_capacity(8 + options.query.len()),
    };
    op.encode(&target, &mut parts)?;

    parts.query("uuid", user_id);
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
            key: Cow::Borrowed(key.as_str()),
            encode_key: true,
            value: QueryValue::One(Cow::Borrowed(value.as_str())),
        });
    }
    if keyset.has_secret_key() {
        parts.query_num("timestamp", meta.timestamp);
    }
    // Keys are unique (duplicates of a built-in key are rejected above), so sorting by
    // key alone is the canonical order. The first bytes decide almost every comparison
    // without a `memcmp` call each: the protocol's keys differ there but for
    // `timestamp`/`tt`/`tr` (a signed subscribe) and a caller's extra keys. (`signature`
    // is appended after the sort.)
    parts.query.sort_unstable_by(|a, b| {
        let (x, y) = (a.key.as_bytes(), b.key.as_bytes());
        x.first().cmp(&y.first()).then_with(|| x.cmp(y))
    });

    let mut pq = parts.path;
    let path_len = pq.len();
    pq.push('?');
    for (i, p) in parts.query.iter().enumerate() {
        if i > 0 {
            pq.push('&');
        }
        if p.encode_key {
            push_encoded(&mut pq, &p.key, Set::Wire);
        } else {
            pq.push_str(&p.key);
        }
        pq.push('=');
        match &p.value {
            QueryValue::One(v) => push_encoded(&mut pq, v, Set::Wire),
            QueryValue::List(items) => push_list(&mut pq, items),
            QueryValue::Num(n) => push_decimal(&mut pq, *n),
        }
    }
    if let Some(secret) = keyset.secret_key() {
        let path = &pq[..path_len];
        let decoded: Vec<Cow<'_, str>> = parts.query.iter().map(|p| p.value.decoded()).collect();
        let canonical = canonical_query(
            parts
                .query
                .iter()
                .zip(&decoded)
                .map(|(p, v)| (p.key.as_ref(), v.as_ref())),
        );
        let signature = sign_v2(
            secret.expose(),
            "GET",
            keyset.publish_key().unwrap_or(""),
            path,
            &canonical,
            b"",
        );
        pq.push_str("&signature=");
        pq.push_str(&signature);
    }

    // The origin's scheme and authority are already parsed: only the path and query are.
    let path_and_query = http::uri::PathAndQuery::try_from(pq)
        .map_err(|e| Error::invalid("origin", format!("cannot form a URI: {e}")))?;
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(config.origin.scheme().clone());
    uri.authority = Some(config.origin.authority().clone());
    uri.path_and_query = Some(path_and_query);
    let uri = http::Uri::from_parts(uri)
        .map_err(|e| Error::invalid("origin", format!("cannot form a URI: {e}")))?;
    let mut request = http::Request::new(Vec::new());
    *request.uri_mut() = uri;
    Ok(request)
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Validates and normalises a list of channel or group names: every name non-empty and
/// at most [`MAX_NAME_CHARS`] characters; duplicates dropped (first kept). The result
/// borrows the names.
pub(crate) fn names<'a>(
    field: &'static str,
    names: &'a [String],
    forbid_comma: bool,
) -> Result<Vec<&'a str>, Error> {
    let mut unique: Vec<&'a str> = Vec::with_capacity(names.len());
    // A linear scan over cheap fingerprints for the usual handful of names, a hash set
    // for long lists (the scan is quadratic).
    let mut seen =
        (names.len() > 16).then(|| std::collections::HashSet::<&str>::with_capacity(names.len()));
    let mut prints = [0u64; 16];
    for name in names {
        let name = name.as_str();
        if name.is_empty() {
            return Err(Error::invalid(field, "a name is empty"));
        }
        // A name of at most MAX_NAME_CHARS bytes cannot have more characters.
        if name.len() > MAX_NAME_CHARS && name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid(
                field,
                format!("`{name}` is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        if forbid_comma && name.as_bytes().contains(&b',') {
            return Err(Error::invalid(
                field,
                format!("`{name}` contains `,`, the list separator"),
            ));
        }
        let fresh = match &mut seen {
            Some(set) => set.insert(name),
            None => {
                let print = fingerprint(name);
                let dup = prints
                    .iter()
                    .zip(&unique)
                    .any(|(p, u)| *p == print && *u == name);
                if !dup {
                    // At most 16 names take this branch.
                    prints[unique.len()] = print;
                }
                !dup
            }
        };
        if fresh {
            unique.push(name);
        }
    }
    Ok(unique)
}

/// Equal names have equal fingerprints: the length and the first and last eight bytes
/// (shorter names: their bytes).
fn fingerprint(name: &str) -> u64 {
    let b = name.as_bytes();
    let (head, tail) = match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(h), Some(t)) => (u64::from_le_bytes(*h), u64::from_le_bytes(*t)),
        _ => {
            let mut short = [0u8; 8];
            short[..b.len()].copy_from_slice(b);
            (u64::from_le_bytes(short), 0)
        }
    };
    (head.rotate_left(17) ^ tail ^ (b.len() as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Checks that an operation names at least one channel or group.
pub(crate) fn require_some(channels: &[&str], groups: &[&str]) -> Result<(), Error> {
    if channels.is_empty() && groups.is_empty() {
        return Err(Error::invalid(
            "channels",
            "at least one channel or channel group is required",
        ));
    }
    Ok(())
}

/// Implements what every operation type `$ty<C>` shares: the per-call options
/// (`using`, `keyset`, `query_param`), the client slot (`with_client`, built from the
/// type's `Default`) and `execute` for a bound operation. The type has the fields
/// `options: CallOptions` and `client: C`, and implements `Default` for `C = ()`
/// through `$ty::<C>::defaults(client)`.
macro_rules! operation_common {
    ($ty:ident) => {
        impl $ty {
            /// A new operation, not bound to a client: build its request with
            /// [`to_request`](crate::Operation::to_request), or send it with a
            /// client's `execute`.
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::defaults(())
            }
        }

        impl<C> $ty<C> {
            /// A new operation bound to `client`, ending in [`execute`](Self::execute).
            /// The `presence` facade's clients return these from their operation
            /// methods (`client.here_now()` and so on).
            pub fn with_client(client: C) -> Self {
                Self::defaults(client)
            }

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

            /// Makes this call as `user` (its `uuid`) instead of the configured user: a
            /// heartbeat or leave for another user id from the same client, as the fleet
            /// does. Where now and state then default to asking about `user` too.
            pub fn as_user(mut self, user: $crate::UserId) -> Self {
                self.options.user_id = Some(user);
                self
            }

            /// Adds an extra query parameter (Go's `QueryParam`); it is encoded and signed
            /// like every other value.
            pub fn query_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
                self.options.query.push((key.into(), value.into()));
                self
            }
        }

        impl<C> $crate::request::sealed::Options for $ty<C> {
            fn options(&self) -> &$crate::CallOptions {
                &self.options
            }
        }

        impl<C> $ty<C> {
            /// Mutable access to the options (the engines set them on what they build).
            #[allow(dead_code)] // not every operation is built by an engine
            pub(crate) fn options_mut(&mut self) -> &mut $crate::CallOptions {
                &mut self.options
            }
        }

        impl<C: $crate::Execute<Self> + Copy> $ty<C>
        where
            Self: $crate::Operation,
        {
            /// Sends the operation with the client it is bound to and parses the answer:
            /// `.await` it on an async client.
            pub fn execute(self) -> C::Output {
                self.client.execute(self)
            }
        }
    };
}
pub(crate) use operation_common;

/// The validated channel and group names of an operation (see [`names`]).
pub(crate) struct Targets<'a> {
    pub(crate) channels: Vec<&'a str>,
    pub(crate) groups: Vec<&'a str>,
}

impl<'a> Targets<'a> {
    /// Validates both lists (groups may not hold the `,` separator).
    pub(crate) fn of(channels: &'a [String], groups: &'a [String]) -> Result<Self, Error> {
        Ok(Self {
            channels: names("channels", channels, false)?,
            groups: names("channel_groups", groups, true)?,
        })
    }

    /// These names, when there is at least one channel or group.
    pub(crate) fn required(self) -> Result<Self, Error> {
        require_some(&self.channels, &self.groups)?;
        Ok(self)
    }

    /// These names sorted (as the Rust, JS and Python SDKs send heartbeats and leaves).
    pub(crate) fn sorted(mut self) -> Self {
        self.channels.sort_unstable();
        self.groups.sort_unstable();
        self
    }
}

/// Implements the `channels` / `channel_groups` setters (each adds to the names already
/// set) on an operation with those two `Vec<String>` fields, and `targets()` (the names,
/// validated) and `target_count()` for its encoding and logs.
macro_rules! channel_setters {
    ($ty:ident, $channels_doc:literal, $groups_doc:literal) => {
        impl<C> $ty<C> {
            /// The names, validated.
            fn targets(&self) -> Result<$crate::request::Targets<'_>, $crate::Error> {
                $crate::request::Targets::of(&self.channels, &self.channel_groups)
            }

            /// How many names were given (for logs).
            fn target_count(&self) -> usize {
                self.channels.len() + self.channel_groups.len()
            }

            #[doc = $channels_doc]
            pub fn channels<I, S>(mut self, channels: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.channels.extend(channels.into_iter().map(Into::into));
                self
            }

            #[doc = $groups_doc]
            pub fn channel_groups<I, S>(mut self, groups: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.channel_groups
                    .extend(groups.into_iter().map(Into::into));
                self
            }
        }
    };
}
pub(crate) use channel_setters;
