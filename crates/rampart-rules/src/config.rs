//! `.rampart.yaml`: which checks run, their severities, and the settings some checks take.

use rampart_core::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The configuration file name looked for upward from the working directory.
pub const CONFIG_FILE: &str = ".rampart.yaml";

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read configuration")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or has a key or value the configuration does not know.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    /// A check named in the configuration does not exist.
    #[error("{}unknown check `{check}` in configuration (see `rampart checks`)", at.as_ref().map(|a| format!("{}:{}:{}: ", a.file, a.line, a.column)).unwrap_or_default())]
    UnknownCheck {
        check: String,
        /// Where the configuration names it (absent for configuration built in code).
        at: Option<CheckRef>,
    },
}

/// Where a check's name appears in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRef {
    pub name: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub checks: ChecksConfig,
    #[serde(default)]
    pub settings: Settings,
    /// Report Pod Security Standards violations from `rampart scan` at this level.
    #[serde(default)]
    pub pss: Option<PssConfig>,
    /// Default for `--fail-on`.
    #[serde(default)]
    pub fail_on: Option<Severity>,
    /// Every check name under `checks:` with its position, for validation against the registry.
    #[serde(skip)]
    pub check_refs: Vec<CheckRef>,
    /// `rampart serve`'s own sections (namespaces, exemptions, workloads, mutate, limits,
    /// namespaceLabels, certReloadSeconds, images): the webhook reads and validates them, the scan
    /// passes them by, so one file configures both.
    #[serde(default)]
    pub namespaces: Option<serde_json::Value>,
    #[serde(default)]
    pub exemptions: Option<serde_json::Value>,
    #[serde(default)]
    pub workloads: Option<serde_json::Value>,
    #[serde(default)]
    pub mutate: Option<serde_json::Value>,
    #[serde(default)]
    pub limits: Option<serde_json::Value>,
    #[serde(default)]
    pub namespace_labels: Option<serde_json::Value>,
    #[serde(default)]
    pub cert_reload_seconds: Option<serde_json::Value>,
    #[serde(default)]
    pub images: Option<serde_json::Value>,
}

/// Which checks run and how severe they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChecksConfig {
    /// Checks that never run.
    #[serde(default)]
    pub disable: Vec<String>,
    /// When set, only these checks run.
    #[serde(default)]
    pub only: Option<Vec<String>>,
    /// Severity overrides, by slug.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// The webhook's thresholds and per-check actions (`rampart serve`; the scan passes them by).
    #[serde(default)]
    pub enforce: Option<serde_json::Value>,
    #[serde(default)]
    pub warn: Option<serde_json::Value>,
    #[serde(default)]
    pub audit: Option<serde_json::Value>,
    #[serde(default)]
    pub actions: Option<serde_json::Value>,
}

/// Settings of the checks that take them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// `untrusted-registry`: image registries (prefixes, e.g. `registry.example.com/`) allowed.
    /// Empty: the check does not run.
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// `missing-required-labels`: labels every workload must carry. Empty: the check does not run.
    #[serde(default)]
    pub required_labels: Vec<String>,
    /// `sensitive-host-path`: host paths (and everything under them) that must not be mounted.
    #[serde(default = "default_sensitive_paths")]
    pub sensitive_host_paths: Vec<String>,
    /// `dangerous-capability`: added capabilities that are accepted.
    #[serde(default = "default_allowed_caps")]
    pub allowed_capabilities: Vec<String>,
    /// `deprecated-api-version`: the Kubernetes release the manifests target (`"1.25"`). API
    /// versions removed by then are reported; those removed later are reported at low severity
    /// as upcoming removals. Unset: the newest release, so every removed API version is reported.
    #[serde(default)]
    pub kube_version: Option<KubeVersion>,
}

pub use rampart_core::KubeVersion;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_registries: Vec::new(),
            required_labels: Vec::new(),
            sensitive_host_paths: default_sensitive_paths(),
            allowed_capabilities: default_allowed_caps(),
            kube_version: None,
        }
    }
}

