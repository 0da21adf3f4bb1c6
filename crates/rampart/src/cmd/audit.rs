//! `rampart audit`: audit-policy evaluation and lint, and Falco k8s_audit detection on audit logs.

use anyhow::{Context, bail};
use rampart_audit::{AuditError, Policy, Request, ResourceAttrs, RulesSource, Ruleset};
use rampart_core::Severity;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Run detection rules over audit logs (JSON lines or EventList; files, `-`, gzip).
    #[command(after_help = crate::cmd::EXIT_FOUND)]
    Detect(DetectArgs),
    /// Print the level and stages an audit Policy gives one request.
    #[command(after_help = crate::cmd::EXIT_RUN)]
    Level(LevelArgs),
    /// Find gaps and leaks in an audit Policy.
    #[command(after_help = crate::cmd::EXIT_FINDINGS)]
    Lint(LintArgs),
    /// Serve the API server's audit webhook backend: batches in, alerts out, live.
    #[command(after_help = crate::cmd::EXIT_RUN)]
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AlertFormat {
    Json,
    #[value(alias = "txt")]
    Text,
}

#[derive(Debug, clap::Args)]
struct DetectArgs {
    /// Falco rules file (k8s_audit source); repeat to layer overrides. Default: rampart's rules.
    #[arg(long = "rules", value_name = "R.yaml")]
    rules: Vec<String>,
    /// Output format: text or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: AlertFormat,
    /// Audit event files; `-` reads stdin.
    #[arg(required = true, value_name = "EVENTS")]
    events: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct LevelArgs {
    /// The audit Policy file.
    policy: String,
    /// The requesting user.
    #[arg(long)]
    user: String,
    /// A group of the user (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The request's verb (get, list, create, ...).
    #[arg(long)]
    verb: String,
    /// The resource, optionally with a subresource: `pods/exec`.
    #[arg(long, conflicts_with = "non_resource_url")]
    resource: Option<String>,
    /// The resource's API group (empty: the core group).
    #[arg(long, default_value = "")]
    api_group: String,
    /// The object's name.
    #[arg(long, default_value = "")]
    name: String,
    /// A non-resource URL instead of a resource (`/healthz`).
    #[arg(long)]
    non_resource_url: Option<String>,
    /// Namespace; omit for cluster-scoped resources.
    #[arg(short = 'n', long, default_value = "")]
    namespace: String,
    /// Output format: text or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: AlertFormat,
}

#[derive(Debug, clap::Args)]
struct LintArgs {
    /// The audit Policy file.
    policy: String,
    /// Detection rules whose body needs the policy must meet.
    #[arg(long = "rules", value_name = "R.yaml")]
    rules: Vec<String>,
    /// Output format: text, json, sarif or junit.
    #[arg(short = 'o', long, default_value = "text")]
    format: rampart_report::Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "medium")]
    fail_on: rampart_core::Severity,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8444")]
    listen: std::net::SocketAddr,
    /// Serving certificate (PEM chain); re-read when it changes.
    #[arg(long)]
    tls_cert: std::path::PathBuf,
    /// Serving private key (PEM); re-read when it changes.
    #[arg(long)]
    tls_key: std::path::PathBuf,
    /// Falco rules file (k8s_audit source); repeat to layer overrides. Default: rampart's rules.
    #[arg(long = "rules", value_name = "R.yaml")]
    rules: Vec<String>,
    /// Append alerts (JSON lines) to this file instead of stdout.
    #[arg(long)]
    output: Option<std::path::PathBuf>,
    /// Batches held before the server answers 429 (the API server retries with backoff).
    #[arg(long, default_value_t = 256)]
    queue: usize,
    /// Largest batch accepted, in MiB.
    #[arg(long, default_value_t = 16)]
    max_batch_size: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.cmd {
        Cmd::Detect(a) => detect(a),
        Cmd::Level(a) => level(a),
        Cmd::Lint(a) => lint(a),
        Cmd::Serve(a) => serve(a),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let rules = load_rules(&a.rules)?;
    let sink: rampart_server::audit::AlertSink = match &a.output {
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("{}: cannot open alert output", p.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    rampart_server::audit::serve_audit_blocking(rampart_server::audit::AuditServeOptions {
        listen: a.listen,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        rules: std::sync::Arc::new(rules),
        sink,
        queue_capacity: a.queue,
        max_body_bytes: a.max_batch_size.saturating_mul(1024 * 1024),
    })
    .context("audit webhook")?;
    Ok(ExitCode::SUCCESS)
}

fn errors_to_anyhow(errs: Vec<AuditError>) -> anyhow::Error {
    let msg: Vec<String> = errs.iter().map(ToString::to_string).collect();
    anyhow::anyhow!("{}", msg.join("\n"))
}

fn load_rules(paths: &[String]) -> anyhow::Result<Ruleset> {
    if paths.is_empty() {
        return Ruleset::builtin().map_err(errors_to_anyhow);
    }
    let mut sources = Vec::new();
    for p in paths {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("{p}: cannot read rules file"))?;
        sources.push(RulesSource {
            name: p.clone(),
            text,
        });
    }
    Ruleset::load(&sources).map_err(errors_to_anyhow)
}

fn detect(a: DetectArgs) -> anyhow::Result<ExitCode> {
    let rules = load_rules(&a.rules)?;
    let mut alerts = Vec::new();
    for path in &a.events {
        let text = rampart_audit::read_input(path)?;
        let (mut found, ignored) = rampart_audit::detect_text(&rules, path, &text)?;
        for w in &ignored {
            tracing::warn!("{w}");
        }
        // an alert's output may print the request's object: its secrets are masked as `scan`
        // masks them
        let masker = alert_secrets(&text, &found);
        if !masker.is_empty() {
            for al in &mut found {
                al.output = masker.text(&al.output).into_owned();
            }
        }
        alerts.extend(found);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let res = match a.format {
        AlertFormat::Json => serde_json::to_writer_pretty(&mut out, &alerts)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        AlertFormat::Text => alerts.iter().try_for_each(|al| {
            writeln!(
                out,
                "{} {} [{}] {}",
                al.time, al.priority, al.rule, al.output
            )
        }),
    };
    match res.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r.context("writing alerts")?,
    }
    Ok(if alerts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The secret values in the objects of the events that raised `alerts` (found by the catalog's
/// detectors), read from the events' text: JSON lines, one JSON document, an array or an
/// `EventList`.
fn alert_secrets(text: &str, alerts: &[rampart_audit::Alert]) -> rampart_report::SecretMasker {
    if alerts.is_empty() {
        return rampart_report::SecretMasker::new(Vec::<String>::new());
    }
    let ids: std::collections::HashSet<&str> = alerts.iter().map(|a| a.audit_id.as_str()).collect();
    let mut events = Vec::new();
    let mut keep = |v: serde_json::Value| {
        if v.get("auditID")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|id| ids.contains(id))
        {
            events.push(v);
        }
    };
    for v in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
        match v {
            Ok(serde_json::Value::Array(items)) => items.into_iter().for_each(&mut keep),
            Ok(mut v) => match v.get_mut("items").map(serde_json::Value::take) {
                Some(serde_json::Value::Array(items)) => items.into_iter().for_each(&mut keep),
                _ => keep(v),
            },
            // detection reported what does not parse; nothing more to read
            Err(_) => break,
        }
    }
    rampart_report::SecretMasker::new(rampart_engine::secret_values(&events))
}

fn level(a: LevelArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.policy)
        .with_context(|| format!("{}: cannot read policy", a.policy))?;
    let policy = Policy::parse(&a.policy, &text).map_err(errors_to_anyhow)?;
    let resource = match (&a.resource, &a.non_resource_url) {
        (Some(r), _) => {
            let (resource, sub) = r.split_once('/').unwrap_or((r.as_str(), ""));
            Some(ResourceAttrs {
                group: a.api_group.clone(),
                resource: resource.to_string(),
                subresource: sub.to_string(),
                name: a.name.clone(),
                namespace: a.namespace.clone(),
            })
        }
        (None, Some(_)) => None,
        (None, None) => bail!("give --resource R[/sub] or --non-resource-url /path"),
    };
    let req = Request {
        user: a.user,
        groups: a.groups,
        verb: a.verb,
        resource,
        path: a.non_resource_url.unwrap_or_default(),
    };
    let d = policy.evaluate(&req);
    let stages = d.stages();
    match a.format {
        AlertFormat::Json => {
            let doc = LevelDocument {
                level: d.level.as_str(),
                stages: &stages,
                omit_stages: &d.omit_stages,
                omit_managed_fields: d.omit_managed_fields,
                rule: d.rule,
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        AlertFormat::Text => {
            println!("level: {}", d.level.as_str());
            println!(
                "stages: {}",
                if stages.is_empty() {
                    "(none)".to_string()
                } else {
                    stages.join(", ")
                }
            );
            println!(
                "omitStages: {}",
                if d.omit_stages.is_empty() {
                    "(none)".to_string()
                } else {
                    d.omit_stages.join(", ")
                }
            );
            match d.rule {
                Some(i) => {
                    let r = policy.rules.get(i);
                    println!("rule: {i} ({}:{})", a.policy, r.map_or(0, |r| r.line));
                }
                None => println!("rule: none matched (default level None)"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn lint(a: LintArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.policy)
        .with_context(|| format!("{}: cannot read policy", a.policy))?;
    let policy = Policy::parse(&a.policy, &text).map_err(errors_to_anyhow)?;
    let rules = if a.rules.is_empty() {
        None
    } else {
        Some(load_rules(&a.rules)?)
    };
    let findings = rampart_audit::lint(&policy, rules.as_ref());
    let format = a.format;
    let fail_on: Severity = a.fail_on;
    let metas: Vec<rampart_report::RuleMeta> = rampart_audit::CHECKS
        .iter()
        .map(|(slug, sev, summary)| rampart_report::RuleMeta {
            slug: (*slug).to_string(),
            severity: *sev,
            summary: (*summary).to_string(),
            help_markdown: (*summary).to_string(),
            cis: Vec::new(),
        })
        .collect();
    let source: std::sync::Arc<str> = text.into();
    let name = a.policy.clone();
    let sources = move |f: &str| (f == name).then(|| source.clone());
    let report = rampart_report::Report {
        findings: &findings,
        errors: &[],
        rules: &metas,
        objects: &[],
        sources: &sources,
        tool_version: env!("CARGO_PKG_VERSION"),
        fail_on,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match rampart_report::render(format, &report, &mut out, false) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r.context("writing the report")?,
    }
    Ok(if findings.iter().any(|f| f.severity >= fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `audit level --format json`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LevelDocument<'a> {
    level: &'static str,
    stages: &'a [&'static str],
    omit_stages: &'a [String],
    omit_managed_fields: bool,
    rule: Option<usize>,
}
