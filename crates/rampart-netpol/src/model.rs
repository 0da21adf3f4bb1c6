//! The cluster as the analyzer sees it: namespaces, workloads (one representative pod each) and
//! parsed NetworkPolicies.

use crate::conn::{ConnSet, Protocol};
use crate::ip::IpSet;
use crate::selector::{Labels, Selector, labels_of, scalar};
use ipnet::IpNet;
use rampart_core::{Field, InputError};
use rampart_manifest::Object;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The label Kubernetes sets on every namespace.
pub(crate) const NS_NAME_LABEL: &str = "kubernetes.io/metadata.name";

const TEMPLATE_KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
];

/// A container port, as named ports resolve against it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// One workload: a pod owner (or a bare pod) and its representative pod.
#[derive(Debug, Clone)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub labels: Labels,
    pub(crate) ports: Vec<ContainerPort>,
    /// Index of the object it came from.
    pub(crate) object: usize,
    pub(crate) labels_pointer: String,
}

impl Workload {
    /// `ns/name[Kind]`, the netpol-analyzer peer name.
    pub fn peer_name(&self) -> String {
        format!("{}/{}[{}]", self.namespace, self.name, self.kind)
    }
}

/// A port clause of a rule.
#[derive(Debug, Clone)]
pub(crate) enum PortSpec {
    Range(Protocol, u16, u16),
    Named(Protocol, String),
    Protocol(Protocol),
}

/// One peer clause of a rule (`from`/`to` item).
#[derive(Debug, Clone)]
pub(crate) enum PeerSpec {
    /// Pods: `pod` None = all pods; `ns` None = the policy's namespace.
    Pods {
        pod: Option<Selector>,
        ns: Option<Selector>,
    },
    /// An ipBlock, by index into `Cluster::ip_sets`.
    Ip(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// None: the rule names no peers and so matches all of them.
    pub peers: Option<Vec<PeerSpec>>,
    /// None: all ports.
    pub ports: Option<Vec<PortSpec>>,
    /// JSON pointer of the rule inside the policy.
    pub pointer: String,
    /// Connections of the numeric and protocol-only port clauses.
    pub fixed: ConnSet,
    pub has_named: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub namespace: String,
    pub name: String,
    pub object: usize,
    pub selector: Selector,
    /// None when the policy does not affect ingress.
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
}

impl Policy {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// An ipBlock as written, with where it is.
#[derive(Debug, Clone)]
pub(crate) struct IpBlockRef {
    pub set: IpSet,
    pub ingress: bool,
    pub policy: usize,
}

/// How an Ingress or Route names a port of its Service.
#[derive(Debug, Clone)]
pub(crate) enum PortRef {
    Any,
    Number(u16),
    Name(String),
}

impl PortRef {
    fn of(v: Option<&Value>) -> PortRef {
        match v {
            Some(Value::String(s)) => match s.parse::<u16>() {
                Ok(n) => PortRef::Number(n),
                Err(_) if s.is_empty() => PortRef::Any,
                Err(_) => PortRef::Name(s.clone()),
            },
            Some(v) => port_number(v).map(PortRef::Number).unwrap_or(PortRef::Any),
            None => PortRef::Any,
        }
    }
}

/// A port of a Service.
#[derive(Debug, Clone)]
pub(crate) struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    /// `targetPort`; the port itself when absent.
    pub target: PortRef,
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub namespace: String,
    pub name: String,
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
}

/// A Service an Ingress or a Route sends traffic to.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pub namespace: String,
    pub service: String,
    pub port: PortRef,
    /// A Route names the service's target port; an Ingress the service port.
    pub route: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Cluster {
    pub services: Vec<Service>,
    pub backends: Vec<Backend>,
    pub namespaces: BTreeMap<String, Labels>,
    /// Namespace objects by name (index into the objects).
    pub namespace_objects: HashMap<String, usize>,
    pub workloads: Vec<Workload>,
    pub policies: Vec<Policy>,
    pub ip_blocks: Vec<IpBlockRef>,
    pub errors: Vec<InputError>,
}

fn err(obj: &Object, pointer: &str, message: impl Into<String>) -> InputError {
    let loc = obj.location(pointer);
    InputError {
        file: loc.file.to_string(),
        line: loc.line,
        column: loc.column,
        message: message.into(),
    }
}

fn port_number(v: &Value) -> Option<u16> {
    v.as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n >= 1)
}

