//! The pure state core: `handle(now, request) -> response`, no I/O, no clock.

// Handlers return `Result<Reply, Reply>` (the error is the error *response*): it is
// built once per request and moved straight out, so boxing it would only add an
// allocation.
#![allow(clippy::result_large_err)]

use crate::auth::{denied, verify_signature};
use crate::body::{self, UuidEntry, INVALID_JSON};
use crate::config::{Keyset, ModelConfig};
use crate::events::{
    Action, Envelope, Event, EventKind, EventLog, IntervalAcc, Message, Payload, Timetoken,
};
use crate::occupants::{ChannelSet, Name, Occupant, OccupantMap, StateJson};
use crate::wire::{
    decode, minify_json, path_list, value_list, DecodeError, Query, Route, RouteKind, Service,
    Target,
};
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
    /// Presence events kept for subscribers (bounded by the event log capacity).
    pub events: usize,
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
    /// Presence events for subscribers.
    events: EventLog,
    /// Channels in interval mode and their pending deltas.
    intervals: HashMap<Name, IntervalAcc>,
    /// `(due, channel)` of every channel in interval mode.
    interval_timers: BTreeSet<(u64, Name)>,
    /// Latest timetoken handed out (100 ns units).
    last_tt: u64,
    tuning: Tuning,
}

/// Per-keyset copies of the event settings.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    announce_max: usize,
    interval: u64,
    subscribe_timeout: u64,
    max_messages: usize,
}

/// A subscribe long-poll waiting for presence events.
///
/// Returned by [`Model::dispatch`]; the caller re-checks it with
/// [`Model::poll_wait`] whenever the model may have changed (and at
/// [`deadline`](Wait::deadline)), and answers it early with
/// [`Model::finish_wait`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    sub_key: String,
    tt: u64,
    /// `(channel, subscription name)` for each `<channel>-pnpres` subscribed.
    channels: Vec<(String, String)>,
    /// Group names (without `-pnpres`) for each `<group>-pnpres` subscribed.
    groups: Vec<String>,
    deadline: u64,
}

impl Wait {
    /// When the long-poll ends with an empty `m` if nothing arrives (on the model's
    /// clock: the request time plus the subscribe timeout).
    pub fn deadline(&self) -> Duration {
        Duration::from_nanos(self.deadline)
    }
}

