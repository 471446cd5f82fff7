//! Bench 5 (RSS under churn): the emulator *binary*'s resident memory after users come
//! and go (issue 15's leftover), measured from outside over HTTP so that the binary's
//! own global allocator is what is measured.
//!
//! Starts the release `presence-emulator` (`PRESENCE_EMULATOR_BIN`, default the
//! `presence-emulator` beside this bench's `deps/` directory, so build it first), then
//! for `PRESENCE_CHURN_ROUNDS` rounds (default 8): `PRESENCE_CHURN_USERS` users
//! (default 100 000) heartbeat one of 1 000 channels each, then all of them leave,
//! over 8 keep-alive connections with 32 requests pipelined. It prints the process's
//! RSS (`VmRSS` of `/proc/PID/status`) at start, with everyone in, right after
//! everyone left and `PRESENCE_RSS_SETTLE` seconds later (default 12: jemalloc's
//! default decay is 10 s).
//!
//! ```sh
//! cargo build --release -p presence-emulator --bin presence-emulator
//! cargo bench -p presence-bench --bench emulator_rss
//! # glibc's malloc instead of jemalloc, side by side:
//! cargo build --release -p presence-emulator --bin presence-emulator --no-default-features --features cli
//! cp target/release/presence-emulator /tmp/presence-emulator-glibc
//! PRESENCE_EMULATOR_BIN=/tmp/presence-emulator-glibc cargo bench -p presence-bench --bench emulator_rss
//! ```

use presence_bench::{bench_mode, env_count, env_secs, load_avg};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const CONNECTIONS: usize = 8;
const PIPELINE: usize = 32;
const CHANNELS: usize = 1_000;

fn main() {
    if !bench_mode() {
        return;
    }
    let bin = std::env::var_os("PRESENCE_EMULATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("own path");
            // target/release/deps/emulator_rss-HASH → target/release/presence-emulator
            exe.parent()
                .and_then(|d| d.parent())
                .expect("target directory")
                .join("presence-emulator")
        });
    let rounds = env_count("PRESENCE_CHURN_ROUNDS", 8);
    let users = env_count("PRESENCE_CHURN_USERS", 100_000);
    let settle = env_secs("PRESENCE_RSS_SETTLE", 12.0);
    let mut child = Command::new(&bin)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("origin line");
    let addr: SocketAddr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .expect("listening line");
    let pid = child.id();
    let rss = || -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    println!("binary: {}", bin.display());
    println!("load before: {}", load_avg());
    println!(
        "{users} users over {CHANNELS} channels per round, {CONNECTIONS} connections, {PIPELINE} pipelined; settle {:.0} s",
        settle.as_secs_f64()
    );
    println!(
        "\n| round | RSS at start | with everyone in | right after all left | {:.0} s later | heartbeats/s | leaves/s |",
        settle.as_secs_f64()
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let start = rss();
    for round in 0..rounds {
        let joins = drive(addr, users, |u| {
            let c = u % CHANNELS;
            format!("/v2/presence/sub-key/demo/channel/c{c}/heartbeat?heartbeat=300&uuid=u{u}")
        });
        let full = rss();
        let leaves = drive(addr, users, |u| {
            let c = u % CHANNELS;
            format!("/v2/presence/sub-key/demo/channel/c{c}/leave?uuid=u{u}")
        });
        let left = rss();
        std::thread::sleep(settle);
        let settled = rss();
        println!(
            "| {round} | {start:.1} MiB | {full:.1} MiB | {left:.1} MiB | {settled:.1} MiB | {joins:.0} | {leaves:.0} |"
        );
    }
    println!("load after: {}", load_avg());
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends `target(u)` for every user `u` over [`CONNECTIONS`] connections, each with
/// [`PIPELINE`] requests in flight, checks that every answer is a 200, and returns the
/// requests per second.
fn drive(addr: SocketAddr, users: usize, target: impl Fn(usize) -> String + Sync) -> f64 {
    let t = std::time::Instant::now();
    std::thread::scope(|s| {
        for c in 0..CONNECTIONS {
            let target = &target;
            s.spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mine: Vec<usize> = (c..users).step_by(CONNECTIONS).collect();
                for batch in mine.chunks(PIPELINE) {
                    let mut out = String::new();
                    for &u in batch {
                        out.push_str(&format!("GET {} HTTP/1.1\r\nHost: e\r\n\r\n", target(u)));
                    }
                    stream.write_all(out.as_bytes()).expect("write");
                    for _ in batch {
                        assert_eq!(read_response(&mut reader), 200);
                    }
                }
            });
        }
    });
    users as f64 / t.elapsed().as_secs_f64()
}

/// Reads one response (`Content-Length` framing) and returns its status.
fn read_response(r: &mut impl std::io::BufRead) -> u16 {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().expect("length");
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).expect("body");
    status
}
