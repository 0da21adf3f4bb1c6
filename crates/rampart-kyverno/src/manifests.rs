//! `validate.manifests`: a resource signed as `kubectl sigstore sign` (k8s-manifest-sigstore)
//! signs it, checked as Kyverno checks it.
//!
//! The signer puts the manifest in the `<domain>/message` annotation (base64 of a gzip of the
//! YAML, or of a gzipped tar of YAML files) and a signature of the message's gunzipped bytes in
//! `<domain>/signature`, `<domain>/signature_1`, … (`cosign.sigstore.dev` unless
//! `annotationDomain` says otherwise). The rule passes when every attestor set has `count`
//! entries (all when unset) that verify: some signature verifies with the entry's key, and
//! the resource is the signed manifest, field by field, but for the ignored fields (the
//! signature annotations, what the API server fills in, Kyverno's and k8s-manifest-sigstore's
//! default lists, and the rule's `ignoreFields`).
//!
//! Outcomes, as Kyverno reports them: no message, or no signed manifest of the resource's kind,
//! or no signature is a failure; a resource that differs from its manifest fails with the
//! diff; a signature no key of an entry verifies is an error for that entry (a pass when enough
//! other entries verify). A dry-run request passes.
//!
//! Offline only: signatures made with a key given in the policy (PEM). Keyless and
//! certificate attestors, signatures that carry a certificate or a Rekor bundle, key
//! references (`k8s://`, KMS), PGP keys, signed bundles in a registry (`repository`) and
//! `dryRun` matching (which creates the manifest in the cluster) are errors that say so,
//! never a pass.

use crate::engine::Eval;
use crate::{AdmissionInfo, Status};
use base64::Engine as _;
use rampart_images::keys::PublicKey;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

const DEFAULT_DOMAIN: &str = "cosign.sigstore.dev";

/// How many equally close manifests a value search keeps (k8s-manifest-sigstore's default).
const MAX_CANDIDATES: usize = 3;

/// Fields never compared, by the kinds they apply to (`*`: every kind): k8s-manifest-sigstore's
/// default configuration followed by Kyverno's.
const DEFAULT_IGNORE: &[(&str, &[&str])] = &[
    (
        "*",
        &[
            "metadata.managedFields.*",
            "metadata.resourceVersion",
            "metadata.selfLink",
            "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
            "metadata.annotations.namespace",
            "metadata.creationTimestamp",
            "metadata.generation",
            "metadata.uid",
            "metadata.finalizers",
            "metadata.labels.app.kubernetes.io/instance",
            "status",
        ],
    ),
    (
        "ServiceAccount",
        &["secrets.*.name", "imagePullSecrets.*.name"],
    ),
    (
        "Service",
        &[
            "spec.ports.*.nodePort",
            "spec.clusterIP",
            "spec.clusterIPs.0",
        ],
    ),
    (
        "Deployment",
        &["metadata.annotations.deployment.kubernetes.io/revision"],
    ),
    (
        "DaemonSet",
        &["metadata.annotations.deprecated.daemonset.template.generation"],
    ),
    ("route.openshift.io/Route", &["spec.host"]),
    (
        "*",
        &[
            "metadata.namespace",
            "spec.containers.*.imagePullPolicy",
            "spec.containers.*.terminationMessagePath",
            "spec.containers.*.terminationMessagePolicy",
            "spec.dnsPolicy",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.terminationGracePeriodSeconds",
            "metadata.labels.app.kubernetes.io/instance",
            "metadata.managedFields.*",
            "metadata.resourceVersion",
            "metadata.selfLink",
            "metadata.annotations.control-plane.alpha.kubernetes.io/leader",
            "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
            "metadata.finalizers*",
            "metadata.annotations.namespace",
            "metadata.annotations.deprecated.daemonset.template.generation",
            "metadata.creationTimestamp",
            "metadata.uid",
            "metadata.generation",
            "status",
            "metadata.annotations.deployment.kubernetes.io/revision",
        ],
    ),
    (
        "Pod",
        &[
            "spec.volumes.*.name",
            "spec.volumes.*.projected.*",
            "spec.volumes.*.configMap.defaultMode",
            "spec.containers.*.volumeMounts.*",
            "spec.tolerations.*",
            "spec.enableServiceLinks",
            "spec.preemptionPolicy",
            "spec.priority",
            "spec.serviceAccount",
        ],
    ),
    (
        "Deployment",
        &[
            "spec.progressDeadlineSeconds",
            "spec.revisionHistoryLimit",
            "spec.strategy.*",
            "spec.template.metadata.creationTimestamp",
            "spec.containers.*.ports.*.protocol",
            "spec.containers.*.resources",
            "spec.securityContext",
        ],
    ),
    (
        "CustomResourceDefinition",
        &["spec.conversion.strategy", "spec.names.listKind"],
    ),
    (
        "Service",
        &[
            "spec.ports.*.nodePort",
            "spec.clusterIP",
            "spec.clusterIPs.0",
            "spec.sessionAffinity",
            "spec.type",
            "spec.ipFamilies.*",
            "spec.ipFamilyPolicy",
            "spec.internalTrafficPolicy",
        ],
    ),
    (
        "ClusterPolicy",
        &[
            "metadata.annotations.pod-policies.kyverno.io/autogen-controllers",
            "spec.failurePolicy",
            "spec.background",
            "spec.validationFailureAction",
        ],
    ),
    (
        "Policy",
        &[
            "metadata.annotations.pod-policies.kyverno.io/autogen-controllers",
            "spec.failurePolicy",
            "spec.background",
            "spec.validationFailureAction",
        ],
    ),
    (
        "ServiceAccount",
        &["secrets.*.name", "imagePullSecrets.*.name"],
    ),
];

