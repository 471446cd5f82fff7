//! The emulator's command-line flags (feature `cli`, on by default), written once for
//! both binaries that start an emulator: `presence-emulator` and `presence emulator`.
//!
//! Flatten [`EmulatorArgs`] into a clap command, then turn it into an
//! [`EmulatorConfig`] with [`EmulatorArgs::to_config`]:
//!
//! ```
//! use clap::Parser;
//! use presence_emulator::cli::EmulatorArgs;
//!
//! /// My test server.
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     emulator: EmulatorArgs,
//! }
//!
//! let cli = Cli::parse_from(["my-server", "--keyset", "sub-c-1:pub-c-1", "--announce-max", "5"]);
//! assert_eq!(cli.emulator.listen.to_string(), "127.0.0.1:8090");
//! let config = cli.emulator.to_config();
//! assert_eq!(config.model().keysets()[0].subscribe_key_str(), "sub-c-1");
//! ```

use crate::admin::{AdminToken, EmptyAdminToken};
use crate::config::{Keyset, KeysetParseError, ModelConfig};
use crate::fault::FaultRule;
use crate::server::{
    EmulatorConfig, DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_LONG_POLLS,
};
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The flags of an emulator: listener, keysets, limits and presence-event tuning.
///
/// Every default is the library's ([`ModelConfig::default`],
/// [`EmulatorConfig::default`]) except `--listen`, which is `127.0.0.1:8090` rather
/// than an ephemeral port.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:8090", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// A keyset to serve; repeat for several. With a SECRET, every request must be
    /// signed. A secret given here is visible in the process list: prefer
    /// --keyset-file or PRESENCE_EMULATOR_KEYSETS [default: demo]
    #[arg(long = "keyset", value_name = "SUB[:PUB[:SECRET]]", value_parser = KeysetParser)]
    pub keysets: Vec<Keyset>,
    /// A file of keysets, `SUB[:PUB[:SECRET]]` separated by spaces or newlines (`#` starts
    /// a comment); repeat for several
    #[arg(long = "keyset-file", value_name = "PATH", value_parser = KeysetFileParser)]
    pub keyset_files: Vec<KeysetList>,
    /// Keysets separated by spaces or newlines; taken from the environment variable
    /// PRESENCE_EMULATOR_KEYSETS when the flag is absent (its value is never shown)
    #[arg(
        long = "keysets",
        value_name = "LIST",
        env = "PRESENCE_EMULATOR_KEYSETS",
        hide_env_values = true,
        value_parser = KeysetListParser
    )]
    pub keyset_list: Option<KeysetList>,
    /// Longest accepted request target (path and query) in bytes; longer gets 414
    #[arg(long, value_name = "BYTES", default_value_t = ModelConfig::default().max_url_len)]
    pub max_url_len: usize,
    /// Accepted distance of a signed request's `timestamp` from the clock, in seconds
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = ModelConfig::default().signature_window.as_secs()
    )]
    pub signature_window: u64,
    /// Occupancy above which a channel switches to `interval` presence events
    #[arg(long, value_name = "N", default_value_t = ModelConfig::default().announce_max)]
    pub announce_max: usize,
    /// Period of `interval` events, in seconds
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = ModelConfig::default().interval.as_secs()
    )]
    pub interval: u64,
    /// Most connections open at once besides parked long-polls; at the limit a new
    /// connection closes the longest-idle one
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Most subscribe long-polls parked at once (keep it below `ulimit -n`); past it the
    /// oldest is answered at once
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_LONG_POLLS)]
    pub max_long_polls: usize,
    /// Seconds a client may take to send a request's headers (also how long an idle
    /// keep-alive or HTTP/2 connection stays open)
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS)]
    pub header_read_timeout: u64,
    /// Presence events each keyset keeps for subscribers to catch up on
    #[arg(long, value_name = "N", default_value_t = ModelConfig::default().event_log_capacity)]
    pub event_log_events: usize,
    /// Bytes of presence events each keyset keeps (names and states included)
    #[arg(long, value_name = "BYTES", default_value_t = ModelConfig::default().event_log_bytes)]
    pub event_log_bytes: usize,
    /// Most channels one channel group may hold (PubNub's documented limit by default)
    #[arg(long, value_name = "N", default_value_t = ModelConfig::default().max_group_channels)]
    pub max_group_channels: usize,
    /// Most channels one `add=` may name (PubNub's documented per-call limit by default)
    #[arg(long, value_name = "N", default_value_t = ModelConfig::default().max_channels_per_add)]
    pub max_channels_per_add: usize,
    /// Cache here-now answers for SECS seconds on the emulator's clock, as the service
    /// does (3 s): the same here now (keyset, channels, groups, flags) gets the same
    /// answer within that time. 0 turns it off [default: 0, or 3 with --realistic]
    #[arg(long, value_name = "SECS")]
    pub here_now_cache: Option<u64>,
    /// Answer requests to a keyset past N per second with 429 and Retry-After
    /// (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub rate_limit: u32,
    /// Turn on every behaviour the service is documented to have (today the 3 s
    /// here-now cache); explicit flags win
    #[arg(long)]
    pub realistic: bool,
    /// Guard the admin API (/_emulator/v1/): its requests must send `Authorization:
    /// Bearer TOKEN`. Taken from PRESENCE_EMULATOR_ADMIN_TOKEN when the flag is absent
    /// (its value is never shown); a token given here is visible in the process list
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PRESENCE_EMULATOR_ADMIN_TOKEN",
        hide_env_values = true,
        value_parser = AdminTokenParser
    )]
    pub admin_token: Option<AdminToken>,
    /// Restore the state in FILE (what GET /_emulator/v1/state and --export-on-exit
    /// write) at start
    #[arg(long, value_name = "FILE")]
    pub import: Option<PathBuf>,
    /// Write the state to FILE on Ctrl-C (restore it with --import)
    #[arg(long, value_name = "FILE")]
    pub export_on_exit: Option<PathBuf>,
    /// A fault rule, `key=value` items separated by `,` (the syntax in `--help` and
    /// docs/EMULATOR.md); repeat for several
    #[arg(long = "fault", value_name = "RULE", long_help = FAULT_HELP)]
    pub faults: Vec<FaultRule>,
}

