//! The pure state core: `handle(now, request) -> response`, no I/O, no clock.

// Handlers return `Result<Reply, Reply>` (the error is the error *response*): it is
// built once per request and moved straight out, so boxing it would only add an
// allocation.
#![allow(clippy::result_large_err)]

use crate::auth::{denied, verify_signature};
use crate::body::{self, UuidEntry, INVALID_JSON};
use crate::config::{Keyset, ModelConfig};
use crate::occupants::{ChannelSet, Name, Occupant, OccupantMap, StateJson};
use crate::wire::{decode, minify_json, path_list, value_list, DecodeError, Query, Route, Service};
use http::{Method, Request, Response, StatusCode};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

const NANOS: u64 = 1_000_000_000;
/// Presence timeout when `heartbeat` is absent or `0` (PROTOCOL.md §10.10).
pub(crate) const DEFAULT_TIMEOUT: u32 = 300;
/// Smallest accepted presence timeout (every SDK clamps to at least 20).
pub(crate) const MIN_TIMEOUT: u64 = 20;
/// Largest accepted presence timeout (our choice: one day).
pub(crate) const MAX_TIMEOUT: u64 = 86_400;
/// Largest accepted here-now `limit`.
const MAX_LIMIT: i64 = 1000;

/// Counts describing the model's size (for tests and capacity checks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Channels with at least one occupant, over all keysets.
    pub channels: usize,
    /// Occupants (user × channel pairs), over all keysets.
    pub occupants: usize,
    /// Distinct present users, summed per keyset.
    pub users: usize,
    /// Registered channel groups, over all keysets.
    pub groups: usize,
    /// Entries in the expiry indexes (always equals `occupants`).
    pub expiry_entries: usize,
}

/// The in-memory presence service: keysets → channels → occupants, channel groups.
///
/// `Model` is the pure core of the emulator. It never reads a clock and does no I/O:
/// every call takes `now` as a [`Duration`] since the UNIX epoch, so tests drive it
/// with virtual time. A `now` earlier than one already seen is treated as the latest
/// seen (time never goes backwards inside the model).
///
/// Presence rules:
/// - a user joins a channel with a heartbeat or a set state;
/// - it stays while `now < last_heartbeat + timeout` and is gone from
///   `now >= last_heartbeat + timeout` on (exactly `timeout` seconds later);
/// - a leave removes it at once; its state goes with it.
///
/// Expired occupants are removed lazily (on the next request to their keyset) or by
/// [`handle_timeout`](Model::handle_timeout); [`poll_timeout`](Model::poll_timeout)
/// tells when the next one is due. Empty channels are dropped, so memory follows the
/// live occupancy, not history.
///
/// ```
/// use presence_emulator::{Model, ModelConfig, Keyset};
/// use std::time::Duration;
///
/// let mut model = Model::new(ModelConfig::new().keyset(Keyset::new("sub")));
/// let t0 = Duration::from_secs(1_700_000_000);
/// let get = |uri: &str| http::Request::get(uri).body(()).unwrap();
///
/// let resp = model.handle(t0, &get("/v2/presence/sub-key/sub/channel/lobby/heartbeat?heartbeat=60&uuid=ann"));
/// assert_eq!(resp.status(), 200);
///
/// let resp = model.handle(t0, &get("/v2/presence/sub-key/sub/channel/lobby?uuid=bob"));
/// assert_eq!(
///     std::str::from_utf8(resp.body()).unwrap(),
///     r#"{"status":200,"message":"OK","service":"Presence","uuids":["ann"],"occupancy":1}"#
/// );
///
/// // Exactly 60 s later ann is gone.
/// model.handle_timeout(t0 + Duration::from_secs(60));
/// assert_eq!(model.occupancy("sub", "lobby"), 0);
/// ```
#[derive(Debug)]
pub struct Model {
    config: ModelConfig,
    keysets: HashMap<String, KeysetState>,
    /// Latest `now` seen, nanoseconds since the epoch.
    now: u64,
}

#[derive(Debug)]
struct Channel {
    name: Name,
    occupants: OccupantMap,
}

