//! JMESPath with Kyverno's function library registered.

use crate::wildcard;
use base64::Engine as _;
use jmespath::ast::{Ast, Comparator};
use jmespath::functions::{ArgumentType as A, CustomFunction, Signature};
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, RuntimeError, Variable};
use serde_json::Value;
use std::sync::OnceLock;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let mut rt = Runtime::new();
        rt.register_builtin_functions();
        register(&mut rt);
        rt
    })
}

/// Kyverno's JMESPath does not call a function on a null left side of a sub-expression
/// (`a.keys(@)` is null when `a` is): each such call is guarded.
fn guard_null_calls(ast: Ast) -> Ast {
    let b = |a: Box<Ast>| Box::new(guard_null_calls(*a));
    match ast {
        Ast::Subexpr { offset, lhs, rhs } => {
            let rhs = b(rhs);
            let rhs = if matches!(*rhs, Ast::Function { .. }) {
                Box::new(Ast::Condition {
                    offset,
                    predicate: Box::new(Ast::Comparison {
                        offset,
                        comparator: Comparator::NotEqual,
                        lhs: Box::new(Ast::Identity { offset }),
                        rhs: Box::new(Ast::Literal {
                            offset,
                            value: Rcvar::new(Variable::Null),
                        }),
                    }),
                    then: rhs,
                })
            } else {
                rhs
            };
            Ast::Subexpr {
                offset,
                lhs: b(lhs),
                rhs,
            }
        }
        Ast::Comparison {
            offset,
            comparator,
            lhs,
            rhs,
        } => Ast::Comparison {
            offset,
            comparator,
            lhs: b(lhs),
            rhs: b(rhs),
        },
        Ast::Condition {
            offset,
            predicate,
            then,
        } => Ast::Condition {
            offset,
            predicate: b(predicate),
            then: b(then),
        },
        Ast::Expref { offset, ast } => Ast::Expref {
            offset,
            ast: b(ast),
        },
        Ast::Flatten { offset, node } => Ast::Flatten {
            offset,
            node: b(node),
        },
        Ast::Function { offset, name, args } => Ast::Function {
            offset,
            name,
            args: args.into_iter().map(guard_null_calls).collect(),
        },
        Ast::MultiList { offset, elements } => Ast::MultiList {
            offset,
            elements: elements.into_iter().map(guard_null_calls).collect(),
        },
        Ast::MultiHash { offset, elements } => Ast::MultiHash {
            offset,
            elements: elements
                .into_iter()
                .map(|kv| jmespath::ast::KeyValuePair {
                    key: kv.key,
                    value: guard_null_calls(kv.value),
                })
                .collect(),
        },
        Ast::Not { offset, node } => Ast::Not {
            offset,
            node: b(node),
        },
        Ast::Projection { offset, lhs, rhs } => Ast::Projection {
            offset,
            lhs: b(lhs),
            rhs: b(rhs),
        },
        Ast::ObjectValues { offset, node } => Ast::ObjectValues {
            offset,
            node: b(node),
        },
        Ast::And { offset, lhs, rhs } => Ast::And {
            offset,
            lhs: b(lhs),
            rhs: b(rhs),
        },
        Ast::Or { offset, lhs, rhs } => Ast::Or {
            offset,
            lhs: b(lhs),
            rhs: b(rhs),
        },
        other => other,
    }
}

/// Evaluates a JMESPath expression over `data`.
pub fn search(expr: &str, data: &Value) -> Result<Value, String> {
    let var = Rcvar::new(Variable::try_from(data).map_err(|e| e.to_string())?);
    search_var(expr, &var)
}

thread_local! {
    /// Compiled expressions by source (policies repeat theirs on every resource), with the
    /// text their offsets point into.
    static COMPILED: std::cell::RefCell<std::collections::HashMap<String, (Ast, std::rc::Rc<str>)>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Parses as Kyverno's go-jmespath does, whose multi-select hashes take the comma between
/// two key-value pairs as optional (`{op: 'add', path: p value: v}`): where the parser
/// wants `}` or `,` and finds the next key, a comma is put before it. The text parsed.
fn parse_kyverno(expr: &str) -> Result<(jmespath::Expression<'static>, String), JmespathError> {
    let first = match runtime().compile(expr) {
        Ok(e) => return Ok((e, expr.to_string())),
        Err(e) => e,
    };
    let mut text = expr.to_string();
    let mut err = first.clone();
    for _ in 0..256 {
        let jmespath::ErrorReason::Parse(msg) = &err.reason else {
            break;
        };
        let missing_comma = msg.starts_with("Expected '}' or ','")
            && (msg.contains("found Identifier") || msg.contains("found QuotedIdentifier"));
        if !missing_comma || !text.is_char_boundary(err.offset) {
            break;
        }
        text.insert(err.offset, ',');
        match runtime().compile(&text) {
            Ok(e) => return Ok((e, text)),
            Err(e) => err = e,
        }
    }
    Err(first)
}

fn compile_guarded(expr: &str) -> Result<(Ast, std::rc::Rc<str>), String> {
    if let Some(hit) = COMPILED.with(|c| c.borrow().get(expr).cloned()) {
        return Ok(hit);
    }
    let (parsed, text) = parse_kyverno(expr).map_err(|e| {
        format!(
            "JMESPath syntax error in `{expr}`: {}",
            first_line(&e.to_string())
        )
    })?;
    let compiled = (
        guard_null_calls(parsed.as_ast().clone()),
        std::rc::Rc::from(text),
    );
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 4096 {
            c.clear();
        }
        c.insert(expr.to_string(), compiled.clone());
    });
    Ok(compiled)
}

