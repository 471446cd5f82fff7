//! The two text forms of a [`FaultRule`]: the command-line syntax (`FromStr`,
//! `Display`) and the JSON form (serde, through [`RuleRepr`]), with the one error type
//! both report.
//!
//! Command-line syntax: `key=value` items separated by `,`, in any order, exactly one
//! action among them; `body=` must be the last item and takes the rest of the text
//! (commas included):
//!
//! ```text
//! [op=OP,][keyset=SUB,][channel=NAME,][p=0..1,][seed=N,]ACTION
//! ACTION = status=CODE[,retry-after=SECS][,body=TEXT] | false200[=CODE]
//!        | latency=DURATION (250ms, 2s) | cut | close
//! ```

use super::{FaultAction, FaultRule, Operation};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why a fault rule (command-line syntax or JSON form) was refused; its message names
/// the item that is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultRuleError {
    /// The rule is empty.
    Empty,
    /// An item's key is not one of the syntax's.
    UnknownKey {
        /// The key as given.
        key: String,
    },
    /// `op=` names no [`Operation`].
    UnknownOperation {
        /// The value as given.
        value: String,
    },
    /// A key that needs a value has none (`status` instead of `status=503`).
    MissingValue {
        /// The key.
        key: &'static str,
    },
    /// A key that takes no value has one (`cut=1`).
    UnexpectedValue {
        /// The key.
        key: &'static str,
    },
    /// A value does not parse.
    InvalidValue {
        /// The key.
        key: &'static str,
        /// The value as given (at most 64 characters of it).
        value: String,
        /// What the key takes.
        expected: &'static str,
    },
    /// The probability is not a number within 0..=1.
    Probability {
        /// The value as given.
        value: String,
    },
    /// A key appears twice.
    Repeated {
        /// The key.
        key: &'static str,
    },
    /// No action (`status=`, `false200`, `latency=`, `cut` or `close`).
    NoAction,
    /// More than one action.
    SeveralActions {
        /// The first action given.
        first: &'static str,
        /// The next one.
        second: &'static str,
    },
    /// `body=` or `retry-after=` without `status=`.
    NeedsStatus {
        /// The key.
        key: &'static str,
    },
}

impl fmt::Display for FaultRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fault rule: ")?;
        match self {
            FaultRuleError::Empty => f.write_str("empty rule; it needs an action"),
            FaultRuleError::UnknownKey { key } => write!(
                f,
                "unknown item `{key}` (expected op, keyset, channel, p, seed, status, \
                 retry-after, body, false200, latency, cut or close)"
            ),
            FaultRuleError::UnknownOperation { value } => {
                write!(f, "unknown operation `{value}` (expected one of")?;
                for (i, op) in Operation::ALL.iter().enumerate() {
                    write!(f, "{}{op}", if i == 0 { " " } else { ", " })?;
                }
                f.write_str(")")
            }
            FaultRuleError::MissingValue { key } => write!(f, "`{key}` needs a value"),
            FaultRuleError::UnexpectedValue { key } => write!(f, "`{key}` takes no value"),
            FaultRuleError::InvalidValue {
                key,
                value,
                expected,
            } => write!(f, "`{key}` must be {expected}, not `{value}`"),
            FaultRuleError::Probability { value } => {
                write!(f, "probability must be a number from 0 to 1, not `{value}`")
            }
            FaultRuleError::Repeated { key } => write!(f, "`{key}` is given twice"),
            FaultRuleError::NoAction => f.write_str(
                "no action (expected one of status=CODE, false200, latency=DURATION, cut, close)",
            ),
            FaultRuleError::SeveralActions { first, second } => {
                write!(f, "two actions, `{first}` and `{second}`; a rule has one")
            }
            FaultRuleError::NeedsStatus { key } => write!(f, "`{key}` needs `status=`"),
        }
    }
}

impl std::error::Error for FaultRuleError {}

/// At most 64 characters of `value`, for an error message.
fn shown(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_owned(),
    }
}

