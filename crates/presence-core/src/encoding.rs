//! Percent-encoding rules of the Presence REST protocol (PROTOCOL.md §3 and §6).
//!
//! Two sets are used:
//! - [`WIRE`]: what this client puts on the wire, in path segments and query values.
//!   Every byte except `A-Z a-z 0-9 - _ . ~` is encoded (matches the Go and Python
//!   SDKs, PROTOCOL.md §3.1 recommendation). `,` inside a name becomes `%2C`, space
//!   becomes `%20`, and `+` is never used for a space.
//! - [`SIGNATURE`]: the strict set used to canonicalise query values for signing
//!   (§6): as [`WIRE`] but `~` is encoded too (`%7E`).

use percent_encoding::percent_encode_byte;
#[cfg(test)]
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// Bytes encoded on the wire: everything but `A-Z a-z 0-9 - _ . ~` (the encoder's
/// `PLAIN` table is the rule; this set pins it in the tests).
#[cfg(test)]
const WIRE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Bytes encoded in the signature's canonical query: everything but `A-Z a-z 0-9 - _ .`.
#[cfg(test)]
const SIGNATURE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Percent-encodes `value` as this client puts it on the wire (PROTOCOL.md §3): every
/// byte but `A-Z a-z 0-9 - _ . ~` becomes `%XX`, a space `%20`, `,` `%2C`.
///
/// ```
/// assert_eq!(presence_core::percent_encode("a/b c,d~"), "a%2Fb%20c%2Cd~");
/// ```
pub fn percent_encode(value: &str) -> String {
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

/// Per byte: bit 0 set when the byte stays plain in the signature set, bit 1 when it
/// stays plain on the wire (bytes >= 0x80 are always encoded).
const PLAIN: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.' {
            t[b] = 0b11;
        } else if c == b'~' {
            t[b] = 0b10;
        }
        b += 1;
    }
    t
};

impl Set {
    #[inline(always)]
    fn bit(self) -> u8 {
        match self {
            Set::Signature => 0b01,
            Set::Wire => 0b10,
        }
    }
}

/// Appends `value` percent-encoded with `set` to `out`: a value with nothing to encode
/// (the usual name) is checked with one table lookup per byte and copied whole;
/// otherwise runs of plain bytes are copied and every other byte becomes `%XX` (the
/// same output as `percent_encoding::percent_encode` with [`WIRE`] or [`SIGNATURE`],
/// tested below and by a property test).
pub(crate) fn push_encoded(out: &mut String, value: &str, set: Set) {
    let bit = set.bit();
    let bytes = value.as_bytes();
    // No early exit: branch-free over the value.
    if bytes
        .iter()
        .fold(bit, |acc, &b| acc & PLAIN[usize::from(b)])
        != 0
    {
        out.push_str(value);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if PLAIN[usize::from(b)] & bit == 0 {
            // A non-empty `start..i` holds only plain ASCII bytes, so both ends are
            // character boundaries (`i` may not be when `start == i`).
            if start < i {
                out.push_str(&value[start..i]);
            }
            out.push_str(percent_encode_byte(b));
            start = i + 1;
        }
    }
    out.push_str(&value[start..]);
}

/// Encodes a list of names for a path segment: each name encoded, joined with a
/// literal `,`; an empty list is the single character `,` (PROTOCOL.md §3.1).
#[cfg(test)]
fn encode_list<S: AsRef<str>>(names: &[S]) -> String {
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
    use percent_encoding::percent_encode as reference;

    #[test]
    fn wire_set_leaves_only_unreserved() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode(" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}"), "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D");
        assert_eq!(
            percent_encode("频道中文"),
            "%E9%A2%91%E9%81%93%E4%B8%AD%E6%96%87"
        );
        assert_eq!(percent_encode("用户123"), "%E7%94%A8%E6%88%B7123");
        assert_eq!(percent_encode("user@domain.com"), "user%40domain.com");
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
                assert_eq!(out, reference(s.as_bytes(), ascii).to_string(), "{s:?}");
            }
        }
        for b in 0..=255u8 {
            let s = String::from_utf8_lossy(&[b]).into_owned();
            let mut out = String::new();
            push_encoded(&mut out, &s, Set::Signature);
            assert_eq!(out, reference(s.as_bytes(), SIGNATURE).to_string());
        }
    }

    #[test]
    fn python_vector() {
        assert_eq!(encode_list(&["a/b", "c d"]), "a%2Fb,c%20d");
        assert_eq!(encode_list(&["a,b", "c d"]), "a%2Cb,c%20d");
        assert_eq!(encode_list::<&str>(&[]), ",");
    }

    proptest::proptest! {
        /// The table encoder agrees with the percent-encoding crate on any string.
        #[test]
        fn encoder_matches_percent_encoding(value in ".*") {
            for (set, ascii) in [(Set::Wire, WIRE), (Set::Signature, SIGNATURE)] {
                let mut out = String::new();
                push_encoded(&mut out, &value, set);
                proptest::prop_assert_eq!(out, reference(value.as_bytes(), ascii).to_string());
            }
        }
    }
}
