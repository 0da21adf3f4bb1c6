//! CEL expressions for `validate.cel` rules and the `policies.kyverno.io` policy kinds, on the
//! `cel` engine with the Kubernetes libraries (kube-cel), optional syntax enabled.

use kube_cel::KubeCelExt;
use kube_cel::cel::common::ast::IdedExpr;
use kube_cel::cel::objects::{Key, Map as CelMap};
use kube_cel::cel::parser::Parser;
use kube_cel::cel::{Context, Value as CelValue};
use rampart_policy::{MapUse, VAR_PREFIX, VariablesMap, direct_variables};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// A compiled expression.
pub struct Expr {
    pub src: String,
    expr: IdedExpr,
    /// How it uses the `variables` map itself; `variables.NAME` is bound directly.
    map_use: MapUse,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.src)
    }
}

impl Expr {
    pub fn compile(src: &str) -> Result<Expr, String> {
        // The cel crate converts a bound value deeply, so a `variables` map rebound after each
        // variable would convert every variable again; each is bound as an identifier of its own.
        let (rewritten, map_use, _) = direct_variables(&structs_as_maps(
            &rampart_policy::optional_selects_as_index(src),
        ));
        Parser::default()
            .enable_optional_syntax(true)
            .parse(&rewritten)
            .map(|mut expr| {
                expand_bind(&mut expr);
                rampart_policy::strict_selects(&mut expr);
                Expr {
                    src: src.to_string(),
                    expr,
                    map_use,
                }
            })
            .map_err(|e| format!("compiling CEL expression `{}`: {e}", src.trim()))
    }

    pub fn eval(&self, ctx: &Context<'_>) -> Result<CelValue, String> {
        CelValue::resolve(&self.expr, ctx).map_err(|e| rampart_policy::error_text(&e))
    }
}

/// Expands `cel.bind(x, init, body)` (the bindings extension of Kubernetes' and Kyverno's CEL),
/// which the cel crate's parser leaves a call, as cel-go's macro does: a comprehension over
/// no elements whose accumulator `x` starts as `init` and whose result is `body`.
fn expand_bind(e: &mut IdedExpr) {
    use kube_cel::cel::common::ast::{ComprehensionExpr, Expr as Ast, ListExpr};
    rampart_policy::visit_post_order(e, &mut |e| {
        let id = e.id;
        let Ast::Call(c) = &mut e.expr else { return };
        let is_bind = c.func_name == "bind"
            && c.args.len() == 3
            && matches!(c.target.as_deref(), Some(IdedExpr { expr: Ast::Ident(t), .. }) if t == "cel");
        let Some(IdedExpr {
            expr: Ast::Ident(var),
            ..
        }) = c.args.first().filter(|_| is_bind)
        else {
            return;
        };
        let var = var.clone();
        let mut args = std::mem::take(&mut c.args).into_iter();
        let (_, init, body) = (args.next(), args.next(), args.next());
        let (Some(init), Some(body)) = (init, body) else {
            return;
        };
        let node = |expr| IdedExpr { id, expr };
        e.expr = Ast::Comprehension(Box::new(ComprehensionExpr {
            iter_range: node(Ast::List(ListExpr::default())),
            iter_var: "#unused".into(),
            iter_var2: None,
            accu_var: var.clone(),
            accu_init: init,
            loop_cond: node(Ast::Literal(
                kube_cel::cel::common::ast::LiteralValue::Boolean(false.into()),
            )),
            loop_step: node(Ast::Ident(var)),
            result: body,
        }));
    });
}

/// A `template` generator's documents and its placeholders' compiled expressions.
type Template = (Vec<Value>, Vec<(String, Expr)>);

/// A `template` generator: its documents (the YAML of `value`), and the expressions of its
/// `(( expr ))` placeholders when `interpolate: cel` (without it, they are kept as written).
fn compile_template(t: &Value) -> Result<Template, String> {
    let text = t.get("value").and_then(Value::as_str).unwrap_or("");
    // plain YAML: placeholders stand where objects have maps
    let (parsed, errors) = rampart_manifest::parse_yaml("template", text);
    if let Some(e) = errors.first() {
        return Err(format!("generate template: {e}"));
    }
    let docs: Vec<Value> = parsed
        .into_iter()
        .map(|d| d.value)
        .filter(|v| !v.is_null())
        .collect();
    let mut exprs: Vec<(String, Expr)> = Vec::new();
    if t.get("interpolate").and_then(Value::as_str) == Some("cel") {
        fn collect(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.extend(placeholders(s).into_iter().map(str::to_string)),
                Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
                Value::Object(m) => m.values().for_each(|x| collect(x, out)),
                _ => {}
            }
        }
        let mut srcs = Vec::new();
        docs.iter().for_each(|d| collect(d, &mut srcs));
        srcs.sort();
        srcs.dedup();
        for src in srcs {
            let e = Expr::compile(&src)?;
            exprs.push((src, e));
        }
    }
    Ok((docs, exprs))
}

/// The expressions of a string's `(( expr ))` placeholders.
fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("((") {
        let Some(j) = rest.get(i + 2..).and_then(|r| r.find("))")) else {
            break;
        };
        out.push(rest.get(i + 2..i + 2 + j).unwrap_or("").trim());
        rest = rest.get(i + 2 + j + 2..).unwrap_or("");
    }
    out
}

/// A template document with its placeholders replaced: a string that is one placeholder
/// takes the value itself (a map, a list, a number); in a longer string each placeholder is
/// replaced by its text. Without values (no `interpolate: cel`), the document as written.
fn interpolate(v: &Value, values: &HashMap<&str, Value>) -> Value {
    if values.is_empty() {
        return v.clone();
    }
    match v {
        Value::String(s) => {
            let found = placeholders(s);
            if found.is_empty() {
                return v.clone();
            }
            let trimmed = s.trim();
            if let [only] = found.as_slice()
                && trimmed.starts_with("((")
                && trimmed.ends_with("))")
                && trimmed.matches("((").count() == 1
                && let Some(x) = values.get(only)
            {
                return x.clone();
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("((") {
                let Some(j) = rest.get(i + 2..).and_then(|r| r.find("))")) else {
                    break;
                };
                out.push_str(rest.get(..i).unwrap_or(""));
                let src = rest.get(i + 2..i + 2 + j).unwrap_or("").trim();
                match values.get(src) {
                    Some(Value::String(x)) => out.push_str(x),
                    Some(x) => out.push_str(&x.to_string()),
                    None => out.push_str(rest.get(i..i + 2 + j + 2).unwrap_or("")),
                }
                rest = rest.get(i + 2 + j + 2..).unwrap_or("");
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| interpolate(x, values)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), interpolate(x, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// CEL's `type(x)`, as a comparable name (`int`, `string`, `null_type`, …): the type
/// identifiers are bound to the same names, so `type(x) == string` and `type(x) != type(null)`
/// read as in cel-go.
fn type_of(v: CelValue) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let name = match &v {
        CelValue::Null => "null_type",
        CelValue::Bool(_) => "bool",
        CelValue::Int(_) => "int",
        CelValue::UInt(_) => "uint",
        CelValue::Float(_) => "double",
        CelValue::String(_) => "string",
        CelValue::Bytes(_) => "bytes",
        CelValue::List(_) => "list",
        CelValue::Map(_) => "map",
        CelValue::Timestamp(_) => "google.protobuf.Timestamp",
        CelValue::Duration(_) => "google.protobuf.Duration",
        _ => "dyn",
    };
    Ok(CelValue::String(Arc::new(name.to_string())))
}

/// CEL's `string()` conversion, with `string(bool)` as cel-go has it (`"true"`, `"false"`).
fn string_of(
    ftx: &kube_cel::cel::FunctionContext,
    this: kube_cel::cel::extractors::This<CelValue>,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    match this.0 {
        CelValue::Bool(b) => Ok(CelValue::String(Arc::new(b.to_string()))),
        other => kube_cel::cel::functions::string(ftx, kube_cel::cel::extractors::This(other)),
    }
}

/// The type identifiers [`type_of`] names.
const TYPE_NAMES: [&str; 9] = [
    "null_type",
    "bool",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "list",
    "map",
];

/// Rewrites object construction (`JSONPatch{op: "add"}`, `Object.spec{...}`) to map literals
/// with quoted keys: the results are used as JSON, where the type name does not matter.
fn structs_as_maps(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 16);
    // For each open bracket: whether it opened an object construction.
    let mut stack: Vec<bool> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '"' || c == '\'' {
            let start = i;
            i += 1;
            while let Some(&d) = chars.get(i) {
                i += 1;
                if d == '\\' {
                    i += 1;
                } else if d == c {
                    break;
                }
            }
            out.extend(chars.get(start..i.min(chars.len())).unwrap_or(&[]));
            expect_key = false;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_' || *d == '.')
            {
                i += 1;
            }
            let ident: String = chars.get(start..i).unwrap_or(&[]).iter().collect();
            let mut j = i;
            while chars.get(j).is_some_and(|d| d.is_whitespace()) {
                j += 1;
            }
            if expect_key
                && stack.last() == Some(&true)
                && chars.get(j) == Some(&':')
                && !ident.contains('.')
            {
                out.push('"');
                out.push_str(&ident);
                out.push('"');
                expect_key = false;
                continue;
            }
            if chars.get(j) == Some(&'{') && ident.starts_with(|d: char| d.is_ascii_uppercase()) {
                // Drop the type name; the brace opens a construction.
                out.push('{');
                stack.push(true);
                expect_key = true;
                i = j + 1;
                continue;
            }
            out.push_str(&ident);
            expect_key = false;
            continue;
        }
        match c {
            '{' | '[' | '(' => {
                stack.push(false);
                expect_key = false;
            }
            '}' | ']' | ')' => {
                stack.pop();
                expect_key = false;
            }
            ',' => expect_key = stack.last() == Some(&true),
            d if d.is_whitespace() => {}
            _ => expect_key = false,
        }
        out.push(c);
        i += 1;
    }
    out
}

/// CEL values as JSON.
pub fn cel_to_json(v: &CelValue) -> Value {
    match v {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => Value::Bool(*b),
        CelValue::Int(i) => Value::from(*i),
        CelValue::UInt(u) => Value::from(*u),
        CelValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        CelValue::String(s) => Value::String(s.to_string()),
        CelValue::List(l) => Value::Array(l.iter().map(cel_to_json).collect()),
        CelValue::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                out.insert(key, cel_to_json(v));
            }
            Value::Object(out)
        }
        CelValue::Opaque(o) => match o.downcast_ref::<kube_cel::cel::objects::OptionalValue>() {
            Some(opt) => opt.value().map(cel_to_json).unwrap_or(Value::Null),
            None => Value::Null,
        },
        other => Value::String(format!("{other:?}")),
    }
}

