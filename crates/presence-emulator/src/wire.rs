//! Parsing of the raw request target: strict percent-decoding, query pairs, routes.
//!
//! Nothing here trusts the client: invalid `%XX` escapes and invalid UTF-8 are errors,
//! never silently passed through.

use std::borrow::Cow;
use std::collections::HashSet;

/// Why a piece of the request target could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A `%` not followed by two hex digits.
    Percent,
    /// The decoded bytes are not UTF-8.
    Utf8,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Strictly percent-decodes `raw`; with `plus_as_space`, `+` decodes to a space
/// (query values, PROTOCOL.md §3.4).
pub(crate) fn decode(raw: &str, plus_as_space: bool) -> Result<Cow<'_, str>, DecodeError> {
    let bytes = raw.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_as_space && b == b'+'))
    {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(DecodeError::Percent),
                }
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::Utf8)
}

/// One query parameter, raw (as received) and decoded.
#[derive(Debug)]
pub(crate) struct Param<'a> {
    pub(crate) raw_value: &'a str,
    pub(crate) key: Cow<'a, str>,
    pub(crate) value: Cow<'a, str>,
}

/// The decoded query string, in received order (duplicates kept; lookups take the first).
#[derive(Debug, Default)]
pub(crate) struct Query<'a> {
    pub(crate) params: Vec<Param<'a>>,
}

impl<'a> Query<'a> {
    pub(crate) fn parse(raw: Option<&'a str>) -> Result<Self, DecodeError> {
        let mut params = Vec::new();
        for piece in raw.unwrap_or_default().split('&') {
            if piece.is_empty() {
                continue;
            }
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            params.push(Param {
                raw_value: v,
                key: decode(k, true)?,
                value: decode(v, true)?,
            });
        }
        Ok(Query { params })
    }

    /// The first value of `key`, decoded.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_ref())
    }
}

/// Splits a comma list: for path segments the raw segment is split on literal `,`
/// first and each piece decoded (a segment of only `,` is the empty list); empty
/// pieces are skipped and duplicates dropped (first occurrence wins).
pub(crate) fn path_list(raw: &str) -> Result<Vec<String>, DecodeError> {
    let mut names = Vec::new();
    for piece in raw.split(',') {
        if !piece.is_empty() {
            names.push(decode(piece, false)?.into_owned());
        }
    }
    Ok(dedup(names))
}

/// `names` without repeats, first occurrence first; linear (a hash set of those seen).
fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::with_capacity(names.len());
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// Splits an already-decoded comma list (the `channel-group` value, `add=`, `remove=`).
pub(crate) fn value_list(decoded: Option<&str>) -> Vec<String> {
    dedup(
        decoded
            .unwrap_or_default()
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// Which service answers a route (for the `service` field of error bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Presence,
    ChannelRegistry,
    Subscribe,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Presence => "Presence",
            Service::ChannelRegistry => "channel-registry",
            Service::Subscribe => "Subscribe",
        }
    }

    /// Guesses the service from a path that did not route (for 404/414 bodies).
    pub(crate) fn of_path(path: &str) -> Service {
        if path.starts_with("/v1/channel-registration") {
            Service::ChannelRegistry
        } else if path.starts_with("/v2/subscribe") {
            Service::Subscribe
        } else {
            Service::Presence
        }
    }
}

/// A request path the emulator serves: the time endpoint, or a route on one keyset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// `/time/0`: the only endpoint without a subscribe key.
    Time,
    /// Everything else names a keyset.
    Keyset(Route<'a>),
}

/// A route on one keyset: the raw (still encoded) subscribe-key segment, the service
/// that answers it and what it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route<'a> {
    pub(crate) sub_key: &'a str,
    pub(crate) service: Service,
    pub(crate) kind: RouteKind<'a>,
}

