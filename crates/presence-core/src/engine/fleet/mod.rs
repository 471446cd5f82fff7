//! The fleet engine ([`FleetEngine`]): presence for many user ids from one client.

mod event;
mod user;

pub use self::event::{FleetEvent, FleetStats, UserStatus};
pub use self::user::FleetUser;

use self::user::{LeaveSet, Profile, Profiles};
use super::heartbeat::HeartbeatRequest;
use super::{Backoff, Failure, RequestId, Transmit};
use crate::request::CallOptions;
use crate::{Error, Heartbeat, Leave, Operation, UserId};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How far the catch-up pace of first heartbeats may lag behind the clock: a driver
/// woken late (timers are coarse: tokio's are 1 ms, while 100 000 users at 60 s release
/// one per 290 µs) sends that much of a backlog, at twice the steady rate, at once;
/// the rest of it goes at twice the steady rate.
const RELEASE_CREDIT: Duration = Duration::from_millis(10);

/// How many recent answers [`FleetStats`]' latency percentiles are taken over.
pub const LATENCY_WINDOW: usize = 4096;

/// Fleet engine settings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FleetConfig {
    /// Most requests in flight at once, across all users (at least 1).
    pub max_in_flight: usize,
    /// First retry delay after a retryable failure; retries back off exponentially with
    /// jitter, never slower than the user's heartbeat interval.
    pub retry_base: Duration,
    /// Retryable failures in a row after which a user gives up; `None` (the default):
    /// never, the user keeps retrying.
    pub give_up_after: Option<u32>,
    /// Never send leaves (the SDKs' `suppress_leave_events`): removed users time out.
    pub suppress_leave: bool,
    /// The window first heartbeats are spread over: `None` (the default) is each
    /// user's heartbeat interval; `Some(Duration::ZERO)` sends them as fast as the
    /// in-flight bound allows.
    pub spread: Option<Duration>,
    /// Seed for retry jitter.
    pub jitter_seed: u64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            retry_base: Duration::from_secs(1),
            give_up_after: None,
            suppress_leave: false,
            spread: None,
            jitter_seed: 0x5eed,
        }
    }
}

impl FleetConfig {
    /// The defaults: 64 requests in flight, retries from 1 s, never give up, leaves sent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`max_in_flight`](Self::max_in_flight).
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests;
        self
    }

    /// Sets [`retry_base`](Self::retry_base).
    pub fn retry_base(mut self, delay: Duration) -> Self {
        self.retry_base = delay;
        self
    }

    /// Sets [`give_up_after`](Self::give_up_after).
    pub fn give_up_after(mut self, failures: Option<u32>) -> Self {
        self.give_up_after = failures;
        self
    }

    /// Sets [`suppress_leave`](Self::suppress_leave).
    pub fn suppress_leave(mut self, yes: bool) -> Self {
        self.suppress_leave = yes;
        self
    }

    /// Sets [`spread`](Self::spread).
    pub fn spread(mut self, window: Option<Duration>) -> Self {
        self.spread = window;
        self
    }

    /// Sets [`jitter_seed`](Self::jitter_seed).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = seed;
        self
    }
}

/// When the next first heartbeat goes.
#[derive(Debug, Clone, Copy)]
struct Release {
    /// Its slot in the release schedule: the user's phase.
    slot: Instant,
    /// When it may go: the slot, or later while a late driver catches up.
    at: Instant,
    /// The catch-up pace after it.
    pace: Instant,
}

/// What a request in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Heartbeat,
    Leave,
}

#[derive(Debug)]
struct InFlight {
    slot: u32,
    kind: Kind,
    sent_at: Instant,
}

/// One user.
#[derive(Debug)]
struct Slot {
    user_id: UserId,
    /// What to heartbeat; `None` once removed.
    profile: Option<Arc<Profile>>,
    /// Names to leave before anything else.
    leave: Option<Box<LeaveSet>>,
    /// When the current heartbeat was due: the next is one interval later, so each user
    /// keeps its phase and the fleet stays spread.
    due: Instant,
    /// Bumped whenever the user is scheduled or sent: older timer entries are stale.
    generation: u32,
    /// Failures in a row.
    attempt: u32,
    status: UserStatus,
    in_flight: bool,
    /// Changed while a request was in flight: act again as soon as it is answered.
    dirty: bool,
    /// A heartbeat was ever sent (only then is there anything to leave).
    sent_any: bool,
}

