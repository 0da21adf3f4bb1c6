//! Rule evaluation: match, context, preconditions, then validate (pattern, anyPattern, deny,
//! foreach, podSecurity, cel), mutate or generate.

use crate::cel::{Bindings, CelChecks, CelOutcome};
use crate::conditions;
use crate::context;
use crate::matching::{Target, rule_matches};
use crate::mutate;
use crate::pattern::{Outcome, match_pattern};
use crate::vars::{Ctx, substitute};
use crate::{AdmissionInfo, Status};
use serde_json::Value;

/// The result of one rule on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    pub status: Status,
    pub message: String,
    /// The resource after a mutate rule.
    pub patched: Option<Value>,
    /// Resources a generate rule would create.
    pub generated: Vec<Value>,
    /// The existing resources a mutate rule's `targets` would become.
    pub targets: Vec<Value>,
}

impl Eval {
    pub fn new(status: Status, message: impl Into<String>) -> Eval {
        Eval {
            status,
            message: message.into(),
            patched: None,
            generated: Vec::new(),
            targets: Vec::new(),
        }
    }
}

fn err(msg: impl Into<String>) -> Eval {
    Eval::new(Status::Error, msg)
}

/// Evaluates one ClusterPolicy/Policy rule; `None` when the rule does not match the resource.
pub fn eval_rule(
    rule: &Value,
    resource: &Value,
    info: &AdmissionInfo,
    policy_name: &str,
    policy_namespace: Option<&str>,
) -> Option<Eval> {
    let target = Target::new(resource, info);
    if !rule_matches(rule, &target) {
        return None;
    }
    if info.exceptions.is_some() {
        let rule_name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        let key = crate::exception::policy_key(policy_name, policy_namespace);
        let excs = crate::exception::matching(info, &key, rule_name, resource);
        if !excs.is_empty() {
            return Some(excepted(rule, resource, &excs));
        }
    }
    // Fast path: a rule without context or preconditions that validates with a pattern
    // without variables, with CEL or with podSecurity needs no JSON context.
    if rule.get("context").is_none()
        && rule.get("preconditions").is_none()
        && rule.get("celPreconditions").is_none()
        && let Some(v) = rule.get("validate")
        && match v.get("pattern").or_else(|| v.get("anyPattern")) {
            Some(p) => {
                !mentions_variables(p)
                    && !mentions_references(p)
                    && !mentions_variables(v.get("message").unwrap_or(&Value::Null))
            }
            None => {
                v.get("deny").is_none()
                    && v.get("foreach").is_none()
                    && (v.get("cel").is_some() || v.get("podSecurity").is_some())
            }
        }
    {
        return validate(v, resource, info, &mut Ctx::default(), 0);
    }
    let rule_name = rule.get("name").and_then(Value::as_str).unwrap_or("");
    let mut ctx = context::base(resource, info);
    ctx.policy_namespace = policy_namespace.map(str::to_string);
    // an autogen rule takes the values given for the rule it was made from
    let rule_values = info
        .rule_values
        .get(&(policy_name.to_string(), rule_name.to_string()))
        .or_else(|| {
            let base = rule_name
                .strip_prefix("autogen-cronjob-")
                .or_else(|| rule_name.strip_prefix("autogen-"))?;
            info.rule_values
                .get(&(policy_name.to_string(), base.to_string()))
        });
    if let Some(vals) = rule_values {
        for (k, v) in vals {
            ctx.set_path(k, v.clone());
            ctx.preset.push(k.clone());
        }
    }
    if let Some(entries) = rule.get("context")
        && let Err(e) = context::load(entries, &mut ctx)
    {
        return Some(err(format!("failed to load context: {e}")));
    }
    if let Some(pre) = rule.get("preconditions") {
        match conditions::evaluate(pre, &ctx) {
            Err(e) => return Some(err(format!("failed to evaluate preconditions: {e}"))),
            Ok(false) => return Some(Eval::new(Status::Skip, "preconditions not met")),
            Ok(true) => {}
        }
    }
    if let Some(pre) = rule.get("celPreconditions").and_then(Value::as_array) {
        let spec = serde_json::json!({"matchConditions": pre});
        match CelChecks::compile(&spec, "validations") {
            Ok(c) => match c.evaluate(&bindings(resource, info)) {
                CelOutcome::NotApplicable => {
                    return Some(Eval::new(Status::Skip, "cel preconditions not met"));
                }
                CelOutcome::Error(e) => return Some(err(e)),
                _ => {}
            },
            Err(e) => return Some(err(e)),
        }
    }
    if let Some(v) = rule.get("validate") {
        return Some(
            validate(v, resource, info, &mut ctx, 0)
                .unwrap_or_else(|| Eval::new(Status::Skip, "no elements")),
        );
    }
    if let Some(m) = rule.get("mutate") {
        return Some(mutate::mutate(m, resource, &mut ctx));
    }
    if let Some(g) = rule.get("generate") {
        if let Some(list) = g.get("foreach").and_then(Value::as_array) {
            return Some(generate_foreach(list, resource, &mut ctx));
        }
        return Some(mutate::generate(g, resource, &ctx));
    }
    if let Some(list) = rule.get("verifyImages").and_then(Value::as_array) {
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        let extractors = rule.get("imageExtractors");
        return crate::images::verify_images(list, (policy_name, name), extractors, resource, &ctx);
    }
    Some(err("rule has no validate, mutate or generate"))
}

