//! `rampart pss` and `rampart netpol` end to end on fixtures written here.
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

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const RESTRICTED_OK: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: ok, namespace: prod}
spec:
  selector: {matchLabels: {app: ok}}
  template:
    metadata: {labels: {app: ok}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: app
        image: app:1
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"#;

const ROOT_JOB: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: prod}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: job
            image: job:1
            securityContext: {privileged: yes}
"#;

#[test]
fn pss_json_contract_and_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let ok = write(&d, "ok.yaml", RESTRICTED_OK);
    let bad = write(&d, "job.yaml", ROOT_JOB);
    let out = rampart()
        .args(["pss", "--level", "restricted", "--format", "json", &ok])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["results"][0]["allowed"], true);

    let out = rampart()
        .args([
            "pss",
            "--level",
            "baseline",
            "--version",
            "v1.29",
            "--format",
            "json",
            &bad,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["results"][0];
    assert_eq!(r["allowed"], false);
    assert_eq!(r["file"], bad.as_str());
    let checks: Vec<&str> = r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, vec!["privileged"]);
}

#[test]
fn pss_text_reads_like_the_api_server() {
    let d = tempfile::tempdir().unwrap();
    let bad = write(&d, "job.yaml", ROOT_JOB);
    let out = rampart()
        .args(["pss", "--level", "restricted", &bad])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(r#"would violate PodSecurity "restricted:latest": privileged (container "job" must not set securityContext.privileged=true)"#),
        "{text}"
    );
}

