//! Resource types (`deployments`, `deploy`, `deployments.apps`) → API group, from the table
//! generated from the Kubernetes API types.

use crate::error::RbacError;
pub(crate) use crate::resource_table::RESOURCES;

/// One resource of the Kubernetes API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The plural resource name used in RBAC rules and URLs.
    pub resource: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
}

/// All resources of the API (one per group and resource).
pub fn all() -> &'static [ResourceType] {
    RESOURCES
}

fn names_match(r: &ResourceType, name: &str) -> bool {
    r.resource == name || r.kind.eq_ignore_ascii_case(name) || r.short_names.contains(&name)
}

/// Resolve a kubectl resource type argument: `pods`, `pod`, `po`, `deployments.apps`,
/// `deploy.apps`, `deployments.v1.apps`. The core group wins ties (as in kubectl's discovery order).
pub fn resolve(arg: &str) -> Result<ResourceType, RbacError> {
    let lower = arg.to_ascii_lowercase();
    let candidates = |name: &str, group: Option<&str>| -> Option<ResourceType> {
        let mut found: Vec<&ResourceType> = RESOURCES
            .iter()
            .filter(|r| names_match(r, name) && group.is_none_or(|g| r.group == g))
            .collect();
        found.sort_by_key(|r| (!r.group.is_empty(), r.group == "extensions", r.group));
        found.first().map(|r| **r)
    };
    if let Some(r) = candidates(&lower, None) {
        return Ok(r);
    }
    if let Some((name, rest)) = lower.split_once('.') {
        if let Some(r) = candidates(name, Some(rest)) {
            return Ok(r);
        }
        // RESOURCE.VERSION.GROUP
        if let Some((_, group)) = rest.split_once('.')
            && let Some(r) = candidates(name, Some(group))
        {
            return Ok(r);
        }
    }
    Err(RbacError::UnknownResource(arg.to_string()))
}

/// The resource with the given group and plural name.
pub fn by_group_resource(group: &str, resource: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.resource == resource)
}

/// Resources RBAC knows that are not API types: impersonation targets and CSR signers, all
/// cluster-scoped.
const VIRTUAL_CLUSTER_RESOURCES: &[(&str, &str)] = &[
    ("", "users"),
    ("", "groups"),
    ("", "uids"),
    ("authentication.k8s.io", "userextras"),
    ("authentication.k8s.io", "uids"),
    ("certificates.k8s.io", "signers"),
];

/// Whether `(group, resource)` is namespaced; unknown resources (custom resources) count as namespaced.
pub fn is_namespaced(group: &str, resource: &str) -> bool {
    if VIRTUAL_CLUSTER_RESOURCES.contains(&(group, resource)) {
        return false;
    }
    by_group_resource(group, resource).is_none_or(|r| r.namespaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_kubectl_spellings() {
        assert_eq!(resolve("deploy").unwrap().group, "apps");
        assert_eq!(resolve("deployments.apps").unwrap().resource, "deployments");
        assert_eq!(resolve("Deployment").unwrap().resource, "deployments");
        assert_eq!(resolve("po").unwrap().resource, "pods");
        assert_eq!(resolve("events").unwrap().group, "");
        assert_eq!(
            resolve("events.events.k8s.io").unwrap().group,
            "events.k8s.io"
        );
        assert_eq!(
            resolve("clusterrolebindings").unwrap().group,
            "rbac.authorization.k8s.io"
        );
        assert!(!resolve("nodes").unwrap().namespaced);
        assert!(resolve("widgets").is_err());
    }
}
