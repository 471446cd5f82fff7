//! The emulator's tasks: the accept loop (connection slots, eviction, graceful drain),
//! one connection, HTTP/1.1 or prior-knowledge HTTP/2 (h2c) on the same port (header
//! read timeout, an idle limit, hyper's refusals in JSON, subscribe long-polls that park
//! without holding a slot), and the timer that applies presence timeouts and
//! `interval` events when they are due.

use super::refusal::JsonRefusals;
use super::slots::Slot;
use super::Shared;
use crate::fault::serve::{serve, ReplyBody};
use crate::model::{Dispatch, Wait};
use http::{header, HeaderValue};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::io;
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if is_out_of_descriptors(&e) {
                        // Free one: the oldest long-poll is answered and closed (or the
                        // longest-idle connection), so ordinary requests get in.
                        shared.slots.shed();
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let slot = tokio::select! {
            s = shared.slots.admit() => s,
            _ = stopped(&mut shutdown) => break,
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            serve_connection(stream, &shared, &slot, shutdown, header_read_timeout).await;
            shared.slots.close(&slot);
        });
    }
    drop(listener);
    // Graceful: connections finish their in-flight request, then close.
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE (24) and ENFILE (23) on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(23 | 24))
}

async fn serve_connection(
    stream: TcpStream,
    shared: &Arc<Shared>,
    slot: &Arc<Slot>,
    mut shutdown: watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let stop = shutdown.clone();
    let service = {
        let shared = shared.clone();
        let slot = slot.clone();
        service_fn(move |req| {
            let shared = shared.clone();
            let slot = slot.clone();
            let stop = stop.clone();
            async move {
                let path = req.uri().path();
                if crate::admin::is_admin_path(path) {
                    return Ok(admin_request(&shared, &slot, req, stop).await);
                }
                let operation = crate::stats::operation_of(path);
                let faults = &shared.faults;
                let out = serve(faults, req, |req| handle_request(&shared, &slot, req, stop)).await;
                let status = out.as_ref().map_or(0, |r| r.status().as_u16());
                shared.requests.record(operation, status);
                shared.admin.activity.notify_waiters();
                out.map(|r| r.map(Either::Left))
            }
        })
    };
    // HTTP/1.1, or HTTP/2 when the connection opens with its preface (h2c with prior
    // knowledge); the same service and slots serve both.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        // One buffer per response, so `JsonRefusals` sees hyper's own heads whole.
        .writev(false)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST);
    let io = JsonRefusals::new(TokioIo::new(stream));
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = slot.evict.notified() => {}
        // Released long-polls are answered; then the connection goes.
        _ = slot.released() => {}
        // hyper times out an HTTP/1.1 connection's headers itself, not an idle HTTP/2
        // connection nor one that never sent a byte: the same limit applies to those.
        _ = slot.idle_for(header_read_timeout) => {}
        _ = stopped(&mut shutdown) => {}
    }
    // Graceful (HTTP/1.1: after the response in progress; HTTP/2: a GOAWAY, then the
    // open streams finish), but bounded: an HTTP/2 client that sent its preface and
    // never its SETTINGS, or stops reading, would hold the connection for ever.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(header_read_timeout, conn).await;
}

/// Streams one HTTP/2 connection may have open at once (parked long-polls included).
const H2_MAX_STREAMS: u32 = 256;

/// The largest header block of an HTTP/2 request (RFC 9113 counts each field's name
/// and value plus 32 bytes): the `http` crate's 65 534-byte target plus 16 KiB of other
/// fields, so `max_url_len` is checked (414 with a JSON body) as over HTTP/1.1, where
/// h2's 16 KiB default would refuse a long target first with a bare 431.
const H2_MAX_HEADER_LIST: u32 = 80 * 1024;

/// Marks the connection busy for the request's lifetime (idle again when dropped, also
/// when hyper drops the request because the client went away).
struct InRequest<'a> {
    shared: &'a Shared,
    slot: &'a Arc<Slot>,
    /// The registered long-poll, if the request became one.
    wait: Option<Wait>,
    /// The request is a parked long-poll (it holds no connection slot).
    parked: bool,
}

impl Drop for InRequest<'_> {
    fn drop(&mut self) {
        if let Some(wait) = self.wait.take() {
            self.shared
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&wait.id());
            self.shared.read().cancel_wait_shared(&wait);
        }
        self.shared.slots.end(self.slot, self.parked);
    }
}

