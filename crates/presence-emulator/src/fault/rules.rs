//! The active fault rules of a running emulator: what a request is (its operation,
//! keyset and channels), which rules match it, and the seeded draws of their
//! probabilities.

use super::{FaultAction, FaultRule, Operation};
use crate::wire::{decode, path_list, RouteKind, Target};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// What fault rules look at in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestFacts {
    operation: Option<Operation>,
    keyset: Option<String>,
    channels: Vec<String>,
}

impl RequestFacts {
    /// The facts of a request path; `None` for admin paths (under `/_emulator`), which
    /// are never faulted. A path that routes nowhere, or whose names do not decode,
    /// has no operation (only rules without an `op` filter match it).
    pub(crate) fn of_path(path: &str) -> Option<RequestFacts> {
        if path == "/_emulator" || path.starts_with("/_emulator/") {
            return None;
        }
        let mut facts = RequestFacts {
            operation: None,
            keyset: None,
            channels: Vec::new(),
        };
        let route = match Target::parse(path) {
            None => return Some(facts),
            Some(Target::Time) => {
                facts.operation = Some(Operation::Time);
                return Some(facts);
            }
            Some(Target::Keyset(route)) => route,
        };
        let (operation, channels) = match route.kind {
            RouteKind::HereNowGlobal => (Operation::HereNow, None),
            RouteKind::HereNow { channels } => (Operation::HereNow, Some(channels)),
            RouteKind::WhereNow { .. } => (Operation::WhereNow, None),
            RouteKind::Heartbeat { channels } => (Operation::Heartbeat, Some(channels)),
            RouteKind::Leave { channels } => (Operation::Leave, Some(channels)),
            RouteKind::SetState { channels, .. } => (Operation::SetState, Some(channels)),
            RouteKind::GetState { channels, .. } => (Operation::GetState, Some(channels)),
            RouteKind::ListGroups | RouteKind::Group { .. } | RouteKind::DeleteGroup { .. } => {
                (Operation::Registry, None)
            }
            RouteKind::Subscribe { channels } => (Operation::Subscribe, Some(channels)),
        };
        facts.operation = Some(operation);
        facts.keyset = decode(route.sub_key, false).ok().map(|k| k.into_owned());
        facts.channels = channels.and_then(|c| path_list(c).ok()).unwrap_or_default();
        Some(facts)
    }

    /// The operation (`None` for a path no route serves); the request counters use it.
    pub(crate) fn operation(&self) -> Option<Operation> {
        self.operation
    }
}

/// What the matching rules decided for one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    /// The latencies of every firing latency rule, added.
    pub(crate) delay: Duration,
    /// The first firing rule's action that is not a latency, if any.
    pub(crate) action: Option<FaultAction>,
}

/// A rule with its generator.
#[derive(Debug)]
struct Active {
    rule: FaultRule,
    rng: fastrand::Rng,
}

impl Active {
    fn new(rule: FaultRule) -> Self {
        let rng = fastrand::Rng::with_seed(rule.seed);
        Active { rule, rng }
    }

    fn matches(&self, facts: &RequestFacts) -> bool {
        let r = &self.rule;
        r.operation.is_none_or(|op| facts.operation == Some(op))
            && r.keyset
                .as_deref()
                .is_none_or(|k| facts.keyset.as_deref() == Some(k))
            && r.channel.as_deref().is_none_or(|c| {
                facts
                    .channels
                    .iter()
                    .any(|n| n == c || n.strip_suffix("-pnpres") == Some(c))
            })
    }

    /// Whether the rule fires on a matching request: always at probability 1, never at
    /// 0, else one draw from its generator (so only matching requests move it).
    fn fires(&mut self) -> bool {
        let p = self.rule.probability;
        if p >= 1.0 {
            true
        } else if p <= 0.0 {
            false
        } else {
            self.rng.f64() < p
        }
    }
}

/// The rules of a running emulator, in order.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Active>>,
}

