//! `rampart scan`, `rampart checks`, `rampart explain`.

use anyhow::Context;
use rampart_core::{Finding, InputError, Severity};
use rampart_report::{Format, Report};
use rampart_rules::{Catalog, Config};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// When to colour text output.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 no finding at or above --fail-on; 1 findings at or above it (this wins over \
                  input errors); 2 usage or input errors (unreadable files, invalid YAML, wrong types) and no finding \
                  at or above --fail-on."
)]
pub struct Args {
    #[command(flatten)]
    pub input: super::input::Input,
    /// Output format: text, json, sarif or junit.
    #[arg(long, short = 'o', default_value = "text")]
    pub format: String,
    /// Lowest severity that makes the exit status 1 (critical, high, medium, low, info).
    #[arg(long)]
    pub fail_on: Option<Severity>,
    /// Configuration file (default: `.rampart.yaml` in the working directory or an ancestor).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Ignore any `.rampart.yaml`.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// Report Pod Security Standards violations at this level too (baseline or restricted).
    #[arg(long)]
    pub pss_level: Option<String>,
    /// Gatekeeper ConstraintTemplates and Constraints, ValidatingAdmissionPolicies and their
    /// bindings, and Kyverno policies (files or directories) to apply to the manifests too.
    #[arg(long)]
    pub policies: Vec<PathBuf>,
    #[command(flatten)]
    pub registry: super::kyverno::RegistryArgs,
    /// A Trivy JSON report (schema version 2, images or cluster): each image's vulnerabilities
    /// are reported on the workloads that run it.
    #[arg(long, value_name = "FILE")]
    pub trivy: Option<PathBuf>,
    /// Kubernetes version to judge against: API versions removed by then, and the control-plane
    /// and kubelet defaults that apply to absent flags (default: the newest supported).
    #[arg(long, value_name = "1.N")]
    pub kube_version: Option<rampart_core::KubeVersion>,
    /// Largest input file read, in MiB.
    #[arg(long, default_value_t = 64)]
    pub max_file_size: u64,
    /// Colour the text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Counts by check and severity and the worst objects instead of every finding (text, json).
    #[arg(long)]
    pub summary: bool,
    /// Group the text output's findings by file or by check.
    #[arg(long, default_value = "file", value_name = "file|check")]
    pub group_by: rampart_report::GroupBy,
}

#[derive(Debug, clap::Args)]
pub struct ChecksArgs {
    /// Output format: text, json or markdown (the `docs/checks.md` page).
    #[arg(long, short = 'o', default_value = "text")]
    pub format: String,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The check's slug, e.g. `privileged-container`.
    pub check: String,
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    if args.no_config {
        return Ok(Config::default());
    }
    let path = match &args.config {
        Some(p) => Some(p.clone()),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| Config::discover(&d)),
    };
    let config = match path {
        Some(p) => Config::load(&p)?,
        None => return Ok(Config::default()),
    };
    rampart_engine::resolve_config(config, rampart_engine::registry()).map_err(|errs| {
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("invalid configuration:\n{}", msgs.join("\n"))
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let format: Format = args.format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = load_config(&args)?;
    if let Some(level) = &args.pss_level {
        config.pss = Some(rampart_rules::PssConfig::at(level, "latest"));
    }
    let mut cis = rampart_cis::Options::default();
    if let Some(v) = args.kube_version {
        config.settings.kube_version = Some(v);
    }
    if let Some(v) = config.settings.kube_version {
        // control-plane defaults of the nearest modelled release
        cis.kube_version = rampart_cis::modelled(v);
    }
    let fail_on = args.fail_on.or(config.fail_on).unwrap_or(Severity::High);
    let pss = config
        .pss
        .as_ref()
        .and_then(|p| p.scan_policy())
        .map(|(level, version)| pss_policy(&level, &version))
        .transpose()?;
    let catalog = Catalog::new(config)?;
    let policies = if args.policies.is_empty() {
        rampart_engine::Policies::default()
    } else {
        rampart_engine::load_policies(&args.policies)?
    };
    let mut policies = policies;
    if let (Some(set), Some(v)) = (&mut policies.kyverno, args.registry.verifier()?) {
        set.image_verifier = Some(v);
    }
    let trivy = match &args.trivy {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                rampart_images::parse_report(&path.display().to_string(), &text)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            )
        }
    };
    let opts = rampart_engine::ScanOptions {
        pss,
        cis,
        policies,
        trivy,
        namespace: args.input.namespace.clone(),
        max_file_size: args.max_file_size.saturating_mul(1024 * 1024),
        keep_text: matches!(format, Format::Text),
    };
    let rampart_engine::ScanOutput {
        findings,
        errors,
        skipped,
        objects: refs,
        texts,
    } = rampart_engine::scan(&args.input.require()?, &catalog, &opts);
    for s in &skipped {
        eprintln!("note: {s}");
    }

    let rules = crate::catalog::rule_metas();
    let sources_fn = |f: &str| texts.get(f).cloned();
    let report = Report {
        findings: &findings,
        errors: &errors,
        rules: &rules,
        objects: &refs,
        sources: &sources_fn,
        tool_version: env!("CARGO_PKG_VERSION"),
        fail_on,
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let view = rampart_report::View {
        summary: args.summary,
        group_by: args.group_by,
    };
    rampart_report::render_with(format, &report, view, &mut out, color)
        .context("writing the report")?;
    out.flush().context("writing the report")?;

    if !matches!(format, Format::Text) {
        for e in &errors {
            eprintln!("{e}");
        }
    }
    let code = exit_code(&findings, &errors, fail_on);
    // the process ends here: freeing every object and finding one by one takes longer than
    // the scan's checks, and the OS reclaims it all at once
    std::mem::forget(refs);
    std::mem::forget(findings);
    std::mem::forget(texts);
    Ok(code)
}

