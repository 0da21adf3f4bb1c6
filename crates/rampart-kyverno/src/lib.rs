//! Kyverno policies evaluated as Kyverno evaluates them: `kyverno.io/v1` ClusterPolicy and
//! Policy (match/exclude, autogen rules for Pod controllers, preconditions, context, validate
//! `pattern`/`anyPattern`/`deny`/`foreach`/`podSecurity`/`cel`, mutate, generate) and the
//! `policies.kyverno.io` ValidatingPolicy, plus the `kyverno test` file format.
//!
//! ```
//! use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
//! let (set, errors) = PolicySet::from_str("p.yaml", r#"
//! apiVersion: kyverno.io/v1
//! kind: ClusterPolicy
//! metadata: {name: require-team}
//! spec:
//!   rules:
//!   - name: team-label
//!     match: {any: [{resources: {kinds: [Pod]}}]}
//!     validate:
//!       message: "label team is required"
//!       pattern: {metadata: {labels: {team: "?*"}}}
//! "#);
//! assert!(errors.is_empty());
//! let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}});
//! let results = set.evaluate(&pod, &AdmissionInfo::default());
//! assert_eq!(results[0].rule, "team-label");
//! assert_eq!(results[0].status, Status::Fail);
//! ```

pub mod anchor;
pub mod arith;
mod autogen;
mod cel;
pub mod conditions;
mod context;
mod engine;
pub mod exception;
pub mod global;
pub mod images;
mod ivpol;
pub mod jmes;
pub mod live;
mod manifests;
pub mod matching;
mod mutate;
pub mod pattern;
mod quantity;
mod random;
pub mod registry;
pub mod resolver;
pub mod testrun;
mod timefns;
mod validation;
pub mod vars;
pub mod wildcard;
mod x509;

use rampart_core::{CheckInfo, Finding, InputError, Origin, Severity};
use rampart_manifest::Object;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Errors of this crate; each names where the bad input is.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KyvernoError {
    /// A file that could not be read or parsed (shown as the input error itself, not once
    /// more as its own source).
    #[error(transparent)]
    Input(#[from] InputError),
    /// A policy that cannot run (bad JMESPath, unknown anchor, bad CEL): where, and
    /// `policy `NAME`: why` as the message.
    #[error("{pos}")]
    Policy { pos: InputError, policy: String },
}

/// A rule's result, as Kyverno reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Warn,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Error => "error",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asks and how: the admission request's attributes and the values a test supplies.
#[derive(Debug, Clone)]
pub struct AdmissionInfo {
    /// `CREATE` unless set.
    pub operation: String,
    /// `{username, groups}`.
    pub user_info: Value,
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
    /// Labels of namespaces, for `namespaceSelector`.
    pub namespace_labels: HashMap<String, Map<String, Value>>,
    /// Context values by dotted path (`request.operation`, `dictionary.data.key`).
    pub values: Vec<(String, Value)>,
    /// Values for one rule, by (policy, rule).
    pub rule_values: HashMap<(String, String), Map<String, Value>>,
    pub old_object: Option<Value>,
    /// The admission request for CEL's `request`.
    pub request: Option<Value>,
    /// Namespace objects by name, for CEL's `namespaceObject`.
    pub namespaces: HashMap<String, Value>,
    /// Cluster resources CEL's `resource.Get` and `resource.List` read.
    pub context_resources: Vec<Value>,
    /// Image metadata (`image`, `manifest`, `config`) CEL's `image.GetMetadata` reads.
    pub context_images: Vec<Value>,
    /// Resolves `configMap` and `apiCall` context entries through the cluster (`serve`);
    /// without one they must come from the values.
    pub resolver: Option<resolver::Resolver>,
    /// The global context entries (`GlobalContextEntry`) `globalReference` entries read.
    pub global: Option<global::Shared>,
    /// Verifies the images of `verifyImages` rules; without one they are errors (no registry
    /// access).
    pub image_verifier: Option<images::Verifier>,
    /// The PolicyExceptions that may skip rules.
    pub exceptions: Option<Arc<exception::Exceptions>>,
    /// A background scan: exceptions with `background: false` do not apply.
    pub background: bool,
}

impl Default for AdmissionInfo {
    fn default() -> Self {
        AdmissionInfo {
            operation: "CREATE".into(),
            user_info: Value::Object(Map::new()),
            roles: Vec::new(),
            cluster_roles: Vec::new(),
            namespace_labels: HashMap::new(),
            values: Vec::new(),
            rule_values: HashMap::new(),
            old_object: None,
            request: None,
            namespaces: HashMap::new(),
            context_resources: Vec::new(),
            context_images: Vec::new(),
            resolver: None,
            global: None,
            image_verifier: None,
            exceptions: None,
            background: false,
        }
    }
}

impl AdmissionInfo {
    /// The namespace object of a resource: the one given, or one made from its name and the
    /// known labels.
    fn namespace_object(&self, resource: &Value) -> Option<Value> {
        let ns = resource
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())?;
        if let Some(n) = self.namespaces.get(ns) {
            return Some(n.clone());
        }
        let mut meta = Map::new();
        meta.insert("name".into(), Value::String(ns.to_string()));
        if let Some(l) = self.namespace_labels.get(ns) {
            meta.insert("labels".into(), Value::Object(l.clone()));
        }
        Some(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}))
    }
}

/// One rule's result on one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    pub policy: String,
    /// Empty for the rule-less CEL policy kinds.
    pub rule: String,
    pub status: Status,
    pub message: String,
    /// The `validate`, `mutate` or `generate` kind of the rule.
    pub rule_type: &'static str,
    /// Whether a failure blocks admission (`Enforce`, or a ValidatingPolicy's `Deny` action)
    /// rather than being reported (`Audit`).
    pub enforce: bool,
    #[serde(skip)]
    pub patched: Option<Value>,
    #[serde(skip)]
    pub generated: Vec<Value>,
    /// What a mutate rule's `targets` (existing resources) would become; the admitted
    /// resource itself is not patched.
    #[serde(skip)]
    pub targets: Vec<Value>,
    /// An ImageValidatingPolicy that passed: the images `required` wants verified by some
    /// policy of the request (checked when the request's policies all ran).
    #[serde(skip)]
    required_images: Vec<String>,
    /// The policy's `policies.kyverno.io/severity` annotation.
    #[serde(skip)]
    pub severity: Option<Severity>,
    /// The policy's `policies.kyverno.io/scored` annotation is not `"false"`: a failure
    /// counts as one (a warning otherwise, in reports, `kyverno test` and `kyverno apply`).
    #[serde(skip)]
    pub scored: bool,
    /// The policy's `failurePolicy` is `Ignore`: at admission, an error admits.
    #[serde(skip)]
    pub failure_ignored: bool,
}

impl RuleResult {
    /// A rule-less validation's result (a ValidatingAdmissionPolicy's), enforced and scored.
    pub fn validation(policy: String, status: Status, message: String) -> RuleResult {
        RuleResult {
            policy,
            rule: String::new(),
            status,
            message,
            rule_type: "validate",
            enforce: true,
            patched: None,
            generated: Vec::new(),
            targets: Vec::new(),
            required_images: Vec::new(),
            severity: None,
            scored: true,
            failure_ignored: false,
        }
    }

    /// The finding for a failed (or errored) rule on `obj`, under the `kyverno-policy-violation`
    /// check; `None` for the other statuses. The message names the policy and rule.
    pub fn to_finding(&self, obj: &Object) -> Option<Finding> {
        // The policy's severity annotation, as Kyverno's reports carry it; without one, an
        // audited rule (Audit, or an override for the namespace), reported rather than
        // blocked, is lower than an enforced one. A policy not scored only warns.
        let severity = match (self.status, self.enforce) {
            (Status::Fail, _) if !self.scored => Severity::Info,
            (Status::Fail, enforce) => self.severity.unwrap_or(if enforce {
                Severity::Medium
            } else {
                Severity::Low
            }),
            (Status::Error, _) => Severity::Low,
            _ => return None,
        };
        let rule = if self.rule.is_empty() {
            self.policy.clone()
        } else {
            format!("{}/{}", self.policy, self.rule)
        };
        let what = match (self.status, self.enforce) {
            (Status::Error, _) => "could not be evaluated",
            _ if !self.scored => "failed (a warning: the policy is not scored)",
            (_, true) => "failed (Enforce)",
            (_, false) => "failed (Audit)",
        };
        let mut f = Finding::new(
            "kyverno-policy-violation",
            severity,
            format!("Kyverno rule {rule} {what}: {}", self.message.trim()),
        );
        f.object = Some(obj.object_ref());
        f.location = Some(obj.location(""));
        Some(f)
    }
}

