//! Heartbeat parsing. Input: 2-byte status prefix + body (see `presence_fuzz` docs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::Heartbeat;

fuzz_target!(|data: &[u8]| {
    let input = presence_fuzz::split(data);
    let _ = presence_fuzz::run(&Heartbeat::new().channels(["ch1"]), &input);
});
