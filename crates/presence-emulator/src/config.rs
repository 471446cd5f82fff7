//! Configuration: keysets, access grants, limits and presence-event tuning.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One PubNub keyset served by the emulator.
///
/// Requests name a keyset by its subscribe key; requests for any other subscribe key
/// get `400 Invalid Subscribe Key`.
///
/// - With a [`secret_key`](Keyset::secret_key), every request must carry a valid
///   `timestamp` and v2 `signature` (PROTOCOL.md §6), verified with the
///   [`publish_key`](Keyset::publish_key) (empty when none is set).
/// - With at least one [`grant`](Keyset::grant) (or [`access_manager`](Keyset::access_manager)
///   switched on), every request must carry an `auth` token whose grants give the
///   [`Permissions`] the operation needs on each channel and channel group it names
///   (the recorded Access Manager 403 otherwise).
///
/// ```
/// use presence_emulator::Keyset;
/// let ks = Keyset::new("sub-c-test")
///     .publish_key("pub-c-test")
///     .secret_key("sec-c-test")
///     .grant("token-1", ["lobby", "room"], ["friends"]);
/// assert_eq!(ks.subscribe_key_str(), "sub-c-test");
/// let parsed: Keyset = "sub:pub:sec".parse().unwrap();
/// assert_eq!(parsed.secret_key_str(), Some("sec"));
/// // Debug output and parse errors never show the secret key or a token.
/// assert!(!format!("{ks:?}{parsed:?}").contains("sec-c-test") && !format!("{ks:?}").contains("token-1"));
/// assert!(!":pub:sec-x".parse::<Keyset>().unwrap_err().to_string().contains("sec-x"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Keyset {
    pub(crate) subscribe_key: String,
    pub(crate) publish_key: Option<String>,
    pub(crate) secret_key: Option<String>,
    pub(crate) grants: Vec<Grant>,
    pub(crate) access_manager: bool,
}

/// What a [`Grant`] allows on the channels and channel groups it names: the three
/// permissions of PubNub Access Manager that concern presence, a subset of PAM's
/// (which also has `delete`, `get`, `update` and `join` for other APIs).
///
/// Which operation needs which, following PubNub's "Operations to permissions
/// mapping" (docs/EMULATOR.md has the table):
/// - `read`: here now, get state, set state, heartbeat and subscribe (on each channel
///   and group named, a `-pnpres` suffix ignored), and listing a group's channels
///   (`read` or `manage` on the group);
/// - `write`: publish and signal, which the emulator does not serve: it gates nothing
///   here, and is kept so that grants read like PAM's;
/// - `manage`: the channel-group registry's writes: `add=`, `remove=` and deleting the
///   group (on the group).
///
/// Leave needs none (PAM: "Unsubscribe … None required").
///
/// ```
/// use presence_emulator::Permissions;
/// let p = Permissions::READ | Permissions::MANAGE;
/// assert!(p.read && p.manage && !p.write);
/// assert_eq!(Permissions::default(), Permissions::NONE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Permissions {
    /// Read presence (and subscribe).
    pub read: bool,
    /// Publish (no presence operation needs it).
    pub write: bool,
    /// Change the channel-group registry.
    pub manage: bool,
}

impl Permissions {
    /// No permission at all.
    pub const NONE: Permissions = Permissions {
        read: false,
        write: false,
        manage: false,
    };
    /// `read` only.
    pub const READ: Permissions = Permissions {
        read: true,
        ..Permissions::NONE
    };
    /// `write` only.
    pub const WRITE: Permissions = Permissions {
        write: true,
        ..Permissions::NONE
    };
    /// `manage` only.
    pub const MANAGE: Permissions = Permissions {
        manage: true,
        ..Permissions::NONE
    };
    /// `read`, `write` and `manage`.
    pub const ALL: Permissions = Permissions {
        read: true,
        write: true,
        manage: true,
    };

    /// Every permission of `self` and of `other`.
    pub const fn union(self, other: Permissions) -> Permissions {
        Permissions {
            read: self.read || other.read,
            write: self.write || other.write,
            manage: self.manage || other.manage,
        }
    }

