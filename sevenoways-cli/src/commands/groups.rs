//! `svw groups list|refresh`.

use clap::{Args, Subcommand};
use sevenoways_sdk::Success;
use sevenoways_sdk::models::groups::GroupList;

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
    List,
    /// Read the sending instance's groups from WhatsApp again (new groups, renames,
    /// groups left), then list them
    Refresh,
}

/// `svw groups ...`.
pub async fn exec(args: GroupsArgs, ctx: &Context) -> Result<(), Failure> {
    let instance = ctx.instance()?;
    let client = ctx.client()?;
    let list = match args.command {
        GroupsCommand::List => client.groups().list(&instance).await?,
        GroupsCommand::Refresh => client.groups().refresh(&instance).await?,
    };
    print(ctx, &list);
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
