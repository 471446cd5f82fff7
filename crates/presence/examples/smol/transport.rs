//! An [`AsyncTransport`](presence::transport::AsyncTransport) and a
//! [`Runtime`](presence::runtime::Runtime) on smol. The transport: `async-net`
//! sockets, HTTP/1.1 from `ureq-proto` (ureq's sans-IO core), smol's timer for the
//! deadline. Plain `http://` only (the emulator); one connection per request.
#![allow(dead_code)] // Shared by the example and its test.

use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use presence::transport::{AsyncTransport, HttpResponse};
use presence::HttpRequest;
use std::io;
use std::time::Duration;
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};

/// How long a request may take unless the caller says otherwise.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The transport. Its error is `std::io::Error`, which the facade already classifies
/// (timed out, refused, I/O).
#[derive(Debug, Clone, Default)]
pub(crate) struct SmolTransport;

impl AsyncTransport for SmolTransport {
    type Error = io::Error;

    fn send(
        &self,
        request: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, io::Error>> + Send {
        self.send_with_timeout(request, TIMEOUT)
    }

    fn send_with_timeout(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<HttpResponse, io::Error>> + Send {
        exchange(request).or(async move {
            smol::Timer::after(timeout).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))
        })
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

fn protocol(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// One request on a fresh connection.
async fn exchange(request: HttpRequest) -> io::Result<HttpResponse> {
    let authority = request
        .uri()
        .authority()
        .ok_or_else(|| invalid("a URI without a host"))?
        .to_string();
    if request.uri().scheme_str() != Some("http") {
        return Err(invalid("this transport speaks plain http:// only"));
    }
    let mut send = Call::new(request.map(|_| ())).map_err(invalid)?.proceed();
    let mut head = vec![0u8; 8192];
    let n = send.write(&mut head).map_err(invalid)?;
    let Ok(Some(SendRequestResult::RecvResponse(mut call))) = send.proceed() else {
        return Err(invalid("a request with a body"));
    };
    let mut stream = async_net::TcpStream::connect(authority.as_str()).await?;
    stream.write_all(&head[..n]).await?;

    let mut input = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let response = loop {
        let (used, response) = call.try_response(&input, false).map_err(protocol)?;
        input.drain(..used);
        if let Some(response) = response {
            break response;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the head",
            ));
        }
        input.extend_from_slice(&buf[..n]);
    };
    let (parts, ()) = response.into_parts();
    let mut call = match call.proceed() {
        Some(RecvResponseResult::RecvBody(call)) => call,
        // No body, or a redirect (never followed): the status is the answer.
        _ => return Ok(http::Response::from_parts(parts, Vec::new())),
    };
    let mut body = Vec::new();
    loop {
        if !input.is_empty() {
            let (used, produced) = call.read(&input, &mut buf).map_err(protocol)?;
            input.drain(..used);
            body.extend_from_slice(&buf[..produced]);
        }
        if call.can_proceed() {
            let _ = matches!(call.proceed(), Some(RecvBodyResult::Cleanup(_)));
            return Ok(http::Response::from_parts(parts, body));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed in the body",
            ));
        }
        input.extend_from_slice(&buf[..n]);
    }
}

/// The async loops (`presence()`, `watch()`, `roster()`, `fleet()`) on smol: its global
/// executor and its timer. Given to the client with `ClientBuilder::runtime`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SmolRuntime;

impl presence::runtime::Runtime for SmolRuntime {
    fn spawn(&self, task: presence::runtime::BoxFuture) {
        smol::spawn(task).detach();
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> presence::runtime::BoxFuture {
        Box::pin(async move {
            smol::Timer::at(deadline).await;
        })
    }
}
