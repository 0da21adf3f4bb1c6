//! `rampart cluster scan --from`: a `kubectl get -A -o yaml` dump through the command line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use assert_cmd::Command;

const DUMP: &str = r#"apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
    labels:
      kubernetes.io/metadata.name: shop
- apiVersion: v1
  kind: Secret
  metadata:
    name: db
    namespace: shop
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"v1","data":{"password":"aHVudGVyMi1zaG9w"},"kind":"Secret"}
  type: Opaque
  data:
    password: aHVudGVyMi1zaG9w
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    namespace: shop
  spec:
    selector:
      matchLabels: {app: web}
    template:
      metadata:
        labels: {app: web}
      spec:
        containers:
        - name: web
          image: nginx:latest
          securityContext:
            privileged: true
- apiVersion: admissionregistration.k8s.io/v1
  kind: ValidatingWebhookConfiguration
  metadata:
    name: gatekeeper-validating-webhook-configuration
  webhooks:
  - name: validation.gatekeeper.sh
    failurePolicy: Ignore
    clientConfig:
      service: {namespace: gatekeeper-system, name: gatekeeper-webhook-service}
"#;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn a_dump_is_audited_in_every_format() {
    let d = tempfile::tempdir().unwrap();
    let dump = d.path().join("dump.yaml");
    std::fs::write(&dump, DUMP).unwrap();
    let mut outputs = Vec::new();
    for format in ["text", "json", "html", "sarif"] {
        let out = rampart()
            .args(["cluster", "scan", "--from"])
            .arg(&dump)
            .args(["-o", format])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains("aHVudGVyMi1zaG9w") && !text.contains("hunter2"),
            "{format} shows a secret value"
        );
        outputs.push(text);
    }
    assert!(
        outputs[0].contains("privileged-container"),
        "{}",
        outputs[0]
    );
    assert!(outputs[0].contains("admission-webhook-fails-open"));
    let json: serde_json::Value = serde_json::from_str(&outputs[1]).unwrap();
    assert_eq!(json["objects"], 4);
    assert_eq!(json["layers"].as_array().unwrap().len(), 4);
    assert_eq!(json["findings"][0]["severity"], "critical");
    assert!(outputs[2].starts_with("<!DOCTYPE html>"));
    let sarif: serde_json::Value = serde_json::from_str(&outputs[3]).unwrap();
    assert_eq!(sarif["version"], "2.1.0");

    // the same report as the baseline: nothing new, nothing fixed
    let base = d.path().join("base.json");
    std::fs::write(&base, &outputs[1]).unwrap();
    let out = rampart()
        .args(["cluster", "scan", "--from"])
        .arg(&dump)
        .arg("--baseline")
        .arg(&base)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("since the baseline: 0 new, 0 fixed"),
        "{text}"
    );
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let out = rampart()
        .args(["cluster", "scan", "--from", ".", "-o", "pdf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format `pdf`"));
}

