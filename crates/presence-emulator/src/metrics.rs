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
    let plain = |v: usize| [(String::new(), v as u64)];
    family(
        "presence_emulator_requests_total",
        "counter",
        "Presence requests answered, by operation and status.",
        &requests,
    );
    family(
        "presence_emulator_admin_requests_total",
        "counter",
        "Admin API and inspector requests.",
        &[(String::new(), s.admin_requests)],
    );
    family(
        "presence_emulator_occupants",
        "gauge",
        "Occupants (user and channel pairs) over all keysets.",
        &plain(s.model.occupants),
    );
    family(
        "presence_emulator_channels",
        "gauge",
        "Channels with at least one occupant.",
        &plain(s.model.channels),
    );
    family(
        "presence_emulator_users",
        "gauge",
        "Present users, summed per keyset.",
        &plain(s.model.users),
    );
    family(
        "presence_emulator_channel_groups",
        "gauge",
        "Registered channel groups.",
        &plain(s.model.groups),
    );
    family(
        "presence_emulator_events_total",
        "counter",
        "Presence events generated.",
        &[(String::new(), s.events_generated)],
    );
    family(
        "presence_emulator_events_kept",
        "gauge",
        "Presence events kept for subscribers to catch up on.",
        &plain(s.model.events),
    );
    family(
        "presence_emulator_event_log_bytes",
        "gauge",
        "Bytes the kept presence events cost.",
        &plain(s.model.event_bytes),
    );
    let c = &s.connections;
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
    family(
        "presence_emulator_connections_evicted_total",
        "counter",
        "Idle connections closed to make room for a new one.",
        &[(String::new(), c.evicted)],
    );
    family(
        "presence_emulator_long_polls_released_total",
        "counter",
        "Long-polls answered early for lack of room.",
        &[(String::new(), c.released)],
    );
    out
}
