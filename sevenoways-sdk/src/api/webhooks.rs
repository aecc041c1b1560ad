//! Webhook subscriptions and their deliveries: `client.webhooks()`.

use crate::Client;
use crate::error::Result;
use crate::ids::{DeliveryId, WebhookId};
use crate::models::webhooks::{
    CreateWebhookRequest, DeleteWebhook, DeliveryDetail, DeliveryList, EnableWebhook, GetDelivery,
    ListDeliveries, ListWebhooks, Redeliver, RotateSecretRequest, RotateWebhookSecret,
    SecretRotated, TestWebhook, Webhook, WebhookCreated, WebhookList,
};
use crate::secret::WebhookSecret;

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

    /// `POST /api/webhooks/{id}/enable` ([`EnableWebhook`]): turns a disabled webhook
    /// back on; its pending deliveries are tried at once. Answers the webhook as it is now.
    pub async fn enable(&self, id: &WebhookId) -> Result<Webhook> {
        let req = EnableWebhook { id: id.clone() };
        self.client.call(&req).await.map(|e| e.webhook)
    }

    /// `POST /api/webhooks/{id}/rotate-secret` ([`RotateWebhookSecret`]): a new signing
    /// secret (`secret`, or one the server generates), shown only in this answer. The old
    /// secret signs as well until [`SecretRotated::previous_secret_expires_at`].
    pub async fn rotate_secret(
        &self,
        id: &WebhookId,
        secret: Option<WebhookSecret>,
    ) -> Result<SecretRotated> {
        let req = RotateWebhookSecret {
            id: id.clone(),
            request: RotateSecretRequest { secret },
        };
        self.client.call(&req).await
    }
}
