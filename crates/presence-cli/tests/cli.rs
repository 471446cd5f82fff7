//! The `presence` binary end to end, against an in-process emulator: human and JSON
//! output, exit codes, environment variables, secrets, and the long-running commands
//! (`heartbeat --keep-alive`, `watch`, `emulator`) ended with SIGINT.

use presence_emulator::{BlockingEmulatorHandle, Emulator, EmulatorConfig, Keyset};
use serde_json::{json, Value};
use std::borrow::BorrowMut;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const ENV_VARS: [&str; 8] = [
    "PRESENCE_ORIGIN",
    "PRESENCE_SUBSCRIBE_KEY",
    "PRESENCE_PUBLISH_KEY",
    "PRESENCE_SECRET_KEY",
    "PRESENCE_AUTH_KEY",
    "PRESENCE_USER_ID",
    "PRESENCE_TRANSPORT",
    "PRESENCE_HTTP",
];

/// How long anything may take before a test gives up.
const PATIENCE: Duration = Duration::from_secs(10);

fn emulator() -> BlockingEmulatorHandle {
    Emulator::start_blocking(EmulatorConfig::default()).unwrap()
}

/// `presence` with no `PRESENCE_*` variables from the outer environment.
fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_presence"));
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// `presence --origin … --subscribe-key demo --user-id USER ARGS…`.
fn presence(origin: &str, user: &str, args: &[&str]) -> Command {
    let mut cmd = bare();
    cmd.args([
        "--origin",
        origin,
        "--subscribe-key",
        "demo",
        "--user-id",
        user,
    ]);
    cmd.args(args);
    cmd
}

/// What a finished command printed.
#[derive(Debug)]
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:?}"))
    }

    fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not one JSON value ({e}): {self:?}"))
    }

    /// Asserts success and returns stdout.
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:?}");
        assert!(self.stderr.is_empty(), "{self:?}");
        &self.stdout
    }
}

fn run(mut cmd: impl BorrowMut<Command>) -> Ran {
    let out = cmd.borrow_mut().output().unwrap();
    Ran {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A spawned `presence` whose output lines arrive on channels.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

fn lines<R: Read + Send + 'static>(reader: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            match line {
                Ok(line) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

fn spawn(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    Running {
        child,
        stdout,
        stderr,
    }
}

impl Running {
    fn next_line(rx: &Receiver<String>, what: &str) -> String {
        rx.recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no {what} line within {PATIENCE:?}: {e}"))
    }

    fn stdout_line(&self) -> String {
        Self::next_line(&self.stdout, "stdout")
    }

    fn stderr_line(&self) -> String {
        Self::next_line(&self.stderr, "stderr")
    }

    /// Sends SIGINT (as Ctrl-C does) and waits for the exit.
    fn interrupt(mut self) -> (ExitStatus, Vec<String>, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("presence did not exit within {PATIENCE:?} of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = |rx: &Receiver<String>| {
            std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(2)).ok()).collect()
        };
        (status, rest(&self.stdout), rest(&self.stderr))
    }
}

fn here_now_json(origin: &str, channel: &str) -> Value {
    run(presence(
        origin,
        "probe",
        &["here-now", "--channels", channel, "--json"],
    ))
    .json()
}

/// An emulator whose keyset `sub-pam` has Access Manager on, with token `tok-ok`
/// granted channel `open` only.
fn pam_emulator() -> BlockingEmulatorHandle {
    Emulator::start_blocking(EmulatorConfig::new().keyset(Keyset::new("sub-pam").grant(
        "tok-ok",
        ["open"],
        Vec::<String>::new(),
    )))
    .unwrap()
}

/// `presence` as `user` on [`pam_emulator`]'s keyset with token `tok-ok`, then `args`.
fn pam_command(origin: &str, user: &str, args: &[&str]) -> Command {
    let mut cmd = bare();
    cmd.args([
        "--origin",
        origin,
        "--subscribe-key",
        "sub-pam",
        "--user-id",
        user,
        "--auth-key",
        "tok-ok",
    ]);
    cmd.args(args);
    cmd
}