/// A response body: the emulator's (whole or cut by a fault rule), or the inspector's
/// event stream.
pub(crate) type ResponseBody = Either<ReplyBody, crate::admin::EventStream>;

/// An admin API or inspector request (never faulted, not counted as presence).
async fn admin_request(
    shared: &Arc<Shared>,
    slot: &Arc<Slot>,
    req: http::Request<Incoming>,
    shutdown: watch::Receiver<bool>,
) -> http::Response<ResponseBody> {
    shared.slots.begin(slot);
    let _guard = InRequest {
        shared,
        slot,
        wait: None,
        parked: false,
    };
    shared.requests.record_admin();
    crate::admin::serve(shared, req, shutdown).await
}

async fn handle_request(
    shared: &Shared,
    slot: &Arc<Slot>,
    req: http::Request<Incoming>,
    mut shutdown: watch::Receiver<bool>,
) -> http::Response<ReplyBody> {
    shared.slots.begin(slot);
    let mut guard = InRequest {
        shared,
        slot,
        wait: None,
        parked: false,
    };
    let h2 = req.version() == http::Version::HTTP_2;
    // Every Presence operation is a bodiless GET: the body is never read.
    let (parts, _body) = req.into_parts();
    let req = http::Request::from_parts(parts, ());
    let now = shared.clock.now();
    let wait = match shared.run(|m| m.dispatch_shared(now, &req)) {
        Dispatch::Response(resp) => return full(resp),
        Dispatch::Wait(wait) => wait,
    };
    // Long-poll: parked (no connection slot), woken only when its channels or groups
    // get events, when the clock moves, at its deadline, or when released.
    let waker = Arc::new(Notify::new());
    shared
        .wakers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(wait.id(), waker.clone());
    guard.wait = Some(wait.clone());
    shared.slots.park(slot);
    guard.parked = true;
    let resp = long_poll(shared, slot, &wait, &waker, &mut shutdown, h2).await;
    // Answered: the model has forgotten the wait; only the waker is left.
    guard.wait = None;
    shared.slots.unpark(slot);
    guard.parked = false;
    shared
        .wakers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&wait.id());
    resp
}

async fn long_poll(
    shared: &Shared,
    slot: &Slot,
    wait: &Wait,
    waker: &Notify,
    shutdown: &mut watch::Receiver<bool>,
    h2: bool,
) -> http::Response<ReplyBody> {
    let mut check_model = true;
    loop {
        let moved = shared.clock_moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        let now = shared.clock.now();
        if check_model || now >= wait.deadline() {
            if let Some(resp) = shared.run(|m| m.poll_wait_shared(now, wait)) {
                return full(resp);
            }
        }
        let remaining = wait
            .deadline()
            .saturating_sub(now)
            .max(Duration::from_millis(1));
        tokio::select! {
            _ = waker.notified() => check_model = true,
            // The clock moved (`advance`): only the deadline needs a look.
            _ = &mut moved => check_model = false,
            // A real clock may jump; re-check at least once a minute.
            _ = tokio::time::sleep(remaining.min(Duration::from_secs(60))) => check_model = false,
            _ = slot.released() => {
                let now = shared.clock.now();
                let mut resp = full(shared.run(|m| m.finish_wait_shared(now, wait)));
                // HTTP/2 has no `Connection` header: its connection is shut down
                // gracefully (GOAWAY) once the released streams are answered.
                if !h2 {
                    resp.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return resp;
            }
            _ = stopped(shutdown) => {
                let now = shared.clock.now();
                return full(shared.run(|m| m.finish_wait_shared(now, wait)));
            }
        }
    }
}

fn full(resp: http::Response<Vec<u8>>) -> http::Response<ReplyBody> {
    resp.map(ReplyBody::whole)
}

pub(crate) async fn timer_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now = shared.clock.now();
        let next = shared.run(|m| {
            m.handle_timeout_shared(now);
            m.poll_timeout()
        });
        // Sleep until the next deadline, but at most 1 s: the real clock may jump.
        let wait = next
            .map_or(Duration::from_secs(1), |t| t.saturating_sub(now))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.timer_wake.notified() => {}
            _ = stopped(&mut shutdown) => break,
        }
    }
}

/// Resolves once shutdown was requested (or the handle is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before any caller awaits more.
    let _ = rx.wait_for(|s| *s).await;
}
