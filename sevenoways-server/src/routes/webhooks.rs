//! `/api/webhooks`: subscriptions, test events, deliveries and redelivery, re-enabling a
//! disabled webhook, and rotating its secret.
//!
//! The documentation configures webhooks "in your dashboard" and names no API; this is
//! ours. Delivery itself (and the circuit breaker that disables a webhook) is
//! [`crate::webhooks`].

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use base64::Engine;
use chrono::Utc;
use serde_json::json;
use sevenoways_sdk::models::webhooks::{
    CreateWebhookRequest, DeleteWebhook, DeliveryDetail, DeliveryList, EnableWebhook, GetDelivery,
    ListDeliveries, ListWebhooks, Redeliver, RotateSecretRequest, RotateWebhookSecret,
    SecretRotated, TEST_EVENT, TestWebhook, Webhook, WebhookCreated, WebhookEnabled, WebhookList,
};
use sevenoways_sdk::{
    DeliveryId, Empty, Endpoint, EventData, InstanceId, NoFields, WebhookId, WebhookSecret,
};

use super::pages::{self, parts};
use super::{Reply, answer_from, ok, on, room_for};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, FromPath, PathId, QueryParams};
use crate::ids::Generate;
use crate::limits::Resource;
use crate::store::{ListKind, NewEvent, WebhookAction};
use crate::time;

