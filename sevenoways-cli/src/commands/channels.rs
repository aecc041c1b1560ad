//! `svw channels list|add|remove`. Sending to a channel is `svw send --channel JID`.

use clap::{Args, Subcommand};
use sevenoways_sdk::models::channels::{AddChannelRequest, ListChannels};
use sevenoways_sdk::{ChannelId, Success};

use super::{ListArgs, print_done};
use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Table;

/// `svw channels`.
#[derive(Debug, Args)]
pub struct ChannelsArgs {
    #[command(subcommand)]
    pub command: ChannelsCommand,
}

/// The channel subcommands.
#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// List saved channels
    List(ListArgs),
    /// Look a channel up through the sending instance and save it
    Add {
        /// Invite link (https://whatsapp.com/channel/…), invite code or channel JID
        invite: String,
    },
    /// Remove a saved channel
    Remove {
        /// The saved channel's id (ch_…), as `svw channels list` shows it
        id: ChannelId,
    },
}

/// `svw channels ...`.
pub async fn exec(args: ChannelsArgs, ctx: &Context) -> Result<(), Failure> {
    let p = &ctx.printer;
    match args.command {
        ChannelsCommand::List(page) => {
            let list = page.fetch(&ctx.client()?, ListChannels::default()).await?;
            let mut table = Table::new(&["ID", "NAME", "JID", "SUBSCRIBERS", "ADMIN", "INSTANCE"]);
            for c in &list.channels {
                table.row([
                    c.id.to_string(),
                    c.name.clone(),
                    c.channel_jid.to_string(),
                    c.subscribers.to_string(),
                    if c.is_admin { "yes" } else { "no" }.to_owned(),
                    c.instance_id.to_string(),
                ]);
            }
            p.listing(
                &Success(&list),
                table,
                "No saved channels; add one with `svw channels add INVITE`",
            );
            page.note_more(ctx, &list);
        }
        ChannelsCommand::Add { invite } => {
            let instance = ctx.instance()?;
            let saved = ctx
                .client()?
                .channels()
                .add(&AddChannelRequest::new(instance, invite))
                .await?;
            let c = &saved.channel;
            p.item(&Success(&saved), &[c.id.as_str()], |p| {
                p.success(format!(
                    "Saved channel {} \"{}\" ({})",
                    c.id, c.name, c.channel_jid
                ));
                if !c.is_admin {
                    p.note("The instance is not an admin of this channel: only admins and owners can post to it");
                }
            });
        }
        ChannelsCommand::Remove { id } => {
            ctx.client()?.channels().remove(&id).await?;
            print_done(ctx, format!("Removed channel {id}"));
        }
    }
    Ok(())
}