fn as_optional(v: &CelValue) -> Option<Option<&CelValue>> {
    match v {
        CelValue::Opaque(o) => o
            .downcast_ref::<kube_cel::cel::objects::OptionalValue>()
            .map(|opt| opt.value()),
        _ => None,
    }
}

/// `orValue` that also takes a plain value (Kyverno's CEL environment accepts it).
fn lenient_or_value(
    kube_cel::cel::extractors::This(t): kube_cel::cel::extractors::This<CelValue>,
    other: CelValue,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    Ok(match as_optional(&t) {
        Some(Some(v)) => v.clone(),
        Some(None) => other,
        None if matches!(t, CelValue::Null) => other,
        None => t,
    })
}

fn lenient_has_value(
    kube_cel::cel::extractors::This(t): kube_cel::cel::extractors::This<CelValue>,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    Ok(CelValue::Bool(match as_optional(&t) {
        Some(v) => v.is_some(),
        None => !matches!(t, CelValue::Null),
    }))
}

fn escape_key(
    kube_cel::cel::extractors::This(_t): kube_cel::cel::extractors::This<CelValue>,
    s: Arc<String>,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    Ok(CelValue::String(Arc::new(
        s.replace('~', "~0").replace('/', "~1"),
    )))
}

/// Kyverno's `image()` CEL library: a parsed reference with `registry()`, `repository()`,
/// `tag()`, `digest()`, `identifier()` and `containsDigest()`.
fn image_fn(s: Arc<String>) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let info = crate::context::image_info(&s);
    let g = |k: &str| {
        info.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut registry = g("registry");
    let mut repository = g("path");
    if registry == "docker.io" {
        registry = "index.docker.io".into();
        if !repository.contains('/') {
            repository = format!("library/{repository}");
        }
    }
    let digest = g("digest");
    let tag = if s.contains('@') && !s.rsplit('/').next().unwrap_or("").contains(':') {
        String::new()
    } else {
        g("tag")
    };
    let identifier = if digest.is_empty() {
        tag.clone()
    } else {
        digest.clone()
    };
    let m: HashMap<Key, CelValue> = [
        ("registry", registry),
        ("repository", repository),
        ("tag", tag),
        ("digest", digest),
        ("identifier", identifier),
    ]
    .into_iter()
    .map(|(k, v)| (key(&format!("__image_{k}")), CelValue::String(Arc::new(v))))
    .collect();
    Ok(CelValue::Map(CelMap { map: Arc::new(m) }))
}

fn image_part(this: &CelValue, part: &str) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    match this {
        CelValue::Map(m) => Ok(m
            .map
            .get(&key(&format!("__image_{part}")))
            .cloned()
            .unwrap_or(CelValue::String(Arc::new(String::new())))),
        _ => Err(kube_cel::cel::ExecutionError::function_error(
            part,
            "not an image",
        )),
    }
}

type This = kube_cel::cel::extractors::This<CelValue>;
type CelResult = Result<CelValue, kube_cel::cel::ExecutionError>;

fn image_registry(kube_cel::cel::extractors::This(t): This) -> CelResult {
    image_part(&t, "registry")
}
fn image_repository(kube_cel::cel::extractors::This(t): This) -> CelResult {
    image_part(&t, "repository")
}
fn image_tag(kube_cel::cel::extractors::This(t): This) -> CelResult {
    image_part(&t, "tag")
}
fn image_digest(kube_cel::cel::extractors::This(t): This) -> CelResult {
    image_part(&t, "digest")
}
fn image_identifier(kube_cel::cel::extractors::This(t): This) -> CelResult {
    image_part(&t, "identifier")
}
fn image_contains_digest(kube_cel::cel::extractors::This(t): This) -> CelResult {
    let d = image_part(&t, "digest")?;
    Ok(CelValue::Bool(
        matches!(d, CelValue::String(s) if !s.is_empty()),
    ))
}

