//! `rampart node`: the components running on this node (through `/proc`), the files their
//! flags name, and the ownership and permissions of the files the benchmark lists.

use crate::component::{Component, feature_gate_default};
use crate::items::{FileSpec, Item, Owner, Rule};
use crate::model::{Attached, Doc, Instance, KubeletConfig, KubeletFile};
use crate::{ConfigDoc, Options, Outcome, Verdict};
use rampart_core::{InputError, Location};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where and how to look.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The node's root filesystem (`/`, or `/host` in a Pod that mounts it).
    pub root: PathBuf,
    /// The process table (`/proc`), `None` to read no processes.
    pub proc: Option<PathBuf>,
    /// Only these process ids (tests).
    pub pids: Option<Vec<u32>>,
    pub options: Options,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            root: PathBuf::from("/"),
            proc: Some(PathBuf::from("/proc")),
            pids: None,
            options: Options::default(),
        }
    }
}

/// What a node scan found.
#[derive(Debug, Default)]
pub struct NodeReport {
    pub outcomes: Vec<Outcome>,
    pub errors: Vec<InputError>,
    /// `kube-apiserver (pid 42)`, `kube-scheduler in /etc/kubernetes/manifests/kube-scheduler.yaml`.
    pub sources: Vec<String>,
}

/// Scans a node.
pub fn scan(o: &NodeOptions) -> NodeReport {
    let mut errors = Vec::new();
    let mut instances = processes(o);
    for c in Component::ALL {
        if instances.iter().any(|i| i.component == c) {
            continue;
        }
        instances.extend(from_files(o, c, &mut errors));
    }
    let mut docs = Vec::new();
    for inst in &mut instances {
        attach(o, inst, &mut docs, &mut errors);
    }
    for p in [
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/super-admin.conf",
        "/etc/kubernetes/scheduler.conf",
        "/etc/kubernetes/controller-manager.conf",
    ]
    .into_iter()
    .map(String::from)
    .chain(
        instances
            .iter()
            .filter(|i| i.component == Component::Kubelet)
            .map(kubelet_kubeconfig),
    ) {
        if let Some(d) = read_doc(o, &p, &mut errors) {
            docs.push(ConfigDoc::Kubeconfig(d));
        }
    }
    let sources = instances.iter().map(|i| i.label.clone()).collect();
    let (mut outcomes, errs) = crate::evaluate(&instances, &docs, &o.options, true);
    errors.extend(errs);
    for item in crate::file_items() {
        for verdict in check_files(o, item, &instances) {
            outcomes.push(Outcome {
                item,
                verdict,
                object: None,
            });
        }
    }
    let order = |i: &Item| crate::items::ITEMS.iter().position(|x| x.slug == i.slug);
    outcomes.sort_by_key(|x| order(x.item).unwrap_or(usize::MAX));
    NodeReport {
        outcomes,
        errors,
        sources,
    }
}

fn under(root: &Path, p: &str) -> PathBuf {
    root.join(p.trim_start_matches('/'))
}

fn file_loc(path: &str) -> Location {
    Location {
        file: Arc::from(path),
        line: 0,
        column: 0,
        pointer: String::new(),
        template: None,
    }
}

