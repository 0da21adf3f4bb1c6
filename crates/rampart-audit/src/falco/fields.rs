//! The `ka.*` and `jevt.*` fields of Falco's k8saudit and json plugins, extracted from one audit
//! event with the plugins' semantics: a value that is absent, of the wrong shape, or an empty list
//! is "not available" (`<NA>` in outputs, false for every operator but `not`).

use serde_json::Value;
use std::borrow::Cow;

/// What a field extracted from one event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Vals<'a> {
    /// Not available.
    Na,
    Str(Cow<'a, str>),
    List(Vec<Cow<'a, str>>),
    Num(u64),
}

impl Vals<'_> {
    /// Renders the value for an output: `<NA>`, the string, or `(a,b)` for a list.
    pub(crate) fn render(&self, out: &mut String) {
        match self {
            Vals::Na => out.push_str("<NA>"),
            Vals::Str(s) => out.push_str(s),
            Vals::Num(n) => out.push_str(&n.to_string()),
            Vals::List(l) => {
                out.push('(');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(v);
                }
                out.push(')');
            }
        }
    }
}

/// Which containers of a pod a `ka.req.pod.<list>.*` field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ctrs {
    Containers,
    Init,
    Ephemeral,
}

impl Ctrs {
    fn key(self) -> &'static str {
        match self {
            Ctrs::Containers => "containers",
            Ctrs::Init => "initContainers",
            Ctrs::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A per-container attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CtrAttr {
    Name,
    Image,
    Repository,
    Command,
    Args,
    /// A `securityContext` key, e.g. `privileged`.
    Sec(&'static str),
    /// The container's `securityContext` key, else the pod's, else `0`.
    EffSec(&'static str),
    AddCaps,
    HostPort,
}

/// One extractable field, resolved from its name and argument at compile time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum FieldKind {
    /// A scalar at a path of object keys, rendered as a string.
    Path(&'static [&'static str]),
    /// An array at a path, each item rendered as a string.
    ListPath(&'static [&'static str]),
    UriParam(String),
    TargetPodName,
    Ctr(Ctrs, CtrAttr, Option<usize>),
    FirstImage,
    FirstRepository,
    AnyPrivileged,
    /// `ka.req.pod.volumes.<key...>` over all volumes.
    Volumes(&'static [&'static str], Option<usize>),
    VolumeTypes(Option<usize>),
    VolumeHostpath(String),
    /// `ka.req.role.rules.<key>`: every rule's list, flattened.
    RuleList(&'static str, Option<usize>),
    ServicePorts(Option<usize>),
    /// Binding subjects of one kind (`User`, `Group`, `ServiceAccount`); `ns` prefixes namespaces.
    Subjects(&'static str, bool),
    Const(&'static str),
    NotAvailable,
    JevtTime,
    JevtTimeIso,
    JevtRawtime,
    JevtValue(String),
    JevtObj,
}

/// A field reference: what to extract and an optional transformer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Field {
    pub(crate) kind: FieldKind,
    pub(crate) lower: Option<bool>,
}

impl Field {
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self.kind, FieldKind::JevtRawtime)
    }

    /// Which part of the event body the field reads, for the audit-policy lint.
    pub(crate) fn needs_body(&self) -> Option<crate::policy::Level> {
        use crate::policy::Level;
        match &self.kind {
            FieldKind::Path(p) | FieldKind::ListPath(p) => match p.first() {
                Some(&"requestObject") => Some(Level::Request),
                Some(&"responseObject") => Some(Level::RequestResponse),
                _ => None,
            },
            FieldKind::JevtValue(ptr) => {
                if ptr.starts_with("/requestObject") {
                    Some(Level::Request)
                } else if ptr.starts_with("/responseObject") {
                    Some(Level::RequestResponse)
                } else {
                    None
                }
            }
            FieldKind::Ctr(..)
            | FieldKind::FirstImage
            | FieldKind::FirstRepository
            | FieldKind::AnyPrivileged
            | FieldKind::Volumes(..)
            | FieldKind::VolumeTypes(_)
            | FieldKind::VolumeHostpath(_)
            | FieldKind::RuleList(..)
            | FieldKind::ServicePorts(_)
            | FieldKind::Subjects(..) => Some(Level::Request),
            _ => None,
        }
    }

