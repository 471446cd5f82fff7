//! Secrets kept (issue 15, item 7), running the `presence-emulator` binary: no error
//! it prints repeats a keyset's secret key, and keysets also come from a file or the
//! environment, so the secret can stay out of the process list.

mod common;

use presence_core::{canonical_query, sign_v2};
use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_presence-emulator");

/// The binary with `args` and, when given, `PRESENCE_EMULATOR_KEYSETS` (else unset).
fn command(args: &[&str], env: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("PRESENCE_EMULATOR_KEYSETS");
    if let Some(v) = env {
        cmd.env("PRESENCE_EMULATOR_KEYSETS", v);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs the binary to completion: (exit code, stdout + stderr).
fn run(args: &[&str], env: Option<&str>) -> (Option<i32>, String) {
    let out = command(args, env).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn no_error_repeats_a_secret_key() {
    let dir = std::env::temp_dir().join(format!("presence-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_file = dir.join("bad-keysets");
    std::fs::write(&bad_file, "good:pub:S3CRET-F1 # fine\n:pub:S3CRET-F2\n").unwrap();
    let bad_file = bad_file.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["--keyset", ":pub:S3CRET-A"], None),
        (vec!["--keyset=:pub:S3CRET-B"], None),
        (vec!["--keyset", "sub:pub:S3CRET-C", "stray"], None),
        (vec!["sub:pub:S3CRET-D"], None),
        (vec!["--keyste=sub:pub:S3CRET-E"], None),
        (
            vec!["--keyset", "sub:pub:S3CRET-G", "--listen", "not-an-address"],
            None,
        ),
        (vec!["--keyset-file", &bad_file], None),
        (vec!["--keysets", "ok :pub:S3CRET-H"], None),
        (vec![], Some("ok\n:pub:S3CRET-I")),
        (vec!["--bogus"], Some("sub:pub:S3CRET-J")),
    ];
    for (args, env) in &cases {
        let (code, text) = run(args, *env);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(text.contains("error"), "{args:?}: {text}");
        assert!(
            !text.contains("S3CRET"),
            "{args:?} printed a secret: {text}"
        );
    }
    // Help shows the environment variable, not its value.
    let (code, text) = run(&["--help"], Some("sub:pub:S3CRET-K"));
    assert_eq!(code, Some(0));
    assert!(
        text.contains("PRESENCE_EMULATOR_KEYSETS") && !text.contains("S3CRET"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Starts the binary, reads its origin, sends a signed and an unsigned request.
fn serve_and_check(args: &[&str], env: Option<&str>, secret: &str) {
    let listen = [&["--listen", "127.0.0.1:0"], args].concat();
    let mut child = command(&listen, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The secret is not on the command line.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&cmdline).contains(secret));
    let addr = common::listening_addr(&mut child);
    let get = |target: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let path = "/v2/presence/sub-key/sub-s/channel/a/heartbeat";
    assert!(get(&format!("{path}?uuid=u")).starts_with("HTTP/1.1 403"));
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let params = [("uuid", "u"), ("timestamp", ts.as_str())];
    let sig = sign_v2(secret, "GET", "pub-s", path, &canonical_query(params), b"");
    let ok = get(&format!("{path}?uuid=u&timestamp={ts}&signature={sig}"));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn keysets_come_from_a_file_or_the_environment() {
    let dir = std::env::temp_dir().join(format!("presence-keysets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keysets");
    std::fs::write(&file, "# test keysets\ndemo\nsub-s:pub-s:file-secret\n").unwrap();
    serve_and_check(
        &["--keyset-file", file.to_str().unwrap()],
        None,
        "file-secret",
    );
    serve_and_check(&[], Some("demo sub-s:pub-s:env-secret"), "env-secret");
    std::fs::remove_dir_all(&dir).unwrap();
}
