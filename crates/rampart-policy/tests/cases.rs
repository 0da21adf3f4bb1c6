//! Table-driven cases: every `tests/cases/*.yaml` holds `policies` (YAML text of templates,
//! constraints, VAPs, bindings, params) and `cases`, each with a `note`, an `object` (or
//! AdmissionReview), optional `inventory`, `engine` (`rego` or `cel`; else the default) and `skip`, and the expected violations:
//! exactly those, each named by `policy` with a `message` substring and optional `mode`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rampart_policy::{Engine, PolicySet};
use serde_json::Value;
use std::path::Path;

fn objects(name: &str, text: &str) -> Vec<rampart_manifest::Object> {
    let loaded = rampart_manifest::load_str(name, text);
    assert!(loaded.errors.is_empty(), "{name}: {:?}", loaded.errors);
    loaded.objects
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn run_file(path: &Path) -> Vec<String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let (docs, errs) = rampart_manifest::parse_yaml(&name, &text);
    assert!(errs.is_empty(), "{errs:?}");
    let doc = &docs[0].value;
    let mut failures = Vec::new();
    let base = PolicySet::from_objects(objects(&name, s(doc, "policies")));
    let problems: Vec<String> = base.problems().iter().map(ToString::to_string).collect();
    let want_problems = doc
        .get("problems")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for w in &want_problems {
        let w = w.as_str().unwrap();
        if !problems.iter().any(|p| p.contains(w)) {
            failures.push(format!(
                "{name}: expected a problem containing {w:?}, got {problems:?}"
            ));
        }
    }
    if want_problems.is_empty() && !problems.is_empty() {
        failures.push(format!("{name}: unexpected problems {problems:?}"));
    }
    // One set per engine for the whole file as well: its prepared engines are reused from
    // case to case (after errors too) and must answer as a fresh set does.
    let shared = [Engine::Rego, Engine::Cel]
        .map(|e| PolicySet::from_objects(objects(&name, s(doc, "policies"))).with_engine(e));
    for c in doc
        .get("cases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let note = s(c, "note");
        if c.get("skip").is_some() {
            continue;
        }
        // Without `engine`, the set's own default: the cases check what a user gets.
        let engine = match s(c, "engine") {
            "cel" => Engine::Cel,
            "rego" => Engine::Rego,
            _ => Engine::default(),
        };
        let set = PolicySet::from_objects(objects(&name, s(doc, "policies"))).with_engine(engine);
        let inventory = objects(&name, s(c, "inventory"));
        let obj = objects(&name, s(c, "object"));
        let session = set.session(&inventory);
        let got = session.evaluate(&obj[0]);
        let want = c
            .get("expect")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let want_errors = c.get("errors").and_then(Value::as_u64).unwrap_or(0) as usize;
        let summary = || {
            got.violations
                .iter()
                .map(|v| format!("{} [{}] {}", v.policy, v.mode.as_str(), v.message))
                .collect::<Vec<_>>()
        };
        let reused = shared[usize::from(engine == Engine::Cel)]
            .session(&inventory)
            .evaluate(&obj[0]);
        let reused_summary = reused
            .violations
            .iter()
            .map(|v| format!("{} [{}] {}", v.policy, v.mode.as_str(), v.message))
            .collect::<Vec<_>>();
        if reused_summary != summary() || reused.errors.len() != got.errors.len() {
            failures.push(format!(
                "{name}: {note}: a reused set gives {reused_summary:?} and {} errors, a fresh one {:?} and {}",
                reused.errors.len(),
                summary(),
                got.errors.len()
            ));
        }
        if got.errors.len() != want_errors {
            failures.push(format!(
                "{name}: {note}: want {want_errors} errors, got {:?}",
                got.errors
            ));
        }
        if got.violations.len() != want.len() {
            failures.push(format!(
                "{name}: {note}: want {} violations, got {:?}",
                want.len(),
                summary()
            ));
            continue;
        }
        for w in &want {
            let found = got.violations.iter().any(|v| {
                v.policy == s(w, "policy")
                    && v.message.contains(s(w, "message"))
                    && (s(w, "mode").is_empty() || v.mode.as_str() == s(w, "mode"))
            });
            if !found {
                failures.push(format!(
                    "{name}: {note}: no violation like {w}, got {:?}",
                    summary()
                ));
            }
        }
    }
    failures
}

#[test]
fn yaml_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "case files missing in {}", dir.display());
    let failures: Vec<String> = files.iter().flat_map(|f| run_file(f)).collect();
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn policy_set_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
    assert_send_sync::<rampart_policy::Session<'static>>();
}

#[test]
fn load_keeps_going_past_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: v1\nkind: [unclosed\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("vap.yaml"),
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec: {policyName: p}\n",
    )
    .unwrap();
    let set = PolicySet::load(&[dir.path()]).unwrap();
    let problems: Vec<String> = set.problems().iter().map(ToString::to_string).collect();
    assert_eq!(set.len(), 1, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("bad.yaml:")),
        "{problems:?}"
    );
    assert!(PolicySet::load(&[dir.path().join("bad.yaml")]).is_err());
}
