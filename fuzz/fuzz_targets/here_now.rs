//! Here now parsing. Input: 2-byte status prefix + body (see `presence_fuzz` docs);
//! `variant % 4` picks the request shape: 0 one channel, 1 several channels,
//! 2 channel groups (with a channel), 3 global. Runs the owned parse and the borrowed
//! view (`HereNow::parse_view`) and checks that they agree, and checks the one-pass
//! JSON reader behind both against serde_json: a body it accepts on a 2xx must be JSON
//! that serde_json accepts too, every raw state included.
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
    // The borrowed view is the same parser: it succeeds exactly when the owned parse
    // does, and converts to the same result.
    let response = input.response();
    let view = op.parse_view(&response);
    presence_fuzz::check(&input, &view);
    if let Ok(v) = &view {
        if response.status().is_success() {
            assert!(
                serde_json::from_slice::<serde::de::IgnoredAny>(response.body()).is_ok(),
                "the reader accepted a body serde_json rejects"
            );
            for occupant in v.channels.iter().flat_map(|c| &c.occupants) {
                if let Some(state) = &occupant.state {
                    assert!(
                        serde_json::from_str::<serde::de::IgnoredAny>(state.get()).is_ok(),
                        "a raw state is not one JSON value: {state}"
                    );
                }
            }
        }
    }
    let owned = presence_fuzz::run(&op, &input);
    match (&view, &owned) {
        (Ok(v), Ok(o)) => assert_eq!(&v.clone().into_owned(), o),
        (Err(_), Ok(_)) => panic!("the view failed where the owned parse succeeded"),
        (Ok(_), Err(e)) => panic!("the owned parse failed ({e}) where the view succeeded"),
        (Err(a), Err(b)) => assert_eq!(a, b, "the same error from both"),
    }
    if let Ok(result) = owned {
        for ch in &result.channels {
            assert!(result.channel(&ch.name).is_some());
            for occupant in &ch.occupants {
                let _ = format!("{occupant:?}");
            }
        }
    }
});