/// k8s-manifest-sigstore's pattern match: equal, `*`, empty, or with `*` as `.*` an
/// unanchored regular expression.
fn pattern_match(data: &str, pattern: &str) -> bool {
    Pattern::new(pattern).matches(data)
}

/// A pattern of [`pattern_match`], compiled once.
struct Pattern {
    text: String,
    re: Option<regex::Regex>,
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let re = if pattern.contains('*') && pattern != "*" {
            regex::Regex::new(&pattern.replace('*', ".*")).ok()
        } else {
            None
        };
        Pattern {
            text: pattern.to_string(),
            re,
        }
    }

    fn matches(&self, data: &str) -> bool {
        data == self.text
            || self.text == "*"
            || self.text.is_empty()
            || self.re.as_ref().is_some_and(|re| re.is_match(data))
    }
}

/// The fields left out for one resource: as masks (a field and what is below it, for the
/// diff) and as written (for the search by value).
struct Ignored {
    masks: Vec<Pattern>,
    fields: Vec<Pattern>,
}

impl Ignored {
    fn new(fields: &[String]) -> Ignored {
        Ignored {
            masks: fields
                .iter()
                .map(|f| Pattern::new(&format!("{f}*")))
                .collect(),
            fields: fields.iter().map(|f| Pattern::new(f)).collect(),
        }
    }

    /// Whether a difference at `key` is left out.
    fn covers(&self, key: &str) -> bool {
        self.masks.iter().any(|m| m.matches(key))
    }

    /// Whether a leaf at `key` is left out of the search by value.
    fn masks_leaf(&self, key: &str) -> bool {
        self.fields.iter().any(|m| m.matches(key))
    }
}

/// One difference between the signed manifest (`before`) and the resource (`after`).
#[derive(Debug, Clone, PartialEq)]
struct Difference {
    key: String,
    before: Option<Value>,
    after: Option<Value>,
}

/// The leaves of a document by dotted path (list items by index); null values and empty
/// maps and lists have none.
fn ravel(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    let child = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Null => {}
        Value::Object(m) => m.iter().for_each(|(k, x)| ravel(x, &child(k), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| ravel(x, &child(&i.to_string()), out)),
        leaf => {
            out.insert(path.to_string(), leaf.clone());
        }
    }
}

