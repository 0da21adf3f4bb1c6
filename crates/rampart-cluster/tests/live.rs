//! `cluster scan` against an API server in the test, and on a dump of the same cluster.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use rampart_cluster::{Format, Input, Scan, fetch, generate};
use std::time::Duration;
use support::{Behaviour, Server};

fn options(server: &Server, dir: &std::path::Path) -> fetch::Options {
    fetch::Options {
        kubeconfig: Some(server.kubeconfig(dir)),
        page_size: 7,
        backoff: Duration::from_millis(20),
        ..fetch::Options::default()
    }
}

fn rendered(scan: &Scan, format: Format) -> String {
    let mut out = Vec::new();
    rampart_cluster::render(scan, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// A dump of `objects` in `dir/dump`: `dump.json` and each node's configz response in
/// `nodes/<name>/configz.json`.
fn dump(dir: &std::path::Path, objects: &[serde_json::Value]) -> std::path::PathBuf {
    let d = dir.join("dump");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("dump.json"),
        serde_json::to_string_pretty(&generate::list(objects)).unwrap(),
    )
    .unwrap();
    generate::write_configz(&d, objects).unwrap();
    d
}

fn no_secret_value(text: &str) {
    assert!(
        !text.contains(generate::SECRET_VALUE_B64),
        "a secret value reached the report"
    );
    assert!(
        !text.contains("supersecret-value"),
        "a secret value reached the report"
    );
}

#[test]
fn live_and_dump_give_identical_reports() {
    let objects = generate::cluster(5, 4);
    let server = Server::start(
        &objects,
        Behaviour {
            slow: Some(("nodes", Duration::from_millis(400))),
            flaky: Some("services"),
            ..Behaviour::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let live = rampart_cluster::scan(
        &Input::Live(options(&server, dir.path())),
        Default::default(),
        "test",
    )
    .unwrap();
    let offline = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![dump(dir.path(), &objects)],
            namespace: None,
        },
        Default::default(),
        "test",
    )
    .unwrap();
    // the same dump through the YAML loader (a comment first: not taken as JSON)
    let yaml = dir.path().join("dump.yaml");
    let json = std::fs::read_to_string(dir.path().join("dump/dump.json")).unwrap();
    std::fs::write(&yaml, format!("# kubectl get -A -o yaml\n{json}")).unwrap();
    let via_yaml = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![yaml, dir.path().join("dump/nodes")],
            namespace: None,
        },
        Default::default(),
        "test",
    )
    .unwrap();
    assert!(
        via_yaml.report.errors.is_empty(),
        "{:?}",
        via_yaml.report.errors
    );
    assert_eq!(
        rendered(&via_yaml, Format::Json),
        rendered(&offline, Format::Json)
    );
    assert_eq!(live.report.objects, objects.len(), "every object read");
    assert_eq!(live.context, "test-ctx");
    for format in [Format::Json, Format::Text, Format::Sarif, Format::Html] {
        let (a, b) = (rendered(&live, format), rendered(&offline, format));
        assert!(
            a == b,
            "{format:?} reports differ:\n--- live\n{a}\n--- dump\n{b}"
        );
        no_secret_value(&a);
    }
    let seen = server.seen.lock().unwrap();
    assert!(!seen.full_secret_list, "a full Secret list was requested");
    assert_eq!(
        seen.metadata_lists, 3,
        "Secrets listed as PartialObjectMetadataList, 20 by 7"
    );
    let pod_pages = seen
        .requests
        .iter()
        .filter(|r| r.starts_with("/api/v1/pods?"))
        .count();
    let pods = objects.iter().filter(|o| o["kind"] == "Pod").count();
    assert_eq!(
        pod_pages,
        pods.div_ceil(7),
        "pods paginated by 7: {:?}",
        seen.requests
    );
    assert!(seen.requests.iter().any(|r| r.contains("continue=tok-7")));
    let stats = live.fetch.unwrap();
    // the 500 is retried here; kube-rs retries the 429 itself
    assert!(stats.retries >= 1, "the 500 retried");
    let services = seen
        .requests
        .iter()
        .filter(|r| r.starts_with("/api/v1/services?"))
        .count();
    assert_eq!(services, 3 + 2, "a 500, a 429, then 3 pages");
    let checks: Vec<&str> = live
        .report
        .findings
        .iter()
        .map(|f| f.check.as_str())
        .collect();
    for want in [
        "admission-webhook-fails-open",
        "admission-webhook-exempts-namespaces",
        "admission-policy-fails-open",
        "admission-policy-binding-does-not-deny",
        "privileged-container",
        "latest-tag",
    ] {
        assert!(checks.contains(&want), "no {want} in {checks:?}");
    }
    // controller-owned pods and replica sets are not reported one by one
    assert!(!live.report.findings.iter().any(|f| {
        f.check == "privileged-container"
            && f.object
                .as_ref()
                .is_some_and(|o| o.kind == "Pod" || o.kind == "ReplicaSet")
    }));
    // most severe first
    let sev: Vec<_> = live.report.findings.iter().map(|f| f.severity).collect();
    assert!(sev.windows(2).all(|w| w[0] >= w[1]));
    assert!(live.report.not_readable.is_empty());
    // every node's kubelet configuration read through the proxy and judged; node-0's is lax
    for n in 0..5 {
        assert!(
            seen.requests
                .contains(&format!("/api/v1/nodes/node-{n}/proxy/configz")),
            "{:?}",
            seen.requests
        );
    }
    let on_nodes: Vec<(&str, &str)> = live
        .report
        .findings
        .iter()
        .filter(|f| f.check.starts_with("kubelet-"))
        .map(|f| {
            let o = f.object.as_ref().unwrap();
            assert_eq!(o.kind, "Node");
            (f.check.as_str(), o.name.as_str())
        })
        .collect();
    for want in [
        ("kubelet-anonymous-auth", "node-0"),
        ("kubelet-authorization-always-allow", "node-0"),
        ("kubelet-read-only-port", "node-0"),
    ] {
        assert!(on_nodes.contains(&want), "no {want:?} in {on_nodes:?}");
    }
    assert!(
        !on_nodes
            .iter()
            .any(|(c, n)| *n == "node-1" && *c == "kubelet-anonymous-auth"),
        "{on_nodes:?}"
    );
    assert!(live.report.notes.is_empty(), "{:?}", live.report.notes);
}

