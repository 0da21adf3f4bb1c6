//! Rules Kyverno generates for Pod controllers (`autogen-NAME` for DaemonSet, Deployment, Job,
//! StatefulSet, ReplicaSet and ReplicationController; `autogen-cronjob-NAME` for CronJob), and
//! the `pod-policies.kyverno.io/autogen-controllers` annotation that narrows or disables them.

use serde_json::{Map, Value, json};

pub const ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";
const CONTROLLERS: [&str; 6] = [
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];

fn kind_of(sel: &str) -> &str {
    let parts: Vec<&str> = sel.split('/').collect();
    let upper = |s: &str| s.chars().next().is_some_and(char::is_uppercase);
    match parts.as_slice() {
        [k] => k,
        [a, _] if upper(a) => a,
        [_, b] => b,
        [_, b, _] if upper(b) => b,
        [_, _, c, ..] => c,
        [] => "",
    }
}

fn contains_kind(list: &[String], kind: &str) -> bool {
    list.iter().any(|k| kind_of(k) == kind)
}

fn descriptions(block: Option<&Value>) -> Vec<&Value> {
    let Some(b) = block.filter(|b| !b.is_null()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(r) = b.get("resources") {
        out.push(r);
    }
    for k in ["any", "all"] {
        for f in b.get(k).and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = f.get("resources") {
                out.push(r);
            }
        }
    }
    out
}

fn supported(rd: &Value, needed: &mut bool) -> bool {
    let set = |k: &str| rd.get(k).is_some_and(|v| !v.is_null());
    let names = rd
        .get("names")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let name = rd
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    let ks = rampart_manifest::string_list(rd.get("kinds"));
    if name
        || names
        || set("selector")
        || set("annotations")
        || (ks.len() > 1 && contains_kind(&ks, "Pod"))
    {
        return false;
    }
    if ks.iter().any(|k| {
        kind_of(k) == "Pod" || kind_of(k) == "CronJob" || CONTROLLERS.contains(&kind_of(k))
    }) {
        *needed = true;
    }
    true
}

fn can_autogen(rules: &[Value]) -> bool {
    let mut needed = false;
    for r in rules {
        if r.get("generate").is_some() {
            return false;
        }
        if let Some(m) = r.get("mutate") {
            if m.get("patchesJson6902").is_some() {
                return false;
            }
            if m.get("foreach")
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|x| x.get("patchesJson6902").is_some()))
            {
                return false;
            }
        }
        for rd in descriptions(r.get("match"))
            .into_iter()
            .chain(descriptions(r.get("exclude")))
        {
            if !supported(rd, &mut needed) {
                return false;
            }
        }
    }
    needed
}

/// The rules Kyverno evaluates for a policy: its own and the generated ones.
pub fn compute_rules(rules: &[Value], annotations: Option<&Map<String, Value>>) -> Vec<Value> {
    if !can_autogen(rules) {
        return rules.to_vec();
    }
    let controllers: Vec<String> = match annotations
        .and_then(|a| a.get(ANNOTATION))
        .and_then(Value::as_str)
    {
        Some(s) => s.split(',').map(str::to_string).collect(),
        None => CONTROLLERS
            .iter()
            .map(|s| s.to_string())
            .chain(["CronJob".to_string()])
            .collect(),
    };
    let joined = controllers.join(",");
    if joined == "none" {
        return rules.to_vec();
    }
    let mut generated = Vec::new();
    let without_cron: Vec<&str> = joined.split(',').filter(|c| *c != "CronJob").collect();
    let without_cron = without_cron.join(",");
    for r in rules {
        if let Some(g) = for_controllers(r, &without_cron) {
            generated.push(convert(g, false));
        }
        if (joined.contains("CronJob") || joined.contains("all"))
            && let Some(inter) = for_controllers(r, &joined)
        {
            let name = rule_name("autogen-cronjob", r);
            if let Some(g) = generate(&name, &inter, "jobTemplate", &["CronJob".to_string()], true)
            {
                generated.push(convert(g, true));
            }
        }
    }
    if generated.is_empty() {
        return rules.to_vec();
    }
    rules
        .iter()
        .filter(|r| {
            !r.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .starts_with("autogen-")
        })
        .cloned()
        .chain(generated)
        .collect()
}

