//! The JSON documents of `rbac`, `netpol explain`, `audit level` and `pss` by namespace labels:
//! their keys, in order, on the bundled examples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn rbac_documents() {
    let v = json(&[
        "rbac",
        "who-can",
        "list",
        "secrets",
        "-n",
        "prod",
        "--format",
        "json",
        "examples/rbac-escalation",
    ]);
    let subjects = v["subjects"].as_array().unwrap();
    assert!(!subjects.is_empty());
    for s in subjects {
        assert_eq!(keys(s), ["kind", "name", "namespace", "via"]);
        assert_eq!(
            s["namespace"].is_null(),
            s["kind"] != "ServiceAccount",
            "{s}"
        );
    }
    let v = json(&[
        "rbac",
        "access-matrix",
        "--as",
        "system:serviceaccount:batch:backup",
        "-n",
        "batch",
        "--format",
        "json",
        "examples/rbac-escalation",
    ]);
    assert_eq!(keys(&v), ["user", "namespace", "resources"]);
    assert_eq!(v["namespace"], "batch");
    let secrets = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "secrets")
        .unwrap();
    assert_eq!(
        keys(&secrets["verbs"]),
        [
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection"
        ]
    );
    assert_eq!(secrets["verbs"]["list"], true);
    assert_eq!(secrets["verbs"]["delete"], false);
    let v = json(&[
        "rbac",
        "risks",
        "--format",
        "json",
        "examples/rbac-escalation",
    ]);
    let risk = &v["risks"][0];
    assert_eq!(
        keys(risk),
        [
            "check", "severity", "subject", "scope", "binding", "role", "rule", "message",
            "location"
        ]
    );
    assert_eq!(keys(&risk["subject"]), ["kind", "name", "namespace"]);
    let v = json(&[
        "rbac",
        "paths",
        "--format",
        "json",
        "examples/rbac-escalation",
    ]);
    assert_eq!(
        keys(&v["paths"][0]),
        ["seed", "target", "location", "steps"]
    );
}

#[test]
fn netpol_explain_adds_the_question_with_a_port() {
    let base = [
        "netpol",
        "explain",
        "--from",
        "store/frontend",
        "--to",
        "store/backend",
        "--format",
        "json",
        "examples/netpol",
    ];
    let v = json(&base);
    assert!(
        v.get("query").is_none() && v.get("verdict").is_none(),
        "{v}"
    );
    let mut with_port = base.to_vec();
    with_port.extend(["--port", "9090"]);
    let v = json(&with_port);
    let k = keys(&v);
    assert_eq!(k[k.len() - 2..], ["query", "verdict"]);
    assert_eq!(v["query"]["port"], 9090);
    assert_eq!(v["query"]["protocol"], "TCP");
    assert!(v["verdict"].is_boolean());
}

#[test]
fn audit_level_and_pss_modes() {
    let v = json(&[
        "audit",
        "level",
        "examples/audit/policy.yaml",
        "--user",
        "jane",
        "--verb",
        "get",
        "--resource",
        "secrets",
        "-n",
        "prod",
        "--format",
        "json",
    ]);
    assert_eq!(
        keys(&v),
        ["level", "stages", "omitStages", "omitManagedFields", "rule"]
    );
    let v = json(&["pss", "--format", "json", "examples/legacy"]);
    let r = &v["results"][0];
    assert_eq!(
        keys(r),
        [
            "file",
            "object",
            "line",
            "policy",
            "allowed",
            "violations",
            "modes"
        ]
    );
    assert_eq!(keys(&r["modes"]), ["enforce", "audit", "warn"]);
    assert_eq!(
        keys(&r["object"]),
        ["apiVersion", "kind", "namespace", "name"]
    );
    let v = json(&[
        "pss",
        "--level",
        "baseline",
        "--format",
        "json",
        "examples/legacy",
    ]);
    assert_eq!(
        keys(&v["results"][0]),
        ["file", "object", "line", "policy", "allowed", "violations"]
    );
    let violation = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["violations"].get(0))
        .unwrap();
    assert_eq!(keys(violation), ["check", "reason", "detail"]);
}
