//! `rampart paths` end to end: the JSON contract, the formats, exit codes and input errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use serde_json::Value;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

fn example(dir: &str) -> String {
    format!("{}/../../examples/{dir}", env!("CARGO_MANIFEST_DIR"))
}

fn json(args: &[&str]) -> (Value, i32) {
    let out = rampart().args(args).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap())
}

#[test]
fn the_example_chain_runs_from_the_exposed_storefront_to_cluster_admin() {
    let dir = example("attack-path");
    let (v, code) = json(&["paths", &dir, "-o", "json"]);
    assert_eq!(code, 1);
    let paths = v["paths"].as_array().unwrap();
    // exposed entries first
    assert_eq!(paths[0]["entry"]["name"], "storefront");
    assert_eq!(paths[0]["entry"]["exposed"], true);
    let admin = paths
        .iter()
        .find(|p| p["entry"]["name"] == "storefront" && p["goal"] == "cluster-admin")
        .unwrap();
    let techniques: Vec<&str> = admin["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["technique"].as_str().unwrap())
        .collect();
    assert_eq!(
        techniques,
        [
            "ENDPOINT_EXPLOIT",
            "EXPLOIT_CONTAINERD_SOCK",
            "VOLUME_ACCESS",
            "TOKEN_STEAL",
            "PERMISSION_DISCOVER"
        ]
    );
    let escape = &admin["steps"][1];
    assert_eq!(escape["mitre"], "T1611");
    assert_eq!(escape["from"]["type"], "workload");
    assert_eq!(escape["from"]["name"], "thumbnailer");
    assert_eq!(escape["to"]["type"], "node");
    assert!(
        escape["evidence"]["file"]
            .as_str()
            .unwrap()
            .ends_with("shop.yaml")
    );
    assert_eq!(escape["evidence"]["line"], 91);
    // one path per entry and goal
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        assert!(seen.insert((p["entry"]["name"].to_string(), p["goal"].to_string())));
    }
    // shortest first within the exposed and the other entries
    let lens: Vec<(bool, usize)> = paths
        .iter()
        .map(|p| {
            (
                p["entry"]["exposed"] != true,
                p["steps"].as_array().unwrap().len(),
            )
        })
        .collect();
    let mut sorted = lens.clone();
    sorted.sort();
    assert_eq!(lens, sorted);
}

#[test]
fn the_rbac_example_reads_all_secrets_through_a_created_pod() {
    let out = rampart()
        .args(["paths", &example("rbac-escalation")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Deployment web/storefront") && text.contains("[all-secrets] in 4 steps"),
        "{text}"
    );
    assert!(text.contains("POD_CREATE"), "{text}");
    assert!(
        text.contains("note: no Node objects in the input"),
        "{text}"
    );
}

#[test]
fn all_lists_a_path_per_target_and_formats_render() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pods.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  automountServiceAccountToken: false\n  containers: [{name: c, image: c, securityContext: {privileged: true}}]\n",
    )
    .unwrap();
    let f = file.display().to_string();
    let (v, _) = json(&["paths", "-f", &f, "-o", "json"]);
    assert_eq!(v["paths"].as_array().unwrap().len(), 1);
    // -n puts objects without a namespace into it
    assert_eq!(v["paths"][0]["entry"]["namespace"], "default");
    let (v, code) = json(&["paths", &f, "-o", "json", "--all", "-n", "team"]);
    assert_eq!(code, 1);
    let targets: Vec<&str> = v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["target"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["a", "b"]);
    assert_eq!(v["paths"][0]["entry"]["namespace"], "team");
    let mermaid = rampart()
        .args(["paths", &f, "-o", "mermaid"])
        .output()
        .unwrap();
    let m = String::from_utf8(mermaid.stdout).unwrap();
    assert!(
        m.starts_with("flowchart LR\n") && m.contains("CE_PRIV_MOUNT"),
        "{m}"
    );
    let dot = rampart().args(["paths", &f, "-o", "dot"]).output().unwrap();
    let d = String::from_utf8(dot.stdout).unwrap();
    assert!(
        d.starts_with("digraph attack_paths {") && d.contains("-> \"root on node a\""),
        "{d}"
    );
    let html = rampart()
        .args(["paths", &f, "-o", "html"])
        .output()
        .unwrap();
    assert_eq!(html.status.code(), Some(1));
    let h = String::from_utf8(html.stdout).unwrap();
    assert!(
        h.starts_with("<!DOCTYPE html>")
            && h.contains("data-vertex=\"root on node a\"")
            && h.contains(">CE_PRIV_MOUNT</text>")
            && h.matches("<section class=\"rp-path\"").count() == 1,
        "{h}"
    );
}

#[test]
fn exit_codes_and_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let safe = dir.path().join("safe.yaml");
    std::fs::write(
        &safe,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  automountServiceAccountToken: false\n  containers: [{name: c, image: c}]\n",
    )
    .unwrap();
    let out = rampart().args(["paths"]).arg(&safe).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 attack paths"));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n").unwrap();
    let out = rampart()
        .args(["paths"])
        .arg(&bad)
        .arg(&safe)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:"), "{err}");
    // a path decides the exit code even with input errors
    let priv_pod = dir.path().join("priv.yaml");
    std::fs::write(
        &priv_pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  automountServiceAccountToken: false\n  containers: [{name: c, image: c, securityContext: {privileged: true}}]\n",
    )
    .unwrap();
    let out = rampart()
        .args(["paths"])
        .arg(&bad)
        .arg(&priv_pod)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
