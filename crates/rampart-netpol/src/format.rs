//! Renderings of a connection list: txt (connlist), json, csv, md, dot, mermaid.

use crate::{Analysis, Connection, Peer};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

/// An output format of `rampart netpol list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Txt,
    Json,
    Csv,
    Md,
    Dot,
    Mermaid,
    /// A standalone page that draws the mermaid graph (mermaid.js from a CDN).
    Html,
}

/// A format name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown format `{0}`, expected txt, json, csv, md, dot, mermaid or html")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "txt" | "text" => Format::Txt,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "md" | "markdown" => Format::Md,
            "dot" => Format::Dot,
            "mermaid" => Format::Mermaid,
            "html" => Format::Html,
            other => return Err(UnknownFormat(other.to_string())),
        })
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Renders the connections of `analysis` in `format`.
pub fn render(analysis: &Analysis, format: Format) -> String {
    let conns = &analysis.connections;
    let mut out = String::new();
    match format {
        Format::Txt => {
            for c in conns {
                let _ = writeln!(out, "{c}");
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = conns
                .iter()
                .map(|c| serde_json::json!({"src": c.src.to_string(), "dst": c.dst.to_string(), "conn": c.conn.to_string()}))
                .collect();
            out = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
            out.push('\n');
        }
        Format::Csv => {
            out.push_str("src,dst,conn\n");
            for c in conns {
                let _ = writeln!(
                    out,
                    "{},{},{}",
                    csv_field(&c.src.to_string()),
                    csv_field(&c.dst.to_string()),
                    csv_field(&c.conn.to_string())
                );
            }
        }
        Format::Md => {
            out.push_str("| src | dst | conn |\n|-----|-----|------|\n");
            for c in conns {
                let _ = writeln!(out, "| {} | {} | {} |", c.src, c.dst, c.conn);
            }
        }
        Format::Dot => dot(analysis, &mut out),
        Format::Mermaid => mermaid(analysis, &mut out),
        Format::Html => {
            let mut graph = String::new();
            mermaid(analysis, &mut graph);
            let graph = graph
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            out.push_str(concat!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>rampart netpol</title></head>\n",
                "<body>\n<h1>NetworkPolicy connectivity</h1>\n<pre class=\"mermaid\">\n"
            ));
            out.push_str(&graph);
            out.push_str(concat!(
                "</pre>\n<script type=\"module\">\n",
                "import mermaid from 'https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs';\n",
                "mermaid.initialize({ startOnLoad: true, maxEdges: 100000, maxTextSize: 10000000 });\n",
                "</script>\n</body></html>\n"
            ));
        }
    }
    out
}

/// Every peer that appears, workloads first, with a stable id.
fn nodes(analysis: &Analysis) -> BTreeMap<String, (usize, bool)> {
    let mut m = BTreeMap::new();
    let mut add = |p: &Peer| {
        let n = m.len();
        m.entry(p.to_string())
            .or_insert((n, matches!(p, Peer::External { .. })));
    };
    for w in &analysis.workloads {
        add(w);
    }
    for c in &analysis.connections {
        add(&c.src);
        add(&c.dst);
    }
    m
}

fn edge_ids(m: &BTreeMap<String, (usize, bool)>, c: &Connection) -> Option<(usize, usize)> {
    Some((m.get(&c.src.to_string())?.0, m.get(&c.dst.to_string())?.0))
}

fn dot(analysis: &Analysis, out: &mut String) {
    let m = nodes(analysis);
    out.push_str("digraph {\n\tlabel=\"Connectivity Graph\"\n\tlabelloc=\"t\"\n\tfontsize=20\n");
    for (name, (id, external)) in &m {
        let style = if *external {
            "shape=box color=\"red2\" fontcolor=\"red2\""
        } else {
            "color=\"blue\" fontcolor=\"blue\""
        };
        let _ = writeln!(out, "\tn{id} [label={} {style}]", quote(name));
    }
    for c in &analysis.connections {
        if let Some((s, d)) = edge_ids(&m, c) {
            let _ = writeln!(
                out,
                "\tn{s} -> n{d} [label={} color=\"gold2\" fontcolor=\"darkgreen\"]",
                quote(&c.conn.to_string())
            );
        }
    }
    out.push_str("}\n");
}

fn mermaid(analysis: &Analysis, out: &mut String) {
    let m = nodes(analysis);
    out.push_str("graph LR\n");
    for (name, (id, external)) in &m {
        let label = name.replace('"', "#quot;");
        if *external {
            let _ = writeln!(out, "    n{id}[\"{label}\"]");
        } else {
            let _ = writeln!(out, "    n{id}(\"{label}\")");
        }
    }
    for c in &analysis.connections {
        if let Some((s, d)) = edge_ids(&m, c) {
            let _ = writeln!(out, "    n{s} -->|\"{}\"| n{d}", c.conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnSet, Protocol};

    fn sample() -> Analysis {
        let w = |n: &str| Peer::Workload {
            namespace: "shop".into(),
            name: n.into(),
            kind: "Deployment".into(),
        };
        let mut conn = ConnSet::none();
        conn.add(Protocol::Tcp, 8080, 8080);
        conn.add(Protocol::Udp, 53, 53);
        Analysis {
            workloads: vec![w("api"), w("web")],
            connections: vec![
                Connection {
                    src: w("web"),
                    dst: w("api"),
                    conn,
                },
                Connection {
                    src: w("api"),
                    dst: Peer::External {
                        range: "0.0.0.0-255.255.255.255".into(),
                    },
                    conn: ConnSet::all(),
                },
            ],
            errors: Vec::new(),
        }
    }

    #[test]
    fn each_format_renders_every_connection() {
        let a = sample();
        assert_eq!(
            render(&a, Format::Txt),
            "shop/web[Deployment] => shop/api[Deployment] : TCP 8080,UDP 53\n\
             shop/api[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections\n"
        );
        let csv = render(&a, Format::Csv);
        assert!(csv.starts_with("src,dst,conn\n"));
        assert!(csv.contains("shop/web[Deployment],shop/api[Deployment],\"TCP 8080,UDP 53\"\n"));
        let json: serde_json::Value = serde_json::from_str(&render(&a, Format::Json)).unwrap();
        assert_eq!(json[0]["conn"], "TCP 8080,UDP 53");
        assert!(
            render(&a, Format::Md)
                .contains("| shop/web[Deployment] | shop/api[Deployment] | TCP 8080,UDP 53 |")
        );
        let dot = render(&a, Format::Dot);
        assert!(dot.starts_with("digraph {") && dot.contains("-> n0 [label=\"TCP 8080,UDP 53\""));
        let mm = render(&a, Format::Mermaid);
        assert!(mm.starts_with("graph LR\n") && mm.contains("n1 -->|\"TCP 8080,UDP 53\"| n0"));
        assert!(render(&a, Format::Html).contains("<pre class=\"mermaid\">"));
        assert!("yaml".parse::<Format>().is_err());
    }
}
