//! The `audit.k8s.io/v1` Policy, evaluated as the API server does
//! (k8s.io/apiserver/pkg/audit/policy/checker.go): rules in order, the first match wins.

use crate::error::AuditError;
use rampart_manifest::PosNode;
use serde_json::Value;

/// How much of a request is logged. Ordered: `None < Metadata < Request < RequestResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "None" => Level::None,
            "Metadata" => Level::Metadata,
            "Request" => Level::Request,
            "RequestResponse" => Level::RequestResponse,
            _ => return None,
        })
    }
}

/// The stages of a request, in order.
pub const STAGES: [&str; 4] = [
    "RequestReceived",
    "ResponseStarted",
    "ResponseComplete",
    "Panic",
];

/// A group and its resources in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupResources {
    pub group: String,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

/// One policy rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    pub level: Level,
    pub users: Vec<String>,
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<GroupResources>,
    pub namespaces: Vec<String>,
    pub non_resource_urls: Vec<String>,
    /// The rule's own stages unioned with the policy's.
    pub omit_stages: Vec<String>,
    pub omit_managed_fields: Option<bool>,
    /// Position of the rule in its file.
    pub line: u32,
    pub column: u32,
}

/// A parsed Policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub file: String,
    pub rules: Vec<PolicyRule>,
    pub omit_stages: Vec<String>,
    pub omit_managed_fields: bool,
    pub line: u32,
    pub column: u32,
}

/// The request being asked about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub user: String,
    pub groups: Vec<String>,
    pub verb: String,
    /// `None`: a non-resource request for `path`.
    pub resource: Option<ResourceAttrs>,
    pub path: String,
}

/// The resource part of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceAttrs {
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// `""` for cluster-scoped resources.
    pub namespace: String,
}

/// The answer: the level, the omitted stages, and which rule decided (`None`: no rule matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub level: Level,
    pub omit_stages: Vec<String>,
    pub omit_managed_fields: bool,
    pub rule: Option<usize>,
}

impl Decision {
    /// The stages that are logged: none at level `None`, else every stage not omitted.
    pub fn stages(&self) -> Vec<&'static str> {
        if self.level == Level::None {
            return Vec::new();
        }
        STAGES
            .iter()
            .copied()
            .filter(|s| !self.omit_stages.iter().any(|o| o == s))
            .collect()
    }
}

fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for s in b {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

fn strs(
    v: Option<&Value>,
    what: &str,
    err: &dyn Fn(String) -> AuditError,
) -> Result<Vec<String>, AuditError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(format!("`{what}` must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(err(format!("`{what}` must be a list of strings"))),
    }
}

fn stages(
    v: Option<&Value>,
    err: &dyn Fn(String) -> AuditError,
) -> Result<Vec<String>, AuditError> {
    let s = strs(v, "omitStages", err)?;
    if let Some(bad) = s.iter().find(|s| !STAGES.contains(&s.as_str())) {
        return Err(err(format!(
            "unknown stage `{bad}`, expected one of {}",
            STAGES.join(", ")
        )));
    }
    Ok(s)
}

impl Policy {
    /// Parses the first `Policy` document of a YAML or JSON text.
    pub fn parse(file: &str, text: &str) -> Result<Policy, Vec<AuditError>> {
        let (docs, errs) = rampart_manifest::parse_yaml(file, text);
        if !errs.is_empty() {
            return Err(errs.into_iter().map(AuditError::Input).collect());
        }
        let Some(doc) = docs
            .iter()
            .find(|d| d.value.get("kind").and_then(Value::as_str) == Some("Policy"))
        else {
            return Err(vec![AuditError::input(
                file,
                1,
                1,
                "no audit Policy (kind: Policy) in this file",
            )]);
        };
        Policy::from_value(file, &doc.value, &doc.pos)
    }

    /// Builds a policy from a parsed document; every invalid field is reported.
    pub fn from_value(file: &str, v: &Value, pos: &PosNode) -> Result<Policy, Vec<AuditError>> {
        let at = |ptr: &str, m: String| {
            let ((l, c), _) = pos.find_nearest(v, ptr);
            AuditError::input(file, l, c, m)
        };
        let mut errors = Vec::new();
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if !matches!(
            api,
            "audit.k8s.io/v1" | "audit.k8s.io/v1beta1" | "audit.k8s.io/v1alpha1"
        ) {
            errors.push(at(
                "/apiVersion",
                format!("apiVersion `{api}` is not audit.k8s.io/v1"),
            ));
        }
        let omit = stages(v.get("omitStages"), &|m| at("/omitStages", m)).unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        });
        let omf = v
            .get("omitManagedFields")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut rules = Vec::new();
        let raw = match v.get("rules") {
            Some(Value::Array(r)) => r.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => {
                errors.push(at("/rules", "`rules` must be a list".into()));
                &[]
            }
        };
        for (i, r) in raw.iter().enumerate() {
            let ptr = format!("/rules/{i}");
            let err = |m: String| at(&ptr, format!("rule {i}: {m}"));
            match rule(r, &omit, &err) {
                Ok(mut rule) => {
                    let ((l, c), _) = pos.find_nearest(v, &ptr);
                    (rule.line, rule.column) = (l, c);
                    rules.push(rule);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Policy {
            file: file.to_string(),
            rules,
            omit_stages: omit,
            omit_managed_fields: omf,
            line: pos.line,
            column: pos.col,
        })
    }

    /// The level and stages for `req`, as the API server decides them.
    pub fn evaluate(&self, req: &Request) -> Decision {
        for (i, r) in self.rules.iter().enumerate() {
            if rule_matches(r, req) {
                return Decision {
                    level: r.level,
                    omit_stages: r.omit_stages.clone(),
                    omit_managed_fields: r.omit_managed_fields.unwrap_or(self.omit_managed_fields),
                    rule: Some(i),
                };
            }
        }
        Decision {
            level: Level::None,
            omit_stages: self.omit_stages.clone(),
            omit_managed_fields: self.omit_managed_fields,
            rule: None,
        }
    }
}

fn rule(
    v: &Value,
    policy_omit: &[String],
    err: &dyn Fn(String) -> AuditError,
) -> Result<PolicyRule, AuditError> {
    let level = v.get("level").and_then(Value::as_str).unwrap_or("");
    let level = Level::parse(level).ok_or_else(|| {
        err(format!(
            "level `{level}` is not one of None, Metadata, Request, RequestResponse"
        ))
    })?;
    let mut resources = Vec::new();
    if let Some(rs) = v.get("resources") {
        let Some(rs) = rs.as_array() else {
            return Err(err("`resources` must be a list".into()));
        };
        for g in rs {
            resources.push(GroupResources {
                group: g
                    .get("group")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                resources: strs(g.get("resources"), "resources", err)?,
                resource_names: strs(g.get("resourceNames"), "resourceNames", err)?,
            });
        }
    }
    let rule = PolicyRule {
        level,
        users: strs(v.get("users"), "users", err)?,
        user_groups: strs(v.get("userGroups"), "userGroups", err)?,
        verbs: strs(v.get("verbs"), "verbs", err)?,
        resources,
        namespaces: strs(v.get("namespaces"), "namespaces", err)?,
        non_resource_urls: strs(v.get("nonResourceURLs"), "nonResourceURLs", err)?,
        omit_stages: union(policy_omit, &stages(v.get("omitStages"), err)?),
        omit_managed_fields: v.get("omitManagedFields").and_then(Value::as_bool),
        line: 0,
        column: 0,
    };
    if !rule.non_resource_urls.is_empty()
        && (!rule.resources.is_empty() || !rule.namespaces.is_empty())
    {
        return Err(err(
            "a rule cannot apply to both resources and non-resource URLs".into(),
        ));
    }
    Ok(rule)
}

fn has(list: &[String], s: &str) -> bool {
    list.iter().any(|x| x == s)
}

/// checker.go `ruleMatches`.
pub(crate) fn rule_matches(r: &PolicyRule, req: &Request) -> bool {
    if !r.users.is_empty() && !has(&r.users, &req.user) {
        return false;
    }
    if !r.user_groups.is_empty() && !req.groups.iter().any(|g| has(&r.user_groups, g)) {
        return false;
    }
    if !r.verbs.is_empty() && !has(&r.verbs, &req.verb) {
        return false;
    }
    if !r.namespaces.is_empty() || !r.resources.is_empty() {
        return matches_resource(r, req);
    }
    if !r.non_resource_urls.is_empty() {
        return req.resource.is_none()
            && r.non_resource_urls
                .iter()
                .any(|spec| path_matches(&req.path, spec));
    }
    true
}

fn path_matches(path: &str, spec: &str) -> bool {
    if spec == "*" || spec == path {
        return true;
    }
    spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*'))
}

fn matches_resource(r: &PolicyRule, req: &Request) -> bool {
    let Some(res) = &req.resource else {
        return false;
    };
    if !r.namespaces.is_empty() && !has(&r.namespaces, &res.namespace) {
        return false;
    }
    if r.resources.is_empty() {
        return true;
    }
    let combined = if res.subresource.is_empty() {
        res.resource.clone()
    } else {
        format!("{}/{}", res.resource, res.subresource)
    };
    for gr in &r.resources {
        if gr.group != res.group {
            continue;
        }
        if gr.resources.is_empty() {
            return true;
        }
        for spec in &gr.resources {
            if !gr.resource_names.is_empty() && !has(&gr.resource_names, &res.name) {
                continue;
            }
            if *spec == combined || spec == "*" {
                return true;
            }
            // "*/subresource"
            if !res.subresource.is_empty()
                && spec.starts_with("*/")
                && res.subresource == spec.trim_start_matches(['*', '/'])
            {
                return true;
            }
            // "resource/*"
            if spec.ends_with("/*") && res.resource == spec.trim_end_matches(['/', '*']) {
                return true;
            }
        }
    }
    false
}
