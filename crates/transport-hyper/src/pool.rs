//! The HTTP/1.1 connection pool ([`Protocol::Http1`](crate::Protocol::Http1), the
//! default): hyper's own HTTP/1.1 connections (`hyper::client::conn::http1`), kept per
//! scheme and authority in one list each, the most recently used first out.
//!
//! hyper-util's pool (which the HTTP/2 protocols still use) races a new connection
//! against every checkout, wakes waiters through channels and keeps its idle list behind
//! more layers: a here-now call through it costs about 12 000 more client instructions
//! than through this one (docs/PERFORMANCE.md, "Per-call overhead"). What it does that
//! matters is here too:
//!
//! - a connection goes back to the pool only once its response body is read to the end,
//!   and is taken out again only when hyper says it is ready for the next request;
//! - one the server closed while idle is dropped at checkout, and a request that a
//!   reused connection did not send (it closed first) is sent once more on a new one;
//! - at most `max_idle` idle connections per host; one idle for longer than
//!   `idle_timeout` is closed, by a reaper task that runs only while some are idle.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use transport_common::{target_of, Error};

type Sender = SendRequest<Full<Bytes>>;

/// How long after going back a connection may still be not ready before it is
/// presumed stuck and dropped at checkout (a healthy one is ready as soon as its task
/// has run).
const STUCK_AFTER: Duration = Duration::from_secs(1);

/// The longest the reaper sleeps between looks at the idle connections.
const REAP_AT_LEAST_EVERY: Duration = Duration::from_secs(60);

/// The idle connections of every host, and the connector that makes new ones.
pub(crate) struct Pool {
    connector: HttpsConnector<HttpConnector>,
    connect_timeout: Duration,
    max_idle: usize,
    idle_timeout: Duration,
    idle: Arc<Mutex<Idle>>,
}