/// A loaded policy.
pub struct Policy {
    pub name: String,
    pub kind: String,
    /// The namespace of a namespaced `Policy`.
    pub namespace: Option<String>,
    pub file: String,
    /// The rules Kyverno evaluates, autogen rules included.
    rules: Vec<Value>,
    /// The policy's `spec`.
    spec: Value,
    cel: Option<CelPolicy>,
    /// Why the policy cannot run, when it cannot.
    broken: Option<String>,
    /// A MutatingAdmissionPolicy's bindings.
    bindings: Vec<Value>,
    /// `false` when annotated `policies.kyverno.io/scored: "false"`: its failures are
    /// reported as warnings (in policy reports, `kyverno test` and `kyverno apply`); admission
    /// still enforces them.
    pub scored: bool,
    /// Its `policies.kyverno.io/severity` annotation.
    pub severity: Option<Severity>,
    /// Its `policies.kyverno.io/category` annotation.
    pub category: Option<String>,
    /// `spec.webhookConfiguration.matchConditions` as a block of CEL match conditions
    /// (`{"matchConditions": [...]}`): the API server sends a request to Kyverno's webhook only
    /// when they all hold, so `serve` applies the policy only then.
    webhook_conditions: Option<Value>,
    /// `failurePolicy: Ignore` (`spec.failurePolicy`, or `spec.webhookConfiguration.failurePolicy`):
    /// at admission, a rule that errors admits the request.
    pub failure_ignored: bool,
    /// A rule's `match` or `exclude` selects by the requester's roles (known at load, so that
    /// an admission request does not walk the rules to find out).
    selects_by_roles: bool,
}

struct CelPolicy {
    variants: Vec<(Value, cel::CelChecks)>,
    /// An ImageValidatingPolicy's image parts, one per variant.
    images: Vec<ivpol::ImagePolicy>,
}

/// Policies loaded once, evaluated on many resources.
#[derive(Default)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
    /// Resolves `configMap` and `apiCall` context entries when the admission info has no
    /// resolver of its own (`serve` sets it: see [`PolicySet::needs_cluster`]).
    pub resolver: Option<resolver::Resolver>,
    /// Verifies `verifyImages` rules' images when the admission info has no verifier.
    pub image_verifier: Option<images::Verifier>,
    /// The GlobalContextEntries loaded beside the policies.
    pub global: Option<global::Shared>,
    /// The PolicyExceptions loaded beside the policies.
    pub exceptions: Option<Arc<exception::Exceptions>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("policies", &self.policies.len())
            .finish()
    }
}

const POLICY_KINDS: [&str; 2] = ["ClusterPolicy", "Policy"];
const CEL_KINDS: [&str; 10] = [
    "ValidatingPolicy",
    "NamespacedValidatingPolicy",
    "MutatingPolicy",
    "NamespacedMutatingPolicy",
    "GeneratingPolicy",
    "NamespacedGeneratingPolicy",
    "DeletingPolicy",
    "NamespacedDeletingPolicy",
    "ImageValidatingPolicy",
    "NamespacedImageValidatingPolicy",
];

/// Whether an object is a Kyverno policy this crate loads: the `kyverno.io` ClusterPolicy and
/// Policy, and every `policies.kyverno.io` kind but PolicyException (a kind it cannot run
/// loads as a broken policy, so that it is reported rather than passed over).
pub fn is_policy(obj: &Value) -> bool {
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    (api.starts_with("kyverno.io/") && POLICY_KINDS.contains(&kind))
        || (api.starts_with("policies.kyverno.io/") && kind != "PolicyException")
        || (api.starts_with("admissionregistration.k8s.io/") && kind == "MutatingAdmissionPolicy")
}

/// Whether an object is a MutatingAdmissionPolicyBinding.
fn is_map_binding(obj: &Value) -> bool {
    obj.get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|a| a.starts_with("admissionregistration.k8s.io/"))
        && obj.get("kind").and_then(Value::as_str) == Some("MutatingAdmissionPolicyBinding")
}

