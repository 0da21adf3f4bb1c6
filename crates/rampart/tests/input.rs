//! Every command reads its input the same way: symbolic links, stdin, charts and templates,
//! `-n`, objects defined twice, and a bad file that never hides the rest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const PRIVILEGED: &str = "apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext: {privileged: true}
";

fn json_findings(out: &std::process::Output) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    doc["findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn symbolic_links_are_followed_and_loops_reported_with_their_path() {
    let real = tempfile::tempdir().unwrap();
    write(real.path(), "pod.yaml", PRIVILEGED);
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(real.path().join("pod.yaml"), d.path().join("linked.yaml")).unwrap();
    std::os::unix::fs::symlink(real.path(), d.path().join("linked-dir")).unwrap();
    let out = rampart()
        .args(["scan", "--no-config", "-o", "json"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: std::collections::BTreeSet<String> = json_findings(&out)
        .iter()
        .filter(|f| f["check"] == "privileged-container")
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");

    std::os::unix::fs::symlink(d.path(), d.path().join("loop")).unwrap();
    let out = rampart()
        .args(["scan", "--no-config", "-o", "json"])
        .arg(d.path())
        .output()
        .unwrap();
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(err.contains("loop"), "{err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the valid files are still scanned: {err}"
    );
}

#[test]
fn empty_stdin_is_an_error() {
    for cmd in [
        &["scan", "--no-config", "-"][..],
        &["netpol", "list", "-"],
        &["rbac", "risks", "-"],
        &["policy", "jp", "query", "a"],
    ] {
        let out = rampart().args(cmd).write_stdin("").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains("<stdin>: no objects read from stdin"),
            "{cmd:?}: {all}"
        );
    }
}

#[test]
fn an_unrendered_template_is_one_error_with_a_hint() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"app.fullname\" . }}\n  labels:\n    {{- include \"app.labels\" . | nindent 4 }}\n",
    );
    write(d.path(), "pod.yaml", PRIVILEGED);
    let out = rampart()
        .args(["scan", "--no-config"])
        .arg(d.path())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(all.matches("unrendered Go template").count(), 1, "{all}");
    assert!(all.contains("deployment.yaml:4:9"), "{all}");
    assert!(all.contains("helm template"), "{all}");
    assert!(!all.contains("mapping key"), "{all}");
    assert!(all.contains("privileged-container"), "{all}");
}

#[test]
fn a_chart_is_rendered_with_helm_or_reported_once() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "chart/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    );
    write(d.path(), "chart/values.yaml", "replicas: 1\n");
    for i in 0..5 {
        write(
            d.path(),
            &format!("chart/templates/t{i}.yaml"),
            "metadata:\n  name: {{ .Release.Name }}\n",
        );
    }
    // no helm on PATH: one error for the chart
    let out = rampart()
        .env("PATH", "/nonexistent")
        .args(["scan", "--no-config"])
        .arg(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let all = format!("{}{err}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(all.matches("is a Helm chart").count(), 1, "{all}");
    assert!(!all.contains("t3.yaml"), "{all}");
    assert_eq!(out.status.code(), Some(2));

    // a `helm` on PATH renders it (a stand-in that prints a manifest)
    let bin = tempfile::tempdir().unwrap();
    let helm = bin.path().join("helm");
    std::fs::write(
        &helm,
        format!("#!/bin/sh\n[ \"$1\" = template ] || exit 3\ncat <<'EOF'\n---\n# Source: app/templates/pod.yaml\n{PRIVILEGED}EOF\n"),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&helm).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&helm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = rampart()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .args(["scan", "--no-config", "-o", "json"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = json_findings(&out);
    let p = f
        .iter()
        .find(|f| f["check"] == "privileged-container")
        .unwrap();
    assert!(p["file"].as_str().unwrap().ends_with("chart"), "{p}");
}

#[test]
fn an_object_defined_twice_is_reported_whatever_the_order() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: frontend, namespace: shop}\nspec:\n  selector: {matchLabels: {app: f}}\n  template:\n    metadata: {labels: {app: f}}\n    spec:\n      containers: [{name: c, image: nginx:1.27}]\n";
    write(a.path(), "a.yaml", deploy);
    write(b.path(), "b.yaml", deploy);
    let run = |first: &Path, second: &Path| {
        let out = rampart()
            .args(["scan", "--no-config", "-o", "json"])
            .arg(first)
            .arg(second)
            .output()
            .unwrap();
        let mut f = json_findings(&out);
        for x in &mut f {
            x.as_object_mut().unwrap().remove("object");
        }
        f
    };
    let one = run(a.path(), b.path());
    let two = run(b.path(), a.path());
    assert_eq!(one, two);
    let dups: Vec<&Value> = one
        .iter()
        .filter(|f| f["check"] == "duplicate-object")
        .collect();
    assert_eq!(dups.len(), 1, "{one:#?}");
    let msg = dups[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("Deployment shop/frontend is defined twice"),
        "{msg}"
    );
}

#[test]
fn dash_n_gives_a_namespace_to_objects_without_one() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "rbac.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: read}\nrules:\n- {apiGroups: [''], resources: [secrets], verbs: [get, list]}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: read}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read}\nsubjects: [{kind: ServiceAccount, name: api}]\n",
    );
    let out = rampart()
        .args([
            "rbac",
            "can-i",
            "list",
            "secrets",
            "-n",
            "prod",
            "--as",
            "system:serviceaccount:prod:api",
        ])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        (Some(0), "yes"),
        "-n is the question's namespace and the objects' one"
    );
    let out = rampart()
        .args(["scan", "--no-config", "-o", "json", "-n", "prod"])
        .arg(d.path())
        .output()
        .unwrap();
    let f = json_findings(&out);
    assert!(
        f.iter().any(|f| f["check"] == "rbac-read-secrets"
            && f["message"].as_str().unwrap().contains("prod")),
        "{f:#?}"
    );
}

#[test]
fn a_broken_file_never_silences_the_rest() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "broken.yaml", "kind: [unclosed\n");
    write(
        d.path(),
        "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: ci-admin}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: User, name: jane}]\n",
    );
    for args in [
        &["rbac", "risks"][..],
        &["rbac", "paths"],
        &["rbac", "can-i", "get", "secrets", "--as", "jane"],
        &["netpol", "list"],
        &["scan", "--no-config"],
    ] {
        let out = rampart().args(args).arg(d.path()).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains("broken.yaml:2:1: invalid YAML"),
            "{args:?}: {all}"
        );
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        if args[0] != "netpol" && args[1] != "paths" {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("jane") || args[1] == "can-i",
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn netpol_explain_exits_1_when_the_connection_is_denied() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "np.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x, labels: {app: b}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
    );
    let out = rampart()
        .args([
            "netpol", "explain", "--from", "x/a", "--to", "x/b", "--port", "80",
        ])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = rampart()
        .args([
            "netpol", "explain", "--from", "x/b", "--to", "x/a", "--port", "80",
        ])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
