//! Kyverno policies on resources, through the engine `scan`, `serve` and `policy apply` share:
//! any policy text and any resource text either load (and then evaluate, mutate, generate
//! and report) or give errors. Never a panic, never a hang.
//!
//! The input is the policy YAML, a NUL byte, then the resource YAML. Seed it with policies and
//! resources (`fuzz/seeds/kyverno/`, made from `crates/rampart-kyverno/tests/cases/` by
//! `fuzz/seeds/kyverno.sh`) so that mutations reach JMESPath, patterns, anchors, variables,
//! foreach, CEL and mutation rather than stopping at the YAML parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_kyverno::{AdmissionInfo, PolicySet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (policy, resource) = text.split_once('\0').unwrap_or((text, ""));
    let (set, _errors) = PolicySet::from_str("policy.yaml", policy);
    if set.is_empty() {
        return;
    }
    let loaded = rampart_manifest::load_str("resource.yaml", resource);
    for obj in loaded.objects.iter().take(4) {
        let info = AdmissionInfo::default();
        let _ = set.evaluate(&obj.value, &info);
        let _ = set.evaluate_background(&obj.value, &info);
        let _ = set.evaluate_in_cli_order(&obj.value, |_, _| AdmissionInfo::default());
    }
});
