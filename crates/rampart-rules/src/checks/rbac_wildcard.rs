use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags Role and ClusterRole rules with `*` in `verbs`, `resources` or `apiGroups`.
///
/// ## Why is this bad?
/// Wildcards grant everything that exists now and everything added later (new CRDs, new
/// subresources): a rule meant to be broad becomes cluster-admin.
///
/// ## Remediation
/// List the verbs, resources and API groups the subject actually needs.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.3
/// - Kubernetes documentation: RBAC good practices
    RbacWildcard { slug: "rbac-wildcard", severity: High, summary: "A Role or ClusterRole rule uses a wildcard" }
}

impl Check for RbacWildcard {
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
            for (field, list) in [
                ("verbs", &verbs),
                ("resources", &resources),
                ("apiGroups", &groups),
            ] {
                if list.contains(&"*") {
                    out.emit(
                        cx.obj,
                        &format!("{ptr}/{field}"),
                        format!(
                            "rule {i} grants every {} (\"*\")",
                            field.trim_end_matches('s')
                        ),
                    );
                }
            }
        }
    }
}
