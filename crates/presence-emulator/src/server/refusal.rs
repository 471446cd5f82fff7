//! JSON bodies for what hyper refuses before the emulator sees a request.
//!
//! hyper answers a request it cannot parse itself: `400` (bad request line, header or
//! framing), `414` (a target longer than the `http` crate's 65 534 bytes) or `431`
//! (headers over the buffer or count limit), each with an empty body, then closes the
//! connection; it has no hook to change that response. [`JsonRefusals`] sits between
//! hyper and the socket and replaces exactly those responses (a status line of one of
//! the three and no `content-type`: every response the emulator itself builds has
//! one) with the emulator's JSON error shape, same status, `Connection: close`.
//! hyper writes a response as one buffer (`writev(false)` on the connection), so the
//! head is always whole in one write.

use crate::body;
use crate::wire::Service;
use http::StatusCode;
use hyper::rt::{Read, ReadBufCursor, Write};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The IO of one connection, rewriting hyper's own error responses.
#[derive(Debug)]
pub(crate) struct JsonRefusals<I> {
    inner: I,
    /// A replacement response still to write, and how much of it is written.
    pending: Vec<u8>,
    written: usize,
}

impl<I> JsonRefusals<I> {
    pub(crate) fn new(inner: I) -> Self {
        JsonRefusals {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The status of a bodiless response hyper generated for a parse error, if `buf` is one.
fn hyper_refusal(buf: &[u8]) -> Option<StatusCode> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = match rest.get(..4)? {
        b"400 " => StatusCode::BAD_REQUEST,
        b"414 " => StatusCode::URI_TOO_LONG,
        b"431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = buf[..head_end].to_ascii_lowercase();
    let has_type = head.windows(14).any(|w| w == b"\r\ncontent-type");
    (!has_type).then_some(status)
}

/// The emulator's error response for `status`, as HTTP/1.1 bytes.
fn replacement(status: StatusCode) -> Vec<u8> {
    let message = match status {
        StatusCode::URI_TOO_LONG => "Request-URI Too Long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let resp = body::error(status, Service::Presence, message);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in resp.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "connection: close\r\ncontent-length: {}\r\n\r\n",
            resp.body().len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(resp.body());
    out
}

impl<I: Write + Unpin> JsonRefusals<I> {
    /// Writes what is left of a replacement; ready once it is all out.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: Read + Unpin> Read for JsonRefusals<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<I: Write + Unpin> Write for JsonRefusals<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(status) = hyper_refusal(buf) {
            this.pending = replacement(status);
            this.written = 0;
            // hyper's bytes count as written; ours go out here or on flush.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_refusals_are_replaced() {
        let hyper =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            hyper_refusal(hyper),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(
            hyper_refusal(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        // The emulator's own 400/414 have a content type.
        let own = b"HTTP/1.1 414 URI Too Long\r\nContent-Type: text/javascript\r\ncontent-length: 5\r\n\r\n{...}";
        assert_eq!(hyper_refusal(own), None);
        assert_eq!(hyper_refusal(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(hyper_refusal(b"{\"status\":400}"), None);
        let r = String::from_utf8(replacement(StatusCode::URI_TOO_LONG)).unwrap();
        assert!(r.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{r}");
        assert!(r.contains("connection: close\r\n"), "{r}");
        assert!(r.ends_with(
            r#"{"status":414,"error":true,"message":"Request-URI Too Long","service":"Presence"}"#
        ));
    }
}
