//! Response classification, written once for every operation.
//!
//! 1. HTTP status not 2xx: a JSON object body becomes [`Error::Service`] (status,
//!    message, service, PAM `payload.channels` / `payload["channel-groups"]`), anything
//!    else [`Error::UnexpectedStatus`].
//! 2. HTTP 2xx: the operation's typed parser runs. Its body type carries `status` and
//!    `error`; when those say error (the "false 200" of PROTOCOL.md §10.7: `status` >=
//!    400, or `error` is truthy: any non-zero number, `true`, an object or array, or a
//!    string other than `""`, `"0"` and `"false"` after trimming) the body becomes a
//!    service error.
//!    If the typed parse fails, a body that is a recognisable error body is still a
//!    service error; otherwise the result is [`Error::MalformedResponse`].

use crate::error::{Error, RawBody, ServiceError};
use crate::request::Operation;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

pub(crate) fn parse<O: Operation, B: AsRef<[u8]>>(
    op: &O,
    response: &http::Response<B>,
) -> Result<O::Output, Error> {
    classify(response, |body| op.parse_body(body))
}

/// Classifies `response` and runs `parse_body` on a 2xx body (see the module docs).
pub(crate) fn classify<'a, T, B: AsRef<[u8]>>(
    response: &'a http::Response<B>,
    parse_body: impl FnOnce(&'a [u8]) -> Result<T, BodyError>,
) -> Result<T, Error> {
    let status = response.status().as_u16();
    let body = response.body().as_ref();
    // Read only for errors.
    let retry_after = || {
        response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if !response.status().is_success() {
        return Err(
            error_body(status, body, retry_after(), true).unwrap_or_else(|| {
                Error::UnexpectedStatus {
                    status,
                    body: RawBody(body.to_vec()),
                }
            }),
        );
    }
    match parse_body(body) {
        Ok(out) => Ok(out),
        // Flagged by the typed parse, which skips unknown fields leniently, but not readable
        // as an error body: the same bytes with an error status are an `UnexpectedStatus`,
        // so here they are the operation's own malformed body.
        Err(BodyError::Flagged(expected)) => Err(error_body(status, body, retry_after(), true)
            .unwrap_or_else(|| {
                Error::malformed(
                    expected,
                    "the body flags an error but is not readable JSON",
                    body,
                )
            })),
        Err(BodyError::Invalid(e)) => {
            Err(error_body(status, body, retry_after(), false).unwrap_or(e))
        }
    }
}

/// Why a typed body parser did not produce a result.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The body's own `status`/`error` fields say error (a "false 200"); carries what the
    /// operation expected, for when the error body cannot be read.
    Flagged(&'static str),
    /// The body is not what the operation expects.
    Invalid(Error),
}

impl From<Error> for BodyError {
    fn from(e: Error) -> Self {
        BodyError::Invalid(e)
    }
}

/// The body as text, when it can be a Presence body: a JSON object (its first
/// significant byte is `{`) in UTF-8 (RFC 8259 §8.1; serde_json does not check strings
/// it skips, and once checked here the body is parsed from `&str`, so serde_json skips
/// its own per-string check).
pub(crate) fn json_text<'a>(expected: &'static str, body: &'a [u8]) -> Result<&'a str, BodyError> {
    // Serde's derived structs would also accept an array.
    // JSON whitespace only (`u8::is_ascii_whitespace` also takes form feed).
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    if body.iter().find(|b| !ws(b)) != Some(&b'{') {
        let detail = if body.iter().all(ws) {
            "empty body"
        } else {
            "the body is not a JSON object"
        };
        return Err(BodyError::Invalid(Error::malformed(expected, detail, body)));
    }
    std::str::from_utf8(body).map_err(|_| {
        BodyError::Invalid(Error::malformed(
            expected,
            "the body is not valid UTF-8",
            body,
        ))
    })
}

/// Deserializes a typed body; a body whose envelope says error is [`BodyError::Flagged`].
pub(crate) fn decode<'a, T>(expected: &'static str, body: &'a [u8]) -> Result<T, BodyError>
where
    T: Deserialize<'a> + Envelope,
{
    let text = json_text(expected, body)?;
    // serde_json stops at 128 levels for values it builds, but skips unknown fields
    // without that limit: the body is checked (grammar and nesting) by the same
    // one-pass reader the here-now body is read with, then deserialized.
    let mut reader = crate::json::Reader::new(text);
    if let Err(e) = reader.skip().and_then(|_| reader.end()) {
        return Err(BodyError::Invalid(Error::malformed(
            expected,
            e.to_string(),
            body,
        )));
    }
    match serde_json::from_str::<T>(text) {
        Ok(raw) if raw.envelope().is_error() => Err(BodyError::Flagged(expected)),
        Ok(raw) => Ok(raw),
        Err(e) => Err(BodyError::Invalid(Error::malformed(
            expected,
            e.to_string(),
            body,
        ))),
    }
}

/// Deepest JSON nesting a response body may have: what serde_json's recursion limit lets
/// it build (127 levels), so the typed parse and the error reader agree.
pub(crate) const MAX_DEPTH: usize = 127;

/// The `status` and `error` fields every Presence body carries.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EnvelopeFields {
    #[serde(default)]
    pub(crate) status: Option<i64>,
    #[serde(default)]
    pub(crate) error: ErrorFlag,
}

