//! What a check is: its metadata (read from its doc comment) and the hooks the engine calls.

use crate::Config;
use crate::inventory::Inventory;
use rampart_core::{Field, Finding, Severity};
use rampart_manifest::{ContainerRef, Object, PodSpecRef};

/// A check's identity and documentation.
#[derive(Debug, Clone, Copy)]
pub struct CheckMeta {
    /// Stable slug, e.g. `privileged-container`.
    pub slug: &'static str,
    pub severity: Severity,
    /// One line for `rampart checks`.
    pub summary: &'static str,
    /// The check's doc comment, markdown: what it does, why, remediation, references.
    pub doc: &'static str,
}

impl CheckMeta {
    /// The documentation as markdown (doc-comment lines lose their leading space).
    pub fn markdown(&self) -> String {
        self.doc
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The `## <title>` section of the documentation, with wrapped lines joined.
    pub fn section(&self, title: &str) -> Option<String> {
        let md = self.markdown();
        let mut lines = md
            .lines()
            .skip_while(|l| l.trim() != format!("## {title}"))
            .skip(1)
            .take_while(|l| !l.starts_with("## "));
        let mut out = String::new();
        for l in lines.by_ref() {
            let t = l.trim_end();
            if t.starts_with("- ") && !out.is_empty() {
                out.push('\n');
            } else if !out.is_empty() && !t.is_empty() {
                out.push(' ');
            }
            out.push_str(t.trim_start());
        }
        let out = out.trim().to_string();
        (!out.is_empty()).then_some(out)
    }

    /// The bullet items of the `## References` section.
    pub fn references(&self) -> Vec<String> {
        self.section("References")
            .map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().strip_prefix("- ").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Declares a check struct whose doc comment becomes its `CheckMeta::doc`.
macro_rules! declare_check {
    (
        $(#[doc = $doc:expr])*
        $name:ident { slug: $slug:literal, severity: $sev:ident, summary: $summary:literal $(,)? }
    ) => {
        $(#[doc = $doc])*
        pub(crate) struct $name;

        impl $name {
            pub(crate) const META: $crate::check::CheckMeta = $crate::check::CheckMeta {
                slug: $slug,
                severity: rampart_core::Severity::$sev,
                summary: $summary,
                doc: concat!($($doc, "\n"),*),
            };
        }
    };
}
pub(crate) use declare_check;

/// What a per-object check sees.
pub(crate) struct ObjectContext<'a> {
    pub obj: &'a Object,
    pub pod: Option<PodSpecRef<'a>>,
    pub containers: Vec<ContainerRef<'a>>,
    pub config: &'a Config,
}

impl ObjectContext<'_> {
    pub fn kind(&self) -> &str {
        self.obj.kind()
    }

    /// Whether the object is `kind` in one of the API `groups` (`""` is the core group), so a
    /// CRD that reuses a built-in kind name is not mistaken for it.
    pub fn is(&self, groups: &[&str], kind: &str) -> bool {
        self.obj.kind() == kind && groups.contains(&self.obj.group())
    }

    /// Whether the object is a long-running workload (not a Job, CronJob or bare Job pod template).
    pub fn is_long_running(&self) -> bool {
        if matches!(self.kind(), "Job" | "CronJob") {
            return false;
        }
        let owned_by_job = || {
            self.obj
                .value
                .pointer("/metadata/ownerReferences")
                .and_then(|o| o.as_array())
                .is_some_and(|refs| {
                    refs.iter()
                        .any(|r| r.field("kind").and_then(|k| k.as_str()) == Some("Job"))
                })
        };
        self.kind() != "Pod" || !owned_by_job()
    }
}

/// A check. Per-object checks implement `check_object`; checks that need other objects
/// (a ServiceAccount, a PodDisruptionBudget) implement `check_inventory`.
pub(crate) trait Check: Sync + Send {
    fn meta(&self) -> &'static CheckMeta;

    fn check_object(&self, _cx: &ObjectContext<'_>, _out: &mut Emitter<'_>) {}

    fn check_inventory(&self, _inv: &Inventory<'_>, _out: &mut Emitter<'_>) {}
}

/// A check as configured: its severity and its documentation sections, extracted once.
pub(crate) struct Configured {
    pub check: &'static dyn Check,
    pub severity: Severity,
    pub remediation: Option<std::sync::Arc<str>>,
    pub references: std::sync::Arc<[String]>,
}

impl Configured {
    pub fn new(check: &'static dyn Check, severity: Severity) -> Self {
        let meta = check.meta();
        Configured {
            check,
            severity,
            remediation: meta.section("Remediation").map(Into::into),
            references: meta.references().into(),
        }
    }
}

/// Builds findings for one check, dropping those the object opts out of.
pub(crate) struct Emitter<'a> {
    pub check: &'a Configured,
    pub findings: &'a mut Vec<Finding>,
    /// Where findings suppressed by an ignore annotation go, so callers can still fill them in.
    pub discard: Option<Finding>,
}

impl<'a> Emitter<'a> {
    pub fn new(check: &'a Configured, findings: &'a mut Vec<Finding>) -> Self {
        Emitter {
            check,
            findings,
            discard: None,
        }
    }

    /// Reports a finding on `obj` at the field `pointer` (or its nearest existing ancestor).
    pub fn emit(&mut self, obj: &Object, pointer: &str, message: String) -> &mut Finding {
        let c = self.check;
        let mut f = Finding::new(c.check.meta().slug, c.severity, message)
            .with_object(obj.object_ref())
            .with_location(obj.location(pointer));
        f.remediation = c.remediation.clone();
        f.references = c.references.clone();
        if crate::is_ignored(obj, c.check.meta().slug) {
            return self.discard.insert(f);
        }
        self.findings.push(f);
        let last = self.findings.len() - 1;
        #[allow(clippy::indexing_slicing)] // just pushed
        &mut self.findings[last]
    }
}
