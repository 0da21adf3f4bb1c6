//! `rampart node`: the CIS Kubernetes Benchmark on this node (processes, config files, file
//! permissions), or on a node's filesystem mounted under `--root`.

use rampart_cis::node::{NodeOptions, scan};
use rampart_cis::{KubeVersion, Status};
use rampart_core::Severity;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NodeFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node's root filesystem: `/`, or where it is mounted (`/host` in the node Job).
    /// Paths the components name are read under it.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Kubernetes version whose defaults apply to absent settings (1.24 to 1.34).
    #[arg(long, default_value_t = KubeVersion::default(), value_parser = rampart_cis::parse_supported)]
    pub kube_version: KubeVersion,
    /// Output format.
    #[arg(
        short = 'o',
        long = "format",
        visible_alias = "output",
        default_value = "text"
    )]
    pub output: NodeFormat,
    /// Exit 1 when an item fails at or above this severity.
    #[arg(long, default_value = "high")]
    pub fail_on: Severity,
    /// Do not read running processes; use the static Pod manifests and the kubelet's default
    /// config file under --root.
    #[arg(long)]
    pub no_proc: bool,
    /// Process table to read.
    #[arg(long, default_value = "/proc", hide = true)]
    pub proc: PathBuf,
    /// Only these process ids (tests).
    #[arg(long = "pid", hide = true)]
    pub pids: Vec<u32>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let opts = NodeOptions {
        root: args.root.clone(),
        proc: (!args.no_proc).then(|| args.proc.clone()),
        pids: (!args.pids.is_empty()).then(|| args.pids.clone()),
        options: rampart_cis::Options {
            kube_version: args.kube_version,
        },
    };
    let report = scan(&opts);
    tracing::debug!(elapsed = ?started.elapsed(), "node scan");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        NodeFormat::Json => {
            let doc = NodeDocument {
                kube_version: args.kube_version.to_string(),
                root: &args.root,
                components: &report.sources,
                results: report
                    .outcomes
                    .iter()
                    .map(|o| NodeResult {
                        check: o.item.slug,
                        cis: if o.item.cis.is_empty() {
                            vec![]
                        } else {
                            vec![o.item.cis]
                        },
                        severity: o.item.severity,
                        status: o.verdict.status,
                        message: &o.verdict.message,
                        location: o.verdict.location.as_ref(),
                    })
                    .collect(),
                errors: report.errors.iter().map(ToString::to_string).collect(),
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        NodeFormat::Text => {
            writeln!(
                out,
                "CIS Kubernetes Benchmark v1.12, Kubernetes {} defaults, root {}",
                args.kube_version,
                args.root.display()
            )?;
            if report.sources.is_empty() {
                writeln!(out, "components: none found")?;
            } else {
                writeln!(out, "components: {}", report.sources.join(", "))?;
            }
            for o in &report.outcomes {
                let cis = if o.item.cis.is_empty() {
                    "-"
                } else {
                    o.item.cis
                };
                writeln!(
                    out,
                    "[{:<5}] {cis:<7} {} ({}): {}",
                    o.verdict.status.as_str(),
                    o.item.slug,
                    o.item.severity,
                    o.verdict.message
                )?;
                if o.verdict.status == Status::Fail
                    && let Some(l) = &o.verdict.location
                {
                    if l.line > 0 {
                        writeln!(out, "          at {}:{}:{}", l.file, l.line, l.column)?;
                    } else if !l.pointer.is_empty() {
                        writeln!(
                            out,
                            "          at {} argument {}",
                            l.file,
                            l.pointer.trim_start_matches('/')
                        )?;
                    } else {
                        writeln!(out, "          at {}", l.file)?;
                    }
                }
            }
            let count = |s: Status| {
                report
                    .outcomes
                    .iter()
                    .filter(|o| o.verdict.status == s)
                    .count()
            };
            writeln!(
                out,
                "{} passed, {} failed, {} not applicable, {} errors",
                count(Status::Pass),
                count(Status::Fail),
                count(Status::NotApplicable),
                report.errors.len()
            )?;
        }
    }
    out.flush()?;
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for e in &report.errors {
        writeln!(err, "{e}")?;
    }
    let failed = report
        .outcomes
        .iter()
        .any(|o| o.verdict.status == Status::Fail && o.item.severity >= args.fail_on);
    Ok(if failed {
        ExitCode::from(1)
    } else if !report.errors.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `rampart node --output json`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeDocument<'a> {
    kube_version: String,
    root: &'a std::path::Path,
    components: &'a [String],
    results: Vec<NodeResult<'a>>,
    errors: Vec<String>,
}

#[derive(serde::Serialize)]
struct NodeResult<'a> {
    check: &'static str,
    cis: Vec<&'static str>,
    severity: Severity,
    status: Status,
    message: &'a str,
    location: Option<&'a rampart_core::Location>,
}
