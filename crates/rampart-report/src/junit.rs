//! JUnit XML: one testcase per object and check, a failure for each pair that has findings, an
//! error testcase per unreadable input.

use crate::Ctx;
use rampart_core::{Finding, ObjectRef, Severity};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

type Key<'a> = (Option<&'a ObjectRef>, &'a str, &'a str);

pub(crate) fn render(ctx: &Ctx, out: &mut impl Write) -> io::Result<()> {
    let report = ctx.report;
    // (object, file, check) -> its findings, in report order.
    let mut failing: HashMap<Key, Vec<&Finding>> = HashMap::new();
    let mut order: Vec<Key> = Vec::new();
    for f in &ctx.sorted {
        let key = (
            f.object.as_deref(),
            ctx.file_of(f).unwrap_or_default(),
            f.check.as_str(),
        );
        let entry = failing.entry(key).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(f);
    }
    let mut seen = HashSet::new();
    let objects: Vec<(&ObjectRef, &str)> = report
        .objects
        .iter()
        .map(|(o, file)| (&**o, &**file))
        .filter(|pair| seen.insert(*pair))
        .collect();
    let mut seen = HashSet::new();
    let checks: Vec<&str> = report
        .rules
        .iter()
        .map(|r| r.slug.as_str())
        .filter(|s| seen.insert(*s))
        .collect();
    let check_set: HashSet<&str> = checks.iter().copied().collect();
    let object_set: HashSet<(&ObjectRef, &str)> = objects.iter().copied().collect();
    let listed =
        |k: &Key| k.0.is_some_and(|o| object_set.contains(&(o, k.1))) && check_set.contains(k.2);
    // Findings on an object or check the caller did not list still get their testcase.
    let extra: Vec<Key> = order.into_iter().filter(|k| !listed(k)).collect();

    let errors = report.errors.len();
    let tests = objects.len() * checks.len() + extra.len() + errors;
    let failures = failing.len();
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"rampart\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">"
    )?;
    writeln!(
        out,
        "  <testsuite name=\"rampart\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\">"
    )?;
    writeln!(out, "    <properties>")?;
    writeln!(
        out,
        "      <property name=\"rampart.version\" value=\"{}\"/>",
        esc(ctx, report.tool_version)
    )?;
    writeln!(
        out,
        "      <property name=\"rampart.fail-on\" value=\"{}\"/>",
        report.fail_on.as_str()
    )?;
    writeln!(out, "    </properties>")?;
    let mut case = String::new();
    for &(obj, file) in &objects {
        for &check in &checks {
            let found = failing.get(&(Some(obj), file, check)).map(Vec::as_slice);
            testcase(
                ctx,
                &mut case,
                file,
                &case_name(Some(obj), check),
                found.unwrap_or_default(),
            );
            out.write_all(case.as_bytes())?;
            case.clear();
        }
    }
    for key in extra {
        let found = failing.get(&key).map(Vec::as_slice).unwrap_or_default();
        testcase(ctx, &mut case, key.1, &case_name(key.0, key.2), found);
        out.write_all(case.as_bytes())?;
        case.clear();
    }
    for e in report.errors {
        let name = format!("input {}:{}", e.line, e.column);
        writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\">\n      <error message=\"{}\" type=\"input-error\">{}</error>\n    </testcase>",
            esc(ctx, &e.file),
            esc(ctx, &name),
            esc(ctx, &e.message),
            esc_text(ctx, &e.to_string()),
        )?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

fn case_name(obj: Option<&ObjectRef>, check: &str) -> String {
    match obj {
        Some(o) => format!("{o} {check}"),
        None => check.to_string(),
    }
}

fn testcase(ctx: &Ctx, out: &mut String, file: &str, name: &str, found: &[&Finding]) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"",
        esc(ctx, file),
        esc(ctx, name)
    );
    let Some(first) = found.first() else {
        out.push_str("/>\n");
        return;
    };
    let worst = found
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    let own = |f: &Finding| crate::redact::Redactor::message(f, &f.message).into_owned();
    let message = match found.len() {
        1 => own(first),
        n => format!("{} (and {} more)", own(first), n - 1),
    };
    let mut body = String::new();
    for f in found {
        let pos = match &f.location {
            Some(l) => format!("{}:{}:{}: ", l.file, l.line, l.column),
            None => String::new(),
        };
        let _ = writeln!(body, "{pos}{}[{}] {}", f.severity, f.check, own(f));
        if let Some(t) = f.location.as_ref().and_then(|l| l.template.as_deref()) {
            let _ = writeln!(body, "  template: {t}");
        }
        if let Some(r) = &f.remediation {
            let _ = writeln!(body, "  remediation: {r}");
        }
    }
    let _ = write!(
        out,
        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
        esc(ctx, &message),
        worst.as_str(),
        esc_text(ctx, &body),
    );
}

fn esc(_ctx: &Ctx, s: &str) -> String {
    xml_escape(s)
}

/// Escapes for XML text or attribute values (finding messages come masked already). Characters XML 1.0 cannot carry
/// become U+FFFD; newlines and tabs in attributes are kept as character references.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Like [`esc`] for element text, where line breaks can stay as they are.
fn esc_text(ctx: &Ctx, s: &str) -> String {
    esc(ctx, s).replace("&#10;", "\n")
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}
