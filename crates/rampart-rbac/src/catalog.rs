//! The metadata record of every slug this crate reports.

use crate::risks::Capability;
use rampart_core::{CheckInfo, Origin, Severity};

impl Capability {
    /// Why holding the capability is dangerous, for the documentation.
    fn why(self) -> &'static str {
        match self {
            Capability::ClusterAdmin => {
                "Every verb on every resource is the whole cluster: every Secret, every node through privileged pods, and the RBAC to keep it."
            }
            Capability::ReadSecrets => {
                "Secrets hold ServiceAccount tokens, registry credentials and application passwords; reading them all is borrowing every identity they belong to, often up to cluster-admin."
            }
            Capability::CreatePods => {
                "A pod can mount any ServiceAccount of its namespace and any Secret, so creating pods is holding every permission of every ServiceAccount there."
            }
            Capability::CreateWorkloads => {
                "A Deployment, DaemonSet, StatefulSet, Job or CronJob creates pods on its author's behalf: the same power as creating pods, less visible."
            }
            Capability::ExecPods => {
                "Exec and attach run commands inside running pods, with their ServiceAccount tokens, mounted Secrets and network position."
            }
            Capability::Escalate => {
                "`escalate` lets the holder write roles with permissions it does not have, which the API server otherwise forbids: the next step is anything."
            }
            Capability::Bind => {
                "`bind` lets the holder bind roles with permissions it does not have, cluster-admin included."
            }
            Capability::Impersonate => {
                "Impersonating a user, group or ServiceAccount is acting with its permissions; impersonating the `system:masters` group is cluster-admin."
            }
            Capability::CreateTokens => {
                "Creating `serviceaccounts/token` mints a token for any ServiceAccount in scope and so takes its permissions."
            }
            Capability::ApproveCsr => {
                "Approving certificate signing requests lets the holder get client certificates for any user or group a signer accepts, `system:masters` included with some signers."
            }
            Capability::SignCsr => {
                "Signing certificate signing requests issues certificates the cluster trusts."
            }
            Capability::AdmissionWebhooks => {
                "A mutating or validating webhook sees, and may rewrite, every object it matches, Secrets included; removing one switches off the policies it enforces."
            }
            Capability::NodesProxy => {
                "`nodes/proxy` reaches the kubelet API, which runs commands in any pod on the node and bypasses admission and audit of `pods/exec`."
            }
            Capability::PatchNodes => {
                "Patching nodes changes their labels and taints, which steers sensitive pods onto a node the holder controls."
            }
            Capability::ManageRbac => {
                "Writing roles and bindings is granting permissions; the API server's escalation checks are the only limit."
            }
            Capability::Wildcard => {
                "A `*` in verbs, resources or API groups grants what exists today and everything added later (new resources, subresources, CRDs)."
            }
        }
    }
}

/// Former slugs (the manifest catalog reported the same risks rule by rule) that now name a
/// capability.
fn aliases(c: Capability) -> &'static [&'static str] {
    match c {
        Capability::ClusterAdmin => &["cluster-admin-binding"],
        Capability::ReadSecrets => &["rbac-secrets-access"],
        Capability::ExecPods => &["rbac-pod-exec"],
        Capability::Wildcard => &["rbac-wildcard"],
        _ => &[],
    }
}

/// The CIS Kubernetes Benchmark (section 5.1) item that covers the capability.
fn cis(c: Capability) -> &'static [&'static str] {
    use Capability::*;
    match c {
        ClusterAdmin => &["5.1.1"],
        ReadSecrets => &["5.1.2"],
        Wildcard => &["5.1.3"],
        CreatePods | CreateWorkloads => &["5.1.4"],
        Escalate | Bind | Impersonate => &["5.1.8"],
        NodesProxy => &["5.1.10"],
        ApproveCsr | SignCsr => &["5.1.11"],
        AdmissionWebhooks => &["5.1.12"],
        ExecPods | CreateTokens | PatchNodes | ManageRbac => &[],
    }
}

