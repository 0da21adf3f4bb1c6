use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags Deployments and StatefulSets with more than one replica and neither `podAntiAffinity` nor
/// `topologySpreadConstraints`.
///
/// ## Why is this bad?
/// All replicas may land on one node; losing that node loses the service.
///
/// ## Remediation
/// Add a `podAntiAffinity` on `kubernetes.io/hostname` or a `topologySpreadConstraints` entry.
///
/// ## References
/// - Kubernetes documentation: Assigning Pods to Nodes
    MissingAntiAffinity { slug: "missing-anti-affinity", severity: Low, summary: "A replicated workload has no pod anti-affinity" }
}

impl Check for MissingAntiAffinity {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !matches!(cx.kind(), "Deployment" | "StatefulSet") {
            return;
        }
        let Some(pod) = &cx.pod else { return };
        let replicas = cx
            .obj
            .value
            .pointer("/spec/replicas")
            .and_then(|r| r.as_i64())
            .unwrap_or(1);
        if replicas > 1
            && pod
                .spec
                .field("affinity")
                .and_then(|a| a.field("podAntiAffinity"))
                .is_none()
            && pod.spec.field("topologySpreadConstraints").is_none()
        {
            out.emit(
                cx.obj,
                &format!("{}/affinity", pod.pointer),
                format!(
                    "{} {} runs {replicas} replicas without anti-affinity or topology spread",
                    cx.kind(),
                    cx.obj.name()
                ),
            );
        }
    }
}
