//! The scan pipeline: sources → objects with positions → per-object checks, PSS and control-plane
//! checks (file by file, in parallel) → the analyses across objects (catalog, NetworkPolicy
//! gaps, RBAC, duplicates, policies) → sorted findings. `rampart scan` renders its result;
//! the webhook and the cluster audit call the same parts.

use rampart_core::{Finding, InputError, ObjectRef};
use rampart_manifest::{Keep, Object, Reads, Source, load_str, read_source};
use rampart_rules::Catalog;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// What a scan runs, beyond the catalog and its configuration.
#[derive(Default)]
pub struct ScanOptions {
    /// Pod Security Standards level and version to report violations of.
    pub pss: Option<rampart_pss::Policy>,
    /// The Kubernetes version whose control-plane and kubelet defaults apply.
    pub cis: rampart_cis::Options,
    /// Gatekeeper, ValidatingAdmissionPolicy and Kyverno policies applied to every object
    /// ([`crate::load_policies`]); their errors are reported as input errors, and the rest
    /// still apply.
    pub policies: crate::Policies,
    /// A Trivy report whose vulnerabilities are attached to the workloads running each image.
    pub trivy: Option<rampart_images::TrivyReport>,
    /// Namespace of namespaced objects that name none (`-n`).
    pub namespace: Option<String>,
    /// Largest input read, in bytes.
    pub max_file_size: u64,
    /// Keep each file's text (for reports that show source lines).
    pub keep_text: bool,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// Sorted by file, line, column, check.
    pub findings: Vec<Finding>,
    /// Inputs that could not be read or understood; every valid object was still scanned.
    pub errors: Vec<InputError>,
    /// Documents that are not Kubernetes objects, skipped.
    pub skipped: Vec<InputError>,
    /// Every object's identity and file.
    pub objects: Vec<(Arc<ObjectRef>, Arc<str>)>,
    /// File texts, when asked for.
    pub texts: HashMap<String, Arc<str>>,
}

/// One file's share of a scan.
#[derive(Default)]
struct FileScan {
    text: Option<(String, Arc<str>)>,
    /// Its objects, slim unless policies need them whole.
    objects: Vec<Object>,
    refs: Vec<(Arc<ObjectRef>, Arc<str>)>,
    /// Each object's (line, column), in the order of `refs`.
    positions: Vec<(u32, u32)>,
    /// Objects that opt out of checks (with a reason), and the slugs they name.
    ignores: Vec<(Arc<ObjectRef>, Vec<String>)>,
    findings: Vec<Finding>,
    errors: Vec<InputError>,
    skipped: Vec<InputError>,
}

/// Scans files, directories and stdin (`-`).
pub fn scan(paths: &[PathBuf], catalog: &Catalog, opts: &ScanOptions) -> ScanOutput {
    let t0 = std::time::Instant::now();
    crate::registry();
    let (sources, mut errors) = rampart_manifest::discover(paths);
    // Each file is read, parsed and put through every per-object check on its own, in
    // parallel; what stays in memory afterwards is only what the analyses across objects read
    // (all of it when policies are applied: their inventory is every object).
    let parts: Vec<FileScan> = sources
        .par_iter()
        .map(|s: &Source| match read_source(s, opts.max_file_size) {
            Ok((name, text)) => {
                // check_file gives the objects `-n`'s namespace
                let loaded = load_str(&name, &text);
                let mut part = FileScan {
                    text: opts.keep_text.then(|| (name, Arc::from(text))),
                    errors: loaded.errors,
                    skipped: loaded.skipped,
                    ..FileScan::default()
                };
                check_file(loaded.objects, catalog, opts, &mut part);
                part
            }
            Err(e) => FileScan {
                errors: vec![e],
                ..FileScan::default()
            },
        })
        .collect();
    let mut out = ScanOutput::default();
    let n_objects = parts.iter().map(|p| p.objects.len()).sum();
    let n_findings = parts.iter().map(|p| p.findings.len()).sum::<usize>();
    let mut objects = Vec::with_capacity(n_objects);
    let mut positions = Vec::with_capacity(n_objects);
    let mut ignores = Ignores::new();
    out.objects.reserve(n_objects);
    // Room for the findings across objects too, so adding them never moves the list; pages
    // of it that are never written are never resident.
    let mut findings = Vec::with_capacity(n_findings + n_objects);
    for part in parts {
        if let Some((name, t)) = part.text {
            out.texts.insert(name, t);
        }
        objects.extend(part.objects);
        out.objects.extend(part.refs);
        positions.extend(part.positions);
        ignores.extend(part.ignores);
        findings.extend(part.findings);
        errors.extend(part.errors);
        out.skipped.extend(part.skipped);
    }
    tracing::debug!(objects = objects.len(), findings = findings.len(), elapsed = ?t0.elapsed(), rss_mib = rss_mib(), "loaded and checked");
    finish(
        objects,
        &out.objects,
        &positions,
        &ignores,
        catalog,
        opts,
        &mut findings,
        &mut errors,
    );
    tracing::debug!(elapsed = ?t0.elapsed(), rss_mib = rss_mib(), "analyzed and sorted");
    out.findings = findings;
    out.errors = errors;
    out
}

