//! `kyverno test`: finds `kyverno-test.yaml` files, loads their policies, resources, values
//! and user info, evaluates, and compares with the expected results.

use crate::{AdmissionInfo, KyvernoError, PolicySet, RuleResult, Status};
use rampart_core::InputError;
use rampart_manifest::Object;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One checked resource of one result row.
#[derive(Debug, Clone, Serialize)]
pub struct TestRow {
    /// The test file's path.
    pub test: String,
    pub policy: String,
    pub rule: String,
    pub kind: String,
    pub resource: String,
    pub expected: String,
    /// The engine's result; `None` when no rule of the policy applied to the resource
    /// (`kyverno test` counts that as excluded).
    pub actual: Option<Status>,
    pub message: String,
    /// `kyverno test` prints no row and counts nothing for this resource: the row's patched
    /// resource file does not hold it (without `failOnMissingResources`), or the test has no
    /// resources.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

/// What `kyverno test` makes of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The result is the expected one, or no rule of that name gave a result ("Excluded",
    /// which `kyverno test` passes whatever the expected result).
    Pass,
    /// The result differs from the expected one.
    Fail,
    /// No row (see [`TestRow::skipped`]).
    Skipped,
}

/// `kyverno test --test-case-selector`: `policy=…,rule=…,resource=…`, each a wildcard (`*`
/// when left out).
#[derive(Debug, Clone)]
pub struct Selector {
    policy: String,
    rule: String,
    resource: String,
}

impl Selector {
    /// Parses a selector; an unknown key or a part without `=` is an error.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut sel = Selector {
            policy: "*".into(),
            rule: "*".into(),
            resource: "*".into(),
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                format!("invalid test case selector part {part:?} (want key=value)")
            })?;
            let slot = match k.trim() {
                "policy" => &mut sel.policy,
                "rule" => &mut sel.rule,
                "resource" => &mut sel.resource,
                other => {
                    return Err(format!(
                        "invalid test case selector key {other:?} (policy, rule or resource)"
                    ));
                }
            };
            *slot = v.trim().to_string();
        }
        Ok(sel)
    }

    /// Whether the row is one of the selected test cases.
    pub fn selects(&self, row: &TestRow) -> bool {
        crate::wildcard::matches(&self.policy, &row.policy)
            && crate::wildcard::matches(&self.rule, &row.rule)
            && crate::wildcard::matches(&self.resource, &row.resource)
    }
}

impl TestRow {
    /// `kyverno test`'s verdict on the row.
    pub fn verdict(&self) -> Verdict {
        if self.skipped {
            return Verdict::Skipped;
        }
        match self.actual {
            Some(a) if a.as_str() != self.expected => Verdict::Fail,
            _ => Verdict::Pass,
        }
    }

    /// Whether `kyverno test` does not count the row as a failure.
    pub fn ok(&self) -> bool {
        self.verdict() != Verdict::Fail
    }

    /// Stricter than [`TestRow::ok`]: the engine gave the expected result, or gave none where
    /// `pass` or `skip` was expected (an expected `fail` needs a `fail`).
    pub fn agrees(&self) -> bool {
        match self.actual {
            Some(a) => a.as_str() == self.expected,
            None => self.expected == "pass" || self.expected == "skip",
        }
    }
}

/// Every `kyverno-test.yaml` (or `.yml`) below `dir`, sorted.
pub fn discover(dir: &Path) -> Vec<PathBuf> {
    discover_named(dir, "kyverno-test.yaml")
}

/// Every test file named `name` below `dir` (for `kyverno-test.yaml`, `.yml` too), sorted;
/// `dir` itself when it is a file.
pub fn discover_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let alt = name
        .strip_suffix(".yaml")
        .map(|stem| format!("{stem}.yml"))
        .unwrap_or_default();
    let mut out = Vec::new();
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == name || n == alt)
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn input_err(file: &Path, message: impl Into<String>) -> KyvernoError {
    KyvernoError::Input(InputError {
        file: file.display().to_string(),
        line: 0,
        column: 0,
        message: message.into(),
    })
}