fn rule_name(prefix: &str, r: &Value) -> String {
    let name = format!(
        "{prefix}-{}",
        r.get("name").and_then(Value::as_str).unwrap_or("")
    );
    if name.len() > 63 {
        name.get(..63).unwrap_or(&name).to_string()
    } else {
        name
    }
}

fn for_controllers(r: &Value, controllers: &str) -> Option<Value> {
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    if name.starts_with("autogen-") || controllers.is_empty() {
        return None;
    }
    let mk: Vec<String> = descriptions(r.get("match"))
        .into_iter()
        .flat_map(|rd| rampart_manifest::string_list(rd.get("kinds")))
        .collect();
    let ek: Vec<String> = descriptions(r.get("exclude"))
        .into_iter()
        .flat_map(|rd| rampart_manifest::string_list(rd.get("kinds")))
        .collect();
    if !contains_kind(&mk, "Pod") || (!ek.is_empty() && !contains_kind(&ek, "Pod")) {
        return None;
    }
    let mut list: Vec<String> = if controllers == "all" {
        CONTROLLERS.iter().map(|s| s.to_string()).collect()
    } else {
        let valid: Vec<String> = controllers
            .split(',')
            .filter(|c| CONTROLLERS.contains(c))
            .map(str::to_string)
            .collect();
        if valid.is_empty() {
            controllers.split(',').map(str::to_string).collect()
        } else {
            valid
        }
    };
    list.sort();
    generate(&rule_name("autogen", r), r, "template", &list, false)
}

fn set_kinds(block: &mut Value, ks: &[String], cron: bool, exclude: bool) {
    let kinds_json = Value::Array(ks.iter().map(|k| Value::String(k.clone())).collect());
    for key in ["any", "all"] {
        if let Some(list) = block
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .filter(|l| !l.is_empty())
        {
            for f in list.iter_mut() {
                if let Some(res) = f.get_mut("resources").and_then(Value::as_object_mut) {
                    let has_pod = res
                        .get("kinds")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|k| k.as_str().map(kind_of) == Some("Pod")));
                    if cron || has_pod {
                        res.insert("kinds".into(), kinds_json.clone());
                    }
                }
            }
            return;
        }
    }
    if let Some(obj) = block.as_object_mut() {
        let res = obj.entry("resources").or_insert_with(|| json!({}));
        if let Some(res) = res.as_object_mut() {
            let has = res
                .get("kinds")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if !exclude || has {
                res.insert("kinds".into(), kinds_json);
            }
        }
    }
}

fn generate(name: &str, r: &Value, key: &str, ks: &[String], cron: bool) -> Option<Value> {
    let mut rule = r.clone();
    let obj = rule.as_object_mut()?;
    obj.insert("name".into(), Value::String(name.to_string()));
    if let Some(m) = obj.get_mut("match") {
        set_kinds(m, ks, cron, false);
    }
    if let Some(e) = obj.get_mut("exclude").filter(|e| !e.is_null()) {
        set_kinds(e, ks, cron, true);
    }
    let wrap = |p: &Value| json!({"spec": {key: p}});
    if let Some(m) = obj.get("mutate").cloned() {
        if let Some(p) = m.get("patchStrategicMerge") {
            obj.insert("mutate".into(), json!({"patchStrategicMerge": wrap(p)}));
            return Some(rule);
        }
        if let Some(fe) = m
            .get("foreach")
            .and_then(Value::as_array)
            .filter(|f| !f.is_empty())
        {
            let list: Vec<Value> = fe
                .iter()
                .map(|f| {
                    let mut o = Map::new();
                    for k in ["list", "context", "preconditions"] {
                        if let Some(v) = f.get(k) {
                            o.insert(k.into(), v.clone());
                        }
                    }
                    o.insert(
                        "patchStrategicMerge".into(),
                        wrap(f.get("patchStrategicMerge").unwrap_or(&Value::Null)),
                    );
                    Value::Object(o)
                })
                .collect();
            obj.insert("mutate".into(), json!({"foreach": list}));
            return Some(rule);
        }
    }
    if let Some(v) = obj.get("validate").cloned() {
        let mut nv = Map::new();
        for k in [
            "message",
            "failureAction",
            "failureActionOverrides",
            "allowExistingViolations",
        ] {
            if let Some(x) = v.get(k) {
                nv.insert(k.into(), x.clone());
            }
        }
        if let Some(p) = v.get("pattern") {
            nv.insert("pattern".into(), wrap(p));
        } else if let Some(d) = v.get("deny") {
            nv.insert("deny".into(), d.clone());
        } else if let Some(ps) = v.get("podSecurity") {
            nv.insert("podSecurity".into(), ps.clone());
        } else if let Some(ap) = v.get("anyPattern").and_then(Value::as_array) {
            nv.insert(
                "anyPattern".into(),
                Value::Array(ap.iter().map(wrap).collect()),
            );
        } else if let Some(fe) = v.get("foreach") {
            nv.insert("foreach".into(), fe.clone());
        } else if v.get("cel").is_some() {
            obj.insert("validate".into(), v);
            return Some(rule);
        } else {
            return None;
        }
        obj.insert("validate".into(), Value::Object(nv));
        return Some(rule);
    }
    if obj.get("verifyImages").is_some() {
        return Some(rule);
    }
    None
}

