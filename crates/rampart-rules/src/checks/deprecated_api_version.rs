use crate::KubeVersion;
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Severity;

declare_check! {
/// ## What it does
/// Flags objects whose `apiVersion`/`kind` the Kubernetes Deprecated API Migration Guide lists as
/// removed: every entry of the guide, from the `extensions/v1beta1` workloads removed in 1.16 to the
/// `flowcontrol.apiserver.k8s.io/v1beta3` FlowSchemas removed in 1.32, each with its replacement.
/// The `kubeVersion` setting (`--kube-version`) names the target release: versions removed by then
/// are reported at the check's severity; those removed in a later release at low severity, as
/// upcoming removals. Without it, the target is the newest release and every removed version is
/// reported.
/// The replacement named is one the target serves: for FlowSchemas and
/// PriorityLevelConfigurations on a target older than 1.29, the guide's `v1beta3`, not `v1`.
///
/// ## Why is this bad?
/// The API server rejects removed versions: the manifest fails to apply on upgrade, often in the
/// middle of an incident. PodSecurityPolicy is gone entirely.
///
/// ## Remediation
/// Move to the API version named in the message (`kubectl convert` helps), and review the notable
/// changes the migration guide lists for it.
///
/// ## References
/// - Kubernetes Deprecated API Migration Guide
    DeprecatedApiVersion { slug: "deprecated-api-version", severity: Medium, summary: "An object uses a removed or deprecated API version" }
}

/// One removed API version: (apiVersion, kind, replacement, removed in 1.N).
type Removal = (&'static str, &'static str, &'static str, u32);

const PSA: &str = "Pod Security Admission (PodSecurityPolicy is gone)";

/// Replacements that a target release may not serve yet: (removed apiVersion, the replacement
/// to use before 1.N, 1.N where the table's replacement is first served). The guide sends
/// `flowcontrol.apiserver.k8s.io/v1beta1` (removed in 1.26) and `v1beta2` (removed in 1.29)
/// to `v1beta3` (served since 1.26) for clusters older than 1.29, where `v1` arrives.
const INTERIM: &[(&str, &str, u32)] = &[
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "flowcontrol.apiserver.k8s.io/v1beta3",
        29,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "flowcontrol.apiserver.k8s.io/v1beta3",
        29,
    ),
];

/// The replacement to name for a target release.
fn replacement(api: &str, to: &'static str, target: Option<KubeVersion>) -> &'static str {
    INTERIM
        .iter()
        .find(|(a, _, since)| *a == api && target.is_some_and(|t| t < KubeVersion::new(1, *since)))
        .map_or(to, |(_, interim, _)| interim)
}

/// The Deprecated API Migration Guide, every entry.
pub(crate) const REMOVED: &[Removal] = &[
    // v1.32
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1",
        32,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1",
        32,
    ),
    // v1.29
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1",
        29,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1",
        29,
    ),
    // v1.27
    (
        "storage.k8s.io/v1beta1",
        "CSIStorageCapacity",
        "storage.k8s.io/v1",
        27,
    ),
    // v1.26
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1",
        26,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1",
        26,
    ),
    (
        "autoscaling/v2beta2",
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
        26,
    ),
    // v1.25
    ("batch/v1beta1", "CronJob", "batch/v1", 25),
    (
        "discovery.k8s.io/v1beta1",
        "EndpointSlice",
        "discovery.k8s.io/v1",
        25,
    ),
    ("events.k8s.io/v1beta1", "Event", "events.k8s.io/v1", 25),
    (
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
        25,
    ),
    ("policy/v1beta1", "PodDisruptionBudget", "policy/v1", 25),
    ("policy/v1beta1", "PodSecurityPolicy", PSA, 25),
    ("node.k8s.io/v1beta1", "RuntimeClass", "node.k8s.io/v1", 25),
    // v1.22
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
        22,
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
        22,
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        "apiextensions.k8s.io/v1",
        22,
    ),
    (
        "apiregistration.k8s.io/v1beta1",
        "APIService",
        "apiregistration.k8s.io/v1",
        22,
    ),
    (
        "authentication.k8s.io/v1beta1",
        "TokenReview",
        "authentication.k8s.io/v1",
        22,
    ),
    (
        "authorization.k8s.io/v1beta1",
        "LocalSubjectAccessReview",
        "authorization.k8s.io/v1",
        22,
    ),
    (
        "authorization.k8s.io/v1beta1",
        "SelfSubjectAccessReview",
        "authorization.k8s.io/v1",
        22,
    ),
    (
        "authorization.k8s.io/v1beta1",
        "SubjectAccessReview",
        "authorization.k8s.io/v1",
        22,
    ),
    (
        "certificates.k8s.io/v1beta1",
        "CertificateSigningRequest",
        "certificates.k8s.io/v1",
        22,
    ),
    (
        "coordination.k8s.io/v1beta1",
        "Lease",
        "coordination.k8s.io/v1",
        22,
    ),
    ("extensions/v1beta1", "Ingress", "networking.k8s.io/v1", 22),
    (
        "networking.k8s.io/v1beta1",
        "Ingress",
        "networking.k8s.io/v1",
        22,
    ),
    (
        "networking.k8s.io/v1beta1",
        "IngressClass",
        "networking.k8s.io/v1",
        22,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
        22,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        22,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "Role",
        "rbac.authorization.k8s.io/v1",
        22,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        "rbac.authorization.k8s.io/v1",
        22,
    ),
    (
        "scheduling.k8s.io/v1beta1",
        "PriorityClass",
        "scheduling.k8s.io/v1",
        22,
    ),
    (
        "storage.k8s.io/v1beta1",
        "CSIDriver",
        "storage.k8s.io/v1",
        22,
    ),
    ("storage.k8s.io/v1beta1", "CSINode", "storage.k8s.io/v1", 22),
    (
        "storage.k8s.io/v1beta1",
        "StorageClass",
        "storage.k8s.io/v1",
        22,
    ),
    (
        "storage.k8s.io/v1beta1",
        "VolumeAttachment",
        "storage.k8s.io/v1",
        22,
    ),
    // v1.16
    (
        "extensions/v1beta1",
        "NetworkPolicy",
        "networking.k8s.io/v1",
        16,
    ),
    ("extensions/v1beta1", "PodSecurityPolicy", PSA, 16),
    ("extensions/v1beta1", "DaemonSet", "apps/v1", 16),
    ("apps/v1beta2", "DaemonSet", "apps/v1", 16),
    ("extensions/v1beta1", "Deployment", "apps/v1", 16),
    ("apps/v1beta1", "Deployment", "apps/v1", 16),
    ("apps/v1beta2", "Deployment", "apps/v1", 16),
    ("apps/v1beta1", "StatefulSet", "apps/v1", 16),
    ("apps/v1beta2", "StatefulSet", "apps/v1", 16),
    ("extensions/v1beta1", "ReplicaSet", "apps/v1", 16),
    ("apps/v1beta1", "ReplicaSet", "apps/v1", 16),
    ("apps/v1beta2", "ReplicaSet", "apps/v1", 16),
];

