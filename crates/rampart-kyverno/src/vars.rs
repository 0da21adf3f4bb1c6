//! `{{ }}` variables: JMESPath over the rule's context, substituted in leaves and keys.

use crate::jmes;
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The JSON context a rule's variables are evaluated against.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    pub data: Value,
    /// Dotted paths the test's values set; context entries below them are not loaded.
    pub preset: Vec<String>,
    /// `data` converted for JMESPath, built on the first query after a change.
    converted: std::cell::RefCell<Option<jmespath::Rcvar>>,
    /// Resolves `configMap` and `apiCall` entries, when a cluster is at hand.
    pub resolver: Option<crate::resolver::Resolver>,
    /// The namespace of a namespaced `Policy`: its entries may read only that namespace.
    pub policy_namespace: Option<String>,
    /// Verifies the images of `verifyImages` rules, when registries may be contacted.
    pub image_verifier: Option<crate::images::Verifier>,
    /// The policy set's global context entries, for `globalReference` entries.
    pub global: Option<crate::global::Shared>,
    /// Context entries that could not be loaded: the name, the expression that finds it in a
    /// query, and why; a query that names one fails.
    deferred_errors: Vec<(String, Option<Regex>, String)>,
}

impl Ctx {
    pub fn new(data: Value) -> Ctx {
        Ctx {
            data,
            preset: Vec::new(),
            converted: std::cell::RefCell::new(None),
            deferred_errors: Vec::new(),
            global: None,
            resolver: None,
            policy_namespace: None,
            image_verifier: None,
        }
    }

    fn changed(&mut self) {
        *self.converted.get_mut() = None;
    }

    /// Whether the values set `name` or a path below it.
    pub fn is_preset(&self, name: &str) -> bool {
        self.preset
            .iter()
            .any(|k| k == name || k.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
    }

    /// Records that the context entry `name` could not be loaded (`why`): queries naming it
    /// fail; or, with `None`, that it was (again).
    pub fn defer_error(&mut self, name: &str, why: Option<String>) {
        self.deferred_errors.retain(|(n, _, _)| n != name);
        if let Some(why) = why {
            let named = Regex::new(&format!(
                r"(?:\A|\s|[^.0-9A-Za-z]){}\b",
                regex::escape(name)
            ))
            .ok();
            self.deferred_errors.push((name.to_string(), named, why));
        }
    }

    /// [`Ctx::query`], failing as Kyverno's JMESPath does where a field is missing from an
    /// object (`Unknown key "k" in path`).
    pub fn query_strict(&self, expr: &str) -> Result<Value, String> {
        let v = self.query(expr)?;
        match (v.is_null(), jmes::unknown_key(expr, &self.data)) {
            (true, Some(key)) => Err(format!("Unknown key \"{key}\" in path")),
            _ => Ok(v),
        }
    }

    /// Queries the context with a JMESPath expression. A query that names a context entry
    /// that could not be loaded fails with its reason, as Kyverno's deferred loading does
    /// (the name preceded by the start, a space or a character other than `.`, a digit or a
    /// letter, and followed by a word boundary).
    pub fn query(&self, expr: &str) -> Result<Value, String> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Err("invalid query (nil)".into());
        }
        for (_, named, why) in &self.deferred_errors {
            if named.as_ref().is_some_and(|re| re.is_match(expr)) {
                return Err(why.clone());
            }
        }
        let var = {
            let mut c = self.converted.borrow_mut();
            match &*c {
                Some(v) => v.clone(),
                None => {
                    let v = jmespath::Rcvar::new(
                        jmespath::Variable::try_from(&self.data).map_err(|e| e.to_string())?,
                    );
                    *c = Some(v.clone());
                    v
                }
            }
        };
        jmes::search_var(expr, &var)
    }

    /// Sets a dotted path (`request.operation`) to a value.
    pub fn set_path(&mut self, path: &str, v: Value) {
        self.changed();
        let mut cur = &mut self.data;
        for seg in path_segments(path) {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            let Value::Object(m) = cur else {
                return;
            };
            cur = m.entry(seg.to_string()).or_insert(Value::Null);
        }
        *cur = v;
    }

    pub fn set(&mut self, key: &str, v: Value) {
        self.changed();
        if !self.data.is_object() {
            self.data = Value::Object(Map::new());
        }
        if let Value::Object(m) = &mut self.data {
            m.insert(key.to_string(), v);
        }
    }
}

/// The keys of a dotted path, a double-quoted segment read as one key
/// (`metadata.annotations."example.com/owner"`).
fn path_segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn var_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})").ok())
        .as_ref()
}

/// Whether a string holds a variable.
pub fn has_vars(s: &str) -> bool {
    var_re().is_some_and(|re| re.is_match(s))
}

/// Substitutes every variable in a document.
pub fn substitute(doc: &Value, ctx: &Ctx) -> Result<Value, String> {
    substitute_at(doc, ctx, &[])
}

