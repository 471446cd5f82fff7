//! Signature v2 verification (PROTOCOL.md §6) and token grants.

use crate::config::{Grant, Keyset, Permissions};
use crate::wire::Query;
use percent_encoding::{percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
#[cfg(test)]
use presence_core::sign_v2;
use presence_core::{canonical_query, verify_v2};

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureError {
    MissingSignature,
    MissingTimestamp,
    StaleTimestamp,
    Mismatch,
}

impl SignatureError {
    /// `(details[0].message, details[0].location)` of the 403 body.
    pub(crate) fn detail(self) -> (&'static str, &'static str) {
        match self {
            SignatureError::MissingSignature => ("Missing signature.", "signature"),
            SignatureError::MissingTimestamp => ("Missing or invalid timestamp.", "timestamp"),
            SignatureError::StaleTimestamp => (
                "Request timestamp is outside the allowed window.",
                "timestamp",
            ),
            SignatureError::Mismatch => (
                "Client and server produced different signatures for the same inputs.",
                "signature",
            ),
        }
    }
}

/// The Rust SDK's lenient query encoding (`pubnub` crate `PUBNUB_SET`): leaves
/// `, & ' ( ) * ~ - . _` raw. Its signer canonicalises with it (PROTOCOL.md §10.6).
const RUST_SDK_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'?')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'+')
    .add(b'%')
    .add(b'!')
    .add(b'$');

/// PROTOCOL.md §6's strict set (what [`canonical_query`] encodes): all but
/// `A-Z a-z 0-9 - _ .`.
const STRICT_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The parameters the official Python SDK percent-encodes *before* signing, so that its
/// signature covers their wire form (`pubnub/endpoints/presence/*.py`: `state` through
/// `utils.url_write`, `channel-group` through `utils.join_items_and_encode`).
const PYTHON_PRE_ENCODED: [&str; 2] = ["state", "channel-group"];

/// At most this many occurrences of [`PYTHON_PRE_ENCODED`] parameters are tried in
/// both forms (2^N candidates); beyond it only "all of them in wire form" is tried. A
/// real request has at most one of each.
const MAX_PRE_ENCODED: usize = 4;

/// Verifies `signature` and `timestamp` of a request to a keyset with a secret key.
///
/// The candidates, in order (each one HMAC, compared in constant time):
/// 1. PROTOCOL.md §6 exactly: every decoded key and value strictly re-encoded
///    ([`canonical_query`]), the encoded path as received. A request signed per §6 is
///    accepted here, whatever its parameters.
/// 2. The Python SDK's variant: `state` and `channel-group` signed in their wire form
///    (every subset of those present whose wire form differs from the decoded one).
/// 3. The Rust `pubnub` crate's variant: decoded values encoded with its lenient set.
///
/// Keys are always decoded and strictly encoded, and values of candidates 1 and 2 are
/// strictly encoded too, so no `&` or `=` in a candidate comes from inside a name or a
/// value: no parameter can be stripped, split or merged without changing the signed
/// string. (Candidate 3's values may hold a raw `&`, but not a raw `=`, and keys hold
/// neither, so its parameter boundaries are unambiguous as well.)
pub(crate) fn verify_signature(
    keyset: &Keyset,
    secret: &str,
    method: &str,
    raw_path: &str,
    query: &Query<'_>,
    now_secs: u64,
    window_secs: u64,
) -> Result<(), SignatureError> {
    let given = query
        .get("signature")
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::MissingSignature)?;
    let ts: i128 = query
        .get("timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(SignatureError::MissingTimestamp)?
        .into();
    if (ts - i128::from(now_secs)).abs() > i128::from(window_secs) {
        return Err(SignatureError::StaleTimestamp);
    }
    let publish_key = keyset.publish_key.as_deref().unwrap_or("");
    let matches =
        |canonical: &str| verify_v2(secret, method, publish_key, raw_path, canonical, b"", given);
    let params: Vec<_> = query
        .params
        .iter()
        .filter(|p| p.key != "signature")
        .collect();
    let decoded: Vec<(&str, &str)> = params
        .iter()
        .map(|p| (p.key.as_ref(), p.value.as_ref()))
        .collect();
    // 1. §6.
    if matches(&canonical_query(decoded.iter().copied())) {
        return Ok(());
    }
    // 2. Python: some pre-encoded values signed in wire form.
    let pre_encoded: Vec<usize> = params
        .iter()
        .enumerate()
        .filter(|(_, p)| PYTHON_PRE_ENCODED.contains(&p.key.as_ref()) && p.raw_value != p.value)
        .map(|(i, _)| i)
        .collect();
    let masks: Vec<u64> = if pre_encoded.len() <= MAX_PRE_ENCODED {
        (1..1u64 << pre_encoded.len()).collect()
    } else {
        vec![u64::MAX]
    };
    for mask in masks {
        let mut pairs = decoded.clone();
        for (bit, &i) in pre_encoded.iter().enumerate() {
            if bit >= 64 || mask & (1 << bit) != 0 {
                pairs[i].1 = params[i].raw_value;
            }
        }
        if matches(&canonical_query(pairs.iter().copied())) {
            return Ok(());
        }
    }
    // 3. The Rust SDK's lenient value encoding.
    if matches(&lenient_canonical_query(&decoded)) {
        return Ok(());
    }
    Err(SignatureError::Mismatch)
}

