//! The binary as a newcomer runs it: `kiban demo` on a fresh data directory prints where everything is.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failure by design

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
    for label in ["release:", "report:", "ledger (Rule 12):", "audit log:"] {
        let line = stdout
            .lines()
            .find(|line| line.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {stdout}"));
        let path = line.trim_start()[label.len()..].split_whitespace().next().unwrap();
        assert!(std::path::Path::new(path).exists(), "{label} {path} does not exist");
    }
    let verify = Command::new(env!("CARGO_BIN_EXE_kiban"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).contains("audit log verified"));
}

#[test]
fn a_bad_argument_exits_non_zero_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_kiban")).args(["release", "--k", "x"]).output().unwrap();
    assert!(!output.status.success());
    assert!(!output.stderr.is_empty());
}
