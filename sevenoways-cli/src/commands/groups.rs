//! `svw groups list|refresh`.

use clap::{Args, Subcommand};
use sevenoways_sdk::Success;
use sevenoways_sdk::models::groups::{GroupList, ListGroups};

use super::ListArgs;

use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Table;

/// `svw groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    #[command(subcommand)]
    pub command: GroupsCommand,
}

/// The group subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List the groups of the sending instance (--instance), with their ids
    List(ListArgs),
    /// Read the sending instance's groups from WhatsApp again (new groups, renames,
    /// groups left), then list them all
    Refresh,
}

/// `svw groups ...`.
pub async fn exec(args: GroupsArgs, ctx: &Context) -> Result<(), Failure> {
    let instance = ctx.instance()?;
    let client = ctx.client()?;
    match args.command {
        GroupsCommand::List(page) => {
            let first = ListGroups {
                instance_id: instance.clone(),
                page: Default::default(),
            };
            let list = page.fetch(&client, first).await?;
            print(ctx, &list);
            page.note_more(ctx, &list);
        }
        GroupsCommand::Refresh => print(ctx, &client.groups().refresh(&instance).await?),
    }
    Ok(())
}

fn print(ctx: &Context, list: &GroupList) {
    let mut table = Table::new(&["ID", "NAME", "PARTICIPANTS"]);
    for g in &list.groups {
        table.row([g.id.to_string(), g.name.clone(), g.participants.to_string()]);
    }
    ctx.printer.listing(
        &Success(list),
        table,
        &format!("Instance {} is in no groups", list.instance_id),
    );
}
