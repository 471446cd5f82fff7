//! Everything the CLI prints, formatted once for both transports: results
//! ([`Outcome`]), presence events ([`event_json`], [`event_line`]) and the
//! human-readable tables.
//!
//! With `--json` a result or an event is exactly its `Serialize` form from the core
//! (the shapes documented on each type); only the acknowledgements of `heartbeat` and
//! `leave`, which have no result, are written here. This module keeps the human
//! formatting: tables, column widths, wording.

use crate::error::{CliError, Redactor};
use presence::roster::Member;
use presence::{GetStateResult, HereNowResult, PresenceEvent, SetStateResult, WhereNowResult};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::Write as _;

/// Writes results to stdout and diagnostics to stderr, as JSON or text, with secrets
/// redacted from both.
#[derive(Debug)]
pub(crate) struct Printer {
    /// `--json`.
    pub(crate) json: bool,
    /// Values that must never be printed.
    pub(crate) redactor: Redactor,
}

impl Printer {
    /// Prints a one-shot command's result.
    pub(crate) fn outcome(&self, outcome: &Outcome) -> Result<(), CliError> {
        if self.json {
            self.stdout(&format!("{}\n", outcome.to_json()?))
        } else {
            self.stdout(&outcome.to_human())
        }
    }

    /// Prints one line of a long-running command's output (flushed at once): `json`
    /// (JSON text) with `--json`, else `text`.
    pub(crate) fn line(&self, json: &str, text: &str) -> Result<(), CliError> {
        if self.json {
            self.stdout(&format!("{json}\n"))
        } else {
            self.stdout(&format!("{text}\n"))
        }
    }

    /// Redraws the whole terminal screen with `text` (`roster` on a terminal).
    pub(crate) fn screen(&self, text: &str) -> Result<(), CliError> {
        self.stdout(&format!("\x1b[H\x1b[2J{text}"))
    }

    fn stdout(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(self.redactor.redact(text).as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| CliError::io("cannot write to stdout", e))
    }

    /// A progress or warning line on stderr (`presence: …`, or the JSON object).
    pub(crate) fn status(&self, json: &Value, text: &str) {
        let line = if self.json {
            json.to_string()
        } else {
            format!("presence: {text}")
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", self.redactor.redact(&line));
        let _ = err.flush();
    }

    /// The error on stderr.
    pub(crate) fn error(&self, error: &CliError) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", error.render(self.json, &self.redactor));
    }
}

/// Channels and groups named on the command line, for messages and JSON.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    /// Channels.
    pub(crate) channels: Vec<String>,
    /// Channel groups.
    pub(crate) groups: Vec<String>,
}

impl Names {
    /// `channel a, b and group g`.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.channels.is_empty() {
            parts.push(format!(
                "{} {}",
                plural(self.channels.len(), "channel", "channels"),
                self.channels.join(", ")
            ));
        }
        if !self.groups.is_empty() {
            parts.push(format!(
                "{} {}",
                plural(self.groups.len(), "group", "groups"),
                self.groups.join(", ")
            ));
        }
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(" and ")
        }
    }
}

/// The result of a one-shot command.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `here-now`.
    HereNow(HereNowResult<'static>),
    /// `where-now`.
    WhereNow {
        /// Whose channels.
        user_id: String,
        /// The channels.
        result: WhereNowResult,
    },
    /// `heartbeat` (once).
    Heartbeat {
        /// The requesting user.
        user_id: String,
        /// Where.
        names: Names,
        /// `--timeout`, when given.
        timeout: Option<u32>,
        /// `--state`, when given.
        state: Option<Value>,
    },
    /// `leave`.
    Leave {
        /// The requesting user.
        user_id: String,
        /// Where.
        names: Names,
    },
    /// `set-state`.
    SetState {
        /// Whose state.
        user_id: String,
        /// Where.
        names: Names,
        /// The state as the service echoed it.
        result: SetStateResult,
    },
    /// `get-state`.
    GetState {
        /// Whose state (as asked; the service's answer wins when it names the user).
        user_id: String,
        /// Channel → state.
        result: GetStateResult,
    },
}

