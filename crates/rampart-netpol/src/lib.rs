//! NetworkPolicy connectivity analysis: who can reach whom, why, and where the gaps are.
//!
//! The semantics are those of the Kubernetes NetworkPolicy API; the connection list matches the
//! np-guard netpol-analyzer `connlist` format line for line. Pods come from Pod objects or
//! workload templates, one representative per workload (`ns/name[Kind]`); traffic from and to
//! outside the cluster is modelled as IP ranges (`0.0.0.0-255.255.255.255[External]`).
//! Connectivity is computed on equivalence classes of pods (same namespace, labels and container
//! ports), not on pod pairs.
//!
//! ```
//! let yaml = r#"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: web, namespace: shop}
//! spec:
//!   template:
//!     metadata: {labels: {app: web}}
//!     spec: {containers: [{name: web, image: nginx}]}
//! ---
//! apiVersion: networking.k8s.io/v1
//! kind: NetworkPolicy
//! metadata: {name: deny-all, namespace: shop}
//! spec: {podSelector: {}, policyTypes: [Ingress]}
//! "#;
//! let loaded = rampart_manifest::load_str("shop.yaml", yaml);
//! let analysis = rampart_netpol::analyze(&loaded.objects).unwrap();
//! let lines: Vec<String> = analysis.connections.iter().map(|c| c.to_string()).collect();
//! assert_eq!(lines, ["shop/web[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections"]);
//! ```

mod conn;
mod eval;
mod explain;
mod format;
mod gaps;
mod ip;
mod model;
mod reach;
mod selector;

pub use conn::{ConnSet, Protocol};
/// What [`gaps`] reads of each object, so a scan can hand it slim objects
/// ([`rampart_manifest::Object::slim`]): NetworkPolicies and Namespaces whole, and the
/// containers' names and ports (named ports) and `hostNetwork` of every pod.
pub const READS: rampart_manifest::Reads = rampart_manifest::Reads {
    kinds: &["NetworkPolicy", "Namespace"],
    workload_spec: &[],
    pod_spec: &[
        "hostNetwork",
        "containers",
        "initContainers",
        "ephemeralContainers",
    ],
    container: &["name", "ports"],
    secret: &[],
};

pub use explain::{Explanation, PolicyTrace, RuleTrace, Side, explain};
pub use format::{Format, UnknownFormat, render};
pub use gaps::{GAP_CHECKS, GapCheck, checks, gaps};
pub use ip::IpRange;
pub use reach::{Reachability, reachability};

use eval::{Engine, Target};
use model::Cluster;
use rampart_core::InputError;
use rampart_manifest::Object;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;

/// Errors of the analyzer.
#[derive(Debug, thiserror::Error)]
pub enum NetpolError {
    /// `--from`/`--to` named a peer that is not in the inputs.
    #[error("no workload or IP address `{0}` in the inputs")]
    UnknownPeer(String),
    /// `--from`/`--to` named more than one workload.
    #[error("`{0}` names more than one workload ({1}); add the kind, e.g. `ns/name[Deployment]`")]
    AmbiguousPeer(String, String),
    /// Both ends of the question are outside the cluster.
    #[error("both peers are IP addresses; NetworkPolicies only govern traffic to or from pods")]
    NoPod,
}

/// One end of a connection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Peer {
    /// A workload: a pod owner, or a bare pod.
    Workload {
        namespace: String,
        name: String,
        kind: String,
    },
    /// A range of addresses outside the cluster.
    External { range: String },
    /// The cluster's ingress controller, when Ingress or Route objects send traffic to workloads.
    IngressController,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Workload {
                namespace,
                name,
                kind,
            } => write!(f, "{namespace}/{name}[{kind}]"),
            Peer::External { range } => write!(f, "{range}[External]"),
            Peer::IngressController => f.write_str("{ingress-controller}"),
        }
    }
}

/// One allowed connection.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub src: Peer,
    pub dst: Peer,
    pub conn: ConnSet,
}

impl fmt::Display for Connection {
    /// `src => dst : conn`, the connlist line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} => {} : {}", self.src, self.dst, self.conn)
    }
}

/// The result of [`analyze`].
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Every workload found, sorted.
    pub workloads: Vec<Peer>,
    /// Allowed connections between different peers, sorted by their connlist line.
    pub connections: Vec<Connection>,
    /// Problems in the inputs (bad policies are left out of the analysis).
    pub errors: Vec<InputError>,
}

fn workload_peer(w: &model::Workload) -> Peer {
    Peer::Workload {
        namespace: w.namespace.clone(),
        name: w.name.clone(),
        kind: w.kind.clone(),
    }
}

/// The workloads whose egress NetworkPolicies let them open `proto`/`port` connections to
/// `ip`, an address outside the cluster's pods (the cloud instance metadata service, for one).
/// Workloads no egress policy selects reach it.
pub fn workloads_reaching(
    objects: &[Object],
    ip: std::net::IpAddr,
    proto: Protocol,
    port: u16,
) -> Vec<Peer> {
    let cluster = Cluster::build(objects);
    let engine = Engine::new(&cluster);
    let ids: &[usize] = engine
        .dst_ips
        .iter()
        .find(|(range, _)| range.contains(ip))
        .map_or(&[], |(_, ids)| ids.as_slice());
    let reaches: Vec<bool> = (0..engine.classes.len())
        .map(|c| engine.egress(c, Target::Ip(ids)).contains(proto, port))
        .collect();
    cluster
        .workloads
        .iter()
        .zip(&engine.class_of)
        .filter(|(_, c)| reaches.get(**c).copied().unwrap_or(false))
        .map(|(w, _)| workload_peer(w))
        .collect()
}

