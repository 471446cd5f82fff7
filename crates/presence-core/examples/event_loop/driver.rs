//! A single-threaded event-loop driver for the presence-core engines: one thread, one
//! `mio::Poll`, non-blocking sockets, HTTP/1.1 through `ureq-proto` (ureq's sans-IO
//! core), timers from the engines' `poll_timeout`. No async runtime, no thread per
//! request. docs/EMBEDDING.md walks through it.
//!
//! Any engine plugs in through [`Drive`]: the heartbeat, watch, roster and fleet
//! engines all have the same shape (`poll_request` / `handle_response` /
//! `handle_failure` / `poll_cancel` / `poll_timeout` / `handle_timeout` /
//! `poll_event`), so one macro implements it for each.
//!
//! Plain `http://` origins only (the emulator): for `https://` the bytes would go
//! through `rustls::ClientConnection`, itself sans-IO, between the socket and
//! `ureq-proto`.
#![allow(dead_code)] // Shared by the example and its test; each uses a part.

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use presence_core::{
    Config, Failure, FleetEngine, FleetEvent, HeartbeatEngine, HeartbeatEvent, RequestId,
    RequestMeta, RosterEngine, RosterEvent, TransportFailure, TransportFailureKind, WatchEngine,
    WatchEvent,
};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use ureq_proto::client::state::{RecvBody, RecvResponse};
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};

/// The token of the loop's waker (Ctrl-C, or another thread asking it to stop).
pub(crate) const WAKE: Token = Token(0);
/// How long an ordinary request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a subscribe long-poll may take (the service holds it up to 280 s).
pub(crate) const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(310);
/// Largest response body accepted.
pub(crate) const MAX_BODY: usize = 8 << 20;

/// What the loop reports, one engine's event each.
#[derive(Debug)]
pub(crate) enum Output {
    /// From the heartbeat engine.
    Heartbeat(HeartbeatEvent),
    /// From the watch engine.
    Watch(WatchEvent),
    /// From the roster engine.
    Roster(RosterEvent),
    /// From the fleet engine.
    Fleet(FleetEvent),
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Heartbeat(e) => write!(f, "[heartbeat] {e}"),
            Output::Watch(e) => write!(f, "[watch] {e}"),
            Output::Roster(e) => write!(f, "[roster] {e}"),
            Output::Fleet(e) => write!(f, "[fleet] {e}"),
        }
    }
}

/// One engine as the loop drives it. Every method is the engine's own, except that
/// requests come out built (`to_request`), with how long they may take.
pub(crate) trait Drive {
    /// The next request to send: its id, the built request and its timeout. A request
    /// that cannot be built is reported to the engine as a failure here.
    fn next_request(
        &mut self,
        now: Instant,
        config: &Config,
    ) -> Option<(RequestId, http::Request<Vec<u8>>, Duration)>;
    /// A request to abort.
    fn next_cancel(&mut self) -> Option<RequestId>;
    /// The aborted request is gone.
    fn cancelled(&mut self, now: Instant, id: RequestId);
    /// A whole response.
    fn response(&mut self, now: Instant, id: RequestId, response: &http::Response<Vec<u8>>);
    /// A request that did not complete.
    fn failure(&mut self, now: Instant, id: RequestId, failure: Failure);
    /// When [`timeout`](Self::timeout) is next due.
    fn deadline(&self) -> Option<Instant>;
    /// Time passed.
    fn timeout(&mut self, now: Instant);
    /// Hands every pending event to `out`.
    fn drain(&mut self, out: &mut dyn FnMut(Output));
    /// Begins stopping (leaves where the engine sends them).
    fn stop(&mut self, now: Instant);
}

/// The signing timestamp: the driver, not the core, reads the wall clock.
fn meta() -> RequestMeta {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    RequestMeta::new(secs)
}

