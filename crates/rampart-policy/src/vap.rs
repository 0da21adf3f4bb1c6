//! ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
//! (`admissionregistration.k8s.io/v1`), evaluated with CEL.

use crate::cel::{CelPolicy, CelRequest};
use crate::review::{Review, resource_for_kind, split_api_version};
use crate::selector::LabelSelector;
use crate::{Mode, PolicyError};
use rampart_manifest::Object;
use rampart_manifest::string_list;
use serde_json::Value;

/// One `resourceRules` entry.
#[derive(Debug, Default)]
struct Rule {
    groups: Vec<String>,
    versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
    names: Vec<String>,
    scope: String,
}

impl Rule {
    fn parse(v: &Value) -> Rule {
        Rule {
            groups: string_list(v.get("apiGroups")),
            versions: string_list(v.get("apiVersions")),
            resources: string_list(v.get("resources")),
            operations: string_list(v.get("operations")),
            names: string_list(v.get("resourceNames")),
            scope: v
                .get("scope")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string(),
        }
    }

    fn matches(&self, req: &RequestFacts<'_>) -> bool {
        let any = |l: &[String], x: &str| l.iter().any(|s| s == "*" || s == x);
        any(&self.groups, req.group)
            && any(&self.versions, req.version)
            && self.resources.iter().any(|r| {
                let base = r.split('/').next().unwrap_or("");
                r == "*"
                    || r == "*/*"
                    || (base == req.resource && !r.contains('/'))
                    || r == &format!("{}/*", req.resource)
            })
            && (self.operations.is_empty() || any(&self.operations, req.operation))
            && (self.names.is_empty() || self.names.iter().any(|n| n == req.name))
            && match self.scope.as_str() {
                "Cluster" => req.namespace.is_empty(),
                "Namespaced" => !req.namespace.is_empty(),
                _ => true,
            }
    }
}

fn labels(o: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    o.and_then(|o| o.pointer("/metadata/labels"))
        .and_then(Value::as_object)
}

struct RequestFacts<'a> {
    group: &'a str,
    version: &'a str,
    resource: String,
    operation: &'a str,
    name: &'a str,
    namespace: &'a str,
}

/// `matchConstraints` / `matchResources`.
#[derive(Debug, Default)]
pub(crate) struct MatchResources {
    rules: Vec<Rule>,
    excluded: Vec<Rule>,
    namespace_selector: Option<LabelSelector>,
    object_selector: Option<LabelSelector>,
    present: bool,
}

impl MatchResources {
    /// The resources the rules match, as (API group, plural) pairs; `*` for a wildcard.
    /// Subresources are left out.
    pub(crate) fn resources(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for r in &self.rules {
            let groups: Vec<&str> = if r.groups.is_empty() {
                vec!["*"]
            } else {
                r.groups.iter().map(String::as_str).collect()
            };
            for g in &groups {
                for res in r.resources.iter().filter(|res| !res.contains('/')) {
                    out.push((g.to_string(), res.clone()));
                }
            }
        }
        out
    }