fn convert(rule: Value, cron: bool) -> Value {
    let is_cel = rule.get("validate").and_then(|v| v.get("cel")).is_some();
    let text = rule.to_string();
    let reps: [(&str, &str); 4] = match (cron, is_cel) {
        (false, false) => [
            ("request.object.spec", "request.object.spec.template.spec"),
            (
                "request.oldObject.spec",
                "request.oldObject.spec.template.spec",
            ),
            (
                "request.object.metadata",
                "request.object.spec.template.metadata",
            ),
            (
                "request.oldObject.metadata",
                "request.oldObject.spec.template.metadata",
            ),
        ],
        (false, true) => [
            ("object.spec", "object.spec.template.spec"),
            ("oldObject.spec", "oldObject.spec.template.spec"),
            ("object.metadata", "object.spec.template.metadata"),
            ("oldObject.metadata", "oldObject.spec.template.metadata"),
        ],
        (true, false) => [
            (
                "request.object.spec",
                "request.object.spec.jobTemplate.spec.template.spec",
            ),
            (
                "request.oldObject.spec",
                "request.oldObject.spec.jobTemplate.spec.template.spec",
            ),
            (
                "request.object.metadata",
                "request.object.spec.jobTemplate.spec.template.metadata",
            ),
            (
                "request.oldObject.metadata",
                "request.oldObject.spec.jobTemplate.spec.template.metadata",
            ),
        ],
        (true, true) => [
            ("object.spec", "object.spec.jobTemplate.spec.template.spec"),
            (
                "oldObject.spec",
                "oldObject.spec.jobTemplate.spec.template.spec",
            ),
            (
                "object.metadata",
                "object.spec.jobTemplate.spec.template.metadata",
            ),
            (
                "oldObject.metadata",
                "oldObject.spec.jobTemplate.spec.template.metadata",
            ),
        ],
    };
    let mut t = text;
    for (from, to) in reps {
        t = t.replace(from, to);
    }
    serde_json::from_str(&t).unwrap_or(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_controller_rules() {
        let rules = vec![json!({
            "name": "r",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"pattern": {"spec": {"hostNetwork": false}},
                         "deny": null}
        })];
        let out = compute_rules(&rules, None);
        let names: Vec<&str> = out.iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(names, ["r", "autogen-r", "autogen-cronjob-r"]);
        assert_eq!(
            out[2]["validate"]["pattern"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["hostNetwork"],
            json!(false)
        );
        assert_eq!(
            out[2]["match"]["any"][0]["resources"]["kinds"],
            json!(["CronJob"])
        );
        let mut ann = Map::new();
        ann.insert(ANNOTATION.into(), json!("none"));
        assert_eq!(compute_rules(&rules, Some(&ann)).len(), 1);
    }
}
