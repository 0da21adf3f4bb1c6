//! CEL evaluation shared by ValidatingAdmissionPolicies and Gatekeeper's `K8sNativeValidation`
//! engine: compiled once, evaluated with `object`, `oldObject`, `request`, `params`,
//! `namespaceObject` and `variables` bound.

use kube_cel::KubeCelExt;
use kube_cel::cel::objects::{Key, Map as CelMap};
use kube_cel::cel::{Context, Program, Value as CelValue};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A compiled CEL expression with its source text.
pub(crate) struct Expr {
    pub(crate) src: String,
    program: Program,
    /// The expression uses the `variables` map itself, not only `variables.NAME`.
    needs_map: bool,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.src)
    }
}

/// Prefix of the identifier each variable is bound to (see [`direct_variables`]).
const VAR_PREFIX: &str = "rampart_var_";

/// Rewrites `variables.NAME` to a direct identifier `rampart_var_NAME`, outside string
/// literals. The cel crate converts a bound value deeply on every access, so one map holding
/// every variable would be converted whole at each use; a variable of its own is not.
/// `has(variables.NAME)` keeps the map form; the flag says whether any map use remains.
fn direct_variables(src: &str) -> (String, bool) {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut needs_map = false;
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while let Some(&c) = b.get(i) {
        if let Some(q) = quote {
            out.push(c as char);
            if c == b'\\' {
                if let Some(&n) = b.get(i + 1) {
                    out.push(n as char);
                    i += 1;
                }
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            quote = Some(c);
            out.push(c as char);
            i += 1;
            continue;
        }
        let rest = src.get(i..).unwrap_or("");
        let boundary = i == 0
            || b.get(i - 1)
                .is_some_and(|&p| !(p.is_ascii_alphanumeric() || p == b'_' || p == b'.'));
        if boundary && rest.starts_with("variables") {
            let after = rest.get("variables".len()..).unwrap_or("");
            let ident: String = after
                .strip_prefix('.')
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let in_has = out.trim_end().ends_with("has(");
            if !ident.is_empty() && !in_has {
                out.push_str(VAR_PREFIX);
                out.push_str(&ident);
                i += "variables.".len() + ident.len();
                continue;
            }
            if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                needs_map = true;
            }
        }
        // Copy one whole UTF-8 character.
        let ch = rest.chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    (out, needs_map)
}

impl Expr {
    pub(crate) fn compile(src: &str) -> Result<Expr, String> {
        let (rewritten, needs_map) = direct_variables(src);
        Program::compile(&rewritten)
            .map(|program| Expr {
                src: src.to_string(),
                program,
                needs_map,
            })
            .map_err(|e| format!("compiling CEL expression `{}`: {e}", src.trim()))
    }
}

#[derive(Debug)]
pub(crate) struct Validation {
    pub(crate) expr: Expr,
    pub(crate) message: Option<String>,
    pub(crate) message_expr: Option<Expr>,
    pub(crate) reason: Option<String>,
}

/// The CEL parts of a policy: match conditions, variables, validations, audit annotations.
#[derive(Debug, Default)]
pub(crate) struct CelPolicy {
    pub(crate) match_conditions: Vec<(String, Expr)>,
    pub(crate) variables: Vec<(String, Expr)>,
    pub(crate) validations: Vec<Validation>,
    pub(crate) audit_annotations: Vec<(String, Expr)>,
}

/// What the expressions see.
#[derive(Debug, Default)]
pub(crate) struct CelInput<'a> {
    pub(crate) object: Option<&'a Value>,
    pub(crate) old_object: Option<&'a Value>,
    pub(crate) request: Option<&'a Value>,
    pub(crate) params: Option<&'a Value>,
    pub(crate) namespace_object: Option<&'a Value>,
    /// Variables bound before the policy's own (Gatekeeper's `params` and `anyObject`).
    pub(crate) preset_variables: Vec<(&'static str, Value)>,
}

/// One failed validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) reason: String,
}

#[derive(Debug, Default)]
pub(crate) struct CelOutcome {
    /// False when a match condition evaluated to false: the policy does not apply.
    pub(crate) applies: bool,
    pub(crate) failures: Vec<Failure>,
    /// Evaluation errors (subject to the failure policy).
    pub(crate) errors: Vec<String>,
    pub(crate) annotations: Vec<(String, String)>,
}

thread_local! {
    static BASE: Context<'static> = base_context();
}

fn base_context() -> Context<'static> {
    let mut ctx = Context::default().with_all();
    // `dyn()` only changes the static type; the value passes through.
    ctx.add_function("dyn", dyn_identity);
    ctx
}

fn dyn_identity(v: CelValue) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    Ok(v)
}

