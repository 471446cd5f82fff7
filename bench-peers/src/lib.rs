//! Peer comparisons against the official `pubnub` 0.9 crate; the benches are in
//! `benches/` (`cargo bench --manifest-path bench-peers/Cargo.toml`).
//!
//! This library holds the one adapter both benches use: the official crate's own
//! here-now response parsing, through its public types.
#![forbid(unsafe_code)]

use pubnub::core::{Deserializer, PubNubError};
use pubnub::presence::result::{HereNowResponseBody, HereNowResult};
use pubnub::providers::deserialization_serde::DeserializerSerde;

/// What `HereNowRequestBuilder::execute` does with a 2xx body in pubnub 0.9:
/// `DeserializerSerde::deserialize::<HereNowResponseBody>` (serde_json into its
/// untagged enums), then `HereNowResult::try_from`. The request-side name
/// replacement for single-channel bodies (one `String` clone) is left out.
pub fn pubnub_parse_here_now(body: &[u8]) -> Result<HereNowResult, PubNubError> {
    let raw: HereNowResponseBody = DeserializerSerde.deserialize(body)?;
    HereNowResult::try_from(raw)
}
