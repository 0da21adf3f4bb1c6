//! The CIS Kubernetes Benchmark's control plane, etcd and node items, judged the way the
//! components behave: flags parsed as Go's pflag (and etcd's `flag`) parse them, absent flags
//! replaced by each component's defaults for the Kubernetes version, the kubelet's
//! `KubeletConfiguration` file and `--config-dir` drop-ins merged under its flags.
//!
//! In a manifest scan, static Pod manifests of the API server, controller manager, scheduler
//! and etcd (and standalone `KubeletConfiguration`, `EncryptionConfiguration`,
//! `AdmissionConfiguration` and kubeconfig documents) are checked with [`check_objects`]; on a
//! node, [`node::scan`] reads the running processes and their files.
//!
//! ```
//! let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-scheduler\n  namespace: kube-system\nspec:\n  containers:\n  - name: kube-scheduler\n    command:\n    - kube-scheduler\n    - --profiling=false\n";
//! let loaded = rampart_manifest::load_str("kube-scheduler.yaml", yaml);
//! let (findings, errors) = rampart_cis::check_objects(&loaded.objects, &Default::default());
//! assert!(errors.is_empty());
//! // --bind-address is absent, and the scheduler's default is 0.0.0.0.
//! assert!(findings.iter().any(|f| f.check == "scheduler-bind-address"));
//! assert!(!findings.iter().any(|f| f.check == "scheduler-profiling"));
//! ```

pub mod component;
mod docs;
pub mod flags;
pub mod items;
pub mod model;
pub mod node;
mod verdict;

pub use component::{BadVersion, Component, KubeVersion, modelled, parse_supported};
pub use model::{Doc, Instance};
pub use verdict::{Status, Verdict};

use items::{DOC_ITEMS, Eval, ITEMS, Item, Rule};
use model::{Attached, KubeletConfig, KubeletFile};
use rampart_core::{CheckInfo, Finding, InputError, Location, Origin};
use rampart_manifest::Object;
use serde_json::Value;
use std::sync::Arc;

/// Settings of an evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The Kubernetes version whose defaults apply to absent settings.
    pub kube_version: KubeVersion,
}

/// Every slug this crate can report, with its documentation.
pub fn checks() -> Vec<CheckInfo> {
    let v = KubeVersion::default();
    ITEMS
        .iter()
        .chain(DOC_ITEMS)
        .map(|i| {
            let origin = match (i.component, i.cis.starts_with('4')) {
                (Some(Component::Kubelet | Component::Proxy), _) | (None, true) => Origin::Node,
                _ => Origin::ControlPlane,
            };
            let mut c =
                CheckInfo::new(i.slug, i.severity, origin, i.title).doc(items::doc_of(i, v));
            if !i.cis.is_empty() {
                c = c.cis([i.cis]);
            }
            c
        })
        .collect()
}

/// A standalone configuration document.
#[derive(Debug, Clone)]
pub enum ConfigDoc {
    Encryption(Doc),
    Admission(Doc),
    Kubeconfig(Doc),
}

/// One item's verdict on one subject.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub item: &'static Item,
    pub verdict: Verdict,
    pub object: Option<Arc<rampart_core::ObjectRef>>,
}

/// Evaluates every item on the instances and documents given. With `node`, items whose
/// component is absent are reported not applicable; otherwise they are left out.
pub fn evaluate(
    instances: &[Instance],
    docs: &[ConfigDoc],
    opts: &Options,
    node: bool,
) -> (Vec<Outcome>, Vec<InputError>) {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for inst in instances {
        errors.extend(inst.arg_errors());
    }
    for item in ITEMS {
        let Some(c) = item.component else { continue };
        let mut any = false;
        for inst in instances.iter().filter(|i| i.component == c) {
            any = true;
            let mut ev = Eval {
                version: opts.kube_version,
                errors: &mut errors,
                all: instances,
            };
            for verdict in items::evaluate(item, inst, &mut ev) {
                out.push(Outcome {
                    item,
                    verdict,
                    object: inst.object.clone(),
                });
            }
        }
        if !any && node {
            out.push(Outcome {
                item,
                verdict: Verdict::na(format!(
                    "{} is not running on this node (a managed control plane or a worker node)",
                    c.name()
                )),
                object: None,
            });
        }
    }
    let item = |slug: &str| items::find(slug);
    for d in docs {
        let verdicts: Vec<(&str, Verdict)> = match d {
            ConfigDoc::Encryption(d) => docs::encryption(d)
                .into_iter()
                .map(|v| ("apiserver-encryption-providers", v))
                .collect(),
            ConfigDoc::Admission(d) => docs::admission_pod_security(d)
                .into_iter()
                .map(|v| ("admission-pod-security-default-privileged", v))
                .collect(),
            ConfigDoc::Kubeconfig(d) => {
                let (c, t) = docs::kubeconfig(d);
                c.into_iter()
                    .map(|v| ("kubeconfig-static-credentials", v))
                    .chain(
                        t.into_iter()
                            .map(|v| ("kubeconfig-insecure-skip-tls-verify", v)),
                    )
                    .collect()
            }
        };
        for (slug, verdict) in verdicts {
            if let Some(item) = item(slug) {
                out.push(Outcome {
                    item,
                    verdict,
                    object: None,
                });
            }
        }
    }
    (out, errors)
}

