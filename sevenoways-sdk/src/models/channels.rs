//! Channels (WhatsApp newsletters): one-way broadcasts that only admins and owners post to.
//!
//! A channel is saved once by invite link, code or JID (`POST /api/channels`), then sent
//! to by its JID.

use super::common::{MediaUrl, MessageText};
use super::messages::{
    Content, Queued, SendMessage, Target, check_caption, check_document, send_request,
};
use crate::endpoint::{Answer, Link, body_endpoint, path_endpoint};
use crate::ids::{ChannelId, InstanceId, NewsletterJid};
use crate::models::common::Empty;
use crate::page::{Cursor, list_endpoint, page_of};
use crate::validation::{Validate, ValidationError};
use serde::{Deserialize, Serialize};

/// A saved channel, exactly as `GET /api/channels` documents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// The saved channel's id (`ch_abc123`), for `DELETE /api/channels/:id`.
    pub id: ChannelId,
    /// The JID to send to (`120363…@newsletter`).
    pub channel_jid: NewsletterJid,
    /// The channel's name.
    pub name: String,
    /// The channel's description.
    #[serde(default)]
    pub description: String,
    /// Follower count when last looked up.
    #[serde(default)]
    pub subscribers: u64,
    /// Whether the instance may post (admins and owners only).
    #[serde(default)]
    pub is_admin: bool,
    /// `https://whatsapp.com/channel/…`
    #[serde(default)]
    pub invite_link: String,
    /// The instance that looked the channel up.
    pub instance_id: InstanceId,
}

/// `GET /api/channels`: `{"success":true,"channels":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChannelList {
    /// The saved channels, oldest first.
    pub channels: Vec<Channel>,
    /// The next page's `?cursor=`; absent on the last page.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cursor>,
}

page_of!(ChannelList, channels: Channel);

/// `POST /api/channels`: looks a channel up by invite link, invite code or JID and saves it.
///
/// ```
/// use sevenoways_sdk::models::channels::AddChannelRequest;
/// let req = AddChannelRequest::new("number2".parse()?, "https://whatsapp.com/channel/0029VaAbCdEf");
/// assert!(sevenoways_sdk::Validate::validate(&req).is_ok());
/// # Ok::<(), sevenoways_sdk::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AddChannelRequest {
    /// The instance used for the lookup.
    pub instance_id: InstanceId,
    /// A full invite URL, an invite code, or the channel JID.
    #[cfg_attr(feature = "schema", schemars(with = "InviteLink"))]
    pub invite_link: String,
}

/// The JSON Schema of `inviteLink` ([`ChannelRef::parse`]).
#[cfg(feature = "schema")]
pub(crate) struct InviteLink;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for InviteLink {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "InviteLink".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An invite link (`https://whatsapp.com/channel/<code>`, the scheme and `www.` optional), the invite code (6-64 letters and digits) or the channel JID (`120363…@newsletter`).",
            "pattern": INVITE_PATTERN,
            "examples": ["https://whatsapp.com/channel/0029VaAbCdEf", "0029VaAbCdEf", "120363111111111111@newsletter"]
        })
    }
}

/// What [`ChannelRef::parse`] accepts.
#[cfg(feature = "schema")]
const INVITE_PATTERN: &str = concat!(
    "^(?:[0-9]{1,64}@newsletter|[A-Za-z0-9]{6,64}|",
    "(?:https?://)?(?:www\\.)?whatsapp\\.com/channel/[A-Za-z0-9]{6,64}/?",
    "(?:\\?(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?)$",
);

impl AddChannelRequest {
    /// A lookup of `invite_link` through `instance_id`.
    pub fn new(instance_id: InstanceId, invite_link: impl Into<String>) -> Self {
        Self {
            instance_id,
            invite_link: invite_link.into(),
        }
    }
}

/// What an invite reference names: the part after `https://whatsapp.com/channel/`, a bare
/// code, or a JID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    /// An invite code (`0029VaAbCdEf…`).
    Code(String),
    /// A channel JID.
    Jid(NewsletterJid),
}

