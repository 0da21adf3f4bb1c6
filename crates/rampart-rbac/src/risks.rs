//! Risky grants: which subjects hold permissions an attacker wants, and the rule that grants them.

use crate::policy::{Binding, Policy, Request, RoleKindBinding, Subject};
use crate::resources;
use rampart_core::{Finding, Location, ObjectRef, Severity};
use rampart_manifest::Object;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

/// A resource name no rule lists: a probe with it succeeds only if the rule has no resourceNames.
pub(crate) const ANY_NAME: &str = "\u{1}any-name";

/// A permission worth flagging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// `*` verbs on `*` resources in `*` groups.
    ClusterAdmin,
    ReadSecrets,
    CreatePods,
    CreateWorkloads,
    ExecPods,
    Escalate,
    Bind,
    Impersonate,
    CreateTokens,
    ApproveCsr,
    SignCsr,
    AdmissionWebhooks,
    NodesProxy,
    PatchNodes,
    ManageRbac,
    Wildcard,
}

const RBAC: &str = "rbac.authorization.k8s.io";
const WORKLOADS: &[(&str, &str)] = &[
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "replicationcontrollers"),
];

fn probe(verb: &str, group: &str, resource: &str) -> Request {
    let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
    Request::resource(verb, "", group, res, sub, ANY_NAME)
}

fn probes_any(verbs: &[&str], targets: &[(&str, &str)]) -> Vec<Request> {
    verbs
        .iter()
        .flat_map(|v| targets.iter().map(move |(g, r)| probe(v, g, r)))
        .collect()
}