impl Cluster {
    pub fn build(objects: &[Object]) -> Cluster {
        let mut c = Cluster::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (idx, obj) in objects.iter().enumerate() {
            let kind = obj.kind();
            // a CRD that reuses a workload's kind name (a kubebuilder `CronJob`) runs no pods
            let workload_group = rampart_manifest::is_workload_group(obj.group());
            match kind {
                "Namespace" => {
                    let name = obj.name().to_string();
                    let mut labels =
                        labels_of(obj.value.field("metadata").and_then(|m| m.field("labels")));
                    labels.insert(NS_NAME_LABEL.into(), name.clone());
                    c.namespaces.insert(name.clone(), labels);
                    c.namespace_objects.insert(name, idx);
                }
                "NetworkPolicy"
                    if obj.group() == "networking.k8s.io" || obj.group() == "extensions" =>
                {
                    c.add_policy(idx, obj);
                }
                "Pod" if workload_group => {
                    if let Some(w) = pod_workload(idx, obj) {
                        c.add_workload(w, &mut seen);
                    }
                }
                "Service" if obj.group().is_empty() => {
                    if let Some(svc) = service(obj) {
                        c.services.push(svc);
                    }
                }
                "Ingress" if obj.group() == "networking.k8s.io" || obj.group() == "extensions" => {
                    c.backends.extend(ingress_backends(obj));
                }
                "Route" if obj.group() == "route.openshift.io" => {
                    c.backends.extend(route_backends(obj));
                }
                k if workload_group && (TEMPLATE_KINDS.contains(&k) || k == "CronJob") => {
                    if let Some(w) = template_workload(idx, obj) {
                        c.add_workload(w, &mut seen);
                    }
                }
                _ => {}
            }
        }
        for w in &c.workloads {
            if !c.namespaces.contains_key(&w.namespace) {
                let labels = Labels::from([(NS_NAME_LABEL.to_string(), w.namespace.clone())]);
                c.namespaces.insert(w.namespace.clone(), labels);
            }
        }
        c
    }

    fn add_workload(&mut self, w: Workload, seen: &mut HashMap<String, usize>) {
        let key = w.peer_name();
        if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(key) {
            e.insert(self.workloads.len());
            self.workloads.push(w);
        }
    }

