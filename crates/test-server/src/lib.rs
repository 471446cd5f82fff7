//! A minimal threaded HTTP/1.1 server on loopback, written on `std::net` so that the
//! transports' integration tests see exactly the bytes they send and control exactly
//! the bytes they get back (a stalled body, a chunked one, a close between requests,
//! an answer before the request is read…). One thread per connection; every request
//! head and body is recorded.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let server = test_server::Server::start(test_server::Mode::Routes);
//! let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
//! stream.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
//! // The server closes the connection once the client has (it ignores `Connection`).
//! stream.shutdown(std::net::Shutdown::Write).unwrap();
//! let mut answer = String::new();
//! let _ = stream.read_to_string(&mut answer);
//! assert!(answer.starts_with("HTTP/1.1 200 OK"));
//! assert_eq!(test_server::header_values(&server.requests()[0], "host"), ["x"]);
//! ```
#![deny(missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How the server treats each connection.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Route by path ([`respond`]), keep connections alive.
    Routes,
    /// Read the request, never answer; hold the socket until the peer leaves.
    Stall,
    /// Answer whatever arrives (e.g. a TLS ClientHello) with plain HTTP.
    PlainToAnything,
    /// Answer one request as `Routes` does (keep-alive, no `Connection: close`), then
    /// close the connection: a server that closes idle connections early.
    CloseAfterEach,
    /// Answer `/ok` as soon as the request's head is in, then read nothing more (the
    /// connection stays open): a server that answers before the request body is sent.
    AnswerEarly,
}

/// A running server; it lives until the test process ends.
#[derive(Debug)]
pub struct Server {
    /// Where it listens (`127.0.0.1`, a free port).
    pub addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Listens on a free loopback port and serves every connection in `mode`.
    pub fn start(mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let accepts = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (acc, done, reqs) = (accepts.clone(), closed.clone(), requests.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                acc.fetch_add(1, Ordering::SeqCst);
                let (reqs, done) = (reqs.clone(), done.clone());
                thread::spawn(move || {
                    if handle(stream, mode, &reqs) {
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Server {
            addr,
            accepts,
            closed,
            requests,
        }
    }

    /// `http://<addr><path_and_query>`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Connections accepted so far.
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    /// Connections the client closed (the server read EOF where a request could start).
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    /// Every request received so far, in order: its head, then its body as text.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

/// The `(name, value)` header lines of a recorded request head, trimmed, in order.
fn headers(request: &str) -> impl Iterator<Item = (&str, &str)> {
    request
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim(), value.trim()))
}

/// The values of header `name` (any case) in a recorded request head, in order.
pub fn header_values(request: &str, name: &str) -> Vec<String> {
    headers(request)
        .filter(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.to_owned())
        .collect()
}

/// The header names of a recorded request head, lowercased and sorted.
pub fn header_names(request: &str) -> Vec<String> {
    let mut names: Vec<String> = headers(request)
        .map(|(key, _)| key.to_ascii_lowercase())
        .collect();
    names.sort();
    names
}

/// A GET of `url` with an empty body.
pub fn get(url: &str) -> http::Request<Vec<u8>> {
    http::Request::get(url)
        .body(Vec::new())
        .expect("a valid URL")
}

/// A loopback address nothing listens on (it was free a moment ago).
pub fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    addr
}

/// Serves one connection; true when the client closed it between requests.
fn handle(mut stream: TcpStream, mode: Mode, requests: &Mutex<Vec<String>>) -> bool {
    let record = |req: &String| requests.lock().expect("not poisoned").push(req.clone());
    match mode {
        Mode::Stall => {
            let _ = read_request(&mut stream);
            drain(&mut stream);
        }
        Mode::PlainToAnything => {
            let mut buf = [0u8; 1024];
            if matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            }
            drain(&mut stream);
        }
        Mode::AnswerEarly => {
            let mut head = Vec::new();
            let mut buf = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut buf), Ok(1)) {
                head.push(buf[0]);
            }
            let _ = respond(&mut stream, "/ok");
            thread::sleep(Duration::from_secs(30));
        }
        Mode::CloseAfterEach => {
            if let Some(req) = read_request(&mut stream) {
                record(&req);
                let _ = respond(&mut stream, &path_of(&req));
            }
        }
        Mode::Routes => {
            while let Some(req) = read_request(&mut stream) {
                record(&req);
                if !respond(&mut stream, &path_of(&req)) {
                    drain(&mut stream);
                    return false;
                }
            }
            return true;
        }
    }
    false
}

