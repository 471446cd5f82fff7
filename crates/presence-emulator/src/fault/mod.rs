//! Fault injection: rules that make chosen requests fail the way a real service, proxy
//! or network sometimes does.
//!
//! A [`FaultRule`] says which requests it concerns (an [`Operation`], a keyset, a
//! channel, a probability drawn from a seeded generator) and what happens to them (a
//! [`FaultAction`]): an error status and body (or a "false 200"), added latency, a
//! response cut mid-body, or the connection closed without a response. Rules are set
//! with [`EmulatorConfig::faults`](crate::EmulatorConfig::faults), on a running
//! emulator with [`EmulatorHandle::set_faults`](crate::EmulatorHandle::set_faults) and
//! its siblings, and from the command line with `--fault RULE` (the syntax of
//! [`FaultRule`]'s `FromStr`, which its `Display` writes back).
//!
//! This file holds the rule as data (its two text forms: the command-line syntax and
//! the JSON form); [`rules`] matches requests against the active rules and draws their
//! probabilities; [`serve`] applies the verdict to a hyper response.

mod parse;
pub(crate) mod rules;
pub(crate) mod serve;

pub use parse::FaultRuleError;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The request families a [`FaultRule`] can be limited to.
///
/// In the command-line and JSON forms each is written in snake case (`here_now`,
/// `set_state`, …); the command line also accepts `-` for `_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// Here now, on channels and groups or on the whole keyset.
    HereNow,
    /// Where now.
    WhereNow,
    /// Heartbeat.
    Heartbeat,
    /// Leave.
    Leave,
    /// Set state.
    SetState,
    /// Get state.
    GetState,
    /// Subscribe (presence events), the handshake and long-polls alike.
    Subscribe,
    /// The channel-group registry: list, add, remove, delete.
    Registry,
    /// `/time/0`.
    Time,
}

impl Operation {
    /// Every operation, in the order of the docs.
    pub const ALL: [Operation; 9] = [
        Operation::HereNow,
        Operation::WhereNow,
        Operation::Heartbeat,
        Operation::Leave,
        Operation::SetState,
        Operation::GetState,
        Operation::Subscribe,
        Operation::Registry,
        Operation::Time,
    ];

