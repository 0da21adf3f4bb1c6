//! `rampart policy`: evaluate Gatekeeper ConstraintTemplates and ValidatingAdmissionPolicies on
//! objects (`eval`), and run gator Suite files (`verify`).

use anyhow::{Context, bail};
use rampart_core::InputError;
use rampart_policy::suite::{SuiteResult, run_suite};
use rampart_policy::{Engine, PolicySet};
use rampart_report::SecretMasker;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Evaluate objects (plain objects as CREATE, or AdmissionReviews) against templates,
    /// constraints, ValidatingAdmissionPolicies and bindings.
    #[command(after_help = crate::cmd::EXIT_FOUND)]
    Eval(EvalArgs),
    /// Run gator Suite files (test.gatekeeper.sh/v1alpha1) and check their assertions.
    #[command(after_help = crate::cmd::EXIT_FOUND)]
    Verify(VerifyArgs),
    /// Run Kyverno `kyverno-test.yaml` files found below the given directories, as `kyverno test`.
    #[command(after_help = crate::cmd::EXIT_TEST)]
    Test(super::kyverno::TestArgs),
    /// Apply Kyverno policies to resources, as `kyverno apply`.
    #[command(after_help = crate::cmd::EXIT_FOUND)]
    Apply(super::kyverno::ApplyArgs),
    /// JMESPath with Kyverno's functions, as `kyverno jp`.
    Jp(super::jp::JpArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EngineArg {
    Rego,
    Cel,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Engine {
        match e {
            EngineArg::Rego => Engine::Rego,
            EngineArg::Cel => Engine::Cel,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    #[value(alias = "txt")]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// ConstraintTemplate files or directories.
    #[arg(long = "template", value_name = "FILE")]
    templates: Vec<PathBuf>,
    /// Constraint files or directories.
    #[arg(long = "constraint", value_name = "FILE")]
    constraints: Vec<PathBuf>,
    /// ValidatingAdmissionPolicies, bindings, params, or any mix of policy objects.
    #[arg(long = "policies", value_name = "PATH")]
    policies: Vec<PathBuf>,
    /// Objects for `data.inventory`, namespace lookups and VAP params.
    #[arg(long = "inventory", value_name = "FILE")]
    inventory: Vec<PathBuf>,
    /// Engine for templates that carry both Rego and CEL code (CEL, as Gatekeeper and gator
    /// choose; `rego` as Gatekeeper with `--enable-k8s-native-validation=false`).
    #[arg(long, value_enum, default_value = "cel")]
    engine: EngineArg,
    /// Output format: text or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: Format,
    /// Objects to evaluate (`-` for stdin).
    #[arg(required = true, value_name = "OBJECT")]
    objects: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// Engine for templates that carry both Rego and CEL code (CEL, as Gatekeeper and gator
    /// choose; `rego` as Gatekeeper with `--enable-k8s-native-validation=false`).
    #[arg(long, value_enum, default_value = "cel")]
    engine: EngineArg,
    /// Also list passing cases.
    #[arg(short, long)]
    verbose: bool,
    /// Suite files, or directories searched for them.
    #[arg(required = true, value_name = "SUITE")]
    suites: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Eval(a) => eval(a),
        Command::Verify(a) => verify(a),
        Command::Test(a) => super::kyverno::test(a),
        Command::Apply(a) => super::kyverno::apply(a),
        Command::Jp(a) => super::jp::run(a),
    }
}

/// Reads objects from `paths`; what cannot be read is added to `errors` (the valid objects of
/// the same files are still returned).
fn load(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<rampart_manifest::Object> {
    if paths.is_empty() {
        return Vec::new();
    }
    let loaded = rampart_manifest::load_paths(paths);
    errors.extend(loaded.errors);
    loaded.objects
}

fn eval(a: EvalArgs) -> anyhow::Result<ExitCode> {
    // a file or policy that cannot be read or compiled is reported; the rest still run
    let mut input_errors = Vec::new();
    let mut policy_objects = load(&a.templates, &mut input_errors);
    policy_objects.extend(load(&a.constraints, &mut input_errors));
    policy_objects.extend(load(&a.policies, &mut input_errors));
    let set = PolicySet::from_objects(policy_objects).with_engine(a.engine.into());
    let inventory = load(&a.inventory, &mut input_errors);
    let objects = load(&a.objects, &mut input_errors);
    {
        let mut err = std::io::stderr().lock();
        for e in &input_errors {
            writeln!(err, "{e}")?;
        }
        for p in set.problems() {
            writeln!(err, "{p}")?;
        }
    }
    if objects.is_empty() {
        bail!(
            "no objects to evaluate in {}",
            a.objects
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // what a policy says about an object may quote its secrets: masked as `scan` masks them
    let masker = SecretMasker::new(rampart_engine::secret_values(
        objects.iter().chain(&inventory).map(|o| &o.value),
    ));
    let session = set.session(&inventory);
    let mut violations = Vec::new();
    let mut errors = Vec::new();
    for o in &objects {
        let e = session.evaluate(o);
        violations.extend(e.violations);
        errors.extend(e.errors);
    }
    for v in &mut violations {
        v.message = masker.text(&v.message).into_owned();
        masker.json(&mut v.details);
    }
    for e in &mut errors {
        e.message = masker.text(&e.message).into_owned();
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            let doc = EvalDocument {
                violations: violations.iter().map(EvalViolation::new).collect(),
                errors: &errors,
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => {
            for v in &violations {
                let obj = v.object.as_ref().map(|o| o.to_string()).unwrap_or_default();
                writeln!(
                    out,
                    "{obj}: [{}] {} {}: {}",
                    v.mode.as_str(),
                    v.kind,
                    v.policy,
                    v.message
                )?;
            }
            for e in &errors {
                writeln!(out, "error: {}: {}", e.policy, e.message)?;
            }
            if violations.is_empty() && errors.is_empty() {
                writeln!(out, "no violations")?;
            }
        }
    }
    Ok(if !violations.is_empty() {
        ExitCode::from(1)
    } else if !errors.is_empty() || !input_errors.is_empty() || !set.problems().is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Suite files under `p`: the file itself, or the `.yaml`/`.yml` files of a directory whose
/// first document is `kind: Suite`.
fn find_suites(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !p.is_dir() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .with_context(|| format!("reading {}", p.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            find_suites(&e, out)?;
        } else if matches!(e.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
            let text = std::fs::read_to_string(&e).unwrap_or_default();
            if text.lines().any(|l| l.trim() == "kind: Suite") {
                out.push(e);
            }
        }
    }
    Ok(())
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut suites = Vec::new();
    for p in &a.suites {
        find_suites(p, &mut suites)?;
    }
    if suites.is_empty() {
        bail!("no Suite files found");
    }
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for s in &suites {
        let r = run_suite(s, a.engine.into());
        failed |= r.failed();
        print_suite(&mut out, &r, a.verbose)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_suite(out: &mut impl Write, r: &SuiteResult, verbose: bool) -> std::io::Result<()> {
    let secs = |d: std::time::Duration| format!("{:.3}s", d.as_secs_f64());
    if let Some(e) = &r.error {
        writeln!(
            out,
            "FAIL\t{}\t{}\n    {e}",
            r.path.display(),
            secs(r.runtime)
        )?;
        return Ok(());
    }
    for t in &r.tests {
        if let Some(e) = &t.error {
            writeln!(
                out,
                "    --- FAIL: {}\t({})\n        {e}",
                t.name,
                secs(t.runtime)
            )?;
            continue;
        }
        for c in &t.cases {
            match (&c.error, c.skipped) {
                (_, true) if verbose => writeln!(out, "    --- SKIP: {}/{}", t.name, c.name)?,
                (Some(e), false) => {
                    writeln!(
                        out,
                        "    --- FAIL: {}/{}\t({})\n        {e}",
                        t.name,
                        c.name,
                        secs(c.runtime)
                    )?;
                }
                (None, false) if verbose => {
                    writeln!(
                        out,
                        "    --- PASS: {}/{}\t({})",
                        t.name,
                        c.name,
                        secs(c.runtime)
                    )?;
                }
                _ => {}
            }
        }
    }
    let status = if r.skipped {
        "SKIP"
    } else if r.failed() {
        "FAIL"
    } else {
        "ok"
    };
    writeln!(out, "{status}\t{}\t{}", r.path.display(), secs(r.runtime))
}

/// `policy eval --format json`.
#[derive(serde::Serialize)]
struct EvalDocument<'a> {
    violations: Vec<EvalViolation<'a>>,
    errors: &'a [rampart_policy::EvalError],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EvalViolation<'a> {
    message: &'a str,
    details: &'a serde_json::Value,
    constraint: &'a str,
    kind: &'a str,
    enforcement_action: &'static str,
    object: Option<&'a rampart_core::ObjectRef>,
}

impl<'a> EvalViolation<'a> {
    fn new(v: &'a rampart_policy::Violation) -> Self {
        EvalViolation {
            message: &v.message,
            details: &v.details,
            constraint: &v.policy,
            kind: &v.kind,
            enforcement_action: v.mode.as_str(),
            object: v.object.as_ref(),
        }
    }
}
