//! Channels (WhatsApp newsletters): one-way broadcasts that only admins and owners post to.
//!
//! A channel is saved once by invite link, code or JID (`POST /api/channels`), then sent
//! to by its JID.

use super::common::{MediaUrl, MessageText};
use super::messages::{
    Content, Queued, SendMessage, Target, check_caption, check_document, send_request,
};
use crate::endpoint::{body_endpoint, path_endpoint};
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
    pub invite_link: String,
}

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
        let raw = raw.trim();
        if raw.ends_with("@newsletter") {
            return NewsletterJid::for_field(raw, "inviteLink").map(Self::Jid);
        }
        // People paste links without the scheme (`whatsapp.com/channel/…`).
        let with_scheme;
        let raw = if !raw.contains("://")
            && (raw.starts_with("whatsapp.com/") || raw.starts_with("www.whatsapp.com/"))
        {
            with_scheme = format!("https://{raw}");
            with_scheme.as_str()
        } else {
            raw
        };
        let code = if raw.contains("://") {
            let url = url::Url::parse(raw).ok();
            let code = url.as_ref().and_then(|u| {
                let host = u.host_str()?.trim_start_matches("www.");
                let mut path = u.path_segments()?;
                (host == "whatsapp.com" && path.next() == Some("channel"))
                    .then(|| path.next().map(str::to_owned))
                    .flatten()
            });
            code.ok_or_else(|| {
                ValidationError::new(
                    "inviteLink",
                    format!("expected https://whatsapp.com/channel/<code>, an invite code or a channel JID, got {raw:?}"),
                )
            })?
        } else {
            raw.to_owned()
        };
        let valid =
            (6..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(ValidationError::new(
                "inviteLink",
                format!("expected an invite link, invite code or channel JID, got {raw:?}"),
            ));
        }
        Ok(Self::Code(code))
    }
}

impl Validate for AddChannelRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        ChannelRef::parse(&self.invite_link).map(drop)
    }
}

body_endpoint!(AddChannelRequest => POST "/api/channels" -> ChannelSaved);

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
    SendToChannelRequest => "/api/send-to-channel", to channel, text
}

send_request! {
    /// `POST /api/send-image-to-channel`: an image to a channel.
    SendImageToChannelRequest => "/api/send-image-to-channel", to channel, image
}

send_request! {
    /// `POST /api/send-document-to-channel`: a document to a channel.
    SendDocumentToChannelRequest => "/api/send-document-to-channel", to channel, document
}
