//! `rampart policy test` and `rampart policy apply` end to end on the rampart-kyverno cases.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;

fn cases() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rampart-kyverno/tests/cases")
}

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn policy_test_json_reports_every_row_with_the_engines_result() {
    let out = rampart()
        .args(["policy", "test", "--format", "json"])
        .arg(cases())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert!(results.len() >= 50, "{}", results.len());
    for r in results {
        assert_eq!(r["actual"], r["expected"], "{r}");
        assert!(r["test"].as_str().unwrap().ends_with("kyverno-test.yaml"));
    }
    assert!(results.iter().any(|r| r["actual"] == "fail"));
    assert!(results.iter().any(|r| r["actual"] == "skip"));
}

/// The `operators` case in a temporary directory with one expectation turned around, its test
/// file named `test_file`.
fn flipped_operators_case(test_file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = cases().join("operators");
    for f in ["policy.yaml", "resources.yaml"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let test = std::fs::read_to_string(src.join("kyverno-test.yaml"))
        .unwrap()
        .replacen(
            "resources: [bad], result: fail",
            "resources: [bad], result: pass",
            1,
        );
    std::fs::write(dir.path().join(test_file), test).unwrap();
    dir
}

#[test]
fn policy_test_exits_1_when_a_result_differs() {
    let dir = flipped_operators_case("kyverno-test.yaml");
    let out = rampart()
        .args(["policy", "test"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("replicas-in-range") && text.contains("1 tests failed"),
        "{text}"
    );
}

#[test]
fn policy_apply_uses_values() {
    let c = cases().join("deny-variables");
    let out = rampart()
        .args(["policy", "apply", "--format", "json", "--policy"])
        .arg(c.join("policy.yaml"))
        .arg("--resource")
        .arg(c.join("resources.yaml"))
        .arg("--values")
        .arg(c.join("values.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |res: &str, rule: &str| {
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"].as_str().unwrap().ends_with(res) && r["rule"] == rule)
            .map(|r| r["status"].as_str().unwrap().to_string())
    };
    // request.operation is UPDATE for tmpcache-config only, through the values file.
    assert_eq!(
        status("tmpcache-config", "only-on-update").as_deref(),
        Some("fail")
    );
    assert_eq!(
        status("payments-config", "only-on-update").as_deref(),
        Some("skip")
    );
}

#[test]
fn policy_test_counts_rows_as_kyverno_test() {
    // A rule name the policy lacks passes as excluded; a patched resource missing from its
    // file is no row; `failOnMissingResources` and a wrong result are failures; a row naming
    // no resource of the test checks them all.
    let out = rampart()
        .args(["policy", "test", "-v"])
        .arg(cases().join("../verdicts"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 tests passed and 3 tests failed"), "{text}");
    assert!(
        text.contains("excluded: policy `team-label` has no rule `require-teem`"),
        "{text}"
    );
}

#[test]
fn policy_apply_reports_failure_actions_per_namespace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team-label}
spec:
  validationFailureAction: Audit
  background: false
  validationFailureActionOverrides:
  - {action: Enforce, namespaces: ["prod-*"]}
  rules:
  - name: require-team
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {metadata: {labels: {team: "?*"}}}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: prod-eu}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: dev}\n",
    )
    .unwrap();
    let out = rampart()
        .args([
            "policy",
            "apply",
            "--format",
            "json",
            "--audit-warn",
            "--policy",
        ])
        .arg(dir.path().join("p.yaml"))
        .arg("--resource")
        .arg(dir.path().join("r.yaml"))
        .output()
        .unwrap();
    // the enforced failure fails the run
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, String, String)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].0.contains("prod-eu") && rows[0].1 == "fail" && rows[0].2 == "enforce",
        "{rows:?}"
    );
    assert!(
        rows[1].0.contains("dev") && rows[1].1 == "warn" && rows[1].2 == "audit",
        "{rows:?}"
    );
}