/// The component processes in the process table.
fn processes(o: &NodeOptions) -> Vec<Instance> {
    let Some(proc) = &o.proc else {
        return Vec::new();
    };
    let pids: Vec<u32> = match &o.pids {
        Some(p) => p.clone(),
        None => std::fs::read_dir(proc)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut out = Vec::new();
    for pid in pids {
        let dir = proc.join(pid.to_string());
        let Ok(raw) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let mut args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        if args.last().is_some_and(String::is_empty) {
            args.pop();
        }
        let Some(program) = args.first() else {
            continue;
        };
        let Some(comp) = Component::from_program(program) else {
            continue;
        };
        let args: Vec<String> = args.into_iter().skip(1).collect();
        let file = format!("{}/cmdline", dir.display());
        let arg_locs = (0..args.len())
            .map(|i| Location {
                pointer: format!("/{}", i + 1),
                ..file_loc(&file)
            })
            .collect();
        let mut inst = Instance::new(
            comp,
            format!("{} (pid {pid})", comp.name()),
            args,
            arg_locs,
            file_loc(&file),
        );
        if comp == Component::Etcd && std::fs::read(dir.join("environ")).is_err() {
            // Another user's environment needs CAP_SYS_PTRACE: take etcd's ETCD_* settings
            // from its static Pod manifest instead.
            let mut ignored = Vec::new();
            for m in from_files(o, comp, &mut ignored) {
                inst.env.extend(m.env);
            }
        }
        if let Ok(env) = std::fs::read(dir.join("environ")) {
            let env_file = format!("{}/environ", dir.display());
            for kv in env.split(|b| *b == 0) {
                let kv = String::from_utf8_lossy(kv);
                if let Some((k, v)) = kv.split_once('=')
                    && (k.starts_with("ETCD_") || k == "KUBELET_CONFIG_DROPIN_DIR_ALPHA")
                {
                    inst.env
                        .push((k.to_string(), v.to_string(), file_loc(&env_file)));
                }
            }
        }
        out.push(inst);
    }
    out.sort_by_key(|i| i.component);
    out
}

/// A component that is not running, from its static Pod manifest (control plane) or the
/// default kubelet config file and kubeadm's flags file.
fn from_files(o: &NodeOptions, c: Component, errors: &mut Vec<InputError>) -> Vec<Instance> {
    if let Some(p) = c.manifest_path() {
        let path = under(&o.root, p);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Vec::new();
        };
        let loaded = rampart_manifest::load_str(p, &text);
        errors.extend(loaded.errors);
        let (instances, _) = crate::from_objects(&loaded.objects);
        return instances
            .into_iter()
            .filter(|i| i.component == c)
            .map(|mut i| {
                i.attached.clear();
                i
            })
            .collect();
    }
    let cfg = "/var/lib/kubelet/config.yaml";
    if c != Component::Kubelet || !under(&o.root, cfg).exists() {
        return Vec::new();
    }
    let flags_file = "/var/lib/kubelet/kubeadm-flags.env";
    let mut args = vec![format!("--config={cfg}")];
    if let Ok(text) = std::fs::read_to_string(under(&o.root, flags_file)) {
        for line in text.lines() {
            if let Some((_, v)) = line.split_once('=') {
                args.extend(
                    v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .map(String::from),
                );
            }
        }
    }
    let anchor = file_loc(flags_file);
    let locs = vec![anchor.clone(); args.len()];
    vec![Instance::new(
        c,
        format!("kubelet (from {cfg}, not running)"),
        args,
        locs,
        anchor,
    )]
}

fn read_doc(o: &NodeOptions, path: &str, errors: &mut Vec<InputError>) -> Option<Doc> {
    let text = std::fs::read_to_string(under(&o.root, path)).ok()?;
    let (docs, errs) = rampart_manifest::parse_yaml(path, &text);
    errors.extend(errs);
    let d = docs.into_iter().next()?;
    Some(Doc {
        value: d.value,
        pos: d.pos,
        file: Arc::from(path),
    })
}

/// Reads the files an instance's flags name.
fn attach(
    o: &NodeOptions,
    inst: &mut Instance,
    docs: &mut Vec<ConfigDoc>,
    errors: &mut Vec<InputError>,
) {
    {
        for &flag in crate::attached_flags(inst.component) {
            let Some(f) = inst.flags.get(flag) else {
                continue;
            };
            let path = f.value.clone();
            match read_doc(o, &path, errors) {
                Some(d) => {
                    if flag == "admission-control-config-file" {
                        docs.push(ConfigDoc::Admission(d.clone()));
                    }
                    inst.attached.insert(flag, Attached::Doc(Box::new(d)));
                }
                None => {
                    inst.attached.insert(
                        flag,
                        Attached::Unavailable(format!("{path} does not exist or cannot be read")),
                    );
                }
            }
        }
    }
    if inst.component != Component::Kubelet {
        return;
    }
    let config = inst.flags.get("config").map(|f| f.value.clone());
    let dir = inst.flags.get("config-dir").map(|f| f.value.clone());
    if config.is_none() && dir.is_none() {
        return;
    }
    let mut cfg: Option<KubeletConfig> = None;
    if let Some(path) = &config {
        match read_doc(o, path, errors) {
            Some(d) => cfg = Some(KubeletConfig::new(&d)),
            None => {
                errors.push(InputError {
                    file: path.clone(),
                    line: 0,
                    column: 0,
                    message: format!("{}: --config names a file that cannot be read", inst.label),
                });
                inst.kubelet =
                    KubeletFile::Unavailable(format!("{path} does not exist or cannot be read"));
                return;
            }
        }
    }
    if let Some(dir) = dir {
        let v = o.options.kube_version;
        let alpha = inst
            .env
            .iter()
            .any(|(k, _, _)| k == "KUBELET_CONFIG_DROPIN_DIR_ALPHA");
        let enabled = feature_gate_default("KubeletConfigDropInDir", v).unwrap_or(false)
            || (v.minor >= 28 && alpha);
        if enabled {
            let mut files: Vec<String> = std::fs::read_dir(under(&o.root, &dir))
                .map(|rd| {
                    rd.filter_map(|e| {
                        let e = e.ok()?;
                        let name = e.file_name().to_str()?.to_string();
                        name.ends_with(".conf").then_some(name)
                    })
                    .collect()
                })
                .unwrap_or_default();
            files.sort();
            for f in files {
                let p = format!("{}/{f}", dir.trim_end_matches('/'));
                if let Some(d) = read_doc(o, &p, errors) {
                    match &mut cfg {
                        Some(c) => c.merge(&d),
                        None => cfg = Some(KubeletConfig::new(&d)),
                    }
                }
            }
        }
    }
    if let Some(c) = cfg {
        inst.kubelet = KubeletFile::Loaded(Box::new(c));
    }
}

