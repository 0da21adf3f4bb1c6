//! Kyverno `PolicyException`s (`kyverno.io/v2`, `v2beta1`): a rule of a ClusterPolicy or
//! Policy is skipped for the resources an exception names, as Kyverno's engine skips it.
//!
//! - `spec.exceptions[]` names the policies (`name` for a ClusterPolicy, `namespace/name` for
//!   a Policy) and their rules (wildcards, so `autogen-*` rules are named too).
//! - `spec.match` selects the resources (`any`/`all` resource filters, as a rule's `match`);
//!   `spec.conditions` (`any`/`all`, as preconditions) must hold too.
//! - A rule with an exception is skipped, after it matched and before its context and
//!   preconditions: `rule is skipped due to policy exceptions <keys>` (Kyverno's message, with
//!   the space its validate and mutate handlers leave out).
//! - A `podSecurity` rule is not skipped when every exception that applies lists
//!   `podSecurity` controls: those controls are excluded as the rule's own `exclude` entries
//!   are; when nothing is left the rule is skipped (`rule is skipped due to policy exceptions
//!   <keys>`), else it fails on what is left.
//! - `spec.background: false` exceptions do not apply in background scans.
//!
//! The CEL policy kinds have their own PolicyException (`policies.kyverno.io`):
//! - `spec.policyRefs` names the policies (`name`, `kind`); `spec.matchConditions` (CEL, on
//!   `object`, `oldObject`, `request`, `namespaceObject`) must all hold.
//! - Without `images` or `allowedValues` it exempts the resource: `rule is skipped due to policy
//!   exception: <keys>`, or `passed` with `reportResult: pass`.
//! - With them, the policy still runs, and its expressions read the exceptions' lists as
//!   `exceptions.allowedImages` and `exceptions.allowedValues`.
//!
//! Kyverno reads exceptions from every namespace unless its `--exceptionNamespace` flag
//! narrows them; so does rampart.

use crate::AdmissionInfo;
use crate::cel::CelChecks;
use crate::matching::{Target, rule_matches};
use crate::wildcard;
use serde_json::{Value, json};

/// One loaded PolicyException.
#[derive(Debug, Clone)]
pub struct Exception {
    /// `namespace/name`, as Kyverno's messages name it.
    pub key: String,
    /// (policy, rule patterns) pairs of `spec.exceptions`.
    pairs: Vec<(String, Vec<String>)>,
    /// A rule-shaped `{"match": …}` for the rule matcher.
    matcher: Value,
    conditions: Option<Value>,
    /// `spec.podSecurity` controls.
    pub pod_security: Vec<Value>,
    pub background: bool,
}

/// A PolicyException of the CEL policy kinds.
pub struct CelException {
    pub key: String,
    /// (name, kind) of `spec.policyRefs`.
    refs: Vec<(String, String)>,
    conditions: CelChecks,
    pub images: Vec<String>,
    pub values: Vec<String>,
    /// `reportResult: pass`: the exempted resource passes rather than skips.
    pub report_pass: bool,
}

impl std::fmt::Debug for CelException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelException")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The PolicyExceptions loaded beside the policies.
#[derive(Debug, Default)]
pub struct Exceptions {
    pub rules: Vec<Exception>,
    pub cel: Vec<CelException>,
    /// The exceptions as read, to extend the set ([`Exceptions::with`]).
    raw: Vec<Value>,
}

impl Exceptions {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.cel.is_empty()
    }

    /// Reads a PolicyException of either API into the set; why it is invalid (the JSON
    /// pointer of the field, and the message).
    pub fn add(&mut self, v: &Value) -> Result<(), (String, String)> {
        if api(v).starts_with("kyverno.io/") {
            self.rules.push(Exception::parse(v)?);
        } else {
            self.cel.push(CelException::parse(v)?);
        }
        self.raw.push(v.clone());
        Ok(())
    }

    /// These exceptions and `more` (the cluster's): the combined set, and why each of `more`
    /// that could not be read was not (its index in `more`, its JSON pointer and the reason).
    pub fn with<'a>(
        base: Option<&Exceptions>,
        more: impl IntoIterator<Item = &'a Value>,
    ) -> (Exceptions, Vec<(usize, String, String)>) {
        let mut out = Exceptions::default();
        for v in base.map(|b| b.raw.as_slice()).unwrap_or_default() {
            // these were read once already
            let _ = out.add(v);
        }
        let mut problems = Vec::new();
        for (i, v) in more.into_iter().enumerate() {
            if let Err((pointer, why)) = out.add(v) {
                problems.push((i, pointer, format!("PolicyException {}: {why}", key_of(v))));
            }
        }
        (out, problems)
    }
}

fn api(v: &Value) -> &str {
    v.get("apiVersion").and_then(Value::as_str).unwrap_or("")
}