impl Outcome {
    /// The JSON text printed with `--json`: the result's serialization, or for
    /// `heartbeat` and `leave` (no result) what was announced.
    pub(crate) fn to_json(&self) -> Result<String, CliError> {
        let text = match self {
            Outcome::HereNow(r) => serde_json::to_string(r),
            Outcome::WhereNow { result, .. } => serde_json::to_string(result),
            Outcome::SetState { result, .. } => serde_json::to_string(result),
            Outcome::GetState { result, .. } => serde_json::to_string(result),
            Outcome::Heartbeat {
                user_id,
                names,
                timeout,
                state,
            } => Ok(json!({
                "user_id": user_id,
                "channels": names.channels,
                "groups": names.groups,
                "timeout": timeout,
                "state": state,
            })
            .to_string()),
            Outcome::Leave { user_id, names } => Ok(json!({
                "user_id": user_id,
                "channels": names.channels,
                "groups": names.groups,
            })
            .to_string()),
        };
        text.map_err(|e| CliError::io("cannot write the result as JSON", e))
    }

    /// The human-readable text (ends with a newline).
    pub(crate) fn to_human(&self) -> String {
        match self {
            Outcome::HereNow(r) => here_now_table(r),
            Outcome::WhereNow { user_id, result } => {
                if result.channels.is_empty() {
                    format!("{user_id} is not present on any channel\n")
                } else {
                    let mut out = format!(
                        "{user_id} is present on {}:\n",
                        count(result.channels.len() as u64, "channel", "channels")
                    );
                    for channel in &result.channels {
                        let _ = writeln!(out, "  {channel}");
                    }
                    out
                }
            }
            Outcome::Heartbeat {
                user_id,
                names,
                timeout,
                state,
            } => {
                let mut out = format!("{user_id} is present on {}", names.describe());
                if let Some(t) = timeout {
                    let _ = write!(out, " (timeout {t} s)");
                }
                if let Some(s) = state {
                    let _ = write!(out, " with state {s}");
                }
                out.push('\n');
                out
            }
            Outcome::Leave { user_id, names } => {
                format!("{user_id} left {}\n", names.describe())
            }
            Outcome::SetState {
                user_id,
                names,
                result,
            } => format!(
                "state of {user_id} on {}: {}\n",
                names.describe(),
                result.state
            ),
            Outcome::GetState { user_id, result } => {
                let user = result.user_id.as_deref().unwrap_or(user_id);
                if result.channels.is_empty() {
                    return format!("{user} has no state here\n");
                }
                let rows = result
                    .channels
                    .iter()
                    .map(|(channel, state)| vec![channel.clone(), state.to_string()])
                    .collect::<Vec<_>>();
                let mut out = table(&["CHANNEL", "STATE"], rows);
                let _ = writeln!(
                    out,
                    "state of {user} on {}",
                    count(result.channels.len() as u64, "channel", "channels")
                );
                out
            }
        }
    }
}

/// The here now table: one row per listed occupant (or per channel when no user ids
/// were asked for), then a summary line.
fn here_now_table(r: &HereNowResult) -> String {
    let mut rows = Vec::new();
    for c in &r.channels {
        if c.occupants.is_empty() {
            rows.push(vec![
                c.name.to_string(),
                c.occupancy.to_string(),
                "-".into(),
                "-".into(),
            ]);
        }
        for o in &c.occupants {
            rows.push(vec![
                c.name.to_string(),
                c.occupancy.to_string(),
                o.user_id.to_string(),
                o.state
                    .as_ref()
                    .map_or_else(|| "-".into(), ToString::to_string),
            ]);
        }
    }
    let mut out = if rows.is_empty() {
        String::new()
    } else {
        table(&["CHANNEL", "OCCUPANCY", "USER ID", "STATE"], rows)
    };
    let _ = writeln!(
        out,
        "{}, {}",
        count(r.total_channels, "channel", "channels"),
        count(r.total_occupancy, "occupant", "occupants")
    );
    out
}

