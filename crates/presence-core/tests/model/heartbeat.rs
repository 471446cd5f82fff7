//! Reference model of the heartbeat engine, written from the rules in its docs (not
//! from its code): what is joined, which mode the user asked for, and from that what
//! must be on the wire and when. The harness in `engine_props.rs` feeds the same inputs
//! to the engine and to the model and compares them after every step.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The floor between two heartbeats.
pub(crate) const FLOOR: Duration = Duration::from_secs(1);

/// Channels and groups of a request or of the joined set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Names {
    pub(crate) channels: BTreeSet<String>,
    pub(crate) groups: BTreeSet<String>,
}

impl Names {
    pub(crate) fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty()
    }

    pub(crate) fn overlaps(&self, other: &Names) -> bool {
        !self.channels.is_disjoint(&other.channels) || !self.groups.is_disjoint(&other.groups)
    }

    fn contains(&self, name: &str) -> bool {
        self.channels.contains(name) || self.groups.contains(name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Heartbeating when something is joined (inactive otherwise).
    Running,
    /// `pause` or `disconnect`: nothing is sent until `reconnect`.
    Stopped,
    /// A non-retryable error or a give-up: nothing is sent until resumed.
    Failed,
}

/// How an awaited heartbeat ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Ok,
    /// Retryable; `Retry-After` if the service sent one.
    Retryable,
    NotRetryable,
    Cancelled,
}

/// What the model says an answered heartbeat leads to.
#[derive(Debug, PartialEq)]
pub(crate) enum Expect {
    Nothing,
    /// A retry; the engine reports the delay, the model checks it and keeps it.
    Retry,
    GiveUp {
        failures: u32,
    },
}

#[derive(Debug)]
pub(crate) struct HeartbeatModel {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) suppress_leave: bool,
    pub(crate) max_retries: u32,
    pub(crate) joined: Names,
    pub(crate) states: BTreeMap<String, serde_json::Value>,
    pub(crate) mode: Mode,
    /// When the next heartbeat is wanted.
    pub(crate) due: Option<Instant>,
    /// The heartbeat whose outcome counts.
    pub(crate) awaited: Option<u64>,
    /// The set changed while `awaited` was on the wire.
    pub(crate) resend: bool,
    pub(crate) last_sent: Option<Instant>,
    pub(crate) failures: u32,
    pub(crate) first_failure: Option<Instant>,
    /// The heartbeat on the wire (awaited or not) and the leaves on the wire.
    pub(crate) heartbeat_on_wire: Option<(u64, Names)>,
    pub(crate) leaves_on_wire: BTreeMap<u64, Names>,
    /// Leaves the user is owed and that have not been handed out.
    pub(crate) owed_leaves: Vec<Names>,
}

impl HeartbeatModel {
    pub(crate) fn new(
        interval: Duration,
        timeout: Duration,
        suppress_leave: bool,
        max_retries: u32,
    ) -> Self {
        Self {
            interval,
            timeout,
            suppress_leave,
            max_retries,
            joined: Names::default(),
            states: BTreeMap::new(),
            mode: Mode::Running,
            due: None,
            awaited: None,
            resend: false,
            last_sent: None,
            failures: 0,
            first_failure: None,
            heartbeat_on_wire: None,
            leaves_on_wire: BTreeMap::new(),
            owed_leaves: Vec::new(),
        }
    }

    fn earliest(&self, now: Instant) -> Instant {
        match self.last_sent {
            Some(t) if t + FLOOR > now => t + FLOOR,
            _ => now,
        }
    }

    /// The joined set changed (or a resume): heartbeat it as soon as allowed.
    fn want(&mut self, now: Instant) {
        if self.awaited.is_some() {
            self.resend = true;
        } else {
            self.due = Some(self.earliest(now));
        }
    }

    fn inactive(&mut self) {
        self.mode = Mode::Running;
        self.awaited = None;
        self.due = None;
        self.resend = false;
        self.failures = 0;
        self.first_failure = None;
    }

    fn resume(&mut self, now: Instant) {
        self.mode = Mode::Running;
        self.failures = 0;
        self.first_failure = None;
        if self.joined.is_empty() {
            self.inactive();
        } else {
            self.want(now);
        }
    }

