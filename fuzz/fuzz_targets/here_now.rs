//! Here now parsing. Input: 2-byte status prefix + body (see `presence_fuzz` docs);
//! `variant % 4` picks the request shape: 0 one channel, 1 several channels,
//! 2 channel groups (with a channel), 3 global.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::HereNow;

fuzz_target!(|data: &[u8]| {
    let input = presence_fuzz::split(data);
    let op = match input.variant % 4 {
        0 => HereNow::new().channels(["ch1"]),
        1 => HereNow::new().channels(["ch1", "ch2"]),
        2 => HereNow::new().channels(["ch1"]).channel_groups(["cg1"]),
        _ => HereNow::new(),
    };
    if let Ok(result) = presence_fuzz::run(&op, &input) {
        for ch in &result.channels {
            assert!(result.channel(&ch.name).is_some());
            for occupant in &ch.occupants {
                let _ = format!("{occupant:?}");
            }
        }
    }
});
