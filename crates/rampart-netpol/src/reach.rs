//! Reachability between workloads in a compact form, for attack-path analysis: a workload can
//! open some connection to another one, whatever the ports.

use crate::eval::{Engine, RuleMatch, Target};
use crate::model::Cluster;
use crate::{Peer, workload_peer};
use rampart_core::InputError;
use rampart_manifest::Object;
use rayon::prelude::*;

/// Which workloads can open a connection to which.
///
/// Workloads fall into classes that no policy can tell apart. A class is *open* inbound when
/// any pod may connect to it (no ingress policy selects it, or one of its rules admits every
/// pod), and open outbound when it may connect to any pod. Any open-outbound class reaches any
/// open-inbound class; `pairs` lists the other allowed class pairs, so the result stays linear in
/// the number of workloads when few policies apply.
#[derive(Debug, Clone)]
pub struct Reachability {
    /// The workloads, each with the index of the object it came from.
    pub workloads: Vec<(Peer, usize)>,
    /// The class of each workload.
    pub class_of: Vec<usize>,
    pub open_in: Vec<bool>,
    pub open_out: Vec<bool>,
    /// Allowed (source class, destination class) pairs where the source is not open outbound or
    /// the destination not open inbound; a class may appear with itself.
    pub pairs: Vec<(usize, usize)>,
    /// Whether some address outside the cluster may connect to the class.
    pub from_outside: Vec<bool>,
    /// Whether the cluster's ingress controller may connect to the class.
    pub from_ingress_controller: Vec<bool>,
    /// Problems in the inputs (bad policies are left out of the analysis).
    pub errors: Vec<InputError>,
}

fn covers_all(m: &RuleMatch, n: usize) -> bool {
    m.all || (0..n).all(|c| m.has_class(c))
}

/// Computes the [`Reachability`] of the workloads of `objects`.
pub fn reachability(objects: &[Object]) -> Reachability {
    let cluster = Cluster::build(objects);
    let engine = Engine::new(&cluster);
    let n = engine.classes.len();
    let all_of = |rules: &[Vec<RuleMatch>]| -> Vec<Vec<bool>> {
        rules
            .iter()
            .map(|ms| ms.iter().map(|m| covers_all(m, n)).collect())
            .collect()
    };
    let (in_all, eg_all) = (all_of(&engine.in_match), all_of(&engine.eg_match));
    let open = |sel: &[Vec<usize>], alls: &[Vec<bool>], ingress: bool, c: usize| -> bool {
        let Some(pols) = sel.get(c) else {
            return false;
        };
        if pols.is_empty() {
            return true;
        }
        pols.iter().any(|&pi| {
            let (Some(p), Some(ms)) = (cluster.policies.get(pi), alls.get(pi)) else {
                return false;
            };
            let rs = if ingress { &p.ingress } else { &p.egress };
            rs.iter()
                .flatten()
                .zip(ms)
                .any(|(r, all)| *all && !engine.rule_conn(r, ingress.then_some(c)).is_empty())
        })
    };
    let open_in: Vec<bool> = (0..n)
        .into_par_iter()
        .map(|c| open(&engine.sel_in, &in_all, true, c))
        .collect();
    let open_out: Vec<bool> = (0..n)
        .into_par_iter()
        .map(|c| open(&engine.sel_eg, &eg_all, false, c))
        .collect();
    let set_bits = |words: &[u64]| -> Vec<usize> {
        let mut out = Vec::new();
        for (wi, &w) in words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let b = w.trailing_zeros() as usize;
                let c = wi * 64 + b;
                if c < n {
                    out.push(c);
                }
                w &= w - 1;
            }
        }
        out
    };
    // Candidates named by a closed side's rules, confirmed with the full evaluation.
    let named = |sel: &[Vec<usize>], rules: &[Vec<RuleMatch>], c: usize| -> Vec<usize> {
        let mut words = vec![0u64; n.div_ceil(64)];
        for &pi in sel.get(c).into_iter().flatten() {
            for m in rules.get(pi).into_iter().flatten() {
                if m.all {
                    return (0..n).collect();
                }
                for (w, x) in words.iter_mut().zip(&m.classes) {
                    *w |= x;
                }
            }
        }
        set_bits(&words)
    };
    // Sources a closed destination admits on some port: open-outbound ones connect, the others
    // are checked with their egress too.
    let admitted = |d: usize| -> Vec<usize> {
        let mut words = vec![0u64; n.div_ceil(64)];
        for &pi in engine.sel_in.get(d).into_iter().flatten() {
            let (Some(p), Some(ms)) = (cluster.policies.get(pi), engine.in_match.get(pi)) else {
                continue;
            };
            for (r, m) in p.ingress.iter().flatten().zip(ms) {
                if engine.rule_conn(r, Some(d)).is_empty() {
                    continue;
                }
                if m.all {
                    return (0..n).collect();
                }
                for (w, x) in words.iter_mut().zip(&m.classes) {
                    *w |= x;
                }
            }
        }
        set_bits(&words)
    };
    let mut pairs: Vec<(usize, usize)> = (0..n)
        .into_par_iter()
        .flat_map_iter(|d| {
            let mut out = Vec::new();
            if !open_in.get(d).copied().unwrap_or(false) {
                for s in admitted(d) {
                    if open_out.get(s).copied().unwrap_or(false) || !engine.between(s, d).is_empty()
                    {
                        out.push((s, d));
                    }
                }
            }
            out
        })
        .collect();
    let more: Vec<(usize, usize)> = (0..n)
        .into_par_iter()
        .flat_map_iter(|s| {
            let mut out = Vec::new();
            if !open_out.get(s).copied().unwrap_or(false) {
                for d in named(&engine.sel_eg, &engine.eg_match, s) {
                    // closed destinations were covered from their side
                    if open_in.get(d).copied().unwrap_or(false) && !engine.between(s, d).is_empty()
                    {
                        out.push((s, d));
                    }
                }
            }
            out
        })
        .collect();
    pairs.extend(more);
    pairs.sort_unstable();
    pairs.dedup();
    let from_outside: Vec<bool> = (0..n)
        .map(|c| {
            engine
                .src_ips
                .iter()
                .any(|(_, ids)| !engine.ingress(Target::Ip(ids), c).is_empty())
        })
        .collect();
    let from_ingress_controller: Vec<bool> = (0..n)
        .map(|c| !engine.ingress(Target::IngressController, c).is_empty())
        .collect();
    let workloads = cluster
        .workloads
        .iter()
        .map(|w| (workload_peer(w), w.object))
        .collect();
    Reachability {
        workloads,
        class_of: engine.class_of.clone(),
        open_in,
        open_out,
        pairs,
        from_outside,
        from_ingress_controller,
        errors: cluster.errors.clone(),
    }
}
