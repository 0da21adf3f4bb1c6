//! Gatekeeper ConstraintTemplates (Rego through regorus, or their `K8sNativeValidation` CEL
//! code) and the constraints that instantiate them.

use crate::cel::{CelPolicy, CelRequest};
use crate::review::{Review, split_api_version};
use crate::selector::{LabelSelector, wildcard_matches};
use crate::{Engine, Mode, PolicyError};
use rampart_manifest::Object;
use rampart_manifest::string_list;
use serde_json::{Value, json};

/// Splits a regorus error (`\n--> file:line:col\n | snippet\nerror: what`) into its position
/// and a one-line message followed by the snippet.
pub(crate) fn rego_error_position(e: &str) -> Option<(String, u32, u32, String)> {
    let arrow = e.lines().find_map(|l| l.trim().strip_prefix("--> "))?;
    let mut parts = arrow.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    let file = parts.next()?.to_string();
    let what = e
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or("invalid Rego");
    let snippet: Vec<&str> = e
        .lines()
        .filter(|l| {
            !l.trim().is_empty() && !l.trim().starts_with("--> ") && !l.starts_with("error: ")
        })
        .collect();
    Some((
        file,
        line,
        column,
        format!("rego: {what}\n{}", snippet.join("\n")),
    ))
}

/// The Rego of a template, compiled and prepared once. An evaluation takes an idle copy of
/// the prepared engine (or clones one) and puts it back when it succeeds: regorus resets its
/// evaluation state on each `eval_rule`, so a reused engine answers as a fresh clone does,
/// without the clone and the per-evaluation tables it allocates.
///
/// Nearly all of an evaluation is regorus' tree-walking interpreter, function calls above all
/// (each one builds path strings, looks the function up by name, clones its binding plans
/// and sets the current module twice). regorus 0.14's bytecode VM (`rvm` feature, a
/// `Compiler::compile_from_policy` program run by `RegoVM`) runs the slow PSP templates 2.2
/// to 2.7 times faster (five of them under 35 µs, `users` 109 µs) but does not keep their
/// meaning, so it is not used:
/// - a `x := expr` statement is no condition there (`compile_single_statement` asserts no
///   `AssignExpr`, and a `:=` binding does not require a defined value), so
///   `x := ref.missing` followed by `not f(x)`, or by nothing, still succeeds; the library's
///   `users` template then reports a group for `RunAsAny` (its `not accept_value(rule, v,
///   params.ranges)` is hoisted to such an assignment, see `rego_compat`);
/// - two definitions of a function or complete rule that yield different values are no
///   error: the result is left undefined, so the violation silently disappears where OPA
///   and the interpreter fail the constraint (tests/cases/runtime_error.yaml). Proving that
///   a template's definitions exclude each other would take an analysis of their guards.
pub(crate) struct RegoProgram {
    engine: regorus::Engine,
    /// Prepared copies of `engine` not in use, for evaluations without `data.inventory`.
    idle: std::sync::Mutex<Vec<regorus::Engine>>,
    rule: String,
    pub(crate) uses_inventory: bool,
}

impl std::fmt::Debug for RegoProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoProgram")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

/// A module's text with its first line placed where it sits in the template file, so that
/// regorus' `file:line:col` points into the YAML.
fn placed(text: &str, line: u32) -> String {
    let pad = line.saturating_sub(1) as usize;
    let mut s = String::with_capacity(text.len() + pad);
    s.extend(std::iter::repeat_n('\n', pad));
    s.push_str(&crate::rego_compat::fix_v0(text));
    s
}

/// First line of a YAML string value: the line after `key: |` for a block scalar.
fn value_line(obj: &Object, pointer: &str) -> u32 {
    let (line, _) = obj.pos.find(&obj.value, pointer).unwrap_or((0, 0));
    let raw = obj
        .value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("");
    // Block scalars start on the line after their key; a quoted or plain value on the same line.
    if raw.contains('\n') { line + 1 } else { line }
}

