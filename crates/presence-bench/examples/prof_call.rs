//! Profiling driver (callgrind / perf) of one here-now call with `include_state`, step by
//! step, against an emulator in a child process (so that a profiler of this process sees
//! the client only).
//!
//! `prof_call <mode> <iterations> [concurrency]` (default 1: one task on a current-thread
//! runtime, or the calling thread; more: tasks on a two-worker runtime, or threads), modes:
//! - `raw`: raw hyper-util sending a pre-built request, body scanned with `IgnoredAny`
//!   (the baseline of the e2e bench's `facade` section);
//! - `raw-timeout`: the same inside `tokio::time::timeout`;
//! - `lean`: hyper's own http1 connections with a `Vec` of idle senders instead of
//!   hyper-util's pool (what the pool costs);
//! - `transport`: `HyperTransport::execute` of the pre-built request, `IgnoredAny` scan;
//! - `transport-parse`: the same, parsed into the owned `HereNowResult`;
//! - `facade`: `presence::Client` here now (build, span, send, owned parse);
//! - `ureq-raw`, `ureq-transport`, `ureq-transport-parse`, `blocking`: the same for the
//!   blocking stack;
//! - `ureq-lean`: ureq-proto's `Call` driven over plain `TcpStream`s with a `Vec` of idle
//!   ones instead of ureq's `Agent` (no TLS, no timeouts, no gzip: the floor under the
//!   blocking transport, as `lean` is under the async one); `blocking-lean`: the
//!   blocking facade on it (as a closure transport);
//! - `build`: `to_request` with a request id, no I/O; `parse`: the owned parse, no I/O;
//!   `view`: the borrowing parse (`parse_view`), no I/O;
//!   `scan`: the `IgnoredAny` scan of the same body, no I/O;
//! - `sizes`: prints the sizes of the futures and values of one call, and exits.
//!
//! `valgrind --tool=callgrind target/release/examples/prof_call facade 2000` and the
//! same with 500: the difference over 1500 is one call's instructions.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use presence_bench::{copy_request, scanned};
use presence_core::{Operation, RequestMeta};
use std::hint::black_box;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../shared/facade_calls.rs"]
mod facade_calls;
use facade_calls::{blocking_call, facade_call, BoxFut};

fn hyper_transport() -> transport_hyper::HyperTransport {
    transport_hyper::HyperTransport::new().expect("transport")
}