    fn parse(v: Option<&Value>) -> Result<MatchResources, String> {
        let Some(v) = v.filter(|v| v.is_object()) else {
            return Ok(MatchResources::default());
        };
        let rules = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(Rule::parse)
                .collect()
        };
        let sel = |k: &str| {
            v.get(k)
                .filter(|s| !s.is_null())
                .map(LabelSelector::parse)
                .transpose()
                .map_err(|e| format!("{k}: {e}"))
        };
        Ok(MatchResources {
            rules: rules("resourceRules"),
            excluded: rules("excludeResourceRules"),
            namespace_selector: sel("namespaceSelector")?,
            object_selector: sel("objectSelector")?,
            present: true,
        })
    }

    /// `require_rules`: a policy's matchConstraints must list resources; a binding's
    /// matchResources without rules defers to the policy.
    fn matches(&self, review: &Review, ns: Option<&Value>, require_rules: bool) -> bool {
        if !self.present {
            return !require_rules;
        }
        let Some(obj) = review.subject() else {
            return false;
        };
        let (group, version) =
            split_api_version(obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""));
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let is_namespace = kind == "Namespace" && group.is_empty();
        let req = RequestFacts {
            group,
            version,
            resource: review
                .request
                .pointer("/resource/resource")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| resource_for_kind(kind)),
            operation: &review.operation,
            name: &review.name,
            namespace: if is_namespace { "" } else { &review.namespace },
        };
        if (require_rules || !self.rules.is_empty()) && !self.rules.iter().any(|r| r.matches(&req))
        {
            return false;
        }
        if self.excluded.iter().any(|r| r.matches(&req)) {
            return false;
        }
        if let Some(s) = &self.object_selector
            && !s.matches(labels(review.object()))
            && !s.matches(labels(review.old_object()))
        {
            return false;
        }
        if let Some(s) = &self.namespace_selector {
            let labels = if is_namespace {
                obj.pointer("/metadata/labels")
            } else if review.namespace.is_empty() {
                return true;
            } else {
                ns.and_then(|n| n.pointer("/metadata/labels"))
            };
            if !s.matches(labels.and_then(Value::as_object)) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) name: String,
    param_kind: Option<(String, String)>,
    pub(crate) matcher: MatchResources,
    pub(crate) fail_closed: bool,
    pub(crate) cel: CelPolicy,
}

impl Policy {
    /// Whether its match constraints select the review.
    pub(crate) fn matcher_matches(&self, review: &Review, ns: Option<&Value>) -> bool {
        self.matcher.matches(review, ns, true)
    }

    pub(crate) fn is_policy(obj: &Object) -> bool {
        obj.kind() == "ValidatingAdmissionPolicy" && obj.group() == "admissionregistration.k8s.io"
    }

    pub(crate) fn parse(obj: &Object) -> Result<Policy, PolicyError> {
        let spec = obj.value.get("spec").unwrap_or(&Value::Null);
        let matcher = MatchResources::parse(spec.get("matchConstraints"))
            .map_err(|m| PolicyError::at(obj, "/spec/matchConstraints", m))?;
        let cel = CelPolicy::compile(spec).map_err(|m| PolicyError::at(obj, "/spec", m))?;
        let param_kind = spec.get("paramKind").map(|p| {
            let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("apiVersion"), s("kind"))
        });
        let fail_closed = spec.get("failurePolicy").and_then(Value::as_str) != Some("Ignore");
        Ok(Policy {
            name: obj.name().to_string(),
            param_kind,
            matcher,
            fail_closed,
            cel,
        })
    }
}

#[derive(Debug)]
pub(crate) struct Binding {
    pub(crate) name: String,
    pub(crate) policy: String,
    param_name: Option<String>,
    param_namespace: Option<String>,
    param_selector: Option<LabelSelector>,
    deny_without_params: bool,
    matcher: MatchResources,
    pub(crate) modes: Vec<Mode>,
    /// Where the binding was read, to report a dangling `policyName`.
    pub(crate) at: rampart_core::Location,
}

impl Binding {
    pub(crate) fn is_binding(obj: &Object) -> bool {
        obj.kind() == "ValidatingAdmissionPolicyBinding"
            && obj.group() == "admissionregistration.k8s.io"
    }

