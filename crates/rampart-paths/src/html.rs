//! The attack paths as HTML: the graph as inline SVG, laid out in layers from left to right
//! (entries, the moves between, goals), and one table per path listing its steps with their
//! technique, MITRE ATT&CK id and evidence. Nothing is loaded from anywhere: the page's style and
//! its small script (highlighting a path's vertices and edges when its table is hovered) are
//! inline. Vertices show names only, never a Secret's value.
//!
//! The layout: the union of the paths' steps is a directed graph; a greedy feedback arc set makes
//! it acyclic (the few edges it removes are drawn as arcs below the columns), each vertex sits in
//! the column of its longest path from an entry, goals that end paths in the last column, and
//! two barycentre sweeps order each column to keep edges short and straight.

use crate::{Analysis, AttackPath, Goal, Vertex};
use petgraph::graph::{DiGraph, NodeIndex};
#[cfg(test)]
use std::collections::BTreeMap;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// How many paths the graph draws at most: the first ones (exposed entries, shortest first).
/// Past a few dozen, a drawing shows a wall of edges and the tables below say more.
pub const GRAPH_PATHS: usize = 40;

/// The style of the graph and the path tables, every selector under `.rp`.
pub const HTML_CSS: &str = r#"
.rp{--rp-exposed:#c62828;--rp-goal:#8e0000;--rp-ink:#222;--rp-edge:#78909c}
.rp .rp-graph{overflow:auto;background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px;margin:8px 0}
.rp svg{display:block;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.rp .rp-node rect{fill:#f5f7f8;stroke:#90a4ae;stroke-width:1.2}
.rp .rp-node.rp-entry rect{fill:#fff8e1;stroke:#ef6c00}
.rp .rp-node.rp-exposed rect{fill:#ffebee;stroke:var(--rp-exposed);stroke-width:2.5}
.rp .rp-node.rp-goal rect{fill:var(--rp-goal);stroke:var(--rp-goal)}
.rp .rp-node.rp-goal text{fill:#fff}
.rp .rp-node .rp-kind{font-size:10px;fill:#607d8b;text-transform:uppercase;letter-spacing:.04em}
.rp .rp-node.rp-goal .rp-kind{fill:#ffcdd2}
.rp .rp-node .rp-name{font-size:12px;font-weight:600;fill:var(--rp-ink)}
.rp .rp-edge path{fill:none;stroke:var(--rp-edge);stroke-width:1.4}
.rp .rp-edge text{font-size:10px;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;fill:#37474f}
.rp .rp-edge rect{fill:#fff;opacity:.9}
.rp svg.rp-hl .rp-edge,.rp svg.rp-hl .rp-node{opacity:.18}
.rp svg.rp-hl .rp-on{opacity:1}
.rp svg.rp-hl .rp-edge.rp-on path{stroke:var(--rp-exposed);stroke-width:2.4}
.rp .rp-legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:#555;margin:4px 0}
.rp .rp-legend span::before{content:"";display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;vertical-align:-2px;border:2px solid #90a4ae;background:#f5f7f8}
.rp .rp-legend .l-exposed::before{border-color:var(--rp-exposed);background:#ffebee}
.rp .rp-legend .l-entry::before{border-color:#ef6c00;background:#fff8e1}
.rp .rp-legend .l-goal::before{border-color:var(--rp-goal);background:var(--rp-goal)}
.rp .rp-path{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px 12px;margin:12px 0;break-inside:avoid}
.rp .rp-path h3{font-size:15px;margin:4px 0 6px}
.rp .rp-path table{border-collapse:collapse;width:100%;table-layout:fixed}
.rp .rp-path th,.rp .rp-path td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere;font-size:13px}
.rp .rp-path th{background:#f0f0f0}
.rp .rp-path th:nth-child(1){width:32px}.rp .rp-path th:nth-child(2){width:30%}.rp .rp-path th:nth-child(3){width:230px}.rp .rp-path th:nth-child(5){width:24%}
.rp .rp-tag{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600;color:#fff;background:#607d8b;margin-left:4px}
.rp .rp-tag.t-exposed{background:var(--rp-exposed)}.rp .rp-tag.t-goal{background:var(--rp-goal)}
.rp .rp-ev{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;color:#444}
.rp .rp-tech{font-weight:600}
.rp .muted{color:#666}
@media print{.rp .rp-graph{overflow:visible;border:none}.rp svg{max-width:100%;height:auto}}
"#;

/// Highlights a path's vertices and edges while its table is hovered or focused, and marks
/// labels wider than their box (`rp-overflow`), which the layout's width estimate should avoid.
pub const HTML_JS: &str = r#"
(function(){
  var svg=document.querySelector('.rp svg.rp-svg');
  if(!svg){return;}
  function on(p){svg.classList.add('rp-hl');svg.querySelectorAll('[data-paths]').forEach(function(e){
    if((' '+e.getAttribute('data-paths')+' ').indexOf(' '+p+' ')>=0){e.classList.add('rp-on');}});}
  function off(){svg.classList.remove('rp-hl');svg.querySelectorAll('.rp-on').forEach(function(e){e.classList.remove('rp-on');});}
  document.querySelectorAll('.rp .rp-path[data-path]').forEach(function(s){
    var p=s.getAttribute('data-path');
    s.addEventListener('mouseenter',function(){on(p);});s.addEventListener('mouseleave',off);
    s.addEventListener('focusin',function(){on(p);});s.addEventListener('focusout',off);
  });
  var overflow=0;
  svg.querySelectorAll('.rp-node').forEach(function(g){
    var r=g.querySelector('rect');var w=r?r.width.baseVal.value:0;
    g.querySelectorAll('text').forEach(function(t){if(t.getComputedTextLength()>w-8){t.classList.add('rp-overflow');overflow++;}});
  });
  svg.setAttribute('data-drawn',svg.querySelectorAll('.rp-node').length+' nodes, '+svg.querySelectorAll('.rp-edge').length+' edges, '+overflow+' overflowing');
})();
"#;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The two lines of a vertex's box: a small kind line and its name.
fn caption(v: &Vertex, exposed: bool) -> (String, String) {
    match v {
        Vertex::Workload {
            kind,
            namespace,
            name,
        } => (
            if exposed {
                format!("{kind} · exposed")
            } else {
                kind.clone()
            },
            format!("{namespace}/{name}"),
        ),
        Vertex::ServiceAccount { namespace, name } => {
            ("ServiceAccount".into(), format!("{namespace}/{name}"))
        }
        Vertex::User { name } => ("User".into(), name.clone()),
        Vertex::Group { name } => ("Group".into(), name.clone()),
        Vertex::Secret { namespace, name } => ("Secret".into(), format!("{namespace}/{name}")),
        Vertex::Node { .. } => ("node".into(), v.label()),
        Vertex::ClusterAdmin | Vertex::AllSecrets => ("goal".into(), v.label()),
        _ => ("".into(), v.label()),
    }
}

/// Whether a vertex is what a goal reaches.
fn is_goal(v: &Vertex) -> bool {
    matches!(
        v,
        Vertex::Node { .. } | Vertex::ClusterAdmin | Vertex::AllSecrets | Vertex::Secret { .. }
    )
}

/// Longest shown name, in characters; longer ones are cut with an ellipsis (the full label is
/// the box's tooltip).
const MAX_CHARS: usize = 44;
/// Width of a character of the 12px bold name line, generously (wide glyphs, `W`, `m`).
const CHAR_W: f64 = 7.6;
const CHAR_W_KIND: f64 = 7.0;
const NODE_H: f64 = 40.0;
const ROW_GAP: f64 = 16.0;
const COL_GAP: f64 = 150.0;
const MARGIN: f64 = 16.0;
/// Graphs up to this wide are scaled down to the page's width; wider ones scroll.
const FIT_WIDTH: f64 = 1700.0;

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_CHARS - 1).collect();
        t.push('…');
        t
    }
}

struct Node {
    vertex: Vertex,
    kind: String,
    name: String,
    classes: &'static str,
    paths: BTreeSet<usize>,
    layer: usize,
    width: f64,
    x: f64,
    y: f64,
}

struct Edge {
    from: usize,
    to: usize,
    techniques: BTreeSet<(&'static str, &'static str)>,
    paths: BTreeSet<usize>,
}

fn paths_attr(set: &BTreeSet<usize>) -> String {
    set.iter()
        .map(|p| format!("p{p}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The graph of `paths` as an inline `<svg>` (class `rp-svg`), laid out in layers from left
/// to right. Each vertex is a `g.rp-node` and each edge a `g.rp-edge` labelled with its
/// techniques; both name the paths through them in `data-paths` (`p0 p3`, indexes into
/// `paths`). Empty for no path.
pub fn render_svg(paths: &[AttackPath]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    // vertices and edges, in the order the paths (exposed first, shortest first) meet them
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: HashMap<Vertex, usize> = HashMap::new();
    let mut edges: Vec<Edge> = Vec::new();
    let mut edge_index: HashMap<(usize, usize), usize> = HashMap::new();
    let mut add = |v: &Vertex, p: usize, exposed_entry: bool, entry: bool| -> usize {
        let i = *index.entry(v.clone()).or_insert_with(|| {
            let (kind, name) = caption(v, exposed_entry);
            nodes.push(Node {
                vertex: v.clone(),
                kind,
                name: cut(&name),
                classes: "",
                paths: BTreeSet::new(),
                layer: 0,
                width: 0.0,
                x: 0.0,
                y: 0.0,
            });
            nodes.len() - 1
        });
        if let Some(n) = nodes.get_mut(i) {
            n.paths.insert(p);
            if entry && n.classes.is_empty() {
                n.kind = caption(v, exposed_entry).0;
                n.classes = if exposed_entry {
                    " rp-entry rp-exposed"
                } else {
                    " rp-entry"
                };
            }
        }
        i
    };
    for (pi, p) in paths.iter().enumerate() {
        let entry = Vertex::Workload {
            kind: p.entry.kind.clone(),
            namespace: p.entry.namespace.clone(),
            name: p.entry.name.clone(),
        };
        let mut prev = add(&entry, pi, p.entry.exposed, true);
        for s in &p.steps {
            let a = if s.from == entry {
                prev
            } else {
                add(&s.from, pi, false, false)
            };
            let b = add(&s.to, pi, false, false);
            let e = *edge_index.entry((a, b)).or_insert_with(|| {
                edges.push(Edge {
                    from: a,
                    to: b,
                    techniques: BTreeSet::new(),
                    paths: BTreeSet::new(),
                });
                edges.len() - 1
            });
            if let Some(e) = edges.get_mut(e) {
                e.techniques.insert((s.technique, s.mitre));
                e.paths.insert(pi);
            }
            prev = b;
        }
    }
    for n in &mut nodes {
        if n.classes.is_empty() && is_goal(&n.vertex) {
            n.classes = " rp-goal";
        }
    }
    let back = layer(&mut nodes, &edges);
    order_and_place(&mut nodes, &edges);

    let width = nodes.iter().map(|n| n.x + n.width).fold(0.0_f64, f64::max) + MARGIN;
    let bottom = nodes.iter().map(|n| n.y + NODE_H).fold(0.0_f64, f64::max);
    // edges against the flow run as arcs below every box, each a little lower
    let backward: Vec<usize> = edges
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            back.contains(i)
                || match (nodes.get(e.from), nodes.get(e.to)) {
                    (Some(a), Some(b)) => b.layer <= a.layer,
                    _ => false,
                }
        })
        .map(|(i, _)| i)
        .collect();
    let height = bottom + MARGIN + 22.0 * backward.len() as f64 + 8.0;
    let mut s = String::with_capacity(1024 + 400 * (nodes.len() + edges.len()));
    let _ = write!(
        s,
        "<svg class=\"rp-svg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\"{} role=\"img\" aria-label=\"attack path graph: {} vertices, {} edges\">\
         <defs><marker id=\"rp-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#78909c\"/></marker></defs>",
        // a graph a little wider than the page shrinks to fit it; a large one scrolls
        if width <= FIT_WIDTH {
            " style=\"max-width:100%;height:auto\""
        } else {
            ""
        },
        nodes.len(),
        edges.len()
    );
    // edges under the boxes
    for (ei, e) in edges.iter().enumerate() {
        let (Some(a), Some(b)) = (nodes.get(e.from), nodes.get(e.to)) else {
            continue;
        };
        let (d, lx, ly) = if let Some(k) = backward.iter().position(|&b| b == ei) {
            // down from the box, along below every box, up into the other
            let (x1, y1) = (a.x + a.width / 2.0, a.y + NODE_H);
            let (x2, y2) = (b.x + b.width / 2.0, b.y + NODE_H);
            let low = bottom + 18.0 + 22.0 * k as f64;
            (
                format!(
                    "M{x1:.1},{y1:.1} L{x1:.1},{:.1} Q{x1:.1},{low:.1} {:.1},{low:.1} L{:.1},{low:.1} Q{x2:.1},{low:.1} {x2:.1},{:.1} L{x2:.1},{:.1}",
                    low - 8.0,
                    if x2 < x1 { x1 - 8.0 } else { x1 + 8.0 },
                    if x2 < x1 { x2 + 8.0 } else { x2 - 8.0 },
                    low - 8.0,
                    y2 + 2.0
                ),
                (x1 + x2) / 2.0,
                low + 4.0,
            )
        } else {
            let (x1, y1) = (a.x + a.width, a.y + NODE_H / 2.0);
            let (x2, y2) = (b.x, b.y + NODE_H / 2.0);
            let dx = ((x2 - x1) / 2.0).max(30.0);
            (
                format!(
                    "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                    x1 + dx,
                    x2 - dx
                ),
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0 - 4.0,
            )
        };
        let label = e
            .techniques
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
            .join(", ");
        let lw = label.chars().count() as f64 * 6.1 + 6.0;
        let title: Vec<String> = e
            .techniques
            .iter()
            .map(|(t, m)| {
                if m.is_empty() {
                    (*t).to_string()
                } else {
                    format!("{t} (MITRE ATT&CK {m})")
                }
            })
            .collect();
        let _ = write!(
            s,
            "<g class=\"rp-edge\" data-paths=\"{}\" data-from=\"{}\" data-to=\"{}\"><title>{} → {}: {}</title><path d=\"{d}\" marker-end=\"url(#rp-arrow)\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{lw:.1}\" height=\"13\" rx=\"2\"/><text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{}</text></g>",
            paths_attr(&e.paths),
            esc(&a.vertex.label()),
            esc(&b.vertex.label()),
            esc(&a.vertex.label()),
            esc(&b.vertex.label()),
            esc(&title.join(", ")),
            lx - lw / 2.0,
            ly - 10.0,
            esc(&label)
        );
    }
    for n in &nodes {
        let cx = n.x + n.width / 2.0;
        let _ = write!(
            s,
            "<g class=\"rp-node{}\" data-paths=\"{}\" data-vertex=\"{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{NODE_H}\" rx=\"6\"/>",
            n.classes,
            paths_attr(&n.paths),
            esc(&n.vertex.label()),
            esc(&n.vertex.label()),
            n.x,
            n.y,
            n.width
        );
        if n.kind.is_empty() {
            let _ = write!(
                s,
                "<text class=\"rp-name\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                n.y + NODE_H / 2.0 + 4.0,
                esc(&n.name)
            );
        } else {
            let _ = write!(
                s,
                "<text class=\"rp-kind\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text class=\"rp-name\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                n.y + 15.0,
                esc(&n.kind),
                n.y + 31.0,
                esc(&n.name)
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

/// Assigns each vertex its column: the longest path to it from an entry once a feedback arc
/// set is left out (returned: those edges' indexes), with goals that end paths moved to the
/// last column.
fn layer(nodes: &mut [Node], edges: &[Edge]) -> BTreeSet<usize> {
    let mut g: DiGraph<(), usize> = DiGraph::with_capacity(nodes.len(), edges.len());
    let ids: Vec<NodeIndex> = nodes.iter().map(|_| g.add_node(())).collect();
    for (i, e) in edges.iter().enumerate() {
        if let (Some(&a), Some(&b)) = (ids.get(e.from), ids.get(e.to)) {
            g.add_edge(a, b, i);
        }
    }
    let back: BTreeSet<usize> = petgraph::algo::greedy_feedback_arc_set(&g)
        .map(|e| *e.weight())
        .collect();
    let mut dag = g.clone();
    dag.retain_edges(|g, e| g.edge_weight(e).is_none_or(|w| !back.contains(w)));
    if let Ok(order) = petgraph::algo::toposort(&dag, None) {
        let mut depth = vec![0usize; nodes.len()];
        for v in order {
            let d = depth.get(v.index()).copied().unwrap_or(0);
            for w in dag.neighbors(v) {
                if let Some(x) = depth.get_mut(w.index()) {
                    *x = (*x).max(d + 1);
                }
            }
        }
        for (n, d) in nodes.iter_mut().zip(depth) {
            n.layer = d;
        }
    }
    // an entry sits just before the first vertex it leads to, not at the far left with an edge
    // across every column
    let mut has_in = vec![false; nodes.len()];
    let mut first_next = vec![usize::MAX; nodes.len()];
    for (i, e) in edges.iter().enumerate() {
        if back.contains(&i) {
            continue;
        }
        if let Some(h) = has_in.get_mut(e.to) {
            *h = true;
        }
        let to_layer = nodes.get(e.to).map_or(0, |n| n.layer);
        if let Some(f) = first_next.get_mut(e.from) {
            *f = (*f).min(to_layer);
        }
    }
    for (i, n) in nodes.iter_mut().enumerate() {
        let next = first_next.get(i).copied().unwrap_or(usize::MAX);
        if !has_in.get(i).copied().unwrap_or(true) && next != usize::MAX && next > 0 {
            n.layer = next - 1;
        }
    }
    let last = nodes.iter().map(|n| n.layer).max().unwrap_or(0);
    let has_out: BTreeSet<usize> = edges
        .iter()
        .enumerate()
        .filter(|(i, _)| !back.contains(i))
        .map(|(_, e)| e.from)
        .collect();
    for (i, n) in nodes.iter_mut().enumerate() {
        if n.classes == " rp-goal" && !has_out.contains(&i) {
            n.layer = last;
        }
    }
    back
}

/// Orders each column by the barycentre of its neighbours (two sweeps each way) and gives
/// every box its place.
fn order_and_place(nodes: &mut [Node], edges: &[Edge]) {
    let layers = nodes.iter().map(|n| n.layer).max().unwrap_or(0) + 1;
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, n) in nodes.iter().enumerate() {
        if let Some(c) = columns.get_mut(n.layer) {
            c.push(i);
        }
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for e in edges {
        if let Some(p) = preds.get_mut(e.to) {
            p.push(e.from);
        }
        if let Some(s) = succs.get_mut(e.from) {
            s.push(e.to);
        }
    }
    let mut pos = vec![0.0_f64; nodes.len()];
    let set_pos = |columns: &[Vec<usize>], pos: &mut Vec<f64>| {
        for c in columns {
            for (k, &i) in c.iter().enumerate() {
                if let Some(p) = pos.get_mut(i) {
                    *p = k as f64;
                }
            }
        }
    };
    set_pos(&columns, &mut pos);
    let sweep = |columns: &mut Vec<Vec<usize>>,
                 pos: &mut Vec<f64>,
                 neigh: &Vec<Vec<usize>>,
                 forward: bool| {
        let idx: Vec<usize> = if forward {
            (1..columns.len()).collect()
        } else {
            (0..columns.len().saturating_sub(1)).rev().collect()
        };
        for l in idx {
            let Some(col) = columns.get_mut(l) else {
                continue;
            };
            let mut keyed: Vec<(f64, usize)> = col
                .iter()
                .map(|&i| {
                    let ns = neigh.get(i).map(Vec::as_slice).unwrap_or(&[]);
                    let own = pos.get(i).copied().unwrap_or(0.0);
                    if ns.is_empty() {
                        (own, i)
                    } else {
                        let sum: f64 = ns.iter().map(|&j| pos.get(j).copied().unwrap_or(0.0)).sum();
                        (sum / ns.len() as f64, i)
                    }
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            *col = keyed.into_iter().map(|(_, i)| i).collect();
            for (k, &i) in col.iter().enumerate() {
                if let Some(p) = pos.get_mut(i) {
                    *p = k as f64;
                }
            }
        }
    };
    for _ in 0..2 {
        sweep(&mut columns, &mut pos, &preds, true);
        sweep(&mut columns, &mut pos, &succs, false);
    }
    // widths, columns' x, rows' y (each column centred on the tallest)
    for n in nodes.iter_mut() {
        let w = (n.name.chars().count() as f64 * CHAR_W)
            .max(n.kind.chars().count() as f64 * CHAR_W_KIND)
            + 24.0;
        n.width = w.max(110.0);
    }
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let full = tallest * (NODE_H + ROW_GAP) - ROW_GAP;
    let mut x = MARGIN;
    for c in &columns {
        let cw = c
            .iter()
            .filter_map(|&i| nodes.get(i))
            .map(|n| n.width)
            .fold(0.0_f64, f64::max);
        let h = c.len() as f64 * (NODE_H + ROW_GAP) - ROW_GAP;
        let top = MARGIN + (full - h) / 2.0;
        for (k, &i) in c.iter().enumerate() {
            if let Some(n) = nodes.get_mut(i) {
                n.x = x + (cw - n.width) / 2.0;
                n.y = top + k as f64 * (NODE_H + ROW_GAP);
            }
        }
        if cw > 0.0 {
            x += cw + COL_GAP;
        }
    }
}

/// The graph of the first [`GRAPH_PATHS`] paths, a legend, and one table per path (the first
/// `listed` of them) with its steps, as an HTML fragment inside `<div class="rp">`; style it
/// with [`HTML_CSS`] and add [`HTML_JS`] after it for the highlighting.
pub fn render_html_section(paths: &[AttackPath], listed: usize) -> String {
    let mut h = String::with_capacity(4096 + paths.len() * 2048);
    h.push_str("<div class=\"rp\">");
    if paths.is_empty() {
        h.push_str("<p class=\"rp-none\">No attack path: no workload, once compromised, reaches root on a node, cluster-admin or the Secrets.</p></div>");
        return h;
    }
    let shown = paths.len().min(GRAPH_PATHS);
    let exposed = paths.iter().filter(|p| p.entry.exposed).count();
    let _ = write!(
        h,
        "<p class=\"rp-summary\">{} attack path{} ({exposed} from exposed workloads){}.</p>",
        paths.len(),
        if paths.len() == 1 { "" } else { "s" },
        if shown < paths.len() {
            format!("; the graph draws the first {shown}")
        } else {
            String::new()
        }
    );
    h.push_str("<div class=\"rp-legend\"><span class=\"l-exposed\">exposed entry</span><span class=\"l-entry\">entry (after an app exploit)</span><span class=\"l-mid\">step</span><span class=\"l-goal\">goal</span><span>edges: technique ids (KubeHound); hover a path below to follow it</span></div>");
    let _ = write!(
        h,
        "<div class=\"rp-graph\">{}</div>",
        render_svg(paths.get(..shown).unwrap_or(paths))
    );
    for (i, p) in paths.iter().take(listed).enumerate() {
        path_table(&mut h, i, p);
    }
    if listed < paths.len() {
        let _ = write!(
            h,
            "<p class=\"muted\">{} more paths are not listed; `rampart paths` shows them all.</p>",
            paths.len() - listed
        );
    }
    h.push_str("</div>");
    h
}

/// Evidence as `file:line:col`, or the file alone when it has no position (a live object).
fn evidence(e: &crate::Evidence) -> String {
    if e.line == 0 {
        esc(&e.file)
    } else {
        esc(&e.to_string())
    }
}

fn path_table(h: &mut String, i: usize, p: &AttackPath) {
    let goal = match p.goal {
        Goal::Node => "node",
        Goal::ClusterAdmin => "cluster-admin",
        Goal::AllSecrets => "all-secrets",
        Goal::Secret => "secret",
    };
    let _ = write!(
        h,
        "<section class=\"rp-path\" id=\"path-{n}\" data-path=\"p{i}\" tabindex=\"0\"><h3>{n}. {} → {} <span class=\"rp-tag t-goal\">{goal}</span>{} <span class=\"muted\">· {} step{}</span></h3>",
        esc(&p.entry.label()),
        esc(&p.target.label()),
        if p.entry.exposed {
            " <span class=\"rp-tag t-exposed\">exposed</span>"
        } else {
            ""
        },
        p.steps.len(),
        if p.steps.len() == 1 { "" } else { "s" },
        n = i + 1
    );
    let _ = write!(
        h,
        "<p class=\"rp-entry-line\">Entry: {} <span class=\"rp-ev\">{}</span>",
        esc(&p.entry.label()),
        evidence(&p.entry.evidence)
    );
    if p.entry.exposures.is_empty() {
        h.push_str(" — any workload is a foothold after an app exploit.</p>");
    } else {
        h.push_str("</p><ul class=\"rp-exposures\">");
        for x in &p.entry.exposures {
            let _ = write!(
                h,
                "<li>from the internet: {} <span class=\"rp-ev\">{}</span></li>",
                esc(&x.via),
                evidence(&x.evidence)
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("<table><thead><tr><th>#</th><th>Move</th><th>Technique</th><th>What the attacker does</th><th>Evidence</th></tr></thead><tbody>");
    for (k, s) in p.steps.iter().enumerate() {
        let _ = write!(
            h,
            "<tr class=\"rp-step\"><td>{}</td><td>{} → <strong>{}</strong></td><td><span class=\"rp-tech\">{}</span><br><span class=\"rp-mitre\">MITRE {}</span></td><td>{}</td><td class=\"rp-ev\">{}</td></tr>",
            k + 1,
            esc(&s.from.label()),
            esc(&s.to.label()),
            esc(s.technique),
            esc(s.mitre),
            esc(&s.description),
            s.evidence
                .as_ref()
                .map(evidence)
                .unwrap_or_else(|| "—".into())
        );
    }
    h.push_str("</tbody></table></section>");
}

/// `rampart paths -o html`: one self-contained page with the graph and every path.
pub fn render_html(analysis: &Analysis) -> String {
    let mut h = String::with_capacity(8192 + analysis.paths.len() * 2048);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>rampart attack paths</title><style>\
         body{{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}}\
         header,main{{max-width:1400px;margin:0 auto;padding:12px 24px}}header h1{{margin:0 0 4px;font-size:22px}}\
         {HTML_CSS}</style></head><body>\n<header><h1>rampart attack paths</h1>\
         <div class=\"muted\">{} workloads, {} exposed to the internet · entries are workloads an attacker holds after an app exploit; goals: root on a node, cluster-admin, every Secret, a named Secret</div></header>\n<main>",
        analysis.entries, analysis.exposed_entries
    );
    if !analysis.notes.is_empty() {
        h.push_str("<section id=\"notes\"><ul>");
        for n in &analysis.notes {
            let _ = write!(h, "<li class=\"muted\">note: {}</li>", esc(n));
        }
        h.push_str("</ul></section>");
    }
    h.push_str(&render_html_section(&analysis.paths, usize::MAX));
    let _ = write!(
        h,
        "</main>\n<script>{HTML_JS}document.body.dataset.ready='1';</script>\n</body></html>\n"
    );
    h
}

/// Each vertex's label and the x of its box, read back from the SVG.
#[cfg(test)]
fn columns_of(paths: &[AttackPath]) -> BTreeMap<String, usize> {
    let svg = render_svg(paths);
    let mut out = BTreeMap::new();
    for part in svg.split("<g class=\"rp-node").skip(1) {
        let label = part
            .split("data-vertex=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_string();
        let x: f64 = part
            .split("<rect x=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        out.insert(label, x as usize);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn example() -> Analysis {
        let loaded = rampart_manifest::load_str(
            "web.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\n\
             spec:\n  containers:\n    - name: web\n      image: nginx\n      securityContext: {privileged: true}\n\
             ---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n\
             spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}\n\
             ---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ndata: {password: aHVudGVyMg==}\n",
        );
        crate::analyze(&loaded.objects, &crate::Options::default())
    }

    #[test]
    fn entries_left_goals_right_and_no_secret_value() {
        let a = example();
        assert!(!a.paths.is_empty());
        let cols = columns_of(&a.paths);
        let entry = cols["Pod shop/web"];
        assert!(
            cols.iter().all(|(l, &x)| l == "Pod shop/web" || x > entry),
            "{cols:?}"
        );
        let page = render_html(&a);
        assert!(!page.contains("aHVudGVyMg=="));
        assert!(!page.contains("hunter2"));
        assert!(page.contains("class=\"rp-node rp-entry rp-exposed\""));
        assert!(page.contains(">CE_PRIV_MOUNT<"));
        assert!(page.contains("MITRE T1611"));
        assert!(page.contains("web.yaml:8:"));
        for needle in ["src=\"http", "href=\"http", "<link", "@import"] {
            assert!(!page.contains(needle));
        }
    }

    #[test]
    fn escapes_labels() {
        assert_eq!(esc("<a b='c'>&\""), "&lt;a b=&#39;c&#39;&gt;&amp;&quot;");
        assert_eq!(cut(&"x".repeat(50)).chars().count(), MAX_CHARS);
    }

    #[test]
    fn no_path_no_graph() {
        assert_eq!(render_svg(&[]), "");
        assert!(render_html_section(&[], 10).contains("No attack path"));
    }
}