#[test]
fn a_node_proxy_the_credentials_may_not_use_is_a_note() {
    let objects = generate::cluster(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &objects,
        Behaviour {
            configz_forbidden: true,
            ..Behaviour::default()
        },
    );
    let scan = rampart_cluster::scan(
        &Input::Live(options(&server, dir.path())),
        Default::default(),
        "test",
    )
    .unwrap();
    assert_eq!(
        scan.report.notes,
        [
            "kubelet configuration not checked for 5 nodes (node-0, node-1, node-2, node-3, node-4): \
          403 Forbidden: nodes \"node-0\" is forbidden: User \"system:serviceaccount:audit:rampart\" cannot get resource \"nodes/proxy\" in API group \"\" at the cluster scope; \
          reading it needs {apiGroups: [\"\"], resources: [\"nodes/proxy\"], verbs: [\"get\"]}"
        ]
    );
    // one node asked: the others would answer the same
    let asked = server
        .seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.ends_with("/proxy/configz"))
        .count();
    assert_eq!(asked, 1);
    assert!(
        !scan
            .report
            .findings
            .iter()
            .any(|f| f.check.starts_with("kubelet-"))
    );
    let text = rendered(&scan, Format::Text);
    assert!(
        text.contains("note: kubelet configuration not checked for 5 nodes"),
        "{text}"
    );
    let html = rendered(&scan, Format::Html);
    assert!(html.contains("<section id=\"notes\">") && html.contains("nodes/proxy"));
    // a JSON report keeps its notes, and reads back as a baseline
    let json = rendered(&scan, Format::Json);
    let back: rampart_cluster::report::ClusterReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.notes, scan.report.notes);

    // one kubelet down: its node is named, the others are checked
    let server = Server::start(
        &objects,
        Behaviour {
            kubelet_down: Some("node-3"),
            ..Behaviour::default()
        },
    );
    let scan = rampart_cluster::scan(
        &Input::Live(options(&server, dir.path())),
        Default::default(),
        "test",
    )
    .unwrap();
    assert_eq!(scan.report.notes.len(), 1, "{:?}", scan.report.notes);
    assert!(
        scan.report.notes[0].starts_with(
            "kubelet configuration not checked for 1 node (node-3): the kubelet could not be reached: "
        ) && scan.report.notes[0].contains("connection refused"),
        "{:?}",
        scan.report.notes
    );
    assert!(
        scan.report
            .findings
            .iter()
            .any(|f| f.check == "kubelet-anonymous-auth")
    );

    // a dump without configz responses says so too
    let bare = dir.path().join("bare.json");
    std::fs::write(
        &bare,
        serde_json::to_string(&generate::list(&objects)).unwrap(),
    )
    .unwrap();
    let offline = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![bare],
            namespace: None,
        },
        Default::default(),
        "test",
    )
    .unwrap();
    assert_eq!(offline.report.notes.len(), 1);
    assert!(
        offline.report.notes[0]
            .starts_with("kubelet configuration not checked for 5 nodes (node-0, node-1, node-2, node-3, node-4): the dump holds no nodes/<name>/configz.json"),
        "{:?}",
        offline.report.notes
    );
}

