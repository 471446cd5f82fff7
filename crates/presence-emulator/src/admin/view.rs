//! The JSON the admin API answers with besides the snapshot: the clock, the stats, the
//! fault rules, and
//! the inspector's view (keysets, the newest events, stats, clock) that the stream
//! sends.

use crate::events::Payload;
use crate::server::Shared;
use crate::snapshot::keyset_snapshot;
use crate::stats::{operation_label, status_label, EmulatorStats};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;

/// Channels per keyset the inspector lists (the first by name).
const VIEW_CHANNELS: usize = 200;
/// Occupants per channel the inspector lists (the first by user id).
const VIEW_OCCUPANTS: usize = 100;
/// Events the inspector's feed shows, newest first.
const VIEW_EVENTS: usize = 100;

/// `GET /clock`: `now` (seconds since the epoch), its `timetoken`, whether the clock is
/// `paused`, and the seconds `advanced` so far.
pub(crate) fn clock(shared: &Shared) -> Value {
    let now = shared.clock.now();
    let advanced = shared.clock.offset_nanos.load(Ordering::SeqCst) as f64 / 1e9;
    json!({
        "now": now.as_secs_f64(),
        "timetoken": (now.as_nanos() / 100).to_string(),
        "paused": shared.clock.paused_at.is_some(),
        "advanced": advanced,
    })
}

/// `GET /faults` (and the answer to `PUT` and `DELETE`): the active rules in order,
/// each in the JSON form plus its `--fault` text as `text`.
pub(crate) fn faults(shared: &Shared) -> Value {
    let rules: Vec<Value> = shared
        .faults
        .list()
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("text".into(), r.to_string().into());
            }
            v
        })
        .collect();
    json!({ "rules": rules })
}

/// `GET /stats`.
pub(crate) fn stats(s: &EmulatorStats) -> Value {
    let mut by_op: Map<String, Value> = Map::new();
    for r in &s.requests {
        let entry = by_op
            .entry(operation_label(r.operation))
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(statuses) = entry {
            statuses.insert(status_label(r.status), r.count.into());
        }
    }
    let c = &s.connections;
    json!({
        "requests": {"total": s.requests_of(None), "by_operation": by_op},
        "admin_requests": s.admin_requests,
        "occupants": s.model.occupants,
        "channels": s.model.channels,
        "users": s.model.users,
        "channel_groups": s.model.groups,
        "events": {
            "generated": s.events_generated,
            "kept": s.model.events,
            "bytes": s.model.event_bytes,
        },
        "connections": {
            "open": c.active + c.long_polls,
            "busy": c.active - c.idle,
            "idle": c.idle,
            "long_polls": c.long_polls,
            "evicted": c.evicted,
            "released": c.released,
        },
    })
}

/// What the inspector shows: keysets (their first channels and occupants), the newest
/// presence events over every keyset, stats and clock.
pub(crate) fn inspector(shared: &Shared) -> Value {
    let now = shared.clock.now();
    let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
    let counters = shared.stats();
    let model = shared.read();
    let mut keys: Vec<&String> = model.keysets.keys().collect();
    keys.sort();
    let mut keysets = Vec::new();
    let mut events: Vec<(u64, Value)> = Vec::new();
    for key in keys {
        let ks = model.lock(&model.keysets[key]);
        let snap = keyset_snapshot(&ks, now_ns, VIEW_CHANNELS, VIEW_OCCUPANTS);
        let mut v = serde_json::to_value(&snap).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("channels_total".into(), ks.channels.len().into());
        }
        keysets.push(v);
        for e in ks.events.recent(VIEW_EVENTS) {
            let event = json!({
                "keyset": key,
                "channel": &*e.channel,
                "timetoken": e.tt.to_string(),
                "event": serde_json::to_value(Payload(e)).unwrap_or(Value::Null),
            });
            events.push((e.tt, event));
        }
    }
    drop(model);
    events.sort_by_key(|e| std::cmp::Reverse(e.0));
    events.truncate(VIEW_EVENTS);
    json!({
        "clock": clock(shared),
        "admin_token": shared.admin.token.is_some(),
        "keysets": keysets,
        "events": events.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        "stats": stats(&counters),
        "faults": shared.faults.list().iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