/// `--fault`'s long help: the rule syntax.
const FAULT_HELP: &str = "\
A fault rule; repeat for several (the first firing one that is not a latency
decides, latencies add up). RULE is `key=value` items separated by `,`, exactly
one action among them:

  filters: op=OP (here_now, where_now, heartbeat, leave, set_state, get_state,
           subscribe, registry, time), keyset=SUB, channel=NAME,
           p=PROBABILITY (0..1, default 1), seed=N (default 0; same seed, same
           requests faulted in every run);
  actions: status=CODE[,retry-after=SECS][,body=TEXT] (body last: it takes the
           rest, commas included), false200[=CODE] (HTTP 200, error status in
           the body), latency=DURATION (250ms, 2s), cut (half the body, then
           close), close (no response).

E.g. --fault 'op=heartbeat,p=0.3,seed=7,status=503,retry-after=2'";

impl EmulatorArgs {
    /// The configuration these flags describe (the real clock, the other settings at
    /// their defaults).
    pub fn to_config(&self) -> EmulatorConfig {
        let mut config = EmulatorConfig::new()
            .listen(self.listen)
            .max_url_len(self.max_url_len)
            .signature_window(Duration::from_secs(self.signature_window))
            .announce_max(self.announce_max)
            .interval(Duration::from_secs(self.interval))
            .max_connections(self.max_connections)
            .max_long_polls(self.max_long_polls)
            .header_read_timeout(Duration::from_secs(self.header_read_timeout))
            .event_log_capacity(self.event_log_events)
            .event_log_bytes(self.event_log_bytes)
            .max_group_channels(self.max_group_channels)
            .max_channels_per_add(self.max_channels_per_add)
            .faults(self.faults.iter().cloned())
            .rate_limit(self.rate_limit);
        if self.realistic {
            config = config.realistic();
        }
        if let Some(secs) = self.here_now_cache {
            config = config.here_now_cache(Duration::from_secs(secs));
        }
        for keyset in self.all_keysets() {
            config = config.keyset(keyset.clone());
        }
        if let Some(token) = &self.admin_token {
            config = config.admin_token(token.clone());
        }
        if let Some(path) = &self.import {
            config = config.import(path);
        }
        if let Some(path) = &self.export_on_exit {
            config = config.export_on_exit(path);
        }
        config
    }