#[test]
fn an_expired_continue_token_restarts_the_list() {
    let objects = generate::cluster(3, 3);
    let pods = objects.iter().filter(|o| o["kind"] == "Pod").count();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &objects,
        Behaviour {
            expire: Some(("pods", 1)),
            ..Behaviour::default()
        },
    );
    let live = rampart_cluster::scan(
        &Input::Live(options(&server, dir.path())),
        Default::default(),
        "test",
    )
    .unwrap();
    let offline = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![dump(dir.path(), &objects)],
            namespace: None,
        },
        Default::default(),
        "test",
    )
    .unwrap();
    assert_eq!(live.report.objects, objects.len());
    assert_eq!(
        rendered(&live, Format::Json),
        rendered(&offline, Format::Json)
    );
    let first_pages = server
        .seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.starts_with("/api/v1/pods?") && !r.contains("continue="))
        .count();
    assert_eq!(first_pages, 2, "the pod list started over once");

    // expired on every restart too: after two restarts, a note, and the rest goes on
    let server = Server::start(
        &objects,
        Behaviour {
            expire: Some(("pods", 10)),
            ..Behaviour::default()
        },
    );
    let live = rampart_cluster::scan(
        &Input::Live(options(&server, dir.path())),
        Default::default(),
        "test",
    )
    .unwrap();
    assert_eq!(live.report.objects, objects.len() - pods);
    assert_eq!(live.report.notes.len(), 1, "{:?}", live.report.notes);
    assert!(
        live.report.notes[0].starts_with(
            "Pod (core) not read: its list was restarted 2 times after its continue token expired and failed again (410 Expired: "
        ),
        "{:?}",
        live.report.notes
    );
    let first_pages = server
        .seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.starts_with("/api/v1/pods?") && !r.contains("continue="))
        .count();
    assert_eq!(first_pages, 3);
}