fn read_docs(path: &Path) -> Result<Vec<Value>, KyvernoError> {
    let text = std::fs::read_to_string(path).map_err(|e| input_err(path, e.to_string()))?;
    let (docs, errs) = rampart_manifest::parse_yaml(&path.display().to_string(), &text);
    if let Some(e) = errs.into_iter().next() {
        return Err(KyvernoError::Input(e));
    }
    Ok(docs.into_iter().map(|d| d.value).collect())
}

fn load_objects(path: &Path) -> (Vec<Object>, Vec<KyvernoError>) {
    let loaded = rampart_manifest::load_paths(&[path]);
    (
        loaded.objects,
        loaded.errors.into_iter().map(KyvernoError::from).collect(),
    )
}

/// Values from a `Values` file (`cli.kyverno.io/v1alpha1` Values): global values, values per
/// policy rule and per resource, namespace labels and namespace objects.
#[derive(Debug, Default)]
pub struct Values {
    global: Map<String, Value>,
    /// (policy, resource) → values.
    resources: HashMap<(String, String), Map<String, Value>>,
    rules: HashMap<(String, String), Map<String, Value>>,
    namespace_labels: HashMap<String, Map<String, Value>>,
    namespaces: Vec<Value>,
}

impl Values {
    /// Sets a variable for every policy and resource (`kyverno apply --set name=value`).
    pub fn set_global(&mut self, name: &str, value: Value) {
        self.global.insert(name.to_string(), value);
    }

    /// The admission info for `resource` under `policy`: `base` (user info, namespaces) with
    /// these values applied (`request.operation` sets the operation).
    pub fn info_for(&self, base: &AdmissionInfo, policy: &str, resource: &Value) -> AdmissionInfo {
        let mut info = base.clone();
        for (name, labels) in &self.namespace_labels {
            info.namespace_labels.insert(name.clone(), labels.clone());
        }
        for ns in &self.namespaces {
            if let Some(n) = ns.pointer("/metadata/name").and_then(Value::as_str) {
                info.namespaces.insert(n.to_string(), ns.clone());
            }
        }
        for (k, v) in &self.rules {
            info.rule_values.insert(k.clone(), v.clone());
        }
        let mut vals: Vec<(String, Value)> = self
            .global
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(rv) = self.resources.get(&(policy.to_string(), ident(resource).3)) {
            vals.extend(rv.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for (k, v) in &vals {
            if k == "request.operation"
                && let Some(op) = v.as_str()
            {
                info.operation = op.to_string();
            }
        }
        info.values = vals;
        // An update without an old resource compares the resource with itself.
        if info.operation == "UPDATE" && info.old_object.is_none() {
            info.old_object = Some(resource.clone());
        }
        // the admission request Kyverno's CLI builds: kind and resource from the object
        let api = resource
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
        let gvk = serde_json::json!({"group": group, "version": version, "kind": kind});
        let gvr = serde_json::json!({"group": group, "version": version, "resource": crate::resource_of(kind)});
        info.request = Some(serde_json::json!({
            "uid": "",
            "dryRun": false,
            "object": resource,
            "oldObject": info.old_object.clone().unwrap_or(Value::Null),
            "operation": info.operation,
            "userInfo": info.user_info,
            "namespace": resource.pointer("/metadata/namespace").cloned().unwrap_or(Value::Null),
            "name": resource.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "kind": gvk,
            "requestKind": gvk,
            "resource": gvr,
            "requestResource": gvr,
        }));
        info
    }
}

/// Reads a `Context` file (`cli.kyverno.io/v1alpha1`: the cluster resources CEL's
/// `resource` library reads and the image metadata `image.GetMetadata` returns) into `info`.
pub fn load_context(path: &Path, info: &mut AdmissionInfo) -> Result<(), KyvernoError> {
    for doc in read_docs(path)? {
        if let Some(list) = doc.pointer("/spec/resources").and_then(Value::as_array) {
            info.context_resources.extend(list.iter().cloned());
        }
        if let Some(list) = doc.pointer("/spec/images").and_then(Value::as_array) {
            info.context_images.extend(list.iter().cloned());
        }
    }
    Ok(())
}

/// Reads a `UserInfo` file (`userInfo`, `roles`, `clusterRoles`) into `info`.
pub fn load_userinfo(path: &Path, info: &mut AdmissionInfo) -> Result<(), KyvernoError> {
    for doc in read_docs(path)? {
        if let Some(ui) = doc.get("userInfo") {
            info.user_info = ui.clone();
        }
        info.roles = rampart_manifest::string_list(doc.get("roles"));
        info.cluster_roles = rampart_manifest::string_list(doc.get("clusterRoles"));
    }
    Ok(())
}

/// Reads a `Values` file.
pub fn load_values(path: &Path) -> Result<Values, KyvernoError> {
    let mut out = Values::default();
    for doc in read_docs(path)? {
        if let Some(g) = doc.get("globalValues").and_then(Value::as_object) {
            out.global.extend(g.clone());
        }
        for p in doc
            .get("policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let pname = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            // values per rule and per resource of the policy, by (policy, name)
            for (list, into) in [("rules", &mut out.rules), ("resources", &mut out.resources)] {
                for r in p.get(list).and_then(Value::as_array).into_iter().flatten() {
                    let name = r
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if let Some(v) = r.get("values").and_then(Value::as_object) {
                        into.insert((pname.clone(), name), v.clone());
                    }
                }
            }
        }
        for ns in doc
            .get("namespaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.namespaces.push(ns.clone());
        }
        for ns in doc
            .get("namespaceSelector")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = ns
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let labels = ns
                .get("labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            out.namespace_labels.insert(name, labels);
        }
    }
    Ok(out)
}

fn normalize(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let out: Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| normalize(v).map(|v| (k.clone(), v)))
                .collect();
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        Value::Array(a) => {
            if a.is_empty() {
                None
            } else {
                Some(Value::Array(
                    a.iter()
                        .map(|x| normalize(x).unwrap_or(Value::Null))
                        .collect(),
                ))
            }
        }
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if f.fract() == 0.0 && !(n.is_i64() || n.is_u64()) => Value::from(f as i64),
            _ => v.clone(),
        }),
        other => Some(other.clone()),
    }
}

