//! Which workloads the internet reaches: LoadBalancer and NodePort Services, Ingress and Gateway
//! API route backends, `hostNetwork` and `hostPort`.

use rampart_core::{Field, Location};
use rampart_manifest::Object;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A Service of the input.
pub(crate) struct Svc {
    pub object: usize,
    pub selector: BTreeMap<String, String>,
    pub exposed: bool,
}

/// How traffic from outside enters, before NetworkPolicies are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Door {
    /// Straight from outside (LoadBalancer, NodePort).
    Outside,
    /// Through the ingress controller or a gateway.
    Proxy,
}

/// One way in to the workloads a Service selects.
pub(crate) struct ServiceDoor {
    pub namespace: String,
    pub service: String,
    pub door: Door,
    pub why: String,
    pub location: Location,
}

fn ns_of(o: &Object, default_ns: &str) -> String {
    o.namespace()
        .filter(|n| !n.is_empty())
        .unwrap_or(default_ns)
        .to_string()
}

pub(crate) fn services(objects: &[Object], default_ns: &str) -> HashMap<(String, String), Svc> {
    let mut out = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        if o.api_version() != "v1" || o.kind() != "Service" {
            continue;
        }
        let selector: BTreeMap<String, String> = o
            .value
            .pointer("/spec/selector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let ty = o
            .value
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        out.insert(
            (ns_of(o, default_ns), o.name().to_string()),
            Svc {
                object: i,
                selector,
                exposed: matches!(ty, "LoadBalancer" | "NodePort"),
            },
        );
    }
    out
}

/// The Services exposed to the outside, directly or as an Ingress or route backend.
pub(crate) fn doors(
    objects: &[Object],
    services: &HashMap<(String, String), Svc>,
    default_ns: &str,
) -> Vec<ServiceDoor> {
    let mut out = Vec::new();
    for ((ns, name), s) in services {
        if s.exposed
            && let Some(o) = objects.get(s.object)
        {
            let ty = o
                .value
                .pointer("/spec/type")
                .and_then(Value::as_str)
                .unwrap_or("");
            out.push(ServiceDoor {
                namespace: ns.clone(),
                service: name.clone(),
                door: Door::Outside,
                why: format!("Service {ns}/{name} of type {ty}"),
                location: o.location("/spec/type"),
            });
        }
    }
    for o in objects {
        let ns = ns_of(o, default_ns);
        let group = o.group();
        let mut backends: Vec<(String, String, String)> = Vec::new();
        match o.kind() {
            "Ingress" if group == "networking.k8s.io" || group == "extensions" => {
                let mut push = |b: Option<&Value>, ptr: String| {
                    let Some(b) = b else { return };
                    let name = b
                        .pointer("/service/name")
                        .or_else(|| b.field("serviceName"))
                        .and_then(Value::as_str);
                    if let Some(n) = name {
                        backends.push((ns.clone(), n.to_string(), ptr));
                    }
                };
                push(
                    o.value.pointer("/spec/defaultBackend"),
                    "/spec/defaultBackend".to_string(),
                );
                push(
                    o.value.pointer("/spec/backend"),
                    "/spec/backend".to_string(),
                );
                for (ri, r) in o
                    .value
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    for (pi, p) in r
                        .pointer("/http/paths")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        push(
                            p.field("backend"),
                            format!("/spec/rules/{ri}/http/paths/{pi}/backend"),
                        );
                    }
                }
            }
            "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "TCPRoute" | "UDPRoute"
                if group == "gateway.networking.k8s.io" =>
            {
                for (ri, r) in o
                    .value
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    for (bi, b) in r
                        .field("backendRefs")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        let g = b.field("group").and_then(Value::as_str).unwrap_or("");
                        let k = b.field("kind").and_then(Value::as_str).unwrap_or("Service");
                        if !g.is_empty() || k != "Service" {
                            continue;
                        }
                        let Some(name) = b.field("name").and_then(Value::as_str) else {
                            continue;
                        };
                        let bns = b.field("namespace").and_then(Value::as_str).unwrap_or(&ns);
                        backends.push((
                            bns.to_string(),
                            name.to_string(),
                            format!("/spec/rules/{ri}/backendRefs/{bi}"),
                        ));
                    }
                }
            }
            _ => continue,
        }
        for (bns, name, ptr) in backends {
            if services.contains_key(&(bns.clone(), name.clone())) {
                out.push(ServiceDoor {
                    why: format!(
                        "{} {ns}/{} routes to Service {bns}/{name}",
                        o.kind(),
                        o.name()
                    ),
                    namespace: bns,
                    service: name,
                    door: Door::Proxy,
                    location: o.location(&ptr),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.location.file, a.location.line, a.location.column).cmp(&(
            &b.location.file,
            b.location.line,
            b.location.column,
        ))
    });
    out
}

/// `hostNetwork` or a `hostPort`: the pod listens on the node's addresses.
pub(crate) fn host_door(spec: &rampart_manifest::PodSpecRef<'_>) -> Option<(String, String)> {
    if spec.flag("hostNetwork") {
        return Some((
            "hostNetwork: listens on the node's addresses".to_string(),
            format!("{}/hostNetwork", spec.pointer),
        ));
    }
    for c in spec.containers() {
        for (pi, p) in c
            .value
            .field("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(hp) = p.field("hostPort").and_then(Value::as_u64)
                && hp > 0
            {
                return Some((
                    format!("container {} listens on hostPort {hp}", c.name),
                    c.ptr(&format!("ports/{pi}/hostPort")),
                ));
            }
        }
    }
    None
}
