//! One module per API resource, each with its clap arguments and an `exec` function,
//! named as the SDK's handles and the server's routes are, so a resource has one name in
//! all three crates.
//!
//! Commands print only through [`crate::printer::Printer`] (`item` for one result,
//! `listing` for many), so `--json` and `-q` mean the same thing in every command.

pub mod channels;
pub mod completions;
pub mod config;
pub mod groups;
pub mod instances;
pub mod queue;
pub mod schedules;
pub mod send;
pub mod usage;
pub mod webhooks;

use chrono::{DateTime, Utc};
use clap::Args;
use sevenoways_sdk::Client;
use sevenoways_sdk::page::{Page, Paginated};

use crate::cli::Command;
use crate::context::Context;
use crate::exit::Failure;

/// Runs one parsed subcommand.
pub async fn run(command: Command, ctx: &Context) -> Result<(), Failure> {
    match command {
        Command::Send(args) => send::exec(*args, ctx).await,
        Command::Instances(args) => instances::exec(args, ctx).await,
        Command::Groups(args) => groups::exec(args, ctx).await,
        Command::Channels(args) => channels::exec(args, ctx).await,
        Command::Schedules(args) => schedules::exec(args, ctx).await,
        Command::Queue(args) => queue::exec(args, ctx).await,
        Command::Webhooks(args) => webhooks::exec(args, ctx).await,
        Command::Usage(args) => usage::exec(args, ctx).await,
        Command::Config(args) => config::exec(args, ctx),
        Command::Completions(args) => completions::exec_completions(args),
        Command::Man(args) => completions::exec_man(args, ctx),
    }
}

/// `{"success":true}`, the JSON answer of commands whose endpoint returns nothing else.
pub(crate) fn print_done(ctx: &Context, message: impl AsRef<str>) {
    ctx.printer
        .item(&serde_json::json!({ "success": true }), &[], |p| {
            p.success(message)
        });
}

/// `--limit` of the list commands. Without it a list is fetched whole, page by page.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ListArgs {
    /// List at most N items [default: all of them, fetched page by page]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
}

impl ListArgs {
    /// Every item of the list `first` starts, or the first `--limit` of them.
    pub(crate) async fn fetch<E: Paginated>(
        &self,
        client: &Client,
        first: E,
    ) -> Result<E::Response, Failure> {
        Ok(match self.limit {
            Some(n) => client.list_at_most(first, n).await?,
            None => client.list_all(first).await?,
        })
    }

    /// After a listing `--limit` cut short, says so on stderr (the JSON answer carries
    /// its `nextCursor`).
    pub(crate) fn note_more(&self, ctx: &Context, list: &impl Page) {
        if list.next_cursor().is_some() && !ctx.printer.is_json() {
            ctx.printer.note(format!(
                "Showing the first {}; there are more (raise --limit, or leave it out to list all)",
                list.items().len()
            ));
        }
    }
}

/// A timestamp as people read it, in UTC.
pub(crate) fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
