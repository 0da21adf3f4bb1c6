//! mutate (`patchStrategicMerge` with anchors, `patchesJson6902`, `foreach`) and generate.

use crate::anchor::{self, AnchorKind};
use crate::engine::{Eval, eval_list, set_element};
use crate::pattern::{Outcome, match_pattern};
use crate::vars::{Ctx, substitute, substitute_at};
use crate::{Status, conditions, context};
use serde_json::{Map, Value};

/// Applies a mutate block to `resource`.
pub fn mutate(m: &Value, resource: &Value, ctx: &mut Ctx) -> Eval {
    if let Some(targets) = m.get("targets").and_then(Value::as_array) {
        return mutate_targets(m, targets, ctx);
    }
    let mut current = resource.clone();
    match apply_block(m, &mut current, ctx, 0) {
        Err(e) => Eval::new(Status::Error, e),
        Ok(false) => Eval::new(Status::Skip, "no patches applied"),
        Ok(true) => {
            if &current == resource {
                Eval::new(Status::Skip, "no patches applied")
            } else {
                let mut e = Eval::new(Status::Pass, "resource patched");
                e.patched = Some(current);
                e
            }
        }
    }
}

/// A mutate rule with `targets` (Kyverno's mutate-existing): the patches apply to the existing
/// resources the targets name, read through the cluster (in `policy test`, the test's
/// `targetResources`), never to the admitted resource. What they would become is reported;
/// rampart changes nothing in the cluster (Kyverno's background controller would).
fn mutate_targets(m: &Value, targets: &[Value], ctx: &mut Ctx) -> Eval {
    let Some(r) = ctx.resolver.clone() else {
        return Eval::new(
            Status::Error,
            "mutate targets are existing resources: they need a cluster (in `policy test`, the test's targetResources)",
        );
    };
    let mut block = m.clone();
    if let Some(o) = block.as_object_mut() {
        o.remove("targets");
    }
    let mut out = Vec::new();
    for t in targets {
        let t = match substitute(t, ctx) {
            Ok(t) => t,
            Err(e) => {
                return Eval::new(Status::Error, format!("variable substitution failed: {e}"));
            }
        };
        let text = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
        let (api, kind, ns, name) = (
            text("apiVersion"),
            text("kind"),
            text("namespace"),
            text("name"),
        );
        let path = format!(
            "{}/{name}",
            crate::resolver::collection_path(api, ns, &crate::resource_of(kind))
        );
        let mut target = match r.0.call("GET", &path, None) {
            Ok(v) => v,
            // a target that does not exist is not mutated
            Err(_) => continue,
        };
        // the patches read the trigger as `request.object` and the target as `target`:
        // their variables are resolved before the patches apply to the target
        let trigger = ctx.data.pointer("/request/object").cloned();
        ctx.set("target", target.clone());
        let resolved = match substitute(&block, ctx) {
            Ok(b) => b,
            Err(e) => {
                return Eval::new(Status::Error, format!("variable substitution failed: {e}"));
            }
        };
        let applied = apply_block(&resolved, &mut target, ctx, 0);
        if let Some(t) = trigger {
            ctx.set_path("request.object", t);
        }
        match applied {
            Err(e) => return Eval::new(Status::Error, e),
            Ok(_) => out.push(target),
        }
    }
    if out.is_empty() {
        return Eval::new(Status::Skip, "no target resources found");
    }
    let mut e = Eval::new(Status::Pass, "target resources patched");
    e.targets = out;
    e
}

