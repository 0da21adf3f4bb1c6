//! The attack graph: workloads, nodes, identities and goals, with 0-1 weighted edges (scope
//! changes cost nothing), searched backwards from each goal.

use crate::escape::{node_escapes, pod_volume_reads};
use crate::expose::{Door, doors, host_door, services};
use crate::sched::{NodeInfo, schedulable};
use crate::{
    Analysis, AttackPath, Entry, Evidence, Exposure, Goal, Options, Step, Technique, Vertex,
};
use rampart_core::{Field, Location};
use rampart_manifest::{Object, PodSpecRef};
use rampart_rbac::paths::Node as RNode;
use rampart_rbac::{EdgeKind, PathGraph, Policy, Request, RoleKindBinding, SubjectKind};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

struct Edge {
    from: u32,
    to: u32,
    technique: Technique,
    why: Cow<'static, str>,
    evidence: Option<Location>,
}

#[derive(Default)]
struct Graph {
    vertices: Vec<Vertex>,
    index: HashMap<Vertex, u32>,
    edges: Vec<Edge>,
    seen: HashSet<(u32, u32)>,
}

impl Graph {
    fn vertex(&mut self, v: Vertex) -> u32 {
        if let Some(i) = self.index.get(&v) {
            return *i;
        }
        let i = u32::try_from(self.vertices.len()).unwrap_or(u32::MAX);
        self.vertices.push(v.clone());
        self.index.insert(v, i);
        i
    }

    fn edge(
        &mut self,
        from: u32,
        to: u32,
        technique: Technique,
        why: impl Into<Cow<'static, str>>,
        evidence: Option<Location>,
    ) {
        if from != to && self.seen.insert((from, to)) {
            self.edges.push(Edge {
                from,
                to,
                technique,
                why: why.into(),
                evidence,
            });
        }
    }
}

struct Workload<'a> {
    object: &'a Object,
    spec: PodSpecRef<'a>,
    namespace: String,
    vertex: u32,
    exposures: Vec<Exposure>,
    /// Nodes (indices into the node list) its pods can run on.
    nodes: Vec<usize>,
}

fn ns_of(o: &Object, default_ns: &str) -> String {
    o.namespace()
        .filter(|n| !n.is_empty())
        .unwrap_or(default_ns)
        .to_string()
}

fn labels_match(selector: &BTreeMap<String, String>, spec: &PodSpecRef<'_>) -> bool {
    !selector.is_empty()
        && selector.iter().all(|(k, v)| {
            spec.labels().and_then(|l| l.get(k)).and_then(Value::as_str) == Some(v.as_str())
        })
}

/// The Secrets a pod spec names: volumes, projected sources, env and envFrom.
fn secret_refs(spec: &PodSpecRef<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, v) in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(n) = v.pointer("/secret/secretName").and_then(Value::as_str) {
            out.push((
                n.to_string(),
                format!("{}/volumes/{i}/secret/secretName", spec.pointer),
            ));
        }
        for (j, s) in v
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(n) = s.pointer("/secret/name").and_then(Value::as_str) {
                out.push((
                    n.to_string(),
                    format!(
                        "{}/volumes/{i}/projected/sources/{j}/secret/name",
                        spec.pointer
                    ),
                ));
            }
        }
    }
    for c in spec.containers() {
        for (i, e) in c
            .value
            .field("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(n) = e
                .pointer("/valueFrom/secretKeyRef/name")
                .and_then(Value::as_str)
            {
                out.push((
                    n.to_string(),
                    c.ptr(&format!("env/{i}/valueFrom/secretKeyRef/name")),
                ));
            }
        }
        for (i, e) in c
            .value
            .field("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(n) = e.pointer("/secretRef/name").and_then(Value::as_str) {
                out.push((n.to_string(), c.ptr(&format!("envFrom/{i}/secretRef/name"))));
            }
        }
    }
    out
}

