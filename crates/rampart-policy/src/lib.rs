//! Runs policy-as-code unchanged: Gatekeeper ConstraintTemplates (Rego through regorus, in
//! Rego v0 mode as Gatekeeper does, or their `K8sNativeValidation` CEL code) with their
//! constraints, and Kubernetes ValidatingAdmissionPolicies with their bindings (CEL through
//! kube-cel).
//!
//! Templates and policies are compiled once when a [`PolicySet`] is built; a [`Session`] adds
//! the inventory (`data.inventory`, VAP params, namespaces) and evaluates many objects.
//!
//! ```
//! use rampart_policy::{PolicySet, Mode};
//! let policies = rampart_manifest::load_str("policy.yaml", r#"
//! apiVersion: templates.gatekeeper.sh/v1
//! kind: ConstraintTemplate
//! metadata: {name: k8srequiredteam}
//! spec:
//!   crd: {spec: {names: {kind: K8sRequiredTeam}}}
//!   targets:
//!   - target: admission.k8s.gatekeeper.sh
//!     rego: |
//!       package k8srequiredteam
//!       violation[{"msg": "team label required"}] {
//!         not input.review.object.metadata.labels.team
//!       }
//! ---
//! apiVersion: constraints.gatekeeper.sh/v1beta1
//! kind: K8sRequiredTeam
//! metadata: {name: must-have-team}
//! spec:
//!   enforcementAction: warn
//!   match: {kinds: [{apiGroups: [""], kinds: [Pod]}]}
//! "#);
//! let set = PolicySet::from_objects(policies.objects);
//! assert!(set.problems().is_empty());
//! let pod = rampart_manifest::load_str("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n");
//! let result = set.session(&[]).evaluate(&pod.objects[0]);
//! assert_eq!(result.violations.len(), 1);
//! assert_eq!(result.violations[0].policy, "must-have-team");
//! assert_eq!(result.violations[0].mode, Mode::Warn);
//! ```

mod cel;
/// CEL helpers the Kyverno engine shares: JSON as CEL values, and `variables.NAME` bound as
/// identifiers of their own.
pub use cel::{
    MapUse, VAR_PREFIX, VariablesMap, direct_variables, error_text, json_to_cel,
    optional_selects_as_index, strict_selects, visit_post_order,
};
mod gatekeeper;
mod rego_compat;
mod review;
mod selector;
pub mod suite;
mod vap;

pub use review::Review;

use rampart_core::{Finding, Location, ObjectRef, Severity};
use rampart_manifest::Object;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// What a violation does at admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Recorded only (Gatekeeper `dryrun`).
    DryRun,
    /// Recorded in the audit log (VAP `Audit`).
    Audit,
    /// Admitted with a warning.
    Warn,
    /// Rejected.
    Deny,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dryrun",
            Mode::Audit => "audit",
            Mode::Warn => "warn",
            Mode::Deny => "deny",
        }
    }

    fn severity(self) -> Severity {
        match self {
            Mode::Deny => Severity::High,
            Mode::Warn => Severity::Medium,
            Mode::Audit => Severity::Low,
            Mode::DryRun => Severity::Info,
        }
    }
}

/// Which engine runs templates that carry both Rego and CEL code. CEL by default, as
/// Gatekeeper does: its constraint framework picks the first registered driver that a
/// template has code for, and Gatekeeper registers the `K8sNativeValidation` driver before
/// Rego's whenever native validation is on (the default since 3.17; `gator` always).
/// `Rego` is `--enable-k8s-native-validation=false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    Rego,
    #[default]
    Cel,
}

/// A problem with a policy input or its evaluation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    /// A policy object (template, constraint, VAP, binding) that is malformed or does not
    /// compile, at its source position.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    /// A file or document that could not be read.
    #[error("{0}")]
    Input(#[from] rampart_core::InputError),
}

impl PolicyError {
    pub(crate) fn at(obj: &Object, pointer: &str, message: String) -> PolicyError {
        // regorus names the module's own position (`--> file:line:col`); prefer it.
        if let Some((file, line, column, message)) = gatekeeper::rego_error_position(&message) {
            return PolicyError::Invalid {
                file,
                line,
                column,
                message,
            };
        }
        let loc = obj.location(pointer);
        PolicyError::Invalid {
            file: loc.file.to_string(),
            line: loc.line,
            column: loc.column,
            message,
        }
    }
}

/// One violation of one constraint or policy binding.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// The constraint's name, or the VAP binding's.
    pub policy: String,
    /// The constraint's kind, or `ValidatingAdmissionPolicy`.
    pub kind: String,
    pub message: String,
    /// Gatekeeper's `details`; the VAP `reason` otherwise.
    pub details: Value,
    pub mode: Mode,
    /// The object the violation is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
}

