#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Every format rendered from one small fixture: structure checks, snapshots, and the redaction
//! promise.

use rampart_core::{Finding, InputError, Location, ObjectRef, Severity};
use rampart_report::{Format, GroupBy, Report, RuleMeta, View, render, render_with};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

const SECRET: &str = "ghp_R4nd0mS3cr3tV4lu3xyz<&>";
/// The distinctive part of the secret: not even this may appear (escaped forms included).
const SECRET_PREFIX: &str = "ghp_R4nd0mS3cr3tV4lu3xyz";

struct Fixture {
    findings: Vec<Finding>,
    errors: Vec<InputError>,
    rules: Vec<RuleMeta>,
    objects: Vec<(Arc<ObjectRef>, Arc<str>)>,
    files: HashMap<String, Arc<str>>,
}

fn deployment() -> ObjectRef {
    ObjectRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some("prod".into()),
        name: "web".into(),
    }
}

fn namespace() -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: "prod".into(),
    }
}

fn at(file: &str, line: u32, column: u32, pointer: &str, template: Option<&str>) -> Location {
    Location {
        file: file.into(),
        line,
        column,
        pointer: pointer.into(),
        template: template.map(Into::into),
    }
}

fn rule(slug: &str, severity: Severity, summary: &str) -> RuleMeta {
    RuleMeta {
        slug: slug.into(),
        severity,
        summary: summary.into(),
        help_markdown: format!(
            "## What it does\nFlags {summary}.\n\n## Remediation\nFix it.\n\n## References\n- {slug}"
        ),
        cis: Vec::new(),
    }
}

fn fixture() -> Fixture {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut files = HashMap::new();
    for name in ["deploy.yaml", "ns.yaml"] {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        files.insert(format!("deploy/{name}"), Arc::from(text));
    }
    let tpl = Some("chart/templates/deploy.yaml");
    let c = "/spec/template/spec/containers/0";
    let mut secret = Finding::new(
        "hardcoded-secret-in-env",
        Severity::High,
        format!("env var API_TOKEN of container \"app\" holds a literal GitHub token {SECRET}"),
    )
    .with_object(deployment())
    .with_location(at(
        "deploy/deploy.yaml",
        15,
        22,
        &format!("{c}/env/0/value"),
        tpl,
    ))
    .with_remediation("read the token from a Secret volume");
    secret.redact.push(SECRET.into());
    secret.references = Arc::from(["https://example.test/secrets".to_string()]);
    let findings = vec![
        // Out of order on purpose: the report sorts.
        Finding::new(
            "privileged-container",
            Severity::Critical,
            "container \"app\" is privileged",
        )
        .with_object(deployment())
        .with_location(at(
            "deploy/deploy.yaml",
            17,
            13,
            &format!("{c}/securityContext/privileged"),
            tpl,
        ))
        .with_remediation("set privileged: false"),
        secret,
        Finding::new(
            "missing-pod-security-labels",
            Severity::Low,
            "namespace \"prod\" has no pod-security.kubernetes.io/enforce label",
        )
        .with_object(namespace())
        .with_location(at("deploy/ns.yaml", 5, 3, "/metadata/labels", None)),
        Finding::new(
            "latest-tag",
            Severity::Medium,
            "container \"app\" uses image \"nginx:latest\"",
        )
        .with_object(deployment())
        .with_location(at("deploy/deploy.yaml", 12, 18, &format!("{c}/image"), tpl)),
        // A check the caller did not list, on an object without a location.
        Finding::new("custom-check", Severity::Info, "a custom policy matched")
            .with_object(namespace()),
    ];
    Fixture {
        findings,
        errors: vec![InputError {
            file: "deploy/bad.yaml".into(),
            line: 2,
            column: 5,
            message: "did not find expected key".into(),
        }],
        rules: vec![
            rule(
                "privileged-container",
                Severity::Critical,
                "a container runs privileged",
            ),
            rule(
                "hardcoded-secret-in-env",
                Severity::High,
                "an env var holds a literal credential",
            ),
            rule(
                "latest-tag",
                Severity::Medium,
                "an image uses the latest tag",
            ),
            rule(
                "missing-pod-security-labels",
                Severity::Low,
                "a namespace has no enforce label",
            ),
        ],
        objects: vec![
            (Arc::new(deployment()), "deploy/deploy.yaml".into()),
            (Arc::new(namespace()), "deploy/ns.yaml".into()),
        ],
        files,
    }
}

