//! Leave: tells the service the user left channels and groups at once (a `leave` event
//! instead of a later `timeout`).
//!
//! `GET /v2/presence/sub-key/{sub_key}/channel/{channels}/leave[?channel-group=…]`.
//! [REST reference](https://www.pubnub.com/docs/sdks/rest-api/presence/leave),
//! PROTOCOL.md §4.4. Channels and groups are de-duplicated and sorted.
//!
//! ```
//! use presence_core::{Config, Keyset, Leave, Operation, RequestMeta, UserId};
//! let config = Config::new(Keyset::new("demo"), UserId::new("me").unwrap());
//! let req = Leave::new().channel_groups(["g"]).to_request(&config, &RequestMeta::new(0)).unwrap();
//! assert_eq!(req.uri().path(), "/v2/presence/sub-key/demo/channel/,/leave");
//! ```

use crate::ops::parse_ack;
use crate::request::{
    channel_setters, operation_common, sealed, CallOptions, Operation, RequestParts, Target,
    Targets,
};
use crate::response::BodyError;
use crate::Error;

/// The leave operation. `C` is the client it is bound to (`()` for none, see
/// [`Execute`](crate::Execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct Leave<C = ()> {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    options: CallOptions,
    client: C,
}

impl<C> Leave<C> {
    fn defaults(client: C) -> Self {
        Self {
            channels: Vec::new(),
            channel_groups: Vec::new(),
            options: CallOptions::default(),
            client,
        }
    }
}

operation_common!(Leave);
channel_setters!(Leave, "Channels to leave.", "Channel groups to leave.");

impl<C: Send + Sync> Operation for Leave<C> {
    type Output = ();
    const NAME: &'static str = "leave";

    fn channel_count(&self) -> usize {
        self.target_count()
    }
}

impl<C: Send + Sync> sealed::Encode for Leave<C> {
    type Parsed = ();

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let Targets { channels, groups } = self.targets()?.required()?.sorted();
        out.presence_prefix(target);
        out.path_literal("/channel/");
        out.path_list(&channels);
        out.path_literal("/leave");
        out.query_list("channel-group", &groups);
        Ok(())
    }

    fn parse_body(&self, body: &[u8]) -> Result<(), BodyError> {
        parse_ack("leave body", body)
    }
}
