use crate::Client;
use crate::client::segment;
use crate::error::Result;
use crate::ids::WebhookId;
use crate::models::common::Empty;
use crate::models::webhooks::{
    CreateWebhookRequest, DeliveryDetail, DeliveryList, WebhookCreated, WebhookList,
};

/// Webhook subscriptions and their deliveries. Get one with [`Client::webhooks`].
#[derive(Debug)]
pub struct WebhooksApi<'a> {
    pub(crate) client: &'a Client,
}

impl WebhooksApi<'_> {
    /// `GET /api/webhooks`.
    pub async fn list(&self) -> Result<WebhookList> {
        self.client.get("/api/webhooks").await
    }

    /// `POST /api/webhooks`. The answer holds the secret; it is not shown again.
    pub async fn create(&self, req: &CreateWebhookRequest) -> Result<WebhookCreated> {
        self.client.post(req).await
    }

    /// `DELETE /api/webhooks/:id`.
    pub async fn delete(&self, id: &WebhookId) -> Result<()> {
        let _: Empty = self
            .client
            .delete(&format!("/api/webhooks/{}", segment(id.as_str())))
            .await?;
        Ok(())
    }

    /// `POST /api/webhooks/:id/test`: queues a test event to the subscription.
    pub async fn test(&self, id: &WebhookId) -> Result<()> {
        let _: Empty = self
            .client
            .post_to(
                &format!("/api/webhooks/{}/test", segment(id.as_str())),
                &Empty {},
            )
            .await?;
        Ok(())
    }

    /// `GET /api/webhooks/:id/deliveries`, newest first.
    pub async fn deliveries(&self, id: &WebhookId) -> Result<DeliveryList> {
        self.client
            .get(&format!(
                "/api/webhooks/{}/deliveries",
                segment(id.as_str())
            ))
            .await
    }

    /// `GET /api/webhooks/:id/deliveries/:deliveryId`: one delivery with every attempt.
    pub async fn delivery(&self, id: &WebhookId, delivery_id: &str) -> Result<DeliveryDetail> {
        self.client
            .get(&format!(
                "/api/webhooks/{}/deliveries/{}",
                segment(id.as_str()),
                delivery_segment(delivery_id)?
            ))
            .await
    }

    /// `POST /api/webhooks/:id/deliveries/:deliveryId/redeliver`.
    pub async fn redeliver(&self, id: &WebhookId, delivery_id: &str) -> Result<()> {
        let path = format!(
            "/api/webhooks/{}/deliveries/{}/redeliver",
            segment(id.as_str()),
            delivery_segment(delivery_id)?
        );
        let _: Empty = self.client.post_to(&path, &Empty {}).await?;
        Ok(())
    }
}

/// A delivery id as a path segment; `.` and `..` would change the path itself.
fn delivery_segment(delivery_id: &str) -> Result<String> {
    let id = delivery_id.trim();
    if id.is_empty() || id.bytes().all(|b| b == b'.') {
        return Err(crate::ValidationError::new(
            "deliveryId",
            format!("expected a delivery id such as \"dlv_1\", got {delivery_id:?}"),
        )
        .into());
    }
    Ok(segment(id))
}
