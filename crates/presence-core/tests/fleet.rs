//! The fleet engine against a reference model, in virtual time.
//!
//! A random script adds users (a channel set, a timeout, a state), updates them (adding
//! them again), removes them with or without a leave, decides how the service answers
//! each user (200, 500, 403, a transport failure) and moves the clock; requests are
//! answered after a random latency of at most [`MAX_LATENCY`]. The test is the driver:
//! it loops on `poll_request` / `poll_timeout` / `handle_timeout` and fails on a loop
//! that does not advance time (a spin).
//!
//! Checked after every step, and at the end after `stop`:
//! - a user never has two requests in flight (so never a heartbeat and a leave);
//! - every heartbeat names exactly the user's current channels and groups, timeout and
//!   state, and is made as that user;
//! - a user that is present and unchanged heartbeats exactly one interval after its
//!   previous heartbeat (the spread is kept), whatever other users' requests do —
//!   failures and retries of others included;
//! - a removed user gets exactly one leave (if it ever sent a heartbeat and the removal
//!   asked for one), then nothing more; a user moved off channels leaves them before
//!   its next heartbeat;
//! - the counters agree with the model; after `stop` everything ends with `Stopped`.

use presence_core::{
    Config, Failure, FleetConfig, FleetEngine, FleetEvent, FleetUser, HeartbeatRequest, Keyset,
    Operation, RequestId, RequestMeta, TransportFailure, TransportFailureKind, UserId, UserStatus,
};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The virtual epoch: the test is the driver, it owns the clock.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const USERS: usize = 8;
const CHANNELS: [&str; 3] = ["a", "b", "c"];
const MAX_LATENCY: Duration = Duration::from_millis(2000);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Ok,
    ServerError,
    Forbidden,
    Transport,
}

#[derive(Debug, Clone)]
enum Action {
    /// Add or update user `u` with the channels of `mask` (non-empty), timeout
    /// `20 + 20 * t`, state `s` (0 = none).
    Add {
        u: usize,
        mask: u8,
        t: u8,
        s: u8,
    },
    Remove {
        u: usize,
        leave: bool,
    },
    Fate {
        u: usize,
        fate: Fate,
    },
    Advance(u64),
}

fn action() -> impl Strategy<Value = Action> {
    let fate = prop_oneof![
        6 => Just(Fate::Ok),
        2 => Just(Fate::ServerError),
        1 => Just(Fate::Forbidden),
        1 => Just(Fate::Transport),
    ];
    prop_oneof![
        4 => (0..USERS, 1u8..8, 0u8..3, 0u8..3).prop_map(|(u, mask, t, s)| Action::Add { u, mask, t, s }),
        2 => (0..USERS, any::<bool>()).prop_map(|(u, leave)| Action::Remove { u, leave }),
        2 => (0..USERS, fate).prop_map(|(u, fate)| Action::Fate { u, fate }),
        5 => (0u64..40_000).prop_map(Action::Advance),
    ]
}

/// What the model holds for a user: its current profile.
#[derive(Debug, Clone, PartialEq)]
struct Profile {
    channels: Vec<String>,
    timeout: u32,
    state: Option<String>,
}

impl Profile {
    fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout / 2 - 1))
    }
}

#[derive(Debug, Default)]
struct UserModel {
    /// `None` when not held (never added, or removed).
    current: Option<Profile>,
    /// The engine holds a slot for the user (until `Removed`).
    held: bool,
    in_flight: Option<RequestId>,
    sent_any: bool,
    /// Changed since the last heartbeat was sent.
    changed: bool,
    /// The last heartbeat: when it went, its interval, and whether it was on the
    /// user's phase (not sent early because of a change).
    last: Option<(Instant, Duration, bool)>,
    /// The previous heartbeat went on phase and succeeded with nothing changed since:
    /// the next is due exactly one interval after it.
    steady_since: Option<(Instant, Duration)>,
    /// A removal asked for a leave of a user that had sent a heartbeat: leaves sent since.
    owes_leave: Option<u32>,
    /// Channels named in heartbeats and not left since: before a heartbeat without one
    /// of them, the user must have left it.
    announced: BTreeSet<String>,
    fate: Option<Fate>,
}

struct Pending {
    user: usize,
    leave: bool,
    at: Instant,
    fate: Fate,
}

