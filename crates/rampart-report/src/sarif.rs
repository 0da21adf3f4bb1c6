//! SARIF 2.1.0, shaped for GitHub code scanning.

use crate::{Ctx, RuleMeta};
use rampart_core::{Finding, Severity};
use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

pub(crate) const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub(crate) fn render(ctx: &Ctx, out: &mut impl Write) -> io::Result<()> {
    // Secret values reach no SARIF string: messages are masked, nothing else carries values.
    serde_json::to_writer_pretty(&mut *out, &build(ctx))?;
    out.write_all(b"\n")
}

/// Text that is not a finding's own: identifiers, documentation, positions — never masked.
fn red(_ctx: &Ctx, s: &str) -> String {
    s.to_string()
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn result_level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

/// GitHub's `security-severity` score: it buckets >= 9.0 critical, >= 7.0 high, >= 4.0 medium.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn build(ctx: &Ctx) -> Sarif {
    let report = ctx.report;
    // Rules: the catalog, plus any check that fired without being in it, so every ruleId
    // resolves.
    let mut rules: Vec<ReportingDescriptor> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in report.rules {
        if !index.contains_key(r.slug.as_str()) {
            index.insert(r.slug.as_str(), rules.len());
            rules.push(rule(ctx, r));
        }
    }
    for f in &ctx.sorted {
        if !index.contains_key(f.check.as_str()) {
            index.insert(f.check.as_str(), rules.len());
            rules.push(rule(
                ctx,
                &RuleMeta {
                    slug: f.check.clone(),
                    severity: f.severity,
                    summary: f.check.clone(),
                    help_markdown: String::new(),
                    cis: Vec::new(),
                },
            ));
        }
    }
    let results: Vec<SarifResult> = ctx
        .sorted
        .iter()
        .map(|f| result(ctx, f, index.get(f.check.as_str()).copied()))
        .collect();
    let notifications: Vec<Notification> = report
        .errors
        .iter()
        .map(|e| {
            let loc = location(ctx, &e.file, e.line, e.column);
            Notification::builder()
                .level(json!("error"))
                .message(Message::builder().text(red(ctx, &e.message)).build())
                .locations(vec![loc])
                .build()
        })
        .collect();
    let invocation = Invocation::builder()
        .execution_successful(report.errors.is_empty())
        .tool_execution_notifications(notifications)
        .build();
    let driver = ToolComponent::builder()
        .name("rampart")
        .full_name(format!("rampart {}", report.tool_version))
        .version(report.tool_version)
        .semantic_version(report.tool_version)
        .rules(rules)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .invocations(vec![invocation])
        .column_kind(json!("unicodeCodePoints"))
        .build();
    Sarif::builder()
        .schema(SCHEMA_URI)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

fn rule(ctx: &Ctx, r: &RuleMeta) -> ReportingDescriptor {
    let summary = if r.summary.is_empty() {
        r.slug.clone()
    } else {
        red(ctx, &r.summary)
    };
    let full = first_paragraph(&r.help_markdown).map_or_else(|| summary.clone(), |p| red(ctx, &p));
    let help_md = if r.help_markdown.is_empty() {
        summary.clone()
    } else {
        red(ctx, &r.help_markdown)
    };
    let mut extra = BTreeMap::new();
    extra.insert(
        "security-severity".to_string(),
        json!(security_severity(r.severity)),
    );
    extra.insert("precision".to_string(), json!("high"));
    extra.insert(
        "problem.severity".to_string(),
        json!(level_problem(r.severity)),
    );
    ReportingDescriptor::builder()
        .id(r.slug.clone())
        .name(pascal_case(&r.slug))
        .short_description(MultiformatMessageString::builder().text(summary).build())
        .full_description(MultiformatMessageString::builder().text(full).build())
        .help(
            MultiformatMessageString::builder()
                .text(help_md.clone())
                .markdown(help_md)
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level(r.severity)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(vec!["security".to_string()])
                .additional_properties(extra)
                .build(),
        )
        .build()
}

/// GitHub's non-security severity vocabulary (`error`, `warning`, `recommendation`).
fn level_problem(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "recommendation",
    }
}

