//! Masks secret values where they occur as values: in the source lines of the field that holds
//! each one (whichever finding's snippet shows them) and in the message of the finding that
//! detected it. Nothing else is touched: object names, namespaces, files, slugs and pointers stay
//! exact even when a secret's value is also a common word.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use rampart_core::{Finding, REDACTED};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Fragments shorter than this are not masked on their own (masking `}` or `==` would shred the
/// output); the whole value, and its escaped spellings, are always masked whatever their length.
const MIN_FRAGMENT: usize = 8;

/// Longest field span (in lines) searched for a value below the line a finding points at.
const MAX_SPAN: usize = 400;

/// A set of spellings replaced by [`REDACTED`].
struct Masker {
    matcher: Option<AhoCorasick>,
    /// Used only if the automaton cannot be built (absurdly many or long secrets).
    fallback: Vec<String>,
}

impl Masker {
    fn new(patterns: BTreeSet<String>) -> Masker {
        let patterns: Vec<String> = patterns.into_iter().collect();
        match AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
        {
            Ok(ac) => Masker {
                matcher: Some(ac),
                fallback: Vec::new(),
            },
            Err(_) => {
                let mut fallback = patterns;
                // longest first, so a secret containing another is masked whole
                fallback.sort_by_key(|p| std::cmp::Reverse(p.len()));
                Masker {
                    matcher: None,
                    fallback,
                }
            }
        }
    }

    fn apply<'s>(&self, text: &'s str) -> Cow<'s, str> {
        if let Some(ac) = &self.matcher {
            if !ac.is_match(text) {
                return Cow::Borrowed(text);
            }
            let mut out = String::with_capacity(text.len());
            ac.replace_all_with(text, &mut out, |_, _, dst| {
                dst.push_str(REDACTED);
                true
            });
            return Cow::Owned(out);
        }
        let mut text = Cow::Borrowed(text);
        for p in &self.fallback {
            if text.contains(p.as_str()) {
                text = Cow::Owned(text.replace(p.as_str(), REDACTED));
            }
        }
        text
    }
}

/// The secret values of a report, by where they occur.
pub(crate) struct Redactor {
    /// File → 1-based line → what to mask on that line.
    lines: HashMap<Arc<str>, HashMap<u32, Masker>>,
}

