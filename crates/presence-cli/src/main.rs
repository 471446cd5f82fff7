//! `presence`: a command-line client for PubNub-compatible Presence, built on the
//! `presence` facade.
//!
//! ```text
//! presence [GLOBAL OPTIONS] <COMMAND>
//!   here-now   [--channels a,b] [--groups g] [--state] [--no-user-ids] [--limit N] [--offset N] [--all]
//!   where-now  [--for USER]
//!   heartbeat  --channels … [--groups …] [--timeout S] [--state JSON] [--keep-alive]
//!   leave      --channels … [--groups …]
//!   set-state  --channels … [--groups …] --state JSON [--for USER]
//!   get-state  --channels … [--groups …] [--for USER]
//!   watch      --channels … [--groups …]
//!   roster     --channels … [--groups …] [--page-size N] [--resync-every S]
//!   fleet      --users N [--user-prefix P] --channels … [--groups …] [--timeout S] [--state JSON]
//!              [--concurrency K] [--spread S]
//!   emulator   [--listen 127.0.0.1:8090] [--keyset SUB[:PUB[:SECRET]]]… [--max-url-len BYTES]
//!              [--keyset-file PATH]… [--keysets LIST | PRESENCE_EMULATOR_KEYSETS]
//!              [--signature-window SECS] [--announce-max N] [--interval SECS] [--max-connections N]
//!              [--max-long-polls N] [--header-read-timeout SECS] [--event-log-events N]
//!              [--event-log-bytes BYTES] [--max-group-channels N] [--max-channels-per-add N]
//!              [--here-now-cache SECS] [--rate-limit N] [--realistic] [--fault RULE]…
//!              [--admin-token TOKEN | PRESENCE_EMULATOR_ADMIN_TOKEN] [--import FILE]
//!              [--export-on-exit FILE]
//! global: --origin --subscribe-key --publish-key --secret-key --auth-key --user-id
//!         --transport hyper|ureq --http http1|alpn|h2c --json
//!         (each but --json also PRESENCE_*)
//! ```
//!
//! `--user-id` is always the user making the requests (it may be given before or after
//! the subcommand); the commands that can act on someone else take `--for USER`. So
//! `presence where-now --user-id bob` asks, as bob, where bob is, and
//! `presence --user-id ann where-now --for bob` asks, as ann, where bob is.
//!
//! Exit codes: 0 success (including Ctrl-C ending `heartbeat --keep-alive`, `watch`
//! and `emulator`), 1 service, transport or I/O error, 2 invalid input or usage.
//! See the crate's README for output formats.
#![forbid(unsafe_code)]

/// jemalloc with its background threads on, as in `presence-emulator`: `presence
/// emulator` gives freed memory back after users leave (docs/PERFORMANCE.md §4).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod args;
mod client;
mod error;
mod live;
mod output;

use args::{Cli, ClientCommand, Command};
use clap::Parser as _;
use client::Backend;
use error::{CliError, Redactor};
use live::{HoldSpec, Interrupt};
use output::{Names, Outcome, Printer};
use presence::core::{GetState, Heartbeat, HereNow, Leave, SetState, WhereNow};
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&raw) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, &raw),
    };
    let printer = Printer {
        json: cli.global.json,
        redactor: Redactor::new([cli.global.secret_key.clone(), cli.global.auth_key.clone()]),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&printer, &CliError::io("cannot start the tokio runtime", e)),
    };
    let result = runtime.block_on(run(cli, &printer));
    // Background loops (a long-poll in flight) must not hold the exit up.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&printer, &e),
    }
}

/// Prints `error` and returns its exit code.
fn fail(printer: &Printer, error: &CliError) -> ExitCode {
    printer.error(error);
    ExitCode::from(error.exit_code())
}

/// A clap error: help and version print as usual; anything else is a usage error
/// (exit 2), printed as the JSON error object when `--json` is among the arguments.
fn usage_error(e: &clap::Error, raw: &[String]) -> ExitCode {
    use clap::error::ErrorKind;
    let redactor = Redactor::from_env_and_args(raw);
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let json = raw.iter().skip(1).any(|a| a == "--json");
    let text = e.render().to_string();
    if json {
        let message = text
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned();
        let error = CliError::usage(message);
        eprintln!("{}", error.render(true, &redactor));
    } else {
        eprint!("{}", redactor.redact(&text));
    }
    ExitCode::from(error::EXIT_USAGE)
}

/// Parses a `--state` argument.
fn parse_state(text: &str) -> Result<Value, CliError> {
    serde_json::from_str(text)
        .map_err(|e| CliError::invalid_input(format!("invalid `state`: not JSON: {e}")))
}