/// A matched rule that PolicyExceptions apply to (see [`crate::exception`]): skipped, or for
/// `podSecurity`, evaluated with the exceptions' controls excluded too.
fn excepted(rule: &Value, resource: &Value, excs: &[&crate::exception::Exception]) -> Eval {
    let Some(ps) = rule.pointer("/validate/podSecurity") else {
        return Eval::new(
            Status::Skip,
            format!(
                "rule is skipped due to policy exceptions {}",
                crate::exception::keys(excs)
            ),
        );
    };
    if let Some(e) = excs.iter().find(|e| e.pod_security.is_empty()) {
        return Eval::new(
            Status::Skip,
            format!("rule is skipped due to policy exception {}", e.key),
        );
    }
    let own = pod_security(ps, resource);
    if own.status != Status::Fail {
        return own;
    }
    let mut widened = ps.clone();
    if let Some(o) = widened.as_object_mut() {
        let mut exclude = o
            .get("exclude")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        exclude.extend(excs.iter().flat_map(|e| e.pod_security.iter().cloned()));
        o.insert("exclude".into(), Value::Array(exclude));
    }
    let rest = pod_security(&widened, resource);
    if rest.status == Status::Pass {
        Eval::new(
            Status::Skip,
            format!(
                "rule is skipped due to policy exceptions {}",
                crate::exception::keys(excs)
            ),
        )
    } else {
        rest
    }
}

/// `validate.cel` blocks compiled once: each kept with the block it was compiled from, found by
/// that block's address and taken only when the block is still equal to it (an address can be
/// reused once a policy is dropped), so an evaluation neither serialises nor compiles the block.
type CelCache = std::collections::HashMap<usize, (Value, std::rc::Rc<CelChecks>)>;

thread_local! {
    static CEL_RULES: std::cell::RefCell<CelCache> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn compiled_cel(c: &Value) -> Result<std::rc::Rc<CelChecks>, String> {
    let key = std::ptr::from_ref(c) as usize;
    let hit = CEL_RULES.with(|m| {
        m.borrow()
            .get(&key)
            .filter(|(source, _)| source == c)
            .map(|(_, checks)| checks.clone())
    });
    if let Some(hit) = hit {
        return Ok(hit);
    }
    let checks = std::rc::Rc::new(CelChecks::compile(c, "expressions")?);
    CEL_RULES.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() > 1024 {
            m.clear();
        }
        m.insert(key, (c.clone(), checks.clone()));
    });
    Ok(checks)
}

/// Whether a policy's webhook match conditions (a `{"matchConditions": [...]}` block) hold for
/// the request; an error in them is returned.
pub(crate) fn webhook_conditions(
    block: &Value,
    resource: &Value,
    info: &AdmissionInfo,
) -> Result<bool, String> {
    match compiled_cel(block)?.evaluate(&bindings(resource, info)) {
        CelOutcome::NotApplicable => Ok(false),
        CelOutcome::Error(e) => Err(e),
        _ => Ok(true),
    }
}

/// Whether any string below `v` is a `$(...)` reference.
fn mentions_references(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with("$("),
        Value::Array(a) => a.iter().any(mentions_references),
        Value::Object(m) => m.values().any(mentions_references),
        _ => false,
    }
}

