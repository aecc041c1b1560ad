//! `svw groups list`.

use clap::{Args, Subcommand};
use sevenoways_sdk::Success;
use sevenoways_sdk::models::groups::ListGroups;

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
}

/// `svw groups ...`.
pub async fn exec(args: GroupsArgs, ctx: &Context) -> Result<(), Failure> {
    match args.command {
        GroupsCommand::List(page) => {
            let instance = ctx.instance()?;
            let first = ListGroups {
                instance_id: instance.clone(),
                page: Default::default(),
            };
            let list = page.fetch(&ctx.client()?, first).await?;
            let mut table = Table::new(&["ID", "NAME", "PARTICIPANTS"]);
            for g in &list.groups {
                table.row([g.id.to_string(), g.name.clone(), g.participants.to_string()]);
            }
            ctx.printer.listing(
                &Success(&list),
                table,
                &format!("Instance {instance} is in no groups"),
            );
            page.note_more(ctx, &list);
        }
    }
    Ok(())
}