fn default_sensitive_paths() -> Vec<String> {
    [
        "/",
        "/etc",
        "/root",
        "/home",
        "/proc",
        "/sys",
        "/boot",
        "/dev",
        "/var/run",
        "/run",
        "/var/lib/kubelet",
        "/var/lib/docker",
        "/var/lib/containerd",
        "/var/log",
        "/usr",
        "/lib",
        "/bin",
        "/sbin",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn default_allowed_caps() -> Vec<String> {
    vec!["NET_BIND_SERVICE".to_string()]
}

/// Pod Security Standards in `rampart scan`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PssConfig {
    /// `baseline` or `restricted`: the scan reports violations of this level, and the webhook
    /// enforces it unless `enforce` says otherwise.
    #[serde(default)]
    pub level: Option<String>,
    /// `latest` or `v1.N`.
    #[serde(default = "latest")]
    pub version: String,
    /// The webhook's level per mode, `level[:version]` (`rampart serve`).
    #[serde(default)]
    pub enforce: Option<serde_json::Value>,
    #[serde(default)]
    pub audit: Option<serde_json::Value>,
    #[serde(default)]
    pub warn: Option<serde_json::Value>,
}

impl PssConfig {
    /// The level and version the scan reports at: `level` and `version`, else the webhook's
    /// `enforce` (`level[:version]`), so a file written for the webhook scans as it enforces.
    pub fn scan_policy(&self) -> Option<(String, String)> {
        if let Some(l) = &self.level {
            return Some((l.clone(), self.version.clone()));
        }
        let e = self.enforce.as_ref()?.as_str()?;
        let (l, v) = e.split_once(':').unwrap_or((e, "latest"));
        (l != "privileged").then(|| (l.to_string(), v.to_string()))
    }

    /// A scan at `level` and `version`.
    pub fn at(level: &str, version: &str) -> PssConfig {
        PssConfig {
            level: Some(level.to_string()),
            version: version.to_string(),
            enforce: None,
            audit: None,
            warn: None,
        }
    }
}

fn latest() -> String {
    "latest".to_string()
}

impl Config {
    /// Parses configuration text; errors name the file, line and column.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let (docs, errors) = rampart_manifest::parse_yaml(file, text);
        if let Some(e) = errors.into_iter().next() {
            return Err(ConfigError::Invalid {
                file: file.into(),
                line: e.line,
                column: e.column,
                message: e.message,
            });
        }
        let Some(doc) = docs.into_iter().next() else {
            return Ok(Config::default());
        };
        let mut config = <Config as serde::Deserialize>::deserialize(&doc.value).map_err(|e| {
            let message = e.to_string();
            // serde names the offending key; point at it when we can find it
            let (line, column) = message
                .split('`')
                .nth(1)
                .and_then(|key| find_key(&doc, key))
                .unwrap_or((doc.pos.line, doc.pos.col));
            ConfigError::Invalid {
                file: file.into(),
                line,
                column,
                message,
            }
        })?;
        let at = |pointer: &str| {
            doc.pos
                .find(&doc.value, pointer)
                .unwrap_or((doc.pos.line, doc.pos.col))
        };
        if let Some(pss) = &config.pss {
            let bad =
                if let Some(Err(e)) = pss.level.as_ref().map(|l| l.parse::<rampart_pss::Level>()) {
                    Some(("/pss/level", e.to_string()))
                } else if let Err(e) = pss.version.parse::<rampart_pss::Version>() {
                    Some(("/pss/version", e.to_string()))
                } else {
                    None
                };
            if let Some((pointer, message)) = bad {
                let (line, column) = at(pointer);
                return Err(ConfigError::Invalid {
                    file: file.into(),
                    line,
                    column,
                    message,
                });
            }
        }
        let mut refs = Vec::new();
        let checks = &config.checks;
        let none = Vec::new();
        let lists = [
            ("/checks/disable", &checks.disable),
            ("/checks/only", checks.only.as_ref().unwrap_or(&none)),
        ];
        for (pointer, names) in lists {
            for (i, name) in names.iter().enumerate() {
                refs.push((format!("{pointer}/{i}"), name.clone()));
            }
        }
        for name in checks.severity.keys() {
            refs.push((
                format!(
                    "/checks/severity/{}",
                    rampart_manifest::escape_segment(name)
                ),
                name.clone(),
            ));
        }
        config.check_refs = refs
            .into_iter()
            .map(|(pointer, name)| {
                let (line, column) = at(&pointer);
                CheckRef {
                    name,
                    file: file.into(),
                    line,
                    column,
                }
            })
            .collect();
        Ok(config)
    }

    /// Every check the configuration names, with its position when it came from a file.
    pub fn named_checks(&self) -> Vec<(String, Option<CheckRef>)> {
        let checks = &self.checks;
        checks
            .disable
            .iter()
            .chain(checks.only.iter().flatten())
            .chain(checks.severity.keys())
            .map(|n| {
                let at = self.check_refs.iter().find(|r| &r.name == n).cloned();
                (n.clone(), at)
            })
            .collect()
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Config::parse(&path.display().to_string(), &text)
    }

    /// Finds `.rampart.yaml` in `start` or one of its ancestors.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|d| d.join(CONFIG_FILE))
            .find(|p| p.is_file())
    }
}

fn find_key(doc: &rampart_manifest::YamlDoc, key: &str) -> Option<(u32, u32)> {
    // breadth-first over the few top levels of a config file
    for prefix in ["", "/checks", "/settings", "/pss", "/checks/severity"] {
        if let Some(p) = doc.pos.find(&doc.value, &format!("{prefix}/{key}")) {
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_with_position() {
        let err =
            Config::parse(".rampart.yaml", "checks:\n  disable: []\n  severty: {}\n").unwrap_err();
        let s = err.to_string();
        assert!(
            s.starts_with(".rampart.yaml:3:3: unknown field `severty`"),
            "{s}"
        );
    }

    #[test]
    fn parses_settings_and_overrides() {
        let c = Config::parse("c", "checks:\n  severity: {latest-tag: high}\nsettings:\n  allowedRegistries: [ghcr.io/acme/]\nfailOn: medium\n").unwrap();
        assert_eq!(c.checks.severity.get("latest-tag"), Some(&Severity::High));
        assert_eq!(c.settings.allowed_registries, vec!["ghcr.io/acme/"]);
        assert_eq!(c.fail_on, Some(Severity::Medium));
        assert!(
            c.settings
                .sensitive_host_paths
                .contains(&"/etc".to_string())
        );
        assert_eq!(c.settings.kube_version, None);
    }

    #[test]
    fn kube_version_is_a_quoted_release() {
        let c = Config::parse("c", "settings:\n  kubeVersion: \"v1.30\"\n").unwrap();
        assert_eq!(c.settings.kube_version, Some(KubeVersion::new(1, 30)));
        let c = Config::parse("c", "settings:\n  kubeVersion: \"1.25.3\"\n").unwrap();
        assert_eq!(c.settings.kube_version, Some(KubeVersion::new(1, 25)));
        let err = Config::parse("c", "settings:\n  kubeVersion: 1.30\n").unwrap_err();
        assert!(err.to_string().contains("quoted string"), "{err}");
        let err = Config::parse("c", "settings:\n  kubeVersion: \"latest\"\n").unwrap_err();
        assert!(
            err.to_string().contains("invalid Kubernetes version"),
            "{err}"
        );
    }
}
