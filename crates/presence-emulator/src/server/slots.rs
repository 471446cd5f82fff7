//! Connection accounting: which connections count against `max_connections`, which
//! are parked long-polls (bounded by `max_long_polls`), and whom to close or release
//! when a limit is reached.
//!
//! A connection is in one of four states:
//! - **idle**: no request in progress (just accepted, between two requests of a
//!   keep-alive connection, or a client still sending its headers); counted, and
//!   evictable, oldest first;
//! - **busy**: a request in progress; counted;
//! - **parked**: a subscribe long-poll waiting for events; not counted against
//!   `max_connections` (it needs nothing but its socket until it is answered), bounded
//!   by `max_long_polls`, released oldest first;
//! - **evicted**: told to close; no longer counted.
//!
//! So an attacker holding connections open (slow headers, idle keep-alive, thousands of
//! idle long-polls) can never take the slot an ordinary request needs: a new
//! connection at the limit evicts the longest-idle one, and long-polls are not in the
//! count at all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a connection must have been idle before a newcomer may evict it: a burst of
/// clients connecting at once must not evict each other before their first request
/// (which arrives within milliseconds) is read; attackers hold on far longer.
pub(crate) const EVICT_AFTER: Duration = Duration::from_secs(1);

/// Connection counts of a running emulator ([`EmulatorHandle::connections`](crate::EmulatorHandle::connections)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Open connections counted against `max_connections` (idle or with a request in
    /// progress).
    pub active: usize,
    /// Of those, idle ones (no request in progress).
    pub idle: usize,
    /// Subscribe long-polls parked (not counted in `active`).
    pub long_polls: usize,
    /// Idle connections closed to make room for a new one, so far.
    pub evicted: u64,
    /// Long-polls answered early because of `max_long_polls` or a lack of file
    /// descriptors, so far.
    pub released: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle(u64),
    Busy,
    Parked(u64),
    Evicted,
    Closed,
}

/// One connection's entry: its state and the two signals it listens to.
#[derive(Debug)]
pub(crate) struct Slot {
    state: Mutex<State>,
    /// Close the connection (it was evicted while idle).
    pub(crate) evict: Notify,
    /// Answer the parked long-poll now, with `Connection: close`.
    pub(crate) release: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    stats: ConnectionStats,
    idle: BTreeMap<u64, (Instant, Arc<Slot>)>,
    parked: BTreeMap<u64, Arc<Slot>>,
}

