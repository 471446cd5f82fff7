//! The model's state as a document: [`Snapshot`] (what `GET /_emulator/v1/state`,
//! `--export-on-exit` and [`EmulatorHandle::snapshot`](crate::EmulatorHandle::snapshot)
//! give), restored by `PUT /_emulator/v1/state`, `--import` and
//! [`Model::restore`]; and [`Model::reset`].
//!
//! A snapshot holds every keyset's occupants (with their state, timeout and the
//! seconds left before they time out), its channel groups and its event cursor (the
//! latest timetoken handed out). It holds no secret, no grant and no event: keysets and
//! their keys are configuration, and a restore or a reset announces nothing (a
//! subscriber resyncs with here now).
//!
//! Times are relative to the clock (`seconds_left`), so a snapshot taken before a
//! restart keeps every occupant present for as long as it had left.

use crate::model::heartbeat::{DEFAULT_TIMEOUT, MAX_TIMEOUT, MIN_TIMEOUT};
use crate::model::keyset::{Channel, KeysetState};
use crate::model::schedule::NANOS;
use crate::model::state::parse_object;
use crate::model::Model;
use crate::occupants::{ChannelSet, Name, Occupant, OccupantMap};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

/// The format version written in every snapshot (and the only one read).
pub const SNAPSHOT_VERSION: u32 = 1;

/// The whole presence state of an emulator: every keyset's occupants (with state,
/// timeout and seconds left), channel groups and event cursor; no secret, grant or
/// event. A restore or a reset announces nothing.
///
/// Its JSON form is the body of `GET /_emulator/v1/state`:
///
/// ```
/// use presence_emulator::Snapshot;
/// let snap = Snapshot::from_json(br#"{"version": 1, "keysets": [{
///     "subscribe_key": "demo",
///     "channels": [{"name": "lobby", "occupants": [{"uuid": "ann", "state": {"mood": "ok"}}]}],
///     "channel_groups": [{"name": "friends", "channels": ["lobby"]}]
/// }]}"#).unwrap();
/// assert_eq!(snap.keysets[0].channels[0].occupants[0].timeout, 300);
/// let err = Snapshot::from_json(br#"{"version": 1, "keysets": [{"subscribe_key": "demo",
///     "channels": [{"name": "lobby", "occupants": [{"uid": "ann"}]}]}]}"#).unwrap_err();
/// assert!(err.to_string().starts_with("keysets[0].channels[0].occupants[0].uid: unknown field `uid`"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The emulator's clock when the snapshot was taken, in seconds since the UNIX
    /// epoch (informational: a restore does not move the clock).
    #[serde(default)]
    pub now: f64,
    /// One entry per keyset, sorted by subscribe key.
    pub keysets: Vec<KeysetSnapshot>,
}

/// One keyset in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KeysetSnapshot {
    /// The keyset's subscribe key (it must be one the emulator serves).
    pub subscribe_key: String,
    /// The latest timetoken handed out (17 digits, as a string like every timetoken).
    /// A restore never moves a keyset's cursor back, so subscribers' cursors stay
    /// valid.
    #[serde(default)]
    pub event_cursor: Option<String>,
    /// Channels with at least one occupant, sorted by name.
    #[serde(default)]
    pub channels: Vec<ChannelSnapshot>,
    /// Channel groups, sorted by name.
    #[serde(default)]
    pub channel_groups: Vec<GroupSnapshot>,
}

/// One channel in a [`KeysetSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChannelSnapshot {
    /// The channel's name.
    pub name: String,
    /// How many occupants it has (written for readers; ignored by a restore).
    #[serde(default)]
    pub occupancy: usize,
    /// Its occupants, sorted by user id.
    pub occupants: Vec<OccupantSnapshot>,
}

/// One occupant of a [`ChannelSnapshot`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OccupantSnapshot {
    /// The user id.
    pub uuid: String,
    /// Its presence timeout in seconds (20..=86400; default 300).
    #[serde(default = "default_timeout")]
    pub timeout: u32,
    /// Seconds before it times out, in (0, `timeout`] (default: `timeout`).
    #[serde(default)]
    pub seconds_left: Option<f64>,
    /// Its state object, if any.
    #[serde(default)]
    pub state: Option<Box<RawValue>>,
}

