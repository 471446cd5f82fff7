//! `presence-emulator`: serve a local PubNub-compatible Presence API until Ctrl-C.

use clap::Parser;
use presence_emulator::{Emulator, EmulatorConfig, Keyset};
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// A local, in-memory PubNub-compatible Presence server.
#[derive(Debug, Parser)]
#[command(name = "presence-emulator", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// A keyset to serve, as SUB[:PUB[:SECRET]]; repeat for several. Default: `demo`.
    #[arg(long = "keyset", value_name = "SUB[:PUB[:SECRET]]")]
    keysets: Vec<Keyset>,
    /// Longest accepted request URL (path and query) in bytes; longer gets 414.
    #[arg(long, default_value_t = 32 * 1024)]
    max_url_len: usize,
    /// Accepted distance of a signed request's `timestamp` from the clock, in seconds.
    #[arg(long, default_value_t = 600)]
    signature_window: u64,
    /// Occupancy above which a channel switches to `interval` presence events.
    #[arg(long, default_value_t = 20)]
    announce_max: usize,
    /// Period of `interval` events, in seconds.
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Most connections served at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut config = EmulatorConfig::new()
        .listen(args.listen)
        .max_url_len(args.max_url_len)
        .signature_window(Duration::from_secs(args.signature_window))
        .announce_max(args.announce_max)
        .interval(Duration::from_secs(args.interval))
        .max_connections(args.max_connections);
    for ks in args.keysets {
        config = config.keyset(ks);
    }
    let handle = match Emulator::start(config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("presence-emulator: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("presence-emulator listening on {}", handle.origin());
    let _ = std::io::stdout().flush();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("presence-emulator: cannot wait for Ctrl-C: {e}");
    }
    handle.shutdown().await;
    std::process::ExitCode::SUCCESS
}
