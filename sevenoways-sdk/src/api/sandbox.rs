use crate::Client;
use crate::client::segment;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::common::Empty;
use crate::models::sandbox::{Outbox, SandboxGroup, SandboxGroupRequest, SandboxInboundRequest};

/// The sandbox transport's simulation endpoints. Get one with [`Client::sandbox`].
#[derive(Debug)]
pub struct SandboxApi<'a> {
    pub(crate) client: &'a Client,
}

impl SandboxApi<'_> {
    /// `POST /api/sandbox/instances/:id/pair`: simulates the QR scan; the instance comes online.
    pub async fn pair(&self, id: &InstanceId) -> Result<()> {
        let path = format!("/api/sandbox/instances/{}/pair", segment(id.as_str()));
        let _: Empty = self.client.post_to(&path, &Empty {}).await?;
        Ok(())
    }

    /// `POST /api/sandbox/instances/:id/unpair`: simulates the phone logging out; the
    /// instance goes offline (`instance.offline`) until it is paired again.
    pub async fn unpair(&self, id: &InstanceId) -> Result<()> {
        let path = format!("/api/sandbox/instances/{}/unpair", segment(id.as_str()));
        let _: Empty = self.client.post_to(&path, &Empty {}).await?;
        Ok(())
    }

    /// `POST /api/sandbox/instances/:id/groups`: adds (or renames) a group of the number.
    pub async fn add_group(
        &self,
        id: &InstanceId,
        req: &SandboxGroupRequest,
    ) -> Result<SandboxGroup> {
        let path = format!("/api/sandbox/instances/{}/groups", segment(id.as_str()));
        self.client.post_to(&path, req).await
    }

    /// `POST /api/sandbox/instances/:id/inbound`: a message someone sends to the number.
    pub async fn inbound(&self, id: &InstanceId, req: &SandboxInboundRequest) -> Result<()> {
        let path = format!("/api/sandbox/instances/{}/inbound", segment(id.as_str()));
        let _: Empty = self.client.post_to(&path, req).await?;
        Ok(())
    }

    /// `GET /api/sandbox/outbox?instanceId=ID`: what the transport sent, oldest first.
    pub async fn outbox(&self, id: &InstanceId) -> Result<Outbox> {
        self.client
            .get(&format!(
                "/api/sandbox/outbox?instanceId={}",
                segment(id.as_str())
            ))
            .await
    }
}
