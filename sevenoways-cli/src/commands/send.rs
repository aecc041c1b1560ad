//! `svw send`: every send endpoint behind one command, chosen by the recipient flag and
//! the content flag (`--to` + `--image` is `POST /api/send-number-image`, ...).

mod bulk;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use sevenoways_sdk::{
    Content, GroupId, GroupTarget, IdempotencyKey, MediaUrl, MessageText, NewsletterJid, Phone,
    Queued, Success, Target, ValidationError,
};

use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Table;

const EXAMPLES: &str = "\
Examples:
  svw send --group \"Team A\" --message \"Hello everyone! 👋\"
  svw send --group-id 120363025246125888@g.us --group \"Ops\" --message-file notes.txt
  svw send --all --image https://example.com/banner.jpg --caption \"New menu\"
  echo \"Your order is ready\" | svw send --to 971501234567
  svw send --to \"+44 7911 123456\" --document https://example.com/r.pdf --filename r.pdf
  svw send --channel 120363111111111111@newsletter --message \"Weekly update\"
  svw send --to 971501234567 -m \"Order 1234 is ready\" --idempotency-key order-1234-ready
  svw send --csv orders.csv --message 'Hi {{name}}, order {{order}} is ready'

Text from --message, --message-file or stdin is sent byte for byte (emoji, newlines,
spaces), except that one final newline, as `echo` and editors add, is dropped.";

/// `svw send`.
#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES)]
pub struct SendArgs {
    #[command(flatten)]
    pub groups: GroupTargetArgs,

    /// Phone number, country code first ("971501234567"; "+", spaces and dashes are dropped)
    #[arg(long, value_name = "PHONE", value_parser = parse_phone,
          conflicts_with_all = ["group", "group_id", "all"], help_heading = "Recipients")]
    pub to: Option<Phone>,

    /// Community id (…@newsletter) the instance is a member or admin of
    #[arg(long, value_name = "JID", value_parser = parse_community,
          conflicts_with_all = ["group", "group_id", "all", "to", "channel"],
          help_heading = "Recipients")]
    pub community: Option<NewsletterJid>,

    /// Channel JID (…@newsletter) the instance administers
    #[arg(long, value_name = "JID", value_parser = parse_channel,
          conflicts_with_all = ["group", "group_id", "all", "to"], help_heading = "Recipients")]
    pub channel: Option<NewsletterJid>,

    #[command(flatten)]
    pub content: ContentArgs,

    /// Name this send (e.g. order-1234-ready), so that running the command again cannot
    /// send it twice: the server answers a key it has seen in the last 24 hours with its
    /// first answer. Without it, each run is a new send (`--csv` keys every row itself)
    #[arg(long, value_name = "KEY", value_parser = parse_idempotency_key, conflicts_with = "csv")]
    pub idempotency_key: Option<IdempotencyKey>,

    #[command(flatten)]
    pub bulk: bulk::BulkArgs,
}

/// Group recipients, shared by `send` and `schedules create`.
#[derive(Debug, Clone, Default, Args)]
pub struct GroupTargetArgs {
    /// Group by name, matched case-insensitively (repeatable)
    #[arg(long = "group", value_name = "NAME", help_heading = "Recipients")]
    pub group: Vec<String>,

    /// Group by id, 120363…@g.us: stable when the group is renamed (repeatable)
    #[arg(long = "group-id", value_name = "ID", help_heading = "Recipients")]
    pub group_id: Vec<GroupId>,

    /// Every group of the instance
    #[arg(long, conflicts_with_all = ["group", "group_id"], help_heading = "Recipients")]
    pub all: bool,
}

impl GroupTargetArgs {
    /// The groups chosen, if any flag was given.
    pub fn target(&self) -> Result<Option<GroupTarget>, Failure> {
        if self.all {
            return Ok(Some(GroupTarget::all()));
        }
        if self.group.is_empty() && self.group_id.is_empty() {
            return Ok(None);
        }
        let ids = self.group_id.iter().map(GroupId::as_str);
        let target = GroupTarget::ids(ids)
            .and_then(|t| t.and_names(&self.group))
            .map_err(sevenoways_sdk::Error::from)?;
        Ok(Some(target))
    }
}

/// What a message carries, shared by `send` and `schedules create`.
#[derive(Debug, Clone, Default, Args)]
pub struct ContentArgs {
    /// Message text; "-" reads stdin, as does a pipe when no other content is given
    #[arg(short, long, value_name = "TEXT", help_heading = "Content")]
    pub message: Option<String>,