/// Scans objects already loaded (a cluster's, a test's): the same checks as [`scan`].
pub fn scan_objects(loaded: Vec<Object>, catalog: &Catalog, opts: &ScanOptions) -> ScanOutput {
    crate::registry();
    let mut by_file: Vec<Vec<Object>> = Vec::new();
    let mut index: HashMap<Arc<str>, usize> = HashMap::new();
    for o in loaded {
        let i = *index.entry(o.file.clone()).or_insert_with(|| {
            by_file.push(Vec::new());
            by_file.len() - 1
        });
        if let Some(v) = by_file.get_mut(i) {
            v.push(o);
        }
    }
    let parts: Vec<FileScan> = by_file
        .into_par_iter()
        .map(|objects| {
            let mut part = FileScan::default();
            check_file(objects, catalog, opts, &mut part);
            part
        })
        .collect();
    let mut out = ScanOutput::default();
    let (mut objects, mut positions, mut findings, mut errors) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut ignores = Ignores::new();
    for part in parts {
        objects.extend(part.objects);
        out.objects.extend(part.refs);
        positions.extend(part.positions);
        ignores.extend(part.ignores);
        findings.extend(part.findings);
        errors.extend(part.errors);
    }
    finish(
        objects,
        &out.objects,
        &positions,
        &ignores,
        catalog,
        opts,
        &mut findings,
        &mut errors,
    );
    out.findings = findings;
    out.errors = errors;
    out
}

/// The checks of one file's objects on their own; keeps what the analyses across objects read.
fn check_file(
    mut objects: Vec<Object>,
    catalog: &Catalog,
    opts: &ScanOptions,
    part: &mut FileScan,
) {
    if let Some(ns) = &opts.namespace {
        rampart_manifest::set_default_namespace(&mut objects, ns);
    }
    let keep_whole = opts.policies.gatekeeper.is_some();
    // control-plane static pods and node configuration documents, file by file
    let (mut cis, cis_errors) = rampart_cis::check_objects(&objects, &opts.cis);
    crate::apply_config(&mut cis, catalog.config());
    part.findings.extend(cis);
    part.errors.extend(cis_errors);
    if let Some(report) = &opts.trivy {
        let mut vulns = rampart_images::trivy_findings(&objects, report);
        crate::apply_config(&mut vulns, catalog.config());
        part.findings.extend(vulns);
    }
    for o in objects {
        part.findings.extend(catalog.check_object(&o));
        if let Some(set) = &opts.policies.kyverno {
            let info = rampart_kyverno::AdmissionInfo::default();
            let mut found: Vec<Finding> = set
                .evaluate(&o.value, &info)
                .iter()
                .filter_map(|r| r.to_finding(&o))
                .collect();
            crate::apply_config(&mut found, catalog.config());
            part.findings.extend(found);
        }
        if let Some(policy) = opts.pss
            && let Some(v) = rampart_pss::evaluate_object(policy, &o.value)
        {
            let mut pss = rampart_pss::to_findings(policy, &o, &v);
            crate::apply_config(&mut pss, catalog.config());
            part.findings.extend(pss);
        }
        if let Some(slugs) = ignored_checks(&o) {
            part.ignores.push((o.object_ref(), slugs));
        }
        part.refs.push((o.object_ref(), o.file.clone()));
        part.positions.push((o.pos.line, o.pos.col));
        part.objects
            .push(if keep_whole { o } else { o.slim(slim_keep()) });
    }
}

/// Objects that opt out of checks, by identity.
type Ignores = HashMap<Arc<ObjectRef>, Vec<String>>;

