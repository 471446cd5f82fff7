//! The command line, declared with clap's derive API.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Printed after `--help`.
const AFTER_HELP: &str = "\
Exit codes: 0 success (also after Ctrl-C for heartbeat --keep-alive, watch, emulator);
            1 service, transport or I/O error; 2 invalid input or usage.
With --json, results go to stdout as JSON (one object, or one per line for
heartbeat --keep-alive and watch) and errors to stderr as one JSON object with
kind, status, message, service, channels and groups.

Try it locally: `presence emulator` in one terminal, then
  presence --origin http://127.0.0.1:8090 --subscribe-key demo --user-id ann heartbeat --channels lobby";

/// Query and hold PubNub-compatible Presence: here now, where now, heartbeat, leave,
/// per-user state and presence events.
#[derive(Debug, Parser)]
#[command(name = "presence", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Options shared by every subcommand.
    #[command(flatten)]
    pub(crate) global: Global,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options accepted before or after the subcommand, each also read from a
/// `PRESENCE_*` environment variable (the command line wins).
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Service origin (the default is the real service).
    #[arg(
        long,
        env = "PRESENCE_ORIGIN",
        global = true,
        value_name = "URL",
        help = "Service origin, e.g. http://127.0.0.1:8090 for `presence emulator` \
                [default: https://ps.pndsn.com]"
    )]
    pub(crate) origin: Option<String>,
    /// Subscribe key (required)
    #[arg(
        long,
        env = "PRESENCE_SUBSCRIBE_KEY",
        global = true,
        value_name = "KEY"
    )]
    pub(crate) subscribe_key: Option<String>,
    /// Publish key (part of the signature when a secret key is given)
    #[arg(long, env = "PRESENCE_PUBLISH_KEY", global = true, value_name = "KEY")]
    pub(crate) publish_key: Option<String>,
    /// Secret key: requests are signed with it; it is never sent or printed
    #[arg(
        long,
        env = "PRESENCE_SECRET_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub(crate) secret_key: Option<String>,
    /// Access Manager token / auth key, sent as `auth`; never printed
    #[arg(
        long,
        env = "PRESENCE_AUTH_KEY",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) auth_key: Option<String>,
    /// The user making the requests (required). Subcommands that can act on another
    /// user take `--for USER`
    #[arg(long, env = "PRESENCE_USER_ID", global = true, value_name = "USER")]
    pub(crate) user_id: Option<String>,
    /// HTTP stack: the async client on hyper, or the blocking client on ureq
    /// [default: hyper]
    #[arg(long, env = "PRESENCE_TRANSPORT", global = true, value_enum)]
    pub(crate) transport: Option<Transport>,
    /// HTTP versions of the hyper transport: `http1`, `alpn` (HTTP/2 where an https
    /// server offers it, else HTTP/1.1), or `h2c` (HTTP/2 with prior knowledge, e.g.
    /// against `presence emulator`) [default: http1]
    #[arg(long, env = "PRESENCE_HTTP", global = true, value_enum)]
    pub(crate) http: Option<HttpVersion>,
    /// Print results (stdout) and errors (stderr) as JSON
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// Which client and HTTP stack to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Transport {
    /// `presence::Client` on hyper + tokio.
    Hyper,
    /// `presence::blocking::Client` on ureq.
    Ureq,
}

/// `--http`: which HTTP versions the hyper transport speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HttpVersion {
    /// HTTP/2 by ALPN on https, HTTP/1.1 otherwise.
    Alpn,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 with prior knowledge (h2c on http).
    H2c,
}

