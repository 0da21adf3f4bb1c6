//! `rampart policy test` and `rampart policy apply`: Kyverno policies, as `kyverno test` and
//! `kyverno apply` run them.

use rampart_kyverno::testrun::{TestRow, Values, Verdict, discover, load_values, run_dir};
use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    #[value(alias = "txt")]
    Text,
    Json,
}

/// `policy test -o json`: one result per resource of each result row (an excluded resource has
/// none), and the input errors.
#[derive(serde::Serialize)]
struct TestReport<'a> {
    results: Vec<&'a rampart_kyverno::testrun::TestRow>,
    errors: Vec<String>,
}

/// `policy apply -o json`.
#[derive(serde::Serialize)]
struct ApplyReport<'a> {
    results: Vec<ApplyRow<'a>>,
}

#[derive(serde::Serialize)]
struct ApplyRow<'a> {
    resource: String,
    policy: &'a str,
    rule: &'a str,
    status: Status,
    /// `enforce` or `audit`: the rule's failure action for this resource's namespace.
    action: &'static str,
    message: &'a str,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Output format: text (a table as `kyverno test` prints it) or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: Format,
    /// Also list the rows that agree with their expectation.
    #[arg(short, long)]
    verbose: bool,
    /// Directories searched for `kyverno-test.yaml` files (or test files).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Policy files or directories.
    #[arg(long = "policy", required = true, value_name = "PATH")]
    policies: Vec<PathBuf>,
    /// Resource files or directories.
    #[arg(long = "resource", required = true, value_name = "PATH")]
    resources: Vec<PathBuf>,
    /// The admission operation the resources are evaluated as.
    #[arg(long, default_value = "CREATE")]
    operation: String,
    /// A Kyverno `Values` file: variables, per-rule and per-resource values, namespace labels.
    #[arg(long = "values", value_name = "FILE")]
    values: Option<PathBuf>,
    /// Output format: text (a table as `kyverno test` prints it) or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: Format,
    /// Report the failures of audited rules (Audit, or an override for the resource's
    /// namespace) as `warn`, as `kyverno apply --audit-warn`; they then do not fail the run.
    #[arg(long)]
    audit_warn: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Registry access for Kyverno `verifyImages` rules and `imageRegistry` context entries
/// (`policy apply`, `scan --policies`).
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// Let `verifyImages` rules and `imageRegistry` context entries read registries
    /// (credentials from the Docker config); without it they report errors (no registry
    /// access), as offline.
    #[arg(long)]
    registry: bool,
    /// Reach registries over plain HTTP (with --registry).
    #[arg(long, requires = "registry")]
    insecure_registry: bool,
    /// Also trust this CA (PEM) for registries (with --registry).
    #[arg(long, value_name = "FILE", requires = "registry")]
    registry_ca: Option<PathBuf>,
}

impl RegistryArgs {
    /// The image verifier `--registry` asks for, or none.
    pub fn verifier(&self) -> anyhow::Result<Option<rampart_kyverno::images::Verifier>> {
        if !self.registry {
            return Ok(None);
        }
        let ca_pem = match &self.registry_ca {
            Some(p) => Some(std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?),
            None => None,
        };
        let opts = rampart_images::registry::ClientOptions {
            insecure: self.insecure_registry,
            ca_pem,
            credentials: rampart_images::registry::Credentials::load_default()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            ..Default::default()
        };
        let v = rampart_kyverno::registry::RegistryVerifier::new(opts)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(rampart_kyverno::images::Verifier::new(v)))
    }
}