impl PolicySet {
    /// Loads every policy in the given files and directories.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> (PolicySet, Vec<KyvernoError>) {
        let loaded = rampart_manifest::load_paths(paths);
        let mut errors: Vec<KyvernoError> =
            loaded.errors.into_iter().map(KyvernoError::from).collect();
        let (set, errs) = PolicySet::from_objects(loaded.objects);
        errors.extend(errs);
        (set, errors)
    }

    /// Loads the policies of one file's text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(name: &str, text: &str) -> (PolicySet, Vec<KyvernoError>) {
        let loaded = rampart_manifest::load_str(name, text);
        let mut errors: Vec<KyvernoError> =
            loaded.errors.into_iter().map(KyvernoError::from).collect();
        let (set, errs) = PolicySet::from_objects(loaded.objects);
        errors.extend(errs);
        (set, errors)
    }

    /// Keeps the objects that are Kyverno policies.
    pub fn from_objects(objects: Vec<Object>) -> (PolicySet, Vec<KyvernoError>) {
        let mut set = PolicySet::default();
        let mut errors = Vec::new();
        let mut global = global::GlobalContext::default();
        let mut exceptions = exception::Exceptions::default();
        let mut map_bindings: Vec<Object> = Vec::new();
        for o in objects {
            if is_map_binding(&o.value) {
                map_bindings.push(o);
                continue;
            }
            if global::is_entry(&o.value) {
                global.add(&o.value);
                continue;
            }
            if exception::is_exception(&o.value) {
                match exceptions.add(&o.value) {
                    Ok(()) => {}
                    Err((pointer, message)) => {
                        let name = o
                            .value
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let mut at = position(&o, &pointer);
                        at.message = format!("PolicyException {name}: {message}");
                        errors.push(KyvernoError::from(at));
                    }
                }
                continue;
            }
            if !is_policy(&o.value) {
                continue;
            }
            let (p, errs) = Policy::from_object(&o);
            errors.extend(errs);
            set.policies.push(p);
        }
        if !global.is_empty() {
            set.global = Some(std::sync::Arc::new(global));
        }
        if !exceptions.is_empty() {
            set.exceptions = Some(Arc::new(exceptions));
        }
        for p in set.policies.iter_mut().filter(|p| p.is_admission_native()) {
            p.bindings = map_bindings
                .iter()
                .filter(|b| {
                    b.value.pointer("/spec/policyName").and_then(Value::as_str) == Some(&p.name)
                })
                .map(|b| b.value.clone())
                .collect();
        }
        // a binding of no loaded MutatingAdmissionPolicy is named, not dropped silently
        for b in &map_bindings {
            let policy = b
                .value
                .pointer("/spec/policyName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !set
                .policies
                .iter()
                .any(|p| p.is_admission_native() && p.name == policy)
            {
                let mut at = position(b, "/spec/policyName");
                at.message = format!(
                    "binding `{}`: no valid MutatingAdmissionPolicy named {policy}",
                    b.value
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
                errors.push(KyvernoError::from(at));
            }
        }
        (set, errors)
    }

    /// Whether no policy was loaded.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Whether a rule reads the cluster: a `configMap` or `apiCall` context entry (in the rule
    /// or a foreach of it).
    pub fn needs_cluster(&self) -> bool {
        fn reads(v: &Value) -> bool {
            match v {
                Value::Object(m) => {
                    m.get("context")
                        .and_then(Value::as_array)
                        .is_some_and(|es| {
                            es.iter().any(|e| {
                                e.get("configMap").is_some()
                                    || e.get("apiCall").is_some()
                                    || e.get("globalReference").is_some()
                            })
                        })
                        || m.values().any(reads)
                }
                Value::Array(a) => a.iter().any(reads),
                _ => false,
            }
        }
        self.policies.iter().any(|p| p.rules.iter().any(reads))
            // CEL's http library calls services through the cluster's client
            || self.policies.iter().any(|p| {
                p.cel.is_some() && {
                    let text = p.spec.to_string();
                    ["http.Get(", "http.Post(", "http.get(", "http.post("]
                        .iter()
                        .any(|f| text.contains(f))
                }
            })
            // the requester's roles come from the cluster's bindings
            || self.uses_requester_roles()
    }

    /// Whether a rule's `match` or `exclude` selects by the requester's `roles` or
    /// `clusterRoles` (which the cluster's RoleBindings and ClusterRoleBindings give).
    pub fn uses_requester_roles(&self) -> bool {
        self.policies.iter().any(|p| p.selects_by_roles)
    }

    /// Fills the requester's `roles` (`namespace:role`) and `clusterRoles` from the cluster's
    /// RoleBindings in `namespace` and ClusterRoleBindings that name the user, one of its
    /// groups or its service account, as Kyverno does; only when a rule selects by them and
    /// the set has a cluster resolver. A lookup that fails leaves them empty, with the reason.
    pub fn resolve_requester_roles(
        &self,
        info: &mut AdmissionInfo,
        namespace: &str,
    ) -> Result<(), String> {
        let Some(resolver) = self
            .resolver
            .as_ref()
            .filter(|_| self.uses_requester_roles())
        else {
            return Ok(());
        };
        let user = info
            .user_info
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let groups = rampart_manifest::string_list(info.user_info.get("groups"));
        let sa = user
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split_once(':'))
            .map(|(ns, n)| (ns.to_string(), n.to_string()));
        let names_requester = |binding: &Value| {
            binding
                .get("subjects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|s| {
                    let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
                    match text("kind") {
                        "User" => text("name") == user,
                        "Group" => groups.iter().any(|g| g == text("name")),
                        "ServiceAccount" => sa
                            .as_ref()
                            .is_some_and(|(ns, n)| text("name") == n && text("namespace") == ns),
                        _ => false,
                    }
                })
        };
        let items = |path: &str| -> Result<Vec<Value>, String> {
            let list = resolver.0.call("GET", path, None)?;
            Ok(list
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default())
        };
        let (mut roles, mut cluster_roles) = (Vec::new(), Vec::new());
        if !namespace.is_empty() {
            for b in items(&format!(
                "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings"
            ))? {
                if !names_requester(&b) {
                    continue;
                }
                let name = b
                    .pointer("/roleRef/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match b.pointer("/roleRef/kind").and_then(Value::as_str) {
                    Some("Role") => roles.push(format!("{namespace}:{name}")),
                    Some("ClusterRole") => cluster_roles.push(name.to_string()),
                    _ => {}
                }
            }
        }
        for b in items("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")? {
            if names_requester(&b)
                && let Some(name) = b.pointer("/roleRef/name").and_then(Value::as_str)
            {
                cluster_roles.push(name.to_string());
            }
        }
        roles.sort();
        roles.dedup();
        cluster_roles.sort();
        cluster_roles.dedup();
        info.roles = roles;
        info.cluster_roles = cluster_roles;
        Ok(())
    }

    /// Whether a rule reads image registries: `verifyImages`, or an `imageRegistry` context
    /// entry.
    pub fn verifies_images(&self) -> bool {
        fn reads(v: &Value) -> bool {
            match v {
                Value::Object(m) => {
                    m.get("context")
                        .and_then(Value::as_array)
                        .is_some_and(|es| es.iter().any(|e| e.get("imageRegistry").is_some()))
                        || m.values().any(reads)
                }
                Value::Array(a) => a.iter().any(reads),
                _ => false,
            }
        }
        self.policies.iter().any(|p| {
            p.is_image_validating()
                || p.rules
                    .iter()
                    .any(|r| r.get("verifyImages").is_some() || reads(r))
        })
    }

    /// The kinds the validation rules of the background policies match (`match` resource
    /// filters, as written: `Pod`, `apps/v1/Deployment`, `*`), with their policy and rule.
    pub fn background_kinds(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for p in self.policies.iter().filter(|p| p.runs_in_background()) {
            for r in &p.rules {
                if rule_type(r) != "validate" {
                    continue;
                }
                let rule = r.get("name").and_then(Value::as_str).unwrap_or("");
                let Some(m) = r.get("match") else { continue };
                let filters = ["any", "all"]
                    .iter()
                    .filter_map(|k| m.get(*k).and_then(Value::as_array))
                    .flatten()
                    .filter_map(|f| f.get("resources"))
                    .chain(m.get("resources"));
                for kinds in filters.filter_map(|res| res.get("kinds").and_then(Value::as_array)) {
                    for k in kinds.iter().filter_map(Value::as_str) {
                        out.push((p.name.clone(), rule.to_string(), k.to_string()));
                    }
                }
            }
        }
        out
    }

    /// Evaluates the policies as Kyverno's background scan does on an existing resource:
    /// only the policies that run in the background (`spec.background`, or a
    /// ValidatingPolicy's `spec.evaluation.background.enabled`, true unless set to false), and
    /// only their validation results (mutate and generate rules act at admission).
    pub fn evaluate_background(&self, resource: &Value, info: &AdmissionInfo) -> Vec<RuleResult> {
        self.evaluate_where(
            resource,
            info,
            |p| p.runs_in_background() && !p.is_deleting() && !p.is_admission_native(),
            true,
        )
        .into_iter()
        .filter(|r| r.rule_type == "validate")
        .collect()
    }

    /// Evaluates every policy on a resource at admission (DeletingPolicies, which run on a
    /// schedule, are left out: see [`Policy::is_deleting`]).
    pub fn evaluate(&self, resource: &Value, info: &AdmissionInfo) -> Vec<RuleResult> {
        self.evaluate_where(
            resource,
            info,
            |p| !p.is_deleting() && !p.is_admission_native(),
            false,
        )
    }

    /// Evaluates the policies Kyverno runs at admission (`serve`): as [`PolicySet::evaluate`],
    /// without the policies whose admission processing is off (`spec.admission: false`, the
    /// CEL kinds' `evaluation.admission.enabled: false`), which only background scans run.
    pub fn evaluate_admission(&self, resource: &Value, info: &AdmissionInfo) -> Vec<RuleResult> {
        self.evaluate_where(
            resource,
            info,
            |p| {
                !p.is_deleting()
                    && !p.is_admission_native()
                    && p.runs_at_admission()
                    && p.webhook_admits(resource, info)
            },
            false,
        )
    }

    /// Evaluates the policies as Kyverno's CLI (`kyverno test`, `kyverno apply`) applies them
    /// to a resource: first every policy's mutate rules, each policy on the resource the ones
    /// before it patched; then the other rules on the mutated resource (a `verifyImages`
    /// digest pinned along the way). `info` gives the admission info of a policy on a version
    /// of the resource. Each policy's results, in policy order.
    pub fn evaluate_in_cli_order(
        &self,
        resource: &Value,
        info: impl Fn(&Policy, &Value) -> AdmissionInfo,
    ) -> Vec<Vec<RuleResult>> {
        // the set's resolver, verifier, global context and exceptions where the info has none
        let info = |p: &Policy, r: &Value| {
            let mut i = info(p, r);
            self.fill_info(&mut i);
            i
        };
        let mut current = resource.clone();
        let mut out: Vec<Vec<RuleResult>> = Vec::with_capacity(self.policies.len());
        for p in &self.policies {
            let mut results = p.evaluate_phase(&current, &info(p, &current), Phase::Mutate);
            // a mutate rule that changed nothing leaves what the policies before it made
            if &current != resource {
                for r in results.iter_mut().filter(|r| r.patched.is_none()) {
                    r.patched = Some(current.clone());
                }
            }
            if let Some(patched) = results
                .iter()
                .rev()
                .filter(|r| r.status == Status::Pass)
                .find_map(|r| r.patched.clone())
            {
                current = patched;
            }
            out.push(results);
        }
        // the CEL kinds read the request's verifications; ImageValidatingPolicies share them
        let request = ivpol::begin_request();
        let cel_mutation = |p: &Policy| p.cel.is_some() && p.is_mutating();
        // the other rules, a verifyImages digest carried along; then the
        // MutatingAdmissionPolicies and MutatingPolicies, each on what the ones before it made
        for cel_pass in [false, true] {
            for (p, results) in self.policies.iter().zip(out.iter_mut()) {
                if cel_mutation(p) != cel_pass {
                    continue;
                }
                let rest = p.evaluate_phase(&current, &info(p, &current), Phase::Rest);
                if let Some(patched) = rest
                    .iter()
                    .filter(|r| r.status == Status::Pass && (cel_pass || r.rule_type == "validate"))
                    .find_map(|r| r.patched.clone())
                {
                    current = patched;
                }
                results.extend(rest);
            }
        }
        enforce_required(out.iter_mut().flatten(), &request.verifications);
        out
    }

    /// Gives `info` the set's resolver, image verifier, global context and exceptions where it
    /// has none of its own.
    pub fn fill_info(&self, info: &mut AdmissionInfo) {
        if info.resolver.is_none() {
            info.resolver.clone_from(&self.resolver);
        }
        if info.image_verifier.is_none() {
            info.image_verifier.clone_from(&self.image_verifier);
        }
        if info.global.is_none() {
            info.global.clone_from(&self.global);
        }
        if info.exceptions.is_none() {
            info.exceptions.clone_from(&self.exceptions);
        }
    }

    /// Evaluates the policies `which` selects, with the set's resolver, image verifier and
    /// global context where the admission info has none of its own.
    fn evaluate_where(
        &self,
        resource: &Value,
        info: &AdmissionInfo,
        which: impl Fn(&Policy) -> bool,
        background: bool,
    ) -> Vec<RuleResult> {
        let info = if info.resolver.is_none() && self.resolver.is_some()
            || info.image_verifier.is_none() && self.image_verifier.is_some()
            || info.global.is_none() && self.global.is_some()
            || info.exceptions.is_none() && self.exceptions.is_some()
            || info.background != background
        {
            let mut with = info.clone();
            self.fill_info(&mut with);
            with.background = background;
            std::borrow::Cow::Owned(with)
        } else {
            std::borrow::Cow::Borrowed(info)
        };
        // The request's CEL inputs are converted once for all the policies.
        let _shared = cel::share_request(resource, info.old_object.as_ref(), info.request.as_ref());
        // ImageValidatingPolicies share the request's verifications
        let request = ivpol::begin_request();
        let mut out: Vec<RuleResult> = self
            .policies
            .iter()
            .filter(|p| which(p))
            .flat_map(|p| p.evaluate(resource, &info))
            .collect();
        enforce_required(out.iter_mut(), &request.verifications);
        out
    }
}

