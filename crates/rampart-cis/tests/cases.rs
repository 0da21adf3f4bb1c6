//! Data-driven cases from `tests/cases/*.yaml`: manifests checked with `check_objects`, and
//! nodes made of real processes (this binary, started under a component's name) and real files
//! with real modes, checked with `node::scan`.
//!
//! Every benchmark item must pass in some case and fail in another.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_cis::node::{NodeOptions, scan};
use rampart_cis::{KubeVersion, Options, Outcome, Status};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const COMPONENTS: [&str; 6] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
    "kubelet",
    "kube-proxy",
];

fn main() {
    let argv0 = std::env::args().next().unwrap_or_default();
    let base = argv0.rsplit('/').next().unwrap_or("");
    if COMPONENTS.contains(&base) {
        // Started as a component by a node case: accept any flags, wait to be killed.
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut seen: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let (mut ran, mut failed) = (0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let (docs, errs) = rampart_manifest::parse_yaml(&f.display().to_string(), &text);
        assert!(errs.is_empty(), "{errs:?}");
        for d in docs {
            let name = format!(
                "{}: {}",
                f.file_name().unwrap().to_string_lossy(),
                d.value["note"].as_str().unwrap_or("?")
            );
            if filter.as_ref().is_some_and(|x| !name.contains(x.as_str())) {
                continue;
            }
            if let Some(reason) = d.value.get("skip").and_then(Value::as_str) {
                println!("skip {name}: {reason}");
                continue;
            }
            ran += 1;
            match run_case(&d.value, &mut seen) {
                Ok(()) => println!("ok   {name}"),
                Err(e) => {
                    failed += 1;
                    println!("FAIL {name}\n{e}");
                }
            }
        }
    }
    if filter.is_none() {
        let root = is_root();
        for item in rampart_cis::items::ITEMS {
            if !root && matches!(item.rule, rampart_cis::items::Rule::Owner(..)) {
                continue;
            }
            let s = seen.get(item.slug).cloned().unwrap_or_default();
            for want in ["PASS", "FAIL"] {
                if !s.contains(want) {
                    failed += 1;
                    println!(
                        "FAIL coverage: {} ({}) never has {want}",
                        item.slug, item.cis
                    );
                }
            }
        }
    }
    println!("{ran} cases, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

struct Kill(Vec<Child>);
impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether files this process creates are owned by root (ownership items can pass).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(std::env::temp_dir().join("."))
        .map(|_| ())
        .and_then(|()| {
            let t = tempfile::tempfile()?;
            t.metadata()
        })
        .is_ok_and(|m| m.uid() == 0)
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn run_case(c: &Value, seen: &mut BTreeMap<String, BTreeSet<&'static str>>) -> Result<(), String> {
    let version: KubeVersion = c
        .get("kubeVersion")
        .and_then(Value::as_str)
        .map(|s| s.parse().unwrap())
        .unwrap_or_default();
    let opts = Options {
        kube_version: version,
    };
    let (outcomes, errors): (Vec<Outcome>, Vec<String>) = if let Some(m) = c.get("manifest") {
        let loaded = rampart_manifest::load_str("manifest.yaml", m.as_str().unwrap());
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let (instances, docs) = rampart_cis::from_objects(&loaded.objects);
        let (o, e) = rampart_cis::evaluate(&instances, &docs, &opts, false);
        // check_objects reports exactly the failures.
        let (findings, _) = rampart_cis::check_objects(&loaded.objects, &opts);
        let fails = o
            .iter()
            .filter(|x| x.verdict.status == Status::Fail)
            .count();
        if findings.len() != fails {
            return Err(format!("{} findings for {fails} failures", findings.len()));
        }
        (o, e.iter().map(ToString::to_string).collect())
    } else {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        for f in c
            .get("files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let p = root.join(f["path"].as_str().unwrap().trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            if f.get("dir").and_then(Value::as_bool) == Some(true) {
                std::fs::create_dir_all(&p).unwrap();
            } else {
                std::fs::write(&p, f.get("content").and_then(Value::as_str).unwrap_or("")).unwrap();
            }
            let mode = f.get("mode").and_then(Value::as_u64).unwrap_or(0o600) as u32;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            if let Some(owner) = f.get("owner").and_then(Value::as_str) {
                let (u, g) = owner.split_once(':').unwrap();
                if std::os::unix::fs::chown(&p, Some(u.parse().unwrap()), Some(g.parse().unwrap()))
                    .is_err()
                {
                    println!("  (skipped: cannot chown without root)");
                    return Ok(());
                }
            }
        }
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut kids = Kill(Vec::new());
        for p in c
            .get("processes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let argv = strs(p.get("argv"));
            let name = &argv[0];
            let link = bin.join(name);
            if !link.exists() {
                std::os::unix::fs::symlink(&exe, &link).unwrap();
            }
            let mut cmd = Command::new(&link);
            cmd.args(&argv[1..]);
            if let Some(env) = p.get("env").and_then(Value::as_object) {
                for (k, v) in env {
                    cmd.env(k, v.as_str().unwrap());
                }
            }
            let child = cmd.spawn().unwrap();
            // Wait until the child has exec'd: its command line is then the component's.
            let cmdline = format!("/proc/{}/cmdline", child.id());
            let deadline = Instant::now() + Duration::from_secs(2);
            while !std::fs::read(&cmdline)
                .is_ok_and(|c| c.starts_with(link.to_str().unwrap().as_bytes()))
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            kids.0.push(child);
        }
        let pids: Vec<u32> = kids.0.iter().map(Child::id).collect();
        let started = Instant::now();
        let report = scan(&NodeOptions {
            root: root.clone(),
            proc: Some("/proc".into()),
            pids: Some(pids),
            options: opts,
        });
        let took = started.elapsed();
        if let Some(ms) = c.get("maxMillis").and_then(Value::as_u64)
            && took > Duration::from_millis(ms)
        {
            return Err(format!("node scan took {took:?}, more than {ms} ms"));
        }
        let want_sources = c
            .get("processes")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let found = report
            .sources
            .iter()
            .filter(|s| s.contains("(pid "))
            .count();
        if found != want_sources {
            return Err(format!(
                "found processes {:?}, expected {want_sources}",
                report.sources
            ));
        }
        let errs = report
            .errors
            .iter()
            .map(|e| e.to_string().replace(&root.display().to_string(), ""))
            .collect();
        (report.outcomes, errs)
    };
    let mut problems = Vec::new();
    let by = |slug: &str, st: Status| -> Vec<&Outcome> {
        outcomes
            .iter()
            .filter(|o| o.item.slug == slug && o.verdict.status == st)
            .collect()
    };
    for o in &outcomes {
        seen.entry(o.item.slug.to_string())
            .or_default()
            .insert(o.verdict.status.as_str());
    }
    let dump = |slug: &str| -> String {
        outcomes
            .iter()
            .filter(|o| o.item.slug == slug)
            .map(|o| format!("{} {}", o.verdict.status.as_str(), o.verdict.message))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let expect = &c["expect"];
    let fail = strs(expect.get("fail"));
    for s in &fail {
        if by(s, Status::Fail).is_empty() {
            problems.push(format!("  {s} should fail: {}", dump(s)));
        }
    }
    let root = is_root();
    for s in strs(expect.get("pass")) {
        if !root && s.ends_with("-ownership") && c.get("manifest").is_none() {
            continue;
        }
        if by(&s, Status::Pass).is_empty() || !by(&s, Status::Fail).is_empty() {
            problems.push(format!("  {s} should pass: {}", dump(&s)));
        }
    }
    for s in strs(expect.get("na")) {
        if by(&s, Status::NotApplicable).is_empty() || !by(&s, Status::Fail).is_empty() {
            problems.push(format!("  {s} should be not applicable: {}", dump(&s)));
        }
    }
    if expect.get("onlyFail").and_then(Value::as_bool) == Some(true) {
        for o in outcomes.iter().filter(|o| o.verdict.status == Status::Fail) {
            if !fail.iter().any(|f| f == o.item.slug) {
                problems.push(format!(
                    "  unexpected failure {}: {}",
                    o.item.slug, o.verdict.message
                ));
            }
        }
    }
    if let Some(at) = expect.get("at").and_then(Value::as_object) {
        for (slug, want) in at {
            let got: Vec<String> = by(slug, Status::Fail)
                .iter()
                .filter_map(|o| o.verdict.location.as_ref())
                .map(|l| format!("{}:{}:{}", l.file, l.line, l.column))
                .collect();
            if !got.iter().any(|g| Some(g.as_str()) == want.as_str()) {
                problems.push(format!("  {slug} should fail at {want}, got {got:?}"));
            }
        }
    }
    let want_errors = strs(expect.get("errors"));
    for w in &want_errors {
        if !errors.iter().any(|e| e.contains(w.as_str())) {
            problems.push(format!("  no error contains {w:?}: {errors:?}"));
        }
    }
    if want_errors.is_empty() && !errors.is_empty() {
        problems.push(format!("  unexpected errors: {errors:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
