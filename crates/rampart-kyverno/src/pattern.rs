//! `validate.pattern` matching with anchors and value operators, following Kyverno's
//! `pkg/engine/validate` and `pkg/engine/pattern`.

use crate::anchor::{self, AnchorKind};
use crate::quantity::{parse_duration, parse_quantity};
use crate::wildcard;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const COND_MSG: &str = "conditional anchor mismatch";
const GLOBAL_MSG: &str = "global anchor mismatch";
const NEG_MSG: &str = "negation anchor matched in resource";

/// A pattern mismatch.
#[derive(Debug, Clone)]
pub struct PatternErr {
    pub msg: String,
    pub path: String,
    /// A `PatternError` in Kyverno's terms (a combined skip), as opposed to an anchor error.
    is_pattern_error: bool,
}

impl PatternErr {
    fn plain(path: &str, msg: String) -> PatternErr {
        PatternErr {
            msg,
            path: path.to_string(),
            is_pattern_error: false,
        }
    }
    fn is_skip(&self) -> bool {
        self.msg.contains(COND_MSG) || self.msg.contains(GLOBAL_MSG)
    }
}

/// The outcome of matching a resource against a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// A conditional or global anchor did not hold: the rule does not apply.
    Skip(String),
    Fail {
        path: String,
        msg: String,
    },
    /// Kyverno reports these as rule errors (an anchor key absent everywhere, empty arrays).
    Error(String),
}

#[derive(Default)]
struct AnchorMap {
    seen: BTreeMap<String, bool>,
}

impl AnchorMap {
    fn check(&mut self, pattern: &Map<String, Value>, resource: &Map<String, Value>) {
        for key in pattern.keys() {
            if let Some((k, bare)) = anchor::parse(key)
                && matches!(
                    k,
                    AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Negation
                )
            {
                let e = self.seen.entry(key.clone()).or_insert(false);
                if !*e && resource.contains_key(bare) {
                    *e = true;
                }
            }
        }
    }
    fn keys_missing(&self) -> bool {
        self.seen
            .iter()
            .any(|(k, v)| !*v && !matches!(anchor::parse(k), Some((AnchorKind::Negation, _))))
    }
}

