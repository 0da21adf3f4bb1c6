//! Escalation paths: a graph whose nodes are identities (and the powers they reach) and whose
//! edges are "can become" steps, seeded from every workload's automounted ServiceAccount token.

use crate::policy::{Options, Policy, Request, RoleKindBinding, SubjectKind};
use crate::risks::{ANY_NAME, CapCache, Capability};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use rampart_core::{Field, Finding, Location, ObjectRef, Severity};
use rampart_manifest::Object;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// A node of the escalation graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    /// A workload whose containers hold a ServiceAccount token: where an attacker starts.
    Workload {
        kind: String,
        namespace: String,
        name: String,
    },
    ServiceAccount {
        namespace: String,
        name: String,
    },
    User(String),
    Group(String),
    /// Any ServiceAccount of a namespace (`*`: of every namespace).
    AnyServiceAccount(String),
    /// The ServiceAccounts of the pods running in a namespace (`*`: everywhere).
    RunningPods(String),
    /// Read the Secrets of a namespace.
    NamespaceSecrets(String),
    /// Read every Secret of the cluster.
    AllSecrets,
    /// Cluster-admin-equivalent power.
    ClusterAdmin,
}

impl Node {
    pub fn label(&self) -> String {
        match self {
            Node::Workload {
                kind,
                namespace,
                name,
            } => format!("{kind} {namespace}/{name}"),
            Node::ServiceAccount { namespace, name } => {
                format!("ServiceAccount {namespace}/{name}")
            }
            Node::User(n) => format!("User {n}"),
            Node::Group(n) => format!("Group {n}"),
            Node::AnyServiceAccount(ns) if ns == "*" => {
                "any ServiceAccount in any namespace".to_string()
            }
            Node::AnyServiceAccount(ns) => format!("any ServiceAccount in namespace {ns}"),
            Node::RunningPods(ns) if ns == "*" => {
                "the ServiceAccounts of running pods everywhere".to_string()
            }
            Node::RunningPods(ns) => {
                format!("the ServiceAccounts of running pods in namespace {ns}")
            }
            Node::NamespaceSecrets(ns) => format!("read Secrets in namespace {ns}"),
            Node::AllSecrets => "read all Secrets".to_string(),
            Node::ClusterAdmin => "cluster-admin".to_string(),
        }
    }
}

/// What an edge of the graph stands for, so callers can name the technique behind each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// Widens or narrows a scope (`*` to a namespace, a group membership): no action needed.
    Scope,
    /// A workload's containers hold the token of its ServiceAccount.
    MountedToken,
    /// Any ServiceAccount of a scope, or one a running pod uses, becomes that ServiceAccount.
    AssumeServiceAccount,
    /// The token Secret of a ServiceAccount is read.
    TokenSecret,
    /// A binding grants every permission.
    Permissions,
    /// A binding grants reading Secrets.
    ReadSecrets,
    /// A binding grants creating pods or workloads.
    CreatePods,
    /// A binding grants creating ServiceAccount tokens.
    CreateTokens,
    /// A binding grants impersonation.
    Impersonate,
    /// A binding grants exec into pods (directly or through the kubelet).
    ExecPods,
    /// A binding grants `escalate` or `bind` on roles together with managing RBAC.
    RoleBind,
}

/// An edge: why `from` can become `to`, what kind of move it is, and where its grant is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub via: String,
    pub kind: EdgeKind,
    /// The rule (or binding, or workload field) that allows the move, when it is in the input.
    pub location: Option<Location>,
}

/// What a path leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathTarget {
    ClusterAdmin,
    AllSecrets,
    SecretRead,
}

impl PathTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            PathTarget::ClusterAdmin => "cluster-admin",
            PathTarget::AllSecrets => "all-secrets",
            PathTarget::SecretRead => "secret-read",
        }
    }
}

/// One step of a path: `from` can become `to` by `via`.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub from: String,
    pub to: String,
    pub via: String,
}

/// The shortest path from a seed to a target.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationPath {
    pub seed: String,
    pub target: PathTarget,
    pub steps: Vec<Step>,
    #[serde(skip)]
    pub location: Option<Location>,
    #[serde(skip)]
    pub object: Option<ObjectRef>,
}

struct Seed {
    node: NodeIndex,
    location: Location,
    object: ObjectRef,
}