#[test]
fn heartbeat_then_here_now_in_a_table_and_in_json() {
    let emu = emulator();
    let origin = emu.origin();
    let out = run(presence(
        &origin,
        "ann",
        &[
            "heartbeat",
            "--channels",
            "lobby,game",
            "--timeout",
            "60",
            "--state",
            r#"{"mood":"ok"}"#,
        ],
    ));
    assert_eq!(
        out.ok(),
        "ann is present on channels lobby, game (timeout 60 s) with state {\"mood\":\"ok\"}\n"
    );
    run(presence(
        &origin,
        "bob",
        &["heartbeat", "--channels", "lobby"],
    ))
    .ok();

    let table = run(presence(
        &origin,
        "cat",
        &["here-now", "--channels", "lobby", "--state"],
    ));
    assert_eq!(
        table.ok(),
        "CHANNEL  OCCUPANCY  USER ID  STATE\n\
         lobby    2          ann      {\"mood\":\"ok\"}\n\
         lobby    2          bob      -\n\
         1 channel, 2 occupants\n"
    );

    let json = run(presence(
        &origin,
        "cat",
        &["here-now", "--channels", "lobby,game", "--state", "--json"],
    ))
    .json();
    assert_eq!(json["total_channels"], 2);
    assert_eq!(json["total_occupancy"], 3);
    let lobby = json["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "lobby")
        .unwrap();
    assert_eq!(lobby["occupancy"], 2);
    assert!(lobby["occupants"]
        .as_array()
        .unwrap()
        .contains(&json!({"user_id": "ann", "state": {"mood": "ok"}})));

    // Occupancy only.
    let counts = run(presence(
        &origin,
        "cat",
        &["here-now", "--channels", "lobby", "--no-user-ids"],
    ));
    assert_eq!(
        counts.ok(),
        "CHANNEL  OCCUPANCY  USER ID  STATE\nlobby    2          -        -\n1 channel, 2 occupants\n"
    );
    let paged = run(presence(
        &origin,
        "cat",
        &["here-now", "--channels", "lobby", "--limit", "1", "--json"],
    ))
    .json();
    assert_eq!(paged["channels"][0]["occupancy"], 2);
    assert_eq!(
        paged["channels"][0]["occupants"].as_array().unwrap().len(),
        1
    );

    // The one-shot heartbeat in JSON.
    let hb = run(presence(
        &origin,
        "dan",
        &["heartbeat", "--channels", "x", "--groups", "", "--json"],
    ));
    assert_eq!(hb.code, 2, "an empty group name is invalid input: {hb:?}");
    let hb = run(presence(
        &origin,
        "dan",
        &["heartbeat", "--channels", "x", "--json"],
    ))
    .json();
    assert_eq!(
        hb,
        json!({"user_id": "dan", "channels": ["x"], "groups": [], "timeout": null, "state": null})
    );
}

#[test]
fn global_here_now_lists_every_channel() {
    let emu = emulator();
    let origin = emu.origin();
    run(presence(&origin, "ann", &["heartbeat", "--channels", "g1"])).ok();
    run(presence(&origin, "bob", &["heartbeat", "--channels", "g2"])).ok();
    let json = run(presence(&origin, "cat", &["here-now", "--json"])).json();
    assert_eq!(json["total_occupancy"], 2);
    let mut names: Vec<&str> = json["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["g1", "g2"]);
    let text = run(presence(&origin, "cat", &["here-now"]));
    let text = text.ok();
    assert!(text.contains("g1       1          ann"), "{text}");
    assert!(text.ends_with("2 channels, 2 occupants\n"), "{text}");
}

#[test]
fn where_now_for_self_and_for_another_user() {
    let emu = emulator();
    let origin = emu.origin();
    run(presence(
        &origin,
        "ann",
        &["heartbeat", "--channels", "a,b"],
    ))
    .ok();
    let text = run(presence(&origin, "bob", &["where-now", "--for", "ann"]));
    assert_eq!(text.ok(), "ann is present on 2 channels:\n  a\n  b\n");
    // `--user-id` after the subcommand is the (global) requesting user: ann asks about herself.
    let json = run(bare().args([
        "--origin",
        &origin,
        "--subscribe-key",
        "demo",
        "where-now",
        "--user-id",
        "ann",
        "--json",
    ]))
    .json();
    // Exactly the result's serialization (`WhereNowResult`).
    assert_eq!(json, json!({"channels": ["a", "b"]}));
    let nowhere = run(presence(&origin, "zed", &["where-now"]));
    assert_eq!(nowhere.ok(), "zed is not present on any channel\n");
}

#[test]
fn set_state_get_state_round_trip_and_leave() {
    let emu = emulator();
    let origin = emu.origin();
    let set = run(presence(
        &origin,
        "ann",
        &[
            "set-state",
            "--channels",
            "lobby",
            "--state",
            r#"{"role":"host"}"#,
        ],
    ));
    assert_eq!(
        set.ok(),
        "state of ann on channel lobby: {\"role\":\"host\"}\n"
    );
    let set = run(presence(
        &origin,
        "admin",
        &[
            "set-state",
            "--channels",
            "lobby",
            "--state",
            r#"{"role":"guest"}"#,
            "--for",
            "bob",
            "--json",
        ],
    ))
    .json();
    // Exactly the result's serialization (`SetStateResult`).
    assert_eq!(set, json!({"state": {"role": "guest"}}));

    let get = run(presence(
        &origin,
        "ann",
        &["get-state", "--channels", "lobby"],
    ));
    assert_eq!(
        get.ok(),
        "CHANNEL  STATE\nlobby    {\"role\":\"host\"}\nstate of ann on 1 channel\n"
    );
    let get = run(presence(
        &origin,
        "ann",
        &["get-state", "--channels", "lobby", "--for", "bob", "--json"],
    ))
    .json();
    assert_eq!(
        get,
        json!({"user_id": "bob", "channels": {"lobby": {"role": "guest"}}})
    );

    // Leave.
    run(presence(
        &origin,
        "ann",
        &["heartbeat", "--channels", "lobby,side"],
    ))
    .ok();
    assert_eq!(here_now_json(&origin, "side")["total_occupancy"], 1);
    let left = run(presence(&origin, "ann", &["leave", "--channels", "side"]));
    assert_eq!(left.ok(), "ann left channel side\n");
    assert_eq!(here_now_json(&origin, "side")["total_occupancy"], 0);
    let left = run(presence(
        &origin,
        "ann",
        &["leave", "--channels", "lobby", "--json"],
    ))
    .json();
    assert_eq!(
        left,
        json!({"user_id": "ann", "channels": ["lobby"], "groups": []})
    );
}

#[test]
fn ureq_and_h2c_print_the_same_json_as_hyper() {
    let emu = emulator();
    let origin = emu.origin();
    run(presence(
        &origin,
        "ann",
        &["heartbeat", "--channels", "t1,t2", "--state", r#"{"n":1}"#],
    ))
    .ok();
    let commands: [&[&str]; 6] = [
        &["here-now", "--channels", "t1,t2", "--state"],
        &["here-now"],
        &["where-now", "--for", "ann"],
        &["get-state", "--channels", "t1", "--for", "ann"],
        &["set-state", "--channels", "t2", "--state", r#"{"n":2}"#],
        &["here-now", "--limit", "0"],
    ];
    for args in commands {
        let with = |transport: &[&str]| {
            let mut cmd = presence(&origin, "bob", args);
            cmd.arg("--json").args(transport);
            run(&mut cmd)
        };
        let hyper = with(&["--transport", "hyper"]);
        // The emulator serves h2c on the same port.
        for other in [
            &["--transport", "ureq"][..],
            &["--http", "h2c"],
            &["--http", "alpn"],
        ] {
            let other_ran = with(other);
            assert_eq!(
                (hyper.code, &hyper.stdout, &hyper.stderr),
                (other_ran.code, &other_ran.stdout, &other_ran.stderr),
                "{args:?} {other:?}"
            );
        }
        assert!(!hyper.stdout.is_empty() || !hyper.stderr.is_empty());
    }
}

#[test]
fn invalid_input_exits_2_with_a_json_error() {
    let emu = emulator();
    let origin = emu.origin();
    let cases: [&[&str]; 5] = [
        &["here-now", "--channels", "a", "--limit", "0"],
        &["set-state", "--channels", "a", "--state", "[1, 2]"],
        &["set-state", "--channels", "a", "--state", "{not json"],
        &["heartbeat", "--channels", "a", "--state", "\"text\""],
        &["leave"],
    ];
    for transport in ["hyper", "ureq"] {
        for args in cases {
            let mut cmd = presence(&origin, "ann", args);
            cmd.args(["--json", "--transport", transport]);
            let out = run(&mut cmd);
            assert_eq!(out.code, 2, "{args:?} {out:?}");
            assert!(out.stdout.is_empty(), "{out:?}");
            let err = out.error_json();
            assert_eq!(err["kind"], "invalid_input", "{args:?} {err}");
            assert_eq!(err["status"], Value::Null);
            for key in ["message", "service", "channels", "groups"] {
                assert!(err.get(key).is_some(), "{key} missing in {err}");
            }
        }
    }
    // Human form.
    let out = run(presence(
        &origin,
        "ann",
        &["here-now", "--channels", "a", "--limit", "0"],
    ));
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: invalid `limit`: 0 is outside 1..=1000\n"
    );
    // A bad command line is a usage error, exit 2 too.
    let out = run(presence(&origin, "ann", &["here-now", "--bogus"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--bogus"), "{out:?}");
    let out = run(presence(&origin, "ann", &["here-now", "--bogus", "--json"]));
    assert_eq!(out.code, 2);
    assert_eq!(out.error_json()["kind"], "usage");
    let out = run(presence(
        &origin,
        "ann",
        &["--transport", "curl", "here-now"],
    ));
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
fn missing_keys_are_usage_errors_that_name_the_flag() {
    let out = run(bare().args(["--user-id", "ann", "here-now"]));
    assert_eq!(out.code, 2);
    for needle in [
        "--subscribe-key",
        "PRESENCE_SUBSCRIBE_KEY",
        "presence emulator",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {out:?}");
    }
    let out = run(bare().args(["--subscribe-key", "demo", "where-now", "--json"]));
    assert_eq!(out.code, 2);
    let err = out.error_json();
    assert_eq!(err["kind"], "usage");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("--user-id") && message.contains("PRESENCE_USER_ID"));
}

#[test]
fn service_and_transport_errors_exit_1() {
    let emu = pam_emulator();
    let origin = emu.origin();
    let pam = |args: &[&str]| run(pam_command(&origin, "ann", args));
    pam(&["heartbeat", "--channels", "open"]).ok();
    for transport in ["hyper", "ureq"] {
        let out = pam(&[
            "heartbeat",
            "--channels",
            "open,closed",
            "--json",
            "--transport",
            transport,
        ]);
        assert_eq!(out.code, 1, "{out:?}");
        let err = out.error_json();
        assert_eq!(err["kind"], "service");
        assert_eq!(err["status"], 403);
        assert_eq!(err["service"], "Access Manager");
        assert_eq!(err["channels"], json!(["closed"]));
        assert!(!out.stderr.contains("tok-ok") && !out.stdout.contains("tok-ok"));
    }
    let out = pam(&["here-now", "--channels", "closed"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("error: Access Manager error 403") && out.stderr.contains("closed"),
        "{out:?}"
    );

    // Nothing listening: a transport error.
    let out = run(presence(
        "http://127.0.0.1:1",
        "ann",
        &["here-now", "--json"],
    ));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.error_json()["kind"], "transport");
}

#[test]
fn environment_variables_configure_everything() {
    let emu = emulator();
    let origin = emu.origin();
    let with_env = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("PRESENCE_ORIGIN", &origin)
            .env("PRESENCE_SUBSCRIBE_KEY", "demo")
            .env("PRESENCE_USER_ID", "eve")
            .env("PRESENCE_TRANSPORT", "ureq")
            .args(args);
        run(&mut cmd)
    };
    with_env(&["heartbeat", "--channels", "envy"]).ok();
    let json = with_env(&["where-now", "--json"]).json();
    assert_eq!(json, json!({"channels": ["envy"]}));
    // The command line wins over the environment: fay is nowhere.
    let json = with_env(&["--user-id", "fay", "where-now", "--json"]).json();
    assert_eq!(json, json!({"channels": []}));
    let out = with_env(&["--transport", "bogus", "here-now"]);
    assert_eq!(out.code, 2);
}

#[test]
fn the_secret_and_auth_keys_never_appear() {
    const SECRET: &str = "sec-c-VERY-SECRET-1234";
    const WRONG: &str = "sec-c-WRONG-SECRET-5678";
    const TOKEN: &str = "tok-PRIVATE-9999";
    let emu = Emulator::start_blocking(
        EmulatorConfig::new().keyset(
            Keyset::new("sub-signed")
                .publish_key("pub-signed")
                .secret_key(SECRET),
        ),
    )
    .unwrap();
    let origin = emu.origin();
    let signed = |secret: &str, args: &[&str]| {
        let mut cmd = bare();
        cmd.env("PRESENCE_ORIGIN", &origin)
            .env("PRESENCE_SUBSCRIBE_KEY", "sub-signed")
            .env("PRESENCE_PUBLISH_KEY", "pub-signed")
            .env("PRESENCE_SECRET_KEY", secret)
            .env("PRESENCE_AUTH_KEY", TOKEN)
            .env("PRESENCE_USER_ID", "ann")
            .args(args);
        run(&mut cmd)
    };
    let clean = |out: &Ran| {
        for secret in [SECRET, WRONG, TOKEN] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{secret} printed: {out:?}"
            );
        }
    };
    let ok = signed(SECRET, &["heartbeat", "--channels", "vault", "--json"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    clean(&ok);
    let ok = signed(SECRET, &["here-now", "--channels", "vault"]);
    assert!(ok.ok().contains("ann"));
    clean(&ok);
    for json in [true, false] {
        let mut args = vec!["here-now", "--channels", "vault"];
        if json {
            args.push("--json");
        }
        let denied = signed(WRONG, &args);
        assert_eq!(denied.code, 1, "{denied:?}");
        clean(&denied);
    }
    for args in [
        &["--help"][..],
        &["here-now", "--help"],
        &["heartbeat", "-h"],
        &["--secret-key", WRONG, "--bogus"],
        &["--auth-key", WRONG, "--bogus", "--json"],
    ] {
        let out = signed(SECRET, args);
        clean(&out);
        if args.contains(&"--help") {
            assert_eq!(out.code, 0);
            assert!(out.stdout.contains("PRESENCE_SECRET_KEY"), "{out:?}");
        } else if args.contains(&"--bogus") {
            assert_eq!(out.code, 2);
        }
    }
}

#[test]
fn keep_alive_holds_presence_until_sigint_then_leaves() {
    let emu = emulator();
    let origin = emu.origin();
    // hyper with JSON lines, ureq with text.
    for (transport, channel) in [("hyper", "held-h"), ("ureq", "held-u")] {
        let json = transport == "hyper";
        let mut cmd = presence(
            &origin,
            "kim",
            &[
                "heartbeat",
                "--channels",
                channel,
                "--state",
                r#"{"k":1}"#,
                "--keep-alive",
                "--transport",
                transport,
            ],
        );
        if json {
            cmd.arg("--json");
        }
        let running = spawn(&mut cmd);
        let present = running.stdout_line();
        if json {
            let present: Value = serde_json::from_str(&present).unwrap();
            assert_eq!(
                present,
                json!({"event": "present", "user_id": "kim", "channels": [channel], "groups": []})
            );
        } else {
            assert_eq!(
                present,
                format!("kim is present on channel {channel} (Ctrl-C to leave)")
            );
        }
        let now = here_now_json(&origin, channel);
        assert_eq!(now["total_occupancy"], 1);
        assert_eq!(now["channels"][0]["occupants"][0]["user_id"], "kim");

        let (status, stdout, stderr) = running.interrupt();
        assert_eq!(status.code(), Some(0), "{stdout:?} {stderr:?}");
        assert!(stderr.is_empty(), "{stderr:?}");
        if json {
            let left: Value = serde_json::from_str(&stdout[0]).unwrap();
            assert_eq!(left["event"], "left");
        } else {
            assert_eq!(stdout, [format!("kim left channel {channel}")]);
        }
        assert_eq!(here_now_json(&origin, channel)["total_occupancy"], 0);
    }
    // Invalid input is reported before anything runs.
    let out = run(presence(
        &origin,
        "kim",
        &["heartbeat", "--keep-alive", "--json"],
    ));
    assert_eq!(out.code, 2);
    assert_eq!(out.error_json()["kind"], "invalid_input");
}

/// Regression (issue 11): `presence watch` on a channel its token may not read exits 1
/// at once (within 2 s) with the 403's message and channels, on both transports.
#[test]
fn watch_on_a_forbidden_channel_exits_1_with_the_403() {
    let emu = pam_emulator();
    for transport in ["hyper", "ureq"] {
        for json in [true, false] {
            let mut cmd = pam_command(
                &emu.origin(),
                "kim",
                &["--transport", transport, "watch", "--channels", "closed"],
            );
            if json {
                cmd.arg("--json");
            }
            let started = std::time::Instant::now();
            let out = run(&mut cmd);
            let took = started.elapsed();
            assert_eq!(out.code, 1, "{transport}: {out:?}");
            assert!(took < Duration::from_secs(2), "{transport}: took {took:?}");
            if json {
                let err = out.error_json();
                assert_eq!(err["kind"], "service", "{transport}");
                assert_eq!(err["status"], 403, "{transport}");
                assert_eq!(
                    err["message"], "Access Manager error 403: Forbidden (channels: closed-pnpres)",
                    "{transport}"
                );
                assert_eq!(err["channels"], json!(["closed-pnpres"]), "{transport}");
            } else {
                assert!(
                    out.stderr.contains("Forbidden") && out.stderr.contains("closed-pnpres"),
                    "{transport}: {out:?}"
                );
            }
        }
    }
}

/// With `--json` a result is exactly its serialization in the library: the same answer
/// read by `presence::blocking::Client` serializes to the very text the command prints
/// (issue 18: one JSON shape for library and CLI).
#[test]
fn json_output_is_the_library_serialization() {
    let emu = emulator();
    let origin = emu.origin();
    let library = presence::blocking::Client::builder()
        .subscribe_key("demo")
        .user_id("reader")
        .origin(&origin)
        .build_blocking()
        .unwrap();
    let cli = |user: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--json");
        run(presence(&origin, user, &all))
            .ok()
            .trim_end()
            .to_owned()
    };
    cli(
        "ann",
        &[
            "heartbeat",
            "--channels",
            "lobby,game",
            "--state",
            r#"{"mood":"ok","n":1}"#,
        ],
    );
    cli("bob", &["heartbeat", "--channels", "lobby"]);

    let printed = cli("reader", &["here-now", "--channels", "lobby", "--state"]);
    let read = library
        .here_now()
        .channels(["lobby"])
        .include_state(true)
        .execute()
        .unwrap();
    assert_eq!(printed, serde_json::to_string(&read).unwrap());
    assert_eq!(read.total_occupancy, 2);

    let printed = cli(
        "reader",
        &["here-now", "--channels", "lobby,game", "--state"],
    );
    let read = library
        .here_now()
        .channels(["lobby", "game"])
        .include_state(true)
        .execute()
        .unwrap();
    assert_eq!(printed, serde_json::to_string(&read).unwrap());

    let printed = cli("reader", &["where-now", "--for", "ann"]);
    let read = library.where_now().user_id("ann").execute().unwrap();
    assert_eq!(printed, serde_json::to_string(&read).unwrap());

    let printed = cli(
        "reader",
        &["get-state", "--channels", "lobby,game", "--for", "ann"],
    );
    let read = library
        .get_state()
        .channels(["lobby", "game"])
        .user_id("ann")
        .execute()
        .unwrap();
    assert_eq!(printed, serde_json::to_string(&read).unwrap());

    let printed = cli(
        "ann",
        &[
            "set-state",
            "--channels",
            "lobby",
            "--state",
            r#"{"mood":"busy"}"#,
        ],
    );
    let read = library
        .set_state()
        .channels(["lobby"])
        .state(json!({"mood": "busy"}))
        .user_id("ann")
        .execute()
        .unwrap();
    assert_eq!(printed, serde_json::to_string(&read).unwrap());
}

#[test]
fn keep_alive_stops_on_a_403() {
    let emu = pam_emulator();
    let out = run(pam_command(
        &emu.origin(),
        "kim",
        &[
            "heartbeat",
            "--channels",
            "closed",
            "--keep-alive",
            "--json",
        ],
    ));
    assert_eq!(out.code, 1, "{out:?}");
    let err = out.error_json();
    assert_eq!(
        (err["status"].clone(), err["channels"].clone()),
        (json!(403), json!(["closed"]))
    );
}

#[test]
fn watch_prints_events_until_sigint() {
    let emu = emulator();
    let origin = emu.origin();
    for (transport, channel) in [("hyper", "seen-h"), ("ureq", "seen-u")] {
        let json = transport == "hyper";
        let mut cmd = presence(
            &origin,
            "watcher",
            &["watch", "--channels", channel, "--transport", transport],
        );
        if json {
            cmd.arg("--json");
        }
        let running = spawn(&mut cmd);
        // Events flow once the handshake is done.
        let connected = running.stderr_line();
        if json {
            let connected: Value = serde_json::from_str(&connected).unwrap();
            assert_eq!(connected["event"], "connected");
        } else {
            assert_eq!(
                connected,
                format!("presence: watching channel {channel} (Ctrl-C to stop)")
            );
        }
        run(presence(
            &origin,
            "ann",
            &["heartbeat", "--channels", channel, "--state", r#"{"s":1}"#],
        ))
        .ok();
        let join = running.stdout_line();
        run(presence(&origin, "ann", &["leave", "--channels", channel])).ok();
        let leave = running.stdout_line();
        if json {
            // The line is exactly the event's serialization: it reads back as a
            // `PresenceEvent` and writes out as the same text.
            let event: presence::PresenceEvent = serde_json::from_str(&join).unwrap();
            assert_eq!(serde_json::to_string(&event).unwrap(), join);
            let join: Value = serde_json::from_str(&join).unwrap();
            assert_eq!(join["action"], "join");
            assert_eq!(join["channel"], channel);
            assert_eq!(join["user_id"], "ann");
            assert_eq!(join["occupancy"], 1);
            assert_eq!(join["state"], json!({"s": 1}));
            let leave: Value = serde_json::from_str(&leave).unwrap();
            assert_eq!(
                (leave["action"].as_str(), leave["occupancy"].as_u64()),
                (Some("leave"), Some(0))
            );
        } else {
            assert!(
                join.ends_with(&format!(
                    " join {channel} ann (occupancy 1) state {{\"s\":1}}"
                )),
                "{join}"
            );
            assert!(
                leave.ends_with(&format!(" leave {channel} ann (occupancy 0)")),
                "{leave}"
            );
        }
        let (status, stdout, stderr) = running.interrupt();
        assert_eq!(status.code(), Some(0), "{stdout:?} {stderr:?}");
        assert!(stdout.is_empty(), "{stdout:?}");
    }
}

#[test]
fn emulator_subcommand_serves_until_sigint() {
    let running = spawn(bare().args([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--keyset",
        "k1",
        "--json",
    ]));
    let listening: Value = serde_json::from_str(&running.stdout_line()).unwrap();
    assert_eq!(listening["event"], "listening");
    assert_eq!(listening["subscribe_keys"], json!(["k1"]));
    let origin = listening["origin"].as_str().unwrap().to_owned();
    let out = run(bare().args([
        "--origin",
        &origin,
        "--subscribe-key",
        "k1",
        "--user-id",
        "ann",
        "here-now",
        "--json",
    ]));
    assert_eq!(out.json()["total_occupancy"], 0);
    let (status, _, stderr) = running.interrupt();
    assert_eq!(status.code(), Some(0), "{stderr:?}");
}

/// A blocking client for `user` on the emulator, to make occupants without spawning a
/// process per user.
fn user(origin: &str, user: &str) -> presence::blocking::Client {
    presence::blocking::Client::builder()
        .subscribe_key("demo")
        .user_id(user)
        .origin(origin)
        .build_blocking()
        .unwrap()
}

#[test]
fn here_now_all_reads_every_page() {
    let emu = emulator();
    let origin = emu.origin();
    for i in 0..30 {
        let c = user(&origin, &format!("u{i:02}"));
        c.execute(presence::Heartbeat::new().channels(["big"]))
            .unwrap();
    }
    let paged = run(presence(
        &origin,
        "probe",
        &[
            "here-now",
            "--channels",
            "big",
            "--limit",
            "7",
            "--all",
            "--json",
        ],
    ))
    .json();
    let big = &paged["channels"][0];
    assert_eq!(big["channel"], "big");
    let ids: Vec<&str> = big["occupants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["user_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 30, "{paged}");
    assert_eq!(big["occupancy"], 30);
    // One page of 7 without --all.
    let one = run(presence(
        &origin,
        "probe",
        &["here-now", "--channels", "big", "--limit", "7", "--json"],
    ))
    .json();
    assert_eq!(one["channels"][0]["occupants"].as_array().unwrap().len(), 7);
}

#[test]
fn roster_keeps_the_members_while_users_come_and_go() {
    // Past 20 occupants the service stops announcing joins and leaves one by one and
    // sends interval events instead (every second here, not the default ten): the
    // roster follows through both.
    let emu = Emulator::start_blocking(EmulatorConfig::default().interval(Duration::from_secs(1)))
        .unwrap();
    let origin = emu.origin();
    for (transport, channel) in [("hyper", "hall-h"), ("ureq", "hall-u")] {
        let json = transport == "hyper";
        let mut cmd = presence(
            &origin,
            "observer",
            &[
                "roster",
                "--channels",
                channel,
                "--transport",
                transport,
                "--page-size",
                "9",
            ],
        );
        if json {
            cmd.arg("--json");
        }
        let running = spawn(&mut cmd);
        let synced = running.stderr_line();
        if json {
            let synced: Value = serde_json::from_str(&synced).unwrap();
            assert_eq!(synced["event"], "synced", "{synced}");
        } else {
            assert_eq!(
                synced,
                format!("presence: channel {channel} in sync (Ctrl-C to stop)")
            );
        }
        let clients: Vec<_> = (0..30)
            .map(|i| user(&origin, &format!("u{i:02}")))
            .collect();
        for c in &clients {
            c.execute(presence::Heartbeat::new().channels([channel]))
                .unwrap();
        }
        for c in &clients[..5] {
            c.execute(presence::Leave::new().channels([channel]))
                .unwrap();
        }
        let expected: Vec<String> = (5..30).map(|i| format!("u{i:02}")).collect();
        // Changes arrive one line each until the members are the 25 who stayed.
        let deadline = Instant::now() + PATIENCE;
        let mut seen = 0;
        loop {
            assert!(Instant::now() < deadline, "the roster never showed the 25");
            let line = running.stdout_line();
            seen += 1;
            if json {
                let line: Value = serde_json::from_str(&line).unwrap();
                assert_eq!(line["channel"], channel, "{line}");
                let members: Vec<String> = line["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["user_id"].as_str().unwrap().to_owned())
                    .collect();
                if members == expected {
                    assert_eq!(line["occupancy"], 25, "{line}");
                    break;
                }
            } else {
                assert!(line.starts_with(&format!("{channel}: ")), "{line}");
                if line.ends_with("(occupancy 25)") && line.contains("u04 ") {
                    break;
                }
            }
        }
        assert!(seen >= 2, "{seen}");
        let (status, stdout, stderr) = running.interrupt();
        assert_eq!(status.code(), Some(0), "{stdout:?} {stderr:?}");
    }
}

#[test]
fn roster_on_a_forbidden_channel_exits_1_with_the_403() {
    let emu = pam_emulator();
    let ran = run(pam_command(
        &emu.origin(),
        "kim",
        &["roster", "--channels", "closed", "--json"],
    ));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(ran.error_json()["status"], 403, "{ran:?}");
}

#[test]
fn fleet_keeps_many_users_present_until_sigint_then_leaves_for_all() {
    let emu = emulator();
    let origin = emu.origin();
    for (transport, channel) in [("hyper", "crowd-h"), ("ureq", "crowd-u")] {
        let json = transport == "hyper";
        let mut cmd = presence(
            &origin,
            "load",
            &[
                "fleet",
                "--users",
                "50",
                "--user-prefix",
                "bot-",
                "--channels",
                channel,
                "--state",
                r#"{"bot":true}"#,
                "--spread",
                "0",
                "--concurrency",
                "8",
                "--transport",
                transport,
            ],
        );
        if json {
            cmd.arg("--json");
        }
        let running = spawn(&mut cmd);
        let started = running.stderr_line();
        assert!(started.contains("50"), "{started}");
        // Counters once a second until all 50 are present.
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "never all present");
            let line = running.stdout_line();
            let present = if json {
                let v: Value = serde_json::from_str(&line).unwrap();
                assert!(
                    v["heartbeats_per_sec"].is_number() && v["elapsed_s"].is_number(),
                    "{v}"
                );
                assert_eq!(v["users"], 50, "{v}");
                v["present"].as_u64().unwrap()
            } else {
                assert!(line.contains(" s  50 users: "), "{line}");
                line.split("50 users: ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap()
            };
            if present == 50 {
                break;
            }
        }
        let now = here_now_json(&origin, channel);
        assert_eq!(now["channels"][0]["occupancy"], 50, "{now}");
        let (status, _, stderr) = running.interrupt();
        assert_eq!(status.code(), Some(0), "{stderr:?}");
        assert!(stderr.iter().any(|l| l.contains("left")), "{stderr:?}");
        let now = here_now_json(&origin, channel);
        assert_eq!(now["channels"][0]["occupancy"], 0, "{now}");
    }
}

#[test]
fn fleet_rejects_bad_input_before_sending_anything() {
    let emu = emulator();
    for args in [
        &["fleet", "--users", "0", "--channels", "a", "--json"][..],
        &["fleet", "--users", "3", "--json"][..],
        &[
            "fleet",
            "--users",
            "3",
            "--channels",
            "a",
            "--state",
            "[1]",
            "--json",
        ][..],
    ] {
        let ran = run(presence(&emu.origin(), "load", args));
        assert_eq!(ran.code, 2, "{args:?}: {ran:?}");
        assert_eq!(ran.error_json()["kind"], "invalid_input", "{args:?}");
    }
}

#[test]
fn fleet_on_a_forbidden_channel_exits_1_when_every_user_gave_up() {
    let emu = pam_emulator();
    let ran = run(pam_command(
        &emu.origin(),
        "load",
        &[
            "fleet",
            "--users",
            "3",
            "--channels",
            "closed",
            "--spread",
            "0",
            "--json",
        ],
    ));
    assert_eq!(ran.code, 1, "{ran:?}");
    let last = ran.stderr.lines().last().unwrap();
    let err: Value = serde_json::from_str(last).unwrap();
    assert_eq!(err["status"], 403, "{ran:?}");
}
