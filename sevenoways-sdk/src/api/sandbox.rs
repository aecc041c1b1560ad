//! The sandbox transport's simulation endpoints: `client.sandbox()`.

use crate::Client;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::sandbox::{
    AddSandboxGroup, GetOutbox, Outbox, PairSandboxInstance, SandboxGroup, SandboxGroupRequest,
    SandboxInbound, SandboxInboundRequest, UnpairSandboxInstance,
};
use crate::page::PageParams;

/// The sandbox transport's simulation endpoints. Get one with [`Client::sandbox`].
///
/// Their bodies are not checked by the client, so tests can drive the server's checks.
#[derive(Debug)]
pub struct SandboxApi<'a> {
    pub(crate) client: &'a Client,
}

impl SandboxApi<'_> {
    /// `POST /api/sandbox/instances/{id}/pair`: simulates the QR scan; the instance comes
    /// online.
    pub async fn pair(&self, id: &InstanceId) -> Result<()> {
        let req = PairSandboxInstance { id: id.clone() };
        self.client.call(&req).await.map(drop)
    }

    /// `POST /api/sandbox/instances/{id}/unpair`: simulates the phone logging out; the
    /// instance goes offline (`instance.offline`) until it is paired again.
    pub async fn unpair(&self, id: &InstanceId) -> Result<()> {
        let req = UnpairSandboxInstance { id: id.clone() };
        self.client.call(&req).await.map(drop)
    }

    /// `POST /api/sandbox/instances/{id}/groups`: adds (or renames) a group of the number.
    pub async fn add_group(
        &self,
        id: &InstanceId,
        req: &SandboxGroupRequest,
    ) -> Result<SandboxGroup> {
        let req = AddSandboxGroup {
            id: id.clone(),
            group: req.clone(),
        };
        self.client.call(&req).await
    }

    /// `POST /api/sandbox/instances/{id}/inbound`: a message someone sends to the number.
    pub async fn inbound(&self, id: &InstanceId, req: &SandboxInboundRequest) -> Result<()> {
        let req = SandboxInbound {
            id: id.clone(),
            message: req.clone(),
        };
        self.client.call(&req).await.map(drop)
    }

    /// `GET /api/sandbox/outbox?instanceId=ID` ([`GetOutbox`]): everything the transport
    /// sent, oldest first, fetching as many pages as that takes.
    pub async fn outbox(&self, id: &InstanceId) -> Result<Outbox> {
        self.client
            .list_all(self.outbox_request(id, &PageParams::default()))
            .await
    }

    /// One page of the outbox; its `next_cursor` asks for the next.
    pub async fn outbox_page(&self, id: &InstanceId, page: &PageParams) -> Result<Outbox> {
        self.client.call(&self.outbox_request(id, page)).await
    }

    fn outbox_request(&self, id: &InstanceId, page: &PageParams) -> GetOutbox {
        GetOutbox {
            instance_id: id.clone(),
            page: page.clone(),
        }
    }
}
