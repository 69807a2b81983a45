//! The binary as a newcomer runs it: `kiban demo` on a fresh data directory prints where everything is.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failure by design

use std::io::Write as _;
use std::process::Command;

#[test]
fn demo_command_prints_paths_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("kiban-data");
    let output = Command::new(env!("CARGO_BIN_EXE_kiban"))
        .args(["demo", "--patients", "150", "--no-progress", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed: {}", String::from_utf8_lossy(&output.stderr));
    for label in ["release (sealed):", "handover copy:", "report:", "ledger (Rule 12):", "audit log:"] {
        let line = stdout
            .lines()
            .find(|line| line.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {stdout}"));
        let path = line.trim_start()[label.len()..].split_whitespace().next().unwrap();
        assert!(std::path::Path::new(path).exists(), "{label} {path} does not exist");
    }
    // Reading the audit log takes an account: without a session it is refused.
    let session = dir.path().join("session");
    let kiban = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiban"))
            .args(args)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--session-file")
            .arg(&session)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = kiban(&["audit", "verify"], "");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not logged in"));
    // The first administrator, then a session with the password and the authenticator's code.
    std::fs::write(data_dir.join("security.toml"), "[anomaly]\nallowed_hours = \"00:00-00:00\"\n").unwrap();
    let init = kiban(&["init", "--admin", "auditor1"], "Quiet-harbor-2026!\n");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let init_out = String::from_utf8_lossy(&init.stdout);
    let secret = init_out.lines().find_map(|line| line.trim().strip_prefix("secret: ")).unwrap();
    let totp = kiban_auth::TotpSecret::from_base32(secret).unwrap();
    let code = kiban_auth::totp_code(&totp, chrono::Utc::now()).unwrap();
    let login =
        kiban(&["login", "--user", "auditor1"], &format!("Quiet-harbor-2026!\n{}\n", code.expose_secret()));
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let verify = kiban(&["audit", "verify"], "");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("audit log verified"));
}

#[test]
fn a_bad_argument_exits_non_zero_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_kiban")).args(["release", "--k", "x"]).output().unwrap();
    assert!(!output.status.success());
    assert!(!output.stderr.is_empty());
}