    /// Resolves `name[arg]`. The error says what is wrong.
    pub(crate) fn resolve(name: &str, arg: Option<&str>) -> Result<Field, String> {
        let kind = resolve_kind(name, arg)?;
        Ok(Field { kind, lower: None })
    }

    /// Extracts the field from `ev`. `time_ns` is the event time.
    pub(crate) fn extract<'a>(&self, ev: &'a Value, time_ns: u64) -> Vals<'a> {
        let v = extract_kind(&self.kind, ev, time_ns);
        match (self.lower, v) {
            (None, v) => v,
            (Some(lower), Vals::Str(s)) => Vals::Str(Cow::Owned(case(&s, lower))),
            (Some(lower), Vals::List(l)) => {
                Vals::List(l.into_iter().map(|s| Cow::Owned(case(&s, lower))).collect())
            }
            (Some(_), v) => v,
        }
    }
}

fn case(s: &str, lower: bool) -> String {
    if lower {
        s.to_lowercase()
    } else {
        s.to_uppercase()
    }
}

fn index_arg(name: &str, arg: Option<&str>) -> Result<Option<usize>, String> {
    match arg {
        None => Ok(None),
        Some(a) => a
            .trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| format!("field `{name}` takes a numeric index, got `{a}`")),
    }
}

fn no_arg(name: &str, arg: Option<&str>) -> Result<(), String> {
    match arg {
        None => Ok(()),
        Some(a) => Err(format!("field `{name}` takes no argument, got `[{a}]`")),
    }
}

fn key_arg(name: &str, arg: Option<&str>) -> Result<String, String> {
    match arg {
        Some(a) if !a.is_empty() => Ok(a.to_string()),
        _ => Err(format!(
            "field `{name}` requires an argument, e.g. `{name}[key]`"
        )),
    }
}

