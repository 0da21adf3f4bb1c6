//! Falco rules files for the `k8s_audit` source: loading (lists, macros, rules, `append`,
//! `override`, `exceptions`), compiling conditions once to an expression tree with macros and
//! lists expanded, and evaluating them over audit events.

mod eval;
pub(crate) mod fields;
pub(crate) mod parse;

use crate::error::AuditError;
use crate::policy::Level;
use eval::{Expr, Seg};
use fields::{Field, FieldKind};
use indexmap::IndexMap;
use parse::{Ast, FieldRef, Op, Rhs};
use rampart_core::InputError;
use rampart_manifest::YamlDoc;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

pub use eval::Scratch;

/// Falco's priorities, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "EMERGENCY",
            Priority::Alert => "ALERT",
            Priority::Critical => "CRITICAL",
            Priority::Error => "ERROR",
            Priority::Warning => "WARNING",
            Priority::Notice => "NOTICE",
            Priority::Info => "INFO",
            Priority::Debug => "DEBUG",
        }
    }

    fn parse(s: &str) -> Option<Priority> {
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "info" | "informational" => Priority::Info,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }
}

/// One alert: a rule that matched an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub rule: String,
    pub priority: &'static str,
    pub output: String,
    pub time: String,
    pub source: &'static str,
    pub tags: Vec<String>,
    #[serde(rename = "auditID")]
    pub audit_id: String,
}

/// A rules file's text and the name errors are reported under.
#[derive(Debug, Clone)]
pub struct RulesSource {
    pub name: String,
    pub text: String,
}

/// rampart's own detection rules, used when no rules file is given.
pub const BUILTIN_RULES: &str = include_str!("../../rules/rampart_k8s_audit_rules.yaml");

#[derive(Debug, Clone)]
struct At {
    file: String,
    line: u32,
    col: u32,
}

impl At {
    fn err(&self, message: impl Into<String>) -> AuditError {
        AuditError::Input(InputError {
            file: self.file.clone(),
            line: self.line,
            column: self.col,
            message: message.into(),
        })
    }
}

#[derive(Debug, Clone)]
struct ExceptionDef {
    name: String,
    fields: Value,
    comps: Value,
    values: Vec<Value>,
}

#[derive(Debug, Clone)]
struct RuleDef {
    condition: String,
    output: String,
    desc: String,
    priority: Priority,
    tags: Vec<String>,
    source: String,
    enabled: bool,
    skip_unknown: bool,
    exceptions: Vec<ExceptionDef>,
    at: At,
}

/// The definitions of every loaded file, in order; later definitions replace earlier ones.
#[derive(Default)]
struct Defs {
    lists: IndexMap<String, Vec<String>>,
    macros: IndexMap<String, (String, At)>,
    rules: IndexMap<String, RuleDef>,
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: String,
    pub(crate) priority: Priority,
    pub(crate) tags: Vec<String>,
    expr: Expr,
    output: Vec<Seg>,
    /// The most detailed audit level a field of the condition or output needs, if any.
    pub(crate) needs: Option<Level>,
    /// Resources and verbs the condition requires (`ka.target.resource`, `ka.verb`), if it says.
    pub(crate) resources: Vec<String>,
    pub(crate) verbs: Vec<String>,
    /// Values `objectRef.resource` and `stage` must have for the rule to match (a cheap
    /// pre-filter; `None`: any).
    guard_resource: Option<Vec<String>>,
    guard_stage: Option<Vec<String>>,
}

/// Whether an event's string value passes a guard: a missing value never matches, a
/// non-string one is left to the full evaluation.
fn passes(guard: &Option<Vec<String>>, v: Option<&Value>) -> bool {
    match (guard, v) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(g), Some(Value::String(s))) => g.iter().any(|x| x == s),
        (Some(_), Some(_)) => true,
    }
}