impl Redactor {
    /// `source` gives a file's text when the report shows source lines; without it only
    /// messages are masked (no other output carries source text).
    /// A finding without a location is masked over the whole file of its object
    /// (`object_file`), where its value must be.
    pub(crate) fn new<'a>(
        findings: impl IntoIterator<Item = &'a Finding>,
        source: &dyn Fn(&str) -> Option<Arc<str>>,
        object_file: &dyn Fn(&Finding) -> Option<String>,
    ) -> Self {
        let mut by_line: HashMap<Arc<str>, HashMap<u32, BTreeSet<String>>> = HashMap::new();
        let mut texts: HashMap<Arc<str>, Option<Arc<str>>> = HashMap::new();
        for f in findings {
            if f.redact.iter().all(String::is_empty) {
                continue;
            }
            let (file, span): (Arc<str>, Option<(u32, bool)>) = match &f.location {
                Some(loc) => (loc.file.clone(), Some((loc.line, loc.pointer.is_empty()))),
                None => match object_file(f) {
                    Some(file) => (Arc::from(file.as_str()), None),
                    None => continue,
                },
            };
            let text = texts
                .entry(file.clone())
                .or_insert_with(|| source(&file))
                .clone();
            let Some(text) = text else { continue };
            let mut patterns = BTreeSet::new();
            for v in &f.redact {
                spellings(v, &mut patterns);
            }
            let range = match span {
                Some((line, whole)) => field_span(&text, line, whole),
                None => 1..(text.lines().count() as u32 + 1),
            };
            let lines = by_line.entry(file).or_default();
            for n in range {
                lines.entry(n).or_default().extend(patterns.iter().cloned());
            }
        }
        Redactor {
            lines: by_line
                .into_iter()
                .map(|(file, lines)| {
                    let maskers = lines
                        .into_iter()
                        .map(|(n, p)| (n, Masker::new(p)))
                        .collect();
                    (file, maskers)
                })
                .collect(),
        }
    }

    /// Line `line` of `file` as a report may show it: values masked, a mapping key before
    /// them kept.
    pub(crate) fn line<'s>(&self, file: &str, line: u32, text: &'s str) -> Cow<'s, str> {
        let Some(m) = self.lines.get(file).and_then(|l| l.get(&line)) else {
            return Cow::Borrowed(text);
        };
        let at = value_start(text);
        let (key, value) = text.split_at(at);
        match m.apply(value) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(v) => Cow::Owned(format!("{key}{v}")),
        }
    }

    /// A finding's own text (its message) with the values it detected masked where they
    /// stand as whole words: a key name that merely contains one (`admin-user` for the value
    /// `admin`) is an identifier and stays as it is.
    pub(crate) fn message<'s>(f: &Finding, text: &'s str) -> Cow<'s, str> {
        if f.redact.iter().all(String::is_empty) {
            return Cow::Borrowed(text);
        }
        let mut patterns = BTreeSet::new();
        for v in &f.redact {
            spellings(v, &mut patterns);
        }
        let patterns: Vec<String> = patterns.into_iter().collect();
        let Ok(ac) = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
        else {
            return Cow::Owned(REDACTED.to_string());
        };
        let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
        let mut out = String::new();
        let mut last = 0;
        for m in ac.find_iter(text) {
            let before = text.get(..m.start()).and_then(|t| t.chars().next_back());
            let after = text.get(m.end()..).and_then(|t| t.chars().next());
            if before.is_some_and(word) || after.is_some_and(word) {
                continue;
            }
            out.push_str(text.get(last..m.start()).unwrap_or(""));
            out.push_str(REDACTED);
            last = m.end();
        }
        if last == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(text.get(last..).unwrap_or(""));
        Cow::Owned(out)
    }
}

/// Where the value of a `key: value` line starts (after `- ` items, a plain or quoted key and
/// `: `); 0 when the line is not one (a block scalar's content, a flow sequence).
fn value_start(line: &str) -> usize {
    let body = line.trim_start_matches([' ', '-', '\t']);
    let offset = line.len() - body.len();
    let key_end = match body.chars().next() {
        Some(q @ ('"' | '\'')) => body
            .get(1..)
            .and_then(|r| r.find(q))
            .map(|i| i + 2)
            .filter(|&e| body.get(e..).is_some_and(|r| r.starts_with(':'))),
        _ => body.find(": ").filter(|&e| {
            let k = body.get(..e).unwrap_or("");
            !k.contains(['{', '[', '"', '\'', '#'])
        }),
    };
    match key_end {
        Some(e)
            if body
                .get(e..)
                .is_some_and(|r| r == ":" || r.starts_with(": ")) =>
        {
            offset + e + 1
        }
        _ => 0,
    }
}

/// The lines of the field a finding points at: its line and the lines below it indented
/// deeper (a block scalar, a nested mapping), or the whole document when it points at the
/// object itself.
fn field_span(text: &str, line: u32, whole_document: bool) -> std::ops::Range<u32> {
    let first = line.max(1);
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '-']).len();
    let mut lines = text.lines().skip(first as usize - 1);
    let Some(start) = lines.next() else {
        return first..first + 1;
    };
    let base = indent(start);
    let mut end = first + 1;
    for l in lines.take(MAX_SPAN) {
        let t = l.trim();
        if whole_document {
            if t == "---" || t.starts_with("--- ") {
                break;
            }
        } else if !t.is_empty() && indent(l) <= base && !t.starts_with('#') {
            break;
        }
        end += 1;
    }
    first..end
}

/// Masks known secret values wherever they occur in what a command prints beside findings: what
/// a policy says about an object (`policy eval`), what an audit alert prints of a request
/// (`audit detect`). It is built from the values the secret detectors found in the same input,
/// so nothing else is masked.
pub struct SecretMasker(Option<Masker>);

