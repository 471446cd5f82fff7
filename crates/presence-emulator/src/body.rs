//! Response bodies (field order as recorded, PROTOCOL.md §4–§5) and headers.

use crate::wire::{DecodeError, Service};
use http::{header, HeaderValue, Response, StatusCode};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

/// `content-type` of every response, as recorded.
pub(crate) const CONTENT_TYPE: &str = "text/javascript; charset=\"UTF-8\"";

/// Builds a response with the recorded headers.
pub(crate) fn respond(
    status: StatusCode,
    server: &'static str,
    body: Vec<u8>,
) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::SERVER, HeaderValue::from_static(server));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("OPTIONS, GET, POST"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Serializes `value` (our own types: cannot fail) into a response.
pub(crate) fn json<T: Serialize>(
    status: StatusCode,
    service: Service,
    value: &T,
) -> Response<Vec<u8>> {
    // Serializing our own structs (strings, numbers, validated raw JSON) cannot fail;
    // answer a fixed 500 body rather than panicking if it ever did.
    match serde_json::to_vec(value) {
        Ok(body) => respond(status, server_header(service), body),
        Err(_) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            server_header(service),
            br#"{"status":500,"error":true,"message":"Internal Server Error","service":"Presence"}"#
                .to_vec(),
        ),
    }
}

fn server_header(service: Service) -> &'static str {
    match service {
        Service::Presence => "Pubnub Presence",
        Service::ChannelRegistry | Service::Subscribe => "Pubnub",
    }
}

/// `{"status": 400, "error": true, "message": "...", "service": "Presence"}` (PROTOCOL.md
/// §5.1). `error` is the boolean of the recorded 403 body: the SDKs accept it (JS, Python
/// and Go by status, the Rust crate only with a boolean), while the integer form that Go's
/// mocks use makes pubnub 0.9 read a refused heartbeat as a success (found by interop/).
#[derive(Serialize)]
struct ServiceError<'a> {
    status: u16,
    error: bool,
    message: &'a str,
    service: &'a str,
}

/// A service error body: `{"status":S,"error":true,"message":M,"service":...}`.
pub(crate) fn error(status: StatusCode, service: Service, message: &str) -> Response<Vec<u8>> {
    json(
        status,
        service,
        &ServiceError {
            status: status.as_u16(),
            error: true,
            message,
            service: service.name(),
        },
    )
}

/// The `429` of a keyset over its rate limit: the shape of the JS SDK's 429 mock
/// (PROTOCOL.md §5), with `Retry-After: <seconds>`.
pub(crate) fn too_many_requests(service: Service, retry_after: u64) -> Response<Vec<u8>> {
    let mut resp = error(StatusCode::TOO_MANY_REQUESTS, service, "Too Many Requests");
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// A `400` service error body with `message`.
pub(crate) fn bad_request(service: Service, message: &str) -> Response<Vec<u8>> {
    error(StatusCode::BAD_REQUEST, service, message)
}

/// The `400` for a path segment or query value that does not decode (invalid `%XX`
/// escape or invalid UTF-8).
pub(crate) fn decode_error(service: Service, e: DecodeError) -> Response<Vec<u8>> {
    let message = match e {
        DecodeError::Percent => "Invalid percent-encoding",
        DecodeError::Utf8 => "Invalid UTF-8",
    };
    bad_request(service, message)
}

/// The message of the recorded invalid-state error.
pub(crate) const INVALID_JSON: &str = "Invalid JSON specified.";

#[derive(Serialize)]
struct Forbidden<'a> {
    message: &'static str,
    payload: ForbiddenPayload<'a>,
    error: bool,
    service: &'static str,
    status: u16,
}

#[derive(Serialize)]
struct ForbiddenPayload<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    channels: &'a [String],
    #[serde(rename = "channel-groups", skip_serializing_if = "<[_]>::is_empty")]
    channel_groups: &'a [String],
}

/// The recorded Access Manager 403, listing only the denied channels and groups.
pub(crate) fn forbidden(
    service: Service,
    channels: &[String],
    groups: &[String],
) -> Response<Vec<u8>> {
    json(
        StatusCode::FORBIDDEN,
        service,
        &Forbidden {
            message: "Forbidden",
            payload: ForbiddenPayload {
                channels,
                channel_groups: groups,
            },
            error: true,
            service: "Access Manager",
            status: 403,
        },
    )
}

#[derive(Serialize)]
struct SignatureError<'a> {
    error: SignatureErrorInner<'a>,
    service: &'static str,
    status: u16,
}

#[derive(Serialize)]
struct SignatureErrorInner<'a> {
    message: &'static str,
    source: &'static str,
    details: [SignatureDetail<'a>; 1],
}

#[derive(Serialize)]
struct SignatureDetail<'a> {
    message: &'a str,
    location: &'a str,
    #[serde(rename = "locationType")]
    location_type: &'static str,
}