/// Compiled k8s_audit rules, ready to evaluate events.
#[derive(Debug)]
pub struct Ruleset {
    pub(crate) rules: Vec<Rule>,
    fields: Vec<Field>,
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(str_of).collect(),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

impl Ruleset {
    /// Loads and compiles rules files in order. Every problem is returned, each with its position.
    pub fn load(sources: &[RulesSource]) -> Result<Ruleset, Vec<AuditError>> {
        let mut defs = Defs::default();
        let mut errors = Vec::new();
        for src in sources {
            let (docs, errs) = rampart_manifest::parse_yaml(&src.name, &src.text);
            errors.extend(errs.into_iter().map(AuditError::Input));
            for doc in &docs {
                match &doc.value {
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let ptr = format!("/{i}");
                            if let Err(e) = defs.add(&src.name, doc, &ptr, item) {
                                errors.push(e);
                            }
                        }
                    }
                    _ => errors.push(
                        at(&src.name, doc, "")
                            .err("a rules file is a YAML list of rule, macro and list items"),
                    ),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        defs.compile()
    }

    /// rampart's own rules.
    pub fn builtin() -> Result<Ruleset, Vec<AuditError>> {
        Ruleset::load(&[RulesSource {
            name: "rampart_k8s_audit_rules.yaml".into(),
            text: BUILTIN_RULES.into(),
        }])
    }

    /// How many rules are enabled for the k8s_audit source.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates every rule over one audit event; the alerts come in rule order.
    pub fn evaluate(&self, event: &Value) -> Vec<Alert> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        self.evaluate_into(event, &mut scratch, &mut out);
        out
    }

    /// [`Ruleset::evaluate`] reusing buffers; appends to `out` and returns how many matched.
    pub fn evaluate_into(
        &self,
        event: &Value,
        scratch: &mut Scratch,
        out: &mut Vec<Alert>,
    ) -> usize {
        let time_ns = event_time(event);
        let mut ctx = eval::Ctx::new(event, time_ns, &self.fields, scratch);
        let before = out.len();
        let resource = event.get("objectRef").and_then(|o| o.get("resource"));
        let stage = event.get("stage");
        for rule in &self.rules {
            if !passes(&rule.guard_resource, resource) || !passes(&rule.guard_stage, stage) {
                continue;
            }
            if ctx.eval(&rule.expr) {
                let output = ctx.render(&rule.output);
                out.push(Alert {
                    rule: rule.name.clone(),
                    priority: rule.priority.as_str(),
                    output,
                    time: crate::time::format_ns(time_ns),
                    source: "k8s_audit",
                    tags: rule.tags.clone(),
                    audit_id: event
                        .get("auditID")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                });
            }
        }
        ctx.finish();
        out.len() - before
    }
}

/// The event's time: `stageTimestamp`, else `requestReceivedTimestamp`, else now (as the
/// plugin stamps events it cannot date; 0 would make `jevt.rawtime=0`, Falco's "never true"
/// idiom, hold).
pub(crate) fn event_time(ev: &Value) -> u64 {
    ["stageTimestamp", "requestReceivedTimestamp", "timestamp"]
        .iter()
        .find_map(|k| {
            ev.get(*k)
                .and_then(Value::as_str)
                .and_then(crate::time::parse_rfc3339)
        })
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        })
}

fn at(file: &str, doc: &YamlDoc, ptr: &str) -> At {
    let ((line, col), _) = doc.find_nearest(ptr);
    At {
        file: file.to_string(),
        line,
        col,
    }
}

fn get_str(m: &Map<String, Value>, key: &str, a: &At) -> Result<Option<String>, AuditError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => str_of(v)
            .map(Some)
            .ok_or_else(|| a.err(format!("`{key}` must be a string"))),
    }
}

fn get_bool(m: &Map<String, Value>, key: &str, a: &At) -> Result<Option<bool>, AuditError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(_) => Err(a.err(format!("`{key}` must be true or false"))),
    }
}

