//! Get state parsing. Input: 2-byte status prefix + body (see `presence_fuzz` docs);
//! `variant % 3` picks the request shape: 0 one channel, 1 several channels,
//! 2 channel groups only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::GetState;

fuzz_target!(|data: &[u8]| {
    let input = presence_fuzz::split(data);
    let op = match input.variant % 3 {
        0 => GetState::new().channels(["ch1"]),
        1 => GetState::new().channels(["ch1", "ch2"]),
        _ => GetState::new().channel_groups(["cg1"]),
    };
    if let Ok(result) = presence_fuzz::run(&op, &input) {
        let _ = format!("{result:?}");
    }
});