thread_local! {
    /// The resources `resource.Get` and `resource.List` read (a test's context file).
    static RESOURCES: std::cell::RefCell<Vec<Value>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Resources `generator.Apply` produced during the current evaluation.
    static GENERATED: std::cell::RefCell<Vec<Value>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Image metadata `image.GetMetadata` reads (a test's context file).
    static IMAGES: std::cell::RefCell<Vec<Value>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The global context `globalContext.Get` reads, and its cluster.
    static GLOBAL: std::cell::RefCell<(Option<crate::global::Shared>, Option<crate::resolver::Resolver>)> =
        const { std::cell::RefCell::new((None, None)) };
}

/// The library a receiver variable stands for (`resource`, `globalContext`, `http`): the
/// marker its map holds.
fn library_of(v: &CelValue) -> &str {
    match v {
        CelValue::Map(m) => match m.map.get(&key(LIB_KEY)) {
            Some(CelValue::String(s)) => s.as_str(),
            _ => "",
        },
        _ => "",
    }
}

/// The key of a library variable's marker.
const LIB_KEY: &str = "__rampart_library";

/// A library variable: an empty map but for its marker.
fn library(name: &str) -> CelValue {
    let mut m = HashMap::new();
    m.insert(key(LIB_KEY), CelValue::String(Arc::new(name.to_string())));
    CelValue::Map(CelMap { map: Arc::new(m) })
}

/// CEL's `http.Get(url[, headers])` and `http.Post(url, data[, headers])`, through the
/// cluster's service client (a test's `apiCallResponses`).
fn http_call(method: &str, args: &[CelValue]) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let fail = |m: String| kube_cel::cel::ExecutionError::function_error(method, m);
    let url = match args.first() {
        Some(CelValue::String(s)) => s.to_string(),
        _ => return Err(fail("the first argument is the URL".into())),
    };
    let (body, headers) = if method == "Post" {
        (args.get(1).map(cel_to_json), args.get(2))
    } else {
        (None, args.get(1))
    };
    let headers: Vec<(String, String)> = match headers.map(cel_to_json) {
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or("").to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let call = crate::resolver::ServiceCall {
        url: url.clone(),
        method: method.to_uppercase(),
        ca_bundle: String::new(),
        headers,
        body,
    };
    GLOBAL.with(|g| {
        let g = g.borrow();
        let Some(r) = &g.1 else {
            return Err(fail(format!(
                "{} {url}: no HTTP access here (in `policy test`, give the response in the test's apiCallResponses)",
                method.to_uppercase()
            )));
        };
        r.0.http(&call).map(|v| json_to_cel(&v)).map_err(fail)
    })
}

fn post_dispatch(
    this: kube_cel::cel::extractors::This<CelValue>,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    match library_of(&this.0) {
        "http" => http_call("Post", &args),
        _ => Err(kube_cel::cel::ExecutionError::function_error(
            "Post",
            "Post is http.Post(url, data[, headers])",
        )),
    }
}

/// `Get` on `resource` (api, plural, namespace, name), on `globalContext` (entry,
/// projection) or on `http` (url, headers).
fn get_dispatch(
    this: kube_cel::cel::extractors::This<CelValue>,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let text = |i: usize| match args.get(i) {
        Some(CelValue::String(s)) => Ok(s.clone()),
        _ => Err(kube_cel::cel::ExecutionError::function_error(
            "Get",
            "expected string arguments",
        )),
    };
    if library_of(&this.0) == "http" {
        return http_call("Get", &args);
    }
    if let Some((api, plural)) = args.first().and_then(gvr_of) {
        // resource.get(resource.toGVR(apiVersion, kind), namespace, name)
        return resource_get(this, api, plural, text(1)?, text(2)?);
    }
    match args.len() {
        4 => resource_get(this, text(0)?, text(1)?, text(2)?, text(3)?),
        2 => {
            let (name, projection) = (text(0)?, text(1)?);
            let reference = if projection.is_empty() {
                name.to_string()
            } else {
                format!("{name}.{projection}")
            };
            GLOBAL.with(|g| {
                let g = g.borrow();
                let Some(global) = &g.0 else {
                    return Err(kube_cel::cel::ExecutionError::function_error(
                        "Get",
                        format!("global context entry {name}: no GlobalContextEntry loaded"),
                    ));
                };
                let mut ctx = crate::vars::Ctx::default();
                ctx.resolver = g.1.clone();
                global
                    .data(&reference, &ctx)
                    .map(|v| json_to_cel(&v))
                    .map_err(|e| kube_cel::cel::ExecutionError::function_error("Get", e))
            })
        }
        n => Err(kube_cel::cel::ExecutionError::function_error(
            "Get",
            format!("Get takes 4 arguments (resource) or 2 (globalContext), not {n}"),
        )),
    }
}

/// The compiled pattern of a `regex.*` call (cel-go compiles it per call; a cache keeps a
/// policy's few patterns compiled).
fn cel_regex(
    func: &str,
    pattern: &str,
) -> Result<Arc<regex::Regex>, kube_cel::cel::ExecutionError> {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, Arc<regex::Regex>>> =
            std::cell::RefCell::new(HashMap::new());
    }
    CACHE.with(|c| {
        if let Some(re) = c.borrow().get(pattern) {
            return Ok(re.clone());
        }
        let re = Arc::new(regex::Regex::new(pattern).map_err(|e| {
            kube_cel::cel::ExecutionError::function_error(func, format!("regex `{pattern}`: {e}"))
        })?);
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
        Ok(re)
    })
}