/// Matches `resource` against `pattern`.
pub fn match_pattern(resource: &Value, pattern: &Value) -> Outcome {
    let mut ac = AnchorMap::default();
    match validate_element(resource, pattern, "/", &mut ac) {
        Ok(()) => Outcome::Pass,
        Err(e) if e.is_skip() => Outcome::Skip(e.msg),
        Err(e) if e.msg.contains(NEG_MSG) => Outcome::Fail {
            path: e.path,
            msg: e.msg,
        },
        Err(e) if ac.keys_missing() => Outcome::Error(e.msg),
        Err(e) if e.path.is_empty() => Outcome::Error(e.msg),
        Err(e) => Outcome::Fail {
            path: e.path,
            msg: e.msg,
        },
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn validate_element(
    resource: &Value,
    pattern: &Value,
    path: &str,
    ac: &mut AnchorMap,
) -> Result<(), PatternErr> {
    match pattern {
        Value::Object(pm) => {
            let Value::Object(rm) = resource else {
                return Err(PatternErr::plain(
                    path,
                    format!(
                        "pattern and resource have different structures. Path: {path}. Expected {}, found {}",
                        type_name(pattern),
                        type_name(resource)
                    ),
                ));
            };
            ac.check(pm, rm);
            validate_map(rm, pm, path, ac)
        }
        Value::Array(pa) => {
            let Value::Array(ra) = resource else {
                return Err(PatternErr::plain(
                    path,
                    format!(
                        "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                    ),
                ));
            };
            validate_array(ra, pa, path, ac)
        }
        _ => {
            if let Value::Array(items) = resource {
                for r in items {
                    if !value_matches(r, pattern) {
                        return Err(PatternErr::plain(
                            path,
                            format!(
                                "resource value '{}' does not match '{}' at path {path}",
                                show(resource),
                                show(pattern)
                            ),
                        ));
                    }
                }
                return Ok(());
            }
            if !value_matches(resource, pattern) {
                return Err(PatternErr::plain(
                    path,
                    format!(
                        "resource value '{}' does not match '{}' at path {path}",
                        show(resource),
                        show(pattern)
                    ),
                ));
            }
            Ok(())
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// Expands wildcard keys of `metadata.labels` and `metadata.annotations` in a pattern to the
/// resource's matching keys.
fn expand_metadata(
    pattern: &Map<String, Value>,
    resource: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let (mkey, pmeta) = pattern
        .iter()
        .find(|(k, _)| anchor::bare(k) == "metadata")?;
    let pmeta = pmeta.as_object()?;
    let rmeta = resource.get("metadata")?.as_object()?;
    let mut new_meta = pmeta.clone();
    let mut changed = false;
    for tag in ["labels", "annotations"] {
        let Some((tkey, pdata)) = pmeta.iter().find(|(k, _)| anchor::bare(k) == tag) else {
            continue;
        };
        let Some(pdata) = pdata.as_object() else {
            continue;
        };
        let Some(rdata) = rmeta
            .iter()
            .find(|(k, _)| anchor::bare(k) == tag)
            .and_then(|(_, v)| v.as_object())
        else {
            continue;
        };
        let mut out = Map::new();
        for (k, v) in pdata {
            if !v.is_string() {
                continue;
            }
            let (kind, bare) = match anchor::parse(k) {
                Some((kind, b)) => (Some(kind), b),
                None => (None, k.as_str()),
            };
            let mut key = k.clone();
            if wildcard::has_wildcard(bare)
                && let Some(rk) = rdata.keys().find(|rk| wildcard::matches(bare, rk))
            {
                key = match kind {
                    Some(kind) => format!("{}({rk})", prefix(kind)),
                    None => rk.clone(),
                };
            }
            out.insert(key, v.clone());
        }
        new_meta.insert(tkey.clone(), Value::Object(out));
        changed = true;
    }
    if !changed {
        return None;
    }
    let mut p = pattern.clone();
    p.insert(mkey.clone(), Value::Object(new_meta));
    Some(p)
}

fn prefix(kind: AnchorKind) -> &'static str {
    match kind {
        AnchorKind::Condition => "",
        AnchorKind::Global => "<",
        AnchorKind::Negation => "X",
        AnchorKind::AddIfNotPresent => "+",
        AnchorKind::Equality => "=",
        AnchorKind::Existence => "^",
    }
}

fn has_nested_anchors(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.keys().any(|k| {
                matches!(
                    anchor::parse(k),
                    Some((
                        AnchorKind::Condition
                            | AnchorKind::Existence
                            | AnchorKind::Equality
                            | AnchorKind::Negation
                            | AnchorKind::Global,
                        _
                    ))
                )
            }) || m.values().any(has_nested_anchors)
        }
        Value::Array(a) => a.iter().any(has_nested_anchors),
        _ => false,
    }
}

fn validate_map(
    resource: &Map<String, Value>,
    pattern: &Map<String, Value>,
    path: &str,
    ac: &mut AnchorMap,
) -> Result<(), PatternErr> {
    let expanded = expand_metadata(pattern, resource);
    let pattern = expanded.as_ref().unwrap_or(pattern);
    let mut anchors: Vec<(&String, &Value)> = Vec::new();
    let mut plain: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in pattern {
        match anchor::parse(k) {
            Some((
                AnchorKind::Condition
                | AnchorKind::Existence
                | AnchorKind::Equality
                | AnchorKind::Negation,
                _,
            )) => anchors.push((k, v)),
            _ => plain.push((k, v)),
        }
    }
    anchors.sort_by(|a, b| a.0.cmp(b.0));
    let mut skip_errors: Vec<PatternErr> = Vec::new();
    let mut apply_count = 0;
    for (key, pv) in anchors {
        match handle(key, pv, resource, path, ac) {
            Ok(()) => apply_count += 1,
            Err(e) if e.is_skip() => skip_errors.push(e),
            Err(e) => {
                if !skip_errors.iter().any(|s| !s.is_pattern_error) {
                    return Err(e);
                }
            }
        }
    }
    if !skip_errors.is_empty()
        && (apply_count == 0 || skip_errors.iter().any(|s| !s.is_pattern_error))
    {
        return Err(all_skipped(&skip_errors, path));
    }
    // Globals and keys with nested anchors first (each pushed to the front in sorted order,
    // so they end up in reverse order), then the rest in sorted order.
    plain.sort_by(|a, b| a.0.cmp(b.0));
    let mut front: Vec<(&String, &Value)> = Vec::new();
    let mut back: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in plain {
        if matches!(anchor::parse(k), Some((AnchorKind::Global, _))) || has_nested_anchors(v) {
            front.push((k, v));
        } else {
            back.push((k, v));
        }
    }
    front.reverse();
    for (key, pv) in front.into_iter().chain(back) {
        handle(key, pv, resource, path, ac)?;
    }
    Ok(())
}

fn handle(
    key: &str,
    pattern: &Value,
    resource: &Map<String, Value>,
    path: &str,
    ac: &mut AnchorMap,
) -> Result<(), PatternErr> {
    let parsed = anchor::parse(key);
    match parsed {
        Some((AnchorKind::Condition, k)) => {
            let cur = format!("{path}{k}/");
            match resource.get(k) {
                Some(v) => validate_element(v, pattern, &cur, ac).map_err(|e| PatternErr {
                    msg: format!("{COND_MSG}: {}", e.msg),
                    path: e.path,
                    is_pattern_error: false,
                }),
                None => Err(PatternErr {
                    msg: format!(
                        "{COND_MSG}: conditional anchor key doesn't exist in the resource"
                    ),
                    path: cur,
                    is_pattern_error: false,
                }),
            }
        }
        Some((AnchorKind::Global, k)) => {
            let cur = format!("{path}{k}/");
            match resource.get(k) {
                Some(v) => validate_element(v, pattern, &cur, ac).map_err(|e| PatternErr {
                    msg: format!("{GLOBAL_MSG}: {}", e.msg),
                    path: e.path,
                    is_pattern_error: false,
                }),
                None => Ok(()),
            }
        }
        Some((AnchorKind::Negation, k)) => {
            let cur = format!("{path}{k}/");
            if resource.contains_key(k) {
                Err(PatternErr::plain(
                    &cur,
                    format!("{NEG_MSG}: {cur} is not allowed"),
                ))
            } else {
                Ok(())
            }
        }
        Some((AnchorKind::Equality, k)) => {
            let cur = format!("{path}{k}/");
            match resource.get(k) {
                Some(v) => validate_element(v, pattern, &cur, ac),
                None => Ok(()),
            }
        }
        Some((AnchorKind::Existence, k)) => {
            let cur = format!("{path}{k}/");
            let Some(v) = resource.get(k) else {
                return Ok(());
            };
            let Value::Array(items) = v else {
                return Err(PatternErr::plain(
                    &cur,
                    "invalid resource type: Existence ^ () anchor can be used only on list/array type resource".into(),
                ));
            };
            let Value::Array(pats) = pattern else {
                return Err(PatternErr::plain(
                    &cur,
                    "invalid pattern type: Pattern has to be of list to compare against resource"
                        .into(),
                ));
            };
            for p in pats {
                if !p.is_object() {
                    return Err(PatternErr::plain(
                        &cur,
                        "invalid pattern type: Pattern has to be of type map to compare against items in resource".into(),
                    ));
                }
                let found = items
                    .iter()
                    .enumerate()
                    .any(|(i, item)| validate_element(item, p, &format!("{cur}{i}/"), ac).is_ok());
                if !found {
                    return Err(PatternErr::plain(
                        &cur,
                        format!("existence anchor validation failed at path {cur}"),
                    ));
                }
            }
            Ok(())
        }
        _ => {
            let cur = format!("{path}{key}/");
            let rv = resource.get(key);
            if pattern.as_str() == Some("*") {
                return match rv {
                    Some(v) if !v.is_null() => Ok(()),
                    _ => Err(PatternErr::plain(path, format!("{path}/{key} not found"))),
                };
            }
            validate_element(rv.unwrap_or(&Value::Null), pattern, &cur, ac)
        }
    }
}

/// Each resource element against its pattern element: the first failure fails the array; when
/// every element is skipped by a conditional anchor and none applies, the array is skipped
/// with their reasons.
fn validate_elements<'a>(
    pairs: impl Iterator<Item = (&'a Value, &'a Value)>,
    path: &str,
    ac: &mut AnchorMap,
) -> Result<(), PatternErr> {
    let mut apply = 0;
    let mut skips: Vec<PatternErr> = Vec::new();
    for (i, (r, p)) in pairs.enumerate() {
        match validate_element(r, p, &format!("{path}{i}/"), ac) {
            Ok(()) => apply += 1,
            Err(e) if e.is_skip() => skips.push(e),
            Err(e) => return Err(e),
        }
    }
    if apply == 0 && !skips.is_empty() {
        return Err(all_skipped(&skips, path));
    }
    Ok(())
}

fn validate_array(
    resource: &[Value],
    pattern: &[Value],
    path: &str,
    ac: &mut AnchorMap,
) -> Result<(), PatternErr> {
    let Some(first) = pattern.first() else {
        return Err(PatternErr::plain(path, "pattern Array empty".into()));
    };
    match first {
        Value::Object(_) => validate_elements(resource.iter().map(|r| (r, first)), path, ac),
        Value::Array(_) => {
            if resource.len() < pattern.len() {
                return Err(PatternErr::plain(
                    "",
                    format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        resource.len(),
                        pattern.len()
                    ),
                ));
            }
            validate_elements(resource.iter().zip(pattern), path, ac)
        }
        scalar => validate_element(&Value::Array(resource.to_vec()), scalar, path, ac),
    }
}

/// Whether a scalar resource value satisfies a scalar pattern (Kyverno's `pattern.Validate`).
pub fn value_matches(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(n) => {
            if let Some(pi) = n.as_i64() {
                match value {
                    Value::Number(v) => {
                        if let Some(vi) = v.as_i64() {
                            vi == pi
                        } else {
                            v.as_f64().is_some_and(|f| f.trunc() == f && f as i64 == pi)
                        }
                    }
                    Value::String(s) => s.parse::<i64>().is_ok_and(|v| v == pi),
                    _ => false,
                }
            } else {
                let pf = n.as_f64().unwrap_or(f64::NAN);
                match value {
                    Value::Number(v) => {
                        if v.is_i64() || v.is_u64() {
                            pf.trunc() == pf && v.as_f64() == Some(pf)
                        } else {
                            v.as_f64() == Some(pf)
                        }
                    }
                    Value::String(s) => s.parse::<f64>().is_ok_and(|v| v == pf),
                    _ => false,
                }
            }
        }
        Value::Null => match value {
            Value::Number(v) => v.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            Value::Null => true,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::String(p) => string_patterns(value, p),
        Value::Array(_) => false,
    }
}

fn string_patterns(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|cond| {
        cond.trim_matches(' ')
            .split('&')
            .all(|c| string_pattern(value, c.trim_matches(' ')))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    MoreEqual,
    LessEqual,
    NotEqual,
    More,
    Less,
}

fn range(pattern: &str, sep: &str) -> Option<(String, String)> {
    // ^([-|+]?\d+(?:\.\d+)?[A-Za-z]*)SEP([-|+]?\d+(?:\.\d+)?[A-Za-z]*)$
    fn operand(s: &str) -> Option<usize> {
        let b = s.as_bytes();
        let mut i = 0;
        if matches!(b.first(), Some(b'-' | b'|' | b'+')) {
            i += 1;
        }
        let ds = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == ds {
            return None;
        }
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        Some(i)
    }
    // Try every split point: the regex is anchored at both ends.
    let mut start = 0;
    while let Some(pos) = pattern.get(start..).and_then(|s| s.find(sep)) {
        let at = start + pos;
        let (l, r) = (pattern.get(..at)?, pattern.get(at + sep.len()..)?);
        if operand(l) == Some(l.len()) && operand(r) == Some(r.len()) {
            return Some((l.to_string(), r.to_string()));
        }
        start = at + 1;
    }
    None
}

fn string_pattern(value: &Value, pattern: &str) -> bool {
    let op = if pattern.len() < 2 {
        Op::Equal
    } else if pattern.starts_with(">=") {
        Op::MoreEqual
    } else if pattern.starts_with("<=") {
        Op::LessEqual
    } else if pattern.starts_with('>') {
        Op::More
    } else if pattern.starts_with('<') {
        Op::Less
    } else if pattern.starts_with('!') {
        Op::NotEqual
    } else if let Some((l, r)) = range(pattern, "!-") {
        return string_pattern(value, &format!("< {l}"))
            || string_pattern(value, &format!("> {r}"));
    } else if let Some((l, r)) = range(pattern, "-") {
        return string_pattern(value, &format!(">= {l}"))
            && string_pattern(value, &format!("<= {r}"));
    } else {
        Op::Equal
    };
    let len = match op {
        Op::Equal => 0,
        Op::MoreEqual | Op::LessEqual => 2,
        _ => 1,
    };
    let p = pattern.get(len..).unwrap_or("").trim();
    compare_value(value, p, op)
}

fn number_to_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("0".into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Number(n) => Some(format!("{:.6}", n.as_f64().unwrap_or(0.0))),
        _ => None,
    }
}

fn ord(op: Op, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Equal => o == Equal,
        Op::NotEqual => o != Equal,
        Op::More => o == Greater,
        Op::Less => o == Less,
        Op::MoreEqual => o != Less,
        Op::LessEqual => o != Greater,
    }
}

