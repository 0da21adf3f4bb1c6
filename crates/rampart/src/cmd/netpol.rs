//! `rampart netpol`: NetworkPolicy connectivity — list, explain, gaps.

use anyhow::Context as _;
use rampart_netpol::{ConnSet, Explanation, Format, Protocol, Side};
use std::io::Write as _;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List every allowed connection (netpol-analyzer connlist format by default).
    #[command(after_help = crate::cmd::EXIT_LISTING)]
    List {
        /// Output format: text (the connection list; `txt` too), json, csv, md, dot, mermaid or html.
        #[arg(long, short = 'o', default_value = "text")]
        format: String,
        #[command(flatten)]
        input: super::input::Input,
    },
    /// Name the policies and rules that allow or deny a connection, on each side.
    #[command(after_help = crate::cmd::EXIT_ANSWER)]
    Explain {
        /// Source: ns/name, ns/name[Kind], or an IP address.
        #[arg(long)]
        from: String,
        /// Destination: ns/name, ns/name[Kind], or an IP address.
        #[arg(long)]
        to: String,
        /// Port to ask about (number).
        #[arg(long)]
        port: Option<u16>,
        /// Protocol of --port: TCP, UDP or SCTP.
        #[arg(long, default_value = "TCP")]
        protocol: String,
        /// Output format: text or json.
        #[arg(long, short = 'o', default_value = "text")]
        format: String,
        #[command(flatten)]
        input: super::input::Input,
    },
    /// Report isolation gaps: namespaces without default deny, open pods, DNS cut by egress
    /// policies, policies and rules that match nothing, over-broad selectors.
    #[command(after_help = crate::cmd::EXIT_FINDINGS)]
    Gaps {
        /// Output format: text, json, sarif or junit.
        #[arg(long, short = 'o', default_value = "text")]
        format: String,
        /// Exit 1 when a gap at or above this severity is found.
        #[arg(long, default_value = "low")]
        fail_on: rampart_core::Severity,
        #[command(flatten)]
        input: super::input::Input,
    },
}

fn load(input: &super::input::Input) -> anyhow::Result<(Vec<rampart_manifest::Object>, bool)> {
    let loaded = input.load()?;
    let bad = super::input::report_errors(&loaded.errors);
    Ok((loaded.objects, bad))
}

fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing output"),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::List { format, input } => {
            let format: Format = format.parse()?;
            let (objects, mut bad) = load(&input)?;
            let analysis = rampart_netpol::analyze(&objects)?;
            for e in &analysis.errors {
                eprintln!("{e}");
                bad = true;
            }
            emit(&rampart_netpol::render(&analysis, format))?;
            Ok(if bad {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Explain {
            from,
            to,
            port,
            protocol,
            format,
            input,
        } => {
            let proto = Protocol::parse(&protocol).with_context(|| {
                format!("unknown protocol `{protocol}`, expected TCP, UDP or SCTP")
            })?;
            let (objects, bad) = load(&input)?;
            let ex = rampart_netpol::explain(&objects, &from, &to)?;
            let text = match format.as_str() {
                "json" => {
                    let doc = ExplainDocument {
                        explanation: &ex,
                        query: port.map(|port| Query {
                            port,
                            protocol: proto.as_str(),
                        }),
                        verdict: port.map(|p| ex.allowed.contains(proto, p)),
                    };
                    serde_json::to_string_pretty(&doc)? + "\n"
                }
                "txt" | "text" => explain_text(&ex, port.map(|p| (proto, p))),
                other => anyhow::bail!("unknown format `{other}`, expected txt or json"),
            };
            emit(&text)?;
            // "no" is the answer a script tests for: 1 when the connection is denied
            let allowed = match port {
                Some(p) => ex.allowed.contains(proto, p),
                None => !ex.allowed.is_empty(),
            };
            Ok(if !allowed {
                ExitCode::from(1)
            } else if bad {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Gaps {
            format,
            fail_on,
            input,
        } => {
            let (objects, bad) = load(&input)?;
            let mut findings = rampart_netpol::gaps(&objects);
            rampart_rules::sort_findings(&mut findings);
            let format: rampart_report::Format = format.parse()?;
            if format == rampart_report::Format::Text {
                let mut s = String::new();
                for f in &findings {
                    let at = f
                        .location
                        .as_ref()
                        .map(|l| format!("{}:{}:{}: ", l.file, l.line, l.column))
                        .unwrap_or_default();
                    s.push_str(&format!("{at}{} [{}] {}\n", f.severity, f.check, f.message));
                }
                emit(&s)?;
            } else {
                // the JSON, SARIF and JUnit of every command that reports findings
                let rules = crate::catalog::rule_metas();
                let refs: Vec<_> = objects
                    .iter()
                    .map(|o| (o.object_ref(), o.file.clone()))
                    .collect();
                let report = rampart_report::Report {
                    findings: &findings,
                    errors: &[],
                    rules: &rules,
                    objects: &refs,
                    sources: &|_| None,
                    tool_version: env!("CARGO_PKG_VERSION"),
                    fail_on,
                };
                let mut buf = Vec::new();
                rampart_report::render(format, &report, &mut buf, false)?;
                emit(&String::from_utf8_lossy(&buf))?;
            }
            Ok(if findings.iter().any(|f| f.severity >= fail_on) {
                ExitCode::from(1)
            } else if bad {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn allows(c: &ConnSet, q: Option<(Protocol, u16)>) -> String {
    match q {
        Some((proto, port)) => {
            let ok = c.contains(proto, port);
            format!(
                "{} ({proto} {port} {})",
                c,
                if ok { "allowed" } else { "denied" }
            )
        }
        None => c.to_string(),
    }
}

fn side_text(s: &Side, q: Option<(Protocol, u16)>, out: &mut String) {
    out.push_str(&format!("{} of {}:\n", s.direction, s.peer));
    if !s.in_cluster {
        out.push_str("  outside the cluster: not governed by NetworkPolicy, all allowed\n");
        return;
    }
    if !s.isolated {
        out.push_str(&format!(
            "  no NetworkPolicy selects it for {}: all allowed\n",
            s.direction
        ));
        return;
    }
    for p in &s.policies {
        let l = &p.location;
        out.push_str(&format!(
            "  policy {} ({}:{}:{})\n",
            p.policy, l.file, l.line, l.column
        ));
        if p.rules.is_empty() {
            out.push_str(&format!(
                "    no {} rules: denies everything it selects\n",
                s.direction
            ));
        }
        for r in &p.rules {
            let l = &r.location;
            let verdict = if r.peer_matches {
                format!("allows {}", allows(&r.allows, q))
            } else {
                "peer does not match".to_string()
            };
            out.push_str(&format!(
                "    {} ({}:{}:{}): {verdict}\n",
                r.rule, l.file, l.line, l.column
            ));
        }
    }
    out.push_str(&format!("  => {}\n", allows(&s.allowed, q)));
}

fn explain_text(ex: &Explanation, q: Option<(Protocol, u16)>) -> String {
    let mut out = format!("{} => {}\n", ex.src, ex.dst);
    side_text(&ex.egress, q, &mut out);
    side_text(&ex.ingress, q, &mut out);
    out.push_str(&format!("result: {}\n", allows(&ex.allowed, q)));
    out
}

/// `netpol explain --format json`: the explanation, and with `--port` the question and its answer.
#[derive(serde::Serialize)]
struct ExplainDocument<'a> {
    #[serde(flatten)]
    explanation: &'a Explanation,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<Query>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<bool>,
}

#[derive(serde::Serialize)]
struct Query {
    port: u16,
    protocol: &'static str,
}
