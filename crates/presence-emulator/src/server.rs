//! The hyper 1 + tokio server around [`Model`]: listener, clock, time control.

use crate::config::{Keyset, ModelConfig};
use crate::model::{Dispatch, Model};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

/// Configuration of a running emulator: the [`ModelConfig`] plus listener, limits and
/// clock.
///
/// ```
/// use presence_emulator::{EmulatorConfig, Keyset};
/// use std::time::Duration;
/// let config = EmulatorConfig::new()
///     .keyset(Keyset::new("sub").publish_key("pub").secret_key("sec"))
///     .max_url_len(16 * 1024)
///     .signature_window(Duration::from_secs(60))
///     .announce_max(5)
///     .paused_clock(Duration::from_secs(1_700_000_000));
/// assert_eq!(config.model().keysets().len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    model: ModelConfig,
    listen: SocketAddr,
    max_connections: usize,
    header_read_timeout: Duration,
    paused_at: Option<Duration>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            model: ModelConfig::default(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            paused_at: None,
        }
    }
}

impl EmulatorConfig {
    /// Defaults: `127.0.0.1:0` (an ephemeral port), keyset `demo`, real clock,
    /// 1024 connections, 10 s header read timeout, and [`ModelConfig`]'s defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole model configuration.
    pub fn with_model(mut self, model: ModelConfig) -> Self {
        self.model = model;
        self
    }

    /// The model configuration.
    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    /// Adds a keyset (see [`ModelConfig::keyset`]).
    pub fn keyset(mut self, keyset: Keyset) -> Self {
        self.model = self.model.keyset(keyset);
        self
    }

    /// Address to listen on. Default `127.0.0.1:0` (an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// See [`ModelConfig::max_url_len`].
    pub fn max_url_len(mut self, bytes: usize) -> Self {
        self.model = self.model.max_url_len(bytes);
        self
    }

    /// See [`ModelConfig::signature_window`].
    pub fn signature_window(mut self, window: Duration) -> Self {
        self.model = self.model.signature_window(window);
        self
    }

    /// See [`ModelConfig::announce_max`].
    pub fn announce_max(mut self, occupants: usize) -> Self {
        self.model = self.model.announce_max(occupants);
        self
    }

    /// See [`ModelConfig::interval`].
    pub fn interval(mut self, interval: Duration) -> Self {
        self.model = self.model.interval(interval);
        self
    }

    /// See [`ModelConfig::subscribe_timeout`].
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.model = self.model.subscribe_timeout(timeout);
        self
    }

    /// See [`ModelConfig::event_log_capacity`].
    pub fn event_log_capacity(mut self, events: usize) -> Self {
        self.model = self.model.event_log_capacity(events);
        self
    }

    /// Most connections served at once (further ones wait in the listen backlog).
    /// Default 1024.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long a client may take to send a request's headers. Default 10 s.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Starts the emulator's clock at `start` (since the UNIX epoch) and keeps it
    /// there: time then moves only through [`EmulatorHandle::advance`]. Default: the
    /// real clock (system time plus every `advance`).
    pub fn paused_clock(mut self, start: Duration) -> Self {
        self.paused_at = Some(start);
        self
    }
}

/// The emulator's time source: real (or paused) time plus the accumulated `advance`s.
#[derive(Debug)]
struct Clock {
    paused_at: Option<Duration>,
    offset_nanos: AtomicU64,
}