    pub(crate) fn parse(obj: &Object) -> Result<Binding, PolicyError> {
        let spec = obj.value.get("spec").unwrap_or(&Value::Null);
        let policy = spec
            .get("policyName")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                PolicyError::at(obj, "/spec", "binding has no spec.policyName".into())
            })?;
        let pr = spec.get("paramRef");
        let s = |k: &str| {
            pr.and_then(|p| p.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let param_selector = pr
            .and_then(|p| p.get("selector"))
            .map(LabelSelector::parse)
            .transpose()
            .map_err(|m| PolicyError::at(obj, "/spec/paramRef/selector", m))?;
        let matcher = MatchResources::parse(spec.get("matchResources"))
            .map_err(|m| PolicyError::at(obj, "/spec/matchResources", m))?;
        let mut modes = Vec::new();
        for a in string_list(spec.get("validationActions")) {
            modes.push(match a.as_str() {
                "Deny" => Mode::Deny,
                "Warn" => Mode::Warn,
                "Audit" => Mode::Audit,
                other => {
                    return Err(PolicyError::at(
                        obj,
                        "/spec/validationActions",
                        format!(
                            "unknown validation action `{other}`, expected Deny, Warn or Audit"
                        ),
                    ));
                }
            });
        }
        if modes.is_empty() {
            modes.push(Mode::Deny);
        }
        Ok(Binding {
            at: obj.location("/spec/policyName"),
            name: obj.name().to_string(),
            policy: policy.to_string(),
            param_name: s("name"),
            param_namespace: s("namespace"),
            param_selector,
            deny_without_params: s("parameterNotFoundAction").as_deref() == Some("Deny"),
            matcher,
            modes,
        })
    }

    /// The binding `kyverno test` evaluates a policy without bindings through: every
    /// resource its own constraints match, `Deny`.
    pub(crate) fn unbound(policy: &str) -> Binding {
        Binding {
            name: policy.to_string(),
            policy: policy.to_string(),
            param_name: None,
            param_namespace: None,
            param_selector: None,
            deny_without_params: false,
            matcher: MatchResources::default(),
            modes: vec![Mode::Deny],
            at: rampart_core::Location::default(),
        }
    }

    /// The strongest of the binding's actions.
    pub(crate) fn mode(&self) -> Mode {
        self.modes.iter().copied().max().unwrap_or(Mode::Deny)
    }
}

/// What one binding of one policy decided.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Whether the policy's match conditions held (for some param).
    pub(crate) applied: bool,
    pub(crate) failures: Vec<(String, String)>,
    pub(crate) errors: Vec<String>,
    pub(crate) annotations: Vec<(String, String)>,
}

/// Evaluates `policy` through `binding` on a review; `None` when it does not apply.
pub(crate) fn evaluate(
    policy: &Policy,
    binding: &Binding,
    review: &Review,
    ns: Option<&Value>,
    objects: &[&Object],
    cel_request: &CelRequest<'_>,
) -> Option<Outcome> {
    if !policy.matcher.matches(review, ns, true) || !binding.matcher.matches(review, ns, false) {
        return None;
    }
    let params: Vec<Option<&Value>> = match &policy.param_kind {
        None => vec![None],
        Some((api_version, kind)) => {
            let found: Vec<&Value> = objects
                .iter()
                .filter(|o| o.api_version() == api_version && o.kind() == kind)
                .filter(|o| binding.param_name.as_deref().is_none_or(|n| o.name() == n))
                .filter(|o| match (&binding.param_namespace, o.namespace()) {
                    (Some(want), got) => got == Some(want.as_str()),
                    // An unset namespace means the request's namespace for namespaced params.
                    (None, Some(got)) => got == review.namespace,
                    (None, None) => true,
                })
                .filter(|o| {
                    binding
                        .param_selector
                        .as_ref()
                        .is_none_or(|s| s.matches(o.labels()))
                })
                .map(|o| &o.value)
                .collect();
            if found.is_empty() {
                let mut out = Outcome::default();
                if binding.deny_without_params {
                    out.applied = true;
                    out.failures.push((
                        format!("no params found for policy binding with `Deny` parameterNotFoundAction ({kind})"),
                        "Invalid".into(),
                    ));
                }
                return Some(out);
            }
            found.into_iter().map(Some).collect()
        }
    };
    let mut out = Outcome::default();
    for p in params {
        let r = policy.cel.evaluate_shared(cel_request, p, false);
        if !r.applies {
            continue;
        }
        out.applied = true;
        out.failures
            .extend(r.failures.into_iter().map(|f| (f.message, f.reason)));
        out.errors.extend(r.errors);
        out.annotations.extend(r.annotations);
    }
    Some(out)
}