    /// Read the message text from a file ("-" for stdin)
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "message",
        help_heading = "Content"
    )]
    pub message_file: Option<PathBuf>,

    /// Send an image from this public http(s) URL
    #[arg(long, value_name = "URL", conflicts_with_all = ["message", "message_file", "document"],
          help_heading = "Content")]
    pub image: Option<String>,

    /// Caption shown under the image (with --image)
    #[arg(long, value_name = "TEXT", help_heading = "Content")]
    pub caption: Option<String>,

    /// Send a document from this public http(s) URL
    #[arg(long, value_name = "URL", conflicts_with_all = ["message", "message_file"],
          requires = "filename", help_heading = "Content")]
    pub document: Option<String>,

    /// File name shown in WhatsApp, e.g. report.pdf (with --document)
    #[arg(long, value_name = "NAME", help_heading = "Content")]
    pub filename: Option<String>,

    /// MIME type of the document, e.g. application/pdf (with --document)
    #[arg(long, value_name = "TYPE", help_heading = "Content")]
    pub mimetype: Option<String>,
}

/// Content before it is checked: bulk sends fill `{{column}}` fields in first, so every
/// field is still plain text here (a URL may be `https://x/{{id}}.jpg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Draft {
    /// `--message`, `--message-file` or stdin.
    Text(String),
    /// `--image`, with `--caption`.
    Image {
        url: String,
        caption: Option<String>,
    },
    /// `--document`, with `--filename` (empty when not given) and `--mimetype`.
    Document {
        url: String,
        filename: String,
        mimetype: Option<String>,
    },
}

impl Draft {
    /// Each text field, changed by `f` (used to fill templates).
    pub fn map(&self, mut f: impl FnMut(&str) -> String) -> Draft {
        match self {
            Draft::Text(t) => Draft::Text(f(t)),
            Draft::Image { url, caption } => Draft::Image {
                url: f(url),
                caption: caption.as_deref().map(&mut f),
            },
            Draft::Document {
                url,
                filename,
                mimetype,
            } => Draft::Document {
                url: f(url),
                filename: f(filename),
                mimetype: mimetype.clone(),
            },
        }
    }

    /// Every text field, for finding template fields.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Draft::Text(t) => vec![t],
            Draft::Image { url, caption } => [Some(url.as_str()), caption.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            Draft::Document { url, filename, .. } => vec![url, filename],
        }
    }

    /// The content as the SDK sends it, or the first field that fails its check, named as
    /// the API names it (`imageUrl`, `fileUrl`, `message`).
    pub fn content(&self) -> Result<Content, ValidationError> {
        Ok(match self {
            Draft::Text(t) => Content::Text {
                message: MessageText::new(t.clone())?,
            },
            Draft::Image { url, caption } => Content::Image {
                image_url: MediaUrl::for_field(url, "imageUrl")?,
                caption: caption.clone(),
            },
            Draft::Document {
                url,
                filename,
                mimetype,
            } => Content::Document {
                file_url: MediaUrl::for_field(url, "fileUrl")?,
                filename: filename.clone(),
                mimetype: mimetype.clone(),
            },
        })
    }
}

impl ContentArgs {
    /// The content as given; text may be read from a file or stdin.
    pub fn draft(&self) -> Result<Draft, Failure> {
        self.check_media_options()?;
        if let Some(url) = &self.image {
            return Ok(Draft::Image {
                url: url.clone(),
                caption: self.caption.clone(),
            });
        }
        if let Some(url) = &self.document {
            return Ok(Draft::Document {
                url: url.clone(),
                filename: self.filename.clone().unwrap_or_default(),
                mimetype: self.mimetype.clone(),
            });
        }
        let from_stdin = self.message.as_deref() == Some("-")
            || self.message_file.as_deref() == Some(Path::new("-"));
        let text = if from_stdin {
            read_stdin()?
        } else if let Some(text) = &self.message {
            text.clone()
        } else if let Some(path) = &self.message_file {
            let bytes = std::fs::read(path).map_err(|e| {
                Failure::usage(format!("cannot read {}: {e}", path.display())).hint(
                    "check the --message-file path (\"-\" reads stdin), or give the text with --message",
                )
            })?;
            strip_final_newline(utf8(bytes, &path.display().to_string())?)
        } else if !std::io::stdin().is_terminal() {
            read_stdin()?
        } else {
            return Err(no_content());
        };
        Ok(Draft::Text(text))
    }
}

impl ContentArgs {
    /// Refuses --caption without --image, and --filename or --mimetype without --document.
    /// (clap's `requires` cannot say this: it is not checked when the required flag
    /// conflicts with one that was given, so `--message x --caption y` passed silently.)
    fn check_media_options(&self) -> Result<(), Failure> {
        let misplaced = [
            (
                "--caption",
                self.caption.is_some(),
                "--image",
                self.image.is_some(),
            ),
            (
                "--filename",
                self.filename.is_some(),
                "--document",
                self.document.is_some(),
            ),
            (
                "--mimetype",
                self.mimetype.is_some(),
                "--document",
                self.document.is_some(),
            ),
        ];
        for (flag, given, needs, has) in misplaced {
            if given && !has {
                let with = if self.message.is_some() || self.message_file.is_some() {
                    " (text messages have none)"
                } else {
                    ""
                };
                return Err(Failure::usage(format!("{flag} is only for {needs}{with}"))
                    .hint(format!("drop {flag}, or send {needs} URL instead of text")));
            }
        }
        Ok(())
    }
}