#[test]
fn policy_apply_registry_flag_lets_verify_images_reach_registries() {
    let dir = tempfile::tempdir().unwrap();
    // nothing listens on the port: with --registry the rule reports the connection error,
    // without it that registries are not contacted
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("p.yaml"),
        format!(
            r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: signed}}
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify
    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
    verifyImages:
    - imageReferences: ["127.0.0.1:{port}/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
              -----BEGIN PUBLIC KEY-----
              MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6b8ULQzbWlCsGIeKXZ8ieTZ2PV6k
              9xgPdR2yHDS4Y0wU0vCy6D8J3rlVXVxFUmrRfBH5nvsWPX9ZYsGgYc0FpQ==
              -----END PUBLIC KEY-----
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: apps}}\nspec: {{containers: [{{name: c, image: \"127.0.0.1:{port}/app:v1\"}}]}}\n"
        ),
    )
    .unwrap();
    let apply = |extra: &[&str]| {
        let out = rampart()
            .args(["policy", "apply", "--policy"])
            .arg(dir.path().join("p.yaml"))
            .arg("--resource")
            .arg(dir.path().join("r.yaml"))
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let offline = apply(&[]);
    assert!(
        offline.contains("error: failed to verify image") && offline.contains("no registry access"),
        "{offline}"
    );
    let online = apply(&["--registry", "--insecure-registry"]);
    assert!(
        online.contains("error: failed to verify image") && online.contains("unreachable"),
        "{online}"
    );
}

#[test]
fn policy_test_selects_cases_names_files_and_writes_junit() {
    // under another file name
    let dir = flipped_operators_case("ci-test.yaml");
    // the default name finds nothing: reported, not a failure, unless tests are required
    rampart()
        .args(["policy", "test"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stderr(predicates::str::contains("no kyverno-test.yaml found"));
    rampart()
        .args(["policy", "test", "--require-tests"])
        .arg(dir.path())
        .assert()
        .code(2);
    // JUnit: the failing row is a failure with kyverno test's reason
    let out = rampart()
        .args(["policy", "test", "-f", "ci-test.yaml", "-o", "junit"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains(r#"<failure message="Want pass, got fail">"#),
        "{xml}"
    );
    let tests: usize = xml
        .split(r#"<testsuites name="rampart policy test" tests=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(xml.matches("<testcase ").count(), tests, "{xml}");
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    // a selector that leaves the failing row out: success
    let failing_rule = xml
        .split("<testcase classname=\"")
        .find(|c| c.contains("<failure"))
        .and_then(|c| c.split('"').next())
        .unwrap()
        .to_string();
    rampart()
        .args([
            "policy",
            "test",
            "-f",
            "ci-test.yaml",
            "-t",
            "policy=*,resource=good",
        ])
        .arg(dir.path())
        .assert()
        .code(0);
    rampart()
        .args(["policy", "test", "-f", "ci-test.yaml", "-t"])
        .arg(format!("rule={failing_rule}"))
        .arg(dir.path())
        .assert()
        .code(1);
    rampart()
        .args(["policy", "test", "-f", "ci-test.yaml", "-t", "colour=red"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "invalid test case selector key \"colour\"",
        ));
}

/// `kyverno apply` and `kyverno test` command lines run unchanged: positional policies,
/// `-r`/`--resources`, `-f`/`--values-file`, `--set`, `-u`, `--warn-exit-code`,
/// `--warn-no-pass`, `--detailed-results`, `--fail-only`, `--remove-color`, `--table`.
#[test]
fn kyverno_command_lines_run_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: owner}
spec:
  validationFailureAction: Audit
  background: false
  rules:
  - name: team
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: team
      variable: {value: blue}
    validate:
      message: "owner {{ request.object.metadata.labels.owner }} is not {{ team }}"
      deny:
        conditions:
          any:
          - {key: "{{ request.object.metadata.labels.owner }}", operator: NotEquals, value: "{{ team }}"}
  - name: admins-only
    match: {any: [{resources: {kinds: [ConfigMap]}, clusterRoles: [cluster-admin]}]}
    validate:
      message: "admins may not write ConfigMaps"
      deny: {}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a, labels: {owner: blue}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("values.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nglobalValues: {team: red}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("user.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: UserInfo\nclusterRoles: [cluster-admin]\nuserInfo: {username: root}\n",
    )
    .unwrap();
    let apply = |extra: &[&str]| {
        let out = rampart()
            .current_dir(dir.path())
            .args([
                "policy", "apply", "p.yaml", "-r", "r.yaml", "--format", "json",
            ])
            .args(extra)
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let statuses: Vec<String> = doc["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "{}={}",
                    r["rule"].as_str().unwrap(),
                    r["status"].as_str().unwrap()
                )
            })
            .collect();
        (
            out.status.code(),
            statuses,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // the policy's own team is the owner's
    let (code, rows, err) = apply(&[]);
    assert_eq!(
        (code, rows),
        (Some(0), vec!["team=pass".to_string()]),
        "{err}"
    );
    // the values file's team (red) is not the owner (blue): an audited failure
    let (code, rows, err) = apply(&["-f", "values.yaml"]);
    assert_eq!(
        (code, rows.clone()),
        (Some(1), vec!["team=fail".to_string()]),
        "{err}"
    );
    // --set overrides the values file
    let (code, rows, _) = apply(&[
        "--values-file",
        "values.yaml",
        "--set",
        "team=blue,unused=x",
    ]);
    assert_eq!((code, rows), (Some(0), vec!["team=pass".to_string()]));
    // audited failures as warnings, with their own exit status
    let (code, rows, _) = apply(&["-f", "values.yaml", "--audit-warn", "--warn-exit-code", "3"]);
    assert_eq!((code, rows), (Some(3), vec!["team=warn".to_string()]));
    let (code, _, _) = apply(&["-f", "values.yaml", "--audit-warn"]);
    assert_eq!(code, Some(0));
    // the requester's cluster roles select the second rule
    let (code, rows, _) = apply(&["-s", "team=blue", "-u", "user.yaml"]);
    assert_eq!(
        (code, rows),
        (
            Some(1),
            vec!["team=pass".to_string(), "admins-only=fail".to_string()]
        )
    );
    // nothing passed: --warn-no-pass gives the warning status
    let (code, _, _) = apply(&[
        "-f",
        "values.yaml",
        "--audit-warn",
        "--warn-no-pass",
        "--warn-exit-code",
        "4",
    ]);
    assert_eq!(code, Some(4));
    // output options kyverno command lines carry are accepted
    let out = rampart()
        .current_dir(dir.path())
        .args([
            "policy",
            "apply",
            "--policy",
            "p.yaml",
            "--resources",
            "r.yaml",
        ])
        .args([
            "--set",
            "team=blue",
            "--table",
            "--detailed-results",
            "--remove-color",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("owner/team: pass"));
    // no policy at all is a usage error
    let out = rampart()
        .current_dir(dir.path())
        .args(["policy", "apply", "-r", "r.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = rampart()
        .current_dir(dir.path())
        .args(["policy", "apply", "p.yaml", "-r", "r.yaml", "--set", "team"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected NAME=VALUE"));

    // policy test: every row with its message, or only the differing ones
    let case = cases().join("operators");
    let text = |extra: &[&str]| {
        let out = rampart()
            .args(["policy", "test"])
            .arg(&case)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let detailed = text(&["--detailed-results", "--remove-color"]);
    let rows = detailed.lines().filter(|l| l.contains(" Pass ")).count();
    assert!(rows >= 5, "{detailed}");
    assert!(
        detailed
            .lines()
            .any(|l| l.contains(" Pass ") && l.trim_end().ends_with("passed")),
        "{detailed}"
    );
    let fail_only = text(&["--detailed-results", "--fail-only"]);
    assert!(
        fail_only.contains("(every result as expected)"),
        "{fail_only}"
    );
}

/// `policy apply -p`: Kyverno's policy reports, a merged ClusterReport and a PolicyReport per
/// namespaced policy, in YAML or JSON.
#[test]
fn policy_apply_writes_policy_reports() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: owner
  annotations:
    policies.kyverno.io/category: Multi-Tenancy
    policies.kyverno.io/severity: high
spec:
  validationFailureAction: Enforce
  background: false
  rules:
  - name: owner-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "an owner label is required"
      pattern: {metadata: {labels: {owner: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: shop-only
  namespace: shop
  annotations:
    policies.kyverno.io/scored: "false"
spec:
  rules:
  - name: no-debug
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "no debug in shop"
      deny:
        conditions:
          any:
          - {key: "{{ request.object.data.debug || '' }}", operator: Equals, value: "true"}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop, labels: {owner: me}}\ndata: {debug: \"true\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: shop}\n",
    )
    .unwrap();
    let run = |format: &str| {
        let out = rampart()
            .current_dir(dir.path())
            .args([
                "policy",
                "apply",
                "p.yaml",
                "-r",
                "r.yaml",
                "-p",
                "--output-format",
                format,
            ])
            .output()
            .unwrap();
        // b has no owner: an enforced failure
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let yaml = run("yaml");
    let docs: Vec<Value> = yaml
        .split("\n---\n")
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect();
    let json = run("json");
    let from_json: Vec<Value> = serde_json::Deserializer::from_str(&json)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    for reports in [&docs, &from_json] {
        assert_eq!(reports.len(), 2, "{yaml}");
        let (cluster, ns) = (&reports[0], &reports[1]);
        assert_eq!(cluster["apiVersion"], "openreports.io/v1alpha1");
        assert_eq!(cluster["kind"], "ClusterReport");
        assert_eq!(cluster["metadata"]["name"], "merged");
        assert_eq!(cluster["summary"]["pass"], 1);
        assert_eq!(cluster["summary"]["fail"], 1);
        let failed = cluster["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["result"] == "fail")
            .unwrap();
        assert_eq!(failed["policy"], "owner");
        assert_eq!(failed["rule"], "owner-label");
        assert_eq!(failed["severity"], "high");
        assert_eq!(failed["category"], "Multi-Tenancy");
        assert_eq!(failed["scored"], true);
        assert_eq!(failed["source"], "kyverno");
        assert_eq!(failed["properties"]["process"], "admission review");
        assert_eq!(failed["resources"][0]["name"], "b");
        assert_eq!(failed["resources"][0]["namespace"], "shop");
        // the namespaced policy's own report; not scored, so its failure is a warning
        assert_eq!(ns["kind"], "PolicyReport");
        assert_eq!(ns["metadata"]["namespace"], "shop");
        assert_eq!(ns["metadata"]["name"], "shop-only");
        assert_eq!(ns["summary"]["warn"], 1);
        assert_eq!(ns["summary"]["pass"], 1);
        let warned = ns["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["result"] == "warn")
            .unwrap();
        assert!(warned.get("scored").is_none(), "{warned}");
        assert_eq!(warned["message"], "no debug in shop");
        assert_eq!(warned["properties"]["process"], "background scan");
    }
}

/// `policy apply` shows what the mutations made of each resource and what generate rules
/// would create, as `kyverno apply` does, with the resources' secrets masked; MAP params come
/// from `--parameter-resource`.
#[test]
fn policy_apply_shows_mutated_and_generated_resources() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: owner}
spec:
  background: false
  rules:
  - name: label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    mutate:
      patchStrategicMerge:
        metadata:
          labels: {owner: team}
  - name: quota
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    generate:
      apiVersion: v1
      kind: ConfigMap
      name: "{{ request.object.metadata.name }}-copy"
      namespace: "{{ request.object.metadata.namespace }}"
      data:
        data:
          copied: "{{ request.object.data.DB_PASSWORD }}"
"#,
    )
    .unwrap();
    let secret = "Zq8#vR2!mK9pLx4Tw7Bn";
    std::fs::write(
        dir.path().join("r.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: db, namespace: shop}}\ndata: {{DB_PASSWORD: \"{secret}\"}}\n"
        ),
    )
    .unwrap();
    let run = |format: &str| {
        let out = rampart()
            .current_dir(dir.path())
            .args([
                "policy", "apply", "p.yaml", "-r", "r.yaml", "--format", format,
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run("text");
    assert!(text.contains("mutated (from ConfigMap shop/db):"), "{text}");
    assert!(text.contains("owner: team"), "{text}");
    assert!(
        text.contains("generated (from ConfigMap shop/db):") && text.contains("name: db-copy"),
        "{text}"
    );
    assert!(!text.contains(secret), "{text}");
    let json = run("json");
    assert!(!json.contains(secret), "{json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        doc["mutated"][0]["object"]["metadata"]["labels"]["owner"],
        "team"
    );
    assert_eq!(doc["mutated"][0]["resource"], "ConfigMap shop/db");
    assert_eq!(doc["generated"][0]["object"]["metadata"]["name"], "db-copy");

    // a MutatingAdmissionPolicy's params
    let cases = cases().join("map-selector");
    let out = rampart()
        .args(["policy", "apply", "--format", "json", "--policy"])
        .arg(cases.join("policy.yaml"))
        .arg("-r")
        .arg(cases.join("resources.yaml"))
        .arg("--parameter-resource")
        .arg(cases.join("params.yaml"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["mutated"][0]["object"]["metadata"]["labels"]["zones"], "2",
        "{doc}"
    );
}

/// The ClusterReport summary `policy apply -p -o json` prints: pass, fail, skip, error.
fn cluster_summary(dir: &std::path::Path, args: &[&str]) -> (u64, u64, u64, u64) {
    let out = rampart()
        .current_dir(dir)
        .args(["policy", "apply", "-p", "-o", "json"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    // one report alone, several as a list
    let reports = match v {
        Value::Array(a) => a,
        Value::Object(ref m) if m.get("kind") == Some(&Value::from("List")) => {
            v["items"].as_array().cloned().unwrap_or_default()
        }
        other => vec![other],
    };
    let s = reports
        .iter()
        .find(|r| r["kind"] == "ClusterReport")
        .map(|r| r["summary"].clone())
        .unwrap_or_default();
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    (n("pass"), n("fail"), n("skip"), n("error"))
}

#[test]
fn policy_apply_runs_vaps_exceptions_and_context_as_kyverno_apply() {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    // a ValidatingAdmissionPolicy bound to the `prod` namespaces: a resource no binding
    // selects has no result, as in kyverno apply (before, VAPs gave no result at all)
    w(
        "vap.yaml",
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: max-replicas}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations: [{expression: "object.spec.replicas <= 3", message: too many replicas}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-replicas-prod}
spec:
  policyName: max-replicas
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {tier: prod}}
"#,
    );
    w(
        "deploys.yaml",
        r#"apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {tier: prod}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: big, namespace: web}
spec: {replicas: 5}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: small, namespace: web}
spec: {replicas: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: scratch, namespace: dev}
spec: {replicas: 9}
"#,
    );
    assert_eq!(
        cluster_summary(dir.path(), &["--policy", "vap.yaml", "-r", "deploys.yaml"]),
        (1, 1, 0, 0)
    );
    // a VAP that does not compile: its error at its position, and exit status 2
    let bad = std::fs::read_to_string(dir.path().join("vap.yaml"))
        .unwrap()
        .replace("object.spec.replicas <= 3", "object.spec.replicas <=");
    w("bad-vap.yaml", &bad);
    let out = rampart()
        .current_dir(dir.path())
        .args([
            "policy",
            "apply",
            "--policy",
            "bad-vap.yaml",
            "-r",
            "deploys.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad-vap.yaml:"),
        "{out:?}"
    );
    // PolicyExceptions among the policies or the resources apply only when asked
    w(
        "policy.yaml",
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: need-team}
spec:
  validationFailureAction: Enforce
  background: false
  rules:
  - name: team
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {message: team label, pattern: {metadata: {labels: {team: "?*"}}}}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: legacy, namespace: default}
spec:
  exceptions: [{policyName: need-team, ruleNames: [team]}]
  match: {any: [{resources: {kinds: [ConfigMap], names: [legacy]}}]}
"#,
    );
    w(
        "cms.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: legacy, namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh, namespace: default, labels: {team: a}}\n",
    );
    let base = ["--policy", "policy.yaml", "-r", "cms.yaml"];
    assert_eq!(cluster_summary(dir.path(), &base), (1, 1, 0, 0));
    let within: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--exceptions-within-policies"])
        .collect();
    assert_eq!(cluster_summary(dir.path(), &within), (1, 0, 1, 0));
    // a MutatingAdmissionPolicy whose match conditions do not hold reports a skip
    w(
        "map.yaml",
        r#"apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: label-red}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  matchConditions: [{name: red, expression: "object.metadata.?labels.?color.orValue('') == 'red'"}]
  failurePolicy: Fail
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration: {expression: "Object{metadata: Object.metadata{labels: {'seen': 'yes'}}}"}
"#,
    );
    w(
        "colors.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r, namespace: default, labels: {color: red}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default, labels: {color: blue}}\n",
    );
    assert_eq!(
        cluster_summary(dir.path(), &["--policy", "map.yaml", "-r", "colors.yaml"]),
        (1, 0, 1, 0)
    );
    // a Context file gives CEL's resource library its cluster objects
    w(
        "vpol.yaml",
        r#"apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: allowed-names}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  variables:
  - name: allowed
    expression: "resource.Get('v1', 'configmaps', 'default', 'allowed').data.names.split(',')"
  validations:
  - expression: "object.metadata.name in variables.allowed"
    message: name not allowed
"#,
    );
    w(
        "context.yaml",
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Context\nmetadata: {name: ctx}\nspec:\n  resources:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: allowed, namespace: default}, data: {names: \"web,api\"}}\n",
    );
    w(
        "pods.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec: {containers: [{name: c, image: nginx}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default}\nspec: {containers: [{name: c, image: nginx}]}\n",
    );
    assert_eq!(
        cluster_summary(
            dir.path(),
            &[
                "--policy",
                "vpol.yaml",
                "-r",
                "pods.yaml",
                "--context-file",
                "context.yaml"
            ]
        ),
        (1, 1, 0, 0)
    );
}

#[test]
fn policy_jp_query_evaluates_kyverno_jmespath() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pod.yaml"),
        "spec:\n  containers:\n  - {name: a, resources: {requests: {memory: 12Ki}}}\n  - {name: b, resources: {requests: {memory: 13Ki}}}\n",
    )
    .unwrap();
    let out = rampart()
        .current_dir(dir.path())
        .args(["policy", "jp", "query", "-i", "pod.yaml"])
        .args([
            "sum(spec.containers[].resources.requests.memory)",
            "spec.containers[0].name",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "\"25Ki\"\n\"a\"\n");
    let out = rampart()
        .current_dir(dir.path())
        .args([
            "policy",
            "jp",
            "query",
            "-u",
            "-i",
            "pod.yaml",
            "to_upper(spec.containers[1].name)",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "B\n");
    // a syntax error and a type mismatch: exit 2 with the reason
    for bad in ["spec.containers[", "add(`1`, '1Ki')"] {
        let out = rampart()
            .current_dir(dir.path())
            .args(["policy", "jp", "query", "-i", "pod.yaml", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error:"),
            "{bad}"
        );
    }
}
