#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Table-driven cases: every `tests/cases/*.yaml` holds a list of cases, each with a `note`, the
//! `level` and `versions` to evaluate at, an `object` (a Pod or a workload), and the expected
//! answer: `expect: allowed`, or `expect:` the list of failing check IDs in reporting order.
//! A case may also pin the exact API-server `warning` (`{policy}` stands for the policy evaluated)
//! and the `pointers` of the first violation.
//! `skip: reason` disables a case.

use rampart_pss::{Level, Policy, Version, evaluate_object, failing_checks, format_warning};
use serde_json::Value;
use std::path::Path;

fn run_file(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.display().to_string();
    let (docs, errors) = rampart_manifest::parse_yaml(&name, &text);
    assert!(errors.is_empty(), "{name}: {errors:?}");
    let mut failures = Vec::new();
    let mut count = 0;
    for doc in docs {
        let cases = doc
            .value
            .get("cases")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{name}: no `cases` list"));
        for case in cases {
            let note = case["note"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: case without a note"));
            if case.get("skip").is_some() {
                continue;
            }
            let level: Level = case["level"].as_str().unwrap().parse().unwrap();
            let versions: Vec<Version> = match &case["versions"] {
                Value::Array(vs) => vs
                    .iter()
                    .map(|v| v.as_str().unwrap().parse().unwrap())
                    .collect(),
                Value::String(v) => vec![v.parse().unwrap()],
                Value::Null => vec![Version::Latest],
                other => panic!("{name}: {note}: bad versions {other}"),
            };
            let want: Vec<String> = match &case["expect"] {
                Value::String(s) if s == "allowed" => Vec::new(),
                Value::Array(a) => a.iter().map(|c| c.as_str().unwrap().to_string()).collect(),
                other => panic!("{name}: {note}: bad expect {other}"),
            };
            for version in versions {
                count += 1;
                let policy = Policy::new(level, version);
                let Some(got) = evaluate_object(policy, &case["object"]) else {
                    failures.push(format!("{name}: {note} @ {policy}: object has no pod spec"));
                    continue;
                };
                let got_ids: Vec<&str> = got.iter().map(|v| v.check).collect();
                // the allocation-free verdict and the worded evaluation must agree
                let pod = rampart_manifest::pod_spec(&case["object"]).unwrap();
                let verdict: Vec<&str> = failing_checks(policy, pod.metadata, pod.spec)
                    .iter()
                    .map(|c| c.id)
                    .collect();
                if verdict != got_ids || got.iter().any(|v| v.reason == "unknown forbidden reason")
                {
                    failures.push(format!(
                        "{name}: {note} @ {policy}: verdict {verdict:?} vs worded {got:?}"
                    ));
                }
                if got_ids != want {
                    failures.push(format!(
                        "{name}: {note} @ {policy}: want {want:?}, got {got_ids:?}"
                    ));
                    continue;
                }
                if let Some(w) = case.get("warning").and_then(Value::as_str) {
                    let w = w.replace("{policy}", &policy.to_string());
                    let got_w = format_warning(policy, &got);
                    if got_w != w {
                        failures.push(format!(
                            "{name}: {note} @ {policy}:\n  want {w}\n  got  {got_w}"
                        ));
                    }
                }
                if let Some(ptrs) = case.get("pointers").and_then(Value::as_array) {
                    let want_p: Vec<&str> = ptrs.iter().filter_map(Value::as_str).collect();
                    let got_p: Vec<&str> = got
                        .first()
                        .map(|v| v.pointers.iter().map(String::as_str).collect())
                        .unwrap_or_default();
                    if got_p != want_p {
                        failures.push(format!(
                            "{name}: {note} @ {policy}: pointers want {want_p:?}, got {got_p:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(count > 0, "{name}: no cases ran");
    failures
}

#[test]
fn yaml_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "expected case files in {}", dir.display());
    let failures: Vec<String> = files.iter().flat_map(|f| run_file(f)).collect();
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