/// The slugs an object opts out of with `rampart.dev/ignore` (current slugs; aliases resolved
/// through the registry), when it gives a reason; `*` stands for every check.
fn ignored_checks(o: &Object) -> Option<Vec<String>> {
    let ann = o.annotations()?;
    let list = ann.get(rampart_rules::IGNORE_ANNOTATION)?.as_str()?;
    let reason = ann
        .get(rampart_rules::IGNORE_REASON_ANNOTATION)
        .and_then(|v| v.as_str())
        .is_some_and(|r| !r.trim().is_empty());
    if !reason {
        return None;
    }
    let registry = crate::registry();
    Some(
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| registry.canonical(s).unwrap_or(s).to_string())
            .collect(),
    )
}

/// Drops the findings of every analyzer (catalog, PSS, CIS, RBAC, NetworkPolicy, policies) that
/// their object opts out of: one ignore annotation works for every slug of the registry.
fn drop_ignored(findings: &mut Vec<Finding>, ignores: &Ignores) {
    if ignores.is_empty() {
        return;
    }
    findings.retain(|f| {
        let Some(obj) = &f.object else { return true };
        ignores
            .get(obj)
            .is_none_or(|slugs| !slugs.iter().any(|s| s == "*" || *s == f.check))
    });
}

/// The analyses across objects, then the sort.
#[allow(clippy::too_many_arguments)]
fn finish(
    objects: Vec<Object>,
    refs: &[(Arc<ObjectRef>, Arc<str>)],
    positions: &[(u32, u32)],
    ignores: &Ignores,
    catalog: &Catalog,
    opts: &ScanOptions,
    findings: &mut Vec<Finding>,
    errors: &mut Vec<InputError>,
) {
    findings.extend(across_findings(catalog, &objects));
    errors.extend(opts.policies.errors.iter().cloned());
    let mut dups = crate::duplicate_findings(&rampart_manifest::duplicates_in(refs, positions));
    crate::apply_config(&mut dups, catalog.config());
    findings.extend(dups);
    if let Some(set) = &opts.policies.gatekeeper {
        // every other object of the input is the inventory referential policies see
        let session = set.session(&objects);
        findings.extend(
            objects
                .par_iter()
                .flat_map_iter(|o| session.findings(o))
                .collect::<Vec<_>>(),
        );
    }
    drop_ignored(findings, ignores);
    carry_secrets_to_policy_findings(findings);
    rampart_rules::sort_findings(findings);
    // the process usually ends soon after: freeing every object one by one takes longer than
    // the analyses, and the OS reclaims it all at once
    std::mem::forget(objects);
}

/// What a policy says about an object may quote its secrets (`{{request.object.data.password}}`
/// in a Kyverno message, `sprintf` in Rego): a policy finding carries the values the secret
/// detectors found in its object, so every output format masks them in its message as it does
/// in the detectors' own findings.
fn carry_secrets_to_policy_findings(findings: &mut [Finding]) {
    let mut secrets: HashMap<Arc<ObjectRef>, Vec<String>> = HashMap::new();
    for f in findings.iter() {
        if let Some(o) = &f.object
            && !f.redact.is_empty()
        {
            secrets
                .entry(o.clone())
                .or_default()
                .extend(f.redact.iter().cloned());
        }
    }
    if secrets.is_empty() {
        return;
    }
    let registry = crate::registry();
    for f in findings.iter_mut() {
        // a Gatekeeper finding is named after its constraint, which no registry knows
        let from_policy = registry
            .get(&f.check)
            .is_none_or(|c| c.origin == rampart_core::Origin::Policy);
        if from_policy
            && f.redact.is_empty()
            && let Some(values) = f.object.as_ref().and_then(|o| secrets.get(o))
        {
            f.redact = values.clone();
        }
    }
}

/// What each analysis across objects ([`across_findings`]) declares it reads.
const ACROSS_READS: [Reads; 3] = [
    rampart_rules::READS,
    rampart_netpol::READS,
    rampart_rbac::READS,
];

/// What the scan keeps of each object once the per-object checks have seen it whole: the union
/// of what the analyses across objects declare they read.
fn slim_keep() -> &'static Keep {
    static KEEP: OnceLock<Keep> = OnceLock::new();
    KEEP.get_or_init(|| Keep::of(&ACROSS_READS))
}