/// `n` calls from `conc` tasks: on a current-thread runtime for one task (the least
/// scheduling noise for a profiler), on a two-worker runtime, as in the e2e bench, for
/// more. The number of calls answered as expected.
fn run_async(n: u32, conc: usize, call: impl Fn() -> BoxFut + Send + Sync + 'static) -> usize {
    let rt = if conc == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    }
    .expect("runtime");
    let call = Arc::new(call);
    let per_task = n as usize / conc;
    rt.block_on(async move {
        let tasks: Vec<_> = (0..conc)
            .map(|_| {
                let call = Arc::clone(&call);
                tokio::spawn(async move {
                    let mut ok = 0;
                    for _ in 0..per_task {
                        ok += usize::from(call().await);
                    }
                    ok
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += t.await.expect("task");
        }
        ok
    })
}

/// `n` calls from `conc` threads.
fn run_threads(n: u32, conc: usize, call: impl Fn() -> bool + Send + Sync + 'static) -> usize {
    let call = Arc::new(call);
    let per_thread = n as usize / conc;
    let threads: Vec<_> = (0..conc)
        .map(|_| {
            let call = Arc::clone(&call);
            std::thread::spawn(move || (0..per_thread).filter(|_| call()).count())
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("thread")).sum()
}

/// User plus system CPU time of a process (all its threads) from `/proc/<pid>/stat`, in
/// clock ticks of 10 ms.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses): utime and stime are
    // the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The child: an emulator with the seeded lobby until stdin closes.
fn serve() {
    let emu = presence_emulator::Emulator::start_blocking(presence_emulator::EmulatorConfig::new())
        .expect("emulator");
    presence_bench::seed_lobby(&emu, 10);
    println!("{}", emu.origin());
    std::io::stdout().flush().expect("stdout");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    emu.shutdown();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("facade", String::as_str);
    if mode == "serve" {
        return serve();
    }
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .arg("serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("emulator process");
    let mut origin = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut origin)
        .expect("origin");
    let config = presence_bench::reader_config(origin.trim());
    let op = presence_bench::lobby_here_now();
    let req = presence_bench::lobby_request(&config);

    let conc: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let req = Arc::new(req);
    let started = Instant::now();
    let ok = match mode {
        "build" => (0..n)
            .filter(|i| {
                let meta = RequestMeta::new(1_700_000_000).with_request_id(format!("{i:036}"));
                black_box(op.to_request(black_box(&config), &meta)).is_ok()
            })
            .count(),
        "parse" | "scan" | "view" => {
            let resp = transport_ureq::UreqTransport::new()
                .execute(copy_request(&req))
                .expect("response");
            if mode == "scan" {
                (0..n).filter(|_| scanned(black_box(resp.body()))).count()
            } else if mode == "view" {
                (0..n)
                    .filter(|_| black_box(op.parse_view(black_box(&resp))).is_ok())
                    .count()
            } else {
                (0..n)
                    .filter(|_| black_box(op.parse_response(black_box(&resp))).is_ok())
                    .count()
            }
        }
        "raw" | "raw-timeout" => {
            let mut http = HttpConnector::new();
            http.set_nodelay(true);
            let raw: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .build(http);
            let timeout = mode == "raw-timeout";
            run_async(n, conc, move || {
                let (raw, req) = (raw.clone(), Arc::clone(&req));
                Box::pin(async move {
                    let call = async {
                        let resp = raw
                            .request(copy_request(&req).map(|b| Full::new(Bytes::from(b))))
                            .await
                            .ok()?;
                        let body = resp.into_body().collect().await.ok()?.to_bytes();
                        Some(scanned(&body))
                    };
                    let done = if timeout {
                        tokio::time::timeout(Duration::from_secs(30), call)
                            .await
                            .ok()
                            .flatten()
                    } else {
                        call.await
                    };
                    done == Some(true)
                })
            })
        }
        "lean" => {
            // hyper's http1 connection API with a Vec of idle senders: the floor under
            // hyper-util's pool.
            type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;
            let idle: Arc<std::sync::Mutex<Vec<Sender>>> = Arc::default();
            let addr = req.uri().authority().unwrap().as_str().to_owned();
            run_async(n, conc, move || {
                let (idle, req, addr) = (Arc::clone(&idle), Arc::clone(&req), addr.clone());
                Box::pin(async move {
                    let popped = idle.lock().unwrap().pop();
                    let mut sender = match popped {
                        Some(s) => s,
                        None => {
                            let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
                            tcp.set_nodelay(true).unwrap();
                            let (s, conn) = hyper::client::conn::http1::handshake(
                                hyper_util::rt::TokioIo::new(tcp),
                            )
                            .await
                            .unwrap();
                            tokio::spawn(conn);
                            s
                        }
                    };
                    sender.ready().await.unwrap();
                    let mut r = copy_request(&req).map(|b| Full::new(Bytes::from(b)));
                    let pq = r.uri().path_and_query().unwrap().clone();
                    *r.uri_mut() = http::Uri::from(pq);
                    r.headers_mut().insert(
                        http::header::HOST,
                        http::HeaderValue::from_str(&addr).unwrap(),
                    );
                    let resp = sender.send_request(r).await.unwrap();
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    idle.lock().unwrap().push(sender);
                    scanned(&body)
                })
            })
        }
        "transport" | "transport-parse" => {
            let t = hyper_transport();
            let parse = mode == "transport-parse";
            let op = op.clone();
            run_async(n, conc, move || {
                let (t, req, op) = (t.clone(), Arc::clone(&req), op.clone());
                Box::pin(async move {
                    let resp = t.execute(copy_request(&req)).await.expect("response");
                    if parse {
                        op.parse_response(&resp).is_ok()
                    } else {
                        scanned(resp.body())
                    }
                })
            })
        }
        "sizes" => {
            let client = presence::Client::with_transport(config.clone(), hyper_transport());
            {
                let fut = client.here_now().channels(["lobby"]).execute();
                eprintln!("facade future: {} bytes", std::mem::size_of_val(&*fut));
                let t = hyper_transport();
                let tf = t.execute(copy_request(&req));
                eprintln!("transport future: {} bytes", std::mem::size_of_val(&tf));
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let _g = rt.enter();
                let sl = tokio::time::sleep(Duration::from_secs(1));
                eprintln!("sleep: {} bytes", std::mem::size_of_val(&sl));
                let raw: Client<HttpConnector, Full<Bytes>> =
                    Client::builder(TokioExecutor::new()).build(HttpConnector::new());
                let rf = raw.request(copy_request(&req).map(|b| Full::new(Bytes::from(b))));
                eprintln!("response future: {} bytes", std::mem::size_of_val(&rf));
                eprintln!(
                    "parts: {} bytes, uri {}",
                    std::mem::size_of::<http::request::Parts>(),
                    std::mem::size_of::<http::Uri>()
                );
                eprintln!(
                    "HereNow<&Client>: {} bytes",
                    std::mem::size_of_val(&client.here_now())
                );
                let c = async {
                    http_body_util::BodyExt::collect(http_body_util::Limited::new(
                        http_body_util::Empty::<Bytes>::new(),
                        10,
                    ))
                    .await
                };
                eprintln!("collect: {} bytes", std::mem::size_of_val(&c));
            }
            std::process::exit(0);
        }
        "facade" => {
            let client = presence::Client::with_transport(config.clone(), hyper_transport());
            run_async(n, conc, move || facade_call(&client))
        }
        "ureq-raw" => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .no_delay(true)
                .max_idle_connections(64)
                .max_idle_connections_per_host(64)
                .build()
                .into();
            run_threads(n, conc, move || match agent.run(copy_request(&req)) {
                Ok(mut resp) => resp.body_mut().read_to_vec().is_ok_and(|b| scanned(&b)),
                Err(_) => false,
            })
        }
        "ureq-lean" => {
            let lean = presence_bench::lean_ureq::LeanUreq::default();
            run_threads(n, conc, move || {
                lean.execute(copy_request(&req))
                    .is_ok_and(|resp| scanned(resp.body()))
            })
        }
        "blocking-lean" => {
            let lean = presence_bench::lean_ureq::LeanUreq::default();
            let client = presence::blocking::Client::with_transport(config.clone(), move |req| {
                lean.execute(req)
            });
            run_threads(n, conc, move || blocking_call(&client))
        }
        "ureq-transport" | "ureq-transport-parse" => {
            let t = transport_ureq::UreqTransport::new();
            let parse = mode == "ureq-transport-parse";
            let op = op.clone();
            run_threads(n, conc, move || {
                let resp = t.execute(copy_request(&req)).expect("response");
                if parse {
                    op.parse_response(&resp).is_ok()
                } else {
                    scanned(resp.body())
                }
            })
        }
        "blocking" => {
            let client = presence::blocking::Client::with_transport(
                config.clone(),
                transport_ureq::UreqTransport::new(),
            );
            run_threads(n, conc, move || blocking_call(&client))
        }
        other => panic!("unknown mode {other}"),
    };
    let elapsed = started.elapsed();
    let (client_cpu, server_cpu) = (cpu_time("self"), cpu_time(&child.id().to_string()));
    drop(child.stdin.take());
    let _ = child.wait();
    let expected = if matches!(mode, "build" | "parse" | "scan" | "view") {
        n as usize
    } else {
        n as usize / conc * conc
    };
    assert_eq!(ok, expected, "every call answered");
    let per_call = |d: Duration| d / n.max(1);
    eprintln!(
        "{mode} ×{conc}: {:?}/call wall, CPU/call: client {:?}, emulator {:?} (setup included)",
        per_call(elapsed),
        per_call(client_cpu),
        per_call(server_cpu)
    );
}