/// Evaluates a JMESPath expression over data already converted for JMESPath.
pub fn search_var(expr: &str, var: &Rcvar) -> Result<Value, String> {
    let (ast, _) = compile_guarded(expr)?;
    let compiled = jmespath::Expression::new(expr, ast, runtime());
    let out = compiled.search(var.clone()).map_err(|e| {
        format!(
            "JMESPath query `{expr}` failed: {}",
            first_line(&e.to_string())
        )
    })?;
    serde_json::to_value(&*out).map_err(|e| e.to_string())
}

/// Kyverno's JMESPath (its fork of go-jmespath) fails a query with `Unknown key "k" in path`
/// when a field is read from an object that lacks it on the chain of fields, indexes and
/// sub-expressions that yields the result; comparisons, functions, filters, projections, `||`,
/// `&&`, `!` and pipes take such a missing value as null. The missing key, when `expr` fails so
/// on `data`.
pub fn unknown_key(expr: &str, data: &Value) -> Option<String> {
    let (ast, text) = compile_guarded(expr).ok()?;
    probe(&ast, &text, Some(data)).err()
}

/// What a chain evaluates to (`None`: null, `Some(None)`: not followed further), or the key
/// it misses.
fn probe<'a>(
    ast: &Ast,
    expr: &str,
    v: Option<&'a Value>,
) -> Result<Option<Option<&'a Value>>, String> {
    match ast {
        Ast::Identity { .. } => Ok(Some(v)),
        Ast::Field { name, .. } => match v {
            Some(Value::Object(m)) => m
                .get(name)
                .map(|x| Some(Some(x)))
                .ok_or_else(|| name.clone()),
            _ => Ok(Some(None)),
        },
        Ast::Index { idx, .. } => Ok(Some(match v {
            Some(Value::Array(a)) => {
                let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
                let i = if *idx < 0 {
                    len + i64::from(*idx)
                } else {
                    i64::from(*idx)
                };
                usize::try_from(i).ok().and_then(|i| a.get(i))
            }
            _ => None,
        })),
        // the parser writes a pipe as a sub-expression at the `|`
        Ast::Subexpr { offset, lhs, rhs } if expr.as_bytes().get(*offset) != Some(&b'|') => {
            match probe(lhs, expr, v)? {
                Some(left) => probe(rhs, expr, left),
                None => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// Checks the syntax of an expression.
pub fn check(expr: &str) -> Result<(), String> {
    parse_kyverno(expr)
        .map(|_| ())
        .map_err(|e| first_line(&e.to_string()))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn err(ctx: &Context<'_>, msg: &str) -> JmespathError {
    JmespathError::from_ctx(
        ctx,
        ErrorReason::Runtime(RuntimeError::InvalidType {
            expected: msg.to_string(),
            actual: String::new(),
            position: 0,
        }),
    )
}

fn to_json(v: &Rcvar) -> Value {
    serde_json::to_value(&**v).unwrap_or(Value::Null)
}

fn rc(v: Value) -> Result<Rcvar, JmespathError> {
    Ok(Rcvar::new(Variable::try_from(v)?))
}

fn s(v: &Rcvar) -> String {
    v.as_string().cloned().unwrap_or_default()
}

type F = fn(&[Rcvar], &mut Context<'_>) -> Result<Rcvar, JmespathError>;

fn reg(rt: &mut Runtime, name: &str, inputs: Vec<A>, variadic: Option<A>, f: F) {
    rt.register_function(
        name,
        Box::new(CustomFunction::new(
            Signature::new(inputs, variadic),
            Box::new(f),
        )),
    );
}

fn arg<'a>(args: &'a [Rcvar], i: usize, ctx: &Context<'_>) -> Result<&'a Rcvar, JmespathError> {
    args.get(i).ok_or_else(|| err(ctx, "argument"))
}

fn register(rt: &mut Runtime) {
    use A::*;
    reg(rt, "compare", vec![String, String], None, |a, c| {
        let (x, y) = (s(arg(a, 0, c)?), s(arg(a, 1, c)?));
        rc(Value::from(x.cmp(&y) as i64))
    });
    reg(rt, "equal_fold", vec![String, String], None, |a, c| {
        let (x, y) = (s(arg(a, 0, c)?), s(arg(a, 1, c)?));
        rc(Value::Bool(x.to_lowercase() == y.to_lowercase()))
    });
    reg(
        rt,
        "replace",
        vec![String, String, String, Number],
        None,
        |a, c| {
            let (x, from, to) = (s(arg(a, 0, c)?), s(arg(a, 1, c)?), s(arg(a, 2, c)?));
            let n = arg(a, 3, c)?.as_number().unwrap_or(-1.0);
            let out = if n < 0.0 {
                x.replace(&from, &to)
            } else {
                x.replacen(&from, &to, n as usize)
            };
            rc(Value::String(out))
        },
    );
    reg(
        rt,
        "replace_all",
        vec![String, String, String],
        None,
        |a, c| {
            let (x, from, to) = (s(arg(a, 0, c)?), s(arg(a, 1, c)?), s(arg(a, 2, c)?));
            rc(Value::String(x.replace(&from, &to)))
        },
    );
    reg(rt, "to_upper", vec![String], None, |a, c| {
        rc(Value::String(s(arg(a, 0, c)?).to_uppercase()))
    });
    reg(rt, "to_lower", vec![String], None, |a, c| {
        rc(Value::String(s(arg(a, 0, c)?).to_lowercase()))
    });
    reg(rt, "trim", vec![String, String], None, |a, c| {
        let (x, cut) = (s(arg(a, 0, c)?), s(arg(a, 1, c)?));
        rc(Value::String(
            x.trim_matches(|ch| cut.contains(ch)).to_string(),
        ))
    });
    reg(rt, "trim_prefix", vec![String, String], None, |a, c| {
        let (x, p) = (s(arg(a, 0, c)?), s(arg(a, 1, c)?));
        rc(Value::String(
            x.strip_prefix(p.as_str()).unwrap_or(&x).to_string(),
        ))
    });
    reg(rt, "split", vec![String, String], None, |a, c| {
        let (x, sep) = (s(arg(a, 0, c)?), s(arg(a, 1, c)?));
        let parts: Vec<Value> = if sep.is_empty() {
            x.chars().map(|ch| Value::String(ch.to_string())).collect()
        } else {
            x.split(sep.as_str())
                .map(|p| Value::String(p.to_string()))
                .collect()
        };
        rc(Value::Array(parts))
    });
    reg(
        rt,
        "regex_match",
        vec![String, Union(vec![String, Number])],
        None,
        |a, c| {
            let re = s(arg(a, 0, c)?);
            let v = arg(a, 1, c)?;
            let text = v
                .as_string()
                .cloned()
                .unwrap_or_else(|| to_json(v).to_string());
            let re = regex::Regex::new(&re).map_err(|e| err(c, &e.to_string()))?;
            rc(Value::Bool(re.is_match(&text)))
        },
    );
    reg(
        rt,
        "pattern_match",
        vec![String, Union(vec![String, Number])],
        None,
        |a, c| {
            let p = s(arg(a, 0, c)?);
            let v = arg(a, 1, c)?;
            let text = v
                .as_string()
                .cloned()
                .unwrap_or_else(|| to_json(v).to_string());
            rc(Value::Bool(wildcard::matches(&p, &text)))
        },
    );
    reg(
        rt,
        "regex_replace_all",
        vec![
            String,
            Union(vec![String, Number]),
            Union(vec![String, Number]),
        ],
        None,
        |a, c| {
            let re = regex::Regex::new(&s(arg(a, 0, c)?)).map_err(|e| err(c, &e.to_string()))?;
            let text = str_or_num(arg(a, 1, c)?);
            let rep = str_or_num(arg(a, 2, c)?)
                .replace("$", "$$")
                .replace("$$$$", "$");
            let rep = go_template(&rep);
            rc(Value::String(
                re.replace_all(&text, rep.as_str()).into_owned(),
            ))
        },
    );
    reg(
        rt,
        "regex_replace_all_literal",
        vec![
            String,
            Union(vec![String, Number]),
            Union(vec![String, Number]),
        ],
        None,
        |a, c| {
            let re = regex::Regex::new(&s(arg(a, 0, c)?)).map_err(|e| err(c, &e.to_string()))?;
            let text = str_or_num(arg(a, 1, c)?);
            let rep = str_or_num(arg(a, 2, c)?);
            rc(Value::String(
                re.replace_all(&text, regex::NoExpand(&rep)).into_owned(),
            ))
        },
    );
    reg(rt, "label_match", vec![Object, Object], None, |a, c| {
        let sel = to_json(arg(a, 0, c)?);
        let labels = to_json(arg(a, 1, c)?);
        let ok = sel
            .as_object()
            .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
        rc(Value::Bool(ok))
    });
    reg(rt, "base64_decode", vec![String], None, |a, c| {
        let x = s(arg(a, 0, c)?);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(x.as_bytes())
            .map_err(|e| err(c, &e.to_string()))?;
        rc(Value::String(
            std::string::String::from_utf8_lossy(&bytes).into_owned(),
        ))
    });
    reg(rt, "base64_encode", vec![String], None, |a, c| {
        rc(Value::String(
            base64::engine::general_purpose::STANDARD.encode(s(arg(a, 0, c)?)),
        ))
    });
    reg(rt, "truncate", vec![String, Number], None, |a, c| {
        let x = s(arg(a, 0, c)?);
        let n = arg(a, 1, c)?.as_number().unwrap_or(0.0).max(0.0) as usize;
        rc(Value::String(x.chars().take(n).collect()))
    });
    reg(rt, "parse_json", vec![String], None, |a, c| {
        let v: Value =
            serde_json::from_str(&s(arg(a, 0, c)?)).map_err(|e| err(c, &e.to_string()))?;
        rc(v)
    });
    reg(rt, "parse_yaml", vec![String], None, |a, c| {
        let text = s(arg(a, 0, c)?);
        let (docs, errs) = rampart_manifest::parse_yaml("<parse_yaml>", &text);
        if let Some(e) = errs.first() {
            return Err(err(c, &e.message));
        }
        rc(docs
            .into_iter()
            .next()
            .map(|d| d.value)
            .unwrap_or(Value::Null))
    });
    reg(
        rt,
        "items",
        vec![Union(vec![Object, Array]), String, String],
        None,
        |a, c| {
            let v = to_json(arg(a, 0, c)?);
            let (kn, vn) = (s(arg(a, 1, c)?), s(arg(a, 2, c)?));
            let mut out = Vec::new();
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        let mut o = serde_json::Map::new();
                        o.insert(kn.clone(), Value::String(k));
                        o.insert(vn.clone(), v);
                        out.push(Value::Object(o));
                    }
                }
                Value::Array(items) => {
                    for (i, v) in items.into_iter().enumerate() {
                        let mut o = serde_json::Map::new();
                        o.insert(kn.clone(), Value::from(i));
                        o.insert(vn.clone(), v);
                        out.push(Value::Object(o));
                    }
                }
                _ => {}
            }
            rc(Value::Array(out))
        },
    );
    reg(rt, "object_from_lists", vec![Array, Array], None, |a, c| {
        let keys = to_json(arg(a, 0, c)?);
        let vals = to_json(arg(a, 1, c)?);
        let mut o = serde_json::Map::new();
        for (i, k) in keys.as_array().into_iter().flatten().enumerate() {
            if let Some(k) = k.as_str() {
                o.insert(k.to_string(), vals.get(i).cloned().unwrap_or(Value::Null));
            }
        }
        rc(Value::Object(o))
    });
    reg(
        rt,
        "lookup",
        vec![Union(vec![Object, Array]), Union(vec![String, Number])],
        None,
        |a, c| {
            let coll = to_json(arg(a, 0, c)?);
            let key = to_json(arg(a, 1, c)?);
            let out = match (&coll, &key) {
                (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
                (Value::Array(v), Value::Number(n)) => n
                    .as_u64()
                    .and_then(|i| v.get(i as usize).cloned())
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            };
            rc(out)
        },
    );
    for (name, op) in [
        ("add", '+'),
        ("subtract", '-'),
        ("multiply", '*'),
        ("divide", '/'),
        ("modulo", '%'),
    ] {
        let f: F = match op {
            '+' => |a, c| arith(a, c, "add", '+'),
            '-' => |a, c| arith(a, c, "subtract", '-'),
            '*' => |a, c| arith(a, c, "multiply", '*'),
            '/' => |a, c| arith(a, c, "divide", '/'),
            _ => |a, c| arith(a, c, "modulo", '%'),
        };
        reg(rt, name, vec![Any, Any], None, f);
    }
    reg(rt, "round", vec![Number, Number], None, |a, c| {
        let x = arg(a, 0, c)?.as_number().unwrap_or(0.0);
        let d = arg(a, 1, c)?.as_number().unwrap_or(0.0);
        // the digits: a whole number, not negative
        if d.fract() != 0.0 {
            return Err(err(
                c,
                "JMESPath function 'round': Non-integer argument(s) passed for round off",
            ));
        }
        if d < 0.0 {
            return Err(err(
                c,
                &format!("JMESPath function 'round': 2 argument is out of bounds ({d})"),
            ));
        }
        let m = 10f64.powi(d as i32);
        rc(num((x * m).round() / m))
    });
    // `sum`: the first element as it is, then each added to it (`add`'s types); an empty
    // array is an error
    reg(rt, "sum", vec![Array], None, |a, c| {
        let v = to_json(arg(a, 0, c)?);
        let items = v.as_array().cloned().unwrap_or_default();
        let mut it = items.into_iter();
        let Some(mut total) = it.next() else {
            return Err(err(
                c,
                "JMESPath function 'sum': at least one element in the array is required",
            ));
        };
        for i in it {
            total = crate::arith::apply(&total, &i, '+')
                .map_err(|e| err(c, &format!("JMESPath function 'sum': {e}")))?;
        }
        rc(total)
    });
    reg(rt, "semver_compare", vec![String, String], None, |a, c| {
        let v = s(arg(a, 0, c)?);
        let r = s(arg(a, 1, c)?);
        rc(Value::Bool(semver_match(&v, &r)))
    });
    // Go's `filepath.Clean`: `..` past the root is dropped, past the start of a relative
    // path kept; an empty result is `.`
    reg(rt, "path_canonicalize", vec![String], None, |a, c| {
        let p = s(arg(a, 0, c)?);
        let rooted = p.starts_with('/');
        let mut parts: Vec<&str> = Vec::new();
        for seg in p.split('/') {
            match seg {
                "" | "." => {}
                ".." => match parts.last() {
                    Some(&last) if last != ".." => {
                        parts.pop();
                    }
                    _ if !rooted => parts.push(".."),
                    _ => {}
                },
                s => parts.push(s),
            }
        }
        let lead = if rooted { "/" } else { "" };
        let out = format!("{lead}{}", parts.join("/"));
        rc(Value::String(if out.is_empty() { ".".into() } else { out }))
    });
    // the time functions, as Go's `time` has them: RFC 3339 arguments keep their offset,
    // results are written as `Format(time.RFC3339)` writes them
    reg(rt, "time_now", vec![], None, |_, _| {
        rc(Value::String(crate::timefns::now().rfc3339()))
    });
    reg(rt, "time_now_utc", vec![], None, |_, _| {
        rc(Value::String(crate::timefns::now().rfc3339()))
    });
    reg(rt, "time_utc", vec![String], None, |a, c| {
        let t = time_arg(arg(a, 0, c)?, c)?;
        rc(Value::String(t.utc().rfc3339()))
    });
    // `time_parse(layout, value)`: a Go layout, or a number for Unix seconds
    reg(rt, "time_parse", vec![String, String], None, |a, c| {
        let layout = s(arg(a, 0, c)?);
        let value = s(arg(a, 1, c)?);
        if layout.parse::<i64>().is_ok() {
            let secs: i64 = value.parse().map_err(|_| {
                err(
                    c,
                    &format!("time_parse: {value:?} is not a number of seconds"),
                )
            })?;
            let t = crate::timefns::Time {
                unix: secs,
                nanos: 0,
                offset: 0,
            };
            return rc(Value::String(t.rfc3339()));
        }
        let t = crate::timefns::parse(&layout, &value).ok_or_else(|| {
            err(
                c,
                &format!("time_parse: {value:?} does not match the layout {layout:?}"),
            )
        })?;
        rc(Value::String(t.rfc3339()))
    });
    // `time_since(layout, t1, t2)`: `t2 - t1`, RFC 3339 without a layout, now without `t2`
    reg(
        rt,
        "time_since",
        vec![String, String, String],
        None,
        |a, c| {
            let layout = s(arg(a, 0, c)?);
            let read = |v: &Rcvar, c: &Context<'_>| {
                if layout.is_empty() {
                    time_arg(v, c)
                } else {
                    crate::timefns::parse(&layout, &s(v)).ok_or_else(|| {
                        err(
                            c,
                            &format!(
                                "time_since: {:?} does not match the layout {layout:?}",
                                s(v)
                            ),
                        )
                    })
                }
            };
            let t1 = read(arg(a, 1, c)?, c)?;
            let t2 = match s(arg(a, 2, c)?).as_str() {
                "" => crate::timefns::now(),
                _ => read(arg(a, 2, c)?, c)?,
            };
            rc(Value::String(crate::arith::format_duration(t2.sub(&t1))))
        },
    );
    reg(rt, "time_diff", vec![String, String], None, |a, c| {
        let t1 = time_arg(arg(a, 0, c)?, c)?;
        let t2 = time_arg(arg(a, 1, c)?, c)?;
        rc(Value::String(crate::arith::format_duration(t2.sub(&t1))))
    });
    reg(rt, "time_add", vec![String, String], None, |a, c| {
        let t = time_arg(arg(a, 0, c)?, c)?;
        let d = duration_arg(arg(a, 1, c)?, c)?;
        rc(Value::String(t.add(d).rfc3339()))
    });
    reg(rt, "time_after", vec![String, String], None, |a, c| {
        let (t1, t2) = (time_arg(arg(a, 0, c)?, c)?, time_arg(arg(a, 1, c)?, c)?);
        rc(Value::Bool(t1.total_nanos() > t2.total_nanos()))
    });
    reg(rt, "time_before", vec![String, String], None, |a, c| {
        let (t1, t2) = (time_arg(arg(a, 0, c)?, c)?, time_arg(arg(a, 1, c)?, c)?);
        rc(Value::Bool(t1.total_nanos() < t2.total_nanos()))
    });
    reg(
        rt,
        "time_between",
        vec![String, String, String],
        None,
        |a, c| {
            let t = time_arg(arg(a, 0, c)?, c)?.total_nanos();
            let start = time_arg(arg(a, 1, c)?, c)?.total_nanos();
            let end = time_arg(arg(a, 2, c)?, c)?.total_nanos();
            rc(Value::Bool(t > start && t < end))
        },
    );
    reg(rt, "time_truncate", vec![String, String], None, |a, c| {
        let t = time_arg(arg(a, 0, c)?, c)?;
        let d = duration_arg(arg(a, 1, c)?, c)?;
        rc(Value::String(t.truncate(d).rfc3339()))
    });
    reg(rt, "time_to_cron", vec![String], None, |a, c| {
        crate::timefns::cron_of(&s(arg(a, 0, c)?))
            .map(Value::String)
            .ok_or_else(|| err(c, "RFC 3339 time"))
            .and_then(rc)
    });
    reg(rt, "x509_decode", vec![String], None, |a, c| {
        crate::x509::decode(&s(arg(a, 0, c)?))
            .map_err(|e| err(c, &e))
            .and_then(rc)
    });
    reg(rt, "sha256", vec![String], None, |a, c| {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s(arg(a, 0, c)?).as_bytes());
        rc(Value::String(hex(d.as_ref())))
    });
    reg(rt, "sha1", vec![String], None, |a, c| {
        let d = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            s(arg(a, 0, c)?).as_bytes(),
        );
        rc(Value::String(hex(d.as_ref())))
    });
    reg(rt, "md5", vec![String], None, |a, c| {
        use md5::Digest as _;
        rc(Value::String(hex(&md5::Md5::digest(
            s(arg(a, 0, c)?).as_bytes(),
        ))))
    });
    reg(rt, "image_normalize", vec![String], None, |a, c| {
        let image = s(arg(a, 0, c)?);
        // Kyverno parses with the distribution grammar after adding the default registry
        rampart_images::Reference::parse(&image)
            .map_err(|e| err(c, &format!("an image reference ({e})")))?;
        rc(Value::String(crate::images::kyverno_name(&image)))
    });
    reg(rt, "is_external_url", vec![String], None, |a, c| {
        is_external_url(&s(arg(a, 0, c)?))
            .map(Value::Bool)
            .map_err(|e| err(c, &e))
            .and_then(rc)
    });
    reg(rt, "random", vec![String], None, |a, c| {
        let pattern = s(arg(a, 0, c)?);
        if pattern.is_empty() {
            return Err(err(c, "a pattern (no pattern provided)"));
        }
        crate::random::matching(&pattern)
            .map(Value::String)
            .map_err(|e| err(c, &e))
            .and_then(rc)
    });
    reg(rt, "to_boolean", vec![String], None, |a, c| {
        let x = s(arg(a, 0, c)?).to_lowercase();
        match x.as_str() {
            "true" => rc(Value::Bool(true)),
            "false" => rc(Value::Bool(false)),
            _ => Err(err(c, "boolean string")),
        }
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Kyverno's `is_external_url`: whether the URL's host is neither a loopback nor a private
/// address (a name is resolved, and every address it has must be external).
fn is_external_url(url: &str) -> Result<bool, String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let internal = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        // Go's IsPrivate: fc00::/7
        std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(!internal(ip));
    }
    use std::net::ToSocketAddrs as _;
    let addrs = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("a resolvable host ({host}: {e})"))?;
    Ok(!addrs.map(|a| a.ip()).any(internal))
}

