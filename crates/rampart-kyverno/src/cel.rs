//! CEL expressions for `validate.cel` rules and the `policies.kyverno.io` policy kinds, on the
//! `cel` engine with the Kubernetes libraries (kube-cel), optional syntax enabled.

use kube_cel::KubeCelExt;
use kube_cel::cel::common::ast::IdedExpr;
use kube_cel::cel::objects::{Key, Map as CelMap};
use kube_cel::cel::parser::Parser;
use kube_cel::cel::{Context, Value as CelValue};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A compiled expression.
pub struct Expr {
    pub src: String,
    expr: IdedExpr,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.src)
    }
}

impl Expr {
    pub fn compile(src: &str) -> Result<Expr, String> {
        Parser::default()
            .enable_optional_syntax(true)
            .parse(&optional_selects_as_index(src))
            .map(|expr| Expr {
                src: src.to_string(),
                expr,
            })
            .map_err(|e| format!("compiling CEL expression `{}`: {e}", src.trim()))
    }

    pub fn eval(&self, ctx: &Context<'_>) -> Result<CelValue, String> {
        CelValue::resolve(&self.expr, ctx).map_err(|e| e.to_string())
    }
}

/// Rewrites `x.?field` to `x[?"field"]`: the same meaning in CEL, and the cel crate's optional
/// index returns `optional.none()` for a missing key where its optional select fails.
fn optional_selects_as_index(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            out.push(c);
            continue;
        }
        if c == '.' && chars.peek() == Some(&'?') {
            let mut look = chars.clone();
            look.next();
            let ident: String = look.clone().take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_').collect();
            if !ident.is_empty() && !ident.starts_with(|ch: char| ch.is_ascii_digit()) {
                chars.next();
                for _ in 0..ident.len() {
                    chars.next();
                }
                out.push_str("[?\"");
                out.push_str(&ident);
                out.push_str("\"]");
                continue;
            }
        }
        out.push(c);
    }
    out
}

thread_local! {
    static BASE: Context<'static> = base_context();
}

fn base_context() -> Context<'static> {
    let mut ctx = Context::default().with_all();
    ctx.add_function("dyn", |v: CelValue| -> Result<CelValue, kube_cel::cel::ExecutionError> { Ok(v) });
    ctx
}

/// The bindings a CEL program sees.
#[derive(Default)]
pub struct Bindings<'a> {
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    pub request: Option<&'a Value>,
    pub namespace_object: Option<Value>,
    pub params: Option<&'a Value>,
}

/// A validation: expression and message.
pub struct Validation {
    pub expr: Expr,
    pub message: Option<String>,
}

/// Compiled CEL checks: match conditions, variables, validations.
#[derive(Default)]
pub struct CelChecks {
    pub match_conditions: Vec<Expr>,
    pub variables: Vec<(String, Expr)>,
    pub validations: Vec<Validation>,
}

/// What evaluating [`CelChecks`] gave.
#[derive(Debug, PartialEq, Eq)]
pub enum CelOutcome {
    NotApplicable,
    Pass,
    Fail(String),
    Error(String),
}

impl CelChecks {
    /// Compiles from `matchConditions`, `variables` and a validations list under `vkey`.
    pub fn compile(spec: &Value, vkey: &str) -> Result<CelChecks, String> {
        let list = |k: &str| spec.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let mut out = CelChecks::default();
        for m in list("matchConditions") {
            out.match_conditions.push(Expr::compile(&s(&m, "expression").unwrap_or_default())?);
        }
        for v in list("variables") {
            out.variables.push((
                s(&v, "name").unwrap_or_default(),
                Expr::compile(&s(&v, "expression").unwrap_or_default())?,
            ));
        }
        for v in list(vkey) {
            out.validations.push(Validation {
                expr: Expr::compile(&s(&v, "expression").unwrap_or_default())?,
                message: s(&v, "message"),
            });
        }
        Ok(out)
    }

    pub fn evaluate(&self, b: &Bindings<'_>) -> CelOutcome {
        BASE.with(|base| self.evaluate_in(base, b))
    }

    fn evaluate_in(&self, base: &Context<'static>, b: &Bindings<'_>) -> CelOutcome {
        let mut ctx = base.new_inner_scope();
        let bind = |ctx: &mut Context<'_>, name: &str, v: Option<&Value>| {
            ctx.add_variable_from_value(name, v.map(json_to_cel).unwrap_or(CelValue::Null));
        };
        bind(&mut ctx, "object", b.object);
        bind(&mut ctx, "oldObject", b.old_object);
        bind(&mut ctx, "request", b.request);
        bind(&mut ctx, "namespaceObject", b.namespace_object.as_ref());
        bind(&mut ctx, "params", b.params);
        let mut vars: HashMap<Key, CelValue> = HashMap::new();
        ctx.add_variable_from_value("variables", CelValue::Map(CelMap { map: Arc::new(vars.clone()) }));
        for m in &self.match_conditions {
            match m.eval(&ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => return CelOutcome::NotApplicable,
                Ok(_) => return CelOutcome::Error(format!("match condition `{}` is not a bool", m.src.trim())),
                Err(e) => return CelOutcome::Error(e),
            }
        }
        let mut var_errors: Vec<(String, String)> = Vec::new();
        for (name, e) in &self.variables {
            match e.eval(&ctx) {
                Ok(v) => {
                    vars.insert(Key::String(Arc::new(name.clone())), v);
                    ctx.add_variable_from_value(
                        "variables",
                        CelValue::Map(CelMap { map: Arc::new(vars.clone()) }),
                    );
                }
                Err(err) => var_errors.push((name.clone(), err)),
            }
        }
        for v in &self.validations {
            match v.expr.eval(&ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => {
                    return CelOutcome::Fail(
                        v.message.clone().unwrap_or_else(|| format!("failed expression: {}", v.expr.src.trim())),
                    );
                }
                Ok(other) => return CelOutcome::Error(format!("expression returned {other:?}, not a bool")),
                Err(e) => {
                    let why: String = var_errors
                        .iter()
                        .filter(|(n, _)| v.expr.src.contains(&format!("variables.{n}")))
                        .map(|(n, e)| format!(" (variable `{n}`: {e})"))
                        .collect();
                    return CelOutcome::Error(format!("{e}{why}"));
                }
            }
        }
        CelOutcome::Pass
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_string()))
}

/// JSON as CEL sees it.
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
            let map: HashMap<Key, CelValue> = m.iter().map(|(k, v)| (key(k), json_to_cel(v))).collect();
            CelValue::Map(CelMap { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn optional_syntax_and_variables() {
        let c = CelChecks::compile(
            &json!({
                "variables": [{"name": "cs", "expression": "object.spec.containers + object.spec.?initContainers.orValue([])"}],
                "validations": [{"expression": "variables.cs.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))", "message": "no"}]
            }),
            "validations",
        )
        .unwrap();
        let good = json!({"spec": {"containers": [{"name": "a"}]}});
        let bad = json!({"spec": {"containers": [{"name": "a", "ports": [{"hostPort": 80}]}]}});
        assert_eq!(c.evaluate(&Bindings { object: Some(&good), ..Bindings::default() }), CelOutcome::Pass);
        assert_eq!(c.evaluate(&Bindings { object: Some(&bad), ..Bindings::default() }), CelOutcome::Fail("no".into()));
    }
}