fn resolve_kind(name: &str, arg: Option<&str>) -> Result<FieldKind, String> {
    use FieldKind as K;
    // Per-container fields of the three container lists.
    for (prefix, ctrs) in [
        ("ka.req.pod.containers.", Ctrs::Containers),
        ("ka.req.pod.initContainers.", Ctrs::Init),
        ("ka.req.pod.ephemeralContainers.", Ctrs::Ephemeral),
    ] {
        if let Some(attr) = name.strip_prefix(prefix) {
            let a = match attr {
                "name" => CtrAttr::Name,
                "image" => CtrAttr::Image,
                "image.repository" => CtrAttr::Repository,
                "command" => CtrAttr::Command,
                "args" => CtrAttr::Args,
                "privileged" => CtrAttr::Sec("privileged"),
                "allow_privilege_escalation" => CtrAttr::Sec("allowPrivilegeEscalation"),
                "read_only_fs" => CtrAttr::Sec("readOnlyRootFilesystem"),
                "run_as_user" => CtrAttr::Sec("runAsUser"),
                "run_as_group" => CtrAttr::Sec("runAsGroup"),
                "proc_mount" => CtrAttr::Sec("procMount"),
                "eff_run_as_user" => CtrAttr::EffSec("runAsUser"),
                "eff_run_as_group" => CtrAttr::EffSec("runAsGroup"),
                "add_capabilities" => CtrAttr::AddCaps,
                "host_port" => CtrAttr::HostPort,
                _ => return Err(format!("unknown field `{name}`")),
            };
            return Ok(K::Ctr(ctrs, a, index_arg(name, arg)?));
        }
    }
    let path = |p: &'static [&'static str]| -> Result<FieldKind, String> {
        no_arg(name, arg)?;
        Ok(K::Path(p))
    };
    let list = |p: &'static [&'static str]| -> Result<FieldKind, String> {
        no_arg(name, arg)?;
        Ok(K::ListPath(p))
    };
    match name {
        "ka.auditid" => path(&["auditID"]),
        "ka.stage" => path(&["stage"]),
        "ka.auth.decision" => path(&["annotations", "authorization.k8s.io/decision"]),
        "ka.auth.reason" => path(&["annotations", "authorization.k8s.io/reason"]),
        "ka.auth.openshift.username" => {
            path(&["annotations", "authentication.openshift.io/username"])
        }
        "ka.validations.admission.policy.failure" => path(&[
            "annotations",
            "validation.policy.admission.k8s.io/validation_failure",
        ]),
        "ka.security.pod.violations" => {
            path(&["annotations", "pod-security.kubernetes.io/audit-violations"])
        }
        "ka.user.name" => path(&["user", "username"]),
        "ka.user.groups" => list(&["user", "groups"]),
        "ka.impuser.name" => path(&["impersonatedUser", "username"]),
        "ka.verb" => path(&["verb"]),
        "ka.uri" => path(&["requestURI"]),
        "ka.uri.param" => Ok(K::UriParam(key_arg(name, arg)?)),
        "ka.target.name" | "ka.req.configmap.name" => path(&["objectRef", "name"]),
        "ka.target.namespace" => path(&["objectRef", "namespace"]),
        "ka.target.resource" => path(&["objectRef", "resource"]),
        "ka.target.subresource" => path(&["objectRef", "subresource"]),
        "ka.target.pod.name" => {
            no_arg(name, arg)?;
            Ok(K::TargetPodName)
        }
        "ka.req.binding.subjects" => list(&["requestObject", "subjects"]),
        "ka.req.binding.subjects.user_names" => Ok(K::Subjects("User", false)),
        "ka.req.binding.subjects.group_names" => Ok(K::Subjects("Group", false)),
        "ka.req.binding.subjects.serviceaccount_names" => Ok(K::Subjects("ServiceAccount", false)),
        "ka.req.binding.subjects.serviceaccount_ns_names" => {
            Ok(K::Subjects("ServiceAccount", true))
        }
        "ka.req.binding.role" => path(&["requestObject", "roleRef", "name"]),
        "ka.req.binding.subject.has_name" => {
            key_arg(name, arg)?;
            Ok(K::Const("true"))
        }
        "ka.req.configmap.obj" => path(&["requestObject", "data"]),
        "ka.req.container.image" => {
            no_arg(name, arg)?;
            Ok(K::FirstImage)
        }
        "ka.req.container.image.repository" => {
            no_arg(name, arg)?;
            Ok(K::FirstRepository)
        }
        "ka.req.container.privileged" => {
            no_arg(name, arg)?;
            Ok(K::AnyPrivileged)
        }
        "ka.req.pod.host_ipc" => path(&["requestObject", "spec", "hostIPC"]),
        "ka.req.pod.host_network" | "ka.req.container.host_network" => {
            path(&["requestObject", "spec", "hostNetwork"])
        }
        "ka.req.pod.host_pid" => path(&["requestObject", "spec", "hostPID"]),
        "ka.req.pod.run_as_user" => {
            path(&["requestObject", "spec", "securityContext", "runAsUser"])
        }
        "ka.req.pod.run_as_group" => {
            path(&["requestObject", "spec", "securityContext", "runAsGroup"])
        }
        "ka.req.pod.fs_group" => path(&["requestObject", "spec", "securityContext", "fsGroup"]),
        "ka.req.pod.supplemental_groups" => list(&[
            "requestObject",
            "spec",
            "securityContext",
            "supplementalGroups",
        ]),
        "ka.req.role.rules" => list(&["requestObject", "rules"]),
        "ka.req.role.rules.apiGroups" => Ok(K::RuleList("apiGroups", index_arg(name, arg)?)),
        "ka.req.role.rules.nonResourceURLs" => {
            Ok(K::RuleList("nonResourceURLs", index_arg(name, arg)?))
        }
        "ka.req.role.rules.verbs" => Ok(K::RuleList("verbs", index_arg(name, arg)?)),
        "ka.req.role.rules.resources" => Ok(K::RuleList("resources", index_arg(name, arg)?)),
        "ka.req.service.type" => path(&["requestObject", "spec", "type"]),
        "ka.req.service.ports" => Ok(K::ServicePorts(index_arg(name, arg)?)),
        "ka.req.volume.hostpath" => Ok(K::VolumeHostpath(key_arg(name, arg)?)),
        "ka.req.pod.volumes.hostpath" => {
            Ok(K::Volumes(&["hostPath", "path"], index_arg(name, arg)?))
        }
        "ka.req.pod.volumes.flexvolume_driver" => {
            Ok(K::Volumes(&["flexVolume", "driver"], index_arg(name, arg)?))
        }
        "ka.req.pod.volumes.volume_type" => Ok(K::VolumeTypes(index_arg(name, arg)?)),
        "ka.resp.name" => path(&["responseObject", "metadata", "name"]),
        "ka.response.code" => path(&["responseStatus", "code"]),
        "ka.response.reason" => path(&["responseStatus", "reason"]),
        "ka.useragent" => path(&["userAgent"]),
        "ka.sourceips" => list(&["sourceIPs"]),
        "ka.cluster.name" => Ok(K::NotAvailable),
        "jevt.time" | "evt.time" => {
            no_arg(name, arg)?;
            Ok(K::JevtTime)
        }
        "jevt.time.iso8601" | "evt.time.iso8601" => {
            no_arg(name, arg)?;
            Ok(K::JevtTimeIso)
        }
        "jevt.rawtime" | "evt.rawtime" => {
            no_arg(name, arg)?;
            Ok(K::JevtRawtime)
        }
        "jevt.value" => {
            let p = key_arg(name, arg)?;
            if !p.starts_with('/') {
                return Err(format!(
                    "`jevt.value[{p}]`: the argument must be a JSON pointer starting with `/`"
                ));
            }
            Ok(K::JevtValue(p))
        }
        "jevt.obj" => {
            no_arg(name, arg)?;
            Ok(K::JevtObj)
        }
        _ => Err(format!("unknown field `{name}`")),
    }
}

