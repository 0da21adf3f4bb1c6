//! rampart's report emitters: one per output format (text, json, sarif, junit).
//!
//! Every analyzer produces [`Finding`]s; every command hands them, with the input errors, the
//! rule catalog and the objects it checked, to [`render`]. Secret values listed in a finding's
//! `redact` are masked in everything written, whatever the format.
//!
//! ```
//! use rampart_core::{Finding, Location, ObjectRef, Severity};
//! use rampart_report::{render, Format, Report, RuleMeta};
//! use std::sync::Arc;
//!
//! let mut finding = Finding::new("hardcoded-secret-in-env", Severity::High, "env var TOKEN holds a literal token")
//!     .with_location(Location { file: "pod.yaml".into(), line: 3, column: 12, pointer: "/spec".into(), template: None });
//! finding.redact.push("ghp_abcdefghijklmnop".into());
//! let source: Arc<str> = "kind: Pod\nenv:\n  - value: ghp_abcdefghijklmnop\n".into();
//! let sources = move |file: &str| (file == "pod.yaml").then(|| source.clone());
//! let rules = [RuleMeta {
//!     slug: "hardcoded-secret-in-env".into(),
//!     severity: Severity::High,
//!     summary: "an env var holds a literal credential".into(),
//!     help_markdown: "## What it does\n...".into(),
//!     cis: Vec::new(),
//! }];
//! let report = Report {
//!     findings: std::slice::from_ref(&finding),
//!     errors: &[],
//!     rules: &rules,
//!     objects: &[],
//!     sources: &sources,
//!     tool_version: "0.1.0",
//!     fail_on: Severity::High,
//! };
//! for format in Format::ALL {
//!     let mut out = Vec::new();
//!     render(format, &report, &mut out, false).unwrap();
//!     let out = String::from_utf8(out).unwrap();
//!     assert!(!out.contains("ghp_abcdefghijklmnop"));
//! }
//! ```

mod json;
mod junit;
mod redact;
pub use junit::xml_escape;
pub use redact::SecretMasker;
mod sarif;
mod text;
mod view;

pub use view::{GroupBy, TOP_OBJECTS, View};

use rampart_core::{Finding, InputError, ObjectRef, Severity};
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;
use std::sync::Arc;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Human-readable, grouped by file, with source snippets.
    #[default]
    Text,
    /// rampart's JSON document (`schemaVersion` "1").
    Json,
    /// SARIF 2.1.0, as GitHub code scanning accepts it.
    Sarif,
    /// JUnit XML: one testcase per object and check.
    Junit,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Text, Format::Json, Format::Sarif, Format::Junit];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `txt` is the netpol analyzer's historical name for text
        let s = if s.eq_ignore_ascii_case("txt") {
            "text"
        } else {
            s
        };
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ReportError::UnknownFormat(s.to_string()))
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A format name that is not one of [`Format::ALL`].
    #[error("unknown format `{0}`, expected one of text, json, sarif, junit")]
    UnknownFormat(String),
    /// A grouping that is not one of [`GroupBy::ALL`].
    #[error("unknown grouping `{0}`, expected file or check")]
    UnknownGroupBy(String),
}

/// What a report needs to know about a check: SARIF rules and JUnit testcases are made of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    pub slug: String,
    pub severity: Severity,
    /// One line.
    pub summary: String,
    /// The check's full documentation, in Markdown.
    pub help_markdown: String,
    /// CIS Kubernetes Benchmark items the check covers (`1.2.1`), carried by each finding.
    pub cis: Vec<String>,
}

/// Everything one run produced, borrowed from the caller.
#[derive(Clone, Copy)]
pub struct Report<'a> {
    /// Sorted here by (file, line, column, check); findings without a location come last.
    pub findings: &'a [Finding],
    /// Inputs that could not be read.
    pub errors: &'a [InputError],
    /// The checks that ran (SARIF rules, JUnit testcases).
    pub rules: &'a [RuleMeta],
    /// Every object checked and the file it came from.
    pub objects: &'a [(std::sync::Arc<ObjectRef>, std::sync::Arc<str>)],
    /// A file name's text, for snippets (`None`: no snippet).
    pub sources: &'a (dyn Fn(&str) -> Option<Arc<str>> + Sync),
    pub tool_version: &'a str,
    /// The `--fail-on` threshold, reported in the summary.
    pub fail_on: Severity,
}