/// The canonical query the Rust `pubnub` crate signs: sorted, values encoded with
/// [`RUST_SDK_SET`]. Keys are strictly encoded like [`canonical_query`]'s (the crate's
/// keys are plain ASCII, which that leaves unchanged).
fn lenient_canonical_query(decoded: &[(&str, &str)]) -> String {
    let mut sorted = decoded.to_vec();
    sorted.sort_unstable();
    let items: Vec<String> = sorted
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k.as_bytes(), STRICT_SET),
                percent_encode(v.as_bytes(), RUST_SDK_SET)
            )
        })
        .collect();
    items.join("&")
}

/// Which of `channels` and `groups` the request's `auth` token may not use with any of
/// the permissions `any_of`. `None` when everything is allowed. With
/// `needs_any_token`, a request naming nothing still needs a granted token.
pub(crate) fn denied(
    keyset: &Keyset,
    auth: Option<&str>,
    any_of: Permissions,
    channels: &[String],
    groups: &[String],
    needs_any_token: bool,
) -> Option<(Vec<String>, Vec<String>)> {
    if !keyset.access_manager {
        return None;
    }
    let grants: Vec<&Grant> = match auth {
        Some(a) => keyset.grants.iter().filter(|g| g.token == a).collect(),
        None => Vec::new(),
    };
    let base = |c: &str| c.strip_suffix("-pnpres").unwrap_or(c).to_owned();
    let allowed = |name: &str, list: fn(&Grant) -> &[String]| {
        let name = base(name);
        grants
            .iter()
            .any(|g| g.permissions.intersects(any_of) && list(g).contains(&name))
    };
    let denied_channels: Vec<String> = channels
        .iter()
        .filter(|c| !allowed(c, |g| &g.channels))
        .cloned()
        .collect();
    let denied_groups: Vec<String> = groups
        .iter()
        .filter(|c| !allowed(c, |g| &g.channel_groups))
        .cloned()
        .collect();
    if denied_channels.is_empty()
        && denied_groups.is_empty()
        && !(needs_any_token && grants.is_empty())
    {
        None
    } else {
        Some((denied_channels, denied_groups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query<'_> {
        Query::parse(Some(s)).unwrap()
    }

    #[test]
    fn strict_vector_accepted() {
        // PROTOCOL.md §6 presence vector 1, sent with a raw `,` in channel-group.
        let ks = Keyset::new("sub-c-test")
            .publish_key("pub-c-test")
            .secret_key("sec-c-test");
        let query = q("heartbeat=300&channel-group=cg1,cg2&pnsdk=PubNub-Rust%2F0.6.0&state=%7B%22ch1%22%3A%7B%22mood%22%3A%22happy%22%7D%7D&timestamp=1700000000&uuid=user-1&requestid=6f3c2a8e-0f5d-4f5e-9c61-2b1f7e5d9a10&signature=v2.yW2fVgCf-kGxHJByLMKTgXYcnwCDuJHFBot7hFb92ZE");
        let path = "/v2/presence/sub-key/sub-c-test/channel/ch1,ch%20two/heartbeat";
        assert_eq!(
            verify_signature(&ks, "sec-c-test", "GET", path, &query, 1_700_000_000, 600),
            Ok(())
        );
        assert_eq!(
            verify_signature(&ks, "sec-c-test", "GET", path, &query, 1_700_000_601, 600),
            Err(SignatureError::StaleTimestamp)
        );
        assert_eq!(
            verify_signature(&ks, "other", "GET", path, &query, 1_700_000_000, 600),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn python_double_encoded_state_accepted() {
        // Python signs pam_encode(url_write(state)): the wire form re-encoded.
        let ks = Keyset::new("s").publish_key("p").secret_key("k");
        let path = "/v2/presence/sub-key/s/channel/a/heartbeat";
        let raw_state = "%7B%22mood%22%3A%20%22ok%22%7D";
        let canonical = canonical_query([
            ("heartbeat", "300"),
            ("state", raw_state),
            ("timestamp", "100"),
            ("uuid", "u"),
        ]);
        let sig = sign_v2("k", "GET", "p", path, &canonical, b"");
        let qs = format!("heartbeat=300&state={raw_state}&timestamp=100&uuid=u&signature={sig}");
        let query = q(&qs);
        assert_eq!(
            verify_signature(&ks, "k", "GET", path, &query, 100, 600),
            Ok(())
        );
    }

    #[test]
    fn missing_parts() {
        let ks = Keyset::new("s").secret_key("k");
        assert_eq!(
            verify_signature(&ks, "k", "GET", "/", &q("uuid=u"), 0, 600),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            verify_signature(&ks, "k", "GET", "/", &q("uuid=u&signature=v2.x"), 0, 600),
            Err(SignatureError::MissingTimestamp)
        );
    }

    #[test]
    fn grants() {
        let ks = Keyset::new("s")
            .grant("t", ["a"], ["g"])
            .add_grant(Grant::new("t", Permissions::MANAGE).with_channel_groups(["m"]));
        let ch = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let read = Permissions::READ;
        assert_eq!(
            denied(
                &ks,
                Some("t"),
                read,
                &ch(&["a", "a-pnpres"]),
                &ch(&["g"]),
                true
            ),
            None
        );
        assert_eq!(
            denied(
                &ks,
                Some("t"),
                read,
                &ch(&["a", "b"]),
                &ch(&["g", "h", "m"]),
                false
            ),
            Some((ch(&["b"]), ch(&["h", "m"])))
        );
        // `grant` gives read and write, not manage; the second grant manages `m` only.
        let manage = Permissions::MANAGE;
        assert_eq!(
            denied(&ks, Some("t"), manage, &[], &ch(&["g", "m"]), false),
            Some((vec![], ch(&["g"])))
        );
        assert_eq!(
            denied(&ks, Some("t"), read | manage, &[], &ch(&["g", "m"]), false),
            None
        );
        assert_eq!(
            denied(&ks, None, read, &[], &[], true),
            Some((vec![], vec![]))
        );
        assert_eq!(denied(&ks, None, read, &[], &[], false), None);
        assert_eq!(
            denied(&Keyset::new("s"), None, read, &ch(&["x"]), &[], true),
            None
        );
    }
}
