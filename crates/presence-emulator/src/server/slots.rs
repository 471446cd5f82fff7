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
use std::sync::atomic::{AtomicBool, Ordering};
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

/// What a connection is doing: its accounted state and its requests in flight. An
/// HTTP/1.1 connection has at most one request at a time; an HTTP/2 one may have any
/// number of streams, so its state follows the counts: busy while any request is in
/// progress, parked while its only requests are parked long-polls, idle with none.
#[derive(Debug)]
struct Activity {
    state: State,
    busy: usize,
    parked: usize,
    /// Since when the connection has been idle (`None` when it is not).
    idle_since: Option<Instant>,
}

/// One connection's entry: its state and the signals it listens to.
#[derive(Debug)]
pub(crate) struct Slot {
    activity: Mutex<Activity>,
    /// Close the connection (it was evicted while idle).
    pub(crate) evict: Notify,
    /// Answer the parked long-polls now and close the connection.
    release: Notify,
    released: AtomicBool,
    /// Notified each time the connection becomes idle (for the idle watchdog).
    idle_again: Notify,
}

impl Slot {
    /// Resolves once the connection has been idle for `timeout` in a row: the idle
    /// limit of a connection hyper does not time out itself (an HTTP/2 one, or one
    /// that has not sent a byte yet).
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        loop {
            let since = lock(&self.activity).idle_since;
            match since {
                Some(since) => {
                    let at = since + timeout;
                    if Instant::now() >= at {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.idle_again.notified() => {}
                    }
                }
                None => self.idle_again.notified().await,
            }
        }
    }

    /// Resolves once the connection's parked long-polls are to be answered now (it was
    /// released). Checked before waiting, so a release is never missed.
    pub(crate) async fn released(&self) {
        loop {
            let notified = self.release.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.released.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
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
                    let slot = Arc::new(Slot {
                        activity: Mutex::new(Activity {
                            state: State::Closed,
                            busy: 0,
                            parked: 0,
                            idle_since: None,
                        }),
                        evict: Notify::new(),
                        release: Notify::new(),
                        released: AtomicBool::new(false),
                        idle_again: Notify::new(),
                    });
                    let mut a = lock(&slot.activity);
                    enter(&mut inner, &slot, &mut a, Kind::Idle);
                    drop(a);
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

    /// A request arrived on `slot` (the connection is busy).
    pub(crate) fn begin(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        let mut a = lock(&slot.activity);
        a.busy += 1;
        settle(&mut inner, slot, &mut a);
    }

    /// A request on `slot` became a long-poll: it stops counting against
    /// `max_connections` (once it is the connection's only activity); past
    /// `max_long_polls` the connection parked the longest is released.
    pub(crate) fn park(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        {
            let mut a = lock(&slot.activity);
            if a.busy == 0 {
                return;
            }
            a.busy -= 1;
            a.parked += 1;
            inner.stats.long_polls += 1;
            settle(&mut inner, slot, &mut a);
        }
        if inner.stats.long_polls > self.max_parked {
            release_oldest_parked(&mut inner);
        }
        drop(inner);
        self.freed.notify_one();
    }

    /// A long-poll on `slot` is being answered: it counts as a request in progress
    /// again; over the limit, the longest-idle connection is evicted to make up for it.
    pub(crate) fn unpark(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        let mut a = lock(&slot.activity);
        if a.parked == 0 {
            return;
        }
        a.parked -= 1;
        a.busy += 1;
        inner.stats.long_polls -= 1;
        settle(&mut inner, slot, &mut a);
        drop(a);
        if inner.stats.active > self.max_active {
            evict_oldest_idle(&mut inner);
        }
    }

    /// A request on `slot` is over: answered, or dropped (the client went away) while
    /// `parked` or not.
    pub(crate) fn end(&self, slot: &Arc<Slot>, parked: bool) {
        let mut inner = lock(&self.inner);
        let mut a = lock(&slot.activity);
        if parked && a.parked > 0 {
            a.parked -= 1;
            inner.stats.long_polls -= 1;
        } else if !parked && a.busy > 0 {
            a.busy -= 1;
        }
        settle(&mut inner, slot, &mut a);
    }

    /// The connection of `slot` closed.
    pub(crate) fn close(&self, slot: &Arc<Slot>) {
        let mut inner = lock(&self.inner);
        let mut a = lock(&slot.activity);
        inner.stats.long_polls -= a.parked;
        a.busy = 0;
        a.parked = 0;
        leave(&mut inner, &mut a);
        a.state = State::Closed;
        drop(a);
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

/// The accounted kinds of [`State`] a connection in service moves between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Idle,
    Busy,
    Parked,
}

fn kind(state: State) -> Option<Kind> {
    match state {
        State::Idle(_) => Some(Kind::Idle),
        State::Busy => Some(Kind::Busy),
        State::Parked(_) => Some(Kind::Parked),
        State::Evicted | State::Closed => None,
    }
}

/// Moves `slot` to the state its counts call for (an evicted or closed connection
/// stays so: it is no longer accounted).
fn settle(inner: &mut Inner, slot: &Arc<Slot>, a: &mut Activity) {
    let Some(now) = kind(a.state) else {
        return;
    };
    let want = if a.busy > 0 {
        Kind::Busy
    } else if a.parked > 0 {
        Kind::Parked
    } else {
        Kind::Idle
    };
    if now != want {
        leave(inner, a);
        enter(inner, slot, a, want);
    }
}

/// Takes `a`'s current state out of the accounting.
fn leave(inner: &mut Inner, a: &mut Activity) {
    match a.state {
        State::Idle(seq) => {
            inner.idle.remove(&seq);
            inner.stats.active -= 1;
        }
        State::Busy => inner.stats.active -= 1,
        State::Parked(seq) => {
            inner.parked.remove(&seq);
        }
        State::Evicted | State::Closed => {}
    }
    a.idle_since = None;
}

/// Puts `slot` in state `kind` and accounts for it.
fn enter(inner: &mut Inner, slot: &Arc<Slot>, a: &mut Activity, kind: Kind) {
    inner.seq += 1;
    let seq = inner.seq;
    match kind {
        Kind::Idle => {
            let now = Instant::now();
            a.state = State::Idle(seq);
            a.idle_since = Some(now);
            inner.idle.insert(seq, (now, slot.clone()));
            inner.stats.active += 1;
            slot.idle_again.notify_one();
        }
        Kind::Busy => {
            a.state = State::Busy;
            inner.stats.active += 1;
        }
        Kind::Parked => {
            a.state = State::Parked(seq);
            inner.parked.insert(seq, slot.clone());
        }
    }
}

fn evict_oldest_idle(inner: &mut Inner) -> bool {
    let Some((_, (_, slot))) = inner.idle.pop_first() else {
        return false;
    };
    let mut a = lock(&slot.activity);
    a.state = State::Evicted;
    a.idle_since = None;
    drop(a);
    inner.stats.active -= 1;
    inner.stats.evicted += 1;
    slot.evict.notify_one();
    true
}

fn release_oldest_parked(inner: &mut Inner) -> bool {
    // It leaves the queue (so the next release picks another) but its long-polls stay
    // counted until their answers unpark them.
    let Some((_, slot)) = inner.parked.pop_first() else {
        return false;
    };
    inner.stats.released += lock(&slot.activity).parked as u64;
    slot.released.store(true, Ordering::SeqCst);
    slot.release.notify_waiters();
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
        assert_eq!(lock(&b.activity).state, State::Evicted);
        slots.close(&b);
        assert_eq!(slots.stats().active, 2);
        // Past max_long_polls the oldest parked is released.
        slots.begin(&c);
        slots.park(&c);
        slots.begin(&d);
        slots.park(&d);
        assert_eq!(slots.stats().released, 1);
        slots.unpark(&a);
        slots.end(&a, false);
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

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_follows_its_streams() {
        let slots = Slots::new(1, 10);
        let a = slots.admit().await;
        // Two streams at once; one parks: the connection is still busy.
        slots.begin(&a);
        slots.begin(&a);
        slots.park(&a);
        assert_eq!((slots.stats().active, slots.stats().long_polls), (1, 1));
        // The other ends: only a parked stream is left, no slot is held.
        slots.end(&a, false);
        assert_eq!((slots.stats().active, slots.stats().long_polls), (0, 1));
        // A second parked stream, then a release answers both.
        slots.begin(&a);
        slots.park(&a);
        assert_eq!((slots.stats().active, slots.stats().long_polls), (0, 2));
        slots.shed();
        assert_eq!(slots.stats().released, 2);
        a.released().await;
        slots.unpark(&a);
        slots.end(&a, false);
        // A parked stream whose client went away.
        slots.end(&a, true);
        assert_eq!(
            (
                slots.stats().active,
                slots.stats().idle,
                slots.stats().long_polls
            ),
            (1, 1, 0)
        );
        slots.close(&a);
        assert_eq!(slots.stats().active, 0);
    }
}