fn kubelet_kubeconfig(i: &Instance) -> String {
    i.flags
        .get("kubeconfig")
        .map(|f| f.value.clone())
        .unwrap_or_else(|| "/etc/kubernetes/kubelet.conf".into())
}

/// The paths a file item is about (as on the node), existing or not.
fn paths_of(o: &NodeOptions, spec: FileSpec, instances: &[Instance]) -> Vec<String> {
    let v = o.options.kube_version;
    let of = |c: Component| instances.iter().find(|i| i.component == c);
    let flag_or = |c: Component, flag: &str, default: &str| -> String {
        of(c)
            .and_then(|i| i.flags.get(flag).map(|f| f.value.clone()))
            .unwrap_or_else(|| default.to_string())
    };
    let list_dir = |dir: &str, recursive: bool, pred: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut out = Vec::new();
        walk(&o.root, dir, recursive, pred, &mut out);
        out.sort();
        out
    };
    match spec {
        FileSpec::Manifest(c) => c.manifest_path().map(String::from).into_iter().collect(),
        FileSpec::CniFiles => list_dir("/etc/cni/net.d", false, &|_| true),
        FileSpec::EtcdDataDir => vec![
            of(Component::Etcd)
                .map(|i| i.setting("data-dir", v))
                .and_then(|s| s.value.filter(|x| !x.contains("${")))
                .unwrap_or_else(|| "/var/lib/etcd".into()),
        ],
        FileSpec::AdminConf => vec![
            "/etc/kubernetes/admin.conf".into(),
            "/etc/kubernetes/super-admin.conf".into(),
        ],
        FileSpec::SchedulerConf => vec![flag_or(
            Component::Scheduler,
            "kubeconfig",
            "/etc/kubernetes/scheduler.conf",
        )],
        FileSpec::ControllerManagerConf => vec![flag_or(
            Component::ControllerManager,
            "kubeconfig",
            "/etc/kubernetes/controller-manager.conf",
        )],
        FileSpec::PkiDir => {
            let mut v = vec!["/etc/kubernetes/pki".to_string()];
            v.extend(list_dir("/etc/kubernetes/pki", true, &|_| true));
            v
        }
        FileSpec::PkiCerts => list_dir("/etc/kubernetes/pki", true, &|n| n.ends_with(".crt")),
        FileSpec::PkiKeys => list_dir("/etc/kubernetes/pki", true, &|n| n.ends_with(".key")),
        FileSpec::KubeletService => vec![
            "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf".into(),
            "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf".into(),
            "/etc/systemd/system/kubelet.service".into(),
            "/lib/systemd/system/kubelet.service".into(),
            "/usr/lib/systemd/system/kubelet.service".into(),
        ],
        FileSpec::ProxyKubeconfig => match of(Component::Proxy)
            .and_then(|i| i.setting("kubeconfig", v).value)
            .filter(|p| !p.is_empty())
        {
            Some(p) => vec![p],
            None => vec![
                "/var/lib/kube-proxy/kubeconfig.conf".into(),
                "/etc/kubernetes/proxy.conf".into(),
            ],
        },
        FileSpec::KubeletKubeconfig => vec![
            of(Component::Kubelet)
                .map(kubelet_kubeconfig)
                .unwrap_or_else(|| "/etc/kubernetes/kubelet.conf".into()),
        ],
        FileSpec::KubeletClientCa => of(Component::Kubelet)
            .and_then(|i| i.setting("client-ca-file", v).value)
            .filter(|s| !s.is_empty())
            .into_iter()
            .collect(),
        FileSpec::KubeletConfig => match of(Component::Kubelet) {
            Some(i) => {
                let mut v: Vec<String> = match &i.kubelet {
                    KubeletFile::Loaded(c) => c.files.iter().map(|f| f.to_string()).collect(),
                    _ => Vec::new(),
                };
                if v.is_empty() {
                    v.push(flag_or(
                        Component::Kubelet,
                        "config",
                        "/var/lib/kubelet/config.yaml",
                    ));
                }
                v
            }
            None => vec!["/var/lib/kubelet/config.yaml".into()],
        },
    }
}