fn invalid(key: &'static str, value: &str, expected: &'static str) -> FaultRuleError {
    FaultRuleError::InvalidValue {
        key,
        value: shown(value),
        expected,
    }
}

impl FromStr for Operation {
    type Err = FaultRuleError;

    /// The snake-case name (`here_now`), or the same with `-` (`here-now`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.replace('-', "_");
        Operation::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| FaultRuleError::UnknownOperation { value: shown(s) })
    }
}

/// An HTTP status in 100..=999.
fn status_code(key: &'static str, value: &str) -> Result<StatusCode, FaultRuleError> {
    value
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| invalid(key, value, "an HTTP status (100..=999)"))
}

/// The status of a false 200's body: an error status, 400..=599.
fn error_status(key: &'static str, value: &str) -> Result<StatusCode, FaultRuleError> {
    status_code(key, value)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .ok_or_else(|| invalid(key, value, "an error status (400..=599)"))
}

/// `250ms` or `2s`.
fn duration(key: &'static str, value: &str) -> Result<Duration, FaultRuleError> {
    let parsed = if let Some(ms) = value.strip_suffix("ms") {
        ms.parse().ok().map(Duration::from_millis)
    } else if let Some(s) = value.strip_suffix('s') {
        s.parse().ok().map(Duration::from_secs)
    } else {
        None
    };
    parsed.ok_or_else(|| invalid(key, value, "a duration such as 250ms or 2s"))
}

fn probability(value: &str) -> Result<f64, FaultRuleError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| FaultRuleError::Probability {
            value: shown(value),
        })
}

/// The rule's items as they are read, before they become a [`FaultRule`].
#[derive(Default)]
struct Items {
    operation: Option<Operation>,
    keyset: Option<String>,
    channel: Option<String>,
    probability: Option<f64>,
    seed: Option<u64>,
    action: Option<(&'static str, FaultAction)>,
    body: Option<String>,
    retry_after: Option<u64>,
}

fn set<T>(slot: &mut Option<T>, key: &'static str, value: T) -> Result<(), FaultRuleError> {
    if slot.is_some() {
        return Err(FaultRuleError::Repeated { key });
    }
    *slot = Some(value);
    Ok(())
}

impl Items {
    fn action(&mut self, key: &'static str, action: FaultAction) -> Result<(), FaultRuleError> {
        if let Some((first, _)) = self.action {
            return Err(FaultRuleError::SeveralActions { first, second: key });
        }
        self.action = Some((key, action));
        Ok(())
    }

