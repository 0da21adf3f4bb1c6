//! Views of a report for a first look at a large one: a summary (counts by check and severity,
//! the objects with the worst findings) instead of every finding, and findings grouped by check
//! instead of by file.

use crate::json::JsonObject;
use crate::{Ctx, ReportError};
use rampart_core::{Finding, ObjectRef, Severity};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// Objects listed in a summary's `topObjects`.
pub const TOP_OBJECTS: usize = 10;

/// How the text format groups findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupBy {
    /// Under each file's heading, in file order (the default).
    #[default]
    File,
    /// Under each check's heading, worst check first.
    Check,
}

impl GroupBy {
    pub const ALL: [GroupBy; 2] = [GroupBy::File, GroupBy::Check];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::File => "file",
            GroupBy::Check => "check",
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GroupBy {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ReportError::UnknownGroupBy(s.to_string()))
    }
}

/// What to show of a report: every finding (the default) or a summary, and how text groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    /// Counts by check and severity and the objects with the worst findings, instead of every
    /// finding (text and json).
    pub summary: bool,
    /// Grouping of the text format's findings.
    pub group_by: GroupBy,
}

/// Counts per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct BySeverity {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

impl BySeverity {
    pub(crate) fn of<'f>(findings: impl IntoIterator<Item = &'f &'f Finding>) -> Self {
        let mut counts = BySeverity::default();
        for f in findings {
            counts.add(f.severity);
        }
        counts
    }

    fn add(&mut self, s: Severity) {
        let n = match s {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        };
        *n += 1;
    }

    /// Critical first.
    pub(crate) fn counts(&self) -> [(Severity, usize); 5] {
        [
            (Severity::Critical, self.critical),
            (Severity::High, self.high),
            (Severity::Medium, self.medium),
            (Severity::Low, self.low),
            (Severity::Info, self.info),
        ]
    }

    /// The counts from critical down: compared, the worse set of findings is the greater.
    fn rank(&self) -> [usize; 5] {
        self.counts().map(|(_, n)| n)
    }

    fn worst(&self) -> Option<Severity> {
        self.counts()
            .into_iter()
            .find(|&(_, n)| n > 0)
            .map(|(s, _)| s)
    }

    /// `1 critical, 2 high`: the non-zero counts.
    pub(crate) fn describe(&self) -> String {
        let parts: Vec<String> = self
            .counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        parts.join(", ")
    }
}

/// The totals every JSON document carries in `summary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Totals {
    pub(crate) total: usize,
    pub(crate) by_severity: BySeverity,
    pub(crate) objects: usize,
    pub(crate) errors: usize,
    pub(crate) fail_on: &'static str,
    pub(crate) failing: usize,
}

impl Totals {
    pub(crate) fn new(ctx: &Ctx) -> Self {
        Totals {
            total: ctx.sorted.len(),
            by_severity: BySeverity::of(&ctx.sorted),
            objects: ctx.report.objects.len(),
            errors: ctx.report.errors.len(),
            fail_on: ctx.report.fail_on.as_str(),
            failing: ctx.failing(),
        }
    }
}

/// `summary` with `--summary`: the totals, then counts by check and the worst objects.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary<'a> {
    #[serde(flatten)]
    pub(crate) totals: Totals,
    /// One entry per check and severity, worst severity first, then the most findings.
    pub(crate) by_check: Vec<CheckCount<'a>>,
    /// The objects with the worst findings (most critical, then most high, …), at most
    /// [`TOP_OBJECTS`].
    pub(crate) top_objects: Vec<ObjectCount<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CheckCount<'a> {
    pub(crate) check: &'a str,
    pub(crate) severity: Severity,
    pub(crate) findings: usize,
    /// Distinct objects among them.
    pub(crate) objects: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectCount<'a> {
    pub(crate) object: JsonObject<'a>,
    #[serde(skip)]
    pub(crate) object_ref: &'a ObjectRef,
    pub(crate) file: Option<&'a str>,
    pub(crate) findings: usize,
    pub(crate) worst: Severity,
    pub(crate) by_severity: BySeverity,
}

impl<'a> Summary<'a> {
    pub(crate) fn new(ctx: &'a Ctx) -> Self {
        let mut checks: HashMap<(&'a str, Severity), (usize, HashSet<&'a ObjectRef>)> =
            HashMap::new();
        let mut objects: HashMap<&'a ObjectRef, (Option<&'a str>, BySeverity)> = HashMap::new();
        for &f in &ctx.sorted {
            let entry = checks.entry((&f.check, f.severity)).or_default();
            entry.0 += 1;
            if let Some(o) = f.object.as_deref() {
                entry.1.insert(o);
                let (_, counts) = objects
                    .entry(o)
                    .or_insert((ctx.file_of(f), BySeverity::default()));
                counts.add(f.severity);
            }
        }
        let mut by_check: Vec<CheckCount> = checks
            .into_iter()
            .map(|((check, severity), (findings, objs))| CheckCount {
                check,
                severity,
                findings,
                objects: objs.len(),
            })
            .collect();
        by_check.sort_by(|a, b| {
            (b.severity, b.findings)
                .cmp(&(a.severity, a.findings))
                .then_with(|| a.check.cmp(b.check))
        });
        let mut top: Vec<(&ObjectRef, Option<&str>, BySeverity)> = objects
            .into_iter()
            .map(|(o, (file, counts))| (o, file, counts))
            .collect();
        top.sort_by(|a, b| {
            b.2.rank()
                .cmp(&a.2.rank())
                .then_with(|| a.1.cmp(&b.1))
                .then_with(|| object_key(a.0).cmp(&object_key(b.0)))
        });
        let top_objects = top
            .into_iter()
            .take(TOP_OBJECTS)
            .filter_map(|(o, file, counts)| {
                Some(ObjectCount {
                    object: JsonObject::new(o),
                    object_ref: o,
                    file,
                    findings: counts.rank().iter().sum(),
                    worst: counts.worst()?,
                    by_severity: counts,
                })
            })
            .collect();
        Summary {
            totals: Totals::new(ctx),
            by_check,
            top_objects,
        }
    }
}

fn object_key(o: &ObjectRef) -> (&str, Option<&str>, &str, &str) {
    (&o.kind, o.namespace.as_deref(), &o.name, &o.api_version)
}
