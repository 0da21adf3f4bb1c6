//! Admission decisions: exemptions, the PSA update rule, PSS per mode, and the check catalog.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, Operation};
use rampart_manifest::Object;
use serde_json::{Map, Value};

use crate::config::{Config, Mode, ModePolicies};
use crate::pss::{PodSecurity, PssPolicy, Violation, format_violations, policies_from_labels};

/// Looks up a namespace's labels (from a Namespace reflector when running in a cluster).
pub trait NamespaceLabels: Send + Sync + 'static {
    /// `None` when the namespace is unknown.
    fn labels(&self, namespace: &str) -> Option<Map<String, Value>>;
    /// `false` until the source has its first full listing.
    fn ready(&self) -> bool {
        true
    }
}

/// No namespace labels: only the config file applies.
#[derive(Debug, Default)]
pub struct NoNamespaceLabels;

impl NamespaceLabels for NoNamespaceLabels {
    fn labels(&self, _namespace: &str) -> Option<Map<String, Value>> {
        None
    }
}

/// Fixed namespace labels (tests, or a static snapshot).
#[derive(Debug, Default, Clone)]
pub struct StaticNamespaceLabels(pub BTreeMap<String, Map<String, Value>>);

impl NamespaceLabels for StaticNamespaceLabels {
    fn labels(&self, namespace: &str) -> Option<Map<String, Value>> {
        self.0.get(namespace).cloned()
    }
}

/// The overall decision, as counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Allowed with nothing to say.
    Allowed,
    /// Allowed with warnings.
    Warned,
    /// Denied.
    Denied,
    /// Allowed by an exemption, not evaluated.
    Exempt,
    /// Not something the server judges (other operations, subresources, irrelevant updates).
    Ignored,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Warned => "warned",
            Decision::Denied => "denied",
            Decision::Exempt => "exempt",
            Decision::Ignored => "ignored",
        }
    }
}

/// What the server answers, before it becomes an AdmissionResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// The denial message listing every enforced violation (empty when allowed).
    pub message: String,
    pub warnings: Vec<String>,
    pub audit_annotations: BTreeMap<String, String>,
    /// `(check, mode)` for every violation found, for metrics and logs.
    pub violations: Vec<(String, Mode)>,
}

impl Outcome {
    /// Adds the image policies' denials and warnings.
    pub(crate) fn add_images(&mut self, found: crate::images::ImageFindings) {
        for (policy, text) in found.deny {
            self.violations
                .push((format!("image:{policy}"), Mode::Enforce));
            if !self.message.is_empty() {
                self.message.push_str("; ");
            }
            self.message.push_str(&text);
            self.decision = Decision::Denied;
        }
        for (policy, text) in found.warnings {
            self.violations
                .push((format!("image:{policy}"), Mode::Warn));
            self.warnings.push(text);
            if self.decision == Decision::Allowed {
                self.decision = Decision::Warned;
            }
        }
    }

    fn new(decision: Decision) -> Self {
        Outcome {
            decision,
            message: String::new(),
            warnings: Vec::new(),
            audit_annotations: BTreeMap::new(),
            violations: Vec::new(),
        }
    }
}

/// The judging engine shared by every request.
pub struct Engine {
    pub(crate) config: Config,
    pss: Arc<dyn PodSecurity>,
    catalog: rampart_rules::Catalog,
    namespaces: Arc<dyn NamespaceLabels>,
    /// Gatekeeper constraints and ValidatingAdmissionPolicies enforced too (`--policies`).
    policies: Option<Arc<rampart_policy::PolicySet>>,
    /// Kyverno policies enforced too (`--policies`): Enforce denies, Audit warns.
    kyverno: Option<Arc<rampart_kyverno::PolicySet>>,
    /// Digests verified for the `images:` policies.
    image_cache: crate::images::DigestCache,
    /// Pods' `imagePullSecrets`, read from the cluster for the `images:` policies' lookups.
    pull_secrets: Option<Arc<crate::pull_secrets::PullSecrets>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A request as the engine needs it.
pub(crate) struct Request<'a> {
    pub operation: Operation,
    pub namespace: Option<&'a str>,
    pub username: Option<&'a str>,
    pub sub_resource: Option<&'a str>,
    pub resource: &'a str,
    pub object: Option<&'a Object>,
    pub old_object: Option<&'a Value>,
    /// The whole admission request as JSON, for the policies (`None` when none are loaded).
    pub raw: Option<&'a Value>,
}

