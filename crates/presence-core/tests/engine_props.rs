//! Property tests of the engines against reference models (`tests/model/`), in virtual
//! time: random sequences of joins, leaves, state changes, `connected(true/false)`
//! (reconnect, pause, disconnect), successful, failed, slow and reordered answers, 429
//! with `Retry-After`, cancellations and clock jumps. After **every** step the harness
//! compares the engine with its model and checks the invariants; a failing case is
//! shrunk and saved in `proptest-regressions/engine_props.txt` (committed).
//!
//! Heartbeat invariants (each one a bug class of the official SDKs, issue 16):
//! - every heartbeat carries exactly the joined set and its states (javascript #479,
//!   c-sharp #251), and a heartbeat is handed out exactly when the model says one is
//!   due, so the count per virtual hour is the model's (objective-c #366);
//! - `poll_timeout` is exactly the model's next deadline; the state is the model's;
//! - two heartbeats never start less than 1 s apart (no spin);
//! - a heartbeat and a leave naming the same channel are never on the wire together,
//!   and every owed leave goes as soon as no heartbeat for its channels is on the wire
//!   (java #237);
//! - retries keep to the backoff, `Retry-After`, the floor and the interval, and end in
//!   a typed give-up exactly when the model says (java #275);
//! - the transition log names exactly the requests handed out;
//! - every default configuration heartbeats and leaves (javascript #448, kotlin #341,
//!   #178, swift #180); interval `timeout / 2 - 1`, timeout at least 20 (dart #33,
//!   javascript #159).
//!
//! Watch invariants: one awaited request at a time; every subscribe carries the watched
//! set and the latest cursor; sent exactly when the model says (floors of 100 ms and,
//! after an empty or failed long-poll, 1 s); every new event is delivered once and in
//! order, duplicates and stale answers never; retries bounded with a typed give-up.

mod model;

use model::heartbeat::{self as hb, HeartbeatModel, Names};
use model::watch::{self as wm, WatchModel};
use percent_encoding::percent_decode_str;
use presence_core::{
    Config, Failure, HeartbeatConfig, HeartbeatEffect, HeartbeatEngine, HeartbeatEvent,
    HeartbeatRequest, HeartbeatState, Keyset, Operation, RequestId, RequestMeta, TransportFailure,
    TransportFailureKind, UserId, WatchConfig, WatchEffect, WatchEngine, WatchEvent, WatchState,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/engine_props.txt"
);

/// `cases` unless `PROPTEST_CASES` says otherwise (proptest's own variable, which an
/// explicit `cases` would otherwise override): the mutation runs use fewer.
fn proptest_config(cases: u32) -> ProptestConfig {
    #[allow(clippy::disallowed_methods)] // test code: the crate itself reads no environment
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const CHANNELS: [&str; 4] = ["a", "b", "c", "d"];
const GROUPS: [&str; 2] = ["g", "h"];
/// A transport gives up on a request after this long (the harness fails it then).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

fn config() -> Config {
    Config::new(Keyset::new("k"), UserId::new("u").unwrap())
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8().unwrap().into_owned()
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| decode(v))
}

fn list(s: &str) -> Vec<String> {
    if s.is_empty() || s == "," {
        return Vec::new();
    }
    s.split(',').map(decode).collect()
}

