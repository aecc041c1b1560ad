//! Webhook subscriptions and their deliveries: `client.webhooks()`.

use crate::Client;
use crate::error::Result;
use crate::ids::{DeliveryId, WebhookId};
use crate::models::webhooks::{
    CreateWebhookRequest, DeleteWebhook, DeliveryDetail, DeliveryList, EnableWebhook, GetDelivery,
    ListDeliveries, ListWebhooks, Redeliver, RotateSecretRequest, RotateWebhookSecret,
    SecretRotated, TestWebhook, Webhook, WebhookCreated, WebhookList,
};
use crate::page::PageParams;
use crate::secret::WebhookSecret;

/// Webhook subscriptions and their deliveries. Get one with [`Client::webhooks`].
#[derive(Debug)]
pub struct WebhooksApi<'a> {
    pub(crate) client: &'a Client,
}

impl WebhooksApi<'_> {
    /// `GET /api/webhooks` ([`ListWebhooks`]): every subscription, oldest first, fetching
    /// as many pages as that takes.
    pub async fn list(&self) -> Result<WebhookList> {
        self.client.list_all(ListWebhooks::default()).await
    }

    /// One page of `GET /api/webhooks`; its `next_cursor` asks for the next.
    pub async fn list_page(&self, page: &PageParams) -> Result<WebhookList> {
        let req = ListWebhooks { page: page.clone() };
        self.client.call(&req).await
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

    /// `GET /api/webhooks/{id}/deliveries` ([`ListDeliveries`]): the newest page
    /// (100), newest first. Older ones: [`WebhooksApi::deliveries_page`] with the
    /// answer's `next_cursor`, or [`Client::pages`](crate::Client::pages).
    pub async fn deliveries(&self, id: &WebhookId) -> Result<DeliveryList> {
        self.deliveries_page(id, &PageParams::default()).await
    }

    /// One page of `GET /api/webhooks/{id}/deliveries`; its `next_cursor` asks for the
    /// next (older) one.
    pub async fn deliveries_page(&self, id: &WebhookId, page: &PageParams) -> Result<DeliveryList> {
        let req = ListDeliveries {
            id: id.clone(),
            page: page.clone(),
        };
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
