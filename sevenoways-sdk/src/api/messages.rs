//! Sends to groups and phone numbers, and `Client::send_message` for any recipient.

use crate::Validate;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::messages::{
    AnySend, Content, Queued, SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest,
    SendNumberImageRequest, SendNumberRequest, SendRequest, Target,
};
use crate::{Call, Client};

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
    /// (`/api/send`, `/api/send-number-image`, `/api/send-document-to-channel`, ...) through
    /// [`AnySend::from_parts`].
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
    pub fn send_message(
        &self,
        instance: InstanceId,
        target: Target,
        content: Content,
    ) -> Call<'_, Queued> {
        let send = AnySend::from_parts(instance, target, content);
        match send.validate() {
            Ok(()) => self.post_send(send.route(), &send),
            Err(e) => Call::failed(self, e.into()),
        }
    }
}
