//! The five components, how to recognise them, their boolean flags and their defaults.

use serde::Serialize;

/// A control-plane or node component the benchmark covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    ApiServer,
    ControllerManager,
    Scheduler,
    Etcd,
    Kubelet,
    Proxy,
}

/// The newest Kubernetes minor version whose defaults are modelled.
pub const NEWEST_MINOR: u32 = KubeVersion::NEWEST.minor;
/// The oldest one.
pub const OLDEST_MINOR: u32 = 24;

pub use rampart_core::KubeVersion;

/// A `--kube-version` whose defaults are not modelled (`1.24` … `1.34`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported Kubernetes version `{0}`, expected 1.{OLDEST_MINOR} to 1.{NEWEST_MINOR}")]
pub struct BadVersion(pub String);

/// Parses a version whose defaults are modelled, for `rampart node --kube-version`.
pub fn parse_supported(s: &str) -> Result<KubeVersion, BadVersion> {
    match s.parse::<KubeVersion>() {
        Ok(v) if v.major == 1 && (OLDEST_MINOR..=NEWEST_MINOR).contains(&v.minor) => Ok(v),
        _ => Err(BadVersion(s.to_string())),
    }
}

/// The modelled release nearest to `v`, whose defaults stand in for it where a scan targets a
/// release outside `1.24` … `1.34` (the deprecated-API table reads `v` itself).
pub fn modelled(v: KubeVersion) -> KubeVersion {
    KubeVersion::new(1, v.minor.clamp(OLDEST_MINOR, NEWEST_MINOR))
}

const COMMON_BOOL: &[&str] = &[
    "help",
    "version",
    "alsologtostderr",
    "logtostderr",
    "add-dir-header",
    "skip-headers",
    "skip-log-headers",
    "one-output",
    "log-flush-frequency-enabled",
    "permit-port-sharing",
    "permit-address-sharing",
    "contention-profiling",
    "profiling",
];

const APISERVER_BOOL: &[&str] = &[
    "anonymous-auth",
    "service-account-lookup",
    "service-account-extend-token-expiration",
    "allow-privileged",
    "enable-aggregator-routing",
    "audit-log-compress",
    "audit-log-truncate-enabled",
    "audit-webhook-truncate-enabled",
    "enable-garbage-collector",
    "enable-priority-and-fairness",
    "enable-bootstrap-token-auth",
    "enable-logs-handler",
    "watch-cache",
    "kubelet-https",
    "delete-collection-workers-enabled",
    "strict-transport-security-directives-enabled",
    "disable-http2-serving",
    "emulated-version-enabled",
    "storage-initialization-timeout-enabled",
    "enable-contention-profiling",
];

const CONTROLLER_MANAGER_BOOL: &[&str] = &[
    "use-service-account-credentials",
    "allocate-node-cidrs",
    "configure-cloud-routes",
    "enable-dynamic-provisioning",
    "enable-garbage-collector",
    "enable-hostpath-provisioner",
    "enable-taint-manager",
    "leader-elect",
    "enable-leader-migration",
    "disable-attach-detach-reconcile-sync",
    "authentication-skip-lookup",
    "authentication-tolerate-lookup-failure",
];

const SCHEDULER_BOOL: &[&str] = &[
    "leader-elect",
    "authentication-skip-lookup",
    "authentication-tolerate-lookup-failure",
];

const KUBELET_BOOL: &[&str] = &[
    "anonymous-auth",
    "authentication-token-webhook",
    "make-iptables-util-chains",
    "rotate-certificates",
    "rotate-server-certificates",
    "seccomp-default",
    "protect-kernel-defaults",
    "fail-swap-on",
    "register-node",
    "register-schedulable",
    "enable-server",
    "enable-debugging-handlers",
    "enable-controller-attach-detach",
    "kernel-memcg-notification",
    "exit-on-lock-contention",
    "serialize-image-pulls",
    "cgroups-per-qos",
    "keep-terminated-pod-volumes",
    "local-storage-capacity-isolation",
    "enable-load-reader",
    "fail-cgroupv1",
    "containerized",
];

const PROXY_BOOL: &[&str] = &["masquerade-all", "cleanup", "init-only"];

const ETCD_BOOL: &[&str] = &[
    "client-cert-auth",
    "peer-client-cert-auth",
    "auto-tls",
    "peer-auto-tls",
    "enable-v2",
    "enable-pprof",
    "strict-reconfig-check",
    "force-new-cluster",
    "debug",
    "enable-grpc-gateway",
    "pre-vote",
    "initial-corrupt-check",
    "unsafe-no-fsync",
    "socket-reuse-port",
    "socket-reuse-address",
    "enable-log-rotation",
    "experimental-initial-corrupt-check",
    "experimental-enable-distributed-tracing",
    "help",
    "version",
];

impl Component {
    pub const ALL: [Component; 6] = [
        Component::ApiServer,
        Component::ControllerManager,
        Component::Scheduler,
        Component::Etcd,
        Component::Kubelet,
        Component::Proxy,
    ];