impl Capability {
    pub const ALL: [Capability; 16] = [
        Capability::ClusterAdmin,
        Capability::ReadSecrets,
        Capability::CreatePods,
        Capability::CreateWorkloads,
        Capability::ExecPods,
        Capability::Escalate,
        Capability::Bind,
        Capability::Impersonate,
        Capability::CreateTokens,
        Capability::ApproveCsr,
        Capability::SignCsr,
        Capability::AdmissionWebhooks,
        Capability::NodesProxy,
        Capability::PatchNodes,
        Capability::ManageRbac,
        Capability::Wildcard,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Capability::ClusterAdmin => "rbac-cluster-admin-equivalent",
            Capability::ReadSecrets => "rbac-read-secrets",
            Capability::CreatePods => "rbac-create-pods",
            Capability::CreateWorkloads => "rbac-create-workloads",
            Capability::ExecPods => "rbac-exec-pods",
            Capability::Escalate => "rbac-escalate",
            Capability::Bind => "rbac-bind",
            Capability::Impersonate => "rbac-impersonate",
            Capability::CreateTokens => "rbac-create-tokens",
            Capability::ApproveCsr => "rbac-approve-csr",
            Capability::SignCsr => "rbac-sign-csr",
            Capability::AdmissionWebhooks => "rbac-modify-admission-webhooks",
            Capability::NodesProxy => "rbac-nodes-proxy",
            Capability::PatchNodes => "rbac-patch-nodes",
            Capability::ManageRbac => "rbac-manage-rbac",
            Capability::Wildcard => "rbac-wildcard-grant",
        }
    }

    /// What the subject can do, for messages ("can ...").
    pub fn what(self) -> &'static str {
        match self {
            Capability::ClusterAdmin => "do anything (every verb on every resource)",
            Capability::ReadSecrets => "read all Secrets",
            Capability::CreatePods => "create pods (and so run as any ServiceAccount)",
            Capability::CreateWorkloads => {
                "create workloads (and so run pods as any ServiceAccount)"
            }
            Capability::ExecPods => "exec into or attach to pods",
            Capability::Escalate => "escalate roles (grant permissions it does not hold)",
            Capability::Bind => "bind roles (grant permissions it does not hold)",
            Capability::Impersonate => "impersonate users, groups or ServiceAccounts",
            Capability::CreateTokens => "create ServiceAccount tokens",
            Capability::ApproveCsr => "approve certificate signing requests",
            Capability::SignCsr => "sign certificate signing requests",
            Capability::AdmissionWebhooks => "modify admission webhooks",
            Capability::NodesProxy => {
                "use nodes/proxy (the kubelet API: exec in any pod on the node)"
            }
            Capability::PatchNodes => "patch nodes",
            Capability::ManageRbac => "create or change roles and bindings",
            Capability::Wildcard => "use wildcard (*) grants",
        }
    }

    /// Severity at cluster scope and at namespace scope.
    pub fn severity(self, cluster_wide: bool) -> Severity {
        use Capability::*;
        match (self, cluster_wide) {
            (ClusterAdmin | ReadSecrets | Escalate | Bind | Impersonate | NodesProxy, true) => {
                Severity::Critical
            }
            (ClusterAdmin | ReadSecrets | Escalate | Bind | Impersonate | NodesProxy, false) => {
                Severity::High
            }
            (CreatePods | CreateWorkloads | ExecPods | CreateTokens | ManageRbac, true) => {
                Severity::High
            }
            (CreatePods | CreateWorkloads | ExecPods | CreateTokens | ManageRbac, false) => {
                Severity::Medium
            }
            (ApproveCsr | SignCsr | AdmissionWebhooks | PatchNodes, _) => Severity::High,
            (Wildcard, _) => Severity::Medium,
        }
    }

    /// Requests of which all groups must be allowed (a group is allowed if any request in it is).
    fn probes(self) -> Vec<Vec<Request>> {
        use Capability::*;
        match self {
            ClusterAdmin => vec![vec![probe("*", "*", "*")]],
            ReadSecrets => {
                vec![vec![
                    probe("list", "", "secrets"),
                    probe("watch", "", "secrets"),
                    probe("get", "", "secrets"),
                ]]
            }
            CreatePods => vec![vec![probe("create", "", "pods")]],
            CreateWorkloads => vec![probes_any(&["create"], WORKLOADS)],
            ExecPods => vec![probes_any(
                &["create", "get"],
                &[("", "pods/exec"), ("", "pods/attach")],
            )],
            Escalate => vec![probes_any(
                &["escalate"],
                &[(RBAC, "clusterroles"), (RBAC, "roles")],
            )],
            Bind => vec![probes_any(
                &["bind"],
                &[(RBAC, "clusterroles"), (RBAC, "roles")],
            )],
            Impersonate => {
                vec![probes_any(
                    &["impersonate"],
                    &[("", "users"), ("", "groups"), ("", "serviceaccounts")],
                )]
            }
            CreateTokens => vec![vec![probe("create", "", "serviceaccounts/token")]],
            ApproveCsr => vec![
                probes_any(
                    &["update", "patch"],
                    &[("certificates.k8s.io", "certificatesigningrequests/approval")],
                ),
                vec![probe("approve", "certificates.k8s.io", "signers")],
            ],
            SignCsr => vec![
                probes_any(
                    &["update", "patch"],
                    &[("certificates.k8s.io", "certificatesigningrequests/status")],
                ),
                vec![probe("sign", "certificates.k8s.io", "signers")],
            ],
            AdmissionWebhooks => vec![probes_any(
                &["create", "update", "patch", "delete"],
                &[
                    (
                        "admissionregistration.k8s.io",
                        "mutatingwebhookconfigurations",
                    ),
                    (
                        "admissionregistration.k8s.io",
                        "validatingwebhookconfigurations",
                    ),
                ],
            )],
            NodesProxy => vec![probes_any(&["get", "create"], &[("", "nodes/proxy")])],
            PatchNodes => vec![probes_any(&["patch", "update"], &[("", "nodes")])],
            ManageRbac => vec![probes_any(
                &["create", "update", "patch"],
                &[
                    (RBAC, "clusterroles"),
                    (RBAC, "clusterrolebindings"),
                    (RBAC, "roles"),
                    (RBAC, "rolebindings"),
                ],
            )],
            Wildcard => Vec::new(),
        }
    }
}