/// The escalation graph.
pub struct PathGraph {
    pub graph: DiGraph<Node, Edge>,
    /// Nodes by the hash of their value (the graph holds the only copy of each node); the rare
    /// second node with the same hash is in `collided`.
    index: HashMap<u64, NodeIndex>,
    collided: HashMap<u64, Vec<NodeIndex>>,
    hasher: std::hash::RandomState,
    seeds: Vec<Seed>,
}

impl PathGraph {
    fn hash(&self, n: &Node) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, n)
    }

    fn find(&self, n: &Node) -> Option<NodeIndex> {
        self.find_hashed(self.hash(n), n)
    }

    fn find_hashed(&self, h: u64, n: &Node) -> Option<NodeIndex> {
        let first = *self.index.get(&h)?;
        if self.graph.node_weight(first) == Some(n) {
            return Some(first);
        }
        self.collided
            .get(&h)?
            .iter()
            .copied()
            .find(|i| self.graph.node_weight(*i) == Some(n))
    }

    fn node(&mut self, n: Node) -> NodeIndex {
        let h = self.hash(&n);
        if let Some(i) = self.find_hashed(h, &n) {
            return i;
        }
        let i = self.graph.add_node(n);
        match self.index.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.entry(h).or_default().push(i);
            }
        }
        i
    }

    fn edge(&mut self, a: NodeIndex, b: NodeIndex, via: String) {
        self.edge_of(a, b, via, EdgeKind::Scope, None);
    }

    fn edge_of(
        &mut self,
        a: NodeIndex,
        b: NodeIndex,
        via: String,
        kind: EdgeKind,
        location: Option<Location>,
    ) {
        if a != b && self.graph.find_edge(a, b).is_none() {
            self.graph.add_edge(
                a,
                b,
                Edge {
                    via,
                    kind,
                    location,
                },
            );
        }
    }

    /// The node of the graph equal to `n`, if any.
    pub fn find_node(&self, n: &Node) -> Option<NodeIndex> {
        self.find(n)
    }

    /// Build the graph from the input objects and the policy built from them.
    pub fn build(objects: &[Object], policy: &Policy) -> PathGraph {
        let mut g = PathGraph {
            graph: DiGraph::new(),
            index: HashMap::new(),
            collided: HashMap::new(),
            hasher: std::hash::RandomState::new(),
            seeds: Vec::new(),
        };
        let ca = g.node(Node::ClusterAdmin);
        let all = g.node(Node::AllSecrets);
        g.edge(ca, all, "cluster-admin can read every Secret".to_string());
        let any_sa = g.node(Node::AnyServiceAccount("*".to_string()));
        let any_pods = g.node(Node::RunningPods("*".to_string()));

        // ServiceAccounts and namespaces of the input
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        let mut sa_automount: HashMap<(String, String), bool> = HashMap::new();
        let mut token_secrets: Vec<(String, String, String, Location)> = Vec::new();
        for o in objects {
            let ns = o
                .namespace()
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string();
            match (o.api_version(), o.kind()) {
                ("v1", "Namespace") => {
                    namespaces.insert(o.name().to_string());
                }
                ("v1", "ServiceAccount") => {
                    let auto = o
                        .value
                        .field("automountServiceAccountToken")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    sa_automount.insert((ns.clone(), o.name().to_string()), auto);
                    namespaces.insert(ns);
                }
                ("v1", "Secret") => {
                    if o.value.field("type").and_then(Value::as_str)
                        == Some("kubernetes.io/service-account-token")
                        && let Some(sa) = o
                            .value
                            .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                            .and_then(Value::as_str)
                    {
                        token_secrets.push((
                            ns.clone(),
                            o.name().to_string(),
                            sa.to_string(),
                            o.location("/type"),
                        ));
                    }
                    namespaces.insert(ns);
                }
                _ => {}
            }
        }
        // workloads: seeds, and the ServiceAccounts their pods run as
        let mut running: Vec<(String, String)> = Vec::new();
        for o in objects {
            let Some(ps) = rampart_manifest::pod_spec(&o.value) else {
                continue;
            };
            let ns = o
                .namespace()
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string();
            let (sa, sa_ptr) = match ps.spec.field("serviceAccountName").and_then(Value::as_str) {
                Some(s) if !s.is_empty() => {
                    (s.to_string(), format!("{}/serviceAccountName", ps.pointer))
                }
                _ => match ps.spec.field("serviceAccount").and_then(Value::as_str) {
                    Some(s) if !s.is_empty() => {
                        (s.to_string(), format!("{}/serviceAccount", ps.pointer))
                    }
                    _ => ("default".to_string(), ps.pointer.to_string()),
                },
            };
            let automount = ps
                .spec
                .field("automountServiceAccountToken")
                .and_then(Value::as_bool)
                .unwrap_or_else(|| {
                    sa_automount
                        .get(&(ns.clone(), sa.clone()))
                        .copied()
                        .unwrap_or(true)
                });
            namespaces.insert(ns.clone());
            if !automount {
                continue;
            }
            running.push((ns.clone(), sa.clone()));
            let w = g.node(Node::Workload {
                kind: o.kind().to_string(),
                namespace: ns.clone(),
                name: o.name().to_string(),
            });
            let s = g.node(Node::ServiceAccount {
                namespace: ns.clone(),
                name: sa.clone(),
            });
            g.edge_of(
                w,
                s,
                "its containers hold the automounted token of".to_string(),
                EdgeKind::MountedToken,
                Some(o.location(&sa_ptr)),
            );
            g.seeds.push(Seed {
                node: w,
                location: o.location(&sa_ptr),
                object: (*o.object_ref()).clone(),
            });
        }
        for b in &policy.bindings {
            if b.kind == RoleKindBinding::RoleBinding {
                namespaces.insert(b.namespace.clone());
            }
            for s in &b.subjects {
                if s.subject.kind == SubjectKind::ServiceAccount && s.valid {
                    namespaces.insert(s.subject.namespace.clone());
                    sa_automount
                        .entry((s.subject.namespace.clone(), s.subject.name.clone()))
                        .or_insert(true);
                }
            }
        }
        for ns in &namespaces {
            sa_automount
                .entry((ns.clone(), "default".to_string()))
                .or_insert(true);
        }
        for (ns, _) in &running {
            sa_automount
                .entry((ns.clone(), "default".to_string()))
                .or_insert(true);
        }

        // namespace fan-out nodes
        for ns in &namespaces {
            let a = g.node(Node::AnyServiceAccount(ns.clone()));
            g.edge(any_sa, a, format!("includes namespace {ns}"));
            let p = g.node(Node::RunningPods(ns.clone()));
            g.edge(any_pods, p, format!("includes namespace {ns}"));
            let s = g.node(Node::NamespaceSecrets(ns.clone()));
            g.edge(all, s, format!("includes namespace {ns}"));
        }
        let mut sas: Vec<&(String, String)> = sa_automount.keys().collect();
        sas.sort();
        for (ns, name) in sas {
            let a = g.node(Node::AnyServiceAccount(ns.clone()));
            let s = g.node(Node::ServiceAccount {
                namespace: ns.clone(),
                name: name.clone(),
            });
            g.edge_of(
                a,
                s,
                format!("run a pod with serviceAccountName {name} / get its token"),
                EdgeKind::AssumeServiceAccount,
                None,
            );
        }
        for (ns, sa) in &running {
            let p = g.node(Node::RunningPods(ns.clone()));
            let s = g.node(Node::ServiceAccount {
                namespace: ns.clone(),
                name: sa.clone(),
            });
            g.edge_of(
                p,
                s,
                "exec into a pod running as".to_string(),
                EdgeKind::AssumeServiceAccount,
                None,
            );
        }
        for (ns, secret, sa, loc) in &token_secrets {
            let n = g.node(Node::NamespaceSecrets(ns.clone()));
            let s = g.node(Node::ServiceAccount {
                namespace: ns.clone(),
                name: sa.clone(),
            });
            g.edge_of(
                n,
                s,
                format!("read the token Secret {secret} of"),
                EdgeKind::TokenSecret,
                Some(loc.clone()),
            );
        }

        // group membership of identities
        let mut group_subjects: BTreeSet<String> = BTreeSet::new();
        for b in &policy.bindings {
            for s in &b.subjects {
                if s.subject.kind == SubjectKind::Group {
                    group_subjects.insert(s.subject.name.clone());
                }
            }
        }
        let sa_nodes: Vec<(NodeIndex, String)> = g
            .graph
            .node_indices()
            .filter_map(|i| match g.graph.node_weight(i) {
                Some(Node::ServiceAccount { namespace, .. }) => Some((i, namespace.clone())),
                _ => None,
            })
            .collect();
        for (i, ns) in sa_nodes {
            for grp in [
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".to_string(),
            ] {
                if group_subjects.contains(&grp) {
                    let gi = g.node(Node::Group(grp));
                    g.edge(i, gi, "is a member of".to_string());
                }
            }
        }

        // what each binding's subjects can reach
        let cache = CapCache::new(policy);
        let masters = Request::resource("impersonate", "", "", "groups", "", "system:masters");
        for (bid, b) in policy.bindings.iter().enumerate() {
            if b.role.is_none() {
                continue;
            }
            let caps = cache.get(b);
            if caps.is_empty() {
                continue;
            }
            let cluster = b.kind == RoleKindBinding::ClusterRoleBinding;
            let scope = if cluster {
                "*".to_string()
            } else {
                b.namespace.clone()
            };
            let rules = policy.binding_rules(b);
            let has = |c: Capability| caps.iter().find(|(x, _)| *x == c).map(|(_, r)| *r);
            let grant = |rule: usize| {
                policy.describe_grant(&crate::policy::Grant {
                    binding: bid,
                    subject: 0,
                    rule,
                })
            };
            let subjects: Vec<NodeIndex> = b
                .subjects
                .iter()
                .filter(|s| s.valid)
                .map(|s| {
                    let n = match s.subject.kind {
                        SubjectKind::ServiceAccount => Node::ServiceAccount {
                            namespace: s.subject.namespace.clone(),
                            name: s.subject.name.clone(),
                        },
                        SubjectKind::User => Node::User(s.subject.name.clone()),
                        SubjectKind::Group => Node::Group(s.subject.name.clone()),
                    };
                    g.node(n)
                })
                .collect();
            let at = |rule: usize| {
                policy
                    .rules
                    .get(rule)
                    .and_then(|r| r.location.clone())
                    .or_else(|| b.location.clone())
            };
            let mut targets: Vec<(NodeIndex, String, EdgeKind, Option<Location>)> = Vec::new();
            let ns_admin = |g: &mut PathGraph,
                            t: &mut Vec<(NodeIndex, String, EdgeKind, Option<Location>)>,
                            why: String,
                            kind: EdgeKind,
                            loc: Option<Location>| {
                if cluster {
                    t.push((ca, why, kind, loc));
                } else {
                    t.push((
                        g.node(Node::NamespaceSecrets(scope.clone())),
                        why.clone(),
                        kind,
                        loc.clone(),
                    ));
                    t.push((
                        g.node(Node::AnyServiceAccount(scope.clone())),
                        why,
                        kind,
                        loc,
                    ));
                }
            };
            if let Some(r) = has(Capability::ClusterAdmin) {
                ns_admin(
                    &mut g,
                    &mut targets,
                    format!("holds every permission via {}", grant(r)),
                    EdgeKind::Permissions,
                    at(r),
                );
            }
            if let Some(r) = has(Capability::ReadSecrets) {
                let t = if cluster {
                    all
                } else {
                    g.node(Node::NamespaceSecrets(scope.clone()))
                };
                targets.push((
                    t,
                    format!("list/get Secrets via {}", grant(r)),
                    EdgeKind::ReadSecrets,
                    at(r),
                ));
            }
            for (cap, how, kind) in [
                (Capability::CreatePods, "create pods", EdgeKind::CreatePods),
                (
                    Capability::CreateWorkloads,
                    "create workloads",
                    EdgeKind::CreatePods,
                ),
                (
                    Capability::CreateTokens,
                    "create serviceaccounts/token",
                    EdgeKind::CreateTokens,
                ),
            ] {
                if let Some(r) = has(cap) {
                    let where_ = if cluster {
                        "in any namespace".to_string()
                    } else {
                        format!("in namespace {scope}")
                    };
                    targets.push((
                        g.node(Node::AnyServiceAccount(scope.clone())),
                        format!("{how} {where_} via {}", grant(r)),
                        kind,
                        at(r),
                    ));
                }
            }
            if has(Capability::Impersonate).is_some() {
                let sa_probe =
                    Request::resource("impersonate", "", "", "serviceaccounts", "", ANY_NAME);
                if let Some(r) = policy.role_allows(rules, &sa_probe) {
                    targets.push((
                        g.node(Node::AnyServiceAccount(scope.clone())),
                        format!("impersonate serviceaccounts via {}", grant(r)),
                        EdgeKind::Impersonate,
                        at(r),
                    ));
                }
                if cluster {
                    let grp = Request::resource("impersonate", "", "", "groups", "", ANY_NAME);
                    if let Some(r) = policy
                        .role_allows(rules, &grp)
                        .or_else(|| policy.role_allows(rules, &masters))
                    {
                        targets.push((
                            ca,
                            format!("impersonate group system:masters via {}", grant(r)),
                            EdgeKind::Impersonate,
                            at(r),
                        ));
                    }
                    let users = Request::resource("impersonate", "", "", "users", "", ANY_NAME);
                    if let Some(r) = policy.role_allows(rules, &users) {
                        let user_nodes: Vec<NodeIndex> = g
                            .graph
                            .node_indices()
                            .filter(|i| matches!(g.graph.node_weight(*i), Some(Node::User(_))))
                            .collect();
                        for u in user_nodes {
                            targets.push((
                                u,
                                format!("impersonate users via {}", grant(r)),
                                EdgeKind::Impersonate,
                                at(r),
                            ));
                        }
                    }
                }
            }
            if let Some(r) = has(Capability::ExecPods) {
                targets.push((
                    g.node(Node::RunningPods(scope.clone())),
                    format!("exec into pods via {}", grant(r)),
                    EdgeKind::ExecPods,
                    at(r),
                ));
            }
            if let Some(r) = has(Capability::NodesProxy) {
                targets.push((
                    any_pods,
                    format!(
                        "exec into any pod through the kubelet (nodes/proxy) via {}",
                        grant(r)
                    ),
                    EdgeKind::ExecPods,
                    at(r),
                ));
            }
            if let (Some(r), Some(_)) = (has(Capability::Escalate), has(Capability::ManageRbac)) {
                ns_admin(
                    &mut g,
                    &mut targets,
                    format!("escalate: write any rule into a role via {}", grant(r)),
                    EdgeKind::RoleBind,
                    at(r),
                );
            }
            if let (Some(r), Some(_)) = (has(Capability::Bind), has(Capability::ManageRbac)) {
                ns_admin(
                    &mut g,
                    &mut targets,
                    format!("bind any role to itself via {}", grant(r)),
                    EdgeKind::RoleBind,
                    at(r),
                );
            }
            for s in subjects {
                for (t, why, kind, loc) in &targets {
                    g.edge_of(s, *t, why.clone(), *kind, loc.clone());
                }
            }
        }
        // users we know are in system:authenticated
        let users: Vec<NodeIndex> = g
            .graph
            .node_indices()
            .filter(|i| matches!(g.graph.node_weight(*i), Some(Node::User(_))))
            .collect();
        if group_subjects.contains("system:authenticated") {
            let gi = g.node(Node::Group("system:authenticated".to_string()));
            for u in users {
                g.edge(u, gi, "is a member of".to_string());
            }
        }
        g
    }

    /// Reverse BFS from `targets`: for every node, the next hop on a shortest path to one of them.
    fn next_hops(&self, targets: &[NodeIndex]) -> Vec<Option<NodeIndex>> {
        let n = self.graph.node_count();
        let mut next: Vec<Option<NodeIndex>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut q = VecDeque::new();
        for &t in targets {
            if let Some(s) = seen.get_mut(t.index()) {
                *s = true;
            }
            q.push_back(t);
        }
        while let Some(x) = q.pop_front() {
            for p in self.graph.neighbors_directed(x, Direction::Incoming) {
                if let Some(s) = seen.get_mut(p.index())
                    && !*s
                {
                    *s = true;
                    if let Some(slot) = next.get_mut(p.index()) {
                        *slot = Some(x);
                    }
                    q.push_back(p);
                }
            }
        }
        next
    }

    fn walk(&self, from: NodeIndex, next: &[Option<NodeIndex>]) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut cur = from;
        while let Some(Some(n)) = next.get(cur.index()) {
            let via = self
                .graph
                .find_edge(cur, *n)
                .and_then(|e| self.graph.edge_weight(e))
                .map(|e| e.via.clone())
                .unwrap_or_default();
            steps.push(Step {
                from: self
                    .graph
                    .node_weight(cur)
                    .map(Node::label)
                    .unwrap_or_default(),
                to: self
                    .graph
                    .node_weight(*n)
                    .map(Node::label)
                    .unwrap_or_default(),
                via,
            });
            cur = *n;
            if steps.len() > self.graph.node_count() {
                break;
            }
        }
        steps
    }

    /// For every seed, the shortest path to cluster-admin, to reading all Secrets, and to
    /// reading any Secret (each when it exists and differs from the ones before).
    pub fn shortest_paths(&self) -> Vec<EscalationPath> {
        let ca: Vec<NodeIndex> = self.find(&Node::ClusterAdmin).into_iter().collect();
        let all: Vec<NodeIndex> = self.find(&Node::AllSecrets).into_iter().collect();
        let any: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|i| {
                matches!(
                    self.graph.node_weight(*i),
                    Some(Node::AllSecrets | Node::NamespaceSecrets(_))
                )
            })
            .collect();
        let hops = [
            (PathTarget::ClusterAdmin, self.next_hops(&ca)),
            (PathTarget::AllSecrets, self.next_hops(&all)),
            (PathTarget::SecretRead, self.next_hops(&any)),
        ];
        let mut out = Vec::new();
        for seed in &self.seeds {
            let mut have: Vec<Vec<String>> = Vec::new();
            for (target, next) in &hops {
                let steps = self.walk(seed.node, next);
                if steps.is_empty() {
                    continue;
                }
                let key: Vec<String> = steps.iter().map(|s| s.to.clone()).collect();
                if have
                    .iter()
                    .any(|h| key.starts_with(h) || h.starts_with(&key))
                {
                    continue;
                }
                have.push(key);
                out.push(EscalationPath {
                    seed: self
                        .graph
                        .node_weight(seed.node)
                        .map(Node::label)
                        .unwrap_or_default(),
                    target: *target,
                    steps,
                    location: Some(seed.location.clone()),
                    object: Some(seed.object.clone()),
                });
            }
        }
        out
    }
}

