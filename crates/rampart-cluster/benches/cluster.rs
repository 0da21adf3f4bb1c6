//! `cluster scan` on a generated 10,000-object cluster: from a dump (`--from`), and live
//! against the API server of the tests (the live path's extra cost).
//!
//! Before criterion runs, one scan of the dump runs in a fresh process and prints its wall time
//! and peak RSS (`VmHWM`), the figures the budget (< 3 s, < 300 MB) is about:
//!
//!     cargo bench -p rampart-cluster --bench cluster
//!
//! With `RAMPART_CLUSTER_BENCH_FIGURES_ONLY=1` only those figures are printed (no criterion).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::Criterion;
use rampart_cluster::{Input, fetch, generate};
use std::time::{Duration, Instant};

/// 51 namespaces of 22 apps: 10,189 objects.
fn objects() -> Vec<serde_json::Value> {
    generate::cluster(51, 22)
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn scan_dump(path: &std::path::Path) -> usize {
    let scan = rampart_cluster::scan(
        &Input::Dump {
            paths: vec![path.to_path_buf()],
            namespace: None,
        },
        Default::default(),
        "bench",
    )
    .unwrap();
    let mut out = Vec::new();
    rampart_cluster::render(&scan, rampart_cluster::Format::Json, &mut out).unwrap();
    scan.report.findings.len()
}

fn main() {
    // the measured child: one scan, its figures, nothing else in the process
    if let Some(path) = std::env::var_os("RAMPART_CLUSTER_BENCH_DUMP") {
        let t = Instant::now();
        let findings = scan_dump(std::path::Path::new(&path));
        println!(
            "from-dump ({}): {:.2?} wall, peak RSS {} MiB, {findings} findings",
            std::path::Path::new(&path)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or(""),
            t.elapsed(),
            peak_rss_mib()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let items = objects();
    let dump = dir.path().join("dump.json");
    std::fs::write(&dump, serde_json::to_vec(&generate::list(&items)).unwrap()).unwrap();
    let bytes = std::fs::metadata(&dump).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated {} objects, dump {} KiB",
        items.len(),
        bytes / 1024
    );
    // the same dump through the YAML loader (a comment first: not taken as JSON)
    let yaml = dir.path().join("dump.yaml");
    let mut text = b"# kubectl get -A -o yaml\n".to_vec();
    text.extend(std::fs::read(&dump).unwrap());
    std::fs::write(&yaml, text).unwrap();
    for path in [&dump, &yaml] {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .env("RAMPART_CLUSTER_BENCH_DUMP", path)
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&child.stdout));
    }

    let server = support::Server::start(&items, support::Behaviour::default());
    let opts = fetch::Options {
        kubeconfig: Some(server.kubeconfig(dir.path())),
        ..fetch::Options::default()
    };
    let t = Instant::now();
    let f = fetch::fetch_blocking(&opts).unwrap();
    println!(
        "live fetch alone: {:.2?} for {} objects ({} requests, {} pages)",
        t.elapsed(),
        f.objects.len(),
        f.stats.requests,
        f.stats.pages
    );
    drop(f);
    let t = Instant::now();
    let live =
        rampart_cluster::scan(&Input::Live(opts.clone()), Default::default(), "bench").unwrap();
    println!(
        "live scan: {:.2?} for {} findings (fetch {:.2?})",
        t.elapsed(),
        live.report.findings.len(),
        live.fetch.as_ref().map(|s| s.elapsed).unwrap_or_default()
    );
    drop(live);
    if std::env::var_os("RAMPART_CLUSTER_BENCH_FIGURES_ONLY").is_some() {
        return;
    }

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    c.bench_function("cluster scan --from (10k objects)", |b| {
        b.iter(|| scan_dump(&dump))
    });
    c.bench_function("cluster scan live (10k objects, test server)", |b| {
        b.iter(|| {
            rampart_cluster::scan(&Input::Live(opts.clone()), Default::default(), "bench")
                .unwrap()
                .report
                .findings
                .len()
        })
    });
    c.final_summary();
}
