//! Kyverno's anchors: `(key)` condition, `<(key)` global, `X(key)` negation, `+(key)` add if
//! not present, `=(key)` equality, `^(key)` existence.

/// The kind of an anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    Condition,
    Global,
    Negation,
    AddIfNotPresent,
    Equality,
    Existence,
}

/// Parses `key` as an anchor: its kind and the bare key.
pub fn parse(key: &str) -> Option<(AnchorKind, &str)> {
    let s = key.trim();
    let (kind, rest) = match s.chars().next()? {
        '<' => (AnchorKind::Global, s.get(1..)?),
        'X' => (AnchorKind::Negation, s.get(1..)?),
        '+' => (AnchorKind::AddIfNotPresent, s.get(1..)?),
        '=' => (AnchorKind::Equality, s.get(1..)?),
        '^' => (AnchorKind::Existence, s.get(1..)?),
        '(' => (AnchorKind::Condition, s),
        _ => return None,
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() {
        return None;
    }
    Some((kind, inner))
}

/// The bare key of a possibly anchored key.
pub fn bare(key: &str) -> &str {
    parse(key).map(|(_, k)| k).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_anchor() {
        assert_eq!(parse("(name)"), Some((AnchorKind::Condition, "name")));
        assert_eq!(parse("=(x)"), Some((AnchorKind::Equality, "x")));
        assert_eq!(
            parse("X(hostPath)"),
            Some((AnchorKind::Negation, "hostPath"))
        );
        assert_eq!(parse("^(c)"), Some((AnchorKind::Existence, "c")));
        assert_eq!(parse("<(g)"), Some((AnchorKind::Global, "g")));
        assert_eq!(parse("+(a)"), Some((AnchorKind::AddIfNotPresent, "a")));
        assert_eq!(parse("name"), None);
        assert_eq!(parse("()"), None);
        assert_eq!(bare("=(a.b/c)"), "a.b/c");
    }
}
