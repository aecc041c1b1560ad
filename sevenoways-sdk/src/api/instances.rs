//! The numbers of the account and their pairing: `client.instances()`.

use crate::Client;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::instances::{
    CreateInstanceRequest, DeleteInstance, GetQr, InstanceCreated, InstanceList, ListInstances,
    QrCode,
};
use crate::page::PageParams;

/// `/api/instances`. Get one with [`Client::instances`].
#[derive(Debug)]
pub struct InstancesApi<'a> {
    pub(crate) client: &'a Client,
}

impl InstancesApi<'_> {
    /// `GET /api/instances` ([`ListInstances`]): every instance, oldest first, fetching
    /// as many pages as that takes.
    pub async fn list(&self) -> Result<InstanceList> {
        self.client.list_all(ListInstances::default()).await
    }

    /// One page of `GET /api/instances`; its `next_cursor` asks for the next.
    pub async fn list_page(&self, page: &PageParams) -> Result<InstanceList> {
        let req = ListInstances { page: page.clone() };
        self.client.call(&req).await
    }

    /// `POST /api/instances`. The answer's `qrUrl` is the pairing page to share;
    /// `sandboxPairUrl` (sandbox instances) is the one whose scan button pairs.
    pub async fn create(&self, req: &CreateInstanceRequest) -> Result<InstanceCreated> {
        self.client.call(req).await
    }

    /// `DELETE /api/instances/{id}` ([`DeleteInstance`]).
    pub async fn delete(&self, id: &InstanceId) -> Result<()> {
        let req = DeleteInstance { id: id.clone() };
        self.client.call(&req).await.map(drop)
    }

    /// `GET /api/instances/{id}/qr?format=json` ([`GetQr`]): the pairing string and its
    /// expiry.
    pub async fn qr(&self, id: &InstanceId) -> Result<QrCode> {
        self.client.call(&GetQr { id: id.clone() }).await
    }

    /// The pairing page's address, to open in a browser with the `x-api-key` header, or
    /// share the tokenised `qrUrl` from [`InstancesApi::create`] instead.
    pub fn qr_page_url(&self, id: &InstanceId) -> String {
        let page = GetQr { id: id.clone() }.page_path();
        format!("{}{page}", self.client.base_url())
    }
}