/// 1 when a finding is at or above the threshold (even with input errors), else 2 when an input
/// could not be read, else 0.
pub fn exit_code(findings: &[Finding], errors: &[InputError], fail_on: Severity) -> ExitCode {
    if findings.iter().any(|f| f.severity >= fail_on) {
        ExitCode::from(1)
    } else if !errors.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn pss_policy(level: &str, version: &str) -> anyhow::Result<rampart_pss::Policy> {
    Ok(rampart_pss::Policy {
        level: level.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        version: version.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
    })
}

pub fn checks(args: ChecksArgs) -> anyhow::Result<ExitCode> {
    let registry = rampart_engine::registry();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format.as_str() {
        "json" => {
            let list: Vec<_> = registry.iter().collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        "markdown" | "md" => out.write_all(registry.markdown().as_bytes())?,
        "text" | "txt" => {
            let width = registry.iter().map(|e| e.slug.len()).max().unwrap_or(0);
            let mut origin = None;
            for e in registry.iter() {
                if origin != Some(e.origin) {
                    if origin.is_some() {
                        writeln!(out)?;
                    }
                    origin = Some(e.origin);
                    writeln!(out, "# {}", e.origin.title())?;
                }
                writeln!(
                    out,
                    "{:<width$}  {:<8}  {}",
                    e.slug,
                    e.severity.as_str(),
                    e.title
                )?;
            }
            writeln!(out, "\n{} checks", registry.len())?;
        }
        other => anyhow::bail!(
            "unknown format `{other}` for `rampart checks`, expected text, json or markdown"
        ),
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let registry = rampart_engine::registry();
    let Some(e) = registry.get(&args.check) else {
        let close = registry.similar(&args.check);
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!(" (did you mean {}?)", close.join(", "))
        };
        anyhow::bail!(
            "unknown check `{}`{hint}; `rampart checks` lists them",
            args.check
        );
    };
    let mut out = std::io::stdout().lock();
    write!(out, "# {}\n\nSeverity: {}", e.slug, e.severity)?;
    if !e.cis.is_empty() {
        write!(out, " · CIS Kubernetes Benchmark {}", e.cis.join(", "))?;
    }
    if !e.aliases.is_empty() {
        write!(out, " · also answers to {}", e.aliases.join(", "))?;
    }
    writeln!(out, "\n\n{}\n\n{}", e.title, e.doc.trim_end())?;
    Ok(ExitCode::SUCCESS)
}
