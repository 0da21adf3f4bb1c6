//! `preconditions` and `deny.conditions`: `any`/`all` blocks (or a plain list) of
//! `{key, operator, value}` with Kyverno's operators.

use crate::pattern::value_matches;
use crate::quantity::{parse_duration, parse_quantity};
use crate::vars::{Ctx, substitute};
use crate::wildcard::matches as wc;
use serde_json::Value;

/// Evaluates a conditions block. `Ok(true)` when the conditions hold.
pub fn evaluate(conds: &Value, ctx: &Ctx) -> Result<bool, String> {
    match conds {
        Value::Array(list) => {
            for c in list {
                if !one(c, ctx)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Value::Object(m) => {
            if let Some(any) = m.get("any").and_then(Value::as_array) {
                let mut ok = false;
                for c in any {
                    if one(c, ctx)? {
                        ok = true;
                        break;
                    }
                }
                if !ok {
                    return Ok(false);
                }
            }
            if let Some(all) = m.get("all").and_then(Value::as_array) {
                for c in all {
                    if !one(c, ctx)? {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
        Value::Null => Ok(true),
        _ => Err("invalid conditions".into()),
    }
}

fn one(c: &Value, ctx: &Ctx) -> Result<bool, String> {
    let key = substitute(c.get("key").unwrap_or(&Value::Null), ctx)
        .map_err(|e| format!("failed to substitute variables in condition key: {e}"))?;
    let value = substitute(c.get("value").unwrap_or(&Value::Null), ctx)
        .map_err(|e| format!("failed to substitute variables in condition value: {e}"))?;
    let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
    operate(op, &key, &value)
}

/// Applies one operator.
pub fn operate(op: &str, key: &Value, value: &Value) -> Result<bool, String> {
    Ok(match op.to_ascii_lowercase().as_str() {
        "equals" | "equal" => equals(key, value),
        "notequals" | "notequal" => !equals(key, value),
        "in" => match deprecated_set_in(key, value) {
            Some(subset) => subset,
            None => any_in(key, value, false),
        },
        "anyin" => any_in(key, value, false),
        "allin" => all_in(key, value, false),
        "notin" => match deprecated_set_in(key, value) {
            Some(subset) => !subset,
            None => !any_in(key, value, false),
        },
        "anynotin" => any_in(key, value, true),
        "allnotin" => all_in(key, value, true),
        "greaterthan" => numeric(key, value, |o| o == std::cmp::Ordering::Greater),
        "greaterthanorequals" => numeric(key, value, |o| o != std::cmp::Ordering::Less),
        "lessthan" => numeric(key, value, |o| o == std::cmp::Ordering::Less),
        "lessthanorequals" => numeric(key, value, |o| o != std::cmp::Ordering::Greater),
        "durationgreaterthan" => duration(key, value, |o| o == std::cmp::Ordering::Greater),
        "durationgreaterthanorequals" => duration(key, value, |o| o != std::cmp::Ordering::Less),
        "durationlessthan" => duration(key, value, |o| o == std::cmp::Ordering::Less),
        "durationlessthanorequals" => duration(key, value, |o| o != std::cmp::Ordering::Greater),
        _ => return Err(format!("unknown condition operator `{op}`")),
    })
}

/// The deprecated `In` and `NotIn` with a list key: whether every element of the key is one of
/// the value's (exactly, no wildcards), as Kyverno's set handlers decide; `None` when the key
/// is no list or the value is no list of strings (the scalar rules apply, or none holds).
fn deprecated_set_in(key: &Value, value: &Value) -> Option<bool> {
    let Value::Array(keys) = key else {
        return None;
    };
    let Value::Array(values) = value else {
        return None;
    };
    let set: Option<Vec<&str>> = values.iter().map(Value::as_str).collect();
    let Some(set) = set else {
        // a value that is not all strings: an invalid type, so `In` is false and `NotIn` true
        return Some(false);
    };
    Some(
        keys.iter()
            .all(|k| k.as_str().is_some_and(|k| set.contains(&k))),
    )
}

fn sprint(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                format!("{f}")
            } else {
                n.to_string()
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(sprint).collect::<Vec<_>>().join(" ")),
        Value::Object(_) => format!("map{v}"),
    }
}

/// A decimal integer written out (`-0042`), normalized (`-42`); `None` for anything else.
fn plain_integer(s: &str) -> Option<String> {
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(if trimmed.is_empty() {
        "0".into()
    } else {
        format!("{sign}{trimmed}")
    })
}

fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                let k = n.as_f64().unwrap_or(0.0);
                match value {
                    Value::Number(v) => v.as_f64().is_some_and(|f| f.trunc() == f && f == k),
                    Value::String(s) => s.parse::<i64>().is_ok_and(|i| i as f64 == k),
                    _ => false,
                }
            } else {
                let k = n.as_f64().unwrap_or(0.0);
                match value {
                    Value::Number(v) if v.is_i64() || v.is_u64() => {
                        k.trunc() == k && v.as_f64() == Some(k)
                    }
                    Value::Number(v) => v.as_f64() == Some(k),
                    Value::String(s) => s.parse::<f64>().is_ok_and(|f| f == k),
                    _ => false,
                }
            }
        }
        Value::String(k) => {
            if let (Some(dk), Some(dv)) = (parse_duration(k), duration_of(value)) {
                return dk == dv;
            }
            // integers compare exactly, however long (a certificate's modulus), where the
            // quantity's float would round them together
            if let Value::String(v) = value
                && let (Some(a), Some(b)) = (plain_integer(k), plain_integer(v))
            {
                return a == b;
            }
            if let Some(qk) = parse_quantity(k)
                && let Value::String(v) = value
            {
                return parse_quantity(v).is_some_and(|qv| qv == qk);
            }
            match value {
                Value::String(v) => wc(v, k),
                _ => false,
            }
        }
        Value::Object(_) | Value::Array(_) => key == value,
        Value::Null => false,
    }
}

