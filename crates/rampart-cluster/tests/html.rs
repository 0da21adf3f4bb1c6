//! The HTML report in a real browser: headless Chromium (Debian's `chromium`) loads the file
//! offline, runs its script, and the rendered DOM is checked. Skipped, with a message, where
//! Chromium is not installed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_cluster::{Format, Input, generate};

#[path = "../../rampart-paths/tests/browser/mod.rs"]
mod browser;
use browser::{chromium, headless};

#[test]
fn the_html_report_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let objects = generate::cluster(4, 3);
    let dump = dir.path().join("dump.json");
    std::fs::write(
        &dump,
        serde_json::to_string(&generate::list(&objects)).unwrap(),
    )
    .unwrap();
    let mut scan = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![dump],
            namespace: None,
        },
        Default::default(),
        "test",
    )
    .unwrap();
    // a baseline that lacks the first finding: it shows as new
    let mut previous = scan.report.clone();
    previous.findings.remove(0);
    scan.report.compare(&previous);
    let mut html = Vec::new();
    rampart_cluster::render(&scan, Format::Html, &mut html).unwrap();
    let html = String::from_utf8(html).unwrap();
    // self-contained: nothing is loaded from anywhere
    for needle in ["src=\"http", "href=\"http", "<link", "@import", "src=\"//"] {
        assert!(!html.contains(needle), "the report loads {needle}");
    }
    assert!(!html.contains(generate::SECRET_VALUE_B64));
    let file = dir.path().join("report.html");
    std::fs::write(&file, &html).unwrap();

    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium); the HTML report was not checked in a browser"
        );
        return;
    };
    let profile = dir.path().join("profile");
    let out = headless(browser, &profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    // the script ran
    assert!(
        dom.contains("data-ready=\"1\""),
        "the script did not run:\n{}",
        &dom[..dom.len().min(2000)]
    );
    // the filters are populated from the findings
    let n = scan.report.findings.len();
    assert!(
        dom.contains(&format!("{n} of {n} findings")),
        "no count of {n}"
    );
    for id in ["f-severity", "f-namespace", "f-check", "f-layer", "f-text"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "no filter {id}");
    }
    for sev in scan.report.by_severity.keys() {
        assert!(
            dom.contains(&format!("<option value=\"{sev}\">{sev}</option>")),
            "no {sev} option"
        );
    }
    for ns in scan.report.namespaces() {
        assert!(
            dom.contains(&format!("<option value=\"{ns}\">{ns}</option>")),
            "no {ns} option"
        );
    }
    assert!(
        dom.contains("<option value=\"admission-webhook-fails-open\">"),
        "no check option"
    );
    // one row per finding, built by the script (they carry data attributes)
    assert_eq!(
        dom.matches("<tr class=\"finding\" data-severity=").count(),
        n
    );
    // the new finding is marked, the summary shows scores as SVG gauges
    assert_eq!(dom.matches("<span class=\"new\"> new</span>").count(), 1);
    // overall and one per layer (cloud, cluster, container, code)
    assert_eq!(dom.matches("<figure class=\"gauge\">").count(), 5);
    assert!(dom.contains(&format!(
        "aria-label=\"overall score {} of 100\"",
        scan.report.score
    )));
    // the attack paths: the graph drawn in the browser (every box measured, no label wider
    // than its box), its edges labelled with techniques, a table per path
    let paths = &scan.report.paths;
    assert!(!paths.is_empty(), "the generated cluster has attack paths");
    assert!(dom.contains("<section id=\"attack-paths\"><h2>Attack paths</h2>"));
    let svg = rampart_paths::render_svg(&paths[..paths.len().min(rampart_paths::GRAPH_PATHS)]);
    let nodes = svg.matches("<g class=\"rp-node").count();
    let edges = svg.matches("<g class=\"rp-edge\"").count();
    assert!(
        dom.contains(&format!(
            "data-drawn=\"{nodes} nodes, {edges} edges, 0 overflowing\""
        )),
        "the graph was not measured as drawn ({nodes} nodes, {edges} edges)"
    );
    assert!(dom.contains("class=\"rp-node rp-entry rp-exposed\""));
    assert!(dom.contains(">CE_PRIV_MOUNT</text>"), "no escape edge");
    assert_eq!(
        dom.matches("<section class=\"rp-path\"").count(),
        paths.len().min(25)
    );
    let attack_findings = scan
        .report
        .findings
        .iter()
        .filter(|f| f.check == "attack-path")
        .count();
    assert_eq!(
        attack_findings,
        paths.len(),
        "one path per attack-path finding"
    );
}
