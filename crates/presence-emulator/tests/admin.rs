//! The admin API over loopback with a raw HTTP client (issue 13, item 3): snapshot,
//! reset and restore, `--export-on-exit` and `--import` across a restart of the
//! binary, malformed input, the admin token, the virtual clock, stats and metrics, the
//! fault rules, and the inspector's stream.

mod common;

use common::{get_blocking, send_blocking, spawn_emulator, Resp};
use presence_emulator::{AdminToken, BlockingEmulatorHandle, Emulator, EmulatorConfig, Keyset};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T0: Duration = Duration::from_secs(1_700_000_000);

fn start(config: EmulatorConfig) -> BlockingEmulatorHandle {
    Emulator::start_blocking(
        config
            .keyset(Keyset::new("demo"))
            .keyset(Keyset::new("other"))
            .paused_clock(T0),
    )
    .unwrap()
}

fn admin(addr: SocketAddr, method: &str, route: &str, body: &str) -> Resp {
    send_blocking(
        addr,
        method,
        &format!("/_emulator/v1/{route}"),
        &[],
        body.as_bytes(),
    )
}

/// Presence traffic with states, groups and two keysets.
fn populate(addr: SocketAddr) {
    let hb = "/v2/presence/sub-key/demo/channel";
    for target in [
        format!("{hb}/lobby,hall/heartbeat?uuid=ann&heartbeat=60&state=%7B%22lobby%22%3A%7B%22mood%22%3A%22ok%22%7D%7D"),
        format!("{hb}/lobby/heartbeat?uuid=bob&heartbeat=120"),
        format!("{hb}/lobby/uuid/bob/data?uuid=bob&state=%7B%22n%22%3A%5B1%2C2%5D%7D"),
        format!("{hb}/hall/heartbeat?uuid=cy"),
        "/v1/channel-registration/sub-key/demo/channel-group/rooms?add=lobby,hall&uuid=x".to_owned(),
        "/v2/presence/sub-key/other/channel/x/heartbeat?uuid=dee".to_owned(),
    ] {
        assert_eq!(get_blocking(addr, &target).status, 200, "{target}");
    }
}

/// The answers a restore must reproduce byte for byte.
fn answers(addr: SocketAddr) -> Vec<String> {
    [
        "/v2/presence/sub-key/demo/channel/lobby?uuid=q&state=1",
        "/v2/presence/sub-key/demo/channel/lobby,hall?uuid=q&state=1",
        "/v2/presence/sub-key/demo?uuid=q&state=1",
        "/v2/presence/sub-key/demo/channel/,?uuid=q&channel-group=rooms&state=1",
        "/v2/presence/sub-key/other?uuid=q&state=1",
        "/v2/presence/sub-key/demo/channel/lobby/uuid/ann?uuid=q",
        "/v2/presence/sub-key/demo/channel/lobby,hall/uuid/bob?uuid=q",
        "/v2/presence/sub-key/demo/uuid/ann?uuid=q",
        "/v1/channel-registration/sub-key/demo/channel-group/rooms?uuid=q",
    ]
    .iter()
    .map(|t| {
        let r = get_blocking(addr, t);
        assert_eq!(r.status, 200, "{t}: {}", r.body);
        r.body
    })
    .collect()
}

