//! One module per presence operation: input builder, request encoding and response
//! parsing together.

pub(crate) mod get_state;
pub(crate) mod heartbeat;
pub(crate) mod here_now;
pub(crate) mod here_now_pages;
pub(crate) mod leave;
pub(crate) mod set_state;
pub(crate) mod subscribe;
pub(crate) mod where_now;

use crate::response::{decode, envelope, BodyError, ErrorFlag};
use crate::Error;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Checks that `state` is a JSON object.
pub(crate) fn state_object(state: &Value) -> Result<&Map<String, Value>, Error> {
    state.as_object().ok_or_else(|| {
        Error::invalid(
            "state",
            format!("must be a JSON object, got {}", json_kind(state)),
        )
    })
}

/// Heartbeat and leave answer `{"status": 200, "message": "OK", "service": "Presence"}`.
pub(crate) fn parse_ack(expected: &'static str, body: &[u8]) -> Result<(), BodyError> {
    let _: Ack = decode(expected, body)?;
    Ok(())
}

#[derive(Deserialize)]
struct Ack {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    error: ErrorFlag,
}
envelope!(Ack);

/// The one channel when `channels` names exactly one distinct channel and there are no
/// groups.
pub(crate) fn single_channel<'a>(channels: &'a [String], groups: &[String]) -> Option<&'a str> {
    let first = channels.first()?;
    (groups.is_empty() && channels.iter().all(|c| c == first)).then_some(first.as_str())
}

/// What kind of JSON value `v` is, for messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
