//! The catalog: every check, one per file.

mod automount_service_account_token;
mod binding_to_anonymous;
mod capabilities_not_dropped;
mod configmap_with_credentials;
mod credential_in_annotation;
mod cronjob_missing_concurrency_policy;
mod custom_selinux_options;
mod dangerous_capability;
mod dangling_service;
mod default_namespace;
mod default_service_account;
mod deprecated_api_version;
mod docker_socket_mount;
mod duplicate_env_var;
mod emptydir_without_size_limit;
mod exposed_service;
mod hardcoded_secret_in_env;
mod host_ipc;
mod host_network;
mod host_path_volume;
mod host_pid;
mod host_port;
mod host_users_enabled;
mod ignore_without_reason;
mod image_not_pinned_by_digest;
mod image_pull_policy_not_always;
mod ingress_wildcard_host;
mod ingress_without_tls;
mod kube_system_workload;
mod latest_tag;
mod missing_anti_affinity;
mod missing_cpu_limit;
mod missing_cpu_request;
mod missing_liveness_probe;
mod missing_memory_limit;
mod missing_memory_request;
mod missing_pod_disruption_budget;
mod missing_pod_security_labels;
mod missing_readiness_probe;
mod missing_required_labels;
mod missing_seccomp_profile;
mod nginx_ingress_snippet_annotation;
mod pdb_blocks_eviction;
mod plaintext_secret_manifest;
mod privilege_escalation_container;
mod privileged_container;
mod privileged_port;
mod rbac_persistent_volume_create;
mod rbac_privilege_escalation_verbs;
mod run_as_low_uid;
mod run_as_root;
mod run_as_root_group;
mod secret_as_env_var;
mod sensitive_host_path;
mod service_account_token_secret;
mod service_external_ips;
mod share_process_namespace;
mod ssh_port_exposed;
mod unconfined_apparmor_profile;
mod unconfined_seccomp_profile;
mod unmasked_proc_mount;
mod unsafe_sysctls;
mod untrusted_registry;
mod windows_host_process;
mod writable_host_path;
mod writable_root_filesystem;

use crate::check::{Check, ObjectContext};
use rampart_core::Field;
use rampart_manifest::PodSpecRef;
use serde_json::{Map, Value};

/// Every check, in catalog order.
pub(crate) static ALL: &[&dyn Check] = &[
    &privileged_container::PrivilegedContainer,
    &privilege_escalation_container::PrivilegeEscalationContainer,
    &run_as_root::RunAsRoot,
    &writable_root_filesystem::WritableRootFilesystem,
    &capabilities_not_dropped::CapabilitiesNotDropped,
    &dangerous_capability::DangerousCapability,
    &host_network::HostNetwork,
    &host_pid::HostPid,
    &host_ipc::HostIpc,
    &host_port::HostPort,
    &host_path_volume::HostPathVolume,
    &docker_socket_mount::DockerSocketMount,
    &missing_seccomp_profile::MissingSeccompProfile,
    &missing_cpu_limit::MissingCpuLimit,
    &missing_memory_limit::MissingMemoryLimit,
    &missing_cpu_request::MissingCpuRequest,
    &missing_memory_request::MissingMemoryRequest,
    &latest_tag::LatestTag,
    &image_not_pinned_by_digest::ImageNotPinnedByDigest,
    &missing_liveness_probe::MissingLivenessProbe,
    &missing_readiness_probe::MissingReadinessProbe,
    &default_service_account::DefaultServiceAccount,
    &automount_service_account_token::AutomountServiceAccountToken,
    &hardcoded_secret_in_env::HardcodedSecretInEnv,
    &secret_as_env_var::SecretAsEnvVar,
    &configmap_with_credentials::ConfigmapWithCredentials,
    &plaintext_secret_manifest::PlaintextSecretManifest,
    &credential_in_annotation::CredentialInAnnotation,
    &rbac_privilege_escalation_verbs::RbacPrivilegeEscalationVerbs,
    &missing_pod_security_labels::MissingPodSecurityLabels,
    &missing_pod_disruption_budget::MissingPodDisruptionBudget,
    &ingress_without_tls::IngressWithoutTls,
    &nginx_ingress_snippet_annotation::NginxIngressSnippetAnnotation,
    &exposed_service::ExposedService,
    &unconfined_seccomp_profile::UnconfinedSeccompProfile,
    &unconfined_apparmor_profile::UnconfinedApparmorProfile,
    &unmasked_proc_mount::UnmaskedProcMount,
    &unsafe_sysctls::UnsafeSysctls,
    &custom_selinux_options::CustomSelinuxOptions,
    &windows_host_process::WindowsHostProcess,
    &run_as_root_group::RunAsRootGroup,
    &run_as_low_uid::RunAsLowUid,
    &untrusted_registry::UntrustedRegistry,
    &missing_required_labels::MissingRequiredLabels,
    &sensitive_host_path::SensitiveHostPath,
    &writable_host_path::WritableHostPath,
    &deprecated_api_version::DeprecatedApiVersion,
    &default_namespace::DefaultNamespace,
    &service_account_token_secret::ServiceAccountTokenSecret,
    &rbac_persistent_volume_create::RbacPersistentVolumeCreate,
    &binding_to_anonymous::BindingToAnonymous,
    &ingress_wildcard_host::IngressWildcardHost,
    &service_external_ips::ServiceExternalIps,
    &share_process_namespace::ShareProcessNamespace,
    &dangling_service::DanglingService,
    &pdb_blocks_eviction::PdbBlocksEviction,
    &missing_anti_affinity::MissingAntiAffinity,
    &ssh_port_exposed::SshPortExposed,
    &privileged_port::PrivilegedPort,
    &duplicate_env_var::DuplicateEnvVar,
    &emptydir_without_size_limit::EmptydirWithoutSizeLimit,
    &host_users_enabled::HostUsersEnabled,
    &ignore_without_reason::IgnoreWithoutReason,
    &image_pull_policy_not_always::ImagePullPolicyNotAlways,
    &cronjob_missing_concurrency_policy::CronjobMissingConcurrencyPolicy,
    &kube_system_workload::KubeSystemWorkload,
];

