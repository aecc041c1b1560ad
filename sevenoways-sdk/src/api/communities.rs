//! Sends to communities: `client.communities()`.

use crate::Client;
use crate::error::Result;
use crate::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use crate::models::messages::Queued;

/// Sends to communities. Get one with [`Client::communities`].
#[derive(Debug)]
pub struct CommunitiesApi<'a> {
    pub(crate) client: &'a Client,
}

impl CommunitiesApi<'_> {
    /// `POST /api/send-to-community`.
    pub async fn send(&self, req: &SendToCommunityRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-image-to-community`.
    pub async fn send_image(&self, req: &SendImageToCommunityRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-document-to-community`.
    pub async fn send_document(&self, req: &SendDocumentToCommunityRequest) -> Result<Queued> {
        self.client.call(req).await
    }
}
