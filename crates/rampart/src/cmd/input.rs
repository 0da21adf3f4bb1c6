//! The one way every command reads manifests: positional paths (or `-f`, as kubectl), `-`
//! for stdin, directories walked, symbolic links followed, charts rendered, and `-n` for the
//! namespace of objects that name none. A bad file never hides the rest: its errors are listed
//! and every valid object is used.

use rampart_core::InputError;
use rampart_manifest::Loaded;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct Input {
    /// Files, directories (walked recursively, .gitignore honoured, symbolic links followed,
    /// a directory with a Chart.yaml rendered with `helm template`) or `-` for stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// A path to read, as kubectl's `-f` (repeatable; the same as a positional PATH).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub filename: Vec<PathBuf>,
    /// Namespace of namespaced objects that name none, as `kubectl apply -n` gives them
    /// (without it they are in `default`).
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
}

impl Input {
    /// Every path given, positional first.
    pub fn all_paths(&self) -> Vec<PathBuf> {
        self.paths.iter().chain(&self.filename).cloned().collect()
    }

    /// An error when no path was given at all.
    pub fn require(&self) -> anyhow::Result<Vec<PathBuf>> {
        let all = self.all_paths();
        if all.is_empty() {
            anyhow::bail!("no input: give files or directories, or `-` for stdin");
        }
        Ok(all)
    }

    /// Loads every path; the errors are in `Loaded::errors` for the caller to report.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let mut loaded = rampart_manifest::load_paths(&self.require()?);
        if let Some(ns) = &self.namespace {
            rampart_manifest::set_default_namespace(&mut loaded.objects, ns);
        }
        Ok(loaded)
    }
}

/// Prints input errors as `file:line:col: message` on stderr; whether there were any.
pub fn report_errors(errors: &[InputError]) -> bool {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    for e in errors {
        let _ = writeln!(err, "{e}");
    }
    !errors.is_empty()
}
