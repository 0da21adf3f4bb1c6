//! Rewriting image tags to digests in the YAML text itself: only the image scalar's span
//! changes, so comments, quoting, order and layout stay as they are.

use crate::list::ImageUse;
use rampart_core::InputError;
use std::collections::HashMap;

/// One replacement in a file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// 1-based line of the image scalar.
    pub line: u32,
    /// Byte range of the scalar's text (without its quotes).
    pub start: usize,
    pub end: usize,
    pub old: String,
    pub new: String,
}

/// The edits that pin every unpinned image of `uses` located in `file` whose digest is in
/// `digests` (keyed by the image as written): `image` becomes `image@digest` (the tag stays for
/// readers; runtimes pull by the digest). Images whose text cannot be found at the loader's
/// position (a multi-line or escaped scalar, a flow-mapping key on another line) are errors.
pub fn pin_edits(
    file: &str,
    text: &str,
    uses: &[ImageUse],
    digests: &HashMap<String, String>,
) -> (Vec<Edit>, Vec<InputError>) {
    let mut edits = Vec::new();
    let mut errors = Vec::new();
    for u in uses {
        if &*u.location.file != file || u.is_pinned() || u.reference.is_err() {
            continue;
        }
        let Some(digest) = digests.get(&u.image) else {
            continue;
        };
        match value_span(text, u.location.line, u.location.column, &u.image) {
            Ok((start, end)) => edits.push(Edit {
                line: u.location.line,
                start,
                end,
                old: u.image.clone(),
                new: format!("{}@{digest}", u.image),
            }),
            Err(message) => errors.push(InputError {
                file: file.to_string(),
                line: u.location.line,
                column: u.location.column,
                message,
            }),
        }
    }
    edits.sort_by_key(|e| e.start);
    edits.dedup_by_key(|e| e.start);
    (edits, errors)
}

/// `text` with `edits` applied (they must not overlap).
pub fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(text.len() + edits.len() * 72);
    let mut at = 0;
    for e in sorted {
        if e.start < at {
            continue;
        }
        out.push_str(text.get(at..e.start).unwrap_or(""));
        out.push_str(&e.new);
        at = e.end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

/// A unified-style diff of the changed lines, for `--dry-run`.
pub fn diff(file: &str, before: &str, after: &str) -> String {
    let mut out = String::new();
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    if b.len() != a.len() {
        return out;
    }
    let mut header = false;
    for (i, (x, y)) in b.iter().zip(&a).enumerate() {
        if x != y {
            if !header {
                out.push_str(&format!("--- {file}\n+++ {file}\n"));
                header = true;
            }
            out.push_str(&format!("@@ -{n} +{n} @@\n-{x}\n+{y}\n", n = i + 1));
        }
    }
    out
}

/// The byte range of the value of the mapping entry whose key starts at `line`:`col`
/// (1-based, in characters), checked to read exactly `expected`.
fn value_span(text: &str, line: u32, col: u32, expected: &str) -> Result<(usize, usize), String> {
    let cannot = |why: &str| format!("cannot pin {expected:?} in place: {why}");
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line as usize - 2)
            .map(|(i, _)| i + 1)
            .ok_or_else(|| cannot("position past the end of the file"))?
    };
    let rest = text.get(line_start..).unwrap_or("");
    let line_text = rest.split('\n').next().unwrap_or("");
    let key_at = line_text
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map(|(i, _)| i)
        .ok_or_else(|| cannot("position past the end of the line"))?;
    let mut s = line_text.get(key_at..).unwrap_or("");
    let mut offset = line_start + key_at;
    // The key, plain or quoted.
    let key_len = match s.chars().next() {
        Some(q @ ('"' | '\'')) => s.get(1..).and_then(|r| r.find(q)).map(|i| i + 2),
        _ => s.find(':'),
    }
    .ok_or_else(|| cannot("no `image:` key at the position"))?;
    let key = s
        .get(..key_len)
        .unwrap_or("")
        .trim_matches(['"', '\''])
        .trim();
    if key != "image" {
        return Err(cannot("no `image:` key at the position"));
    }
    let skip = |s: &str| s.len() - s.trim_start_matches([' ', '\t']).len();
    s = s.get(key_len..).unwrap_or("");
    offset += key_len;
    let n = skip(s);
    s = s.get(n..).unwrap_or("");
    offset += n;
    if !s.starts_with(':') {
        return Err(cannot("no `:` after the key"));
    }
    s = s.get(1..).unwrap_or("");
    offset += 1;
    let n = skip(s);
    s = s.get(n..).unwrap_or("");
    offset += n;
    let (start, content) = match s.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = s.get(1..).unwrap_or("");
            let end = inner
                .find(q)
                .ok_or_else(|| cannot("the quoted scalar spans lines"))?;
            (offset + 1, inner.get(..end).unwrap_or(""))
        }
        Some(_) => {
            let mut end = s.len();
            if let Some(i) = s.find(" #") {
                end = end.min(i);
            }
            if let Some(i) = s.find(['}', ',', '\r']) {
                end = end.min(i);
            }
            (offset, s.get(..end).unwrap_or("").trim_end())
        }
        None => return Err(cannot("the value is not on the key's line")),
    };
    if content != expected {
        return Err(cannot(&format!("the text there reads {content:?}")));
    }
    Ok((start, start + content.len()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rewrites_only_the_scalars() {
        let text = "\
# the web tier
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web   # main
          image: nginx:1.25   # pinned by ci
        - {name: side, image: \"ghcr.io/acme/side:2.0\"}
        - name: q
          'image': 'busybox'
        - name: done
          image: alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
";
        let loaded = rampart_manifest::load_str("d.yaml", text);
        let uses = crate::image_uses(&loaded.objects);
        let d = format!("sha256:{}", "f".repeat(64));
        let digests: HashMap<String, String> =
            ["nginx:1.25", "ghcr.io/acme/side:2.0", "busybox", "alpine"]
                .iter()
                .map(|i| (i.to_string(), d.clone()))
                .collect();
        let (edits, errors) = pin_edits("d.yaml", text, &uses, &digests);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(edits.len(), 3);
        let out = apply_edits(text, &edits);
        let expected = text
            .replace("nginx:1.25   #", &format!("nginx:1.25@{d}   #"))
            .replace("side:2.0\"", &format!("side:2.0@{d}\""))
            .replace("'busybox'", &format!("'busybox@{d}'"));
        assert_eq!(out, expected);
        let again = rampart_manifest::load_str("d.yaml", &out);
        assert!(
            crate::image_uses(&again.objects)
                .iter()
                .all(|u| u.is_pinned())
        );
        let diff = diff("d.yaml", text, &out);
        assert!(diff.starts_with("--- d.yaml\n+++ d.yaml\n@@ -10 +10 @@\n-          image: nginx:1.25   # pinned by ci\n+          image: nginx:1.25@sha256:"), "{diff}");
    }

    #[test]
    fn a_scalar_it_cannot_find_is_an_error() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: >-\n        nginx\n";
        let loaded = rampart_manifest::load_str("p.yaml", text);
        let uses = crate::image_uses(&loaded.objects);
        let digests = HashMap::from([("nginx".to_string(), format!("sha256:{}", "f".repeat(64)))]);
        let (edits, errors) = pin_edits("p.yaml", text, &uses, &digests);
        assert!(edits.is_empty());
        assert_eq!(
            errors[0].to_string(),
            "p.yaml:7:7: cannot pin \"nginx\" in place: the text there reads \">-\""
        );
    }
}