/// The PAM v3 "Invalid signature" 403 (PROTOCOL.md §5.1); `detail` and `location`
/// say what was wrong (`signature` or `timestamp`).
pub(crate) fn invalid_signature(
    service: Service,
    detail: &str,
    location: &str,
) -> Response<Vec<u8>> {
    json(
        StatusCode::FORBIDDEN,
        service,
        &SignatureError {
            error: SignatureErrorInner {
                message: "Invalid signature",
                source: "grant",
                details: [SignatureDetail {
                    message: detail,
                    location,
                    location_type: "query",
                }],
            },
            service: "Access Manager",
            status: 403,
        },
    )
}

/// `{"status": 200, "message": "OK", "service": "Presence"}`.
#[derive(Serialize)]
pub(crate) struct Ok200 {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) service: &'static str,
}

pub(crate) const OK_PRESENCE: Ok200 = Ok200 {
    status: 200,
    message: "OK",
    service: "Presence",
};

/// Recorded leave body: `{"status": 200, "action": "leave", "message": "OK", "service": "Presence"}`.
#[derive(Serialize)]
pub(crate) struct LeaveOk {
    pub(crate) status: u16,
    pub(crate) action: &'static str,
    pub(crate) message: &'static str,
    pub(crate) service: &'static str,
}

/// An entry of `uuids` in here now.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum UuidEntry<'a> {
    Plain(&'a str),
    WithState {
        uuid: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<&'a RawValue>,
    },
}

/// Single-channel here now (recorded key order).
#[derive(Serialize)]
pub(crate) struct HereNowSingle<'a> {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) service: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) uuids: Option<Vec<UuidEntry<'a>>>,
    pub(crate) occupancy: usize,
}

/// One channel in the multi-channel here now.
#[derive(Serialize)]
pub(crate) struct HereNowChannel<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) uuids: Option<Vec<UuidEntry<'a>>>,
    pub(crate) occupancy: usize,
}

/// Multi-channel / group / global here now (recorded key order).
#[derive(Serialize)]
pub(crate) struct HereNowMulti<'a> {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) payload: HereNowPayload<'a>,
    pub(crate) service: &'static str,
}

#[derive(Serialize)]
pub(crate) struct HereNowPayload<'a> {
    pub(crate) channels: Pairs<'a, HereNowChannel<'a>>,
    pub(crate) total_channels: usize,
    pub(crate) total_occupancy: usize,
}

/// Serializes a list of `(name, value)` pairs as a JSON object, in list order.
pub(crate) struct Pairs<'a, T>(pub(crate) Vec<(&'a str, T)>);

impl<T: Serialize> Serialize for Pairs<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Where now (recorded).
#[derive(Serialize)]
pub(crate) struct WhereNow<'a> {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) payload: ChannelsList<'a>,
    pub(crate) service: &'static str,
}

#[derive(Serialize)]
pub(crate) struct ChannelsList<'a> {
    pub(crate) channels: Vec<&'a str>,
}

/// Set state (recorded: echoes the state object).
#[derive(Serialize)]
pub(crate) struct SetState<'a> {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) payload: &'a RawValue,
    pub(crate) service: &'static str,
}

/// Get state, one channel and no groups (recorded `native_sync` key order).
#[derive(Serialize)]
pub(crate) struct GetStateSingle<'a> {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) payload: &'a RawValue,
    pub(crate) uuid: &'a str,
    pub(crate) channel: &'a str,
    pub(crate) service: &'static str,
}

/// Get state, several channels or any group (recorded `payload.channels` shape).
#[derive(Serialize)]
pub(crate) struct GetStateMulti<'a> {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) payload: GetStateChannels<'a>,
    pub(crate) service: &'static str,
    pub(crate) uuid: &'a str,
}

#[derive(Serialize)]
pub(crate) struct GetStateChannels<'a> {
    pub(crate) channels: Pairs<'a, &'a RawValue>,
}

/// Channel-registry success without payload (recorded).
#[derive(Serialize)]
pub(crate) struct RegistryOk {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    pub(crate) service: &'static str,
    pub(crate) error: bool,
}

pub(crate) const REGISTRY_OK: RegistryOk = RegistryOk {
    status: 200,
    message: "OK",
    service: "channel-registry",
    error: false,
};

/// Channel-registry list of a group's channels (recorded).
#[derive(Serialize)]
pub(crate) struct RegistryList<P> {
    pub(crate) status: u16,
    pub(crate) payload: P,
    pub(crate) service: &'static str,
    pub(crate) error: bool,
}

#[derive(Serialize)]
pub(crate) struct GroupChannels<'a> {
    pub(crate) channels: Vec<&'a str>,
    pub(crate) group: &'a str,
}

#[derive(Serialize)]
pub(crate) struct GroupNames<'a> {
    pub(crate) groups: Vec<&'a str>,
}

/// The empty JSON object, for "no state".
pub(crate) fn empty_object() -> &'static RawValue {
    // A valid JSON literal; `from_borrowed` only checks validity.
    static EMPTY: std::sync::OnceLock<Box<RawValue>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| match RawValue::from_string("{}".to_owned()) {
        Ok(v) => v,
        Err(_) => unreachable_empty(),
    })
}

#[cold]
fn unreachable_empty() -> ! {
    panic!("`{{}}` is valid JSON")
}