/// Computes every allowed connection between the workloads of `objects` and the outside.
pub fn analyze(objects: &[Object]) -> Result<Analysis, NetpolError> {
    let cluster = Cluster::build(objects);
    let engine = Engine::new(&cluster);
    let names: Vec<Peer> = cluster.workloads.iter().map(workload_peer).collect();
    let names_str: Vec<String> = names.iter().map(ToString::to_string).collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); engine.classes.len()];
    for (wi, c) in engine.class_of.iter().enumerate() {
        if let Some(m) = members.get_mut(*c) {
            m.push(wi);
        }
    }
    let n = engine.classes.len();
    let push_pairs = |out: &mut Vec<Connection>, sc: usize, dc: usize, conn: &ConnSet| {
        for &ws in members.get(sc).into_iter().flatten() {
            for &wd in members.get(dc).into_iter().flatten() {
                if names_str.get(ws) == names_str.get(wd) {
                    continue;
                }
                if let (Some(s), Some(d)) = (names.get(ws), names.get(wd)) {
                    out.push(Connection {
                        src: s.clone(),
                        dst: d.clone(),
                        conn: conn.clone(),
                    });
                }
            }
        }
    };
    let mut connections: Vec<Connection> = (0..n)
        .into_par_iter()
        .map(|sc| {
            let mut out = Vec::new();
            for dc in 0..n {
                let conn = engine.between(sc, dc);
                if !conn.is_empty() {
                    push_pairs(&mut out, sc, dc, &conn);
                }
            }
            // Toward the outside: only the source's egress policies matter.
            for (range, ids) in &engine.dst_ips {
                let conn = engine.egress(sc, Target::Ip(ids));
                if conn.is_empty() {
                    continue;
                }
                for &ws in members.get(sc).into_iter().flatten() {
                    if let Some(s) = names.get(ws) {
                        let dst = Peer::External {
                            range: range.to_string(),
                        };
                        out.push(Connection {
                            src: s.clone(),
                            dst,
                            conn: conn.clone(),
                        });
                    }
                }
            }
            // From the outside: only the destination's ingress policies matter.
            for (range, ids) in &engine.src_ips {
                let conn = engine.ingress(Target::Ip(ids), sc);
                if conn.is_empty() {
                    continue;
                }
                for &wd in members.get(sc).into_iter().flatten() {
                    if let Some(d) = names.get(wd) {
                        let src = Peer::External {
                            range: range.to_string(),
                        };
                        out.push(Connection {
                            src,
                            dst: d.clone(),
                            conn: conn.clone(),
                        });
                    }
                }
            }
            out
        })
        .flatten()
        .collect();
    connections.extend(ingress_controller_connections(&cluster, &engine, &names));
    connections.par_sort_by_cached_key(|c| c.to_string());
    let mut workloads = names;
    workloads.sort();
    Ok(Analysis {
        workloads,
        connections,
        errors: cluster.errors,
    })
}

/// What Ingress and Route objects make the ingress controller reach: the TCP target ports of
/// the Services they name, on the workloads those select, as far as the workloads' ingress
/// policies let a pod of the controller's own namespace in.
fn ingress_controller_connections(
    cluster: &Cluster,
    engine: &Engine<'_>,
    names: &[Peer],
) -> Vec<Connection> {
    use model::PortRef;
    let mut wanted: std::collections::BTreeMap<usize, ConnSet> = std::collections::BTreeMap::new();
    for b in &cluster.backends {
        let Some(svc) = cluster
            .services
            .iter()
            .find(|s| s.namespace == b.namespace && s.name == b.service)
        else {
            continue;
        };
        for (wi, w) in cluster.workloads.iter().enumerate() {
            if w.namespace != svc.namespace
                || !svc.selector.iter().all(|(k, v)| w.labels.get(k) == Some(v))
            {
                continue;
            }
            for sp in &svc.ports {
                let chosen = match &b.port {
                    PortRef::Any => true,
                    PortRef::Number(n) if b.route => {
                        matches!(&sp.target, PortRef::Number(t) if t == n)
                    }
                    PortRef::Name(n) if b.route => sp.name.as_deref() == Some(n.as_str()),
                    PortRef::Number(n) => sp.port == *n,
                    PortRef::Name(n) => sp.name.as_deref() == Some(n.as_str()),
                };
                if !chosen {
                    continue;
                }
                let number = match &sp.target {
                    PortRef::Number(n) => Some(*n),
                    PortRef::Name(n) => w
                        .ports
                        .iter()
                        .find(|cp| {
                            cp.protocol == Protocol::Tcp && cp.name.as_deref() == Some(n.as_str())
                        })
                        .map(|cp| cp.port),
                    PortRef::Any => Some(sp.port),
                };
                // Only a port the pod declares is reachable through the Service.
                if let Some(n) = number.filter(|n| w.ports.iter().any(|cp| cp.port == *n)) {
                    wanted.entry(wi).or_default().add(Protocol::Tcp, n, n);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (wi, want) in wanted {
        let (Some(&class), Some(dst)) = (engine.class_of.get(wi), names.get(wi)) else {
            continue;
        };
        let conn = want.intersect(&engine.ingress(Target::IngressController, class));
        if !conn.is_empty() {
            out.push(Connection {
                src: Peer::IngressController,
                dst: dst.clone(),
                conn,
            });
        }
    }
    out
}