fn position(o: &Object, pointer: &str) -> InputError {
    let (line, column) = o.pos.find(&o.value, pointer).unwrap_or((0, 0));
    InputError {
        file: o.file.to_string(),
        line,
        column,
        message: String::new(),
    }
}

/// Checks the variables and anchors of a rule; the first problem with its JSON pointer.
fn lint(v: &Value, pointer: &str) -> Option<(String, String)> {
    match v {
        Value::String(s) => lint_str(s).map(|m| (pointer.to_string(), m)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| lint(x, &format!("{pointer}/{i}"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let p = format!("{pointer}/{}", rampart_manifest::escape_segment(k));
            if let Some(first) = k.chars().next()
                && k.len() > 3
                && k.ends_with(')')
                && k.get(first.len_utf8()..)
                    .is_some_and(|r| r.starts_with('('))
                && !"<X+=^".contains(first)
                && !first.is_alphanumeric()
            {
                return Some((p, format!("unknown anchor `{k}`")));
            }
            lint_str(k).map(|m| (p.clone(), m)).or_else(|| lint(x, &p))
        }),
        _ => None,
    }
}

fn lint_str(s: &str) -> Option<String> {
    for inner in validation::variables(s) {
        if inner == "@" || inner.contains('@') {
            continue;
        }
        if let Err(e) = jmes::check(inner) {
            return Some(format!("JMESPath syntax error in `{{{{{inner}}}}}`: {e}"));
        }
    }
    None
}

impl Policy {
    /// Whether Kyverno's background scan evaluates the policy: `spec.background` for
    /// ClusterPolicies and Policies, `spec.evaluation.background.enabled` for the CEL kinds;
    /// true unless set to false.
    /// What an ImageValidatingPolicy's `mutateDigest` makes of a resource at admission's
    /// mutating stage (see [`ivpol::pin_digests`]); `None` for other policies, resources it
    /// does not match, or when nothing changes.
    pub fn pin_image_digests(&self, resource: &Value, info: &AdmissionInfo) -> Option<Value> {
        let c = self.cel.as_ref()?;
        if self.broken.is_some() {
            return None;
        }
        let verifier = info.image_verifier.as_ref().map(|v| v.0.clone());
        c.variants
            .iter()
            .zip(&c.images)
            .find(|((mc, _), _)| cel_matches(mc, resource, info))
            .and_then(|(_, ip)| {
                let b = engine::bindings(resource, info);
                ivpol::pin_digests(ip, &b, resource, verifier.as_deref())
            })
    }

    /// A MutatingPolicy or MutatingAdmissionPolicy.
    fn is_mutating(&self) -> bool {
        self.kind.contains("MutatingPolicy") || self.is_admission_native()
    }

    /// A Kubernetes MutatingAdmissionPolicy: the API server applies it, so it runs in
    /// `policy test` and `policy apply` only (as `kyverno test` and `apply` run it), not in
    /// `serve` or scans.
    pub fn is_admission_native(&self) -> bool {
        self.kind == "MutatingAdmissionPolicy"
    }

    /// A MutatingAdmissionPolicy through its bindings, as Kyverno's CLI applies it: each
    /// binding whose `matchResources` select the resource applies the mutations, with each
    /// param its `paramRef` finds among the cluster resources (the test's `paramResources`);
    /// without bindings, the policy applies on its own. `None` when no binding selects the
    /// resource; a skip when those that do have match conditions that do not hold.
    fn mutate_through_bindings(
        &self,
        mc: &Value,
        checks: &cel::CelChecks,
        resource: &Value,
        info: &AdmissionInfo,
    ) -> Option<engine::Eval> {
        let unbound = [serde_json::json!({"spec": {}})];
        let bindings: &[Value] = if self.bindings.is_empty() {
            &unbound
        } else {
            &self.bindings
        };
        let param_kind = self.spec.get("paramKind");
        let mut current = resource.clone();
        let mut applied = false;
        let mut skipped = None;
        for binding in bindings {
            // a binding's matchResources without rules defers to the policy's
            let mut bmc = binding
                .pointer("/spec/matchResources")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            if let Some(o) = bmc.as_object_mut()
                && o.get("resourceRules")
                    .and_then(Value::as_array)
                    .is_none_or(|a| a.is_empty())
            {
                o.insert(
                    "resourceRules".into(),
                    mc.get("resourceRules").cloned().unwrap_or(Value::Null),
                );
            }
            if !cel_matches(&bmc, &current, info) {
                continue;
            }
            // Kyverno's CLI gives the params a selector finds as one List (`params.items`),
            // where the API server would apply the policy once per param
            let selected_list;
            let params: Vec<Option<&Value>> = match param_kind {
                None => vec![None],
                Some(pk) => {
                    let found =
                        admission_params(pk, binding.pointer("/spec/paramRef"), &current, info);
                    if found.is_empty() {
                        let deny = binding
                            .pointer("/spec/paramRef/parameterNotFoundAction")
                            .and_then(Value::as_str)
                            == Some("Deny");
                        if deny {
                            return Some(engine::Eval::new(
                                Status::Error,
                                "no params found for policy binding with `Deny` parameterNotFoundAction",
                            ));
                        }
                        continue;
                    }
                    if binding.pointer("/spec/paramRef/selector").is_some() {
                        selected_list = serde_json::json!({
                            "apiVersion": "v1",
                            "kind": "List",
                            "items": found,
                        });
                        vec![Some(&selected_list)]
                    } else {
                        found.into_iter().map(Some).collect()
                    }
                }
            };
            for param in params {
                let mut b = engine::bindings(&current, info);
                b.params = param;
                let e = engine::eval_cel_mutation(checks, &b);
                match e.status {
                    Status::Pass => {
                        applied = true;
                        if let Some(p) = e.patched {
                            current = p;
                        }
                    }
                    // a binding that selects the resource, whose match conditions do not
                    // hold: a skip, as Kyverno reports it, unless another binding applies
                    Status::Skip => skipped = Some(e),
                    _ => return Some(e),
                }
            }
        }
        if !applied {
            return skipped;
        }
        let mut e = engine::Eval::new(Status::Pass, "mutations applied");
        e.patched = Some(current);
        Some(e)
    }

    /// Whether this is an ImageValidatingPolicy.
    pub fn is_image_validating(&self) -> bool {
        self.kind.contains("ImageValidatingPolicy")
    }

    /// A DeletingPolicy (Kyverno's scheduled cleanup): evaluated by `policy test` and
    /// `policy apply` (is the resource one it deletes?), not at admission nor in scans.
    pub fn is_deleting(&self) -> bool {
        self.kind.contains("DeletingPolicy")
    }

    /// Whether Kyverno runs it at admission (`spec.admission`, or the CEL kinds'
    /// `evaluation.admission.enabled`; both default to true).
    pub fn runs_at_admission(&self) -> bool {
        let flag = if self.cel.is_some() {
            self.spec.pointer("/evaluation/admission/enabled")
        } else {
            self.spec.get("admission")
        };
        flag.and_then(Value::as_bool) != Some(false)
    }

    pub fn runs_in_background(&self) -> bool {
        let flag = if self.cel.is_some() {
            self.spec.pointer("/evaluation/background/enabled")
        } else {
            self.spec.get("background")
        };
        flag.and_then(Value::as_bool) != Some(false)
    }

    fn from_object(o: &Object) -> (Policy, Vec<KyvernoError>) {
        let v = &o.value;
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let kind = v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let namespace = if kind == "Policy" || kind.starts_with("Namespaced") {
            Some(
                v.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_string(),
            )
        } else {
            None
        };
        let mut errors = Vec::new();
        let mut broken = None;
        let mut rules = Vec::new();
        let mut cel_policy = None;
        let fail = |pointer: &str, message: String, errors: &mut Vec<KyvernoError>| {
            let mut pos = position(o, pointer);
            pos.message = format!("policy `{name}`: {message}");
            errors.push(KyvernoError::Policy {
                pos,
                policy: name.clone(),
            });
            message
        };
        if POLICY_KINDS.contains(&kind.as_str()) {
            let own: Vec<Value> = v
                .pointer("/spec/rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let background = v.pointer("/spec/background").and_then(Value::as_bool) != Some(false);
            if kind == "ClusterPolicy"
                && v.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty())
            {
                broken = Some(fail(
                    "/metadata/namespace",
                    "A clusterpolicy should not have the namespace defined".into(),
                    &mut errors,
                ));
            }
            if let Some((p, m)) =
                validation::check_background(v.get("spec").unwrap_or(&Value::Null), &own)
            {
                broken = Some(fail(&p, m, &mut errors));
            }
            if let Some((p, m)) = validation::check_policy_spec(
                v.get("spec").unwrap_or(&Value::Null),
                &own,
                namespace.as_deref(),
            ) {
                broken = Some(fail(&p, m, &mut errors));
            }
            for (i, r) in own.iter().enumerate() {
                if let Some((p, m)) = lint(r, &format!("/spec/rules/{i}")) {
                    broken = Some(fail(&p, m, &mut errors));
                } else if broken.is_none()
                    && let Some((p, m)) =
                        validation::check_rule(r, &format!("/spec/rules/{i}"), background)
                {
                    broken = Some(fail(&p, m, &mut errors));
                }
                let action = v.pointer("/spec/validationFailureAction");
                if let Some((p, m)) =
                    images::lint_verify_images(r, action, &format!("/spec/rules/{i}"))
                {
                    broken = Some(fail(&p, m, &mut errors));
                }
                if let Some(ps) = r.pointer("/validate/podSecurity")
                    && let Some((p, m)) = validation::check_pss_excludes(
                        ps.get("exclude")
                            .and_then(Value::as_array)
                            .map(Vec::as_slice)
                            .unwrap_or_default(),
                        &format!("/spec/rules/{i}/validate/podSecurity/exclude"),
                        Some(
                            ps.get("level")
                                .and_then(Value::as_str)
                                .unwrap_or("baseline"),
                        ),
                    )
                {
                    broken = Some(fail(&p, m, &mut errors));
                }
            }
            rules = autogen::compute_rules(
                &own,
                v.pointer("/metadata/annotations")
                    .and_then(Value::as_object),
            );
        } else if CEL_KINDS.contains(&kind.as_str()) || kind == "MutatingAdmissionPolicy" {
            let spec = v.get("spec").cloned().unwrap_or(Value::Null);
            let mut variants = Vec::new();
            let mut images = Vec::new();
            // a DeletingPolicy's conditions decide; it, a GeneratingPolicy and a
            // MutatingAdmissionPolicy have no Pod-controller variants (Kyverno has autogen for
            // the validating, image-validating and mutating kinds only)
            let mc = || spec.get("matchConstraints").cloned().unwrap_or(Value::Null);
            let (list, mut all) =
                if kind.contains("DeletingPolicy") || kind == "MutatingAdmissionPolicy" {
                    ("conditions", vec![(mc(), spec.clone())])
                } else if kind.contains("GeneratingPolicy") {
                    ("validations", vec![(mc(), spec.clone())])
                } else {
                    let convert: Convert = if kind.contains("MutatingPolicy") {
                        convert_mutations
                    } else {
                        convert_whole_spec
                    };
                    ("validations", cel_variants(&spec, convert))
                };
            for (mc, s) in all.drain(..) {
                if kind.contains("ImageValidatingPolicy") {
                    match ivpol::compile(&s) {
                        Ok((ip, checks)) => {
                            variants.push((mc, checks));
                            images.push(ip);
                        }
                        Err((pointer, e)) => {
                            broken = Some(fail(&pointer, e, &mut errors));
                            break;
                        }
                    }
                    continue;
                }
                match cel::CelChecks::compile(&s, list) {
                    Ok(c) => variants.push((mc, c)),
                    Err(e) => {
                        broken = Some(fail(&format!("/spec/{list}"), e, &mut errors));
                        break;
                    }
                }
            }
            cel_policy = Some(CelPolicy { variants, images });
        } else {
            broken = Some(fail(
                "/kind",
                format!("{kind} is not supported: rampart does not run this kind of policy"),
                &mut errors,
            ));
            // its results (errors) are for the resources its constraints match
            let mc = v
                .pointer("/spec/matchConstraints")
                .cloned()
                .unwrap_or(Value::Null);
            cel_policy = Some(CelPolicy {
                variants: vec![(mc, cel::CelChecks::default())],
                images: Vec::new(),
            });
        }
        // the webhook's match conditions: compiled here, so that a bad one is an error at load
        let webhook_conditions = v
            .pointer("/spec/webhookConfiguration/matchConditions")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .map(|c| serde_json::json!({"matchConditions": c}));
        if let Some(block) = &webhook_conditions
            && let Err(e) = cel::CelChecks::compile(block, "validations")
        {
            broken = Some(fail(
                "/spec/webhookConfiguration/matchConditions",
                format!("match conditions compilation errors: {e}"),
                &mut errors,
            ));
        }
        (
            Policy {
                name,
                kind,
                namespace,
                file: o.file.to_string(),
                spec: v.get("spec").cloned().unwrap_or(Value::Null),
                cel: cel_policy,
                broken,
                bindings: Vec::new(),
                scored: v
                    .pointer("/metadata/annotations/policies.kyverno.io~1scored")
                    .and_then(Value::as_str)
                    != Some("false"),
                severity: v
                    .pointer("/metadata/annotations/policies.kyverno.io~1severity")
                    .and_then(Value::as_str)
                    .and_then(|s| s.trim().parse().ok()),
                category: v
                    .pointer("/metadata/annotations/policies.kyverno.io~1category")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                failure_ignored: [
                    "/spec/failurePolicy",
                    "/spec/webhookConfiguration/failurePolicy",
                ]
                .iter()
                .any(|p| v.pointer(p).and_then(Value::as_str) == Some("Ignore")),
                selects_by_roles: rules.iter().any(selects_by_roles),
                webhook_conditions,
                rules,
            },
            errors,
        )
    }

    /// Whether the API server would send this request to the policy's webhook: its
    /// `webhookConfiguration.matchConditions` all hold (an error in them: under `Ignore` the
    /// webhook is skipped, else the policy runs).
    pub fn webhook_admits(&self, resource: &Value, info: &AdmissionInfo) -> bool {
        let Some(block) = &self.webhook_conditions else {
            return true;
        };
        match engine::webhook_conditions(block, resource, info) {
            Ok(hold) => hold,
            Err(_) => !self.failure_ignored,
        }
    }

    /// Whether a failure of `rule` blocks admission, ignoring the per-namespace overrides: the
    /// rule's `failureAction`, else the policy's `validationFailureAction`; for the CEL kinds,
    /// `validationActions` with `Deny`. See [`Policy::enforces_for`].
    pub fn enforces(&self, rule: &str) -> bool {
        self.enforces_in(rule, None, None)
    }

    /// Whether a failure of `rule` on `resource` blocks admission, as Kyverno resolves it: the
    /// rule's `failureActionOverrides` matching the resource's namespace (by name wildcard
    /// and/or `namespaceSelector` on the namespace's labels from `info`), else its
    /// `failureAction` (for `verifyImages`, `Enforce` if any entry enforces), else the
    /// policy's `validationFailureActionOverrides`, else its `validationFailureAction`. A rule
    /// name the policy lacks takes the policy-wide action (the first rule that sets one).
    pub fn enforces_for(&self, rule: &str, resource: &Value, info: &AdmissionInfo) -> bool {
        let ns = resource
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        self.enforces_in(rule, Some(ns), info.namespace_labels.get(ns))
    }

    fn enforces_in(
        &self,
        rule: &str,
        ns: Option<&str>,
        labels: Option<&Map<String, Value>>,
    ) -> bool {
        if self.cel.is_some() {
            return self
                .spec
                .get("validationActions")
                .and_then(Value::as_array)
                .is_none_or(|a| a.iter().filter_map(Value::as_str).any(|x| x == "Deny"));
        }
        let overrides = |list: Option<&Value>| ns.and_then(|ns| match_override(list, ns, labels));
        let spec_action = || {
            overrides(self.spec.get("validationFailureActionOverrides"))
                .unwrap_or_else(|| is_enforce(self.spec.get("validationFailureAction")))
        };
        match self
            .rules
            .iter()
            .find(|r| r.get("name").and_then(Value::as_str) == Some(rule))
        {
            Some(r) => rule_action(r, &overrides).unwrap_or_else(spec_action),
            None => self
                .rules
                .iter()
                .find_map(|r| rule_action(r, &overrides))
                .unwrap_or_else(spec_action),
        }
    }

    /// An ImageValidatingPolicy on a resource (see [`ivpol`]): its result, none when its match
    /// conditions do not hold. Within [`PolicySet::evaluate`] `required` is checked once every
    /// policy of the request ran (`required_images`); evaluated alone, on its own
    /// verifications.
    fn evaluate_images(
        &self,
        ip: &ivpol::ImagePolicy,
        checks: &cel::CelChecks,
        b: &cel::Bindings<'_>,
        resource: &Value,
        info: &AdmissionInfo,
        result: &dyn Fn(&str, engine::Eval, &'static str) -> RuleResult,
    ) -> Vec<RuleResult> {
        let (verifications, alone) = match ivpol::current() {
            Some(v) => (v, false),
            None => (ivpol::Verifications::default(), true),
        };
        let ignore = self.spec.get("failurePolicy").and_then(Value::as_str) == Some("Ignore");
        let verifier = info.image_verifier.as_ref().map(|v| v.0.clone());
        let Some((mut e, images)) =
            ivpol::evaluate(ip, checks, b, resource, verifier, &verifications, ignore)
        else {
            return Vec::new();
        };
        let mut deferred = Vec::new();
        if e.status == Status::Pass && ip.required() && !images.is_empty() {
            if alone {
                if let Some(m) = ivpol::unverified(&images, &verifications) {
                    e = engine::Eval::new(Status::Fail, m);
                }
            } else {
                deferred = images;
            }
        }
        let mut r = result("", e, "validate");
        r.required_images = deferred;
        vec![r]
    }

    /// The CEL PolicyExceptions on a resource of this (CEL) policy, as Kyverno applies them
    /// before the policy's match conditions: `Err` with the result when one exempts it (or
    /// one cannot be evaluated before any did), else the `exceptions` variable
    /// (`allowedImages`, `allowedValues`: those of the partial ones that apply, empty lists
    /// when none does).
    fn cel_exceptions(
        &self,
        b: &cel::Bindings<'_>,
        info: &AdmissionInfo,
    ) -> Result<Value, (Status, String)> {
        let (mut images, mut values) = (Vec::<String>::new(), Vec::<String>::new());
        let mut full: Vec<&exception::CelException> = Vec::new();
        let all = info.exceptions.iter().flat_map(|x| x.cel.iter());
        for e in all.filter(|e| e.names(&self.name, &self.kind)) {
            match e.applies(b) {
                Ok(true) if e.images.is_empty() && e.values.is_empty() => full.push(e),
                Ok(true) => {
                    images.extend(e.images.iter().cloned());
                    values.extend(e.values.iter().cloned());
                }
                Ok(false) => {}
                Err(m) if full.is_empty() => {
                    return Err((Status::Error, format!("PolicyException {}: {m}", e.key)));
                }
                Err(_) => {}
            }
        }
        if let Some(first) = full.first() {
            let keys: Vec<&str> = full.iter().map(|e| e.key.as_str()).collect();
            let (status, verb) = if first.report_pass {
                (Status::Pass, "passed")
            } else {
                (Status::Skip, "skipped")
            };
            return Err((
                status,
                format!(
                    "rule is {verb} due to policy exception: {}",
                    keys.join(", ")
                ),
            ));
        }
        Ok(serde_json::json!({"allowedImages": images, "allowedValues": values}))
    }

    /// The rules evaluated, autogen rules included (empty for the CEL kinds).
    pub fn rules(&self) -> &[Value] {
        &self.rules
    }

    /// Evaluates the policy on a resource: one result per rule that matches.
    pub fn evaluate(&self, resource: &Value, info: &AdmissionInfo) -> Vec<RuleResult> {
        self.evaluate_phase(resource, info, Phase::All)
    }

    /// [`Policy::evaluate`] for the rules of one phase of Kyverno's CLI (see
    /// [`PolicySet::evaluate_in_cli_order`]).
    fn evaluate_phase(
        &self,
        resource: &Value,
        info: &AdmissionInfo,
        phase: Phase,
    ) -> Vec<RuleResult> {
        let in_phase = |r: &Value| match phase {
            Phase::All => true,
            Phase::Mutate => r.get("mutate").is_some(),
            Phase::Rest => r.get("mutate").is_none(),
        };
        if phase == Phase::Mutate && (self.cel.is_some() || !self.rules.iter().any(in_phase)) {
            return Vec::new();
        }
        if let Some(ns) = &self.namespace {
            let rns = resource
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if rns != ns {
                return Vec::new();
            }
        }
        let result = |rule: &str, e: engine::Eval, rule_type: &'static str| RuleResult {
            policy: self.name.clone(),
            rule: rule.to_string(),
            status: e.status,
            message: e.message,
            rule_type,
            enforce: self.enforces_for(rule, resource, info),
            patched: e.patched,
            generated: e.generated,
            targets: e.targets,
            required_images: Vec::new(),
            severity: self.severity,
            scored: self.scored,
            failure_ignored: self.failure_ignored,
        };
        if let Some(b) = &self.broken {
            // a CEL kind: an error for the resources its constraints (or a compiled variant's)
            // match
            if let Some(c) = &self.cel
                && !c
                    .variants
                    .iter()
                    .map(|(mc, _)| mc)
                    .chain(self.spec.get("matchConstraints"))
                    .any(|mc| cel_matches(mc, resource, info))
            {
                return Vec::new();
            }
            if self.cel.is_none() && !self.rules.is_empty() {
                let t = matching::Target::new(resource, info);
                return self
                    .rules
                    .iter()
                    .filter(|r| in_phase(r) && matching::rule_matches(r, &t))
                    .map(|r| {
                        result(
                            r.get("name").and_then(Value::as_str).unwrap_or(""),
                            engine::Eval::new(Status::Error, b.clone()),
                            rule_type(r),
                        )
                    })
                    .collect();
            }
            return vec![result(
                "",
                engine::Eval::new(Status::Error, b.clone()),
                "validate",
            )];
        }
        if let Some(c) = &self.cel {
            let rule_type = if self.kind.contains("GeneratingPolicy") {
                "generate"
            } else if self.is_mutating() {
                "mutate"
            } else if self.is_deleting() {
                "delete"
            } else {
                "validate"
            };
            for (i, (mc, checks)) in c.variants.iter().enumerate() {
                if !cel_matches(mc, resource, info) {
                    continue;
                }
                let mut b = engine::bindings(resource, info);
                match self.cel_exceptions(&b, info) {
                    Err((status, why)) => {
                        return vec![result("", engine::Eval::new(status, why), rule_type)];
                    }
                    Ok(allowed) => b.extra.push(("exceptions", allowed)),
                }
                if let Some(ip) = c.images.get(i) {
                    return self.evaluate_images(ip, checks, &b, resource, info, &result);
                }
                if self.is_admission_native() {
                    return self
                        .mutate_through_bindings(mc, checks, resource, info)
                        .map(|e| vec![result("", e, rule_type)])
                        .unwrap_or_default();
                }
                let e = match rule_type {
                    "generate" => engine::eval_cel_generation(checks, &b),
                    "mutate" => engine::eval_cel_mutation(checks, &b),
                    "delete" => engine::eval_cel_deletion(checks, &b),
                    _ => engine::eval_cel_policy(checks, &b),
                };
                return vec![result("", e, rule_type)];
            }
            return Vec::new();
        }
        // Mutate rules apply in order, each to the resource the previous ones patched; the
        // policy's patched resource is the last one.
        let mut current = resource.clone();
        let mut out: Vec<RuleResult> = Vec::new();
        for r in self.rules.iter().filter(|r| in_phase(r)) {
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            let Some(mut e) =
                engine::eval_rule(r, &current, info, &self.name, self.namespace.as_deref())
            else {
                continue;
            };
            // An enforced rule on an UPDATE lets existing violations through: when the old
            // object fails the same way, the rule is skipped (`allowExistingViolations`,
            // true unless set to false).
            if e.status == Status::Fail
                && info.operation == "UPDATE"
                && self.enforces_for(name, &current, info)
                && r.pointer("/validate/allowExistingViolations")
                    .and_then(Value::as_bool)
                    != Some(false)
                && let Some(old) = &info.old_object
            {
                let as_create = AdmissionInfo {
                    operation: "CREATE".into(),
                    old_object: None,
                    ..info.clone()
                };
                if engine::eval_rule(r, old, &as_create, &self.name, self.namespace.as_deref())
                    .is_some_and(|o| o.status == Status::Fail)
                {
                    e = engine::Eval::new(
                        Status::Skip,
                        "skipping the rule evaluation as pre-existing violations are allowed",
                    );
                }
            }
            if let Some(p) = &e.patched {
                current = p.clone();
            }
            out.push(result(name, e, rule_type(r)));
        }
        if &current != resource {
            for r in out.iter_mut().filter(|r| r.rule_type == "mutate") {
                r.patched = Some(current.clone());
            }
        }
        out
    }
}

/// The params a binding's `paramRef` selects among the cluster resources: of the policy's
/// `paramKind`, by `name` or `selector`, in `namespace` (the resource's own when unset).
fn admission_params<'a>(
    kind: &Value,
    param_ref: Option<&Value>,
    resource: &Value,
    info: &'a AdmissionInfo,
) -> Vec<&'a Value> {
    let text = |v: Option<&Value>, p: &str| {
        v.and_then(|v| v.pointer(p))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (api, k) = (text(Some(kind), "/apiVersion"), text(Some(kind), "/kind"));
    let name = text(param_ref, "/name");
    let ns = match text(param_ref, "/namespace") {
        n if n.is_empty() => text(Some(resource), "/metadata/namespace"),
        n => n,
    };
    let selector = param_ref.and_then(|r| r.get("selector"));
    info.context_resources
        .iter()
        .filter(|o| text(Some(o), "/apiVersion") == api && text(Some(o), "/kind") == k)
        .filter(|o| name.is_empty() || text(Some(o), "/metadata/name") == name)
        .filter(|o| {
            let ons = text(Some(o), "/metadata/namespace");
            ons.is_empty() || ns.is_empty() || ons == ns
        })
        .filter(|o| {
            selector.is_none_or(|s| {
                matching::selector_matches(
                    s,
                    o.pointer("/metadata/labels").and_then(Value::as_object),
                )
            })
        })
        .collect()
}