impl<'a> Request<'a> {
    pub(crate) fn from_admission(
        req: &'a AdmissionRequest<DynamicObject>,
        object: Option<&'a Object>,
        old_object: Option<&'a Value>,
    ) -> Self {
        Request {
            operation: req.operation.clone(),
            namespace: req.namespace.as_deref(),
            username: req.user_info.username.as_deref(),
            sub_resource: req.sub_resource.as_deref(),
            resource: req.resource.resource.as_str(),
            object,
            old_object,
            raw: None,
        }
    }
}

impl Engine {
    pub fn new(
        config: Config,
        pss: Arc<dyn PodSecurity>,
        namespaces: Arc<dyn NamespaceLabels>,
    ) -> Self {
        // the whole registry, so the catalog validates ignore annotations against every slug
        rampart_engine::registry();
        // the configuration was validated when parsed; a catalog it cannot build is the default
        let catalog = rampart_rules::Catalog::new(config.catalog.clone()).unwrap_or_default();
        let image_cache =
            crate::images::DigestCache::new(config.images.len(), crate::images::CACHE_CAPACITY);
        Engine {
            image_cache,
            config,
            pss,
            catalog,
            namespaces,
            policies: None,
            kyverno: None,
            pull_secrets: None,
        }
    }

    /// Also reads the `imagePullSecrets` of admitted pods (in the request's namespace) for the
    /// `images:` policies' registry lookups, the policies' own credentials as fallback.
    pub fn with_pull_secrets(mut self, secrets: Arc<crate::pull_secrets::PullSecrets>) -> Self {
        self.pull_secrets = Some(secrets);
        self
    }

    /// Also enforces these Kyverno policies: a failed rule of an Enforce policy denies, of an
    /// Audit policy warns; a rule that cannot be evaluated denies for Enforce policies (Kyverno's
    /// `failurePolicy: Fail`) and warns otherwise.
    pub fn with_kyverno(mut self, policies: Arc<rampart_kyverno::PolicySet>) -> Self {
        self.kyverno = Some(policies);
        self
    }

    /// Also enforces these Gatekeeper constraints and ValidatingAdmissionPolicies, each in the
    /// mode its enforcementAction or validationActions name.
    pub fn with_policies(mut self, policies: Arc<rampart_policy::PolicySet>) -> Self {
        self.policies = Some(policies);
        self
    }

    /// Whether policies are loaded (the HTTP layer then hands over the whole request).
    /// Whether Kyverno policies are loaded (their mutate rules run at `/mutate`).
    pub fn has_kyverno(&self) -> bool {
        self.kyverno.is_some()
    }

