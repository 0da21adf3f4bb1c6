//! The human-readable report: findings grouped by file, each with a source snippet.

use crate::Ctx;
use crate::view::{BySeverity, GroupBy, Summary};
use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use rampart_core::{Finding, Severity};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;

/// Lines of context shown above and below the marked line.
const BEFORE: usize = 2;
const AFTER: usize = 1;
/// Lines longer than this (minified JSON) are not shown: the position and the field's pointer
/// say where the problem is, and redacting and cutting a megabyte line per finding would not pay.
const LONG_LINE: usize = 512;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

fn severity_style(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;35m",
        Severity::High => "\x1b[1;31m",
        Severity::Medium => "\x1b[1;33m",
        Severity::Low => "\x1b[1;36m",
        Severity::Info => "\x1b[1;34m",
    }
}

fn level(s: Severity) -> Level<'static> {
    match s {
        Severity::Critical | Severity::High => Level::ERROR,
        Severity::Medium => Level::WARNING,
        Severity::Low => Level::INFO,
        Severity::Info => Level::NOTE,
    }
}

/// A file's text split into lines once, for every finding in it.
struct Source {
    text: Arc<str>,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl Source {
    fn new(text: Arc<str>) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if starts.last() == Some(&text.len()) && !text.is_empty() {
            starts.pop();
        }
        Source { text, starts }
    }

