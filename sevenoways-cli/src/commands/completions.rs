//! `svw completions SHELL` and `svw man`, generated from the clap definitions so they
//! never drift from the real options.

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::context::Context;
use crate::exit::Failure;

/// `svw completions`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Examples:
  svw completions bash > ~/.local/share/bash-completion/completions/svw
  svw completions zsh > \"${fpath[1]}/_svw\"
  svw completions fish > ~/.config/fish/completions/svw.fish")]
pub struct CompletionsArgs {
    /// The shell
    pub shell: Shell,
}

/// `svw man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per subcommand (svw.1, svw-send.1, …) into this directory instead
    /// of printing svw.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script.
pub fn exec_completions(args: CompletionsArgs) -> Result<(), Failure> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "svw", &mut out);
    crate::printer::Printer::new(false, false, true).out_raw(&out);
    Ok(())
}

/// Prints the man page, or writes them all.
pub fn exec_man(args: ManArgs, ctx: &Context) -> Result<(), Failure> {
    let cmd = Cli::command();
    if let Some(dir) = args.dir {
        let fail = |e: std::io::Error| {
            Failure::usage(format!("cannot write man pages to {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        clap_mangen::generate_to(cmd, &dir).map_err(fail)?;
        ctx.printer
            .info(format!("Wrote man pages to {}", dir.display()));
        return Ok(());
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Failure::api(format!("cannot render the man page: {e}")))?;
    ctx.printer.out_raw(&out);
    Ok(())
}