/// Turns failed outcomes into findings.
pub fn findings(outcomes: &[Outcome]) -> Vec<Finding> {
    outcomes
        .iter()
        .filter(|o| o.verdict.status == Status::Fail)
        .map(|o| {
            let mut f = Finding::new(o.item.slug, o.item.severity, o.verdict.message.clone())
                .with_remediation(o.item.fix);
            if let Some(l) = &o.verdict.location {
                f = f.with_location(l.clone());
            }
            if let Some(obj) = &o.object {
                f = f.with_object(obj.clone());
            }
            if !o.item.cis.is_empty() {
                f.references = Arc::from([format!("CIS Kubernetes Benchmark {}", o.item.cis)]);
            }
            f
        })
        .collect()
}

/// Checks the static Pod manifests and configuration documents among `objects`.
pub fn check_objects(objects: &[Object], opts: &Options) -> (Vec<Finding>, Vec<InputError>) {
    let (instances, docs) = from_objects(objects);
    let (outcomes, errors) = evaluate(&instances, &docs, opts, false);
    (findings(&outcomes), errors)
}

/// The component instances and configuration documents among `objects`.
pub fn from_objects(objects: &[Object]) -> (Vec<Instance>, Vec<ConfigDoc>) {
    let mut instances = Vec::new();
    let mut docs = Vec::new();
    for o in objects {
        match (o.kind(), o.group()) {
            ("EncryptionConfiguration", "apiserver.config.k8s.io") => {
                docs.push(ConfigDoc::Encryption(Doc::from_object(o)));
            }
            ("AdmissionConfiguration", "apiserver.config.k8s.io" | "apiserver.k8s.io") => {
                docs.push(ConfigDoc::Admission(Doc::from_object(o)));
            }
            ("Config", "")
                if o.value.get("clusters").is_some() || o.value.get("users").is_some() =>
            {
                docs.push(ConfigDoc::Kubeconfig(Doc::from_object(o)));
            }
            ("KubeletConfiguration", "kubelet.config.k8s.io") => {
                instances.push(kubelet_config_instance(
                    o,
                    format!("KubeletConfiguration in {}", o.file),
                    o.object_ref(),
                ));
            }
            _ => instances.extend(static_pod_instances(o)),
        }
    }
    (instances, docs)
}

/// A kubelet known by its configuration alone, without its command line: a
/// `KubeletConfiguration` document, or the running configuration a node's
/// `/api/v1/nodes/<name>/proxy/configz` gives. `label` names it in messages; its findings are
/// reported on `object` (the document, or the Node). [`evaluate`] judges it.
pub fn kubelet_config_instance(
    config: &Object,
    label: String,
    object: Arc<rampart_core::ObjectRef>,
) -> Instance {
    let mut inst = Instance::new(
        Component::Kubelet,
        label,
        Vec::new(),
        Vec::new(),
        config.location(""),
    );
    inst.object = Some(object);
    inst.kubelet = KubeletFile::Loaded(Box::new(KubeletConfig::new(&Doc::from_object(config))));
    inst
}

/// The program a container runs and the arguments after it, with their pointers.
fn container_command(
    c: &rampart_manifest::ContainerRef<'_>,
) -> Option<(Component, Vec<(String, String)>)> {
    let list = |key: &str| -> Vec<(String, String)> {
        c.value
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (s, c.ptr(&format!("{key}/{i}")))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Most containers run something else: decide on the program before allocating.
    let first = |key: &str| {
        c.value
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
    };
    // Only args, and the image is a component's (its entrypoint is the binary): every arg
    // is a flag.
    if c.value.get("command").is_none()
        && first("args").is_some_and(|a| a.starts_with('-'))
        && let Some(comp) = c
            .value
            .get("image")
            .and_then(Value::as_str)
            .and_then(image_component)
    {
        return Some((comp, list("args")));
    }
    let program = first("command").or_else(|| first("args"))?;
    // a flag is not a program, even when its value is a path ending in a component's name
    // (`--kubelet-service=kube-system/kubelet`)
    if program.starts_with('-') {
        return None;
    }
    let base = program.rsplit('/').next().unwrap_or(program);
    if Component::from_program(base).is_none() && base != "hyperkube" {
        return None;
    }
    let mut all = list("command");
    all.extend(list("args"));
    let mut it = all.into_iter().peekable();
    let (first, _) = it.next()?;
    let mut comp = Component::from_program(&first);
    if comp.is_none() && first.rsplit('/').next() == Some("hyperkube") {
        let (sub, _) = it.next()?;
        let sub = if sub.starts_with("kube-") || sub == "kubelet" || sub == "etcd" {
            sub
        } else {
            format!("kube-{sub}")
        };
        comp = Component::from_program(&sub);
    }
    Some((comp?, it.collect()))
}

/// `registry.k8s.io/kube-apiserver:v1.34.0` → the API server.
fn image_component(image: &str) -> Option<Component> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let name = no_digest.rsplit('/').next().unwrap_or(no_digest);
    let repo = name.split(':').next().unwrap_or(name);
    let repo = repo
        .strip_suffix("-amd64")
        .or(repo.strip_suffix("-arm64"))
        .unwrap_or(repo);
    Component::from_program(repo)
}