/// An evaluation error: the policy did not decide. `fail_closed` says whether the failure
/// policy rejects the request.
#[derive(Debug, Clone, Serialize)]
pub struct EvalError {
    pub policy: String,
    pub message: String,
    pub fail_closed: bool,
}

/// What a ValidatingAdmissionPolicy decided on one object (see [`Session::vap_results`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VapResult {
    pub policy: String,
    pub status: VapStatus,
    pub message: String,
    /// Skipped because none of the policy's bindings selects the object (Kyverno's CLI
    /// then has no result for it in `apply`, and a skip in `test`).
    pub unbound: bool,
}

/// A [`VapResult`]'s status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VapStatus {
    Pass,
    Fail,
    Skip,
    Error,
}

/// The result of evaluating one request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    pub violations: Vec<Violation>,
    pub errors: Vec<EvalError>,
    /// VAP audit annotations, `policy/key` to value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<(String, String)>,
}

/// Templates, constraints, VAPs, bindings and params, compiled.
#[derive(Debug, Default)]
pub struct PolicySet {
    templates: HashMap<String, gatekeeper::Template>,
    constraints: Vec<gatekeeper::Constraint>,
    policies: HashMap<String, vap::Policy>,
    bindings: Vec<vap::Binding>,
    /// Everything else found among the policy inputs: VAP params.
    params: Vec<Object>,
    problems: Vec<PolicyError>,
    engine: Engine,
}

impl PolicySet {
    /// Loads policies from files and directories. A file or document that cannot be read, and
    /// a template or policy that does not compile, is kept in [`PolicySet::problems`] and
    /// skipped; it is an error only when nothing could be read at all.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<PolicySet, PolicyError> {
        let loaded = rampart_manifest::load_paths(paths);
        if loaded.objects.is_empty()
            && let Some(e) = loaded.errors.first()
        {
            return Err(PolicyError::Input(e.clone()));
        }
        let mut set = PolicySet::from_objects(loaded.objects);
        set.problems
            .extend(loaded.errors.into_iter().map(PolicyError::Input));
        Ok(set)
    }

    /// Builds a set from loaded objects, compiling each template and policy once.
    pub fn from_objects(objects: Vec<Object>) -> PolicySet {
        let mut set = PolicySet::default();
        let mut constraints = Vec::new();
        for o in objects {
            if gatekeeper::Template::is_template(&o) {
                match gatekeeper::Template::compile(&o) {
                    Ok(t) => {
                        set.templates.insert(t.kind.clone(), t);
                    }
                    Err(e) => set.problems.push(e),
                }
            } else if gatekeeper::Constraint::is_constraint(&o) {
                constraints.push(o);
            } else if vap::Policy::is_policy(&o) {
                match vap::Policy::parse(&o) {
                    Ok(p) => {
                        set.policies.insert(p.name.clone(), p);
                    }
                    Err(e) => set.problems.push(e),
                }
            } else if vap::Binding::is_binding(&o) {
                match vap::Binding::parse(&o) {
                    Ok(b) => set.bindings.push(b),
                    Err(e) => set.problems.push(e),
                }
            } else {
                set.params.push(o);
            }
        }
        for o in constraints {
            match gatekeeper::Constraint::parse(&o) {
                Ok(c) if set.templates.contains_key(&c.kind) => set.constraints.push(c),
                Ok(c) => set.problems.push(PolicyError::at(
                    &o,
                    "/kind",
                    format!(
                        "constraint `{}`: no valid ConstraintTemplate defines kind {}",
                        c.name, c.kind
                    ),
                )),
                Err(e) => set.problems.push(e),
            }
        }
        for b in &set.bindings {
            if !set.policies.contains_key(&b.policy) {
                set.problems.push(PolicyError::Invalid {
                    file: b.at.file.to_string(),
                    line: b.at.line,
                    column: b.at.column,
                    message: format!(
                        "binding `{}`: no valid ValidatingAdmissionPolicy named {}",
                        b.name, b.policy
                    ),
                });
            }
        }
        set
    }

    /// Runs templates that carry both Rego and CEL code through `engine`.
    pub fn with_engine(mut self, engine: Engine) -> PolicySet {
        self.engine = engine;
        self
    }

    /// Templates or policies that were skipped, and why.
    /// The resources each ValidatingAdmissionPolicy matches, as (policy, API group, plural)
    /// triples (`*` for a wildcard).
    pub fn policy_resources(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<(String, String, String)> = self
            .policies
            .values()
            .flat_map(|p| {
                p.matcher
                    .resources()
                    .into_iter()
                    .map(move |(g, r)| (p.name.clone(), g, r))
            })
            .collect();
        out.sort();
        out
    }

    /// The kinds each constraint matches, as (`Kind/name`, `group/*/Kind` selector) pairs:
    /// what an audit of existing resources must read (`*` where a constraint matches every
    /// kind or group).
    pub fn constraint_kinds(&self) -> Vec<(String, String)> {
        self.constraints
            .iter()
            .flat_map(|c| {
                let name = format!("{}/{}", c.kind, c.name);
                c.matcher
                    .kind_selectors()
                    .into_iter()
                    .map(move |k| (name.clone(), k))
            })
            .collect()
    }

    pub fn problems(&self) -> &[PolicyError] {
        &self.problems
    }

    /// Number of constraints and bindings that will be evaluated.
    pub fn len(&self) -> usize {
        self.constraints.len() + self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a ValidatingAdmissionPolicy of this name is loaded.
    pub fn has_validating_policy(&self, name: &str) -> bool {
        self.policies.contains_key(name)
    }

    /// Prepares evaluation against an inventory: the objects `data.inventory` holds, and where
    /// namespaces and VAP params are looked up.
    pub fn session<'a>(&'a self, inventory: &'a [Object]) -> Session<'a> {
        let needs_data = self
            .templates
            .values()
            .any(|t| t.rego.as_ref().is_some_and(|r| r.uses_inventory));
        let mut engines = HashMap::new();
        let mut problems = Vec::new();
        if needs_data {
            let data = regorus::Value::from(review::inventory_data(inventory));
            for t in self.templates.values() {
                if let Some(r) = t.rego.as_ref().filter(|r| r.uses_inventory) {
                    match r.with_data(&data) {
                        Ok(e) => {
                            engines.insert(t.kind.clone(), e);
                        }
                        Err(m) => problems.push((t.kind.clone(), m)),
                    }
                }
            }
        }
        let namespaces = inventory
            .iter()
            .filter(|o| o.kind() == "Namespace" && o.api_version() == "v1")
            .map(|o| (o.name().to_string(), &o.value))
            .collect();
        let params = self.params.iter().chain(inventory).collect();
        Session {
            set: self,
            engines,
            problems,
            namespaces,
            params,
        }
    }

    /// Evaluates one object (or AdmissionReview) against every policy, as findings.
    pub fn evaluate(&self, object: &Object, inventory: &[Object]) -> Vec<Finding> {
        self.session(inventory).findings(object)
    }

    /// Evaluates one admission request (the `request` of an AdmissionReview).
    pub fn evaluate_request(
        &self,
        request: &Value,
        inventory: &[Object],
    ) -> Result<Evaluation, String> {
        let review = Review::from_request(request)?;
        Ok(self.session(inventory).review(&review))
    }
}