impl Faults {
    pub(crate) fn new(rules: Vec<FaultRule>) -> Self {
        let faults = Faults::default();
        faults.set(rules);
        faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Active>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces every rule; each generator starts again from its seed.
    pub(crate) fn set(&self, rules: Vec<FaultRule>) {
        *self.lock() = rules.into_iter().map(Active::new).collect();
    }

    /// Appends a rule (checked after the others).
    pub(crate) fn add(&self, rule: FaultRule) {
        self.lock().push(Active::new(rule));
    }

    /// Removes every rule.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The rules, in order.
    pub(crate) fn list(&self) -> Vec<FaultRule> {
        self.lock().iter().map(|a| a.rule.clone()).collect()
    }

    /// What happens to a request to `path` (nothing when no rule fires).
    pub(crate) fn decide(&self, path: &str) -> Verdict {
        let mut rules = self.lock();
        let mut verdict = Verdict::default();
        if rules.is_empty() {
            return verdict;
        }
        let Some(facts) = RequestFacts::of_path(path) else {
            return verdict;
        };
        for active in rules.iter_mut() {
            if !active.matches(&facts) || !active.fires() {
                continue;
            }
            match &active.rule.action {
                FaultAction::Latency { delay } => {
                    verdict.delay = verdict.delay.saturating_add(*delay)
                }
                other => {
                    verdict.action = Some(other.clone());
                    break;
                }
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> FaultRule {
        s.parse().unwrap()
    }

    #[test]
    fn requests_are_classified_by_route() {
        let facts = |p| RequestFacts::of_path(p).unwrap();
        let f = facts("/v2/presence/sub_key/k%2D1/channel/a,b%2Cc/heartbeat");
        assert_eq!(f.operation, Some(Operation::Heartbeat));
        assert_eq!(f.keyset.as_deref(), Some("k-1"));
        assert_eq!(f.channels, ["a", "b,c"]);
        assert_eq!(
            facts("/v2/presence/sub-key/k").operation,
            Some(Operation::HereNow)
        );
        assert_eq!(
            facts("/v1/channel-registration/sub-key/k/channel-group/g/remove").operation,
            Some(Operation::Registry)
        );
        assert_eq!(facts("/v2/subscribe/k/a-pnpres/0").channels, ["a-pnpres"]);
        assert_eq!(facts("/time/0").operation, Some(Operation::Time));
        assert_eq!(facts("/nowhere").operation, None);
        assert_eq!(RequestFacts::of_path("/_emulator/v1/state"), None);
    }

    #[test]
    fn filters_latencies_and_order() {
        let faults = Faults::new(vec![
            rule("op=heartbeat,latency=100ms"),
            rule("channel=lobby,latency=1s"),
            rule("op=heartbeat,keyset=k,channel=lobby,status=503"),
            rule("op=heartbeat,close"),
        ]);
        let hb = |k: &str, c: &str| format!("/v2/presence/sub-key/{k}/channel/{c}/heartbeat");
        let v = faults.decide(&hb("k", "lobby"));
        assert_eq!(v.delay, Duration::from_millis(1100));
        assert!(matches!(v.action, Some(FaultAction::Status { .. })));
        let v = faults.decide(&hb("other", "lobby"));
        assert_eq!(v.action, Some(FaultAction::Close));
        let v = faults.decide(&hb("k", "hall"));
        assert_eq!(v.delay, Duration::from_millis(100));
        assert_eq!(
            faults.decide("/v2/subscribe/k/lobby-pnpres/0").delay,
            Duration::from_secs(1)
        );
        assert_eq!(faults.decide("/_emulator/v1/faults"), Verdict::default());
        faults.clear();
        assert_eq!(faults.decide(&hb("k", "lobby")), Verdict::default());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn seeded_draws_repeat_and_only_matching_requests_draw() {
        let fired = |seed: u64, interleave: bool| {
            let faults = Faults::new(vec![rule(&format!("op=heartbeat,p=0.5,seed={seed},close"))]);
            (0..64)
                .map(|_| {
                    if interleave {
                        // A request the rule does not match does not move its generator.
                        assert_eq!(faults.decide("/time/0"), Verdict::default());
                    }
                    faults
                        .decide("/v2/presence/sub-key/k/channel/a/heartbeat")
                        .action
                        .is_some()
                })
                .collect::<Vec<bool>>()
        };
        assert_eq!(fired(7, false), fired(7, false));
        assert_eq!(fired(7, false), fired(7, true));
        assert_ne!(fired(7, false), fired(8, false));
        let n = fired(7, false).iter().filter(|f| **f).count();
        assert!((16..=48).contains(&n), "{n} of 64 at p=0.5");
        let never = Faults::new(vec![rule("p=0,close")]);
        assert_eq!(never.decide("/time/0"), Verdict::default());
    }
}