    /// Whether `self` holds at least one permission of `any_of`.
    pub const fn intersects(self, any_of: Permissions) -> bool {
        (self.read && any_of.read) || (self.write && any_of.write) || (self.manage && any_of.manage)
    }
}

impl std::ops::BitOr for Permissions {
    type Output = Permissions;

    fn bitor(self, other: Permissions) -> Permissions {
        self.union(other)
    }
}

/// An access token, the channels and channel groups it may use (exact names), and
/// what it may do on them.
///
/// One token may have several grants (say `read` on some channels, `manage` on a
/// group); a request is checked against all of them.
///
/// ```
/// use presence_emulator::{Grant, Keyset, Permissions};
/// let ks = Keyset::new("sub")
///     // What `Keyset::grant` gives: read and write on both.
///     .grant("client", ["lobby"], ["friends"])
///     // The server's token may also change the group.
///     .add_grant(
///         Grant::new("server", Permissions::READ | Permissions::MANAGE).with_channel_groups(["friends"]),
///     );
/// assert_eq!(ks.subscribe_key_str(), "sub");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grant {
    /// The token, as sent in the `auth` query parameter.
    pub token: String,
    /// Channels this grant covers (a `-pnpres` suffix in a request is ignored for the check).
    pub channels: Vec<String>,
    /// Channel groups this grant covers.
    pub channel_groups: Vec<String>,
    /// What the token may do on them.
    pub permissions: Permissions,
}

impl Grant {
    /// A grant of `permissions` for `token`, on no channel and no group yet.
    pub fn new(token: impl Into<String>, permissions: Permissions) -> Self {
        Grant {
            token: token.into(),
            channels: Vec::new(),
            channel_groups: Vec::new(),
            permissions,
        }
    }

    /// Adds channels to the grant.
    pub fn with_channels<I>(mut self, channels: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.channels.extend(channels.into_iter().map(Into::into));
        self
    }

    /// Adds channel groups to the grant.
    pub fn with_channel_groups<I>(mut self, groups: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.channel_groups
            .extend(groups.into_iter().map(Into::into));
        self
    }
}

/// The secret key is shown as `<redacted>`, never its value.
impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyset")
            .field("subscribe_key", &self.subscribe_key)
            .field("publish_key", &self.publish_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("grants", &self.grants)
            .field("access_manager", &self.access_manager)
            .finish()
    }
}

/// The token is shown as `<redacted>`, never its value.
impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("token", &"<redacted>")
            .field("channels", &self.channels)
            .field("channel_groups", &self.channel_groups)
            .field("permissions", &self.permissions)
            .finish()
    }
}

impl Keyset {
    /// A keyset with only a subscribe key: no signing, no access control.
    pub fn new(subscribe_key: impl Into<String>) -> Self {
        Keyset {
            subscribe_key: subscribe_key.into(),
            publish_key: None,
            secret_key: None,
            grants: Vec::new(),
            access_manager: false,
        }
    }

    /// Sets the publish key (part of the signed string when a secret key is set).
    pub fn publish_key(mut self, publish_key: impl Into<String>) -> Self {
        self.publish_key = Some(publish_key.into());
        self
    }