impl CelPolicy {
    /// Compiles the CEL parts of a VAP-shaped `spec` (or a Gatekeeper CEL `source`).
    pub(crate) fn compile(spec: &Value) -> Result<CelPolicy, String> {
        let list = |k: &str| {
            spec.get(k)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let mut p = CelPolicy::default();
        for m in list("matchConditions") {
            let expr = s(m, "expression").ok_or("matchConditions entry needs an expression")?;
            p.match_conditions
                .push((s(m, "name").unwrap_or_default(), Expr::compile(&expr)?));
        }
        for v in list("variables") {
            let name = s(v, "name").ok_or("variables entry needs a name")?;
            let expr = s(v, "expression")
                .ok_or_else(|| format!("variable `{name}` needs an expression"))?;
            p.variables.push((name, Expr::compile(&expr)?));
        }
        for v in list("validations") {
            let expr = s(v, "expression").ok_or("validations entry needs an expression")?;
            p.validations.push(Validation {
                expr: Expr::compile(&expr)?,
                message: s(v, "message").filter(|m| !m.is_empty()),
                message_expr: s(v, "messageExpression")
                    .map(|m| Expr::compile(&m))
                    .transpose()?,
                reason: s(v, "reason"),
            });
        }
        for a in list("auditAnnotations") {
            let key = s(a, "key").ok_or("auditAnnotations entry needs a key")?;
            let expr = s(a, "valueExpression")
                .ok_or_else(|| format!("audit annotation `{key}` needs a valueExpression"))?;
            p.audit_annotations.push((key, Expr::compile(&expr)?));
        }
        Ok(p)
    }

    fn sources(&self) -> impl Iterator<Item = &str> {
        self.match_conditions
            .iter()
            .chain(&self.variables)
            .chain(&self.audit_annotations)
            .map(|(_, e)| e.src.as_str())
            .chain(self.validations.iter().flat_map(|v| {
                std::iter::once(v.expr.src.as_str())
                    .chain(v.message_expr.as_ref().map(|m| m.src.as_str()))
            }))
    }

    /// Whether any expression uses the `variables` map as a whole.
    fn needs_map(&self) -> bool {
        self.match_conditions
            .iter()
            .map(|(_, e)| e)
            .chain(self.variables.iter().map(|(_, e)| e))
            .any(|e| e.needs_map)
            || self
                .validations
                .iter()
                .any(|v| v.expr.needs_map || v.message_expr.as_ref().is_some_and(|m| m.needs_map))
            || self.audit_annotations.iter().any(|(_, e)| e.needs_map)
    }

    pub(crate) fn evaluate(&self, input: &CelInput<'_>) -> CelOutcome {
        BASE.with(|base| self.evaluate_in(base, input))
    }

    fn evaluate_in(&self, base: &Context<'static>, input: &CelInput<'_>) -> CelOutcome {
        let mut ctx = base.new_inner_scope();
        // Binding converts the whole value, so only the names the expressions mention are bound.
        let used = |name: &str| self.sources().any(|s| s.contains(name));
        let bind = |ctx: &mut Context<'_>, name: &str, v: Option<&Value>| {
            if used(name) {
                ctx.add_variable_from_value(name, v.map(json_to_cel).unwrap_or(CelValue::Null));
            }
        };
        bind(&mut ctx, "object", input.object);
        bind(&mut ctx, "oldObject", input.old_object);
        // CEL's `request` carries the request's attributes; the objects are `object` and
        // `oldObject`.
        let request = match input.request.filter(|_| used("request")) {
            Some(Value::Object(m)) => {
                let attrs: HashMap<Key, CelValue> = m
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "object" | "oldObject"))
                    .map(|(k, v)| (key(k), json_to_cel(v)))
                    .collect();
                CelValue::Map(CelMap {
                    map: Arc::new(attrs),
                })
            }
            Some(other) => json_to_cel(other),
            None => CelValue::Null,
        };
        ctx.add_variable_from_value("request", request);
        bind(&mut ctx, "params", input.params);
        bind(&mut ctx, "namespaceObject", input.namespace_object);
        let mut out = CelOutcome {
            applies: true,
            ..CelOutcome::default()
        };
        let needs_map = self.needs_map();
        let mut vars: HashMap<Key, CelValue> = HashMap::new();
        for (k, v) in &input.preset_variables {
            if !needs_map && !used(&format!("variables.{k}")) {
                continue;
            }
            let v = json_to_cel(v);
            if needs_map {
                vars.insert(key(k), v.clone());
            }
            ctx.add_variable_from_value(format!("{VAR_PREFIX}{k}"), v);
        }
        if needs_map {
            ctx.add_variable_from_value(
                "variables",
                CelValue::Map(CelMap {
                    map: Arc::new(vars.clone()),
                }),
            );
        }
        for (name, cond) in &self.match_conditions {
            match cond.program.execute(&ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => {
                    out.applies = false;
                    return out;
                }
                Ok(other) => out.errors.push(format!(
                    "match condition `{name}` returned {other:?}, not a bool"
                )),
                Err(e) => out.errors.push(format!("match condition `{name}`: {e}")),
            }
        }
        if !out.errors.is_empty() {
            return out;
        }
        // Variables are bound in order; a variable may use those before it.
        let mut var_errors: Vec<(String, String)> = Vec::new();
        for (name, expr) in &self.variables {
            match expr.program.execute(&ctx) {
                Ok(v) => {
                    if needs_map {
                        vars.insert(key(name), v.clone());
                        ctx.add_variable_from_value(
                            "variables",
                            CelValue::Map(CelMap {
                                map: Arc::new(vars.clone()),
                            }),
                        );
                    }
                    ctx.add_variable_from_value(format!("{VAR_PREFIX}{name}"), v);
                }
                Err(e) => var_errors.push((name.clone(), e.to_string())),
            }
        }
        // A failed variable only matters to the expressions that use it; name it there.
        let why = |src: &str| -> String {
            var_errors
                .iter()
                .filter(|(n, _)| src.contains(&format!("variables.{n}")))
                .map(|(n, e)| format!(" (variable `{n}`: {e})"))
                .collect()
        };
        for v in &self.validations {
            match v.expr.program.execute(&ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => {
                    let from_expr =
                        v.message_expr
                            .as_ref()
                            .and_then(|m| match m.program.execute(&ctx) {
                                Ok(CelValue::String(s))
                                    if !s.trim().is_empty() && !s.contains('\n') =>
                                {
                                    Some(s.to_string())
                                }
                                _ => None,
                            });
                    let message = from_expr
                        .or_else(|| v.message.clone())
                        .unwrap_or_else(|| format!("failed expression: {}", v.expr.src.trim()));
                    out.failures.push(Failure {
                        message,
                        reason: v.reason.clone().unwrap_or_else(|| "Invalid".into()),
                    });
                }
                Ok(other) => out.errors.push(format!(
                    "expression '{}' resulted in error: returned {other:?}, not a bool",
                    v.expr.src.trim()
                )),
                Err(e) => {
                    out.errors.push(format!(
                        "expression '{}' resulted in error: {e}{}",
                        v.expr.src.trim(),
                        why(&v.expr.src)
                    ));
                }
            }
        }
        for (k, expr) in &self.audit_annotations {
            match expr.program.execute(&ctx) {
                Ok(CelValue::String(s)) => out.annotations.push((k.clone(), s.to_string())),
                Ok(CelValue::Null) => {}
                Ok(other) => out.errors.push(format!(
                    "audit annotation `{k}` returned {other:?}, not a string"
                )),
                Err(e) => out.errors.push(format!("audit annotation `{k}`: {e}")),
            }
        }
        out
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_string()))
}

