use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags `securityContext.sysctls` outside the safe set Kubernetes allows by default
/// (`kernel.shm_rmid_forced`, `net.ipv4.ip_local_port_range`,
/// `net.ipv4.ip_unprivileged_port_start`, `net.ipv4.tcp_syncookies`, `net.ipv4.ping_group_range`,
/// `net.ipv4.ip_local_reserved_ports`, `net.ipv4.tcp_keepalive_time`, `net.ipv4.tcp_fin_timeout`,
/// `net.ipv4.tcp_keepalive_intvl`, `net.ipv4.tcp_keepalive_probes`, `net.ipv4.tcp_rmem`,
/// `net.ipv4.tcp_wmem`).
///
/// ## Why is this bad?
/// Unsafe sysctls are not namespaced or not isolated: setting them affects the whole node and other
/// pods.
///
/// ## Remediation
/// Remove the sysctl, or run the workload on dedicated nodes where the kubelet allows it
/// explicitly.
///
/// ## References
/// - Pod Security Standards, Baseline: Sysctls
    UnsafeSysctls { slug: "unsafe-sysctls", severity: High, summary: "The pod sets an unsafe sysctl" }
}

impl Check for UnsafeSysctls {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        const SAFE: &[&str] = &[
            "kernel.shm_rmid_forced",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.ip_unprivileged_port_start",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range",
            "net.ipv4.ip_local_reserved_ports",
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
            "net.ipv4.tcp_rmem",
            "net.ipv4.tcp_wmem",
        ];
        let Some(list) = pod
            .spec
            .field("securityContext")
            .and_then(|s| s.field("sysctls"))
            .and_then(|s| s.as_array())
        else {
            return;
        };
        for (i, s) in list.iter().enumerate() {
            let name = s.field("name").and_then(|n| n.as_str()).unwrap_or("");
            if !SAFE.contains(&name) {
                out.emit(
                    cx.obj,
                    &format!("{}/securityContext/sysctls/{i}", pod.pointer),
                    format!("the pod sets unsafe sysctl {name}"),
                );
            }
        }
    }
}
