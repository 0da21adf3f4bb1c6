//! Roles, bindings and the API server's RBAC authorizer over them.

use crate::bootstrap;
use crate::error::RbacError;
use rampart_core::{Field, Location};
use rampart_manifest::Object;
use rampart_manifest::string_list;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// One RBAC policy rule, as written in a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

/// A rule together with the role that wrote it.
#[derive(Debug, Clone)]
pub struct RuleAt {
    pub rule: PolicyRule,
    /// The role that defines the rule (for aggregated roles, the role it was aggregated from).
    pub role: usize,
    /// Index of the rule in that role's `rules`.
    pub index: usize,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    Role,
    ClusterRole,
}

impl RoleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Role => "Role",
            RoleKind::ClusterRole => "ClusterRole",
        }
    }
}

/// A label selector of an aggregation rule (a malformed one selects nothing).
#[derive(Debug, Clone, Default)]
pub struct Selector(Option<rampart_manifest::LabelSelector>);

impl Selector {
    /// A selector of exactly these labels (`matchLabels`).
    pub(crate) fn labels(pairs: impl IntoIterator<Item = (String, String)>) -> Selector {
        Selector(Some(rampart_manifest::LabelSelector {
            requirements: pairs
                .into_iter()
                .map(|(key, value)| rampart_manifest::selector::Requirement {
                    key,
                    operator: rampart_manifest::selector::Operator::In,
                    values: vec![value],
                })
                .collect(),
        }))
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.as_ref().is_some_and(|s| {
            s.matches(|k| {
                labels
                    .get(k)
                    .map(|v| std::borrow::Cow::Borrowed(v.as_str()))
            })
        })
    }
}

#[derive(Debug, Clone)]
pub struct Role {
    pub kind: RoleKind,
    /// Empty for ClusterRoles.
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub aggregation: Option<Vec<Selector>>,
    /// The rules written in the role itself (ids into [`Policy::rules`]).
    pub own_rules: Vec<usize>,
    /// The rules the authorizer sees: own rules, or the aggregated ones.
    pub rules: Vec<usize>,
    pub location: Option<Location>,
    pub bootstrap: bool,
}

impl Role {
    pub fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind.as_str(), self.name)
        } else {
            format!("{} {}/{}", self.kind.as_str(), self.namespace, self.name)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectKind {
    User,
    Group,
    ServiceAccount,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "User",
            SubjectKind::Group => "Group",
            SubjectKind::ServiceAccount => "ServiceAccount",
        }
    }
}

/// A binding subject; a ServiceAccount's namespace is already defaulted to the binding's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    pub kind: SubjectKind,
    pub name: String,
    pub namespace: String,
}

impl Subject {
    pub fn user_name(&self) -> String {
        match self.kind {
            SubjectKind::ServiceAccount => {
                format!("system:serviceaccount:{}:{}", self.namespace, self.name)
            }
            _ => self.name.clone(),
        }
    }

