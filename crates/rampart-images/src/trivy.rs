//! Trivy's JSON report (schema version 2), attached to the workloads that run each image.

use crate::Error;
use crate::list::image_uses;
use crate::reference::Reference;
use rampart_core::{CheckInfo, Finding, Origin, Severity};
use rampart_manifest::Object;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The slug for images with critical vulnerabilities.
pub const CRITICAL: &str = "image-critical-vulnerabilities";
/// The slug for images with high-severity vulnerabilities (and no critical one).
pub const HIGH: &str = "image-high-vulnerabilities";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawReport {
    schema_version: Option<u32>,
    artifact_name: Option<String>,
    #[serde(default)]
    results: Vec<RawResult>,
    /// `trivy k8s --format json` wraps per-resource reports.
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawResource {
    #[serde(default)]
    results: Vec<RawResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawResult {
    #[serde(default)]
    target: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    vulnerabilities: Option<Vec<Vulnerability>>,
}

/// The image a cluster report's resource runs: its OS packages' target, `nginx:1.25 (debian
/// 12.5)`, without the distribution.
fn resource_image(results: &[RawResult]) -> Option<String> {
    results
        .iter()
        .find(|r| r.class == "os-pkgs")
        .and_then(|r| r.target.split(" (").next())
        .map(str::to_string)
}

/// One vulnerability of Trivy's report.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    pub vulnerability_id: String,
    #[serde(default)]
    pub pkg_name: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub fixed_version: Option<String>,
    /// Absent in per-image reports (the report's `ArtifactName` is the image).
    #[serde(default)]
    pub artifact_name: Option<String>,
}

impl Vulnerability {
    pub fn fixable(&self) -> bool {
        self.fixed_version.as_deref().is_some_and(|v| !v.is_empty())
    }
}

/// Counts of one image's vulnerabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageVulns {
    /// Per severity (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `UNKNOWN`): (total, fixable).
    pub counts: BTreeMap<String, (u32, u32)>,
    /// The critical and high vulnerability ids, fixable first, at most five.
    pub worst: Vec<String>,
}

/// A parsed report: vulnerabilities per image (keyed by the normalised reference).
#[derive(Debug, Clone, Default)]
pub struct TrivyReport {
    pub images: BTreeMap<String, ImageVulns>,
}

/// Parses Trivy's JSON report; `name` is used in errors.
pub fn parse_report(name: &str, text: &str) -> Result<TrivyReport, Error> {
    let raw: RawReport = serde_json::from_str(text).map_err(|e| Error::Input {
        file: name.to_string(),
        line: u32::try_from(e.line()).unwrap_or(0),
        column: u32::try_from(e.column()).unwrap_or(0),
        message: format!("not a Trivy JSON report: {e}"),
    })?;
    if raw.schema_version.is_some_and(|v| v != 2) {
        return Err(Error::Input {
            file: name.to_string(),
            line: 0,
            column: 0,
            message: format!(
                "Trivy report SchemaVersion {} is not supported (2 is)",
                raw.schema_version.unwrap_or(0)
            ),
        });
    }
    let mut vulns: BTreeMap<String, Vec<Vulnerability>> = BTreeMap::new();
    // A per-image report's results, then a cluster report's resources with their image.
    let results = raw
        .results
        .iter()
        .map(|r| (r, None))
        .chain(raw.resources.iter().flat_map(|res| {
            let image = resource_image(&res.results);
            res.results.iter().map(move |r| (r, image.clone()))
        }));
    for (result, image) in results {
        for v in result.vulnerabilities.iter().flatten() {
            let Some(artifact) = v
                .artifact_name
                .as_ref()
                .or(image.as_ref())
                .or(raw.artifact_name.as_ref())
            else {
                continue;
            };
            vulns
                .entry(normalise(artifact))
                .or_default()
                .push(v.clone());
        }
    }
    let images = vulns
        .into_iter()
        .map(|(image, mut vs)| {
            vs.sort_by(|a, b| a.vulnerability_id.cmp(&b.vulnerability_id));
            vs.dedup_by(|a, b| {
                a.vulnerability_id == b.vulnerability_id && a.pkg_name == b.pkg_name
            });
            let mut iv = ImageVulns::default();
            for v in &vs {
                let c = iv
                    .counts
                    .entry(v.severity.to_ascii_uppercase())
                    .or_default();
                c.0 += 1;
                c.1 += u32::from(v.fixable());
            }
            let mut worst: Vec<&Vulnerability> = vs
                .iter()
                .filter(|v| {
                    matches!(
                        v.severity.to_ascii_uppercase().as_str(),
                        "CRITICAL" | "HIGH"
                    )
                })
                .collect();
            worst.sort_by_key(|v| (!v.severity.eq_ignore_ascii_case("CRITICAL"), !v.fixable()));
            iv.worst =
                worst
                    .iter()
                    .map(|v| v.vulnerability_id.clone())
                    .fold(Vec::new(), |mut acc, id| {
                        if !acc.contains(&id) && acc.len() < 5 {
                            acc.push(id);
                        }
                        acc
                    });
            (image, iv)
        })
        .collect();
    Ok(TrivyReport { images })
}