fn walk(
    root: &Path,
    dir: &str,
    recursive: bool,
    pred: &dyn Fn(&str) -> bool,
    out: &mut Vec<String>,
) {
    let Ok(rd) = std::fs::read_dir(under(root, dir)) else {
        return;
    };
    for e in rd.flatten() {
        let Some(name) = e.file_name().to_str().map(String::from) else {
            continue;
        };
        let p = format!("{}/{name}", dir.trim_end_matches('/'));
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && recursive {
            if pred(&name) {
                out.push(p.clone());
            }
            walk(root, &p, recursive, pred, out);
        } else if !is_dir && pred(&name) {
            out.push(p);
        }
    }
}

fn lookup_id(root: &Path, file: &str, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(under(root, file)).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

fn check_files(o: &NodeOptions, item: &Item, instances: &[Instance]) -> Vec<Verdict> {
    let (spec, want) = match item.rule {
        Rule::Perm(s, m) => (s, Ok(m)),
        Rule::Owner(s, w) => (s, Err(w)),
        _ => return Vec::new(),
    };
    let paths = paths_of(o, spec, instances);
    let mut present = Vec::new();
    for p in &paths {
        if let Ok(m) = std::fs::metadata(under(&o.root, p)) {
            present.push((p.clone(), m));
        }
    }
    if present.is_empty() {
        return vec![Verdict::na(match paths.as_slice() {
            [] => match spec {
                FileSpec::CniFiles => "/etc/cni/net.d has no files on this node".to_string(),
                FileSpec::PkiCerts | FileSpec::PkiKeys => {
                    "/etc/kubernetes/pki has no such files on this node".to_string()
                }
                _ => "the kubelet names no client CA file on this node".to_string(),
            },
            [one] => format!("{one} does not exist on this node"),
            more => format!("none of {} exists on this node", more.join(", ")),
        })];
    }
    let mut out = Vec::new();
    for (p, m) in &present {
        match want {
            Ok(max) => {
                let mode = m.mode() & 0o7777;
                if mode & !max != 0 {
                    out.push(Verdict::fail(
                        format!("{p} has mode {mode:04o}, wider than {max:04o}"),
                        file_loc(p),
                    ));
                }
            }
            Err(owner) => {
                let (uid, gid) = match owner {
                    Owner::Root => (Some(0), Some(0)),
                    Owner::Etcd => (
                        lookup_id(&o.root, "/etc/passwd", "etcd"),
                        lookup_id(&o.root, "/etc/group", "etcd"),
                    ),
                };
                if Some(m.uid()) != uid || Some(m.gid()) != gid {
                    let missing = if uid.is_none() {
                        " (this node has no etcd user)"
                    } else {
                        ""
                    };
                    out.push(Verdict::fail(
                        format!(
                            "{p} is owned by {}:{}, not {}{missing}",
                            m.uid(),
                            m.gid(),
                            owner.as_str()
                        ),
                        file_loc(p),
                    ));
                }
            }
        }
    }
    if out.is_empty() {
        let names: Vec<&str> = present.iter().map(|(p, _)| p.as_str()).collect();
        let what = match want {
            Ok(max) => format!("mode {max:04o} or narrower"),
            Err(owner) => format!("owned by {}", owner.as_str()),
        };
        let shown = if names.len() > 3 {
            format!(
                "{} files under {}",
                names.len(),
                names.first().copied().unwrap_or("")
            )
        } else {
            names.join(", ")
        };
        out.push(Verdict::pass(format!("{shown}: {what}"), None));
    }
    out
}
