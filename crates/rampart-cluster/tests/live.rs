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

fn dump(dir: &std::path::Path, objects: &[serde_json::Value]) -> std::path::PathBuf {
    let path = dir.join("dump.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&generate::list(objects)).unwrap(),
    )
    .unwrap();
    path
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
    let json = std::fs::read_to_string(dir.path().join("dump.json")).unwrap();
    std::fs::write(&yaml, format!("# kubectl get -A -o yaml\n{json}")).unwrap();
    let via_yaml = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![yaml],
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
