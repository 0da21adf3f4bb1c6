use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags namespaced objects with `metadata.namespace: default` explicitly. Cluster-scoped kinds
/// (ClusterRole, Namespace, StorageClass, ...) are skipped: the API server ignores a stray
/// `namespace:` on them. So are Roles and RoleBindings: they place nothing in the namespace, and
/// access to what is there (the API server's `kubernetes` Service and its endpoints, which
/// monitoring systems discover) can only be granted in it.
///
/// ## Why is this bad?
/// The default namespace is where everything unplanned lands; it rarely has Pod Security labels,
/// NetworkPolicies or quotas, so workloads there get none of the namespace-level controls.
///
/// ## Remediation
/// Create a namespace per application or team and deploy there.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.7.4
    DefaultNamespace { slug: "default-namespace", severity: Low, summary: "An object is placed in the default namespace" }
}

impl Check for DefaultNamespace {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let grants_access = cx.obj.group() == "rbac.authorization.k8s.io"
            && matches!(cx.kind(), "Role" | "RoleBinding");
        if cx.obj.namespace() == Some("default")
            && !grants_access
            && !rampart_manifest::builtin::is_cluster_scoped(cx.obj.group(), cx.kind())
        {
            out.emit(
                cx.obj,
                "/metadata/namespace",
                format!(
                    "{} {} is in the default namespace",
                    cx.kind(),
                    cx.obj.name()
                ),
            );
        }
    }
}
