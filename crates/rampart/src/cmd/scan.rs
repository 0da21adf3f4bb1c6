//! `rampart scan`, `rampart checks`, `rampart explain`.

use anyhow::Context;
use rampart_core::{Finding, InputError, Severity};
use rampart_manifest::{Source, load_str, read_source};
use rampart_report::{Format, Report};
use rampart_rules::{Catalog, Config};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// A file's display name and text, kept for snippets.
type NamedText = (String, Arc<str>);

/// One file's share of a scan.
#[derive(Default)]
struct FileScan {
    text: Option<NamedText>,
    /// Its objects, slim unless policies need them whole.
    objects: Vec<rampart_manifest::Object>,
    refs: Vec<(Arc<rampart_core::ObjectRef>, Arc<str>)>,
    idents: Vec<(Arc<rampart_core::ObjectRef>, rampart_core::Location)>,
    findings: Vec<Finding>,
    errors: Vec<InputError>,
    skipped: Vec<InputError>,
}

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
    /// bindings (files or directories) to apply to the manifests too.
    #[arg(long)]
    pub policies: Vec<PathBuf>,
    /// Kubernetes version to judge against: API versions removed by then, and the control-plane
    /// and kubelet defaults that apply to absent flags (default: the newest supported).
    #[arg(long, value_name = "1.N")]
    pub kube_version: Option<String>,
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
    if let Some(v) = &args.kube_version {
        config.settings.kube_version = Some(
            v.parse()
                .map_err(|e| anyhow::anyhow!("--kube-version: {e}"))?,
        );
        cis.kube_version = v
            .parse()
            .map_err(|e| anyhow::anyhow!("--kube-version: {e}"))?;
    }
    let fail_on = args.fail_on.or(config.fail_on).unwrap_or(Severity::High);
    let pss = config.pss.clone();
    let catalog = Catalog::new(config)?;

    let t0 = std::time::Instant::now();
    let (sources, mut errors) = rampart_manifest::discover(&args.input.require()?);
    let namespace = args.input.namespace.as_deref();
    let keep_text = matches!(format, Format::Text);
    let max = args.max_file_size.saturating_mul(1024 * 1024);
    let pss = pss
        .and_then(|p| p.scan_policy())
        .map(|(level, version)| pss_policy(&level, &version))
        .transpose()?;
    let policies = if args.policies.is_empty() {
        None
    } else {
        Some(rampart_policy::PolicySet::load(&args.policies)?)
    };
    // Each file is read, parsed and put through every per-object check on its own, in
    // parallel; what stays in memory afterwards is only what the analyses across objects read
    // (all of it when policies are applied: their inventory is every object).
    let keep_whole = policies.is_some();
    let parts: Vec<FileScan> = sources
        .par_iter()
        .map(|s: &Source| match read_source(s, max) {
            Ok((name, text)) => {
                let mut loaded = load_str(&name, &text);
                if let Some(ns) = namespace {
                    rampart_manifest::set_default_namespace(&mut loaded.objects, ns);
                }
                let mut part = FileScan {
                    text: keep_text.then(|| (name, Arc::from(text))),
                    errors: loaded.errors,
                    skipped: loaded.skipped,
                    ..FileScan::default()
                };
                // control-plane static pods and node configuration documents, file by file
                let (mut cis_findings, cis_errors) =
                    rampart_cis::check_objects(&loaded.objects, &cis);
                rampart_engine::apply_config(&mut cis_findings, catalog.config());
                part.findings.extend(cis_findings);
                part.errors.extend(cis_errors);
                for o in loaded.objects {
                    part.findings.extend(catalog.check_object(&o));
                    if let Some(policy) = pss
                        && let Some(v) = rampart_pss::evaluate_object(policy, &o.value)
                    {
                        part.findings
                            .extend(rampart_pss::to_findings(policy, &o, &v));
                    }
                    part.refs.push((o.object_ref(), o.file.clone()));
                    part.idents.push((o.object_ref(), o.location("")));
                    part.objects.push(if keep_whole { o } else { o.slim() });
                }
                part
            }
            Err(e) => FileScan {
                errors: vec![e],
                ..FileScan::default()
            },
        })
        .collect();
    let mut texts: HashMap<String, Arc<str>> = HashMap::new();
    let n_objects = parts.iter().map(|p| p.objects.len()).sum();
    let n_findings = parts.iter().map(|p| p.findings.len()).sum::<usize>();
    let mut objects = Vec::with_capacity(n_objects);
    let mut refs = Vec::with_capacity(n_objects);
    let mut idents = Vec::with_capacity(n_objects);
    // Room for the findings across objects too, so adding them never moves the list; pages
    // of it that are never written are never resident.
    let mut findings = Vec::with_capacity(n_findings + n_objects);
    for part in parts {
        if let Some((name, t)) = part.text {
            texts.insert(name, t);
        }
        objects.extend(part.objects);
        refs.extend(part.refs);
        idents.extend(part.idents);
        findings.extend(part.findings);
        errors.extend(part.errors);
        for s in &part.skipped {
            eprintln!("note: {s}");
        }
    }
    tracing::debug!(objects = objects.len(), findings = findings.len(), elapsed = ?t0.elapsed(), rss_mib = rss_mib(), "loaded and checked");

    findings.extend(across_findings(&catalog, &objects));
    let mut dups = rampart_engine::duplicate_findings(&rampart_manifest::duplicates_of(idents));
    rampart_engine::apply_config(&mut dups, catalog.config());
    findings.extend(dups);
    tracing::debug!(findings = findings.len(), elapsed = ?t0.elapsed(), rss_mib = rss_mib(), "analyzed");
    if let Some(set) = &policies {
        // a broken policy is an input error: reported, skipped, and the rest still applies
        errors.extend(set.problems().iter().map(|p| match p {
            rampart_policy::PolicyError::Invalid {
                file,
                line,
                column,
                message,
            } => InputError {
                file: file.clone(),
                line: *line,
                column: *column,
                message: message.clone(),
            },
            rampart_policy::PolicyError::Input(e) => e.clone(),
        }));
        // every other object of the input is the inventory referential policies see
        let session = set.session(&objects);
        findings.extend(
            objects
                .par_iter()
                .flat_map_iter(|o| session.findings(o))
                .collect::<Vec<_>>(),
        );
    }
    rampart_rules::sort_findings(&mut findings);
    tracing::debug!(elapsed = ?t0.elapsed(), "sorted");

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
    tracing::debug!(elapsed = ?t0.elapsed(), rss_mib = rss_mib(), "reported");
    if !matches!(format, Format::Text) {
        for e in &errors {
            eprintln!("{e}");
        }
    }
    let code = exit_code(&findings, &errors, fail_on);
    // the process ends here: freeing every object and finding one by one takes longer than
    // the scan's checks, and the OS reclaims it all at once
    std::mem::forget(objects);
    std::mem::forget(refs);
    std::mem::forget(findings);
    std::mem::forget(texts);
    Ok(code)
}