    /// Every keyset given, in order: `--keyset`, then `--keyset-file`, then `--keysets`
    /// (or `PRESENCE_EMULATOR_KEYSETS`).
    pub fn all_keysets(&self) -> impl Iterator<Item = &Keyset> {
        self.keysets
            .iter()
            .chain(self.keyset_files.iter().flat_map(|l| &l.0))
            .chain(self.keyset_list.iter().flat_map(|l| &l.0))
    }
}

/// Keysets read from a file or a list (`--keyset-file`, `--keysets`). `Debug` never
/// shows a secret key (see [`Keyset`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetList(pub Vec<Keyset>);

/// Parses `SUB[:PUB[:SECRET]]` items separated by whitespace, `#` comments to the end
/// of the line. The error says which item (1-based) is wrong, never what it holds.
fn parse_list(text: &str) -> Result<Vec<Keyset>, (usize, KeysetParseError)> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(str::split_whitespace)
        .enumerate()
        .map(|(i, item)| item.parse().map_err(|e| (i + 1, e)))
        .collect()
}

/// A clap error that names the flag but never repeats the value: keyset values may
/// hold a secret key, and clap's own "invalid value '…'" would print it.
fn refuse(cmd: &clap::Command, arg: Option<&clap::Arg>, why: &str) -> clap::Error {
    let flag = arg.map_or_else(String::new, |a| format!(" for '{a}'"));
    clap::Error::raw(
        ErrorKind::ValueValidation,
        format!("invalid value{flag} (not shown: it may hold a secret key): {why}\n"),
    )
    .with_cmd(cmd)
}

fn utf8<'a>(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    v: &'a OsStr,
) -> Result<&'a str, clap::Error> {
    v.to_str().ok_or_else(|| refuse(cmd, arg, "not UTF-8"))
}

/// `--keyset`'s parser: [`Keyset`]'s `FromStr`, with an error that hides the value.
#[derive(Debug, Clone, Copy)]
struct KeysetParser;

impl TypedValueParser for KeysetParser {
    type Value = Keyset;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Keyset, clap::Error> {
        utf8(cmd, arg, value)?
            .parse()
            .map_err(|e: KeysetParseError| refuse(cmd, arg, &e.to_string()))
    }
}

/// `--admin-token`'s parser: an error that never repeats the value.
#[derive(Debug, Clone, Copy)]
struct AdminTokenParser;

impl TypedValueParser for AdminTokenParser {
    type Value = AdminToken;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<AdminToken, clap::Error> {
        utf8(cmd, arg, value)?
            .parse()
            .map_err(|e: EmptyAdminToken| refuse(cmd, arg, &e.to_string()))
    }
}

/// `--keysets`'s (and `PRESENCE_EMULATOR_KEYSETS`'s) parser.
#[derive(Debug, Clone, Copy)]
struct KeysetListParser;

impl TypedValueParser for KeysetListParser {
    type Value = KeysetList;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<KeysetList, clap::Error> {
        parse_list(utf8(cmd, arg, value)?)
            .map(KeysetList)
            .map_err(|(n, e)| refuse(cmd, arg, &format!("keyset number {n}: {e}")))
    }
}

