//! Dangerous permissions in roles nothing binds yet: reported on the role, one step below the
//! severity the same grant has once bound, so a later binding does not hand them over unnoticed.

use crate::policy::{Policy, RoleKind};
use crate::risks::{Capability, role_capabilities};
use rampart_core::{CheckInfo, Finding, ObjectRef, Origin, Severity};
use std::collections::HashSet;

/// Slug of the finding.
pub const UNBOUND_DANGEROUS_ROLE: &str = "rbac-unbound-dangerous-role";

/// The capabilities worth reporting before anything holds them.
const DANGEROUS: &[Capability] = &[
    Capability::ClusterAdmin,
    Capability::ReadSecrets,
    Capability::Escalate,
    Capability::Bind,
    Capability::Impersonate,
    Capability::CreateTokens,
    Capability::ApproveCsr,
    Capability::SignCsr,
    Capability::AdmissionWebhooks,
    Capability::NodesProxy,
];

fn one_step_lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

/// A finding per Role or ClusterRole of the input that no binding of the input refers to, that
/// is not aggregated into another role (admin, edit, view or the input's own aggregates, judged
/// themselves) nor a `system:` ClusterRole, and that grants a dangerous capability: writing
/// admission webhooks, approving or signing CSRs, `nodes/proxy`, `serviceaccounts/token`,
/// escalate, bind, impersonate, reading Secrets, or everything.
pub fn unbound_role_findings(policy: &Policy) -> Vec<Finding> {
    let bound: HashSet<usize> = policy.bindings.iter().filter_map(|b| b.role).collect();
    // rules aggregated into another role (the bootstrap admin, edit and view among them, which
    // are made to be bound): that role is the one to judge
    let aggregated: HashSet<usize> = policy
        .roles
        .iter()
        .filter(|r| r.aggregation.is_some())
        .flat_map(|r| r.rules.iter().copied())
        .collect();
    let mut out = Vec::new();
    for (id, role) in policy.roles.iter().enumerate() {
        let cluster = role.kind == RoleKind::ClusterRole;
        if role.bootstrap
            || role.location.is_none()
            || bound.contains(&id)
            // the API server's own roles, also when the input carries a copy
            || (cluster && role.name.starts_with("system:"))
            || role.own_rules.iter().any(|r| aggregated.contains(r))
        {
            continue;
        }
        let caps: Vec<(Capability, usize)> = role_capabilities(policy, &role.rules, cluster)
            .into_iter()
            .filter(|(c, _)| DANGEROUS.contains(c))
            .collect();
        let Some(severity) = caps
            .iter()
            .map(|(c, _)| one_step_lower(c.severity(cluster)))
            .max()
        else {
            continue;
        };
        let what: Vec<&str> = caps.iter().map(|(c, _)| c.what()).collect();
        let location = caps
            .first()
            .and_then(|(_, rule)| policy.rule(*rule))
            .and_then(|r| r.location.clone())
            .or_else(|| role.location.clone());
        let mut f = Finding::new(
            UNBOUND_DANGEROUS_ROLE,
            severity,
            format!(
                "{} grants what lets its holder {}, and nothing in the input binds it yet: whoever it is bound to gets that",
                role.describe(),
                what.join("; ")
            ),
        )
        .with_object(ObjectRef {
            api_version: "rbac.authorization.k8s.io/v1".to_string(),
            kind: role.kind.as_str().to_string(),
            namespace: (!cluster).then(|| role.namespace.clone()),
            name: role.name.clone(),
        });
        if let Some(l) = location {
            f = f.with_location(l);
        }
        out.push(f);
    }
    out
}

