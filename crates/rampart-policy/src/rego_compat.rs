//! Source fix-ups for Rego v0 that OPA accepts and regorus' parser does not, applied before
//! compiling. Both keep every line where it was, so error positions still point into the
//! template.
//!
//! - A partial set rule with several bodies (`violation[r] { a } { b }`) is written as one
//!   rule per body (OPA's meaning), since regorus reads the second body as an `else`.
//! - A line that starts with `(` begins a new expression in OPA; regorus would read it as a
//!   call of the ref that ends the line before, so a `;` ends that line.

const CODE: u8 = 0;
const STRING: u8 = 1;
const COMMENT: u8 = 2;

/// The class of every byte of a Rego text: code, string or comment.
fn classes(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut class = vec![CODE; b.len()];
    let mut set = |i: usize, k: u8| {
        if let Some(m) = class.get_mut(i) {
            *m = k;
        }
    };
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'#' => {
                while b.get(i).is_some_and(|&c| c != b'\n') {
                    set(i, COMMENT);
                    i += 1;
                }
            }
            b'"' | b'`' => {
                set(i, STRING);
                i += 1;
                while let Some(&d) = b.get(i) {
                    set(i, STRING);
                    i += 1;
                    if c == b'"' && d == b'\\' {
                        set(i, STRING);
                        i += 1;
                    } else if d == c || (c == b'"' && d == b'\n') {
                        break;
                    }
                }
            }
            _ => i += 1,
        }
    }
    class
}

/// Ends a line with `;` when the next line starts a parenthesized expression at depth 0.
fn separate_paren_lines(src: &str) -> String {
    let class = classes(src);
    let b = src.as_bytes();
    let mut depth: i64 = 0;
    let mut out = String::with_capacity(src.len() + 16);
    let mut line_start = 0;
    let mut last_code: Option<usize> = None;
    for (i, &c) in b.iter().enumerate() {
        let kind = class.get(i).copied().unwrap_or(COMMENT);
        let is_code = kind == CODE;
        if is_code {
            match c {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                _ => {}
            }
        }
        if c == b'\n' {
            let rest = src.get(i + 1..).unwrap_or("");
            let next_starts_paren = rest.trim_start_matches([' ', '\t']).starts_with('(');
            let ends_term = last_code.and_then(|j| b.get(j)).is_some_and(|&e| {
                e.is_ascii_alphanumeric() || matches!(e, b'_' | b']' | b')' | b'"' | b'`')
            });
            let line = src.get(line_start..i).unwrap_or("");
            match last_code {
                Some(j) if depth == 0 && next_starts_paren && ends_term => {
                    out.push_str(src.get(line_start..=j).unwrap_or(""));
                    out.push(';');
                    out.push_str(src.get(j + 1..i).unwrap_or(""));
                }
                _ => out.push_str(line),
            }
            out.push('\n');
            line_start = i + 1;
            last_code = None;
        } else if (is_code && !c.is_ascii_whitespace()) || kind == STRING {
            last_code = Some(i);
        }
    }
    out.push_str(src.get(line_start..).unwrap_or(""));
    out
}

/// Whether a rule head is a partial set rule: `name[term]` with no value.
fn is_set_head(head: &str) -> bool {
    let h = head.trim();
    let Some(open) = h.find('[') else {
        return false;
    };
    let name = h.get(..open).unwrap_or("").trim();
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && h.ends_with(']')
        && !h.contains(":=")
}

