//! The metadata record every reportable slug has, whichever analyzer emits it.
//!
//! Each analyzer crate lists its own slugs as [`CheckInfo`] records; the engine gathers them into
//! one registry that `rampart checks`, `rampart explain`, `.rampart.yaml`, ignore annotations and
//! the webhook's per-check actions validate against.
//!
//! ```
//! use rampart_core::{CheckInfo, Origin, Severity};
//! let c = CheckInfo::new("apiserver-anonymous-auth", Severity::High, Origin::ControlPlane,
//!         "The API server accepts anonymous requests")
//!     .doc("## What it does\nFlags `--anonymous-auth=true` (the default).\n")
//!     .cis(["1.2.1"])
//!     .alias("anonymous-auth");
//! assert_eq!(c.cis, ["1.2.1"]);
//! assert!(c.answers_to("anonymous-auth"));
//! ```

use crate::Severity;
use serde::Serialize;
use std::borrow::Cow;

/// Which part of rampart reports a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The per-object and cross-object manifest catalog.
    Manifest,
    /// Pod Security Standards controls.
    Pss,
    /// RBAC grants, roles and escalation paths.
    Rbac,
    /// NetworkPolicy isolation gaps.
    Netpol,
    /// Gatekeeper, ValidatingAdmissionPolicy and Kyverno policy results.
    Policy,
    /// Audit-policy lint.
    Audit,
    /// API server, controller manager, scheduler and etcd configuration (CIS section 1 and 2).
    ControlPlane,
    /// Kubelet configuration and node files (CIS section 4).
    Node,
    /// Image references, signatures and vulnerabilities.
    Images,
    /// Live-cluster posture (admission webhooks, audit, exposure).
    Cluster,
    /// End-to-end attack paths.
    Paths,
    /// What the Kubernetes API shows of the cloud underneath: the instance metadata service
    /// pods can reach, cloud identities ServiceAccounts assume.
    Cloud,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Manifest => "manifest",
            Origin::Pss => "pss",
            Origin::Rbac => "rbac",
            Origin::Netpol => "netpol",
            Origin::Policy => "policy",
            Origin::Audit => "audit",
            Origin::ControlPlane => "control-plane",
            Origin::Node => "node",
            Origin::Images => "images",
            Origin::Cluster => "cluster",
            Origin::Paths => "paths",
            Origin::Cloud => "cloud",
        }
    }

    /// A heading for listings.
    pub fn title(self) -> &'static str {
        match self {
            Origin::Manifest => "manifest checks",
            Origin::Pss => "Pod Security Standards (with --pss-level or `pss:` in .rampart.yaml)",
            Origin::Rbac => "RBAC risks and escalation paths",
            Origin::Netpol => "NetworkPolicy gaps",
            Origin::Policy => "admission policies",
            Origin::Audit => "audit policy",
            Origin::ControlPlane => "control plane (CIS Kubernetes Benchmark sections 1 and 2)",
            Origin::Node => "nodes and kubelet (CIS Kubernetes Benchmark section 4)",
            Origin::Images => "images and supply chain",
            Origin::Cluster => "live cluster posture",
            Origin::Paths => "attack paths",
            Origin::Cloud => "cloud (as the Kubernetes API shows it)",
        }
    }
}

/// One reportable slug's identity and documentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckInfo {
    /// Stable slug, e.g. `privileged-container`.
    pub slug: Cow<'static, str>,
    /// The default severity (the highest it is reported at, for checks whose severity varies).
    pub severity: Severity,
    /// One line for `rampart checks`.
    pub title: Cow<'static, str>,
    /// Markdown: `## What it does`, `## Why is this bad?`, `## Remediation`, `## References`.
    pub doc: Cow<'static, str>,
    /// Links and standards the documentation cites.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Cow<'static, str>>,
    /// CIS Kubernetes Benchmark item numbers, e.g. `1.2.1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cis: Vec<Cow<'static, str>>,
    /// Former slugs and other tools' names that resolve to this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Cow<'static, str>>,
    pub origin: Origin,
}

impl CheckInfo {
    pub fn new(
        slug: impl Into<Cow<'static, str>>,
        severity: Severity,
        origin: Origin,
        title: impl Into<Cow<'static, str>>,
    ) -> CheckInfo {
        CheckInfo {
            slug: slug.into(),
            severity,
            title: title.into(),
            doc: Cow::Borrowed(""),
            references: Vec::new(),
            cis: Vec::new(),
            aliases: Vec::new(),
            origin,
        }
    }

    pub fn doc(mut self, doc: impl Into<Cow<'static, str>>) -> CheckInfo {
        self.doc = doc.into();
        self
    }

    pub fn references<I, S>(mut self, refs: I) -> CheckInfo
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'static, str>>,
    {
        self.references.extend(refs.into_iter().map(Into::into));
        self
    }

    pub fn cis<I, S>(mut self, items: I) -> CheckInfo
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'static, str>>,
    {
        self.cis.extend(items.into_iter().map(Into::into));
        self
    }

    pub fn alias(mut self, alias: impl Into<Cow<'static, str>>) -> CheckInfo {
        self.aliases.push(alias.into());
        self
    }

    /// Whether `name` is this check's slug or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.slug == name || self.aliases.iter().any(|a| a == name)
    }

    /// The `## <title>` section of the documentation, wrapped lines joined.
    pub fn section(&self, title: &str) -> Option<String> {
        let heading = format!("## {title}");
        let mut out = String::new();
        for l in self
            .doc
            .lines()
            .skip_while(|l| l.trim() != heading)
            .skip(1)
            .take_while(|l| !l.starts_with("## "))
        {
            let t = l.trim();
            if t.starts_with("- ") && !out.is_empty() {
                out.push('\n');
            } else if !out.is_empty() && !t.is_empty() {
                out.push(' ');
            }
            out.push_str(t);
        }
        let out = out.trim().to_string();
        (!out.is_empty()).then_some(out)
    }
}

/// The CIS Kubernetes Benchmark item numbers a list of references cites
/// (`CIS Kubernetes Benchmark 5.1.1`).
pub fn cis_ids<S: AsRef<str>>(references: &[S]) -> Vec<String> {
    references
        .iter()
        .filter_map(|r| r.as_ref().strip_prefix("CIS Kubernetes Benchmark "))
        .flat_map(|rest| rest.split([',', ' ']))
        .map(|id| id.trim_matches(|c: char| !c.is_ascii_digit()))
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_join_wrapped_lines_and_keep_bullets() {
        let c = CheckInfo::new("x", Severity::Low, Origin::Manifest, "t")
            .doc("## What it does\nFlags a\nthing.\n\n## References\n- one\n- two\n  wrapped\n");
        assert_eq!(c.section("What it does").as_deref(), Some("Flags a thing."));
        assert_eq!(
            c.section("References").as_deref(),
            Some("- one\n- two wrapped")
        );
        assert_eq!(c.section("Remediation"), None);
        assert_eq!(
            cis_ids(&["CIS Kubernetes Benchmark 5.1.1, 5.1.3", "NSA guide"]),
            ["5.1.1", "5.1.3"]
        );
        assert!(!c.answers_to("y"));
    }
}
