//! Masks every finding's secret values in everything a report writes.

use aho_corasick::{AhoCorasick, MatchKind};
use rampart_core::{Finding, REDACTED};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Fragments shorter than this are not masked on their own (masking `}` or `==` would shred the
/// output); the whole value, and its escaped spellings, are always masked whatever their length.
const MIN_FRAGMENT: usize = 8;

/// Replaces each secret value, in any of the spellings it may have in a source file, with
/// [`REDACTED`].
pub(crate) struct Redactor {
    matcher: Option<AhoCorasick>,
    /// Used only if the automaton cannot be built (absurdly many or long secrets).
    fallback: Vec<String>,
}

impl Redactor {
    pub(crate) fn new<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut patterns = BTreeSet::new();
        for value in findings.into_iter().flat_map(|f| f.redact.iter()) {
            spellings(value, &mut patterns);
        }
        if patterns.is_empty() {
            return Redactor {
                matcher: None,
                fallback: Vec::new(),
            };
        }
        let patterns: Vec<String> = patterns.into_iter().collect();
        match AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
        {
            Ok(ac) => Redactor {
                matcher: Some(ac),
                fallback: Vec::new(),
            },
            Err(_) => {
                let mut fallback = patterns;
                // Longest first so a secret containing another is masked whole.
                fallback.sort_by_key(|p| std::cmp::Reverse(p.len()));
                Redactor {
                    matcher: None,
                    fallback,
                }
            }
        }
    }

    pub(crate) fn apply<'s>(&self, text: &'s str) -> Cow<'s, str> {
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

    fn with_secrets(secrets: &[&str]) -> Redactor {
        let mut f = Finding::new("x", Severity::High, "m");
        f.redact = secrets.iter().map(|s| s.to_string()).collect();
        Redactor::new([&f])
    }

    #[test]
    fn masks_plain_and_escaped_spellings() {
        let r = with_secrets(&["pa\"ss'word\\1"]);
        assert_eq!(r.apply("a pa\"ss'word\\1 b"), "a <redacted> b");
        assert_eq!(r.apply(r#"x: "pa\"ss'word\\1""#), r#"x: "<redacted>""#);
        assert_eq!(r.apply("x: 'pa\"ss''word\\1'"), "x: '<redacted>'");
        assert_eq!(r.apply("nothing here"), "nothing here");
    }

    #[test]
    fn masks_each_line_of_a_block_scalar() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG\n-----END KEY-----\n";
        let r = with_secrets(&[key]);
        let src = "  key: |\n    -----BEGIN KEY-----\n    MIIEvQIBADANBgkqhkiG\n";
        let out = r.apply(src);
        assert!(!out.contains("MIIEvQIBADANBgkqhkiG"), "{out}");
        assert!(!out.contains("BEGIN KEY"), "{out}");
    }

    #[test]
    fn empty_values_are_ignored() {
        let r = with_secrets(&[""]);
        assert_eq!(r.apply("abc"), "abc");
    }
}