    fn add_policy(&mut self, idx: usize, obj: &Object) {
        let namespace = obj.namespace().unwrap_or("default").to_string();
        let name = obj.name().to_string();
        let spec = obj.value.field("spec").cloned().unwrap_or(Value::Null);
        let policy_idx = self.policies.len();
        let selector = match spec.field("podSelector") {
            None | Some(Value::Null) => Selector::default(),
            Some(v) => match Selector::parse(v) {
                Ok(s) => s,
                Err((p, m)) => {
                    self.errors
                        .push(err(obj, &format!("/spec/podSelector{p}"), m));
                    return;
                }
            },
        };
        let types: Option<Vec<String>> =
            spec.field("policyTypes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                });
        if let Some(ts) = &types {
            for (i, t) in ts.iter().enumerate() {
                if t != "Ingress" && t != "Egress" {
                    self.errors.push(err(
                        obj,
                        &format!("/spec/policyTypes/{i}"),
                        format!("unknown policy type `{t}`, expected Ingress or Egress"),
                    ));
                }
            }
        }
        let has_egress_rules = spec
            .field("egress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let (affects_in, affects_eg) = match &types {
            Some(ts) => (
                ts.iter().any(|t| t == "Ingress"),
                ts.iter().any(|t| t == "Egress"),
            ),
            None => (true, has_egress_rules),
        };
        let mut bad = false;
        let mut parse_dir = |c: &mut Cluster, field: &str, ingress: bool| -> Vec<Rule> {
            let mut rules = Vec::new();
            let Some(list) = spec.get(field).filter(|v| !v.is_null()) else {
                return rules;
            };
            let Some(list) = list.as_array() else {
                c.errors.push(err(
                    obj,
                    &format!("/spec/{field}"),
                    format!("{field} must be a list of rules"),
                ));
                bad = true;
                return rules;
            };
            for (i, r) in list.iter().enumerate() {
                let pointer = format!("/spec/{field}/{i}");
                match c.parse_rule(obj, r, &pointer, ingress, policy_idx) {
                    Ok(rule) => rules.push(rule),
                    Err(e) => {
                        c.errors.push(e);
                        bad = true;
                    }
                }
            }
            rules
        };
        let ingress = parse_dir(self, "ingress", true);
        let egress = parse_dir(self, "egress", false);
        if bad {
            // A policy we cannot read fully is left out rather than half-applied.
            self.ip_blocks.retain(|b| b.policy != policy_idx);
            return;
        }
        self.policies.push(Policy {
            namespace,
            name,
            object: idx,
            selector,
            ingress: affects_in.then_some(ingress),
            egress: affects_eg.then_some(egress),
        });
    }

    fn parse_rule(
        &mut self,
        obj: &Object,
        r: &Value,
        pointer: &str,
        ingress: bool,
        policy: usize,
    ) -> Result<Rule, InputError> {
        let peer_field = if ingress { "from" } else { "to" };
        if !r.is_object() {
            return Err(err(obj, pointer, "a rule must be an object"));
        }
        let peers = match r.get(peer_field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) if a.is_empty() => None,
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for (j, p) in a.iter().enumerate() {
                    let pp = format!("{pointer}/{peer_field}/{j}");
                    out.push(self.parse_peer(obj, p, &pp, ingress, policy)?);
                }
                Some(out)
            }
            Some(_) => {
                return Err(err(
                    obj,
                    &format!("{pointer}/{peer_field}"),
                    format!("{peer_field} must be a list"),
                ));
            }
        };
        let mut fixed = ConnSet::none();
        let mut has_named = false;
        let ports = match r.field("ports") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) if a.is_empty() => None,
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for (j, p) in a.iter().enumerate() {
                    let pp = format!("{pointer}/ports/{j}");
                    let proto = match p.field("protocol") {
                        None | Some(Value::Null) => Protocol::Tcp,
                        Some(v) => v.as_str().and_then(Protocol::parse).ok_or_else(|| {
                            err(
                                obj,
                                &format!("{pp}/protocol"),
                                "unknown protocol, expected TCP, UDP or SCTP",
                            )
                        })?,
                    };
                    let spec = match p.field("port") {
                        None | Some(Value::Null) => PortSpec::Protocol(proto),
                        Some(Value::String(name)) => match name.parse::<u16>() {
                            Ok(n) if n >= 1 => PortSpec::Range(proto, n, n),
                            _ => PortSpec::Named(proto, name.clone()),
                        },
                        Some(v) => {
                            let start = port_number(v).ok_or_else(|| {
                                err(
                                    obj,
                                    &format!("{pp}/port"),
                                    "port must be 1-65535 or a port name",
                                )
                            })?;
                            let end = match p.field("endPort") {
                                None | Some(Value::Null) => start,
                                Some(e) => {
                                    port_number(e).filter(|e| *e >= start).ok_or_else(|| {
                                        err(
                                            obj,
                                            &format!("{pp}/endPort"),
                                            "endPort must be a port number not below port",
                                        )
                                    })?
                                }
                            };
                            PortSpec::Range(proto, start, end)
                        }
                    };
                    match &spec {
                        PortSpec::Range(pr, s, e) => fixed.add(*pr, *s, *e),
                        PortSpec::Protocol(pr) => fixed.add_protocol(*pr),
                        PortSpec::Named(..) => has_named = true,
                    }
                    out.push(spec);
                }
                Some(out)
            }
            Some(_) => {
                return Err(err(
                    obj,
                    &format!("{pointer}/ports"),
                    "ports must be a list",
                ));
            }
        };
        if ports.is_none() {
            fixed = ConnSet::all();
        }
        Ok(Rule {
            peers,
            ports,
            pointer: pointer.to_string(),
            fixed,
            has_named,
        })
    }

    fn parse_peer(
        &mut self,
        obj: &Object,
        p: &Value,
        pointer: &str,
        ingress: bool,
        policy: usize,
    ) -> Result<PeerSpec, InputError> {
        if let Some(ib) = p.field("ipBlock").filter(|v| !v.is_null()) {
            let cidr_s = ib.field("cidr").and_then(Value::as_str).unwrap_or("");
            let cidr: IpNet = cidr_s.parse().map_err(|_| {
                err(
                    obj,
                    &format!("{pointer}/ipBlock/cidr"),
                    format!("invalid CIDR `{cidr_s}`"),
                )
            })?;
            let mut except = Vec::new();
            if let Some(list) = ib.field("except").and_then(Value::as_array) {
                for (k, e) in list.iter().enumerate() {
                    let s = e.as_str().unwrap_or("");
                    except.push(s.parse::<IpNet>().map_err(|_| {
                        err(
                            obj,
                            &format!("{pointer}/ipBlock/except/{k}"),
                            format!("invalid CIDR `{s}`"),
                        )
                    })?);
                }
            }
            let id = self.ip_blocks.len();
            self.ip_blocks.push(IpBlockRef {
                set: IpSet::from_block(&cidr, &except),
                ingress,
                policy,
            });
            return Ok(PeerSpec::Ip(id));
        }
        let sel = |field: &str| -> Result<Option<Selector>, InputError> {
            match p.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => Selector::parse(v)
                    .map(Some)
                    .map_err(|(sp, m)| err(obj, &format!("{pointer}/{field}{sp}"), m)),
            }
        };
        let pod = sel("podSelector")?;
        let ns = sel("namespaceSelector")?;
        if pod.is_none() && ns.is_none() {
            return Err(err(
                obj,
                pointer,
                "a peer needs a podSelector, a namespaceSelector or an ipBlock",
            ));
        }
        Ok(PeerSpec::Pods { pod, ns })
    }
}

