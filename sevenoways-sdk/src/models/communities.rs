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
    SendToCommunityRequest => "/api/send-to-community", to community, text
}

send_request! {
    /// `POST /api/send-image-to-community`: an image to a community.
    SendImageToCommunityRequest => "/api/send-image-to-community", to community, image
}

send_request! {
    /// `POST /api/send-document-to-community`: a document to a community.
    SendDocumentToCommunityRequest => "/api/send-document-to-community", to community, document
}
