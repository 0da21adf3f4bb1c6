//! The registry records of every slug the RBAC analyzer reports.

use crate::risks::Capability;
use rampart_core::{CheckInfo, Origin, Severity};

/// Former slugs (of the manifest catalog, which reported the same risks rule by rule) that now
/// name a capability.
fn aliases(c: Capability) -> &'static [&'static str] {
    match c {
        Capability::ClusterAdmin => &["cluster-admin-binding"],
        Capability::ReadSecrets => &["rbac-secrets-access"],
        Capability::ExecPods => &["rbac-pod-exec"],
        Capability::Wildcard => &["rbac-wildcard"],
        _ => &[],
    }
}

/// Why the capability matters, and the CIS item that covers it.
fn why(c: Capability) -> (&'static str, &'static [&'static str]) {
    use Capability::*;
    match c {
        ClusterAdmin => (
            "cluster-admin (or a role equal to it) is every permission on every resource: the subject owns \
             the cluster and every workload and Secret in it. The finding lists what it implies.",
            &["5.1.1"],
        ),
        ReadSecrets => (
            "Reading Secrets yields every credential they hold, ServiceAccount tokens included, and `list` \
             returns all values at once.",
            &["5.1.2"],
        ),
        Wildcard => (
            "Wildcards grant everything that exists now and everything added later (new CRDs, new \
             subresources): a rule meant to be broad becomes cluster-admin.",
            &["5.1.3"],
        ),
        CreatePods | CreateWorkloads => (
            "Whoever creates pods can run them as any ServiceAccount of the namespace, mount its token \
             and any Secret, and so hold every permission those accounts have.",
            &["5.1.4"],
        ),
        ExecPods => (
            "Exec into a pod is a shell as that pod: its ServiceAccount token, its mounted Secrets and its \
             network position.",
            &[],
        ),
        Escalate | Bind => (
            "`escalate` and `bind` let the subject grant permissions it does not hold, up to cluster-admin.",
            &["5.1.8"],
        ),
        Impersonate => (
            "Impersonation acts as any user, group or ServiceAccount, with all of its permissions.",
            &["5.1.8"],
        ),
        CreateTokens => (
            "Creating tokens for a ServiceAccount is holding its permissions.",
            &[],
        ),
        ApproveCsr | SignCsr => (
            "Approving or signing certificate requests mints client certificates, for `system:masters` \
             among others.",
            &["5.1.11"],
        ),
        AdmissionWebhooks => (
            "A webhook configuration sees or rewrites every matching request, and can switch off the \
             cluster's admission controls.",
            &["5.1.12"],
        ),
        NodesProxy => (
            "`nodes/proxy` reaches the kubelet API, which runs commands in any pod on the node and is not \
             audited by the API server.",
            &["5.1.10"],
        ),
        PatchNodes => (
            "Patching nodes changes labels and taints, drawing sensitive pods onto a node the subject \
             controls.",
            &[],
        ),
        ManageRbac => (
            "Creating or changing roles and bindings is one step from granting anything.",
            &[],
        ),
    }
}

/// Every slug the RBAC analyzer reports: one per capability, escalation paths, bindings to
/// missing roles and malformed RBAC fields.
pub fn checks() -> Vec<CheckInfo> {
    let mut out: Vec<CheckInfo> = Capability::ALL
        .iter()
        .map(|&c| {
            let (why, cis) = why(c);
            let mut refs: Vec<String> = cis
                .iter()
                .map(|i| format!("CIS Kubernetes Benchmark {i}"))
                .collect();
            refs.push("Kubernetes documentation: RBAC good practices".into());
            let doc = format!(
                "## What it does\nFlags every subject (user, group or ServiceAccount) that the RBAC objects of the \
                 input, with the bootstrap roles, allow to {what}: one finding per subject, naming the binding, the \
                 role and the rule that grant it. Cluster-wide grants are reported at the severity shown, grants in \
                 one namespace one step lower.\n\n## Why is this bad?\n{why}\n\n## Remediation\nNarrow the role or \
                 the binding; `rampart rbac who-can` and `rampart rbac paths` show who holds it and what it leads \
                 to.\n\n## References\n{refs}\n",
                what = c.what(),
                refs = refs.iter().map(|r| format!("- {r}")).collect::<Vec<_>>().join("\n"),
            );
            let mut info = CheckInfo::new(
                c.slug(),
                c.severity(true),
                Origin::Rbac,
                format!("A subject can {}", c.what()),
            )
            .doc(doc)
            .cis(cis.iter().copied())
            .references(refs);
            for a in aliases(c) {
                info = info.alias(*a);
            }
            info
        })
        .collect();
    out.push(
        CheckInfo::new(
            "rbac-escalation-path",
            Severity::Critical,
            Origin::Rbac,
            "A pod's ServiceAccount token leads to cluster-admin power or all Secrets",
        )
        .doc(
            "## What it does\nFollows the attack chain from every pod that mounts a ServiceAccount token: what the \
             token can do, which further identities it can become (creating pods with another ServiceAccount, \
             reading token Secrets, impersonating, binding roles), and reports the shortest path to \
             cluster-admin-equivalent power or to reading Secrets.\n\n## Why is this bad?\nOne exploited app is \
             then the whole cluster.\n\n## Remediation\nBreak the chain at its first step: stop mounting the \
             token, or remove the grant that lets the identity become a more privileged one. `rampart rbac \
             paths` draws the graph.\n",
        ),
    );
    out.extend(crate::unbound::checks());
    out.push(
        CheckInfo::new(
            "rbac-invalid",
            Severity::Low,
            Origin::Rbac,
            "An RBAC object has a field the API server would reject or ignore",
        )
        .doc(
            "## What it does\nFlags Roles, ClusterRoles and bindings with malformed fields (a subject without a \
             name, a roleRef of the wrong kind, a rule without verbs).\n\n## Why is this bad?\nThe object does \
             not grant what its author meant.\n\n## Remediation\nFix the field the message names.\n",
        ),
    );
    out
}