/// Whether a rule's `match` or `exclude` selects by the requester's `roles` or `clusterRoles`.
fn selects_by_roles(rule: &Value) -> bool {
    fn selects(v: &Value) -> bool {
        match v {
            Value::Object(m) => {
                ["roles", "clusterRoles"].iter().any(|k| {
                    m.get(*k)
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty())
                }) || ["any", "all"].iter().any(|k| {
                    m.get(*k)
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(selects))
                })
            }
            _ => false,
        }
    }
    ["match", "exclude"]
        .iter()
        .any(|k| rule.get(*k).is_some_and(selects))
}

/// ImageValidatingPolicies' `required`, once every policy of the request ran: a passing
/// result fails for an image no policy verified.
fn enforce_required<'a>(
    results: impl Iterator<Item = &'a mut RuleResult>,
    verifications: &ivpol::Verifications,
) {
    for r in results.filter(|r| !r.required_images.is_empty()) {
        if let Some(m) = ivpol::unverified(&r.required_images, verifications) {
            r.status = Status::Fail;
            r.message = m;
        }
    }
}

/// Which rules an evaluation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    All,
    /// The mutate rules of the ClusterPolicies and Policies.
    Mutate,
    /// Every other rule, and the CEL kinds.
    Rest,
}

/// Kyverno's `Enforce()`: `Enforce` or the older `enforce`; anything else audits.
fn is_enforce(v: Option<&Value>) -> bool {
    matches!(v.and_then(Value::as_str), Some("Enforce" | "enforce"))
}

