//! `svw queue status ID`: where one queued message is. The answer to a send is only
//! "queued"; this is how a person or a script learns whether it was delivered, and `-q`
//! prints the bare status word for scripts that wait for `delivered` or `failed`.

use clap::{Args, Subcommand};
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::{Content, QueueId, Success};

use super::when;
use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Table;

/// `svw queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub command: QueueCommand,
}

/// The queue subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Show where a queued message is: queued, sending, sent, delivered, read or failed
    Status {
        /// The queue id a send printed
        id: QueueId,
    },
}

/// `svw queue ...`.
pub async fn exec(args: QueueArgs, ctx: &Context) -> Result<(), Failure> {
    match args.command {
        QueueCommand::Status { id } => {
            let entry = ctx.client()?.queue().status(id).await?;
            ctx.printer
                .item(&Success(&entry), &[entry.status.as_str()], |p| {
                    p.table(&entry_table(&entry))
                });
        }
    }
    Ok(())
}

/// A queue entry as `FIELD  VALUE` rows; times only once they happened.
fn entry_table(entry: &QueueEntry) -> Table {
    let what = match &entry.content {
        Content::Text { message } => format!("text: {}", preview(message.as_str())),
        Content::Image { image_url, .. } => format!("image: {image_url}"),
        Content::Document { filename, .. } => format!("document: {filename}"),
        _ => "other".to_owned(),
    };
    let mut table = Table::new(&["FIELD", "VALUE"]);
    table
        .row(["queue id", &entry.queue_id.to_string()])
        .row(["status", entry.status.as_str()])
        .row(["instance", entry.instance_id.as_str()])
        .row(["to", &entry.to])
        .row(["content", &what])
        .row(["attempts", &entry.attempts.to_string()])
        .row(["created", &when(&entry.created_at)])
        .row(["updated", &when(&entry.updated_at)]);
    for (name, at) in [
        ("sent", entry.sent_at),
        ("delivered", entry.delivered_at),
        ("read", entry.read_at),
    ] {
        if let Some(at) = at {
            table.row([name.to_owned(), when(&at)]);
        }
    }
    if let Some(error) = &entry.error {
        table.row(["error", error]);
    }
    table
}

/// The first line of a message, cut to fit a table cell.
fn preview(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}