    fn stop(&mut self) {
        self.mode = Mode::Stopped;
        self.awaited = None;
        self.due = None;
        self.resend = false;
    }

    fn owe(&mut self, names: Names) {
        if !self.suppress_leave && !names.is_empty() {
            self.owed_leaves.push(names);
        }
    }

    pub(crate) fn join(&mut self, now: Instant, channels: &[String], groups: &[String]) {
        let mut added = false;
        for c in channels {
            added |= self.joined.channels.insert(c.clone());
        }
        for g in groups {
            added |= self.joined.groups.insert(g.clone());
        }
        let joined = self.joined.clone();
        for owed in &mut self.owed_leaves {
            owed.channels.retain(|c| !joined.channels.contains(c));
            owed.groups.retain(|g| !joined.groups.contains(g));
        }
        self.owed_leaves.retain(|l| !l.is_empty());
        match self.mode {
            Mode::Stopped => {}
            Mode::Failed => self.resume(now),
            Mode::Running if added => self.want(now),
            Mode::Running => {}
        }
    }

    pub(crate) fn left(
        &mut self,
        now: Instant,
        channels: &[String],
        groups: &[String],
        leave: bool,
    ) {
        let mut removed = Names::default();
        for c in channels {
            if self.joined.channels.remove(c) {
                removed.channels.insert(c.clone());
            }
        }
        for g in groups {
            if self.joined.groups.remove(g) {
                removed.groups.insert(g.clone());
            }
        }
        self.states.retain(|n, _| !removed.contains(n));
        if leave && self.mode != Mode::Stopped {
            self.owe(removed.clone());
        }
        if self.joined.is_empty() {
            if self.mode != Mode::Stopped {
                self.inactive();
            }
        } else if self.mode == Mode::Failed {
            self.resume(now);
        } else if self.mode == Mode::Running && !removed.is_empty() {
            self.want(now);
        }
    }

    pub(crate) fn left_all(&mut self) {
        let all = std::mem::take(&mut self.joined);
        self.states.clear();
        if self.mode != Mode::Stopped {
            self.owe(all);
        }
        self.inactive();
    }

    pub(crate) fn disconnect(&mut self) {
        if self.mode != Mode::Stopped {
            self.owe(self.joined.clone());
            self.stop();
        }
    }

    pub(crate) fn pause(&mut self) {
        if self.mode != Mode::Stopped {
            self.stop();
        }
    }

    pub(crate) fn reconnect(&mut self, now: Instant) {
        if matches!(self.mode, Mode::Stopped | Mode::Failed) {
            self.resume(now);
        }
    }

    pub(crate) fn set_state(&mut self, name: &str, value: Option<serde_json::Value>) {
        match value {
            Some(v) => {
                self.states.insert(name.to_owned(), v);
            }
            None => {
                self.states.remove(name);
            }
        }
    }

    /// Whether a leave on the wire names something joined.
    fn blocked_by_leave(&self) -> bool {
        self.leaves_on_wire
            .values()
            .any(|l| l.overlaps(&self.joined))
    }

    /// Whether a heartbeat must be handed out at `now`.
    pub(crate) fn heartbeat_due(&self, now: Instant) -> bool {
        self.mode == Mode::Running
            && !self.joined.is_empty()
            && self.heartbeat_on_wire.is_none()
            && !self.blocked_by_leave()
            && self.due.is_some_and(|t| t <= now)
    }

