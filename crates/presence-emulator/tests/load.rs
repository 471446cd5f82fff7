//! The emulator under load: thousands of concurrent clients over real HTTP, slow-loris
//! connections, a connection flood, and a long come-and-go run on the pure model whose
//! memory must stay flat.
//!
//! No test asserts a duration: the timeouts below only turn a hang into a failure, with
//! a wide margin. Durations and sizes are printed (`-- --nocapture`) for the record.
//! `PRESENCE_SOAK_ROUNDS=200 PRESENCE_SOAK_USERS=1000` makes the memory run longer.
//!
//! The memory test measures the process's resident set (`VmRSS`), not allocated bytes:
//! a counting `#[global_allocator]` needs an `unsafe impl GlobalAlloc`, which the
//! workspace's `unsafe_code = "forbid"` rules out for this crate's targets. It therefore
//! runs alone (a write lock on [`EXCLUSIVE`]; every other test here takes a read lock),
//! so no other test's allocations move the numbers.

use presence_emulator::http::Request;
use presence_emulator::{Emulator, EmulatorConfig, Keyset, Model, ModelConfig};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const T0: Duration = Duration::from_secs(1_700_000_000);

/// The memory test holds it for writing, the others for reading.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

/// Runs `f` on a fresh 2-worker multi-thread runtime, sharing the machine with the other
/// socket tests but never with the memory test.
fn on_runtime<F: std::future::Future<Output = ()>>(f: F) {
    let _shared = EXCLUSIVE.read().unwrap_or_else(PoisonError::into_inner);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f);
}

// ---- a minimal HTTP/1.1 keep-alive client ----------------------------------------------

/// One client connection, reused for many requests (keep-alive).
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// `GET target`; returns the status and the body. The emulator always sends a
    /// `content-length`.
    async fn get(&mut self, target: &str) -> io::Result<(u16, Vec<u8>)> {
        let req = format!("GET {target} HTTP/1.1\r\nHost: emulator\r\nUser-Agent: load\r\n\r\n");
        self.stream.write_all(req.as_bytes()).await?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line in {head:?}")))?;
        let len: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("no content-length in {head:?}")))?;
        while self.buf.len() < head_end + len {
            self.fill().await?;
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        self.buf.drain(..head_end + len);
        Ok((status, body))
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// At most `size` keep-alive connections shared by any number of tasks.
struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
    opened: AtomicUsize,
    requests: AtomicUsize,
}

impl Pool {
    fn new(addr: SocketAddr, size: usize) -> Arc<Pool> {
        Arc::new(Pool {
            addr,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size),
            opened: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        })
    }

    /// `GET target`, which must answer 200 with a JSON body; returns the body.
    async fn get_ok(&self, target: &str) -> Value {
        let _permit = self.permits.acquire().await.unwrap();
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => {
                self.opened.fetch_add(1, Ordering::Relaxed);
                Conn::connect(self.addr).await.unwrap()
            }
        };
        let (status, body) = conn
            .get(target)
            .await
            .unwrap_or_else(|e| panic!("GET {target}: {e}"));
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "GET {target}: {text}");
        let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {text}"));
        if let Some(s) = v.get("status") {
            assert_eq!(s, 200, "GET {target}: {text}");
        }
        v
    }
}

// ---- (a) thousands of concurrent clients ------------------------------------------------

const USERS: usize = 2_000;
const CHANNELS: usize = 1_000;
const POOL: usize = 64;
/// The first joins, the second extends.
const HEARTBEATS_PER_USER: usize = 2;

/// User `i`'s channels: 2 or 3 distinct ones of the 1 000 (every channel is used).
fn channels_of(i: usize) -> Vec<usize> {
    let n = 2 + i % 2;
    (0..n).map(|k| (i * 7 + k * 331) % CHANNELS).collect()
}

fn user(i: usize) -> String {
    format!("user-{i:04}")
}

