//! YAML to JSON values with positions, resolving plain scalars the way go-yaml v2 does
//! (Kubernetes decodes YAML through `sigs.k8s.io/yaml`, which uses go-yaml v2 into `interface{}`).

use crate::pos::{KeyPos, PosKids, PosNode};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest nesting accepted; the API server itself rejects far shallower objects in practice.
pub(crate) const MAX_DEPTH: usize = 256;
/// Upper bound on nodes in one document after alias expansion (guards against "billion laughs").
pub(crate) const MAX_NODES: usize = 4_000_000;

/// One parsed YAML document.
#[derive(Debug)]
pub(crate) struct Doc {
    pub value: Value,
    pub pos: PosNode,
    /// 1-based line where the document's root node starts.
    pub start_line: u32,
    /// 1-based line of the preceding document boundary, used to attach `# Source:` comments.
    pub boundary_line: u32,
}

/// A problem in the YAML text, 1-based.
#[derive(Debug, Clone)]
pub(crate) struct YamlError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        kids: Vec<PosNode>,
        line: u32,
        col: u32,
        anchor: usize,
    },
    Map {
        /// The entries in document order, built into a map of the right size at its end.
        entries: Vec<Pending>,
        key: Option<(String, u32, u32, bool)>,
        line: u32,
        col: u32,
        anchor: usize,
    },
}

/// A mapping entry read but not yet inserted: a key and its value, or a merge (`<<`) of
/// another mapping's entries. `at` is where the key is (for a merge, where its value is) and
/// the value's positions.
struct Pending {
    key: Option<String>,
    value: Value,
    at: KeyPos,
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, PosNode)>,
    root: Option<(Value, PosNode)>,
    nodes: usize,
}

fn pos_of(span: &Span, line_offset: u32) -> (u32, u32) {
    let m = span.start;
    (m.line() as u32 + line_offset, m.col() as u32 + 1)
}

/// Parses every document of `text`. A syntax error ends the document it is in; parsing resumes
/// at the next `---` line after it, so valid neighbours are never lost.
pub(crate) fn parse_documents(text: &str) -> (Vec<Doc>, Vec<YamlError>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut offset_bytes = 0usize;
    let mut line_offset = 0u32;
    let mut text = Cow::Borrowed(text);
    let mut patches = 0;
    loop {
        let rest = text.get(offset_bytes..).unwrap_or("");
        let before = docs.len();
        match parse_chunk(rest, line_offset, &mut docs) {
            Ok(()) => break,
            Err(e) if e.message.ends_with(LAX_QUOTE_ERROR) && patches < 64 => {
                // go-yaml accepts what saphyr rejects here; re-indenting changes no value
                match reindent_quoted(&text, e.line, e.column) {
                    Some(patched) => {
                        patches += 1;
                        docs.truncate(before);
                        text = Cow::Owned(patched);
                    }
                    None => {
                        errors.push(e);
                        break;
                    }
                }
            }
            Err(e) => {
                let err_line = e.line;
                errors.push(e);
                // resume at the next document separator after the error line
                match next_separator(&text, err_line) {
                    Some((byte, line)) if byte > offset_bytes => {
                        offset_bytes = byte;
                        line_offset = line - 1;
                    }
                    _ => break,
                }
            }
        }
    }
    (docs, errors)
}

/// saphyr's message for quoted-scalar continuation lines indented no deeper than their key.
const LAX_QUOTE_ERROR: &str = "invalid indentation in quoted scalar";