#[test]
fn a_forbidden_kind_is_reported_and_the_rest_goes_on() {
    let objects = generate::cluster(2, 2);
    let server = Server::start(
        &objects,
        Behaviour {
            forbidden: ["clusterrolebindings", "validatingadmissionpolicies"]
                .into_iter()
                .collect(),
            ..Behaviour::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let scan = rampart_cluster::scan(
        &Input::Live(options(&server, dir.path())),
        Default::default(),
        "test",
    )
    .unwrap();
    let nr: Vec<(&str, &str)> = scan
        .report
        .not_readable
        .iter()
        .map(|n| (n.kind.as_str(), n.rbac.as_str()))
        .collect();
    assert_eq!(
        nr,
        [
            (
                "ValidatingAdmissionPolicy",
                "{apiGroups: [\"admissionregistration.k8s.io\"], resources: [\"validatingadmissionpolicies\"], verbs: [\"list\"]}"
            ),
            (
                "ClusterRoleBinding",
                "{apiGroups: [\"rbac.authorization.k8s.io\"], resources: [\"clusterrolebindings\"], verbs: [\"list\"]}"
            ),
        ]
    );
    assert!(
        scan.report.not_readable[0]
            .reason
            .starts_with("403 Forbidden"),
        "{:?}",
        scan.report.not_readable
    );
    assert_eq!(scan.report.objects, objects.len() - 2);
    assert!(
        scan.report
            .findings
            .iter()
            .any(|f| f.check == "admission-webhook-fails-open")
    );
    let text = rendered(&scan, Format::Text);
    assert!(
        text.contains("Not readable with these credentials"),
        "{text}"
    );
    assert!(
        text.contains("needs {apiGroups: [\"rbac.authorization.k8s.io\"]"),
        "{text}"
    );
}

#[test]
fn a_namespace_limits_both_paths_alike() {
    let objects = generate::cluster(3, 2);
    let server = Server::start(&objects, Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&server, dir.path());
    opts.namespace = Some("team-001".into());
    let live = rampart_cluster::scan(&Input::Live(opts), Default::default(), "test").unwrap();
    let offline = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![dump(dir.path(), &objects)],
            namespace: Some("team-001".into()),
        },
        Default::default(),
        "test",
    )
    .unwrap();
    assert_eq!(
        rendered(&live, Format::Json),
        rendered(&offline, Format::Json)
    );
    assert!(live.report.findings.iter().all(|f| {
        f.object
            .as_ref()
            .and_then(|o| o.namespace.as_deref())
            .is_none_or(|n| n == "team-001")
    }));
    let seen = server.seen.lock().unwrap();
    assert!(
        seen.requests
            .iter()
            .any(|r| r.starts_with("/api/v1/namespaces/team-001/pods?"))
    );
    assert!(!seen.requests.iter().any(|r| r.starts_with("/api/v1/pods")));
}

#[test]
fn a_directory_of_manifests_reads_as_the_dump() {
    let objects = generate::cluster(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for (i, o) in objects.iter().enumerate() {
        std::fs::write(
            manifests.join(format!("{i:04}.yaml")),
            serde_json::to_string(o).unwrap(),
        )
        .unwrap();
    }
    generate::write_configz(&manifests, &objects).unwrap();
    let a = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![manifests],
            namespace: None,
        },
        Default::default(),
        "t",
    )
    .unwrap();
    let b = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![dump(dir.path(), &objects)],
            namespace: None,
        },
        Default::default(),
        "t",
    )
    .unwrap();
    assert_eq!(rendered(&a, Format::Json), rendered(&b, Format::Json));
}

#[test]
fn the_baseline_marks_new_and_fixed_findings() {
    let dir = tempfile::tempdir().unwrap();
    let before = generate::cluster(2, 2);
    let mut after = before.clone();
    // fix the fail-open webhook, add a privileged pod
    for o in &mut after {
        if o["kind"] == "ValidatingWebhookConfiguration" {
            o["webhooks"][0]["failurePolicy"] = serde_json::json!("Fail");
        }
    }
    after.push(serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "team-000"},
        "spec": {"containers": [{"name": "sh", "image": "busybox:1.36", "securityContext": {"privileged": true}}]}}));
    let scan = |objs: &[serde_json::Value], name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(&generate::list(objs)).unwrap()).unwrap();
        rampart_cluster::scan(
            &Input::Dump {
                paths: vec![p],
                namespace: None,
            },
            Default::default(),
            "t",
        )
        .unwrap()
    };
    let old = scan(&before, "before.json");
    let base = dir.path().join("base.json");
    std::fs::write(&base, rendered(&old, Format::Json)).unwrap();
    let mut new = scan(&after, "after.json");
    new.report
        .compare(&rampart_cluster::report::ClusterReport::read(&base).unwrap());
    let fresh: Vec<_> = new
        .report
        .findings
        .iter()
        .filter(|f| f.status == Some(rampart_cluster::report::Status::New))
        .collect();
    assert!(
        !fresh.is_empty()
            && fresh
                .iter()
                .all(|f| f.object.as_ref().unwrap().name == "debug"),
        "{fresh:#?}"
    );
    let fixed: Vec<&str> = new.report.fixed.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(fixed, ["admission-webhook-fails-open"]);
    let text = rendered(&new, Format::Text);
    assert!(
        text.contains("since the baseline:") && text.contains("[new]"),
        "{text}"
    );
}

