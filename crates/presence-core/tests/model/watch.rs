//! Reference model of the watch engine, written from the rules in its docs: what is
//! watched, the cursor, which events must reach the user, and when the next request
//! may start.

use super::heartbeat::Names;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

pub(crate) const MIN_GAP: Duration = Duration::from_millis(100);
pub(crate) const IDLE_GAP: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Idle,
    Polling,
    Reconnecting,
    Stopped,
}

#[derive(Debug)]
pub(crate) struct WatchModel {
    pub(crate) retry_base: Duration,
    pub(crate) retry_cap: Duration,
    pub(crate) max_retries: u32,
    pub(crate) give_up_after: Duration,
    pub(crate) watched: Names,
    pub(crate) mode: Mode,
    pub(crate) cursor: Option<String>,
    pub(crate) awaited: Option<u64>,
    /// Requests the engine must ask the driver to abort, in order.
    pub(crate) to_cancel: VecDeque<u64>,
    pub(crate) due: Option<Instant>,
    pub(crate) last_sent: Option<Instant>,
    pub(crate) gap: Duration,
    pub(crate) failures: u32,
    pub(crate) first_failure: Option<Instant>,
    /// Event keys delivered so far.
    pub(crate) seen: HashSet<String>,
}

/// What the model says a response or failure leads to.
#[derive(Debug, PartialEq)]
pub(crate) enum Expect {
    /// Deliver these events (keys, in order), `Connected` first if `connected`.
    Deliver {
        connected: bool,
        keys: Vec<String>,
    },
    Retry,
    Stop,
    GiveUp {
        failures: u32,
    },
    Nothing,
}

impl WatchModel {
    pub(crate) fn new(
        retry_base: Duration,
        retry_cap: Duration,
        max_retries: u32,
        give_up_after: Duration,
    ) -> Self {
        Self {
            retry_base,
            retry_cap,
            max_retries,
            give_up_after,
            watched: Names::default(),
            mode: Mode::Idle,
            cursor: None,
            awaited: None,
            to_cancel: VecDeque::new(),
            due: None,
            last_sent: None,
            gap: MIN_GAP,
            failures: 0,
            first_failure: None,
            seen: HashSet::new(),
        }
    }

    fn earliest(&self, now: Instant, gap: Duration) -> Instant {
        match self.last_sent {
            Some(t) if t + gap > now => t + gap,
            _ => now,
        }
    }

    fn cancel_awaited(&mut self) {
        if let Some(id) = self.awaited.take() {
            self.to_cancel.push_back(id);
        }
    }

    fn restart(&mut self) {
        self.cancel_awaited();
    }

    fn after_change(&mut self, now: Instant) {
        self.restart();
        if self.watched.is_empty() {
            self.due = None;
            if self.mode != Mode::Stopped {
                self.mode = Mode::Idle;
            }
        } else if matches!(self.mode, Mode::Idle | Mode::Polling) {
            self.mode = Mode::Polling;
            self.gap = MIN_GAP;
            self.due = Some(self.earliest(now, MIN_GAP));
        }
    }

    pub(crate) fn add(&mut self, now: Instant, channels: &[String], groups: &[String]) {
        let mut changed = false;
        for c in channels {
            changed |= self.watched.channels.insert(c.clone());
        }
        for g in groups {
            changed |= self.watched.groups.insert(g.clone());
        }
        if changed {
            self.after_change(now);
        }
    }

    pub(crate) fn remove(&mut self, now: Instant, channels: &[String], groups: &[String]) {
        let mut changed = false;
        for c in channels {
            changed |= self.watched.channels.remove(c);
        }
        for g in groups {
            changed |= self.watched.groups.remove(g);
        }
        if changed {
            self.after_change(now);
        }
    }

    pub(crate) fn stop(&mut self) {
        self.cancel_awaited();
        self.due = None;
        self.mode = Mode::Stopped;
    }

    pub(crate) fn reconnect(&mut self, now: Instant) {
        if matches!(self.mode, Mode::Stopped | Mode::Reconnecting) {
            self.mode = Mode::Idle;
            self.failures = 0;
            self.first_failure = None;
            self.due = None;
            self.after_change(now);
        }
    }