/// Runs the command.
async fn run(cli: Cli, printer: &Printer) -> Result<(), CliError> {
    match cli.command {
        Command::Emulator(args) => {
            let interrupt = Interrupt::install().await?;
            live::emulator(args, printer, interrupt).await
        }
        Command::Client(command) => run_client(&cli.global, command, printer).await,
    }
}

/// Runs a command against the service.
async fn run_client(
    global: &args::Global,
    command: ClientCommand,
    printer: &Printer,
) -> Result<(), CliError> {
    let backend = Backend::connect(global)?;
    let me = backend.user_id().to_owned();
    let names = |t: &args::Targets| Names {
        channels: t.channels.clone(),
        groups: t.groups.clone(),
    };
    let outcome = match command {
        ClientCommand::HereNow(a) => {
            let mut op = HereNow::new()
                .channels(a.targets.channels)
                .channel_groups(a.targets.groups)
                .include_state(a.state)
                .include_user_ids(!a.no_user_ids);
            if let Some(limit) = a.limit {
                op = op.limit(limit);
            }
            if let Some(offset) = a.offset {
                op = op.offset(offset);
            }
            if a.all {
                Outcome::HereNow(backend.all_pages(op).await?)
            } else {
                Outcome::HereNow(backend.execute(op).await?)
            }
        }
        ClientCommand::WhereNow(a) => {
            let user_id = a.for_user.unwrap_or(me);
            let op = WhereNow::new().user_id(user_id.clone());
            let result = backend.execute(op).await?;
            Outcome::WhereNow { user_id, result }
        }
        ClientCommand::Heartbeat(a) => {
            let state = a.announce.state.as_deref().map(parse_state).transpose()?;
            let mut op = Heartbeat::new()
                .channels(a.targets.channels.iter().cloned())
                .channel_groups(a.targets.groups.iter().cloned());
            if let Some(timeout) = a.announce.timeout {
                op = op.timeout(timeout);
            }
            if let Some(state) = &state {
                op = op.state(state.clone());
            }
            let names = names(&a.targets);
            if a.keep_alive {
                // Input errors now, not from inside the background loop.
                backend.validate(&op)?;
                let interrupt = Interrupt::install().await?;
                let spec = HoldSpec {
                    names,
                    timeout: a.announce.timeout,
                    state,
                };
                return live::keep_alive(&backend, spec, printer, interrupt).await;
            }
            backend.execute(op).await?;
            Outcome::Heartbeat {
                user_id: me,
                names,
                timeout: a.announce.timeout,
                state,
            }
        }
        ClientCommand::Leave(t) => {
            let op = Leave::new()
                .channels(t.channels.iter().cloned())
                .channel_groups(t.groups.iter().cloned());
            backend.execute(op).await?;
            Outcome::Leave {
                user_id: me,
                names: names(&t),
            }
        }
        ClientCommand::SetState(a) => {
            let state = parse_state(&a.state)?;
            let user_id = a.for_user.unwrap_or(me);
            let op = SetState::new()
                .channels(a.targets.channels.iter().cloned())
                .channel_groups(a.targets.groups.iter().cloned())
                .state(state)
                .user_id(user_id.clone());
            let result = backend.execute(op).await?;
            Outcome::SetState {
                user_id,
                names: names(&a.targets),
                result,
            }
        }
        ClientCommand::GetState(a) => {
            let user_id = a.for_user.unwrap_or(me);
            let op = GetState::new()
                .channels(a.targets.channels)
                .channel_groups(a.targets.groups)
                .user_id(user_id.clone());
            let result = backend.execute(op).await?;
            Outcome::GetState { user_id, result }
        }
        ClientCommand::Fleet(a) => {
            let state = a.announce.state.as_deref().map(parse_state).transpose()?;
            let spec = live::FleetSpec::new(&a, state)?;
            let interrupt = Interrupt::install().await?;
            return live::fleet(&backend, spec, printer, interrupt).await;
        }
        ClientCommand::Roster(a) => {
            backend.validate(
                &Leave::new()
                    .channels(a.targets.channels.iter().cloned())
                    .channel_groups(a.targets.groups.iter().cloned()),
            )?;
            if let Some(size) = a.page_size {
                backend.validate(&HereNow::new().channels(["x"]).limit(size))?;
            }
            let interrupt = Interrupt::install().await?;
            return live::roster(&backend, &a, names(&a.targets), printer, interrupt).await;
        }
        ClientCommand::Watch(t) => {
            // The same name rules as every other call (at least one name, none empty):
            // checked by building a leave for the same names, which is never sent.
            backend.validate(
                &Leave::new()
                    .channels(t.channels.iter().cloned())
                    .channel_groups(t.groups.iter().cloned()),
            )?;
            let interrupt = Interrupt::install().await?;
            return live::watch(&backend, names(&t), printer, interrupt).await;
        }
    };
    printer.outcome(&outcome)
}