/// The fleet engine, a sans-IO state machine driven as the crate docs' *driver
/// contract* says: keeps many user ids present from one client, each with its own
/// channels, groups, state and timeout. A heartbeat names one user (`uuid`), so the
/// fleet sends one per user per interval ([`Heartbeat::as_user`]), all from the same
/// connection pool.
///
/// - **One timer queue** for every user (a binary heap of due times), not a timer each;
///   [`poll_timeout`](Self::poll_timeout) is its earliest entry.
/// - **Spread.** First heartbeats are released at the fleet's steady rate — one every
///   `interval / users` — so a burst of 100 000 additions goes out over one interval
///   instead of at once, while a user added to a quiet fleet goes out at once
///   ([`FleetConfig::spread`] narrows the window). After
///   that each user heartbeats one interval after its previous heartbeat was due, so
///   the spread is kept. A driver woken late catches up on a backlog of first
///   heartbeats at twice the steady rate, and each user keeps its slot in the release
///   schedule as its phase, so even a late release is spread again from the second
///   interval on.
/// - **A bound on requests in flight** ([`FleetConfig::max_in_flight`]); due users wait
///   for a free slot, earliest first. While the bound is reached the engine has no
///   timeout: only an answer can make progress.
/// - **Per user**: one request in flight at most (a heartbeat and a leave of the same
///   user are never in flight together); failures back off per user (exponential with
///   jitter, never slower than the interval, `Retry-After` honoured up to it); a
///   failure retrying cannot fix (a 403) stops that user only
///   ([`FleetEvent::GaveUp`]).
/// - **Changes while running**: [`add`](Self::add) a user again to change its channels,
///   state or timeout (it heartbeats the new set at once and leaves the names it
///   dropped); [`remove`](Self::remove) it with or without a leave; [`stop`](Self::stop)
///   removes everyone and ends with [`FleetEvent::Stopped`].
/// - **Memory**: users with the same channels, groups, state and timeout share one copy
///   of them; what is left per user is its id and scheduling (see docs/PERFORMANCE.md).
///
/// ```
/// use presence_core::{FleetConfig, FleetEngine, FleetUser, HeartbeatRequest, UserId};
/// use std::time::Instant;
///
/// fn two_users(now: Instant) {
///     let mut fleet = FleetEngine::new(FleetConfig::new());
///     for id in ["npc-1", "npc-2"] {
///         fleet.add(now, FleetUser::new(UserId::new(id).unwrap()).channels(["arena"])).unwrap();
///     }
///     // The first goes out at once; the second one interval / 2 users later.
///     let tx = fleet.poll_request(now).unwrap();
///     assert!(matches!(tx.op, HeartbeatRequest::Heartbeat(_)));
///     assert!(fleet.poll_request(now).is_none());
///     assert!(fleet.poll_timeout().unwrap() > now);
/// }
/// # let _ = two_users; // compiled here; the driver passes its clock's `now`
/// ```
#[derive(Debug)]
pub struct FleetEngine {
    config: FleetConfig,
    call_options: CallOptions,
    slots: Vec<Option<Slot>>,
    /// Free slots with the last generation they had: a reused slot continues from it,
    /// so timer entries of its previous user stay stale.
    free: Vec<(u32, u32)>,
    index: HashMap<String, u32>,
    profiles: Profiles,
    /// `(due, slot, generation)`, earliest first.
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Users waiting for their first heartbeat, released one per release gap:
    /// `(slot, generation, when added)`.
    starting: VecDeque<(u32, u32, Instant)>,
    /// The release schedule of first heartbeats: `(slot, pace)`. The slot is when the
    /// last first heartbeat was scheduled to go: the next is one release gap later (the
    /// gap taken with the users held *then*, so users added after a release shorten
    /// the wait), and a late driver never shifts it. The pace advances half a gap per
    /// release and bounds a late driver's catch-up to twice the steady rate.
    last_release: Option<(Instant, Instant)>,
    in_flight: HashMap<RequestId, InFlight>,
    next_id: RequestId,
    backoff: Backoff,
    events: VecDeque<FleetEvent>,
    by_status: [usize; 5],
    /// Users with a profile (not removed): the divisor of the release gap.
    active: usize,
    stopping: bool,
    stopped_reported: bool,
    heartbeats: u64,
    heartbeat_errors: u64,
    leaves: u64,
    leave_errors: u64,
    latencies: Vec<u32>,
    latency_next: usize,
}

