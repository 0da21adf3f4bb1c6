//! `rampart policy jp query`: JMESPath with Kyverno's function library on an input object, as
//! `kyverno jp query` evaluates it — for writing and checking the expressions of policies.

use anyhow::Context;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct JpArgs {
    #[command(subcommand)]
    command: JpCommand,
}

#[derive(Debug, clap::Subcommand)]
enum JpCommand {
    /// Evaluate JMESPath expressions (Kyverno's dialect and functions) on an input object.
    Query(QueryArgs),
}

#[derive(Debug, clap::Args)]
struct QueryArgs {
    /// Read the input object from a JSON or YAML file instead of stdin.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Read an expression from a file (repeatable; after the positional ones).
    #[arg(short, long = "query", value_name = "FILE")]
    queries: Vec<PathBuf>,
    /// Print a string result without quotes.
    #[arg(short, long)]
    unquoted: bool,
    /// Compact JSON, without the indentation.
    #[arg(short, long)]
    compact: bool,
    /// Expressions, evaluated in turn (read from stdin when there are none and an input file
    /// is given).
    #[arg(value_name = "EXPRESSION")]
    expressions: Vec<String>,
}

pub fn run(a: JpArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        JpCommand::Query(q) => query(q),
    }
}

/// The input object: the file's, else stdin's (read as every command reads its sources: a size
/// limit, text only, empty stdin an error); YAML or JSON, one document.
fn read_input(source: &rampart_manifest::Source) -> anyhow::Result<serde_json::Value> {
    let (name, text) =
        rampart_manifest::read_source(source, rampart_manifest::DEFAULT_MAX_FILE_SIZE)?;
    let (mut docs, errors) = rampart_manifest::parse_yaml(&name, &text);
    if let Some(e) = errors.into_iter().next() {
        anyhow::bail!("{e}");
    }
    Ok(if docs.is_empty() {
        serde_json::Value::Null
    } else {
        docs.swap_remove(0).value
    })
}

fn query(a: QueryArgs) -> anyhow::Result<ExitCode> {
    let mut expressions = a.expressions;
    for f in &a.queries {
        expressions.push(
            std::fs::read_to_string(f).with_context(|| format!("{}: cannot read", f.display()))?,
        );
    }
    let input = match &a.input {
        Some(p) => read_input(&rampart_manifest::Source::File(p.clone()))?,
        None if expressions.is_empty() => {
            anyhow::bail!("at least one expression or an input file (-i) is required")
        }
        None => read_input(&rampart_manifest::Source::Stdin)?,
    };
    if expressions.is_empty() {
        let mut q = String::new();
        std::io::stdin()
            .read_to_string(&mut q)
            .context("stdin: cannot read")?;
        expressions.push(q);
    }
    let mut out = std::io::stdout().lock();
    for e in &expressions {
        let v = match rampart_kyverno::jmes::search(e.trim(), &input) {
            Ok(v) => v,
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(ExitCode::from(2));
            }
        };
        match (&v, a.unquoted) {
            (serde_json::Value::String(s), true) => writeln!(out, "{s}")?,
            _ if a.compact => writeln!(out, "{}", serde_json::to_string(&v)?)?,
            _ => writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
