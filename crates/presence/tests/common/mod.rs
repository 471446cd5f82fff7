//! Test helpers: a scripted loopback HTTP server (for failure cases the emulator does not
//! produce) that counts accepted connections and requests, and here now as a map of
//! states.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the scripted server does with a request, chosen by a path substring.
#[derive(Clone)]
pub(crate) enum Reply {
    /// Answer with this status and body.
    Body(u16, &'static str),
    /// Read the request and never answer.
    Stall,
    /// Answer with a body of this many bytes.
    Huge(usize),
}

pub(crate) struct Scripted {
    pub(crate) origin: String,
    pub(crate) accepted: Arc<AtomicUsize>,
    /// Requests read, on every connection.
    pub(crate) requests: Arc<AtomicUsize>,
}

/// Starts a keep-alive HTTP/1.1 server on 127.0.0.1 whose replies are chosen by the
/// first `(path substring, reply)` that matches the request line.
pub(crate) fn scripted(routes: Vec<(&'static str, Reply)>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    let served = Arc::clone(&requests);
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let (routes, served) = (Arc::clone(&routes), Arc::clone(&served));
            std::thread::spawn(move || serve(stream, &routes, &served));
        }
    });
    Scripted {
        origin,
        accepted,
        requests,
    }
}

fn serve(mut stream: TcpStream, routes: &[(&'static str, Reply)], served: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end);
        let line = head.lines().next().unwrap_or_default().to_owned();
        served.fetch_add(1, Ordering::SeqCst);
        let reply = routes
            .iter()
            .find(|(p, _)| line.contains(p))
            .map(|(_, r)| r.clone());
        let (status, body) = match reply {
            Some(Reply::Stall) => {
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
            Some(Reply::Body(s, b)) => (s, b.as_bytes().to_vec()),
            Some(Reply::Huge(n)) => (200, vec![b' '; n]),
            None => (404, b"{\"status\": 404, \"error\": 1, \"message\": \"Not Found\", \"service\": \"Presence\"}".to_vec()),
        };
        // One write, so the answer is not held back by Nagle and a delayed ACK: the
        // server answers as fast as loopback allows.
        let mut answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: text/javascript; charset=\"UTF-8\"\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        if stream.write_all(&answer).is_err() {
            return;
        }
    }
}

/// Here now of `channel` with state, every page, as user id → state text.
#[cfg(feature = "hyper")]
pub(crate) async fn here_now_states(
    reader: &presence::Client,
    channel: &str,
) -> std::collections::BTreeMap<String, Option<String>> {
    let all = reader
        .here_now()
        .channels([channel])
        .include_state(true)
        .all_pages()
        .await
        .unwrap();
    states_by_user(&all)
}

/// A here-now result as user id → state text (over all its channels).
pub(crate) fn states_by_user(
    result: &presence::HereNowResult<'_>,
) -> std::collections::BTreeMap<String, Option<String>> {
    result
        .channels
        .iter()
        .flat_map(|c| &c.occupants)
        .map(|o| {
            (
                o.user_id.to_string(),
                o.state.as_ref().map(|s| s.to_string()),
            )
        })
        .collect()
}

/// The keyset `sub-pam`, whose only grant is `token` on `channels` (read and write),
/// for the forbidden cases.
pub(crate) fn pam_keyset(token: &str, channels: &[&str]) -> presence_emulator::Keyset {
    presence_emulator::Keyset::new("sub-pam").grant(
        token,
        channels.iter().copied(),
        Vec::<String>::new(),
    )
}

/// A client builder for `sub-pam` at `origin`, as `user_id` with `token`.
pub(crate) fn pam_client(origin: &str, user_id: &str, token: &str) -> presence::ClientBuilder {
    presence::Client::builder()
        .subscribe_key("sub-pam")
        .user_id(user_id)
        .auth_token(token)
        .origin(origin)
}
