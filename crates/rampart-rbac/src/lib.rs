//! Offline Kubernetes RBAC analysis with the API server's exact semantics: authorization
//! questions (`can-i`, `who-can`, access matrices), risky grants, and escalation paths from
//! compromised pods to cluster-admin-equivalent power.
//!
//! ```
//! use rampart_rbac::{Policy, Options, Request, UserInfo};
//! let loaded = rampart_manifest::load_str("rbac.yaml", r#"
//! apiVersion: rbac.authorization.k8s.io/v1
//! kind: RoleBinding
//! metadata: {name: read, namespace: prod}
//! roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
//! subjects: [{kind: User, name: jane}]
//! "#);
//! let policy = Policy::from_objects(&loaded.objects, Options::default());
//! let jane = UserInfo::new("jane", &[]);
//! assert!(policy.authorize(&jane, &Request::resource("list", "prod", "", "pods", "", "")).is_some());
//! assert!(policy.authorize(&jane, &Request::resource("list", "dev", "", "pods", "", "")).is_none());
//! ```

mod bootstrap;
mod catalog;
mod error;
pub mod paths;
mod policy;
#[rustfmt::skip]
mod resource_table;
pub mod resources;
pub mod risks;
mod unbound;

pub use catalog::checks;
pub use error::RbacError;
pub use paths::{Edge, EdgeKind, PathGraph, path_findings_of, paths_findings};
pub use policy::{
    Binding, BoundSubject, Grant, Options, Policy, PolicyRule, Request, Role, RoleKind,
    RoleKindBinding, RuleAt, Subject, SubjectKind, Target, UserInfo, rule_allows, split_sa_user,
};
pub use risks::{Capability, Risk, risk_findings_of, risks, risks_findings};
pub use unbound::{UNBOUND_DANGEROUS_ROLE, unbound_role_findings};

/// What [`scan_findings`] reads of each object, so a scan can hand it slim objects
/// ([`rampart_manifest::Object::slim`]): RBAC objects, ServiceAccounts and Namespaces whole,
/// the type of Secrets (legacy ServiceAccount tokens), and which ServiceAccount each pod runs
/// as and whether it mounts its token.
pub const READS: rampart_manifest::Reads = rampart_manifest::Reads {
    kinds: &[
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "ServiceAccount",
        "Namespace",
    ],
    workload_spec: &[],
    pod_spec: &[
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
    ],
    container: &[],
    secret: &["type"],
};

/// Everything `rampart scan` reports for RBAC, building the policy once: risky grants, bindings
/// to missing roles, malformed RBAC fields, dangerous roles nothing binds yet, and escalation
/// paths.
pub fn scan_findings(objects: &[rampart_manifest::Object]) -> Vec<rampart_core::Finding> {
    let policy = Policy::from_objects(objects, Options::default());
    let mut out = risk_findings_of(&policy);
    out.extend(unbound_role_findings(&policy));
    out.extend(path_findings_of(objects, &policy));
    out
}