/// The action of the first valid override whose `namespaces` (wildcards) and
/// `namespaceSelector` match: `Some(true)` to enforce, `Some(false)` to audit, `None` when none
/// matches. An override without `namespaces` applies to every namespace its selector (if any)
/// selects.
fn match_override(
    list: Option<&Value>,
    ns: &str,
    labels: Option<&Map<String, Value>>,
) -> Option<bool> {
    for o in list.and_then(Value::as_array).into_iter().flatten() {
        let action = o.get("action");
        if !matches!(
            action.and_then(Value::as_str),
            Some("Enforce" | "enforce" | "Audit" | "audit")
        ) {
            continue;
        }
        let selected = || match o.get("namespaceSelector").filter(|s| !s.is_null()) {
            None => true,
            Some(sel) => matching::selector_matches(sel, labels),
        };
        let named = match o.get("namespaces").filter(|n| !n.is_null()) {
            None => true,
            Some(list) => list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|p| wildcard::matches(p, ns)),
        };
        if named && selected() {
            return Some(is_enforce(action));
        }
    }
    None
}

/// A rule's own action, when it sets one: its `failureActionOverrides` for the namespace,
/// else its `failureAction`; for `verifyImages`, `Enforce` if any entry enforces, else the
/// first entry's action.
fn rule_action(r: &Value, overrides: &dyn Fn(Option<&Value>) -> Option<bool>) -> Option<bool> {
    if let Some(v) = r.get("validate") {
        return overrides(v.get("failureActionOverrides")).or_else(|| {
            v.get("failureAction")
                .filter(|a| !a.is_null())
                .map(|a| is_enforce(Some(a)))
        });
    }
    let entries = r.get("verifyImages").and_then(Value::as_array)?;
    let actions: Vec<&Value> = entries
        .iter()
        .filter_map(|e| e.get("failureAction").filter(|a| !a.is_null()))
        .collect();
    if actions.iter().any(|a| is_enforce(Some(a))) {
        return Some(true);
    }
    actions.first().map(|_| false)
}

