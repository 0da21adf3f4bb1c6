//! Connectivity on equivalence classes of pods.

use crate::conn::ConnSet;
use crate::ip::{IpRange, partition};
use crate::model::{Cluster, NS_NAME_LABEL, PeerSpec, PortSpec, Rule};
use crate::selector::Labels;
use std::collections::HashMap;

/// Pods that no policy can tell apart: same namespace, same labels, same container ports.
#[derive(Debug)]
pub(crate) struct Class<'a> {
    pub namespace: &'a str,
    pub labels: &'a Labels,
    /// Index of one workload of the class (for its ports).
    pub workload: usize,
}

/// Which peers a rule's `from`/`to` names: a bitset over classes and a list of ipBlock ids.
#[derive(Debug, Clone)]
pub(crate) struct RuleMatch {
    pub all: bool,
    /// Whether the peers include the ingress controller (a pod with no labels in a namespace of
    /// its own).
    pub ingress_controller: bool,
    pub classes: Vec<u64>,
    pub ips: Vec<usize>,
}

impl RuleMatch {
    pub fn has_class(&self, c: usize) -> bool {
        self.all
            || self
                .classes
                .get(c / 64)
                .is_some_and(|w| w & (1u64 << (c % 64)) != 0)
    }
    pub fn has_ip(&self, members: &[usize]) -> bool {
        self.all || self.ips.iter().any(|id| members.binary_search(id).is_ok())
    }
}

/// A connection target or source.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Class(usize),
    Ip(&'a [usize]),
    IngressController,
}

/// The namespace netpol-analyzer puts its ingress-controller pod in.
pub(crate) const INGRESS_CONTROLLER_NS: &str = "ingress-controller-ns";

pub(crate) struct Engine<'a> {
    pub cluster: &'a Cluster,
    pub classes: Vec<Class<'a>>,
    /// Class of each workload.
    pub class_of: Vec<usize>,
    /// Policies selecting each class, per direction.
    pub sel_in: Vec<Vec<usize>>,
    pub sel_eg: Vec<Vec<usize>>,
    /// Per policy: matches of each ingress and egress rule.
    pub in_match: Vec<Vec<RuleMatch>>,
    pub eg_match: Vec<Vec<RuleMatch>>,
    /// External ranges as sources (split by ingress ipBlocks) and as destinations (egress ipBlocks),
    /// each with the ipBlock ids that hold it.
    pub src_ips: Vec<(IpRange, Vec<usize>)>,
    pub dst_ips: Vec<(IpRange, Vec<usize>)>,
}