fn same_resource(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

/// The first place two resources differ, for the message.
fn first_diff(expected: &Value, actual: &Value, path: &str) -> String {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}/{k}");
                match a.get(k) {
                    Some(av) if normalize(av) != normalize(ev) => return first_diff(ev, av, &p),
                    None if normalize(ev).is_some() => return format!("{p}: missing"),
                    _ => {}
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) && normalize(av).is_some() {
                    return format!("{path}/{k}: unexpected {av}");
                }
            }
            format!("{path}: differs")
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                if normalize(ev) != normalize(av) {
                    return first_diff(ev, av, &format!("{path}/{i}"));
                }
            }
            format!("{path}: differs")
        }
        _ => format!("{path}: expected {expected}, got {actual}"),
    }
}

fn ident(v: &Value) -> (String, String, String, String) {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (
        s("/apiVersion"),
        s("/kind"),
        s("/metadata/namespace"),
        s("/metadata/name"),
    )
}

/// Finds the expected resource for `actual` among the documents of the given files.
fn expected_for(actual: &Value, files: &[Value]) -> Option<Value> {
    let (a, k, ns, n) = ident(actual);
    let mut fallback = None;
    for f in files {
        let (ea, ek, ens, en) = ident(f);
        if ek == k && en == n && (ea == a || ea.is_empty()) {
            if ens == ns {
                return Some(f.clone());
            }
            if ens.is_empty() || ns.is_empty() {
                fallback = Some(f.clone());
            }
        }
    }
    fallback
}

