//! rampart's JSON document. Serialized straight from borrowed, redacted views of the findings:
//! no intermediate `serde_json::Value` tree.

use crate::Ctx;
use rampart_core::{Finding, InputError, ObjectRef};
use rayon::prelude::*;
use serde::ser::{Serialize, Serializer};
use std::borrow::Cow;
use std::io::{self, Write};

pub(crate) const SCHEMA_VERSION: &str = "1";

/// Findings serialized per batch, each batch in parallel: large scans have hundreds of
/// thousands, and writing them one after the other was a sixth of a scan's time.
const BATCH: usize = 16 * 1024;

/// Writes the document as `serde_json::to_writer_pretty` would, byte for byte, but renders the
/// findings in parallel.
pub(crate) fn render(ctx: &Ctx, out: &mut impl Write) -> io::Result<()> {
    let report = ctx.report;
    out.write_all(b"{\n  \"schemaVersion\": ")?;
    serde_json::to_writer(&mut *out, SCHEMA_VERSION)?;
    out.write_all(b",\n  \"tool\": ")?;
    let version = Cow::Borrowed(report.tool_version);
    nested(
        out,
        &Tool {
            name: "rampart",
            version: &version,
        },
        1,
    )?;
    out.write_all(b",\n  \"findings\": ")?;
    if ctx.sorted.is_empty() {
        out.write_all(b"[]")?;
    } else {
        out.write_all(b"[")?;
        const CHUNK: usize = BATCH / 16;
        for (b, batch) in ctx.sorted.chunks(BATCH).enumerate() {
            let parts: Vec<io::Result<Vec<u8>>> = batch
                .par_chunks(CHUNK)
                .enumerate()
                .map(|(c, chunk)| {
                    let mut buf = Vec::with_capacity(chunk.len() * 768);
                    for (i, f) in chunk.iter().enumerate() {
                        let first = b == 0 && c == 0 && i == 0;
                        buf.extend_from_slice(if first { b"\n    " } else { b",\n    " });
                        nested(&mut buf, &JsonFinding::new(ctx, f), 2)?;
                    }
                    Ok(buf)
                })
                .collect();
            for part in parts {
                out.write_all(&part?)?;
            }
        }
        out.write_all(b"\n  ]")?;
    }
    out.write_all(b",\n  \"errors\": ")?;
    nested(out, &Errors(ctx), 1)?;
    out.write_all(b",\n  \"summary\": ")?;
    nested(out, &crate::view::Totals::new(ctx), 1)?;
    out.write_all(b"\n}\n")
}

/// Writes `value` pretty-printed as it appears `depth` levels deep in the document: what
/// `serde_json::to_writer_pretty` writes, with every line after the first indented by `depth`
/// more levels of two spaces.
fn nested(out: &mut impl Write, value: &impl Serialize, depth: usize) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Nested::at(depth));
    value.serialize(&mut ser)?;
    Ok(())
}

/// serde_json's pretty formatter (two-space indent) starting at an indentation depth.
struct Nested {
    depth: usize,
    has_value: bool,
}

impl Nested {
    fn at(depth: usize) -> Self {
        Nested {
            depth,
            has_value: false,
        }
    }

    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// `[` or `{`: one level deeper, nothing in it yet.
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// `]` or `}`: on its own line when the collection holds anything.
    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(bracket)
    }

    /// Before a list item or a map key: a comma after the first, then a new line.
    fn item<W: ?Sized + Write>(&self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// The document with `--summary`: the totals, counts by check and the worst objects in
/// `summary`, and no `findings`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryDocument<'c, 'r, 'a> {
    schema_version: &'static str,
    tool: Tool<'c>,
    summary: crate::view::Summary<'c>,
    errors: Errors<'c, 'r, 'a>,
}

pub(crate) fn render_summary(ctx: &Ctx, out: &mut impl Write) -> io::Result<()> {
    let doc = SummaryDocument {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "rampart",
            version: ctx.report.tool_version,
        },
        summary: crate::view::Summary::new(ctx),
        errors: Errors(ctx),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

#[derive(serde::Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

struct Errors<'c, 'r, 'a>(&'c Ctx<'r, 'a>);

impl Serialize for Errors<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ctx = self.0;
        s.collect_seq(ctx.report.errors.iter().map(JsonError::new))
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
    fn new(e: &'a InputError) -> Self {
        JsonError {
            file: Cow::Borrowed(&e.file),
            line: e.line,
            column: e.column,
            message: Cow::Borrowed(&e.message),
        }
    }
}

/// An object reference as JSON: `namespace` is `null` for cluster-scoped objects.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JsonObject<'a> {
    api_version: Cow<'a, str>,
    kind: Cow<'a, str>,
    namespace: Option<Cow<'a, str>>,
    name: Cow<'a, str>,
}

impl<'a> JsonObject<'a> {
    pub(crate) fn new(o: &'a ObjectRef) -> Self {
        JsonObject {
            api_version: Cow::Borrowed(&o.api_version),
            kind: Cow::Borrowed(&o.kind),
            namespace: o.namespace.as_deref().map(Cow::Borrowed),
            name: Cow::Borrowed(&o.name),
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
    /// CIS Kubernetes Benchmark items, e.g. `["1.2.1"]`.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    cis: &'a [String],
}

impl<'a> JsonFinding<'a> {
    fn new(ctx: &'a Ctx, f: &'a Finding) -> Self {
        let loc = f.location.as_ref();
        JsonFinding {
            check: &f.check,
            severity: f.severity.as_str(),
            message: crate::redact::Redactor::message(f, &f.message),
            object: f.object.as_deref().map(JsonObject::new),
            file: ctx.file_of(f).map(Cow::Borrowed),
            line: loc.map(|l| l.line),
            column: loc.map(|l| l.column),
            pointer: loc.map(|l| Cow::Borrowed(l.pointer.as_str())),
            template: loc.and_then(|l| l.template.as_deref()).map(Cow::Borrowed),
            remediation: f.remediation.as_deref().map(Cow::Borrowed),
            references: f
                .references
                .iter()
                .map(|t| Cow::Borrowed(t.as_str()))
                .collect(),
            cis: ctx.cis_of(f),
        }
    }
}