    /// Sets the secret key: every request must then be signed (PROTOCOL.md §6).
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(secret_key.into());
        self
    }

    /// Grants `token` `read` and `write` on `channels` and `channel_groups` (every
    /// presence operation, not the registry's writes: those need `manage`, see
    /// [`add_grant`](Keyset::add_grant)) and switches access control on for this keyset.
    pub fn grant<C, G>(self, token: impl Into<String>, channels: C, channel_groups: G) -> Self
    where
        C: IntoIterator,
        C::Item: Into<String>,
        G: IntoIterator,
        G::Item: Into<String>,
    {
        self.add_grant(
            Grant::new(token, Permissions::READ | Permissions::WRITE)
                .with_channels(channels)
                .with_channel_groups(channel_groups),
        )
    }

    /// Adds `grant` and switches access control on for this keyset.
    pub fn add_grant(mut self, grant: Grant) -> Self {
        self.grants.push(grant);
        self.access_manager = true;
        self
    }

    /// Switches token access control on (or off) without adding a grant: with it on and
    /// no grants, every request that names a channel or group is denied.
    pub fn access_manager(mut self, on: bool) -> Self {
        self.access_manager = on;
        self
    }

    /// The subscribe key.
    pub fn subscribe_key_str(&self) -> &str {
        &self.subscribe_key
    }

    /// The publish key, if set.
    pub fn publish_key_str(&self) -> Option<&str> {
        self.publish_key.as_deref()
    }

    /// The secret key, if set.
    pub fn secret_key_str(&self) -> Option<&str> {
        self.secret_key.as_deref()
    }
}

/// Error parsing a `SUB[:PUB[:SECRET]]` keyset string. It never repeats the input,
/// which may hold a secret key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeysetParseError;

impl fmt::Display for KeysetParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid keyset: expected SUB[:PUB[:SECRET]] with a non-empty SUB")
    }
}

impl std::error::Error for KeysetParseError {}

impl FromStr for Keyset {
    type Err = KeysetParseError;

    /// Parses `SUB[:PUB[:SECRET]]` (the binary's `--keyset` syntax). Empty parts are unset.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, ':');
        let sub = parts.next().unwrap_or_default();
        if sub.is_empty() {
            return Err(KeysetParseError);
        }
        let mut ks = Keyset::new(sub);
        if let Some(p) = parts.next().filter(|p| !p.is_empty()) {
            ks = ks.publish_key(p);
        }
        if let Some(sec) = parts.next().filter(|p| !p.is_empty()) {
            ks = ks.secret_key(sec);
        }
        Ok(ks)
    }
}

/// Configuration of the pure state core, [`Model`](crate::Model).
///
/// Every value has a default (see each method); [`ModelConfig::default`] serves the
/// single keyset `demo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    pub(crate) keysets: Vec<Keyset>,
    pub(crate) max_url_len: usize,
    pub(crate) signature_window: Duration,
    pub(crate) announce_max: usize,
    pub(crate) interval: Duration,
    pub(crate) subscribe_timeout: Duration,
    pub(crate) event_log_capacity: usize,
    pub(crate) event_log_bytes: usize,
    pub(crate) max_messages_per_response: usize,
    pub(crate) max_group_channels: usize,
    pub(crate) max_channels_per_add: usize,
    pub(crate) here_now_cache: Duration,
    pub(crate) rate_limit: u32,
}

/// Default of [`ModelConfig::max_group_channels`]: PubNub's documented limit of
/// channels in one channel group (2 000 on paid plans).
pub(crate) const DEFAULT_MAX_GROUP_CHANNELS: usize = 2_000;
/// Default of [`ModelConfig::max_channels_per_add`]: the SDK documentation's "You can
/// add up to 200 channels to a channel group per API call".
pub(crate) const DEFAULT_MAX_CHANNELS_PER_ADD: usize = 200;
/// The here-now cache time of [`ModelConfig::realistic`]: the "3 second response
/// cache time" of PubNub's SDK documentation (PROTOCOL.md §1, "Service-side cache").
pub const REALISTIC_HERE_NOW_CACHE: Duration = Duration::from_secs(3);
/// Default of [`ModelConfig::event_log_bytes`]: 16 MiB.
pub(crate) const DEFAULT_EVENT_LOG_BYTES: usize = 16 * 1024 * 1024;

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            keysets: Vec::new(),
            max_url_len: 32 * 1024,
            signature_window: Duration::from_secs(600),
            announce_max: 20,
            interval: Duration::from_secs(10),
            subscribe_timeout: Duration::from_secs(280),
            event_log_capacity: 20_000,
            event_log_bytes: DEFAULT_EVENT_LOG_BYTES,
            max_messages_per_response: 100,
            max_group_channels: DEFAULT_MAX_GROUP_CHANNELS,
            max_channels_per_add: DEFAULT_MAX_CHANNELS_PER_ADD,
            here_now_cache: Duration::ZERO,
            rate_limit: 0,
        }
    }
}