    pub fn has_policies(&self) -> bool {
        self.policies.is_some() || self.kyverno.is_some()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn namespaces_ready(&self) -> bool {
        self.namespaces.ready()
    }

    /// The PSS policies in force in a namespace: defaults, then the config file's entry, then
    /// the namespace's labels.
    pub fn namespace_policies(&self, namespace: Option<&str>) -> ModePolicies {
        let mut p = self.config.pss.clone();
        if let Some(ns) = namespace {
            if let Some(over) = self.config.namespaces.get(ns) {
                over.apply(&mut p);
            }
            if let Some(labels) = self.namespaces.labels(ns) {
                policies_from_labels(&labels).apply(&mut p);
            }
        }
        p
    }

    /// Exemption check shared by /validate and /mutate.
    fn exempt(&self, req: &Request<'_>) -> bool {
        let ex = &self.config.exemptions;
        if req
            .username
            .is_some_and(|u| ex.usernames.iter().any(|e| e == u))
        {
            return true;
        }
        if req
            .namespace
            .is_some_and(|n| ex.namespaces.iter().any(|e| e == n))
        {
            return true;
        }
        if !ex.runtime_class_names.is_empty()
            && let Some(obj) = req.object.map(|o| &o.value)
            && let Some(pod) = rampart_manifest::pod_spec(obj)
            && let Some(rc) = pod.get("runtimeClassName").and_then(Value::as_str)
            && ex.runtime_class_names.iter().any(|e| e == rc)
        {
            return true;
        }
        false
    }

    /// Decides a validating request.
    pub(crate) fn validate(&self, req: &Request<'_>) -> Outcome {
        let Some(object) = req.object else {
            return Outcome::new(Decision::Ignored);
        };
        let obj = &object.value;
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return Outcome::new(Decision::Ignored);
        }
        // Like PSA: pods' ephemeralcontainers subresource is judged; other subresources are not.
        if let Some(sub) = req.sub_resource
            && !sub.is_empty()
            && !(req.resource == "pods" && sub == "ephemeralcontainers")
        {
            return Outcome::new(Decision::Ignored);
        }
        if self.exempt(req) {
            return Outcome::new(Decision::Exempt);
        }
        let is_pod = is_core_kind(obj, "Pod");
        let pod = rampart_manifest::pod_spec(obj);
        let (mut pss_relevant, mut checks_relevant) = (pod.is_some(), true);
        if req.operation == Operation::Update
            && let Some(old) = req.old_object
        {
            pss_relevant = pss_relevant && rampart_pss::significant_update(obj, old, is_pod);
            checks_relevant = significant_update(obj, old);
            if !pss_relevant && !checks_relevant {
                return Outcome::new(Decision::Ignored);
            }
        }

        let mut deny: Vec<String> = Vec::new();
        let mut out = Outcome::new(Decision::Allowed);

        if pss_relevant {
            let policies = self.namespace_policies(req.namespace);
            let enforce_applies = is_pod || self.config.workloads;
            let mut cache: Vec<(PssPolicy, Option<Vec<Violation>>)> = Vec::new();
            let mut eval = |p: &PssPolicy| -> Option<Vec<Violation>> {
                if let Some((_, v)) = cache.iter().find(|(q, _)| q == p) {
                    return v.clone();
                }
                let v = self.pss.evaluate(p, obj);
                cache.push((*p, v.clone()));
                v
            };
            if enforce_applies
                && let Some(p) = &policies.enforce
                && let Some(v) = eval(p)
                && !v.is_empty()
            {
                out.violations.extend(
                    v.iter()
                        .map(|x| (format!("pss:{}", x.check), Mode::Enforce)),
                );
                deny.push(format!(
                    "violates PodSecurity \"{p}\": {}",
                    format_violations(&v)
                ));
            }
            if let Some(p) = &policies.warn
                && let Some(v) = eval(p)
                && !v.is_empty()
            {
                out.violations
                    .extend(v.iter().map(|x| (format!("pss:{}", x.check), Mode::Warn)));
                out.warnings.push(format!(
                    "would violate PodSecurity \"{p}\": {}",
                    format_violations(&v)
                ));
            }
            if let Some(p) = &policies.audit
                && let Some(v) = eval(p)
                && !v.is_empty()
            {
                out.violations
                    .extend(v.iter().map(|x| (format!("pss:{}", x.check), Mode::Audit)));
                out.audit_annotations.insert(
                    "pod-security.kubernetes.io/audit-violations".to_string(),
                    format!(
                        "would violate PodSecurity \"{p}\": {}",
                        format_violations(&v)
                    ),
                );
            }
        }

        // the secrets the detectors find in the object: masked wherever a message quotes them
        let mut secrets: Vec<String> = Vec::new();
        let has_policies = self.policies.is_some() || self.kyverno.is_some();
        if checks_relevant {
            let mut audited: Vec<String> = Vec::new();
            let actions = &self.config.checks;
            let wanted = |slug: &str, sev| actions.mode_for(slug, sev) != Mode::Off;
            if has_policies {
                // a policy's message may quote a secret that no enabled check looks for
                for f in self
                    .catalog
                    .check_object_where(object, |slug, sev| !wanted(slug, sev))
                {
                    secrets.extend(f.redact);
                }
            }
            for f in self.catalog.check_object_where(object, wanted) {
                secrets.extend(f.redact.iter().cloned());
                let mode = self.config.checks.mode_for(&f.check, f.severity);
                match mode {
                    Mode::Off => continue,
                    Mode::Enforce => {
                        deny.push(format!("{} ({}): {}", f.check, f.severity, f.message))
                    }
                    Mode::Warn => out
                        .warnings
                        .push(format!("{} ({}): {}", f.check, f.severity, f.message)),
                    Mode::Audit => audited.push(f.check.clone()),
                }
                out.violations.push((f.check, mode));
            }
            if !audited.is_empty() {
                out.audit_annotations.insert(
                    "rampart.dev/audit-violations".to_string(),
                    audited.join(","),
                );
            }
        }

        if let (Some(set), Some(raw)) = (&self.policies, req.raw) {
            self.apply_policies(set, raw, &mut deny, &mut out);
        }
        if let Some(set) = &self.kyverno {
            self.apply_kyverno(set, req, object, &mut deny, &mut out);
        }

        if !secrets.is_empty() {
            let masker = rampart_report::SecretMasker::new(&secrets);
            for text in deny.iter_mut().chain(out.warnings.iter_mut()) {
                if let std::borrow::Cow::Owned(masked) = masker.text(text) {
                    *text = masked;
                }
            }
        }
        if !deny.is_empty() {
            out.decision = Decision::Denied;
            out.message = deny.join("; ");
        } else if !out.warnings.is_empty() {
            out.decision = Decision::Warned;
        }
        out
    }