/// Indents every continuation line of the quoted scalar starting at `line`:`column` (1-based)
/// past the quote's column. Folding drops a continuation line's leading white space, so the
/// scalar's value is unchanged. `None` if there is no quote there.
fn reindent_quoted(text: &str, line: u32, column: u32) -> Option<String> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let line_text = text.get(line_start..)?.split('\n').next()?;
    let quote_at = line_start
        + line_text
            .char_indices()
            .nth(column.saturating_sub(1) as usize)?
            .0;
    let quote = text.get(quote_at..)?.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let pad = " ".repeat(column as usize + 1);
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(text.get(..=quote_at)?);
    let mut chars = text.get(quote_at + 1..)?.char_indices().peekable();
    let mut end = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                out.push(c);
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                    if n == '\n' {
                        out.push_str(&pad);
                    }
                }
            }
            '\'' if quote == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                out.push(c);
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            c if c == quote => {
                out.push(c);
                end = Some(quote_at + 1 + i + c.len_utf8());
                break;
            }
            '\n' => {
                out.push(c);
                out.push_str(&pad);
            }
            _ => out.push(c),
        }
    }
    out.push_str(text.get(end?..)?);
    Some(out)
}

/// Byte offset and 1-based line of the first `---` line strictly after `after_line`.
fn next_separator(text: &str, after_line: u32) -> Option<(usize, u32)> {
    let mut byte = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i as u32 + 1;
        if n > after_line
            && (line.starts_with("---") && line[3..].trim().is_empty() || line.starts_with("--- "))
        {
            return Some((byte, n));
        }
        byte += line.len();
    }
    None
}

fn scan_error(e: &ScanError, line_offset: u32) -> YamlError {
    let m = e.marker();
    YamlError {
        line: m.line() as u32 + line_offset,
        column: m.col() as u32 + 1,
        message: if e.info().contains("recursion limit") {
            "nesting deeper than the YAML parser's recursion limit".to_string()
        } else {
            format!("invalid YAML: {}", e.info())
        },
    }
}

fn parse_chunk(text: &str, line_offset: u32, docs: &mut Vec<Doc>) -> Result<(), YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
    };
    let mut boundary_line = line_offset;
    let mut start_line = 0u32;
    while let Some(next) = parser.next_event() {
        let (ev, span) = next.map_err(|e| scan_error(&e, line_offset))?;
        let (line, col) = pos_of(&span, line_offset);
        match ev {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                b.root = None;
                b.anchors.clear();
                b.nodes = 0;
                start_line = 0;
            }
            Event::DocumentEnd => {
                if let Some((value, pos)) = b.root.take() {
                    docs.push(Doc {
                        value,
                        pos,
                        start_line,
                        boundary_line,
                    });
                }
                boundary_line = line;
            }
            Event::Alias(id) => {
                let (v, p) = b.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    line,
                    column: col,
                    message: "invalid YAML: alias to an unknown anchor".into(),
                })?;
                b.nodes += count_nodes(&v);
                b.check_nodes(line, col)?;
                b.complete(v, p, 0, line, col)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                if start_line == 0 {
                    start_line = line;
                }
                b.nodes += 1;
                b.check_nodes(line, col)?;
                let is_merge_key = style == ScalarStyle::Plain && text == "<<";
                if b.expecting_key() {
                    let key = key_string(&text, style, tag.as_deref());
                    if let Some(Frame::Map { key: k, .. }) = b.stack.last_mut() {
                        *k = Some((key, line, col, is_merge_key));
                    }
                    continue;
                }
                let v = resolve_scalar(&text, style, tag.as_deref());
                b.complete(v, PosNode::leaf(line, col), anchor, line, col)?;
            }
            Event::SequenceStart(anchor, _) => {
                if start_line == 0 {
                    start_line = line;
                }
                b.push(
                    Frame::Seq {
                        items: Vec::new(),
                        kids: Vec::new(),
                        line,
                        col,
                        anchor,
                    },
                    line,
                    col,
                )?;
            }
            Event::MappingStart(anchor, _) => {
                if start_line == 0 {
                    start_line = line;
                }
                b.push(
                    Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        line,
                        col,
                        anchor,
                    },
                    line,
                    col,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = b.stack.pop() else {
                    return Err(YamlError {
                        line,
                        column: col,
                        message: "invalid YAML: unbalanced collection".into(),
                    });
                };
                let (v, kids, anchor, line, col) = match frame {
                    Frame::Seq {
                        mut items,
                        kids,
                        line,
                        col,
                        anchor,
                    } => {
                        items.shrink_to_fit();
                        let kids = PosKids::Seq(kids.into_boxed_slice());
                        (Value::Array(items), kids, anchor, line, col)
                    }
                    Frame::Map {
                        entries,
                        line,
                        col,
                        anchor,
                        ..
                    } => {
                        let (map, kids) = build_map(entries)?;
                        let kids = PosKids::Map(kids.into_boxed_slice());
                        (Value::Object(map), kids, anchor, line, col)
                    }
                };
                b.complete(v, PosNode { line, col, kids }, anchor, line, col)?;
            }
        }
    }
    Ok(())
}

