//! rampart's JSON document. Serialized straight from borrowed, redacted views of the findings:
//! no intermediate `serde_json::Value` tree.

use crate::Ctx;
use rampart_core::{Finding, InputError, ObjectRef};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::borrow::Cow;
use std::io::{self, Write};

pub(crate) const SCHEMA_VERSION: &str = "1";

pub(crate) fn render(ctx: &Ctx, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Doc(ctx))?;
    out.write_all(b"\n")
}

struct Doc<'c, 'r, 'a>(&'c Ctx<'r, 'a>);

impl Serialize for Doc<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ctx = self.0;
        let report = ctx.report;
        let r = |t: &'_ str| ctx.redactor.apply(t).into_owned();
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("schemaVersion", SCHEMA_VERSION)?;
        m.serialize_entry(
            "tool",
            &Tool {
                name: "rampart",
                version: &r(report.tool_version),
            },
        )?;
        m.serialize_entry("findings", &Findings(ctx))?;
        m.serialize_entry("errors", &Errors(ctx))?;
        let mut by_severity = serde_json::Map::new();
        for (sev, n) in ctx.by_severity() {
            by_severity.insert(sev.as_str().to_string(), n.into());
        }
        m.serialize_entry(
            "summary",
            &serde_json::json!({
                "total": ctx.sorted.len(),
                "bySeverity": by_severity,
                "objects": report.objects.len(),
                "errors": report.errors.len(),
                "failOn": report.fail_on.as_str(),
                "failing": ctx.failing(),
            }),
        )?;
        m.end()
    }
}

#[derive(serde::Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

struct Findings<'c, 'r, 'a>(&'c Ctx<'r, 'a>);

impl Serialize for Findings<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ctx = self.0;
        s.collect_seq(ctx.sorted.iter().map(|f| JsonFinding::new(ctx, f)))
    }
}

struct Errors<'c, 'r, 'a>(&'c Ctx<'r, 'a>);

impl Serialize for Errors<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ctx = self.0;
        s.collect_seq(ctx.report.errors.iter().map(|e| JsonError::new(ctx, e)))
    }
}

#[derive(serde::Serialize)]
struct JsonError<'a> {
    file: Cow<'a, str>,
    line: u32,
    column: u32,
    message: Cow<'a, str>,
}

impl<'a> JsonError<'a> {
    fn new(ctx: &'a Ctx, e: &'a InputError) -> Self {
        let r = &ctx.redactor;
        JsonError {
            file: r.apply(&e.file),
            line: e.line,
            column: e.column,
            message: r.apply(&e.message),
        }
    }
}

/// An object reference as JSON: `namespace` is `null` for cluster-scoped objects.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JsonObject<'a> {
    api_version: Cow<'a, str>,
    kind: Cow<'a, str>,
    namespace: Option<Cow<'a, str>>,
    name: Cow<'a, str>,
}

impl<'a> JsonObject<'a> {
    pub(crate) fn new(ctx: &'a Ctx, o: &'a ObjectRef) -> Self {
        let r = &ctx.redactor;
        JsonObject {
            api_version: r.apply(&o.api_version),
            kind: r.apply(&o.kind),
            namespace: o.namespace.as_deref().map(|n| r.apply(n)),
            name: r.apply(&o.name),
        }
    }
}

#[derive(serde::Serialize)]
struct JsonFinding<'a> {
    check: &'a str,
    severity: &'static str,
    message: Cow<'a, str>,
    object: Option<JsonObject<'a>>,
    file: Option<Cow<'a, str>>,
    line: Option<u32>,
    column: Option<u32>,
    pointer: Option<Cow<'a, str>>,
    template: Option<Cow<'a, str>>,
    remediation: Option<Cow<'a, str>>,
    references: Vec<Cow<'a, str>>,
}

impl<'a> JsonFinding<'a> {
    fn new(ctx: &'a Ctx, f: &'a Finding) -> Self {
        let r = &ctx.redactor;
        let loc = f.location.as_ref();
        JsonFinding {
            check: &f.check,
            severity: f.severity.as_str(),
            message: r.apply(&f.message),
            object: f.object.as_ref().map(|o| JsonObject::new(ctx, o)),
            file: ctx.file_of(f).map(|file| r.apply(file)),
            line: loc.map(|l| l.line),
            column: loc.map(|l| l.column),
            pointer: loc.map(|l| r.apply(&l.pointer)),
            template: loc.and_then(|l| l.template.as_deref()).map(|t| r.apply(t)),
            remediation: f.remediation.as_deref().map(|t| r.apply(t)),
            references: f.references.iter().map(|t| r.apply(t)).collect(),
        }
    }
}