/// The outcome of [`Model::dispatch`]: an answer now, or a long-poll to wait on.
#[derive(Debug)]
pub enum Dispatch {
    /// Send this response.
    Response(Response<Vec<u8>>),
    /// A subscribe long-poll with nothing to deliver yet.
    Wait(Wait),
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

/// Deepest nesting accepted in a state object. The real service's limit is unknown; JSON
/// parsers with a recursion limit (serde_json: 128) could not read deeper state back, so a
/// stored deep state would make here now with `state=1` unreadable for every client.
pub(crate) const MAX_STATE_DEPTH: usize = 32;

/// Nesting depth of a JSON text (objects and arrays), ignoring brackets inside strings.
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a JSON object given as text (at most [`MAX_STATE_DEPTH`] deep); returns the
/// minified object.
fn parse_object(text: &str) -> Option<StateJson> {
    if json_depth(text) > MAX_STATE_DEPTH {
        return None;
    }
    let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
    if !raw.get().starts_with('{') {
        return None;
    }
    let min = RawValue::from_string(minify_json(raw.get())).ok()?;
    Some(Arc::from(min))
}

/// A fresh `{}` state (the `data` of a state-change that cleared the state).
fn empty_state() -> StateJson {
    Arc::from(body::empty_object().to_owned())
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
            .map(|ks| (ks.subscribe_key.clone(), KeysetState::new(ks, &config)))
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
    ///
    /// A subscribe long-poll cannot wait here: it is answered at once with the events
    /// already available (possibly an empty `m`). Servers use
    /// [`dispatch`](Model::dispatch) instead.
    pub fn handle<B>(&mut self, now: Duration, req: &Request<B>) -> Response<Vec<u8>> {
        match self.dispatch(now, req) {
            Dispatch::Response(resp) => resp,
            Dispatch::Wait(wait) => self.finish_wait(now, &wait),
        }
    }

    /// Like [`handle`](Model::handle), but a subscribe long-poll with nothing to
    /// deliver yet comes back as [`Dispatch::Wait`].
    pub fn dispatch<B>(&mut self, now: Duration, req: &Request<B>) -> Dispatch {
        let now = self.observe(now);
        match self.dispatch_at(now, req) {
            Ok(d) => d,
            Err(r) => Dispatch::Response(r),
        }
    }

    /// Re-checks a waiting long-poll at `now`: `Some` with the response once there are
    /// events after its cursor or its deadline has passed, `None` to keep waiting.
    /// Also applies due presence timeouts and interval events of its keyset.
    pub fn poll_wait(&mut self, now: Duration, wait: &Wait) -> Option<Response<Vec<u8>>> {
        let now = self.observe(now);
        let ks = self.keysets.get_mut(&wait.sub_key)?;
        ks.advance_to(now);
        ks.deliver(wait, now >= wait.deadline)
    }

    /// Answers a waiting long-poll now, with whatever is available (possibly an
    /// empty `m`); used at shutdown and by [`handle`](Model::handle).
    pub fn finish_wait(&mut self, now: Duration, wait: &Wait) -> Response<Vec<u8>> {
        let now = self.observe(now);
        match self.keysets.get_mut(&wait.sub_key) {
            Some(ks) => {
                ks.advance_to(now);
                ks.deliver(wait, true).unwrap_or_else(|| {
                    body::error(StatusCode::NOT_FOUND, Service::Subscribe, "Not Found")
                })
            }
            None => bad_request(Service::Subscribe, "Invalid Subscribe Key"),
        }
    }

    /// Total presence events generated so far over all keysets (changes whenever a
    /// subscriber may have something new).
    pub fn events_generated(&self) -> u64 {
        self.keysets.values().map(|ks| ks.events.appended).sum()
    }

    fn dispatch_at<B>(&mut self, now: u64, req: &Request<B>) -> Result<Dispatch, Reply> {
        let method = req.method();
        if method == Method::OPTIONS {
            return Err(body::respond(StatusCode::OK, "Pubnub Presence", Vec::new()));
        }
        let path = req.uri().path();
        let raw_query = req.uri().query();
        let target_len = path.len() + raw_query.map_or(0, |q| q.len() + 1);
        if target_len > self.config.max_url_len {
            return Err(body::error(
                StatusCode::URI_TOO_LONG,
                Service::of_path(path),
                "Request-URI Too Long",
            ));
        }
        let Some(target) = Target::parse(path) else {
            return Err(body::error(
                StatusCode::NOT_FOUND,
                Service::of_path(path),
                "Not Found",
            ));
        };
        let service = target.service();
        if method != Method::GET {
            return Err(body::error(
                StatusCode::METHOD_NOT_ALLOWED,
                service,
                "Method Not Allowed",
            ));
        }
        let route = match target {
            Target::Time => {
                let tt = now / 100;
                return Err(body::respond(
                    StatusCode::OK,
                    "Pubnub",
                    format!("[{tt}]").into_bytes(),
                ));
            }
            Target::Keyset(route) => route,
        };
        let query = match Query::parse(raw_query) {
            Ok(q) => q,
            Err(e) => return Err(decode_error(service, e)),
        };
        let sk = decode(route.sub_key, false).map_err(|e| decode_error(service, e))?;
        let window = self.config.signature_window.as_secs();
        let Some(ks) = self.keysets.get_mut(sk.as_ref()) else {
            return Err(bad_request(service, "Invalid Subscribe Key"));
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
                return Err(body::invalid_signature(service, detail, location));
            }
        }
        let presence = !matches!(service, Service::ChannelRegistry);
        if presence && query.get("uuid").filter(|u| !u.is_empty()).is_none() {
            return Err(bad_request(service, "Missing UUID"));
        }
        ks.route(now, route, &query)
    }