fn rule_type(r: &Value) -> &'static str {
    if r.get("mutate").is_some() {
        "mutate"
    } else if r.get("generate").is_some() {
        "generate"
    } else {
        "validate"
    }
}

/// The plural resource name of a kind, as the API server names it.
pub fn resource_of(kind: &str) -> String {
    let l = kind.to_ascii_lowercase();
    match l.as_str() {
        "endpoints" => l,
        _ if l.ends_with('s') || l.ends_with('x') || l.ends_with("ch") => format!("{l}es"),
        _ if l.ends_with('y') && !l.ends_with("ey") && !l.ends_with("ay") => {
            format!("{}ies", l.get(..l.len() - 1).unwrap_or(""))
        }
        _ => format!("{l}s"),
    }
}

/// How a CEL policy's spec becomes its Pod-controller variant's: given the spec, the path of the
/// pod spec and of the pod metadata in the controller (`spec.template.spec`, …) and whether the
/// controller is a CronJob.
type Convert = fn(&Value, &str, &str, bool) -> Option<Value>;

/// The match constraints and spec of a CEL policy and of its Pod-controller variants, each
/// variant's spec made by `convert`.
fn cel_variants(spec: &Value, convert: Convert) -> Vec<(Value, Value)> {
    let mc = spec.get("matchConstraints").cloned().unwrap_or(Value::Null);
    let mut out = vec![(mc.clone(), spec.clone())];
    let rules = mc
        .get("resourceRules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let single = |k: &str, want: &str, r: &Value| {
        r.get(k)
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() == 1 && a.first().and_then(Value::as_str) == Some(want))
    };
    let object_selector = mc.get("objectSelector").is_some_and(|s| {
        s.get("matchLabels")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
            || s.get("matchExpressions")
                .and_then(Value::as_array)
                .is_some_and(|m| !m.is_empty())
    });
    let can = rules.len() == 1
        && !object_selector
        && mc
            .get("excludeResourceRules")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty())
        && rules.first().is_some_and(|r| {
            r.get("resourceNames")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty())
                && single("apiGroups", "", r)
                && single("apiVersions", "v1", r)
                && single("resources", "pods", r)
        });
    if !can {
        return out;
    }
    let controllers: Vec<String> = spec
        .pointer("/autogen/podControllers/controllers")
        .filter(|v| v.is_array())
        .map(|v| rampart_manifest::string_list(Some(v)))
        .unwrap_or_else(|| {
            [
                "daemonsets",
                "deployments",
                "replicasets",
                "statefulsets",
                "jobs",
                "cronjobs",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        });
    let ops = rules
        .first()
        .and_then(|r| r.get("operations"))
        .cloned()
        .unwrap_or(Value::Null);
    let defaults: Vec<(&str, &str)> = controllers
        .iter()
        .filter_map(|c| match c.as_str() {
            "daemonsets" | "deployments" | "replicasets" | "statefulsets" => {
                Some(("apps", c.as_str()))
            }
            "jobs" => Some(("batch", "jobs")),
            _ => None,
        })
        .collect();
    let mut add = |targets: Vec<(&str, &str)>, to_spec: &str, to_meta: &str, cron: bool| {
        if targets.is_empty() {
            return;
        }
        let mut by_group: Vec<(&str, Vec<&str>)> = Vec::new();
        for (g, r) in targets {
            match by_group.iter_mut().find(|(gg, _)| *gg == g) {
                Some((_, rs)) => rs.push(r),
                None => by_group.push((g, vec![r])),
            }
        }
        let rr: Vec<Value> = by_group
            .into_iter()
            .map(|(g, rs)| serde_json::json!({"apiGroups": [g], "apiVersions": ["v1"], "resources": rs, "operations": ops}))
            .collect();
        let mut new_mc = serde_json::json!({"resourceRules": rr});
        if let (Some(ns), Some(o)) = (mc.get("namespaceSelector"), new_mc.as_object_mut()) {
            o.insert("namespaceSelector".into(), ns.clone());
        }
        if let Some(s) = convert(spec, to_spec, to_meta, cron) {
            out.push((new_mc, s));
        }
    };
    add(
        defaults,
        "spec.template.spec",
        "spec.template.metadata",
        false,
    );
    if controllers.iter().any(|c| c == "cronjobs") {
        add(
            vec![("batch", "cronjobs")],
            "spec.jobTemplate.spec.template.spec",
            "spec.jobTemplate.spec.template.metadata",
            true,
        );
    }
    out
}

