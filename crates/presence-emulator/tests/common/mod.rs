//! A tiny HTTP/1.1 client for the loopback tests: one request per connection.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A parsed response: status, lower-cased header lines, body.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn request(target: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\nConnection: close\r\n\r\n"
    )
}

fn parse(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("response head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Sends `GET target` and reads the whole response (async).
pub(crate) async fn get(addr: SocketAddr, target: &str) -> Resp {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request(target).as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    parse(&buf)
}

/// Sends `GET target` and reads the whole response (blocking).
pub(crate) fn get_blocking(addr: SocketAddr, target: &str) -> Resp {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request(target).as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    parse(&buf)
}

/// Sends `GET target` and returns every byte the server sent before closing (nothing
/// when it closed without a response, also by a reset).
pub(crate) async fn get_raw(addr: SocketAddr, target: &str) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request(target).as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Parses a complete response read with [`get_raw`].
pub(crate) fn parse_raw(raw: &[u8]) -> Resp {
    parse(raw)
}

/// Sends `method target` with extra header lines and a body, and reads the whole
/// response (blocking).
pub(crate) fn send_blocking(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    parse(&buf)
}

/// Starts the `presence-emulator` binary on a free port with `args` (keyset and admin
/// token variables removed from its environment, stderr piped) and returns it with the
/// address it printed.
pub(crate) fn spawn_emulator(args: &[&str]) -> (std::process::Child, SocketAddr) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("PRESENCE_EMULATOR_KEYSETS")
        .env_remove("PRESENCE_EMULATOR_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening_addr(&mut child);
    (child, addr)
}

/// The address a started `presence-emulator` binary (stdout piped) prints first.
pub(crate) fn listening_addr(child: &mut std::process::Child) -> SocketAddr {
    use std::io::BufRead as _;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .strip_prefix("presence-emulator listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap()
}
