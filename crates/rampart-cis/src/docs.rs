//! Check documentation, and the standalone configuration documents the benchmark reads:
//! `EncryptionConfiguration`, `AdmissionConfiguration` and kubeconfig files.

use crate::items::{Item, Rule};
use crate::model::Doc;
use crate::verdict::Verdict;
use serde_json::Value;

/// The markdown documentation of an item.
pub fn render(item: &Item, default_note: &str) -> String {
    let mut what = format!("Flags: {}.", item.title.trim_end_matches('.'));
    if let Some(c) = item.component {
        what.push_str(&format!(
            " Reads `{}`'s command line (static Pod manifest or running process){}.",
            c.name(),
            if c == crate::Component::Kubelet {
                ", its `--config` file and `--config-dir` drop-ins"
            } else {
                ""
            }
        ));
    }
    if matches!(item.rule, Rule::Perm(..) | Rule::Owner(..)) {
        what.push_str(" Checked by `rampart node` on the node's files.");
    }
    if !default_note.is_empty() {
        what.push_str("\n\n");
        what.push_str(default_note);
    }
    let cis = if item.cis.is_empty() {
        String::new()
    } else {
        format!("- CIS Kubernetes Benchmark v1.12, item {}\n", item.cis)
    };
    let component_ref = item
        .component
        .map(|c| {
            format!(
                "- https://kubernetes.io/docs/reference/command-line-tools-reference/{}/\n",
                c.name()
            )
        })
        .unwrap_or_default();
    let topic = if item.slug.starts_with("kubeconfig-") {
        "- https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/\n"
    } else if item.slug.starts_with("admission-pod-security") {
        "- https://kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-admission-controller/\n"
    } else if item.slug.contains("encryption") {
        "- https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/\n"
    } else {
        ""
    };
    format!(
        "## What it does\n{what}\n\n## Why is this bad?\n{}\n\n## Remediation\n{}\n\n## References\n{cis}{component_ref}{topic}",
        item.why, item.fix
    )
}

const GOOD_PROVIDERS: &[&str] = &["aescbc", "aesgcm", "secretbox", "kms"];

/// Keys published in the Kubernetes documentation and tutorials.
const EXAMPLE_KEYS: &[&str] = &[
    "c2VjcmV0IGlzIHNlY3VyZQ==",
    "dGhpcyBpcyBwYXNzd29yZA==",
    "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=",
    "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=",
];

fn looks_like_example(secret: &str) -> bool {
    if EXAMPLE_KEYS.contains(&secret) || secret.contains("BASE 64") || secret.contains("<") {
        return true;
    }
    let distinct: std::collections::HashSet<char> = secret.trim_end_matches('=').chars().collect();
    distinct.len() <= 4
}

