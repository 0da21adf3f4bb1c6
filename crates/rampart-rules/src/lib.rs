//! rampart's check catalog: one check per file under `checks/`, each documented by its doc
//! comment, run over loaded manifests.
//!
//! ```
//! let loaded = rampart_manifest::load_str("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext: {privileged: yes}\n");
//! let catalog = rampart_rules::Catalog::new(rampart_rules::Config::default()).unwrap();
//! let findings = catalog.check_all(&loaded.objects);
//! assert!(findings.iter().any(|f| f.check == "privileged-container" && f.location.as_ref().unwrap().line == 8));
//! ```

mod check;
mod checks;
mod config;
mod inventory;
pub mod secrets;
mod util;

pub use check::CheckMeta;
pub use config::{CheckRef, ChecksConfig, Config, ConfigError, KubeVersion, PssConfig, Settings};
pub use inventory::Inventory;

use check::{Configured, Emitter, ObjectContext};
use rampart_core::Finding;
use rampart_manifest::Object;
use rayon::prelude::*;

/// Annotation listing checks an object opts out of: `rampart.dev/ignore: "slug,slug"`.
/// What [`Catalog::check_across`] reads of each object, so a scan can hand it slim objects
/// ([`rampart_manifest::Object::slim`]): Services, Ingresses, PodDisruptionBudgets,
/// ServiceAccounts and Namespaces whole, workloads' replicas and selectors, and which
/// ServiceAccount each pod runs as and whether it mounts its token.
pub const READS: rampart_manifest::Reads = rampart_manifest::Reads {
    kinds: &[
        "Service",
        "Ingress",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Namespace",
    ],
    workload_spec: &["replicas", "selector"],
    pod_spec: &[
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
    ],
    container: &[],
    secret: &[],
};

pub const IGNORE_ANNOTATION: &str = "rampart.dev/ignore";
/// Annotation giving the reason for an ignore; an ignore without one is itself reported.
pub const IGNORE_REASON_ANNOTATION: &str = "rampart.dev/ignore-reason";

/// The check catalog with its configuration.
pub struct Catalog {
    checks: Vec<Configured>,
    config: Config,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("checks", &self.checks.len())
            .finish()
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            checks: checks::ALL
                .iter()
                .map(|c| Configured::new(*c, c.meta().severity))
                .collect(),
            config: Config::default(),
        }
    }
}

/// Every check's metadata, sorted by slug.
pub fn all_checks() -> Vec<&'static CheckMeta> {
    let mut v: Vec<_> = checks::ALL.iter().map(|c| c.meta()).collect();
    v.sort_by_key(|m| m.slug);
    v
}

/// Every catalog check as a registry record, with its former slugs as aliases.
pub fn infos() -> Vec<rampart_core::CheckInfo> {
    all_checks()
        .into_iter()
        .map(|m| {
            let mut info = rampart_core::CheckInfo::new(
                m.slug,
                m.severity,
                rampart_core::Origin::Manifest,
                m.summary,
            )
            .doc(m.markdown())
            .references(m.references())
            .cis(rampart_core::check::cis_ids(&m.references()));
            for (old, _) in checks::ALIASES.iter().filter(|(_, new)| *new == m.slug) {
                info = info.alias(*old);
            }
            info
        })
        .collect()
}

/// Every slug and alias of the whole registry (every analyzer's), once the engine has built it;
/// checks that validate slugs (ignore annotations) accept those too.
static REGISTERED: std::sync::OnceLock<std::collections::HashSet<String>> =
    std::sync::OnceLock::new();

/// Called by the engine with every slug and alias of its registry.
pub fn set_registered_slugs(slugs: impl IntoIterator<Item = String>) {
    let _ = REGISTERED.set(slugs.into_iter().collect());
}

/// Whether `slug` names a check of any analyzer: the catalog's own, or one the engine registered.
pub fn is_known_slug(slug: &str) -> bool {
    find_check(slug).is_some() || REGISTERED.get().is_some_and(|r| r.contains(slug))
}

/// The metadata of the check named `slug` (or a former slug that is now an alias).
pub fn find_check(slug: &str) -> Option<&'static CheckMeta> {
    let slug = checks::ALIASES
        .iter()
        .find(|(old, _)| *old == slug)
        .map_or(slug, |(_, new)| *new);
    checks::ALL
        .iter()
        .map(|c| c.meta())
        .find(|m| m.slug == slug)
}