/// A JSON value as the plugins render it: strings raw, anything else as compact JSON.
fn as_str(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    }
}

/// `o[key]`; small objects are scanned, which beats hashing the key.
pub(crate) fn key<'a>(o: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if o.len() <= 24 {
        o.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        o.get(key)
    }
}

fn get_path<'a>(ev: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = ev;
    for k in path {
        cur = key(cur.as_object()?, k)?;
    }
    Some(cur)
}

fn list_vals(v: Vec<Cow<'_, str>>) -> Vals<'_> {
    if v.is_empty() {
        Vals::Na
    } else {
        Vals::List(v)
    }
}

/// Walks `keys` from `v`; at every array, either every item (no index) or the indexed one. A
/// missing key under an array item yields `None` for that item; a missing key elsewhere fails.
fn values_rec<'a>(
    v: &'a Value,
    idx: Option<usize>,
    keys: &[&str],
    out: &mut Vec<Option<&'a Value>>,
) -> bool {
    let mut cur = v;
    for (i, k) in keys.iter().enumerate() {
        if let Value::Array(arr) = cur {
            match idx {
                None => {
                    let rest = keys.get(i..).unwrap_or(&[]);
                    for item in arr {
                        if !values_rec(item, idx, rest, out) {
                            out.push(None);
                        }
                    }
                    return true;
                }
                Some(n) => match arr.get(n) {
                    Some(item) => cur = item,
                    None => return false,
                },
            }
        }
        match cur.as_object().and_then(|o| key(o, k)) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    out.push(Some(cur));
    true
}

fn containers(ev: &Value, ctrs: Ctrs, idx: Option<usize>) -> Option<Vec<&Value>> {
    let arr = get_path(ev, &["requestObject", "spec", ctrs.key()])?.as_array()?;
    match idx {
        None => Some(arr.iter().collect()),
        Some(n) => arr.get(n).map(|c| vec![c]),
    }
}

fn repository(image: &str) -> &str {
    let a = image.split(':').next().unwrap_or(image);
    a.split('@').next().unwrap_or(a)
}

/// Pushes `v` as strings: arrays flattened, nulls skipped.
fn push_flat<'a>(v: &'a Value, out: &mut Vec<Cow<'a, str>>) {
    match v {
        Value::Null => {}
        Value::Array(a) => out.extend(a.iter().filter(|x| !x.is_null()).map(as_str)),
        other => out.push(as_str(other)),
    }
}

