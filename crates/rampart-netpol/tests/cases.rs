//! Table-driven cases: every `tests/cases/*.yaml` document is one case with a `note`, the input
//! `objects` (a YAML stream), and one or more questions with their expected answers:
//!
//! - `list`: the exact connlist lines (any order);
//! - `explain`: one or a list of `{from, to, allowed, egress: [policy rule,...], ingress: [...]}`;
//! - `gaps`: the exact set of `slug pointer` pairs;
//! - `errors`: substrings that must each appear in one input error (`file:line:col: message`).
//!
//! `skip: reason` skips a case.

use rampart_manifest::{load_str, parse_yaml};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// A list of strings. An unquoted connlist line `src => dst : conn` reads in YAML as a one-entry
/// map; it is turned back into its line.
fn strings(v: Option<&Value>) -> Vec<String> {
    let item = |s: &Value| match s {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) if m.len() == 1 => m
            .iter()
            .next()
            .map(|(k, v)| format!("{k} : {}", v.as_str().unwrap_or(""))),
        _ => None,
    };
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(item).collect())
        .unwrap_or_default()
}

fn run_case(file: &str, case: &Value) -> Result<(), String> {
    let note = case
        .get("note")
        .and_then(Value::as_str)
        .ok_or("case without `note`")?;
    let text = case
        .get("objects")
        .and_then(Value::as_str)
        .ok_or("case without `objects`")?;
    let loaded = load_str("input.yaml", text);
    if !loaded.errors.is_empty() {
        return Err(format!("{note}: loader errors {:?}", loaded.errors));
    }
    let objects = loaded.objects;
    let mut checked = 0;
    if let Some(want) = case.get("list") {
        checked += 1;
        let a = rampart_netpol::analyze(&objects).map_err(|e| format!("{note}: {e}"))?;
        let got: BTreeSet<String> = a.connections.iter().map(|c| c.to_string()).collect();
        let want: BTreeSet<String> = strings(Some(want)).into_iter().collect();
        if got != want {
            let missing: Vec<_> = want.difference(&got).collect();
            let extra: Vec<_> = got.difference(&want).collect();
            return Err(format!(
                "{file}: {note}\n  missing: {missing:#?}\n  extra: {extra:#?}"
            ));
        }
    }
    let queries: Vec<&Value> = match case.get("explain") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(q) => vec![q],
        None => Vec::new(),
    };
    for q in queries {
        checked += 1;
        let from = q.get("from").and_then(Value::as_str).unwrap_or("");
        let to = q.get("to").and_then(Value::as_str).unwrap_or("");
        let ex = rampart_netpol::explain(&objects, from, to).map_err(|e| format!("{note}: {e}"))?;
        if let Some(want) = q.get("allowed").and_then(Value::as_str)
            && ex.allowed.to_string() != want
        {
            return Err(format!("{file}: {note}: allowed {} != {want}", ex.allowed));
        }
        for (side, key) in [(&ex.egress, "egress"), (&ex.ingress, "ingress")] {
            if let Some(w) = q.get(key) {
                let got: Vec<String> = side
                    .policies
                    .iter()
                    .map(|p| {
                        let allowing: Vec<&str> = p
                            .rules
                            .iter()
                            .filter(|r| r.peer_matches)
                            .map(|r| r.rule.as_str())
                            .collect();
                        format!("{} {}", p.policy, allowing.join(","))
                    })
                    .map(|s| s.trim_end().to_string())
                    .collect();
                if got != strings(Some(w)) {
                    return Err(format!(
                        "{file}: {note}: {key} policies {got:?} != {:?}",
                        strings(Some(w))
                    ));
                }
            }
        }
    }
    if let Some(want) = case.get("gaps") {
        checked += 1;
        let got: BTreeSet<String> = rampart_netpol::gaps(&objects)
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f.check,
                    f.location
                        .as_ref()
                        .map(|l| l.pointer.as_str())
                        .unwrap_or("")
                )
            })
            .collect();
        let want: BTreeSet<String> = strings(Some(want)).into_iter().collect();
        if got != want {
            return Err(format!(
                "{file}: {note}\n  got gaps: {got:#?}\n  want: {want:#?}"
            ));
        }
    }
    if let Some(want) = case.get("errors") {
        checked += 1;
        let a = rampart_netpol::analyze(&objects).map_err(|e| format!("{note}: {e}"))?;
        let got: Vec<String> = a.errors.iter().map(|e| e.to_string()).collect();
        for w in strings(Some(want)) {
            if !got.iter().any(|g| g.contains(&w)) {
                return Err(format!(
                    "{file}: {note}: no error containing {w:?} in {got:?}"
                ));
            }
        }
        if got.len() != strings(Some(want)).len() {
            return Err(format!("{file}: {note}: errors {got:?}"));
        }
    }
    if checked == 0 {
        return Err(format!("{file}: {note}: case asks nothing"));
    }
    Ok(())
}

#[test]
fn yaml_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let (mut run, mut failures) = (0, Vec::new());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (docs, errs) = parse_yaml(&name, &text);
        assert!(errs.is_empty(), "{errs:?}");
        for d in docs {
            if d.value.get("skip").is_some() {
                continue;
            }
            run += 1;
            if let Err(e) = run_case(&name, &d.value) {
                failures.push(e);
            }
        }
    }
    assert!(run >= 20, "only {run} cases found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {run} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