    fn apply_policies(
        &self,
        set: &rampart_policy::PolicySet,
        raw: &Value,
        deny: &mut Vec<String>,
        out: &mut Outcome,
    ) {
        use rampart_policy::Mode as P;
        let eval = match set.evaluate_request(raw, &[]) {
            Ok(e) => e,
            Err(e) => {
                // a request the policy layer cannot read is not a reason to block the API
                tracing::warn!(error = %e, "policies could not read the request");
                return;
            }
        };
        let mut audited = Vec::new();
        for v in eval.violations {
            let text = format!("[{}] {}", v.policy, v.message);
            let mode = match v.mode {
                P::Deny => {
                    deny.push(text);
                    Mode::Enforce
                }
                P::Warn => {
                    out.warnings.push(text);
                    Mode::Warn
                }
                P::Audit | P::DryRun => {
                    audited.push(v.policy.clone());
                    Mode::Audit
                }
            };
            out.violations.push((format!("policy:{}", v.policy), mode));
        }
        for e in eval.errors {
            // failurePolicy: Fail denies, Ignore admits with a warning
            let text = format!("[{}] policy error: {}", e.policy, e.message);
            if e.fail_closed {
                deny.push(text);
            } else {
                out.warnings.push(text);
            }
        }
        if !audited.is_empty() {
            out.audit_annotations.insert(
                "rampart.dev/policy-audit-violations".to_string(),
                audited.join(","),
            );
        }
        for (k, v) in eval.annotations {
            out.audit_annotations.insert(k, v);
        }
    }

