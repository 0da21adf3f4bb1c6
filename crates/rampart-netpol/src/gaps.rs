//! Isolation gaps and dangling policies, as findings.
//!
//! Slugs (stable):
//! - `namespace-without-default-deny`: a namespace with pods and no policy that selects every
//!   pod and allows nothing (ingress; egress reported at a lower severity).
//! - `pod-not-isolated`: a workload no policy selects for ingress or for egress.
//! - `egress-blocks-dns`: an egress policy leaves pods with no way to reach DNS (port 53 in
//!   kube-system).
//! - `policy-selects-no-pod`: a policy whose podSelector matches no pod of its namespace.
//! - `rule-peer-matches-nothing`: a `from`/`to` peer whose selectors match no pod.
//! - `namespace-selector-matches-all`: an empty namespaceSelector, which matches every namespace.
//! - `ingress-from-any-ip`: an ingress ipBlock of `0.0.0.0/0` or `::/0`.

use crate::conn::Protocol;
use crate::eval::Engine;
use crate::model::{Cluster, NS_NAME_LABEL, PeerSpec, Policy, PortSpec, Rule};
use crate::selector::Labels;
use rampart_core::{Field, Finding, Severity};
use rampart_manifest::Object;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DNS_NAMES: &[&str] = &["dns", "dns-tcp", "dns-udp"];

/// `; an operator may create its pods from custom resources in the input: Prometheus
/// monitoring/k8s` when custom resources (objects of a group Kubernetes does not serve) in
/// `namespace` (any, for `None`) are named by a key or value of `selector` — by their name or
/// kind in any case (`strimzi.io/kind: Kafka`), as kube-prometheus labels the pods of Prometheus `k8s` with `prometheus: k8s`.
/// Empty otherwise.
fn operator_note(
    objects: &[Object],
    namespace: Option<&str>,
    selector: Option<&serde_json::Value>,
) -> String {
    use rampart_core::Field;
    let Some(sel) = selector else {
        return String::new();
    };
    let mut words: Vec<&str> = Vec::new();
    if let Some(ml) = sel.field("matchLabels").and_then(|m| m.as_object()) {
        for (k, v) in ml {
            words.push(k);
            words.extend(v.as_str());
        }
    }
    for e in sel
        .field("matchExpressions")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
    {
        words.extend(e.field("key").and_then(|k| k.as_str()));
        words.extend(
            e.field("values")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str()),
        );
    }
    let names: Vec<String> = objects
        .iter()
        .filter(|o| !rampart_manifest::builtin::is_builtin_group(o.group()))
        .filter(|o| namespace.is_none_or(|ns| o.namespace().unwrap_or("default") == ns))
        .filter(|o| {
            words
                .iter()
                .any(|w| *w == o.name() || w.eq_ignore_ascii_case(o.kind()))
        })
        .take(5)
        .map(|o| {
            format!(
                "{} {}/{}",
                o.kind(),
                o.namespace().unwrap_or("default"),
                o.name()
            )
        })
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(
            "; an operator may create its pods from custom resources in the input: {}",
            names.join(", ")
        )
    }
}

fn finding(
    objects: &[Object],
    idx: usize,
    ptr: &str,
    slug: &str,
    sev: Severity,
    msg: String,
) -> Finding {
    let mut f = Finding::new(slug, sev, msg);
    if let Some(o) = objects.get(idx) {
        f = f.with_object(o.object_ref()).with_location(o.location(ptr));
    }
    f
}

/// Whether a rule lets traffic reach UDP 53 of a DNS pod in kube-system.
fn rule_allows_dns(
    c: &Cluster,
    p: &Policy,
    r: &Rule,
    dns_pods: &[Labels],
    ks_labels: &Labels,
) -> bool {
    let ports_ok = r.fixed.contains(Protocol::Udp, 53)
        || r.ports.iter().flatten().any(
            |s| matches!(s, PortSpec::Named(Protocol::Udp, n) if DNS_NAMES.contains(&n.as_str())),
        );
    if !ports_ok {
        return false;
    }
    let Some(peers) = &r.peers else { return true };
    peers.iter().any(|peer| match peer {
        PeerSpec::Ip(id) => c.ip_blocks.get(*id).is_some_and(|b| b.set.is_everything()),
        PeerSpec::Pods { pod, ns } => {
            let ns_ok = match ns {
                None => p.namespace == "kube-system",
                Some(s) => s.matches(ks_labels),
            };
            ns_ok
                && dns_pods
                    .iter()
                    .any(|l| pod.as_ref().is_none_or(|s| s.matches(l)))
        }
    })
}