/// Whether any string (or key) below `v` holds `{{`.
fn mentions_variables(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(mentions_variables),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.contains("{{") || mentions_variables(v)),
        _ => false,
    }
}

pub(crate) fn bindings<'a>(resource: &'a Value, info: &'a AdmissionInfo) -> Bindings<'a> {
    Bindings {
        object: Some(resource),
        old_object: info.old_object.as_ref(),
        request: info.request.as_ref(),
        namespace_object: info.namespace_object(resource),
        params: None,
        resources: &info.context_resources,
        images: &info.context_images,
        extra: Vec::new(),
        global: info.global.clone(),
        resolver: info.resolver.clone(),
    }
}

/// A validate block, at foreach `nesting` (0 for the rule itself). `None`: nothing applied.
fn validate(
    v: &Value,
    resource: &Value,
    info: &AdmissionInfo,
    ctx: &mut Ctx,
    nesting: usize,
) -> Option<Eval> {
    let element;
    let target_doc: &Value = if nesting > 0 {
        element = ctx.data.get("element").cloned().unwrap_or(Value::Null);
        &element
    } else {
        resource
    };
    if let Some(deny) = v.get("deny") {
        let conds = deny.get("conditions").unwrap_or(&Value::Null);
        return Some(match conditions::evaluate(conds, ctx) {
            Err(e) => err(format!("failed to check deny conditions: {e}")),
            Ok(true) => Eval::new(Status::Fail, message(v, ctx)),
            Ok(false) => Eval::new(Status::Pass, "rule passed"),
        });
    }
    if let Some(p) = v.get("pattern") {
        let substituted;
        let p = if mentions_variables(p) || mentions_references(p) {
            substituted = match substitute(p, ctx).and_then(|p| crate::vars::resolve_references(&p))
            {
                Ok(p) => p,
                Err(e) => return Some(err(format!("variable substitution failed: {e}"))),
            };
            &substituted
        } else {
            p
        };
        return Some(match match_pattern(target_doc, p) {
            Outcome::Pass => Eval::new(Status::Pass, "rule passed"),
            Outcome::Skip(m) => Eval::new(Status::Skip, m),
            Outcome::Fail { path, msg } => Eval::new(
                Status::Fail,
                format!("{} {msg} (at {path})", message(v, ctx)),
            ),
            Outcome::Error(m) => err(m),
        });
    }
    if let Some(ap) = v.get("anyPattern") {
        let ap = match substitute(ap, ctx) {
            Ok(p) => p,
            Err(e) => return Some(err(format!("variable substitution failed: {e}"))),
        };
        let Some(list) = ap.as_array() else {
            return Some(err("failed to deserialize anyPattern, expected type array"));
        };
        let (mut skipped, mut failed) = (Vec::new(), Vec::new());
        for p in list {
            match match_pattern(target_doc, p) {
                Outcome::Pass => return Some(Eval::new(Status::Pass, "rule passed")),
                Outcome::Skip(m) => skipped.push(m),
                Outcome::Fail { msg, .. } | Outcome::Error(msg) => failed.push(msg),
            }
        }
        return Some(if !skipped.is_empty() && failed.is_empty() {
            Eval::new(Status::Skip, skipped.join(" "))
        } else if !failed.is_empty() {
            Eval::new(
                Status::Fail,
                format!("{} {}", message(v, ctx), failed.join("; ")),
            )
        } else {
            Eval::new(Status::Pass, "rule passed")
        });
    }
    if let Some(fe) = v.get("foreach").and_then(Value::as_array) {
        return foreach(fe, resource, info, ctx, nesting);
    }
    if let Some(ps) = v.get("podSecurity") {
        return Some(pod_security(ps, resource));
    }
    if let Some(c) = v.get("cel") {
        let checks = match compiled_cel(c) {
            Ok(c) => c,
            Err(e) => return Some(err(e)),
        };
        return Some(match checks.evaluate(&bindings(resource, info)) {
            CelOutcome::Pass => Eval::new(Status::Pass, "rule passed"),
            CelOutcome::NotApplicable => Eval::new(Status::Skip, "match conditions not met"),
            CelOutcome::Fail(m) => Eval::new(Status::Fail, m),
            // Kyverno runs `validate.cel` through the ValidatingAdmissionPolicy validator with
            // failurePolicy Fail: an evaluation error is a denial.
            CelOutcome::Error(e) => {
                Eval::new(Status::Fail, format!("expression resulted in error: {e}"))
            }
        });
    }
    if let Some(m) = v.get("manifests") {
        if info.operation == "DELETE" {
            return None;
        }
        return Some(crate::manifests::validate(m, resource, info));
    }
    Some(err(
        "invalid validation rule: podSecurity, cel, patterns, or deny expected",
    ))
}