impl PartialEq for OccupantSnapshot {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
            && self.timeout == other.timeout
            && self.seconds_left == other.seconds_left
            && self.state.as_deref().map(RawValue::get) == other.state.as_deref().map(RawValue::get)
    }
}

/// One channel group of a [`KeysetSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GroupSnapshot {
    /// The group's name.
    pub name: String,
    /// Its channels, sorted (at least one).
    pub channels: Vec<String>,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT
}

/// Why a snapshot was refused: where in the document (`keysets[0].channels[2]…`) and
/// what is wrong. A refused snapshot changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError {
    /// The JSON path of the offending value (empty for the document itself).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl SnapshotError {
    fn at(path: impl Into<String>, reason: impl Into<String>) -> Self {
        SnapshotError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for SnapshotError {}

impl Snapshot {
    /// Reads a snapshot from its JSON form; the error names the path of what is wrong
    /// (syntax, an unknown or missing field, a value of the wrong type).
    pub fn from_json(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let snap: Snapshot = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // serde_path_to_error writes "." for the root.
            let path = if path == "." { String::new() } else { path };
            SnapshotError::at(path, inner.to_string())
        })?;
        de.end()
            .map_err(|e| SnapshotError::at("", format!("trailing characters: {e}")))?;
        if snap.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::at(
                "version",
                format!(
                    "{} is not a known version (only {SNAPSHOT_VERSION})",
                    snap.version
                ),
            ));
        }
        Ok(snap)
    }

    /// The JSON form (pretty-printed, as the admin API sends it).
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// A snapshot file (`--import`, `--export-on-exit`) that could not be read, written
/// or restored.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotFileError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not hold a snapshot this emulator can restore.
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where in the document.
        source: SnapshotError,
    },
}

impl fmt::Display for SnapshotFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotFileError::Read { path, source } => {
                write!(f, "cannot read the state file {}: {source}", path.display())
            }
            SnapshotFileError::Write { path, source } => {
                write!(
                    f,
                    "cannot write the state file {}: {source}",
                    path.display()
                )
            }
            SnapshotFileError::Invalid { path, source } => {
                write!(
                    f,
                    "cannot import the state file {}: {source}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for SnapshotFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotFileError::Read { source, .. } | SnapshotFileError::Write { source, .. } => {
                Some(source)
            }
            SnapshotFileError::Invalid { source, .. } => Some(source),
        }
    }
}