#[test]
fn snapshot_reset_restore_gives_byte_identical_answers() {
    let emu = start(EmulatorConfig::new());
    let addr = emu.local_addr();
    populate(addr);
    emu.advance(Duration::from_secs(7));
    let before = answers(addr);
    let snap = admin(addr, "GET", "state", "");
    assert_eq!(snap.status, 200);
    assert_eq!(snap.header("content-type"), Some("application/json"));
    let doc = snap.json();
    assert_eq!(doc["keysets"][0]["subscribe_key"], "demo");
    let lobby = &doc["keysets"][0]["channels"][1];
    assert_eq!(
        (lobby["name"].as_str(), lobby["occupancy"].as_u64()),
        (Some("lobby"), Some(2))
    );
    assert_eq!(lobby["occupants"][0]["seconds_left"], 53.0);
    assert_eq!(lobby["occupants"][1]["state"]["n"][1], 2);

    let reset = admin(addr, "POST", "reset", "");
    assert_eq!(
        (reset.status, reset.json()["reset"].as_bool()),
        (200, Some(true))
    );
    assert!(get_blocking(addr, "/v2/presence/sub-key/demo?uuid=q")
        .body
        .contains(r#""total_occupancy":0"#));
    assert_ne!(answers_or_errors(addr), before);

    let put = admin(addr, "PUT", "state", &snap.body);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.json()["restored"]["occupants"], 5);
    assert_eq!(answers(addr), before);
    // And the restored state is what was exported, seconds left included.
    assert_eq!(admin(addr, "GET", "state", "").body, snap.body);
    // The restored occupants time out when they would have: ann 60 s after joining.
    emu.advance(Duration::from_secs(53));
    let lobby = get_blocking(addr, "/v2/presence/sub-key/demo/channel/lobby?uuid=q");
    assert!(lobby.body.contains(r#""uuids":["bob"]"#), "{}", lobby.body);
}

/// Like [`answers`], but any status (after a reset the group is gone: 200 with no
/// channels, never an error we would mistake for equality).
fn answers_or_errors(addr: SocketAddr) -> Vec<String> {
    ["/v2/presence/sub-key/demo/channel/lobby?uuid=q&state=1"]
        .iter()
        .map(|t| get_blocking(addr, t).body)
        .collect()
}

#[test]
fn a_malformed_put_state_is_a_400_naming_the_problem_and_changes_nothing() {
    let emu = start(EmulatorConfig::new());
    let addr = emu.local_addr();
    populate(addr);
    let before = admin(addr, "GET", "state", "").body;
    let cases = [
        ("{", "", "EOF while parsing"),
        ("[]", "", "expected struct Snapshot"),
        (
            r#"{"version":1,"keysets":[{"subscribe_key":"nope"}]}"#,
            "keysets[0].subscribe_key",
            "is not a keyset this emulator serves",
        ),
        (
            r#"{"version":1,"keysets":[{"subscribe_key":"demo","channels":[{"name":"a","occupants":[{"uuid":"u","timeout":"x"}]}]}]}"#,
            "keysets[0].channels[0].occupants[0].timeout",
            "invalid type: string",
        ),
        (
            r#"{"version":1,"keysets":[{"subscribe_key":"demo","channels":[{"name":"a","occupants":[{"uuid":"u","seconds_left":-1}]}]}]}"#,
            "keysets[0].channels[0].occupants[0].seconds_left",
            "-1 is not in (0, timeout = 300]",
        ),
        (
            r#"{"version":1,"keysets":[{"subscribe_key":"demo","channels":[{"name":"a","occupants":[{"uuid":"u","state":"x"}]}]}]}"#,
            "keysets[0].channels[0].occupants[0].state",
            "not a JSON object",
        ),
        (
            r#"{"version":1,"keysets":[{"subscribe_key":"demo","chanels":[]}]}"#,
            "keysets[0].chanels",
            "unknown field `chanels`",
        ),
        (
            r#"{"version":1,"keysets":[{"subscribe_key":"demo","channel_groups":[{"name":"a,b","channels":["c"]}]}]}"#,
            "keysets[0].channel_groups[0].name",
            "cannot hold ','",
        ),
    ];
    for (body, path, what) in cases {
        let r = admin(addr, "PUT", "state", body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let j = r.json();
        let message = j["message"].as_str().unwrap();
        assert!(message.contains(what), "{body}: {message}");
        assert!(message.starts_with(path), "{body}: {message}");
        if !path.is_empty() {
            assert_eq!(j["path"], path, "{body}");
        }
        assert_eq!(
            admin(addr, "GET", "state", "").body,
            before,
            "{body} changed the state"
        );
    }
    // Other refusals are JSON too, and change nothing.
    let r = admin(addr, "POST", "state", "");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, PUT")));
    assert_eq!(admin(addr, "GET", "nope", "").status, 404);
    for q in ["", "?seconds=abc", "?seconds=-1", "?seconds=inf"] {
        let r = admin(addr, "POST", &format!("clock/advance{q}"), "");
        assert_eq!(r.status, 400, "{q}");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .starts_with("seconds: "),
            "{q}"
        );
    }
    assert_eq!(emu.now(), T0);
    assert_eq!(admin(addr, "GET", "state", "").body, before);
}

#[test]
fn the_admin_token_guards_admin_requests_only() {
    let token = "t0ps3cret-admin";
    let config = EmulatorConfig::new().admin_token(AdminToken::new(token).unwrap());
    assert!(!format!("{config:?}").contains(token));
    let emu = start(config);
    let addr = emu.local_addr();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic dDBwczNjcmV0LWFkbWlu"),
        Some(token),
    ] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
        for (method, route) in [
            ("GET", "state"),
            ("POST", "reset"),
            ("GET", "metrics"),
            ("GET", "nope"),
        ] {
            let r = send_blocking(
                addr,
                method,
                &format!("/_emulator/v1/{route}"),
                &headers,
                b"",
            );
            assert_eq!(r.status, 401, "{auth:?} {route}");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"presence-emulator\"")
            );
            assert!(!r.body.contains(token), "{}", r.body);
        }
    }
    // Presence requests never need it, and the page (no data) is served without it.
    let hb = get_blocking(addr, "/v2/presence/sub-key/demo/channel/a/heartbeat?uuid=u");
    assert_eq!(hb.status, 200);
    assert_eq!(get_blocking(addr, "/_emulator/").status, 200);
    let bearer = format!("Bearer {token}");
    let r = send_blocking(
        addr,
        "GET",
        "/_emulator/v1/state",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["keysets"][0]["channels"][0]["occupants"][0]["uuid"],
        "u"
    );
    assert!(!r.body.contains(token));
}

