//! Parsing of the raw request target: strict percent-decoding, query pairs, routes.
//!
//! Nothing here trusts the client: invalid `%XX` escapes and invalid UTF-8 are errors,
//! never silently passed through.

use std::borrow::Cow;

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
    let mut out: Vec<String> = Vec::new();
    for piece in raw.split(',') {
        if piece.is_empty() {
            continue;
        }
        let name = decode(piece, false)?;
        if !out.iter().any(|n| *n == name) {
            out.push(name.into_owned());
        }
    }
    Ok(out)
}

/// Splits an already-decoded comma list (the `channel-group` value, `add=`, `remove=`).
pub(crate) fn value_list(decoded: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in decoded.unwrap_or_default().split(',') {
        if !piece.is_empty() && !out.iter().any(|n| n == piece) {
            out.push(piece.to_owned());
        }
    }
    out
}

/// The endpoints the emulator serves. Fields hold raw (still encoded) path segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    HereNowGlobal {
        sk: &'a str,
    },
    HereNow {
        sk: &'a str,
        channels: &'a str,
    },
    Heartbeat {
        sk: &'a str,
        channels: &'a str,
    },
    Leave {
        sk: &'a str,
        channels: &'a str,
    },
    GetState {
        sk: &'a str,
        channels: &'a str,
        uuid: &'a str,
    },
    SetState {
        sk: &'a str,
        channels: &'a str,
        uuid: &'a str,
    },
    WhereNow {
        sk: &'a str,
        uuid: &'a str,
    },
    ListGroups {
        sk: &'a str,
    },
    Group {
        sk: &'a str,
        group: &'a str,
    },
    DeleteGroup {
        sk: &'a str,
        group: &'a str,
    },
    Subscribe {
        sk: &'a str,
        channels: &'a str,
    },
    Time,
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

impl<'a> Route<'a> {
    pub(crate) fn parse(path: &'a str) -> Option<Route<'a>> {
        let rest = path.strip_prefix('/')?;
        let segs: Vec<&'a str> = rest.split('/').collect();
        let is_sk = |s: &str| s == "sub-key" || s == "sub_key";
        match segs.as_slice() {
            ["v2", "presence", k, sk] if is_sk(k) => Some(Route::HereNowGlobal { sk }),
            ["v2", "presence", k, sk, "channel", channels] if is_sk(k) => {
                Some(Route::HereNow { sk, channels })
            }
            ["v2", "presence", k, sk, "channel", channels, "heartbeat"] if is_sk(k) => {
                Some(Route::Heartbeat { sk, channels })
            }
            ["v2", "presence", k, sk, "channel", channels, "leave"] if is_sk(k) => {
                Some(Route::Leave { sk, channels })
            }
            ["v2", "presence", k, sk, "channel", channels, "uuid", uuid] if is_sk(k) => {
                Some(Route::GetState { sk, channels, uuid })
            }
            ["v2", "presence", k, sk, "channel", channels, "uuid", uuid, "data"] if is_sk(k) => {
                Some(Route::SetState { sk, channels, uuid })
            }
            ["v2", "presence", k, sk, "uuid", uuid] if is_sk(k) => {
                Some(Route::WhereNow { sk, uuid })
            }
            ["v1", "channel-registration", k, sk, "channel-group"] if is_sk(k) => {
                Some(Route::ListGroups { sk })
            }
            ["v1", "channel-registration", k, sk, "channel-group", group] if is_sk(k) => {
                Some(Route::Group { sk, group })
            }
            ["v1", "channel-registration", k, sk, "channel-group", group, "remove"] if is_sk(k) => {
                Some(Route::DeleteGroup { sk, group })
            }
            ["v2", "subscribe", sk, channels, "0"] => Some(Route::Subscribe { sk, channels }),
            ["time", "0"] => Some(Route::Time),
            _ => None,
        }
    }

    pub(crate) fn service(&self) -> Service {
        match self {
            Route::ListGroups { .. } | Route::Group { .. } | Route::DeleteGroup { .. } => {
                Service::ChannelRegistry
            }
            Route::Subscribe { .. } => Service::Subscribe,
            _ => Service::Presence,
        }
    }

    /// The raw subscribe-key segment, if the route has one.
    pub(crate) fn sub_key(&self) -> Option<&'a str> {
        match *self {
            Route::HereNowGlobal { sk }
            | Route::HereNow { sk, .. }
            | Route::Heartbeat { sk, .. }
            | Route::Leave { sk, .. }
            | Route::GetState { sk, .. }
            | Route::SetState { sk, .. }
            | Route::WhereNow { sk, .. }
            | Route::ListGroups { sk }
            | Route::Group { sk, .. }
            | Route::DeleteGroup { sk, .. }
            | Route::Subscribe { sk, .. } => Some(sk),
            Route::Time => None,
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
        assert_eq!(
            Route::parse("/v2/presence/sub_key/k/channel/a,b/heartbeat"),
            Some(Route::Heartbeat {
                sk: "k",
                channels: "a,b"
            })
        );
        assert_eq!(
            Route::parse("/v2/presence/sub-key/k/uuid/"),
            Some(Route::WhereNow { sk: "k", uuid: "" })
        );
        assert_eq!(Route::parse("/v2/presence/sub-key/k/nope"), None);
        assert_eq!(Route::parse("v2/presence/sub-key/k"), None);
    }

    #[test]
    fn minify() {
        assert_eq!(
            minify_json("{\"count\": 5, \"name\": \"A l\\\"ex\" }"),
            "{\"count\":5,\"name\":\"A l\\\"ex\"}"
        );
    }
}
