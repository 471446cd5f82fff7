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

use crate::config::{Keyset, ModelConfig};
use crate::server::{
    EmulatorConfig, DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_LONG_POLLS,
};
use std::net::SocketAddr;
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
    /// signed [default: demo]
    #[arg(long = "keyset", value_name = "SUB[:PUB[:SECRET]]")]
    pub keysets: Vec<Keyset>,
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
    /// keep-alive connection stays open)
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
}

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
            .max_channels_per_add(self.max_channels_per_add);
        for keyset in &self.keysets {
            config = config.keyset(keyset.clone());
        }
        config
    }
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
        ]);
        assert_eq!(args.max_connections, 7);
        let expected = ModelConfig::new()
            .keyset(Keyset::new("a"))
            .keyset(Keyset::new("b").publish_key("pb").secret_key("sb"))
            .max_url_len(100)
            .signature_window(Duration::from_secs(5))
            .announce_max(3)
            .interval(Duration::from_secs(2));
        assert_eq!(args.to_config().model(), &expected);
        assert!(Cli::try_parse_from(["emu", "--keyset", ":p"]).is_err());
    }
}