/// Leaf by leaf differences, without those of a list item that only moved (a leaf gone at one
/// index and the same value come at another index of the same path).
fn diff(manifest: &Value, resource: &Value) -> Vec<Difference> {
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    ravel(manifest, "", &mut before);
    ravel(resource, "", &mut after);
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let items: Vec<Difference> = keys
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| Difference {
            key: k.clone(),
            before: before.get(k).cloned(),
            after: after.get(k).cloned(),
        })
        .collect();
    // k8s-manifest-sigstore matches the keys as patterns with each `.N.` as `.\d+.`; the
    // same key shape with the indexes left out finds them without a pattern per key
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // an index between two segments (`.N.`) is any index; a first or last one is itself
    let shape = |k: &str| -> String {
        let segs: Vec<&str> = k.split('.').collect();
        let last = segs.len().saturating_sub(1);
        segs.iter()
            .enumerate()
            .map(|(i, seg)| {
                if i > 0 && i < last && numeric(seg) {
                    "#"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    };
    let indexed = |k: &str| shape(k) != k;
    // what was created and deleted, by shape and value: a deletion matched by a creation of
    // the same value (or the reverse) is an item that moved
    let mut created = std::collections::HashSet::new();
    let mut deleted = std::collections::HashSet::new();
    for item in &items {
        match (&item.before, &item.after) {
            (None, Some(v)) => created.insert((shape(&item.key), v.to_string())),
            (Some(v), None) => deleted.insert((shape(&item.key), v.to_string())),
            _ => false,
        };
    }
    items
        .iter()
        .filter(|item| {
            if !indexed(&item.key) {
                return true;
            }
            match (&item.before, &item.after) {
                (Some(v), None) => !created.contains(&(shape(&item.key), v.to_string())),
                (None, Some(v)) => !deleted.contains(&(shape(&item.key), v.to_string())),
                _ => true,
            }
        })
        .cloned()
        .collect()
}

fn diff_text(items: &[Difference]) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(
            |d| serde_json::json!({"key": d.key, "values": {"before": d.before, "after": d.after}}),
        )
        .collect();
    serde_json::json!({ "items": items }).to_string()
}

/// The ignored fields that apply to `resource`.
fn ignored_fields(rule: &Value, resource: &Value, domain: &str) -> Vec<String> {
    let text = |p: &str| resource.pointer(p).and_then(Value::as_str).unwrap_or("");
    let kind = text("/kind");
    let group = text("/apiVersion").rsplit_once('/').map_or("", |(g, _)| g);
    let mut out: Vec<String> = ["message", "signature", "certificate", "bundle"]
        .iter()
        .map(|k| format!("metadata.annotations.{domain}/{k}*"))
        .chain(std::iter::once(format!(
            "metadata.annotations.{domain}/resourceBundleRef*"
        )))
        .collect();
    for (of, fields) in DEFAULT_IGNORE {
        let (g, k) = of.split_once('/').unwrap_or(("", of));
        if pattern_match(kind, k) && (g.is_empty() || g == group) {
            out.extend(fields.iter().map(|f| f.to_string()));
        }
    }
    let name = text("/metadata/name");
    let namespace = text("/metadata/namespace");
    for binding in rule
        .get("ignoreFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let applies = binding
            .get("objects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|o| {
                let want = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
                pattern_match(group, want("group"))
                    && pattern_match(kind, want("kind"))
                    && pattern_match(name, want("name"))
                    && pattern_match(namespace, want("namespace"))
            });
        if applies {
            out.extend(rampart_manifest::string_list(binding.get("fields")));
        }
    }
    out
}

/// Why no signed manifest could be read: `NotFound` fails the entry, `Bad` is an error.
enum FetchError {
    NotFound(String),
    Bad(String),
}

/// The signed message (gunzipped, the bytes the signatures sign) and the manifests in it of
/// the resource's kind, closest first.
struct Signed {
    message: Vec<u8>,
    candidates: Vec<Value>,
}

/// The most a gzipped message may inflate to: annotations hold at most 256 KiB, and a
/// message that inflates past this is taken as not gzipped rather than read into memory.
const MAX_INFLATED: u64 = 64 << 20;

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= MAX_INFLATED).then_some(out)
}

