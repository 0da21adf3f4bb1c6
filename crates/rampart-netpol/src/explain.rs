//! Why a connection is allowed or denied: the policies and rules on each side.

use crate::conn::ConnSet;
use crate::eval::{Engine, Target};
use crate::model::{Cluster, Rule};
use crate::{NetpolError, Peer, workload_peer};
use rampart_core::Location;
use rampart_manifest::Object;
use serde::Serialize;
use std::net::IpAddr;

/// One rule of a policy that selects the pod, and what it contributes.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace {
    /// `ingress[0]`, `egress[2]`.
    pub rule: String,
    pub location: Location,
    /// Whether the rule's peers include the other end.
    pub peer_matches: bool,
    /// What the rule allows toward the destination (empty when the peer does not match).
    pub allows: ConnSet,
}

/// A policy that selects the pod in the direction.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyTrace {
    pub policy: String,
    pub location: Location,
    pub rules: Vec<RuleTrace>,
}

/// One direction: the egress of the source or the ingress of the destination.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// `egress` or `ingress`.
    pub direction: &'static str,
    /// The peer whose policies decide this side.
    pub peer: String,
    /// Whether any policy selects the peer in this direction; if not, everything is allowed.
    pub isolated: bool,
    /// False for an IP range: nothing outside the cluster is governed by NetworkPolicy.
    pub in_cluster: bool,
    pub policies: Vec<PolicyTrace>,
    pub allowed: ConnSet,
}

/// The answer of [`explain`].
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub src: String,
    pub dst: String,
    pub egress: Side,
    pub ingress: Side,
    /// Both sides together.
    pub allowed: ConnSet,
}

fn target(e: &End, c: Option<usize>) -> Target<'_> {
    match (e, c) {
        (End::Ip(_, ids), _) => Target::Ip(ids.as_slice()),
        (_, Some(c)) => Target::Class(c),
        _ => Target::Ip(&[]),
    }
}

enum End {
    Workload(usize),
    Ip(String, Vec<usize>),
}

fn resolve(
    cluster: &Cluster,
    ranges: &[(crate::ip::IpRange, Vec<usize>)],
    spec: &str,
) -> Result<End, NetpolError> {
    if let Ok(ip) = spec.parse::<IpAddr>() {
        let (r, ids) = ranges
            .iter()
            .find(|(r, _)| r.contains(ip))
            .ok_or_else(|| NetpolError::UnknownPeer(spec.into()))?;
        return Ok(End::Ip(format!("{r}[External]"), ids.clone()));
    }
    let (ns, rest) = spec.split_once('/').unwrap_or(("default", spec));
    let (name, kind) = match rest.strip_suffix(']').and_then(|r| r.split_once('[')) {
        Some((n, k)) => (n, Some(k)),
        None => (rest, None),
    };
    let found: Vec<usize> = cluster
        .workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            w.namespace == ns
                && w.name == name
                && kind.is_none_or(|k| k.eq_ignore_ascii_case(&w.kind))
        })
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [] => Err(NetpolError::UnknownPeer(spec.into())),
        [one] => Ok(End::Workload(*one)),
        many => {
            let names: Vec<String> = many
                .iter()
                .filter_map(|i| cluster.workloads.get(*i))
                .map(|w| w.peer_name())
                .collect();
            Err(NetpolError::AmbiguousPeer(spec.into(), names.join(", ")))
        }
    }
}

fn trace(
    engine: &Engine<'_>,
    objects: &[Object],
    direction: &'static str,
    policies: &[usize],
    peer: Target<'_>,
    dst_class: Option<usize>,
) -> Vec<PolicyTrace> {
    let cluster = engine.cluster;
    let mut out = Vec::new();
    for &pi in policies {
        let Some(p) = cluster.policies.get(pi) else {
            continue;
        };
        let (rules, matches): (&Option<Vec<Rule>>, _) = if direction == "ingress" {
            (&p.ingress, engine.in_match.get(pi))
        } else {
            (&p.egress, engine.eg_match.get(pi))
        };
        let obj = objects.get(p.object);
        let loc = |ptr: &str| obj.map(|o| o.location(ptr)).unwrap_or_default();
        let mut rt = Vec::new();
        for (i, (rule, m)) in rules
            .iter()
            .flatten()
            .zip(matches.into_iter().flatten())
            .enumerate()
        {
            let peer_matches = match peer {
                Target::Class(c) => m.has_class(c),
                Target::Ip(ids) => m.has_ip(ids),
                Target::IngressController => m.ingress_controller,
            };
            let allows = if peer_matches {
                engine.rule_conn(rule, dst_class)
            } else {
                ConnSet::none()
            };
            rt.push(RuleTrace {
                rule: format!("{direction}[{i}]"),
                location: loc(&rule.pointer),
                peer_matches,
                allows,
            });
        }
        out.push(PolicyTrace {
            policy: p.full_name(),
            location: loc("/metadata/name"),
            rules: rt,
        });
    }
    out
}

/// Explains the connection from `from` to `to`: each is `ns/name`, `ns/name[Kind]` or an IP
/// address outside the cluster.
pub fn explain(objects: &[Object], from: &str, to: &str) -> Result<Explanation, NetpolError> {
    let cluster = Cluster::build(objects);
    let engine = Engine::new(&cluster);
    let src = resolve(&cluster, &engine.src_ips, from)?;
    let dst = resolve(&cluster, &engine.dst_ips, to)?;
    let name = |e: &End| match e {
        End::Workload(w) => cluster
            .workloads
            .get(*w)
            .map(workload_peer)
            .map(|p: Peer| p.to_string())
            .unwrap_or_default(),
        End::Ip(s, _) => s.clone(),
    };
    let (src_name, dst_name) = (name(&src), name(&dst));
    let class = |e: &End| match e {
        End::Workload(w) => engine.class_of.get(*w).copied(),
        End::Ip(..) => None,
    };
    let (src_class, dst_class) = (class(&src), class(&dst));
    if src_class.is_none() && dst_class.is_none() {
        return Err(NetpolError::NoPod);
    }
    let outside = |direction: &'static str, peer: &str| Side {
        direction,
        peer: peer.to_string(),
        isolated: false,
        in_cluster: false,
        policies: Vec::new(),
        allowed: ConnSet::all(),
    };
    let egress = match src_class {
        Some(sc) => {
            let pols = engine.sel_eg.get(sc).cloned().unwrap_or_default();
            Side {
                direction: "egress",
                peer: src_name.clone(),
                isolated: !pols.is_empty(),
                in_cluster: true,
                policies: trace(
                    &engine,
                    objects,
                    "egress",
                    &pols,
                    target(&dst, dst_class),
                    dst_class,
                ),
                allowed: engine.egress(sc, target(&dst, dst_class)),
            }
        }
        None => outside("egress", &src_name),
    };
    let ingress = match dst_class {
        Some(dc) => {
            let pols = engine.sel_in.get(dc).cloned().unwrap_or_default();
            Side {
                direction: "ingress",
                peer: dst_name.clone(),
                isolated: !pols.is_empty(),
                in_cluster: true,
                policies: trace(
                    &engine,
                    objects,
                    "ingress",
                    &pols,
                    target(&src, src_class),
                    Some(dc),
                ),
                allowed: engine.ingress(target(&src, src_class), dc),
            }
        }
        None => outside("ingress", &dst_name),
    };
    let allowed = egress.allowed.intersect(&ingress.allowed);
    Ok(Explanation {
        src: src_name,
        dst: dst_name,
        egress,
        ingress,
        allowed,
    })
}