    fn item(&mut self, key: &str, value: Option<&str>) -> Result<(), FaultRuleError> {
        let need = |k: &'static str| value.ok_or(FaultRuleError::MissingValue { key: k });
        let nonempty = |k: &'static str| {
            need(k).and_then(|v| {
                if v.is_empty() {
                    Err(FaultRuleError::MissingValue { key: k })
                } else {
                    Ok(v.to_owned())
                }
            })
        };
        let bare = |k: &'static str| match value {
            None => Ok(()),
            Some(_) => Err(FaultRuleError::UnexpectedValue { key: k }),
        };
        match key {
            "op" | "operation" => set(&mut self.operation, "op", need("op")?.parse()?),
            "keyset" => set(&mut self.keyset, "keyset", nonempty("keyset")?),
            "channel" => set(&mut self.channel, "channel", nonempty("channel")?),
            "p" | "probability" => set(&mut self.probability, "p", probability(need("p")?)?),
            "seed" => {
                let v = need("seed")?;
                let seed = v
                    .parse()
                    .map_err(|_| invalid("seed", v, "a whole number (0..=2^64-1)"))?;
                set(&mut self.seed, "seed", seed)
            }
            "status" => {
                let status = status_code("status", need("status")?)?;
                self.action("status", FaultAction::status(status))
            }
            "retry-after" | "retry_after" => {
                let v = need("retry-after")?;
                let secs = v
                    .parse()
                    .map_err(|_| invalid("retry-after", v, "whole seconds"))?;
                set(&mut self.retry_after, "retry-after", secs)
            }
            "false200" | "false-200" | "false_200" => {
                let status = match value {
                    None => StatusCode::SERVICE_UNAVAILABLE,
                    Some(v) => error_status("false200", v)?,
                };
                self.action("false200", FaultAction::False200 { status })
            }
            "latency" => {
                let delay = duration("latency", need("latency")?)?;
                self.action("latency", FaultAction::Latency { delay })
            }
            "cut" => {
                bare("cut")?;
                self.action("cut", FaultAction::Cut)
            }
            "close" => {
                bare("close")?;
                self.action("close", FaultAction::Close)
            }
            other => Err(FaultRuleError::UnknownKey { key: shown(other) }),
        }
    }

    fn finish(self) -> Result<FaultRule, FaultRuleError> {
        let (_, mut action) = self.action.ok_or(FaultRuleError::NoAction)?;
        match &mut action {
            FaultAction::Status {
                body, retry_after, ..
            } => {
                *body = self.body;
                *retry_after = self.retry_after;
            }
            _ if self.body.is_some() => return Err(FaultRuleError::NeedsStatus { key: "body" }),
            _ if self.retry_after.is_some() => {
                return Err(FaultRuleError::NeedsStatus { key: "retry-after" })
            }
            _ => {}
        }
        Ok(FaultRule {
            operation: self.operation,
            keyset: self.keyset,
            channel: self.channel,
            probability: self.probability.unwrap_or(1.0),
            seed: self.seed.unwrap_or(0),
            action,
        })
    }
}

impl FromStr for FaultRule {
    type Err = FaultRuleError;

    /// Parses the command-line syntax (see the module docs and `--help`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FaultRuleError::Empty);
        }
        let mut items = Items::default();
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(body) = rest.strip_prefix("body=") {
                // `body=` takes the rest, commas included.
                set(&mut items.body, "body", body.to_owned())?;
                break;
            }
            let (item, tail) = rest.split_once(',').unwrap_or((rest, ""));
            rest = tail;
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            items.item(key, value)?;
        }
        items.finish()
    }
}

/// Writes the command-line syntax, which [`FromStr`] reads back to the same rule
/// (unless a keyset or channel name holds a `,`).
impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut item = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = ",";
            r
        };
        if let Some(op) = self.operation {
            item(f, format_args!("op={op}"))?;
        }
        if let Some(k) = &self.keyset {
            item(f, format_args!("keyset={k}"))?;
        }
        if let Some(c) = &self.channel {
            item(f, format_args!("channel={c}"))?;
        }
        if self.probability != 1.0 {
            item(f, format_args!("p={}", self.probability))?;
        }
        if self.seed != 0 {
            item(f, format_args!("seed={}", self.seed))?;
        }
        match &self.action {
            FaultAction::Status {
                status,
                body,
                retry_after,
            } => {
                item(f, format_args!("status={}", status.as_u16()))?;
                if let Some(secs) = retry_after {
                    item(f, format_args!("retry-after={secs}"))?;
                }
                if let Some(body) = body {
                    item(f, format_args!("body={body}"))?;
                }
                Ok(())
            }
            FaultAction::False200 { status } => {
                item(f, format_args!("false200={}", status.as_u16()))
            }
            FaultAction::Latency { delay } => {
                item(f, format_args!("latency={}ms", delay.as_millis()))
            }
            FaultAction::Cut => item(f, format_args!("cut")),
            FaultAction::Close => item(f, format_args!("close")),
        }
    }
}

/// The JSON form of a [`FaultRule`]:
/// `{"operation":"heartbeat","keyset":"demo","channel":"lobby","probability":0.5,
/// "seed":7,"action":{"kind":"status","status":503,"body":"…","retry_after":30}}`;
/// every field but `action` may be left out. Actions: `{"kind":"status",…}`,
/// `{"kind":"false_200","status":403}`, `{"kind":"latency","ms":1500}`,
/// `{"kind":"cut"}`, `{"kind":"close"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation: Option<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(default = "one")]
    probability: f64,
    #[serde(default)]
    seed: u64,
    action: ActionRepr,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ActionRepr {
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    #[serde(rename = "false_200")]
    False200 {
        #[serde(default = "service_unavailable")]
        status: u16,
    },
    Latency {
        ms: u64,
    },
    Cut,
    Close,
}

