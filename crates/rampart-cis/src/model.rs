//! One running (or declared) component: its command line, environment and config files, and
//! the value every setting has once defaults, files and flags are applied in the component's order.

use crate::component::{self, Component, Fallback, KubeVersion};
use crate::flags::{self, Flags};
use rampart_core::{InputError, Location, ObjectRef};
use rampart_manifest::PosNode;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A parsed YAML or JSON document and where it came from.
#[derive(Debug, Clone)]
pub struct Doc {
    pub value: Value,
    pub pos: PosNode,
    pub file: Arc<str>,
}

impl Doc {
    pub fn loc(&self, pointer: &str) -> Location {
        let ((line, column), _) = self.pos.find_nearest(&self.value, pointer);
        Location {
            file: self.file.clone(),
            line,
            column,
            pointer: pointer.to_string(),
            template: None,
        }
    }

    pub fn from_object(o: &rampart_manifest::Object) -> Doc {
        Doc {
            value: o.value.clone(),
            pos: o.pos.clone(),
            file: o.file.clone(),
        }
    }
}

/// A file a flag names, as far as it could be read.
#[derive(Debug, Clone)]
pub enum Attached {
    /// Read and parsed (the first document).
    Doc(Box<Doc>),
    /// Not read, with the reason (absent, or not available to a manifest scan).
    Unavailable(String),
}

/// The kubelet's `KubeletConfiguration`: the `--config` file with its drop-ins merged, each
/// field remembering the file that set it.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    pub value: Value,
    locs: HashMap<String, Location>,
    /// The files read, in merge order.
    pub files: Vec<Arc<str>>,
}

impl KubeletConfig {
    pub fn new(base: &Doc) -> KubeletConfig {
        let mut c = KubeletConfig {
            value: Value::Object(Default::default()),
            locs: HashMap::new(),
            files: Vec::new(),
        };
        c.merge(base);
        c
    }

    /// Merges a drop-in over the configuration as the kubelet does: mappings field by field,
    /// lists and scalars replaced.
    pub fn merge(&mut self, doc: &Doc) {
        self.files.push(doc.file.clone());
        merge_into(&mut self.value, &doc.value, "", doc, &mut self.locs);
    }

    /// The value at `pointer` and the location of the file that set it.
    pub fn get(&self, pointer: &str) -> Option<(&Value, Location)> {
        let v = self.value.pointer(pointer)?;
        let mut p = pointer;
        loop {
            if let Some(l) = self.locs.get(p) {
                return Some((v, l.clone()));
            }
            p = p.rsplit_once('/').map(|(a, _)| a)?;
        }
    }
}

fn merge_into(
    dst: &mut Value,
    src: &Value,
    ptr: &str,
    doc: &Doc,
    locs: &mut HashMap<String, Location>,
) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                if ptr.is_empty() && (k == "apiVersion" || k == "kind") {
                    continue;
                }
                let p = format!("{ptr}/{}", rampart_manifest::escape_segment(k));
                if v.is_null() {
                    d.remove(k);
                    locs.retain(|key, _| key != &p && !key.starts_with(&format!("{p}/")));
                    continue;
                }
                locs.insert(p.clone(), doc.loc(&p));
                match d.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_into(existing, v, &p, doc, locs);
                    }
                    _ => {
                        locs.retain(|key, _| !key.starts_with(&format!("{p}/")));
                        d.insert(k.clone(), v.clone());
                        record(v, &p, doc, locs);
                    }
                }
            }
        }
        (d, s) => *d = s.clone(),
    }
}

fn record(v: &Value, ptr: &str, doc: &Doc, locs: &mut HashMap<String, Location>) {
    if let Value::Object(m) = v {
        for (k, c) in m {
            let p = format!("{ptr}/{}", rampart_manifest::escape_segment(k));
            locs.insert(p.clone(), doc.loc(&p));
            record(c, &p, doc, locs);
        }
    }
}

/// Where the kubelet's configuration file stands.
#[derive(Debug, Clone)]
pub enum KubeletFile {
    /// No `--config`: the flag defaults apply.
    None,
    Loaded(Box<KubeletConfig>),
    /// `--config` names a file that could not be read here; the reason.
    Unavailable(String),
}