fn message(v: &Value, ctx: &Ctx) -> String {
    let m = v
        .get("message")
        .cloned()
        .unwrap_or(Value::String(String::new()));
    match substitute(&m, ctx) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => m.as_str().unwrap_or("").to_string(),
    }
}

/// Evaluates the `list` of a foreach to its elements.
pub fn eval_list(list: &str, ctx: &Ctx) -> Result<Vec<Value>, String> {
    let list = match substitute(&Value::String(list.to_string()), ctx)? {
        Value::String(s) => s,
        other => return Ok(as_list(other)),
    };
    Ok(as_list(ctx.query(&list)?))
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

/// Sets `element`, `elementIndex` and their nested variants.
pub fn set_element(ctx: &mut Ctx, el: &Value, idx: usize, nesting: usize) {
    ctx.set("element", el.clone());
    ctx.set("elementIndex", Value::from(idx));
    ctx.set(&format!("element{nesting}"), el.clone());
    ctx.set(&format!("elementIndex{nesting}"), Value::from(idx));
}

fn foreach(
    list: &[Value],
    resource: &Value,
    info: &AdmissionInfo,
    ctx: &mut Ctx,
    nesting: usize,
) -> Option<Eval> {
    let mut applied = 0;
    let mut list_error: Option<String> = None;
    for fe in list {
        let l = fe.get("list").and_then(Value::as_str).unwrap_or("");
        let elements = match eval_list(l, ctx) {
            Ok(e) => e,
            Err(e) => {
                list_error = Some(e);
                continue;
            }
        };
        let saved = ctx.clone();
        for (i, el) in elements.iter().enumerate() {
            if el.is_null() {
                continue;
            }
            *ctx = saved.clone();
            set_element(ctx, el, i, nesting);
            if let Some(entries) = fe.get("context")
                && let Err(e) = context::load(entries, ctx)
            {
                *ctx = saved;
                return Some(err(format!("failed to load context: {e}")));
            }
            if let Some(pre) = fe.get("preconditions") {
                match conditions::evaluate(pre, ctx) {
                    Err(_) | Ok(false) => continue,
                    Ok(true) => {}
                }
            }
            // Kyverno's element scope: patterns apply to a map element, else (or with
            // `elementScope: false`) to the resource, `element` still in the context
            let scope = fe.get("elementScope").and_then(Value::as_bool);
            if scope == Some(true) && !el.is_object() {
                *ctx = saved;
                return Some(err(format!(
                    "failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps, expected type=map got type={}",
                    go_type(el)
                )));
            }
            let inner = if let Some(nested) = fe.get("foreach").and_then(Value::as_array) {
                foreach(nested, resource, info, ctx, nesting + 1)
            } else if !scope.unwrap_or(el.is_object()) {
                validate(fe, resource, info, ctx, 0)
            } else {
                validate(fe, resource, info, ctx, nesting + 1)
            };
            let Some(r) = inner else {
                continue;
            };
            match r.status {
                Status::Skip => continue,
                Status::Pass => applied += 1,
                _ => {
                    *ctx = saved;
                    return Some(Eval::new(
                        r.status,
                        format!("validation failure: {}", r.message),
                    ));
                }
            }
        }
        *ctx = saved;
    }
    if applied == 0 {
        if let Some(e) = list_error {
            return Some(err(format!("failed to evaluate list: {e}")));
        }
        return None;
    }
    Some(Eval::new(Status::Pass, "rule passed"))
}

/// A generate rule's `foreach`, as Kyverno's generator runs it: for each entry, each element of
/// its `list` (nulls left out) with `element` and `elementIndex` set, the entry's `context`
/// loaded and its `preconditions` checked (an element that fails them generates nothing),
/// then the entry's own target (`apiVersion`, `kind`, `name`, `namespace` with `data`,
/// `clone` or `cloneList`). An error in any element fails the rule, naming the entry and the
/// element; the others still run.
fn generate_foreach(list: &[Value], resource: &Value, ctx: &mut Ctx) -> Eval {
    let mut generated = Vec::new();
    let mut errors = Vec::new();
    let saved = ctx.clone();
    for (i, fe) in list.iter().enumerate() {
        let l = fe.get("list").and_then(Value::as_str).unwrap_or("");
        let elements = match eval_list(l, ctx) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("failed to evaluate {i} foreach list: {e}"));
                continue;
            }
        };
        // the entry's target, without what drives the loop
        let mut target = fe.clone();
        if let Some(t) = target.as_object_mut() {
            for k in ["list", "context", "preconditions"] {
                t.remove(k);
            }
        }
        for (index, el) in elements.iter().enumerate() {
            if el.is_null() {
                continue;
            }
            *ctx = saved.clone();
            set_element(ctx, el, index, 0);
            let element_error = |e: String| {
                format!("failed to process {i} foreach: failed to process {index} element: {e}")
            };
            if let Some(entries) = fe.get("context")
                && let Err(e) = context::load(entries, ctx)
            {
                errors.push(element_error(format!("failed to load context: {e}")));
                continue;
            }
            if let Some(pre) = fe.get("preconditions") {
                match conditions::evaluate(pre, ctx) {
                    Err(e) => {
                        errors.push(element_error(format!(
                            "failed to evaluate preconditions: {e}"
                        )));
                        continue;
                    }
                    Ok(false) => continue,
                    Ok(true) => {}
                }
            }
            let r = mutate::generate(&target, resource, ctx);
            if r.status == Status::Pass {
                generated.extend(r.generated);
            } else {
                errors.push(element_error(r.message));
            }
        }
    }
    *ctx = saved;
    if !errors.is_empty() {
        return err(errors.join("; "));
    }
    let mut e = Eval::new(Status::Pass, "resource generated");
    e.generated = generated;
    e
}

