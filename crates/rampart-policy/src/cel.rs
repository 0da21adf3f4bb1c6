//! CEL evaluation shared by ValidatingAdmissionPolicies and Gatekeeper's `K8sNativeValidation`
//! engine: compiled once, evaluated with `object`, `oldObject`, `request`, `params`,
//! `namespaceObject` and `variables` bound.

use kube_cel::KubeCelExt;
use kube_cel::cel::common::ast::IdedExpr;
use kube_cel::cel::objects::{Key, Map as CelMap};
use kube_cel::cel::parser::Parser;
use kube_cel::cel::{Context, Value as CelValue};
use serde_json::Value;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// A compiled CEL expression with its source text.
pub(crate) struct Expr {
    pub(crate) src: String,
    /// The parsed expression, field selections strict (see [`strict_selects`]).
    program: IdedExpr,
    /// How the expression uses the `variables` map itself (beyond `variables.NAME`).
    map_use: MapUse,
    /// The names it reads as `variables.NAME` (bound directly, see [`direct_variables`]).
    direct: Vec<String>,
}

/// How an expression uses the `variables` map as a whole. Ordered: a policy needs the most
/// any of its expressions needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum MapUse {
    /// Only `variables.NAME`, bound as identifiers of their own.
    #[default]
    None,
    /// `has(variables.NAME)`: which names are bound, not their values.
    Has,
    /// The map itself (`variables`, `variables[...]`): names and values.
    Whole,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.src)
    }
}

/// Prefix of the identifier each variable is bound to (see [`direct_variables`]).
pub const VAR_PREFIX: &str = "rampart_var_";

/// Rewrites `variables.NAME` to a direct identifier `rampart_var_NAME`, outside string
/// literals. The cel crate converts a bound value deeply when it is bound and copies the part
/// selected at each field access, so one map holding every variable would be converted whole
/// each time a variable is added; a variable of its own is not. `has(variables.NAME)` keeps
/// the map form (it asks whether NAME is bound); `has(variables.NAME.field)` does not. Returns
/// the rewritten source, how the map form is still used, and the names read directly.
pub fn direct_variables(src: &str) -> (String, MapUse, Vec<String>) {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut map_use = MapUse::None;
    let mut direct: Vec<String> = Vec::new();
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
            // `has(variables.NAME)` tests the map's key; `has(variables.NAME.f)` tests `f`.
            let has_of_name = out.trim_end().ends_with("has(")
                && after
                    .get(1 + ident.len()..)
                    .is_some_and(|r| r.trim_start().starts_with(')'));
            if !ident.is_empty() && !has_of_name {
                out.push_str(VAR_PREFIX);
                out.push_str(&ident);
                i += "variables.".len() + ident.len();
                if !direct.contains(&ident) {
                    direct.push(ident);
                }
                continue;
            }
            if has_of_name && !ident.is_empty() {
                map_use = map_use.max(MapUse::Has);
            } else if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                map_use = MapUse::Whole;
            }
        }
        // Copy one whole UTF-8 character.
        let ch = rest.chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    (out, map_use, direct)
}

/// Visits every node of an expression, children first (a node's rewrite sees its children
/// rewritten).
pub fn visit_post_order(e: &mut IdedExpr, f: &mut dyn FnMut(&mut IdedExpr)) {
    use kube_cel::cel::common::ast::{EntryExpr, Expr as Ast};
    match &mut e.expr {
        Ast::Select(sel) => visit_post_order(&mut sel.operand, f),
        Ast::Call(c) => {
            if let Some(t) = c.target.as_deref_mut() {
                visit_post_order(t, f);
            }
            for a in &mut c.args {
                visit_post_order(a, f);
            }
        }
        Ast::Comprehension(c) => {
            for x in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ] {
                visit_post_order(x, f);
            }
        }
        Ast::List(l) => {
            for x in &mut l.elements {
                visit_post_order(x, f);
            }
        }
        Ast::Map(m) => {
            for entry in &mut m.entries {
                if let EntryExpr::MapEntry(me) = &mut entry.expr {
                    visit_post_order(&mut me.key, f);
                    visit_post_order(&mut me.value, f);
                }
            }
        }
        _ => {}
    }
    f(e);
}