#[derive(Debug)]
struct KeysetState {
    keyset: Keyset,
    channels: HashMap<Name, Channel>,
    users: HashMap<Name, ChannelSet>,
    groups: BTreeMap<Name, BTreeSet<Name>>,
    /// `(deadline, channel, user)` of every occupant: the next expiry is the first.
    expiry: BTreeSet<(u64, Name, Name)>,
}

/// What a presence update does to an occupant's state.
#[derive(Debug, Clone)]
enum StateUpdate {
    Keep,
    Set(StateJson),
    Clear,
}

/// A state given on a heartbeat: keyed by channel/group name, or one bare object.
#[derive(Debug)]
enum HeartbeatState {
    None,
    Bare(StateJson),
    Keyed(HashMap<String, StateJson>),
}

type Reply = Response<Vec<u8>>;

fn decode_error(service: Service, e: DecodeError) -> Reply {
    let message = match e {
        DecodeError::Percent => "Invalid percent-encoding",
        DecodeError::Utf8 => "Invalid UTF-8",
    };
    body::error(StatusCode::BAD_REQUEST, service, message)
}

fn bad_request(service: Service, message: &str) -> Reply {
    body::error(StatusCode::BAD_REQUEST, service, message)
}

/// Parses a JSON object given as text; returns the minified object.
fn parse_object(text: &str) -> Option<StateJson> {
    let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
    if !raw.get().starts_with('{') {
        return None;
    }
    let min = RawValue::from_string(minify_json(raw.get())).ok()?;
    Some(Arc::from(min))
}

fn is_empty_object(s: &RawValue) -> bool {
    s.get() == "{}"
}

/// Parses the `state` of a heartbeat or subscribe (PROTOCOL.md §3.4, §11 finding 1).
fn parse_heartbeat_state(text: Option<&str>, names: &[&str]) -> Option<HeartbeatState> {
    let Some(text) = text else {
        return Some(HeartbeatState::None);
    };
    let whole = parse_object(text)?;
    if is_empty_object(&whole) {
        return Some(HeartbeatState::None);
    }
    let map: HashMap<String, Box<RawValue>> = serde_json::from_str(whole.get()).ok()?;
    let keyed = map
        .iter()
        .all(|(k, v)| names.contains(&k.as_str()) && v.get().starts_with('{'));
    if !keyed {
        return Some(HeartbeatState::Bare(whole));
    }
    let mut out = HashMap::with_capacity(map.len());
    for (k, v) in map {
        if !is_empty_object(&v) {
            out.insert(k, Arc::from(v));
        }
    }
    Some(HeartbeatState::Keyed(out))
}

/// `0`/`1` style flag: `1` or `true` is on, anything else off.
fn flag(query: &Query<'_>, key: &str) -> bool {
    matches!(query.get(key), Some("1" | "true"))
}

/// Parses `heartbeat=`: absent or 0 → default; 20..=86400 accepted; else `None`.
pub(crate) fn parse_timeout(value: Option<&str>) -> Option<u32> {
    match value {
        None => Some(DEFAULT_TIMEOUT),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Some(DEFAULT_TIMEOUT),
            Ok(t) if (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&t) => u32::try_from(t).ok(),
            _ => None,
        },
    }
}

fn not_pnpres(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| !n.ends_with("-pnpres"))
        .collect()
}

impl Model {
    /// A model serving `config`'s keysets (or the single keyset `demo` when none).
    pub fn new(config: ModelConfig) -> Self {
        let mut list = config.keysets.clone();
        if list.is_empty() {
            list.push(Keyset::new("demo"));
        }
        let keysets = list
            .into_iter()
            .map(|ks| (ks.subscribe_key.clone(), KeysetState::new(ks)))
            .collect();
        Model {
            config,
            keysets,
            now: 0,
        }
    }