/// `replace`: cel-go's `regex.replace(target, pattern, replacement[, count])` on the `regex`
/// library (`\N` in the replacement is group N, `\\` a backslash; a negative count
/// replaces all), else the strings extension's `<string>.replace(from, to[, count])`.
fn replace_dispatch(
    this: kube_cel::cel::extractors::This<CelValue>,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let fail = |m: String| kube_cel::cel::ExecutionError::function_error("replace", m);
    let count = match args.get(if library_of(&this.0) == "regex" { 3 } else { 2 }) {
        None => -1,
        Some(CelValue::Int(n)) => *n,
        Some(_) => return Err(fail("the count is an int".into())),
    };
    if library_of(&this.0) != "regex" {
        let CelValue::String(target) = &this.0 else {
            return Err(fail(
                "replace is <string>.replace(from, to[, count])".into(),
            ));
        };
        let (from, to) = (arg_str("replace", &args, 0)?, arg_str("replace", &args, 1)?);
        let out = if count < 0 {
            target.replace(from, to)
        } else {
            target.replacen(from, to, count as usize)
        };
        return Ok(CelValue::String(Arc::new(out)));
    }
    let f = "regex.replace";
    let (target, pattern, replacement) = (
        arg_str(f, &args, 0)?,
        arg_str(f, &args, 1)?,
        arg_str(f, &args, 2)?,
    );
    if count == 0 {
        return Ok(CelValue::String(Arc::new(target.to_string())));
    }
    let re = cel_regex("regex.replace", pattern)?;
    let groups = re.captures_len() - 1;
    let mut out = String::with_capacity(target.len());
    let mut last = 0;
    for (n, caps) in re.captures_iter(target).enumerate() {
        if count > 0 && n as i64 >= count {
            break;
        }
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(target.get(last..whole.start()).unwrap_or(""));
        let mut chars = replacement.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                None => {
                    return Err(fail(format!(
                        "invalid replacement string: '{replacement}' \\ not allowed at end"
                    )));
                }
                Some('\\') => out.push('\\'),
                Some(d) => {
                    let Some(g) = d.to_digit(10) else {
                        return Err(fail(format!(
                            "invalid replacement string: '{replacement}' \\ must be followed by a digit or \\"
                        )));
                    };
                    if g as usize > groups {
                        return Err(fail(format!(
                            "replacement string references group {g} but regex has only {groups} group(s)"
                        )));
                    }
                    if let Some(m) = caps.get(g as usize) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
        last = whole.end();
    }
    out.push_str(target.get(last..).unwrap_or(""));
    Ok(CelValue::String(Arc::new(out)))
}

/// The pattern of `regex.extract`/`extractAll`: at most one capturing group.
fn extract_pattern(
    func: &str,
    args: &[CelValue],
) -> Result<(Arc<String>, Arc<regex::Regex>), kube_cel::cel::ExecutionError> {
    let (target, pattern) = (arg_str(func, args, 0)?, arg_str(func, args, 1)?);
    let re = cel_regex(func, pattern)?;
    if re.captures_len() > 2 {
        return Err(kube_cel::cel::ExecutionError::function_error(
            func,
            format!("regular expression has more than one capturing group: {pattern:?}"),
        ));
    }
    Ok((Arc::new(target.to_string()), re))
}

/// `regex.extract(target, pattern)`: the first match's group (or the whole match without
/// one) as an optional; none when nothing matches or the group is empty.
fn regex_extract(
    this: kube_cel::cel::extractors::This<CelValue>,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    use kube_cel::cel::objects::OptionalValue;
    if library_of(&this.0) != "regex" {
        return Err(kube_cel::cel::ExecutionError::function_error(
            "extract",
            "extract is regex.extract(target, pattern)",
        ));
    }
    let (target, re) = extract_pattern("regex.extract", &args)?;
    let found = re.captures(&target).and_then(|c| {
        let m = if re.captures_len() == 2 {
            c.get(1)
        } else {
            c.get(0)
        };
        m.map(|m| m.as_str().to_string())
    });
    let opt = match found {
        Some(s) if !(s.is_empty() && re.captures_len() == 2) => {
            OptionalValue::of(CelValue::String(Arc::new(s)))
        }
        _ => OptionalValue::none(),
    };
    Ok(CelValue::Opaque(Arc::new(opt)))
}

/// `regex.extractAll(target, pattern)`: every match's group (non-empty ones) or whole match.
fn regex_extract_all(
    this: kube_cel::cel::extractors::This<CelValue>,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    if library_of(&this.0) != "regex" {
        return Err(kube_cel::cel::ExecutionError::function_error(
            "extractAll",
            "extractAll is regex.extractAll(target, pattern)",
        ));
    }
    let (target, re) = extract_pattern("regex.extractAll", &args)?;
    let grouped = re.captures_len() == 2;
    let out: Vec<CelValue> = re
        .captures_iter(&target)
        .filter_map(|c| if grouped { c.get(1) } else { c.get(0) })
        .filter(|m| !grouped || !m.as_str().is_empty())
        .map(|m| CelValue::String(Arc::new(m.as_str().to_string())))
        .collect();
    Ok(CelValue::List(Arc::new(out)))
}

/// Sets what `globalContext.Get` reads on this thread.
fn set_context_global(b: &Bindings<'_>) {
    GLOBAL.with(|g| {
        let mut g = g.borrow_mut();
        let same = match (&g.0, &b.global) {
            (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        };
        let same_resolver = match (&g.1, &b.resolver) {
            (Some(x), Some(y)) => {
                std::ptr::addr_eq(std::sync::Arc::as_ptr(&x.0), std::sync::Arc::as_ptr(&y.0))
            }
            (None, None) => true,
            _ => false,
        };
        if !same || !same_resolver {
            *g = (b.global.clone(), b.resolver.clone());
        }
    });
}

/// Sets the image metadata CEL's `image.GetMetadata` sees on this thread.
pub fn set_context_images(images: &[Value]) {
    IMAGES.with(|r| {
        let mut r = r.borrow_mut();
        if r.as_slice() != images {
            *r = images.to_vec();
        }
    });
}

/// `generator.Apply(namespace, resources)`: records the resources a GeneratingPolicy creates.
fn generator_apply(
    kube_cel::cel::extractors::This(_t): kube_cel::cel::extractors::This<CelValue>,
    namespace: Arc<String>,
    resources: CelValue,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let list = match cel_to_json(&resources) {
        Value::Array(a) => a,
        other => vec![other],
    };
    // each must be an object, as Kyverno converts them (`null` from a `resource.Get` that
    // found nothing included): anything else fails the expression
    if let Some((i, bad)) = list.iter().enumerate().find(|(_, r)| !r.is_object()) {
        let what = match bad {
            Value::Null => "null",
            Value::Bool(_) => "a bool",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        };
        return Err(kube_cel::cel::ExecutionError::function_error(
            "Apply",
            format!("failed to generate resources: resource {i} is {what}, not an object"),
        ));
    }
    // a list of objects (`resource.List`) stands for its items
    let list: Vec<Value> = list
        .into_iter()
        .flat_map(|r| match r.get("items").and_then(Value::as_array) {
            Some(items) if r.get("metadata").is_none_or(|m| m.get("name").is_none()) => {
                items.clone()
            }
            _ => vec![r],
        })
        .collect();
    GENERATED.with(|g| {
        let mut g = g.borrow_mut();
        for mut r in list {
            // an empty namespace: a cluster-scoped resource
            if let Some(meta) = r.get_mut("metadata").and_then(Value::as_object_mut)
                && !namespace.is_empty()
            {
                meta.insert("namespace".into(), Value::String(namespace.to_string()));
            }
            g.push(r);
        }
    });
    Ok(CelValue::Bool(true))
}

fn image_get_metadata(
    kube_cel::cel::extractors::This(_t): kube_cel::cel::extractors::This<CelValue>,
    reference: Arc<String>,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    IMAGES.with(|r| {
        r.borrow()
            .iter()
            .find(|x| x.get("image").and_then(Value::as_str) == Some(reference.as_str()))
            .map(json_to_cel)
            .ok_or_else(|| {
                kube_cel::cel::ExecutionError::function_error(
                    "GetMetadata",
                    format!("image {reference} needs a registry; it is not in the test's context"),
                )
            })
    })
}

/// Sets the resources CEL's `resource.Get`/`resource.List` see on this thread.
pub fn set_context_resources(resources: &[Value]) {
    RESOURCES.with(|r| {
        let mut r = r.borrow_mut();
        if r.as_slice() != resources {
            *r = resources.to_vec();
        }
    });
}

fn resource_matches(r: &Value, api: &str, plural: &str, ns: &str) -> bool {
    let g = |p: &str| r.pointer(p).and_then(Value::as_str).unwrap_or("");
    g("/apiVersion") == api
        && crate::resource_of(g("/kind")) == plural
        && (ns.is_empty() || g("/metadata/namespace") == ns)
}

fn resource_get(
    kube_cel::cel::extractors::This(_t): kube_cel::cel::extractors::This<CelValue>,
    api: Arc<String>,
    plural: Arc<String>,
    ns: Arc<String>,
    name: Arc<String>,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    RESOURCES.with(|r| {
        r.borrow()
            .iter()
            .find(|x| {
                resource_matches(x, &api, &plural, &ns)
                    && x.pointer("/metadata/name").and_then(Value::as_str) == Some(name.as_str())
            })
            .map_or(Ok(CelValue::Null), |x| Ok(json_to_cel(x)))
    })
}

/// `list` on `resource`: (apiVersion, plural, namespace) or (GVR, namespace).
fn list_dispatch(
    kube_cel::cel::extractors::This(_t): kube_cel::cel::extractors::This<CelValue>,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let text = |i: usize| match args.get(i) {
        Some(CelValue::String(s)) => Ok(s.clone()),
        _ => Err(kube_cel::cel::ExecutionError::function_error(
            "list",
            "list takes (apiVersion, resource, namespace) or (gvr, namespace)",
        )),
    };
    match args.first().and_then(gvr_of) {
        Some((api, plural)) => resource_list(api, plural, text(1)?),
        None => resource_list(text(0)?, text(1)?, text(2)?),
    }
}

fn resource_list(
    api: Arc<String>,
    plural: Arc<String>,
    ns: Arc<String>,
) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    RESOURCES.with(|r| {
        let items: Vec<Value> = r
            .borrow()
            .iter()
            .filter(|x| resource_matches(x, &api, &plural, &ns))
            .cloned()
            .collect();
        Ok(json_to_cel(&serde_json::json!({"items": items})))
    })
}

/// A GVR made by `resource.toGVR`: its group/version and resource (plural).
fn gvr_of(v: &CelValue) -> Option<(Arc<String>, Arc<String>)> {
    let CelValue::Map(m) = v else { return None };
    if library_of(v) != "gvr" {
        return None;
    }
    let get = |k: &str| match m.map.get(&key(k)) {
        Some(CelValue::String(s)) => s.to_string(),
        _ => String::new(),
    };
    let (group, version) = (get("group"), get("version"));
    let api = if group.is_empty() {
        version
    } else {
        format!("{group}/{version}")
    };
    Some((Arc::new(api), Arc::new(get("resource"))))
}

fn arg_str<'a>(
    func: &str,
    args: &'a [CelValue],
    i: usize,
) -> Result<&'a str, kube_cel::cel::ExecutionError> {
    match args.get(i) {
        Some(CelValue::String(s)) => Ok(s.as_str()),
        _ => Err(kube_cel::cel::ExecutionError::function_error(
            func,
            format!("argument {} must be a string", i + 1),
        )),
    }
}

/// A function of Kyverno's CEL libraries that reads its arguments only, so that
/// `hash.md5(x)` and `md5(x)` are one function (the library variable, if any, is the target).
type LibFn = fn(&[CelValue]) -> Result<CelValue, kube_cel::cel::ExecutionError>;

fn lib_call(
    f: LibFn,
) -> impl Fn(kube_cel::cel::extractors::Arguments) -> Result<CelValue, kube_cel::cel::ExecutionError>
+ Send
+ Sync
+ 'static {
    move |kube_cel::cel::extractors::Arguments(args)| f(&args)
}

fn hex_digest(algorithm: &str, data: &[u8]) -> String {
    use md5::Digest as _;
    let bytes: Vec<u8> = match algorithm {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        _ => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
            .as_ref()
            .to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON as Go's `encoding/json` writes a value: compact, map keys sorted.
fn go_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(m.get(k).unwrap_or(&Value::Null))))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

