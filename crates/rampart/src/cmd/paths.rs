//! `rampart paths`: the whole attack chain, from an exposed or compromised workload to root on a
//! node, cluster-admin, every Secret or a named Secret.

use anyhow::Context;
use rampart_paths::{Options, Report, render_dot, render_html, render_mermaid, render_text};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Mermaid,
    Dot,
    /// One self-contained page: the graph as inline SVG and a table per path.
    Html,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifests: files, directories (recursive) or `-` for stdin.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// More manifests (like `kubectl -f`). Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Every path: one per entry and reachable target (each node, each Secret), not only the
    /// shortest per entry and goal.
    #[arg(long)]
    all: bool,
    /// The namespace of namespaced objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
}

/// Exit codes: 0 no path, 1 a path to a goal exists, 2 input errors and no path.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut inputs = a.paths;
    inputs.extend(a.files);
    if inputs.is_empty() {
        anyhow::bail!("no input: give files or directories (or `-` for stdin)");
    }
    let loaded = rampart_manifest::load_paths(&inputs);
    let options = Options {
        all: a.all,
        default_namespace: a.namespace,
    };
    let analysis = rampart_paths::analyze(&loaded.objects, &options);
    let mut err = std::io::stderr().lock();
    let mut input_errors = 0usize;
    for e in loaded.errors.iter().chain(&analysis.errors) {
        writeln!(err, "{e}")?;
        input_errors += 1;
    }
    for w in &analysis.warnings {
        writeln!(err, "warning: {w}")?;
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Text => out.write_all(render_text(&analysis).as_bytes())?,
        Format::Json => {
            let report = Report {
                paths: &analysis.paths,
                notes: &analysis.notes,
            };
            serde_json::to_writer_pretty(&mut out, &report).context("writing JSON")?;
            writeln!(out)?;
        }
        Format::Mermaid => out.write_all(render_mermaid(&analysis.paths).as_bytes())?,
        Format::Dot => out.write_all(render_dot(&analysis.paths).as_bytes())?,
        Format::Html => out.write_all(render_html(&analysis).as_bytes())?,
    }
    Ok(if !analysis.paths.is_empty() {
        ExitCode::from(1)
    } else if input_errors > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
