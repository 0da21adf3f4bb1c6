//! End-to-end attack paths through a Kubernetes cluster described by manifests: from a workload
//! the internet reaches (or any workload, as an attacker with an app exploit would), across the
//! network the NetworkPolicies leave open, out to the node, to the ServiceAccount tokens on it and
//! through RBAC to cluster-admin, every Secret, or one named Secret.
//!
//! Each step names its technique (KubeHound's attack ids where one exists) and its MITRE ATT&CK
//! technique, with the file and line of the field that allows it. Escapes count only what really
//! gives root on the node; the rules are documented in `src/escape.rs`.
//!
//! ```
//! let loaded = rampart_manifest::load_str("web.yaml", r#"
//! apiVersion: v1
//! kind: Pod
//! metadata: {name: web, namespace: shop, labels: {app: web}}
//! spec:
//!   containers:
//!     - name: web
//!       image: nginx
//!       securityContext: {privileged: true}
//! ---
//! apiVersion: v1
//! kind: Service
//! metadata: {name: web, namespace: shop}
//! spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}
//! "#);
//! let analysis = rampart_paths::analyze(&loaded.objects, &rampart_paths::Options::default());
//! let p = &analysis.paths[0];
//! assert!(p.entry.exposed);
//! assert_eq!(p.goal, rampart_paths::Goal::Node);
//! assert_eq!(p.steps[0].technique, "CE_PRIV_MOUNT");
//! assert_eq!(p.steps[0].evidence.as_ref().map(|e| e.line), Some(9));
//! ```

mod escape;
mod expose;
mod graph;
mod html;
mod render;
mod sched;

pub use html::{
    GRAPH_PATHS, HTML_CSS, HTML_JS, esc as html_escape, render_html, render_html_section,
    render_svg,
};
pub use render::{render_dot, render_mermaid, render_text};

use rampart_core::{CheckInfo, Finding, InputError, Location, Origin, Severity};
use rampart_manifest::Object;
use serde::Serialize;

/// How to run the analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Every reachable target (each node, each Secret) per entry, not only the nearest one per
    /// entry and goal.
    pub all: bool,
    /// The namespace of namespaced objects that name none.
    pub default_namespace: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            all: false,
            default_namespace: "default".to_string(),
        }
    }
}

/// A move of the attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Technique {
    /// Escapes, best first.
    Nsenter,
    PrivMount,
    ModuleLoad,
    SysPtrace,
    RuntimeSocket,
    HostWrite,
    UmhCorePattern,
    HostRead,
    /// Read the pod volumes of the node through a hostPath.
    HostTraverse,
    /// Connect to another workload and exploit it.
    EndpointExploit,
    /// Create a privileged pod: root on a node.
    PodCreateNode,
    /// Root on a node reads the volumes of its pods.
    VolumeAccess,
    /// A ServiceAccount token from the node's pod volumes.
    TokenSteal,
    /// A workload's own ServiceAccount token, or any ServiceAccount the attacker can run as.
    IdentityAssume,
    /// A Secret mounted in a pod, as a volume or an environment variable.
    VolumeDiscover,
    /// A ServiceAccount token read from its Secret.
    TokenList,
    /// A binding grants the permissions of the next step.
    PermissionDiscover,
    /// Read a Secret through the API.
    SecretRead,
    PodCreate,
    TokenCreate,
    IdentityImpersonate,
    PodExec,
    /// Replace the image of a running pod.
    PodPatch,
    RoleBind,
    /// Widening or narrowing a scope; not shown as a step.
    Scope,
}