/// Verdicts on an `EncryptionConfiguration`: whether `secrets` are covered and encrypted by the
/// first provider with a strong provider and a key that is not an example.
pub fn encryption(d: &Doc) -> Vec<Verdict> {
    let mut out = Vec::new();
    let file = &d.file;
    let Some(resources) = d.value.get("resources").and_then(Value::as_array) else {
        return vec![Verdict::fail(
            format!(
                "{file}: the encryption configuration has no resources, so Secrets are stored in plaintext"
            ),
            d.loc("/resources"),
        )];
    };
    let mut covered = false;
    for (i, r) in resources.iter().enumerate() {
        let names: Vec<&str> = r
            .get("resources")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let secrets = names
            .iter()
            .any(|n| matches!(*n, "secrets" | "*.*" | "*." | "secrets."));
        if !secrets {
            continue;
        }
        // The API server uses the first entry that names the resource.
        if covered {
            break;
        }
        covered = true;
        let providers = r.get("providers").and_then(Value::as_array);
        let Some((name, body)) = providers
            .and_then(|p| p.first())
            .and_then(Value::as_object)
            .and_then(|m| m.iter().next())
        else {
            out.push(Verdict::fail(
                format!("{file}: resources[{i}] covers secrets but has no providers"),
                d.loc(&format!("/resources/{i}/providers")),
            ));
            continue;
        };
        let ptr = format!("/resources/{i}/providers/0/{name}");
        if name == "identity" {
            out.push(Verdict::fail(
                format!("{file}: the first provider for secrets is identity, so new Secrets are stored in plaintext"),
                d.loc(&ptr),
            ));
            continue;
        }
        if !GOOD_PROVIDERS.contains(&name.as_str()) {
            out.push(Verdict::fail(
                format!("{file}: the first provider for secrets is {name}; use kms, aescbc, aesgcm or secretbox"),
                d.loc(&ptr),
            ));
            continue;
        }
        if name == "kms" && body.get("apiVersion").and_then(Value::as_str) != Some("v2") {
            out.push(Verdict::pass(
                format!("{file}: secrets are encrypted with kms v1 (deprecated; prefer kms v2)"),
                Some(d.loc(&ptr)),
            ));
            continue;
        }
        let keys = body.get("keys").and_then(Value::as_array);
        let mut bad_key = false;
        for (k, key) in keys.into_iter().flatten().enumerate() {
            if let Some(secret) = key.get("secret").and_then(Value::as_str)
                && looks_like_example(secret)
            {
                bad_key = true;
                out.push(Verdict::fail(
                    format!(
                        "{file}: key {:?} of {name} looks like an example key",
                        key.get("name").and_then(Value::as_str).unwrap_or("")
                    ),
                    d.loc(&format!("{ptr}/keys/{k}/secret")),
                ));
            }
        }
        if !bad_key {
            out.push(Verdict::pass(
                format!("{file}: secrets are encrypted with {name}"),
                Some(d.loc(&ptr)),
            ));
        }
    }
    if !covered {
        out.push(Verdict::fail(
            format!(
                "{file}: no resources entry covers secrets, so Secrets are stored in plaintext"
            ),
            d.loc("/resources"),
        ));
    }
    out
}

/// Verdicts on the PodSecurity plugin's defaults in an `AdmissionConfiguration`.
pub fn admission_pod_security(d: &Doc) -> Vec<Verdict> {
    let Some(plugins) = d.value.get("plugins").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, p) in plugins.iter().enumerate() {
        if p.get("name").and_then(Value::as_str) != Some("PodSecurity") {
            continue;
        }
        let ptr = format!("/plugins/{i}/configuration/defaults/enforce");
        let level = d
            .value
            .pointer(&ptr)
            .and_then(Value::as_str)
            .unwrap_or("privileged");
        if level == "privileged" {
            out.push(Verdict::fail(
                format!(
                    "{}: PodSecurity enforces the privileged level on namespaces without labels",
                    d.file
                ),
                d.loc(&ptr),
            ));
        } else {
            out.push(Verdict::pass(
                format!("PodSecurity enforces {level} by default"),
                Some(d.loc(&ptr)),
            ));
        }
    }
    out
}

/// Verdicts on a kubeconfig: (static credentials, insecure TLS).
pub fn kubeconfig(d: &Doc) -> (Vec<Verdict>, Vec<Verdict>) {
    let mut creds = Vec::new();
    let mut tls = Vec::new();
    for (i, u) in d
        .value
        .get("users")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = u.get("name").and_then(Value::as_str).unwrap_or("");
        for field in ["token", "tokenFile", "password"] {
            if u.pointer(&format!("/user/{field}")).is_some() {
                creds.push(Verdict::fail(
                    format!("{}: user {name:?} has a static {field}", d.file),
                    d.loc(&format!("/users/{i}/user/{field}")),
                ));
            }
        }
    }
    for (i, c) in d
        .value
        .get("clusters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if c.pointer("/cluster/insecure-skip-tls-verify")
            .and_then(Value::as_bool)
            == Some(true)
        {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            tls.push(Verdict::fail(
                format!("{}: cluster {name:?} skips TLS verification", d.file),
                d.loc(&format!("/clusters/{i}/cluster/insecure-skip-tls-verify")),
            ));
        }
    }
    (creds, tls)
}