/// `override:` as key → append (true) / replace (false).
fn overrides(m: &Map<String, Value>, a: &At) -> Result<HashMap<String, bool>, AuditError> {
    let mut out = HashMap::new();
    match m.get("override") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                match v.as_str() {
                    Some("append") => out.insert(k.clone(), true),
                    Some("replace") => out.insert(k.clone(), false),
                    _ => {
                        return Err(
                            a.err(format!("override of `{k}` must be `append` or `replace`"))
                        );
                    }
                };
            }
        }
        Some(_) => return Err(a.err("`override` must be a mapping of key: append|replace")),
    }
    Ok(out)
}

fn exceptions_of(v: Option<&Value>, a: &At) -> Result<Vec<ExceptionDef>, AuditError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Some(list) = v.as_array() else {
        if v.is_null() {
            return Ok(Vec::new());
        }
        return Err(a.err("`exceptions` must be a list"));
    };
    let mut out = Vec::new();
    for e in list {
        let Some(m) = e.as_object() else {
            return Err(
                a.err("each exception must be a mapping with name, fields, comps and values")
            );
        };
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| a.err("an exception needs a `name`"))?;
        let values = match m.get("values") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(v)) => v.clone(),
            Some(_) => return Err(a.err(format!("exception `{name}`: `values` must be a list"))),
        };
        out.push(ExceptionDef {
            name: name.to_string(),
            fields: m.get("fields").cloned().unwrap_or(Value::Null),
            comps: m.get("comps").cloned().unwrap_or(Value::Null),
            values,
        });
    }
    Ok(out)
}

fn merge_exceptions(into: &mut Vec<ExceptionDef>, more: Vec<ExceptionDef>) {
    for e in more {
        match into.iter_mut().find(|x| x.name == e.name) {
            Some(x) => {
                x.values.extend(e.values);
                if !e.fields.is_null() {
                    x.fields = e.fields;
                }
                if !e.comps.is_null() {
                    x.comps = e.comps;
                }
            }
            None => into.push(e),
        }
    }
}

