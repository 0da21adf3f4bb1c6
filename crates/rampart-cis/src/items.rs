//! The benchmark's automatable items: one record each, with its rule.

use crate::component::{self, Component, Fallback, KubeVersion};
use crate::docs;
use crate::flags;
use crate::model::{Attached, Instance, Setting, Source, input_error};
use crate::verdict::{Status, Verdict};
use rampart_core::{InputError, Severity};

/// Which file a node file item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSpec {
    Manifest(Component),
    CniFiles,
    EtcdDataDir,
    AdminConf,
    SchedulerConf,
    ControllerManagerConf,
    PkiDir,
    PkiCerts,
    PkiKeys,
    KubeletService,
    ProxyKubeconfig,
    KubeletKubeconfig,
    KubeletClientCa,
    KubeletConfig,
}

/// The owner a file item wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Root,
    Etcd,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Root => "root:root",
            Owner::Etcd => "etcd:etcd",
        }
    }
}

/// How an item is decided.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    BoolIs(&'static str, bool),
    NotSet(&'static str),
    Set(&'static [&'static str]),
    ModeExcludes(&'static str),
    ModeIncludes(&'static str),
    PluginOn(&'static str),
    PluginOff(&'static str),
    IntAtLeast(&'static str, i64),
    IntIs(&'static str, i64),
    DurationNot0(&'static str),
    Loopback(&'static str),
    Gate(&'static str),
    StrongCiphers(&'static str),
    Custom(fn(&Instance, &mut Eval<'_>) -> Vec<Verdict>, &'static str),
    /// Node files: permissions no wider than the mode.
    Perm(FileSpec, u32),
    Owner(FileSpec, Owner),
}

/// One benchmark item.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub slug: &'static str,
    pub cis: &'static str,
    pub severity: Severity,
    /// The component whose settings it reads (`None` for node files and standalone documents).
    pub component: Option<Component>,
    pub title: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
    pub rule: Rule,
}

/// What an evaluation can see besides the instance.
pub struct Eval<'a> {
    pub version: KubeVersion,
    pub errors: &'a mut Vec<InputError>,
    /// Every instance found, for items that compare components (etcd's CA).
    pub all: &'a [Instance],
}

const A: Option<Component> = Some(Component::ApiServer);
const CM: Option<Component> = Some(Component::ControllerManager);
const S: Option<Component> = Some(Component::Scheduler);
const E: Option<Component> = Some(Component::Etcd);
const K: Option<Component> = Some(Component::Kubelet);
const P: Option<Component> = Some(Component::Proxy);

#[allow(clippy::too_many_arguments)]
const fn it(
    slug: &'static str,
    cis: &'static str,
    severity: Severity,
    component: Option<Component>,
    title: &'static str,
    why: &'static str,
    fix: &'static str,
    rule: Rule,
) -> Item {
    Item {
        slug,
        cis,
        severity,
        component,
        title,
        why,
        fix,
        rule,
    }
}

use Severity::{Critical, High, Low, Medium};

const FILE_WHY: &str = "A file that other users can write lets them change how the component runs \
(flags, credentials, certificates); one they can read leaks the credentials it holds.";

/// Every item, in benchmark order.
pub static ITEMS: &[Item] = &[
    // 1.1 Control plane node configuration files
    it(
        "apiserver-manifest-permissions",
        "1.1.1",
        Medium,
        None,
        "API server pod specification file permissions are wider than 600",
        FILE_WHY,
        "`chmod 600 /etc/kubernetes/manifests/kube-apiserver.yaml`",
        Rule::Perm(FileSpec::Manifest(Component::ApiServer), 0o600),
    ),
    it(
        "apiserver-manifest-ownership",
        "1.1.2",
        Medium,
        None,
        "API server pod specification file is not owned by root:root",
        FILE_WHY,
        "`chown root:root /etc/kubernetes/manifests/kube-apiserver.yaml`",
        Rule::Owner(FileSpec::Manifest(Component::ApiServer), Owner::Root),
    ),
    it(
        "controller-manager-manifest-permissions",
        "1.1.3",
        Medium,
        None,
        "Controller manager pod specification file permissions are wider than 600",
        FILE_WHY,
        "`chmod 600 /etc/kubernetes/manifests/kube-controller-manager.yaml`",
        Rule::Perm(FileSpec::Manifest(Component::ControllerManager), 0o600),
    ),
    it(
        "controller-manager-manifest-ownership",
        "1.1.4",
        Medium,
        None,
        "Controller manager pod specification file is not owned by root:root",
        FILE_WHY,
        "`chown root:root /etc/kubernetes/manifests/kube-controller-manager.yaml`",
        Rule::Owner(
            FileSpec::Manifest(Component::ControllerManager),
            Owner::Root,
        ),
    ),
    it(
        "scheduler-manifest-permissions",
        "1.1.5",
        Medium,
        None,
        "Scheduler pod specification file permissions are wider than 600",
        FILE_WHY,
        "`chmod 600 /etc/kubernetes/manifests/kube-scheduler.yaml`",
        Rule::Perm(FileSpec::Manifest(Component::Scheduler), 0o600),
    ),
    it(
        "scheduler-manifest-ownership",
        "1.1.6",
        Medium,
        None,
        "Scheduler pod specification file is not owned by root:root",
        FILE_WHY,
        "`chown root:root /etc/kubernetes/manifests/kube-scheduler.yaml`",
        Rule::Owner(FileSpec::Manifest(Component::Scheduler), Owner::Root),
    ),
    it(
        "etcd-manifest-permissions",
        "1.1.7",
        Medium,
        None,
        "etcd pod specification file permissions are wider than 600",
        FILE_WHY,
        "`chmod 600 /etc/kubernetes/manifests/etcd.yaml`",
        Rule::Perm(FileSpec::Manifest(Component::Etcd), 0o600),
    ),
    it(
        "etcd-manifest-ownership",
        "1.1.8",
        Medium,
        None,
        "etcd pod specification file is not owned by root:root",
        FILE_WHY,
        "`chown root:root /etc/kubernetes/manifests/etcd.yaml`",
        Rule::Owner(FileSpec::Manifest(Component::Etcd), Owner::Root),
    ),
    it(
        "cni-file-permissions",
        "1.1.9",
        Medium,
        None,
        "Container Network Interface files have permissions wider than 600",
        FILE_WHY,
        "`chmod 600 /etc/cni/net.d/*`",
        Rule::Perm(FileSpec::CniFiles, 0o600),
    ),
    it(
        "cni-file-ownership",
        "1.1.10",
        Medium,
        None,
        "Container Network Interface files are not owned by root:root",
        FILE_WHY,
        "`chown root:root /etc/cni/net.d/*`",
        Rule::Owner(FileSpec::CniFiles, Owner::Root),
    ),
    it(
        "etcd-data-dir-permissions",
        "1.1.11",
        High,
        None,
        "etcd data directory permissions are wider than 700",
        "The etcd data directory holds every object of the cluster, Secrets included; anyone who can read it reads them all.",
        "`chmod 700 /var/lib/etcd` (the directory etcd's `--data-dir` names)",
        Rule::Perm(FileSpec::EtcdDataDir, 0o700),
    ),
    it(
        "etcd-data-dir-ownership",
        "1.1.12",
        Medium,
        None,
        "etcd data directory is not owned by etcd:etcd",
        "The etcd data directory holds every object of the cluster; it should belong to the account etcd runs as.",
        "`useradd -r etcd` if needed, then `chown etcd:etcd /var/lib/etcd`",
        Rule::Owner(FileSpec::EtcdDataDir, Owner::Etcd),
    ),
    it(
        "admin-kubeconfig-permissions",
        "1.1.13",
        High,
        None,
        "Administrative kubeconfig (admin.conf, super-admin.conf) permissions are wider than 600",
        "admin.conf holds cluster-admin credentials.",
        "`chmod 600 /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf`",
        Rule::Perm(FileSpec::AdminConf, 0o600),
    ),
    it(
        "admin-kubeconfig-ownership",
        "1.1.14",
        High,
        None,
        "Administrative kubeconfig is not owned by root:root",
        "admin.conf holds cluster-admin credentials.",
        "`chown root:root /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf`",
        Rule::Owner(FileSpec::AdminConf, Owner::Root),
    ),
    it(
        "scheduler-kubeconfig-permissions",
        "1.1.15",
        Medium,
        None,
        "scheduler.conf permissions are wider than 600",
        "scheduler.conf holds the scheduler's credentials.",
        "`chmod 600 /etc/kubernetes/scheduler.conf`",
        Rule::Perm(FileSpec::SchedulerConf, 0o600),
    ),
    it(
        "scheduler-kubeconfig-ownership",
        "1.1.16",
        Medium,
        None,
        "scheduler.conf is not owned by root:root",
        "scheduler.conf holds the scheduler's credentials.",
        "`chown root:root /etc/kubernetes/scheduler.conf`",
        Rule::Owner(FileSpec::SchedulerConf, Owner::Root),
    ),
    it(
        "controller-manager-kubeconfig-permissions",
        "1.1.17",
        Medium,
        None,
        "controller-manager.conf permissions are wider than 600",
        "controller-manager.conf holds the controller manager's credentials, which can read every Secret.",
        "`chmod 600 /etc/kubernetes/controller-manager.conf`",
        Rule::Perm(FileSpec::ControllerManagerConf, 0o600),
    ),
    it(
        "controller-manager-kubeconfig-ownership",
        "1.1.18",
        Medium,
        None,
        "controller-manager.conf is not owned by root:root",
        "controller-manager.conf holds the controller manager's credentials.",
        "`chown root:root /etc/kubernetes/controller-manager.conf`",
        Rule::Owner(FileSpec::ControllerManagerConf, Owner::Root),
    ),
    it(
        "pki-ownership",
        "1.1.19",
        Medium,
        None,
        "Kubernetes PKI directory or files are not owned by root:root",
        "The PKI directory holds the cluster's CA keys.",
        "`chown -R root:root /etc/kubernetes/pki/`",
        Rule::Owner(FileSpec::PkiDir, Owner::Root),
    ),
    it(
        "pki-certificate-permissions",
        "1.1.20",
        Low,
        None,
        "Kubernetes PKI certificate files have permissions wider than 644",
        "A certificate others can write can be replaced, and with it whom the component trusts.",
        "`chmod -R 644 /etc/kubernetes/pki/*.crt`",
        Rule::Perm(FileSpec::PkiCerts, 0o644),
    ),
    it(
        "pki-key-permissions",
        "1.1.21",
        High,
        None,
        "Kubernetes PKI key files have permissions wider than 600",
        "A readable CA key lets anyone mint credentials for any user, including system:masters.",
        "`chmod -R 600 /etc/kubernetes/pki/*.key`",
        Rule::Perm(FileSpec::PkiKeys, 0o600),
    ),
    // 1.2 API server
    it(
        "apiserver-anonymous-auth",
        "1.2.1",
        High,
        A,
        "The API server accepts anonymous requests",
        "Anonymous requests reach every endpoint RBAC grants to system:anonymous or system:unauthenticated; one careless binding exposes the API.",
        "Set `--anonymous-auth=false` (keep health probes working through `--authentication-config` anonymous endpoints on 1.32 and later).",
        Rule::Custom(
            apiserver_anonymous,
            "When absent, `--anonymous-auth` is `true` (kube-apiserver). From 1.32 the `anonymous` section of an `--authentication-config` file decides instead; anonymous access limited to `/livez`, `/readyz` and `/healthz` passes.",
        ),
    ),
    it(
        "apiserver-token-auth-file",
        "1.2.2",
        High,
        A,
        "The API server reads static bearer tokens from --token-auth-file",
        "Static tokens never expire and cannot be revoked without restarting the API server; they sit in clear text on disk.",
        "Remove `--token-auth-file`; use client certificates, OIDC or webhook token authentication.",
        Rule::NotSet("token-auth-file"),
    ),
    it(
        "apiserver-deny-service-external-ips",
        "1.2.3",
        Medium,
        A,
        "The DenyServiceExternalIPs admission plugin is not enabled",
        "Any user who can create a Service can set `externalIPs` and intercept traffic to those addresses (CVE-2020-8554).",
        "Add `DenyServiceExternalIPs` to `--enable-admission-plugins`.",
        Rule::PluginOn("DenyServiceExternalIPs"),
    ),
    it(
        "apiserver-kubelet-client-certificate",
        "1.2.4",
        High,
        A,
        "The API server has no client certificate for kubelets",
        "Without `--kubelet-client-certificate` and `--kubelet-client-key` the API server cannot authenticate to kubelets, which then have to accept unauthenticated requests.",
        "Set `--kubelet-client-certificate` and `--kubelet-client-key`.",
        Rule::Set(&["kubelet-client-certificate", "kubelet-client-key"]),
    ),
    it(
        "apiserver-kubelet-certificate-authority",
        "1.2.5",
        High,
        A,
        "The API server does not verify kubelets' serving certificates",
        "Without `--kubelet-certificate-authority` the API server's connections to kubelets (exec, logs, port-forward) can be intercepted.",
        "Set `--kubelet-certificate-authority` to the CA that signs kubelet serving certificates.",
        Rule::Set(&["kubelet-certificate-authority"]),
    ),
    it(
        "apiserver-authorization-always-allow",
        "1.2.6",
        Critical,
        A,
        "The API server authorizes every request (AlwaysAllow)",
        "With AlwaysAllow every authenticated (and, with anonymous auth, unauthenticated) request is allowed.",
        "Set `--authorization-mode=Node,RBAC`.",
        Rule::ModeExcludes("AlwaysAllow"),
    ),
    it(
        "apiserver-authorization-node",
        "1.2.7",
        Medium,
        A,
        "The API server's authorization modes do not include Node",
        "The Node authorizer limits each kubelet to the objects of its own pods; without it a compromised node reads every Secret its RBAC grants.",
        "Include `Node` in `--authorization-mode`.",
        Rule::ModeIncludes("Node"),
    ),
    it(
        "apiserver-authorization-rbac",
        "1.2.8",
        High,
        A,
        "The API server's authorization modes do not include RBAC",
        "Without RBAC, access cannot be granted per role and namespace.",
        "Include `RBAC` in `--authorization-mode`.",
        Rule::ModeIncludes("RBAC"),
    ),
    it(
        "apiserver-event-rate-limit",
        "1.2.9",
        Low,
        A,
        "The EventRateLimit admission plugin is not enabled and configured",
        "Without it a client can flood the API server and etcd with events.",
        "Add `EventRateLimit` to `--enable-admission-plugins` and configure it in `--admission-control-config-file`.",
        Rule::Custom(
            event_rate_limit,
            "EventRateLimit is not among the default plugins.",
        ),
    ),
    it(
        "apiserver-always-admit",
        "1.2.10",
        High,
        A,
        "The AlwaysAdmit admission plugin is enabled",
        "AlwaysAdmit admits every request, bypassing every other admission control.",
        "Remove `AlwaysAdmit` from `--enable-admission-plugins`.",
        Rule::PluginOff("AlwaysAdmit"),
    ),
    it(
        "apiserver-always-pull-images",
        "1.2.11",
        Low,
        A,
        "The AlwaysPullImages admission plugin is not enabled",
        "Without it a pod can run a private image another tenant already pulled to the node, without credentials for it.",
        "Add `AlwaysPullImages` to `--enable-admission-plugins` (on multi-tenant clusters).",
        Rule::PluginOn("AlwaysPullImages"),
    ),
    it(
        "apiserver-service-account-plugin",
        "1.2.12",
        Medium,
        A,
        "The ServiceAccount admission plugin is disabled",
        "Without it pods are not bound to ServiceAccounts as RBAC expects.",
        "Remove `ServiceAccount` from `--disable-admission-plugins`.",
        Rule::PluginOn("ServiceAccount"),
    ),
    it(
        "apiserver-namespace-lifecycle",
        "1.2.13",
        Medium,
        A,
        "The NamespaceLifecycle admission plugin is disabled",
        "Without it objects can be created in terminating or non-existent namespaces.",
        "Remove `NamespaceLifecycle` from `--disable-admission-plugins`.",
        Rule::PluginOn("NamespaceLifecycle"),
    ),
    it(
        "apiserver-node-restriction",
        "1.2.14",
        High,
        A,
        "The NodeRestriction admission plugin is not enabled",
        "Without it a kubelet can modify other nodes and pods, and label its own Node to attract workloads.",
        "Add `NodeRestriction` to `--enable-admission-plugins`.",
        Rule::PluginOn("NodeRestriction"),
    ),
    it(
        "apiserver-profiling",
        "1.2.15",
        Low,
        A,
        "The API server exposes profiling at /debug/pprof",
        "Profiling data reveals the program's internals and costs CPU on demand.",
        "Set `--profiling=false`.",
        Rule::BoolIs("profiling", false),
    ),
    it(
        "apiserver-audit-log-path",
        "1.2.16",
        Medium,
        A,
        "The API server writes no audit log",
        "Without an audit log there is no record of who did what in the cluster.",
        "Set `--audit-log-path` (and `--audit-policy-file`).",
        Rule::Set(&["audit-log-path"]),
    ),
    it(
        "apiserver-audit-log-maxage",
        "1.2.17",
        Low,
        A,
        "Audit logs are kept fewer than 30 days",
        "Short retention loses the evidence an investigation needs.",
        "Set `--audit-log-maxage=30` or more.",
        Rule::IntAtLeast("audit-log-maxage", 30),
    ),
    it(
        "apiserver-audit-log-maxbackup",
        "1.2.18",
        Low,
        A,
        "Fewer than 10 rotated audit log files are kept",
        "Few backups lose the evidence an investigation needs.",
        "Set `--audit-log-maxbackup=10` or more.",
        Rule::IntAtLeast("audit-log-maxbackup", 10),
    ),
    it(
        "apiserver-audit-log-maxsize",
        "1.2.19",
        Low,
        A,
        "Audit log files rotate below 100 MB",
        "Small files with few backups lose history quickly.",
        "Set `--audit-log-maxsize=100` or more.",
        Rule::IntAtLeast("audit-log-maxsize", 100),
    ),
    it(
        "apiserver-request-timeout",
        "1.2.20",
        Low,
        A,
        "The API server's request timeout is zero or invalid",
        "A request timeout bounds how long a client can hold a server connection.",
        "Leave `--request-timeout` at its default (60s) or set a positive duration.",
        Rule::DurationNot0("request-timeout"),
    ),
    it(
        "apiserver-service-account-lookup",
        "1.2.21",
        Medium,
        A,
        "The API server accepts tokens of deleted service accounts",
        "Without `--service-account-lookup` a token stays valid after its ServiceAccount is deleted.",
        "Set `--service-account-lookup=true` (the default).",
        Rule::BoolIs("service-account-lookup", true),
    ),
    it(
        "apiserver-service-account-key-file",
        "1.2.22",
        Medium,
        A,
        "The API server has no explicit service account verification key",
        "Without `--service-account-key-file` the serving key verifies tokens, so keys cannot be rotated independently.",
        "Set `--service-account-key-file` to the public key of the token signing key pair.",
        Rule::Set(&["service-account-key-file"]),
    ),
    it(
        "apiserver-etcd-client-certificate",
        "1.2.23",
        High,
        A,
        "The API server has no client certificate for etcd",
        "Without `--etcd-certfile` and `--etcd-keyfile` etcd cannot authenticate the API server, so it must accept anyone.",
        "Set `--etcd-certfile` and `--etcd-keyfile`.",
        Rule::Set(&["etcd-certfile", "etcd-keyfile"]),
    ),
    it(
        "apiserver-tls-certificate",
        "1.2.24",
        High,
        A,
        "The API server serves with a self-signed certificate",
        "Without `--tls-cert-file` and `--tls-private-key-file` the API server generates a self-signed certificate that clients cannot verify.",
        "Set `--tls-cert-file` and `--tls-private-key-file`.",
        Rule::Set(&["tls-cert-file", "tls-private-key-file"]),
    ),
    it(
        "apiserver-client-ca-file",
        "1.2.25",
        High,
        A,
        "The API server does not authenticate client certificates",
        "Without `--client-ca-file` client certificate authentication is off.",
        "Set `--client-ca-file`.",
        Rule::Set(&["client-ca-file"]),
    ),
    it(
        "apiserver-etcd-cafile",
        "1.2.26",
        High,
        A,
        "The API server does not verify etcd's certificate",
        "Without `--etcd-cafile` the connection to etcd, which carries every Secret, can be intercepted.",
        "Set `--etcd-cafile`.",
        Rule::Set(&["etcd-cafile"]),
    ),
    it(
        "apiserver-encryption-provider-config",
        "1.2.27",
        High,
        A,
        "Secrets are stored unencrypted in etcd (no --encryption-provider-config)",
        "Anyone who reads etcd or its backups reads every Secret in plain text.",
        "Write an `EncryptionConfiguration` with `aescbc`, `aesgcm`, `secretbox` or `kms` first for `secrets`, and set `--encryption-provider-config`.",
        Rule::Set(&["encryption-provider-config"]),
    ),
    it(
        "apiserver-encryption-providers",
        "1.2.28",
        High,
        A,
        "The encryption configuration stores Secrets in plaintext or with a weak or example key",
        "The first provider of a resource's list is the one that encrypts: `identity` first means plain text; a key copied from documentation is no secret.",
        "Put `kms` (v2), `aescbc`, `aesgcm` or `secretbox` first for `secrets`, with a random 32-byte key, then rewrite the Secrets (`kubectl get secrets -A -o json | kubectl replace -f -`).",
        Rule::Custom(
            encryption_providers,
            "no encryption configuration: see 1.2.27.",
        ),
    ),
    it(
        "apiserver-tls-cipher-suites",
        "1.2.29",
        Medium,
        A,
        "The API server allows weak TLS cipher suites",
        "CBC-mode, RSA key exchange, 3DES and RC4 suites are open to known attacks.",
        "Set `--tls-cipher-suites` to AEAD suites with ECDHE only, or leave it unset (Go's defaults).",
        Rule::StrongCiphers("tls-cipher-suites"),
    ),
    it(
        "apiserver-service-account-extend-token-expiration",
        "1.2.30",
        Low,
        A,
        "The API server extends service account token lifetimes",
        "With `--service-account-extend-token-expiration` (the default) projected tokens live a year, whatever they ask for.",
        "Set `--service-account-extend-token-expiration=false`.",
        Rule::BoolIs("service-account-extend-token-expiration", false),
    ),
    // 1.3 Controller manager
    it(
        "controller-manager-terminated-pod-gc-threshold",
        "1.3.1",
        Low,
        CM,
        "Terminated pods are never garbage collected",
        "Terminated pods that pile up slow the controller manager and etcd.",
        "Set `--terminated-pod-gc-threshold` to a positive number (default 12500).",
        Rule::IntAtLeast("terminated-pod-gc-threshold", 1),
    ),
    it(
        "controller-manager-profiling",
        "1.3.2",
        Low,
        CM,
        "The controller manager exposes profiling",
        "Profiling data reveals the program's internals and costs CPU on demand.",
        "Set `--profiling=false`.",
        Rule::BoolIs("profiling", false),
    ),
    it(
        "controller-manager-use-service-account-credentials",
        "1.3.3",
        Medium,
        CM,
        "Controllers run with the controller manager's own credentials",
        "Without `--use-service-account-credentials` every controller acts with the controller manager's broad permissions.",
        "Set `--use-service-account-credentials=true`.",
        Rule::BoolIs("use-service-account-credentials", true),
    ),
    it(
        "controller-manager-service-account-private-key-file",
        "1.3.4",
        Medium,
        CM,
        "The controller manager has no service account signing key",
        "Without `--service-account-private-key-file` service account tokens cannot be signed with a key that can be rotated.",
        "Set `--service-account-private-key-file`.",
        Rule::Set(&["service-account-private-key-file"]),
    ),
    it(
        "controller-manager-root-ca-file",
        "1.3.5",
        Medium,
        CM,
        "The controller manager does not give pods the API server's CA",
        "Without `--root-ca-file` pods cannot verify the API server's certificate.",
        "Set `--root-ca-file`.",
        Rule::Set(&["root-ca-file"]),
    ),
    it(
        "controller-manager-rotate-kubelet-server-certificate",
        "1.3.6",
        Medium,
        CM,
        "Kubelet serving certificate rotation is disabled",
        "Without the RotateKubeletServerCertificate gate kubelet serving certificates are not approved for rotation.",
        "Remove `RotateKubeletServerCertificate=false` from `--feature-gates`.",
        Rule::Gate("RotateKubeletServerCertificate"),
    ),
    it(
        "controller-manager-bind-address",
        "1.3.7",
        Medium,
        CM,
        "The controller manager listens on every address",
        "Its secure port serves /metrics and profiling; bound to 0.0.0.0 (the default) it is reachable from the network.",
        "Set `--bind-address=127.0.0.1`.",
        Rule::Loopback("bind-address"),
    ),
    // 1.4 Scheduler
    it(
        "scheduler-profiling",
        "1.4.1",
        Low,
        S,
        "The scheduler exposes profiling",
        "Profiling data reveals the program's internals and costs CPU on demand.",
        "Set `--profiling=false`.",
        Rule::BoolIs("profiling", false),
    ),
    it(
        "scheduler-bind-address",
        "1.4.2",
        Medium,
        S,
        "The scheduler listens on every address",
        "Its secure port serves /metrics and profiling; bound to 0.0.0.0 (the default) it is reachable from the network.",
        "Set `--bind-address=127.0.0.1`.",
        Rule::Loopback("bind-address"),
    ),
    // 2 etcd
    it(
        "etcd-tls-certificate",
        "2.1",
        High,
        E,
        "etcd serves clients without TLS",
        "Without `--cert-file` and `--key-file` clients talk to etcd, and every Secret in it, in clear text.",
        "Set `--cert-file` and `--key-file`.",
        Rule::Set(&["cert-file", "key-file"]),
    ),
    it(
        "etcd-client-cert-auth",
        "2.2",
        Critical,
        E,
        "etcd does not authenticate clients",
        "Without `--client-cert-auth=true` anyone who reaches etcd's port reads and writes the whole cluster.",
        "Set `--client-cert-auth=true` and `--trusted-ca-file`.",
        Rule::BoolIs("client-cert-auth", true),
    ),
    it(
        "etcd-auto-tls",
        "2.3",
        High,
        E,
        "etcd serves clients with a self-signed certificate",
        "`--auto-tls` certificates cannot be verified by clients.",
        "Remove `--auto-tls` or set it to false.",
        Rule::BoolIs("auto-tls", false),
    ),
    it(
        "etcd-peer-tls-certificate",
        "2.4",
        High,
        E,
        "etcd talks to its peers without TLS",
        "Without `--peer-cert-file` and `--peer-key-file` replication traffic, every Secret included, is clear text.",
        "Set `--peer-cert-file` and `--peer-key-file`.",
        Rule::Set(&["peer-cert-file", "peer-key-file"]),
    ),
    it(
        "etcd-peer-client-cert-auth",
        "2.5",
        High,
        E,
        "etcd does not authenticate its peers",
        "Without `--peer-client-cert-auth=true` anyone who reaches the peer port can join the cluster.",
        "Set `--peer-client-cert-auth=true`.",
        Rule::BoolIs("peer-client-cert-auth", true),
    ),
    it(
        "etcd-peer-auto-tls",
        "2.6",
        High,
        E,
        "etcd talks to its peers with self-signed certificates",
        "`--peer-auto-tls` certificates cannot be verified.",
        "Remove `--peer-auto-tls` or set it to false.",
        Rule::BoolIs("peer-auto-tls", false),
    ),
    it(
        "etcd-unique-ca",
        "2.7",
        Medium,
        E,
        "etcd trusts the same CA as the API server's clients",
        "If etcd's `--trusted-ca-file` is the CA the API server trusts for clients, every Kubernetes client certificate also opens etcd.",
        "Give etcd its own CA (kubeadm's /etc/kubernetes/pki/etcd/ca.crt).",
        Rule::Custom(etcd_unique_ca, ""),
    ),
    // 3.2 Logging
    it(
        "apiserver-audit-policy",
        "3.2.1",
        Medium,
        A,
        "The API server has no audit policy",
        "Without `--audit-policy-file` nothing is audited, even with an audit log path.",
        "Write an audit `Policy` and set `--audit-policy-file`; `rampart audit lint` checks its content.",
        Rule::Custom(audit_policy, ""),
    ),
    // 4.1 Worker node configuration files
    it(
        "kubelet-service-file-permissions",
        "4.1.1",
        Medium,
        None,
        "Kubelet service file permissions are wider than 600",
        FILE_WHY,
        "`chmod 600` the kubelet's systemd unit and drop-ins.",
        Rule::Perm(FileSpec::KubeletService, 0o600),
    ),
    it(
        "kubelet-service-file-ownership",
        "4.1.2",
        Medium,
        None,
        "Kubelet service file is not owned by root:root",
        FILE_WHY,
        "`chown root:root` the kubelet's systemd unit and drop-ins.",
        Rule::Owner(FileSpec::KubeletService, Owner::Root),
    ),
    it(
        "proxy-kubeconfig-permissions",
        "4.1.3",
        Medium,
        None,
        "kube-proxy kubeconfig permissions are wider than 600",
        FILE_WHY,
        "`chmod 600` the file kube-proxy's `--kubeconfig` names.",
        Rule::Perm(FileSpec::ProxyKubeconfig, 0o600),
    ),
    it(
        "proxy-kubeconfig-ownership",
        "4.1.4",
        Medium,
        None,
        "kube-proxy kubeconfig is not owned by root:root",
        FILE_WHY,
        "`chown root:root` the file kube-proxy's `--kubeconfig` names.",
        Rule::Owner(FileSpec::ProxyKubeconfig, Owner::Root),
    ),
    it(
        "kubelet-kubeconfig-permissions",
        "4.1.5",
        Medium,
        None,
        "Kubelet kubeconfig permissions are wider than 600",
        FILE_WHY,
        "`chmod 600 /etc/kubernetes/kubelet.conf`",
        Rule::Perm(FileSpec::KubeletKubeconfig, 0o600),
    ),
    it(
        "kubelet-kubeconfig-ownership",
        "4.1.6",
        Medium,
        None,
        "Kubelet kubeconfig is not owned by root:root",
        FILE_WHY,
        "`chown root:root /etc/kubernetes/kubelet.conf`",
        Rule::Owner(FileSpec::KubeletKubeconfig, Owner::Root),
    ),
    it(
        "kubelet-client-ca-permissions",
        "4.1.7",
        Medium,
        None,
        "Kubelet client CA file permissions are wider than 644",
        FILE_WHY,
        "`chmod 644` the kubelet's client CA file.",
        Rule::Perm(FileSpec::KubeletClientCa, 0o644),
    ),
    it(
        "kubelet-client-ca-ownership",
        "4.1.8",
        Medium,
        None,
        "Kubelet client CA file is not owned by root:root",
        FILE_WHY,
        "`chown root:root` the kubelet's client CA file.",
        Rule::Owner(FileSpec::KubeletClientCa, Owner::Root),
    ),
    it(
        "kubelet-config-permissions",
        "4.1.9",
        Medium,
        None,
        "Kubelet config file permissions are wider than 600",
        FILE_WHY,
        "`chmod 600 /var/lib/kubelet/config.yaml` (and its drop-ins)",
        Rule::Perm(FileSpec::KubeletConfig, 0o600),
    ),
    it(
        "kubelet-config-ownership",
        "4.1.10",
        Medium,
        None,
        "Kubelet config file is not owned by root:root",
        FILE_WHY,
        "`chown root:root /var/lib/kubelet/config.yaml` (and its drop-ins)",
        Rule::Owner(FileSpec::KubeletConfig, Owner::Root),
    ),
    // 4.2 Kubelet
    it(
        "kubelet-anonymous-auth",
        "4.2.1",
        High,
        K,
        "The kubelet accepts anonymous requests",
        "Anonymous requests to the kubelet API can list pods and, with AlwaysAllow, exec into them.",
        "Set `authentication.anonymous.enabled: false` in the config file (or `--anonymous-auth=false`).",
        Rule::BoolIs("anonymous-auth", false),
    ),
    it(
        "kubelet-authorization-always-allow",
        "4.2.2",
        Critical,
        K,
        "The kubelet authorizes every request (AlwaysAllow)",
        "With AlwaysAllow anyone who reaches the kubelet port can exec into every pod of the node.",
        "Set `authorization.mode: Webhook` (or `--authorization-mode=Webhook`).",
        Rule::ModeExcludes("AlwaysAllow"),
    ),
    it(
        "kubelet-client-ca-file",
        "4.2.3",
        High,
        K,
        "The kubelet does not authenticate client certificates",
        "Without a client CA the kubelet cannot authenticate the API server's client certificate.",
        "Set `authentication.x509.clientCAFile` (or `--client-ca-file`).",
        Rule::Set(&["client-ca-file"]),
    ),
    it(
        "kubelet-read-only-port",
        "4.2.4",
        Medium,
        K,
        "The kubelet serves its read-only port",
        "The read-only port (10255) serves pod specs and metrics without authentication.",
        "Set `readOnlyPort: 0` (or `--read-only-port=0`).",
        Rule::IntIs("read-only-port", 0),
    ),
    it(
        "kubelet-streaming-connection-idle-timeout",
        "4.2.5",
        Medium,
        K,
        "Kubelet streaming connections never time out",
        "With a zero timeout, idle exec and port-forward sessions stay open forever.",
        "Set `streamingConnectionIdleTimeout` to a positive duration such as `5m`.",
        Rule::DurationNot0("streaming-connection-idle-timeout"),
    ),
    it(
        "kubelet-make-iptables-util-chains",
        "4.2.6",
        Low,
        K,
        "The kubelet does not manage its iptables chains",
        "Without `makeIPTablesUtilChains` the kubelet's iptables rules can drift from the pods' networking needs.",
        "Set `makeIPTablesUtilChains: true`.",
        Rule::BoolIs("make-iptables-util-chains", true),
    ),
    it(
        "kubelet-hostname-override",
        "4.2.7",
        Low,
        K,
        "The kubelet overrides its hostname",
        "`--hostname-override` can break TLS between the kubelet and the API server and confuses node identity.",
        "Remove `--hostname-override`.",
        Rule::NotSet("hostname-override"),
    ),
    it(
        "kubelet-event-qps",
        "4.2.8",
        Low,
        K,
        "The kubelet's event rate limit is invalid",
        "A negative `eventRecordQPS` is rejected; 0 means no limit, so every event is captured.",
        "Set `eventRecordQPS` to 0 or a level that captures the events you need.",
        Rule::IntAtLeast("event-qps", 0),
    ),
    it(
        "kubelet-tls-certificate",
        "4.2.9",
        Medium,
        K,
        "The kubelet serves with a self-signed certificate",
        "Without `tlsCertFile`/`tlsPrivateKeyFile` or `serverTLSBootstrap` the kubelet's certificate cannot be verified by the API server.",
        "Set `tlsCertFile` and `tlsPrivateKeyFile`, or `serverTLSBootstrap: true`.",
        Rule::Custom(kubelet_tls, ""),
    ),
    it(
        "kubelet-rotate-certificates",
        "4.2.10",
        Medium,
        K,
        "The kubelet does not rotate its client certificate",
        "A client certificate that is not rotated expires, or lives too long if its lifetime is extended.",
        "Set `rotateCertificates: true`.",
        Rule::BoolIs("rotate-certificates", true),
    ),
    it(
        "kubelet-rotate-server-certificate",
        "4.2.11",
        Medium,
        K,
        "Kubelet serving certificate rotation is disabled",
        "Without the RotateKubeletServerCertificate gate the serving certificate is not rotated.",
        "Remove `RotateKubeletServerCertificate: false` from `featureGates`.",
        Rule::Gate("RotateKubeletServerCertificate"),
    ),
    it(
        "kubelet-tls-cipher-suites",
        "4.2.12",
        Medium,
        K,
        "The kubelet allows weak TLS cipher suites",
        "CBC-mode, RSA key exchange, 3DES and RC4 suites are open to known attacks.",
        "Set `tlsCipherSuites` to AEAD suites with ECDHE only, or leave it unset (Go's defaults).",
        Rule::StrongCiphers("tls-cipher-suites"),
    ),
    it(
        "kubelet-pod-pids-limit",
        "4.2.13",
        Medium,
        K,
        "Pods have no PID limit",
        "Without `podPidsLimit` one pod can fork-bomb the node.",
        "Set `podPidsLimit` to a positive number (e.g. 4096).",
        Rule::IntAtLeast("pod-max-pids", 1),
    ),
    it(
        "kubelet-seccomp-default",
        "4.2.14",
        Medium,
        K,
        "The kubelet does not apply RuntimeDefault seccomp by default",
        "Without `seccompDefault: true` containers that do not ask for a profile run unconfined.",
        "Set `seccompDefault: true` (and the SeccompDefault feature gate before 1.25).",
        Rule::Custom(seccomp_default, ""),
    ),
    // 4.3 kube-proxy
    it(
        "proxy-metrics-bind-address",
        "4.3.1",
        Medium,
        P,
        "kube-proxy serves its metrics on a non-loopback address",
        "kube-proxy's metrics endpoint is unauthenticated; bound beyond localhost it tells anyone on the network the node's Services and endpoints.",
        "Set `metricsBindAddress: 127.0.0.1:10249` in the `KubeProxyConfiguration` (with `--config`, the `--metrics-bind-address` flag is ignored), or remove the setting.",
        Rule::Loopback("metrics-bind-address"),
    ),
];

/// Items that read standalone documents rather than a component (no CIS number).
pub static DOC_ITEMS: &[Item] = &[
    it(
        "kubeconfig-static-credentials",
        "",
        High,
        None,
        "A kubeconfig holds a static token or a password",
        "Static tokens and basic-auth passwords do not expire and are easily copied.",
        "Use client certificates or an exec credential plugin.",
        Rule::Custom(no_instance, ""),
    ),
    it(
        "kubeconfig-insecure-skip-tls-verify",
        "",
        High,
        None,
        "A kubeconfig skips TLS verification",
        "`insecure-skip-tls-verify: true` lets anyone on the path impersonate the API server and collect the credentials sent to it.",
        "Set `certificate-authority-data` and remove `insecure-skip-tls-verify`.",
        Rule::Custom(no_instance, ""),
    ),
    it(
        "admission-pod-security-default-privileged",
        "",
        Medium,
        None,
        "PodSecurity admission enforces the privileged level by default",
        "A namespace without pod-security labels then admits privileged pods.",
        "Set `defaults.enforce: baseline` (or `restricted`) in the PodSecurity plugin configuration.",
        Rule::Custom(no_instance, ""),
    ),
];

fn no_instance(_: &Instance, _: &mut Eval<'_>) -> Vec<Verdict> {
    Vec::new()
}

/// The doc's "absent" sentence for an item.
pub fn default_note(item: &Item, v: KubeVersion) -> String {
    let Some(c) = item.component else {
        return match item.rule {
            Rule::Perm(..) | Rule::Owner(..) => {
                "A file that does not exist (a managed control plane, a node without the \
                 component) is not applicable, not a failure."
                    .into()
            }
            _ => String::new(),
        };
    };
    let flag = match item.rule {
        Rule::BoolIs(f, _)
        | Rule::NotSet(f)
        | Rule::IntAtLeast(f, _)
        | Rule::IntIs(f, _)
        | Rule::DurationNot0(f)
        | Rule::Loopback(f)
        | Rule::StrongCiphers(f) => f,
        Rule::Set(fs) => fs.first().copied().unwrap_or(""),
        Rule::ModeExcludes(_) | Rule::ModeIncludes(_) => "authorization-mode",
        Rule::PluginOn(p) | Rule::PluginOff(p) => {
            let on = component::default_admission_plugins(v).contains(&p);
            return format!(
                "When `--enable-admission-plugins` does not name it, `{p}` is {} by default \
                 (Kubernetes {v}).",
                if on { "enabled" } else { "disabled" }
            );
        }
        Rule::Gate(g) => {
            return format!(
                "When no `--feature-gates` names it, `{g}` is {} (Kubernetes {v}).",
                if component::feature_gate_default(g, v).unwrap_or(false) {
                    "on"
                } else {
                    "off"
                }
            );
        }
        Rule::Custom(_, note) => return note.to_string(),
        Rule::Perm(..) | Rule::Owner(..) => return String::new(),
    };
    let show = |d: Fallback| match d {
        Fallback::Value("") => "empty".to_string(),
        Fallback::Value(x) => format!("`{x}`"),
        Fallback::Unset => "unset".to_string(),
    };
    if c == Component::Kubelet
        && let Some(ks) = component::kubelet_setting(flag)
    {
        return match ks.pointer {
            Some(p) => format!(
                "When absent: with a config file (`--config`), `{p}` defaults to {}; without \
                 one, `--{flag}` defaults to {}. Command-line flags override the file.",
                show(ks.config_default),
                show(ks.flag_default)
            ),
            None => format!("When absent, `--{flag}` is {}.", show(ks.flag_default)),
        };
    }
    match component::flag_default(c, flag, v) {
        Some(d) => format!("When absent, `--{flag}` is {} ({}).", show(d), c.name()),
        None => String::new(),
    }
}

fn parse_err(
    ev: &mut Eval<'_>,
    inst: &Instance,
    flag: &str,
    s: &Setting,
    what: &str,
) -> Vec<Verdict> {
    let msg = format!(
        "{}: --{flag}: cannot parse {:?} as {what}",
        inst.label,
        s.value.as_deref().unwrap_or("")
    );
    ev.errors.push(input_error(&s.location, msg.clone()));
    vec![Verdict::error(msg, s.location.clone())]
}

fn unknown(s: &Setting) -> Option<Vec<Verdict>> {
    match &s.source {
        Source::Unknown(r) => Some(vec![Verdict::na(r.clone())]),
        _ => None,
    }
}

fn judge(ok: bool, inst: &Instance, s: &Setting, flag: &str) -> Vec<Verdict> {
    let what = format!("{}: {}", inst.label, s.describe(flag));
    if ok {
        vec![Verdict::pass(what, Some(s.location.clone()))]
    } else {
        vec![Verdict::fail(what, s.location.clone())]
    }
}

/// Evaluates `item` on one instance of its component.
pub fn evaluate(item: &Item, inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let v = ev.version;
    match item.rule {
        Rule::BoolIs(flag, want) => {
            let s = inst.setting(flag, v);
            if let Some(u) = unknown(&s) {
                return u;
            }
            match s.value.as_deref().map(flags::parse_bool) {
                Some(Some(b)) => judge(b == want, inst, &s, flag),
                Some(None) => parse_err(ev, inst, flag, &s, "a boolean"),
                None => judge(!want, inst, &s, flag),
            }
        }
        Rule::NotSet(flag) => {
            let s = inst.setting(flag, v);
            if let Some(u) = unknown(&s) {
                return u;
            }
            judge(!s.is_set(), inst, &s, flag)
        }
        Rule::Set(fs) => {
            for flag in fs {
                let s = inst.setting(flag, v);
                if let Some(u) = unknown(&s) {
                    return u;
                }
                if !s.is_set() {
                    return judge(false, inst, &s, flag);
                }
            }
            let flag = fs.first().copied().unwrap_or("");
            judge(true, inst, &inst.setting(flag, v), flag)
        }
        Rule::ModeExcludes(mode) | Rule::ModeIncludes(mode) => {
            let want = matches!(item.rule, Rule::ModeIncludes(_));
            let (modes, s) = match authorization_modes(inst, ev) {
                Ok(x) => x,
                Err(verdicts) => return verdicts,
            };
            judge(
                modes.iter().any(|m| m == mode) == want,
                inst,
                &s,
                "authorization-mode",
            )
        }
        Rule::PluginOn(p) | Rule::PluginOff(p) => {
            let want = matches!(item.rule, Rule::PluginOn(_));
            let (on, s, flag) = plugin_enabled(inst, p, v);
            let mut out = judge(on == want, inst, &s, flag);
            let why = if s.source == Source::Default {
                format!(
                    "{} by default in Kubernetes {v}",
                    if on { "on" } else { "off" }
                )
            } else {
                s.describe(flag)
            };
            for x in &mut out {
                x.message = format!(
                    "{}: {p} is {} ({why})",
                    inst.label,
                    if on { "enabled" } else { "not enabled" },
                );
            }
            out
        }
        Rule::IntAtLeast(flag, min) | Rule::IntIs(flag, min) => {
            let s = inst.setting(flag, v);
            if let Some(u) = unknown(&s) {
                return u;
            }
            let Some(raw) = s.value.as_deref() else {
                return judge(false, inst, &s, flag);
            };
            match flags::parse_int(raw) {
                Some(n) if matches!(item.rule, Rule::IntIs(..)) => judge(n == min, inst, &s, flag),
                Some(n) => judge(n >= min, inst, &s, flag),
                None => parse_err(ev, inst, flag, &s, "an integer"),
            }
        }
        Rule::DurationNot0(flag) => {
            let s = inst.setting(flag, v);
            if let Some(u) = unknown(&s) {
                return u;
            }
            match s.value.as_deref().map(flags::parse_duration) {
                Some(Some(d)) => judge(d > 0, inst, &s, flag),
                Some(None) => parse_err(ev, inst, flag, &s, "a Go duration (e.g. 5m, 4h0m0s)"),
                None => judge(false, inst, &s, flag),
            }
        }
        Rule::Loopback(flag) => {
            let s = inst.setting(flag, v);
            if let Some(u) = unknown(&s) {
                return u;
            }
            judge(
                is_loopback(s.value.as_deref().unwrap_or("0.0.0.0")),
                inst,
                &s,
                flag,
            )
        }
        Rule::Gate(g) => {
            let (on, s) = inst.feature_gate(g, v);
            let mut out = judge(on, inst, &s, "feature-gates");
            for x in &mut out {
                x.message = format!(
                    "{}: feature gate {g} is {} ({})",
                    inst.label,
                    if on { "on" } else { "off" },
                    match s.source {
                        Source::Default => format!("the default in Kubernetes {v}"),
                        Source::Flag =>
                            format!("--feature-gates {}", s.value.as_deref().unwrap_or("")),
                        _ => format!("set in {}", s.location.file),
                    }
                );
            }
            out
        }
        Rule::StrongCiphers(flag) => {
            let s = inst.setting(flag, v);
            if let Some(u) = unknown(&s) {
                return u;
            }
            let raw = s.value.clone().unwrap_or_default();
            let weak: Vec<&str> = flags::split_list(&raw)
                .into_iter()
                .filter(|c| !STRONG_CIPHERS.contains(c))
                .collect();
            if weak.is_empty() {
                judge(true, inst, &s, flag)
            } else {
                vec![Verdict::fail(
                    format!("{}: --{flag} allows {}", inst.label, weak.join(", ")),
                    s.location.clone(),
                )]
            }
        }
        Rule::Custom(f, _) => f(inst, ev),
        Rule::Perm(..) | Rule::Owner(..) => Vec::new(),
    }
}

/// `127.0.0.1`, `::1`, `localhost`, with or without a port (`127.0.0.1:10249`, `[::1]:10249`)
/// or as a CIDR (`127.0.0.0/8`).
fn is_loopback(addr: &str) -> bool {
    let host = if let Some(rest) = addr.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if addr.matches(':').count() == 1 {
        addr.split(':').next().unwrap_or(addr)
    } else {
        addr
    };
    let host = host.split('/').next().unwrap_or(host);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

const STRONG_CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// The authorization modes in force, from `--authorization-mode` or the
/// `--authorization-config` file's authorizer types.
fn authorization_modes(
    inst: &Instance,
    ev: &mut Eval<'_>,
) -> Result<(Vec<String>, Setting), Vec<Verdict>> {
    let v = ev.version;
    if inst.component == Component::ApiServer && inst.setting("authorization-config", v).is_set() {
        let s = inst.setting("authorization-config", v);
        return match inst.attached.get("authorization-config") {
            Some(Attached::Doc(d)) => {
                let modes = d
                    .value
                    .pointer("/authorizers")
                    .and_then(|a| a.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.get("type").and_then(|t| t.as_str()))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                Ok((
                    modes,
                    Setting {
                        value: None,
                        source: Source::Config,
                        location: d.loc("/authorizers"),
                    },
                ))
            }
            Some(Attached::Unavailable(r)) => Err(vec![Verdict::na(format!(
                "{}: authorization is configured by --authorization-config: {r}",
                inst.label
            ))]),
            None => Err(vec![Verdict::na(format!(
                "{}: authorization is configured by --authorization-config {}, which this scan \
                 cannot read",
                inst.label,
                s.value.as_deref().unwrap_or("")
            ))]),
        };
    }
    let s = inst.setting("authorization-mode", v);
    if let Some(u) = unknown(&s) {
        return Err(u);
    }
    let modes = flags::split_list(s.value.as_deref().unwrap_or(""))
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok((modes, s))
}

/// Whether an admission plugin is on: named in `--enable-admission-plugins` (or the legacy
/// `--admission-control`), or on by default and not named in `--disable-admission-plugins`.
fn plugin_enabled(inst: &Instance, p: &str, v: KubeVersion) -> (bool, Setting, &'static str) {
    let en = inst.setting("enable-admission-plugins", v);
    let dis = inst.setting("disable-admission-plugins", v);
    let legacy = inst.setting("admission-control", v);
    let has = |s: &Setting| flags::split_list(s.value.as_deref().unwrap_or("")).contains(&p);
    if legacy.is_set() {
        return (has(&legacy), legacy, "admission-control");
    }
    if has(&en) {
        return (true, en, "enable-admission-plugins");
    }
    if has(&dis) {
        return (false, dis, "disable-admission-plugins");
    }
    let on = component::default_admission_plugins(v).contains(&p);
    (on, en, "enable-admission-plugins")
}

const HEALTH_PATHS: &[&str] = &["/livez", "/readyz", "/healthz"];

fn apiserver_anonymous(inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let v = ev.version;
    if v.minor >= 32 && inst.setting("authentication-config", v).is_set() {
        match inst.attached.get("authentication-config") {
            Some(Attached::Doc(d)) => {
                if let Some(anon) = d.value.get("anonymous") {
                    let enabled = anon.get("enabled").and_then(|e| e.as_bool()) == Some(true);
                    let paths: Vec<&str> = anon
                        .get("conditions")
                        .and_then(|c| c.as_array())
                        .map(|a| a.iter().filter_map(|c| c.get("path")?.as_str()).collect())
                        .unwrap_or_default();
                    let loc = d.loc("/anonymous/enabled");
                    return if !enabled {
                        vec![Verdict::pass(
                            format!(
                                "{}: anonymous authentication is disabled in {}",
                                inst.label, d.file
                            ),
                            Some(loc),
                        )]
                    } else if !paths.is_empty() && paths.iter().all(|p| HEALTH_PATHS.contains(p)) {
                        vec![Verdict::pass(
                            format!(
                                "{}: anonymous requests are limited to {}",
                                inst.label,
                                paths.join(", ")
                            ),
                            Some(loc),
                        )]
                    } else {
                        vec![Verdict::fail(
                            format!(
                                "{}: {} enables anonymous authentication{}",
                                inst.label,
                                d.file,
                                if paths.is_empty() {
                                    " on every path".to_string()
                                } else {
                                    format!(" on {}", paths.join(", "))
                                }
                            ),
                            loc,
                        )]
                    };
                }
            }
            Some(Attached::Unavailable(r)) if inst.flags.get("anonymous-auth").is_none() => {
                return vec![Verdict::na(format!(
                    "{}: anonymous authentication may be configured by --authentication-config: {r}",
                    inst.label
                ))];
            }
            _ => {}
        }
    }
    evaluate(
        &it(
            "",
            "",
            High,
            A,
            "",
            "",
            "",
            Rule::BoolIs("anonymous-auth", false),
        ),
        inst,
        ev,
    )
}

fn event_rate_limit(inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let (on, s, flag) = plugin_enabled(inst, "EventRateLimit", ev.version);
    if !on {
        return vec![Verdict::fail(
            format!(
                "{}: EventRateLimit is not enabled ({})",
                inst.label,
                if s.source == Source::Default {
                    "off by default".to_string()
                } else {
                    s.describe(flag)
                }
            ),
            s.location,
        )];
    }
    match inst.attached.get("admission-control-config-file") {
        Some(Attached::Doc(d)) => {
            let plugins = d.value.get("plugins").and_then(|p| p.as_array());
            let found = plugins.is_some_and(|ps| {
                ps.iter()
                    .any(|x| x.get("name").and_then(|n| n.as_str()) == Some("EventRateLimit"))
            });
            if found {
                vec![Verdict::pass(
                    format!("{}: EventRateLimit is enabled and configured", inst.label),
                    Some(s.location),
                )]
            } else {
                vec![Verdict::fail(
                    format!(
                        "{}: EventRateLimit is enabled but {} does not configure it",
                        inst.label, d.file
                    ),
                    d.loc("/plugins"),
                )]
            }
        }
        _ if !inst
            .setting("admission-control-config-file", ev.version)
            .is_set() =>
        {
            vec![Verdict::fail(
                format!(
                    "{}: EventRateLimit is enabled but --admission-control-config-file is not set",
                    inst.label
                ),
                inst.anchor.clone(),
            )]
        }
        _ => vec![Verdict::pass(
            format!("{}: EventRateLimit is enabled", inst.label),
            Some(s.location),
        )],
    }
}

fn encryption_providers(inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let s = inst.setting("encryption-provider-config", ev.version);
    if !s.is_set() {
        return vec![Verdict::na(format!(
            "{}: no --encryption-provider-config (reported by 1.2.27)",
            inst.label
        ))];
    }
    match inst.attached.get("encryption-provider-config") {
        Some(Attached::Doc(d)) => crate::docs::encryption(d),
        Some(Attached::Unavailable(r)) => vec![Verdict::na(format!("{}: {r}", inst.label))],
        None => vec![Verdict::na(format!(
            "{}: {} is not in the scan's input; run `rampart node` on the control plane node \
             or scan the EncryptionConfiguration file",
            inst.label,
            s.value.as_deref().unwrap_or("")
        ))],
    }
}

fn audit_policy(inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let s = inst.setting("audit-policy-file", ev.version);
    if !s.is_set() {
        return judge(false, inst, &s, "audit-policy-file");
    }
    match inst.attached.get("audit-policy-file") {
        Some(Attached::Doc(d)) => {
            let rules = d.value.get("rules").and_then(|r| r.as_array());
            if d.value.get("kind").and_then(|k| k.as_str()) != Some("Policy") {
                vec![Verdict::fail(
                    format!("{}: {} is not an audit Policy", inst.label, d.file),
                    d.loc(""),
                )]
            } else if rules.is_none_or(|r| r.is_empty()) {
                vec![Verdict::fail(
                    format!(
                        "{}: the audit policy {} has no rules, so nothing is audited",
                        inst.label, d.file
                    ),
                    d.loc("/rules"),
                )]
            } else {
                judge(true, inst, &s, "audit-policy-file")
            }
        }
        Some(Attached::Unavailable(r)) => vec![Verdict::fail(
            format!("{}: --audit-policy-file: {r}", inst.label),
            s.location,
        )],
        None => judge(true, inst, &s, "audit-policy-file"),
    }
}

fn etcd_unique_ca(inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let v = ev.version;
    let ca = inst.setting("trusted-ca-file", v);
    if let Some(u) = unknown(&ca) {
        return u;
    }
    if !ca.is_set() {
        return vec![Verdict::fail(
            format!("{}: etcd has no --trusted-ca-file", inst.label),
            ca.location,
        )];
    }
    let etcd_ca = ca.value.clone().unwrap_or_default();
    for a in ev
        .all
        .iter()
        .filter(|i| i.component == Component::ApiServer)
    {
        let client = a.setting("client-ca-file", v);
        if client.value.as_deref() == Some(etcd_ca.as_str()) {
            return vec![Verdict::fail(
                format!(
                    "{}: etcd trusts {etcd_ca}, which is also {}'s --client-ca-file",
                    inst.label, a.label
                ),
                ca.location,
            )];
        }
    }
    judge(true, inst, &ca, "trusted-ca-file")
}

fn kubelet_tls(inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let v = ev.version;
    let boot = inst.setting("rotate-server-certificates", v);
    if let Some(u) = unknown(&boot) {
        return u;
    }
    if boot.value.as_deref().and_then(flags::parse_bool) == Some(true) {
        return judge(true, inst, &boot, "rotate-server-certificates");
    }
    evaluate(
        &it(
            "",
            "",
            Medium,
            K,
            "",
            "",
            "",
            Rule::Set(&["tls-cert-file", "tls-private-key-file"]),
        ),
        inst,
        ev,
    )
}

fn seccomp_default(inst: &Instance, ev: &mut Eval<'_>) -> Vec<Verdict> {
    let out = evaluate(
        &it(
            "",
            "",
            Medium,
            K,
            "",
            "",
            "",
            Rule::BoolIs("seccomp-default", true),
        ),
        inst,
        ev,
    );
    if out.iter().all(|x| x.status == Status::Pass) {
        let (gate, s) = inst.feature_gate("SeccompDefault", ev.version);
        if !gate {
            return vec![Verdict::fail(
                format!(
                    "{}: seccompDefault is set but the SeccompDefault feature gate is off in \
                     Kubernetes {}, so it has no effect",
                    inst.label, ev.version
                ),
                s.location,
            )];
        }
    }
    out
}

/// The item with `slug`.
pub fn find(slug: &str) -> Option<&'static Item> {
    ITEMS.iter().chain(DOC_ITEMS).find(|i| i.slug == slug)
}

pub fn doc_of(item: &Item, v: KubeVersion) -> String {
    docs::render(item, &default_note(item, v))
}