/// The resident set size in MiB, for the phase timings `RAMPART_LOG=rampart=debug` prints (0 where
/// `/proc` is not available).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
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

/// Findings of the checks and analyzers that look across objects — the catalog's, NetworkPolicy
/// gaps, RBAC risks and escalation paths — run side by side, with the configuration's
/// `disable`, `only` and `severity` applied to the analyzers' findings too.
fn across_findings(catalog: &Catalog, objects: &[rampart_manifest::Object]) -> Vec<Finding> {
    let t0 = std::time::Instant::now();
    let timed = |what: &'static str, f: &dyn Fn() -> Vec<Finding>| {
        let t = std::time::Instant::now();
        let out = f();
        tracing::debug!(findings = out.len(), elapsed = ?t.elapsed(), "{what}");
        out
    };
    let (mut own, (netpol, rbac)) = rayon::join(
        || timed("catalog across objects", &|| catalog.check_across(objects)),
        || {
            rayon::join(
                || timed("netpol gaps", &|| rampart_netpol::gaps(objects)),
                || timed("rbac", &|| rampart_rbac::scan_findings(objects)),
            )
        },
    );
    tracing::debug!(catalog = own.len(), netpol = netpol.len(), rbac = rbac.len(), elapsed = ?t0.elapsed(), "across objects");
    let mut analyzers: Vec<Finding> = netpol.into_iter().chain(rbac).collect();
    rampart_engine::apply_config(&mut analyzers, catalog.config());
    own.extend(analyzers);
    own
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The scan keeps only slim objects for the analyses across objects: on every manifest of
    /// the repository (examples, check fixtures, NetworkPolicy and RBAC cases) they must find
    /// exactly what they find on the whole objects, at the same positions.
    #[test]
    fn analyses_across_objects_see_the_same_in_slim_objects() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dirs = [
            "examples",
            "crates/rampart-rules/tests/fixtures",
            "crates/rampart-netpol/tests/cases",
            "crates/rampart-rbac/tests/cases",
            "deploy",
        ];
        let catalog = Catalog::new(rampart_rules::Config::default()).unwrap();
        let mut compared = 0;
        for dir in dirs {
            let (sources, _) = rampart_manifest::discover(&[root.join(dir)]);
            // each file on its own (a fixture file is a scenario) and each directory as a whole
            let mut groups: Vec<Vec<rampart_manifest::Object>> = Vec::new();
            let mut all = Vec::new();
            // charts need `helm`; their rendered output is in examples/helm
            for s in sources
                .iter()
                .filter(|s| !matches!(s, rampart_manifest::Source::Chart(_)))
            {
                let (name, text) = read_source(s, u64::MAX).unwrap();
                let objects = load_str(&name, &text).objects;
                all.extend(objects.iter().cloned());
                groups.push(objects);
            }
            groups.push(all);
            for whole in groups {
                let slim: Vec<_> = whole.iter().cloned().map(|o| o.slim()).collect();
                let a = across_findings(&catalog, &whole);
                let b = across_findings(&catalog, &slim);
                let missing: Vec<_> = a.iter().filter(|f| !b.contains(f)).collect();
                assert!(missing.is_empty(), "in {dir}: {missing:#?}");
                assert_eq!(a.len(), b.len(), "in {dir}");
                compared += a.len();
            }
        }
        assert!(compared > 100, "only {compared} findings compared");
    }
}
