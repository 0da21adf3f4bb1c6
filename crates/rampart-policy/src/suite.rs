//! gator `verify`: runs Suite files (`test.gatekeeper.sh/v1alpha1`) — every test's template and
//! constraint against every case's object, inventory and assertions.

use crate::{Engine, PolicySet, Session};
use rampart_manifest::Object;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub skipped: bool,
    /// Why the case failed; `None` when it passed.
    pub error: Option<String>,
    pub runtime: Duration,
}

/// The outcome of one test (template + constraint).
#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub skipped: bool,
    /// A problem with the test itself (template does not compile, missing file).
    pub error: Option<String>,
    pub cases: Vec<CaseResult>,
    pub runtime: Duration,
}

/// The outcome of one Suite file.
#[derive(Debug, Clone)]
pub struct SuiteResult {
    pub path: PathBuf,
    pub skipped: bool,
    pub error: Option<String>,
    pub tests: Vec<TestResult>,
    pub runtime: Duration,
}

impl SuiteResult {
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .tests
                .iter()
                .any(|t| t.error.is_some() || t.cases.iter().any(|c| c.error.is_some()))
    }
}

fn load_objects(path: &Path) -> Result<Vec<Object>, String> {
    let loaded = rampart_manifest::load_paths(&[path]);
    if let Some(e) = loaded.errors.into_iter().next() {
        return Err(e.to_string());
    }
    if loaded.objects.is_empty() {
        return Err(format!("{}: defines no objects", path.display()));
    }
    Ok(loaded.objects)
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// Runs one Suite file with the given engine preference.
pub fn run_suite(path: &Path, engine: Engine) -> SuiteResult {
    let start = Instant::now();
    let mut result = SuiteResult {
        path: path.to_path_buf(),
        skipped: false,
        error: None,
        tests: Vec::new(),
        runtime: Duration::ZERO,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            result.error = Some(format!("{}: {e}", path.display()));
            return result;
        }
    };
    let (docs, errs) = rampart_manifest::parse_yaml(&path.display().to_string(), &text);
    if let Some(e) = errs.into_iter().next() {
        result.error = Some(e.to_string());
        return result;
    }
    let Some(suite) = docs
        .into_iter()
        .map(|d| d.value)
        .find(|v| str_of(v, "kind") == "Suite")
    else {
        result.error = Some(format!(
            "{}: not a gator Suite (kind: Suite)",
            path.display()
        ));
        return result;
    };
    if flag(&suite, "skip") {
        result.skipped = true;
        return result;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    for t in suite
        .get("tests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        result.tests.push(run_test(dir, t, engine));
    }
    result.runtime = start.elapsed();
    result
}

fn run_test(dir: &Path, t: &Value, engine: Engine) -> TestResult {
    let start = Instant::now();
    let mut r = TestResult {
        name: str_of(t, "name").to_string(),
        skipped: flag(t, "skip"),
        error: None,
        cases: Vec::new(),
        runtime: Duration::ZERO,
    };
    if r.skipped {
        return r;
    }
    let (template, constraint) = (str_of(t, "template"), str_of(t, "constraint"));
    if template.is_empty() || constraint.is_empty() {
        r.error = Some("invalid suite: a test needs a template and a constraint".into());
        return r;
    }
    let mut objects = Vec::new();
    for p in [template, constraint] {
        match load_objects(&dir.join(p)) {
            Ok(o) => objects.extend(o),
            Err(e) => {
                r.error = Some(e);
                return r;
            }
        }
    }
    let set = PolicySet::from_objects(objects).with_engine(engine);
    if let Some(p) = set.problems().first() {
        r.error = Some(p.to_string());
        return r;
    }
    if set.is_empty() {
        r.error = Some("constraint was not added".into());
        return r;
    }
    let base = set.session(&[]);
    for c in t
        .get("cases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        r.cases.push(run_case(dir, &set, &base, c));
    }
    r.runtime = start.elapsed();
    r
}

fn run_case(dir: &Path, set: &PolicySet, base: &Session<'_>, c: &Value) -> CaseResult {
    let start = Instant::now();
    let name = str_of(c, "name").to_string();
    if flag(c, "skip") {
        return CaseResult {
            name,
            skipped: true,
            error: None,
            runtime: Duration::ZERO,
        };
    }
    let error = check_case(dir, set, base, c).err();
    CaseResult {
        name,
        skipped: false,
        error,
        runtime: start.elapsed(),
    }
}

fn check_case(dir: &Path, set: &PolicySet, base: &Session<'_>, c: &Value) -> Result<(), String> {
    let object = str_of(c, "object");
    if object.is_empty() {
        return Err("invalid case: must define object".into());
    }
    let assertions = c
        .get("assertions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if assertions.is_empty() {
        return Err("invalid case: assertions must be non-empty".into());
    }
    let objs = load_objects(&dir.join(object))?;
    let [obj] = objs.as_slice() else {
        return Err(format!("{object} defines {} objects, want 1", objs.len()));
    };
    let mut inventory = Vec::new();
    for p in c
        .get("inventory")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        inventory.extend(load_objects(&dir.join(p))?);
    }
    let eval = if inventory.is_empty() {
        base.evaluate(obj)
    } else {
        set.session(&inventory).evaluate(obj)
    };
    if let Some(e) = eval.errors.first() {
        return Err(e.message.clone());
    }
    let messages: Vec<&str> = eval.violations.iter().map(|v| v.message.as_str()).collect();
    for a in assertions {
        check_assertion(a, &messages)?;
    }
    Ok(())
}