impl Builder {
    fn check_nodes(&self, line: u32, column: u32) -> Result<(), YamlError> {
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                line,
                column,
                message: format!(
                    "document has more than {MAX_NODES} nodes after expanding aliases"
                ),
            });
        }
        Ok(())
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn push(&mut self, frame: Frame, line: u32, column: u32) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                line,
                column,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        // a collection used as a mapping key: Kubernetes cannot represent it
        if self.expecting_key() {
            return Err(YamlError {
                line,
                column,
                message: "a mapping key must be a scalar, found a collection".into(),
            });
        }
        self.nodes += 1;
        self.check_nodes(line, column)?;
        self.stack.push(frame);
        Ok(())
    }

    fn complete(
        &mut self,
        v: Value,
        p: PosNode,
        anchor: usize,
        line: u32,
        col: u32,
    ) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (v.clone(), p.clone()));
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some((v, p));
                Ok(())
            }
            Some(Frame::Seq { items, kids, .. }) => {
                items.push(v);
                kids.push(p);
                Ok(())
            }
            Some(Frame::Map { entries, key, .. }) => {
                let Some((k, kl, kc, merge)) = key.take() else {
                    return Err(YamlError {
                        line,
                        column: col,
                        message: "a mapping key must be a scalar, found a collection".into(),
                    });
                };
                // a merge is located at its value, an entry at its key
                let (line, col) = if merge { (line, col) } else { (kl, kc) };
                entries.push(Pending {
                    key: (!merge).then_some(k),
                    value: v,
                    at: KeyPos { line, col, node: p },
                });
                Ok(())
            }
        }
    }
}

/// The mapping of `entries`, allocated once at its size, with its positions in key order.
fn build_map(entries: Vec<Pending>) -> Result<(Map<String, Value>, Vec<KeyPos>), YamlError> {
    let mut map = Map::with_capacity(entries.len());
    let mut kids = Vec::with_capacity(entries.len());
    for e in entries {
        match e.key {
            Some(k) => insert(&mut map, &mut kids, k, e.value, e.at),
            None => merge_into(&mut map, &mut kids, e.value, e.at)?,
        }
    }
    Ok((map, kids))
}

fn insert(map: &mut Map<String, Value>, kids: &mut Vec<KeyPos>, k: String, v: Value, kp: KeyPos) {
    match map.entry(k) {
        serde_json::map::Entry::Vacant(slot) => {
            slot.insert(v);
            kids.push(kp);
        }
        // a repeated key: the value changes in place, as go-yaml's last one wins
        serde_json::map::Entry::Occupied(mut slot) => {
            slot.insert(v);
            let k = slot.key().clone();
            if let Some(e) = map
                .keys()
                .position(|x| *x == k)
                .and_then(|i| kids.get_mut(i))
            {
                *e = kp;
            }
        }
    }
}