fn compare_value(value: &Value, pattern: &str, op: Op) -> bool {
    if let Some(pd) = parse_duration(pattern)
        && let Some(vd) = number_to_string(value).and_then(|s| parse_duration(&s))
    {
        return vd.partial_cmp(&pd).is_some_and(|o| ord(op, o));
    }
    if let Some(pq) = parse_quantity(pattern)
        && let Some(vq) = number_to_string(value).and_then(|s| parse_quantity(&s))
    {
        return vq.partial_cmp(&pq).is_some_and(|o| ord(op, o));
    }
    if !matches!(op, Op::Equal | Op::NotEqual) {
        return false;
    }
    let s = match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => go_float_e(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    let m = wildcard::matches(pattern, &s);
    if op == Op::NotEqual { !m } else { m }
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`.
fn go_float_e(v: f64) -> String {
    let s = format!("{v:E}");
    // Rust prints `1E2`, Go prints `1E+02`.
    match s.split_once('E') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}E{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Whether `s` is an in-range pattern (`1-10`).
pub fn is_range(s: &str) -> bool {
    range(s, "-").is_some()
}

/// The error of a map or array whose conditional anchors all skipped: their messages joined,
/// at `path`, itself a skip.
fn all_skipped(skips: &[PatternErr], path: &str) -> PatternErr {
    PatternErr {
        msg: skips
            .iter()
            .map(|e| e.msg.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        path: path.to_string(),
        is_pattern_error: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators() {
        assert!(value_matches(&json!(5), &json!(">4")));
        assert!(!value_matches(&json!(5), &json!("<4")));
        assert!(value_matches(&json!("2Gi"), &json!("<=4Gi")));
        assert!(value_matches(&json!(3), &json!("1-5")));
        assert!(!value_matches(&json!(3), &json!("1!-5")));
        assert!(value_matches(&json!("abc"), &json!("a*")));
        assert!(value_matches(&json!("abc"), &json!("!x*")));
        assert!(value_matches(&json!("b"), &json!("a | b")));
        assert!(value_matches(&json!(null), &json!(null)));
        assert!(!value_matches(&json!(null), &json!("?*")));
        assert!(value_matches(&json!("90s"), &json!(">1m")));
        assert!(value_matches(&json!(true), &json!(true)));
    }

    #[test]
    fn anchors() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx:1"}]}});
        assert_eq!(
            match_pattern(
                &pod,
                &json!({"spec": {"containers": [{"image": "!*:latest"}]}})
            ),
            Outcome::Pass
        );
        assert!(matches!(
            match_pattern(
                &pod,
                &json!({"spec": {"containers": [{"(name)": "b", "image": "x"}]}})
            ),
            Outcome::Skip(_)
        ));
        assert!(matches!(
            match_pattern(
                &pod,
                &json!({"spec": {"X(hostNetwork)": "null", "containers": [{"image": "nginx*"}]}})
            ),
            Outcome::Pass
        ));
        assert!(matches!(
            match_pattern(&pod, &json!({"spec": {"^(containers)": [{"name": "z"}]}})),
            Outcome::Fail { .. }
        ));
    }
}