/// Kinds that have no namespace.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "CustomResourceDefinition",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "ClusterPolicy",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "APIService",
    "PodSecurityPolicy",
    "VolumeAttachment",
    "ClusterIssuer",
    "CertificateSigningRequest",
    "NodePool",
    "EC2NodeClass",
    "NodeClaim",
    "ClusterPolicyReport",
    "ClusterCleanupPolicy",
    "ValidatingPolicy",
    "MutatingPolicy",
    "GeneratingPolicy",
    "ImageValidatingPolicy",
    "DeletingPolicy",
    "GatewayClass",
    "ClusterServingRuntime",
    "ClusterTask",
    "ClusterTriggerBinding",
    "ClusterInterceptor",
];

/// The namespaces ValidatingAdmissionPolicies' namespace selectors read: the Namespace objects
/// known to `base`, or made from the labels the values give.
pub fn vap_namespaces(base: &AdmissionInfo, values: &Values) -> Vec<Object> {
    let mut ns_names: Vec<&String> = base
        .namespaces
        .keys()
        .chain(base.namespace_labels.keys())
        .chain(values.namespace_labels.keys())
        .collect();
    ns_names.sort();
    ns_names.dedup();
    ns_names
        .into_iter()
        .map(|n| {
            let v = base.namespaces.get(n).cloned().unwrap_or_else(|| {
                let labels = values
                    .namespace_labels
                    .get(n)
                    .or_else(|| base.namespace_labels.get(n))
                    .cloned()
                    .unwrap_or_default();
                serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": n, "labels": labels}})
            });
            Object::from_value(v, "namespaces")
        })
        .collect()
}

/// A ValidatingAdmissionPolicy or its binding: policy objects `kyverno test` and `kyverno
/// apply` run beside Kyverno's own kinds.
pub fn is_vap_object(o: &Object) -> bool {
    o.group() == "admissionregistration.k8s.io"
        && matches!(
            o.kind(),
            "ValidatingAdmissionPolicy" | "ValidatingAdmissionPolicyBinding"
        )
}

/// The ValidatingAdmissionPolicies' results on `resource` (a CREATE by `user_info`), as
/// Kyverno's CLI reports them: one per policy whose constraints match, without a rule name
/// (`unbound`: also a skip for a policy none of whose bindings selects the resource, as
/// `kyverno test` has; `kyverno apply` has no result then). A failure is enforced.
pub fn vap_results(
    session: &rampart_policy::Session<'_>,
    resource: &Value,
    user_info: &Value,
    unbound: bool,
) -> Vec<RuleResult> {
    let mut review = rampart_policy::Review::create(resource);
    if let Some(o) = review.request.as_object_mut() {
        o.insert("userInfo".into(), user_info.clone());
    }
    session
        .vap_results(&review)
        .into_iter()
        .filter(|r| unbound || !r.unbound)
        .map(|r| {
            let status = match r.status {
                rampart_policy::VapStatus::Pass => Status::Pass,
                rampart_policy::VapStatus::Fail => Status::Fail,
                rampart_policy::VapStatus::Skip => Status::Skip,
                rampart_policy::VapStatus::Error => Status::Error,
            };
            RuleResult::validation(r.policy, status, r.message)
        })
        .collect()
}

/// `kyverno test` and `kyverno apply` put a namespaced resource without a namespace in
/// `default` as they load it.
pub fn with_default_namespace(mut v: Value) -> Value {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if CLUSTER_SCOPED.contains(&kind) {
        return v;
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
        && meta
            .get("namespace")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        meta.insert("namespace".into(), Value::String("default".into()));
    }
    v
}

/// A `globalContextEntries` mock's data, as `kyverno test` resolves it.
fn mock_global_data(e: &Value, dir: &Path) -> Result<Value, String> {
    let mut root = if let Some(d) = e.get("data") {
        d.clone()
    } else if let Some(r) = e.get("resources") {
        r.clone()
    } else if let Some(files) = e.get("resourceFiles") {
        let mut list = Vec::new();
        for f in rampart_manifest::string_list(Some(files)) {
            let (objs, errs) = load_objects(&dir.join(&f));
            if let Some(err) = errs.first() {
                return Err(err.to_string());
            }
            list.extend(objs.into_iter().map(|o| o.value));
        }
        Value::Array(list)
    } else {
        Value::Null
    };
    if let Some(fp) = e
        .get("fieldPath")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        root = crate::jmes::search(fp, &root)?;
    }
    let Some(projections) = e.get("projections").and_then(Value::as_array) else {
        return Ok(root);
    };
    let mut out = Map::new();
    for p in projections {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let path = p.get("path").and_then(Value::as_str).unwrap_or("@");
        out.insert(name.to_string(), crate::jmes::search(path, &root)?);
    }
    Ok(Value::Object(out))
}

