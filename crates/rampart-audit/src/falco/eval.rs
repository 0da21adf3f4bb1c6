//! Compiled conditions and their evaluation over one event, with each field extracted at most
//! once per event.

use super::fields::{Field, Vals};
use super::parse::Op;
use serde_json::Value;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: list items are short strings, and the sets are built from trusted rules files.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastSet = HashSet<String, BuildHasherDefault<Fnv>>;

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Check(Box<Check>),
}

impl Expr {
    /// The values a field (picked by `want`) must take for the expression to hold, when a
    /// conjunct at the top says so: `a = x and ...`, `(a = x or a in (y, z)) and ...`.
    pub(crate) fn required(&self, want: &dyn Fn(usize) -> bool) -> Option<Vec<String>> {
        match self {
            Expr::Check(c) if want(c.field) => match (&c.op, &c.rhs) {
                (Op::Eq, Rhs::Str(v)) => Some(vec![v.clone()]),
                (Op::In, Rhs::SmallSet(v)) => Some(v.clone()),
                (Op::In, Rhs::Set(v)) => Some(v.iter().cloned().collect()),
                _ => None,
            },
            Expr::And(items) => {
                let mut acc: Option<Vec<String>> = None;
                for r in items.iter().filter_map(|x| x.required(want)) {
                    acc = Some(match acc {
                        None => r,
                        Some(a) => a.into_iter().filter(|x| r.contains(x)).collect(),
                    });
                }
                acc
            }
            Expr::Or(items) => {
                let mut acc = Vec::new();
                for x in items {
                    acc.extend(x.required(want)?);
                }
                Some(acc)
            }
            _ => None,
        }
    }
}

/// The compiled right-hand side of a check.
#[derive(Debug)]
enum Rhs {
    None,
    Str(String),
    Num(u64),
    /// Few items: a linear scan beats hashing.
    SmallSet(Vec<String>),
    Set(FastSet),
    NumSet(Vec<u64>),
    Paths(Vec<String>),
    Bytes(Vec<u8>),
    Regex(regex::Regex),
}

/// One `field op value` check.
#[derive(Debug)]
pub(crate) struct Check {
    field: usize,
    op: Op,
    rhs: Rhs,
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

impl Check {
    pub(crate) fn new(
        field: usize,
        f: &Field,
        op: Op,
        values: Vec<String>,
    ) -> Result<Check, String> {
        let one = || values.first().cloned().unwrap_or_default();
        let rhs = if f.is_numeric() {
            let num = |v: &String| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("`{v}` is not a number"))
            };
            match op {
                Op::Exists => Rhs::None,
                Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => Rhs::Num(num(&one())?),
                Op::In | Op::Intersects => {
                    Rhs::NumSet(values.iter().map(num).collect::<Result<_, _>>()?)
                }
                _ => return Err(format!("operator {op:?} does not apply to a numeric field")),
            }
        } else {
            match op {
                Op::Exists => Rhs::None,
                Op::In | Op::Intersects if values.len() <= 8 => Rhs::SmallSet(values),
                Op::In | Op::Intersects => Rhs::Set(values.into_iter().collect()),
                Op::Pmatch => Rhs::Paths(
                    values
                        .into_iter()
                        .map(|p| {
                            if p.len() > 1 {
                                p.trim_end_matches('/').to_string()
                            } else {
                                p
                            }
                        })
                        .collect(),
                ),
                Op::IContains => Rhs::Str(one().to_lowercase()),
                Op::IGlob => Rhs::Str(one().to_lowercase()),
                Op::BContains | Op::BStartsWith => Rhs::Bytes(
                    hex(&one()).ok_or_else(|| format!("`{}` is not a hex string", one()))?,
                ),
                Op::Regex => {
                    Rhs::Regex(regex::Regex::new(&one()).map_err(|e| format!("bad regex: {e}"))?)
                }
                _ => Rhs::Str(one()),
            }
        };
        Ok(Check { field, op, rhs })
    }

    fn test_str(&self, s: &str) -> bool {
        match (&self.rhs, self.op) {
            (Rhs::Str(r), Op::Eq) => s == r,
            (Rhs::Str(r), Op::Ne) => s != r,
            (Rhs::Str(r), Op::Lt) => s < r.as_str(),
            (Rhs::Str(r), Op::Le) => s <= r.as_str(),
            (Rhs::Str(r), Op::Gt) => s > r.as_str(),
            (Rhs::Str(r), Op::Ge) => s >= r.as_str(),
            (Rhs::Str(r), Op::Contains) => s.contains(r.as_str()),
            (Rhs::Str(r), Op::IContains) => s.to_lowercase().contains(r.as_str()),
            (Rhs::Str(r), Op::StartsWith) => s.starts_with(r.as_str()),
            (Rhs::Str(r), Op::EndsWith) => s.ends_with(r.as_str()),
            (Rhs::Str(r), Op::Glob) => glob(r.as_bytes(), s.as_bytes()),
            (Rhs::Str(r), Op::IGlob) => glob(r.as_bytes(), s.to_lowercase().as_bytes()),
            (Rhs::Bytes(b), Op::BContains) => {
                b.is_empty() || s.as_bytes().windows(b.len()).any(|w| w == b.as_slice())
            }
            (Rhs::Bytes(b), Op::BStartsWith) => s.as_bytes().starts_with(b),
            (Rhs::Regex(r), Op::Regex) => r.is_match(s),
            (Rhs::SmallSet(set), Op::In | Op::Intersects) => set.iter().any(|x| x == s),
            (Rhs::Set(set), Op::In | Op::Intersects) => set.contains(s),
            (Rhs::Paths(ps), Op::Pmatch) => ps.iter().any(|p| path_prefix(p, s)),
            _ => false,
        }
    }

    fn test_num(&self, n: u64) -> bool {
        match (&self.rhs, self.op) {
            (Rhs::Num(r), Op::Eq) => n == *r,
            (Rhs::Num(r), Op::Ne) => n != *r,
            (Rhs::Num(r), Op::Lt) => n < *r,
            (Rhs::Num(r), Op::Le) => n <= *r,
            (Rhs::Num(r), Op::Gt) => n > *r,
            (Rhs::Num(r), Op::Ge) => n >= *r,
            (Rhs::NumSet(set), Op::In | Op::Intersects) => set.contains(&n),
            _ => false,
        }
    }

    fn test(&self, v: &Vals) -> bool {
        match v {
            Vals::Na => false,
            _ if self.op == Op::Exists => true,
            Vals::Num(n) => self.test_num(*n),
            Vals::Str(s) => self.test_str(s),
            // Set operators: `in` and `pmatch` need every value, `intersects` any; any other
            // operator holds when it holds for some value.
            Vals::List(l) => match self.op {
                Op::In | Op::Pmatch => l.iter().all(|s| self.test_str(s)),
                _ => l.iter().any(|s| self.test_str(s)),
            },
        }
    }
}