impl Clock {
    fn now(&self) -> Duration {
        let base = self.paused_at.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        });
        base + Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_update` with saturating add never fails with `Some`.
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| {
                Some(o.saturating_add(by))
            });
    }
}

/// State shared by the listener, the connections and the handles.
#[derive(Debug)]
struct Shared {
    model: Mutex<Model>,
    clock: Clock,
    /// Wakes the expiry timer task (after `advance`).
    timer_wake: Notify,
    /// Wakes waiting subscribe long-polls (new events, or the clock moved).
    changed: Notify,
}

impl Shared {
    /// Runs `f` under the lock and wakes the long-polls if it generated events.
    fn mutate<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        let mut model = self.lock();
        let before = model.events_generated();
        let out = f(&mut model);
        if model.events_generated() != before {
            self.changed.notify_waiters();
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        // A panic while holding the lock cannot leave the model half-updated in a way
        // that matters more than stopping the emulator would; keep serving.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        let now = self.clock.now();
        self.lock().handle_timeout(now);
        self.timer_wake.notify_one();
        // Long-polls re-check both for new events and for their (moved) deadline.
        self.changed.notify_waiters();
    }
}

/// Namespace of the constructors: [`Emulator::start`] and [`Emulator::start_blocking`].
#[derive(Debug)]
pub struct Emulator;

/// A running emulator (async). Dropping it without [`shutdown`](EmulatorHandle::shutdown)
/// stops accepting connections at once (the tasks are told to stop) but does not wait.
#[derive(Debug)]
pub struct EmulatorHandle {
    control: Control,
    shutdown_tx: watch::Sender<bool>,
    accept_task: Option<tokio::task::JoinHandle<()>>,
    timer_task: Option<tokio::task::JoinHandle<()>>,
}

/// The synchronous part of a handle, shared by the async and blocking variants.
#[derive(Debug, Clone)]
struct Control {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Control {
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Emulator {
    /// Binds the listener and starts serving on the current tokio runtime.
    ///
    /// Errors only when the address cannot be bound.
    pub async fn start(config: EmulatorConfig) -> io::Result<EmulatorHandle> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            model: Mutex::new(Model::new(config.model.clone())),
            clock: Clock {
                paused_at: config.paused_at,
                offset_nanos: AtomicU64::new(0),
            },
            timer_wake: Notify::new(),
            changed: Notify::new(),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            shutdown_rx.clone(),
            config.max_connections,
            config.header_read_timeout,
        ));
        let timer_task = tokio::spawn(timer_loop(shared.clone(), shutdown_rx));
        Ok(EmulatorHandle {
            control: Control { shared, addr },
            shutdown_tx,
            accept_task: Some(accept_task),
            timer_task: Some(timer_task),
        })
    }

    /// Starts the emulator on its own tokio runtime on a background thread, for
    /// blocking tests. The returned handle shuts the emulator down when dropped.
    pub fn start_blocking(config: EmulatorConfig) -> io::Result<BlockingEmulatorHandle> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<Control>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("presence-emulator".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match Emulator::start(config).await {
                        Ok(handle) => {
                            let _ = ready_tx.send(Ok(handle.control.clone()));
                            let _ = stop_rx.await;
                            handle.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        match ready_rx.recv() {
            Ok(Ok(control)) => Ok(BlockingEmulatorHandle {
                control,
                stop_tx: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other("emulator thread ended before starting"))
            }
        }
    }
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`: the origin to point an SDK at.
    pub fn origin(&self) -> String {
        self.control.origin()
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.control.addr
    }

    /// Moves the emulator's clock forward by `by`, then applies every presence
    /// timeout now due (synchronously: when this returns, expired occupants are gone).
    pub fn advance(&self, by: Duration) {
        self.control.shared.advance(by);
    }

    /// The emulator's current time (since the UNIX epoch).
    pub fn now(&self) -> Duration {
        self.control.shared.clock.now()
    }

    /// Runs `f` on the model under its lock (for inspection in tests). Do not block
    /// inside `f`: requests wait for it.
    pub fn with_model<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut self.control.shared.lock())
    }

    /// Stops accepting, lets in-flight requests finish (pending long-polls are
    /// answered at once), closes the connections and waits for every task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(t) = self.accept_task.take() {
            let _ = t.await;
        }
        if let Some(t) = self.timer_task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}

/// A running emulator on its own background runtime (see [`Emulator::start_blocking`]).
/// Dropping it shuts the emulator down and waits for its thread.
#[derive(Debug)]
pub struct BlockingEmulatorHandle {
    control: Control,
    stop_tx: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlockingEmulatorHandle {
    /// `http://127.0.0.1:PORT`: the origin to point an SDK at.
    pub fn origin(&self) -> String {
        self.control.origin()
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.control.addr
    }

    /// See [`EmulatorHandle::advance`].
    pub fn advance(&self, by: Duration) {
        self.control.shared.advance(by);
    }

    /// See [`EmulatorHandle::now`].
    pub fn now(&self) -> Duration {
        self.control.shared.clock.now()
    }

    /// See [`EmulatorHandle::with_model`].
    pub fn with_model<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut self.control.shared.lock())
    }

    /// Shuts the emulator down gracefully and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BlockingEmulatorHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(
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

async fn timer_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
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