impl Technique {
    /// KubeHound's attack id; rampart's own name where KubeHound has none (`TOKEN_CREATE`,
    /// `SECRET_READ`).
    pub fn id(self) -> &'static str {
        match self {
            Technique::Nsenter => "CE_NSENTER",
            Technique::PrivMount => "CE_PRIV_MOUNT",
            Technique::ModuleLoad => "CE_MODULE_LOAD",
            Technique::SysPtrace => "CE_SYS_PTRACE",
            Technique::RuntimeSocket => "EXPLOIT_CONTAINERD_SOCK",
            Technique::HostWrite => "EXPLOIT_HOST_WRITE",
            Technique::UmhCorePattern => "CE_UMH_CORE_PATTERN",
            Technique::HostRead => "EXPLOIT_HOST_READ",
            Technique::HostTraverse => "EXPLOIT_HOST_TRAVERSE",
            Technique::EndpointExploit => "ENDPOINT_EXPLOIT",
            Technique::PodCreateNode | Technique::PodCreate => "POD_CREATE",
            Technique::VolumeAccess => "VOLUME_ACCESS",
            Technique::TokenSteal => "TOKEN_STEAL",
            Technique::IdentityAssume => "IDENTITY_ASSUME",
            Technique::VolumeDiscover => "VOLUME_DISCOVER",
            Technique::TokenList => "TOKEN_LIST",
            Technique::PermissionDiscover => "PERMISSION_DISCOVER",
            Technique::SecretRead => "SECRET_READ",
            Technique::TokenCreate => "TOKEN_CREATE",
            Technique::IdentityImpersonate => "IDENTITY_IMPERSONATE",
            Technique::PodExec => "POD_EXEC",
            Technique::PodPatch => "POD_PATCH",
            Technique::RoleBind => "ROLE_BIND",
            Technique::Scope => "SCOPE",
        }
    }

    /// The MITRE ATT&CK (Enterprise, Containers) technique id.
    pub fn mitre(self) -> &'static str {
        match self {
            Technique::Nsenter
            | Technique::PrivMount
            | Technique::ModuleLoad
            | Technique::SysPtrace
            | Technique::RuntimeSocket
            | Technique::HostWrite
            | Technique::UmhCorePattern
            | Technique::HostRead
            | Technique::PodCreateNode => "T1611",
            Technique::HostTraverse | Technique::VolumeDiscover => "T1552.001",
            Technique::EndpointExploit => "T1210",
            Technique::VolumeAccess => "T1613",
            Technique::TokenSteal | Technique::TokenList | Technique::TokenCreate => "T1528",
            Technique::IdentityAssume | Technique::IdentityImpersonate => "T1078",
            Technique::PermissionDiscover => "T1069",
            Technique::SecretRead => "T1552.007",
            Technique::PodCreate | Technique::PodPatch => "T1610",
            Technique::PodExec => "T1609",
            Technique::RoleBind => "T1098.006",
            Technique::Scope => "",
        }
    }
}

