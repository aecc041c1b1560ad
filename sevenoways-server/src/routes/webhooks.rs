//! `/api/webhooks`: subscriptions, test events, deliveries and redelivery.
//!
//! The documentation configures webhooks "in your dashboard" and names no API; this is
//! ours. Delivery itself is [`crate::webhooks`].

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use chrono::Utc;
use serde_json::json;
use sevenoways_sdk::models::webhooks::{
    CreateWebhookRequest, DeleteWebhook, DeliveryDetail, DeliveryList, GetDelivery, ListDeliveries,
    ListWebhooks, Redeliver, TEST_EVENT, TestWebhook, Webhook, WebhookCreated, WebhookList,
};
use sevenoways_sdk::{
    DeliveryId, Empty, Endpoint, EventData, InstanceId, NoFields, WebhookId, WebhookSecret,
};

use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, FromPath, PathId};
use crate::ids::Generate;
use crate::store::NewEvent;
use crate::time;

/// Subscriptions per API key.
pub const MAX_WEBHOOKS: usize = 25;
/// Deliveries `GET /api/webhooks/:id/deliveries` lists (the newest).
pub const DELIVERY_LIST_LIMIT: u32 = 100;

/// A new signing secret: `whsec_` and 64 hex digits (256 bits).
pub fn generate_secret() -> WebhookSecret {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("OS randomness");
    WebhookSecret::new(format!("whsec_{}", hex::encode(bytes)))
}

fn not_found(id: &WebhookId) -> ApiError {
    ApiError::not_found(format!("webhook {:?} not found", id.as_str()))
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListWebhooks::ROUTE, on(ListWebhooks::METHOD, list))
        .route(
            CreateWebhookRequest::ROUTE,
            on(CreateWebhookRequest::METHOD, create),
        )
        .route(DeleteWebhook::ROUTE, on(DeleteWebhook::METHOD, delete))
        .route(TestWebhook::ROUTE, on(TestWebhook::METHOD, test))
        .route(
            ListDeliveries::ROUTE,
            on(ListDeliveries::METHOD, deliveries),
        )
        .route(GetDelivery::ROUTE, on(GetDelivery::METHOD, delivery))
        .route(Redeliver::ROUTE, on(Redeliver::METHOD, redeliver))
}

/// `GET /api/webhooks`: never with secrets.
pub async fn list(State(state): State<AppState>, Authed(account): Authed) -> Reply<WebhookList> {
    ok(WebhookList {
        webhooks: state.store.list_webhooks(account.id).await?,
    })
}

/// `POST /api/webhooks`: the secret is the caller's or a generated one, and is in this
/// answer only. The URL must not reach a refused address (see [`crate::ssrf`]).
pub async fn create(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<CreateWebhookRequest>,
) -> Reply<WebhookCreated> {
    let url = req.url.trim().to_owned();
    crate::ssrf::check_url(&state.config.network, "url", &url).await?;
    if state.store.list_webhooks(account.id).await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::Conflict(format!(
            "at most {MAX_WEBHOOKS} webhooks per API key: delete one first"
        )));
    }
    let mut events: Vec<String> = Vec::new();
    for e in req.events {
        if !events.contains(&e) {
            events.push(e);
        }
    }
    let webhook = Webhook {
        id: WebhookId::generate(),
        url,
        events,
        created_at: time::stored(Utc::now()),
    };
    let secret = req.secret.unwrap_or_else(generate_secret);
    state
        .store
        .create_webhook(account.id, &webhook, &secret)
        .await?;
    ok(WebhookCreated { webhook, secret })
}

/// `DELETE /api/webhooks/{id}`, with its deliveries.
pub async fn delete(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<WebhookId>,
) -> Reply<Empty> {
    if !state.store.delete_webhook(account.id, &id).await? {
        return Err(not_found(&id));
    }
    ok(Empty {})
}

/// `POST /api/webhooks/{id}/test`: queues a signed `webhook.test` event to this
/// subscription only, whatever its event filter; see its delivery in
/// `GET /api/webhooks/:id/deliveries`.
pub async fn test(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<WebhookId>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<Empty> {
    let now = Utc::now();
    let event = NewEvent {
        account_id: account.id,
        instance_id: InstanceId::new("test").expect("valid id"),
        data: EventData::Unknown {
            event: TEST_EVENT.into(),
            data: json!({
                "webhookId": id.as_str(),
                "message": "This is a test event from Sevenoways Relay.",
            }),
        },
    };
    let queued = state
        .store
        .queue_test_event(account.id, &id, event, now, give_up_at(&state, now))
        .await?;
    if !queued {
        return Err(not_found(&id));
    }
    ok(Empty {})
}

/// `GET /api/webhooks/{id}/deliveries`: the newest 100, newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<WebhookId>,
) -> Reply<DeliveryList> {
    match state
        .store
        .list_deliveries(account.id, &id, DELIVERY_LIST_LIMIT)
        .await?
    {
        Some(deliveries) => ok(DeliveryList { deliveries }),
        None => Err(not_found(&id)),
    }
}

/// `GET /api/webhooks/{id}/deliveries/{deliveryId}`: one delivery and all its attempts.
pub async fn delivery(
    State(state): State<AppState>,
    Authed(account): Authed,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<DeliveryDetail> {
    let (id, delivery_id) = ids(path)?;
    match state
        .store
        .get_delivery(account.id, &id, &delivery_id)
        .await?
    {
        Some(detail) => ok(detail),
        None => Err(delivery_not_found(delivery_id.as_str())),
    }
}

/// `POST /api/webhooks/{id}/deliveries/{deliveryId}/redeliver`: pending again, due now,
/// with a fresh three days of retries; the receiver gets the same event id.
pub async fn redeliver(
    State(state): State<AppState>,
    Authed(account): Authed,
    path: Result<Path<(String, String)>, PathRejection>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<Empty> {
    let (id, delivery_id) = ids(path)?;
    let now = Utc::now();
    if !state
        .store
        .redeliver(account.id, &id, &delivery_id, now, give_up_at(&state, now))
        .await?
    {
        return Err(delivery_not_found(delivery_id.as_str()));
    }
    ok(Empty {})
}

/// Both ids of a delivery's path. One that is not a valid id names nothing: 404, as for
/// an id of another key.
fn ids(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(WebhookId, DeliveryId), ApiError> {
    let Path((id, delivery_id)) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id = WebhookId::from_path(&id)
        .ok_or_else(|| ApiError::not_found(format!("webhook {id:?} not found")))?;
    let delivery_id =
        DeliveryId::from_path(&delivery_id).ok_or_else(|| delivery_not_found(&delivery_id))?;
    Ok((id, delivery_id))
}

fn delivery_not_found(delivery_id: &str) -> ApiError {
    ApiError::not_found(format!("delivery {delivery_id:?} not found"))
}

fn give_up_at(state: &AppState, now: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    now + chrono::Duration::seconds(state.config.webhooks.give_up_after_secs as i64)
}
