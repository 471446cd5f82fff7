//! Shared input decoding and invariants for the presence-core fuzz targets.
//!
//! # Input format (every response target)
//!
//! ```text
//! byte 0      byte 1      bytes 2..
//! vvvvvvSS    SSSSSSSS    body
//! ```
//!
//! - `raw = ((byte0 & 0b11) << 8) | byte1` (0..=1023). The HTTP status is `raw` when it is
//!   in 100..=599, otherwise `100 + raw % 500`. So **a known status is written as its two
//!   big-endian bytes**: `\x00\xc8` = 200, `\x01\x93` = 403, `\x01\xad` = 429,
//!   `\x01\xf6` = 502.
//! - `variant = byte0 >> 2` (0..=63) selects the operation shape where a target has
//!   several (here now: single channel / several channels / groups / global; get state:
//!   single / several / groups). Targets with one shape ignore it. So `\x04\xc8` is
//!   status 200 with variant 1.
//! - Inputs shorter than two bytes are a 200 whose body is the whole input.
//!
//! `fuzz/make_seeds.py` writes the seeds in this format.

use presence_core::http;
use presence_core::{Error, Operation};
use serde_json::Value;

/// A fuzz input split into operation variant, HTTP status and body.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Operation shape selector, `byte0 >> 2`.
    pub variant: u8,
    /// HTTP status, always in 100..=599.
    pub status: u16,
    /// The response body.
    pub body: &'a [u8],
}

/// Maps the raw 10-bit status into 100..=599 (identity inside that range).
pub fn map_status(raw: u16) -> u16 {
    if (100..=599).contains(&raw) {
        raw
    } else {
        100 + raw % 500
    }
}

/// Splits the fuzzer's bytes (see the crate docs for the format).
pub fn split(data: &[u8]) -> Input<'_> {
    match data {
        [b0, b1, body @ ..] => Input {
            variant: b0 >> 2,
            status: map_status(u16::from_be_bytes([b0 & 0b11, *b1])),
            body,
        },
        _ => Input {
            variant: 0,
            status: 200,
            body: data,
        },
    }
}

impl<'a> Input<'a> {
    /// The `http::Response` the parsers see.
    pub fn response(&self) -> http::Response<&'a [u8]> {
        http::Response::builder()
            .status(self.status)
            .body(self.body)
            .expect("status is in 100..=599")
    }
}

/// Whether a JSON object body says "error" by the rule of PROTOCOL.md §10.7, computed
/// independently of presence-core: `status` is an integer >= 400 or `error` is truthy
/// (`true`, a non-zero number, a string other than `""`/`"0"`/`"false"` after trimming,
/// an object or an array). Duplicate keys: the last one wins (serde_json's `Value`).
fn flagged(obj: &serde_json::Map<String, Value>) -> (bool, bool) {
    let status = obj.get("status");
    let status_i64 = status.and_then(Value::as_i64);
    // presence-core reports a `status` too large for a u16 as 500 (still an error status).
    let status_u16 = status
        .and_then(Value::as_u64)
        .map(|s| u16::try_from(s).unwrap_or(500));
    let error = match obj.get("error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(s)) => !matches!(s.trim(), "" | "0" | "false"),
        Some(_) => true,
    };
    // (certainly flagged, possibly flagged)
    (
        error || status_u16.is_some_and(|s| s >= 400),
        error || status_i64.is_some_and(|s| s >= 400) || status_u16.is_some_and(|s| s >= 400),
    )
}

/// Checks the classification invariants every operation must keep, and exercises the
/// error's `Display`, `Debug` and accessors.
///
/// - non-2xx: always `Err`; `Service` exactly when the body is a JSON object and the
///   HTTP status is >= 400 or the body says error, else `UnexpectedStatus { status,
///   body }` with the exact status and bytes;
/// - 2xx: never `UnexpectedStatus` or `InvalidInput`; `Ok` only for a UTF-8 body that
///   starts with `{` and does not say error; a `MalformedResponse` always names the
///   operation's own body (never `"service error body"`); a JSON object body that says error (see
///   [`flagged`]) is `Service`; `Service` only for such bodies;
/// - a `Service` error never reports a status below 400;
/// - every error keeps the raw body byte for byte.
pub fn check<T>(input: &Input<'_>, result: &Result<T, Error>) {
    let parsed: Option<Value> = serde_json::from_slice(input.body).ok();
    let object = parsed.as_ref().and_then(Value::as_object);
    let (certainly, possibly) = object.map(flagged).unwrap_or((false, false));
    let success = (200..300).contains(&input.status);
    if let Err(e) = result {
        let _ = format!("{e} {e:?} {:?} {}", e.status(), e.is_retryable());
        let _ = e.kind();
    }
    if let Err(Error::Service(s)) = result {
        assert!(s.status >= 400, "service error with status {}", s.status);
        assert_eq!(s.http_status, input.status);
        assert_eq!(s.body.as_bytes(), input.body);
        assert_eq!(s.retry_after, None);
    }
    if !success {
        let service = object.is_some() && (input.status >= 400 || certainly);
        match result {
            Ok(_) => panic!("HTTP {} parsed as success", input.status),
            Err(Error::Service(_)) => assert!(service, "service error from {:?}", input.body),
            Err(Error::UnexpectedStatus { status, body }) => {
                assert!(!service, "error body not read");
                assert_eq!(*status, input.status);
                assert_eq!(body.as_bytes(), input.body);
            }
            Err(other) => panic!("HTTP {} gave {other:?}", input.status),
        }
        return;
    }
    match result {
        Ok(_) => {
            assert!(!certainly, "a body flagged as error parsed as success");
            let first = input.body.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(
                first,
                Some(&b'{'),
                "a body that is not an object parsed as success"
            );
            assert!(
                std::str::from_utf8(input.body).is_ok(),
                "a body that is not UTF-8 parsed as success"
            );
        }
        Err(Error::Service(_)) => assert!(possibly, "service error from an unflagged 2xx body"),
        Err(Error::MalformedResponse { body, expected, .. }) => {
            assert!(!certainly, "a body flagged as error reported as malformed");
            // A flagged body the error reader cannot read is the operation's own malformed
            // body (ff804ca), never a generic "service error body".
            assert_ne!(*expected, "service error body");
            assert_eq!(body.as_bytes(), input.body);
        }
        Err(other) => panic!("HTTP {} gave {other:?}", input.status),
    }
}

/// Parses `input` with `op`, checks the invariants, returns the result.
pub fn run<O: Operation>(op: &O, input: &Input<'_>) -> Result<O::Output, Error> {
    let result = op.parse_response(&input.response());
    check(input, &result);
    result
}