fn render_to_string(fx: &Fixture, format: Format, color: bool) -> String {
    let sources = |name: &str| fx.files.get(name).cloned();
    let report = Report {
        findings: &fx.findings,
        errors: &fx.errors,
        rules: &fx.rules,
        objects: &fx.objects,
        sources: &sources,
        tool_version: "0.1.0",
        fail_on: Severity::High,
    };
    let mut out = Vec::new();
    render(format, &report, &mut out, color).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn secrets_never_reach_any_output() {
    let fx = fixture();
    assert!(
        fx.files["deploy/deploy.yaml"].contains(SECRET),
        "the fixture must hold the secret"
    );
    for format in Format::ALL {
        for color in [false, true] {
            let out = render_to_string(&fx, format, color);
            assert!(
                !out.contains(SECRET_PREFIX),
                "{format} (color {color}) leaks the secret:\n{out}"
            );
            assert!(
                out.contains("<redacted>") || out.contains("&lt;redacted&gt;"),
                "{format}: {out}"
            );
        }
    }
}

#[test]
fn a_secret_on_a_line_shown_for_another_finding_is_masked() {
    let mut fx = fixture();
    // The secret's own finding has no location (so no snippet of its own); the privileged
    // finding's snippet shows line 15, where the value sits.
    for f in &mut fx.findings {
        if f.check == "hardcoded-secret-in-env" {
            f.location = None;
            f.message = "env var API_TOKEN holds a literal token".into();
        }
    }
    let out = render_to_string(&fx, Format::Text, false);
    assert!(
        out.contains("15 |"),
        "line 15 should be in a snippet:\n{out}"
    );
    assert!(!out.contains(SECRET_PREFIX), "{out}");
}

#[test]
fn text_is_grouped_with_snippets_and_summary() {
    let fx = fixture();
    let out = render_to_string(&fx, Format::Text, false);
    assert!(!out.contains('\x1b'), "no colour unless asked:\n{out}");
    let header =
        "deploy/deploy.yaml:17:13: critical[privileged-container] container \"app\" is privileged";
    assert!(out.contains(header), "{out}");
    assert!(out.contains("17 |             privileged: true"), "{out}");
    assert!(
        out.contains("template: chart/templates/deploy.yaml"),
        "{out}"
    );
    assert!(out.contains("object: Deployment prod/web"), "{out}");
    assert!(
        out.contains("deploy/bad.yaml:2:5: did not find expected key"),
        "{out}"
    );
    assert!(
        out.contains("5 findings (1 critical, 1 high, 1 medium, 1 low, 1 info) in 2 objects; 1 input error; 2 at or above high"),
        "{out}"
    );
    // Grouped: every deploy.yaml finding comes before ns.yaml's.
    let last_deploy = out.rfind("deploy/deploy.yaml:").unwrap();
    let first_ns = out.find("deploy/ns.yaml:").unwrap();
    assert!(last_deploy < first_ns, "{out}");
    let colored = render_to_string(&fx, Format::Text, true);
    assert!(colored.contains('\x1b'), "colour when asked");
    insta::assert_snapshot!("text", out);
}

#[test]
fn json_has_the_documented_shape() {
    let fx = fixture();
    let out = render_to_string(&fx, Format::Json, false);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schemaVersion"], "1");
    assert_eq!(v["tool"]["name"], "rampart");
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), fx.findings.len());
    for f in findings {
        for key in [
            "check",
            "severity",
            "message",
            "object",
            "file",
            "line",
            "column",
            "pointer",
            "template",
            "remediation",
            "references",
        ] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
        assert!(f["file"].is_string(), "every finding has a file: {f}");
        if f["check"] != "custom-check" {
            assert!(
                f["line"].as_u64().unwrap() >= 1,
                "every located finding has a line: {f}"
            );
        }
    }
    // Sorted by file, line.
    let keys: Vec<(String, u64)> = findings
        .iter()
        .filter(|f| f["line"].is_u64())
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(findings[0]["object"]["kind"], "Deployment");
    assert_eq!(findings[0]["template"], "chart/templates/deploy.yaml");
    assert_eq!(v["errors"][0]["line"], 2);
    assert_eq!(v["summary"]["total"], 5);
    assert_eq!(v["summary"]["bySeverity"]["critical"], 1);
    assert_eq!(v["summary"]["objects"], 2);
    assert_eq!(v["summary"]["errors"], 1);
    insta::assert_snapshot!("json", out);
}