    /// Line `n` (1-based) without its line ending.
    fn line(&self, n: usize) -> Option<&str> {
        let start = *self.starts.get(n.checked_sub(1)?)?;
        let end = self
            .starts
            .get(n)
            .map_or(self.text.len(), |e| e.saturating_sub(1));
        let line = self.text.get(start..end.max(start))?;
        let line = line.strip_suffix('\n').unwrap_or(line);
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

pub(crate) fn render(
    ctx: &Ctx,
    out: &mut impl Write,
    color: bool,
    group_by: GroupBy,
) -> io::Result<()> {
    let style = Style { color };
    let renderer = if color {
        Renderer::styled().decor_style(DecorStyle::Unicode)
    } else {
        Renderer::plain()
    };
    let groups = match group_by {
        GroupBy::File => by_file(ctx),
        GroupBy::Check => by_check(ctx),
    };
    for batch in groups.chunks(64) {
        let parts: Vec<String> = batch
            .par_iter()
            .map(|group| render_group(ctx, &renderer, &style, group))
            .collect();
        for part in parts {
            out.write_all(part.as_bytes())?;
        }
    }
    footer(ctx, &style, out)
}

/// The input errors and the one-line summary that end every text report.
fn footer(ctx: &Ctx, style: &Style, out: &mut impl Write) -> io::Result<()> {
    let report = ctx.report;
    let mut chunk = String::new();
    for e in report.errors {
        let line = clean(&e.to_string());
        let _ = writeln!(chunk, "{}", style.paint("\x1b[31m", &line));
    }
    if !report.errors.is_empty() {
        chunk.push('\n');
    }
    let _ = writeln!(chunk, "{}", style.paint(BOLD, &summary(ctx)));
    out.write_all(chunk.as_bytes())
}

/// Findings under one heading.
struct TextGroup<'a> {
    heading: String,
    findings: Vec<&'a Finding>,
}

/// Runs of findings in one file, in the report's order.
fn by_file<'a>(ctx: &Ctx<'_, 'a>) -> Vec<TextGroup<'a>> {
    let mut groups = Vec::new();
    let mut rest: &[&'a Finding] = &ctx.sorted;
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .take_while(|g| file_of(g) == file_of(first))
            .count();
        let (group, tail) = rest.split_at(n);
        let name = file_of(first).map_or_else(|| "(no file)".to_string(), clean);
        groups.push(TextGroup {
            heading: format!("# {name} ({})", count(group.len())),
            findings: group.to_vec(),
        });
        rest = tail;
    }
    groups
}

/// One group per check, the worst severity first, then the most findings; in each, the
/// report's order (by file).
fn by_check<'a>(ctx: &Ctx<'_, 'a>) -> Vec<TextGroup<'a>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(&str, Severity, Vec<&'a Finding>)> = Vec::new();
    for &f in &ctx.sorted {
        let i = *index.entry(&f.check).or_insert_with(|| {
            groups.push((&f.check, f.severity, Vec::new()));
            groups.len() - 1
        });
        if let Some((_, worst, list)) = groups.get_mut(i) {
            *worst = (*worst).max(f.severity);
            list.push(f);
        }
    }
    groups.sort_by(|a, b| {
        (b.1, b.2.len())
            .cmp(&(a.1, a.2.len()))
            .then_with(|| a.0.cmp(b.0))
    });
    let titles: HashMap<&str, &str> = ctx
        .report
        .rules
        .iter()
        .map(|r| (r.slug.as_str(), r.summary.as_str()))
        .collect();
    groups
        .into_iter()
        .map(|(check, _, findings)| {
            let by = BySeverity::of(&findings);
            let title = titles
                .get(check)
                .map(|t| format!(": {}", clean(t)))
                .unwrap_or_default();
            TextGroup {
                heading: format!(
                    "# {check}{title} ({}: {})",
                    count(findings.len()),
                    by.describe()
                ),
                findings,
            }
        })
        .collect()
}

fn count(n: usize) -> String {
    format!("{n} finding{}", plural(n))
}

/// The file a finding is in, if it is located.
fn file_of(f: &Finding) -> Option<&str> {
    f.location.as_ref().map(|l| &*l.file)
}

/// A group's findings under its heading, each with a snippet of its file.
fn render_group(ctx: &Ctx, renderer: &Renderer, style: &Style, group: &TextGroup) -> String {
    let mut chunk = String::new();
    let _ = writeln!(chunk, "{}", style.paint(BOLD, &group.heading));
    // findings of one file come one after the other: its lines are split once per run
    let mut source: Option<(&str, Option<Source>)> = None;
    for f in &group.findings {
        let file = file_of(f);
        let src = match (file, &source) {
            (None, _) => None,
            (Some(name), Some((cached, src))) if *cached == name => src.as_ref(),
            (Some(name), _) => {
                let src = (ctx.report.sources)(name).map(Source::new);
                source = Some((name, src));
                source.as_ref().and_then(|(_, s)| s.as_ref())
            }
        };
        finding(ctx, renderer, style, f, src, &mut chunk);
    }
    chunk
}

/// `--summary`: counts by check and severity and the worst objects instead of every finding.
pub(crate) fn render_summary(ctx: &Ctx, out: &mut impl Write, color: bool) -> io::Result<()> {
    let style = Style { color };
    let summary = Summary::new(ctx);
    let mut chunk = String::new();
    if !summary.by_check.is_empty() {
        let _ = writeln!(chunk, "{}", style.paint(BOLD, "# Findings by check"));
        let width = summary
            .by_check
            .iter()
            .map(|c| c.check.len())
            .max()
            .unwrap_or(0);
        for c in &summary.by_check {
            let objects = match c.objects {
                0 => String::new(),
                n => format!("in {n} object{}", plural(n)),
            };
            let line = format!("{:>6}  {:<width$}  {objects}", c.findings, c.check);
            let _ = writeln!(
                chunk,
                "{}{}",
                style.paint(
                    severity_style(c.severity),
                    &format!("{:<8}", c.severity.as_str())
                ),
                line.trim_end(),
            );
        }
        chunk.push('\n');
    }
    if !summary.top_objects.is_empty() {
        let _ = writeln!(
            chunk,
            "{}",
            style.paint(BOLD, "# Objects with the worst findings")
        );
        for o in &summary.top_objects {
            let file = o
                .file
                .map(|f| format!(" ({})", clean(f)))
                .unwrap_or_default();
            let _ = writeln!(
                chunk,
                "{}{:>6}  {}{file}: {}",
                style.paint(severity_style(o.worst), &format!("{:<8}", o.worst.as_str())),
                o.findings,
                clean(&o.object_ref.to_string()),
                o.by_severity.describe(),
            );
        }
        chunk.push('\n');
    }
    out.write_all(chunk.as_bytes())?;
    footer(ctx, &style, out)
}

fn summary(ctx: &Ctx) -> String {
    let n = ctx.sorted.len();
    let counts: Vec<String> = ctx
        .by_severity()
        .iter()
        .map(|(s, c)| format!("{c} {}", s.as_str()))
        .collect();
    let objects = ctx.report.objects.len();
    let errors = ctx.report.errors.len();
    format!(
        "{n} finding{} ({}) in {objects} object{}; {errors} input error{}; {} at or above {}",
        plural(n),
        counts.join(", "),
        plural(objects),
        plural(errors),
        ctx.failing(),
        ctx.report.fail_on.as_str(),
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn finding(
    ctx: &Ctx,
    renderer: &Renderer,
    style: &Style,
    f: &Finding,
    source: Option<&Source>,
    out: &mut String,
) {
    let message = clean(&crate::redact::Redactor::message(f, &f.message));
    let pos = match &f.location {
        Some(l) => format!("{}:{}:{}: ", clean(&l.file), l.line, l.column),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "{}{}[{}] {}",
        style.paint(BOLD, &pos),
        style.paint(severity_style(f.severity), f.severity.as_str()),
        f.check,
        style.paint(BOLD, &message),
    );

    let mut notes: Vec<(Level<'static>, String)> = Vec::new();
    if let Some(o) = &f.object {
        notes.push((Level::NOTE, format!("object: {}", clean(&o.to_string()))));
    }
    if let Some(t) = f.location.as_ref().and_then(|l| l.template.as_deref()) {
        notes.push((Level::NOTE, format!("template: {}", clean(t))));
    }
    if let Some(rem) = &f.remediation {
        notes.push((Level::HELP, clean(rem)));
    }

    let snippet = f.location.as_ref().zip(source).and_then(|(l, src)| {
        let line = usize::try_from(l.line)
            .ok()
            .filter(|&n| n >= 1 && n <= src.len())?;
        let col = usize::try_from(l.column).unwrap_or(0);
        window(ctx, &l.file, src, line, col)
    });
    if snippet.is_none()
        && let Some(l) = f.location.as_ref().filter(|l| !l.pointer.is_empty())
    {
        notes.insert(0, (Level::NOTE, format!("field: {}", clean(&l.pointer))));
    }
    let group = Group::with_level(level(f.severity));
    let group = match &snippet {
        Some(w) => {
            let mut s = Snippet::source(w.text.as_str())
                .line_start(w.first_line)
                .fold(false);
            if let Some(span) = w.span.clone() {
                s = s.annotation(AnnotationKind::Primary.span(span));
            }
            group.element(s)
        }
        None => group,
    };
    let group = group.elements(
        notes
            .iter()
            .map(|(lvl, text)| lvl.clone().message(text.as_str())),
    );
    if group.is_empty() {
        out.push('\n');
        return;
    }
    out.push_str(&renderer.render(&[group]));
    out.push_str("\n\n");
}

struct Window {
    text: String,
    first_line: usize,
    span: Option<std::ops::Range<usize>>,
}

/// The lines around `line`, cleaned and redacted, with the marked line's span: from `col` (a
/// 1-based character column) to the end of the line, or the whole line when `col` is off it.
fn window(ctx: &Ctx, file: &str, src: &Source, line: usize, col: usize) -> Option<Window> {
    let first = line.saturating_sub(BEFORE).max(1);
    let last = (line + AFTER).min(src.len());
    let mut text = String::new();
    let mut span = None;
    for n in first..=last {
        let raw = src.line(n)?;
        if raw.len() > LONG_LINE {
            if n == line {
                return None;
            }
            text.push_str(&format!("\u{2026} ({} bytes not shown)", raw.len()));
        } else {
            let cleaned = clean(&ctx.redactor.line(file, n as u32, raw));
            if n == line {
                let start = text.len();
                let content_start = cleaned.len() - cleaned.trim_start().len();
                let from = col
                    .checked_sub(1)
                    .and_then(|c| cleaned.char_indices().nth(c))
                    .map_or(content_start, |(i, _)| i);
                let end = cleaned.trim_end().len();
                if end > from {
                    span = Some(start + from..start + end);
                }
            }
            text.push_str(&cleaned);
        }
        if n != last {
            text.push('\n');
        }
    }
    Some(Window {
        text,
        first_line: first,
        span,
    })
}

/// Terminal-safe, single-line text: control characters (escape sequences from a hostile file)
/// become U+FFFD, line breaks a space; tabs are kept.
fn clean(s: &str) -> String {
    // most lines are printable ASCII: copied as they are
    if s.bytes().all(|b| (b' '..0x7f).contains(&b) || b == b'\t') {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' | '\r' => ' ',
            '\t' => c,
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lines() {
        let s = Source::new("a\r\nb\n\nc\n".into());
        assert_eq!(s.len(), 4);
        assert_eq!(s.line(1), Some("a"));
        assert_eq!(s.line(3), Some(""));
        assert_eq!(s.line(4), Some("c"));
        assert_eq!(s.line(5), None);
        assert_eq!(s.line(0), None);
        let s = Source::new("x".into());
        assert_eq!(s.line(1), Some("x"));
    }

    #[test]
    fn clean_strips_escapes() {
        assert_eq!(clean("a\x1b[31mb\tc\nd"), "a\u{FFFD}[31mb\tc d");
        assert_eq!(clean("image: nginx:1.25\t# ok"), "image: nginx:1.25\t# ok");
        assert_eq!(clean("név: \u{7f}x"), "név: \u{FFFD}x");
    }
}