fn static_pod_instances(o: &Object) -> Vec<Instance> {
    let Some(pod) = rampart_manifest::pod_spec(&o.value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in pod.containers() {
        let Some((comp, args)) = container_command(&c) else {
            continue;
        };
        let arg_locs: Vec<Location> = args.iter().map(|(_, p)| o.location(p)).collect();
        let args: Vec<String> = args.into_iter().map(|(a, _)| a).collect();
        let label = format!("{} in {} {}", comp.name(), o.kind(), o.name());
        let mut inst = Instance::new(comp, label, args, arg_locs, o.location(&c.pointer));
        inst.object = Some(o.object_ref());
        if let Some(env) = c.value.get("env").and_then(Value::as_array) {
            for (i, e) in env.iter().enumerate() {
                if let (Some(n), Some(v)) = (
                    e.get("name").and_then(Value::as_str),
                    e.get("value").and_then(Value::as_str),
                ) && n.starts_with("ETCD_")
                {
                    inst.env.push((
                        n.to_string(),
                        v.to_string(),
                        o.location(&c.ptr(&format!("env/{i}/value"))),
                    ));
                }
            }
        }
        if comp == Component::Kubelet
            && let Some(f) = inst.flags.get("config")
        {
            inst.kubelet = KubeletFile::Unavailable(format!(
                "{} is a file on the node, not in the scan's input; run `rampart node` there",
                f.value
            ));
        }
        for &flag in attached_flags(comp) {
            if let Some(f) = inst.flags.get(flag) {
                let reason = format!(
                    "{} is a file on the node, not in the scan's input; run `rampart node` there",
                    f.value
                );
                inst.attached.insert(flag, Attached::Unavailable(reason));
            }
        }
        // A manifest scan cannot read the node's files: only the audit policy's presence is judged.
        inst.attached.remove("audit-policy-file");
        out.push(inst);
    }
    out
}

/// Flags naming files the checks read, per component.
pub fn attached_flags(c: Component) -> &'static [&'static str] {
    match c {
        Component::ApiServer => &[
            "encryption-provider-config",
            "admission-control-config-file",
            "audit-policy-file",
            "authorization-config",
            "authentication-config",
        ],
        Component::Scheduler | Component::Proxy => &["config"],
        Component::Etcd => &["config-file"],
        Component::ControllerManager | Component::Kubelet => &[],
    }
}

/// Items whose rule is about node files.
pub fn file_items() -> impl Iterator<Item = &'static Item> {
    ITEMS
        .iter()
        .filter(|i| matches!(i.rule, Rule::Perm(..) | Rule::Owner(..)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_check_has_a_unique_slug_the_four_sections_and_its_default() {
        let all = checks();
        let mut slugs: Vec<&str> = all.iter().map(|c| c.slug.as_ref()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), all.len());
        for c in &all {
            for s in [
                "What it does",
                "Why is this bad?",
                "Remediation",
                "References",
            ] {
                assert!(c.section(s).is_some(), "{} lacks {s}", c.slug);
            }
        }
        let k = all
            .iter()
            .find(|c| c.slug == "kubelet-authorization-always-allow")
            .unwrap();
        let what = k.section("What it does").unwrap();
        assert!(
            what.contains("`/authorization/mode` defaults to `Webhook`"),
            "{what}"
        );
        assert!(
            what.contains("`--authorization-mode` defaults to `AlwaysAllow`"),
            "{what}"
        );
        let s = all
            .iter()
            .find(|c| c.slug == "scheduler-bind-address")
            .unwrap();
        assert!(s.section("What it does").unwrap().contains("`0.0.0.0`"));
        assert_eq!(s.cis, ["1.4.2"]);
        assert_eq!(all.iter().filter(|c| !c.cis.is_empty()).count(), 93);
    }
}
