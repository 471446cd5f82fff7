//! The roster engine (`RosterEngine`): the members of channels kept right from a paged
//! here-now snapshot and the presence events after it.

mod change;
mod request;

pub use change::{ChangeKind, Member, ResyncReason, RosterChange, RosterEvent};
pub use request::RosterRequest;

use super::{Backoff, Failure, RequestId, Transmit};
use crate::engine::watch::{WatchConfig, WatchEngine, WatchEvent, WatchState};
use crate::ops::here_now_pages::HereNowPager;
use crate::request::{CallOptions, Operation};
use crate::{HereNow, HereNowResult, PresenceEvent, RawJson, HERE_NOW_MAX_LIMIT};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Roster engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterConfig {
    /// The watch engine's settings (reconnect backoff, de-duplication).
    pub watch: WatchConfig,
    /// User ids per here-now page (1..=1000; default 1000, the service's largest).
    pub page_size: u32,
    /// Resync on this period as well, whatever the events say (default: never).
    pub resync_every: Option<Duration>,
    /// Shortest time between two resyncs (default 1 s): an origin that keeps asking for
    /// one (`here_now_refresh` on every interval) cannot make the roster spin. In
    /// interval mode every interval event asks for one; a longer gap means fewer here
    /// nows on large channels and a roster that may be off for longer in between.
    pub resync_gap: Duration,
    /// First retry delay of a here-now page that failed (retryable failures).
    pub retry_base: Duration,
    /// Longest retry delay of a page.
    pub retry_cap: Duration,
    /// Seed for retry jitter.
    pub jitter_seed: u64,
    /// How many departed members' last timetokens are remembered, so that a late or
    /// repeated event about them is not applied again.
    pub departures_kept: usize,
}

impl Default for RosterConfig {
    fn default() -> Self {
        Self {
            watch: WatchConfig::default(),
            page_size: HERE_NOW_MAX_LIMIT,
            resync_every: None,
            resync_gap: Duration::from_secs(1),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(32),
            jitter_seed: 0x5eed,
            departures_kept: 4096,
        }
    }
}

/// One member as the roster keeps it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    state: Option<RawJson<'static>>,
    /// The timetoken of the last event applied to this member (0: from a snapshot).
    tt: u64,
}

/// One channel's members.
#[derive(Debug, Clone, Default)]
struct ChannelRoster {
    members: BTreeMap<String, Entry>,
    occupancy: u64,
    /// Departed members' last timetokens, oldest first (bounded).
    departed: HashMap<String, u64>,
    departed_order: VecDeque<String>,
}

impl ChannelRoster {
    fn depart(&mut self, user: &str, tt: u64, keep: usize) {
        if self.departed.insert(user.to_owned(), tt).is_none() {
            self.departed_order.push_back(user.to_owned());
        }
        while self.departed_order.len() > keep.max(1) {
            if let Some(old) = self.departed_order.pop_front() {
                self.departed.remove(&old);
            }
        }
    }

    /// The last timetoken known for `user`, present or departed.
    fn last_tt(&self, user: &str) -> Option<u64> {
        self.members
            .get(user)
            .map(|e| e.tt)
            .or_else(|| self.departed.get(user).copied())
    }

    fn member_list(&self) -> Vec<Member> {
        self.members
            .iter()
            .map(|(user_id, e)| Member {
                user_id: user_id.clone(),
                state: e.state.clone(),
            })
            .collect()
    }
}

/// A snapshot being read.
#[derive(Debug)]
struct Snapshot {
    pager: HereNowPager,
    reason: ResyncReason,
    in_flight: Option<RequestId>,
    retry_at: Option<Instant>,
    attempt: u32,
    /// Unstable snapshots read again in a row.
    unstable: u32,
    /// Events that arrived while it was read, applied after it.
    buffered: Vec<PresenceEvent>,
}

/// What a handed-out request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Watch(RequestId),
    Page,
}

/// Snapshots read again at once when their pages disagree, before the roster accepts
/// one and resyncs later.
const UNSTABLE_RETRIES: u32 = 3;