#[test]
fn pss_uses_namespace_labels_without_level() {
    let d = tempfile::tempdir().unwrap();
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n";
    write(&d, "ns.yaml", ns);
    write(&d, "job.yaml", ROOT_JOB);
    let out = rampart()
        .args(["pss", "--format", "json", d.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["object"]["name"] == "nightly")
        .unwrap();
    assert_eq!(r["policy"], "restricted:latest");
}

#[test]
fn pss_rejects_unknown_versions() {
    let out = rampart()
        .args([
            "pss",
            "--level",
            "restricted",
            "--version",
            "v2.0",
            "x.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

const NETPOL: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db:1, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
"#;

#[test]
fn netpol_list_is_the_connlist_format() {
    let d = tempfile::tempdir().unwrap();
    write(&d, "all.yaml", NETPOL);
    let out = rampart()
        .args([
            "netpol",
            "list",
            "--format",
            "txt",
            d.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l == "shop/web[Deployment] => shop/db[Deployment] : TCP 5432"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("shop/db[Deployment] => shop/db")),
        "no self connections"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("0.0.0.0-255.255.255.255[External] => shop/db")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l
                == "0.0.0.0-255.255.255.255[External] => shop/web[Deployment] : All Connections"),
        "{text}"
    );
}

fn example(dir: &str) -> String {
    format!("{}/../../examples/{dir}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn rbac_can_i_answers_like_kubectl() {
    let f = example("rbac-escalation");
    let yes = rampart()
        .args([
            "rbac",
            "can-i",
            "list",
            "secrets",
            "-n",
            "batch",
            "--as",
            "system:serviceaccount:batch:backup",
            "-f",
            &f,
        ])
        .output()
        .unwrap();
    assert_eq!(
        (
            yes.status.code(),
            String::from_utf8_lossy(&yes.stdout).trim()
        ),
        (Some(0), "yes")
    );
    let no = rampart()
        .args([
            "rbac",
            "can-i",
            "list",
            "secrets",
            "-n",
            "shop",
            "--as",
            "system:serviceaccount:web:storefront",
            "-f",
            &f,
        ])
        .output()
        .unwrap();
    assert_eq!(
        (no.status.code(), String::from_utf8_lossy(&no.stdout).trim()),
        (Some(1), "no")
    );
}

#[test]
fn rbac_paths_follow_the_attack_chain_from_the_example() {
    let out = rampart()
        .args([
            "rbac",
            "paths",
            "-f",
            &example("rbac-escalation"),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a path exists");
    let text = String::from_utf8(out.stdout).unwrap();
    for step in [
        "Deployment web/storefront",
        "ServiceAccount web/storefront",
        "ServiceAccount batch/backup",
    ] {
        assert!(text.contains(step), "missing {step} in {text}");
    }
}

#[test]
fn scan_reports_the_escalation_path() {
    let out = rampart()
        .args([
            "scan",
            &example("rbac-escalation"),
            "--format",
            "json",
            "--no-config",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "rbac-escalation-path" && f["severity"] == "critical")
    );
}

const TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: ownerlabel}
spec:
  crd:
    spec:
      names: {kind: OwnerLabel}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            key: {type: string}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package ownerlabel
      violation[{"msg": msg}] {
        not input.review.object.metadata.labels[input.parameters.key]
        msg := sprintf("%v %v has no %v label", [input.review.kind.kind, input.review.object.metadata.name, input.parameters.key])
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: OwnerLabel
metadata: {name: deployments-need-owner}
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
    excludedNamespaces: ["kube-*"]
  parameters: {key: owner}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas-limit}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas <= 5"
    message: "at most 5 replicas"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replicas-limit}
spec:
  policyName: replicas-limit
  validationActions: [Deny]
"#;

const DEPLOYMENTS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: unowned, namespace: shop}
spec:
  replicas: 9
  selector: {matchLabels: {app: a}}
  template: {metadata: {labels: {app: a}}, spec: {containers: [{name: a, image: a:1}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: owned, namespace: shop, labels: {owner: team-a}}
spec:
  replicas: 2
  selector: {matchLabels: {app: b}}
  template: {metadata: {labels: {app: b}}, spec: {containers: [{name: b, image: b:1}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: system, namespace: kube-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: c}}
  template: {metadata: {labels: {app: c}}, spec: {containers: [{name: c, image: c:1}]}}
"#;

#[test]
fn scan_applies_gatekeeper_and_vap_policies() {
    let pol = tempfile::tempdir().unwrap();
    write(&pol, "policies.yaml", TEMPLATE);
    let d = tempfile::tempdir().unwrap();
    write(&d, "deploy.yaml", DEPLOYMENTS);
    let out = rampart()
        .args([
            "scan",
            d.path().to_str().unwrap(),
            "--policies",
            pol.path().to_str().unwrap(),
            "--format",
            "json",
            "--no-config",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "deployments-need-owner" || f["check"] == "replicas-limit")
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["object"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        hits.contains(&("deployments-need-owner".into(), "unowned".into())),
        "{hits:?}"
    );
    assert!(
        hits.contains(&("replicas-limit".into(), "unowned".into())),
        "{hits:?}"
    );
    assert!(
        !hits.iter().any(|(_, n)| n == "owned" || n == "system"),
        "{hits:?}"
    );
}

#[test]
fn pss_text_prints_each_violation_once_with_its_modes() {
    let d = tempfile::tempdir().unwrap();
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels:\n    pod-security.kubernetes.io/enforce: baseline\n    pod-security.kubernetes.io/audit: restricted\n    pod-security.kubernetes.io/warn: restricted\n";
    write(&d, "ns.yaml", ns);
    let job = write(&d, "job.yaml", ROOT_JOB);
    let out = rampart()
        .args(["pss", d.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let privileged: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("privileged (container"))
        .collect();
    assert_eq!(
        privileged,
        [&format!(
            r#"{job}:14: [enforce, audit, warn] CronJob prod/nightly: would violate PodSecurity "baseline:latest" (enforce), "restricted:latest" (audit, warn): privileged (container "job" must not set securityContext.privileged=true)"#
        )
        .as_str()],
        "{text}"
    );
    // a restricted-only violation: audit and warn, not enforce
    let non_root = lines
        .iter()
        .find(|l| l.contains("runAsNonRoot != true"))
        .unwrap();
    assert!(
        non_root.contains(r#"[audit, warn] CronJob prod/nightly: would violate PodSecurity "restricted:latest": runAsNonRoot != true"#),
        "{text}"
    );
    // every line names one violation
    for l in &lines[..lines.len() - 1] {
        assert_eq!(l.matches("would violate").count(), 1, "{l}");
    }
    assert_eq!(lines.last(), Some(&"1 object evaluated, 1 not allowed"));
}
