//! Gaps and leaks of an audit Policy: sensitive bodies logged, security-relevant requests not
//! logged, and detection rules that the policy leaves blind.

use crate::falco::Ruleset;
use crate::policy::{Level, Policy, PolicyRule, Request, ResourceAttrs, rule_matches};
use rampart_core::{Finding, Location, Severity};

/// The checks of [`lint`]: slug, severity, one-line summary.
pub const CHECKS: &[(&str, Severity, &str)] = &[
    (
        "audit-sensitive-body-logged",
        Severity::High,
        "Secrets, ConfigMaps or TokenReviews are logged at Request or RequestResponse: their values reach the log",
    ),
    (
        "audit-no-catch-all",
        Severity::Medium,
        "no final rule matches every request",
    ),
    (
        "audit-exec-not-logged",
        Severity::High,
        "pods/exec, pods/attach or pods/portforward are not logged",
    ),
    (
        "audit-rbac-change-not-logged",
        Severity::High,
        "changes to RBAC roles and bindings are not logged",
    ),
    (
        "audit-webhook-change-not-logged",
        Severity::High,
        "changes to admission webhook configurations are not logged",
    ),
    (
        "audit-request-received-not-omitted",
        Severity::Low,
        "the RequestReceived stage is logged, doubling the volume",
    ),
    (
        "audit-detection-blind",
        Severity::Medium,
        "a detection rule needs request or response bodies the policy does not log",
    ),
];

/// [`CHECKS`] as registry records.
pub fn checks() -> Vec<rampart_core::CheckInfo> {
    CHECKS
        .iter()
        .map(|(slug, sev, summary)| {
            rampart_core::CheckInfo::new(*slug, *sev, rampart_core::Origin::Audit, *summary).doc(
                format!(
                    "## What it does\nReported by `rampart audit lint` on an audit Policy: {summary}.\n\n\
                     ## Remediation\nAdd or reorder the Policy's rules; `rampart audit level` shows the level a \
                     request gets.\n\n## References\n- CIS Kubernetes Benchmark 3.2.2\n"
                ),
            )
            .cis(["3.2.2"])
        })
        .collect()
}

fn severity(slug: &str) -> Severity {
    CHECKS
        .iter()
        .find(|(s, ..)| *s == slug)
        .map_or(Severity::Medium, |(_, sev, _)| *sev)
}

/// The API group of well-known resources (for probes).
fn group_of(resource: &str) -> &'static str {
    match resource {
        "deployments" | "daemonsets" | "statefulsets" | "replicasets" | "controllerrevisions" => {
            "apps"
        }
        "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings" => {
            "rbac.authorization.k8s.io"
        }
        "ingresses" | "networkpolicies" | "ingressclasses" => "networking.k8s.io",
        "jobs" | "cronjobs" => "batch",
        "mutatingwebhookconfigurations"
        | "validatingwebhookconfigurations"
        | "validatingadmissionpolicies" => "admissionregistration.k8s.io",
        "tokenreviews" => "authentication.k8s.io",
        "subjectaccessreviews" | "selfsubjectaccessreviews" => "authorization.k8s.io",
        _ => "",
    }
}

fn cluster_scoped(resource: &str) -> bool {
    matches!(
        resource,
        "namespaces"
            | "nodes"
            | "persistentvolumes"
            | "clusterroles"
            | "clusterrolebindings"
            | "mutatingwebhookconfigurations"
            | "validatingwebhookconfigurations"
            | "tokenreviews"
            | "customresourcedefinitions"
    )
}

fn probe(resource: &str, sub: &str, verb: &str) -> Request {
    Request {
        user: "rampart:probe".into(),
        groups: vec!["system:authenticated".into()],
        verb: verb.into(),
        resource: Some(ResourceAttrs {
            group: group_of(resource).into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: String::new(),
            namespace: if cluster_scoped(resource) {
                String::new()
            } else {
                "default".into()
            },
        }),
        path: String::new(),
    }
}

/// Whether some user, group, namespace or name could make `r` match a request like `req`.
fn could_match(r: &PolicyRule, req: &Request) -> bool {
    let mut req = req.clone();
    if let Some(u) = r.users.first() {
        req.user = u.clone();
    }
    if !r.user_groups.is_empty() {
        req.groups = r.user_groups.clone();
    }
    if let Some(res) = req.resource.as_mut() {
        if let Some(ns) = r.namespaces.first() {
            res.namespace = ns.clone();
        }
        if let Some(name) = r.resources.iter().find_map(|g| g.resource_names.first()) {
            res.name = name.clone();
        }
    }
    rule_matches(r, &req)
}

/// Whether `r` matches every request like `req`, whoever sends it.
fn always_matches(r: &PolicyRule, req: &Request) -> bool {
    r.users.is_empty()
        && r.user_groups.is_empty()
        && r.namespaces.is_empty()
        && r.resources.iter().all(|g| g.resource_names.is_empty())
        && rule_matches(r, req)
}

/// The rule that decides requests like `req` for an arbitrary user (`None`: the default, None).
fn deciding(p: &Policy, req: &Request) -> Option<usize> {
    p.rules.iter().position(|r| always_matches(r, req))
}

fn at_rule(p: &Policy, i: Option<usize>) -> Location {
    match i.and_then(|i| p.rules.get(i).map(|r| (i, r))) {
        Some((i, r)) => Location {
            file: p.file.as_str().into(),
            line: r.line,
            column: r.column,
            pointer: format!("/rules/{i}"),
            template: None,
        },
        None => Location {
            file: p.file.as_str().into(),
            line: p.line,
            column: p.column,
            pointer: String::new(),
            template: None,
        },
    }
}

