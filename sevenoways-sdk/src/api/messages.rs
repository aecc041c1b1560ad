use crate::Client;
use crate::error::Result;
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
        self.client.post(req).await
    }

    /// `POST /api/send-image`: an image to groups.
    pub async fn send_image(&self, req: &SendImageRequest) -> Result<Queued> {
        self.client.post(req).await
    }

    /// `POST /api/send-document`: a document to groups.
    pub async fn send_document(&self, req: &SendDocumentRequest) -> Result<Queued> {
        self.client.post(req).await
    }

    /// `POST /api/send-number`: text to a phone number.
    pub async fn send_number(&self, req: &SendNumberRequest) -> Result<Queued> {
        self.client.post(req).await
    }

    /// `POST /api/send-number-image`: an image to a phone number.
    pub async fn send_number_image(&self, req: &SendNumberImageRequest) -> Result<Queued> {
        self.client.post(req).await
    }

    /// `POST /api/send-number-document`: a document to a phone number.
    pub async fn send_number_document(&self, req: &SendNumberDocumentRequest) -> Result<Queued> {
        self.client.post(req).await
    }
}