/// Whether a request can be granted by a binding of that scope: a RoleBinding grants only
/// namespaced resources.
fn in_scope(req: &Request, cluster_wide: bool) -> bool {
    match &req.target {
        crate::policy::Target::Resource {
            group, resource, ..
        } => cluster_wide || resource == "*" || resources::is_namespaced(group, resource),
        crate::policy::Target::NonResource { .. } => cluster_wide,
    }
}

/// Every capability's probes, with whether each probe is namespaced, built once.
type Probes = Vec<(Capability, Vec<Vec<(Request, bool)>>)>;

fn all_probes() -> &'static Probes {
    static PROBES: std::sync::LazyLock<Probes> = std::sync::LazyLock::new(|| {
        Capability::ALL
            .iter()
            .map(|&c| {
                let groups = c
                    .probes()
                    .into_iter()
                    .map(|g| {
                        g.into_iter()
                            .map(|q| (in_scope(&q, false), q))
                            .map(|(ns, q)| (q, ns))
                            .collect()
                    })
                    .collect();
                (c, groups)
            })
            .collect()
    });
    &PROBES
}

/// The capabilities a role's rules grant at a scope, each with the first rule granting it.
pub(crate) fn role_capabilities(
    policy: &Policy,
    rules: &[usize],
    cluster_wide: bool,
) -> Vec<(Capability, usize)> {
    let mut out = Vec::new();
    for (cap, groups) in all_probes() {
        let cap = *cap;
        if cap == Capability::Wildcard {
            if out.iter().any(|(c, _)| *c == Capability::ClusterAdmin) {
                continue;
            }
            let wild = rules.iter().copied().find(|&id| {
                policy.rule(id).is_some_and(|r| {
                    !r.rule.resources.is_empty()
                        && (r.rule.verbs.iter().any(|v| v == "*")
                            || r.rule.resources.iter().any(|v| v == "*")
                            || r.rule.api_groups.iter().any(|v| v == "*"))
                })
            });
            if let Some(id) = wild {
                out.push((cap, id));
            }
            continue;
        }
        let mut first = None;
        let all = groups.iter().all(|group| {
            group
                .iter()
                .filter(|(_, namespaced)| cluster_wide || *namespaced)
                .any(|(q, _)| match policy.role_allows(rules, q) {
                    Some(id) => {
                        first.get_or_insert(id);
                        true
                    }
                    None => false,
                })
        });
        if all && let Some(id) = first {
            out.push((cap, id));
        }
    }
    out
}

/// Capabilities per (role, scope) of every binding, computed in parallel.
#[derive(Default)]
pub(crate) struct CapCache {
    map: HashMap<(usize, bool), Vec<(Capability, usize)>>,
}

impl CapCache {
    pub(crate) fn new(policy: &Policy) -> CapCache {
        let keys: HashSet<(usize, bool)> = policy
            .bindings
            .iter()
            .filter_map(|b| {
                b.role
                    .map(|r| (r, b.kind == RoleKindBinding::ClusterRoleBinding))
            })
            .collect();
        let keys: Vec<(usize, bool)> = keys.into_iter().collect();
        let map = keys
            .into_par_iter()
            .map(|(role, cluster)| {
                let rules = policy.role(role).map(|r| r.rules.as_slice()).unwrap_or(&[]);
                ((role, cluster), role_capabilities(policy, rules, cluster))
            })
            .collect();
        CapCache { map }
    }