fn result(ctx: &Ctx, f: &Finding, rule_index: Option<usize>) -> SarifResult {
    let loc = f.location.as_ref();
    let mut props = BTreeMap::new();
    if let Some(t) = loc.and_then(|l| l.template.as_deref()) {
        props.insert("template".to_string(), json!(red(ctx, t)));
    }
    if let Some(l) = loc {
        props.insert("pointer".to_string(), json!(red(ctx, &l.pointer)));
    }
    if let Some(o) = &f.object {
        props.insert(
            "object".to_string(),
            serde_json::to_value(crate::json::JsonObject::new(o)).unwrap_or_default(),
        );
    }
    props.insert("severity".to_string(), json!(f.severity.as_str()));
    if let Some(r) = &f.remediation {
        props.insert("remediation".to_string(), json!(red(ctx, r)));
    }
    let file = ctx.file_of(f);
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(
        "rampartFinding/v1".to_string(),
        fingerprint(f, file.unwrap_or_default()),
    );
    let b = SarifResult::builder()
        .rule_id(f.check.clone())
        .level(result_level(f.severity))
        .message(
            Message::builder()
                .text(crate::redact::Redactor::message(f, &f.message).into_owned())
                .build(),
        )
        .partial_fingerprints(fingerprints)
        .properties(PropertyBag::builder().additional_properties(props).build());
    let locations = match file {
        Some(file) => {
            vec![location(
                ctx,
                file,
                loc.map_or(0, |l| l.line),
                loc.map_or(0, |l| l.column),
            )]
        }
        None => Vec::new(),
    };
    let mut r = b.locations(locations).build();
    r.rule_index = rule_index.and_then(|i| i64::try_from(i).ok());
    r
}

fn location(ctx: &Ctx, file: &str, line: u32, column: u32) -> Location {
    let artifact = ArtifactLocation::builder()
        .uri(uri(&red(ctx, file)))
        .build();
    let mut physical = PhysicalLocation::builder()
        .artifact_location(artifact)
        .build();
    if line > 0 {
        let mut region = Region::builder().start_line(i64::from(line)).build();
        if column > 0 {
            region.start_column = Some(i64::from(column));
        }
        physical.region = Some(region);
    }
    Location::builder().physical_location(physical).build()
}

/// A file name as a URI reference: relative paths stay relative (GitHub resolves them against
/// the repository root), absolute ones become `file://` URIs; reserved bytes are percent-encoded.
pub(crate) fn uri(file: &str) -> String {
    let path = file.replace('\\', "/");
    let mut path = path.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    let is_drive = path.as_bytes().get(1) == Some(&b':')
        && path.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    let mut out = String::with_capacity(path.len() + 8);
    if path.starts_with('/') {
        out.push_str("file://");
    } else if is_drive {
        out.push_str("file:///");
    }
    for (i, b) in path.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
            || (is_drive && i == 1);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A stable identity for a finding that survives lines moving: check, file, object and field.
fn fingerprint(f: &Finding, file: &str) -> String {
    let mut h = Fnv::default();
    h.write(f.check.as_bytes());
    h.write(file.as_bytes());
    if let Some(o) = &f.object {
        for part in [
            &o.api_version,
            &o.kind,
            o.namespace.as_deref().unwrap_or(""),
            &o.name,
        ] {
            h.write(part.as_bytes());
        }
    }
    if let Some(l) = &f.location {
        h.write(l.pointer.as_bytes());
    }
    format!("{:016x}", h.0)
}

/// 64-bit FNV-1a (stable across Rust versions, unlike `DefaultHasher`).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(std::iter::once(&0xff)) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn pascal_case(slug: &str) -> String {
    slug.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The first prose paragraph of a Markdown document (headings skipped), as one line.
fn first_paragraph(md: &str) -> Option<String> {
    let mut para: Vec<&str> = Vec::new();
    for line in md.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            if para.is_empty() {
                continue;
            }
            break;
        }
        para.push(line);
    }
    (!para.is_empty()).then(|| para.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(uri("./deploy/app one.yaml"), "deploy/app%20one.yaml");
        assert_eq!(uri("deploy\\a.yaml"), "deploy/a.yaml");
        assert_eq!(uri("/abs/x#y.yaml"), "file:///abs/x%23y.yaml");
        assert_eq!(uri("C:\\x\\y.yaml"), "file:///C:/x/y.yaml");
    }

    #[test]
    fn names_and_paragraphs() {
        assert_eq!(pascal_case("run-as-root"), "RunAsRoot");
        assert_eq!(
            first_paragraph("## What it does\nFlags a\nthing.\n\n## Why").as_deref(),
            Some("Flags a thing.")
        );
        assert_eq!(first_paragraph("## Only heading"), None);
    }
}