fn duration_of(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => parse_duration(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn str_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(a) => Some(a.iter().map(sprint).collect()),
        Value::String(s) => {
            if let Ok(v) = serde_json::from_str::<Value>(s) {
                match v {
                    Value::Array(a) => Some(a.iter().map(sprint).collect()),
                    _ => None,
                }
            } else {
                Some(vec![s.clone()])
            }
        }
        Value::Number(_) | Value::Bool(_) => Some(vec![sprint(value)]),
        _ => None,
    }
}

fn is_range(s: &str) -> bool {
    crate::pattern::is_range(s)
}

fn member(k: &str, vals: &[String]) -> bool {
    vals.iter().any(|v| wc(k, v) || wc(v, k))
}

fn any_in(key: &Value, value: &Value, negate: bool) -> bool {
    let keys: Vec<String> = match key {
        Value::Array(a) => a.iter().map(sprint).collect(),
        Value::Object(_) | Value::Null => return false,
        k => vec![sprint(k)],
    };
    if let Value::String(vs) = value {
        if keys.len() == 1 && keys.first() == Some(vs) {
            return !negate;
        }
        if !key.is_array() && wc(vs, keys.first().map(String::as_str).unwrap_or("")) {
            return !negate;
        }
        if is_range(vs) {
            let r = if negate {
                vs.replacen('-', "!-", 1)
            } else {
                vs.clone()
            };
            return keys
                .iter()
                .any(|k| value_matches(&Value::String(k.clone()), &Value::String(r.clone())));
        }
    }
    let Some(vals) = str_list(value) else {
        return false;
    };
    if negate {
        keys.iter().any(|k| !member(k, &vals))
    } else {
        keys.iter().any(|k| member(k, &vals))
    }
}

fn all_in(key: &Value, value: &Value, negate: bool) -> bool {
    let keys: Vec<String> = match key {
        Value::Array(a) => a.iter().map(sprint).collect(),
        Value::Object(_) | Value::Null => return false,
        k => vec![sprint(k)],
    };
    if let Value::String(vs) = value {
        if keys.len() == 1 && keys.first() == Some(vs) {
            return !negate;
        }
        if !key.is_array() && wc(vs, keys.first().map(String::as_str).unwrap_or("")) {
            return !negate;
        }
        if is_range(vs) {
            let inr =
                |k: &String| value_matches(&Value::String(k.clone()), &Value::String(vs.clone()));
            return if negate {
                !keys.iter().any(inr)
            } else {
                keys.iter().all(inr)
            };
        }
    }
    let Some(vals) = str_list(value) else {
        return false;
    };
    if negate {
        keys.iter().all(|k| !member(k, &vals))
    } else {
        keys.iter().all(|k| member(k, &vals))
    }
}

