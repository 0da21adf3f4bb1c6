use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags objects with a `rampart.dev/ignore` annotation but no non-empty
/// `rampart.dev/ignore-reason`. Such an ignore has no effect.
///
/// ## Why is this bad?
/// An unexplained suppression is indistinguishable from hiding a problem; reviewers need the
/// reason.
///
/// ## Remediation
/// Add `rampart.dev/ignore-reason` explaining why the checks do not apply.
///
/// ## References
/// - rampart documentation: ignoring findings
    IgnoreWithoutReason { slug: "ignore-without-reason", severity: Low, summary: "A rampart ignore annotation has no reason" }
}

impl Check for IgnoreWithoutReason {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(ann) = cx.obj.annotations() else {
            return;
        };
        let Some(list) = ann.get(crate::IGNORE_ANNOTATION).and_then(|v| v.as_str()) else {
            return;
        };
        if ann
            .get(crate::IGNORE_REASON_ANNOTATION)
            .and_then(|v| v.as_str())
            .is_none_or(|r| r.trim().is_empty())
        {
            out.emit(
                cx.obj,
                &format!(
                    "/metadata/annotations/{}",
                    rampart_manifest::escape_segment(crate::IGNORE_ANNOTATION)
                ),
                format!(
                    "ignore of {list} has no {} annotation and is not applied",
                    crate::IGNORE_REASON_ANNOTATION
                ),
            );
        }
        for slug in list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*")
        {
            if !crate::is_known_slug(slug) {
                out.emit(
                    cx.obj,
                    &format!(
                        "/metadata/annotations/{}",
                        rampart_manifest::escape_segment(crate::IGNORE_ANNOTATION)
                    ),
                    format!("ignore names unknown check {slug}"),
                );
            }
        }
    }
}
