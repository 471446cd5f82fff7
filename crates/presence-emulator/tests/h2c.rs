//! HTTP/2 with prior knowledge (h2c) on the emulator's one port: a raw hyper HTTP/2
//! client and the HTTP/1.1 client get identical answers for every operation, and a
//! long-poll parked on an HTTP/2 stream holds no connection slot.

mod common;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use presence_emulator::{Emulator, EmulatorConfig, EmulatorHandle, Keyset};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const T0: Duration = Duration::from_secs(1_700_000_000);
const GUARD: Duration = Duration::from_secs(15);

/// What a test compares: status, headers (lower-case names, sorted; without `date`,
/// which moves, and `connection`, which HTTP/2 has not) and body.
type Answer = (u16, Vec<(String, String)>, String);

fn comparable(headers: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut h: Vec<_> = headers
        .filter(|(k, _)| k != "date" && k != "connection")
        .collect();
    h.sort();
    h
}

/// An emulator with keyset `sk` on a paused clock, `tune` applied to its configuration.
async fn start(tune: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> EmulatorHandle {
    let config = EmulatorConfig::new()
        .keyset(Keyset::new("sk"))
        .paused_clock(T0);
    Emulator::start(tune(config)).await.unwrap()
}

/// An HTTP/2 connection opened with the preface straight away (no upgrade).
async fn h2_connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

async fn h2_get(send: &SendRequest<Empty<Bytes>>, target: &str) -> Answer {
    let req = http::Request::get(format!("http://127.0.0.1{target}"))
        .body(Empty::new())
        .unwrap();
    let mut send = send.clone();
    let resp = tokio::time::timeout(GUARD, send.send_request(req))
        .await
        .expect("h2 request hung")
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let status = resp.status().as_u16();
    let headers = comparable(
        resp.headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned())),
    );
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn h1_get(addr: SocketAddr, target: &str) -> Answer {
    let r = tokio::time::timeout(GUARD, common::get(addr, target))
        .await
        .expect("h1 request hung");
    (r.status, comparable(r.headers.into_iter()), r.body)
}

/// A handshake that joins nothing (only a `-pnpres` channel): its cursor is where the
/// event test starts.
const WATCH: &str = "/v2/subscribe/sk/lobby-pnpres/0?uuid=watcher";

/// The operations of the comparison, in order (state is built up as they go).
fn script() -> Vec<String> {
    let p = "/v2/presence/sub-key/sk";
    let r = "/v1/channel-registration/sub-key/sk/channel-group";
    [
        format!("{r}/g?add=lobby%2Croom&uuid=admin"),
        format!("{r}/g?uuid=admin"),
        format!("{r}?uuid=admin"),
        format!(
            "{p}/channel/lobby/heartbeat?heartbeat=60&uuid=ann&state=%7B%22mood%22%3A%22ok%22%7D"
        ),
        format!("{p}/channel/lobby,room/heartbeat?heartbeat=60&uuid=bob"),
        format!("{p}/channel/lobby?uuid=probe"),
        format!("{p}/channel/lobby?uuid=probe&state=1"),
        format!("{p}/channel/lobby,room?uuid=probe"),
        format!("{p}/channel/,?channel-group=g&uuid=probe&state=1"),
        format!("{p}?uuid=probe"),
        format!("{p}/uuid/bob?uuid=probe"),
        format!("{p}/channel/room/uuid/bob/data?state=%7B%22seat%22%3A3%7D&uuid=bob"),
        format!("{p}/channel/room/uuid/bob?uuid=bob"),
        format!("{p}/channel/lobby,room/uuid/bob?uuid=bob"),
        format!("{p}/channel/lobby/leave?uuid=ann"),
        format!("{p}/channel/lobby?uuid=probe"),
        format!("{r}/g?remove=room&uuid=admin"),
        format!("{r}/g/remove?uuid=admin"),
        format!("{r}?uuid=admin"),
        format!("{p}/channel/nope/heartbeat?heartbeat=5&uuid=x"),
        format!("{p}/channel/nope/heartbeat?heartbeat=soon&uuid=x"),
        format!("{p}/channel/lobby?uuid=probe&state=maybe"),
        // Over `max_url_len` (32 KiB): 414 from the emulator, not the HTTP layer.
        format!("{p}/channel/lobby?uuid=probe&pad={}", "x".repeat(33 * 1024)),
        "/v2/subscribe/sk/lobby,lobby-pnpres/0?uuid=sub&heartbeat=60".to_owned(),
        WATCH.to_owned(),
        "/time/0".to_owned(),
        "/nowhere".to_owned(),
    ]
    .into_iter()
    .collect()
}