/// Substitutes every variable in a document found at `base` (its JSON pointer segments in
/// the document Kyverno substitutes: the whole rule for a mutate rule, the
/// `{patchStrategicMerge, patchesJson6902}` map for a mutate foreach entry, the pattern itself
/// for a validate pattern). `base` places `{{@}}`: see [`at_path`].
pub fn substitute_at(doc: &Value, ctx: &Ctx, base: &[&str]) -> Result<Value, String> {
    let mut path: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    walk(doc, ctx, &mut path)
}

fn walk(doc: &Value, ctx: &Ctx, path: &mut Vec<String>) -> Result<Value, String> {
    match doc {
        Value::String(s) => substitute_in(s, ctx, path),
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, v) in a.iter().enumerate() {
                path.push(i.to_string());
                let r = walk(v, ctx, path);
                path.pop();
                out.push(r?);
            }
            Ok(Value::Array(out))
        }
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                path.push(k.clone());
                let key = if has_vars(k) {
                    substitute_in(k, ctx, path).map(|k| match k {
                        Value::String(s) => s,
                        other => other.to_string(),
                    })
                } else {
                    Ok(k.clone())
                };
                let value = walk(v, ctx, path);
                path.pop();
                out.insert(key?, value?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// The JMESPath `{{@}}` stands for at `path`, as Kyverno computes it: the segments after the
/// first `foreach` (all of them when there is none), less the first two, below `target`
/// (mutate existing) or `request.object`.
pub fn at_path(path: &[String], ctx: &Ctx) -> String {
    let after_foreach = match path.iter().position(|s| s == "foreach") {
        Some(i) => path.get(i + 1..).unwrap_or(&[]),
        None => path,
    };
    let rest = if after_foreach.len() > 2 {
        after_foreach.get(2..).unwrap_or(&[])
    } else {
        &[]
    };
    let prefix: &[&str] = if ctx.data.get("target").is_some_and(|t| !t.is_null()) {
        &["target"]
    } else {
        &["request", "object"]
    };
    let mut out = String::new();
    let segs = prefix
        .iter()
        .copied()
        .chain(rest.iter().map(String::as_str));
    for seg in segs {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        let plain = seg
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            out.push_str(seg);
        } else {
            out.push_str(&Value::String(seg.to_string()).to_string());
        }
    }
    out
}

/// Substitutes the variables of one string; a string that is one variable takes its type.
pub fn substitute_str(s: &str, ctx: &Ctx) -> Result<Value, String> {
    substitute_in(s, ctx, &[])
}