    /// The binary's name.
    pub fn name(self) -> &'static str {
        match self {
            Component::ApiServer => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::Etcd => "etcd",
            Component::Kubelet => "kubelet",
            Component::Proxy => "kube-proxy",
        }
    }

    /// The component a program path or name runs (`/usr/local/bin/kube-apiserver`).
    pub fn from_program(program: &str) -> Option<Component> {
        let base = program.rsplit('/').next().unwrap_or(program);
        Component::ALL.into_iter().find(|c| c.name() == base)
    }

    /// The static Pod manifest kubeadm writes for it, relative to the root.
    pub fn manifest_path(self) -> Option<&'static str> {
        match self {
            Component::ApiServer => Some("/etc/kubernetes/manifests/kube-apiserver.yaml"),
            Component::ControllerManager => {
                Some("/etc/kubernetes/manifests/kube-controller-manager.yaml")
            }
            Component::Scheduler => Some("/etc/kubernetes/manifests/kube-scheduler.yaml"),
            Component::Etcd => Some("/etc/kubernetes/manifests/etcd.yaml"),
            Component::Kubelet | Component::Proxy => None,
        }
    }

    pub fn is_bool_flag(self, name: &str) -> bool {
        let own: &[&str] = match self {
            Component::ApiServer => APISERVER_BOOL,
            Component::ControllerManager => CONTROLLER_MANAGER_BOOL,
            Component::Scheduler => SCHEDULER_BOOL,
            Component::Etcd => return ETCD_BOOL.contains(&name),
            Component::Kubelet => KUBELET_BOOL,
            Component::Proxy => PROXY_BOOL,
        };
        own.contains(&name) || COMMON_BOOL.contains(&name)
    }

    /// Whether the flag is one whose meaning is modelled (so `--f -x` takes `-x` as its value).
    pub fn knows_flag(self, name: &str) -> bool {
        self.is_bool_flag(name) || flag_default(self, name, KubeVersion::default()).is_some()
    }
}

/// What a component does when a flag is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The flag's default value, as it would be written on the command line.
    Value(&'static str),
    /// The flag has no default: the feature it configures is off or unset.
    Unset,
}

/// The default of `--name` on `component` at `version`; `None` when the flag is not modelled.
pub fn flag_default(component: Component, name: &str, v: KubeVersion) -> Option<Fallback> {
    use Fallback::{Unset, Value};
    let _ = v;
    Some(match (component, name) {
        (Component::ApiServer, "anonymous-auth") => Value("true"),
        (Component::ApiServer, "authorization-mode") => Value("AlwaysAllow"),
        (Component::ApiServer, "enable-admission-plugins" | "disable-admission-plugins") => {
            Value("")
        }
        (Component::ApiServer, "profiling") => Value("true"),
        (
            Component::ApiServer,
            "audit-log-maxage" | "audit-log-maxbackup" | "audit-log-maxsize",
        ) => Value("0"),
        (Component::ApiServer, "request-timeout") => Value("1m0s"),
        (Component::ApiServer, "service-account-lookup") => Value("true"),
        (Component::ApiServer, "service-account-extend-token-expiration") => Value("true"),
        (
            Component::ApiServer,
            "token-auth-file"
            | "kubelet-client-certificate"
            | "kubelet-client-key"
            | "kubelet-certificate-authority"
            | "audit-log-path"
            | "audit-policy-file"
            | "service-account-key-file"
            | "etcd-certfile"
            | "etcd-keyfile"
            | "etcd-cafile"
            | "tls-cert-file"
            | "tls-private-key-file"
            | "client-ca-file"
            | "encryption-provider-config"
            | "admission-control-config-file"
            | "authorization-config"
            | "authentication-config"
            | "tls-cipher-suites"
            | "admission-control",
        ) => Unset,
        (Component::ControllerManager | Component::Scheduler, "profiling") => Value("true"),
        (Component::ControllerManager | Component::Scheduler, "bind-address") => Value("0.0.0.0"),
        (Component::ControllerManager, "terminated-pod-gc-threshold") => Value("12500"),
        (Component::ControllerManager, "use-service-account-credentials") => Value("false"),
        (
            Component::ControllerManager,
            "service-account-private-key-file" | "root-ca-file" | "kubeconfig",
        ) => Unset,
        (
            Component::ControllerManager | Component::Scheduler | Component::Kubelet,
            "feature-gates",
        ) => Value(""),
        (Component::Scheduler, "config" | "kubeconfig") => Unset,
        (
            Component::Etcd,
            "client-cert-auth" | "peer-client-cert-auth" | "auto-tls" | "peer-auto-tls",
        ) => Value("false"),
        (
            Component::Etcd,
            "cert-file"
            | "key-file"
            | "peer-cert-file"
            | "peer-key-file"
            | "trusted-ca-file"
            | "peer-trusted-ca-file"
            | "config-file",
        ) => Unset,
        (Component::Etcd, "data-dir") => Value("${name}.etcd"),
        (Component::Proxy, "metrics-bind-address") => Value("127.0.0.1:10249"),
        (Component::Proxy, "config" | "kubeconfig") => Unset,
        (Component::Kubelet, name) => return kubelet_setting(name).map(|s| s.flag_default),
        _ => return None,
    })
}