macro_rules! drive_engine {
    ($engine:ty, $output:path, $timeout:expr, stop($self:ident, $now:ident) $stop:block) => {
        impl Drive for $engine {
            fn next_request(
                &mut self,
                now: Instant,
                config: &Config,
            ) -> Option<(RequestId, http::Request<Vec<u8>>, Duration)> {
                loop {
                    let tx = self.poll_request(now)?;
                    let timeout: fn(&_) -> Duration = $timeout;
                    let timeout = timeout(&tx.op);
                    match tx.to_request(config, &meta()) {
                        Ok(req) => return Some((tx.id, req, timeout)),
                        Err(e) => self.handle_failure(now, tx.id, Failure::Response(e)),
                    }
                }
            }
            fn next_cancel(&mut self) -> Option<RequestId> {
                self.poll_cancel()
            }
            fn cancelled(&mut self, now: Instant, id: RequestId) {
                self.handle_cancelled(now, id);
            }
            fn response(&mut self, now: Instant, id: RequestId, r: &http::Response<Vec<u8>>) {
                self.handle_response(now, id, r);
            }
            fn failure(&mut self, now: Instant, id: RequestId, failure: Failure) {
                self.handle_failure(now, id, failure);
            }
            fn deadline(&self) -> Option<Instant> {
                self.poll_timeout()
            }
            fn timeout(&mut self, now: Instant) {
                self.handle_timeout(now);
            }
            fn drain(&mut self, out: &mut dyn FnMut(Output)) {
                while let Some(event) = self.poll_event() {
                    out($output(event));
                }
            }
            fn stop(&mut $self, $now: Instant) $stop
        }
    };
}

drive_engine!(HeartbeatEngine, Output::Heartbeat, |_| REQUEST_TIMEOUT, stop(self, now) {
    self.left_all(now);
});
drive_engine!(WatchEngine, Output::Watch, |_| LONG_POLL_TIMEOUT, stop(self, now) {
    self.stop(now);
});
drive_engine!(
    RosterEngine,
    Output::Roster,
    |op| match op {
        presence_core::RosterRequest::Subscribe(_) => LONG_POLL_TIMEOUT,
        _ => REQUEST_TIMEOUT,
    },
    stop(self, now) {
        RosterEngine::stop(self, now);
    }
);
drive_engine!(FleetEngine, Output::Fleet, |_| REQUEST_TIMEOUT, stop(self, now) {
    FleetEngine::stop(self, now, true);
});

// The heartbeat and fleet engines never cancel: they have no `poll_cancel`.
trait NoCancel {
    fn poll_cancel(&mut self) -> Option<RequestId> {
        None
    }
    fn handle_cancelled(&mut self, _now: Instant, _id: RequestId) {}
}
impl NoCancel for FleetEngine {}
impl NoCancel for HeartbeatEngine {}

/// Where one request is.
enum Phase {
    /// Connecting, then writing the request bytes.
    Send {
        bytes: Vec<u8>,
        written: usize,
        call: Call<RecvResponse>,
    },
    /// Reading the status line and headers.
    Head { call: Call<RecvResponse> },
    /// Reading the body.
    Body {
        call: Call<RecvBody>,
        head: http::response::Parts,
        body: Vec<u8>,
    },
}

/// One request in flight on its own connection.
struct Exchange {
    engine: usize,
    id: RequestId,
    stream: TcpStream,
    phase: Option<Phase>,
    input: Vec<u8>,
    deadline: Instant,
}

/// What reading or writing an exchange came to.
enum Progress {
    /// Waiting for the socket.
    Pending,
    /// The whole response, and whether the connection may be reused.
    Done(http::Response<Vec<u8>>, bool),
    /// It failed.
    Failed(TransportFailure),
}

/// The loop: engines, sockets, timers. Counts its wake-ups.
pub(crate) struct EventLoop {
    poll: Poll,
    events: Events,
    config: Config,
    addr: SocketAddr,
    engines: Vec<Box<dyn Drive + Send>>,
    exchanges: HashMap<Token, Exchange>,
    /// Keep-alive connections to reuse, deregistered while idle.
    idle: Vec<TcpStream>,
    next_token: usize,
    stopping: bool,
    /// Times `poll` returned (shared, so that another thread can watch it).
    wakeups: Arc<AtomicU64>,
}

