//! Here now: who is on some channels and groups
//! (`/v2/presence/sub-key/{sk}/channel/{channels}`), or on the whole keyset
//! (`/v2/presence/sub-key/{sk}`).

use super::keyset::{Channel, KeysetState};
use super::params::{channel_list, groups};
use super::Reply;
use crate::body::{self, bad_request, UuidEntry};
use crate::config::Permissions;
use crate::wire::{Query, Service};
use http::StatusCode;
use std::sync::Arc;

/// The `server` header of here-now answers (a cached one gets the same headers).
const PRESENCE_SERVER: &str = "Pubnub Presence";

/// Largest accepted here-now `limit`.
const MAX_LIMIT: i64 = 1000;

/// `0`/`1` style flag: `1` or `true` is on, anything else off.
fn flag(query: &Query<'_>, key: &str) -> bool {
    matches!(query.get(key), Some("1" | "true"))
}

/// What a here-now answer depends on besides the model, read from the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HereNowFlags {
    limit: usize,
    offset: usize,
    with_state: bool,
    with_uuids: bool,
}

impl HereNowFlags {
    fn parse(q: &Query<'_>) -> Result<Self, Reply> {
        let svc = Service::Presence;
        let limit = match q.get("limit") {
            None => MAX_LIMIT,
            Some(v) => match v.parse::<i64>() {
                Ok(l) if (0..=MAX_LIMIT).contains(&l) => l,
                _ => return Err(bad_request(svc, "Invalid limit")),
            },
        };
        let offset = match q.get("offset") {
            None => 0,
            Some(v) => match v.parse::<i64>() {
                Ok(o) if o >= 0 => o,
                _ => return Err(bad_request(svc, "Invalid offset")),
            },
        };
        let limit = usize::try_from(limit).unwrap_or(0);
        Ok(HereNowFlags {
            limit,
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            with_state: flag(q, "state"),
            with_uuids: !(flag(q, "disable_uuids") || flag(q, "disable-uuids")) && limit > 0,
        })
    }
}

/// The key of a cached here-now answer, as the service would key it: the channels and
/// groups asked for (`None`: the whole keyset) and the flags; the keyset is the cache's
/// own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HereNowKey {
    target: Option<(Vec<String>, Vec<String>)>,
    flags: HereNowFlags,
}

impl KeysetState {
    /// Here now on the whole keyset.
    pub(crate) fn here_now_global(&mut self, now: u64, q: &Query<'_>) -> Result<Reply, Reply> {
        self.check_access(Service::Presence, q, Permissions::ALL, (&[], &[]), true)?;
        self.advance_to(now);
        self.here_now_cached(now, q, None)
    }

    /// Here now on the channels of the path and the `channel-group`s of the query.
    pub(crate) fn here_now_channels(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_channels: &str,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        let (channels, groups) = (channel_list(svc, raw_channels)?, groups(q));
        self.check_access(svc, q, Permissions::READ, (&channels, &groups), false)?;
        self.advance_to(now);
        self.here_now_cached(now, q, Some((channels, groups)))
    }

    /// Here now through the cache (when on): the stored body while it is fresh, else a
    /// new answer, stored.
    fn here_now_cached(
        &mut self,
        now: u64,
        q: &Query<'_>,
        target: Option<(Vec<String>, Vec<String>)>,
    ) -> Result<Reply, Reply> {
        let flags = HereNowFlags::parse(q)?;
        if !self.here_now_cache.enabled() {
            return Ok(self.here_now(flags, target.as_ref()));
        }
        let key = HereNowKey { target, flags };
        if let Some(cached) = self.here_now_cache.get(now, &key) {
            return Ok(body::respond(
                StatusCode::OK,
                PRESENCE_SERVER,
                cached.to_vec(),
            ));
        }
        let resp = self.here_now(flags, key.target.as_ref());
        self.here_now_cache
            .put(now, key, Arc::from(resp.body().as_slice()));
        Ok(resp)
    }

    fn here_now(&self, flags: HereNowFlags, target: Option<&(Vec<String>, Vec<String>)>) -> Reply {
        let svc = Service::Presence;
        let HereNowFlags {
            limit,
            offset,
            with_state,
            with_uuids,
        } = flags;
        let uuids = |c| uuid_list(c, with_uuids, with_state, offset, limit);
        let names: Vec<&Channel> = match target {
            Some((channels, groups)) if channels.len() == 1 && groups.is_empty() => {
                let c = self.channels.get(channels[0].as_str());
                return body::json(
                    StatusCode::OK,
                    svc,
                    &body::HereNowSingle {
                        status: 200,
                        message: "OK",
                        service: "Presence",
                        uuids: match c {
                            Some(c) => uuids(c),
                            None => with_uuids.then(Vec::new),
                        },
                        occupancy: c.map_or(0, |c| c.occupants.len()),
                    },
                );
            }
            Some((channels, groups)) => self
                .groups
                .resolve(channels, groups)
                .channels
                .iter()
                .filter_map(|(c, _)| self.channels.get(c.as_str()))
                .collect(),
            None => {
                let mut all: Vec<&Channel> = self.channels.values().collect();
                all.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                all
            }
        };
        let total_occupancy = names.iter().map(|c| c.occupants.len()).sum();
        let entries: Vec<(&str, body::HereNowChannel<'_>)> = names
            .iter()
            .map(|c| {
                (
                    &*c.name,
                    body::HereNowChannel {
                        uuids: uuids(c),
                        occupancy: c.occupants.len(),
                    },
                )
            })
            .collect();
        body::json(
            StatusCode::OK,
            svc,
            &body::HereNowMulti {
                status: 200,
                message: "OK",
                payload: body::HereNowPayload {
                    total_channels: entries.len(),
                    channels: body::Pairs(entries),
                    total_occupancy,
                },
                service: "Presence",
            },
        )
    }
}

/// The `uuids` of one channel: `None` without uuids, else the page `offset..offset+limit`
/// with or without each occupant's state.
fn uuid_list(
    c: &Channel,
    with_uuids: bool,
    with_state: bool,
    offset: usize,
    limit: usize,
) -> Option<Vec<UuidEntry<'_>>> {
    with_uuids.then(|| {
        c.occupants
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(n, o)| {
                if with_state {
                    UuidEntry::WithState {
                        uuid: n,
                        state: o.state.as_deref(),
                    }
                } else {
                    UuidEntry::Plain(n)
                }
            })
            .collect()
    })
}
