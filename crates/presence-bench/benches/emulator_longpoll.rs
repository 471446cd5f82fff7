//! Bench 4 (long-polls): ordinary requests while 10 000 idle subscribe long-polls are
//! parked on the emulator (issue 15, item 1).
//!
//! The bench binary runs twice: as the client (what `cargo bench` starts) and, started
//! by it with `PRESENCE_BENCH_ROLE=server`, as the emulator (default configuration,
//! real clock), so that each process has its own file-descriptor table (10 000 sockets
//! on each side, `ulimit -n` 20 000 here). The client seeds 100 occupants on `room`,
//! then measures here now on `room` and heartbeats (closed loop, 4 keep-alive
//! connections, each request timed) before the attack, with
//! `PRESENCE_LONGPOLLS` (default 10 000) idle long-polls parked —
//! `GET /v2/subscribe/demo/idle{i}-pnpres/0?tt=1&uuid=w{i}` as the issue reproduces —
//! and after. It prints the percentiles, the server's connection counts, RSS and open
//! file descriptors, and checks at the end that every long-poll is answered (an empty
//! `m`) when the server shuts down.
//!
//! `cargo bench -p presence-bench --bench emulator_longpoll`
//! (`PRESENCE_BENCH_SECS` sets each window, default 5 s.)

use presence_bench::load::percentile_us;
use presence_bench::{bench_mode, env_count, env_secs, load_avg};
use presence_emulator::{Emulator, EmulatorConfig};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};

use tokio::net::TcpStream;

const ROLE: &str = "PRESENCE_BENCH_ROLE";

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("server") {
        return server();
    }
    if !bench_mode() {
        return;
    }
    client();
}

/// The emulator side: serves until its stdin closes; on a `stats` line prints its
/// connection counts.
fn server() {
    let emu = Emulator::start_blocking(EmulatorConfig::new()).expect("listen");
    println!("ORIGIN {}", emu.local_addr());
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        if line == "stats" {
            let s = emu.connections();
            println!("STATS {} {} {}", s.active, s.long_polls, s.evicted);
        }
    }
    emu.shutdown();
}

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(ROLE, "server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("server process");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("origin line");
        let addr = line
            .trim()
            .strip_prefix("ORIGIN ")
            .expect("ORIGIN line")
            .parse()
            .expect("address");
        Server {
            child,
            stdin,
            stdout,
            addr,
        }
    }

    /// `(active connections, parked long-polls, evicted)`.
    fn stats(&mut self) -> (usize, usize, usize) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "stats").expect("stats request");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("stats line");
        let n: Vec<usize> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        (n[0], n[1], n[2])
    }

    fn status(&self, field: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .map(|l| l[field.len()..].trim().to_owned())
            })
            .unwrap_or_else(|| "n/a".into())
    }

    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Closes stdin (the server shuts down) and waits for it.
    fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// `GET target` on a kept-alive connection: the status and the body length.