/// The path of a request's head, without the query.
fn path_of(req: &str) -> String {
    req.split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned()
}

/// The body of `/forbidden` (and, gzip-encoded, of `/gzip-forbidden`): a recorded
/// Access Manager 403.
pub const FORBIDDEN: &[u8] = br#"{"message":"Forbidden","payload":{"channels":["c1"]},"error":true,"service":"Access Manager","status":403}"#;

/// The body of `/ok`.
pub const OK: &[u8] = br#"{"status":200,"message":"OK"}"#;

/// Writes the response for `path`; false when the connection must not be reused.
///
/// | path | answer |
/// |---|---|
/// | `/ok` | 200, [`OK`] |
/// | `/forbidden` | 403, [`FORBIDDEN`] |
/// | `/gzip-forbidden` | 403, [`FORBIDDEN`] gzip-encoded (`Content-Encoding: gzip`) |
/// | `/error` | 500 with a JSON body |
/// | `/html` | 502 with an HTML body |
/// | `/big` | 200, 64 KiB with a `Content-Length` |
/// | `/big-chunked` | 200, 2 000 bytes chunked (no `Content-Length`) |
/// | `/redirect` | 302 to `/ok` |
/// | `/stall-body` | 200 with 5 of its 100 bytes, then nothing |
/// | anything else | 404 |
pub fn respond(stream: &mut TcpStream, path: &str) -> bool {
    let (status, ctype, body): (&str, &str, Vec<u8>) = match path {
        "/ok" => ("200 OK", "application/json", OK.to_vec()),
        "/forbidden" => ("403 Forbidden", "application/json", FORBIDDEN.to_vec()),
        "/error" => (
            "500 Internal Server Error",
            "application/json",
            br#"{"status":500,"error":true,"message":"Internal Server Error"}"#.to_vec(),
        ),
        "/html" => (
            "502 Bad Gateway",
            "text/html",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>\n".to_vec(),
        ),
        "/big" => ("200 OK", "application/octet-stream", vec![b'x'; 64 * 1024]),
        "/big-chunked" => {
            // No Content-Length: the limit can only be found while reading.
            let chunk = "x".repeat(1000);
            let out = format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n{chunk}\r\n3e8\r\n{chunk}\r\n0\r\n\r\n"
            );
            return stream.write_all(out.as_bytes()).is_ok();
        }
        "/gzip-forbidden" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let body = gz
                .write_all(FORBIDDEN)
                .and_then(|()| gz.finish())
                .expect("gzip into memory");
            let mut out = format!(
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(&body);
            return stream.write_all(&out).is_ok();
        }
        "/redirect" => {
            return stream
                .write_all(b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 5\r\n\r\nmoved")
                .is_ok();
        }
        "/stall-body" => {
            // Head and part of the body, then nothing.
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"par",
            );
            return false;
        }
        _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    // One write, so the whole response arrives together.
    stream.write_all(&out).is_ok()
}

/// Reads one request (head and `Content-Length` body); `None` on EOF or error.
fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let len = header_values(&head, "content-length")
        .first()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while data.len() < head_end + len {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    Some(head + &String::from_utf8_lossy(&data[head_end..head_end + len]))
}

/// Blocks until the peer closes the connection.
fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}