impl Defs {
    fn add(
        &mut self,
        file: &str,
        pos: &YamlDoc,
        ptr: &str,
        item: &Value,
    ) -> Result<(), AuditError> {
        let a = at(file, pos, ptr);
        let m = match item {
            Value::Null => return Ok(()), // an empty `-` item carries nothing
            Value::Object(m) => m,
            _ => {
                return Err(
                    a.err("each item must be a mapping with a `rule`, `macro` or `list` key")
                );
            }
        };
        let ov = overrides(m, &a)?;
        let append = get_bool(m, "append", &a)?.unwrap_or(false);
        if m.contains_key("required_engine_version") || m.contains_key("required_plugin_versions") {
            return Ok(());
        }
        if let Some(name) = m.get("list") {
            let name = str_of(name).ok_or_else(|| a.err("`list` must be a name"))?;
            let items = match m.get("items") {
                Some(v) => strings(v).ok_or_else(|| {
                    a.err(format!("list `{name}`: `items` must be a list of strings"))
                })?,
                None if !append && ov.is_empty() => {
                    return Err(a.err(format!("list `{name}` has no `items`")));
                }
                None => Vec::new(),
            };
            let appending = append || ov.get("items") == Some(&true);
            if appending || !ov.is_empty() {
                // Falco accepts appending to a list no file defined; the append defines it.
                let prev = self.lists.entry(name).or_default();
                if appending {
                    prev.extend(items);
                } else {
                    *prev = items;
                }
            } else {
                self.lists.insert(name, items);
            }
            return Ok(());
        }
        if let Some(name) = m.get("macro") {
            let name = str_of(name).ok_or_else(|| a.err("`macro` must be a name"))?;
            let cond = get_str(m, "condition", &a)?;
            let appending = append || ov.get("condition") == Some(&true);
            if appending || !ov.is_empty() {
                let Some((prev, _)) = self.macros.get_mut(&name) else {
                    return Err(a.err(format!("macro `{name}` appends or overrides, but no macro of that name is defined before it")));
                };
                let cond =
                    cond.ok_or_else(|| a.err(format!("macro `{name}` has no `condition`")))?;
                if appending {
                    prev.push(' ');
                    prev.push_str(&cond);
                } else {
                    *prev = cond;
                }
            } else {
                let cond =
                    cond.ok_or_else(|| a.err(format!("macro `{name}` has no `condition`")))?;
                self.macros
                    .insert(name, (cond, at(file, pos, &format!("{ptr}/condition"))));
            }
            return Ok(());
        }
        if let Some(name) = m.get("rule") {
            let name = str_of(name).ok_or_else(|| a.err("`rule` must be a name"))?;
            return self.add_rule(file, pos, ptr, name, m, append, ov);
        }
        // Other top-level items (e.g. engine configuration) are not rules; accepted as Falco does.
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn add_rule(
        &mut self,
        file: &str,
        pos: &YamlDoc,
        ptr: &str,
        name: String,
        m: &Map<String, Value>,
        append: bool,
        ov: HashMap<String, bool>,
    ) -> Result<(), AuditError> {
        let a = at(file, pos, ptr);
        let cond_at = at(file, pos, &format!("{ptr}/condition"));
        let priority = match get_str(m, "priority", &a)? {
            Some(p) => Some(
                Priority::parse(&p)
                    .ok_or_else(|| a.err(format!("rule `{name}`: unknown priority `{p}`")))?,
            ),
            None => None,
        };
        let tags = match m.get("tags") {
            Some(v) => Some(strings(v).ok_or_else(|| {
                a.err(format!("rule `{name}`: `tags` must be a list of strings"))
            })?),
            None => None,
        };
        let condition = get_str(m, "condition", &a)?;
        let output = get_str(m, "output", &a)?;
        let desc = get_str(m, "desc", &a)?;
        let enabled = get_bool(m, "enabled", &a)?;
        let exceptions = exceptions_of(m.get("exceptions"), &a)?;
        let partial = condition.is_none() && output.is_none() && priority.is_none();
        if append || !ov.is_empty() || (partial && self.rules.contains_key(&name)) {
            let Some(prev) = self.rules.get_mut(&name) else {
                return Err(a.err(format!("rule `{name}` appends or overrides, but no rule of that name is defined before it")));
            };
            let mode = |key: &str| {
                if append {
                    Some(true)
                } else {
                    ov.get(key).copied()
                }
            };
            if let Some(c) = condition {
                match mode("condition") {
                    Some(true) => {
                        prev.condition.push(' ');
                        prev.condition.push_str(&c);
                    }
                    _ => prev.condition = c,
                }
                prev.at = cond_at;
            }
            if let Some(o) = output {
                match mode("output") {
                    Some(true) => {
                        prev.output.push(' ');
                        prev.output.push_str(&o);
                    }
                    _ => prev.output = o,
                }
            }
            if let Some(d) = desc {
                match mode("desc") {
                    Some(true) => {
                        prev.desc.push(' ');
                        prev.desc.push_str(&d);
                    }
                    _ => prev.desc = d,
                }
            }
            if let Some(p) = priority {
                prev.priority = p;
            }
            if let Some(t) = tags {
                match mode("tags") {
                    Some(true) => prev.tags.extend(t),
                    _ => prev.tags = t,
                }
            }
            if let Some(e) = enabled {
                prev.enabled = e;
            }
            if m.contains_key("exceptions") {
                match mode("exceptions") {
                    Some(false) => prev.exceptions = exceptions,
                    _ => merge_exceptions(&mut prev.exceptions, exceptions),
                }
            }
            return Ok(());
        }
        let missing: Vec<&str> = [
            ("condition", condition.is_none()),
            ("output", output.is_none()),
            ("priority", priority.is_none()),
        ]
        .iter()
        .filter(|(_, miss)| *miss)
        .map(|(k, _)| *k)
        .collect();
        if !missing.is_empty() {
            return Err(a.err(format!("rule `{name}` is missing {}", missing.join(", "))));
        }
        let def = RuleDef {
            condition: condition.unwrap_or_default(),
            output: output.unwrap_or_default(),
            desc: desc.unwrap_or_default(),
            priority: priority.unwrap_or(Priority::Debug),
            tags: tags.unwrap_or_default(),
            source: get_str(m, "source", &a)?.unwrap_or_else(|| "syscall".to_string()),
            enabled: enabled.unwrap_or(true),
            skip_unknown: get_bool(m, "skip-if-unknown-filter", &a)?.unwrap_or(false),
            exceptions,
            at: cond_at,
        };
        self.rules.insert(name, def);
        Ok(())
    }

    fn compile(self) -> Result<Ruleset, Vec<AuditError>> {
        let mut c = Compiler {
            defs: &self,
            fields: Vec::new(),
            index: HashMap::new(),
            macro_asts: HashMap::new(),
        };
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (name, def) in &self.rules {
            if !def.enabled || def.source != "k8s_audit" {
                continue;
            }
            match c.rule(name, def) {
                Ok(r) => rules.push(r),
                Err(e) if def.skip_unknown && e.1 => {}
                Err(e) => errors.push(e.0),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Ruleset {
            rules,
            fields: c.fields,
        })
    }
}

struct Compiler<'d> {
    defs: &'d Defs,
    fields: Vec<Field>,
    index: HashMap<Field, usize>,
    macro_asts: HashMap<String, Ast>,
}

/// A compile error, and whether it is an unknown field (for `skip-if-unknown-filter`).
type CErr = (AuditError, bool);

impl Compiler<'_> {
    fn parse_at(&self, cond: &str, a: &At, what: &str) -> Result<Ast, CErr> {
        parse::parse(cond).map_err(|e| {
            (
                a.err(format!(
                    "{what}: {} (at offset {} of the condition)",
                    e.message, e.offset
                )),
                false,
            )
        })
    }