/// The YAML documents of a message: its text, or the `.yaml`/`.yml` files of a gzipped tar.
fn documents(message: &[u8]) -> Result<Vec<Value>, String> {
    let parse = |name: &str, text: &str| -> Vec<Value> {
        rampart_manifest::parse_yaml(name, text)
            .0
            .into_iter()
            .map(|d| d.value)
            .filter(|v| v.get("apiVersion").is_some() && v.get("kind").is_some())
            .collect()
    };
    if let Ok(text) = std::str::from_utf8(message) {
        let docs = parse("message", text);
        if !docs.is_empty() {
            return Ok(docs);
        }
    }
    let tar = gunzip(message).ok_or("the message is neither YAML nor a gzipped tar")?;
    let mut docs = Vec::new();
    for (name, body) in tar_files(&tar)? {
        if (name.ends_with(".yaml") || name.ends_with(".yml"))
            && let Ok(text) = std::str::from_utf8(&body)
        {
            docs.extend(parse(&name, text));
        }
    }
    Ok(docs)
}

/// The regular files of a tar archive (ustar, with GNU long names and pax paths).
fn tar_files(tar: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let field = |h: &[u8], at: usize, len: usize| -> String {
        let raw = h.get(at..at + len).unwrap_or(&[]);
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(raw.get(..end).unwrap_or(&[])).into_owned()
    };
    let mut files = Vec::new();
    let mut at = 0;
    let mut long_name: Option<String> = None;
    while let Some(header) = tar.get(at..at + 512) {
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let size_text = field(header, 124, 12);
        let size = usize::from_str_radix(size_text.trim(), 8)
            .map_err(|_| format!("tar entry with a bad size `{size_text}`"))?;
        let body = tar
            .get(at + 512..at + 512 + size)
            .ok_or("truncated tar archive")?;
        let typeflag = header.get(156).copied().unwrap_or(b'0');
        let prefix = field(header, 345, 155);
        let name = long_name.take().unwrap_or_else(|| {
            let name = field(header, 0, 100);
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        });
        match typeflag {
            b'L' => long_name = Some(String::from_utf8_lossy(body).trim_end_matches('\0').into()),
            b'x' => {
                long_name = String::from_utf8_lossy(body)
                    .lines()
                    .find_map(|l| l.split_once(" path=").map(|(_, p)| p.to_string()));
            }
            b'0' | 0 => files.push((name, body.to_vec())),
            _ => {}
        }
        at += 512 + size.div_ceil(512) * 512;
    }
    Ok(files)
}

/// Reads the signed manifests of `resource` (k8s-manifest-sigstore's `BlobManifestFetcher`):
/// of its kind, the one of its group, kind and name (and namespace, among several), else up
/// to three that share the most field values with it.
fn fetch(resource: &Value, domain: &str, ignored: &Ignored) -> Result<Signed, FetchError> {
    let annotations = resource.pointer("/metadata/annotations");
    let Some(encoded) = annotations
        .and_then(|a| a.get(format!("{domain}/message")))
        .and_then(Value::as_str)
    else {
        return Err(FetchError::NotFound("message not found".into()));
    };
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| {
            FetchError::Bad(format!(
                "failed to decode base64 message in the annotation: {e}"
            ))
        })?;
    let message = gunzip(&zipped).unwrap_or(zipped);
    let docs = documents(&message).map_err(|e| {
        FetchError::Bad(format!("failed to read YAMLs in the gzipped message: {e}"))
    })?;
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let kind = text(resource, "/kind");
    let same_kind: Vec<Value> = docs
        .into_iter()
        .filter(|d| text(d, "/kind") == kind)
        .collect();
    if same_kind.is_empty() {
        return Err(FetchError::NotFound(
            "failed to find a YAML manifest in the gzipped message".into(),
        ));
    }
    let group = |v: &Value| {
        text(v, "/apiVersion")
            .rsplit_once('/')
            .map_or(String::new(), |(g, _)| g.to_string())
    };
    let named: Vec<&Value> = same_kind
        .iter()
        .filter(|d| {
            group(d) == group(resource)
                && text(d, "/metadata/name") == text(resource, "/metadata/name")
        })
        .collect();
    if let Some(first) = named.first() {
        let chosen = named
            .iter()
            .find(|d| text(d, "/metadata/namespace") == text(resource, "/metadata/namespace"))
            .filter(|_| named.len() > 1)
            .unwrap_or(first);
        return Ok(Signed {
            message,
            candidates: vec![(*chosen).clone()],
        });
    }
    Ok(Signed {
        message,
        candidates: closest(same_kind, resource, ignored),
    })
}