/// Former slugs that still resolve, as (old, current). Slugs whose concept now belongs to an
/// analyzer (RBAC grants, NetworkPolicy isolation) are that analyzer's aliases, not listed here.
pub(crate) static ALIASES: &[(&str, &str)] = &[
    ("privileged", "privileged-container"),
    ("no-read-only-root-fs", "writable-root-filesystem"),
    ("run-as-non-root", "run-as-root"),
];

/// The pod's volumes with their index.
pub(crate) fn volumes<'a>(
    pod: &PodSpecRef<'a>,
) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> {
    pod.spec
        .field("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.as_object()?)))
}

/// A volume's (or any named item's) name.
pub(crate) fn name(v: &Map<String, Value>) -> &str {
    v.field("name").and_then(Value::as_str).unwrap_or("")
}

/// One rule of a Role or ClusterRole, read once for the RBAC checks.
pub(crate) struct RuleView<'a> {
    pub index: usize,
    /// `/rules/<index>`
    pub pointer: String,
    pub verbs: Vec<&'a str>,
    pub resources: Vec<&'a str>,
    pub groups: Vec<&'a str>,
}

impl RuleView<'_> {
    /// The first of `verbs` this rule grants on `group`/`resource` (RBAC's matching: `*`
    /// wildcards, `*/subresource`; `pods/*` is not a wildcard).
    pub fn grants<'v>(&self, verbs: &[&'v str], group: &str, resource: &str) -> Option<&'v str> {
        let group_ok = self.groups.iter().any(|g| *g == "*" || *g == group);
        let resource_ok = self.resources.iter().any(|r| {
            *r == "*"
                || *r == resource
                || resource
                    .split_once('/')
                    .is_some_and(|(_, sub)| r.strip_prefix("*/") == Some(sub))
        });
        if !group_ok || !resource_ok {
            return None;
        }
        verbs
            .iter()
            .copied()
            .find(|v| self.verbs.iter().any(|rv| *rv == "*" || rv == v))
    }
}

/// The rules of a Role or ClusterRole (nothing for any other object).
pub(crate) fn role_rules<'a>(cx: &ObjectContext<'a>) -> Vec<RuleView<'a>> {
    if !cx.is(&["rbac.authorization.k8s.io"], "Role")
        && !cx.is(&["rbac.authorization.k8s.io"], "ClusterRole")
    {
        return Vec::new();
    }
    let Some(rules) = cx.obj.value.field("rules").and_then(Value::as_array) else {
        return Vec::new();
    };
    rules
        .iter()
        .enumerate()
        .map(|(index, rule)| RuleView {
            index,
            pointer: format!("/rules/{index}"),
            verbs: crate::util::strings(rule.field("verbs")),
            resources: crate::util::strings(rule.field("resources")),
            groups: crate::util::strings(rule.field("apiGroups")),
        })
        .collect()
}
