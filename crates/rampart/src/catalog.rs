//! Every slug `rampart scan` can report: the check catalog and the analyzers' findings.

use rampart_core::Severity;
use rampart_report::RuleMeta;

/// One reportable check, from any source.
#[derive(Debug, Clone)]
pub struct Entry {
    pub slug: String,
    pub severity: Severity,
    pub summary: String,
    /// Markdown documentation.
    pub doc: String,
    /// Which part of rampart reports it: `checks`, `pss`, `netpol`, `rbac`.
    pub source: &'static str,
}

/// The catalog, then PSS, NetworkPolicy and RBAC findings, each sorted by slug.
pub fn entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = rampart_rules::all_checks()
        .into_iter()
        .map(|m| Entry {
            slug: m.slug.to_string(),
            severity: m.severity,
            summary: m.summary.to_string(),
            doc: m.markdown(),
            source: "checks",
        })
        .collect();
    let mut pss: Vec<Entry> = rampart_pss::CHECKS
        .iter()
        .map(|c| Entry {
            slug: rampart_pss::finding_slug(c.id),
            severity: rampart_pss::severity(c.id),
            summary: format!("Pod Security Standards: {}", c.summary),
            doc: c.doc.to_string(),
            source: "pss",
        })
        .collect();
    pss.sort_by(|a, b| a.slug.cmp(&b.slug));
    out.extend(pss);
    out.extend(rampart_netpol::GAP_CHECKS.iter().map(|g| Entry {
        slug: g.slug.to_string(),
        severity: g.severity,
        summary: g.summary.to_string(),
        doc: g.doc.to_string(),
        source: "netpol",
    }));
    let mut rbac: Vec<Entry> = rampart_rbac::Capability::ALL
        .iter()
        .map(|c| Entry {
            slug: c.slug().to_string(),
            severity: c.severity(true),
            summary: format!("A subject can {}", c.what()),
            doc: format!(
                "## What it does\nFlags every subject (user, group or ServiceAccount) that the RBAC objects in the input — \
                 and the bootstrap roles — allow to {}, with the binding and rule that grant it. Cluster-wide grants are \
                 reported at the severity shown, namespaced ones one step lower.\n\n## Remediation\nNarrow the role or \
                 the binding; `rampart rbac who-can` and `rampart rbac paths` show who holds it and what it leads to.",
                c.what()
            ),
            source: "rbac",
        })
        .collect();
    rbac.push(Entry {
        slug: "rbac-escalation-path".to_string(),
        severity: Severity::Critical,
        summary: "A pod's ServiceAccount token leads to cluster-admin power or all Secrets".to_string(),
        doc: "## What it does\nFollows the attack chain from every pod that mounts a ServiceAccount token: what the token \
              can do, which further identities it can become (creating pods with another ServiceAccount, reading token \
              Secrets, impersonating, binding roles), and reports the shortest path to cluster-admin-equivalent power or \
              to reading Secrets.\n\n## Remediation\nBreak the chain at its first step: stop mounting the token, or remove \
              the grant that lets the identity become a more privileged one. `rampart rbac paths` draws the graph."
            .to_string(),
        source: "rbac",
    });
    rbac.sort_by(|a, b| a.slug.cmp(&b.slug));
    out.extend(rbac);
    out
}

/// The catalog in the report layer's terms (SARIF rules, help text).
pub fn rule_metas() -> Vec<RuleMeta> {
    entries()
        .into_iter()
        .map(|e| RuleMeta {
            slug: e.slug,
            severity: e.severity,
            summary: e.summary,
            help_markdown: e.doc,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn slugs_are_unique_across_sources() {
        let mut seen = HashSet::new();
        for e in entries() {
            assert!(
                seen.insert(e.slug.clone()),
                "{} ({}) is declared twice",
                e.slug,
                e.source
            );
        }
        assert!(seen.len() >= 100, "only {} checks", seen.len());
    }
}
