//! Starting an emulator and holding it: [`Emulator::start`] on the caller's tokio
//! runtime, [`Emulator::start_blocking`] on a runtime of its own, and the handles that
//! move its clock, inspect its model and shut it down.

use super::connection::{accept_loop, timer_loop};
use super::slots::{ConnectionStats, Slots};
use super::{Clock, EmulatorConfig, Shared};
use crate::admin::AdminState;
use crate::fault::{rules::Faults, FaultRule};
use crate::model::Model;
use crate::snapshot::{Snapshot, SnapshotError, SnapshotFileError};
use crate::stats::{EmulatorStats, RequestCounters};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
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
    export_on_exit: Option<PathBuf>,
}

impl Control {
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes the state to the `export_on_exit` file, if one is configured.
    fn export_on_exit(&self) -> Result<(), SnapshotFileError> {
        match &self.export_on_exit {
            Some(path) => self.shared.snapshot().write_file(path),
            None => Ok(()),
        }
    }

    fn with_model<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        let mut model = self.shared.write();
        let out = f(&mut model);
        // Whatever `f` did (a request through `handle`, a timeout) may concern a
        // parked long-poll: let every one of them re-check.
        let ready = model.take_ready();
        drop(model);
        self.shared.wake(ready);
        out
    }
}

/// The methods both handles have over their `control`: origin, clock, model, counters
/// and state (written once; each handle expands it).
macro_rules! control_methods {
    () => {
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

        /// Runs `f` on the model, alone (for inspection in tests). Do not block inside
        /// `f`: requests wait for it.
        pub fn with_model<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
            self.control.with_model(f)
        }

        /// Connection counts: open connections, idle ones, parked long-polls, evictions.
        pub fn connections(&self) -> ConnectionStats {
            self.control.shared.slots.stats()
        }

        /// Requests by operation and status, model size, events and connections (what
        /// `GET /_emulator/v1/stats` reports).
        pub fn stats(&self) -> EmulatorStats {
            self.control.shared.stats()
        }

        /// The state now (`GET /_emulator/v1/state`), read without changing anything.
        pub fn snapshot(&self) -> Snapshot {
            self.control.shared.snapshot()
        }

        /// Restores `snapshot` at the emulator's clock (`PUT /_emulator/v1/state`; see
        /// [`Model::restore`]). On an error nothing changes.
        pub fn restore(&self, snapshot: &Snapshot) -> Result<(), SnapshotError> {
            self.control.shared.restore(snapshot)
        }

        /// Empties every keyset (`POST /_emulator/v1/reset`; see [`Model::reset`]).
        pub fn reset(&self) {
            self.control.shared.reset();
        }
    };
}

/// The fault-rule methods, the same on both handles (each holds a `control`).
macro_rules! fault_methods {
    () => {
        /// Replaces every fault rule (each probability's generator starts again from
        /// its seed). Requests already past the rules are not affected.
        pub fn set_faults(&self, rules: Vec<FaultRule>) {
            self.control.shared.faults.set(rules);
        }

        /// Adds a fault rule after the others.
        pub fn add_fault(&self, rule: FaultRule) {
            self.control.shared.faults.add(rule);
        }

        /// Removes every fault rule.
        pub fn clear_faults(&self) {
            self.control.shared.faults.clear();
        }

        /// The active fault rules, in order.
        pub fn faults(&self) -> Vec<FaultRule> {
            self.control.shared.faults.list()
        }
    };
}

/// Waits for a contended keyset without holding up the other tasks of this worker
/// thread (on a multi-thread runtime; a current-thread runtime has nothing else to run).
fn block_in_place(f: &mut dyn FnMut()) {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Emulator {
    /// Binds the listener and starts serving on the current tokio runtime.
    ///
    /// Errors only when the address cannot be bound.
    pub async fn start(config: EmulatorConfig) -> io::Result<EmulatorHandle> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let mut model = Model::new(config.model.clone());
        model.set_blocking(block_in_place);
        let clock = Clock {
            paused_at: config.paused_at,
            offset_nanos: AtomicU64::new(0),
        };
        if let Some(path) = &config.admin.import {
            let restored = Snapshot::read_file(path).and_then(|snap| {
                model
                    .restore(clock.now(), &snap)
                    .map_err(|source| SnapshotFileError::Invalid {
                        path: path.clone(),
                        source,
                    })
            });
            restored.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        let shared = Arc::new(Shared {
            model: RwLock::new(model),
            clock,
            timer_wake: Notify::new(),
            clock_moved: Notify::new(),
            wakers: Mutex::new(HashMap::new()),
            slots: Slots::new(config.max_connections, config.max_long_polls),
            requests: RequestCounters::default(),
            admin: AdminState {
                token: config.admin.token.clone(),
                ..AdminState::default()
            },
            faults: Faults::new(config.faults.clone()),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            shutdown_rx.clone(),
            config.header_read_timeout,
        ));
        let timer_task = tokio::spawn(timer_loop(shared.clone(), shutdown_rx));
        Ok(EmulatorHandle {
            control: Control {
                shared,
                addr,
                export_on_exit: config.admin.export_on_exit.clone(),
            },
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
    control_methods!();

    /// [`shutdown`](EmulatorHandle::shutdown), then writes the state to the
    /// [`export_on_exit`](EmulatorConfig::export_on_exit) file when one is configured
    /// (the binaries call it on Ctrl-C).
    pub async fn exit(self) -> Result<(), SnapshotFileError> {
        let control = self.control.clone();
        self.shutdown().await;
        control.export_on_exit()
    }

    fault_methods!();

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
    control_methods!();

    /// See [`EmulatorHandle::exit`].
    pub fn exit(mut self) -> Result<(), SnapshotFileError> {
        self.stop();
        self.control.export_on_exit()
    }

    fault_methods!();

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Keyset;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn get(addr: SocketAddr, target: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    /// A request holding one keyset's lock (a slow request there) stalls neither
    /// `/time/0` nor another keyset (issue 15, item 4); the old single model lock
    /// stalled every request.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_busy_keyset_stalls_no_other_request() {
        let emu = Emulator::start(
            EmulatorConfig::new()
                .keyset(Keyset::new("busy"))
                .keyset(Keyset::new("other")),
        )
        .await
        .unwrap();
        let addr = emu.local_addr();
        let shared = emu.control.shared.clone();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let model = shared.read();
            let _busy = model.hold_keyset("busy").unwrap();
            held_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        held_rx.recv().unwrap();
        let guard = Duration::from_secs(15);
        let time = tokio::time::timeout(guard, get(addr, "/time/0")).await;
        assert!(time.expect("/time/0 stalled").starts_with("HTTP/1.1 200"));
        let other = tokio::time::timeout(
            guard,
            get(
                addr,
                "/v2/presence/sub-key/other/channel/a/heartbeat?uuid=u",
            ),
        )
        .await;
        assert!(other
            .expect("another keyset stalled")
            .starts_with("HTTP/1.1 200"));
        // The busy keyset itself waits for its lock...
        let busy = tokio::spawn(get(addr, "/v2/presence/sub-key/busy/channel/a?uuid=u"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!busy.is_finished());
        // ...and is answered once it is free.
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        let busy = tokio::time::timeout(guard, busy).await.unwrap().unwrap();
        assert!(busy.starts_with("HTTP/1.1 200"), "{busy}");
        emu.shutdown().await;
    }
}