/// The text of a CEL evaluation error. The cel crate says only "No such overload" where a
/// field is read from null or from a value that is no map, or an operator meets types it does
/// not take; the text says which.
pub fn error_text(e: &kube_cel::cel::ExecutionError) -> String {
    let text = e.to_string();
    if text == "No such overload" {
        format!(
            "{text} (a field of null or of a value that is no map, or an operator on types it does not take)"
        )
    } else {
        text
    }
}

/// Field selections (`a.b`) as index operations (`a['b']`), which fail as CEL does on a value
/// that is no map (`null.b`, `'text'.b`: an error) and carry an optional along (`a.?b.c`);
/// the cel crate's own selection answers `false` for any of those. `has(a.b)` is left as it is.
pub fn strict_selects(e: &mut IdedExpr) {
    use kube_cel::cel::common::ast::{CallExpr, Expr as Ast, LiteralValue};
    visit_post_order(e, &mut |e| {
        let id = e.id;
        let Ast::Select(sel) = &mut e.expr else {
            return;
        };
        if sel.test {
            return;
        }
        let operand = std::mem::take(&mut *sel.operand);
        let field = std::mem::take(&mut sel.field);
        e.expr = Ast::Call(CallExpr {
            func_name: kube_cel::cel::common::ast::operators::INDEX.to_string(),
            target: None,
            args: vec![
                operand,
                IdedExpr {
                    id,
                    expr: Ast::Literal(LiteralValue::String(field.into())),
                },
            ],
        });
    });
}