/// Channels, groups, states and `heartbeat=` of a built heartbeat or leave.
fn read_presence_request(op: &HeartbeatRequest) -> (Names, BTreeMap<String, Value>, Option<u32>) {
    let req = op.to_request(&config(), &RequestMeta::new(0)).unwrap();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path.split('/').collect();
    let names = Names {
        channels: list(segments[6]).into_iter().collect(),
        groups: query_param(&query, "channel-group")
            .map(|g| g.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    let states = query_param(&query, "state")
        .map(|s| serde_json::from_str::<BTreeMap<String, Value>>(&s).unwrap())
        .unwrap_or_default();
    let timeout = query_param(&query, "heartbeat").map(|t| t.parse().unwrap());
    (names, states, timeout)
}

fn pick(all: &[&str], mask: u8) -> Vec<String> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

fn ok_body() -> http::Response<Vec<u8>> {
    http::Response::new(br#"{"status": 200, "message": "OK", "service": "Presence"}"#.to_vec())
}

fn error_body(status: u16, retry_after: Option<u64>) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    if let Some(s) = retry_after {
        b = b.header("retry-after", s.to_string());
    }
    b.body(
        format!(r#"{{"status": {status}, "error": true, "message": "x", "service": "Presence"}}"#)
            .into_bytes(),
    )
    .unwrap()
}

fn transport(kind: TransportFailureKind) -> Failure {
    Failure::Transport(TransportFailure::new(kind, "test"))
}

/// How the origin answers one request.
#[derive(Debug, Clone)]
enum Reply {
    Ok,
    /// 500, 502, 503 or 504.
    ServerError(u16),
    /// 429 with this `Retry-After`.
    TooMany(u64),
    Forbidden,
    /// A 200 whose body says 503 (a retryable failure).
    FalseOk,
    Refused,
    /// The driver aborted it.
    Cancelled,
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        6 => Just(Reply::Ok),
        2 => prop_oneof![Just(500u16), Just(502), Just(503), Just(504)].prop_map(Reply::ServerError),
        1 => (0u64..400).prop_map(Reply::TooMany),
        1 => Just(Reply::Forbidden),
        1 => Just(Reply::FalseOk),
        2 => Just(Reply::Refused),
        1 => Just(Reply::Cancelled),
    ]
}

/// What both engines take from a driver.
trait Driven {
    fn response(&mut self, now: Instant, id: RequestId, r: &http::Response<Vec<u8>>);
    fn failure(&mut self, now: Instant, id: RequestId, f: Failure);
    fn cancelled(&mut self, now: Instant, id: RequestId);
}

impl Driven for HeartbeatEngine {
    fn response(&mut self, now: Instant, id: RequestId, r: &http::Response<Vec<u8>>) {
        self.handle_response(now, id, r);
    }
    fn failure(&mut self, now: Instant, id: RequestId, f: Failure) {
        self.handle_failure(now, id, f);
    }
    fn cancelled(&mut self, now: Instant, id: RequestId) {
        self.handle_cancelled(now, id);
    }
}

impl Driven for WatchEngine {
    fn response(&mut self, now: Instant, id: RequestId, r: &http::Response<Vec<u8>>) {
        self.handle_response(now, id, r);
    }
    fn failure(&mut self, now: Instant, id: RequestId, f: Failure) {
        self.handle_failure(now, id, f);
    }
    fn cancelled(&mut self, now: Instant, id: RequestId) {
        self.handle_cancelled(now, id);
    }
}

/// Gives `engine` the answer `reply` (`ok` is the body a success carries) to request
/// `id`; returns the `Retry-After` sent, if any.
fn deliver<E: Driven>(
    engine: &mut E,
    now: Instant,
    id: RequestId,
    reply: &Reply,
    ok: http::Response<Vec<u8>>,
) -> Option<Duration> {
    match reply {
        Reply::Ok => engine.response(now, id, &ok),
        Reply::ServerError(s) => engine.response(now, id, &error_body(*s, None)),
        Reply::TooMany(ra) => {
            engine.response(now, id, &error_body(429, Some(*ra)));
            return Some(Duration::from_secs(*ra));
        }
        Reply::Forbidden => engine.response(now, id, &error_body(403, None)),
        Reply::FalseOk => engine.response(
            now,
            id,
            &http::Response::new(
                br#"{"status": 503, "message": "Service Unavailable", "error": 1, "service": "Presence"}"#
                    .to_vec(),
            ),
        ),
        Reply::Refused => engine.failure(now, id, transport(TransportFailureKind::Timeout)),
        Reply::Cancelled => engine.cancelled(now, id),
    }
    None
}

// ---------------------------------------------------------------- heartbeat engine

#[derive(Debug, Clone)]
enum HbOp {
    Join(u8, u8),
    Left(u8, u8),
    LeftSilently(u8, u8),
    LeftAll,
    SetState(usize, Option<i64>),
    SetStateAll(i64),
    Connected(bool),
    Disconnect,
    /// Answer the `n`-th request on the wire (modulo their number): reordering.
    Answer(usize, Reply),
    /// Let time pass (deadlines and request timeouts on the way are honoured).
    Advance(Duration),
    /// Jump the clock (a suspended machine): nothing runs in between.
    Jump(Duration),
}

fn hb_op() -> impl Strategy<Value = HbOp> {
    prop_oneof![
        3 => (1u8..16, 0u8..4).prop_map(|(c, g)| HbOp::Join(c, g)),
        2 => (0u8..16, 0u8..4).prop_map(|(c, g)| HbOp::Left(c, g)),
        1 => (0u8..16, 0u8..4).prop_map(|(c, g)| HbOp::LeftSilently(c, g)),
        1 => Just(HbOp::LeftAll),
        1 => (0usize..6, proptest::option::of(0i64..100)).prop_map(|(n, v)| HbOp::SetState(n, v)),
        1 => (0i64..100).prop_map(HbOp::SetStateAll),
        2 => any::<bool>().prop_map(HbOp::Connected),
        1 => Just(HbOp::Disconnect),
        8 => (0usize..4, reply()).prop_map(|(n, r)| HbOp::Answer(n, r)),
        6 => (0u64..40_000).prop_map(|ms| HbOp::Advance(Duration::from_millis(ms))),
        1 => (600u64..4 * 3600).prop_map(|s| HbOp::Jump(Duration::from_secs(s))),
    ]
}

#[derive(Debug, Clone)]
struct HbSetup {
    timeout: u32,
    interval: Option<Duration>,
    suppress_leave: bool,
    max_retries: u32,
    retry_base: Duration,
}

fn hb_setup() -> impl Strategy<Value = HbSetup> {
    (
        prop_oneof![
            Just(0u32),
            Just(20),
            Just(21),
            Just(60),
            Just(300),
            0u32..400
        ],
        proptest::option::of((1u64..200_000).prop_map(Duration::from_millis)),
        any::<bool>(),
        0u32..6,
        (0u64..3000).prop_map(Duration::from_millis),
    )
        .prop_map(
            |(timeout, interval, suppress_leave, max_retries, retry_base)| HbSetup {
                timeout,
                interval,
                suppress_leave,
                max_retries,
                retry_base,
            },
        )
}

struct OnWire {
    id: RequestId,
    heartbeat: bool,
    sent: Instant,
}

struct HbHarness {
    engine: HeartbeatEngine,
    model: HeartbeatModel,
    retry_base: Duration,
    timeout_param: u32,
    now: Instant,
    wire: Vec<OnWire>,
    heartbeat_starts: Vec<Instant>,
    /// `Retry-After` of the failure being answered, for the model's check.
    retry_after: Option<Duration>,
    gave_up: u32,
}

impl HbHarness {
    fn new(setup: &HbSetup, t0: Instant) -> Self {
        let mut config = HeartbeatConfig::new(setup.timeout);
        config.interval = setup.interval;
        config.suppress_leave = setup.suppress_leave;
        config.max_retries = setup.max_retries;
        config.retry_base = setup.retry_base;
        // The rules, independently of `HeartbeatConfig::interval`.
        let timeout = setup.timeout.max(20);
        let rule = Duration::from_secs(u64::from(timeout / 2 - 1));
        let interval = setup.interval.map_or(rule, |i| i.min(rule).max(hb::FLOOR));
        assert_eq!(config.interval(), interval);
        let mut engine = HeartbeatEngine::new(config);
        engine.record_transitions(1024);
        Self {
            engine,
            model: HeartbeatModel::new(
                interval,
                Duration::from_secs(u64::from(timeout)),
                setup.suppress_leave,
                setup.max_retries,
            ),
            retry_base: setup.retry_base,
            timeout_param: timeout,
            now: t0,
            wire: Vec::new(),
            heartbeat_starts: Vec::new(),
            retry_after: None,
            gave_up: 0,
        }
    }

    fn apply(&mut self, op: &HbOp) -> Result<(), String> {
        let now = self.now;
        match op {
            HbOp::Join(c, g) => {
                let (c, g) = (pick(&CHANNELS, *c), pick(&GROUPS, *g));
                self.engine.join(now, c.clone(), g.clone());
                self.model.join(now, &c, &g);
            }
            HbOp::Left(c, g) | HbOp::LeftSilently(c, g) => {
                let leave = matches!(op, HbOp::Left(..));
                let (c, g) = (pick(&CHANNELS, *c), pick(&GROUPS, *g));
                if leave {
                    self.engine.left(now, c.clone(), g.clone());
                } else {
                    self.engine.left_silently(now, c.clone(), g.clone());
                }
                self.model.left(now, &c, &g, leave);
            }
            HbOp::LeftAll => {
                self.engine.left_all(now);
                self.model.left_all();
            }
            HbOp::SetState(n, v) => {
                let name = CHANNELS.iter().chain(&GROUPS).nth(*n).unwrap();
                let value = v.map(|v| serde_json::json!({ "v": v }));
                self.engine
                    .set_state(now, *name, value.clone().unwrap_or(Value::Null));
                self.model.set_state(name, value);
            }
            HbOp::SetStateAll(v) => {
                let value = serde_json::json!({ "all": v });
                self.engine.set_state_all(now, value.clone());
                let names: Vec<String> = self
                    .model
                    .joined
                    .channels
                    .iter()
                    .chain(&self.model.joined.groups)
                    .cloned()
                    .collect();
                for n in names {
                    self.model.set_state(&n, Some(value.clone()));
                }
            }
            HbOp::Connected(true) => {
                self.engine.reconnect(now);
                self.model.reconnect(now);
            }
            HbOp::Connected(false) => {
                self.engine.pause(now);
                self.model.pause();
            }
            HbOp::Disconnect => {
                self.engine.disconnect(now);
                self.model.disconnect();
            }
            HbOp::Answer(n, reply) => {
                if self.wire.is_empty() {
                    return self.check();
                }
                let i = n % self.wire.len();
                let req = self.wire.remove(i);
                return self.answer(req, reply);
            }
            HbOp::Advance(d) => return self.advance_to(now + *d),
            HbOp::Jump(d) => {
                self.now = now + *d;
                // Requests outlived their timeout during the jump: they fail now.
                let late: Vec<usize> = (0..self.wire.len())
                    .filter(|&i| self.wire[i].sent + REQUEST_TIMEOUT <= self.now)
                    .collect();
                for i in late.into_iter().rev() {
                    let req = self.wire.remove(i);
                    self.answer(req, &Reply::Refused)?;
                }
                self.engine.handle_timeout(self.now);
            }
        }
        self.check()
    }

    fn answer(&mut self, req: OnWire, reply: &Reply) -> Result<(), String> {
        let now = self.now;
        self.retry_after = deliver(&mut self.engine, now, req.id, reply, ok_body());
        let expect = if req.heartbeat {
            let outcome = match reply {
                Reply::Ok => hb::Outcome::Ok,
                Reply::Forbidden => hb::Outcome::NotRetryable,
                Reply::Cancelled => hb::Outcome::Cancelled,
                _ => hb::Outcome::Retryable,
            };
            self.model.heartbeat_done(now, req.id, outcome)
        } else {
            self.model.leave_done(req.id);
            hb::Expect::Nothing
        };
        self.events(expect)?;
        self.check()
    }

    /// Reads the engine's events against what the model expects of the last answer.
    fn events(&mut self, expect: hb::Expect) -> Result<(), String> {
        let events: Vec<HeartbeatEvent> = std::iter::from_fn(|| self.engine.poll_event()).collect();
        let retry = events.iter().find_map(|e| match e {
            HeartbeatEvent::Failed {
                retry_in: Some(d), ..
            } => Some(*d),
            _ => None,
        });
        let gave_up = events.iter().find_map(|e| match e {
            HeartbeatEvent::GaveUp { failures, .. } => Some(*failures),
            _ => None,
        });
        match expect {
            hb::Expect::Retry => {
                let d = retry.ok_or_else(|| format!("no retry reported: {events:?}"))?;
                self.model
                    .retry_in(self.now, d, self.retry_after, self.retry_base)?;
            }
            hb::Expect::GiveUp { failures } => {
                if gave_up != Some(failures) || retry.is_some() {
                    return Err(format!("expected a give-up after {failures}: {events:?}"));
                }
                self.gave_up += 1;
            }
            hb::Expect::Nothing => {
                if retry.is_some() || gave_up.is_some() {
                    return Err(format!("unexpected retry or give-up: {events:?}"));
                }
            }
        }
        Ok(())
    }

    /// Moves time to `target`, stopping at every engine deadline and request timeout.
    fn advance_to(&mut self, target: Instant) -> Result<(), String> {
        loop {
            let request_timeout = self.wire.iter().map(|r| r.sent + REQUEST_TIMEOUT).min();
            let deadline = self.engine.poll_timeout();
            if let Some(d) = deadline {
                if d <= self.now {
                    return Err(format!(
                        "a deadline not in the future: {d:?} at {:?}",
                        self.now
                    ));
                }
            }
            let next = [Some(target), request_timeout, deadline]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            self.now = next.max(self.now);
            if let Some(i) = self
                .wire
                .iter()
                .position(|r| r.sent + REQUEST_TIMEOUT <= self.now)
            {
                let req = self.wire.remove(i);
                self.answer(req, &Reply::Refused)?;
                continue;
            }
            if deadline.is_some_and(|d| d <= self.now) {
                self.engine.handle_timeout(self.now);
                self.check()?;
            }
            if self.now >= target {
                return Ok(());
            }
        }
    }

    /// Drains the engine and compares it with the model.
    fn check(&mut self) -> Result<(), String> {
        let now = self.now;
        let mut handed_out = Vec::new();
        while let Some(tx) = self.engine.poll_request(now) {
            let (names, states, timeout) = read_presence_request(&tx.op);
            match tx.op {
                HeartbeatRequest::Heartbeat(_) => {
                    if timeout != Some(self.timeout_param) {
                        return Err(format!(
                            "heartbeat={timeout:?}, want {}",
                            self.timeout_param
                        ));
                    }
                    if let Some(prev) = self.heartbeat_starts.last() {
                        if now - *prev < hb::FLOOR {
                            return Err(format!("two heartbeats {:?} apart", now - *prev));
                        }
                    }
                    self.heartbeat_starts.push(now);
                    self.model.heartbeat_sent(now, tx.id, names, &states)?;
                    self.wire.push(OnWire {
                        id: tx.id,
                        heartbeat: true,
                        sent: now,
                    });
                }
                HeartbeatRequest::Leave(_) => {
                    self.model.leave_sent(tx.id, names)?;
                    self.wire.push(OnWire {
                        id: tx.id,
                        heartbeat: false,
                        sent: now,
                    });
                }
            }
            handed_out.push(tx.id);
        }
        if self.model.heartbeat_due(now) {
            return Err(format!(
                "a heartbeat was due and not sent: {:?}",
                self.model
            ));
        }
        let held = self.model.leaves_held_back_for_no_reason();
        if !held.is_empty() {
            return Err(format!("leaves held back: {held:?}"));
        }
        let deadline = self.engine.poll_timeout();
        if deadline != self.model.deadline() {
            return Err(format!(
                "poll_timeout {deadline:?}, model {:?} (now {now:?}): {:?}",
                self.model.deadline(),
                self.model
            ));
        }
        let state = self.engine.state();
        let want = match self.model.mode {
            hb::Mode::Stopped => matches!(state, HeartbeatState::Stopped),
            hb::Mode::Failed => matches!(state, HeartbeatState::Failed),
            hb::Mode::Running if self.model.joined.is_empty() => {
                matches!(state, HeartbeatState::Inactive)
            }
            hb::Mode::Running => matches!(
                state,
                HeartbeatState::Heartbeating | HeartbeatState::Cooldown
            ),
        };
        if !want {
            return Err(format!("state {state:?}, model {:?}", self.model.mode));
        }
        let joined: Vec<&str> = self.engine.channels().collect();
        let model: Vec<&str> = self
            .model
            .joined
            .channels
            .iter()
            .map(String::as_str)
            .collect();
        if joined != model {
            return Err(format!("channels {joined:?}, model {model:?}"));
        }
        // The transition log names exactly the requests handed out, in order.
        let mut logged = Vec::new();
        while let Some(t) = self.engine.poll_transition() {
            for e in t.effects {
                match e {
                    HeartbeatEffect::Heartbeat { id, .. } | HeartbeatEffect::Leave { id, .. } => {
                        logged.push(id);
                    }
                    _ => {}
                }
            }
        }
        if logged != handed_out {
            return Err(format!("log names {logged:?}, handed out {handed_out:?}"));
        }
        // A stale `Failed`/`Succeeded` must not leak from non-awaited answers: drained in
        // `events`; anything left here is a state change.
        for e in std::iter::from_fn(|| self.engine.poll_event()) {
            if !matches!(e, HeartbeatEvent::StateChanged(_)) {
                return Err(format!("an event outside an answer: {e:?}"));
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(proptest_config(512))]

    /// The heartbeat engine follows its reference model after every step.
    #[test]
    fn heartbeat_engine_follows_its_model(
        setup in hb_setup(),
        ops in proptest::collection::vec(hb_op(), 1..80),
    ) {
        let mut h = HbHarness::new(&setup, epoch());
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = h.apply(op) {
                return Err(TestCaseError::fail(format!("step {i} {op:?}: {e}")));
            }
        }
    }
}

/// Inputs that change nothing that is heartbeated.
#[derive(Debug, Clone)]
enum Noise {
    SetState(usize, i64),
    JoinAgain,
    LeaveUnknown,
    ReconnectWhileRunning,
    /// A driver waking up early (a spurious `handle_timeout`).
    Wake,
    /// An answer to a request the engine never handed out.
    StaleAnswer(u64),
}

fn noise() -> impl Strategy<Value = (Duration, Noise)> {
    (
        (0u64..600_000).prop_map(Duration::from_millis),
        prop_oneof![
            (0usize..2, any::<i64>()).prop_map(|(n, v)| Noise::SetState(n, v)),
            Just(Noise::JoinAgain),
            Just(Noise::LeaveUnknown),
            Just(Noise::ReconnectWhileRunning),
            Just(Noise::Wake),
            (10_000u64..20_000).prop_map(Noise::StaleAnswer),
        ],
    )
}

proptest! {
    #![proptest_config(proptest_config(256))]

    /// With instant 200s, heartbeats per virtual hour are exactly what the interval
    /// predicts (heartbeats at t0 + k·interval), whatever else arrives.
    #[test]
    fn heartbeats_per_hour_match_the_interval_whatever_else_arrives(
        timeout in 20u32..400,
        interval_ms in proptest::option::of(1_000u64..200_000),
        noise in proptest::collection::vec(noise(), 0..60),
    ) {
        let t0 = epoch();
        let mut config = HeartbeatConfig::new(timeout);
        config.interval = interval_ms.map(Duration::from_millis);
        let interval = config.interval();
        let mut e = HeartbeatEngine::new(config);
        e.join(t0, ["a", "b"], Vec::<String>::new());
        let hours = 3u32;
        let end = t0 + Duration::from_secs(3600) * hours;
        let mut noise: Vec<(Instant, Noise)> = noise.into_iter().map(|(d, n)| (t0 + d * 18, n)).collect();
        noise.sort_by_key(|(t, _)| *t);
        let mut noise = noise.into_iter().peekable();
        let mut now = t0;
        let mut starts = Vec::new();
        loop {
            while let Some(tx) = e.poll_request(now) {
                prop_assert!(matches!(tx.op, HeartbeatRequest::Heartbeat(_)), "only heartbeats");
                starts.push(now);
                e.handle_response(now, tx.id, &ok_body());
            }
            let deadline = e.poll_timeout().expect("always a next heartbeat");
            prop_assert!(deadline > now);
            match noise.peek() {
                Some((t, _)) if *t < deadline && *t < end => {
                    let (t, n) = noise.next().unwrap();
                    now = t;
                    match n {
                        Noise::SetState(i, v) => e.set_state(now, ["a", "b"][i], serde_json::json!({ "v": v })),
                        Noise::JoinAgain => e.join(now, ["b", "a-pnpres"], Vec::<String>::new()),
                        Noise::LeaveUnknown => e.left(now, ["zz"], ["g"]),
                        Noise::ReconnectWhileRunning => e.reconnect(now),
                        Noise::Wake => e.handle_timeout(now),
                        Noise::StaleAnswer(id) => e.handle_response(now, id, &ok_body()),
                    }
                }
                _ if deadline >= end => break,
                _ => {
                    now = deadline;
                    e.handle_timeout(now);
                }
            }
        }
        let step = interval.as_millis();
        for hour in 0..u128::from(hours) {
            let (lo, hi) = (hour * 3_600_000, (hour + 1) * 3_600_000);
            // Multiples of the interval in [lo, hi).
            let want = hi.div_ceil(step) - lo.div_ceil(step);
            let got = starts
                .iter()
                .filter(|t| (lo..hi).contains(&(**t - t0).as_millis()))
                .count() as u128;
            prop_assert_eq!(got, want, "hour {}: interval {:?}", hour, interval);
        }
    }

    /// Against an origin that fails everything, the engine gives up, once, within the
    /// bounds: more than `max_retries` failures, spanning the presence timeout, and not
    /// much later; then it sends nothing.
    #[test]
    fn a_storm_of_errors_ends_in_one_give_up(
        setup in hb_setup(),
        replies in proptest::collection::vec((reply(), 0u64..5_000), 1..8),
    ) {
        let t0 = epoch();
        let mut config = HeartbeatConfig::new(setup.timeout);
        config.interval = setup.interval;
        config.max_retries = setup.max_retries;
        config.retry_base = setup.retry_base;
        let (interval, timeout) = (config.interval(), config.presence_timeout());
        let mut e = HeartbeatEngine::new(config);
        e.join(t0, ["a"], Vec::<String>::new());
        let mut now = t0;
        let mut sent = 0u32;
        let mut first_failure = None;
        let mut gave_up = Vec::new();
        for round in 0.. {
            prop_assert!(round < 10_000, "retries without end");
            let Some(tx) = e.poll_request(now) else {
                match e.poll_timeout() {
                    Some(t) => { now = t; e.handle_timeout(now); continue; }
                    None => break,
                }
            };
            sent += 1;
            // Every answer is a retryable failure (cycling through the given kinds),
            // after the given latency.
            let (r, latency) = &replies[round % replies.len()];
            now += Duration::from_millis(*latency);
            first_failure.get_or_insert(now);
            match r {
                Reply::TooMany(ra) => e.handle_response(now, tx.id, &error_body(429, Some(*ra))),
                Reply::FalseOk | Reply::Ok | Reply::Forbidden | Reply::Cancelled => e.handle_response(now, tx.id, &error_body(503, None)),
                Reply::ServerError(s) => e.handle_response(now, tx.id, &error_body(*s, None)),
                Reply::Refused => e.handle_failure(now, tx.id, transport(TransportFailureKind::Connect)),
            }
            for ev in std::iter::from_fn(|| e.poll_event()) {
                if let HeartbeatEvent::GaveUp { failures, over } = ev {
                    gave_up.push((failures, over));
                }
            }
        }
        prop_assert_eq!(gave_up.len(), 1, "exactly one give-up");
        let (failures, over) = gave_up[0];
        prop_assert_eq!(failures, sent);
        prop_assert!(failures > setup.max_retries);
        prop_assert!(over >= timeout);
        prop_assert_eq!(over, now - first_failure.unwrap());
        // Retries are at most one interval (plus the 5 s latency bound) apart, so the
        // give-up comes within that of the timeout, unless the retry count held it.
        if failures > setup.max_retries + 1 {
            prop_assert!(over < timeout + interval.max(hb::FLOOR) + Duration::from_secs(5));
        }
        prop_assert_eq!(e.state(), HeartbeatState::Failed);
        prop_assert!(e.poll_request(now + Duration::from_secs(86_400)).is_none());
    }

    /// Every default configuration heartbeats at once on join, keeps heartbeating, and
    /// leaves; the timeout is at least 20 and the interval `timeout / 2 - 1`.
    #[test]
    fn default_configurations_heartbeat_and_leave(timeout in any::<u32>(), use_default in any::<bool>()) {
        let config = if use_default { HeartbeatConfig::default() } else { HeartbeatConfig::new(timeout) };
        let t = if use_default { 300 } else { timeout.max(20) };
        prop_assert!(config.heartbeats_enabled());
        prop_assert!(!config.suppress_leave);
        prop_assert_eq!(config.interval(), Duration::from_secs(u64::from(t / 2 - 1)));
        prop_assert_eq!(config.presence_timeout(), Duration::from_secs(u64::from(t)));
        let t0 = epoch();
        let mut e = HeartbeatEngine::new(config);
        e.join(t0, ["a"], Vec::<String>::new());
        let tx = e.poll_request(t0).expect("a heartbeat at once");
        let (_, _, param) = read_presence_request(&tx.op);
        prop_assert_eq!(param, Some(t));
        e.handle_response(t0, tx.id, &ok_body());
        let next = e.poll_timeout().expect("a next heartbeat");
        prop_assert_eq!(next - t0, Duration::from_secs(u64::from(t / 2 - 1)));
        e.handle_timeout(next);
        let tx = e.poll_request(next).expect("the next heartbeat");
        e.handle_response(next, tx.id, &ok_body());
        e.left_all(next);
        let leave = e.poll_request(next).expect("a leave");
        prop_assert!(matches!(leave.op, HeartbeatRequest::Leave(_)));
        prop_assert_eq!(e.state(), HeartbeatState::Inactive);
        // Disconnect leaves too.
        let mut e = HeartbeatEngine::new(HeartbeatConfig::new(timeout));
        e.join(t0, ["a"], Vec::<String>::new());
        let tx = e.poll_request(t0).unwrap();
        e.handle_response(t0, tx.id, &ok_body());
        e.disconnect(t0);
        prop_assert!(matches!(e.poll_request(t0).map(|t| t.op), Some(HeartbeatRequest::Leave(_))));
    }

    /// Whatever the timeout and interval fields hold, the engine keeps the rules: the
    /// `heartbeat=` sent is at least 20 and the interval never above `timeout / 2 - 1`,
    /// never below the floor.
    #[test]
    fn interval_and_timeout_rules_hold_for_any_fields(timeout in any::<u32>(), interval_ms in proptest::option::of(1u64..10_000_000)) {
        let mut config = HeartbeatConfig::new(300);
        config.timeout = timeout; // the field is public: bypass `new`
        config.interval = interval_ms.map(Duration::from_millis);
        let t = timeout.max(20);
        let rule = Duration::from_secs(u64::from(t / 2 - 1));
        let want = interval_ms.map_or(rule, |ms| Duration::from_millis(ms).min(rule).max(hb::FLOOR));
        prop_assert_eq!(config.interval(), want);
        let t0 = epoch();
        let mut e = HeartbeatEngine::new(config);
        e.join(t0, ["a"], Vec::<String>::new());
        let tx = e.poll_request(t0).unwrap();
        prop_assert_eq!(read_presence_request(&tx.op).2, Some(t));
        e.handle_response(t0, tx.id, &ok_body());
        prop_assert_eq!(e.poll_timeout(), Some(t0 + want));
    }
}

// ---------------------------------------------------------------- watch engine

#[derive(Debug, Clone)]
enum WOp {
    Add(u8, u8),
    Remove(u8, u8),
    Stop,
    Reconnect,
    /// Answer the awaited subscribe (or a superseded one still on the wire, `late`).
    Answer {
        late: bool,
        answer: WAnswer,
    },
    Advance(Duration),
    Jump(Duration),
}

#[derive(Debug, Clone)]
enum WAnswer {
    /// `fresh` new events, then `dups` replays of earlier ones.
    Events {
        fresh: u8,
        dups: u8,
    },
    Fail(Reply),
}

fn w_op() -> impl Strategy<Value = WOp> {
    prop_oneof![
        2 => (1u8..16, 0u8..4).prop_map(|(c, g)| WOp::Add(c, g)),
        1 => (0u8..16, 0u8..4).prop_map(|(c, g)| WOp::Remove(c, g)),
        1 => Just(WOp::Stop),
        1 => Just(WOp::Reconnect),
        8 => (
            proptest::bool::weighted(0.2),
            prop_oneof![
                4 => (0u8..4, 0u8..3).prop_map(|(fresh, dups)| WAnswer::Events { fresh, dups }),
                2 => reply().prop_map(WAnswer::Fail),
            ],
        )
            .prop_map(|(late, answer)| WOp::Answer { late, answer }),
        5 => (0u64..5_000).prop_map(|ms| WOp::Advance(Duration::from_millis(ms))),
        1 => (60u64..3600).prop_map(|s| WOp::Jump(Duration::from_secs(s))),
    ]
}

struct WHarness {
    engine: WatchEngine,
    model: WatchModel,
    now: Instant,
    awaited: Option<RequestId>,
    /// Superseded requests still on the wire (their answers are stale).
    superseded: Vec<RequestId>,
    starts: Vec<Instant>,
    timetoken: u64,
    /// Every event body made so far, by key.
    made: Vec<(String, String)>,
    retry_after: Option<Duration>,
}

fn event_message(n: usize, channel: &str) -> (String, String) {
    let key_uuid = format!("user-{n}");
    let message = format!(
        r#"{{"a":"1","f":0,"p":{{"t":"{}","r":1}},"k":"k","c":"{channel}-pnpres","d":{{"action":"join","timestamp":1700000000,"uuid":"{key_uuid}","occupancy":1}},"b":"{channel}-pnpres"}}"#,
        17_000_000_000_000_000u64 + n as u64
    );
    (key_uuid, message)
}

impl WHarness {
    fn new(seed: u64, max_retries: u32, give_up_s: u64, t0: Instant) -> Self {
        let config = WatchConfig {
            jitter_seed: seed,
            max_retries,
            give_up_after: Duration::from_secs(give_up_s),
            ..WatchConfig::default()
        };
        let model = WatchModel::new(
            config.retry_base,
            config.retry_cap,
            max_retries,
            config.give_up_after,
        );
        let mut engine = WatchEngine::new(config);
        engine.record_transitions(1024);
        Self {
            engine,
            model,
            now: t0,
            awaited: None,
            superseded: Vec::new(),
            starts: Vec::new(),
            timetoken: 17_000_000_000_000_000,
            made: Vec::new(),
            retry_after: None,
        }
    }

    fn apply(&mut self, op: &WOp) -> Result<(), String> {
        let now = self.now;
        match op {
            WOp::Add(c, g) => {
                let (c, g) = (pick(&CHANNELS, *c), pick(&GROUPS, *g));
                self.engine.add(now, c.clone(), g.clone());
                self.model.add(now, &c, &g);
            }
            WOp::Remove(c, g) => {
                let (c, g) = (pick(&CHANNELS, *c), pick(&GROUPS, *g));
                self.engine.remove(now, c.clone(), g.clone());
                self.model.remove(now, &c, &g);
            }
            WOp::Stop => {
                self.engine.stop(now);
                self.model.stop();
            }
            WOp::Reconnect => {
                self.engine.reconnect(now);
                self.model.reconnect(now);
            }
            WOp::Answer { late, answer } => {
                let id = if *late {
                    self.superseded.pop()
                } else {
                    self.awaited.take()
                };
                let Some(id) = id else {
                    return self.check();
                };
                return self.answer(id, answer);
            }
            WOp::Advance(d) => return self.advance_to(now + *d),
            WOp::Jump(d) => {
                self.now = now + *d;
                self.model.times_up(self.now);
                self.engine.handle_timeout(self.now);
            }
        }
        self.check()
    }

    fn answer(&mut self, id: RequestId, answer: &WAnswer) -> Result<(), String> {
        let now = self.now;
        self.retry_after = None;
        let expect = match answer {
            WAnswer::Events { fresh, dups } => {
                let mut keys = Vec::new();
                let mut messages = Vec::new();
                for _ in 0..*fresh {
                    let (k, m) = event_message(self.made.len(), "a");
                    self.made.push((k.clone(), m.clone()));
                    keys.push(k);
                    messages.push(m);
                }
                for i in 0..usize::from(*dups).min(self.made.len()) {
                    let (k, m) = self.made[(i * 7 + id as usize) % self.made.len()].clone();
                    keys.push(k);
                    messages.push(m);
                }
                self.timetoken += 1;
                let body = format!(
                    r#"{{"t":{{"t":"{}","r":1}},"m":[{}]}}"#,
                    self.timetoken,
                    messages.join(",")
                );
                self.engine
                    .handle_response(now, id, &http::Response::new(body.into_bytes()));
                self.model
                    .answered(now, id, &self.timetoken.to_string(), &keys)
            }
            WAnswer::Fail(Reply::Cancelled) => {
                self.engine.handle_cancelled(now, id);
                self.model.cancelled(now, id);
                wm::Expect::Nothing
            }
            WAnswer::Fail(reply) => {
                // A failure: `Ok` here is a 502 (the successes are `Events`).
                let reply = match reply {
                    Reply::Ok => &Reply::ServerError(502),
                    r => r,
                };
                self.retry_after = deliver(&mut self.engine, now, id, reply, ok_body());
                self.model
                    .failed(now, id, !matches!(reply, Reply::Forbidden))
            }
        };
        let events: Vec<WatchEvent> = std::iter::from_fn(|| self.engine.poll_event()).collect();
        match expect {
            wm::Expect::Deliver { connected, keys } => {
                let mut got = Vec::new();
                let mut saw_connected = false;
                for e in &events {
                    match e {
                        WatchEvent::Connected => saw_connected = true,
                        WatchEvent::Presence(presence_core::PresenceEvent::Join(j)) => {
                            got.push(j.user_id.clone())
                        }
                        other => return Err(format!("unexpected {other:?}")),
                    }
                }
                if saw_connected != connected || got != keys {
                    return Err(format!(
                        "delivered {events:?}, want connected={connected} {keys:?}"
                    ));
                }
            }
            wm::Expect::Retry => {
                let d = events
                    .iter()
                    .find_map(|e| match e {
                        WatchEvent::Failed {
                            retry_in: Some(d), ..
                        } => Some(*d),
                        _ => None,
                    })
                    .ok_or_else(|| format!("no retry reported: {events:?}"))?;
                self.model.retry_in(now, d, self.retry_after)?;
            }
            wm::Expect::Stop => {
                if !matches!(&events[..], [WatchEvent::Failed { retry_in: None, .. }]) {
                    return Err(format!("expected a stop: {events:?}"));
                }
            }
            wm::Expect::GiveUp { failures } => {
                if !matches!(&events[..], [WatchEvent::Failed { retry_in: None, .. }, WatchEvent::GaveUp { failures: f, .. }] if *f == failures)
                {
                    return Err(format!("expected a give-up after {failures}: {events:?}"));
                }
            }
            wm::Expect::Nothing => {
                if !events.is_empty() {
                    return Err(format!("a stale answer delivered {events:?}"));
                }
            }
        }
        self.check()
    }

    fn advance_to(&mut self, target: Instant) -> Result<(), String> {
        loop {
            let deadline = self.engine.poll_timeout();
            if deadline.is_some_and(|d| d <= self.now) {
                return Err(format!("a deadline not in the future: {deadline:?}"));
            }
            let next = deadline.map_or(target, |d| d.min(target));
            self.now = next;
            if deadline.is_some_and(|d| d <= self.now) {
                self.model.times_up(self.now);
                self.engine.handle_timeout(self.now);
                self.check()?;
            }
            if self.now >= target {
                return Ok(());
            }
        }
    }

    fn check(&mut self) -> Result<(), String> {
        let now = self.now;
        let mut handed_out = Vec::new();
        let mut cancelled = Vec::new();
        while let Some(id) = self.engine.poll_cancel() {
            if self.awaited == Some(id) {
                self.awaited = None;
                self.superseded.push(id);
            }
            cancelled.push(id);
        }
        let want_cancel: Vec<u64> = self.model.to_cancel.drain(..).collect();
        if cancelled != want_cancel {
            return Err(format!("cancelled {cancelled:?}, model {want_cancel:?}"));
        }
        while let Some(tx) = self.engine.poll_request(now) {
            if let Some(prev) = self.awaited {
                return Err(format!("a second subscribe while {prev} is awaited"));
            }
            let req = tx.op.to_request(&config(), &RequestMeta::new(0)).unwrap();
            let path = req.uri().path().to_owned();
            let query = req.uri().query().unwrap_or_default().to_owned();
            let strip = |n: String| n.strip_suffix("-pnpres").map(str::to_owned).ok_or(n);
            let channels: Result<_, _> = list(path.split('/').nth(4).unwrap())
                .into_iter()
                .map(strip)
                .collect();
            let groups: Result<_, _> = query_param(&query, "channel-group")
                .map(|g| g.split(',').map(|s| strip(s.to_owned())).collect())
                .unwrap_or(Ok(Default::default()));
            let names = Names {
                channels: channels.map_err(|n| format!("not a presence channel: {n}"))?,
                groups: groups.map_err(|n| format!("not a presence group: {n}"))?,
            };
            let tt = query_param(&query, "tt").unwrap_or_default();
            if let Some(prev) = self.starts.last() {
                let gap = now - *prev;
                if gap < wm::MIN_GAP {
                    return Err(format!("two subscribes {gap:?} apart"));
                }
            }
            self.model.request_sent(now, tx.id, names, &tt)?;
            self.starts.push(now);
            self.awaited = Some(tx.id);
            handed_out.push(tx.id);
        }
        if self.model.request_due(now) {
            return Err(format!(
                "a subscribe was due and not sent: {:?}",
                self.model
            ));
        }
        let deadline = self.engine.poll_timeout();
        if deadline != self.model.deadline() {
            return Err(format!(
                "poll_timeout {deadline:?}, model {:?}: {:?}",
                self.model.deadline(),
                self.model
            ));
        }
        let state = self.engine.state();
        let ok = match self.model.mode {
            wm::Mode::Idle => state == WatchState::Idle,
            wm::Mode::Stopped => state == WatchState::Stopped,
            wm::Mode::Reconnecting => state == WatchState::Reconnecting,
            wm::Mode::Polling if self.model.cursor.is_some() => state == WatchState::Receiving,
            wm::Mode::Polling => state == WatchState::Handshaking,
        };
        if !ok {
            return Err(format!("state {state:?}, model {:?}", self.model.mode));
        }
        let mut logged = Vec::new();
        while let Some(t) = self.engine.poll_transition() {
            for e in t.effects {
                if let WatchEffect::Handshake { id } | WatchEffect::Receive { id } = e {
                    logged.push(id);
                }
            }
        }
        if logged != handed_out {
            return Err(format!("log names {logged:?}, handed out {handed_out:?}"));
        }
        if let Some(e) = self.engine.poll_event() {
            return Err(format!("an event outside an answer: {e:?}"));
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(proptest_config(512))]

    /// The watch engine follows its reference model after every step.
    #[test]
    fn watch_engine_follows_its_model(
        seed in any::<u64>(),
        max_retries in 0u32..5,
        give_up_s in prop_oneof![Just(0u64), 1u64..120, Just(300)],
        ops in proptest::collection::vec(w_op(), 1..80),
    ) {
        let mut h = WHarness::new(seed, max_retries, give_up_s, epoch());
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = h.apply(op) {
                return Err(TestCaseError::fail(format!("step {i} {op:?}: {e}")));
            }
        }
    }

}

proptest! {
    #![proptest_config(proptest_config(64))]

    /// Against an origin that answers every long-poll at once with nothing (issue 16's
    /// ~47 000 re-polls in 10 s), at most one request per second; with new events every
    /// time, at most ten.
    #[test]
    fn an_instant_origin_gets_at_most_one_request_per_second(
        fresh in proptest::collection::vec(0u8..3, 1..20),
        seed in any::<u64>(),
    ) {
        let t0 = epoch();
        let mut e = WatchEngine::new(WatchConfig { jitter_seed: seed, ..WatchConfig::default() });
        e.add(t0, ["a"], Vec::<String>::new());
        let mut now = t0;
        let mut starts = Vec::new();
        let mut brought = Vec::new();
        let mut tt = 17_000_000_000_000_000u64;
        let mut made = 0usize;
        while now < t0 + Duration::from_secs(120) {
            if let Some(tx) = e.poll_request(now) {
                starts.push(now);
                tt += 1;
                let n = fresh[starts.len() % fresh.len()];
                let messages: Vec<String> = (0..n).map(|_| { made += 1; event_message(made, "a").1 }).collect();
                brought.push(n > 0 || starts.len() == 1);
                let body = format!(r#"{{"t":{{"t":"{tt}","r":1}},"m":[{}]}}"#, messages.join(","));
                e.handle_response(now, tx.id, &http::Response::new(body.into_bytes()));
                while e.poll_event().is_some() {}
                continue;
            }
            let next = e.poll_timeout().expect("always a next request");
            prop_assert!(next > now);
            now = next;
            e.handle_timeout(now);
        }
        for w in 1..starts.len() {
            let gap = starts[w] - starts[w - 1];
            let want = if brought[w - 1] { wm::MIN_GAP } else { wm::IDLE_GAP };
            prop_assert_eq!(gap, want, "request {}", w);
        }
        if fresh.iter().all(|n| *n == 0) {
            // 120 s: the handshake, the first poll 100 ms later, then one per second.
            prop_assert_eq!(starts.len(), 121);
        }
    }
}

/// Against an origin that fails every subscribe, the watch gives up once, after more
/// than `max_retries` failures spanning `give_up_after`, and then sends nothing.
#[test]
fn the_watch_gives_up_on_endless_failures() {
    let t0 = epoch();
    let mut e = WatchEngine::new(WatchConfig::default());
    e.add(t0, ["a"], Vec::<String>::new());
    let mut now = t0;
    let mut sent = 0;
    let mut events = Vec::new();
    loop {
        if let Some(tx) = e.poll_request(now) {
            sent += 1;
            e.handle_response(now, tx.id, &error_body(503, None));
            events.extend(std::iter::from_fn(|| e.poll_event()));
            continue;
        }
        match e.poll_timeout() {
            Some(t) => {
                now = t;
                e.handle_timeout(now);
            }
            None => break,
        }
        assert!(sent < 1000, "retries without end");
    }
    let gave_up: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::GaveUp { failures, over } => Some((*failures, *over)),
            _ => None,
        })
        .collect();
    assert_eq!(gave_up.len(), 1);
    let (failures, over) = gave_up[0];
    assert_eq!(failures, sent);
    assert!(
        failures > 3 && over >= Duration::from_secs(300),
        "{failures} over {over:?}"
    );
    assert!(
        over < Duration::from_secs(300 + 32),
        "not later than one capped retry"
    );
    assert_eq!(e.state(), WatchState::Stopped);
    assert!(e.poll_request(now + Duration::from_secs(86_400)).is_none());
}