/// `--keyset-file`'s parser: reads the file when the command line is parsed.
#[derive(Debug, Clone, Copy)]
struct KeysetFileParser;

impl TypedValueParser for KeysetFileParser {
    type Value = KeysetList;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<KeysetList, clap::Error> {
        let path = PathBuf::from(value);
        let shown = path.display();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            clap::Error::raw(
                ErrorKind::Io,
                format!("cannot read keyset file '{shown}': {e}\n"),
            )
            .with_cmd(cmd)
        })?;
        parse_list(&text).map(KeysetList).map_err(|(n, e)| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("keyset file '{shown}', keyset number {n} (not shown: it may hold a secret key): {e}\n"),
            )
            .with_cmd(cmd)
        })
    }
}

/// The keyset secrets and admin tokens that raw command-line arguments,
/// `PRESENCE_EMULATOR_KEYSETS` and `PRESENCE_EMULATOR_ADMIN_TOKEN` may hold, for binaries to redact from any error they print about arguments they
/// could not parse (clap repeats an unexpected argument as given). It looks at the
/// value after `--keyset`/`--keysets` (or `=`-joined), at any other argument shaped
/// like `SUB:PUB:SECRET`, at the value after `--admin-token`, and at the environment
/// variables.
pub fn secrets_in(args: &[String]) -> Vec<String> {
    let mut values: Vec<&str> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut after_flag = false;
    let mut after_token = false;
    for arg in args.iter().skip(1) {
        if after_token {
            tokens.push(arg.clone());
            after_token = false;
        } else if arg == "--admin-token" {
            after_token = true;
        } else if let Some(v) = arg.strip_prefix("--admin-token=") {
            tokens.push(v.to_owned());
        } else if after_flag {
            values.push(arg);
            after_flag = false;
        } else if arg == "--keyset" || arg == "--keysets" {
            after_flag = true;
        } else if let Some(v) = arg
            .strip_prefix("--keyset=")
            .or_else(|| arg.strip_prefix("--keysets="))
        {
            values.push(v);
        } else if !arg.starts_with('-') && !arg.starts_with('[') {
            values.push(arg);
        }
    }
    let env = std::env::var("PRESENCE_EMULATOR_KEYSETS").unwrap_or_default();
    values.extend(env.split_whitespace());
    values
        .iter()
        .flat_map(|v| v.split_whitespace())
        .filter_map(|item| item.splitn(3, ':').nth(2))
        .filter(|secret| !secret.is_empty())
        .map(str::to_owned)
        .chain(tokens)
        .chain(std::env::var("PRESENCE_EMULATOR_ADMIN_TOKEN").ok())
        .filter(|secret| !secret.is_empty())
        .collect()
}

