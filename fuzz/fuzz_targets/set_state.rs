//! Set state parsing. Input: 2-byte status prefix + body (see `presence_fuzz` docs);
//! `variant % 2` picks one channel (0) or several channels and a group (1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::SetState;

fuzz_target!(|data: &[u8]| {
    let input = presence_fuzz::split(data);
    let state = serde_json::json!({"k": "v"});
    let op = match input.variant % 2 {
        0 => SetState::new().channels(["ch1"]).state(state),
        _ => SetState::new()
            .channels(["ch1", "ch2"])
            .channel_groups(["cg1"])
            .state(state),
    };
    let _ = presence_fuzz::run(&op, &input);
});