impl RegoProgram {
    fn compile(obj: &Object, rego_ptr: &str, libs_ptr: &str) -> Result<RegoProgram, String> {
        let file = obj.file.to_string();
        let rego = obj
            .value
            .pointer(rego_ptr)
            .and_then(Value::as_str)
            .ok_or("template has no rego")?;
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        engine.set_strict_builtin_errors(false);
        let mut uses_inventory = rego.contains("data.inventory");
        let mut libs = Vec::new();
        if let Some(all) = obj.value.pointer(libs_ptr).and_then(Value::as_array) {
            for (i, lib) in all.iter().enumerate() {
                let Some(lib) = lib.as_str() else { continue };
                uses_inventory |= lib.contains("data.inventory");
                libs.push(placed(lib, value_line(obj, &format!("{libs_ptr}/{i}"))));
            }
        }
        let main = placed(rego, value_line(obj, rego_ptr));
        // The compat module only where a call still needs it: every module is one more for
        // regorus to search on each function call.
        let needs_compat = std::iter::once(&main)
            .chain(&libs)
            .any(|m| m.contains(crate::rego_compat::COMPAT_CALL));
        let package = engine
            .add_policy(file.clone(), main)
            .map_err(|e| e.to_string())?;
        if needs_compat {
            engine
                .add_policy(
                    "rampart_compat.rego".into(),
                    crate::rego_compat::COMPAT_MODULE.into(),
                )
                .map_err(|e| e.to_string())?;
        }
        for lib in libs {
            engine
                .add_policy(file.clone(), lib)
                .map_err(|e| e.to_string())?;
        }
        let rule = format!("{package}.violation");
        // Prepares the engine (analysis, scheduling) once and checks the rule exists.
        engine.set_input(regorus::Value::new_object());
        engine.eval_rule(rule.clone()).map_err(|e| format!("{e}"))?;
        Ok(RegoProgram {
            engine,
            idle: std::sync::Mutex::new(Vec::new()),
            rule,
            uses_inventory,
        })
    }

    /// The engine with `data.inventory` loaded and prepared.
    pub(crate) fn with_data(&self, data: &regorus::Value) -> Result<regorus::Engine, String> {
        let mut e = self.engine.clone();
        e.add_data(data.clone()).map_err(|e| e.to_string())?;
        e.set_input(regorus::Value::new_object());
        e.eval_rule(self.rule.clone()).map_err(|e| e.to_string())?;
        Ok(e)
    }

    /// Evaluates `violation` on `input`, with `engine` (prepared with data) or the template's
    /// own prepared engine.
    pub(crate) fn eval(
        &self,
        engine: Option<&regorus::Engine>,
        input: regorus::Value,
    ) -> Result<Vec<Value>, String> {
        let mut e = match engine {
            Some(e) => e.clone(),
            None => self
                .idle
                .lock()
                .ok()
                .and_then(|mut idle| idle.pop())
                .unwrap_or_else(|| self.engine.clone()),
        };
        e.set_input(input);
        let v = e.eval_rule(self.rule.clone()).map_err(|e| e.to_string())?;
        if engine.is_none() {
            // Without the review, which it would otherwise keep alive until its next use.
            e.set_input(regorus::Value::Null);
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(e);
            }
        }
        let v = serde_json::to_value(&v).map_err(|e| e.to_string())?;
        Ok(match v {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        })
    }
}

/// A ConstraintTemplate: its constraint kind and compiled engines.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) file: String,
    pub(crate) rego: Option<RegoProgram>,
    pub(crate) cel: Option<CelPolicy>,
}

impl Template {
    pub(crate) fn is_template(obj: &Object) -> bool {
        obj.kind() == "ConstraintTemplate" && obj.group() == "templates.gatekeeper.sh"
    }

    pub(crate) fn compile(obj: &Object) -> Result<Template, PolicyError> {
        let bad = |ptr: &str, message: String| PolicyError::at(obj, ptr, message);
        let kind = obj
            .value
            .pointer("/spec/crd/spec/names/kind")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                bad(
                    "/spec/crd/spec/names",
                    "template has no spec.crd.spec.names.kind".into(),
                )
            })?
            .to_string();
        let targets = obj.value.pointer("/spec/targets").and_then(Value::as_array);
        let Some(targets) = targets.filter(|t| !t.is_empty()) else {
            return Err(bad("/spec", "template has no spec.targets".into()));
        };
        let mut rego = None;
        let mut cel = None;
        for (ti, t) in targets.iter().enumerate() {
            let target = t
                .get("target")
                .and_then(Value::as_str)
                .unwrap_or("admission.k8s.gatekeeper.sh");
            if target != "admission.k8s.gatekeeper.sh" {
                continue;
            }
            let base = format!("/spec/targets/{ti}");
            if t.get("rego")
                .and_then(Value::as_str)
                .is_some_and(|r| !r.trim().is_empty())
            {
                let p = RegoProgram::compile(obj, &format!("{base}/rego"), &format!("{base}/libs"))
                    .map_err(|m| bad(&format!("{base}/rego"), m))?;
                rego = Some(p);
            }
            for (ci, code) in t
                .get("code")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let cbase = format!("{base}/code/{ci}/source");
                match code.get("engine").and_then(Value::as_str) {
                    Some("Rego") if rego.is_none() => {
                        let p = RegoProgram::compile(
                            obj,
                            &format!("{cbase}/rego"),
                            &format!("{cbase}/libs"),
                        )
                        .map_err(|m| bad(&format!("{cbase}/rego"), m))?;
                        rego = Some(p);
                    }
                    Some("K8sNativeValidation") => {
                        let src = code.get("source").unwrap_or(&Value::Null);
                        cel = Some(CelPolicy::compile(src).map_err(|m| bad(&cbase, m))?);
                    }
                    _ => {}
                }
            }
        }
        if rego.is_none() && cel.is_none() {
            return Err(bad(
                "/spec/targets",
                "template has no Rego or K8sNativeValidation code".into(),
            ));
        }
        Ok(Template {
            kind,
            name: obj.name().to_string(),
            file: obj.file.to_string(),
            rego,
            cel,
        })
    }
}