fn container_ports(spec: Option<&Value>) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    let containers = spec
        .and_then(|s| s.field("containers"))
        .and_then(Value::as_array);
    for c in containers.into_iter().flatten() {
        for p in c
            .field("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(port) = p.field("containerPort").and_then(port_number) else {
                continue;
            };
            let protocol = p
                .field("protocol")
                .and_then(Value::as_str)
                .and_then(Protocol::parse)
                .unwrap_or(Protocol::Tcp);
            let name = p.field("name").and_then(scalar).filter(|s| !s.is_empty());
            out.push(ContainerPort {
                name,
                port,
                protocol,
            });
        }
    }
    out
}

fn pod_workload(idx: usize, obj: &Object) -> Option<Workload> {
    let meta = obj.value.field("metadata");
    let namespace = obj.namespace().unwrap_or("default").to_string();
    let labels = labels_of(meta.and_then(|m| m.field("labels")));
    let owner = meta
        .and_then(|m| m.field("ownerReferences"))
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .find(|r| r.field("controller").and_then(Value::as_bool) == Some(true))
        })
        .filter(|r| r.field("kind").and_then(Value::as_str) != Some("Node"));
    let (name, kind) = match owner {
        Some(r) => {
            let n = r
                .field("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let k = r
                .field("kind")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .unwrap_or("Pod")
                .to_string();
            (n, k)
        }
        None => (obj.name().to_string(), "Pod".to_string()),
    };
    if name.is_empty() {
        return None;
    }
    Some(Workload {
        namespace,
        name,
        kind,
        labels,
        ports: container_ports(obj.value.field("spec")),
        object: idx,
        labels_pointer: "/metadata/labels".into(),
    })
}

