//! `rampart completion SHELL` and `rampart man`: clap's own generators over the command tree.

use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn completion<C: CommandFactory>(args: CompletionArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = C::command();
    // generated into memory first: clap_complete panics on a write error (a closed pipe)
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "rampart", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn man<C: CommandFactory>() -> anyhow::Result<ExitCode> {
    let cmd = C::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
