//! The deployment is secure and the plain manifests agree with the Helm chart on what matters.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use rampart_manifest::Object;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifests() -> Vec<Object> {
    let loaded = rampart_manifest::load_paths(&[repo().join("deploy/manifests")]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert!(
        loaded.objects.len() >= 10,
        "found {} objects",
        loaded.objects.len()
    );
    loaded.objects
}

fn one<'a>(objs: &'a [Object], kind: &str) -> &'a Value {
    let found: Vec<_> = objs.iter().filter(|o| o.kind() == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}");
    &found[0].value
}

fn values() -> Value {
    let text = std::fs::read_to_string(repo().join("deploy/helm/rampart/values.yaml")).unwrap();
    let (docs, errs) = rampart_manifest::parse_yaml("values.yaml", &text);
    assert!(errs.is_empty(), "{errs:?}");
    docs.into_iter().next().unwrap().value
}

fn template(name: &str) -> String {
    std::fs::read_to_string(repo().join("deploy/helm/rampart/templates").join(name)).unwrap()
}

#[test]
fn deployment_is_hardened() {
    let objs = manifests();
    let d = one(&objs, "Deployment");
    assert!(d["spec"]["replicas"].as_u64().unwrap() >= 2);
    let pod = &d["spec"]["template"]["spec"];
    assert!(
        pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"]
            == "kubernetes.io/hostname"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_ne!(sc["runAsUser"], 0);
    for r in ["cpu", "memory"] {
        assert!(c["resources"]["limits"][r].is_string(), "limit {r}");
        assert!(c["resources"]["requests"][r].is_string(), "request {r}");
    }
    let pdb = one(&objs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["selector"], d["spec"]["selector"]);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    // Restricted PSS, by our own evaluator.
    let v = rampart_pss::evaluate_object(
        rampart_pss::Policy::new(rampart_pss::Level::Restricted, rampart_pss::Version::Latest),
        d,
    )
    .unwrap();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rbac_is_only_namespace_reads() {
    let objs = manifests();
    let role = one(&objs, "ClusterRole");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}])
    );
    assert!(
        objs.iter()
            .all(|o| o.kind() != "Role" && o.kind() != "RoleBinding")
    );
    let binding = one(&objs, "ClusterRoleBinding");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "rampart", "namespace": "rampart-system"}])
    );
    assert!(template("rbac.yaml").contains("verbs: [get, list, watch]"));
}

#[test]
fn webhook_configuration_is_safe() {
    let objs = manifests();
    let w = &one(&objs, "ValidatingWebhookConfiguration")["webhooks"][0];
    assert_eq!(w["failurePolicy"], "Fail");
    assert!(
        w["timeoutSeconds"]
            .as_u64()
            .is_some_and(|t| (1..=10).contains(&t))
    );
    assert_eq!(w["sideEffects"], "None");
    assert_eq!(w["clientConfig"]["service"]["path"], "/validate");
    let expr = &w["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(expr["key"], "kubernetes.io/metadata.name");
    assert_eq!(expr["operator"], "NotIn");
    let excluded = expr["values"].as_array().unwrap();
    assert!(
        excluded.contains(&json!("rampart-system")) && excluded.contains(&json!("kube-system"))
    );
}

#[test]
fn manifests_agree_with_the_chart() {
    let objs = manifests();
    let v = values();
    let d = one(&objs, "Deployment");
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(d["spec"]["replicas"], v["replicas"]);
    assert_eq!(pod["securityContext"]["runAsUser"], v["runAsUser"]);
    assert_eq!(c["securityContext"]["runAsGroup"], v["runAsGroup"]);
    assert_eq!(c["resources"], v["resources"]);
    let digest = v["image"]["digest"].as_str().unwrap();
    let image = format!(
        "{}:{}{}",
        v["image"]["repository"].as_str().unwrap(),
        v["image"]["tag"].as_str().unwrap(),
        if digest.is_empty() {
            String::new()
        } else {
            format!("@{digest}")
        }
    );
    assert_eq!(c["image"], image.as_str());
    let w = &one(&objs, "ValidatingWebhookConfiguration")["webhooks"][0];
    assert_eq!(w["failurePolicy"], v["webhook"]["failurePolicy"]);
    assert_eq!(w["timeoutSeconds"], v["webhook"]["timeoutSeconds"]);
    assert_eq!(
        one(&objs, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        v["podDisruptionBudget"]["maxUnavailable"]
    );
    // The server config shipped in the ConfigMap is the chart's, and it parses.
    let cm = one(&objs, "ConfigMap");
    let text = cm["data"]["rampart.yaml"].as_str().unwrap();
    let (docs, _) = rampart_manifest::parse_yaml("cm", text);
    assert_eq!(docs[0].value, v["config"]);
    rampart_server::Config::parse("rampart.yaml", text).unwrap();
    // The security-relevant literals of the templates are the manifests'.
    let dep = template("deployment.yaml");
    for line in [
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        "drop: [ALL]",
        "type: RuntimeDefault",
        "runAsNonRoot: true",
        "automountServiceAccountToken: false",
        "topologyKey: kubernetes.io/hostname",
    ] {
        assert!(dep.contains(line), "deployment template lacks {line}");
    }
    let hook = template("webhook.yaml");
    assert!(hook.contains("operator: NotIn") && hook.contains("- {{ .Release.Namespace }}"));
    assert!(
        v["webhook"]["excludedNamespaces"]
            .as_array()
            .unwrap()
            .contains(&json!("kube-system"))
    );
}

#[test]
fn check_catalog_finds_nothing_in_the_manifests() {
    let catalog = rampart_rules::Catalog::default();
    let mut found = Vec::new();
    for o in manifests() {
        for f in catalog.check_object(&o) {
            if f.severity >= rampart_core::Severity::Low {
                found.push(format!(
                    "{} {}: {} {}",
                    o.kind(),
                    o.name(),
                    f.check,
                    f.message
                ));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

/// The opt-in grant for pods' pull secrets: `get` on Secrets and nothing else, bound to the
/// webhook's ServiceAccount as the manifests name it.
#[test]
fn the_pull_secret_grant_is_get_on_secrets_only() {
    let loaded = rampart_manifest::load_paths(&[repo().join("deploy/image-pull-secrets")]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let objs = loaded.objects;
    assert_eq!(objs.len(), 2);
    let role = one(&objs, "ClusterRole");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])
    );
    let binding = one(&objs, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let sa = one(&manifests(), "ServiceAccount").clone();
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                "namespace": sa["metadata"]["namespace"]}])
    );
}
