//! Percent-encoding rules of the Presence REST protocol (PROTOCOL.md §3 and §6).
//!
//! Two sets are used:
//! - [`WIRE`]: what this client puts on the wire, in path segments and query values.
//!   Every byte except `A-Z a-z 0-9 - _ . ~` is encoded (matches the Go and Python
//!   SDKs, PROTOCOL.md §3.1 recommendation). `,` inside a name becomes `%2C`, space
//!   becomes `%20`, and `+` is never used for a space.
//! - [`SIGNATURE`]: the strict set used to canonicalise query values for signing
//!   (§6): as [`WIRE`] but `~` is encoded too (`%7E`).

use percent_encoding::{percent_encode_byte, AsciiSet, NON_ALPHANUMERIC};

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
    let mut out = String::with_capacity(value.len());
    push_encoded(&mut out, value, Set::Wire);
    out
}

/// Which bytes an encoder leaves as they are: the complement of [`WIRE`] or of
/// [`SIGNATURE`] (bytes >= 0x80 are always encoded).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Set {
    /// Complement of [`WIRE`].
    Wire,
    /// Complement of [`SIGNATURE`].
    Signature,
}

/// Whether `b` stays plain, as arithmetic (so a chunk check vectorises).
#[inline(always)]
fn is_plain(b: u8, tilde: bool) -> bool {
    // `|` rather than `||`: no branches.
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'_')
        | (b == b'.')
        | (tilde & (b == b'~'))
}

/// Whether every byte of a 16-byte chunk is plain: branch-free over the chunk, which
/// LLVM turns into a few vector compares.
#[inline(always)]
fn all_plain(chunk: &[u8], tilde: bool) -> bool {
    chunk.iter().fold(true, |acc, &b| acc & is_plain(b, tilde))
}

/// Length of the leading run of plain bytes, checked 16 bytes at a time.
#[inline]
fn plain_prefix(bytes: &[u8], tilde: bool) -> usize {
    let mut done = 0;
    for chunk in bytes.chunks_exact(16) {
        if !all_plain(chunk, tilde) {
            break;
        }
        done += 16;
    }
    let rest = &bytes[done..];
    // Usually the whole rest is plain: check it as one padded chunk first.
    if rest.len() < 16 {
        let mut chunk = [b'a'; 16];
        chunk[..rest.len()].copy_from_slice(rest);
        if all_plain(&chunk, tilde) {
            return bytes.len();
        }
    }
    done + rest
        .iter()
        .position(|&b| !is_plain(b, tilde))
        .unwrap_or(rest.len())
}

/// Appends `value` percent-encoded with `set` to `out`: runs of plain bytes are copied
/// whole, every other byte becomes `%XX` (the same output as
/// `percent_encoding::percent_encode` with [`WIRE`] or [`SIGNATURE`], tested below and
/// by a property test).
pub(crate) fn push_encoded(out: &mut String, value: &str, set: Set) {
    let tilde = matches!(set, Set::Wire);
    let bytes = value.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let run = plain_prefix(&bytes[start..], tilde);
        // `start..start + run` holds only plain ASCII bytes, and the byte before `start`
        // is ASCII or the last byte of an encoded character: both ends are boundaries.
        out.push_str(&value[start..start + run]);
        start += run;
        // Encode the following non-plain bytes one by one.
        while let Some(&b) = bytes.get(start) {
            if is_plain(b, tilde) {
                break;
            }
            out.push_str(percent_encode_byte(b));
            start += 1;
        }
    }
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
        push_encoded(out, name.as_ref(), Set::Wire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::percent_encode;

    #[test]
    fn wire_set_leaves_only_unreserved() {
        assert_eq!(encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode(" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}"), "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D");
        assert_eq!(encode("频道中文"), "%E9%A2%91%E9%81%93%E4%B8%AD%E6%96%87");
        assert_eq!(encode("用户123"), "%E7%94%A8%E6%88%B7123");
        assert_eq!(encode("user@domain.com"), "user%40domain.com");
    }

    #[test]
    fn table_encoder_matches_percent_encoding() {
        let samples = [
            "",
            "plain-._~",
            "a b",
            "~",
            "%",
            "频道",
            "a,b",
            "\u{0}\u{7f}\u{80}",
            "é~é",
            "x🙂y",
            " !\"#$%&'()*+,/:;<=>?@[\\]^`{|}",
        ];
        for s in samples {
            for (set, ascii) in [(Set::Wire, WIRE), (Set::Signature, SIGNATURE)] {
                let mut out = String::new();
                push_encoded(&mut out, s, set);
                assert_eq!(
                    out,
                    percent_encode(s.as_bytes(), ascii).to_string(),
                    "{s:?}"
                );
            }
        }
        for b in 0..=255u8 {
            let s = String::from_utf8_lossy(&[b]).into_owned();
            let mut out = String::new();
            push_encoded(&mut out, &s, Set::Signature);
            assert_eq!(out, percent_encode(s.as_bytes(), SIGNATURE).to_string());
        }
    }

    #[test]
    fn python_vector() {
        assert_eq!(encode_list(&["a/b", "c d"]), "a%2Fb,c%20d");
    }
}