fn time_arg(v: &Rcvar, c: &Context<'_>) -> Result<crate::timefns::Time, JmespathError> {
    crate::timefns::parse_rfc3339(&s(v)).ok_or_else(|| err(c, "RFC 3339 time"))
}

/// A Go duration argument, in nanoseconds.
fn duration_arg(v: &Rcvar, c: &Context<'_>) -> Result<i64, JmespathError> {
    crate::arith::parse_duration(&s(v)).ok_or_else(|| err(c, "duration"))
}

fn str_or_num(v: &Rcvar) -> String {
    v.as_string()
        .cloned()
        .unwrap_or_else(|| to_json(v).to_string())
}

/// Go's regexp `${1}` / `$1` templates map onto Rust's the same way; `$$` escapes.
fn go_template(s: &str) -> String {
    s.replace("$$", "$")
}

fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn arith(a: &[Rcvar], c: &mut Context<'_>, name: &str, op: char) -> Result<Rcvar, JmespathError> {
    let x = to_json(arg(a, 0, c)?);
    let y = to_json(arg(a, 1, c)?);
    let v = crate::arith::apply(&x, &y, op)
        .map_err(|e| err(c, &format!("JMESPath function '{name}': {e}")))?;
    rc(v)
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let v = v.trim().trim_start_matches('v');
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let a = it.next()?.parse().ok()?;
    let b = it.next().map(|x| x.parse().ok()).unwrap_or(Some(0))?;
    let c = it.next().map(|x| x.parse().ok()).unwrap_or(Some(0))?;
    Some((a, b, c))
}

