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
#[doc(hidden)]
#[derive(Debug)]
pub enum BodyError {
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
    // without that limit: bound the nesting of the whole body first (a linear byte scan).
    if exceeds_depth(body, MAX_DEPTH) {
        let detail = format!("JSON nested deeper than {MAX_DEPTH} levels");
        return Err(BodyError::Invalid(Error::malformed(expected, detail, body)));
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
pub const MAX_DEPTH: usize = 127;

/// Whether `body` nests objects and arrays deeper than `max`, ignoring brackets in strings.
///
/// Runs on every body, so it works on 64-byte blocks: four byte masks (`"`, `\\`, `{[`,
/// `}]`) are built eight bytes at a time with SWAR arithmetic, string interiors come from
/// the prefix parity of the quotes, and the depth moves by bit counts unless the block
/// could cross `max` or go below zero. Blocks with a backslash (escapes) and the tail take
/// the byte-by-byte path; the tail is padded to a block. Both agree with [`DepthScan::bytes`] on every input (tested).
pub(crate) fn exceeds_depth(body: &[u8], max: usize) -> bool {
    let mut scan = DepthScan {
        depth: 0,
        max: i64::try_from(max).unwrap_or(i64::MAX),
        in_string: false,
        escaped: false,
    };
    let mut blocks = body.chunks_exact(64);
    for block in &mut blocks {
        if block_exceeds(&mut scan, block) {
            return true;
        }
    }
    // The tail, padded with spaces (neutral inside and outside strings) to one more block.
    let tail = blocks.remainder();
    if tail.is_empty() {
        return false;
    }
    let mut padded = [b' '; 64];
    padded[..tail.len()].copy_from_slice(tail);
    block_exceeds(&mut scan, &padded)
}

/// One 64-byte block of [`exceeds_depth`].
#[inline]
fn block_exceeds(scan: &mut DepthScan, block: &[u8]) -> bool {
    let (mut quotes, mut backslashes, mut opens, mut closes) = (0u64, 0u64, 0u64, 0u64);
    for (k, word) in block.chunks_exact(8).enumerate() {
        let w = word.try_into().map(u64::from_le_bytes).unwrap_or(0);
        // `[`/`]` differ from `{`/`}` only in bit 0x20.
        let folded = w | (LO * 0x20);
        let shift = 8 * k;
        quotes |= movemask(eq_mask(w, b'"')) << shift;
        backslashes |= movemask(eq_mask(w, b'\\')) << shift;
        opens |= movemask(eq_mask(folded, b'{')) << shift;
        closes |= movemask(eq_mask(folded, b'}')) << shift;
    }
    if backslashes != 0 || scan.escaped {
        return scan.bytes(block);
    }
    // Bit i set: byte i is inside a string (odd number of quotes up to it).
    let inside = prefix_xor(quotes) ^ if scan.in_string { !0 } else { 0 };
    scan.in_string = inside >> 63 == 1;
    let (opens, closes) = (opens & !inside, closes & !inside);
    let (n_open, n_close) = (
        i64::from(opens.count_ones()),
        i64::from(closes.count_ones()),
    );
    if scan.depth + n_open <= scan.max && n_close <= scan.depth {
        scan.depth += n_open - n_close;
        return false;
    }
    let mut brackets = opens | closes;
    while brackets != 0 {
        let i = brackets.trailing_zeros();
        if scan.bracket(opens >> i & 1 == 1) {
            return true;
        }
        brackets &= brackets - 1;
    }
    false
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` equal to `c` (exact: no carries between bytes).
#[inline(always)]
fn eq_mask(w: u64, c: u8) -> u64 {
    let t = w ^ (LO * u64::from(c));
    !(((t & !HI) + !HI) | t) & HI
}

/// Gathers the high bits of the eight bytes into the low eight bits (byte 0 to bit 0).
#[inline(always)]
fn movemask(x: u64) -> u64 {
    ((x >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Bit i of the result is the parity of bits 0..=i of `x`.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The byte-by-byte depth scan, and the state carried between blocks.
struct DepthScan {
    depth: i64,
    max: i64,
    in_string: bool,
    escaped: bool,
}

impl DepthScan {
    /// One bracket outside strings; true when the depth exceeds the maximum.
    #[inline]
    fn bracket(&mut self, open: bool) -> bool {
        if open {
            self.depth += 1;
            self.depth > self.max
        } else {
            // Unbalanced closers are the JSON parser's business; never go below zero.
            self.depth = (self.depth - 1).max(0);
            false
        }
    }

    fn bytes(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            let exceeded = match b {
                b'"' => {
                    self.in_string = true;
                    false
                }
                b'{' | b'[' => self.bracket(true),
                b'}' | b']' => self.bracket(false),
                _ => false,
            };
            if exceeded {
                return true;
            }
        }
        false
    }
}

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

#[cfg(test)]
mod depth_tests {
    use super::{exceeds_depth, DepthScan};
    use proptest::prelude::*;

    fn reference(body: &[u8], max: usize) -> bool {
        DepthScan {
            depth: 0,
            max: max as i64,
            in_string: false,
            escaped: false,
        }
        .bytes(body)
    }

    #[test]
    fn known_cases() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!exceeds_depth(deep(127).as_bytes(), 127));
        assert!(exceeds_depth(deep(128).as_bytes(), 127));
        assert!(exceeds_depth(deep(100_000).as_bytes(), 127));
        let in_string = format!("{{\"a\": \"{}\"}}", "[".repeat(500));
        assert!(!exceeds_depth(in_string.as_bytes(), 127));
        let escaped = format!("{{\"a\": \"\\\"{}\"}}", "[".repeat(500));
        assert!(!exceeds_depth(escaped.as_bytes(), 127));
        let closers_first = format!("{}{}", "]".repeat(300), deep(127));
        assert!(!exceeds_depth(closers_first.as_bytes(), 127));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn block_scan_agrees_with_byte_scan(
            body in proptest::collection::vec(proptest::sample::select(b"{}[]\"\\ a,\xc3".to_vec()), 0..400),
            max in 0usize..12,
        ) {
            prop_assert_eq!(exceeds_depth(&body, max), reference(&body, max));
        }

        /// Without backslashes every 64-byte block takes the mask path.
        #[test]
        fn mask_path_agrees_with_byte_scan(
            body in proptest::collection::vec(proptest::sample::select(b"{}[]\"a,:  \xc3".to_vec()), 0..1000),
            max in 0usize..40,
        ) {
            prop_assert_eq!(exceeds_depth(&body, max), reference(&body, max));
        }
    }
}