impl ChannelRef {
    /// Reads an invite URL, code or JID.
    ///
    /// ```
    /// use sevenoways_sdk::models::channels::ChannelRef;
    /// assert_eq!(
    ///     ChannelRef::parse("https://whatsapp.com/channel/0029VaAbCdEf").unwrap(),
    ///     ChannelRef::Code("0029VaAbCdEf".into())
    /// );
    /// assert!(matches!(ChannelRef::parse("120363111@newsletter"), Ok(ChannelRef::Jid(_))));
    /// assert_eq!(
    ///     ChannelRef::parse("whatsapp.com/channel/0029VaAbCdEf").unwrap(),
    ///     ChannelRef::Code("0029VaAbCdEf".into())
    /// );
    /// assert!(ChannelRef::parse("https://example.com/x").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let is_code =
            |c: &str| (6..=64).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric());
        if raw.ends_with("@newsletter") {
            return NewsletterJid::exact(raw)
                .map(Self::Jid)
                .map_err(|e| ValidationError::new("inviteLink", e.reason().to_owned()));
        }
        if is_code(raw) {
            return Ok(Self::Code(raw.to_owned()));
        }
        // People paste links without the scheme (`whatsapp.com/channel/…`).
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"))
            .unwrap_or(raw);
        let rest = rest.strip_prefix("www.").unwrap_or(rest);
        let link = rest.strip_prefix("whatsapp.com/channel/").and_then(|rest| {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (code, tail) = rest.split_at(end);
            let tail = tail.strip_prefix('/').unwrap_or(tail);
            let query_ok = tail.is_empty()
                || tail
                    .strip_prefix('?')
                    .is_some_and(super::common::query_chars_ok);
            (is_code(code) && query_ok).then(|| code.to_owned())
        });
        match link {
            Some(code) => Ok(Self::Code(code)),
            None if raw.contains("://") || raw.contains('/') => Err(ValidationError::new(
                "inviteLink",
                format!(
                    "expected https://whatsapp.com/channel/<code>, an invite code or a channel JID, got {raw:?}"
                ),
            )),
            None => Err(ValidationError::new(
                "inviteLink",
                format!("expected an invite link, invite code or channel JID, got {raw:?}"),
            )),
        }
    }
}

impl Validate for AddChannelRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        ChannelRef::parse(&self.invite_link).map(drop)
    }
}

body_endpoint!(AddChannelRequest => POST "/api/channels" -> ChannelSaved {
    answers: [
        Answer::new(
            404,
            "The instance is not this key's, or its engine (WAHA) finds no such channel.",
        ),
        Answer::new(
            409,
            "Saving a new channel would pass the plan's max_channels (saving one again never does).",
        ),
        crate::models::instances::ENGINE_CANNOT,
        crate::models::instances::ENGINE_FAILED,
    ],
    examples: [(
        "By invite link",
        r#"{"instanceId":"number2","inviteLink":"https://whatsapp.com/channel/0029VaAbCdEf"}"#
    )],
    links: [Link::to::<RemoveChannel>(&[("id", "$response.body#/channel/id")])],
});

list_endpoint! {
    /// `GET /api/channels`: the saved channels, oldest first, a page at a time.
    ListChannels {} => "/api/channels" -> ChannelList
}

path_endpoint! {
    /// `DELETE /api/channels/{id}`: forgets a saved channel (the channel itself stays).
    RemoveChannel {
        /// The saved channel's id (`ch_…`).
        id: ChannelId,
    } => Delete "/api/channels/{id}" -> Empty
}

/// `POST /api/channels` answer: `{"success":true,"channel":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChannelSaved {
    /// The saved channel.
    pub channel: Channel,
}

send_request! {
    /// `POST /api/send-to-channel`: text to a channel the number administers.
    SendToChannelRequest => "/api/send-to-channel", to channel, text, examples [
        ("Announcement", r#"{"instanceId":"number2","channelJid":"120363222222222222@newsletter","message":"📢 Big announcement coming tomorrow — stay tuned!"}"#),
    ]
}

send_request! {
    /// `POST /api/send-image-to-channel`: an image to a channel.
    SendImageToChannelRequest => "/api/send-image-to-channel", to channel, image, examples [
        ("Promotion", r#"{"instanceId":"number2","channelJid":"120363222222222222@newsletter","imageUrl":"https://example.com/promo.jpg","caption":"Our summer sale starts today! 🌞"}"#),
    ]
}

send_request! {
    /// `POST /api/send-document-to-channel`: a document to a channel.
    SendDocumentToChannelRequest => "/api/send-document-to-channel", to channel, document, examples [
        ("Monthly report", r#"{"instanceId":"number2","channelJid":"120363222222222222@newsletter","fileUrl":"https://example.com/monthly-report.pdf","filename":"August-Report.pdf"}"#),
    ]
}