/// The idle lists, locked. They stay consistent whatever panicked while holding the
/// lock.
fn lock(idle: &Mutex<Idle>) -> MutexGuard<'_, Idle> {
    idle.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `a` and `b` (scheme and authority, the pool's key) are the same host.
fn same_host(a: &http::Uri, b: &http::Uri) -> bool {
    // The same text first (the usual case: one origin's URIs); `Authority`'s `==`
    // ignores ASCII case.
    let (x, y) = (a.authority(), b.authority());
    a.scheme() == b.scheme() && (x.map(|x| x.as_str()) == y.map(|y| y.as_str()) || x == y)
}

#[derive(Default)]
struct Idle {
    /// Per host, its idle connections, the most recently used last.
    hosts: Vec<(http::Uri, Vec<(Sender, Instant)>)>,
    /// Whether a reaper task is running.
    reaping: bool,
}

impl Idle {
    /// Drops the connections closed or idle since before `cutoff` (none is too old
    /// without one), and the hosts left with none. Whether any connection is still idle.
    fn purge(&mut self, cutoff: Option<Instant>) -> bool {
        for (_, conns) in &mut self.hosts {
            conns.retain(|(sender, since)| {
                cutoff.is_none_or(|c| *since >= c) && !sender.is_closed()
            });
        }
        self.hosts.retain(|(_, conns)| !conns.is_empty());
        !self.hosts.is_empty()
    }
}

impl Pool {
    pub(crate) fn new(
        connector: HttpsConnector<HttpConnector>,
        connect_timeout: Duration,
        max_idle: usize,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            connector,
            connect_timeout,
            max_idle,
            idle_timeout,
            idle: Arc::default(),
        }
    }

    /// The most recently used idle connection to `host` still open and not idle for
    /// too long, if any.
    fn checkout(&self, host: &http::Uri) -> Option<Sender> {
        let mut idle = lock(&self.idle);
        let at = idle.hosts.iter().position(|(h, _)| same_host(h, host))?;
        let conns = &mut idle.hosts[at].1;
        let now = Instant::now();
        let cutoff = now.checked_sub(self.idle_timeout);
        let mut found = None;
        while let Some((sender, since)) = conns.pop() {
            if cutoff.is_some_and(|c| since < c) {
                // The rest are older still.
                conns.clear();
                break;
            }
            // A connection goes back before hyper is ready for its next request (its
            // task has yet to run): one still not ready long after is stuck (a server
            // that stopped reading a request body, say), and awaiting it would stall
            // this request until its timeout.
            let stuck = !sender.is_ready() && now.saturating_duration_since(since) > STUCK_AFTER;
            if !sender.is_closed() && !stuck {
                found = Some(sender);
                break;
            }
        }
        // An emptied host keeps its entry (and its list's allocation) for the
        // connection's return; the reaper drops hosts left empty.
        found
    }

    /// Gives back a connection whose last response was read to the end.
    pub(crate) fn checkin(&self, host: http::Uri, sender: Sender) {
        if self.max_idle == 0 || self.idle_timeout.is_zero() || sender.is_closed() {
            return;
        }
        let mut idle = lock(&self.idle);
        let now = Instant::now();
        match idle.hosts.iter_mut().find(|(h, _)| same_host(h, &host)) {
            Some((_, conns)) => {
                if conns.len() >= self.max_idle {
                    // The longest idle goes.
                    conns.remove(0);
                }
                conns.push((sender, now));
            }
            None => idle.hosts.push((host, vec![(sender, now)])),
        }
        let start_reaper = !idle.reaping;
        idle.reaping = true;
        // Spawned after the lock is released: a runtime shutting down drops the new task
        // at once, and the guard's drop takes the lock.
        drop(idle);
        if start_reaper {
            let running = Reaping {
                idle: Arc::downgrade(&self.idle),
                done: false,
            };
            tokio::spawn(reap(running, self.idle_timeout));
        }
    }

    /// Sends `req` (origin-form URI, `Host` set) on an idle connection to `host`, or on
    /// a new one: the response head, and the connection to give back with
    /// [`Pool::checkin`] once the body is read.
    pub(crate) async fn send(
        &self,
        host: &http::Uri,
        mut req: Box<http::Request<Full<Bytes>>>,
    ) -> Result<(http::Response<Incoming>, Sender), Error> {
        while let Some(mut sender) = self.checkout(host) {
            if sender.ready().await.is_err() {
                // Closed since it went idle: the request is still ours.
                continue;
            }
            match sender.try_send_request(*req).await {
                Ok(resp) => return Ok((resp, sender)),
                Err(mut e) => match e.take_message() {
                    // It closed before the request was written: try another.
                    Some(unsent) => *req = unsent,
                    None => return Err(send_error(e.into_error(), host)),
                },
            }
        }
        // Boxed: a connect future is large, and only the first call on a connection
        // needs one; every call's future would carry it otherwise.
        let mut sender = Box::pin(self.connect(host)).await?;
        let resp = sender
            .send_request(*req)
            .await
            .map_err(|e| send_error(e, host))?;
        Ok((resp, sender))
    }

    /// A new connection to `host`, its task spawned.
    async fn connect(&self, host: &http::Uri) -> Result<Sender, Error> {
        let mut connector = self.connector.clone();
        let io = connector
            .call(host.clone())
            .await
            .map_err(|e| crate::connect_error(e, target_of(host), self.connect_timeout))?;
        let (sender, conn) = http1::Builder::new().handshake(io).await.map_err(|e| {
            crate::connect_error(Box::new(e), target_of(host), self.connect_timeout)
        })?;
        // The task ends when the connection closes, or once the sender is dropped and
        // no request is in flight.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

/// While a reaper task exists: it clears the pool's `reaping` flag when the task is
/// dropped before it is done (its runtime shut down, maybe before it ever ran), so that
/// a later checkin starts another. A parameter of [`reap`], so an unpolled task owns it.
struct Reaping {
    idle: Weak<Mutex<Idle>>,
    done: bool,
}

impl Drop for Reaping {
    fn drop(&mut self) {
        if let (false, Some(idle)) = (self.done, self.idle.upgrade()) {
            lock(&idle).reaping = false;
        }
    }
}

/// Closes the connections idle for longer than `timeout`, every `timeout`, until none
/// is idle or the pool is gone.
async fn reap(mut running: Reaping, timeout: Duration) {
    loop {
        // At most a minute between looks, so that the task ends soon after its pool
        // (it holds only a weak reference), whatever the idle timeout.
        tokio::time::sleep(timeout.min(REAP_AT_LEAST_EVERY)).await;
        let Some(idle) = running.idle.upgrade() else {
            return;
        };
        let mut idle = lock(&idle);
        if !idle.purge(Instant::now().checked_sub(timeout)) {
            // Under the lock, so that a checkin after it starts a new reaper.
            idle.reaping = false;
            running.done = true;
            return;
        }
    }
}

fn send_error(err: hyper::Error, host: &http::Uri) -> Error {
    crate::body_error(Box::new(err), target_of(host))
}