impl Snapshot {
    /// Reads a snapshot file.
    pub fn read_file(path: &Path) -> Result<Snapshot, SnapshotFileError> {
        let bytes = std::fs::read(path).map_err(|source| SnapshotFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Snapshot::from_json(&bytes).map_err(|source| SnapshotFileError::Invalid {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the snapshot to `path`, whole or not at all (a file beside it, renamed).
    pub fn write_file(&self, path: &Path) -> Result<(), SnapshotFileError> {
        let err = |source| SnapshotFileError::Write {
            path: path.to_owned(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_json() + "\n").map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

fn secs(nanos: u64) -> f64 {
    nanos as f64 / NANOS as f64
}

/// Nanoseconds of `seconds` (finite, not negative), rounded.
fn nanos(seconds: f64) -> u64 {
    (seconds * NANOS as f64).round() as u64
}

impl Model {
    /// The state at `now` (since the UNIX epoch), without changing anything: occupants
    /// whose timeout has passed but that were not removed yet are left out.
    pub fn snapshot(&self, now: Duration) -> Snapshot {
        let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let mut keys: Vec<&String> = self.keysets.keys().collect();
        keys.sort();
        let keysets = keys
            .into_iter()
            .map(|k| keyset_snapshot(&self.lock(&self.keysets[k]), now_ns, usize::MAX, usize::MAX))
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            now: secs(now_ns),
            keysets,
        }
    }

    /// Replaces the state of every keyset with `snapshot`'s, at `now`: each occupant
    /// is present for its `seconds_left` from `now`. Keysets the snapshot does not
    /// list are emptied. Announces no event, and never moves a keyset's event cursor
    /// back. Checked whole first: on an error nothing changes.
    pub fn restore(&mut self, now: Duration, snapshot: &Snapshot) -> Result<(), SnapshotError> {
        let now = self.observe(now);
        let mut built: HashMap<String, KeysetState> = HashMap::new();
        for (i, ks) in snapshot.keysets.iter().enumerate() {
            let path = format!("keysets[{i}]");
            let Some(current) = self.keysets.get(&ks.subscribe_key) else {
                return Err(SnapshotError::at(
                    format!("{path}.subscribe_key"),
                    format!(
                        "{:?} is not a keyset this emulator serves",
                        ks.subscribe_key
                    ),
                ));
            };
            ensure(!built.contains_key(&ks.subscribe_key), || {
                (
                    format!("{path}.subscribe_key"),
                    format!("{:?} is listed twice", ks.subscribe_key),
                )
            })?;
            let keyset = self.lock(current).keyset.clone();
            let state = build_keyset(&path, ks, KeysetState::new(keyset, self.config()), now)?;
            built.insert(ks.subscribe_key.clone(), state);
        }
        let config = self.config().clone();
        for (key, slot) in &mut self.keysets {
            let current = slot.get_mut().unwrap_or_else(PoisonError::into_inner);
            let fresh = built
                .remove(key)
                .unwrap_or_else(|| KeysetState::new(current.keyset.clone(), &config));
            replace(current, fresh);
        }
        Ok(())
    }

    /// Empties every keyset: no occupant, no channel group, no event kept. The clock,
    /// the keysets' configuration and their event cursors stay; waiting long-polls
    /// stay registered and are answered as usual.
    pub fn reset(&mut self) {
        let config = self.config().clone();
        for slot in self.keysets.values_mut() {
            let current = slot.get_mut().unwrap_or_else(PoisonError::into_inner);
            replace(current, KeysetState::new(current.keyset.clone(), &config));
        }
    }
}

/// Puts `fresh` in `current`'s place, keeping what belongs to the server rather than
/// the state: the registered long-polls, the rate limiter's window, and a cursor that
/// never goes back. The here-now cache starts empty (it holds answers about the old
/// state).
fn replace(current: &mut KeysetState, mut fresh: KeysetState) {
    fresh.watchers = std::mem::take(&mut current.watchers);
    std::mem::swap(&mut fresh.rate, &mut current.rate);
    fresh.last_tt = fresh.last_tt.max(current.last_tt);
    *current = fresh;
}

/// One keyset's state at `now`, at most `max_channels` channels (the first by name)
/// and `max_occupants` occupants each listed (`occupancy` always counts them all).
pub(crate) fn keyset_snapshot(
    ks: &KeysetState,
    now: u64,
    max_channels: usize,
    max_occupants: usize,
) -> KeysetSnapshot {
    let mut names: Vec<&Name> = ks.channels.keys().collect();
    names.sort();
    let channels = names
        .into_iter()
        .filter_map(|name| {
            let all = &ks.channels[name].occupants;
            let occupancy = all.iter().filter(|(_, o)| o.deadline() > now).count();
            let occupants: Vec<OccupantSnapshot> = all
                .iter()
                .filter(|(_, o)| o.deadline() > now)
                .take(max_occupants)
                .map(|(uuid, o)| OccupantSnapshot {
                    uuid: uuid.to_string(),
                    timeout: o.timeout,
                    seconds_left: Some(secs(o.deadline() - now)),
                    state: o.state.as_deref().map(|s| s.to_owned()),
                })
                .collect();
            (!occupants.is_empty()).then(|| ChannelSnapshot {
                name: name.to_string(),
                occupancy,
                occupants,
            })
        })
        .take(max_channels)
        .collect();
    let channel_groups = ks
        .groups
        .names()
        .into_iter()
        .map(|g| GroupSnapshot {
            name: g.to_owned(),
            channels: ks
                .groups
                .channels(g)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })
        .collect();
    KeysetSnapshot {
        subscribe_key: ks.keyset.subscribe_key.clone(),
        event_cursor: Some(ks.last_tt.to_string()),
        channels,
        channel_groups,
    }
}

/// Builds a keyset's state from its snapshot, checking every value.
fn build_keyset(
    path: &str,
    snap: &KeysetSnapshot,
    mut ks: KeysetState,
    now: u64,
) -> Result<KeysetState, SnapshotError> {
    if let Some(cursor) = &snap.event_cursor {
        let at = || format!("{path}.event_cursor");
        if cursor.is_empty() || !cursor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SnapshotError::at(at(), "not a timetoken (digits only)"));
        }
        ks.last_tt = cursor
            .parse()
            .map_err(|_| SnapshotError::at(at(), "timetoken out of range"))?;
    }
    let mut seen = HashSet::new();
    for (ci, ch) in snap.channels.iter().enumerate() {
        let cpath = format!("{path}.channels[{ci}]");
        check_name(&format!("{cpath}.name"), &ch.name)?;
        ensure(!ch.name.ends_with("-pnpres"), || {
            (
                format!("{cpath}.name"),
                "a -pnpres channel has no occupants",
            )
        })?;
        ensure(seen.insert(ch.name.as_str()), || {
            (
                format!("{cpath}.name"),
                format!("channel {:?} is listed twice", ch.name),
            )
        })?;
        ensure(!ch.occupants.is_empty(), || {
            (
                format!("{cpath}.occupants"),
                "a channel has at least one occupant",
            )
        })?;
        let name: Name = Arc::from(ch.name.as_str());
        let mut occupants = OccupantMap::new();
        for (oi, o) in ch.occupants.iter().enumerate() {
            let opath = format!("{cpath}.occupants[{oi}]");
            check_name(&format!("{opath}.uuid"), &o.uuid)?;
            ensure(occupants.get(&o.uuid).is_none(), || {
                (
                    format!("{opath}.uuid"),
                    format!("user {:?} is listed twice in this channel", o.uuid),
                )
            })?;
            ensure(
                (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&u64::from(o.timeout)),
                || {
                    (
                        format!("{opath}.timeout"),
                        format!("{} is not in {MIN_TIMEOUT}..={MAX_TIMEOUT}", o.timeout),
                    )
                },
            )?;
            let timeout_ns = u64::from(o.timeout) * NANOS;
            let left = match o.seconds_left {
                None => timeout_ns,
                Some(s) if s.is_finite() && s > 0.0 && nanos(s) > 0 && nanos(s) <= timeout_ns => {
                    nanos(s)
                }
                Some(s) => {
                    return Err(SnapshotError::at(
                        format!("{opath}.seconds_left"),
                        format!("{s} is not in (0, timeout = {}]", o.timeout),
                    ))
                }
            };
            let state = match &o.state {
                None => None,
                Some(raw) => Some(parse_object(raw.get()).ok_or_else(|| {
                    SnapshotError::at(
                        format!("{opath}.state"),
                        "not a JSON object at most 32 levels deep",
                    )
                })?),
            };
            let deadline = now.saturating_add(left);
            let occ = Occupant {
                last: deadline - timeout_ns.min(deadline),
                timeout: o.timeout,
                state,
            };
            let uuid: Name = ks
                .users
                .get_key_value(o.uuid.as_str())
                .map_or_else(|| Arc::from(o.uuid.as_str()), |(k, _)| k.clone());
            ks.expiry
                .insert((occ.deadline(), name.clone(), uuid.clone()));
            ks.users
                .entry(uuid.clone())
                .or_insert_with(ChannelSet::new)
                .insert(name.clone());
            occupants.insert(uuid, occ);
        }
        let occupancy = occupants.len();
        ks.channels.insert(
            name.clone(),
            Channel {
                name: name.clone(),
                occupants,
            },
        );
        if occupancy > ks.tuning.announce_max {
            ks.enter_interval_mode(now, &name);
        }
    }
    let mut groups: BTreeMap<&str, ()> = BTreeMap::new();
    for (gi, g) in snap.channel_groups.iter().enumerate() {
        let gpath = format!("{path}.channel_groups[{gi}]");
        check_name(&format!("{gpath}.name"), &g.name)?;
        ensure(!g.name.contains(','), || {
            (
                format!("{gpath}.name"),
                "a group name cannot hold ',' (the list separator)",
            )
        })?;
        ensure(groups.insert(&g.name, ()).is_none(), || {
            (
                format!("{gpath}.name"),
                format!("group {:?} is listed twice", g.name),
            )
        })?;
        ensure(!g.channels.is_empty(), || {
            (
                format!("{gpath}.channels"),
                "a group has at least one channel",
            )
        })?;
        ensure(g.channels.len() <= ks.tuning.max_group_channels, || {
            (
                format!("{gpath}.channels"),
                format!(
                    "{} channels, more than max_group_channels ({})",
                    g.channels.len(),
                    ks.tuning.max_group_channels
                ),
            )
        })?;
        for (i, c) in g.channels.iter().enumerate() {
            check_name(&format!("{gpath}.channels[{i}]"), c)?;
        }
        ks.groups.add(&g.name, g.channels.clone());
    }
    Ok(ks)
}

/// `Ok` when `ok`, else the error at the path `what` gives, for the reason it gives.
fn ensure<R: Into<String>>(
    ok: bool,
    what: impl FnOnce() -> (String, R),
) -> Result<(), SnapshotError> {
    if ok {
        return Ok(());
    }
    let (path, reason) = what();
    Err(SnapshotError::at(path, reason))
}

fn check_name(path: &str, name: &str) -> Result<(), SnapshotError> {
    if name.is_empty() {
        return Err(SnapshotError::at(path, "empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Keyset, ModelConfig};

    fn model() -> Model {
        Model::new(
            ModelConfig::new()
                .keyset(Keyset::new("a"))
                .keyset(Keyset::new("b"))
                .announce_max(2),
        )
    }

    const T0: Duration = Duration::from_secs(1_700_000_000);

    fn get(m: &mut Model, now: Duration, uri: &str) -> String {
        let resp = m.handle(now, &http::Request::get(uri).body(()).unwrap());
        String::from_utf8(resp.into_body()).unwrap()
    }

    #[test]
    fn snapshot_reset_restore_round_trips() {
        let mut m = model();
        get(&mut m, T0, "/v2/presence/sub-key/a/channel/lobby/heartbeat?uuid=ann&heartbeat=60&state=%7B%22x%22%3A1%7D");
        get(
            &mut m,
            T0,
            "/v2/presence/sub-key/a/channel/lobby,hall/heartbeat?uuid=bob",
        );
        get(
            &mut m,
            T0,
            "/v1/channel-registration/sub-key/a/channel-group/g?add=lobby,z&uuid=x",
        );
        let later = T0 + Duration::from_secs(10);
        let snap = m.snapshot(later);
        let lobby = &snap.keysets[0].channels[1];
        assert_eq!((lobby.name.as_str(), lobby.occupancy), ("lobby", 2));
        assert_eq!(lobby.occupants[0].seconds_left, Some(50.0));
        assert_eq!(
            lobby.occupants[0].state.as_deref().map(RawValue::get),
            Some(r#"{"x":1}"#)
        );
        let json = snap.to_json();
        m.reset();
        assert_eq!(m.stats().occupants, 0);
        assert_eq!(m.stats().groups, 0);
        m.restore(later, &Snapshot::from_json(json.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(m.snapshot(later), snap);
        // Nothing was announced, and the occupants time out when they would have.
        assert_eq!(m.stats().events, 0);
        m.handle_timeout(T0 + Duration::from_secs(60) - Duration::from_nanos(1));
        assert_eq!(m.occupancy("a", "lobby"), 2);
        m.handle_timeout(T0 + Duration::from_secs(60));
        assert_eq!(m.occupancy("a", "lobby"), 1);
    }

    #[test]
    fn a_bad_snapshot_names_the_problem_and_changes_nothing() {
        let mut m = model();
        get(
            &mut m,
            T0,
            "/v2/presence/sub-key/a/channel/lobby/heartbeat?uuid=ann",
        );
        let before = m.snapshot(T0);
        let cases = [
            (r#"{"version":1,"keysets":[{"subscribe_key":"zz"}]}"#, "keysets[0].subscribe_key: \"zz\" is not a keyset"),
            (r#"{"version":2,"keysets":[]}"#, "version: 2 is not a known version"),
            (r#"{"version":1,"keysets":[{"subscribe_key":"a","channels":[{"name":"c","occupants":[{"uuid":"u","timeout":5}]}]}]}"#, "keysets[0].channels[0].occupants[0].timeout: 5 is not in 20..=86400"),
            (r#"{"version":1,"keysets":[{"subscribe_key":"a","channels":[{"name":"c","occupants":[{"uuid":"u","seconds_left":301}]}]}]}"#, "keysets[0].channels[0].occupants[0].seconds_left: 301 is not in (0, timeout = 300]"),
            (r#"{"version":1,"keysets":[{"subscribe_key":"a","channels":[{"name":"c","occupants":[{"uuid":"u","state":[1]}]}]}]}"#, "keysets[0].channels[0].occupants[0].state: not a JSON object"),
            (r#"{"version":1,"keysets":[{"subscribe_key":"a","channels":[{"name":"c","occupants":[{"uuid":"u"},{"uuid":"u"}]}]}]}"#, "keysets[0].channels[0].occupants[1].uuid: user \"u\" is listed twice"),
            (r#"{"version":1,"keysets":[{"subscribe_key":"b"},{"subscribe_key":"a","channel_groups":[{"name":"g","channels":[]}]}]}"#, "keysets[1].channel_groups[0].channels: a group has at least one channel"),
            (r#"{"version":1,"keysets":[{"subscribe_key":"a","channels":[{"name":"c","occupants":[{"uuid":7}]}]}]}"#, "keysets[0].channels[0].occupants[0].uuid: invalid type: integer `7`"),
            (r#"{"version":1,"keysets":[{"subscribe_key":"a","event_cursor":"x1"}]}"#, "keysets[0].event_cursor: not a timetoken"),
            (r#"{"version":1}"#, "missing field `keysets`"),
            (r#"{"version":1,"keysets":[]} x"#, "trailing characters"),
        ];
        for (doc, want) in cases {
            let err = Snapshot::from_json(doc.as_bytes()).and_then(|s| m.restore(T0, &s));
            let err = err.expect_err(doc).to_string();
            assert!(err.starts_with(want), "{doc}: {err}");
            assert_eq!(m.snapshot(T0), before, "{doc}");
        }
    }

    #[test]
    fn a_reset_or_restore_empties_the_here_now_cache() {
        let mut m = Model::new(
            ModelConfig::new()
                .keyset(Keyset::new("a"))
                .here_now_cache(Duration::from_secs(3)),
        );
        let here = "/v2/presence/sub-key/a/channel/c?uuid=q";
        get(
            &mut m,
            T0,
            "/v2/presence/sub-key/a/channel/c/heartbeat?uuid=u",
        );
        let snap = m.snapshot(T0);
        assert!(get(&mut m, T0, here).contains(r#""occupancy":1"#));
        m.reset();
        assert!(get(&mut m, T0, here).contains(r#""occupancy":0"#));
        m.restore(T0, &snap).unwrap();
        assert!(get(&mut m, T0, here).contains(r#""occupancy":1"#));
    }

    #[test]
    fn a_restored_crowd_is_in_interval_mode() {
        let mut m = model();
        let doc = r#"{"version":1,"keysets":[{"subscribe_key":"a","channels":[{"name":"c","occupants":[{"uuid":"u1"},{"uuid":"u2"},{"uuid":"u3"}]}]}]}"#;
        m.restore(T0, &Snapshot::from_json(doc.as_bytes()).unwrap())
            .unwrap();
        get(&mut m, T0, "/v2/presence/sub-key/a/channel/c/leave?uuid=u1");
        // The leave is a delta of the next interval event, not an event of its own.
        assert_eq!(m.stats().events, 0);
        m.handle_timeout(T0 + Duration::from_secs(10));
        assert_eq!(m.stats().events, 1);
    }
}
