//! Request signing, signature v2 (PROTOCOL.md §6).
//!
//! ```text
//! string_to_sign = METHOD \n publish_key \n path \n canonical_query \n body
//! signature      = "v2." + base64url_no_pad(HMAC-SHA256(secret_key, string_to_sign))
//! ```
//! `canonical_query` is every query parameter except `signature`, sorted by key
//! (byte order), `key=value` joined by `&`, each *decoded* key and value re-encoded
//! with the strict [`crate::encoding::SIGNATURE`] set. Encoding the keys too means no
//! `&` or `=` of the canonical string can come from inside a name or a value, so a
//! signed parameter set has exactly one canonical string: a parameter cannot be
//! stripped or merged into another by moving separators into a key.
//!
//! The emulator verifies signatures with the same functions, so client and server
//! agree by construction; the test vectors below pin both to the official SDKs.

use crate::encoding::{push_encoded, Set};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Builds the canonical query string from decoded `(key, value)` pairs.
///
/// Pairs named `signature` are skipped; the rest are sorted by key (then value), and
/// both keys and values are percent-encoded with the strict signature set. The keys
/// the SDKs send are plain ASCII (`uuid`, `channel-group`, …), which the set leaves
/// unchanged, so encoding keys changes no signature they compute.
///
/// ```
/// let q = presence_core::canonical_query([("uuid", "a b"), ("heartbeat", "300")]);
/// assert_eq!(q, "heartbeat=300&uuid=a%20b");
/// // A key holding separators stays one parameter.
/// let q = presence_core::canonical_query([("channel-group=g&heartbeat", "600")]);
/// assert_eq!(q, "channel-group%3Dg%26heartbeat=600");
/// ```
pub fn canonical_query<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(k, _)| *k != "signature")
        .collect();
    pairs.sort_unstable();
    let mut out =
        String::with_capacity(pairs.iter().map(|(k, v)| (k.len() + v.len()) * 3 + 2).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push_encoded(&mut out, k, Set::Signature);
        out.push('=');
        push_encoded(&mut out, v, Set::Signature);
    }
    out
}

/// Computes the v2 signature over an already-canonical query.
///
/// ```
/// // pubnub/rust `src/transport/middleware.rs` test vector.
/// let sig = presence_core::sign_v2(
///     "secKey", "GET", "pubKey",
///     "/publish/pubKey/subKey/0/my_channel/0/%22hello%21%22",
///     "pnsdk=PubNub-Rust&store=1&timestamp=1679642098&ttl=10&uuid=userId",
///     b"",
/// );
/// assert_eq!(sig, "v2.AHl5lMpzyT4qcvvlqaszCjTUqU6dPb10a4_XSaYCNIQ");
/// ```
pub fn sign_v2(
    secret_key: &str,
    method: &str,
    publish_key: &str,
    path: &str,
    canonical_query: &str,
    body: &[u8],
) -> String {
    let digest = mac(secret_key, method, publish_key, path, canonical_query, body).finalize();
    let mut out = String::with_capacity(46);
    out.push_str("v2.");
    URL_SAFE_NO_PAD.encode_string(digest.into_bytes(), &mut out);
    out
}

/// Checks a `signature=` value against the string to sign, in constant time (the hmac
/// crate's `verify_slice`): true when `given` is exactly the `v2.` signature
/// [`sign_v2`] computes for the same inputs. For servers verifying requests.
///
/// ```
/// let (secret, path, query) = ("sec", "/v2/presence/sub-key/demo/uuid/me", "timestamp=1&uuid=me");
/// let sig = presence_core::sign_v2(secret, "GET", "pub", path, query, b"");
/// assert!(presence_core::verify_v2(secret, "GET", "pub", path, query, b"", &sig));
/// assert!(!presence_core::verify_v2(secret, "GET", "pub", path, "timestamp=2&uuid=me", b"", &sig));
/// assert!(!presence_core::verify_v2(secret, "GET", "pub", path, query, b"", "v2.AAAA"));
/// ```
pub fn verify_v2(
    secret_key: &str,
    method: &str,
    publish_key: &str,
    path: &str,
    canonical_query: &str,
    body: &[u8],
    given: &str,
) -> bool {
    let Some(tag) = given
        .strip_prefix("v2.")
        .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
    else {
        return false;
    };
    mac(secret_key, method, publish_key, path, canonical_query, body)
        .verify_slice(&tag)
        .is_ok()
}