/// Applies one mutate block (or foreach entry); `Ok(false)` when nothing applied.
fn apply_block(
    m: &Value,
    current: &mut Value,
    ctx: &mut Ctx,
    nesting: usize,
) -> Result<bool, String> {
    let mut applied = false;
    if let Some(p) = m.get("patchStrategicMerge") {
        ctx.set_path("request.object", current.clone());
        // Kyverno substitutes a rule's whole rule, a foreach entry's patches map: `{{@}}`
        // is placed by the path in that document.
        let base: &[&str] = if nesting == 0 {
            &["mutate", "patchStrategicMerge"]
        } else {
            &["patchStrategicMerge"]
        };
        let p = substitute_at(p, ctx, base)
            .map_err(|e| format!("variable substitution failed: {e}"))?;
        if let Some(new) = strategic_merge(current, &p) {
            *current = new;
            applied = true;
        }
    }
    if let Some(p) = m.get("patchesJson6902") {
        ctx.set_path("request.object", current.clone());
        let base: &[&str] = if nesting == 0 {
            &["mutate", "patchesJson6902"]
        } else {
            &["patchesJson6902"]
        };
        let p = substitute_at(p, ctx, base)
            .map_err(|e| format!("variable substitution failed: {e}"))?;
        let text = match &p {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (docs, errs) = rampart_manifest::parse_yaml("<patchesJson6902>", &text);
        if let Some(e) = errs.first() {
            return Err(format!("patchesJson6902: {}", e.message));
        }
        let ops = docs
            .into_iter()
            .next()
            .map(|d| d.value)
            .unwrap_or(Value::Array(Vec::new()));
        let ops = ops.as_array().cloned().unwrap_or_default();
        apply_json_patch(current, &ops)?;
        applied = true;
    }
    if let Some(fe) = m.get("foreach").and_then(Value::as_array) {
        for f in fe {
            ctx.set_path("request.object", current.clone());
            let l = f.get("list").and_then(Value::as_str).unwrap_or("");
            let elements = match eval_list(l, ctx) {
                Ok(e) => e,
                Err(_) => continue,
            };
            let saved = ctx.clone();
            let order_desc = f.get("order").and_then(Value::as_str) == Some("Descending");
            let mut idx: Vec<usize> = (0..elements.len()).collect();
            if order_desc {
                idx.reverse();
            }
            for i in idx {
                let Some(el) = elements.get(i) else { continue };
                if el.is_null() {
                    continue;
                }
                *ctx = saved.clone();
                ctx.set_path("request.object", current.clone());
                set_element(ctx, el, i, nesting);
                if let Some(entries) = f.get("context") {
                    context::load(entries, ctx)?;
                }
                if let Some(pre) = f.get("preconditions") {
                    match conditions::evaluate(pre, ctx) {
                        Ok(true) => {}
                        _ => continue,
                    }
                }
                if apply_block(f, current, ctx, nesting + 1)? {
                    applied = true;
                }
            }
            *ctx = saved;
        }
    }
    Ok(applied)
}

fn pointer_segments(path: &str) -> Vec<String> {
    path.split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn pointer_of(segs: &[String]) -> String {
    segs.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Applies JSON patch operations as Kyverno does: `add` creates missing parents
/// (`EnsurePathExistsOnAdd`), `remove` of a missing path is a no-op
/// (`AllowMissingPathOnRemove`), negative indices count from the end.
pub fn apply_json_patch(doc: &mut Value, ops: &[Value]) -> Result<(), String> {
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let mut segs = pointer_segments(path);
        // Resolve negative indices and, for `add`, create what is missing on the way.
        let n = segs.len();
        let mut cur: &mut Value = doc;
        let mut missing = false;
        for i in 0..n {
            let Some(seg) = segs.get(i).cloned() else {
                break;
            };
            let last = i + 1 == n;
            let next_is_index = segs
                .get(i + 1)
                .is_some_and(|x| x == "-" || x.parse::<i64>().is_ok());
            if let Value::Array(a) = &*cur
                && let Ok(neg) = seg.parse::<i64>()
                && neg < 0
            {
                let resolved = a.len() as i64 + neg;
                let fixed = if resolved < 0 || (last && a.is_empty()) {
                    if last && kind == "add" {
                        "-".to_string()
                    } else {
                        "0".to_string()
                    }
                } else if last && kind == "add" {
                    (resolved + 1).to_string()
                } else {
                    resolved.to_string()
                };
                if let Some(s) = segs.get_mut(i) {
                    *s = fixed;
                }
            }
            if last {
                break;
            }
            let seg = segs.get(i).cloned().unwrap_or_default();
            let fresh = || {
                if next_is_index {
                    Value::Array(Vec::new())
                } else {
                    Value::Object(Map::new())
                }
            };
            cur = match cur {
                Value::Object(m) => {
                    if !m.contains_key(&seg) {
                        if kind != "add" {
                            missing = true;
                            break;
                        }
                        m.insert(seg.clone(), fresh());
                    }
                    match m.get_mut(&seg) {
                        Some(v) => {
                            if v.is_null() && kind == "add" {
                                *v = fresh();
                            }
                            v
                        }
                        None => break,
                    }
                }
                Value::Array(a) => {
                    let ix = if seg == "-" {
                        a.len()
                    } else {
                        seg.parse::<usize>().unwrap_or(usize::MAX)
                    };
                    if ix >= a.len() {
                        if kind != "add" || ix != a.len() {
                            missing = true;
                            break;
                        }
                        a.push(fresh());
                        if let Some(s) = segs.get_mut(i) {
                            *s = ix.to_string();
                        }
                    }
                    match a.get_mut(ix) {
                        Some(v) => v,
                        None => break,
                    }
                }
                _ => {
                    missing = true;
                    break;
                }
            };
        }
        if kind == "remove" && (missing || doc.pointer(&pointer_of(&segs)).is_none()) {
            continue;
        }
        let mut op = op.clone();
        if let Some(o) = op.as_object_mut() {
            o.insert("path".into(), Value::String(pointer_of(&segs)));
        }
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(vec![op]))
            .map_err(|e| format!("patchesJson6902: {e}"))?;
        json_patch::patch(doc, &patch).map_err(|e| format!("failed to apply JSON patch: {e}"))?;
    }
    Ok(())
}

/// A strategic merge patch with Kyverno's anchors; `None` when a condition at the top did
/// not hold.
pub fn strategic_merge(resource: &Value, patch: &Value) -> Option<Value> {
    merge(Some(resource), patch, true).ok().flatten()
}

/// Server-side apply of an apply configuration: maps merge, lists of named items merge by
/// name with new items appended, other lists are replaced.
pub fn apply_configuration(resource: &Value, patch: &Value) -> Option<Value> {
    merge(Some(resource), patch, false).ok().flatten()
}

fn strip_anchors(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match anchor::parse(k) {
                    Some((
                        AnchorKind::Condition
                        | AnchorKind::Global
                        | AnchorKind::Negation
                        | AnchorKind::Existence,
                        _,
                    )) => {}
                    Some((_, b)) => {
                        out.insert(b.to_string(), strip_anchors(v));
                    }
                    None => {
                        out.insert(k.clone(), strip_anchors(v));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(strip_anchors).collect()),
        other => other.clone(),
    }
}

/// The condition part of a value under a conditional anchor: nested plain keys are
/// conditions too, `+()` keys are not; `<()` becomes `()`.
fn condition_part(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, v)| match anchor::parse(k) {
                    Some((AnchorKind::AddIfNotPresent, _)) => None,
                    Some((AnchorKind::Global, b)) => Some((format!("({b})"), condition_part(v))),
                    _ => Some((k.clone(), condition_part(v))),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(condition_part).collect()),
        other => other.clone(),
    }
}