    /// What Kyverno's variables see of the request: operation, user, old object, the raw
    /// request and the namespace's labels.
    fn kyverno_info(&self, req: &Request<'_>) -> rampart_kyverno::AdmissionInfo {
        let mut info = rampart_kyverno::AdmissionInfo {
            operation: match req.operation {
                Operation::Create => "CREATE",
                Operation::Update => "UPDATE",
                Operation::Delete => "DELETE",
                Operation::Connect => "CONNECT",
            }
            .to_string(),
            // the whole userInfo (groups, uid, extra), as Kyverno reads it for
            // `request.userInfo` and `subjects`
            user_info: req
                .raw
                .and_then(|r| r.get("userInfo"))
                .filter(|u| u.is_object())
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"username": req.username.unwrap_or("")})),
            old_object: req.old_object.cloned(),
            request: req.raw.cloned(),
            ..rampart_kyverno::AdmissionInfo::default()
        };
        if let Some(ns) = req.namespace
            && let Some(labels) = self.namespaces.labels(ns)
        {
            info.namespace_labels.insert(ns.to_string(), labels);
        }
        // the requester's roles, when a rule selects by them
        if let Some(set) = &self.kyverno
            && let Err(e) = set.resolve_requester_roles(&mut info, req.namespace.unwrap_or(""))
        {
            tracing::warn!(error = %e, "could not read the requester's roles and cluster roles");
        }
        info
    }

    /// The JSONPatch operations Kyverno's mutate rules (and `verifyImages` `mutateDigest`) make
    /// to `object`: each policy's rules apply in order to what the policies before it patched,
    /// as Kyverno applies them; empty without Kyverno policies or when nothing changes.
    pub(crate) fn kyverno_patches(&self, req: &Request<'_>, object: &Value) -> Vec<Value> {
        let Some(set) = &self.kyverno else {
            return Vec::new();
        };
        let mut info = self.kyverno_info(req);
        set.fill_info(&mut info);
        let mut current = object.clone();
        for p in &set.policies {
            // DeletingPolicies do not act at admission; ImageValidatingPolicies only pin
            // digests here (their verification is the validating stage's)
            if p.is_deleting()
                || p.is_admission_native()
                || !p.runs_at_admission()
                || !p.webhook_admits(&current, &info)
            {
                continue;
            }
            let patched = if p.is_image_validating() {
                p.pin_image_digests(&current, &info)
            } else {
                p.evaluate(&current, &info)
                    .into_iter()
                    .rev()
                    .filter(|r| r.status == rampart_kyverno::Status::Pass)
                    .find_map(|r| r.patched)
            };
            if let Some(patched) = patched {
                current = patched;
            }
        }
        if current == *object {
            return Vec::new();
        }
        match serde_json::to_value(json_patch::diff(object, &current)) {
            Ok(Value::Array(ops)) => ops,
            _ => Vec::new(),
        }
    }

    fn apply_kyverno(
        &self,
        set: &rampart_kyverno::PolicySet,
        req: &Request<'_>,
        object: &Object,
        deny: &mut Vec<String>,
        out: &mut Outcome,
    ) {
        use rampart_kyverno::Status;
        let info = self.kyverno_info(req);
        let mut audited = Vec::new();
        for r in set.evaluate_admission(&object.value, &info) {
            let text = format!("[{}/{}] {}", r.policy, r.rule, r.message);
            let mode = match (r.status, r.enforce) {
                (Status::Fail, true) => {
                    deny.push(text);
                    Mode::Enforce
                }
                (Status::Fail | Status::Warn, _) => {
                    out.warnings.push(text);
                    audited.push(r.policy.clone());
                    Mode::Warn
                }
                // an error denies as the policy's failurePolicy says (Fail unless Ignore)
                (Status::Error, true) if !r.failure_ignored => {
                    deny.push(format!(
                        "[{}/{}] policy error: {}",
                        r.policy, r.rule, r.message
                    ));
                    Mode::Enforce
                }
                (Status::Error, _) => {
                    out.warnings.push(format!(
                        "[{}/{}] policy error: {}",
                        r.policy, r.rule, r.message
                    ));
                    Mode::Warn
                }
                (Status::Pass | Status::Skip, _) => continue,
            };
            out.violations
                .push((format!("kyverno:{}/{}", r.policy, r.rule), mode));
        }
        if !audited.is_empty() {
            out.audit_annotations.insert(
                "rampart.dev/kyverno-audit-violations".to_string(),
                audited.join(","),
            );
        }
    }

    /// Whether image policies are configured.
    pub(crate) fn has_image_policies(&self) -> bool {
        !self.config.images.is_empty()
    }

    /// The `images:` policies' findings for a request the server judges: creates and updates
    /// of objects with a pod spec (pods' `ephemeralcontainers` subresource included), not
    /// exempt. `mutate`: the `/mutate` call (digest pins; `requireDigest` left to `/validate`).
    pub(crate) async fn check_images(
        &self,
        req: &Request<'_>,
        mutate: bool,
        metrics: &crate::metrics::Metrics,
    ) -> crate::images::ImageFindings {
        let judged = matches!(req.operation, Operation::Create | Operation::Update)
            && req.sub_resource.is_none_or(|s| {
                s.is_empty() || (req.resource == "pods" && s == "ephemeralcontainers")
            });
        let Some(object) = req.object.filter(|_| judged && self.has_image_policies()) else {
            return crate::images::ImageFindings::default();
        };
        if self.exempt(req) {
            return crate::images::ImageFindings::default();
        }
        crate::images::check(
            &self.config.images,
            crate::images::Lookups {
                cache: &self.image_cache,
                metrics,
                secrets: self.pull_secrets.as_deref(),
            },
            req.namespace,
            &object.value,
            req.old_object,
            mutate,
        )
        .await
    }

    /// Whether /mutate should patch this request.
    pub(crate) fn should_mutate(&self, req: &Request<'_>) -> bool {
        req.operation == Operation::Create
            && req.sub_resource.is_none_or(str::is_empty)
            && req.object.is_some()
            && !self.exempt(req)
    }
}

fn is_core_kind(obj: &Value, kind: &str) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some(kind)
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// An update is significant for the check catalog unless only `metadata` and `status` changed.
fn significant_update(new: &Value, old: &Value) -> bool {
    let (Some(n), Some(o)) = (new.as_object(), old.as_object()) else {
        return new != old;
    };
    let skip = |k: &String| k != "metadata" && k != "status";
    let nk: Vec<_> = n.iter().filter(|(k, _)| skip(k)).collect();
    let ok: Vec<_> = o.iter().filter(|(k, _)| skip(k)).collect();
    nk.len() != ok.len() || nk.iter().any(|(k, v)| o.get(*k) != Some(*v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_only_update_is_not_significant() {
        let a = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"1"}},"spec":{"containers":[{"name":"c","image":"x"}]}});
        let mut b = a.clone();
        b["metadata"]["labels"]["a"] = json!("2");
        assert!(!rampart_pss::significant_update(&b, &a, true));
        assert!(!significant_update(&b, &a));
        b["spec"]["containers"][0]["image"] = json!("y");
        assert!(rampart_pss::significant_update(&b, &a, true));
    }

    #[test]
    fn workload_template_change_is_significant() {
        let a = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}});
        let mut b = a.clone();
        b["spec"]["replicas"] = json!(3);
        assert!(!rampart_pss::significant_update(&b, &a, false));
        assert!(significant_update(&b, &a));
        b["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
        assert!(rampart_pss::significant_update(&b, &a, false));
    }
}