/// `<<: *base` or `<<: [*a, *b]`: keys already present win, earlier sources win over later ones.
fn merge_into(
    map: &mut Map<String, Value>,
    kids: &mut Vec<KeyPos>,
    v: Value,
    at: KeyPos,
) -> Result<(), YamlError> {
    let KeyPos { line, col, node: p } = at;
    let sources: Vec<(Value, PosNode)> = match v {
        Value::Object(_) => vec![(v, p)],
        Value::Array(items) => {
            let pk = match p.kids {
                PosKids::Seq(k) => k.into_vec(),
                _ => Vec::new(),
            };
            items
                .into_iter()
                .zip(
                    pk.into_iter()
                        .chain(std::iter::repeat(PosNode::leaf(line, col))),
                )
                .collect()
        }
        _ => {
            return Err(YamlError {
                line,
                column: col,
                message: "a merge key `<<` needs a mapping or a list of mappings".into(),
            });
        }
    };
    for (src, sp) in sources {
        let Value::Object(m) = src else {
            return Err(YamlError {
                line,
                column: col,
                message: "a merge key `<<` needs a mapping or a list of mappings".into(),
            });
        };
        let spk = match sp.kids {
            PosKids::Map(k) => k.into_vec(),
            _ => Vec::new(),
        };
        let mut spk = spk.into_iter();
        for (k, val) in m {
            let kp = spk.next();
            if map.contains_key(&k) {
                continue;
            }
            let kp = kp.unwrap_or(KeyPos {
                line,
                col,
                node: PosNode::leaf(line, col),
            });
            insert(map, kids, k, val, kp);
        }
    }
    Ok(())
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

fn tag_suffix(tag: Option<&Tag>) -> Option<&str> {
    tag.filter(|t| t.handle == "!!" || t.handle == "tag:yaml.org,2002:")
        .map(|t| t.suffix.as_str())
}

/// Mapping keys become strings, as `sigs.k8s.io/yaml` renders non-string keys.
fn key_string(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> String {
    match resolve_scalar(text, style, tag) {
        Value::String(s) => s,
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

/// Resolves a scalar: quoted scalars are strings; plain ones follow go-yaml v2.
pub(crate) fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    match tag_suffix(tag) {
        Some("str") | Some("binary") => return Value::String(text.to_string()),
        Some("null") => return Value::Null,
        Some("bool") | Some("int") | Some("float") => return resolve_plain(text),
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    resolve_plain(text)
}

/// go-yaml v2's `resolve` for plain scalars decoded into `interface{}`.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let first = s.as_bytes().first().copied().unwrap_or(b' ');
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Value::String(s.to_string());
    }
    let plain: Cow<'_, str> = if s.contains('_') {
        Cow::Owned(s.replace('_', ""))
    } else {
        Cow::Borrowed(s)
    };
    if let Some(n) = parse_go_int(&plain) {
        return n;
    }
    if let Some(f) = is_yaml_float(&plain)
        .then(|| plain.parse::<f64>().ok())
        .flatten()
    {
        // the API server sees the JSON encoding of the float, where 8.0 is `8`
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            return Value::Number((f as i64).into());
        }
        if let Some(n) = Number::from_f64(f) {
            return Value::Number(n);
        }
    }
    // .inf / .nan have no JSON form; Kubernetes would fail to encode them, keep the text
    Value::String(s.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint`, plus go-yaml's `0b` handling.
fn parse_go_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, body.get(1..)?)
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            let v = if mag == i64::MAX as u64 + 1 {
                i64::MIN
            } else {
                -(mag as i64)
            };
            return Some(Value::Number(v.into()));
        }
        return None;
    }
    Some(Value::Number(mag.into()))
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
        *i - st
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_yaml_v2_scalars() {
        let cases: &[(&str, Value)] = &[
            ("yes", json!(true)),
            ("On", json!(true)),
            ("n", json!(false)),
            ("OFF", json!(false)),
            ("yEs", json!("yEs")),
            ("0644", json!(420)),
            ("0x1F", json!(31)),
            ("0b101", json!(5)),
            ("1_000", json!(1000)),
            ("-12", json!(-12)),
            ("+7", json!(7)),
            ("1.5", json!(1.5)),
            ("1e3", json!(1000)),
            ("08", json!(8)),
            ("1.0", json!(1)),
            ("~", json!(null)),
            ("", json!(null)),
            ("1.2.3", json!("1.2.3")),
            ("nginx:1.25", json!("nginx:1.25")),
            (".inf", json!(".inf")),
            ("-", json!("-")),
        ];
        for (input, want) in cases {
            assert_eq!(&resolve_plain(input), want, "resolving {input:?}");
        }
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let (docs, errs) = parse_documents("a: 'yes'\nb: \"0644\"\nc: yes\nd: !!str 0644\n");
        assert!(errs.is_empty());
        assert_eq!(
            docs[0].value,
            json!({"a": "yes", "b": "0644", "c": true, "d": "0644"})
        );
    }

    #[test]
    fn positions_are_one_based() {
        let (docs, _) = parse_documents("a:\n  b: 1\n  c:\n    - x\n");
        let p = docs[0].pos.find(&docs[0].value, "/a/c/0").unwrap();
        assert_eq!((p.0, p.1), (4, 7));
        let p = docs[0].pos.find(&docs[0].value, "/a/b").unwrap();
        assert_eq!((p.0, p.1), (2, 3));
    }

    #[test]
    fn anchors_and_merge_keys() {
        let (docs, errs) = parse_documents("base: &b {x: 1, z: 2}\nobj:\n  <<: *b\n  z: 3\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(docs[0].value["obj"], json!({"z": 3, "x": 1}));
        // positions follow the keys' order in the value: `x` comes from the anchor on line 1,
        // the explicit `z` is on line 4
        let at = |p: &str| docs[0].pos.find(&docs[0].value, p);
        assert_eq!(at("/obj/x"), Some((1, 11)));
        assert_eq!(at("/obj/z"), Some((4, 3)));
        // go-yaml v2 reads the key `y` as the boolean true, which JSON spells "true"
        let (docs, _) = parse_documents("y: 1\n");
        assert_eq!(docs[0].value, json!({"true": 1}));
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_takes_the_last_value_and_position() {
        let (docs, errs) = parse_documents("a: 1\nb: {c: 2}\na: 3\nd: [4]\n");
        assert!(errs.is_empty(), "{errs:?}");
        let keys: Vec<_> = docs[0].value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b", "d"]);
        assert_eq!(docs[0].value["a"], json!(3));
        let at = |p: &str| docs[0].pos.find(&docs[0].value, p);
        assert_eq!(at("/a"), Some((3, 1)));
        assert_eq!(at("/b/c"), Some((2, 5)));
        assert_eq!(at("/d/0"), Some((4, 5)));
        assert_eq!(at("/e"), None);
    }

    #[test]
    fn syntax_error_keeps_neighbours() {
        let text = "a: 1\n---\nb: [1, 2\nc: 3\n---\nd: 4\n";
        let (docs, errs) = parse_documents(text);
        assert_eq!(errs.len(), 1);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].value, json!({"d": 4}));
        assert_eq!(docs[1].start_line, 6);
    }

    #[test]
    fn quoted_continuation_at_the_key_indent_is_accepted_like_go_yaml() {
        let text = "a:\n  b:\n    description: \"When set the TLS is optional, defaults\n    to false.\"\n    c: 'it''s\n    fine'\n    d: 1\n";
        let (docs, errs) = parse_documents(text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            docs[0].value["a"]["b"]["description"],
            json!("When set the TLS is optional, defaults to false.")
        );
        assert_eq!(docs[0].value["a"]["b"]["c"], json!("it's fine"));
        assert_eq!(docs[0].pos.find(&docs[0].value, "/a/b/d"), Some((7, 5)));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        let (docs, errs) = parse_documents(&text);
        assert!(docs.is_empty());
        assert!(errs[0].message.contains("nesting deeper"), "{errs:?}");
    }

    #[test]
    fn billion_laughs_is_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let (_, errs) = parse_documents(&text);
        assert!(
            errs.iter()
                .any(|e| e.message.contains("nodes after expanding aliases"))
        );
    }
}
