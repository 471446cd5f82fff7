//! Reference models of the engines for the property tests (`engine_props.rs`).

pub(crate) mod heartbeat;
pub(crate) mod watch;

use std::time::{Duration, Instant};

/// The rules a reported retry delay keeps (both engines): not before the floor
/// (`floor_at`); at least half the backoff for `attempt` (from `base`, at least 100 ms,
/// doubling, capped at `cap`) or the `Retry-After`, whichever is larger, capped at `cap`;
/// at most `cap`, or the floor when that is later.
pub(crate) fn check_retry(
    now: Instant,
    delay: Duration,
    attempt: u32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
    floor_at: Instant,
) -> Result<(), String> {
    let full = base
        .max(Duration::from_millis(100))
        .saturating_mul(1u32 << attempt.min(20))
        .min(cap);
    let lower = (full / 2).max(retry_after.unwrap_or_default()).min(cap);
    if now + delay < floor_at || delay < lower || delay > cap.max(floor_at - now) {
        return Err(format!(
            "retry in {delay:?} (attempt {attempt}, retry-after {retry_after:?}, cap {cap:?}, floor at +{:?})",
            floor_at - now
        ));
    }
    Ok(())
}
