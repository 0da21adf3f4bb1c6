//! Table-driven authorization cases: every `tests/cases/*.yaml` file is a list of cases, each with
//! a `note`, input `objects`, and questions (`can_i`, `who_can`, `risks`, `problems`) with the
//! expected answers. A case may be skipped with `skip: reason`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rampart_manifest::{Object, parse_yaml};
use rampart_rbac::{Options, Policy, Request, UserInfo, resources};
use serde_json::Value;
use std::path::Path;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn request(q: &Value) -> Request {
    let verb = s(q, "verb");
    let ns = s(q, "namespace");
    if let Some(url) = q.get("url").and_then(Value::as_str) {
        return Request::non_resource(verb, url);
    }
    let (group, resource) = match q.get("group").and_then(Value::as_str) {
        Some(g) => (g.to_string(), s(q, "resource").to_string()),
        None => {
            let r = resources::resolve(s(q, "resource")).unwrap();
            (r.group.to_string(), r.resource.to_string())
        }
    };
    Request::resource(
        verb,
        ns,
        &group,
        &resource,
        s(q, "subresource"),
        s(q, "name"),
    )
}

fn run_case(file: &str, case: &Value) -> Vec<String> {
    let note = s(case, "note");
    let mut failures = Vec::new();
    let objects: Vec<Object> = case
        .get("objects")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|o| Object::from_value(o.clone(), file))
                .collect()
        })
        .unwrap_or_default();
    let bootstrap = case
        .get("bootstrap")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let policy = Policy::from_objects(&objects, Options { bootstrap });
    for q in case
        .get("can_i")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let groups: Vec<String> = q
            .get("groups")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo::new(s(q, "as"), &groups);
        let req = request(q);
        let got = policy.authorize(&user, &req).is_some();
        let want = q.get("expect").and_then(Value::as_bool).unwrap();
        if got != want {
            failures.push(format!(
                "{file}: {note}: can-i {q} => {got}, expected {want}"
            ));
        }
    }
    for q in case
        .get("who_can")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let req = request(q);
        let mut got: Vec<String> = policy
            .who_can(&req)
            .into_iter()
            .map(|(s, _)| s.describe())
            .collect();
        got.sort();
        let mut want: Vec<String> = q
            .get("expect")
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        want.sort();
        if got != want {
            failures.push(format!(
                "{file}: {note}: who-can {q} => {got:?}, expected {want:?}"
            ));
        }
    }
    if let Some(want) = case.get("risks").and_then(Value::as_array) {
        let got: Vec<String> = rampart_rbac::risks(&policy)
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.capability.slug(),
                    r.severity,
                    r.subject.describe()
                )
            })
            .collect();
        for w in want {
            let w = w.as_str().unwrap();
            let (absent, w) = match w.strip_prefix("not ") {
                Some(rest) => (true, rest),
                None => (false, w),
            };
            if got.iter().any(|g| g == w) == absent {
                failures.push(format!(
                    "{file}: {note}: risk {w:?} present={} in {got:#?}",
                    !absent
                ));
            }
        }
    }
    if let Some(n) = case.get("problems").and_then(Value::as_u64)
        && policy.problems.len() as u64 != n
    {
        failures.push(format!(
            "{file}: {note}: {} problems {:?}, expected {n}",
            policy.problems.len(),
            policy.problems
        ));
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
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (docs, errs) = parse_yaml(&name, &std::fs::read_to_string(f).unwrap());
        assert!(errs.is_empty(), "{errs:?}");
        for d in docs {
            for case in d.value.as_array().unwrap() {
                if case.get("skip").is_some() {
                    continue;
                }
                ran += 1;
                failures.extend(run_case(&name, case));
            }
        }
    }
    assert!(ran >= 20, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
