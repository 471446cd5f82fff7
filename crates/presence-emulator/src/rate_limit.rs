//! Rate limiting per keyset: at most `limit` requests in each one-second window, the
//! window starting at the first request after the previous one ended, on the model's
//! clock. Pure: `now` is passed in (nanoseconds since the epoch).

/// One second, in nanoseconds.
const WINDOW: u64 = 1_000_000_000;

/// The request count of one keyset's current window.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    /// Requests allowed per window; 0 is no limit.
    limit: u32,
    window_start: u64,
    count: u32,
}

impl RateLimiter {
    pub(crate) fn new(limit: u32) -> Self {
        RateLimiter {
            limit,
            window_start: 0,
            count: 0,
        }
    }

    /// Counts a request at `now`: `Ok` when it is within the limit, else the whole
    /// seconds until the window ends (at least 1: the `Retry-After` value).
    pub(crate) fn admit(&mut self, now: u64) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        if self.count == 0 || now >= self.window_start.saturating_add(WINDOW) {
            self.window_start = now;
            self.count = 0;
        }
        if self.count < self.limit {
            self.count += 1;
            return Ok(());
        }
        let left = self.window_start.saturating_add(WINDOW).saturating_sub(now);
        Err(left.div_ceil(WINDOW).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_per_window_then_a_new_window() {
        let mut r = RateLimiter::new(3);
        let t0 = 5 * WINDOW + 123;
        for i in 0..3 {
            assert_eq!(r.admit(t0 + i), Ok(()));
        }
        assert_eq!(r.admit(t0 + 10), Err(1));
        assert_eq!(r.admit(t0 + WINDOW - 1), Err(1));
        assert_eq!(r.admit(t0 + WINDOW), Ok(()));
        assert_eq!(r.admit(t0 + WINDOW + 1), Ok(()));
        let mut off = RateLimiter::new(0);
        assert!((0..10_000).all(|i| off.admit(i).is_ok()));
    }
}