    pub fn describe(&self) -> String {
        match self.kind {
            SubjectKind::ServiceAccount => {
                format!("ServiceAccount {}/{}", self.namespace, self.name)
            }
            k => format!("{} {}", k.as_str(), self.name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BoundSubject {
    pub subject: Subject,
    /// Whether the subject is usable: a ServiceAccount subject of a ClusterRoleBinding needs a namespace.
    pub valid: bool,
    pub location: Option<Location>,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub kind: RoleKindBinding,
    pub namespace: String,
    pub name: String,
    pub role_ref_kind: String,
    pub role_ref_name: String,
    /// The resolved role; `None` when it is missing (the binding grants nothing).
    pub role: Option<usize>,
    pub subjects: Vec<BoundSubject>,
    pub location: Option<Location>,
    pub bootstrap: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKindBinding {
    RoleBinding,
    ClusterRoleBinding,
}

impl Binding {
    pub fn describe(&self) -> String {
        match self.kind {
            RoleKindBinding::ClusterRoleBinding => format!("ClusterRoleBinding {}", self.name),
            RoleKindBinding::RoleBinding => format!("RoleBinding {}/{}", self.namespace, self.name),
        }
    }

    pub fn role_ref(&self) -> String {
        if self.role_ref_kind == "Role" {
            format!("Role {}/{}", self.namespace, self.role_ref_name)
        } else {
            format!("{} {}", self.role_ref_kind, self.role_ref_name)
        }
    }
}

/// Who is asking: a user name and its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The identity the API server authenticates for `name` plus `groups`: every user but
    /// `system:anonymous` is in `system:authenticated`; a ServiceAccount user
    /// (`system:serviceaccount:NS:NAME`) is also in `system:serviceaccounts` and
    /// `system:serviceaccounts:NS`.
    pub fn new(name: &str, groups: &[String]) -> UserInfo {
        let mut all: Vec<String> = groups.to_vec();
        let mut add = |g: String| {
            if !all.contains(&g) {
                all.push(g);
            }
        };
        if let Some((ns, _)) = split_sa_user(name) {
            add("system:serviceaccounts".to_string());
            add(format!("system:serviceaccounts:{ns}"));
        }
        if name == "system:anonymous" {
            add("system:unauthenticated".to_string());
        } else {
            add("system:authenticated".to_string());
        }
        UserInfo {
            name: name.to_string(),
            groups: all,
        }
    }
}

/// `system:serviceaccount:NS:NAME` → (NS, NAME).
pub fn split_sa_user(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("system:serviceaccount:")?;
    let (ns, n) = rest.split_once(':')?;
    if ns.is_empty() || n.is_empty() || n.contains(':') {
        return None;
    }
    Some((ns, n))
}

/// What is being asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Resource {
        group: String,
        resource: String,
        subresource: String,
        name: String,
    },
    NonResource {
        path: String,
    },
}

/// An authorization question: a verb on a target in a namespace (`""` for cluster scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub verb: String,
    pub namespace: String,
    pub target: Target,
}

impl Request {
    pub fn resource(
        verb: &str,
        namespace: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        name: &str,
    ) -> Request {
        Request {
            verb: verb.to_string(),
            namespace: namespace.to_string(),
            target: Target::Resource {
                group: group.to_string(),
                resource: resource.to_string(),
                subresource: subresource.to_string(),
                name: name.to_string(),
            },
        }
    }

    pub fn non_resource(verb: &str, path: &str) -> Request {
        Request {
            verb: verb.to_string(),
            namespace: String::new(),
            target: Target::NonResource {
                path: path.to_string(),
            },
        }
    }
}

fn any_or(list: &[String], want: &str) -> bool {
    list.iter().any(|v| v == "*" || v == want)
}

/// `RuleAllows` of the API server's RBAC authorizer.
pub fn rule_allows(rule: &PolicyRule, req: &Request) -> bool {
    if !any_or(&rule.verbs, &req.verb) {
        return false;
    }
    match &req.target {
        Target::NonResource { path } => rule.non_resource_urls.iter().any(|u| {
            u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
        }),
        Target::Resource {
            group,
            resource,
            subresource,
            name,
        } => {
            any_or(&rule.api_groups, group)
                && resource_matches(rule, resource, subresource)
                && (rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name))
        }
    }
}

fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        if r == "*" {
            return true;
        }
        if subresource.is_empty() {
            return r == resource;
        }
        // `resource/subresource`, or `*/subresource`
        if let Some((rr, rs)) = r.split_once('/') {
            rs == subresource && (rr == resource || rr == "*")
        } else {
            false
        }
    })
}

/// Settings for building a [`Policy`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Add the API server's bootstrap ClusterRoles and ClusterRoleBindings.
    pub bootstrap: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { bootstrap: true }
    }
}

/// One grant found by the authorizer: which binding, subject and rule allowed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub binding: usize,
    pub subject: usize,
    pub rule: usize,
}

