//! `/console/send`: a message to groups (by name, by id, all), a phone number, a channel
//! or a community, as text, an image or a document, then each queue entry's status as it
//! moves to read.
//!
//! The form's choices become the SDK's [`Target`] and [`Content`], [`AnySend::from_parts`]
//! picks the documented endpoint's request, and the API's own send path
//! (`crate::routes::messages::send_message`) validates, resolves and queues it: the
//! console has no rule of its own. Text is sent with `\n` line breaks, as the API's
//! clients send them, not the `\r\n` a browser posts.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use sevenoways_sdk::models::messages::{AnySend, GroupTarget};
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::{Content, MediaUrl, MessageText, NewsletterJid, Phone, QueueId, Target};
use sevenoways_sdk::{Validate, ValidationError};

use super::form::{FormData, lines, newlines};
use super::layout::{self, badge, csrf, maybe_time};
use super::session::{Signed, Submitted};
use super::{PageResult, Problem, fragment, page, see_other, value};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::routes::instances;
use crate::routes::messages::send_message;
use crate::routes::pages::page_params;

/// How many queue entries one send's status panel follows (the rest are in the queue
/// page): a send to every group may queue hundreds.
const FOLLOWED: usize = 50;

/// `?sent=` after a send: the queue ids it made, comma-separated.
#[derive(Debug, Default, Deserialize)]
pub struct SentQuery {
    sent: Option<String>,
}

/// The ids in `?sent=`, at most [`FOLLOWED`]; anything else in it is ignored.
fn sent_ids(raw: Option<&str>) -> Vec<QueueId> {
    raw.unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse::<u64>().ok())
        .map(QueueId)
        .take(FOLLOWED)
        .collect()
}

/// The form's values after a failed send, shown again.
#[derive(Default)]
pub(crate) struct Typed<'a> {
    pub(crate) form: Option<&'a FormData>,
    pub(crate) error: Option<String>,
}

impl Typed<'_> {
    pub(crate) fn text(&self, name: &str) -> String {
        self.form
            .and_then(|f| f.get(name))
            .map(newlines)
            .unwrap_or_default()
    }
    fn choice(&self, name: &str, value: &str, default: bool) -> bool {
        match self.form.and_then(|f| f.get(name)) {
            Some(v) => v == value,
            None => default,
        }
    }
}

/// The recipient choices: (value, label).
pub(crate) const TARGETS: [(&str, &str); 6] = [
    ("groupNames", "Groups by name"),
    ("groupIds", "Groups by ID"),
    ("allGroups", "All groups"),
    ("phone", "Phone number"),
    ("channel", "Channel"),
    ("community", "Community"),
];

/// The content choices: (value, label).
const KINDS: [(&str, &str); 3] = [
    ("text", "Text"),
    ("image", "Image"),
    ("document", "Document"),
];

async fn form_page(
    state: &AppState,
    signed: &Signed,
    sent: &[QueueId],
    typed: Typed<'_>,
) -> Result<Markup, Problem> {
    let list = value(
        instances::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, None)?),
        )
        .await,
    )?;
    let channels = value(
        crate::routes::channels::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, None)?),
        )
        .await,
    )?;
    let entries = entries(state, signed, sent).await?;
    Ok(layout::page(
        signed,
        "/console/send",
        "Send",
        html! {
            h1 { "Send a message" }
            @if !sent.is_empty() {
                section aria-labelledby="sent" {
                    h2 #sent { "Sent" }
                    p.hint { "Each entry's status follows the queue: queued, sending, sent, delivered, read." }
                    div #sent-status aria-live="polite"
                        data-live={ "/console/send/status?sent=" (join(sent)) } {
                        (status_table(&entries))
                    }
                }
            }
            @if list.instances.is_empty() {
                p { "No instances yet: " a href="/console/instances" { "create and pair one" } " first." }
            } @else {
                (layout::notice(None, typed.error.as_deref()))
                form.stack method="post" action="/console/send" data-choices {
                    (csrf(signed))
                    (instance_select(&list.instances, &typed))
                    (target_fields(&TARGETS, &channels.channels, &typed))
                    (content_fields(&typed))
                    button type="submit" { "Send" }
                }
            }
        },
    ))
}