/// A range's comparators with `x` wildcards expanded as blang/semver (Kyverno's) expands
/// them: `>=4.1.x` is `>=4.1.0`, `>4.1.x` is `>=4.2.0`, `<=4.1.x` is `<4.2.0`, `4.1.x` is
/// `>=4.1.0 <4.2.0`, and `!4.x.x` becomes `<4.0.0` and `>=5.0.0` together (never true, as
/// in the library).
fn expand_wildcards(cond: &str) -> Vec<String> {
    if !cond.contains('x') {
        return vec![cond.to_string()];
    }
    let split = cond
        .find(|c: char| c.is_ascii_digit() || c == 'x')
        .unwrap_or(cond.len());
    let (op, version) = cond.split_at(split);
    let parts: Vec<&str> = version.split('.').collect();
    let (minor_wild, patch_wild) = (
        parts.get(1).is_some_and(|p| *p == "x"),
        parts.get(2).is_some_and(|p| *p == "x"),
    );
    let flat = version.replace(".x", ".0");
    let bumped = || -> String {
        let n: Vec<u64> = flat.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        let (ma, mi) = (
            n.first().copied().unwrap_or(0),
            n.get(1).copied().unwrap_or(0),
        );
        if minor_wild {
            format!("{}.0.0", ma + 1)
        } else if patch_wild {
            format!("{ma}.{}.0", mi + 1)
        } else {
            flat.clone()
        }
    };
    match op {
        ">" => vec![format!(">={}", bumped())],
        ">=" => vec![format!(">={flat}")],
        "<" => vec![format!("<{flat}")],
        "<=" => vec![format!("<{}", bumped())],
        "" | "=" | "==" => vec![format!(">={flat}"), format!("<{}", bumped())],
        "!" | "!=" => vec![format!("<{flat}"), format!(">={}", bumped())],
        _ => vec![cond.to_string()],
    }
}

