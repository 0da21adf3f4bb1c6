//! The variable checks Kyverno's policy validation makes before a policy runs (`kyverno test`
//! and `apply` skip a policy that fails them; the API server's webhook refuses it):
//!
//! - every `{{ variable }}` of a rule names something the rule can read: the request
//!   (`request.…`), `element`/`elementIndex`, `images`, `@`, a JMESPath function call, or one
//!   of the rule's context entries (a `variable`, `apiCall`, `imageRegistry` or
//!   `globalReference` entry by its name and below; a `configMap` entry's `data` and
//!   `metadata`), the names of its verifyImages attestations, and `target.…` in rules with
//!   mutate targets. Outside background mode `serviceAccountName` and `serviceAccountNamespace`
//!   too. Attestation conditions are not checked (their variables are the statements').
//! - in background mode (`spec.background`, true unless false), no variable reads who made
//!   the request (`request.userInfo`, `request.roles`, `request.clusterRoles`,
//!   `serviceAccountName`, `serviceAccountNamespace`) and no `match`/`exclude` filters on it
//!   (`subjects`, `roles`, `clusterRoles`), unless a rule mutates existing resources.
//!
//! Each finding is the JSON pointer of the value and the message.

use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

fn variables_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\{\{(?:\{[^{}]*\}|[^{}])*\}\}").ok())
        .as_ref()
}

/// Kyverno's allowed-variable expressions (unanchored, as Kyverno applies them).
fn allowed_re(background: bool, target: bool) -> Option<&'static Regex> {
    static RES: OnceLock<Vec<Option<Regex>>> = OnceLock::new();
    let res = RES.get_or_init(|| {
        [
            r"request|serviceAccountName|serviceAccountNamespace|element|elementIndex|@|images|image|([a-z_0-9]+\()[^{}]",
            r"request\.|element|elementIndex|@|images|images\.|image\.|([a-z_0-9]+\()[^{}]",
            r"request\.|serviceAccountName|serviceAccountNamespace|element|elementIndex|@|images|images\.|image\.|target\.|([a-z_0-9]+\()[^{}]",
            r"request\.|element|elementIndex|@|images|images\.|image\.|target\.|([a-z_0-9]+\()[^{}]",
        ]
        .iter()
        .map(|s| Regex::new(s).ok())
        .collect()
    });
    let i = usize::from(background) + 2 * usize::from(target);
    res.get(i).and_then(Option::as_ref)
}

/// The variables of a string: each `{{ … }}` not escaped with `\` (`\{{` is a literal `{{`),
/// as its inner query (a leading `-`, shallow substitution, dropped).
pub(crate) fn variables(s: &str) -> Vec<&str> {
    let Some(re) = variables_re().filter(|_| s.contains("{{")) else {
        return Vec::new();
    };
    re.find_iter(s)
        .filter(|m| !s.get(..m.start()).is_some_and(|b| b.ends_with('\\')))
        .map(|m| {
            let inner = m
                .as_str()
                .trim_start_matches("{{")
                .trim_end_matches("}}")
                .trim();
            inner.strip_prefix('-').unwrap_or(inner).trim()
        })
        .collect()
}

/// Every string leaf and key below `v` with its pointer.
fn strings<'a>(v: &'a Value, pointer: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::String(s) => out.push((pointer, s)),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{pointer}/{}", rampart_manifest::escape_segment(k));
                out.push((p.clone(), k));
                strings(x, p, out);
            }
        }
        _ => {}
    }
}

/// The wildcard patterns of the context entries `entries` declares.
fn context_patterns(entries: Option<&Value>, out: &mut Vec<String>) {
    for e in entries.and_then(Value::as_array).into_iter().flatten() {
        let name = e.get("name").and_then(Value::as_str).unwrap_or("");
        if ["apiCall", "globalReference", "imageRegistry", "variable"]
            .iter()
            .any(|k| e.get(*k).is_some())
        {
            out.push(format!("{name}*"));
        }
        if e.get("configMap").is_some() {
            for suffix in [".data", ".metadata", ".data.*", ".metadata.*"] {
                out.push(format!("{name}{suffix}"));
            }
        }
    }
}

/// The patterns a rule's variables may also match (Kyverno's `buildContext`).
fn rule_patterns(rule: &Value) -> Vec<String> {
    let mut out = Vec::new();
    context_patterns(rule.get("context"), &mut out);
    for list in [
        rule.pointer("/validate/foreach"),
        rule.pointer("/mutate/foreach"),
        rule.pointer("/mutate/targets"),
        rule.pointer("/generate/foreach"),
    ] {
        for fe in list.and_then(Value::as_array).into_iter().flatten() {
            context_patterns(fe.get("context"), &mut out);
        }
    }
    for iv in rule
        .get("verifyImages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for a in iv
            .get("attestations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = a.get("name").and_then(Value::as_str).unwrap_or("");
            out.push(format!("{name}*"));
        }
    }
    out
}