/// The RBAC objects of the input, indexed for the authorizer.
#[derive(Debug, Default)]
pub struct Policy {
    pub rules: Vec<RuleAt>,
    pub roles: Vec<Role>,
    pub bindings: Vec<Binding>,
    cluster_roles: HashMap<String, usize>,
    ns_roles: HashMap<(String, String), usize>,
    cluster_bindings: Vec<usize>,
    ns_bindings: HashMap<String, Vec<usize>>,
    /// Bad input and bindings to missing roles.
    pub problems: Vec<RbacError>,
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn invalid(obj: &Object, ptr: &str, message: String) -> RbacError {
    let l = obj.location(ptr);
    RbacError::Invalid {
        file: l.file.to_string(),
        line: l.line,
        column: l.column,
        message,
    }
}

fn check_list(obj: &Object, value: &Value, ptr: &str, field: &str, problems: &mut Vec<RbacError>) {
    if let Some(v) = value.get(field) {
        match v {
            Value::Null => {}
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    if !x.is_string() {
                        problems.push(invalid(
                            obj,
                            &format!("{ptr}/{field}/{i}"),
                            format!("{field}[{i}] must be a string, found {x}"),
                        ));
                    }
                }
            }
            other => problems.push(invalid(
                obj,
                &format!("{ptr}/{field}"),
                format!("{field} must be a list of strings, found {other}"),
            )),
        }
    }
}

impl Policy {
    /// Build the policy from loaded objects (Roles, ClusterRoles, RoleBindings, ClusterRoleBindings;
    /// other kinds are ignored) and, unless turned off, the bootstrap policy.
    pub fn from_objects(objects: &[Object], options: Options) -> Policy {
        let mut p = Policy::default();
        if options.bootstrap {
            bootstrap::add_to(&mut p);
        }
        let mut bindings: Vec<(&Object, RoleKindBinding)> = Vec::new();
        for obj in objects {
            if obj.group() != "rbac.authorization.k8s.io" {
                continue;
            }
            match obj.kind() {
                "Role" => p.add_role_object(obj, RoleKind::Role),
                "ClusterRole" => p.add_role_object(obj, RoleKind::ClusterRole),
                "RoleBinding" => bindings.push((obj, RoleKindBinding::RoleBinding)),
                "ClusterRoleBinding" => bindings.push((obj, RoleKindBinding::ClusterRoleBinding)),
                _ => {}
            }
        }
        for (obj, kind) in bindings {
            p.add_binding_object(obj, kind);
        }
        p.aggregate();
        p.resolve_bindings();
        p
    }

    pub(crate) fn push_role(
        &mut self,
        mut role: Role,
        rules: Vec<(PolicyRule, Option<Location>)>,
    ) -> usize {
        let id = self.roles.len();
        for (index, (rule, location)) in rules.into_iter().enumerate() {
            role.own_rules.push(self.rules.len());
            self.rules.push(RuleAt {
                rule,
                role: id,
                index,
                location,
            });
        }
        role.rules = role.own_rules.clone();
        // Input objects override bootstrap roles of the same name (the API server would reconcile
        // them, but the input is what the user asked about).
        let key_taken = match role.kind {
            RoleKind::ClusterRole => self.cluster_roles.insert(role.name.clone(), id),
            RoleKind::Role => self
                .ns_roles
                .insert((role.namespace.clone(), role.name.clone()), id),
        };
        let _ = key_taken;
        self.roles.push(role);
        id
    }

    pub(crate) fn push_binding(&mut self, binding: Binding) {
        let id = self.bindings.len();
        match binding.kind {
            RoleKindBinding::ClusterRoleBinding => self.cluster_bindings.push(id),
            RoleKindBinding::RoleBinding => self
                .ns_bindings
                .entry(binding.namespace.clone())
                .or_default()
                .push(id),
        }
        self.bindings.push(binding);
    }