fn extract_ctr<'a>(ev: &'a Value, ctrs: Ctrs, attr: CtrAttr, idx: Option<usize>) -> Vals<'a> {
    let Some(list) = containers(ev, ctrs, idx) else {
        return Vals::Na;
    };
    let mut out: Vec<Cow<'a, str>> = Vec::with_capacity(list.len());
    for c in list {
        let sec = |k: &str| c.get("securityContext").and_then(|s| s.get(k));
        match attr {
            CtrAttr::Name => {
                if let Some(v) = c.get("name") {
                    out.push(as_str(v));
                }
            }
            // An image missing from any container makes the whole field unavailable, as in the plugin.
            CtrAttr::Image => match c.get("image") {
                Some(v) => out.push(as_str(v)),
                None => return Vals::Na,
            },
            CtrAttr::Repository => match c.get("image") {
                Some(v) => match as_str(v) {
                    Cow::Borrowed(s) => out.push(Cow::Borrowed(repository(s))),
                    Cow::Owned(s) => out.push(Cow::Owned(repository(&s).to_string())),
                },
                None => return Vals::Na,
            },
            CtrAttr::Command => {
                if let Some(v) = c.get("command") {
                    push_flat(v, &mut out);
                }
            }
            CtrAttr::Args => {
                if let Some(v) = c.get("args") {
                    push_flat(v, &mut out);
                }
            }
            CtrAttr::Sec(k) => {
                if let Some(v) = sec(k).filter(|v| !v.is_null()) {
                    out.push(as_str(v));
                }
            }
            CtrAttr::EffSec(k) => {
                let pod = get_path(ev, &["requestObject", "spec", "securityContext", k]);
                match sec(k).or(pod) {
                    Some(v) => out.push(as_str(v)),
                    None => out.push(Cow::Borrowed("0")),
                }
            }
            CtrAttr::AddCaps => {
                if let Some(v) = c
                    .get("securityContext")
                    .and_then(|s| s.get("capabilities"))
                    .and_then(|s| s.get("add"))
                {
                    push_flat(v, &mut out);
                }
            }
            CtrAttr::HostPort => {
                if let Some(ports) = c.get("ports").and_then(Value::as_array) {
                    for p in ports {
                        if let Some(v) = p.get("hostPort").or_else(|| p.get("containerPort")) {
                            out.push(as_str(v));
                        }
                    }
                }
            }
        }
    }
    list_vals(out)
}