fn has_anchor(v: &Value, global_only: bool) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            matches!(anchor::parse(k), Some((AnchorKind::Global, _)))
                || (!global_only && matches!(anchor::parse(k), Some((AnchorKind::Condition, _))))
                || has_anchor(v, global_only)
        }),
        Value::Array(a) => a.iter().any(|x| has_anchor(x, global_only)),
        _ => false,
    }
}

/// A global anchor did not hold: the whole patch is skipped.
struct GlobalFail;

/// Merges `patch` into `resource`. `Ok(None)`: a conditional anchor did not hold here.
fn merge(
    resource: Option<&Value>,
    patch: &Value,
    prepend: bool,
) -> Result<Option<Value>, GlobalFail> {
    match patch {
        Value::Object(pm) => {
            let empty = Map::new();
            let rm = resource.and_then(Value::as_object).unwrap_or(&empty);
            for (k, v) in pm {
                let Some((kind @ (AnchorKind::Condition | AnchorKind::Global), bare)) =
                    anchor::parse(k)
                else {
                    continue;
                };
                let mut cond = Map::new();
                cond.insert(format!("({bare})"), condition_part(v));
                if !matches!(
                    match_pattern(&Value::Object(rm.clone()), &Value::Object(cond)),
                    Outcome::Pass
                ) {
                    return if kind == AnchorKind::Global {
                        Err(GlobalFail)
                    } else {
                        Ok(None)
                    };
                }
            }
            let mut out = rm.clone();
            for (k, v) in pm {
                match anchor::parse(k) {
                    Some((AnchorKind::Condition | AnchorKind::Global, bare)) => {
                        // Nested `+()` keys under a condition still apply.
                        if let Some(cur) = out.get(bare).cloned()
                            && let Some(adds) = additions(v)
                            && let Some(new) = merge(Some(&cur), &adds, prepend)?
                        {
                            out.insert(bare.to_string(), new);
                        }
                    }
                    Some((AnchorKind::AddIfNotPresent, bare)) => {
                        // A null value deletes in a merge patch; there is nothing to add.
                        if !out.contains_key(bare) && !v.is_null() {
                            out.insert(bare.to_string(), strip_anchors(v));
                        }
                    }
                    Some((AnchorKind::Negation | AnchorKind::Existence, _)) => {}
                    Some((AnchorKind::Equality, bare)) => {
                        let bare = bare.to_string();
                        if let Some(new) = merge(out.get(&bare), v, prepend)? {
                            out.insert(bare, new);
                        }
                    }
                    None => {
                        if v.is_null() {
                            out.remove(k);
                            continue;
                        }
                        match merge(out.get(k), v, prepend)? {
                            // Conditional list items with nothing to apply to add nothing.
                            Some(Value::Array(a))
                                if a.is_empty()
                                    && !out.contains_key(k)
                                    && v.as_array().is_some_and(|p| !p.is_empty()) => {}
                            Some(new) => {
                                out.insert(k.clone(), new);
                            }
                            // A condition below did not hold: so does this map's patch.
                            None => return Ok(None),
                        }
                    }
                }
            }
            if let Some(Value::String(d)) = pm.get("$patch")
                && d == "delete"
            {
                return Ok(Some(Value::Null));
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(pa) => {
            let ra: Vec<Value> = resource
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if pa.is_empty() || !pa.iter().all(Value::is_object) {
                return Ok(Some(strip_anchors(patch)));
            }
            let mut out = ra.clone();
            let mut fresh: Vec<Value> = Vec::new();
            for pe in pa {
                let Some(pm) = pe.as_object() else { continue };
                if has_anchor(pe, false) {
                    // Applied to every element whose conditions hold; a global condition that
                    // no element meets skips the whole patch.
                    let mut met = false;
                    for item in out.iter_mut() {
                        if let Ok(Some(new)) = merge(Some(item), pe, prepend) {
                            met = true;
                            *item = new;
                        }
                    }
                    if !met && has_anchor(pe, true) {
                        return Err(GlobalFail);
                    }
                    continue;
                }
                let name = pm.get("name").cloned();
                match name
                    .as_ref()
                    .and_then(|n| out.iter().position(|i| i.get("name") == Some(n)))
                {
                    Some(pos) => {
                        if let Some(item) = out.get_mut(pos)
                            && let Some(new) = merge(Some(item), pe, prepend)?
                        {
                            *item = new;
                        }
                    }
                    None => {
                        if name.is_some() || ra.is_empty() {
                            fresh.push(strip_anchors(pe));
                        } else {
                            return Ok(Some(strip_anchors(patch)));
                        }
                    }
                }
            }
            // Kyverno's merge puts the patch's new items first, in patch order; apply
            // configurations append them.
            if prepend {
                fresh.extend(out);
                Ok(Some(Value::Array(fresh)))
            } else {
                out.extend(fresh);
                Ok(Some(Value::Array(out)))
            }
        }
        other => Ok(Some(other.clone())),
    }
}

/// The `+()` parts of a conditional value.
fn additions(v: &Value) -> Option<Value> {
    let m = v.as_object()?;
    let mut out = Map::new();
    for (k, v) in m {
        match anchor::parse(k) {
            Some((AnchorKind::AddIfNotPresent, _)) => {
                out.insert(k.clone(), v.clone());
            }
            None if v.is_object() => {
                if let Some(a) = additions(v) {
                    out.insert(k.clone(), a);
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    }
}

/// A generate rule: the resource it would create.
pub fn generate(g: &Value, _resource: &Value, ctx: &Ctx) -> Eval {
    if g.get("clone").is_some() || g.get("cloneList").is_some() {
        return match clone(g, ctx) {
            Ok(generated) => {
                let mut e = Eval::new(Status::Pass, "resource generated");
                e.generated = generated;
                e
            }
            Err(why) => Eval::new(Status::Error, why),
        };
    }
    let g = match substitute(g, ctx) {
        Ok(g) => g,
        Err(e) => return Eval::new(Status::Error, format!("variable substitution failed: {e}")),
    };
    // without `data`, the object is its kind, name and namespace alone
    let mut obj = g
        .get("data")
        .filter(|d| !d.is_null())
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    if let Some(o) = obj.as_object_mut() {
        let s = |k: &str| g.get(k).cloned().unwrap_or(Value::Null);
        o.insert("apiVersion".into(), s("apiVersion"));
        o.insert("kind".into(), s("kind"));
        let meta = o
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("name".into(), s("name"));
            if !s("namespace").is_null() {
                m.insert("namespace".into(), s("namespace"));
            }
        }
    }
    let mut e = Eval::new(Status::Pass, "resource generated");
    e.generated = vec![obj];
    e
}

/// A `clone` or `cloneList` generate rule: the copies of its sources it would create, the
/// sources read through the cluster (in `policy test`, the test's cluster resources and
/// `cloneSourceResource` files).
fn clone(g: &Value, ctx: &Ctx) -> Result<Vec<Value>, String> {
    let g = substitute(g, ctx).map_err(|e| format!("variable substitution failed: {e}"))?;
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let Some(r) = &ctx.resolver else {
        return Err("generate with clone needs the source resource from a cluster (in `policy test`, the test's clusterResources or cloneSourceResource)".into());
    };
    let path = |api: &str, ns: &str, kind: &str| {
        crate::resolver::collection_path(api, ns, &crate::resource_of(kind))
    };
    let target_ns = text(&g, "/namespace");
    // a copy: the source's content under the target's name and namespace, without what the
    // API server sets
    let copy = |mut src: Value, name: &str| {
        if let Some(m) = src.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "generation",
                "managedFields",
                "ownerReferences",
                "selfLink",
            ] {
                m.remove(k);
            }
            m.insert("name".into(), Value::String(name.to_string()));
            if target_ns.is_empty() {
                m.remove("namespace");
            } else {
                m.insert("namespace".into(), Value::String(target_ns.clone()));
            }
        }
        src
    };
    if let Some(c) = g.get("clone") {
        let (api, kind) = (text(&g, "/apiVersion"), text(&g, "/kind"));
        let (ns, name) = (text(c, "/namespace"), text(c, "/name"));
        let src =
            r.0.call("GET", &format!("{}/{name}", path(&api, &ns, &kind)), None)
                .map_err(|e| format!("failed to get the clone source {kind} {ns}/{name}: {e}"))?;
        return Ok(vec![copy(src, &text(&g, "/name"))]);
    }
    let list = g.get("cloneList").unwrap_or(&Value::Null);
    let ns = text(list, "/namespace");
    let selector = list
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for k in rampart_manifest::string_list(list.get("kinds")) {
        // `v1/Secret`, `apps/v1/Deployment`
        let (api, kind) = k.rsplit_once('/').unwrap_or(("v1", k.as_str()));
        let q = if selector.is_empty() {
            String::new()
        } else {
            format!("?labelSelector={selector}")
        };
        let items =
            r.0.call("GET", &format!("{}{q}", path(api, &ns, kind)), None)
                .map_err(|e| format!("failed to list the clone sources {k} in {ns}: {e}"))?;
        for src in items
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = text(src, "/metadata/name");
            out.push(copy(src.clone(), &name));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_with_anchors() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]}});
        let out =
            strategic_merge(&pod, &json!({"metadata": {"labels": {"+(team)": "x"}}})).unwrap();
        assert_eq!(out["metadata"]["labels"]["team"], json!("x"));
        let out = strategic_merge(
            &pod,
            &json!({"spec": {"containers": [{"(image)": "nginx", "imagePullPolicy": "Always"}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["containers"][0]["imagePullPolicy"],
            json!("Always")
        );
        assert!(
            out["spec"]["containers"][1]
                .get("imagePullPolicy")
                .is_none()
        );
        assert!(
            strategic_merge(
                &pod,
                &json!({"(metadata)": {"name": "q"}, "spec": {"x": 1}})
            )
            .is_none()
        );
    }
}