/// The members of each channel of a roster, as `roster` draws them on a terminal: a
/// heading per channel (`lobby: 3 members (occupancy 3)`) over a USER / STATE table.
pub(crate) fn roster_screen(
    channels: &[(String, Option<u64>, Vec<Member>)],
    synced: bool,
) -> String {
    let mut out = String::new();
    if !synced {
        out.push_str("(syncing...)\n");
    }
    for (channel, occupancy, members) in channels {
        let n = members.len();
        let _ = write!(out, "{channel}: {n} {}", plural(n, "member", "members"));
        if let Some(occupancy) = occupancy {
            let _ = write!(out, " (occupancy {occupancy})");
        }
        out.push('\n');
        if n > 0 {
            let rows = members
                .iter()
                .map(|m| {
                    let state = m
                        .state
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    vec![m.user_id.clone(), state]
                })
                .collect();
            out.push_str(&table(&["USER", "STATE"], rows));
        }
        out.push('\n');
    }
    out
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
/// Widths are terminal columns (`unicode-width`), so CJK and emoji names line up.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    use unicode_width::UnicodeWidthStr;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.width());
                let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// `one` when `n == 1`, else `many`.
fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `1 channel`, `3 channels`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One presence event as JSON (one line of `watch --json`): its serialization.
pub(crate) fn event_json(event: &PresenceEvent) -> Result<String, CliError> {
    serde_json::to_string(event).map_err(|e| CliError::io("cannot write the event as JSON", e))
}

/// One presence event as a line of text: the event's time of day, then its `Display`
/// (`12:00:05Z join lobby ann (occupancy 1) state {"mood":"ok"}`).
pub(crate) fn event_line(event: &PresenceEvent) -> String {
    let timestamp = match event {
        PresenceEvent::Interval(i) => i.timestamp,
        other => other.change().map_or(0, |c| c.timestamp),
    };
    format!("{} {event}", clock(timestamp))
}

/// Unix seconds as `HH:MM:SSZ` (UTC time of day).
fn clock(unix: u64) -> String {
    let day = unix % 86_400;
    format!(
        "{:02}:{:02}:{:02}Z",
        day / 3600,
        (day % 3600) / 60,
        day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_all_but_the_last_column() {
        let t = table(
            &["A", "BB"],
            vec![
                vec!["xyz".into(), "1".into()],
                vec!["é".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    BB\nxyz  1\né    22\n");
    }

    /// CJK and emoji are two terminal columns wide: the next column still lines up.
    #[test]
    fn wide_characters_line_up() {
        let t = table(
            &["CHANNEL", "USER"],
            vec![
                vec!["频道".into(), "ann".into()],
                vec!["🎮x".into(), "bob".into()],
                vec!["lobby".into(), "cy".into()],
            ],
        );
        assert_eq!(
            t,
            "CHANNEL  USER\n频道     ann\n🎮x      bob\nlobby    cy\n"
        );
    }

    #[test]
    fn names_and_counts_read_well() {
        let n = Names {
            channels: vec!["a".into(), "b".into()],
            groups: vec!["g".into()],
        };
        assert_eq!(n.describe(), "channels a, b and group g");
        assert_eq!(count(1, "channel", "channels"), "1 channel");
        assert_eq!(count(0, "channel", "channels"), "0 channels");
        assert_eq!(clock(1_700_000_000), "22:13:20Z");
    }

    #[test]
    fn where_now_text() {
        let mut result = WhereNowResult::default();
        result.channels = vec!["a".into(), "b".into()];
        let text = Outcome::WhereNow {
            user_id: "ann".into(),
            result,
        }
        .to_human();
        assert_eq!(text, "ann is present on 2 channels:\n  a\n  b\n");
    }
}