/// Kyverno's CEL libraries beyond the Kubernetes ones: `hash`, `json`, `yaml`, `gzip`,
/// `user.parseServiceAccount`, `transform.listObjToMap`, `random`, `time.now/truncate/toCron`,
/// `parseImageReference`/`isImage` and `resource.toGVR` (each namespaced function also
/// answers without its namespace where Kyverno declares both).
fn register_kyverno_libraries(ctx: &mut Context<'static>) {
    for lib in [
        "hash",
        "json",
        "yaml",
        "gzip",
        "user",
        "transform",
        "random",
    ] {
        ctx.add_variable_from_value(lib, library(lib));
    }
    fn digest(name: &'static str) -> LibFn {
        match name {
            "md5" => |a| {
                Ok(CelValue::String(Arc::new(hex_digest(
                    "md5",
                    arg_str("md5", a, 0)?.as_bytes(),
                ))))
            },
            "sha1" => |a| {
                Ok(CelValue::String(Arc::new(hex_digest(
                    "sha1",
                    arg_str("sha1", a, 0)?.as_bytes(),
                ))))
            },
            _ => |a| {
                Ok(CelValue::String(Arc::new(hex_digest(
                    "sha256",
                    arg_str("sha256", a, 0)?.as_bytes(),
                ))))
            },
        }
    }
    for name in ["md5", "sha1", "sha256"] {
        ctx.add_function(name, lib_call(digest(name)));
    }
    ctx.add_function(
        "unmarshal",
        lib_call(|a| {
            let text = arg_str("json.unmarshal", a, 0)?;
            serde_json::from_str::<Value>(text)
                .map(|v| json_to_cel(&v))
                .map_err(|e| {
                    kube_cel::cel::ExecutionError::function_error("json.unmarshal", e.to_string())
                })
        }),
    );
    ctx.add_function(
        "marshal",
        lib_call(|a| {
            let v = a.first().map(cel_to_json).unwrap_or(Value::Null);
            Ok(CelValue::String(Arc::new(go_json(&v))))
        }),
    );
    ctx.add_function(
        "parse",
        lib_call(|a| {
            let text = arg_str("yaml.parse", a, 0)?;
            let (docs, errors) = rampart_manifest::parse_yaml("yaml.parse", text);
            if let Some(e) = errors.first() {
                return Err(kube_cel::cel::ExecutionError::function_error(
                    "yaml.parse",
                    e.to_string(),
                ));
            }
            Ok(docs
                .first()
                .map_or(CelValue::Null, |d| json_to_cel(&d.value)))
        }),
    );
    ctx.add_function(
        "compress",
        lib_call(|a| {
            use std::io::Write as _;
            let text = arg_str("gzip.compress", a, 0)?;
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(text.as_bytes())
                .and_then(|()| z.finish())
                .map(|b| CelValue::Bytes(Arc::new(b)))
                .map_err(|e| {
                    kube_cel::cel::ExecutionError::function_error("gzip.compress", e.to_string())
                })
        }),
    );
    ctx.add_function(
        "decompress",
        lib_call(|a| {
            use std::io::Read as _;
            let Some(CelValue::Bytes(b)) = a.first() else {
                return Err(kube_cel::cel::ExecutionError::function_error(
                    "gzip.decompress",
                    "the argument is bytes",
                ));
            };
            let mut out = String::new();
            flate2::read::GzDecoder::new(b.as_slice())
                .take(64 << 20)
                .read_to_string(&mut out)
                .map(|_| CelValue::String(Arc::new(out)))
                .map_err(|e| {
                    kube_cel::cel::ExecutionError::function_error("gzip.decompress", e.to_string())
                })
        }),
    );
    ctx.add_function(
        "parseServiceAccount",
        lib_call(|a| {
            let user = arg_str("parseServiceAccount", a, 0)?;
            let mut m = HashMap::new();
            if let Some((ns, name)) = user
                .strip_prefix("system:serviceaccount:")
                .and_then(|r| r.split_once(':'))
            {
                for (k, v) in [("namespace", ns), ("name", name)] {
                    if !v.is_empty() {
                        m.insert(key(k), CelValue::String(Arc::new(v.to_string())));
                    }
                }
            }
            Ok(CelValue::Map(CelMap { map: Arc::new(m) }))
        }),
    );
    ctx.add_function(
        "listObjToMap",
        lib_call(|a| {
            let fail = |m: &str| kube_cel::cel::ExecutionError::function_error("listObjToMap", m);
            if a.len() < 4 {
                return Err(fail(&format!(
                    "listObjToMap must take 4 arguments, {} were passed",
                    a.len()
                )));
            }
            let (Some(Value::Array(keys)), Some(Value::Array(values))) =
                (a.first().map(cel_to_json), a.get(1).map(cel_to_json))
            else {
                return Err(fail("the first two arguments are lists"));
            };
            let (k, v) = (
                arg_str("listObjToMap", a, 2)?,
                arg_str("listObjToMap", a, 3)?,
            );
            if keys.len() != values.len() {
                return Err(fail(&format!(
                    "listObjToMap must take lists of equal length. list1: {}, list2: {}",
                    keys.len(),
                    values.len()
                )));
            }
            let mut out = serde_json::Map::new();
            for (ke, ve) in keys.iter().zip(&values) {
                let Some(name) = ke.get(k).and_then(Value::as_str) else {
                    return Err(fail(
                        "the passed key name cannot be handled as a string in the key object list",
                    ));
                };
                out.insert(name.to_string(), ve.get(v).cloned().unwrap_or(Value::Null));
            }
            Ok(json_to_cel(&Value::Object(out)))
        }),
    );
    ctx.add_function(
        "parseImageReference",
        lib_call(|a| {
            let s = arg_str("parseImageReference", a, 0)?;
            rampart_images::reference::Reference::parse(s).map_err(|e| {
                kube_cel::cel::ExecutionError::function_error("parseImageReference", e.to_string())
            })?;
            image_fn(Arc::new(s.to_string()))
        }),
    );
    ctx.add_function(
        "isImage",
        lib_call(|a| {
            let s = arg_str("isImage", a, 0)?;
            Ok(CelValue::Bool(
                rampart_images::reference::Reference::parse(s).is_ok(),
            ))
        }),
    );
    // math.round(x) as cel-go's math extension; math.round(x, digits) as Kyverno's
    ctx.add_function(
        "math.round",
        lib_call(|a| {
            let v = match a.first() {
                Some(CelValue::Float(f)) => *f,
                Some(CelValue::Int(i)) => *i as f64,
                _ => {
                    return Err(kube_cel::cel::ExecutionError::function_error(
                        "math.round",
                        "math.round(double[, int])",
                    ));
                }
            };
            let digits = match a.get(1) {
                None => return Ok(CelValue::Float(v.round())),
                Some(CelValue::Int(p)) => i32::try_from(*p).unwrap_or(0),
                Some(_) => {
                    return Err(kube_cel::cel::ExecutionError::function_error(
                        "math.round",
                        "the precision is an int",
                    ));
                }
            };
            let shift = 10f64.powi(digits);
            Ok(CelValue::Float((v * shift).round() / shift))
        }),
    );
    ctx.add_variable_from_value("time", library("time"));
    // time.now(), time.truncate(timestamp, duration), time.toCron(timestamp)
    ctx.add_function(
        "now",
        lib_call(|_| Ok(CelValue::Timestamp(chrono::Utc::now().fixed_offset()))),
    );
    ctx.add_function(
        "truncate",
        lib_call(|a| {
            let fail = |m: &str| kube_cel::cel::ExecutionError::function_error("time.truncate", m);
            let (Some(CelValue::Timestamp(ts)), Some(CelValue::Duration(d))) =
                (a.first(), a.get(1))
            else {
                return Err(fail("time.truncate(timestamp, duration)"));
            };
            let step = i128::from(
                d.num_nanoseconds()
                    .ok_or_else(|| fail("duration too long"))?,
            );
            if step <= 0 {
                return Ok(CelValue::Timestamp(*ts));
            }
            // Go's Time.Truncate: a multiple of the duration since year 1, 00:00 UTC
            const YEAR_ONE_TO_EPOCH: i128 = 62_135_596_800 * 1_000_000_000;
            let since = i128::from(ts.timestamp()) * 1_000_000_000
                + i128::from(ts.timestamp_subsec_nanos())
                + YEAR_ONE_TO_EPOCH;
            let cut = since - since.rem_euclid(step) - YEAR_ONE_TO_EPOCH;
            let secs =
                i64::try_from(cut.div_euclid(1_000_000_000)).map_err(|_| fail("out of range"))?;
            let nanos = u32::try_from(cut.rem_euclid(1_000_000_000)).unwrap_or(0);
            chrono::DateTime::from_timestamp(secs, nanos)
                .map(|t| CelValue::Timestamp(t.with_timezone(ts.offset())))
                .ok_or_else(|| fail("out of range"))
        }),
    );
    ctx.add_function(
        "toCron",
        lib_call(|a| {
            use chrono::{Datelike as _, Timelike as _};
            let Some(CelValue::Timestamp(ts)) = a.first() else {
                return Err(kube_cel::cel::ExecutionError::function_error(
                    "time.toCron",
                    "time.toCron(timestamp)",
                ));
            };
            Ok(CelValue::String(Arc::new(format!(
                "{} {} {} {} {}",
                ts.minute(),
                ts.hour(),
                ts.day(),
                ts.month(),
                ts.weekday().num_days_from_sunday()
            ))))
        }),
    );
    ctx.add_function("toGVR", lib_call(to_gvr));
    ctx.add_function("ToGVR", lib_call(to_gvr));
    // random(), random.random(pattern): a string matching the pattern ([0-9a-z]{8})
    ctx.add_function(
        "random",
        lib_call(|a| {
            let pattern = match a.first() {
                Some(CelValue::String(p)) => p.as_str(),
                _ => "[0-9a-z]{8}",
            };
            crate::random::matching(pattern)
                .map(|s| CelValue::String(Arc::new(s)))
                .map_err(|e| kube_cel::cel::ExecutionError::function_error("random", e))
        }),
    );
}

