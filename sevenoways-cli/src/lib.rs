//! `svw`, the command-line tool for the Sevenoways Relay WhatsApp API.
//!
//! The binary is a thin `main`; everything is here so that tests can reach the clap
//! definition (`Cli::command()`) and the pieces.
// Doc comments on the clap structs are the `--help` text people read in a terminal, where
// a bare URL or `sha256=<hex>` is what they should see; rustdoc's HTML rules do not apply.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod exit;
pub mod printer;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::context::Context;
use crate::exit::{Code, Failure};

/// Parses the command line, runs the command, prints any error, and returns the exit code.
pub fn main() -> ExitCode {
    // Usage errors and --help are clap's own (exit 2 and 0). They are printed before the
    // flags are parsed, so --no-color and NO_COLOR are looked for by hand.
    let mut command = Cli::command();
    if colour_refused(std::env::args_os().skip(1), std::env::var_os("NO_COLOR")) {
        command = command.color(clap::ColorChoice::Never);
    }
    let matches = command.get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let ctx = Context::new(cli.global.clone(), &matches);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::api(format!("cannot start the async runtime: {e}")))
        .and_then(|rt| rt.block_on(commands::run(cli.command, &ctx)));
    match result {
        Ok(()) => Code::Ok.into(),
        Err(failure) => {
            let failure = match ctx.known_api_key() {
                Some(key) => failure.redact(key.trim()),
                None => failure,
            };
            ctx.printer.error(&failure);
            failure.code.into()
        }
    }
}

/// Whether `--no-color` is among the options (before any `--`) or NO_COLOR is set and not
/// empty (<https://no-color.org>).
fn colour_refused(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    no_color: Option<std::ffi::OsString>,
) -> bool {
    no_color.is_some_and(|v| !v.is_empty())
        || args
            .into_iter()
            .take_while(|a| a != "--")
            .any(|a| a == "--no-color")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_is_found_before_parsing() {
        let args = |a: &[&str]| {
            a.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        assert!(colour_refused(
            args(&["send", "--no-color", "--bogus"]),
            None
        ));
        assert!(colour_refused(args(&["send"]), Some("1".into())));
        assert!(!colour_refused(args(&["send"]), Some("".into())));
        assert!(!colour_refused(args(&["send", "--", "--no-color"]), None));
    }
}