fn semver_match(version: &str, range: &str) -> bool {
    let Some(v) = parse_version(version) else {
        return false;
    };
    range.split("||").any(|alt| {
        alt.split_whitespace()
            .flat_map(expand_wildcards)
            .all(|cond| {
                let ops = [">=", "<=", "!=", "==", ">", "<", "!", "="];
                let (op, rest) = ops
                    .iter()
                    .find_map(|op| cond.strip_prefix(op).map(|r| (*op, r)))
                    .unwrap_or(("=", cond.as_str()));
                let Some(r) = parse_version(rest) else {
                    return false;
                };
                match op {
                    ">=" => v >= r,
                    "<=" => v <= r,
                    ">" => v > r,
                    "<" => v < r,
                    "!=" | "!" => v != r,
                    _ => v == r,
                }
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_as_kyverno_reports_them() {
        let d = json!({"request": {"object": {"metadata": {"name": "web", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c"}]}}}, "n": null});
        let cases = [
            ("nothere.value", Some("nothere")),
            ("request.object.metadata.labels.foo", Some("foo")),
            (
                "request.object.metadata.annotations.foo",
                Some("annotations"),
            ),
            ("request.object.spec.containers[0].image", Some("image")),
            ("request.object.spec.containers[0].name", None),
            // an index past the end, a field of null: null, not an error
            ("request.object.spec.containers[3].image", None),
            ("n.value", None),
            // these take a missing value as null
            ("nothere.value || 'x'", None),
            ("request.object.metadata.labels.foo | to_upper(@)", None),
            ("to_string(request.object.metadata.labels.foo)", None),
            ("request.object.metadata.labels.foo == 'x'", None),
            ("request.object.spec.containers[*].image", None),
            ("request.object.spec.[initContainers, containers][]", None),
        ];
        for (expr, want) in cases {
            assert_eq!(unknown_key(expr, &d).as_deref(), want, "{expr}");
        }
    }

    #[test]
    fn hashes_images_urls_and_cron() {
        let d = json!({"s": "hello"});
        let cases = [
            (
                "sha256(s)",
                json!("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
            ),
            ("sha1(s)", json!("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")),
            ("md5(s)", json!("5d41402abc4b2a76b9719d911017c592")),
            ("image_normalize('nginx')", json!("docker.io/nginx:latest")),
            (
                "image_normalize('ghcr.io/acme/api:1.4')",
                json!("ghcr.io/acme/api:1.4"),
            ),
            (
                "image_normalize('acme/api@sha256:0123456789012345678901234567890123456789012345678901234567890123')",
                json!(
                    "docker.io/acme/api@sha256:0123456789012345678901234567890123456789012345678901234567890123"
                ),
            ),
            ("is_external_url('https://10.0.0.1/x')", json!(false)),
            ("is_external_url('http://192.168.1.1:8080')", json!(false)),
            ("is_external_url('http://[::1]:80/')", json!(false)),
            ("is_external_url('http://127.0.0.1')", json!(false)),
            ("is_external_url('http://localhost:9000/a')", json!(false)),
            ("is_external_url('https://8.8.8.8/dns')", json!(true)),
            ("is_external_url('https://[2001:db8::1]/')", json!(true)),
            // 2024-03-05 was a Tuesday; the fields are the time's own
            (
                "time_to_cron('2024-03-05T14:07:00+02:00')",
                json!("7 14 5 3 2"),
            ),
            ("time_to_cron('2023-12-31T00:00:00Z')", json!("0 0 31 12 0")),
        ];
        for (expr, want) in cases {
            assert_eq!(search(expr, &d).unwrap(), want, "{expr}");
        }
        for bad in [
            "image_normalize('Nginx:latest')",
            "time_to_cron('yesterday')",
            "random('')",
            "random('(')",
        ] {
            assert!(search(bad, &d).is_err(), "{bad}");
        }
        let r = search("random('[a-z]{6}-[0-9]{3}')", &d).unwrap();
        assert!(
            regex::Regex::new("^[a-z]{6}-[0-9]{3}$")
                .unwrap()
                .is_match(r.as_str().unwrap()),
            "{r}"
        );
    }

    #[test]
    fn hash_commas_are_optional_as_in_kyverno() {
        let d = json!({"p": "/spec", "a": {"b": "x"}});
        let cases = [
            (
                "{op: 'add', path: p value: `1`}",
                json!({"op": "add", "path": "/spec", "value": 1}),
            ),
            // a newline, a quoted key and a pipe after the fixed hash
            (
                "{x: a.b\n \"y\": p z: join('/', [p, 'q'])} | [x, y, z]",
                json!(["x", "/spec", "/spec/q"]),
            ),
            (
                "[{k: p}, {k: a.b j: `true`}]",
                json!([{"k": "/spec"}, {"k": "x", "j": true}]),
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(search(expr, &d).unwrap(), want, "{expr}");
            assert!(check(expr).is_ok(), "{expr}");
        }
        // a missing key still reports the key a Kyverno query misses
        assert_eq!(unknown_key("{x: a.nope y: p}.x", &d), None);
        for bad in ["{x: p y}", "{x: p, }", "{x p}", "{x: p ] y: p}"] {
            let e = search(bad, &d).unwrap_err();
            assert!(e.contains("JMESPath syntax error"), "{bad}: {e}");
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kyverno_functions() {
        let d = json!({"a": "Hello", "n": [1, 2], "t": "1h"});
        assert_eq!(search("to_upper(a)", &d).unwrap(), json!("HELLO"));
        assert_eq!(search("split('a,b', ',')", &d).unwrap(), json!(["a", "b"]));
        assert_eq!(search("regex_match('^H', a)", &d).unwrap(), json!(true));
        assert_eq!(search("add(`1`, `2`)", &d).unwrap(), json!(3));
        assert_eq!(search("sum(n)", &d).unwrap(), json!(3));
        assert_eq!(search("add(t, '30m0s')", &d).unwrap(), json!("1h30m0s"));
        // `30m` reads as a quantity (30 milli) before a duration, as in Kyverno: a mismatch
        assert!(search("add(t, '30m')", &d).is_err());
        assert!(search("sum(`[]`)", &d).is_err());
        for (expr, want) in [
            ("semver_compare('4.1.3', '>=4.1.x')", json!(true)),
            ("semver_compare('4.1.3', '4.1.x')", json!(true)),
            ("semver_compare('4.2.0', '<=4.1.x')", json!(false)),
            ("semver_compare('4.2.0', '>4.1.x')", json!(true)),
            ("semver_compare('4.1.3', '!4.x.x')", json!(false)),
            ("path_canonicalize('a/../..')", json!("..")),
            ("path_canonicalize('/../../')", json!("/")),
            ("path_canonicalize('')", json!(".")),
            // Go layouts, offsets kept, whole seconds
            (
                "time_parse('Mon Jan 02 15:04:05 -0700 2006', 'Sat Jan 02 15:04:05 -0700 2021')",
                json!("2021-01-02T15:04:05-07:00"),
            ),
            (
                "time_parse('2006-01-02', '2023-07-04')",
                json!("2023-07-04T00:00:00Z"),
            ),
            (
                "time_parse('1702691171', '1702691171')",
                json!("2023-12-16T01:46:11Z"),
            ),
            (
                "time_add('2021-01-02T15:04:05-07:00', '3h')",
                json!("2021-01-02T18:04:05-07:00"),
            ),
            (
                "time_utc('2021-01-02T15:04:05-07:00')",
                json!("2021-01-02T22:04:05Z"),
            ),
            (
                "time_diff('2021-01-02T15:04:05Z', '2021-01-10T03:14:16Z')",
                json!("180h10m11s"),
            ),
            (
                "time_truncate('2021-01-07T10:11:12.5Z', '1h')",
                json!("2021-01-07T10:00:00Z"),
            ),
        ] {
            assert_eq!(search(expr, &d).unwrap(), want, "{expr}");
        }
        assert_eq!(
            search("base64_decode(base64_encode(a))", &d).unwrap(),
            json!("Hello")
        );
        assert_eq!(
            search("semver_compare('1.2.3', '>=1.2.0')", &d).unwrap(),
            json!(true)
        );
        assert!(search("a[", &d).is_err());
        assert_eq!(search("missing", &d).unwrap(), json!(null));
        assert_eq!(
            search(
                "time_diff('2024-01-01T00:00:00Z', '2024-01-01T01:30:00Z')",
                &d
            )
            .unwrap(),
            json!("1h30m0s")
        );
        assert_eq!(
            search("time_add('2024-01-01T00:00:00Z', '25h')", &d).unwrap(),
            json!("2024-01-02T01:00:00Z")
        );
        assert_eq!(
            search(
                "time_before('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
                &d
            )
            .unwrap(),
            json!(true)
        );
    }
}
