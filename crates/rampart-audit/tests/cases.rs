#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Table-driven cases: every `tests/cases/*.yaml` file is a list of documents, each of one kind:
//!
//! - `conditions`: one `event`, a `prelude` of lists/macros, `checks` (condition → match) and
//!   `outputs` (output format → rendered text);
//! - `detect`: rules files layered in order, `events`, and the rule names each event fires;
//! - `rules_error`: rules files that must fail to load with a message containing `error`;
//! - `policy`: an audit Policy and `requests` with the expected level and stages;
//! - `lint`: an audit Policy (and optional detection rules) and the expected finding slugs.

use rampart_audit::{Level, Policy, Request, ResourceAttrs, RulesSource, Ruleset, lint};
use serde_json::Value;
use std::path::PathBuf;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn strs(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn rule_text(cond: &str, output: &str) -> String {
    let esc = |t: &str| serde_json::to_string(t).unwrap();
    format!(
        "- rule: t\n  desc: test\n  condition: {}\n  output: {}\n  priority: INFO\n  source: k8s_audit\n",
        esc(cond),
        esc(output)
    )
}

fn load(texts: &[String]) -> Result<Ruleset, String> {
    let srcs: Vec<RulesSource> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| RulesSource {
            name: format!("rules{i}.yaml"),
            text: t.clone(),
        })
        .collect();
    Ruleset::load(&srcs).map_err(|e| {
        e.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn conditions(doc: &Value, fails: &mut Vec<String>) {
    let event = doc.get("event").unwrap();
    let prelude = s(doc, "prelude").to_string();
    for c in doc
        .get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let cond = s(c, "condition");
        let want = c.get("match").and_then(Value::as_bool).unwrap();
        match load(&[prelude.clone(), rule_text(cond, "x")]) {
            Ok(r) => {
                let got = !r.evaluate(event).is_empty();
                if got != want {
                    fails.push(format!(
                        "`{cond}`: want match={want}, got {got} ({})",
                        s(c, "note")
                    ));
                }
            }
            Err(e) => fails.push(format!("`{cond}`: load error {e}")),
        }
    }
    for o in doc
        .get("outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let fmt = s(o, "format");
        match load(&[prelude.clone(), rule_text("jevt.rawtime exists", fmt)]) {
            Ok(r) => {
                let alerts = r.evaluate(event);
                let got = alerts
                    .first()
                    .map(|a| a.output.as_str())
                    .unwrap_or("<no alert>");
                if got != s(o, "want") {
                    fails.push(format!(
                        "output `{fmt}`: want `{}`, got `{got}`",
                        s(o, "want")
                    ));
                }
            }
            Err(e) => fails.push(format!("output `{fmt}`: load error {e}")),
        }
    }
}

fn detect(doc: &Value, fails: &mut Vec<String>) {
    let texts = strs(doc, "rules");
    let loaded = if texts.is_empty() {
        Ruleset::builtin().map_err(|e| format!("{e:?}"))
    } else {
        load(&texts)
    };
    let rules = match loaded {
        Ok(r) => r,
        Err(e) => return fails.push(format!("load error: {e}")),
    };
    for (i, c) in doc
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let got: Vec<String> = rules
            .evaluate(c.get("event").unwrap())
            .into_iter()
            .map(|a| a.rule)
            .collect();
        let want = strs(c, "alerts");
        if got != want {
            fails.push(format!(
                "event {i} ({}): want {want:?}, got {got:?}",
                s(c, "note")
            ));
        }
    }
}

fn rules_error(doc: &Value, fails: &mut Vec<String>) {
    match load(&strs(doc, "rules")) {
        Ok(_) => fails.push("loaded, want an error".to_string()),
        Err(e) if !e.contains(s(doc, "error")) => {
            fails.push(format!("error `{e}` lacks `{}`", s(doc, "error")))
        }
        Err(_) => {}
    }
}

fn policy(doc: &Value, fails: &mut Vec<String>) {
    let p = match Policy::parse("policy.yaml", s(doc, "policy")) {
        Ok(p) => p,
        Err(e) => {
            return fails.push(format!(
                "policy error: {:?}",
                e.iter().map(ToString::to_string).collect::<Vec<_>>()
            ));
        }
    };
    for r in doc
        .get("requests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (res, sub) = s(r, "resource")
            .split_once('/')
            .unwrap_or((s(r, "resource"), ""));
        let req = Request {
            user: s(r, "user").to_string(),
            groups: strs(r, "groups"),
            verb: s(r, "verb").to_string(),
            resource: (!res.is_empty()).then(|| ResourceAttrs {
                group: s(r, "apiGroup").to_string(),
                resource: res.to_string(),
                subresource: sub.to_string(),
                name: s(r, "name").to_string(),
                namespace: s(r, "namespace").to_string(),
            }),
            path: s(r, "path").to_string(),
        };
        let d = p.evaluate(&req);
        let level = d.level.as_str();
        if level != s(r, "level") {
            fails.push(format!(
                "{}: want level {}, got {level}",
                s(r, "note"),
                s(r, "level")
            ));
        }
        if r.get("stages").is_some() {
            let got: Vec<String> = d.stages().iter().map(|x| x.to_string()).collect();
            if got != strs(r, "stages") {
                fails.push(format!(
                    "{}: want stages {:?}, got {got:?}",
                    s(r, "note"),
                    strs(r, "stages")
                ));
            }
        }
        if let Some(rule) = r.get("rule") {
            let want = rule.as_u64().map(|n| n as usize);
            if d.rule != want {
                fails.push(format!(
                    "{}: want rule {want:?}, got {:?}",
                    s(r, "note"),
                    d.rule
                ));
            }
        }
        let _ = Level::None;
    }
}

fn lint_case(doc: &Value, fails: &mut Vec<String>) {
    let p = Policy::parse("policy.yaml", s(doc, "policy"))
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let rules = doc.get("rules").map(|_| load(&strs(doc, "rules")).unwrap());
    let findings = lint(&p, rules.as_ref());
    let mut got: Vec<String> = findings.iter().map(|f| f.check.clone()).collect();
    got.dedup();
    let want = strs(doc, "expect");
    if got != want {
        let msgs: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        fails.push(format!("want {want:?}, got {got:?}: {msgs:#?}"));
    }
    for (line, f) in doc
        .get("lines")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let at = findings
            .iter()
            .find(|x| x.check == *line)
            .and_then(|x| x.location.as_ref())
            .map(|l| l.line);
        if at != f.as_u64().map(|n| n as u32) {
            fails.push(format!("{line}: want line {f}, got {at:?}"));
        }
    }
}

#[test]
fn cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    assert!(!files.is_empty());
    let mut all = Vec::new();
    let mut count = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let (docs, errs) = rampart_manifest::parse_yaml(&f.display().to_string(), &text);
        assert!(errs.is_empty(), "{errs:?}");
        for doc in docs {
            let doc = doc.value;
            if doc.get("skip").is_some() {
                continue;
            }
            count += 1;
            let mut fails = Vec::new();
            match s(&doc, "kind") {
                "conditions" => conditions(&doc, &mut fails),
                "detect" => detect(&doc, &mut fails),
                "rules_error" => rules_error(&doc, &mut fails),
                "policy" => policy(&doc, &mut fails),
                "lint" => lint_case(&doc, &mut fails),
                k => fails.push(format!("unknown kind `{k}`")),
            }
            for x in fails {
                all.push(format!(
                    "{} [{}]: {x}",
                    f.file_name().unwrap().to_string_lossy(),
                    s(&doc, "note")
                ));
            }
        }
    }
    assert!(count > 0);
    assert!(
        all.is_empty(),
        "{} failures:\n{}",
        all.len(),
        all.join("\n")
    );
}
