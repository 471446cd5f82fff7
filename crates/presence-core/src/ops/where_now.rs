//! Where now: the channels a user is present on.
//!
//! `GET /v2/presence/sub-key/{sub_key}/uuid/{uuid}`.
//! [REST reference](https://www.pubnub.com/docs/sdks/rest-api/presence/where-now),
//! PROTOCOL.md §4.2. The target user defaults to the configured user id. A body without
//! `payload` means no channels (as the JS and Kotlin SDKs read it).
//!
//! ```
//! use presence_core::{Config, Keyset, Operation, RequestMeta, UserId, WhereNow};
//! let config = Config::new(Keyset::new("demo"), UserId::new("me").unwrap());
//! let req = WhereNow::new().user_id("other user").to_request(&config, &RequestMeta::new(0)).unwrap();
//! assert_eq!(req.uri().path(), "/v2/presence/sub-key/demo/uuid/other%20user");
//! ```

use crate::config::validate_user_id;
use crate::request::{operation_common, sealed, CallOptions, Operation, RequestParts, Target};
use crate::response::{decode, envelope, BodyError, ErrorFlag};
use crate::Error;
use serde::Deserialize;

/// The where now operation. `C` is the client it is bound to (`()` for none, see
/// [`Execute`](crate::Execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct WhereNow<C = ()> {
    user_id: Option<String>,
    options: CallOptions,
    client: C,
}

impl<C> WhereNow<C> {
    fn defaults(client: C) -> Self {
        Self {
            user_id: None,
            options: CallOptions::default(),
            client,
        }
    }

    /// Asks about another user instead of the configured one.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }
}

operation_common!(WhereNow);

/// The where now result. `Display`: `present on 2 channels: a, b` (or `present on no
/// channel`). JSON (feature `serde`): `{"channels": ["a", "b"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct WhereNowResult {
    /// The channels the user is present on.
    pub channels: Vec<String>,
}

impl std::fmt::Display for WhereNowResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.channels.as_slice() {
            [] => f.write_str("present on no channel"),
            [one] => write!(f, "present on 1 channel: {one}"),
            many => write!(f, "present on {} channels: {}", many.len(), many.join(", ")),
        }
    }
}

impl<C: Send + Sync> Operation for WhereNow<C> {
    type Output = WhereNowResult;
    const NAME: &'static str = "where_now";

    fn channel_count(&self) -> usize {
        0
    }
}

impl<C: Send + Sync> sealed::Encode for WhereNow<C> {
    type Parsed = WhereNowResult;

    fn encode<'a>(&'a self, target: &Target<'a>, out: &mut RequestParts<'a>) -> Result<(), Error> {
        let user = self.user_id.as_deref().unwrap_or(target.user_id);
        validate_user_id("user_id", user)?;
        out.presence_prefix(target);
        out.path_literal("/uuid/");
        out.path_value(user);
        Ok(())
    }

    fn parse_body(&self, body: &[u8]) -> Result<WhereNowResult, BodyError> {
        let raw: Raw = decode("where now body", body)?;
        Ok(WhereNowResult {
            channels: raw.payload.map(|p| p.channels).unwrap_or_default(),
        })
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    error: ErrorFlag,
    #[serde(default)]
    payload: Option<Payload>,
}
envelope!(Raw);

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    channels: Vec<String>,
}
