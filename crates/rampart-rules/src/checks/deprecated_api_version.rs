use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags objects whose `apiVersion`/`kind` was removed from Kubernetes (e.g. `extensions/v1beta1`
/// Deployments, `policy/v1beta1` PodSecurityPolicy, `batch/v1beta1` CronJob).
///
/// ## Why is this bad?
/// The API server rejects removed versions: the manifest fails to apply on upgrade, often in the
/// middle of an incident. PodSecurityPolicy is gone entirely.
///
/// ## Remediation
/// Move to the stable API version named in the message.
///
/// ## References
/// - Kubernetes Deprecated API Migration Guide
    DeprecatedApiVersion { slug: "deprecated-api-version", severity: Medium, summary: "An object uses a removed or deprecated API version" }
}

impl Check for DeprecatedApiVersion {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        const REMOVED: &[(&str, &str, &str, &str)] = &[
            ("extensions/v1beta1", "Deployment", "apps/v1", "1.16"),
            ("extensions/v1beta1", "DaemonSet", "apps/v1", "1.16"),
            ("extensions/v1beta1", "ReplicaSet", "apps/v1", "1.16"),
            (
                "extensions/v1beta1",
                "NetworkPolicy",
                "networking.k8s.io/v1",
                "1.16",
            ),
            (
                "extensions/v1beta1",
                "PodSecurityPolicy",
                "Pod Security Admission (PodSecurityPolicy is gone)",
                "1.16",
            ),
            (
                "extensions/v1beta1",
                "Ingress",
                "networking.k8s.io/v1",
                "1.22",
            ),
            ("apps/v1beta1", "Deployment", "apps/v1", "1.16"),
            ("apps/v1beta2", "Deployment", "apps/v1", "1.16"),
            ("apps/v1beta1", "StatefulSet", "apps/v1", "1.16"),
            ("apps/v1beta2", "StatefulSet", "apps/v1", "1.16"),
            ("apps/v1beta2", "DaemonSet", "apps/v1", "1.16"),
            ("apps/v1beta2", "ReplicaSet", "apps/v1", "1.16"),
            (
                "networking.k8s.io/v1beta1",
                "Ingress",
                "networking.k8s.io/v1",
                "1.22",
            ),
            (
                "networking.k8s.io/v1beta1",
                "IngressClass",
                "networking.k8s.io/v1",
                "1.22",
            ),
            (
                "rbac.authorization.k8s.io/v1beta1",
                "ClusterRole",
                "rbac.authorization.k8s.io/v1",
                "1.22",
            ),
            (
                "rbac.authorization.k8s.io/v1beta1",
                "ClusterRoleBinding",
                "rbac.authorization.k8s.io/v1",
                "1.22",
            ),
            (
                "rbac.authorization.k8s.io/v1beta1",
                "Role",
                "rbac.authorization.k8s.io/v1",
                "1.22",
            ),
            (
                "rbac.authorization.k8s.io/v1beta1",
                "RoleBinding",
                "rbac.authorization.k8s.io/v1",
                "1.22",
            ),
            (
                "admissionregistration.k8s.io/v1beta1",
                "ValidatingWebhookConfiguration",
                "admissionregistration.k8s.io/v1",
                "1.22",
            ),
            (
                "admissionregistration.k8s.io/v1beta1",
                "MutatingWebhookConfiguration",
                "admissionregistration.k8s.io/v1",
                "1.22",
            ),
            (
                "apiextensions.k8s.io/v1beta1",
                "CustomResourceDefinition",
                "apiextensions.k8s.io/v1",
                "1.22",
            ),
            ("batch/v1beta1", "CronJob", "batch/v1", "1.25"),
            ("policy/v1beta1", "PodDisruptionBudget", "policy/v1", "1.25"),
            (
                "policy/v1beta1",
                "PodSecurityPolicy",
                "Pod Security Admission (PodSecurityPolicy is gone)",
                "1.25",
            ),
            (
                "autoscaling/v2beta1",
                "HorizontalPodAutoscaler",
                "autoscaling/v2",
                "1.25",
            ),
            (
                "autoscaling/v2beta2",
                "HorizontalPodAutoscaler",
                "autoscaling/v2",
                "1.26",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta2",
                "FlowSchema",
                "flowcontrol.apiserver.k8s.io/v1",
                "1.29",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta2",
                "PriorityLevelConfiguration",
                "flowcontrol.apiserver.k8s.io/v1",
                "1.29",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta3",
                "FlowSchema",
                "flowcontrol.apiserver.k8s.io/v1",
                "1.32",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta3",
                "PriorityLevelConfiguration",
                "flowcontrol.apiserver.k8s.io/v1",
                "1.32",
            ),
        ];
        let (api, kind) = (cx.obj.api_version(), cx.kind());
        if let Some((_, _, to, removed)) = REMOVED.iter().find(|(a, k, ..)| *a == api && *k == kind)
        {
            out.emit(
                cx.obj,
                "/apiVersion",
                format!("{kind} {api} was removed in Kubernetes {removed}: use {to}"),
            );
        }
    }
}
