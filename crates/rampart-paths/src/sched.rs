//! Which nodes a pod can be scheduled on: `nodeName`, `nodeSelector`, required node affinity,
//! and taints against tolerations (`NoSchedule` and `NoExecute`; `PreferNoSchedule` does not
//! keep a pod away).

use rampart_core::Field;
use rampart_manifest::{Object, PodSpecRef};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) struct Taint {
    key: String,
    value: String,
    effect: String,
}

#[derive(Debug, Clone)]
pub(crate) struct NodeInfo {
    pub name: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
}

fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn s(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_string()
}

impl NodeInfo {
    pub(crate) fn of(o: &Object) -> NodeInfo {
        let mut labels = str_map(o.value.pointer("/metadata/labels"));
        labels
            .entry("kubernetes.io/hostname".to_string())
            .or_insert_with(|| o.name().to_string());
        let mut taints: Vec<Taint> = o
            .value
            .pointer("/spec/taints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| Taint {
                key: s(t.field("key")),
                value: s(t.field("value")),
                effect: s(t.field("effect")),
            })
            .collect();
        if o.value
            .pointer("/spec/unschedulable")
            .and_then(Value::as_bool)
            == Some(true)
        {
            taints.push(Taint {
                key: "node.kubernetes.io/unschedulable".to_string(),
                value: String::new(),
                effect: "NoSchedule".to_string(),
            });
        }
        NodeInfo {
            name: o.name().to_string(),
            labels,
            taints,
        }
    }
}

fn tolerates(tolerations: &[Value], t: &Taint) -> bool {
    tolerations.iter().any(|tol| {
        let key = s(tol.field("key"));
        let op = tol
            .field("operator")
            .and_then(Value::as_str)
            .unwrap_or("Equal");
        let effect = s(tol.field("effect"));
        let key_ok = key.is_empty() && op == "Exists" || key == t.key;
        let value_ok = op == "Exists" || s(tol.field("value")) == t.value;
        let effect_ok = effect.is_empty() || effect == t.effect;
        key_ok && value_ok && effect_ok
    })
}

fn expression(e: &Value, get: &dyn Fn(&str) -> Option<String>) -> bool {
    let key = s(e.field("key"));
    let values: Vec<String> = e
        .field("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let have = get(&key);
    let num = |x: &str| x.parse::<i64>().ok();
    match e.field("operator").and_then(Value::as_str).unwrap_or("") {
        "In" => have.is_some_and(|h| values.contains(&h)),
        "NotIn" => have.is_none_or(|h| !values.contains(&h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" => {
            matches!((have.as_deref().and_then(num), values.first().and_then(|v| num(v))), (Some(h), Some(v)) if h > v)
        }
        "Lt" => {
            matches!((have.as_deref().and_then(num), values.first().and_then(|v| num(v))), (Some(h), Some(v)) if h < v)
        }
        _ => false,
    }
}

/// Whether a pod with this spec can be scheduled on `node`. DaemonSet pods tolerate the
/// `node.kubernetes.io/*` condition taints, as the DaemonSet controller adds those tolerations.
pub(crate) fn schedulable(spec: &PodSpecRef<'_>, node: &NodeInfo, daemon: bool) -> bool {
    let tolerations: &[Value] = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tolerated = |t: &Taint| {
        (daemon && t.key.starts_with("node.kubernetes.io/")) || tolerates(tolerations, t)
    };
    if let Some(n) = spec.get("nodeName").and_then(Value::as_str)
        && !n.is_empty()
    {
        // the scheduler is bypassed: only NoExecute taints keep the pod away
        return n == node.name
            && node
                .taints
                .iter()
                .filter(|t| t.effect == "NoExecute")
                .all(tolerated);
    }
    let selector = str_map(spec.get("nodeSelector"));
    if selector.iter().any(|(k, v)| node.labels.get(k) != Some(v)) {
        return false;
    }
    if let Some(terms) = spec
        .get("affinity")
        .and_then(|a| a.field("nodeAffinity"))
        .and_then(|a| a.field("requiredDuringSchedulingIgnoredDuringExecution"))
        .and_then(|r| r.field("nodeSelectorTerms"))
        .and_then(Value::as_array)
        && !terms.is_empty()
    {
        let label = |k: &str| node.labels.get(k).cloned();
        let field = |k: &str| (k == "metadata.name").then(|| node.name.clone());
        let term_ok = |t: &Value| {
            let exprs = t.field("matchExpressions").and_then(Value::as_array);
            let fields = t.field("matchFields").and_then(Value::as_array);
            if exprs.is_none_or(Vec::is_empty) && fields.is_none_or(Vec::is_empty) {
                return false;
            }
            exprs.into_iter().flatten().all(|e| expression(e, &label))
                && fields.into_iter().flatten().all(|e| expression(e, &field))
        };
        if !terms.iter().any(term_ok) {
            return false;
        }
    }
    node.taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(tolerated)
}