    /// The earliest instant at which [`handle_timeout`](Model::handle_timeout) has work
    /// (an occupant's presence timeout or an `interval` event), if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.keysets
            .values()
            .filter_map(|ks| {
                let expiry = ks.expiry.first().map(|e| e.0);
                let tick = ks.interval_timers.first().map(|e| e.0);
                expiry.into_iter().chain(tick).min()
            })
            .min()
            .map(Duration::from_nanos)
    }

    /// Removes every occupant whose timeout has passed at `now` (announcing `timeout`
    /// events) and emits every `interval` event due.
    pub fn handle_timeout(&mut self, now: Duration) {
        let now = self.observe(now);
        for ks in self.keysets.values_mut() {
            ks.advance_to(now);
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
            s.events += ks.events.len();
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
    fn new(keyset: Keyset, config: &ModelConfig) -> Self {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        KeysetState {
            keyset,
            channels: HashMap::new(),
            users: HashMap::new(),
            groups: BTreeMap::new(),
            expiry: BTreeSet::new(),
            events: EventLog::new(config.event_log_capacity),
            intervals: HashMap::new(),
            interval_timers: BTreeSet::new(),
            last_tt: 0,
            tuning: Tuning {
                announce_max: config.announce_max,
                interval: nanos(config.interval).max(1),
                subscribe_timeout: nanos(config.subscribe_timeout),
                max_messages: config.max_messages_per_response.max(1),
            },
        }
    }

    fn route(&mut self, now: u64, route: Route<'_>, q: &Query<'_>) -> Result<Dispatch, Reply> {
        match route.kind {
            RouteKind::Subscribe { channels } => self.subscribe(now, q, channels),
            _ => self.route_plain(now, route, q).map(Dispatch::Response),
        }
    }

    fn route_plain(&mut self, now: u64, route: Route<'_>, q: &Query<'_>) -> Result<Reply, Reply> {
        let svc = route.service;
        let dec = |raw: &str| {
            decode(raw, false)
                .map(|c| c.into_owned())
                .map_err(|e| decode_error(svc, e))
        };
        let list = |raw: &str| path_list(raw).map_err(|e| decode_error(svc, e));
        let groups = || value_list(q.get("channel-group"));
        match route.kind {
            RouteKind::HereNowGlobal => {
                self.check_access(svc, q, &[], &[], true)?;
                self.advance_to(now);
                self.here_now(q, None)
            }
            RouteKind::HereNow { channels } => {
                let (channels, groups) = (list(channels)?, groups());
                self.check_access(svc, q, &channels, &groups, false)?;
                self.advance_to(now);
                self.here_now(q, Some((channels, groups)))
            }
            RouteKind::WhereNow { uuid } => {
                let uuid = dec(uuid)?;
                self.check_access(svc, q, &[], &[], true)?;
                self.advance_to(now);
                Ok(self.where_now(&uuid))
            }
            RouteKind::Heartbeat { channels } => {
                let (channels, groups) = (not_pnpres(list(channels)?), not_pnpres(groups()));
                self.heartbeat(now, q, channels, groups)
            }
            RouteKind::Leave { channels } => {
                let (channels, groups) = (not_pnpres(list(channels)?), not_pnpres(groups()));
                if channels.is_empty() && groups.is_empty() {
                    return Err(bad_request(svc, "Missing channels or channel groups"));
                }
                self.check_access(svc, q, &channels, &groups, false)?;
                self.advance_to(now);
                let user = q.get("uuid").unwrap_or_default();
                for (ch, _) in self.resolve(&channels, &groups).channels {
                    self.remove_occupant(now, &ch, user, Some((Action::Leave, now)));
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
            RouteKind::SetState { channels, uuid } => {
                let (uuid, channels, groups) = (
                    dec(uuid)?,
                    not_pnpres(list(channels)?),
                    not_pnpres(groups()),
                );
                self.set_state(now, q, &uuid, channels, groups)
            }
            RouteKind::GetState { channels, uuid } => {
                let (uuid, channels, groups) = (dec(uuid)?, list(channels)?, groups());
                if channels.is_empty() && groups.is_empty() {
                    return Err(bad_request(svc, "Missing channels or channel groups"));
                }
                self.check_access(svc, q, &channels, &groups, false)?;
                self.advance_to(now);
                Ok(self.get_state(&uuid, &channels, &groups))
            }
            RouteKind::ListGroups => {
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
            RouteKind::Group { group } => {
                let group = dec(group)?;
                if group.is_empty() {
                    return Err(bad_request(svc, "Missing channel group"));
                }
                self.check_access(svc, q, &[], std::slice::from_ref(&group), false)?;
                Ok(self.group(q, &group))
            }
            RouteKind::DeleteGroup { group } => {
                let group = dec(group)?;
                if group.is_empty() {
                    return Err(bad_request(svc, "Missing channel group"));
                }
                self.check_access(svc, q, &[], std::slice::from_ref(&group), false)?;
                self.groups.remove(group.as_str());
                Ok(body::json(StatusCode::OK, svc, &body::REGISTRY_OK))
            }
            RouteKind::Subscribe { .. } => {
                // Routed before `route_plain`.
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

    /// Applies, in time order, every presence timeout (`deadline <= now`) and every
    /// interval event due by `now`.
    fn advance_to(&mut self, now: u64) {
        loop {
            let expiry = self.expiry.first().map(|e| e.0).filter(|d| *d <= now);
            let tick = self
                .interval_timers
                .first()
                .map(|e| e.0)
                .filter(|d| *d <= now);
            match (expiry, tick) {
                (None, None) => break,
                (Some(e), Some(t)) if t < e => self.interval_tick(now),
                (Some(_), _) => {
                    let Some((deadline, ch, user)) = self.expiry.pop_first() else {
                        break;
                    };
                    self.remove_occupant(now, &ch, &user, Some((Action::Timeout, deadline)));
                }
                (None, Some(_)) => self.interval_tick(now),
            }
        }
    }

    /// Emits the first due `interval` event.
    fn interval_tick(&mut self, now: u64) {
        let Some((due, ch)) = self.interval_timers.pop_first() else {
            return;
        };
        let Some(acc) = self.intervals.remove(&ch) else {
            return;
        };
        let occupancy = self.channels.get(&ch).map_or(0, |c| c.occupants.len());
        let deltas = acc.join.len() + acc.leave.len() + acc.timeout.len();
        let here_now_refresh = deltas > self.tuning.announce_max;
        let kind = if here_now_refresh {
            EventKind::Interval {
                join: Vec::new(),
                leave: Vec::new(),
                timeout: Vec::new(),
                here_now_refresh,
            }
        } else {
            EventKind::Interval {
                join: acc.join,
                leave: acc.leave,
                timeout: acc.timeout,
                here_now_refresh,
            }
        };
        self.log(now, due, ch.clone(), occupancy, kind);
        if occupancy > self.tuning.announce_max {
            let next = due.saturating_add(self.tuning.interval);
            self.intervals.insert(ch.clone(), IntervalAcc::default());
            self.interval_timers.insert((next, ch));
        }
    }

    /// The next timetoken: `now` in 100 ns units, bumped to stay strictly increasing.
    fn next_tt(&mut self, now: u64) -> u64 {
        self.last_tt = (now / 100).max(self.last_tt + 1);
        self.last_tt
    }

    fn log(&mut self, now: u64, at: u64, channel: Name, occupancy: usize, kind: EventKind) {
        let tt = self.next_tt(now);
        self.events.push(Event {
            tt,
            channel,
            timestamp: at / NANOS,
            occupancy,
            kind,
        });
    }

    /// Records a per-user presence change, or folds it into the channel's interval
    /// deltas when the channel is (or now goes) above `announce_max`.
    /// `at` is the event's own time (a timeout's deadline), `now` the processing time.
    fn announce(
        &mut self,
        (now, at): (u64, u64),
        channel: &Name,
        action: Action,
        uuid: &Name,
        occupancy: usize,
        data: Option<StateJson>,
    ) {
        if action != Action::StateChange {
            if let Some(acc) = self.intervals.get_mut(channel) {
                acc.record(action, uuid.clone());
                return;
            }
            if occupancy > self.tuning.announce_max {
                let due = now.saturating_add(self.tuning.interval);
                let mut acc = IntervalAcc::default();
                acc.record(action, uuid.clone());
                self.intervals.insert(channel.clone(), acc);
                self.interval_timers.insert((due, channel.clone()));
                return;
            }
        }
        let kind = EventKind::User {
            action,
            uuid: uuid.clone(),
            data,
        };
        self.log(now, at, channel.clone(), occupancy, kind);
    }

    fn user_name(&self, user: &str) -> Name {
        match self.users.get_key_value(user) {
            Some((k, _)) => k.clone(),
            None => Arc::from(user),
        }
    }

    /// Heartbeat-like presence: joins or extends, optionally updating the state.
    /// `extend` false keeps an existing occupant's timer (set state on a present user);
    /// `explicit` announces a state-change even when the state did not change.
    #[allow(clippy::too_many_arguments)]
    fn touch(
        &mut self,
        now: u64,
        ch: &str,
        user: &str,
        timeout: u32,
        update: StateUpdate,
        extend: bool,
        explicit: bool,
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
        let announce: Option<(Action, Option<StateJson>)>;
        if let Some(occ) = channel.occupants.get_mut(user) {
            if extend {
                let old = occ.deadline();
                occ.last = now;
                occ.timeout = timeout;
                let new = occ.deadline();
                if old != new {
                    self.expiry.remove(&(old, chname.clone(), uname.clone()));
                    self.expiry.insert((new, chname.clone(), uname.clone()));
                }
            }
            let changed = match update {
                StateUpdate::Keep => false,
                StateUpdate::Set(s) => {
                    let changed = occ.state.as_deref().map(RawValue::get) != Some(s.get());
                    occ.state = Some(s);
                    changed || explicit
                }
                StateUpdate::Clear => occ.state.take().is_some() || explicit,
            };
            announce = changed.then(|| {
                (
                    Action::StateChange,
                    Some(occ.state.clone().unwrap_or_else(empty_state)),
                )
            });
        } else {
            let state = match update {
                StateUpdate::Set(s) => Some(s),
                StateUpdate::Keep | StateUpdate::Clear => None,
            };
            let occ = Occupant {
                last: now,
                timeout,
                state: state.clone(),
            };
            self.expiry
                .insert((occ.deadline(), chname.clone(), uname.clone()));
            channel.occupants.insert(uname.clone(), occ);
            self.users
                .entry(uname.clone())
                .or_insert_with(ChannelSet::new)
                .insert(chname.clone());
            announce = Some((Action::Join, state));
        }
        let occupancy = channel.occupants.len();
        if let Some((action, data)) = announce {
            self.announce((now, now), &chname, action, &uname, occupancy, data);
        }
    }

    /// Removes `user` from `ch` and announces `reason` (action, event time).
    /// Returns the occupancy left.
    fn remove_occupant(
        &mut self,
        now: u64,
        ch: &str,
        user: &str,
        reason: Option<(Action, u64)>,
    ) -> Option<usize> {
        let channel = self.channels.get_mut(ch)?;
        let occ = channel.occupants.remove(user)?;
        let left = channel.occupants.len();
        let chname = channel.name.clone();
        if channel.occupants.is_empty() {
            self.channels.remove(ch);
        }
        let uname = self.user_name(user);
        self.expiry
            .remove(&(occ.deadline(), chname.clone(), uname.clone()));
        if let Some(set) = self.users.get_mut(user) {
            set.remove(ch);
            if set.is_empty() {
                self.users.remove(user);
            }
        }
        if let Some((action, at)) = reason {
            self.announce((now, at), &chname, action, &uname, left, None);
        }
        Some(left)
    }

    // ---- endpoints -------------------------------------------------------------------

    fn subscribe(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_channels: &str,
    ) -> Result<Dispatch, Reply> {
        let svc = Service::Subscribe;
        let channels = path_list(raw_channels).map_err(|e| decode_error(svc, e))?;
        let groups = value_list(q.get("channel-group"));
        if channels.is_empty() && groups.is_empty() {
            return Err(bad_request(svc, "Missing channels or channel groups"));
        }
        let cursor = match q.get("tt") {
            None | Some("" | "0") => None,
            Some(v) => match v.parse::<u64>() {
                Ok(t) => Some(t),
                Err(_) => return Err(bad_request(svc, "Invalid timetoken")),
            },
        };
        let Some(timeout) = parse_timeout(q.get("heartbeat")) else {
            return Err(bad_request(svc, "Invalid heartbeat"));
        };
        let join_channels = not_pnpres(channels.clone());
        let join_groups = not_pnpres(groups.clone());
        let names: Vec<&str> = join_channels
            .iter()
            .chain(&join_groups)
            .map(String::as_str)
            .collect();
        let Some(state) = parse_heartbeat_state(q.get("state"), &names) else {
            return Err(bad_request(svc, INVALID_JSON));
        };
        self.check_access(svc, q, &channels, &groups, false)?;
        self.advance_to(now);
        // The handshake cursor comes first, so the subscriber sees its own join.
        let handshake = cursor.is_none().then(|| self.next_tt(now));
        let user = q.get("uuid").unwrap_or_default();
        self.presence(now, user, timeout, &join_channels, &join_groups, &state);
        let tt = match (handshake, cursor) {
            (Some(t), _) => {
                let env = Envelope {
                    t: Timetoken::new(t),
                    m: Vec::new(),
                };
                return Ok(Dispatch::Response(body::json(StatusCode::OK, svc, &env)));
            }
            (None, Some(t)) => t,
            (None, None) => 0,
        };
        let wait = Wait {
            sub_key: self.keyset.subscribe_key.clone(),
            tt,
            channels: channels
                .iter()
                .filter_map(|c| c.strip_suffix("-pnpres").map(|b| (b.to_owned(), c.clone())))
                .collect(),
            groups: groups
                .iter()
                .filter_map(|g| g.strip_suffix("-pnpres").map(str::to_owned))
                .collect(),
            deadline: now.saturating_add(self.tuning.subscribe_timeout),
        };
        Ok(match self.deliver(&wait, false) {
            Some(resp) => Dispatch::Response(resp),
            None => Dispatch::Wait(wait),
        })
    }

    /// The subscribe response for `wait`: its events after the cursor, or (with
    /// `force`) an empty `m` when there are none.
    fn deliver(&self, wait: &Wait, force: bool) -> Option<Reply> {
        let max = self.tuning.max_messages;
        let mut messages = Vec::new();
        let mut last = wait.tt;
        for e in self.events.after(wait.tt) {
            let b = if let Some((_, b)) = wait.channels.iter().find(|(c, _)| **c == *e.channel) {
                b.clone()
            } else if let Some(g) = wait.groups.iter().find(|g| {
                self.groups
                    .get(g.as_str())
                    .is_some_and(|set| set.contains(&*e.channel))
            }) {
                format!("{g}-pnpres")
            } else {
                continue;
            };
            messages.push(Message {
                a: "2",
                f: 0,
                p: Timetoken::new(e.tt),
                k: &self.keyset.subscribe_key,
                c: format!("{}-pnpres", e.channel),
                d: Payload(e),
                b,
            });
            last = e.tt;
            if messages.len() >= max {
                break;
            }
        }
        if messages.is_empty() && !force {
            return None;
        }
        let t = if messages.len() >= max {
            last
        } else {
            wait.tt.max(self.last_tt)
        };
        let env = Envelope {
            t: Timetoken::new(t),
            m: messages,
        };
        Some(body::json(StatusCode::OK, Service::Subscribe, &env))
    }

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
        self.advance_to(now);
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
            self.touch(now, &ch, user, timeout, update, true, false);
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
        self.advance_to(now);
        let update = if is_empty_object(&state) {
            StateUpdate::Clear
        } else {
            StateUpdate::Set(state.clone())
        };
        for (ch, _) in self.resolve(&channels, &groups).channels {
            self.touch(
                now,
                &ch,
                target,
                DEFAULT_TIMEOUT,
                update.clone(),
                false,
                true,
            );
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