/// A kubelet setting that exists both as a flag and as a `KubeletConfiguration` field.
#[derive(Debug, Clone, Copy)]
pub struct KubeletSetting {
    pub flag: &'static str,
    /// JSON pointer in `KubeletConfiguration`, `None` for flag-only settings.
    pub pointer: Option<&'static str>,
    /// The default when the kubelet runs without `--config`.
    pub flag_default: Fallback,
    /// The default of the `KubeletConfiguration` field (v1beta1 defaulting).
    pub config_default: Fallback,
}

const KUBELET_SETTINGS: &[KubeletSetting] = {
    use Fallback::{Unset, Value};
    const fn s(
        flag: &'static str,
        pointer: Option<&'static str>,
        flag_default: Fallback,
        config_default: Fallback,
    ) -> KubeletSetting {
        KubeletSetting {
            flag,
            pointer,
            flag_default,
            config_default,
        }
    }
    &[
        s(
            "anonymous-auth",
            Some("/authentication/anonymous/enabled"),
            Value("true"),
            Value("false"),
        ),
        s(
            "authentication-token-webhook",
            Some("/authentication/webhook/enabled"),
            Value("false"),
            Value("true"),
        ),
        s(
            "authorization-mode",
            Some("/authorization/mode"),
            Value("AlwaysAllow"),
            Value("Webhook"),
        ),
        s(
            "client-ca-file",
            Some("/authentication/x509/clientCAFile"),
            Unset,
            Unset,
        ),
        s(
            "read-only-port",
            Some("/readOnlyPort"),
            Value("10255"),
            Value("0"),
        ),
        s(
            "streaming-connection-idle-timeout",
            Some("/streamingConnectionIdleTimeout"),
            Value("4h0m0s"),
            Value("4h0m0s"),
        ),
        s(
            "make-iptables-util-chains",
            Some("/makeIPTablesUtilChains"),
            Value("true"),
            Value("true"),
        ),
        s("hostname-override", None, Unset, Unset),
        s(
            "event-qps",
            Some("/eventRecordQPS"),
            Value("50"),
            Value("50"),
        ),
        s("tls-cert-file", Some("/tlsCertFile"), Unset, Unset),
        s(
            "tls-private-key-file",
            Some("/tlsPrivateKeyFile"),
            Unset,
            Unset,
        ),
        s(
            "rotate-certificates",
            Some("/rotateCertificates"),
            Value("false"),
            Value("false"),
        ),
        s(
            "rotate-server-certificates",
            Some("/serverTLSBootstrap"),
            Value("false"),
            Value("false"),
        ),
        s("tls-cipher-suites", Some("/tlsCipherSuites"), Unset, Unset),
        s(
            "pod-max-pids",
            Some("/podPidsLimit"),
            Value("-1"),
            Value("-1"),
        ),
        s(
            "seccomp-default",
            Some("/seccompDefault"),
            Value("false"),
            Value("false"),
        ),
        s(
            "protect-kernel-defaults",
            Some("/protectKernelDefaults"),
            Value("false"),
            Value("false"),
        ),
        s("feature-gates", Some("/featureGates"), Value(""), Value("")),
        s("kubeconfig", None, Unset, Unset),
        s("config", None, Unset, Unset),
        s("config-dir", None, Unset, Unset),
    ]
};

/// The kubelet setting behind `--flag`.
pub fn kubelet_setting(flag: &str) -> Option<&'static KubeletSetting> {
    KUBELET_SETTINGS.iter().find(|s| s.flag == flag)
}

/// Feature gates whose default matters to a check, by version.
pub fn feature_gate_default(gate: &str, v: KubeVersion) -> Option<bool> {
    match gate {
        // Beta and on by default since 1.12.
        "RotateKubeletServerCertificate" => Some(true),
        // Beta and on by default from 1.25, GA in 1.27.
        "SeccompDefault" => Some(v.minor >= 25),
        // Beta and on by default from 1.30: before, `--config-dir` needs an environment variable.
        "KubeletConfigDropInDir" => Some(v.minor >= 30),
        _ => None,
    }
}

/// Admission plugins the API server enables when `--enable-admission-plugins` does not name them.
pub fn default_admission_plugins(v: KubeVersion) -> Vec<&'static str> {
    let mut p = vec![
        "NamespaceLifecycle",
        "LimitRanger",
        "ServiceAccount",
        "TaintNodesByCondition",
        "PodSecurity",
        "Priority",
        "DefaultTolerationSeconds",
        "DefaultStorageClass",
        "StorageObjectInUseProtection",
        "PersistentVolumeClaimResize",
        "RuntimeClass",
        "CertificateApproval",
        "CertificateSigning",
        "CertificateSubjectRestriction",
        "DefaultIngressClass",
        "MutatingAdmissionWebhook",
        "ValidatingAdmissionWebhook",
        "ResourceQuota",
    ];
    if v.minor >= 26 {
        p.push("ValidatingAdmissionPolicy");
    }
    if v.minor >= 27 {
        p.push("ClusterTrustBundleAttest");
    }
    p
}