impl EventLoop {
    /// A loop sending to `addr` (the origin in `config`, resolved), and a waker that
    /// makes it stop (with leaves) from another thread or a signal handler.
    pub(crate) fn new(config: Config, addr: SocketAddr) -> io::Result<(Self, Waker)> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        Ok((
            Self {
                poll,
                events: Events::with_capacity(64),
                config,
                addr,
                engines: Vec::new(),
                exchanges: HashMap::new(),
                idle: Vec::new(),
                next_token: 1,
                stopping: false,
                wakeups: Arc::new(AtomicU64::new(0)),
            },
            waker,
        ))
    }

    /// How many times the loop has woken up so far (readable from any thread).
    pub(crate) fn wakeups(&self) -> Arc<AtomicU64> {
        self.wakeups.clone()
    }

    /// Registers another source that stops the loop when readable (signals, say).
    pub(crate) fn register_stop_source(
        &self,
        source: &mut impl mio::event::Source,
    ) -> io::Result<()> {
        self.poll
            .registry()
            .register(source, WAKE, Interest::READABLE)
    }

    /// Adds an engine to drive.
    pub(crate) fn add(&mut self, engine: Box<dyn Drive + Send>) {
        self.engines.push(engine);
    }

    /// Runs until stopped (the waker, or `stop_after` returning true after a wake-up)
    /// and every engine has finished what stopping sends; `out` gets every event.
    pub(crate) fn run(&mut self, out: &mut dyn FnMut(Output)) -> io::Result<()> {
        loop {
            let now = clock();
            self.pump(now, out)?;
            if self.stopping && self.exchanges.is_empty() {
                return Ok(());
            }
            let wait = self
                .next_deadline()
                .map(|t| t.saturating_duration_since(now));
            match self.poll.poll(&mut self.events, wait) {
                // A signal arrived during the wait: its source is readable next time.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
                other => other?,
            }
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            let now = clock();
            let ready: Vec<Token> = self.events.iter().map(|e| e.token()).collect();
            for token in ready {
                if token == WAKE {
                    if !self.stopping {
                        self.stopping = true;
                        for engine in &mut self.engines {
                            engine.stop(now);
                        }
                    }
                } else {
                    self.progress(now, token);
                }
            }
            self.expire(now);
            for engine in &mut self.engines {
                if engine.deadline().is_some_and(|t| t <= now) {
                    engine.timeout(now);
                }
            }
        }
    }

    /// After any input: cancels, sends, and forwards events, for every engine.
    fn pump(&mut self, now: Instant, out: &mut dyn FnMut(Output)) -> io::Result<()> {
        for index in 0..self.engines.len() {
            while let Some(id) = self.engines[index].next_cancel() {
                let token = self
                    .exchanges
                    .iter()
                    .find(|(_, x)| x.engine == index && x.id == id)
                    .map(|(t, _)| *t);
                if let Some(token) = token {
                    let mut x = self.exchanges.remove(&token).expect("found");
                    let _ = self.poll.registry().deregister(&mut x.stream);
                }
                self.engines[index].cancelled(now, id);
            }
            while let Some((id, request, timeout)) =
                self.engines[index].next_request(now, &self.config)
            {
                if let Err(failure) = self.start(index, id, request, now + timeout) {
                    self.engines[index].failure(now, id, Failure::Transport(failure));
                }
            }
            self.engines[index].drain(out);
        }
        Ok(())
    }

    fn next_deadline(&self) -> Option<Instant> {
        let engines = self.engines.iter().filter_map(|e| e.deadline());
        let requests = self.exchanges.values().map(|x| x.deadline);
        engines.chain(requests).min()
    }

    /// Opens (or reuses) a connection and starts writing the request.
    fn start(
        &mut self,
        engine: usize,
        id: RequestId,
        request: http::Request<Vec<u8>>,
        deadline: Instant,
    ) -> Result<(), TransportFailure> {
        let invalid = |e: ureq_proto::Error| {
            TransportFailure::new(TransportFailureKind::InvalidRequest, e.to_string())
        };
        let call = Call::new(request.map(|_| ())).map_err(invalid)?;
        let mut send = call.proceed();
        let mut bytes = vec![0u8; 8192];
        let n = send.write(&mut bytes).map_err(invalid)?;
        bytes.truncate(n);
        let call = match send.proceed() {
            Ok(Some(SendRequestResult::RecvResponse(call))) => call,
            _ => {
                return Err(TransportFailure::new(
                    TransportFailureKind::InvalidRequest,
                    "a request with a body",
                ))
            }
        };
        let mut stream = match self.idle.pop() {
            Some(s) => s,
            None => TcpStream::connect(self.addr)
                .map_err(|e| TransportFailure::new(TransportFailureKind::Connect, e.to_string()))?,
        };
        let token = Token(self.next_token);
        self.next_token += 1;
        self.poll
            .registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| TransportFailure::new(TransportFailureKind::Io, e.to_string()))?;
        self.exchanges.insert(
            token,
            Exchange {
                engine,
                id,
                stream,
                phase: Some(Phase::Send {
                    bytes,
                    written: 0,
                    call,
                }),
                input: Vec::new(),
                deadline,
            },
        );
        // Writable soon; try at once too (a reused connection is already writable).
        self.progress(Instant::now(), token);
        Ok(())
    }

    /// Moves one exchange on as far as its socket allows.
    fn progress(&mut self, now: Instant, token: Token) {
        let Some(x) = self.exchanges.get_mut(&token) else {
            return;
        };
        match advance(x) {
            Progress::Pending => {}
            Progress::Done(response, reusable) => {
                let mut x = self.exchanges.remove(&token).expect("present");
                let _ = self.poll.registry().deregister(&mut x.stream);
                if reusable {
                    self.idle.push(x.stream);
                }
                self.engines[x.engine].response(now, x.id, &response);
            }
            Progress::Failed(failure) => {
                let mut x = self.exchanges.remove(&token).expect("present");
                let _ = self.poll.registry().deregister(&mut x.stream);
                self.engines[x.engine].failure(now, x.id, Failure::Transport(failure));
            }
        }
    }

    /// Fails requests past their deadline.
    fn expire(&mut self, now: Instant) {
        let late: Vec<Token> = self
            .exchanges
            .iter()
            .filter(|(_, x)| x.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            let mut x = self.exchanges.remove(&token).expect("present");
            let _ = self.poll.registry().deregister(&mut x.stream);
            let failure = TransportFailure::new(TransportFailureKind::Timeout, "no answer in time");
            self.engines[x.engine].failure(now, x.id, Failure::Transport(failure));
        }
    }
}