    fn rule(&mut self, name: &str, def: &RuleDef) -> Result<Rule, CErr> {
        let a = &def.at;
        let mut ast = self.parse_at(&def.condition, a, &format!("rule `{name}`"))?;
        let exc = self.exceptions(name, def)?;
        if let Some(exc) = exc {
            ast = Ast::And(vec![ast, Ast::Not(Box::new(exc))]);
        }
        let mut stack = Vec::new();
        let mut facts = Facts::default();
        let expr = self
            .expr(&ast, &mut stack, &mut facts, true)
            .map_err(|(m, unknown)| (a.err(format!("rule `{name}`: {m}")), unknown))?;
        let output = self
            .output(&def.output)
            .map_err(|m| (a.err(format!("rule `{name}` output: {m}")), true))?;
        let fields = &self.fields;
        let is = |id: usize, kinds: &[FieldKind]| {
            fields
                .get(id)
                .is_some_and(|f| f.lower.is_none() && kinds.contains(&f.kind))
        };
        let guard_resource =
            expr.required(&|id| is(id, &[FieldKind::Path(&["objectRef", "resource"])]));
        let guard_stage = expr.required(&|id| {
            is(
                id,
                &[
                    FieldKind::Path(&["stage"]),
                    FieldKind::JevtValue("/stage".to_string()),
                ],
            )
        });
        Ok(Rule {
            name: name.to_string(),
            priority: def.priority,
            tags: def.tags.clone(),
            expr,
            output,
            needs: facts.needs,
            resources: facts.resources,
            verbs: facts.verbs,
            guard_resource,
            guard_stage,
        })
    }