impl Catalog {
    /// Builds the catalog. Names in the configuration that are not catalog checks belong to
    /// other analyzers: the engine validates every name against the one registry.
    pub fn new(config: Config) -> Result<Catalog, ConfigError> {
        let checks = checks::ALL
            .iter()
            .filter(|c| {
                let slug = c.meta().slug;
                !config
                    .checks
                    .disable
                    .iter()
                    .any(|d| find_check(d).is_some_and(|m| m.slug == slug))
                    && config.checks.only.as_ref().is_none_or(|only| {
                        only.iter()
                            .any(|o| find_check(o).is_some_and(|m| m.slug == slug))
                    })
            })
            .map(|c| {
                let sev = config
                    .checks
                    .severity
                    .iter()
                    .find(|(k, _)| find_check(k).is_some_and(|m| m.slug == c.meta().slug))
                    .map_or(c.meta().severity, |(_, s)| *s);
                Configured::new(*c, sev)
            })
            .collect();
        Ok(Catalog { checks, config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The metadata of the enabled checks.
    pub fn enabled(&self) -> impl Iterator<Item = &'static CheckMeta> + '_ {
        self.checks.iter().map(|c| c.check.meta())
    }

    /// Runs every per-object check on one object.
    pub fn check_object(&self, obj: &Object) -> Vec<Finding> {
        self.check_object_where(obj, |_, _| true)
    }

    /// Runs the per-object checks that `keep(slug, severity)` selects, so a caller that would
    /// discard a check's findings (the admission webhook, for checks whose mode is off) never
    /// pays for them.
    pub fn check_object_where(
        &self,
        obj: &Object,
        keep: impl Fn(&str, rampart_core::Severity) -> bool,
    ) -> Vec<Finding> {
        let pod = rampart_manifest::pod_spec(&obj.value);
        let containers = pod
            .as_ref()
            .map(rampart_manifest::containers)
            .unwrap_or_default();
        let cx = ObjectContext {
            obj,
            pod,
            containers,
            config: &self.config,
        };
        let mut findings = Vec::new();
        for c in self
            .checks
            .iter()
            .filter(|c| keep(c.check.meta().slug, c.severity))
        {
            c.check
                .check_object(&cx, &mut Emitter::new(c, &mut findings));
        }
        findings
    }

    /// Runs every check over a set of objects: per-object checks in parallel, then the checks
    /// that look across objects. Findings come back sorted by file, line, column and check.
    pub fn check_all(&self, objects: &[Object]) -> Vec<Finding> {
        let mut findings: Vec<Finding> = objects
            .par_iter()
            .flat_map_iter(|o| self.check_object(o))
            .collect();
        findings.extend(self.check_across(objects));
        sort_findings(&mut findings);
        findings
    }

    /// Runs only the checks that look across objects (a workload and its ServiceAccount, a
    /// Deployment and its PodDisruptionBudget). They read no more of each object than
    /// [`READS`] declares, so a caller that has run [`Catalog::check_object`] on every whole
    /// object can hand them objects slimmed to it ([`Object::slim`]).
    pub fn check_across(&self, objects: &[Object]) -> Vec<Finding> {
        let inv = Inventory::new(objects);
        self.checks
            .par_iter()
            .flat_map_iter(|c| {
                let mut findings = Vec::new();
                c.check
                    .check_inventory(&inv, &mut Emitter::new(c, &mut findings));
                findings
            })
            .collect()
    }
}

/// Sorts by file, line, column, check slug, then message; findings equal in all of these keep
/// their order.
///
/// A stable parallel sort of the findings themselves allocates a buffer as large as the
/// findings; this sorts their indices and then moves each finding once, in place.
pub fn sort_findings(findings: &mut [Finding]) {
    let Ok(n) = u32::try_from(findings.len()) else {
        findings.par_sort_by(cmp_findings);
        return;
    };
    let mut order: Vec<u32> = (0..n).collect();
    {
        let f = &*findings;
        order.par_sort_by(|&a, &b| match (f.get(a as usize), f.get(b as usize)) {
            (Some(a), Some(b)) => cmp_findings(a, b),
            _ => std::cmp::Ordering::Equal,
        });
    }
    // position i receives the finding at order[i]: follow each cycle of the permutation
    const DONE: u32 = u32::MAX;
    for start in 0..order.len() {
        let mut cur = start;
        while let Some(slot) = order.get_mut(cur) {
            let next = std::mem::replace(slot, DONE);
            if next == DONE || next as usize == start {
                break;
            }
            findings.swap(cur, next as usize);
            cur = next as usize;
        }
    }
}

fn cmp_findings(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    a.sort_key()
        .cmp(&b.sort_key())
        .then_with(|| a.message.cmp(&b.message))
}

/// Whether `obj` opts out of `check` with the ignore annotation (a reason is required for the
/// opt-out to count).
pub(crate) fn is_ignored(obj: &Object, check: &str) -> bool {
    let Some(ann) = obj.annotations() else {
        return false;
    };
    let Some(list) = ann.get(IGNORE_ANNOTATION).and_then(|v| v.as_str()) else {
        return false;
    };
    let has_reason = ann
        .get(IGNORE_REASON_ANNOTATION)
        .and_then(|v| v.as_str())
        .is_some_and(|r| !r.trim().is_empty());
    has_reason
        && list
            .split(',')
            .map(str::trim)
            .any(|s| s == check || s == "*" || find_check(s).is_some_and(|m| m.slug == check))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::{Location, Severity};
    use std::sync::Arc;

    /// The in-place index sort gives exactly what a stable sort of the findings gives, ties
    /// (same position, check and message, different objects) included.
    #[test]
    fn sort_findings_is_a_stable_sort() {
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for len in [0usize, 1, 2, 3, 10, 257, 5000] {
            let findings: Vec<Finding> = (0..len)
                .map(|i| {
                    let file = format!("f{}.yaml", next(3));
                    Finding::new(
                        ["a-check", "b-check"][next(2) as usize],
                        Severity::Low,
                        format!("m{}", next(2)),
                    )
                    .with_location(Location {
                        file: Arc::from(file),
                        line: next(5) as u32,
                        column: next(2) as u32,
                        pointer: format!("/{i}"),
                        template: None,
                    })
                })
                .collect();
            let mut want = findings.clone();
            want.sort_by(cmp_findings);
            let mut got = findings;
            sort_findings(&mut got);
            assert_eq!(got, want, "{len} findings");
        }
    }
}
