//! The central response classifier (presence-core `response::parse`), through every
//! operation. Input: 2-byte status prefix + body (see `presence_fuzz` docs).
//!
//! Besides the per-operation invariants of `presence_fuzz::check`, a non-2xx response
//! must give the *same* error whichever operation parses it: classification of error
//! statuses does not depend on the operation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::{Error, GetState, Heartbeat, HereNow, Leave, SetState, Subscribe, WhereNow};
use presence_fuzz::run;

fuzz_target!(|data: &[u8]| {
    let input = presence_fuzz::split(data);
    let results: [Result<(), Error>; 9] = [
        run(&HereNow::new().channels(["ch1"]), &input).map(drop),
        run(&HereNow::new().channels(["ch1", "ch2"]), &input).map(drop),
        run(&HereNow::new(), &input).map(drop),
        run(&WhereNow::new(), &input).map(drop),
        run(&Heartbeat::new().channels(["ch1"]), &input),
        run(&Leave::new().channels(["ch1"]), &input),
        run(
            &SetState::new()
                .channels(["ch1"])
                .state(serde_json::json!({"k": "v"})),
            &input,
        )
        .map(drop),
        run(&GetState::new().channels(["ch1", "ch2"]), &input).map(drop),
        run(&Subscribe::new().channels(["ch1"]), &input).map(drop),
    ];
    if !(200..300).contains(&input.status) {
        for r in &results[1..] {
            assert_eq!(
                r, &results[0],
                "error statuses classify the same for every op"
            );
        }
    }
});