impl From<HttpVersion> for presence::transport_hyper::Protocol {
    fn from(v: HttpVersion) -> Self {
        match v {
            HttpVersion::Alpn => Self::Alpn,
            HttpVersion::Http1 => Self::Http1,
            HttpVersion::H2c => Self::Http2PriorKnowledge,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The commands that talk to a Presence service.
    #[command(flatten)]
    Client(ClientCommand),
    /// Run a local in-memory Presence emulator (HTTP/1.1 and h2c) until Ctrl-C
    // The flags of the standalone `presence-emulator` binary, declared once in the
    // emulator crate.
    Emulator(presence_emulator::cli::EmulatorArgs),
}

/// The subcommands that need a client (keys, user id, origin).
#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Who is present on channels and groups (on the whole keyset when neither is given)
    HereNow(HereNowArgs),
    /// Which channels a user is present on (the requesting user unless --for)
    WhereNow(WhereNowArgs),
    /// Announce presence once, or hold it with --keep-alive until Ctrl-C
    Heartbeat(HeartbeatArgs),
    /// Leave channels and groups now
    Leave(Targets),
    /// Set a user's state (a JSON object) on channels and groups
    SetState(SetStateArgs),
    /// Read a user's state on channels and groups
    GetState(GetStateArgs),
    /// Print presence events (join, leave, timeout, state-change, interval) until Ctrl-C
    Watch(Targets),
    /// Keep the members of channels and groups on screen, kept right, until Ctrl-C
    Roster(RosterArgs),
    /// Keep many users present from this one process until Ctrl-C, then leave for all
    /// (also a load generator)
    Fleet(FleetArgs),
}

/// Channels and channel groups.
#[derive(Debug, Args)]
pub(crate) struct Targets {
    /// Channels (comma-separated, or repeat the flag)
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub(crate) channels: Vec<String>,
    /// Channel groups (comma-separated, or repeat the flag)
    #[arg(
        long,
        alias = "channel-groups",
        value_delimiter = ',',
        value_name = "G,H"
    )]
    pub(crate) groups: Vec<String>,
}

/// `here-now`.
#[derive(Debug, Args)]
pub(crate) struct HereNowArgs {
    /// Channels and groups; neither means the whole keyset.
    #[command(flatten)]
    pub(crate) targets: Targets,
    /// Include each occupant's state
    #[arg(long)]
    pub(crate) state: bool,
    /// Occupancy only, without the list of user ids
    #[arg(long)]
    pub(crate) no_user_ids: bool,
    /// Occupants listed per channel, 1..=1000 [default: 1000]
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Occupants to skip per channel
    #[arg(long, value_name = "N")]
    pub(crate) offset: Option<u32>,
    /// Every occupant, however many: read page after page (of --limit, default 1000)
    #[arg(long, conflicts_with = "offset")]
    pub(crate) all: bool,
}

/// `roster`.
#[derive(Debug, Args)]
pub(crate) struct RosterArgs {
    /// Channels and groups whose members to keep.
    #[command(flatten)]
    pub(crate) targets: Targets,
    /// Occupants per here-now page of a snapshot, 1..=1000 [default: 1000]
    #[arg(long, value_name = "N")]
    pub(crate) page_size: Option<u32>,
    /// Also resync every S seconds
    #[arg(long, value_name = "S")]
    pub(crate) resync_every: Option<u64>,
}

/// `fleet`.
#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    /// How many users (ids PREFIX0 … PREFIX{N-1})
    #[arg(long, value_name = "N")]
    pub(crate) users: usize,
    /// User id prefix
    #[arg(long, value_name = "P", default_value = "fleet-")]
    pub(crate) user_prefix: String,
    /// Channels and groups every user is present on.
    #[command(flatten)]
    pub(crate) targets: Targets,
    /// Timeout and state of every user.
    #[command(flatten)]
    pub(crate) announce: Announce,
    /// Most requests in flight at once [default: 64]
    #[arg(long, value_name = "K")]
    pub(crate) concurrency: Option<usize>,
    /// Spread the first heartbeats over S seconds (0: at once) [default: one interval]
    #[arg(long, value_name = "S")]
    pub(crate) spread: Option<f64>,
}

