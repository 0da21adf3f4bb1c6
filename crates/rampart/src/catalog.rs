//! The registry in the report layer's terms (SARIF rules, help text).

use rampart_report::RuleMeta;

/// Every registered check as a report rule.
pub fn rule_metas() -> Vec<RuleMeta> {
    rampart_engine::registry()
        .iter()
        .map(|e| RuleMeta {
            slug: e.slug.to_string(),
            severity: e.severity,
            summary: e.title.to_string(),
            help_markdown: e.doc.to_string(),
            cis: e.cis.iter().map(|c| c.to_string()).collect(),
        })
        .collect()
}