/// A policy set bound to an inventory; cheap to share across threads for many objects.
pub struct Session<'a> {
    set: &'a PolicySet,
    /// Where VAP params are looked up: the non-policy objects of the set, then the inventory.
    params: Vec<&'a Object>,
    engines: HashMap<String, regorus::Engine>,
    problems: Vec<(String, String)>,
    namespaces: HashMap<String, &'a Value>,
}

impl Session<'_> {
    /// Evaluates a plain object (as a CREATE) or an AdmissionReview.
    pub fn evaluate(&self, object: &Object) -> Evaluation {
        match Review::from_object(object) {
            Ok(r) => {
                let mut e = self.review(&r);
                let subject = r.subject().map(object_ref_of);
                for v in &mut e.violations {
                    v.object = subject.clone();
                }
                e
            }
            Err(m) => Evaluation {
                errors: vec![EvalError {
                    policy: String::new(),
                    message: m,
                    fail_closed: true,
                }],
                ..Evaluation::default()
            },
        }
    }

    /// Findings for one object: check = constraint or binding name, severity from the mode.
    pub fn findings(&self, object: &Object) -> Vec<Finding> {
        let e = self.evaluate(object);
        let loc = object.location("");
        let mut out: Vec<Finding> = e
            .violations
            .into_iter()
            .map(|v| {
                Finding::new(v.policy, v.mode.severity(), v.message)
                    .with_object(
                        v.object
                            .map_or_else(|| object.object_ref(), std::sync::Arc::new),
                    )
                    .with_location(Location { ..loc.clone() })
            })
            .collect();
        out.extend(e.errors.into_iter().map(|err| {
            Finding::new(
                err.policy,
                Severity::High,
                format!("policy evaluation failed: {}", err.message),
            )
            .with_object(object.object_ref())
            .with_location(loc.clone())
        }));
        out
    }

    /// Each ValidatingAdmissionPolicy on a review as Kyverno's CLI (`kyverno test`) reports
    /// it: through its bindings when it has some (`Skip` when none applies), else on its own
    /// match constraints as if bound with `Deny`; no result when its constraints do not
    /// match. In policy name order.
    pub fn vap_results(&self, review: &Review) -> Vec<VapResult> {
        let ns = (!review.namespace.is_empty())
            .then(|| self.namespaces.get(&review.namespace).copied())
            .flatten();
        let cel_request = cel::CelRequest::new(
            review.object(),
            review.old_object(),
            Some(&review.request),
            ns,
        );
        let mut names: Vec<&String> = self.set.policies.keys().collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let Some(p) = self.set.policies.get(name) else {
                continue;
            };
            let bound: Vec<&vap::Binding> = self
                .set
                .bindings
                .iter()
                .filter(|b| &b.policy == name)
                .collect();
            let unbound;
            let bindings = if bound.is_empty() {
                unbound = vap::Binding::unbound(name);
                vec![&unbound]
            } else {
                bound
            };
            let outcomes: Vec<vap::Outcome> = bindings
                .iter()
                .filter_map(|b| vap::evaluate(p, b, review, ns, &self.params, &cel_request))
                .collect();
            let unbound = outcomes.is_empty();
            let (status, message) = if unbound {
                if !p.matcher_matches(review, ns) {
                    continue;
                }
                (VapStatus::Skip, "no binding applies".to_string())
            } else if let Some(e) = outcomes.iter().flat_map(|o| &o.errors).next() {
                (VapStatus::Error, e.clone())
            } else if !outcomes.iter().any(|o| o.applied) {
                (VapStatus::Skip, "match conditions not met".to_string())
            } else if let Some((m, _)) = outcomes.iter().flat_map(|o| &o.failures).next() {
                (VapStatus::Fail, m.clone())
            } else {
                (VapStatus::Pass, String::new())
            };
            out.push(VapResult {
                policy: name.clone(),
                status,
                message,
                unbound,
            });
        }
        out
    }

    /// Evaluates one review against every constraint and binding.
    pub fn review(&self, review: &Review) -> Evaluation {
        let mut out = Evaluation::default();
        let ns = (!review.namespace.is_empty())
            .then(|| self.namespaces.get(&review.namespace).copied())
            .flatten();
        let rego_review = std::cell::OnceCell::new();
        // The request's inputs as CEL values, shared by every CEL policy below.
        let cel_request = cel::CelRequest::new(
            review.object(),
            review.old_object(),
            Some(&review.request),
            ns,
        );
        for c in &self.set.constraints {
            let Some(t) = self.set.templates.get(&c.kind) else {
                continue;
            };
            if !c.matches(review, ns) {
                continue;
            }
            if let Some((_, m)) = self.problems.iter().find(|(k, _)| *k == c.kind) {
                out.errors.push(EvalError {
                    policy: c.name.clone(),
                    message: m.clone(),
                    fail_closed: true,
                });
                continue;
            }
            match gatekeeper::run(
                t,
                self.set.engine,
                self.engines.get(&c.kind),
                c,
                review,
                &rego_review,
                &cel_request,
            ) {
                Ok(vs) => out.violations.extend(vs.into_iter().map(|v| Violation {
                    policy: c.name.clone(),
                    kind: c.kind.clone(),
                    message: v.message,
                    details: v.details,
                    mode: c.mode,
                    object: None,
                })),
                Err(m) => out.errors.push(EvalError {
                    policy: c.name.clone(),
                    message: match gatekeeper::rego_error_position(&m) {
                        Some((file, line, col, what)) => {
                            format!("{file}:{line}:{col}: template {}: {what}", t.name)
                        }
                        None => format!("template {} ({}): {m}", t.name, t.file),
                    },
                    fail_closed: true,
                }),
            }
        }
        for b in &self.set.bindings {
            let Some(p) = self.set.policies.get(&b.policy) else {
                continue;
            };
            let Some(o) = vap::evaluate(p, b, review, ns, &self.params, &cel_request) else {
                continue;
            };
            for (message, reason) in o.failures {
                out.violations.push(Violation {
                    policy: b.name.clone(),
                    kind: "ValidatingAdmissionPolicy".into(),
                    message,
                    details: serde_json::json!({"policy": p.name, "reason": reason}),
                    mode: b.mode(),
                    object: None,
                });
            }
            for m in o.errors {
                out.errors.push(EvalError {
                    policy: b.name.clone(),
                    message: m,
                    fail_closed: p.fail_closed,
                });
            }
            out.annotations.extend(
                o.annotations
                    .into_iter()
                    .map(|(k, v)| (format!("{}/{k}", p.name), v)),
            );
        }
        out
    }
}

fn object_ref_of(v: &Value) -> ObjectRef {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let namespace = s("/metadata/namespace");
    ObjectRef {
        api_version: s("/apiVersion"),
        kind: s("/kind"),
        namespace: (!namespace.is_empty()).then_some(namespace),
        name: s("/metadata/name"),
    }
}
