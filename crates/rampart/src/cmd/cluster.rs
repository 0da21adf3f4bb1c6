//! `rampart cluster scan`: audit a running cluster, or a dump of one.

use anyhow::Context;
use rampart_core::Severity;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Read the cluster (kube-rs; Secrets as metadata only) or a dump, run every analyzer and
    /// report over the 4Cs with a score per layer.
    Scan(ScanArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 no finding at or above --fail-on; 1 findings at or above it; 2 the cluster or \
                  the dump could not be read."
)]
pub struct ScanArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Audit only this namespace (and the cluster-scoped objects).
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
    /// Read a dump instead of the cluster: `kubectl get … -A -o yaml` output or a directory
    /// of manifests (repeatable).
    #[arg(long = "from", value_name = "FILE|DIR")]
    pub from: Vec<PathBuf>,
    /// Output format: text, json, html or sarif.
    #[arg(long, short = 'o', default_value = "text")]
    pub format: String,
    /// A previous `-o json` report: findings are marked new, and those gone listed as fixed.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Lowest severity that makes the exit status 1 (critical, high, medium, low, info).
    #[arg(long, default_value = "high")]
    pub fail_on: Severity,
    /// Configuration file (default: none; `.rampart.yaml` settings for checks and pss).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Policies to audit the resources with, as their engines audit existing resources:
    /// Kyverno's background scan (policies with `background` on, their validation rules),
    /// Gatekeeper's audit (every constraint, the objects read as the inventory), and
    /// ValidatingAdmissionPolicies (files or directories; repeatable). Live, the kinds the
    /// Kyverno rules, Gatekeeper constraints and ValidatingAdmissionPolicies match are read
    /// too.
    #[arg(long, value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Lists in flight at once against the API server.
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    /// Items per list page.
    #[arg(long, default_value_t = 500)]
    pub page_size: u32,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Scan(a) => scan(a),
    }
}

fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let format: rampart_cluster::Format =
        args.format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = match &args.config {
        Some(p) => {
            let c = rampart_rules::Config::load(p)?;
            rampart_engine::resolve_config(c, rampart_engine::registry()).map_err(|errs| {
                let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("invalid configuration:\n{}", msgs.join("\n"))
            })?
        }
        None => rampart_rules::Config::default(),
    };
    let input = if args.from.is_empty() {
        rampart_cluster::Input::Live(rampart_cluster::fetch::Options {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            namespace: args.namespace.clone(),
            parallelism: args.parallelism,
            page_size: args.page_size,
            ..Default::default()
        })
    } else {
        rampart_cluster::Input::Dump {
            paths: args.from.clone(),
            namespace: args.namespace.clone(),
        }
    };
    let policies = if args.policies.is_empty() {
        None
    } else {
        Some(rampart_engine::load_policies(&args.policies)?)
    };
    let mut scan =
        rampart_cluster::scan_with(&input, config, policies.as_ref(), env!("CARGO_PKG_VERSION"))?;
    if let Some(stats) = &scan.fetch {
        eprintln!(
            "note: read {} objects from {} (context `{}`) in {:.2?}: {} requests, {} pages, {} retries",
            scan.report.objects,
            scan.server,
            scan.context,
            stats.elapsed,
            stats.requests,
            stats.pages,
            stats.retries
        );
    }
    if let Some(b) = &args.baseline {
        let previous = rampart_cluster::report::ClusterReport::read(b)?;
        scan.report.compare(&previous);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    rampart_cluster::render(&scan, format, &mut out).context("writing the report")?;
    out.flush().context("writing the report")?;
    if format != rampart_cluster::Format::Text {
        for e in &scan.report.errors {
            eprintln!("{e}");
        }
        for n in &scan.report.not_readable {
            eprintln!(
                "warning: {} not readable ({}); needs {}",
                n.kind, n.reason, n.rbac
            );
        }
        for n in &scan.report.notes {
            eprintln!("note: {n}");
        }
    }
    let failing = scan
        .report
        .findings
        .iter()
        .any(|f| f.severity >= args.fail_on);
    let errors = !scan.report.errors.is_empty();
    // the process ends here: freeing every object and finding one by one takes longer than
    // writing the report, and the OS reclaims it all at once
    std::mem::forget(scan);
    Ok(if failing {
        ExitCode::from(1)
    } else if errors {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