#[test]
fn clock_advance_expires_occupants() {
    let emu = start(EmulatorConfig::new());
    let addr = emu.local_addr();
    get_blocking(
        addr,
        "/v2/presence/sub-key/demo/channel/a/heartbeat?uuid=u&heartbeat=20",
    );
    let clock = admin(addr, "GET", "clock", "").json();
    assert_eq!(clock["now"], 1_700_000_000.0);
    assert_eq!(clock["timetoken"], "17000000000000000");
    assert_eq!(
        (clock["paused"].as_bool(), clock["advanced"].as_f64()),
        (Some(true), Some(0.0))
    );
    let r = admin(addr, "POST", "clock/advance?seconds=19.5", "");
    assert_eq!((r.status, r.json()["advanced"].as_f64()), (200, Some(19.5)));
    assert_eq!(emu.now(), T0 + Duration::from_millis(19_500));
    let here = get_blocking(addr, "/v2/presence/sub-key/demo/channel/a?uuid=q");
    assert!(here.body.contains(r#""occupancy":1"#), "{}", here.body);
    admin(addr, "POST", "clock/advance?seconds=0.5", "");
    let here = get_blocking(addr, "/v2/presence/sub-key/demo/channel/a?uuid=q");
    assert!(here.body.contains(r#""occupancy":0"#), "{}", here.body);
    assert_eq!(
        admin(addr, "GET", "state", "").json()["keysets"][0]["channels"],
        serde_json::json!([])
    );
}

#[test]
fn stats_and_metrics_count_presence_requests_by_operation_and_status() {
    let emu = start(EmulatorConfig::new());
    let addr = emu.local_addr();
    for u in ["a", "b", "c"] {
        get_blocking(
            addr,
            &format!("/v2/presence/sub-key/demo/channel/x/heartbeat?uuid={u}"),
        );
    }
    get_blocking(
        addr,
        "/v2/presence/sub-key/demo/channel/x/heartbeat?uuid=a&heartbeat=5",
    );
    get_blocking(addr, "/v2/presence/sub-key/demo/channel/x/leave?uuid=c");
    get_blocking(addr, "/nowhere");
    // Admin requests are not presence requests.
    for _ in 0..3 {
        admin(addr, "GET", "state", "");
    }
    let s = admin(addr, "GET", "stats", "").json();
    assert_eq!(s["requests"]["total"], 6);
    assert_eq!(s["requests"]["by_operation"]["heartbeat"]["200"], 3);
    assert_eq!(s["requests"]["by_operation"]["heartbeat"]["400"], 1);
    assert_eq!(s["requests"]["by_operation"]["leave"]["200"], 1);
    assert_eq!(s["requests"]["by_operation"]["other"]["404"], 1);
    assert_eq!(s["admin_requests"], 4);
    assert_eq!(
        (s["occupants"].as_u64(), s["users"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(s["events"]["generated"], 4, "3 joins and a leave");
    assert_eq!(s["connections"]["busy"], 1, "this request's own connection");
    let m = admin(addr, "GET", "metrics", "");
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for line in [
        "# TYPE presence_emulator_requests_total counter",
        "presence_emulator_requests_total{operation=\"heartbeat\",status=\"200\"} 3",
        "presence_emulator_requests_total{operation=\"heartbeat\",status=\"400\"} 1",
        "presence_emulator_requests_total{operation=\"other\",status=\"404\"} 1",
        "presence_emulator_occupants 2",
        "presence_emulator_events_total 4",
        "presence_emulator_admin_requests_total 5",
        "presence_emulator_connections{state=\"busy\"} 1",
    ] {
        assert!(m.body.lines().any(|l| l == line), "{line} in\n{}", m.body);
    }
    let stats = emu.stats();
    assert_eq!(stats.requests_of(None), 6);
    assert_eq!(
        stats.requests_of(Some(presence_emulator::Operation::Heartbeat)),
        4
    );
}

#[test]
fn fault_rules_are_set_listed_and_cleared_through_the_admin_api() {
    let emu = start(EmulatorConfig::new());
    let addr = emu.local_addr();
    let hb = "/v2/presence/sub-key/demo/channel/x/heartbeat?uuid=a";
    let put = admin(
        addr,
        "PUT",
        "faults",
        r#"["op=heartbeat,status=503,retry-after=2", {"operation": "leave", "action": {"kind": "close"}}]"#,
    );
    assert_eq!(put.status, 200, "{}", put.body);
    let rules = put.json()["rules"].clone();
    assert_eq!(rules[0]["text"], "op=heartbeat,status=503,retry-after=2");
    assert_eq!(rules[1]["text"], "op=leave,close");
    let r = get_blocking(addr, hb);
    assert_eq!((r.status, r.header("retry-after")), (503, Some("2")));
    assert_eq!(admin(addr, "GET", "faults", "").json()["rules"], rules);
    // A bad rule names itself and changes nothing.
    let bad = admin(
        addr,
        "PUT",
        "faults",
        r#"["op=heartbeat,status=503", "op=nope,close"]"#,
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("[1]: fault rule"),
        "{}",
        bad.body
    );
    assert_eq!(bad.json()["path"], "[1]");
    assert_eq!(admin(addr, "PUT", "faults", "{}").status, 400);
    assert_eq!(emu.faults().len(), 2);
    let cleared = admin(addr, "DELETE", "faults", "");
    assert_eq!(cleared.json()["rules"], serde_json::json!([]));
    assert_eq!(get_blocking(addr, hb).status, 200);
    let s = admin(addr, "GET", "stats", "").json();
    assert_eq!(s["requests"]["by_operation"]["heartbeat"]["503"], 1);
    assert_eq!(s["requests"]["by_operation"]["heartbeat"]["200"], 1);
}

#[test]
fn the_stream_sends_a_view_at_once_and_another_on_each_change() {
    let emu = start(EmulatorConfig::new());
    let addr = emu.local_addr();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    // A guard against a hang only: the test waits for frames, not for a time.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET /_emulator/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(s);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        reader.read_line(&mut head).unwrap();
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    let mut next_view = || loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream ended");
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            break serde_json::from_str::<serde_json::Value>(data).unwrap();
        }
    };
    let first = next_view();
    assert_eq!(first["keysets"][0]["subscribe_key"], "demo");
    assert_eq!(first["events"], serde_json::json!([]));
    get_blocking(
        addr,
        "/v2/presence/sub-key/demo/channel/lobby/heartbeat?uuid=ann&state=%7B%22a%22%3A1%7D",
    );
    let view = loop {
        let v = next_view();
        if !v["events"].as_array().unwrap().is_empty() {
            break v;
        }
    };
    assert_eq!(view["events"][0]["event"]["action"], "join");
    assert_eq!(view["events"][0]["event"]["uuid"], "ann");
    let lobby = &view["keysets"][0]["channels"][0];
    assert_eq!(
        (
            lobby["name"].as_str(),
            lobby["occupants"][0]["state"]["a"].as_u64()
        ),
        (Some("lobby"), Some(1))
    );
    assert_eq!(view["stats"]["requests"]["total"], 1);
    emu.shutdown();
    // Shutting down ends the stream.
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

#[test]
fn the_inspector_page_and_its_assets_are_served_from_the_binary() {
    let emu = start(EmulatorConfig::new());
    let addr = emu.local_addr();
    for (path, kind, needle) in [
        (
            "/_emulator/",
            "text/html; charset=utf-8",
            "/_emulator/inspector.js",
        ),
        ("/_emulator", "text/html; charset=utf-8", "<title>"),
        (
            "/_emulator/inspector.js",
            "text/javascript; charset=utf-8",
            "/_emulator/v1/stream",
        ),
        (
            "/_emulator/inspector.css",
            "text/css; charset=utf-8",
            ".channel",
        ),
    ] {
        let r = get_blocking(addr, path);
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some(kind)),
            "{path}"
        );
        assert!(r.body.contains(needle), "{path}");
        // Nothing is fetched from elsewhere.
        assert!(
            !r.body.contains("http://") && !r.body.contains("https://"),
            "{path}"
        );
    }
    assert_eq!(
        send_blocking(addr, "POST", "/_emulator/", &[], b"").status,
        405
    );
    assert_eq!(emu.stats().requests_of(None), 0);
}

// ---- across a restart of the binary ------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_presence-emulator");

/// Ctrl-C, then waits for the exit.
fn interrupt(mut child: Child) -> (Option<i32>, String) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (status.code(), err)
}

#[test]
fn export_on_exit_then_import_keeps_every_occupant_and_state_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("presence-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let file_s = file.to_str().unwrap();
    let keysets = ["--keyset", "demo", "--keyset", "other"];
    let (child, addr) = spawn_emulator(&[&keysets[..], &["--export-on-exit", file_s]].concat());
    populate(addr);
    let before = answers(addr);
    let (code, err) = interrupt(child);
    assert_eq!(code, Some(0), "{err}");
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(exported["version"], 1);

    let (child, addr) = spawn_emulator(&[&keysets[..], &["--import", file_s]].concat());
    // Every occupant, state and group is back: the same answers, byte for byte.
    assert_eq!(answers(addr), before);
    let state = admin(addr, "GET", "state", "").json();
    for (k, ks) in exported["keysets"].as_array().unwrap().iter().enumerate() {
        for (c, ch) in ks["channels"].as_array().unwrap().iter().enumerate() {
            for (o, occ) in ch["occupants"].as_array().unwrap().iter().enumerate() {
                let now = &state["keysets"][k]["channels"][c]["occupants"][o];
                assert_eq!(
                    (&now["uuid"], &now["state"], &now["timeout"]),
                    (&occ["uuid"], &occ["state"], &occ["timeout"])
                );
                // Time left went on from where it was (the real clock moved a little).
                let (was, is) = (
                    occ["seconds_left"].as_f64().unwrap(),
                    now["seconds_left"].as_f64().unwrap(),
                );
                assert!(is <= was && is > was - 30.0, "{was} then {is}");
            }
        }
    }
    let (code, err) = interrupt(child);
    assert_eq!(code, Some(0), "{err}");

    // A file that does not hold a snapshot stops the start, naming the file and why.
    std::fs::write(
        &file,
        r#"{"version": 1, "keysets": [{"subscribe_key": "gone"}]}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--import", file_s])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(file_s) && err.contains("keysets[0].subscribe_key: \"gone\" is not a keyset"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
