//! Saved channels and sends to them: `client.channels()`.

use crate::Client;
use crate::error::Result;
use crate::ids::ChannelId;
use crate::models::channels::{
    AddChannelRequest, ChannelList, ChannelSaved, ListChannels, RemoveChannel,
    SendDocumentToChannelRequest, SendImageToChannelRequest, SendToChannelRequest,
};
use crate::models::messages::Queued;
use crate::page::PageParams;

/// Saved channels and sends to them. Get one with [`Client::channels`].
#[derive(Debug)]
pub struct ChannelsApi<'a> {
    pub(crate) client: &'a Client,
}

impl ChannelsApi<'_> {
    /// `GET /api/channels` ([`ListChannels`]): every saved channel, oldest first, fetching
    /// as many pages as that takes.
    pub async fn list(&self) -> Result<ChannelList> {
        self.client.list_all(ListChannels::default()).await
    }

    /// One page of `GET /api/channels`; its `next_cursor` asks for the next.
    pub async fn list_page(&self, page: &PageParams) -> Result<ChannelList> {
        let req = ListChannels { page: page.clone() };
        self.client.call(&req).await
    }

    /// `POST /api/channels`: look a channel up by invite link, code or JID and save it.
    pub async fn add(&self, req: &AddChannelRequest) -> Result<ChannelSaved> {
        self.client.call(req).await
    }

    /// `DELETE /api/channels/{id}` ([`RemoveChannel`]).
    pub async fn remove(&self, id: &ChannelId) -> Result<()> {
        let req = RemoveChannel { id: id.clone() };
        self.client.call(&req).await.map(drop)
    }

    /// `POST /api/send-to-channel`.
    pub async fn send(&self, req: &SendToChannelRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-image-to-channel`.
    pub async fn send_image(&self, req: &SendImageToChannelRequest) -> Result<Queued> {
        self.client.call(req).await
    }

    /// `POST /api/send-document-to-channel`.
    pub async fn send_document(&self, req: &SendDocumentToChannelRequest) -> Result<Queued> {
        self.client.call(req).await
    }
}
