//! What `rampart cluster scan` runs on a cluster's objects besides the per-object checks: the
//! analyses across objects (the same ones `rampart scan` runs) and the admission posture of the
//! cluster (security webhooks that fail open, namespaces they exempt, admission policies that do
//! not deny).
//!
//! ```
//! let v = serde_json::json!({
//!     "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
//!     "metadata": {"name": "gatekeeper-validating-webhook-configuration"},
//!     "webhooks": [{"name": "validation.gatekeeper.sh", "failurePolicy": "Ignore",
//!                   "clientConfig": {"service": {"namespace": "gatekeeper-system", "name": "gatekeeper-webhook-service"}},
//!                   "rules": [{"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]}]
//! });
//! let o = rampart_manifest::Object::from_value(v, "cluster://webhooks");
//! let f = rampart_engine::cluster::admission_findings(&[o]);
//! assert_eq!(f[0].check, "admission-webhook-fails-open");
//! ```

use rampart_core::{CheckInfo, Finding, Origin, Severity};
use rampart_manifest::{Object, string_list};
use serde_json::{Map, Value};

/// A security webhook (a policy engine's, or one that validates Pods) whose `failurePolicy` is
/// `Ignore`.
pub const WEBHOOK_FAILS_OPEN: &str = "admission-webhook-fails-open";
/// A security webhook whose `namespaceSelector` leaves out namespaces of the cluster.
pub const WEBHOOK_EXEMPTS_NAMESPACES: &str = "admission-webhook-exempts-namespaces";
/// A ValidatingAdmissionPolicy whose `failurePolicy` is `Ignore`.
pub const POLICY_FAILS_OPEN: &str = "admission-policy-fails-open";
/// A ValidatingAdmissionPolicyBinding that only warns or audits.
pub const BINDING_DOES_NOT_DENY: &str = "admission-policy-binding-does-not-deny";

/// Every slug [`admission_findings`] can report.
pub fn checks() -> Vec<CheckInfo> {
    let k8s =
        "https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/";
    let vap =
        "https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/";
    vec![
        CheckInfo::new(
            WEBHOOK_FAILS_OPEN,
            Severity::High,
            Origin::Cluster,
            "A security admission webhook fails open (`failurePolicy: Ignore`)",
        )
        .doc(
            "## What it does\nFlags validating and mutating webhooks of policy engines (Gatekeeper, Kyverno, \
             Kubewarden, rampart, …) and webhooks that validate Pods whose `failurePolicy` is `Ignore` \
             (the default in `admissionregistration.k8s.io/v1beta1`).\n\n\
             ## Why is this bad?\nWhen the webhook is down, slow or unreachable, the API server admits every \
             request unchecked: an attacker who can disrupt the webhook's pods or network path switches the \
             policy off.\n\n## Remediation\nSet `failurePolicy: Fail`, run the webhook with several replicas \
             and a PodDisruptionBudget, and exempt only the webhook's own namespace.\n\n\
             ## References\n- <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#failure-policy>\n",
        )
        .references([k8s]),
        CheckInfo::new(
            WEBHOOK_EXEMPTS_NAMESPACES,
            Severity::Medium,
            Origin::Cluster,
            "A security admission webhook exempts namespaces",
        )
        .doc(
            "## What it does\nEvaluates the `namespaceSelector` of each security webhook against the \
             cluster's Namespaces and lists the namespaces it does not see, other than `kube-*` and the \
             webhook's own.\n\n## Why is this bad?\nA workload created in an exempt namespace is never \
             checked; whoever can create Pods there, or label a namespace to match the exemption, bypasses \
             the policy.\n\n## Remediation\nExempt only the webhook's own namespace (by \
             `kubernetes.io/metadata.name`, which cannot be forged), and restrict who may label \
             namespaces.\n\n## References\n- <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#matching-requests-namespaceselector>\n",
        )
        .references([k8s]),
        CheckInfo::new(
            POLICY_FAILS_OPEN,
            Severity::High,
            Origin::Cluster,
            "A ValidatingAdmissionPolicy fails open (`failurePolicy: Ignore`)",
        )
        .doc(
            "## What it does\nFlags ValidatingAdmissionPolicies with `failurePolicy: Ignore`.\n\n\
             ## Why is this bad?\nA misconfiguration or an expression error (a missing field, a type \
             error) admits the request instead of denying it.\n\n## Remediation\nSet \
             `failurePolicy: Fail` (the default) and test the policy's expressions.\n\n\
             ## References\n- <https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/#failure-policy>\n",
        )
        .references([vap]),
        CheckInfo::new(
            BINDING_DOES_NOT_DENY,
            Severity::Low,
            Origin::Cluster,
            "A ValidatingAdmissionPolicyBinding only warns or audits",
        )
        .doc(
            "## What it does\nFlags ValidatingAdmissionPolicyBindings whose `validationActions` do not \
             include `Deny`.\n\n## Why is this bad?\nViolations are reported but admitted: the policy is \
             an observation, not a control. This is right while rolling a policy out and wrong once it \
             is meant to hold.\n\n## Remediation\nAdd `Deny` to `validationActions` once the warnings \
             are gone.\n\n## References\n- <https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/#validation-actions>\n",
        )
        .references([vap]),
    ]
}