/// The normalised form of an image name, so `nginx:1.25` in the report matches
/// `docker.io/library/nginx:1.25` in a manifest; unparsable names are kept as they are.
fn normalise(image: &str) -> String {
    Reference::parse(image).map_or_else(|_| image.to_string(), |r| r.to_string())
}

fn count(iv: &ImageVulns, sev: &str) -> (u32, u32) {
    iv.counts.get(sev).copied().unwrap_or((0, 0))
}

/// One finding per container whose image has critical (or else high) vulnerabilities in the
/// report, located at the container's `image` field.
pub fn trivy_findings(objects: &[Object], report: &TrivyReport) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in image_uses(objects) {
        let key = match &u.reference {
            Ok(r) => r.to_string(),
            Err(_) => u.image.clone(),
        };
        // A pinned image in the manifest may be reported by tag or by digest.
        let iv = report.images.get(&key).or_else(|| {
            let r = u.reference.as_ref().ok()?;
            let by_tag = Reference {
                digest: None,
                ..r.clone()
            };
            let by_digest = Reference {
                tag: None,
                ..r.clone()
            };
            report
                .images
                .get(&by_tag.to_string())
                .or_else(|| report.images.get(&by_digest.to_string()))
        });
        let Some(iv) = iv else { continue };
        let (crit, crit_fix) = count(iv, "CRITICAL");
        let (high, high_fix) = count(iv, "HIGH");
        let (slug, severity, what) = if crit > 0 {
            (
                CRITICAL,
                Severity::Critical,
                format!("{crit} critical ({crit_fix} fixable)"),
            )
        } else if high > 0 {
            (
                HIGH,
                Severity::High,
                format!("{high} high ({high_fix} fixable)"),
            )
        } else {
            continue;
        };
        let mut summary: Vec<String> = Vec::new();
        for sev in ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] {
            let (n, f) = count(iv, sev);
            if n > 0 {
                summary.push(format!("{} {n} ({f} fixable)", sev.to_ascii_lowercase()));
            }
        }
        let message = format!(
            "{} {:?} runs image {} with {what} vulnerabilities [{}]; worst: {}",
            u.container_kind,
            u.container,
            u.image,
            summary.join(", "),
            iv.worst.join(", ")
        );
        out.push(
            Finding::new(slug, severity, message)
                .with_object(u.object.clone())
                .with_location(u.location.clone())
                .with_remediation(
                    "Rebuild the image on a patched base or upgrade the packages Trivy lists with a FixedVersion, then pin the new digest.",
                ),
        );
    }
    out
}