impl EnvelopeFields {
    pub(crate) fn is_error(&self) -> bool {
        self.status.is_some_and(|s| s >= 400) || self.error.0
    }
}

/// Typed bodies expose their envelope fields.
pub(crate) trait Envelope {
    fn envelope(&self) -> EnvelopeFields;
}

/// Implements [`Envelope`] for a body struct with `status: Option<i64>` and `error: ErrorFlag`.
macro_rules! envelope {
    ($ty:ty) => {
        impl $crate::response::Envelope for $ty {
            fn envelope(&self) -> $crate::response::EnvelopeFields {
                $crate::response::EnvelopeFields {
                    status: self.status,
                    error: self.error,
                }
            }
        }
    };
}
pub(crate) use envelope;

/// The `error` field: `1`, `true`, `"1"`, `"true"` or an object are truthy; `0`, `false`,
/// `null`, `""`, `"0"` and a missing field are not.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ErrorFlag(pub(crate) bool);

impl<'de> Deserialize<'de> for ErrorFlag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorFlag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error flag")
            }
            fn visit_bool<E>(self, v: bool) -> Result<ErrorFlag, E> {
                Ok(ErrorFlag(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ErrorFlag, E> {
                Ok(ErrorFlag(v != 0))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ErrorFlag, E> {
                Ok(ErrorFlag(v != 0))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ErrorFlag, E> {
                Ok(ErrorFlag(v != 0.0))
            }
            fn visit_str<E>(self, v: &str) -> Result<ErrorFlag, E> {
                Ok(ErrorFlag(string_flag(v)))
            }
            fn visit_unit<E>(self) -> Result<ErrorFlag, E> {
                Ok(ErrorFlag(false))
            }
            fn visit_none<E>(self) -> Result<ErrorFlag, E> {
                Ok(ErrorFlag(false))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ErrorFlag, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorFlag, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ErrorFlag(true))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorFlag, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ErrorFlag(true))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string `error` field's truthiness: anything but `""`, `"0"` and `"false"` after
/// trimming (the one rule of `ErrorFlag`, the error-body reader and the here-now reader).
pub(crate) fn string_flag(s: &str) -> bool {
    !matches!(s.trim(), "" | "0" | "false")
}

/// Reads an error body. With `http_error` any JSON object counts; on a 2xx only a body
/// whose `status` >= 400 or `error` is truthy does.
fn error_body(
    http_status: u16,
    body: &[u8],
    retry_after: Option<u64>,
    http_error: bool,
) -> Option<Error> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let obj = value.as_object()?;
    // A `status` too large for an HTTP status is still an error status (>= 400): report
    // it as 500 rather than dropping it, so the typed envelope check and this agree.
    let body_status = obj
        .get("status")
        .and_then(Value::as_u64)
        .map(|s| u16::try_from(s).unwrap_or(500));
    let flagged = match obj.get("error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(s)) => string_flag(s),
        Some(_) => true,
    };
    let body_says_error = flagged || body_status.is_some_and(|s| s >= 400);
    if !body_says_error && (!http_error || http_status < 400) {
        // A 2xx that is not flagged, or a 1xx/3xx whose body does not claim an error:
        // not a service error (the caller reports it as malformed or unexpected).
        return None;
    }
    let status = match body_status {
        Some(s) if s >= 400 => s,
        _ if http_status >= 400 => http_status,
        // Flagged by `error` alone, with no error status anywhere: report a server error
        // rather than a success code.
        _ => 500,
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let message = text(obj.get("message"))
        .or_else(|| text(obj.get("error_message")))
        .or_else(|| text(obj.get("error").and_then(|e| e.get("message"))))
        .or_else(|| text(obj.get("error")))
        .unwrap_or_else(|| {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Unknown error")
                .to_owned()
        });
    let names = |key: &str| -> Vec<String> {
        obj.get("payload")
            .and_then(|p| p.get(key))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(Error::Service(Box::new(ServiceError {
        status,
        http_status,
        message,
        service: text(obj.get("service")),
        channels: names("channels"),
        channel_groups: names("channel-groups"),
        retry_after,
        body: RawBody(body.to_vec()),
    })))
}