fn substitute_in(s: &str, ctx: &Ctx, path: &[String]) -> Result<Value, String> {
    if !s.contains("{{") {
        return Ok(Value::String(s.to_string()));
    }
    // On a DELETE, Kyverno reads `request.object` from the old object.
    let delete = ctx
        .data
        .pointer("/request/operation")
        .and_then(Value::as_str)
        == Some("DELETE");
    let mut value = s.to_string();
    let mut rounds = 0;
    while let Some(re) = var_re() {
        let found: Vec<(String, String)> = re
            .captures_iter(&value)
            .map(|c| {
                (
                    c.get(1).map(|m| m.as_str().to_string()).unwrap_or_default(),
                    c.get(2).map(|m| m.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect();
        if found.is_empty() || rounds > 16 {
            break;
        }
        rounds += 1;
        let mut shallow = false;
        for (prefix, v) in found {
            let inner = v.trim_start_matches("{{").trim_end_matches("}}");
            let mut variable = inner.replace("{{", "").replace("}}", "").trim().to_string();
            if let Some(rest) = variable.strip_prefix('-') {
                variable = rest.trim().to_string();
                shallow = true;
            }
            if variable == "@" {
                variable = at_path(path, ctx);
            }
            if delete {
                variable = variable.replace("request.object", "request.oldObject");
            }
            // Kyverno's JMESPath fails where a field is missing from an object
            let result = ctx
                .query_strict(&variable)
                .map_err(|e| format!("failed to resolve {variable}: {e}"))?;
            if value == v {
                return Ok(result);
            }
            let mut text = match &result {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if shallow {
                text = text.replace("{{", "\\{{");
            }
            value = value.replacen(&format!("{prefix}{v}"), &format!("{prefix}{text}"), 1);
        }
        if shallow {
            break;
        }
    }
    Ok(Value::String(value.replace("\\{{", "{{")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitution_keeps_types() {
        let ctx = Ctx::new(
            json!({"request": {"object": {"metadata": {"name": "web", "labels": {"a": "b"}}}}, "n": 3}),
        );
        assert_eq!(substitute_str("{{ n }}", &ctx).unwrap(), json!(3));
        assert_eq!(
            substitute_str("x-{{request.object.metadata.name}}", &ctx).unwrap(),
            json!("x-web")
        );
        assert_eq!(
            substitute_str("{{ request.object.metadata.labels }}", &ctx).unwrap(),
            json!({"a": "b"})
        );
        assert_eq!(substitute_str("\\{{ n }}", &ctx).unwrap(), json!("{{ n }}"));
        assert_eq!(
            substitute_str("{{ missing || 'd' }}", &ctx).unwrap(),
            json!("d")
        );
        assert!(substitute_str("{{ a[ }}", &ctx).is_err());
    }

    #[test]
    fn current_value_path() {
        let segs = |p: &str| p.split('/').map(str::to_string).collect::<Vec<_>>();
        let ctx = Ctx::new(json!({"request": {"object": {}}}));
        // a rule: `mutate/patchStrategicMerge` are skipped
        assert_eq!(
            at_path(
                &segs("mutate/patchStrategicMerge/spec/containers/0/image"),
                &ctx
            ),
            "request.object.spec.containers[0].image"
        );
        // keys that are not identifiers are quoted
        assert_eq!(
            at_path(
                &segs("mutate/patchStrategicMerge/metadata/labels/corp.com~x"),
                &ctx
            ),
            "request.object.metadata.labels.\"corp.com~x\""
        );
        // the segments after `foreach`, less two
        assert_eq!(
            at_path(
                &segs("mutate/foreach/0/patchStrategicMerge/metadata/name"),
                &ctx
            ),
            "request.object.metadata.name"
        );
        assert_eq!(
            at_path(&segs("mutate/patchesJson6902"), &ctx),
            "request.object"
        );
        let target = Ctx::new(json!({"target": {"metadata": {}}}));
        assert_eq!(
            at_path(&segs("mutate/patchStrategicMerge/metadata/name"), &target),
            "target.metadata.name"
        );
        let doc = json!({"metadata": {"labels": {"zone": "{{ to_upper('{{@}}') }}"}}});
        let ctx =
            Ctx::new(json!({"request": {"object": {"metadata": {"labels": {"zone": "eu"}}}}}));
        assert_eq!(
            substitute_at(&doc, &ctx, &["mutate", "patchStrategicMerge"]).unwrap(),
            json!({"metadata": {"labels": {"zone": "EU"}}})
        );
    }
}

/// Resolves `$(path)` references in a pattern: `path` (after an optional operator such as
/// `<=`) points at another value of the same pattern, relative to the referencing field
/// (`./../limits/memory`) or from the pattern's root (`/spec/...`). Anchored keys are
/// navigated by their bare names.
pub fn resolve_references(pattern: &Value) -> Result<Value, String> {
    fn walk(root: &Value, v: &Value, path: &mut Vec<String>) -> Result<Value, String> {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    path.push(k.clone());
                    out.insert(k.clone(), walk(root, x, path)?);
                    path.pop();
                }
                Ok(Value::Object(out))
            }
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for (i, x) in a.iter().enumerate() {
                    path.push(i.to_string());
                    out.push(walk(root, x, path)?);
                    path.pop();
                }
                Ok(Value::Array(out))
            }
            Value::String(s)
                if s.starts_with("$(") && s.ends_with(')') && !s.starts_with("\\$(") =>
            {
                let inner = s.get(2..s.len() - 1).unwrap_or("");
                let op_len = ["<=", ">=", "!", "<", ">"]
                    .iter()
                    .find(|o| inner.starts_with(**o))
                    .map(|o| o.len())
                    .unwrap_or(0);
                let (op, reference) = inner.split_at(op_len);
                let mut segs: Vec<String> = if reference.starts_with('/') {
                    Vec::new()
                } else {
                    path.clone()
                };
                for seg in reference.split('/') {
                    match seg {
                        "" | "." => {}
                        ".." => {
                            segs.pop();
                        }
                        s => segs.push(s.to_string()),
                    }
                }
                let mut cur = root;
                for seg in &segs {
                    let next = match cur {
                        Value::Object(m) => m.get(seg.as_str()).or_else(|| {
                            m.iter()
                                .find(|(k, _)| crate::anchor::bare(k) == seg)
                                .map(|(_, v)| v)
                        }),
                        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                        _ => None,
                    };
                    cur =
                        next.ok_or_else(|| format!("reference `{s}` not found in the pattern"))?;
                }
                let text = match cur {
                    Value::String(x) => x.clone(),
                    other => other.to_string(),
                };
                if op.is_empty() && !cur.is_string() {
                    return Ok(cur.clone());
                }
                Ok(Value::String(format!("{op}{text}")))
            }
            other => Ok(other.clone()),
        }
    }
    walk(pattern, pattern, &mut Vec::new())
}

#[cfg(test)]
mod reference_tests {
    use super::resolve_references;
    use serde_json::json;

    #[test]
    fn relative_and_operator_references() {
        let p = json!({"spec": {"containers": [{"resources": {
            "requests": {"memory": "$(<=./../../limits/memory)"},
            "limits": {"memory": "2048Mi"}}}]}});
        let r = resolve_references(&p).unwrap();
        assert_eq!(
            r["spec"]["containers"][0]["resources"]["requests"]["memory"],
            json!("<=2048Mi")
        );
        assert!(resolve_references(&json!({"a": "$(./../nope)"})).is_err());
    }
}