/// Every slug this crate reports, with its documentation: the risky grants of bindings, dangerous
/// roles nothing binds, bindings to missing roles, malformed RBAC objects and escalation paths.
pub fn checks() -> Vec<CheckInfo> {
    let mut out: Vec<CheckInfo> = Capability::ALL
        .iter()
        .map(|&c| {
            let cis_ref = match cis(c) {
                [] => "CIS Kubernetes Benchmark 5.1".to_string(),
                ids => format!("CIS Kubernetes Benchmark {}", ids.join(", ")),
            };
            let mut info = CheckInfo::new(
                c.slug(),
                c.severity(true),
                Origin::Rbac,
                format!("A subject can {}", c.what()),
            )
            .doc(format!(
                "## What it does\nFlags each subject of a RoleBinding or ClusterRoleBinding in the \
                 input that can {}, naming the binding, role and rule that grant it (the API \
                 server's bootstrap roles and aggregation included). Cluster-wide grants are \
                 reported at {}, grants in one namespace at {}.\n\n## Why is this bad?\n{}\n\n\
                 ## Remediation\nGrant the permission only to the subjects that need it, in the \
                 namespaces they need it, with `resourceNames` where the objects are known; \
                 prefer a Role and RoleBinding to a ClusterRoleBinding.\n\n## References\n\
                 - Kubernetes documentation: RBAC good practices\n\
                 - {cis_ref}\n",
                c.what(),
                c.severity(true),
                c.severity(false),
                c.why()
            ))
            .references([
                "Kubernetes documentation: RBAC good practices".to_string(),
                cis_ref.clone(),
            ])
            .cis(cis(c).iter().copied());
            for a in aliases(c) {
                info = info.alias(*a);
            }
            info
        })
        .collect();
    out.extend(crate::unbound::checks());
    out.push(
        CheckInfo::new(
            "rbac-invalid",
            Severity::Low,
            Origin::Rbac,
            "An RBAC object has a malformed field",
        )
        .doc(
            "## What it does\nFlags Roles, ClusterRoles and bindings with a field the API server \
             would reject or ignore (a rule without verbs, a subject without a name, an unknown \
             subject kind, ...).\n\n## Why is this bad?\nThe object does not grant what its \
             author meant: the apply fails, or a rule or subject is silently left out.\n\n\
             ## Remediation\nFix the field named in the message.\n\n## References\n\
             - Kubernetes API reference: rbac.authorization.k8s.io/v1\n",
        )
        .references(["Kubernetes API reference: rbac.authorization.k8s.io/v1"]),
    );
    out.push(
        CheckInfo::new(
            "rbac-escalation-path",
            Severity::Critical,
            Origin::Rbac,
            "A compromised pod can reach cluster-admin or all Secrets",
        )
        .doc(
            "## What it does\nFollows what a compromised pod's ServiceAccount can do (read \
             Secrets and their tokens, create pods as other ServiceAccounts, impersonate, bind, \
             escalate, ...) step by step, and reports the shortest chain from a workload of the \
             input to cluster-admin or to every Secret (critical), or to some Secrets (high).\n\n\
             ## Why is this bad?\nEach grant on the path may look harmless alone; chained, one \
             compromised container owns the cluster.\n\n## Remediation\nSet \
             `automountServiceAccountToken: false` where the pod does not call the API, and \
             narrow the grants along the path.\n\n## References\n\
             - Kubernetes documentation: RBAC good practices (privilege escalation risks)\n",
        )
        .references(["Kubernetes documentation: RBAC good practices"]),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::checks;
    use std::collections::HashSet;

    /// Every slug once, every record documented; the slugs this crate's sources emit are listed.
    #[test]
    fn every_slug_has_one_documented_record() {
        let all = checks();
        let mut seen = HashSet::new();
        for c in &all {
            assert!(seen.insert(c.slug.to_string()), "{} twice", c.slug);
            for s in [
                "What it does",
                "Why is this bad?",
                "Remediation",
                "References",
            ] {
                assert!(c.section(s).is_some(), "{}: no {s}", c.slug);
            }
        }
        let sources = [
            include_str!("risks.rs"),
            include_str!("paths.rs"),
            include_str!("unbound.rs"),
        ]
        .concat();
        for part in sources.split('"').skip(1).step_by(2) {
            if part.starts_with("rbac-") && !part.contains(' ') {
                assert!(seen.contains(part), "{part} is emitted but has no record");
            }
        }
        assert_eq!(all.len(), 16 + 4);
    }
}
