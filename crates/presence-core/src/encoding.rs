//! Percent-encoding rules of the Presence REST protocol (PROTOCOL.md §3 and §6).
//!
//! Two sets are used:
//! - [`WIRE`]: what this client puts on the wire, in path segments and query values.
//!   Every byte except `A-Z a-z 0-9 - _ . ~` is encoded (matches the Go and Python
//!   SDKs, PROTOCOL.md §3.1 recommendation). `,` inside a name becomes `%2C`, space
//!   becomes `%20`, and `+` is never used for a space.
//! - [`SIGNATURE`]: the strict set used to canonicalise query values for signing
//!   (§6): as [`WIRE`] but `~` is encoded too (`%7E`).

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt::Write as _;

/// Bytes encoded on the wire: everything but `A-Z a-z 0-9 - _ . ~`.
pub const WIRE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Bytes encoded in the signature's canonical query: everything but `A-Z a-z 0-9 - _ .`.
pub const SIGNATURE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Percent-encodes `value` with the wire set.
///
/// ```
/// assert_eq!(presence_core::encoding::encode("a/b c,d~"), "a%2Fb%20c%2Cd~");
/// ```
pub fn encode(value: &str) -> String {
    percent_encode(value.as_bytes(), WIRE).to_string()
}

/// Appends `value` percent-encoded with `set` to `out`.
pub(crate) fn push_encoded(out: &mut String, value: &str, set: &'static AsciiSet) {
    // `Display` of `PercentEncode` writes chunk by chunk without an intermediate String.
    let _ = write!(out, "{}", percent_encode(value.as_bytes(), set));
}

/// Encodes a list of names for a path segment: each name encoded, joined with a
/// literal `,`; an empty list is the single character `,` (PROTOCOL.md §3.1).
///
/// ```
/// assert_eq!(presence_core::encoding::encode_list(&["a,b", "c d"]), "a%2Cb,c%20d");
/// assert_eq!(presence_core::encoding::encode_list::<&str>(&[]), ",");
/// ```
pub fn encode_list<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return ",".to_owned();
    }
    let mut out = String::with_capacity(names.iter().map(|n| n.as_ref().len() + 1).sum());
    push_list(&mut out, names);
    out
}

pub(crate) fn push_list<S: AsRef<str>>(out: &mut String, names: &[S]) {
    if names.is_empty() {
        out.push(',');
        return;
    }
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_encoded(out, name.as_ref(), WIRE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_set_leaves_only_unreserved() {
        assert_eq!(encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode(" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}"), "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D");
        assert_eq!(encode("频道中文"), "%E9%A2%91%E9%81%93%E4%B8%AD%E6%96%87");
        assert_eq!(encode("用户123"), "%E7%94%A8%E6%88%B7123");
        assert_eq!(encode("user@domain.com"), "user%40domain.com");
    }

    #[test]
    fn python_vector() {
        assert_eq!(encode_list(&["a/b", "c d"]), "a%2Fb,c%20d");
    }
}
