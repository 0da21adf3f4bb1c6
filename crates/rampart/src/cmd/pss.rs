//! `rampart pss`: evaluate pods and workload templates against the Pod Security Standards.

use anyhow::Context;
use rampart_core::{ObjectRef, Severity};
use rampart_manifest::Object;
use rampart_pss::{Level, NamespacePolicies, Policy, Version, Violation};
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Level to evaluate every object at: privileged, baseline or restricted. Without it, each
    /// object is judged by its Namespace's pod-security.kubernetes.io labels (enforce, audit,
    /// warn) when the Namespace is in the input, else by --default-level.
    #[arg(long)]
    pub level: Option<Level>,
    /// Policy version: latest, or v1.0 … v1.37.
    #[arg(long, default_value = "latest")]
    pub version: Version,
    /// Output format: text, json, sarif or junit.
    #[arg(long, short = 'o', default_value = "text")]
    pub format: rampart_report::Format,
    /// Level of namespaces (and modes) without pod-security labels, when --level is not given.
    #[arg(long, default_value = "baseline")]
    pub default_level: Level,
    #[command(flatten)]
    pub input: super::input::Input,
}

/// The verdict on one object in one mode.
struct Verdict {
    policy: Policy,
    violations: Vec<Violation>,
}

impl Verdict {
    fn allowed(&self) -> bool {
        self.violations.is_empty()
    }
}

struct Outcome<'a> {
    obj: &'a Object,
    /// With --level: the one verdict. Without: enforce, audit, warn.
    modes: Vec<(&'static str, Verdict)>,
    label_errors: &'a [String],
}

impl Outcome<'_> {
    fn enforced(&self) -> Option<&Verdict> {
        self.modes.first().map(|(_, v)| v)
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = args.input.load()?;
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for e in &loaded.errors {
        writeln!(err, "{e}")?;
    }
    for s in &loaded.skipped {
        writeln!(err, "{s} (skipped)")?;
    }

    let namespaces: HashMap<&str, NamespacePolicies> = if args.level.is_none() {
        let default = Policy::new(args.default_level, Version::Latest);
        loaded
            .objects
            .iter()
            .filter(|o| o.kind() == "Namespace" && o.group().is_empty())
            .map(|o| {
                let empty = serde_json::Map::new();
                (
                    o.name(),
                    rampart_pss::namespace_policies_with(o.labels().unwrap_or(&empty), default),
                )
            })
            .collect()
    } else {
        HashMap::new()
    };
    let default_ns = {
        let p = Policy::new(args.default_level, Version::Latest);
        NamespacePolicies {
            enforce: p,
            audit: p,
            warn: p,
            errors: Vec::new(),
        }
    };

    let mut outcomes = Vec::new();
    for obj in &loaded.objects {
        let Some(pod) = rampart_manifest::pod_spec(&obj.value) else {
            continue;
        };
        let eval = |policy: Policy| Verdict {
            policy,
            violations: rampart_pss::evaluate_pod(policy, pod.metadata, pod.spec, pod.pointer),
        };
        let outcome = match args.level {
            Some(level) => Outcome {
                obj,
                modes: vec![("enforce", eval(Policy::new(level, args.version)))],
                label_errors: &[],
            },
            None => {
                // Objects without a namespace land in `default` when applied.
                let ns = namespaces
                    .get(obj.namespace().unwrap_or("default"))
                    .unwrap_or(&default_ns);
                Outcome {
                    obj,
                    modes: vec![
                        ("enforce", eval(ns.enforce)),
                        ("audit", eval(ns.audit)),
                        ("warn", eval(ns.warn)),
                    ],
                    label_errors: &ns.errors,
                }
            }
        };
        outcomes.push(outcome);
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        rampart_report::Format::Json => write_json(&mut out, &outcomes)?,
        rampart_report::Format::Text => write_text(&mut out, &outcomes, args.level.is_none())?,
        format => write_report(&mut out, format, &outcomes, &loaded.errors)?,
    }
    out.flush().context("writing the report")?;

    if !loaded.errors.is_empty() {
        return Ok(ExitCode::from(2));
    }
    let rejected = outcomes
        .iter()
        .any(|o| o.enforced().is_some_and(|v| !v.allowed()));
    Ok(if rejected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `rampart pss --format json`: one result per pod or workload, as the conformance runner reads it.
#[derive(serde::Serialize)]
struct PssDocument<'a> {
    results: Vec<PssResult<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PssResult<'a> {
    file: &'a str,
    object: PssObject,
    line: u32,
    /// The enforced verdict.
    #[serde(flatten)]
    verdict: JsonVerdict<'a>,
    /// Judged by namespace labels: the verdict of each mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    modes: Option<Modes<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    label_errors: &'a [String],
}

/// An object reference with `namespace` `null` when cluster-scoped.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PssObject {
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

impl From<&ObjectRef> for PssObject {
    fn from(r: &ObjectRef) -> Self {
        PssObject {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }
}

#[derive(serde::Serialize)]
struct JsonVerdict<'a> {
    policy: String,
    allowed: bool,
    violations: &'a [Violation],
}

impl<'a> JsonVerdict<'a> {
    fn new(v: &'a Verdict) -> Self {
        JsonVerdict {
            policy: v.policy.to_string(),
            allowed: v.allowed(),
            violations: &v.violations,
        }
    }
}

/// `{"enforce": verdict, "audit": …, "warn": …}`.
struct Modes<'a>(&'a [(&'static str, Verdict)]);

impl serde::Serialize for Modes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(m, v)| (m, JsonVerdict::new(v))))
    }
}