fn no_content() -> Failure {
    Failure::usage("no message given").hint(
        "pass --message TEXT, --message-file PATH, pipe the text in, or send --image/--document",
    )
}

fn read_stdin() -> Result<String, Failure> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
    if bytes.is_empty() {
        return Err(no_content());
    }
    Ok(strip_final_newline(utf8(bytes, "stdin")?))
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, Failure> {
    String::from_utf8(bytes).map_err(|e| {
        Failure::usage(format!(
            "{what} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
        .hint("convert it first, e.g. `iconv -t UTF-8`")
    })
}

/// `echo` and editors end text with a newline that is not part of the message.
fn strip_final_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

fn parse_idempotency_key(s: &str) -> Result<IdempotencyKey, String> {
    IdempotencyKey::new(s).map_err(|e| e.reason().to_owned())
}

pub(crate) fn parse_phone(s: &str) -> Result<Phone, String> {
    Phone::normalize(s).map_err(|e| e.reason().to_owned())
}

fn parse_community(s: &str) -> Result<NewsletterJid, String> {
    NewsletterJid::for_field(s, "communityId").map_err(|e| e.reason().to_owned())
}

fn parse_channel(s: &str) -> Result<NewsletterJid, String> {
    NewsletterJid::new(s).map_err(|e| e.reason().to_owned())
}

/// `svw send`.
pub async fn exec(args: SendArgs, ctx: &Context) -> Result<(), Failure> {
    // clap refuses --csv together with recipient flags: the file names the recipients.
    if let Some(csv) = &args.bulk.csv {
        return bulk::exec(csv, &args, ctx).await;
    }
    let target = if let Some(phone) = args.to.clone() {
        Target::Phone(phone)
    } else if let Some(jid) = args.community.clone() {
        Target::Community(jid)
    } else if let Some(jid) = args.channel.clone() {
        Target::Channel(jid)
    } else if let Some(groups) = args.groups.target()? {
        Target::Groups(groups)
    } else {
        return Err(Failure::usage("no recipients given").hint(
            "pass --to PHONE, --group NAME, --group-id ID, --all, --community JID, --channel JID or --csv FILE",
        ));
    };
    let content = args
        .content
        .draft()?
        .content()
        .map_err(sevenoways_sdk::Error::from)?;
    let instance = ctx.instance()?;
    let client = ctx.client()?;
    let mut send = client.send_message(instance, target, content);
    if let Some(key) = &args.idempotency_key {
        send = send.idempotency_key(key);
    }
    let queued = send.await?;
    report(ctx, &queued);
    Ok(())
}

fn report(ctx: &Context, queued: &Queued) {
    // A send to several recipients has one queue id per recipient; -q prints those.
    let ids: Vec<String> = if queued.recipients.is_empty() {
        vec![queued.queue_id.to_string()]
    } else {
        queued
            .recipients
            .iter()
            .map(|r| r.queue_id.to_string())
            .collect()
    };
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    ctx.printer.item(&Success(queued), &ids, |p| {
        if queued.recipients.len() > 1 {
            p.success(format!("Queued for {} recipients", queued.recipients.len()));
            let mut table = Table::new(&["QUEUE ID", "TO"]);
            for r in &queued.recipients {
                table.row([r.queue_id.to_string(), r.to.clone()]);
            }
            p.table(&table);
        } else {
            let to = queued
                .recipients
                .first()
                .map(|r| format!(" to {}", r.to))
                .unwrap_or_default();
            p.success(format!("Queued{to} (queue id {})", queued.queue_id));
            p.note(format!(
                "Follow it with `svw queue status {}`",
                queued.queue_id
            ));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_final_newline_is_dropped() {
        assert_eq!(strip_final_newline("Hi 👋\n\nbye\n".into()), "Hi 👋\n\nbye");
        assert_eq!(strip_final_newline("a\r\n".into()), "a");
        assert_eq!(strip_final_newline("a\n\n".into()), "a\n");
        assert_eq!(strip_final_newline("  a  ".into()), "  a  ");
    }

    #[test]
    fn drafts_fill_every_text_field() {
        let d = Draft::Image {
            url: "https://x/{{id}}.jpg".into(),
            caption: Some("{{id}}".into()),
        };
        assert_eq!(
            d.map(|s| s.replace("{{id}}", "7")),
            Draft::Image {
                url: "https://x/7.jpg".into(),
                caption: Some("7".into())
            }
        );
        assert_eq!(d.texts(), vec!["https://x/{{id}}.jpg", "{{id}}"]);
    }
}