/// Waits until `emu` has `n` parked long-polls and no counted connection.
async fn parked(emu: &EmulatorHandle, n: usize) {
    let start = Instant::now();
    loop {
        let c = emu.connections();
        if c.long_polls == n && c.active == 0 {
            return;
        }
        assert!(
            start.elapsed() < GUARD,
            "{n} long-polls never parked: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The subscribe timetoken of a handshake body.
fn cursor(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["t"]["t"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_http1_get_identical_answers() {
    let (one, two) = (start(|c| c).await, start(|c| c).await);
    let h2 = h2_connect(two.local_addr()).await;
    let mut h1_answers = Vec::new();
    let mut h2_answers = Vec::new();
    for target in script() {
        h1_answers.push(h1_get(one.local_addr(), &target).await);
        h2_answers.push(h2_get(&h2, &target).await);
    }
    for ((target, a1), a2) in script().iter().zip(&h1_answers).zip(&h2_answers) {
        assert_eq!(a1, a2, "{target}");
    }
    // Every answer has the emulator's headers (content type, length, CORS, cache).
    for (target, (_, headers, _)) in script().iter().zip(&h1_answers) {
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        for name in [
            "content-type",
            "content-length",
            "access-control-allow-origin",
        ] {
            assert!(names.contains(&name), "{target}: {headers:?}");
        }
    }

    // A presence event over each: the long-poll parks (holding no slot, on HTTP/2 too),
    // a join on its channel answers it.
    let watch = script().iter().position(|t| t == WATCH).unwrap();
    let tt = cursor(&h1_answers[watch].2);
    let poll = format!("/v2/subscribe/sk/lobby-pnpres/0?uuid=sub&tt={tt}");
    let join = "/v2/presence/sub-key/sk/channel/lobby/heartbeat?heartbeat=60&uuid=cat";
    let addr = one.local_addr();
    let waiting = tokio::spawn({
        let poll = poll.clone();
        async move { h1_get(addr, &poll).await }
    });
    parked(&one, 1).await;
    assert_eq!(h1_get(one.local_addr(), join).await.0, 200);
    let h1_event = waiting.await.unwrap();

    let waiting = tokio::spawn({
        let h2 = h2.clone();
        async move { h2_get(&h2, &poll).await }
    });
    parked(&two, 1).await;
    // The join goes over the same HTTP/2 connection as the parked stream.
    assert_eq!(h2_get(&h2, join).await.0, 200);
    let h2_event = waiting.await.unwrap();
    assert_eq!(h1_event, h2_event);
    assert!(h1_event.2.contains(r#""action":"join","#), "{}", h1_event.2);
    assert!(h1_event.2.contains(r#""uuid":"cat""#), "{}", h1_event.2);
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_long_polls_hold_no_slot_and_shutdown_answers_them() {
    let emu = start(|c| c.max_connections(1)).await;
    let h2 = h2_connect(emu.local_addr()).await;
    // Three long-polls on streams of one connection.
    let mut polls = Vec::new();
    for i in 0..3 {
        let h2 = h2.clone();
        polls.push(tokio::spawn(async move {
            h2_get(
                &h2,
                &format!("/v2/subscribe/sk/idle{i}-pnpres/0?uuid=w{i}&tt=1"),
            )
            .await
        }));
    }
    // The parked connection does not count: an HTTP/1.1 client gets the one slot.
    parked(&emu, 3).await;
    let (status, _, _) = h1_get(emu.local_addr(), "/v2/presence/sub-key/sk?uuid=x").await;
    assert_eq!(status, 200);
    // Virtual time passes the subscribe timeout: every stream gets its empty `m`.
    emu.advance(Duration::from_secs(300));
    for p in polls {
        let (status, _, body) = tokio::time::timeout(GUARD, p).await.unwrap().unwrap();
        assert_eq!(status, 200);
        assert!(body.ends_with(r#""m":[]}"#), "{body}");
    }
    emu.shutdown().await;
}

/// One HTTP/2 frame: its type, flags, stream id and payload.
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

async fn read_frame(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> Frame {
    use tokio::io::AsyncReadExt as _;
    let mut head = [0u8; 9];
    r.read_exact(&mut head).await.unwrap();
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await.unwrap();
    Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }
}

/// A HEADERS frame (END_STREAM | END_HEADERS) for `GET path`, its fields as HPACK
/// literals without indexing (RFC 7541 §6.2.2; every length here is under 127).
fn get_headers(stream: u32, path: &str) -> Vec<u8> {
    let mut block = Vec::new();
    for (k, v) in [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "127.0.0.1"),
        (":path", path),
    ] {
        block.push(0);
        block.push(u8::try_from(k.len()).unwrap());
        block.extend_from_slice(k.as_bytes());
        block.push(u8::try_from(v.len()).unwrap());
        block.extend_from_slice(v.as_bytes());
    }
    frame(1, 0x5, stream, &block)
}

const SETTINGS: u8 = 4;
const RST_STREAM: u8 = 3;
const GOAWAY: u8 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_are_bounded_and_idle_connections_closed() {
    use tokio::io::AsyncWriteExt as _;
    let emu = start(|c| c.header_read_timeout(Duration::from_secs(1))).await;
    let mut tcp = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    tcp.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    // The server's SETTINGS announce its stream limit (identifier 3).
    let settings = tokio::time::timeout(GUARD, read_frame(&mut tcp))
        .await
        .unwrap();
    assert_eq!((settings.kind, settings.flags), (SETTINGS, 0));
    let limit = settings
        .payload
        .chunks(6)
        .find(|s| s[..2] == [0, 3])
        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
        .expect("SETTINGS_MAX_CONCURRENT_STREAMS");
    assert_eq!(limit, 256);
    tcp.write_all(&frame(SETTINGS, 1, 0, &[])).await.unwrap();
    // One long-poll more than the limit, on streams 1, 3, …: all but the last park,
    // the last is refused (RST_STREAM with REFUSED_STREAM, 7) and nothing else breaks.
    let mut out = Vec::new();
    for i in 0..=limit {
        let path = format!("/v2/subscribe/sk/idle{i}-pnpres/0?uuid=w{i}&tt=1");
        out.extend(get_headers(2 * i + 1, &path));
    }
    tcp.write_all(&out).await.unwrap();
    let refused = tokio::time::timeout(GUARD, async {
        loop {
            let f = read_frame(&mut tcp).await;
            assert_ne!(f.kind, GOAWAY, "the connection was closed: {:?}", f.payload);
            if f.kind == RST_STREAM {
                return (f.stream, f.payload);
            }
        }
    })
    .await
    .expect("no stream was refused");
    assert_eq!(refused, (2 * limit + 1, vec![0, 0, 0, 7]));
    parked(&emu, 256).await;

    // A connection whose streams are all answered is idle: after `header_read_timeout`
    // the server says GOAWAY and closes it (no stream is refused or lost meanwhile).
    let h2 = h2_connect(emu.local_addr()).await;
    let (status, _, _) = h2_get(&h2, "/time/0").await;
    assert_eq!(status, 200);
    let closed = tokio::time::timeout(GUARD, async {
        while !h2.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "an idle HTTP/2 connection stayed open");
    emu.shutdown().await;
}