/// `text` with every secret of [`secrets_in`]`(args)` replaced by `***`.
pub fn redact_secrets(text: &str, args: &[String]) -> String {
    let mut secrets = secrets_in(args);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
        .iter()
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        emulator: EmulatorArgs,
    }

    fn parse(args: &[&str]) -> EmulatorArgs {
        Cli::try_parse_from(std::iter::once("emu").chain(args.iter().copied()))
            .unwrap()
            .emulator
    }

    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_are_found_where_clap_may_repeat_them() {
        let args: Vec<String> = [
            "emu",
            "--keyset",
            "a:b:s1",
            "--keyset=a:b:s2",
            "--keysets",
            "x y:z:s3",
            "a:b:s4",
            "--listen",
            "[::1]:80",
            "--admin-token",
            "s5",
            "--admin-token=s6",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let found = secrets_in(&args);
        for s in ["s1", "s2", "s3", "s4", "s5", "s6"] {
            assert!(found.iter().any(|f| f == s), "{s} in {found:?}");
        }
        assert_eq!(redact_secrets("x a:b:s1 s4", &args), "x a:b:*** ***");
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let args = parse(&[]);
        assert_eq!(args.listen, SocketAddr::from(([127, 0, 0, 1], 8090)));
        assert_eq!(args.to_config().model(), &ModelConfig::default());
    }

    #[test]
    fn every_flag_reaches_the_config() {
        let args = parse(&[
            "--listen",
            "0.0.0.0:0",
            "--keyset",
            "a",
            "--keyset",
            "b:pb:sb",
            "--max-url-len",
            "100",
            "--signature-window",
            "5",
            "--announce-max",
            "3",
            "--interval",
            "2",
            "--max-connections",
            "7",
            "--max-long-polls",
            "8",
            "--header-read-timeout",
            "9",
            "--event-log-events",
            "10",
            "--event-log-bytes",
            "11",
            "--max-group-channels",
            "12",
            "--max-channels-per-add",
            "13",
            "--here-now-cache",
            "4",
            "--rate-limit",
            "14",
            "--keysets",
            "c # a comment\n d:pd",
            "--admin-token",
            "t0ken",
            "--import",
            "in.json",
            "--export-on-exit",
            "out.json",
        ]);
        let config = args.to_config();
        assert_eq!(config.admin.token, AdminToken::new("t0ken"));
        assert_eq!(
            config.admin.import.as_deref(),
            Some(std::path::Path::new("in.json"))
        );
        assert_eq!(
            config.admin.export_on_exit.as_deref(),
            Some(std::path::Path::new("out.json"))
        );
        assert!(!format!("{args:?}{config:?}").contains("t0ken"));
        assert_eq!(
            (
                args.max_connections,
                args.max_long_polls,
                args.header_read_timeout
            ),
            (7, 8, 9)
        );
        let expected = ModelConfig::new()
            .keyset(Keyset::new("a"))
            .keyset(Keyset::new("b").publish_key("pb").secret_key("sb"))
            .keyset(Keyset::new("c"))
            .keyset(Keyset::new("d").publish_key("pd"))
            .max_url_len(100)
            .signature_window(Duration::from_secs(5))
            .announce_max(3)
            .interval(Duration::from_secs(2))
            .event_log_capacity(10)
            .event_log_bytes(11)
            .max_group_channels(12)
            .max_channels_per_add(13)
            .here_now_cache(Duration::from_secs(4))
            .rate_limit(14);
        assert_eq!(args.to_config().model(), &expected);
        assert!(Cli::try_parse_from(["emu", "--keyset", ":p"]).is_err());
        let e = Cli::try_parse_from(["emu", "--keyset", ":p:hidden"]).unwrap_err();
        assert!(!e.to_string().contains("hidden"), "{e}");
    }

    #[test]
    fn realistic_turns_on_the_documented_behaviours_and_explicit_flags_win() {
        let realistic = parse(&["--realistic"]).to_config();
        assert_eq!(realistic.model(), &ModelConfig::new().realistic());
        assert_eq!(
            realistic.model(),
            &ModelConfig::new().here_now_cache(crate::REALISTIC_HERE_NOW_CACHE)
        );
        let off = parse(&["--realistic", "--here-now-cache", "0"]).to_config();
        assert_eq!(off.model(), &ModelConfig::new());
        let limited = parse(&["--realistic", "--rate-limit", "5"]).to_config();
        assert_eq!(
            limited.model(),
            &ModelConfig::new().realistic().rate_limit(5)
        );
    }

    #[test]
    fn fault_rules_reach_the_config_and_bad_ones_are_named() {
        let args = parse(&[
            "--fault",
            "op=heartbeat,status=503",
            "--fault",
            "op=leave,p=0.5,seed=3,close",
        ]);
        let rules: Vec<FaultRule> = ["op=heartbeat,status=503", "op=leave,p=0.5,seed=3,close"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        assert_eq!(args.to_config().fault_rules(), rules.as_slice());
        let e = Cli::try_parse_from(["emu", "--fault", "op=heartbeat,status=5xx"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("`status` must be an HTTP status (100..=999), not `5xx`"),
            "{e}"
        );
    }
}
