//! Starting an emulator and holding it: [`Emulator::start`] on the caller's tokio
//! runtime, [`Emulator::start_blocking`] on a runtime of its own, and the handles that
//! move its clock, inspect its model and shut it down.

use super::connection::{accept_loop, timer_loop};
use super::{Clock, EmulatorConfig, Shared};
use crate::model::Model;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

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
