//! What handlers read from the request target: raw path segments decoded strictly (a
//! bad `%XX` escape or invalid UTF-8 is the `400` of the handler's service), the
//! `channel-group` list, and the names presence applies to.

use super::Reply;
use crate::body::{bad_request, decode_error};
use crate::wire::{decode, path_list, value_list, Query, Service};

/// One raw path segment (a uuid or a group name), percent-decoded.
pub(crate) fn segment(service: Service, raw: &str) -> Result<String, Reply> {
    decode(raw, false)
        .map(|c| c.into_owned())
        .map_err(|e| decode_error(service, e))
}

/// A raw comma-list path segment (channels), split and decoded (see
/// [`path_list`]).
pub(crate) fn channel_list(service: Service, raw: &str) -> Result<Vec<String>, Reply> {
    path_list(raw).map_err(|e| decode_error(service, e))
}

/// The `channel-group` query list.
pub(crate) fn groups(q: &Query<'_>) -> Vec<String> {
    value_list(q.get("channel-group"))
}

/// The requesting user (`uuid`; the gate has checked it is there).
pub(crate) fn user<'q>(q: &'q Query<'_>) -> &'q str {
    q.get("uuid").unwrap_or_default()
}

/// `names` without the `-pnpres` ones: presence channels are never joined or left.
pub(crate) fn not_pnpres(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| !n.ends_with("-pnpres"))
        .collect()
}

/// The `400` of an operation that needs at least one channel or group.
pub(crate) fn require_targets(
    service: Service,
    channels: &[String],
    groups: &[String],
) -> Result<(), Reply> {
    if channels.is_empty() && groups.is_empty() {
        return Err(bad_request(service, "Missing channels or channel groups"));
    }
    Ok(())
}