/// Escalation paths of the input as scan findings (bootstrap policy included).
pub fn paths_findings(objects: &[Object]) -> Vec<Finding> {
    let policy = Policy::from_objects(objects, Options::default());
    path_findings_of(objects, &policy)
}

/// `paths_findings` over an already built policy.
pub fn path_findings_of(objects: &[Object], policy: &Policy) -> Vec<Finding> {
    let graph = PathGraph::build(objects, policy);
    graph
        .shortest_paths()
        .into_iter()
        .map(|p| {
            let sev = match p.target {
                PathTarget::ClusterAdmin | PathTarget::AllSecrets => Severity::Critical,
                PathTarget::SecretRead => Severity::High,
            };
            let chain: Vec<String> = p.steps.iter().map(|s| s.to.clone()).collect();
            let end = p.steps.last().map(|s| s.to.clone()).unwrap_or_default();
            let mut f = Finding::new(
                "rbac-escalation-path",
                sev,
                format!("a compromised {} can reach \"{end}\" in {} steps: {}", p.seed, p.steps.len(), chain.join(" -> ")),
            )
            .with_remediation(
                "set automountServiceAccountToken: false where the pod does not call the API, and narrow the grants along the path",
            );
            if let Some(o) = p.object {
                f = f.with_object(o);
            }
            if let Some(l) = p.location {
                f = f.with_location(l);
            }
            f
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('"', "'")
}

/// The paths as Graphviz DOT.
pub fn render_dot(paths: &[EscalationPath]) -> String {
    let mut edges: BTreeSet<(String, String, String)> = BTreeSet::new();
    for p in paths {
        for s in &p.steps {
            edges.insert((s.from.clone(), s.to.clone(), s.via.clone()));
        }
    }
    let mut out = String::from("digraph escalation {\n  rankdir=LR;\n  node [shape=box];\n");
    for (a, b, via) in edges {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
            esc(&a),
            esc(&b),
            esc(&via)
        ));
    }
    out.push_str("}\n");
    out
}

/// The paths as a Mermaid flowchart.
pub fn render_mermaid(paths: &[EscalationPath]) -> String {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut out = String::from("flowchart LR\n");
    let mut seen = BTreeSet::new();
    for p in paths {
        for s in &p.steps {
            let n = ids.len();
            let a = *ids.entry(s.from.clone()).or_insert(n);
            let n = ids.len();
            let b = *ids.entry(s.to.clone()).or_insert(n);
            if seen.insert((a, b)) {
                let clean = |x: &str| x.replace(['"', '|'], "'");
                out.push_str(&format!(
                    "  n{a}[\"{}\"] -->|\"{}\"| n{b}[\"{}\"]\n",
                    clean(&s.from),
                    clean(&s.via),
                    clean(&s.to)
                ));
            }
        }
    }
    out
}