fn finding(p: &Policy, slug: &str, rule: Option<usize>, msg: String) -> Finding {
    Finding::new(slug, severity(slug), msg).with_location(at_rule(p, rule))
}

fn level_name(i: Option<usize>) -> String {
    match i {
        Some(i) => format!("rule {i}"),
        None => "no rule (the default)".to_string(),
    }
}

/// Lints `p`; with `rules`, also checks that every body-reading detection rule sees its bodies.
pub fn lint(p: &Policy, rules: Option<&Ruleset>) -> Vec<Finding> {
    let mut out = Vec::new();
    // Sensitive bodies: any rule that could log them at Request or above before an unconditional
    // rule settles the request.
    let mut flagged = Vec::new();
    for (res, verbs) in [
        (
            "secrets",
            ["get", "list", "watch", "create", "update", "patch"].as_slice(),
        ),
        (
            "configmaps",
            ["get", "list", "watch", "create", "update", "patch"].as_slice(),
        ),
        ("tokenreviews", ["create"].as_slice()),
    ] {
        for verb in verbs {
            let req = probe(res, "", verb);
            for (i, r) in p.rules.iter().enumerate() {
                if could_match(r, &req) {
                    if r.level >= Level::Request && !flagged.contains(&(i, res)) {
                        flagged.push((i, res));
                        out.push(finding(
                            p,
                            "audit-sensitive-body-logged",
                            Some(i),
                            format!(
                                "rule {i} logs {res} at {}: their values are written to the audit log; log them at Metadata",
                                r.level.as_str()
                            ),
                        ));
                    }
                    if always_matches(r, &req) {
                        break;
                    }
                }
            }
        }
    }
    let catch_all = p.rules.iter().any(|r| {
        r.users.is_empty()
            && r.user_groups.is_empty()
            && r.verbs.is_empty()
            && r.resources.is_empty()
            && r.namespaces.is_empty()
            && r.non_resource_urls.is_empty()
    });
    if !catch_all {
        out.push(finding(
            p,
            "audit-no-catch-all",
            None,
            "no rule matches every request: anything the rules do not name is not logged; end with a rule such as `- level: Metadata`".into(),
        ));
    }
    let not_logged =
        |out: &mut Vec<Finding>, slug: &str, what: &str, probes: &[(&str, &str, &str)]| {
            let mut seen = Vec::new();
            for (res, sub, verb) in probes {
                let req = probe(res, sub, verb);
                let d = deciding(p, &req);
                let level = d
                    .and_then(|i| p.rules.get(i))
                    .map_or(Level::None, |r| r.level);
                if level == Level::None && !seen.contains(&d) {
                    seen.push(d);
                    let full = if sub.is_empty() {
                        (*res).to_string()
                    } else {
                        format!("{res}/{sub}")
                    };
                    out.push(finding(
                        p,
                        slug,
                        d,
                        format!(
                            "{what} are not logged: `{verb} {full}` is decided by {} at level None",
                            level_name(d)
                        ),
                    ));
                }
            }
        };
    not_logged(
        &mut out,
        "audit-exec-not-logged",
        "pods/exec, pods/attach and pods/portforward",
        &[
            ("pods", "exec", "create"),
            ("pods", "exec", "get"),
            ("pods", "attach", "create"),
            ("pods", "portforward", "create"),
        ],
    );
    let mut rbac = Vec::new();
    for res in [
        "roles",
        "clusterroles",
        "rolebindings",
        "clusterrolebindings",
    ] {
        for verb in ["create", "update", "patch", "delete"] {
            rbac.push((res, "", verb));
        }
    }
    not_logged(
        &mut out,
        "audit-rbac-change-not-logged",
        "RBAC role and binding changes",
        &rbac,
    );
    let mut hooks = Vec::new();
    for res in [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ] {
        for verb in ["create", "update", "patch", "delete"] {
            hooks.push((res, "", verb));
        }
    }
    not_logged(
        &mut out,
        "audit-webhook-change-not-logged",
        "admission webhook configuration changes",
        &hooks,
    );
    if let Some((i, _)) = p.rules.iter().enumerate().find(|(_, r)| {
        r.level != Level::None && !r.omit_stages.iter().any(|s| s == "RequestReceived")
    }) {
        out.push(finding(
            p,
            "audit-request-received-not-omitted",
            Some(i),
            format!("rule {i} logs the RequestReceived stage: every request is logged twice; add `omitStages: [RequestReceived]` to the policy"),
        ));
    }
    if let Some(rules) = rules {
        for rule in &rules.rules {
            let Some(needs) = rule.needs else { continue };
            if rule.resources.is_empty() {
                continue;
            }
            let verbs: Vec<&str> = if rule.verbs.is_empty() {
                vec!["create"]
            } else {
                rule.verbs.iter().map(String::as_str).collect()
            };
            'combos: for res in &rule.resources {
                for verb in &verbs {
                    let req = probe(res, "", verb);
                    let d = deciding(p, &req);
                    let level = d
                        .and_then(|i| p.rules.get(i))
                        .map_or(Level::None, |r| r.level);
                    if level < needs {
                        out.push(finding(
                            p,
                            "audit-detection-blind",
                            d,
                            format!(
                                "detection rule `{}` reads the {} body, which needs level {}, but `{verb} {res}` is logged at {} by {}",
                                rule.name,
                                if needs == Level::RequestResponse { "response" } else { "request" },
                                needs.as_str(),
                                level.as_str(),
                                level_name(d)
                            ),
                        ));
                        break 'combos;
                    }
                }
            }
        }
    }
    out
}
