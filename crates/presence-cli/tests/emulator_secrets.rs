//! `presence emulator` never prints a keyset's secret key in an error, in text or with
//! `--json` (issue 15, item 7).

use std::process::{Command, Stdio};

#[test]
fn presence_emulator_errors_never_show_a_secret() {
    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["emulator", "--keyset", ":pub:S3CRET-A"], None),
        (
            vec!["--json", "emulator", "--keyset", ":pub:S3CRET-B"],
            None,
        ),
        (
            vec!["--json", "emulator", "--keyset=sub:pub:S3CRET-C", "stray"],
            None,
        ),
        (vec!["emulator", "sub:pub:S3CRET-D"], None),
        (vec!["--json", "emulator"], Some(":pub:S3CRET-E")),
        (vec!["emulator", "--keysets", "a :pub:S3CRET-F"], None),
    ];
    for (args, env) in &cases {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_presence"));
        cmd.args(args).env_remove("PRESENCE_EMULATOR_KEYSETS");
        if let Some(v) = env {
            cmd.env("PRESENCE_EMULATOR_KEYSETS", v);
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(
            !text.contains("S3CRET"),
            "{args:?} printed a secret: {text}"
        );
    }
}