/// JSON as CEL sees it: integers stay integers, objects are string-keyed maps.
pub fn json_to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => CelValue::Int(i),
            (None, Some(u), _) => CelValue::UInt(u),
            (_, _, Some(f)) => CelValue::Float(f),
            _ => CelValue::Null,
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(a) => CelValue::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<Key, CelValue> =
                m.iter().map(|(k, v)| (key(k), json_to_cel(v))).collect();
            CelValue::Map(CelMap { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_chain_and_messages() {
        let p = CelPolicy::compile(&json!({
            "variables": [
                {"name": "n", "expression": "object.spec.replicas"},
                {"name": "tooMany", "expression": "variables.n > params.max"}
            ],
            "validations": [
                {"expression": "!variables.tooMany", "messageExpression": "'replicas ' + string(variables.n) + ' over ' + string(params.max)"},
                {"expression": "has(object.metadata.labels)", "message": "labels required", "reason": "Forbidden"}
            ]
        }))
        .unwrap();
        let obj = json!({"metadata": {"name": "x"}, "spec": {"replicas": 5}});
        let params = json!({"max": 3});
        let out = p.evaluate(&CelInput {
            object: Some(&obj),
            params: Some(&params),
            ..CelInput::default()
        });
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.failures.len(), 2);
        assert_eq!(out.failures[0].message, "replicas 5 over 3");
        assert_eq!(out.failures[1].reason, "Forbidden");
    }

    #[test]
    fn variables_are_bound_directly() {
        assert_eq!(
            direct_variables(
                "variables.a + size(variables.b_2) + 'variables.x' + has(variables.c)"
            ),
            (
                "rampart_var_a + size(rampart_var_b_2) + 'variables.x' + has(variables.c)"
                    .to_string(),
                true
            )
        );
        assert!(direct_variables("variables").1);
        assert!(!direct_variables("variables.a.b + myvariables.x").1);
        let p = CelPolicy::compile(&json!({
            "variables": [{"name": "c", "expression": "1"}],
            "validations": [{"expression": "has(variables.c) && variables.c == 2", "message": "c"}]
        }))
        .unwrap();
        let out = p.evaluate(&CelInput::default());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.failures.len(), 1);
    }

    #[test]
    fn match_condition_false_skips() {
        let p = CelPolicy::compile(&json!({
            "matchConditions": [{"name": "only-create", "expression": "request.operation == 'CREATE'"}],
            "validations": [{"expression": "false"}]
        }))
        .unwrap();
        let req = json!({"operation": "UPDATE"});
        let out = p.evaluate(&CelInput {
            request: Some(&req),
            ..CelInput::default()
        });
        assert!(!out.applies);
        assert!(CelPolicy::compile(&json!({"validations": [{"expression": "1 +"}]})).is_err());
    }
}
