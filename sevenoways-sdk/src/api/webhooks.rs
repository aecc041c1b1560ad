//! Webhook subscriptions and their deliveries: `client.webhooks()`.

use crate::Client;
use crate::error::Result;
use crate::ids::{DeliveryId, WebhookId};
use crate::models::webhooks::{
    CreateWebhookRequest, DeleteWebhook, DeliveryDetail, DeliveryList, GetDelivery, ListDeliveries,
    ListWebhooks, Redeliver, TestWebhook, WebhookCreated, WebhookList,
};

/// Webhook subscriptions and their deliveries. Get one with [`Client::webhooks`].
#[derive(Debug)]
pub struct WebhooksApi<'a> {
    pub(crate) client: &'a Client,
}

impl WebhooksApi<'_> {
    /// `GET /api/webhooks` ([`ListWebhooks`]).
    pub async fn list(&self) -> Result<WebhookList> {
        self.client.call(&ListWebhooks).await
    }

    /// `POST /api/webhooks`. The answer holds the secret; it is not shown again.
    pub async fn create(&self, req: &CreateWebhookRequest) -> Result<WebhookCreated> {
        self.client.call(req).await
    }

    /// `DELETE /api/webhooks/{id}` ([`DeleteWebhook`]).
    pub async fn delete(&self, id: &WebhookId) -> Result<()> {
        let req = DeleteWebhook { id: id.clone() };
        self.client.call(&req).await.map(drop)
    }

    /// `POST /api/webhooks/{id}/test` ([`TestWebhook`]): queues a test event to the
    /// subscription.
    pub async fn test(&self, id: &WebhookId) -> Result<()> {
        let req = TestWebhook { id: id.clone() };
        self.client.call(&req).await.map(drop)
    }

    /// `GET /api/webhooks/{id}/deliveries` ([`ListDeliveries`]), newest first.
    pub async fn deliveries(&self, id: &WebhookId) -> Result<DeliveryList> {
        let req = ListDeliveries { id: id.clone() };
        self.client.call(&req).await
    }

    /// `GET /api/webhooks/{id}/deliveries/{deliveryId}` ([`GetDelivery`]): one delivery
    /// with every attempt.
    pub async fn delivery(&self, id: &WebhookId, delivery: &DeliveryId) -> Result<DeliveryDetail> {
        let req = GetDelivery {
            id: id.clone(),
            delivery_id: delivery.clone(),
        };
        self.client.call(&req).await
    }

    /// `POST /api/webhooks/{id}/deliveries/{deliveryId}/redeliver` ([`Redeliver`]).
    pub async fn redeliver(&self, id: &WebhookId, delivery: &DeliveryId) -> Result<()> {
        let req = Redeliver {
            id: id.clone(),
            delivery_id: delivery.clone(),
        };
        self.client.call(&req).await.map(drop)
    }
}
