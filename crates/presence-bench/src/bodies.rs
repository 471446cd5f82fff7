//! Here-now response bodies: the recorded fixtures of `presence-core` and a large
//! generated one, each with the operation whose response it is (the single-channel
//! shape only parses for a request that names exactly one channel).

use presence_core::HereNow;
use std::path::PathBuf;

/// A here-now body and the operation it answers.
#[derive(Debug, Clone)]
pub struct Body {
    /// Short name (the fixture file name without `.json`, or `generated_…`).
    pub name: String,
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// The request this body answers.
    pub op: HereNow,
}

/// `crates/presence-core/tests/fixtures`.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presence-core/tests/fixtures")
}

/// The operation a fixture file answers, from its name (`here_now_single_*`,
/// `here_now_multi_*`, `here_now_global_*`, `here_now_group_only_*`,
/// `here_now_channel_and_group_*`).
pub fn op_for(name: &str) -> HereNow {
    let rest = name.strip_prefix("here_now_").unwrap_or(name);
    if rest.starts_with("single") {
        HereNow::new().channels(["ch1"])
    } else if rest.starts_with("multi") {
        HereNow::new().channels(["ch1", "ch2"])
    } else if rest.starts_with("group_only") {
        HereNow::new().channel_groups(["cg1"])
    } else if rest.starts_with("channel_and_group") {
        HereNow::new().channels(["ch1"]).channel_groups(["cg1"])
    } else {
        HereNow::new()
    }
}

/// Every `here_now_*recorded*.json` fixture (bodies captured from the real service),
/// sorted by name.
pub fn recorded_here_now() -> Vec<Body> {
    let mut out: Vec<Body> = std::fs::read_dir(fixture_dir())
        .expect("presence-core fixtures directory")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let name = file.strip_suffix(".json")?.to_owned();
            (name.starts_with("here_now_") && name.contains("recorded")).then_some(name)
        })
        .map(|name| {
            let bytes = std::fs::read(fixture_dir().join(format!("{name}.json")))
                .expect("readable fixture");
            let op = op_for(&name);
            Body { name, bytes, op }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A multi-channel here-now body in the service's shape (`payload.channels` map,
/// `uuids` as `{"uuid", "state"}` objects): `channels` channels × `occupants` users,
/// each with a small state object (a string, a number, a bool and a two-item array).
/// Deterministic.
pub fn generated_here_now(channels: usize, occupants: usize) -> Body {
    let mut s = String::with_capacity(channels * occupants * 120 + 200);
    s.push_str(r#"{"status": 200, "message": "OK", "payload": {"channels": {"#);
    for c in 0..channels {
        if c > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!(
            r#""bench-channel-{c:04}": {{"occupancy": {occupants}, "uuids": ["#
        ));
        for u in 0..occupants {
            if u > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!(
                r#"{{"uuid": "user-{c:04}-{u:02}", "state": {{"mood": "focused", "score": {}, "away": false, "tags": ["a", "b"]}}}}"#,
                c * 31 + u
            ));
        }
        s.push_str("]}");
    }
    s.push_str(&format!(
        r#"}}, "total_channels": {channels}, "total_occupancy": {}}}, "service": "Presence"}}"#,
        channels * occupants
    ));
    let names: Vec<String> = (0..channels)
        .map(|c| format!("bench-channel-{c:04}"))
        .collect();
    Body {
        name: format!("generated_{channels}x{occupants}_state"),
        bytes: s.into_bytes(),
        op: HereNow::new().channels(names).include_state(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presence_core::Operation;

    #[test]
    fn every_body_parses_with_its_operation() {
        let mut all = recorded_here_now();
        assert!(all.len() >= 4, "expected the recorded here-now fixtures");
        all.push(generated_here_now(20, 3));
        for b in &all {
            let r = b.op.parse_response(&http::Response::new(&b.bytes[..]));
            assert!(r.is_ok(), "{}: {r:?}", b.name);
        }
        let big = generated_here_now(20, 3);
        let r = big
            .op
            .parse_response(&http::Response::new(&big.bytes[..]))
            .unwrap();
        assert_eq!(r.total_occupancy, 60);
        assert_eq!(r.channels.len(), 20);
        assert!(r.channels[0].occupants[0].state.is_some());
        serde_json::from_slice::<serde_json::Value>(&big.bytes).unwrap();
    }
}
