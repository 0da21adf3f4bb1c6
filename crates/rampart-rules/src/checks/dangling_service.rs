use crate::check::{Check, CheckMeta, Emitter, declare_check};
use crate::inventory::Inventory;
use crate::inventory::map_selector_matches;

declare_check! {
/// ## What it does
/// Flags Services with a selector that matches no pod or pod template in their namespace (only when
/// the namespace has workloads in the input).
///
/// ## Why is this bad?
/// A Service without endpoints is usually a typo in a label; traffic silently goes nowhere, and a
/// later pod with matching labels — anyone's — receives it.
///
/// ## Remediation
/// Fix the selector to match the intended pods' labels.
///
/// ## References
/// - kube-linter: dangling-service
    DanglingService { slug: "dangling-service", severity: Low, summary: "A Service selects no pod in the input" }
}

impl Check for DanglingService {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_inventory(&self, inv: &Inventory<'_>, out: &mut Emitter<'_>) {
        for svc in inv
            .of_kind("Service")
            .iter()
            .filter(|s| s.group().is_empty())
        {
            let ns = svc.namespace().unwrap_or("default");
            let Some(sel) = svc
                .value
                .pointer("/spec/selector")
                .and_then(|s| s.as_object())
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let workloads = inv.workloads_in(ns);
            if workloads.is_empty() {
                continue;
            }
            let matched = workloads
                .iter()
                .any(|(_, p)| map_selector_matches(sel, p.labels()));
            if !matched {
                out.emit(
                    svc,
                    "/spec/selector",
                    format!("Service {} selects no pod in namespace {ns}", svc.name()),
                );
            }
        }
    }
}