/// The "Instance" choice.
pub(crate) fn instance_select(
    instances: &[sevenoways_sdk::models::instances::Instance],
    typed: &Typed<'_>,
) -> Markup {
    let chosen = typed.text("instanceId");
    html! {
        label for="instance" { "Instance" }
        select #instance name="instanceId" required {
            @for instance in instances {
                option value=(instance.instance_id)
                    selected[chosen == instance.instance_id.as_str()] {
                    (instance.instance_id) " — " (instance.label) " (" (instance.status.as_str()) ")"
                }
            }
        }
    }
}

/// The "Send to" choice among `targets` (a prefix of [`TARGETS`]) and its fields;
/// `channels` (the account's saved channels) are offered as the channel field's choices.
pub(crate) fn target_fields(
    targets: &[(&str, &str)],
    channels: &[sevenoways_sdk::models::channels::Channel],
    typed: &Typed<'_>,
) -> Markup {
    let offered = |v: &str| targets.iter().any(|(t, _)| *t == v);
    html! {
        fieldset {
            legend { "Send to" }
            @for (i, (v, name)) in targets.iter().enumerate() {
                input type="radio" name="target" id={ "target-" (v) } value=(v)
                    checked[typed.choice("target", v, i == 0)];
                label for={ "target-" (v) } { (name) }
            }
        }
        div data-when="target=groupNames" {
            label for="group-names" { "Group names" }
            textarea #group-names name="groupNames" rows="3" aria-describedby="group-names-hint" { (typed.text("groupNames")) }
            p.hint #group-names-hint { "One per line, as WhatsApp shows them (case does not matter)." }
        }
        div data-when="target=groupIds" {
            label for="group-ids" { "Group IDs" }
            textarea #group-ids name="groupIds" rows="3" aria-describedby="group-ids-hint" { (typed.text("groupIds")) }
            p.hint #group-ids-hint { "One per line, e.g. " code { "120363025246125888@g.us" } "." }
        }
        div data-when="target=phone" {
            label for="phone" { "Phone number" }
            input #phone name="phone" inputmode="tel" value=(typed.text("phone")) placeholder="971501234567";
        }
        @if offered("channel") {
            div data-when="target=channel" {
                label for="channel" { "Channel JID" }
                input #channel name="channelJid" value=(typed.text("channelJid")) placeholder="120363…@newsletter"
                    list="saved-channels" aria-describedby="channel-hint";
                datalist #saved-channels {
                    @for ch in channels { option value=(ch.channel_jid.as_str()) { (ch.name) } }
                }
                p.hint #channel-hint { "Your saved channels are offered as you type; you must be an admin of the channel." }
            }
        }
        @if offered("community") {
            div data-when="target=community" {
                label for="community" { "Community JID" }
                input #community name="communityJid" value=(typed.text("communityJid")) placeholder="120363…@newsletter";
            }
        }
    }
}

/// The "Content" choice and its fields.
pub(crate) fn content_fields(typed: &Typed<'_>) -> Markup {
    html! {
        fieldset {
            legend { "Content" }
            @for (i, (v, name)) in KINDS.iter().enumerate() {
                input type="radio" name="kind" id={ "kind-" (v) } value=(v)
                    checked[typed.choice("kind", v, i == 0)];
                label for={ "kind-" (v) } { (name) }
            }
        }
        div data-when="kind=text" {
            label for="message" { "Message" }
            textarea #message name="message" rows="5" { (typed.text("message")) }
        }
        div data-when="kind=image" {
            label for="image-url" { "Image URL" }
            input #image-url name="imageUrl" type="url" value=(typed.text("imageUrl"));
            label for="caption" { "Caption" }
            textarea #caption name="caption" rows="3" { (typed.text("caption")) }
        }
        div data-when="kind=document" {
            label for="file-url" { "Document URL" }
            input #file-url name="fileUrl" type="url" value=(typed.text("fileUrl"));
            label for="filename" { "File name" }
            input #filename name="filename" value=(typed.text("filename")) placeholder="report.pdf";
            label for="mimetype" { "MIME type (optional)" }
            input #mimetype name="mimetype" value=(typed.text("mimetype")) placeholder="application/pdf";
        }
    }
}