/// Findings about isolation gaps, DNS cut by egress policies and policies or rules that match
/// nothing, each located at the field at fault.
pub fn gaps(objects: &[Object]) -> Vec<Finding> {
    let cluster = Cluster::build(objects);
    let engine = Engine::new(&cluster);
    let mut out = Vec::new();
    let have_pods = !cluster.workloads.is_empty();

    // Namespaces without default deny.
    let mut ns_pods: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, w) in cluster.workloads.iter().enumerate() {
        ns_pods.entry(w.namespace.as_str()).or_insert(i);
    }
    for (ns, first) in &ns_pods {
        let deny = |ingress: bool| {
            cluster.policies.iter().any(|p| {
                let rules = if ingress { &p.ingress } else { &p.egress };
                // Selects every pod and has no rule that allows everything.
                p.namespace == *ns
                    && p.selector.is_empty()
                    && rules.as_ref().is_some_and(|rs| {
                        !rs.iter().any(|r| r.peers.is_none() && r.ports.is_none())
                    })
            })
        };
        let (din, deg) = (deny(true), deny(false));
        if din && deg {
            continue;
        }
        let (idx, ptr) = match cluster.namespace_objects.get(*ns) {
            Some(i) => (*i, "/metadata/name"),
            None => (
                cluster.workloads.get(*first).map(|w| w.object).unwrap_or(0),
                "/metadata/namespace",
            ),
        };
        let (sev, what) = match (din, deg) {
            (false, false) => (Severity::Medium, "ingress or egress"),
            (false, true) => (Severity::Medium, "ingress"),
            _ => (Severity::Low, "egress"),
        };
        out.push(finding(
            objects,
            idx,
            ptr,
            "namespace-without-default-deny",
            sev,
            format!(
                "namespace `{ns}` has no default-deny {what} policy (podSelector: {{}} with no rules); \
                 pods that no policy selects are open"
            ),
        ));
    }

    // Workloads no policy isolates.
    for (wi, w) in cluster.workloads.iter().enumerate() {
        let Some(&c) = engine.class_of.get(wi) else {
            continue;
        };
        let open_in = engine.sel_in.get(c).is_none_or(Vec::is_empty);
        let open_eg = engine.sel_eg.get(c).is_none_or(Vec::is_empty);
        let what = match (open_in, open_eg) {
            (true, true) => "ingress or egress",
            (true, false) => "ingress",
            (false, true) => "egress",
            (false, false) => continue,
        };
        let sev = if open_in {
            Severity::Low
        } else {
            Severity::Info
        };
        out.push(finding(
            objects,
            w.object,
            &w.labels_pointer,
            "pod-not-isolated",
            sev,
            format!(
                "{} is not selected by any NetworkPolicy for {what}: all such traffic is allowed",
                w.peer_name()
            ),
        ));
    }

    // Egress policies that cut DNS.
    let ks_labels: Labels = cluster
        .namespaces
        .get("kube-system")
        .cloned()
        .unwrap_or_else(|| Labels::from([(NS_NAME_LABEL.to_string(), "kube-system".to_string())]));
    let mut dns_pods: Vec<Labels> = cluster
        .workloads
        .iter()
        .filter(|w| w.namespace == "kube-system")
        .map(|w| w.labels.clone())
        .collect();
    dns_pods.push(Labels::from([(
        "k8s-app".to_string(),
        "kube-dns".to_string(),
    )]));
    let mut cut: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (wi, w) in cluster.workloads.iter().enumerate() {
        let Some(pols) = engine.class_of.get(wi).and_then(|c| engine.sel_eg.get(*c)) else {
            continue;
        };
        if pols.is_empty() {
            continue;
        }
        let ok = pols
            .iter()
            .filter_map(|pi| cluster.policies.get(*pi))
            .any(|p| {
                p.egress
                    .iter()
                    .flatten()
                    .any(|r| rule_allows_dns(&cluster, p, r, &dns_pods, &ks_labels))
            });
        if !ok {
            for pi in pols {
                cut.entry(*pi).or_default().insert(w.peer_name());
            }
        }
    }
    for (pi, ws) in cut {
        let Some(p) = cluster.policies.get(pi) else {
            continue;
        };
        let names: Vec<&str> = ws.iter().map(String::as_str).take(3).collect();
        let more = if ws.len() > 3 {
            format!(" and {} more", ws.len() - 3)
        } else {
            String::new()
        };
        let ptr = if objects
            .get(p.object)
            .is_some_and(|o| o.value.pointer("/spec/egress").is_some())
        {
            "/spec/egress"
        } else {
            "/spec/policyTypes"
        };
        out.push(finding(
            objects,
            p.object,
            ptr,
            "egress-blocks-dns",
            Severity::Medium,
            format!(
                "NetworkPolicy {} restricts egress of {}{more} and no policy allows DNS (UDP 53 to kube-system)",
                p.full_name(),
                names.join(", ")
            ),
        ));
    }

    // Policies and rule peers that match nothing.
    if have_pods {
        for (pi, p) in cluster.policies.iter().enumerate() {
            let selects = !ns_pods.contains_key(p.namespace.as_str())
                || engine
                    .classes
                    .iter()
                    .any(|c| c.namespace == p.namespace && p.selector.matches(c.labels));
            if !selects {
                out.push(finding(
                    objects,
                    p.object,
                    "/spec/podSelector",
                    "policy-selects-no-pod",
                    Severity::Low,
                    format!(
                        "NetworkPolicy {} selects no pod in namespace `{}`{}",
                        p.full_name(),
                        p.namespace,
                        operator_note(
                            objects,
                            Some(&p.namespace),
                            objects
                                .get(p.object)
                                .and_then(|o| o.value.pointer("/spec/podSelector"))
                        )
                    ),
                ));
            }
            for (rules, matches, field) in [
                (&p.ingress, engine.in_match.get(pi), "from"),
                (&p.egress, engine.eg_match.get(pi), "to"),
            ] {
                for (r, m) in rules.iter().flatten().zip(matches.into_iter().flatten()) {
                    let _ = m;
                    for (j, peer) in r.peers.iter().flatten().enumerate() {
                        let PeerSpec::Pods { pod, ns } = peer else {
                            continue;
                        };
                        // Namespaces that are not in the inputs (kube-system, usually) may
                        // hold the pods: only judge peers whose namespaces we know.
                        let known = match ns {
                            None => ns_pods.contains_key(p.namespace.as_str()),
                            Some(s) => cluster.namespaces.values().any(|l| s.matches(l)),
                        };
                        if !known {
                            continue;
                        }
                        let any = engine.classes.iter().any(|c| {
                            let ns_ok = match ns {
                                None => c.namespace == p.namespace,
                                Some(s) => cluster
                                    .namespaces
                                    .get(c.namespace)
                                    .is_some_and(|l| s.matches(l)),
                            };
                            ns_ok && pod.as_ref().is_none_or(|s| s.matches(c.labels))
                        });
                        if !any {
                            out.push(finding(
                                objects,
                                p.object,
                                &format!("{}/{field}/{j}", r.pointer),
                                "rule-peer-matches-nothing",
                                Severity::Low,
                                format!(
                                    "a `{field}` peer of NetworkPolicy {} matches no pod{}",
                                    p.full_name(),
                                    operator_note(
                                        objects,
                                        ns.is_none().then_some(p.namespace.as_str()),
                                        objects.get(p.object).and_then(|o| o.value.pointer(
                                            &format!("{}/{field}/{j}/podSelector", r.pointer)
                                        ))
                                    )
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }

    // Structural checks on the raw policies.
    for p in &cluster.policies {
        let Some(obj) = objects.get(p.object) else {
            continue;
        };
        for (dir, field) in [("ingress", "from"), ("egress", "to")] {
            let rules = obj
                .value
                .pointer(&format!("/spec/{dir}"))
                .and_then(Value::as_array);
            for (i, r) in rules.into_iter().flatten().enumerate() {
                for (j, peer) in r
                    .get(field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let base = format!("/spec/{dir}/{i}/{field}/{j}");
                    if peer
                        .field("namespaceSelector")
                        .and_then(Value::as_object)
                        .is_some_and(|m| {
                            m.values().all(|v| {
                                v.is_null()
                                    || v.as_object().is_some_and(|o| o.is_empty())
                                    || v.as_array().is_some_and(|a| a.is_empty())
                            })
                        })
                    {
                        let pods = match peer.field("podSelector").and_then(Value::as_object) {
                            Some(m) if !m.is_empty() => "the selected pods of",
                            _ => "every pod in",
                        };
                        out.push(finding(
                            objects,
                            p.object,
                            &format!("{base}/namespaceSelector"),
                            "namespace-selector-matches-all",
                            Severity::Medium,
                            format!(
                                "NetworkPolicy {}: an empty namespaceSelector in {dir} matches {pods} every namespace",
                                p.full_name()
                            ),
                        ));
                    }
                    if dir == "ingress" {
                        let cidr = peer
                            .pointer("/ipBlock/cidr")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        if cidr.ends_with("/0") {
                            out.push(finding(
                                objects,
                                p.object,
                                &format!("{base}/ipBlock/cidr"),
                                "ingress-from-any-ip",
                                Severity::Medium,
                                format!(
                                    "NetworkPolicy {} allows ingress from any address ({cidr})",
                                    p.full_name()
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
    out
}

/// A gap finding's identity and documentation, for `rampart checks` and `rampart explain`.
#[derive(Debug, Clone, Copy)]
pub struct GapCheck {
    pub slug: &'static str,
    /// The highest severity it is reported at.
    pub severity: Severity,
    pub summary: &'static str,
    /// Markdown: what it flags, why it matters, remediation.
    pub doc: &'static str,
}

/// Every gap [`gaps`] reports.
pub const GAP_CHECKS: &[GapCheck] = &[
    GapCheck {
        slug: "namespace-without-default-deny",
        severity: Severity::Medium,
        summary: "A namespace has no default-deny NetworkPolicy for ingress or egress",
        doc: "## What it does\nFlags namespaces with workloads and no policy that selects every pod (`podSelector: {}`) for a direction with no rules in it.\n\n## Why is this bad?\nPods no policy selects accept and send any traffic.\n\n## Remediation\nAdd a default-deny NetworkPolicy with `policyTypes: [Ingress, Egress]` and no rules, then allow each flow.",
    },
    GapCheck {
        slug: "pod-not-isolated",
        severity: Severity::Low,
        summary: "A workload is not selected by any NetworkPolicy for ingress or egress",
        doc: "## What it does\nFlags workloads that no NetworkPolicy selects for ingress (low) or egress (info).\n\n## Why is this bad?\nAn unselected pod is open in that direction: any pod in the cluster can reach it, or it can reach anything.\n\n## Remediation\nSelect the workload with a policy for both directions (a namespace default deny does it).",
    },
    GapCheck {
        slug: "egress-blocks-dns",
        severity: Severity::Medium,
        summary: "An egress policy isolates pods without allowing DNS to kube-system",
        doc: "## What it does\nFlags egress-isolated workloads whose policies allow no UDP 53 traffic to the cluster DNS in kube-system.\n\n## Why is this bad?\nName resolution fails: the application breaks in ways that look like network outages, and teams respond by opening egress wide.\n\n## Remediation\nAllow UDP and TCP 53 to `k8s-app: kube-dns` pods in `kube-system`.",
    },
    GapCheck {
        slug: "policy-selects-no-pod",
        severity: Severity::Low,
        summary: "A NetworkPolicy selects no pod in the input",
        doc: "## What it does\nFlags NetworkPolicies whose `podSelector` matches no workload of their namespace.\n\n## Why is this bad?\nA policy that selects nothing protects nothing; it is usually a label typo, and the pods it was meant for stay open.\n\n## Remediation\nFix the selector to match the intended pods' labels.",
    },
    GapCheck {
        slug: "rule-peer-matches-nothing",
        severity: Severity::Low,
        summary: "A NetworkPolicy rule's peer matches no pod or namespace",
        doc: "## What it does\nFlags `from`/`to` peers whose pod and namespace selectors match nothing in the input.\n\n## Why is this bad?\nThe rule allows nothing, so the intended flow is blocked — or a later object with matching labels, from anyone, is silently allowed.\n\n## Remediation\nFix the selectors to match the intended peers.",
    },
    GapCheck {
        slug: "namespace-selector-matches-all",
        severity: Severity::Medium,
        summary: "A rule's namespaceSelector matches every namespace",
        doc: "## What it does\nFlags rules with an empty `namespaceSelector` (and no pod selector narrowing it), which admit every namespace.\n\n## Why is this bad?\nEvery pod in the cluster, including compromised ones in other tenants' namespaces, is allowed.\n\n## Remediation\nSelect the namespaces by label, e.g. `kubernetes.io/metadata.name`.",
    },
    GapCheck {
        slug: "ingress-from-any-ip",
        severity: Severity::Medium,
        summary: "An ingress rule allows 0.0.0.0/0 or ::/0",
        doc: "## What it does\nFlags ingress rules with an `ipBlock` of `0.0.0.0/0` or `::/0`.\n\n## Why is this bad?\nThe pod is open to every address, inside and outside the cluster.\n\n## Remediation\nAllow the specific CIDRs of the load balancer or clients.",
    },
];

/// [`GAP_CHECKS`] as registry records. `missing-default-deny-network-policy`, the manifest
/// catalog's former name for the same gap, is an alias of `namespace-without-default-deny`.
pub fn checks() -> Vec<rampart_core::CheckInfo> {
    GAP_CHECKS
        .iter()
        .map(|g| {
            let info = rampart_core::CheckInfo::new(
                g.slug,
                g.severity,
                rampart_core::Origin::Netpol,
                g.summary,
            )
            .doc(g.doc);
            if g.slug == "namespace-without-default-deny" {
                info.alias("missing-default-deny-network-policy")
                    .cis(["5.3.2"])
                    .references(["CIS Kubernetes Benchmark 5.3.2"])
            } else {
                info
            }
        })
        .collect()
}

#[cfg(test)]
mod catalog_tests {
    use super::GAP_CHECKS;

    #[test]
    fn every_gap_slug_is_documented() {
        let src = include_str!("gaps.rs");
        for c in GAP_CHECKS {
            assert!(
                src.matches(&format!("\"{}\"", c.slug)).count() >= 2,
                "{} is never reported",
                c.slug
            );
            assert!(c.doc.contains("## Remediation"));
        }
    }

    /// A policy and a peer that select the pods an operator creates from a custom resource in
    /// the input say so; one that selects nothing else says nothing more.
    #[test]
    fn selects_nothing_names_the_custom_resources_that_may_create_pods() {
        let loaded = rampart_manifest::load_str(
            "np.yaml",
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: grafana, namespace: monitoring}
spec:
  selector: {matchLabels: {app: grafana}}
  template:
    metadata: {labels: {app: grafana}}
    spec: {containers: [{name: g, image: grafana}]}
---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: monitoring}
spec: {replicas: 2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: prometheus, namespace: monitoring}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: prometheus, prometheus: k8s}}
  ingress:
    - from:
        - podSelector: {matchLabels: {app: grafana}}
        - podSelector: {matchLabels: {app: typo}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: grafana, namespace: monitoring}
spec:
  podSelector: {matchLabels: {app: grafana}}
  ingress:
    - from:
        - podSelector: {matchExpressions: [{key: prometheus, operator: In, values: [k8s]}]}
"#,
        );
        let found = super::gaps(&loaded.objects);
        let msg = |slug: &str, name: &str| {
            found
                .iter()
                .filter(|f| f.check == slug && f.object.as_ref().is_some_and(|o| o.name == name))
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
        };
        let note = "an operator may create its pods from custom resources in the input: Prometheus monitoring/k8s";
        let policy = msg("policy-selects-no-pod", "prometheus");
        assert_eq!(policy.len(), 1, "{found:#?}");
        assert!(policy[0].contains(note), "{policy:?}");
        let typo = msg("rule-peer-matches-nothing", "prometheus");
        assert_eq!(typo.len(), 1, "{found:#?}");
        assert!(!typo[0].contains("operator"), "{typo:?}");
        let peer = msg("rule-peer-matches-nothing", "grafana");
        assert_eq!(peer.len(), 1, "{found:#?}");
        assert!(peer[0].contains(note), "{peer:?}");
    }
}