fn key_of(v: &Value) -> String {
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match v.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// Whether an object is a PolicyException this module reads.
pub fn is_exception(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("PolicyException")
        && (api(v).starts_with("kyverno.io/") || api(v).starts_with("policies.kyverno.io/"))
}

impl CelException {
    fn parse(v: &Value) -> Result<CelException, (String, String)> {
        let spec = v.get("spec").unwrap_or(&Value::Null);
        let mut refs = Vec::new();
        for (i, r) in spec
            .get("policyRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() || kind.is_empty() {
                return Err((
                    format!("/spec/policyRefs/{i}"),
                    format!(
                        "spec.policyRefs[{i}]: Required value: a policy reference needs a name and a kind"
                    ),
                ));
            }
            refs.push((name.to_string(), kind.to_string()));
        }
        if refs.is_empty() {
            return Err((
                "/spec".into(),
                "spec.policyRefs: Required value: an exception names at least one policy".into(),
            ));
        }
        let conditions = CelChecks::compile(
            &json!({"matchConditions": spec.get("matchConditions").cloned().unwrap_or(Value::Null)}),
            "validations",
        )
        .map_err(|e| ("/spec/matchConditions".to_string(), e))?;
        Ok(CelException {
            key: key_of(v),
            refs,
            conditions,
            images: rampart_manifest::string_list(spec.get("images")),
            values: rampart_manifest::string_list(spec.get("allowedValues")),
            report_pass: spec.get("reportResult").and_then(Value::as_str) == Some("pass"),
        })
    }

    /// Whether it names the policy (`name`, `kind`).
    pub fn names(&self, policy: &str, kind: &str) -> bool {
        self.refs.iter().any(|(n, k)| n == policy && k == kind)
    }

    /// Whether its match conditions hold on these bindings; an error when one cannot be
    /// evaluated.
    pub fn applies(&self, b: &crate::cel::Bindings<'_>) -> Result<bool, String> {
        match self.conditions.evaluate(b) {
            crate::cel::CelOutcome::Pass => Ok(true),
            crate::cel::CelOutcome::NotApplicable => Ok(false),
            crate::cel::CelOutcome::Fail(m) | crate::cel::CelOutcome::Error(m) => Err(m),
        }
    }
}

impl Exception {
    /// Reads an exception; why it is invalid, as Kyverno's validation says it (with the JSON
    /// pointer of the field).
    fn parse(v: &Value) -> Result<Exception, (String, String)> {
        let key = key_of(v);
        let spec = v.get("spec").unwrap_or(&Value::Null);
        let mut pairs = Vec::new();
        for (i, e) in spec
            .get("exceptions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let policy = e.get("policyName").and_then(Value::as_str).unwrap_or("");
            if policy.is_empty() {
                return Err((
                    format!("/spec/exceptions/{i}"),
                    "spec.exceptions[{i}].policyName: Required value: An exception requires a policy name"
                        .replace("{i}", &i.to_string()),
                ));
            }
            let rules = rampart_manifest::string_list(e.get("ruleNames"));
            pairs.push((policy.to_string(), rules));
        }
        let m = spec.get("match").cloned().unwrap_or(Value::Null);
        let background = spec.get("background").and_then(Value::as_bool) != Some(false);
        if background && let Some((pointer, _, k)) = crate::validation::requester_filter(&m) {
            return Err((
                format!("/spec/match{pointer}/{k}"),
                format!(
                    "spec.match: a background exception may not select by the requester (`{k}`): set spec.background to false"
                ),
            ));
        }
        let pod_security = spec
            .get("podSecurity")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(problem) =
            crate::validation::check_pss_excludes(&pod_security, "/spec/podSecurity", None)
        {
            return Err(problem);
        }
        Ok(Exception {
            key,
            pairs,
            matcher: json!({ "match": m }),
            conditions: spec.get("conditions").filter(|c| !c.is_null()).cloned(),
            pod_security,
            background,
        })
    }

    /// Whether the exception names this policy (Kyverno's key) and rule.
    pub fn names(&self, policy: &str, rule: &str) -> bool {
        self.pairs
            .iter()
            .any(|(p, rules)| p == policy && rules.iter().any(|r| wildcard::matches(r, rule)))
    }

    /// Whether it applies to `resource`: its match selects it and its conditions hold. A
    /// condition that cannot be evaluated keeps the exception from applying, as in Kyverno.
    fn applies(&self, resource: &Value, info: &AdmissionInfo) -> bool {
        if !rule_matches(&self.matcher, &Target::new(resource, info)) {
            return false;
        }
        match &self.conditions {
            None => true,
            Some(c) => {
                let ctx = crate::context::base(resource, info);
                crate::conditions::evaluate(c, &ctx) == Ok(true)
            }
        }
    }
}

/// The exceptions of `info` that name the rule and apply to `resource`.
pub fn matching<'a>(
    info: &'a AdmissionInfo,
    policy: &str,
    rule: &str,
    resource: &Value,
) -> Vec<&'a Exception> {
    let Some(all) = &info.exceptions else {
        return Vec::new();
    };
    all.rules
        .iter()
        .filter(|e| (e.background || !info.background) && e.names(policy, rule))
        .filter(|e| e.applies(resource, info))
        .collect()
}

/// Kyverno's key of a policy: `namespace/name` for a Policy, `name` for a ClusterPolicy.
pub fn policy_key(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// The exceptions' keys as Kyverno joins them.
pub fn keys(excs: &[&Exception]) -> String {
    excs.iter()
        .map(|e| e.key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
