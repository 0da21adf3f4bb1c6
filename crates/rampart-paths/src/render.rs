//! Text, Mermaid and DOT renderings of attack paths.

use crate::{Analysis, AttackPath, Vertex};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// Paths for a terminal: exposed entries first, then shortest first.
pub fn render_text(analysis: &Analysis) -> String {
    let mut out = String::new();
    for p in &analysis.paths {
        let tag = if p.entry.exposed { "[exposed] " } else { "" };
        let _ = writeln!(
            out,
            "{tag}{} ({}) -> {} [{}] in {} step{}",
            p.entry.label(),
            p.entry.evidence,
            p.target.label(),
            p.goal.as_str(),
            p.steps.len(),
            if p.steps.len() == 1 { "" } else { "s" }
        );
        for x in &p.entry.exposures {
            let _ = writeln!(out, "   entry: {} ({})", x.via, x.evidence);
        }
        for (i, s) in p.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. {} => {}  [{} / {}]",
                i + 1,
                s.from.label(),
                s.to.label(),
                s.technique,
                s.mitre
            );
            match &s.evidence {
                Some(e) => {
                    let _ = writeln!(out, "       {} ({e})", s.description);
                }
                None => {
                    let _ = writeln!(out, "       {}", s.description);
                }
            }
        }
    }
    let from_exposed = analysis.paths.iter().filter(|p| p.entry.exposed).count();
    let _ = writeln!(
        out,
        "{} attack path{} ({from_exposed} from exposed workloads); {} workloads, {} exposed",
        analysis.paths.len(),
        if analysis.paths.len() == 1 { "" } else { "s" },
        analysis.entries,
        analysis.exposed_entries
    );
    for n in &analysis.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

fn edges(paths: &[AttackPath]) -> BTreeSet<(String, String, String)> {
    let mut set = BTreeSet::new();
    for p in paths {
        for s in &p.steps {
            set.insert((s.from.label(), s.to.label(), s.technique.to_string()));
        }
    }
    set
}

fn exposed_labels(paths: &[AttackPath]) -> BTreeSet<String> {
    paths
        .iter()
        .filter(|p| p.entry.exposed)
        .map(|p| {
            Vertex::Workload {
                kind: p.entry.kind.clone(),
                namespace: p.entry.namespace.clone(),
                name: p.entry.name.clone(),
            }
            .label()
        })
        .collect()
}

/// The paths as a Mermaid flowchart; exposed entries are marked.
pub fn render_mermaid(paths: &[AttackPath]) -> String {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut out = String::from("flowchart LR\n");
    let clean = |x: &str| x.replace(['"', '|'], "'");
    let exposed = exposed_labels(paths);
    let mut declared = BTreeSet::new();
    for (a, b, t) in edges(paths) {
        let mut id = |s: &String| {
            let n = ids.len();
            *ids.entry(s.clone()).or_insert(n)
        };
        let (ia, ib) = (id(&a), id(&b));
        let mut node = |i: usize, l: &str| {
            if declared.insert(i) {
                let _ = writeln!(out, "  n{i}[\"{}\"]", clean(l));
                if exposed.contains(l) {
                    let _ = writeln!(out, "  class n{i} exposed");
                }
            }
        };
        node(ia, &a);
        node(ib, &b);
        let _ = writeln!(out, "  n{ia} -->|\"{}\"| n{ib}", clean(&t));
    }
    out.push_str("  classDef exposed stroke:#c00,stroke-width:3px\n");
    out
}

/// The paths as Graphviz DOT; exposed entries are drawn in red.
pub fn render_dot(paths: &[AttackPath]) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::from("digraph attack_paths {\n  rankdir=LR;\n  node [shape=box];\n");
    for l in exposed_labels(paths) {
        let _ = writeln!(out, "  \"{}\" [color=red, penwidth=2];", esc(&l));
    }
    for (a, b, t) in edges(paths) {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"];",
            esc(&a),
            esc(&b),
            esc(&t)
        );
    }
    out.push_str("}\n");
    out
}