/// Words in a webhook's name, its configuration's name or its service that mark a policy engine.
const SECURITY_WORDS: [&str; 16] = [
    "gatekeeper",
    "kyverno",
    "kubewarden",
    "rampart",
    "opa",
    "policy",
    "polaris",
    "pod-security",
    "jspolicy",
    "security",
    "sigstore",
    "cosign",
    "connaisseur",
    "ratify",
    "neuvector",
    "kubearmor",
];

/// The admission posture: security webhooks that fail open or exempt namespaces, policies that
/// fail open, bindings that do not deny.
pub fn admission_findings(objects: &[Object]) -> Vec<Finding> {
    let namespaces: Vec<(&str, Map<String, Value>)> = objects
        .iter()
        .filter(|o| o.kind() == "Namespace" && o.api_version() == "v1")
        .map(|o| {
            let mut labels = o.labels().cloned().unwrap_or_default();
            labels
                .entry("kubernetes.io/metadata.name")
                .or_insert_with(|| Value::String(o.name().to_string()));
            (o.name(), labels)
        })
        .collect();
    let mut out = Vec::new();
    for o in objects {
        if o.group() != "admissionregistration.k8s.io" {
            continue;
        }
        match o.kind() {
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
                webhooks(o, &namespaces, &mut out);
            }
            "ValidatingAdmissionPolicy"
                if o.value
                    .pointer("/spec/failurePolicy")
                    .and_then(Value::as_str)
                    == Some("Ignore") =>
            {
                out.push(
                    Finding::new(
                        POLICY_FAILS_OPEN,
                        Severity::High,
                        format!(
                            "ValidatingAdmissionPolicy `{}` has `failurePolicy: Ignore`: an error in it admits the request",
                            o.name()
                        ),
                    )
                    .with_object(o.object_ref())
                    .with_location(o.location("/spec/failurePolicy"))
                    .with_remediation("set `failurePolicy: Fail`"),
                );
            }
            "ValidatingAdmissionPolicyBinding" => {
                let actions = string_list(o.value.pointer("/spec/validationActions"));
                if !actions.is_empty() && !actions.iter().any(|a| a == "Deny") {
                    out.push(
                        Finding::new(
                            BINDING_DOES_NOT_DENY,
                            Severity::Low,
                            format!(
                                "ValidatingAdmissionPolicyBinding `{}` has validationActions [{}] without Deny: violations are admitted",
                                o.name(),
                                actions.join(", ")
                            ),
                        )
                        .with_object(o.object_ref())
                        .with_location(o.location("/spec/validationActions"))
                        .with_remediation("add `Deny` to `validationActions`"),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

fn webhooks(o: &Object, namespaces: &[(&str, Map<String, Value>)], out: &mut Vec<Finding>) {
    let Some(list) = o.value.get("webhooks").and_then(Value::as_array) else {
        return;
    };
    let v1beta1 = o.api_version().ends_with("/v1beta1");
    for (i, w) in list.iter().enumerate() {
        let name = w.get("name").and_then(Value::as_str).unwrap_or("");
        let service = w.pointer("/clientConfig/service");
        let svc_ns = service
            .and_then(|s| s.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let svc_name = service
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let url = w
            .pointer("/clientConfig/url")
            .and_then(Value::as_str)
            .unwrap_or("");
        let haystack = format!("{} {name} {svc_ns} {svc_name} {url}", o.name()).to_lowercase();
        let engine = SECURITY_WORDS.iter().any(|k| haystack.contains(k));
        let validates_pods = o.kind() == "ValidatingWebhookConfiguration"
            && w.get("rules")
                .and_then(Value::as_array)
                .is_some_and(|rules| {
                    rules.iter().any(|r| {
                        string_list(r.get("resources"))
                            .iter()
                            .any(|res| res == "*" || res == "pods" || res == "*/*")
                    })
                });
        if !engine && !validates_pods {
            continue;
        }
        let policy = w.get("failurePolicy").and_then(Value::as_str);
        let ignore = policy == Some("Ignore") || (policy.is_none() && v1beta1);
        if ignore {
            let pointer = if policy.is_some() {
                format!("/webhooks/{i}/failurePolicy")
            } else {
                format!("/webhooks/{i}")
            };
            out.push(
                Finding::new(
                    WEBHOOK_FAILS_OPEN,
                    Severity::High,
                    format!(
                        "{} `{}` webhook `{name}` has `failurePolicy: Ignore`: while it is unreachable every request is admitted unchecked",
                        o.kind(),
                        o.name()
                    ),
                )
                .with_object(o.object_ref())
                .with_location(o.location(&pointer))
                .with_remediation("set `failurePolicy: Fail` and run the webhook highly available"),
            );
        }
        let Some(selector) = w.get("namespaceSelector").and_then(Value::as_object) else {
            continue;
        };
        if selector.is_empty() {
            continue;
        }
        let exempt: Vec<&str> = namespaces
            .iter()
            .filter(|(ns, labels)| {
                !ns.starts_with("kube-") && *ns != svc_ns && !selector_matches(selector, labels)
            })
            .map(|(ns, _)| *ns)
            .collect();
        if exempt.is_empty() {
            continue;
        }
        let shown: Vec<&str> = exempt.iter().take(10).copied().collect();
        let more = if exempt.len() > shown.len() {
            format!(" and {} more", exempt.len() - shown.len())
        } else {
            String::new()
        };
        out.push(
            Finding::new(
                WEBHOOK_EXEMPTS_NAMESPACES,
                Severity::Medium,
                format!(
                    "{} `{}` webhook `{name}` does not see namespace{} {}{more}",
                    o.kind(),
                    o.name(),
                    if exempt.len() == 1 { "" } else { "s" },
                    shown.join(", ")
                ),
            )
            .with_object(o.object_ref())
            .with_location(o.location(&format!("/webhooks/{i}/namespaceSelector")))
            .with_remediation(
                "exempt only the webhook's own namespace, by `kubernetes.io/metadata.name`",
            ),
        );
    }
}

/// Whether a `LabelSelector` (`matchLabels`, `matchExpressions`) matches `labels`; a selector
/// it cannot understand (an unknown operator) matches nothing.
fn selector_matches(selector: &Map<String, Value>, labels: &Map<String, Value>) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(ml) = selector.get("matchLabels").and_then(Value::as_object)
        && !ml.iter().all(|(k, v)| label(k) == v.as_str())
    {
        return false;
    }
    let exprs = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    exprs.iter().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values = string_list(e.get("values"));
        let have = label(key);
        match e.get("operator").and_then(Value::as_str) {
            Some("In") => have.is_some_and(|h| values.iter().any(|v| v == h)),
            Some("NotIn") => have.is_none_or(|h| values.iter().all(|v| v != h)),
            Some("Exists") => have.is_some(),
            Some("DoesNotExist") => have.is_none(),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        Object::from_value(v, "t.yaml")
    }

    fn ns(name: &str, labels: Value) -> Object {
        obj(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}),
        )
    }

    #[test]
    fn webhooks_fail_open_and_exempt_namespaces() {
        let hook = obj(json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "kyverno-resource-validating-webhook-cfg"},
            "webhooks": [
                {"name": "validate.kyverno.svc", "failurePolicy": "Ignore",
                 "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc"}},
                 "namespaceSelector": {"matchExpressions": [{"key": "policy", "operator": "NotIn", "values": ["off"]}]}},
                {"name": "ok.kyverno.svc", "failurePolicy": "Fail",
                 "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc"}}}
            ]
        }));
        let unrelated = obj(json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "cert-manager-webhook"},
            "webhooks": [{"name": "webhook.cert-manager.io", "failurePolicy": "Ignore",
                          "rules": [{"resources": ["certificates"]}]}]
        }));
        let objects = vec![
            hook,
            unrelated,
            ns("shop", json!({"policy": "off"})),
            ns("web", json!({})),
            ns("kyverno", json!({"policy": "off"})),
            ns("kube-system", json!({"policy": "off"})),
        ];
        let f = admission_findings(&objects);
        let slugs: Vec<&str> = f.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(slugs, [WEBHOOK_FAILS_OPEN, WEBHOOK_EXEMPTS_NAMESPACES]);
        assert!(
            f[1].message.ends_with("does not see namespace shop"),
            "{}",
            f[1].message
        );
        assert_eq!(
            f[0].location.as_ref().unwrap().pointer,
            "/webhooks/0/failurePolicy"
        );
    }

    #[test]
    fn policies_and_bindings() {
        let objects = vec![
            obj(
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                       "metadata": {"name": "a"}, "spec": {"failurePolicy": "Ignore"}}),
            ),
            obj(
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                       "metadata": {"name": "b"}, "spec": {}}),
            ),
            obj(
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
                       "metadata": {"name": "c"}, "spec": {"validationActions": ["Warn", "Audit"]}}),
            ),
            obj(
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
                       "metadata": {"name": "d"}, "spec": {"validationActions": ["Deny"]}}),
            ),
        ];
        let f = admission_findings(&objects);
        let slugs: Vec<&str> = f.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(slugs, [POLICY_FAILS_OPEN, BINDING_DOES_NOT_DENY]);
        assert!(
            f[1].message.contains("[Warn, Audit] without Deny"),
            "{}",
            f[1].message
        );
    }

    #[test]
    fn every_slug_has_a_record() {
        let slugs: Vec<String> = checks().iter().map(|c| c.slug.to_string()).collect();
        for s in [
            WEBHOOK_FAILS_OPEN,
            WEBHOOK_EXEMPTS_NAMESPACES,
            POLICY_FAILS_OPEN,
            BINDING_DOES_NOT_DENY,
        ] {
            assert!(slugs.iter().any(|x| x == s), "{s}");
            assert!(
                crate::registry().get(s).is_some(),
                "{s} not in the registry"
            );
        }
    }
}