/// gator's assertion: `violations` is `yes` (default), `no` or a count of the violations whose
/// message matches the `message` regular expression.
pub(crate) fn check_assertion(a: &Value, messages: &[&str]) -> Result<(), String> {
    let re = match a.get("message").and_then(Value::as_str) {
        Some(m) => {
            Some(regex::Regex::new(m).map_err(|e| format!("invalid message regex {m:?}: {e}"))?)
        }
        None => None,
    };
    let n = messages
        .iter()
        .filter(|m| re.as_ref().is_none_or(|r| r.is_match(m)))
        .count();
    let containing = re
        .as_ref()
        .map(|r| format!(" containing {:?}", r.as_str()))
        .unwrap_or_default();
    let want = a.get("violations").cloned().unwrap_or(Value::Bool(true));
    let ok = match &want {
        Value::Bool(true) => n > 0,
        Value::Bool(false) => n == 0,
        Value::String(s) if s == "yes" => n > 0,
        Value::String(s) if s == "no" => n == 0,
        Value::Number(k) if k.as_u64().is_some() => k.as_u64() == Some(n as u64),
        Value::String(s) if s.parse::<u64>().is_ok() => s.parse::<u64>().ok() == Some(n as u64),
        other => {
            return Err(format!(
                "assertion.violations must be a nonnegative integer, \"yes\", or \"no\", got {other}"
            ));
        }
    };
    if ok {
        return Ok(());
    }
    let wanted = match &want {
        Value::Bool(true) => "at least 1".to_string(),
        Value::String(s) if s == "yes" => "at least 1".to_string(),
        Value::Bool(false) => "none".to_string(),
        Value::String(s) if s == "no" => "none".to_string(),
        other => format!(
            "exactly {}",
            other
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| other.to_string())
        ),
    };
    Err(format!(
        "unexpected number of violations: got {n} violations{containing} but want {wanted}: got messages {messages:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn assertions() {
        let msgs = ["container <a> is bad", "initContainer <b> is bad"];
        assert!(check_assertion(&json!({"violations": 2}), &msgs).is_ok());
        assert!(check_assertion(&json!({"violations": 1, "message": "^container"}), &msgs).is_ok());
        assert!(
            check_assertion(&json!({"violations": "no", "message": "ephemeral"}), &msgs).is_ok()
        );
        assert!(check_assertion(&json!({"violations": true}), &[]).is_err());
        assert!(check_assertion(&json!({}), &msgs).is_ok());
        assert!(check_assertion(&json!({"violations": "maybe"}), &msgs).is_err());
    }
}