/// The manifests sharing the most field values with the resource (ignored fields aside), up
/// to three.
fn closest(docs: Vec<Value>, resource: &Value, ignored: &Ignored) -> Vec<Value> {
    let leaves = |v: &Value| {
        let mut m = BTreeMap::new();
        ravel(v, "", &mut m);
        m.retain(|k, _| !ignored.masks_leaf(k));
        m
    };
    let wanted = leaves(resource);
    let mut scored: Vec<(usize, Value)> = docs
        .into_iter()
        .map(|d| {
            let have = leaves(&d);
            let score = wanted
                .iter()
                .filter(|(k, v)| have.get(*k) == Some(v))
                .count();
            (score, d)
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    let best = scored.first().map_or(0, |s| s.0);
    scored
        .into_iter()
        .filter(|s| s.0 == best)
        .take(MAX_CANDIDATES)
        .map(|s| s.1)
        .collect()
}

/// Whether the resource is one of the candidates, or the differences from the first.
fn matches(
    candidates: &[Value],
    resource: &Value,
    ignored: &Ignored,
) -> Result<(), Vec<Difference>> {
    let mut first = None;
    for c in candidates {
        let left: Vec<Difference> = diff(c, resource)
            .into_iter()
            .filter(|d| !ignored.covers(&d.key))
            .filter(|d| !(d.key == "metadata.namespace" && d.before.is_none()))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        first.get_or_insert(left);
    }
    Err(first.unwrap_or_default())
}

/// What a rule evaluation shares among its attestor entries.
struct Check<'a> {
    resource: &'a Value,
    domain: &'a str,
    signed: Result<Signed, FetchError>,
    matched: Result<(), Vec<Difference>>,
}

/// One signature set of the annotations: the signature, and whether it carries a
/// certificate or a bundle.
fn signature_sets(resource: &Value, domain: &str) -> Vec<(String, bool)> {
    let annotations = resource.pointer("/metadata/annotations");
    let get = |k: String| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    let mut out = Vec::new();
    for i in 0.. {
        let suffix = if i == 0 {
            String::new()
        } else {
            format!("_{i}")
        };
        let Some(sig) = get(format!("{domain}/signature{suffix}")) else {
            break;
        };
        let keyless = get(format!("{domain}/certificate{suffix}")).is_some()
            || get(format!("{domain}/bundle{suffix}")).is_some();
        out.push((sig.to_string(), keyless));
    }
    out
}

/// One attestor entry: `Ok((verified, reason))`, or an error.
fn verify_entry(check: &Check<'_>, entry: &Value, path: &str) -> Result<(bool, String), String> {
    if let Some(want) = entry.get("annotations").and_then(Value::as_object) {
        for (k, v) in want {
            let have = check
                .resource
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .unwrap_or("");
            if v.as_str() != Some(have) {
                return Err(format!(
                    "annotations mismatch: {have} does not match expected value {} for key {k}",
                    v.as_str().unwrap_or("")
                ));
            }
        }
    }
    let unsupported = |what: &str| {
        Err(format!(
            "{path}: {what} is not supported: rampart verifies manifests signed with a key given in the policy, offline"
        ))
    };
    if entry
        .get("repository")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty())
    {
        return unsupported("a signed bundle in a registry (`repository`)");
    }
    if entry.get("certificates").is_some() {
        return unsupported("a certificates attestor");
    }
    if entry.get("keyless").is_some() {
        return unsupported("a keyless attestor");
    }
    let Some(pem) = entry.pointer("/keys/publicKeys").and_then(Value::as_str) else {
        return Err(format!(
            "{path}: an attestor entry needs keys, keyless or certificates"
        ));
    };
    let path = format!("{path}.keys");
    if pem.trim_start().starts_with("-----BEGIN PGP") {
        return unsupported("a PGP key");
    }
    if !pem.trim_start().starts_with("-----BEGIN PUBLIC KEY-----") {
        return unsupported("a key reference (`k8s://`, KMS, a file)");
    }
    let key = PublicKey::from_pem("publicKeys", pem).map_err(|e| format!("{path}: {e}"))?;
    let signed = match &check.signed {
        Ok(s) => s,
        Err(FetchError::NotFound(m)) => {
            return Ok((
                false,
                format!("{path}: YAML manifest not found for this resource: {m}"),
            ));
        }
        Err(FetchError::Bad(m)) => {
            return Err(format!(
                "{path}: YAML manifest not found for this resource: {m}"
            ));
        }
    };
    let sets = signature_sets(check.resource, check.domain);
    if sets.is_empty() {
        return Ok((
            false,
            format!("{path}: failed to verify signature: signature not found"),
        ));
    }
    let mut trials = Vec::new();
    let mut verified = false;
    for (j, (sig, keyless)) in sets.iter().enumerate() {
        if *keyless {
            return unsupported(&format!(
                "signature {}/{} carries a certificate or a Rekor bundle (keyless signing), whose check needs the transparency log; it",
                j + 1,
                sets.len()
            ));
        }
        let ok = base64::engine::general_purpose::STANDARD
            .decode(sig.trim())
            .is_ok_and(|raw| key.verify(&signed.message, &raw));
        if ok {
            verified = true;
            break;
        }
        trials.push(format!(
            "[publickey 1/1] [signature {}/{}] error: invalid signature when validating ASN.1 encoded signature",
            j + 1,
            sets.len()
        ));
    }
    if !verified {
        return Err(format!(
            "{path}: failed to verify signature: verification failed for {} signature. all trials: {}",
            sets.len(),
            serde_json::to_string(&trials).unwrap_or_default()
        ));
    }
    match &check.matched {
        Ok(()) => Ok((true, "signed by a valid signer".into())),
        Err(d) if d.is_empty() => Ok((false, format!("{path}: failed to verify signature."))),
        Err(d) => Ok((
            false,
            format!(
                "{path}: failed to verify signature. diff found; {}",
                diff_text(d)
            ),
        )),
    }
}