    /// The rule's exceptions as one condition: any exception item matching.
    fn exceptions(&self, name: &str, def: &RuleDef) -> Result<Option<Ast>, CErr> {
        let a = &def.at;
        let bad = |m: String| (a.err(format!("rule `{name}`: {m}")), false);
        let mut any = Vec::new();
        for e in &def.exceptions {
            let fref = |f: &str| -> Result<FieldRef, CErr> {
                match parse::parse(&format!("{f} exists")) {
                    Ok(Ast::Check { field, .. }) => Ok(field),
                    _ => Err(bad(format!("exception `{}`: `{f}` is not a field", e.name))),
                }
            };
            let op_of = |c: &str| {
                Op::from_word(c)
                    .ok_or_else(|| bad(format!("exception `{}`: unknown comparison `{c}`", e.name)))
            };
            let rhs_of = |op: Op, v: &Value| -> Result<Rhs, CErr> {
                if op.is_set() {
                    match v {
                        Value::Array(_) => Ok(Rhs::List(strings(v).unwrap_or_default())),
                        other => Ok(Rhs::List(vec![str_of(other).unwrap_or_default()])),
                    }
                } else {
                    str_of(v).map(Rhs::One).ok_or_else(|| {
                        bad(format!("exception `{}`: values must be strings", e.name))
                    })
                }
            };
            match &e.fields {
                Value::Array(fs) => {
                    let fs: Vec<String> = fs.iter().filter_map(str_of).collect();
                    let comps: Vec<String> = match &e.comps {
                        Value::Array(c) => c.iter().filter_map(str_of).collect(),
                        _ => vec!["=".to_string(); fs.len()],
                    };
                    if comps.len() != fs.len() {
                        return Err(bad(format!(
                            "exception `{}`: fields and comps differ in length",
                            e.name
                        )));
                    }
                    for tuple in &e.values {
                        let Some(vals) = tuple.as_array() else {
                            return Err(bad(format!(
                                "exception `{}`: each value must be a list as long as `fields`",
                                e.name
                            )));
                        };
                        if vals.len() != fs.len() {
                            return Err(bad(format!(
                                "exception `{}`: a value has {} items for {} fields",
                                e.name,
                                vals.len(),
                                fs.len()
                            )));
                        }
                        let mut all = Vec::new();
                        for ((f, c), v) in fs.iter().zip(&comps).zip(vals) {
                            let op = op_of(c)?;
                            all.push(Ast::Check {
                                field: fref(f)?,
                                op,
                                rhs: rhs_of(op, v)?,
                            });
                        }
                        any.push(Ast::And(all));
                    }
                }
                Value::String(f) => {
                    let c = e.comps.as_str().unwrap_or("in");
                    let op = op_of(c)?;
                    if e.values.is_empty() {
                        continue;
                    }
                    if op.is_set() {
                        let items = e.values.iter().filter_map(str_of).collect();
                        any.push(Ast::Check {
                            field: fref(f)?,
                            op,
                            rhs: Rhs::List(items),
                        });
                    } else {
                        for v in &e.values {
                            any.push(Ast::Check {
                                field: fref(f)?,
                                op,
                                rhs: rhs_of(op, v)?,
                            });
                        }
                    }
                }
                _ => return Err(bad(format!("exception `{}` needs `fields`", e.name))),
            }
        }
        Ok(if any.is_empty() {
            None
        } else {
            Some(Ast::Or(any))
        })
    }

    fn field_id(&mut self, f: Field) -> usize {
        if let Some(id) = self.index.get(&f) {
            return *id;
        }
        let id = self.fields.len();
        self.index.insert(f.clone(), id);
        self.fields.push(f);
        id
    }

    fn expand_list(&self, items: &[String], out: &mut Vec<String>, depth: usize) {
        for it in items {
            match self.defs.lists.get(it) {
                Some(sub) if depth < 32 => self.expand_list(sub, out, depth + 1),
                _ => out.push(it.clone()),
            }
        }
    }