/// The Go type name (`%T`) of a JSON value as Kyverno decodes it.
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn pod_security(ps: &Value, resource: &Value) -> Eval {
    let level = ps
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or("baseline");
    let version = ps
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("latest");
    let policy: rampart_pss::Policy = match format!("{level}:{version}").parse() {
        Ok(p) => p,
        Err(e) => return err(format!("podSecurity: {e}")),
    };
    let (meta, spec) = match resource.get("kind").and_then(Value::as_str) {
        Some("Pod") => (resource.get("metadata"), resource.get("spec")),
        Some("CronJob") => (
            resource.pointer("/spec/jobTemplate/spec/template/metadata"),
            resource.pointer("/spec/jobTemplate/spec/template/spec"),
        ),
        _ => (
            resource.pointer("/spec/template/metadata"),
            resource.pointer("/spec/template/spec"),
        ),
    };
    let Some(spec) = spec.and_then(Value::as_object) else {
        return Eval::new(Status::Pass, "no pod spec");
    };
    let meta = meta.and_then(Value::as_object);
    let violations = rampart_pss::evaluate_pod(policy, meta, spec, "/spec");
    if violations.is_empty() {
        return Eval::new(Status::Pass, "rule passed");
    }
    let excludes = ps
        .get("exclude")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let remaining: Vec<_> = if excludes.is_empty() {
        violations
    } else {
        let checks: Vec<&'static str> = violations.iter().map(|v| v.check).collect();
        let failing = pss_exclusions::apply(policy, meta, spec, &checks, excludes);
        violations
            .into_iter()
            .filter(|v| failing.contains(&v.check))
            .collect()
    };
    if remaining.is_empty() {
        Eval::new(Status::Pass, "rule passed")
    } else {
        Eval::new(
            Status::Fail,
            remaining
                .iter()
                .map(|v| format!("{} ({})", v.reason, v.detail))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// `podSecurity.exclude`, as Kyverno applies it to the checks a pod fails (its
/// `ApplyPodSecurityExclusion`): each entry evaluates the checks again on part of the pod
/// (without `images`, the pod with one bare container; with them, only the containers of
/// those images) and, for the failing checks of its control, lifts each field error of the
/// pod that it reproduces: the same field (indexes as `*`), the entry's `restrictedField` when
/// it names one, every bad value among its `values` when it lists any, and for a container's
/// field the same container. A check fails while any of its field errors is left.
mod pss_exclusions {
    use rampart_pss::{CHECKS, FieldError, Policy};
    use serde_json::{Map, Value};

    /// The check IDs of a Kyverno control name.
    fn control_ids(control: &str) -> &'static [&'static str] {
        match control {
            "Capabilities" => &["capabilities_baseline", "capabilities_restricted"],
            "Seccomp" => &["seccompProfile_baseline", "seccompProfile_restricted"],
            "Privileged Containers" => &["privileged"],
            "Host Ports" => &["hostPorts"],
            "/proc Mount Type" => &["procMount", "procMount_restricted"],
            "HostProcess" => &["windowsHostProcess"],
            "SELinux" => &["seLinuxOptions"],
            "Host Namespaces" => &["hostNamespaces"],
            "HostPath Volumes" => &["hostPathVolumes"],
            "Sysctls" => &["sysctls"],
            "AppArmor" => &["appArmorProfile"],
            "Privilege Escalation" => &["allowPrivilegeEscalation"],
            "Running as Non-root" => &["runAsNonRoot"],
            "Running as Non-root user" => &["runAsUser"],
            "Volume Types" => &["restrictedVolumes"],
            _ => &[],
        }
    }

    /// Checks a pod fails, each with its field errors.
    fn with_errors(
        policy: Policy,
        meta: Option<&Map<String, Value>>,
        spec: &Map<String, Value>,
        checks: impl Iterator<Item = &'static str>,
    ) -> Vec<(&'static str, Option<Vec<FieldError>>)> {
        checks
            .map(|id| (id, rampart_pss::field_errors(policy, meta, spec, id)))
            .collect()
    }

    /// The failing checks of a pod with their field errors.
    fn failing(
        policy: Policy,
        meta: Option<&Map<String, Value>>,
        spec: &Map<String, Value>,
    ) -> Vec<(&'static str, Option<Vec<FieldError>>)> {
        let checks = rampart_pss::failing_checks(policy, meta, spec);
        with_errors(policy, meta, spec, checks.iter().map(|c| c.id))
    }

    /// A field with its indexes as `*`; for a container's field (at container level) also its
    /// container list and index (Kyverno's `parseField`: the path's second word).
    fn parse(field: &str, container_level: bool) -> (String, Option<(&str, usize)>) {
        let mut starred = String::with_capacity(field.len());
        let mut indexes = Vec::new();
        let mut digits = String::new();
        for ch in field.chars() {
            if ch.is_ascii_digit() {
                digits.push(ch);
                continue;
            }
            if !digits.is_empty() {
                starred.push('*');
                indexes.push(std::mem::take(&mut digits));
            }
            starred.push(ch);
        }
        if !digits.is_empty() {
            starred.push('*');
            indexes.push(digits);
        }
        if !container_level {
            return (starred, None);
        }
        let second_word = field
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .nth(1)
            .unwrap_or("");
        let list = ["containers", "initContainers", "ephemeralContainers"]
            .into_iter()
            .find(|l| *l == second_word);
        let container = list.zip(indexes.first().and_then(|i| i.parse().ok()));
        (starred, container)
    }

    fn container_name<'a>(spec: &'a Map<String, Value>, (list, i): (&str, usize)) -> &'a str {
        spec.get(list)
            .and_then(Value::as_array)
            .and_then(|l| l.get(i))
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The part of the pod an entry evaluates: with `images`, only the containers of those
    /// images (and nothing of the pod); without, the pod with one bare container.
    fn part_of(spec: &Map<String, Value>, images: &[&str]) -> Map<String, Value> {
        if images.is_empty() {
            let mut m = spec.clone();
            m.remove("initContainers");
            m.remove("ephemeralContainers");
            m.insert("containers".into(), serde_json::json!([{"name": "fake"}]));
            return m;
        }
        let mut m = Map::new();
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            let kept: Vec<Value> = spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| {
                    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                    images.iter().any(|p| crate::wildcard::matches(p, image))
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                m.insert(list.into(), Value::Array(kept));
            }
        }
        m
    }

    /// The check IDs of `failing_checks` (the pod's failing checks, evaluated already) still
    /// failing once `excludes` are applied, in reporting order.
    pub(super) fn apply(
        policy: Policy,
        meta: Option<&Map<String, Value>>,
        spec: &Map<String, Value>,
        failing_checks: &[&'static str],
        excludes: &[Value],
    ) -> Vec<&'static str> {
        let mut results = with_errors(policy, meta, spec, failing_checks.iter().copied());
        for exclude in excludes {
            let text = |k: &str| exclude.get(k).and_then(Value::as_str).unwrap_or("");
            let list = |k: &str| -> Vec<&str> {
                exclude
                    .get(k)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect()
            };
            let (images, values) = (list("images"), list("values"));
            let container_level = !images.is_empty();
            let part = part_of(spec, &images);
            // a container-level entry's pod has no metadata but its name and namespace
            let part_meta = if container_level { None } else { meta };
            let ids = control_ids(text("controlName"));
            let restricted = text("restrictedField");
            for (id, errs) in failing(policy, part_meta, &part) {
                if !ids.contains(&id) {
                    continue;
                }
                for e in errs.iter().flatten() {
                    let (field, container) = parse(&e.field, container_level);
                    let allowed = values.is_empty()
                        || e.bad
                            .iter()
                            .all(|b| values.iter().any(|p| crate::wildcard::matches(p, b)));
                    if !(restricted.is_empty() || field == restricted) || !allowed {
                        continue;
                    }
                    let excluded = container.map(|c| container_name(&part, c));
                    let Some(pos) = results.iter().position(|(rid, _)| *rid == id) else {
                        continue;
                    };
                    let Some((_, Some(errors))) = results.get_mut(pos) else {
                        continue;
                    };
                    let hit = errors.iter().position(|d| {
                        let (dfield, dcontainer) = parse(&d.field, container_level);
                        field == dfield
                            && dcontainer
                                .is_none_or(|dc| excluded == Some(container_name(spec, dc)))
                    });
                    if let Some(i) = hit {
                        errors.swap_remove(i);
                    }
                    if errors.is_empty() {
                        results.remove(pos);
                    }
                }
            }
        }
        CHECKS
            .iter()
            .map(|c| c.id)
            .filter(|id| results.iter().any(|(r, _)| r == id))
            .collect()
    }
}