/// The metadata of the slugs this module and the missing-role report emit.
pub(crate) fn checks() -> Vec<CheckInfo> {
    vec![
        CheckInfo::new(
            UNBOUND_DANGEROUS_ROLE,
            Severity::High,
            Origin::Rbac,
            "A Role or ClusterRole nothing binds grants a dangerous permission",
        )
        .doc(
            "## What it does\n\
             Flags Roles and ClusterRoles of the input that no binding of the input refers to, \
             that are not aggregated into another role (admin, edit and view are made to be \
             bound) and are not the API server's own `system:` ClusterRoles, but that grant a \
             dangerous permission: writing \
             admission webhook configurations, approving or signing certificate signing requests, \
             `nodes/proxy`, creating `serviceaccounts/token`, `escalate`, `bind`, `impersonate`, \
             reading Secrets, or every verb on every resource. The severity is one step below the \
             one the same grant has once bound (a cluster-wide grant to read Secrets is critical \
             bound, high unbound).\n\n\
             ## Why is this bad?\n\
             An unbound role grants nothing today, but it is a loaded gun: the next RoleBinding or \
             ClusterRoleBinding to it, often written by someone who only reads its name, hands \
             these permissions over, and a binding is reviewed far less than a role.\n\n\
             ## Remediation\n\
             Remove the dangerous rules, narrow them with `resourceNames`, or delete the role if \
             nothing needs it. Keep roles that must hold such permissions next to their binding.\n\n\
             ## References\n\
             - Kubernetes documentation: RBAC good practices (privilege escalation risks)\n\
             - CIS Kubernetes Benchmark 5.1.1, 5.1.2, 5.1.8\n",
        )
        .references([
            "Kubernetes documentation: RBAC good practices",
            "CIS Kubernetes Benchmark 5.1.1, 5.1.2, 5.1.8",
        ])
        .cis(["5.1.1", "5.1.2", "5.1.8"]),
        CheckInfo::new(
            "rbac-missing-role",
            Severity::Low,
            Origin::Rbac,
            "A binding refers to a role that does not exist",
        )
        .doc(
            "## What it does\n\
             Flags RoleBindings and ClusterRoleBindings whose `roleRef` names a Role or \
             ClusterRole that is neither in the input nor created by the API server: the \
             bootstrap ClusterRoles, every `system:` ClusterRole (the controller roles among \
             them), and the namespaced bootstrap Roles of `kube-system` and `kube-public` \
             (`extension-apiserver-authentication-reader`, \
             `system::leader-locking-kube-controller-manager`, \
             `system:controller:bootstrap-signer`, ...). A ClusterRoleBinding that refers to a \
             Role is flagged too.\n\n\
             ## Why is this bad?\n\
             The binding grants nothing until a role of that name appears, and then it grants \
             whatever that role holds, which whoever creates it decides. It is usually a typo or \
             a role that was renamed.\n\n\
             ## Remediation\n\
             Fix the `roleRef` name or kind, or add the missing role to the manifests.\n\n\
             ## References\n\
             - Kubernetes documentation: Using RBAC Authorization (RoleBinding and ClusterRoleBinding)\n",
        )
        .references(["Kubernetes documentation: Using RBAC Authorization"]),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::policy::Options;

    const INPUT: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: webhook-admin}
rules:
  - apiGroups: [admissionregistration.k8s.io]
    resources: [validatingwebhookconfigurations]
    verbs: [create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: token-minter, namespace: ci}
rules:
  - apiGroups: [""]
    resources: [serviceaccounts/token]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: bound-secrets-reader}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: bound-secrets-reader}
subjects: [{kind: Group, name: ops}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:aggregate-to-edit"}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: csr-approver-for-admins
  labels: {rbac.authorization.k8s.io/aggregate-to-admin: "true"}
rules:
  - apiGroups: [certificates.k8s.io]
    resources: [certificatesigningrequests/approval]
    verbs: [update]
  - apiGroups: [certificates.k8s.io]
    resources: [signers]
    verbs: [approve]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pods-viewer}
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: secrets-aggregated
  labels: {rbac.example.com/aggregate-to-ops: "true"}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ops-aggregate}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-ops: "true"}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops-aggregate}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ops-aggregate}
subjects: [{kind: Group, name: ops}]
"#;

    #[test]
    fn unbound_dangerous_roles_are_reported_one_step_lower() {
        let loaded = rampart_manifest::load_str("rbac.yaml", INPUT);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let policy = Policy::from_objects(&loaded.objects, Options::default());
        let found: Vec<(String, Severity)> = unbound_role_findings(&policy)
            .into_iter()
            .map(|f| (f.object.unwrap().name.clone(), f.severity))
            .collect();
        assert_eq!(
            found,
            vec![
                ("webhook-admin".to_string(), Severity::Medium),
                ("token-minter".to_string(), Severity::Low),
            ]
        );
        let bound = crate::risk_findings_of(&policy);
        assert!(
            bound
                .iter()
                .filter(|f| f.check == "rbac-read-secrets")
                .all(|f| f.severity > Severity::High)
        );
    }

    #[test]
    fn checks_are_documented() {
        for c in checks() {
            for s in [
                "What it does",
                "Why is this bad?",
                "Remediation",
                "References",
            ] {
                assert!(c.section(s).is_some(), "{}: no {s}", c.slug);
            }
        }
    }
}