/// Every slug this crate can report.
pub fn checks() -> Vec<CheckInfo> {
    vec![
        CheckInfo::new(
            CRITICAL,
            Severity::Critical,
            Origin::Images,
            "A workload runs an image with critical vulnerabilities (Trivy report)",
        )
        .doc(
            "## What it does\nReads a Trivy JSON report (`--trivy FILE`, schema version 2) and flags every container whose image has at least one CRITICAL vulnerability, with counts by severity, how many are fixable and the worst CVEs.\n\n## Why is this bad?\nA critical vulnerability in a running image is the likeliest way in; an internet-exposed workload with a fixable critical CVE is an entry point an attacker can use today.\n\n## Remediation\nUpgrade the affected packages or rebuild on a patched base image, push it, and pin the new digest (`rampart images pin`).\n\n## References\n- https://trivy.dev/latest/docs/configuration/reporting/#json\n- https://kubernetes.io/docs/concepts/security/security-checklist/#images\n",
        )
        .references(["https://trivy.dev/latest/docs/configuration/reporting/#json"]),
        CheckInfo::new(
            HIGH,
            Severity::High,
            Origin::Images,
            "A workload runs an image with high-severity vulnerabilities (Trivy report)",
        )
        .doc(
            "## What it does\nReads a Trivy JSON report (`--trivy FILE`, schema version 2) and flags every container whose image has HIGH vulnerabilities and no CRITICAL one, with counts by severity and how many are fixable.\n\n## Why is this bad?\nHigh-severity vulnerabilities are routinely exploited once public; images that carry them widen the attack surface of every pod that runs them.\n\n## Remediation\nUpgrade the affected packages or rebuild on a patched base image, push it, and pin the new digest (`rampart images pin`).\n\n## References\n- https://trivy.dev/latest/docs/configuration/reporting/#json\n",
        )
        .references(["https://trivy.dev/latest/docs/configuration/reporting/#json"]),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn attaches_counts_to_the_workloads() {
        let report = parse_report(
            "report.json",
            include_str!("../tests/fixtures/trivy-report.json"),
        )
        .unwrap();
        let iv = &report.images["docker.io/library/nginx:1.25"];
        assert_eq!(iv.counts["CRITICAL"], (2, 1));
        assert_eq!(iv.counts["HIGH"], (1, 0));
        assert_eq!(
            iv.worst,
            ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"]
        );
        let text = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
        - name: side
          image: ghcr.io/acme/side:2.0
        - name: clean
          image: ghcr.io/acme/clean:1.0
";
        let loaded = rampart_manifest::load_str("d.yaml", text);
        let f = trivy_findings(&loaded.objects, &report);
        let got: Vec<_> = f
            .iter()
            .map(|f| {
                let l = f.location.as_ref().unwrap();
                format!("{}:{} {} {}", l.line, l.column, f.check, f.message)
            })
            .collect();
        assert_eq!(
            got,
            [
                "9:11 image-critical-vulnerabilities container \"web\" runs image nginx:1.25 with 2 critical (1 fixable) vulnerabilities [critical 2 (1 fixable), high 1 (0 fixable), medium 1 (1 fixable)]; worst: CVE-2024-0001, CVE-2024-0002, CVE-2024-0003",
                "11:11 image-high-vulnerabilities container \"side\" runs image ghcr.io/acme/side:2.0 with 1 high (1 fixable) vulnerabilities [high 1 (1 fixable)]; worst: CVE-2023-1111",
            ]
        );
        assert_eq!(f[0].object.as_ref().unwrap().name, "web");
    }

    #[test]
    fn reads_cluster_reports() {
        let report = parse_report(
            "cluster.json",
            include_str!("../tests/fixtures/trivy-cluster-report.json"),
        )
        .unwrap();
        let iv = &report.images["registry.example/shop/api:3.1"];
        assert_eq!(iv.counts["CRITICAL"], (1, 1));
        assert_eq!(iv.counts["HIGH"], (1, 0));
        assert_eq!(iv.worst, ["CVE-2025-1000", "CVE-2025-2000"]);
        assert_eq!(report.images.len(), 1);
    }

    #[test]
    fn rejects_other_schemas_and_bad_json() {
        let e = parse_report("r.json", r#"{"SchemaVersion": 1}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.json: Trivy report SchemaVersion 1 is not supported (2 is)"
        );
        let e = parse_report("r.json", "{\n  \"Results\": 3\n}").unwrap_err();
        assert!(e.to_string().starts_with("r.json:2:"), "{e}");
    }

    #[test]
    fn every_slug_has_a_record() {
        let c = checks();
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.doc.contains("## Remediation")));
    }
}