/// Every third user heartbeats with a state (a bare object: it goes to each channel).
fn state_of(i: usize) -> Option<String> {
    (i % 3 == 0).then(|| format!(r#"{{"i":{i},"name":"n {i}"}}"#))
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn list(chs: &[usize]) -> String {
    chs.iter()
        .map(|c| format!("ch{c:03}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `f(i)` for every user as its own task and waits for all of them.
async fn for_each_user<F, Fut>(pool: &Arc<Pool>, f: F)
where
    F: Fn(Arc<Pool>, usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..USERS)
        .map(|i| tokio::spawn(f(pool.clone(), i)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[test]
fn two_thousand_clients_on_a_thousand_channels_lose_no_occupant() {
    on_runtime(async {
        let emu = Emulator::start(
            EmulatorConfig::new()
                .keyset(Keyset::new("load"))
                .paused_clock(T0)
                // Pooled connections may sit idle while a phase is verified.
                .header_read_timeout(Duration::from_secs(120)),
        )
        .await
        .unwrap();
        let pool = Pool::new(emu.local_addr(), POOL);
        let p = "/v2/presence/sub-key/load";

        // What the server must end up with: channel → users.
        let mut expected: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for i in 0..USERS {
            for c in channels_of(i) {
                expected.entry(c).or_default().insert(user(i));
            }
        }
        let total: usize = expected.values().map(BTreeSet::len).sum();
        assert_eq!(expected.len(), CHANNELS);

        let start = Instant::now();
        for_each_user(&pool, |pool, i| async move {
            let chs = list(&channels_of(i));
            let state = state_of(i).map_or(String::new(), |s| format!("&state={}", enc(&s)));
            for _ in 0..HEARTBEATS_PER_USER {
                let v = pool
                    .get_ok(&format!(
                        "{p}/channel/{chs}/heartbeat?heartbeat=300&uuid={}{state}",
                        user(i)
                    ))
                    .await;
                assert_eq!(v["message"], "OK");
            }
        })
        .await;
        let joined = start.elapsed();

        // Global here now: every channel, every occupant, every state.
        let v = pool.get_ok(&format!("{p}?uuid=checker&state=1")).await;
        assert_eq!(v["payload"]["total_channels"], CHANNELS);
        assert_eq!(v["payload"]["total_occupancy"], total);
        let got = v["payload"]["channels"].as_object().unwrap();
        for (c, users) in &expected {
            let entry = &got[&format!("ch{c:03}")];
            assert_eq!(entry["occupancy"], users.len(), "ch{c:03}");
            let listed: BTreeSet<String> = entry["uuids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    let id = u["uuid"].as_str().unwrap().to_owned();
                    let i: usize = id["user-".len()..].parse().unwrap();
                    let want: Option<Value> =
                        state_of(i).map(|s| serde_json::from_str(&s).unwrap());
                    assert_eq!(u.get("state").cloned(), want, "{id} on ch{c:03}");
                    id
                })
                .collect();
            assert_eq!(&listed, users, "ch{c:03}");
        }

        // Per channel: the single here-now shape of each of the 1 000 channels.
        let expected = Arc::new(expected);
        let tasks: Vec<_> = (0..CHANNELS)
            .map(|c| {
                let (pool, expected) = (pool.clone(), expected.clone());
                tokio::spawn(async move {
                    let v = pool
                        .get_ok(&format!(
                            "{p}/channel/ch{c:03}?uuid=checker&disable_uuids=1"
                        ))
                        .await;
                    assert_eq!(v["occupancy"], expected[&c].len(), "ch{c:03}");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }

        // Where now: every user is on exactly its channels.
        for_each_user(&pool, |pool, i| async move {
            let v = pool
                .get_ok(&format!("{p}/uuid/{}?uuid=checker", user(i)))
                .await;
            let mut want: Vec<String> =
                channels_of(i).iter().map(|c| format!("ch{c:03}")).collect();
            want.sort();
            assert_eq!(
                v["payload"]["channels"],
                serde_json::json!(want),
                "{}",
                user(i)
            );
        })
        .await;
        emu.with_model(|m| {
            let s = m.stats();
            assert_eq!(
                (s.channels, s.occupants, s.users, s.expiry_entries),
                (CHANNELS, total, USERS, total),
                "{s:?}"
            );
        });

        // Everyone leaves.
        let start_leave = Instant::now();
        for_each_user(&pool, |pool, i| async move {
            let v = pool
                .get_ok(&format!(
                    "{p}/channel/{}/leave?uuid={}",
                    list(&channels_of(i)),
                    user(i)
                ))
                .await;
            assert_eq!(v["action"], "leave");
        })
        .await;
        let left = start_leave.elapsed();

        let v = pool.get_ok(&format!("{p}?uuid=checker")).await;
        assert_eq!(v["payload"]["total_channels"], 0);
        assert_eq!(v["payload"]["total_occupancy"], 0);
        let v = pool
            .get_ok(&format!("{p}/channel/ch000?uuid=checker"))
            .await;
        assert_eq!(v["occupancy"], 0);
        let stats = emu.with_model(|m| m.stats());
        assert_eq!(
            (
                stats.channels,
                stats.occupants,
                stats.users,
                stats.expiry_entries,
                stats.groups
            ),
            (0, 0, 0, 0, 0),
            "{stats:?}"
        );
        assert!(stats.events <= 20_000, "{stats:?}");
        let opened = pool.opened.load(Ordering::Relaxed);
        assert!(opened <= POOL, "{opened} connections opened");
        println!(
            "load: {USERS} users, {CHANNELS} channels, {total} occupancies; {} requests over {opened} \
             connections; joins ({} requests) {joined:?}, leaves {left:?}, total {:?}; final {stats:?}",
            pool.requests.load(Ordering::Relaxed),
            USERS * HEARTBEATS_PER_USER,
            start.elapsed(),
        );
        emu.shutdown().await;
    });
}

// ---- (b) slow-loris -------------------------------------------------------------------

/// Waits (at most `guard`, a hang guard) until the server closes `s`: returns the bytes
/// it sent before closing (a reset counts as a close).
async fn closed_by_server(s: &mut TcpStream, guard: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(guard, async {
        let mut chunk = [0u8; 1024];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server did not close the connection within {guard:?} (sent {:?})",
        String::from_utf8_lossy(&got)
    );
    got
}

/// Whether the server still holds `s` open (no data, no EOF right now).
fn still_open(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.try_read(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[test]
fn slow_loris_connections_are_cut_and_others_are_served() {
    on_runtime(async {
        let header_timeout = Duration::from_millis(1_000);
        let emu = Emulator::start(
            EmulatorConfig::new()
                .keyset(Keyset::new("sk"))
                .paused_clock(T0)
                .header_read_timeout(header_timeout),
        )
        .await
        .unwrap();
        let addr = emu.local_addr();
        let start = Instant::now();

        // 25 send half a request line and stall.
        let mut stalled = Vec::new();
        for _ in 0..25 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /v2/presence/sub-key/sk/chan")
                .await
                .unwrap();
            stalled.push(s);
        }
        // 25 drip a never-ending header one byte every 50 ms: the timeout counts from
        // the start of the head, so dripping does not keep a connection alive.
        let mut drippers = Vec::new();
        for _ in 0..25 {
            let (mut rd, mut wr) = TcpStream::connect(addr).await.unwrap().into_split();
            let drip = tokio::spawn(async move {
                let mut head = b"GET /v2/presence/sub-key/sk?uuid=slow HTTP/1.1\r\n".to_vec();
                for _ in 0..200 {
                    head.extend_from_slice(b"X-Pad: yyyyyyyy\r\n");
                }
                for b in head {
                    if wr.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                let r =
                    tokio::time::timeout(Duration::from_secs(15), rd.read_to_end(&mut got)).await;
                assert!(r.is_ok(), "a dripping connection was not cut");
                got
            });
            drippers.push((drip, reader));
        }
        // 25 connect and send nothing.
        for _ in 0..25 {
            stalled.push(TcpStream::connect(addr).await.unwrap());
        }

        // Meanwhile a normal client is answered. Each request on a new connection: a
        // kept-alive one idle for longer than the header read timeout is closed too, and
        // a loaded machine could make a pause between two requests that long.
        let get = |target: String| async move {
            let mut c = Conn::connect(addr).await.unwrap();
            let (st, body) = c.get(&target).await.unwrap();
            assert_eq!(st, 200, "{target}: {}", String::from_utf8_lossy(&body));
            serde_json::from_slice::<Value>(&body).unwrap()
        };
        for k in 0..10 {
            get(format!(
                "/v2/presence/sub-key/sk/channel/lobby/heartbeat?heartbeat=60&uuid=u{k}"
            ))
            .await;
            let v = get("/v2/presence/sub-key/sk/channel/lobby?uuid=probe&disable_uuids=1".into())
                .await;
            assert_eq!(v["occupancy"], k + 1);
        }
        let served = start.elapsed();
        let open_meanwhile = stalled.iter().filter(|s| still_open(s)).count();
        let stalled_total = stalled.len() + drippers.len();

        // With the short header read timeout, every stalled connection gets closed,
        // without a response.
        for s in &mut stalled {
            let sent = closed_by_server(s, Duration::from_secs(15)).await;
            assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
        }
        for (drip, reader) in drippers {
            let sent = reader.await.unwrap();
            assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
            // The dripper stops at its first failed write (its head would take ~3 minutes).
            tokio::time::timeout(Duration::from_secs(15), drip)
                .await
                .expect("the server kept reading a dripped header")
                .unwrap();
        }
        let closed = start.elapsed();

        // And the emulator still serves.
        let v =
            get("/v2/presence/sub-key/sk/channel/lobby?uuid=probe&disable_uuids=1".into()).await;
        assert_eq!(v["occupancy"], 10);
        println!(
            "slow-loris: {stalled_total} stalled/dripping/silent connections; normal client served 20 requests \
             after {served:?} with {open_meanwhile}/50 stalled/silent still open; all cut by {closed:?} \
             (header read timeout {header_timeout:?})"
        );
        emu.shutdown().await;
    });
}

// ---- (c) connection flood ---------------------------------------------------------------

/// Sends one `GET` with `Connection: close`; the response is read with [`read_status`].
async fn send_close(s: &mut TcpStream, target: &str) {
    let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
}

async fn read_status(s: &mut TcpStream) -> io::Result<u16> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no response: {text:?}")))
}

#[test]
fn a_connection_beyond_the_limit_closes_the_longest_idle_one() {
    on_runtime(async {
        // Long header timeout: here only eviction closes idle connections.
        let emu = Emulator::start(
            EmulatorConfig::new()
                .keyset(Keyset::new("sk"))
                .paused_clock(T0)
                .max_connections(32)
                .header_read_timeout(Duration::from_secs(600)),
        )
        .await
        .unwrap();
        let addr = emu.local_addr();
        let mut idle = Vec::new();
        for _ in 0..32 {
            idle.push(TcpStream::connect(addr).await.unwrap());
            // Accepted in this order, so the first is the longest idle.
            while emu.connections().active < idle.len() {
                tokio::task::yield_now().await;
            }
        }
        // The 33rd connection is served at once...
        let mut newcomer = TcpStream::connect(addr).await.unwrap();
        send_close(&mut newcomer, "/v2/presence/sub-key/sk/channel/a?uuid=w").await;
        let status = tokio::time::timeout(Duration::from_secs(15), read_status(&mut newcomer))
            .await
            .expect("not served beyond max_connections")
            .unwrap();
        assert_eq!(status, 200);
        // ...because the longest-idle connection was closed for it, and only that one.
        let sent = closed_by_server(&mut idle[0], Duration::from_secs(15)).await;
        assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
        assert!(idle[1..].iter().all(still_open));
        let stats = emu.connections();
        assert_eq!(stats.evicted, 1, "{stats:?}");
        assert!(stats.active <= 32, "{stats:?}");
        drop(idle);
        emu.shutdown().await;
    });
}

#[test]
fn a_flood_of_idle_connections_does_not_stop_the_emulator() {
    on_runtime(async {
        let header_timeout = Duration::from_millis(300);
        let emu = Emulator::start(
            EmulatorConfig::new()
                .keyset(Keyset::new("sk"))
                .paused_clock(T0)
                .max_connections(32)
                .header_read_timeout(header_timeout),
        )
        .await
        .unwrap();
        let addr = emu.local_addr();
        let start = Instant::now();
        let mut flood = Vec::new();
        for _ in 0..200 {
            flood.push(TcpStream::connect(addr).await.unwrap());
        }
        // A normal request queued behind the flood: served once the idle connections
        // ahead of it have timed out (32 at a time).
        let mut normal = TcpStream::connect(addr).await.unwrap();
        send_close(
            &mut normal,
            "/v2/presence/sub-key/sk/channel/lobby/heartbeat?heartbeat=60&uuid=ann",
        )
        .await;
        let status = tokio::time::timeout(Duration::from_secs(30), read_status(&mut normal))
            .await
            .expect("the normal request was never served")
            .unwrap();
        assert_eq!(status, 200);
        let served = start.elapsed();
        // Every idle connection is eventually accepted and cut by the header timeout.
        for s in &mut flood {
            let sent = closed_by_server(s, Duration::from_secs(30)).await;
            assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
        }
        let all_closed = start.elapsed();
        // The emulator keeps serving, with its state intact.
        let mut c = Conn::connect(addr).await.unwrap();
        let (st, body) = c
            .get("/v2/presence/sub-key/sk/channel/lobby?uuid=probe")
            .await
            .unwrap();
        assert_eq!(st, 200);
        assert_eq!(
            String::from_utf8_lossy(&body),
            r#"{"status":200,"message":"OK","service":"Presence","uuids":["ann"],"occupancy":1}"#
        );
        println!(
            "flood: 200 idle connections, max_connections 32, header timeout {header_timeout:?}: \
             queued request served after {served:?}, all idle ones closed by {all_closed:?}"
        );
        emu.shutdown().await;
    });
}

// ---- (d) memory over a long come-and-go run -------------------------------------------

/// Resident set size of this process, in bytes (`None` off Linux).
fn rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn mb(bytes: Option<usize>) -> String {
    bytes.map_or("n/a".into(), |b| {
        format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
    })
}

/// Rounds and users per round; `PRESENCE_SOAK_ROUNDS` / `PRESENCE_SOAK_USERS` override
/// them for a longer run (the defaults keep the debug test within a few seconds).
fn soak_size() -> (usize, usize) {
    let var = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (
        var("PRESENCE_SOAK_ROUNDS", 50).max(WARM_UP + 1),
        var("PRESENCE_SOAK_USERS", 500).max(20),
    )
}
const WARM_UP: usize = 10;
/// Smaller than the default 20 000 so that it fills up during the warm-up.
const EVENT_LOG: usize = 5_000;

/// One round: `users` new users join (with state) a shared hot channel and a
/// per-round cold one; a per-round group comes and goes; half the users leave, the other
/// half time out. Returns the time at the end of the round.
fn come_and_go(m: &mut Model, round: usize, users: usize) -> Duration {
    let t = T0 + Duration::from_secs(100 * round as u64);
    let get = |uri: String| Request::get(uri).body(()).unwrap();
    let p = "/v2/presence/sub-key/mem";
    let group = format!("g{round}");
    let ok = |m: &mut Model, now: Duration, uri: String| {
        let r = m.handle(now, &get(uri));
        assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    };
    ok(
        m,
        t,
        format!(
            "/v1/channel-registration/sub-key/mem/channel-group/{group}?add=r{round}-g0,r{round}-g1&uuid=admin"
        ),
    );
    for i in 0..users {
        let u = format!("r{round}-user-{i}");
        let hot = format!("hot{}", i % 10); // users / 10 each, above announce_max: interval mode
        let cold = format!("r{round}-c{}", i / 4); // 4 occupants each: per-user events
        let state = enc(&format!(r#"{{"i":{i},"round":{round},"pad":"{u}"}}"#));
        ok(
            m,
            t,
            format!("{p}/channel/{hot},{cold}/heartbeat?heartbeat=20&uuid={u}&state={state}"),
        );
        if i % 10 == 0 {
            ok(
                m,
                t,
                format!("{p}/channel/,/heartbeat?channel-group={group}&heartbeat=20&uuid={u}"),
            );
            ok(
                m,
                t,
                format!("{p}/channel/{cold}/uuid/{u}/data?uuid={u}&state=%7B%22k%22%3A1%7D"),
            );
        }
    }
    let s = m.stats();
    assert_eq!(s.users, users, "round {round}: {s:?}");
    assert_eq!(s.groups, 1);
    let t1 = t + Duration::from_secs(1);
    for i in (0..users).step_by(2) {
        let u = format!("r{round}-user-{i}");
        let hot = format!("hot{}", i % 10);
        let cold = format!("r{round}-c{}", i / 4);
        ok(m, t1, format!("{p}/channel/{hot},{cold}/leave?uuid={u}"));
        if i % 10 == 0 {
            ok(
                m,
                t1,
                format!("{p}/channel/,/leave?channel-group={group}&uuid={u}"),
            );
        }
    }
    ok(
        m,
        t1,
        format!("/v1/channel-registration/sub-key/mem/channel-group/{group}/remove?uuid=admin"),
    );
    // The other half times out 20 s after its heartbeat; two interval periods later
    // every interval timer has fired with nobody left.
    let end = t + Duration::from_secs(20 + 2 * 10);
    m.handle_timeout(end);
    end
}

#[test]
fn memory_stays_flat_while_users_come_and_go() {
    let _alone = EXCLUSIVE.write().unwrap_or_else(PoisonError::into_inner);
    let (rounds, users) = soak_size();
    let before = rss();
    let mut m = Model::new(
        ModelConfig::new()
            .keyset(Keyset::new("mem"))
            .event_log_capacity(EVENT_LOG),
    );
    let start = Instant::now();
    let mut warm = None;
    let mut peak_events = 0;
    for round in 0..rounds {
        let end = come_and_go(&mut m, round, users);
        let s = m.stats();
        assert_eq!(
            (s.channels, s.occupants, s.users, s.expiry_entries, s.groups),
            (0, 0, 0, 0, 0),
            "round {round}: {s:?}"
        );
        assert!(s.events <= EVENT_LOG, "round {round}: {s:?}");
        peak_events = peak_events.max(s.events);
        assert_eq!(
            m.poll_timeout(),
            None,
            "round {round}: work left after {end:?}"
        );
        if round + 1 == WARM_UP {
            warm = rss();
        }
    }
    let elapsed = start.elapsed();
    let after = rss();
    let stats = m.stats();
    assert_eq!(peak_events, EVENT_LOG, "the log should have filled up");
    drop(m);
    let dropped = rss();
    println!(
        "memory: {rounds} rounds × {users} users in {elapsed:?}; RSS before {}, after {WARM_UP} \
         rounds {}, after {rounds} rounds {}, after dropping the model {}; final {stats:?}",
        mb(before),
        mb(warm),
        mb(after),
        mb(dropped),
    );
    if let (Some(warm), Some(after)) = (warm, after) {
        // After the warm-up, (rounds - 10) × users more users (20 000 by default), each
        // with two or three memberships, a state and several events, went through the
        // model: 1 MiB is about 50 bytes per user, less than any per-user record.
        let growth = after.saturating_sub(warm);
        assert!(
            growth <= 1024 * 1024,
            "RSS grew by {} after warm-up",
            mb(Some(growth))
        );
    }
}
