//! Subscribe envelope and the presence events inside it. Input: 2-byte status prefix +
//! body (see `presence_fuzz` docs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::{PresenceEvent, Subscribe};

fuzz_target!(|data: &[u8]| {
    let input = presence_fuzz::split(data);
    let op = Subscribe::new().channels(["ch1"]).channel_groups(["cg1"]);
    if let Ok(result) = presence_fuzz::run(&op, &input) {
        let messages = serde_json::from_slice::<serde_json::Value>(input.body)
            .ok()
            .and_then(|v| v.get("m").and_then(|m| m.as_array()).map(Vec::len));
        if let Some(n) = messages {
            assert!(result.events.len() + result.unreadable.len() <= n);
        }
        for event in &result.events {
            let _ = (event.channel(), event.action(), event.timetoken());
            let _ = event.dedup_key();
            if let PresenceEvent::Interval(_) = event {
                assert!(event.change().is_none());
            } else {
                assert!(event.change().is_some());
            }
        }
    }
});