    /// The name used in both text forms (`here_now`, …).
    pub fn name(self) -> &'static str {
        match self {
            Operation::HereNow => "here_now",
            Operation::WhereNow => "where_now",
            Operation::Heartbeat => "heartbeat",
            Operation::Leave => "leave",
            Operation::SetState => "set_state",
            Operation::GetState => "get_state",
            Operation::Subscribe => "subscribe",
            Operation::Registry => "registry",
            Operation::Time => "time",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a [`FaultRule`] does to a request it fires on.
///
/// `Status` and `False200` answer instead of the emulator (the request never reaches
/// the presence model: nothing joins, leaves or changes). `Close` closes the connection
/// without a response, also before the model. `Cut` lets the model answer (the request
/// takes effect) and sends the response head and only the first half of the body, then
/// closes the connection. `Latency` waits (real time) before the request is handled and
/// lets the next matching rule decide; the latencies of every matching rule add up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with `status` and `body`; without a body, the service's error shape
    /// `{"status":S,"error":true,"message":"<reason>","service":"<service>"}`. With
    /// `retry_after`, a `Retry-After: <seconds>` header.
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The body; `None` for the service's error shape.
        body: Option<String>,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// A "false 200" (PROTOCOL.md §5, §11 finding 7): HTTP 200 with the body
    /// `{"status":S,"error":1,"message":"<reason>","service":"Presence"}`, the shape of
    /// the JS SDK's "recovers from false 200 via status" test.
    False200 {
        /// The status in the body (≥ 400).
        status: StatusCode,
    },
    /// Wait this long before the request is handled, then go on.
    Latency {
        /// The added delay.
        delay: Duration,
    },
    /// Send the head (with the full `content-length`) and half the body, then close.
    Cut,
    /// Close the connection without sending anything.
    Close,
}

impl FaultAction {
    /// A status action with the service's error body and no `Retry-After`.
    pub fn status(status: StatusCode) -> Self {
        FaultAction::Status {
            status,
            body: None,
            retry_after: None,
        }
    }
}

/// One fault rule: which requests it fires on and what it does to them.
///
/// A rule matches a request when every filter set matches: the [`Operation`], the
/// keyset (the subscribe key, decoded), the channel (one of the request's path
/// channels, with or without `-pnpres`). A matching rule then fires with its
/// probability, drawn from a generator seeded with its seed, so the same requests in
/// the same order fire the same way in every run. The first firing rule that is not a
/// [`FaultAction::Latency`] decides; latencies add up. Admin requests (paths under
/// `/_emulator/`) are never faulted.
///
/// ```
/// use presence_emulator::{FaultAction, FaultRule, Operation};
/// use presence_emulator::http::StatusCode;
///
/// let rule: FaultRule = "op=heartbeat,keyset=demo,p=0.25,seed=7,status=503,retry-after=30".parse().unwrap();
/// assert_eq!(rule.operation_filter(), Some(Operation::Heartbeat));
/// assert_eq!(rule.to_string(), "op=heartbeat,keyset=demo,p=0.25,seed=7,status=503,retry-after=30");
/// let built = FaultRule::new(FaultAction::Status {
///     status: StatusCode::SERVICE_UNAVAILABLE,
///     body: None,
///     retry_after: Some(30),
/// })
/// .operation(Operation::Heartbeat)
/// .keyset("demo")
/// .with_probability(0.25, 7)
/// .unwrap();
/// assert_eq!(rule, built);
/// // The JSON form (the admin API's).
/// let json = serde_json::to_string(&rule).unwrap();
/// assert_eq!(serde_json::from_str::<FaultRule>(&json).unwrap(), rule);
/// // Bad input is a typed error naming what is wrong.
/// let e = "op=heartbeat,status=abc".parse::<FaultRule>().unwrap_err();
/// assert_eq!(e.to_string(), "fault rule: `status` must be an HTTP status (100..=999), not `abc`");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "parse::RuleRepr", into = "parse::RuleRepr")]
pub struct FaultRule {
    pub(crate) operation: Option<Operation>,
    pub(crate) keyset: Option<String>,
    pub(crate) channel: Option<String>,
    pub(crate) probability: f64,
    pub(crate) seed: u64,
    pub(crate) action: FaultAction,
}

impl FaultRule {
    /// A rule doing `action` to every request (probability 1, seed 0).
    pub fn new(action: FaultAction) -> Self {
        FaultRule {
            operation: None,
            keyset: None,
            channel: None,
            probability: 1.0,
            seed: 0,
            action,
        }
    }

    /// Only requests of `operation`.
    pub fn operation(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Only requests to the keyset with this subscribe key.
    pub fn keyset(mut self, subscribe_key: impl Into<String>) -> Self {
        self.keyset = Some(subscribe_key.into());
        self
    }

    /// Only requests naming this channel in their path (`-pnpres` ignored).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// Fires on a matching request with `probability` (0 to 1), drawn from a generator
    /// seeded with `seed`. Errors when `probability` is not within 0..=1.
    pub fn with_probability(mut self, probability: f64, seed: u64) -> Result<Self, FaultRuleError> {
        if !(0.0..=1.0).contains(&probability) {
            return Err(FaultRuleError::Probability {
                value: probability.to_string(),
            });
        }
        self.probability = probability;
        self.seed = seed;
        Ok(self)
    }

    /// The operation this rule is limited to, if any.
    pub fn operation_filter(&self) -> Option<Operation> {
        self.operation
    }

    /// The keyset (subscribe key) this rule is limited to, if any.
    pub fn keyset_filter(&self) -> Option<&str> {
        self.keyset.as_deref()
    }

    /// The channel this rule is limited to, if any.
    pub fn channel_filter(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// The probability with which a matching request is faulted.
    pub fn probability(&self) -> f64 {
        self.probability
    }

    /// The seed of the probability draws.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What the rule does.
    pub fn action(&self) -> &FaultAction {
        &self.action
    }
}