impl FleetEngine {
    /// A new, empty fleet.
    pub fn new(config: FleetConfig) -> Self {
        let backoff = Backoff::new(
            config.retry_base,
            Duration::from_secs(3600),
            config.jitter_seed,
        );
        Self {
            config,
            call_options: CallOptions::default(),
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            profiles: Profiles::default(),
            timers: BinaryHeap::new(),
            starting: VecDeque::new(),
            last_release: None,
            in_flight: HashMap::new(),
            next_id: 1,
            backoff,
            events: VecDeque::new(),
            by_status: [0; 5],
            active: 0,
            stopping: false,
            stopped_reported: false,
            heartbeats: 0,
            heartbeat_errors: 0,
            leaves: 0,
            leave_errors: 0,
            latencies: Vec::new(),
            latency_next: 0,
        }
    }

    /// Keyset choice and extra query parameters applied to every request (the user is
    /// set per request).
    pub fn set_call_options(&mut self, options: CallOptions) {
        self.call_options = options;
    }

    /// The settings.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Adds a user, or updates the one with the same id: invalid names or a state that
    /// is not a JSON object are an [`Error::InvalidInput`] and change nothing. An
    /// update heartbeats the new set at once and leaves the channels and groups it
    /// dropped; an unchanged user is left alone. A user that gave up starts again.
    /// Returns whether the user is new. Ignored (`Ok(false)`) after [`stop`](Self::stop).
    pub fn add(&mut self, now: Instant, user: FleetUser) -> Result<bool, Error> {
        let (user_id, profile) = user.into_parts()?;
        if self.stopping {
            return Ok(false);
        }
        let profile = self.profiles.intern(profile);
        if let Some(&slot) = self.index.get(user_id.as_str()) {
            self.update(now, slot, profile);
            return Ok(false);
        }
        let (slot, generation) = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            let slot = u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 users");
            (slot, 0)
        });
        self.index.insert(user_id.as_str().to_owned(), slot);
        self.slots[slot as usize] = Some(Slot {
            user_id,
            profile: Some(profile),
            leave: None,
            due: now,
            generation,
            attempt: 0,
            status: UserStatus::Starting,
            in_flight: false,
            dirty: false,
            sent_any: false,
        });
        self.by_status[UserStatus::Starting.index()] += 1;
        self.active += 1;
        self.enqueue_start(now, slot);
        Ok(true)
    }

    fn update(&mut self, now: Instant, slot: u32, profile: Arc<Profile>) {
        let suppress = self.config.suppress_leave;
        let s = self.slots[slot as usize].as_mut().expect("indexed slot");
        let unchanged = s.profile.as_ref().is_some_and(|p| Arc::ptr_eq(p, &profile))
            && s.status != UserStatus::GaveUp;
        if unchanged {
            return self.profiles.release(profile);
        }
        let old = s.profile.replace(profile.clone());
        if let Some(old) = &old {
            if s.sent_any && !suppress {
                let dropped = old.minus(&profile);
                if !dropped.is_empty() {
                    s.leave.get_or_insert_with(Box::default).merge(dropped);
                }
            }
        }
        // Names the user is back on need no leave.
        if let Some(leave) = s.leave.as_mut() {
            leave.keep_outside(&profile);
            if leave.is_empty() {
                s.leave = None;
            }
        }
        s.attempt = 0;
        // Not sent yet: it keeps its place among the first heartbeats.
        let queued = !s.sent_any && !s.in_flight && old.is_some();
        let busy = s.in_flight;
        if busy {
            s.dirty = true;
        }
        match old {
            Some(old) => self.profiles.release(old),
            None => self.active += 1,
        }
        self.profiles.release(profile);
        self.set_status(slot, UserStatus::Starting);
        if !busy && !queued {
            self.schedule(slot, now);
        }
    }

    /// Removes a user: with `leave` (and unless [`FleetConfig::suppress_leave`]) it gets
    /// one leave for its channels and groups, after any request of its in flight. Ends
    /// with [`FleetEvent::Removed`]. Returns whether the fleet held the user.
    pub fn remove(&mut self, now: Instant, user_id: &str, leave: bool) -> bool {
        let Some(&slot) = self.index.get(user_id) else {
            return false;
        };
        let suppress = self.config.suppress_leave;
        let s = self.slots[slot as usize].as_mut().expect("indexed slot");
        let Some(profile) = s.profile.take() else {
            // Already being removed: only its leave can be dropped.
            if !leave {
                s.leave = None;
                if !s.in_flight {
                    self.free_slot(slot);
                }
            }
            return true;
        };
        if leave && !suppress && s.sent_any {
            s.leave
                .get_or_insert_with(Box::default)
                .merge(profile.all());
        } else if !leave {
            s.leave = None;
        }
        let busy = s.in_flight;
        let has_leave = s.leave.is_some();
        self.profiles.release(profile);
        self.active -= 1;
        self.set_status(slot, UserStatus::Leaving);
        if busy {
            // Acted on when the request in flight is answered.
        } else if has_leave {
            self.schedule(slot, now);
        } else {
            self.free_slot(slot);
        }
        true
    }

    /// Removes every user (with their leaves when `leave`); [`FleetEvent::Stopped`]
    /// follows once all are gone. Later [`add`](Self::add)s are ignored.
    pub fn stop(&mut self, now: Instant, leave: bool) {
        self.stopping = true;
        let ids: Vec<String> = self.index.keys().cloned().collect();
        for id in ids {
            self.remove(now, &id, leave);
        }
        self.check_stopped();
    }

    /// Whether [`stop`](Self::stop) was called and everything it started is done.
    pub fn is_stopped(&self) -> bool {
        self.stopping && self.index.is_empty() && self.in_flight.is_empty()
    }

    /// The status of one user, if the fleet holds it.
    pub fn user(&self, user_id: &str) -> Option<UserStatus> {
        let slot = *self.index.get(user_id)?;
        Some(self.slots[slot as usize].as_ref()?.status)
    }

    /// Every user with its status, in no particular order.
    pub fn users(&self) -> impl Iterator<Item = (&str, UserStatus)> {
        self.slots
            .iter()
            .flatten()
            .map(|s| (s.user_id.as_str(), s.status))
    }

    /// The channels and groups a user currently heartbeats (sorted), if it is held and
    /// not removed.
    pub fn user_targets(&self, user_id: &str) -> Option<(&[String], &[String])> {
        let slot = *self.index.get(user_id)?;
        let profile = self.slots[slot as usize].as_ref()?.profile.as_ref()?;
        Some((&profile.channels, &profile.groups))
    }

    /// The counters.
    pub fn stats(&self) -> FleetStats {
        let count = |s: UserStatus| self.by_status[s.index()];
        let (p50, p99) = self.latency_percentiles();
        FleetStats {
            users: self.index.len(),
            starting: count(UserStatus::Starting),
            present: count(UserStatus::Present),
            retrying: count(UserStatus::Retrying),
            gave_up: count(UserStatus::GaveUp),
            leaving: count(UserStatus::Leaving),
            in_flight: self.in_flight.len(),
            heartbeats: self.heartbeats,
            heartbeat_errors: self.heartbeat_errors,
            leaves: self.leaves,
            leave_errors: self.leave_errors,
            latency_p50: p50,
            latency_p99: p99,
        }
    }

    /// Distinct channel/group/state/timeout combinations held (users share them).
    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    fn latency_percentiles(&self) -> (Option<Duration>, Option<Duration>) {
        if self.latencies.is_empty() {
            return (None, None);
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            Duration::from_micros(u64::from(sorted[i.min(sorted.len() - 1)]))
        };
        (Some(at(0.50)), Some(at(0.99)))
    }

    fn record_latency(&mut self, d: Duration) {
        let us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        if self.latencies.len() < LATENCY_WINDOW {
            self.latencies.push(us);
        } else {
            self.latencies[self.latency_next] = us;
        }
        self.latency_next = (self.latency_next + 1) % LATENCY_WINDOW;
    }

    fn set_status(&mut self, slot: u32, status: UserStatus) {
        let s = self.slots[slot as usize].as_mut().expect("live slot");
        if s.status != status {
            self.by_status[s.status.index()] -= 1;
            self.by_status[status.index()] += 1;
            s.status = status;
        }
    }

    fn schedule(&mut self, slot: u32, at: Instant) {
        let s = self.slots[slot as usize].as_mut().expect("live slot");
        s.generation = s.generation.wrapping_add(1);
        self.timers.push(Reverse((at, slot, s.generation)));
    }

    fn enqueue_start(&mut self, now: Instant, slot: u32) {
        let s = self.slots[slot as usize].as_mut().expect("live slot");
        s.generation = s.generation.wrapping_add(1);
        self.starting.push_back((slot, s.generation, now));
    }

    fn is_current(&self, slot: u32, generation: u32) -> bool {
        self.slots[slot as usize]
            .as_ref()
            .is_some_and(|s| s.generation == generation && !s.in_flight)
    }

    fn free_slot(&mut self, slot: u32) {
        let s = self.slots[slot as usize].take().expect("live slot");
        self.by_status[s.status.index()] -= 1;
        self.index.remove(s.user_id.as_str());
        if let Some(profile) = s.profile {
            self.profiles.release(profile);
            self.active -= 1;
        }
        self.free.push((slot, s.generation));
        self.events.push_back(FleetEvent::Removed {
            user_id: s.user_id.as_str().to_owned(),
        });
        self.check_stopped();
    }

    fn check_stopped(&mut self) {
        if self.is_stopped() && !self.stopped_reported {
            self.stopped_reported = true;
            self.timers.clear();
            self.starting.clear();
            self.events.push_back(FleetEvent::Stopped);
        }
    }

    /// Time between first heartbeats: the fleet's steady rate, one interval (or the
    /// configured spread) over the users held.
    fn release_gap(&self, profile: &Profile) -> Duration {
        let users = u32::try_from(self.active.max(1)).unwrap_or(u32::MAX);
        let window = self.config.spread.unwrap_or_else(|| profile.interval());
        window.min(profile.interval()) / users
    }

    /// The release of the first user of the starting queue (`None`: the queue is
    /// empty).
    fn next_release(&self) -> Option<Release> {
        let &(slot, _, added) = self.starting.front()?;
        let Some((last, pace)) = self.last_release else {
            // Nothing released yet: at once.
            return Some(Release {
                slot: added,
                at: added,
                pace: added,
            });
        };
        let gap = self.slots[slot as usize]
            .as_ref()
            .and_then(|s| s.profile.as_ref())
            .map_or(Duration::ZERO, |p| self.release_gap(p));
        // A user added to an idle queue starts at once, not at a slot in the past.
        let at = (last + gap).max(added);
        let pace = pace + gap / 2;
        Some(Release {
            slot: at,
            at: at.max(pace),
            pace,
        })
    }

    /// The next request to send, if one is due and a slot is free.
    pub fn poll_request(&mut self, now: Instant) -> Option<Transmit<HeartbeatRequest>> {
        if self.in_flight.len() >= self.config.max_in_flight.max(1) {
            return None;
        }
        loop {
            let timer = self.timers.peek().map(|Reverse(t)| *t);
            let start_due = self.next_release().is_some_and(|r| r.at <= now);
            match (timer, start_due) {
                (Some((at, slot, generation)), _) if at <= now => {
                    self.timers.pop();
                    if self.is_current(slot, generation) {
                        return Some(self.send(now, slot));
                    }
                }
                (_, true) => {
                    let release = self.next_release().expect("a user to release");
                    let (slot, generation, _) = self.starting.pop_front().expect("peeked");
                    if !self.is_current(slot, generation) {
                        continue;
                    }
                    let floor = now.checked_sub(RELEASE_CREDIT).unwrap_or(now);
                    self.last_release = Some((release.slot, release.pace.max(floor)));
                    if let Some(s) = self.slots[slot as usize].as_mut() {
                        // The user keeps its slot as its phase even when it went late: its
                        // next heartbeat is one interval after the slot, so the fleet is
                        // spread from the second interval on whatever the driver did. Never
                        // so far back that the next would be due within half an interval.
                        let interval = s.profile.as_ref().map_or(Duration::ZERO, |p| p.interval());
                        let earliest = now.checked_sub(interval / 2).unwrap_or(now);
                        s.due = release.slot.max(earliest);
                    }
                    return Some(self.send(now, slot));
                }
                _ => return None,
            }
        }
    }

    /// Builds the user's next request and marks it in flight.
    fn send(&mut self, now: Instant, slot: u32) -> Transmit<HeartbeatRequest> {
        let id = self.next_id;
        self.next_id += 1;
        let options = self.call_options.clone();
        let s = self.slots[slot as usize].as_mut().expect("live slot");
        s.generation = s.generation.wrapping_add(1);
        s.in_flight = true;
        s.dirty = false;
        let (kind, op) = if let Some(leave) = s.leave.take() {
            let LeaveSet { channels, groups } = *leave;
            let mut op = Leave::new().channels(channels).channel_groups(groups);
            *op.options_mut() = options;
            (
                Kind::Leave,
                HeartbeatRequest::Leave(op.as_user(s.user_id.clone())),
            )
        } else {
            let p = s
                .profile
                .as_ref()
                .expect("a user with nothing to leave is active");
            let mut op = Heartbeat::new()
                .channels(p.channels.iter().cloned())
                .channel_groups(p.groups.iter().cloned())
                .timeout(p.timeout);
            if let Some(state) = &p.state {
                op = op.state(state.clone());
            }
            *op.options_mut() = options;
            s.sent_any = true;
            (
                Kind::Heartbeat,
                HeartbeatRequest::Heartbeat(op.as_user(s.user_id.clone())),
            )
        };
        match kind {
            Kind::Heartbeat => self.heartbeats += 1,
            Kind::Leave => self.leaves += 1,
        }
        self.in_flight.insert(
            id,
            InFlight {
                slot,
                kind,
                sent_at: now,
            },
        );
        Transmit { id, op }
    }

    /// Feeds the response to request `id`.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &http::Response<B>,
    ) {
        let Some(kind) = self.in_flight.get(&id).map(|f| f.kind) else {
            return;
        };
        let outcome = match kind {
            Kind::Heartbeat => Heartbeat::new().parse_response(response),
            Kind::Leave => Leave::new().parse_response(response),
        };
        self.complete(now, id, outcome.map_err(Failure::Response));
    }

    /// Reports that request `id` failed: it did not complete
    /// ([`Failure::Transport`]), could not be built, or the driver already classified
    /// the answer.
    pub fn handle_failure(&mut self, now: Instant, id: RequestId, failure: Failure) {
        self.complete(now, id, Err(failure));
    }

    fn complete(&mut self, now: Instant, id: RequestId, outcome: Result<(), Failure>) {
        let Some(done) = self.in_flight.remove(&id) else {
            return;
        };
        self.record_latency(now.saturating_duration_since(done.sent_at));
        let slot = done.slot;
        let s = self.slots[slot as usize]
            .as_mut()
            .expect("a slot in flight is live");
        s.in_flight = false;
        match done.kind {
            Kind::Heartbeat => self.heartbeat_done(now, slot, outcome),
            Kind::Leave => self.leave_done(now, slot, outcome),
        }
    }

    fn heartbeat_done(&mut self, now: Instant, slot: u32, outcome: Result<(), Failure>) {
        if outcome.is_err() {
            self.heartbeat_errors += 1;
        }
        let s = self.slots[slot as usize].as_mut().expect("live slot");
        let Some(profile) = s.profile.clone() else {
            // Removed meanwhile: its leave, or nothing.
            return self.after_removal(now, slot);
        };
        if s.leave.is_some() || s.dirty {
            return self.schedule(slot, now);
        }
        let interval = profile.interval();
        match outcome {
            Ok(()) => {
                s.attempt = 0;
                let next = (s.due + interval).max(now);
                s.due = next;
                let user_id = s.user_id.as_str().to_owned();
                if s.status != UserStatus::Present {
                    self.set_status(slot, UserStatus::Present);
                    self.events.push_back(FleetEvent::Present { user_id });
                }
                self.schedule(slot, next);
            }
            Err(failure) => {
                s.attempt = s.attempt.saturating_add(1);
                let attempt = s.attempt;
                let user_id = s.user_id.as_str().to_owned();
                let give_up = !failure.is_retryable()
                    || self
                        .config
                        .give_up_after
                        .is_some_and(|n| attempt >= n.max(1));
                if give_up {
                    self.set_status(slot, UserStatus::GaveUp);
                    self.events
                        .push_back(FleetEvent::GaveUp { user_id, failure });
                    return;
                }
                let mut delay = self.backoff.delay(attempt - 1).min(interval);
                if let Some(after) = failure.retry_after() {
                    delay = delay.max(after).min(interval);
                }
                let s = self.slots[slot as usize].as_mut().expect("live slot");
                s.due = now + delay;
                self.set_status(slot, UserStatus::Retrying);
                self.events.push_back(FleetEvent::Failed {
                    user_id,
                    failure,
                    retry_in: delay,
                });
                self.schedule(slot, now + delay);
            }
        }
    }

    fn leave_done(&mut self, now: Instant, slot: u32, outcome: Result<(), Failure>) {
        if let Err(failure) = outcome {
            self.leave_errors += 1;
            let s = self.slots[slot as usize].as_ref().expect("live slot");
            self.events.push_back(FleetEvent::LeaveFailed {
                user_id: s.user_id.as_str().to_owned(),
                failure,
            });
        }
        let s = self.slots[slot as usize].as_ref().expect("live slot");
        if s.profile.is_some() {
            // Updated (or added back): heartbeat the current set now.
            self.schedule(slot, now);
        } else {
            self.after_removal(now, slot);
        }
    }

    fn after_removal(&mut self, now: Instant, slot: u32) {
        let s = self.slots[slot as usize].as_ref().expect("live slot");
        if s.leave.is_some() {
            self.schedule(slot, now);
        } else {
            self.free_slot(slot);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed: the earliest due
    /// user, or `None` when nothing is scheduled or the in-flight bound is reached (an
    /// answer must come first).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight.len() >= self.config.max_in_flight.max(1) {
            return None;
        }
        let timer = self.timers.peek().map(|Reverse((at, _, _))| *at);
        let start = self.next_release().map(|r| r.at);
        match (timer, start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time passed: drops stale timer entries so that [`poll_timeout`](Self::poll_timeout)
    /// moves on; due users are handed out by [`poll_request`](Self::poll_request).
    pub fn handle_timeout(&mut self, _now: Instant) {
        while let Some(Reverse((_, slot, generation))) = self.timers.peek().copied() {
            if self.is_current(slot, generation) {
                break;
            }
            self.timers.pop();
        }
        while let Some(&(slot, generation, _)) = self.starting.front() {
            if self.is_current(slot, generation) {
                break;
            }
            self.starting.pop_front();
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<FleetEvent> {
        self.events.pop_front()
    }
}
