//! Socket timeouts in steps of [`STEP`], so that a reused connection does not pay two
//! `setsockopt` calls per request.
//!
//! ureq bounds each socket read and write by what is left of the request's overall
//! timeout, and sets `SO_RCVTIMEO` / `SO_SNDTIMEO` whenever that value differs from
//! the one the socket has. What is left differs by microseconds from one request to
//! the next, so with any timeout configured every request on a pooled connection made
//! one `setsockopt` for its write and one for its read: two system calls a request
//! that an agent without timeouts does not make (strace of `prof_call ureq-transport`:
//! 4 003 `setsockopt` for 2 000 requests).
//!
//! [`Stepped`] sits right on the TCP transport, under rustls for https ([`Steps`] in
//! the connector chain: TCP, steps, rustls), and rounds the bound passed down to the
//! socket *up* to a whole number of steps: requests that start with the same budget
//! give the socket the same value, which ureq then leaves alone. It has to be under
//! rustls: ureq's TLS adapter passes each socket call what is left of the bound it
//! was given, measured again at every call, so a bound rounded above rustls would
//! still reach the socket different every time. A bound that has run out stays zero
//! (ureq fails the request with its timeout error at once), and none stays none. A
//! read or write can therefore outlast the overall timeout by less than one step. A
//! response that takes longer than a step still moves the socket's value (one
//! `setsockopt` then, as before).
//!
//! ureq asks a transport that forwards to another to pass the timeout on unchanged.
//! Changing it is safe here because it only ever grows by less than a step, and this
//! agent configures no per-read or per-write timeout, so the rounding never changes
//! which bound fires.

use std::time::Duration;

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};
use ureq::Error;

/// The granularity of socket timeouts: a read or write may outlast the request's
/// overall timeout by less than this.
pub(crate) const STEP: Duration = Duration::from_millis(10);

/// `timeout` rounded up to a whole number of [`STEP`]s (zero and none unchanged).
fn stepped(timeout: NextTimeout) -> NextTimeout {
    let after = match timeout.after {
        UreqDuration::Exact(left) => UreqDuration::Exact(round_up(left)),
        UreqDuration::NotHappening => UreqDuration::NotHappening,
    };
    NextTimeout { after, ..timeout }
}

fn round_up(left: Duration) -> Duration {
    // STEP divides a second: only the sub-second part needs rounding (in u32, cheap).
    const STEP_NANOS: u32 = STEP.subsec_nanos();
    const _: () = assert!(STEP.as_secs() == 0 && 1_000_000_000 % STEP_NANOS == 0);
    let nanos = left.subsec_nanos().div_ceil(STEP_NANOS) * STEP_NANOS;
    if nanos < 1_000_000_000 {
        Duration::new(left.as_secs(), nanos)
    } else {
        // A whole second more; beyond `Duration::MAX` there is nothing to round to.
        left.as_secs()
            .checked_add(1)
            .map_or(left, |secs| Duration::new(secs, 0))
    }
}

/// A transport passing its reads' and writes' bounds down in steps (see the module).
#[derive(Debug)]
pub(crate) struct Stepped<T>(T);

/// The connector that wraps the transport before it in [`Stepped`].
#[derive(Debug)]
pub(crate) struct Steps;

impl<In: Transport> Connector<In> for Steps {
    type Out = Stepped<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Stepped<In>>, Error> {
        Ok(chained.map(Stepped))
    }
}

impl<T: Transport> Transport for Stepped<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.0.transmit_output(amount, stepped(timeout))
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.0.maybe_await_input(stepped(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.0.await_input(stepped(timeout))
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::Timeout;

    fn after(timeout: NextTimeout) -> UreqDuration {
        timeout.after
    }

    fn next(after: UreqDuration) -> NextTimeout {
        NextTimeout {
            after,
            reason: Timeout::Global,
            per_read: None,
            per_write: None,
        }
    }

    #[test]
    fn bounds_round_up_to_whole_steps() {
        let ms = Duration::from_millis;
        for (left, want) in [
            (ms(10_000) - Duration::from_micros(37), ms(10_000)),
            (ms(10_000), ms(10_000)),
            (Duration::from_nanos(1), STEP),
            (ms(1234), ms(1240)),
            (ms(1995), ms(2000)),
            (ms(2000) + Duration::from_nanos(1), ms(2010)),
        ] {
            assert_eq!(
                after(stepped(next(UreqDuration::Exact(left)))),
                UreqDuration::Exact(want)
            );
        }
    }

    #[test]
    fn a_spent_bound_stays_spent_and_none_stays_none() {
        let spent = stepped(next(UreqDuration::Exact(Duration::ZERO)));
        assert_eq!(after(spent), UreqDuration::Exact(Duration::ZERO));
        assert_eq!(spent.reason, Timeout::Global);
        assert_eq!(
            after(stepped(next(UreqDuration::NotHappening))),
            UreqDuration::NotHappening
        );
        let huge = Duration::MAX;
        assert_eq!(
            after(stepped(next(UreqDuration::Exact(huge)))),
            UreqDuration::Exact(huge)
        );
    }
}
