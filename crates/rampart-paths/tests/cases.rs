//! Data-driven cases: every `tests/cases/*.yaml` holds a `PathCase` header document (a note, the
//! paths that must exist and those that must not) followed by the input objects.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_paths::{Options, analyze};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "metadata", default)]
    _metadata: serde_json::Value,
    note: String,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    expect: Vec<Expect>,
    #[serde(default)]
    absent: Vec<Absent>,
    /// Entries that must be marked exposed, and entries that must not.
    #[serde(default)]
    exposed: Vec<String>,
    #[serde(default)]
    not_exposed: Vec<String>,
    skip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    entry: String,
    goal: String,
    target: Option<String>,
    /// The techniques of the steps, in order.
    techniques: Option<Vec<String>>,
    /// The MITRE ids of the steps, in order.
    mitre: Option<Vec<String>>,
    /// The evidence lines of the steps, in order (0: no evidence).
    lines: Option<Vec<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Absent {
    entry: String,
    goal: String,
    target: Option<String>,
}

#[test]
fn cases() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "expected the case files in {dir}");
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let loaded = rampart_manifest::load_str(&name, &text);
        assert!(loaded.errors.is_empty(), "{name}: {:?}", loaded.errors);
        let header = loaded
            .objects
            .iter()
            .find(|o| o.kind() == "PathCase")
            .unwrap_or_else(|| panic!("{name}: no PathCase document"));
        let case: Case = serde_json::from_value(header.value.clone())
            .unwrap_or_else(|e| panic!("{name}: bad case header: {e}"));
        if case.skip.is_some() {
            continue;
        }
        let analysis = analyze(
            &loaded.objects,
            &Options {
                all: case.all,
                ..Options::default()
            },
        );
        assert!(analysis.errors.is_empty(), "{name}: {:?}", analysis.errors);
        let fail = |m: String| format!("{name} ({}): {m}", case.note);
        for e in &case.expect {
            let found = analysis.paths.iter().find(|p| {
                p.entry.label() == e.entry
                    && p.goal.as_str() == e.goal
                    && e.target.as_ref().is_none_or(|t| p.target.label() == *t)
            });
            let Some(p) = found else {
                failures.push(fail(format!(
                    "no path from {} to {} {:?}; paths: {:#?}",
                    e.entry,
                    e.goal,
                    e.target,
                    analysis
                        .paths
                        .iter()
                        .map(|p| format!(
                            "{} -> {} {}: {:?}",
                            p.entry.label(),
                            p.goal.as_str(),
                            p.target.label(),
                            p.steps.iter().map(|s| s.technique).collect::<Vec<_>>()
                        ))
                        .collect::<Vec<_>>()
                )));
                continue;
            };
            checked += 1;
            let techniques: Vec<String> = p.steps.iter().map(|s| s.technique.to_string()).collect();
            if let Some(t) = &e.techniques
                && *t != techniques
            {
                failures.push(fail(format!(
                    "{} -> {}: techniques {techniques:?}, expected {t:?}",
                    e.entry, e.goal
                )));
            }
            let mitre: Vec<String> = p.steps.iter().map(|s| s.mitre.to_string()).collect();
            if let Some(m) = &e.mitre
                && *m != mitre
            {
                failures.push(fail(format!(
                    "{} -> {}: mitre {mitre:?}, expected {m:?}",
                    e.entry, e.goal
                )));
            }
            let lines: Vec<u32> = p
                .steps
                .iter()
                .map(|s| s.evidence.as_ref().map_or(0, |e| e.line))
                .collect();
            if let Some(l) = &e.lines
                && *l != lines
            {
                failures.push(fail(format!(
                    "{} -> {}: evidence lines {lines:?}, expected {l:?}",
                    e.entry, e.goal
                )));
            }
        }
        for a in &case.absent {
            if let Some(p) = analysis.paths.iter().find(|p| {
                p.entry.label() == a.entry
                    && p.goal.as_str() == a.goal
                    && a.target.as_ref().is_none_or(|t| p.target.label() == *t)
            }) {
                failures.push(fail(format!(
                    "unexpected path from {} to {}: {:?}",
                    a.entry,
                    p.target.label(),
                    p.steps
                        .iter()
                        .map(|s| (s.technique, s.to.label()))
                        .collect::<Vec<_>>()
                )));
            }
            checked += 1;
        }
        let exposed = |label: &str| {
            analysis
                .paths
                .iter()
                .find(|p| p.entry.label() == label)
                .map(|p| p.entry.exposed)
        };
        for x in &case.exposed {
            checked += 1;
            if exposed(x) != Some(true) {
                failures.push(fail(format!("{x} should be an exposed entry of some path")));
            }
        }
        for x in &case.not_exposed {
            checked += 1;
            if exposed(x) == Some(true) {
                failures.push(fail(format!("{x} should not be exposed")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 60, "only {checked} expectations checked");
}