/// Gives each extra body of a partial set rule its own copy of the head.
fn split_chained_set_bodies(src: &str) -> String {
    let class = classes(src);
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut depth: i64 = 0;
    let mut stmt_start = 0;
    let mut after_body = false;
    let mut head: Option<String> = None;
    let mut copied = 0;
    for (i, &c) in b.iter().enumerate() {
        if class.get(i).copied() != Some(CODE) {
            continue;
        }
        match c {
            b'{' if depth == 0 => {
                if after_body {
                    if let Some(h) = &head {
                        out.push_str(src.get(copied..i).unwrap_or(""));
                        out.push_str(h);
                        out.push(' ');
                        copied = i;
                    }
                } else {
                    let h = src.get(stmt_start..i).unwrap_or("").trim();
                    head = is_set_head(h).then(|| h.to_string());
                }
                after_body = false;
                depth += 1;
            }
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => {
                depth -= 1;
                if depth == 0 && c == b'}' {
                    after_body = true;
                    stmt_start = i + 1;
                }
            }
            b'\n' if depth == 0 && !after_body => stmt_start = i + 1,
            _ if depth == 0 && !c.is_ascii_whitespace() => after_body = false,
            _ => {}
        }
    }
    out.push_str(src.get(copied..).unwrap_or(""));
    out
}

/// What a routed `sprintf` call becomes: a call of [`COMPAT_MODULE`]'s function.
pub(crate) const COMPAT_CALL: &str = "data.rampart_compat.sprintf_go(";

/// A module added to every template whose calls need it: Go's `fmt.Sprintf` prints `%!v(MISSING)` for a verb
/// without an argument where regorus' `sprintf` fails, and policies rely on it.
pub(crate) const COMPAT_MODULE: &str = r#"package rampart_compat

# Every verb starts at a `%` outside `%%`: with no more of those than arguments, no verb can
# miss its argument, and the verbs need not be counted (a regex, the costly part).
sprintf_go(f, a) = out {
  count(indexof_n(replace(f, "%%", ""), "%")) <= count(a)
  out := sprintf(f, a)
}

sprintf_go(f, a) = out {
  count(indexof_n(replace(f, "%%", ""), "%")) > count(a)
  n := count(regex.find_n(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z]`, replace(f, "%%", ""), -1))
  n > count(a)
  pad := [x | numbers.range(1, n - count(a))[_]; x := "%!v(MISSING)"]
  out := sprintf(f, array.concat(a, pad))
}

sprintf_go(f, a) = out {
  count(indexof_n(replace(f, "%%", ""), "%")) > count(a)
  n := count(regex.find_n(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z]`, replace(f, "%%", ""), -1))
  n <= count(a)
  out := sprintf(f, a)
}
"#;

/// The text of a Rego string literal (`"…"` without `\u` escapes, or a raw string), as far
/// as `%` verbs go: escapes other than `\u` never yield a `%`.
fn literal_format(s: &str) -> Option<&str> {
    let s = s.trim();
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|r| !r.contains("\\u"))
        .or_else(|| s.strip_prefix('`').and_then(|r| r.strip_suffix('`')))?;
    // One literal only: no quote of the same kind inside but escaped ones.
    let class = classes(s);
    (class.iter().all(|&k| k == STRING)).then_some(inner)
}

/// How many `%!v(MISSING)` a call `sprintf(format, [k arguments])` needs, computed as
/// [`COMPAT_MODULE`]'s `sprintf_go` does at run time.
fn missing_args(format: &str, k: usize) -> usize {
    let f = format.replace("%%", "");
    if f.matches('%').count() <= k {
        return 0;
    }
    static VERB: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z]").ok());
    let n = VERB.as_ref().map_or(0, |r| r.find_iter(&f).count());
    n.saturating_sub(k)
}