/// A ValidatingPolicy's (and ImageValidatingPolicy's, GeneratingPolicy's) variant, as Kyverno
/// makes it: `object.spec` and `object.metadata` (and `oldObject`'s) replaced everywhere in
/// the spec, but before `.namespace`.
fn convert_whole_spec(spec: &Value, to_spec: &str, to_meta: &str, _cron: bool) -> Option<Value> {
    let mut text = spec.to_string();
    for (from, to) in [("spec", to_spec), ("metadata", to_meta)] {
        text = replace_protected(&text, &format!("object.{from}"), &format!("object.{to}"));
        text = replace_protected(
            &text,
            &format!("oldObject.{from}"),
            &format!("oldObject.{to}"),
        );
    }
    serde_json::from_str::<Value>(&text).ok()
}

/// A MutatingPolicy's variant, as Kyverno's MutatingPolicy autogen makes it: only the match
/// conditions and the `applyConfiguration` expressions change (variables and JSONPatch
/// expressions stay as written), each by [`mpol_expression`].
fn convert_mutations(spec: &Value, to_spec: &str, to_meta: &str, cron: bool) -> Option<Value> {
    let mut s = spec.clone();
    let convert = |e: &mut Value| {
        if let Some(text) = e.as_str().filter(|t| !t.is_empty()) {
            *e = Value::String(mpol_expression(text, to_spec, to_meta, cron));
        }
    };
    if let Some(conds) = s.get_mut("matchConditions").and_then(Value::as_array_mut) {
        conds
            .iter_mut()
            .filter_map(|c| c.get_mut("expression"))
            .for_each(convert);
    }
    if let Some(muts) = s.get_mut("mutations").and_then(Value::as_array_mut) {
        muts.iter_mut()
            .filter_map(|m| m.pointer_mut("/applyConfiguration/expression"))
            .for_each(convert);
    }
    Some(s)
}

/// One MutatingPolicy expression for a Pod controller: `object.spec`, `oldObject.spec` and the
/// `Object.spec` of apply configurations point into the template, as do the metadata's
/// `labels` and `annotations` (not its name or namespace); and a root `Object{…}` apply
/// configuration is wrapped in the controller's `Object{spec: Object.spec{template: …}}`.
fn mpol_expression(expr: &str, to_spec: &str, to_meta: &str, cron: bool) -> String {
    static RES: OnceLock<Option<[regex::Regex; 3]>> = OnceLock::new();
    let Some([spec_re, labels_re, annotations_re]) = RES.get_or_init(|| {
        let re = |tail: &str| {
            regex::Regex::new(&format!(r"(?-u:\b)(object|oldObject|Object)\.{tail}")).ok()
        };
        Some([
            re("spec")?,
            re(r"metadata\.labels")?,
            re(r"metadata\.annotations")?,
        ])
    }) else {
        return expr.to_string();
    };
    let expr = spec_re.replace_all(expr, format!("${{1}}.{to_spec}"));
    let expr = labels_re.replace_all(&expr, format!("${{1}}.{to_meta}.labels"));
    let expr = annotations_re
        .replace_all(&expr, format!("${{1}}.{to_meta}.annotations"))
        .into_owned();
    let Some(content) = expr
        .trim()
        .strip_prefix("Object")
        .map(|r| r.trim_start_matches([' ', '\t', '\r', '\n']))
        .and_then(|r| r.strip_prefix('{'))
    else {
        return expr;
    };
    // the brace closing the root constructor (braces in strings count, as in Kyverno)
    let mut depth = 1;
    let end = content.char_indices().find_map(|(i, c)| {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        (depth == 0).then_some(i)
    });
    let (Some(end), true) = (end, end.is_some_and(|e| e > 0)) else {
        return expr;
    };
    let (inner, rest) = (
        content.get(..end).unwrap_or(""),
        content.get(end + 1..).unwrap_or(""),
    );
    let (open, close) = if cron {
        (
            "Object{spec: Object.spec{jobTemplate: Object.spec.jobTemplate{spec: Object.spec.jobTemplate.spec{template: Object.spec.jobTemplate.spec.template{",
            "}}}}}",
        )
    } else {
        (
            "Object{spec: Object.spec{template: Object.spec.template{",
            "}}}",
        )
    };
    format!("{open}{inner}{close}{rest}")
}

/// Kyverno's CEL autogen replacement: `from` → `to`, except before `.namespace`.
fn replace_protected(data: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = rest.find(from) {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + from.len()..).unwrap_or("");
        let protected = after.strip_prefix(".namespace").is_some_and(|n| {
            n.chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
        });
        out.push_str(if protected { from } else { to });
        rest = after;
    }
    out.push_str(rest);
    out
}

fn cel_matches(mc: &Value, resource: &Value, info: &AdmissionInfo) -> bool {
    let t = matching::Target::new(resource, info);
    let plural = resource_of(t.kind);
    let rule_ok = |r: &Value| {
        let has = |k: &str, v: &str| {
            r.get(k).and_then(Value::as_array).is_some_and(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .any(|x| x == "*" || x == v)
            })
        };
        has("apiGroups", t.group)
            && has("apiVersions", t.version)
            && has("resources", &plural)
            && r.get("resourceNames")
                .and_then(Value::as_array)
                .is_none_or(|names| {
                    names.is_empty() || names.iter().filter_map(Value::as_str).any(|n| n == t.name)
                })
            && r.get("operations")
                .and_then(Value::as_array)
                .is_none_or(|ops| {
                    ops.iter()
                        .filter_map(Value::as_str)
                        .any(|o| o == "*" || o == info.operation)
                })
    };
    let rules = mc.get("resourceRules").and_then(Value::as_array);
    if !rules.is_some_and(|rs| rs.iter().any(rule_ok)) {
        return false;
    }
    if mc
        .get("excludeResourceRules")
        .and_then(Value::as_array)
        .is_some_and(|rs| rs.iter().any(rule_ok))
    {
        return false;
    }
    if let Some(sel) = mc.get("objectSelector")
        && !matching::selector_matches(
            sel,
            resource
                .pointer("/metadata/labels")
                .and_then(Value::as_object),
        )
    {
        return false;
    }
    if let Some(sel) = mc.get("namespaceSelector")
        && (sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some())
        && !t.namespace.is_empty()
        && !matching::selector_matches(sel, info.namespace_labels.get(t.namespace))
    {
        return false;
    }
    true
}

/// The check metadata of the findings this crate can emit: one slug for every Kyverno rule
/// violation, named `kyverno/<policy>/<rule>` in findings.
pub fn checks() -> Vec<CheckInfo> {
    let mut c = CheckInfo::new(
        "kyverno-policy-violation",
        Severity::Medium,
        Origin::Policy,
        "A resource violates a Kyverno policy rule",
    );
    c.doc = "## What it does\nRuns the team's Kyverno ClusterPolicies, Policies and ValidatingPolicies, \
unchanged, and reports each rule a resource fails.\n\n## Why is this bad?\nThe policy encodes a rule \
the team chose to enforce; a failing resource would be rejected (Enforce) or reported (Audit) by \
Kyverno at admission.\n\n## Remediation\nChange the resource as the rule's message says, or add a \
PolicyException where the rule does not apply.\n\n## References\n- https://kyverno.io/docs/writing-policies/\n"
        .into();
    vec![c]
}