/// The first invalid variable of the rule at `pointer`, as Kyverno's validation reports it.
pub fn check_rule(rule: &Value, pointer: &str, background: bool) -> Option<(String, String)> {
    let rule_name = rule.get("name").and_then(Value::as_str).unwrap_or("");
    let target = rule.pointer("/mutate/targets").is_some();
    let allowed = allowed_re(background, target)?;
    let patterns = rule_patterns(rule);
    // attestation conditions read the statements, not the rule's context
    let mut checked = rule.clone();
    for iv in checked
        .get_mut("verifyImages")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for a in iv
            .get_mut("attestations")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(a) = a.as_object_mut() {
                a.remove("conditions");
            }
        }
    }
    let mut all = Vec::new();
    strings(&checked, pointer.to_string(), &mut all);
    if target {
        // `target` is only what a mutation of a target reads: the rule's context and
        // preconditions, and the targets' own identities, are resolved before any target is
        let before_targets = [
            format!("{pointer}/context"),
            format!("{pointer}/preconditions"),
        ];
        for (p, s) in &all {
            let identity = p
                .strip_prefix(&format!("{pointer}/mutate/targets/"))
                .and_then(|rest| rest.split('/').nth(1))
                .is_some_and(|field| {
                    matches!(
                        field,
                        "apiVersion" | "kind" | "namespace" | "name" | "uid" | "selector"
                    )
                });
            let early = identity || before_targets.iter().any(|b| p.starts_with(b.as_str()));
            if early
                && let Some(var) = variables(s)
                    .into_iter()
                    .find(|v| v.trim_start().starts_with("target."))
            {
                return Some((
                    p.clone(),
                    format!(
                        "invalid variables defined at mutate.targets[0]: variable {} must match regex \"{}\"",
                        var.trim(),
                        allowed_re(background, false)?.as_str()
                    ),
                ));
            }
        }
    }
    for (p, s) in all {
        for var in variables(s) {
            // Kyverno drops the quotes of keys with dashes (`"my-map".key`)
            let var = var.replace('"', "");
            if var.is_empty() || crate::jmes::check(&var).is_err() {
                // a syntax error is reported by the variables' own check
                continue;
            }
            let ok = allowed.is_match(&var)
                || patterns
                    .iter()
                    .any(|pat| crate::wildcard::matches(pat, &var));
            if !ok {
                return Some((
                    p,
                    format!(
                        "policy contains invalid variables: variable substitution failed for rule {rule_name}: variable {var} must match regex \"{}\" or patterns [{}]",
                        allowed.as_str(),
                        patterns.join(" ")
                    ),
                ));
            }
        }
    }
    None
}

/// The entries of a block's `any` and `all` lists (match and exclude filters, conditions):
/// the list's name, the entry's index and the entry.
fn any_all(block: &Value) -> impl Iterator<Item = (&'static str, usize, &Value)> {
    ["any", "all"].into_iter().flat_map(move |list| {
        block
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(move |(i, entry)| (list, i, entry))
    })
}

/// A mutate rule's `patchesJson6902` (YAML or JSON text) as its list of operations; `None`
/// without one, or when it is no list.
fn json_patch_ops(rule: &Value) -> Option<Vec<Value>> {
    let text = rule.pointer("/mutate/patchesJson6902")?.as_str()?;
    let doc = rampart_manifest::parse_yaml("patchesJson6902", text)
        .0
        .into_iter()
        .next()?;
    match doc.value {
        Value::Array(ops) => Some(ops),
        _ => None,
    }
}

/// The first filter of a `match` or `exclude` block (itself, or an `any`/`all` entry) that
/// selects by the requester (`subjects`, `roles`, `clusterRoles`): its JSON pointer and
/// Kyverno's path below the block (`/any/0`, `/any[0]`), and the field.
pub(crate) fn requester_filter(m: &Value) -> Option<(String, String, &'static str)> {
    let mut filters = vec![(String::new(), String::new(), m)];
    filters.extend(
        any_all(m).map(|(list, j, f)| (format!("/{list}/{j}"), format!("/{list}[{j}]"), f)),
    );
    filters.into_iter().find_map(|(pointer, path, f)| {
        ["subjects", "roles", "clusterRoles"]
            .into_iter()
            .find(|k| {
                f.get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            })
            .map(|k| (pointer, path, k))
    })
}

/// Kyverno's background-mode check on a policy (`spec` its spec, `own` its rules as written at
/// `/spec/rules`): the first match filter or variable about the requester, with its pointer.
pub fn check_background(spec: &Value, own: &[Value]) -> Option<(String, String)> {
    if spec.get("background").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    for (i, r) in own.iter().enumerate() {
        for side in ["match", "exclude"] {
            let Some(m) = r.get(side) else { continue };
            if let Some((pointer, path, k)) = requester_filter(m) {
                return Some((
                    format!("/spec/rules/{i}/{side}{pointer}/{k}"),
                    format!(
                        "only select variables are allowed in background mode. Set spec.background=false to disable background mode for this policy rule: invalid variable used at path: spec/rules[{i}]/{side}{path}/{k}"
                    ),
                ));
            }
        }
    }
    // a policy that mutates existing resources reads the requester in the background
    if own.iter().any(|r| r.pointer("/mutate/targets").is_some()) {
        return None;
    }
    static BANNED: OnceLock<Vec<Regex>> = OnceLock::new();
    let banned = BANNED.get_or_init(|| {
        [
            r"[^\.](serviceAccountName)\b",
            r"[^\.](serviceAccountNamespace)\b",
            r"[^\.](request.userInfo)\b",
            r"[^\.](request.roles)\b",
            r"[^\.](request.clusterRoles)\b",
        ]
        .iter()
        .filter_map(|r| Regex::new(r).ok())
        .collect()
    });
    for (i, r) in own.iter().enumerate() {
        let mut all = Vec::new();
        strings(r, format!("/spec/rules/{i}"), &mut all);
        for (p, s) in all {
            for m in variables_re().into_iter().flat_map(|re| re.find_iter(s)) {
                if let Some(b) = banned.iter().find_map(|b| b.captures(m.as_str())) {
                    let var = b.get(1).map_or("", |x| x.as_str());
                    return Some((
                        p,
                        format!(
                            "only select variables are allowed in background mode. Set spec.background=false to disable background mode for this policy rule: variable {var} is not allowed"
                        ),
                    ));
                }
            }
        }
    }
    None
}

