//! `rampart scan --summary` and `--group-by check` end to end on the bundled legacy example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use serde_json::Value;

const LEGACY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/legacy");

fn scan(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["scan", "--no-config", LEGACY])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn json_summary_agrees_with_the_full_report() {
    let (code, full, _) = scan(&["-o", "json"]);
    let (summary_code, summary, _) = scan(&["-o", "json", "--summary"]);
    assert_eq!(
        code, summary_code,
        "the exit status does not depend on the view"
    );
    let full: Value = serde_json::from_str(&full).unwrap();
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert!(summary.get("findings").is_none());
    let s = &summary["summary"];
    let findings = full["findings"].as_array().unwrap();
    assert!(findings.len() > 20, "the legacy example has many findings");
    assert_eq!(s["total"], findings.len());
    assert_eq!(s["bySeverity"], full["summary"]["bySeverity"]);
    let counted: u64 = s["byCheck"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["findings"].as_u64().unwrap())
        .sum();
    assert_eq!(counted as usize, findings.len());
    // the first object has the worst findings: no object has more critical ones
    let top = s["topObjects"].as_array().unwrap();
    assert!(!top.is_empty() && top.len() <= 10);
    let critical = |o: &Value| o["bySeverity"]["critical"].as_u64().unwrap();
    assert!(top.windows(2).all(|w| critical(&w[0]) >= critical(&w[1])));
    let first = &top[0];
    let of_first = findings
        .iter()
        .filter(|f| f["object"] == first["object"])
        .count();
    assert_eq!(first["findings"], of_first);
}

#[test]
fn text_summary_and_group_by_check() {
    let (_, summary, _) = scan(&["--summary"]);
    assert!(summary.starts_with("# Findings by check\n"), "{summary}");
    assert!(
        summary.contains("# Objects with the worst findings"),
        "{summary}"
    );
    assert!(
        !summary.contains(" | "),
        "no snippets in a summary:\n{summary}"
    );
    let (_, grouped, _) = scan(&["--group-by", "check"]);
    let headings: Vec<&str> = grouped.lines().filter(|l| l.starts_with("# ")).collect();
    // one heading per check, no file headings
    assert!(
        headings.iter().all(|h| !h.contains(".yaml")),
        "{headings:?}"
    );
    let mut checks: Vec<&str> = headings
        .iter()
        .map(|h| h[2..].split([':', ' ']).next().unwrap())
        .collect();
    let n = checks.len();
    checks.sort_unstable();
    checks.dedup();
    assert_eq!(checks.len(), n, "a check has one heading: {headings:?}");
    let (_, by_file, _) = scan(&[]);
    let last = |s: &str| s.lines().last().map(str::to_string);
    assert_eq!(last(&grouped), last(&by_file), "same summary line");
}

#[test]
fn views_a_format_cannot_show_are_errors() {
    let (code, out, err) = scan(&["-o", "sarif", "--summary"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("--summary is not available in the sarif format"),
        "{err}"
    );
    let (code, _, err) = scan(&["--group-by", "severity"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("expected file or check"), "{err}");
}