    fn expr(
        &mut self,
        ast: &Ast,
        stack: &mut Vec<String>,
        facts: &mut Facts,
        positive: bool,
    ) -> Result<Expr, (String, bool)> {
        Ok(match ast {
            Ast::And(items) => Expr::And(
                items
                    .iter()
                    .map(|x| self.expr(x, stack, facts, positive))
                    .collect::<Result<_, _>>()?,
            ),
            Ast::Or(items) => {
                // A disjunction's constraints are not requirements.
                let mut f = Facts::default();
                let out = Expr::Or(
                    items
                        .iter()
                        .map(|x| self.expr(x, stack, &mut f, positive))
                        .collect::<Result<_, _>>()?,
                );
                facts.needs = max_level(facts.needs, f.needs);
                if positive {
                    facts.resources.extend(f.resources);
                    facts.verbs.extend(f.verbs);
                }
                out
            }
            Ast::Not(inner) => {
                let mut f = Facts::default();
                let e = self.expr(inner, stack, &mut f, !positive)?;
                facts.needs = max_level(facts.needs, f.needs);
                Expr::Not(Box::new(e))
            }
            Ast::Macro(name) => {
                if stack.iter().any(|s| s == name) {
                    return Err((format!("macro `{name}` refers to itself"), false));
                }
                let inner = match self.macro_asts.get(name) {
                    Some(ast) => ast.clone(),
                    None => {
                        let Some((cond, mat)) = self.defs.macros.get(name) else {
                            return Err((format!("undefined macro `{name}`"), false));
                        };
                        let ast = parse::parse(cond).map_err(|e| {
                            (
                                format!(
                                    "macro `{name}` ({}:{}): {} (at offset {})",
                                    mat.file, mat.line, e.message, e.offset
                                ),
                                false,
                            )
                        })?;
                        self.macro_asts.insert(name.clone(), ast.clone());
                        ast
                    }
                };
                stack.push(name.clone());
                let e = self.expr(&inner, stack, facts, positive);
                stack.pop();
                e?
            }
            Ast::Check { field, op, rhs } => {
                let mut f =
                    Field::resolve(&field.name, field.arg.as_deref()).map_err(|m| (m, true))?;
                f.lower = field.lower;
                facts.note_field(Some(&f));
                let values = match rhs {
                    Rhs::None => Vec::new(),
                    Rhs::One(v) => vec![v.clone()],
                    Rhs::List(items) => {
                        let mut out = Vec::new();
                        self.expand_list(items, &mut out, 0);
                        out
                    }
                };
                if positive && field.lower.is_none() && matches!(op, Op::Eq | Op::In) {
                    match field.name.as_str() {
                        "ka.target.resource" => facts.resources.extend(values.iter().cloned()),
                        "ka.verb" => facts.verbs.extend(values.iter().cloned()),
                        _ => {}
                    }
                }
                let id = self.field_id(f.clone());
                let check = eval::Check::new(id, &f, *op, values)
                    .map_err(|m| (format!("`{}`: {m}", field.name), false))?;
                Expr::Check(Box::new(check))
            }
        })
    }

    fn output(&mut self, text: &str) -> Result<Vec<Seg>, String> {
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut rest = text.trim_end();
        while let Some(p) = rest.find('%') {
            lit.push_str(rest.get(..p).unwrap_or(""));
            let after = rest.get(p + 1..).unwrap_or("");
            let len = after
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
                .count();
            if len == 0
                || !after
                    .as_bytes()
                    .first()
                    .is_some_and(|c| c.is_ascii_alphabetic())
            {
                lit.push('%');
                rest = after;
                continue;
            }
            let mut name = after.get(..len).unwrap_or("");
            let mut consumed = len;
            // A sentence's trailing dot is not part of the field.
            while name.ends_with('.') {
                name = name.get(..name.len() - 1).unwrap_or("");
                consumed -= 1;
            }
            let mut arg = None;
            if consumed == len
                && after.as_bytes().get(len) == Some(&b'[')
                && let Some(close) = after.get(len..).and_then(|r| r.find(']'))
            {
                arg = after.get(len + 1..len + close);
                consumed = len + close + 1;
            }
            let f = Field::resolve(name, arg)?;
            if !lit.is_empty() {
                segs.push(Seg::Lit(std::mem::take(&mut lit)));
            }
            segs.push(Seg::Field(self.field_id(f)));
            rest = after.get(consumed..).unwrap_or("");
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        Ok(segs)
    }
}

#[derive(Default)]
struct Facts {
    needs: Option<Level>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

impl Facts {
    fn note_field(&mut self, f: Option<&Field>) {
        if let Some(f) = f {
            self.needs = max_level(self.needs, f.needs_body());
        }
    }
}

fn max_level(a: Option<Level>, b: Option<Level>) -> Option<Level> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