    /// The configuration this model was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn observe(&mut self, now: Duration) -> u64 {
        let n = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.now = self.now.max(n);
        self.now
    }

    /// Answers one request at time `now` (since the UNIX epoch).
    ///
    /// Only the method, path and query are read; the body is ignored (every Presence
    /// operation is a `GET` without body). Never panics on any input: malformed
    /// requests get a JSON error body and leave the model unchanged.
    pub fn handle<B>(&mut self, now: Duration, req: &Request<B>) -> Response<Vec<u8>> {
        let now = self.observe(now);
        let method = req.method();
        if method == Method::OPTIONS {
            return body::respond(StatusCode::OK, "Pubnub Presence", Vec::new());
        }
        let path = req.uri().path();
        let raw_query = req.uri().query();
        let target_len = path.len() + raw_query.map_or(0, |q| q.len() + 1);
        if target_len > self.config.max_url_len {
            return body::error(
                StatusCode::URI_TOO_LONG,
                Service::of_path(path),
                "Request-URI Too Long",
            );
        }
        let Some(route) = Route::parse(path) else {
            return body::error(StatusCode::NOT_FOUND, Service::of_path(path), "Not Found");
        };
        let service = route.service();
        if method != Method::GET {
            return body::error(
                StatusCode::METHOD_NOT_ALLOWED,
                service,
                "Method Not Allowed",
            );
        }
        if route == Route::Time {
            let tt = now / 100;
            return body::respond(StatusCode::OK, "Pubnub", format!("[{tt}]").into_bytes());
        }
        let query = match Query::parse(raw_query) {
            Ok(q) => q,
            Err(e) => return decode_error(service, e),
        };
        let sk = match route.sub_key().map(|s| decode(s, false)) {
            Some(Ok(sk)) => sk,
            Some(Err(e)) => return decode_error(service, e),
            None => return body::error(StatusCode::NOT_FOUND, service, "Not Found"),
        };
        let window = self.config.signature_window.as_secs();
        let Some(ks) = self.keysets.get_mut(sk.as_ref()) else {
            return bad_request(service, "Invalid Subscribe Key");
        };
        if let Some(secret) = ks.keyset.secret_key.as_deref() {
            if let Err(e) = verify_signature(
                &ks.keyset,
                secret,
                method.as_str(),
                path,
                &query,
                now / NANOS,
                window,
            ) {
                let (detail, location) = e.detail();
                return body::invalid_signature(service, detail, location);
            }
        }
        let presence = !matches!(service, Service::ChannelRegistry);
        if presence && query.get("uuid").filter(|u| !u.is_empty()).is_none() {
            return bad_request(service, "Missing UUID");
        }
        match ks.route(now, route, &query) {
            Ok(resp) | Err(resp) => resp,
        }
    }

    /// The earliest instant at which [`handle_timeout`](Model::handle_timeout) has work
    /// (an occupant's presence timeout), if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.keysets
            .values()
            .filter_map(|ks| ks.expiry.first().map(|e| e.0))
            .min()
            .map(Duration::from_nanos)
    }

    /// Removes every occupant whose timeout has passed at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        let now = self.observe(now);
        for ks in self.keysets.values_mut() {
            ks.expire(now);
        }
    }

    /// Current occupancy of a channel (as of the latest processed time).
    pub fn occupancy(&self, subscribe_key: &str, channel: &str) -> usize {
        self.keysets
            .get(subscribe_key)
            .and_then(|ks| ks.channels.get(channel))
            .map_or(0, |c| c.occupants.len())
    }

    /// Size counters over all keysets.
    pub fn stats(&self) -> ModelStats {
        let mut s = ModelStats::default();
        for ks in self.keysets.values() {
            s.channels += ks.channels.len();
            s.occupants += ks
                .channels
                .values()
                .map(|c| c.occupants.len())
                .sum::<usize>();
            s.users += ks.users.len();
            s.groups += ks.groups.len();
            s.expiry_entries += ks.expiry.len();
        }
        s
    }
}

/// What a request names once groups are expanded.
struct Resolved {
    /// `(channel, group index it came from when not listed itself)`.
    channels: Vec<(String, Option<usize>)>,
}

fn uuid_list(
    c: &Channel,
    with_uuids: bool,
    with_state: bool,
    offset: usize,
    limit: usize,
) -> Option<Vec<UuidEntry<'_>>> {
    with_uuids.then(|| {
        c.occupants
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(n, o)| {
                if with_state {
                    UuidEntry::WithState {
                        uuid: n,
                        state: o.state.as_deref(),
                    }
                } else {
                    UuidEntry::Plain(n)
                }
            })
            .collect()
    })
}