/// The accounting of all connections.
#[derive(Debug)]
pub(crate) struct Slots {
    max_active: usize,
    max_parked: usize,
    inner: Mutex<Inner>,
    /// A counted connection went away (the accept loop may be waiting for one).
    freed: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slots {
    pub(crate) fn new(max_active: usize, max_parked: usize) -> Self {
        Slots {
            max_active: max_active.max(1),
            max_parked: max_parked.max(1),
            inner: Mutex::new(Inner::default()),
            freed: Notify::new(),
        }
    }

    pub(crate) fn stats(&self) -> ConnectionStats {
        let inner = lock(&self.inner);
        ConnectionStats {
            idle: inner.idle.len(),
            ..inner.stats
        }
    }

    /// A slot for a connection just accepted: at once when there is room or an idle
    /// connection to evict; otherwise once a busy one finishes.
    pub(crate) async fn admit(&self) -> Arc<Slot> {
        loop {
            let freed = self.freed.notified();
            let mut retry_at = None;
            {
                let mut inner = lock(&self.inner);
                if inner.stats.active >= self.max_active {
                    match inner.idle.values().next().map(|(since, _)| *since) {
                        Some(since) if since.elapsed() >= EVICT_AFTER => {
                            evict_oldest_idle(&mut inner);
                        }
                        Some(since) => retry_at = Some(since + EVICT_AFTER),
                        None => {}
                    }
                }
                if inner.stats.active < self.max_active {
                    inner.stats.active += 1;
                    inner.seq += 1;
                    let seq = inner.seq;
                    let slot = Arc::new(Slot {
                        state: Mutex::new(State::Idle(seq)),
                        evict: Notify::new(),
                        release: Notify::new(),
                    });
                    inner.idle.insert(seq, (Instant::now(), slot.clone()));
                    return slot;
                }
            }
            match retry_at {
                Some(at) => {
                    tokio::select! {
                        _ = freed => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => freed.await,
            }
        }
    }

    /// A request arrived on `slot` (idle → busy).
    pub(crate) fn begin(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        let mut state = lock(&slot.state);
        if let State::Idle(seq) = *state {
            inner.idle.remove(&seq);
            *state = State::Busy;
        }
    }

    /// The request on `slot` became a long-poll (busy → parked): it frees its
    /// `max_connections` slot; past `max_long_polls` the oldest parked one is released.
    pub(crate) fn park(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        {
            let mut state = lock(&slot.state);
            if *state != State::Busy {
                return;
            }
            inner.seq += 1;
            let seq = inner.seq;
            *state = State::Parked(seq);
            inner.parked.insert(seq, slot.clone());
            inner.stats.active -= 1;
            inner.stats.long_polls += 1;
        }
        if inner.stats.long_polls > self.max_parked {
            release_oldest_parked(&mut inner);
        }
        drop(inner);
        self.freed.notify_one();
    }

    /// The long-poll on `slot` is answered (parked → busy). It counts again; over the
    /// limit, the longest-idle connection is evicted to make up for it.
    pub(crate) fn unpark(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        let mut state = lock(&slot.state);
        if let State::Parked(seq) = *state {
            inner.parked.remove(&seq);
            inner.stats.long_polls -= 1;
            inner.stats.active += 1;
            *state = State::Busy;
            drop(state);
            if inner.stats.active > self.max_active {
                evict_oldest_idle(&mut inner);
            }
        }
    }

    /// The request on `slot` is answered (busy → idle; a parked one is unparked first).
    pub(crate) fn end(&self, slot: &Arc<Slot>) {
        self.unpark(slot);
        let mut inner = lock(&self.inner);
        let mut state = lock(&slot.state);
        if *state == State::Busy {
            inner.seq += 1;
            let seq = inner.seq;
            *state = State::Idle(seq);
            inner.idle.insert(seq, (Instant::now(), slot.clone()));
        }
    }

    /// The connection of `slot` closed.
    pub(crate) fn close(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        let mut state = lock(&slot.state);
        match *state {
            State::Idle(seq) => {
                inner.idle.remove(&seq);
                inner.stats.active -= 1;
            }
            State::Busy => inner.stats.active -= 1,
            State::Parked(seq) => {
                inner.parked.remove(&seq);
                inner.stats.long_polls -= 1;
            }
            State::Evicted | State::Closed => {}
        }
        *state = State::Closed;
        drop(state);
        drop(inner);
        self.freed.notify_one();
    }

    /// Out of file descriptors: release the oldest parked long-poll (its connection
    /// closes after the answer), or else evict the longest-idle connection.
    pub(crate) fn shed(&self) {
        let mut inner = lock(&self.inner);
        if !release_oldest_parked(&mut inner) {
            evict_oldest_idle(&mut inner);
        }
    }
}

fn evict_oldest_idle(inner: &mut Inner) -> bool {
    let Some((_, (_, slot))) = inner.idle.pop_first() else {
        return false;
    };
    *lock(&slot.state) = State::Evicted;
    inner.stats.active -= 1;
    inner.stats.evicted += 1;
    slot.evict.notify_one();
    true
}

fn release_oldest_parked(inner: &mut Inner) -> bool {
    // It leaves the queue (so the next release picks another) but stays counted until
    // its answer unparks it.
    let Some((_, slot)) = inner.parked.pop_first() else {
        return false;
    };
    inner.stats.released += 1;
    slot.release.notify_one();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limits_evict_the_longest_idle_and_long_polls_do_not_count() {
        let slots = Slots::new(2, 2);
        let a = slots.admit().await;
        let b = slots.admit().await;
        slots.begin(&a);
        slots.park(&a);
        // a is parked: b and a new c fit.
        let c = slots.admit().await;
        assert_eq!(slots.stats().active, 2);
        assert_eq!(slots.stats().long_polls, 1);
        // A fourth evicts the longest idle (b), once it has been idle for a second.
        let start = Instant::now();
        let d = slots.admit().await;
        assert_eq!(start.elapsed(), EVICT_AFTER);
        assert_eq!(slots.stats().evicted, 1);
        assert_eq!(*lock(&b.state), State::Evicted);
        slots.close(&b);
        assert_eq!(slots.stats().active, 2);
        // Past max_long_polls the oldest parked is released.
        slots.begin(&c);
        slots.park(&c);
        slots.begin(&d);
        slots.park(&d);
        assert_eq!(slots.stats().released, 1);
        slots.end(&a);
        slots.close(&a);
        slots.close(&c);
        slots.close(&d);
        assert_eq!(
            slots.stats(),
            ConnectionStats {
                evicted: 1,
                released: 1,
                ..Default::default()
            }
        );
    }
}
