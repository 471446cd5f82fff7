//! `presence-emulator`: serve a local PubNub-compatible Presence API until Ctrl-C.

use clap::Parser;
use presence_emulator::cli::{redact_secrets, EmulatorArgs};
use presence_emulator::Emulator;
use std::io::Write as _;

/// jemalloc with its background threads on: they purge freed pages, so the process's
/// RSS follows the model's live heap after users leave (glibc's malloc keeps freed
/// memory resident; docs/PERFORMANCE.md §4 has the figures).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A local, in-memory PubNub-compatible Presence server (HTTP/1.1 and prior-knowledge
/// HTTP/2, h2c, on one port).
#[derive(Debug, Parser)]
#[command(name = "presence-emulator", version)]
struct Args {
    /// The flags `presence emulator` shares.
    #[command(flatten)]
    emulator: EmulatorArgs,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::process::ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    let args = match Args::try_parse_from(&raw) {
        Ok(args) => args.emulator,
        Err(e) => return usage_error(&e, &raw),
    };
    let handle = match Emulator::start(args.to_config()).await {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            // `--import`: the error names the file and what is wrong in it.
            eprintln!("presence-emulator: {e}");
            return std::process::ExitCode::FAILURE;
        }
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
    // Shuts down, then writes the `--export-on-exit` file.
    if let Err(e) = handle.exit().await {
        eprintln!("presence-emulator: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

/// Prints a clap error (help and version as usual) with every keyset secret of the
/// arguments and the environment replaced: clap repeats unexpected arguments as given.
fn usage_error(e: &clap::Error, raw: &[String]) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return std::process::ExitCode::SUCCESS;
    }
    eprint!("{}", redact_secrets(&e.render().to_string(), raw));
    std::process::ExitCode::from(2)
}
