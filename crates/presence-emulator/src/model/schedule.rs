//! Time inside a keyset: presence timeouts, `interval` events, timetokens and the
//! event log.
//!
//! Every occupant has an entry `(deadline, channel, user)` in `expiry`; a channel in
//! interval mode has one `(due, channel)` in `interval_timers`. [`advance_to`]
//! applies both in time order; [`announce`] decides whether a presence change is an
//! event of its own or a delta of the channel's next `interval` event.
//!
//! [`advance_to`]: KeysetState::advance_to
//! [`announce`]: KeysetState::announce

use super::keyset::KeysetState;
use crate::events::{Action, Event, EventKind, IntervalAcc};
use crate::occupants::{Name, StateJson};

/// Nanoseconds per second (the model's clock counts nanoseconds since the epoch).
pub(crate) const NANOS: u64 = 1_000_000_000;

impl KeysetState {
    /// The earliest presence timeout or `interval` event due, if any.
    pub(crate) fn next_due(&self) -> Option<u64> {
        let expiry = self.expiry.first().map(|e| e.0);
        let tick = self.interval_timers.first().map(|e| e.0);
        expiry.into_iter().chain(tick).min()
    }

    /// Applies, in time order, every presence timeout (`deadline <= now`) and every
    /// interval event due by `now`.
    pub(crate) fn advance_to(&mut self, now: u64) {
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
        super::keyset::shrink_if_sparse(&mut self.intervals);
        let occupancy = self.occupancy(&ch);
        let deltas = acc.join.len() + acc.leave.len() + acc.timeout.len();
        let here_now_refresh = acc.overflow || deltas > self.tuning.announce_max;
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

    /// Puts `channel` in interval mode (its first `interval` event one interval from
    /// `now`), unless it is already.
    pub(crate) fn enter_interval_mode(&mut self, now: u64, channel: &Name) {
        if self.intervals.contains_key(channel) {
            return;
        }
        let due = now.saturating_add(self.tuning.interval);
        self.intervals
            .insert(channel.clone(), IntervalAcc::default());
        self.interval_timers.insert((due, channel.clone()));
    }

    /// The next timetoken: `now` in 100 ns units, bumped to stay strictly increasing.
    pub(crate) fn next_tt(&mut self, now: u64) -> u64 {
        self.last_tt = (now / 100).max(self.last_tt + 1);
        self.last_tt
    }

    fn log(&mut self, now: u64, at: u64, channel: Name, occupancy: usize, kind: EventKind) {
        let tt = self.next_tt(now);
        self.watchers.on_event(&channel, &self.groups);
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
    pub(crate) fn announce(
        &mut self,
        (now, at): (u64, u64),
        channel: &Name,
        action: Action,
        uuid: &Name,
        occupancy: usize,
        data: Option<StateJson>,
    ) {
        if action != Action::StateChange {
            let limit = self.tuning.announce_max;
            if let Some(acc) = self.intervals.get_mut(channel) {
                acc.record(action, uuid.clone(), limit);
                return;
            }
            if occupancy > self.tuning.announce_max {
                self.enter_interval_mode(now, channel);
                if let Some(acc) = self.intervals.get_mut(channel) {
                    acc.record(action, uuid.clone(), limit);
                }
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
}
