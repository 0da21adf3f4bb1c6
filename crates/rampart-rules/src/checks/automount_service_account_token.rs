use crate::check::{Check, CheckMeta, Emitter, declare_check};
use crate::inventory::Inventory;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags pods that mount an API token: `automountServiceAccountToken` is unset or true on the pod,
/// and the pod's ServiceAccount (when it is in the input) does not set it to false.
///
/// ## Why is this bad?
/// The mounted token is the first thing an attacker with a shell looks for: it lets them talk to
/// the API server as the pod's identity.
///
/// ## Remediation
/// Set `automountServiceAccountToken: false` on the pod or its ServiceAccount, and mount a
/// projected token only where the app calls the API.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.6
/// - NSA/CISA Kubernetes Hardening Guide: service account tokens
    AutomountServiceAccountToken { slug: "automount-service-account-token", severity: Medium, summary: "The pod mounts a ServiceAccount token" }
}

impl Check for AutomountServiceAccountToken {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_inventory(&self, inv: &Inventory<'_>, out: &mut Emitter<'_>) {
        for (obj, pod) in inv.pods() {
            match pod
                .get("automountServiceAccountToken")
                .and_then(|v| v.as_bool())
            {
                Some(false) => continue,
                Some(true) => {
                    out.emit(obj, &format!("{}/automountServiceAccountToken", pod.pointer), "the pod mounts its ServiceAccount token (automountServiceAccountToken: true)".to_string());
                    continue;
                }
                None => {}
            }
            let sa_name = pod
                .get("serviceAccountName")
                .or_else(|| pod.get("serviceAccount"))
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("default");
            let ns = obj.namespace().unwrap_or("default");
            let sa = inv.get("ServiceAccount", ns, sa_name);
            if sa
                .and_then(|s| s.value.field("automountServiceAccountToken"))
                .and_then(|v| v.as_bool())
                == Some(false)
            {
                continue;
            }
            out.emit(obj, pod.pointer, format!("the pod mounts the token of ServiceAccount \"{sa_name}\" (automountServiceAccountToken is not false)"));
        }
    }
}
