use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting `create` on pods or on workload resources (deployments, daemonsets,
/// statefulsets, replicasets, jobs, cronjobs, replicationcontrollers).
///
/// ## Why is this bad?
/// Whoever creates a pod can run it as any ServiceAccount of the namespace and mount any Secret:
/// creating workloads is reading all Secrets of the namespace.
///
/// ## Remediation
/// Limit workload creation to deployment pipelines; check with `rampart rbac paths` what the
/// namespace's ServiceAccounts can do.
///
/// ## References
/// - Kubernetes documentation: RBAC good practices (workload creation)
    RbacWorkloadCreate { slug: "rbac-workload-create", severity: Medium, summary: "A rule grants creating pods or workloads" }
}

impl Check for RbacWorkloadCreate {
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
            if (group_ok(&groups, "")
                && res_ok(&resources, "pods")
                && verb_ok(&verbs, &["create", "*"]))
                || (group_ok(&groups, "")
                    && res_ok(&resources, "replicationcontrollers")
                    && verb_ok(&verbs, &["create", "*"]))
                || (group_ok(&groups, "apps")
                    && res_ok(&resources, "deployments")
                    && verb_ok(&verbs, &["create", "*"]))
                || (group_ok(&groups, "apps")
                    && res_ok(&resources, "daemonsets")
                    && verb_ok(&verbs, &["create", "*"]))
                || (group_ok(&groups, "apps")
                    && res_ok(&resources, "statefulsets")
                    && verb_ok(&verbs, &["create", "*"]))
                || (group_ok(&groups, "apps")
                    && res_ok(&resources, "replicasets")
                    && verb_ok(&verbs, &["create", "*"]))
                || (group_ok(&groups, "batch")
                    && res_ok(&resources, "jobs")
                    && verb_ok(&verbs, &["create", "*"]))
                || (group_ok(&groups, "batch")
                    && res_ok(&resources, "cronjobs")
                    && verb_ok(&verbs, &["create", "*"]))
            {
                out.emit(cx.obj, &ptr, format!("rule {i} grants creating workloads, and so the use of every ServiceAccount and Secret of the namespace"));
            }
        }
    }
}