/// A call `sprintf(F, A)` whose format is a literal and whose arguments an array literal:
/// the padding Go's `fmt.Sprintf` would print is known before evaluation, so the call stays
/// regorus' builtin with the padding written into the array. `None` for any other call.
fn static_sprintf(args: &str) -> Option<String> {
    let parts = split_args(args);
    let [f, a] = parts.as_slice() else {
        return None;
    };
    let format = literal_format(f)?;
    let a_trim = a.trim();
    let inner = a_trim.strip_prefix('[')?.strip_suffix(']')?;
    // The brackets must enclose one array: the inner text is balanced on its own.
    let iclass = classes(inner);
    let mut depth = 0i64;
    for (i, c) in inner.bytes().enumerate() {
        if iclass.get(i).copied() != Some(CODE) {
            continue;
        }
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            // `[x | …]` is a comprehension, not an array of known length.
            b'|' if depth == 0 => return None,
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    let mut elems = split_args(inner);
    if elems.last().is_some_and(|e| e.trim().is_empty()) {
        elems.pop();
    }
    if elems.iter().any(|e| e.trim().is_empty()) {
        return None;
    }
    let missing = missing_args(format, elems.len());
    if missing == 0 {
        return Some(format!("sprintf({args})"));
    }
    let lead = a.len() - a.trim_start().len();
    let body = inner.trim_end();
    let body_ws = inner.get(body.len()..).unwrap_or("");
    let body = body.strip_suffix(',').unwrap_or(body);
    let mut pad = String::new();
    for i in 0..missing {
        if i > 0 || !body.trim().is_empty() {
            pad.push_str(", ");
        }
        pad.push_str("\"%!v(MISSING)\"");
    }
    Some(format!(
        "sprintf({f},{}[{body}{pad}{body_ws}])",
        a.get(..lead).unwrap_or("")
    ))
}

/// The end (exclusive) of the parenthesized text that starts after an opening `(` at `open`.
fn call_end(src: &str, class: &[u8], open: usize) -> Option<usize> {
    let mut depth = 1i64;
    for (i, c) in src.bytes().enumerate().skip(open + 1) {
        if class.get(i).copied() != Some(CODE) {
            continue;
        }
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return (c == b')').then_some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Calls of `sprintf` go through [`COMPAT_MODULE`], but for those whose padding is known
/// from their text (see [`static_sprintf`]): a Rego function call with three bodies costs
/// more than the rest of most violations.
fn route_sprintf(src: &str) -> String {
    let class = classes(src);
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let at_call = class.get(i).copied() == Some(CODE)
            && src.get(i..).is_some_and(|r| r.starts_with("sprintf("))
            && (i == 0
                || b.get(i - 1)
                    .is_some_and(|&p| !(p.is_ascii_alphanumeric() || p == b'_' || p == b'.')));
        if at_call {
            out.push_str(src.get(copied..i).unwrap_or(""));
            let open = i + "sprintf".len();
            let fixed = call_end(src, &class, open).and_then(|end| {
                let args = src.get(open + 1..end)?;
                Some((static_sprintf(args)?, end + 1))
            });
            match fixed {
                Some((call, end)) => {
                    out.push_str(&call);
                    i = end;
                }
                None => {
                    out.push_str(COMPAT_CALL);
                    i += "sprintf(".len();
                }
            }
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(src.get(copied..).unwrap_or(""));
    out
}

/// Splits `s` at commas outside brackets and strings.
fn split_args(s: &str) -> Vec<&str> {
    let class = classes(s);
    let mut depth = 0i64;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in s.bytes().enumerate() {
        if class.get(i).copied() != Some(CODE) {
            continue;
        }
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

/// `a.b`, `a["b"]`, `a[b].c`: a reference, not a variable, literal or call.
fn is_plain_ref(s: &str) -> bool {
    let s = s.trim();
    let head_len = s
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count();
    if head_len == 0 || head_len == s.len() || s.bytes().next().is_some_and(|c| c.is_ascii_digit())
    {
        return false;
    }
    let rest = s.get(head_len..).unwrap_or("");
    (rest.starts_with('.') || rest.starts_with('['))
        && !rest.contains('(')
        && !rest.contains("[_]")
        && !rest.contains(' ')
        && rest
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_.[]\"-".contains(&c))
}

/// OPA assigns reference arguments of a negated call to variables before the negation, so
/// `not f(x.missing)` fails rather than succeeds; the same is written out here.
fn hoist_negated_call_refs(src: &str) -> String {
    let mut n = 0;
    let mut out = String::with_capacity(src.len() + 64);
    for (li, line) in src.split('\n').enumerate() {
        if li > 0 {
            out.push('\n');
        }
        out.push_str(&hoist_line(line, &mut n).unwrap_or_else(|| line.to_string()));
    }
    out
}

fn hoist_line(line: &str, n: &mut usize) -> Option<String> {
    let class = classes(line);
    let code_end = class
        .iter()
        .position(|&k| k == COMMENT)
        .unwrap_or(line.len());
    let code = line.get(..code_end)?;
    let comment = line.get(code_end..).unwrap_or("");
    let tail = code.get(code.trim_end().len()..).unwrap_or("");
    let trimmed = code.trim_start();
    let indent = code.get(..code.len() - trimmed.len()).unwrap_or("");
    let call = trimmed.strip_prefix("not ")?.trim();
    let open = call.find('(')?;
    let name = call.get(..open)?.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
    {
        return None;
    }
    let args = call.get(open + 1..)?.strip_suffix(')')?;
    // The closing parenthesis must be the call's own.
    let mut depth = 0i64;
    let aclass = classes(args);
    for (i, c) in args.bytes().enumerate() {
        if aclass.get(i).copied() != Some(CODE) {
            continue;
        }
        match c {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
    }
    let parts = split_args(args);
    if !parts.iter().any(|a| is_plain_ref(a)) {
        return None;
    }
    let mut pre = String::new();
    let mut new_args = Vec::new();
    for a in parts {
        if is_plain_ref(a) {
            let v = format!("rampart_h{n}");
            *n += 1;
            pre.push_str(&format!("{v} := {}; ", a.trim()));
            new_args.push(v);
        } else {
            new_args.push(a.trim().to_string());
        }
    }
    Some(format!(
        "{indent}{pre}not {name}({}){tail}{comment}",
        new_args.join(", ")
    ))
}

/// Applies every fix-up.
pub(crate) fn fix_v0(src: &str) -> String {
    route_sprintf(&hoist_negated_call_refs(&split_chained_set_bodies(
        &separate_paren_lines(src),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprintf_go_pads_missing_arguments_only() {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        engine
            .add_policy("compat.rego".into(), COMPAT_MODULE.into())
            .unwrap();
        for (f, args, want) in [
            ("a %v b %v", r#"["x", "y"]"#, "a x b y"),
            ("100%% of %v", r#"["x"]"#, "100% of x"),
            ("%v and %v", r#"["x"]"#, "x and %!v(MISSING)"),
            ("%d%% %v", r#"[5]"#, "5% %!v(MISSING)"),
            ("no verbs", "[]", "no verbs"),
        ] {
            let q = format!("data.rampart_compat.sprintf_go({f:?}, {args})");
            let r = engine.eval_query(q.clone(), false).unwrap();
            let got = r.result[0].expressions[0]
                .value
                .as_string()
                .unwrap()
                .to_string();
            assert_eq!(got, want, "{q}");
        }
    }

    #[test]
    fn chained_set_bodies_get_heads() {
        let src = "package p\n\nviolation[{\"msg\": msg}] {\n  a\n  msg := \"x {\"\n} {\n  b\n}\n\nf(x) = y {\n  y := 1\n} {\n  y := 2\n}\n";
        let out = fix_v0(src);
        assert_eq!(out.lines().count(), src.lines().count());
        assert!(out.contains("} violation[{\"msg\": msg}] {\n  b"), "{out}");
        assert!(
            out.contains("}\n\nf(x) = y {\n  y := 1\n} {"),
            "functions are left alone: {out}"
        );
    }

    #[test]
    fn negated_call_refs_are_hoisted() {
        let out = fix_v0("  not accept(rule, v, params.ranges) # c\n  not f(x)\n  not g(a[_].b)\n");
        assert!(
            out.starts_with("  rampart_h0 := params.ranges; not accept(rule, v, rampart_h0) # c\n"),
            "{out}"
        );
        assert!(out.contains("\n  not f(x)\n  not g(a[_].b)\n"), "{out}");
    }

    #[test]
    fn sprintf_is_routed() {
        let out = fix_v0("msg := sprintf(\"%v sprintf(\", [x])\ny := my_sprintf(1)");
        assert_eq!(
            out,
            "msg := sprintf(\"%v sprintf(\", [x])\ny := my_sprintf(1)"
        );
        for (src, want) in [
            ("sprintf(f, [x])", "data.rampart_compat.sprintf_go(f, [x])"),
            (
                "sprintf(\"%v\", a)",
                "data.rampart_compat.sprintf_go(\"%v\", a)",
            ),
            (
                "sprintf(\"%v %v\", [x | x := y[_]])",
                "data.rampart_compat.sprintf_go(\"%v %v\", [x | x := y[_]])",
            ),
            (
                "sprintf(\"\\u0025v\", [])",
                "data.rampart_compat.sprintf_go(\"\\u0025v\", [])",
            ),
            (
                "sprintf(\"%v/%v (%d)\", [a.b,\n  c[0]])",
                "sprintf(\"%v/%v (%d)\", [a.b,\n  c[0], \"%!v(MISSING)\"])",
            ),
            (
                "sprintf(`%v %v`, [])",
                "sprintf(`%v %v`, [\"%!v(MISSING)\", \"%!v(MISSING)\"])",
            ),
            (
                "sprintf(\"%v %v\", [1,])",
                "sprintf(\"%v %v\", [1, \"%!v(MISSING)\"])",
            ),
            (
                "sprintf(\"100%% %s\", [f(x, y)])",
                "sprintf(\"100%% %s\", [f(x, y)])",
            ),
        ] {
            assert_eq!(fix_v0(src), want, "{src}");
        }
    }

    /// A call rewritten from its text gives what `sprintf_go` gives at run time.
    #[test]
    fn static_sprintf_matches_sprintf_go() {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        engine.set_strict_builtin_errors(false);
        engine
            .add_policy("compat.rego".into(), COMPAT_MODULE.into())
            .unwrap();
        let mut defined = 0;
        for (f, args) in [
            ("a %v b %v", r#"["x", "y"]"#),
            ("100%% of %v", r#"["x"]"#),
            ("%v and %v", r#"["x"]"#),
            ("%d%% %v", "[5]"),
            ("%5d|%.2f|%x %s %q", "[1, 2.5]"),
            ("%-5d|%v", "[1]"),
            ("no verbs", "[]"),
            ("%v %", "[1]"),
            ("50% of %v", "[1]"),
            ("%%v %v %v", "[1, 2, 3]"),
        ] {
            let call = format!("sprintf({f:?}, {args})");
            let fixed = fix_v0(&call);
            assert!(
                fixed.starts_with("sprintf("),
                "{call} stays a builtin call: {fixed}"
            );
            let go = format!("data.rampart_compat.sprintf_go({f:?}, {args})");
            let mut value = |q: &str| {
                engine
                    .eval_query(q.to_string(), false)
                    .unwrap()
                    .result
                    .first()
                    .map(|r| r.expressions[0].value.clone())
            };
            let (got, want) = (value(&fixed), value(&go));
            assert_eq!(got, want, "{call} as {fixed}");
            defined += usize::from(got.is_some_and(|v| v != regorus::Value::Undefined));
        }
        assert!(defined >= 6, "only {defined} calls gave a string");
    }

    #[test]
    fn paren_lines_are_separated() {
        let src = "r {\n  input.x.y\n  (a - b) >= 2\n  z := [\n    (1)\n  ]\n}\n";
        let out = fix_v0(src);
        assert!(out.contains("input.x.y;\n  (a - b)"), "{out}");
        assert!(out.contains("[\n    (1)"), "{out}");
        assert_eq!(out.lines().count(), src.lines().count());
    }
}