#[test]
fn tls_with_the_kubeconfig_ca() {
    let objects = generate::cluster(2, 2);
    let server = Server::start_tls(&objects, Behaviour::default());
    assert!(server.url.starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let live = rampart_cluster::scan(
        &Input::Live(options(&server, dir.path())),
        Default::default(),
        "test",
    )
    .unwrap();
    let offline = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![dump(dir.path(), &objects)],
            namespace: None,
        },
        Default::default(),
        "test",
    )
    .unwrap();
    assert_eq!(live.report.objects, objects.len());
    assert_eq!(
        rendered(&live, Format::Json),
        rendered(&offline, Format::Json)
    );
    // a kubeconfig without the CA: the server's certificate is not trusted
    let other = tempfile::tempdir().unwrap();
    let opts = fetch::Options {
        kubeconfig: Some(support::kubeconfig_for(&server.url, None, other.path())),
        attempts: 1,
        ..fetch::Options::default()
    };
    let err = rampart_cluster::scan(&Input::Live(opts), Default::default(), "test").unwrap_err();
    assert!(err.to_string().starts_with("API server"), "{err}");
}

#[test]
fn policies_read_the_kinds_they_match_and_note_those_not_served() {
    use serde_json::json;
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": "apps"}, "data": {"a": "b"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "owned", "namespace": "apps", "labels": {"team": "x"}}}),
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": "web-tls", "namespace": "apps"},
               "spec": {"duration": "8760h", "secretName": "web-tls"}}),
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
               "metadata": {"name": "letsencrypt", "namespace": "apps"}, "spec": {}}),
        json!({"apiVersion": "v1", "kind": "LimitRange",
               "metadata": {"name": "huge", "namespace": "apps"},
               "spec": {"limits": [{"type": "Container", "max": {"memory": "64Gi"}}]}}),
    ];
    let server = Server::start(&objects, Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policies.yaml"),
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "the team label is required"
      pattern: {metadata: {labels: {team: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: short-certificates}
spec:
  rules:
  - name: duration
    match: {any: [{resources: {kinds: [Certificate]}}]}
    validate:
      message: "certificates last at most 90 days"
      pattern: {spec: {duration: "<=2160h"}}
  - name: widgets
    match: {any: [{resources: {kinds: [example.com/v1/Widget]}}]}
    validate:
      message: "widgets are blue"
      pattern: {spec: {colour: blue}}
---
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8srequiredowner}
spec:
  crd: {spec: {names: {kind: K8sRequiredOwner}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8srequiredowner
      violation[{"msg": "an owner label is required"}] {
        not input.review.object.metadata.labels.owner
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredOwner
metadata: {name: owners}
spec:
  match:
    kinds:
    - {apiGroups: [cert-manager.io], kinds: [Issuer]}
    - {apiGroups: [example.com], kinds: [Gadget]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: small-limits}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [limitranges]}
    - {apiGroups: ["*"], apiVersions: ["*"], operations: [CREATE], resources: [widgets]}
  validations:
  - expression: "object.kind != 'LimitRange' || object.metadata.name != 'huge'"
    message: "no huge limit ranges"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: small-limits}
spec: {policyName: small-limits, validationActions: [Deny]}
"#,
    )
    .unwrap();
    let policies = rampart_engine::load_policies(&[dir.path().join("policies.yaml")]).unwrap();
    assert!(policies.errors.is_empty(), "{:?}", policies.errors);
    let scan = rampart_cluster::scan_with(
        &Input::Live(options(&server, dir.path())),
        rampart_rules::Config::default(),
        Some(&policies),
        "test",
    )
    .unwrap();
    let mut found: Vec<(String, String)> = scan
        .analysis
        .findings
        .iter()
        .filter(|f| f.check == "kyverno-policy-violation")
        .map(|f| {
            let o = f.object.as_deref().unwrap();
            (o.kind.clone(), o.name.clone())
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("Certificate".to_string(), "web-tls".to_string()),
            ("ConfigMap".to_string(), "settings".to_string()),
        ]
    );
    let seen = server.seen.lock().unwrap();
    let requested = |prefix: &str| {
        assert!(
            seen.requests.iter().any(|r| r.starts_with(prefix)),
            "{prefix}: {:?}",
            seen.requests
        );
    };
    let reported = |kind: &str, message: &str| {
        assert!(
            scan.analysis.findings.iter().any(|f| {
                f.object.as_deref().is_some_and(|o| o.kind == kind) && f.message.contains(message)
            }),
            "{kind}: {:?}",
            scan.analysis.findings
        );
    };
    let noted = |text: &str| {
        assert!(
            scan.report.notes.iter().any(|n| n.contains(text)),
            "{text}: {:?}",
            scan.report.notes
        );
    };
    // the ConfigMaps from the core group, the Certificates found among every group served
    requested("/api/v1/configmaps");
    requested("/apis/cert-manager.io/v1/certificates");
    // the Gatekeeper constraint's Issuers too, audited
    requested("/apis/cert-manager.io/v1/issuers");
    reported("Issuer", "an owner label is required");
    noted("K8sRequiredOwner/owners matches `example.com/*/Gadget`");
    // the ValidatingAdmissionPolicy's LimitRanges too, by their plural
    requested("/api/v1/limitranges");
    reported("LimitRange", "no huge limit ranges");
    noted("small-limits matches `*/widgets`");
    // a kind the server does not serve is named, not skipped silently
    noted("short-certificates/widgets matches `example.com/v1/Widget`");
}

/// The cluster's PolicyExceptions apply in the background scan, as in Kyverno: read live
/// beside the kinds the policies match.
#[test]
fn cluster_policy_exceptions_apply_in_the_background_scan() {
    use serde_json::json;
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": "apps"}, "data": {"a": "b"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "legacy", "namespace": "apps"}, "data": {"a": "b"}}),
        json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
               "metadata": {"name": "legacy-config", "namespace": "kyverno"},
               "spec": {"exceptions": [{"policyName": "require-team", "ruleNames": ["team-label"]}],
                        "match": {"any": [{"resources": {"kinds": ["ConfigMap"], "names": ["legacy"]}}]}}}),
    ];
    let server = Server::start(&objects, Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policies.yaml"),
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "the team label is required"
      pattern: {metadata: {labels: {team: "?*"}}}
"#,
    )
    .unwrap();
    let policies = rampart_engine::load_policies(&[dir.path().join("policies.yaml")]).unwrap();
    let scan = rampart_cluster::scan_with(
        &Input::Live(options(&server, dir.path())),
        rampart_rules::Config::default(),
        Some(&policies),
        "test",
    )
    .unwrap();
    let found: Vec<String> = scan
        .analysis
        .findings
        .iter()
        .filter(|f| f.check == "kyverno-policy-violation")
        .map(|f| f.object.as_deref().unwrap().name.clone())
        .collect();
    assert_eq!(found, ["settings"]);
    let seen = server.seen.lock().unwrap();
    assert!(
        seen.requests
            .iter()
            .any(|r| r.starts_with("/apis/kyverno.io/v2/policyexceptions")),
        "{:?}",
        seen.requests
    );
}