fn write_json(out: &mut dyn Write, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let results: Vec<PssResult> = outcomes
        .iter()
        .filter_map(|o| {
            let per_mode = o.modes.len() > 1;
            Some(PssResult {
                file: &o.obj.file,
                object: (&*o.obj.object_ref()).into(),
                line: o.obj.pos.line,
                verdict: JsonVerdict::new(o.enforced()?),
                modes: per_mode.then_some(Modes(&o.modes)),
                label_errors: if per_mode { o.label_errors } else { &[] },
            })
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &PssDocument { results })?;
    writeln!(out)?;
    Ok(())
}

fn write_text(out: &mut dyn Write, outcomes: &[Outcome], per_mode: bool) -> anyhow::Result<()> {
    let mut rejected = 0;
    for o in outcomes {
        let r = o.obj.object_ref();
        let name = match &r.namespace {
            Some(ns) => format!("{} {ns}/{}", r.kind, r.name),
            None => format!("{} {}", r.kind, r.name),
        };
        if per_mode {
            for line in mode_lines(o, &name) {
                writeln!(out, "{line}")?;
            }
        } else {
            for (_, v) in o.modes.iter().filter(|(_, v)| !v.allowed()) {
                let loc = o.obj.location(first_pointer(&v.violations));
                writeln!(
                    out,
                    "{}:{}: {name}: {}",
                    loc.file,
                    loc.line,
                    rampart_pss::format_warning(v.policy, &v.violations)
                )?;
            }
        }
        if o.enforced().is_some_and(|v| !v.allowed()) {
            rejected += 1;
        }
        for e in o.label_errors {
            writeln!(
                out,
                "{}:{}: {name}: namespace label {e}",
                o.obj.file, o.obj.pos.line
            )?;
        }
    }
    writeln!(
        out,
        "{} object{} evaluated, {rejected} not allowed",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" }
    )?;
    Ok(())
}

fn first_pointer(violations: &[Violation]) -> &str {
    violations
        .first()
        .and_then(|x| x.pointers.first())
        .map_or("", String::as_str)
}

/// Judged by namespace labels: each violation once, at its field, with the modes it triggers
/// (`[enforce, audit, warn]`) and the policy of each when they differ.
fn mode_lines(o: &Outcome, name: &str) -> Vec<String> {
    // (violation, the modes and policies that report it), in the order first seen
    let mut seen: Vec<(&Violation, Vec<(&str, Policy)>)> = Vec::new();
    for (mode, verdict) in &o.modes {
        for v in &verdict.violations {
            let same = seen
                .iter_mut()
                .find(|(w, _)| w.check == v.check && w.reason == v.reason && w.detail == v.detail);
            match same {
                Some((_, modes)) => modes.push((mode, verdict.policy)),
                None => seen.push((v, vec![(mode, verdict.policy)])),
            }
        }
    }
    seen.into_iter()
        .map(|(v, modes)| {
            let loc = o.obj.location(first_pointer(std::slice::from_ref(v)));
            let names: Vec<&str> = modes.iter().map(|(m, _)| *m).collect();
            // one policy: `"restricted:latest"`; several: `"baseline:latest" (enforce), …`
            let mut by_policy: Vec<(Policy, Vec<&str>)> = Vec::new();
            for (m, p) in &modes {
                match by_policy.iter_mut().find(|(q, _)| q == p) {
                    Some((_, ms)) => ms.push(m),
                    None => by_policy.push((*p, vec![m])),
                }
            }
            let policies = match by_policy.as_slice() {
                [(p, _)] => format!("\"{p}\""),
                _ => by_policy
                    .iter()
                    .map(|(p, ms)| format!("\"{p}\" ({})", ms.join(", ")))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!(
                "{}:{}: [{}] {name}: would violate PodSecurity {policies}: {}",
                loc.file,
                loc.line,
                names.join(", "),
                rampart_pss::format_reasons(std::slice::from_ref(v)),
            )
        })
        .collect()
}

fn write_report(
    out: &mut dyn Write,
    format: rampart_report::Format,
    outcomes: &[Outcome],
    errors: &[rampart_core::InputError],
) -> anyhow::Result<()> {
    let mut findings = Vec::new();
    for o in outcomes {
        if let Some(v) = o.enforced() {
            findings.extend(rampart_pss::to_findings(v.policy, o.obj, &v.violations));
        }
    }
    let rules: Vec<rampart_report::RuleMeta> = rampart_pss::CHECKS
        .iter()
        .map(|c| rampart_report::RuleMeta {
            slug: rampart_pss::finding_slug(c.id),
            severity: rampart_pss::severity(c.id),
            summary: c.summary.to_string(),
            help_markdown: c.doc.to_string(),
            cis: Vec::new(),
        })
        .collect();
    let objects: Vec<_> = outcomes
        .iter()
        .map(|o| (o.obj.object_ref(), o.obj.file.clone()))
        .collect();
    let report = rampart_report::Report {
        findings: &findings,
        errors,
        rules: &rules,
        objects: &objects,
        sources: &rampart_report::no_sources,
        tool_version: env!("CARGO_PKG_VERSION"),
        fail_on: Severity::Medium,
    };
    rampart_report::render(format, &report, out, false)?;
    Ok(())
}