fn num_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    }
}

fn numeric(key: &Value, value: &Value, f: impl Fn(std::cmp::Ordering) -> bool) -> bool {
    if let (Value::String(k), Value::String(v)) = (key, value) {
        if let (Some(a), Some(b)) = (parse_duration(k), parse_duration(v)) {
            return a.partial_cmp(&b).is_some_and(&f);
        }
        if let (Some(a), Some(b)) = (parse_quantity(k), parse_quantity(v)) {
            return a.partial_cmp(&b).is_some_and(&f);
        }
        if let (Some(a), Some(b)) = (semver(k), semver(v)) {
            return f(a.cmp(&b));
        }
    }
    if let Value::Number(n) = key
        && let Value::String(v) = value
        && let (Some(a), Some(b)) = (n.as_f64().map(f64::trunc), parse_duration(v))
        && v.parse::<f64>().is_err()
    {
        return a.partial_cmp(&b).is_some_and(&f);
    }
    // a duration key against a number of seconds (Kyverno's duration parsing comes first for
    // a string key; `0` does not count as a duration there)
    if let Value::String(k) = key
        && k != "0"
        && let Value::Number(n) = value
        && let (Some(a), Some(b)) = (parse_duration(k), n.as_f64())
    {
        return a.partial_cmp(&b.trunc()).is_some_and(&f);
    }
    match (num_of(key), num_of(value)) {
        (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(f),
        _ => false,
    }
}

fn semver(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let v = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if it.next().is_some() {
        return None;
    }
    Some(v)
}

fn duration(key: &Value, value: &Value, f: impl Fn(std::cmp::Ordering) -> bool) -> bool {
    match (duration_of(key), duration_of(value)) {
        (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(f),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::operate;
    use serde_json::json;

    #[test]
    fn operators() {
        assert!(operate("Equals", &json!("abc"), &json!("a*")).unwrap());
        assert!(operate("AnyIn", &json!(["a", "x"]), &json!(["x", "y"])).unwrap());
        assert!(!operate("AllIn", &json!(["a", "x"]), &json!(["x", "y"])).unwrap());
        assert!(operate("AnyNotIn", &json!(["a", "x"]), &json!(["x", "y"])).unwrap());
        assert!(operate("AllNotIn", &json!(["a"]), &json!(["x", "y"])).unwrap());
        assert!(operate("GreaterThan", &json!("2Gi"), &json!("1Gi")).unwrap());
        assert!(operate("LessThan", &json!(3), &json!("4")).unwrap());
        assert!(operate("DurationGreaterThan", &json!("2h"), &json!("90m")).unwrap());
        assert!(operate("In", &json!("b"), &json!(["a", "b"])).unwrap());
        // the deprecated In/NotIn with a list key: a subset, exactly
        let ips = json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
        assert!(!operate("In", &json!(["1.1.1.1", "4.4.4.4"]), &ips).unwrap());
        assert!(operate("In", &json!(["1.1.1.1", "3.3.3.3"]), &ips).unwrap());
        assert!(operate("NotIn", &json!(["1.1.1.1", "4.4.4.4"]), &ips).unwrap());
        // a duration key against seconds, both ways
        assert!(operate("GreaterThan", &json!("2h"), &json!(3600)).unwrap());
        assert!(operate("LessThan", &json!("30m"), &json!(3600)).unwrap());
        assert!(operate("GreaterThanOrEquals", &json!("1h"), &json!(3600)).unwrap());
        assert!(operate("LessThan", &json!(1800), &json!("1h")).unwrap());
        assert!(operate("AnyIn", &json!(5), &json!("1-10")).unwrap());
        assert!(operate("Bogus", &json!(1), &json!(1)).is_err());
    }
}