struct World {
    engine: FleetEngine,
    config: Config,
    now: Instant,
    users: Vec<UserModel>,
    pending: HashMap<RequestId, Pending>,
    rng: u64,
    /// Requests in flight at most (the engine's bound), for the timing checks.
    max_in_flight: usize,
    stopped: bool,
}

fn user_name(u: usize) -> String {
    format!("user-{u}")
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        let v = p.strip_prefix(key)?.strip_prefix('=')?;
        Some(percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

const OK: &str = r#"{"status": 200, "message": "OK", "service": "Presence"}"#;
const SERVER_ERROR: &str =
    r#"{"status": 500, "message": "Internal Server Error", "error": true, "service": "Presence"}"#;
const FORBIDDEN: &str =
    r#"{"status": 403, "message": "Forbidden", "error": true, "service": "Access Manager"}"#;

fn response(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

impl World {
    fn new(max_in_flight: usize) -> Self {
        World {
            engine: FleetEngine::new(FleetConfig::new().max_in_flight(max_in_flight)),
            config: Config::new(Keyset::new("k"), UserId::new("driver").unwrap()),
            now: epoch(),
            users: (0..USERS).map(|_| UserModel::default()).collect(),
            pending: HashMap::new(),
            rng: 0x9e37_79b9_7f4a_7c15,
            max_in_flight,
            stopped: false,
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn step(&mut self, action: &Action) {
        match *action {
            Action::Add { u, mask, t, s } => self.add(u, mask, t, s),
            Action::Remove { u, leave } => {
                let held = self.engine.remove(self.now, &user_name(u), leave);
                let m = &mut self.users[u];
                assert_eq!(held, m.held, "remove of user {u}");
                if m.current.take().is_some() {
                    m.steady_since = None;
                    if leave && m.sent_any {
                        m.owes_leave = Some(0);
                    } else if !leave {
                        m.owes_leave = None;
                        m.announced.clear();
                    }
                } else if !leave {
                    m.owes_leave = None;
                    m.announced.clear();
                }
            }
            Action::Fate { u, fate } => self.users[u].fate = Some(fate),
            Action::Advance(ms) => {
                let until = self.now + Duration::from_millis(ms);
                self.run_until(until);
            }
        }
        self.pump();
        self.check();
    }

    fn add(&mut self, u: usize, mask: u8, t: u8, s: u8) {
        let channels: Vec<String> = CHANNELS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, c)| (*c).to_owned())
            .collect();
        let timeout = 20 + 20 * u32::from(t);
        let state = (s > 0).then(|| format!(r#"{{"s":{s}}}"#));
        let mut user = FleetUser::new(UserId::new(user_name(u)).unwrap())
            .channels(channels.clone())
            .timeout(timeout);
        if let Some(state) = &state {
            user = user.state(serde_json::from_str(state).unwrap());
        }
        let before = self.engine.user(&user_name(u));
        let new = self.engine.add(self.now, user).unwrap();
        let profile = Profile {
            channels,
            timeout,
            state,
        };
        let m = &mut self.users[u];
        assert_eq!(new, !m.held, "add of user {u}: new");
        if m.current.as_ref() != Some(&profile) || before == Some(UserStatus::GaveUp) {
            m.changed = true;
            m.steady_since = None;
        }
        m.current = Some(profile);
        m.held = true;
        m.owes_leave = None;
    }

    /// Runs the driver loop until `until`, answering requests as their latency ends.
    fn run_until(&mut self, until: Instant) {
        let mut idle = 0;
        loop {
            self.pump();
            let next_answer = self.pending.values().map(|p| p.at).min();
            let next = [next_answer, self.engine.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    if t <= self.now {
                        idle += 1;
                        assert!(
                            idle < 1000,
                            "the engine wants a timeout now but does nothing: a spin"
                        );
                    } else {
                        idle = 0;
                        self.now = t;
                    }
                    self.deliver_due();
                    self.engine.handle_timeout(self.now);
                }
                _ => {
                    self.now = until;
                    self.engine.handle_timeout(self.now);
                    self.pump();
                    return;
                }
            }
        }
    }

    /// Answers every request whose latency has passed, oldest first.
    fn deliver_due(&mut self) {
        let mut due: Vec<(Instant, RequestId)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.at <= self.now)
            .map(|(id, p)| (p.at, *id))
            .collect();
        due.sort_unstable();
        for (_, id) in due {
            let p = self.pending.remove(&id).unwrap();
            let m = &mut self.users[p.user];
            assert_eq!(m.in_flight, Some(id));
            m.in_flight = None;
            if !p.leave {
                let steady = p.fate == Fate::Ok && m.current.is_some() && !m.changed;
                m.steady_since = match m.last {
                    Some((at, interval, true)) if steady => Some((at, interval)),
                    _ => None,
                };
            }
            match p.fate {
                Fate::Ok => self
                    .engine
                    .handle_response(self.now, id, &response(200, OK)),
                Fate::ServerError => {
                    self.engine
                        .handle_response(self.now, id, &response(500, SERVER_ERROR));
                }
                Fate::Forbidden => {
                    self.engine
                        .handle_response(self.now, id, &response(403, FORBIDDEN));
                }
                Fate::Transport => self.engine.handle_failure(
                    self.now,
                    id,
                    Failure::Transport(TransportFailure::new(
                        TransportFailureKind::Connect,
                        "refused",
                    )),
                ),
            }
            self.pump();
        }
    }

    /// Hands out what the engine wants sent now, checking each request.
    fn pump(&mut self) {
        while let Some(tx) = self.engine.poll_request(self.now) {
            assert!(
                self.pending.len() < self.max_in_flight,
                "more than {} requests in flight",
                self.max_in_flight
            );
            let req = tx
                .op
                .to_request(&self.config, &RequestMeta::new(0))
                .unwrap();
            let query = req.uri().query().unwrap_or_default().to_owned();
            let uuid = query_param(&query, "uuid").unwrap();
            let u: usize = uuid.strip_prefix("user-").unwrap().parse().unwrap();
            let path = req.uri().path().to_owned();
            let channels: Vec<String> = path
                .split('/')
                .nth(6)
                .unwrap()
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            let latency =
                Duration::from_millis(self.random() % (MAX_LATENCY.as_millis() as u64 + 1));
            let now = self.now;
            let strict = self.max_in_flight >= USERS;
            let slack = MAX_LATENCY * (USERS.div_ceil(self.max_in_flight) as u32);
            let m = &mut self.users[u];
            assert!(m.held, "a request for user {u}, who is not held");
            assert_eq!(m.in_flight, None, "two requests in flight for user {u}");
            m.in_flight = Some(tx.id);
            let leave = matches!(tx.op, HeartbeatRequest::Leave(_));
            if leave {
                assert!(path.ends_with("/leave"), "{path}");
                for c in &channels {
                    m.announced.remove(c);
                }
                if let Some(n) = m.owes_leave.as_mut() {
                    *n += 1;
                    assert_eq!(*n, 1, "user {u} got a second leave after its removal");
                }
            } else {
                let current = m
                    .current
                    .as_ref()
                    .unwrap_or_else(|| panic!("a heartbeat for removed user {u}"));
                assert_eq!(channels, current.channels, "user {u}'s channels");
                let not_left: Vec<&String> = m
                    .announced
                    .iter()
                    .filter(|c| !current.channels.contains(c))
                    .collect();
                assert!(
                    not_left.is_empty(),
                    "user {u} moved to {channels:?} without leaving {not_left:?}"
                );
                m.announced = channels.iter().cloned().collect();
                assert_eq!(
                    query_param(&query, "heartbeat"),
                    Some(current.timeout.to_string()),
                    "user {u}'s timeout"
                );
                let state = query_param(&query, "state");
                match &current.state {
                    None => assert_eq!(state, None, "user {u} has no state"),
                    Some(s) => {
                        let sent: serde_json::Value =
                            serde_json::from_str(&state.expect("a state")).unwrap();
                        let want: serde_json::Value = serde_json::from_str(s).unwrap();
                        for c in &current.channels {
                            assert_eq!(sent[c.as_str()], want, "user {u}'s state on {c}");
                        }
                    }
                }
                if let Some((since, interval)) = m.steady_since {
                    let gap = now.duration_since(since);
                    if strict {
                        assert_eq!(
                            gap, interval,
                            "user {u}, present and unchanged, heartbeated off its interval"
                        );
                    } else {
                        assert!(
                            gap <= interval + slack && gap < Duration::from_secs(u64::from(current.timeout)),
                            "user {u}, present and unchanged, waited {gap:?} (interval {interval:?})"
                        );
                    }
                }
                let interval = current.interval();
                m.last = Some((now, interval, !m.changed));
                m.steady_since = None;
                m.sent_any = true;
                m.changed = false;
            }
            let fate = m.fate.unwrap_or(Fate::Ok);
            self.pending.insert(
                tx.id,
                Pending {
                    user: u,
                    leave,
                    at: now + latency,
                    fate,
                },
            );
        }
        while let Some(event) = self.engine.poll_event() {
            match event {
                FleetEvent::Removed { user_id } => {
                    let u: usize = user_id.strip_prefix("user-").unwrap().parse().unwrap();
                    let m = &mut self.users[u];
                    assert!(m.held && m.current.is_none(), "user {u} removed unasked");
                    assert_eq!(
                        m.in_flight, None,
                        "user {u} removed with a request in flight"
                    );
                    if let Some(n) = m.owes_leave.take() {
                        assert_eq!(n, 1, "user {u} was removed with {n} leaves, not one");
                        assert!(
                            m.announced.is_empty(),
                            "user {u} never left {:?}",
                            m.announced
                        );
                    }
                    m.announced.clear();
                    m.held = false;
                    m.sent_any = false;
                    m.last = None;
                    m.steady_since = None;
                }
                FleetEvent::Stopped => {
                    assert!(!self.stopped, "Stopped twice");
                    self.stopped = true;
                }
                FleetEvent::Present { user_id }
                | FleetEvent::Failed { user_id, .. }
                | FleetEvent::GaveUp { user_id, .. } => {
                    let u: usize = user_id.strip_prefix("user-").unwrap().parse().unwrap();
                    assert!(self.users[u].held, "an event for user {u}, who is not held");
                }
                _ => {}
            }
        }
    }

    fn check(&self) {
        let stats = self.engine.stats();
        let held = self.users.iter().filter(|m| m.held).count();
        assert_eq!(stats.users, held, "users held");
        assert_eq!(stats.in_flight, self.pending.len(), "requests in flight");
        assert_eq!(
            stats.starting + stats.present + stats.retrying + stats.gave_up + stats.leaving,
            held,
            "users by status"
        );
        for (u, m) in self.users.iter().enumerate() {
            let name = user_name(u);
            assert_eq!(self.engine.user(&name).is_some(), m.held, "user {u} held");
            let targets = self
                .engine
                .user_targets(&name)
                .map(|(c, g)| (c.to_vec(), g.to_vec()));
            let want = m.current.as_ref().map(|p| (p.channels.clone(), Vec::new()));
            assert_eq!(targets, want, "user {u}'s targets");
        }
    }

    /// Stops with leaves and runs until everything is done.
    fn finish(&mut self) {
        self.engine.stop(self.now, true);
        for m in &mut self.users {
            if m.current.take().is_some() && m.sent_any {
                m.owes_leave = Some(0);
            }
        }
        self.pump();
        let until = self.now + Duration::from_secs(600);
        self.run_until(until);
        assert!(self.stopped, "no Stopped event");
        assert!(self.engine.is_stopped());
        assert!(self.users.iter().all(|m| !m.held), "users left after stop");
        assert_eq!(self.engine.poll_timeout(), None, "a timeout after stop");
        assert!(self.engine.poll_request(self.now).is_none());
    }
}

/// Failing seeds are saved here and replayed first (commit the file).
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/fleet.txt"
);

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(REGRESSIONS),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// No bound reached (8 users, 64 in flight): present users keep their exact phase.
    #[test]
    fn the_fleet_follows_the_model(script in proptest::collection::vec(action(), 1..80)) {
        let mut world = World::new(64);
        for action in &script {
            world.step(action);
        }
        world.finish();
    }

    /// Two requests in flight for eight users, some failing and retrying: healthy users
    /// are still heartbeated before their presence times out.
    #[test]
    fn a_tight_bound_delays_but_never_starves(script in proptest::collection::vec(action(), 1..80)) {
        let mut world = World::new(2);
        for action in &script {
            world.step(action);
        }
        world.finish();
    }
}
