//! `rampart rbac`: offline RBAC answers with the API server's semantics — can-i, who-can,
//! access-matrix, risks and escalation paths.

use anyhow::{Context, bail};
use rampart_rbac::paths::{PathGraph, render_dot, render_mermaid};
use rampart_rbac::{Options, Policy, Request, RoleKindBinding, UserInfo, resources};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Whether a subject may perform an action (like `kubectl auth can-i`): prints yes or no,
    /// exits 0 or 1.
    #[command(after_help = crate::cmd::EXIT_ANSWER)]
    CanI(CanIArgs),
    /// Every subject (User, Group, ServiceAccount) granted an action, with the grants.
    #[command(after_help = crate::cmd::EXIT_LISTING)]
    WhoCan(WhoCanArgs),
    /// What a subject may do to every resource type in a namespace.
    #[command(after_help = crate::cmd::EXIT_LISTING)]
    AccessMatrix(MatrixArgs),
    /// Risky grants: Secret reads, pod creation, exec, escalate, bind, impersonate, tokens, CSRs,
    /// webhooks, nodes/proxy, RBAC management, wildcards.
    #[command(after_help = crate::cmd::EXIT_FINDINGS)]
    Risks(RisksArgs),
    /// Escalation paths from every workload's automounted ServiceAccount token to
    /// cluster-admin-equivalent power and to Secret reads.
    #[command(after_help = crate::cmd::EXIT_FOUND)]
    Paths(PathsArgs),
}

#[derive(Debug, clap::Args)]
struct Input {
    /// Manifests: files, directories (walked recursively, symbolic links followed) or `-` for
    /// stdin.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// A path to read, as kubectl's `-f` (repeatable; the same as a positional PATH).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// Leave out the API server's bootstrap ClusterRoles and ClusterRoleBindings.
    #[arg(long)]
    no_bootstrap: bool,
}

#[derive(Debug, clap::Args)]
struct Target {
    /// The verb: get, list, watch, create, update, patch, delete, deletecollection, use, bind,
    /// escalate, impersonate, approve, sign, or `*`.
    verb: String,
    /// TYPE[/NAME] (`pods`, `deploy`, `deployments.apps/web`) or a non-resource URL (`/metrics`).
    target: String,
    /// The subresource (`log`, `exec`, `scale`, `token`, ...).
    #[arg(long)]
    subresource: Option<String>,
    /// The namespace (default: `default`; ignored for cluster-scoped resources).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Ask about all namespaces at once (only cluster-wide grants count).
    #[arg(short = 'A', long)]
    all_namespaces: bool,
}