/// Kyverno's checks of `podSecurity` exclusions (a rule's `validate.podSecurity.exclude` or a
/// PolicyException's `podSecurity`), at `pointer`: a container-level control needs `images`,
/// a pod-level one takes none; `restrictedField` and `values` come together; at the baseline
/// level a restricted-only control cannot be named (`level`: the rule's, `None` for an
/// exception).
pub(crate) fn check_pss_excludes(
    entries: &[Value],
    pointer: &str,
    level: Option<&str>,
) -> Option<(String, String)> {
    const CONTAINER_LEVEL: [&str; 5] = [
        "Capabilities",
        "Privileged Containers",
        "Host Ports",
        "/proc Mount Type",
        "Privilege Escalation",
    ];
    const POD_LEVEL: [&str; 4] = [
        "Host Namespaces",
        "HostPath Volumes",
        "Sysctls",
        "Volume Types",
    ];
    const RESTRICTED_ONLY: [&str; 4] = [
        "Volume Types",
        "Privilege Escalation",
        "Running as Non-root",
        "Running as Non-root user",
    ];
    for (i, e) in entries.iter().enumerate() {
        let at = |k: &str| format!("{pointer}/{i}/{k}");
        let control = e.get("controlName").and_then(Value::as_str).unwrap_or("");
        let has = |k: &str| {
            e.get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        let restricted_field = e
            .get("restrictedField")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if CONTAINER_LEVEL.contains(&control) && !has("images") {
            return Some((
                at("controlName"),
                format!(
                    "{control}: exclude.images must be specified for the container level control"
                ),
            ));
        }
        if POD_LEVEL.contains(&control) && has("images") {
            return Some((
                at("controlName"),
                format!(
                    "{control}: exclude.images must not be specified for the pod level control"
                ),
            ));
        }
        // each at the field that is there
        if restricted_field && !has("values") {
            return Some((at("restrictedField"), "values is required".into()));
        }
        if !restricted_field && has("values") {
            return Some((at("values"), "restrictedField is required".into()));
        }
        if level == Some("baseline") && RESTRICTED_ONLY.contains(&control) {
            return Some((
                at("controlName"),
                format!("{control}: Invalid control name defined at the given level"),
            ));
        }
    }
    None
}

/// Kyverno's checks of a ClusterPolicy's or Policy's spec and rules (as written, before
/// autogen) beyond the variables: admission and background processing, webhook timeouts,
/// wildcard kinds, subresources in background mode and subject kinds. The first problem's
/// pointer and message.
pub(crate) fn check_policy_spec(
    spec: &Value,
    rules: &[Value],
    namespace: Option<&str>,
) -> Option<(String, String)> {
    let flag = |k: &str| spec.get(k).and_then(Value::as_bool) != Some(false);
    let (admission, background) = (flag("admission"), flag("background"));
    if !admission && !background {
        return Some((
            "/spec/admission".into(),
            "disabling both admission and background processing is not allowed".into(),
        ));
    }
    if !admission
        && rules.iter().any(|r| {
            r.get("mutate").is_some()
                || r.get("generate").is_some()
                || r.get("verifyImages").is_some()
        })
    {
        return Some((
            "/spec/admission".into(),
            "disabling admission processing is only allowed with validation policies".into(),
        ));
    }
    if let Some(problem) = check_action_overrides(
        spec.get("validationFailureActionOverrides"),
        "/spec/validationFailureActionOverrides",
        "spec.validationFailureActionOverrides",
        namespace.is_some(),
    ) {
        return Some(problem);
    }
    for (i, rule) in rules.iter().enumerate() {
        if let Some(problem) = check_action_overrides(
            rule.pointer("/validate/failureActionOverrides"),
            &format!("/spec/rules/{i}/validate/failureActionOverrides"),
            &format!("spec.rules[{i}].validate.validationFailureActionOverrides"),
            namespace.is_some(),
        ) {
            return Some(problem);
        }
        if let Some(problem) = check_generate(rule, &format!("/spec/rules/{i}/generate"), namespace)
        {
            return Some(problem);
        }
        if let Some(problem) = check_rule_conditions(rule, &format!("/spec/rules/{i}")) {
            return Some(problem);
        }
        if let Some(problem) = check_context_entries(rule, &format!("/spec/rules/{i}")) {
            return Some(problem);
        }
        if let Some(problem) = check_rule_shape(rule, &format!("/spec/rules/{i}"), i) {
            return Some(problem);
        }
    }
    if spec.get("generateExistingOnPolicyUpdate").is_some() {
        return Some((
            "/spec/generateExistingOnPolicyUpdate".into(),
            "remove the deprecated field and use spec.generate[*].generateExisting instead".into(),
        ));
    }
    let existing_on_update = spec
        .get("mutateExistingOnPolicyUpdate")
        .and_then(Value::as_bool)
        == Some(true);
    for (i, rule) in rules.iter().enumerate() {
        let Some(mutate) = rule.get("mutate") else {
            continue;
        };
        let existing = existing_on_update
            || mutate
                .get("mutateExistingOnPolicyUpdate")
                .and_then(Value::as_bool)
                == Some(true);
        let no_targets = mutate
            .get("targets")
            .and_then(Value::as_array)
            .is_none_or(|t| t.is_empty());
        if existing && no_targets {
            return Some((
                format!("/spec/rules/{i}/mutate"),
                format!(
                    "rules[{i}].mutate.targets has to be specified when mutateExistingOnPolicyUpdate is set"
                ),
            ));
        }
    }
    for (pointer, timeout) in [
        (
            "/spec/webhookTimeoutSeconds",
            spec.get("webhookTimeoutSeconds"),
        ),
        (
            "/spec/webhookConfiguration/timeoutSeconds",
            spec.pointer("/webhookConfiguration/timeoutSeconds"),
        ),
    ] {
        if let Some(t) = timeout.and_then(Value::as_i64)
            && !(1..=30).contains(&t)
        {
            return Some((
                pointer.into(),
                format!("{t}: the timeout value must be between 1 and 30 seconds"),
            ));
        }
    }
    for (i, rule) in rules.iter().enumerate() {
        for side in ["match", "exclude"] {
            let Some(block) = rule.get(side) else {
                continue;
            };
            let mut descriptions: Vec<(String, &Value)> = any_all(block)
                .map(|(list, j, filter)| (format!("/spec/rules/{i}/{side}/{list}/{j}"), filter))
                .collect();
            if block.get("resources").is_some() || block.get("subjects").is_some() {
                descriptions.push((format!("/spec/rules/{i}/{side}"), block));
            }
            for (at, filter) in descriptions {
                if let Some(problem) = check_filter(rule, filter, &at, background, side == "match")
                {
                    return Some(problem);
                }
                if let Some(problem) = check_resource_description(filter, &at, namespace) {
                    return Some(problem);
                }
                if side == "match"
                    && filter
                        .pointer("/resources/kinds")
                        .and_then(Value::as_array)
                        .is_none_or(|k| k.is_empty())
                {
                    return Some((at, match_kinds_required(rule)));
                }
            }
        }
    }
    None
}

/// Failure-action overrides, as Kyverno checks them: a valid action each (its CRD's enum),
/// and in a cluster-wide policy no namespace (or wildcard pattern) both enforced and audited
/// by different overrides. `field` is the path Kyverno names in its messages.
fn check_action_overrides(
    overrides: Option<&Value>,
    at: &str,
    field: &str,
    namespaced: bool,
) -> Option<(String, String)> {
    use crate::wildcard::{has_wildcard, matches};
    let (mut enforce, mut audit) = (Vec::<&str>::new(), Vec::<&str>::new());
    let (mut enforce_w, mut audit_w) = (Vec::<&str>::new(), Vec::<&str>::new());
    for (i, o) in overrides
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{at}/{i}");
        let action = o.get("action").and_then(Value::as_str).unwrap_or("");
        let enforces = match action {
            "enforce" | "Enforce" => true,
            "audit" | "Audit" => false,
            _ => return Some((format!("{at}/action"), "invalid action".into())),
        };
        if namespaced {
            continue;
        }
        let (patterns, names): (Vec<&str>, Vec<&str>) = o
            .get("namespaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .partition(|n| has_wildcard(n));
        let here = format!("{field}[{i}].namespaces");
        let (other, own, own_w) = if enforces {
            (&audit, &mut enforce, &mut enforce_w)
        } else {
            (&enforce, &mut audit, &mut audit_w)
        };
        let mut clash: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| other.contains(n))
            .collect();
        if !clash.is_empty() {
            clash.sort_unstable();
            clash.dedup();
            return Some((
                format!("{at}/namespaces"),
                format!(
                    "conflicting namespaces found in path: {here}: {}",
                    clash.join(", ")
                ),
            ));
        }
        own_w.extend(patterns);
        own.extend(names);
        let first = |pats: &[&str], names: &[&str]| {
            pats.iter().find_map(|p| {
                names
                    .iter()
                    .find(|n| matches(p, n))
                    .map(|n| (p.to_string(), n.to_string()))
            })
        };
        let problem = first(&audit_w, &enforce)
            .or_else(|| first(&enforce_w, &audit))
            .map(|(p, n)| format!("wildcard pattern '{p}' matches with namespace '{n}'"))
            .or_else(|| {
                first(&audit_w, &enforce_w)
                    .or_else(|| first(&enforce_w, &audit_w))
                    .map(|(p1, p2)| {
                        format!("wildcard pattern '{p1}' conflicts with the pattern '{p2}'")
                    })
            });
        if let Some(why) = problem {
            return Some((format!("{at}/namespaces"), format!("path: {here}: {why}")));
        }
    }
    None
}

