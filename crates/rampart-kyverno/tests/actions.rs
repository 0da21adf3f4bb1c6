//! Failure actions per namespace (`validationFailureActionOverrides`, `failureActionOverrides`):
//! every `tests/actions/*.yaml` case evaluates its policy and checks, per failing rule, whether
//! it is enforced or audited.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn failure_actions_follow_the_overrides_for_the_namespace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/actions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let mut checked = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: Value = parse_case(&text);
        let policy = serde_json::to_string(&doc["policy"]).unwrap();
        let (set, errors) = PolicySet::from_str(&f.display().to_string(), &policy);
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
        for case in doc["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let resource = &case["resource"];
            let mut info = AdmissionInfo::default();
            if let Some(l) = case.get("namespaceLabels").and_then(Value::as_object) {
                let ns = resource["metadata"]["namespace"].as_str().unwrap();
                info.namespace_labels.insert(ns.to_string(), l.clone());
            }
            let got: BTreeMap<String, String> = set
                .evaluate(resource, &info)
                .into_iter()
                .filter(|r| r.status == Status::Fail)
                .map(|r| {
                    (
                        r.rule,
                        if r.enforce { "enforce" } else { "audit" }.to_string(),
                    )
                })
                .collect();
            let want: BTreeMap<String, String> =
                serde_json::from_value(case["expect"].clone()).unwrap();
            assert_eq!(got, want, "{}: {name}", f.display());
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} cases");
}

/// The case files are YAML; the manifest loader reads them into JSON values.
fn parse_case(text: &str) -> Value {
    let (docs, errs) = rampart_manifest::parse_yaml("case.yaml", text);
    assert!(errs.is_empty(), "{errs:?}");
    docs.into_iter().next().unwrap().value
}