impl KeysetState {
    fn new(keyset: Keyset) -> Self {
        KeysetState {
            keyset,
            channels: HashMap::new(),
            users: HashMap::new(),
            groups: BTreeMap::new(),
            expiry: BTreeSet::new(),
        }
    }

    fn route(&mut self, now: u64, route: Route<'_>, q: &Query<'_>) -> Result<Reply, Reply> {
        let svc = route.service();
        let dec = |raw: &str| {
            decode(raw, false)
                .map(|c| c.into_owned())
                .map_err(|e| decode_error(svc, e))
        };
        let list = |raw: &str| path_list(raw).map_err(|e| decode_error(svc, e));
        let groups = || value_list(q.get("channel-group"));
        match route {
            Route::HereNowGlobal { .. } => {
                self.check_access(svc, q, &[], &[], true)?;
                self.expire(now);
                self.here_now(q, None)
            }
            Route::HereNow { channels, .. } => {
                let (channels, groups) = (list(channels)?, groups());
                self.check_access(svc, q, &channels, &groups, false)?;
                self.expire(now);
                self.here_now(q, Some((channels, groups)))
            }
            Route::WhereNow { uuid, .. } => {
                let uuid = dec(uuid)?;
                self.check_access(svc, q, &[], &[], true)?;
                self.expire(now);
                Ok(self.where_now(&uuid))
            }
            Route::Heartbeat { channels, .. } => {
                let (channels, groups) = (not_pnpres(list(channels)?), not_pnpres(groups()));
                self.heartbeat(now, q, channels, groups)
            }
            Route::Leave { channels, .. } => {
                let (channels, groups) = (not_pnpres(list(channels)?), not_pnpres(groups()));
                if channels.is_empty() && groups.is_empty() {
                    return Err(bad_request(svc, "Missing channels or channel groups"));
                }
                self.check_access(svc, q, &channels, &groups, false)?;
                self.expire(now);
                let user = q.get("uuid").unwrap_or_default();
                for (ch, _) in self.resolve(&channels, &groups).channels {
                    self.remove_occupant(&ch, user);
                }
                Ok(body::json(
                    StatusCode::OK,
                    svc,
                    &body::LeaveOk {
                        status: 200,
                        action: "leave",
                        message: "OK",
                        service: "Presence",
                    },
                ))
            }
            Route::SetState { channels, uuid, .. } => {
                let (uuid, channels, groups) = (
                    dec(uuid)?,
                    not_pnpres(list(channels)?),
                    not_pnpres(groups()),
                );
                self.set_state(now, q, &uuid, channels, groups)
            }
            Route::GetState { channels, uuid, .. } => {
                let (uuid, channels, groups) = (dec(uuid)?, list(channels)?, groups());
                if channels.is_empty() && groups.is_empty() {
                    return Err(bad_request(svc, "Missing channels or channel groups"));
                }
                self.check_access(svc, q, &channels, &groups, false)?;
                self.expire(now);
                Ok(self.get_state(&uuid, &channels, &groups))
            }
            Route::ListGroups { .. } => {
                self.check_access(svc, q, &[], &[], true)?;
                let groups: Vec<&str> = self.groups.keys().map(|g| &**g).collect();
                Ok(body::json(
                    StatusCode::OK,
                    svc,
                    &body::RegistryList {
                        status: 200,
                        payload: body::GroupNames { groups },
                        service: "channel-registry",
                        error: false,
                    },
                ))
            }
            Route::Group { group, .. } => {
                let group = dec(group)?;
                if group.is_empty() {
                    return Err(bad_request(svc, "Missing channel group"));
                }
                self.check_access(svc, q, &[], std::slice::from_ref(&group), false)?;
                Ok(self.group(q, &group))
            }
            Route::DeleteGroup { group, .. } => {
                let group = dec(group)?;
                if group.is_empty() {
                    return Err(bad_request(svc, "Missing channel group"));
                }
                self.check_access(svc, q, &[], std::slice::from_ref(&group), false)?;
                self.groups.remove(group.as_str());
                Ok(body::json(StatusCode::OK, svc, &body::REGISTRY_OK))
            }
            Route::Subscribe { .. } | Route::Time => {
                Err(body::error(StatusCode::NOT_FOUND, svc, "Not Found"))
            }
        }
    }

