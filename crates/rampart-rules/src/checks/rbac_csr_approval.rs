use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting `update` on `certificatesigningrequests/approval` or
/// `certificatesigningrequests/status`, or `approve`/`sign` on signers.
///
/// ## Why is this bad?
/// Approving CSRs mints client certificates: a certificate for `system:masters` is cluster-admin.
///
/// ## Remediation
/// Restrict CSR approval to the controller manager and trusted automation.
///
/// ## References
/// - Kubernetes documentation: Certificates and Certificate Signing Requests
    RbacCsrApproval { slug: "rbac-csr-approval", severity: High, summary: "A rule grants approving or signing CSRs" }
}

impl Check for RbacCsrApproval {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !matches!(cx.kind(), "Role" | "ClusterRole")
            || cx.obj.group() != "rbac.authorization.k8s.io"
        {
            return;
        }
        let Some(rules) = cx.obj.value.get("rules").and_then(|r| r.as_array()) else {
            return;
        };
        for (i, rule) in rules.iter().enumerate() {
            let verbs = strings(rule.get("verbs"));
            let resources = strings(rule.get("resources"));
            let groups = strings(rule.get("apiGroups"));
            let ptr = format!("/rules/{i}");
            if (group_ok(&groups, "certificates.k8s.io")
                && res_ok(&resources, "certificatesigningrequests/approval")
                && verb_ok(&verbs, &["update", "patch", "*"]))
                || (group_ok(&groups, "certificates.k8s.io")
                    && res_ok(&resources, "certificatesigningrequests/status")
                    && verb_ok(&verbs, &["update", "patch", "*"]))
                || (group_ok(&groups, "certificates.k8s.io")
                    && res_ok(&resources, "signers")
                    && verb_ok(&verbs, &["approve", "sign", "*"]))
            {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants approving or signing certificate requests"),
                );
            }
        }
    }
}