/// `spec.match` of a constraint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Match {
    kinds: Vec<(Vec<String>, Vec<String>)>,
    scope: String,
    namespaces: Vec<String>,
    excluded_namespaces: Vec<String>,
    label_selector: Option<LabelSelector>,
    namespace_selector: Option<LabelSelector>,
    name: String,
}

impl Match {
    /// The kinds matched, as `group/*/Kind` selectors (`*` for a group or kind wildcard, and
    /// `*` alone when the match names no kinds: every kind).
    pub(crate) fn kind_selectors(&self) -> Vec<String> {
        if self.kinds.is_empty() {
            return vec!["*".into()];
        }
        let mut out = Vec::new();
        for (groups, kinds) in &self.kinds {
            let groups: Vec<&str> = if groups.is_empty() {
                vec!["*"]
            } else {
                groups.iter().map(String::as_str).collect()
            };
            let kinds: Vec<&str> = if kinds.is_empty() {
                vec!["*"]
            } else {
                kinds.iter().map(String::as_str).collect()
            };
            for g in &groups {
                for k in &kinds {
                    out.push(format!("{g}/*/{k}"));
                }
            }
        }
        out
    }

    pub(crate) fn parse(v: Option<&Value>) -> Result<Match, String> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(Match::default());
        };
        let kinds = v
            .get("kinds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|k| (string_list(k.get("apiGroups")), string_list(k.get("kinds"))))
                    .collect()
            })
            .unwrap_or_default();
        let sel = |k: &str| {
            v.get(k)
                .filter(|s| !s.is_null())
                .map(LabelSelector::parse)
                .transpose()
                .map_err(|e| format!("{k}: {e}"))
        };
        Ok(Match {
            kinds,
            scope: v
                .get("scope")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string(),
            namespaces: string_list(v.get("namespaces")),
            excluded_namespaces: string_list(v.get("excludedNamespaces")),
            label_selector: sel("labelSelector")?,
            namespace_selector: sel("namespaceSelector")?,
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        })
    }

    /// Gatekeeper's `Matches` for one object; `ns` is the object's Namespace, when known.
    pub(crate) fn matches(&self, obj: &Value, ns: Option<&Value>) -> bool {
        let (group, _) =
            split_api_version(obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""));
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let meta = obj.get("metadata");
        let obj_ns = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let labels = meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        let is_namespace = kind == "Namespace" && group.is_empty();
        let has = |list: &[String], x: &str| list.iter().any(|s| s == "*" || s == x);
        if !self.kinds.is_empty()
            && !self
                .kinds
                .iter()
                .any(|(g, k)| (k.is_empty() || has(k, kind)) && (g.is_empty() || has(g, group)))
        {
            return false;
        }
        let has_namespace = !obj_ns.is_empty() || ns.is_some();
        match self.scope.as_str() {
            "Cluster" if !is_namespace && has_namespace => return false,
            "Namespaced" if is_namespace || !has_namespace => return false,
            _ => {}
        }
        let ns_name = if is_namespace {
            Some(name)
        } else {
            ns.and_then(|n| n.pointer("/metadata/name"))
                .and_then(Value::as_str)
                .or(Some(obj_ns).filter(|s| !s.is_empty()))
        };
        if let Some(n) = ns_name {
            if !self.namespaces.is_empty()
                && !self.namespaces.iter().any(|w| wildcard_matches(w, n))
            {
                return false;
            }
            if self
                .excluded_namespaces
                .iter()
                .any(|w| wildcard_matches(w, n))
            {
                return false;
            }
        }
        if let Some(s) = &self.label_selector
            && !s.matches(labels)
        {
            return false;
        }
        if let Some(s) = &self.namespace_selector {
            if is_namespace {
                if !s.matches(labels) {
                    return false;
                }
            } else if has_namespace {
                // A namespaced object whose Namespace is unknown cannot be selected.
                let Some(ns) = ns else { return false };
                if !s.matches(ns.pointer("/metadata/labels").and_then(Value::as_object)) {
                    return false;
                }
            }
        }
        self.name.is_empty() || wildcard_matches(&self.name, name)
    }
}