/// `resource.toGVR(apiVersion, kind)`: the group, version and resource (plural) of a kind.
fn to_gvr(a: &[CelValue]) -> Result<CelValue, kube_cel::cel::ExecutionError> {
    let api = arg_str("toGVR", a, 0)?;
    let kind = arg_str("toGVR", a, 1)?;
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let mut m = HashMap::new();
    m.insert(key(LIB_KEY), CelValue::String(Arc::new("gvr".into())));
    for (k, v) in [
        ("group", group.to_string()),
        ("version", version.to_string()),
        ("resource", crate::resource_of(kind)),
    ] {
        m.insert(key(k), CelValue::String(Arc::new(v)));
    }
    Ok(CelValue::Map(CelMap { map: Arc::new(m) }))
}

/// The functions every evaluation sees; a context is `Send + Sync`, so one serves every thread.
static BASE: LazyLock<Context<'static>> = LazyLock::new(base_context);

fn base_context() -> Context<'static> {
    let mut ctx = Context::default().with_all();
    ctx.add_function(
        "dyn",
        |v: CelValue| -> Result<CelValue, kube_cel::cel::ExecutionError> { Ok(v) },
    );
    ctx.add_function("escapeKey", escape_key);
    ctx.add_function("orValue", lenient_or_value);
    ctx.add_function("hasValue", lenient_has_value);
    ctx.add_function("image", image_fn);
    // `resource.get` and `resource.list` are the library's current spellings
    ctx.add_function("Get", get_dispatch);
    ctx.add_function("get", get_dispatch);
    ctx.add_function("list", list_dispatch);
    ctx.add_function("GetMetadata", image_get_metadata);
    ctx.add_function("Apply", generator_apply);
    ctx.add_function("apply", generator_apply);
    ctx.add_variable_from_value(
        "generator",
        CelValue::Map(CelMap {
            map: Arc::new(HashMap::new()),
        }),
    );
    ctx.add_function("List", list_dispatch);
    ctx.add_variable_from_value(
        "image",
        CelValue::Map(CelMap {
            map: Arc::new(HashMap::new()),
        }),
    );
    ctx.add_variable_from_value("globalContext", library("globalContext"));
    ctx.add_variable_from_value("resource", library("resource"));
    ctx.add_variable_from_value("http", library("http"));
    ctx.add_function("Post", post_dispatch);
    ctx.add_function("post", post_dispatch);
    ctx.add_function("getMetadata", image_get_metadata);
    register_kyverno_libraries(&mut ctx);
    ctx.add_variable_from_value("regex", library("regex"));
    ctx.add_function("replace", replace_dispatch);
    ctx.add_function("extract", regex_extract);
    ctx.add_function("extractAll", regex_extract_all);
    ctx.add_function("registry", image_registry);
    ctx.add_function("repository", image_repository);
    ctx.add_function("tag", image_tag);
    ctx.add_function("digest", image_digest);
    ctx.add_function("identifier", image_identifier);
    ctx.add_function("containsDigest", image_contains_digest);
    crate::ivpol::register(&mut ctx);
    ctx.add_function("type", type_of);
    ctx.add_function("string", string_of);
    for t in TYPE_NAMES {
        ctx.add_variable_from_value(t, CelValue::String(Arc::new(t.to_string())));
    }
    ctx.add_variable_from_value(
        "jsonpatch",
        CelValue::Map(CelMap {
            map: Arc::new(HashMap::new()),
        }),
    );
    ctx
}

thread_local! {
    /// The request [`share_request`] shares on this thread.
    static SHARED: std::cell::RefCell<Option<SharedRequest>> = const { std::cell::RefCell::new(None) };
}

/// One request's `object`, `oldObject` and `request`, bound once in a scope over the base
/// context for every policy evaluated on it (the cel crate converts a value deeply when it is
/// bound). Known by the inputs' addresses, which [`RequestScope`] keeps borrowed, so an
/// evaluation on other values (a mutated copy) cannot be taken for it.
struct SharedRequest {
    /// Addresses of the object, old object and request (0: none).
    inputs: [usize; 3],
    scope: Context<'static>,
    /// The input bits bound in `scope`.
    bound: u8,
    /// The object bound in `scope`: a policy's own copy of the request's object (a
    /// ClusterPolicy evaluates its rules on one) shares it when its content is the same.
    object: Option<CelValue>,
    /// Whether `object` was bound from the request's object itself, whose address then
    /// identifies it.
    object_at_address: bool,
}

fn address(v: Option<&Value>) -> usize {
    v.map_or(0, |v| std::ptr::from_ref(v) as usize)
}

/// Whether `json_to_cel(v)` would equal `c`, without building it.
fn same_as_cel(v: &Value, c: &CelValue) -> bool {
    match (v, c) {
        (Value::Null, CelValue::Null) => true,
        (Value::Bool(a), CelValue::Bool(b)) => a == b,
        // Same variant and value: `5` and `5.0` are not the same to CEL's types.
        (Value::Number(_), _) => match (json_to_cel(v), c) {
            (CelValue::Int(a), CelValue::Int(b)) => a == *b,
            (CelValue::UInt(a), CelValue::UInt(b)) => a == *b,
            (CelValue::Float(a), CelValue::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        },
        (Value::String(a), CelValue::String(b)) => a == b.as_str(),
        (Value::Array(a), CelValue::List(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same_as_cel(x, y))
        }
        (Value::Object(a), CelValue::Map(b)) => {
            a.len() == b.map.len()
                && a.iter().all(|(k, x)| {
                    b.map
                        .get(&Key::String(Arc::new(k.clone())))
                        .is_some_and(|y| same_as_cel(x, y))
                })
        }
        _ => false,
    }
}

impl SharedRequest {
    /// Binds in the shared scope the inputs in `uses` that `b` shares with the request; which
    /// those are.
    fn bind(&mut self, uses: u8, b: &Bindings<'_>) -> u8 {
        let mut shared = 0;
        if uses & OBJECT != 0
            && let Some(o) = b.object
        {
            let at_address = self.inputs.first() == Some(&address(Some(o)));
            match &self.object {
                Some(_) if at_address && self.object_at_address => shared |= OBJECT,
                Some(c) if same_as_cel(o, c) => shared |= OBJECT,
                Some(_) => {}
                None => {
                    let c = json_to_cel(o);
                    self.scope.add_variable_from_value("object", c.clone());
                    self.object = Some(c);
                    self.object_at_address = at_address;
                    shared |= OBJECT;
                }
            }
        }
        let rest = [(1, b.old_object), (2, b.request)];
        for (i, v) in rest {
            let Some((bit, name)) = INPUTS.get(i) else {
                continue;
            };
            if uses & bit == 0 || self.inputs.get(i) != Some(&address(v)) {
                continue;
            }
            if self.bound & bit == 0 {
                self.scope
                    .add_variable_from_value(*name, v.map_or(CelValue::Null, json_to_cel));
                self.bound |= bit;
            }
            shared |= bit;
        }
        shared
    }
}

/// While it lives, CEL evaluations on this thread whose `object`, `oldObject` and `request` are
/// these share their conversion. Dropping it ends the sharing.
pub struct RequestScope<'a> {
    /// Whether this scope installed its request (not while an evaluation runs).
    installed: bool,
    previous: Option<SharedRequest>,
    _inputs: std::marker::PhantomData<&'a Value>,
    /// Stays on the thread whose evaluations it shares.
    _thread: std::marker::PhantomData<*const ()>,
}

/// Shares one request's CEL inputs across the policies evaluated on it (see [`RequestScope`]).
pub fn share_request<'a>(
    object: &'a Value,
    old_object: Option<&'a Value>,
    request: Option<&'a Value>,
) -> RequestScope<'a> {
    let shared = SharedRequest {
        inputs: [address(Some(object)), address(old_object), address(request)],
        scope: BASE.new_inner_scope(),
        bound: 0,
        object: None,
        object_at_address: false,
    };
    let swapped = SHARED.with(|s| s.try_borrow_mut().ok().map(|mut s| s.replace(shared)));
    RequestScope {
        installed: swapped.is_some(),
        previous: swapped.flatten(),
        _inputs: std::marker::PhantomData,
        _thread: std::marker::PhantomData,
    }
}

impl Drop for RequestScope<'_> {
    fn drop(&mut self) {
        if !self.installed {
            return;
        }
        let previous = self.previous.take();
        SHARED.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = previous;
            }
        });
    }
}

/// The bindings a CEL program sees.
#[derive(Default, Clone)]
pub struct Bindings<'a> {
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    pub request: Option<&'a Value>,
    pub namespace_object: Option<Value>,
    pub params: Option<&'a Value>,
    /// Resources for `resource.Get`/`resource.List`.
    pub resources: &'a [Value],
    /// Image metadata for `image.GetMetadata`.
    pub images: &'a [Value],
    /// More variables, bound whether or not an expression mentions them (`exceptions`, and
    /// an ImageValidatingPolicy's `images`, `attestors`, `attestations`).
    pub extra: Vec<(&'static str, Value)>,
    /// What `globalContext.Get` reads, and the cluster it reads through.
    pub global: Option<crate::global::Shared>,
    pub resolver: Option<crate::resolver::Resolver>,
}

