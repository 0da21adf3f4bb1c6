//! Reading audit events: JSON lines, a JSON array, or `EventList` documents; plain or gzip.

use crate::error::AuditError;
use serde_json::Value;
use std::io::Read;

/// Reads `path` (`-` is stdin) to text, gunzipping it when it starts with the gzip magic.
pub fn read_input(path: &str) -> Result<String, AuditError> {
    let mut raw = Vec::new();
    let res = if path == "-" {
        std::io::stdin().lock().read_to_end(&mut raw)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut raw))
    };
    res.map_err(|source| AuditError::Read {
        path: path.to_string(),
        source,
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| AuditError::Read {
                path: path.to_string(),
                source,
            })?;
        raw = out;
    }
    String::from_utf8(raw)
        .map_err(|e| AuditError::input(path, 0, 0, format!("not UTF-8 text: {e}")))
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

/// What [`parse_events`] found: the audit events, and the documents that are not audit events
/// (no `auditID`), each with its position, so the caller can warn about them.
#[derive(Debug, Default)]
pub struct Events {
    pub events: Vec<Value>,
    pub ignored: Vec<AuditError>,
}

fn push_doc(name: &str, text: &str, offset: usize, v: Value, out: &mut Events) {
    let is_list = v.get("kind").and_then(Value::as_str) == Some("EventList");
    match v {
        Value::Array(items) => items
            .into_iter()
            .for_each(|i| push_doc(name, text, offset, i, out)),
        Value::Object(mut m) if is_list => {
            if let Some(Value::Array(items)) = m.remove("items") {
                items
                    .into_iter()
                    .for_each(|i| push_doc(name, text, offset, i, out));
            }
        }
        v if v.get("auditID").is_some() => out.events.push(v),
        _ => {
            let (line, col) = line_col(text, offset);
            out.ignored.push(AuditError::input(
                name,
                line,
                col,
                "not an audit event (no auditID), ignored",
            ));
        }
    }
}

/// Parses audit events from `text`. A syntax error stops the parse and is returned with its
/// position.
pub fn parse_events(name: &str, text: &str) -> Result<Events, AuditError> {
    let mut out = Events::default();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                let skip = text
                    .get(offset..)
                    .map_or(0, |r| r.len() - r.trim_start().len());
                push_doc(name, text, offset + skip, v, &mut out);
            }
            Some(Err(e)) => {
                return Err(AuditError::input(
                    name,
                    e.line() as u32,
                    e.column() as u32,
                    format!("bad JSON: {e}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Alerts, and documents ignored as not audit events.
type Found = (Vec<crate::Alert>, Vec<AuditError>);

/// Runs `rules` over every audit event of `text`, in input order. JSON-lines input is parsed and
/// evaluated in parallel. Returns the alerts and the documents ignored as not audit events.
pub fn detect_text(rules: &crate::Ruleset, name: &str, text: &str) -> Result<Found, AuditError> {
    use rayon::prelude::*;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let json_lines = lines.len() > 1
        && lines
            .iter()
            .all(|(_, l)| l.starts_with('{') && l.ends_with('}'));
    if !json_lines {
        let parsed = parse_events(name, text)?;
        let mut scratch = crate::Scratch::default();
        let mut alerts = Vec::new();
        for ev in &parsed.events {
            rules.evaluate_into(ev, &mut scratch, &mut alerts);
        }
        return Ok((alerts, parsed.ignored));
    }
    let chunks: Vec<Result<Found, AuditError>> = lines
        .par_chunks(256)
        .map(|chunk| {
            let mut scratch = crate::Scratch::default();
            let mut alerts = Vec::new();
            let mut ignored = Vec::new();
            for (i, line) in chunk {
                let v: Value = serde_json::from_str(line).map_err(|e| {
                    AuditError::input(
                        name,
                        *i as u32 + 1,
                        e.column() as u32,
                        format!("bad JSON: {e}"),
                    )
                })?;
                let mut one = Events::default();
                push_doc(name, line, 0, v, &mut one);
                for ev in &one.events {
                    rules.evaluate_into(ev, &mut scratch, &mut alerts);
                }
                ignored.extend(one.ignored.into_iter().map(|e| match e {
                    AuditError::Input(mut ie) => {
                        ie.line = *i as u32 + 1;
                        AuditError::Input(ie)
                    }
                    other => other,
                }));
            }
            Ok((alerts, ignored))
        })
        .collect();
    let mut alerts = Vec::new();
    let mut ignored = Vec::new();
    for c in chunks {
        let (a, i) = c?;
        alerts.extend(a);
        ignored.extend(i);
    }
    Ok((alerts, ignored))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "- rule: any\n  desc: d\n  condition: ka.verb exists\n  output: '%ka.auditid'\n  priority: INFO\n  source: k8s_audit\n";

    fn rules() -> crate::Ruleset {
        crate::Ruleset::load(&[crate::RulesSource {
            name: "r.yaml".into(),
            text: RULE.into(),
        }])
        .unwrap()
    }

    #[test]
    fn reads_every_shape() {
        let r = rules();
        let lines = "{\"auditID\":\"1\",\"verb\":\"get\"}\n\n{\"auditID\":\"2\",\"verb\":\"get\"}\n{\"kind\":0}\n";
        let (alerts, ignored) = detect_text(&r, "l.json", lines).unwrap();
        assert_eq!(
            alerts.iter().map(|a| a.output.as_str()).collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert_eq!(ignored.len(), 1);
        assert!(
            ignored[0].to_string().starts_with("l.json:4:"),
            "{}",
            ignored[0]
        );

        let list = "{\n \"kind\": \"EventList\",\n \"items\": [{\"auditID\":\"a\",\"verb\":\"get\"}, {\"auditID\":\"b\",\"verb\":\"list\"}]\n}";
        let (alerts, _) = detect_text(&r, "list.json", list).unwrap();
        assert_eq!(alerts.len(), 2);

        let array = "[{\"auditID\":\"x\",\"verb\":\"get\"}]";
        assert_eq!(detect_text(&r, "a.json", array).unwrap().0.len(), 1);
    }

    #[test]
    fn reports_bad_json_with_its_line() {
        let r = rules();
        let err =
            detect_text(&r, "bad.json", "{\"auditID\":\"1\"}\n{\"auditID\": }\n").unwrap_err();
        assert!(err.to_string().starts_with("bad.json:2:"), "{err}");
        let err = parse_events("bad.json", "{\n\"auditID\": \n").unwrap_err();
        assert!(err.to_string().starts_with("bad.json:"), "{err}");
    }
}