fn rnode_vertex(n: &RNode) -> Vertex {
    match n {
        RNode::Workload {
            kind,
            namespace,
            name,
        } => Vertex::Workload {
            kind: kind.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
        },
        RNode::ServiceAccount { namespace, name } => Vertex::ServiceAccount {
            namespace: namespace.clone(),
            name: name.clone(),
        },
        RNode::User(n) => Vertex::User { name: n.clone() },
        RNode::Group(n) => Vertex::Group { name: n.clone() },
        RNode::AnyServiceAccount(ns) => Vertex::AnyServiceAccount {
            namespace: ns.clone(),
        },
        RNode::RunningPods(ns) => Vertex::RunningPods {
            namespace: ns.clone(),
        },
        RNode::NamespaceSecrets(ns) => Vertex::NamespaceSecrets {
            namespace: ns.clone(),
        },
        RNode::AllSecrets => Vertex::AllSecrets,
        RNode::ClusterAdmin => Vertex::ClusterAdmin,
    }
}

fn technique_of(kind: EdgeKind, from: &RNode) -> Technique {
    match kind {
        EdgeKind::Scope if matches!(from, RNode::ClusterAdmin) => Technique::PermissionDiscover,
        EdgeKind::Scope => Technique::Scope,
        EdgeKind::MountedToken | EdgeKind::AssumeServiceAccount => Technique::IdentityAssume,
        EdgeKind::TokenSecret => Technique::TokenList,
        EdgeKind::Permissions | EdgeKind::ReadSecrets | EdgeKind::ExecPods => {
            Technique::PermissionDiscover
        }
        EdgeKind::CreatePods => Technique::PodCreate,
        EdgeKind::CreateTokens => Technique::TokenCreate,
        EdgeKind::Impersonate => Technique::IdentityImpersonate,
        EdgeKind::RoleBind => Technique::RoleBind,
    }
}

/// Namespaces whose Pod Security admission rejects privileged pods.
fn enforced_namespaces(objects: &[Object]) -> HashSet<String> {
    objects
        .iter()
        .filter(|o| o.api_version() == "v1" && o.kind() == "Namespace")
        .filter(|o| {
            matches!(
                o.labels()
                    .and_then(|l| l.get("pod-security.kubernetes.io/enforce"))
                    .and_then(Value::as_str),
                Some("baseline" | "restricted")
            )
        })
        .map(|o| o.name().to_string())
        .collect()
}

/// Kinds without a namespace, which `--namespace` leaves alone.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "GatewayClass",
    "APIService",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "CertificateSigningRequest",
    "PodSecurityPolicy",
];

/// The objects with `namespace` set on the namespaced ones that name none, so every analyzer
/// (RBAC, NetworkPolicies, this one) sees the same namespaces.
fn with_namespace(objects: &[Object], namespace: &str) -> Vec<Object> {
    objects
        .iter()
        .map(|o| {
            let mut value = o.value.clone();
            let kind = value.field("kind").and_then(Value::as_str).unwrap_or("");
            if !CLUSTER_SCOPED.contains(&kind)
                && let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut)
                && meta
                    .get("namespace")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                meta.insert(
                    "namespace".to_string(),
                    Value::String(namespace.to_string()),
                );
            }
            Object::new(
                value,
                o.pos.clone(),
                o.file.clone(),
                o.doc,
                o.item,
                o.template.clone(),
            )
        })
        .collect()
}