/// `p` is a path prefix of `s`: equal, or `s` continues with `/`.
fn path_prefix(p: &str, s: &str) -> bool {
    if p == "/" {
        return s.starts_with('/');
    }
    match s.strip_prefix(p) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// fnmatch-style glob: `*`, `?`, `[abc]`, `[!a-z]`.
pub(crate) fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let c = s.get(i).copied().unwrap_or(0);
        match pat.get(p).copied() {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                i += 1;
                continue;
            }
            Some(b'[') => {
                if let Some((matched, next)) = class(pat, p, c) {
                    if matched {
                        p = next;
                        i += 1;
                        continue;
                    }
                } else if c == b'[' {
                    p += 1;
                    i += 1;
                    continue;
                }
            }
            Some(pc) if pc == c => {
                p += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat.get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// Matches `c` against the class starting at `pat[p] == '['`: (matched, index after `]`).
fn class(pat: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let neg = matches!(pat.get(j), Some(b'!') | Some(b'^'));
    if neg {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let x = *pat.get(j)?;
        if x == b']' && !first {
            return Some((matched != neg, j + 1));
        }
        first = false;
        if pat.get(j + 1) == Some(&b'-') && pat.get(j + 2).is_some_and(|&e| e != b']') {
            let e = *pat.get(j + 2)?;
            if x <= c && c <= e {
                matched = true;
            }
            j += 3;
        } else {
            if x == c {
                matched = true;
            }
            j += 1;
        }
    }
}

/// A piece of a rule's output: literal text or a field.
#[derive(Debug)]
pub(crate) enum Seg {
    Lit(String),
    Field(usize),
}

/// Buffers reused across events.
#[derive(Debug, Default)]
pub struct Scratch {
    cache: Vec<Option<Vals<'static>>>,
}

/// Evaluation state for one event.
pub(crate) struct Ctx<'e, 's> {
    ev: &'e Value,
    time_ns: u64,
    fields: &'e [Field],
    cache: Vec<Option<Vals<'e>>>,
    scratch: &'s mut Scratch,
}

impl<'e, 's> Ctx<'e, 's> {
    pub(crate) fn new(
        ev: &'e Value,
        time_ns: u64,
        fields: &'e [Field],
        scratch: &'s mut Scratch,
    ) -> Self {
        // Reuses the scratch allocation: the in-place collect keeps the buffer.
        let mut cache: Vec<Option<Vals<'e>>> = std::mem::take(&mut scratch.cache)
            .into_iter()
            .map(|_| None)
            .collect();
        cache.resize(fields.len(), None);
        Ctx {
            ev,
            time_ns,
            fields,
            cache,
            scratch,
        }
    }

    pub(crate) fn finish(self) {
        let mut cache = self.cache;
        cache.clear();
        self.scratch.cache = cache.into_iter().map(|_| None).collect();
    }

    fn get(&mut self, id: usize) -> &Vals<'e> {
        let (ev, t, fields) = (self.ev, self.time_ns, self.fields);
        match self.cache.get_mut(id) {
            Some(slot) => {
                slot.get_or_insert_with(|| fields.get(id).map_or(Vals::Na, |f| f.extract(ev, t)))
            }
            None => &Vals::Na,
        }
    }

    pub(crate) fn eval(&mut self, e: &Expr) -> bool {
        match e {
            Expr::And(items) => items.iter().all(|x| self.eval(x)),
            Expr::Or(items) => items.iter().any(|x| self.eval(x)),
            Expr::Not(x) => !self.eval(x),
            Expr::Check(c) => {
                let v = self.get(c.field);
                c.test(v)
            }
        }
    }

    pub(crate) fn render(&mut self, segs: &[Seg]) -> String {
        let mut out = String::new();
        for s in segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Field(id) => {
                    let v = self.get(*id);
                    v.render(&mut out);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"/etc/*", b"/etc/passwd"));
        assert!(glob(b"a?c", b"abc"));
        assert!(glob(b"[a-c]x", b"bx"));
        assert!(!glob(b"[!a-c]x", b"bx"));
        assert!(!glob(b"/etc/*.conf", b"/etc/passwd"));
        assert!(glob(b"*", b""));
    }

    #[test]
    fn path_prefixes() {
        assert!(path_prefix("/etc", "/etc/passwd"));
        assert!(path_prefix("/etc", "/etc"));
        assert!(!path_prefix("/etc", "/etcd"));
        assert!(path_prefix("/", "/x"));
    }
}
