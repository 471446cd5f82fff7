//! The presence payload reader (through the `fuzzing` hook) on arbitrary JSON. Input:
//! raw bytes (no status prefix); any JSON text serde_json accepts is passed as the
//! payload `d` (the reader of the envelope has checked it in real use).
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::fuzzing::parse_payload;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) else {
        return;
    };
    let d = raw.get();
    let action = serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(d)
        .ok()
        .and_then(|m| m.get("action").and_then(|a| serde_json::from_str::<String>(a.get()).ok()));
    match parse_payload("ch1".to_owned(), "17".to_owned(), d) {
        Ok(event) => {
            assert_eq!(event.channel(), "ch1");
            assert_eq!(event.timetoken(), "17");
            assert_eq!(Some(event.action()), action.as_deref());
            let _ = event.dedup_key();
            let _ = format!("{event:?} {event}");
            if let Some(state) = event.change().and_then(|c| c.state.as_ref()) {
                assert!(serde_json::from_str::<serde::de::IgnoredAny>(state.get()).is_ok());
            }
        }
        Err(why) => assert!(!why.to_string().is_empty()),
    }
});