/// Findings of the checks and analyzers that look across objects — the catalog's, NetworkPolicy
/// gaps, RBAC risks and escalation paths — run side by side, with the configuration's
/// `disable`, `only` and `severity` applied to the analyzers' findings too.
pub fn across_findings(catalog: &Catalog, objects: &[Object]) -> Vec<Finding> {
    let t0 = std::time::Instant::now();
    let timed = |what: &'static str, f: &dyn Fn() -> Vec<Finding>| {
        let t = std::time::Instant::now();
        let out = f();
        tracing::debug!(findings = out.len(), elapsed = ?t.elapsed(), "{what}");
        out
    };
    let (mut own, (netpol, rbac)) = rayon::join(
        || timed("catalog across objects", &|| catalog.check_across(objects)),
        || {
            rayon::join(
                || timed("netpol gaps", &|| rampart_netpol::gaps(objects)),
                || timed("rbac", &|| rampart_rbac::scan_findings(objects)),
            )
        },
    );
    tracing::debug!(catalog = own.len(), netpol = netpol.len(), rbac = rbac.len(), elapsed = ?t0.elapsed(), "across objects");
    let mut analyzers: Vec<Finding> = netpol.into_iter().chain(rbac).collect();
    crate::apply_config(&mut analyzers, catalog.config());
    own.extend(analyzers);
    own
}

/// The resident set size in MiB, for the phase timings `RAMPART_LOG=rampart=debug` prints (0 where
/// `/proc` is not available).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// One analysis across objects, as the test calls it.
    type Analysis<'a> = dyn Fn(&[Object]) -> Vec<Finding> + 'a;

    /// The scan keeps only slim objects for the analyses across objects: on every manifest of
    /// the repository (examples, check fixtures, NetworkPolicy and RBAC cases) each analysis,
    /// given only what it declares it reads, must find exactly what it finds on the whole
    /// objects, at the same positions.
    #[test]
    fn analyses_across_objects_see_the_same_in_slim_objects() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dirs = [
            "examples",
            "crates/rampart-rules/tests/fixtures",
            "crates/rampart-netpol/tests/cases",
            "crates/rampart-rbac/tests/cases",
            "deploy",
            "crates/rampart-engine/tests/slim",
        ];
        let catalog = Catalog::new(rampart_rules::Config::default()).unwrap();
        let mut compared = 0;
        for dir in dirs {
            let (sources, _) = rampart_manifest::discover(&[root.join(dir)]);
            // each file on its own (a fixture file is a scenario) and each directory as a whole
            let mut groups: Vec<Vec<Object>> = Vec::new();
            let mut all = Vec::new();
            // charts need `helm`; their rendered output is in examples/helm
            for s in sources.iter().filter(|s| !matches!(s, Source::Chart(_))) {
                let (name, text) = read_source(s, u64::MAX).unwrap();
                let objects = load_str(&name, &text).objects;
                all.extend(objects.iter().cloned());
                groups.push(objects);
            }
            groups.push(all);
            for whole in groups {
                // each analysis on objects slimmed to what it alone declares it reads
                let analyses: [(&str, Reads, &Analysis); 3] = [
                    ("catalog", rampart_rules::READS, &|o| {
                        catalog.check_across(o)
                    }),
                    ("netpol", rampart_netpol::READS, &|o| {
                        rampart_netpol::gaps(o)
                    }),
                    ("rbac", rampart_rbac::READS, &|o| {
                        rampart_rbac::scan_findings(o)
                    }),
                ];
                for (name, reads, analysis) in analyses {
                    let keep = Keep::of(&[reads]);
                    let slim: Vec<_> = whole.iter().cloned().map(|o| o.slim(&keep)).collect();
                    let a = analysis(&whole);
                    let b = analysis(&slim);
                    let missing: Vec<_> = a.iter().filter(|f| !b.contains(f)).collect();
                    assert!(missing.is_empty(), "{name} in {dir}: {missing:#?}");
                    assert_eq!(a.len(), b.len(), "{name} in {dir}");
                    compared += a.len();
                }
                let slim: Vec<_> = whole.iter().cloned().map(|o| o.slim(slim_keep())).collect();
                assert_eq!(
                    across_findings(&catalog, &whole),
                    across_findings(&catalog, &slim),
                    "in {dir}"
                );
            }
        }
        assert!(compared > 100, "only {compared} findings compared");
    }

    /// Objects handed over already loaded give what the files give.
    #[test]
    fn scan_objects_agrees_with_scan() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let catalog = Catalog::new(rampart_rules::Config::default()).unwrap();
        let opts = ScanOptions {
            max_file_size: u64::MAX,
            ..ScanOptions::default()
        };
        let from_files = scan(std::slice::from_ref(&root), &catalog, &opts);
        let loaded = rampart_manifest::load_paths(&[root]);
        let from_objects = scan_objects(loaded.objects, &catalog, &opts);
        assert!(from_files.findings.len() > 100);
        assert_eq!(from_files.findings, from_objects.findings);
    }
}