/// Where a step's permission is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl From<&Location> for Evidence {
    fn from(l: &Location) -> Evidence {
        Evidence {
            file: l.file.to_string(),
            line: l.line,
            column: l.column,
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The name of the one node pool assumed when the input has no Node objects.
pub const ANY_NODE: &str = "any node";

/// A vertex of the attack graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Vertex {
    Workload {
        kind: String,
        namespace: String,
        name: String,
    },
    /// Root on a node (`any node` without Node objects in the input).
    Node {
        name: String,
    },
    /// The tokens and Secrets in the pod volumes of a node.
    NodeVolumes {
        name: String,
    },
    ServiceAccount {
        namespace: String,
        name: String,
    },
    User {
        name: String,
    },
    Group {
        name: String,
    },
    /// Any ServiceAccount of a namespace (`*`: of every namespace).
    AnyServiceAccount {
        namespace: String,
    },
    /// The pods running in a namespace (`*`: everywhere).
    RunningPods {
        namespace: String,
    },
    /// Patch the running pods of a namespace (`*`: everywhere).
    PatchablePods {
        namespace: String,
    },
    /// Read the Secrets of a namespace.
    NamespaceSecrets {
        namespace: String,
    },
    AllSecrets,
    ClusterAdmin,
    Secret {
        namespace: String,
        name: String,
    },
    /// The pod network, as far as NetworkPolicies leave it open (never shown as a step's end).
    Network,
}

impl Vertex {
    pub fn label(&self) -> String {
        match self {
            Vertex::Workload {
                kind,
                namespace,
                name,
            } => format!("{kind} {namespace}/{name}"),
            Vertex::Node { name } if name == ANY_NODE => "root on a node".to_string(),
            Vertex::Node { name } => format!("root on node {name}"),
            Vertex::NodeVolumes { name } if name == ANY_NODE => {
                "the pod volumes of the node".to_string()
            }
            Vertex::NodeVolumes { name } => format!("the pod volumes of node {name}"),
            Vertex::ServiceAccount { namespace, name } => {
                format!("ServiceAccount {namespace}/{name}")
            }
            Vertex::User { name } => format!("User {name}"),
            Vertex::Group { name } => format!("Group {name}"),
            Vertex::AnyServiceAccount { namespace } if namespace == "*" => {
                "any ServiceAccount in any namespace".to_string()
            }
            Vertex::AnyServiceAccount { namespace } => {
                format!("any ServiceAccount in namespace {namespace}")
            }
            Vertex::RunningPods { namespace } if namespace == "*" => {
                "the running pods of every namespace".to_string()
            }
            Vertex::RunningPods { namespace } => {
                format!("the running pods of namespace {namespace}")
            }
            Vertex::PatchablePods { namespace } if namespace == "*" => {
                "patch the pods of every namespace".to_string()
            }
            Vertex::PatchablePods { namespace } => {
                format!("patch the pods of namespace {namespace}")
            }
            Vertex::NamespaceSecrets { namespace } => {
                format!("read Secrets in namespace {namespace}")
            }
            Vertex::AllSecrets => "read all Secrets".to_string(),
            Vertex::ClusterAdmin => "cluster-admin".to_string(),
            Vertex::Secret { namespace, name } => format!("Secret {namespace}/{name}"),
            Vertex::Network => "the pod network".to_string(),
        }
    }
}

/// What an attacker wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Goal {
    /// Root on a node.
    Node,
    ClusterAdmin,
    /// Read every Secret of the cluster.
    AllSecrets,
    /// Read one named Secret (the path's `target`).
    Secret,
}

impl Goal {
    pub const ALL: [Goal; 4] = [
        Goal::ClusterAdmin,
        Goal::AllSecrets,
        Goal::Node,
        Goal::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Node => "node",
            Goal::ClusterAdmin => "cluster-admin",
            Goal::AllSecrets => "all-secrets",
            Goal::Secret => "secret",
        }
    }
}

/// How the internet reaches an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exposure {
    pub via: String,
    pub evidence: Evidence,
}

/// Where a path starts: a workload, as a foothold after an app exploit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Whether traffic from outside the cluster reaches it (after NetworkPolicies).
    pub exposed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exposures: Vec<Exposure>,
    /// The workload's own location.
    pub evidence: Evidence,
}

impl Entry {
    pub fn label(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub from: Vertex,
    pub to: Vertex,
    /// KubeHound's attack id (or rampart's, where KubeHound has none).
    pub technique: &'static str,
    /// MITRE ATT&CK technique id.
    pub mitre: &'static str,
    /// What the attacker does, in words.
    pub description: String,
    /// The field that allows the move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// A shortest path from an entry to a goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttackPath {
    pub entry: Entry,
    pub goal: Goal,
    /// The vertex reached (a node, a Secret, cluster-admin, all Secrets).
    pub target: Vertex,
    pub steps: Vec<Step>,
}

/// The JSON document of `rampart paths -o json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    pub paths: &'a [AttackPath],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub notes: &'a [String],
}

/// The result of [`analyze`].
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Exposed entries first, then shortest first.
    pub paths: Vec<AttackPath>,
    /// Assumptions the analysis made (one node pool without Node objects, …).
    pub notes: Vec<String>,
    /// Problems in the inputs; the objects (or fields) they concern are left out.
    pub errors: Vec<InputError>,
    /// Input that is valid but suspicious, e.g. a binding to a role that does not exist.
    pub warnings: Vec<String>,
    /// Number of entries, and of exposed ones.
    pub entries: usize,
    pub exposed_entries: usize,
}

/// Attack paths of the input objects.
pub fn analyze(objects: &[Object], options: &Options) -> Analysis {
    graph::analyze(objects, options)
}

/// The slug of [`findings`].
pub const ATTACK_PATH: &str = "attack-path";

