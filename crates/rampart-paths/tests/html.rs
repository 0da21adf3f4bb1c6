//! `rampart paths -o html` in a real browser: headless Chromium (Debian's `chromium`) loads the
//! page of `examples/attack-path` offline, runs its script, and the rendered DOM is checked:
//! every vertex and edge drawn, labels that fit their boxes, one table per path. Skipped, with a
//! message, where Chromium is not installed.
//!
//! `RAMPART_PATHS_SCREENSHOT=docs/attack-paths.png` also keeps a screenshot of the page there.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

mod browser;
use browser::{chromium, headless};

#[test]
fn the_attack_path_graph_renders_in_chromium() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/attack-path");
    let loaded = rampart_manifest::load_paths(&[example]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let analysis = rampart_paths::analyze(&loaded.objects, &rampart_paths::Options::default());
    assert!(analysis.paths.len() >= 5, "{}", analysis.paths.len());
    let html = rampart_paths::render_html(&analysis);
    for needle in ["src=\"http", "href=\"http", "<link", "@import", "src=\"//"] {
        assert!(!html.contains(needle), "the page loads {needle}");
    }
    let svg = rampart_paths::render_svg(&analysis.paths);
    let nodes = svg.matches("<g class=\"rp-node").count();
    let edges = svg.matches("<g class=\"rp-edge\"").count();
    // storefront, thumbnailer, root on a node, the pod volumes, ci/deployer's workload and
    // ServiceAccount, cluster-admin, all Secrets
    assert!(nodes >= 8, "{nodes} vertices");
    assert!(edges >= 7, "{edges} edges");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paths.html");
    std::fs::write(&file, &html).unwrap();
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium); the attack-path page was not checked in a browser"
        );
        return;
    };
    let out = headless(browser, &dir.path().join("profile"))
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
    assert!(dom.contains("data-ready=\"1\""), "the script did not run");
    // the script measured every box in the browser: all drawn, no label wider than its box
    assert!(
        dom.contains(&format!(
            "data-drawn=\"{nodes} nodes, {edges} edges, 0 overflowing\""
        )),
        "{}",
        dom.split("data-drawn=")
            .nth(1)
            .map_or("no data-drawn", |r| r
                .split(' ')
                .take(6)
                .last()
                .unwrap_or(""))
    );
    assert!(!dom.contains(" rp-overflow\""));
    for vertex in [
        "Deployment outlet/storefront",
        "Deployment outlet/thumbnailer",
        "root on a node",
        "ServiceAccount ci/deployer",
        "cluster-admin",
        "read all Secrets",
    ] {
        assert!(
            dom.contains(&format!("data-vertex=\"{vertex}\"")),
            "no vertex {vertex}"
        );
    }
    assert!(dom.contains("class=\"rp-node rp-entry rp-exposed\" data-paths=\"p0"));
    for label in [
        ">ENDPOINT_EXPLOIT</text>",
        ">EXPLOIT_CONTAINERD_SOCK</text>",
        ">TOKEN_STEAL</text>",
        ">VOLUME_ACCESS</text>",
    ] {
        assert!(dom.contains(label), "no edge label {label}");
    }
    assert_eq!(
        dom.matches("<section class=\"rp-path\"").count(),
        analysis.paths.len()
    );
    assert!(dom.contains("examples/attack-path/shop.yaml:91:13"));
    assert!(dom.contains("MITRE T1611"));

    let png = dir.path().join("paths.png");
    let out = headless(browser, &dir.path().join("profile"))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,900")
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 20_000,
        "a blank screenshot: {} bytes",
        bytes.len()
    );
    if let Some(keep) = std::env::var_os("RAMPART_PATHS_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}