async fn request(s: &mut tokio::io::BufStream<TcpStream>, target: &str) -> Option<u16> {
    let req = format!("GET {target} HTTP/1.1\r\nHost: emulator\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    s.flush().await.ok()?;
    let mut status_line = String::new();
    s.read_line(&mut status_line).await.ok()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        s.read_line(&mut h).await.ok()?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.ok()?;
    Some(status)
}

/// Closed loop of `conns` connections for `window`: latencies (ns) of ok requests and
/// the error count.
async fn measure(
    addr: SocketAddr,
    conns: usize,
    window: Duration,
    heartbeat: bool,
) -> (Vec<u64>, usize) {
    let deadline = Instant::now() + window;
    let mut tasks = Vec::new();
    for w in 0..conns {
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::io::BufStream::new(TcpStream::connect(addr).await.expect("connect"));
            let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, 0usize);
            while Instant::now() < deadline {
                let target = if heartbeat {
                    format!("/v2/presence/sub-key/demo/channel/hb{}/heartbeat?heartbeat=300&uuid=b{w}-{}", i % 50, i % 500)
                } else {
                    "/v2/presence/sub-key/demo/channel/room?uuid=probe".to_owned()
                };
                let t = Instant::now();
                match request(&mut s, &target).await {
                    Some(200) => lat.push(t.elapsed().as_nanos() as u64),
                    _ => {
                        errors += 1;
                        s = tokio::io::BufStream::new(TcpStream::connect(addr).await.expect("reconnect"));
                    }
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.expect("worker");
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    (all, errors)
}

fn row(phase: &str, what: &str, (lat, errors): &(Vec<u64>, usize), window: Duration) {
    println!(
        "| {phase} | {what} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {errors} |",
        lat.len(),
        lat.len() as f64 / window.as_secs_f64(),
        percentile_us(lat, 0.50) / 1000.0,
        percentile_us(lat, 0.99) / 1000.0,
        lat.last().map_or(f64::NAN, |m| *m as f64 / 1e6),
    );
}

fn client() {
    let long_polls = env_count("PRESENCE_LONGPOLLS", 10_000);
    let window = env_secs("PRESENCE_BENCH_SECS", 5.0);
    let mut server = Server::start();
    let addr = server.addr;
    let rt = presence_bench::runtime();
    println!(
        "emulator_longpoll: {long_polls} idle long-polls, windows of {window:?}, load {}",
        load_avg()
    );
    rt.block_on(async {
        let mut s = tokio::io::BufStream::new(TcpStream::connect(addr).await.expect("connect"));
        for u in 0..100 {
            let t = format!(
                "/v2/presence/sub-key/demo/channel/room/heartbeat?heartbeat=3600&uuid=user-{u:03}"
            );
            assert_eq!(request(&mut s, &t).await, Some(200));
        }
    });
    println!("| phase | request | requests | req/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let before_here = rt.block_on(measure(addr, 4, window, false));
    row("before", "here now (100 occupants)", &before_here, window);
    let before_hb = rt.block_on(measure(addr, 4, window, true));
    row("before", "heartbeat", &before_hb, window);
    let rss_before = server.status("VmRSS:");

    // The attack: every long-poll on its own connection, none ever answered.
    let start = Instant::now();
    let polls = rt.block_on(async {
        let mut polls = Vec::with_capacity(long_polls);
        for i in 0..long_polls {
            let mut s = TcpStream::connect(addr).await.expect("long-poll connect");
            let req = format!("GET /v2/subscribe/demo/idle{i}-pnpres/0?tt=1&uuid=w{i} HTTP/1.1\r\nHost: emulator\r\n\r\n");
            s.write_all(req.as_bytes()).await.expect("long-poll request");
            polls.push(s);
        }
        polls
    });
    let opened = start.elapsed();
    let mut parked = server.stats();
    let wait_start = Instant::now();
    while parked.1 < long_polls && wait_start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        parked = server.stats();
    }
    let during_here = rt.block_on(measure(addr, 4, window, false));
    row("during", "here now (100 occupants)", &during_here, window);
    let during_hb = rt.block_on(measure(addr, 4, window, true));
    row("during", "heartbeat", &during_hb, window);
    let stats = server.stats();
    let (rss_during, fds) = (server.status("VmRSS:"), server.fds());
    // None of the long-polls was answered meanwhile.
    let answered_early = rt.block_on(async {
        let mut n = 0;
        let mut buf = [0u8; 1];
        for s in &polls {
            if s.try_read(&mut buf).is_ok() {
                n += 1;
            }
        }
        n
    });
    println!();
    println!(
        "server: {} of {long_polls} long-polls parked {:?} after the first connect ({opened:?} to open them), \
         {} other connections, {} evicted; RSS {rss_before} before, {rss_during} during; {fds} open fds; \
         {answered_early} long-polls answered early",
        parked.1,
        opened + wait_start.elapsed(),
        stats.0,
        stats.2,
    );
    // Shutdown answers every long-poll.
    let mut polls = polls;
    let reader = std::thread::spawn(move || {
        rt.block_on(async move {
            let mut ok = 0;
            for s in &mut polls {
                let mut out = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
                if out.starts_with(b"HTTP/1.1 200") && out.ends_with(br#""m":[]}"#) {
                    ok += 1;
                }
            }
            ok
        })
    });
    server.stop();
    let answered = reader.join().expect("reader");
    println!("shutdown answered {answered} of {long_polls} long-polls with an empty m");
    let p99_ms = percentile_us(&during_here.0, 0.99) / 1000.0;
    assert_eq!(parked.1, long_polls, "not every long-poll was parked");
    assert_eq!(during_here.1 + during_hb.1, 0, "errors during the attack");
    assert_eq!(answered, long_polls);
    println!("here now p99 during the attack: {p99_ms:.2} ms (target < 100 ms)");
}
