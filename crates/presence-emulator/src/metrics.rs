//! `GET /_emulator/v1/metrics`: [`EmulatorStats`] in the Prometheus text exposition
//! format (version 0.0.4). Written by hand: a dozen series whose label values come
//! from a fixed vocabulary (operation names, status codes, connection states), so no
//! value needs escaping.

use crate::stats::{operation_label, status_label, EmulatorStats};
use std::fmt::Write as _;

/// The exposition text for `s`.
pub(crate) fn render(s: &EmulatorStats) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let requests: Vec<(String, u64)> = s
        .requests
        .iter()
        .map(|r| {
            (
                format!(
                    "{{operation=\"{}\",status=\"{}\"}}",
                    operation_label(r.operation),
                    status_label(r.status)
                ),
                r.count,
            )
        })
        .collect();
    family(
        "presence_emulator_requests_total",
        "counter",
        "Presence requests answered, by operation and status.",
        &requests,
    );
    let c = &s.connections;
    let single: [(&str, &str, &str, u64); 10] = [
        (
            "admin_requests_total",
            "counter",
            "Admin API and inspector requests.",
            s.admin_requests,
        ),
        (
            "occupants",
            "gauge",
            "Occupants (user and channel pairs) over all keysets.",
            s.model.occupants as u64,
        ),
        (
            "channels",
            "gauge",
            "Channels with at least one occupant.",
            s.model.channels as u64,
        ),
        (
            "users",
            "gauge",
            "Present users, summed per keyset.",
            s.model.users as u64,
        ),
        (
            "channel_groups",
            "gauge",
            "Registered channel groups.",
            s.model.groups as u64,
        ),
        (
            "events_total",
            "counter",
            "Presence events generated.",
            s.events_generated,
        ),
        (
            "events_kept",
            "gauge",
            "Presence events kept for subscribers to catch up on.",
            s.model.events as u64,
        ),
        (
            "event_log_bytes",
            "gauge",
            "Bytes the kept presence events cost.",
            s.model.event_bytes as u64,
        ),
        (
            "connections_evicted_total",
            "counter",
            "Idle connections closed to make room for a new one.",
            c.evicted,
        ),
        (
            "long_polls_released_total",
            "counter",
            "Long-polls answered early for lack of room.",
            c.released,
        ),
    ];
    for (name, kind, help, value) in single {
        family(
            &format!("presence_emulator_{name}"),
            kind,
            help,
            &[(String::new(), value)],
        );
    }
    family(
        "presence_emulator_connections",
        "gauge",
        "Open connections by state.",
        &[
            ("{state=\"busy\"}".to_owned(), (c.active - c.idle) as u64),
            ("{state=\"idle\"}".to_owned(), c.idle as u64),
            ("{state=\"long_poll\"}".to_owned(), c.long_polls as u64),
        ],
    );
    out
}
