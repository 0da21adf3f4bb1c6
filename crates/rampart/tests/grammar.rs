//! One output grammar: every command that prints a report takes `-o/--format` (`text`, with
//! `txt` accepted), every one documents its exit status, and commands that report findings
//! speak the same JSON, SARIF and JUnit and take `--fail-on`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use assert_cmd::Command;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

fn help(args: &[&str]) -> String {
    let out = rampart().args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

const REPORTING: &[&[&str]] = &[
    &["scan"],
    &["checks"],
    &["pss"],
    &["paths"],
    &["node"],
    &["rbac", "who-can"],
    &["rbac", "access-matrix"],
    &["rbac", "risks"],
    &["rbac", "paths"],
    &["netpol", "list"],
    &["netpol", "explain"],
    &["netpol", "gaps"],
    &["audit", "detect"],
    &["audit", "level"],
    &["audit", "lint"],
    &["policy", "eval"],
    &["policy", "test"],
    &["policy", "apply"],
    &["images", "list"],
    &["images", "verify"],
];

#[test]
fn every_reporting_command_takes_dash_o_and_documents_its_exit_status() {
    for cmd in REPORTING {
        let h = help(cmd);
        assert!(
            h.contains("-o, --format"),
            "{cmd:?} has no -o/--format:\n{h}"
        );
        assert!(
            h.contains("Exit status: 0"),
            "{cmd:?} documents no exit status:\n{h}"
        );
    }
    for cmd in [
        &["rbac", "can-i"][..],
        &["serve"],
        &["certs"],
        &["explain", "x"],
    ] {
        let h = help(&cmd[..cmd.len().min(2)]);
        assert!(h.contains("Exit status: 0"), "{cmd:?}:\n{h}");
    }
}

#[test]
fn txt_and_text_are_the_same_format_everywhere() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/netpol");
    for cmd in [
        &["netpol", "list"][..],
        &["rbac", "risks"],
        &["pss", "--level", "baseline"],
        &["scan", "--no-config"],
    ] {
        let text = rampart()
            .args(cmd)
            .args(["-o", "text", dir])
            .output()
            .unwrap();
        let txt = rampart()
            .args(cmd)
            .args(["-o", "txt", dir])
            .output()
            .unwrap();
        assert_eq!(text.stdout, txt.stdout, "{cmd:?}");
        assert_ne!(
            text.status.code(),
            Some(2),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&text.stderr)
        );
    }
}

#[test]
fn findings_commands_share_the_json_sarif_and_junit_of_scan() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/legacy");
    for cmd in [
        &["scan", "--no-config"][..],
        &["netpol", "gaps"],
        &["pss", "--level", "restricted"],
    ] {
        let json = rampart()
            .args(cmd)
            .args(["-o", "json", dir])
            .output()
            .unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&json.stdout).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(
            doc.get("findings").is_some() || doc.get("results").is_some(),
            "{cmd:?}: {doc}"
        );
        let sarif = rampart()
            .args(cmd)
            .args(["-o", "sarif", dir])
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
        assert_eq!(doc["version"], "2.1.0", "{cmd:?}");
        let junit = rampart()
            .args(cmd)
            .args(["-o", "junit", dir])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&junit.stdout).starts_with("<?xml"),
            "{cmd:?}"
        );
    }
    // --fail-on decides the exit status of netpol gaps too
    let gaps = |sev: &str| {
        rampart()
            .args(["netpol", "gaps", "--fail-on", sev, dir])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(gaps("low"), Some(1));
    assert_eq!(gaps("critical"), Some(0));
}
