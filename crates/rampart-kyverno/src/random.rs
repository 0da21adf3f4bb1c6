//! Kyverno's `random(pattern)`: a random string that the regular expression `pattern`
//! matches. Unbounded repetitions (`*`, `+`, `{n,}`) repeat at most 10 times (at least their
//! minimum), as the generator Kyverno uses; a class that holds printable ASCII characters
//! yields one of those. Randomness comes from the system's generator.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Repetitions of an unbounded repeat, at most.
const MAX_UNBOUNDED: u32 = 10;

/// A random string matching `pattern`, or why the pattern cannot be used.
pub fn matching(pattern: &str) -> Result<String, String> {
    let hir = regex_syntax::parse(pattern).map_err(|e| format!("a regular expression ({e})"))?;
    let mut out = String::new();
    generate(&hir, &mut out);
    Ok(out)
}

/// A random number below `n` (0 when `n` is 0).
fn below(n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let mut b = [0u8; 4];
    // the system generator does not fail on the platforms rampart runs on; a zero is still a
    // valid choice if it did
    let _ = aws_lc_rs::rand::fill(&mut b);
    u32::from_le_bytes(b) % n
}

fn generate(hir: &Hir, out: &mut String) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
        HirKind::Class(Class::Unicode(c)) => {
            let ranges: Vec<(u32, u32)> = c
                .ranges()
                .iter()
                .map(|r| (r.start() as u32, r.end() as u32))
                .collect();
            if let Some(ch) = pick(&ranges) {
                out.push(ch);
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            let ranges: Vec<(u32, u32)> = c
                .ranges()
                .iter()
                .map(|r| (u32::from(r.start()), u32::from(r.end().min(0x7f))))
                .filter(|(a, b)| a <= b)
                .collect();
            if let Some(ch) = pick(&ranges) {
                out.push(ch);
            }
        }
        HirKind::Repetition(r) => {
            let max = r.max.unwrap_or_else(|| r.min.max(MAX_UNBOUNDED));
            let n = r.min + below(max - r.min + 1);
            for _ in 0..n {
                generate(&r.sub, out);
            }
        }
        HirKind::Capture(c) => generate(&c.sub, out),
        HirKind::Concat(parts) => parts.iter().for_each(|p| generate(p, out)),
        HirKind::Alternation(alts) => {
            let i = below(u32::try_from(alts.len()).unwrap_or(u32::MAX)) as usize;
            if let Some(a) = alts.get(i) {
                generate(a, out);
            }
        }
    }
}

/// A character of the ranges: a printable ASCII one when there are any.
fn pick(ranges: &[(u32, u32)]) -> Option<char> {
    let printable: Vec<(u32, u32)> = ranges
        .iter()
        .filter_map(|&(a, b)| {
            let (a, b) = (a.max(0x20), b.min(0x7e));
            (a <= b).then_some((a, b))
        })
        .collect();
    let ranges = if printable.is_empty() {
        ranges
    } else {
        &printable
    };
    let total: u32 = ranges.iter().map(|(a, b)| b - a + 1).sum();
    let mut k = below(total);
    for &(a, b) in ranges {
        let size = b - a + 1;
        if k < size {
            return char::from_u32(a + k);
        }
        k -= size;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn random_strings_match_their_pattern() {
        for pattern in [
            "[a-z0-9]{8}",
            "^pod-[a-f0-9]{5}$",
            "(red|green|blue)-[0-9]+",
            "a*b?c{2,3}",
            "[[:upper:]]{3}_\\d{2}",
            ".{4}",
        ] {
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
            for _ in 0..50 {
                let s = matching(pattern).unwrap();
                assert!(re.is_match(&s), "{pattern}: {s:?}");
            }
        }
        // unbounded repeats stop at 10
        assert!((0..50).all(|_| matching("x+").unwrap().len() <= 10));
        // not always the same
        let seen: std::collections::HashSet<String> =
            (0..20).map(|_| matching("[a-z]{12}").unwrap()).collect();
        assert!(seen.len() > 1);
        assert!(matching("(").is_err());
    }
}