/// A validation: expression and message.
pub struct Validation {
    pub expr: Expr,
    pub message: Option<String>,
    /// A CEL expression giving the message; used when it evaluates to a non-empty string.
    pub message_expr: Option<Expr>,
}

/// Compiled CEL checks: match conditions, variables, validations.
#[derive(Default)]
pub struct CelChecks {
    pub match_conditions: Vec<Expr>,
    pub variables: Vec<(String, Expr)>,
    pub validations: Vec<Validation>,
    /// MutatingPolicy mutations: (patch type, expression).
    pub mutations: Vec<(String, Expr)>,
    /// GeneratingPolicy expressions (calling `generator.Apply`).
    pub generate: Vec<Expr>,
    /// GeneratingPolicy `template` generators: the documents of each, and their `(( ))`
    /// expressions when `interpolate: cel`.
    templates: Vec<Template>,
    /// The inputs some expression mentions (`OBJECT`, ...): only those are bound.
    uses: u8,
    /// The most any expression needs of the `variables` map itself.
    map_use: MapUse,
}

const OBJECT: u8 = 1;
const OLD_OBJECT: u8 = 2;
const REQUEST: u8 = 4;
const NAMESPACE_OBJECT: u8 = 8;
const PARAMS: u8 = 16;
const INPUTS: [(u8, &str); 5] = [
    (OBJECT, "object"),
    (OLD_OBJECT, "oldObject"),
    (REQUEST, "request"),
    (NAMESPACE_OBJECT, "namespaceObject"),
    (PARAMS, "params"),
];

/// What a MutatingPolicy did.
#[derive(Debug, PartialEq)]
pub enum MutOutcome {
    NotApplicable,
    Patched(Value),
    Error(String),
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
        let list = |k: &str| {
            spec.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let mut out = CelChecks::default();
        for m in list("matchConditions") {
            out.match_conditions
                .push(Expr::compile(&s(&m, "expression").unwrap_or_default())?);
        }
        for v in list("variables") {
            out.variables.push((
                s(&v, "name").unwrap_or_default(),
                Expr::compile(&s(&v, "expression").unwrap_or_default())?,
            ));
        }
        for m in list("mutations") {
            let t = s(&m, "patchType").unwrap_or_default();
            let e = m
                .pointer("/jsonPatch/expression")
                .or_else(|| m.pointer("/applyConfiguration/expression"))
                .and_then(Value::as_str)
                .unwrap_or("");
            out.mutations.push((t, Expr::compile(e)?));
        }
        for g in list("generate") {
            if let Some(t) = g.get("template") {
                out.templates.push(compile_template(t)?);
                continue;
            }
            out.generate
                .push(Expr::compile(&s(&g, "expression").unwrap_or_default())?);
        }
        for v in list(vkey) {
            out.validations.push(Validation {
                expr: Expr::compile(&s(&v, "expression").unwrap_or_default())?,
                message: s(&v, "message"),
                message_expr: s(&v, "messageExpression")
                    .map(|m| Expr::compile(&m))
                    .transpose()?,
            });
        }
        let exprs = || {
            out.match_conditions
                .iter()
                .chain(out.variables.iter().map(|(_, e)| e))
                .chain(out.mutations.iter().map(|(_, e)| e))
                .chain(&out.generate)
                .chain(
                    out.validations
                        .iter()
                        .flat_map(|v| std::iter::once(&v.expr).chain(v.message_expr.as_ref())),
                )
        };
        // Binding converts the whole value, so only the inputs the expressions mention are
        // bound.
        let uses = INPUTS
            .iter()
            .filter(|(_, name)| exprs().any(|e| e.src.contains(name)))
            .fold(0, |acc, (bit, _)| acc | bit);
        let map_use = exprs().map(|e| e.map_use).max().unwrap_or_default();
        out.uses = uses;
        out.map_use = map_use;
        Ok(out)
    }

    /// Runs `f` in a scope with the inputs the expressions mention bound: those of the
    /// request shared through [`share_request`] in its scope, once for every policy, the
    /// others in a scope of this evaluation's own.
    fn in_scope<R>(&self, b: &Bindings<'_>, f: impl FnOnce(&mut Context<'_>) -> R) -> R {
        SHARED.with(|cell| {
            let shared = cell
                .try_borrow_mut()
                .ok()
                .and_then(|mut s| s.as_mut().map(|s| s.bind(self.uses, b)))
                .unwrap_or(0);
            let guard = cell.try_borrow().ok();
            let base: &Context<'_> = match guard.as_ref().and_then(|g| g.as_ref()) {
                Some(s) if shared != 0 => &s.scope,
                _ => &BASE,
            };
            let mut ctx = base.new_inner_scope();
            self.bind_inputs(&mut ctx, b, shared);
            f(&mut ctx)
        })
    }

    /// Binds the inputs the expressions mention, but those in `skip`.
    fn bind_inputs(&self, ctx: &mut Context<'_>, b: &Bindings<'_>, skip: u8) {
        for (name, v) in &b.extra {
            ctx.add_variable_from_value(*name, json_to_cel(v));
        }
        for (bit, name) in INPUTS {
            if self.uses & bit == 0 || skip & bit != 0 {
                continue;
            }
            let v = match bit {
                OBJECT => b.object,
                OLD_OBJECT => b.old_object,
                REQUEST => b.request,
                NAMESPACE_OBJECT => b.namespace_object.as_ref(),
                _ => b.params,
            };
            ctx.add_variable_from_value(name, v.map_or(CelValue::Null, json_to_cel));
        }
    }

    /// Evaluates the variables in order, binding each that evaluates; the errors of the others.
    fn bind_variables(
        &self,
        ctx: &mut Context<'_>,
        vars: &mut VariablesMap,
    ) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        for (name, e) in &self.variables {
            vars.bind_if(ctx, e.map_use);
            match e.eval(ctx) {
                Ok(v) => {
                    vars.insert(name, || v.clone());
                    ctx.add_variable_from_value(format!("{VAR_PREFIX}{name}"), v);
                }
                Err(err) => {
                    let err = explained(err, &e.src, &errors);
                    errors.push((name.clone(), err));
                }
            }
        }
        errors
    }

    /// Evaluates the variables in order; each one's value as JSON, or the first error (an
    /// ImageValidatingPolicy's image extractors).
    pub fn values(&self, b: &Bindings<'_>) -> Result<Vec<(String, Value)>, String> {
        set_context_resources(b.resources);
        set_context_images(b.images);
        set_context_global(b);
        self.in_scope(b, |ctx| {
            let mut vars = VariablesMap::new(self.map_use);
            let mut out = Vec::new();
            for (name, e) in &self.variables {
                vars.bind_if(ctx, e.map_use);
                let v = e.eval(ctx).map_err(|err| format!("{name}: {err}"))?;
                out.push((name.clone(), cel_to_json(&v)));
                vars.insert(name, || v.clone());
                ctx.add_variable_from_value(format!("{VAR_PREFIX}{name}"), v);
            }
            Ok(out)
        })
    }

    /// Runs a GeneratingPolicy's expressions; the resources they would create.
    pub fn generate(&self, b: &Bindings<'_>) -> Result<Option<Vec<Value>>, String> {
        set_context_resources(b.resources);
        set_context_images(b.images);
        set_context_global(b);
        GENERATED.with(|g| g.borrow_mut().clear());
        let out = self.in_scope(b, |ctx| {
            let failed = match self.prepare(ctx, true) {
                Err(MutOutcome::NotApplicable) => return Ok(None),
                Err(MutOutcome::Error(e)) => return Err(e),
                Err(MutOutcome::Patched(_)) => Vec::new(),
                Ok(failed) => failed,
            };
            let eval = |e: &Expr| e.eval(ctx).map_err(|err| explained(err, &e.src, &failed));
            for e in &self.generate {
                eval(e)?;
            }
            for (docs, exprs) in &self.templates {
                let mut values = HashMap::new();
                for (src, e) in exprs {
                    values.insert(src.as_str(), cel_to_json(&eval(e)?));
                }
                GENERATED.with(|g| {
                    g.borrow_mut()
                        .extend(docs.iter().map(|d| interpolate(d, &values)));
                });
            }
            Ok(Some(()))
        });
        let generated = GENERATED.with(|g| std::mem::take(&mut *g.borrow_mut()));
        out.map(|o| o.map(|()| generated))
    }

    /// Applies the mutations in order, each to the object the previous ones produced.
    pub fn mutate(&self, b: &Bindings<'_>) -> MutOutcome {
        let Some(start) = b.object else {
            return MutOutcome::NotApplicable;
        };
        set_context_resources(b.resources);
        set_context_images(b.images);
        set_context_global(b);
        let mut current = start.clone();
        for (i, (t, e)) in self.mutations.iter().enumerate() {
            let step = Bindings {
                object: Some(&current),
                ..b.clone()
            };
            let value = self.in_scope(&step, |ctx| match self.prepare(ctx, i == 0) {
                Err(o) => Err(o),
                Ok(failed) => e
                    .eval(ctx)
                    .map_err(|err| MutOutcome::Error(explained(err, &e.src, &failed))),
            });
            let value = match value {
                Ok(v) => cel_to_json(&v),
                Err(o) => return o,
            };
            if t == "JSONPatch" {
                let patch: json_patch::Patch = match serde_json::from_value(value) {
                    Ok(p) => p,
                    Err(e) => return MutOutcome::Error(format!("JSONPatch: {e}")),
                };
                if let Err(e) = json_patch::patch(&mut current, &patch) {
                    return MutOutcome::Error(format!("applying JSONPatch: {e}"));
                }
            } else if let Some(new) = crate::mutate::apply_configuration(&current, &value) {
                current = new;
            }
        }
        MutOutcome::Patched(current)
    }

    /// Binds the inputs and variables; checks the match conditions when asked. The variables
    /// that failed, with why, for the errors of the expressions that use them.
    fn prepare(
        &self,
        ctx: &mut Context<'_>,
        check: bool,
    ) -> Result<Vec<(String, String)>, MutOutcome> {
        let mut vars = VariablesMap::new(self.map_use);
        let failed = self.bind_variables(ctx, &mut vars);
        // The expressions run after this see the map as the variables left it.
        vars.bind_if(ctx, self.map_use);
        if check {
            for m in &self.match_conditions {
                match m.eval(ctx) {
                    Ok(CelValue::Bool(true)) => {}
                    Ok(CelValue::Bool(false)) => return Err(MutOutcome::NotApplicable),
                    Ok(_) => {
                        return Err(MutOutcome::Error(format!(
                            "match condition `{}` is not a bool",
                            m.src.trim()
                        )));
                    }
                    Err(e) => return Err(MutOutcome::Error(explained(e, &m.src, &failed))),
                }
            }
        }
        Ok(failed)
    }

    pub fn evaluate(&self, b: &Bindings<'_>) -> CelOutcome {
        set_context_resources(b.resources);
        set_context_images(b.images);
        set_context_global(b);
        self.in_scope(b, |ctx| self.evaluate_in(ctx))
    }

    fn evaluate_in(&self, ctx: &mut Context<'_>) -> CelOutcome {
        let mut vars = VariablesMap::new(self.map_use);
        let var_errors = self.bind_variables(ctx, &mut vars);
        // Match conditions, validations and messages see the map as the variables left it.
        vars.bind_if(ctx, self.map_use);
        for m in &self.match_conditions {
            match m.eval(ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => return CelOutcome::NotApplicable,
                Ok(_) => {
                    return CelOutcome::Error(format!(
                        "match condition `{}` is not a bool",
                        m.src.trim()
                    ));
                }
                Err(e) => return CelOutcome::Error(explained(e, &m.src, &var_errors)),
            }
        }
        for v in &self.validations {
            match v.expr.eval(ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => {
                    let from_expr = v.message_expr.as_ref().and_then(|m| match m.eval(ctx) {
                        Ok(CelValue::String(s)) if !s.trim().is_empty() => Some(s.to_string()),
                        _ => None,
                    });
                    return CelOutcome::Fail(
                        from_expr
                            .or_else(|| v.message.clone())
                            .unwrap_or_else(|| format!("failed expression: {}", v.expr.src.trim())),
                    );
                }
                Ok(other) => {
                    return CelOutcome::Error(format!("expression returned {other:?}, not a bool"));
                }
                Err(e) => return CelOutcome::Error(explained(e, &v.expr.src, &var_errors)),
            }
        }
        CelOutcome::Pass
    }
}