/// The roster engine: per channel the members with their state, kept right, a sans-IO
/// state machine driven as the crate docs' *driver contract* says. It composes a
/// [`WatchEngine`] (an observer: it subscribes to `-pnpres` channels only and never
/// heartbeats, so whoever holds a roster is never counted as an occupant) with a paged
/// here now ([`HereNowPager`]) for snapshots.
///
/// - Once the watch has a cursor it reads a snapshot (here now with state, every page);
///   events that arrive meanwhile are kept and applied after it, in timetoken order.
///   Events are applied per member by timetoken: a late or repeated event about a
///   member (older than what was applied) is dropped; departed members' timetokens are
///   remembered ([`RosterConfig::departures_kept`]).
/// - It resyncs (a fresh snapshot, reported as [`ChangeKind::Resynced`] with the
///   difference) after every interval event. On `here_now_refresh`, when the deltas do
///   not explain its occupancy, or when it has joins (interval events carry no state:
///   the joined users' states come from the snapshot) it is out of sync until then.
///   Otherwise it stays in sync and the snapshot only confirms
///   ([`ResyncReason::IntervalWindow`]): the deltas are net changes over a window that
///   may have begun before the last snapshot, so a user who joined and left (or left
///   and came back) across that snapshot is in no list, and with another such user or
///   a lost delta the count can still add up. The deltas are applied and reported at
///   once; the snapshot corrects what they cannot show. In interval mode that is one
///   snapshot (of all the roster's channels) after each interval event, at most one
///   per [`RosterConfig::resync_gap`]: raise the gap to trade freshness for load. It
///   also resyncs on an event whose occupancy differs from the members counted, after
///   a subscribe failure (events may have been missed), when channels change, when a
///   snapshot's pages disagree, and every [`RosterConfig::resync_every`] if set. Never
///   more often than [`RosterConfig::resync_gap`].
/// - Every change to the members is reported, once: a join, leave, timeout or state
///   change as its [`ChangeKind`], the users an interval event lists one change each,
///   and a resync's difference as [`ChangeKind::Resynced`]. Replaying the changes from
///   an empty roster gives exactly [`members`](RosterEngine::members).
/// - A failure that retrying cannot fix (a 403 on the subscribe or a page) stops it:
///   [`RosterEvent::Failed`] with `retry_in: None` is its last event.
///
/// ```
/// use presence_core::{RosterConfig, RosterEngine, RosterRequest, MIN_POLL_GAP};
/// use std::time::Instant;
///
/// fn first_requests(now: Instant) {
///     let mut roster = RosterEngine::new(RosterConfig::default());
///     roster.add(now, ["lobby"], Vec::<String>::new());
///     let tx = roster.poll_request(now).expect("the watch's handshake");
///     assert!(matches!(tx.op, RosterRequest::Subscribe(_)));
///     let handshake = http::Response::new(&br#"{"t":{"t":"1","r":1},"m":[]}"#[..]);
///     roster.handle_response(now, tx.id, &handshake);
///     // Connected: the first page of the snapshot at once; the long-poll after the
///     // watch's floor between subscribes.
///     let kinds: Vec<&str> = std::iter::from_fn(|| roster.poll_request(now))
///         .map(|tx| tx.op.name())
///         .collect();
///     assert_eq!(kinds, ["here_now"]);
///     assert_eq!(roster.poll_timeout(), Some(now + MIN_POLL_GAP));
///     roster.handle_timeout(now + MIN_POLL_GAP);
///     let tx = roster.poll_request(now + MIN_POLL_GAP).expect("the long-poll");
///     assert!(matches!(tx.op, RosterRequest::Subscribe(_)));
///     assert!(!roster.is_synced());
/// }
/// # let _ = first_requests; // compiled here; the driver passes its clock's `now`
/// ```
#[derive(Debug)]
pub struct RosterEngine {
    config: RosterConfig,
    watch: WatchEngine,
    channels: BTreeSet<String>,
    groups: BTreeSet<String>,
    rosters: BTreeMap<String, ChannelRoster>,
    synced: bool,
    /// A resync is wanted (the reason of the first request since the last one).
    wanted: Option<ResyncReason>,
    /// A snapshot to confirm interval deltas is due: no known drift, so the roster
    /// stays in sync meanwhile ([`ResyncReason::IntervalWindow`]).
    confirm: bool,
    snapshot: Option<Snapshot>,
    last_resync: Option<Instant>,
    next_periodic: Option<Instant>,
    sent: HashMap<RequestId, Sent>,
    /// Roster ids of the watch's requests, by the watch's id.
    watch_ids: HashMap<RequestId, RequestId>,
    to_cancel: VecDeque<RequestId>,
    events: VecDeque<RosterEvent>,
    backoff: Backoff,
    next_id: RequestId,
    call_options: CallOptions,
    stopped: bool,
}