/// Rewrites `x.?field` to `x[?"field"]`: the same meaning in CEL, and the cel crate's optional
/// index returns `optional.none()` for a missing key where its optional select fails.
pub fn optional_selects_as_index(src: &str) -> String {
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
            let ident: String = look
                .clone()
                .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                .collect();
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

impl Expr {
    pub(crate) fn compile(src: &str) -> Result<Expr, String> {
        let (rewritten, map_use, direct) = direct_variables(&optional_selects_as_index(src));
        Parser::default()
            .enable_optional_syntax(true)
            .parse(&rewritten)
            .map(|mut program| {
                strict_selects(&mut program);
                Expr {
                    src: src.to_string(),
                    program,
                    map_use,
                    direct,
                }
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
    /// The inputs (`OBJECT`, `OLD_OBJECT`, ...) some expression's source mentions.
    uses: u8,
    /// The most any expression needs of the `variables` map itself.
    map_use: MapUse,
    /// Every name some expression reads as `variables.NAME`.
    direct: Vec<String>,
}

/// Input bits: which inputs a policy reads, which a [`CelRequest`] has bound.
const OBJECT: u8 = 1;
const OLD_OBJECT: u8 = 2;
const REQUEST: u8 = 4;
const PARAMS: u8 = 8;
const NAMESPACE_OBJECT: u8 = 16;
/// Gatekeeper's `variables.anyObject`.
const ANY_OBJECT: u8 = 32;

/// What the expressions see, for one policy on its own.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct CelInput<'a> {
    pub(crate) object: Option<&'a Value>,
    pub(crate) old_object: Option<&'a Value>,
    pub(crate) request: Option<&'a Value>,
    pub(crate) params: Option<&'a Value>,
    pub(crate) namespace_object: Option<&'a Value>,
}

/// One request's inputs as CEL values, converted once and shared by every policy evaluated on
/// it: a scope over the base context that binds `object`, `oldObject`, `request`,
/// `namespaceObject` (and Gatekeeper's `anyObject`) the first time a policy reads them. Each
/// policy evaluates in a scope of its own over this one, where it binds its params and
/// variables. The cel crate converts a value deeply when it is bound, so binding a pod once
/// instead of once per policy is most of the saving.
pub(crate) struct CelRequest<'a> {
    object: Option<&'a Value>,
    old_object: Option<&'a Value>,
    request: Option<&'a Value>,
    namespace_object: Option<&'a Value>,
    scope: RefCell<Context<'static>>,
    /// The input bits bound in `scope`.
    bound: Cell<u8>,
    object_cel: OnceCell<CelValue>,
    old_object_cel: OnceCell<CelValue>,
}

impl<'a> CelRequest<'a> {
    pub(crate) fn new(
        object: Option<&'a Value>,
        old_object: Option<&'a Value>,
        request: Option<&'a Value>,
        namespace_object: Option<&'a Value>,
    ) -> CelRequest<'a> {
        CelRequest {
            object,
            old_object,
            request,
            namespace_object,
            scope: RefCell::new(BASE.new_inner_scope()),
            bound: Cell::new(0),
            object_cel: OnceCell::new(),
            old_object_cel: OnceCell::new(),
        }
    }

    fn object_cel(&self) -> CelValue {
        self.object_cel
            .get_or_init(|| self.object.map_or(CelValue::Null, json_to_cel))
            .clone()
    }

    fn old_object_cel(&self) -> CelValue {
        self.old_object_cel
            .get_or_init(|| self.old_object.map_or(CelValue::Null, json_to_cel))
            .clone()
    }

    /// Gatekeeper's `anyObject`: the object, or the old one (on DELETE).
    fn any_object_cel(&self) -> CelValue {
        if self.object.is_some() {
            self.object_cel()
        } else {
            self.old_object_cel()
        }
    }

    /// CEL's `request` carries the request's attributes; the objects are `object` and
    /// `oldObject`.
    fn request_cel(&self) -> CelValue {
        match self.request {
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
        }
    }

    /// The request's scope with at least the inputs in `needs` bound.
    fn scope(&self, needs: u8) -> std::cell::Ref<'_, Context<'static>> {
        let missing = needs & !self.bound.get();
        if missing != 0 {
            // Every borrow of the scope ends with the evaluation that took it.
            let mut scope = self.scope.borrow_mut();
            let mut bind = |bit: u8, name: &str, v: &dyn Fn() -> CelValue| {
                if missing & bit != 0 {
                    scope.add_variable_from_value(name, v());
                }
            };
            bind(OBJECT, "object", &|| self.object_cel());
            bind(OLD_OBJECT, "oldObject", &|| self.old_object_cel());
            bind(REQUEST, "request", &|| self.request_cel());
            bind(NAMESPACE_OBJECT, "namespaceObject", &|| {
                self.namespace_object.map_or(CelValue::Null, json_to_cel)
            });
            bind(ANY_OBJECT, ANY_OBJECT_VAR, &|| self.any_object_cel());
            self.bound.set(self.bound.get() | missing);
        }
        self.scope.borrow()
    }
}

/// The identifier Gatekeeper's `variables.anyObject` is bound to.
const ANY_OBJECT_VAR: &str = "rampart_var_anyObject";

/// The `variables` map as the expressions that use it whole (or test it with `has`) see it:
/// the variables bound so far, rebound before such an expression only when it changed.
pub struct VariablesMap {
    mode: MapUse,
    /// Values for [`MapUse::Whole`]; `null` for [`MapUse::Has`], where only the keys count.
    entries: HashMap<Key, CelValue>,
    stale: bool,
}

impl VariablesMap {
    pub fn new(mode: MapUse) -> VariablesMap {
        VariablesMap {
            mode,
            entries: HashMap::new(),
            stale: true,
        }
    }

    /// Records a bound variable; `value` is only called when the map holds values.
    pub fn insert(&mut self, name: &str, value: impl FnOnce() -> CelValue) {
        let value = match self.mode {
            MapUse::None => return,
            MapUse::Has => CelValue::Null,
            MapUse::Whole => value(),
        };
        self.entries.insert(key(name), value);
        self.stale = true;
    }

    /// Binds the map in `ctx` if `expr` reads it and it changed since it was last bound.
    fn bind_for(&mut self, ctx: &mut Context<'_>, expr: &Expr) {
        self.bind_if(ctx, expr.map_use);
    }

    /// Binds the map in `ctx` if an expression that uses it so (`uses`) is about to run and
    /// the map changed since it was last bound.
    pub fn bind_if(&mut self, ctx: &mut Context<'_>, uses: MapUse) {
        if uses != MapUse::None && self.stale {
            ctx.add_variable_from_value(
                "variables",
                CelValue::Map(CelMap {
                    map: Arc::new(self.entries.clone()),
                }),
            );
            self.stale = false;
        }
    }
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

/// The functions every evaluation sees; a context is `Send + Sync`, so one serves every thread.
static BASE: LazyLock<Context<'static>> = LazyLock::new(base_context);

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
        // Binding converts the whole value, so only the inputs the expressions mention are
        // bound; which ones is known now, not searched for at each evaluation.
        let mentions = |name: &str| p.sources().any(|s| s.contains(name));
        p.uses = [
            (OBJECT, "object"),
            (OLD_OBJECT, "oldObject"),
            (REQUEST, "request"),
            (PARAMS, "params"),
            (NAMESPACE_OBJECT, "namespaceObject"),
        ]
        .into_iter()
        .filter(|(_, name)| mentions(name))
        .fold(0, |acc, (bit, _)| acc | bit);
        let map_use = p.exprs().map(|e| e.map_use).max().unwrap_or_default();
        let mut direct: Vec<String> = Vec::new();
        for name in p.exprs().flat_map(|e| &e.direct) {
            if !direct.contains(name) {
                direct.push(name.clone());
            }
        }
        p.map_use = map_use;
        p.direct = direct;
        Ok(p)
    }

    fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.match_conditions
            .iter()
            .chain(&self.variables)
            .chain(&self.audit_annotations)
            .map(|(_, e)| e)
            .chain(
                self.validations
                    .iter()
                    .flat_map(|v| std::iter::once(&v.expr).chain(v.message_expr.as_ref())),
            )
    }

    fn sources(&self) -> impl Iterator<Item = &str> {
        self.exprs().map(|e| e.src.as_str())
    }

    /// Evaluates on one input; [`CelPolicy::evaluate_shared`] shares the conversion of the
    /// request's inputs across policies.
    #[cfg(test)]
    pub(crate) fn evaluate(&self, input: &CelInput<'_>) -> CelOutcome {
        let request = CelRequest::new(
            input.object,
            input.old_object,
            input.request,
            input.namespace_object,
        );
        self.evaluate_shared(&request, input.params, false)
    }

    /// Evaluates on a request's shared inputs with this policy's `params`. `gatekeeper`: as
    /// Gatekeeper's `K8sNativeValidation` does, with `variables.params` and
    /// `variables.anyObject` bound before the policy's own variables and no `namespaceObject`.
    pub(crate) fn evaluate_shared(
        &self,
        request: &CelRequest<'_>,
        params: Option<&Value>,
        gatekeeper: bool,
    ) -> CelOutcome {
        let mentions = |name: &str| self.direct.iter().any(|d| d == name);
        let mut needs = self.uses & (OBJECT | OLD_OBJECT | REQUEST);
        if !gatekeeper {
            needs |= self.uses & NAMESPACE_OBJECT;
        }
        if gatekeeper && mentions("anyObject") {
            needs |= ANY_OBJECT;
        }
        let scope = request.scope(needs);
        let mut ctx = scope.new_inner_scope();
        if gatekeeper && self.uses & NAMESPACE_OBJECT != 0 {
            ctx.add_variable_from_value("namespaceObject", CelValue::Null);
        }
        let params_cel = OnceCell::new();
        let params_cel = || {
            params_cel
                .get_or_init(|| params.map_or(CelValue::Null, json_to_cel))
                .clone()
        };
        if self.uses & PARAMS != 0 {
            ctx.add_variable_from_value("params", params_cel());
        }
        let mut vars = VariablesMap::new(self.map_use);
        if gatekeeper {
            vars.insert("params", params_cel);
            if mentions("params") {
                ctx.add_variable_from_value(format!("{VAR_PREFIX}params"), params_cel());
            }
            vars.insert("anyObject", || request.any_object_cel());
        }
        let mut out = CelOutcome {
            applies: true,
            ..CelOutcome::default()
        };
        for (name, cond) in &self.match_conditions {
            vars.bind_for(&mut ctx, cond);
            match CelValue::resolve(&cond.program, &ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => {
                    out.applies = false;
                    return out;
                }
                Ok(other) => out.errors.push(format!(
                    "match condition `{name}` returned {other:?}, not a bool"
                )),
                Err(e) => out
                    .errors
                    .push(format!("match condition `{name}`: {}", error_text(&e))),
            }
        }
        if !out.errors.is_empty() {
            return out;
        }
        // Variables are bound in order; a variable may use those before it.
        let mut var_errors: Vec<(String, String)> = Vec::new();
        for (name, expr) in &self.variables {
            vars.bind_for(&mut ctx, expr);
            match CelValue::resolve(&expr.program, &ctx) {
                Ok(v) => {
                    vars.insert(name, || v.clone());
                    ctx.add_variable_from_value(format!("{VAR_PREFIX}{name}"), v);
                }
                Err(e) => var_errors.push((name.clone(), error_text(&e))),
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
            vars.bind_for(&mut ctx, &v.expr);
            match CelValue::resolve(&v.expr.program, &ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => {
                    let from_expr = v.message_expr.as_ref().and_then(|m| {
                        vars.bind_for(&mut ctx, m);
                        match CelValue::resolve(&m.program, &ctx) {
                            Ok(CelValue::String(s))
                                if !s.trim().is_empty() && !s.contains('\n') =>
                            {
                                Some(s.to_string())
                            }
                            _ => None,
                        }
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
                        "expression '{}' resulted in error: {}{}",
                        v.expr.src.trim(),
                        error_text(&e),
                        why(&v.expr.src)
                    ));
                }
            }
        }
        for (k, expr) in &self.audit_annotations {
            vars.bind_for(&mut ctx, expr);
            match CelValue::resolve(&expr.program, &ctx) {
                Ok(CelValue::String(s)) => out.annotations.push((k.clone(), s.to_string())),
                Ok(CelValue::Null) => {}
                Ok(other) => out.errors.push(format!(
                    "audit annotation `{k}` returned {other:?}, not a string"
                )),
                Err(e) => out
                    .errors
                    .push(format!("audit annotation `{k}`: {}", error_text(&e))),
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

    /// A field of null (the old object of a CREATE) or of a scalar is an error, as in the API
    /// server; the cel crate alone would answer `false`.
    #[test]
    fn fields_of_non_maps_are_errors() {
        let p = CelPolicy::compile(&json!({
            "validations": [
                {"expression": "oldObject.spec.replicas <= object.spec.replicas", "message": "scale down"},
                {"expression": "object.spec.replicas.value > 0", "message": "scalar"},
                {"expression": "!has(object.spec.paused) && object.spec.replicas == 5", "message": "has"},
                {"expression": "object.?spec.paused.orValue(false) == false && object.?status.?ready.hasValue() == false", "message": "optional"}
            ]
        }))
        .unwrap();
        let obj = json!({"metadata": {"name": "x"}, "spec": {"replicas": 5}});
        let out = p.evaluate(&CelInput {
            object: Some(&obj),
            ..CelInput::default()
        });
        assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        // the error says what went wrong
        assert!(
            out.errors
                .iter()
                .all(|e| e.contains("a field of null or of a value that is no map")),
            "{:?}",
            out.errors
        );
    }

    #[test]
    fn variables_are_bound_directly() {
        assert_eq!(
            direct_variables(
                "variables.a + size(variables.b_2) + 'variables.x' + has(variables.c) + has(variables.a.f)"
            ),
            (
                "rampart_var_a + size(rampart_var_b_2) + 'variables.x' + has(variables.c) + has(rampart_var_a.f)"
                    .to_string(),
                MapUse::Has,
                vec!["a".to_string(), "b_2".to_string()]
            )
        );
        assert_eq!(direct_variables("variables").1, MapUse::Whole);
        assert_eq!(
            direct_variables("has(variables.c ) && variables[\"c\"]").1,
            MapUse::Whole
        );
        assert_eq!(
            direct_variables("variables.a.b + myvariables.x").1,
            MapUse::None
        );
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
    fn the_variables_map_holds_the_variables_bound_so_far() {
        let p = CelPolicy::compile(&json!({
            "variables": [
                {"name": "early", "expression": "has(variables.late) ? 1 : 0"},
                {"name": "broken", "expression": "object.missing"},
                {"name": "late", "expression": "variables.early + 2"},
                {"name": "count", "expression": "size(variables)"}
            ],
            "validations": [
                {"expression": "variables.early == 0 && variables.late == 2", "message": "order"},
                {"expression": "!has(variables.broken) && has(variables.late)", "message": "has"},
                {"expression": "variables.count == 2 && variables['late'] == 2", "message": "whole"}
            ]
        }))
        .unwrap();
        assert_eq!(p.map_use, MapUse::Whole);
        let obj = json!({"metadata": {"name": "x"}});
        let out = p.evaluate(&CelInput {
            object: Some(&obj),
            ..CelInput::default()
        });
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.failures, Vec::new());
    }

    #[test]
    fn one_request_serves_many_policies() {
        let gk = CelPolicy::compile(&json!({
            "variables": [
                {"name": "names", "expression": "variables.anyObject.spec.containers.map(c, c.name)"},
                {"name": "hasLabels", "expression": "has(variables.anyObject.metadata.labels)"}
            ],
            "validations": [
                {"expression": "!(variables.params.banned in variables.names)", "messageExpression": "'banned ' + variables.params.banned"},
                {"expression": "namespaceObject == null && variables.hasLabels", "message": "gatekeeper sees no namespaceObject"}
            ]
        }))
        .unwrap();
        let shadow = CelPolicy::compile(&json!({
            "variables": [{"name": "anyObject", "expression": "'mine'"}],
            "validations": [{"expression": "variables.anyObject == 'mine'", "message": "shadowed"}]
        }))
        .unwrap();
        let vap = CelPolicy::compile(&json!({
            "validations": [
                {"expression": "namespaceObject.metadata.name == object.metadata.namespace", "message": "ns"},
                {"expression": "request.operation == 'CREATE' && !has(request.object)", "message": "request"},
                {"expression": "oldObject == null && params.max > 1", "message": "params"}
            ]
        }))
        .unwrap();
        let obj = json!({"metadata": {"name": "p", "namespace": "a", "labels": {"x": "y"}},
                          "spec": {"containers": [{"name": "app"}, {"name": "debug"}]}});
        let req = json!({"operation": "CREATE", "object": obj.clone()});
        let ns = json!({"metadata": {"name": "a"}});
        let request = CelRequest::new(Some(&obj), None, Some(&req), Some(&ns));
        for round in 0..2 {
            let out = gk.evaluate_shared(&request, Some(&json!({"banned": "debug"})), true);
            assert!(out.errors.is_empty(), "{round}: {:?}", out.errors);
            let messages: Vec<&str> = out.failures.iter().map(|f| f.message.as_str()).collect();
            assert_eq!(messages, ["banned debug"], "{round}");
            let out = shadow.evaluate_shared(&request, Some(&json!({})), true);
            assert!(out.errors.is_empty() && out.failures.is_empty(), "{out:?}");
            let out = vap.evaluate_shared(&request, Some(&json!({"max": 3})), false);
            assert!(out.errors.is_empty() && out.failures.is_empty(), "{out:?}");
            let out = vap.evaluate_shared(&request, None, false);
            assert_eq!(out.errors.len(), 1, "{out:?}");
        }
        // On DELETE, `anyObject` is the old object.
        let request = CelRequest::new(None, Some(&obj), Some(&req), None);
        let out = gk.evaluate_shared(&request, Some(&json!({"banned": "app"})), true);
        assert_eq!(out.failures.len(), 1, "{out:?}");
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