/// `rampart policy test`.
pub fn test(a: TestArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let mut rows: Vec<TestRow> = Vec::new();
    let mut errors = Vec::new();
    let mut missing = Vec::new();
    for d in &a.dirs {
        if discover(d).is_empty() {
            missing.push(format!("{}: no kyverno-test.yaml found", d.display()));
            continue;
        }
        let (r, e) = run_dir(d);
        rows.extend(r);
        errors.extend(e);
    }
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("error: {m}");
        }
        return Ok(ExitCode::from(2));
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            // A resource no rule applied to (excluded) has no result row, as the runner's
            // contract asks.
            let report = TestReport {
                results: rows.iter().filter(|r| r.actual.is_some()).collect(),
                errors: errors.iter().map(ToString::to_string).collect(),
            };
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => {
            writeln!(
                out,
                "{:<5} {:<40} {:<36} {:<48} {:<8} {:<8}",
                "ID", "POLICY", "RULE", "RESOURCE", "RESULT", "ACTUAL"
            )?;
            let mut shown = 0;
            for (i, r) in rows.iter().enumerate() {
                let verdict = r.verdict();
                if !a.verbose && verdict != Verdict::Fail {
                    continue;
                }
                shown += 1;
                // As `kyverno test`: an excluded resource passes ("excluded"); a skipped one
                // (its patched resource is not in the expected file) is not counted.
                writeln!(
                    out,
                    "{:<5} {:<40} {:<36} {:<48} {:<8} {:<8} {}",
                    i + 1,
                    r.policy,
                    r.rule,
                    format!("{}/{}", r.kind, r.resource),
                    match verdict {
                        Verdict::Pass => "Pass",
                        Verdict::Fail => "Fail",
                        Verdict::Skipped => "-",
                    },
                    r.actual.map(Status::as_str).unwrap_or("excluded"),
                    if verdict == Verdict::Pass && r.actual.is_some() {
                        ""
                    } else {
                        r.message.as_str()
                    }
                )?;
            }
            if shown == 0 {
                writeln!(out, "(every result as expected)")?;
            }
            for e in &errors {
                writeln!(out, "error: {e}")?;
            }
            let count = |v: Verdict| rows.iter().filter(|r| r.verdict() == v).count();
            writeln!(
                out,
                "\nTest Summary: {} tests passed and {} tests failed ({:.2?})",
                count(Verdict::Pass),
                count(Verdict::Fail),
                start.elapsed()
            )?;
        }
    }
    Ok(if !errors.is_empty() {
        ExitCode::from(2)
    } else if rows.iter().all(TestRow::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `rampart policy apply`.
pub fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let (mut set, errors) = PolicySet::load(&a.policies);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if let Some(v) = a.registry.verifier()? {
        set.image_verifier = Some(v);
    }
    let loaded = rampart_manifest::load_paths(&a.resources);
    for e in &loaded.errors {
        eprintln!("error: {e}");
    }
    // policies are evaluated one by one: the set's registry access goes with the request
    let base = AdmissionInfo {
        operation: a.operation.clone(),
        image_verifier: set.image_verifier.clone(),
        ..AdmissionInfo::default()
    };
    let values = match &a.values {
        Some(p) => load_values(p)?,
        None => Values::default(),
    };
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut all = Vec::new();
    for o in &loaded.objects {
        for p in &set.policies {
            let info = values.info_for(&base, &p.name, &o.value);
            for mut r in p.evaluate(&o.value, &info) {
                if a.audit_warn && r.status == Status::Fail && !r.enforce {
                    r.status = Status::Warn;
                }
                failed |= matches!(r.status, Status::Fail | Status::Error);
                all.push((o.object_ref(), r));
            }
        }
    }
    // a rule's message may quote the resource's secrets (`{{request.object.data.password}}`):
    // masked as `scan` masks them
    let masker = rampart_report::SecretMasker::new(rampart_engine::secret_values(
        loaded.objects.iter().map(|o| &o.value),
    ));
    if !masker.is_empty() {
        for (_, r) in &mut all {
            r.message = masker.text(&r.message).into_owned();
        }
    }
    match a.format {
        Format::Json => {
            let report = ApplyReport {
                results: all
                    .iter()
                    .map(|(o, r)| ApplyRow {
                        resource: o.to_string(),
                        policy: &r.policy,
                        rule: &r.rule,
                        status: r.status,
                        action: if r.enforce { "enforce" } else { "audit" },
                        message: &r.message,
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => {
            for (o, r) in &all {
                let action = match (r.status, r.enforce) {
                    (Status::Fail, true) => " (enforce)",
                    (Status::Fail, false) => " (audit)",
                    _ => "",
                };
                writeln!(
                    out,
                    "{}: {}/{}: {}{}: {}",
                    o, r.policy, r.rule, r.status, action, r.message
                )?;
            }
            let count = |s: Status| all.iter().filter(|(_, r)| r.status == s).count();
            writeln!(
                out,
                "\npass: {}, fail: {}, warn: {}, error: {}, skip: {}",
                count(Status::Pass),
                count(Status::Fail),
                count(Status::Warn),
                count(Status::Error),
                count(Status::Skip)
            )?;
        }
    }
    Ok(if !errors.is_empty() || !loaded.errors.is_empty() {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