    pub(crate) fn get(&self, b: &Binding) -> &[(Capability, usize)] {
        let cluster = b.kind == RoleKindBinding::ClusterRoleBinding;
        b.role
            .and_then(|r| self.map.get(&(r, cluster)))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// One risky grant.
#[derive(Debug, Clone)]
pub struct Risk {
    pub capability: Capability,
    pub severity: Severity,
    pub subject: Subject,
    /// `None` when cluster-wide.
    pub namespace: Option<String>,
    pub binding: usize,
    pub rule: usize,
    pub message: String,
    pub location: Option<Location>,
}

fn unsorted_risks(policy: &Policy) -> Vec<Risk> {
    let cache = CapCache::new(policy);
    policy
        .bindings
        .par_iter()
        .enumerate()
        .filter(|(_, b)| !b.bootstrap && b.role.is_some())
        .flat_map_iter(|(bid, b)| binding_risks(policy, &cache, bid, b))
        .collect()
}

fn binding_risks(policy: &Policy, cache: &CapCache, bid: usize, b: &Binding) -> Vec<Risk> {
    let cluster = b.kind == RoleKindBinding::ClusterRoleBinding;
    let scope = if cluster {
        "cluster-wide".to_string()
    } else {
        format!("in namespace {}", b.namespace)
    };
    let mut out = Vec::new();
    let caps = cache.get(b);
    // cluster-admin implies every other capability: one finding that lists them, not one each
    let admin = caps.iter().find(|(c, _)| *c == Capability::ClusterAdmin);
    let implied: Vec<&str> = if admin.is_some() {
        caps.iter()
            .filter(|(c, _)| *c != Capability::ClusterAdmin)
            .map(|(c, _)| c.what())
            .collect()
    } else {
        Vec::new()
    };
    for &(cap, rule) in admin.map_or(caps, std::slice::from_ref) {
        let via = policy.describe_grant(&crate::policy::Grant {
            binding: bid,
            subject: 0,
            rule,
        });
        let implies = if implied.is_empty() {
            String::new()
        } else {
            format!("; this implies it can {}", implied.join(", "))
        };
        for s in b.subjects.iter().filter(|s| s.valid) {
            out.push(Risk {
                capability: cap,
                severity: cap.severity(cluster),
                subject: s.subject.clone(),
                namespace: (!cluster).then(|| b.namespace.clone()),
                binding: bid,
                rule,
                message: format!(
                    "{} can {} {scope} via {via}{implies}",
                    s.subject.describe(),
                    cap.what()
                ),
                location: s.location.clone().or_else(|| b.location.clone()),
            });
        }
    }
    out
}

/// Every risky grant of the input's bindings (bootstrap bindings are the cluster's own and left
/// out), most severe first.
pub fn risks(policy: &Policy) -> Vec<Risk> {
    let mut out = unsorted_risks(policy);
    out.par_sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.subject.cmp(&b.subject))
            .then_with(|| a.capability.cmp(&b.capability))
    });
    out
}

fn binding_ref(b: &Binding) -> ObjectRef {
    ObjectRef {
        api_version: "rbac.authorization.k8s.io/v1".to_string(),
        kind: match b.kind {
            RoleKindBinding::ClusterRoleBinding => "ClusterRoleBinding",
            RoleKindBinding::RoleBinding => "RoleBinding",
        }
        .to_string(),
        namespace: (b.kind == RoleKindBinding::RoleBinding).then(|| b.namespace.clone()),
        name: b.name.clone(),
    }
}

/// `risks` as scan findings, plus a finding per binding to a missing role and per malformed field.
pub fn risks_findings(objects: &[Object]) -> Vec<Finding> {
    let policy = Policy::from_objects(objects, crate::policy::Options::default());
    risk_findings_of(&policy)
}

/// `risks_findings` over an already built policy.
pub fn risk_findings_of(policy: &Policy) -> Vec<Finding> {
    let mut out: Vec<Finding> = unsorted_risks(policy)
        .into_par_iter()
        .map(|r| {
            let mut f = Finding::new(r.capability.slug(), r.severity, r.message);
            if let Some(b) = policy.binding(r.binding) {
                f = f.with_object(binding_ref(b));
            }
            if let Some(l) = r.location {
                f = f.with_location(l);
            }
            f
        })
        .collect();
    for p in &policy.problems {
        let (slug, sev, file, line, column) = match p {
            crate::RbacError::MissingRole {
                file, line, column, ..
            } => ("rbac-missing-role", Severity::Low, file, *line, *column),
            crate::RbacError::Invalid {
                file, line, column, ..
            } => ("rbac-invalid", Severity::Low, file, *line, *column),
            crate::RbacError::UnknownResource(_) => continue,
        };
        out.push(
            Finding::new(slug, sev, p.to_string()).with_location(Location {
                file: file.as_str().into(),
                line,
                column,
                pointer: String::new(),
                template: None,
            }),
        );
    }
    out
}