#[derive(Debug, clap::Args)]
struct CanIArgs {
    #[command(flatten)]
    target: Target,
    /// The user (`jane`, `system:serviceaccount:NS:NAME`).
    #[arg(long = "as")]
    as_user: String,
    /// A group of the user. Repeatable.
    #[arg(long = "as-group")]
    as_group: Vec<String>,
    /// Print nothing; answer with the exit code only.
    #[arg(short, long)]
    quiet: bool,
    /// Also print the binding and rule that grant it.
    #[arg(long)]
    explain: bool,
    #[command(flatten)]
    input: Input,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TableFormat {
    #[value(alias = "txt")]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct WhoCanArgs {
    #[command(flatten)]
    target: Target,
    /// Output format: text or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: TableFormat,
    #[command(flatten)]
    input: Input,
}

#[derive(Debug, clap::Args)]
struct MatrixArgs {
    /// The user (or `system:serviceaccount:NS:NAME`) whose access is shown.
    #[arg(long = "as")]
    as_user: String,
    /// A group the user is in (repeatable).
    #[arg(long = "as-group")]
    as_group: Vec<String>,
    /// The namespace; without it, cluster-scoped resources and cluster-wide grants are shown.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Show only the resource types with at least one allowed verb.
    #[arg(long)]
    only_allowed: bool,
    /// Output format: text or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: TableFormat,
    #[command(flatten)]
    input: Input,
}

#[derive(Debug, clap::Args)]
struct RisksArgs {
    /// Output format: text or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: TableFormat,
    /// Exit 1 when a risk at or above this severity is found.
    #[arg(long, default_value = "high")]
    fail_on: rampart_core::Severity,
    #[command(flatten)]
    input: Input,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PathFormat {
    #[value(alias = "txt")]
    Text,
    Json,
    Dot,
    Mermaid,
}

#[derive(Debug, clap::Args)]
struct PathsArgs {
    /// Output format: text, json, dot or mermaid.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    format: PathFormat,
    #[command(flatten)]
    input: Input,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::CanI(a) => can_i(a),
        Command::WhoCan(a) => who_can(a),
        Command::AccessMatrix(a) => access_matrix(a),
        Command::Risks(a) => risks(a),
        Command::Paths(a) => paths(a),
    }
}

/// The objects and the policy they define. Input errors are printed and the valid objects
/// still count; the returned flag says there were errors (exit 2 unless the answer is "no").
///
/// `namespace` (the command's `-n`) is also the namespace of namespaced objects that name none,
/// as `kubectl apply -n` would put them.
fn load(
    input: &Input,
    namespace: Option<&str>,
) -> anyhow::Result<(Vec<rampart_manifest::Object>, Policy, bool)> {
    let paths: Vec<PathBuf> = input.paths.iter().chain(&input.files).cloned().collect();
    if paths.is_empty() {
        bail!("no input: give files or directories (or -f PATH), or `-` for stdin");
    }
    let mut loaded = rampart_manifest::load_paths(&paths);
    if let Some(ns) = namespace {
        rampart_manifest::set_default_namespace(&mut loaded.objects, ns);
    }
    let bad = super::input::report_errors(&loaded.errors);
    let policy = Policy::from_objects(
        &loaded.objects,
        Options {
            bootstrap: !input.no_bootstrap,
        },
    );
    let mut err = std::io::stderr().lock();
    for p in &policy.problems {
        let _ = writeln!(err, "warning: {p}");
    }
    Ok((loaded.objects, policy, bad))
}

/// 2 when the input had errors and nothing else decided the exit status.
fn with_input_errors(code: ExitCode, bad: bool) -> ExitCode {
    if bad && code == ExitCode::SUCCESS {
        ExitCode::from(2)
    } else {
        code
    }
}

const SUBRESOURCES: &[&str] = &[
    "log",
    "exec",
    "attach",
    "portforward",
    "proxy",
    "status",
    "scale",
    "eviction",
    "token",
    "binding",
    "approval",
    "ephemeralcontainers",
    "resize",
    "finalize",
    "rollback",
];

/// Build the request. `sub_heuristic`: read `TYPE/X` as a subresource when X is a known one.
fn request(t: &Target, sub_heuristic: bool) -> anyhow::Result<Request> {
    if t.target.starts_with('/') {
        return Ok(Request::non_resource(&t.verb, &t.target));
    }
    let (ty, rest) = match t.target.split_once('/') {
        Some((a, b)) => (a, b),
        None => (t.target.as_str(), ""),
    };
    let (mut name, mut sub) = (rest.to_string(), t.subresource.clone().unwrap_or_default());
    if sub_heuristic && sub.is_empty() && SUBRESOURCES.contains(&rest) {
        sub = rest.to_string();
        name = String::new();
    }
    let (group, resource, namespaced) = match resources::resolve(ty) {
        Ok(r) => (r.group.to_string(), r.resource.to_string(), r.namespaced),
        Err(e) => {
            eprintln!("Warning: {e}");
            match ty.split_once('.') {
                Some((r, g)) => (g.to_string(), r.to_string(), true),
                None => (String::new(), ty.to_string(), true),
            }
        }
    };
    let ns = if !namespaced || t.all_namespaces {
        String::new()
    } else {
        t.namespace.clone().unwrap_or_else(|| "default".to_string())
    };
    Ok(Request::resource(
        &t.verb, &ns, &group, &resource, &sub, &name,
    ))
}

fn can_i(a: CanIArgs) -> anyhow::Result<ExitCode> {
    let (_, policy, bad) = load(&a.input, a.target.namespace.as_deref())?;
    let req = request(&a.target, false)?;
    let user = UserInfo::new(&a.as_user, &a.as_group);
    let grant = policy.authorize(&user, &req);
    if !a.quiet {
        let mut out = std::io::stdout().lock();
        match grant {
            Some(g) => {
                writeln!(out, "yes")?;
                if a.explain {
                    writeln!(out, "via {}", policy.describe_grant(&g))?;
                }
            }
            None => writeln!(out, "no")?,
        }
    }
    Ok(with_input_errors(
        if grant.is_some() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
        bad,
    ))
}

fn who_can(a: WhoCanArgs) -> anyhow::Result<ExitCode> {
    let (_, policy, bad) = load(&a.input, a.target.namespace.as_deref())?;
    let req = request(&a.target, true)?;
    let found = policy.who_can(&req);
    let mut out = std::io::stdout().lock();
    match a.format {
        TableFormat::Json => {
            let subjects: Vec<_> = found
                .iter()
                .map(|(s, grants)| WhoCanSubject {
                    subject: JsonSubject::new(s),
                    via: grants.iter().map(|g| policy.describe_grant(g)).collect(),
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &WhoCanDocument { subjects })?;
            writeln!(out)?;
        }
        TableFormat::Text => {
            if found.is_empty() {
                writeln!(out, "No subjects found")?;
            } else {
                let policy = &policy;
                let rows: Vec<[String; 4]> = found
                    .iter()
                    .flat_map(|(s, grants)| {
                        grants.iter().map(move |g| {
                            [
                                s.kind.as_str().to_string(),
                                s.name.clone(),
                                s.namespace.clone(),
                                policy.describe_grant(g),
                            ]
                        })
                    })
                    .collect();
                table(&mut out, ["KIND", "NAME", "NAMESPACE", "VIA"], &rows)?;
            }
        }
    }
    Ok(with_input_errors(ExitCode::SUCCESS, bad))
}

fn table<const N: usize>(
    out: &mut dyn Write,
    head: [&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut width = head.map(str::len);
    for r in rows {
        for (w, c) in width.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let n = cells.len();
        let mut s = String::new();
        for (i, (c, w)) in cells.into_iter().zip(width.iter()).enumerate() {
            if i + 1 == n {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = *w));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

const MATRIX_VERBS: [&str; 8] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn access_matrix(a: MatrixArgs) -> anyhow::Result<ExitCode> {
    let (_, policy, bad) = load(&a.input, a.namespace.as_deref())?;
    let user = UserInfo::new(&a.as_user, &a.as_group);
    let mut rows = Vec::new();
    for r in resources::all() {
        let ns = match (&a.namespace, r.namespaced) {
            (Some(ns), true) => ns.clone(),
            (Some(_), false) => continue,
            (None, _) => String::new(),
        };
        let allowed: Vec<bool> = MATRIX_VERBS
            .iter()
            .map(|v| {
                policy
                    .authorize(
                        &user,
                        &Request::resource(v, &ns, r.group, r.resource, "", ""),
                    )
                    .is_some()
            })
            .collect();
        if a.only_allowed && !allowed.iter().any(|x| *x) {
            continue;
        }
        let name = if r.group.is_empty() {
            r.resource.to_string()
        } else {
            format!("{}.{}", r.resource, r.group)
        };
        rows.push((name, allowed));
    }
    rows.sort();
    let mut out = std::io::stdout().lock();
    match a.format {
        TableFormat::Json => {
            let doc = MatrixDocument {
                user: &a.as_user,
                namespace: a.namespace.as_deref(),
                resources: rows
                    .iter()
                    .map(|(name, allowed)| MatrixRow {
                        resource: name,
                        verbs: MatrixVerbs(allowed),
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        TableFormat::Text => {
            let body: Vec<[String; 9]> = rows
                .iter()
                .map(|(name, allowed)| {
                    let mut row: [String; 9] = Default::default();
                    for (cell, (i, x)) in row.iter_mut().zip(
                        std::iter::once((0, &false))
                            .chain(allowed.iter().enumerate().map(|(i, x)| (i + 1, x))),
                    ) {
                        *cell = if i == 0 {
                            name.clone()
                        } else if *x {
                            "yes".to_string()
                        } else {
                            "no".to_string()
                        };
                    }
                    row
                })
                .collect();
            table(
                &mut out,
                [
                    "NAME",
                    "GET",
                    "LIST",
                    "WATCH",
                    "CREATE",
                    "UPDATE",
                    "PATCH",
                    "DELETE",
                    "DELETECOLLECTION",
                ],
                &body,
            )?;
        }
    }
    Ok(with_input_errors(ExitCode::SUCCESS, bad))
}

fn risks(a: RisksArgs) -> anyhow::Result<ExitCode> {
    let (_, policy, bad) = load(&a.input, None)?;
    let found = rampart_rbac::risks(&policy);
    let mut out = std::io::stdout().lock();
    match a.format {
        TableFormat::Json => {
            let risks: Vec<_> = found
                .iter()
                .map(|r| {
                    let b = policy.binding(r.binding);
                    JsonRisk {
                        check: r.capability.slug(),
                        severity: r.severity,
                        subject: JsonSubject::new(&r.subject),
                        scope: r.namespace.as_deref().unwrap_or("cluster"),
                        binding: b.map(|b| b.describe()),
                        role: b.map(|b| b.role_ref()),
                        rule: policy.describe_rule(r.rule).trim().to_string(),
                        message: &r.message,
                        location: r.location.as_ref(),
                    }
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &RisksDocument { risks })?;
            writeln!(out)?;
        }
        TableFormat::Text => {
            for r in &found {
                let loc = r
                    .location
                    .as_ref()
                    .map(|l| format!("{}:{}:{}: ", l.file, l.line, l.column))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{loc}{} [{}] {}",
                    r.severity,
                    r.capability.slug(),
                    r.message
                )?;
            }
            let kind_count = |k: RoleKindBinding| {
                found
                    .iter()
                    .filter(|r| policy.binding(r.binding).is_some_and(|b| b.kind == k))
                    .count()
            };
            writeln!(
                out,
                "{} risky grants ({} via ClusterRoleBindings, {} via RoleBindings)",
                found.len(),
                kind_count(RoleKindBinding::ClusterRoleBinding),
                kind_count(RoleKindBinding::RoleBinding)
            )?;
        }
    }
    Ok(with_input_errors(
        if found.iter().any(|r| r.severity >= a.fail_on) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
        bad,
    ))
}

fn paths(a: PathsArgs) -> anyhow::Result<ExitCode> {
    let (objects, policy, bad) = load(&a.input, None)?;
    let graph = PathGraph::build(&objects, &policy);
    let found = graph.shortest_paths();
    let mut out = std::io::stdout().lock();
    match a.format {
        PathFormat::Json => {
            let paths: Vec<_> = found
                .iter()
                .map(|p| JsonPath {
                    seed: &p.seed,
                    target: p.target.as_str(),
                    location: p.location.as_ref(),
                    steps: &p.steps,
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &PathsDocument { paths })?;
            writeln!(out)?;
        }
        PathFormat::Dot => out
            .write_all(render_dot(&found).as_bytes())
            .context("writing DOT")?,
        PathFormat::Mermaid => out
            .write_all(render_mermaid(&found).as_bytes())
            .context("writing Mermaid")?,
        PathFormat::Text => {
            if found.is_empty() {
                writeln!(out, "no escalation paths found")?;
            }
            for p in &found {
                let loc = p
                    .location
                    .as_ref()
                    .map(|l| format!(" ({}:{})", l.file, l.line))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}{loc} -> {} in {} steps",
                    p.seed,
                    p.target.as_str(),
                    p.steps.len()
                )?;
                for (i, s) in p.steps.iter().enumerate() {
                    writeln!(out, "  {}. {} => {}", i + 1, s.from, s.to)?;
                    writeln!(out, "       {}", s.via)?;
                }
            }
        }
    }
    Ok(with_input_errors(
        if found.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
        bad,
    ))
}

/// A subject as JSON: `namespace` is `null` unless it is a ServiceAccount's.
#[derive(serde::Serialize)]
struct JsonSubject<'a> {
    kind: &'static str,
    name: &'a str,
    namespace: Option<&'a str>,
}

impl<'a> JsonSubject<'a> {
    fn new(s: &'a rampart_rbac::Subject) -> Self {
        JsonSubject {
            kind: s.kind.as_str(),
            name: &s.name,
            namespace: (!s.namespace.is_empty()).then_some(s.namespace.as_str()),
        }
    }
}

/// `rbac who-can --format json`.
#[derive(serde::Serialize)]
struct WhoCanDocument<'a> {
    subjects: Vec<WhoCanSubject<'a>>,
}

#[derive(serde::Serialize)]
struct WhoCanSubject<'a> {
    #[serde(flatten)]
    subject: JsonSubject<'a>,
    via: Vec<String>,
}

/// `rbac access-matrix --format json`.
#[derive(serde::Serialize)]
struct MatrixDocument<'a> {
    user: &'a str,
    namespace: Option<&'a str>,
    resources: Vec<MatrixRow<'a>>,
}

#[derive(serde::Serialize)]
struct MatrixRow<'a> {
    resource: &'a str,
    verbs: MatrixVerbs<'a>,
}

/// `{"get": true, "list": false, …}` in [`MATRIX_VERBS`] order.
struct MatrixVerbs<'a>(&'a [bool]);

impl serde::Serialize for MatrixVerbs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(MATRIX_VERBS.iter().zip(self.0))
    }
}

/// `rbac risks --format json`.
#[derive(serde::Serialize)]
struct RisksDocument<'a> {
    risks: Vec<JsonRisk<'a>>,
}

#[derive(serde::Serialize)]
struct JsonRisk<'a> {
    check: &'static str,
    severity: rampart_core::Severity,
    subject: JsonSubject<'a>,
    scope: &'a str,
    binding: Option<String>,
    role: Option<String>,
    rule: String,
    message: &'a str,
    location: Option<&'a rampart_core::Location>,
}

/// `rbac paths --format json`.
#[derive(serde::Serialize)]
struct PathsDocument<'a> {
    paths: Vec<JsonPath<'a>>,
}

#[derive(serde::Serialize)]
struct JsonPath<'a> {
    seed: &'a str,
    target: &'static str,
    location: Option<&'a rampart_core::Location>,
    steps: &'a [rampart_rbac::paths::Step],
}