/// A new signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes
/// (256 bits) in base64, so stock Standard Webhooks libraries take it as it is (see
/// [`sevenoways_sdk::signature::standard_key`]).
pub fn generate_secret() -> WebhookSecret {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("OS randomness");
    WebhookSecret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

fn not_found(id: &WebhookId) -> ApiError {
    ApiError::not_found(format!("webhook {:?} not found", id.as_str()))
}

fn disabled(id: &WebhookId) -> ApiError {
    ApiError::Conflict(format!(
        "webhook {:?} is disabled: enable it first (POST /api/webhooks/{}/enable)",
        id.as_str(),
        id.as_str()
    ))
}

/// Counts a `test` or `redeliver` call against the key's allowance; 429 beyond it.
async fn manual_call_allowed(
    state: &AppState,
    account: crate::store::AccountId,
) -> Result<(), ApiError> {
    let per_minute = state.config.webhooks.test_and_redeliver_per_minute;
    match state
        .store
        .take_manual_call(account, Utc::now(), per_minute)
        .await?
    {
        Ok(()) => Ok(()),
        Err(wait) => Err(ApiError::RateLimited {
            retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64,
            message: format!(
                "Webhook test and redeliver limit exceeded — max {per_minute} calls/minute per API key."
            ),
        }),
    }
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
        .route(EnableWebhook::ROUTE, on(EnableWebhook::METHOD, enable))
        .route(
            RotateWebhookSecret::ROUTE,
            on(RotateWebhookSecret::METHOD, rotate_secret),
        )
}

/// `GET /api/webhooks?limit=&cursor=`: never with secrets; with each one's breaker state
/// (`disabled`, `disabledReason`, `failureStreak`, `pausedUntil`).
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    QueryParams(q): QueryParams<sevenoways_sdk::PageParams>,
) -> Reply<WebhookList> {
    let page = pages::request(&q, ListKind::Webhooks)?;
    let (webhooks, next_cursor) = parts(
        state.store.list_webhooks(account.id, &page).await?,
        ListKind::Webhooks,
    );
    ok(WebhookList {
        webhooks,
        next_cursor,
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
    // The plan's quota (`max_webhooks`), before the URL's host lookup; counted again in
    // the insert's transaction, so concurrent creates cannot overshoot.
    let max = room_for(&state, &account, Resource::Webhooks).await?;
    crate::ssrf::check_url(&state.config.network, "url", &url).await?;
    let mut events: Vec<String> = Vec::new();
    for e in req.events {
        if !events.contains(&e) {
            events.push(e);
        }
    }
    let webhook = Webhook::new(WebhookId::generate(), url, events, time::stored(Utc::now()));
    let secret = req.secret.unwrap_or_else(generate_secret);
    // The store records the answer from the webhook it saved; the secret is in the answer
    // (the only time it is shown), so a retry gets the same secret back.
    let created = WebhookCreated {
        webhook: webhook.clone(),
        secret: secret.clone(),
    };
    answer_from(
        state
            .store
            .create_webhook(account.id, &webhook, &secret, max),
        move |()| created.clone(),
    )
    .await
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
/// `GET /api/webhooks/:id/deliveries`. Limited per key with `redeliver`; 409 while the
/// webhook is disabled.
pub async fn test(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<WebhookId>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<Empty> {
    manual_call_allowed(&state, account.id).await?;
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
    // Recorded only with an event actually queued: a refusal commits nothing.
    crate::idempotency::answer_with(|_: &WebhookAction| Empty {});
    match state
        .store
        .queue_test_event(account.id, &id, event, now, give_up_at(&state, now))
        .await?
    {
        WebhookAction::Done => ok(Empty {}),
        WebhookAction::NotFound => Err(not_found(&id)),
        WebhookAction::Disabled => Err(disabled(&id)),
    }
}

/// `GET /api/webhooks/{id}/deliveries?limit=&cursor=`: newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<WebhookId>,
    QueryParams(q): QueryParams<sevenoways_sdk::PageParams>,
) -> Reply<DeliveryList> {
    let page = pages::request(&q, ListKind::Deliveries)?;
    match state.store.list_deliveries(account.id, &id, &page).await? {
        Some(page) => {
            let (deliveries, next_cursor) = parts(page, ListKind::Deliveries);
            ok(DeliveryList {
                deliveries,
                next_cursor,
            })
        }
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
/// with a fresh three days of retries; the receiver gets the same event id. Limited per
/// key with `test`; 409 while the webhook is disabled.
pub async fn redeliver(
    State(state): State<AppState>,
    Authed(account): Authed,
    path: Result<Path<(String, String)>, PathRejection>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<Empty> {
    let (id, delivery_id) = ids(path)?;
    manual_call_allowed(&state, account.id).await?;
    let now = Utc::now();
    crate::idempotency::answer_with(|_: &WebhookAction| Empty {});
    match state
        .store
        .redeliver(account.id, &id, &delivery_id, now, give_up_at(&state, now))
        .await?
    {
        WebhookAction::Done => ok(Empty {}),
        WebhookAction::NotFound => Err(delivery_not_found(delivery_id.as_str())),
        WebhookAction::Disabled => Err(disabled(&id)),
    }
}

/// `POST /api/webhooks/{id}/enable`: enabled again, failure streak cleared, its pending
/// deliveries due now with a fresh retry window. Enabling a webhook that is not disabled
/// closes its circuit breaker the same way.
pub async fn enable(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<WebhookId>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<WebhookEnabled> {
    let now = Utc::now();
    // Recorded with the enabling; a 404 commits nothing.
    crate::idempotency::answer_with(|webhook: &Webhook| WebhookEnabled {
        webhook: webhook.clone(),
    });
    match state
        .store
        .enable_webhook(account.id, &id, now, give_up_at(&state, now))
        .await?
    {
        Some(webhook) => ok(WebhookEnabled { webhook }),
        None => Err(not_found(&id)),
    }
}

/// `POST /api/webhooks/{id}/rotate-secret`: the caller's new secret or a generated one,
/// in this answer only; the old secret signs `webhook-signature` as well for
/// `rotation_overlap_secs` (24 h).
pub async fn rotate_secret(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<WebhookId>,
    Body(req): Body<RotateSecretRequest>,
) -> Reply<SecretRotated> {
    let secret = req.secret.unwrap_or_else(generate_secret);
    // At most a century: an absurd setting must not overflow the date.
    let overlap = state
        .config
        .webhooks
        .rotation_overlap_secs
        .min(100 * 365 * 86_400);
    let until = time::stored(Utc::now() + chrono::Duration::seconds(overlap as i64));
    // The new secret is shown only in this answer, so it is recorded with the rotation: a
    // retry of a rotation whose answer was lost gets the same secret, not a second rotation
    // that would make the lost one the (expiring) previous secret.
    let rotated = SecretRotated {
        secret: secret.clone(),
        previous_secret_expires_at: until,
    };
    crate::idempotency::answer_with(move |_: &bool| rotated.clone());
    if !state
        .store
        .rotate_webhook_secret(account.id, &id, &secret, until)
        .await?
    {
        return Err(not_found(&id));
    }
    ok(SecretRotated {
        secret,
        previous_secret_expires_at: until,
    })
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