    /// The retry or floor ran out (the harness calls this at the engine's deadline).
    pub(crate) fn times_up(&mut self, now: Instant) {
        if self.mode == Mode::Reconnecting && self.due.is_some_and(|t| t <= now) {
            self.mode = Mode::Polling;
        }
    }

    pub(crate) fn request_due(&self, now: Instant) -> bool {
        matches!(self.mode, Mode::Polling | Mode::Reconnecting)
            && self.awaited.is_none()
            && self.due.is_some_and(|t| t <= now)
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.mode {
            Mode::Polling | Mode::Reconnecting if self.awaited.is_none() => self.due,
            _ => None,
        }
    }

    /// The engine handed out subscribe `id` for `names` from timetoken `tt` at `now`.
    pub(crate) fn request_sent(
        &mut self,
        now: Instant,
        id: u64,
        names: Names,
        tt: &str,
    ) -> Result<(), String> {
        if !self.request_due(now) {
            return Err(format!("a subscribe the model does not expect: {self:?}"));
        }
        if names != self.watched {
            return Err(format!(
                "subscribe for {names:?}, watched {:?}",
                self.watched
            ));
        }
        let want = self.cursor.as_deref().unwrap_or("0");
        if tt != want {
            return Err(format!("subscribe from tt={tt}, want tt={want}"));
        }
        self.mode = Mode::Polling;
        self.awaited = Some(id);
        self.last_sent = Some(now);
        self.due = None;
        Ok(())
    }

    /// Subscribe `id` answered with cursor `tt` and events `keys` (duplicates included).
    pub(crate) fn answered(&mut self, now: Instant, id: u64, tt: &str, keys: &[String]) -> Expect {
        if self.awaited != Some(id) {
            return Expect::Nothing;
        }
        self.awaited = None;
        let connected = self.cursor.is_none();
        self.cursor = Some(tt.to_owned());
        self.failures = 0;
        self.first_failure = None;
        self.mode = Mode::Polling;
        let mut fresh = Vec::new();
        for k in keys {
            if self.seen.insert(k.clone()) {
                fresh.push(k.clone());
            }
        }
        self.gap = if connected || !fresh.is_empty() {
            MIN_GAP
        } else {
            IDLE_GAP
        };
        self.due = Some(self.earliest(now, self.gap));
        Expect::Deliver {
            connected,
            keys: fresh,
        }
    }

    /// Subscribe `id` failed.
    pub(crate) fn failed(&mut self, now: Instant, id: u64, retryable: bool) -> Expect {
        if self.awaited != Some(id) {
            return Expect::Nothing;
        }
        self.awaited = None;
        if !retryable {
            self.mode = Mode::Stopped;
            self.due = None;
            return Expect::Stop;
        }
        self.failures += 1;
        let first = *self.first_failure.get_or_insert(now);
        if self.failures > self.max_retries && now - first >= self.give_up_after {
            self.mode = Mode::Stopped;
            self.due = None;
            return Expect::GiveUp {
                failures: self.failures,
            };
        }
        self.mode = Mode::Reconnecting;
        self.gap = IDLE_GAP;
        Expect::Retry
    }

    /// The engine reported the retry of the last failure in `delay`: checks and keeps it.
    pub(crate) fn retry_in(
        &mut self,
        now: Instant,
        delay: Duration,
        retry_after: Option<Duration>,
    ) -> Result<(), String> {
        let base = self.retry_base.max(Duration::from_millis(100));
        let floor = self.earliest(now, IDLE_GAP);
        let at = now + delay;
        super::check_retry(
            now,
            delay,
            self.failures - 1,
            base,
            self.retry_cap.max(base),
            retry_after,
            floor,
        )?;
        self.due = Some(at);
        Ok(())
    }

    /// The driver reports that request `id` was aborted.
    pub(crate) fn cancelled(&mut self, now: Instant, id: u64) {
        if self.awaited == Some(id) {
            self.awaited = None;
            if self.mode == Mode::Polling {
                self.due = Some(self.earliest(now, self.gap));
            }
        }
    }
}
