//! `rampart policy test` and `rampart policy apply`: Kyverno policies, as `kyverno test` and
//! `kyverno apply` run them.

use rampart_kyverno::testrun::{
    Selector, TestRow, Values, Verdict, discover_named, load_userinfo, load_values, run_files,
};
use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A table; with `--policy-report`, the reports in YAML.
    #[value(aliases = ["txt", "yaml"])]
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
    /// Each resource the mutations changed, as it became (`kyverno apply` prints them).
    mutated: Vec<ChangedResource>,
    /// The resources generate rules would create.
    generated: Vec<ChangedResource>,
}

#[derive(serde::Serialize)]
struct ChangedResource {
    /// The admitted resource it comes from.
    resource: String,
    object: serde_json::Value,
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

/// `policy test` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TestFormat {
    #[value(alias = "txt")]
    Text,
    Json,
    /// JUnit XML: a test suite per policy, a test case per rule and resource.
    Junit,
    /// A Markdown table of every row.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Output format: text (a table as `kyverno test` prints it), json, junit or markdown.
    #[arg(
        short = 'o',
        long,
        visible_alias = "output-format",
        value_enum,
        default_value = "text"
    )]
    format: TestFormat,
    /// Also list the rows that agree with their expectation.
    #[arg(short, long)]
    verbose: bool,
    /// List every row with the rule's message, also those that agree (as `kyverno test
    /// --detailed-results`).
    #[arg(long)]
    detailed_results: bool,
    /// Only the rows that differ from their expectation: the default, and it overrides
    /// `--verbose` and `--detailed-results` (as `kyverno test --fail-only`).
    #[arg(long)]
    fail_only: bool,
    /// Accepted for `kyverno test` command lines: rampart's output has no color.
    #[arg(long)]
    remove_color: bool,
    /// The test files' name.
    #[arg(
        short = 'f',
        long,
        default_value = "kyverno-test.yaml",
        value_name = "NAME"
    )]
    file_name: String,
    /// Only the test cases this selects: `policy=…,rule=…,resource=…`, each a wildcard.
    #[arg(short = 't', long, value_name = "SELECTOR")]
    test_case_selector: Option<String>,
    /// Fail (exit 2) when a directory holds no test file; otherwise it is reported and
    /// skipped, as `kyverno test` does.
    #[arg(long)]
    require_tests: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Directories searched for `kyverno-test.yaml` files (or test files).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Policy files or directories.
    #[arg(
        long = "policy",
        value_name = "PATH",
        required_unless_present = "policy_paths"
    )]
    policies: Vec<PathBuf>,
    /// Policy files or directories, as `kyverno apply POLICY…` names them.
    #[arg(value_name = "POLICY")]
    policy_paths: Vec<PathBuf>,
    /// Resource files or directories.
    #[arg(
        short = 'r',
        long = "resource",
        visible_alias = "resources",
        required = true,
        value_name = "PATH"
    )]
    resources: Vec<PathBuf>,
    /// PolicyException files or directories, as `kyverno apply --exception`.
    #[arg(short = 'e', long = "exception", value_name = "PATH")]
    exceptions: Vec<PathBuf>,
    /// A `Context` file (`cli.kyverno.io/v1alpha1`): the cluster resources and image metadata
    /// CEL policies read, as `kyverno apply --context-file`.
    #[arg(
        long = "context-file",
        visible_alias = "context-path",
        value_name = "FILE"
    )]
    context_file: Option<PathBuf>,
    /// Also apply the PolicyExceptions found among the policies (as `kyverno apply`, they are
    /// not applied otherwise).
    #[arg(long)]
    exceptions_within_policies: bool,
    /// Also apply the PolicyExceptions found among the resources.
    #[arg(long, visible_alias = "exceptions-with-resources")]
    exceptions_within_resources: bool,
    /// The admission operation the resources are evaluated as.
    #[arg(long, default_value = "CREATE")]
    operation: String,
    /// A Kyverno `Values` file: variables, per-rule and per-resource values, namespace labels.
    #[arg(
        short = 'f',
        long = "values",
        visible_alias = "values-file",
        value_name = "FILE"
    )]
    values: Option<PathBuf>,
    /// Variables for every policy and resource: `name=value`, comma-separated or repeated
    /// (as `kyverno apply --set`); they override the values file's global values.
    #[arg(
        short = 's',
        long = "set",
        value_name = "NAME=VALUE",
        value_delimiter = ','
    )]
    set: Vec<String>,
    /// A `UserInfo` file (`userInfo`, `roles`, `clusterRoles`): who makes the requests.
    #[arg(short = 'u', long = "userinfo", value_name = "FILE")]
    userinfo: Option<PathBuf>,
    /// Params of ValidatingAdmissionPolicies and MutatingAdmissionPolicies (files or
    /// directories), as `kyverno apply --parameter-resource`.
    #[arg(long = "parameter-resource", value_name = "PATH")]
    parameter_resources: Vec<PathBuf>,
    /// Output format: text (a table as `kyverno test` prints it; with `--policy-report`,
    /// YAML) or json.
    #[arg(
        short = 'o',
        long,
        visible_alias = "output-format",
        value_enum,
        default_value = "text"
    )]
    format: Format,
    /// Print the results as Kyverno's policy reports (`kyverno apply -p`): one
    /// `openreports.io/v1alpha1` ClusterReport of the cluster-wide policies' results, then a
    /// PolicyReport per namespaced policy, each with its summary.
    #[arg(short = 'p', long)]
    policy_report: bool,
    /// Report the failures of audited rules (Audit, or an override for the resource's
    /// namespace) as `warn`, as `kyverno apply --audit-warn`; they then do not fail the run.
    #[arg(long)]
    audit_warn: bool,
    /// The exit status when there are warnings and no failure or error (as `kyverno apply
    /// --warn-exit-code`); 0 by default.
    #[arg(long, value_name = "CODE", default_value_t = 0)]
    warn_exit_code: u8,
    /// Also exit with `--warn-exit-code` when no result passed.
    #[arg(long)]
    warn_no_pass: bool,
    /// Accepted for `kyverno apply` command lines: the text output lists every result with
    /// its message.
    #[arg(short = 't', long)]
    table: bool,
    /// Accepted for `kyverno apply` command lines: the text output lists every result with
    /// its message.
    #[arg(long)]
    detailed_results: bool,
    /// Accepted for `kyverno apply` command lines: rampart's output has no color.
    #[arg(long)]
    remove_color: bool,
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
    let _ = a.remove_color;
    let start = Instant::now();
    let selector = match &a.test_case_selector {
        Some(t) => Some(Selector::parse(t).map_err(|e| anyhow::anyhow!(e))?),
        None => None,
    };
    let verifier = a.registry.verifier()?;
    let mut rows: Vec<TestRow> = Vec::new();
    let mut errors = Vec::new();
    let mut missing = Vec::new();
    for d in &a.dirs {
        if !d.exists() {
            missing.push(format!("{}: no such file or directory", d.display()));
            continue;
        }
        let files = discover_named(d, &a.file_name);
        if files.is_empty() {
            if a.require_tests {
                missing.push(format!("{}: no {} found", d.display(), a.file_name));
            } else {
                eprintln!(
                    "{}: no {} found (no test yamls available)",
                    d.display(),
                    a.file_name
                );
            }
            continue;
        }
        let (r, e) = run_files(&files, verifier.as_ref());
        rows.extend(r);
        errors.extend(e);
    }
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("error: {m}");
        }
        return Ok(ExitCode::from(2));
    }
    if let Some(sel) = &selector {
        rows.retain(|r| sel.selects(r));
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        TestFormat::Junit => write_junit(&mut out, &rows)?,
        TestFormat::Markdown => write_markdown(&mut out, &rows)?,
        TestFormat::Json => {
            // A resource no rule applied to (excluded) has no result row, as the runner's
            // contract asks.
            let report = TestReport {
                results: rows.iter().filter(|r| r.actual.is_some()).collect(),
                errors: errors.iter().map(ToString::to_string).collect(),
            };
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        TestFormat::Text => {
            writeln!(
                out,
                "{:<5} {:<40} {:<36} {:<48} {:<8} {:<8}",
                "ID", "POLICY", "RULE", "RESOURCE", "RESULT", "ACTUAL"
            )?;
            let mut shown = 0;
            for (i, r) in rows.iter().enumerate() {
                let verdict = r.verdict();
                let all = (a.verbose || a.detailed_results) && !a.fail_only;
                if !all && verdict != Verdict::Fail {
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
                    if verdict == Verdict::Pass && r.actual.is_some() && !a.detailed_results {
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

/// `kyverno test`'s words for a row: its result (`Pass`, `Fail`) and reason (`Ok`, `Excluded`,
/// `Want X, got Y`); `None` for a row `kyverno test` does not print.
fn result_and_reason(r: &TestRow) -> Option<(&'static str, String)> {
    match (r.verdict(), r.actual) {
        (Verdict::Skipped, _) => None,
        (Verdict::Pass, None) => Some(("Pass", "Excluded".into())),
        (Verdict::Pass, Some(_)) => Some(("Pass", "Ok".into())),
        (Verdict::Fail, a) => Some((
            "Fail",
            format!(
                "Want {}, got {}",
                r.expected,
                a.map(Status::as_str).unwrap_or("excluded")
            ),
        )),
    }
}

/// A row as `kyverno test` prints it: the row, its result and its reason.
type Shown<'a> = (&'a TestRow, &'static str, String);

/// `policy test -o junit`: a test suite per policy (in the order first seen), a test case
/// per rule and resource; a failing row is a `failure` with the reason and the message.
fn write_junit(out: &mut impl Write, rows: &[TestRow]) -> std::io::Result<()> {
    let shown: Vec<Shown<'_>> = rows
        .iter()
        .filter_map(|r| result_and_reason(r).map(|(res, why)| (r, res, why)))
        .collect();
    let failures = |rows: &[&Shown<'_>]| rows.iter().filter(|(_, res, _)| *res == "Fail").count();
    let mut suites: Vec<(&str, Vec<&Shown<'_>>)> = Vec::new();
    for row in &shown {
        match suites.iter_mut().find(|(p, _)| *p == row.0.policy) {
            Some((_, list)) => list.push(row),
            None => suites.push((&row.0.policy, vec![row])),
        }
    }
    let all: Vec<_> = shown.iter().collect();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="rampart policy test" tests="{}" failures="{}">"#,
        all.len(),
        failures(&all)
    )?;
    for (policy, list) in &suites {
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}">"#,
            rampart_report::xml_escape(policy),
            list.len(),
            failures(list)
        )?;
        for (r, res, why) in list {
            writeln!(
                out,
                r#"    <testcase classname="{}" name="{}/{}" file="{}">"#,
                rampart_report::xml_escape(&r.rule),
                rampart_report::xml_escape(&r.kind),
                rampart_report::xml_escape(&r.resource),
                rampart_report::xml_escape(&r.test)
            )?;
            if *res == "Fail" {
                writeln!(
                    out,
                    r#"      <failure message="{}">{}</failure>"#,
                    rampart_report::xml_escape(why),
                    rampart_report::xml_escape(&r.message)
                )?;
            }
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// `policy test -o markdown`: every row `kyverno test` prints, as a table.
fn write_markdown(out: &mut impl Write, rows: &[TestRow]) -> std::io::Result<()> {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    writeln!(out, "| ID | POLICY | RULE | RESOURCE | RESULT | REASON |")?;
    writeln!(out, "|----|----|----|----|----|----|")?;
    for (i, r) in rows.iter().enumerate() {
        if let Some((res, why)) = result_and_reason(r) {
            writeln!(
                out,
                "| {} | {} | {} | {}/{} | {res} | {} |",
                i + 1,
                cell(&r.policy),
                cell(&r.rule),
                cell(&r.kind),
                cell(&r.resource),
                cell(&why)
            )?;
        }
    }
    Ok(())
}

/// `rampart policy apply`.
pub fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    // what kyverno's output options ask for is rampart's only text output
    let _ = (a.table, a.detailed_results, a.remove_color);
    let paths: Vec<&PathBuf> = a.policies.iter().chain(&a.policy_paths).collect();
    let mut policy_objects = rampart_manifest::load_paths(&paths);
    let exception_objects = rampart_manifest::load_paths(&a.exceptions);
    let loaded = rampart_manifest::load_paths(&a.resources);
    for e in policy_objects
        .errors
        .iter()
        .chain(&exception_objects.errors)
        .chain(&loaded.errors)
    {
        eprintln!("error: {e}");
    }
    // as `kyverno apply`: the exceptions among the policies and the resources only when asked
    let is_exception =
        |o: &rampart_manifest::Object| rampart_kyverno::exception::is_exception(&o.value);
    if !a.exceptions_within_policies {
        let before = policy_objects.objects.len();
        policy_objects.objects.retain(|o| !is_exception(o));
        let left_out = before - policy_objects.objects.len();
        if left_out > 0 {
            eprintln!(
                "note: {left_out} PolicyException(s) among the policies not applied (--exceptions-within-policies applies them, -e names exception files)"
            );
        }
    }
    let mut objects = policy_objects.objects;
    objects.extend(exception_objects.objects);
    if a.exceptions_within_resources {
        objects.extend(loaded.objects.iter().filter(|o| is_exception(o)).cloned());
    }
    // ValidatingAdmissionPolicies and bindings among the policies, run as `kyverno apply`
    // runs them (with the `--parameter-resource` objects as their params)
    let mut vap_objects: Vec<rampart_manifest::Object> = objects
        .iter()
        .filter(|o| rampart_kyverno::testrun::is_vap_object(o))
        .cloned()
        .collect();
    let (mut set, errors) = PolicySet::from_objects(objects);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if let Some(v) = a.registry.verifier()? {
        set.image_verifier = Some(v);
    }
    // the set's registry access and exceptions join each request in `evaluate_in_cli_order`
    let mut base = AdmissionInfo {
        operation: a.operation.clone(),
        ..AdmissionInfo::default()
    };
    if let Some(u) = &a.userinfo {
        load_userinfo(u, &mut base)?;
    }
    if let Some(c) = &a.context_file {
        rampart_kyverno::testrun::load_context(c, &mut base)?;
    }
    if !a.parameter_resources.is_empty() {
        let params = rampart_manifest::load_paths(&a.parameter_resources);
        for e in &params.errors {
            eprintln!("error: {e}");
        }
        if !params.errors.is_empty() {
            return Ok(ExitCode::from(2));
        }
        if !vap_objects.is_empty() {
            vap_objects.extend(params.objects.iter().cloned());
        }
        base.context_resources
            .extend(params.objects.into_iter().map(|o| o.value));
    }
    let mut values = match &a.values {
        Some(p) => load_values(p)?,
        None => Values::default(),
    };
    for s in &a.set {
        let Some((name, value)) = s.split_once('=') else {
            anyhow::bail!("--set {s}: expected NAME=VALUE");
        };
        values.set_global(
            name.trim(),
            serde_json::Value::String(value.trim().to_string()),
        );
    }
    let vaps =
        (!vap_objects.is_empty()).then(|| rampart_policy::PolicySet::from_objects(vap_objects));
    for e in vaps.iter().flat_map(|v| v.problems()) {
        eprintln!("error: {e}");
    }
    // the namespaces the resources include, and those the values label
    let mut ns_info = base.clone();
    for n in loaded.objects.iter().filter(|o| o.kind() == "Namespace") {
        ns_info
            .namespaces
            .insert(n.name().to_string(), n.value.clone());
    }
    let namespaces = rampart_kyverno::testrun::vap_namespaces(&ns_info, &values);
    let vap_session = vaps.as_ref().map(|v| v.session(&namespaces));
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut all = Vec::new();
    let mut mutated = Vec::new();
    let mut generated = Vec::new();
    for o in &loaded.objects {
        let value = rampart_kyverno::testrun::with_default_namespace(o.value.clone());
        // as `kyverno apply`: every mutation first, then the other rules on the result
        let per_policy =
            set.evaluate_in_cli_order(&value, |p, r| values.info_for(&base, &p.name, r));
        // the resource after the last mutation that changed it
        let mut last = None;
        for results in &per_policy {
            for r in results.iter().filter(|r| r.status == Status::Pass) {
                if let Some(p) = &r.patched {
                    last = Some(p.clone());
                }
                for g in &r.generated {
                    generated.push(ChangedResource {
                        resource: o.object_ref().to_string(),
                        object: g.clone(),
                    });
                }
            }
        }
        if let Some(p) = last.filter(|p| *p != value) {
            mutated.push(ChangedResource {
                resource: o.object_ref().to_string(),
                object: p,
            });
        }
        let vap_results = vap_session
            .as_ref()
            .map(|s| rampart_kyverno::testrun::vap_results(s, &value, &base.user_info, false))
            .unwrap_or_default();
        for results in per_policy.into_iter().chain(std::iter::once(vap_results)) {
            for mut r in results {
                // a policy not scored reports its failures as warnings, as kyverno apply
                if r.status == Status::Fail && ((a.audit_warn && !r.enforce) || !r.scored) {
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
        loaded
            .objects
            .iter()
            .map(|o| &o.value)
            .chain(mutated.iter().chain(&generated).map(|c| &c.object)),
    ));
    if !masker.is_empty() {
        for (_, r) in &mut all {
            r.message = masker.text(&r.message).into_owned();
        }
        for c in mutated.iter_mut().chain(&mut generated) {
            masker.json(&mut c.object);
        }
    }
    if a.policy_report {
        let reports = policy_reports(&set, &all);
        match a.format {
            Format::Json => {
                for r in &reports {
                    serde_json::to_writer_pretty(&mut out, r)?;
                    writeln!(out)?;
                }
            }
            Format::Text => {
                for (i, r) in reports.iter().enumerate() {
                    if i > 0 {
                        writeln!(out, "---")?;
                    }
                    let yaml = serde_saphyr::to_string(r)
                        .map_err(|e| anyhow::anyhow!("writing the report: {e}"))?;
                    write!(out, "{yaml}")?;
                }
            }
        }
    } else {
        match a.format {
            Format::Json => {
                let report = ApplyReport {
                    mutated: std::mem::take(&mut mutated),
                    generated: std::mem::take(&mut generated),
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
                // as `kyverno apply` shows them: each mutated resource, each generated one
                for (what, list) in [("mutated", &mutated), ("generated", &generated)] {
                    for c in list {
                        let yaml = serde_saphyr::to_string(&c.object)
                            .map_err(|e| anyhow::anyhow!("writing the {what} resource: {e}"))?;
                        writeln!(
                            out,
                            "\n{what} (from {}):\n---\n{}",
                            c.resource,
                            yaml.trim_end()
                        )?;
                    }
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
    }
    let warned = all.iter().any(|(_, r)| r.status == Status::Warn)
        || (a.warn_no_pass && !all.iter().any(|(_, r)| r.status == Status::Pass));
    Ok(
        if !errors.is_empty()
            || !loaded.errors.is_empty()
            || !policy_objects.errors.is_empty()
            || !exception_objects.errors.is_empty()
            || vaps.as_ref().is_some_and(|v| !v.problems().is_empty())
        {
            ExitCode::from(2)
        } else if failed {
            ExitCode::from(1)
        } else if warned {
            ExitCode::from(a.warn_exit_code)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// Kyverno's policy reports of `policy apply` results (`kyverno apply -p`): the cluster-wide
/// policies' results merged into one ClusterReport named `merged`, then a PolicyReport per
/// namespaced policy; a result per rule and resource, with the policy's category, severity
/// and scoring, and the summary of its results.
fn policy_reports(
    set: &PolicySet,
    results: &[(
        std::sync::Arc<rampart_core::ObjectRef>,
        rampart_kyverno::RuleResult,
    )],
) -> Vec<serde_json::Value> {
    use serde_json::{Value, json};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let summary = |rs: &[Value]| {
        let n = |s: &str| {
            rs.iter()
                .filter(|r| r.get("result") == Some(&json!(s)))
                .count()
        };
        json!({"pass": n("pass"), "fail": n("fail"), "warn": n("warn"), "error": n("error"), "skip": n("skip")})
    };
    let mut cluster: Vec<Value> = Vec::new();
    let mut namespaced: Vec<((String, String), Vec<Value>)> = Vec::new();
    for (o, r) in results {
        let policy = set.policies.iter().find(|p| p.name == r.policy);
        // a result of no Kyverno policy: a ValidatingAdmissionPolicy's
        let kind = policy.map_or("ValidatingAdmissionPolicy", |p| p.kind.as_str());
        let source = match kind.trim_start_matches("Namespaced") {
            "ValidatingPolicy" => "KyvernoValidatingPolicy",
            "ImageValidatingPolicy" => "KyvernoImageValidatingPolicy",
            "MutatingPolicy" => "KyvernoMutatingPolicy",
            "GeneratingPolicy" => "KyvernoGeneratingPolicy",
            "MutatingAdmissionPolicy" => "MutatingAdmissionPolicy",
            "ValidatingAdmissionPolicy" => "ValidatingAdmissionPolicy",
            _ => "kyverno",
        };
        let process = match (kind, policy) {
            ("GeneratingPolicy" | "NamespacedGeneratingPolicy", _) => "admission review",
            ("MutatingAdmissionPolicy" | "ValidatingAdmissionPolicy", _) => "background scan",
            (_, Some(p)) if p.runs_in_background() => "background scan",
            (_, Some(p)) if p.runs_at_admission() => "admission review",
            _ => "",
        };
        let mut subject = serde_json::Map::new();
        subject.insert("apiVersion".into(), json!(o.api_version));
        subject.insert("kind".into(), json!(o.kind));
        subject.insert("name".into(), json!(o.name));
        if let Some(ns) = &o.namespace {
            subject.insert("namespace".into(), json!(ns));
        }
        let mut result = serde_json::Map::new();
        result.insert("source".into(), json!(source));
        result.insert("policy".into(), json!(r.policy));
        if !r.rule.is_empty() {
            result.insert("rule".into(), json!(r.rule));
        }
        result.insert("result".into(), json!(r.status.as_str()));
        if r.scored {
            result.insert("scored".into(), json!(true));
        }
        if let Some(sev) = r.severity {
            result.insert("severity".into(), json!(sev.to_string().to_lowercase()));
        }
        if let Some(c) = policy.and_then(|p| p.category.as_ref()) {
            result.insert("category".into(), json!(c));
        }
        result.insert("timestamp".into(), json!({"seconds": now, "nanos": 0}));
        result.insert("resources".into(), json!([subject]));
        if !r.message.is_empty() {
            result.insert("message".into(), json!(r.message));
        }
        result.insert("properties".into(), json!({"process": process}));
        let result = Value::Object(result);
        match policy.and_then(|p| p.namespace.clone()) {
            Some(ns) => {
                let key = (ns, r.policy.clone());
                match namespaced.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, rs)) => rs.push(result),
                    None => namespaced.push((key, vec![result])),
                }
            }
            None => cluster.push(result),
        }
    }
    let mut out = Vec::new();
    if !cluster.is_empty() {
        out.push(json!({
            "apiVersion": "openreports.io/v1alpha1",
            "kind": "ClusterReport",
            "metadata": {"name": "merged"},
            "source": "",
            "summary": summary(&cluster),
            "results": cluster,
        }));
    }
    for ((ns, name), rs) in namespaced {
        out.push(json!({
            "apiVersion": "openreports.io/v1alpha1",
            "kind": "PolicyReport",
            "metadata": {"name": name, "namespace": ns},
            "source": "",
            "summary": summary(&rs),
            "results": rs,
        }));
    }
    out
}
