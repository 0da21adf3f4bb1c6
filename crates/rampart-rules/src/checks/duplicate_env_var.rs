use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags containers whose `env` list names a variable more than once.
///
/// ## Why is this bad?
/// Only the last value wins; reviewers read the first. Duplicate names hide overrides — including
/// of security settings.
///
/// ## Remediation
/// Keep one entry per variable.
///
/// ## References
/// - kube-linter: duplicate-env-var
    DuplicateEnvVar { slug: "duplicate-env-var", severity: Low, summary: "A container sets the same environment variable twice" }
}

impl Check for DuplicateEnvVar {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(env) = c.value.field("env").and_then(|e| e.as_array()) else {
                continue;
            };
            let mut seen = std::collections::HashSet::new();
            for (i, e) in env.iter().enumerate() {
                let Some(name) = e.field("name").and_then(|n| n.as_str()) else {
                    continue;
                };
                if !seen.insert(name) {
                    out.emit(
                        cx.obj,
                        &c.ptr(&format!("env/{i}/name")),
                        format!("{} sets env var {name} more than once", describe(c)),
                    );
                }
            }
        }
    }
}
