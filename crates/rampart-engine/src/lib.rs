//! rampart's engine: the one registry of checks and the configuration every command and the
//! webhook resolve against it.
//!
//! ```
//! let r = rampart_engine::registry();
//! assert_eq!(r.canonical("cluster-admin-binding"), Some("rbac-cluster-admin-equivalent"));
//! let config = rampart_rules::Config::parse(".rampart.yaml", "checks:\n  disable: [rbac-pod-exec]\n").unwrap();
//! let config = rampart_engine::resolve_config(config, r).unwrap();
//! assert_eq!(config.checks.disable, ["rbac-exec-pods"]);
//! ```

pub mod cloud;
pub mod cluster;
mod input;
mod policies;
mod registry;
pub mod scan;
mod secrets;

pub use input::duplicate_findings;
pub use policies::{Policies, PoliciesError, load_policies};

pub use registry::{Registry, registry};
pub use scan::{ScanOptions, ScanOutput, scan, scan_objects};
pub use secrets::secret_values;

use rampart_core::Finding;
use rampart_rules::{Config, ConfigError};

/// Validates every check the configuration names against the registry (unknown names are
/// errors at their position) and rewrites aliases to current slugs.
pub fn resolve_config(mut config: Config, registry: &Registry) -> Result<Config, Vec<ConfigError>> {
    let mut errors = Vec::new();
    for (name, at) in config.named_checks() {
        if registry.get(&name).is_none() {
            errors.push(ConfigError::UnknownCheck { check: name, at });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let canon = |n: &String| {
        registry
            .canonical(n)
            .map_or_else(|| n.clone(), str::to_string)
    };
    let checks = &mut config.checks;
    checks.disable = checks.disable.iter().map(canon).collect();
    if let Some(only) = &mut checks.only {
        *only = only.iter().map(canon).collect();
    }
    checks.severity = std::mem::take(&mut checks.severity)
        .into_iter()
        .map(|(k, v)| (canon(&k), v))
        .collect();
    Ok(config)
}

/// Applies the configuration's `disable`, `only` and `severity` to findings of any analyzer
/// (the catalog applies them to its own checks as it runs).
pub fn apply_config(findings: &mut Vec<Finding>, config: &Config) {
    let checks = &config.checks;
    if checks.disable.is_empty() && checks.only.is_none() && checks.severity.is_empty() {
        return;
    }
    findings.retain(|f| {
        !checks.disable.contains(&f.check)
            && checks.only.as_ref().is_none_or(|o| o.contains(&f.check))
    });
    for f in findings.iter_mut() {
        if let Some(s) = checks.severity.get(&f.check) {
            f.severity = *s;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn unknown_checks_name_their_position() {
        let c = Config::parse(
            ".rampart.yaml",
            "checks:\n  disable:\n    - latest-tag\n    - no-such-check\n  severity:\n    rbac-read-secrets: low\n",
        )
        .unwrap();
        let errs = resolve_config(c, registry()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            ".rampart.yaml:4:7: unknown check `no-such-check` in configuration (see `rampart checks`)"
        );
    }

    #[test]
    fn analyzer_slugs_and_aliases_are_accepted() {
        let c = Config::parse(
            "c.yaml",
            "checks:\n  disable: [rbac-read-secrets, missing-default-deny-network-policy, pss-privileged]\n  severity: {cluster-admin-binding: low}\n",
        )
        .unwrap();
        let c = resolve_config(c, registry()).unwrap();
        assert_eq!(
            c.checks.disable,
            [
                "rbac-read-secrets",
                "namespace-without-default-deny",
                "pss-privileged"
            ]
        );
        assert!(
            c.checks
                .severity
                .contains_key("rbac-cluster-admin-equivalent")
        );
        let mut f = vec![
            Finding::new("rbac-read-secrets", rampart_core::Severity::High, "m"),
            Finding::new(
                "rbac-cluster-admin-equivalent",
                rampart_core::Severity::Critical,
                "m",
            ),
        ];
        apply_config(&mut f, &c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, rampart_core::Severity::Low);
    }

    #[test]
    fn a_pss_level_that_does_not_exist_names_its_position() {
        let e = Config::parse("c.yaml", "pss:\n  level: strict\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("c.yaml:2:3: unknown level `strict`"),
            "{e}"
        );
    }
}