/// Evaluates a ValidatingPolicy's CEL checks.
pub fn eval_cel_policy(checks: &CelChecks, b: &Bindings<'_>) -> Eval {
    match checks.evaluate(b) {
        CelOutcome::Pass => Eval::new(Status::Pass, "policy passed"),
        CelOutcome::NotApplicable => Eval::new(Status::Skip, "match conditions not met"),
        CelOutcome::Fail(m) => Eval::new(Status::Fail, m),
        CelOutcome::Error(e) => err(e),
    }
}

/// Applies a MutatingPolicy's mutations.
pub fn eval_cel_mutation(checks: &CelChecks, b: &Bindings<'_>) -> Eval {
    match checks.mutate(b) {
        crate::cel::MutOutcome::NotApplicable => {
            Eval::new(Status::Skip, "match conditions not met")
        }
        crate::cel::MutOutcome::Error(e) => err(e),
        // A MutatingPolicy that applies passes, whether or not its patches change anything.
        crate::cel::MutOutcome::Patched(p) => {
            let mut e = Eval::new(Status::Pass, "mutations applied");
            e.patched = Some(p);
            e
        }
    }
}

/// Evaluates a DeletingPolicy's conditions: a resource it would delete passes, as `kyverno
/// test` reports it.
pub fn eval_cel_deletion(checks: &CelChecks, b: &Bindings<'_>) -> Eval {
    match checks.evaluate(b) {
        CelOutcome::Pass => Eval::new(Status::Pass, "resource matched"),
        CelOutcome::NotApplicable | CelOutcome::Fail(_) => {
            Eval::new(Status::Fail, "resource did not match")
        }
        CelOutcome::Error(e) => err(e),
    }
}

/// Runs a GeneratingPolicy.
pub fn eval_cel_generation(checks: &CelChecks, b: &Bindings<'_>) -> Eval {
    match checks.generate(b) {
        Ok(None) => Eval::new(Status::Skip, "match conditions not met"),
        Err(e) => err(e),
        Ok(Some(generated)) => {
            let mut e = Eval::new(Status::Pass, "resources generated");
            e.generated = generated;
            e
        }
    }
}
