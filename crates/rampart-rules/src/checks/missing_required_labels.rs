use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags workloads (and their pod templates' owners) missing labels listed in
/// `settings.requiredLabels`. Runs only when that setting is configured.
///
/// ## Why is this bad?
/// Ownership and cost labels are how incidents get routed and how policies select workloads; an
/// unlabeled workload falls through both.
///
/// ## Remediation
/// Add the missing labels to `metadata.labels`.
///
/// ## References
/// - Kubernetes documentation: Recommended Labels
    MissingRequiredLabels { slug: "missing-required-labels", severity: Low, summary: "A workload lacks a required label" }
}

impl Check for MissingRequiredLabels {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let required = &cx.config.settings.required_labels;
        if required.is_empty() || cx.pod.is_none() {
            return;
        }
        let labels = cx.obj.labels();
        let missing: Vec<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|l| labels.is_none_or(|m| !m.contains_key(*l)))
            .collect();
        if !missing.is_empty() {
            out.emit(
                cx.obj,
                "/metadata/labels",
                format!(
                    "{} {} is missing required labels: {}",
                    cx.kind(),
                    cx.obj.name(),
                    missing.join(", ")
                ),
            );
        }
    }
}