    fn check_access(
        &self,
        svc: Service,
        q: &Query<'_>,
        channels: &[String],
        groups: &[String],
        needs_any_token: bool,
    ) -> Result<(), Reply> {
        match denied(
            &self.keyset,
            q.get("auth"),
            channels,
            groups,
            needs_any_token,
        ) {
            None => Ok(()),
            Some((c, g)) => Err(body::forbidden(svc, &c, &g)),
        }
    }

    /// Listed channels first, then the channels of each group not listed yet.
    fn resolve(&self, channels: &[String], groups: &[String]) -> Resolved {
        let mut out: Vec<(String, Option<usize>)> =
            channels.iter().map(|c| (c.clone(), None)).collect();
        for (gi, g) in groups.iter().enumerate() {
            if let Some(members) = self.groups.get(g.as_str()) {
                for m in members {
                    if !out.iter().any(|(c, _)| **c == **m) {
                        out.push((m.to_string(), Some(gi)));
                    }
                }
            }
        }
        Resolved { channels: out }
    }

    // ---- expiry and occupancy primitives -------------------------------------------

    /// Removes every occupant with `deadline <= now`.
    fn expire(&mut self, now: u64) {
        while let Some(first) = self.expiry.first() {
            if first.0 > now {
                break;
            }
            let Some((_, ch, user)) = self.expiry.pop_first() else {
                break;
            };
            self.remove_occupant(&ch, &user);
        }
    }

    fn user_name(&self, user: &str) -> Name {
        match self.users.get_key_value(user) {
            Some((k, _)) => k.clone(),
            None => Arc::from(user),
        }
    }

    /// Heartbeat-like presence: joins or extends, optionally updating the state.
    /// `extend` false keeps an existing occupant's timer (set state on a present user).
    fn touch(
        &mut self,
        now: u64,
        ch: &str,
        user: &str,
        timeout: u32,
        update: StateUpdate,
        extend: bool,
    ) {
        if !self.channels.contains_key(ch) {
            let name: Name = Arc::from(ch);
            self.channels.insert(
                name.clone(),
                Channel {
                    name,
                    occupants: OccupantMap::new(),
                },
            );
        }
        let uname = self.user_name(user);
        let Some(channel) = self.channels.get_mut(ch) else {
            return;
        };
        let chname = channel.name.clone();
        if let Some(occ) = channel.occupants.get_mut(user) {
            if extend {
                let old = occ.deadline();
                occ.last = now;
                occ.timeout = timeout;
                let new = occ.deadline();
                if old != new {
                    self.expiry.remove(&(old, chname.clone(), uname.clone()));
                    self.expiry.insert((new, chname, uname));
                }
            }
            match update {
                StateUpdate::Keep => {}
                StateUpdate::Set(s) => {
                    if occ.state.as_deref().map(RawValue::get) != Some(s.get()) {
                        occ.state = Some(s);
                    }
                }
                StateUpdate::Clear => occ.state = None,
            }
        } else {
            let state = match update {
                StateUpdate::Set(s) => Some(s),
                StateUpdate::Keep | StateUpdate::Clear => None,
            };
            let occ = Occupant {
                last: now,
                timeout,
                state,
            };
            self.expiry
                .insert((occ.deadline(), chname.clone(), uname.clone()));
            channel.occupants.insert(uname.clone(), occ);
            self.users
                .entry(uname)
                .or_insert_with(ChannelSet::new)
                .insert(chname);
        }
    }

    /// Removes `user` from `ch` (leave or timeout). Returns the occupancy left.
    fn remove_occupant(&mut self, ch: &str, user: &str) -> Option<usize> {
        let channel = self.channels.get_mut(ch)?;
        let occ = channel.occupants.remove(user)?;
        let left = channel.occupants.len();
        let chname = channel.name.clone();
        if channel.occupants.is_empty() {
            self.channels.remove(ch);
        }
        let uname = self.user_name(user);
        self.expiry.remove(&(occ.deadline(), chname, uname));
        if let Some(set) = self.users.get_mut(user) {
            set.remove(ch);
            if set.is_empty() {
                self.users.remove(user);
            }
        }
        Some(left)
    }