impl RosterEngine {
    /// A new engine with nothing to watch.
    pub fn new(config: RosterConfig) -> Self {
        let backoff = Backoff::new(config.retry_base, config.retry_cap, config.jitter_seed);
        Self {
            watch: WatchEngine::new(config.watch.clone()),
            config,
            channels: BTreeSet::new(),
            groups: BTreeSet::new(),
            rosters: BTreeMap::new(),
            synced: false,
            wanted: None,
            confirm: false,
            snapshot: None,
            last_resync: None,
            next_periodic: None,
            sent: HashMap::new(),
            watch_ids: HashMap::new(),
            to_cancel: VecDeque::new(),
            events: VecDeque::new(),
            backoff,
            next_id: 1,
            call_options: CallOptions::default(),
            stopped: false,
        }
    }

    /// Keyset choice and extra query parameters applied to every request.
    pub fn set_call_options(&mut self, options: CallOptions) {
        self.watch.set_call_options(options.clone());
        self.call_options = options;
    }

    /// The settings.
    pub fn config(&self) -> &RosterConfig {
        &self.config
    }

    /// Whether the roster knows of no drift: a snapshot and every event since are
    /// applied, and nothing since says they disagree. In interval mode a confirming
    /// snapshot may still correct the members (reported as [`ChangeKind::Resynced`]
    /// with [`ResyncReason::IntervalWindow`], with no `OutOfSync` or `Synced` around
    /// it): interval deltas cannot show everything.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Whether the roster stopped on a failure that retrying cannot fix.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The channels with members (or known to be empty), sorted.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.rosters.keys().map(String::as_str)
    }

    /// The members of `channel`, sorted by user id (empty for a channel it knows
    /// nothing of).
    pub fn members(&self, channel: &str) -> Vec<Member> {
        self.rosters
            .get(channel)
            .map(ChannelRoster::member_list)
            .unwrap_or_default()
    }

    /// How many members `channel` has.
    pub fn member_count(&self, channel: &str) -> usize {
        self.rosters.get(channel).map_or(0, |r| r.members.len())
    }

    /// The occupancy the service last reported for `channel`.
    pub fn occupancy(&self, channel: &str) -> Option<u64> {
        self.rosters.get(channel).map(|r| r.occupancy)
    }

    /// Adds channels and groups to keep (user-facing names): a resync follows.
    pub fn add<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let (channels, groups) = crate::engine::owned_names(channels, groups);
        let sets = (&mut self.channels, &mut self.groups);
        if crate::engine::edit_names(sets, &channels, &groups, true) {
            self.watch.add(now, channels, groups);
            self.after_watch_input();
            // Before the first handshake its `Connected` starts the first snapshot.
            if self.watch.cursor().is_some() {
                self.want(ResyncReason::ChannelsChanged);
            }
        }
    }

    /// Stops keeping channels and groups: their members are dropped and a resync
    /// follows (a group's channels are known only through a snapshot).
    pub fn remove<C, G, S, T>(&mut self, now: Instant, channels: C, groups: G)
    where
        C: IntoIterator<Item = S>,
        G: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        let (channels, groups) = crate::engine::owned_names(channels, groups);
        let sets = (&mut self.channels, &mut self.groups);
        if crate::engine::edit_names(sets, &channels, &groups, false) {
            self.watch.remove(now, channels, groups);
            self.after_watch_input();
            if self.channels.is_empty() && self.groups.is_empty() {
                self.rosters.clear();
                self.abandon_snapshot();
                self.wanted = None;
                self.confirm = false;
            } else {
                self.want(ResyncReason::ChannelsChanged);
            }
        }
    }

    /// Stops: requests in flight are to be cancelled; nothing more is sent.
    pub fn stop(&mut self, now: Instant) {
        self.watch.stop(now);
        self.after_watch_input();
        self.abandon_snapshot();
        self.stopped = true;
        self.synced = false;
    }

    fn want(&mut self, reason: ResyncReason) {
        if self.stopped {
            return;
        }
        if self.synced {
            self.events.push_back(RosterEvent::OutOfSync(reason));
        }
        self.synced = false;
        if self.wanted.is_none() {
            self.wanted = Some(reason);
        }
    }

    fn abandon_snapshot(&mut self) {
        if let Some(snap) = self.snapshot.take() {
            if let Some(id) = snap.in_flight {
                self.to_cancel.push_back(id);
            }
        }
    }

    fn next_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// When a resync may start: the gap after the last one.
    fn resync_allowed_at(&self) -> Option<Instant> {
        self.last_resync.map(|t| t + self.config.resync_gap)
    }

    /// The next request to send, if any. Call until `None` after every input.
    #[must_use]
    pub fn poll_request(&mut self, now: Instant) -> Option<Transmit<RosterRequest>> {
        if let Some(tx) = self.watch.poll_request(now) {
            let id = self.next_id();
            self.sent.insert(id, Sent::Watch(tx.id));
            self.watch_ids.insert(tx.id, id);
            return Some(Transmit {
                id,
                op: RosterRequest::Subscribe(tx.op),
            });
        }
        if self.stopped {
            return None;
        }
        self.maybe_start_resync(now);
        let snap = self.snapshot.as_mut()?;
        if snap.in_flight.is_some() || snap.retry_at.is_some_and(|t| t > now) {
            return None;
        }
        let mut op = snap.pager.next_page()?;
        *op.options_mut() = self.call_options.clone();
        snap.retry_at = None;
        let id = self.next_id;
        self.next_id += 1;
        self.snapshot.as_mut()?.in_flight = Some(id);
        self.sent.insert(id, Sent::Page);
        Some(Transmit {
            id,
            op: RosterRequest::HereNow(op),
        })
    }

    fn maybe_start_resync(&mut self, now: Instant) {
        if self.snapshot.is_some() || self.watch.cursor().is_none() {
            return;
        }
        if self.wanted.is_none() && self.next_periodic.is_some_and(|t| t <= now) {
            self.want(ResyncReason::Periodic);
        }
        let confirm = self.confirm.then_some(ResyncReason::IntervalWindow);
        let Some(reason) = self.wanted.or(confirm) else {
            return;
        };
        if self.resync_allowed_at().is_some_and(|t| t > now)
            || self.watch.state() != WatchState::Receiving
        {
            return;
        }
        self.wanted = None;
        self.confirm = false;
        self.last_resync = Some(now);
        self.next_periodic = self.config.resync_every.map(|d| now + d);
        let op = HereNow::new()
            .channels(self.channels.iter().cloned())
            .channel_groups(self.groups.iter().cloned())
            .include_state(true)
            .limit(self.config.page_size.clamp(1, HERE_NOW_MAX_LIMIT));
        self.snapshot = Some(Snapshot {
            pager: HereNowPager::new(op),
            reason,
            in_flight: None,
            retry_at: None,
            attempt: 0,
            unstable: 0,
            buffered: Vec::new(),
        });
    }

    /// A request the driver should abort (superseded or stopped).
    #[must_use]
    pub fn poll_cancel(&mut self) -> Option<RequestId> {
        while let Some(watch_id) = self.watch.poll_cancel() {
            if let Some(id) = self.watch_ids.remove(&watch_id) {
                self.to_cancel.push_back(id);
            }
        }
        self.to_cancel.pop_front()
    }

    /// Feeds the response to request `id`.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &http::Response<B>,
    ) {
        match self.sent.remove(&id) {
            Some(Sent::Watch(watch_id)) => {
                self.watch_ids.remove(&watch_id);
                self.watch.handle_response(now, watch_id, response);
                self.after_watch_input();
            }
            Some(Sent::Page) => {
                let Some(snap) = self.snapshot.as_ref() else {
                    return;
                };
                if snap.in_flight != Some(id) {
                    return;
                }
                let page_op = snap.pager.next_page();
                let parsed = match page_op {
                    Some(op) => op.parse_response(response),
                    None => return,
                };
                match parsed {
                    Ok(page) => self.page_read(page),
                    Err(e) => self.page_failed(now, Failure::Response(e)),
                }
            }
            None => {}
        }
    }

    /// Reports that request `id` failed (it did not complete, or the driver already
    /// classified the answer).
    pub fn handle_failure(&mut self, now: Instant, id: RequestId, failure: Failure) {
        match self.sent.remove(&id) {
            Some(Sent::Watch(watch_id)) => {
                self.watch_ids.remove(&watch_id);
                self.watch.handle_failure(now, watch_id, failure);
                self.after_watch_input();
            }
            Some(Sent::Page) if self.snapshot.as_ref().and_then(|s| s.in_flight) == Some(id) => {
                self.page_failed(now, failure);
            }
            Some(Sent::Page) => {}
            None => {}
        }
    }

    /// Reports that request `id` was cancelled.
    pub fn handle_cancelled(&mut self, now: Instant, id: RequestId) {
        match self.sent.remove(&id) {
            Some(Sent::Watch(watch_id)) => {
                self.watch_ids.remove(&watch_id);
                self.watch.handle_cancelled(now, watch_id);
            }
            Some(Sent::Page) => {
                if let Some(snap) = self.snapshot.as_mut() {
                    if snap.in_flight == Some(id) {
                        snap.in_flight = None;
                    }
                }
            }
            None => {}
        }
    }

    fn page_failed(&mut self, now: Instant, failure: Failure) {
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        snap.in_flight = None;
        if failure.is_retryable() {
            let mut delay = self.backoff.delay(snap.attempt);
            if let Some(after) = failure.retry_after() {
                delay = delay.max(after).min(self.backoff.cap());
            }
            snap.attempt = snap.attempt.saturating_add(1);
            snap.retry_at = Some(now + delay);
            self.events.push_back(RosterEvent::Failed {
                failure,
                retry_in: Some(delay),
            });
        } else {
            self.fail_for_good(now, failure);
        }
    }

    fn fail_for_good(&mut self, now: Instant, failure: Failure) {
        self.stop(now);
        self.events.push_back(RosterEvent::Failed {
            failure,
            retry_in: None,
        });
    }

    fn page_read(&mut self, page: HereNowResult<'static>) {
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        snap.in_flight = None;
        snap.attempt = 0;
        snap.pager.handle_page(page);
        if !snap.pager.is_done() {
            return;
        }
        if !snap.pager.is_stable() && snap.unstable < UNSTABLE_RETRIES {
            // Read again at once, keeping what arrived meanwhile.
            snap.pager.restart();
            snap.unstable += 1;
            return;
        }
        let Some(snap) = self.snapshot.take() else {
            return;
        };
        let stable = snap.pager.is_stable();
        let reason = snap.reason;
        let mut buffered = snap.buffered;
        self.install(reason, snap.pager.into_result());
        buffered.sort_by_key(event_tt);
        for event in buffered {
            self.apply(event);
        }
        if !stable {
            // Accepted after the retries: another read after the gap.
            self.want(ResyncReason::UnstableSnapshot);
        }
        if self.wanted.is_none() && !self.stopped && !self.synced {
            self.synced = true;
            self.events.push_back(RosterEvent::Synced);
        }
    }

    /// Replaces every channel's members with the snapshot's, reporting the differences.
    fn install(&mut self, reason: ResyncReason, snapshot: HereNowResult<'static>) {
        let first = self.last_resync.is_some() && self.rosters.is_empty();
        let mut fresh: BTreeMap<String, ChannelRoster> = BTreeMap::new();
        for channel in snapshot.channels {
            let roster = fresh.entry(channel.name.to_string()).or_default();
            roster.occupancy = channel.occupancy;
            for o in channel.occupants {
                roster.members.insert(
                    o.user_id.into_string(),
                    Entry {
                        state: o.state,
                        tt: 0,
                    },
                );
            }
        }
        // The states are ranges of the snapshot's body: kept as ranges of one text of
        // their own instead, so the roster does not hold every body it installed.
        crate::text::compact(
            fresh
                .values_mut()
                .flat_map(|r| r.members.values_mut())
                .filter_map(|e| e.state.as_mut().map(RawJson::store_mut))
                .collect(),
        );
        // Listed channels with nobody present are known to be empty.
        for channel in &self.channels {
            fresh.entry(channel.clone()).or_default();
        }
        let names: BTreeSet<String> = fresh.keys().chain(self.rosters.keys()).cloned().collect();
        for name in names {
            let old = self.rosters.get(&name);
            let new = fresh.get(&name);
            let empty = ChannelRoster::default();
            let (old_r, new_r) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
            let mut joined = Vec::new();
            let mut changed = Vec::new();
            for (user, e) in &new_r.members {
                match old_r.members.get(user) {
                    None => joined.push(Member {
                        user_id: user.clone(),
                        state: e.state.clone(),
                    }),
                    Some(o) if o.state != e.state => changed.push(Member {
                        user_id: user.clone(),
                        state: e.state.clone(),
                    }),
                    Some(_) => {}
                }
            }
            let left: Vec<String> = old_r
                .members
                .keys()
                .filter(|u| !new_r.members.contains_key(*u))
                .cloned()
                .collect();
            if first || !joined.is_empty() || !left.is_empty() || !changed.is_empty() {
                self.events.push_back(RosterEvent::Change(RosterChange {
                    channel: name.clone(),
                    occupancy: new_r.occupancy,
                    change: ChangeKind::Resynced {
                        reason,
                        joined,
                        left,
                        changed,
                    },
                }));
            }
        }
        self.rosters = fresh;
    }

    /// Drains the watch's events into the roster.
    fn after_watch_input(&mut self) {
        // One answer's presence events, applied in timetoken order however the answer
        // listed them (a stable sort: events of one timetoken keep their order).
        let mut batch: Vec<PresenceEvent> = Vec::new();
        while let Some(event) = self.watch.poll_event() {
            match event {
                WatchEvent::Presence(e) => batch.push(e),
                notice => {
                    self.take_batch(&mut batch);
                    self.watch_notice(notice);
                }
            }
        }
        self.take_batch(&mut batch);
    }

    /// A watch event other than a presence event.
    fn watch_notice(&mut self, notice: WatchEvent) {
        match notice {
            WatchEvent::Connected => self.want(ResyncReason::Start),
            // Batched by `after_watch_input`.
            WatchEvent::Presence(_) => {}
            WatchEvent::Failed {
                failure,
                retry_in: Some(delay),
            } => {
                self.events.push_back(RosterEvent::Failed {
                    failure,
                    retry_in: Some(delay),
                });
                self.want(ResyncReason::EventsMissed);
            }
            WatchEvent::Failed {
                failure,
                retry_in: None,
            } => {
                self.abandon_snapshot();
                self.stopped = true;
                self.synced = false;
                self.events.push_back(RosterEvent::Failed {
                    failure,
                    retry_in: None,
                });
            }
            // Always follows a `Failed` without a retry, which stopped the roster.
            WatchEvent::GaveUp { .. } => {}
            // An unreadable message may have been about a member.
            WatchEvent::Unreadable(_) => self.want(ResyncReason::OccupancyMismatch),
        }
    }

    /// Applies (or, during a snapshot, keeps) `batch` in timetoken order.
    fn take_batch(&mut self, batch: &mut Vec<PresenceEvent>) {
        batch.sort_by_key(event_tt);
        for e in batch.drain(..) {
            match self.snapshot.as_mut() {
                Some(snap) => snap.buffered.push(e),
                None => self.apply(e),
            }
        }
    }

    /// Applies one presence event (outside a snapshot).
    fn apply(&mut self, event: PresenceEvent) {
        let tt = event_tt(&event);
        let keep = self.config.departures_kept;
        let channel = event.channel().to_owned();
        let roster = self.rosters.entry(channel.clone()).or_default();
        let mut changes = Vec::new();
        let mut mismatch = None;
        match &event {
            PresenceEvent::Interval(i) => {
                for user in &i.join {
                    if stale(roster.last_tt(user), tt) {
                        continue;
                    }
                    let state = roster.members.get(user).and_then(|e| e.state.clone());
                    roster.departed.remove(user);
                    let previous = roster.members.insert(
                        user.clone(),
                        Entry {
                            state: state.clone(),
                            tt,
                        },
                    );
                    if previous.is_none() {
                        changes.push(ChangeKind::Joined(Member {
                            user_id: user.clone(),
                            state,
                        }));
                    }
                }
                let departures = i.leave.iter().map(|u| (u, false));
                for (user, timed_out) in departures.chain(i.timeout.iter().map(|u| (u, true))) {
                    if stale(roster.last_tt(user), tt) {
                        continue;
                    }
                    let was = roster.members.remove(user).is_some();
                    roster.depart(user, tt, keep);
                    if was {
                        let user_id = user.clone();
                        changes.push(if timed_out {
                            ChangeKind::TimedOut { user_id }
                        } else {
                            ChangeKind::Left { user_id }
                        });
                    }
                }
                roster.occupancy = i.occupancy;
                if i.here_now_refresh {
                    mismatch = Some(ResyncReason::HereNowRefresh);
                } else if roster.members.len() as u64 != i.occupancy {
                    mismatch = Some(ResyncReason::IntervalMismatch);
                } else if !i.join.is_empty() {
                    // Their states are in a snapshot only (at most one per resync gap).
                    mismatch = Some(ResyncReason::IntervalJoins);
                } else {
                    // Net deltas over a window the roster cannot place against its
                    // snapshot: they may add up and still be wrong (a user who joined
                    // before the snapshot and left after it is in neither list). No
                    // known drift: a quiet snapshot confirms them.
                    self.confirm = true;
                }
            }
            other => {
                let Some(c) = other.change() else { return };
                if stale(roster.last_tt(&c.user_id), tt) {
                    return;
                }
                roster.occupancy = c.occupancy;
                match other {
                    PresenceEvent::Join(_) | PresenceEvent::StateChange(_) => {
                        let state = c.state.clone().or_else(|| {
                            // A join without data keeps a state the roster knew.
                            matches!(other, PresenceEvent::Join(_))
                                .then(|| {
                                    roster.members.get(&c.user_id).and_then(|e| e.state.clone())
                                })
                                .flatten()
                        });
                        let previous = roster.members.insert(
                            c.user_id.clone(),
                            Entry {
                                state: state.clone(),
                                tt,
                            },
                        );
                        roster.departed.remove(&c.user_id);
                        let member = Member {
                            user_id: c.user_id.clone(),
                            state,
                        };
                        match previous {
                            None => changes.push(ChangeKind::Joined(member)),
                            Some(p) if p.state != member.state => {
                                changes.push(ChangeKind::StateChanged(member));
                            }
                            Some(_) => {}
                        }
                    }
                    _ => {
                        let was = roster.members.remove(&c.user_id).is_some();
                        roster.depart(&c.user_id, tt, keep);
                        let user_id = c.user_id.clone();
                        let departed = match other {
                            PresenceEvent::Timeout(_) => ChangeKind::TimedOut { user_id },
                            _ => ChangeKind::Left { user_id },
                        };
                        if was {
                            changes.push(departed);
                        }
                    }
                }
                if roster.members.len() as u64 != c.occupancy {
                    mismatch = Some(ResyncReason::OccupancyMismatch);
                }
            }
        }
        let occupancy = roster.occupancy;
        for change in changes {
            self.events.push_back(RosterEvent::Change(RosterChange {
                channel: channel.clone(),
                occupancy,
                change,
            }));
        }
        if let Some(reason) = mismatch {
            self.want(reason);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let snapshot = self.snapshot.as_ref().and_then(|s| {
            if s.in_flight.is_none() {
                s.retry_at
            } else {
                None
            }
        });
        // A resync can start only on a receiving watch; until then (a reconnect
        // pending) the watch's own timer is the one that matters. A deadline that could
        // not start anything would have the driver spin.
        let ready = self.watch.cursor().is_some() && self.watch.state() == WatchState::Receiving;
        let wanted = self.wanted.is_some() || self.confirm;
        let resync = match (wanted, &self.snapshot) {
            (true, None) if ready => self.resync_allowed_at(),
            (false, None) if ready => self.next_periodic,
            _ => None,
        };
        [self.watch.poll_timeout(), snapshot, resync]
            .into_iter()
            .flatten()
            .min()
    }

    /// Advances timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.watch.handle_timeout(now);
        self.after_watch_input();
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RosterEvent> {
        self.events.pop_front()
    }
}

/// Whether an event at `tt` is older than (or as old as) what was applied last; events
/// without a timetoken are always applied.
fn stale(last: Option<u64>, tt: u64) -> bool {
    tt > 0 && last.is_some_and(|t| t >= tt)
}

/// An event's publish timetoken as a number (0 when it has none or it is not one).
fn event_tt(event: &PresenceEvent) -> u64 {
    event.timetoken().parse().unwrap_or(0)
}