pub(crate) fn analyze(objects: &[Object], options: &Options) -> Analysis {
    let dns = options.default_namespace.as_str();
    let owned;
    let objects = if dns == "default" {
        objects
    } else {
        owned = with_namespace(objects, dns);
        owned.as_slice()
    };
    let mut g = Graph::default();
    let mut notes = Vec::new();
    let mut errors = Vec::new();

    // nodes
    let node_infos: Vec<NodeInfo> = objects
        .iter()
        .filter(|o| o.api_version() == "v1" && o.kind() == "Node")
        .map(NodeInfo::of)
        .collect();
    let one_pool = node_infos.is_empty();
    if one_pool {
        notes.push(
            "no Node objects in the input: every workload is assumed to run on one shared pool of nodes"
                .to_string(),
        );
    }
    let node_names: Vec<String> = if one_pool {
        vec![crate::ANY_NODE.to_string()]
    } else {
        node_infos.iter().map(|n| n.name.clone()).collect()
    };
    let host: Vec<u32> = node_names
        .iter()
        .map(|n| g.vertex(Vertex::Node { name: n.clone() }))
        .collect();
    let volumes: Vec<u32> = node_names
        .iter()
        .map(|n| g.vertex(Vertex::NodeVolumes { name: n.clone() }))
        .collect();
    for (h, v) in host.iter().zip(&volumes) {
        g.edge(
            *h,
            *v,
            Technique::VolumeAccess,
            "as root, read the kubelet's pod volumes (/var/lib/kubelet/pods)",
            None,
        );
    }

    // workloads
    let mut workloads: Vec<Workload<'_>> = Vec::new();
    let mut by_key: HashMap<(String, String, String), usize> = HashMap::new();
    for o in objects {
        if o.kind() == "PodTemplate" {
            continue;
        }
        let Some(spec) = rampart_manifest::pod_spec(&o.value) else {
            continue;
        };
        let namespace = ns_of(o, dns);
        let key = (
            o.kind().to_string(),
            namespace.clone(),
            o.name().to_string(),
        );
        if by_key.contains_key(&key) {
            continue;
        }
        let vertex = g.vertex(Vertex::Workload {
            kind: key.0.clone(),
            namespace: namespace.clone(),
            name: key.2.clone(),
        });
        let nodes = if one_pool {
            vec![0]
        } else {
            node_infos
                .iter()
                .enumerate()
                .filter(|(_, n)| schedulable(&spec, n, o.kind() == "DaemonSet"))
                .map(|(i, _)| i)
                .collect()
        };
        by_key.insert(key, workloads.len());
        workloads.push(Workload {
            object: o,
            spec,
            namespace,
            vertex,
            exposures: Vec::new(),
            nodes,
        });
    }

    // the network: who reaches whom, and who the outside reaches
    let reach = rampart_netpol::reachability(objects);
    errors.extend(reach.errors.iter().cloned());
    let mut class_of_workload: Vec<Option<usize>> = vec![None; workloads.len()];
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for ((peer, _), class) in reach.workloads.iter().zip(&reach.class_of) {
        if let rampart_netpol::Peer::Workload {
            namespace,
            name,
            kind,
        } = peer
            && let Some(&wi) = by_key.get(&(kind.clone(), namespace.clone(), name.clone()))
        {
            if let Some(slot) = class_of_workload.get_mut(wi) {
                *slot = Some(*class);
            }
            members.entry(*class).or_default().push(wi);
        }
    }
    let svcs = services(objects, dns);
    let mut in_namespace: HashMap<&str, Vec<usize>> = HashMap::new();
    for (wi, w) in workloads.iter().enumerate() {
        in_namespace
            .entry(w.namespace.as_str())
            .or_default()
            .push(wi);
    }
    // the workloads each Service selects
    let selected: HashMap<(String, String), Vec<usize>> = svcs
        .iter()
        .map(|(key, s)| {
            let ws = in_namespace
                .get(key.0.as_str())
                .into_iter()
                .flatten()
                .copied()
                .filter(|wi| {
                    workloads
                        .get(*wi)
                        .is_some_and(|w| labels_match(&s.selector, &w.spec))
                })
                .collect();
            (key.clone(), ws)
        })
        .collect();
    let mut selected_by_service = vec![false; workloads.len()];
    for wi in selected.values().flatten() {
        if let Some(x) = selected_by_service.get_mut(*wi) {
            *x = true;
        }
    }
    let flag = |v: &[bool], c: Option<usize>| c.and_then(|c| v.get(c).copied()).unwrap_or(true);
    for door in doors(objects, &svcs, dns) {
        let Some(ws) = selected.get(&(door.namespace.clone(), door.service.clone())) else {
            continue;
        };
        for &wi in ws {
            let Some(w) = workloads.get_mut(wi) else {
                continue;
            };
            let class = class_of_workload.get(wi).copied().flatten();
            let allowed = match door.door {
                Door::Outside => flag(&reach.from_outside, class),
                Door::Proxy => flag(&reach.from_ingress_controller, class),
            };
            if allowed {
                w.exposures.push(Exposure {
                    via: door.why.clone(),
                    evidence: Evidence::from(&door.location),
                });
            }
        }
    }
    for w in &mut workloads {
        if let Some((why, ptr)) = host_door(&w.spec) {
            w.exposures.push(Exposure {
                via: why,
                evidence: Evidence::from(&w.object.location(&ptr)),
            });
        }
    }
    // lateral movement: only toward workloads that listen (a container port or a Service)
    let listens: Vec<bool> = workloads
        .iter()
        .zip(&selected_by_service)
        .map(|(w, svc)| {
            *svc || w.spec.containers().iter().any(|c| {
                c.value
                    .field("ports")
                    .and_then(Value::as_array)
                    .is_some_and(|p| !p.is_empty())
            })
        })
        .collect();
    let lateral: Vec<Location> = workloads
        .iter()
        .map(|w| {
            let c = w
                .spec
                .containers()
                .into_iter()
                .find(|c| c.value.field("ports").is_some());
            match c {
                Some(c) => w.object.location(&c.ptr("ports")),
                None => w.object.location(w.spec.pointer),
            }
        })
        .collect();
    let net = g.vertex(Vertex::Network);
    for (wi, w) in workloads.iter().enumerate() {
        let Some(class) = class_of_workload.get(wi).copied().flatten() else {
            continue;
        };
        if reach.open_out.get(class).copied().unwrap_or(false) {
            g.edge(w.vertex, net, Technique::Scope, "", None);
        }
        if reach.open_in.get(class).copied().unwrap_or(false)
            && listens.get(wi).copied().unwrap_or(false)
        {
            g.edge(
                net,
                w.vertex,
                Technique::EndpointExploit,
                "no NetworkPolicy keeps it from being reached: exploit its endpoint",
                lateral.get(wi).cloned(),
            );
        }
    }
    for (sc, dc) in &reach.pairs {
        for &ws in members.get(sc).into_iter().flatten() {
            for &wd in members.get(dc).into_iter().flatten() {
                let (Some(a), Some(b)) = (workloads.get(ws), workloads.get(wd)) else {
                    continue;
                };
                if ws == wd || !listens.get(wd).copied().unwrap_or(false) {
                    continue;
                }
                let (from, to, ev) = (a.vertex, b.vertex, lateral.get(wd).cloned());
                g.edge(
                    from,
                    to,
                    Technique::EndpointExploit,
                    "the NetworkPolicies let it connect: exploit its endpoint",
                    ev,
                );
            }
        }
    }

    // escapes to the node, and what a node gives
    let mut secrets_of: Vec<Vec<(u32, Location)>> = Vec::with_capacity(workloads.len());
    for w in &workloads {
        if let Some(e) = node_escapes(&w.spec).into_iter().next() {
            for &n in &w.nodes {
                if let Some(&h) = host.get(n) {
                    g.edge(
                        w.vertex,
                        h,
                        e.technique,
                        e.why.clone(),
                        Some(w.object.location(&e.pointer)),
                    );
                }
            }
        }
        if let Some(e) = pod_volume_reads(&w.spec) {
            for &n in &w.nodes {
                if let Some(&v) = volumes.get(n) {
                    g.edge(
                        w.vertex,
                        v,
                        e.technique,
                        e.why.clone(),
                        Some(w.object.location(&e.pointer)),
                    );
                }
            }
        }
        let mut mine = Vec::new();
        for (name, ptr) in secret_refs(&w.spec) {
            let s = g.vertex(Vertex::Secret {
                namespace: w.namespace.clone(),
                name: name.clone(),
            });
            let loc = w.object.location(&ptr);
            g.edge(
                w.vertex,
                s,
                Technique::VolumeDiscover,
                format!("read Secret {name} from its containers' files or environment"),
                Some(loc.clone()),
            );
            mine.push((s, loc));
        }
        secrets_of.push(mine);
    }
    for (w, mine) in workloads.iter().zip(&secrets_of) {
        for &n in &w.nodes {
            let Some(&v) = volumes.get(n) else { continue };
            for (s, loc) in mine {
                g.edge(
                    v,
                    *s,
                    Technique::VolumeDiscover,
                    format!(
                        "read a Secret that {} {}/{} mounts",
                        w.object.kind(),
                        w.namespace,
                        w.object.name()
                    ),
                    Some(loc.clone()),
                );
            }
        }
    }
    let mut secret_objects: Vec<(u32, Location, String)> = Vec::new();
    for o in objects {
        if o.api_version() == "v1" && o.kind() == "Secret" {
            let ns = ns_of(o, dns);
            let s = g.vertex(Vertex::Secret {
                namespace: ns.clone(),
                name: o.name().to_string(),
            });
            secret_objects.push((s, o.location("/metadata/name"), ns));
        }
    }

    // RBAC: tokens to permissions
    let policy = Policy::from_objects(objects, rampart_rbac::Options::default());
    let mut warnings = Vec::new();
    for p in &policy.problems {
        match p {
            rampart_rbac::RbacError::Invalid {
                file,
                line,
                column,
                message,
            } => errors.push(rampart_core::InputError {
                file: file.clone(),
                line: *line,
                column: *column,
                message: message.clone(),
            }),
            other => warnings.push(other.to_string()),
        }
    }
    let rg = PathGraph::build(objects, &policy);
    let mut rmap: Vec<u32> = Vec::with_capacity(rg.graph.node_count());
    for i in rg.graph.node_indices() {
        let v = rg
            .graph
            .node_weight(i)
            .map(rnode_vertex)
            .unwrap_or(Vertex::Network);
        rmap.push(g.vertex(v));
    }
    let enforced = enforced_namespaces(objects);
    let namespaces_all_enforced =
        !workloads.is_empty() && workloads.iter().all(|w| enforced.contains(&w.namespace));
    let mut running: HashMap<String, Vec<u32>> = HashMap::new();
    for w in &workloads {
        running
            .entry(w.namespace.clone())
            .or_default()
            .push(w.vertex);
    }
    let mut sa_of: HashMap<u32, (u32, Option<Location>)> = HashMap::new();
    for e in rg.graph.edge_indices() {
        let (Some((a, b)), Some(edge)) = (rg.graph.edge_endpoints(e), rg.graph.edge_weight(e))
        else {
            continue;
        };
        let (Some(from_node), Some(to_node)) = (rg.graph.node_weight(a), rg.graph.node_weight(b))
        else {
            continue;
        };
        let (Some(&fa), Some(&fb)) = (rmap.get(a.index()), rmap.get(b.index())) else {
            continue;
        };
        let technique = technique_of(edge.kind, from_node);
        g.edge(fa, fb, technique, edge.via.clone(), edge.location.clone());
        if edge.kind == EdgeKind::MountedToken {
            sa_of.insert(fa, (fb, edge.location.clone()));
        }
        if edge.kind == EdgeKind::CreatePods
            && let RNode::AnyServiceAccount(scope) = to_node
        {
            let open = if scope == "*" {
                !namespaces_all_enforced
            } else {
                !enforced.contains(scope)
            };
            if open {
                for &h in &host {
                    g.edge(
                        fa,
                        h,
                        Technique::PodCreateNode,
                        format!(
                            "create a privileged pod on the node ({}; no Pod Security enforcement stops it)",
                            edge.via
                        ),
                        edge.location.clone(),
                    );
                }
            }
        }
    }
    // patch a running pod's image: the attacker's code runs in it
    let patch = Request::resource("patch", "", "", "pods", "", "");
    let mut patchable: HashSet<String> = HashSet::new();
    for b in &policy.bindings {
        if b.role.is_none() {
            continue;
        }
        let Some(r) = policy.role_allows(policy.binding_rules(b), &patch) else {
            continue;
        };
        let scope = match b.kind {
            RoleKindBinding::ClusterRoleBinding => "*".to_string(),
            RoleKindBinding::RoleBinding => b.namespace.clone(),
        };
        let pv = g.vertex(Vertex::PatchablePods {
            namespace: scope.clone(),
        });
        patchable.insert(scope);
        let loc = policy
            .rules
            .get(r)
            .and_then(|x| x.location.clone())
            .or_else(|| b.location.clone());
        for s in b.subjects.iter().filter(|s| s.valid) {
            let v = match s.subject.kind {
                SubjectKind::ServiceAccount => Vertex::ServiceAccount {
                    namespace: s.subject.namespace.clone(),
                    name: s.subject.name.clone(),
                },
                SubjectKind::User => Vertex::User {
                    name: s.subject.name.clone(),
                },
                SubjectKind::Group => Vertex::Group {
                    name: s.subject.name.clone(),
                },
            };
            let sv = g.vertex(v);
            g.edge(
                sv,
                pv,
                Technique::PermissionDiscover,
                format!("patch pods via {} -> {}", b.describe(), b.role_ref()),
                loc.clone(),
            );
        }
    }
    let any_patch = g.index.get(&Vertex::PatchablePods {
        namespace: "*".to_string(),
    });
    if let Some(&all) = any_patch {
        for ns in running.keys() {
            let pv = g.vertex(Vertex::PatchablePods {
                namespace: ns.clone(),
            });
            g.edge(all, pv, Technique::Scope, "", None);
            patchable.insert(ns.clone());
        }
    }
    for ns in &patchable {
        let Some(&pv) = g.index.get(&Vertex::PatchablePods {
            namespace: ns.clone(),
        }) else {
            continue;
        };
        for &w in running.get(ns).into_iter().flatten() {
            g.edge(
                pv,
                w,
                Technique::PodPatch,
                "replace the image of one of its pods with the attacker's",
                None,
            );
        }
    }
    // exec into the running pods of a namespace: inside any of its workloads
    for (ns, ws) in &running {
        let rp = g.index.get(&Vertex::RunningPods {
            namespace: ns.clone(),
        });
        if let Some(&rp) = rp {
            for &w in ws {
                g.edge(rp, w, Technique::PodExec, "exec into one of its pods", None);
            }
        }
    }
    // a node's pod volumes hold the tokens of the pods it runs
    for w in &workloads {
        let Some((sa, loc)) = sa_of.get(&w.vertex).cloned() else {
            continue;
        };
        for &n in &w.nodes {
            if let Some(&v) = volumes.get(n) {
                g.edge(
                    v,
                    sa,
                    Technique::TokenSteal,
                    format!(
                        "steal the token {} {}/{} mounts",
                        w.object.kind(),
                        w.namespace,
                        w.object.name()
                    ),
                    loc.clone(),
                );
            }
        }
    }
    for (s, loc, ns) in &secret_objects {
        let nsv = g.vertex(Vertex::NamespaceSecrets {
            namespace: ns.clone(),
        });
        g.edge(
            nsv,
            *s,
            Technique::SecretRead,
            "get the Secret through the API",
            Some(loc.clone()),
        );
    }
    // Secrets named by workloads but not in the input are readable with their namespace's too
    let named: Vec<(u32, String)> = g
        .vertices
        .iter()
        .enumerate()
        .filter_map(|(i, v)| match v {
            Vertex::Secret { namespace, .. } => Some((u32::try_from(i).ok()?, namespace.clone())),
            _ => None,
        })
        .collect();
    for (s, ns) in named {
        if let Some(&nsv) = g.index.get(&Vertex::NamespaceSecrets {
            namespace: ns.clone(),
        }) {
            g.edge(
                nsv,
                s,
                Technique::SecretRead,
                "get the Secret through the API",
                None,
            );
        }
    }

    let entries: Vec<Entry> = workloads
        .iter()
        .map(|w| Entry {
            kind: w.object.kind().to_string(),
            namespace: w.namespace.clone(),
            name: w.object.name().to_string(),
            exposed: !w.exposures.is_empty(),
            exposures: w.exposures.clone(),
            evidence: Evidence::from(&w.object.location("")),
        })
        .collect();
    let exposed_entries = entries.iter().filter(|e| e.exposed).count();
    let starts: Vec<u32> = workloads.iter().map(|w| w.vertex).collect();
    let search = Search::new(&g);
    let mut paths = Vec::new();
    for goal in Goal::ALL {
        let targets: Vec<u32> = g
            .vertices
            .iter()
            .enumerate()
            .filter(|(_, v)| match goal {
                Goal::Node => matches!(v, Vertex::Node { .. }),
                Goal::ClusterAdmin => matches!(v, Vertex::ClusterAdmin),
                Goal::AllSecrets => matches!(v, Vertex::AllSecrets),
                Goal::Secret => matches!(v, Vertex::Secret { .. }),
            })
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        let groups: Vec<Vec<u32>> = if options.all {
            targets.iter().map(|t| vec![*t]).collect()
        } else {
            vec![targets]
        };
        for group in groups {
            if group.is_empty() {
                continue;
            }
            let next = search.next_hops(&group);
            for (entry, &start) in entries.iter().zip(&starts) {
                if let Some((steps, target)) = search.walk(start, &next) {
                    paths.push(AttackPath {
                        entry: entry.clone(),
                        goal,
                        target,
                        steps,
                    });
                }
            }
        }
    }
    paths.sort_by(|a, b| {
        (!a.entry.exposed, a.steps.len(), a.goal, a.entry.label()).cmp(&(
            !b.entry.exposed,
            b.steps.len(),
            b.goal,
            b.entry.label(),
        ))
    });
    Analysis {
        paths,
        notes,
        errors,
        warnings,
        entries: entries.len(),
        exposed_entries,
    }
}