/// Attack paths as scan findings: critical when an exposed workload reaches root on a node,
/// cluster-admin or every Secret; high when any workload, once compromised, reaches cluster-admin
/// or every Secret or root on a node; one finding per entry and goal.
pub fn findings(objects: &[Object]) -> Vec<Finding> {
    findings_of(objects, &analyze(objects, &Options::default()))
}

/// [`findings`] of an analysis of `objects` already made (with the default [`Options`]).
pub fn findings_of(objects: &[Object], analysis: &Analysis) -> Vec<Finding> {
    let by_ref: std::collections::HashMap<(String, String, String), &Object> = objects
        .iter()
        .map(|o| {
            (
                (
                    o.kind().to_string(),
                    o.namespace()
                        .filter(|n| !n.is_empty())
                        .unwrap_or("default")
                        .to_string(),
                    o.name().to_string(),
                ),
                o,
            )
        })
        .collect();
    analysis
        .paths
        .iter()
        .filter(|p| p.goal != Goal::Secret || p.entry.exposed)
        .map(|p| {
            let severity = match (p.entry.exposed, p.goal) {
                (true, Goal::Secret) => Severity::High,
                (true, _) => Severity::Critical,
                (false, _) => Severity::High,
            };
            let chain: Vec<String> = p
                .steps
                .iter()
                .map(|s| format!("{} ({})", s.to.label(), s.technique))
                .collect();
            let msg = format!(
                "{}{} reaches {} in {} steps: {}",
                if p.entry.exposed {
                    "exposed "
                } else {
                    "a compromised "
                },
                p.entry.label(),
                p.target.label(),
                p.steps.len(),
                chain.join(" -> ")
            );
            let mut f = Finding::new(ATTACK_PATH, severity, msg).with_remediation(
                "break the chain at its cheapest step: drop the privilege that escapes to the node, set automountServiceAccountToken: false, narrow the RBAC grant, or isolate the workload with a NetworkPolicy",
            );
            if let Some(o) =
                by_ref.get(&(p.entry.kind.clone(), p.entry.namespace.clone(), p.entry.name.clone()))
            {
                f = f.with_object(o.object_ref()).with_location(o.location(""));
            }
            f
        })
        .collect()
}

/// The metadata of every slug [`findings`] emits.
pub fn checks() -> Vec<CheckInfo> {
    vec![
        CheckInfo::new(
            ATTACK_PATH,
            Severity::Critical,
            Origin::Paths,
            "A workload, once compromised, leads to root on a node, cluster-admin or the cluster's Secrets",
        )
        .doc(
            "## What it does\n\
             Follows an attacker from each workload (exposed ones first: LoadBalancer and NodePort \
             Services, Ingress and Gateway API routes, hostNetwork and hostPort) across the network \
             the NetworkPolicies leave open, out of the container to the node (privileged, hostPID \
             with privileged or SYS_PTRACE, SYS_MODULE, SYS_ADMIN, sensitive hostPath mounts, runtime \
             sockets), to the ServiceAccount tokens of the pods the node can run, and through RBAC \
             to cluster-admin, every Secret or a named Secret. Each step names its KubeHound and \
             MITRE ATT&CK technique and the field that allows it.\n\n\
             ## Why is this bad?\n\
             One exploited web application becomes the whole cluster. Every step alone may look \
             like a small hardening miss; together they are a breach.\n\n\
             ## Remediation\n\
             Break the chain at its cheapest step: drop the privilege or the hostPath that escapes \
             to the node, set `automountServiceAccountToken: false` where the pod does not call the \
             API, narrow the RBAC grant, or isolate the workload with a NetworkPolicy. Run \
             `rampart paths` to see every step with its file and line.\n\n\
             ## References\n\
             - KubeHound attack reference: https://kubehound.io/reference/attacks/\n\
             - MITRE ATT&CK Containers matrix: https://attack.mitre.org/matrices/enterprise/containers/\n\
             - Bad Pods: https://bishopfox.com/blog/kubernetes-pod-privilege-escalation\n",
        )
        .references([
            "https://kubehound.io/reference/attacks/",
            "https://attack.mitre.org/matrices/enterprise/containers/",
        ]),
    ]
}