/// One attestor set (Kyverno's `verifyManifestAttestorSet`).
fn verify_set(check: &Check<'_>, set: &Value, path: &str) -> Result<(bool, String), String> {
    let entries = crate::images::expanded_entries(set);
    let need = crate::images::required_count(set, entries.len());
    let (mut verified, mut passed, mut failed, mut errors) =
        (0, Vec::new(), Vec::new(), Vec::new());
    for (i, e) in entries.iter().enumerate() {
        let entry_path = format!("{path}.entries[{i}]");
        let outcome = match e.get("attestor") {
            Some(nested) => {
                let p = format!("{entry_path}.attestor");
                verify_set(check, nested, &p)
                    .map_err(|err| format!("failed to verify signature; {p}: {err}"))
            }
            None => verify_entry(check, e, &entry_path),
        };
        match outcome {
            Err(err) => errors.push(err),
            Ok((true, why)) => {
                verified += 1;
                passed.push(why);
            }
            Ok((false, why)) => failed.push(why),
        }
        if verified >= need {
            return Ok((
                true,
                format!(
                    "manifest verification succeeded; verifiedCount {verified}; requiredCount {need}; message {}",
                    passed.join(",")
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok((
        false,
        format!(
            "manifest verification failed; verifiedCount {verified}; requiredCount {need}; message {}",
            failed.join(",")
        ),
    ))
}

/// Evaluates a `validate.manifests` block on the admitted resource.
pub(crate) fn validate(rule: &Value, resource: &Value, info: &AdmissionInfo) -> Eval {
    let dry_run = info
        .request
        .as_ref()
        .and_then(|r| r.get("dryRun"))
        .and_then(Value::as_bool)
        == Some(true);
    if dry_run {
        return Eval::new(Status::Pass, "allowed because of DryRun request");
    }
    if rule
        .get("repository")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty())
    {
        return Eval::new(
            Status::Error,
            "error occurred during manifest verification: manifests.repository (signed bundles in a registry) is not supported: rampart verifies manifests signed in their annotations",
        );
    }
    if rule.pointer("/dryRun/enable").and_then(Value::as_bool) == Some(true) {
        return Eval::new(
            Status::Error,
            "error occurred during manifest verification: dryRun.enable (matching the manifest as the API server would create it) is not supported",
        );
    }
    let domain = rule
        .get("annotationDomain")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .unwrap_or(DEFAULT_DOMAIN);
    let ignored = Ignored::new(&ignored_fields(rule, resource, domain));
    let signed = fetch(resource, domain, &ignored);
    let matched = match &signed {
        Ok(s) => matches(&s.candidates, resource, &ignored),
        Err(_) => Ok(()),
    };
    let check = Check {
        resource,
        domain,
        signed,
        matched,
    };
    let mut reasons = Vec::new();
    for (i, set) in rule
        .get("attestors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match verify_set(&check, set, &format!(".attestors[{i}]")) {
            Err(e) => {
                return Eval::new(
                    Status::Error,
                    format!("error occurred during manifest verification: {e}"),
                );
            }
            Ok((false, why)) => return Eval::new(Status::Fail, why),
            Ok((true, why)) => reasons.push(why),
        }
    }
    Eval::new(
        Status::Pass,
        format!("verified manifest signatures; {}", reasons.join(",")),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_leave_out_moved_list_items_and_empty_values() {
        let manifest =
            json!({"spec": {"ports": [{"port": 80}, {"port": 443}], "empty": {}, "n": null}});
        let same = json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}});
        assert!(diff(&manifest, &same).is_empty());
        let changed = json!({"spec": {"ports": [{"port": 81}, {"port": 443}]}});
        assert_eq!(
            diff(&manifest, &changed),
            vec![Difference {
                key: "spec.ports.0.port".into(),
                before: Some(json!(80)),
                after: Some(json!(81)),
            }]
        );
        // an item gone at one index and come at another
        let moved = json!({"spec": {"ports": [{"port": 80}, {"port": 443}, {"name": "x"}], "a": [{"k": "v"}]}});
        let moved_from = json!({"spec": {"ports": [{"port": 80}, {"port": 443}], "a": [{"j": "w"}, {"k": "v"}]}});
        let d = diff(&moved_from, &moved);
        assert!(d.iter().all(|x| x.key != "spec.a.1.k"), "{d:?}");
        assert!(d.iter().any(|x| x.key == "spec.ports.2.name"), "{d:?}");
        // a resource of many one-sided differences (an admitted object is the attacker's):
        // linear, not a comparison of every pair
        let n = 40_000;
        let before = json!({"l": (0..n).map(|i| json!({"a": i})).collect::<Vec<_>>()});
        let after = json!({"l": (0..n).map(|i| json!({"b": i})).collect::<Vec<_>>()});
        assert_eq!(diff(&before, &after).len(), 2 * n);
    }

    #[test]
    fn ignored_fields_follow_kind_and_rule() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}});
        let rule = json!({"ignoreFields": [
            {"objects": [{"kind": "Service", "name": "w*"}], "fields": ["spec.selector.tier"]},
            {"objects": [{"kind": "ConfigMap"}], "fields": ["data.x"]}
        ]});
        let ignored = Ignored::new(&ignored_fields(&rule, &svc, "example.com"));
        let is_ignored = |k: &str, i: &Ignored| i.covers(k);
        assert!(is_ignored("spec.clusterIP", &ignored));
        assert!(is_ignored("spec.selector.tier", &ignored));
        assert!(is_ignored(
            "metadata.annotations.example.com/signature_3",
            &ignored
        ));
        assert!(!is_ignored("data.x", &ignored));
        assert!(!is_ignored("spec.ports.0.port", &ignored));
        assert!(!is_ignored(
            "metadata.annotations.cosign.sigstore.dev/message",
            &ignored
        ));
    }

    #[test]
    fn inflation_is_capped() {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, &vec![b'a'; (MAX_INFLATED + 1) as usize]).unwrap();
        let bomb = z.finish().unwrap();
        assert!(gunzip(&bomb).is_none());
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, b"kind: x").unwrap();
        assert_eq!(gunzip(&z.finish().unwrap()).unwrap(), b"kind: x");
        assert!(gunzip(b"kind: x").is_none());
    }

    #[test]
    fn tar_members_are_read() {
        let mut tar = Vec::new();
        let body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        let mut header = vec![0u8; 512];
        header[..6].copy_from_slice(b"a.yaml");
        let size = format!("{:011o}\0", body.len());
        header[124..136].copy_from_slice(size.as_bytes());
        header[156] = b'0';
        tar.extend(&header);
        tar.extend(body);
        tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
        let files = tar_files(&tar).unwrap();
        assert_eq!(files, vec![("a.yaml".to_string(), body.to_vec())]);
        assert!(tar_files(&tar[..530]).is_err());
    }
}