/// The HMAC-SHA256 of the v2 string to sign.
fn mac(
    secret_key: &str,
    method: &str,
    publish_key: &str,
    path: &str,
    canonical_query: &str,
    body: &[u8],
) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret_key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    mac.update(method.to_ascii_uppercase().as_bytes());
    mac.update(b"\n");
    mac.update(publish_key.as_bytes());
    mac.update(b"\n");
    mac.update(path.as_bytes());
    mac.update(b"\n");
    mac.update(canonical_query.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` only errors for fixed-size-key MACs; HMAC takes any key.
    panic!("HMAC-SHA256 rejected a key, which the hmac crate documents as impossible")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_vector_1() {
        let q = "l_obj=0.4545555556&l_pam=1.145&pnsdk=PubNubCSharp4.0.34.0&requestid=19e1dee9-2f87-45d6-97e5-3f4d3f9779a2&timestamp=1568724043&uuid=mytestuuid";
        assert_eq!(
            sign_v2(
                "sec-c-MmUxNTZjMmYtNzFkNS00OAkzLWE2YjctNmQ4YzE5NWNmZDA3",
                "GET",
                "pub-c-03f156ea-a2e9-4c35-a733-9535824be897",
                "/v1/objects/sub-c-d7da9e59-c997-11e9-a139-dab2c75acd6f/spaces/pandu-ut-sid/users",
                q,
                b""
            ),
            "v2.TcZdUURiXAnxJgN4OLPczxzH4MQO87l-yKfE4fyUHGc"
        );
    }

    #[test]
    fn go_vector_2_from_decoded_pairs() {
        let q = canonical_query([
            ("uuid", "pn-856feea0-5ba3-4c6d-85a2-a67efa1f4e20"),
            ("timestamp", "1577364610"),
            ("pnsdk", "NET461CSharp4.5.0.0"),
            ("include", "custom"),
            ("filter", "name=='newnamemodified'"),
            ("count", "true"),
        ]);
        assert_eq!(q, "count=true&filter=name%3D%3D%27newnamemodified%27&include=custom&pnsdk=NET461CSharp4.5.0.0&timestamp=1577364610&uuid=pn-856feea0-5ba3-4c6d-85a2-a67efa1f4e20");
        assert_eq!(
            sign_v2(
                "sec-c-ZDkzZTBkOTEtNTQxZS00VmQ3LTljMWUtMTNiNGZjNWUwMTVk",
                "GET",
                "pub-c-38994634-9e06-4967-bc66-2ac2cef65ed9",
                "/v1/objects/sub-c-c9710929-1b7a-11e3-a0c8-02ee2ddab7fe/users",
                &q,
                b""
            ),
            "v2.w39EWDHc0ibDCxOD2jiJEutjpc_1VJ1SDyGaABEljSs"
        );
    }

    #[test]
    fn go_vector_post_with_body() {
        let q = canonical_query([("PoundsSterling", "£13.37"), ("timestamp", "123456789")]);
        assert_eq!(q, "PoundsSterling=%C2%A313.37&timestamp=123456789");
    }

    #[test]
    fn presence_vectors() {
        let q = canonical_query([
            ("heartbeat", "300"),
            ("channel-group", "cg1,cg2"),
            ("pnsdk", "PubNub-Rust/0.6.0"),
            ("state", r#"{"ch1":{"mood":"happy"}}"#),
            ("timestamp", "1700000000"),
            ("uuid", "user-1"),
            ("requestid", "6f3c2a8e-0f5d-4f5e-9c61-2b1f7e5d9a10"),
        ]);
        assert_eq!(
            sign_v2(
                "sec-c-test",
                "GET",
                "pub-c-test",
                "/v2/presence/sub-key/sub-c-test/channel/ch1,ch%20two/heartbeat",
                &q,
                b""
            ),
            "v2.yW2fVgCf-kGxHJByLMKTgXYcnwCDuJHFBot7hFb92ZE"
        );
        let q = canonical_query([
            ("limit", "1000"),
            ("pnsdk", "PubNub-Rust/0.6.0"),
            ("state", "1"),
            ("timestamp", "1700000000"),
            ("uuid", "user-1"),
        ]);
        assert_eq!(
            sign_v2(
                "sec-c-test",
                "GET",
                "pub-c-test",
                "/v2/presence/sub-key/sub-c-test/channel/ch1",
                &q,
                b""
            ),
            "v2.MZrEw_9A77_jAT03v-4yIgrh7RyWU_32zCnEjeJ8Ivw"
        );
        let q = canonical_query([
            ("pnsdk", "PubNub-Rust/0.6.0"),
            ("timestamp", "1700000000"),
            ("uuid", "user-1"),
        ]);
        assert_eq!(
            sign_v2(
                "sec-c-test",
                "GET",
                "",
                "/v2/presence/sub-key/sub-c-test/uuid/user-1",
                &q,
                b""
            ),
            "v2.2jJwV4WNkFZnrrnuz0oCk6SGe0_sGuykLtDmwDFu6QA"
        );
    }

    #[test]
    fn keys_are_encoded_so_no_parameter_can_be_stripped_or_merged() {
        // Plain ASCII keys (every key an SDK sends) are unchanged: the vectors above
        // still hold.
        assert_eq!(
            canonical_query([
                ("channel-group", "g"),
                ("heartbeat", "600"),
                ("uuid", "bob")
            ]),
            "channel-group=g&heartbeat=600&uuid=bob"
        );
        // The same bytes moved into one key are a different canonical string, so a
        // signature for the three parameters above does not cover the one below.
        let merged = canonical_query([("channel-group=g&heartbeat", "600"), ("uuid", "bob")]);
        assert_eq!(merged, "channel-group%3Dg%26heartbeat=600&uuid=bob");
        let sig = sign_v2(
            "sec",
            "GET",
            "pub",
            "/p",
            "channel-group=g&heartbeat=600&uuid=bob",
            b"",
        );
        assert!(!verify_v2("sec", "GET", "pub", "/p", &merged, b"", &sig));
        // Non-ASCII and reserved bytes in a key get the strict set, like values.
        assert_eq!(canonical_query([("ü k*", "v")]), "%C3%BC%20k%2A=v");
    }

    #[test]
    fn verify_accepts_only_the_exact_signature() {
        let q = "timestamp=1700000000&uuid=user-1";
        let path = "/v2/presence/sub-key/sub-c-test/uuid/user-1";
        let sig = sign_v2("sec-c-test", "GET", "", path, q, b"");
        assert!(verify_v2("sec-c-test", "get", "", path, q, b"", &sig));
        for wrong in [
            sig.trim_start_matches("v2.").to_owned(),
            format!("{sig}A"),
            sig[..sig.len() - 1].to_owned(),
            sig.replace("v2.", "v1."),
            String::new(),
            "v2.!!".to_owned(),
        ] {
            assert!(
                !verify_v2("sec-c-test", "GET", "", path, q, b"", &wrong),
                "{wrong}"
            );
        }
        assert!(!verify_v2("other", "GET", "", path, q, b"", &sig));
    }
}
