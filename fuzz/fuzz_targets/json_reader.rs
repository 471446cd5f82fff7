//! The one-pass JSON reader behind here-now parsing (`presence-core/src/json.rs`), held
//! to serde_json both ways. Input: raw bytes (no status prefix). For UTF-8 input the
//! reader must accept exactly what `serde_json::from_str::<IgnoredAny>` accepts, when
//! nested at most `MAX_DEPTH` levels (serde_json skips without a depth limit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_core::fuzzing::MAX_DEPTH;
use serde::de::IgnoredAny;

/// Deepest nesting of `[`/`{` outside strings (exact for valid JSON). The oracle's own
/// scan, kept apart from the reader it checks on purpose.
fn depth(text: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = presence_core::fuzzing::json_reader_accepts(text);
    let reference = serde_json::from_str::<IgnoredAny>(text).is_ok() && depth(data) <= MAX_DEPTH;
    assert_eq!(
        ours, reference,
        "reader and serde_json disagree on {text:?}"
    );
});
