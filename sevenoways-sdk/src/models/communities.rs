//! Communities: sends to a community (`…@newsletter`) the number is a member or admin of.
//!
//! Communities are discovered from the connected number; there is nothing to create.

use super::common::{MediaUrl, MessageText};
use super::messages::{
    Content, Queued, SendMessage, Target, check_caption, check_document, send_request,
};
use crate::ids::{InstanceId, NewsletterJid};
use crate::validation::{Validate, ValidationError};
use serde::{Deserialize, Serialize};

send_request! {
    /// `POST /api/send-to-community`: text to a community the number belongs to.
    SendToCommunityRequest => "/api/send-to-community",
    to { community_id: NewsletterJid [doc = "The community (`120363…@newsletter`); the number must be a member or admin."] } => |s| Ok(Target::Community(s.community_id.clone())),
    content { message: MessageText [doc = "The text, at most 4096 characters."] } => Content::Text { message: s.message.clone() },
    check Ok(())
}

send_request! {
    /// `POST /api/send-image-to-community`: an image to a community.
    SendImageToCommunityRequest => "/api/send-image-to-community",
    to { community_id: NewsletterJid [doc = "The community (`120363…@newsletter`); the number must be a member or admin."] } => |s| Ok(Target::Community(s.community_id.clone())),
    content {
        image_url: MediaUrl [doc = "A public http(s) URL of the image."],
        caption: Option<String> [doc = "Shown under the image."] [serde(default, skip_serializing_if = "Option::is_none")]
    } => Content::Image { image_url: s.image_url.clone(), caption: s.caption.clone() },
    check check_caption(s.caption.as_deref())
}

send_request! {
    /// `POST /api/send-document-to-community`: a document to a community.
    SendDocumentToCommunityRequest => "/api/send-document-to-community",
    to { community_id: NewsletterJid [doc = "The community (`120363…@newsletter`); the number must be a member or admin."] } => |s| Ok(Target::Community(s.community_id.clone())),
    content {
        file_url: MediaUrl [doc = "A public http(s) URL of the document."],
        filename: String [doc = "The file name shown in WhatsApp, e.g. `report.pdf`."],
        mimetype: Option<String> [doc = "The MIME type, e.g. `application/pdf`."] [serde(default, skip_serializing_if = "Option::is_none")]
    } => Content::Document { file_url: s.file_url.clone(), filename: s.filename.clone(), mimetype: s.mimetype.clone() },
    check check_document(&s.filename, s.mimetype.as_deref())
}

impl SendToCommunityRequest {
    /// Text to a community.
    pub fn new(instance_id: InstanceId, community_id: NewsletterJid, message: MessageText) -> Self {
        Self {
            instance_id,
            community_id,
            message,
        }
    }
}

impl SendImageToCommunityRequest {
    /// An image to a community.
    pub fn new(
        instance_id: InstanceId,
        community_id: NewsletterJid,
        image_url: MediaUrl,
        caption: Option<String>,
    ) -> Self {
        Self {
            instance_id,
            community_id,
            image_url,
            caption,
        }
    }
}

impl SendDocumentToCommunityRequest {
    /// A document to a community.
    pub fn new(
        instance_id: InstanceId,
        community_id: NewsletterJid,
        file_url: MediaUrl,
        filename: impl Into<String>,
        mimetype: Option<String>,
    ) -> Self {
        Self {
            instance_id,
            community_id,
            file_url,
            filename: filename.into(),
            mimetype,
        }
    }
}
