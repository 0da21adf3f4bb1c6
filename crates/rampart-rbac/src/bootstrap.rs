//! The API server's bootstrap ClusterRoles, namespaced Roles and ClusterRoleBindings.

use crate::policy::{
    Binding, BoundSubject, Policy, PolicyRule, Role, RoleKind, RoleKindBinding, Selector, Subject,
    SubjectKind,
};
use std::collections::BTreeMap;

const POLICY: &str = include_str!("bootstrap.txt");

fn list(s: &str) -> Vec<String> {
    s.trim()
        .split(',')
        .map(|x| {
            let x = x.trim();
            if x == "\"\"" {
                String::new()
            } else {
                x.to_string()
            }
        })
        .collect()
}

fn key_value(s: &str) -> Option<(String, String)> {
    s.trim()
        .split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
}

struct Pending {
    role: Role,
    rules: Vec<PolicyRule>,
}

/// Add the bootstrap policy to `p` (before the input, which may override it).
pub(crate) fn add_to(p: &mut Policy) {
    let mut current: Option<Pending> = None;
    let flush = |p: &mut Policy, cur: Option<Pending>| {
        if let Some(c) = cur {
            p.push_role(c.role, c.rules.into_iter().map(|r| (r, None)).collect());
        }
    };
    let mut bindings = Vec::new();
    for line in POLICY.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "role" | "nsrole" => {
                flush(p, current.take());
                let (kind, namespace, name) = match (word, rest.trim().split_once(' ')) {
                    ("nsrole", Some((ns, name))) => (RoleKind::Role, ns, name),
                    _ => (RoleKind::ClusterRole, "", rest.trim()),
                };
                current = Some(Pending {
                    role: Role {
                        kind,
                        namespace: namespace.to_string(),
                        name: name.trim().to_string(),
                        labels: BTreeMap::new(),
                        aggregation: None,
                        own_rules: Vec::new(),
                        rules: Vec::new(),
                        location: None,
                        bootstrap: true,
                    },
                    rules: Vec::new(),
                });
            }
            "label" => {
                if let (Some(c), Some((k, v))) = (current.as_mut(), key_value(rest)) {
                    c.role.labels.insert(k, v);
                }
            }
            "aggregate" => {
                if let (Some(c), Some((k, v))) = (current.as_mut(), key_value(rest)) {
                    c.role
                        .aggregation
                        .get_or_insert_with(Vec::new)
                        .push(Selector::labels([(k, v)]));
                }
            }
            "rule" => {
                let parts: Vec<&str> = rest.split('|').collect();
                if let (Some(c), [verbs, groups, resources, names @ ..]) =
                    (current.as_mut(), parts.as_slice())
                {
                    c.rules.push(PolicyRule {
                        verbs: list(verbs),
                        api_groups: list(groups),
                        resources: list(resources),
                        resource_names: names.first().map(|n| list(n)).unwrap_or_default(),
                        non_resource_urls: Vec::new(),
                    });
                }
            }
            "urls" => {
                if let (Some(c), Some((verbs, urls))) = (current.as_mut(), rest.split_once('|')) {
                    c.rules.push(PolicyRule {
                        verbs: list(verbs),
                        non_resource_urls: list(urls),
                        ..PolicyRule::default()
                    });
                }
            }
            "binding" => bindings.push(rest.to_string()),
            _ => {}
        }
    }
    flush(p, current.take());
    for b in bindings {
        let mut words = b.split_whitespace();
        let (Some(name), Some(role)) = (words.next(), words.next()) else {
            continue;
        };
        let subjects = words
            .filter_map(|s| {
                let (kind, n) = s.split_once(':')?;
                let subject = match kind {
                    "User" => Subject {
                        kind: SubjectKind::User,
                        name: n.to_string(),
                        namespace: String::new(),
                    },
                    "Group" => Subject {
                        kind: SubjectKind::Group,
                        name: n.to_string(),
                        namespace: String::new(),
                    },
                    "ServiceAccount" => {
                        let (ns, n) = n.split_once('/')?;
                        Subject {
                            kind: SubjectKind::ServiceAccount,
                            name: n.to_string(),
                            namespace: ns.to_string(),
                        }
                    }
                    _ => return None,
                };
                Some(BoundSubject {
                    subject,
                    valid: true,
                    location: None,
                })
            })
            .collect();
        p.push_binding(Binding {
            kind: RoleKindBinding::ClusterRoleBinding,
            namespace: String::new(),
            name: name.to_string(),
            role_ref_kind: "ClusterRole".to_string(),
            role_ref_name: role.to_string(),
            role: None,
            subjects,
            location: None,
            bootstrap: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_policy_parses_completely() {
        let mut p = Policy::default();
        add_to(&mut p);
        assert!(p.roles.len() >= 30, "{}", p.roles.len());
        let edit = p.cluster_role("system:aggregate-to-edit").unwrap();
        assert_eq!(edit.own_rules.len(), 13);
        let ca = p.cluster_role("cluster-admin").unwrap();
        assert_eq!(ca.own_rules.len(), 2);
        assert!(p.bindings.iter().any(|b| b.name == "system:discovery"));
        let reader = p
            .roles
            .iter()
            .find(|r| {
                r.kind == RoleKind::Role
                    && r.namespace == "kube-system"
                    && r.name == "extension-apiserver-authentication-reader"
            })
            .unwrap();
        assert_eq!(reader.own_rules.len(), 1);
        assert_eq!(
            p.roles.iter().filter(|r| r.kind == RoleKind::Role).count(),
            7
        );
        // every rule has verbs and either resources or URLs
        for r in &p.rules {
            assert!(!r.rule.verbs.is_empty());
            assert!(!r.rule.resources.is_empty() || !r.rule.non_resource_urls.is_empty());
        }
    }
}