fn service_unavailable() -> u16 {
    503
}

impl TryFrom<RuleRepr> for FaultRule {
    type Error = FaultRuleError;

    fn try_from(r: RuleRepr) -> Result<Self, Self::Error> {
        let action = match r.action {
            ActionRepr::Status {
                status,
                body,
                retry_after,
            } => FaultAction::Status {
                status: status_code("status", &status.to_string())?,
                body,
                retry_after,
            },
            ActionRepr::False200 { status } => FaultAction::False200 {
                status: error_status("status", &status.to_string())?,
            },
            ActionRepr::Latency { ms } => FaultAction::Latency {
                delay: Duration::from_millis(ms),
            },
            ActionRepr::Cut => FaultAction::Cut,
            ActionRepr::Close => FaultAction::Close,
        };
        let empty = |k: &'static str, v: &Option<String>| match v {
            Some(s) if s.is_empty() => Err(FaultRuleError::MissingValue { key: k }),
            _ => Ok(()),
        };
        empty("keyset", &r.keyset)?;
        empty("channel", &r.channel)?;
        let rule = FaultRule {
            operation: r.operation,
            keyset: r.keyset,
            channel: r.channel,
            probability: 1.0,
            seed: 0,
            action,
        };
        rule.with_probability(r.probability, r.seed)
    }
}