fn extract_kind<'a>(kind: &FieldKind, ev: &'a Value, time_ns: u64) -> Vals<'a> {
    use FieldKind as K;
    match kind {
        K::Path(p) => get_path(ev, p).map_or(Vals::Na, |v| Vals::Str(as_str(v))),
        K::ListPath(p) => match get_path(ev, p) {
            Some(Value::Array(a)) => list_vals(a.iter().map(as_str).collect()),
            _ => Vals::Na,
        },
        K::UriParam(key) => {
            let Some(uri) = ev.get("requestURI").and_then(Value::as_str) else {
                return Vals::Na;
            };
            let Some((_, query)) = uri.split_once('?') else {
                return Vals::Na;
            };
            let query = query.split('#').next().unwrap_or(query);
            for pair in query.split(['&', ';']) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if percent_decode(k) == *key {
                    return Vals::Str(Cow::Owned(percent_decode(v)));
                }
            }
            Vals::Na
        }
        K::TargetPodName => {
            if get_path(ev, &["objectRef", "resource"]).and_then(Value::as_str) == Some("pods") {
                get_path(ev, &["objectRef", "name"]).map_or(Vals::Na, |v| Vals::Str(as_str(v)))
            } else {
                Vals::Na
            }
        }
        K::Ctr(ctrs, attr, idx) => extract_ctr(ev, *ctrs, *attr, *idx),
        K::FirstImage | K::FirstRepository => {
            let first = containers(ev, Ctrs::Containers, Some(0));
            match first
                .as_ref()
                .and_then(|l| l.first())
                .and_then(|c| c.get("image"))
            {
                Some(v) => {
                    let s = as_str(v);
                    if matches!(kind, K::FirstImage) {
                        Vals::Str(s)
                    } else {
                        match s {
                            Cow::Borrowed(s) => Vals::Str(Cow::Borrowed(repository(s))),
                            Cow::Owned(s) => Vals::Str(Cow::Owned(repository(&s).to_string())),
                        }
                    }
                }
                None => Vals::Na,
            }
        }
        K::AnyPrivileged => match containers(ev, Ctrs::Containers, None) {
            None => Vals::Na,
            Some(list) => {
                let any = list.iter().any(|c| {
                    c.get("securityContext")
                        .and_then(|s| s.get("privileged"))
                        .and_then(Value::as_bool)
                        == Some(true)
                });
                Vals::Str(Cow::Borrowed(if any { "true" } else { "false" }))
            }
        },
        K::Volumes(keys, idx) => {
            let Some(vols) = get_path(ev, &["requestObject", "spec", "volumes"]) else {
                return Vals::Na;
            };
            let mut raw = Vec::new();
            if !values_rec(vols, *idx, keys, &mut raw) {
                return Vals::Na;
            }
            list_vals(
                raw.into_iter()
                    .flatten()
                    .filter(|v| !v.is_null())
                    .map(as_str)
                    .collect(),
            )
        }
        K::VolumeTypes(idx) => {
            let Some(Value::Array(vols)) = get_path(ev, &["requestObject", "spec", "volumes"])
            else {
                return Vals::Na;
            };
            let mut out = Vec::new();
            let picked: Vec<&Value> = match idx {
                None => vols.iter().collect(),
                Some(n) => vols.get(*n).into_iter().collect(),
            };
            for v in picked {
                if let Some(o) = v.as_object() {
                    out.extend(
                        o.keys()
                            .filter(|k| k.as_str() != "name")
                            .map(|k| Cow::Borrowed(k.as_str())),
                    );
                }
            }
            list_vals(out)
        }
        K::VolumeHostpath(arg) => {
            let Some(Value::Array(vols)) = get_path(ev, &["requestObject", "spec", "volumes"])
            else {
                return Vals::Na;
            };
            let prefix = arg.strip_suffix('*');
            let hit = vols
                .iter()
                .filter_map(|v| get_path(v, &["hostPath", "path"]).and_then(Value::as_str))
                .any(|p| match prefix {
                    Some(pre) => p.starts_with(pre),
                    None => p == arg,
                });
            Vals::Str(Cow::Borrowed(if hit { "true" } else { "false" }))
        }
        K::RuleList(key, idx) => {
            let Some(rules) = get_path(ev, &["requestObject", "rules"]) else {
                return Vals::Na;
            };
            let mut raw = Vec::new();
            if !values_rec(rules, *idx, &[key], &mut raw) {
                return Vals::Na;
            }
            let mut out = Vec::new();
            for v in raw.into_iter().flatten() {
                if let Value::Array(a) = v {
                    out.extend(a.iter().filter(|x| !x.is_null()).map(as_str));
                }
            }
            list_vals(out)
        }
        K::ServicePorts(idx) => match get_path(ev, &["requestObject", "spec", "ports"]) {
            Some(Value::Array(a)) => match idx {
                None => list_vals(a.iter().filter(|x| !x.is_null()).map(as_str).collect()),
                Some(n) => list_vals(a.get(*n).into_iter().map(as_str).collect()),
            },
            _ => Vals::Na,
        },
        K::Subjects(kind, with_ns) => match get_path(ev, &["requestObject", "subjects"]) {
            Some(Value::Array(a)) => {
                let out = a
                    .iter()
                    .filter(|s| s.get("kind").and_then(Value::as_str) == Some(kind))
                    .filter_map(|s| {
                        let name = s.get("name").and_then(Value::as_str)?;
                        if *with_ns {
                            let ns = s.get("namespace").and_then(Value::as_str).unwrap_or("");
                            Some(Cow::Owned(format!("{ns}:{name}")))
                        } else {
                            Some(Cow::Borrowed(name))
                        }
                    })
                    .collect();
                list_vals(out)
            }
            _ => Vals::Na,
        },
        K::Const(s) => Vals::Str(Cow::Borrowed(s)),
        K::NotAvailable => Vals::Na,
        K::JevtTime | K::JevtTimeIso => Vals::Str(Cow::Owned(crate::time::format_ns(time_ns))),
        K::JevtRawtime => Vals::Num(time_ns),
        K::JevtValue(ptr) => ev.pointer(ptr).map_or(Vals::Na, |v| Vals::Str(as_str(v))),
        K::JevtObj => Vals::Str(Cow::Owned(ev.to_string())),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(h) = hex {
                    out.push(h);
                    i += 2;
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