impl Check for DeprecatedApiVersion {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let (api, kind) = (cx.obj.api_version(), cx.kind());
        let Some((_, _, to, removed)) = REMOVED.iter().find(|(a, k, ..)| *a == api && *k == kind)
        else {
            return;
        };
        let removed = KubeVersion::new(1, *removed);
        let to = replacement(api, to, cx.config.settings.kube_version);
        match cx.config.settings.kube_version {
            Some(target) if target < removed => {
                let f = out.emit(
                    cx.obj,
                    "/apiVersion",
                    format!(
                        "{kind} {api} is deprecated and no longer served from Kubernetes {removed} (target {target}): use {to}"
                    ),
                );
                f.severity = f.severity.min(Severity::Low);
            }
            _ => {
                out.emit(
                    cx.obj,
                    "/apiVersion",
                    format!("{kind} {api} was removed in Kubernetes {removed}: use {to}"),
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{KubeVersion, REMOVED, replacement};

    /// The replacement named is one the target release serves.
    #[test]
    fn the_replacement_is_served_by_the_target() {
        let v1 = "flowcontrol.apiserver.k8s.io/v1";
        let v1beta3 = "flowcontrol.apiserver.k8s.io/v1beta3";
        let old = "flowcontrol.apiserver.k8s.io/v1beta1";
        assert_eq!(replacement(old, v1, None), v1);
        assert_eq!(replacement(old, v1, Some(KubeVersion::new(1, 29))), v1);
        assert_eq!(replacement(old, v1, Some(KubeVersion::new(1, 26))), v1beta3);
        assert_eq!(
            replacement(
                "flowcontrol.apiserver.k8s.io/v1beta2",
                v1,
                Some(KubeVersion::new(1, 28))
            ),
            v1beta3
        );
        assert_eq!(
            replacement("batch/v1beta1", "batch/v1", Some(KubeVersion::new(1, 20))),
            "batch/v1"
        );
    }

    /// One entry per (apiVersion, kind), and the replacement is always a different version.
    #[test]
    fn the_table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for (api, kind, to, removed) in REMOVED {
            assert!(seen.insert((api, kind)), "{api} {kind} twice");
            assert_ne!(api, to);
            assert!((16..=32).contains(removed));
        }
        assert_eq!(REMOVED.len(), 49);
    }

    /// With a target release, versions removed later are upcoming removals at low severity;
    /// without one, every removed version is reported at the check's severity.
    #[test]
    fn kube_version_chooses_the_target() {
        use crate::{Catalog, Config, KubeVersion};
        use rampart_core::Severity;
        let loaded = rampart_manifest::load_str(
            "d.yaml",
            "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c, namespace: shop}\nspec: {}\n---\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i, namespace: shop}\n",
        );
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let severities = |target: Option<KubeVersion>| {
            let mut config = Config::default();
            config.settings.kube_version = target;
            config.checks.only = Some(vec!["deprecated-api-version".to_string()]);
            let catalog = Catalog::new(config).unwrap();
            catalog
                .check_all(&loaded.objects)
                .into_iter()
                .map(|f| (f.object.unwrap().name.clone(), f.severity))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            severities(None),
            vec![
                ("c".into(), Severity::Medium),
                ("i".into(), Severity::Medium)
            ]
        );
        assert_eq!(
            severities(Some(KubeVersion::new(1, 22))),
            vec![("c".into(), Severity::Low), ("i".into(), Severity::Medium)]
        );
        assert_eq!(
            severities(Some(KubeVersion::new(1, 21))),
            vec![("c".into(), Severity::Low), ("i".into(), Severity::Low)]
        );
    }
}