impl ModelConfig {
    /// Same as [`Default::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a keyset. When none is added, the keyset `demo` (no keys, no access control)
    /// is served.
    pub fn keyset(mut self, keyset: Keyset) -> Self {
        self.keysets.push(keyset);
        self
    }

    /// Longest accepted request target (path + `?` + query), in bytes; longer gets 414.
    /// Default 32 KiB.
    pub fn max_url_len(mut self, bytes: usize) -> Self {
        self.max_url_len = bytes;
        self
    }

    /// How far a signed request's `timestamp` may be from the emulator's clock, either
    /// way. Default 600 s.
    pub fn signature_window(mut self, window: Duration) -> Self {
        self.signature_window = window;
        self
    }

    /// Occupancy above which a channel switches from per-user presence events to
    /// `interval` events. Default 20.
    pub fn announce_max(mut self, occupants: usize) -> Self {
        self.announce_max = occupants;
        self
    }

    /// Period of `interval` events in interval mode. Default 10 s (minimum 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a subscribe long-poll waits for messages before returning an empty
    /// `m`, on the emulator's clock. Default 280 s.
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.subscribe_timeout = timeout;
        self
    }

    /// How many presence events each keyset keeps for subscribers to catch up on.
    /// Default 20 000; the oldest are dropped first.
    pub fn event_log_capacity(mut self, events: usize) -> Self {
        self.event_log_capacity = events.max(1);
        self
    }

    /// How many bytes of presence events each keyset keeps (names, states and the
    /// event records themselves, as the model stores them), besides the count of
    /// [`event_log_capacity`](ModelConfig::event_log_capacity); the oldest are dropped
    /// first, and the newest event is always kept. Default 16 MiB.
    pub fn event_log_bytes(mut self, bytes: usize) -> Self {
        self.event_log_bytes = bytes;
        self
    }

    /// Most channels a channel group may hold; an `add=` that would grow a group past
    /// it is refused with a 400 and changes nothing. Default 2 000 (PubNub's documented
    /// limit).
    pub fn max_group_channels(mut self, channels: usize) -> Self {
        self.max_group_channels = channels.max(1);
        self
    }

    /// Most channels one `add=` may name; more is refused with a 400. Default 200
    /// (PubNub's documented per-call limit).
    pub fn max_channels_per_add(mut self, channels: usize) -> Self {
        self.max_channels_per_add = channels.max(1);
        self
    }

    /// Caches here-now answers for `ttl` on the model's clock, as the service does
    /// (about 3 s, PROTOCOL.md §1): within `ttl` of a here now, the same here now
    /// (same keyset, same channels and channel groups in the same order, same
    /// `state`, `disable_uuids`, `limit` and `offset`; who asks and `pnsdk`,
    /// `requestid` or `auth` do not count) gets the same body, whatever changed since.
    /// Signatures and grants are still checked on every request. Default
    /// [`Duration::ZERO`]: no cache, here now answers from the live model.
    pub fn here_now_cache(mut self, ttl: Duration) -> Self {
        self.here_now_cache = ttl;
        self
    }

    /// Answers requests to a keyset past `per_second` in one second (on the model's
    /// clock) with `429 Too Many Requests` and `Retry-After`. Default 0: no limit.
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = per_second;
        self
    }

    /// Turns on every behaviour the service is documented to have that is off by
    /// default: the here-now cache of [`REALISTIC_HERE_NOW_CACHE`] (3 s). No rate
    /// limit: PubNub documents none it applies to a keyset in good standing (see
    /// docs/EMULATOR.md, "Real behaviours").
    pub fn realistic(self) -> Self {
        self.here_now_cache(REALISTIC_HERE_NOW_CACHE)
    }

    /// The keysets served (the implicit `demo` keyset is not listed).
    pub fn keysets(&self) -> &[Keyset] {
        &self.keysets
    }
}