/// The endpoints on a keyset. Fields hold raw (still encoded) path segments; each
/// handler decodes its own. A new endpoint is one variant here, its arm in
/// [`Target::parse`], its arm in the model's dispatch and its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind<'a> {
    /// `/v2/presence/sub-key/{sk}`
    HereNowGlobal,
    /// `/v2/presence/sub-key/{sk}/channel/{channels}`
    HereNow { channels: &'a str },
    /// `/v2/presence/sub-key/{sk}/channel/{channels}/heartbeat`
    Heartbeat { channels: &'a str },
    /// `/v2/presence/sub-key/{sk}/channel/{channels}/leave`
    Leave { channels: &'a str },
    /// `/v2/presence/sub-key/{sk}/channel/{channels}/uuid/{uuid}`
    GetState { channels: &'a str, uuid: &'a str },
    /// `/v2/presence/sub-key/{sk}/channel/{channels}/uuid/{uuid}/data`
    SetState { channels: &'a str, uuid: &'a str },
    /// `/v2/presence/sub-key/{sk}/uuid/{uuid}`
    WhereNow { uuid: &'a str },
    /// `/v1/channel-registration/sub-key/{sk}/channel-group`
    ListGroups,
    /// `/v1/channel-registration/sub-key/{sk}/channel-group/{group}`
    Group { group: &'a str },
    /// `/v1/channel-registration/sub-key/{sk}/channel-group/{group}/remove`
    DeleteGroup { group: &'a str },
    /// `/v2/subscribe/{sk}/{channels}/0`
    Subscribe { channels: &'a str },
}

impl<'a> Target<'a> {
    /// Routes a raw path; `None` when the emulator does not serve it. The service is
    /// the one of the path family (`/v2/presence`, `/v1/channel-registration`,
    /// `/v2/subscribe`), so a new route in a family only needs its own arm.
    pub(crate) fn parse(path: &'a str) -> Option<Target<'a>> {
        use RouteKind::*;
        let rest = path.strip_prefix('/')?;
        let segs: Vec<&'a str> = rest.split('/').collect();
        let is_sk = |s: &str| s == "sub-key" || s == "sub_key";
        let (sub_key, service, kind) = match segs.as_slice() {
            ["time", "0"] => return Some(Target::Time),
            ["v2", "presence", k, sk, tail @ ..] if is_sk(k) => {
                let kind = match tail {
                    [] => HereNowGlobal,
                    ["channel", channels] => HereNow { channels },
                    ["channel", channels, "heartbeat"] => Heartbeat { channels },
                    ["channel", channels, "leave"] => Leave { channels },
                    ["channel", channels, "uuid", uuid] => GetState { channels, uuid },
                    ["channel", channels, "uuid", uuid, "data"] => SetState { channels, uuid },
                    ["uuid", uuid] => WhereNow { uuid },
                    _ => return None,
                };
                (*sk, Service::Presence, kind)
            }
            ["v1", "channel-registration", k, sk, "channel-group", tail @ ..] if is_sk(k) => {
                let kind = match tail {
                    [] => ListGroups,
                    [group] => Group { group },
                    [group, "remove"] => DeleteGroup { group },
                    _ => return None,
                };
                (*sk, Service::ChannelRegistry, kind)
            }
            ["v2", "subscribe", sk, channels, "0"] => {
                (*sk, Service::Subscribe, Subscribe { channels })
            }
            _ => return None,
        };
        Some(Target::Keyset(Route {
            sub_key,
            service,
            kind,
        }))
    }

    /// Which service answers this target (for the `service` field of error bodies).
    pub(crate) fn service(&self) -> Service {
        match self {
            Target::Time => Service::Presence,
            Target::Keyset(route) => route.service,
        }
    }
}

/// Removes whitespace outside strings from valid JSON text (keeps key order and
/// number spelling; the input must already be validated).
pub(crate) fn minify_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_decoding() {
        assert_eq!(decode("a%20b", false).unwrap(), "a b");
        assert_eq!(decode("a+b", false).unwrap(), "a+b");
        assert_eq!(decode("a+b", true).unwrap(), "a b");
        assert_eq!(decode("%E9%A2%91", false).unwrap(), "频");
        assert_eq!(decode("%zz", false), Err(DecodeError::Percent));
        assert_eq!(decode("%2", false), Err(DecodeError::Percent));
        assert_eq!(decode("%FF", false), Err(DecodeError::Utf8));
    }

    #[test]
    fn lists() {
        assert_eq!(path_list(",").unwrap(), Vec::<String>::new());
        assert_eq!(path_list("a%2Cb,c%20d").unwrap(), vec!["a,b", "c d"]);
        assert_eq!(path_list("a,,a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(value_list(Some("g1,g/2")), vec!["g1", "g/2"]);
        assert_eq!(value_list(None), Vec::<String>::new());
    }

    #[test]
    fn routes() {
        let route = |sub_key, service, kind| {
            Some(Target::Keyset(Route {
                sub_key,
                service,
                kind,
            }))
        };
        let presence = |kind| route("k", Service::Presence, kind);
        let registry = |kind| route("k", Service::ChannelRegistry, kind);
        let cases = [
            ("/v2/presence/sub-key/k", presence(RouteKind::HereNowGlobal)),
            (
                "/v2/presence/sub-key/k/channel/a,b",
                presence(RouteKind::HereNow { channels: "a,b" }),
            ),
            (
                "/v2/presence/sub_key/k/channel/a,b/heartbeat",
                presence(RouteKind::Heartbeat { channels: "a,b" }),
            ),
            (
                "/v2/presence/sub-key/k/channel/a/leave",
                presence(RouteKind::Leave { channels: "a" }),
            ),
            (
                "/v2/presence/sub-key/k/channel/a/uuid/u",
                presence(RouteKind::GetState {
                    channels: "a",
                    uuid: "u",
                }),
            ),
            (
                "/v2/presence/sub-key/k/channel/a/uuid/u/data",
                presence(RouteKind::SetState {
                    channels: "a",
                    uuid: "u",
                }),
            ),
            (
                "/v2/presence/sub-key/k/uuid/",
                presence(RouteKind::WhereNow { uuid: "" }),
            ),
            (
                "/v1/channel-registration/sub-key/k/channel-group",
                registry(RouteKind::ListGroups),
            ),
            (
                "/v1/channel-registration/sub_key/k/channel-group/g",
                registry(RouteKind::Group { group: "g" }),
            ),
            (
                "/v1/channel-registration/sub-key/k/channel-group/g/remove",
                registry(RouteKind::DeleteGroup { group: "g" }),
            ),
            (
                "/v2/subscribe/k/a,b/0",
                route(
                    "k",
                    Service::Subscribe,
                    RouteKind::Subscribe { channels: "a,b" },
                ),
            ),
            ("/time/0", Some(Target::Time)),
            ("/v2/presence/sub-key/k/nope", None),
            ("/v2/presence/sub-key/k/channel/a/uuid/u/data/x", None),
            ("/v2/presence/key/k", None),
            ("/v1/channel-registration/sub-key/k/channel-group/g/x", None),
            ("/v2/subscribe/k/a/1", None),
            ("/time/1", None),
            ("v2/presence/sub-key/k", None),
        ];
        for (path, expected) in cases {
            assert_eq!(Target::parse(path), expected, "{path}");
        }
    }

    #[test]
    fn minify() {
        assert_eq!(
            minify_json("{\"count\": 5, \"name\": \"A l\\\"ex\" }"),
            "{\"count\":5,\"name\":\"A l\\\"ex\"}"
        );
    }
}