fn join(ids: &[QueueId]) -> String {
    ids.iter()
        .map(|QueueId(id)| id.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The account's entries among `ids` (another account's ids show nothing).
async fn entries(
    state: &AppState,
    signed: &Signed,
    ids: &[QueueId],
) -> Result<Vec<QueueEntry>, Problem> {
    let mut found = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(entry) = state
            .store
            .get_entry(signed.account.id, id)
            .await
            .map_err(ApiError::from)?
        {
            found.push(entry);
        }
    }
    Ok(found)
}

fn status_table(entries: &[QueueEntry]) -> Markup {
    html! {
        table {
            caption.visually-hidden { "Queue entries of this send" }
            thead { tr { th scope="col" { "Queue ID" } th scope="col" { "Recipient" }
                th scope="col" { "Status" } th scope="col" { "Sent" } th scope="col" { "Read" }
                th scope="col" { "Error" } } }
            tbody {
                @for e in entries {
                    tr {
                        td { a href={ "/console/queue/" (e.queue_id) } { (e.queue_id) } }
                        td { code { (e.to) } }
                        td { (badge(e.status.as_str())) }
                        td { (maybe_time(e.sent_at)) }
                        td { (maybe_time(e.read_at)) }
                        td { (e.error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

/// `GET /console/send`.
pub async fn form(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<SentQuery>,
) -> PageResult {
    let sent = sent_ids(q.sent.as_deref());
    let markup = form_page(&state, &signed, &sent, Typed::default()).await?;
    Ok(page(StatusCode::OK, markup))
}

/// `GET /console/send/status?sent=…`: the live status table.
pub async fn status(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<SentQuery>,
) -> PageResult {
    let entries = entries(&state, &signed, &sent_ids(q.sent.as_deref())).await?;
    // Done once every entry is read or failed: nothing more will change.
    let done = entries
        .iter()
        .all(|e| matches!(e.status.as_str(), "read" | "failed"));
    Ok(fragment(status_table(&entries), done))
}

/// The form's "Send to" as the SDK's [`Target`]; a field's error names the field as the
/// API does.
pub(crate) fn target_of(form: &FormData) -> Result<Target, ValidationError> {
    Ok(match form.text("target") {
        "groupNames" => Target::Groups(GroupTarget::names(lines(form.text("groupNames")))?),
        "groupIds" => Target::Groups(GroupTarget::ids(lines(form.text("groupIds")))?),
        "allGroups" => Target::Groups(GroupTarget::all()),
        "phone" => Target::Phone(Phone::new(form.text("phone"))?),
        "channel" => Target::Channel(NewsletterJid::new(form.text("channelJid"))?),
        "community" => Target::Community(NewsletterJid::new(form.text("communityJid"))?),
        other => {
            return Err(ValidationError::new(
                "target",
                format!("expected one of the choices under \"Send to\", got {other:?}"),
            ));
        }
    })
}

/// The form's "Content" as the SDK's [`Content`].
pub(crate) fn content_of(form: &FormData) -> Result<Content, ValidationError> {
    let optional = |name: &str| Some(newlines(form.text(name))).filter(|s| !s.is_empty());
    Ok(match form.text("kind") {
        "text" => Content::Text {
            // Not trimmed: the message is kept as typed, except for the line breaks.
            message: MessageText::new(newlines(form.get("message").unwrap_or_default()))?,
        },
        "image" => Content::Image {
            image_url: MediaUrl::for_field(form.text("imageUrl"), "imageUrl")?,
            caption: optional("caption"),
        },
        "document" => Content::Document {
            file_url: MediaUrl::new(form.text("fileUrl"))?,
            filename: form.text("filename").to_owned(),
            mimetype: optional("mimetype"),
        },
        other => {
            return Err(ValidationError::new(
                "kind",
                format!("expected text, image or document, got {other:?}"),
            ));
        }
    })
}

/// The form as the SDK's request.
fn request(form: &FormData) -> Result<AnySend, ValidationError> {
    let instance = form.text("instanceId").parse()?;
    let send = AnySend::from_parts(instance, target_of(form)?, content_of(form)?);
    send.validate()?;
    Ok(send)
}

/// Sends `send` through the API's send path for its endpoint.
async fn dispatch(
    state: &AppState,
    signed: &Signed,
    send: &AnySend,
) -> Result<Vec<QueueId>, ApiError> {
    let account = &signed.account;
    let queued = match send {
        AnySend::Send(r) => send_message(state, account, r).await,
        AnySend::SendImage(r) => send_message(state, account, r).await,
        AnySend::SendDocument(r) => send_message(state, account, r).await,
        AnySend::SendNumber(r) => send_message(state, account, r).await,
        AnySend::SendNumberImage(r) => send_message(state, account, r).await,
        AnySend::SendNumberDocument(r) => send_message(state, account, r).await,
        AnySend::SendToCommunity(r) => send_message(state, account, r).await,
        AnySend::SendImageToCommunity(r) => send_message(state, account, r).await,
        AnySend::SendDocumentToCommunity(r) => send_message(state, account, r).await,
        AnySend::SendToChannel(r) => send_message(state, account, r).await,
        AnySend::SendImageToChannel(r) => send_message(state, account, r).await,
        AnySend::SendDocumentToChannel(r) => send_message(state, account, r).await,
        // A kind of send added to the SDK later: refused, never guessed.
        _ => Err(ApiError::BadRequest(
            "this kind of send is not offered by the console".into(),
        )),
    }?;
    Ok(queued.recipients.iter().map(|r| r.queue_id).collect())
}

/// `POST /console/send`: the send, then `GET /console/send?sent=…` following its entries.
pub async fn submit(
    State(state): State<AppState>,
    Submitted { signed, form }: Submitted,
) -> PageResult {
    let attempt = async {
        let send = request(&form).map_err(ApiError::from)?;
        dispatch(&state, &signed, &send).await
    };
    match attempt.await {
        Ok(ids) => Ok(see_other(&format!(
            "/console/send?sent={}",
            join(&ids[..ids.len().min(FOLLOWED)])
        ))),
        Err(e) => {
            let problem = Problem::from(e);
            let status = problem.status;
            let typed = Typed {
                form: Some(&form),
                error: Some(problem.message),
            };
            let markup = form_page(&state, &signed, &[], typed).await?;
            Ok(page(status, markup))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_posted_message_is_sent_with_plain_newlines_and_its_emoji() {
        let form = FormData::parse(
            "instanceId=phone1&target=groupNames&groupNames=Team+A%0D%0ATeam+B&kind=text\
             &message=Hi+%F0%9F%91%8B%0D%0Aline+two"
                .as_bytes(),
        );
        let AnySend::Send(send) = request(&form).unwrap() else {
            panic!("text to groups is POST /api/send");
        };
        assert_eq!(send.message.as_str(), "Hi 👋\nline two");
        assert_eq!(
            send.groups.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            ["Team A", "Team B"]
        );
    }

    #[test]
    fn a_bad_field_is_named() {
        let form = FormData::parse(b"instanceId=phone1&target=phone&phone=abc&kind=text&message=x");
        let e = request(&form).unwrap_err();
        assert!(e.to_string().contains("phone"), "{e}");
        let form = FormData::parse(b"instanceId=phone1&target=allGroups&kind=text&message=+");
        let e = request(&form).unwrap_err();
        assert!(e.to_string().contains("message"), "{e}");
    }
}