fn template_workload(idx: usize, obj: &Object) -> Option<Workload> {
    let (tmpl, ptr) = if obj.kind() == "CronJob" {
        (
            obj.value.pointer("/spec/jobTemplate/spec/template")?,
            "/spec/jobTemplate/spec/template",
        )
    } else {
        (obj.value.pointer("/spec/template")?, "/spec/template")
    };
    let labels = labels_of(tmpl.field("metadata").and_then(|m| m.field("labels")));
    Some(Workload {
        namespace: obj.namespace().unwrap_or("default").to_string(),
        name: obj.name().to_string(),
        kind: obj.kind().to_string(),
        labels,
        ports: container_ports(tmpl.field("spec")),
        object: idx,
        labels_pointer: format!("{ptr}/metadata/labels"),
    })
}

fn service(obj: &Object) -> Option<Service> {
    let spec = obj.value.field("spec")?;
    // A Service without a selector has hand-made endpoints: nothing to analyze.
    let selector = labels_of(Some(spec.field("selector")?));
    let ports = spec
        .field("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let port = p.field("port").and_then(port_number)?;
            let target = match PortRef::of(p.field("targetPort")) {
                PortRef::Any => PortRef::Number(port),
                t => t,
            };
            Some(ServicePort {
                name: p.field("name").and_then(scalar),
                port,
                target,
            })
        })
        .collect();
    Some(Service {
        namespace: obj.namespace().unwrap_or("default").to_string(),
        name: obj.name().to_string(),
        selector,
        ports,
    })
}

fn ingress_backends(obj: &Object) -> Vec<Backend> {
    let namespace = obj.namespace().unwrap_or("default").to_string();
    let mut out = Vec::new();
    let mut add = |b: &Value| {
        // networking.k8s.io/v1: backend.service.{name, port.{name|number}};
        // extensions/v1beta1: backend.{serviceName, servicePort}.
        let (name, port) = match b.field("service") {
            Some(s) => {
                let port = s.field("port");
                let port = port
                    .and_then(|p| p.field("name"))
                    .filter(|n| n.as_str().is_some_and(|n| !n.is_empty()))
                    .or_else(|| port.and_then(|p| p.field("number")));
                (s.field("name").and_then(Value::as_str), PortRef::of(port))
            }
            None => (
                b.field("serviceName").and_then(Value::as_str),
                PortRef::of(b.field("servicePort")),
            ),
        };
        if let Some(n) = name {
            out.push(Backend {
                namespace: namespace.clone(),
                service: n.to_string(),
                port,
                route: false,
            });
        }
    };
    let spec = obj.value.field("spec");
    for key in ["defaultBackend", "backend"] {
        if let Some(b) = spec.and_then(|s| s.get(key)) {
            add(b);
        }
    }
    let rules = spec
        .and_then(|s| s.field("rules"))
        .and_then(Value::as_array);
    for r in rules.into_iter().flatten() {
        let paths = r.pointer("/http/paths").and_then(Value::as_array);
        for p in paths.into_iter().flatten() {
            if let Some(b) = p.field("backend") {
                add(b);
            }
        }
    }
    out
}

fn route_backends(obj: &Object) -> Vec<Backend> {
    let namespace = obj.namespace().unwrap_or("default").to_string();
    let spec = obj.value.field("spec");
    let port = PortRef::of(spec.and_then(|s| s.pointer("/port/targetPort")));
    let to = spec.and_then(|s| s.field("to")).into_iter();
    let alternates = spec
        .and_then(|s| s.field("alternateBackends"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    to.chain(alternates)
        .filter(|t| {
            t.field("kind")
                .and_then(Value::as_str)
                .is_none_or(|k| k.is_empty() || k == "Service")
        })
        .filter_map(|t| t.field("name").and_then(Value::as_str))
        .map(|n| Backend {
            namespace: namespace.clone(),
            service: n.to_string(),
            port: port.clone(),
            route: true,
        })
        .collect()
}