    fn add_role_object(&mut self, obj: &Object, kind: RoleKind) {
        let v = &obj.value;
        let namespace = match kind {
            RoleKind::Role => match obj.namespace() {
                Some(ns) if !ns.is_empty() => ns.to_string(),
                _ => "default".to_string(),
            },
            RoleKind::ClusterRole => String::new(),
        };
        let mut rules = Vec::new();
        match v.field("rules") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, r) in list.iter().enumerate() {
                    let ptr = format!("/rules/{i}");
                    if !r.is_object() {
                        self.problems.push(invalid(
                            obj,
                            &ptr,
                            format!("rules[{i}] must be a mapping"),
                        ));
                        continue;
                    }
                    for f in [
                        "verbs",
                        "apiGroups",
                        "resources",
                        "resourceNames",
                        "nonResourceURLs",
                    ] {
                        check_list(obj, r, &ptr, f, &mut self.problems);
                    }
                    let rule = PolicyRule {
                        verbs: string_list(r.field("verbs")),
                        api_groups: string_list(r.field("apiGroups")),
                        resources: string_list(r.field("resources")),
                        resource_names: string_list(r.field("resourceNames")),
                        non_resource_urls: string_list(r.field("nonResourceURLs")),
                    };
                    if rule.verbs.is_empty() {
                        self.problems.push(invalid(
                            obj,
                            &ptr,
                            format!("rules[{i}] has no verbs; it grants nothing"),
                        ));
                    }
                    rules.push((rule, Some(obj.location(&ptr))));
                }
            }
            Some(other) => self.problems.push(invalid(
                obj,
                "/rules",
                format!("rules must be a list, found {other}"),
            )),
        }
        let aggregation = match (kind, v.pointer("/aggregationRule/clusterRoleSelectors")) {
            (RoleKind::ClusterRole, Some(Value::Array(sels))) => Some(
                sels.iter()
                    .map(|s| Selector(rampart_manifest::LabelSelector::parse(s).ok()))
                    .collect(),
            ),
            _ => None,
        };
        let role = Role {
            kind,
            namespace,
            name: obj.name().to_string(),
            labels: obj
                .labels()
                .map(|m| string_map(Some(&Value::Object(m.clone()))))
                .unwrap_or_default(),
            aggregation,
            own_rules: Vec::new(),
            rules: Vec::new(),
            location: Some(obj.location("")),
            bootstrap: false,
        };
        self.push_role(role, rules);
    }

    fn add_binding_object(&mut self, obj: &Object, kind: RoleKindBinding) {
        let v = &obj.value;
        let namespace = match kind {
            RoleKindBinding::RoleBinding => match obj.namespace() {
                Some(ns) if !ns.is_empty() => ns.to_string(),
                _ => "default".to_string(),
            },
            RoleKindBinding::ClusterRoleBinding => String::new(),
        };
        let role_ref_kind = v
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let role_ref_name = v
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if v.field("roleRef").is_none() {
            self.problems
                .push(invalid(obj, "", "binding has no roleRef".to_string()));
        }
        let mut subjects = Vec::new();
        match v.field("subjects") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, s) in list.iter().enumerate() {
                    let ptr = format!("/subjects/{i}");
                    let k = s.field("kind").and_then(Value::as_str).unwrap_or_default();
                    let name = s
                        .field("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let sns = s
                        .field("namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let skind = match k {
                        "User" => SubjectKind::User,
                        "Group" => SubjectKind::Group,
                        "ServiceAccount" => SubjectKind::ServiceAccount,
                        other => {
                            self.problems.push(invalid(
                                obj,
                                &format!("{ptr}/kind"),
                                format!("unknown subject kind {other:?}, expected User, Group or ServiceAccount"),
                            ));
                            continue;
                        }
                    };
                    let mut valid = true;
                    let ns = if skind == SubjectKind::ServiceAccount {
                        if sns.is_empty() {
                            if namespace.is_empty() {
                                valid = false;
                                self.problems.push(invalid(
                                    obj,
                                    &ptr,
                                    format!("ServiceAccount subject {name:?} of a ClusterRoleBinding has no namespace; it matches nobody"),
                                ));
                            }
                            namespace.clone()
                        } else {
                            sns.to_string()
                        }
                    } else {
                        String::new()
                    };
                    subjects.push(BoundSubject {
                        subject: Subject {
                            kind: skind,
                            name,
                            namespace: ns,
                        },
                        valid,
                        location: Some(obj.location(&ptr)),
                    });
                }
            }
            Some(other) => self.problems.push(invalid(
                obj,
                "/subjects",
                format!("subjects must be a list, found {other}"),
            )),
        }
        self.push_binding(Binding {
            kind,
            namespace,
            name: obj.name().to_string(),
            role_ref_kind,
            role_ref_name,
            role: None,
            subjects,
            location: Some(obj.location("")),
            bootstrap: false,
        });
    }

    /// Resolve aggregated ClusterRoles to the union of the rules of the ClusterRoles their
    /// selectors match, transitively (the aggregation controller converges to this fixpoint).
    fn aggregate(&mut self) {
        let aggregated: Vec<usize> = (0..self.roles.len())
            .filter(|&i| {
                self.roles
                    .get(i)
                    .is_some_and(|r| r.aggregation.is_some() && self.is_current(i))
            })
            .collect();
        if aggregated.is_empty() {
            return;
        }
        // current ClusterRoles only
        let cluster: Vec<usize> = self.cluster_roles.values().copied().collect();
        let mut changed = true;
        let mut rounds = 0;
        while changed && rounds <= aggregated.len() + 1 {
            changed = false;
            rounds += 1;
            for &a in &aggregated {
                let Some(sels) = self.roles.get(a).and_then(|r| r.aggregation.clone()) else {
                    continue;
                };
                let mut members: Vec<usize> = cluster
                    .iter()
                    .copied()
                    .filter(|&c| {
                        c != a
                            && self
                                .roles
                                .get(c)
                                .is_some_and(|r| sels.iter().any(|s| s.matches(&r.labels)))
                    })
                    .collect();
                members.sort_by(|x, y| {
                    self.roles
                        .get(*x)
                        .map(|r| &r.name)
                        .cmp(&self.roles.get(*y).map(|r| &r.name))
                });
                let mut rules: Vec<usize> = Vec::new();
                for m in members {
                    if let Some(r) = self.roles.get(m) {
                        for &id in &r.rules {
                            if !rules.contains(&id) {
                                rules.push(id);
                            }
                        }
                    }
                }
                if let Some(r) = self.roles.get_mut(a)
                    && r.rules != rules
                {
                    r.rules = rules;
                    changed = true;
                }
            }
        }
    }

    fn is_current(&self, id: usize) -> bool {
        match self.roles.get(id) {
            Some(r) if r.kind == RoleKind::ClusterRole => {
                self.cluster_roles.get(&r.name) == Some(&id)
            }
            Some(r) => self.ns_roles.get(&(r.namespace.clone(), r.name.clone())) == Some(&id),
            None => false,
        }
    }

    fn resolve_bindings(&mut self) {
        for b in &mut self.bindings {
            b.role = match (b.kind, b.role_ref_kind.as_str()) {
                (_, "ClusterRole") => self.cluster_roles.get(&b.role_ref_name).copied(),
                (RoleKindBinding::RoleBinding, "Role") => self
                    .ns_roles
                    .get(&(b.namespace.clone(), b.role_ref_name.clone()))
                    .copied(),
                _ => None,
            };
            // the API server and its controllers create `system:` ClusterRoles (the controller
            // roles among them) that a manifest set does not hold
            let system_role =
                b.role_ref_kind == "ClusterRole" && b.role_ref_name.starts_with("system:");
            if b.role.is_none() && !b.bootstrap && !system_role {
                let l = b.location.clone().unwrap_or_default();
                let msg = match (b.kind, b.role_ref_kind.as_str()) {
                    (RoleKindBinding::ClusterRoleBinding, "Role") => {
                        "a ClusterRoleBinding cannot refer to a Role".to_string()
                    }
                    (_, "Role" | "ClusterRole") => "does not exist".to_string(),
                    (_, k) => format!("has unsupported kind {k:?}, expected Role or ClusterRole"),
                };
                self.problems.push(RbacError::MissingRole {
                    file: l.file.to_string(),
                    line: l.line,
                    column: l.column,
                    binding: b.describe(),
                    role: b.role_ref(),
                    reason: msg,
                });
            }
        }
    }

    /// The bindings the authorizer visits for a request in `namespace`: every ClusterRoleBinding,
    /// then the RoleBindings of that namespace.
    pub fn bindings_for(&self, namespace: &str) -> impl Iterator<Item = usize> + '_ {
        let ns: &[usize] = if namespace.is_empty() {
            &[]
        } else {
            self.ns_bindings
                .get(namespace)
                .map(Vec::as_slice)
                .unwrap_or(&[])
        };
        self.cluster_bindings.iter().chain(ns.iter()).copied()
    }

    pub fn binding(&self, id: usize) -> Option<&Binding> {
        self.bindings.get(id)
    }

    pub fn role(&self, id: usize) -> Option<&Role> {
        self.roles.get(id)
    }

    pub fn rule(&self, id: usize) -> Option<&RuleAt> {
        self.rules.get(id)
    }

    pub fn cluster_role(&self, name: &str) -> Option<&Role> {
        self.cluster_roles
            .get(name)
            .and_then(|&i| self.roles.get(i))
    }

    /// The effective rules of a binding's role.
    pub fn binding_rules(&self, b: &Binding) -> &[usize] {
        b.role
            .and_then(|r| self.roles.get(r))
            .map(|r| r.rules.as_slice())
            .unwrap_or(&[])
    }

    /// The first rule of role `role` that allows `req`.
    pub fn role_allows(&self, role: &[usize], req: &Request) -> Option<usize> {
        role.iter().copied().find(|&id| {
            self.rules
                .get(id)
                .is_some_and(|r| rule_allows(&r.rule, req))
        })
    }

    /// Decide `req` for `user` exactly as the API server's RBAC authorizer does; the grant that
    /// allows it, if any.
    pub fn authorize(&self, user: &UserInfo, req: &Request) -> Option<Grant> {
        for bid in self.bindings_for(&req.namespace) {
            let Some(b) = self.bindings.get(bid) else {
                continue;
            };
            let Some(subject) = b.subjects.iter().position(|s| applies_to(s, user)) else {
                continue;
            };
            if let Some(rule) = self.role_allows(self.binding_rules(b), req) {
                return Some(Grant {
                    binding: bid,
                    subject,
                    rule,
                });
            }
        }
        None
    }

    /// Every subject granted `req`, with the grants.
    pub fn who_can(&self, req: &Request) -> Vec<(Subject, Vec<Grant>)> {
        let mut out: BTreeMap<Subject, Vec<Grant>> = BTreeMap::new();
        for bid in self.bindings_for(&req.namespace) {
            let Some(b) = self.bindings.get(bid) else {
                continue;
            };
            if b.subjects.iter().all(|s| !s.valid) {
                continue;
            }
            let Some(rule) = self.role_allows(self.binding_rules(b), req) else {
                continue;
            };
            for (si, s) in b.subjects.iter().enumerate() {
                if s.valid {
                    out.entry(s.subject.clone()).or_default().push(Grant {
                        binding: bid,
                        subject: si,
                        rule,
                    });
                }
            }
        }
        out.into_iter().collect()
    }

    /// "ClusterRoleBinding x → ClusterRole y (rule 2 at f.yaml:10:5)"
    pub fn describe_grant(&self, g: &Grant) -> String {
        let Some(b) = self.bindings.get(g.binding) else {
            return String::new();
        };
        let mut s = b.describe();
        if let Some(l) = &b.location {
            s.push_str(&format!(" ({}:{})", l.file, l.line));
        } else if b.bootstrap {
            s.push_str(" (bootstrap)");
        }
        s.push_str(" -> ");
        s.push_str(&b.role_ref());
        s.push_str(&self.describe_rule(g.rule));
        s
    }

    /// " rule N of ClusterRole x at file:line" (rules of aggregated roles name their origin).
    pub fn describe_rule(&self, rule: usize) -> String {
        let Some(r) = self.rules.get(rule) else {
            return String::new();
        };
        let role = self
            .roles
            .get(r.role)
            .map(Role::describe)
            .unwrap_or_default();
        match &r.location {
            Some(l) => format!(
                " [rule {} of {role} at {}:{}:{}]",
                r.index, l.file, l.line, l.column
            ),
            None => format!(" [rule {} of bootstrap {role}]", r.index),
        }
    }
}

fn applies_to(s: &BoundSubject, user: &UserInfo) -> bool {
    if !s.valid {
        return false;
    }
    match s.subject.kind {
        SubjectKind::User => s.subject.name == user.name,
        SubjectKind::Group => user.groups.contains(&s.subject.name),
        SubjectKind::ServiceAccount => split_sa_user(&user.name)
            .is_some_and(|(ns, n)| ns == s.subject.namespace && n == s.subject.name),
    }
}
