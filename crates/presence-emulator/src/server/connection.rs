//! The emulator's tasks: the accept loop (bounded connections, graceful drain), one
//! HTTP/1.1 connection (header read timeout, subscribe long-polls), and the timer that
//! applies presence timeouts and `interval` events when they are due.

use super::Shared;
use crate::model::Dispatch;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    max_connections: usize,
    header_read_timeout: Duration,
) {
    let limit = Arc::new(Semaphore::new(max_connections));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stopped(&mut shutdown) => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors or similar: back off briefly.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            serve_connection(stream, shared, shutdown, header_read_timeout).await;
            drop(permit);
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

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let stop = shutdown.clone();
    let service = service_fn(move |req| {
        let shared = shared.clone();
        let stop = stop.clone();
        async move { Ok::<_, Infallible>(handle_request(&shared, req, stop).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn handle_request(
    shared: &Shared,
    req: http::Request<Incoming>,
    mut shutdown: watch::Receiver<bool>,
) -> http::Response<Full<Bytes>> {
    // Every Presence operation is a bodiless GET: the body is never read.
    let (parts, _body) = req.into_parts();
    let req = http::Request::from_parts(parts, ());
    let now = shared.clock.now();
    let dispatch = shared.mutate(|m| m.dispatch(now, &req));
    let wait = match dispatch {
        Dispatch::Response(resp) => return resp.map(|b| Full::new(Bytes::from(b))),
        Dispatch::Wait(wait) => wait,
    };
    // Long-poll: re-check whenever the model changes or the clock moves, and at the
    // deadline (the emulator's clock, so `advance` releases it too).
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = shared.clock.now();
        if let Some(resp) = shared.mutate(|m| m.poll_wait(now, &wait)) {
            return resp.map(|b| Full::new(Bytes::from(b)));
        }
        let remaining = wait
            .deadline()
            .saturating_sub(now)
            .max(Duration::from_millis(1));
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(remaining.min(Duration::from_secs(1))) => {}
            _ = stopped(&mut shutdown) => {
                let now = shared.clock.now();
                let resp = shared.mutate(|m| m.finish_wait(now, &wait));
                return resp.map(|b| Full::new(Bytes::from(b)));
            }
        }
    }
}

pub(crate) async fn timer_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now = shared.clock.now();
        let next = shared.mutate(|m| {
            m.handle_timeout(now);
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
