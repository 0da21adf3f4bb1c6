//! The Pod Security Standards evaluator, every version, as Pod Security Admission applies them.
//!
//! [`evaluate_pod`] runs the checks of a [`Policy`] (a [`Level`] at a [`Version`]) over a pod
//! spec and returns the [`Violation`]s with the API server's check IDs, reasons and details;
//! [`format_warning`] words them as the API server's warning. A pod that passes costs one
//! allocation-free pass over its spec.
//!
//! ```
//! use rampart_pss::{evaluate_object, format_warning, Policy};
//! let pod = serde_json::json!({
//!     "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
//!     "spec": {"containers": [{"name": "app", "image": "nginx",
//!         "securityContext": {"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true,
//!                             "seccompProfile": {"type": "RuntimeDefault"}}}]}
//! });
//! let policy: Policy = "restricted:latest".parse().unwrap();
//! let violations = evaluate_object(policy, &pod).unwrap();
//! assert_eq!(violations[0].check, "allowPrivilegeEscalation");
//! assert_eq!(
//!     format_warning(policy, &violations),
//!     "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false \
//!      (container \"app\" must set securityContext.allowPrivilegeEscalation=false)"
//! );
//! ```

mod checks;
mod facts;
mod fields;
mod policy;

mod update;

pub use checks::{CHECKS, CheckInfo, check_info};
pub use fields::{FieldError, field_errors};
pub use policy::{
    Level, MAX_MINOR, NamespacePolicies, Policy, PssError, Version, namespace_policies,
    namespace_policies_with,
};
pub use update::significant_update;

use rampart_core::{Finding, Severity};
use rampart_manifest::Object;
use serde_json::{Map, Value};

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The upstream check ID, e.g. `runAsNonRoot`, `capabilities_restricted`.
    pub check: &'static str,
    /// The API server's short reason, e.g. `allowPrivilegeEscalation != false`.
    pub reason: String,
    /// The API server's detail, e.g. `container "app" must set …` (may be empty).
    pub detail: String,
    /// JSON pointers (inside the object) of the offending fields; may be empty.
    #[serde(skip)]
    pub pointers: Vec<String>,
}

/// Evaluates a pod spec at `policy`. `metadata` is the pod's (or template's) metadata, for the
/// AppArmor and seccomp annotations; `spec_pointer` is where the spec sits in its object
/// (`/spec`, `/spec/template/spec`, …) and prefixes every pointer of the violations.
///
/// Returns the violations in the order the API server lists them; empty when allowed (and then
/// without allocating).
pub fn evaluate_pod(
    policy: Policy,
    metadata: Option<&Map<String, Value>>,
    spec: &Map<String, Value>,
    spec_pointer: &str,
) -> Vec<Violation> {
    let failing = failing_checks(policy, metadata, spec);
    if failing.is_empty() {
        return Vec::new();
    }
    let minor = policy.version.effective_minor();
    let metadata_pointer = match spec_pointer.strip_suffix("/spec") {
        Some(parent) => format!("{parent}/metadata"),
        None => String::from("/metadata"),
    };
    let pod = checks::Pod {
        spec,
        metadata,
        spec_pointer,
        metadata_pointer,
        minor,
    };
    (0..CHECKS.len())
        .filter(|i| failing.0 & (1 << i) != 0)
        .filter_map(|i| checks::word(i, &pod))
        .collect()
}

/// A set of checks (of [`CHECKS`]), e.g. the ones a pod fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CheckSet(u32);

impl CheckSet {
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn contains(self, id: &str) -> bool {
        CHECKS
            .iter()
            .position(|c| c.id == id)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// The checks in the set, in reporting order.
    pub fn iter(self) -> impl Iterator<Item = &'static CheckInfo> {
        CHECKS
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, c)| c)
    }
}

/// The verdict alone: which checks a pod spec fails at `policy`, without wording them. Never
/// allocates, pass or fail; [`evaluate_pod`] reports exactly these checks.
pub fn failing_checks(
    policy: Policy,
    metadata: Option<&Map<String, Value>>,
    spec: &Map<String, Value>,
) -> CheckSet {
    if policy.level == Level::Privileged {
        return CheckSet::default();
    }
    let minor = policy.version.effective_minor();
    let facts = facts::scan(metadata, spec);
    CheckSet(checks::failing(&facts, policy.level, minor, || {
        checks::seccomp_annotations_bad(metadata, spec)
    }))
}

/// Evaluates the pod spec of a Pod or of a workload's pod template (Deployment, StatefulSet,
/// DaemonSet, ReplicaSet, Job, CronJob, ReplicationController, PodTemplate); `None` when the
/// object has none.
pub fn evaluate_object(policy: Policy, obj: &Value) -> Option<Vec<Violation>> {
    let pod = rampart_manifest::pod_spec(obj)?;
    Some(evaluate_pod(policy, pod.metadata, pod.spec, pod.pointer))
}