/// A constraint: an instance of a template kind with match, parameters and enforcement.
#[derive(Debug)]
pub(crate) struct Constraint {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) matcher: Match,
    pub(crate) parameters: Option<Value>,
    rego_parameters: Option<regorus::Value>,
    pub(crate) mode: Mode,
}

impl Constraint {
    pub(crate) fn is_constraint(obj: &Object) -> bool {
        obj.group() == "constraints.gatekeeper.sh"
    }

    pub(crate) fn parse(obj: &Object) -> Result<Constraint, PolicyError> {
        let matcher = Match::parse(obj.value.pointer("/spec/match"))
            .map_err(|m| PolicyError::at(obj, "/spec/match", m))?;
        let action = obj
            .value
            .pointer("/spec/enforcementAction")
            .and_then(Value::as_str)
            .unwrap_or("deny");
        let mode = match action.to_ascii_lowercase().as_str() {
            "" | "deny" => Mode::Deny,
            "warn" => Mode::Warn,
            "dryrun" => Mode::DryRun,
            // `scoped` actions name enforcement points; the webhook's point decides.
            "scoped" => scoped_mode(obj.value.pointer("/spec/scopedEnforcementActions")),
            other => {
                return Err(PolicyError::at(
                    obj,
                    "/spec/enforcementAction",
                    format!(
                        "unknown enforcementAction `{other}`, expected deny, dryrun, warn or scoped"
                    ),
                ));
            }
        };
        Ok(Constraint {
            kind: obj.kind().to_string(),
            name: obj.name().to_string(),
            matcher,
            rego_parameters: obj
                .value
                .pointer("/spec/parameters")
                .map(crate::review::rego_value),
            parameters: obj.value.pointer("/spec/parameters").cloned(),
            mode,
        })
    }

    /// Whether the review's object or old object is selected.
    pub(crate) fn matches(&self, review: &Review, ns: Option<&Value>) -> bool {
        [review.object(), review.old_object()]
            .into_iter()
            .flatten()
            .any(|o| self.matcher.matches(o, ns))
    }
}

fn scoped_mode(v: Option<&Value>) -> Mode {
    let mut best = Mode::DryRun;
    for a in v.and_then(Value::as_array).into_iter().flatten() {
        let m = match a
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "deny" => Mode::Deny,
            "warn" => Mode::Warn,
            _ => Mode::DryRun,
        };
        best = best.max(m);
    }
    best
}

/// One raw result of a template on a review.
#[derive(Debug, Clone)]
pub(crate) struct RawViolation {
    pub(crate) message: String,
    pub(crate) details: Value,
}

/// Runs a template's chosen engine for one constraint.
pub(crate) fn run(
    template: &Template,
    engine: Engine,
    rego_engine: Option<&regorus::Engine>,
    constraint: &Constraint,
    review: &Review,
    rego_review: &std::cell::OnceCell<regorus::Value>,
    cel_request: &CelRequest<'_>,
) -> Result<Vec<RawViolation>, String> {
    let use_cel = template.cel.is_some() && (engine == Engine::Cel || template.rego.is_none());
    if use_cel {
        let Some(cel) = &template.cel else {
            return Ok(Vec::new());
        };
        let empty = json!({});
        let params = constraint.parameters.as_ref().unwrap_or(&empty);
        let out = cel.evaluate_shared(cel_request, Some(params), true);
        if let Some(e) = out.errors.into_iter().next() {
            return Err(e);
        }
        return Ok(out
            .failures
            .into_iter()
            .map(|f| RawViolation {
                message: f.message,
                details: json!({}),
            })
            .collect());
    }
    let Some(rego) = &template.rego else {
        return Ok(Vec::new());
    };
    // The review is converted once per request and shared by every constraint.
    let mut input = std::collections::BTreeMap::new();
    input.insert(
        regorus::Value::from("review"),
        rego_review
            .get_or_init(|| crate::review::rego_value(&review.request))
            .clone(),
    );
    if let Some(p) = &constraint.rego_parameters {
        input.insert(regorus::Value::from("parameters"), p.clone());
    }
    let results = rego.eval(rego_engine, regorus::Value::from(input))?;
    Ok(results
        .into_iter()
        .map(|r| {
            let message = match r.get("msg") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let details = r.get("details").cloned().unwrap_or_else(|| json!({}));
            RawViolation { message, details }
        })
        .collect())
}