/// One component instance: a process on a node, or a container in a static Pod manifest.
#[derive(Debug, Clone)]
pub struct Instance {
    pub component: Component,
    /// How it is named in output: `kube-apiserver (pid 42)`, `Pod kube-system/kube-apiserver`.
    pub label: String,
    pub object: Option<Arc<ObjectRef>>,
    pub args: Vec<String>,
    /// The location of each argument.
    pub arg_locs: Vec<Location>,
    /// Where a finding about an absent setting points (the container, or the process).
    pub anchor: Location,
    pub flags: Flags,
    /// `ETCD_*` settings from the environment, with their locations.
    pub env: Vec<(String, String, Location)>,
    pub kubelet: KubeletFile,
    /// Files named by flags (`encryption-provider-config`, `admission-control-config-file`, …).
    pub attached: HashMap<&'static str, Attached>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Flag,
    Env(String),
    Config,
    /// The component's default (the flag's, or the config file's when a config file is used).
    Default,
    /// Set in a config file this run cannot read.
    Unknown(String),
}

/// A setting's effective value.
#[derive(Debug, Clone)]
pub struct Setting {
    /// `None` when the setting is unset (no value and no default).
    pub value: Option<String>,
    pub source: Source,
    pub location: Location,
}

impl Setting {
    /// `--name=value`, `name: value in file`, or `default value` for messages.
    pub fn describe(&self, flag: &str) -> String {
        let v = self.value.as_deref().unwrap_or("");
        match &self.source {
            Source::Flag => format!("--{flag}={v}"),
            Source::Env(name) => format!("{name}={v}"),
            Source::Config => format!("{v:?} in {}", self.location.file),
            Source::Default if self.value.is_some() => {
                format!("--{flag} is absent and defaults to {v:?}")
            }
            Source::Default => format!("--{flag} is not set"),
            Source::Unknown(r) => r.clone(),
        }
    }

