//! Sends to groups and phone numbers, and `Client::send_message` for any recipient.

use crate::Client;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::channels::{
    SendDocumentToChannelRequest, SendImageToChannelRequest, SendToChannelRequest,
};
use crate::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use crate::models::messages::{Content, Target};
use crate::models::messages::{
    Queued, SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest,
    SendNumberImageRequest, SendNumberRequest, SendRequest,
};

/// Sends to groups and phone numbers. Get one with [`Client::messages`].
///
/// Each method validates the request before sending it and answers [`Queued`].
#[derive(Debug)]
pub struct MessagesApi<'a> {
    pub(crate) client: &'a Client,
}

impl MessagesApi<'_> {
    /// `POST /api/send`: text to groups.
    pub async fn send(&self, req: &SendRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-image`: an image to groups.
    pub async fn send_image(&self, req: &SendImageRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-document`: a document to groups.
    pub async fn send_document(&self, req: &SendDocumentRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-number`: text to a phone number.
    pub async fn send_number(&self, req: &SendNumberRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-number-image`: an image to a phone number.
    pub async fn send_number_image(&self, req: &SendNumberImageRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-number-document`: a document to a phone number.
    pub async fn send_number_document(&self, req: &SendNumberDocumentRequest) -> Result<Queued> {
        self.client.call(req).await
    }
}

impl Client {
    /// Sends any message anywhere: `target` × `content` picks the documented endpoint
    /// (`/api/send`, `/api/send-number-image`, `/api/send-document-to-channel`, ...).
    ///
    /// Handy when the recipient and content are decided at run time, as in a CLI or a
    /// schedule runner; the twelve typed methods stay the way to call one endpoint.
    ///
    /// ```no_run
    /// use sevenoways_sdk::{Client, Content, Phone, Target};
    /// # async fn run(client: Client) -> Result<(), sevenoways_sdk::Error> {
    /// let queued = client
    ///     .send_message(
    ///         "number2".parse()?,
    ///         Target::Phone(Phone::normalize("+971 50 123 4567")?),
    ///         Content::Text { message: "Your order is ready 🎉".try_into()? },
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_message(
        &self,
        instance: InstanceId,
        target: Target,
        content: Content,
    ) -> Result<Queued> {
        let (messages, communities, channels) =
            (self.messages(), self.communities(), self.channels());
        match (target, content) {
            (Target::Groups(to), Content::Text { message }) => {
                messages
                    .send(&SendRequest::new(instance, to, message))
                    .await
            }
            (Target::Groups(to), Content::Image { image_url, caption }) => {
                messages
                    .send_image(&SendImageRequest::new(instance, to, image_url, caption))
                    .await
            }
            (
                Target::Groups(to),
                Content::Document {
                    file_url,
                    filename,
                    mimetype,
                },
            ) => {
                let req = SendDocumentRequest::new(instance, to, file_url, filename, mimetype);
                messages.send_document(&req).await
            }
            (Target::Phone(phone), Content::Text { message }) => {
                messages
                    .send_number(&SendNumberRequest::new(instance, phone, message))
                    .await
            }
            (Target::Phone(phone), Content::Image { image_url, caption }) => {
                let req = SendNumberImageRequest::new(instance, phone, image_url, caption);
                messages.send_number_image(&req).await
            }
            (
                Target::Phone(phone),
                Content::Document {
                    file_url,
                    filename,
                    mimetype,
                },
            ) => {
                let req =
                    SendNumberDocumentRequest::new(instance, phone, file_url, filename, mimetype);
                messages.send_number_document(&req).await
            }
            (Target::Community(jid), Content::Text { message }) => {
                communities
                    .send(&SendToCommunityRequest::new(instance, jid, message))
                    .await
            }
            (Target::Community(jid), Content::Image { image_url, caption }) => {
                let req = SendImageToCommunityRequest::new(instance, jid, image_url, caption);
                communities.send_image(&req).await
            }
            (
                Target::Community(jid),
                Content::Document {
                    file_url,
                    filename,
                    mimetype,
                },
            ) => {
                let req = SendDocumentToCommunityRequest::new(
                    instance, jid, file_url, filename, mimetype,
                );
                communities.send_document(&req).await
            }
            (Target::Channel(jid), Content::Text { message }) => {
                channels
                    .send(&SendToChannelRequest::new(instance, jid, message))
                    .await
            }
            (Target::Channel(jid), Content::Image { image_url, caption }) => {
                let req = SendImageToChannelRequest::new(instance, jid, image_url, caption);
                channels.send_image(&req).await
            }
            (
                Target::Channel(jid),
                Content::Document {
                    file_url,
                    filename,
                    mimetype,
                },
            ) => {
                let req =
                    SendDocumentToChannelRequest::new(instance, jid, file_url, filename, mimetype);
                channels.send_document(&req).await
            }
        }
    }
}