impl SecretMasker {
    /// Masks every spelling of each value (as is, escaped, base64, each long line of a
    /// multi-line value).
    pub fn new<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> SecretMasker {
        let mut patterns = BTreeSet::new();
        for v in values {
            spellings(v.as_ref(), &mut patterns);
        }
        SecretMasker((!patterns.is_empty()).then(|| Masker::new(patterns)))
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// `text` with every secret value masked.
    pub fn text<'s>(&self, text: &'s str) -> Cow<'s, str> {
        match &self.0 {
            Some(m) => m.apply(text),
            None => Cow::Borrowed(text),
        }
    }

    /// Masks every string in `value` (keys are names, never values, and stay).
    pub fn json(&self, value: &mut serde_json::Value) {
        if self.0.is_none() {
            return;
        }
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(masked) = self.text(s) {
                    *s = masked;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            serde_json::Value::Object(m) => m.values_mut().for_each(|v| self.json(v)),
            _ => {}
        }
    }
}

/// The ways a value can be spelled in YAML or JSON source: as is, JSON/YAML double-quoted
/// escaped, YAML single-quoted, and, for values a block or folded scalar spreads over several
/// lines, each line and each long word.
fn spellings(value: &str, out: &mut BTreeSet<String>) {
    if value.is_empty() {
        return;
    }
    out.insert(value.to_string());
    if let Ok(quoted) = serde_json::to_string(value) {
        let inner = quoted
            .get(1..quoted.len().saturating_sub(1))
            .unwrap_or_default();
        if !inner.is_empty() && inner != value {
            out.insert(inner.to_string());
        }
    }
    if value.contains('\'') {
        out.insert(value.replace('\'', "''"));
    }
    // a Secret's `data` holds the value base64-encoded
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    if b64.len() >= MIN_FRAGMENT || value.len() >= 4 {
        out.insert(b64);
    }
    if value.contains(char::is_whitespace) {
        for line in value.lines().map(str::trim) {
            if line.len() >= MIN_FRAGMENT {
                out.insert(line.to_string());
            }
        }
        for word in value.split_whitespace() {
            if word.len() >= MIN_FRAGMENT {
                out.insert(word.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::Severity;

    fn at(file: &str, line: u32, pointer: &str, secrets: &[&str]) -> Finding {
        let mut f = Finding::new("x", Severity::High, "m").with_location(rampart_core::Location {
            file: Arc::from(file),
            line,
            column: 1,
            pointer: pointer.into(),
            template: None,
        });
        f.redact = secrets.iter().map(|s| s.to_string()).collect();
        f
    }

    fn redactor(text: &str, findings: &[Finding]) -> Redactor {
        let text: Arc<str> = Arc::from(text);
        Redactor::new(findings, &|_| Some(text.clone()), &|_| None)
    }

    #[test]
    fn masks_plain_and_escaped_spellings_on_the_field_s_line_only() {
        let src = "a: 1\nx: \"pa\\\"ss'word\\\\1\"\ny: 'pa\"ss''word\\1'\nname: pa\"ss'word\\1\n";
        let r = redactor(
            src,
            &[
                at("f.yaml", 2, "/x", &["pa\"ss'word\\1"]),
                at("f.yaml", 3, "/y", &["pa\"ss'word\\1"]),
            ],
        );
        assert_eq!(
            r.line("f.yaml", 2, r#"x: "pa\"ss'word\\1""#),
            r#"x: "<redacted>""#
        );
        assert_eq!(
            r.line("f.yaml", 3, "y: 'pa\"ss''word\\1'"),
            "y: '<redacted>'"
        );
        // the same text where no finding detected a value is left alone
        assert_eq!(
            r.line("f.yaml", 4, "name: pa\"ss'word\\1"),
            "name: pa\"ss'word\\1"
        );
        assert_eq!(
            r.line("g.yaml", 2, "x: pa\"ss'word\\1"),
            "x: pa\"ss'word\\1"
        );
    }

    #[test]
    fn a_common_word_is_masked_only_where_it_is_the_secret() {
        let src = "kind: Secret\nmetadata:\n  name: admin\nstringData:\n  admin-user: admin\n";
        let r = redactor(
            src,
            &[at("s.yaml", 5, "/stringData/admin-user", &["admin"])],
        );
        assert_eq!(r.line("s.yaml", 3, "  name: admin"), "  name: admin");
        assert_eq!(
            r.line("s.yaml", 5, "  admin-user: admin"),
            "  admin-user: <redacted>"
        );
        assert_eq!(value_start("  - name: x"), 9);
        assert_eq!(value_start("    \"password\": \"x\""), 15);
        assert_eq!(value_start("    MIIEvQ"), 0);
    }

    #[test]
    fn masks_each_line_of_a_block_scalar_and_base64() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG\n-----END KEY-----\n";
        let src = "data:\n  key: |\n    -----BEGIN KEY-----\n    MIIEvQIBADANBgkqhkiG\n  other: MIIEvQIBADANBgkqhkiG\n  tok: aHVudGVyMmh1bnRlcjI=\n";
        let r = redactor(
            src,
            &[
                at("k.yaml", 2, "/data/key", &[key]),
                at("k.yaml", 6, "/data/tok", &["hunter2hunter2"]),
            ],
        );
        assert!(
            !r.line("k.yaml", 4, "    MIIEvQIBADANBgkqhkiG")
                .contains("MIIEv")
        );
        assert!(
            !r.line("k.yaml", 3, "    -----BEGIN KEY-----")
                .contains("BEGIN KEY")
        );
        assert!(
            r.line("k.yaml", 5, "  other: MIIEvQIBADANBgkqhkiG")
                .contains("MIIEv")
        );
        assert_eq!(
            r.line("k.yaml", 6, "  tok: aHVudGVyMmh1bnRlcjI="),
            "  tok: <redacted>"
        );
    }

    #[test]
    fn a_finding_on_the_object_covers_its_document() {
        let src =
            "apiVersion: v1\nkind: Secret\nstringData:\n  p: hunter2\n---\nkind: X\nv: hunter2\n";
        let r = redactor(src, &[at("d.yaml", 1, "", &["hunter2"])]);
        assert_eq!(r.line("d.yaml", 4, "  p: hunter2"), "  p: <redacted>");
        assert_eq!(r.line("d.yaml", 7, "v: hunter2"), "v: hunter2");
    }

    #[test]
    fn messages_mask_only_their_own_finding_s_values() {
        let f = at("m.yaml", 1, "/x", &["s3cr3t-value"]);
        assert_eq!(Redactor::message(&f, "got s3cr3t-value"), "got <redacted>");
        let a = at("m.yaml", 1, "/x", &["admin"]);
        assert_eq!(
            Redactor::message(&a, "keys admin-user, ci-admin: admin"),
            "keys admin-user, ci-admin: <redacted>"
        );
        let g = at("m.yaml", 1, "/x", &[]);
        assert_eq!(
            Redactor::message(&g, "got s3cr3t-value"),
            "got s3cr3t-value"
        );
    }

    #[test]
    fn empty_values_are_ignored() {
        let r = redactor("abc\n", &[at("e.yaml", 1, "/a", &[""])]);
        assert_eq!(r.line("e.yaml", 1, "abc"), "abc");
    }

    #[test]
    fn secret_masker_masks_the_values_and_their_spellings_only() {
        let m = SecretMasker::new(["hunter2-hunter2", ""]);
        assert_eq!(
            m.text("password=hunter2-hunter2 user=admin"),
            format!("password={REDACTED} user=admin")
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("hunter2-hunter2");
        assert_eq!(m.text(&format!("data: {b64}")), format!("data: {REDACTED}"));
        let mut v = serde_json::json!({"hunter2-hunter2": ["x hunter2-hunter2", 3]});
        m.json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"hunter2-hunter2": [format!("x {REDACTED}"), 3]})
        );
        assert!(SecretMasker::new([""]).is_empty());
        assert_eq!(SecretMasker::new([""]).text("hunter2"), "hunter2");
    }
}
