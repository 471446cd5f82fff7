//! The presence payload reader (through the `fuzzing` hook) on arbitrary JSON. Input: raw bytes (no status
//! prefix); whatever serde_json reads as a `Value` is passed as the payload `d`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::fuzzing::parse_payload;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let action = d.get("action").and_then(Value::as_str).map(str::to_owned);
    match parse_payload("ch1".to_owned(), "17".to_owned(), d) {
        Ok(event) => {
            assert_eq!(event.channel(), "ch1");
            assert_eq!(event.timetoken(), "17");
            assert_eq!(Some(event.action()), action.as_deref());
            let _ = event.dedup_key();
            let _ = format!("{event:?}");
        }
        Err(why) => assert!(!why.to_string().is_empty()),
    }
});
