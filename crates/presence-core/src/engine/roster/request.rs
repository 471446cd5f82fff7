//! What the roster asks to send: the watch's long-polls and the snapshot's pages.

use crate::request::sealed;
use crate::request::{CallOptions, Operation, RequestParts, Target};
use crate::response::BodyError;
use crate::{Error, HereNow, Subscribe};

/// A request from the roster engine: the watch's long-polls and the snapshot's pages.
#[derive(Debug, Clone, PartialEq)]
pub enum RosterRequest {
    /// A subscribe long-poll on the presence channels.
    Subscribe(Subscribe),
    /// A page of the snapshot.
    HereNow(HereNow),
}

impl Operation for RosterRequest {
    type Output = ();
    const NAME: &'static str = "roster";

    fn channel_count(&self) -> usize {
        match self {
            RosterRequest::Subscribe(s) => s.channel_count(),
            RosterRequest::HereNow(h) => h.channel_count(),
        }
    }
}

impl sealed::Options for RosterRequest {
    fn options(&self) -> &CallOptions {
        match self {
            RosterRequest::Subscribe(s) => s.options(),
            RosterRequest::HereNow(h) => h.options(),
        }
    }
}

impl sealed::Encode for RosterRequest {
    type Parsed = ();

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        match self {
            RosterRequest::Subscribe(s) => s.encode(target, out),
            RosterRequest::HereNow(h) => h.encode(target, out),
        }
    }

    fn parse_body(&self, body: &[u8]) -> Result<(), BodyError> {
        match self {
            RosterRequest::Subscribe(s) => s.parse_body(body).map(drop),
            RosterRequest::HereNow(h) => h.parse_body(body).map(drop),
        }
    }
}

impl RosterRequest {
    /// The request's name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            RosterRequest::Subscribe(_) => "subscribe",
            RosterRequest::HereNow(_) => "here_now",
        }
    }
}
