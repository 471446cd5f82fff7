//! What the async client's long-lived loops (`presence()`, `watch()`, `roster()`,
//! `fleet()`) need from an executor: to spawn a task, and to wake at a deadline.
//!
//! On tokio (feature `tokio`, on with `hyper`) nothing is needed: the loops find the
//! current runtime. On any other executor, implement [`Runtime`] and give it to the
//! client with [`ClientBuilder::runtime`](crate::ClientBuilder::runtime); with the
//! feature `async-loops` and without `tokio`, no tokio runtime is in the build at all
//! (the loops use tokio's runtime-independent channels and `select!` only).
//!
//! ```
//! use presence::runtime::{BoxFuture, Runtime};
//! use std::time::Instant;
//!
//! /// A runtime on smol's global executor and timer.
//! struct Smol;
//!
//! impl Runtime for Smol {
//!     fn spawn(&self, task: BoxFuture) {
//!         smol::spawn(task).detach();
//!     }
//!     fn sleep_until(&self, deadline: Instant) -> BoxFuture {
//!         Box::pin(async move {
//!             smol::Timer::at(deadline).await;
//!         })
//!     }
//! }
//! # let _ = Smol;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

/// A boxed task or timer future.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An executor the async loops can run on.
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` in the background, to completion (the loops end their own tasks;
    /// they never need one aborted).
    fn spawn(&self, task: BoxFuture);

    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> BoxFuture;
}

/// The current tokio runtime, as the loops use it by default.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone)]
pub struct TokioRuntime(tokio::runtime::Handle);

#[cfg(feature = "tokio")]
impl TokioRuntime {
    /// The runtime this is called from, if any.
    pub fn current() -> Option<Self> {
        tokio::runtime::Handle::try_current().ok().map(Self)
    }
}

#[cfg(feature = "tokio")]
impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxFuture) {
        drop(self.0.spawn(task));
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

/// A client's runtime, as the client keeps it (read only where the async loops are
/// built).
#[derive(Clone)]
#[cfg_attr(not(feature = "async-loops"), allow(dead_code))]
pub(crate) struct Configured(pub(crate) Arc<dyn Runtime>);

impl std::fmt::Debug for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtime")
    }
}

/// The runtime a loop starts on: the client's, or (feature `tokio`) the current tokio
/// runtime.
#[cfg(feature = "async-loops")]
pub(crate) fn resolve(
    configured: Option<&Configured>,
) -> Result<Arc<dyn Runtime>, crate::StartError> {
    if let Some(rt) = configured {
        return Ok(rt.0.clone());
    }
    #[cfg(feature = "tokio")]
    if let Some(rt) = TokioRuntime::current() {
        return Ok(Arc::new(rt));
    }
    Err(crate::StartError::NoRuntime)
}

/// Sleeps until `deadline`, or forever when there is none.
#[cfg(feature = "async-loops")]
pub(crate) async fn sleep_until(rt: &dyn Runtime, deadline: Option<Instant>) {
    match deadline {
        Some(d) => rt.sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A spawned request: dropping this cancels it (the task stops at its next poll).
#[cfg(feature = "async-loops")]
#[derive(Debug)]
pub(crate) struct InFlight(#[allow(dead_code)] tokio::sync::oneshot::Sender<()>);

/// Spawns `request`; its result goes to `done` with `id`, unless the returned guard is
/// dropped first.
#[cfg(feature = "async-loops")]
pub(crate) fn spawn_request<R: Send + 'static>(
    rt: &dyn Runtime,
    id: presence_core::RequestId,
    request: impl Future<Output = R> + Send + 'static,
    done: tokio::sync::mpsc::UnboundedSender<(presence_core::RequestId, R)>,
) -> InFlight {
    let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(Box::pin(async move {
        tokio::select! {
            result = request => {
                let _ = done.send((id, result));
            }
            _ = cancel_rx => {}
        }
    }));
    InFlight(cancel_tx)
}
