use crate::Client;
use crate::client::segment;
use crate::error::Result;
use crate::ids::InstanceId;
use crate::models::common::Empty;
use crate::models::instances::{CreateInstanceRequest, InstanceCreated, InstanceList, QrCode};

/// `/api/instances`. Get one with [`Client::instances`].
#[derive(Debug)]
pub struct InstancesApi<'a> {
    pub(crate) client: &'a Client,
}

impl InstancesApi<'_> {
    /// `GET /api/instances`.
    pub async fn list(&self) -> Result<InstanceList> {
        self.client.get("/api/instances").await
    }

    /// `POST /api/instances`. The answer's `qrUrl` is the pairing page.
    pub async fn create(&self, req: &CreateInstanceRequest) -> Result<InstanceCreated> {
        self.client.post(req).await
    }

    /// `DELETE /api/instances/:id`.
    pub async fn delete(&self, id: &InstanceId) -> Result<()> {
        let _: Empty = self
            .client
            .delete(&format!("/api/instances/{}", segment(id.as_str())))
            .await?;
        Ok(())
    }

    /// `GET /api/instances/:id/qr?format=json`: the pairing string and its expiry.
    pub async fn qr(&self, id: &InstanceId) -> Result<QrCode> {
        self.client
            .get(&format!(
                "/api/instances/{}/qr?format=json",
                segment(id.as_str())
            ))
            .await
    }

    /// The pairing page's address, to open in a browser with the `x-api-key` header, or
    /// share the tokenised `qrUrl` from [`InstancesApi::create`] instead.
    pub fn qr_page_url(&self, id: &InstanceId) -> String {
        format!(
            "{}/api/instances/{}/qr",
            self.client.base_url(),
            segment(id.as_str())
        )
    }
}