/// The API server's warning: `would violate PodSecurity "restricted:latest": reason (detail), …`.
pub fn format_warning(policy: Policy, violations: &[Violation]) -> String {
    format!(
        "would violate PodSecurity \"{policy}\": {}",
        format_reasons(violations)
    )
}

/// `reason (detail), reason, …`: the violations as the API server joins them.
pub fn format_reasons(violations: &[Violation]) -> String {
    let mut out = String::new();
    for (i, v) in violations.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&v.reason);
        if !v.detail.is_empty() {
            out.push_str(" (");
            out.push_str(&v.detail);
            out.push(')');
        }
    }
    out
}

/// The finding slug of a check: `pss-` and the upstream ID, e.g. `pss-runAsNonRoot`.
pub fn finding_slug(check: &str) -> String {
    format!("pss-{check}")
}

/// Severity of a violated check: baseline checks are high, restricted-only checks medium.
pub fn severity(check: &str) -> Severity {
    match check_info(check).map(|c| c.level) {
        Some(Level::Restricted) => Severity::Medium,
        _ => Severity::High,
    }
}

/// The references of every PSS finding, shared by all of them.
static REFERENCES: std::sync::LazyLock<std::sync::Arc<[String]>> = std::sync::LazyLock::new(|| {
    std::sync::Arc::from([
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/".to_string(),
    ])
});

/// Turns the violations found on `obj` at `policy` into findings: slug [`finding_slug`],
/// severity [`severity`], located at the first offending field (else the pod spec).
pub fn to_findings(policy: Policy, obj: &Object, violations: &[Violation]) -> Vec<Finding> {
    let spec_pointer = rampart_manifest::pod_spec(&obj.value)
        .map(|p| p.pointer)
        .unwrap_or("");
    violations
        .iter()
        .map(|v| {
            let pointer = v
                .pointers
                .first()
                .map(String::as_str)
                .unwrap_or(spec_pointer);
            let message = if v.detail.is_empty() {
                format!("{} (PodSecurity \"{policy}\")", v.reason)
            } else {
                format!("{}: {} (PodSecurity \"{policy}\")", v.reason, v.detail)
            };
            let mut f = Finding::new(finding_slug(v.check), severity(v.check), message)
                .with_object(obj.object_ref())
                .with_location(obj.location(pointer));
            if let Some(info) = check_info(v.check) {
                f = f.with_remediation(info.doc);
            }
            f.references = REFERENCES.clone();
            f
        })
        .collect()
}

/// Every control as a registry record, slug `pss-<upstream id>`.
pub fn checks() -> Vec<rampart_core::CheckInfo> {
    let mut out: Vec<rampart_core::CheckInfo> = CHECKS
        .iter()
        .map(|c| {
            rampart_core::CheckInfo::new(
                finding_slug(c.id),
                severity(c.id),
                rampart_core::Origin::Pss,
                format!("Pod Security Standards: {}", c.summary),
            )
            .doc(format!(
                "## What it does\n{}: reported when a pod or a workload's pod template fails this \
                 control of the Pod Security Standards at the configured level and version \
                 (`rampart pss`, or `pss:` in `.rampart.yaml`).\n\n{}\n\n## References\n- {}\n",
                c.summary,
                c.doc.trim(),
                REFERENCES.join("\n- ")
            ))
            .references(REFERENCES.iter().cloned())
        })
        .collect();
    out.sort_by(|a, b| a.slug.cmp(&b.slug));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn privileged_level_allows_everything() {
        let s = spec(
            json!({"hostNetwork": true, "containers": [{"name": "a", "securityContext": {"privileged": true}}]}),
        );
        assert!(
            evaluate_pod(
                Policy::new(Level::Privileged, Version::Latest),
                None,
                &s,
                "/spec"
            )
            .is_empty()
        );
        assert_eq!(
            evaluate_pod(
                Policy::new(Level::Baseline, Version::Latest),
                None,
                &s,
                "/spec"
            )
            .len(),
            2
        );
    }

    #[test]
    fn pointers_follow_the_spec_pointer() {
        let s =
            spec(json!({"containers": [{"name": "a", "securityContext": {"privileged": true}}]}));
        let v = evaluate_pod(Policy::default(), None, &s, "/spec/template/spec");
        assert_eq!(
            v[0].pointers,
            vec!["/spec/template/spec/containers/0/securityContext/privileged"]
        );
    }

    #[test]
    fn findings_carry_severity_by_level() {
        let obj = Object::from_value(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"hostPID": true, "containers": [{"name": "a"}]}}),
            "p.yaml",
        );
        let policy: Policy = "restricted".parse().unwrap();
        let v = evaluate_object(policy, &obj.value).unwrap();
        let f = to_findings(policy, &obj, &v);
        assert_eq!(f[0].check, "pss-hostNamespaces");
        assert_eq!(f[0].severity, Severity::High);
        assert!(
            f.iter()
                .any(|f| f.check == "pss-runAsNonRoot" && f.severity == Severity::Medium)
        );
    }
}