#[test]
fn an_unreachable_cluster_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let kc = d.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let out = rampart()
        .args(["cluster", "scan", "--kubeconfig"])
        .arg(&kc)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("API server"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cluster audit shows the attack chain end to end, from the exposed storefront of
/// `examples/attack-path` to cluster-admin.
#[test]
fn the_cluster_report_shows_attack_paths() {
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .args(["cluster", "scan", "--from"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/attack-path"
        ))
        .args(["-o", "text"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("attack-path: exposed Deployment outlet/storefront reaches cluster-admin"),
        "{text}"
    );
}

/// The cloud layer: on Nodes that run on a cloud, workloads whose egress reaches the instance
/// metadata service are reported in the `cloud` layer, with the ServiceAccounts that assume a
/// cloud identity; a namespace whose egress policy excepts the address is not.
#[test]
fn the_cloud_layer_shows_metadata_reachability_and_cloud_identities() {
    let dump = "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: ip-10-0-1-5}
  spec: {providerID: 'aws:///eu-west-1a/i-0123456789abcdef0'}
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: uploader
    namespace: shop
    annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/s3-upload'}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop}
  spec:
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec: {serviceAccountName: uploader, containers: [{name: web, image: nginx}]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: api, namespace: bank}
  spec:
    selector: {matchLabels: {app: api}}
    template:
      metadata: {labels: {app: api}}
      spec: {containers: [{name: api, image: nginx}]}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: egress, namespace: bank}
  spec:
    podSelector: {}
    policyTypes: [Egress]
    egress:
    - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]
";
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("dump.yaml"), dump).unwrap();
    let out = rampart()
        .args(["cluster", "scan", "--from"])
        .arg(d.path().join("dump.yaml"))
        .args(["-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let cloud: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["layer"] == "cloud")
        .collect();
    let checks: Vec<(&str, &str)> = cloud
        .iter()
        .map(|f| (f["check"].as_str().unwrap(), f["message"].as_str().unwrap()))
        .collect();
    assert_eq!(cloud.len(), 2, "{checks:#?}");
    assert!(
        checks.iter().any(|(c, m)| *c == "cloud-metadata-reachable"
            && m.contains("namespace shop")
            && m.contains("AWS")),
        "{checks:#?}"
    );
    assert!(
        checks
            .iter()
            .any(|(c, m)| *c == "cloud-workload-identity" && m.contains("s3-upload")),
        "{checks:#?}"
    );
    assert!(
        json["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["layer"] == "cloud"),
        "{:#}",
        json["layers"]
    );
    let notes = json["notes"].to_string();
    assert!(!notes.contains("cloud layer"), "{notes}");

    // without a Node on a cloud, reachability is not judged, and the report says so
    let on_prem = dump.replace(
        "spec: {providerID: 'aws:///eu-west-1a/i-0123456789abcdef0'}",
        "spec: {}",
    );
    std::fs::write(d.path().join("dump.yaml"), on_prem).unwrap();
    let out = rampart()
        .args(["cluster", "scan", "--from"])
        .arg(d.path().join("dump.yaml"))
        .args(["-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["check"] != "cloud-metadata-reachable")
    );
    assert!(
        json["notes"]
            .to_string()
            .contains("cloud layer: no Node names a cloud provider"),
        "{:#}",
        json["notes"]
    );
}

#[test]
fn policies_audit_the_resources_as_their_engines_background_scans_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dump.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: apps, labels: {team: payments}}\nspec:\n  replicas: 9\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: \"nginx:1.27\"}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: apps}\ndata: {a: b}\n",
    )
    .unwrap();
    std::fs::create_dir(d.join("policies")).unwrap();
    std::fs::write(
        d.join("policies/kyverno.yaml"),
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Audit
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap, Deployment]}}]}
    validate:
      message: "the team label is required"
      pattern: {metadata: {labels: {team: "?*"}}}
  - name: add-owner
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {owner: "{{ request.object.metadata.nothere }}"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: admission-only}
spec:
  background: false
  validationFailureAction: Enforce
  rules:
  - name: no-config-maps
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "no ConfigMaps at admission"
      deny: {}
"#,
    )
    .unwrap();
    std::fs::write(
        d.join("policies/vap.yaml"),
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: max-replicas}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}]
  validations:
  - expression: "object.spec.replicas <= 5"
    message: "at most 5 replicas"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-replicas}
spec: {policyName: max-replicas, validationActions: [Deny]}
"#,
    )
    .unwrap();
    let out = rampart()
        .args([
            "cluster",
            "scan",
            "-o",
            "json",
            "--fail-on",
            "critical",
            "--from",
        ])
        .arg(d.join("dump.yaml"))
        .arg("--policies")
        .arg(d.join("policies"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut policy_findings: Vec<(String, String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "kyverno-policy-violation" || f["check"] == "max-replicas")
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["object"]["name"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    policy_findings.sort();
    // the background policy's validation on the ConfigMap, the VAP on the Deployment; not the
    // admission-only policy, nor the mutate rule (whose variable would not even resolve)
    assert_eq!(policy_findings.len(), 2, "{policy_findings:?}");
    assert_eq!(
        (policy_findings[0].0.as_str(), policy_findings[0].1.as_str()),
        ("kyverno-policy-violation", "settings")
    );
    assert!(
        policy_findings[0].2.contains("require-team/team-label"),
        "{policy_findings:?}"
    );
    assert_eq!(
        (
            policy_findings[1].0.as_str(),
            policy_findings[1].1.as_str(),
            policy_findings[1].2.as_str()
        ),
        ("max-replicas", "web", "at most 5 replicas")
    );
}