/// `where-now`.
#[derive(Debug, Args)]
pub(crate) struct WhereNowArgs {
    /// The user to look up [default: the requesting user, --user-id]
    #[arg(long = "for", value_name = "USER")]
    pub(crate) for_user: Option<String>,
}

/// `heartbeat`.
#[derive(Debug, Args)]
pub(crate) struct HeartbeatArgs {
    /// Channels and groups to be present on.
    #[command(flatten)]
    pub(crate) targets: Targets,
    /// Timeout and state.
    #[command(flatten)]
    pub(crate) announce: Announce,
    /// Keep heartbeating until Ctrl-C, then leave
    #[arg(long)]
    pub(crate) keep_alive: bool,
}

/// What a heartbeat announces besides its names (`heartbeat`, `fleet`).
#[derive(Debug, Args)]
pub(crate) struct Announce {
    /// Presence timeout in seconds (at least 20); heartbeats go every S/2-1 s
    /// [default: 300]
    #[arg(long, value_name = "S")]
    pub(crate) timeout: Option<u32>,
    /// State to announce on every channel and group (a JSON object)
    #[arg(long, value_name = "JSON")]
    pub(crate) state: Option<String>,
}

/// `set-state`.
#[derive(Debug, Args)]
pub(crate) struct SetStateArgs {
    /// Channels and groups to set the state on.
    #[command(flatten)]
    pub(crate) targets: Targets,
    /// The state (a JSON object)
    #[arg(long, value_name = "JSON")]
    pub(crate) state: String,
    /// Whose state to set [default: the requesting user, --user-id]
    #[arg(long = "for", value_name = "USER")]
    pub(crate) for_user: Option<String>,
}

/// `get-state`.
#[derive(Debug, Args)]
pub(crate) struct GetStateArgs {
    /// Channels and groups to read the state from.
    #[command(flatten)]
    pub(crate) targets: Targets,
    /// Whose state to read [default: the requesting user, --user-id]
    #[arg(long = "for", value_name = "USER")]
    pub(crate) for_user: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn globals_go_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "presence",
            "--user-id",
            "ann",
            "where-now",
            "--json",
            "--for",
            "bob",
        ])
        .unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.user_id.as_deref(), Some("ann"));
        match cli.command {
            Command::Client(ClientCommand::WhereNow(a)) => {
                assert_eq!(a.for_user.as_deref(), Some("bob"))
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["presence", "where-now", "--user-id", "bob"]).unwrap();
        assert_eq!(cli.global.user_id.as_deref(), Some("bob"));
    }

    #[test]
    fn emulator_takes_the_standalone_binarys_flags() {
        let cli = Cli::try_parse_from([
            "presence",
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--keyset",
            "sub-c-1",
            "--max-url-len",
            "1000",
            "--signature-window",
            "30",
            "--announce-max",
            "4",
            "--interval",
            "2",
            "--max-connections",
            "8",
        ])
        .unwrap();
        let Command::Emulator(e) = cli.command else {
            panic!("{:?}", cli.command);
        };
        assert_eq!(e.listen.port(), 0);
        assert_eq!(e.keysets[0].subscribe_key_str(), "sub-c-1");
        assert_eq!(
            (
                e.max_url_len,
                e.signature_window,
                e.announce_max,
                e.interval,
                e.max_connections
            ),
            (1000, 30, 4, 2, 8)
        );
        let Command::Emulator(args) = Cli::try_parse_from(["presence", "emulator"])
            .unwrap()
            .command
        else {
            panic!("not the emulator");
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8090");
        assert!(args.keysets.is_empty());
    }

    #[test]
    fn channel_lists_split_on_commas_and_repeat() {
        let cli = Cli::try_parse_from([
            "presence",
            "leave",
            "--channels",
            "a,b",
            "--channels",
            "c",
            "--channel-groups",
            "g",
        ])
        .unwrap();
        match cli.command {
            Command::Client(ClientCommand::Leave(t)) => {
                assert_eq!(t.channels, ["a", "b", "c"]);
                assert_eq!(t.groups, ["g"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