/// Runs one test file.
pub fn run_file(path: &Path) -> Result<Vec<TestRow>, KyvernoError> {
    run_file_with_errors(path).map(|(rows, _)| rows)
}

/// Runs one test file; also returns the problems of its policies and resources (the rows of
/// a broken policy are `error`).
pub fn run_file_with_errors(
    path: &Path,
) -> Result<(Vec<TestRow>, Vec<KyvernoError>), KyvernoError> {
    run_file_with(path, None)
}

/// [`run_file_with_errors`], with registry access for `verifyImages` rules and
/// `imageRegistry` context entries when `verifier` is given (`kyverno test --registry`).
pub fn run_file_with(
    path: &Path,
    verifier: Option<&crate::images::Verifier>,
) -> Result<(Vec<TestRow>, Vec<KyvernoError>), KyvernoError> {
    let docs = read_docs(path)?;
    let Some(test) = docs.into_iter().next() else {
        return Err(input_err(path, "empty test file"));
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let test_name = path.display().to_string();
    let mut policy_objects = Vec::new();
    let mut broken_files = Vec::new();
    let mut file_errors: Vec<KyvernoError> = Vec::new();
    for p in rampart_manifest::string_list(test.get("policies")) {
        if p.starts_with("http://") || p.starts_with("https://") {
            broken_files.push(format!("{p}: remote policies are not fetched"));
            continue;
        }
        let (objs, errs) = load_objects(&dir.join(&p));
        for e in errs {
            broken_files.push(e.to_string());
            file_errors.push(e);
        }
        policy_objects.extend(objs);
    }
    // `exceptions`: PolicyException files, loaded beside the policies
    for e in rampart_manifest::string_list(test.get("exceptions")) {
        let (objs, errs) = load_objects(&dir.join(&e));
        file_errors.extend(errs);
        policy_objects.extend(objs);
    }
    // ValidatingAdmissionPolicies and their bindings, which `kyverno test` runs too (with the
    // test's `paramResources`)
    let mut vap_objects: Vec<Object> = policy_objects
        .iter()
        .filter(|o| is_vap_object(o))
        .cloned()
        .collect();
    let mut param_objects: Vec<Value> = Vec::new();
    for f in rampart_manifest::string_list(test.get("paramResources")) {
        let (objs, errs) = load_objects(&dir.join(&f));
        file_errors.extend(errs);
        param_objects.extend(objs.iter().map(|o| o.value.clone()));
        vap_objects.extend(objs);
    }
    let vaps =
        (!vap_objects.is_empty()).then(|| rampart_policy::PolicySet::from_objects(vap_objects));
    let (mut set, mut problems) = PolicySet::from_objects(policy_objects);
    // `globalContextEntries`: mocked global context data (inline `data`, `resources` or
    // `resourceFiles`, then `fieldPath` and `projections`)
    if let Some(entries) = test.get("globalContextEntries").and_then(Value::as_array) {
        let mut global = set
            .global
            .take()
            .and_then(|g| std::sync::Arc::try_unwrap(g).ok())
            .unwrap_or_default();
        for e in entries {
            let name = e.get("name").and_then(Value::as_str).unwrap_or("");
            match mock_global_data(e, dir) {
                Ok(data) => global.add_mock(name, data),
                Err(why) => file_errors.push(input_err(
                    path,
                    format!("globalContextEntries {name:?}: {why}"),
                )),
            }
        }
        set.global = Some(std::sync::Arc::new(global));
    }
    set.image_verifier = verifier.cloned();
    problems.extend(file_errors);
    let mut resources: Vec<Value> = Vec::new();
    for r in rampart_manifest::string_list(test.get("resources")) {
        let (objs, errs) = load_objects(&dir.join(&r));
        problems.extend(errs);
        resources.extend(objs.into_iter().map(|o| with_default_namespace(o.value)));
    }
    let values = match test.get("variables").and_then(Value::as_str) {
        Some(v) => load_values(&dir.join(v))?,
        None => Values::default(),
    };
    let mut base = AdmissionInfo::default();
    if let Some(u) = test.get("userinfo").and_then(Value::as_str) {
        load_userinfo(&dir.join(u), &mut base)?;
    }
    if let Some(c) = test.get("context").and_then(Value::as_str) {
        load_context(&dir.join(c), &mut base)?;
    }
    // params (MutatingAdmissionPolicies read them from the cluster)
    base.context_resources.extend(param_objects);
    // `clusterResources`: objects that exist in the cluster (what `resource.get` reads), as
    // they are or listed in a `ClusterResource`'s `spec.resources`
    for f in rampart_manifest::string_list(test.get("clusterResources")) {
        let (objs, errs) = load_objects(&dir.join(&f));
        problems.extend(errs);
        for o in objs {
            match o.value.pointer("/spec/resources").and_then(Value::as_array) {
                Some(list)
                    if o.value.get("kind").and_then(Value::as_str) == Some("ClusterResource") =>
                {
                    base.context_resources.extend(list.iter().cloned());
                }
                _ => base.context_resources.push(o.value),
            }
        }
    }
    // `targetResources`: the existing resources mutate rules' targets name
    let mut has_sources = false;
    for f in rampart_manifest::string_list(test.get("targetResources")) {
        let (objs, errs) = load_objects(&dir.join(&f));
        problems.extend(errs);
        has_sources |= !objs.is_empty();
        base.context_resources
            .extend(objs.into_iter().map(|o| o.value));
    }
    // the rows' clone sources are in the cluster too
    for row in test
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let files = match row.get("cloneSourceResource") {
            Some(Value::String(f)) => vec![f.clone()],
            other => rampart_manifest::string_list(other),
        };
        for f in files {
            let (objs, errs) = load_objects(&dir.join(&f));
            problems.extend(errs);
            has_sources |= !objs.is_empty();
            base.context_resources
                .extend(objs.into_iter().map(|o| o.value));
        }
    }
    // the cluster's objects answer configMap and apiCall entries, as `kyverno test`'s fake
    // client does
    // and `apiCallResponses` answer service calls
    let responses: Vec<Value> = test
        .get("apiCallResponses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if (test.get("clusterResources").is_some() || has_sources) && !base.context_resources.is_empty()
        || !responses.is_empty()
    {
        base.resolver = Some(crate::resolver::Resolver::new(
            crate::resolver::ObjectsResolver {
                objects: base.context_resources.clone(),
                responses,
            },
        ));
    }
    let known: Vec<Value> = values
        .namespaces
        .iter()
        .chain(&base.context_resources)
        .chain(&resources)
        .cloned()
        .collect();
    for r in &known {
        if r.get("kind").and_then(Value::as_str) == Some("Namespace")
            && let Some(n) = r.pointer("/metadata/name").and_then(Value::as_str)
        {
            base.namespaces.insert(n.to_string(), r.clone());
            if let Some(l) = r.pointer("/metadata/labels").and_then(Value::as_object) {
                base.namespace_labels
                    .entry(n.to_string())
                    .or_insert_with(|| l.clone());
            }
        }
    }
    let namespace_objects = vap_namespaces(&base, &values);
    // each resource's results, every policy applied in the CLI's order
    let mut cache: HashMap<usize, Vec<Vec<RuleResult>>> = HashMap::new();
    let mut rows = Vec::new();
    for row in test
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let policy = row
            .get("policy")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let pname = policy.rsplit('/').next().unwrap_or("").to_string();
        let rule = row
            .get("rule")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let kind = row
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let expected = row
            .get("result")
            .or_else(|| row.get("status"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut names = rampart_manifest::string_list(row.get("resources"));
        if let Some(r) = row.get("resource").and_then(Value::as_str) {
            names.push(r.to_string());
        }
        let patched_files: Vec<Value> = match row
            .get("patchedResources")
            .or_else(|| row.get("patchedResource"))
            .and_then(Value::as_str)
        {
            Some(f) => read_docs(&dir.join(f))
                .unwrap_or_default()
                .into_iter()
                .map(with_default_namespace)
                .collect(),
            None => Vec::new(),
        };
        let fail_on_missing = row
            .get("failOnMissingResources")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let generated_files: Vec<Value> = match row.get("generatedResource").and_then(Value::as_str)
        {
            Some(f) => read_docs(&dir.join(f)).unwrap_or_default(),
            None => Vec::new(),
        };
        let pidx: Vec<usize> = set
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.name == pname)
            .map(|(i, _)| i)
            .collect();
        let kind_last = kind.rsplit('/').next().unwrap_or("").to_string();
        let find = |name: &str| -> Vec<usize> {
            let (want_ns, want_name) = match name.split_once('/') {
                Some((ns, n)) => (Some(ns), n),
                None => (None, name),
            };
            let matched: Vec<usize> = resources
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    let (_, k, ns, n) = ident(r);
                    n == want_name
                        && (kind_last.is_empty() || k == kind_last)
                        && want_ns.is_none_or(|w| w == ns || (ns.is_empty() && w == "default"))
                })
                .map(|(i, _)| i)
                .collect();
            if !matched.is_empty() {
                return matched;
            }
            resources
                .iter()
                .enumerate()
                .filter(|(_, r)| ident(r).3 == want_name)
                .map(|(i, _)| i)
                .collect()
        };
        let mut targets: Vec<(String, Vec<usize>)> =
            names.iter().map(|n| (n.clone(), find(n))).collect();
        // `kyverno test` checks every resource of the test when the row names none it has
        // (or names none at all).
        if targets.iter().all(|(_, m)| m.is_empty()) {
            targets = resources
                .iter()
                .enumerate()
                .map(|(i, r)| (ident(r).3, vec![i]))
                .collect();
        }
        let vap_named = pidx.is_empty()
            && vaps
                .as_ref()
                .is_some_and(|v| v.has_validating_policy(&pname));
        for (name, matched) in &targets {
            let mut outcome: Vec<(Status, String)> = Vec::new();
            let mut missing_patched = false;
            if let (true, Some(v)) = (vap_named, &vaps) {
                let session = v.session(&namespace_objects);
                for &ri in matched {
                    let Some(res) = resources.get(ri) else {
                        continue;
                    };
                    for r in vap_results(&session, res, &base.user_info, true) {
                        if r.policy == pname {
                            outcome.push((r.status, r.message));
                        }
                    }
                }
            } else if pidx.is_empty() {
                let why = if broken_files.is_empty() {
                    format!("policy `{pname}` not found")
                } else {
                    broken_files.join("; ")
                };
                outcome.push((Status::Error, why));
            }
            for &ri in matched {
                let Some(res) = resources.get(ri) else {
                    continue;
                };
                for &pi in &pidx {
                    let all = cache.entry(ri).or_insert_with(|| {
                        set.evaluate_in_cli_order(res, |p, r| values.info_for(&base, &p.name, r))
                    });
                    let Some(results) = all.get(pi) else {
                        continue;
                    };
                    for r in results.iter() {
                        let wanted = rule.is_empty()
                            || r.rule.is_empty()
                            || r.rule == rule
                            || r.rule == format!("autogen-{rule}")
                            || r.rule == format!("autogen-cronjob-{rule}");
                        if !wanted {
                            continue;
                        }
                        let mut status = r.status;
                        // as a policy report says it
                        if status == Status::Fail && !r.scored {
                            status = Status::Warn;
                        }
                        let mut msg = r.message.clone();
                        if r.rule_type == "mutate"
                            && !patched_files.is_empty()
                            && status == Status::Pass
                        {
                            // a mutate-existing rule's patched resource is its target
                            let actual = r
                                .targets
                                .iter()
                                .find(|t| expected_for(t, &patched_files).is_some())
                                .or_else(|| r.targets.first())
                                .cloned()
                                .or_else(|| r.patched.clone())
                                .unwrap_or_else(|| res.clone());
                            match expected_for(&actual, &patched_files) {
                                Some(exp) if same_resource(&exp, &actual) => {}
                                Some(exp) => {
                                    status = Status::Fail;
                                    msg = format!(
                                        "patched resource does not match the expected one at {}",
                                        first_diff(&exp, &actual, "")
                                    );
                                }
                                // `kyverno test` skips a row whose patched resource is not
                                // in the expected file ("not found in manifest"), unless the
                                // row sets `failOnMissingResources`.
                                None if fail_on_missing => {
                                    status = Status::Fail;
                                    msg = format!(
                                        "resource with name {} not found in manifest",
                                        ident(&actual).3
                                    );
                                }
                                None => {
                                    missing_patched = true;
                                    continue;
                                }
                            }
                        }
                        if r.rule_type == "generate"
                            && !generated_files.is_empty()
                            && status == Status::Pass
                        {
                            let ok = r.generated.iter().any(|g| {
                                expected_for(g, &generated_files)
                                    .is_some_and(|e| same_resource(&e, g))
                            });
                            if !ok {
                                status = Status::Fail;
                                msg = "generated resource does not match the expected one".into();
                            }
                        }
                        outcome.push((status, msg));
                    }
                }
            }
            if outcome.is_empty() {
                rows.push(TestRow {
                    test: test_name.clone(),
                    policy: policy.clone(),
                    rule: rule.clone(),
                    kind: kind.clone(),
                    resource: name.clone(),
                    expected: expected.clone(),
                    actual: None,
                    message: if matched.is_empty() {
                        "resource not found".into()
                    } else if missing_patched {
                        "patched resource not found in the expected file".into()
                    } else if !rule.is_empty()
                        && pidx.iter().filter_map(|&i| set.policies.get(i)).all(|p| {
                            p.kind == "ClusterPolicy" || p.kind == "Policy"
                        } && !p.rules().iter().any(|r| {
                            r.get("name").and_then(Value::as_str).is_some_and(|n| {
                                n == rule
                                    || n.strip_prefix("autogen-") == Some(rule.as_str())
                                    || n.strip_prefix("autogen-cronjob-") == Some(rule.as_str())
                            })
                        }))
                    {
                        // `kyverno test` finds no response of that rule and passes the
                        // resource as excluded.
                        format!("excluded: policy `{pname}` has no rule `{rule}`")
                    } else {
                        "excluded".into()
                    },
                    skipped: matched.is_empty() || missing_patched,
                });
            }
            for (status, message) in outcome {
                rows.push(TestRow {
                    test: test_name.clone(),
                    policy: policy.clone(),
                    rule: rule.clone(),
                    kind: kind.clone(),
                    resource: name.clone(),
                    expected: expected.clone(),
                    actual: Some(status),
                    message,
                    skipped: false,
                });
            }
        }
    }
    Ok((rows, problems))
}

/// Runs every test file below `dir`.
pub fn run_dir(dir: &Path) -> (Vec<TestRow>, Vec<KyvernoError>) {
    run_files(&discover(dir), None)
}

/// Runs these test files (with registry access when `verifier` is given).
pub fn run_files(
    files: &[PathBuf],
    verifier: Option<&crate::images::Verifier>,
) -> (Vec<TestRow>, Vec<KyvernoError>) {
    use rayon::prelude::*;
    // Test files are independent: run them in parallel, report them in path order.
    let outcomes: Vec<_> = files
        .par_iter()
        .map(|f| run_file_with(f, verifier))
        .collect();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for o in outcomes {
        match o {
            Ok((r, e)) => {
                rows.extend(r);
                errors.extend(e);
            }
            Err(e) => errors.push(e),
        }
    }
    (rows, errors)
}
