use super::role_rules;
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

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
        for r in role_rules(cx) {
            for (field, list) in [
                ("verbs", &r.verbs),
                ("resources", &r.resources),
                ("apiGroups", &r.groups),
            ] {
                if list.contains(&"*") {
                    let what = field.trim_end_matches('s');
                    out.emit(
                        cx.obj,
                        &format!("{}/{field}", r.pointer),
                        format!("rule {} grants every {what} (\"*\")", r.index),
                    );
                }
            }
        }
    }
}
