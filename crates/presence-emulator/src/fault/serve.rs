//! Applying a fault verdict to one request of the hyper server: the response body
//! that can be cut mid-way, the error that makes hyper close the connection without a
//! response, and [`serve`], which wraps the emulator's own request handling.

use super::rules::Faults;
use super::FaultAction;
use crate::body;
use crate::wire::Service;
use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The error that ends a connection on purpose: returned by the service (hyper then
/// closes the connection without writing a response) or by a cut body (hyper has
/// written the head and part of the body, and closes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection closed by a fault rule")
    }
}

impl std::error::Error for Closed {}

/// The body of every emulator response: whole, or cut after its first half.
#[derive(Debug)]
pub(crate) enum ReplyBody {
    /// The whole body, sent as one frame (`None` once sent, or when empty).
    Whole(Option<Bytes>),
    /// The first half of a body whose head announces `len` bytes; then the
    /// connection is closed.
    Cut {
        first: Option<Bytes>,
        len: u64,
        /// Whether the body has yielded once after its data, so that hyper flushes
        /// the head and the data before the error closes the connection.
        flushed: bool,
    },
}

impl ReplyBody {
    /// A whole body.
    pub(crate) fn whole(bytes: Vec<u8>) -> Self {
        ReplyBody::Whole((!bytes.is_empty()).then(|| Bytes::from(bytes)))
    }

    /// This body cut after its first half (rounded down).
    fn cut(self) -> Self {
        let bytes = match self {
            ReplyBody::Whole(b) => b.unwrap_or_default(),
            cut @ ReplyBody::Cut { .. } => return cut,
        };
        let len = bytes.len() as u64;
        let first = bytes.slice(..bytes.len() / 2);
        ReplyBody::Cut {
            first: (!first.is_empty()).then_some(first),
            len,
            flushed: false,
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Closed;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Closed>>> {
        match self.get_mut() {
            ReplyBody::Whole(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReplyBody::Cut { first, flushed, .. } => {
                if let Some(b) = first.take() {
                    Poll::Ready(Some(Ok(Frame::data(b))))
                } else if !*flushed {
                    *flushed = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(Some(Err(Closed)))
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReplyBody::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Whole(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReplyBody::Cut { len, .. } => SizeHint::with_exact(*len),
        }
    }
}

/// The response of a `Status` or `False200` action on a request to `path`.
fn fault_response(path: &str, action: &FaultAction) -> Option<Response<Vec<u8>>> {
    let service = Service::of_path(path);
    let mut resp = match action {
        FaultAction::Status {
            status,
            body: Some(text),
            ..
        } => body::respond(*status, "Pubnub Presence", text.clone().into_bytes()),
        FaultAction::Status { status, .. } => body::error(
            *status,
            service,
            status.canonical_reason().unwrap_or("Error"),
        ),
        FaultAction::False200 { status } => {
            // The field order and the integer `error` of the JS SDK's "false 200" test.
            let text = format!(
                r#"{{"status":{},"message":"{}","error":1,"service":"Presence"}}"#,
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error"),
            );
            body::respond(StatusCode::OK, "Pubnub Presence", text.into_bytes())
        }
        _ => return None,
    };
    if let FaultAction::Status {
        retry_after: Some(secs),
        ..
    } = action
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
    }
    Some(resp)
}

/// Handles `req` with `inner` (the emulator's own handling) under the fault rules: a
/// latency first, then a fault response, a closed connection (`Err`), a cut body, or
/// `inner`'s response untouched.
pub(crate) async fn serve<B, F, Fut>(
    faults: &Faults,
    req: Request<B>,
    inner: F,
) -> Result<Response<ReplyBody>, Closed>
where
    F: FnOnce(Request<B>) -> Fut,
    Fut: Future<Output = Response<ReplyBody>>,
{
    let verdict = faults.decide(req.uri().path());
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    match &verdict.action {
        None | Some(FaultAction::Latency { .. }) => Ok(inner(req).await),
        Some(FaultAction::Close) => Err(Closed),
        Some(FaultAction::Cut) => Ok(inner(req).await.map(ReplyBody::cut)),
        Some(action) => Ok(fault_response(req.uri().path(), action)
            .map(|r| r.map(ReplyBody::whole))
            .unwrap_or_else(|| Response::new(ReplyBody::whole(Vec::new())))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(resp: &Response<Vec<u8>>) -> &str {
        std::str::from_utf8(resp.body()).unwrap()
    }

    #[test]
    fn fault_responses_have_the_service_shapes() {
        let rule = |s: &str| s.parse::<super::super::FaultRule>().unwrap().action;
        let r = fault_response(
            "/v2/presence/sub-key/k/channel/a/heartbeat",
            &rule("status=503,retry-after=30"),
        )
        .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "30");
        assert_eq!(
            text(&r),
            r#"{"status":503,"error":true,"message":"Service Unavailable","service":"Presence"}"#
        );
        let r = fault_response(
            "/v1/channel-registration/sub-key/k/channel-group",
            &rule("status=402"),
        )
        .unwrap();
        assert_eq!(
            text(&r),
            r#"{"status":402,"error":true,"message":"Payment Required","service":"channel-registry"}"#
        );
        let r = fault_response("/x", &rule("false200=403")).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            text(&r),
            r#"{"status":403,"message":"Forbidden","error":1,"service":"Presence"}"#
        );
        let r = fault_response("/x", &rule("status=500,body=oops")).unwrap();
        assert_eq!((r.status().as_u16(), text(&r)), (500, "oops"));
        assert!(r.headers().get("retry-after").is_none());
        assert!(fault_response("/x", &FaultAction::Cut).is_none());
    }

    #[test]
    fn a_cut_body_announces_all_and_yields_half() {
        let cut = ReplyBody::whole(b"0123456789".to_vec()).cut();
        assert_eq!(cut.size_hint().exact(), Some(10));
        match cut {
            ReplyBody::Cut { first, len, .. } => {
                assert_eq!((first.as_deref(), len), (Some(&b"01234"[..]), 10));
            }
            ReplyBody::Whole(_) => panic!("not cut"),
        }
        assert!(ReplyBody::whole(Vec::new()).is_end_stream());
    }
}