#[test]
fn sarif_is_valid_2_1_0_for_github() {
    let fx = fixture();
    let out = render_to_string(&fx, Format::Sarif, false);
    // The typed model accepts it.
    let _: serde_sarif::sarif::Sarif = serde_json::from_str(&out).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rampart");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = fx.rules.iter().map(|r| r.slug.as_str()).collect();
    expected.push("custom-check");
    assert_eq!(ids, expected);
    for r in rules {
        assert!(r["shortDescription"]["text"].is_string());
        assert!(r["fullDescription"]["text"].is_string());
        assert!(r["help"]["markdown"].is_string());
        assert!(
            ["error", "warning", "note"]
                .contains(&r["defaultConfiguration"]["level"].as_str().unwrap())
        );
        let score: f64 = r["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=10.0).contains(&score));
        assert_eq!(r["properties"]["tags"][0], "security");
    }
    assert_eq!(rules[0]["properties"]["security-severity"], "9.5");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), fx.findings.len());
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(r["message"]["text"].is_string());
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.starts_with("deploy/"), "relative uri: {uri}");
        if r["ruleId"] != "custom-check" {
            assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
            assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
        }
        assert!(
            r["partialFingerprints"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(
        results[0]["properties"]["template"],
        "chart/templates/deploy.yaml"
    );
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1);
    insta::assert_snapshot!("sarif", out);
}

#[test]
fn junit_is_well_formed_and_counts_match() {
    let fx = fixture();
    let out = render_to_string(&fx, Format::Junit, false);
    let elements = check_xml(&out);
    let suite = elements
        .iter()
        .find(|(name, _)| name == "testsuite")
        .unwrap();
    let cases = elements.iter().filter(|(n, _)| n == "testcase").count();
    let failures = elements.iter().filter(|(n, _)| n == "failure").count();
    let errors = elements.iter().filter(|(n, _)| n == "error").count();
    // 2 objects x 4 rules, the unlisted check, the input error.
    assert_eq!(cases, 10);
    assert_eq!(failures, 5);
    assert_eq!(errors, 1);
    assert_eq!(suite.1["tests"], cases.to_string());
    assert_eq!(suite.1["failures"], failures.to_string());
    assert_eq!(suite.1["errors"], errors.to_string());
    let names: BTreeSet<&str> = elements
        .iter()
        .filter(|(n, _)| n == "testcase")
        .map(|(_, a)| a["name"].as_str())
        .collect();
    assert!(
        names.contains("Deployment prod/web privileged-container"),
        "{names:?}"
    );
    assert!(names.contains("Namespace prod latest-tag"), "{names:?}");
    let failure_types: BTreeSet<&str> = elements
        .iter()
        .filter(|(n, _)| n == "failure")
        .map(|(_, a)| a["type"].as_str())
        .collect();
    assert!(failure_types.contains("critical"));
    insta::assert_snapshot!("junit", out);
}

#[test]
fn format_names_parse() {
    assert_eq!("SARIF".parse::<Format>().unwrap(), Format::Sarif);
    assert_eq!("junit".parse::<Format>().unwrap(), Format::Junit);
    let err = "yaml".parse::<Format>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown format `yaml`, expected one of text, json, sarif, junit"
    );
}

#[test]
fn empty_report_renders_in_every_format() {
    let report = Report {
        findings: &[],
        errors: &[],
        rules: &[],
        objects: &[],
        sources: &rampart_report::no_sources,
        tool_version: "0.1.0",
        fail_on: Severity::High,
    };
    for format in Format::ALL {
        let mut out = Vec::new();
        render(format, &report, &mut out, false).unwrap();
        let out = String::from_utf8(out).unwrap();
        match format {
            Format::Text => assert_eq!(
                out,
                "0 findings (0 critical, 0 high, 0 medium, 0 low, 0 info) in 0 objects; 0 input errors; 0 at or above high\n"
            ),
            Format::Json | Format::Sarif => {
                serde_json::from_str::<Value>(&out).unwrap();
            }
            Format::Junit => {
                check_xml(&out);
            }
        }
    }
}