/// A rule's context entries, as Kyverno's policy validation checks them: not beside `cel`
/// validation; each named (not after a variable Kyverno defines itself) and of exactly one
/// kind, with that kind's required fields, and JMESPath that parses (unless it holds
/// variables, whose values are unknown until evaluation).
fn check_context_entries(rule: &Value, at: &str) -> Option<(String, String)> {
    let entries = rule.get("context").and_then(Value::as_array)?;
    if entries.is_empty() {
        return None;
    }
    if rule.pointer("/validate/cel").is_some() {
        return Some((
            format!("{at}/context"),
            "context variables are not supported for CEL expressions in validate rules".into(),
        ));
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    // a JMESPath expression without variables must parse
    let jmes = |at: &str, expr: &str| -> Option<(String, String)> {
        if expr.is_empty() || expr.contains("{{") {
            return None;
        }
        crate::jmes::check(expr).err().map(|e| {
            (
                format!("{at}/jmesPath"),
                format!("failed to parse JMESPath {expr}: {e}"),
            )
        })
    };
    const RESERVED: [&str; 6] = [
        "images",
        "request",
        "serviceAccountName",
        "serviceAccountNamespace",
        "element",
        "elementIndex",
    ];
    for (j, e) in entries.iter().enumerate() {
        let at = format!("{at}/context/{j}");
        let name = text(e, "name");
        if name.is_empty() {
            return Some((at, "a name is required for context entries".into()));
        }
        if let Some(v) = RESERVED
            .iter()
            .find(|v| name == **v || name.starts_with(&format!("{v}.")))
        {
            return Some((
                format!("{at}/name"),
                format!(
                    "entry name {name} is invalid as it conflicts with a pre-defined variable {v}"
                ),
            ));
        }
        let kinds: Vec<&str> = [
            "configMap",
            "apiCall",
            "globalReference",
            "imageRegistry",
            "variable",
        ]
        .into_iter()
        .filter(|k| e.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
        let [kind] = kinds.as_slice() else {
            return Some((
                at,
                "exactly one of configMap or apiCall or imageRegistry or variable is required for context entries".into(),
            ));
        };
        let body = e.get(*kind).unwrap_or(&Value::Null);
        let at = format!("{at}/{kind}");
        let problem = match *kind {
            "configMap" if text(body, "name").is_empty() => Some((
                at.clone(),
                "a name is required for configMap context entry".to_string(),
            )),
            "configMap" if text(body, "namespace").is_empty() => Some((
                at.clone(),
                "a namespace is required for configMap context entry".to_string(),
            )),
            "apiCall"
                if !text(body, "urlPath").is_empty()
                    && body.get("service").is_some_and(|s| !s.is_null()) =>
            {
                Some((
                    at.clone(),
                    "a URLPath cannot be used for service API calls".to_string(),
                ))
            }
            "globalReference" if text(body, "name").is_empty() => Some((
                at.clone(),
                "a name is required for globalReference context entry".to_string(),
            )),
            "imageRegistry" => {
                let reference = text(body, "reference");
                if reference.is_empty() {
                    Some((
                        at.clone(),
                        "a ref is required for imageRegistry context entry".to_string(),
                    ))
                } else if !reference.contains("{{") {
                    rampart_images::reference::Reference::parse(&reference)
                        .err()
                        .map(|err| {
                            (
                                format!("{at}/reference"),
                                format!("bad image: {reference}: {err}"),
                            )
                        })
                } else {
                    None
                }
            }
            "variable" => {
                let path = text(body, "jmesPath");
                let has = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
                if !has("value") && path.is_empty() {
                    Some((
                        at.clone(),
                        "a variable must define a value or a jmesPath expression".to_string(),
                    ))
                } else if has("default") && path.is_empty() {
                    Some((
                        at.clone(),
                        "a variable must define a default value only when a jmesPath expression is defined".to_string(),
                    ))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(p) = problem.or_else(|| jmes(&at, &text(body, "jmesPath"))) {
            return Some(p);
        }
    }
    None
}

/// Whether a text holds a `{{ }}` variable (Kyverno's check of the sections that may not).
fn has_variable(text: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        match after.find(['{', '}']) {
            Some(j) if after[j..].starts_with("}}") => return true,
            Some(j) => rest = &after[j..],
            None => return false,
        }
    }
    false
}

/// A rule's shape as Kyverno's policy validation checks it: `any`/`all` not beside the older
/// `resources` form (nor, in `exclude`, beside each other); no variables in `match`,
/// `exclude`, JSON patch paths or image references; JSON patch operations Kyverno knows,
/// paths that begin with `/`, and values where the operation needs one.
fn check_rule_shape(rule: &Value, at: &str, i: usize) -> Option<(String, String)> {
    let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
    for side in ["exclude", "match"] {
        let Some(block) = rule.get(side) else {
            continue;
        };
        let listed = |k: &str| {
            block
                .get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        let legacy = block
            .get("resources")
            .and_then(Value::as_object)
            .is_some_and(|r| r.values().any(|v| !v.is_null()));
        if (listed("any") || listed("all")) && legacy {
            return Some((
                format!("{at}/{side}"),
                format!("can't specify any/all together with {side} resources"),
            ));
        }
        if side == "exclude" && listed("any") && listed("all") {
            return Some((
                format!("{at}/{side}"),
                "can't specify any and all together".into(),
            ));
        }
    }
    let invalid = |section: &str| {
        format!(
            "policy contains invalid variables: rule \"{name}\" should not have variables in {section} section"
        )
    };
    // the JSON patch: operations, paths and values
    if let Some(ops) = json_patch_ops(rule) {
        let at = format!("{at}/mutate/patchesJson6902");
        for op in &ops {
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            if has_variable(path) {
                return Some((at, invalid("patchesJSON6902 path")));
            }
        }
        for op in &ops {
            let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            if !path.starts_with('/') {
                return Some((
                    at,
                    format!("path must begin with a forward slash: spec.rules[{i}]: {path}"),
                ));
            }
            if !matches!(
                kind,
                "add" | "remove" | "replace" | "move" | "copy" | "test"
            ) {
                return Some((at, format!("unexpected kind: spec.rules[{i}]: {kind}")));
            }
            if matches!(kind, "add" | "replace" | "test") && op.get("value").is_none() {
                return Some((
                    at,
                    format!("invalid value: spec.rules[{i}]: missing value for operation {kind}"),
                ));
            }
        }
    }
    for side in ["exclude", "match"] {
        if let Some(block) = rule.get(side)
            && has_variable(&block.to_string())
        {
            return Some((format!("{at}/{side}"), invalid(side)));
        }
    }
    for (v, vi) in rule
        .get("verifyImages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let refs = vi
            .get("imageReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(vi.get("image"))
            .filter_map(Value::as_str);
        if refs.into_iter().any(has_variable) {
            return Some((format!("{at}/verifyImages/{v}"), invalid("image reference")));
        }
    }
    None
}

/// The condition operators Kyverno knows, spelled as it spells them.
const OPERATORS: &[&str] = &[
    "Equal",
    "Equals",
    "NotEqual",
    "NotEquals",
    "In",
    "AnyIn",
    "AllIn",
    "NotIn",
    "AnyNotIn",
    "AllNotIn",
    "GreaterThanOrEquals",
    "GreaterThan",
    "LessThanOrEquals",
    "LessThan",
    "DurationGreaterThanOrEquals",
    "DurationGreaterThan",
    "DurationLessThanOrEquals",
    "DurationLessThan",
];

/// A rule's conditions as Kyverno's policy validation checks them: in preconditions and deny
/// conditions (of the rule and of image verification), each condition has a key, a value and
/// a known operator, and a `{{request.operation}}` key is compared with operations Kubernetes
/// has; in foreach entries and attestations, known operators.
fn check_rule_conditions(rule: &Value, at: &str) -> Option<(String, String)> {
    let full = [
        ("preconditions", rule.get("preconditions")),
        (
            "validate/deny/conditions",
            rule.pointer("/validate/deny/conditions"),
        ),
    ];
    for (path, conds) in full {
        if let Some(c) = conds
            && let Some(p) = check_conditions(c, &format!("{at}/{path}"), true)
        {
            return Some(p);
        }
    }
    fn foreach(list: Option<&Value>, at: &str) -> Option<(String, String)> {
        for (j, fe) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{at}/{j}");
            for (path, conds) in [
                ("preconditions", fe.get("preconditions")),
                ("deny/conditions", fe.pointer("/deny/conditions")),
            ] {
                if let Some(p) =
                    conds.and_then(|c| check_conditions(c, &format!("{at}/{path}"), false))
                {
                    return Some(p);
                }
            }
            if let Some(p) = foreach(fe.get("foreach"), &format!("{at}/foreach")) {
                return Some(p);
            }
        }
        None
    }
    if let Some(p) = foreach(
        rule.pointer("/validate/foreach"),
        &format!("{at}/validate/foreach"),
    ) {
        return Some(p);
    }
    if let Some(p) = foreach(
        rule.pointer("/mutate/foreach"),
        &format!("{at}/mutate/foreach"),
    ) {
        return Some(p);
    }
    for (v, vi) in rule
        .get("verifyImages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{at}/verifyImages/{v}");
        for (a, att) in vi
            .get("attestations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (c, conds) in att
                .get("conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = format!("{at}/attestations/{a}/conditions/{c}");
                if let Some(p) = check_conditions(conds, &at, false) {
                    return Some(p);
                }
            }
        }
        if let Some(c) = vi.pointer("/validate/deny/conditions")
            && let Some(p) = check_conditions(c, &format!("{at}/validate/deny/conditions"), true)
        {
            return Some(p);
        }
    }
    None
}

/// One block of conditions (`any`/`all`, or the older plain list): each condition's
/// operator, and with `values` its key, value and `{{request.operation}}` values.
fn check_conditions(conds: &Value, at: &str, values: bool) -> Option<(String, String)> {
    let mut all: Vec<(String, &Value)> = Vec::new();
    match conds {
        Value::Array(list) => {
            all.extend(
                list.iter()
                    .enumerate()
                    .map(|(i, c)| (format!("{at}/{i}"), c)),
            );
        }
        Value::Object(_) => {
            all.extend(any_all(conds).map(|(list, i, c)| (format!("{at}/{list}/{i}"), c)));
        }
        _ => {}
    }
    for (at, c) in all {
        let present = |k: &str| c.get(k).is_some_and(|v| !v.is_null());
        let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
        if values && (!present("key") || !present("value") || op.is_empty()) {
            return Some((
                at,
                "entered value of `key`, `value` or `operator` is missing or misspelled".into(),
            ));
        }
        if !OPERATORS.contains(&op) {
            return Some((
                format!("{at}/operator"),
                format!(
                    "entered value of `operator` is invalid. valid values: [{}]",
                    OPERATORS
                        .iter()
                        .map(|o| format!("{o:?}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        }
        let is_operation = c
            .get("key")
            .and_then(Value::as_str)
            .is_some_and(|k| k.replace(' ', "") == "{{request.operation}}");
        if values && is_operation {
            const OPERATIONS: [&str; 4] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
            let unknown = |v: &str| {
                format!(
                    "unknown value '{v}' found under the 'value' field. Only the following values are allowed: [CREATE, UPDATE, DELETE, CONNECT]"
                )
            };
            match c.get("value") {
                // a template may well name an operation
                Some(Value::String(v))
                    if v.len() >= 4 && v.starts_with("{{") && v.ends_with("}}") => {}
                Some(Value::String(v)) if !OPERATIONS.contains(&v.as_str()) => {
                    return Some((format!("{at}/value"), unknown(v)));
                }
                Some(Value::String(_)) => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        match item.as_str() {
                            Some(v) if OPERATIONS.contains(&v) => {}
                            Some(v) => return Some((format!("{at}/value/{i}"), unknown(v))),
                            None => {
                                return Some((
                                    format!("{at}/value/{i}"),
                                    format!(
                                        "'value[{i}]' found to be of the type {}. The provided values are expected to be strings",
                                        crate::engine::go_type(item)
                                    ),
                                ));
                            }
                        }
                    }
                }
                Some(other) => {
                    return Some((
                        format!("{at}/value"),
                        format!(
                            "'value' field found to be of the type {}. The provided value/values are expected to be either in the form of a string or list",
                            crate::engine::go_type(other)
                        ),
                    ));
                }
                None => {}
            }
        }
    }
    None
}

/// Kyverno's refusal of a match block without kinds: every `resources` block a rule matches
/// with names its kinds (the message depends on whether the rule only touches metadata).
fn match_kinds_required(rule: &Value) -> String {
    let only_metadata = |v: Option<&Value>| {
        v.and_then(Value::as_object)
            .is_none_or(|m| m.keys().all(|k| k == "metadata"))
    };
    let patches_metadata = json_patch_ops(rule).is_none_or(|ops| {
        ops.iter().all(|o| {
            o.get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| p.starts_with("/metadata"))
        })
    });
    let metadata_only = only_metadata(rule.pointer("/mutate/patchStrategicMerge"))
        && patches_metadata
        && only_metadata(rule.pointer("/validate/pattern"))
        && rule
            .pointer("/validate/anyPattern")
            .and_then(Value::as_array)
            .is_none_or(|ps| ps.iter().all(|p| only_metadata(Some(p))));
    if metadata_only {
        "at least one element must be specified in a kind block, the kind attribute is mandatory when working with the resources element".into()
    } else {
        "policy can only deal with the metadata field of the resource if the rule does not match any kind".into()
    }
}

/// One match or exclude resource description, as Kyverno's `ResourceDescription.Validate`
/// checks it: not both `name` and `names`; a `selector` with requirements (unless it has
/// wildcards); in a namespaced Policy, no `namespaces` filter and no cluster-wide kinds.
fn check_resource_description(
    filter: &Value,
    at: &str,
    namespace: Option<&str>,
) -> Option<(String, String)> {
    let rd = filter.get("resources")?;
    let at = format!("{at}/resources");
    let names = rd
        .get("names")
        .and_then(Value::as_array)
        .is_some_and(|n| !n.is_empty());
    if rd
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty())
        && names
    {
        return Some((
            at,
            "Both name and names can not be specified together".into(),
        ));
    }
    if let Some(sel) = rd.get("selector").filter(|s| !s.is_null()) {
        let wildcard = |v: &Value| v.as_str().is_some_and(|s| s.contains(['*', '?']));
        let has_wildcard = sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .is_some_and(|m| m.iter().any(|(k, v)| k.contains(['*', '?']) || wildcard(v)));
        let requirements = sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
            + sel
                .get("matchExpressions")
                .and_then(Value::as_array)
                .map_or(0, |m| m.len());
        if !has_wildcard && requirements == 0 {
            return Some((
                format!("{at}/selector"),
                "The requirements are not specified in selector".into(),
            ));
        }
    }
    if namespace.is_some() {
        if rd
            .get("namespaces")
            .and_then(Value::as_array)
            .is_some_and(|n| !n.is_empty())
        {
            return Some((
                format!("{at}/namespaces"),
                "Filtering namespaces not allowed in namespaced policies".into(),
            ));
        }
        for (i, kind) in rd
            .get("kinds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(k) = kind.as_str() else { continue };
            // `Namespace`, `v1/Namespace`, `rbac.authorization.k8s.io/v1/ClusterRole`: a
            // bare kind is cluster-wide if it is so in any built-in group
            let cluster_wide = match k.matches('/').count() {
                0 => rampart_manifest::builtin::is_cluster_scoped_kind(k),
                _ => cluster_scoped(k) == Some(true),
            };
            if cluster_wide {
                return Some((
                    format!("{at}/kinds/{i}"),
                    format!("Cluster wide resource '{k}' not allowed in namespaced policy"),
                ));
            }
        }
    }
    None
}

/// A generate rule: one of `data`, `clone`, `cloneList` and `foreach`; a `cloneList` of one
/// scope, namespaced kinds with a namespace, cluster-wide ones without (built-in kinds'
/// scopes; a custom kind is taken as namespaced).
fn check_generate(rule: &Value, at: &str, namespace: Option<&str>) -> Option<(String, String)> {
    let g = rule.get("generate")?;
    // as Kyverno counts them: data and foreach when set, a clone with some field, a
    // cloneList with kinds
    let set = |k: &str| g.get(k).is_some_and(|v| !v.is_null());
    let count = [
        set("data"),
        g.get("clone")
            .and_then(Value::as_object)
            .is_some_and(|c| !c.is_empty()),
        g.pointer("/cloneList/kinds").is_some_and(|k| !k.is_null()),
        set("foreach"),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if count > 1 {
        return Some((
            at.to_string(),
            "only one of generate patterns(data, clone, cloneList and foreach) can be specified"
                .into(),
        ));
    }
    let patterns: Vec<(String, &Value)> = match g.get("foreach").and_then(Value::as_array) {
        Some(each) => each
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("{at}/foreach/{i}"), e))
            .collect(),
        None => vec![(at.to_string(), g)],
    };
    for (at, pattern) in patterns {
        if let Some(problem) = check_generate_pattern(pattern, &at, namespace) {
            return Some(problem);
        }
    }
    None
}

/// Whether a kind written `[group/]version/Kind` is cluster-scoped, as far as rampart knows
/// (`None` for a custom kind, whose scope only the cluster's discovery knows).
fn cluster_scoped(api_version_kind: &str) -> Option<bool> {
    // a bare kind is the core group's
    let (api_version, kind) = api_version_kind
        .rsplit_once('/')
        .unwrap_or(("v1", api_version_kind));
    rampart_manifest::known_scope(api_version)
        .then(|| rampart_manifest::is_cluster_scoped(kind, api_version))
}

/// One generate pattern: its target's identity and namespace, or its cloneList.
fn check_generate_pattern(
    g: &Value,
    at: &str,
    policy_namespace: Option<&str>,
) -> Option<(String, String)> {
    let text = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("");
    // a namespaced Policy generates namespaced resources in its own namespace, from it
    if let Some(own) = policy_namespace
        && g.get("cloneList").is_none()
    {
        let mismatch = |what: String| {
            Some((
                format!("{at}/namespace"),
                format!("target resource scope mismatched: {what}"),
            ))
        };
        let target = format!("{}/{}", text("apiVersion"), text("kind"));
        if cluster_scoped(&target) == Some(true) {
            return mismatch(format!(
                "the target must be a namespaced resource: {target}"
            ));
        }
        if text("namespace") != own {
            return mismatch(format!(
                "a namespaced policy cannot generate resources in other namespaces, expected: {own}, received: {}",
                text("namespace")
            ));
        }
        let clone = |k: &str| {
            g.pointer(&format!("/clone/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        if !clone("name").is_empty() && clone("namespace") != own {
            return mismatch(format!(
                "a namespaced policy cannot clone resources from other namespaces, expected: {own}, received: {}",
                clone("namespace")
            ));
        }
    }
    let Some(list) = g.get("cloneList").filter(|l| l.get("kinds").is_some()) else {
        for k in ["kind", "name", "apiVersion"] {
            if text(k).is_empty() {
                return Some((at.to_string(), format!("{k} can not be empty")));
            }
        }
        let cluster = cluster_scoped(&format!("{}/{}", text("apiVersion"), text("kind")))?;
        let namespace = !text("namespace").is_empty();
        if !cluster && !namespace {
            return Some((
                at.to_string(),
                "target namespace must be set for a namespaced resource".into(),
            ));
        }
        if cluster && namespace {
            return Some((
                format!("{at}/namespace"),
                "target namespace must not be set for a cluster-wide resource".into(),
            ));
        }
        return None;
    };
    let kinds: Vec<&str> = list
        .get("kinds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let scopes: Vec<Option<bool>> = kinds.iter().map(|k| cluster_scoped(k)).collect();
    if scopes.iter().any(Option::is_none) {
        return None;
    }
    let first = scopes.first().copied().flatten()?;
    if scopes.iter().any(|s| *s != Some(first)) {
        return Some((
            format!("{at}/cloneList/kinds"),
            "mixed scope of target resources is forbidden".into(),
        ));
    }
    let namespace = list
        .get("namespace")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !first && !namespace {
        return Some((
            format!("{at}/cloneList"),
            "namespace is required for namespaced target resources".into(),
        ));
    }
    if first && namespace {
        return Some((
            format!("{at}/cloneList/namespace"),
            "namespace is forbidden for cluster-wide target resources".into(),
        ));
    }
    None
}

/// Kinds that are only ever subresources (`deployments/scale` is a `Scale`).
const SUBRESOURCE_KINDS: [&str; 8] = [
    "Scale",
    "Eviction",
    "Binding",
    "TokenRequest",
    "PodExecOptions",
    "PodAttachOptions",
    "PodPortForwardOptions",
    "PodProxyOptions",
];

fn check_filter(
    rule: &Value,
    filter: &Value,
    at: &str,
    background: bool,
    is_match: bool,
) -> Option<(String, String)> {
    for (k, subject) in filter
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = subject.get("kind").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "User" | "Group" | "ServiceAccount") {
            return Some((
                format!("{at}/subjects/{k}/kind"),
                format!("{kind}: kind must be 'User', 'Group', or 'ServiceAccount'"),
            ));
        }
    }
    if !is_match {
        return None;
    }
    let kinds: Vec<&str> = filter
        .pointer("/resources/kinds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let at_kinds = format!("{at}/resources/kinds");
    if kinds.contains(&"*") {
        if background {
            return Some((
                at_kinds,
                "wildcard policy not allowed in background mode. Set spec.background=false to disable background mode for this policy rule".into(),
            ));
        }
        if kinds.len() > 1 {
            return Some((
                at_kinds,
                "wildcard policy can not deal with more than one kind".into(),
            ));
        }
        let foreach = rule.pointer("/validate/foreach").is_some();
        if rule.get("generate").is_some() || rule.get("verifyImages").is_some() || foreach {
            return Some((
                at_kinds,
                "wildcard policy does not support rule type".into(),
            ));
        }
        let patterns: Vec<&Value> = rule
            .pointer("/validate/pattern")
            .into_iter()
            .chain(
                rule.pointer("/validate/anyPattern")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .collect();
        if patterns.iter().any(|p| {
            p.as_object().is_some_and(|m| {
                m.keys().any(|k| {
                    k.trim_start_matches(['(', '=', '^', 'X', '<', '+'])
                        .trim_end_matches(')')
                        != "metadata"
                })
            })
        }) {
            return Some((
                at_kinds,
                "policy can only deal with the metadata field of the resource if the rule does not match any kind".into(),
            ));
        }
        return None;
    }
    if background {
        for k in &kinds {
            let segments: Vec<&str> = k.split('/').collect();
            let last = segments.last().copied().unwrap_or("");
            let subresource = SUBRESOURCE_KINDS.contains(k)
                || (segments.len() > 1
                    && (last == "*" || last.starts_with(|c: char| c.is_ascii_lowercase()))
                    && segments.get(segments.len() - 2).is_some_and(|kind| {
                        *kind == "*" || kind.starts_with(|c: char| c.is_ascii_uppercase())
                    }));
            if subresource {
                return Some((
                    at_kinds,
                    format!("background scan enabled with subresource {k}"),
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn rule(validate: Value, context: Value) -> Value {
        json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
               "context": context, "validate": validate})
    }

    #[test]
    fn variables_must_name_what_the_rule_reads() {
        let ctx = json!([
            {"name": "cm", "configMap": {"name": "x", "namespace": "y"}},
            {"name": "count", "apiCall": {"urlPath": "/api/v1/pods"}},
        ]);
        let ok = [
            "{{ request.object.metadata.name }}",
            "{{ element.name }} {{ elementIndex }} {{ @ }}",
            "{{ images.containers.*.tag }}",
            "{{ to_upper('x') }}",
            "{{ cm.data.key }} {{ cm.metadata.name }}",
            "{{ count }} {{ count.items[0] }}",
            "\\{{ not.a.variable }}",
        ];
        for m in ok {
            let r = rule(json!({"message": m, "deny": {}}), ctx.clone());
            assert_eq!(check_rule(&r, "/spec/rules/0", true), None, "{m}");
        }
        for (m, background) in [
            ("{{ nothere.value }}", true),
            ("{{ cm.binaryData }}", true),
            ("{{ serviceAccountName }}", true),
        ] {
            let r = rule(json!({"message": m, "deny": {}}), ctx.clone());
            let (p, why) = check_rule(&r, "/spec/rules/0", background).unwrap();
            assert_eq!(p, "/spec/rules/0/validate/message", "{m}");
            assert!(why.starts_with("policy contains invalid variables: variable substitution failed for rule r: variable "), "{why}");
        }
        // outside background mode the requester's service account may be read
        let r = rule(
            json!({"message": "{{ serviceAccountName }}", "deny": {}}),
            json!([]),
        );
        assert_eq!(check_rule(&r, "/spec/rules/0", false), None);
        // attestation conditions read the statements
        let r = json!({"name": "r", "verifyImages": [{"attestations": [{"type": "x", "name": "prov",
            "conditions": [{"all": [{"key": "{{ builder.id }}", "operator": "Equals", "value": "ci"}]}]}]}],
            "validate": {"message": "{{ prov.builder }}"}});
        assert_eq!(check_rule(&r, "/spec/rules/0", true), None);
    }

    #[test]
    fn background_policies_do_not_read_the_requester() {
        let spec = json!({});
        let uses = |v: Value| vec![rule(json!({"message": v, "deny": {}}), json!([]))];
        let (p, why) =
            check_background(&spec, &uses(json!("{{ request.userInfo.username }}"))).unwrap();
        assert_eq!(p, "/spec/rules/0/validate/message");
        assert!(
            why.ends_with("variable request.userInfo is not allowed"),
            "{why}"
        );
        assert!(check_background(&spec, &uses(json!("{{ request.roles }}"))).is_some());
        assert!(
            check_background(&spec, &uses(json!("{{ request.object.metadata.name }}"))).is_none()
        );
        // background off: anything the request holds
        assert!(
            check_background(
                &json!({"background": false}),
                &uses(json!("{{ request.userInfo.username }}"))
            )
            .is_none()
        );
        // a match filter on the requester
        let r = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]},
            "subjects": [{"kind": "User", "name": "bob"}]}]}, "validate": {"deny": {}}});
        let (p, why) = check_background(&spec, &[r]).unwrap();
        assert_eq!(p, "/spec/rules/0/match/any/0/subjects");
        assert!(
            why.ends_with("invalid variable used at path: spec/rules[0]/match/any[0]/subjects"),
            "{why}"
        );
    }
}