    // ---- endpoints -------------------------------------------------------------------

    fn here_now(
        &self,
        q: &Query<'_>,
        target: Option<(Vec<String>, Vec<String>)>,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        let limit = match q.get("limit") {
            None => MAX_LIMIT,
            Some(v) => match v.parse::<i64>() {
                Ok(l) if (0..=MAX_LIMIT).contains(&l) => l,
                _ => return Err(bad_request(svc, "Invalid limit")),
            },
        };
        let offset = match q.get("offset") {
            None => 0,
            Some(v) => match v.parse::<i64>() {
                Ok(o) if o >= 0 => o,
                _ => return Err(bad_request(svc, "Invalid offset")),
            },
        };
        let limit = usize::try_from(limit).unwrap_or(0);
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let with_state = flag(q, "state");
        let with_uuids = !(flag(q, "disable_uuids") || flag(q, "disable-uuids")) && limit > 0;
        let uuids = |c| uuid_list(c, with_uuids, with_state, offset, limit);
        let names: Vec<&Channel> = match &target {
            Some((channels, groups)) if channels.len() == 1 && groups.is_empty() => {
                let c = self.channels.get(channels[0].as_str());
                return Ok(body::json(
                    StatusCode::OK,
                    svc,
                    &body::HereNowSingle {
                        status: 200,
                        message: "OK",
                        service: "Presence",
                        uuids: match c {
                            Some(c) => uuids(c),
                            None => with_uuids.then(Vec::new),
                        },
                        occupancy: c.map_or(0, |c| c.occupants.len()),
                    },
                ));
            }
            Some((channels, groups)) => self
                .resolve(channels, groups)
                .channels
                .iter()
                .filter_map(|(c, _)| self.channels.get(c.as_str()))
                .collect(),
            None => {
                let mut all: Vec<&Channel> = self.channels.values().collect();
                all.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                all
            }
        };
        let total_occupancy = names.iter().map(|c| c.occupants.len()).sum();
        let entries: Vec<(&str, body::HereNowChannel<'_>)> = names
            .iter()
            .map(|c| {
                (
                    &*c.name,
                    body::HereNowChannel {
                        uuids: uuids(c),
                        occupancy: c.occupants.len(),
                    },
                )
            })
            .collect();
        Ok(body::json(
            StatusCode::OK,
            svc,
            &body::HereNowMulti {
                status: 200,
                message: "OK",
                payload: body::HereNowPayload {
                    total_channels: entries.len(),
                    channels: body::Pairs(entries),
                    total_occupancy,
                },
                service: "Presence",
            },
        ))
    }

    fn state_of(&self, ch: &str, uuid: &str) -> &RawValue {
        self.channels
            .get(ch)
            .and_then(|c| c.occupants.get(uuid))
            .and_then(|o| o.state.as_deref())
            .unwrap_or_else(|| body::empty_object())
    }

    fn where_now(&self, uuid: &str) -> Reply {
        let channels = self
            .users
            .get(uuid)
            .map(ChannelSet::sorted)
            .unwrap_or_default();
        body::json(
            StatusCode::OK,
            Service::Presence,
            &body::WhereNow {
                status: 200,
                message: "OK",
                payload: body::ChannelsList { channels },
                service: "Presence",
            },
        )
    }

    fn heartbeat(
        &mut self,
        now: u64,
        q: &Query<'_>,
        channels: Vec<String>,
        groups: Vec<String>,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        if channels.is_empty() && groups.is_empty() {
            return Err(bad_request(svc, "Missing channels or channel groups"));
        }
        let Some(timeout) = parse_timeout(q.get("heartbeat")) else {
            return Err(bad_request(svc, "Invalid heartbeat"));
        };
        let names: Vec<&str> = channels.iter().chain(&groups).map(String::as_str).collect();
        let Some(state) = parse_heartbeat_state(q.get("state"), &names) else {
            return Err(bad_request(svc, INVALID_JSON));
        };
        self.check_access(svc, q, &channels, &groups, false)?;
        self.expire(now);
        let user = q.get("uuid").unwrap_or_default();
        self.presence(now, user, timeout, &channels, &groups, &state);
        Ok(body::json(StatusCode::OK, svc, &body::OK_PRESENCE))
    }

    /// Heartbeat semantics shared by heartbeat and subscribe.
    fn presence(
        &mut self,
        now: u64,
        user: &str,
        timeout: u32,
        channels: &[String],
        groups: &[String],
        state: &HeartbeatState,
    ) {
        for (ch, from_group) in self.resolve(channels, groups).channels {
            let update = match state {
                HeartbeatState::None => StateUpdate::Keep,
                HeartbeatState::Bare(s) => StateUpdate::Set(s.clone()),
                HeartbeatState::Keyed(map) => map
                    .get(&ch)
                    .or_else(|| from_group.and_then(|gi| map.get(&groups[gi])))
                    .map_or(StateUpdate::Keep, |s| StateUpdate::Set(s.clone())),
            };
            self.touch(now, &ch, user, timeout, update, true);
        }
    }

    fn set_state(
        &mut self,
        now: u64,
        q: &Query<'_>,
        target: &str,
        channels: Vec<String>,
        groups: Vec<String>,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        if target.is_empty() {
            return Err(bad_request(svc, "Missing UUID"));
        }
        if channels.is_empty() && groups.is_empty() {
            return Err(bad_request(svc, "Missing channels or channel groups"));
        }
        let Some(state) = q.get("state").and_then(parse_object) else {
            return Err(bad_request(svc, INVALID_JSON));
        };
        self.check_access(svc, q, &channels, &groups, false)?;
        self.expire(now);
        let update = if is_empty_object(&state) {
            StateUpdate::Clear
        } else {
            StateUpdate::Set(state.clone())
        };
        for (ch, _) in self.resolve(&channels, &groups).channels {
            self.touch(now, &ch, target, DEFAULT_TIMEOUT, update.clone(), false);
        }
        Ok(body::json(
            StatusCode::OK,
            svc,
            &body::SetState {
                status: 200,
                message: "OK",
                payload: &state,
                service: "Presence",
            },
        ))
    }

    fn get_state(&self, uuid: &str, channels: &[String], groups: &[String]) -> Reply {
        let state_of = |ch: &str| self.state_of(ch, uuid);
        if channels.len() == 1 && groups.is_empty() {
            return body::json(
                StatusCode::OK,
                Service::Presence,
                &body::GetStateSingle {
                    status: 200,
                    message: "OK",
                    payload: state_of(&channels[0]),
                    uuid,
                    channel: &channels[0],
                    service: "Presence",
                },
            );
        }
        let resolved = self.resolve(channels, groups);
        let pairs = resolved
            .channels
            .iter()
            .map(|(c, _)| (c.as_str(), state_of(c)))
            .collect();
        body::json(
            StatusCode::OK,
            Service::Presence,
            &body::GetStateMulti {
                status: 200,
                message: "OK",
                payload: body::GetStateChannels {
                    channels: body::Pairs(pairs),
                },
                service: "Presence",
                uuid,
            },
        )
    }

    fn group(&mut self, q: &Query<'_>, group: &str) -> Reply {
        let svc = Service::ChannelRegistry;
        let add = q.get("add").map(|v| value_list(Some(v)));
        let remove = q.get("remove").map(|v| value_list(Some(v)));
        if add.is_none() && remove.is_none() {
            let channels: Vec<&str> = self
                .groups
                .get(group)
                .map(|s| s.iter().map(|c| &**c).collect())
                .unwrap_or_default();
            return body::json(
                StatusCode::OK,
                svc,
                &body::RegistryList {
                    status: 200,
                    payload: body::GroupChannels { channels, group },
                    service: "channel-registry",
                    error: false,
                },
            );
        }
        if let Some(add) = add.filter(|a| !a.is_empty()) {
            let set = self.groups.entry(Arc::from(group)).or_default();
            for c in add {
                set.insert(Arc::from(c));
            }
        }
        if let Some(remove) = remove {
            if let Some(set) = self.groups.get_mut(group) {
                for c in &remove {
                    set.remove(c.as_str());
                }
                if set.is_empty() {
                    self.groups.remove(group);
                }
            }
        }
        body::json(StatusCode::OK, svc, &body::REGISTRY_OK)
    }
}