/// Incoming edges of every vertex, for searches backwards from the goals.
struct Search<'g> {
    g: &'g Graph,
    start: Vec<u32>,
    incoming: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl<'g> Search<'g> {
    fn new(g: &'g Graph) -> Search<'g> {
        let n = g.vertices.len();
        let mut count = vec![0u32; n + 1];
        for e in &g.edges {
            if let Some(c) = count.get_mut(e.to as usize + 1) {
                *c += 1;
            }
        }
        for i in 1..count.len() {
            let prev = count.get(i - 1).copied().unwrap_or(0);
            if let Some(c) = count.get_mut(i) {
                *c += prev;
            }
        }
        let mut fill = count.clone();
        let mut incoming = vec![0u32; g.edges.len()];
        for (ei, e) in g.edges.iter().enumerate() {
            if let Some(f) = fill.get_mut(e.to as usize) {
                if let Some(slot) = incoming.get_mut(*f as usize) {
                    *slot = u32::try_from(ei).unwrap_or(NONE);
                }
                *f += 1;
            }
        }
        Search {
            g,
            start: count,
            incoming,
        }
    }

    /// 0-1 BFS backwards from `targets`: for every vertex, the edge to take on a shortest path.
    fn next_hops(&self, targets: &[u32]) -> Vec<u32> {
        let n = self.g.vertices.len();
        let mut dist = vec![u32::MAX; n];
        let mut next = vec![NONE; n];
        let mut q = VecDeque::new();
        for &t in targets {
            if let Some(d) = dist.get_mut(t as usize) {
                *d = 0;
                q.push_back(t);
            }
        }
        while let Some(x) = q.pop_front() {
            let dx = dist.get(x as usize).copied().unwrap_or(u32::MAX);
            let lo = self.start.get(x as usize).copied().unwrap_or(0) as usize;
            let hi = self.start.get(x as usize + 1).copied().unwrap_or(0) as usize;
            for &ei in self.incoming.get(lo..hi).unwrap_or(&[]) {
                let Some(e) = self.g.edges.get(ei as usize) else {
                    continue;
                };
                let w = u32::from(e.technique != Technique::Scope);
                let nd = dx.saturating_add(w);
                if let Some(d) = dist.get_mut(e.from as usize)
                    && nd < *d
                {
                    *d = nd;
                    if let Some(slot) = next.get_mut(e.from as usize) {
                        *slot = ei;
                    }
                    if w == 0 {
                        q.push_front(e.from);
                    } else {
                        q.push_back(e.from);
                    }
                }
            }
        }
        next
    }

    /// The steps from `start` along `next`, scope changes folded into the step after them.
    fn walk(&self, start: u32, next: &[u32]) -> Option<(Vec<Step>, Vertex)> {
        let mut steps = Vec::new();
        let mut cur = start;
        let mut from = start;
        let mut guard = 0usize;
        while let Some(&ei) = next.get(cur as usize) {
            if ei == NONE {
                break;
            }
            let e = self.g.edges.get(ei as usize)?;
            if e.technique != Technique::Scope {
                steps.push(Step {
                    from: self.g.vertices.get(from as usize)?.clone(),
                    to: self.g.vertices.get(e.to as usize)?.clone(),
                    technique: e.technique.id(),
                    mitre: e.technique.mitre(),
                    description: e.why.to_string(),
                    evidence: e.evidence.as_ref().map(Evidence::from),
                });
                from = e.to;
            }
            cur = e.to;
            guard += 1;
            if guard > self.g.vertices.len() {
                return None;
            }
        }
        if steps.is_empty() {
            return None;
        }
        Some((steps, self.g.vertices.get(cur as usize)?.clone()))
    }
}