/// A `sources` that knows no file: reports without snippets.
pub fn no_sources(_file: &str) -> Option<Arc<str>> {
    None
}

/// Writes `report` in `format` to `out`, every finding. `color` is honoured by the text format
/// only.
pub fn render(format: Format, report: &Report, out: &mut dyn Write, color: bool) -> io::Result<()> {
    render_with(format, report, View::default(), out, color)
}

/// [`render`] in a [`View`]: a summary instead of every finding (text and json), findings grouped
/// by check (text). A view a format cannot show is an `InvalidInput` error, and nothing is written.
pub fn render_with(
    format: Format,
    report: &Report,
    view: View,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    let unsupported = |what: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} is not available in the {format} format"),
        ))
    };
    if view.summary && !matches!(format, Format::Text | Format::Json) {
        return unsupported("--summary");
    }
    if view.group_by != GroupBy::File && format != Format::Text {
        return unsupported("--group-by check");
    }
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let ctx = Ctx::new(report);
    match format {
        Format::Text if view.summary => text::render_summary(&ctx, &mut out, color)?,
        Format::Text => text::render(&ctx, &mut out, color, view.group_by)?,
        Format::Json if view.summary => json::render_summary(&ctx, &mut out)?,
        Format::Json => json::render(&ctx, &mut out)?,
        Format::Sarif => sarif::render(&ctx, &mut out)?,
        Format::Junit => junit::render(&ctx, &mut out)?,
    }
    out.flush()
}

/// What every emitter shares: the report, its findings in order, and the redactor.
pub(crate) struct Ctx<'r, 'a> {
    pub(crate) report: &'r Report<'a>,
    pub(crate) sorted: Vec<&'a Finding>,
    pub(crate) redactor: redact::Redactor,
    /// Object -> its file, for findings that carry no location.
    files: std::collections::HashMap<&'a ObjectRef, &'a str>,
    /// Slug -> CIS items, for the checks that have some.
    cis: std::collections::HashMap<&'a str, &'a [String]>,
}

impl<'r, 'a> Ctx<'r, 'a> {
    fn new(report: &'r Report<'a>) -> Self {
        let mut sorted: Vec<&'a Finding> = report.findings.iter().collect();
        fn key<'f>(f: &&'f Finding) -> (bool, (&'f str, u32, u32, &'f str)) {
            (f.location.is_none(), f.sort_key())
        }
        // callers usually hand findings over sorted already
        if !sorted.is_sorted_by(|a, b| key(a) <= key(b)) {
            sorted.sort_by(|a, b| key(a).cmp(&key(b)));
        }
        let files = if sorted.iter().any(|f| f.location.is_none()) {
            report
                .objects
                .iter()
                .rev()
                .map(|(o, file)| (&**o, &**file))
                .collect()
        } else {
            std::collections::HashMap::new()
        };
        let file_of_object = |f: &Finding| -> Option<String> {
            f.object
                .as_deref()
                .and_then(|o| files.get(o).map(|s| s.to_string()))
        };
        let redactor = redact::Redactor::new(report.findings, report.sources, &file_of_object);
        let cis = report
            .rules
            .iter()
            .filter(|r| !r.cis.is_empty())
            .map(|r| (r.slug.as_str(), r.cis.as_slice()))
            .collect();
        Ctx {
            report,
            sorted,
            redactor,
            files,
            cis,
        }
    }

    /// The CIS items of a finding's check.
    pub(crate) fn cis_of(&self, f: &Finding) -> &'a [String] {
        self.cis.get(f.check.as_str()).copied().unwrap_or(&[])
    }

    /// Counts per severity, in [`Severity::ALL`] order (critical first).
    pub(crate) fn by_severity(&self) -> [(Severity, usize); 5] {
        Severity::ALL.map(|s| (s, self.sorted.iter().filter(|f| f.severity == s).count()))
    }

    pub(crate) fn failing(&self) -> usize {
        self.sorted
            .iter()
            .filter(|f| f.severity >= self.report.fail_on)
            .count()
    }

    /// The file a finding is in: its location's, else the file of its object.
    pub(crate) fn file_of<'f>(&'f self, f: &'f Finding) -> Option<&'f str> {
        if let Some(l) = &f.location {
            return Some(&*l.file);
        }
        f.object.as_deref().and_then(|o| self.files.get(o).copied())
    }
}