/// An evaluation error that reads a variable which failed itself: that variable's own error,
/// rather than the undeclared reference its failure left.
fn explained(err: String, src: &str, failed: &[(String, String)]) -> String {
    // the undeclared reference names it; else the expression reads it
    let named = failed
        .iter()
        .find(|(name, _)| err.contains(&format!("'{VAR_PREFIX}{name}'")))
        .or_else(|| {
            failed
                .iter()
                .find(|(name, _)| src.contains(&format!("variables.{name}")))
        });
    match named {
        Some((name, why)) => format!("variable `{name}`: {why}"),
        None => err,
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_string()))
}

/// JSON as CEL sees it: the conversion the Gatekeeper and VAP CEL engine uses.
pub use rampart_policy::json_to_cel;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A field of a value that is no map is an error, as in CEL (the cel crate alone answers
    /// `false`); `has()` still tests, and an optional is carried through a chain.
    #[test]
    fn selecting_a_field_of_a_non_map_is_an_error() {
        let object = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3}});
        let eval = |expr: &str| {
            let c = CelChecks::compile(
                &json!({"validations": [{"expression": expr, "message": "no"}]}),
                "validations",
            )
            .unwrap();
            c.evaluate(&Bindings {
                object: Some(&object),
                ..Bindings::default()
            })
        };
        // CREATE: no old object
        assert!(matches!(
            eval("oldObject.spec.replicas == object.spec.replicas"),
            CelOutcome::Error(_)
        ));
        assert!(matches!(
            eval("object.spec.replicas.value == 3"),
            CelOutcome::Error(_)
        ));
        assert!(matches!(
            eval("object.metadata.name.first == 'w'"),
            CelOutcome::Error(_)
        ));
        assert_eq!(
            eval("!has(object.spec.template) && has(object.spec.replicas)"),
            CelOutcome::Pass
        );
        assert_eq!(
            eval("object.?status.replicas.orValue(0) == 0"),
            CelOutcome::Pass
        );
        assert_eq!(
            eval("object.?spec.replicas.orValue(0) == 3"),
            CelOutcome::Pass
        );
        assert_eq!(
            eval("object.spec.replicas == 3 && object['spec'].replicas == 3"),
            CelOutcome::Pass
        );
    }

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
        assert_eq!(
            c.evaluate(&Bindings {
                object: Some(&good),
                ..Bindings::default()
            }),
            CelOutcome::Pass
        );
        assert_eq!(
            c.evaluate(&Bindings {
                object: Some(&bad),
                ..Bindings::default()
            }),
            CelOutcome::Fail("no".into())
        );
    }

    #[test]
    fn a_shared_request_gives_the_same_answers() {
        let c = CelChecks::compile(
            &json!({
                "variables": [{"name": "names", "expression": "object.spec.containers.map(c, c.name)"}],
                "validations": [
                    {"expression": "!('debug' in variables.names)", "message": "debug"},
                    {"expression": "request.operation == 'CREATE' && oldObject == null", "message": "op"}
                ]
            }),
            "validations",
        )
        .unwrap();
        let good = json!({"spec": {"containers": [{"name": "a"}]}});
        let bad = json!({"spec": {"containers": [{"name": "debug"}]}});
        let req = json!({"operation": "CREATE"});
        let on = |o: &Value| {
            c.evaluate(&Bindings {
                object: Some(o),
                request: Some(&req),
                ..Bindings::default()
            })
        };
        let alone = (on(&good), on(&bad));
        assert_eq!(alone, (CelOutcome::Pass, CelOutcome::Fail("debug".into())));
        {
            let _shared = share_request(&good, None, Some(&req));
            // Twice from the shared scope; a different object is bound on its own.
            assert_eq!((on(&good), on(&bad)), alone);
            assert_eq!((on(&good), on(&bad)), alone);
            // An equal copy shares the object; a changed one does not.
            let copy = good.clone();
            let mut changed = good.clone();
            changed["spec"]["containers"][0]["name"] = json!("debug");
            assert!(!same_as_cel(
                &json!({"n": 5.0}),
                &json_to_cel(&json!({"n": 5}))
            ));
            assert!(same_as_cel(
                &json!({"n": [5, "x", null]}),
                &json_to_cel(&json!({"n": [5, "x", null]}))
            ));
            assert_eq!((on(&copy), on(&changed)), alone);
            let _inner = share_request(&bad, None, Some(&req));
            assert_eq!((on(&good), on(&bad)), alone);
        }
        assert!(SHARED.with(|s| s.borrow().is_none()));
        assert_eq!((on(&good), on(&bad)), alone);
    }
}