impl From<FaultRule> for RuleRepr {
    fn from(rule: FaultRule) -> Self {
        let action = match rule.action {
            FaultAction::Status {
                status,
                body,
                retry_after,
            } => ActionRepr::Status {
                status: status.as_u16(),
                body,
                retry_after,
            },
            FaultAction::False200 { status } => ActionRepr::False200 {
                status: status.as_u16(),
            },
            FaultAction::Latency { delay } => ActionRepr::Latency {
                ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            },
            FaultAction::Cut => ActionRepr::Cut,
            FaultAction::Close => ActionRepr::Close,
        };
        RuleRepr {
            operation: rule.operation,
            keyset: rule.keyset,
            channel: rule.channel,
            probability: rule.probability,
            seed: rule.seed,
            action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FaultRule, FaultRuleError> {
        s.parse()
    }

    #[test]
    fn every_action_parses_and_prints_back() {
        for text in [
            "op=heartbeat,status=503",
            "op=here_now,keyset=demo,channel=lobby,p=0.5,seed=42,status=500,retry-after=3,body={\"a\":1,\"b\":2}",
            "op=get_state,false200=403",
            "op=leave,latency=1500ms",
            "op=subscribe,cut",
            "keyset=k,close",
            "seed=9,status=402",
        ] {
            let rule = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(rule.to_string(), text);
            assert_eq!(parse(&rule.to_string()).unwrap(), rule);
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(serde_json::from_str::<FaultRule>(&json).unwrap(), rule, "{json}");
        }
        let r = parse("op=here-now, latency=2s").unwrap();
        assert_eq!(r.operation_filter(), Some(Operation::HereNow));
        assert_eq!(
            r.action(),
            &FaultAction::Latency {
                delay: Duration::from_secs(2)
            }
        );
        assert_eq!(
            parse("false200").unwrap().action(),
            &FaultAction::False200 {
                status: StatusCode::SERVICE_UNAVAILABLE
            }
        );
        // The body keeps its commas and `=`s.
        let r = parse("status=200,body=a,b=c").unwrap();
        assert_eq!(
            r.action(),
            &FaultAction::Status {
                status: StatusCode::OK,
                body: Some("a,b=c".into()),
                retry_after: None
            }
        );
    }

    #[test]
    fn bad_rules_name_what_is_wrong() {
        let cases: &[(&str, FaultRuleError)] = &[
            ("", FaultRuleError::Empty),
            ("op=heartbeat", FaultRuleError::NoAction),
            (
                "op=nope,cut",
                FaultRuleError::UnknownOperation {
                    value: "nope".into(),
                },
            ),
            (
                "colour=red,cut",
                FaultRuleError::UnknownKey {
                    key: "colour".into(),
                },
            ),
            ("status,cut", FaultRuleError::MissingValue { key: "status" }),
            (
                "keyset=,cut",
                FaultRuleError::MissingValue { key: "keyset" },
            ),
            ("cut=1", FaultRuleError::UnexpectedValue { key: "cut" }),
            (
                "status=1000",
                FaultRuleError::InvalidValue {
                    key: "status",
                    value: "1000".into(),
                    expected: "an HTTP status (100..=999)",
                },
            ),
            (
                "false200=200",
                FaultRuleError::InvalidValue {
                    key: "false200",
                    value: "200".into(),
                    expected: "an error status (400..=599)",
                },
            ),
            (
                "latency=5",
                FaultRuleError::InvalidValue {
                    key: "latency",
                    value: "5".into(),
                    expected: "a duration such as 250ms or 2s",
                },
            ),
            (
                "p=1.5,cut",
                FaultRuleError::Probability {
                    value: "1.5".into(),
                },
            ),
            (
                "p=NaN,cut",
                FaultRuleError::Probability {
                    value: "NaN".into(),
                },
            ),
            (
                "seed=-1,cut",
                FaultRuleError::InvalidValue {
                    key: "seed",
                    value: "-1".into(),
                    expected: "a whole number (0..=2^64-1)",
                },
            ),
            (
                "op=leave,op=leave,cut",
                FaultRuleError::Repeated { key: "op" },
            ),
            (
                "cut,close",
                FaultRuleError::SeveralActions {
                    first: "cut",
                    second: "close",
                },
            ),
            ("cut,body=x", FaultRuleError::NeedsStatus { key: "body" }),
            (
                "cut,retry-after=3",
                FaultRuleError::NeedsStatus { key: "retry-after" },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).as_ref(), Err(expected), "{text}");
            assert!(expected.to_string().starts_with("fault rule: "));
        }
        let long = "x".repeat(500);
        let e = parse(&format!("op={long},cut")).unwrap_err().to_string();
        assert!(e.len() < 300, "{e}");
    }

    #[test]
    fn json_form_is_checked_like_the_command_line() {
        let ok: FaultRule = serde_json::from_str(
            r#"{"operation":"heartbeat","action":{"kind":"status","status":503}}"#,
        )
        .unwrap();
        assert_eq!(ok, parse("op=heartbeat,status=503").unwrap());
        let ok: FaultRule = serde_json::from_str(r#"{"action":{"kind":"close"}}"#).unwrap();
        assert_eq!(ok, parse("close").unwrap());
        for (json, needle) in [
            (
                r#"{"action":{"kind":"status","status":42}}"#,
                "`status` must be an HTTP status",
            ),
            (
                r#"{"probability":2,"action":{"kind":"cut"}}"#,
                "probability must be",
            ),
            (
                r#"{"operation":"nope","action":{"kind":"cut"}}"#,
                "unknown variant `nope`",
            ),
            (
                r#"{"action":{"kind":"cut"},"extra":1}"#,
                "unknown field `extra`",
            ),
            (
                r#"{"action":{"kind":"explode"}}"#,
                "unknown variant `explode`",
            ),
            (r#"{"action":{"kind":"latency"}}"#, "missing field `ms`"),
            (
                r#"{"keyset":"","action":{"kind":"cut"}}"#,
                "`keyset` needs a value",
            ),
            (r#"{"operation":"heartbeat"}"#, "missing field `action`"),
        ] {
            let e = serde_json::from_str::<FaultRule>(json)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{json}: {e}");
        }
    }
}
