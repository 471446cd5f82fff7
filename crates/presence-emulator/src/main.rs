//! `presence-emulator`: serve a local PubNub-compatible Presence API until Ctrl-C.

use clap::Parser;
use presence_emulator::cli::EmulatorArgs;
use presence_emulator::Emulator;
use std::io::Write as _;

/// A local, in-memory PubNub-compatible Presence server.
#[derive(Debug, Parser)]
#[command(name = "presence-emulator", version)]
struct Args {
    /// The flags `presence emulator` shares.
    #[command(flatten)]
    emulator: EmulatorArgs,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse().emulator;
    let handle = match Emulator::start(args.to_config()).await {
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