    /// What `poll_timeout` must say.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.mode == Mode::Running
            && !self.joined.is_empty()
            && self.heartbeat_on_wire.is_none()
            && !self.blocked_by_leave()
        {
            self.due
        } else {
            None
        }
    }

    /// The engine handed out heartbeat `id` for `names` with `states` at `now`.
    pub(crate) fn heartbeat_sent(
        &mut self,
        now: Instant,
        id: u64,
        names: Names,
        states: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(), String> {
        if !self.heartbeat_due(now) {
            return Err(format!("a heartbeat the model does not expect: {self:?}"));
        }
        if names != self.joined {
            return Err(format!("heartbeat for {names:?}, joined {:?}", self.joined));
        }
        let want: BTreeMap<_, _> = self
            .states
            .iter()
            .filter(|(n, _)| self.joined.contains(n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        if states != &want {
            return Err(format!("heartbeat states {states:?}, want {want:?}"));
        }
        if let Some(leave) = self.leaves_on_wire.values().find(|l| l.overlaps(&names)) {
            return Err(format!(
                "heartbeat {names:?} while leave {leave:?} is on the wire"
            ));
        }
        self.awaited = Some(id);
        self.heartbeat_on_wire = Some((id, names));
        self.last_sent = Some(now);
        self.due = None;
        self.resend = false;
        Ok(())
    }

    /// The engine handed out leave `id` for `names`.
    pub(crate) fn leave_sent(&mut self, id: u64, names: Names) -> Result<(), String> {
        if names.is_empty() {
            return Err("an empty leave".into());
        }
        if let Some((_, hb)) = self
            .heartbeat_on_wire
            .as_ref()
            .filter(|(_, hb)| hb.overlaps(&names))
        {
            return Err(format!(
                "leave {names:?} while heartbeat {hb:?} is on the wire"
            ));
        }
        let Some(i) = self.owed_leaves.iter().position(|l| *l == names) else {
            return Err(format!(
                "a leave nobody asked for: {names:?}, owed {:?}",
                self.owed_leaves
            ));
        };
        self.owed_leaves.remove(i);
        self.leaves_on_wire.insert(id, names);
        Ok(())
    }

    /// Owed leaves that nothing holds back (they must have been handed out).
    pub(crate) fn leaves_held_back_for_no_reason(&self) -> Vec<&Names> {
        self.owed_leaves
            .iter()
            .filter(|l| {
                !self
                    .heartbeat_on_wire
                    .as_ref()
                    .is_some_and(|(_, hb)| hb.overlaps(l))
            })
            .collect()
    }

    pub(crate) fn leave_done(&mut self, id: u64) {
        self.leaves_on_wire.remove(&id);
    }

    /// Heartbeat `id` ended at `now`; says what the engine must report.
    pub(crate) fn heartbeat_done(&mut self, now: Instant, id: u64, outcome: Outcome) -> Expect {
        if self
            .heartbeat_on_wire
            .as_ref()
            .is_some_and(|(w, _)| *w == id)
        {
            self.heartbeat_on_wire = None;
        }
        if self.awaited != Some(id) {
            return Expect::Nothing;
        }
        self.awaited = None;
        let resend = std::mem::take(&mut self.resend);
        match outcome {
            Outcome::Ok => {
                self.failures = 0;
                self.first_failure = None;
                self.due = Some(if resend {
                    self.earliest(now)
                } else {
                    now + self.interval
                });
                Expect::Nothing
            }
            Outcome::Cancelled => {
                self.due = Some(self.earliest(now));
                Expect::Nothing
            }
            Outcome::NotRetryable => {
                self.mode = Mode::Failed;
                self.due = None;
                self.failures = 0;
                self.first_failure = None;
                Expect::Nothing
            }
            Outcome::Retryable => {
                self.failures += 1;
                let first = *self.first_failure.get_or_insert(now);
                if self.failures > self.max_retries && now - first >= self.timeout {
                    let failures = self.failures;
                    self.mode = Mode::Failed;
                    self.due = None;
                    self.failures = 0;
                    self.first_failure = None;
                    Expect::GiveUp { failures }
                } else {
                    Expect::Retry
                }
            }
        }
    }

    /// The engine reported a retry of the last failure in `delay`: checks it against the
    /// rules and keeps it.
    pub(crate) fn retry_in(
        &mut self,
        now: Instant,
        delay: Duration,
        retry_after: Option<Duration>,
        base: Duration,
    ) -> Result<(), String> {
        let at = now + delay;
        let floor = self.earliest(now);
        super::check_retry(
            now,
            delay,
            self.failures - 1,
            base,
            self.interval,
            retry_after,
            floor,
        )?;
        self.due = Some(at);
        Ok(())
    }
}