impl<'a> Engine<'a> {
    pub fn new(cluster: &'a Cluster) -> Engine<'a> {
        let mut classes = Vec::new();
        let mut index: HashMap<(&str, &Labels, Vec<_>), usize> = HashMap::new();
        let mut class_of = Vec::with_capacity(cluster.workloads.len());
        for (wi, w) in cluster.workloads.iter().enumerate() {
            let mut ports = w.ports.clone();
            ports.sort();
            let key = (w.namespace.as_str(), &w.labels, ports);
            let id = *index.entry(key).or_insert_with(|| {
                classes.push(Class {
                    namespace: &w.namespace,
                    labels: &w.labels,
                    workload: wi,
                });
                classes.len() - 1
            });
            class_of.push(id);
        }
        let empty = Labels::new();
        let ic_ns_labels =
            Labels::from([(NS_NAME_LABEL.to_string(), INGRESS_CONTROLLER_NS.to_string())]);
        let words = classes.len().div_ceil(64);
        let mut sel_in = vec![Vec::new(); classes.len()];
        let mut sel_eg = vec![Vec::new(); classes.len()];
        let mut in_match = Vec::with_capacity(cluster.policies.len());
        let mut eg_match = Vec::with_capacity(cluster.policies.len());
        for (pi, p) in cluster.policies.iter().enumerate() {
            for (ci, c) in classes.iter().enumerate() {
                if c.namespace == p.namespace && p.selector.matches(c.labels) {
                    if p.ingress.is_some()
                        && let Some(v) = sel_in.get_mut(ci)
                    {
                        v.push(pi);
                    }
                    if p.egress.is_some()
                        && let Some(v) = sel_eg.get_mut(ci)
                    {
                        v.push(pi);
                    }
                }
            }
            let matches = |rules: &Option<Vec<Rule>>| -> Vec<RuleMatch> {
                rules
                    .iter()
                    .flatten()
                    .map(|r| {
                        let Some(peers) = &r.peers else {
                            return RuleMatch {
                                all: true,
                                ingress_controller: true,
                                classes: Vec::new(),
                                ips: Vec::new(),
                            };
                        };
                        let mut m = RuleMatch {
                            all: false,
                            ingress_controller: false,
                            classes: vec![0; words],
                            ips: Vec::new(),
                        };
                        for peer in peers {
                            match peer {
                                PeerSpec::Ip(id) => m.ips.push(*id),
                                PeerSpec::Pods { pod, ns } => {
                                    let ic_ns_ok = match ns {
                                        None => p.namespace == INGRESS_CONTROLLER_NS,
                                        Some(s) => s.matches(&ic_ns_labels),
                                    };
                                    if ic_ns_ok && pod.as_ref().is_none_or(|s| s.matches(&empty)) {
                                        m.ingress_controller = true;
                                    }
                                    for (ci, c) in classes.iter().enumerate() {
                                        let ns_ok = match ns {
                                            None => c.namespace == p.namespace,
                                            Some(s) => s.matches(
                                                cluster
                                                    .namespaces
                                                    .get(c.namespace)
                                                    .unwrap_or(&empty),
                                            ),
                                        };
                                        if ns_ok
                                            && pod.as_ref().is_none_or(|s| s.matches(c.labels))
                                            && let Some(w) = m.classes.get_mut(ci / 64)
                                        {
                                            *w |= 1u64 << (ci % 64);
                                        }
                                    }
                                }
                            }
                        }
                        m
                    })
                    .collect()
            };
            in_match.push(matches(&p.ingress));
            eg_match.push(matches(&p.egress));
        }
        let sets = |ingress: bool| {
            let ids: Vec<usize> = (0..cluster.ip_blocks.len())
                .filter(|i| {
                    cluster
                        .ip_blocks
                        .get(*i)
                        .is_some_and(|b| b.ingress == ingress)
                })
                .collect();
            let sets: Vec<_> = ids
                .iter()
                .filter_map(|i| cluster.ip_blocks.get(*i).map(|b| b.set.clone()))
                .collect();
            partition(&sets)
                .into_iter()
                .map(|(r, members)| {
                    let mut m: Vec<usize> = members
                        .iter()
                        .filter_map(|k| ids.get(*k).copied())
                        .collect();
                    m.sort_unstable();
                    (r, m)
                })
                .collect::<Vec<_>>()
        };
        let src_ips = sets(true);
        let dst_ips = sets(false);
        Engine {
            cluster,
            classes,
            class_of,
            sel_in,
            sel_eg,
            in_match,
            eg_match,
            src_ips,
            dst_ips,
        }
    }

    /// The connections a rule allows toward a destination class (named ports resolved against
    /// it); toward an external destination named ports resolve to nothing.
    pub fn rule_conn(&self, rule: &Rule, dst: Option<usize>) -> ConnSet {
        if !rule.has_named {
            return rule.fixed.clone();
        }
        let mut c = rule.fixed.clone();
        let ports = dst
            .and_then(|d| self.classes.get(d))
            .and_then(|cl| self.cluster.workloads.get(cl.workload))
            .map(|w| w.ports.as_slice())
            .unwrap_or(&[]);
        for spec in rule.ports.iter().flatten() {
            if let PortSpec::Named(proto, name) = spec
                && let Some(cp) = ports
                    .iter()
                    .find(|cp| cp.protocol == *proto && cp.name.as_deref() == Some(name.as_str()))
            {
                c.add(*proto, cp.port, cp.port);
            }
        }
        c
    }

    fn peer_matches(m: &RuleMatch, peer: Target<'_>) -> bool {
        match peer {
            Target::Class(c) => m.has_class(c),
            Target::Ip(members) => m.has_ip(members),
            Target::IngressController => m.ingress_controller,
        }
    }

    /// What the ingress side of `dst` admits from `src`.
    pub fn ingress(&self, src: Target<'_>, dst: usize) -> ConnSet {
        let Some(pols) = self.sel_in.get(dst) else {
            return ConnSet::none();
        };
        if pols.is_empty() {
            return ConnSet::all();
        }
        let mut res = ConnSet::none();
        for &pi in pols {
            let (Some(p), Some(ms)) = (self.cluster.policies.get(pi), self.in_match.get(pi)) else {
                continue;
            };
            for (rule, m) in p.ingress.iter().flatten().zip(ms) {
                if Self::peer_matches(m, src) {
                    res.union_with(&self.rule_conn(rule, Some(dst)));
                    if res.is_all() {
                        return res;
                    }
                }
            }
        }
        res
    }

    /// What the egress side of `src` lets out toward `dst`.
    pub fn egress(&self, src: usize, dst: Target<'_>) -> ConnSet {
        let Some(pols) = self.sel_eg.get(src) else {
            return ConnSet::none();
        };
        if pols.is_empty() {
            return ConnSet::all();
        }
        let dst_class = match dst {
            Target::Class(c) => Some(c),
            Target::Ip(_) | Target::IngressController => None,
        };
        let mut res = ConnSet::none();
        for &pi in pols {
            let (Some(p), Some(ms)) = (self.cluster.policies.get(pi), self.eg_match.get(pi)) else {
                continue;
            };
            for (rule, m) in p.egress.iter().flatten().zip(ms) {
                if Self::peer_matches(m, dst) {
                    res.union_with(&self.rule_conn(rule, dst_class));
                    if res.is_all() {
                        return res;
                    }
                }
            }
        }
        res
    }

    /// Pod class to pod class.
    pub fn between(&self, src: usize, dst: usize) -> ConnSet {
        let eg = self.egress(src, Target::Class(dst));
        if eg.is_empty() {
            return eg;
        }
        eg.intersect(&self.ingress(Target::Class(src), dst))
    }
}