/// The driver reads the clock; the engines never do.
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

fn io_failure(e: &io::Error) -> TransportFailure {
    TransportFailure::new(TransportFailureKind::Io, e.to_string())
}

fn protocol(e: &ureq_proto::Error) -> TransportFailure {
    TransportFailure::new(TransportFailureKind::Protocol, e.to_string())
}

/// Writes what it can, reads what there is, and parses with `ureq-proto`.
fn advance(x: &mut Exchange) -> Progress {
    loop {
        match x.phase.take().expect("a phase") {
            Phase::Send {
                bytes,
                mut written,
                call,
            } => {
                while written < bytes.len() {
                    match x.stream.write(&bytes[written..]) {
                        Ok(0) => {
                            return Progress::Failed(io_failure(&io::ErrorKind::WriteZero.into()))
                        }
                        Ok(n) => written += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            x.phase = Some(Phase::Send {
                                bytes,
                                written,
                                call,
                            });
                            return Progress::Pending;
                        }
                        // Still connecting.
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            x.phase = Some(Phase::Send {
                                bytes,
                                written,
                                call,
                            });
                            return Progress::Pending;
                        }
                        Err(e) => {
                            let kind = if e.kind() == io::ErrorKind::ConnectionRefused {
                                TransportFailureKind::Connect
                            } else {
                                TransportFailureKind::Io
                            };
                            return Progress::Failed(TransportFailure::new(kind, e.to_string()));
                        }
                    }
                }
                x.phase = Some(Phase::Head { call });
            }
            Phase::Head { mut call } => {
                let (used, response) = match call.try_response(&x.input, false) {
                    Ok(v) => v,
                    Err(e) => return Progress::Failed(protocol(&e)),
                };
                x.input.drain(..used);
                let Some(response) = response else {
                    match read_more(x) {
                        // Something came: parse again.
                        None => x.phase = Some(Phase::Head { call }),
                        Some(p) => {
                            if matches!(p, Progress::Pending) {
                                x.phase = Some(Phase::Head { call });
                            }
                            return p;
                        }
                    }
                    continue;
                };
                let (head, ()) = response.into_parts();
                match call.proceed() {
                    Some(RecvResponseResult::RecvBody(call)) => {
                        x.phase = Some(Phase::Body {
                            call,
                            head,
                            body: Vec::new(),
                        });
                    }
                    Some(RecvResponseResult::Cleanup(call)) => {
                        let reuse = !call.must_close_connection();
                        return Progress::Done(http::Response::from_parts(head, Vec::new()), reuse);
                    }
                    // A redirect: never followed, reported as its status.
                    Some(RecvResponseResult::Redirect(_)) => {
                        return Progress::Done(http::Response::from_parts(head, Vec::new()), false);
                    }
                    None => {
                        return Progress::Failed(protocol(
                            &ureq_proto::Error::BodyContentAfterFinish,
                        ))
                    }
                }
            }
            Phase::Body {
                mut call,
                head,
                mut body,
            } => {
                let mut chunk = vec![0u8; 16 * 1024];
                loop {
                    if !x.input.is_empty() {
                        let (used, produced) = match call.read(&x.input, &mut chunk) {
                            Ok(v) => v,
                            Err(e) => return Progress::Failed(protocol(&e)),
                        };
                        x.input.drain(..used);
                        body.extend_from_slice(&chunk[..produced]);
                        if body.len() > MAX_BODY {
                            return Progress::Failed(TransportFailure::new(
                                TransportFailureKind::BodyTooLarge,
                                format!("a body over {MAX_BODY} bytes"),
                            ));
                        }
                    }
                    if call.can_proceed() {
                        let reuse = match call.proceed() {
                            Some(RecvBodyResult::Cleanup(c)) => !c.must_close_connection(),
                            _ => false,
                        };
                        return Progress::Done(http::Response::from_parts(head, body), reuse);
                    }
                    match read_more(x) {
                        None => {}
                        Some(Progress::Pending) => {
                            x.phase = Some(Phase::Body { call, head, body });
                            return Progress::Pending;
                        }
                        Some(other) => return other,
                    }
                }
            }
        }
    }
}

/// Reads what the socket has into `x.input`: `None` when something was read,
/// `Some(Pending)` when nothing is there yet, `Some(Failed)` on EOF or an error.
fn read_more(x: &mut Exchange) -> Option<Progress> {
    let mut buf = [0u8; 16 * 1024];
    let mut got = false;
    loop {
        match x.stream.read(&mut buf) {
            Ok(0) => {
                return if got {
                    None
                } else {
                    Some(Progress::Failed(TransportFailure::new(
                        TransportFailureKind::Io,
                        "the connection closed before the response was complete",
                    )))
                };
            }
            Ok(n) => {
                x.input.extend_from_slice(&buf[..n]);
                got = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return if got { None } else { Some(Progress::Pending) };
            }
            Err(e) => return Some(Progress::Failed(io_failure(&e))),
        }
    }
}