    pub fn is_set(&self) -> bool {
        self.value.as_deref().is_some_and(|v| !v.is_empty())
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(","),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", scalar(v)))
            .collect::<Vec<_>>()
            .join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Instance {
    pub fn new(
        component: Component,
        label: String,
        args: Vec<String>,
        arg_locs: Vec<Location>,
        anchor: Location,
    ) -> Instance {
        let flags = flags::parse(component, &args);
        Instance {
            component,
            label,
            object: None,
            args,
            arg_locs,
            anchor,
            flags,
            env: Vec::new(),
            kubelet: KubeletFile::None,
            attached: HashMap::new(),
        }
    }

    /// Positioned errors for command-line problems.
    pub fn arg_errors(&self) -> Vec<InputError> {
        self.flags
            .problems
            .iter()
            .map(|p| {
                let l = self.arg_locs.get(p.arg).unwrap_or(&self.anchor);
                input_error(l, format!("{}: {}", self.label, p.message))
            })
            .collect()
    }

    pub fn flag_location(&self, name: &str) -> Option<Location> {
        let f = self.flags.get(name)?;
        Some(
            self.arg_locs
                .get(f.arg)
                .cloned()
                .unwrap_or_else(|| self.anchor.clone()),
        )
    }

    /// The effective value of `--name`.
    pub fn setting(&self, name: &str, v: KubeVersion) -> Setting {
        if let Some(s) = self.config_file_setting(name) {
            return s;
        }
        if let Some(f) = self.flags.get(name) {
            return Setting {
                value: Some(f.value.clone()),
                source: Source::Flag,
                location: self
                    .flag_location(name)
                    .unwrap_or_else(|| self.anchor.clone()),
            };
        }
        if self.component == Component::Etcd {
            let env = format!("ETCD_{}", name.to_ascii_uppercase().replace('-', "_"));
            if let Some((_, val, loc)) = self.env.iter().rev().find(|(n, _, _)| *n == env) {
                return Setting {
                    value: Some(val.clone()),
                    source: Source::Env(env),
                    location: loc.clone(),
                };
            }
        }
        if self.component == Component::Kubelet
            && let Some(ks) = component::kubelet_setting(name)
        {
            match (&self.kubelet, ks.pointer) {
                (KubeletFile::Loaded(cfg), Some(p)) => {
                    if let Some((val, loc)) = cfg.get(p) {
                        return Setting {
                            value: Some(scalar(val)),
                            source: Source::Config,
                            location: loc,
                        };
                    }
                    return self.default_setting(ks.config_default);
                }
                (KubeletFile::Unavailable(reason), Some(_)) => {
                    return Setting {
                        value: None,
                        source: Source::Unknown(format!(
                            "{}: --{name} is not on the command line and may be set in the \
                             config file: {reason}",
                            self.label
                        )),
                        location: self.anchor.clone(),
                    };
                }
                _ => return self.default_setting(ks.flag_default),
            }
        }
        let d = component::flag_default(self.component, name, v).unwrap_or(Fallback::Unset);
        self.default_setting(d)
    }

    /// A setting that the component reads from its own config file rather than its flags:
    /// etcd with `--config-file` ignores its flags and environment; the scheduler with
    /// `--config` ignores its deprecated flags (`--profiling`).
    fn config_file_setting(&self, name: &str) -> Option<Setting> {
        let (flag, pointer, default) = match (self.component, name) {
            (Component::Scheduler, "profiling") => ("config", "/enableProfiling", Some("true")),
            // With --config, kube-proxy ignores its flags; an empty address means the default.
            (Component::Proxy, "metrics-bind-address") => {
                ("config", "/metricsBindAddress", Some("127.0.0.1:10249"))
            }
            (Component::Proxy, "kubeconfig") => ("config", "/clientConnection/kubeconfig", None),
            (Component::Etcd, _) => {
                let (section, key) = match name.strip_prefix("peer-") {
                    Some(k) => ("peer-transport-security", k),
                    None => ("client-transport-security", name),
                };
                let p = match key {
                    "cert-file" | "key-file" | "client-cert-auth" | "auto-tls"
                    | "trusted-ca-file" => format!("/{section}/{key}"),
                    _ if name == "data-dir" => "/data-dir".to_string(),
                    _ => return None,
                };
                let default = component::flag_default(self.component, name, KubeVersion::default())
                    .and_then(|d| match d {
                        Fallback::Value(v) => Some(v),
                        Fallback::Unset => None,
                    });
                return self.read_config_file("config-file", &p, default, name);
            }
            _ => return None,
        };
        self.read_config_file(flag, pointer, default, name)
    }

    fn read_config_file(
        &self,
        flag: &str,
        pointer: &str,
        default: Option<&str>,
        name: &str,
    ) -> Option<Setting> {
        let path = &self.flags.get(flag)?.value;
        Some(match self.attached.get(flag) {
            Some(Attached::Doc(d)) => match d.value.pointer(pointer).filter(|v| *v != "") {
                Some(v) => Setting {
                    value: Some(scalar(v)),
                    source: Source::Config,
                    location: d.loc(pointer),
                },
                None => Setting {
                    value: default.map(String::from),
                    source: Source::Default,
                    location: d.loc(""),
                },
            },
            Some(Attached::Unavailable(reason)) => Setting {
                value: None,
                source: Source::Unknown(format!(
                    "{}: with --{flag}, --{name} comes from the config file: {reason}",
                    self.label
                )),
                location: self.anchor.clone(),
            },
            None => Setting {
                value: None,
                source: Source::Unknown(format!(
                    "{}: with --{flag}, --{name} comes from {path}, which was not read",
                    self.label
                )),
                location: self.anchor.clone(),
            },
        })
    }

    fn default_setting(&self, d: Fallback) -> Setting {
        Setting {
            value: match d {
                Fallback::Value(v) => Some(v.to_string()),
                Fallback::Unset => None,
            },
            source: Source::Default,
            location: self.anchor.clone(),
        }
    }

    /// A feature gate's effective value: flag over config file over the version's default.
    pub fn feature_gate(&self, gate: &str, v: KubeVersion) -> (bool, Setting) {
        let s = self.setting("feature-gates", v);
        let mut on = component::feature_gate_default(gate, v).unwrap_or(false);
        let mut src = Setting {
            value: Some(on.to_string()),
            source: Source::Default,
            location: self.anchor.clone(),
        };
        // The kubelet applies the config file's gates, then the flag's on top.
        if let KubeletFile::Loaded(cfg) = &self.kubelet
            && let Some((val, loc)) = cfg.get(&format!("/featureGates/{gate}"))
        {
            on = val.as_bool().unwrap_or(on);
            src = Setting {
                value: Some(on.to_string()),
                source: Source::Config,
                location: loc,
            };
        }
        if s.source == Source::Flag {
            for (k, val) in flags::split_map(s.value.as_deref().unwrap_or("")) {
                if k == gate
                    && let Some(b) = flags::parse_bool(val)
                {
                    on = b;
                    src = Setting {
                        value: Some(format!("{gate}={val}")),
                        source: Source::Flag,
                        location: s.location.clone(),
                    };
                }
            }
        }
        (on, src)
    }
}

pub fn input_error(l: &Location, message: String) -> InputError {
    InputError {
        file: l.file.to_string(),
        line: l.line,
        column: l.column,
        message,
    }
}