/// A strict little XML checker: balanced, properly nested tags, quoted attributes, only the
/// five predefined entities and numeric references, no raw `<` or `&` in text. Returns every
/// element with its (unescaped) attributes.
fn check_xml(xml: &str) -> Vec<(String, HashMap<String, String>)> {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("xml declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        check_text(&rest[..lt]);
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').expect("unclosed tag");
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs_src) = tag.split_once(' ').unwrap_or((tag, ""));
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad name {name}"
        );
        let mut attrs = HashMap::new();
        loop {
            attrs_src = attrs_src.trim_start();
            if attrs_src.is_empty() {
                break;
            }
            let (key, after) = attrs_src.split_once("=\"").expect("attribute");
            let end = after.find('"').expect("closing quote");
            let value = &after[..end];
            assert!(!value.contains('<'), "raw < in attribute");
            check_text(value);
            assert!(
                attrs.insert(key.to_string(), unescape(value)).is_none(),
                "duplicate {key}"
            );
            attrs_src = &after[end + 1..];
        }
        elements.push((name.to_string(), attrs));
        if !self_closing {
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    elements
}

fn check_text(text: &str) {
    let mut parts = text.split('&');
    parts.next();
    for part in parts {
        let (entity, _) = part.split_once(';').expect("unterminated entity");
        let ok = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
            || entity
                .strip_prefix('#')
                .is_some_and(|n| n.parse::<u32>().is_ok());
        assert!(ok, "bad entity &{entity};");
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

#[test]
fn long_lines_are_not_shown_and_context_lines_are_elided() {
    let pad = "x".repeat(600);
    let text: Arc<str> = Arc::from(format!(
        "{{\"a\": \"{pad}\",\n \"env\": \"{SECRET}\", \"b\": \"{pad}\"}}\n \"privileged\": true\n"
    ));
    let mut secret = Finding::new("hardcoded-secret-in-env", Severity::High, "literal token")
        .with_location(at("m.json", 2, 10, "/env", None));
    secret.redact.push(SECRET.into());
    let privileged = Finding::new("privileged-container", Severity::Critical, "privileged")
        .with_location(at("m.json", 3, 2, "/privileged", None));
    let findings = vec![secret, privileged];
    let sources = move |name: &str| (name == "m.json").then(|| text.clone());
    let report = Report {
        findings: &findings,
        errors: &[],
        rules: &[],
        objects: &[],
        sources: &sources,
        tool_version: "0.1.0",
        fail_on: Severity::High,
    };
    let mut out = Vec::new();
    render(Format::Text, &report, &mut out, false).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(SECRET_PREFIX), "{out}");
    assert!(!out.contains(&pad), "{out}");
    assert!(out.contains("= note: field: /env"), "{out}");
    assert!(out.contains("3 |  \"privileged\": true"), "{out}");
    assert!(out.contains("bytes not shown)"), "{out}");
}

fn render_view(fx: &Fixture, format: Format, view: View) -> std::io::Result<String> {
    let sources = |name: &str| fx.files.get(name).cloned();
    let report = Report {
        findings: &fx.findings,
        errors: &fx.errors,
        rules: &fx.rules,
        objects: &fx.objects,
        sources: &sources,
        tool_version: "0.1.0",
        fail_on: Severity::High,
    };
    let mut out = Vec::new();
    render_with(format, &report, view, &mut out, false)?;
    Ok(String::from_utf8(out).unwrap())
}

/// The fixture plus a second privileged Deployment, so counts and ranks differ.
fn busier_fixture() -> Fixture {
    let mut fx = fixture();
    let api = ObjectRef {
        name: "api".into(),
        ..deployment()
    };
    for (line, sev) in [(30, Severity::Critical), (31, Severity::Critical)] {
        fx.findings.push(
            Finding::new("privileged-container", sev, "container \"x\" is privileged")
                .with_object(api.clone())
                .with_location(at("deploy/api.yaml", line, 5, "/spec", None)),
        );
    }
    fx.objects.push((Arc::new(api), "deploy/api.yaml".into()));
    fx
}

#[test]
fn json_summary_counts_by_check_and_ranks_objects_worst_first() {
    let fx = busier_fixture();
    let view = View {
        summary: true,
        ..View::default()
    };
    let out = render_view(&fx, Format::Json, view).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schemaVersion"], "1");
    assert!(v.get("findings").is_none(), "a summary lists no findings");
    let s = &v["summary"];
    assert_eq!(s["total"], 7);
    assert_eq!(s["bySeverity"]["critical"], 3);
    assert_eq!(s["failing"], 4);
    assert_eq!(s["failOn"], "high");
    assert_eq!(s["errors"], 1);
    assert_eq!(v["errors"][0]["line"], 2);
    // worst check first, then the one with most findings
    let by_check = s["byCheck"].as_array().unwrap();
    assert_eq!(by_check[0]["check"], "privileged-container");
    assert_eq!(by_check[0]["severity"], "critical");
    assert_eq!(by_check[0]["findings"], 3);
    assert_eq!(by_check[0]["objects"], 2);
    assert_eq!(by_check.len(), 5);
    let sum: u64 = by_check
        .iter()
        .map(|c| c["findings"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 7);
    // api has two critical findings, web one critical and more below: api first
    let top = s["topObjects"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert_eq!(top[0]["object"]["name"], "api");
    assert_eq!(top[0]["file"], "deploy/api.yaml");
    assert_eq!(top[0]["findings"], 2);
    assert_eq!(top[0]["worst"], "critical");
    assert_eq!(top[1]["object"]["name"], "web");
    assert_eq!(top[1]["findings"], 3);
    assert_eq!(top[1]["bySeverity"]["high"], 1);
    assert_eq!(top[2]["object"]["kind"], "Namespace");
    assert_eq!(top[2]["object"]["namespace"], Value::Null);
    assert_eq!(top[2]["worst"], "low");
    assert!(!out.contains(SECRET_PREFIX));
}

#[test]
fn text_summary_replaces_the_findings() {
    let fx = busier_fixture();
    let view = View {
        summary: true,
        ..View::default()
    };
    let out = render_view(&fx, Format::Text, view).unwrap();
    assert!(!out.contains("17 |"), "no snippets in a summary:\n{out}");
    assert!(!out.contains(SECRET_PREFIX), "{out}");
    let check_line = out
        .lines()
        .find(|l| l.contains("privileged-container"))
        .unwrap();
    assert_eq!(
        check_line,
        "critical     3  privileged-container         in 2 objects"
    );
    let first_object = out
        .lines()
        .skip_while(|l| !l.contains("worst findings"))
        .nth(1);
    assert_eq!(
        first_object,
        Some("critical     2  Deployment prod/api (deploy/api.yaml): 2 critical")
    );
    assert!(
        out.contains("deploy/bad.yaml:2:5: did not find expected key"),
        "{out}"
    );
    assert!(out.ends_with("4 at or above high\n"), "{out}");
    insta::assert_snapshot!("text_summary", out);
}

#[test]
fn text_grouped_by_check_puts_each_check_under_its_heading() {
    let fx = busier_fixture();
    let view = View {
        group_by: "check".parse().unwrap(),
        ..View::default()
    };
    let out = render_view(&fx, Format::Text, view).unwrap();
    let headings: Vec<&str> = out.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(
        headings,
        [
            "# privileged-container: a container runs privileged (3 findings: 3 critical)",
            "# hardcoded-secret-in-env: an env var holds a literal credential (1 finding: 1 high)",
            "# latest-tag: an image uses the latest tag (1 finding: 1 medium)",
            "# missing-pod-security-labels: a namespace has no enforce label (1 finding: 1 low)",
            "# custom-check (1 finding: 1 info)",
        ]
    );
    // under its heading, each with its snippet, in file order
    let section = out.split("# hardcoded-secret-in-env").next().unwrap();
    let api = section.find("deploy/api.yaml:30:5").unwrap();
    let web = section.find("deploy/deploy.yaml:17:13").unwrap();
    assert!(api < web, "{out}");
    assert!(
        section.contains("17 |             privileged: true"),
        "{out}"
    );
    assert!(
        out.contains("15 |               value: \"<redacted>\""),
        "{out}"
    );
    assert!(!out.contains(SECRET_PREFIX), "{out}");
    assert_eq!(
        render_view(&fx, Format::Text, View::default()).unwrap(),
        render_to_string(&fx, Format::Text, false)
    );
}

#[test]
fn views_a_format_cannot_show_are_refused() {
    let fx = fixture();
    let summary = View {
        summary: true,
        ..View::default()
    };
    let by_check = View {
        group_by: GroupBy::Check,
        ..View::default()
    };
    for (format, view) in [
        (Format::Sarif, summary),
        (Format::Junit, summary),
        (Format::Json, by_check),
        (Format::Sarif, by_check),
    ] {
        let err = render_view(&fx, format, view).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{format}");
        assert!(err.to_string().contains(format.as_str()), "{err}");
    }
    assert_eq!("CHECK".parse::<GroupBy>().unwrap(), GroupBy::Check);
    assert_eq!(
        "object".parse::<GroupBy>().unwrap_err().to_string(),
        "unknown grouping `object`, expected file or check"
    );
}
