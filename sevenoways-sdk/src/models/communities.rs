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
    SendToCommunityRequest => "/api/send-to-community", to community, text, examples [
        ("Community update", r#"{"instanceId":"number2","communityId":"120363111111111111@newsletter","message":"📣 Community update: New features released!"}"#),
    ]
}

send_request! {
    /// `POST /api/send-image-to-community`: an image to a community.
    SendImageToCommunityRequest => "/api/send-image-to-community", to community, image, examples [
        ("Banner", r#"{"instanceId":"number2","communityId":"120363111111111111@newsletter","imageUrl":"https://example.com/banner.jpg","caption":"Check out our new product! 🚀"}"#),
    ]
}

send_request! {
    /// `POST /api/send-document-to-community`: a document to a community.
    SendDocumentToCommunityRequest => "/api/send-document-to-community", to community, document, examples [
        ("Newsletter PDF", r#"{"instanceId":"number2","communityId":"120363111111111111@newsletter","fileUrl":"https://example.com/newsletter.pdf","filename":"Community-Update.pdf"}"#),
    ]
}
